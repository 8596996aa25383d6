// FAC CA GUI helpers; the pages work without them.
//
// - button[data-confirm="text"]: ask before submitting.
// - input[type=checkbox][data-select-all]: toggles every input[name=selected] in its form.
// - [data-needs-selection] buttons (with form="ID"): disabled until a row of that form is selected.
// - select[data-autosubmit]: submits its form when changed.
// - tr.clickable[data-href]: a click outside its links and buttons opens the row's page.
// - form[data-key-source]: shows the fields of the chosen key source only (the server
//   checks them either way).
// - form[method=post]: once submitted, its submit buttons are disabled until the answer
//   comes (no second click); the clicked one shows a working state, and a form with
//   data-working="text" shows that text under its buttons (long operations). Forms and
//   buttons marked data-download, and list actions named export..., answer with a file
//   and keep the page: they are left alone. Without JavaScript the server's one-time
//   form tokens still refuse a second submission.
// - a[data-once]: a one-time download; once clicked, it is replaced by its data-once text.
// The Content-Security-Policy allows scripts from this file only: no inline script.
(function () {
    "use strict";

    document.addEventListener("click", function (event) {
        var button = event.target.closest("[data-confirm]");
        if (button && !window.confirm(button.getAttribute("data-confirm"))) {
            event.preventDefault();
            return;
        }
        var row = event.target.closest("tr.clickable[data-href]");
        if (row && !event.target.closest("a, button, input, label")) {
            window.location = row.getAttribute("data-href");
        }
    });

    function showKeySource(form) {
        function groupOf(name) {
            var field = document.getElementById("field-" + name);
            return field ? field.closest("fieldset") : null;
        }
        var checked = form.querySelector("input[name=source]:checked");
        var generate = checked && checked.value === "generate";
        var csr = groupOf("csr_file"), subject = groupOf("common_name");
        if (csr) csr.hidden = generate;
        if (subject) subject.hidden = !generate;
    }

    function selectionChanged(form) {
        if (!form) return;
        var any = form.querySelector("input[name=selected]:checked") !== null;
        document.querySelectorAll("[data-needs-selection][form='" + form.id + "']").forEach(function (b) {
            b.disabled = !any;
        });
    }

    document.addEventListener("change", function (event) {
        var box = event.target;
        if (box.matches("select[data-autosubmit]")) {
            box.form.submit();
            return;
        }
        if (box.name === "source" && box.form && box.form.matches("[data-key-source]")) {
            showKeySource(box.form);
        }
        if (box.matches("input[data-select-all]")) {
            box.form.querySelectorAll("input[name=selected]").forEach(function (row) {
                row.checked = box.checked;
            });
        }
        if (box.matches("input[name=selected], input[data-select-all]")) {
            selectionChanged(box.form);
        }
    });

    function submitButtons(form) {
        var buttons = Array.prototype.slice.call(form.querySelectorAll("button[type=submit], button:not([type]), input[type=submit]"));
        if (form.id) {
            document.querySelectorAll("[form='" + form.id + "'][type=submit]").forEach(function (b) {
                if (buttons.indexOf(b) < 0) buttons.push(b);
            });
        }
        return buttons;
    }

    function answersWithFile(form, submitter) {
        if (form.hasAttribute("data-download")) return true;
        if (!submitter) return false;
        if (submitter.hasAttribute("data-download")) return true;
        return submitter.name === "action" && /^export/.test(submitter.value || "");
    }

    function release(form) {
        form.removeAttribute("aria-busy");
        form.classList.remove("is-working");
        submitButtons(form).forEach(function (b) {
            b.disabled = false;
            b.classList.remove("is-working");
            if (b.hasAttribute("data-label")) {
                b.textContent = b.getAttribute("data-label");
                b.removeAttribute("data-label");
            }
        });
        var note = form.querySelector(".working-note");
        if (note) note.remove();
        selectionChanged(form.id ? form : null);
    }

    document.addEventListener("submit", function (event) {
        var form = event.target;
        if (event.defaultPrevented || (form.getAttribute("method") || "get").toLowerCase() !== "post") return;
        var submitter = event.submitter || null;
        if (answersWithFile(form, submitter)) return;
        if (form.classList.contains("is-working")) {
            event.preventDefault(); // already on its way
            return;
        }
        form.classList.add("is-working");
        form.setAttribute("aria-busy", "true");
        // Disabled after this event: a button disabled now would leave out its name and value.
        window.setTimeout(function () {
            submitButtons(form).forEach(function (b) { b.disabled = true; });
            if (submitter && submitter.tagName === "BUTTON") {
                submitter.classList.add("is-working");
                if (form.hasAttribute("data-working")) {
                    submitter.setAttribute("data-label", submitter.textContent);
                    submitter.textContent = "Working…";
                }
            }
            var text = form.getAttribute("data-working");
            if (text) {
                var note = document.createElement("p");
                note.className = "working-note";
                note.setAttribute("role", "status");
                note.textContent = text;
                var actions = form.querySelector(".form-actions");
                (actions || form).appendChild(note);
            }
        }, 0);
        // Should the answer never come, the buttons come back.
        window.setTimeout(function () { release(form); }, 60000);
    });

    // Back to a page kept in the browser's cache: its forms are usable again.
    // The browser may also have put back typed values (a key source among them).
    window.addEventListener("pageshow", function (event) {
        if (event.persisted) document.querySelectorAll("form.is-working").forEach(release);
        document.querySelectorAll("form[data-key-source]").forEach(showKeySource);
    });

    document.addEventListener("click", function (event) {
        var link = event.target.closest("a[data-once]");
        if (!link) return;
        window.setTimeout(function () {
            var note = document.createElement("p");
            note.className = "download-gone";
            note.textContent = link.getAttribute("data-once");
            link.replaceWith(note);
        }, 500);
    });

    document.addEventListener("DOMContentLoaded", function () {
        document.querySelectorAll("form[id]").forEach(selectionChanged);
        document.querySelectorAll("form[data-key-source]").forEach(showKeySource);
    });
})();

// FAC CA GUI helpers; the pages work without them.
//
// - button[data-confirm="text"]: ask before submitting.
// - input[type=checkbox][data-select-all]: toggles every input[name=selected] in its form.
// - [data-needs-selection] buttons (with form="ID"): disabled until a row of that form is selected.
// - select[data-autosubmit]: submits its form when changed.
// - tr.clickable[data-href]: a click outside its links and buttons opens the row's page.
// - form[data-key-source]: shows the fields of the chosen key source only (the server
//   checks them either way).
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

    document.addEventListener("DOMContentLoaded", function () {
        document.querySelectorAll("form[id]").forEach(selectionChanged);
        document.querySelectorAll("form[data-key-source]").forEach(showKeySource);
    });
})();

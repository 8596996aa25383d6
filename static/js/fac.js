// FAC CA GUI helpers; the pages work without them.
//
// - button[data-confirm="text"]: ask before submitting.
// - input[type=checkbox][data-select-all]: toggles every input[name=selected] in its form.
// - [data-needs-selection] buttons (with form="ID"): disabled until a row of that form is selected.
(function () {
    "use strict";

    document.addEventListener("click", function (event) {
        var button = event.target.closest("[data-confirm]");
        if (button && !window.confirm(button.getAttribute("data-confirm"))) {
            event.preventDefault();
        }
    });

    function selectionChanged(form) {
        if (!form) return;
        var any = form.querySelector("input[name=selected]:checked") !== null;
        document.querySelectorAll("[data-needs-selection][form='" + form.id + "']").forEach(function (b) {
            b.disabled = !any;
        });
    }

    document.addEventListener("change", function (event) {
        var box = event.target;
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
    });
})();

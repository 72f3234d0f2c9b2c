// The print button on the plan summary (the browser's own Print menu works without it).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-print]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { window.print(); });
    });
  });
})();

// The protocol form: choosing a template fills its values into the fields at once, shows its
// card and the dose field it prescribes, and records in "shown_template" which template the
// fields now hold (the server refuses to save fields that belong to another template).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    var form = document.querySelector("[data-protocol-form]");
    var data = document.getElementById("protocol-template-values");
    if (!form || !data) { return; }
    var values = JSON.parse(data.textContent);
    var select = form.elements.namedItem("template");
    var shown = form.elements.namedItem("shown_template");
    var load = form.querySelector("[data-template-load]");
    if (load) { load.hidden = true; }
    select.addEventListener("change", function () {
      var chosen = values[select.value];
      if (!chosen) { return; }
      Object.keys(chosen).forEach(function (name) {
        var field = form.elements.namedItem(name);
        if (!field) { return; }
        var value = chosen[name] === null ? "" : String(chosen[name]);
        if (field.tagName === "SELECT") {
          // A select's option values are Python's text of the number ("10.0").
          Array.prototype.forEach.call(field.options, function (option) {
            if (Number(option.value) === Number(value) || option.value === value) {
              field.value = option.value;
            }
          });
        } else {
          field.value = value;
        }
      });
      var fixed = chosen.fixed_dose_mg !== null;
      form.querySelectorAll("[data-dose-field]").forEach(function (box) {
        box.hidden = (box.getAttribute("data-dose-field") === "fixed_dose_mg") !== fixed;
      });
      form.querySelectorAll("[data-template-card]").forEach(function (card) {
        card.hidden = card.getAttribute("data-template-card") !== select.value;
      });
      shown.value = select.value;
    });
    // A template chosen before this script ran (a quick hand on a slow page) or restored by the
    // browser on going back is applied now, so the fields always hold the chosen template.
    if (shown && select.value !== shown.value) {
      select.dispatchEvent(new Event("change"));
    }
  });
})();

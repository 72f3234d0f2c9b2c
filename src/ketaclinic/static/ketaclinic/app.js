// ketaclinic's own small script: the phone menu toggle. Everything works without it.
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  document.addEventListener("DOMContentLoaded", function () {
    var toggle = document.querySelector(".nav-toggle");
    var nav = document.getElementById("main-nav");
    if (!toggle || !nav) return;
    toggle.hidden = false;
    nav.classList.add("collapsed");
    toggle.addEventListener("click", function () {
      var open = toggle.getAttribute("aria-expanded") === "true";
      toggle.setAttribute("aria-expanded", String(!open));
      nav.classList.toggle("collapsed", open);
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && toggle.getAttribute("aria-expanded") === "true") {
        toggle.setAttribute("aria-expanded", "false");
        nav.classList.add("collapsed");
        toggle.focus();
      }
    });
  });
})();

// A region marked data-pause-while-focused skips its htmx refresh while a control inside it has
// the focus, so a refresh never throws away what someone is typing. An htmx trigger filter
// ("[...]") would do the same through eval, which the Content-Security-Policy refuses.
document.addEventListener("htmx:beforeRequest", function (event) {
  var region = event.detail && event.detail.elt;
  if (region && region.hasAttribute && region.hasAttribute("data-pause-while-focused") &&
      region.contains(document.activeElement)) {
    event.preventDefault();
  }
});

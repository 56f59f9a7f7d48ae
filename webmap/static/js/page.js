/* Small behaviours of the map pages that need no map: print buttons, the panel drawer. */
(function () {
  "use strict";
  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }
  function resizeMaps() {
    (window.vw && window.vw.maps ? window.vw.maps : []).forEach(function (state) {
      state.map.invalidateSize();
    });
  }
  ready(function () {
    document.querySelectorAll("[data-vw-print]").forEach(function (button) {
      button.addEventListener("click", function () {
        window.print();
      });
    });
    document.querySelectorAll("[data-vw-toggle-panel]").forEach(function (button) {
      button.addEventListener("click", function () {
        var open = document.body.classList.toggle("vw-panel-open");
        button.setAttribute("aria-expanded", open ? "true" : "false");
        setTimeout(resizeMaps, 250);
      });
    });
    // Empty filters stay out of the URL, so a shared link says only what was chosen.
    document.querySelectorAll("form.vw-filters").forEach(function (form) {
      form.addEventListener("submit", function () {
        Array.prototype.forEach.call(form.elements, function (field) {
          if (field.name && !field.value) field.disabled = true;
        });
      });
    });
    // Coming back (bfcache) to a page whose form was sent: make its fields usable again.
    window.addEventListener("pageshow", function () {
      document.querySelectorAll("form.vw-filters").forEach(function (form) {
        Array.prototype.forEach.call(form.elements, function (field) {
          if (field.name) field.disabled = field.name === "layers" && !field.value;
        });
      });
    });
    window.addEventListener("beforeprint", resizeMaps);
    window.addEventListener("afterprint", resizeMaps);
  });
})();

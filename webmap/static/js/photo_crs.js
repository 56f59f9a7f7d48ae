/* Remembers on the phone the choices marked data-vw-remember="<localStorage key>" (the
 * capture page's "position in the photos": WGS84 or GCJ-02), so a worker whose camera app
 * writes GCJ-02 chooses it once. */
(function () {
  "use strict";
  document.querySelectorAll("select[data-vw-remember]").forEach(function (select) {
    var key = select.getAttribute("data-vw-remember");
    try {
      var kept = localStorage.getItem(key);
      if (kept && select.querySelector('option[value="' + kept.replace(/[^a-z0-9]/g, "") + '"]')) {
        select.value = kept;
      }
    } catch (e) { /* private mode: nothing kept */ }
    select.addEventListener("change", function () {
      try { localStorage.setItem(key, select.value); } catch (e) { /* private mode */ }
    });
  });
})();

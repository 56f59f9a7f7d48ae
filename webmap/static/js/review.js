// "Select all" on the review and bulk-change pages: ticks every box that belongs to the
// form named by data-vw-select-all (boxes sit in cards or rows, outside the form itself).
(function () {
  "use strict";
  document.querySelectorAll("[data-vw-select-all]").forEach(function (all) {
    var form = all.getAttribute("data-vw-select-all");
    all.addEventListener("change", function () {
      document.querySelectorAll('input[type=checkbox][form="' + form + '"]').forEach(function (box) {
        box.checked = all.checked;
      });
    });
  });
})();

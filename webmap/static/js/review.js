// The review page: "select all" ticks every work's box of the bulk-approve form.
(function () {
  "use strict";
  var all = document.querySelector("[data-vw-select-all]");
  if (!all) return;
  all.addEventListener("change", function () {
    document.querySelectorAll('input[type=checkbox][form="vw-bulk"]').forEach(function (box) {
      box.checked = all.checked;
    });
  });
})();

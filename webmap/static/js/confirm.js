/* Forms carrying data-question ask before they are sent (no inline handlers: the
 * Content-Security-Policy runs no inline script without the page's nonce). */
(function () {
  "use strict";
  document.addEventListener(
    "submit",
    function (event) {
      var form = event.target;
      var question = form && form.getAttribute && form.getAttribute("data-question");
      if (question && !window.confirm(question)) event.preventDefault();
    },
    true
  );
})();

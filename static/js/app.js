// 志愿先行 — small progressive enhancements; every page works without this file.
(function () {
  "use strict";
  // Forms that ask for confirmation carry data-confirm (no inline handlers: CSP).
  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });
})();

// 志愿先行 — installs the service worker (static/js/sw.js, served as /sw.js) so that the
// scanner and "My QR code" open with no signal. Browsers without it lose nothing else.
(function () {
  "use strict";
  if (!("serviceWorker" in navigator) || !window.isSecureContext) { return; }
  var meta = document.querySelector("meta[name='vf-sw']");
  if (!meta) { return; }
  window.addEventListener("load", function () {
    navigator.serviceWorker.register(meta.getAttribute("content"), { scope: "/" }).then(function () {
      document.documentElement.setAttribute("data-sw", "registered");
    }, function () {
      document.documentElement.setAttribute("data-sw", "failed");
    });
  });
})();

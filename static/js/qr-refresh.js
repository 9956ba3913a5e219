// Renews a rotating QR image (my code, the site code) before its window runs out.
(function () {
  "use strict";
  document.querySelectorAll("img[data-refresh-seconds]").forEach(function (img) {
    var seconds = parseInt(img.getAttribute("data-refresh-seconds"), 10) || 30;
    // "My QR code" names the server's image in data-server-src (the phone draws its own).
    var source = img.getAttribute("data-server-src") || img.getAttribute("src") || "";
    var base = source.split("?")[0];
    var extra = source.indexOf("?") >= 0 ? source.split("?")[1] + "&" : "";
    function refresh() {
      // The phone draws its own code (my-code.js): the server's image is not needed.
      if (document.visibilityState === "hidden" || img.hasAttribute("data-local-code") || !img.getAttribute("src")) { return; }
      img.setAttribute("src", base + "?" + extra + "t=" + Date.now());
    }
    // A little before each window ends, and at once when the page comes back into view.
    window.setInterval(refresh, Math.max(seconds - 5, 5) * 1000);
    document.addEventListener("visibilitychange", refresh);
  });
})();

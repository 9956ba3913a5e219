// 志愿先行 — the scanner checks a volunteer's phone code with no signal (provisionally: the
// server checks every queued scan again when it is synced). The roster brings, for each
// phone of the volunteers on it, only the day keys of the shift's days; the codes of the
// current steps (±1) are worked out here every few seconds, so that a scan can be looked up
// at once. Same formula as services/devicecodes.py and my-code.js.
window.VFOfflineCodes = (function () {
  "use strict";

  var subtle = window.crypto && window.crypto.subtle;
  var encoder = window.TextEncoder ? new TextEncoder() : null;
  var roster = null;
  var table = {};      // token -> user id, for the steps around now
  var keys = {};       // "device:day" -> CryptoKey
  var REFRESH_MS = 5000;

  function b64url(bytes) {
    var text = "";
    for (var i = 0; i < bytes.length; i++) { text += String.fromCharCode(bytes[i]); }
    return window.btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function fromB64url(text) {
    var plain = window.atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
    var bytes = new Uint8Array(plain.length);
    for (var i = 0; i < plain.length; i++) { bytes[i] = plain.charCodeAt(i); }
    return bytes;
  }

  function keyFor(device, day, raw) {
    var name = device + ":" + day;
    if (!keys[name]) {
      keys[name] = subtle.importKey("raw", fromB64url(raw), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
    }
    return keys[name];
  }

  function refresh() {
    var offline = roster && roster.offline;
    if (!subtle || !encoder || !offline || !offline.devices) { return Promise.resolve(); }
    var stepMs = (offline.step || 30) * 1000;
    var tolerance = offline.tolerance === undefined ? 1 : offline.tolerance;
    var now = Date.now() + (roster.skew || 0);
    var current = Math.floor(now / stepMs);
    var jobs = [];
    var next = {};
    Object.keys(offline.devices).forEach(function (device) {
      var entry = offline.devices[device];
      for (var step = current - tolerance; step <= current + tolerance; step++) {
        var day = Math.floor(step * stepMs / 86400000);
        var raw = entry.keys && entry.keys[String(day)];
        if (!raw) { continue; }
        jobs.push(code(device, day, raw, step).then(function (pair) {
          next[pair[0]] = pair[1];
        }, function () { /* a key the browser refused: not verifiable here */ }));
      }
      function code(dev, d, r, s) {
        return keyFor(dev, d, r).then(function (key) {
          return subtle.sign("HMAC", key, encoder.encode(String(s)));
        }).then(function (mac) {
          return ["t" + dev + "." + b64url(new Uint8Array(mac).slice(0, 9)), entry.user];
        });
      }
    });
    return Promise.all(jobs).then(function () {
      table = next;
      var root = document.getElementById("scanner");
      if (root) { root.setAttribute("data-offline-codes", String(Object.keys(table).length)); }
    });
  }

  function update(fresh) {
    roster = fresh;
    if (roster && roster.now && roster.skew === undefined) {
      roster.skew = roster.now - Date.now();   // the phone's clock may be off: the server's counts
    }
    return refresh();
  }

  window.setInterval(refresh, REFRESH_MS);

  return {
    update: update,
    // The user id of a phone code that is current now, or null (unknown, old or forged).
    userFor: function (token) { return Object.prototype.hasOwnProperty.call(table, token) ? table[token] : null; }
  };
})();

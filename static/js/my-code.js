// 志愿先行 — "My QR code" with no signal: the phone computes its own rotating code.
// While online the page is given a device secret once (POST /me/qr/device); from it the code
// of every 30-second step is derived here (services/devicecodes.py has the same formula):
//   day key = HMAC-SHA256(secret, "day:<UTC day>"), code = base64url(HMAC(day key, "<step>")[:9])
// and drawn with the vendored qrcode-generator. Without WebCrypto the server's image stays.
(function () {
  "use strict";

  var box = document.getElementById("my-code");
  var img = document.getElementById("my-qr");
  var status = document.getElementById("qr-status");
  if (!box || !img) { return; }
  var data = box.dataset;
  var subtle = window.crypto && window.crypto.subtle;

  // The server's rotating image (qr-refresh.js renews it): only when the phone cannot draw.
  function useServer() {
    box.setAttribute("data-source", "server");
    if (!img.getAttribute("src")) { img.src = img.getAttribute("data-server-src"); }
  }

  if (!subtle || typeof window.qrcode !== "function" || !window.TextEncoder) { useServer(); return; }

  var KEY = "vf.code." + data.user;
  var STEP_MS = (parseInt(data.step, 10) || 30) * 1000;
  var encoder = new TextEncoder();
  // The page was rendered by the server just now (not a copy the service worker kept).
  var fresh = Math.abs(Date.now() - parseInt(data.now, 10)) < 60000;

  function load() {
    try { return JSON.parse(window.localStorage.getItem(KEY) || "null"); } catch (e) { return null; }
  }
  function save(value) {
    try { window.localStorage.setItem(KEY, JSON.stringify(value)); } catch (e) { /* memory only */ }
  }

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
  function hmac(keyBytes, text) {
    return subtle.importKey("raw", keyBytes, { name: "HMAC", hash: "SHA-256" }, false, ["sign"])
      .then(function (key) { return subtle.sign("HMAC", key, encoder.encode(text)); })
      .then(function (mac) { return new Uint8Array(mac); });
  }

  var device = load();
  var active = (data.devices || "").split(",").filter(Boolean);
  if (device && fresh && active.indexOf(device.device) < 0) {
    device = null;   // switched off (a lost phone, or by an organiser): ask for a new secret
    try { window.localStorage.removeItem(KEY); } catch (e) { /* nothing kept */ }
  }

  var dayKeys = {};
  function codeFor(step) {
    var day = Math.floor(step * STEP_MS / 86400000);
    var keyPromise = dayKeys[day] || (dayKeys[day] = hmac(fromB64url(device.secret), "day:" + day));
    return keyPromise.then(function (dayKey) { return hmac(dayKey, String(step)); })
      .then(function (mac) { return b64url(mac.slice(0, 9)); });
  }

  function now() { return Date.now() + (device.skew || 0); }

  function draw(token) {
    var qr = window.qrcode(0, "M");
    qr.addData(data.scanBase.replace("TOKEN", token));
    qr.make();
    var cell = Math.max(2, Math.floor(320 / (qr.getModuleCount() + 8)));
    img.setAttribute("data-local-code", "1");
    img.src = qr.createDataURL(cell, cell * 4);
    box.setAttribute("data-token", token);
    box.setAttribute("data-source", "phone");
  }

  function say() {
    if (!status) { return; }
    status.textContent = navigator.onLine === false ? data.msgOffline : data.msgOnline;
  }

  var shown = null;
  function tick() {
    if (!device) { return; }
    var step = Math.floor(now() / STEP_MS);
    if (step === shown) { return; }
    shown = step;
    codeFor(step).then(function (code) {
      if (step === shown) { draw("t" + device.device + "." + code); }
    }, function () { shown = null; });
  }

  function start() {
    say();
    tick();
    window.setInterval(tick, 1000);
    document.addEventListener("visibilitychange", tick);
    window.addEventListener("online", say);
    window.addEventListener("offline", say);
  }

  function fetchDevice() {
    return fetch(data.deviceUrl, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-CSRFToken": data.csrf, "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok || response.redirected) { throw new Error("no device"); }
      return response.json();
    }).then(function (answer) {
      device = {
        device: answer.device,
        secret: answer.secret,
        user: answer.user,
        skew: answer.now - Date.now()   // the phone's clock may be off: the server's counts
      };
      save(device);
    });
  }

  if (device) {
    start();
  } else if (navigator.onLine !== false && fresh) {
    fetchDevice().then(start, useServer);
  } else {
    useServer();
    if (status) { status.textContent = data.msgNeedsSignal; }
  }
})();

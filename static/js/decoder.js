// 志愿先行 — reads QR codes from the camera on the phone when the browser has no
// BarcodeDetector: the zxing-cpp WebAssembly build (static/vendor/zxing-wasm, loaded only
// when needed, from this site). Gives a BarcodeDetector-like object; null when it cannot
// load (then the scanner falls back to the server's decoder).
window.VFDecoder = (function () {
  "use strict";

  var loading = null;

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var script = document.createElement("script");
      script.src = src;
      script.onload = resolve;
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function create(scriptUrl, wasmUrl) {
    if (!window.WebAssembly || !scriptUrl || !wasmUrl) { return Promise.resolve(null); }
    if (!loading) {
      loading = loadScript(scriptUrl).then(function () {
        var zxing = window.ZXingWASM;
        return zxing.prepareZXingModule({
          overrides: {
            locateFile: function (path, prefix) { return /\.wasm$/.test(path) ? wasmUrl : prefix + path; }
          },
          fireImmediately: true
        }).then(function () { return zxing; });
      });
    }
    return loading.then(function (zxing) {
      var canvas = document.createElement("canvas");
      return {
        detect: function (video) {
          var width = video.videoWidth;
          var height = video.videoHeight;
          if (!width || !height) { return Promise.resolve([]); }
          var scale = Math.min(1, 960 / Math.max(width, height));
          canvas.width = Math.round(width * scale);
          canvas.height = Math.round(height * scale);
          var context = canvas.getContext("2d", { willReadFrequently: true });
          context.drawImage(video, 0, 0, canvas.width, canvas.height);
          var image = context.getImageData(0, 0, canvas.width, canvas.height);
          return zxing.readBarcodes(image, { formats: ["QRCode"], tryHarder: true, maxNumberOfSymbols: 1 })
            .then(function (found) {
              return found.filter(function (r) { return r.isValid && r.text; })
                .map(function (r) { return { rawValue: r.text }; });
            });
        }
      };
    }).catch(function () { loading = null; return null; });
  }

  return { create: create };
})();

// 志愿先行 — the service worker (served as /sw.js: VERSION, PRECACHE and OFFLINE_URL are
// written above this line by the server; the list changes whenever a file changes).
//
// - Our static files have fingerprinted URLs (?v=<hash>): taken from the cache first, kept
//   forever under their URL; a release brings new URLs and drops the old cache.
// - The pages that must open with no signal (the scanner of a shift, "My QR code") are
//   fetched from the network first, so that an update shows at once, and kept for later;
//   with no answer (or none within a few seconds on a dead link) the kept copy is shown.
// - Any other page with no signal: the offline page.
// - Logging out empties the kept pages (they carry the user's name and roster).
/* global VERSION, PRECACHE, OFFLINE_URL */
"use strict";

var ASSETS = "vf-assets-" + VERSION;
var PAGES = "vf-pages";
var NETWORK_WAIT_MS = 6000;
var KEPT_PAGES = [/^\/me\/qr$/, /^\/checkin\/shifts\/\d+$/, /^\/checkin$/];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(ASSETS).then(function (cache) {
      return cache.addAll(PRECACHE.map(function (url) {
        // The offline page without the user's cookies: it must show no one's name.
        return new Request(url, { credentials: url === OFFLINE_URL ? "omit" : "same-origin" });
      }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (names) {
      return Promise.all(names.map(function (name) {
        if (name !== ASSETS && name !== PAGES) { return caches.delete(name); }
        return null;
      }));
    }).then(function () { return self.clients.claim(); })
  );
});

function kept(path) {
  return KEPT_PAGES.some(function (pattern) { return pattern.test(path); });
}

function isAsset(url) {
  return (url.pathname.indexOf("/static/") === 0 || url.pathname.indexOf("/bootstrap/static/") === 0) &&
    url.searchParams.has("v");
}

function keepable(response) {
  return response && response.ok && response.type === "basic" && !response.redirected;
}

function fromCache(request) {
  return caches.open(PAGES).then(function (cache) {
    return cache.match(request, { ignoreSearch: false, ignoreVary: true });
  });
}

function offlinePage() {
  return caches.match(OFFLINE_URL, { ignoreVary: true }).then(function (page) {
    return page || new Response("", { status: 503, statusText: "Offline" });
  });
}

// Network first; the kept copy when the network fails or is too slow to wait for.
function keptPage(request) {
  return fromCache(request).then(function (copy) {
    var network = fetch(request).then(function (response) {
      if (keepable(response)) {
        var clone = response.clone();
        caches.open(PAGES).then(function (cache) { return cache.put(request.url, clone); });
      }
      return response;
    });
    if (!copy) {
      return network.catch(offlinePage);
    }
    var timeout = new Promise(function (resolve) {
      setTimeout(function () { resolve(copy); }, NETWORK_WAIT_MS);
    });
    return Promise.race([network.catch(function () { return copy; }), timeout]);
  });
}

// The home-screen icon (/start): online it redirects to the right page; offline it opens the
// scanner last kept, else "My QR code", else the offline page.
function startPage(request) {
  return fetch(request).catch(function () {
    return caches.open(PAGES).then(function (cache) {
      return cache.keys().then(function (requests) {
        var paths = requests.map(function (r) { return new URL(r.url).pathname; });
        var pick = paths.filter(function (p) { return /^\/checkin\/shifts\/\d+$/.test(p); }).pop() ||
          paths.filter(function (p) { return p === "/me/qr"; }).pop();
        return pick ? cache.match(pick, { ignoreVary: true }) : null;
      });
    }).then(function (page) { return page || offlinePage(); });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) { return; }
  if (request.method !== "GET") {
    if (url.pathname === "/auth/logout") {
      event.waitUntil(caches.delete(PAGES));
    }
    return;
  }
  if (isAsset(url)) {
    event.respondWith(
      caches.match(request, { ignoreVary: true }).then(function (hit) {
        return hit || fetch(request).then(function (response) {
          if (keepable(response)) {
            var clone = response.clone();
            caches.open(ASSETS).then(function (cache) { return cache.put(request, clone); });
          }
          return response;
        });
      })
    );
    return;
  }
  if (request.mode !== "navigate") { return; }
  if (url.pathname === "/start") {
    event.respondWith(startPage(request));
  } else if (kept(url.pathname)) {
    event.respondWith(keptPage(request));
  } else {
    event.respondWith(fetch(request).catch(offlinePage));
  }
});

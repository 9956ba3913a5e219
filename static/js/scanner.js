// 志愿先行 — the lead's scanner page: camera, handheld scanner, roster search, walk-ins,
// and an offline queue that survives a reload. Every text comes from the template's
// data-msg-* attributes (translated on the server); nothing is fetched from another host.
(function () {
  "use strict";

  var root = document.getElementById("scanner");
  if (!root) { return; }

  var data = root.dataset;
  var shiftId = data.shiftId;
  var KEY_ROSTER = "vf.scanner.roster." + shiftId;
  var KEY_QUEUE = "vf.scanner.queue." + shiftId;
  var KEY_RECENT = "vf.scanner.recent." + shiftId;
  var KEY_OFFSET = "vf.scanner.clock";
  var DEDUPE_MS = 3000;
  var COUNTS_EVERY_MS = 20000;
  var RETRY_EVERY_MS = 15000;
  var ROSTER_EVERY_MS = 120000;
  var DETECT_EVERY_MS = 200;   // BarcodeDetector: about 5 frames a second
  var UPLOAD_EVERY_MS = 700;   // no BarcodeDetector: a frame to the server this often
  var RECENT_MAX = 30;
  var TIMEOUT_MS = 10000;      // a request with no answer by then counts as offline
  var DECODE_TIMEOUT_MS = 5000;

  function $(id) { return document.getElementById(id); }
  var el = {
    sync: $("sc-sync"),
    result: $("sc-result"),
    headline: $("sc-headline"),
    name: $("sc-name"),
    message: $("sc-message"),
    provisional: $("sc-provisional"),
    start: $("sc-camera-start"),
    stop: $("sc-camera-stop"),
    video: $("sc-video"),
    canvas: $("sc-canvas"),
    cameraMsg: $("sc-camera-msg"),
    codeForm: $("sc-code-form"),
    code: $("sc-code"),
    search: $("sc-search"),
    searchResults: $("sc-search-results"),
    missing: $("sc-missing"),
    missingCount: $("sc-missing-count"),
    walkinForm: $("sc-walkin-form"),
    walkinPhone: $("sc-walkin-phone"),
    recent: $("sc-recent")
  };

  // ------------------------------------------------------------ texts

  function camel(name) {
    return "msg" + name.replace(/(^|-)([a-z])/g, function (_m, _d, c) { return c.toUpperCase(); });
  }
  function msg(name, values) {
    var text = data[camel(name)] || "";
    Object.keys(values || {}).forEach(function (key) {
      text = text.split("{" + key + "}").join(String(values[key]));
    });
    return text;
  }

  // Times as the server shows them (the site's time zone), whatever the phone's setting.
  var clock = null;
  try {
    clock = new Intl.DateTimeFormat("en-GB", {
      hour: "2-digit", minute: "2-digit", hour12: false, timeZone: data.timezone || undefined
    });
  } catch (e) {
    clock = null;
  }

  function hhmm(value) {
    if (!value) { return ""; }
    var d = new Date(value);
    if (isNaN(d.getTime())) { return ""; }
    if (clock) { return clock.format(d); }
    return ("0" + d.getHours()).slice(-2) + ":" + ("0" + d.getMinutes()).slice(-2);
  }

  // ------------------------------------------------------------ storage

  function load(key, fallback) {
    try {
      var raw = window.localStorage.getItem(key);
      return raw ? JSON.parse(raw) : fallback;
    } catch (e) {
      return fallback;
    }
  }
  function save(key, value) {
    try { window.localStorage.setItem(key, JSON.stringify(value)); } catch (e) { /* full or private mode: memory only */ }
  }

  var state = {
    roster: load(KEY_ROSTER, null),
    queue: load(KEY_QUEUE, []),
    recent: load(KEY_RECENT, []),
    inflight: {},
    lastNonce: null,
    lastSeen: {},
    serverTrouble: false,
    // The server's clock minus the phone's, learnt from every answer: offline scans are
    // dated by the server's clock, which is what it checks a rotating code against.
    offset: Number(load(KEY_OFFSET, 0)) || 0,
    pumping: null,
    pumpAgain: false
  };
  if (!Array.isArray(state.queue)) { state.queue = []; }
  forgetOtherShifts();
  if (!Array.isArray(state.recent)) { state.recent = []; }

  // Names and phone tails of other shifts do not stay on the phone once nothing of
  // theirs is waiting to be sent.
  function forgetOtherShifts() {
    try {
      var storage = window.localStorage;
      var prefix = "vf.scanner.roster.";
      for (var i = storage.length - 1; i >= 0; i--) {
        var key = storage.key(i);
        if (!key || key.indexOf(prefix) !== 0 || key === KEY_ROSTER) { continue; }
        var other = key.slice(prefix.length);
        var pending = JSON.parse(storage.getItem("vf.scanner.queue." + other) || "[]");
        if (!pending.length) {
          storage.removeItem(key);
          storage.removeItem("vf.scanner.queue." + other);
          storage.removeItem("vf.scanner.recent." + other);
        }
      }
    } catch (e) { /* storage unavailable */ }
  }

  function saveQueue() { save(KEY_QUEUE, state.queue); }
  function saveRoster() { if (state.roster) { save(KEY_ROSTER, state.roster); } }
  function saveRecent() { save(KEY_RECENT, state.recent.slice(0, RECENT_MAX)); }

  function nonce() {
    var c = window.crypto;
    if (c && typeof c.randomUUID === "function") { return c.randomUUID(); }
    var bytes = new Uint8Array(16);
    if (c && c.getRandomValues) {
      c.getRandomValues(bytes);
    } else {
      for (var i = 0; i < 16; i++) { bytes[i] = Math.floor(Math.random() * 256); }
    }
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function isOnline() { return navigator.onLine !== false; }

  function serverNow() { return Date.now() + state.offset; }

  function learnClock(json) {
    var server = json && Number(json.server_time);
    if (!server) { return; }
    state.offset = server - Date.now();
    save(KEY_OFFSET, state.offset);
  }

  // ------------------------------------------------------------ HTTP

  function request(url, options) {
    options = options || {};
    var headers = { "Accept": "application/json" };
    if (options.method === "POST") { headers["X-CSRFToken"] = data.csrf; }
    if (options.json !== undefined) { headers["Content-Type"] = "application/json"; }
    if (options.contentType) { headers["Content-Type"] = options.contentType; }
    // Weak 4G: a request that hangs is given up (the scan stays queued and is retried;
    // its nonce makes a retry of a scan the server did get harmless).
    var controller = window.AbortController ? new AbortController() : null;
    var timer = controller ? window.setTimeout(function () { controller.abort(); }, options.timeout || TIMEOUT_MS) : null;
    return fetch(url, {
      method: options.method || "GET",
      headers: headers,
      body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
      credentials: "same-origin",
      cache: "no-store",
      signal: controller ? controller.signal : undefined
    }).then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      var body = type.indexOf("application/json") >= 0 ? response.json() : Promise.resolve(null);
      return body.then(function (json) {
        if (response.ok) { learnClock(json); }
        return { status: response.status, ok: response.ok && !response.redirected, redirected: response.redirected, json: json || {} };
      });
    }).then(function (answer) {
      window.clearTimeout(timer);
      return answer;
    }, function (error) {
      window.clearTimeout(timer);
      throw error;
    });
  }

  function serverMessage(answer) {
    return (answer.json && answer.json.error && answer.json.error.message) || "";
  }

  // ------------------------------------------------------------ the roster

  function rows() { return (state.roster && state.roster.roster) || []; }
  function rowBy(field, value) {
    var list = rows();
    for (var i = 0; i < list.length; i++) {
      if (String(list[i][field]) === String(value)) { return list[i]; }
    }
    return null;
  }

  function localCounts() {
    var counts = { expected: 0, "in": 0, out: 0, missing: 0 };
    rows().forEach(function (row) {
      if (row.status === "no_show" && !row.checked_in_at) { return; }
      counts.expected += 1;
      if (row.checked_out_at) { counts.out += 1; } else if (row.checked_in_at) { counts["in"] += 1; }
    });
    counts.missing = counts.expected - counts["in"] - counts.out;
    return counts;
  }

  function renderCounts(counts) {
    if (!counts) { return; }
    ["expected", "in", "out", "missing"].forEach(function (key) {
      var node = root.querySelector("[data-count='" + key + "']");
      if (node && counts[key] !== undefined) { node.textContent = String(counts[key]); }
    });
    if (state.roster) { state.roster.counts = counts; }
  }

  function statusText(row) {
    if (row.checked_out_at) { return msg("out-at", { time: hhmm(row.checked_out_at) }); }
    if (row.checked_in_at) { return msg("in-at", { time: hhmm(row.checked_in_at) }); }
    return "";
  }

  function personItem(row) {
    var li = document.createElement("li");
    li.className = "sc-person";
    li.setAttribute("data-signup-id", row.signup_id);
    var who = document.createElement("div");
    who.className = "sc-who";
    var name = document.createElement("span");
    name.className = "sc-person-name";
    name.textContent = row.name || "—";
    var meta = document.createElement("span");
    meta.className = "sc-person-meta";
    var bits = [msg("phone-tail", { tail: row.phone_tail || "" })];
    var status = statusText(row);
    if (status) { bits.push(status); }
    meta.textContent = bits.join(" · ");
    who.appendChild(name);
    who.appendChild(meta);
    li.appendChild(who);
    if (!row.checked_out_at) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = row.checked_in_at ? "btn btn-outline-primary" : "btn btn-primary";
      button.textContent = row.checked_in_at ? msg("check-out") : msg("check-in");
      button.setAttribute("data-signup-id", row.signup_id);
      button.setAttribute("aria-label", button.textContent + " " + (row.name || ""));
      li.appendChild(button);
    }
    return li;
  }

  function emptyItem(text) {
    var li = document.createElement("li");
    li.className = "sc-empty";
    li.textContent = text;
    return li;
  }

  function renderMissing() {
    var missing = rows().filter(function (row) { return !row.checked_in_at && row.status !== "no_show"; });
    missing.sort(function (a, b) { return String(a.name).localeCompare(String(b.name), "zh-CN"); });
    el.missing.textContent = "";
    if (state.roster && !missing.length) { el.missing.appendChild(emptyItem(msg("all-here"))); }
    missing.forEach(function (row) { el.missing.appendChild(personItem(row)); });
    el.missingCount.textContent = String(missing.length);
  }

  function renderSearch() {
    var term = el.search.value.trim();
    el.searchResults.textContent = "";
    if (!term) { return; }
    // Full-width digits and spaces or dashes count as the digits (as on the server).
    var folded = term.normalize ? term.normalize("NFKC").replace(/[\s\-]/g, "") : term;
    var digits = /^[0-9]+$/.test(folded);
    var found = rows().filter(function (row) {
      if (digits) { return String(row.phone_tail || "").indexOf(folded) >= 0; }
      return String(row.name || "").indexOf(term) >= 0;
    }).slice(0, 12);
    if (!found.length) { el.searchResults.appendChild(emptyItem(msg("no-match"))); }
    found.forEach(function (row) { el.searchResults.appendChild(personItem(row)); });
  }

  function renderLists() {
    renderMissing();
    renderSearch();
  }

  function loadRoster() {
    if (!isOnline()) { return Promise.resolve(false); }
    return request(data.rosterUrl).then(function (answer) {
      if (!answer.ok) { handleHttpTrouble(answer); return false; }
      var fresh = answer.json;
      // A scan still in the queue keeps its provisional mark on the fresh list.
      var provisional = {};
      rows().forEach(function (row) { if (row.provisional) { provisional[row.signup_id] = row; } });
      (fresh.roster || []).forEach(function (row) {
        var old = provisional[row.signup_id];
        if (old && !row.checked_in_at && queuedFor(row.signup_id)) {
          row.checked_in_at = old.checked_in_at;
          row.provisional = true;
        }
      });
      state.roster = fresh;
      offlineCodes();
      saveRoster();
      renderCounts(state.queue.length ? localCounts() : fresh.counts);
      renderLists();
      root.setAttribute("data-roster", "ready");
      return true;
    }, function () {
      root.setAttribute("data-roster", state.roster ? "cached" : "none");
      return false;
    });
  }

  // Phone codes checked with no signal (offline-codes.js), from the roster's day keys.
  function offlineCodes() {
    if (window.VFOfflineCodes && state.roster) { window.VFOfflineCodes.update(state.roster); }
  }

  function queuedFor(signupId) {
    return state.queue.some(function (item) { return item.provisionalSignup === signupId; });
  }

  // ------------------------------------------------------------ results

  function stateOf(result) {
    if (result.ok && result.action) { return "ok"; }
    if (result.ok) { return "warn"; }
    return "bad";
  }

  function headlineOf(result) {
    if (result.action === "in") { return msg("checked-in"); }
    if (result.action === "out") { return msg("checked-out"); }
    return result.ok ? msg("already") : msg("refused");
  }

  function vibrate(kind) {
    if (!navigator.vibrate) { return; }
    var activation = navigator.userActivation;
    if (activation && !activation.hasBeenActive) { return; }
    try {
      navigator.vibrate(kind === "ok" ? 120 : kind === "warn" ? [80, 60, 80] : [250, 100, 250]);
    } catch (e) { /* not allowed here */ }
  }

  function showPanel(entry) {
    var cls = "sc-result is-" + entry.state + (entry.provisional ? " is-provisional" : "");
    el.result.className = cls;
    el.result.setAttribute("data-state", entry.state);
    el.result.setAttribute("data-code", entry.code || "");
    el.result.setAttribute("data-provisional", entry.provisional ? "true" : "false");
    el.result.setAttribute("data-nonce", entry.nonce || "");
    el.headline.textContent = entry.headline || "";
    el.name.textContent = entry.name || "";
    el.message.textContent = entry.message || "";
    el.provisional.hidden = !entry.provisional;
  }

  function recentItem(entry) {
    var li = document.createElement("li");
    li.className = "sc-recent-item is-" + entry.state + (entry.provisional ? " is-provisional" : "");
    li.setAttribute("data-nonce", entry.nonce || "");
    li.setAttribute("data-state", entry.state);
    li.setAttribute("data-code", entry.code || "");
    li.setAttribute("data-provisional", entry.provisional ? "true" : "false");
    var time = document.createElement("span");
    time.className = "sc-recent-time";
    time.textContent = hhmm(entry.at);
    var text = document.createElement("span");
    text.className = "sc-recent-text";
    text.textContent = [entry.name, entry.headline].filter(Boolean).join(" · ");
    li.appendChild(time);
    li.appendChild(text);
    if (entry.provisional) {
      var badge = document.createElement("span");
      badge.className = "sc-badge";
      badge.textContent = (el.provisional.querySelector(".sc-badge") || {}).textContent || "";
      li.appendChild(badge);
    }
    return li;
  }

  function renderRecent() {
    el.recent.textContent = "";
    state.recent.slice(0, RECENT_MAX).forEach(function (entry) { el.recent.appendChild(recentItem(entry)); });
  }

  function entryFor(nonceValue) {
    for (var i = 0; i < state.recent.length; i++) {
      if (state.recent[i].nonce === nonceValue) { return state.recent[i]; }
    }
    return null;
  }

  function record(entry, show) {
    var existing = entryFor(entry.nonce);
    if (existing) {
      Object.keys(entry).forEach(function (key) { existing[key] = entry[key]; });
      entry = existing;
    } else {
      state.recent.unshift(entry);
      state.recent = state.recent.slice(0, RECENT_MAX);
    }
    saveRecent();
    renderRecent();
    if (show || entry.nonce === state.lastNonce) {
      showPanel(entry);
    }
    return entry;
  }

  // A scan the server has not answered yet: what the cached roster says about it.
  // The roster row a scan stands for, read from the code's kind and id (v<user>…,
  // c<card>…) without checking its signature: the server does that.
  function lookupRow(item) {
    if (item.signup_id) { return rowBy("signup_id", item.signup_id); }
    if (!item.token || !state.roster || !state.roster.offline) { return null; }
    var head = String(item.token).split(".")[0] || "";
    var ident = parseInt(head.slice(1), 36);
    var offline = state.roster.offline;
    var userId = null;
    if (head.charAt(0) === "v") { userId = ident; }
    if (head.charAt(0) === "c") { userId = (offline.cards || {})[String(ident)]; }
    if (head.charAt(0) === "t") { userId = phoneCodeUser(item.token); }
    if (cardNumber(item.token)) { userId = (offline.cards || {})[String(parseInt(item.token.slice(2), 10))]; }
    if (userId === null || userId === undefined || isNaN(userId)) { return null; }
    var signupId = (offline.users || {})[String(userId)];
    return signupId ? rowBy("signup_id", signupId) : null;
  }

  function provisionalEntry(item) {
    var row = lookupRow(item);
    var entry = { nonce: item.nonce, at: item.scanned_at, provisional: true, code: "", name: row ? row.name : "" };
    if (!row) {
      entry.state = "bad";
      entry.headline = msg("queued-headline");
      entry.message = msg("provisional-unknown");
    } else if (row.checked_in_at && !row.provisional) {
      entry.state = "warn";
      entry.headline = msg("queued-headline");
      entry.message = msg("provisional-already");
    } else {
      entry.state = "pending";
      entry.headline = msg("queued-headline");
      entry.message = msg("provisional-in");
      if (!row.checked_in_at) {
        row.checked_in_at = new Date(item.scanned_at).toISOString();
        row.provisional = true;
        item.provisionalSignup = row.signup_id;
        saveRoster();
        saveQueue();
        renderCounts(localCounts());
        renderLists();
      }
    }
    return entry;
  }

  function applyResult(result) {
    var item = null;
    state.queue = state.queue.filter(function (queued) {
      if (queued.nonce === result.nonce) { item = queued; return false; }
      return true;
    });
    var row = result.volunteer ? rowBy("user_id", result.volunteer.id) : null;
    if (!row && item && item.provisionalSignup) { row = rowBy("signup_id", item.provisionalSignup); }
    if (row) {
      row.provisional = false;
      if (result.volunteer && row.user_id === result.volunteer.id) {
        row.checked_in_at = result.checked_in_at;
        row.checked_out_at = result.checked_out_at;
        if (result.checked_in_at) { row.status = "attended"; }
      } else if (!result.ok) {
        row.checked_in_at = null;  // the provisional check-in did not happen
      }
    }
    var needRoster = result.volunteer && !row && result.ok;
    record({
      nonce: result.nonce,
      at: item ? item.scanned_at : serverNow(),
      state: stateOf(result),
      code: result.code,
      headline: headlineOf(result),
      name: result.volunteer ? result.volunteer.name : "",
      message: result.message || "",
      provisional: false,
      replayed: !!result.replayed
    });
    if (result.nonce === state.lastNonce) { vibrate(stateOf(result)); }
    return needRoster;
  }

  // ------------------------------------------------------------ the queue

  function backlog() {
    return state.queue.filter(function (item) { return item.offline; }).length;
  }

  function renderSync(kind, sent) {
    var n = state.queue.length;
    var online = isOnline();
    var text;
    if (!online) {
      text = n ? msg("offline-queued", { n: n }) : msg("offline");
    } else if (state.serverTrouble && n) {
      text = msg("retrying", { n: n });
    } else if (backlog()) {
      text = msg("syncing", { n: backlog() });
    } else if (n) {
      text = msg("sending");
    } else if (kind === "synced") {
      text = msg("synced", { n: sent });
    } else {
      text = msg("online");
    }
    el.sync.textContent = text;
    el.sync.setAttribute("data-queued", String(n));
    el.sync.setAttribute("data-online", online ? "1" : "0");
    el.sync.className = "sc-sync" + (!online || state.serverTrouble ? " is-offline" : n ? " is-busy" : "");
  }

  function trouble(text) {
    showPanel({ state: "bad", headline: msg("refused"), name: "", message: text, provisional: false });
  }

  // An answer that is not the JSON asked for: say what to do; the scans stay queued.
  function handleHttpTrouble(answer) {
    var error = (answer.json && answer.json.error) || {};
    if (answer.status === 401 || answer.redirected) {
      trouble(msg("login"));       // logged out (or sent to the login page)
    } else if (answer.status === 400 && error.code === 400) {
      trouble(msg("reload"));      // the CSRF token no longer matches the session
    } else if (answer.status >= 400 && answer.status < 500 && answer.status !== 429) {
      trouble(serverMessage(answer) || msg("reload"));
    }
  }

  // Send everything queued as one batch, one request at a time: a scan made while an
  // earlier one is on its way waits for it and goes with whatever is still queued. So
  // every request that reaches the server carries every older queued scan, which is what
  // lets the server refuse an "offline" scan dated before the scanner was last online.
  function pump() {
    if (state.pumping) { state.pumpAgain = true; return state.pumping; }
    if (!state.queue.length) { renderSync(); return Promise.resolve(); }
    if (!isOnline()) { markQueued(state.queue); renderSync(); return Promise.resolve(); }
    function done(sent) {
      state.pumping = null;
      if (!state.pumpAgain) { return; }
      state.pumpAgain = false;
      if (sent && state.queue.length) { return pump(); }
      markQueued(state.queue);        // not sent: what came meanwhile waits for the retry
      renderSync();
    }
    state.pumping = send().then(done, function () { return done(false); });
    return state.pumping;
  }

  function send() {
    var batch = state.queue.slice();
    var queuedBefore = batch.filter(function (item) { return item.offline; }).length;
    batch.forEach(function (item) { state.inflight[item.nonce] = true; });
    renderSync();
    var scans = batch.map(function (item) {
      var out = { nonce: item.nonce, scanned_at: item.scanned_at, offline: !!item.offline };
      if (item.signup_id) { out.signup_id = item.signup_id; } else { out.token = item.token; }
      return out;
    });
    function release() { batch.forEach(function (item) { delete state.inflight[item.nonce]; }); }
    return request(data.scansUrl, { method: "POST", json: { scans: scans } }).then(function (answer) {
      release();
      if (!answer.ok || !answer.json || !Array.isArray(answer.json.results)) {
        state.serverTrouble = answer.status >= 500 || answer.status === 429;
        handleHttpTrouble(answer);
        markQueued(batch);
        renderSync();
        return false;
      }
      state.serverTrouble = false;
      var needRoster = false;
      answer.json.results.forEach(function (result) {
        if (result && result.nonce) { needRoster = applyResult(result) || needRoster; }
      });
      saveQueue();
      saveRoster();
      renderCounts(state.queue.length ? localCounts() : answer.json.counts);
      renderLists();
      renderSync(queuedBefore ? "synced" : undefined, queuedBefore);
      keepFocus(true);
      if (needRoster) { loadRoster(); }
      return true;
    }, function () {
      // No connection (or the server did not answer): the scans stay queued.
      release();
      markQueued(batch);
      renderSync();
      return false;
    });
  }

  // Scans that could not be sent now are marked offline and shown provisionally.
  function markQueued(items) {
    var changed = false;
    items.forEach(function (item) {
      if (!item.offline) { item.offline = true; changed = true; }
      var entry = entryFor(item.nonce);
      if (!entry || entry.state === "sending") {
        record(provisionalEntry(item));
      }
    });
    if (changed) { saveQueue(); }
  }

  function submit(item) {
    item.nonce = nonce();
    item.scanned_at = serverNow();
    item.offline = !isOnline();
    state.queue.push(item);
    saveQueue();                      // stored first: a crash or reload loses nothing
    state.lastNonce = item.nonce;
    var row = lookupRow(item);
    if (item.offline) {
      record(provisionalEntry(item), true);
      vibrate("warn");
    } else {
      record({
        nonce: item.nonce, at: item.scanned_at, state: "sending", code: "",
        headline: msg("sending"), name: row ? row.name : "", message: "", provisional: false
      }, true);
    }
    return pump();
  }

  // ------------------------------------------------------------ codes

  // A phone code's volunteer if it is current and genuine (checked on this phone), else null.
  function phoneCodeUser(token) {
    return window.VFOfflineCodes ? window.VFOfflineCodes.userFor(token) : null;
  }

  // The number printed on a card ("JM0000001"), typed or read by a handheld scanner from
  // the card's barcode: normalised (any case, spaces and dashes dropped), else "".
  function cardNumber(text) {
    var compact = String(text || "").replace(/[\s-]/g, "").toUpperCase();
    return /^JM\d{7,10}$/.test(compact) ? compact : "";
  }

  // A QR holds https://host/q/<token>; a handheld scanner types that URL or the token.
  function tokenFrom(text) {
    text = String(text || "").trim();
    if (!text) { return ""; }
    if (cardNumber(text)) { return cardNumber(text); }
    var match = text.match(/\/q\/([^\/?#\s]+)/);
    if (match) {
      try { return decodeURIComponent(match[1]); } catch (e) { return match[1]; }
    }
    var site = text.match(/\/s\/([^\/?#\s]+)/);
    if (site) { return site[1]; }
    return text.slice(0, 200);
  }

  function scanToken(text) {
    var token = tokenFrom(text);
    if (!token) { return; }
    var now = Date.now();
    var seen = state.lastSeen[token];
    state.lastSeen[token] = now;      // a code held in view stays de-duplicated
    if (seen && now - seen < DEDUPE_MS) { return; }
    Object.keys(state.lastSeen).forEach(function (key) {
      if (now - state.lastSeen[key] > 60000) { delete state.lastSeen[key]; }
    });
    submit({ token: token });
  }

  // ------------------------------------------------------------ camera

  var camera = { stream: null, timer: null, detector: null, busy: false };

  function cameraMessage(text) { el.cameraMsg.textContent = text || ""; }

  function startCamera() {
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      cameraMessage(msg("camera-unsupported"));
      return;
    }
    el.start.disabled = true;
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false })
      .then(function (stream) {
        camera.stream = stream;
        el.video.srcObject = stream;
        el.video.hidden = false;
        el.start.hidden = true;
        el.stop.hidden = false;
        el.start.disabled = false;
        if (document.activeElement === el.code) { el.code.blur(); }
        return el.video.play().catch(function () { /* plays once frames arrive */ });
      })
      .then(function () { return makeDetector(); })
      .then(function (detector) {
        if (!camera.stream) { return; }
        camera.detector = detector;
        cameraMessage(detector ? msg("camera-on") : msg("camera-server"));
        schedule();
      })
      .catch(function () {
        el.start.disabled = false;
        stopCamera();
        cameraMessage(msg("camera-denied"));
      });
  }

  // No BarcodeDetector: the WebAssembly decoder on the phone (decoder.js); the server's
  // decoder only when that cannot load.
  function deviceDecoder() {
    if (!window.VFDecoder) { return Promise.resolve(null); }
    return window.VFDecoder.create(data.decoderScript, data.decoderWasm);
  }

  function makeDetector() {
    if (!("BarcodeDetector" in window)) { return deviceDecoder(); }
    var supported = window.BarcodeDetector.getSupportedFormats
      ? window.BarcodeDetector.getSupportedFormats()
      : Promise.resolve(["qr_code"]);
    return supported.then(function (formats) {
      if (formats.indexOf("qr_code") < 0) { return deviceDecoder(); }
      return new window.BarcodeDetector({ formats: ["qr_code"] });
    }).catch(function () { return deviceDecoder(); });
  }

  function schedule() {
    if (!camera.stream) { return; }
    camera.timer = window.setTimeout(tick, camera.detector ? DETECT_EVERY_MS : UPLOAD_EVERY_MS);
  }

  function tick() {
    camera.timer = null;
    if (!camera.stream) { return; }
    if (document.visibilityState === "hidden" || el.video.readyState < 2 || camera.busy) {
      schedule();
      return;
    }
    camera.busy = true;
    var done = function () { camera.busy = false; schedule(); };
    if (camera.detector) {
      camera.detector.detect(el.video).then(function (codes) {
        codes.forEach(function (code) { if (code.rawValue) { scanToken(code.rawValue); } });
      }).catch(function () { /* a frame it could not read */ }).then(done);
      return;
    }
    if (!isOnline()) { done(); return; }
    uploadFrame().then(done, done);
  }

  function uploadFrame() {
    var video = el.video;
    var width = video.videoWidth;
    var height = video.videoHeight;
    if (!width || !height) { return Promise.resolve(); }
    var scale = Math.min(1, 800 / Math.max(width, height));
    var canvas = el.canvas;
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    canvas.getContext("2d").drawImage(video, 0, 0, canvas.width, canvas.height);
    return new Promise(function (resolve) {
      canvas.toBlob(function (blob) { resolve(blob); }, "image/jpeg", 0.7);
    }).then(function (blob) {
      if (!blob) { return; }
      return request(data.decodeUrl, { method: "POST", body: blob, contentType: "image/jpeg", timeout: DECODE_TIMEOUT_MS })
        .then(function (answer) {
          if (!answer.ok) { handleHttpTrouble(answer); return; }
          (answer.json.codes || []).forEach(scanToken);
        });
    });
  }

  function stopCamera() {
    if (camera.timer) { window.clearTimeout(camera.timer); camera.timer = null; }
    if (camera.stream) {
      camera.stream.getTracks().forEach(function (track) { track.stop(); });
    }
    camera.stream = null;
    camera.detector = null;
    el.video.srcObject = null;
    el.video.hidden = true;
    el.stop.hidden = true;
    el.start.hidden = false;
    cameraMessage("");
    keepFocus();
  }

  // ------------------------------------------------------------ the handheld scanner field

  // With the camera off a handheld scanner is the likely input: keep its field focused,
  // unless the lead is using another field or button.
  var finePointer = window.matchMedia && window.matchMedia("(pointer: fine)").matches;

  function keepFocus(soft) {
    if (camera.stream) { return; }
    // On a touch phone, focusing the field opens the on-screen keyboard: after a tap on
    // a list button do so only once the handheld scanner has been used.
    if (soft && !finePointer && !state.scannerUsed) { return; }
    var active = document.activeElement;
    if (!active || active === document.body || active === el.code) {
      el.code.focus({ preventScroll: true });
    }
  }

  el.codeForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var value = el.code.value;
    el.code.value = "";
    state.scannerUsed = true;
    scanToken(value);
    if (!camera.stream) { el.code.focus({ preventScroll: true }); }
  });

  // ------------------------------------------------------------ search, missing, walk-in

  el.search.addEventListener("input", renderSearch);

  function onPick(event) {
    var button = event.target.closest("button[data-signup-id]");
    if (!button) { return; }
    var signupId = parseInt(button.getAttribute("data-signup-id"), 10);
    if (signupId) { submit({ signup_id: signupId }); }
  }
  el.searchResults.addEventListener("click", onPick);
  el.missing.addEventListener("click", onPick);

  el.walkinForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var phone = el.walkinPhone.value.trim();
    if (!phone) { return; }
    if (!isOnline()) {
      trouble(msg("walkin-offline"));
      return;
    }
    var button = el.walkinForm.querySelector("button");
    button.disabled = true;
    state.lastNonce = null;
    showPanel({ state: "sending", headline: msg("sending"), name: "", message: "", provisional: false });
    request(data.walkinUrl, { method: "POST", json: { phone: phone } }).then(function (answer) {
      button.disabled = false;
      if (answer.ok && answer.json.result) {
        var result = answer.json.result;
        result.nonce = "walkin-" + nonce();
        state.lastNonce = result.nonce;
        applyResult(result);
        renderCounts(answer.json.counts);
        el.walkinPhone.value = "";
        loadRoster();
        return;
      }
      if (answer.status === 404 && serverMessage(answer)) {
        trouble(serverMessage(answer));   // no volunteer has this number
      } else {
        handleHttpTrouble(answer);
      }
      vibrate("bad");
    }, function () {
      button.disabled = false;
      trouble(msg("walkin-offline"));
    });
  });

  el.start.addEventListener("click", startCamera);
  el.stop.addEventListener("click", stopCamera);

  // ------------------------------------------------------------ timers and connectivity

  function refreshCounts() {
    if (!isOnline() || document.visibilityState === "hidden" || state.queue.length) { return; }
    request(data.countsUrl).then(function (answer) {
      if (answer.ok && answer.json.counts) { renderCounts(answer.json.counts); saveRoster(); }
    }, function () { /* offline: the next tick tries again */ });
  }

  window.addEventListener("online", function () {
    renderSync();
    pump().then(function () { return loadRoster(); });
  });
  window.addEventListener("offline", function () { renderSync(); });
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "visible") { pump(); refreshCounts(); }
  });
  window.addEventListener("pagehide", function () {
    if (camera.stream) { stopCamera(); }
  });
  window.setInterval(refreshCounts, COUNTS_EVERY_MS);
  window.setInterval(function () { if (state.queue.length) { pump(); } }, RETRY_EVERY_MS);
  window.setInterval(function () {
    if (isOnline() && !state.queue.length && document.visibilityState === "visible") { loadRoster(); }
  }, ROSTER_EVERY_MS);

  // ------------------------------------------------------------ start

  // Scans answered before a reload are history, not pending: show them as they were.
  state.recent.forEach(function (entry) {
    if (entry.state === "sending") { entry.state = "pending"; entry.provisional = true; }
  });
  renderRecent();
  if (state.roster) {
    offlineCodes();
    renderCounts(state.queue.length ? localCounts() : state.roster.counts);
    renderLists();
    root.setAttribute("data-roster", "cached");
  }
  renderSync();
  keepFocus();
  loadRoster().then(function () {
    if (state.queue.length) { pump(); }
  });
})();

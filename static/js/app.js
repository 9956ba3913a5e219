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

// Registration steps: show the fields that apply, filter long selects as one types.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function toggle(selector, show) {
    document.querySelectorAll(selector).forEach(function (el) { el.hidden = !show; });
  }

  var idType = document.getElementById("id_type");
  if (idType) {
    var syncId = function () { toggle("[data-show-when-id-type=other]", idType.value !== "resident"); };
    idType.addEventListener("change", syncId);
    syncId();
  }

  var politics = document.getElementById("political_status");
  if (politics) {
    var syncParty = function () { toggle("[data-show-when-party]", politics.value === "01" || politics.value === "02"); };
    politics.addEventListener("change", syncParty);
    syncParty();
  }

  document.querySelectorAll("[data-filter-select]").forEach(function (input) {
    var select = document.getElementById(input.getAttribute("data-filter-select"));
    if (!select) { return; }
    input.addEventListener("input", function () {
      var term = input.value.trim();
      var firstMatch = null;
      Array.prototype.forEach.call(select.options, function (option) {
        if (!option.value) { return; }
        var group = option.parentNode.tagName === "OPTGROUP" ? option.parentNode.label : "";
        var match = !term || option.text.indexOf(term) >= 0 || group.indexOf(term) >= 0;
        option.hidden = !match;
        if (match && !firstMatch) { firstMatch = option; }
      });
      if (term && firstMatch) { select.value = firstMatch.value; }
    });
  });
})();

// Print buttons (data-print) without inline handlers.
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var target = event.target.closest && event.target.closest("[data-print]");
    if (target) {
      event.preventDefault();
      window.print();
    }
  });
})();

// Boxes marked data-open-wide start open on a wide screen (collapsed on a phone).
(function () {
  "use strict";
  if (!window.matchMedia || !window.matchMedia("(min-width: 768px)").matches) { return; }
  document.querySelectorAll("details[data-open-wide]").forEach(function (box) { box.open = true; });
})();

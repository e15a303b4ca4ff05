/* Warn while typing when a free-text field seems to contain personal data (L2).
   Progressive enhancement: without JavaScript the server checks on submit and shows the
   same warning. Fields opt in with data-pii-check; the warning goes to the element named
   by the field's aria-describedby that has the class pii-warning (an aria-live region). */
(function () {
  "use strict";
  var names = {};
  try { names = JSON.parse(document.body.getAttribute("data-pii-names") || "{}"); } catch (e) { names = {}; }

  function csrf() {
    var m = document.cookie.match(/(?:^|; )integritet_csrf=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }

  function regionFor(field) {
    var ids = (field.getAttribute("aria-describedby") || "").split(/\s+/);
    for (var i = 0; i < ids.length; i++) {
      var el = ids[i] && document.getElementById(ids[i]);
      if (el && el.classList.contains("pii-warning")) { return el; }
    }
    return null;
  }

  function show(field, types) {
    var region = regionFor(field);
    if (!region) { return; }
    var ack = document.getElementById(field.id + "-ack");
    if (!types.length) {
      region.textContent = "";
      field.removeAttribute("aria-invalid");
      return;
    }
    var label = region.getAttribute("data-text") || "";
    var words = types.map(function (t) { return names[t] || t; });
    region.textContent = label + " " + words.join(", ") + ".";
    field.setAttribute("aria-invalid", "true");
    if (ack) { ack.hidden = false; }
  }

  function check(field) {
    var text = field.value;
    if (!text.trim()) { show(field, []); return; }
    fetch("/api/v1/pii/check", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({ text: text })
    }).then(function (r) { return r.ok ? r.json() : { findings: [] }; })
      .then(function (data) {
        if (field.value !== text) { return; }  /* a newer check is on its way */
        var seen = [];
        (data.findings || []).forEach(function (f) { if (seen.indexOf(f.type) < 0) { seen.push(f.type); } });
        show(field, seen);
      })
      .catch(function () { /* the server check on submit still applies */ });
  }

  function watch(field) {
    var timer = null;
    field.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(function () { check(field); }, 400);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var fields = document.querySelectorAll("[data-pii-check]");
    for (var i = 0; i < fields.length; i++) { watch(fields[i]); }
  });
})();

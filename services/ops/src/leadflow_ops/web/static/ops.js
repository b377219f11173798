// leadflow ops console: live "Now" board over server-sent events, and confirm-before-replay.
// Plain JavaScript, no dependencies, no inline handlers (the CSP forbids them).
"use strict";

(function () {
  function text(el, value) { if (el) { el.textContent = String(value); } }

  function cell(tag, value, cls) {
    var td = document.createElement(tag);
    td.textContent = String(value);
    if (cls) { td.className = cls; }
    return td;
  }

  function svgEl(name, attrs, content) {
    var el = document.createElementNS("http://www.w3.org/2000/svg", name);
    Object.keys(attrs).forEach(function (k) { el.setAttribute(k, attrs[k]); });
    if (content !== undefined) { el.textContent = content; }
    return el;
  }

  function teamChart(teams) {
    var width = 560, row = 22, labelW = 170, plotW = width - labelW - 70;
    var height = row * Math.max(teams.length, 1) + 8;
    var top = Math.max.apply(null, teams.map(function (t) { return t.open; }).concat([1]));
    var svg = svgEl("svg", { "class": "chart", role: "img", "aria-label": "open leads by team",
      viewBox: "0 0 " + width + " " + height, width: width, height: height });
    teams.forEach(function (t, i) {
      var y = 4 + i * row, w = t.open / top * plotW;
      svg.appendChild(svgEl("text", { "class": "lbl", x: labelW - 6, y: (y + row * 0.68).toFixed(1), "text-anchor": "end" }, t.team));
      svg.appendChild(svgEl("rect", { "class": "bar", x: labelW, y: y + 3, width: w.toFixed(1), height: row - 6, rx: 2 }));
      svg.appendChild(svgEl("text", { "class": "val", x: (labelW + w + 4).toFixed(1), y: (y + row * 0.68).toFixed(1) }, String(t.open)));
    });
    return svg;
  }

  function renderNow(snap) {
    ["open", "due_15", "due_60", "breached", "breached_first_touch", "breached_qualify", "breached_callback",
     "unassigned", "not_in_salesforce"].forEach(function (k) {
      document.querySelectorAll('[data-metric="' + k + '"]').forEach(function (el) {
        if (el.textContent !== String(snap[k])) {
          el.textContent = String(snap[k]);
          el.classList.remove("flash"); void el.offsetWidth; el.classList.add("flash");
        }
      });
    });
    var updated = document.getElementById("updated");
    if (updated) {
      while (updated.firstChild) { updated.removeChild(updated.firstChild); }
      updated.appendChild(document.createTextNode("as of "));
      var t = document.createElement("time");
      t.setAttribute("datetime", snap.at);
      updated.appendChild(t);
      localTime(t);
    }
    var table = document.getElementById("teams");
    if (table) {
      var head = table.tHead.rows[0];
      while (head.firstChild) { head.removeChild(head.firstChild); }
      head.appendChild(cell("th", "Team"));
      snap.ratings.forEach(function (r) { head.appendChild(cell("th", r, "n")); });
      ["Open", "Breached", "In queue", "Not in Salesforce", "Contact follow-ups"].forEach(function (h) { head.appendChild(cell("th", h, "n")); });
      var body = table.tBodies[0];
      while (body.firstChild) { body.removeChild(body.firstChild); }
      snap.teams.forEach(function (t) {
        var tr = document.createElement("tr");
        tr.appendChild(cell("td", t.team));
        snap.ratings.forEach(function (r) { tr.appendChild(cell("td", t.by_rating[r] || 0, "n")); });
        tr.appendChild(cell("td", t.open, "n"));
        tr.appendChild(cell("td", t.breached, t.breached ? "n bad" : "n"));
        tr.appendChild(cell("td", t.queued, "n"));
        tr.appendChild(cell("td", t.not_in_salesforce || 0, "n"));
        tr.appendChild(cell("td", t.follow_ups || 0, "n"));
        body.appendChild(tr);
      });
    }
    var chart = document.getElementById("team-chart");
    if (chart) { while (chart.firstChild) { chart.removeChild(chart.firstChild); } chart.appendChild(teamChart(snap.teams)); }
    var queues = document.getElementById("queues");
    if (queues) {
      var qb = queues.tBodies[0];
      while (qb.firstChild) { qb.removeChild(qb.firstChild); }
      snap.queues.forEach(function (q) {
        var tr = document.createElement("tr");
        tr.appendChild(cell("td", q.name)); tr.appendChild(cell("td", q.team || "–")); tr.appendChild(cell("td", q.open, "n"));
        qb.appendChild(tr);
      });
    }
    var stopped = document.getElementById("tile-not-in-sf");
    if (stopped) {
      stopped.classList.toggle("bad", snap.not_in_salesforce > 0);
      stopped.classList.toggle("ok", !(snap.not_in_salesforce > 0));
    }
    document.body.setAttribute("data-version", String(snap.version));
  }

  // Times are rendered in UTC on the server and shown in the viewer's own time zone here.
  var zone = (window.Intl && Intl.DateTimeFormat().resolvedOptions().timeZone) || "UTC";
  function localTime(el) {
    var iso = el.getAttribute("datetime");
    var d = iso ? new Date(iso) : null;
    if (!d || isNaN(d.getTime())) { return; }
    var withDate = el.getAttribute("data-format") !== "time";
    var opts = { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false, timeZoneName: "short" };
    if (withDate) { opts.year = "numeric"; opts.month = "2-digit"; opts.day = "2-digit"; }
    el.textContent = new Intl.DateTimeFormat(undefined, opts).format(d);
    el.setAttribute("title", iso + " (UTC) · shown in " + zone);
  }
  function localTimes(root) { root.querySelectorAll("time[datetime]").forEach(localTime); }

  function liveNow() {
    if (!window.EventSource) { return; }
    var live = document.getElementById("live");
    var source = new EventSource("/events/now");
    source.addEventListener("now", function (e) { renderNow(JSON.parse(e.data)); if (live) { live.classList.remove("off"); } });
    source.onerror = function () { if (live) { live.classList.add("off"); } };
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(document);
    document.querySelectorAll("[data-tz]").forEach(function (el) { el.textContent = zone; });
    if (document.body.getAttribute("data-page") === "now") { liveNow(); }
    document.querySelectorAll("[data-confirm]").forEach(function (btn) {
      btn.addEventListener("click", function (e) {
        if (!window.confirm(btn.getAttribute("data-confirm"))) { e.preventDefault(); }
      });
    });
    document.querySelectorAll("select[data-autosubmit]").forEach(function (sel) {
      sel.addEventListener("change", function () { sel.form.submit(); });
    });
  });
})();

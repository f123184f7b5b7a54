/* creditdesk console: the little script the pages need (no framework, no inline script).
 *
 * - draws every chart: a <script type="application/json" data-figure="ID"> block holds a
 *   plotly figure built on the server; plotly.js (served from /static) draws it into #ID;
 * - refreshes the "May I call now?" panel from GET /api/cases/{id}/may-contact (on the
 *   "Check again" button and every minute), writing text only (textContent, never HTML);
 * - shows the form fields that go with the chosen outcome or arrangement.
 * Everything works without it except the charts and the live refresh.
 */
(function () {
  "use strict";

  function drawCharts() {
    var blocks = document.querySelectorAll("script[type='application/json'][data-figure]");
    if (!blocks.length) { return; }
    if (typeof window.Plotly === "undefined") {
      blocks.forEach(function (b) {
        var el = document.getElementById(b.getAttribute("data-figure"));
        if (el) { el.textContent = "The chart library did not load; the tables show the figures."; }
      });
      return;
    }
    blocks.forEach(function (block) {
      var el = document.getElementById(block.getAttribute("data-figure"));
      if (!el) { return; }
      try {
        var fig = JSON.parse(block.textContent);
        window.Plotly.newPlot(el, fig.data || [], fig.layout || {},
          { displaylogo: false, responsive: true,
            modeBarButtonsToRemove: ["select2d", "lasso2d"] });
      } catch (err) {
        el.textContent = "This chart could not be drawn.";
      }
    });
  }

  /* An ISO timestamp as "2026-03-14 08:00 Asia/Shanghai": the wall clock in the customer's
   * zone, as the server writes it (no zone: UTC). */
  function localText(iso, tz) {
    if (!iso) { return ""; }
    var when = new Date(iso);
    var zone = tz || "UTC";
    if (!isNaN(when.getTime()) && window.Intl && Intl.DateTimeFormat) {
      try {
        var parts = {};
        new Intl.DateTimeFormat("en-CA", { timeZone: zone, year: "numeric", month: "2-digit",
          day: "2-digit", hour: "2-digit", minute: "2-digit", hourCycle: "h23" })
          .formatToParts(when).forEach(function (p) { parts[p.type] = p.value; });
        return parts.year + "-" + parts.month + "-" + parts.day + " " + parts.hour + ":" +
          parts.minute + " " + zone;
      } catch (err) { /* unknown zone: fall through */ }
    }
    var m = /^(\d{4}-\d{2}-\d{2})T(\d{2}:\d{2})/.exec(iso);
    return m ? m[1] + " " + m[2] : iso;
  }

  function setField(panel, name, text) {
    var el = panel.querySelector("[data-field='" + name + "']");
    if (el) { el.textContent = text; }
  }

  function showRow(panel, name, show) {
    var el = panel.querySelector("[data-field='" + name + "-row']");
    if (el) { el.hidden = !show; }
  }

  function refreshMayContact(panel) {
    var url = panel.getAttribute("data-url");
    var tz = panel.getAttribute("data-tz") || "";
    if (!url || !window.fetch) { return; }
    panel.setAttribute("aria-busy", "true");
    window.fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (a) {
        panel.classList.toggle("is-allowed", !!a.allowed);
        panel.classList.toggle("is-blocked", !a.allowed);
        setField(panel, "answer", a.allowed ? "Yes: a call is allowed now." : "No: a call is blocked now.");
        setField(panel, "rule", a.rule || "");
        setField(panel, "reason", a.reason || "");
        setField(panel, "next", a.next_allowed_at ? localText(a.next_allowed_at, tz)
          : "only after a change (a hold released, consent given)");
        setField(panel, "at", localText(a.at, tz));
        showRow(panel, "rule", !a.allowed);
        showRow(panel, "reason", !a.allowed);
        showRow(panel, "next", !a.allowed);
        panel.setAttribute("data-checked", "live");
      })
      .catch(function () {
        setField(panel, "answer", "Could not ask the checker just now; try again.");
      })
      .then(function () { panel.removeAttribute("aria-busy"); });
  }

  function wireMayContact() {
    var panel = document.getElementById("may-contact");
    if (!panel) { return; }
    var button = panel.querySelector("[data-action='recheck']");
    if (button) { button.addEventListener("click", function () { refreshMayContact(panel); }); }
    refreshMayContact(panel);
    window.setInterval(function () {
      if (!document.hidden) { refreshMayContact(panel); }
    }, 60000);
  }

  /* Show only the parts of a form that go with the selected value ([data-show-for]). */
  function wireChoice(form, selectName) {
    var select = form.querySelector("select[name='" + selectName + "']");
    if (!select) { return; }
    function update() {
      form.querySelectorAll("[data-show-for]").forEach(function (part) {
        var on = part.getAttribute("data-show-for") === select.value;
        part.hidden = !on;
        part.querySelectorAll("input, select, textarea").forEach(function (i) { i.disabled = !on; });
      });
    }
    select.addEventListener("change", update);
    update();
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts();
    wireMayContact();
    var outcome = document.querySelector("form[data-form='outcome']");
    if (outcome) { wireChoice(outcome, "outcome"); }
    var plan = document.querySelector("form[data-form='plan']");
    if (plan) { wireChoice(plan, "kind"); }
  });
}());

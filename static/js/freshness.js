// How old what a live page shows is, kept current in the browser. Live frames arrive
// only when something changes, so without a clock here a page whose host went silent,
// or whose socket dropped, would go on looking just as fresh as when it was drawn.
(function () {
  "use strict";

  // Samples and alerts are dated by the server's clock, not the browser's: measure the
  // gap between them once, from the time the page was rendered. A page shown again from
  // the history cache carries an old render time, which would make every age too young.
  const nav = performance.getEntriesByType ? performance.getEntriesByType("navigation")[0] : null;
  const rendered = parseFloat(document.body.dataset.now || "");
  const skew = isNaN(rendered) || (nav && nav.type === "back_forward") ? 0 : rendered * 1000 - Date.now();

  function parse(iso) {
    // Python's isoformat() writes microseconds; Date.parse is only specified for ms.
    return Date.parse(String(iso || "").replace(/(\.\d{3})\d+/, "$1"));
  }

  function secondsSince(iso) {
    const at = parse(iso);
    if (isNaN(at)) return null;
    // A clock a little ahead of the server's must not read "in 1 s".
    return Math.max(0, Math.floor((Date.now() + skew - at) / 1000));
  }

  function span(seconds) {
    if (seconds < 60) return seconds + " s";
    const minutes = Math.floor(seconds / 60);
    if (minutes < 60) return minutes + " min";
    const hours = Math.floor(minutes / 60);
    if (hours < 24) return hours + " h" + (minutes % 60 ? " " + (minutes % 60) + " min" : "");
    const days = Math.floor(hours / 24);
    return days + " d" + (hours % 24 ? " " + (hours % 24) + " h" : "");
  }

  function ago(seconds) {
    return seconds < 1 ? "just now" : span(seconds) + " ago";
  }

  function setText(el, text) {
    if (el.textContent !== text) el.textContent = text;
  }

  // -- System Monitor: the newest sample of the host shown --------------------------------
  const monitor = document.querySelector("[data-stale-after]");
  const announcer = document.getElementById("sample-status");
  let wasStale = null;

  function tickSample() {
    const vitals = document.getElementById("vitals");
    const age = document.getElementById("sample-age");
    if (!monitor || !vitals || !age) return;
    const seconds = secondsSince(vitals.dataset.time);
    if (seconds === null) return;
    const staleAfter = parseInt(monitor.dataset.staleAfter, 10);
    const stale = seconds > staleAfter;
    age.classList.toggle("stale", stale);
    showHostState(stale);
    setText(age, stale ? "no sample for " + span(seconds) : "last sample " + ago(seconds));
    // Announced on a change of state only: a reader counting seconds aloud is noise.
    if (announcer && wasStale !== null && stale !== wasStale) {
      announcer.textContent = stale
        ? "No sample from " + monitor.dataset.host + " for " + span(seconds) + ": the gauges show old values."
        : "Samples from " + monitor.dataset.host + " are arriving again.";
    }
    wasStale = stale;
  }

  // The host's badge was drawn with the last frame: a host that went quiet since must
  // not go on reading "Healthy" beside "no sample for 2 min".
  function showHostState(stale) {
    const badge = document.getElementById("host-status");
    if (!badge) return;
    if (stale && !badge.dataset.drawn) {
      badge.dataset.drawn = badge.className + "|" + badge.textContent;
      badge.className = "badge status-no_data";
      badge.textContent = "No data";
    } else if (!stale && badge.dataset.drawn) {
      const parts = badge.dataset.drawn.split("|");
      badge.className = parts[0];
      badge.textContent = parts.slice(1).join("|");
      delete badge.dataset.drawn;
    }
  }

  // -- alert pages: when each alert was last seen ------------------------------------------
  function tickAgo() {
    document.querySelectorAll("[data-since]").forEach(function (el) {
      const seconds = secondsSince(el.dataset.since);
      if (seconds === null) return;
      // "firing for 12 min", "pending for 40 s" where the element names what lasted.
      setText(el, el.dataset.prefix ? el.dataset.prefix + " " + span(seconds) : ago(seconds));
    });
    // What is still to come: "fires in 4 min" (a pending rule's `for`), then what then.
    document.querySelectorAll("[data-until]").forEach(function (el) {
      const at = parse(el.dataset.until);
      if (isNaN(at)) return;
      const seconds = Math.ceil((at - Date.now() - skew) / 1000);
      setText(el, seconds > 0 ? (el.dataset.prefix || "in") + " " + span(seconds) : el.dataset.done || "now");
    });
  }

  function tick() {
    tickSample();
    tickAgo();
  }

  tick();
  setInterval(tick, 1000);
  // A new frame (a sample, a changed or inserted row) is dated at once, not up to a
  // second later; a tab brought back from the background catches up the same way.
  document.body.addEventListener("htmx:wsAfterMessage", tick);
  document.body.addEventListener("htmx:afterSettle", tick);
  document.addEventListener("visibilitychange", tick);
})();

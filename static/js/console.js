// The live console pages in the browser: resume after a reconnect, new rows in their
// place, keyboard shortcuts, and bulk selection. htmx does the requests and swaps.
(function () {
  "use strict";

  const live = document.querySelector("[data-live]");
  const badge = document.getElementById("live-badge");
  const CLOSED_FOR_GOOD = [4401, 4403]; // not logged in, or no role: retrying cannot help
  const HTMX_RETRIES = [1006, 1011, 1012, 1013]; // the ws extension reconnects these itself

  function setBadge(text, state) {
    if (!badge) return;
    badge.textContent = text;
    badge.dataset.state = state;
  }

  // The badge is easy to miss; a page whose socket is down says so in words, since
  // everything on it stops changing while it looks just as it did.
  const paused = document.getElementById("live-paused");
  let pausedTimer = null;
  function setPaused(text, state) {
    if (!paused) return;
    clearTimeout(pausedTimer);
    // Every failed retry closes again: the same words must not be announced again.
    if (paused.textContent !== text) paused.textContent = text;
    paused.dataset.state = state || "";
    if (state === "ok") {
      pausedTimer = setTimeout(function () { setPaused(""); }, 4000);
    }
  }

  function cursor() {
    const el = document.getElementById("live-cursor");
    return el ? parseInt(el.dataset.event || "0", 10) : 0;
  }

  if (live) {
    live.addEventListener("htmx:wsOpen", function (evt) {
      setBadge("live", "live");
      if (paused && paused.textContent) setPaused("Live updates resumed.", "ok");
      // Ask for anything committed since this page's last known event: covers the gap
      // between rendering the page and opening the socket, and any dropped connection.
      evt.detail.socketWrapper.send(JSON.stringify({ resume: cursor() }));
    });
    live.addEventListener("htmx:wsClose", function (evt) {
      const code = evt.detail.event.code;
      if (CLOSED_FOR_GOOD.includes(code)) {
        setBadge("not allowed: log in again", "off");
        setPaused("Live updates stopped: log in again to resume them.", "off");
        return;
      }
      setBadge("reconnecting…", "retry");
      setPaused("Live updates paused, reconnecting…", "retry");
      if (!HTMX_RETRIES.includes(code)) {
        setTimeout(function () { evt.detail.socketWrapper.reconnect(); }, 1000);
      }
    });
  }

  // -- panels folded on a phone ----------------------------------------------------------
  // The filters and bulk actions start open on a wide screen and folded on a narrow one,
  // where they would push the first alert below the fold.
  if (window.matchMedia("(max-width: 800px)").matches) {
    document.querySelectorAll("details[data-fold-on-phone]").forEach(function (panel) {
      panel.open = false;
    });
  }
  function reveal(el) {
    const panel = el && el.closest("details");
    if (panel) panel.open = true;
    return el;
  }

  // -- keeping selection and focus across swaps ----------------------------------------
  let kept = null;
  function keep() {
    kept = {
      checked: Array.from(document.querySelectorAll("input[name=alert]:checked")).map((i) => i.value),
      focused: document.activeElement && document.activeElement.id,
    };
  }
  function restore() {
    if (!kept) return;
    kept.checked.forEach(function (id) {
      const box = document.querySelector('input[name=alert][value="' + id + '"]');
      if (box && !box.disabled) box.checked = true;
    });
    if (kept.focused && (!document.activeElement || document.activeElement === document.body)) {
      const el = document.getElementById(kept.focused);
      if (el) el.focus();
    }
    kept = null;
    updateSelected();
    updateEmpty();
  }
  document.body.addEventListener("htmx:wsBeforeMessage", keep);
  document.body.addEventListener("htmx:wsAfterMessage", restore);
  document.body.addEventListener("htmx:beforeSwap", keep);
  document.body.addEventListener("htmx:afterSettle", restore);
  document.body.addEventListener("htmx:beforeRequest", function (evt) {
    // Notes belong to one action: clear them once it went through. (The notes field
    // survives live swaps of the alert's summary, hx-preserve, while being typed in.)
    // Watched on the request itself: the button that sent it may be gone by the time
    // the answer comes, swapped away by the live update of its own row, and then htmx
    // tells nothing on this page that it finished.
    const path = (evt.detail.pathInfo && evt.detail.pathInfo.requestPath) || "";
    const xhr = evt.detail.xhr;
    if (!xhr || path.indexOf("/alerts/actions/") !== 0) return;
    xhr.addEventListener("loadend", function () {
      if (xhr.status >= 300) return;
      const notes = document.getElementById("action-notes");
      if (notes) notes.value = "";
    });
  });
  document.body.addEventListener("htmx:afterRequest", function () {
    setTimeout(restore, 0);
  });

  // -- a new alert: insert its row where the ordering puts it ----------------------------
  // Only on the first page, only among the page's rows (one that sorts below the last of
  // a full page belongs to the next page), and only while the operator is at the top:
  // below it, rows would jump under the reader's eyes, so they wait behind a
  // "N new alerts: show" bar instead. The count and pager come from the server.
  const pageSize = live ? parseInt(live.dataset.pageSize || "50", 10) : 50;
  const waiting = new Map(); // alert row id -> its newest row, not shown yet
  const newBar = document.getElementById("new-alerts");
  const newButton = document.getElementById("show-new-alerts");

  function atTop() {
    const rows = document.getElementById("alert-rows");
    return !rows || rows.getBoundingClientRect().top > -40 || window.scrollY < 80;
  }

  function place(row) {
    const rows = document.getElementById("alert-rows");
    if (!rows || document.getElementById(row.id)) return false;
    const rank = parseInt(row.dataset.rank, 10);
    const seen = row.dataset.lastSeen;
    const before = Array.from(rows.children).find(function (other) {
      const r = parseInt(other.dataset.rank, 10);
      return r < rank || (r === rank && other.dataset.lastSeen < seen);
    });
    if (!before && rows.children.length >= pageSize) return false;
    row.removeAttribute("hx-swap-oob");
    row.classList.add("fresh");
    rows.insertBefore(row, before || null);
    htmx.process(row);
    while (rows.children.length > pageSize) rows.lastElementChild.remove();
    return true;
  }

  function showWaiting() {
    waiting.forEach(place);
    waiting.clear();
    updateNewBar();
    updateEmpty();
  }

  function updateNewBar() {
    if (!newBar || !newButton) return;
    newBar.hidden = waiting.size === 0;
    const n = waiting.size;
    const text = n + " new alert" + (n === 1 ? "" : "s") + " \u2014 show";
    if (n && newButton.textContent !== text) newButton.textContent = text;
  }

  if (newButton) {
    newButton.addEventListener("click", function () {
      showWaiting();
      const rows = document.getElementById("alert-rows");
      if (rows) rows.closest("section").scrollIntoView({ block: "start" });
    });
  }
  window.addEventListener("scroll", function () {
    if (waiting.size && atTop()) showWaiting();
  }, { passive: true });

  document.body.addEventListener("htmx:oobErrorNoTarget", function (evt) {
    const row = evt.detail.content;
    // An action's one-line outcome is looked for beside the button that asked. When the
    // live update of that very row replaced the button before the answer came, htmx
    // looks in the detached old row and finds no #flash; the page still has one. (The
    // row, summary and counts in the answer need no such help: they also come live.)
    if (row && row.id === "flash") {
      const flash = document.getElementById("flash");
      if (flash) htmx.swap(flash, row.outerHTML, { swapStyle: "outerHTML" });
      return;
    }
    const rows = document.getElementById("alert-rows");
    if (!rows || !row || !row.classList || !row.classList.contains("alert-row")) return;
    if (row.dataset.match !== "1" || (live && live.dataset.page !== "1")) {
      // One that waits and no longer belongs here (resolved meanwhile) is not shown.
      if (waiting.delete(row.id)) updateNewBar();
      return;
    }
    if (document.getElementById(row.id)) return;
    if (atTop() && !waiting.size) {
      place(row);
      updateEmpty();
    } else {
      waiting.set(row.id, row);
      updateNewBar();
    }
  });

  function updateEmpty() {
    [["alert-rows", "alerts-empty"], ["audit-rows", "audit-empty"]].forEach(function (ids) {
      const rows = document.getElementById(ids[0]);
      const empty = document.getElementById(ids[1]);
      if (rows && empty) empty.hidden = rows.children.length > 0;
    });
  }

  // -- bulk selection ---------------------------------------------------------------------
  function updateSelected() {
    const count = document.getElementById("selected-count");
    if (count) {
      count.textContent = document.querySelectorAll("input[name=alert]:checked").length + " selected";
    }
  }
  document.body.addEventListener("change", function (evt) {
    if (evt.target.id === "select-all") {
      document.querySelectorAll("input[name=alert]:not(:disabled)").forEach(function (box) {
        box.checked = evt.target.checked;
      });
    }
    updateSelected();
  });

  // -- keyboard ---------------------------------------------------------------------------
  function rowsList() {
    return Array.from(document.querySelectorAll("#alert-rows tr.alert-row"));
  }
  function typing(el) {
    return el && (el.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(el.tagName));
  }
  function press(scope, action) {
    const button = scope && scope.querySelector('[data-action="' + action + '"]');
    if (button) button.click();
  }
  document.addEventListener("keydown", function (evt) {
    if (evt.ctrlKey || evt.metaKey || evt.altKey) return;
    if (typing(evt.target)) {
      if (evt.key === "Escape") evt.target.blur();
      return;
    }
    const rows = rowsList();
    const current = document.activeElement && document.activeElement.closest
      ? document.activeElement.closest("tr.alert-row")
      : null;
    const index = current ? rows.indexOf(current) : -1;
    const actions = { a: "acknowledge", r: "resolve", s: "suppress" };
    if (evt.key === "j" || evt.key === "ArrowDown") {
      if (rows.length) { rows[Math.min(index + 1, rows.length - 1)].focus(); evt.preventDefault(); }
    } else if (evt.key === "k" || evt.key === "ArrowUp") {
      if (rows.length) { rows[Math.max(index - 1, 0)].focus(); evt.preventDefault(); }
    } else if (evt.key === "Enter" && current) {
      const link = current.querySelector("a.alert-link");
      if (link) link.click();
    } else if (evt.key === "x" && current) {
      const box = current.querySelector("input[name=alert]");
      if (box && !box.disabled) { box.checked = !box.checked; updateSelected(); }
    } else if (evt.key in actions) {
      // On the list: the focused row; on an alert's page: its action form.
      press(current || document.querySelector(".detail-actions"), actions[evt.key]);
    } else if (evt.key === "/") {
      const search = reveal(document.getElementById("filter-q"));
      if (search) { search.focus(); evt.preventDefault(); }
    } else if (evt.key === "n") {
      const notes = reveal(document.getElementById("action-notes"));
      if (notes) { notes.focus(); evt.preventDefault(); }
    }
  });

  // Pickers that load their choice at once (the System Monitor's host): inline
  // handlers would not run under the page's Content-Security-Policy.
  document.addEventListener("change", function (evt) {
    const field = evt.target;
    if (field && field.matches && field.matches("[data-submit-on-change]") && field.form) {
      field.form.submit();
    }
  });
})();

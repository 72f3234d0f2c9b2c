// The automatic log-off in the page (accounts/session_timeout.py enforces it on the server):
// a warning a minute before, "Stay signed in", and what was typed kept across signing in again.
// Configured by data- attributes on #session-timeout (accounts/_session_timeout.html).
(function () {
  "use strict";

  var DRAFT_PREFIX = "ketaclinic.draft:";
  var NOTICE =
    "We kept what you typed before you were signed out. Check it, then save.";
  var SKIPPED_TYPES = ["password", "file", "submit", "button", "reset", "image"];

  function start() {
    var config = document.getElementById("session-timeout");
    var dialog = document.getElementById("session-timeout-dialog");
    if (!config || !dialog) return;
    var data = config.dataset;
    var warningMs = Number(data.warning) * 1000;
    var draftMaxAgeMs = Number(data.draftMaxAge) * 1000;
    var keptHidden = (data.draftHidden || "").split(" ").filter(Boolean);
    var logoutPath = new URL(data.logoutUrl, location.href).pathname;
    var stayButton = dialog.querySelector("[data-action='stay']");
    var closeButton = dialog.querySelector("[data-action='close']");
    var countdowns = dialog.querySelectorAll("[data-countdown]");

    var deadline = Date.now() + Number(data.remaining) * 1000;
    var limit = "idle";
    var timer = null;
    var ticker = null;
    var leaving = false;
    var returnFocus = null;

    // --- drafts: what was typed in the page's forms, kept in this tab only -------------------

    function isLogoutForm(form) {
      return new URL(form.action, location.href).pathname === logoutPath;
    }

    function draftForms() {
      return Array.prototype.filter.call(document.forms, function (form) {
        return (form.method || "").toLowerCase() === "post" && !isLogoutForm(form) &&
          !dialog.contains(form);
      });
    }

    // Passwords, files, CSRF tokens and hidden fields (tokens, keys) are never kept; of the
    // hidden fields only the record's version is, so a stale draft is refused, not saved over.
    function keptFields(form) {
      var seen = {};
      var fields = [];
      Array.prototype.forEach.call(form.elements, function (el) {
        var type = (el.type || "").toLowerCase();
        if (!el.name || el.disabled || el.name === "csrfmiddlewaretoken") return;
        if (SKIPPED_TYPES.indexOf(type) !== -1) return;
        if (el.autocomplete === "one-time-code") return;
        if (type === "hidden" && keptHidden.indexOf(el.name) === -1) return;
        seen[el.name] = (seen[el.name] || 0) + 1;
        fields.push({ el: el, key: el.name + "#" + seen[el.name], type: type });
      });
      return fields;
    }

    function draftKey() {
      return DRAFT_PREFIX + location.pathname;
    }

    function saveDraft() {
      var changed = false;
      var forms = draftForms().map(function (form, index) {
        var values = {};
        keptFields(form).forEach(function (field) {
          var el = field.el;
          if (field.type === "checkbox" || field.type === "radio") {
            values[field.key] = el.checked;
            if (el.checked !== el.defaultChecked) changed = true;
          } else if (el.tagName === "SELECT") {
            values[field.key] = Array.prototype.map.call(el.options, function (option) {
              if (option.selected !== option.defaultSelected) changed = true;
              return option.selected;
            });
          } else {
            values[field.key] = el.value;
            if (field.type !== "hidden" && el.value !== el.defaultValue) changed = true;
          }
        });
        return { index: index, action: form.getAttribute("action") || "", values: values };
      });
      if (!changed) return;
      try {
        sessionStorage.setItem(draftKey(), JSON.stringify({
          owner: data.owner, savedAt: Date.now(), forms: forms
        }));
      } catch (error) {
        // Storage full or refused: the time-out still has to happen.
      }
    }

    function clearDrafts(all) {
      try {
        for (var i = sessionStorage.length - 1; i >= 0; i--) {
          var key = sessionStorage.key(i);
          if (key && key.indexOf(DRAFT_PREFIX) === 0 && (all || key === draftKey())) {
            sessionStorage.removeItem(key);
          }
        }
      } catch (error) {
        // No storage: nothing was kept.
      }
    }

    // Someone else signed in on this tab: what the previous person typed is not theirs to see.
    function dropOthersDrafts() {
      try {
        for (var i = sessionStorage.length - 1; i >= 0; i--) {
          var key = sessionStorage.key(i);
          if (!key || key.indexOf(DRAFT_PREFIX) !== 0) continue;
          var draft = null;
          try {
            draft = JSON.parse(sessionStorage.getItem(key) || "null");
          } catch (error) {
            draft = null;
          }
          if (!draft || draft.owner !== data.owner) sessionStorage.removeItem(key);
        }
      } catch (error) {
        // No storage: nothing was kept.
      }
    }

    function restoreDraft() {
      var draft = null;
      try {
        draft = JSON.parse(sessionStorage.getItem(draftKey()) || "null");
        sessionStorage.removeItem(draftKey());
      } catch (error) {
        return;
      }
      if (!draft || draft.owner !== data.owner || Date.now() - draft.savedAt > draftMaxAgeMs) {
        return;
      }
      var forms = draftForms();
      var restored = false;
      draft.forms.forEach(function (kept) {
        var form = forms[kept.index];
        if (!form || (form.getAttribute("action") || "") !== kept.action) return;
        keptFields(form).forEach(function (field) {
          if (!Object.prototype.hasOwnProperty.call(kept.values, field.key)) return;
          var value = kept.values[field.key];
          var el = field.el;
          if (field.type === "checkbox" || field.type === "radio") {
            el.checked = Boolean(value);
          } else if (el.tagName === "SELECT") {
            Array.prototype.forEach.call(el.options, function (option, i) {
              option.selected = Boolean(value[i]);
            });
          } else {
            el.value = value;
          }
          el.dispatchEvent(new Event("input", { bubbles: true }));
          el.dispatchEvent(new Event("change", { bubbles: true }));
          restored = true;
        });
      });
      if (restored) showNotice();
    }

    function showNotice() {
      var main = document.getElementById("main");
      if (!main) return;
      var region = document.createElement("div");
      region.className = "messages";
      region.setAttribute("role", "status");
      region.setAttribute("data-testid", "draft-restored");
      main.insertBefore(region, main.firstChild);
      // Filled once it is in the page, so screen readers announce it.
      window.setTimeout(function () {
        var message = document.createElement("p");
        message.className = "message warning";
        message.textContent = NOTICE;
        region.appendChild(message);
      }, 50);
    }

    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!(form instanceof HTMLFormElement)) return;
      if (isLogoutForm(form)) {
        clearDrafts(true);
      } else {
        clearDrafts(false);
      }
    }, true);

    // --- the clock: the server says how long is left, the page only counts down -------------

    function mmss(ms) {
      var seconds = Math.max(0, Math.ceil(ms / 1000));
      var rest = seconds % 60;
      return Math.floor(seconds / 60) + ":" + (rest < 10 ? "0" : "") + rest;
    }

    function tick() {
      var text = mmss(deadline - Date.now());
      Array.prototype.forEach.call(countdowns, function (el) { el.textContent = text; });
    }

    function showWarning() {
      dialog.querySelector("[data-limit='idle']").hidden = limit !== "idle";
      dialog.querySelector("[data-limit='absolute']").hidden = limit !== "absolute";
      // Staying signed in cannot move the absolute limit: offer to carry on instead.
      stayButton.hidden = limit !== "idle";
      closeButton.hidden = limit === "idle";
      tick();
      if (!dialog.open) {
        returnFocus = document.activeElement;
        dialog.showModal();
        if (ticker === null) ticker = window.setInterval(tick, 1000);
      }
      (limit === "idle" ? stayButton : closeButton).focus();
    }

    function hideWarning() {
      if (ticker !== null) {
        window.clearInterval(ticker);
        ticker = null;
      }
      if (dialog.open) {
        dialog.close();
        if (returnFocus && typeof returnFocus.focus === "function") returnFocus.focus();
      }
    }

    function signedOut() {
      if (leaving) return;
      leaving = true;
      window.clearTimeout(timer);
      saveDraft();
      var next = encodeURIComponent(location.pathname);
      location.assign(data.loginUrl + "?next=" + next);
    }

    function schedule(ms) {
      window.clearTimeout(timer);
      // setTimeout cannot wait longer than about 24 days.
      timer = window.setTimeout(check, Math.max(0, Math.min(ms, 2147483647)));
    }

    function follow(status) {
      if (!status.signed_in) {
        signedOut();
        return;
      }
      var remainingMs = status.remaining_seconds * 1000;
      deadline = Date.now() + remainingMs;
      limit = status.limit;
      if (remainingMs > warningMs) {
        hideWarning();
        schedule(remainingMs - warningMs);
      } else {
        showWarning();
        // Asked again when the time is up: another tab may have kept the session alive.
        schedule(remainingMs + 500);
      }
    }

    function ask(request) {
      return fetch(request.url, {
        method: request.method,
        credentials: "same-origin",
        headers: request.headers,
        cache: "no-store"
      }).then(function (response) {
        var type = response.headers.get("Content-Type") || "";
        if (response.status === 401 || type.indexOf("application/json") !== 0) {
          return { signed_in: false };
        }
        return response.json();
      });
    }

    // Asks the server before warning or signing out, so activity in another tab counts.
    function check() {
      if (leaving) return;
      ask({ url: data.statusUrl, method: "GET", headers: { Accept: "application/json" } })
        .then(follow)
        .catch(function () {
          // The server cannot be reached: past the deadline it has ended the session anyway.
          if (Date.now() >= deadline) {
            signedOut();
          } else {
            schedule(Math.min(10000, deadline - Date.now()));
          }
        });
    }

    function stay() {
      ask({
        url: data.stayUrl,
        method: "POST",
        headers: { Accept: "application/json", "X-CSRFToken": data.csrfToken }
      }).then(follow).catch(check);
    }

    stayButton.addEventListener("click", stay);
    closeButton.addEventListener("click", function () {
      hideWarning();
      schedule(deadline - Date.now() + 500);
    });
    // Escape is someone at the keyboard: they are there, so it counts as staying signed in.
    dialog.addEventListener("cancel", function (event) {
      event.preventDefault();
      if (limit === "idle") {
        stay();
      } else {
        closeButton.click();
      }
    });
    // Timers wait while a laptop sleeps or a tab is in the background; look again on return.
    document.addEventListener("visibilitychange", function () {
      if (document.visibilityState === "visible" && Date.now() >= deadline - warningMs) check();
    });

    dropOthersDrafts();
    restoreDraft();
    schedule(deadline - Date.now() - warningMs);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();

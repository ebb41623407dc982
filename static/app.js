// Hookdesk's only script besides htmx. No inline scripts anywhere: the CSP forbids them.
(function () {
  "use strict";

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }

  // htmx sends the session's CSRF token on every request it makes.
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = csrfToken();
  });

  function toast(level, message) {
    var box = document.getElementById("toasts");
    if (!box) { return; }
    var el = document.createElement("div");
    el.className = "toast toast-" + (level || "info");
    el.setAttribute("role", level === "error" ? "alert" : "status");
    el.textContent = message;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "link";
    close.setAttribute("aria-label", "Dismiss");
    close.textContent = "×";
    close.addEventListener("click", function () { el.remove(); });
    el.appendChild(close);
    box.appendChild(el);
    setTimeout(function () { el.remove(); }, level === "error" ? 10000 : 5000);
  }

  // The server sends toasts through HX-Trigger: {"hookdesk:toast": {level, message}}.
  document.addEventListener("hookdesk:toast", function (e) {
    toast(e.detail.level, e.detail.message);
  });

  // A network failure or an error response htmx would not swap still tells the user.
  document.addEventListener("htmx:sendError", function () {
    toast("error", "The server could not be reached. Check your connection and try again.");
  });

  // Copy buttons: data-copy names the element whose text goes to the clipboard.
  document.addEventListener("click", function (e) {
    var btn = e.target.closest ? e.target.closest("[data-copy]") : null;
    if (!btn) { return; }
    var src = document.querySelector(btn.dataset.copy);
    if (!src || !navigator.clipboard) { return; }
    navigator.clipboard.writeText(src.textContent.trim()).then(function () {
      btn.textContent = "Copied";
      toast("success", "Copied to the clipboard.");
    }, function () {
      toast("error", "The browser did not allow copying: select the text and copy it.");
    });
  });

  // A page answering a POST (a just-generated secret shown once) is shown under its own
  // address, so reloading it does not post again; data-page-url says which address.
  document.addEventListener("DOMContentLoaded", function () {
    var el = document.querySelector("[data-page-url]");
    if (el && window.history && window.history.replaceState) {
      window.history.replaceState(null, "", el.dataset.pageUrl);
    }
  });

  // Forms with data-confirm ask before they submit.
  document.addEventListener("submit", function (e) {
    var f = e.target;
    if (f && f.dataset && f.dataset.confirm && !window.confirm(f.dataset.confirm)) {
      e.preventDefault();
      e.stopImmediatePropagation();
    }
  }, true);
  // Tabs (webhook page): one form, one panel shown at a time. Without this script every
  // panel is shown, which still works.
  function showTab(tabs, name) {
    var root = tabs.parentElement;
    tabs.querySelectorAll("[data-tab]").forEach(function (b) {
      var on = b.dataset.tab === name;
      b.setAttribute("aria-selected", on ? "true" : "false");
      b.tabIndex = on ? 0 : -1;
    });
    root.querySelectorAll("[data-panel]").forEach(function (p) {
      p.hidden = p.dataset.panel !== name;
    });
  }
  function initTabs(scope) {
    scope.querySelectorAll("[data-tabs]").forEach(function (tabs) {
      if (tabs.dataset.ready) { return; }
      tabs.dataset.ready = "1";
      var wanted = (location.hash || "").replace("#tab-", "");
      var exists = wanted && tabs.querySelector('[data-tab="' + wanted + '"]');
      showTab(tabs, exists ? wanted : tabs.dataset.initial || "basic");
    });
    scope.querySelectorAll("[data-preset-select]").forEach(function (sel) {
      sel.dataset.prev = sel.value;
      showPresetFields(sel);
    });
    scope.querySelectorAll("[data-type-select]").forEach(function (sel) {
      showTypeFields(sel, true);
    });
  }
  // Only the selected tab is in the Tab order (roving tabindex), so the arrow keys, Home
  // and End move between tabs, as in every tab list.
  document.addEventListener("keydown", function (e) {
    var tab = e.target.closest && e.target.closest("[data-tab]");
    if (!tab) { return; }
    var tabs = tab.closest("[data-tabs]");
    var all = Array.prototype.slice.call(tabs.querySelectorAll("[data-tab]"));
    var i = all.indexOf(tab), next = null;
    if (e.key === "ArrowRight" || e.key === "ArrowDown") { next = all[(i + 1) % all.length]; }
    else if (e.key === "ArrowLeft" || e.key === "ArrowUp") { next = all[(i - 1 + all.length) % all.length]; }
    else if (e.key === "Home") { next = all[0]; }
    else if (e.key === "End") { next = all[all.length - 1]; }
    if (!next) { return; }
    e.preventDefault();
    showTab(tabs, next.dataset.tab);
    history.replaceState(null, "", "#tab-" + next.dataset.tab);
    next.focus();
  });
  document.addEventListener("click", function (e) {
    var tab = e.target.closest && e.target.closest("[data-tab]");
    if (tab) {
      showTab(tab.closest("[data-tabs]"), tab.dataset.tab);
      history.replaceState(null, "", "#tab-" + tab.dataset.tab);
      return;
    }
    // Repeated rows (parameters, conditions, …) are removed in place; the form posts
    // what remains.
    var remove = e.target.closest && e.target.closest("[data-remove-row]");
    if (remove) {
      var row = remove.closest("[data-row]");
      var form = remove.closest("form");
      if (row) { row.remove(); }
      if (form) { form.dispatchEvent(new Event("input", { bubbles: true })); }
    }
  });
  // Only the chosen preset's fields are shown.
  function showPresetFields(select) {
    var form = select.closest("form");
    if (!form) { return; }
    form.querySelectorAll("[data-preset]").forEach(function (fs) {
      fs.hidden = fs.dataset.preset !== select.value;
    });
  }
  // Switching preset carries what was typed into the new preset's field of the same
  // name (text, title, button label, link) when that one is still untouched.
  function carryPresetFields(select) {
    var form = select.closest("form"), prev = select.dataset.prev;
    select.dataset.prev = select.value;
    if (!form || !prev || prev === select.value) { return; }
    var from = form.querySelector('[data-preset="' + prev + '"]');
    var to = form.querySelector('[data-preset="' + select.value + '"]');
    if (!from || !to) { return; }
    from.querySelectorAll("input[name=preset_value], textarea[name=preset_value]").forEach(function (src) {
      var key = src.id.slice(("pf-" + prev + "-").length);
      var dst = document.getElementById("pf-" + select.value + "-" + key);
      if (dst && dst.tagName !== "SELECT" && src.value !== src.defaultValue && dst.value === dst.defaultValue) {
        dst.value = src.value;
      }
    });
  }
  // A form field's inputs that belong to one type (a single select's options, a
  // number's decimal places) are shown and sent only for that type; on loading, one
  // marked wrong by the last save stays in sight. Without this script all are shown.
  function showTypeFields(select, loading) {
    var form = select.closest("form");
    if (!form) { return; }
    form.querySelectorAll("[data-for-type]").forEach(function (el) {
      var on = el.dataset.forType === select.value ||
        (loading && el.querySelector(".field-error") !== null);
      el.hidden = !on;
      el.querySelectorAll("input, textarea, select").forEach(function (i) { i.disabled = !on; });
    });
  }
  document.addEventListener("change", function (e) {
    if (e.target.matches && e.target.matches("[data-preset-select]")) {
      carryPresetFields(e.target);
      showPresetFields(e.target);
    }
    if (e.target.matches && e.target.matches("[data-type-select]")) {
      showTypeFields(e.target, false);
    }
  });
  // A field marked wrong by the last save is unmarked as soon as it is edited; its tab
  // loses its marker when none of its fields is marked, and the banner goes with the
  // last mark. A test result belongs to the form as it was: an edit clears it.
  document.addEventListener("input", function (e) {
    var el = e.target, form = el.closest && el.closest("#webhook-form");
    if (!form) { return; }
    var out = document.getElementById("test-output");
    if (out && out.childElementCount) { out.replaceChildren(); }
    if (el.getAttribute("aria-invalid") !== "true") { return; }
    el.removeAttribute("aria-invalid");
    var field = el.closest(".field");
    if (field) { field.querySelectorAll(".field-error").forEach(function (p) { p.hidden = true; }); }
    var panel = el.closest("[data-panel]");
    if (panel && !panel.querySelector('[aria-invalid="true"]')) {
      var tab = document.getElementById("tab-" + panel.dataset.panel);
      if (tab && tab.classList.contains("tab-error")) {
        tab.classList.remove("tab-error");
        tab.querySelectorAll("span").forEach(function (s) { s.remove(); });
      }
    }
    if (!form.querySelector('[aria-invalid="true"]')) {
      var banner = document.getElementById("save-errors");
      if (banner) { banner.remove(); }
    }
  });
  // The fire dialog (ticket page): htmx fills the <dialog>; this opens it as a modal and
  // folds the Actions menu away. Without this script the menu's links open a page.
  document.addEventListener("htmx:afterSwap", function (e) {
    var t = e.detail.target;
    if (!t || t.tagName !== "DIALOG") { return; }
    document.querySelectorAll("details.menu[open]").forEach(function (d) { d.open = false; });
    if (!t.open && typeof t.showModal === "function") { t.showModal(); }
  });
  document.addEventListener("DOMContentLoaded", function () { initTabs(document); });
  document.addEventListener("htmx:afterSettle", function (e) { initTabs(e.target); });
  // The menu's groups: opening one closes the others; a click elsewhere or Escape
  // closes them (Escape puts the focus back on the group's name).
  function closeGroups(except) {
    document.querySelectorAll("details[data-nav-group][open]").forEach(function (d) {
      if (d !== except) { d.open = false; }
    });
  }
  document.addEventListener("toggle", function (e) {
    var d = e.target;
    if (d.matches && d.matches("details[data-nav-group]") && d.open) { closeGroups(d); }
  }, true);
  document.addEventListener("click", function (e) {
    if (!(e.target.closest && e.target.closest("details[data-nav-group]"))) { closeGroups(null); }
  });
  document.addEventListener("keydown", function (e) {
    if (e.key !== "Escape") { return; }
    var open = document.querySelector("details[data-nav-group][open]");
    if (open) { open.open = false; open.querySelector("summary").focus(); }
  });
})();

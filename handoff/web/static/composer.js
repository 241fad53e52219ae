/* The composer's helpers on a conversation page:
   - canned replies: `/` at the start of the reply box opens the list of the replies usable here
     (filled in for this conversation by the API); typing narrows it, arrows move, Enter or a click
     inserts, Esc closes;
   - templates: while the 24-hour window is closed and the rep owns the conversation, the approved
     templates (GET /api/templates) with a field per parameter and a live preview; sending goes
     through the ordinary reply endpoint with `type: template`. */
(function () {
  "use strict";

  const composer = document.getElementById("composer");
  const text = document.getElementById("composer-text");
  const menu = document.getElementById("canned-menu");
  const picker = document.getElementById("template-picker");
  if (!composer || !text || !menu || !picker) return;
  const conversationId = composer.dataset.conversation;

  function api(method, path, payload) { return window.handoffApi(method, path, payload); }

  function notify(message, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = document.createElement("div");
    item.className = "toast " + (kind || "info");
    item.textContent = message;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, kind === "error" ? 8000 : 5000);
  }

  function refresh() {
    if (window.htmx) window.htmx.trigger(document.body, "handoffRefresh");
  }

  // -- canned replies ---------------------------------------------------------------------------
  let replies = null; // loaded on the first `/`
  let shown = [];
  let active = 0;

  async function loadReplies() {
    if (replies === null) {
      try { replies = await api("GET", "/api/conversations/" + conversationId + "/canned-replies"); }
      catch (e) { replies = []; notify(e.message, "error"); }
    }
    return replies;
  }

  function closeMenu() {
    menu.hidden = true;
    menu.innerHTML = "";
    shown = [];
    text.removeAttribute("aria-activedescendant");
  }

  function drawMenu() {
    menu.innerHTML = "";
    if (!shown.length) {
      const empty = document.createElement("li");
      empty.className = "muted empty";
      empty.textContent = "No canned reply starts with that.";
      menu.appendChild(empty);
    }
    shown.forEach(function (reply, index) {
      const item = document.createElement("li");
      item.id = "canned-" + reply.id;
      item.setAttribute("role", "option");
      item.dataset.shortcut = reply.shortcut;
      item.setAttribute("aria-selected", index === active ? "true" : "false");
      const head = document.createElement("strong");
      head.textContent = "/" + reply.shortcut + " ";
      const title = document.createElement("span");
      title.textContent = reply.title;
      const body = document.createElement("span");
      body.className = "muted filled";
      body.textContent = reply.filled;
      item.append(head, title, body);
      item.addEventListener("mousedown", function (event) { event.preventDefault(); choose(index); });
      menu.appendChild(item);
    });
    if (shown[active]) text.setAttribute("aria-activedescendant", "canned-" + shown[active].id);
    menu.hidden = false;
  }

  async function onInput() {
    const value = text.value;
    const match = /^\/([a-z0-9_-]*)$/i.exec(value);
    if (!match) { closeMenu(); return; }
    const prefix = match[1].toLowerCase();
    const all = await loadReplies();
    if (text.value !== value) return; // typed on meanwhile
    shown = all.filter(function (r) {
      return r.shortcut.indexOf(prefix) === 0 || r.title.toLowerCase().indexOf(prefix) >= 0;
    });
    active = 0;
    drawMenu();
  }

  function choose(index) {
    const reply = shown[index];
    if (!reply) return;
    text.value = reply.filled;
    closeMenu();
    text.focus();
    text.setSelectionRange(text.value.length, text.value.length);
    text.dispatchEvent(new CustomEvent("handoff-canned", { bubbles: true, detail: { shortcut: reply.shortcut } }));
  }

  text.addEventListener("input", onInput);
  text.addEventListener("blur", function () { setTimeout(closeMenu, 150); });
  text.addEventListener("keydown", function (event) {
    if (menu.hidden) return;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      if (!shown.length) return;
      active = (active + (event.key === "ArrowDown" ? 1 : shown.length - 1)) % shown.length;
      drawMenu();
    } else if (event.key === "Enter" && !event.ctrlKey && !event.metaKey) {
      event.preventDefault();
      event.stopPropagation();
      choose(active);
    } else if (event.key === "Escape") {
      event.preventDefault();
      event.stopPropagation();
      closeMenu();
    }
  });

  // -- templates while the window is closed -----------------------------------------------------
  const choice = document.getElementById("template-choice");
  const fields = document.getElementById("template-fields");
  const preview = document.getElementById("template-preview");
  const form = document.getElementById("template-form");
  let catalogue = null;

  function state() { return document.getElementById("state"); }

  function templatesWanted() {
    const s = state();
    return Boolean(s) && composer.dataset.mode === "reply" && s.dataset.canWrite === "1" && s.dataset.windowOpen !== "1";
  }

  async function loadCatalogue() {
    if (catalogue !== null) return;
    try { catalogue = await api("GET", "/api/templates"); }
    catch (e) { catalogue = []; notify(e.message, "error"); }
    choice.innerHTML = "";
    if (!catalogue.length) {
      const none = document.createElement("option");
      none.value = "";
      none.textContent = "No approved templates are configured";
      choice.appendChild(none);
    }
    catalogue.forEach(function (t) {
      t.languages.forEach(function (language) {
        const option = document.createElement("option");
        option.value = t.name + "|" + language;
        option.textContent = t.name + " (" + language + ")" + (t.description ? " — " + t.description : "");
        choice.appendChild(option);
      });
    });
    drawFields();
  }

  function selected() {
    const [name, language] = (choice.value || "|").split("|");
    const template = (catalogue || []).find(function (t) { return t.name === name; });
    return template ? { template: template, language: language } : null;
  }

  function values() {
    const out = {};
    fields.querySelectorAll("input[data-parameter]").forEach(function (input) { out[input.dataset.parameter] = input.value; });
    return out;
  }

  function drawPreview() {
    const chosen = selected();
    if (!chosen) { preview.textContent = ""; return; }
    const given = values();
    preview.textContent = chosen.template.bodies[chosen.language].replace(/\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g, function (whole, name) {
      return given[name] ? given[name] : whole;
    });
  }

  function drawFields() {
    fields.innerHTML = "";
    const chosen = selected();
    if (chosen) {
      chosen.template.parameters.forEach(function (parameter) {
        const label = document.createElement("label");
        label.textContent = "{{" + parameter + "}} ";
        const input = document.createElement("input");
        input.dataset.parameter = parameter;
        input.required = true;
        input.maxLength = 1024;
        input.addEventListener("input", drawPreview);
        label.appendChild(input);
        fields.appendChild(label);
      });
    }
    drawPreview();
  }

  choice.addEventListener("change", drawFields);
  form.addEventListener("submit", async function (event) {
    event.preventDefault();
    const chosen = selected();
    if (!chosen) return;
    const given = values();
    const parameters = chosen.template.positional
      ? chosen.template.parameters.map(function (p) { return given[p]; })
      : given;
    try {
      const sent = await api("POST", "/api/conversations/" + conversationId + "/messages", {
        type: "template", name: chosen.template.name, language: chosen.language, parameters: parameters,
      });
      if (sent && sent.status === "failed") notify("Not delivered: see the message", "error");
      else notify("Template sent", "info");
      fields.querySelectorAll("input").forEach(function (input) { input.value = ""; });
      drawPreview();
      refresh();
    } catch (e) { notify(e.message, "error"); }
  });

  function update() {
    const wanted = templatesWanted();
    picker.hidden = !wanted;
    if (wanted) loadCatalogue();
  }
  composer.querySelectorAll(".composer-tabs [data-mode]").forEach(function (tab) {
    tab.addEventListener("click", function () { setTimeout(update, 0); });
  });
  document.addEventListener("keydown", function () { setTimeout(update, 0); });
  document.body.addEventListener("htmx:afterSwap", update);
  update();
})();

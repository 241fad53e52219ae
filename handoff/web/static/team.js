/* The team pages (reps, canned replies): each form and button is a call to the JSON API through
   the page's `handoffApi` (session cookie + CSRF token), then the page reloads or shows the result. */
(function () {
  "use strict";

  // Each cell carries its column's name, which a phone shows beside it (team.css).
  document.querySelectorAll("table.team-table").forEach(function (table) {
    const heads = Array.prototype.map.call(table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });
    table.querySelectorAll("tbody tr").forEach(function (row) {
      Array.prototype.forEach.call(row.children, function (cell, i) {
        if (!cell.dataset.label && heads[i]) cell.dataset.label = heads[i];
      });
    });
  });

  function names(form, attribute) {
    return (form.dataset[attribute] || "").split(" ").filter(Boolean);
  }

  function payloadOf(form) {
    const data = new FormData(form);
    const lists = names(form, "lists");
    const numbers = names(form, "numbers");
    const optional = names(form, "optional");
    const nullable = names(form, "nullable");
    const payload = {};
    lists.forEach(function (name) { payload[name] = data.getAll(name).map(String); });
    data.forEach(function (value, name) {
      if (lists.indexOf(name) >= 0) return;
      const text = String(value);
      if (optional.indexOf(name) >= 0 && text === "") return;
      if (nullable.indexOf(name) >= 0 && text === "") { payload[name] = null; return; }
      payload[name] = numbers.indexOf(name) >= 0 ? parseInt(text, 10) : text;
    });
    return payload;
  }

  function notify(text, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = document.createElement("div");
    item.className = "toast " + (kind || "info");
    item.textContent = text;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, kind === "error" ? 8000 : 5000);
  }

  function showToken(repId, token, replaced) {
    const box = document.getElementById("token-box");
    if (!box) return;
    box.querySelector(".for").textContent = repId;
    box.querySelector(".replaced").hidden = !replaced;  // only when there was one to replace
    document.getElementById("issued-token").textContent = token;
    box.hidden = false;
    box.scrollIntoView({ block: "nearest" });
    const row = document.querySelector('tr[data-rep="' + repId + '"]');
    if (row) row.classList.remove("disabled");
  }

  async function done(element, result) {
    if (element.dataset.done === "token" && result && result.token) {
      showToken(result.rep_id, result.token, element.dataset.hadToken === "1");
      return;
    }
    window.location.reload();
  }

  // What an erasure removed, in words ("1 conversation, 12 messages, 3 raw deliveries"); the kinds
  // of which there were none are left out.
  const ERASED_KINDS = [
    ["conversations", "conversation", "conversations"], ["messages", "message", "messages"],
    ["media", "file", "files"], ["notes", "note", "notes"], ["events", "log event", "log events"],
    ["statuses", "delivery status", "delivery statuses"], ["raw_deliveries", "raw delivery", "raw deliveries"],
    ["inbox_items", "inbox item", "inbox items"],
  ];
  function erasedWords(erased) {
    const parts = ERASED_KINDS.filter(([key]) => erased[key]).map(
      ([key, one, many]) => erased[key] + " " + (erased[key] === 1 ? one : many));
    return parts.join(", ") || "nothing was left to erase";
  }

  // Erasing a customer: the number typed (spaces and dashes as people write them) goes in the path.
  document.addEventListener("submit", async function (event) {
    const form = event.target.closest("form[data-erase]");
    if (!form || !window.handoffApi) return;
    event.preventDefault();
    const customer = String(new FormData(form).get("customer") || "").replace(/[\s()-]/g, "");
    if (!window.confirm("Erase everything about " + customer + "? This cannot be undone.")) return;
    const result = document.getElementById("erase-result");
    result.hidden = true;  // an earlier erase's result is not this one's
    try {
      const erased = await window.handoffApi("DELETE", "/api/admin/customers/" + encodeURIComponent(customer));
      result.textContent = "Erased: " + erasedWords(erased) + ".";
      result.hidden = false;
      form.reset();
    } catch (e) { notify(e.message, "error"); }
  });

  document.addEventListener("submit", async function (event) {
    const form = event.target.closest("form[data-api]");
    if (!form || !window.handoffApi) return;
    event.preventDefault();
    try {
      const result = await window.handoffApi(form.dataset.api, form.dataset.path, payloadOf(form));
      await done(form, result);
    } catch (e) { notify(e.message, "error"); }
  });

  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-api-click]");
    if (button && window.handoffApi) {
      event.preventDefault();
      if (button.dataset.confirm && !window.confirm(button.dataset.confirm)) return;
      try {
        const result = await window.handoffApi(button.dataset.apiClick, button.dataset.path);
        await done(button, result);
      } catch (e) { notify(e.message, "error"); }
    }
    if (event.target.closest("#token-done")) window.location.reload();
  });
})();

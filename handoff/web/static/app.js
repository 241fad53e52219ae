/* The workspace's behaviour: the live stream, alerts, presence and heartbeats, the composer and the
   conversation actions (all of them calls to the JSON API with the session's CSRF token), and the
   keyboard shortcuts. No build step; htmx reloads the server-rendered fragments. */
(function () {
  "use strict";

  const body = document.body;
  const me = body.dataset.rep;
  if (!me) return; // the sign-in page
  const csrfMeta = document.querySelector('meta[name="csrf-token"]');
  const csrf = csrfMeta ? csrfMeta.content : "";

  // Signing out drops every unsent text this browser kept (see the composer's drafts): the next
  // person to sign in here must not find it.
  let signingOut = false;
  const signOut = document.getElementById("sign-out");
  if (signOut && signOut.form) {
    signOut.form.addEventListener("submit", function () {
      signingOut = true;
      try {
        Object.keys(localStorage)
          .filter(function (key) { return key.indexOf("handoff-draft-") === 0; })
          .forEach(function (key) { localStorage.removeItem(key); });
      } catch (e) { /* storage unavailable: nothing was kept */ }
    });
  }

  // Observable by tests and by integrations running in the page.
  window.__handoffAlerts = [];
  window.__handoffStream = { opened: 0, events: [] };

  // -- small helpers ------------------------------------------------------------------------------
  let atEnd = true;  // the rep sees the transcript's end (`scrollTimeline`)
  function toast(text, kind) {
    const box = document.getElementById("toasts");
    if (!box) return;
    const item = document.createElement("div");
    item.className = "toast " + (kind || "info");
    item.textContent = text;
    box.appendChild(item);
    setTimeout(function () { item.remove(); }, kind === "error" ? 8000 : 5000);
  }

  try {
    const carried = sessionStorage.getItem("handoff-toast");
    if (carried) {
      sessionStorage.removeItem("handoff-toast");
      document.addEventListener("DOMContentLoaded", function () { toast(carried, "info"); });
    }
  } catch (e) { /* storage unavailable */ }

  // The API's refusal as a person reads it: "body.text: unknown placeholder(s) ..." names the field
  // ("text: ..."), not where it sat in the request.
  function problem(data, response) {
    if (data && data.detail) {
      const said = Array.isArray(data.detail) ? data.detail.join("; ") : String(data.detail);
      return said.replace(/(^|; )(?:body|query|path)\./g, "$1");
    }
    return response.status + " " + response.statusText;
  }

  async function api(method, path, payload) {
    const response = await fetch(path, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRF-Token": csrf },
      body: payload === undefined ? undefined : JSON.stringify(payload),
    });
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (response.status === 401) {  // the session ended: the composer's text is kept (pagehide)
      window.location.href = "/login?expired=1&next=" + encodeURIComponent(window.location.pathname);
    }
    if (!response.ok) {
      const error = new Error(problem(data, response));
      error.status = response.status;
      throw error;
    }
    return data;
  }
  window.handoffApi = api;

  // At most one reload of what the page shows every half second: a busy department's events come
  // in bursts, and one reload after the burst shows all of it.
  let refreshedAt = 0;
  let refreshLater = null;
  function refresh() {
    if (!window.htmx || refreshLater) return;
    const wait = refreshedAt + 500 - Date.now();
    refreshLater = setTimeout(function () {
      refreshLater = null;
      refreshedAt = Date.now();
      window.htmx.trigger(body, "handoffRefresh");
    }, Math.max(0, wait));
  }

  // -- alerts: a sound and a desktop notification -------------------------------------------------
  let audio = null;
  function beep() {
    try {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return false;
      audio = audio || new Context();
      const osc = audio.createOscillator();
      const gain = audio.createGain();
      osc.frequency.value = 880;
      gain.gain.value = 0.08;
      osc.connect(gain).connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.18);
      return true;
    } catch (e) {
      return false;
    }
  }

  // One action can log two events for the same rep (a reassignment: `assigned` and `reassigned`):
  // one alert per kind and conversation within a few seconds.
  const alerted = {};
  function alertRep(kind, event, text) {
    const key = kind + ":" + event.conversation_id;
    if (alerted[key] && Date.now() - alerted[key] < 5000) return;
    alerted[key] = Date.now();
    const entry = {
      kind: kind,
      conversation_id: event.conversation_id,
      event_id: event.id,
      text: text,
      sound: beep(),
      notification: false,
      at: new Date().toISOString(),
    };
    if ("Notification" in window && Notification.permission === "granted") {
      try {
        const note = new Notification("Handoff", { body: text, tag: kind + ":" + event.conversation_id });
        note.onclick = function () { window.focus(); window.location.href = "/conversations/" + event.conversation_id; };
        entry.notification = true;
      } catch (e) { entry.notification = false; }
    }
    window.__handoffAlerts.push(entry);
    body.dispatchEvent(new CustomEvent("handoff-alert", { detail: entry }));
    toast(text, "alert");
  }

  // The conversation as an alert names it: the customer ("Ana Clarke", or their number) and its id.
  function named(customer, id) { return customer ? customer + " (#" + id + ")" : "#" + id; }
  function who(event) { return named(event.customer, event.conversation_id); }

  function onStreamEvent(type, event) {
    const details = event.details || {};
    window.__handoffStream.events.push({ type: type, id: event.id, conversation_id: event.conversation_id });
    if ((type === "assigned" && details.rep_id === me) || (type === "reassigned" && details.to_rep_id === me)) {
      alertRep("assigned", event, who(event) + " was assigned to you");
    } else if (type === "message_received" && event.owner === "human" && event.assignee_id === me) {
      // Not for the conversation the rep is looking at: the message appears in front of them.
      const watching = String(conversationId) === String(event.conversation_id) && document.visibilityState === "visible";
      if (!watching) alertRep("customer_message", event, "New message from " + who(event));
    } else if (type === "send_failed" && event.owner === "human" && event.assignee_id === me) {
      // A reply that did not reach the customer, told wherever the rep is: they may have moved on.
      const watching = String(conversationId) === String(event.conversation_id) && document.visibilityState === "visible";
      if (!watching) alertRep("send_failed", event, "Not delivered to " + who(event) + ": " + (details.reason || "WhatsApp refused it"));
    } else if (type === "mentioned" && details.rep_id === me) {
      alertRep("mention", event, (details.author_name || details.author || "Someone") + " mentioned you: " + (details.text || ""));
    } else if (type === "sla_warning" && details.rep_id === me) {
      const due = details.due_at ? new Date(details.due_at) : null;
      const when = due && !isNaN(due) ? " at " + due.toISOString().slice(11, 16) + " UTC" : " soon";
      alertRep("sla_warning", event, "Reply to " + who(event) + ": it is taken back from you" + when + " if the customer has no answer by then");
    } else if (type === "assignment_revoked" && details.revoked_rep_id === me) {
      const why = { sla: "no reply within the team's response time", offline: "you were offline" }[details.reason] || "reassigned";
      alertRep("taken_away", event, who(event) + " was taken back from you (" + why + ")");
    } else if ((type === "reassigned" || type === "transferred") && details.from_rep_id === me && details.actor !== me) {
      alertRep("taken_away", event, who(event) + " was " + type + " by " + (details.actor_name || details.actor || "a lead"));
    }
    if (gone && String(event.conversation_id) === String(conversationId)) goneHint();
    refresh();
  }

  // -- the live stream (EventSource reconnects by itself and sends Last-Event-ID) ------------------
  const types = (body.dataset.streamTypes || "").split(" ").filter(Boolean);
  // The last event this page knows of: at first the newest one when the page was rendered, so an
  // event between the render and the connection is replayed, not lost; then the last one received.
  let seen = body.dataset.streamAfter || "";
  function connect() {
    const source = new EventSource("/api/stream" + (seen !== "" ? "?after=" + encodeURIComponent(seen) : ""));
    source.addEventListener("ready", function () {
      window.__handoffStream.opened += 1;
      body.dataset.stream = "live";
      // A fresh connection (not a resume) may have missed changes: reload what is shown.
      if (window.__handoffStream.opened > 1) refresh();
    });
    types.forEach(function (type) {
      source.addEventListener(type, function (message) {
        if (message.lastEventId) seen = message.lastEventId;
        try { onStreamEvent(type, JSON.parse(message.data)); } catch (e) { /* a malformed event */ }
      });
    });
    source.onerror = function () {
      body.dataset.stream = "reconnecting";
      if (source.readyState === EventSource.CLOSED) {
        // Refused: signed out or disabled (then `api` sends the page to sign in, saying the session
        // ended), or the server is restarting (then try again later with a new connection).
        api("GET", "/api/me").then(function () { setTimeout(connect, 5000); }, function () { setTimeout(connect, 5000); });
      }
    };
  }
  connect();

  // -- presence and heartbeats ----------------------------------------------------------------------
  const presence = document.getElementById("presence");
  const offlineBanner = document.getElementById("offline-banner");
  function showPresence(value) {
    if (presence && value && presence.value !== value) presence.value = value;
    if (offlineBanner && value) offlineBanner.hidden = value !== "offline";
  }
  async function setPresence(value) {
    try {
      const rep = await api("POST", "/api/me/presence", { presence: value });
      showPresence(rep.presence);
      toast("You are " + rep.presence, "info");
      refresh();
    } catch (e) { toast(e.message, "error"); }
  }
  if (presence) {
    presence.addEventListener("change", function () { setPresence(presence.value); });
  }
  const goOnline = document.getElementById("go-online");
  if (goOnline) goOnline.addEventListener("click", function () { setPresence("online"); });
  async function heartbeat() {
    try {
      const rep = await api("POST", "/api/me/heartbeat");
      if (rep && rep.presence) showPresence(rep.presence);
    } catch (e) { /* the next beat tries again */ }
  }
  const every = Math.max(5, parseInt(body.dataset.heartbeat || "30", 10)) * 1000;
  heartbeat();
  setInterval(heartbeat, every);

  const enableAlerts = document.getElementById("enable-alerts");
  if (enableAlerts) {
    if (!("Notification" in window)) enableAlerts.hidden = true;
    enableAlerts.addEventListener("click", function () {
      beep(); // a user gesture also unlocks the sound
      if ("Notification" in window) {
        Notification.requestPermission().then(function (answer) { toast("Desktop notifications: " + answer, "info"); });
      }
    });
  }

  // Filters apply as soon as they change (no inline handlers: the pages' CSP forbids them).
  document.addEventListener("change", function (event) {
    const field = event.target.closest("[data-autosubmit]");
    if (field && field.form) field.form.submit();
  });

  // -- taking a waiting conversation ----------------------------------------------------------------
  async function claim(id, customer) {
    try {
      await api("POST", "/api/conversations/" + id + "/claim");
      toast("It is yours now", "info");
      if (body.dataset.page === "conversation") refresh();
      else window.location.href = "/conversations/" + id;
    } catch (e) {
      // Taken by a colleague a moment before (theirs to see now, so "not found" for a rep). A 409
      // says why it cannot be taken (offline, at capacity, no longer waiting): shown as it is.
      if (e.status === 404) {
        toast("Someone else took " + named(customer, id) + " first", "info");
        refresh();
      } else {
        toast(e.message, "error");
      }
    }
  }
  document.addEventListener("click", function (event) {
    const button = event.target.closest("[data-claim]");
    if (button) { event.preventDefault(); claim(button.dataset.claim, button.dataset.customer); }
  });

  // A mention on a conversation the rep cannot open: read here, then marked read.
  document.addEventListener("click", async function (event) {
    const button = event.target.closest("[data-read-mentions]");
    if (!button) return;
    try {
      await api("POST", "/api/me/mentions/read", { conversation_id: Number(button.dataset.readMentions) });
      refresh();
    } catch (e) { toast(e.message, "error"); }
  });

  // -- the conversation page --------------------------------------------------------------------------
  const composer = document.getElementById("composer");
  const conversationId = composer ? composer.dataset.conversation : null;
  let gone = false;  // the conversation was taken from this page (its fragments answer 404)

  function composerState() {
    if (!composer) return;
    const state = document.getElementById("state");
    const text = document.getElementById("composer-text");
    const send = document.getElementById("composer-send");
    const hint = document.getElementById("composer-hint");
    const mode = composer.dataset.mode;
    const canWrite = state && state.dataset.canWrite === "1";
    const windowOpen = state && state.dataset.windowOpen === "1";
    let blocked = "";
    if (mode === "reply" && !canWrite) {
      const owner = state ? state.dataset.owner : "";
      blocked = owner === "queued"
        ? (document.getElementById("take-it")
          ? "Take it to reply. You can still add a private note."
          : "Waiting for a member of its team to take it (a lead or an admin can reassign it). You can still add a private note.")
        : owner === "closed"
          ? "This conversation is resolved: the customer's next message opens a new one. You can still add a private note."
          : owner === "bot"
            ? "The bot has this conversation. You can still add a private note."
            : "Only the rep who owns this conversation can write to the customer. You can still add a private note.";
    } else if (mode === "reply" && !windowOpen) {
      blocked = "The 24-hour window is closed: only an approved template can be sent now.";
    }
    text.disabled = Boolean(blocked);
    send.disabled = Boolean(blocked);
    const attach = document.getElementById("composer-attach");
    if (attach) {
      attach.hidden = mode === "note" || Boolean(blocked);
      document.getElementById("composer-file").disabled = attach.hidden;
    }
    text.placeholder = mode === "note" ? "Private note for the team (@name to notify someone)…" : "Write to the customer…";
    hint.textContent = blocked || (mode === "note" ? "Never sent to the customer." : (windowOpen ? "Window open until " + state.dataset.windowCloses : ""));
    // Taken away: a later swap (the WhatsApp bar, a refresh already under way) keeps saying why.
    if (gone && mode === "reply") goneHint();
    composer.classList.toggle("note-mode", mode === "note");
  }

  function setMode(mode) {
    if (!composer) return;
    composer.dataset.mode = mode;
    composer.querySelectorAll(".composer-tabs [data-mode]").forEach(function (tab) {
      tab.setAttribute("aria-selected", tab.dataset.mode === mode ? "true" : "false");
    });
    composerState();
    document.getElementById("composer-text").focus();
  }

  // What the rep was typing survives leaving the page (a session that ended, a reload, a click
  // elsewhere): kept per rep and conversation in this browser, put back when they return, dropped
  // once sent, and all dropped when they sign out (the next person at this browser never sees it).
  const draftKey = "handoff-draft-" + me + "-" + conversationId;
  function keepDraft() {
    const text = document.getElementById("composer-text");
    if (!composer || !text || signingOut) return;
    try {
      if (text.value.trim()) {
        localStorage.setItem(draftKey, JSON.stringify({ text: text.value, mode: composer.dataset.mode }));
      } else {
        localStorage.removeItem(draftKey);
      }
    } catch (e) { /* storage unavailable: nothing kept */ }
  }
  function restoreDraft() {
    const text = document.getElementById("composer-text");
    let draft = null;
    try { draft = JSON.parse(localStorage.getItem(draftKey) || "null"); } catch (e) { draft = null; }
    if (!draft || !draft.text || text.value) return;
    if (draft.mode === "note" || draft.mode === "reply") composer.dataset.mode = draft.mode;
    text.value = draft.text;
    toast("Your unsent text is back in the box.", "info");
  }

  if (composer) {
    window.addEventListener("pagehide", keepDraft);
    restoreDraft();
    composer.querySelectorAll(".composer-tabs [data-mode]").forEach(function (tab) {
      tab.addEventListener("click", function () { setMode(tab.dataset.mode); });
    });
    const fileInput = document.getElementById("composer-file");
    const fileName = document.getElementById("composer-file-name");
    if (fileInput) {
      fileInput.addEventListener("change", function () {
        fileName.textContent = fileInput.files.length ? fileInput.files[0].name : "Attach";
      });
    }
    composer.addEventListener("submit", async function (event) {
      event.preventDefault();
      const text = document.getElementById("composer-text");
      const value = text.value.trim();
      const note = composer.dataset.mode === "note";
      const limit = Number(text.dataset.limit || 4096);
      if (value.length > limit) {
        // WhatsApp takes 4,096 characters a message: nothing is cut, the rep splits it.
        toast("Too long to send: " + value.length.toLocaleString() + " characters, WhatsApp takes " + limit.toLocaleString() + ". Split it into two messages.", "error");
        return;
      }
      const file = !note && fileInput && fileInput.files.length ? fileInput.files[0] : null;
      if (!value && !file) return;
      try {
        if (file) {
          // An image or a document, with the text as its caption (multipart, same API as any client).
          const form = new FormData();
          form.append("file", file, file.name);
          if (value) form.append("caption", value);
          const response = await fetch("/api/conversations/" + conversationId + "/media", {
            method: "POST", credentials: "same-origin", body: form,
            headers: { Accept: "application/json", "X-CSRF-Token": csrf },
          });
          let data = null;
          try { data = await response.json(); } catch (e) { data = null; }
          if (!response.ok) throw new Error(problem(data, response));
          // Answered at once with the message pending, like a text reply: uploaded and sent in the
          // background, and sent or failed reaches the timeline live.
          fileInput.value = "";
          fileName.textContent = "Attach";
        } else if (note) {
          const added = await api("POST", "/api/conversations/" + conversationId + "/notes", { text: value });
          const at = function (ids) { return ids.map(function (id) { return "@" + id; }).join(", "); };
          if (added && added.unknown_mentions && added.unknown_mentions.length) {
            toast("No one is called " + at(added.unknown_mentions) + ": nobody was notified for it", "error");
          }
          if (added && added.mentions_without_access && added.mentions_without_access.length) {
            toast(at(added.mentions_without_access) + " got the note but cannot open this conversation", "info");
          }
        } else {
          // Answered at once with the message pending; sent or failed reaches the timeline live.
          await api("POST", "/api/conversations/" + conversationId + "/messages", { type: "text", text: value });
        }
        text.value = "";
        try { localStorage.removeItem(draftKey); } catch (e) { /* nothing kept */ }
        refresh();
      } catch (e) {
        if (!note && (e.status === 403 || e.status === 404)) {
          // Reassigned, transferred or taken back while the rep was typing (the live stream may
          // have been down): said plainly, the text kept, and the page brought up to date.
          toast("Not sent: this conversation is no longer yours to answer (reassigned or moved). Your text is still in the box.", "error");
          refresh();
        } else {
          toast(e.message, "error");
        }
      }
    });
    const count = document.getElementById("composer-count");
    const typed = document.getElementById("composer-text");
    function counted() {  // shown near WhatsApp's limit, so a long paste is not cut unseen
      const limit = Number(typed.dataset.limit || 4096);
      const n = typed.value.length;
      count.textContent = n > limit - 500 ? n.toLocaleString() + " / " + limit.toLocaleString() : "";
      count.classList.toggle("over", n > limit);
    }
    if (count) typed.addEventListener("input", counted);
    document.getElementById("composer-text").addEventListener("keydown", function (event) {
      if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
    composerState();
    scrollTimeline();
  }

  // How far the transcript's end is below what the rep can see: of the timeline's own box on a
  // wide screen; on a phone, where the page itself scrolls, of the screen above the composer.
  function timelineEnd(timeline) {
    if (getComputedStyle(timeline).overflowY !== "visible") {
      return timeline.scrollHeight - timeline.clientHeight - timeline.scrollTop;
    }
    const form = document.getElementById("composer");
    return timeline.getBoundingClientRect().bottom - (window.innerHeight - (form ? form.offsetHeight : 0));
  }
  // To the latest message: when the page opens, and after a live update if the rep was at the end
  // (not while they read further up; `atEnd` is set before each swap of the timeline).
  function scrollTimeline() {
    const timeline = document.getElementById("timeline");
    if (!timeline || !atEnd) return;
    if (getComputedStyle(timeline).overflowY !== "visible") timeline.scrollTop = timeline.scrollHeight;
    else window.scrollBy(0, timelineEnd(timeline));
  }

  async function act(action, form) {
    const path = "/api/conversations/" + conversationId + "/" + action;
    let payload = {};
    if (form) {
      const data = new FormData(form);
      if (action === "transfer") payload = { queue: data.get("queue"), note: data.get("note") || null };
      if (action === "reassign") payload = { rep_id: data.get("rep_id") || null };
      if (action === "hand-back") payload = { note: data.get("note") || null };
    }
    const done = { transfer: "Transferred", reassign: "Reassigned", "hand-back": "Handed back to the bot", resolve: "Resolved" }[action];
    try {
      await api("POST", path, payload);
    } catch (e) { toast(e.message, "error"); return; }
    try {
      await api("GET", "/api/conversations/" + conversationId);
    } catch (e) {
      if (e.status === 404) {  // moved out of the rep's sight (another team): nothing left to do here
        try { sessionStorage.setItem("handoff-toast", done + ": it is no longer in your view."); } catch (x) { /* no toast */ }
        window.location.href = "/inbox";
        return;
      }
    }
    toast(done, "info");
    const popover = form && form.closest("details");
    if (popover) popover.open = false;  // done: the form closes, and the state bar shows the result
    refresh();
  }

  document.addEventListener("submit", function (event) {
    const form = event.target.closest("form[data-action]");
    if (form) { event.preventDefault(); act(form.dataset.action, form); }
  });
  document.addEventListener("click", function (event) {
    const button = event.target.closest("button[data-action]");
    if (button && !button.closest("form")) {
      event.preventDefault();
      if (button.dataset.action !== "resolve" || window.confirm("Resolve this conversation?")) act(button.dataset.action, null);
    }
    const jump = event.target.closest("[data-jump]");
    if (jump) {
      const target = document.getElementById(jump.dataset.jump);
      if (target) {
        event.preventDefault();
        target.scrollIntoView({ behavior: "smooth", block: "center" });
        target.classList.add("flash");
        setTimeout(function () { target.classList.remove("flash"); }, 1600);
      }
    }
  });

  // After a fragment reload: keep the composer in step, and say so when access was lost.
  body.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "timeline") atEnd = timelineEnd(event.detail.target) < 120;
  });
  body.addEventListener("htmx:afterSwap", function (event) {
    // The WhatsApp bar above the page (loaded after it) moves the transcript down: back to its end.
    if (event.detail.target && (event.detail.target.id === "timeline" || event.detail.target.id === "whatsapp-status")) scrollTimeline();
    composerState();
  });
  // Why the page turned read-only: the alert that took the conversation away when this page was
  // told (it may come after the refresh that found it gone), else the possible reasons.
  function goneHint() {
    const told = window.__handoffAlerts.filter(function (a) {
      return a.kind === "taken_away" && String(a.conversation_id) === String(conversationId);
    }).pop();
    document.getElementById("composer-hint").textContent = told
      ? "This conversation is no longer yours: " + told.text + "."
      : "This conversation is no longer yours: it was moved on (another rep, another team, or back to the bot), or its customer's data was erased.";
  }
  let stateStale = false;
  body.addEventListener("htmx:beforeRequest", function (event) {
    // Access lost: the fragments would only answer 404 again at every refresh.
    if (gone && event.detail.pathInfo && /\/fragments\//.test(event.detail.pathInfo.requestPath || "")) event.preventDefault();
    // A transfer or reassign form the rep has open is not swapped away (with the note half typed)
    // by a live refresh: the state bar reloads once the form closes.
    const state = event.detail.elt;
    if (state && state.id === "state" && state.querySelector("details[open]")) {
      event.preventDefault();
      stateStale = true;
    }
  });
  document.addEventListener("toggle", function (event) {
    const state = document.getElementById("state");
    if (!stateStale || !state || !state.contains(event.target) || state.querySelector("details[open]")) return;
    stateStale = false;
    window.htmx.ajax("GET", state.getAttribute("hx-get"), { source: state, target: state, swap: "outerHTML" });
  }, true);
  body.addEventListener("htmx:responseError", function (event) {
    const status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status === 404 && composer) {
      gone = true;
      const state = document.getElementById("state");
      if (state) {
        state.dataset.canWrite = "0";
        state.dataset.owner = "gone";
        state.classList.add("gone");
        const line = state.querySelector(".who-line .owner");
        if (line) line.textContent = "no longer yours to see";
        const actions = state.querySelector(".actions");
        if (actions) actions.innerHTML = "";
      }
      // What the page still showed is no longer the rep's to read (moved on, or the customer's
      // data erased): taken off the page.
      ["timeline", "panel"].forEach(function (id) {
        const part = document.getElementById(id);
        if (part) part.innerHTML = '<p class="muted gone-note">No longer yours to see.</p>';
      });
      composer.dataset.mode = "reply";
      composerState();
      document.getElementById("composer-text").disabled = true;
      document.getElementById("composer-send").disabled = true;
      goneHint();
    }
  });

  // -- keyboard shortcuts ----------------------------------------------------------------------------
  const help = document.getElementById("help");
  function toggleHelp(show) {
    if (!help) return;
    help.hidden = show === undefined ? !help.hidden : !show;
  }
  document.getElementById("help-button")?.addEventListener("click", function () { toggleHelp(); });
  help?.querySelector(".close-help")?.addEventListener("click", function () { toggleHelp(false); });

  function rows() { return Array.from(document.querySelectorAll(".conversation-row")); }
  function selected() { return document.querySelector(".conversation-row.selected"); }
  function select(step) {
    const list = rows();
    if (!list.length) return;
    const index = list.indexOf(selected());
    const next = list[Math.min(list.length - 1, Math.max(0, index < 0 ? 0 : index + step))];
    list.forEach(function (row) { row.classList.remove("selected"); });
    next.classList.add("selected");
    next.scrollIntoView({ block: "nearest" });
  }

  let pendingG = false;
  document.addEventListener("keydown", function (event) {
    const typing = event.target.closest("input, textarea, select, [contenteditable]");
    if (event.key === "Escape") {
      toggleHelp(false);
      document.querySelectorAll("details[open]").forEach(function (d) { d.open = false; });
      if (typing) event.target.blur();
      return;
    }
    if (typing || event.ctrlKey || event.metaKey || event.altKey) return;
    if (pendingG) {
      pendingG = false;
      if (event.key === "i") { window.location.href = "/inbox"; return; }
      if (event.key === "q") { window.location.href = "/dashboard"; return; }
    }
    switch (event.key) {
      case "?": toggleHelp(); break;
      case "/": { const search = document.getElementById("search-q"); if (search) { event.preventDefault(); search.focus(); } break; }
      case "g": pendingG = true; setTimeout(function () { pendingG = false; }, 1200); break;
      case "j": select(1); break;
      case "k": select(-1); break;
      case "Enter":
      case "o": { const row = selected(); if (row) window.location.href = "/conversations/" + row.dataset.id; break; }
      case "t": {
        const row = selected();
        if (row && row.dataset.owner === "queued") claim(row.dataset.id);
        else { const take = document.getElementById("take-it"); if (take) take.click(); }
        break;
      }
      case "r": if (composer) { event.preventDefault(); setMode("reply"); } break;
      case "n": if (composer) { event.preventDefault(); setMode("note"); } break;
      case "e": { const resolve = document.getElementById("resolve"); if (resolve) resolve.click(); break; }
      default: return;
    }
  });
})();

// The hotline's web chat: / (general) and /12355 (youth line). Plain JS, no framework, nothing from another host.
// It talks to the gateway (bot/web.py): POST /api/chat, and GET /api/chat/{session}/updates for what arrives later
// (a lawyer writing, answers to messages kept while the service was down). The conversation (session id, bubbles,
// consent, language, the updates cursor and any message not sent yet) is kept in localStorage per channel, so a
// reload shows it and continues it. Hotline numbers are not written here: they come from the page's <body
// data-police data-youth data-legal-service> (checked against hotline/data/hotlines.yml by tests/web/).
"use strict";

(() => {
  const body = document.body;
  const CHANNEL = body.dataset.channel === "12355" ? "12355" : "web";
  const NUMBERS = {
    police: body.dataset.police || "",
    youth: body.dataset.youth || "",
    legal_service: body.dataset.legalService || "",
  };
  const STORE_KEY = `hotline.chat.${CHANNEL}`;
  const POLL_VISIBLE_MS = 3000;
  const POLL_HIDDEN_MS = 30000;
  const POLL_ERROR_MS = 15000;
  const REQUEST_TIMEOUT_MS = 30000;
  const MAX_LOG = 300;

  // Every UI text, Chinese first. A channel's own texts override the common ones. {police}, {youth} and
  // {legal_service} become tel: links with the page's numbers, {#youth} the plain number; {n} and {error} are
  // filled in.
  const TEXTS = {
    zh: {
      common: {
        logLabel: "对话",
        send: "发送",
        new: "新对话",
        langButton: "English",
        langLabel: "Switch to English",
        you: "你说：",
        bot: "助手说：",
        lawyer: "律师",
        choices: "可以直接点一个回答",
        sending: "发送中…",
        relayed: "已转给律师",
        waiting: "{n} 秒后自动重发",
        unsent: "还没发出去",
        failed: "没有发出去",
        busy: "{error}（到时会自动发出，不用再发一次。）",
        offline: "连不上服务，消息还没发出去。请检查网络，再点“重试”。",
        rejected: "这条消息没有发出去：{error} 原文已放回输入框。",
        retry: "重试",
      },
      web: {
        title: "广州法律援助 · 在线咨询",
        heading: "法律援助在线咨询",
        anonymous: "不用留姓名和电话。",
        safety: "紧急情况请马上拨打 {police}。法律咨询热线 {legal_service}。",
        intro: "欠薪、工伤、孩子的事……先在这里说说，看看能不能申请法律援助。",
        consentTitle: "开始之前，请了解",
        consentKept: "我们会保存这段对话和您提供的情况，用来判断您能否申请法律援助，并交给值班律师。",
        consentNoName: "不需要您的姓名或电话号码。",
        consentErase: "如需删除这些记录，可以随时提出。",
        agree: "同意并开始",
        inputLabel: "您的消息",
        placeholder: "请输入您遇到的问题…",
        hint: "请直接说说您遇到了什么事，比如“老板欠我三个月工资”。",
        you: "您说：",
        newConfirm: "清除这台设备上的这段对话，重新开始吗？",
      },
      "12355": {
        title: "{#youth} 青少年在线聊天 · 法律帮助",
        heading: "{#youth} 青少年在线聊天",
        anonymous: "匿名聊天：不用留名字，也不用留电话。",
        safety: "如果你现在有危险，马上打 {police}。想找人聊聊，打 {youth}。",
        intro: "有人欺负你、家里或学校出了事？在这里说，不用留名字。",
        consentTitle: "开始之前，先说清楚",
        consentKept: "我们会保存这段聊天和你说的情况，只用来看看能不能给你免费的法律帮助，并交给值班律师。",
        consentNoName: "不用说你的名字和电话，我们也不会问。",
        consentErase: "想删掉这些记录，随时告诉我们就行。",
        agree: "好，开始聊",
        inputLabel: "你的消息",
        placeholder: "在这里打字…",
        hint: "想说什么都可以，用自己的话说就行。",
        newConfirm: "要清除这台手机上的聊天记录，重新开始吗？",
        erase: "删除我的记录",
        eraseConfirm: "要删除热线保存的这次对话和你说过的情况吗？如果律师正在处理，会告诉律师你已撤回。删除后不能恢复。",
        erased: "已经删除了热线保存的这次对话。需要的话，随时可以重新开始。",
        eraseFailed: "现在删不了，请过一分钟再试。",
      },
    },
    en: {
      common: {
        logLabel: "Conversation",
        send: "Send",
        new: "New chat",
        langButton: "中文",
        langLabel: "切换到中文",
        you: "You said:",
        bot: "Assistant said:",
        lawyer: "Lawyer",
        choices: "You can tap an answer",
        sending: "Sending…",
        relayed: "Sent to your lawyer",
        waiting: "Sending again in {n} s",
        unsent: "Not sent yet",
        failed: "Not sent",
        busy: "{error} (It will go by itself; no need to send it again.)",
        offline: "Can't reach the service; your message has not been sent yet. Check your connection and press Retry.",
        rejected: "This message was not sent: {error} Your text is back in the box.",
        retry: "Retry",
      },
      web: {
        title: "Legal aid chat · Guangzhou",
        heading: "Legal aid chat",
        anonymous: "No name or phone number needed.",
        safety: "In an emergency call {police} now. Legal advice hotline: {legal_service}.",
        intro: "Unpaid wages, a work injury, a child's problem… tell us here and find out whether you can get legal aid.",
        consentTitle: "Before we start",
        consentKept:
          "We keep this conversation and the facts you give, to assess whether you can get legal aid and for the duty lawyer.",
        consentNoName: "We don't need your name or phone number.",
        consentErase: "You can ask us to erase these records at any time.",
        agree: "Agree and start",
        inputLabel: "Your message",
        placeholder: "Type your question…",
        hint: "Tell us what happened in your own words, e.g. \"my boss hasn't paid me for three months\".",
        newConfirm: "Clear this conversation from this device and start again?",
        erase: "Erase my data",
        eraseConfirm: "Erase this conversation and what you told the hotline? If a lawyer has your case, they will be told you withdrew. This cannot be undone.",
        erased: "The hotline's record of this conversation is erased. You can start again at any time.",
        eraseFailed: "It could not be erased just now; please try again in a minute.",
      },
      "12355": {
        title: "{#youth} youth chat · legal help",
        heading: "{#youth} youth chat",
        anonymous: "Anonymous: no name or phone number needed.",
        safety: "If you are in danger now, call {police} right away. To talk to someone, call {youth}.",
        intro: "Someone picking on you, or trouble at home or school? Tell us here. No name needed.",
        consentTitle: "Before we start",
        consentKept:
          "We keep this chat and what you tell us, only to see whether you can get free legal help and to pass it to the duty lawyer.",
        consentNoName: "You don't need to tell us your name or phone number, and we won't ask.",
        consentErase: "If you want these records deleted, just tell us at any time.",
        agree: "OK, let's start",
        inputLabel: "Your message",
        placeholder: "Type here…",
        hint: "Say anything you like, in your own words.",
        newConfirm: "Clear this chat from this phone and start again?",
      },
    },
  };

  const $ = (id) => document.getElementById(id);
  const els = {
    chat: $("chat"),
    consent: $("consent"),
    log: $("log"),
    notice: $("notice"),
    composer: $("composer"),
    input: $("text"),
    send: $("send"),
    lang: $("lang"),
    newChat: $("new"),
    erase: $("erase"),
    agree: $("agree"),
  };

  // ---- state, kept in localStorage ----

  function newId() {
    const bytes = new Uint8Array(16);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function freshState(lang) {
    return { v: 1, session: newId(), consent: false, lang, after: 0, log: [], queue: [], retryAt: 0 };
  }

  function loadState() {
    try {
      const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "null");
      if (
        saved &&
        saved.v === 1 &&
        /^[A-Za-z0-9_-]{1,64}$/.test(saved.session) &&
        Array.isArray(saved.log) &&
        Array.isArray(saved.queue)
      ) {
        saved.lang = saved.lang === "en" ? "en" : "zh";
        saved.after = Number.isInteger(saved.after) && saved.after >= 0 ? saved.after : 0;
        saved.retryAt = Number(saved.retryAt) || 0;
        return saved;
      }
    } catch {
      // unreadable or blocked storage: start afresh
    }
    return freshState("zh");
  }

  let state = loadState();

  function save() {
    if (state.log.length > MAX_LOG) state.log.splice(0, state.log.length - MAX_LOG);
    try {
      localStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch {
      // private mode or full storage: the page still works, without surviving a reload
    }
  }

  // ---- texts ----

  function text(key) {
    const lang = TEXTS[state.lang];
    return lang[CHANNEL][key] ?? lang.common[key] ?? TEXTS.zh[CHANNEL][key] ?? TEXTS.zh.common[key] ?? key;
  }

  function telLink(number) {
    const a = document.createElement("a");
    a.href = `tel:${number}`;
    a.textContent = number;
    return a;
  }

  // Puts a template into an element: {police}-style keys become tel: links ({#police} the plain number).
  function fill(el, template) {
    el.replaceChildren();
    for (const part of template.split(/(\{#?\w+\})/)) {
      const [, plain, key] = /^\{(#?)(\w+)\}$/.exec(part) ?? [];
      if (key && NUMBERS[key]) el.append(plain ? NUMBERS[key] : telLink(NUMBERS[key]));
      else if (part) el.append(part);
    }
  }

  // A bot message's text, with the page's hotline numbers made tappable.
  function fillMessage(el, message) {
    const numbers = Object.values(NUMBERS)
      .filter(Boolean)
      .map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    if (!numbers.length) {
      el.textContent = message;
      return;
    }
    const pattern = new RegExp(`(^|\\D)(${numbers.join("|")})(?=\\D|$)`, "g");
    let last = 0;
    for (const match of message.matchAll(pattern)) {
      const start = match.index + match[1].length;
      el.append(message.slice(last, start), telLink(match[2]));
      last = start + match[2].length;
    }
    el.append(message.slice(last));
  }

  function applyTexts() {
    document.documentElement.lang = state.lang === "en" ? "en" : "zh-CN";
    document.title = format(text("title"), NUMBERS);
    for (const el of document.querySelectorAll("[data-i18n]")) fill(el, text(el.dataset.i18n));
    for (const el of document.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = text(el.dataset.i18nPlaceholder);
    for (const el of document.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", text(el.dataset.i18nAria));
    els.lang.textContent = text("langButton");
    els.lang.lang = state.lang === "en" ? "zh-CN" : "en";
    els.lang.setAttribute("aria-label", text("langLabel"));
  }

  // ---- the conversation on screen ----

  const rendered = new WeakMap(); // log entry -> its <li>

  function entryLi(entry) {
    const li = document.createElement("li");
    li.className = `msg ${entry.who}`;
    const who = document.createElement("span");
    if (entry.who === "lawyer") {
      who.className = "who";
      who.textContent = text("lawyer");
    } else {
      who.className = "visually-hidden";
      who.textContent = entry.who === "me" ? text("you") : text("bot");
    }
    const bubble = document.createElement("div");
    bubble.className = "bubble";
    bubble.append(who);
    const content = document.createElement("span");
    content.className = "text";
    if (entry.who === "me") content.textContent = entry.text;
    else fillMessage(content, entry.text);
    bubble.append(content);
    li.append(bubble);
    li.append(statusSpan());
    updateStatus(entry, li);
    if (entry.buttons?.length) li.append(buttonGroup(entry));
    return li;
  }

  function statusSpan() {
    const status = document.createElement("span");
    status.className = "status";
    return status;
  }

  // The state of a person's message under its bubble: sending, waiting to be sent again, not sent, relayed.
  function updateStatus(entry, li = rendered.get(entry)) {
    const status = li?.querySelector(".status");
    if (!status) return;
    const shown = entry.who === "me" && entry.status && entry.status !== "sent" ? entry.status : "";
    status.className = `status ${shown}`;
    status.hidden = !shown;
    status.textContent = !shown ? "" : shown === "waiting" ? waitingText() : text(shown);
  }

  // A group that was answered (by a press or by typing) is put away: the person's own bubble says what they chose.
  function updateButtons(entry) {
    rendered.get(entry)?.querySelector(".buttons")?.classList.toggle("used", Boolean(entry.used));
    const buttons = rendered.get(entry)?.querySelectorAll(".choice") ?? [];
    buttons.forEach((button, i) => {
      button.disabled = Boolean(entry.used);
      button.classList.toggle("chosen", entry.chosen === i);
    });
  }

  function buttonGroup(entry) {
    const group = document.createElement("div");
    group.className = entry.used ? "buttons used" : "buttons";
    group.setAttribute("role", "group");
    group.setAttribute("aria-label", text("choices"));
    entry.buttons.forEach((b, i) => {
      const button = document.createElement("button");
      button.type = "button";
      button.className = "choice";
      button.textContent = b.title;
      button.disabled = Boolean(entry.used);
      if (entry.chosen === i) button.classList.add("chosen");
      button.addEventListener("click", () => {
        if (entry.used) return;
        entry.chosen = i;
        send(String(b.payload), String(b.title));
        if (matchMedia("(pointer: fine)").matches) els.input.focus();
      });
      group.append(button);
    });
    return group;
  }

  function show(entry) {
    const li = entryLi(entry);
    rendered.set(entry, li);
    els.log.append(li);
    return li;
  }

  function renderAll() {
    els.log.setAttribute("aria-busy", "true");
    els.log.replaceChildren();
    for (const entry of state.log) show(entry);
    renderHint();
    els.log.removeAttribute("aria-busy");
    scrollDown();
  }

  function renderHint() {
    els.log.querySelector(".hint")?.remove();
    if (state.consent && !state.log.length) {
      const li = document.createElement("li");
      li.className = "hint";
      li.textContent = text("hint");
      els.log.append(li);
    }
  }

  function add(entry) {
    state.log.push(entry);
    els.log.querySelector(".hint")?.remove();
    show(entry);
    scrollDown();
  }

  function scrollDown() {
    els.chat.scrollTop = els.chat.scrollHeight;
  }

  function showConsent() {
    els.consent.hidden = state.consent;
    els.composer.hidden = !state.consent;
  }

  function notice(message, withRetry = false) {
    els.notice.replaceChildren();
    if (!message) {
      els.notice.hidden = true;
      return;
    }
    const p = document.createElement("p");
    p.textContent = message;
    els.notice.append(p);
    if (withRetry) {
      const retry = document.createElement("button");
      retry.type = "button";
      retry.className = "primary";
      retry.textContent = text("retry");
      retry.addEventListener("click", () => {
        notice("");
        state.retryAt = 0;
        pump();
      });
      els.notice.append(retry);
    }
    els.notice.hidden = false;
    scrollDown();
  }

  // ---- sending: a queue kept in storage, so nothing typed is lost to a reload, a 429 or a dropped connection ----

  let busy = false;
  let retryTimer = 0;
  let tickTimer = 0;

  function entryFor(qid) {
    return state.log.find((e) => e.qid === qid);
  }

  function setStatus(qid, status) {
    const entry = entryFor(qid);
    if (!entry) return;
    entry.status = status;
    updateStatus(entry);
  }

  function waitingText() {
    return format(text("waiting"), { n: Math.max(1, Math.ceil((state.retryAt - Date.now()) / 1000)) });
  }

  function format(template, vars) {
    return template.replace(/\{#?(\w+)\}/g, (whole, key) => (key in vars ? String(vars[key]) : whole));
  }

  function send(value, shown = value) {
    if (!state.consent) return;
    for (const entry of state.log) {
      if (entry.buttons?.length && !entry.used) {
        entry.used = true;
        updateButtons(entry);
      }
    }
    const qid = newId();
    state.queue.push({ qid, text: value });
    add({ who: "me", text: shown, status: "sending", qid });
    save();
    pump();
  }

  async function request(url, options = {}) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), REQUEST_TIMEOUT_MS);
    try {
      return await fetch(url, { ...options, signal: controller.signal, cache: "no-store" });
    } finally {
      clearTimeout(timer);
    }
  }

  async function errorText(response) {
    try {
      const body = await response.json();
      if (body && typeof body.error === "string") return body.error;
    } catch {
      // not JSON
    }
    return `${response.status} ${response.statusText}`.trim();
  }

  function retryAfterSeconds(response) {
    const header = response.headers.get("Retry-After") || "";
    let seconds = Number(header);
    if (!header || !Number.isFinite(seconds)) {
      const date = Date.parse(header);
      seconds = Number.isNaN(date) ? 5 : (date - Date.now()) / 1000;
    }
    return Math.min(Math.max(Math.ceil(seconds), 1), 600);
  }

  function scheduleRetry(ms) {
    clearTimeout(retryTimer);
    retryTimer = setTimeout(pump, ms);
    clearInterval(tickTimer);
    tickTimer = setInterval(() => {
      for (const entry of state.log) if (entry.status === "waiting") updateStatus(entry);
      if (Date.now() >= state.retryAt) clearInterval(tickTimer);
    }, 1000);
  }

  async function pump() {
    if (busy || !state.consent || !state.queue.length) return;
    const wait = state.retryAt - Date.now();
    if (wait > 0) {
      for (const item of state.queue) setStatus(item.qid, "waiting");
      scheduleRetry(wait);
      return;
    }
    busy = true;
    const session = state.session;
    const item = state.queue[0];
    setStatus(item.qid, "sending");
    let response;
    try {
      response = await request("/api/chat", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ session, text: item.text, channel: CHANNEL, lang: state.lang, consent: true }),
      });
    } catch {
      response = null;
    }
    busy = false;
    if (session !== state.session) return; // the person started a new conversation meanwhile
    if (response && response.ok) {
      let data = {};
      try {
        data = await response.json();
      } catch {
        // an empty answer still means the message arrived
      }
      state.queue.shift();
      state.retryAt = 0;
      setStatus(item.qid, data.relayed ? "relayed" : "sent");
      for (const m of Array.isArray(data.messages) ? data.messages : []) {
        add({ who: "bot", text: String(m.text ?? ""), buttons: cleanButtons(m.buttons) });
      }
      notice("");
      save();
      pump();
    } else if (response && response.status === 429) {
      const seconds = retryAfterSeconds(response);
      const error = await errorText(response);
      state.retryAt = Date.now() + seconds * 1000;
      save();
      for (const waiting of state.queue) setStatus(waiting.qid, "waiting");
      notice(format(text("busy"), { error, n: seconds }));
      scheduleRetry(seconds * 1000);
    } else if (response && response.status >= 400 && response.status < 500) {
      // The gateway refused this text as it is (too long, not valid): give it back to the person to change.
      const error = await errorText(response);
      state.queue.shift();
      setStatus(item.qid, "failed");
      if (!els.input.value.trim()) {
        els.input.value = item.text;
        autosize();
      }
      notice(format(text("rejected"), { error }));
      save();
      pump();
    } else {
      // No connection, a timeout or a server error: keep the message and let the person retry.
      setStatus(item.qid, "unsent");
      save();
      notice(text("offline"), true);
    }
  }

  function cleanButtons(buttons) {
    if (!Array.isArray(buttons)) return [];
    return buttons
      .filter((b) => b && typeof b.title === "string" && typeof b.payload === "string")
      .map((b) => ({ title: b.title, payload: b.payload }));
  }

  // ---- what arrives later: polled while the page is open ----

  let pollTimer = 0;
  let polling = false;

  function schedulePoll(ms) {
    clearTimeout(pollTimer);
    pollTimer = setTimeout(poll, ms);
  }

  async function poll() {
    if (!state.consent || polling) return;
    polling = true;
    const session = state.session;
    let delay = document.hidden ? POLL_HIDDEN_MS : POLL_VISIBLE_MS;
    try {
      const url = `/api/chat/${encodeURIComponent(session)}/updates?channel=${CHANNEL}&after=${state.after}`;
      const response = await request(url);
      if (!response.ok) throw new Error(String(response.status)); // 404 until the endpoint exists: try later
      const data = await response.json();
      if (session === state.session) {
        for (const m of Array.isArray(data.messages) ? data.messages : []) {
          if (Number.isInteger(m.id) && m.id <= state.after) continue;
          const who = m.from === "lawyer" ? "lawyer" : "bot";
          add({ who, text: String(m.text ?? ""), buttons: cleanButtons(m.buttons) });
        }
        if (Number.isInteger(data.after) && data.after >= 0) state.after = data.after;
        save();
      }
    } catch {
      delay = Math.max(delay, POLL_ERROR_MS);
    } finally {
      polling = false;
    }
    if (state.consent && session === state.session) schedulePoll(delay);
  }

  // ---- the controls ----

  function autosize() {
    els.input.style.height = "auto";
    els.input.style.height = `${Math.min(els.input.scrollHeight, 160)}px`;
  }

  function submit() {
    const value = els.input.value.trim();
    els.input.focus();
    if (!value) return;
    els.input.value = "";
    autosize();
    send(value);
  }

  els.composer.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });

  els.input.addEventListener("keydown", (event) => {
    // Enter sends; Shift+Enter is a new line; Enter that confirms a Chinese input method's choice is not a send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submit();
    }
  });

  els.input.addEventListener("input", autosize);

  els.agree.addEventListener("click", () => {
    state.consent = true;
    save();
    showConsent();
    renderHint();
    els.input.focus();
    schedulePoll(0);
    pump();
  });

  els.lang.addEventListener("click", () => {
    state.lang = state.lang === "en" ? "zh" : "en";
    save();
    applyTexts();
    renderAll();
  });

  function startAfresh() {
    clearTimeout(retryTimer);
    clearInterval(tickTimer);
    clearTimeout(pollTimer);
    state = freshState(state.lang);
    save();
    els.input.value = "";
    autosize();
    showConsent();
    renderAll();
  }

  // Erasure (the person's right): the hotline's record of this session first, then this device's copy.
  els.erase.addEventListener("click", async () => {
    if (!window.confirm(text("eraseConfirm"))) return;
    let response = null;
    try {
      response = await request(`/api/chat/${encodeURIComponent(state.session)}?channel=${CHANNEL}`, {
        method: "DELETE",
      });
    } catch {
      response = null;
    }
    if (!response || !response.ok) {
      notice(text("eraseFailed"));
      return;
    }
    startAfresh();
    notice(text("erased"));
  });

  els.newChat.addEventListener("click", () => {
    if (state.log.length && !window.confirm(text("newConfirm"))) return;
    clearTimeout(retryTimer);
    clearInterval(tickTimer);
    clearTimeout(pollTimer);
    state = freshState(state.lang);
    save();
    notice("");
    els.input.value = "";
    autosize();
    showConsent();
    renderAll();
    els.agree.focus();
  });

  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && state.consent) schedulePoll(0);
  });
  window.addEventListener("online", () => {
    notice("");
    pump();
  });

  // ---- start: show what was kept and continue it ----

  applyTexts();
  showConsent();
  renderAll();
  body.classList.add("ready");
  if (state.consent) {
    schedulePoll(0);
    pump();
  }
})();

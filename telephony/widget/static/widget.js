/* Welcomecenter Mittelhessen: the hotline as a voice widget on any web page.
 *
 * Embed:  <script src="https://HOST/widget.js" defer></script>   (optional: data-lang="en")
 * Plain JavaScript, no build step, nothing fetched from anywhere but HOST. The panel lives in a shadow root,
 * so the page's styles and the widget's do not mix. Microphone audio goes through an AudioWorklet
 * (HOST/widget/worklet.js) as 16 kHz 16-bit PCM to the socket HOST/widget/ws; the answers come back as JSON
 * (captions, sources) and 16 kHz PCM (speech). The wire format is described in telephony/widget/protocol.py.
 */
(function () {
  "use strict";
  if (window.WelcomeCenterWidget) return;

  const CONFIG = /*__WIDGET_CONFIG__*/{};
  const RATE = 16000;
  const script = document.currentScript;
  const scriptUrl = new URL(script && script.src ? script.src : "widget.js", document.baseURI);
  const socketUrl = new URL("widget/ws", scriptUrl);
  socketUrl.protocol = socketUrl.protocol === "https:" ? "wss:" : "ws:";
  const workletUrl = new URL("widget/worklet.js", scriptUrl).href;
  const LANGS = {};
  CONFIG.languages.forEach((l) => { LANGS[l.code] = l; });

  const state = {
    lang: pickLanguage(),
    ws: null,
    ready: false,
    outbox: [],
    ended: false,
    talking: false,
    handsFree: false,
    thinking: false,
    audio: null, // AudioContext, made on the first click (browsers allow sound only after a gesture)
    mic: null, // { stream, node, source }
    micStarting: null,
    sources: new Set(),
    nextStart: 0,
    lastBot: null, // the message element of the latest answer (its audio marks it)
    staff: null,
    statusKey: "status_connecting",
    keepTranscript: true, // the "keep no transcript" switch, sent with hello and whenever it changes
  };

  function pickLanguage() {
    // The site's choice for the widget, then the visitor's browser, then the page's own language.
    const wanted = [script && script.dataset.lang].concat(navigator.languages || [navigator.language],
      [document.documentElement.lang]);
    for (const code of wanted) {
      const short = String(code || "").toLowerCase().split("-")[0];
      if (LANGS[short]) return short;
    }
    return CONFIG.defaultLanguage;
  }

  function t(key) {
    const table = CONFIG.texts[state.lang] || CONFIG.texts[CONFIG.defaultLanguage];
    return table[key] || CONFIG.texts.en[key] || key;
  }

  // --- building the panel -------------------------------------------------------------------------------
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === false || value == null) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  function icon(path) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    const p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    svg.append(p);
    return svg;
  }
  const MIC = "M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.92V21h2v-3.08A7 7 0 0 0 19 11h-2z";
  const CHAT = "M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z";

  const host = el("div", { id: "wcm-widget", "data-state": "closed" });
  const root = host.attachShadow({ mode: "open" });
  if (root.adoptedStyleSheets !== undefined && window.CSSStyleSheet && "replaceSync" in CSSStyleSheet.prototype) {
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CONFIG.css); // a constructed sheet: no inline <style> for the page's CSP to refuse
    root.adoptedStyleSheets = [sheet];
  } else {
    root.append(el("style", { text: CONFIG.css }));
  }

  const ui = {};
  ui.launcher = el("button", { class: "launcher", type: "button", "aria-expanded": "false",
    "aria-controls": "wcm-panel", onclick: () => (ui.panel.hidden ? openPanel() : closePanel()) },
  icon(CHAT), ui.launcherText = el("span"));
  ui.langSelect = el("select", { id: "wcm-lang", onchange: () => chooseLanguage(ui.langSelect.value) });
  CONFIG.languages.forEach((l) => ui.langSelect.append(el("option", { value: l.code, lang: l.code, text: l.name })));
  ui.log = el("div", { class: "log", role: "log", "aria-live": "polite", "aria-relevant": "additions",
    tabindex: "0" });
  ui.partial = el("p", { class: "partial", "aria-hidden": "true" });
  ui.status = el("p", { class: "status", role: "status" });
  ui.talk = el("button", { class: "talk", type: "button", "aria-pressed": "false",
    "aria-describedby": "wcm-talk-hint" }, icon(MIC), ui.talkText = el("span"));
  ui.handsFree = el("button", { class: "handsfree", type: "button", "aria-pressed": "false",
    onclick: toggleHandsFree });
  ui.stop = el("button", { class: "stop", type: "button", onclick: () => stopPlayback() });
  ui.hint = el("p", { class: "hint", id: "wcm-talk-hint" });
  ui.question = el("input", { id: "wcm-question", type: "text", maxlength: "500", autocomplete: "off",
    enterkeyhint: "send" });
  ui.send = el("button", { type: "submit" });
  ui.ask = el("form", { class: "ask", onsubmit: askTyped },
    ui.questionLabel = el("label", { for: "wcm-question" }), ui.question, ui.send);
  ui.staffToggle = el("button", { class: "staff-toggle", type: "button", "aria-expanded": "false",
    "aria-controls": "wcm-staff", onclick: () => toggleStaff() });
  ui.staffText = el("p", { class: "staff-text" });
  ui.staffCall = el("p", { class: "staff-call" });
  ui.callbackIntro = el("p");
  ui.callback = buildCallbackForm();
  ui.staff = el("div", { class: "staff", id: "wcm-staff", hidden: true },
    ui.staffText, ui.staffCall, ui.callbackIntro, ui.callback);
  ui.note = el("p", { class: "note" });
  // What is kept of the conversation, and the switch to keep nothing (it also deletes what was kept).
  ui.transcriptNotice = el("p", { class: "note transcript-notice", id: "wcm-transcript-notice" });
  ui.transcriptOff = el("input", { type: "checkbox", id: "wcm-transcript-off", role: "switch",
    "aria-describedby": "wcm-transcript-notice", onchange: () => setTranscript(!ui.transcriptOff.checked) });
  ui.transcriptMessage = el("p", { class: "note transcript-message", role: "status" });
  ui.transcript = el("div", { class: "transcript" }, ui.transcriptNotice,
    el("div", { class: "consent" }, ui.transcriptOff, ui.transcriptOffLabel = el("label", { for: "wcm-transcript-off" })),
    ui.transcriptMessage);
  ui.title = el("h2", { id: "wcm-title" });
  ui.langLabel = el("label", { for: "wcm-lang" });
  ui.close = el("button", { class: "close", type: "button", onclick: () => closePanel(), text: "×" });
  ui.panel = el("section", { class: "panel", id: "wcm-panel", role: "dialog", "aria-labelledby": "wcm-title",
    hidden: true, onkeydown: (e) => { if (e.key === "Escape") { e.preventDefault(); closePanel(); } } },
  el("div", { class: "head" }, ui.title, ui.close, el("div", { class: "lang" }, ui.langLabel, ui.langSelect)),
  el("div", { class: "body" }, ui.log, ui.partial, ui.status,
    el("div", { class: "controls" }, ui.talk, ui.handsFree, ui.stop), ui.hint, ui.ask, ui.staffToggle,
    ui.staff, ui.transcript, ui.note));
  ui.frame = el("div", { class: "wcm" }, ui.launcher, ui.panel);
  root.append(ui.frame);

  function buildCallbackForm() {
    const field = (name, type, extra) => {
      const id = "wcm-cb-" + name;
      const input = type === "textarea"
        ? el("textarea", Object.assign({ id, name, rows: "2", maxlength: "1000" }, extra))
        : el("input", Object.assign({ id, name, type, maxlength: "200" }, extra));
      ui["cb_" + name] = input;
      return el("div", {}, ui["cbLabel_" + name] = el("label", { for: id }), input);
    };
    ui.cbConsent = el("input", { type: "checkbox", id: "wcm-cb-consent", name: "consent" });
    ui.cbMessage = el("p", { class: "cb-message", role: "status" });
    ui.cbSubmit = el("button", { type: "submit" });
    return el("form", { class: "callback", novalidate: true, onsubmit: submitCallback },
      field("name", "text", { autocomplete: "name" }),
      field("phone", "tel", { autocomplete: "tel", "aria-describedby": "wcm-cb-hint" }),
      field("email", "email", { autocomplete: "email", "aria-describedby": "wcm-cb-hint" }),
      ui.cbHint = el("p", { class: "hint", id: "wcm-cb-hint" }),
      field("question", "textarea", {}),
      el("div", { class: "consent" }, ui.cbConsent, ui.cbConsentLabel = el("label", { for: "wcm-cb-consent" })),
      ui.cbSubmit, ui.cbMessage);
  }

  function applyTexts() {
    const info = LANGS[state.lang];
    ui.frame.setAttribute("lang", state.lang);
    ui.frame.setAttribute("dir", info ? info.dir : "ltr");
    ui.langSelect.value = state.lang;
    ui.launcherText.textContent = t("launcher");
    ui.launcher.setAttribute("aria-label", t("launcher_label"));
    ui.title.textContent = t("title");
    ui.langLabel.textContent = t("language");
    ui.close.setAttribute("aria-label", t("close"));
    ui.close.title = t("close");
    ui.log.setAttribute("aria-label", t("captions"));
    ui.talkText.textContent = t("talk");
    ui.hint.textContent = t("talk_hint");
    ui.handsFree.textContent = t("handsfree");
    ui.stop.textContent = t("stop_audio");
    ui.questionLabel.textContent = t("type_label");
    ui.send.textContent = t("send");
    ui.staffToggle.textContent = t("staff");
    ui.callbackIntro.textContent = t("callback_intro");
    ui.cbLabel_name.textContent = t("cb_name");
    ui.cbLabel_phone.textContent = t("cb_phone");
    ui.cbLabel_email.textContent = t("cb_email");
    ui.cbHint.textContent = t("cb_contact_hint");
    ui.cbLabel_question.textContent = t("cb_question");
    ui.cbConsentLabel.textContent = t("cb_consent");
    ui.cbSubmit.textContent = t("cb_submit");
    ui.note.textContent = t("privacy_note");
    ui.transcriptNotice.textContent = t("transcript_notice");
    ui.transcriptOffLabel.textContent = t("transcript_off");
    if (state.transcriptKey) ui.transcriptMessage.textContent = t(state.transcriptKey);
    ui.status.textContent = t(state.statusKey);
    renderStaff();
  }

  function setStatus(key) {
    state.statusKey = key;
    ui.status.textContent = t(key);
    host.dataset.state = key.replace("status_", "").replace("error_", "error-");
  }

  function idleStatus() {
    if (state.sources.size) setStatus("status_speaking");
    else if (state.thinking) setStatus("status_thinking");
    else if (state.talking || state.handsFree) setStatus("status_listening");
    else if (state.ready) setStatus("status_ready");
  }

  // --- the conversation on screen --------------------------------------------------------------------
  function addMessage(kind, text, lang) {
    const who = kind === "user" ? t("you") : t("assistant");
    const body = el("p", { class: kind === "user" ? "question" : "answer", text });
    const node = el("div", { class: "msg " + kind, lang: lang || state.lang,
      dir: (LANGS[lang || state.lang] || {}).dir || "auto" }, el("span", { class: "who", text: who }), body);
    ui.log.append(node);
    ui.log.scrollTop = ui.log.scrollHeight;
    return node;
  }

  function showReply(reply) {
    const node = addMessage("bot", reply.answer, reply.language);
    node.dataset.action = reply.action;
    const links = (reply.sources || []).filter((s) => /^https?:\/\//i.test(s.url));
    if (links.length) {
      const list = el("ul");
      links.forEach((s) => list.append(el("li", {}, el("a", { href: s.url, target: "_blank",
        rel: "noopener noreferrer", text: s.title || s.url }))));
      node.append(el("div", { class: "sources" }, el("span", { text: t("sources") + ":" }), list));
    }
    state.lastBot = node;
    ui.log.scrollTop = ui.log.scrollHeight;
  }

  // --- the socket ------------------------------------------------------------------------------------
  function connect() {
    if (state.ws && state.ws.readyState <= 1) return;
    state.ready = false;
    state.ended = false;
    setStatus("status_connecting");
    const ws = new WebSocket(socketUrl.href);
    ws.binaryType = "arraybuffer";
    state.ws = ws;
    ws.onopen = () => ws.send(JSON.stringify({ type: "hello", lang: state.lang,
      transcript: state.keepTranscript }));
    ws.onmessage = (e) => {
      if (typeof e.data === "string") onMessage(JSON.parse(e.data));
      else playPcm(e.data);
    };
    ws.onclose = () => {
      if (state.ws !== ws) return;
      state.ws = null;
      state.ready = false;
      state.thinking = false;
      if (!state.ended) setStatus("error_connection");
      setHandsFree(false);
      stopTalking(false);
      releaseMic();
    };
  }

  function send(message) {
    if (state.ready && state.ws && state.ws.readyState === 1) state.ws.send(JSON.stringify(message));
    else {
      if (state.outbox.length < 20) state.outbox.push(message);
      connect();
    }
  }

  function onMessage(m) {
    switch (m.type) {
      case "ready":
        state.ready = true;
        if (!state.greeted) { // first connection only; a question typed meanwhile stays below it
          state.greeted = true;
          ui.log.prepend(addMessage("bot", m.greeting, m.lang));
        }
        state.staff = m.staff;
        renderStaff();
        idleStatus();
        state.outbox.splice(0).forEach((queued) => state.ws.send(JSON.stringify(queued)));
        break;
      case "partial":
        ui.partial.textContent = m.text;
        break;
      case "final":
        ui.partial.textContent = "";
        addMessage("user", m.text);
        state.thinking = true;
        setStatus("status_thinking");
        break;
      case "reply":
        state.thinking = false;
        ui.partial.textContent = "";
        if (m.language && m.language !== state.lang && LANGS[m.language]) {
          state.lang = m.language; // the conversation moved to this language: so does the panel
          applyTexts();
        }
        showReply(m);
        if (m.staff) { state.staff = m.staff; toggleStaff(true); }
        idleStatus();
        break;
      case "barge_in":
        stopPlayback();
        break;
      case "language":
        state.staff = m.staff;
        renderStaff();
        break;
      case "staff":
        state.staff = m;
        renderStaff();
        break;
      case "callback":
        ui.callback.reset();
        cbMessage("cb_saved", "saved");
        break;
      case "transcript":
        state.transcriptKey = m.keep ? "transcript_on" : "transcript_deleted";
        ui.transcriptMessage.textContent = t(state.transcriptKey);
        ui.transcript.dataset.keep = m.keep ? "true" : "false";
        break;
      case "error":
        onError(m);
        break;
    }
  }

  function onError(m) {
    if (m.code === "callback_invalid") {
      const input = { phone: ui.cb_phone, email: ui.cb_email, consent: ui.cbConsent }[m.field] || ui.cb_phone;
      input.setAttribute("aria-invalid", "true");
      cbMessage("cb_invalid_" + (m.field === "email" || m.field === "consent" ? m.field : "phone"), "problem");
      input.focus();
      return;
    }
    if (m.code === "callback_limit") { cbMessage("cb_limit", "problem"); return; }
    if (m.code === "callback_failed") { cbMessage("cb_failed", "problem"); return; }
    state.thinking = false;
    if (m.fatal) state.ended = true;
    const key = m.code === "rate_limited" ? "error_limit" : m.code === "time_limit" ? "error_time_limit"
      : m.fatal ? "status_closed" : "error_generic";
    setStatus(key);
  }

  // --- speech out ----------------------------------------------------------------------------------
  function audioContext() {
    if (!state.audio) {
      const Context = window.AudioContext || window.webkitAudioContext;
      if (!Context) return null;
      state.audio = new Context();
    }
    if (state.audio.state === "suspended") state.audio.resume();
    return state.audio;
  }

  function playPcm(buffer) {
    const ctx = audioContext();
    if (!ctx || !buffer.byteLength) return;
    const pcm = new Int16Array(buffer);
    const samples = new Float32Array(pcm.length);
    for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
    const clip = ctx.createBuffer(1, samples.length, RATE);
    clip.copyToChannel(samples, 0);
    const source = ctx.createBufferSource();
    source.buffer = clip;
    source.connect(ctx.destination);
    const start = Math.max(ctx.currentTime + 0.02, state.nextStart);
    state.nextStart = start + clip.duration;
    const message = state.lastBot;
    source.onended = () => {
      state.sources.delete(source);
      if (!state.sources.size && message) message.dataset.audio = "done";
      idleStatus();
    };
    state.sources.add(source);
    source.start(start);
    setTimeout(() => {
      if (!state.sources.has(source)) return;
      if (message) { message.dataset.audio = "playing"; message.dataset.played = "true"; }
      setStatus("status_speaking");
    }, Math.max(0, (start - ctx.currentTime) * 1000));
  }

  function stopPlayback() {
    state.sources.forEach((source) => {
      source.onended = null;
      try { source.stop(); } catch (e) { /* already stopped */ }
    });
    if (state.sources.size && state.lastBot) state.lastBot.dataset.audio = "stopped";
    state.sources.clear();
    state.nextStart = 0;
    idleStatus();
  }

  // --- speech in -----------------------------------------------------------------------------------
  async function startMic() {
    if (state.mic) return true;
    if (state.micStarting) return state.micStarting;
    state.micStarting = (async () => {
      const ctx = audioContext();
      try {
        if (!ctx || !navigator.mediaDevices || !window.AudioWorkletNode) throw new Error("no audio input");
        // Echo cancellation keeps the answer coming out of the speakers from interrupting itself (hands-free).
        // The browser's noise suppression and gain control are off: they smear the first words Whisper hears
        // (measured with the test's voice: recognition fell from 11 of 11 offsets right to 3 of 11).
        const stream = await navigator.mediaDevices.getUserMedia({ audio: { channelCount: 1,
          echoCancellation: true, noiseSuppression: false, autoGainControl: false } });
        if (!state.workletLoaded) { await ctx.audioWorklet.addModule(workletUrl); state.workletLoaded = true; }
        const source = ctx.createMediaStreamSource(stream);
        const node = new AudioWorkletNode(ctx, "wcm-pcm16-capture",
          { processorOptions: { targetRate: RATE, chunkMs: 100 } });
        node.port.onmessage = (e) => {
          if ((state.talking || state.handsFree) && state.ready && state.ws && state.ws.readyState === 1) {
            state.ws.send(e.data);
          }
        };
        const silent = ctx.createGain();
        silent.gain.value = 0; // keeps the worklet pulled without sending the microphone to the speakers
        source.connect(node);
        node.connect(silent).connect(ctx.destination);
        state.mic = { stream, node, source, silent };
        return true;
      } catch (err) {
        setStatus("error_mic");
        ui.question.focus();
        return false;
      } finally {
        state.micStarting = null;
      }
    })();
    return state.micStarting;
  }

  function releaseMic() {
    if (!state.mic) return;
    state.mic.stream.getTracks().forEach((track) => track.stop());
    state.mic.source.disconnect();
    state.mic.node.disconnect();
    state.mic.node.port.onmessage = null;
    state.mic = null;
  }

  async function startTalking() {
    if (state.stopping) { // pressed again straight away: the same turn goes on
      clearTimeout(state.stopTimer);
      state.stopping = false;
      ui.talk.setAttribute("aria-pressed", "true");
      return;
    }
    if (state.talking) return;
    stopPlayback();
    connect();
    state.talking = true;
    ui.talk.setAttribute("aria-pressed", "true");
    setStatus("status_listening");
    if (!(await startMic())) stopTalking(false);
  }

  function stopTalking(tellServer = true) {
    if (!state.talking || state.stopping) return;
    ui.talk.setAttribute("aria-pressed", "false");
    const finish = () => {
      state.stopping = false;
      state.talking = false;
      if (tellServer && !state.handsFree) send({ type: "end" });
      if (!state.handsFree) releaseMicLater();
      idleStatus();
    };
    if (!tellServer) { finish(); return; }
    state.stopping = true;
    state.stopTimer = setTimeout(finish, 150); // the worklet's last 100 ms chunk is still on its way: let it go out first
  }

  function releaseMicLater() {
    clearTimeout(state.releaseTimer);
    state.releaseTimer = setTimeout(() => {
      if (!state.talking && !state.handsFree) releaseMic();
    }, 30000); // keep it a while: the next press then streams at once
  }

  async function toggleHandsFree() {
    if (state.handsFree) { setHandsFree(false); send({ type: "end" }); releaseMicLater(); idleStatus(); return; }
    connect();
    setHandsFree(true);
    setStatus("status_listening");
    if (!(await startMic())) setHandsFree(false);
  }

  function setHandsFree(on) {
    state.handsFree = on;
    ui.handsFree.setAttribute("aria-pressed", on ? "true" : "false");
  }

  // Press to talk: hold the button with a pointer, or hold Space or Enter while it has the focus.
  ui.talk.addEventListener("pointerdown", (e) => {
    if (e.button !== 0) return;
    e.preventDefault();
    ui.talk.focus();
    try { ui.talk.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events */ }
    startTalking();
  });
  ["pointerup", "pointercancel", "lostpointercapture"].forEach((name) =>
    ui.talk.addEventListener(name, () => stopTalking()));
  ui.talk.addEventListener("keydown", (e) => {
    if (e.key !== " " && e.key !== "Enter") return;
    e.preventDefault();
    if (!e.repeat) startTalking();
  });
  ui.talk.addEventListener("keyup", (e) => {
    if (e.key !== " " && e.key !== "Enter") return;
    e.preventDefault();
    stopTalking();
  });
  ui.talk.addEventListener("blur", () => stopTalking());
  ui.talk.addEventListener("click", (e) => e.preventDefault());

  // --- typing, language, staff ------------------------------------------------------------------------
  function askTyped(e) {
    e.preventDefault();
    const text = ui.question.value.trim();
    if (!text) { ui.question.focus(); return; }
    audioContext(); // a gesture: the answer may be spoken
    stopPlayback();
    addMessage("user", text);
    send({ type: "text", text });
    ui.question.value = "";
    state.thinking = true;
    setStatus("status_thinking");
  }

  function setTranscript(keep) {
    state.keepTranscript = keep;
    ui.transcriptOff.checked = !keep;
    // No socket yet: its hello will carry the choice, and nothing was kept to delete.
    if (state.ws && state.ws.readyState <= 1) send({ type: "transcript", keep });
  }

  function chooseLanguage(code) {
    if (!LANGS[code]) return;
    state.lang = code;
    applyTexts();
    send({ type: "lang", lang: code });
  }

  function toggleStaff(show) {
    const open = show === undefined ? ui.staff.hidden : show;
    ui.staff.hidden = !open;
    ui.staffToggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) {
      send({ type: "staff" });
      ui.staff.scrollIntoView({ block: "nearest" });
    }
  }

  function renderStaff() {
    const staff = state.staff;
    ui.staffCall.replaceChildren();
    if (!staff) { ui.staffText.textContent = ""; return; }
    if (staff.open) {
      ui.staffText.textContent = t("staff_open");
      ui.staffCall.append(el("a", { href: staff.tel, class: "phone", text: staff.phone }));
    } else {
      ui.staffText.textContent = staff.text;
    }
  }

  function cbMessage(key, kind) {
    ui.cbMessage.textContent = t(key);
    ui.cbMessage.className = "cb-message " + kind;
  }

  function submitCallback(e) {
    e.preventDefault();
    [ui.cb_phone, ui.cb_email, ui.cbConsent].forEach((input) => input.removeAttribute("aria-invalid"));
    const phone = ui.cb_phone.value.trim();
    const email = ui.cb_email.value.trim();
    let problem = null;
    if (!phone && !email) problem = ["phone", ui.cb_phone];
    else if (email && !ui.cb_email.checkValidity()) problem = ["email", ui.cb_email];
    else if (!ui.cbConsent.checked) problem = ["consent", ui.cbConsent];
    if (problem) {
      onError({ code: "callback_invalid", field: problem[0] });
      return;
    }
    send({ type: "callback", name: ui.cb_name.value.trim(), phone, email,
      question: ui.cb_question.value.trim(), consent: ui.cbConsent.checked });
  }

  // --- opening and closing ---------------------------------------------------------------------------
  function openPanel() {
    audioContext();
    ui.panel.hidden = false;
    ui.launcher.setAttribute("aria-expanded", "true");
    host.dataset.open = "true";
    connect();
    ui.question.focus();
  }

  function closePanel() {
    ui.panel.hidden = true;
    ui.launcher.setAttribute("aria-expanded", "false");
    host.dataset.open = "false";
    stopPlayback();
    stopTalking();
    if (state.handsFree) { setHandsFree(false); send({ type: "end" }); }
    releaseMic();
    ui.launcher.focus();
  }

  applyTexts();
  setStatus("status_connecting");
  (document.body || document.documentElement).append(host);
  window.WelcomeCenterWidget = { open: openPanel, close: closePanel, version: 1 };
})();

/* Web chat for the Thai e-services assistant.
 * Message data is only ever put into the page with textContent / createTextNode, and links are
 * created only for http(s) URLs, so nothing the bot or the user sends can become markup. */
(function () {
  'use strict';

  var STORE_KEY = 'thgov-chat-v1';
  var MAX_ITEMS = 200;
  var REQUEST_TIMEOUT_MS = 20000;
  // The sender is the conversation's secret (it reads the agent's messages): 128 random bits.
  var SENDER_BYTES = 16;
  var SENDER_RE = /^[0-9a-f]{32}$/;
  // While a person holds the conversation: the live stream, and a poll that fills any gap (often
  // while the stream is down, now and then while it is up: the live feed keeps nothing).
  var POLL_STREAM_DOWN_MS = 4000;
  var POLL_STREAM_UP_MS = 20000;
  var STREAM_RETRY_MAX_MS = 30000;
  var WAITING_TEXT = 'รอเจ้าหน้าที่ค่ะ';
  var RELEASED_TEXT = 'กลับมาคุยกับผู้ช่วยอัตโนมัติแล้วค่ะ';
  var FEEDBACK = {
    helpful: { icon: '👍', label: 'ช่วยได้' },
    unhelpful: { icon: '👎', label: 'ไม่ช่วย' }
  };
  var CALLBACK_FIELD_ERRORS = {
    name: 'กรุณากรอกชื่อ',
    phone: 'กรุณากรอกเบอร์โทรศัพท์ที่ถูกต้อง เช่น 081 234 5678',
    note: 'ข้อความยาวเกินไป กรุณาย่อให้สั้นลง',
    consent: 'กรุณาทำเครื่องหมายยินยอมให้เจ้าหน้าที่โทรกลับก่อนส่งคำขอ'
  };
  var CALLBACK_SENT = 'ได้รับคำขอแล้วค่ะ เจ้าหน้าที่จะโทรกลับในเวลาทำการ';
  var GREETING = 'สวัสดีค่ะ ถามเรื่องบริการของรัฐได้เลย เช่น สวัสดิการ ใบอนุญาต งานทะเบียน หรือภาษี';
  var EXAMPLES = [
    { title: 'ทำพาสปอร์ตกี่บาท', payload: 'ทำพาสปอร์ตกี่บาท' },
    { title: 'เบี้ยยังชีพคนชรารับเดือนละกี่บาท', payload: 'เบี้ยยังชีพคนชรารับเดือนละกี่บาท' },
    { title: 'ต่อใบขับขี่ใช้อะไรบ้าง', payload: 'ต่อใบขับขี่ใช้อะไรบ้าง' }
  ];
  // The government hotline: the gateway writes it into the page from contract/replies.py (routes.py).
  var HOTLINE = document.body.getAttribute('data-hotline') || '';
  var ERROR_NETWORK = orCallTheHotline('ส่งข้อความไม่สำเร็จ กรุณาตรวจสอบการเชื่อมต่ออินเทอร์เน็ตแล้วลองอีกครั้ง');
  var ERROR_SERVER = orCallTheHotline('ขออภัยค่ะ ระบบตอบคำถามขัดข้องชั่วคราว กรุณาลองใหม่อีกครั้ง');

  var log = document.getElementById('log');
  var form = document.getElementById('composer');
  var input = document.getElementById('input');
  var sendButton = document.getElementById('send');
  var quick = document.getElementById('quick');
  var typing = document.getElementById('typing');
  var errorBox = document.getElementById('error');
  var resetButton = document.getElementById('reset');
  var statusLine = document.getElementById('status-line');
  var typingText = typing.querySelector('.typing-text');
  var busy = false;
  var state;
  var live = { source: null, pollTimer: null, retryTimer: null, retries: 0, open: false };
  var formCount = 0;

  function orCallTheHotline(text) {
    return HOTLINE ? text + ' หรือโทรสายด่วน ' + HOTLINE : text;
  }

  // ---- state kept across reloads (per browser tab) ----

  // 32 hex characters from the browser's cryptographic generator (a UUID has only 122 random bits).
  function newSender() {
    var bytes = new Uint8Array(SENDER_BYTES);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  function freshState() {
    return {
      sender: newSender(),
      items: [{ role: 'bot', type: 'text', text: GREETING }],
      quick: EXAMPLES.slice(),
      agent: null, // {name, position} while a person holds the conversation
      // Messages from people: `cursor` is where the last poll got to (everything up to it is shown), `seen`
      // what the live stream showed beyond it. The stream may skip a message (it keeps nothing), the poll not.
      cursor: '0',
      seen: [],
      status: ''
    };
  }

  function isButton(b) {
    return b && typeof b.title === 'string' && typeof b.payload === 'string';
  }

  function loadState() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || 'null');
      // An older page's sender (a UUID) is not secret enough to read a person's messages: start over.
      if (saved && typeof saved.sender === 'string' && SENDER_RE.test(saved.sender) &&
          Array.isArray(saved.items)) {
        saved.quick = Array.isArray(saved.quick) ? saved.quick.filter(isButton) : [];
        saved.agent = saved.agent && typeof saved.agent === 'object' ? saved.agent : null;
        saved.cursor = /^[0-9]+$/.test(saved.cursor) ? saved.cursor : '0';
        saved.seen = Array.isArray(saved.seen) ? saved.seen.filter(function (c) { return typeof c === 'string'; }) : [];
        saved.status = typeof saved.status === 'string' ? saved.status : '';
        return saved;
      }
    } catch (e) { /* unreadable storage: start over */ }
    return freshState();
  }

  function saveState() {
    state.items = state.items.slice(-MAX_ITEMS);
    try {
      window.sessionStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (e) { /* storage full or disabled: the chat still works, it just won't survive a reload */ }
  }

  // ---- safe rendering ----

  function safeUrl(value) {
    if (typeof value !== 'string') { return null; }
    try {
      var url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function link(href, text, className) {
    var a = el('a', className, text);
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  }

  // Plain text with http(s) URLs turned into links; everything else stays a text node.
  function appendRichText(parent, text) {
    var pattern = /https?:\/\/[^\s<>"']+/g;
    var last = 0;
    var match;
    while ((match = pattern.exec(text)) !== null) {
      var raw = match[0].replace(/[).,;!?]+$/, '');
      parent.appendChild(document.createTextNode(text.slice(last, match.index)));
      var href = safeUrl(raw);
      parent.appendChild(href ? link(href, raw) : document.createTextNode(raw));
      last = match.index + raw.length;
      pattern.lastIndex = last;
    }
    parent.appendChild(document.createTextNode(text.slice(last)));
  }

  function renderCard(card) {
    var article = el('article', 'card');
    var head = el('div', 'card-head');
    if (card.topic_label) { head.appendChild(el('p', 'card-topic', card.topic_label)); }
    head.appendChild(el('h2', 'card-title', card.title || ''));
    article.appendChild(head);
    var body = el('div', 'card-body');
    if (card.agency) { body.appendChild(el('p', 'card-agency', card.agency)); }
    var facts = Array.isArray(card.facts) ? card.facts.slice(0, 6) : [];
    if (facts.length) {
      var list = el('ul', 'card-facts');
      facts.forEach(function (fact) { list.appendChild(el('li', null, fact)); });
      body.appendChild(list);
    }
    if (card.updated) { body.appendChild(el('p', 'card-updated', 'ข้อมูล ณ ' + card.updated)); }
    article.appendChild(body);
    var href = safeUrl(card.source_url);
    if (href) {
      var foot = el('div', 'card-foot');
      foot.appendChild(link(href, 'ดูข้อมูลจากหน่วยงาน', 'card-link'));
      article.appendChild(foot);
    }
    return article;
  }

  function renderItem(item) {
    if (item.type === 'notice') {
      log.appendChild(el('p', 'notice', item.text));
      return;
    }
    if (item.type === 'feedback') {
      log.appendChild(renderFeedback(item));
      return;
    }
    if (item.type === 'callback') {
      log.appendChild(renderCallback(item));
      return;
    }
    if (item.role === 'agent') {
      var agentRow = el('div', 'msg msg-agent');
      var agentBubble = el('div', 'bubble');
      agentBubble.appendChild(el('span', 'who', item.agent ? 'เจ้าหน้าที่ ' + item.agent : 'เจ้าหน้าที่'));
      agentBubble.appendChild(el('span', 'sr-only', ': '));
      appendRichText(agentBubble, typeof item.text === 'string' ? item.text : '');
      agentRow.appendChild(agentBubble);
      log.appendChild(agentRow);
      return;
    }
    var row = el('div', 'msg ' + (item.role === 'user' ? 'msg-user' : 'msg-bot'));
    if (item.type === 'card' && item.card && typeof item.card === 'object') {
      row.appendChild(el('span', 'sr-only', 'ข้อมูลบริการ: '));
      row.appendChild(renderCard(item.card));
    } else {
      var bubble = el('div', 'bubble');
      bubble.appendChild(el('span', 'sr-only', item.role === 'user' ? 'คุณ: ' : 'ผู้ช่วย: '));
      appendRichText(bubble, typeof item.text === 'string' ? item.text : '');
      row.appendChild(bubble);
    }
    log.appendChild(row);
  }

  // Two small buttons under an answer the citizen may rate; the rating goes as a payload, not as text.
  function renderFeedback(item) {
    // The bot's reply thanks (or apologises); the page only remembers what was chosen.
    if (item.chosen && FEEDBACK[item.chosen]) {
      return el('p', 'feedback', 'คุณตอบว่า: ' + FEEDBACK[item.chosen].icon + ' ' + FEEDBACK[item.chosen].label);
    }
    if (item.expired) { return document.createTextNode(''); }
    var box = el('div', 'feedback');
    box.setAttribute('role', 'group');
    box.setAttribute('aria-label', 'คำตอบนี้ช่วยคุณได้ไหม');
    box.appendChild(el('span', 'feedback-ask', 'คำตอบนี้ช่วยได้ไหม'));
    (Array.isArray(item.values) ? item.values : []).forEach(function (value) {
      var look = FEEDBACK[value];
      if (!look) { return; }
      var button = el('button', 'feedback-button');
      button.type = 'button';
      button.appendChild(el('span', null, look.icon)).setAttribute('aria-hidden', 'true');
      button.appendChild(document.createTextNode(' ' + look.label));
      button.addEventListener('click', function () {
        if (busy) { return; }
        item.chosen = value;
        box.replaceWith(renderFeedback(item));
        // As contract/replies.py's feedback_payload writes it; `value` is one of FEEDBACK's keys.
        send('/feedback{"value": "' + value + '"}', null, input, { silent: true });
      });
      box.appendChild(button);
    });
    return box;
  }

  function callbackField(form, id, labelText, control, hint) {
    var wrap = el('div', 'field');
    var label = el('label', null, labelText);
    label.htmlFor = id;
    control.id = id;
    var error = el('p', 'field-error');
    error.id = id + '-error';
    error.hidden = true;
    control.setAttribute('aria-describedby', error.id);
    wrap.appendChild(label);
    if (hint) { wrap.appendChild(hint); }
    wrap.appendChild(control);
    wrap.appendChild(error);
    form.appendChild(wrap);
    return wrap;
  }

  // Out of hours: a form to be called back. Nothing typed into it is kept in the browser.
  function renderCallback(item) {
    if (item.status === 'sent') {
      return el('p', 'notice', item.message || CALLBACK_SENT);
    }
    var n = ++formCount;
    var form = el('form', 'callback-form');
    form.noValidate = true;
    form.setAttribute('aria-labelledby', 'cb-title-' + n);
    var title = el('h2', 'callback-title', 'ฝากชื่อและเบอร์ให้เจ้าหน้าที่โทรกลับ');
    title.id = 'cb-title-' + n;
    form.appendChild(title);
    if (item.office_hours) { form.appendChild(el('p', 'callback-hours', 'เวลาทำการ: ' + item.office_hours)); }

    var name = el('input');
    name.type = 'text';
    name.name = 'name';
    name.autocomplete = 'name';
    name.maxLength = 100;
    callbackField(form, 'cb-name-' + n, 'ชื่อ', name);
    var phone = el('input');
    phone.type = 'tel';
    phone.name = 'phone';
    phone.autocomplete = 'tel';
    phone.inputMode = 'tel';
    phone.maxLength = 30;
    callbackField(form, 'cb-phone-' + n, 'เบอร์โทรศัพท์', phone);
    var note = el('textarea');
    note.name = 'note';
    note.rows = 2;
    note.maxLength = 1000;
    callbackField(form, 'cb-note-' + n, 'เรื่องที่อยากสอบถาม (ไม่บังคับ)', note);

    var consentWrap = el('div', 'field consent');
    var consent = el('input');
    consent.type = 'checkbox';
    consent.name = 'consent';
    consent.id = 'cb-consent-' + n;
    var consentLabel = el('label', null,
      'ยินยอมให้เจ้าหน้าที่โทรกลับที่เบอร์นี้ และเก็บชื่อกับเบอร์ไว้เพื่อโทรกลับเท่านั้น');
    consentLabel.htmlFor = consent.id;
    var consentError = el('p', 'field-error');
    consentError.id = consent.id + '-error';
    consentError.hidden = true;
    consent.setAttribute('aria-describedby', consentError.id);
    var consentRow = el('div', 'consent-row');
    consentRow.appendChild(consent);
    consentRow.appendChild(consentLabel);
    consentWrap.appendChild(consentRow);
    consentWrap.appendChild(consentError);
    form.appendChild(consentWrap);

    var formError = el('p', 'field-error form-error');
    formError.setAttribute('role', 'alert');
    formError.hidden = true;
    form.appendChild(formError);
    var submit = el('button', 'callback-send', 'ส่งคำขอให้โทรกลับ');
    submit.type = 'submit';
    form.appendChild(submit);

    var controls = { name: name, phone: phone, note: note, consent: consent };

    function showFieldErrors(fields) {
      var first = null;
      Object.keys(controls).forEach(function (key) {
        var control = controls[key];
        var error = document.getElementById(control.id + '-error');
        var bad = fields.indexOf(key) >= 0;
        control.setAttribute('aria-invalid', bad ? 'true' : 'false');
        error.textContent = bad ? CALLBACK_FIELD_ERRORS[key] : '';
        error.hidden = !bad;
        if (bad && !first) { first = control; }
      });
      return first;
    }

    form.addEventListener('submit', function (event) {
      event.preventDefault();
      formError.hidden = true;
      var missing = [];
      if (!name.value.trim()) { missing.push('name'); }
      if (!phone.value.trim()) { missing.push('phone'); }
      if (!consent.checked) { missing.push('consent'); }
      var first = showFieldErrors(missing);
      if (first) { first.focus(); return; }
      submit.disabled = true;
      fetch('/web/callback', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({
          sender: state.sender, name: name.value.trim(), phone: phone.value.trim(),
          note: note.value.trim(), consent: consent.checked
        })
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.status === 201 || response.ok) {
            item.status = 'sent';
            item.message = typeof data.message === 'string' ? data.message : CALLBACK_SENT;
            saveState();
            var done = renderCallback(item);
            form.replaceWith(done);
            setStatus(item.message);
            return;
          }
          var fields = Array.isArray(data.fields) ? data.fields.filter(function (f) {
            return Object.prototype.hasOwnProperty.call(CALLBACK_FIELD_ERRORS, f);
          }) : [];
          var bad = response.status === 422 ? showFieldErrors(fields) : null;
          if (bad) {
            bad.focus();
          } else {
            formError.textContent = orCallTheHotline('ส่งคำขอไม่สำเร็จ กรุณาลองอีกครั้ง');
            formError.hidden = false;
          }
        });
      }).catch(function () {
        formError.textContent = ERROR_NETWORK;
        formError.hidden = false;
      }).finally(function () {
        submit.disabled = false;
      });
    });
    return form;
  }

  function renderQuick(buttons) {
    quick.textContent = '';
    buttons.forEach(function (b) {
      var button = el('button', null, b.title);
      button.type = 'button';
      button.addEventListener('click', function (event) {
        // After a tap, focusing the input would pop up the phone keyboard over the answer.
        var touch = event.pointerType === 'touch' || event.pointerType === 'pen';
        send(b.payload, b.title, touch ? log : input);
      });
      quick.appendChild(button);
    });
  }

  function scrollToEnd() {
    log.scrollTop = log.scrollHeight;
  }

  function renderAll() {
    log.textContent = '';
    state.items.forEach(renderItem);
    renderQuick(state.quick || []);
    renderStatus();
    scrollToEnd();
  }

  // ---- the line above the input: who answers (a person, the queue) ----

  function agentStatus() {
    if (!state.agent) { return ''; }
    if (state.agent.name) { return 'เจ้าหน้าที่ ' + state.agent.name + ' กำลังตอบ'; }
    var position = state.agent.position;
    return typeof position === 'number' && position > 0 ? WAITING_TEXT + ' (คิวที่ ' + position + ')' : WAITING_TEXT;
  }

  function setStatus(text) {
    state.status = text || '';
    saveState();
    renderStatus();
  }

  function renderStatus() {
    var text = agentStatus() || state.status || '';
    if (statusLine.textContent !== text) { statusLine.textContent = text; }
    statusLine.hidden = !text;
    statusLine.classList.toggle('with-agent', !!state.agent);
    typingText.textContent = state.agent ? 'กำลังส่งถึงเจ้าหน้าที่…' : 'ผู้ช่วยกำลังพิมพ์…';
  }

  // ---- a person holds the conversation: their messages, live ----

  function enterAgentMode(name, position) {
    var was = state.agent;
    state.agent = {
      name: typeof name === 'string' && name ? name : (was && was.name) || null,
      position: typeof position === 'number' ? position : null
    };
    state.status = '';
    saveState();
    renderStatus();
    if (!was) { startUpdates(); }
  }

  function leaveAgentMode(text) {
    var was = state.agent;
    state.agent = null;
    state.status = text || '';
    saveState();
    renderStatus();
    stopUpdates();
    // The desk's last words (the person handing back) may not have arrived yet.
    if (was) { poll(); }
    return !!was;
  }

  function cursorNumber(value) {
    return /^[0-9]+$/.test(String(value)) ? Number(value) : null;
  }

  function shownAlready(cursor) {
    var n = cursorNumber(cursor);
    return (n !== null && n <= cursorNumber(state.cursor)) || state.seen.indexOf(String(cursor)) >= 0;
  }

  // One message from a person (agent or system), from the stream or the poll; each is shown once.
  function receive(message, cursor) {
    if (!message || typeof message.text !== 'string') { return; }
    if (cursor !== undefined && cursor !== null) {
      if (shownAlready(cursor)) { return; }
      state.seen.push(String(cursor));
      state.seen = state.seen.slice(-MAX_ITEMS);
    }
    if (message.from === 'agent') {
      if (state.agent && message.agent) { state.agent.name = message.agent; }
      addItem({ role: 'agent', type: 'text', text: message.text, agent: message.agent || '' });
    } else {
      addItem({ role: 'system', type: 'notice', text: message.text });
    }
    saveState();
    renderStatus();
  }

  function onStreamEvent(event) {
    var data;
    try { data = JSON.parse(event.data); } catch (e) { return; }
    if (!data || typeof data !== 'object') { return; }
    if (data.type === 'message') {
      receive(data.message, data.cursor);
    } else if (data.type === 'taken' && state.agent) {
      state.agent.name = typeof data.agent === 'string' && data.agent ? data.agent : state.agent.name;
      saveState();
      renderStatus();
    } else if (data.type === 'released') {
      leaveAgentMode(RELEASED_TEXT);
    }
  }

  function poll() {
    var sender = state.sender;
    var url = '/web/updates?sender=' + encodeURIComponent(sender) + '&after=' + encodeURIComponent(state.cursor);
    return fetch(url, { cache: 'no-store' }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (data) {
      if (!data || sender !== state.sender || !Array.isArray(data.messages)) { return; }
      data.messages.forEach(function (m) {
        if (m && m.type === 'released') { leaveAgentMode(RELEASED_TEXT); } else { receive(m, m && m.cursor); }
      });
      // Everything up to the answer's cursor is on screen now.
      var n = cursorNumber(data.cursor);
      if (n !== null && n > cursorNumber(state.cursor)) {
        state.cursor = String(n);
        state.seen = state.seen.filter(function (c) { return !(cursorNumber(c) <= n); });
        saveState();
      }
    }).catch(function () { /* offline: the next poll tries again */ });
  }

  function schedulePoll() {
    window.clearTimeout(live.pollTimer);
    live.pollTimer = null;
    if (!state.agent) { return; }
    live.pollTimer = window.setTimeout(function () {
      live.pollTimer = null;
      poll().finally(schedulePoll);
    }, live.open ? POLL_STREAM_UP_MS : POLL_STREAM_DOWN_MS);
  }

  function openStream() {
    window.clearTimeout(live.retryTimer);
    if (!state.agent || typeof window.EventSource !== 'function') { return; }
    // `after` replays what came since the last message shown, so a reconnect loses nothing.
    var source = new EventSource('/web/updates/stream?sender=' + encodeURIComponent(state.sender) +
      '&after=' + encodeURIComponent(state.cursor));
    live.source = source;
    source.onopen = function () {
      live.open = true;
      live.retries = 0;
      schedulePoll();
    };
    source.onmessage = onStreamEvent;
    source.onerror = function () {
      // Reconnect ourselves with the newest cursor and a growing delay; poll meanwhile.
      source.close();
      if (live.source !== source) { return; }
      var wasOpen = live.open;
      live.source = null;
      live.open = false;
      // Each failed reconnect must not push the next poll back: only losing the stream reschedules it.
      if (wasOpen || live.pollTimer === null) { schedulePoll(); }
      var delay = Math.min(STREAM_RETRY_MAX_MS, 1000 * Math.pow(2, live.retries));
      live.retries += 1;
      live.retryTimer = window.setTimeout(openStream, delay / 2 + Math.random() * delay / 2);
    };
  }

  function startUpdates() {
    stopUpdates();
    if (!state.agent) { return; }
    openStream();
    poll().finally(schedulePoll);
  }

  function stopUpdates() {
    if (live.source) { live.source.close(); }
    live.source = null;
    live.open = false;
    live.retries = 0;
    window.clearTimeout(live.pollTimer);
    live.pollTimer = null;
    window.clearTimeout(live.retryTimer);
  }

  function addItem(item) {
    state.items.push(item);
    renderItem(item);
    scrollToEnd();
  }

  // ---- talking to the gateway ----

  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = false;
  }

  function clearError() {
    errorBox.hidden = true;
    errorBox.textContent = '';
  }

  function setBusy(on) {
    busy = on;
    sendButton.disabled = on;
    typing.hidden = !on;
    log.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  function postChat(message) {
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, REQUEST_TIMEOUT_MS) : null;
    return fetch('/web/chat', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ sender: state.sender, message: message }),
      signal: controller ? controller.signal : undefined
    }).finally(function () { if (timer) { clearTimeout(timer); } });
  }

  function showReply(data) {
    var envelope = data && data.envelope && typeof data.envelope === 'object' ? data.envelope : {};
    state.quick = Array.isArray(data && data.buttons) ? data.buttons.filter(isButton) : [];
    if (envelope.kind === 'with_agent') {
      // A person holds the conversation: the message went to them, and the bot says nothing.
      enterAgentMode(envelope.agent, envelope.queue_position);
      renderQuick(state.quick);
      saveState();
      return;
    }
    if (state.agent) { leaveAgentMode(''); } // the bot answered: nobody holds the conversation any more
    var messages = Array.isArray(data && data.messages) ? data.messages : [];
    messages.forEach(function (m) {
      if (m && m.type === 'card' && m.card) {
        addItem({ role: 'bot', type: 'card', card: m.card });
      } else if (m && typeof m.text === 'string') {
        addItem({ role: 'bot', type: 'text', text: m.text });
      }
    });
    if (envelope.kind === 'handoff') {
      if (envelope.callback === true) {
        addItem({ role: 'bot', type: 'callback', status: 'open',
                  office_hours: typeof envelope.office_hours === 'string' ? envelope.office_hours : '' });
      } else if (typeof envelope.queue_position === 'number') {
        enterAgentMode(null, envelope.queue_position);
      }
    }
    var values = Array.isArray(envelope.feedback) ? envelope.feedback.filter(function (v) { return FEEDBACK[v]; }) : [];
    if (values.length) { addItem({ role: 'bot', type: 'feedback', values: values, chosen: null }); }
    renderQuick(state.quick);
    saveState();
  }

  // A rating refers to the answer just given: once the citizen writes again, older buttons go.
  function expireFeedback() {
    state.items.forEach(function (item) {
      if (item.type === 'feedback' && !item.chosen && !item.expired) { item.expired = true; }
    });
    Array.prototype.forEach.call(log.querySelectorAll('.feedback'), function (node) {
      if (node.querySelector('button')) { node.remove(); }
    });
  }

  function send(message, shown, focusTarget, options) {
    if (busy) { return; }
    var silent = options && options.silent;
    clearError();
    if (!silent) {
      expireFeedback();
      addItem({ role: 'user', type: 'text', text: shown || message });
    }
    if (!state.agent && state.status) { state.status = ''; renderStatus(); }
    state.quick = [];
    renderQuick([]);
    saveState();
    setBusy(true);
    postChat(message).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          showError(typeof data.error === 'string' && (response.status === 503 || response.status === 429) ? data.error : ERROR_SERVER);
          return;
        }
        showReply(data);
      });
    }).catch(function () {
      showError(ERROR_NETWORK);
      if (!input.value) { input.value = shown ? '' : message; }
    }).finally(function () {
      setBusy(false);
      scrollToEnd();
      (focusTarget || input).focus({ preventScroll: true });
    });
  }

  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = input.value.trim();
    if (!text || busy) { return; }
    input.value = '';
    send(text);
  });

  resetButton.addEventListener('click', function () {
    stopUpdates();
    state = freshState();
    saveState();
    clearError();
    renderAll();
    input.focus();
  });

  // ---- page setup ----

  var params = new URLSearchParams(window.location.search);
  var customTitle = params.get('title');
  if (customTitle) {
    customTitle = customTitle.slice(0, 80);
    document.getElementById('title').textContent = customTitle;
    document.title = customTitle;
  }
  var embedded = window.self !== window.top;
  if (embedded || params.get('embed') === '1') {
    document.documentElement.classList.add('embedded');
  }
  // The embed script asks for focus when its panel opens; only a message from the parent counts.
  window.addEventListener('message', function (event) {
    if (event.source === window.parent && event.data === 'thgov-chat:focus') { input.focus(); }
  });

  // Escape inside the iframe never reaches the host page, so tell the embed script to close the panel.
  document.addEventListener('keydown', function (event) {
    if (embedded && event.key === 'Escape') { window.parent.postMessage('thgov-chat:close', '*'); }
  });

  state = loadState();
  saveState(); // the sender is fixed from the first moment, before anything is sent
  renderAll();
  // After a reload while a person holds the conversation: what came since the stored cursor, then live.
  if (state.agent) { startUpdates(); }
  if (!embedded) { input.focus(); }
}());

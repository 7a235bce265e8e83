/* The agent console (/agent/): sign in, the queue live, one conversation at a time, the callbacks and
 * the assist box. Everything from the server is put into the page with textContent, never as markup:
 * citizens' messages are whatever they typed. Links are made only for http(s) URLs. */
(function () {
  'use strict';

  var TOKEN_KEY = 'thgov-agent-token';
  var POLL_LIVE_MS = 30000; // a safety net while the live stream is up
  var POLL_OFFLINE_MS = 5000; // while it is down, the poll is what keeps the queue fresh
  var BACKOFF_MIN_MS = 1000;
  var BACKOFF_MAX_MS = 30000;
  var CALL_CENTRE = ['agent', 'supervisor'];
  var OUTCOMES = [
    { value: 'answered', label: 'ตอบคำถามแล้ว' },
    { value: 'not_public_service', label: 'ไม่ใช่เรื่องบริการภาครัฐ' },
    { value: 'referred', label: 'แนะนำให้ติดต่อหน่วยงาน' },
    { value: 'no_response', label: 'ประชาชนไม่ตอบกลับ' },
    { value: 'other', label: 'อื่น ๆ' }
  ];
  var CALLBACK_OUTCOMES = [
    { value: 'answered', label: 'โทรกลับและตอบแล้ว' },
    { value: 'no_response', label: 'โทรแล้วไม่มีผู้รับสาย' },
    { value: 'referred', label: 'แนะนำให้ติดต่อหน่วยงาน' },
    { value: 'not_public_service', label: 'ไม่ใช่เรื่องบริการภาครัฐ' },
    { value: 'other', label: 'อื่น ๆ' }
  ];
  var ROLE_LABELS = Staff.ROLE_LABELS;
  var CHANNEL_LABELS = { web: 'เว็บแชท', line: 'LINE' };
  var AUTHOR_LABELS = { citizen: 'ประชาชน', bot: 'ผู้ช่วยอัตโนมัติ', agent: 'เจ้าหน้าที่', system: 'ระบบ' };
  // The details the bot asked the citizen for (gateway/conversations.py, DETAIL_SLOTS).
  var DETAIL_LABELS = { age: 'อายุ', vehicle: 'ยานพาหนะ', person: 'ยื่นให้ใคร', validity_years: 'อายุเล่ม (ปี)' };
  var TAKEN_BY_OTHER = 'มีเจ้าหน้าที่คนอื่นรับเรื่องนี้แล้ว';
  var NETWORK_ERROR = Staff.NETWORK_ERROR;
  // The topics' Thai labels come from the contract, written into the page by the server (staff/api/pages.py).
  var TOPICS = Staff.readJson(document.body.getAttribute('data-topics'));

  var $ = function (id) { return document.getElementById(id); };
  var ui = {
    console: $('console'), connection: $('connection'), whoName: $('who-name'), whoRole: $('who-role'),
    announcer: $('announcer'),
    tabQueue: $('tab-queue'), tabCallbacks: $('tab-callbacks'),
    panelQueue: $('panel-queue'), panelCallbacks: $('panel-callbacks'),
    queueList: $('queue-list'), queueEmpty: $('queue-empty'), queueCount: $('queue-count'),
    callbackList: $('callback-list'), callbacksEmpty: $('callbacks-empty'), callbackCount: $('callback-count'),
    placeholder: $('placeholder'), placeholderNote: $('placeholder-note'),
    conv: $('conv'), convTitle: $('conv-title'), convState: $('conv-state'), convNotice: $('conv-notice'),
    take: $('take'), forward: $('forward'), release: $('release'), close: $('close'),
    transcript: $('transcript'), summary: $('summary'),
    replyForm: $('reply-form'), reply: $('reply'), replySend: $('reply-send'),
    callback: $('callback'), callbackTitle: $('callback-title'), callbackFacts: $('callback-facts'),
    callbackForm: $('callback-form'), callbackOutcome: $('callback-outcome'), callbackNotice: $('callback-notice'),
    assistForm: $('assist-form'), assistText: $('assist-text'), assistSend: $('assist-send'),
    assistScope: $('assist-scope'), assistScopeText: $('assist-scope-text'),
    assistScopeClear: $('assist-scope-clear'), assistResult: $('assist-result'),
    forwardDialog: $('forward-dialog'), forwardForm: $('forward-form'), forwardTo: $('forward-to'),
    forwardError: $('forward-error'),
    closeDialog: $('close-dialog'), closeForm: $('close-form'), closeOutcomes: $('close-outcomes'),
    closeNote: $('close-note'), closeError: $('close-error')
  };

  var me = null;
  var queue = [];
  var callbacks = [];
  var agents = [];
  var openId = null; // the conversation shown
  var openCallbackId = null;
  var rendered = { id: null, keys: [] }; // the transcript on screen, to append rather than redraw
  var unread = {}; // conversation id -> citizen messages not yet seen
  var knownIds = null; // the queue's ids at the last load, to announce what is new
  var assistScope = null; // {service_id, text}: the alternative chosen in the assist box

  var stream = { controller: null, generation: 0, attempt: 0, timer: null, live: false };
  var pollTimer = null;
  var clockTimer = null;
  var queueLoading = null;
  var queueAgain = false;
  var queueSoon = null;

  // ---- small helpers (shared with the agency's pages: staff/static/common/staff.js) ----

  var el = Staff.el;
  var safeUrl = Staff.safeUrl;
  var link = Staff.link;
  var show = Staff.show;
  var announce = Staff.announcer(ui.announcer);

  function topicLabel(topic) {
    return (topic && TOPICS[topic]) || topic || '';
  }

  function agentName(username) {
    if (!username) { return ''; }
    if (me && username === me.username) { return me.display_name || username; }
    for (var i = 0; i < agents.length; i++) {
      if (agents[i].username === username) { return agents[i].display_name || username; }
    }
    return username;
  }

  function parseTime(value) {
    var t = Date.parse(value);
    return isNaN(t) ? null : t;
  }

  function clock(value) {
    var t = parseTime(value);
    if (t === null) { return ''; }
    return new Date(t).toLocaleTimeString('th-TH', { hour: '2-digit', minute: '2-digit' });
  }

  function waited(value) {
    var t = parseTime(value);
    if (t === null) { return ''; }
    var minutes = Math.max(0, Math.floor((Date.now() - t) / 60000));
    if (minutes < 1) { return 'รอไม่ถึง 1 นาที'; }
    if (minutes < 60) { return 'รอ ' + minutes + ' นาที'; }
    return 'รอ ' + Math.floor(minutes / 60) + ' ชม. ' + (minutes % 60) + ' นาที';
  }

  function percent(value) {
    return typeof value === 'number' ? Math.round(value * 100) + '%' : '–';
  }

  // ---- the API: the token, any 401 back to sign-in (staff.js) ----

  function api(method, path, body) {
    return session.api(method, path, body);
  }

  function errorText(error, conflict) {
    var status = error && error.status;
    if (status === 409 && conflict) { return conflict; }
    if (status === 403) { return 'บัญชีนี้ไม่มีสิทธิ์ทำรายการนี้'; }
    if (status === 404) { return 'ไม่พบเรื่องนี้แล้ว อาจปิดไปแล้ว'; }
    if (status === 0) { return NETWORK_ERROR; }
    return 'ทำรายการไม่สำเร็จ กรุณาลองอีกครั้ง';
  }

  // ---- signing in and out ----

  var session = Staff.session({
    tokenKey: TOKEN_KEY,
    roles: CALL_CENTRE,
    refused: 'บัญชีนี้ไม่ใช่บัญชีเจ้าหน้าที่ศูนย์บริการ จึงใช้คอนโซลนี้ไม่ได้',
    app: ui.console,
    start: start,
    stop: stopLive
  });

  function signedOut(info) {
    session.signedOut(info);
  }

  // The console and its live feed, for the agent signed in.
  function start(user) {
    me = user;
    ui.whoName.textContent = user.display_name || user.username;
    ui.whoRole.textContent = ROLE_LABELS[user.role] || user.role;
    queue = [];
    knownIds = null;
    unread = {};
    closeView('');
    loadAgents();
    loadCallbacks();
    return loadQueue().then(function () {
      var first = ui.queueList.querySelector('button');
      (first || ui.tabQueue).focus();
      startLive();
    });
  }

  // ---- live: Server-Sent Events over fetch (an EventSource cannot send the Authorization header) ----

  function setLive(on) {
    var changed = stream.live !== on;
    stream.live = on;
    ui.connection.dataset.state = on ? 'on' : 'off';
    ui.connection.textContent = on ? 'อัปเดตสด' : 'กำลังเชื่อมต่อใหม่… (ดึงข้อมูลทุก 5 วินาที)';
    // Each failed reconnect must not push the next poll back: only a change of state reschedules it.
    if (changed || pollTimer === null) { schedulePoll(); }
  }

  function startLive() {
    stopLive();
    stream.attempt = 0;
    connect();
    clockTimer = window.setInterval(tick, 15000);
  }

  function stopLive() {
    stream.generation += 1;
    if (stream.controller) { stream.controller.abort(); }
    stream.controller = null;
    window.clearTimeout(stream.timer);
    window.clearTimeout(pollTimer);
    pollTimer = null;
    window.clearInterval(clockTimer);
    stream.live = false;
  }

  function connect() {
    var generation = ++stream.generation;
    var controller = new AbortController();
    stream.controller = controller;
    fetch('/api/agent/events', {
      headers: { Authorization: 'Bearer ' + session.token(), Accept: 'text/event-stream' },
      cache: 'no-store',
      signal: controller.signal
    }).then(function (response) {
      if (response.status === 401) {
        signedOut('การเข้าสู่ระบบหมดอายุ กรุณาเข้าสู่ระบบอีกครั้ง');
        return null;
      }
      if (!response.ok || !response.body) { throw new Error('events: ' + response.status); }
      stream.attempt = 0;
      setLive(true);
      scheduleQueueLoad(); // whatever changed while the stream was down
      return Staff.readEvents(response.body, onEvent, function () { return generation === stream.generation; });
    }).catch(function () { /* reconnect below */ }).then(function () {
      if (generation !== stream.generation || !session.token()) { return; }
      setLive(false);
      // Exponential backoff with jitter, so that many consoles do not reconnect in step.
      var delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * Math.pow(2, stream.attempt));
      stream.attempt += 1;
      stream.timer = window.setTimeout(connect, delay / 2 + Math.random() * delay / 2);
    });
  }

  function onEvent(event) {
    if (event.type === 'message') {
      onMessageEvent(event.conversation_id, event.message);
    } else if (event.type === 'queue') {
      scheduleQueueLoad();
    } else if (event.type === 'callbacks') {
      loadCallbacks();
    }
  }

  function schedulePoll() {
    window.clearTimeout(pollTimer);
    pollTimer = null;
    if (!session.token()) { return; }
    pollTimer = window.setTimeout(function () {
      pollTimer = null;
      loadQueue().catch(function () {});
      loadCallbacks();
      schedulePoll();
    }, stream.live ? POLL_LIVE_MS : POLL_OFFLINE_MS);
  }

  function tick() {
    Array.prototype.forEach.call(ui.queueList.querySelectorAll('[data-since]'), function (node) {
      node.textContent = waited(node.getAttribute('data-since'));
    });
  }

  // ---- the queue ----

  function scheduleQueueLoad() {
    window.clearTimeout(queueSoon);
    // Events come in bursts (a take is a queue change and a system message): one reload for them.
    queueSoon = window.setTimeout(function () { loadQueue().catch(function () {}); }, 120);
  }

  function loadQueue() {
    if (queueLoading) {
      queueAgain = true;
      return queueLoading;
    }
    queueLoading = api('GET', '/api/agent/queue').then(function (data) {
      var list = data && Array.isArray(data.conversations) ? data.conversations : [];
      var before = knownIds;
      queue = list;
      knownIds = {};
      var fresh = 0;
      list.forEach(function (c) {
        knownIds[c.id] = true;
        if (before && !before[c.id]) { fresh += 1; }
      });
      if (fresh) { announce(fresh === 1 ? 'มีเรื่องใหม่เข้าคิว' : 'มีเรื่องใหม่เข้าคิว ' + fresh + ' เรื่อง'); }
      renderQueue();
      if (openId) { refreshOpen(); }
    }).finally(function () {
      queueLoading = null;
      if (queueAgain) {
        queueAgain = false;
        loadQueue().catch(function () {});
      }
    });
    return queueLoading;
  }

  function findConversation(id) {
    for (var i = 0; i < queue.length; i++) {
      if (queue[i].id === id) { return queue[i]; }
    }
    return null;
  }

  function summaryTitle(c) {
    var s = c.summary || {};
    var parts = [];
    if (s.service_id) { parts.push(s.service_name || s.service_id); }
    if (s.topic) { parts.push(topicLabel(s.topic)); }
    return parts.length ? parts.join(' · ') : 'ยังไม่ทราบบริการ';
  }

  function statusText(c) {
    if (c.status === 'taken') {
      return c.agent && me && c.agent === me.username ? 'คุณรับเรื่องนี้อยู่' : 'รับโดย ' + agentName(c.agent);
    }
    return 'รอรับเรื่อง';
  }

  function lastCitizenText(c) {
    var t = Array.isArray(c.transcript) ? c.transcript : [];
    for (var i = t.length - 1; i >= 0; i--) {
      if (t[i] && t[i].from === 'citizen' && typeof t[i].text === 'string') { return t[i].text; }
    }
    return '';
  }

  function renderQueue() {
    var focusedId = document.activeElement && document.activeElement.getAttribute('data-id');
    ui.queueList.textContent = '';
    queue.forEach(function (c, index) {
      var li = el('li');
      var button = el('button', 'item');
      button.type = 'button';
      button.setAttribute('data-id', c.id);
      button.dataset.status = c.status === 'taken' && me && c.agent === me.username ? 'mine' : c.status;
      if (c.id === openId) { button.setAttribute('aria-current', 'true'); }
      if (index < 9) { button.setAttribute('aria-keyshortcuts', 'Alt+' + (index + 1)); }
      var top = el('span', 'item-top');
      top.appendChild(el('span', 'item-number', index + 1));
      top.appendChild(el('span', 'badge', CHANNEL_LABELS[c.channel] || c.channel));
      top.appendChild(el('span', 'item-title', summaryTitle(c)));
      if (unread[c.id]) { top.appendChild(el('span', 'unread', 'ใหม่ ' + unread[c.id])); }
      button.appendChild(top);
      var meta = el('span', 'item-meta');
      var since = el('span', 'since', waited(c.waiting_since));
      since.setAttribute('data-since', c.waiting_since || '');
      meta.appendChild(since);
      meta.appendChild(el('span', 'status', statusText(c)));
      button.appendChild(meta);
      var preview = lastCitizenText(c);
      if (preview) { button.appendChild(el('span', 'item-preview', preview)); }
      button.addEventListener('click', function () { openConversation(c.id, true); });
      li.appendChild(button);
      ui.queueList.appendChild(li);
    });
    ui.queueEmpty.hidden = queue.length > 0;
    ui.queueCount.textContent = String(queue.length);
    if (focusedId) {
      var again = ui.queueList.querySelector('button[data-id="' + cssEscape(focusedId) + '"]');
      if (again) { again.focus(); }
    }
  }

  function cssEscape(value) {
    return window.CSS && CSS.escape ? CSS.escape(value) : String(value).replace(/["\\]/g, '\\$&');
  }

  // ---- one conversation ----

  function openConversation(id, focus) {
    if (!findConversation(id)) { return; }
    selectTab('queue', false);
    openId = id;
    openCallbackId = null;
    delete unread[id];
    ui.convNotice.hidden = true;
    ui.placeholder.hidden = true;
    ui.callback.hidden = true;
    ui.conv.hidden = false;
    rendered = { id: null, keys: [] };
    renderQueue();
    refreshOpen();
    if (focus) { ui.convTitle.focus(); }
  }

  function closeView(note) {
    openId = null;
    openCallbackId = null;
    rendered = { id: null, keys: [] };
    ui.conv.hidden = true;
    ui.callback.hidden = true;
    ui.placeholder.hidden = false;
    ui.placeholderNote.textContent = note || '';
  }

  function mine(c) {
    return !!(c && c.status === 'taken' && me && c.agent === me.username);
  }

  function refreshOpen() {
    var c = findConversation(openId);
    if (!c) {
      // Released, closed or gone while it was open: say so instead of leaving a stale page.
      closeView('เรื่องที่เปิดอยู่ออกจากคิวแล้ว');
      renderQueue();
      return;
    }
    ui.convTitle.textContent = (CHANNEL_LABELS[c.channel] || c.channel) + ' · ' + summaryTitle(c);
    ui.convState.textContent = statusText(c) + ' · ' + waited(c.waiting_since);
    var holding = mine(c);
    // A supervisor may end any conversation (an agent went home holding one); only the holder writes.
    var mayEnd = holding || (me && me.role === 'supervisor');
    ui.take.hidden = holding;
    ui.forward.disabled = !holding;
    ui.release.disabled = !mayEnd;
    ui.close.disabled = !mayEnd;
    ui.reply.disabled = !holding;
    ui.replySend.disabled = !holding;
    ui.reply.placeholder = holding ? 'พิมพ์ข้อความถึงประชาชน' : 'รับเรื่องก่อนจึงจะตอบได้';
    renderSummary(c.summary || {});
    renderTranscript(c);
  }

  function renderSummary(s) {
    ui.summary.textContent = '';
    addFact(ui.summary, 'บริการ', s.service_name || s.service_id || 'ยังไม่ทราบ');
    addFact(ui.summary, 'เรื่อง', s.topic ? topicLabel(s.topic) : 'ยังไม่ทราบ');
    var details = s.details && typeof s.details === 'object' ? s.details : {};
    Object.keys(details).forEach(function (key) {
      var value = details[key];
      if (value === null || value === undefined || value === '') { return; }
      addFact(ui.summary, DETAIL_LABELS[key] || key, typeof value === 'object' ? JSON.stringify(value) : value);
    });
    if (typeof s.bot_answer === 'string' && s.bot_answer) {
      addFact(ui.summary, 'ผู้ช่วยตอบล่าสุด', s.bot_answer).className = 'long';
    }
  }

  function addFact(dl, term, value) {
    dl.appendChild(el('dt', null, term));
    return dl.appendChild(el('dd', null, value));
  }

  // Messages are keyed by author, time and text: the same message from the queue and from the
  // stream is shown once.
  function messageKey(m) {
    var t = parseTime(m.at);
    return [m.from, t === null ? m.at : t, m.text].join('|');
  }

  function renderTranscript(c) {
    var messages = Array.isArray(c.transcript) ? c.transcript.filter(validMessage) : [];
    var keys = messages.map(messageKey);
    var prefix = rendered.id === c.id && rendered.keys.length <= keys.length &&
      rendered.keys.every(function (k, i) { return keys[i] === k; });
    if (!prefix) {
      ui.transcript.textContent = '';
      rendered = { id: c.id, keys: [] };
    }
    var atEnd = ui.transcript.scrollHeight - ui.transcript.scrollTop - ui.transcript.clientHeight < 40;
    messages.slice(rendered.keys.length).forEach(function (m) {
      ui.transcript.appendChild(renderMessage(m));
    });
    rendered.keys = keys;
    if (!prefix || atEnd) { ui.transcript.scrollTop = ui.transcript.scrollHeight; }
  }

  function validMessage(m) {
    return m && typeof m.text === 'string' && typeof m.from === 'string';
  }

  function renderMessage(m) {
    var li = el('li', 'msg msg-' + (AUTHOR_LABELS[m.from] ? m.from : 'system'));
    var head = el('p', 'msg-head');
    var who = AUTHOR_LABELS[m.from] || m.from;
    if (m.from === 'agent' && (m.display_name || m.agent)) { who = 'เจ้าหน้าที่ ' + (m.display_name || agentName(m.agent)); }
    head.appendChild(el('span', 'msg-who', who));
    var time = el('time', 'msg-time', clock(m.at));
    if (m.at) { time.dateTime = m.at; }
    head.appendChild(time);
    li.appendChild(head);
    li.appendChild(el('p', 'msg-text', m.text));
    return li;
  }

  function onMessageEvent(id, message) {
    if (!validMessage(message)) { return; }
    var c = findConversation(id);
    if (!c) { scheduleQueueLoad(); return; }
    c.transcript = Array.isArray(c.transcript) ? c.transcript : [];
    var key = messageKey(message);
    if (c.transcript.some(function (m) { return validMessage(m) && messageKey(m) === key; })) { return; }
    c.transcript.push(message);
    if (id === openId) {
      renderTranscript(c);
    } else if (message.from === 'citizen') {
      unread[id] = (unread[id] || 0) + 1;
      var index = queue.indexOf(c) + 1;
      announce('ข้อความใหม่จากประชาชน เรื่องลำดับที่ ' + index);
    }
    renderQueue();
  }

  function notice(text) {
    show(ui.convNotice, text);
  }

  // One action on the open conversation; resolves to whether it worked, once the queue is fresh
  // (after a refusal too: the queue then shows who holds the conversation now).
  function act(button, path, conflict) {
    var id = openId;
    if (!id || button.disabled) { return Promise.resolve(false); }
    button.disabled = true;
    ui.convNotice.hidden = true;
    return api('POST', '/api/agent/conversations/' + encodeURIComponent(id) + '/' + path).then(function () {
      return true;
    }, function (error) {
      if (error.status !== 401) { notice(errorText(error, conflict)); }
      return false;
    }).then(function (ok) {
      button.disabled = false;
      return loadQueue().catch(function () {}).then(function () { return ok; });
    });
  }

  function take() {
    if (ui.take.hidden) { return; }
    act(ui.take, 'take', TAKEN_BY_OTHER).then(function (ok) {
      if (!ok) { return; }
      announce('รับเรื่องแล้ว');
      if (!ui.reply.disabled) { ui.reply.focus(); }
    });
  }

  function release() {
    var id = openId;
    act(ui.release, 'release').then(function (ok) {
      if (!ok) { return; }
      if (openId === id || openId === null) { closeView('คืนเรื่องให้ผู้ช่วยอัตโนมัติแล้ว'); }
      focusQueue();
    });
  }

  ui.take.addEventListener('click', take);
  ui.release.addEventListener('click', release);

  // Enter sends, Shift+Enter is a new line; never while an input method is composing.
  ui.reply.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing && !event.altKey && !event.ctrlKey) {
      event.preventDefault();
      ui.replyForm.requestSubmit();
    }
  });

  ui.replyForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = ui.reply.value.trim();
    var id = openId;
    if (!text || !id || ui.replySend.disabled) { return; }
    ui.replySend.disabled = true;
    ui.convNotice.hidden = true;
    api('POST', '/api/agent/conversations/' + encodeURIComponent(id) + '/messages', { text: text }).then(function () {
      if (ui.reply.value.trim() === text) { ui.reply.value = ''; }
    }, function (error) {
      if (error.status === 401) { return; }
      notice(error.status === 403 || error.status === 409
        ? 'คุณไม่ได้รับเรื่องนี้อยู่ จึงส่งข้อความไม่ได้' : errorText(error));
    }).then(function () {
      ui.replySend.disabled = false;
      ui.reply.focus();
      return loadQueue().catch(function () {});
    });
  });

  // ---- forward and close: dialogs ----

  function openDialog(dialog, first) {
    if (dialog.open) { return; }
    dialog.showModal();
    if (first) { first.focus(); }
  }

  Array.prototype.forEach.call(document.querySelectorAll('dialog [data-cancel]'), function (button) {
    button.addEventListener('click', function () { button.closest('dialog').close(); });
  });

  function loadAgents() {
    return api('GET', '/api/agent/agents').then(function (data) {
      agents = data && Array.isArray(data.agents) ? data.agents : [];
    }).catch(function () {});
  }

  function openForward() {
    if (ui.forward.disabled) { return; }
    loadAgents().then(function () {
      ui.forwardTo.textContent = '';
      var others = agents.filter(function (a) { return !me || a.username !== me.username; });
      others.forEach(function (a) {
        var option = el('option', null, (a.display_name || a.username) + ' (' + (ROLE_LABELS[a.role] || a.role) + ')');
        option.value = a.username;
        ui.forwardTo.appendChild(option);
      });
      show(ui.forwardError, others.length ? '' : 'ไม่มีเพื่อนร่วมงานให้ส่งต่อ');
      openDialog(ui.forwardDialog, ui.forwardTo);
    });
  }

  ui.forward.addEventListener('click', openForward);
  ui.forwardForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var to = ui.forwardTo.value;
    if (!to || !openId) { return; }
    api('POST', '/api/agent/conversations/' + encodeURIComponent(openId) + '/forward', { to: to }).then(function () {
      ui.forwardDialog.close();
      announce('ส่งต่อให้ ' + agentName(to) + ' แล้ว');
      notice('');
      return loadQueue();
    }, function (error) {
      if (error.status !== 401) { show(ui.forwardError, errorText(error, 'ส่งต่อไม่ได้ เรื่องนี้ไม่ได้อยู่กับคุณแล้ว')); }
    }).catch(function () {});
  });

  OUTCOMES.forEach(function (o, index) {
    var label = el('label', 'choice');
    var radio = el('input');
    radio.type = 'radio';
    radio.name = 'outcome';
    radio.value = o.value;
    radio.checked = index === 0;
    label.appendChild(radio);
    label.appendChild(el('span', null, o.label));
    ui.closeOutcomes.appendChild(label);
  });

  function openClose() {
    if (ui.close.disabled) { return; }
    ui.closeError.hidden = true;
    ui.closeNote.value = '';
    openDialog(ui.closeDialog, ui.closeForm.querySelector('input[name="outcome"]:checked'));
  }

  ui.close.addEventListener('click', openClose);
  ui.closeForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var chosen = ui.closeForm.querySelector('input[name="outcome"]:checked');
    if (!chosen || !openId) { return; }
    var body = { outcome: chosen.value, note: ui.closeNote.value.trim() };
    api('POST', '/api/agent/conversations/' + encodeURIComponent(openId) + '/close', body).then(function () {
      ui.closeDialog.close();
      closeView('ปิดเรื่องแล้ว: ' + chosen.parentNode.textContent);
      focusQueue();
      return loadQueue();
    }, function (error) {
      if (error.status !== 401) { show(ui.closeError, errorText(error, 'ปิดไม่ได้ เรื่องนี้ไม่ได้อยู่กับคุณแล้ว')); }
    }).catch(function () {});
  });

  // ---- callbacks ----

  function loadCallbacks() {
    if (!session.token()) { return Promise.resolve(); }
    return api('GET', '/api/agent/callbacks').then(function (data) {
      var list = data && Array.isArray(data.callbacks) ? data.callbacks : [];
      callbacks = list.filter(function (c) { return c && c.status !== 'done'; });
      renderCallbacks();
      if (openCallbackId !== null) { renderCallback(); }
    }).catch(function () {});
  }

  function renderCallbacks() {
    ui.callbackList.textContent = '';
    callbacks.forEach(function (cb) {
      var li = el('li');
      var button = el('button', 'item');
      button.type = 'button';
      button.setAttribute('data-callback', String(cb.id));
      if (String(cb.id) === String(openCallbackId)) { button.setAttribute('aria-current', 'true'); }
      var top = el('span', 'item-top');
      top.appendChild(el('span', 'badge', CHANNEL_LABELS[cb.channel] || cb.channel || ''));
      top.appendChild(el('span', 'item-title', cb.name || 'ไม่ระบุชื่อ'));
      button.appendChild(top);
      var meta = el('span', 'item-meta');
      meta.appendChild(el('span', 'since', waited(cb.created_at).replace('รอ', 'ขอไว้')));
      meta.appendChild(el('span', 'status', cb.phone || ''));
      button.appendChild(meta);
      if (cb.note) { button.appendChild(el('span', 'item-preview', cb.note)); }
      button.addEventListener('click', function () { openCallback(cb.id); });
      li.appendChild(button);
      ui.callbackList.appendChild(li);
    });
    ui.callbacksEmpty.hidden = callbacks.length > 0;
    ui.callbackCount.textContent = String(callbacks.length);
  }

  function findCallback(id) {
    for (var i = 0; i < callbacks.length; i++) {
      if (String(callbacks[i].id) === String(id)) { return callbacks[i]; }
    }
    return null;
  }

  function openCallback(id) {
    openId = null;
    openCallbackId = id;
    ui.conv.hidden = true;
    ui.placeholder.hidden = true;
    ui.callback.hidden = false;
    ui.callbackNotice.hidden = true;
    renderQueue();
    renderCallbacks();
    renderCallback();
    ui.callbackTitle.focus();
  }

  function renderCallback() {
    var cb = findCallback(openCallbackId);
    if (!cb) {
      closeView('รายการโทรกลับนี้เสร็จแล้ว');
      return;
    }
    ui.callbackTitle.textContent = 'ขอให้โทรกลับ: ' + (cb.name || 'ไม่ระบุชื่อ');
    ui.callbackFacts.textContent = '';
    ui.callbackFacts.appendChild(el('dt', null, 'เบอร์โทร'));
    var dd = el('dd');
    var phone = String(cb.phone || '');
    var tel = el('a', null, phone);
    tel.href = 'tel:' + phone.replace(/[^+0-9]/g, '');
    dd.appendChild(tel);
    ui.callbackFacts.appendChild(dd);
    addFact(ui.callbackFacts, 'ช่องทาง', CHANNEL_LABELS[cb.channel] || cb.channel || '');
    addFact(ui.callbackFacts, 'ขอเมื่อ', cb.created_at ? new Date(parseTime(cb.created_at) || 0).toLocaleString('th-TH') : '');
    if (cb.note) { addFact(ui.callbackFacts, 'ข้อความ', cb.note); }
    var s = cb.summary || {};
    if (s.service_id) { addFact(ui.callbackFacts, 'บริการ', s.service_name || s.service_id); }
    if (s.topic) { addFact(ui.callbackFacts, 'เรื่อง', topicLabel(s.topic)); }
  }

  CALLBACK_OUTCOMES.forEach(function (o) {
    var option = el('option', null, o.label);
    option.value = o.value;
    ui.callbackOutcome.appendChild(option);
  });

  ui.callbackForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var id = openCallbackId;
    if (id === null) { return; }
    api('POST', '/api/agent/callbacks/' + encodeURIComponent(id) + '/done', { outcome: ui.callbackOutcome.value })
      .then(function () {
        closeView('บันทึกการโทรกลับแล้ว');
        return loadCallbacks().then(function () {
          var first = ui.callbackList.querySelector('button');
          (first || ui.tabCallbacks).focus();
        });
      }, function (error) {
        if (error.status !== 401) { show(ui.callbackNotice, errorText(error)); }
      });
  });

  // ---- tabs (queue / callbacks), with arrow keys as in the ARIA tabs pattern ----

  function selectTab(name, focus) {
    var queueTab = name === 'queue';
    ui.tabQueue.setAttribute('aria-selected', queueTab ? 'true' : 'false');
    ui.tabCallbacks.setAttribute('aria-selected', queueTab ? 'false' : 'true');
    ui.tabQueue.tabIndex = queueTab ? 0 : -1;
    ui.tabCallbacks.tabIndex = queueTab ? -1 : 0;
    ui.panelQueue.hidden = !queueTab;
    ui.panelCallbacks.hidden = queueTab;
    if (focus) { (queueTab ? ui.tabQueue : ui.tabCallbacks).focus(); }
    if (!queueTab) { loadCallbacks(); }
  }

  ui.tabQueue.addEventListener('click', function () { selectTab('queue', false); });
  ui.tabCallbacks.addEventListener('click', function () { selectTab('callbacks', false); });
  [ui.tabQueue, ui.tabCallbacks].forEach(function (tab) {
    tab.addEventListener('keydown', function (event) {
      if (event.key === 'ArrowRight' || event.key === 'ArrowLeft') {
        event.preventDefault();
        selectTab(tab === ui.tabQueue ? 'callbacks' : 'queue', true);
      }
    });
  });

  function focusQueue() {
    selectTab('queue', false);
    var current = ui.queueList.querySelector('button[aria-current="true"]') || ui.queueList.querySelector('button');
    (current || ui.tabQueue).focus();
  }

  // ---- assist ----

  // An alternative re-asks with its service and topic (the server answers on that topic).
  function ask(text, serviceId, topic) {
    ui.assistSend.disabled = true;
    ui.assistResult.setAttribute('aria-busy', 'true');
    assistScope = serviceId ? { service_id: serviceId, topic: topic || null } : null;
    renderScope();
    var body = { text: text, service_id: serviceId || null, topic: (serviceId && topic) || null };
    return api('POST', '/api/agent/assist', body).then(function (data) {
      renderAssist(text, data || {});
    }, function (error) {
      if (error.status === 401) { return; }
      ui.assistResult.textContent = '';
      // The server's own Thai text says which part is down (staff/assist.py) or what is missing.
      var detail = error.data && typeof error.data.detail === 'string' ? error.data.detail : '';
      ui.assistResult.appendChild(el('p', 'error', (error.status === 503 || error.status === 422) && detail
        ? detail : errorText(error)));
    }).then(function () {
      ui.assistSend.disabled = false;
      ui.assistResult.setAttribute('aria-busy', 'false');
    });
  }

  function renderScope() {
    ui.assistScope.hidden = !assistScope;
    ui.assistScopeText.textContent = assistScope
      ? 'ถามเฉพาะ ' + assistScope.service_id + (assistScope.topic ? ' · ' + topicLabel(assistScope.topic) : '')
      : '';
  }

  function renderAssist(text, data) {
    var box = ui.assistResult;
    box.textContent = '';
    var u = data.understanding || {};
    var understood = el('section', 'understood');
    understood.setAttribute('aria-label', 'ผู้ช่วยเข้าใจว่า');
    understood.appendChild(el('h3', null, 'ผู้ช่วยเข้าใจว่า'));
    var dl = el('dl', 'facts');
    addFact(dl, 'บริการ', u.service_id || 'ไม่แน่ใจ');
    addFact(dl, 'เรื่อง', u.topic ? topicLabel(u.topic) : 'ไม่แน่ใจ');
    addFact(dl, 'ความมั่นใจ', percent(u.confidence));
    understood.appendChild(dl);
    box.appendChild(understood);

    var answer = data.answer;
    var section = el('section', 'answer');
    section.setAttribute('aria-label', 'คำตอบ');
    section.appendChild(el('h3', null, 'คำตอบสำหรับอ่านให้ผู้โทรฟัง'));
    if (answer && typeof answer.text === 'string') {
      section.appendChild(el('p', 'answer-text', answer.text));
      var card = answer.card || data.card;
      var facts = card && Array.isArray(card.facts) ? card.facts : [];
      if (facts.length) {
        if (card.title) { section.appendChild(el('p', 'card-title', card.title)); }
        var ul = el('ul', 'card-facts');
        facts.forEach(function (f) { ul.appendChild(el('li', null, f)); });
        section.appendChild(ul);
      }
      var source = el('p', 'source');
      var href = safeUrl(answer.source_url || (card && card.source_url));
      if (href) {
        source.appendChild(document.createTextNode('ที่มา: '));
        source.appendChild(link(href, new URL(href).hostname));
      }
      var updated = answer.updated || (card && card.updated);
      if (updated) { source.appendChild(document.createTextNode((href ? ' · ' : '') + 'ข้อมูล ณ ' + updated)); }
      if (source.childNodes.length) { section.appendChild(source); }
      var use = el('button', 'ghost small', 'ใส่ในช่องข้อความถึงประชาชน');
      use.type = 'button';
      use.disabled = ui.reply.disabled || ui.conv.hidden;
      use.addEventListener('click', function () {
        if (ui.reply.disabled || ui.conv.hidden) { return; }
        ui.reply.value = answer.text;
        ui.reply.focus();
      });
      section.appendChild(use);
    } else {
      section.appendChild(el('p', 'muted', 'ผู้ช่วยยังตอบเรื่องนี้ไม่ได้ ลองเลือกบริการด้านล่าง หรือถามให้ชัดขึ้น'));
    }
    box.appendChild(section);

    var alternatives = Array.isArray(data.alternatives) ? data.alternatives.filter(function (a) {
      return a && typeof a.service_id === 'string';
    }) : [];
    if (alternatives.length) {
      var alt = el('section', 'alternatives');
      alt.setAttribute('aria-label', 'หรือหมายถึง');
      alt.appendChild(el('h3', null, 'หรือหมายถึง'));
      var group = el('div', 'alt-buttons');
      alternatives.forEach(function (a) {
        var label = a.service_id + (a.topic ? ' · ' + topicLabel(a.topic) : '') + ' (' + percent(a.confidence) + ')';
        var button = el('button', 'ghost small', label);
        button.type = 'button';
        button.addEventListener('click', function () { ask(text, a.service_id, a.topic); });
        group.appendChild(button);
      });
      alt.appendChild(group);
      box.appendChild(alt);
    }
  }

  ui.assistForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = ui.assistText.value.trim();
    if (!text || ui.assistSend.disabled) { return; }
    ask(text, null);
  });

  ui.assistText.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      ui.assistForm.requestSubmit();
    }
  });

  ui.assistScopeClear.addEventListener('click', function () {
    var text = ui.assistText.value.trim();
    assistScope = null;
    renderScope();
    if (text) { ask(text, null); }
    ui.assistText.focus();
  });

  // ---- keyboard shortcuts ----
  // By key position (event.code), so they work with the Thai keyboard layout too; never while
  // typing in a field or with a dialog open.

  function typing(target) {
    if (!target || !target.tagName) { return false; }
    var tag = target.tagName;
    return tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || target.isContentEditable;
  }

  document.addEventListener('keydown', function (event) {
    if (!session.token() || ui.console.hidden || event.defaultPrevented || event.ctrlKey || event.metaKey) { return; }
    if (typing(event.target) || document.querySelector('dialog[open]')) { return; }
    var digit = /^Digit([1-9])$/.exec(event.code);
    if (event.altKey) {
      if (digit && queue[Number(digit[1]) - 1]) {
        event.preventDefault();
        openConversation(queue[Number(digit[1]) - 1].id, true);
      }
      return;
    }
    if (event.shiftKey && event.code !== 'Slash') { return; }
    var conversation = openId && !ui.conv.hidden;
    var handled = true;
    switch (event.code) {
      case 'Slash': ui.assistText.focus(); ui.assistText.select(); break;
      case 'KeyQ': focusQueue(); break;
      case 'KeyT': if (conversation) { take(); } break;
      case 'KeyR': if (conversation) { release(); } break;
      case 'KeyF': if (conversation) { openForward(); } break;
      case 'KeyC': if (conversation) { openClose(); } break;
      case 'KeyM': if (conversation && !ui.reply.disabled) { ui.reply.focus(); } break;
      default: handled = false;
    }
    if (handled) { event.preventDefault(); }
  });

  // ---- start ----

  session.resume();
}());

/* Web chat for the Thai e-services assistant.
 * Message data is only ever put into the page with textContent / createTextNode, and links are
 * created only for http(s) URLs, so nothing the bot or the user sends can become markup. */
(function () {
  'use strict';

  var STORE_KEY = 'thgov-chat-v1';
  var MAX_ITEMS = 200;
  var REQUEST_TIMEOUT_MS = 20000;
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
  var busy = false;
  var state;

  function orCallTheHotline(text) {
    return HOTLINE ? text + ' หรือโทรสายด่วน ' + HOTLINE : text;
  }

  // ---- state kept across reloads (per browser tab) ----

  function newSender() {
    if (window.crypto && typeof window.crypto.randomUUID === 'function') {
      return window.crypto.randomUUID();
    }
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  function freshState() {
    return {
      sender: newSender(),
      items: [{ role: 'bot', type: 'text', text: GREETING }],
      quick: EXAMPLES.slice()
    };
  }

  function isButton(b) {
    return b && typeof b.title === 'string' && typeof b.payload === 'string';
  }

  function loadState() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(STORE_KEY) || 'null');
      if (saved && typeof saved.sender === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(saved.sender) &&
          Array.isArray(saved.items)) {
        saved.quick = Array.isArray(saved.quick) ? saved.quick.filter(isButton) : [];
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
    scrollToEnd();
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
    var messages = Array.isArray(data && data.messages) ? data.messages : [];
    messages.forEach(function (m) {
      if (m && m.type === 'card' && m.card) {
        addItem({ role: 'bot', type: 'card', card: m.card });
      } else if (m && typeof m.text === 'string') {
        addItem({ role: 'bot', type: 'text', text: m.text });
      }
    });
    state.quick = Array.isArray(data && data.buttons) ? data.buttons.filter(isButton) : [];
    renderQuick(state.quick);
    saveState();
  }

  function send(message, shown, focusTarget) {
    if (busy) { return; }
    clearError();
    addItem({ role: 'user', type: 'text', text: shown || message });
    state.quick = [];
    renderQuick([]);
    saveState();
    setBusy(true);
    postChat(message).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok) {
          showError(typeof data.error === 'string' && response.status === 503 ? data.error : ERROR_SERVER);
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
  renderAll();
  if (!embedded) { input.focus(); }
}());

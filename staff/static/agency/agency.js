/* The agency portal (/agency/): an agency officer's services, each record as a form of its fields
 * (docs/catalog-record.md), its history with restore, its FAQ entries, and example questions that
 * start a candidate model, followed until it passes and is deployed. Text goes into the page with
 * textContent only (staff.js). Views are addressed by the URL's hash, so the browser's back works:
 *   #services  #service/<id>  #service/<id>/history|faq|examples  #candidates  #candidate/<id> */
(function () {
  'use strict';

  var S = window.Staff;
  var el = S.el;
  var TOKEN_KEY = 'thgov-staff-token'; // shared with /dashboard/: one sign-in for both
  var ROLES = ['agency', 'admin'];
  var POLL_MS = 2000;
  var NOT_YOURS = 'บริการนี้เป็นของหน่วยงานอื่น แก้ไขได้เฉพาะบริการของหน่วยงานตนเองค่ะ';
  var TOPICS = S.readJson(document.body.getAttribute('data-topics'));
  var SEED = S.readJson(document.body.getAttribute('data-services'));

  var CATEGORIES = { welfare: 'สวัสดิการ', license: 'ใบอนุญาต', registration: 'ทะเบียน', tax: 'ภาษี' };
  var CHANNEL_TYPES = {
    office: 'สำนักงาน', website: 'เว็บไซต์', app: 'แอปพลิเคชัน', phone: 'โทรศัพท์', line: 'LINE',
    post: 'ไปรษณีย์', bank: 'ธนาคาร'
  };
  var VEHICLES = { '': 'ทุกประเภท', car: 'รถยนต์', motorcycle: 'รถจักรยานยนต์' };
  var STATUS = {
    queued: ['รอคิว', ''], training: ['กำลังฝึกโมเดล', ''], testing: ['กำลังทดสอบ', ''],
    passed: ['ผ่านการทดสอบ', 'ok'], failed: ['ไม่ผ่านการทดสอบ', 'bad'], deployed: ['ใช้งานจริงแล้ว', 'ok']
  };
  var STEPS = {
    queued: 'รอเริ่ม', data: 'เตรียมข้อมูล', conflicts: 'ตรวจว่าซ้ำกับคำถามของบริการอื่นหรือไม่',
    validate: 'ตรวจรูปแบบข้อมูล', train: 'ฝึกโมเดล (ใช้เวลาหลายนาที)', regression: 'ทดสอบกับชุดคำถามเดิม',
    cv: 'ทดสอบแบบไขว้ (cross-validation)', done: 'เสร็จแล้ว'
  };
  var INTENTS = {
    out_of_scope: 'เรื่องนอกขอบเขต', greet: 'คำทักทาย', goodbye: 'คำลา', thanks: 'คำขอบคุณ',
    request_human: 'ขอคุยกับเจ้าหน้าที่', feedback: 'ความเห็นต่อคำตอบ', bot_challenge: 'ถามว่าเป็นบอทไหม'
  };

  // ---- the record's fields (docs/catalog-record.md), in the order an officer reads them ----
  var AMOUNT = [
    { key: 'item', label: 'รายการ', type: 'text' },
    { key: 'amount', label: 'จำนวนเงิน (บาท)', type: 'amount', hint: 'ตัวเลขเท่านั้น เว้นว่างถ้าไม่ใช่จำนวนเงินตายตัว (เช่น ร้อยละของค่าจ้าง)' },
    { key: 'note', label: 'หมายเหตุ', type: 'text' },
    {
      key: 'applies_to', label: 'ใช้กับใคร (เว้นว่าง = ทุกคน)', type: 'object', compact: true, fields: [
        { key: 'age_min', label: 'อายุตั้งแต่ (ปี)', type: 'int', optional: true },
        { key: 'age_max', label: 'อายุไม่เกิน (ปี)', type: 'int', optional: true },
        { key: 'vehicle', label: 'ยานพาหนะ', type: 'select', options: VEHICLES, optional: true },
        { key: 'validity_years', label: 'อายุเล่ม/บัตร (ปี)', type: 'number', optional: true }
      ]
    }
  ];
  var FIELDS = [
    {
      key: 'name', label: 'ชื่อบริการ', type: 'object', fields: [
        { key: 'th', label: 'ชื่อภาษาไทย', type: 'text' },
        { key: 'en', label: 'ชื่อภาษาอังกฤษ', type: 'text' }
      ]
    },
    { key: 'category', label: 'หมวดบริการ', type: 'select', options: CATEGORIES },
    { key: 'description', label: 'คำอธิบายบริการ', type: 'textarea' },
    { key: 'synonyms', label: 'ชื่อที่ประชาชนใช้เรียก', type: 'list', hint: 'ชื่อเล่น คำย่อ หรือคำภาษาอังกฤษที่คนพิมพ์จริง' },
    { key: 'eligibility', label: 'คุณสมบัติผู้มีสิทธิ์', type: 'list' },
    {
      key: 'documents', label: 'เอกสารที่ต้องใช้', type: 'rows', itemLabel: 'เอกสาร', fields: [
        { key: 'name', label: 'ชื่อเอกสาร', type: 'text' },
        { key: 'originals', label: 'ฉบับจริง (ฉบับ)', type: 'int' },
        { key: 'copies', label: 'สำเนา (ฉบับ)', type: 'int' },
        { key: 'note', label: 'หมายเหตุ', type: 'text' }
      ]
    },
    { key: 'fees', label: 'ค่าธรรมเนียม', type: 'rows', itemLabel: 'ค่าธรรมเนียม', fields: AMOUNT },
    { key: 'benefits', label: 'สิทธิประโยชน์ที่ได้รับ', type: 'rows', itemLabel: 'สิทธิประโยชน์', fields: AMOUNT },
    { key: 'payment_schedule', label: 'วันที่เงินเข้า', type: 'text' },
    {
      key: 'channels', label: 'ช่องทางและสถานที่ยื่น', type: 'rows', itemLabel: 'ช่องทาง', fields: [
        { key: 'type', label: 'ประเภท', type: 'select', options: CHANNEL_TYPES },
        { key: 'name', label: 'ชื่อช่องทาง', type: 'text' },
        { key: 'url', label: 'ลิงก์', type: 'url' },
        { key: 'hours', label: 'เวลาให้บริการ', type: 'text' }
      ]
    },
    { key: 'steps', label: 'ขั้นตอน', type: 'list' },
    { key: 'processing_time', label: 'ระยะเวลาดำเนินการ', type: 'text' },
    { key: 'deadlines', label: 'กำหนดเวลา', type: 'list' },
    { key: 'penalties', label: 'ค่าปรับและผลของการล่าช้า', type: 'list' },
    { key: 'status_check', label: 'การตรวจสอบสถานะ', type: 'text' },
    {
      key: 'contact', label: 'ช่องทางติดต่อ', type: 'object', fields: [
        { key: 'hotline', label: 'สายด่วน', type: 'text', hint: 'ตัวเลข ขีด เว้นวรรค หรือจุลภาค เช่น 02-572-8442' },
        { key: 'website', label: 'เว็บไซต์', type: 'url' },
        { key: 'line', label: 'LINE', type: 'text' }
      ]
    },
    { key: 'legal_basis', label: 'กฎหมายที่เกี่ยวข้อง', type: 'list' },
    {
      key: 'competent_authority', label: 'หน่วยงานที่รับผิดชอบ', type: 'object', fields: [
        { key: 'id', label: 'รหัสหน่วยงาน', type: 'text', readonly: true },
        { key: 'name_th', label: 'ชื่อหน่วยงานภาษาไทย', type: 'text' },
        { key: 'name_en', label: 'ชื่อหน่วยงานภาษาอังกฤษ', type: 'text' },
        { key: 'website', label: 'เว็บไซต์หน่วยงาน', type: 'url' }
      ]
    },
    { key: 'review_days', label: 'ทบทวนข้อมูลทุก (วัน)', type: 'int', hint: '1 ถึง 3650 วัน เมื่อไม่ได้แก้นานกว่านี้ ระบบจะขึ้นว่าถึงเวลาทบทวน' },
    {
      key: 'source_url', label: 'ลิงก์แหล่งที่มาของข้อมูล (ต้องมี)', type: 'url', required: true,
      hint: 'หน้าเว็บของหน่วยงานที่ยืนยันข้อมูลนี้ ขึ้นต้นด้วย https:// ผู้ช่วยแสดงลิงก์นี้ใต้ทุกคำตอบ'
    }
  ];
  var LABELS = {};
  FIELDS.forEach(function (f) { LABELS[f.key] = f.label; });

  var $ = function (id) { return document.getElementById(id); };
  var ui = {
    app: $('app'), whoName: $('who-name'), whoRole: $('who-role'),
    views: {
      services: $('view-services'), service: $('view-service'), candidates: $('view-candidates'),
      candidate: $('view-candidate')
    },
    servicesIntro: $('services-intro'), servicesError: $('services-error'), serviceList: $('service-list'),
    serviceTitle: $('service-title'), serviceMeta: $('service-meta'), serviceNotice: $('service-notice'),
    serviceBody: $('service-body'),
    recordForm: $('record-form'), recordFields: $('record-fields'), saveProblems: $('save-problems'),
    saveStatus: $('save-status'), recordSave: $('record-save'), recordReset: $('record-reset'),
    historyList: $('history-list'), historyStatus: $('history-status'),
    tabFaq: $('tab-faq'), faqList: $('faq-list'), faqStatus: $('faq-status'), faqForm: $('faq-form'),
    faqFormTitle: $('faq-form-title'), faqQuestion: $('faq-question'), faqAnswer: $('faq-answer'),
    faqTopic: $('faq-topic'), faqVariants: $('faq-variants'), faqSource: $('faq-source'), faqError: $('faq-error'), faqCancel: $('faq-cancel'), faqSave: $('faq-save'),
    examplesForm: $('examples-form'), examplesTopic: $('examples-topic'), examplesTexts: $('examples-texts'),
    examplesError: $('examples-error'), examplesSend: $('examples-send'),
    candidatesError: $('candidates-error'), candidatesEmpty: $('candidates-empty'), candidateList: $('candidate-list'),
    candidateTitle: $('candidate-title'), candidateMeta: $('candidate-meta'), candidateNotice: $('candidate-notice'),
    candidateBody: $('candidate-body'), candidateStatus: $('candidate-status'), candidateStep: $('candidate-step'),
    candidateProgress: $('candidate-progress'), candidateProgressLabel: $('candidate-progress-label'),
    candidateVerdict: $('candidate-verdict'), candidateDeploy: $('candidate-deploy'),
    candidateDeployHint: $('candidate-deploy-hint'), candidateDeployStatus: $('candidate-deploy-status'),
    candidateExamples: $('candidate-examples'), candidateReport: $('candidate-report'),
    restoreDialog: $('restore-dialog'), restoreForm: $('restore-form'), restoreText: $('restore-text'),
    restoreError: $('restore-error'), restoreConfirm: $('restore-confirm')
  };
  var announce = S.announcer($('announcer'));
  var tabs = ['record', 'history', 'faq', 'examples'];

  var me = null;
  var services = []; // the account's records (GET /api/agency/services)
  var current = null; // {id, record, editor} of the service shown
  var faqAvailable = null; // whether the FAQ API answers (staff/api/faq.py)
  var editingFaq = null;
  var pollTimer = null;
  var shownCandidate = null;
  var restoreVersion = null;

  var session = S.session({
    tokenKey: TOKEN_KEY,
    roles: ROLES,
    refused: 'บัญชีนี้ไม่ใช่บัญชีของหน่วยงาน จึงใช้พอร์ทัลนี้ไม่ได้',
    app: ui.app,
    start: start,
    stop: stopPolling
  });
  var api = session.api;

  function serviceName(id) {
    for (var i = 0; i < services.length; i++) {
      if (services[i].id === id) { return (services[i].name && services[i].name.th) || id; }
    }
    return (SEED[id] && SEED[id].name) || id;
  }

  function topicLabel(topic) {
    return (topic && TOPICS[topic]) || topic || '';
  }

  function errorText(error) {
    var status = error && error.status;
    if (status === 403) { return S.detail(error) || NOT_YOURS; }
    if (status === 0) { return S.NETWORK_ERROR; }
    return S.detail(error) || 'ทำรายการไม่สำเร็จ กรุณาลองอีกครั้ง';
  }

  function fillSelect(select, options, value) {
    S.clear(select);
    Object.keys(options).forEach(function (key) {
      var option = el('option', null, options[key]);
      option.value = key;
      select.appendChild(option);
    });
    select.value = value === undefined || value === null ? '' : String(value);
  }

  // ---- start and routing ----

  function start(user) {
    me = user;
    ui.whoName.textContent = user.display_name || user.username;
    ui.whoRole.textContent = S.ROLE_LABELS[user.role] + (user.agency ? ' · ' + user.agency : '');
    fillSelect(ui.examplesTopic, TOPICS, 'overview');
    fillSelect(ui.faqTopic, TOPICS, 'overview');
    return loadServices().then(function () {
      route();
    });
  }

  window.addEventListener('hashchange', function () {
    if (session.token() && !ui.app.hidden) { route(); }
  });

  function showView(name) {
    Object.keys(ui.views).forEach(function (key) { ui.views[key].hidden = key !== name; });
    var nav = { services: 'nav-services', service: 'nav-services', candidates: 'nav-candidates', candidate: 'nav-candidates' };
    ['nav-services', 'nav-candidates'].forEach(function (id) {
      if (nav[name] === id) { $(id).setAttribute('aria-current', 'page'); } else { $(id).removeAttribute('aria-current'); }
    });
  }

  function route() {
    stopPolling();
    var parts = (window.location.hash || '#services').slice(1).split('/').map(decodeURIComponent);
    if (parts[0] === 'service' && parts[1]) {
      openService(parts[1], tabs.indexOf(parts[2]) >= 0 ? parts[2] : 'record');
    } else if (parts[0] === 'candidates') {
      showView('candidates');
      loadCandidates();
      $('candidates-title').focus();
    } else if (parts[0] === 'candidate' && parts[1]) {
      openCandidate(parts[1]);
    } else {
      showView('services');
      renderServices();
      $('services-title').focus();
    }
  }

  // ---- my services ----

  function loadServices() {
    return api('GET', '/api/agency/services').then(function (data) {
      services = (data && data.services) || [];
      ui.servicesError.hidden = true;
    }, function (error) {
      services = [];
      S.show(ui.servicesError, errorText(error));
    });
  }

  function renderServices() {
    S.clear(ui.serviceList);
    var due = services.filter(function (s) { return s.review_due; }).length;
    ui.servicesIntro.textContent = (me && me.role === 'admin' ? 'ทุกบริการในแคตตาล็อก ' : 'บริการของหน่วยงานคุณ ')
      + services.length + ' รายการ' + (due ? ' · ถึงเวลาทบทวน ' + due + ' รายการ' : '');
    services.forEach(function (s) {
      var li = el('li', 'service-item card');
      var a = el('a', 'service-link', (s.name && s.name.th) || s.id);
      a.href = '#service/' + encodeURIComponent(s.id);
      li.appendChild(a);
      var meta = el('p', 'muted', 'ปรับปรุงล่าสุด ' + S.thaiDay(s.updated) + ' · ทบทวนทุก ' + s.review_days + ' วัน');
      li.appendChild(meta);
      if (s.review_due) {
        var badge = el('span', 'badge warn', 'ถึงเวลาทบทวน');
        badge.title = 'ข้อมูลไม่ได้แก้ไขนานกว่า ' + s.review_days + ' วัน กรุณาตรวจว่ายังถูกต้อง';
        li.appendChild(badge);
      }
      ui.serviceList.appendChild(li);
    });
  }

  // ---- one service ----

  function selectTab(name, focus) {
    tabs.forEach(function (t) {
      var tab = $('tab-' + t);
      var on = t === name;
      tab.setAttribute('aria-selected', on ? 'true' : 'false');
      tab.tabIndex = on ? 0 : -1;
      $('panel-' + t).hidden = !on;
    });
    if (focus) { $('tab-' + name).focus(); }
    if (name === 'history') { loadHistory(''); }
    if (name === 'faq') { loadFaq(); }
  }

  tabs.forEach(function (t) {
    var tab = $('tab-' + t);
    tab.addEventListener('click', function () {
      if (current) { window.history.replaceState(null, '', '#service/' + encodeURIComponent(current.id) + (t === 'record' ? '' : '/' + t)); }
      selectTab(t, false);
    });
    tab.addEventListener('keydown', function (event) {
      if (event.key !== 'ArrowRight' && event.key !== 'ArrowLeft') { return; }
      var visible = tabs.filter(function (x) { return !$('tab-' + x).hidden; });
      var i = visible.indexOf(t) + (event.key === 'ArrowRight' ? 1 : -1);
      var next = visible[(i + visible.length) % visible.length];
      event.preventDefault();
      $('tab-' + next).click();
      $('tab-' + next).focus();
    });
  });

  function openService(id, tab) {
    showView('service');
    current = { id: id, record: null, editor: null };
    ui.serviceTitle.textContent = serviceName(id);
    ui.serviceMeta.textContent = '';
    ui.serviceNotice.hidden = true;
    ui.serviceBody.hidden = true;
    S.show(ui.saveStatus, '');
    ui.saveProblems.hidden = true;
    ui.serviceTitle.focus();
    api('GET', '/api/agency/services/' + encodeURIComponent(id)).then(function (record) {
      if (!current || current.id !== id) { return; }
      setRecord(record);
      ui.serviceBody.hidden = false;
      editFaq(null); // an empty FAQ form, its source the record's
      checkFaq();
      selectTab(tab, false);
    }, function (error) {
      var text = error.status === 403 ? NOT_YOURS
        : error.status === 404 ? 'ไม่พบบริการนี้ในแคตตาล็อก' : errorText(error);
      S.show(ui.serviceNotice, text);
      announce(text);
    });
  }

  function setRecord(record) {
    current.record = record;
    ui.serviceTitle.textContent = (record.name && record.name.th) || record.id;
    ui.serviceMeta.textContent = 'รหัสบริการ ' + record.id + ' · ปรับปรุงล่าสุด ' + S.thaiDay(record.updated);
    S.clear(ui.recordFields);
    current.editor = objectEditor({ fields: FIELDS, top: true }, record, '');
    ui.recordFields.appendChild(jumpMenu());
    ui.recordFields.appendChild(current.editor.node);
    var source = S.safeUrl(record.source_url);
    if (source) {
      var p = el('p', 'source-now');
      p.appendChild(el('span', null, 'แหล่งที่มาตอนนี้: '));
      p.appendChild(S.link(source, source));
      var sourceInput = ui.recordFields.querySelector('[data-path="source_url"]');
      sourceInput.parentNode.insertBefore(p, sourceInput.nextSibling);
    }
  }

  // A long form: buttons that take the officer to a part of it (links would change the view's hash).
  function jumpMenu() {
    var nav = el('nav', 'jump');
    nav.setAttribute('aria-label', 'ไปที่ส่วนของแบบฟอร์ม');
    nav.appendChild(el('span', 'muted', 'ไปที่: '));
    ['fees', 'benefits', 'documents', 'eligibility', 'channels', 'steps', 'contact', 'source_url'].forEach(function (key) {
      var b = el('button', 'small ghost', LABELS[key].replace(/ \(.*\)$/, ''));
      b.type = 'button';
      b.addEventListener('click', function () {
        var target = ui.recordFields.querySelector('[data-field="' + key + '"]');
        if (!target) { return; }
        target.scrollIntoView({ block: 'start' });
        var first = target.querySelector('input, select, textarea, button');
        if (first) { first.focus({ preventScroll: true }); }
      });
      nav.appendChild(b);
    });
    return nav;
  }

  // ---- the form: one editor per field; each has .node and .get() (the value as the API wants it) ----

  var uid = 0;
  function nextId(prefix) {
    uid += 1;
    return prefix + '-' + uid;
  }

  function editorFor(field, value, path) {
    if (field.type === 'object') { return objectEditor(field, value || {}, path); }
    if (field.type === 'list') { return listEditor(field, value || [], path, false); }
    if (field.type === 'rows') { return listEditor(field, value || [], path, true); }
    return inputEditor(field, value, path);
  }

  function inputEditor(field, value, path) {
    var wrap = el('div', 'field field-' + field.type);
    wrap.setAttribute('data-field', path);
    var id = nextId('f');
    var label = el('label', null, field.label);
    label.htmlFor = id;
    wrap.appendChild(label);
    var input;
    if (field.type === 'select') {
      input = el('select');
      fillSelect(input, field.options, value);
    } else if (field.type === 'textarea') {
      input = el('textarea');
      input.rows = 3;
      input.value = value || '';
    } else {
      input = el('input');
      input.type = field.type === 'url' ? 'url' : 'text';
      if (field.type === 'amount' || field.type === 'number' || field.type === 'int') {
        input.inputMode = field.type === 'int' ? 'numeric' : 'decimal';
        input.autocomplete = 'off';
        input.value = typeof value === 'number' ? String(value) : '';
      } else {
        input.value = value === undefined || value === null ? '' : String(value);
      }
      if (field.type === 'url') { input.spellcheck = false; }
    }
    input.id = id;
    input.setAttribute('data-path', path);
    if (field.readonly) { input.readOnly = true; }
    if (field.required) { input.required = true; input.setAttribute('aria-required', 'true'); }
    wrap.appendChild(input);
    if (field.hint) {
      var hint = el('p', 'hint', field.hint);
      hint.id = id + '-hint';
      input.setAttribute('aria-describedby', hint.id);
      wrap.appendChild(hint);
    }
    return {
      node: wrap,
      get: function () { return readInput(field, input, path); }
    };
  }

  // Numbers are typed as text (so that "1,500" and "abc" are told apart from an empty box).
  function readInput(field, input, path) {
    var raw = input.value;
    if (field.type === 'amount' || field.type === 'number' || field.type === 'int') {
      var text = raw.replace(/[,\s]/g, '');
      if (!text) { return field.type === 'amount' ? null : (field.optional ? undefined : 0); }
      var ok = field.type === 'int' ? /^-?\d+$/.test(text) : /^-?\d+(\.\d+)?$/.test(text);
      if (!ok) {
        problems.push({ field: path, message: field.type === 'int' ? 'ต้องเป็นจำนวนเต็ม (ตัวเลขเท่านั้น)' : 'ต้องเป็นตัวเลขเท่านั้น เช่น 1500' });
        return field.type === 'amount' ? null : 0;
      }
      return Number(text);
    }
    if (field.type === 'select' && field.optional && !raw) { return undefined; }
    var value = field.type === 'textarea' ? raw.trim() : raw.trim();
    if (field.required && !value) {
      problems.push({ field: path, message: 'ต้องใส่ลิงก์แหล่งที่มาของข้อมูล (ขึ้นต้นด้วย https://)' });
    }
    return value;
  }

  var problems = []; // what the form itself found while reading (numbers that are not numbers)

  function objectEditor(field, value, path) {
    var node;
    if (field.top) {
      node = el('div', 'record-fields');
    } else {
      node = el('fieldset', 'group' + (field.compact ? ' compact' : ''));
      node.appendChild(el('legend', null, field.label));
    }
    node.setAttribute('data-field', path);
    var grid = field.top ? node : el('div', 'group-grid');
    if (!field.top) { node.appendChild(grid); }
    var editors = field.fields.map(function (sub) {
      var editor = editorFor(sub, value[sub.key], path ? path + '.' + sub.key : sub.key);
      grid.appendChild(editor.node);
      return { key: sub.key, editor: editor };
    });
    return {
      node: node,
      get: function () {
        var out = {};
        editors.forEach(function (e) {
          var v = e.editor.get();
          if (v !== undefined) { out[e.key] = v; }
        });
        return out;
      }
    };
  }

  // A list of texts (`list`) or of small records (`rows`): add, remove, move up and down.
  function listEditor(field, values, path, rows) {
    var node = el('fieldset', 'group list');
    node.setAttribute('data-field', path);
    var legend = el('legend', null, field.label);
    node.appendChild(legend);
    if (field.hint) { node.appendChild(el('p', 'hint', field.hint)); }
    var items = el('ol', 'list-items');
    node.appendChild(items);
    var add = el('button', 'small', '+ เพิ่ม' + (field.itemLabel || 'รายการ'));
    add.type = 'button';
    node.appendChild(add);
    var editors = [];

    function blank() {
      if (!rows) { return ''; }
      var v = {};
      field.fields.forEach(function (f) {
        if (f.type === 'select' && !f.optional) { v[f.key] = Object.keys(f.options)[0]; }
        if (f.type === 'int') { v[f.key] = f.optional ? undefined : 0; }
        if (f.type === 'object') { v[f.key] = {}; }
      });
      return v;
    }

    function render(list, focusIndex) {
      S.clear(items);
      editors = list.map(function (value, index) {
        var itemPath = path + '.' + index;
        var li = el('li', 'list-item' + (rows ? ' row' : ''));
        var editor;
        if (rows) {
          editor = objectEditor({ fields: field.fields, label: (field.itemLabel || 'รายการ') + ' ' + (index + 1) }, value || {}, itemPath);
        } else {
          editor = inputEditor({ label: field.label + ' ข้อที่ ' + (index + 1), type: 'text' }, value, itemPath);
          editor.node.querySelector('label').className = 'sr-only';
        }
        li.appendChild(editor.node);
        var tools = el('div', 'item-tools');
        var what = (rows ? (field.itemLabel || 'รายการ') : field.label) + ' ข้อที่ ' + (index + 1);
        [['↑', 'เลื่อนขึ้น', -1], ['↓', 'เลื่อนลง', 1]].forEach(function (m) {
          var b = el('button', 'small ghost', m[0]);
          b.type = 'button';
          b.setAttribute('aria-label', m[1] + ' ' + what);
          b.disabled = (m[2] < 0 && index === 0) || (m[2] > 0 && index === list.length - 1);
          b.addEventListener('click', function () {
            var now = read();
            var moved = now.splice(index, 1)[0];
            now.splice(index + m[2], 0, moved);
            render(now, index + m[2]);
          });
          tools.appendChild(b);
        });
        var remove = el('button', 'small danger', 'ลบ');
        remove.type = 'button';
        remove.setAttribute('aria-label', 'ลบ' + what);
        remove.addEventListener('click', function () {
          var now = read();
          now.splice(index, 1);
          render(now, now.length ? Math.min(index, now.length - 1) : -1);
          if (!now.length) { add.focus(); }
          announce('ลบ' + what + 'แล้ว');
        });
        tools.appendChild(remove);
        li.appendChild(tools);
        items.appendChild(li);
        return editor;
      });
      if (focusIndex !== undefined && focusIndex >= 0 && items.children[focusIndex]) {
        var first = items.children[focusIndex].querySelector('input, select, textarea');
        if (first) { first.focus(); }
      }
    }

    function read() {
      return editors.map(function (e) { return e.get(); });
    }

    add.addEventListener('click', function () {
      var now = read();
      now.push(blank());
      render(now, now.length - 1);
    });
    render(values.slice());
    return {
      node: node,
      get: function () {
        var list = read();
        // An empty line of a list of texts is no item: skipping it is what the officer meant.
        return rows ? list : list.filter(function (v) { return v !== ''; });
      }
    };
  }

  // JSON with sorted keys and no nulls, to tell which fields the officer changed.
  function canonical(value) {
    if (Array.isArray(value)) { return '[' + value.map(canonical).join(',') + ']'; }
    if (value && typeof value === 'object') {
      return '{' + Object.keys(value).sort().filter(function (k) { return value[k] !== null && value[k] !== undefined; })
        .map(function (k) { return JSON.stringify(k) + ':' + canonical(value[k]); }).join(',') + '}';
    }
    return JSON.stringify(value === undefined ? null : value);
  }

  function clearErrors() {
    Array.prototype.forEach.call(ui.recordForm.querySelectorAll('.field-error'), function (node) { node.remove(); });
    Array.prototype.forEach.call(ui.recordForm.querySelectorAll('[aria-invalid]'), function (node) {
      node.removeAttribute('aria-invalid');
      var described = (node.getAttribute('aria-describedby') || '').split(' ').filter(function (x) {
        return x && x.indexOf('err-') !== 0;
      });
      if (described.length) { node.setAttribute('aria-describedby', described.join(' ')); } else { node.removeAttribute('aria-describedby'); }
    });
    ui.saveProblems.hidden = true;
    S.clear(ui.saveProblems);
  }

  // A field's label for the summary: "ค่าธรรมเนียม ข้อที่ 1 · จำนวนเงิน (บาท)".
  function describe(path) {
    var parts = path.split('.');
    var words = [];
    var fields = FIELDS;
    for (var i = 0; i < parts.length; i++) {
      var part = parts[i];
      if (/^\d+$/.test(part)) { words.push('ข้อที่ ' + (Number(part) + 1)); continue; }
      var f = (fields || []).filter(function (x) { return x.key === part; })[0];
      if (!f) { words.push(part); fields = null; continue; }
      words.push(f.label);
      fields = f.fields;
    }
    return words.join(' · ');
  }

  // Each error next to its field (the closest one the form has for a path it has no box for).
  function showErrors(errors) {
    clearErrors();
    var firstTarget = null;
    var summary = el('p', null, 'ยังบันทึกไม่ได้ มี ' + errors.length + ' จุดที่ต้องแก้:');
    ui.saveProblems.appendChild(summary);
    var list = el('ul');
    errors.forEach(function (error, n) {
      var path = String(error.field || '');
      var target = null;
      var probe = path;
      while (probe && !target) {
        target = ui.recordForm.querySelector('[data-path="' + cssEscape(probe) + '"]')
          || ui.recordForm.querySelector('[data-field="' + cssEscape(probe) + '"]');
        if (!target) { probe = probe.indexOf('.') >= 0 ? probe.slice(0, probe.lastIndexOf('.')) : ''; }
      }
      var message = el('p', 'field-error', error.message || 'ไม่ถูกต้อง');
      message.id = 'err-' + n;
      if (target) {
        if (target.matches('input, select, textarea')) {
          target.setAttribute('aria-invalid', 'true');
          target.setAttribute('aria-describedby', ((target.getAttribute('aria-describedby') || '') + ' ' + message.id).trim());
          target.parentNode.insertBefore(message, target.nextSibling);
        } else {
          target.appendChild(message);
        }
        firstTarget = firstTarget || target;
      }
      var item = el('li');
      var jump = el('button', 'link', (path && path !== '(record)' ? describe(path) + ': ' : '') + (error.message || ''));
      jump.type = 'button';
      jump.addEventListener('click', function () {
        var focusable = target && (target.matches('input, select, textarea') ? target : target.querySelector('input, select, textarea, button'));
        if (focusable) { focusable.focus(); }
      });
      item.appendChild(jump);
      list.appendChild(item);
    });
    ui.saveProblems.appendChild(list);
    ui.saveProblems.hidden = false;
    var focusable = firstTarget && (firstTarget.matches('input, select, textarea') ? firstTarget : firstTarget.querySelector('input, select, textarea'));
    (focusable || ui.saveProblems).focus();
  }

  function cssEscape(value) {
    return window.CSS && window.CSS.escape ? window.CSS.escape(value) : value.replace(/["\\]/g, '\\$&');
  }

  ui.recordForm.addEventListener('submit', function (event) {
    event.preventDefault();
    if (!current || !current.editor) { return; }
    problems = [];
    var edited = current.editor.get();
    if (problems.length) {
      showErrors(problems);
      S.show(ui.saveStatus, '');
      return;
    }
    var changes = {};
    Object.keys(edited).forEach(function (key) {
      if (key === 'updated' || key === 'id') { return; }
      if (canonical(edited[key]) !== canonical(current.record[key])) { changes[key] = edited[key]; }
    });
    var names = Object.keys(changes);
    clearErrors();
    if (!names.length) {
      ui.saveStatus.className = '';
      S.show(ui.saveStatus, 'ยังไม่มีอะไรเปลี่ยน จึงไม่ได้บันทึก');
      return;
    }
    ui.recordSave.disabled = true;
    ui.saveStatus.className = '';
    S.show(ui.saveStatus, 'กำลังบันทึก…');
    api('PATCH', '/api/agency/services/' + encodeURIComponent(current.id), changes).then(function (record) {
      var focusPath = document.activeElement && document.activeElement.getAttribute('data-path');
      setRecord(record);
      var text = 'บันทึกแล้ว: ' + names.map(function (n) { return LABELS[n] || n; }).join(', ')
        + ' · ผู้ช่วยใช้ข้อมูลใหม่ตอบประชาชนทันที · ปรับปรุงล่าสุด ' + S.thaiDay(record.updated);
      ui.saveStatus.className = 'success';
      S.show(ui.saveStatus, text);
      loadServices();
      if (focusPath) {
        var again = ui.recordFields.querySelector('[data-path="' + cssEscape(focusPath) + '"]');
        if (again) { again.focus(); }
      }
    }, function (error) {
      S.show(ui.saveStatus, '');
      if (error.status === 422 && error.data && Array.isArray(error.data.errors)) {
        showErrors(error.data.errors);
      } else {
        ui.saveStatus.className = 'error';
        S.show(ui.saveStatus, error.status === 403 ? NOT_YOURS : errorText(error));
      }
    }).finally(function () {
      ui.recordSave.disabled = false;
    });
  });

  ui.recordReset.addEventListener('click', function () {
    if (!current || !current.record) { return; }
    clearErrors();
    setRecord(current.record);
    ui.saveStatus.className = '';
    S.show(ui.saveStatus, 'ยกเลิกการแก้ไขแล้ว กลับเป็นข้อมูลที่บันทึกไว้');
  });

  // ---- history ----

  function valueText(key, value) {
    if (value === undefined || value === null || value === '') { return '(ว่าง)'; }
    if (Array.isArray(value)) {
      if (!value.length) { return '(ไม่มี)'; }
      return value.map(function (v) { return '• ' + itemText(v); }).join('\n');
    }
    if (typeof value === 'object') { return itemText(value); }
    if (key === 'category') { return CATEGORIES[value] || value; }
    return String(value);
  }

  function itemText(v) {
    if (v === null || typeof v !== 'object') { return String(v); }
    if ('item' in v) {
      var amount = typeof v.amount === 'number' ? v.amount.toLocaleString('th-TH') + ' บาท' : 'ไม่ใช่จำนวนตายตัว';
      var who = v.applies_to && Object.keys(v.applies_to).length ? ' [' + Object.keys(v.applies_to).map(function (k) {
        return whoText(k, v.applies_to[k]);
      }).join(', ') + ']' : '';
      return v.item + ': ' + amount + (v.note ? ' (' + v.note + ')' : '') + who;
    }
    if ('originals' in v) {
      return v.name + ' ฉบับจริง ' + v.originals + ' สำเนา ' + v.copies + (v.note ? ' (' + v.note + ')' : '');
    }
    if ('type' in v && 'name' in v) {
      return (CHANNEL_TYPES[v.type] || v.type) + ': ' + v.name + (v.url ? ' ' + v.url : '') + (v.hours ? ' (' + v.hours + ')' : '');
    }
    return Object.keys(v).map(function (k) { return k + ': ' + v[k]; }).join(' · ');
  }

  function whoText(key, value) {
    if (key === 'age_min') { return 'อายุตั้งแต่ ' + value + ' ปี'; }
    if (key === 'age_max') { return 'อายุไม่เกิน ' + value + ' ปี'; }
    if (key === 'vehicle') { return VEHICLES[value] || value; }
    if (key === 'validity_years') { return 'อายุเล่ม/บัตร ' + value + ' ปี'; }
    return key + ' ' + value;
  }

  // `done`: what to say once the list is shown (a restore's result).
  function loadHistory(done) {
    if (!current) { return; }
    var id = current.id;
    ui.historyStatus.className = '';
    S.show(ui.historyStatus, 'กำลังโหลด…');
    api('GET', '/api/agency/services/' + encodeURIComponent(id) + '/history').then(function (data) {
      if (!current || current.id !== id) { return; }
      ui.historyStatus.className = done ? 'success' : '';
      S.show(ui.historyStatus, done || '');
      renderHistory((data && data.versions) || []);
    }, function (error) {
      S.show(ui.historyStatus, errorText(error));
    });
  }

  function renderHistory(versions) {
    S.clear(ui.historyList);
    var latest = versions.length ? versions[versions.length - 1].version : null;
    versions.slice().reverse().forEach(function (v) {
      var li = el('li', 'version card');
      li.setAttribute('data-version', v.version);
      var head = el('p', 'version-head');
      head.appendChild(el('strong', null, 'ฉบับที่ ' + v.version));
      head.appendChild(el('span', null, ' · ' + S.thaiDateTime(v.at) + ' · โดย ' + (v.by || '-')));
      if (v.version === latest) { head.appendChild(el('span', 'badge ok', 'ใช้อยู่ตอนนี้')); }
      li.appendChild(head);
      var what;
      if (v.restored_from) {
        what = 'กู้คืนจากฉบับที่ ' + v.restored_from + (v.changed.length ? ': ' + v.changed.map(function (c) { return LABELS[c] || c; }).join(', ') : '');
      } else if (!v.changed || !v.changed.length) {
        what = v.version === 1 ? 'ข้อมูลตั้งต้น' : 'ไม่มีช่องที่เปลี่ยน';
      } else {
        what = 'แก้: ' + v.changed.map(function (c) { return LABELS[c] || c; }).join(', ');
      }
      li.appendChild(el('p', 'version-what', what));
      if (v.changed && v.changed.length && v.before) {
        var details = el('details');
        details.appendChild(el('summary', null, 'ดูค่าก่อนและหลัง'));
        var table = el('table', 'diff');
        var thead = el('tr');
        ['ช่อง', 'ก่อน', 'หลัง'].forEach(function (h) { var th = el('th', null, h); th.scope = 'col'; thead.appendChild(th); });
        table.appendChild(thead);
        v.changed.forEach(function (c) {
          var tr = el('tr');
          var th = el('th', null, LABELS[c] || c);
          th.scope = 'row';
          tr.appendChild(th);
          tr.appendChild(el('td', 'before', valueText(c, v.before[c])));
          tr.appendChild(el('td', 'after', valueText(c, (v.after || {})[c])));
          table.appendChild(tr);
        });
        details.appendChild(table);
        li.appendChild(details);
      }
      if (v.version !== latest) {
        var restore = el('button', 'small', 'กู้คืนฉบับนี้');
        restore.type = 'button';
        restore.setAttribute('aria-label', 'กู้คืนฉบับที่ ' + v.version);
        restore.addEventListener('click', function () { askRestore(v); });
        li.appendChild(restore);
      }
      ui.historyList.appendChild(li);
    });
  }

  function askRestore(v) {
    restoreVersion = v.version;
    ui.restoreText.textContent = 'ข้อมูลของบริการ “' + serviceName(current.id) + '” จะกลับเป็นฉบับที่ ' + v.version
      + ' (' + S.thaiDateTime(v.at) + ') และใช้ตอบประชาชนทันที ฉบับปัจจุบันยังเก็บอยู่ในประวัติ';
    ui.restoreError.hidden = true;
    ui.restoreDialog.showModal();
    ui.restoreConfirm.focus();
  }

  ui.restoreForm.addEventListener('submit', function (event) {
    event.preventDefault();
    if (!current || restoreVersion === null) { return; }
    var version = restoreVersion;
    ui.restoreConfirm.disabled = true;
    api('POST', '/api/agency/services/' + encodeURIComponent(current.id) + '/history/' + version + '/restore').then(function (record) {
      ui.restoreDialog.close();
      setRecord(record);
      loadHistory('กู้คืนเป็นฉบับที่ ' + version + ' แล้ว ผู้ช่วยใช้ข้อมูลนี้ตอบทันที · ปรับปรุงล่าสุด ' + S.thaiDay(record.updated));
      loadServices();
      $('tab-history').focus();
    }, function (error) {
      var errors = error.data && Array.isArray(error.data.errors) ? error.data.errors.map(function (e) { return e.message; }).join(' ') : '';
      S.show(ui.restoreError, errors || errorText(error));
    }).finally(function () {
      ui.restoreConfirm.disabled = false;
    });
  });

  Array.prototype.forEach.call(document.querySelectorAll('dialog [data-cancel]'), function (button) {
    button.addEventListener('click', function () { button.closest('dialog').close(); });
  });

  // ---- FAQ entries (only when the server has the FAQ API) ----

  function faqPath(id) {
    return '/api/agency/services/' + encodeURIComponent(current.id) + '/faq' + (id ? '/' + encodeURIComponent(id) : '');
  }

  function checkFaq() {
    if (faqAvailable !== null) {
      ui.tabFaq.hidden = !faqAvailable;
      return;
    }
    api('GET', faqPath()).then(function () {
      faqAvailable = true;
      ui.tabFaq.hidden = false;
    }, function (error) {
      // 404 for the route itself: this server has no FAQ API yet. Other errors leave it visible.
      faqAvailable = error.status !== 404 && error.status !== 405;
      ui.tabFaq.hidden = !faqAvailable;
    });
  }

  function loadFaq() {
    if (!current) { return Promise.resolve(); }
    ui.faqStatus.className = '';
    S.show(ui.faqStatus, 'กำลังโหลด…');
    return api('GET', faqPath()).then(function (data) {
      var entries = (data && data.items) || [];
      S.show(ui.faqStatus, entries.length ? '' : 'ยังไม่มีคำถามที่พบบ่อยของบริการนี้');
      S.clear(ui.faqList);
      entries.forEach(function (entry) {
        var li = el('li', 'faq card');
        li.appendChild(el('p', 'faq-q', entry.question || ''));
        if (entry.variants && entry.variants.length) {
          li.appendChild(el('p', 'muted', 'หรือ: ' + entry.variants.join(' · ')));
        }
        li.appendChild(el('p', 'faq-a', entry.answer || ''));
        var meta = el('p', 'muted');
        if (entry.topic) { meta.appendChild(el('span', 'badge', topicLabel(entry.topic))); }
        meta.appendChild(el('span', null, ' ปรับปรุงล่าสุด ' + S.thaiDay(entry.updated) + ' '));
        var source = S.safeUrl(entry.source_url);
        if (source) { meta.appendChild(S.link(source, 'แหล่งที่มา')); }
        li.appendChild(meta);
        var edit = el('button', 'small', 'แก้ไข');
        edit.type = 'button';
        edit.setAttribute('aria-label', 'แก้ไขคำถาม ' + (entry.question || ''));
        edit.addEventListener('click', function () { editFaq(entry); });
        li.appendChild(edit);
        ui.faqList.appendChild(li);
      });
    }, function (error) {
      S.show(ui.faqStatus, errorText(error));
    });
  }

  function editFaq(entry) {
    editingFaq = entry;
    ui.faqFormTitle.textContent = entry ? 'แก้ไขคำถามที่พบบ่อย' : 'เพิ่มคำถามที่พบบ่อย';
    ui.faqQuestion.value = entry ? entry.question || '' : '';
    ui.faqVariants.value = entry && entry.variants ? entry.variants.join('\n') : '';
    ui.faqAnswer.value = entry ? entry.answer || '' : '';
    ui.faqTopic.value = entry && entry.topic ? entry.topic : 'overview';
    ui.faqSource.value = entry ? entry.source_url || '' : (current && current.record && current.record.source_url) || '';
    ui.faqCancel.hidden = !entry;
    ui.faqError.hidden = true;
    if (entry) { ui.faqQuestion.focus(); }
  }

  ui.faqCancel.addEventListener('click', function () { editFaq(null); ui.faqQuestion.focus(); });

  var FAQ_LABELS = { question: 'คำถาม', variants: 'ถามแบบอื่น', answer: 'คำตอบ', topic: 'หัวข้อ', source_url: 'ลิงก์แหล่งที่มา' };

  ui.faqForm.addEventListener('submit', function (event) {
    event.preventDefault();
    var body = {
      question: ui.faqQuestion.value.trim(),
      variants: ui.faqVariants.value.split('\n').map(function (t) { return t.trim(); }).filter(Boolean),
      answer: ui.faqAnswer.value.trim(),
      topic: ui.faqTopic.value,
      source_url: ui.faqSource.value.trim()
    };
    if (!body.question || !body.answer || !body.source_url) {
      S.show(ui.faqError, 'กรุณากรอกคำถาม คำตอบ และลิงก์แหล่งที่มา');
      (!body.question ? ui.faqQuestion : !body.answer ? ui.faqAnswer : ui.faqSource).focus();
      return;
    }
    var call;
    if (editingFaq && editingFaq.id) {
      var changes = {};
      Object.keys(body).forEach(function (k) {
        if (canonical(body[k]) !== canonical(editingFaq[k] === undefined ? (k === 'variants' ? [] : '') : editingFaq[k])) { changes[k] = body[k]; }
      });
      if (!Object.keys(changes).length) {
        S.show(ui.faqError, 'ยังไม่มีอะไรเปลี่ยน');
        return;
      }
      call = api('PATCH', faqPath(editingFaq.id), changes);
    } else {
      call = api('POST', faqPath(), body);
    }
    ui.faqSave.disabled = true;
    call.then(function (data) {
      editFaq(null);
      return loadFaq().then(function () { return data; });
    }).then(function (data) {
      S.clear(ui.faqStatus);
      ui.faqStatus.hidden = false;
      ui.faqStatus.className = 'success';
      ui.faqStatus.appendChild(el('span', null, 'บันทึกคำถามที่พบบ่อยแล้ว คำตอบใช้ได้ทันที'));
      if (data && data.candidate) {
        ui.faqStatus.appendChild(el('span', null, ' · คำถามใหม่กำลังฝึกเป็นโมเดลทดลอง '));
        var follow = el('a', null, 'ดูความคืบหน้า');
        follow.href = '#candidate/' + encodeURIComponent(data.candidate);
        ui.faqStatus.appendChild(follow);
      }
      announce('บันทึกคำถามที่พบบ่อยแล้ว');
    }, function (error) {
      var errors = error.data && Array.isArray(error.data.errors) ? error.data.errors.map(function (e) {
        var key = String(e.field || '').split('.')[0];
        return (FAQ_LABELS[key] ? FAQ_LABELS[key] + ': ' : '') + e.message;
      }).join(' · ') : '';
      S.show(ui.faqError, errors || errorText(error));
    }).finally(function () {
      ui.faqSave.disabled = false;
    });
  });

  // ---- example questions → a candidate ----

  ui.examplesForm.addEventListener('submit', function (event) {
    event.preventDefault();
    if (!current) { return; }
    var lines = ui.examplesTexts.value.split('\n').map(function (t) { return t.trim(); }).filter(Boolean);
    ui.examplesTexts.removeAttribute('aria-invalid');
    if (!lines.length) {
      S.show(ui.examplesError, 'กรุณาพิมพ์ตัวอย่างคำถามอย่างน้อยหนึ่งข้อ');
      ui.examplesTexts.setAttribute('aria-invalid', 'true');
      ui.examplesTexts.focus();
      return;
    }
    ui.examplesError.hidden = true;
    ui.examplesSend.disabled = true;
    sendExamples(current.id, ui.examplesTopic.value, lines).then(function (candidate) {
      ui.examplesTexts.value = '';
      window.location.hash = '#candidate/' + encodeURIComponent(candidate);
    }, function (error) {
      S.show(ui.examplesError, examplesErrorText(error));
      ui.examplesTexts.setAttribute('aria-invalid', 'true');
      ui.examplesTexts.focus();
    }).finally(function () {
      ui.examplesSend.disabled = false;
    });
  });

  function sendExamples(serviceId, topic, texts) {
    return api('POST', '/api/agency/examples', { service_id: serviceId, topic: topic, texts: texts }).then(function (data) {
      return data.candidate;
    });
  }

  function examplesErrorText(error) {
    if (error.status === 422 && error.data && Array.isArray(error.data.errors)) {
      return error.data.errors.map(function (e) {
        var line = /^texts\[(\d+)\]$/.exec(e.field || '');
        return (line ? 'บรรทัดที่ ' + (Number(line[1]) + 1) + ': ' : '') + e.message;
      }).join(' · ');
    }
    if (error.status === 403) { return 'บริการนี้เป็นของหน่วยงานอื่น'; }
    return errorText(error);
  }

  // ---- candidates ----

  function loadCandidates() {
    S.clear(ui.candidateList);
    ui.candidatesEmpty.hidden = true;
    api('GET', '/api/agency/candidates').then(function (data) {
      var list = (data && data.candidates) || [];
      ui.candidatesError.hidden = true;
      ui.candidatesEmpty.hidden = list.length > 0;
      list.forEach(function (c) {
        var li = el('li', 'candidate-item card');
        var a = el('a', 'candidate-link', 'โมเดลทดลอง ' + S.thaiDateTime(c.created_at));
        a.href = '#candidate/' + encodeURIComponent(c.id);
        li.appendChild(a);
        var status = STATUS[c.status] || [c.status, ''];
        li.appendChild(el('span', 'badge ' + status[1], status[0]));
        if (c.live) { li.appendChild(el('span', 'badge ok', 'ใช้งานอยู่')); }
        li.appendChild(el('p', 'muted', (c.services || []).map(serviceName).join(', ') + ' · ตัวอย่าง ' + c.examples
          + ' ข้อ · โดย ' + c.created_by));
        ui.candidateList.appendChild(li);
      });
      if (list.some(function (c) { return ['queued', 'training', 'testing'].indexOf(c.status) >= 0; })) {
        pollTimer = window.setTimeout(loadCandidates, POLL_MS * 2);
      }
    }, function (error) {
      S.show(ui.candidatesError, errorText(error));
    });
  }

  function stopPolling() {
    window.clearTimeout(pollTimer);
    pollTimer = null;
  }

  function openCandidate(id) {
    showView('candidate');
    shownCandidate = id;
    ui.candidateNotice.hidden = true;
    ui.candidateBody.hidden = true;
    S.show(ui.candidateDeployStatus, '');
    ui.candidateTitle.focus();
    pollCandidate(id, true);
  }

  function pollCandidate(id, first) {
    api('GET', '/api/agency/candidates/' + encodeURIComponent(id)).then(function (c) {
      if (shownCandidate !== id || ui.views.candidate.hidden) { return; }
      ui.candidateBody.hidden = false;
      renderCandidate(c, first);
      if (['queued', 'training', 'testing'].indexOf(c.status) >= 0) {
        pollTimer = window.setTimeout(function () { pollCandidate(id, false); }, POLL_MS);
      }
    }, function (error) {
      if (shownCandidate !== id) { return; }
      if (error.status === 0) {
        // A network blip: try again rather than give up on a training that is still running.
        pollTimer = window.setTimeout(function () { pollCandidate(id, false); }, POLL_MS * 2);
        return;
      }
      S.show(ui.candidateNotice, error.status === 404 ? 'ไม่พบโมเดลทดลองนี้' : errorText(error));
    });
  }

  var lastStatus = null;

  function renderCandidate(c, first) {
    var status = STATUS[c.status] || [c.status, ''];
    ui.candidateStatus.textContent = status[0];
    ui.candidateStatus.className = 'badge ' + status[1];
    var running = ['queued', 'training', 'testing'].indexOf(c.status) >= 0;
    ui.candidateStep.textContent = running ? 'ขั้นตอน: ' + (STEPS[c.step] || c.step) : '';
    var pct = Math.round((c.progress || 0) * 100);
    ui.candidateProgress.value = pct;
    ui.candidateProgressLabel.textContent = 'ความคืบหน้า ' + pct + '%';
    ui.candidateMeta.textContent = 'ส่งโดย ' + c.created_by + ' · ' + S.thaiDateTime(c.created_at)
      + (c.deployed_at ? ' · นำขึ้นใช้งานเมื่อ ' + S.thaiDateTime(c.deployed_at) + ' โดย ' + (c.deployed_by || '') : '');
    if (first || lastStatus !== c.status) {
      S.clear(ui.candidateExamples);
      (c.examples || []).forEach(function (e) {
        var li = el('li');
        li.appendChild(el('span', 'example-text', '“' + e.text + '”'));
        li.appendChild(el('span', 'muted', ' · ' + serviceName(e.service_id) + ' · ' + topicLabel(e.topic)));
        ui.candidateExamples.appendChild(li);
      });
      renderReport(c);
      if (!first && lastStatus !== c.status) { announce('โมเดลทดลอง: ' + status[0]); }
    }
    lastStatus = c.status;
    ui.candidateDeploy.disabled = c.status !== 'passed';
    ui.candidateDeploy.textContent = c.status === 'deployed' ? 'ใช้งานจริงแล้ว' : 'นำขึ้นใช้งาน';
    ui.candidateDeployHint.textContent = c.status === 'passed' ? 'ผ่านการทดสอบแล้ว กดเพื่อให้ผู้ช่วยใช้โมเดลนี้ตอบประชาชน'
      : c.status === 'deployed' ? (c.live ? 'ผู้ช่วยใช้โมเดลนี้อยู่' : 'เคยใช้งาน ตอนนี้มีโมเดลที่ใหม่กว่าแล้ว')
        : c.status === 'failed' ? 'ไม่ผ่านการทดสอบ จึงนำขึ้นใช้งานไม่ได้' : 'กดได้เมื่อผ่านการทดสอบแล้ว';
  }

  function verdict(c) {
    var report = c.report || {};
    var broke = (report.changed || []).filter(function (x) { return x.broke; }).length;
    var fixed = (report.changed || []).filter(function (x) { return x.fixed; }).length;
    if (c.status === 'passed' || c.status === 'deployed') {
      return 'ผ่าน: โมเดลทดลองตอบชุดคำถามทดสอบได้ไม่แย่ลง' + (fixed ? ' และตอบถูกเพิ่มขึ้น ' + fixed + ' ข้อ' : '')
        + (broke ? ' (ตอบผิดไป ' + broke + ' ข้อ ยังอยู่ในเกณฑ์ที่ยอมรับได้)' : '');
    }
    if (c.status === 'failed') {
      if ((report.conflicts || []).length) {
        return 'ไม่ผ่าน: ตัวอย่างคำถาม ' + report.conflicts.length + ' ข้อซ้ำหรือคล้ายมากกับคำถามที่เป็นของเรื่องอื่นอยู่แล้ว ผู้ช่วยจะสับสน กรุณาแก้ตัวอย่างแล้วส่งใหม่';
      }
      if (broke) {
        var own = (c.examples || []).map(function (e) { return e.service_id; });
        var taken = (report.changed || []).filter(function (x) {
          return x.broke && x.after && own.indexOf(x.after.service_id) >= 0 && own.indexOf(x.service_id) < 0;
        }).length;
        return 'ไม่ผ่าน: โมเดลทดลองตอบคำถามที่เคยตอบถูก ' + broke + ' ข้อผิดไป (ดูรายการด้านล่าง) จึงยังไม่นำขึ้นใช้งาน'
          + (taken ? ' ในจำนวนนี้ ' + taken + ' ข้อเป็นคำถามของบริการอื่นที่ตอนนี้ถูกตอบเป็นบริการที่คุณสอน ตัวอย่างอาจกว้างเกินไป ลองเขียนให้ระบุบริการชัดขึ้น' : '');
      }
      return 'ไม่ผ่าน: ' + (c.error ? 'ระบบทดสอบไม่สำเร็จ (' + c.error + ')' : 'ผลทดสอบแย่ลงกว่าโมเดลที่ใช้อยู่');
    }
    return 'ระบบกำลังฝึกและทดสอบโมเดลทดลอง หน้านี้อัปเดตเองทุก 2 วินาที ปิดหน้านี้แล้วกลับมาดูภายหลังได้';
  }

  function answerText(a) {
    if (!a || !a.intent) { return 'ไม่ได้คำตอบ'; }
    if (a.intent !== 'ask_service') { return INTENTS[a.intent] || a.intent; }
    return (a.service_id ? serviceName(a.service_id) : 'ไม่ระบุบริการ') + (a.topic ? ' · ' + topicLabel(a.topic) : '');
  }

  function renderReport(c) {
    S.clear(ui.candidateReport);
    ui.candidateVerdict.textContent = verdict(c);
    ui.candidateVerdict.className = 'verdict ' + (c.status === 'failed' ? 'error' : (c.status === 'passed' || c.status === 'deployed') ? 'success' : 'info');
    var report = c.report || {};
    var box = ui.candidateReport;

    var conflicts = report.conflicts || [];
    if (conflicts.length) {
      box.appendChild(el('h3', null, 'ตัวอย่างที่ซ้ำกับข้อมูลเดิม'));
      var cl = el('ul', 'plain-list conflicts');
      conflicts.forEach(function (x) {
        var owner = SEED[x.conflicts_with] ? serviceName(x.conflicts_with) : (INTENTS[x.conflicts_with] || x.conflicts_with);
        var how = x.how === 'same' ? 'เหมือนกับ' : 'คล้ายกับ (' + Math.round(x.similarity || 0) + '%)';
        cl.appendChild(el('li', null, '“' + x.text + '” ' + how + (x.example ? ' “' + x.example + '”' : '') + ' ซึ่งเป็นของ ' + owner));
      });
      box.appendChild(cl);
    }

    var before = (report.before || {}).regression;
    var after = (report.after || {}).regression;
    if (before && after) {
      box.appendChild(el('h3', null, 'ผลทดสอบกับชุดคำถามเดิม ก่อนและหลัง'));
      box.appendChild(el('p', null, 'ทั้งหมด ' + after.questions + ' คำถาม: ก่อน ตอบถูก ' + before.right + ' ข้อ ('
        + S.percent(before.accuracy) + ') · หลัง ตอบถูก ' + after.right + ' ข้อ (' + S.percent(after.accuracy) + ')'));
      var table = el('table', 'per-service');
      var caption = el('caption', 'sr-only', 'ผลทดสอบแยกตามบริการ');
      table.appendChild(caption);
      var head = el('tr');
      [['บริการ', ''], ['คำถาม', 'num'], ['ก่อน', 'num'], ['หลัง', 'num'], ['เปลี่ยน', 'num']].forEach(function (h) {
        var th = el('th', h[1], h[0]);
        th.scope = 'col';
        head.appendChild(th);
      });
      table.appendChild(head);
      var ids = Object.keys(after.by_service || {});
      var rows = ids.map(function (id) {
        var b = (before.by_service || {})[id] || { right: 0, n: 0 };
        var a = after.by_service[id];
        return { id: id, n: a.n, before: b.right, after: a.right, delta: a.right - b.right };
      });
      // What changed first (worse before better), then the rest by name.
      rows.sort(function (x, y) {
        if ((x.delta !== 0) !== (y.delta !== 0)) { return x.delta !== 0 ? -1 : 1; }
        return x.delta - y.delta || serviceName(x.id).localeCompare(serviceName(y.id), 'th');
      });
      rows.forEach(function (r) {
        var tr = el('tr', r.delta < 0 ? 'worse' : r.delta > 0 ? 'better' : '');
        var th = el('th', null, serviceName(r.id));
        th.scope = 'row';
        tr.appendChild(th);
        tr.appendChild(el('td', 'num', r.n));
        tr.appendChild(el('td', 'num', r.before));
        tr.appendChild(el('td', 'num', r.after));
        tr.appendChild(el('td', 'num', r.delta > 0 ? '+' + r.delta : r.delta < 0 ? String(r.delta) : '–'));
        table.appendChild(tr);
      });
      var details = el('details', 'per-service-box');
      details.open = rows.some(function (r) { return r.delta !== 0; });
      details.appendChild(el('summary', null, 'แยกตามบริการ (' + rows.length + ' บริการ)'));
      details.appendChild(table);
      box.appendChild(details);
    }

    var changed = report.changed || [];
    if (before && after) {
      box.appendChild(el('h3', null, 'คำถามที่ตอบต่างไปจากเดิม (' + changed.length + ')'));
      if (!changed.length) { box.appendChild(el('p', 'muted', 'ไม่มี: ทุกคำถามในชุดทดสอบได้คำตอบเหมือนเดิม')); }
      var list = el('ul', 'plain-list changed');
      changed.forEach(function (x) {
        var li = el('li', x.broke ? 'broke' : x.fixed ? 'fixed' : '');
        var tag = x.broke ? el('span', 'badge bad', 'ตอบผิดไป') : x.fixed ? el('span', 'badge ok', 'ตอบถูกขึ้น') : el('span', 'badge', 'เปลี่ยน');
        li.appendChild(tag);
        li.appendChild(el('span', 'example-text', ' “' + x.text + '”'));
        li.appendChild(el('div', 'muted', 'ควรเป็น: ' + serviceName(x.service_id) + ' · ' + topicLabel(x.topic)
          + ' | เดิม: ' + answerText(x.before) + ' → ใหม่: ' + answerText(x.after)));
        list.appendChild(li);
      });
      box.appendChild(list);
    }

    var cvBefore = (report.before || {}).cv;
    var cvAfter = (report.after || {}).cv;
    if (cvBefore && cvAfter && typeof cvAfter.service_accuracy === 'number') {
      box.appendChild(el('p', 'muted', 'ทดสอบแบบไขว้ ' + (cvAfter.folds || '') + ' ส่วน: ทายบริการถูก ก่อน '
        + S.percent(cvBefore.service_accuracy) + ' · หลัง ' + S.percent(cvAfter.service_accuracy)));
    }
    var reasons = ((report.gate || {}).reasons || []).concat(c.error && !(report.gate || {}).reasons ? [c.error] : []);
    if (reasons.length) {
      var tech = el('details', 'technical');
      tech.appendChild(el('summary', null, 'รายละเอียดสำหรับผู้ดูแลระบบ'));
      var ul = el('ul');
      reasons.forEach(function (r) { ul.appendChild(el('li', null, r)); });
      tech.appendChild(ul);
      box.appendChild(tech);
    }
  }

  ui.candidateDeploy.addEventListener('click', function () {
    var id = shownCandidate;
    if (!id) { return; }
    ui.candidateDeploy.disabled = true;
    ui.candidateDeployStatus.className = '';
    S.show(ui.candidateDeployStatus, 'กำลังนำขึ้นใช้งาน… รอจนผู้ช่วยทุกตัวโหลดโมเดลใหม่ (อาจใช้เวลาหนึ่งถึงสองนาที)');
    api('POST', '/api/agency/candidates/' + encodeURIComponent(id) + '/deploy').then(function () {
      ui.candidateDeployStatus.className = 'success';
      S.show(ui.candidateDeployStatus, 'นำขึ้นใช้งานแล้ว ผู้ช่วยตอบประชาชนด้วยโมเดลนี้แล้ว');
      pollCandidate(id, false);
    }, function (error) {
      ui.candidateDeployStatus.className = 'error';
      S.show(ui.candidateDeployStatus, error.status === 409 ? (S.detail(error) || 'นำขึ้นใช้งานได้เฉพาะโมเดลที่ผ่านการทดสอบ')
        : error.status === 504 ? 'ผู้ช่วยยังโหลดโมเดลใหม่ไม่เสร็จในเวลาที่รอ ลองกดอีกครั้งในอีกสักครู่' : errorText(error));
      pollCandidate(id, false);
    });
  });

  session.resume();
}());

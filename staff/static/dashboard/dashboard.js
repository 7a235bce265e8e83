/* The dashboard (/dashboard/): what the assistant's turns add up to over Thai days (GET
 * /api/analytics/summary), drawn with Chart.js (shipped with the page: /staff/static/chart.umd.min.js),
 * the CSV exports, and the backlog of questions it could not answer (GET /api/analytics/unanswered),
 * where a group becomes example questions for a service and topic (POST /api/agency/examples).
 * Supervisors and admins see every agency or one; an agency account its own services. */
(function () {
  'use strict';

  var S = window.Staff;
  var el = S.el;
  var TOKEN_KEY = 'thgov-staff-token'; // shared with /agency/
  var TOPICS = S.readJson(document.body.getAttribute('data-topics'));
  var SEED = S.readJson(document.body.getAttribute('data-services'));
  var AGENCIES = S.readJson(document.body.getAttribute('data-agencies'));
  var KINDS = {
    answer: 'ตอบได้', clarify: 'ถามกลับ', out_of_scope: 'นอกขอบเขต', handoff: 'ส่งต่อเจ้าหน้าที่',
    form: 'ถามข้อมูลเพิ่ม', greet: 'ทักทาย', thanks: 'ขอบคุณ', goodbye: 'ลาก่อน', bot_challenge: 'ถามว่าเป็นบอทไหม',
    with_agent: 'คุยกับเจ้าหน้าที่', error: 'ขัดข้อง', unknown: 'ไม่ทราบ'
  };
  var COLORS = ['#1f4e8c', '#2e7d4a', '#b25e00', '#a1201a', '#6a4c93', '#0f7c8c', '#8c6d1f', '#566173', '#c2185b', '#33691e'];

  var $ = function (id) { return document.getElementById(id); };
  var ui = {
    app: $('app'), whoName: $('who-name'), whoRole: $('who-role'), navAgency: $('nav-agency'),
    filters: $('filters'), periodTitle: $('period-title'), from: $('from'), to: $('to'), agency: $('agency'),
    agencyBox: $('agency-box'), agencyNote: $('agency-note'), filtersError: $('filters-error'),
    kpis: $('kpis'), csvSummary: $('csv-summary'), csvTurns: $('csv-turns'), exportStatus: $('export-status'),
    backlogStatus: $('backlog-status'), backlogList: $('backlog-list'),
    dialog: $('examples-dialog'), form: $('examples-form'), service: $('examples-service'), topic: $('examples-topic'),
    lines: $('example-lines'), add: $('example-add'), formError: $('examples-error'), send: $('examples-send')
  };
  var announce = S.announcer($('announcer'));

  var me = null;
  var charts = {};
  var ownServices = null; // what the account may add examples for (GET /api/agency/services)
  var cluster = null; // the backlog group the dialog is for: {node, status}
  var loading = 0;

  var session = S.session({
    tokenKey: TOKEN_KEY,
    roles: ['supervisor', 'admin', 'agency'],
    refused: 'บัญชีนี้ไม่มีสิทธิ์ดูแดชบอร์ด (สำหรับหัวหน้าเวร ผู้ดูแลระบบ และหน่วยงาน)',
    app: ui.app,
    start: start,
    stop: function () { ownServices = null; }
  });
  var api = session.api;

  function serviceName(id) {
    if (ownServices) {
      for (var i = 0; i < ownServices.length; i++) {
        if (ownServices[i].id === id) { return (ownServices[i].name && ownServices[i].name.th) || id; }
      }
    }
    return (SEED[id] && SEED[id].name) || id || 'ไม่ระบุบริการ';
  }

  function canTeach() {
    return me && (me.role === 'agency' || me.role === 'admin');
  }

  // ---- start ----

  function start(user) {
    me = user;
    ui.whoName.textContent = user.display_name || user.username;
    ui.whoRole.textContent = S.ROLE_LABELS[user.role] + (user.agency ? ' · ' + (AGENCIES[user.agency] || user.agency) : '');
    ui.navAgency.hidden = !canTeach();
    if (user.role === 'agency') {
      ui.agencyBox.hidden = true;
      S.show(ui.agencyNote, 'แสดงเฉพาะบริการของ' + (AGENCIES[user.agency] || 'หน่วยงานของคุณ'));
    } else {
      ui.agencyBox.hidden = false;
      ui.agencyNote.hidden = true;
      S.clear(ui.agency);
      var all = el('option', null, 'ทุกหน่วยงาน');
      all.value = '';
      ui.agency.appendChild(all);
      Object.keys(AGENCIES).sort(function (a, b) { return AGENCIES[a].localeCompare(AGENCIES[b], 'th'); }).forEach(function (code) {
        var option = el('option', null, AGENCIES[code]);
        option.value = code;
        ui.agency.appendChild(option);
      });
    }
    if (!ui.to.value) { setDays(7); }
    if (canTeach()) {
      api('GET', '/api/agency/services').then(function (data) {
        ownServices = (data && data.services) || [];
      }, function () { ownServices = []; });
    }
    return load();
  }

  function setDays(days) {
    var today = S.bangkokToday();
    ui.to.value = today;
    ui.from.value = S.addDays(today, 1 - days);
  }

  Array.prototype.forEach.call(document.querySelectorAll('[data-days]'), function (button) {
    button.addEventListener('click', function () {
      setDays(Number(button.getAttribute('data-days')));
      load();
    });
  });

  ui.filters.addEventListener('submit', function (event) {
    event.preventDefault();
    load();
  });
  ui.agency.addEventListener('change', function () { load(); });

  function query() {
    var params = new URLSearchParams({ from: ui.from.value, to: ui.to.value });
    if (me && me.role !== 'agency' && ui.agency.value) { params.set('agency', ui.agency.value); }
    return params.toString();
  }

  function load() {
    ui.filtersError.hidden = true;
    if (!ui.from.value || !ui.to.value || ui.from.value > ui.to.value) {
      S.show(ui.filtersError, 'กรุณาเลือกช่วงวันที่ให้ถูกต้อง (วันเริ่มต้องไม่หลังวันสิ้นสุด)');
      (ui.from.value ? ui.to : ui.from).focus();
      return Promise.resolve();
    }
    var q = query();
    var turn = ++loading;
    ui.periodTitle.textContent = 'สถิติ ' + S.thaiDay(ui.from.value) + (ui.from.value === ui.to.value ? '' : ' – ' + S.thaiDay(ui.to.value))
      + (me.role !== 'agency' && ui.agency.value ? ' · ' + AGENCIES[ui.agency.value] : '');
    ui.csvSummary.href = '/api/analytics/summary.csv?' + q;
    ui.csvTurns.href = '/api/analytics/turns.csv?' + q;
    ui.kpis.setAttribute('aria-busy', 'true');
    var summary = api('GET', '/api/analytics/summary?' + q).then(function (data) {
      if (turn !== loading) { return; }
      renderSummary(data);
      announce('แสดงสถิติ ' + ui.periodTitle.textContent);
    }, function (error) {
      S.show(ui.filtersError, error.status === 422 ? 'ช่วงวันที่ไม่ถูกต้อง (ไม่เกิน 366 วัน)' : S.detail(error) || S.NETWORK_ERROR);
    });
    loadBacklog(q, turn);
    return summary;
  }

  // ---- numbers and charts ----

  function kpi(label, value, note) {
    var li = el('li', 'kpi card');
    li.appendChild(el('span', 'kpi-label', label));
    li.appendChild(el('span', 'kpi-value', value));
    if (note) { li.appendChild(el('span', 'kpi-note', note)); }
    ui.kpis.appendChild(li);
  }

  function renderSummary(d) {
    S.clear(ui.kpis);
    kpi('บทสนทนา', S.number(d.conversations), 'ข้อความจากประชาชน ' + S.number(d.turns));
    kpi('ตอบจบโดยไม่ต้องส่งต่อ', S.percent(d.containment), 'ส่งต่อเจ้าหน้าที่ ' + S.number(d.handoffs) + ' ครั้ง');
    kpi('ถามกลับ', S.percent(d.ask_back_rate), 'ของข้อความทั้งหมด');
    kpi('นอกขอบเขต', S.percent(d.out_of_scope_rate), 'ของข้อความทั้งหมด');
    var fb = d.feedback || {};
    kpi('ความเห็นต่อคำตอบ', '👍 ' + S.number(fb.helpful || 0) + '  👎 ' + S.number(fb.unhelpful || 0), 'ช่วยได้ / ไม่ช่วย');
    var latency = d.latency_ms || {};
    kpi('เวลาตอบ (ค่ากลาง)', duration(latency.p50), typeof latency.p95 === 'number' ? '95% ภายใน ' + duration(latency.p95) : '');
    ui.kpis.setAttribute('aria-busy', 'false');

    var days = d.by_day || [];
    draw('days', 'bar', days.map(function (x) { return S.thaiDay(x.day); }), days.map(function (x) { return x.turns; }), 'ข้อความ');
    table('table-days', ['วันที่', 'ข้อความ'], days.map(function (x) { return [S.thaiDay(x.day), x.turns]; }));

    var services = (d.by_service || []).slice(0, 10);
    draw('services', 'hbar', services.map(function (x) { return serviceName(x.service_id); }), services.map(function (x) { return x.turns; }), 'ข้อความ');
    table('table-services', ['บริการ', 'ข้อความ'], (d.by_service || []).map(function (x) { return [serviceName(x.service_id), x.turns]; }));

    var topics = (d.by_topic || []).slice(0, 10);
    draw('topics', 'hbar', topics.map(function (x) { return TOPICS[x.topic] || x.topic; }), topics.map(function (x) { return x.turns; }), 'ข้อความ');
    table('table-topics', ['หัวข้อ', 'ข้อความ'], (d.by_topic || []).map(function (x) { return [TOPICS[x.topic] || x.topic, x.turns]; }));

    var kinds = Object.keys(d.by_kind || {}).sort(function (a, b) { return d.by_kind[b] - d.by_kind[a]; });
    draw('kinds', 'doughnut', kinds.map(function (k) { return KINDS[k] || k; }), kinds.map(function (k) { return d.by_kind[k]; }), 'ข้อความ');
    table('table-kinds', ['ประเภท', 'ข้อความ'], kinds.map(function (k) { return [KINDS[k] || k, d.by_kind[k]]; }));
  }

  // The assistant answers in well under a second: milliseconds read better than "0.0 วินาที".
  function duration(ms) {
    if (typeof ms !== 'number') { return '–'; }
    return ms < 1000 ? Math.round(ms) + ' มิลลิวินาที' : (ms / 1000).toFixed(1) + ' วินาที';
  }

  function table(id, head, rows) {
    var t = $(id);
    S.clear(t);
    var tr = el('tr');
    head.forEach(function (h, i) { var th = el('th', i ? 'num' : null, h); th.scope = 'col'; tr.appendChild(th); });
    t.appendChild(tr);
    if (!rows.length) {
      var empty = el('tr');
      var td = el('td', 'muted', 'ไม่มีข้อมูลในช่วงนี้');
      td.colSpan = head.length;
      empty.appendChild(td);
      t.appendChild(empty);
    }
    rows.forEach(function (r) {
      var row = el('tr');
      var th = el('th', null, r[0]);
      th.scope = 'row';
      row.appendChild(th);
      row.appendChild(el('td', 'num', S.number(r[1])));
      t.appendChild(row);
    });
  }

  function draw(name, kind, labels, values, what) {
    if (typeof window.Chart !== 'function') { return; }
    var canvas = $('chart-' + name);
    canvas.setAttribute('aria-label', canvas.getAttribute('aria-label').split(':')[0] + ': '
      + labels.map(function (l, i) { return l + ' ' + values[i]; }).slice(0, 12).join(', '));
    var doughnut = kind === 'doughnut';
    var data = {
      labels: labels,
      datasets: [{
        label: what,
        data: values,
        backgroundColor: doughnut ? labels.map(function (_, i) { return COLORS[i % COLORS.length]; }) : '#1f4e8c',
        borderRadius: doughnut ? 0 : 4,
        maxBarThickness: 36
      }]
    };
    if (charts[name]) {
      charts[name].data = data;
      charts[name].update();
      return;
    }
    var options = {
      responsive: true,
      maintainAspectRatio: false,
      animation: { duration: 250 },
      // On a phone the legend goes under the doughnut, which keeps the width.
      plugins: { legend: { display: doughnut, position: window.innerWidth < 600 ? 'bottom' : 'right' } }
    };
    if (!doughnut) {
      options.indexAxis = kind === 'hbar' ? 'y' : 'x';
      options.scales = {};
      options.scales[kind === 'hbar' ? 'x' : 'y'] = { beginAtZero: true, ticks: { precision: 0 } };
    }
    charts[name] = new window.Chart(canvas, { type: doughnut ? 'doughnut' : 'bar', data: data, options: options });
  }

  if (typeof window.Chart === 'function') {
    window.Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
    window.Chart.defaults.color = '#1c2430';
  }

  // ---- CSV: fetched with the token (a plain link cannot carry it), then saved ----

  [ui.csvSummary, ui.csvTurns].forEach(function (a) {
    a.addEventListener('click', function (event) {
      event.preventDefault();
      S.show(ui.exportStatus, 'กำลังเตรียมไฟล์…');
      session.download(a.getAttribute('href'), a.id === 'csv-turns' ? 'turns.csv' : 'summary.csv').then(function (name) {
        S.show(ui.exportStatus, 'ดาวน์โหลด ' + name + ' แล้ว');
      }, function (error) {
        S.show(ui.exportStatus, S.detail(error) || S.NETWORK_ERROR);
      });
    });
  });

  // ---- the backlog ----

  function loadBacklog(q, turn) {
    S.show(ui.backlogStatus, 'กำลังจัดกลุ่มคำถาม…');
    S.clear(ui.backlogList);
    api('GET', '/api/analytics/unanswered?' + q).then(function (data) {
      if (turn !== loading) { return; }
      var clusters = (data && data.clusters) || [];
      S.show(ui.backlogStatus, clusters.length ? 'ทั้งหมด ' + S.number(data.questions || 0) + ' คำถามใน ' + clusters.length + ' กลุ่ม'
        : 'ไม่มีคำถามที่ตอบไม่ได้ในช่วงนี้');
      clusters.forEach(renderCluster);
    }, function (error) {
      S.show(ui.backlogStatus, S.detail(error) || S.NETWORK_ERROR);
    });
  }

  function renderCluster(c, index) {
    var li = el('li', 'cluster');
    var head = el('div', 'cluster-head');
    var title = el('h3', null, '“' + c.label + '”');
    title.id = 'cluster-' + index;
    head.appendChild(title);
    head.appendChild(el('span', 'badge', c.count + ' ครั้ง'));
    li.appendChild(head);
    var examples = (c.examples || []).filter(function (x) { return x !== c.label; });
    if (examples.length) {
      var ul = el('ul', 'cluster-examples');
      examples.slice(0, 5).forEach(function (x) { ul.appendChild(el('li', null, x)); });
      if (examples.length > 5) { ul.appendChild(el('li', 'muted', 'และอีก ' + (examples.length - 5) + ' แบบ')); }
      li.appendChild(ul);
    }
    var status = el('p', 'cluster-status');
    status.setAttribute('role', 'status');
    if (canTeach()) {
      var button = el('button', 'small', 'สร้างตัวอย่างคำถาม');
      button.type = 'button';
      button.setAttribute('aria-describedby', title.id);
      button.addEventListener('click', function () { openDialog(c, status); });
      li.appendChild(button);
    }
    li.appendChild(status);
    ui.backlogList.appendChild(li);
  }

  function addLine(text, checked) {
    var n = ui.lines.children.length + 1;
    var li = el('li', 'example-line');
    var box = el('input');
    box.type = 'checkbox';
    box.checked = checked !== false;
    box.id = 'example-use-' + n;
    box.setAttribute('aria-label', 'ใช้คำถามข้อที่ ' + n);
    var input = el('input');
    input.type = 'text';
    input.value = text;
    input.maxLength = 300;
    input.id = 'example-text-' + n;
    input.setAttribute('aria-label', 'คำถามข้อที่ ' + n);
    li.appendChild(box);
    li.appendChild(input);
    ui.lines.appendChild(li);
    return input;
  }

  function openDialog(c, status) {
    cluster = { status: status };
    S.clear(ui.service);
    var list = ownServices && ownServices.length ? ownServices.map(function (s) { return s.id; }) : Object.keys(SEED);
    if (me.role === 'agency') {
      list = list.filter(function (id) { return !ownServices || ownServices.some(function (s) { return s.id === id; }); });
    }
    var prompt = el('option', null, 'เลือกบริการ');
    prompt.value = '';
    ui.service.appendChild(prompt);
    list.sort(function (a, b) { return serviceName(a).localeCompare(serviceName(b), 'th'); }).forEach(function (id) {
      var option = el('option', null, serviceName(id));
      option.value = id;
      ui.service.appendChild(option);
    });
    S.clear(ui.topic);
    Object.keys(TOPICS).forEach(function (t) {
      var option = el('option', null, TOPICS[t]);
      option.value = t;
      ui.topic.appendChild(option);
    });
    ui.topic.value = 'overview';
    S.clear(ui.lines);
    var texts = [c.label].concat((c.examples || []).filter(function (x) { return x !== c.label; }));
    texts.slice(0, 20).forEach(function (t) { addLine(t, true); });
    ui.formError.hidden = true;
    ui.service.removeAttribute('aria-invalid');
    ui.dialog.showModal();
    ui.service.focus();
  }

  ui.add.addEventListener('click', function () { addLine('', true).focus(); });

  Array.prototype.forEach.call(document.querySelectorAll('dialog [data-cancel]'), function (button) {
    button.addEventListener('click', function () { button.closest('dialog').close(); });
  });

  ui.form.addEventListener('submit', function (event) {
    event.preventDefault();
    var texts = [];
    Array.prototype.forEach.call(ui.lines.children, function (li) {
      var inputs = li.querySelectorAll('input');
      var text = inputs[1].value.trim();
      if (inputs[0].checked && text) { texts.push(text); }
    });
    if (!ui.service.value) {
      ui.service.setAttribute('aria-invalid', 'true');
      S.show(ui.formError, 'กรุณาเลือกบริการที่คำถามกลุ่มนี้ถามถึง');
      ui.service.focus();
      return;
    }
    ui.service.removeAttribute('aria-invalid');
    if (!texts.length) {
      S.show(ui.formError, 'กรุณาเลือกคำถามอย่างน้อยหนึ่งข้อ');
      return;
    }
    ui.send.disabled = true;
    var body = { service_id: ui.service.value, topic: ui.topic.value, texts: texts };
    api('POST', '/api/agency/examples', body).then(function (data) {
      ui.dialog.close();
      var status = cluster.status;
      S.clear(status);
      status.appendChild(el('span', 'badge ok', 'เริ่มฝึกโมเดลทดลองแล้ว'));
      status.appendChild(el('span', null, ' ' + texts.length + ' คำถาม → ' + serviceName(body.service_id) + ' · ' + TOPICS[body.topic] + ' '));
      var follow = el('a', null, 'ดูความคืบหน้า');
      follow.href = '/agency/#candidate/' + encodeURIComponent(data.candidate);
      status.appendChild(follow);
      follow.focus();
    }, function (error) {
      var text = error.status === 403 ? 'บริการนี้เป็นของหน่วยงานอื่น'
        : error.status === 422 && error.data && Array.isArray(error.data.errors)
          ? error.data.errors.map(function (e) {
            var line = /^texts\[(\d+)\]$/.exec(e.field || '');
            return (line ? 'คำถามข้อที่ ' + (Number(line[1]) + 1) + ': ' : '') + e.message;
          }).join(' · ')
          : S.detail(error) || S.NETWORK_ERROR;
      S.show(ui.formError, text);
    }).finally(function () {
      ui.send.disabled = false;
    });
  });

  session.resume();
}());

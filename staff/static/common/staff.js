/* What the staff pages share (/agent/, /agency/, /dashboard/): DOM helpers that put text in with
 * textContent only, the API with the bearer token, signing in and out, Thai dates, and a reader of
 * Server-Sent Events over fetch (an EventSource cannot send the Authorization header).
 * Loaded before each page's own script; it defines window.Staff and nothing else. */
(function () {
  'use strict';

  var NETWORK_ERROR = 'เชื่อมต่อเซิร์ฟเวอร์ไม่ได้ กรุณาลองอีกครั้ง';
  var EXPIRED = 'การเข้าสู่ระบบหมดอายุ กรุณาเข้าสู่ระบบอีกครั้ง';
  var ROLE_LABELS = { agent: 'เจ้าหน้าที่', supervisor: 'หัวหน้าเวร', agency: 'หน่วยงาน', admin: 'ผู้ดูแลระบบ' };
  var THAI_MONTHS = ['ม.ค.', 'ก.พ.', 'มี.ค.', 'เม.ย.', 'พ.ค.', 'มิ.ย.', 'ก.ค.', 'ส.ค.', 'ก.ย.', 'ต.ค.', 'พ.ย.', 'ธ.ค.'];

  function readJson(text) {
    try { return JSON.parse(text || '{}') || {}; } catch (e) { return {}; }
  }

  // ---- DOM: text only, never markup from strings ----

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    return node;
  }

  function safeUrl(value) {
    if (typeof value !== 'string') { return null; }
    try {
      var url = new URL(value);
      return (url.protocol === 'http:' || url.protocol === 'https:') ? url.href : null;
    } catch (e) {
      return null;
    }
  }

  function link(href, text) {
    var a = el('a', null, text);
    a.href = href;
    a.target = '_blank';
    a.rel = 'noopener noreferrer';
    return a;
  }

  function show(node, text) {
    node.textContent = text;
    node.hidden = !text;
  }

  function clear(node) {
    while (node.firstChild) { node.removeChild(node.firstChild); }
  }

  function announcer(node) {
    return function (text) {
      // Clearing first makes a repeated message be read again.
      node.textContent = '';
      window.setTimeout(function () { node.textContent = text; }, 50);
    };
  }

  // ---- Thai dates: the Buddhist year, as officers read them ----

  function thaiDay(iso) {
    // A calendar day (YYYY-MM-DD) is a Thai day already: no time zone arithmetic.
    var m = /^(\d{4})-(\d{2})-(\d{2})/.exec(iso || '');
    if (!m) { return iso || ''; }
    return Number(m[3]) + ' ' + THAI_MONTHS[Number(m[2]) - 1] + ' ' + (Number(m[1]) + 543);
  }

  function thaiDateTime(iso) {
    var t = Date.parse(iso);
    if (isNaN(t)) { return iso || ''; }
    return new Date(t).toLocaleString('th-TH', {
      timeZone: 'Asia/Bangkok', day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit'
    });
  }

  function bangkokToday() {
    // en-CA writes YYYY-MM-DD.
    return new Date().toLocaleDateString('en-CA', { timeZone: 'Asia/Bangkok' });
  }

  function addDays(day, n) {
    var d = new Date(day + 'T00:00:00Z');
    d.setUTCDate(d.getUTCDate() + n);
    return d.toISOString().slice(0, 10);
  }

  function number(value) {
    return typeof value === 'number' ? value.toLocaleString('th-TH') : '–';
  }

  function percent(value) {
    return typeof value === 'number' ? Math.round(value * 1000) / 10 + '%' : '–';
  }

  // ---- the API ----

  function ApiError(status, data) {
    this.status = status;
    this.data = data;
  }

  // The server's Thai `detail`, when it sent one.
  function detail(error) {
    var d = error && error.data && error.data.detail;
    return typeof d === 'string' ? d : '';
  }

  function loadToken(key) {
    try { return window.sessionStorage.getItem(key); } catch (e) { return null; }
  }

  function saveToken(key, value) {
    try {
      if (value) { window.sessionStorage.setItem(key, value); } else { window.sessionStorage.removeItem(key); }
    } catch (e) { /* storage disabled: the token lives in this page only */ }
  }

  /* A signed-in session for one page.
   *   options.tokenKey  sessionStorage key of the token
   *   options.roles     the roles the page is for
   *   options.refused   what an account of another role is told
   *   options.app       the page's element, shown while signed in; the sign-in form (common/signin.html) and
   *                     the #signout button are found by their ids
   *   options.start(user) -> promise: show the page for this account
   *   options.stop()    the page is left (signed out, token expired): stop timers and streams
   * Any 401 goes back to sign-in. */
  function session(options) {
    var $ = function (id) { return document.getElementById(id); };
    var ui = {
      signin: $('signin'), signinForm: $('signin-form'), username: $('username'), password: $('password'),
      signinError: $('signin-error'), signinInfo: $('signin-info'), signinButton: $('signin-button'),
      app: options.app, signout: $('signout')
    };
    var token = null;
    var me = null;

    function showSignin(info) {
      ui.app.hidden = true;
      ui.signin.hidden = false;
      show(ui.signinInfo, info || '');
      ui.signinError.hidden = true;
      ui.password.value = '';
      (ui.username.value ? ui.password : ui.username).focus();
    }

    function signedOut(info) {
      if (!token && ui.app.hidden) { return; }
      token = null;
      me = null;
      saveToken(options.tokenKey, null);
      if (options.stop) { options.stop(); }
      showSignin(info);
    }

    function request(method, path, body, accept) {
      var headers = { Accept: accept || 'application/json' };
      if (token) { headers.Authorization = 'Bearer ' + token; }
      if (body !== undefined) { headers['Content-Type'] = 'application/json'; }
      return fetch(path, {
        method: method,
        headers: headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: 'no-store'
      }).then(function (response) {
        if (response.status === 401 && path !== '/api/auth/login') { signedOut(EXPIRED); }
        return response;
      }, function () {
        throw new ApiError(0, null);
      });
    }

    function api(method, path, body) {
      return request(method, path, body).then(function (response) {
        return response.json().catch(function () { return null; }).then(function (data) {
          if (!response.ok) { throw new ApiError(response.status, data); }
          return data;
        });
      });
    }

    // A file the API makes (CSV): fetched with the token, then saved under the server's name.
    function download(path, fallbackName) {
      return request('GET', path, undefined, '*/*').then(function (response) {
        if (!response.ok) {
          return response.json().catch(function () { return null; }).then(function (data) {
            throw new ApiError(response.status, data);
          });
        }
        var disposition = response.headers.get('Content-Disposition') || '';
        var named = /filename="?([^";]+)"?/.exec(disposition);
        return response.blob().then(function (blob) {
          var url = URL.createObjectURL(blob);
          var a = el('a');
          a.href = url;
          a.download = named ? named[1] : fallbackName;
          document.body.appendChild(a);
          a.click();
          a.remove();
          window.setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
          return a.download;
        });
      });
    }

    function begin() {
      return api('GET', '/api/auth/me').then(function (user) {
        if (!user || options.roles.indexOf(user.role) < 0) {
          token = null;
          saveToken(options.tokenKey, null);
          showSignin('');
          show(ui.signinError, options.refused);
          return;
        }
        me = user;
        ui.signin.hidden = true;
        ui.app.hidden = false;
        return options.start(user);
      });
    }

    ui.signinForm.addEventListener('submit', function (event) {
      event.preventDefault();
      var username = ui.username.value.trim();
      var password = ui.password.value;
      if (!username || !password) {
        show(ui.signinError, 'กรุณากรอกชื่อผู้ใช้และรหัสผ่าน');
        (username ? ui.password : ui.username).focus();
        return;
      }
      ui.signinButton.disabled = true;
      ui.signinError.hidden = true;
      api('POST', '/api/auth/login', { username: username, password: password }).then(function (data) {
        token = data && data.token;
        if (!token) { throw new ApiError(500, null); }
        saveToken(options.tokenKey, token);
        return begin();
      }).catch(function (error) {
        var status = error && error.status;
        var text = status === 401 ? 'ชื่อผู้ใช้หรือรหัสผ่านไม่ถูกต้อง'
          : status === 429 ? 'ลองเข้าสู่ระบบผิดหลายครั้งเกินไป กรุณารอสักครู่แล้วลองใหม่'
            : status === 0 ? NETWORK_ERROR : 'เข้าสู่ระบบไม่สำเร็จ กรุณาลองอีกครั้ง';
        show(ui.signinError, text);
        ui.password.focus();
      }).finally(function () {
        ui.signinButton.disabled = false;
      });
    });

    ui.signout.addEventListener('click', function () {
      var old = token;
      if (old) {
        fetch('/api/auth/logout', { method: 'POST', headers: { Authorization: 'Bearer ' + old } }).catch(function () {});
      }
      signedOut('ออกจากระบบแล้ว');
    });

    // At load: the stored token if there is one, else the sign-in form.
    function resume() {
      token = loadToken(options.tokenKey);
      if (!token) {
        showSignin('');
        return;
      }
      begin().catch(function (error) {
        if (error && error.status === 401) { return; }
        ui.app.hidden = true;
        showSignin('');
        show(ui.signinError, NETWORK_ERROR);
      });
    }

    return {
      api: api,
      request: request,
      download: download,
      resume: resume,
      signedOut: signedOut,
      token: function () { return token; },
      me: function () { return me; }
    };
  }

  /* Reads a text/event-stream body: calls onEvent(object) for each event whose `data:` lines make
   * JSON; comments (`:`) are keep-alives. `current()` false stops reading (a newer stream took over). */
  function readEvents(body, onEvent, current) {
    var reader = body.getReader();
    var decoder = new TextDecoder();
    var buffer = '';
    function dispatch(block) {
      var data = [];
      block.split('\n').forEach(function (line) {
        if (line.indexOf('data:') === 0) { data.push(line.slice(5).replace(/^ /, '')); }
      });
      if (!data.length) { return; }
      var event;
      try { event = JSON.parse(data.join('\n')); } catch (e) { return; }
      if (event && typeof event === 'object') { onEvent(event); }
    }
    function pump() {
      return reader.read().then(function (chunk) {
        if (!current()) { reader.cancel().catch(function () {}); return; }
        if (chunk.done) { return; }
        buffer += decoder.decode(chunk.value, { stream: true }).replace(/\r\n?/g, '\n');
        var end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
        return pump();
      });
    }
    return pump();
  }

  window.Staff = {
    NETWORK_ERROR: NETWORK_ERROR,
    EXPIRED: EXPIRED,
    ROLE_LABELS: ROLE_LABELS,
    readJson: readJson,
    el: el,
    safeUrl: safeUrl,
    link: link,
    show: show,
    clear: clear,
    announcer: announcer,
    thaiDay: thaiDay,
    thaiDateTime: thaiDateTime,
    bangkokToday: bangkokToday,
    addDays: addDays,
    number: number,
    percent: percent,
    ApiError: ApiError,
    detail: detail,
    session: session,
    readEvents: readEvents
  };
}());

/* Embeds the assistant on an agency page with one tag:
 *   <script src="https://gateway.example/widget.js" data-title="ผู้ช่วยกรมการกงสุล"></script>
 * It adds a launcher button and, when opened, an iframe with the chat page. Styles are set through
 * element.style so it works under host pages whose CSP forbids inline <style>. */
(function () {
  'use strict';

  var script = document.currentScript;
  if (!script || window.__thgovChatWidget) { return; }
  window.__thgovChatWidget = true;

  var origin = new URL(script.src, document.baseURI).origin;
  var title = (script.getAttribute('data-title') || 'ผู้ช่วยตอบคำถามบริการภาครัฐ').slice(0, 80);
  var pageUrl = origin + '/?embed=1&title=' + encodeURIComponent(title);
  var panelId = 'thgov-chat-panel';
  var open = false;

  var launcher = document.createElement('button');
  launcher.type = 'button';
  launcher.textContent = 'ถามผู้ช่วย';
  launcher.id = 'thgov-chat-launcher';
  launcher.title = title;
  launcher.setAttribute('aria-expanded', 'false');
  launcher.setAttribute('aria-controls', panelId);
  Object.assign(launcher.style, {
    position: 'fixed', right: '16px', bottom: '16px', zIndex: '2147483000',
    minHeight: '48px', padding: '0 20px', borderRadius: '24px', border: '0',
    background: '#1f4e8c', color: '#fff', font: '600 16px/1 Tahoma, sans-serif',
    boxShadow: '0 2px 8px rgba(0,0,0,0.25)', cursor: 'pointer'
  });

  var panel = document.createElement('div');
  panel.id = panelId;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-label', title);
  Object.assign(panel.style, {
    position: 'fixed', zIndex: '2147483000', display: 'none', background: '#fff',
    boxShadow: '0 4px 24px rgba(0,0,0,0.25)', overflow: 'hidden'
  });

  var frame = document.createElement('iframe');
  frame.title = title;
  frame.setAttribute('referrerpolicy', 'strict-origin-when-cross-origin');
  Object.assign(frame.style, { width: '100%', height: '100%', border: '0', display: 'block' });
  panel.appendChild(frame);

  var small = window.matchMedia('(max-width: 480px)');

  function layout() {
    if (small.matches) {
      // Phones: the chat takes the screen, leaving room for the launcher, which becomes "close".
      Object.assign(panel.style, { left: '0', right: '0', top: '0', bottom: '80px', width: 'auto',
                                   height: 'auto', borderRadius: '0' });
    } else {
      Object.assign(panel.style, { left: 'auto', top: 'auto', right: '16px', bottom: '80px',
                                   width: '380px', height: 'min(640px, calc(100vh - 100px))',
                                   borderRadius: '16px' });
    }
  }

  function setOpen(value) {
    open = value;
    if (open && !frame.src) { frame.src = pageUrl; }
    panel.style.display = open ? 'block' : 'none';
    launcher.setAttribute('aria-expanded', open ? 'true' : 'false');
    launcher.textContent = open ? 'ปิดแชท' : 'ถามผู้ช่วย';
    if (open) {
      frame.focus();
      if (frame.contentWindow) { frame.contentWindow.postMessage('thgov-chat:focus', origin); }
    }
  }

  frame.addEventListener('load', function () {
    if (open && frame.contentWindow) { frame.contentWindow.postMessage('thgov-chat:focus', origin); }
  });
  window.addEventListener('message', function (event) {
    if (open && event.source === frame.contentWindow && event.data === 'thgov-chat:close') {
      setOpen(false);
      launcher.focus();
    }
  });
  launcher.addEventListener('click', function () { setOpen(!open); });
  document.addEventListener('keydown', function (event) {
    if (open && event.key === 'Escape') {
      setOpen(false);
      launcher.focus();
    }
  });
  if (typeof small.addEventListener === 'function') { small.addEventListener('change', layout); }

  function mount() {
    layout();
    document.body.appendChild(panel);
    document.body.appendChild(launcher);
  }

  // The tag may sit in <head>, before there is a body to attach to.
  if (document.body) {
    mount();
  } else {
    document.addEventListener('DOMContentLoaded', mount);
  }
}());

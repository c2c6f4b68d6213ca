// ringcast web UI: who is looking.  A login link's token (in the URL
// fragment, which no request carries) or a typed one becomes an HttpOnly
// cookie through POST /api/login; GET /api/session says whose the page is:
// the engineer's (everything) or one listener's (its own mix).
'use strict';

async function ringcastLogin() {
  const post = (path, body) => fetch(path, { method: 'POST',
    headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  const m = /^#token=([A-Za-z0-9._-]+)$/.exec(location.hash);
  if (m) {
    // Out of the address bar and the history before anything else.
    history.replaceState(null, '', location.pathname + location.search);
    const r = await post('/api/login', { token: m[1] });
    if (!r.ok) document.getElementById('login-error').textContent =
      'This link no longer works: ask the sound engineer for a new one.';
  }
  const r = await fetch('/api/session');
  if (r.ok) {
    const who = await r.json();
    const out = document.getElementById('logout');
    out.hidden = !who.auth;
    out.addEventListener('click', async () => { await post('/api/logout', {}); location.reload(); });
    return who;
  }
  const form = document.getElementById('login');
  form.hidden = false;
  document.querySelector('main').hidden = true;
  document.getElementById('listen').hidden = true;
  document.getElementById('login-token').focus();
  return new Promise(() => {
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const res = await post('/api/login', { token: document.getElementById('login-token').value.trim() });
      if (res.ok) { location.reload(); return; }
      document.getElementById('login-error').textContent = res.status === 429 ?
        'Too many wrong tokens from here: wait a minute.' : 'That token does not work.';
    });
  });
}

// ringcast web UI: the engineer's view of every listener, live.
// Open the event stream first, then fetch status and clients, so nothing is
// missed; every event then updates the page in place.
'use strict';

const S = {
  channels: 0,
  names: [],
  clients: new Map(),   // id -> entry (the API's /api/clients entry)
  nodes: new Map(),     // id -> { root, strips: [...], master, ... }
  sending: new Map(),   // id -> { inflight, pending }
  meters: null,
  meterNodes: [],
  frame: false,
};

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, props = {}, ...kids) => {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') n.className = v;
    else if (k === 'text') n.textContent = v;
    else if (k.startsWith('on')) n.addEventListener(k.slice(2), v);
    else if (k in n && typeof v !== 'string') n[k] = v;
    else n.setAttribute(k, v);
  }
  for (const c of kids) if (c) n.append(c);
  return n;
};

function say(msg) { $('#status').textContent = msg || ''; }

async function api(method, path, body) {
  const opt = { method, headers: {} };
  if (body !== undefined) {
    opt.headers['Content-Type'] = 'application/json';
    opt.body = JSON.stringify(body);
  }
  const r = await fetch(path, opt);
  let data = null;
  try { data = await r.json(); } catch (e) { /* no body */ }
  if (!r.ok) throw new Error((data && data.error) || `${method} ${path}: ${r.status}`);
  return data;
}

// ---- gain: dB on screen, linear on the wire ----
const DB_MIN = -60, DB_MAX = 12;
const toDb = (lin) => (lin <= 0 ? DB_MIN : Math.max(DB_MIN, Math.min(DB_MAX, 20 * Math.log10(lin))));
const toLin = (db) => (db <= DB_MIN ? 0 : Math.pow(10, db / 20));
const dbText = (db) => (db <= DB_MIN ? '−∞' : (db > 0 ? '+' : '') + db.toFixed(1));

function chName(c) { return S.names[c] || `Ch ${c + 1}`; }

function ago(ms) {
  if (!ms) return '';
  const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h${String(Math.floor(s / 60) % 60).padStart(2, '0')}`;
}

// ---- input meters ----
function buildMeters() {
  const box = $('#meters');
  box.textContent = '';
  S.meterNodes = [];
  for (let c = 0; c < S.channels; c++) {
    const rms = el('div', { class: 'rms' });
    const peak = el('div', { class: 'peak' });
    const name = el('button', { class: 'name', type: 'button', text: chName(c),
      title: `rename ${chName(c)}`, 'aria-label': `rename channel ${c + 1}`,
      onclick: () => renameChannel(c) });
    box.append(el('div', { class: 'meter', 'data-ch': String(c) },
      el('div', { class: 'bar' }, rms, peak), name));
    S.meterNodes.push({ rms, peak, name });
  }
}

function drawMeters() {
  S.frame = false;
  const m = S.meters;
  if (!m || !m.input) return;
  const pk = m.input.peak || [], rm = m.input.rms || [];
  S.meterNodes.forEach((n, c) => {
    const p = Math.min(1, pk[c] || 0), r = Math.min(1, rm[c] || 0);
    n.rms.style.height = `${(r * 100).toFixed(1)}%`;
    n.peak.style.bottom = `${(p * 100).toFixed(1)}%`;
  });
  // Post-mix levels of the listeners the server mixes for.
  for (const [id, lv] of Object.entries(m.clients || {})) {
    const n = S.nodes.get(id);
    if (!n) continue;
    n.master.post.querySelectorAll('.rms').forEach((b, i) => {
      b.style.height = `${(Math.min(1, lv.rms[i] || 0) * 100).toFixed(1)}%`;
    });
  }
}

async function renameChannel(c) {
  const name = prompt(`Name of channel ${c + 1}`, chName(c));
  if (name === null || name.trim() === '') return;
  try { await api('POST', '/api/channels', { channel: c, name: name.trim() }); say(''); }
  catch (e) { say(`Rename failed: ${e.message}`); }
}

function setNames(names) {
  S.names = names || [];
  S.meterNodes.forEach((n, c) => { n.name.textContent = chName(c); });
  for (const node of S.nodes.values())
    node.strips.forEach((s, c) => { s.label.textContent = chName(c); });
}

// ---- mix changes: one request in flight per client, the latest wins ----
function sendMix(id, fields) {
  let st = S.sending.get(id);
  if (!st) S.sending.set(id, st = { inflight: false, pending: null });
  st.pending = mergeFields(st.pending, fields);
  if (!st.inflight) flush(id, st);
}

function mergeFields(a, b) {
  if (!a) return JSON.parse(JSON.stringify(b));
  for (const k of ['gains', 'pans', 'mutes'])
    if (b[k]) a[k] = Object.assign(a[k] || {}, b[k]);
  if ('master_gain' in b) a.master_gain = b.master_gain;
  if ('channels' in b) a.channels = b.channels;
  return a;
}

async function flush(id, st) {
  const body = st.pending;
  st.pending = null;
  st.inflight = true;
  try {
    const mix = await api('POST', `/api/clients/${encodeURIComponent(id)}/mix`, body);
    const e = S.clients.get(id);
    if (e) { Object.assign(e, mix); updateStrips(id); }
    say('');
  } catch (err) {
    say(`Mix change for ${id} not applied: ${err.message}`);
  }
  st.inflight = false;
  if (st.pending) flush(id, st);
}

// ---- a client's channel strips ----
function mixOf(e, c) {
  const k = String(c);
  return {
    sub: (e.channels || []).includes(c),
    gain: e.gains && k in e.gains ? e.gains[k] : 1,
    pan: e.pans && k in e.pans ? e.pans[k] : 0,
    mute: !!(e.mutes && e.mutes[k]),
  };
}

function strip(id, c) {
  const label = el('div', { class: 'chname', text: chName(c) });
  const sub = el('input', { type: 'checkbox', 'data-role': 'sub', 'data-ch': String(c),
    'aria-label': `send ${chName(c)}` });
  const fader = el('input', { type: 'range', class: 'fader', min: String(DB_MIN), max: String(DB_MAX),
    step: '0.5', 'data-role': 'gain', 'data-ch': String(c), 'aria-label': `gain of channel ${c + 1}` });
  const db = el('div', { class: 'db' });
  const pan = el('input', { type: 'range', class: 'pan', min: '-1', max: '1', step: '0.05',
    'data-role': 'pan', 'data-ch': String(c), 'aria-label': `pan of channel ${c + 1}` });
  const mute = el('input', { type: 'checkbox', 'data-role': 'mute', 'data-ch': String(c),
    'aria-label': `mute channel ${c + 1}` });
  const root = el('div', { class: 'strip', 'data-ch': String(c) }, label,
    el('label', {}, sub, 'on'), fader, db, pan, el('label', {}, mute, 'mute'));
  sub.addEventListener('change', () => {
    const e = S.clients.get(id);
    const set = new Set(e.channels || []);
    if (sub.checked) set.add(c); else set.delete(c);
    e.channels = [...set].sort((a, b) => a - b);
    root.classList.toggle('off', !sub.checked);
    sendMix(id, { channels: e.channels });
  });
  fader.addEventListener('input', () => {
    const v = Number(fader.value);
    db.textContent = dbText(v);
    sendMix(id, { gains: { [c]: Number(toLin(v).toFixed(5)) } });
  });
  pan.addEventListener('input', () => sendMix(id, { pans: { [c]: Number(pan.value) } }));
  mute.addEventListener('change', () => sendMix(id, { mutes: { [c]: mute.checked } }));
  return { root, label, sub, fader, db, pan, mute };
}

function masterStrip(id) {
  const fader = el('input', { type: 'range', class: 'fader', min: String(DB_MIN), max: '12',
    step: '0.5', 'data-role': 'master', 'aria-label': 'master gain' });
  const db = el('div', { class: 'db' });
  const post = el('div', { class: 'postmix', title: 'post-mix level' },
    el('div', { class: 'bar' }, el('div', { class: 'rms' })),
    el('div', { class: 'bar' }, el('div', { class: 'rms' })));
  const root = el('div', { class: 'strip master' }, el('div', { class: 'chname', text: 'Master' }),
    fader, db);
  fader.addEventListener('input', () => {
    const v = Number(fader.value);
    db.textContent = dbText(v);
    sendMix(id, { master_gain: Number(Math.min(5, toLin(v)).toFixed(5)) });
  });
  return { root, fader, db, post };
}

// Set a control unless the engineer is holding it right now.
function setIf(input, prop, value) {
  if (document.activeElement === input && input.matches(':active')) return;
  if (input[prop] !== value) input[prop] = value;
}

function updateStrips(id) {
  const e = S.clients.get(id), n = S.nodes.get(id);
  if (!e || !n) return;
  n.strips.forEach((s, c) => {
    const m = mixOf(e, c);
    setIf(s.sub, 'checked', m.sub);
    s.root.classList.toggle('off', !m.sub);
    const db = toDb(m.gain);
    setIf(s.fader, 'value', String(Math.round(db * 2) / 2));
    s.db.textContent = dbText(db);
    setIf(s.pan, 'value', String(m.pan));
    setIf(s.mute, 'checked', m.mute);
  });
  const mdb = toDb(e.master_gain === undefined ? 1 : e.master_gain);
  setIf(n.master.fader, 'value', String(Math.round(mdb * 2) / 2));
  n.master.db.textContent = dbText(mdb);
}

// ---- the client list ----
function healthText(e) {
  const h = e.health || {};
  const parts = [`sent ${e.periods_sent || 0}`, `dropped ${h.dropped || e.periods_dropped || 0}`];
  if (h.lost) parts.push(`lost ${h.lost}`);
  if (h.stalls) parts.push(`stalled ${h.stalls}×`);
  if (h.timeouts) parts.push(`timed out ${h.timeouts}×`);
  if (e.last_exit) parts.push(`last exit: ${e.last_exit}`);
  return parts.join(' · ');
}

function buildClient(id) {
  const e = S.clients.get(id);
  const name = el('button', { class: 'name', type: 'button', title: 'rename',
    'aria-label': `rename ${e.name || id}`, onclick: () => renameClient(id) });
  const meta = el('span', { class: 'meta' });
  const health = el('span', { class: 'meta health' });
  const state = el('span', { class: 'meta', 'data-role': 'state' });
  const up = el('button', { type: 'button', text: '▲', 'aria-label': 'move up', onclick: () => move(id, -1) });
  const down = el('button', { type: 'button', text: '▼', 'aria-label': 'move down', onclick: () => move(id, 1) });
  const forget = el('button', { type: 'button', class: 'danger', text: 'Forget',
    'aria-label': `forget ${id}`, onclick: () => forgetClient(id) });
  const strips = [];
  const box = el('div', { class: 'strips' });
  for (let c = 0; c < S.channels; c++) { const s = strip(id, c); strips.push(s); box.append(s.root); }
  const master = masterStrip(id);
  if (e.server_mix) master.root.append(master.post);
  box.append(master.root);
  const root = el('section', { class: 'client', 'data-client-id': id },
    el('div', { class: 'head' }, el('span', { class: 'dot' }), name,
      el('span', { class: 'badge', text: e.kind === 'wav' ? 'WAV' : 'app' }), state, meta, health,
      el('span', { class: 'tools' }, up, down, forget)), box);
  S.nodes.set(id, { root, name, meta, health, state, strips, master, forget });
  updateClient(id);
  updateStrips(id);
}

function updateClient(id) {
  const e = S.clients.get(id), n = S.nodes.get(id);
  if (!e || !n) return;
  n.root.classList.toggle('offline', !e.connected);
  n.name.textContent = e.name || id;
  n.state.textContent = e.connected ? 'connected' : 'disconnected';
  n.meta.textContent = [e.remote, e.connected && e.connected_since ? `for ${ago(e.connected_since)}` :
    (e.last_seen ? `seen ${ago(e.last_seen)} ago` : '')].filter(Boolean).join(' · ');
  n.health.textContent = healthText(e);
  n.health.classList.toggle('bad', !!((e.health && (e.health.dropped || e.health.lost)) ||
    ['stalled', 'timeout', 'sandbox', 'killed'].includes(e.last_exit)));
  n.forget.hidden = !e.saved;
}

function sortedIds() {
  return [...S.clients.values()].sort((a, b) => (a.order || 0) - (b.order || 0) ||
    String(a.name || a.id).localeCompare(String(b.name || b.id))).map((e) => e.id);
}

function renderList() {
  const box = $('#clients');
  for (const id of S.nodes.keys())
    if (!S.clients.has(id)) { S.nodes.get(id).root.remove(); S.nodes.delete(id); }
  for (const id of sortedIds()) {
    if (!S.nodes.has(id)) buildClient(id);
    box.append(S.nodes.get(id).root);   // moves it into order
  }
  $('#empty').hidden = S.clients.size > 0;
  const live = [...S.clients.values()].filter((e) => e.connected).length;
  $('#summary').textContent = `${live} connected · ${S.clients.size} known`;
}

function upsert(e) {
  const old = S.clients.get(e.id);
  S.clients.set(e.id, Object.assign(old || {}, e));
  if (S.nodes.has(e.id)) { updateClient(e.id); updateStrips(e.id); }
  renderList();
}

async function renameClient(id) {
  const e = S.clients.get(id);
  const name = prompt('Name', e.name || id);
  if (name === null || name.trim() === '') return;
  try { upsert(await api('POST', `/api/clients/${encodeURIComponent(id)}`, { name: name.trim() })); say(''); }
  catch (err) { say(`Rename failed: ${err.message}`); }
}

// Reorder: renumber the whole list so the positions stay distinct.
async function move(id, delta) {
  const ids = sortedIds(), i = ids.indexOf(id), j = i + delta;
  if (j < 0 || j >= ids.length) return;
  [ids[i], ids[j]] = [ids[j], ids[i]];
  try {
    for (let k = 0; k < ids.length; k++) {
      const e = S.clients.get(ids[k]);
      if (e.kind === 'wav' || (e.order || 0) === k) continue;
      upsert(await api('POST', `/api/clients/${encodeURIComponent(ids[k])}`, { order: k }));
    }
    say('');
  } catch (err) { say(`Reorder failed: ${err.message}`); }
}

async function forgetClient(id) {
  if (!confirm(`Forget the saved mix of ${S.clients.get(id).name || id}?`)) return;
  try {
    await api('DELETE', `/api/clients/${encodeURIComponent(id)}`);
    const e = S.clients.get(id);
    if (e && e.connected) { e.saved = false; updateClient(id); } else S.clients.delete(id);
    renderList();
    say('');
  } catch (err) { say(`Forget failed: ${err.message}`); }
}

// ---- status and the first load ----
function setCapture(c) {
  const p = $('#capture');
  const st = c.state || (c.ready ? 'running' : 'down');
  p.textContent = `capture ${st}`;
  p.className = 'pill ' + (st === 'running' ? 'ok' : 'bad');
  p.title = `source ${c.source || ''}, pid ${c.pid || '-'}, restarts ${c.restarts || 0}`;
}

async function load() {
  const st = await api('GET', '/api/status');
  if (st.channels !== S.channels) {
    S.channels = st.channels;
    for (const n of S.nodes.values()) n.root.remove();
    S.nodes.clear();
    S.names = st.channel_names || [];
    buildMeters();
  } else setNames(st.channel_names);
  setCapture(Object.assign({ source: st.source }, st.capture));
  const seen = new Set();
  let offset = 0;
  for (;;) {
    const page = await api('GET', `/api/clients?offset=${offset}`);
    for (const e of page.clients) { seen.add(e.id); S.clients.set(e.id, Object.assign(S.clients.get(e.id) || {}, e)); }
    if (page.next === null || page.next === undefined) break;
    offset = page.next;
  }
  for (const id of [...S.clients.keys()]) if (!seen.has(id)) S.clients.delete(id);
  renderList();
  for (const id of S.nodes.keys()) { updateClient(id); updateStrips(id); }
}

function connect() {
  const es = new EventSource('/api/events');
  const on = (name, fn) => es.addEventListener(name, (m) => {
    try { fn(JSON.parse(m.data)); } catch (e) { console.error(name, e); }
  });
  es.onopen = () => {
    $('#link').textContent = 'live';
    $('#link').className = 'pill ok';
    load().catch((e) => say(`Cannot load: ${e.message}`));
  };
  es.onerror = () => {
    $('#link').textContent = 'reconnecting…';
    $('#link').className = 'pill bad';
  };
  on('client_connected', (e) => upsert(e));
  on('client_disconnected', (d) => {
    const e = S.clients.get(d.id);
    if (!e) return;
    if (e.kind === 'wav' || !e.saved) { S.clients.delete(d.id); renderList(); return; }
    upsert({ id: d.id, connected: false, last_exit: d.reason, remote: e.remote, last_seen: Date.now() });
  });
  on('mix_changed', (d) => {
    const e = S.clients.get(d.id);
    if (!e) return;
    for (const k of ['gains', 'pans', 'mutes']) delete e[k];
    Object.assign(e, d.mix);
    updateStrips(d.id);
  });
  on('client_updated', (e) => {
    if (e.deleted) {
      const old = S.clients.get(e.id);
      if (old && old.connected) { old.saved = false; updateClient(e.id); } else S.clients.delete(e.id);
      renderList();
    } else upsert(e);
  });
  on('channels', (d) => setNames(d.channel_names));
  on('capture', (c) => setCapture(c));
  on('stats', (d) => {
    for (const s of d.clients || []) {
      const e = S.clients.get(s.id);
      if (!e) continue;
      e.periods_sent = s.periods_sent;
      e.health = Object.assign(e.health || {}, { dropped: s.periods_dropped, lost: s.lost });
      updateClient(s.id);
    }
  });
  on('meters', (m) => {
    S.meters = m;
    if (!S.frame) { S.frame = true; requestAnimationFrame(drawMeters); }
  });
}

$('#listen').addEventListener('click', () => {
  const p = $('#player');
  if (p.paused) { p.src = '/stream.wav?mix=1'; p.play().catch((e) => say(`Cannot play: ${e.message}`)); $('#listen').textContent = 'Stop'; }
  else { p.pause(); p.removeAttribute('src'); p.load(); $('#listen').textContent = 'Listen'; }
});

setInterval(() => { for (const id of S.nodes.keys()) updateClient(id); }, 5000);
connect();

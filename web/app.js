// ringcast web UI: the engineer's view of every listener, live.
// Open the event stream first, then fetch status and clients, so nothing is
// missed; every event then updates the page in place.
'use strict';

const S = {
  channels: 0,
  names: [],
  epoch: null,          // the capture's, to notice a reconfiguration
  clients: new Map(),   // id -> entry (the API's /api/clients entry)
  nodes: new Map(),     // id -> { root, body, strips: [...], master, ... }
  sending: new Map(),   // id -> { inflight, pending }
  open: new Set(),      // ids whose mixer is open
  seen: new Set(),      // ids given their first open/closed state
  meters: null,
  meterNodes: [],
  frame: false,
  devices: null,        // the last GET /api/devices answer
  built: 0,             // listener nodes made, for unique element ids
  me: null,             // a listener's page: its identity; null: the engineer's
};

// A phone: one mixer open at a time, every listener starts folded.
const small = window.matchMedia('(max-width: 600px)');

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
  if (!r.ok) {
    const err = new Error((data && data.error) || `${method} ${path}: ${r.status}`);
    err.status = r.status;
    throw err;
  }
  return data;
}

const clientPath = (id, tail = '') => `/api/clients/${encodeURIComponent(id)}${tail}`;

// ---- gain: dB on screen, linear on the wire, as the app converts ----
const DB_MIN = -60, DB_MAX = 12;
const toDb = (lin) => (lin <= 0 ? DB_MIN : Math.max(DB_MIN, Math.min(DB_MAX, 20 * Math.log10(lin))));
const toLin = (db) => (db <= DB_MIN ? 0 : Math.pow(10, db / 20));
const dbText = (db) => (db <= DB_MIN ? '−∞' : (db > 0 ? '+' : '') + db.toFixed(1));
const fader05 = (db) => String(Math.round(db * 2) / 2);

// Pan -1..+1 as the engineer reads it: L 30, C, R 30.
function panText(p) {
  const v = Math.round(Math.abs(p) * 100);
  return v === 0 ? 'C' : `${p < 0 ? 'L' : 'R'} ${v}`;
}
const panSpoken = (p) => panText(p).replace(/^L/, 'left').replace(/^R/, 'right').replace(/^C$/, 'centre');

function chName(c) { return S.names[c] || `Ch ${c + 1}`; }
const clientName = (e) => e.name || e.id;

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
// A listener with a change not yet committed carries data-saving.
function saving(id, on) {
  const n = S.nodes.get(id);
  if (n) n.root.toggleAttribute('data-saving', on);
}

function sendMix(id, fields) {
  let st = S.sending.get(id);
  if (!st) S.sending.set(id, st = { inflight: false, pending: null });
  st.pending = mergeFields(st.pending, fields);
  saving(id, true);
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
    const mix = await api('POST', clientPath(id, '/mix'), body);
    const e = S.clients.get(id);
    if (e) { Object.assign(e, mix); updateStrips(id); }
    say('');
  } catch (err) {
    say(`Mix change for ${id} not applied: ${err.message}`);
  }
  st.inflight = false;
  if (st.pending) flush(id, st); else saving(id, false);
}

// The subscription as the engineer just set it: shown now, sent in turn.
function subscribe(id, channels) {
  const e = S.clients.get(id);
  e.channels = [...new Set(channels)].sort((a, b) => a - b);
  updateStrips(id);
  sendMix(id, { channels: e.channels });
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

// Double-click, double-tap or C puts a pan control back in the centre.
function centreOn(pan, centre) {
  let lastTap = 0;
  pan.addEventListener('dblclick', centre);
  pan.addEventListener('pointerup', (ev) => {
    if (ev.pointerType !== 'touch') return;
    if (ev.timeStamp - lastTap < 350) { lastTap = 0; centre(); } else lastTap = ev.timeStamp;
  });
  pan.addEventListener('keydown', (ev) => {
    if (ev.key === 'c' || ev.key === 'C') { ev.preventDefault(); centre(); }
  });
}

function showPan(s, p) {
  s.panText.textContent = panText(p);
  s.pan.setAttribute('aria-valuetext', panSpoken(p));
}

function strip(id, c) {
  const ch = String(c);
  const label = el('div', { class: 'chname', text: chName(c) });
  const sub = el('input', { type: 'checkbox', 'data-role': 'sub', 'data-ch': ch,
    'aria-label': `send channel ${c + 1}` });
  const fader = el('input', { type: 'range', class: 'fader', min: String(DB_MIN), max: String(DB_MAX),
    step: '0.5', 'data-role': 'gain', 'data-ch': ch, 'aria-label': `gain of channel ${c + 1}` });
  const db = el('div', { class: 'db' });
  const pan = el('input', { type: 'range', class: 'pan', min: '-1', max: '1', step: '0.05',
    'data-role': 'pan', 'data-ch': ch, 'aria-label': `pan of channel ${c + 1}`,
    title: 'double-click, double-tap or press C: centre' });
  const panOut = el('output', { class: 'pantext', 'data-role': 'pantext', 'data-ch': ch });
  const mute = el('input', { type: 'checkbox', 'data-role': 'mute', 'data-ch': ch,
    'aria-label': `mute channel ${c + 1}` });
  const root = el('div', { class: 'strip', 'data-ch': ch }, label,
    el('label', { class: 'on' }, sub, el('span', { text: 'on' })), fader, db, pan, panOut,
    el('label', { class: 'mute' }, mute, 'mute'));
  const s = { root, label, sub, fader, db, pan, panText: panOut, mute };
  sub.addEventListener('change', () => {
    const set = new Set(S.clients.get(id).channels || []);
    if (sub.checked) set.add(c); else set.delete(c);
    subscribe(id, [...set]);
  });
  fader.addEventListener('input', () => {
    const v = Number(fader.value);
    db.textContent = dbText(v);
    fader.setAttribute('aria-valuetext', `${dbText(v)} dB`);
    sendMix(id, { gains: { [c]: Number(toLin(v).toFixed(5)) } });
  });
  pan.addEventListener('input', () => {
    showPan(s, Number(pan.value));
    sendMix(id, { pans: { [c]: Number(pan.value) } });
  });
  centreOn(pan, () => {
    pan.value = '0';
    showPan(s, 0);
    sendMix(id, { pans: { [c]: 0 } });
  });
  mute.addEventListener('change', () => sendMix(id, { mutes: { [c]: mute.checked } }));
  return s;
}

function masterStrip(id) {
  const fader = el('input', { type: 'range', class: 'fader', min: String(DB_MIN), max: String(DB_MAX),
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
    fader.setAttribute('aria-valuetext', `${dbText(v)} dB`);
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
    setIf(s.fader, 'value', fader05(db));
    s.db.textContent = dbText(db);
    s.fader.setAttribute('aria-valuetext', `${dbText(db)} dB`);
    setIf(s.pan, 'value', String(m.pan));
    showPan(s, Number(s.pan.value));
    setIf(s.mute, 'checked', m.mute);
  });
  const mdb = toDb(e.master_gain === undefined ? 1 : e.master_gain);
  setIf(n.master.fader, 'value', fader05(mdb));
  n.master.db.textContent = dbText(mdb);
  n.count.textContent = `${(e.channels || []).length} ch`;
  n.mdbValue.textContent = `${dbText(mdb)} dB`;
}

// ---- a listener: one line, its mixer below when open ----
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
  const bodyId = `mixer-${++S.built}`;
  const name = el('span', { class: 'name' });
  const alias = el('span', { class: 'alias', 'data-role': 'alias' });
  const state = el('span', { class: 'state', 'data-role': 'state' });
  const count = el('span', { class: 'count', 'data-role': 'count' });
  const mdbValue = el('span');
  const mdb = el('span', { class: 'mdb', 'data-role': 'master-db', title: 'master gain' },
    el('span', { class: 'lbl', text: 'master ' }), mdbValue);
  const toggle = el('button', { type: 'button', class: 'toggle', 'data-role': 'toggle',
    'aria-expanded': 'false', 'aria-controls': bodyId, onclick: () => setOpen(id, !S.open.has(id)) },
  el('span', { class: 'dot' }), name,
  el('span', { class: 'badge', text: e.kind === 'wav' ? 'WAV' : 'app' }), alias, state, count, mdb,
  el('span', { class: 'chev', 'aria-hidden': 'true' }));
  const meta = el('span', { class: 'meta' });
  const health = el('span', { class: 'meta health' });
  const earlier = el('span', { class: 'meta', 'data-role': 'aliases' });
  // Each listener's section is labelled with its name: "Disconnect" needs no more.
  const tool = (text, role, fn, label) => el('button', Object.assign({ type: 'button', text,
    'data-role': role, onclick: fn }, label ? { 'aria-label': label } : {}));
  const tools = {
    allOn: tool('All on', 'all-on', () => subscribe(id, [...Array(S.channels).keys()])),
    allOff: tool('All off', 'all-off', () => subscribe(id, [])),
    rename: tool('Rename', 'rename', () => renameClient(id)),
    up: tool('▲', 'up', () => move(id, -1), 'move up'),
    down: tool('▼', 'down', () => move(id, 1), 'move down'),
    approve: tool('Approve', 'approve', () => approveClient(id)),
    link: tool('Link', 'link', () => showLink(id)),
    kick: tool('Disconnect', 'disconnect', () => kickClient(id)),
    forget: tool('Forget', 'forget', () => forgetClient(id)),
  };
  tools.kick.classList.add('danger');
  tools.forget.classList.add('danger');
  // A listener's own page changes its mix, nothing else.
  const shown = S.me !== null ? [tools.allOn, tools.allOff] : Object.values(tools);
  const strips = [];
  const box = el('div', { class: 'strips' });
  for (let c = 0; c < S.channels; c++) { const s = strip(id, c); strips.push(s); box.append(s.root); }
  const master = masterStrip(id);
  if (e.server_mix) master.root.append(master.post);
  box.append(master.root);
  const linkBox = el('div', { class: 'linkbox', 'data-role': 'linkbox', hidden: true });
  const body = el('div', { class: 'body', id: bodyId },
    el('div', { class: 'info' }, meta, health, earlier),
    el('div', { class: 'tools' }, ...shown), linkBox, box);
  const root = el('section', { class: 'client', 'data-client-id': id, role: 'group',
    'aria-label': clientName(e) },
    el('div', { class: 'head' }, toggle), body);
  S.nodes.set(id, { root, body, toggle, name, alias, state, count, mdbValue, meta, health, earlier,
    tools, strips, master, linkBox });
  if (!S.seen.has(id)) {
    S.seen.add(id);
    if (e.connected && !small.matches) S.open.add(id);
  }
  showOpen(id);
  updateClient(id);
  updateStrips(id);
}

function showOpen(id) {
  const n = S.nodes.get(id);
  if (!n) return;
  const open = S.open.has(id);
  n.body.hidden = !open;
  n.root.classList.toggle('open', open);
  n.toggle.setAttribute('aria-expanded', String(open));
}

function setOpen(id, open) {
  if (open && small.matches) for (const other of [...S.open]) { S.open.delete(other); showOpen(other); }
  if (open) S.open.add(id); else S.open.delete(id);
  showOpen(id);
}

function updateClient(id) {
  const e = S.clients.get(id), n = S.nodes.get(id);
  if (!e || !n) return;
  const aliases = e.aliases || [];
  n.root.classList.toggle('offline', !e.connected);
  n.root.setAttribute('aria-label', clientName(e));
  n.name.textContent = clientName(e);
  n.alias.textContent = aliases.length ? '(app restarted)' : '';
  n.alias.title = aliases.length ? `earlier identities: ${aliases.join(', ')}` : '';
  n.state.textContent = e.pending ? 'waiting for approval' : e.connected ? 'connected' : 'disconnected';
  n.root.classList.toggle('pending', !!e.pending);
  n.tools.approve.hidden = !e.pending;
  n.tools.link.hidden = e.kind === 'wav';
  n.meta.textContent = [e.remote, e.connected && e.connected_since ? `for ${ago(e.connected_since)}` :
    (e.last_seen ? `seen ${ago(e.last_seen)} ago` : '')].filter(Boolean).join(' · ');
  n.health.textContent = healthText(e);
  n.health.classList.toggle('bad', !!((e.health && (e.health.dropped || e.health.lost)) ||
    ['stalled', 'timeout', 'sandbox', 'killed'].includes(e.last_exit)));
  n.earlier.textContent = aliases.length ? `earlier ids: ${aliases.join(', ')}` : '';
  n.tools.kick.hidden = !e.connected;
  n.tools.forget.hidden = !e.saved;
  n.tools.rename.hidden = n.tools.up.hidden = n.tools.down.hidden = e.kind === 'wav';
}

// The engineer's order (then names).
function byOrder(a, b) {
  return (a.order || 0) - (b.order || 0) || String(clientName(a)).localeCompare(String(clientName(b)));
}

// Connected listeners first, each group in the engineer's order.
function sortedIds() {
  return [...S.clients.values()].sort((a, b) => (b.connected ? 1 : 0) - (a.connected ? 1 : 0) ||
    byOrder(a, b)).map((e) => e.id);
}

function renderList() {
  const live = $('#clients'), gone = $('#offline-list');
  for (const id of S.nodes.keys())
    if (!S.clients.has(id)) { S.nodes.get(id).root.remove(); S.nodes.delete(id); S.open.delete(id); }
  let offline = 0;
  for (const id of sortedIds()) {
    if (!S.nodes.has(id)) buildClient(id);
    const e = S.clients.get(id);
    if (!e.connected) offline++;
    (e.connected ? live : gone).append(S.nodes.get(id).root);   // moves it into order
  }
  $('#empty').hidden = S.clients.size > 0;
  $('#offline').hidden = offline === 0;
  $('#offline-count').textContent = String(offline);
  $('#summary').textContent = `${S.clients.size - offline} connected · ${S.clients.size} known`;
}

function upsert(e) {
  const old = S.clients.get(e.id);
  S.clients.set(e.id, Object.assign(old || {}, e));
  // A whole entry without "pending" is an admitted listener.
  if (e.name !== undefined && !e.pending) delete S.clients.get(e.id).pending;
  // A relaunched app took an earlier identity's record: that one is gone.
  for (const a of e.aliases || []) {
    const was = S.clients.get(a);
    if (was && !was.connected) S.clients.delete(a);
  }
  if (S.nodes.has(e.id)) { updateClient(e.id); updateStrips(e.id); }
  renderList();
}

async function renameClient(id) {
  const e = S.clients.get(id);
  const name = prompt('Name', clientName(e));
  if (name === null || name.trim() === '') return;
  try { upsert(await api('POST', clientPath(id), { name: name.trim() })); say(''); }
  catch (err) { say(`Rename failed: ${err.message}`); }
}

// Swap with the neighbour shown (the next one of the same group, connected
// or offline) in the engineer's order, then renumber the whole list so the
// positions stay distinct.
async function move(id, delta) {
  const ids = [...S.clients.values()].sort(byOrder).map((e) => e.id), i = ids.indexOf(id);
  const live = !!S.clients.get(id).connected;
  let j = i + delta;
  while (j >= 0 && j < ids.length && !!S.clients.get(ids[j]).connected !== live) j += delta;
  if (j < 0 || j >= ids.length) return;
  [ids[i], ids[j]] = [ids[j], ids[i]];
  try {
    for (let k = 0; k < ids.length; k++) {
      const e = S.clients.get(ids[k]);
      if (e.kind === 'wav' || (e.order || 0) === k) continue;
      upsert(await api('POST', clientPath(ids[k]), { order: k }));
    }
    say('');
  } catch (err) { say(`Reorder failed: ${err.message}`); }
}

async function kickClient(id) {
  const e = S.clients.get(id);
  if (!confirm(`Disconnect ${clientName(e)}? The app reconnects by itself after about a second.`)) return;
  try {
    await api('POST', clientPath(id, '/disconnect'));
    say(`${clientName(e)} disconnected.`);
  } catch (err) {
    say(err.status === 404 ? `${clientName(e)} is not connected.` : `Disconnect failed: ${err.message}`);
  }
}

async function forgetClient(id) {
  if (!confirm(`Forget the saved mix of ${clientName(S.clients.get(id))}?`)) return;
  try {
    await api('DELETE', clientPath(id));
    const e = S.clients.get(id);
    if (e && e.connected) { e.saved = false; updateClient(id); } else S.clients.delete(id);
    renderList();
    say('');
  } catch (err) { say(`Forget failed: ${err.message}`); }
}

// ---- status: capture, where phones point ----
function setCapture(c) {
  const p = $('#capture');
  const st = c.state || (c.ready ? 'running' : 'down');
  p.textContent = `capture ${st}`;
  p.className = 'pill ' + (st === 'running' ? 'ok' : st === 'starting' ? 'warn' : 'bad');
  p.title = `source ${c.source || ''}, pid ${c.pid || '-'}, restarts ${c.restarts || 0}`;
  // Another channel count (a switch made anywhere): rebuild from the status.
  const reshaped = ('channels' in c && c.channels !== S.channels) ||
    (c.epoch !== undefined && S.epoch !== null && c.epoch !== S.epoch);
  if (c.epoch !== undefined) S.epoch = c.epoch;
  if (reshaped) load().catch((e) => say(`Cannot load: ${e.message}`));
}

// "127.0.0.1:5101" or "[::1]:5101" -> ["127.0.0.1", "5101"].
function hostPort(addr) {
  const m = /^\[?(.*?)\]?:(\d+)$/.exec(addr || '');
  return m ? [m[1], m[2]] : [addr || '', ''];
}

function setPhones(st) {
  const lan = st.addresses || [];
  const where = lan.length ? lan.map((a) => [a.address, a.native, a.http]) :
    [[...hostPort(st.native), hostPort(st.http)[1]]];
  const box = $('#phones');
  const at = ([h, p]) => (h === '0.0.0.0' || h === '::' ? `any address of this machine, port ${p}` : `${h} port ${p}`);
  box.textContent = where[0][0] ? `Phones: ${where.map(at).join(' · ')}` : '';
  box.title = where.map(([h, , http]) => `engineer: http://${h.includes(':') ? `[${h}]` : h}:${http}/`).join('\n');
}

// ---- access: approving a waiting phone, a musician's login link ----
async function approveClient(id) {
  try {
    await api('POST', clientPath(id, '/approve'));
    upsert({ id, pending: false });
  } catch (e) { say(`Cannot approve: ${e.message}`); }
}

// A new link (it replaces this listener's earlier one) and its QR code,
// which the server draws: the token rides in the fragment, never sent.
async function showLink(id) {
  const n = S.nodes.get(id);
  if (!n) return;
  if (!n.linkBox.hidden) { n.linkBox.hidden = true; return; }
  try {
    const l = await api('POST', clientPath(id, '/link'), { origin: location.origin });
    const svg = new DOMParser().parseFromString(l.svg, 'image/svg+xml').documentElement;
    svg.setAttribute('role', 'img');
    svg.setAttribute('aria-label', `QR code of ${clientName(S.clients.get(id) || { id })}'s link`);
    n.linkBox.replaceChildren(el('div', { class: 'qr' }, document.importNode(svg, true)),
      el('p', { class: 'meta', text: 'Open on the musician\'s phone: their mix, nothing else. A new link replaces this one.' }),
      el('input', { class: 'url', type: 'text', readOnly: true, value: l.url, 'aria-label': 'login link' }));
    n.linkBox.hidden = false;
  } catch (e) { say(`No link: ${e.message}`); }
}

// A listener's own page: its entry alone, opened.
async function loadOwn() {
  const e = await api('GET', clientPath(S.me));
  S.clients.clear();
  S.clients.set(e.id, e);
  S.open.add(e.id);
  renderList();
  updateClient(e.id);
  updateStrips(e.id);
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
  S.epoch = st.capture && st.capture.epoch !== undefined ? st.capture.epoch : null;
  setCapture(Object.assign({ source: st.source }, st.capture));
  setPhones(st);
  if (S.me !== null) { await loadOwn(); return; }
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
  loadDevices();
}

// ---- the audio interface: which source, how many channels ----
const sourceName = (src) => (src === 'tone' ? 'built-in tone' : String(src || '').replace(/^portaudio:/, ''));

async function loadDevices() {
  let d;
  try { d = await api('GET', '/api/devices'); }
  catch (err) {
    // Not offered by this server: no panel.
    if (err.status === 404) { $('#device').hidden = true; return; }
    $('#device').hidden = false;
    deviceError(`Cannot list the audio interfaces: ${err.message}`);
    return;
  }
  S.devices = d;
  const cur = d.current || {};
  const sel = $('#device-source');
  const opts = [['tone', 'Built-in tone']];
  for (const v of d.devices || [])
    if (v.inputs > 0) opts.push([`portaudio:${v.name}`, `${v.name} (${v.host_api}, ${v.inputs} in)`]);
  if (cur.source && !opts.some(([v]) => v === cur.source)) opts.push([cur.source, `${sourceName(cur.source)} (now)`]);
  // A refresh keeps what the engineer picked, if it is still there.
  const picked = sel.value;
  sel.textContent = '';
  for (const [v, t] of opts) sel.append(el('option', { value: v, text: t }));
  sel.value = opts.some(([v]) => v === picked) ? picked : cur.source || 'tone';
  if (!$('#device-channels').value) $('#device-channels').value = String(cur.channels || S.channels || 2);
  const saved = d.saved && (d.saved.source !== cur.source || d.saved.channels !== cur.channels) ?
    `; next start: ${sourceName(d.saved.source)}, ${d.saved.channels} ch` : '';
  $('#device-current').textContent = `${sourceName(cur.source)}, ${cur.channels} channels${saved}`;
  $('#device').hidden = false;
  deviceLimits();
}

function deviceError(msg) {
  const p = $('#device-error');
  p.textContent = msg || '';
  p.hidden = !msg;
}

// What the engineer picked: source, channels ("max" or N), the count that
// will result (null when only the server knows), and what it does to listeners.
function devicePick() {
  const d = S.devices || {}, cur = d.current || {};
  const source = $('#device-source').value;
  const max = $('#device-max').checked;
  const dev = (d.devices || []).find((v) => `portaudio:${v.name}` === source);
  const channels = max ? 'max' : Number($('#device-channels').value);
  const count = max ? (dev ? dev.inputs : null) : channels;
  let effect;
  if (count === null) effect = 'If the channel count changes, every listener is disconnected and reconnects.';
  else if (count === cur.channels) effect = `Same channel count (${count}): every listener keeps streaming.`;
  else effect = `${cur.channels} → ${count} channels: every listener is disconnected and reconnects by itself.`;
  return { source, channels, count, effect: `Switch to ${sourceName(source)}. ${effect}` };
}

function deviceLimits() {
  const dev = ((S.devices || {}).devices || []).find((v) => `portaudio:${v.name}` === $('#device-source').value);
  const n = $('#device-channels');
  n.max = String(dev ? dev.inputs : 256);
  if (Number(n.value) > Number(n.max)) n.value = n.max;
  n.disabled = $('#device-max').checked;
}

// Another pick: the question asked about the last one no longer stands.
function devicePicked() {
  deviceLimits();
  $('#device-confirm').hidden = true;
}

function deviceAsk(ev) {
  ev.preventDefault();
  const pick = devicePick();
  if (pick.channels !== 'max' && !(pick.channels >= 1 && pick.channels <= Number($('#device-channels').max))) {
    deviceError(`Channels: 1 to ${$('#device-channels').max}.`);
    return;
  }
  deviceError('');
  $('#device-effect').textContent = pick.effect;
  $('#device-confirm').hidden = false;
  $('#device-yes').focus();
}

async function deviceSwitch() {
  const pick = devicePick();
  $('#device-confirm').hidden = true;
  try {
    const r = await api('POST', '/api/capture', { source: pick.source, channels: pick.channels });
    say(`Now on ${sourceName(r.source)}, ${r.channels} channels` +
      (r.reconfigured ? ': listeners are reconnecting.' : '.'));
    deviceError('');
    $('#device-channels').value = String(r.channels);
    $('#device-max').checked = false;
    await load();
  } catch (err) {
    const cur = (S.devices || {}).current || {};
    const msg = `Cannot switch to ${sourceName(pick.source)}: ${err.message}. Still on ${sourceName(cur.source)}.`;
    deviceError(msg);
    say(msg);
  }
}

$('#device-form').addEventListener('submit', deviceAsk);
$('#device-source').addEventListener('change', devicePicked);
$('#device-max').addEventListener('change', devicePicked);
$('#device-channels').addEventListener('input', devicePicked);
$('#device-yes').addEventListener('click', deviceSwitch);
$('#device-no').addEventListener('click', () => { $('#device-confirm').hidden = true; });
$('#device').addEventListener('toggle', () => { if ($('#device').open) loadDevices(); });

// ---- live updates ----
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
  if (p.paused) { p.src = S.me !== null ? '/stream.wav' : '/stream.wav?mix=1'; p.play().catch((e) => say(`Cannot play: ${e.message}`)); $('#listen').textContent = 'Stop'; }
  else { p.pause(); p.removeAttribute('src'); p.load(); $('#listen').textContent = 'Listen'; }
});

setInterval(() => { for (const id of S.nodes.keys()) updateClient(id); }, 5000);
ringcastLogin().then((who) => {
  if (who.role === 'listener') {
    S.me = who.listener;
    document.body.classList.add('musician');
    $('#clients-title').textContent = 'Your mix';
    $('#inputs').hidden = true;
  }
  connect();
}).catch((e) => say(`Cannot start: ${e.message}`));

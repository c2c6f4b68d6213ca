// ringcast web UI: the published AES67 streams (GET /api/publish), read-only.
// Kept apart from app.js: a small section that polls, shown only when
// ringcastd publishes something.
'use strict';

(() => {
  const PERIOD_MS = 5000;
  const section = document.getElementById('published');
  const list = document.getElementById('streams');

  const node = (tag, text, cls) => {
    const n = document.createElement(tag);
    if (text !== undefined) n.textContent = text;
    if (cls) n.className = cls;
    return n;
  };

  const channels = (a) => (a.length > 1 && a[a.length - 1] - a[0] === a.length - 1
    ? `${a[0] + 1}–${a[a.length - 1] + 1}` : a.map((c) => c + 1).join(', '));

  function row(s) {
    const tr = node('tr');
    const c = s.counters || {};
    tr.append(node('td', s.name), node('td', `${s.group}:${s.port}`),
      node('td', channels(s.channels || [])),
      node('td', `${s.format} ${s.ptime_us / 1000} ms`),
      node('td', s.state, `state ${s.state}`),
      node('td', `${c.packets || 0} sent, ${c.dropped || 0} dropped, ${c.skipped || 0} skipped`));
    const sdp = node('details');
    sdp.append(node('summary', 'SDP'), node('pre', s.sdp));
    const td = node('td');
    td.append(sdp);
    tr.append(td);
    return tr;
  }

  function render(d) {
    const streams = (d && d.streams) || [];
    section.hidden = streams.length === 0;
    if (streams.length === 0) return;
    const open = new Set([...list.querySelectorAll('details[open]')].map((e) => e.closest('tr').firstChild.textContent));
    const table = node('table', undefined, 'streams');
    const head = node('tr');
    for (const h of ['name', 'group', 'channels', 'format', 'state', 'packets', ''])
      head.append(node('th', h));
    table.append(head);
    for (const s of streams) {
      const tr = row(s);
      if (open.has(s.name)) tr.querySelector('details').open = true;
      table.append(tr);
    }
    const sap = node('p', `Announced to ${d.sap} every ${d.sap_interval_s} s` +
      (d.interface ? ` on ${d.interface}` : ''), 'empty');
    list.replaceChildren(table, sap);
  }

  async function poll() {
    try {
      const r = await fetch('/api/publish');
      if (r.ok) render(await r.json());
    } catch (e) { /* the next poll tries again */ }
  }

  if (section && list) {
    poll();
    setInterval(poll, PERIOD_MS);
  }
})();

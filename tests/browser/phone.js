// phone.js — the web UI on a 360 px phone, for tests/test_webui.c.
//
// usage: node phone.js URL CLIENT_ID OTHER_ID SCREENSHOT PHONES
// Prints "collapsed" (every listener one line, PHONES in the header),
// "accordion" (one mixer open at a time; screenshot written), then, each
// after a "go": "alloff_at MS", "allon_at MS" (Date.now() of the tap),
// "pan" (readout, double-click and double-tap centre, saved), "kick_at MS"
// (the disconnect confirmed), "kicked" (CLIENT_ID folded under Offline),
// "device" (the audio interface panel against a stand-in /api/devices and
// /api/capture), and "done".
'use strict';

const { say, nextLine, newPage, screenshot, run, expect, client, settled, entry } = require('./lib');

const [url, id, other, shot, phones] = process.argv.slice(2);

// Date.now() when the control's click handler ran, then the click.
async function clickAt(page, control) {
  await control.evaluate((b) => b.addEventListener('click', () => { window.clickedAt = Date.now(); },
    { once: true, capture: true }));
  await control.tap();
  return page.evaluate(() => window.clickedAt);
}

async function collapsed(page) {
  await client(page, id).locator('[data-role="state"]', { hasText: /^connected$/ }).waitFor();
  await client(page, other).waitFor();
  await page.locator('#phones', { hasText: phones }).waitFor();
  for (const row of await page.locator('#clients section.client').all()) {
    expect(await row.locator('.body').isHidden(), 'a mixer is open at first on a phone');
    const line = row.locator('[data-role="toggle"]');
    const box = await line.boundingBox();
    expect(box.height <= 56, `a folded listener is ${box.height} px tall`);
    expect(await line.evaluate((t) => t.scrollWidth <= t.clientWidth), 'a folded listener overflows its line');
    expect(await line.getAttribute('aria-expanded') === 'false', 'aria-expanded is not false');
  }
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= 360), 'the page is wider than the phone');
  await page.locator('#offline summary', { hasText: 'Offline (1)' }).waitFor();
  expect(!(await page.locator('#offline').evaluate((d) => d.open)), 'the offline fold is open at first');
  say('collapsed');
}

async function accordion(page) {
  const a = client(page, id), b = client(page, other);
  await a.locator('[data-role="toggle"]').tap();
  await a.locator('.body').waitFor();
  await b.locator('[data-role="toggle"]').tap();
  await b.locator('.body').waitFor();
  await a.locator('.body').waitFor({ state: 'hidden' });
  await a.locator('[data-role="toggle"]').tap();
  await a.locator('.body').waitFor();
  await b.locator('.body').waitFor({ state: 'hidden' });
  expect(await a.locator('[data-role="toggle"]').getAttribute('aria-expanded') === 'true', 'aria-expanded');
  await screenshot(page, shot);
  say('accordion');
}

// All off, then all on: the page, the API, and (C side) the stream.
async function allOnOff(page) {
  const a = client(page, id);
  await nextLine();
  say(`alloff_at ${await clickAt(page, a.getByRole('button', { name: 'All off' }))}`);
  await a.locator('[data-role="count"]', { hasText: /^0 ch$/ }).waitFor();
  await settled(page, id);
  expect((await entry(page, id)).channels.length === 0, 'All off: the API still lists channels');
  await nextLine();
  say(`allon_at ${await clickAt(page, a.getByRole('button', { name: 'All on' }))}`);
  await a.locator('[data-role="count"]', { hasText: /^8 ch$/ }).waitFor();
  await settled(page, id);
  expect((await entry(page, id)).channels.length === 8, 'All on: the API lists fewer than 8 channels');
}

async function setRange(control, value) {
  await control.evaluate((r, v) => {
    r.value = v;
    r.dispatchEvent(new Event('input', { bubbles: true }));
  }, value);
}

// Pan readout; double-click centres; a double tap centres (a single tap
// on another pan moves it, so the taps do reach the control).
async function pan(page) {
  const a = client(page, id);
  const pan = (c) => a.locator(`input[data-role="pan"][data-ch="${c}"]`);
  const out = (c) => a.locator(`[data-role="pantext"][data-ch="${c}"]`);
  await nextLine();
  await setRange(pan(0), '-0.3');
  await out(0).filter({ hasText: /^L 30$/ }).waitFor();
  await settled(page, id);
  expect(Math.abs((await entry(page, id)).pans['0'] + 0.3) < 1e-6, 'pan -0.3 not saved');
  await pan(0).dblclick();
  await out(0).filter({ hasText: /^C$/ }).waitFor();
  const edge = async (c) => {
    const box = await pan(c).boundingBox();
    return [box.x + 3, box.y + box.height / 2];
  };
  const [x2, y2] = await edge(2);
  await page.touchscreen.tap(x2, y2);
  await out(2).filter({ hasText: /^L (9\d|100)$/ }).waitFor();
  const [x1, y1] = await edge(1);
  await page.touchscreen.tap(x1, y1);
  await page.touchscreen.tap(x1, y1);
  await out(1).filter({ hasText: /^C$/ }).waitFor();
  await settled(page, id);
  const e = await entry(page, id);
  expect(e.pans['0'] === 0 && e.pans['1'] === 0 && e.pans['2'] <= -0.9,
    `pans saved ${JSON.stringify(e.pans)}`);
  say('pan');
}

async function kick(page) {
  const a = client(page, id);
  let kickAt = 0;
  await nextLine();
  page.once('dialog', (d) => {
    kickAt = d.message().startsWith('Disconnect') ? Date.now() : -1;
    return d.accept();
  });
  await a.getByRole('button', { name: 'Disconnect' }).tap();
  await page.waitForFunction(() => document.querySelector('#status').textContent.includes('disconnected'));
  expect(kickAt > 0, 'no confirmation asked before a disconnect');
  say(`kick_at ${kickAt}`);
  const row = page.locator(`#offline-list section.client[data-client-id="${id}"]`);
  await row.locator('[data-role="state"]', { hasText: 'disconnected' }).waitFor({ state: 'attached' });
  await page.locator('#offline summary', { hasText: 'Offline (2)' }).waitFor();
  await page.locator('#offline summary').tap();
  await row.waitFor();
  say('kicked');
}

// The audio interface panel, against stand-ins for the endpoints.
async function device(page) {
  const list = { devices: [
    { index: 0, name: 'Console USB', host_api: 'ALSA', inputs: 32 },
    { index: 1, name: 'Built-in Audio', host_api: 'ALSA', inputs: 2 },
    { index: 2, name: 'HDMI', host_api: 'ALSA', inputs: 0 },
  ], current: { source: 'tone', channels: 8 }, saved: null };
  const posts = [];
  let answer = { status: 500, json: { error: 'cannot open "Console USB": device busy' } };
  await page.route('**/api/devices', (r) => r.fulfill({ json: list }));
  await page.route('**/api/capture', (r) => { posts.push(r.request().postDataJSON()); return r.fulfill(answer); });
  await page.reload();
  const panel = page.locator('#device');
  await panel.locator('#device-current', { hasText: 'built-in tone, 8 channels' }).waitFor();
  await panel.locator('summary').tap();
  expect(await panel.locator('#device-source option').count() === 3, 'inputless devices are offered');
  await panel.locator('#device-source').selectOption('portaudio:Console USB');
  await panel.locator('#device-channels').fill('8');
  const ask = async (want) => {
    await panel.getByRole('button', { name: 'Switch…' }).tap();
    await panel.locator('#device-effect', { hasText: want }).waitFor();
  };
  await ask('Same channel count (8): every listener keeps streaming.');
  await panel.getByRole('button', { name: 'Cancel' }).tap();
  await panel.locator('#device-confirm').waitFor({ state: 'hidden' });
  await panel.locator('#device-channels').fill('16');
  await ask('8 → 16 channels: every listener is disconnected and reconnects');
  await panel.getByRole('button', { name: 'Switch now' }).tap();
  await panel.locator('#device-error', { hasText: 'device busy' }).waitFor();
  await panel.locator('#device-error', { hasText: 'Still on built-in tone' }).waitFor();
  expect(JSON.stringify(posts[0]) === '{"source":"portaudio:Console USB","channels":16}',
    `POST /api/capture ${JSON.stringify(posts[0])}`);
  answer = { status: 200, json: { source: 'portaudio:Console USB', channels: 32, reconfigured: true } };
  await panel.locator('#device-max').check();
  await ask('8 → 32 channels');
  await panel.getByRole('button', { name: 'Switch now' }).tap();
  await page.locator('#status', { hasText: 'Now on Console USB, 32 channels: listeners are reconnecting.' }).waitFor();
  await panel.locator('#device-error').waitFor({ state: 'hidden' });
  expect(JSON.stringify(posts[1]) === '{"source":"portaudio:Console USB","channels":"max"}',
    `POST /api/capture ${JSON.stringify(posts[1])}`);
  say('device');
}

run(async () => {
  const page = await newPage({ baseURL: url, viewport: { width: 360, height: 740 },
    isMobile: true, hasTouch: true, deviceScaleFactor: 1 });
  await page.goto('/');
  await collapsed(page);
  await accordion(page);
  await allOnOff(page);
  await pan(page);
  await kick(page);
  await device(page);
});

// webui.js — the web UI at desktop width, for tests/test_webui.c.
//
// usage: node webui.js URL CLIENT_ID SCREENSHOT PHONES ALIASED OFFLINE
// Prints "listed" (every listener shown, connected ones first and open, the
// app-restarted one marked, the offline one folded, PHONES in the header),
// "gain_at MS", "sub_at MS" (Date.now() of the UI input), "ready_disconnect"
// once the screenshot is written, then "disconnected" when CLIENT_ID's line
// shows it left, and "done".
'use strict';

const { say, nextLine, newPage, screenshot, run, expect, client } = require('./lib');

const [url, id, shot, phones, aliased, offline] = process.argv.slice(2);

run(async () => {
  const page = await newPage({ baseURL: url, viewport: { width: 1280, height: 860 } });
  const devices = page.waitForResponse((r) => r.url().endsWith('/api/devices'));
  await page.goto('/');
  const row = client(page, id);
  await row.locator('[data-role="state"]', { hasText: /^connected$/ }).waitFor();
  await page.locator('#phones', { hasText: phones }).waitFor();
  // Connected first, open at this width; the offline one folded away.
  await page.locator('#offline summary', { hasText: 'Offline (1)' }).waitFor();
  await page.locator(`#offline-list section.client[data-client-id="${offline}"]`).waitFor({ state: 'attached' });
  expect(await page.locator('#clients section.client.offline').count() === 0, 'an offline listener among the connected');
  expect(await row.locator('.body').isVisible(), 'a connected listener\'s mixer is closed at desktop width');
  const alias = client(page, aliased).locator('[data-role="alias"]');
  await alias.filter({ hasText: '(app restarted)' }).waitFor();
  expect((await alias.getAttribute('title')).includes('launch-1'), 'no earlier identity in the tooltip');
  // The server lists its audio inputs: the panel says what runs (the tone).
  expect((await devices).status() === 200, 'GET /api/devices is not a 200');
  await page.locator('#device-current', { hasText: 'built-in tone, 8 channels' }).waitFor({ state: 'attached' });
  expect(!(await page.locator('#device').isHidden()), 'no audio interface panel');
  say('listed');

  // A fader move: what a user's drag does, an input event on the range.
  await nextLine();
  const gainAt = await row.locator('input[data-role="gain"][data-ch="0"]').evaluate((f) => {
    f.value = '-12';
    const t = Date.now();
    f.dispatchEvent(new Event('input', { bubbles: true }));
    return t;
  });
  say(`gain_at ${gainAt}`);

  // A subscription toggle: a real click.
  await nextLine();
  const sub = row.locator('input[data-role="sub"][data-ch="3"]');
  await sub.evaluate((b) => b.addEventListener('change', () => { window.subAt = Date.now(); }, { once: true }));
  await sub.click();
  say(`sub_at ${await page.evaluate(() => window.subAt)}`);
  await row.locator('[data-role="count"]', { hasText: '3 ch' }).waitFor();

  // Meters moving, the offline fold open, then the screenshot.
  await page.waitForFunction(() => {
    const r = document.querySelector('.meter .rms');
    return r && parseFloat(r.style.height) > 0;
  });
  await nextLine();
  await page.locator('#offline summary').click();
  await screenshot(page, shot);
  say('ready_disconnect');
  await page.locator(`#offline-list section.client[data-client-id="${id}"] [data-role="state"]`,
    { hasText: 'disconnected' }).waitFor();
  say('disconnected');
});

// auth.js — logging in, and a musician's link, for tests/test_webui.c.
//
// usage: node auth.js URL TOKEN CLIENT_ID OTHER_ID SCREENSHOT
// The engineer's page shows a login form; TOKEN logs in ("engineer_in",
// CLIENT_ID and OTHER_ID listed).  CLIENT_ID's Link gives a URL with the
// token in its fragment and a QR code ("link").  That URL in another
// browser (the musician's phone) logs in by itself and shows CLIENT_ID
// alone, without the engineer's tools; the fragment is gone from the
// address bar ("musician_in", screenshot written).  After a "go": its All
// on is tapped ("allon_at MS"); the musician's cookie gets 403 for
// OTHER_ID's mix and the channel names ("own_only"); then "done".
// URL may be https: the test's own CA is not in Chromium's store, so
// certificate errors are ignored here (curl checks the CA in test_auth).
'use strict';

const { chromium } = require('playwright-core');
const { say, nextLine, newPage, screenshot, run, expect, client } = require('./lib');

const [url, token, id, other, shot] = process.argv.slice(2);
const ctx = { baseURL: url, ignoreHTTPSErrors: true };

async function engineer(page) {
  await page.goto(url);
  await page.locator('#login').waitFor();
  expect(await page.locator('main').isHidden(), 'the mixer shows before a login');
  await page.fill('#login-token', token);
  await page.click('#login button[type="submit"]');
  await client(page, id).waitFor();
  await client(page, other).waitFor();
  expect(await page.locator('#logout').isVisible(), 'no Log out button');
  say('engineer_in');
}

async function link(page) {
  const c = client(page, id);
  if (await c.locator('.body').isHidden()) await c.locator('[data-role="toggle"]').click();
  await c.locator('[data-role="link"]').click();
  const box = c.locator('[data-role="linkbox"]');
  await box.locator('svg path').waitFor({ state: 'attached' });
  const href = await box.locator('input.url').inputValue();
  expect(/#token=[a-z2-7]{8}\.[A-Za-z0-9_-]{43}$/.test(href), `a link without a token: ${href}`);
  say('link');
  return href;
}

async function musician(href) {
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium', headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] });
  const context = await browser.newContext(Object.assign({ viewport: { width: 360, height: 740 },
    isMobile: true, hasTouch: true }, ctx));
  const page = await context.newPage();
  page.on('pageerror', (e) => say(`pageerror ${e.message}`));
  await page.goto(href);
  await client(page, id).locator('.body').waitFor();
  await page.locator('section.client').first().waitFor();
  expect(await page.locator('section.client').count() === 1, 'the musician sees other listeners');
  expect(!page.url().includes('token'), `the token stayed in the address bar: ${page.url()}`);
  for (const role of ['forget', 'disconnect', 'rename', 'link'])
    expect(await client(page, id).locator(`[data-role="${role}"]`).count() === 0, `a ${role} button`);
  await screenshot(page, shot);
  say('musician_in');
  await nextLine();
  const allOn = client(page, id).locator('[data-role="all-on"]');
  await allOn.evaluate((b) => b.addEventListener('click', () => { window.clickedAt = Date.now(); },
    { once: true, capture: true }));
  await allOn.tap();
  say(`allon_at ${await page.evaluate(() => window.clickedAt)}`);
  const st = await page.evaluate(async (o) => [
    (await fetch(`/api/clients/${encodeURIComponent(o)}/mix`, { method: 'POST',
      headers: { 'Content-Type': 'application/json' }, body: '{"master_gain":0.5}' })).status,
    (await fetch('/api/channels')).status,
    (await fetch('/api/clients')).status], other);
  expect(st.every((s) => s === 403), `the musician's cookie got ${st.join(', ')}, not 403`);
  say('own_only');
  await browser.close();
}

run(async () => {
  const page = await newPage(ctx);
  await engineer(page);
  await musician(await link(page));
});

// webui.js — drives the web UI in Debian's chromium for tests/test_webui.c.
//
// usage: node webui.js URL CLIENT_ID SCREENSHOT
// Talks to the C test by lines: it prints "listed", "gain_at MS",
// "sub_at MS" (Date.now() of the UI input), "ready_disconnect", then waits
// for the client's row to show it left and prints "disconnected", writes
// the screenshot and prints "done".  Any failure: "fail WHY", exit 1.
'use strict';

const { chromium } = require('playwright-core');
const readline = require('readline');

const [url, id, shot] = process.argv.slice(2);
const STEP_MS = 20000;
const say = (line) => process.stdout.write(line + '\n');

let browser;
const fail = async (why) => {
  say(`fail ${why}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
};
setTimeout(() => fail('overall time limit (90 s)'), 90000).unref();

// The C side writes "go" lines on stdin to pace the steps.
const lines = readline.createInterface({ input: process.stdin });
const waiting = [], early = [];
lines.on('line', (l) => { const w = waiting.shift(); if (w) w(l); else early.push(l); });
const nextLine = () => new Promise((resolve) => {
  if (early.length) resolve(early.shift()); else waiting.push(resolve);
});

(async () => {
  // playwright gives chromium a fresh temporary profile and removes it.
  try {
    browser = await chromium.launch({
      executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
        '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      timeout: STEP_MS,
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.on('pageerror', (e) => say(`pageerror ${e.message}`));
    await page.goto(url, { timeout: STEP_MS });
    const row = page.locator(`section.client[data-client-id="${id}"]`);
    await row.waitFor({ timeout: STEP_MS });
    await row.locator('[data-role="state"]', { hasText: /^connected$/ }).waitFor({ timeout: STEP_MS });
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
    await sub.click({ timeout: STEP_MS });
    say(`sub_at ${await page.evaluate(() => window.subAt)}`);

    // Meters moving, then the screenshot of the live page.
    await page.waitForFunction(() => {
      const r = document.querySelector('.meter .rms');
      return r && parseFloat(r.style.height) > 0;
    }, null, { timeout: STEP_MS });
    await nextLine();
    await page.screenshot({ path: shot, fullPage: true });
    say('ready_disconnect');
    await row.locator('[data-role="state"]', { hasText: 'disconnected' }).waitFor({ timeout: STEP_MS });
    say('disconnected');
    await browser.close();
    say('done');
    process.exit(0);
  } catch (e) {
    await fail(String(e && e.message ? e.message.split('\n')[0] : e));
  }
})();

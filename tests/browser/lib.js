// lib.js — what the browser scripts of tests/test_webui.c share: Debian's
// chromium through playwright-core, and the line protocol with the C test.
//
// A script prints one line per step reached ("listed", "gain_at MS", ...),
// waits for a "go" line on stdin where the C side must act or check first,
// and ends with "done"; any failure prints "fail WHY" and exits 1.
'use strict';

const { chromium } = require('playwright-core');
const readline = require('readline');

const STEP_MS = 20000;          // one step: a page state, an answer
const LIMIT_MS = 120000;        // the whole script
const say = (line) => process.stdout.write(line + '\n');

let browser = null;

async function fail(why) {
  say(`fail ${why}`);
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}

// The C side writes "go" lines on stdin to pace the steps.
const lines = readline.createInterface({ input: process.stdin });
const waiting = [], early = [];
lines.on('line', (l) => { const w = waiting.shift(); if (w) w(l); else early.push(l); });
const nextLine = () => new Promise((resolve) => {
  if (early.length) resolve(early.shift()); else waiting.push(resolve);
});

// A page in a fresh temporary profile (playwright makes and removes it).
async function newPage(contextOptions) {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    timeout: STEP_MS,
  });
  const context = await browser.newContext(contextOptions);
  context.setDefaultTimeout(STEP_MS);
  const page = await context.newPage();
  page.on('pageerror', (e) => say(`pageerror ${e.message}`));
  // The broker's policy is default-src 'self': anything it blocks is a bug.
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/.test(m.text())) say(`fail ${m.text()}`);
  });
  return page;
}

// A screenshot of the whole page, from its top (the header is sticky).
async function screenshot(page, path) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path, fullPage: true });
}

// Run a script's steps; "done" once they all passed and the browser closed.
function run(steps) {
  setTimeout(() => fail(`overall time limit (${LIMIT_MS / 1000} s)`), LIMIT_MS).unref();
  (async () => {
    try {
      await steps();
      await browser.close();
      browser = null;
      say('done');
      process.exit(0);
    } catch (e) {
      // Playwright's first line, and what it was waiting for.
      const msg = String(e && e.message ? e.message : e).split('\n');
      const what = msg.find((l) => /waiting for/.test(l));
      await fail(msg[0] + (what ? ` (${what.trim()})` : ''));
    }
  })();
}

// A check of the page that must hold now.
function expect(cond, why) { if (!cond) throw new Error(why); }

// The listener's section and a locator for one of its controls.
const client = (page, id) => page.locator(`section.client[data-client-id="${id}"]`);

// Wait until a listener has no mix change in flight (see app.js: saving).
const settled = (page, id) => page.locator(`section.client[data-client-id="${id}"]:not([data-saving])`)
  .waitFor({ state: 'attached' });

// The API's entry for a listener, read beside the page.
async function entry(page, id) {
  const r = await page.request.get(`/api/clients/${encodeURIComponent(id)}`);
  expect(r.ok(), `GET /api/clients/${id}: ${r.status()}`);
  return r.json();
}

module.exports = { say, nextLine, newPage, screenshot, run, expect, client, settled, entry };

// pwa.js — the old server's PWA retired by web/sw.js, for tests/test_webui.c.
//
// usage: node pwa.js URL
// At URL the C test first serves tests/browser/old-pwa: this script waits
// until its worker controls the page and has cached it, prints
// "installed", and waits for "go" (ringcastd restarted on the same port
// with the real web UI).  Then one reload: it waits for ringcast's page
// with no service worker registered and no cache left, prints
// "retired MS" (from the reload), and "done".
'use strict';

const { say, nextLine, newPage, run, expect } = require('./lib');

const [url] = process.argv.slice(2);

const workers = (page) => page.evaluate(async () => ({
  registrations: (await navigator.serviceWorker.getRegistrations()).length,
  caches: (await caches.keys()).length,
  controlled: navigator.serviceWorker.controller !== null,
}));

run(async () => {
  const page = await newPage({ baseURL: url, viewport: { width: 800, height: 600 } });
  await page.goto('/');
  await page.locator('#old-pwa').waitFor();
  await page.waitForFunction(async () => navigator.serviceWorker.controller !== null &&
    (await caches.keys()).includes('old-pwa-v1'), null, { polling: 100 });
  say('installed');

  await nextLine();
  // The old worker answers the reload from its cache (the old page), sees
  // a new /sw.js on the server, and that one takes over and leaves.
  const t0 = Date.now();
  const first = await page.reload();
  expect(first && first.fromServiceWorker(), 'the reload did not come from the old worker');
  await page.locator('#clients-title', { hasText: 'Listeners' }).waitFor();
  await page.locator('#link', { hasText: 'live' }).waitFor();
  expect(await page.locator('#old-pwa').count() === 0, 'the old page is still shown');
  await page.waitForFunction(async () => (await navigator.serviceWorker.getRegistrations()).length === 0 &&
    (await caches.keys()).length === 0, null, { polling: 100 });
  const w = await workers(page);
  expect(!w.controlled && w.registrations === 0 && w.caches === 0, `left behind: ${JSON.stringify(w)}`);
  say(`retired ${Date.now() - t0}`);
});

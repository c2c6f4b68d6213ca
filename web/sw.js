// sw.js — retires the service worker of the server ringcast replaced.
//
// Browsers that installed the old server's PWA keep its worker at this
// origin (scope /): it answers from its cache and never asks again, so
// they would never see ringcast's page.  On each navigation the browser
// re-reads /sw.js (the broker sends it with Cache-Control: no-store);
// finding this one, it installs it: it takes over at once, unregisters
// itself, empties Cache Storage and reloads the pages it controls, which
// then come from the server with no worker in between.  The page itself
// never registers a worker.
'use strict';

self.addEventListener('install', () => { self.skipWaiting(); });

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    await self.clients.claim();
    await self.registration.unregister();
    const names = await caches.keys();
    await Promise.all(names.map((name) => caches.delete(name)));
    const pages = await self.clients.matchAll({ type: 'window' });
    await Promise.all(pages.map((page) => page.navigate(page.url).catch(() => null)));
  })());
});

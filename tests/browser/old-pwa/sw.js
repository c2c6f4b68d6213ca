// sw.js of the "old PWA" (tests/test_webui.c): what the server ringcast
// replaced left in browsers, as far as it matters here: it caches its page
// on install, takes over at once and answers every request from its cache
// first, never asking the server again.
'use strict';
const CACHE = 'old-pwa-v1';

self.addEventListener('install', (event) => {
  event.waitUntil(caches.open(CACHE)
    .then((c) => c.addAll(['/', '/index.html', '/old.js']))
    .then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => { event.waitUntil(self.clients.claim()); });

self.addEventListener('fetch', (event) => {
  if (event.request.method !== 'GET') return;
  event.respondWith(caches.match(event.request).then((hit) => hit || fetch(event.request)
    .then((r) => {
      if (r.ok) { const copy = r.clone(); caches.open(CACHE).then((c) => c.put(event.request, copy)); }
      return r;
    })));
});

// old.js — the old server's page registers its worker at the root, as it did.
'use strict';
navigator.serviceWorker.register('/sw.js', { scope: '/' });

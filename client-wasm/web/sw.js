// The service worker: keeps the app shell and the wasm bundle so the app opens with no
// network. Pages and code are served cache-first and refreshed in the background; the API
// and the sync socket always go to the network (the app keeps its data in IndexedDB).
/** This script's global scope, typed as what it is (the `webworker` types call it a worker). */
const worker = /** @type {ServiceWorkerGlobalScope} */ (/** @type {unknown} */ (self));
// The server names the cache after the release when it embeds this file (server/build.rs).
const CACHE = 'walkaround-shell';
// What to keep is the server's list of the app's files (`shell.json`, made when the server
// is built from the files it embeds), so a new module is never left out.
const SHELL_LIST = 'shell.json';

worker.addEventListener('install', (event) => {
  event.waitUntil(fetch(SHELL_LIST, { cache: 'no-store' })
    .then((r) => r.json())
    .then((files) => caches.open(CACHE).then((cache) => cache.addAll(files)))
    .then(() => worker.skipWaiting()));
});

worker.addEventListener('activate', (event) => {
  event.waitUntil(
    caches.keys()
      .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
      .then(() => worker.clients.claim()),
  );
});

worker.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || url.origin !== location.origin) return;
  if (url.pathname.startsWith('/api/') || url.pathname === '/sync') return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(event.request, { ignoreSearch: true });
      const fresh = fetch(event.request)
        .then((response) => {
          if (response.ok) cache.put(event.request, response.clone());
          return response;
        })
        .catch(() => undefined);
      return cached || (await fresh) || new Response('offline', { status: 503 });
    }),
  );
});

// What this device keeps: documents and photos in IndexedDB (`docs` by id, `photos` by
// sha), small settings and the session in localStorage under `walkaround.*`. Nothing here
// decides anything; the app and the wasm client say what to keep.

function openDb() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open('walkaround', 1);
    req.onupgradeneeded = () => {
      req.result.createObjectStore('docs', { keyPath: 'id' });
      req.result.createObjectStore('photos', { keyPath: 'sha' });
    };
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}
const idb = await openDb();
// Resolves to what the request found once the transaction has completed: a missing key
// is `undefined`, never the request object itself.
function tx(store, mode, fn) {
  return new Promise((resolve, reject) => {
    const t = idb.transaction(store, mode);
    const request = fn(t.objectStore(store));
    t.oncomplete = () => resolve(request instanceof IDBRequest ? request.result : request);
    t.onerror = () => reject(t.error);
    t.onabort = () => reject(t.error);
  });
}
export const dbPut = (store, value) => tx(store, 'readwrite', (s) => s.put(value));
export const dbAll = (store) => tx(store, 'readonly', (s) => s.getAll());
export const dbGet = (store, key) => tx(store, 'readonly', (s) => s.get(key));
/** Every key of `store`, without reading its values (photos are large). */
export const dbKeys = (store) => tx(store, 'readonly', (s) => s.getAllKeys());
export const dbDelete = (store, key) => tx(store, 'readwrite', (s) => s.delete(key));

/** A setting kept in localStorage (`walkaround.<key>`), or `fallback` if none. */
export const stored = (key, fallback) => JSON.parse(localStorage.getItem(`walkaround.${key}`) || 'null') ?? fallback;
/** Keeps a setting in localStorage (`walkaround.<key>`); `null` clears it. */
export const store = (key, value) => localStorage.setItem(`walkaround.${key}`, JSON.stringify(value));

// The tablet app. Every decision about documents, rules and the sync protocol is made by
// the wasm client (client-wasm, built on the shared crate); this file does what only a
// browser can: the screens, the WebSocket, the camera, timers. What the device keeps is
// `storage.js`, the HTTP client `api.js`, the words `i18n.js`, the office's screens
// `office.js`.
import init, { SyncClient, builtinTemplates, keepsSiteDocuments, sha256Hex } from './pkg/client_wasm.js';
import { t, local, lang, setLang, fmtDate, fmtYuan, chinaDay } from './i18n.js';
import { officeView, userMay } from './office.js';
import { dbAll, dbDelete, dbGet, dbKeys, dbPut, store, stored } from './storage.js';
import morphdom from './vendor/morphdom.js';
import { api, authFetch, currentSession, freshToken, logIn, logOut, onSessionEnded, updateUser } from './api.js';

const $ = (sel, root = document) => root.querySelector(sel);
/** The built-in workshop walkaround's template id (shared::builtin::WALKAROUND). */
const WALKAROUND_ID = 'workshop-walkaround';

/**
 * An element: `attrs` are attributes, but `class` and `on<event>` handlers. A handler is
 * kept on the element (`handlers`) behind one listener per event, so a redraw that keeps
 * the element (`morph`) gives it the new drawing's handlers.
 */
const h = (tag, attrs = {}, ...children) => {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) listen(el, k.slice(2), v);
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) el.append(c);
  return el;
};
/** The handlers `h` gave each element, by event. */
const handlers = new WeakMap();
function listen(el, event, fn) {
  let own = handlers.get(el);
  if (!own) { own = {}; handlers.set(el, own); }
  if (!(event in own)) el.addEventListener(event, (e) => handlers.get(el)?.[event]?.(e));
  own[event] = fn;
}
/** Gives `kept` (an element a redraw keeps) the handlers of `drawn` (its new drawing). */
function adoptHandlers(kept, drawn) {
  const now = handlers.get(drawn) ?? {};
  const own = handlers.get(kept);
  if (own) for (const event of Object.keys(own)) if (!(event in now)) delete own[event];
  for (const [event, fn] of Object.entries(now)) listen(kept, event, fn);
}

// ---------------------------------------------------------------- device and settings
let siteId = stored('site', null);
let sites = stored('sites', []);
let cursor = stored('cursor', 0);
// Bounded sync (issue 18; shared::policy::device_keeps): the days of submitted history
// this device keeps, as discovery last said, and when the user last opened each document
// here (ms by id), which keeps an older one opened on demand for as long again.
let deviceDays = stored('deviceDays', 7);
const opened = stored('opened', {});
// Documents discovery listed that are not stored on this device yet. Kept with the cursor,
// so a cursor that has moved past a document never outlives the wish to fetch it.
const wanted = new Set(stored('wanted', []));
let lastSynced = stored('lastSynced', null);
let device = stored('device', null);
if (!device) {
  device = Array.from(crypto.getRandomValues(new Uint8Array(8)), (b) => b.toString(16).padStart(2, '0')).join('');
  store('device', device);
}

await init({ module_or_path: new URL('./pkg/client_wasm_bg.wasm', import.meta.url) });
// The office's current templates when the server has been reached, else the built-ins.
let templates = stored('templates', null) || builtinTemplates();
const client = new SyncClient(`tablet-${device}`, `tablet-${device}`);
for (const { id, bytes, acked } of await dbAll('docs')) {
  try { client.load(id, bytes, acked ?? undefined); } catch (e) { console.warn('cannot load', id, e); }
}
for (const id of wanted) {
  if (client.has(id)) wanted.delete(id);
  else try { client.want(id); } catch { wanted.delete(id); }
}
let wantedSave = null;
function saveWanted() {
  clearTimeout(wantedSave);
  wantedSave = null;
  store('wanted', [...wanted]);
}
/** Saves the wanted list soon: many documents arrive at once, one write covers them. */
function saveWantedSoon() {
  if (!wantedSave) wantedSave = setTimeout(saveWanted, 500);
}

function toast(text) {
  const el = $('#toast');
  el.textContent = text;
  el.classList.add('show');
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => el.classList.remove('show'), 3500);
}
// The pending hide of the toast shown last.
/** @type {ReturnType<typeof setTimeout> | undefined} */
toast.timer = undefined;

// ---------------------------------------------------------------- sync
let ws = null;
let link = 'offline'; // offline | connecting | online
let backoff = 1000;
let retry = null;

function setLink(state) { link = state; renderBar(); }
function flush() {
  if (!ws || ws.readyState !== WebSocket.OPEN || !client.isJoined()) return;
  for (const frame of client.outgoing()) ws.send(frame);
}
function scheduleReconnect() {
  clearTimeout(retry);
  retry = setTimeout(connect, backoff);
  backoff = Math.min(backoff * 2, 30_000);
}
async function connect() {
  clearTimeout(retry);
  if (!currentSession() || ws) return;
  if (!navigator.onLine) { setLink('offline'); return; }
  setLink('connecting');
  let token;
  try { token = await freshToken(); } catch { setLink('offline'); scheduleReconnect(); return; }
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const socket = new WebSocket(`${scheme}://${location.host}/sync?token=${encodeURIComponent(token)}`);
  socket.binaryType = 'arraybuffer';
  ws = socket;
  socket.onopen = () => socket.send(/** @type {Uint8Array<ArrayBuffer>} */ (client.join()));
  socket.onmessage = async (event) => {
    let outcome;
    try { outcome = client.receive(new Uint8Array(event.data)); } catch (e) { console.warn(e); return; }
    if (outcome.joined) {
      backoff = 1000;
      setLink('online');
      discover().catch(console.warn);
      refreshSitesAndTemplates().catch(console.warn);
      uploadPhotos().catch(console.warn);
      sendPresence();
    }
    heardPresence(outcome);
    for (const id of [...outcome.changed, ...outcome.acknowledged]) await persist(id);
    for (const id of outcome.unavailable) {
      client.forget(id);
      if (wanted.delete(id)) saveWantedSoon();
      unavailable.add(id);
    }
    if (outcome.unavailable.length) renderSoon();
    for (const e of outcome.errors) console.warn('server:', e.message);
    for (const r of outcome.refused) recoverFrom(r.documentId, r.message);
    flush();
    if (client.unacknowledged().length === 0) { lastSynced = Date.now(); store('lastSynced', lastSynced); }
    if (outcome.changed.length) renderSoon(); else renderBar();
  };
  socket.onclose = () => {
    if (ws === socket) ws = null;
    setLink('offline');
    if (currentSession()) scheduleReconnect();
  };
}
window.addEventListener('online', () => { backoff = 1000; connect(); });
window.addEventListener('offline', () => { ws?.close(); setLink('offline'); });

// ---------------------------------------------------------------- presence
// Who else has the inspection on screen open, and on which bay or room (docs/PROTOCOL.md,
// "Presence"). The wasm client makes the frames and keeps the table of peers; this part
// sends ours when an inspection opens, when the user taps in or scrolls to an area, every
// PRESENCE_MS as a heartbeat, and a goodbye on leaving; it redraws only the presence bar,
// never the screen (a redraw would take the focus from a note being typed).
const PRESENCE_MS = 5000;
let presenceDoc = null; // the inspection on screen, while the page is visible
let presenceArea = null; // the area the user last tapped in or scrolled to
let presenceSent = 0;
let presenceShown = '';
const presenceBar = h('div', { class: 'row presence', 'data-testid': 'presence', 'aria-live': 'polite', hidden: true });
function sendFrame(frame) {
  if (frame && ws?.readyState === WebSocket.OPEN) ws.send(frame);
}
function sendPresence() {
  const me = user();
  if (!presenceDoc || !me || !client.isJoined()) return;
  presenceSent = Date.now();
  sendFrame(client.presence(presenceDoc, { user: me.id, name: me.display_name || me.id, area: presenceArea ?? undefined }));
}
function presenceGoodbye() {
  if (presenceDoc && client.isJoined()) sendFrame(client.presenceGoodbye(presenceDoc));
  presenceDoc = null;
  presenceArea = null;
  drawPresence();
}
/** After every render and on visibility: follows the inspection on screen. */
function followPresence() {
  const route = location.hash.replace(/^#\/?/, '');
  const id = currentSession() && siteId && document.visibilityState === 'visible' && route.startsWith('inspect/') ? route.slice('inspect/'.length) : null;
  if (id !== presenceDoc) {
    presenceGoodbye();
    if (id && client.has(id)) { presenceDoc = id; sendPresence(); }
  }
  areaObserver.disconnect();
  if (presenceDoc) for (const el of document.querySelectorAll('#app [data-area]')) areaObserver.observe(el);
  drawPresence();
}
function movedTo(area) {
  if (!presenceDoc || !area || area === presenceArea) return;
  presenceArea = area;
  sendPresence();
}
// The area crossing the middle of the screen is where the user is.
const areaObserver = new IntersectionObserver((entries) => {
  for (const e of entries) if (e.isIntersecting && e.target.isConnected) movedTo(/** @type {HTMLElement} */ (e.target).dataset.area);
}, { rootMargin: '-45% 0px -45% 0px' });
for (const type of ['click', 'focusin']) {
  document.addEventListener(type, (e) => movedTo(/** @type {HTMLElement | null | undefined} */ (/** @type {Element} */ (e.target).closest?.('[data-area]'))?.dataset.area), true);
}
function heardPresence(outcome) {
  if (presenceDoc && outcome.announce.includes(presenceDoc)) sendPresence();
  if (presenceDoc && outcome.presence.includes(presenceDoc)) drawPresence();
}
/** The presence bar: each other peer's name and, localized, the area it is at. */
function drawPresence() {
  const peers = presenceDoc ? client.peers(presenceDoc, Date.now()) : [];
  const shown = JSON.stringify([lang, peers.map((p) => [p.peerId, p.name, p.user, p.area])]);
  if (shown === presenceShown) return;
  presenceShown = shown;
  const areas = peers.length ? client.state(presenceDoc).areas : [];
  presenceBar.hidden = !peers.length;
  presenceBar.replaceChildren(...(peers.length ? [h('span', { class: 'muted' }, t('alsoHere')), ...peers.map((p) => {
    const area = areas.find((a) => a.id === p.area);
    return h('span', { class: 'chip', 'data-peer': p.user, 'data-at': p.area }, `${p.name || p.user}${area ? ` · ${local(area.name)}` : ''}`);
  })] : []));
}
setInterval(() => {
  drawPresence();
  if (presenceDoc && Date.now() - presenceSent >= PRESENCE_MS) sendPresence();
}, 1000);
document.addEventListener('visibilitychange', followPresence);
window.addEventListener('pagehide', presenceGoodbye);
window.addEventListener('pageshow', followPresence);

// ---------------------------------------------------------------- recovery from a refusal
// The server refused a change of a document (docs/PROTOCOL.md, "Recovering from a
// refusal"). The wasm client holds the document back and rebuilds it from what the server
// acknowledged plus this tablet's later edits that are still allowed, judged with the
// shared policy for the user as the server knows them now (GET /api/v1/me); the rest is
// dropped and listed here, in the user's words, until dismissed.
const refusals = stored('refusals', []);
let recovering = Promise.resolve();
function recoverFrom(id, message) {
  recovering = recovering.then(async () => {
    if (!currentSession()) return;
    let me = user();
    try {
      me = await api('/api/v1/me');
      updateUser(me);
    } catch (e) { console.warn('cannot read the user, judging with the one known', e); }
    const report = client.recover(id, me, message);
    if (!report) return;
    if (report.removed) {
      await dbDelete('docs', id);
      if (location.hash === `#/inspect/${id}`) location.hash = '#/';
    } else await persist(id);
    for (const d of report.dropped) refusals.push({ ...d, documentId: id });
    if (refusals.length > 20) refusals.splice(0, refusals.length - 20);
    store('refusals', refusals);
    flush();
    render();
  }).catch((e) => console.warn('recovery', e));
}
/** One dropped edit, in plain words: what it was and why the server refused it. */
function refusalText(r) {
  const where = r.item ? `${local(r.item)}${r.area ? ` · ${local(r.area)}` : ''}` : r.key;
  const what = r.kind === 'create' ? t('refusedCreate').replace('{0}', local(r.template))
    : r.kind === 'submit' ? t('refusedSubmit')
      : r.kind === 'occupied' ? t('refusedOccupied').replace('{0}', local(r.area))
        : t('refusedAnswer').replace('{0}', where);
  const known = t(`why_${r.code}`);
  const why = (known === `why_${r.code}` ? t('why_other') : known).replace('{0}', local(r.role));
  return `${what}${why}`;
}
function refusalsView() {
  if (!refusals.length) return null;
  return h('div', { class: 'card problems', role: 'alert', 'data-testid': 'refusals' },
    h('div', { class: 'row spread' }, h('strong', {}, t('refusedTitle')),
      h('button', { 'data-testid': 'refusals-dismiss', onclick: () => { refusals.length = 0; store('refusals', []); render(); } }, t('dismiss'))),
    h('ul', {}, refusals.map((r) => h('li', { 'data-code': r.code, 'data-refused-doc': r.documentId }, refusalText(r),
      // A consequence of another refusal (its inspection was refused) has no words of its own from the server.
      r.code === 'document_refused' ? null : h('div', { class: 'muted' }, `${t('serverSaid')}: ${r.reason}`)))));
}

async function persist(id) {
  if (!client.has(id)) return;
  // With the heads the server has acknowledged: after a reload, what is pending is still
  // only what the server lacks (issue 20, item 4).
  await dbPut('docs', { id, bytes: client.save(id), acked: client.acked(id) ?? null });
  // Stored: it no longer needs asking for after a reload.
  if (wanted.delete(id)) saveWantedSoon();
}

// Discovery: which documents of our sites the server has that this device lacks. It runs
// when the socket joins and then every DISCOVERY_MS while the app is visible and online
// (docs/PROTOCOL.md, "Discovery"); the documents' content then comes over the socket.
const DISCOVERY_MS = 3000;
let discovering = null;
/** Runs discovery, one run at a time (a call during a run waits for it). */
function discover() {
  discovering ??= discoverPages().finally(() => { discovering = null; });
  return discovering;
}
async function discoverPages() {
  if (!currentSession()) return;
  if (keepsAll()) await discoverNew();
  await prune();
}
/** Asks for the documents discovery lists that this device keeps and lacks. */
async function discoverNew() {
  let asked = false;
  for (;;) {
    const body = await api(`/api/v1/documents?since=${cursor}&scope=device`);
    if (Number.isInteger(body.device_days) && body.device_days !== deviceDays) {
      const wider = body.device_days > deviceDays;
      deviceDays = body.device_days;
      store('deviceDays', deviceDays);
      // A wider window reaches documents the cursor has passed: list from the start.
      if (wider && cursor > 0) { cursor = 0; store('cursor', 0); continue; }
    }
    for (const doc of body.documents) {
      if (client.has(doc.id) || wanted.has(doc.id)) continue;
      client.want(doc.id);
      wanted.add(doc.id);
      asked = true;
    }
    // The wanted list is written before the cursor that moved past its documents.
    saveWanted();
    cursor = body.cursor;
    store('cursor', cursor);
    if (!body.more) break;
  }
  if (asked) flush();
}
const PRUNE_MS = 3_600_000;
let prunedAt = 0;
/**
 * Drops what this device no longer keeps (`deviceKeeps`: submitted, older than its window,
 * not opened lately, nothing waiting to be sent), except the inspection on screen and any
 * with a note still being saved. Opened again, one is fetched from the server.
 */
async function prune() {
  // At the first discovery after the app opens, then hourly: each check reads a document.
  if (Date.now() - prunedAt < PRUNE_MS) return;
  prunedAt = Date.now();
  const now = Date.now();
  let released = 0;
  for (const id of client.ids()) {
    // Read again for each: the user may open one, or type in one, while this runs.
    const shown = location.hash === `#/inspect/${id}`;
    const drafted = Object.values(drafts).some((d) => d.doc === id);
    if (shown || drafted || !client.has(id)) continue;
    let keep = true;
    try { keep = client.deviceKeeps(id, opened[id] ?? undefined, now, deviceDays); } catch (e) { console.warn('deviceKeeps', id, e); }
    if (keep || !client.release(id)) continue;
    released += 1;
    const openedAt = opened[id];
    await dbDelete('docs', id);
    if (opened[id] === openedAt) { delete opened[id]; store('opened', opened); }
  }
  if (released) await prunePhotos();
}
/**
 * Deletes the photos no document held here refers to any more, except one the server does
 * not have yet (it is never lost): photos are most of what a device stores.
 */
async function prunePhotos() {
  const referenced = new Set();
  for (const id of client.ids()) {
    if (!client.has(id)) continue;
    for (const records of Object.values(client.state(id).answers)) {
      for (const record of records) for (const sha of record.photos ?? []) referenced.add(sha);
    }
  }
  for (const sha of await dbKeys('photos')) {
    if (referenced.has(sha)) continue;
    const photo = await dbGet('photos', sha);
    if (!photo || waitingToUpload(photo)) continue;
    await dbDelete('photos', sha);
  }
}
/**
 * Whether this device keeps every document of its sites (shared::policy::keeps_site_documents):
 * the roles that run inspections on the floor do; the office's browser holds none and
 * fetches an inspection when it is opened (`fetchOnDemand`; issue 18, bounded sync).
 */
function keepsAll() {
  try { return keepsSiteDocuments(user(), templates); } catch (e) { console.warn('keepsSiteDocuments', e); return true; }
}
/** Asks the server for one document this device does not hold, to show it once it arrives. */
/** Documents the server said it does not have or will not show this user (this session). */
const unavailable = new Set();
function fetchOnDemand(id) {
  if (client.has(id) || wanted.has(id)) return;
  // A malformed id (a mistyped address) is as unavailable as one the server refuses.
  try { client.want(id); } catch { unavailable.add(id); renderSoon(); return; }
  wanted.add(id);
  saveWanted();
  flush();
}
async function refreshSitesAndTemplates() {
  const fresh = await api('/api/v1/sites');
  sites = fresh.sites;
  store('sites', sites);
  templates = (await (await fetch('/api/v1/templates')).json()).templates;
  store('templates', templates);
  // The people of the user's sites, so records name them (kept for offline use).
  try {
    const known = {};
    for (const p of (await api('/api/v1/people')).people) known[p.id] = p.display_name || p.id;
    people = known;
    store('people', people);
  } catch (e) { console.warn('people', e); }
  renderSoon();
}
setInterval(() => {
  if (link === 'online' && document.visibilityState === 'visible') discover().catch(console.warn);
}, DISCOVERY_MS);
document.addEventListener('visibilitychange', () => {
  if (link === 'online' && document.visibilityState === 'visible') discover().catch(console.warn);
});

// ---------------------------------------------------------------- photos
// Photos are kept on the device first and uploaded when online. The server judges a photo
// by its bytes (JPEG, PNG, WebP, HEIC) and never by the type the file claims, so none is
// sent; a file it refuses as `not_an_image` is marked refused, never sent again, taken off
// the answers it was attached to, and the user is told.
async function addPhoto(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const sha = sha256Hex(bytes);
  const known = await dbGet('photos', sha);
  if (known?.refused) { toast(t('photoRefused')); return null; }
  if (!known) {
    await dbPut('photos', { sha, site: siteId, bytes, uploaded: false });
    setPhotosWaiting(photosWaiting + 1);
  }
  return sha;
}
// Photos kept on this device that the server has neither stored nor refused. They count in
// 待同步 beside the changes: 0 means the office and the other tablets can see every photo.
// Counted from IndexedDB at start and at each upload run, kept up to date in between.
let photosWaiting = 0;
const waitingToUpload = (photo) => !photo.uploaded && !photo.refused;
function setPhotosWaiting(n) { photosWaiting = n; renderBar(); }
async function countPhotosWaiting() {
  setPhotosWaiting((await dbAll('photos')).filter(waitingToUpload).length);
}
/**
 * The photos of an answer without those refused: a screen drawn before a refusal (its
 * handlers hold the answer as it was then) must not put a refused photo back.
 */
const keepPhotos = (list) => list.filter((sha) => photoUrls.get(sha) !== REFUSED);
/** Attaches a photo just taken to an answer (`write` with the new list), then uploads it. */
async function attachPhoto(file, attach) {
  if (!file) return;
  const sha = await addPhoto(file);
  if (!sha) return;
  await attach(sha);
  uploadPhotos().catch(console.warn);
}
let uploading = null;
let uploadAgain = false;
/** Uploads the photos not on the server yet, one run at a time (a call during a run queues one more). */
function uploadPhotos() {
  if (uploading) { uploadAgain = true; return uploading; }
  uploading = uploadPending().finally(() => {
    uploading = null;
    if (uploadAgain) { uploadAgain = false; uploadPhotos().catch(console.warn); }
  });
  return uploading;
}
async function uploadPending() {
  if (link !== 'online') return;
  const waiting = (await dbAll('photos')).filter(waitingToUpload);
  setPhotosWaiting(waiting.length);
  for (const photo of waiting) {
    const r = await authFetch(`/api/v1/blobs?site=${encodeURIComponent(photo.site)}`, {
      method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: photo.bytes,
    });
    if (r.ok) {
      await dbPut('photos', { ...photo, uploaded: true });
      setPhotosWaiting(photosWaiting - 1);
      continue;
    }
    const code = r.status === 415 ? (await r.json().catch(() => null))?.error?.code : null;
    if (code !== 'not_an_image') continue; // Anything else may pass on the next try.
    await dbPut('photos', { ...photo, refused: code });
    setPhotosWaiting(photosWaiting - 1);
    photoUrls.set(photo.sha, REFUSED);
    toast(t('photoRefused'));
    await detachPhoto(photo.sha);
  }
}
/** Takes a refused photo off this user's answers that still carry it (open inspections only). */
async function detachPhoto(sha) {
  for (const id of client.ids().filter((x) => client.has(x))) {
    const state = client.state(id);
    if (state.submitted) continue;
    let changed = false;
    for (const [key, records] of Object.entries(state.answers)) {
      const [record] = records;
      if (records.length !== 1 || !record.photos?.includes(sha) || record.by !== user()?.id) continue;
      try {
        client.answer(id, user().id, key, record.value, record.note || undefined, record.photos.filter((x) => x !== sha));
        changed = true;
      } catch (e) { console.warn('cannot take the refused photo off', key, e); }
    }
    if (changed) await persist(id);
  }
  flush();
  renderSoon();
}
// A photo is shown from this device's IndexedDB; one taken on another device is fetched
// from the server once (`GET /api/v1/blobs/{sha}`), checked against its reference, and
// kept. It is shown in an <img> from an object URL of an image blob, never opened as a page.
const photoUrls = new Map(); // sha -> object URL, or REFUSED
// A photo the server refused as not an image: shown as a note, never as a picture.
const REFUSED = 'refused';
const photoLoads = new Map(); // sha -> Promise of an object URL or ''
const isImageType = (type) => typeof type === 'string' && type.startsWith('image/');
async function loadPhoto(sha) {
  let photo = await dbGet('photos', sha);
  if (photo?.refused) return REFUSED;
  if (!photo?.bytes) {
    if (!currentSession() || !navigator.onLine) return '';
    const r = await authFetch(`/api/v1/blobs/${encodeURIComponent(sha)}`);
    if (!r.ok) return '';
    const type = (r.headers.get('content-type') || '').split(';')[0].trim();
    const bytes = new Uint8Array(await r.arrayBuffer());
    if (!isImageType(type) || sha256Hex(bytes) !== sha) return '';
    photo = { sha, site: null, type, bytes, uploaded: true };
    await dbPut('photos', photo);
  }
  return URL.createObjectURL(new Blob([photo.bytes], { type: isImageType(photo.type) ? photo.type : 'image/jpeg' }));
}
/** The object URL of a photo, or '' while it cannot be had (not uploaded yet, offline). */
const photoMisses = new Map(); // sha -> when it was last not to be had
function photoUrl(sha) {
  if (photoUrls.has(sha)) return Promise.resolve(photoUrls.get(sha));
  // The screen re-renders on every sync message: a miss is not asked again at once.
  if (Date.now() - (photoMisses.get(sha) ?? 0) < 1500) return Promise.resolve('');
  if (!photoLoads.has(sha)) {
    photoLoads.set(sha, loadPhoto(sha).catch((e) => { console.warn('photo', sha, e); return ''; }).then((url) => {
      photoLoads.delete(sha);
      if (url) photoUrls.set(sha, url); else photoMisses.set(sha, Date.now());
      return url;
    }));
  }
  return photoLoads.get(sha);
}
/**
 * A photo as an element: an <img> once its bytes are here. A photo not on the server yet
 * (the other device is still uploading it) is asked for again while the element is shown.
 */
/**
 * Opens a photo full size over the whole screen (outside the redrawn screen, so a sync
 * does not close it); a tap or Escape closes it.
 */
const viewer = h('div', { class: 'viewer', 'data-testid': 'photo-viewer', hidden: true, role: 'dialog', onclick: () => { viewer.hidden = true; } });
document.body.append(viewer);
document.addEventListener('keydown', (e) => { if (e.key === 'Escape') viewer.hidden = true; });
function showPhoto(url, sha) {
  viewer.replaceChildren(h('img', { src: url, alt: sha.slice(0, 8), 'data-sha': sha }));
  viewer.hidden = false;
}
function photoElement(sha) {
  const frame = h('span', { class: 'photo', 'data-photo': sha });
  let wait = 2000;
  const attempt = () => photoUrl(sha).then((url) => {
    if (url === REFUSED) {
      frame.replaceChildren(h('span', { class: 'chip red', 'data-testid': 'photo-refused' }, t('photoRefused')));
    } else if (url) {
      const img = h('img', { src: url, alt: sha.slice(0, 8), 'data-sha': sha, onclick: () => showPhoto(url, sha) });
      frame.replaceChildren(img);
    } else {
      setTimeout(() => { if (frame.isConnected) attempt(); }, wait);
      wait = Math.min(wait * 2, 30_000);
    }
  });
  // Appended to the page in the same task; attempting right away fills it from the cache.
  attempt();
  return frame;
}

// ---------------------------------------------------------------- login and logout
async function login(username, password) {
  await logIn(username, password);
  const body = await api('/api/v1/sites');
  sites = body.sites;
  store('sites', sites);
  siteId = sites.length === 1 ? sites[0].id : null;
  store('site', siteId);
  connect();
}
function logout() {
  saveTyped();
  people = {};
  store('people', null);
  logOut();
  ws?.close();
  location.hash = '#/';
  render();
}
onSessionEnded(logout);

// ---------------------------------------------------------------- model helpers
const user = () => currentSession()?.user;
/** The people of the user's sites by id (`GET /api/v1/people`), as last fetched. */
let people = stored('people', {});
/**
 * A person's name for a user id in a record (issue 20, item 11): from the sites' people,
 * or the user's own; the id itself only if neither knows it.
 */
const nameOf = (id) => people[id] || (id === user()?.id ? user()?.display_name : null) || id;
/**
 * Which tablet wrote a record, when it says (` · 本机`, ` · 平板 6a7b`): two tablets of one
 * user are told apart (issue 20, item 11).
 */
const deviceText = (record) => (!record.device ? ''
  : ` · ${record.device === `tablet-${device}` ? t('thisTablet') : t('tablet').replace('{0}', record.device.slice(-4))}`);
const site = () => sites.find((s) => s.id === siteId);
const templateName = (tpl) => local(tpl.name);
function inspections() {
  return client.ids().filter((id) => client.has(id)).map((id) => ({ id, state: client.state(id) }))
    .filter((x) => x.state.site === siteId)
    .sort((a, b) => (a.state.created_at < b.state.created_at ? 1 : -1));
}
const statusOf = (state) => (state.submitted ? 'submitted' : 'inProgress');

async function edit(id, fn) {
  try { fn(); } catch (e) { toast(String(e.message || e)); return; }
  await persist(id);
  flush();
  render();
}

// ---------------------------------------------------------------- views
const pendingCount = () => client.pendingChanges() + photosWaiting;
function renderBar() {
  const bar = $('#bar');
  // The user's own changes the server has not acknowledged (answers, bays, submissions) and
  // the photos it does not have yet.
  const pending = pendingCount();
  // `replaceChildren` writes a null argument as the text "null": leave the absent ones out.
  bar.replaceChildren(...[
    h('h1', {}, t('appName'), site() ? ` · ${site().name}` : ''),
    currentSession() ? h('div', { class: 'sync', 'data-testid': 'sync-state', 'data-link': link, 'data-pending': String(pending) },
      h('span', { class: `dot ${link}` }), t(link),
      h('span', {}, `${t('pending')} ${pending}`),
      h('span', { class: 'muted on-bar' }, `${t('lastSynced')} ${fmtDate(lastSynced)}`)) : null,
    h('button', { class: 'ghost', onclick: () => { setLang(lang === 'en' ? 'zh-CN' : 'en'); render(); } }, t('language')),
    currentSession() ? h('button', { class: 'ghost', onclick: logout }, t('logout')) : null,
  ].filter(Boolean));
}

function loginView() {
  const error = h('p', { class: 'problems', role: 'alert' });
  const form = h('form', { class: 'login card', onsubmit: async (e) => {
    e.preventDefault();
    // The form on the page: a redraw may have kept it rather than this drawing of it.
    const shown = /** @type {HTMLFormElement} */ (e.currentTarget);
    const problem = /** @type {HTMLElement} */ (shown.querySelector('[role=alert]'));
    if (!navigator.onLine) { problem.textContent = t('offlineLogin'); return; }
    try { await login(shown.username.value.trim(), shown.password.value); location.hash = '#/'; render(); } catch (err) { problem.textContent = err.message; }
  } },
  h('h2', {}, t('login')),
  h('input', { name: 'username', placeholder: t('username'), autocomplete: 'username', required: true }),
  h('input', { name: 'password', type: 'password', placeholder: t('password'), autocomplete: 'current-password', required: true }),
  h('button', { class: 'primary', type: 'submit' }, t('login')), error);
  return form;
}

function siteView() {
  return h('div', {}, h('h2', {}, t('pickSite')), h('div', { class: 'grid' }, sites.map((s) =>
    h('button', { onclick: () => { siteId = s.id; store('site', siteId); render(); } }, s.name))));
}

function startInspection(tpl) {
  const id = client.createInspection(siteId, tpl, site().areas, user().id);
  persist(id).then(() => { flush(); location.hash = `#/inspect/${id}`; });
}

// The office's dashboard: routines missed in the last seven days, fetched at most once a
// minute (the home screen re-renders on every sync message).
let dashboard = null;
let dashboardAt = 0;
function loadDashboard() {
  if (link !== 'online' || Date.now() - dashboardAt < 60_000) return;
  dashboardAt = Date.now();
  const forSite = siteId;
  api(`/api/v1/routines/status?site=${encodeURIComponent(forSite)}`).then((body) => {
    dashboard = { site: forSite, occurrences: body.occurrences, missed: body.occurrences.filter((o) => o.status === 'missed').reverse() };
    render();
  }).catch((e) => console.warn('dashboard', e));
}

function homeView() {
  const role = user().role;
  const mine = templates.filter((tpl) => tpl.run_by.includes(role));
  const all = inspections();
  const today = chinaDay(new Date().toISOString());
  const routines = mine.filter((tpl) => tpl.cadence !== 'ad_hoc');
  // Which inspection did today's routine: the server's routine status has the last word,
  // since it dates an inspection by when it received it where the tablet's clock ran ahead
  // (issue 17, input 4); an inspection it counts for another day is not today's, whatever
  // date its tablet wrote. Offline, or for a routine without a schedule, the tablet's dates.
  loadDashboard();
  const occurrences = dashboard?.site === siteId ? dashboard.occurrences : [];
  const otherDays = new Set(occurrences.filter((o) => o.date !== today && o.doc_id).map((o) => o.doc_id));
  const routineCards = routines.map((tpl) => {
    const counted = occurrences.find((o) => o.template_id === tpl.id && o.date === today && o.doc_id);
    const doc = (counted && all.find((x) => x.id === counted.doc_id))
      || all.find((x) => x.state.template.id === tpl.id && chinaDay(x.state.created_at) === today && !otherDays.has(x.id));
    const status = doc ? statusOf(doc.state) : 'notStarted';
    return h('div', { class: 'card' },
      h('div', { class: 'row spread' }, h('h3', {}, templateName(tpl)), h('span', { class: `chip ${status === 'submitted' ? 'green' : status === 'inProgress' ? 'amber' : ''}` }, t(status))),
      h('p', { class: 'muted' }, t(`cadence_${tpl.cadence}`)),
      doc ? h('button', { onclick: () => { location.hash = `#/inspect/${doc.id}`; } }, status === 'submitted' ? t('view') : t('resume'))
        : h('button', { class: 'primary', onclick: () => startInspection(tpl) }, t('start')));
  });
  // Every ad-hoc template the user's role runs can be started: the walkaround under its own
  // label, templates the office added under their names.
  const adHoc = mine.filter((tpl) => tpl.cadence === 'ad_hoc')
    .sort((a, b) => Number(b.id === WALKAROUND_ID) - Number(a.id === WALKAROUND_ID));
  let office = null;
  if (userMay(user(), 'review')) {
    const missed = dashboard?.site === siteId ? dashboard.missed : [];
    office = h('div', {},
      h('div', { class: 'row office-links' },
        [['violations', t('violations')], ['reports', t('reports')], ['routines', t('routines')]].map(([path, label]) =>
          h('button', { 'data-testid': `office-${path}-link`, onclick: () => { location.hash = `#/office/${path}`; } }, `${label} ›`))),
      missed.length ? h('div', { class: 'card missed', 'data-testid': 'missed-routines' },
        h('h3', {}, `${t('missedRoutines')} (${missed.length})`),
        h('ul', {}, missed.slice(0, 6).map((o) => h('li', {},
          `${o.date} · ${local(templates.find((x) => x.id === o.template_id)?.name) || o.template_id} · ${t('due')} ${fmtDate(o.due_at)}`)))) : null);
  }
  return h('div', {}, office,
    adHoc.map((tpl) => {
      const walkaround = tpl.id === WALKAROUND_ID;
      return h('button', { class: `wide ${walkaround ? 'primary' : ''}`, onclick: () => startInspection(tpl),
        'data-testid': walkaround ? 'new-walkaround' : `new-${tpl.id}` }, `＋ ${walkaround ? t('newWalkaround') : local(tpl.name)}`);
    }),
    routines.length ? h('h2', {}, t('today')) : null,
    h('div', { class: 'grid' }, routineCards),
    h('h2', {}, t('history')),
    all.length ? h('div', {}, all.map(({ id, state }) => {
      const v = client.violations(id);
      const fines = client.fineTotal(id);
      return h('div', { class: 'card row spread clickable', 'data-doc': id, onclick: () => { location.hash = `#/inspect/${id}`; } },
        h('div', {}, h('h3', {}, local(state.template.name)), h('span', { class: 'muted' }, `${fmtDate(state.created_at)} · ${nameOf(state.created_by)}`)),
        h('div', { class: 'row' },
          v.length ? h('span', { class: 'chip red' }, `${v.length} ${t('violationsCount')}`) : null,
          fines ? h('span', { class: 'chip red' }, fmtYuan(fines)) : null,
          h('span', { class: `chip ${state.submitted ? 'green' : 'amber'}` }, t(statusOf(state)))));
    })) : h('p', { class: 'muted' }, t('noDocs')),
    h('button', { class: 'wide', 'data-testid': 'older-link', onclick: () => { location.hash = '#/older'; } }, `${t('olderInspections')} ›`));
}

// Older inspections (bounded sync, issue 18): this device keeps only its window of
// history, so older ones are listed from the server a page at a time
// (`GET /api/v1/inspections`); one opened is fetched over the socket and kept a while.
let older = null; // { site, rows, next, loading, failed }
function loadOlder() {
  if (older.loading || older.next === null) return;
  older.loading = true;
  const q = new URLSearchParams({ site: older.site, scope: 'older' });
  if (older.next) q.set('before', older.next);
  const forSite = older;
  api(`/api/v1/inspections?${q}`).then((body) => {
    forSite.rows.push(...body.inspections);
    forSite.next = body.next;
  }).catch((e) => { forSite.failed = String(e.message || e); }).finally(() => { forSite.loading = false; render(); });
}
function olderView() {
  if (older?.site !== siteId) {
    older = { site: siteId, rows: [], next: undefined, loading: false, failed: null };
    loadOlder();
  }
  const name = (id) => local(templates.find((x) => x.id === id)?.name) || id;
  return h('div', { 'data-testid': 'older' },
    h('div', { class: 'row spread' }, h('button', { onclick: () => { location.hash = '#/'; } }, `← ${t('back')}`),
      h('h2', {}, t('olderInspections'))),
    older.failed ? h('p', { class: 'error' }, older.failed) : null,
    older.rows.map((r) => h('div', { class: 'card row spread clickable', 'data-doc': r.id, onclick: () => { location.hash = `#/inspect/${r.id}`; } },
      h('div', {}, h('h3', {}, name(r.template)), h('span', { class: 'muted' }, `${fmtDate(r.created_at)} · ${nameOf(r.created_by)}`)),
      h('div', { class: 'row' },
        r.violations ? h('span', { class: 'chip red' }, `${r.violations} ${t('violationsCount')}`) : null,
        r.fine_yuan ? h('span', { class: 'chip red' }, fmtYuan(r.fine_yuan)) : null,
        h('span', { class: `chip ${r.submitted_at ? 'green' : 'amber'}` }, t(r.submitted_at ? 'submitted' : 'inProgress'))))),
    older.loading ? h('p', { class: 'loading' }, t('connecting'))
      : older.next !== null ? h('button', { class: 'wide', 'data-testid': 'older-more', onclick: loadOlder }, t('loadMore')) : null);
}

const valueOf = (answer) => answer?.value;

// Text is saved as it is typed (SAVE_TYPED_MS after the last keystroke), when its field is
// left, and when the page is hidden or closed: never only on leaving the field, which a tablet
// that locks or an app that is closed never does (issue 20, item 3). Each keystroke also
// keeps the field's text as a draft in localStorage, written at once: a save still on its
// way to IndexedDB when the page goes is made again from the draft when the app opens.
const SAVE_TYPED_MS = 400;
/** Saves not yet made, by field id: each a function that makes it now. */
const unsaved = new Map();
/** Typed text not yet stored in its document, by field id: `{ doc, key, what, text }`. */
const drafts = stored('drafts', {});
const fieldId = ({ doc, key, what }) => `${doc}/${key}/${what}`;
/**
 * Stores typed text in its answer (`what`: `note`, or the value of a `text` or `number`
 * item), keeping the rest of the answer as it is now; nothing if it is already there.
 * Resolves once stored on this device.
 */
async function saveText({ doc, key, what }, text) {
  if (!client.has(doc)) return;
  const state = client.state(doc);
  if (state.submitted) return;
  const records = state.answers[key] || [];
  const record = records.length === 1 ? records[0] : null;
  let value;
  if (what === 'note') {
    if (!record || (record.note || '') === text) return;
    value = record.value;
  } else if (what === 'text') {
    if (records.length > 1 || (record?.value?.value ?? '') === text) return;
    value = { type: 'text', value: text };
  } else {
    const n = Number(text);
    if (text === '' || !Number.isFinite(n) || records.length > 1 || record?.value?.value === n) return;
    value = { type: 'number', value: n };
  }
  const note = what === 'note' ? text : record?.note;
  await edit(doc, () => client.answer(doc, user().id, key, value, note || undefined, record?.photos || []));
}
/**
 * The handlers of a text field (`{ doc, key, what }`, as `saveText` takes it): a draft on
 * each keystroke, a save after SAVE_TYPED_MS of quiet, on change, and from `saveTyped()`
 * when the page goes away.
 */
function typed(field) {
  const id = fieldId(field);
  const now = (text) => {
    const pending = unsaved.get(id);
    if (pending) { clearTimeout(pending.timer); unsaved.delete(id); }
    saveText(field, text).then(() => {
      if (drafts[id]?.text === text) { delete drafts[id]; store('drafts', drafts); }
    }).catch(console.warn);
  };
  return {
    // The field's key across redraws (`morph`): the same element while it is drawn.
    'data-field': id,
    oninput: (e) => {
      const text = e.target.value;
      drafts[id] = { ...field, text };
      store('drafts', drafts);
      clearTimeout(unsaved.get(id)?.timer);
      unsaved.set(id, { timer: setTimeout(() => now(text), SAVE_TYPED_MS), now: () => now(text) });
    },
    onchange: (e) => now(e.target.value),
  };
}
/** Makes every save still waiting for its debounce, now. */
function saveTyped() {
  for (const pending of [...unsaved.values()]) pending.now();
}
/** Stores the drafts a closed page left (see above), then forgets them. */
async function restoreDrafts() {
  if (!currentSession()) return;
  for (const [id, draft] of Object.entries(drafts)) {
    try { await saveText(draft, draft.text); } catch (e) { console.warn('draft', id, e); }
    delete drafts[id];
  }
  store('drafts', drafts);
}
window.addEventListener('pagehide', saveTyped);
document.addEventListener('visibilitychange', () => { if (document.visibilityState === 'hidden') saveTyped(); });

function itemCard(id, state, item, key, failing) {
  const records = state.answers[key] || [];
  const frozen = Boolean(state.submitted) || state.readOnly;
  const current = records.length === 1 ? records[0] : null;
  const value = valueOf(current);
  // Failing as the rules count it (a key with a violation: shared::rules::evaluate).
  const isFailing = failing.has(key);
  // The record as it is when a handler runs, not as it was when this card was drawn: a
  // note saved, a photo attached or a remote answer merged since then must be kept.
  const latest = () => {
    const now = client.has(id) ? (client.state(id).answers[key] || []) : records;
    return now.length === 1 ? now[0] : null;
  };
  const write = (v, note = latest()?.note, photos = latest()?.photos || []) =>
    edit(id, () => client.answer(id, user().id, key, v, note || undefined, photos));
  const controls = [];
  if (item.kind.type === 'pass_fail') {
    controls.push(h('div', { class: 'answers' }, [['pass', 'pass'], ['fail', 'fail'], ['not_applicable', 'na']].map(([type, cls]) =>
      h('button', { class: `${cls} ${value?.type === type ? 'on' : ''}`, disabled: frozen, 'data-answer': type, onclick: () => write({ type }) }, t(cls)))));
  } else if (item.kind.type === 'count') {
    const n = value?.value ?? 0;
    controls.push(h('div', { class: 'stepper' },
      h('button', { disabled: frozen || n === 0, onclick: () => write({ type: 'count', value: Math.max(0, (valueOf(latest())?.value ?? n) - 1) }) }, '−'),
      h('output', {}, value ? String(n) : '–', h('span', { class: 'muted' }, ` / ${t('max')} ${item.kind.max}`)),
      h('button', { disabled: frozen, onclick: () => write({ type: 'count', value: (valueOf(latest())?.value ?? n) + 1 }) }, '+')));
    if (!value) controls.push(h('button', { disabled: frozen, onclick: () => write({ type: 'count', value: 0 }) }, '0'));
  } else if (item.kind.type === 'number') {
    controls.push(h('input', { type: 'number', step: 'any', value: value?.value ?? '', disabled: frozen,
      ...typed({ doc: id, key, what: 'number' }) }));
  } else if (item.kind.type === 'text') {
    controls.push(h('textarea', { disabled: frozen,
      ...typed({ doc: id, key, what: 'text' }) },
    value?.value ?? ''));
  }
  const evidence = [];
  const wantsEvidence = isFailing || item.kind.type === 'photo';
  if (wantsEvidence && current) {
    // A note or photo keeps the answer as it is now, not as it was when the card was drawn.
    const keepAnswer = (now) => valueOf(now) ?? value;
    // Until submission a photo taken by mistake can be taken off the answer.
    const photos = h('div', { class: 'photos' }, current.photos.map((sha) => (frozen ? photoElement(sha)
      : h('span', { class: 'photo-wrap' }, photoElement(sha),
        h('button', { class: 'remove-photo', 'data-testid': `remove-photo-${key}`, 'aria-label': t('removePhoto'), title: t('removePhoto'),
          onclick: () => { const now = latest(); if (now) write(keepAnswer(now), now.note, now.photos.filter((x) => x !== sha)); } }, '×')))));
    evidence.push(h('div', { class: 'evidence' },
      isFailing ? h('textarea', { placeholder: `${t('note')}${item.note_required_on_fail ? ` (${t('required')})` : ''}`, disabled: frozen,
        'data-testid': `note-${key}`,
        ...typed({ doc: id, key, what: 'note' }) },
      current.note || '') : null,
      photos,
      // "(required)" only while the required photo is missing.
      frozen ? null : h('label', { class: 'photo-button' }, `📷 ${t('photo')}${item.photo_required_on_fail && !current.photos.length ? ` (${t('required')})` : ''}`,
        h('input', { type: 'file', accept: 'image/*', capture: 'environment', 'data-testid': `photo-${key}`, onchange: async (e) => {
          // A note still being typed is saved first, so the photo's write carries it.
          saveTyped();
          await attachPhoto(e.target.files[0], (sha) => {
            const now = latest() || current;
            return write(keepAnswer(now), now.note, keepPhotos([...now.photos, sha]));
          });
        } }))));
  }
  if (item.kind.type === 'photo' && !current && !frozen) {
    evidence.push(h('label', { class: 'photo-button' }, `📷 ${t('photo')}`, h('input', { type: 'file', accept: 'image/*', capture: 'environment',
      onchange: (e) => attachPhoto(e.target.files[0], (sha) => write({ type: 'photo' }, undefined, [sha])) })));
  }
  const conflict = records.length > 1 ? h('div', { class: 'evidence' }, h('strong', {}, t('conflict')), records.map((r) =>
    h('div', { class: 'row spread card flush' },
      h('span', {}, `${describe(item, r.value)} · ${t('by')} ${nameOf(r.by)}${deviceText(r)} · ${fmtDate(r.at)}${r.note ? ` · ${r.note}` : ''}`),
      frozen ? null : h('button', { 'data-testid': `keep-${key}`, onclick: () => write(r.value, r.note, r.photos) }, t('keep'))))) : null;
  const late = records.some((r) => r.late);
  return h('div', { class: `card item ${isFailing ? 'failing' : ''} ${records.length > 1 ? 'conflict' : ''}`, 'data-key': key },
    h('div', { class: 'row spread' }, h('h3', {}, local(item.text)),
      h('div', { class: 'row' }, h('span', { class: 'chip' }, `${t('rule')} ${item.rule}`),
        item.fine.type === 'per_occurrence' ? h('span', { class: 'chip amber' }, `${fmtYuan(item.fine.yuan)}/次`) : null,
        late ? h('span', { class: 'chip amber' }, t('late')) : null)),
    // Always drawn (empty until answered), so the first answer does not insert an element
    // before a field being typed into.
    h('p', { class: 'muted', hidden: !current }, current ? `${t('by')} ${nameOf(current.by)}${deviceText(current)} · ${fmtDate(current.at)}` : ''),
    controls, evidence, conflict);
}

/** The words for each reason a submission waits (shared::inspection::BlockReason). */
const BLOCK_REASONS = {
  not_answered: 'notAnswered', note_required: 'noteRequired', photo_required: 'photoRequired',
  conflicting_answers: 'conflictShort', occupancy_disagrees: 'occupancyConflictShort',
};
/** A submission problem (`{key, reason}` from the shared rules) in the user's language. */
function problemText(state, problem) {
  const [itemId, areaId] = problem.key.split('@');
  const item = state.template.items.find((i) => i.id === itemId);
  const area = areaId ? state.areas.find((a) => a.id === areaId) : null;
  // `occupied@<bay>` names a bay's occupancy, not an item.
  const what = itemId === 'occupied' && !item ? t('occupancy') : item ? local(item.text) : itemId;
  return `${what}${area ? ` · ${local(area.name)}` : ''}: ${t(BLOCK_REASONS[problem.reason] ?? problem.reason)}`;
}

function describe(item, value) {
  if (!value) return '–';
  if (value.type === 'pass') return t('pass');
  if (value.type === 'fail') return t('fail');
  if (value.type === 'not_applicable') return t('na');
  if ('value' in value) return String(value.value);
  return t('photo');
}

/**
 * How many of the items the inspection asks for (`expected`, its answer keys) are answered,
 * overall or (with `area`) in one bay, room or entrance: `{ answered, asked }`.
 */
function progress(expected, state, area = null) {
  const keys = expected.filter((k) => area === null || k.endsWith(`@${area}`));
  return { answered: keys.filter((k) => (state.answers[k] || []).length > 0).length, asked: keys.length };
}

function inspectView(id) {
  if (!client.has(id)) {
    if (unavailable.has(id)) return h('p', { class: 'loading', 'data-testid': 'unavailable' }, t('docUnavailable'));
    fetchOnDemand(id);
    return h('p', { class: 'loading' }, t('connecting'));
  }
  if (!opened[id] || Date.now() - opened[id] > 3_600_000) { opened[id] = Date.now(); store('opened', opened); }
  const state = client.state(id);
  const tpl = state.template;
  const frozen = Boolean(state.submitted);
  // The items that fail are those with a violation (shared::rules::evaluate), read once.
  const violations = client.violations(id);
  const failingKeys = new Set(violations.map((v) => v.key));
  // Only the roles that run the template answer it (shared::policy::may_answer); the
  // office and other reviewing roles see it read-only.
  state.readOnly = !frozen && !client.mayAnswer(id, user());
  const onceItems = tpl.items.filter((i) => i.repeat === 'once');
  const sections = [h('h2', {}, t('general')), h('div', { class: 'grid' }, onceItems.map((i) => itemCard(id, state, i, i.id, failingKeys)))];
  const disagreements = client.occupancyDisagreements(id);
  const expected = client.expectedKeys(id);
  const group = (kind, title, repeats) => {
    const items = tpl.items.filter((i) => repeats.includes(i.repeat));
    if (!items.length) return;
    sections.push(h('h2', {}, t(title)));
    for (const area of state.areas.filter((a) => a.kind === kind)) {
      const occupiedRecords = state.occupied[area.id] || [];
      const occupied = occupiedRecords.some((r) => r.occupied);
      const shown = items.filter((i) => i.repeat !== 'per_occupied_bay' || occupied);
      // Answers of an empty bay's occupied-only items are kept but do not count (shared::rules).
      const keptAnswers = !occupied && items.some((i) => i.repeat === 'per_occupied_bay' && (state.answers[`${i.id}@${area.id}`] || []).length > 0);
      // Two tablets marked the bay differently offline: shown like an answer conflict (issue 20, item 6).
      const disagrees = disagreements.includes(area.id);
      const mayEdit = !frozen && !state.readOnly;
      const inArea = progress(expected, state, area.id);
      sections.push(h('div', { class: 'card', 'data-area': area.id },
        h('div', { class: 'row spread' }, h('div', { class: 'row' }, h('h3', {}, local(area.name)),
          inArea.asked ? h('span', { class: `chip ${inArea.answered === inArea.asked ? 'green' : ''}`, 'data-testid': `progress-${area.id}` },
            t('progress').replace('{a}', inArea.answered).replace('{n}', inArea.asked)) : null),
          kind === 'bay' && items.some((i) => i.repeat === 'per_occupied_bay') ? h('button', { disabled: !mayEdit, class: `${occupied ? 'primary' : ''} ${disagrees ? 'conflict' : ''}`,
            'data-testid': `occupied-${area.id}`, onclick: () => edit(id, () => client.setOccupied(id, user().id, area.id, !occupied)) },
          occupied ? `🚗 ${t('occupied')}` : t('empty')) : null),
        disagrees ? h('div', { class: 'evidence', 'data-testid': `occupancy-conflict-${area.id}` }, h('strong', {}, t('occupancyConflict')), occupiedRecords.map((r) =>
          h('div', { class: 'row spread card flush' },
            h('span', {}, `${r.occupied ? t('occupied') : t('empty')} · ${t('by')} ${nameOf(r.by)} · ${fmtDate(r.at)}`),
            mayEdit ? h('button', { 'data-testid': `keep-occupied-${area.id}`, 'data-occupied': String(r.occupied),
              onclick: () => edit(id, () => client.setOccupied(id, user().id, area.id, r.occupied)) }, t('keepOccupancy')) : null))) : null,
        keptAnswers ? h('p', { class: 'muted', 'data-testid': `kept-answers-${area.id}` }, t('emptyBayAnswersKept')) : null,
        h('div', { class: 'grid' }, shown.map((i) => itemCard(id, state, i, `${i.id}@${area.id}`, failingKeys)))));
    }
  };
  group('bay', 'bays', ['per_bay', 'per_occupied_bay']);
  group('room', 'rooms', ['per_room']);
  group('entrance', 'entrances', ['per_entrance']);

  const total = client.fineTotal(id);
  const fineText = (v) => (v.fine.type === 'yuan' ? fmtYuan(v.fine.amount) : v.fine.type === 'dismissal_review' ? t('dismissal') : v.fine.type === 'replace_tool' ? t('replaceTool') : '');
  const problems = frozen || state.readOnly ? [] : client.submissionProblems(id);
  const { answered, asked } = progress(expected, state);
  return h('div', {},
    h('div', { class: 'row spread' }, h('button', { onclick: () => { location.hash = '#/'; } }, `← ${t('back')}`),
      h('h2', {}, local(tpl.name)),
      h('span', { class: `chip ${answered === asked ? 'green' : ''}`, 'data-testid': 'progress' }, t('progress').replace('{a}', answered).replace('{n}', asked)),
      frozen ? h('span', { class: 'chip green' }, `${t('submitted')} · ${nameOf(state.submitted.by)} · ${fmtDate(state.submitted.at)}`) : null,
      // Where the presence bar goes: it is one element, kept across redraws (`render`).
      h('span', { 'data-presence-slot': '' }),
      // Submissions made offline on other tablets without seeing this one (issue 17, input 3).
      (state.duplicate_submissions || []).map((d) => h('span', { class: 'chip amber', 'data-testid': 'duplicate-submission' },
        t('duplicateSubmission').replace('{by}', nameOf(d.by)).replace('{at}', fmtDate(d.at))))),
    sections,
    h('div', { class: 'card', 'data-testid': 'violations' }, h('h2', {}, `${t('violations')} (${violations.length})`),
      violations.length ? h('ul', { class: 'violations' }, violations.map((v) => h('li', {},
        `${v.rule} · ${local(v.item_text)}${v.area ? ` · ${local(v.area.name)}` : ''} · ×${v.occurrences} ${fineText(v)}${v.conflict ? ' ⚠' : ''}`))) : h('p', { class: 'muted' }, t('noViolations')),
      h('p', {}, h('strong', {}, `${t('fineTotal')}: ${fmtYuan(total)}`))),
    frozen ? null : state.readOnly ? h('p', { class: 'card muted', 'data-testid': 'read-only' }, t('readOnly')) : submitCard(id, state, problems));
}

/** Scrolls to what a submission problem (`key: reason`) is about and marks it briefly. */
function jumpTo(problem) {
  const { key } = problem;
  const [itemId, area] = key.split('@');
  const target = itemId === 'occupied' && area ? document.querySelector(`[data-area="${CSS.escape(area)}"]`)
    : document.querySelector(`[data-key="${CSS.escape(key)}"]`);
  if (!target) return;
  target.scrollIntoView({ block: 'center', behavior: 'smooth' });
  target.classList.add('flash');
  setTimeout(() => target.classList.remove('flash'), 1600);
}
/** The inspection whose submission waits for the user's confirmation. */
let confirmingSubmit = null;
/**
 * What stands between the inspection and its submission, every problem, each a link to
 * its item; the submit button (disabled with the reason while anything is missing), then a
 * confirmation, then a word that it is done.
 */
function submitCard(id, state, problems) {
  if (problems.length && confirmingSubmit === id) confirmingSubmit = null;
  const submit = async () => {
    confirmingSubmit = null;
    await edit(id, () => client.submit(id, user().id));
    if (client.has(id) && client.state(id).submitted) toast(t('submittedDone'));
  };
  return h('div', { class: 'card', 'data-testid': 'submit-card' },
    problems.length ? h('div', { class: 'problems' }, h('p', {}, t('submitProblems')),
      h('ul', { 'data-testid': 'problems' }, problems.map((p) => h('li', {},
        h('button', { class: 'link', 'data-problem': p.key, onclick: () => jumpTo(p) }, problemText(state, p)))))) : null,
    confirmingSubmit === id
      ? h('div', { class: 'confirm', role: 'alertdialog', 'data-testid': 'confirm' }, h('p', {}, t('confirmSubmit')),
        h('div', { class: 'row' },
          h('button', { class: 'primary', 'data-testid': 'confirm-submit', onclick: submit }, t('confirmSubmitYes')),
          h('button', { 'data-testid': 'cancel-submit', onclick: () => { confirmingSubmit = null; render(); } }, t('cancel'))))
      : h('div', { class: 'row' },
        h('button', { class: 'primary', disabled: problems.length > 0, 'data-testid': 'submit',
          onclick: () => { confirmingSubmit = id; render(); } }, t('submit')),
        problems.length ? h('span', { class: 'muted', 'data-testid': 'submit-why' }, t('submitBlocked').replace('{n}', String(problems.length))) : null));
}

// What the office screens need from the app.
const officeEnv = {
  h, authFetch, user, sites: () => sites, templates: () => templates, toast, photoElement, render: () => render(),
};

// Sync messages arrive in bursts (a new tablet fetches a site's history one document per
// message): the screen is redrawn once per burst, not once per message, so storing what
// arrives never waits behind a queue of redraws.
let renderQueued = false;
function renderSoon() {
  if (renderQueued) return;
  renderQueued = true;
  setTimeout(() => { renderQueued = false; render(); }, 100);
}

/**
 * The text field on the main screen the user is typing into, if any. A redraw of the
 * tablet's screens never touches it (`morph`); on the office's screens, which draw
 * themselves, a redraw waits until it loses the focus. Either way an answer arriving from
 * another tablet never takes the focus (or the keystrokes after it) from a note being
 * typed. What the user types is saved as it is typed (`typed`).
 */
function typingIn() {
  const el = document.activeElement;
  if (!el || !$('#app').contains(el)) return null;
  if (el.tagName === 'TEXTAREA') return el;
  return el.tagName === 'INPUT' && !['button', 'checkbox', 'radio', 'file', 'submit', 'reset'].includes(/** @type {HTMLInputElement} */ (el).type) ? el : null;
}
let renderHeld = false;
document.addEventListener('focusout', () => {
  // After the focus has moved: to another field, the redraw waits for that one.
  if (renderHeld) setTimeout(() => { if (renderHeld && !typingIn()) render(); }, 0);
});

/**
 * Brings the screen's elements to `children` in place (morphdom): an element that stays
 * is kept and only what changed in it is written, matched by its key (an answer key, an
 * area, a document) where it has one. Kept as they are: the text field being typed into,
 * a photo already shown, and the presence bar's slot.
 */
function morph(app, children) {
  const next = document.createElement('div');
  next.append(...children);
  const typing = /** @type {HTMLInputElement | HTMLTextAreaElement | null} */ (typingIn());
  // A number field has no caret to read (its selection is null): only its focus comes back.
  const selection = typing && typing.selectionStart !== null
    ? /** @type {const} */ ([typing.selectionStart, typing.selectionEnd, typing.selectionDirection]) : null;
  morphdom(app, next, {
    childrenOnly: true,
    // Keys are looked up across the whole screen: each names one kind of element.
    getNodeKey: (node) => {
      if (!(node instanceof HTMLElement)) return undefined;
      const { key, area, doc, field } = node.dataset;
      if (field) return `field:${field}`;
      if (key) return `key:${key}`;
      if (area) return `area:${area}`;
      if (doc && node.classList.contains('card')) return `doc:${doc}`;
      if (node.hasAttribute('data-presence-slot')) return 'presence';
      return node.id || undefined;
    },
    onBeforeElUpdated: (kept, drawn) => {
      adoptHandlers(kept, drawn);
      if (kept.hasAttribute('data-presence-slot') && drawn.hasAttribute('data-presence-slot')) return false;
      // A photo frame fills itself once its bytes are here: one showing the same photo
      // stays; any other is replaced by the new drawing's (never re-pointed in place).
      if (kept.dataset.photo || drawn.dataset.photo) {
        if (kept.dataset.photo !== drawn.dataset.photo) kept.replaceWith(drawn);
        return false;
      }
      return !(kept === typing);
    },
  });
  // Moving an element takes its focus away: the field being typed into may have moved
  // (something was drawn before it), so it gets the focus and its caret back.
  if (typing?.isConnected && document.activeElement !== typing) {
    typing.focus({ preventScroll: true });
    if (selection) typing.setSelectionRange(selection[0], selection[1], selection[2] ?? undefined);
  }
}

/** The route last drawn: a redraw of the same route morphs, a new one draws afresh. */
let drawnRoute = null;
/** Redraws the screen; `{ now: true }` draws it afresh, even while the user is typing. */
function render({ now = false } = {}) {
  renderBar();
  const app = $('#app');
  const route = location.hash.replace(/^#\/?/, '');
  const office = route.startsWith('office/');
  if (!now && office && typingIn()) { renderHeld = true; return; }
  renderHeld = false;
  let view;
  if (!currentSession()) view = loginView();
  else if (!siteId) view = siteView();
  else if (route.startsWith('inspect/')) view = inspectView(route.slice('inspect/'.length));
  else if (route.startsWith('office/')) view = officeView(route, officeEnv);
  else if (route === 'older') view = olderView();
  else view = homeView();
  const scroll = window.scrollY;
  const children = [currentSession() ? refusalsView() : null, view].filter(Boolean);
  // The office keeps its screen element while the route stays: putting the same element
  // back would detach it and take the focus from a field in it.
  const same = children.length === app.children.length && children.every((c, i) => c === app.children[i]);
  if (office || now || route !== drawnRoute || !app.children.length) {
    if (!same) app.replaceChildren(...children);
  } else {
    morph(app, children);
  }
  drawnRoute = route;
  const slot = app.querySelector('[data-presence-slot]');
  if (slot && presenceBar.parentNode !== slot) slot.replaceChildren(presenceBar);
  window.scrollTo(0, scroll);
  followPresence();
}

window.addEventListener('hashchange', () => { saveTyped(); render({ now: true }); window.scrollTo(0, 0); });
setLang(lang);
await restoreDrafts();
await countPhotosWaiting();
render();
connect();
setInterval(() => { if (link === 'online') uploadPhotos().catch(() => {}); }, 15_000);
if ('serviceWorker' in navigator) navigator.serviceWorker.register('sw.js').catch((e) => console.warn('no service worker', e));
// For tests and diagnostics.
/** @type {Window & { walkaround?: object }} */ (window).walkaround = {
  client,
  state: () => ({ link, pending: pendingCount(), lastSynced }),
  // The documents stored on this device and those still to fetch.
  held: () => client.ids().filter((id) => client.has(id)),
  wanted: () => [...wanted],
  // What the server refused and this tablet dropped (see recoverFrom).
  refusals: () => [...refusals],
};

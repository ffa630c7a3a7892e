// Stock automerge-repo 2.5.6 clients against a running Walkaround server (issue 17,
// items 1 and 6): a document opened before it exists arrives once it is created, and
// presence (ephemeral messages, automerge-repo's Presence) passes between the peers of a
// document and never to a peer of another site.
// Run by tests/tests/it/interop.rs, which starts the server and sets:
//   WALKAROUND_URL (http://host:port), WALKAROUND_PASSWORD, WALKAROUND_AREAS (JSON).
// Exits non-zero (an assertion error) if anything is off.
import assert from 'node:assert/strict';
import * as A from '@automerge/automerge';
import { Presence, Repo } from '@automerge/automerge-repo';
import { WebSocketClientAdapter } from '@automerge/automerge-repo-network-websocket';

const base = process.env.WALKAROUND_URL;
const password = process.env.WALKAROUND_PASSWORD;
const areas = process.env.WALKAROUND_AREAS;
const str = (x) => new A.ImmutableString(x);

async function login(username) {
  const r = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  assert.equal(r.status, 200, `login ${username}`);
  return (await r.json()).access_token;
}

const adapterFor = (token) =>
  new WebSocketClientAdapter(`${base.replace(/^http/, 'ws')}/sync?token=${token}`);

async function connected(token) {
  const repo = new Repo({ network: [adapterFor(token)] });
  await repo.networkSubsystem.whenReady();
  return repo;
}

async function until(predicate, what, ms = 10000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const within = (promise, what, ms = 10000) =>
  Promise.race([
    promise,
    new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), ms)),
  ]);

const { templates } = await (await fetch(`${base}/api/v1/templates`)).json();
const walkaround = JSON.stringify(templates.find((t) => t.id === 'workshop-walkaround'));
const inspection = (id, site = 'demo-site') => ({
  schema: str('walkaround/inspection'),
  layout: 1,
  id: str(id),
  site: str(site),
  template: str(walkaround),
  areas: str(areas),
  created_by: str('wang'),
  created_at: new Date(),
  answers: {},
  occupied: {},
});
// "Open the URL": resolves as soon as the handle is ready or known unavailable.
const open = (repo, url) => repo.find(url, { allowableStates: ['ready', 'unavailable'] });

const [tokenA, tokenB, tokenSun] = await Promise.all([login('wang'), login('li'), login('sun')]);
const [repoA, repoB, repoSun] = await Promise.all([
  connected(tokenA),
  connected(tokenB),
  connected(tokenSun),
]);

// 1a. Tablet A creates, tablet B opens the URL at once (the same tick), several times:
// whichever reaches the server first, B ends up with the document.
const states = [];
for (let i = 0; i < 5; i++) {
  const created = repoA.create(inspection(`js-at-once-${i}`));
  const opened = await open(repoB, created.url);
  states.push(opened.state);
  await within(opened.whenReady(), `B to receive inspection ${i} (it was ${opened.state} first)`);
  assert.equal(opened.doc().id.toString(), `js-at-once-${i}`);
}

// 1b. The same, deterministic: A creates offline, B (and sun, of another site) open the
// URL and are told unavailable; A comes online; B receives it, sun nothing.
const repoOffline = new Repo({ network: [] });
const offline = repoOffline.create(inspection('js-created-offline'));
const waiting = await open(repoB, offline.url);
assert.equal(waiting.state, 'unavailable', 'the server does not have it yet');
const hidden = await open(repoSun, offline.url);
assert.equal(hidden.state, 'unavailable');
repoOffline.networkSubsystem.addNetworkAdapter(adapterFor(tokenA));
await within(waiting.whenReady(), 'B to receive the document created offline');
assert.equal(waiting.doc().id.toString(), 'js-created-offline');

// 6. Presence on one inspection: A and B see each other, where each is, and when one
// leaves; sun, who asked for it too, hears nothing of it.
const handleA = offline;
const handleB = waiting;
const peerA = repoOffline.peerId;
const sunHeard = [];
hidden.on('ephemeral-message', (m) => sunHeard.push(m));
const bHeard = [];
handleB.on('ephemeral-message', (m) => bHeard.push(m));
const presenceA = new Presence({ handle: handleA });
const presenceB = new Presence({ handle: handleB });
const peers = (presence) => {
  const states = presence.getPeerStates();
  return states.value ?? states;
};
presenceA.start({ initialState: { user: 'wang', bay: '喷漆房' }, heartbeatMs: 1000 });
presenceB.start({ initialState: { user: 'li', bay: '前台' }, heartbeatMs: 1000 });
await until(() => peers(presenceB)[peerA]?.value?.bay === '喷漆房', 'B to see A in the paint booth');
await until(() => peers(presenceA)[repoB.peerId]?.value?.user === 'li', 'A to see B');
presenceA.broadcast('bay', '调漆房');
await until(() => peers(presenceB)[peerA]?.value?.bay === '调漆房', 'B to see A move');
handleA.broadcast({ note: 'plain broadcast' });
await until(
  () => bHeard.some((m) => m.senderId === peerA && m.message?.note === 'plain broadcast'),
  "B to receive A's broadcast with A as its sender",
);
presenceA.stop();
await until(() => peers(presenceB)[peerA] === undefined, 'A to disappear when it leaves');
presenceB.stop();
await new Promise((r) => setTimeout(r, 500));
assert.equal(sunHeard.length, 0, 'a peer of another site hears no presence');
assert.equal(hidden.state, 'unavailable', 'and never gets the document');

for (const repo of [repoA, repoB, repoSun, repoOffline]) repo.shutdown();
console.log(`waiting and presence: ok (B first saw ${states.join(', ')})`);
process.exit(0);

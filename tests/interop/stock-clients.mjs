// Two stock automerge-repo 2.x clients against a running Walkaround server.
// Run by tests/tests/it/interop.rs, which starts the server and sets:
//   WALKAROUND_URL (http://host:port), WALKAROUND_PASSWORD, WALKAROUND_AREAS (JSON).
// Exits non-zero (an assertion error) if anything is off.
import assert from 'node:assert/strict';
import * as A from '@automerge/automerge';
import { Repo } from '@automerge/automerge-repo';
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

async function api(token, path) {
  const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200, path);
  return r.json();
}

function repoFor(token) {
  const url = `${base.replace(/^http/, 'ws')}/sync?token=${token}`;
  return new Repo({ network: [new WebSocketClientAdapter(url)] });
}

async function until(predicate, what, ms = 20000) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await predicate()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const record = (value, by, note) => ({
  value: str(value),
  ...(note ? { note: str(note) } : {}),
  photos: [],
  by: str(by),
  at: new Date(),
});

const [tokenA, tokenB] = await Promise.all([login('wang'), login('wang')]);
const { templates } = await (await fetch(`${base}/api/v1/templates`)).json();
const walkaround = templates.find((t) => t.id === 'workshop-walkaround');

// Client A creates an inspection, following docs/INSPECTION-DOCUMENT.md.
const repoA = repoFor(tokenA);
const handleA = repoA.create({
  schema: str('walkaround/inspection'),
  layout: 1,
  id: str('js-walkaround-1'),
  site: str('demo-site'),
  template: str(JSON.stringify(walkaround)),
  areas: str(areas),
  created_by: str('wang'),
  created_at: new Date(),
  answers: {},
  occupied: {},
});
const id = handleA.documentId;
await until(async () => (await api(tokenA, '/api/v1/documents')).documents.some((d) => d.id === id), 'the server to store the new document');

// Client B finds it by URL.
const repoB = repoFor(tokenB);
const handleB = await repoB.find(handleA.url);
assert.equal(handleB.doc().site.toString(), 'demo-site');

// Both edit concurrently: different items, and the same item differently.
handleA.change((d) => {
  d.answers['c9-masking'] = record('pass', 'wang');
  d.answers['c1-visitors'] = record('pass', 'wang');
});
handleB.change((d) => {
  d.answers['c9-masking'] = record('fail', 'wang', 'newspaper used for masking');
  d.answers['c6-aisles-clear'] = record('fail', 'wang', 'parts in the aisle');
});

const heads = (h) => JSON.stringify(A.getHeads(h.doc()).sort());
await until(
  () => heads(handleA) === heads(handleB) && Object.keys(handleA.doc().answers).length === 3,
  'both clients to converge',
);
const conflicts = A.getConflicts(handleA.doc().answers, 'c9-masking');
assert.equal(Object.keys(conflicts).length, 2, 'the concurrent answers are kept as a conflict');

// The server's projection shows the violations, the conflicting one marked.
await until(async () => {
  const { violations } = await api(tokenA, '/api/v1/violations');
  const mine = violations.filter((v) => v.doc_id === id);
  const masking = mine.find((v) => v.answer_key === 'c9-masking');
  return mine.length === 2 && masking?.conflict === true && mine.some((v) => v.answer_key === 'c6-aisles-clear');
}, 'the violation rows');

// A stock client cannot record an answer under someone else's name.
handleB.change((d) => {
  d.answers['c8-booth-floor'] = record('fail', 'li', 'forged');
});
await new Promise((r) => setTimeout(r, 1500));
assert.equal(handleA.doc().answers['c8-booth-floor'], undefined, 'the forged answer never reaches client A');
const { violations } = await api(tokenA, '/api/v1/violations');
assert.ok(!violations.some((v) => v.answer_key === 'c8-booth-floor'), 'nor the office');

// Counts as a JavaScript developer writes them (issue 17, input 2): automerge-js 3.5 stores
// `0` as an f64 (and 2 or 5 as int); the server takes any whole number as a count, read the
// same as Rust's uint.
const count = (value) => ({ value, photos: [], by: str('wang'), at: new Date() });
handleA.change((d) => { d.answers['c7-oil-filters'] = count(0); });
await until(() => handleB.doc().answers['c7-oil-filters']?.value === 0, 'a count of 0 to reach client B through the server');
await until(async () => {
  const { violations } = await api(tokenA, '/api/v1/violations');
  return violations.some((v) => v.doc_id === id && v.answer_key === 'c6-aisles-clear');
}, 'the projection after the zero count');
let rows = (await api(tokenA, '/api/v1/violations')).violations.filter((v) => v.doc_id === id);
assert.ok(!rows.some((v) => v.answer_key === 'c7-oil-filters'), '0 oil filters is within the limit of 3');
// (From client A: client B's copy holds the refused forged change, which every later change
// of B depends on; docs/PROTOCOL.md says how a client recovers from that.)
handleA.change((d) => { d.answers['c7-oil-filters'] = count(5); });
await until(async () => {
  const stored = (await api(tokenA, '/api/v1/violations')).violations;
  return stored.some((v) => v.doc_id === id && v.answer_key === 'c7-oil-filters');
}, 'a count of 5 to be stored');
rows = (await api(tokenA, '/api/v1/violations')).violations.filter((v) => v.doc_id === id);
assert.ok(rows.some((v) => v.answer_key === 'c7-oil-filters'), '5 oil filters over the limit of 3 are a violation');

repoA.shutdown();
repoB.shutdown();
console.log('interop: 2 stock clients converged; forged change refused; counts 0 and 5 read as counts');
process.exit(0);

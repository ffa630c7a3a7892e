// How long the tablet takes to update the violation list after one answer, for the
// largest template (the walkaround at the demo site: 8 bays, every bay occupied, every
// item answered). Runs the browser bundle in Node (same V8 engine as Chromium).
//   node tests/wasm/bench-violations.mjs [rounds]
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const pkg = process.env.WALKAROUND_WASM_PKG
  ? pathToFileURL(process.env.WALKAROUND_WASM_PKG + '/')
  : new URL('../../target/web/pkg/', import.meta.url);
const wasm = await import(new URL('client_wasm.js', pkg));
wasm.initSync({ module: readFileSync(fileURLToPath(new URL('client_wasm_bg.wasm', pkg))) });

const rounds = Number(process.argv[2] || 500);
const areas = [];
for (let n = 1; n <= 8; n++) areas.push({ id: `bay-${n}`, kind: 'bay', name: { zh: `${n}号工位`, en: `Bay ${n}` } });
for (const r of ['tool-room', 'parts-store', 'paint-mixing', 'paint-booth', 'break-room']) areas.push({ id: r, kind: 'room', name: { zh: r, en: r } });
const walk = wasm.builtinTemplates().find((t) => t.id === 'workshop-walkaround');
const client = new wasm.SyncClient('bench', 'bench');
const id = client.createInspection('demo-site', walk, areas, 'wang');
for (let n = 1; n <= 8; n++) client.setOccupied(id, 'wang', `bay-${n}`, true);
const valueFor = (key) => (key.startsWith('c7-oil-filters') ? { type: 'count', value: 2 } : { type: 'pass' });
for (const key of client.expectedKeys(id)) client.answer(id, 'wang', key, valueFor(key), undefined, []);
console.log(`answered ${client.expectedKeys(id).length} keys`);

const times = [];
for (let i = 0; i < rounds; i++) {
  const started = performance.now();
  client.answer(id, 'wang', 'c2-fender-covers@bay-5', { type: i % 2 ? 'pass' : 'fail' }, 'x', []);
  const violations = client.violations(id);
  times.push(performance.now() - started);
  if (i % 2 === 0 && violations.length !== 1) throw new Error('expected one violation');
}
times.sort((a, b) => a - b);
const p = (q) => times[Math.min(times.length - 1, Math.round((times.length - 1) * q))].toFixed(2);
console.log(`answer + violation list, ${rounds} rounds: p50 ${p(0.5)} ms, p99 ${p(0.99)} ms (target < 16 ms)`);

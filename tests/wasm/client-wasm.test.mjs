// Smoke test of the browser bundle in Node: the same wasm the web app loads, driven
// through its generated JavaScript API. Run by `cargo xtask test` after `cargo xtask wasm`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

// `cargo xtask test` says where it built the bundle (it honours CARGO_TARGET_DIR).
const pkg = process.env.WALKAROUND_WASM_PKG
  ? pathToFileURL(process.env.WALKAROUND_WASM_PKG + '/')
  : new URL('../../target/web/pkg/', import.meta.url);
const wasm = await import(new URL('client_wasm.js', pkg));
wasm.initSync({ module: readFileSync(fileURLToPath(new URL('client_wasm_bg.wasm', pkg))) });

const areas = [
  { id: 'bay-1', kind: 'bay', name: { zh: '1号工位', en: 'Bay 1' } },
  { id: 'bay-2', kind: 'bay', name: { zh: '2号工位', en: 'Bay 2' } },
];

test('the six built-in templates and 29 rules are exposed', () => {
  const templates = wasm.builtinTemplates();
  assert.equal(templates.length, 6);
  assert.equal(templates[0].name.zh, '车间巡检');
  assert.equal(wasm.regulation().length, 29);
});

test('a walkaround answered in wasm yields violations with fines', () => {
  const parts = wasm.builtinTemplates().find((t) => t.id === 'parts-store-audit');
  const doc = wasm.InspectionDoc.create('insp-1', 'site-1', parts, areas, 'yuan');
  doc.answer('yuan', 'd3-unsigned-quotes', { type: 'count', value: 2 }, 'two quotes', []);
  const violations = doc.violations();
  assert.equal(violations.length, 1);
  assert.equal(violations[0].rule, 'D3');
  assert.deepEqual(violations[0].fine, { type: 'yuan', amount: 60 });
  assert.equal(violations[0].evidence[0].by, 'yuan');
});

test('a document survives save and load, and concurrent answers surface as a conflict', () => {
  const walk = wasm.builtinTemplates()[0];
  const a = wasm.InspectionDoc.create('insp-2', 'site-1', walk, areas, 'wang');
  const b = wasm.InspectionDoc.load(a.save());
  a.answer('wang', 'c8-booth-floor', { type: 'pass' }, undefined, []);
  b.answer('zhao', 'c8-booth-floor', { type: 'fail' }, 'rags on the floor', ['ab'.repeat(32)]);
  a.merge(b.save());
  b.merge(a.save());
  assert.deepEqual(a.heads(), b.heads());
  const state = a.state();
  assert.equal(state.answers['c8-booth-floor'].length, 2);
  assert.equal(a.violations()[0].conflict, true);
  assert.ok(a.submissionProblems().includes('c8-booth-floor: conflicting answers, pick one'));
});

test('bad input is a JavaScript error, not a crash', () => {
  const walk = wasm.builtinTemplates()[0];
  const doc = wasm.InspectionDoc.create('insp-3', 'site-1', walk, areas, 'wang');
  assert.throws(() => doc.answer('wang', 'c7-oil-filters', { type: 'pass' }, undefined, []), /does not fit/);
  assert.throws(() => doc.answer('wang', 'no such@key@x', { type: 'pass' }, undefined, []), /item id|area id/);
  assert.throws(() => wasm.InspectionDoc.load(new Uint8Array([1, 2, 3])));
  assert.throws(() => wasm.InspectionDoc.create('bad id', 'site-1', walk, areas, 'wang'), /inspection id/);
  assert.throws(() => wasm.InspectionDoc.create('i', 'site-1', { id: 'x' }, areas, 'wang'), /invalid template/);
  // The document is unchanged by the refused edits.
  assert.equal(Object.keys(doc.state().answers).length, 0);
});

// Bounded sync (issue 18): the office's browser holds no inspection by default and fetches
// one when the office opens it; a manager's tablet still fetches its sites' documents.
// Run by tests/tests/it/e2e.rs (with WALKAROUND_URL, WALKAROUND_PASSWORD and
// WALKAROUND_SCREENSHOTS) against a server seeded with the demo's six weeks of history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { base, launch, password, shots } from './browser.mjs';

mkdirSync(shots, { recursive: true });

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** The documents this browser has stored in IndexedDB, by id. */
const stored = (page) => page.evaluate(() => new Promise((resolve, reject) => {
  const open = indexedDB.open('walkaround');
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const keys = open.result.transaction('docs', 'readonly').objectStore('docs').getAllKeys();
    keys.onsuccess = () => { open.result.close(); resolve(keys.result.map(String)); };
    keys.onerror = () => reject(keys.error);
  };
}));

/** Every document of the user's sites, as discovery lists them. */
async function serverDocuments(username) {
  const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const { access_token } = await login.json();
  const ids = new Set();
  for (let cursor = 0; ;) {
    const body = await (await fetch(`${base}/api/v1/documents?since=${cursor}`, { headers: { authorization: `Bearer ${access_token}` } })).json();
    for (const d of body.documents) ids.add(d.id);
    cursor = body.cursor;
    if (!body.more) return ids;
  }
}

async function logInAs(page, username) {
  await page.goto(base);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=sync-state][data-link=online]', { timeout: 30_000 });
}

test('the office holds no document until it opens one, then exactly that one, read-only', async () => {
  const all = await serverDocuments('office');
  assert.ok(all.size > 100, `the site has history: ${all.size} documents`);
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const started = Date.now();
  await logInAs(page, 'office');
  await page.goto(`${base}/#/office/violations?site=demo-site`);
  await page.waitForSelector('tr[data-key]', { timeout: 30_000 });
  const usable = Date.now() - started;

  // Ten seconds online: discovery has run several times (every 3 s) and fetched nothing.
  await page.waitForTimeout(10_000);
  assert.equal(await page.evaluate(() => window.walkaround.held().length), 0, 'holds no document');
  assert.deepEqual(await page.evaluate(() => window.walkaround.wanted()), [], 'asks for none');
  assert.deepEqual(await stored(page), [], 'stores none');

  // One violation's inspection, opened from its detail, is fetched and shown read-only.
  const row = page.locator('tr[data-key]').first();
  const [id, key] = (await row.getAttribute('data-key')).split('/');
  await row.click();
  const open = page.locator('[data-testid=violation-detail] a[href^="#/inspect/"]');
  assert.equal(await open.getAttribute('href'), `#/inspect/${id}`);
  await open.click();
  await page.waitForSelector(`[data-key="${key}"]`, { timeout: 30_000 });
  await page.waitForSelector('[data-testid=violations] li');
  assert.equal(await page.locator(`[data-key="${key}"] button[data-answer]:not([disabled])`).count(), 0, 'nothing can be answered');
  assert.equal(await page.locator('[data-testid=submit]').count(), 0, 'nothing can be submitted');
  await page.screenshot({ path: `${shots}/office-opened-inspection.png`, fullPage: true });
  await page.waitForFunction(() => window.walkaround.wanted().length === 0, null, { timeout: 15_000 });
  assert.deepEqual(await page.evaluate(() => window.walkaround.held()), [id], 'holds exactly the one opened');
  assert.deepEqual(await stored(page), [id], 'stores exactly the one opened');
  await page.waitForTimeout(4_000);
  assert.deepEqual(await page.evaluate(() => window.walkaround.held()), [id], 'and discovery adds none');
  // An inspection that does not exist says so, instead of "connecting" for ever.
  const missing = `${id.slice(0, -4)}${id.slice(-4) === 'zzzz' ? 'yyyy' : 'zzzz'}`;
  await page.goto(`${base}/#/inspect/${missing}`);
  await page.waitForSelector('[data-testid=unavailable]', { timeout: 15_000 });
  assert.match(await page.locator('[data-testid=unavailable]').innerText(), /找不到这份检查/);
  assert.deepEqual(errors, []);
  console.log(`office: violations usable ${usable} ms after the login; ${all.size} documents on the site, 0 held, 1 after opening`);
  await context.close();
});

test("a manager's tablet still fetches every document of its site", async () => {
  const all = await serverDocuments('wang');
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true, locale: 'zh-CN' });
  const page = await context.newPage();
  await logInAs(page, 'wang');
  // Every listed document is asked for, and they arrive.
  await page.waitForFunction((n) => window.walkaround.held().length + window.walkaround.wanted().length >= n, all.size, { timeout: 60_000, polling: 500 });
  await page.waitForFunction(() => window.walkaround.held().length >= 100, null, { timeout: 60_000, polling: 500 });
  const held = await page.evaluate(() => window.walkaround.held().length);
  console.log(`manager: ${held} of ${all.size} held so far, the rest asked for`);
  await context.close();
});

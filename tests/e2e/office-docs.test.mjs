// Bounded sync (issue 18): the office's browser holds no inspection by default and fetches
// one when the office opens it; a manager's tablet keeps only its window of history
// (unsubmitted, or started in the last 7 days), opens older ones on demand, and drops them
// again once they age out.
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

/** The documents a floor device keeps (`scope=device`): unsubmitted or in its window. */
async function deviceDocuments(username) {
  const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const { access_token } = await login.json();
  const ids = new Set();
  let days;
  for (let cursor = 0; ;) {
    const body = await (await fetch(`${base}/api/v1/documents?since=${cursor}&scope=device`, { headers: { authorization: `Bearer ${access_token}` } })).json();
    for (const d of body.documents) ids.add(d.id);
    cursor = body.cursor;
    days = body.device_days;
    if (!body.more) return { ids, days };
  }
}
const sorted = (ids) => [...ids].sort();

test("a manager's tablet keeps its window of history, lists older inspections from the server, opens one on demand and drops it once it ages out", async () => {
  const all = await serverDocuments('wang');
  const { ids: kept, days } = await deviceDocuments('wang');
  assert.equal(days, 7, 'the default window: today and the 7 days before it');
  assert.ok(kept.size > 5 && kept.size < all.size / 2, `the window is a part of the history: ${kept.size} of ${all.size}`);
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true, locale: 'zh-CN' });
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await logInAs(page, 'wang');
  // Every document of the window arrives, and nothing else.
  await page.waitForFunction((n) => window.walkaround.held().length >= n && window.walkaround.wanted().length === 0, kept.size, { timeout: 60_000, polling: 500 });
  await page.waitForTimeout(4_000);
  assert.deepEqual(sorted(await page.evaluate(() => window.walkaround.held())), sorted(kept), 'holds exactly its window');
  await page.waitForFunction((n) => document.querySelectorAll('[data-doc]').length === n, kept.size, { timeout: 10_000 });

  // Older inspections are listed from the server, a page at a time, newest first.
  await page.locator('[data-testid=older-link]').tap();
  await page.waitForSelector('[data-testid=older] [data-doc]');
  const firstPage = await page.locator('[data-testid=older] [data-doc]').count();
  assert.equal(firstPage, 50, 'a page of 50');
  await page.locator('[data-testid=older-more]').tap();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=older] [data-doc]').length > 50);
  await page.screenshot({ path: `${shots}/tablet-older-inspections.png`, fullPage: false });
  const olderIds = await page.locator('[data-testid=older] [data-doc]').evaluateAll((rows) => rows.map((r) => r.dataset.doc));
  assert.equal(new Set(olderIds).size, olderIds.length, 'no inspection is listed twice across pages');
  const old = olderIds.find((id) => !kept.has(id));
  assert.ok(old, 'the list reaches inspections outside the window');

  // Opened, it is fetched and shown; then kept.
  await page.locator(`[data-testid=older] [data-doc="${old}"]`).tap();
  await page.waitForSelector('[data-testid=violations]', { timeout: 30_000 });
  await page.waitForFunction((id) => window.walkaround.held().includes(id) && window.walkaround.wanted().length === 0, old, { timeout: 15_000 });
  await page.evaluate(() => { location.hash = '#/'; });
  await page.reload();
  await page.waitForSelector('[data-testid=sync-state][data-link=online]', { timeout: 30_000 });
  await page.waitForTimeout(4_000);
  assert.ok(await page.evaluate((id) => window.walkaround.held().includes(id), old), 'an inspection opened today is kept');

  // Opened long ago, it ages out: dropped from memory and from IndexedDB, the window stays.
  await page.evaluate((id) => {
    const opened = JSON.parse(localStorage.getItem('walkaround.opened'));
    opened[id] = Date.now() - 30 * 86_400_000;
    localStorage.setItem('walkaround.opened', JSON.stringify(opened));
  }, old);
  await page.reload();
  await page.waitForSelector('[data-testid=sync-state][data-link=online]', { timeout: 30_000 });
  await page.waitForFunction((id) => !window.walkaround.held().includes(id), old, { timeout: 15_000 });
  assert.ok(!(await stored(page)).includes(old), 'its bytes are deleted');
  assert.deepEqual(sorted(await page.evaluate(() => window.walkaround.held())), sorted(kept), 'the window is kept');
  assert.deepEqual(errors, []);
  console.log(`manager: holds ${kept.size} of the site's ${all.size} documents (window ${days} days)`);
  await context.close();
});

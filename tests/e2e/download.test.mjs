// A new tablet on a site with history, reloaded while it is still fetching its documents,
// ends with every document of its window (issue 20, item 2b; the window is issue 18's
// bounded sync: what is not submitted, or started in the last 7 days). Run by tests/tests/it/e2e.rs
// against a server seeded with the demo's six weeks of history.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { launch } from './browser.mjs';

const base = process.env.WALKAROUND_URL;
const password = process.env.WALKAROUND_PASSWORD;

let browser;
before(async () => {
  browser = await launch();
});
after(async () => { await browser?.close(); });

/** Every document of the user's window, as discovery lists them to a floor device. */
async function serverDocuments(username) {
  const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const { access_token } = await login.json();
  const ids = new Set();
  for (let cursor = 0; ;) {
    const body = await (await fetch(`${base}/api/v1/documents?since=${cursor}&scope=device`, { headers: { authorization: `Bearer ${access_token}` } })).json();
    for (const d of body.documents) ids.add(d.id);
    cursor = body.cursor;
    if (!body.more) return ids;
  }
}

test('a new tablet reloaded mid-download still ends with every document of its window', async () => {
  const all = await serverDocuments('wang');
  assert.ok(all.size > 20, `the window has a week of history: ${all.size} documents`);
  const context = await browser.newContext({ viewport: { width: 820, height: 1180 }, hasTouch: true, locale: 'zh-CN' });
  // The server's frames reach the tablet one every 20 ms, as over a slow shop Wi-Fi, so
  // the download is still running when the app is reloaded.
  await context.routeWebSocket(/\/sync/, (ws) => {
    const server = ws.connectToServer();
    let queue = Promise.resolve();
    server.onMessage((message) => {
      queue = queue.then(() => new Promise((r) => setTimeout(r, 20))).then(() => { try { ws.send(message); } catch { /* closed */ } });
    });
  });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error('page error:', e.message));
  await page.goto(base);
  await page.fill('input[name=username]', 'wang');
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForFunction(() => window.walkaround?.held && window.walkaround.held().length >= 10, null, { timeout: 30000 });
  const heldBefore = await page.evaluate(() => window.walkaround.held().length);
  await page.reload();
  assert.ok(heldBefore < all.size, `reloaded mid-download (${heldBefore} of ${all.size})`);
  await page.waitForFunction((n) => window.walkaround?.held && window.walkaround.held().length >= n, all.size, { timeout: 120000, polling: 500 });
  const held = new Set(await page.evaluate(() => window.walkaround.held()));
  const missing = [...all].filter((id) => !held.has(id));
  assert.deepEqual(missing, [], `held ${held.size} of ${all.size}`);
  // Everything fetched is stored: nothing is left to ask for, and an offline reload shows
  // every document from IndexedDB.
  await page.waitForFunction(() => window.walkaround.wanted().length === 0, null, { timeout: 60000, polling: 500 });
  await context.setOffline(true);
  await page.reload();
  await page.waitForFunction(() => window.walkaround?.held, null, { timeout: 15000 });
  const stored = new Set(await page.evaluate(() => window.walkaround.held()));
  assert.deepEqual([...all].filter((id) => !stored.has(id)), [], `stored ${stored.size} of ${all.size}`);
  console.log(`reloaded holding ${heldBefore} of ${all.size}; afterwards all ${held.size}`);
  await context.close();
});

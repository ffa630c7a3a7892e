// "待同步 N" counts the user's changes the server has not acknowledged, kept across reloads
// (issue 20, item 4): three answers made offline are 3 before and after a reload; once the
// server has them it is 0, and a reload does not make every stored document pending again.
// A photo taken offline counts too until the server has stored it: 0 means the office can
// see it.
// Run by tests/tests/it/e2e.rs with WALKAROUND_URL, WALKAROUND_PASSWORD, WALKAROUND_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { launch, logIn, online, settled, shots, png } from './browser.mjs';

mkdirSync(shots, { recursive: true });

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const TABLET = { viewport: { width: 1024, height: 768 }, hasTouch: true, locale: 'zh-CN' };
const shown = (page) => page.locator('[data-testid=sync-state]').getAttribute('data-pending');

test('pending counts the answers the server lacks, the same after a reload, and 0 once sent', async () => {
  const context = await browser.newContext(TABLET);
  const page = await context.newPage();
  await logIn(page, 'wang');
  await online(page);
  await page.locator('[data-testid=new-walkaround]').tap();
  await page.waitForSelector('[data-key="c8-booth-floor"]');
  await settled(page);
  const held = await page.evaluate(() => window.walkaround.held().length);
  assert.ok(held >= 1);

  await context.setOffline(true);
  await page.waitForSelector('[data-testid=sync-state][data-link=offline]');
  for (const key of ['c8-booth-floor', 'c8-mixing-table', 'c9-masking']) {
    await page.locator(`[data-key="${key}"] button[data-answer=pass]`).tap();
  }
  await page.waitForSelector('[data-testid=sync-state][data-pending="3"]');
  assert.match(await page.locator('[data-testid=sync-state]').innerText(), /3/);
  await page.screenshot({ path: `${shots}/pending-offline.png` });

  await page.reload();
  await page.waitForSelector('[data-testid=sync-state]');
  assert.equal(await shown(page), '3', 'the same three after a reload, offline');

  await context.setOffline(false);
  await settled(page);
  // The bar is drawn once the acknowledged documents are stored, a moment after the count
  // the wasm client keeps reaches 0.
  await page.waitForSelector('[data-testid=sync-state][data-pending="0"]', { timeout: 10_000 });

  // Reloaded online: 0 from the first frame, before the socket is back.
  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector('[data-testid=sync-state]');
  assert.equal(await shown(page), '0', 'nothing pending after a reload once acknowledged');
  await context.setOffline(false);
  await online(page);
  await page.waitForSelector('[data-testid=sync-state][data-pending="0"]', { timeout: 10_000 });
  await context.close();
});

test('a photo taken offline is pending until the server has stored it, across a reload', async () => {
  const context = await browser.newContext(TABLET);
  const page = await context.newPage();
  const uploads = [];
  page.on('response', (r) => { if (r.request().method() === 'POST' && r.url().includes('/api/v1/blobs')) uploads.push(r.status()); });
  await logIn(page, 'wang');
  await online(page);
  await page.locator('[data-testid=new-walkaround]').tap();
  await page.waitForSelector('[data-key] button[data-answer=fail]');
  await settled(page);

  await context.setOffline(true);
  await page.waitForSelector('[data-testid=sync-state][data-link=offline]');
  const key = await page.locator('[data-key]:not([data-key*="@"])').filter({ has: page.locator('button[data-answer=fail]') }).first().getAttribute('data-key');
  await page.locator(`[data-key="${key}"] button[data-answer=fail]`).tap();
  await page.setInputFiles(`[data-testid="photo-${key}"]`, { name: 'p.png', mimeType: 'image/png', buffer: png });
  await page.waitForSelector(`[data-key="${key}"] img[data-sha]`);
  const changes = () => page.evaluate(() => window.walkaround.client.pendingChanges());
  await page.waitForFunction((n) => window.walkaround.state().pending === n, (await changes()) + 1);
  // The bar shows the same count once drawn.
  await page.waitForFunction(() => document.querySelector('[data-testid=sync-state]')?.getAttribute('data-pending') === String(window.walkaround.state().pending));
  const before = await shown(page);

  await page.reload();
  await page.waitForSelector('[data-testid=sync-state]');
  await page.waitForFunction((n) => document.querySelector('[data-testid=sync-state]')?.getAttribute('data-pending') === n, before);
  assert.equal(Number(before), (await changes()) + 1, 'the changes and the photo, after a reload');
  assert.deepEqual(uploads, [], 'nothing sent offline');

  await context.setOffline(false);
  await settled(page);
  assert.deepEqual(uploads, [201], 'pending reaches 0 only once the photo is stored');
  await page.waitForSelector('[data-testid=sync-state][data-pending="0"]', { timeout: 10_000 });
  await context.close();
});

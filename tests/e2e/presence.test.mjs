// Presence on the tablet (issue 17, input 6): two managers with the same inspection open see
// each other and the bay or room each is at, and an entry goes when its tablet leaves the
// screen or closes. Run by tests/tests/it/e2e.rs with WALKAROUND_URL, WALKAROUND_PASSWORD and
// WALKAROUND_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { launch } from './browser.mjs';

const base = process.env.WALKAROUND_URL;
const password = process.env.WALKAROUND_PASSWORD;
const shots = process.env.WALKAROUND_SCREENSHOTS;
mkdirSync(shots, { recursive: true });

let browser;
before(async () => {
  browser = await launch();
});
after(async () => { await browser?.close(); });

/** A logged-in touch tablet. */
async function tablet(username, viewport) {
  const context = await browser.newContext({ viewport, hasTouch: true, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${username}] page error:`, e.message));
  await page.goto(base);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=sync-state][data-link=online]', { timeout: 15000 });
  await page.waitForFunction(() => { const s = window.walkaround.state(); return s.link === 'online' && s.pending === 0; }, null, { timeout: 30000 });
  return { context, page };
}
/** Waits until the presence bar shows `user` with `text` (or, with `gone`, no longer shows `user`); returns the ms it took. */
async function bar(page, user, { text = '', gone = false, timeout = 5000 } = {}) {
  const started = Date.now();
  await page.waitForFunction(([who, words, absent]) => {
    const chip = document.querySelector(`[data-testid=presence] [data-peer="${who}"]`);
    return absent ? !chip || !chip.isConnected : Boolean(chip?.isConnected && chip.textContent.includes(words));
  }, [user, text, gone], { timeout });
  return Date.now() - started;
}
const centre = (page, area) => page.evaluate((a) => document.querySelector(`[data-area="${a}"]`).scrollIntoView({ block: 'center' }), area);

test('two tablets on one closing routine see each other and where, and an entry goes when its tablet leaves', async () => {
  const wang = await tablet('wang', { width: 1024, height: 768 });
  const li = await tablet('li', { width: 820, height: 1180 });
  await wang.page.locator('.card', { has: wang.page.locator('h3', { hasText: '收工检查' }) }).locator('button.primary').tap();
  await wang.page.waitForSelector('[data-area="tool-room"]');
  const id = wang.page.url().split('/inspect/')[1];
  await li.page.waitForFunction((doc) => window.walkaround.held().includes(doc), id, { timeout: 20000 });
  await li.page.goto(`${base}/#/inspect/${id}`);
  await li.page.waitForSelector('[data-area="tool-room"]');

  // wang answers in the tool room; li sees him there (names and area names in zh-CN).
  await centre(wang.page, 'tool-room');
  await wang.page.locator('[data-area="tool-room"] button[data-answer=pass]').first().tap();
  const seen = await bar(li.page, 'wang', { text: '车间经理 王强 · 工具间' });
  await bar(wang.page, 'li', { text: '班组长 李军' });
  console.log(`# li saw wang in the tool room after ${seen} ms`);
  assert.equal(await li.page.locator('[data-testid=presence] [data-peer]').count(), 1, 'only the other tablet, never ourselves');
  assert.equal(await wang.page.locator('[data-testid=presence] [data-peer]').count(), 1);

  // li scrolls the paint booth into view; wang sees it. A presence change redraws only
  // the bar: the screen's elements (and the focus in them) stay.
  await wang.page.evaluate(() => { document.querySelector('[data-area="tool-room"]').dataset.mark = 'kept'; });
  await centre(li.page, 'paint-booth');
  await bar(wang.page, 'li', { text: '班组长 李军 · 烤漆房' });
  assert.equal(await wang.page.evaluate(() => document.querySelector('[data-area="tool-room"]').dataset.mark), 'kept',
    'the inspection screen was not redrawn for presence');
  // In English the area is named in English.
  await wang.page.locator('#bar button', { hasText: 'English' }).click();
  await bar(wang.page, 'li', { text: 'Paint booth' });
  assert.match(await wang.page.locator('[data-testid=presence]').innerText(), /Also here:/);
  await li.page.screenshot({ path: `${shots}/presence.png` });

  // wang goes back to the home screen: li's bar drops him (a goodbye, at once).
  await wang.page.locator('button', { hasText: '← Back' }).tap();
  const left = await bar(li.page, 'wang', { gone: true, timeout: 15000 });
  console.log(`# li's bar dropped wang ${left} ms after he left the screen`);

  // wang opens it again: his heartbeats keep him listed past the time a silent peer is
  // forgotten (15 s); then his tablet loses the network (no goodbye): gone once silent for
  // three heartbeats.
  await wang.page.goto(`${base}/#/inspect/${id}`);
  await bar(li.page, 'wang', { text: '车间经理 王强' });
  await new Promise((r) => setTimeout(r, 17000));
  await bar(li.page, 'wang', { text: '车间经理 王强', timeout: 100 });
  await wang.context.setOffline(true);
  const silent = await bar(li.page, 'wang', { gone: true, timeout: 25000 });
  console.log(`# li's bar dropped wang ${silent} ms after his tablet went offline`);
  assert.ok(silent > 8000, 'dropped by silence, not by a goodbye');

  // Back online and on the screen, then the tablet closes: gone at once (pagehide).
  await wang.context.setOffline(false);
  await wang.page.waitForSelector('[data-testid=sync-state][data-link=online]', { timeout: 30000 });
  await bar(li.page, 'wang', { text: '车间经理 王强', timeout: 10000 });
  await wang.context.close();
  const closed = await bar(li.page, 'wang', { gone: true, timeout: 20000 });
  console.log(`# li's bar dropped wang ${closed} ms after his tablet closed`);
  assert.equal(await li.page.locator('[data-testid=presence]').isHidden(), true);
  await li.context.close();
});

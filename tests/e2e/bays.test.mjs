// Bays on the tablet (issue 20, items 5 and 6), in Debian's Chromium. A bay marked empty
// again keeps the answers of its occupied-only items but they do not count: its violation
// leaves the tablet and the office and comes back when the bay is marked occupied again.
// Two tablets that mark a bay differently offline see the disagreement like an answer
// conflict, with a button to keep either, and it blocks submission until one is kept. Run
// by tests/tests/it/e2e.rs with WALKAROUND_URL, WALKAROUND_PASSWORD and WALKAROUND_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { launch, logIn, settled, press, apiToken, base, shots } from './browser.mjs';

mkdirSync(shots, { recursive: true });

const LANDSCAPE = { viewport: { width: 1024, height: 768 }, hasTouch: true };
const PORTRAIT = { viewport: { width: 820, height: 1180 }, hasTouch: true };
const KEY = 'c2-fender-covers@bay-4';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function tablet(username, options) {
  const context = await browser.newContext({ ...options, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${username}] page error:`, e.message));
  await logIn(page, username);
  await settled(page);
  return { context, page };
}

/** Whether the office's violation list shows the fender covers of bay 4 in `doc`. */
async function officeLists(token, doc) {
  const r = await fetch(`${base}/api/v1/violations?site=demo-site`, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(r.status, 200);
  const { violations } = await r.json();
  return violations.some((v) => v.doc_id === doc && v.answer_key === KEY);
}

/** The tablet's own violations card: whether it lists the fender covers of bay 4. */
const cardLists = (page) => page.locator('[data-testid=violations]').innerText().then((text) => text.includes('叶子板护罩已使用 · 4号工位'));

const occupiedText = (page) => page.locator('[data-testid="occupied-bay-4"]').innerText();

test('a bay marked empty again keeps its answers but its violation leaves the tablet and the office until it is occupied again', async () => {
  const a = await tablet('wang', LANDSCAPE);
  const office = await apiToken('office');
  await press(a.page, '[data-testid=new-walkaround]', true);
  await a.page.waitForSelector('[data-area="bay-4"]');
  const id = a.page.url().split('/inspect/')[1];

  // Bay 4 occupied; the fender covers are not fitted, with a note.
  await press(a.page, '[data-testid="occupied-bay-4"]', true);
  await press(a.page, `[data-key="${KEY}"] button[data-answer=fail]`, true);
  await a.page.fill(`[data-testid="note-${KEY}"]`, '4号工位未使用叶子板护罩');
  await a.page.locator(`[data-testid="note-${KEY}"]`).blur();
  await settled(a.page);
  assert.ok(await officeLists(office, id), 'the office lists the failed covers');
  assert.ok(await cardLists(a.page), 'so does the tablet');

  // Marked empty again: the answer is kept but counts nowhere, and the bay says so.
  await press(a.page, '[data-testid="occupied-bay-4"]', true);
  await a.page.waitForSelector('[data-testid="kept-answers-bay-4"]');
  await settled(a.page);
  assert.equal(await occupiedText(a.page), '空闲');
  assert.equal(await officeLists(office, id), false, 'the office no longer lists it');
  assert.equal(await cardLists(a.page), false, 'nor does the tablet');
  assert.equal(await a.page.locator(`[data-key="${KEY}"]`).count(), 0, 'the empty bay does not ask for covers');
  assert.match(await a.page.locator('[data-testid="kept-answers-bay-4"]').innerText(), /仍保留.*不计入违规/);
  await a.page.evaluate(() => document.querySelector('[data-area="bay-4"]').scrollIntoView({ block: 'center' }));
  await a.page.screenshot({ path: `${shots}/bay-empty-kept-landscape.png` });
  await a.page.setViewportSize(PORTRAIT.viewport);
  await a.page.evaluate(() => document.querySelector('[data-area="bay-4"]').scrollIntoView({ block: 'center' }));
  await a.page.screenshot({ path: `${shots}/bay-empty-kept-portrait.png` });
  await a.page.setViewportSize(LANDSCAPE.viewport);

  // Occupied again: the kept answer, with its note, counts again everywhere.
  await press(a.page, '[data-testid="occupied-bay-4"]', true);
  await a.page.waitForSelector(`[data-key="${KEY}"].failing`);
  await settled(a.page);
  assert.equal(await a.page.locator(`[data-testid="note-${KEY}"]`).inputValue(), '4号工位未使用叶子板护罩');
  assert.equal(await a.page.locator('[data-testid="kept-answers-bay-4"]').count(), 0);
  assert.ok(await officeLists(office, id), 'the office lists it again');
  assert.ok(await cardLists(a.page), 'and so does the tablet');
  await a.context.close();
});

test('two tablets that mark a bay differently offline both show the disagreement, it blocks submission, and keeping one resolves it on both', async () => {
  const a = await tablet('wang', LANDSCAPE);
  const b = await tablet('wang', PORTRAIT);
  await press(a.page, '[data-testid=new-walkaround]', true);
  await a.page.waitForSelector('[data-area="bay-4"]');
  const id = a.page.url().split('/inspect/')[1];
  await settled(a.page);
  await b.page.waitForFunction((doc) => window.walkaround.held().includes(doc), id, { timeout: 20000 });
  await b.page.goto(`${base}/#/inspect/${id}`);
  await b.page.waitForSelector('[data-area="bay-4"]');

  // Both offline: A marks bay 4 occupied; B marks it occupied and then empty again.
  for (const t of [a, b]) {
    await t.context.setOffline(true);
    await t.page.waitForFunction(() => window.walkaround.state().link !== 'online', null, { timeout: 15000 });
  }
  await press(a.page, '[data-testid="occupied-bay-4"]', true);
  await a.page.waitForFunction(() => document.querySelector('[data-testid="occupied-bay-4"]').textContent.includes('有在修车辆'));
  await press(b.page, '[data-testid="occupied-bay-4"]', true);
  await b.page.waitForFunction(() => document.querySelector('[data-testid="occupied-bay-4"]').textContent.includes('有在修车辆'));
  await press(b.page, '[data-testid="occupied-bay-4"]', true);
  await b.page.waitForFunction(() => document.querySelector('[data-testid="occupied-bay-4"]').textContent === '空闲');
  for (const t of [a, b]) await t.context.setOffline(false);
  await settled(a.page);
  await settled(b.page);

  // Both show it like an answer conflict: each record with who and when, and a keep button.
  for (const t of [a, b]) {
    await t.page.waitForSelector('[data-testid="occupancy-conflict-bay-4"]', { timeout: 20000 });
    await t.page.waitForSelector('[data-testid="occupied-bay-4"].conflict');
    const records = await t.page.locator('[data-testid="occupancy-conflict-bay-4"] .row').allInnerTexts();
    assert.equal(records.length, 2, records.join(' | '));
    assert.ok(records.some((r) => r.includes('有在修车辆') && r.includes('王强')), records.join(' | '));
    assert.ok(records.some((r) => r.includes('空闲') && r.includes('王强')), records.join(' | '));
    assert.equal(await t.page.locator('[data-testid="keep-occupied-bay-4"]').count(), 2);
    assert.match(await t.page.locator('body').innerText(), /占用状态 · 4号工位: 标记不一致，请选择/, 'the submit list names it');
    assert.ok(await t.page.locator('[data-testid=submit]').isDisabled());
  }
  await a.page.evaluate(() => document.querySelector('[data-area="bay-4"]').scrollIntoView({ block: 'center' }));
  await a.page.screenshot({ path: `${shots}/bay-occupancy-conflict-landscape.png` });
  await b.page.evaluate(() => document.querySelector('[data-area="bay-4"]').scrollIntoView({ block: 'center' }));
  await b.page.screenshot({ path: `${shots}/bay-occupancy-conflict-portrait.png` });
  // In English, too.
  await b.page.locator('#bar button', { hasText: 'English' }).click();
  await b.page.waitForSelector('text=Occupancy conflict');
  assert.match(await b.page.locator('body').innerText(), /Occupancy · Bay 4: marked differently, pick one/);
  await b.page.evaluate(() => document.querySelector('[data-area="bay-4"]').scrollIntoView({ block: 'center' }));
  await b.page.screenshot({ path: `${shots}/bay-occupancy-conflict-portrait-en.png` });

  // A keeps "empty": both tablets follow, with no conflict and nothing about it left to do.
  await press(a.page, '[data-testid="keep-occupied-bay-4"][data-occupied="false"]', true);
  for (const t of [a, b]) {
    await t.page.waitForFunction(() => !document.querySelector('[data-testid="occupancy-conflict-bay-4"]'), null, { timeout: 20000 });
    await settled(t.page);
    assert.equal(await t.page.locator('[data-testid="occupied-bay-4"].conflict').count(), 0);
    assert.match(await occupiedText(t.page), /空闲|Empty/);
    assert.doesNotMatch(await t.page.locator('body').innerText(), /标记不一致|marked differently/);
  }
  for (const t of [a, b]) await t.context.close();
});

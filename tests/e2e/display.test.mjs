// What the server now records about a tablet's submissions and clock, shown in Chromium
// (issue 17, inputs 3 and 4): a duplicate submission on the inspection screen, and "tablet
// clock ahead by …" in the office's violation detail. Run by tests/tests/it/e2e.rs with
// WALKAROUND_URL, WALKAROUND_PASSWORD and WALKAROUND_SCREENSHOTS.
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

/** A logged-in device; `aheadMs` sets its clock that far ahead of the real one. */
async function device(username, { aheadMs = 0, viewport = { width: 1024, height: 768 } } = {}) {
  const context = await browser.newContext({ viewport, locale: 'zh-CN' });
  if (aheadMs) {
    await context.addInitScript((ms) => {
      const Real = Date;
      const now = () => Real.now() + ms;
      // eslint-disable-next-line no-global-assign
      Date = class extends Real { constructor(...a) { super(...(a.length ? a : [now()])); } static now() { return now(); } };
    }, aheadMs);
  }
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${username}] page error:`, e.message));
  await page.goto(base);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=sync-state][data-link=online]', { timeout: 15000 });
  return { context, page };
}
async function settled(page) {
  await page.waitForFunction(() => { const s = window.walkaround.state(); return s.link === 'online' && s.pending === 0; }, null, { timeout: 20000 });
}
/** Answers every item the inspection asks for with a pass and submits, in the wasm client. */
async function answerAllAndSubmit(page, id, user) {
  await page.evaluate(([doc, who]) => {
    const c = window.walkaround.client;
    for (const key of c.expectedKeys(doc)) c.answer(doc, who, key, { type: 'pass' }, undefined, []);
    c.submit(doc, who);
  }, [id, user]);
}

test('two offline submissions of one closing routine: the later one shows as a duplicate on both tablets', async () => {
  const a = await device('wang');
  const b = await device('li');
  await settled(a.page);
  await a.page.locator('.card', { has: a.page.locator('h3', { hasText: '收工检查' }) }).locator('button.primary').click();
  await a.page.waitForSelector('[data-key="c5-lights"]');
  const id = a.page.url().split('/inspect/')[1];
  await settled(a.page);
  await b.page.waitForFunction((doc) => window.walkaround.held().includes(doc), id, { timeout: 20000 });

  for (const d of [a, b]) await d.context.setOffline(true);
  await answerAllAndSubmit(a.page, id, 'wang');
  await new Promise((r) => setTimeout(r, 50));
  await answerAllAndSubmit(b.page, id, 'li');
  for (const d of [a, b]) await d.context.setOffline(false);
  for (const d of [a, b]) {
    await settled(d.page);
    await d.page.goto(`${base}/#/inspect/${id}`);
    await d.page.waitForFunction((doc) => window.walkaround.client.state(doc).duplicate_submissions.length === 1, id, { timeout: 20000 });
    const chip = d.page.locator('[data-testid=duplicate-submission]');
    await chip.waitFor();
    assert.match(await chip.innerText(), /^另由 班组长 李军 于 .+ 提交（重复）$/);
  }
  await b.page.screenshot({ path: `${shots}/duplicate-submission.png` });
  for (const d of [a, b]) await d.context.close();
});

test('a violation from a tablet whose clock is a day ahead shows "tablet clock ahead by …" in the office', async () => {
  const tablet = await device('wang', { aheadMs: 25.5 * 3600_000 });
  const { page } = tablet;
  await settled(page);
  await page.click('[data-testid=new-walkaround]');
  await page.waitForSelector('[data-key="c8-booth-floor"]');
  const id = page.url().split('/inspect/')[1];
  await page.locator('[data-key="c8-booth-floor"] button[data-answer=fail]').click();
  await settled(page);

  const office = await device('office', { viewport: { width: 1440, height: 900 } });
  await office.page.goto(`${base}/#/office/violations?site=demo-site&rule=C8`);
  await office.page.locator(`tr[data-key="${id}/c8-booth-floor"]`).click();
  const flag = office.page.locator('[data-testid=violation-detail] [data-testid=clock-ahead]');
  await flag.waitFor({ timeout: 15000 });
  assert.match(await flag.innerText(), /^平板时钟快了 1 天 1 小时：/);
  await office.page.screenshot({ path: `${shots}/office-clock-ahead.png` });
  for (const d of [tablet, office]) await d.context.close();
});

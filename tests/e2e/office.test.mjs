// The office's review of a violation (issue 20, items 11 and 15): the detail panel stays
// open after each action, showing what it changed; evidence and the trail name people by
// their names, not their login ids. Run by tests/tests/it/e2e.rs with WALKAROUND_URL,
// WALKAROUND_PASSWORD and WALKAROUND_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { base, launch, logIn, online, settled, shots } from './browser.mjs';

mkdirSync(shots, { recursive: true });

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

test('the detail panel stays open through acknowledge, assign and waive, and names people by name', async () => {
  const t = await browser.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true, locale: 'zh-CN' });
  const tablet = await t.newPage();
  await logIn(tablet, 'wang');
  await online(tablet);
  await tablet.locator('[data-testid=new-walkaround]').tap();
  const key = 'c8-booth-floor';
  await tablet.waitForSelector(`[data-key="${key}"]`);
  const id = tablet.url().split('/inspect/')[1];
  await tablet.locator(`[data-key="${key}"] button[data-answer=fail]`).tap();
  await tablet.locator(`[data-testid="note-${key}"]`).fill('喷漆房地面有废纸');
  await tablet.locator(`[data-testid="note-${key}"]`).blur();
  await settled(tablet);
  await t.close();

  const o = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
  const page = await o.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await logIn(page, 'office');
  await page.goto(`${base}/#/office/violations?site=demo-site&rule=C8`);
  const row = page.locator(`tr[data-key="${id}/${key}"]`);
  await row.click();
  const detail = page.locator('[data-testid=violation-detail]');
  await detail.locator('[data-testid=acknowledge]').waitFor();
  assert.match(await detail.innerText(), /记录人 车间经理 王强/, 'the evidence names who recorded it');

  await detail.locator('[data-testid=acknowledge]').click();
  await page.waitForFunction((k) => document.querySelector(`tr[data-key="${k}"] [data-status]`)?.dataset.status === 'acknowledged', `${id}/${key}`);
  await detail.locator('[data-testid=trail] li').first().waitFor();
  assert.match(await detail.locator('[data-testid=trail]').innerText(), /办公室 刘敏: 待处理 → 已确认/, 'still open, with the step in the trail');

  await detail.locator('[data-testid=assign]').selectOption('li');
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=violation-detail] [data-testid=trail] li').length === 2);
  assert.match(await detail.locator('[data-testid=trail]').innerText(), /→ 班组长 李军/);

  await detail.locator('[data-testid=waive-reason]').fill('首次违规，口头警告');
  await detail.locator('[data-testid=waive]').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-testid=violation-detail] [data-testid=trail] li').length === 3);
  assert.equal(await detail.count(), 1, 'one detail panel, still open');
  assert.match(await detail.locator('[data-testid=trail]').innerText(), /已确认 → 已免罚 · 首次违规，口头警告/);
  await page.screenshot({ path: `${shots}/office-detail-after-actions.png` });

  // Closing it by its row closes it for good.
  await row.click();
  await detail.waitFor({ state: 'detached' });
  assert.deepEqual(errors, []);
  await o.close();
});

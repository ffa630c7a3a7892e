// "待同步 N" counts the user's changes the server has not acknowledged, kept across reloads
// (issue 20, item 4): three answers made offline are 3 before and after a reload; once the
// server has them it is 0, and a reload does not make every stored document pending again.
// Run by tests/tests/e2e.rs with WALKAROUND_URL, WALKAROUND_PASSWORD, WALKAROUND_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { launch, logIn, online, settled, shots } from './browser.mjs';

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
  assert.equal(await shown(page), '0');

  // Reloaded online: 0 from the first frame, before the socket is back.
  await context.setOffline(true);
  await page.reload();
  await page.waitForSelector('[data-testid=sync-state]');
  assert.equal(await shown(page), '0', 'nothing pending after a reload once acknowledged');
  await context.setOffline(false);
  await online(page);
  assert.equal(await shown(page), '0');
  await context.close();
});

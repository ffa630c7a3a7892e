// Recovery from a refused change, in Debian's Chromium (issue 17, input 5). A workshop
// manager's tablet goes offline; meanwhile the office makes him a team lead. Offline he
// answers three items of today's closing routine (a team lead runs it) and starts a
// workshop walkaround (a team lead may not start one). Back online, the server refuses the
// walkaround; the tablet drops it, says which and why in plain words, every closing answer
// reaches the office, and nothing stays pending. Run by tests/tests/it/e2e.rs with
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

async function device(username) {
  const context = await browser.newContext({ viewport: { width: 1024, height: 768 }, hasTouch: true, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${username}] page error:`, e.message));
  await page.goto(base);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=sync-state][data-link=online]', { timeout: 15000 });
  return { context, page };
}
async function settled(page, timeout = 20000) {
  await page.waitForFunction(() => { const s = window.walkaround.state(); return s.link === 'online' && s.pending === 0; }, null, { timeout });
}
async function api(path, token, options = {}) {
  const r = await fetch(`${base}${path}`, { ...options, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` } });
  assert.ok(r.ok, `${path}: ${r.status} ${await r.clone().text()}`);
  return r.json();
}
/** Clicks an answer and waits until the screen shows it taken. */
async function answer(page, key, value) {
  await page.locator(`[data-key="${key}"] button[data-answer=${value}]`).click();
  await page.waitForSelector(`[data-key="${key}"] button[data-answer=${value}].on`);
}

test('a change refused after a demotion offline is dropped and shown; the allowed answers reach the office; nothing stays pending', async () => {
  const login = await (await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'office', password }),
  })).json();
  const office = login.access_token;

  const wang = await device('wang');
  const { page } = wang;
  await settled(page);
  // Today's closing routine, started online: the server has it.
  await page.locator('.card', { has: page.locator('h3', { hasText: '收工检查' }) }).locator('button.primary').click();
  await page.waitForSelector('[data-key="c5-lights"]');
  const closing = page.url().split('/inspect/')[1];
  await settled(page);

  await wang.context.setOffline(true);
  await page.waitForSelector('[data-testid=sync-state][data-link=offline]');
  // The office makes him a team lead while the tablet is offline.
  await api('/api/v1/users/wang', office, { method: 'PATCH', body: JSON.stringify({ role: 'team_lead' }) });

  // Offline: three closing answers (two failing), then a new walkaround with one answer.
  await answer(page, 'c5-lights', 'fail');
  await answer(page, 'c5-fans', 'fail');
  await answer(page, 'c5-equipment', 'pass');
  await page.goto(`${base}/#/`);
  await page.click('[data-testid=new-walkaround]');
  await page.waitForSelector('[data-key="c8-booth-floor"]');
  const walkaround = page.url().split('/inspect/')[1];
  await answer(page, 'c8-booth-floor', 'pass');
  // Pending counts changes: three closing answers, the walkaround's creation and its answer.
  assert.equal((await page.evaluate(() => window.walkaround.state())).pending, 5);

  // Back online: the walkaround is refused, dropped, and said so in plain words.
  const back = Date.now();
  await wang.context.setOffline(false);
  const notice = page.locator('[data-testid=refusals] li[data-code=template_not_for_role]');
  await notice.waitFor({ timeout: 20000 });
  const text = await notice.innerText();
  assert.match(text, /新建的「车间巡检」未被接受：您现在的角色（班组长）不能进行这类检查/);
  assert.match(text, /服务器原话: .*a team lead may not start a workshop-walkaround inspection/);
  await settled(page);
  console.log(`recovered and nothing pending ${Date.now() - back} ms after coming back online`);
  await page.screenshot({ path: `${shots}/recovery-refusal.png` });
  const state = await page.evaluate(() => ({ held: window.walkaround.held(), pending: window.walkaround.state().pending }));
  assert.equal(state.pending, 0);
  assert.ok(!state.held.includes(walkaround), 'the refused walkaround is gone from the tablet');
  assert.ok(state.held.includes(closing));
  // The tablet now knows the user's role: no walkaround to start.
  assert.equal(await page.locator('[data-testid=new-walkaround]').count(), 0);
  // The notice stays until dismissed, in English too.
  await page.locator('button', { hasText: 'English' }).click();
  assert.match(await notice.innerText(), /The new “Workshop walkaround” was not accepted: your role now \(Team lead\) may not run this kind of inspection/);
  await page.click('[data-testid=refusals-dismiss]');
  assert.equal(await page.locator('[data-testid=refusals]').count(), 0);

  // The office has every closing answer: the two failures as violations, and the whole
  // document as another team lead's tablet receives it.
  const listed = await api('/api/v1/violations?site=demo-site', office);
  const keys = listed.violations.filter((v) => v.doc_id === closing).map((v) => v.answer_key).sort();
  assert.deepEqual(keys, ['c5-fans', 'c5-lights']);
  assert.ok(!listed.violations.some((v) => v.doc_id === walkaround));
  const li = await device('li');
  await li.page.waitForFunction((id) => window.walkaround.held().includes(id), closing, { timeout: 20000 });
  const answers = await li.page.evaluate((id) => Object.fromEntries(Object.entries(window.walkaround.client.state(id).answers)
    .map(([k, rs]) => [k, rs.map((r) => `${r.value.type} ${r.by}`)])), closing);
  assert.deepEqual(answers, { 'c5-equipment': ['pass wang'], 'c5-fans': ['fail wang'], 'c5-lights': ['fail wang'] });
  for (const d of [wang, li]) await d.context.close();
});

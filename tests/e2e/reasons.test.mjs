// The server's refusals in the user's language (issue 20, item 10): the office waives
// without a reason, adds a user who exists and saves a template with a field of the wrong
// type, in Chinese and once in English; each shows the sentence of the server's `reason`,
// naming the field, never the server's English message. Run by tests/tests/it/e2e.rs with
// WALKAROUND_URL, WALKAROUND_PASSWORD and WALKAROUND_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { base, launch, logIn, online, settled, shots } from './browser.mjs';

mkdirSync(shots, { recursive: true });

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

/** The English messages the server sends with these refusals, which must never show. */
const ENGLISH = [/needs a reason/, /already exists/, /invalid type/, /expected/, /found '/];

async function noEnglish(page, where) {
  const text = await page.locator('#app').innerText();
  for (const english of ENGLISH) assert.doesNotMatch(text, english, `${where}: ${english}`);
}

/** Adds a user `wang` (who exists) on the users screen and returns what it says. */
async function addExistingUser(page) {
  await page.goto(`${base}/#/office/users`);
  const form = page.locator('form.card');
  await form.locator('input[name=username]').fill('wang');
  await form.locator('input[name=password]').fill('long enough');
  await form.locator('input[name=sites][value=demo-site]').check();
  await form.locator('button[type=submit]').click();
  const problems = page.locator('[data-testid=user-problems]');
  await problems.waitFor();
  return problems.innerText();
}

test('refusals are said in the language of the screen, naming the field', async () => {
  // A violation to review: the manager fails the paint-booth floor on his tablet.
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

  // Waive without a reason.
  await page.goto(`${base}/#/office/violations?site=demo-site&rule=C8`);
  await page.locator(`tr[data-key="${id}/${key}"]`).click();
  const detail = page.locator('[data-testid=violation-detail]');
  await detail.locator('[data-testid=waive]').click();
  await page.waitForFunction(() => document.querySelector('#toast.show')?.textContent.includes('免罚需要填写原因'));
  assert.equal(await page.locator('#toast').innerText(), '免罚需要填写原因。');
  await page.waitForTimeout(400); // the toast fades in
  await page.screenshot({ path: `${shots}/reason-waive-zh.png` });

  // A user who exists.
  assert.equal(await addExistingUser(page), '用户 wang 已存在。');
  await noEnglish(page, 'users');
  await page.screenshot({ path: `${shots}/reason-user-exists-zh.png` });

  // A template whose first item's rule is a number: the field is named.
  await page.goto(`${base}/#/office/templates?id=workshop-walkaround`);
  const editor = page.locator('[data-testid=template-json]');
  await editor.waitFor();
  const template = JSON.parse(await editor.inputValue());
  template.items[0].rule = 5;
  await editor.fill(JSON.stringify(template, null, 2));
  await page.locator('[data-testid=save-template]').click();
  const problem = page.locator('[data-testid=template-problems] li[data-field="items[0].rule"]');
  await problem.waitFor();
  assert.equal(await problem.innerText(), '「items[0].rule」的类型不对。');
  await noEnglish(page, 'templates');
  await page.locator('[data-testid=template-problems]').scrollIntoViewIfNeeded();
  await page.screenshot({ path: `${shots}/reason-template-field-zh.png` });

  // The same refusal in English.
  await page.evaluate(() => localStorage.setItem('walkaround.lang', 'en'));
  await page.reload();
  await page.waitForSelector('[data-testid=sync-state]');
  assert.equal(await addExistingUser(page), 'A user wang already exists.');
  await page.screenshot({ path: `${shots}/reason-user-exists-en.png` });

  assert.deepEqual(errors, []);
  await o.close();
});

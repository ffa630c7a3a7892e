// The tablet's home screen and header (issue 20, items 8 and 13): every ad-hoc template the
// user's role runs can be started, including one the office added; the header shows no
// "null" for what is absent, logged in or not, in both languages.
// Run by tests/tests/it/e2e.rs with WALKAROUND_URL, WALKAROUND_PASSWORD, WALKAROUND_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { base, launch, logIn, online, password, png, shots } from './browser.mjs';

mkdirSync(shots, { recursive: true });

let browser;
before(async () => {
  browser = await launch();
});
after(async () => { await browser?.close(); });

const TABLET = { viewport: { width: 1024, height: 768 }, hasTouch: true, locale: 'zh-CN' };

async function token(username) {
  const r = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  return (await r.json()).access_token;
}

test('the header shows nothing absent as "null", before and after login, in both languages', async () => {
  const context = await browser.newContext(TABLET);
  const page = await context.newPage();
  await page.goto(base);
  await page.waitForSelector('input[name=username]');
  assert.doesNotMatch(await page.locator('#bar').innerText(), /null|undefined/);
  await page.locator('#bar button').first().tap();
  assert.doesNotMatch(await page.locator('#bar').innerText(), /null|undefined/);
  assert.match(await page.locator('#bar').innerText(), /中文|English|语言|Language/);
  await page.screenshot({ path: `${shots}/login-bar.png` });
  await logIn(page, 'wang');
  await online(page);
  assert.doesNotMatch(await page.locator('#bar').innerText(), /null|undefined/);
  await context.close();
});

test('an ad-hoc template the office adds can be started on the tablet of a role that runs it', async () => {
  const office = await token('office');
  const { templates } = await (await fetch(`${base}/api/v1/templates`, { headers: { authorization: `Bearer ${office}` } })).json();
  const walk = templates.find((t) => t.id === 'workshop-walkaround');
  assert.ok(walk, 'the walkaround is a template');
  const spot = structuredClone(walk);
  spot.id = 'bay-spot-check';
  spot.name = Object.fromEntries(Object.keys(walk.name).map((k) => [k, k.startsWith('zh') ? '工位抽查' : 'Bay spot check']));
  spot.items = walk.items.filter((i) => i.repeat === 'per_bay').slice(0, 1);
  const put = await fetch(`${base}/api/v1/templates/bay-spot-check`, {
    method: 'PUT', headers: { authorization: `Bearer ${office}`, 'content-type': 'application/json' }, body: JSON.stringify(spot),
  });
  assert.equal(put.status, 200, await put.text());

  const context = await browser.newContext(TABLET);
  const page = await context.newPage();
  await logIn(page, 'wang');
  await online(page);
  await page.waitForSelector('[data-testid=new-walkaround]', { timeout: 15000 });
  const start = page.locator('[data-testid=new-bay-spot-check]');
  await start.waitFor({ timeout: 15000 });
  assert.match(await start.innerText(), /工位抽查/);
  await page.screenshot({ path: `${shots}/home-ad-hoc.png` });
  await start.tap();
  await page.waitForURL(/#\/inspect\//, { timeout: 15000 });
  await page.waitForSelector('[data-area] [data-key]', { timeout: 15000 });
  const keys = await page.locator('[data-key]').evaluateAll((cards) => cards.map((c) => c.dataset.key));
  assert.ok(keys.length > 0 && keys.every((k) => k.startsWith(`${spot.items[0].id}@`)), `the spot check asks its own item: ${keys}`);
  assert.match(await page.locator('h2').first().innerText(), /工位抽查/);
  await context.close();
});

test('the office sees a walkaround read-only: it reviews, it does not answer', async () => {
  const manager = await browser.newContext(TABLET);
  const tablet = await manager.newPage();
  await logIn(tablet, 'wang');
  await online(tablet);
  await tablet.locator('[data-testid=new-walkaround]').tap();
  await tablet.waitForSelector('[data-key="c8-booth-floor"]');
  const id = tablet.url().split('/inspect/')[1];
  await tablet.locator('[data-key="c8-booth-floor"] button[data-answer=fail]').tap();
  await tablet.waitForFunction(() => { const s = window.walkaround.state(); return s.link === 'online' && s.pending === 0; }, null, { timeout: 20000 });
  // The manager answers: nothing on the screen is locked.
  assert.equal(await tablet.locator('[data-testid=read-only]').count(), 0);
  assert.equal(await tablet.locator('button[data-answer]:disabled').count(), 0);

  const desk = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
  const office = await desk.newPage();
  await logIn(office, 'office');
  await online(office);
  await office.goto(`${base}/#/inspect/${id}`);
  await office.waitForSelector('[data-testid=read-only]', { timeout: 20000 });
  const buttons = office.locator('button[data-answer]');
  assert.ok(await buttons.count() > 0);
  assert.equal(await office.locator('button[data-answer]:not(:disabled)').count(), 0, 'every answer button is disabled');
  assert.equal(await office.locator('[data-testid^=occupied-]:not(:disabled)').count(), 0, 'bays cannot be marked');
  assert.equal(await office.locator('[data-testid=submit]').count(), 0, 'nothing to submit');
  await office.screenshot({ path: `${shots}/office-read-only.png` });
  await manager.close();
  await desk.close();
});

test('a note typed and then a photo taken straight away are both kept', async () => {
  const context = await browser.newContext(TABLET);
  const page = await context.newPage();
  await logIn(page, 'wang');
  await online(page);
  await page.locator('[data-testid=new-walkaround]').tap();
  const key = 'c8-booth-floor';
  await page.waitForSelector(`[data-key="${key}"]`);
  const id = page.url().split('/inspect/')[1];
  await page.locator(`[data-key="${key}"] button[data-answer=fail]`).tap();
  await page.locator(`[data-testid="note-${key}"]`).tap();
  await page.keyboard.type('地面有报纸');
  await page.waitForTimeout(500);
  // Straight to the camera: leaving the note saves it and redraws the screen while the
  // camera is open; the photo then arrives at the input the user tapped.
  const chooser = page.waitForEvent('filechooser');
  await page.locator(`[data-key="${key}"] label.photo-button`).tap();
  const picked = await chooser;
  await page.waitForTimeout(2500);
  await picked.setFiles({ name: 'floor.png', mimeType: 'image/png', buffer: png });
  await page.waitForSelector(`[data-key="${key}"] img`);
  assert.equal(await page.locator(`[data-testid="note-${key}"]`).inputValue(), '地面有报纸');
  await page.waitForFunction(() => { const s = window.walkaround.state(); return s.link === 'online' && s.pending === 0; }, null, { timeout: 20000 });
  const office = await token('office');
  const { violations } = await (await fetch(`${base}/api/v1/violations?site=demo-site`, { headers: { authorization: `Bearer ${office}` } })).json();
  const row = violations.find((v) => v.doc_id === id && v.answer_key === key);
  assert.ok(row, 'the failed item reached the office');
  assert.equal(row.evidence[0].note, '地面有报纸', 'the note is kept');
  assert.equal(row.evidence[0].photos.length, 1, 'and the photo');
  await context.close();
});

test("a routine done on a tablet whose clock is a day ahead is not tomorrow's on the home screen", async () => {
  const office = await token('office');
  const put = await fetch(`${base}/api/v1/routines?site=demo-site`, {
    method: 'PUT', headers: { authorization: `Bearer ${office}`, 'content-type': 'application/json' },
    body: JSON.stringify({ schedule: [{ template_id: 'closing-routine', weekday: null, due_minute: 1439 }] }),
  });
  assert.equal(put.status, 200, await put.text());
  const DAY = 24 * 3600 * 1000;
  // A tablet whose clock runs a day ahead: every Date in the page (and in the wasm, through
  // js-sys) is shifted.
  const ahead = async () => {
    const context = await browser.newContext(TABLET);
    await context.addInitScript((shift) => {
      const Real = Date;
      class Shifted extends Real {
        constructor(...args) { super(...(args.length ? args : [Real.now() + shift])); }
        static now() { return Real.now() + shift; }
      }
      window.Date = Shifted;
    }, DAY);
    const page = await context.newPage();
    await logIn(page, 'li');
    await online(page);
    return { context, page };
  };
  const a = await ahead();
  const card = (page) => page.locator('.card').filter({ hasText: '收工检查' }).first();
  await card(a.page).getByRole('button').first().tap();
  await a.page.waitForURL(/#\/inspect\//);
  const id = a.page.url().split('/inspect/')[1];
  await a.page.waitForSelector('[data-key] button[data-answer=pass]');
  for (const key of await a.page.locator('[data-key]').evaluateAll((cards) => cards.map((c) => c.dataset.key))) {
    await a.page.locator(`[data-key="${key}"] button[data-answer=pass]`).tap();
  }
  await a.page.locator('[data-testid=submit]').tap();
  await a.page.locator('[data-testid=confirm-submit]').tap();
  await a.page.waitForSelector('[data-testid=submit-card]', { state: 'detached' });
  await a.page.waitForFunction(() => { const s = window.walkaround.state(); return s.link === 'online' && s.pending === 0; }, null, { timeout: 20000 });
  await a.context.close();

  // "Tomorrow" (by that clock) on a tablet: the server counted the routine for today, so
  // tomorrow's closing routine is still to be started.
  const b = await ahead();
  await b.page.waitForFunction((doc) => window.walkaround?.held && window.walkaround.held().includes(doc), id, { timeout: 30000 });
  await b.page.waitForFunction(() => [...document.querySelectorAll('.card')]
    .some((c) => c.textContent.includes('收工检查') && c.querySelector('button.primary')), null, { timeout: 20000 });
  await b.page.screenshot({ path: `${shots}/home-clock-ahead.png` });
  await b.context.close();
});

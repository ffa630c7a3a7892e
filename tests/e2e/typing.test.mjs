// Nothing a user types is lost (issue 18, "nothing typed is lost"; issue 20, item 3): a note
// typed character by character on tablet A while tablet B answers other items of the same
// inspection every 200 ms keeps every character, its focus and its caret, and is saved as
// it is typed, without leaving the field; a note typed and the app closed straight away is
// there when the app opens again. Run by tests/tests/it/e2e.rs with WALKAROUND_URL,
// WALKAROUND_PASSWORD and WALKAROUND_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { base, launch, logIn, online, settled, shots } from './browser.mjs';

mkdirSync(shots, { recursive: true });

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const LANDSCAPE = { viewport: { width: 1024, height: 768 }, hasTouch: true, locale: 'zh-CN' };
const PORTRAIT = { viewport: { width: 820, height: 1180 }, hasTouch: true, locale: 'zh-CN' };

async function tablet(username, options) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.errors = [];
  page.on('pageerror', (e) => page.errors.push(e.message));
  await logIn(page, username);
  await online(page);
  await settled(page);
  return { context, page };
}
/** The note stored on this tablet for `key` of inspection `id` (what a sync would send). */
const storedNote = (page, id, key) => page.evaluate(([doc, k]) => {
  const records = window.walkaround.client.state(doc).answers[k] || [];
  return records.length === 1 ? records[0].note ?? '' : null;
}, [id, key]);

test('a note typed on A while B answers the same inspection every 200 ms keeps every character, the focus and the caret', async () => {
  const a = await tablet('wang', LANDSCAPE);
  const b = await tablet('wang', PORTRAIT);
  await a.page.locator('[data-testid=new-walkaround]').tap();
  await a.page.waitForSelector('[data-key="c8-booth-floor"]');
  const id = a.page.url().split('/inspect/')[1];
  const key = 'c8-booth-floor';
  await a.page.locator(`[data-key="${key}"] button[data-answer=fail]`).tap();
  await settled(a.page);

  await b.page.goto(`${base}/#/inspect/${id}`);
  await b.page.waitForSelector(`[data-key="${key}"].failing`, { timeout: 15_000 });
  // B's items to answer: every pass/fail item but the one A writes a note on.
  const others = await b.page.locator('[data-key]').evaluateAll((cards, mine) => cards
    .filter((c) => c.dataset.key !== mine && c.querySelector('button[data-answer=pass]'))
    .map((c) => c.dataset.key), key);
  assert.ok(others.length >= 10, `B has items to answer: ${others.length}`);

  const note = `C8 喷漆房地面有报纸和胶带，需立即清理 — checked by wang at bay 4`;
  const field = a.page.locator(`[data-testid="note-${key}"]`);
  await field.tap();
  let answering = true;
  let answered = 0;
  const bAnswers = (async () => {
    for (const other of others) {
      if (!answering) break;
      await b.page.locator(`[data-key="${other}"] button[data-answer=pass]`).click();
      answered += 1;
      await b.page.waitForTimeout(200);
    }
  })();
  // Every character, with the focus checked after each one.
  const lostFocusAt = [];
  for (const [i, ch] of [...note].entries()) {
    await a.page.keyboard.type(ch);
    await a.page.waitForTimeout(60);
    const focused = await a.page.evaluate((k) => document.activeElement?.dataset?.testid === `note-${k}`, key);
    if (!focused) lostFocusAt.push(i);
  }
  answering = false;
  await bAnswers;
  assert.ok(answered >= 10, `B answered while A typed: ${answered}`);
  assert.deepEqual(lostFocusAt, [], 'the note field kept the focus after every character');
  assert.equal(await field.inputValue(), note, 'every character is in the field');
  const caret = await field.evaluate((el) => [el.selectionStart, el.selectionEnd, el.value.length]);
  assert.deepEqual(caret, [note.length, note.length, note.length], 'the caret stayed at the end of the text');
  await a.page.screenshot({ path: `${shots}/typing-while-b-answers.png` });

  // Saved as typed: stored on A without leaving the field, and it reaches B.
  await a.page.waitForFunction(([doc, k, text]) => {
    const records = window.walkaround.client.state(doc).answers[k] || [];
    return records.length === 1 && records[0].note === text;
  }, [id, key, note], { timeout: 5000 });
  assert.equal(await a.page.evaluate((k) => document.activeElement?.dataset?.testid === `note-${k}`, key), true, 'still typing');
  // The rest of A's screen follows B while A is still in the field (keyed, incremental
  // redraws): B's answers show on A before A leaves it, and the focus stays.
  const shownWhileTyping = others.slice(0, answered);
  await a.page.waitForFunction((keys) => keys.every((k) => document.querySelector(`[data-key="${k}"] button[data-answer=pass].on`)), shownWhileTyping, { timeout: 15_000 });
  assert.equal(await a.page.evaluate((k) => document.activeElement?.dataset?.testid === `note-${k}`, key), true, "still in the field after B's answers were drawn");
  await b.page.waitForFunction(([doc, k, text]) => {
    const records = window.walkaround.client.state(doc).answers[k] || [];
    return records.length === 1 && records[0].note === text;
  }, [id, key, note], { timeout: 15_000 });

  // Leaving the field changes nothing of it; the note is kept as typed.
  await a.page.locator('h2').first().tap();
  const passed = others.slice(0, answered);
  await a.page.waitForFunction((keys) => keys.every((k) => document.querySelector(`[data-key="${k}"] button[data-answer=pass].on`)), passed, { timeout: 15_000 });
  assert.equal(await field.inputValue(), note);
  assert.deepEqual(a.page.errors, [], 'no script errors on A');
  assert.deepEqual(b.page.errors, [], 'no script errors on B');
  await a.context.close();
  await b.context.close();
});

test("a note keeps its focus and every character while another tablet's change draws new items before it", async () => {
  const a = await tablet('wang', LANDSCAPE);
  const b = await tablet('wang', PORTRAIT);
  await a.page.locator('[data-testid=new-walkaround]').tap();
  const bay = 'bay-1';
  const key = `c6-bay-clear@${bay}`;
  await a.page.waitForSelector(`[data-key="${key}"]`);
  const id = a.page.url().split('/inspect/')[1];
  await a.page.locator(`[data-key="${key}"] button[data-answer=fail]`).tap();
  await settled(a.page);
  await b.page.goto(`${base}/#/inspect/${id}`);
  await b.page.waitForSelector(`[data-key="${key}"].failing`, { timeout: 15_000 });

  const note = '工位堆放拆车件，已通知班组长整改';
  await a.page.locator(`[data-testid="note-${key}"]`).tap();
  const lostFocusAt = [];
  let toggles = 0;
  for (const [i, ch] of [...note].entries()) {
    // Every fourth character B marks the bay occupied or empty: its occupied-only items
    // (seat and fender covers) are drawn on A before the card being typed into, or taken away.
    if (i % 4 === 0) {
      await b.page.locator(`[data-testid="occupied-${bay}"]`).click();
      toggles += 1;
    }
    await a.page.keyboard.type(ch);
    await a.page.waitForTimeout(120);
    const focused = await a.page.evaluate((k) => document.activeElement?.dataset?.testid === `note-${k}`, key);
    if (!focused) lostFocusAt.push(i);
  }
  // B's marks reached A while A typed: the covers are drawn on A, or taken away, as B left them.
  const occupiedOnB = (toggles % 2) === 1;
  await a.page.waitForFunction(([k, on]) => Boolean(document.querySelector(`[data-key="c2-fender-covers@${k}"]`)) === on, [bay, occupiedOnB], { timeout: 15_000 });
  assert.deepEqual(lostFocusAt, [], 'the note kept the focus after every character');
  const field = a.page.locator(`[data-testid="note-${key}"]`);
  assert.equal(await field.inputValue(), note, 'every character is in the field');
  const caret = await field.evaluate((el) => [el.selectionStart, el.selectionEnd]);
  assert.deepEqual(caret, [note.length, note.length], 'the caret stayed at the end');
  await b.page.waitForFunction(([doc, k, text]) => {
    const records = window.walkaround.client.state(doc).answers[k] || [];
    return records.length === 1 && records[0].note === text;
  }, [id, key, note], { timeout: 15_000 });
  assert.deepEqual(a.page.errors, [], 'no script errors on A');
  assert.deepEqual(b.page.errors, [], 'no script errors on B');
  await a.context.close();
  await b.context.close();
});

test('a note typed and the app closed at once, offline, is there when the app opens again', async () => {
  const a = await tablet('wang', LANDSCAPE);
  await a.page.locator('[data-testid=new-walkaround]').tap();
  const key = 'c8-booth-floor';
  await a.page.waitForSelector(`[data-key="${key}"]`);
  const id = a.page.url().split('/inspect/')[1];
  await a.page.locator(`[data-key="${key}"] button[data-answer=fail]`).tap();
  await settled(a.page);
  await a.context.setOffline(true);
  const note = '报纸未清理';
  await a.page.locator(`[data-testid="note-${key}"]`).tap();
  await a.page.keyboard.type(note);
  // Closed (reloaded) before the field is left and before the save's debounce ends.
  await a.page.reload();
  await a.page.waitForSelector(`[data-testid="note-${key}"]`, { timeout: 15_000 });
  assert.equal(await a.page.locator(`[data-testid="note-${key}"]`).inputValue(), note);
  assert.equal(await storedNote(a.page, id, key), note);
  await a.context.setOffline(false);
  await settled(a.page);
  assert.deepEqual(a.page.errors, [], 'no script errors');
  await a.context.close();
});

test("the office's waive reason and template editor keep every character, the focus and the caret while a tablet answers", async () => {
  const b = await tablet('wang', PORTRAIT);
  await b.page.locator('[data-testid=new-walkaround]').tap();
  await b.page.waitForSelector('[data-key="c8-booth-floor"]');
  await b.page.locator('[data-key="c8-booth-floor"] button[data-answer=fail]').tap();
  await b.page.locator('[data-testid="note-c8-booth-floor"]').fill('地面有报纸');
  await b.page.locator('[data-testid="note-c8-booth-floor"]').blur();
  await settled(b.page);
  const id = b.page.url().split('/inspect/')[1];
  const others = await b.page.locator('[data-key]').evaluateAll((cards) => cards
    .filter((c) => c.querySelector('button[data-answer=pass]') && c.dataset.key !== 'c8-booth-floor').map((c) => c.dataset.key));

  const o = await browser.newContext({ viewport: { width: 1440, height: 900 }, locale: 'zh-CN' });
  const page = await o.newPage();
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await logIn(page, 'office');
  await page.goto(`${base}/#/office/violations?site=demo-site&rule=C8`);
  await page.locator(`tr[data-key="${id}/c8-booth-floor"]`).click();

  /** Types `text` into `selector` one character at a time while B answers every 200 ms. */
  async function typeWhileBAnswers(selector, text, from) {
    let answering = true;
    const answers = (async () => {
      for (const key of others.slice(from)) {
        if (!answering) break;
        await b.page.locator(`[data-key="${key}"] button[data-answer=pass]`).click();
        await b.page.waitForTimeout(200);
      }
    })();
    const lost = [];
    for (const [i, ch] of [...text].entries()) {
      await page.keyboard.type(ch);
      await page.waitForTimeout(40);
      if (!(await page.evaluate((sel) => document.activeElement === document.querySelector(sel), selector))) lost.push(i);
    }
    answering = false;
    await answers;
    return lost;
  }

  const reason = page.locator('[data-testid=violation-detail] [data-testid=waive-reason]');
  await reason.click();
  const words = '首次违规，口头警告；已当场整改 — waived by office';
  assert.deepEqual(await typeWhileBAnswers('[data-testid=violation-detail] [data-testid=waive-reason]', words, 0), [], 'the reason kept the focus');
  assert.equal(await reason.inputValue(), words);
  assert.deepEqual(await reason.evaluate((el) => [el.selectionStart, el.value.length]), [words.length, words.length], 'the caret stayed at the end');

  await page.goto(`${base}/#/office/templates`);
  const editor = page.locator('[data-testid=template-json]');
  await editor.waitFor();
  await editor.click();
  await page.keyboard.press('Control+Home');
  const added = '{"_comment": "夜班也要检查", ';
  // The editor's text starts with "{": what is typed goes in front of it.
  assert.deepEqual(await typeWhileBAnswers('[data-testid=template-json]', added, 8), [], 'the editor kept the focus');
  assert.ok((await editor.inputValue()).startsWith(added), 'every character, in place');
  assert.equal(await editor.evaluate((el) => el.selectionStart), added.length, 'the caret stayed where the typing was');
  assert.deepEqual(errors, []);
  await o.close();
  await b.context.close();
});

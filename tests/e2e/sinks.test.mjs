// Every HTML sink holds text (issue 16): markup that would run script is written into every
// free-text field a user can fill — a failed answer's note, a text answer, display names,
// a waiver's reason, a template's name and item texts (saved as a new version in the
// office) — and every screen that shows them is opened, on a tablet and in the office. Any
// dialog, `window.__xss` set, or element made from the markup (an inline script, an `on…`
// attribute, a `javascript:` link, `<img src=x>`) fails the test; the markup must be on the
// screen as text. The pages run with the CSP bypassed, so a sink would show even though the
// policy would block its script. Run by tests/tests/it/browser_security.rs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  base, launch, newPage, logIn, online, settled, press, shots, SIZES, apiToken,
} from './browser.mjs';

const PAYLOADS = [
  '<img src=x onerror=window.__xss=1>',
  '<script>window.__xss=1</script>',
  '"><svg onload=window.__xss=1>',
  'javascript:window.__xss=1',
];
const P = PAYLOADS.join(' ');

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

async function open(options) {
  const { context, page } = await newPage(browser, { ...options, bypassCSP: true });
  page.dialogs = [];
  page.on('dialog', (d) => { page.dialogs.push(d.message()); d.dismiss().catch(() => {}); });
  return { context, page };
}

/** Fails if any payload ran or became markup on `page`; checks it shows as text where expected. */
async function assertInert(page, where, { shown = true } = {}) {
  await page.waitForTimeout(300);
  const found = await page.evaluate((payload) => {
    const bad = [];
    if (window.__xss) bad.push('window.__xss was set');
    for (const el of document.querySelectorAll('*')) {
      for (const a of el.attributes) {
        if (/^on/i.test(a.name)) bad.push(`<${el.localName} ${a.name}="${a.value}">`);
        if (['href', 'src', 'action', 'formaction', 'xlink:href'].includes(a.name) && /^\s*javascript:/i.test(a.value)) bad.push(`<${el.localName} ${a.name}="${a.value}">`);
      }
      if (el.localName === 'script' && !el.getAttribute('src')) bad.push(`inline <script>${el.textContent}`);
      if (el.localName === 'img' && el.getAttribute('src') === 'x') bad.push('<img src=x>');
    }
    const text = [document.body.innerText,
      ...[...document.querySelectorAll('input, textarea')].map((e) => e.value),
      ...[...document.querySelectorAll('option')].map((o) => o.textContent)].join('\n');
    return { bad, shown: text.includes(payload) };
  }, PAYLOADS[0]);
  assert.deepEqual(found.bad, [], `markup made elements on ${where}`);
  assert.deepEqual(page.dialogs, [], `a dialog opened on ${where}`);
  if (shown) assert.ok(found.shown, `the text is shown as text on ${where}`);
  await page.screenshot({ path: `${shots}/sinks-${where.replace(/\W+/g, '-')}.png` });
}

/** Opens a violation's detail row (a click on an open one closes it; the list may be redrawn). */
async function openDetail(page, row) {
  for (let attempt = 0; ; attempt++) {
    await page.waitForSelector(row, { timeout: 15_000 });
    await page.click(row);
    try {
      await page.waitForSelector(`${row} + tr[data-testid=violation-detail] h4`, { timeout: 5000 });
      return;
    } catch (e) {
      if (attempt === 4) throw e;
    }
  }
}

const go = (page, hash) => page.evaluate((h) => { location.hash = h; }, hash);
const toastSays = (page, text) => page.waitForFunction((t) => document.querySelector('#toast.show')?.textContent.includes(t), text, { timeout: 15_000 });

test('markup written into every free-text field stays text on every screen', async () => {
  const office = await open(SIZES.desktop);
  const o = office.page;
  await logIn(o, 'office');
  await online(o);

  // Display names, in the office's users screen.
  await go(o, '#/office/users');
  for (const id of ['wang', 'chen']) {
    await o.waitForSelector(`tr[data-user=${id}] input[name=display_name]`);
    await o.fill(`tr[data-user=${id}] input[name=display_name]`, P);
    await o.locator(`tr[data-user=${id}] td:last-child button`).first().click();
    await toastSays(o, '已保存');
    await o.waitForFunction(() => !document.querySelector('#toast.show'), null, { timeout: 10_000 });
  }
  const token = await apiToken('office');
  const { users } = await (await fetch(`${base}/api/v1/users`, { headers: { authorization: `Bearer ${token}` } })).json();
  assert.deepEqual(users.filter((u) => u.display_name === P).map((u) => u.id).sort(), ['chen', 'wang'], 'the names were saved');
  await go(o, '#/office/users?again');
  await o.waitForSelector('tr[data-user=chen]');
  await assertInert(o, 'users');

  // The walkaround template: its name, a pass/fail item's text, and a new text item.
  const { templates } = await (await fetch(`${base}/api/v1/templates`)).json();
  const textItem = templates.flatMap((t) => t.items).find((i) => i.kind.type === 'text');
  await go(o, '#/office/templates?id=workshop-walkaround');
  await o.waitForSelector('[data-testid=template-json]');
  await o.waitForFunction(() => document.querySelector('[data-testid=template-json]').value.includes('"workshop-walkaround"'));
  const tpl = JSON.parse(await o.inputValue('[data-testid=template-json]'));
  tpl.name = { zh: P, en: P };
  const failing = tpl.items.find((i) => i.kind.type === 'pass_fail' && i.repeat === 'once');
  failing.text = { zh: P, en: P };
  tpl.items.push({ ...textItem, id: 'x-remark', text: { zh: P, en: P }, repeat: 'once', required: false });
  await o.fill('[data-testid=template-json]', JSON.stringify(tpl, null, 2));
  await o.click('[data-testid=save-template]');
  await toastSays(o, '版本');
  await o.waitForFunction(() => !document.querySelector('[data-testid=template-problems]')?.textContent, null, { timeout: 5000 });
  await o.waitForFunction((p) => document.body.innerText.includes(p), PAYLOADS[0], { timeout: 15_000 });
  await assertInert(o, 'templates after save');

  // The tablet: a walkaround from the edited template, a failed answer with a note, a text answer.
  const tablet = await open(SIZES.tablet);
  const t = tablet.page;
  await logIn(t, 'wang');
  await online(t);
  await t.waitForFunction(() => JSON.parse(localStorage.getItem('walkaround.templates') || '[]')
    .some((x) => x.id === 'workshop-walkaround' && x.name.zh.includes('<img')), null, { timeout: 15_000 });
  await press(t, '[data-testid=new-walkaround]', true);
  await t.waitForSelector(`[data-key="${failing.id}"] button[data-answer=fail]`);
  await press(t, `[data-key="${failing.id}"] button[data-answer=fail]`, true);
  await t.fill(`[data-testid="note-${failing.id}"]`, P);
  await t.locator(`[data-testid="note-${failing.id}"]`).blur();
  await t.fill('[data-key="x-remark"] textarea', P);
  await t.locator('[data-key="x-remark"] textarea').blur();
  await settled(t);
  const doc = t.url().split('/inspect/')[1];
  assert.ok(doc, t.url());
  await assertInert(t, 'tablet inspection');
  await go(t, '#/');
  await t.waitForSelector(`[data-doc="${doc}"]`);
  await assertInert(t, 'tablet home and history');

  // The office: the violation with its note, assigned to a person named with markup, waived
  // with a reason in markup; then every screen that shows any of it.
  await o.reload();
  await online(o);
  await go(o, '#/office/violations');
  const row = `tr[data-key="${doc}/${failing.id}"]`;
  await o.waitForSelector(row, { timeout: 15_000 });
  await assertInert(o, 'violations list');
  await openDetail(o, row);
  await assertInert(o, 'violation detail');
  await o.selectOption('[data-testid=violation-detail] [data-testid=assign]', 'chen');
  await o.waitForFunction((r) => document.querySelector(r)?.children[4]?.textContent.includes('<img src=x'), row, { timeout: 15_000 });
  await openDetail(o, row);
  await o.fill('[data-testid=violation-detail] [data-testid=waive-reason]', P);
  await o.click('[data-testid=violation-detail] [data-testid=waive]');
  await o.waitForSelector(`${row} [data-status=waived]`, { timeout: 15_000 });
  await openDetail(o, row);
  await o.waitForSelector('[data-testid=trail] li');
  await o.waitForFunction((p) => [...document.querySelectorAll('[data-testid=trail] li')].some((li) => li.textContent.includes(p)), P);
  await assertInert(o, 'violation detail with trail');
  for (const [hash, ready, shown] of [
    ['#/office/reports', '[data-testid=per-person]', true],
    ['#/office/print', '[data-testid=print-page]', true],
    ['#/office/routines', '[data-testid=routine-status]', false],
    ['#/office/users', 'tr[data-user]', true],
    ['#/office/templates', '[data-testid=template-json]', true],
    ['#/', '[data-testid=office-violations-link]', false],
  ]) {
    await go(o, hash);
    await o.waitForSelector(ready);
    await assertInert(o, `office ${hash}`, { shown });
  }
  // Both languages: the English screens show the same text.
  await o.locator('header button.ghost').first().click();
  await go(o, '#/office/violations');
  await openDetail(o, row);
  await o.waitForSelector('[data-testid=trail] li');
  await assertInert(o, 'violation detail in English');

  // Back on the tablet, after a reload: the inspection and the home screen.
  await t.reload();
  await online(t);
  await go(t, `#/inspect/${doc}`);
  await t.waitForSelector(`[data-testid="note-${failing.id}"]`);
  await assertInert(t, 'tablet inspection after reload');
  await office.context.close();
  await tablet.context.close();
});

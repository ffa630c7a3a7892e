// End-to-end tests of the tablet app in Debian's Chromium, driven by playwright-core.
// Run by tests/tests/it/e2e.rs, which starts the server with the demo workshop and sets
// WALKAROUND_URL, WALKAROUND_PASSWORD and WALKAROUND_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
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

async function tablet(username, { landscape = true } = {}) {
  const context = await browser.newContext({ viewport: landscape ? { width: 1280, height: 800 } : { width: 800, height: 1280 }, locale: 'zh-CN' });
  const page = await context.newPage();
  page.on('pageerror', (e) => console.error(`[${username}] page error:`, e.message));
  await page.goto(base);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=sync-state][data-link=online]', { timeout: 15000 });
  return { context, page };
}

const syncState = (page) => page.evaluate(() => window.walkaround.state());
async function settled(page) {
  await page.waitForFunction(() => { const s = window.walkaround.state(); return s.link === 'online' && s.pending === 0; }, null, { timeout: 20000 });
}

async function api(path, username) {
  const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) });
  const { access_token } = await login.json();
  return (await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${access_token}` } })).json();
}

const item = (page, key) => page.locator(`[data-key="${key}"]`);
async function answer(page, key, type) {
  await item(page, key).locator(`button[data-answer=${type}]`).click();
}

test('two tablets answer offline, reconnect, and both show the merged walkaround with its conflict', async () => {
  const a = await tablet('wang');
  await a.page.screenshot({ path: `${shots}/home.png` });
  await a.page.click('[data-testid=new-walkaround]');
  await a.page.waitForSelector('[data-key="c1-visitors"]');
  const url = a.page.url();
  const id = url.split('/inspect/')[1];
  await settled(a.page);

  const b = await tablet('wang', { landscape: false });
  // The manager's second tablet (portrait) discovers the walkaround and opens it.
  await b.page.goto(`${base}/#/inspect/${id}`);
  await b.page.waitForSelector('[data-key="c1-visitors"]', { timeout: 15000 });

  await a.context.setOffline(true);
  await b.context.setOffline(true);
  await answer(a.page, 'c1-visitors', 'pass');
  await answer(a.page, 'c9-masking', 'pass');
  await answer(b.page, 'c8-booth-floor', 'fail');
  await b.page.fill('[data-testid="note-c8-booth-floor"]', '地面有报纸');
  await b.page.locator('[data-testid="note-c8-booth-floor"]').blur();
  await answer(b.page, 'c9-masking', 'fail');
  assert.equal((await syncState(a.page)).link, 'offline');
  assert.ok((await syncState(b.page)).pending > 0, 'B has changes waiting');

  await a.context.setOffline(false);
  await b.context.setOffline(false);
  await settled(a.page);
  await settled(b.page);
  // Each tablet shows the other's answers and the conflict on c9.
  for (const { page } of [a, b]) {
    await page.waitForSelector('[data-key="c9-masking"].conflict', { timeout: 15000 });
    await page.waitForSelector('[data-key="c8-booth-floor"].failing', { timeout: 15000 });
  }
  // The two records are the same manager's: each names its tablet (issue 20, item 11).
  for (const { page } of [a, b]) {
    const rows = await page.locator('[data-key="c9-masking"] .conflict-row, [data-key="c9-masking"] .card.flush').allInnerTexts();
    assert.equal(rows.length, 2, rows.join(' | '));
    assert.equal(rows.filter((r) => r.includes('车间经理 王强 · 本机')).length, 1, rows.join(' | '));
    assert.equal(rows.filter((r) => /车间经理 王强 · 平板 [0-9a-f]{4}/.test(r)).length, 1, rows.join(' | '));
  }
  await a.page.locator('[data-key="c9-masking"]').scrollIntoViewIfNeeded();
  await a.page.screenshot({ path: `${shots}/conflict.png` });
  await a.page.locator('[data-testid=violations]').scrollIntoViewIfNeeded();
  await a.page.screenshot({ path: `${shots}/walkaround.png` });

  const { violations } = await api('/api/v1/violations', 'office');
  const mine = violations.filter((v) => v.doc_id === id).map((v) => [v.answer_key, v.conflict]).sort();
  assert.deepEqual(mine, [['c8-booth-floor', false], ['c9-masking', true]]);
  // C8 and C9 carry no fine in the regulation; the rows say so.
  for (const v of violations.filter((v) => v.doc_id === id)) {
    assert.deepEqual([v.fine_type, v.fine_yuan, v.responsible_role], ['none', 0, 'workshop_manager']);
  }

  // The manager resolves the conflict; both tablets and the server follow.
  await a.page.locator('[data-key="c9-masking"] [data-testid="keep-c9-masking"]').first().click();
  await settled(a.page);
  await b.page.waitForFunction(() => !document.querySelector('[data-key="c9-masking"].conflict'), null, { timeout: 15000 });
  await a.context.close();
  await b.context.close();
});

test('a reload while offline keeps everything, and a photo taken offline reaches the server', async () => {
  const a = await tablet('wang', { landscape: false });
  await a.page.click('[data-testid=new-walkaround]');
  await a.page.waitForSelector('[data-key="c7-old-parts"]');
  const id = a.page.url().split('/inspect/')[1];
  await settled(a.page);
  await a.context.setOffline(true);
  await answer(a.page, 'c7-old-parts', 'fail');
  // A photo from the camera input.
  const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000' + '1f15c4890000000d49444154789c63f8cfc0f01f0005000201a2e0a1e50000000049454e44ae426082', 'hex');
  await a.page.setInputFiles('[data-testid="photo-c7-old-parts"]', { name: 'parts.png', mimeType: 'image/png', buffer: png });
  await a.page.waitForSelector('[data-key="c7-old-parts"] img');
  await a.page.reload();
  await a.page.waitForSelector('[data-key="c7-old-parts"].failing', { timeout: 15000 });
  assert.equal(await a.page.locator('[data-key="c7-old-parts"] img').count(), 1, 'the photo survived the reload');
  await a.page.screenshot({ path: `${shots}/offline-portrait.png` });

  await a.context.setOffline(false);
  await settled(a.page);
  const { violations } = await api('/api/v1/violations', 'office');
  const row = violations.find((v) => v.doc_id === id && v.answer_key === 'c7-old-parts');
  assert.ok(row, 'the offline answer reached the server');
  const sha = row.evidence[0].photos[0];
  // The photo upload runs when the tablet is back online.
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) {
    const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'office', password }) });
    const { access_token } = await login.json();
    status = (await fetch(`${base}/api/v1/blobs/${sha}`, { headers: { authorization: `Bearer ${access_token}` } })).status;
    if (status !== 200) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(status, 200, 'the photo reached the server');
  await a.context.close();
});

test('the office waives a violation synced from a tablet, with a reason; the report and the CSV show it', async () => {
  // A manager records a failed item on a tablet.
  const a = await tablet('wang');
  await a.page.click('[data-testid=new-walkaround]');
  await a.page.waitForSelector('[data-key="c8-booth-floor"]');
  const id = a.page.url().split('/inspect/')[1];
  await answer(a.page, 'c8-booth-floor', 'fail');
  await a.page.fill('[data-testid="note-c8-booth-floor"]', '喷漆房地面有废纸');
  await a.page.locator('[data-testid="note-c8-booth-floor"]').blur();
  await settled(a.page);
  await a.context.close();
  const month = new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Shanghai' }).format(new Date()).slice(0, 7);
  const before = await api(`/api/v1/reports/monthly?month=${month}`, 'office');
  const wangBefore = before.people.find((p) => p.user_id === 'wang');

  // A schedule whose deadline has passed: the office's home shows yesterday's closing
  // routine as missed.
  const login = await fetch(`${base}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'office', password }) });
  const { access_token } = await login.json();
  const put = await fetch(`${base}/api/v1/routines?site=demo-site`, {
    method: 'PUT', headers: { authorization: `Bearer ${access_token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ schedule: [{ template_id: 'closing-routine', weekday: null, due_minute: 0 }] }),
  });
  assert.equal(put.status, 200);

  // The office finds it with the filters and waives it with a reason.
  const o = await tablet('office');
  await o.page.waitForSelector('[data-testid=missed-routines] li', { timeout: 15000 });
  await o.page.goto(`${base}/#/office/violations?site=demo-site&person=wang&rule=C8&status=open`);
  const row = o.page.locator(`tr[data-key="${id}/c8-booth-floor"]`);
  await row.click();
  await o.page.waitForSelector('[data-testid=violation-detail] [data-testid=waive]');
  await o.page.screenshot({ path: `${shots}/office-violations.png` });
  await o.page.click('[data-testid=violation-detail] [data-testid=waive]');
  // Without a reason the server refuses; the row stays open.
  await o.page.waitForTimeout(300);
  assert.equal(await row.locator('[data-status]').getAttribute('data-status'), 'open');
  await o.page.fill('[data-testid=waive-reason]', '首次违规，口头警告');
  await o.page.click('[data-testid=violation-detail] [data-testid=waive]');
  // The list filtered to open violations no longer holds it.
  await row.waitFor({ state: 'detached', timeout: 10000 });
  const trail = await api(`/api/v1/violations/${id}/c8-booth-floor/reviews`, 'office');
  assert.deepEqual(trail.reviews.map((r) => [r.action, r.reason, r.user_id]), [['waive', '首次违规，口头警告', 'office']]);

  // The monthly report counts it as waived, on screen and in its CSV.
  await o.page.goto(`${base}/#/office/reports?month=${month}`);
  await o.page.waitForSelector('[data-testid=per-person] tr[data-person=wang]');
  const cells = await o.page.locator('[data-testid=per-person] tr[data-person=wang] td').allTextContents();
  assert.equal(Number(cells[3]), (wangBefore?.waived ?? 0) + 1, `waived count on screen: ${cells}`);
  await o.page.screenshot({ path: `${shots}/office-report.png`, fullPage: true });
  const [download] = await Promise.all([o.page.waitForEvent('download'), o.page.click('[data-testid=export-report]')]);
  const csv = readFileSync(await download.path(), 'utf8');
  const total = csv.split('\n').find((line) => line.startsWith(`${month},wang,`) && line.split(',')[3] === '');
  assert.ok(total, csv);
  assert.equal(Number(total.split(',')[7]), (wangBefore?.waived ?? 0) + 1, total);
  const c8 = csv.split('\n').find((line) => line.startsWith(`${month},wang,`) && line.split(',')[3] === 'C8');
  assert.ok(c8 && Number(c8.split(',')[7]) >= 1, csv);

  // The violations CSV of waived ones carries the tablet's note.
  await o.page.goto(`${base}/#/office/violations?status=waived`);
  await o.page.waitForSelector(`tr[data-key="${id}/c8-booth-floor"] [data-status=waived]`);
  const [list] = await Promise.all([o.page.waitForEvent('download'), o.page.click('[data-testid=export-violations]')]);
  const rows = readFileSync(await list.path(), 'utf8');
  assert.ok(rows.includes('喷漆房地面有废纸') && rows.includes(id), rows);

  // The print page holds the same report, ready for the browser's print to PDF.
  await o.page.goto(`${base}/#/office/print?month=${month}`);
  await o.page.waitForSelector('[data-testid=print-page] [data-testid=per-person]');
  await o.page.emulateMedia({ media: 'print' });
  const pdf = await o.page.pdf({ format: 'A4' });
  assert.ok(pdf.length > 10_000, 'a PDF page was printed');
  await o.context.close();
});

// Two tablets of the same manager and the office, in Debian's Chromium (issue 20, the
// critical items): a photo taken on one device shows on every other; a walkaround started
// on one tablet appears on the other within seconds, without a reload. Run by
// tests/tests/it/e2e.rs with WALKAROUND_URL, WALKAROUND_PASSWORD and WALKAROUND_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { launch } from './browser.mjs';

const base = process.env.WALKAROUND_URL;
const password = process.env.WALKAROUND_PASSWORD;
const shots = process.env.WALKAROUND_SCREENSHOTS;
mkdirSync(shots, { recursive: true });
// A real camera-sized picture is not needed; a real image is: the app's own icon (192×192).
const photo = readFileSync(new URL('../../client-wasm/web/icon-192.png', import.meta.url));

let browser;
before(async () => {
  browser = await launch();
});
after(async () => { await browser?.close(); });

const LANDSCAPE = { viewport: { width: 1024, height: 768 }, hasTouch: true };
const PORTRAIT = { viewport: { width: 820, height: 1180 }, hasTouch: true };
const DESKTOP = { viewport: { width: 1440, height: 900 } };

async function device(username, options) {
  const context = await browser.newContext({ ...options, locale: 'zh-CN' });
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
/** Waits until every <img> under `selector` has loaded a real picture; returns what it shows. */
async function shownPhotos(page, selector) {
  await page.waitForFunction((sel) => {
    const imgs = [...document.querySelectorAll(`${sel} img`)];
    return imgs.length > 0 && imgs.every((img) => img.complete && img.naturalWidth > 0);
  }, selector, { timeout: 20000 });
  // The CSP's connect-src does not allow fetching a blob: URL, so what it holds is judged by
  // what the browser decoded from it: the 192×192 PNG that was taken, as an image.
  return page.evaluate((sel) => [...document.querySelectorAll(`${sel} img`)].map((img) => (
    { src: img.src.slice(0, 5), width: img.naturalWidth, height: img.naturalHeight, inLink: Boolean(img.closest('a')) })), selector);
}

test('a photo taken on tablet A shows on tablet B and in the office; a walkaround started on A appears on B within seconds', async () => {
  const a = await device('wang', LANDSCAPE);
  const b = await device('wang', PORTRAIT);
  await settled(a.page);
  await settled(b.page);

  // A starts a walkaround; B, on its home screen, shows it without a reload.
  await a.page.click('[data-testid=new-walkaround]');
  await a.page.waitForSelector('[data-area="bay-4"]');
  const id = a.page.url().split('/inspect/')[1];
  const started = Date.now();
  await b.page.waitForSelector(`[data-doc="${id}"]`, { timeout: 8000 });
  const seenAfter = Date.now() - started;
  console.log(`B showed A's new walkaround after ${seenAfter} ms`);
  assert.ok(seenAfter < 6000, `B showed it after ${seenAfter} ms`);
  await b.page.screenshot({ path: `${shots}/team-b-home-portrait.png` });

  // On A: bay 4 occupied, fender covers not fitted, with a photo and a note.
  await a.page.click('[data-testid="occupied-bay-4"]');
  const key = 'c2-fender-covers@bay-4';
  await a.page.locator(`[data-key="${key}"] button[data-answer=fail]`).click();
  await a.page.setInputFiles(`[data-testid="photo-${key}"]`, { name: 'fender.png', mimeType: 'image/png', buffer: photo });
  await a.page.fill(`[data-testid="note-${key}"]`, '4号工位未使用叶子板护罩');
  await a.page.locator(`[data-testid="note-${key}"]`).blur();
  const onA = await shownPhotos(a.page, `[data-key="${key}"]`);
  assert.deepEqual(onA.map((p) => p.width), [192]);
  await settled(a.page);

  // B opens the inspection: the photo is the picture itself, from an image blob.
  await b.page.goto(`${base}/#/inspect/${id}`);
  await b.page.waitForSelector(`[data-key="${key}"].failing`, { timeout: 15000 });
  const onB = await shownPhotos(b.page, `[data-key="${key}"]`);
  assert.deepEqual(onB, [{ src: 'blob:', width: 192, height: 192, inLink: false }]);
  await b.page.locator(`[data-key="${key}"]`).scrollIntoViewIfNeeded();
  await b.page.screenshot({ path: `${shots}/team-b-photo-portrait.png` });

  // B keeps it: offline and reloaded, it still shows.
  await b.context.setOffline(true);
  await b.page.reload();
  await b.page.waitForSelector(`[data-key="${key}"].failing`, { timeout: 15000 });
  const offline = await shownPhotos(b.page, `[data-key="${key}"]`);
  assert.deepEqual(offline.map((p) => p.width), [192]);
  await b.context.setOffline(false);

  // The office's evidence panel shows it too, as an image on the page (never a link to a
  // blob: document).
  const o = await device('office', DESKTOP);
  await o.page.goto(`${base}/#/office/violations?site=demo-site&rule=C2`);
  const row = o.page.locator(`tr[data-key="${id}/${key}"]`);
  await row.click();
  const inOffice = await shownPhotos(o.page, '[data-testid=violation-detail]');
  assert.deepEqual(inOffice, [{ src: 'blob:', width: 192, height: 192, inLink: false }]);
  assert.equal(await o.page.locator('[data-testid=violation-detail] a[href^="blob:"]').count(), 0);
  await o.page.screenshot({ path: `${shots}/team-office-evidence.png` });

  for (const d of [a, b, o]) await d.context.close();
});

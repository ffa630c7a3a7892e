// The web app's session and uploads under issue 16: one token refresh at a time however
// many screens ask (input 4), a logout only when the server refuses the refresh, and a
// "photo" the server refuses as not an image told to the user and never sent again.
// Run by tests/tests/it/browser_security.rs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  launch, newPage, logIn, online, settled, whenStill, png, shots, SIZES,
} from './browser.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

const SESSION = 'walkaround.session';
/**
 * Changes the stored session by `patch` (`expiresIn` ms from now, a `refresh_token`, or
 * `spoilAccess`: an access token the server does not take) and reloads the page at `hash`.
 */
async function reloadWith(page, hash, patch) {
  await page.evaluate(([key, change, h]) => {
    const s = JSON.parse(localStorage.getItem(key));
    if (change.expiresIn !== undefined) s.expires_at = Date.now() + change.expiresIn;
    if (change.refresh_token) s.refresh_token = change.refresh_token;
    if (change.spoilAccess) s.access_token = `${s.access_token.slice(0, -4)}${s.access_token.endsWith('AAAA') ? 'BBBB' : 'AAAA'}`;
    localStorage.setItem(key, JSON.stringify(s));
    history.replaceState(null, '', h);
  }, [SESSION, patch, hash]);
  await page.reload();
}

/** Counts the refresh requests the page sends from now on. */
function countRefreshes(page) {
  const seen = [];
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().endsWith('/api/v1/auth/refresh')) seen.push(r); });
  return seen;
}

test('the office report with an access token about to expire refreshes once and stays logged in', async () => {
  const { context, page } = await newPage(browser, SIZES.desktop);
  await logIn(page, 'office');
  await online(page);
  // Old tokens before the test; the report page loads its endpoints in parallel.
  const before = await page.evaluate((k) => JSON.parse(localStorage.getItem(k)), SESSION);
  const refreshes = countRefreshes(page);

  // 1. Token about to expire (20 s left), page reloaded on the report: the socket, discovery,
  //    sites and templates and the report's two endpoints all want a fresh token at once.
  await reloadWith(page, '#/office/reports', { expiresIn: 20_000 });
  await page.waitForSelector('[data-testid=report]', { timeout: 30_000 });
  await page.waitForSelector('[data-testid=trend-chart]');
  await online(page);
  await page.waitForTimeout(1500);
  assert.equal(refreshes.length, 1, `one refresh, saw ${refreshes.length}`);
  const after1 = await page.evaluate((k) => JSON.parse(localStorage.getItem(k)), SESSION);
  assert.ok(after1?.access_token, 'still logged in');
  assert.notEqual(after1.refresh_token, before.refresh_token, 'the tokens were rotated');
  assert.equal(await page.locator('form.login').count(), 0, 'no login form');

  // 2. An access token the server no longer takes (401 on every call), its expiry still far:
  //    the calls that get 401 share one refresh and retry; the user stays.
  refreshes.length = 0;
  await reloadWith(page, '#/office/reports', { spoilAccess: true });
  await page.waitForSelector('[data-testid=report]', { timeout: 30_000 });
  await page.waitForSelector('[data-testid=trend-chart]');
  await online(page);
  await page.waitForTimeout(1500);
  assert.equal(refreshes.length, 1, `one refresh after the 401s, saw ${refreshes.length}`);
  assert.equal(await page.locator('form.login').count(), 0, 'no login form after a 401');

  // 3. A refresh the server refuses (the refresh token is not one it issued) logs out.
  refreshes.length = 0;
  await reloadWith(page, '#/office/reports', { expiresIn: 20_000, refresh_token: 'not-a-token' });
  await page.waitForSelector('form.login', { timeout: 30_000 });
  assert.equal(refreshes.length, 1, `one refused refresh, saw ${refreshes.length}`);
  assert.equal(await page.evaluate((k) => localStorage.getItem(k), SESSION), 'null', 'the session is gone');
  await context.close();
});

test('an SVG chosen as a photo is refused, the user is told in their language, nothing is stuck', async () => {
  const { context, page } = await newPage(browser, SIZES.tablet);
  const uploads = [];
  page.on('request', (r) => { if (r.method() === 'POST' && r.url().includes('/api/v1/blobs')) uploads.push(r); });
  await logIn(page, 'wang');
  await online(page);
  await whenStill(page, '[data-testid=new-walkaround]', 'tap');
  await page.waitForSelector('[data-key] button[data-answer=fail]');
  // The first item asked once that takes a fail and asks for a photo on fail.
  const key = await page.locator('[data-key]:not([data-key*="@"])').filter({ has: page.locator('button[data-answer=fail]') }).first().getAttribute('data-key');
  await page.locator(`[data-key="${key}"] button[data-answer=fail]`).tap();
  await page.waitForSelector(`[data-testid="photo-${key}"]`, { state: 'attached' });

  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(document.cookie)</script></svg>');
  await page.setInputFiles(`[data-testid="photo-${key}"]`, { name: 'photo.png', mimeType: 'image/png', buffer: svg });
  await page.waitForFunction(() => document.querySelector('#toast.show')?.textContent.includes('不是照片'), null, { timeout: 15_000 });
  await page.screenshot({ path: `${shots}/photo-refused.png` });
  await page.waitForFunction((k) => document.querySelectorAll(`[data-key="${k}"] [data-photo]`).length === 0, key, { timeout: 10_000 });
  await settled(page);
  assert.equal(uploads.length, 1, 'sent once');
  assert.equal(uploads[0].headers()['content-type'], 'application/octet-stream', 'the file’s own type is not sent');
  const stored = await page.evaluate(() => new Promise((resolve) => {
    const open = indexedDB.open('walkaround');
    open.onsuccess = () => {
      const all = open.result.transaction('photos').objectStore('photos').getAll();
      all.onsuccess = () => resolve(all.result.map((p) => ({ uploaded: p.uploaded, refused: p.refused ?? null })));
    };
  }));
  assert.deepEqual(stored, [{ uploaded: false, refused: 'not_an_image' }]);

  // Reconnecting uploads what is pending: the refused file is not sent again.
  await context.setOffline(true);
  await page.waitForSelector('[data-testid=sync-state][data-link=offline]');
  await context.setOffline(false);
  await online(page);
  await page.waitForTimeout(1500);
  assert.equal(uploads.length, 1, 'the refused photo is never sent again');

  // Chosen again: told at once, nothing attached, nothing sent.
  await page.setInputFiles(`[data-testid="photo-${key}"]`, { name: 'photo.png', mimeType: 'image/png', buffer: svg });
  await page.waitForFunction(() => document.querySelector('#toast.show')?.textContent.includes('不是照片'));
  assert.equal(uploads.length, 1);

  // In English, another SVG; then a real PNG sent as an SVG still goes up and shows.
  await page.locator('header button.ghost').first().tap();
  const svg2 = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><rect width="1" height="1"/></svg>');
  await page.setInputFiles(`[data-testid="photo-${key}"]`, { name: 'b.svg', mimeType: 'image/svg+xml', buffer: svg2 });
  await page.waitForFunction(() => document.querySelector('#toast.show')?.textContent.includes('not a photo'), null, { timeout: 15_000 });
  await page.setInputFiles(`[data-testid="photo-${key}"]`, { name: 'c.svg', mimeType: 'image/svg+xml', buffer: png });
  await page.waitForSelector(`[data-key="${key}"] img[data-sha]`, { timeout: 15_000 });
  await page.waitForFunction(() => document.querySelector('[data-photo] [data-testid=photo-refused]') === null, null, { timeout: 10_000 }).catch(async (e) => {
    console.log(await page.locator(`[data-key="${key}"]`).evaluate((el) => el.outerHTML));
    throw e;
  });
  await settled(page);
  assert.equal(uploads.length, 3, 'the SVG and the PNG were each sent once');
  const pngUpload = await uploads[2].response();
  assert.equal(pngUpload.status(), 201, 'the PNG is stored');
  await context.close();
});

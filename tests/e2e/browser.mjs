// Helpers shared by the browser tests of the web app: Debian's Chromium, a
// login, waiting for a screen to settle, and a recorder of Content-Security-Policy
// violations installed before any script of the page runs.
import assert from 'node:assert/strict';
import { chromium } from 'playwright-core';

export const base = process.env.WALKAROUND_URL;
export const password = process.env.WALKAROUND_PASSWORD;
export const shots = process.env.WALKAROUND_SCREENSHOTS;

export function launch() {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A 10-inch tablet held landscape, with touch, and a desktop browser. */
export const SIZES = {
  tablet: { viewport: { width: 1024, height: 768 }, hasTouch: true, isMobile: true },
  desktop: { viewport: { width: 1440, height: 900 } },
};

// A 1×1 PNG, as a camera input would hand over a file.
export const png = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000'
  + '1f15c4890000000d49444154789c63f8cfc0f01f0005000201a2e0a1e50000000049454e44ae426082', 'hex');

/**
 * A new page in a new context that records every CSP violation (in `window.__csp`, and
 * console errors about the policy in `page.problems`) and every page error.
 */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({ locale: 'zh-CN', ...options });
  await context.addInitScript(() => {
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => {
      window.__csp.push(`${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`);
    });
  });
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => {
    if (process.env.WALKAROUND_DEBUG) console.log(`[console ${m.type()}] ${m.text()}`);
    if (m.type() === 'error' && /Content.Security.Policy/i.test(m.text())) page.problems.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => page.problems.push(`page error: ${e.message}`));
  return { context, page };
}

/** Logs in on the login screen and waits for the socket to be online. */
export async function logIn(page, username) {
  await page.goto(base);
  await page.fill('input[name=username]', username);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForSelector('[data-testid=sync-state]', { timeout: 30_000 });
}

export async function online(page) {
  await page.waitForSelector('[data-testid=sync-state][data-link=online]', { timeout: 30_000 });
}

/** Waits until nothing is left to sync. */
export async function settled(page) {
  await page.waitForFunction(() => { const s = window.walkaround.state(); return s.link === 'online' && s.pending === 0; }, null, { timeout: 30_000 });
}

/**
 * Waits until the element stays on screen for `still` ms, then taps or clicks it (the app
 * re-renders while it downloads documents; issue 18).
 */
export async function whenStill(page, selector, action = 'click', { still = 800, timeout = 60_000 } = {}) {
  const deadline = Date.now() + timeout;
  for (;;) {
    await page.waitForSelector(selector, { timeout: Math.max(1, deadline - Date.now()) });
    const stayed = await page.evaluate(async ([sel, ms]) => {
      const el = document.querySelector(sel);
      await new Promise((r) => setTimeout(r, ms));
      return Boolean(el && el.isConnected);
    }, [selector, still]);
    if (stayed) {
      try {
        await page.locator(selector).first()[action]({ timeout: 5000 });
        return;
      } catch (e) {
        if (Date.now() > deadline) throw e;
      }
    }
    if (Date.now() > deadline) throw new Error(`${selector} never stayed on screen for ${still} ms`);
  }
}

/** Taps on a touch screen, clicks elsewhere. */
export const press = (page, selector, touch) => whenStill(page, selector, touch ? 'tap' : 'click');

/** The CSP violations and policy errors recorded so far on `page`, for `where`. */
export async function cspProblems(page) {
  const recorded = await page.evaluate(() => window.__csp ?? []).catch(() => []);
  return [...recorded, ...page.problems.filter((p) => /Content.Security.Policy/i.test(p))];
}

export async function assertNoCspViolation(page, where) {
  const problems = await cspProblems(page);
  assert.deepEqual(problems, [], `CSP violations on ${where}`);
}

/** Logs in with the API and returns the access token. */
export async function apiToken(username) {
  const r = await fetch(`${base}/api/v1/auth/login`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }),
  });
  assert.equal(r.status, 200, `${username} logs in`);
  return (await r.json()).access_token;
}

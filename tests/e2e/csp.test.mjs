// Every page of the app under the server's Content-Security-Policy (issue 16): login, site
// choice, home, a walkaround with a failed answer, its note and photo, history, and every
// office screen (violations and a violation's detail, reports, print page, routines, users,
// templates), in both languages, on a touch tablet and a desktop. Any `securitypolicyviolation`
// event or console error about the policy fails the test. Run by tests/tests/it/browser_security.rs.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  base, launch, newPage, logIn, online, settled, press, png, shots, SIZES, cspProblems,
} from './browser.mjs';

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

for (const [size, options] of Object.entries(SIZES)) {
  for (const language of ['zh-CN', 'en']) {
    test(`every page keeps to the CSP: ${size}, ${language}`, async () => {
      const touch = Boolean(options.hasTouch);
      const { context, page } = await newPage(browser, options);
      const seen = [];
      const visit = async (where) => {
        seen.push(where);
        await page.screenshot({ path: `${shots}/csp-${size}-${language}-${where.replace(/\W+/g, '-')}.png` });
        const problems = await cspProblems(page);
        assert.deepEqual(problems, [], `CSP violations by the time of ${where}`);
      };

      await page.goto(base);
      await page.waitForSelector('form.login');
      if (language === 'en') {
        await press(page, 'header button.ghost', touch);
        await page.waitForFunction(() => document.documentElement.lang === 'en');
      }
      await visit('login');

      // The tablet side: a workshop manager's walkaround with a failed answer, note and photo.
      await logIn(page, 'wang');
      await page.waitForSelector('.grid button');
      await visit('site choice');
      await page.waitForTimeout(500);
      await page.locator('.grid button').filter({ hasNotText: 'B店' }).first()[touch ? 'tap' : 'click']();
      await online(page);
      await page.waitForSelector('[data-testid=new-walkaround]');
      await visit('home');
      await press(page, '[data-testid=new-walkaround]', touch);
      await page.waitForSelector('[data-key] button[data-answer=fail]');
      const key = await page.locator('[data-key]:not([data-key*="@"])').filter({ has: page.locator('button[data-answer=fail]') }).first().getAttribute('data-key');
      await press(page, `[data-key="${key}"] button[data-answer=fail]`, touch);
      await page.fill(`[data-testid="note-${key}"]`, 'note');
      await page.locator(`[data-testid="note-${key}"]`).blur();
      await page.setInputFiles(`[data-testid="photo-${key}"]`, { name: 'bay.png', mimeType: 'image/png', buffer: png });
      await page.waitForSelector(`[data-key="${key}"] img[data-sha]`);
      const occupied = page.locator('[data-testid^=occupied-]').first();
      if (await occupied.count()) await press(page, '[data-testid^=occupied-]', touch);
      await settled(page);
      await visit('inspection');
      await press(page, '.row.spread > button', touch); // back
      await page.waitForSelector('[data-doc]');
      await visit('history');
      await press(page, '[data-doc]', touch);
      await page.waitForSelector('[data-testid=violations]');
      await visit('inspection from history');
      await press(page, 'header button.ghost:last-child', touch); // log out
      await page.waitForSelector('form.login');

      // The office: site choice, then every screen.
      await logIn(page, 'office');
      await page.waitForSelector('.grid button');
      await page.waitForTimeout(500);
      await page.locator('.grid button').filter({ hasNotText: 'B店' }).first()[touch ? 'tap' : 'click']();
      await page.waitForSelector('[data-testid=office-violations-link]');
      await online(page);
      await visit('office home');
      await press(page, '[data-testid=office-violations-link]', touch);
      await page.waitForSelector('tr.clickable');
      await visit('violations');
      await press(page, 'tr.clickable', touch);
      await page.waitForSelector('[data-testid=violation-detail] h4');
      await page.waitForSelector('[data-testid=violation-detail] img[data-sha]', { timeout: 15_000 });
      await visit('violation detail');
      for (const [path, ready] of [
        ['reports', '[data-testid=trend-chart]'],
        ['print', '[data-testid=print-page]'],
        ['routines', '[data-testid=routine-status]'],
        ['users', 'tr[data-user]'],
        ['templates', '[data-testid=template-json]'],
        ['templates?id=workshop-walkaround', '[data-testid=template-json]'],
      ]) {
        await page.evaluate((p) => { location.hash = `#/office/${p}`; }, path);
        await page.waitForSelector(ready);
        await page.waitForTimeout(300);
        await visit(path);
      }
      assert.equal(seen.length, 15);
      await context.close();
    });
  }
}

// Time from navigation to a usable app in Debian's Chromium: cold (empty cache, login
// form shown) and warm (logged in, service worker installed, home screen shown); then the
// office's time from pressing "log in" to a usable violations screen, and how many
// documents its browser holds 10 s later (against `serve --demo`: six weeks of history).
//   WALKAROUND_URL=http://127.0.0.1:8080 node tests/e2e/time-to-usable.mjs
import { launch } from './browser.mjs';

const base = process.env.WALKAROUND_URL || 'http://127.0.0.1:8080';
const browser = await launch();
const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
const page = await context.newPage();
let started = Date.now();
await page.goto(base);
await page.waitForSelector('form.login');
const cold = Date.now() - started;
await page.fill('input[name=username]', 'wang');
await page.fill('input[name=password]', process.env.WALKAROUND_PASSWORD || 'walkaround-demo');
await page.click('button[type=submit]');
await page.waitForSelector('[data-testid=new-walkaround]');
await page.waitForTimeout(1000); // let the service worker install
const warm = [];
for (let i = 0; i < 5; i++) {
  started = Date.now();
  await page.reload();
  await page.waitForSelector('[data-testid=new-walkaround]');
  warm.push(Date.now() - started);
}
warm.sort((a, b) => a - b);
console.log(`navigation to usable: cold ${cold} ms (login form), warm median ${warm[2]} ms (home, logged in)`);

const office = await (await browser.newContext({ viewport: { width: 1440, height: 900 } })).newPage();
await office.goto(base);
await office.waitForSelector('form.login');
await office.fill('input[name=username]', 'office');
await office.fill('input[name=password]', process.env.WALKAROUND_PASSWORD || 'walkaround-demo');
started = Date.now();
await office.click('button[type=submit]');
await office.click('[data-testid=office-violations-link]');
await office.waitForSelector('tr[data-key]');
const violations = Date.now() - started;
await office.waitForTimeout(10_000);
const held = await office.evaluate(() => window.walkaround.held().length);
console.log(`office: log in to a usable violations list ${violations} ms; ${held} documents held 10 s later`);
await browser.close();

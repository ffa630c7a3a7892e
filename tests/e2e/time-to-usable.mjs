// Time from navigation to a usable app in Debian's Chromium: cold (empty cache, login
// form shown) and warm (logged in, service worker installed, home screen shown).
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
await browser.close();

// Progress, the way to submission and evidence photos on the tablet (issue 20, items 9 and
// 12): "x / y answered" overall and per area; every problem that blocks submission is
// listed (no "+12") and each jumps to its item; a disabled submit says why; submitting asks
// for confirmation and says it is done; a photo taken by mistake can be removed before
// submission, "(required)" shows only while the required photo is missing, and a photo
// opens full size. Run by tests/tests/it/e2e.rs with WALKAROUND_URL, WALKAROUND_PASSWORD and
// WALKAROUND_SCREENSHOTS.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { launch, logIn, online, settled, shots } from './browser.mjs';

mkdirSync(shots, { recursive: true });
const photo = readFileSync(new URL('../../client-wasm/web/icon-192.png', import.meta.url));

let browser;
before(async () => { browser = await launch(); });
after(async () => { await browser?.close(); });

for (const [name, viewport] of [['landscape', { width: 1024, height: 768 }], ['portrait', { width: 820, height: 1180 }]]) {
  test(`progress, every problem as a link, photos and a confirmed submission (${name})`, async () => {
    const context = await browser.newContext({ viewport, hasTouch: true, locale: 'zh-CN' });
    const page = await context.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await logIn(page, 'wang');
    await online(page);
    await page.locator('[data-testid=new-walkaround]').tap();
    await page.waitForSelector('[data-testid=submit-card]');
    const id = page.url().split('/inspect/')[1];
    const asked = await page.evaluate((doc) => window.walkaround.client.expectedKeys(doc).length, id);
    assert.ok(asked > 12, `the walkaround asks for more than a dozen items: ${asked}`);

    // Nothing answered: the progress, every problem, and why submit is disabled.
    assert.equal(await page.locator('[data-testid=progress]').innerText(), `已答 0 / ${asked}`);
    const missing = await page.evaluate((doc) => window.walkaround.client.submissionProblems(doc).length, id);
    assert.ok(missing > 8, `more problems than the old list showed: ${missing}`);
    assert.equal(await page.locator('[data-testid=problems] li').count(), missing, 'every problem is listed');
    assert.doesNotMatch(await page.locator('[data-testid=submit-card]').innerText(), /\+\d/);
    assert.equal(await page.locator('[data-testid=submit]').isDisabled(), true);
    assert.match(await page.locator('[data-testid=submit-why]').innerText(), new RegExp(`${missing}`));
    await page.locator('[data-testid=submit-card]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${shots}/submit-problems-${name}.png` });

    // The first problem is a link to its item, far up the screen.
    const first = await page.locator('[data-testid=problems] li button').first().getAttribute('data-problem');
    await page.locator('[data-testid=problems] li button').first().tap();
    await page.waitForFunction((key) => {
      const el = document.querySelector(`[data-key="${key}"]`);
      const r = el?.getBoundingClientRect();
      return el?.classList.contains('flash') && r.top >= 0 && r.bottom <= window.innerHeight;
    }, first, { timeout: 5000 });

    // A failed item that needs a photo: "(required)" until it has one.
    const key = 'c8-booth-floor';
    const card = page.locator(`[data-key="${key}"]`);
    await card.locator('button[data-answer=fail]').tap();
    assert.match(await card.locator('label.photo-button').innerText(), /必填/);
    // Who answered, by name (issue 20, item 11), and each area's own progress.
    await page.waitForFunction((k) => /记录人 车间经理 王强/.test(document.querySelector(`[data-key="${k}"]`)?.innerText), key);
    assert.match(await page.locator('[data-testid="progress-bay-1"]').innerText(), /^已答 0 \/ \d+$/);
    await card.locator(`[data-testid="note-${key}"]`).tap();
    await page.keyboard.type('地面有报纸');
    // From the note straight to the camera, as on a tablet.
    const chooser = page.waitForEvent('filechooser');
    await card.locator('label.photo-button').tap();
    await (await chooser).setFiles({ name: 'floor.png', mimeType: 'image/png', buffer: photo });
    await page.waitForFunction((k) => {
      const img = document.querySelector(`[data-key="${k}"] .photos img`);
      return img && img.complete && img.naturalWidth > 0;
    }, key);
    assert.doesNotMatch(await card.locator('label.photo-button').innerText(), /必填/);

    // It opens full size over the screen, and a tap closes it.
    await card.locator('.photos img').tap();
    const viewer = page.locator('[data-testid=photo-viewer]');
    await viewer.waitFor({ state: 'visible' });
    const shown = await viewer.locator('img').evaluate((img) => [img.naturalWidth, img.getBoundingClientRect().width]);
    assert.equal(shown[0], 192);
    assert.ok(shown[1] >= 192, `shown at least full size: ${shown[1]} px`);
    await page.screenshot({ path: `${shots}/photo-full-size-${name}.png` });
    await viewer.tap();
    await viewer.waitFor({ state: 'hidden' });

    // Taken by mistake: removed, and "(required)" is back; then a photo again.
    await card.locator(`[data-testid="remove-photo-${key}"]`).tap();
    await page.waitForFunction((k) => !document.querySelector(`[data-key="${k}"] .photos img`), key);
    assert.match(await card.locator('label.photo-button').innerText(), /必填/);
    const records = await page.evaluate(([doc, k]) => window.walkaround.client.state(doc).answers[k], [id, key]);
    assert.deepEqual(records.map((r) => [r.value.type, r.note, r.photos.length]), [['fail', '地面有报纸', 0]]);
    const again = page.waitForEvent('filechooser');
    await card.locator('label.photo-button').tap();
    await (await again).setFiles({ name: 'floor.png', mimeType: 'image/png', buffer: photo });
    await page.waitForSelector(`[data-key="${key}"] .photos img`);

    // Everything else passes; the progress follows.
    for (const other of await page.locator('[data-key]').evaluateAll((cards) => cards.map((c) => c.dataset.key))) {
      if (other === key) continue;
      const pass = page.locator(`[data-key="${other}"] button[data-answer=pass]`);
      // A count item is answered with its "0".
      if (await pass.count()) await pass.tap();
      else await page.locator(`[data-key="${other}"]`).getByRole('button', { name: '0', exact: true }).tap();
    }
    await page.waitForFunction((text) => document.querySelector('[data-testid=progress]')?.textContent === text, `已答 ${asked} / ${asked}`);
    assert.match(await page.locator('[data-testid="progress-bay-1"]').innerText(), /^已答 (\d+) \/ \1$/);
    assert.equal(await page.locator('[data-testid=problems]').count(), 0);

    // Submitting asks first; cancelling changes nothing.
    await page.locator('[data-testid=submit]').tap();
    await page.locator('[data-testid=confirm]').waitFor();
    await page.locator('[data-testid=confirm]').scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${shots}/submit-confirm-${name}.png` });
    await page.locator('[data-testid=cancel-submit]').tap();
    assert.equal(await page.evaluate((doc) => Boolean(window.walkaround.client.state(doc).submitted), id), false);
    await page.locator('[data-testid=submit]').tap();
    await page.locator('[data-testid=confirm-submit]').tap();
    await page.waitForSelector('[data-testid=submit-card]', { state: 'detached' });
    assert.equal(await page.locator('#toast').innerText(), '已提交');
    assert.equal(await page.evaluate((doc) => window.walkaround.client.state(doc).submitted.by, id), 'wang');
    assert.equal(await page.locator(`[data-testid="remove-photo-${key}"]`).count(), 0, 'no removing after submission');
    await settled(page);
    assert.deepEqual(errors, []);
    await context.close();
  });
}

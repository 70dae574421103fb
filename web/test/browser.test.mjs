// The packed package in headless Chromium: a page imports it through its
// ESM browser entry and drives real IndexedDB. Serve the scratch folder on
// 127.0.0.1 first (web/test/run.sh does) and pass its URL as BASE_URL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(process.env.TOOLS_DIR + '/');
const { chromium } = require('playwright-core');

test('the ESM entry drives IndexedDB in a page', { timeout: 60_000 }, async () => {
  const profile = mkdtempSync(join(tmpdir(), 'allot-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await ctx.newPage();
    const errors = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${process.env.BASE_URL}/page.html`);
    await page.waitForFunction(() => window.__result !== undefined, null, { timeout: 45_000 });
    const r = await page.evaluate(() => window.__result);
    assert.equal(r.failed, undefined, r.failed);
    assert.deepEqual(errors, []);
    assert.equal(r.booked, 60);
    assert.equal(r.distinct, 60);
    assert.equal(r.soldOut, 20);
    assert.equal(r.verifiedLive, 60);
    assert.equal(r.ok, true, JSON.stringify(r.violations));
    assert.equal(r.errorCode, 'E_NOT_FINITE');
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

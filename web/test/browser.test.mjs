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
    assert.deepEqual(r.syncReads, [1, 1, 1, 1], "sync read each handle's feed once");
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

test('a hold whose owner vanished: after its TTL the slot is bookable again, with no background job', { timeout: 60_000 }, async () => {
  const profile = mkdtempSync(join(tmpdir(), 'allot-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update',
      '--disable-sync', '--no-first-run'],
  });
  try {
    const open = async () => {
      const p = await ctx.newPage();
      await p.goto(`${process.env.BASE_URL}/api.html`);
      await p.waitForFunction(() => window.allot !== undefined);
      return p;
    };
    // Tab 1 takes a paid hold on table 7 for tonight, 8 s to pay...
    const owner = await open();
    const held = await owner.evaluate(async () => {
      const db = await window.allot.open({ name: 'vanish' });
      await db.defineUnits([{ id: 'table-7', kind: 'exclusive', attrs: { seats: 4 } }]);
      const o = await db.hold({
        actor: 'ann', key: 'dinner', unit: 'table-7', span: { start: 1140, end: 1260 },
        hold: { ttlMs: 8000, extRef: 'pi_ann' },
      });
      db.close();
      return o;
    });
    assert.equal(held.status, 'held');
    // ...and vanishes: the tab is closed, nothing of it runs any more.
    await owner.close();
    const other = await open();
    const book = () => other.evaluate(async () => {
      const db = await window.allot.open({ name: 'vanish' });
      const o = await db.book({ actor: 'bob', key: 'dinner', unit: 'table-7', span: { start: 1200, end: 1320 } });
      db.close();
      return o;
    });
    // Before the TTL the hold still blocks the slot.
    assert.ok(Date.now() < held.expiresAt - 1000, 'the machine was too slow to check before the TTL');
    const early = await book();
    assert.equal(early.status, 'overlap', JSON.stringify(early));
    // After it, the same request books: expiry is computed when the stream
    // is read; nothing had to run in between.
    const wait = held.expiresAt - Date.now() + 50;
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const late = await book();
    assert.equal(late.status, 'booked', JSON.stringify(late));
    const check = await other.evaluate(async () => {
      const db = await window.allot.open({ name: 'vanish' });
      const report = await db.verify();
      const refunds = await db.reconcile();
      const roster = await db.roster({ unit: 'table-7' });
      return { report, refunds, states: roster[0].entries.map((e) => e.state) };
    });
    assert.equal(check.report.ok, true, JSON.stringify(check.report.violations));
    assert.equal(check.report.liveBookings, 1);
    assert.deepEqual(check.states, ['expired', 'confirmed']);
    // The lapsed paid hold is listed for a refund.
    assert.deepEqual(check.refunds.map((r) => r.extRef), ['pi_ann']);
  } finally {
    await ctx.close();
    rmSync(profile, { recursive: true, force: true });
  }
});

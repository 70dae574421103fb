// Faults in the real browser (headless Chromium, real IndexedDB): a worker
// killed in the middle of a holiday run, the page reloaded in the middle of
// a run, and two tabs racing on the same database. After each: nothing
// half-written, a consistent recount, and a second run books what is left.
// Run by demo/e2e/run.sh (BASE_URL is the served demo).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { launch, parseLine, query, runScenario, watch } from './browser.mjs';

const BASE = process.env.BASE_URL;
const T = { timeout: 600_000 };
// Batch 16: a worker reports after every batch, and the faults below strike
// between reports, so each worker needs several (the demo's default batch is
// a worker's whole share).
const HOLIDAY = {
  scenario: 'holiday', hotels: 20, rooms: 50, sessions: 1000, workers: 16, window: 32, batch: 16,
  price_min: 0, price_max: 4294967295, seed: 1, durability: 'relaxed',
};

let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

/** The recount line the page shows: `recount units=... live_bookings=... double_booked=... free_eligible=... violations=...`. */
async function recount(page) {
  await page.waitForSelector('#recount[data-done="1"]', { timeout: 120_000 });
  const text = (await page.locator('#recount').textContent()).trim();
  assert.match(text, /^recount units=\d+ live_bookings=\d+ double_booked=\d+ free_eligible=\d+ violations=\d+$/, text);
  return parseLine(text);
}

/** Clicks Verify (a fresh connection, everything replayed) and returns its recount. */
async function verify(page) {
  await page.evaluate(() => document.querySelector('#recount').removeAttribute('data-done'));
  await page.click('#verify');
  return recount(page);
}

/** A recount that proves the store consistent: every room booked at most once, nothing lost. */
function assertConsistent(r, rooms) {
  assert.equal(r.violations, 0, 'verify found broken invariants');
  assert.equal(r.double_booked, 0);
  assert.equal(r.units, rooms);
  assert.equal(r.live_bookings + r.free_eligible, rooms, 'every room is either booked once or free');
}

/**
 * A second run on the same database (resume=1: keep it) books every room:
 * each of the `kept` bookings the first run left is answered from its claim
 * (a replay, never a second booking), and the other sessions book the rest.
 */
async function secondRunBooksTheRest(page, kept) {
  const r = await runScenario(page, BASE, { ...HOLIDAY, resume: 1 });
  const f = parseLine(r.line);
  assert.equal(await page.locator('#result').getAttribute('data-resumed'), '1');
  assert.equal(Number(await page.locator('#result').getAttribute('data-replays')), kept, 'every kept booking replays');
  assert.equal(r.ok, true, `${r.line} / ${r.verdict}`);
  assert.equal(f.booked, 1000);
  assert.equal(f.verified_booked, 1000);
  assert.equal(f.double_booked, 0);
  assert.equal(f.failed_sessions, 0);
  assertConsistent(await recount(page), 1000);
}

test('a worker terminated in the middle of a holiday run: no partial write, a consistent recount, then the rest books', T, async () => {
  const page = await browser.ctx.newPage();
  const seen = watch(page);
  // Worker 3 is terminated for real once it reports 20 sessions done,
  // whatever it is in the middle of (reading, deciding, committing).
  const r = await runScenario(page, BASE, { ...HOLIDAY, kill_worker: 3, kill_after: 20 });
  const f = parseLine(r.line);
  assert.equal(await page.locator('#workers-grid .tile[data-state="killed"]').count(), 1);
  // Its remaining sessions never ran: fewer than 1000 bookings...
  assert.ok(f.verified_booked < 1000, r.line);
  // ...and what is in the store is whole: the recount (verify with every
  // acknowledged booking) finds no broken invariant and no room twice.
  const before = await recount(page);
  assertConsistent(before, 1000);
  assert.deepEqual(seen.errors, []);
  await secondRunBooksTheRest(page, before.live_bookings);
  await page.close();
});

test('a page reloaded in the middle of a run: a consistent recount, then the rest books', T, async () => {
  const page = await browser.ctx.newPage();
  await page.goto(`${BASE}?${query(HOLIDAY)}`);
  // Let the race get going, then reload: every worker dies with the page.
  await page.waitForFunction(() => Number(document.querySelector('#c-booked')?.textContent.replace(/\D/g, '')) >= 100, null, {
    timeout: 120_000,
  });
  await page.reload();
  await page.waitForSelector('#app[data-ready="1"]');
  const r = await verify(page);
  assert.ok(r.live_bookings >= 100 && r.live_bookings < 1000, JSON.stringify(r));
  assertConsistent(r, 1000);
  await secondRunBooksTheRest(page, r.live_bookings);
  await page.close();
});

test('two tabs racing on the same database: no double booking, every acknowledged booking present', T, async () => {
  const a = await browser.ctx.newPage();
  const b = await browser.ctx.newPage();
  // Tab A starts afresh (deletes the database, defines the rooms, races);
  // once it races, tab B joins with its own sessions (seed 2) and its own
  // workers on the same database.
  const params = { ...HOLIDAY, sessions: 700, workers: 8 };
  const ra = runScenario(a, BASE, { ...params, seed: 1 });
  await a.waitForFunction(() => Number(document.querySelector('#c-booked')?.textContent.replace(/\D/g, '')) >= 1, null, {
    timeout: 120_000,
  });
  const rb = runScenario(b, BASE, { ...params, seed: 2, resume: 1 });
  const [resA, resB] = await Promise.all([ra, rb]);
  const fa = parseLine(resA.line);
  const fb = parseLine(resB.line);
  // 1400 sessions for 1000 rooms: exactly 1000 booked between the two tabs.
  assert.equal(fa.booked + fb.booked, 1000, `${resA.line}\n${resB.line}`);
  assert.equal(fa.double_booked + fb.double_booked, 0);
  assert.equal(fa.failed_sessions + fb.failed_sessions, 0);
  // Each tab's recount included its own acknowledged bookings: none missing.
  for (const page of [a, b]) assertConsistent(await recount(page), 1000);
  // And a third look, through a fresh connection, sees all 1000.
  const c = await verify(b);
  assert.equal(c.live_bookings, 1000);
  assertConsistent(c, 1000);
  await a.close();
  await b.close();
});

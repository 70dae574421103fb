// The demo end to end in headless Chromium (demo/e2e/run.sh serves
// demo/dist and passes its URL as BASE_URL): every scenario ends with its
// invariant, the holiday figures match the native definitions, a reload shows
// the kept and recounted state, and the page runs under its CSP.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { launch, parseLine, query, recordViolations, runScenario, watch } from './browser.mjs';

const BASE = process.env.BASE_URL;
if (!BASE) throw new Error('BASE_URL is not set: run demo/e2e/run.sh');
const here = dirname(fileURLToPath(import.meta.url));
const ARTIFACTS = process.env.ARTIFACTS_DIR || resolve(here, '../../artifacts');
const T = { timeout: 600_000 };

let browser;
let page;
let seen;

before(async () => {
  browser = await launch();
  await recordViolations(browser.ctx);
  page = browser.ctx.pages()[0] || await browser.ctx.newPage();
  seen = watch(page);
});

after(async () => {
  await browser?.close();
});

/** Runs a scenario; asserts it finished with its invariant and no CSP violation. */
async function run(params) {
  const r = await runScenario(page, BASE, params);
  assert.deepEqual([...r.csp, ...seen.csp], [], 'CSP violations');
  assert.deepEqual(seen.errors, [], 'page errors');
  assert.equal(r.ok, true, `invariant failed: ${r.line} / ${r.verdict}`);
  return { ...r, f: parseLine(r.line) };
}

/** Room r's price, computed here independently of the Rust definition. */
function price(r) {
  return (BigInt(r) * 2654435761n) % 4294967296n;
}

function eligible(rooms, lo, hi) {
  let n = 0;
  for (let r = 0; r < rooms; r++) {
    const p = price(r);
    if (p >= BigInt(lo) && p <= BigInt(hi)) n++;
  }
  return n;
}

test('holiday rush: 1000 rooms, 1000 sessions, 16 workers: each room booked once', T, async () => {
  const { f, line, verdict } = await run({
    scenario: 'holiday', hotels: 20, rooms: 50, sessions: 1000, workers: 16, window: 32,
    price_min: 0, price_max: 4294967295, seed: 1, durability: 'relaxed',
  });
  assert.match(line, /^holiday_rush_done sessions=\d+ rooms=\d+ eligible=\d+ booked=\d+ verified_booked=\d+ sold_out=\d+ double_booked=\d+ read_queries=\d+ conflicts=\d+ already_booked=\d+ failed_sessions=\d+ wall_secs=\d+\.\d{3}$/);
  assert.equal(f.name, 'holiday_rush_done');
  assert.equal(f.sessions, 1000);
  assert.equal(f.rooms, 1000);
  assert.equal(f.eligible, 1000);
  assert.equal(f.booked, 1000);
  assert.equal(f.verified_booked, 1000);
  assert.equal(f.double_booked, 0);
  assert.equal(f.failed_sessions, 0);
  assert.equal(f.sold_out, 0);
  assert.ok(f.wall_secs > 0);
  assert.match(verdict, /1000 rooms, 1000 sessions: 1000 bookings, each room booked exactly once/);
  // The page drew the race: 16 worker tiles, all done, and a chart with both series.
  assert.equal(await page.locator('#workers-grid .tile[data-state="done"]').count(), 16);
  assert.equal(await page.locator('#chart svg polyline.series').count(), 2);
  // The inspector shows a booked room's stream.
  await page.waitForSelector('#stream-body tr[data-event="booked"]');
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: resolve(ARTIFACTS, 'demo-holiday.png'), fullPage: true });
});

test('a reload shows the kept run and a fresh recount from IndexedDB', T, async () => {
  // The previous test left its run in IndexedDB; the URL has no autostart now.
  const before = await page.locator('#result').textContent();
  assert.match(before, /^holiday_rush_done /);
  await page.reload();
  await page.waitForSelector('#app[data-ready="1"]');
  await page.waitForSelector('#recount[data-done="1"]');
  assert.equal(await page.locator('#stored-line').textContent(), before);
  const recount = await page.locator('#recount').textContent();
  assert.match(recount, /^recount units=1000 live_bookings=1000 double_booked=0 free_eligible=0 violations=0$/);
  assert.equal(await page.locator('#recount').getAttribute('data-ok'), '1');
  assert.equal(await page.locator('#recount').getAttribute('data-live'), '1000');
  // Nothing ran: the result of this page load is empty.
  assert.equal(await page.locator('#result').getAttribute('data-done'), null);
  // Verify recounts again, through another fresh connection.
  await page.evaluate(() => { document.querySelector('#recount').removeAttribute('data-done'); });
  await page.click('#verify');
  await page.waitForSelector('#recount[data-done="1"]');
  assert.equal(await page.locator('#recount').textContent(), recount);
  // The inspector reads a unit's stream.
  await page.fill('#unit', 'room-00000007');
  await page.click('#inspect');
  await page.waitForSelector('#stream-body tr[data-event="booked"]');
  assert.match(await page.locator('#unit-summary').textContent(), /^room-00000007: exclusive; hotel = 0, price = \d+\. 2 events in 2 streams, 1 booking\./);
});

test('last room: 50 sessions, one room, exactly one booking', T, async () => {
  const { f, line } = await run({ scenario: 'last-room', sessions: 50, workers: 16 });
  assert.match(line, /^last_room_done sessions=50 rooms=1 booked=1 verified_booked=1 sold_out=49 double_booked=0 conflicts=\d+ wall_secs=\d+\.\d{3}$/);
  assert.equal(f.booked, 1);
  assert.equal(f.verified_booked, 1);
});

test('last seat: two bookers, one seat: one booked, one full', T, async () => {
  const { line } = await run({ scenario: 'last-seat' });
  assert.match(line, /^last_seat_done bookers=2 capacity=1 booked=1 full=1 verified_booked=1 conflicts=\d+$/);
});

test('a price range books exactly the eligible rooms (eligibility computed here with BigInt)', T, async () => {
  const [lo, hi] = [500_000_000, 1_499_999_999];
  const want = eligible(1000, lo, hi);
  assert.ok(want > 100 && want < 400, `the range should select a subset, got ${want}`);
  const { f } = await run({
    scenario: 'holiday', hotels: 20, rooms: 50, sessions: 1000, workers: 16, price_min: lo, price_max: hi, seed: 7,
  });
  assert.equal(f.eligible, want);
  assert.equal(f.booked, want);
  assert.equal(f.verified_booked, want);
  assert.equal(f.sold_out, 1000 - want);
  assert.equal(f.double_booked, 0);
  assert.equal(f.failed_sessions, 0);
});

test('batch=1 books one request at a time (book_any) with the same result', T, async () => {
  const { f } = await run({ scenario: 'holiday', hotels: 2, rooms: 50, sessions: 120, workers: 4, batch: 1, seed: 3 });
  assert.equal(f.rooms, 100);
  assert.equal(f.booked, 100);
  assert.equal(f.verified_booked, 100);
  assert.equal(f.sold_out, 20);
  assert.equal(f.double_booked, 0);
  assert.equal(f.failed_sessions, 0);
});

test('cold=1: workers race from empty caches (no load before the clock) with the same guarantees', T, async () => {
  const { f } = await run({ scenario: 'holiday', hotels: 4, rooms: 50, sessions: 250, workers: 8, seed: 5, cold: 1 });
  assert.equal(f.booked, 200);
  assert.equal(f.verified_booked, 200);
  assert.equal(f.sold_out, 50);
  assert.equal(f.double_booked, 0);
  assert.equal(f.failed_sessions, 0);
  const last = await run({ scenario: 'last-room', sessions: 50, workers: 16, cold: 1 });
  assert.equal(last.f.booked, 1);
  assert.equal(last.f.verified_booked, 1);
});

test('dinner service: no overlapping parties, no undersized tables', T, async () => {
  const { f, line } = await run({ scenario: 'dinner', hotels: 3, rooms: 16, sessions: 200, workers: 16 });
  assert.match(line, /^dinner_service_done parties=200 seated=\d+ turned_away=\d+ overlaps=0 undersized=0 conflicts=\d+ wall_secs=\d+\.\d{3}$/);
  assert.equal(f.seated + f.turned_away, 200);
  assert.ok(f.seated > 0 && f.turned_away > 0, 'the evening should be busy enough to turn parties away');
});

test('long stays: no night over its allotment, no partial stay', T, async () => {
  const { f, line } = await run({ scenario: 'long-stays', hotels: 3, rooms: 10, sessions: 400, workers: 16 });
  assert.match(line, /^long_stays_done requests=400 stays_booked=\d+ nights_booked=\d+ full=\d+ over_capacity=0 partial_stays=0 conflicts=\d+ wall_secs=\d+\.\d{3}$/);
  assert.equal(f.stays_booked + f.full, 400);
  assert.ok(f.nights_booked > f.stays_booked, 'multi-night stays were booked');
  assert.ok(f.nights_booked <= 3 * 10 * 14, 'no more room-nights than the allotments hold');
});

test('the page runs under its Content-Security-Policy, which is enforced', T, async () => {
  const res = await page.goto(`${BASE}?${query({ scenario: 'last-seat' }, { autostart: false })}`);
  const header = res.headers()['content-security-policy'];
  assert.match(header, /default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'/);
  assert.match(header, /object-src 'none'; base-uri 'none'; form-action 'none'/);
  const meta = await page.locator('meta[http-equiv="Content-Security-Policy"]').getAttribute('content');
  assert.equal(meta, header);
  for (const path of ['/allot-demo_bg.wasm', '/worker_bg.wasm']) {
    const r = await page.request.get(`${BASE.replace(/\/$/, '')}${path}`);
    assert.equal(r.headers()['content-type'], 'application/wasm', path);
  }
  await page.waitForSelector('#app[data-ready="1"]');
  assert.equal(await page.locator('script:not([src])').count(), 0, 'no inline script');
  assert.deepEqual(await page.evaluate(() => window.__cspViolations), [], 'no violation while loading');
  assert.deepEqual(seen.csp, []);
  // And it is enforced: an injected inline script does not run, and the
  // page reports the violation (the only one this test expects).
  const ran = await page.evaluate(async () => {
    const s = document.createElement('script');
    s.textContent = 'window.__inline = 1';
    document.head.appendChild(s);
    await new Promise((r) => setTimeout(r, 100));
    return window.__inline;
  });
  assert.equal(ran, undefined, 'an inline script ran despite the CSP');
  const violations = await page.evaluate(() => window.__cspViolations);
  // One report per policy that blocked it (the header's and the meta tag's).
  assert.ok(violations.length >= 1 && violations.length <= 2, JSON.stringify(violations));
  for (const v of violations) assert.match(v, /^script-src/);
});

test('user-provided strings are rendered as text, never as HTML', T, async () => {
  await page.goto(`${BASE}?${query({ scenario: 'holiday', hotels: 1, rooms: 2, sessions: 2, workers: 1 }, { autostart: false })}`);
  await page.waitForSelector('#app[data-ready="1"]');
  const evil = '<img src=x onerror="window.__pwned=1">room';
  await page.fill('#unit', evil);
  await page.click('#inspect');
  await page.waitForFunction(() => document.querySelector('#unit-summary').textContent.length > 0);
  assert.equal(await page.locator('#unit-summary img').count(), 0);
  assert.equal(await page.evaluate(() => window.__pwned), undefined);
  // A bad URL parameter is reported as text too.
  await page.goto(`${BASE}?scenario=${encodeURIComponent('<b>brunch</b>')}&autostart=1`);
  await page.waitForSelector('#result[data-done="1"]');
  assert.equal(await page.locator('#result').getAttribute('data-ok'), '0');
  assert.match(await page.locator('#form-error').textContent(), /scenario must be one of .* not "<b>brunch<\/b>"/);
  assert.equal(await page.locator('#form-error b').count(), 0);
});

test('headless: prints the line and exits 0 when the invariant held, 1 when the run failed', T, () => {
  const headless = resolve(here, 'headless.mjs');
  const ok = spawnSync(process.execPath, [headless, BASE, '--scenario', 'last-seat'], { encoding: 'utf8' });
  assert.equal(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /^last_seat_done bookers=2 capacity=1 booked=1 full=1 verified_booked=1 conflicts=\d+\n$/);
  const bad = spawnSync(process.execPath, [headless, BASE, '--scenario', 'holiday', '--workers', '33'], { encoding: 'utf8' });
  assert.equal(bad.status, 1, bad.stderr);
  assert.match(bad.stdout, /^error: bad URL parameters: workers must be in 1..=32\n$/);
});

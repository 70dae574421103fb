// The packed npm package, installed in a scratch folder, from Node (ESM):
// a last-seat race, a small holiday rush and the error contract, on the
// in-memory store (Node's default).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import init, { open, isAllotError, errorCodes, dropMemory } from 'allot-web';

await init(); // a no-op in Node; the same code runs in browsers

const NOW = 1_797_984_000_000;

test('the default storage in Node is memory', async () => {
  const db = await open({ name: 'default-storage' });
  assert.equal(db.storage, 'memory');
});

test('last seat: two handles race, exactly one books', async () => {
  for (let round = 0; round < 20; round++) {
    const name = `last-seat-${round}`;
    const admin = await open({ name, storage: 'memory' });
    await admin.defineUnits([{ id: 'tour', kind: 'pool', capacity: 1 }]);
    const [a, b] = [await open({ name, storage: 'memory' }), await open({ name, storage: 'memory' })];
    const outcomes = await Promise.all([
      a.book({ actor: 'ada', key: 'seat', unit: 'tour', now: NOW }),
      b.book({ actor: 'bob', key: 'seat', unit: 'tour', now: NOW }),
    ]);
    const statuses = outcomes.map((o) => o.status).sort();
    assert.deepEqual(statuses, ['booked', 'full']);
    const report = await admin.verify({ now: NOW });
    assert.equal(report.ok, true);
    assert.equal(report.liveBookings, 1);
    dropMemory(name);
  }
});

test('a small holiday rush books every room once and the recount agrees', async () => {
  const db = await open({ name: 'holiday', storage: 'memory' });
  await db.defineIndex({ name: 'price', fields: [{ attr: 'price', type: 'u32' }] });
  const rooms = 200;
  const units = [];
  for (let r = 0; r < rooms; r++) {
    const price = Number((BigInt(r) * 2654435761n) % 4294967296n);
    units.push({ id: `room-${r}`, kind: 'exclusive', attrs: { hotel: Math.floor(r / 50), price } });
  }
  assert.equal(await db.defineUnits(units), rooms);
  const stay = { start: 20811, end: 20814 };
  // 16 "workers" on separate handles, 250 sessions for 200 rooms.
  const handles = await Promise.all(Array.from({ length: 16 }, () => open({ name: 'holiday', storage: 'memory' })));
  const sessions = Array.from({ length: 250 }, (_, i) => i);
  const outcomes = await Promise.all(
    sessions.map((i) =>
      handles[i % 16].bookAny({
        actor: `s1-${i}`, key: 'holiday', index: 'price', lo: 0, hi: 4294967295, hiInclusive: true,
        span: stay, pick: 'spread', now: NOW,
      }),
    ),
  );
  const booked = outcomes.filter((o) => o.status === 'booked');
  assert.equal(booked.length, rooms);
  assert.equal(outcomes.filter((o) => o.status === 'sold-out').length, 50);
  assert.equal(new Set(booked.map((o) => o.unit)).size, rooms, 'no room twice');
  const report = await db.verify({ now: NOW, acknowledged: booked.map((o) => o.booking) });
  assert.equal(report.ok, true, JSON.stringify(report.violations));
  assert.equal(report.liveBookings, rooms);
  assert.equal(report.actorsWithMultipleLive, 0);
  // Replaying a session books nothing more.
  const again = await handles[0].bookAny({
    actor: 's1-0', key: 'holiday', index: 'price', lo: 0, hi: 4294967295, hiInclusive: true,
    span: stay, pick: 'spread', now: NOW,
  });
  assert.equal(again.replayed, true);
  assert.equal(again.unit, outcomes[0].unit);
});

test('spreading bookers start all over the range, not at its start (wasm32 too)', async () => {
  // Each fresh handle has no hint yet: it starts at a point of the price
  // range derived from its booking id. Derived with 64 bits on every
  // platform: a usize-wide hash on wasm32 once put every start in the first
  // 2^-32 of the range, and so every session in the cheapest rooms.
  const name = 'spread-starts';
  const db = await open({ name, storage: 'memory' });
  await db.defineIndex({ name: 'price', fields: [{ attr: 'price', type: 'u32' }] });
  const rooms = 1000;
  const priceOf = (r) => Number((BigInt(r) * 2654435761n) % 4294967296n);
  const units = Array.from({ length: rooms }, (_, r) => ({ id: `room-${r}`, kind: 'exclusive', attrs: { price: priceOf(r) } }));
  await db.defineUnits(units);
  const quarters = new Set();
  for (let i = 0; i < 16; i++) {
    const h = await open({ name, storage: 'memory' });
    const o = await h.bookAny({
      actor: `s-${i}`, key: 'k', index: 'price', lo: 0, hi: 4294967295, hiInclusive: true,
      span: { start: 20811, end: 20814 }, pick: 'spread', now: NOW,
    });
    assert.equal(o.status, 'booked');
    quarters.add(Math.floor(priceOf(Number(o.unit.slice('room-'.length))) / 2 ** 30));
  }
  assert.equal(quarters.size, 4, `16 first bookings fell in quarters ${[...quarters]} of the price range`);
  dropMemory(name);
});

test('verify reports an acknowledged booking the store lacks, in words', async () => {
  const db = await open({ name: 'missing-ack', storage: 'memory' });
  await db.defineUnits([{ id: 'tour', kind: 'pool', capacity: 2 }]);
  const kept = await db.book({ actor: 'ada', key: 'seat', unit: 'tour', now: NOW });
  assert.equal(kept.status, 'booked');
  const report = await db.verify({ now: NOW, acknowledged: [kept.booking, { actor: 'bob', key: 'never' }] });
  assert.equal(report.ok, false);
  assert.deepEqual(report.violations, [
    { kind: 'missing-acknowledged', detail: 'booking bob/never was acknowledged but is not in the store' },
  ]);
  dropMemory('missing-ack');
});

test('errors are AllotErrors with a stable code, and the instance survives them', async () => {
  const db = await open({ name: 'errors', storage: 'memory' });
  await db.defineUnits([{ id: 'tour', kind: 'pool', capacity: 2 }]);
  const bad = [
    [() => db.book({ actor: 'a', key: 'k', unit: 'tour', qty: NaN }), 'E_NOT_FINITE'],
    [() => db.book({ actor: 'a', key: 'k', unit: 'tour', qty: -3 }), 'E_QTY_INVALID'],
    [() => db.book({ actor: 'a', key: 'k', unit: 'nope' }), 'E_UNKNOWN_UNIT'],
    [() => db.book({ actor: 'a'.repeat(100_000), key: 'k', unit: 'tour' }), 'E_ID_TOO_LONG'],
    [() => db.book({ actor: 'a', key: 'k' }), 'E_INVALID_INPUT'],
    [() => db.book('tour'), 'E_INVALID_INPUT'],
    [() => db.defineUnits([{ id: 'p', kind: 'pool', capacity: 0 }]), 'E_CAPACITY_ZERO'],
    // A misspelt field is refused by name, in every request shape.
    [() => db.book({ actor: 'a', key: 'k', unit: 'tour', qtty: 2 }), 'E_INVALID_INPUT', /unknown field `qtty`/],
    [() => db.bookAny({ actor: 'a', key: 'k', index: 'price', span: { start: 1, end: 2, stop: 3 } }), 'E_INVALID_INPUT',
      /span has an unknown field `stop`/],
    [() => db.defineUnits([{ id: 'p', kind: 'pool', capacity: 1, atrs: {} }]), 'E_INVALID_INPUT', /unknown field `atrs`/],
    // Not a plain object, or one that cannot be read.
    [() => db.book(null), 'E_INVALID_INPUT', /request must be an object/],
    [() => db.book(['a', 'k', 'tour']), 'E_INVALID_INPUT', /request must be an object/],
    [() => db.book(() => 'tour'), 'E_INVALID_INPUT', /request must be an object/],
    [() => db.book({ actor: 'a', key: 'k', get unit() { throw new Error('boom'); } }), 'E_INVALID_INPUT',
      /request could not be read/],
    [() => db.book(new Proxy({}, { ownKeys() { throw new Error('boom'); } })), 'E_INVALID_INPUT',
      /request could not be read/],
  ];
  for (const [call, code, message] of bad) {
    await assert.rejects(call, (e) => {
      assert.ok(e instanceof Error);
      assert.ok(isAllotError(e));
      assert.equal(e.code, code, e.message);
      if (message) assert.match(e.message, message);
      assert.ok(errorCodes().includes(e.code));
      return true;
    });
  }
  // Every allowed field, some explicitly undefined: accepted.
  const ok = await db.book({ actor: 'a', key: 'k', unit: 'tour', now: NOW, qty: undefined, hold: undefined });
  assert.equal(ok.status, 'booked');
  await db.book({ actor: 'b', key: 'k', unit: 'tour', now: NOW });
  await assert.rejects(
    () => db.confirm({ actor: 'a', key: 'k', by: 'mallory', now: NOW }),
    (e) => e.code === 'E_NOT_OWNER' && e.booking.actor === 'a' && e.by === 'mallory',
  );
});

test('a request is read from its own fields, or from the getters of a class instance', async () => {
  const db = await open({ name: 'request-shapes', storage: 'memory' });
  await db.defineUnits([{ id: 'tour', kind: 'pool', capacity: 10 }]);
  // A field set on Object.prototype is no field of a plain request.
  Object.prototype.qty = 5;
  let polluted;
  try {
    polluted = await db.book({ actor: 'a', key: 'k', unit: 'tour', now: NOW });
  } finally {
    delete Object.prototype.qty;
  }
  assert.equal(polluted.status, 'booked');
  assert.equal(polluted.qty, 1);
  // No prototype at all.
  const bare = Object.assign(Object.create(null), { actor: 'b', key: 'k', unit: 'tour', qty: 2, now: NOW });
  assert.equal((await db.book(bare)).qty, 2);
  // A class instance: its fields may be getters on its prototype.
  class Req {
    constructor(actor) { this.actor = actor; }
    get key() { return 'k'; }
    get unit() { return 'tour'; }
    get qty() { return 3; }
    get now() { return NOW; }
  }
  const got = await db.book(new Req('c'));
  assert.deepEqual([got.status, got.booking.actor, got.qty], ['booked', 'c', 3]);
  // Unknown fields are refused either way.
  await assert.rejects(() => db.book(Object.assign(new Req('d'), { qtty: 1 })), /unknown field `qtty`/);
  await assert.rejects(() => db.book({ actor: 'd', key: 'k', unit: 'tour', qtty: 1 }), /unknown field `qtty`/);
  dropMemory('request-shapes');
});

test('outcomes are plain objects with exactly the documented fields', async () => {
  const db = await open({ name: 'shapes', storage: 'memory' });
  await db.defineUnits([
    { id: 'room', kind: 'exclusive' },
    { id: 'tour', kind: 'pool', capacity: 2 },
    { id: 'beds', kind: 'allotment', capacity: 3 },
  ]);
  const booking = (actor) => ({ actor, key: 'k' });
  const booked = await db.book({ ...booking('a'), unit: 'room', span: { start: 10, end: 12 }, now: NOW });
  assert.deepStrictEqual(booked, {
    status: 'booked', booking: booking('a'), unit: 'room', span: { start: 10, end: 12 }, qty: 1, seat: 1, replayed: false,
  });
  const held = await db.hold({ ...booking('b'), unit: 'tour', hold: { ttlMs: 1000 }, now: NOW });
  assert.deepStrictEqual(held, {
    status: 'held', booking: booking('b'), unit: 'tour', span: null, qty: 1, seat: 1, expiresAt: NOW + 1000,
    replayed: false,
  });
  const days = await db.book({ ...booking('c'), unit: 'beds', span: { from: 5, to: 7 }, qty: 2, now: NOW });
  assert.deepStrictEqual(days, {
    status: 'booked', booking: booking('c'), unit: 'beds', span: { from: 5, to: 7 }, qty: 2, seat: 1, replayed: false,
  });
  const again = await db.book({ ...booking('a'), unit: 'room', span: { start: 10, end: 12 }, now: NOW });
  assert.deepStrictEqual(again, { ...booked, replayed: true });
  assert.deepStrictEqual(await db.confirm({ ...booking('b'), now: NOW }), {
    status: 'confirmed', booking: booking('b'), already: false,
  });
  assert.deepStrictEqual(await db.book({ ...booking('d'), unit: 'room', span: { start: 11, end: 13 }, now: NOW }), {
    status: 'overlap', unit: 'room', with: { start: 10, end: 12 },
  });
});

test('bookAnyMany: one result per request, in order; bad input refuses the whole call', async () => {
  const db = await open({ name: 'many', storage: 'memory' });
  await db.defineIndex({ name: 'price', fields: [{ attr: 'price', type: 'u32' }] });
  await db.defineUnits([10, 20, 30].map((price) => ({ id: `r${price}`, kind: 'exclusive', attrs: { price } })));
  const ask = (actor) => ({ actor, key: 'k', index: 'price', lo: 0, hi: 100, span: { start: 1, end: 2 } });
  const outs = await db.bookAnyMany([ask('a'), ask('b'), ask('c'), ask('d'), { ...ask('e'), index: 'nope' }], { now: NOW });
  assert.equal(outs.length, 5);
  assert.deepStrictEqual(outs.slice(0, 3).map((o) => [o.status, o.booking.actor]), [
    ['booked', 'a'], ['booked', 'b'], ['booked', 'c'],
  ]);
  assert.deepStrictEqual(new Set(outs.slice(0, 3).map((o) => o.unit)), new Set(['r10', 'r20', 'r30']));
  assert.equal(outs[3].status, 'sold-out');
  assert.ok(isAllotError(outs[4]));
  assert.equal(outs[4].code, 'E_UNKNOWN_INDEX');
  // A bad request refuses the whole call, and books none of it.
  await assert.rejects(
    () => db.bookAnyMany([ask('f'), { ...ask('g'), now: NOW }], { now: NOW }),
    (e) => e.code === 'E_INVALID_INPUT' && /`now` goes in the options/.test(e.message),
  );
  await assert.rejects(
    () => db.bookAnyMany([ask('f'), { ...ask('g'), qtty: 1 }], { now: NOW }),
    (e) => e.code === 'E_INVALID_INPUT' && /unknown field `qtty`/.test(e.message),
  );
  await db.defineUnits([{ id: 'r40', kind: 'exclusive', attrs: { price: 40 } }]);
  await assert.rejects(() => db.bookAnyMany([ask('f'), 'g'], { now: NOW }), (e) => e.code === 'E_INVALID_INPUT');
  const report = await db.verify({ now: NOW });
  assert.equal(report.ok, true);
  assert.equal(report.liveBookings, 3);
});

test('after a sell-out, the same ask is answered with no walk until a cancel gives a room back', async () => {
  const db = await open({ name: 'sold-out-memo', storage: 'memory' });
  await db.defineIndex({ name: 'price', fields: [{ attr: 'price', type: 'u32' }] });
  await db.defineUnits([0, 1, 2].map((r) => ({ id: `room-${r}`, kind: 'exclusive', attrs: { price: 100 } })));
  const ask = (actor) => ({
    actor, key: 'stay', index: 'price', lo: 0, hi: 1000, hiInclusive: true, span: { start: 1, end: 2 }, now: NOW,
  });
  for (const a of ['a', 'b', 'c']) assert.equal((await db.bookAny(ask(a))).status, 'booked');
  assert.equal((await db.bookAny(ask('d'))).status, 'sold-out');
  const walked = db.stats();
  assert.equal((await db.bookAny(ask('e'))).status, 'sold-out');
  assert.equal(db.stats().soldOutKnown, walked.soldOutKnown + 1);
  assert.equal(db.stats().readQueries, walked.readQueries);
  assert.equal((await db.cancel({ actor: 'b', key: 'stay', now: NOW })).status, 'cancelled');
  assert.equal((await db.bookAny(ask('f'))).status, 'booked');
  dropMemory('sold-out-memo');
});

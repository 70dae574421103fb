// The holiday rush on the in-memory store through the npm package in Node:
// the wasm side of "wasm vs native". Same rooms, prices, stay and
// auto-assign request as `allot holiday` (tests/src/holiday.rs); workers are
// handles on one in-memory database, interleaved on Node's one thread.
//
//   node scripts/bench/node-holiday.mjs --rooms N --sessions N [--workers 1] [--batch 1] [--warmup 0]
//
// Prints: node_holiday_done sessions=S rooms=N booked=B verified_booked=V wall_secs=T
import { open, dropMemory } from '../../web/pkg/node/index.mjs';

const args = Object.fromEntries(
  process.argv.slice(2).reduce((acc, a, i, all) => (i % 2 ? acc : [...acc, [a.replace(/^--/, ''), Number(all[i + 1])]]), []),
);
const rooms = args.rooms ?? 1000;
const sessions = args.sessions ?? rooms;
const workers = args.workers ?? 1;
const batch = args.batch ?? 1;
const NOW = 1_800_000_000_000;
const stay = { start: 20811, end: 20814 };
const ask = (i) => ({
  actor: `session-${i}`, key: 'holiday', index: 'price', lo: 0, hi: 4294967295, hiInclusive: true,
  span: stay, pick: 'spread',
});

// One rush on a fresh in-memory database named `name`; returns the booked
// count, the time from the first booking call to the last answer, and the
// verify report.
async function rush(name) {
  const db = await open({ name, storage: 'memory' });
  await db.defineIndex({ name: 'price', fields: [{ attr: 'price', type: 'u32' }] });
  for (let r0 = 0; r0 < rooms; r0 += 1000) {
    const units = [];
    for (let r = r0; r < Math.min(rooms, r0 + 1000); r++) {
      const price = Number((BigInt(r) * 2654435761n) % 4294967296n);
      units.push({ id: `room-${r}`, kind: 'exclusive', attrs: { hotel: Math.floor(r / 50), price } });
    }
    await db.defineUnits(units);
  }
  const handles = await Promise.all(Array.from({ length: workers }, () => open({ name, storage: 'memory' })));
  const t0 = performance.now();
  const booked = await Promise.all(handles.map(async (h, w) => {
    let n = 0;
    const mine = [];
    for (let i = w; i < sessions; i += workers) mine.push(i);
    for (let k = 0; k < mine.length; k += batch) {
      const chunk = mine.slice(k, k + batch);
      const outs = batch === 1
        ? [await h.bookAny({ ...ask(chunk[0]), now: NOW })]
        : await h.bookAnyMany(chunk.map(ask), { now: NOW });
      n += outs.filter((o) => o && o.status === 'booked').length;
    }
    return n;
  }));
  const wall = (performance.now() - t0) / 1000;
  const report = await db.verify({ now: NOW });
  dropMemory(name);
  return { booked: booked.reduce((a, x) => a + x, 0), wall, report };
}

// --warmup K: K untimed rehearsals of the same rush first, each on a database
// of its own, so that V8 has compiled the wasm with its optimising tier
// before the clock (the native build is compiled ahead of time).
for (let k = 0; k < (args.warmup ?? 0); k++) await rush(`rehearsal-${k}`);
const { booked: b, wall, report } = await rush('bench');
console.log(`node_holiday_done sessions=${sessions} rooms=${rooms} booked=${b} verified_booked=${report.liveBookings} `
  + `ok=${report.ok ? 1 : 0} wall_secs=${wall.toFixed(3)}`);
process.exit(report.ok && b === Math.min(rooms, sessions) && report.liveBookings === b ? 0 : 1);

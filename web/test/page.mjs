// Runs in headless Chromium, imported through the package's browser entry
// (the import map points `allot-web` at what package.json exports says).
import init, { open, isAllotError } from 'allot-web';

const NOW = 1_797_984_000_000;

async function run() {
  await init();
  const name = `page-${Date.now()}`;
  const db = await open({ name, durability: 'relaxed' });
  if (db.storage !== 'indexeddb') throw new Error(`storage is ${db.storage}`);
  await db.defineIndex({ name: 'price', fields: [{ attr: 'price', type: 'u32' }] });
  const units = [];
  for (let r = 0; r < 60; r++) {
    const price = Number((BigInt(r) * 2654435761n) % 4294967296n);
    units.push({ id: `room-${r}`, kind: 'exclusive', attrs: { price } });
  }
  await db.defineUnits(units);
  // Four connections race 80 sessions for 60 rooms.
  const handles = await Promise.all([1, 2, 3, 4].map(() => open({ name, durability: 'relaxed' })));
  // Each loads its cache first (a page that opens), one feed read each.
  await Promise.all(handles.map((h) => h.sync()));
  const syncReads = handles.map((h) => h.stats().feedReads);
  const outcomes = await Promise.all(
    Array.from({ length: 80 }, (_, i) =>
      handles[i % 4].bookAny({
        actor: `s-${i}`, key: 'holiday', index: 'price', lo: 0, hi: 4294967295, hiInclusive: true,
        span: { start: 20811, end: 20814 }, pick: 'spread', now: NOW,
      }),
    ),
  );
  const booked = outcomes.filter((o) => o.status === 'booked');
  // Recount through a fresh connection.
  const fresh = await open({ name });
  const report = await fresh.verify({ now: NOW, acknowledged: booked.map((o) => o.booking) });
  let errorCode = null;
  try {
    await fresh.book({ actor: 'x', key: 'y', unit: 'room-0', qty: NaN });
  } catch (e) {
    errorCode = isAllotError(e) ? e.code : `not an AllotError: ${e}`;
  }
  const conflicts = handles.reduce((n, h) => n + h.stats().conflicts, 0);
  return {
    booked: booked.length,
    distinct: new Set(booked.map((o) => o.unit)).size,
    soldOut: outcomes.filter((o) => o.status === 'sold-out').length,
    verifiedLive: report.liveBookings,
    ok: report.ok,
    violations: report.violations,
    conflicts,
    errorCode,
    syncReads,
  };
}

run().then(
  (r) => { window.__result = r; },
  (e) => { window.__result = { failed: String(e && e.stack || e) }; },
);

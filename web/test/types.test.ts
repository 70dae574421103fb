// Type-checks (tsc --noEmit --strict) code written against the package's
// generated types: if the types and the API drift apart, this fails.
import init, { open, isAllotError, errorCodes, type Outcome, type ErrorCode, type Db } from 'allot-web';

async function main(): Promise<void> {
  await init();
  const db: Db = await open({ name: 'typed', storage: 'memory', durability: 'relaxed', window: 16 });
  await db.defineIndex({ name: 'price', fields: [{ attr: 'price', type: 'u32', order: 'asc' }] });
  const n: number = await db.defineUnits([
    { id: 'r1', kind: 'exclusive', attrs: { price: 99, view: 'sea', smoking: false } },
    { id: 'rt', kind: 'allotment', capacity: 10 },
  ]);
  const o: Outcome = await db.bookAny({
    actor: 'a', key: 'k', index: 'price', lo: 0, hi: 100, span: { start: 1, end: 3 }, pick: 'spread',
  });
  if (o.status === 'booked') {
    const unit: string = o.unit;
    const seat: number = o.seat;
    void unit; void seat;
  }
  const stay = await db.book({ actor: 'a', key: 's', unit: 'rt', span: { from: 20811, to: 20814 }, qty: 2 });
  const held = await db.hold({ actor: 'b', key: 'h', unit: 'r1', span: { start: 5, end: 6 }, hold: { ttlMs: 60_000, extRef: 'pi_1' } });
  await db.confirm({ actor: 'b', key: 'h' });
  await db.cancel({ actor: 'b', key: 'h', by: 'b', now: Date.now() });
  await db.release({ actor: 'b', key: 'h' });
  const page = await db.query({ index: 'price', lo: 0, hi: 100, limit: 10 });
  const next: string | null = page.next;
  const rosters = await db.roster({ unit: 'rt', from: 20811, to: 20814 });
  const used: number = rosters[0].used;
  const life = await db.lifecycle('r1');
  const rec = await db.reconcile({ now: Date.now() });
  const report = await db.verify({ acknowledged: [{ actor: 'a', key: 'k' }] });
  const ok: boolean = report.ok;
  const synced: void = await db.sync();
  const stats = db.stats();
  const conflicts: number = stats.conflicts;
  const feedReads: number = stats.feedReads;
  const soldOutKnown: number = stats.soldOutKnown;
  const retired = await db.retireUnit('r1');
  try {
    await db.book({ actor: 'a', key: 'x', unit: 'nope' });
  } catch (e) {
    if (isAllotError(e)) {
      const code: ErrorCode = (e as { code: ErrorCode }).code;
      void code;
    }
  }
  const codes = errorCodes();
  void [n, stay, held, next, used, life, rec, ok, conflicts, retired, codes];
}
void main;

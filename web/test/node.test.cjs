// The same package through require(): the CommonJS entry works too.
'use strict';
const { test } = require('node:test');
const assert = require('node:assert/strict');
const allot = require('allot-web');

test('require() gives the whole API', async () => {
  assert.equal(typeof allot.open, 'function');
  assert.equal(typeof allot.init, 'function');
  await allot.init();
  const db = await allot.open({ name: 'cjs', storage: 'memory' });
  await db.defineUnits([{ id: 'table-1', kind: 'exclusive', attrs: { seats: 4 } }]);
  const a = await db.book({ actor: 'ann', key: 'k1', unit: 'table-1', span: { start: 1140, end: 1260 }, now: 1 });
  const b = await db.book({ actor: 'bob', key: 'k1', unit: 'table-1', span: { start: 1200, end: 1320 }, now: 1 });
  const c = await db.book({ actor: 'cy', key: 'k1', unit: 'table-1', span: { start: 1260, end: 1380 }, now: 1 });
  assert.deepEqual([a.status, b.status, c.status], ['booked', 'overlap', 'booked']);
});

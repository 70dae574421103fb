// Shared by the page and its workers: the workload's definitions, the same
// as the native command's (tests/src/holiday.rs) so the runs compare.

export const DB_NAME = 'allot-plain-js-baseline';

/** Room r's UInt32 price: (r * 2654435761) mod 2^32, as natively. */
export function price(r) {
  return Number((BigInt(r) * 2654435761n) % 4294967296n);
}

/** The run's parameters from a URLSearchParams. */
export function params(q) {
  const num = (k, d) => (q.has(k) ? Number(q.get(k)) : d);
  const p = {
    hotels: num('hotels', 20),
    rooms: num('rooms', 50),
    sessions: num('sessions', 1000),
    workers: num('workers', 16),
    priceMin: num('price_min', 0),
    priceMax: num('price_max', 4294967295),
    durability: q.get('durability') || 'relaxed',
  };
  for (const k of ['hotels', 'rooms', 'sessions', 'workers']) {
    if (!Number.isInteger(p[k]) || p[k] < 1) throw new Error(`${k} must be a positive integer`);
  }
  return p;
}

/** Promise of an IDBRequest's result. */
export function req(r) {
  return new Promise((resolve, reject) => {
    r.onsuccess = () => resolve(r.result);
    r.onerror = () => reject(r.error);
  });
}

/** Promise of a transaction's completion. */
export function done(tx) {
  return new Promise((resolve, reject) => {
    tx.oncomplete = () => resolve();
    tx.onabort = () => reject(tx.error || new Error('aborted'));
    tx.onerror = () => reject(tx.error);
  });
}

export function open(upgrade) {
  const r = indexedDB.open(DB_NAME, 1);
  if (upgrade) r.onupgradeneeded = () => upgrade(r.result);
  return req(r);
}

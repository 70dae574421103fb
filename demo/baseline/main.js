// The baseline's page: sets the rooms up, starts the workers, times the
// booking phase and recounts from a fresh connection. Prints a line in the
// demo's format: plain_js_holiday_done sessions=… booked=… wall_secs=…
import { DB_NAME, done, open, params, price, req } from './common.js';

const out = document.getElementById('result');

async function main() {
  const p = params(new URLSearchParams(location.search));
  await req(indexedDB.deleteDatabase(DB_NAME));
  const db = await open((db) => {
    db.createObjectStore('rooms', { keyPath: 'id' }).createIndex('price', 'price');
    db.createObjectStore('events', { keyPath: ['room', 'seq'] });
  });
  const n = p.hotels * p.rooms;
  let eligible = 0;
  const tx = db.transaction('rooms', 'readwrite');
  for (let r = 0; r < n; r++) {
    const pr = price(r);
    if (pr >= p.priceMin && pr <= p.priceMax) eligible++;
    tx.objectStore('rooms').put({ id: r, hotel: Math.floor(r / p.rooms), price: pr, seq: 0 });
  }
  await done(tx);
  db.close();

  const workers = [];
  for (let i = 0; i < p.workers; i++) {
    const w = new Worker('worker.js', { type: 'module' });
    workers.push(w);
  }
  const next = (w) => new Promise((resolve, reject) => {
    w.onmessage = ({ data }) => (data.type === 'error' ? reject(new Error(data.message)) : resolve(data));
    w.onerror = (e) => reject(new Error(e.message));
  });
  await Promise.all(workers.map((w) => { const r = next(w); w.postMessage({ type: 'open', priceMin: p.priceMin, priceMax: p.priceMax }); return r; }));
  const t0 = performance.now();
  const results = await Promise.all(workers.map((w, index) => {
    const r = next(w);
    w.postMessage({ type: 'go', index, workers: p.workers, sessions: p.sessions, durability: p.durability });
    return r;
  }));
  const wall = (performance.now() - t0) / 1000;
  workers.forEach((w) => w.terminate());

  // Recount from a fresh connection.
  const fresh = await open();
  const events = await req(fresh.transaction('events', 'readonly').objectStore('events').getAll());
  fresh.close();
  const perRoom = new Map();
  for (const e of events) perRoom.set(e.room, (perRoom.get(e.room) || 0) + 1);
  const doubles = [...perRoom.values()].filter((k) => k > 1).length;
  const acked = new Set(results.flatMap((r) => r.acked));
  const persisted = new Set(events.map((e) => e.session));
  const lost = [...acked].filter((s) => !persisted.has(s)).length;
  const sum = (k) => results.reduce((a, r) => a + r[k], 0);
  out.textContent = `plain_js_holiday_done sessions=${p.sessions} rooms=${n} eligible=${eligible} `
    + `booked=${sum('booked')} verified_booked=${perRoom.size} sold_out=${sum('soldOut')} `
    + `double_booked=${doubles} lost=${lost} conflicts=${sum('conflicts')} failed_sessions=${sum('failed')} `
    + `wall_secs=${wall.toFixed(3)}`;
  out.dataset.done = '1';
}

main().catch((e) => {
  out.textContent = `plain_js_holiday_failed ${e && e.message || e}`;
  out.dataset.done = '1';
});

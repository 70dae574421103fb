// One racing booker: its own IndexedDB connection, no coordinator. It reads
// the eligible rooms once through the price index when it opens (before the
// clock, as allot's workers load their cache), then books each of its
// sessions with one readwrite transaction: read the room's seq, and append
// the booking event at seq + 1 only if the seq is still the one observed
// (0: free); otherwise it is a conflict and the next room is tried.
import { done, open, req } from './common.js';

let db;
let rooms;
onmessage = async ({ data }) => {
  try {
    if (data.type === 'open') {
      db = await open();
      const tx = db.transaction('rooms', 'readonly');
      rooms = await req(tx.objectStore('rooms').index('price').getAll(IDBKeyRange.bound(data.priceMin, data.priceMax)));
      postMessage({ type: 'ready' });
    } else if (data.type === 'go') {
      postMessage({ type: 'done', ...(await run(data)) });
    }
  } catch (e) {
    postMessage({ type: 'error', message: String(e && e.message || e) });
  }
};

async function run({ index, workers, sessions, durability }) {
  const seen = new Map(rooms.map((r) => [r.id, r.seq]));
  const c = { booked: 0, conflicts: 0, soldOut: 0, failed: 0, acked: [] };
  for (let s = index; s < sessions; s += workers) {
    // Start at a pseudo-random place derived from the session, so bookers
    // spread out (a hash, not a permutation of the rooms: that would be a
    // coordinator in disguise).
    const start = rooms.length ? mix(s) % rooms.length : 0;
    let booked = false;
    for (let k = 0; k < rooms.length && !booked; k++) {
      const room = rooms[(start + k) % rooms.length];
      if (seen.get(room.id) !== 0) continue; // known taken
      const outcome = await book(room.id, s, durability);
      if (outcome.ok) booked = true;
      else {
        c.conflicts++;
        seen.set(room.id, outcome.actual);
      }
    }
    if (booked) {
      c.booked++;
      c.acked.push(s);
    } else c.soldOut++;
  }
  db.close();
  return c;
}

/** A 32-bit integer hash (murmur3's finaliser). */
function mix(x) {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Append-expect on the room's stream: expected seq 0 (free). */
async function book(roomId, session, durability) {
  const tx = db.transaction(['rooms', 'events'], 'readwrite', { durability });
  const rooms = tx.objectStore('rooms');
  const room = await req(rooms.get(roomId));
  if (room.seq !== 0) {
    tx.abort();
    return { ok: false, actual: room.seq };
  }
  const seq = room.seq + 1;
  tx.objectStore('events').add({ room: roomId, seq, session, kind: 'booked' });
  rooms.put({ ...room, seq });
  await done(tx);
  return { ok: true };
}

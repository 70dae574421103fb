// Helpers the wasm side calls to read requests and build outcomes in one
// call each: every call between wasm and JS costs about as much as a small
// booking step, and a request has about a dozen fields (see web/src/js.rs).

// The values of `o`'s fields `names` (an array), in that order; `null` if
// `o` is not a plain object (null, an array, a function, a primitive); the
// first unknown field's name (a string) if `o` has a field not in `names`.
export function readFields(o, names) {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return null;
  for (const k of Object.keys(o)) {
    if (!names.includes(k)) return k;
  }
  const out = new Array(names.length);
  for (let i = 0; i < names.length; i++) out[i] = o[names[i]];
  return out;
}

export function bookingObj(actor, key) {
  return { actor, key };
}

export function intervalObj(start, end) {
  return { start, end };
}

export function daysObj(from, to) {
  return { from, to };
}

// A booked or held outcome (`expiresAt` undefined: booked).
export function placedObj(status, booking, unit, span, qty, seat, expiresAt, replayed) {
  return expiresAt === undefined
    ? { status, booking, unit, span, qty, seat, replayed }
    : { status, booking, unit, span, qty, seat, expiresAt, replayed };
}

// Helpers the wasm side calls to read requests and build outcomes in one
// call each: every call between wasm and JS costs about as much as a small
// booking step, and a request has about a dozen fields (see web/src/js.rs).

// The values of `o`'s fields `names` (an array), in that order; `null` if
// `o` is not a plain object (null, an array, a function, a primitive); the
// first unknown field's name (a string) if `o` has a field not in `names`.
export function readFields(o, names) {
  if (typeof o !== 'object' || o === null || Array.isArray(o)) return null;
  let at = positions.get(names);
  if (at === undefined) {
    at = new Map(names.map((n, i) => [n, i]));
    positions.set(names, at);
  }
  const out = new Array(names.length);
  const proto = Object.getPrototypeOf(o);
  if (proto === Object.prototype || proto === null) {
    // A plain object: only its own fields, each read once. (Reading every
    // name, absent ones too, costs a lookup up the prototype chain each:
    // three times as slow; and a field set on Object.prototype is no field
    // of a request.)
    for (const k in o) {
      if (!Object.prototype.hasOwnProperty.call(o, k)) continue;
      const i = at.get(k);
      if (i === undefined) return k;
      out[i] = o[k];
    }
    return out;
  }
  // An instance of a class: its fields may be getters on its prototype.
  for (const k of Object.keys(o)) {
    if (!at.has(k)) return k;
  }
  for (let i = 0; i < names.length; i++) out[i] = o[names[i]];
  return out;
}

// The position of each name in the field lists `readFields` was called with
// (the wasm side passes the same array object for the same list every time).
const positions = new WeakMap();

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

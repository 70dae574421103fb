/** Every error code allot throws (`error.code`). Stable: codes never change meaning. */
export type ErrorCode =
  | 'E_ATTR_TYPE'
  | 'E_CAPACITY_TOO_LARGE'
  | 'E_CAPACITY_ZERO'
  | 'E_COMMIT_EMPTY'
  | 'E_CONFLICT'
  | 'E_DUPLICATE'
  | 'E_EVENT_MALFORMED'
  | 'E_FORMAT_VERSION'
  | 'E_HOLD_EXPIRED'
  | 'E_IDEMPOTENCY_MISMATCH'
  | 'E_ID_EMPTY'
  | 'E_ID_TOO_LONG'
  | 'E_INDEX_EXISTS'
  | 'E_INVALID_INPUT'
  | 'E_KEY_ARITY_MISMATCH'
  | 'E_KEY_INVALID_BOOL'
  | 'E_KEY_INVALID_ESCAPE'
  | 'E_KEY_INVALID_UTF8'
  | 'E_KEY_NONCANONICAL_FLOAT'
  | 'E_KEY_TRAILING_BYTES'
  | 'E_KEY_TRUNCATED'
  | 'E_KEY_TYPE_MISMATCH'
  | 'E_KIND_CHANGE'
  | 'E_LIMIT_INVALID'
  | 'E_NAME_INVALID'
  | 'E_NOT_FINITE'
  | 'E_NOT_HELD'
  | 'E_NOT_OWNER'
  | 'E_OUTCOME_UNKNOWN'
  | 'E_QTY_INVALID'
  | 'E_RANGE_ARITY'
  | 'E_RECORD_MALFORMED'
  | 'E_SEQ_OVERFLOW'
  | 'E_SPAN_EMPTY'
  | 'E_SPAN_KIND'
  | 'E_SPAN_TOO_LONG'
  | 'E_STORE_ABORTED'
  | 'E_STORE_QUOTA'
  | 'E_STORE_UNAVAILABLE'
  | 'E_TIME_OUT_OF_RANGE'
  | 'E_TOO_MANY'
  | 'E_TTL_INVALID'
  | 'E_UNIT_EXISTS'
  | 'E_UNIT_RETIRED'
  | 'E_UNKNOWN_BOOKING'
  | 'E_UNKNOWN_INDEX'
  | 'E_UNKNOWN_UNIT'
  | 'E_VALUE_TOO_LONG'
  | 'E_VERSION_CHANGE';

/**
 * What allot throws: an `Error` named `AllotError` with a stable `code`, and
 * fields that help handling it (present when they apply).
 */
export interface AllotError extends Error {
  name: 'AllotError';
  code: ErrorCode;
  /** E_CONFLICT: the stream that kept moving, what the last attempt expected, what it was. */
  stream?: string;
  expected?: number;
  actual?: number;
  unit?: string;
  index?: string;
  attr?: string;
  booking?: BookingId;
  by?: string;
  /** E_HOLD_EXPIRED: when the hold lapsed, and its external reference (refund it). */
  expiresAt?: number;
  extRef?: string | null;
  state?: string;
}

export interface OpenOptions {
  /** Database name (default 'allot'). Same name, same data. */
  name?: string;
  /** 'indexeddb' (default where IndexedDB exists) or 'memory' (default elsewhere, e.g. Node). */
  storage?: 'indexeddb' | 'memory';
  /** IndexedDB transaction durability (default 'default'). */
  durability?: 'relaxed' | 'default' | 'strict';
  /** Candidates fetched per index query when auto-assigning (default 32). */
  window?: number;
  /** Commit attempts per request before E_CONFLICT (default 1024). */
  commitAttemptsMax?: number;
}

export type KeyType = 'u8' | 'u16' | 'u32' | 'u64' | 'i8' | 'i16' | 'i32' | 'i64' | 'f64' | 'bool' | 'bytes' | 'str';
export type AttrValue = number | string | boolean | bigint | Uint8Array;

export interface IndexDefinition {
  name: string;
  fields: { attr: string; type: KeyType; order?: 'asc' | 'desc' }[];
}

export interface UnitDefinition {
  id: string;
  /** pool: `capacity` places in one occurrence; allotment: `capacity` per day; exclusive: booked over intervals. */
  kind: 'pool' | 'allotment' | 'exclusive';
  capacity?: number;
  attrs?: Record<string, AttrValue>;
}

export interface Unit {
  id: string;
  kind: 'pool' | 'allotment' | 'exclusive';
  capacity: number;
  attrs: Record<string, AttrValue>;
  version: number;
  retired: boolean;
}

/** `[start, end)` on an exclusive unit, or days `[from, to)` of an allotment; omit for a pool. */
export type Span = { start: number; end: number } | { from: number; to: number };

export interface Hold {
  ttlMs: number;
  /** What the hold stands for outside allot (a payment id); listed by reconcile() if it lapses. */
  extRef?: string;
}

export interface BookingId {
  actor: string;
  key: string;
}

export interface BookRequest extends BookingId {
  unit: string;
  span?: Span;
  qty?: number;
  hold?: Hold;
  /** Your clock in ms (default Date.now()). */
  now?: number;
}

export interface Range {
  index: string;
  /** Leading field values; one value or an array. */
  lo?: AttrValue | AttrValue[];
  hi?: AttrValue | AttrValue[];
  loExclusive?: boolean;
  hiInclusive?: boolean;
  reverse?: boolean;
}

export interface BookAnyRequest extends BookingId, Range {
  span?: Span;
  qty?: number;
  hold?: Hold;
  /** 'first': index order (best fit); 'spread': spread racing bookers over the window. */
  pick?: 'first' | 'spread';
  now?: number;
}

export interface ActRequest extends BookingId {
  /** Who acts (default: the booking's actor). Only the owner may. */
  by?: string;
  now?: number;
}

export interface Query extends Range {
  limit?: number;
  /** `next` of the previous page. */
  after?: string;
}

export interface QueryPage {
  units: Unit[];
  next: string | null;
}

export type Outcome =
  | { status: 'booked'; booking: BookingId; unit: string; span: Span | null; qty: number; seat: number; replayed: boolean }
  | { status: 'held'; booking: BookingId; unit: string; span: Span | null; qty: number; seat: number; expiresAt: number; replayed: boolean }
  | { status: 'confirmed' | 'cancelled' | 'released'; booking: BookingId; already: boolean }
  | { status: 'full'; unit: string; available: number }
  | { status: 'overlap'; unit: string; with: Span | null }
  | { status: 'sold-out' };

export interface RosterRequest {
  unit: string;
  from?: number;
  to?: number;
  now?: number;
}

export interface RosterEntry {
  booking: BookingId;
  qty: number;
  span: Span | null;
  state: 'held' | 'confirmed' | 'cancelled' | 'released' | 'expired';
  expiresAt: number | null;
  extRef: string | null;
  seq: number;
  at: number;
}

export interface Roster {
  unit: string;
  stream: string;
  day: number | null;
  seq: number;
  capacity: number;
  used: number;
  entries: RosterEntry[];
}

export interface LifecycleItem {
  stream: string;
  seq: number;
  type: 'unit-defined' | 'unit-replaced' | 'unit-retired' | 'index-defined' | 'units-reindexed' | 'booked' | 'held' | 'confirmed' | 'cancelled' | 'released';
  at: number;
  booking?: BookingId;
  qty?: number;
  span?: Span | null;
  expiresAt?: number;
  extRef?: string | null;
  kind?: string;
  capacity?: number;
  attrs?: Record<string, AttrValue>;
  index?: string;
  /** `units-reindexed`: how many unit rows got new index entries. */
  units?: number;
}

export interface ReconcileItem {
  booking: BookingId;
  unit: string;
  span: Span | null;
  extRef: string;
  expiresAt: number;
}

export interface VerifyOptions {
  now?: number;
  /** Bookings you were told about: each must be in the store. */
  acknowledged?: BookingId[];
  /** Include every stream's roster in the report. */
  rosters?: boolean;
}

export interface VerifyReport {
  ok: boolean;
  units: number;
  retiredUnits: number;
  streams: number;
  events: number;
  claims: number;
  liveBookings: number;
  confirmed: number;
  held: number;
  unitsWithLive: number;
  actorsWithMultipleLive: number;
  /** Broken invariants (empty when `ok`). `kind` is a stable kebab-case name
   * (`overlap`, `over-capacity`, `missing-acknowledged`...); `detail` says in
   * words which stream, booking or unit, and is not meant to be parsed. */
  violations: { kind: string; detail: string }[];
  rosters: Roster[];
}

export interface Stats {
  readQueries: number;
  streamReads: number;
  commits: number;
  conflicts: number;
  alreadyBooked: number;
  replays: number;
  /** Candidate windows answered from index entries read before (no index query). */
  windowHits: number;
  /** Candidate windows read among units never booked (the memory store keeps them apart; also in `readQueries`). */
  untouchedReads: number;
  /** Reads of the store's change feed (IndexedDB: its journal), `sync()` included. */
  feedReads: number;
  /** Requests answered sold out from an earlier walk over the same range, with no walk (the memory store; see ARCHITECTURE.md). */
  soldOutKnown: number;
}

//! [`Allot`]: the booking loop and the catalog operations, over any [`Store`].
//!
//! Every write follows the same loop: **observe** (read what changed since
//! the last observation), **decide** (pure rules in [`crate::rules`]),
//! **append-expect** (commit expecting exactly the observed seqs), and on a
//! conflict observe again and retry, at most `commit_attempts_max` times.
//!
//! An `Allot` caches what it observed (unit rows, rosters, the schema). The
//! cache may be stale; that is safe because every commit re-checks the seqs
//! it was decided on. One `Allot` serves one task at a time (`&mut self`);
//! give each thread or worker its own, over a shared store.
//!
//! Observing means one read per stream, unless the store keeps a change
//! feed ([`Store::changes`]): then one read of the feed brings every cached
//! roster up to date at once, and only streams never cached are read. A
//! client that met the store while the whole feed fitted one read knows
//! every stream (those the feed never named are empty) and reads none.
//! Every operation catches up once before it decides (so its "full" and
//! "sold out" answers rest on a read made after it began, as without a
//! feed) and again after each conflict. Auto-assign (`book_any`,
//! `book_any_many`) by a client that already follows the feed is the one
//! exception: its first round decides on the cache inside
//! [`Store::decide_group`], which applies the feed read in the store's own
//! transaction first, and it never answers "sold out" from that round (see
//! `batch.rs`). A warm client books with one transaction.

use alloc::collections::VecDeque;
use alloc::string::{String, ToString};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::Cell;
use hashbrown::HashMap;

use crate::catalog::{IndexQuery, Schema};
use crate::error::*;
use crate::event::{ClaimRecord, Event, UnitRow};
use crate::key::{self, KeyPart, KeyValue};
use crate::limits::*;
use crate::mirror::Mirror;
use crate::model::*;
use crate::roster::{Anomaly, BookingState, Roster};
use crate::rules::{self, Act, Ask, Decision, HoldReq, Outcome};
use crate::store::*;

/// Knobs of the booking loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config {
    /// Commit attempts per request before giving up with `E_CONFLICT`.
    pub commit_attempts_max: u32,
    /// Candidates fetched per index query when auto-assigning (a single
    /// `book_any` starts at `WINDOW_LEN_FIRST` and doubles up to this).
    pub window_len: u32,
    /// Rosters kept between requests; the cache is dropped when it grows
    /// past this (it is only an optimisation: everything is re-checked).
    pub roster_cache_max: usize,
    /// Unit rows kept between requests.
    pub unit_cache_max: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            commit_attempts_max: COMMIT_ATTEMPTS_DEFAULT,
            window_len: WINDOW_LEN_DEFAULT,
            roster_cache_max: 4096,
            unit_cache_max: 4096,
        }
    }
}

/// What the loop did, for reports and benchmarks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Index queries (candidate windows) issued.
    pub read_queries: u64,
    /// Stream reads issued (each may cover many streams).
    pub stream_reads: u64,
    /// Commits sent.
    pub commits: u64,
    /// Commits rejected because a stream moved on since it was observed.
    pub conflicts: u64,
    /// Candidates lost to another booker: free when observed, taken once the
    /// conflict was re-read.
    pub already_booked: u64,
    /// Requests answered from an idempotency claim.
    pub replays: u64,
    /// Change-feed reads (catch-ups).
    pub feed_reads: u64,
    /// Candidate windows answered from the index entries this client had
    /// already read (no index query; see `read_queries`).
    pub window_hits: u64,
    /// Candidate windows read among untouched units only (see
    /// [`Store::read_untouched_window`]); also counted in `read_queries`.
    pub untouched_reads: u64,
    /// Requests answered sold out from an earlier walk over the same range
    /// (see [`Store::vacancy_epoch`]): no walk, no index query.
    pub sold_out_known: u64,
}

/// Where a client stands in its store's change feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Feed {
    /// Not asked yet.
    Unknown,
    /// The store keeps none: streams are read one by one.
    Absent,
    /// The cached rosters are current as of `pos`. `complete`: the cache
    /// holds every booking stream the feed named since the origin, so a
    /// stream it lacks is empty.
    At { pos: FeedPos, complete: bool },
}

/// Book a given unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BookReq {
    pub booking: BookingId,
    pub unit: UnitId,
    pub span: Span,
    pub qty: u32,
    /// `Some` to hold instead of book.
    pub hold: Option<HoldReq>,
}

/// Which free candidate of a window to try first.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pick {
    /// Index order: best fit when the index sorts by fit (smallest table
    /// that seats the party).
    #[default]
    First,
    /// A position derived from the booking id, so that concurrent bookers
    /// spread over the window instead of all racing for its first unit.
    Spread,
}

/// Book the first free unit of an index range (auto-assign).
#[derive(Clone, Debug, PartialEq)]
pub struct BookAnyReq {
    pub booking: BookingId,
    pub query: IndexQuery,
    pub span: Span,
    pub qty: u32,
    pub hold: Option<HoldReq>,
    pub pick: Pick,
}

/// Confirm, cancel or release booking `booking`, acting as `by`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActReq {
    pub by: Actor,
    pub booking: BookingId,
}

/// One page of a range query.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryPage {
    /// Index key and unit row, in scan order.
    pub units: Vec<(Vec<u8>, UnitRow)>,
    /// Pass as `after` to continue; `None` when the range is exhausted.
    pub next: Option<Vec<u8>>,
}

/// One booking as a roster shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EntryView {
    pub booking: BookingId,
    pub qty: u32,
    pub span: Span,
    /// `held`, `confirmed`, `cancelled`, `released` or `expired`.
    pub state: &'static str,
    pub expires_at: Option<TimeMs>,
    pub ext_ref: Option<String>,
    pub seq: Seq,
    pub at: TimeMs,
}

/// A stream's roster at `now`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RosterView {
    pub stream: StreamId,
    pub seq: Seq,
    pub capacity: u32,
    pub used: u64,
    pub entries: Vec<EntryView>,
}

/// One event of a unit's history.
#[derive(Clone, Debug, PartialEq)]
pub struct LifecycleItem {
    pub stream: StreamId,
    pub seq: Seq,
    pub event: Event,
}

/// A hold carrying an external reference that lapsed unconfirmed: money
/// may have been taken for it, so the app should refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReconcileItem {
    pub booking: BookingId,
    pub unit: UnitId,
    pub span: Span,
    pub ext_ref: String,
    pub expires_at: TimeMs,
}

/// Result of retiring a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetireReport {
    pub unit: UnitId,
    /// Bookings still live on it: they stay valid and the app decides what
    /// to do with them (move, cancel).
    pub live_bookings: u64,
}

/// The booking client. See the module documentation.
#[derive(Debug)]
pub struct Allot<S> {
    pub(crate) store: S,
    pub config: Config,
    pub(crate) stats: Stats,
    pub(crate) schema: Option<Schema>,
    pub(crate) units: HashMap<UnitId, Arc<UnitRow>>,
    /// Index entries read, kept while the feed shows no unit changing.
    pub(crate) mirror: Mirror,
    pub(crate) rosters: HashMap<StreamId, Roster>,
    /// Where this client last booked in its last auto-assign range: the next
    /// pass starts there, since what lies before was taken when last seen.
    pub(crate) hint: Option<Hint>,
    /// The byte range of the last auto-assign query: a session after another
    /// asks the same range, and encoding its bounds is not free.
    last_range: Option<(IndexQuery, u32, Arc<KeyRange>)>,
    pub(crate) feed: Feed,
    /// The feed was read since the current operation began (or since its
    /// last conflict): the cache is as fresh as a read would make it. Also
    /// set, with no read, for the presumed first round of an auto-assign
    /// (see `batch.rs`), which therefore never answers "sold out".
    pub(crate) feed_fresh: bool,
    /// Asks found sold out, oldest first: answered again with no walk while
    /// the store's vacancy epoch stays where it was (see `known_sold_out`).
    sold_out: Vec<SoldOut>,
    /// The earliest hold expiry among the units the current operation found
    /// taken (`TimeMs::MAX`: none): a sold-out answer it gives holds until
    /// then at most. A cell: a batch's decision notes it while it borrows
    /// the cache apart (see `batch.rs`).
    pub(crate) walk_until: Cell<TimeMs>,
    /// The store answered [`Store::read_untouched_window`] with `None`:
    /// spreading walks read the whole index only.
    pub(crate) untouched_absent: bool,
}

/// An ask found sold out: every unit whose index key lies in
/// `start..end` taken for `span` and `qty`, as of vacancy epoch `epoch`,
/// until `until` (the first expiry among the holds the walk saw).
#[derive(Debug)]
struct SoldOut {
    start: Vec<u8>,
    end: Option<Vec<u8>>,
    span: Span,
    qty: u32,
    hold: bool,
    epoch: u64,
    until: TimeMs,
}

impl SoldOut {
    fn is_for(&self, range: &KeyRange, span: &Span, qty: u32, hold: bool) -> bool {
        self.qty == qty && self.hold == hold && self.span == *span && self.start == range.start && self.end == range.end
    }
}

/// Notes in `until` when the units whose rosters are `rosters`, found taken
/// at `now`, may give room back by a hold expiring.
pub(crate) fn note_taken(until: &Cell<TimeMs>, rosters: &[&Roster], now: TimeMs) {
    let first = rosters.iter().map(|r| r.next_expiry(now)).min().unwrap_or(TimeMs::MAX);
    until.set(until.get().min(first));
}

pub(crate) fn corrupt(what: &'static str, reason: &'static str) -> StoreError {
    StoreError::Corrupt(DecodeError::Malformed { what, reason })
}

/// Checks a window's answer before a walk books from it: one row per entry,
/// each (where present) the row of its entry's unit. A walk that paired an
/// entry with another unit's row would book a unit outside the range asked.
pub(crate) fn check_window(entries: &[IndexEntry], rows: &[Option<Arc<UnitRow>>]) -> Result<(), StoreError> {
    if rows.len() != entries.len() {
        return Err(corrupt("window", "the store answered a different number of rows than entries"));
    }
    if entries.iter().zip(rows).any(|(e, r)| r.as_ref().is_some_and(|r| *r.id() != e.unit)) {
        return Err(corrupt("window", "a row has another unit's id than its index entry"));
    }
    Ok(())
}

/// The parts of a client's cache that the change feed brings up to date,
/// borrowed apart from the store so that a feed read inside
/// [`Store::decide_group`] is applied too.
pub(crate) struct FeedCache<'a> {
    pub rosters: &'a mut HashMap<StreamId, Roster>,
    pub units: &'a mut HashMap<UnitId, Arc<UnitRow>>,
    pub mirror: &'a mut Mirror,
    pub schema: &'a mut Option<Schema>,
    pub feed: &'a mut Feed,
}

/// Applies one read of the feed (made after `after`) to a client's cache.
pub(crate) fn apply_feed(
    cache: FeedCache<'_>,
    roster_cache_max: usize,
    after: FeedPos,
    changes: Changes,
) -> Result<(), StoreError> {
    let FeedCache { rosters, units, mirror, schema, feed } = cache;
    let Feed::At { mut complete, .. } = *feed else { return Ok(()) };
    if changes.pos < after {
        return Err(corrupt("change feed", "the feed went backwards"));
    }
    for a in changes.appends {
        let n = a.events.len() as Seq;
        let Some(last) = a.first.checked_add(n).and_then(|end| end.checked_sub(1)) else {
            return Err(corrupt("change feed", "an append overflows its stream"));
        };
        if a.first == 0 || n == 0 {
            return Err(corrupt("change feed", "an empty append"));
        }
        if a.stream.part == Part::Def {
            // A unit was defined, replaced or retired, or (the catalog) an
            // index defined or backfilled: its cached row is stale, and
            // index entries may have come, moved or gone.
            if let Some(unit) = a.stream.unit() {
                units.remove(&unit);
            }
            mirror.clear();
            if a.stream.is_catalog() {
                // The schema follows the catalog when the appends continue
                // it (a client that booted from the origin never reads the
                // catalog stream). After a hole it stays behind: a schema can
                // only lack indexes, and a missing one is read.
                let known = schema.as_ref().map_or(0, |s| s.seq);
                if a.first <= known + 1 && known < last {
                    // The events it lacks (an append can overlap what a
                    // direct read of the catalog already gave it).
                    let new = &a.events[(known + 1 - a.first) as usize..];
                    schema.get_or_insert_default().extend(new);
                }
            }
            continue;
        }
        match rosters.get_mut(&a.stream) {
            Some(roster) => {
                let seq = roster.seq();
                if seq >= last {
                    continue; // already read (or written) by us
                }
                if seq + 1 < a.first {
                    // A hole: never in a feed that keeps its contract.
                    // Forget the stream; it is read again when needed.
                    rosters.remove(&a.stream);
                    complete = false;
                    continue;
                }
                let mut anomalies = Vec::new();
                roster.extend(seq + 1, &a.events[(seq + 1 - a.first) as usize..], &mut anomalies);
                if let Some(x) = anomalies.first() {
                    return Err(anomaly_error(x));
                }
            }
            None if complete => {
                if a.first != 1 || rosters.len() >= roster_cache_max {
                    complete = false;
                    continue;
                }
                let roster = rosters.entry(a.stream).or_default();
                let mut anomalies = Vec::new();
                roster.extend(1, &a.events, &mut anomalies);
                if let Some(x) = anomalies.first() {
                    return Err(anomaly_error(x));
                }
            }
            None => {} // not cached: read when needed
        }
    }
    *feed = Feed::At { pos: changes.pos, complete };
    Ok(())
}

static EMPTY_ROSTER: Roster = Roster::EMPTY;

/// The cached rosters of `streams` (empty where not cached).
pub(crate) fn rosters_in<'a>(rosters: &'a HashMap<StreamId, Roster>, streams: &[StreamId]) -> Vec<&'a Roster> {
    streams.iter().map(|s| rosters.get(s).unwrap_or(&EMPTY_ROSTER)).collect()
}

/// A booking's streams gathered without a vector: one for an interval or
/// the whole unit, one per day of a short stay.
const STREAMS_INLINE_MAX: usize = 4;

/// `f` of [`rosters_in`], with no allocation for up to
/// [`STREAMS_INLINE_MAX`] streams: a batch looks at every candidate of a
/// window this way, several times per booking.
pub(crate) fn with_rosters<R>(
    rosters: &HashMap<StreamId, Roster>,
    streams: &[StreamId],
    f: impl FnOnce(&[&Roster]) -> R,
) -> R {
    if streams.len() > STREAMS_INLINE_MAX {
        return f(&rosters_in(rosters, streams));
    }
    let mut inline = [&EMPTY_ROSTER; STREAMS_INLINE_MAX];
    for (slot, s) in inline.iter_mut().zip(streams) {
        *slot = rosters.get(s).unwrap_or(&EMPTY_ROSTER);
    }
    f(&inline[..streams.len()])
}

fn anomaly_error(a: &Anomaly) -> StoreError {
    let reason = match a {
        Anomaly::DuplicateBooking { .. } => "a booking appears twice in one stream",
        Anomaly::UnknownBooking { .. } => "an event names a booking its stream never had",
        Anomaly::BadTransition { .. } => "an event makes a transition the rules forbid",
        Anomaly::WrongStream { .. } => "an event is in the wrong kind of stream",
        Anomaly::Gap { .. } => "a stream slice does not continue its seq",
    };
    corrupt("stream", reason)
}

/// A booking id's place in the walk: 64 bits on every platform (a `usize`
/// on wasm32 would put every spread point in the first 2^-32 of the range).
pub(crate) fn spread_hash(b: &BookingId) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for x in b.actor.as_str().bytes().chain([0]).chain(b.key.as_str().bytes()) {
        h ^= u64::from(x);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    mix(h)
}

/// splitmix64's finaliser: every input bit reaches every output bit, so
/// that nearby ids (`s1-1`, `s1-2`) and `h + leaps` land far apart.
pub(crate) fn mix(mut h: u64) -> u64 {
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// Moves a walk to a point of its current segment derived from `h`: the
/// part of that segment the walk skips goes to the end of the walk, so the
/// walk still visits every key of its range exactly once (a sold-out answer
/// rests on that). `false`, walk unchanged, where the segment has no point
/// to leap to.
///
/// Why: spreading walkers that run into a stretch others booked would walk
/// it unit by unit behind them, and then book in convoy with them, each
/// reading every unit all of them take. Leaping lands them in free space.
pub(crate) fn leap(segments: &mut VecDeque<KeyRange>, h: u64) -> bool {
    let Some(front) = segments.front_mut() else { return false };
    let Some(p) = spread_point(front, h) else { return false };
    if !front.contains(&p) || p <= front.start {
        return false;
    }
    let mut skipped = front.clone();
    if front.reverse {
        // Walked downwards: on below the point, the part above it last.
        skipped.start = p.clone();
        front.end = Some(p);
    } else {
        skipped.end = Some(p.clone());
        front.start = p;
    }
    segments.push_back(skipped);
    true
}

/// What a walk does on a whole window found taken: a spreading one leaps
/// (see [`leap`]) to a point derived from its booking id and the leaps it
/// made (counted in `leaps`), as long as it has made fewer than
/// `LEAPS_PER_WALK_MAX`; any other goes on in order.
pub(crate) fn leap_past_taken(
    segments: &mut VecDeque<KeyRange>,
    leaps: &mut u32,
    pick: Pick,
    booking: &BookingId,
) -> bool {
    if pick != Pick::Spread || *leaps >= LEAPS_PER_WALK_MAX {
        return false;
    }
    let leapt = leap(segments, mix(spread_hash(booking).wrapping_add((*leaps).into())));
    if leapt {
        *leaps += 1;
    }
    leapt
}

fn put_value(v: &KeyValue, out: &mut Vec<u8>) {
    key::encode_str(v.key_type().name(), out);
    v.encode_to(key::Order::Asc, out);
}

fn put_bound(b: &core::ops::Bound<Vec<KeyValue>>, out: &mut Vec<u8>) {
    let (tag, values): (u8, &[KeyValue]) = match b {
        core::ops::Bound::Unbounded => (0, &[]),
        core::ops::Bound::Included(v) => (1, v),
        core::ops::Bound::Excluded(v) => (2, v),
    };
    out.push(tag);
    (values.len() as u32).encode_to(out);
    for v in values {
        put_value(v, out);
    }
}

fn put_ask(span: &Span, qty: u32, hold: Option<&HoldReq>, out: &mut Vec<u8>) {
    match *span {
        Span::Whole => out.push(0),
        Span::Days { from, to } => {
            out.push(1);
            (from, to).encode_to(out);
        }
        Span::Interval { start, end } => {
            out.push(2);
            (start, end).encode_to(out);
        }
    }
    qty.encode_to(out);
    match hold {
        None => out.push(0),
        Some(h) => {
            out.push(1);
            h.ttl_ms.encode_to(out);
            key::encode_str(h.ext_ref.as_deref().unwrap_or(""), out);
        }
    }
}

impl BookReq {
    /// Canonical payload bytes: what the claim remembers.
    pub fn fingerprint(&self) -> Vec<u8> {
        let mut out = alloc::vec![b'B'];
        key::encode_str(self.unit.as_str(), &mut out);
        put_ask(&self.span, self.qty, self.hold.as_ref(), &mut out);
        out
    }
}

/// Bytes a typical [`BookAnyReq::fingerprint`] takes.
const FINGERPRINT_LEN_HINT: usize = 64;

impl BookAnyReq {
    /// Canonical payload bytes: what the claim remembers.
    pub fn fingerprint(&self) -> Vec<u8> {
        // Room for a one-field query and the ask, so that it does not grow
        // field by field (one per booking of a batch).
        let mut out = Vec::with_capacity(FINGERPRINT_LEN_HINT);
        out.push(b'A');
        key::encode_str(&self.query.index, &mut out);
        put_bound(&self.query.lo, &mut out);
        put_bound(&self.query.hi, &mut out);
        out.push(u8::from(self.query.reverse));
        put_ask(&self.span, self.qty, self.hold.as_ref(), &mut out);
        out
    }

    /// Whether `other`'s [`fingerprint`](Self::fingerprint) is this one's,
    /// from the fields it encodes (never a false yes: equal [`KeyValue`]s
    /// encode alike). The requests of a batch mostly ask the same, and
    /// comparing is cheaper than encoding.
    pub fn same_fingerprint(&self, other: &Self) -> bool {
        self.query == other.query && self.span == other.span && self.qty == other.qty && self.hold == other.hold
    }
}

/// A key inside `range` at fraction `h / 2^64` of its width, reading the
/// eight bytes after the bounds' common prefix as a number (exact for
/// fixed-width leading fields such as a `u32` price, a fair spread for any
/// other). `None` when the range is unbounded above or too narrow to split.
pub(crate) fn spread_point(range: &KeyRange, h: u64) -> Option<Vec<u8>> {
    let end = range.end.as_deref()?;
    let start = range.start.as_slice();
    let common = start.iter().zip(end).take_while(|(a, b)| a == b).count();
    let word = |k: &[u8]| -> u128 {
        let mut w = [0u8; 8];
        for (i, b) in k.iter().skip(common).take(8).enumerate() {
            w[i] = *b;
        }
        u128::from(u64::from_be_bytes(w))
    };
    let (lo, hi) = (word(start), word(end));
    if hi <= lo + 1 {
        return None;
    }
    let at = lo + (((hi - lo) * u128::from(h)) >> 64);
    let mut key = start[..common].to_vec();
    key.extend_from_slice(&(at as u64).to_be_bytes());
    // Never before the start (the start may be longer than the prefix).
    if key.as_slice() < start { None } else { Some(key) }
}

/// `range` split at `hint` (else at the spread point of `booking`): from
/// there to the end, then from the start to there. Together the segments
/// cover the range once.
pub(crate) fn split_at(range: &KeyRange, hint: Option<Vec<u8>>, booking: &BookingId) -> Vec<KeyRange> {
    let hint = match hint {
        Some(key) => key,
        None => match spread_point(range, spread_hash(booking)) {
            Some(p) => p,
            None => return alloc::vec![range.clone()],
        },
    };
    let part = |start: Vec<u8>, end: Option<Vec<u8>>| KeyRange { start, end, ..*range };
    if range.reverse {
        // Backwards from the hint (inclusive) down to the start, then
        // from the end down to just above the hint.
        let mut above = hint;
        above.push(0);
        alloc::vec![part(range.start.clone(), Some(above.clone())), part(above, range.end.clone())]
    } else {
        alloc::vec![part(hint.clone(), range.end.clone()), part(range.start.clone(), Some(hint))]
    }
}

pub(crate) fn check_ask(qty: u32, hold: Option<&HoldReq>, span: &Span) -> Result<(), InputError> {
    if qty == 0 || qty > CAPACITY_MAX {
        return Err(InputError::QtyInvalid { qty: qty.into(), max: CAPACITY_MAX });
    }
    if let Some(h) = hold {
        h.validate()?;
    }
    // The span's own shape; whether it fits the unit is checked per unit.
    let kind = match span {
        Span::Whole => UnitKind::Pool { capacity: 1 },
        Span::Days { .. } => UnitKind::Allotment { capacity: 1 },
        Span::Interval { .. } => UnitKind::Exclusive,
    };
    span.validate(&kind)
}

impl<S: Store> Allot<S> {
    pub fn new(store: S) -> Self {
        Self::with_config(store, Config::default())
    }

    pub fn with_config(store: S, config: Config) -> Self {
        Self {
            store,
            config,
            stats: Stats::default(),
            schema: None,
            units: HashMap::new(),
            mirror: Mirror::default(),
            rosters: HashMap::new(),
            hint: None,
            last_range: None,
            feed: Feed::Unknown,
            feed_fresh: false,
            sold_out: Vec::new(),
            walk_until: Cell::new(TimeMs::MAX),
            untouched_absent: false,
        }
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Brings the cache up to date with the store now, through its change
    /// feed: the whole history the first time (every unit, index entry and
    /// roster, as far as `Config::unit_cache_max` and
    /// `Config::roster_cache_max` allow), what changed since afterwards.
    /// Optional: the first operation catches up by itself. A page calls it
    /// when it opens, so that its first booking reads only what changed
    /// since, inside the booking's own transaction where the store has
    /// one. A no-op on a store that keeps no feed.
    pub async fn sync(&mut self) -> Result<(), QueryError> {
        self.begin();
        self.catch_up().await?;
        Ok(())
    }

    /// Forgets everything observed (the next requests read afresh).
    pub fn clear_cache(&mut self) {
        self.schema = None;
        self.units.clear();
        self.mirror.clear();
        self.rosters.clear();
        self.hint = None;
        self.feed = Feed::Unknown;
        self.feed_fresh = false;
        self.sold_out.clear();
    }

    // ---------------------------------------------------------------- observe

    /// Starts an operation: its decisions must rest on reads made after
    /// this point.
    pub(crate) fn begin(&mut self) {
        self.feed_fresh = false;
        self.walk_until.set(TimeMs::MAX);
    }

    /// Whether the ask was found sold out before and nothing since can have
    /// given room back: the store's vacancy epoch, read in this operation
    /// (`epoch`), is the one the walk began and ended at, and no hold that
    /// walk saw has expired by `now`. What the walk observed then is what a
    /// walk now would observe (a booking takes room, it never gives any).
    pub(crate) fn known_sold_out(
        &self,
        range: &KeyRange,
        span: &Span,
        qty: u32,
        hold: bool,
        epoch: Option<VacancyEpoch>,
        now: TimeMs,
    ) -> bool {
        let Some(e) = epoch else { return false };
        // No stream's clock is past `at_max` (nor the caller's past `now`):
        // no hold the walk saw has expired anywhere.
        let time = now.max(e.at_max);
        self.sold_out.iter().any(|m| m.epoch == e.epoch && time < m.until && m.is_for(range, span, qty, hold))
    }

    /// Remembers that this operation's walk found the ask sold out, when
    /// the vacancy epoch read before the walk's first read (`began`) is the
    /// one read after it (`ended`): no commit that may have given room back
    /// landed in between, so everything it saw taken was taken at once.
    pub(crate) fn remember_sold_out(
        &mut self,
        range: &KeyRange,
        span: Span,
        qty: u32,
        hold: bool,
        began: Option<VacancyEpoch>,
        ended: Option<VacancyEpoch>,
    ) {
        let (Some(VacancyEpoch { epoch, .. }), Some(VacancyEpoch { epoch: ended, .. })) = (began, ended) else {
            return;
        };
        // Epochs only grow: a memo of another one can never be used again.
        self.sold_out.retain(|m| m.epoch == ended && !m.is_for(range, &span, qty, hold));
        if epoch != ended {
            return;
        }
        if self.sold_out.len() >= SOLD_OUT_MEMOS_MAX {
            self.sold_out.remove(0);
        }
        let until = self.walk_until.get();
        self.sold_out.push(SoldOut {
            start: range.start.clone(),
            end: range.end.clone(),
            span,
            qty,
            hold,
            epoch,
            until,
        });
    }

    /// Brings the cached rosters of `streams` up to date: the change feed
    /// (once per operation or conflict), then one read for the streams it
    /// cannot vouch for.
    pub(crate) async fn observe(&mut self, streams: &[StreamId]) -> Result<(), StoreError> {
        self.catch_up().await?;
        self.make_room(streams.len());
        let reqs: Vec<ReadReq> = streams
            .iter()
            .filter(|s| !self.current(s))
            .map(|s| ReadReq { stream: s.clone(), after: self.rosters.get(s).map_or(0, Roster::seq) })
            .collect();
        if reqs.is_empty() {
            return Ok(());
        }
        let slices = self.store.read_streams(&reqs).await?;
        self.stats.stream_reads += 1;
        self.absorb(reqs, slices)
    }

    /// Whether the cache already knows `stream` as of the last catch-up
    /// (so reading it would tell nothing new).
    pub(crate) fn current(&self, stream: &StreamId) -> bool {
        match self.feed {
            Feed::At { complete, .. } => self.feed_fresh && (complete || self.rosters.contains_key(stream)),
            Feed::Unknown | Feed::Absent => false,
        }
    }

    /// Reads the change feed, once per operation or conflict (a no-op when
    /// the store keeps none).
    pub(crate) async fn catch_up(&mut self) -> Result<(), StoreError> {
        if self.feed_fresh {
            return Ok(());
        }
        match self.feed {
            Feed::Absent => return Ok(()),
            Feed::Unknown => self.boot_feed().await?,
            Feed::At { pos, .. } => self.follow_feed(pos).await?,
        }
        self.feed_fresh = self.feed != Feed::Absent;
        Ok(())
    }

    /// The first look at the feed: the whole history if it fits one read.
    async fn boot_feed(&mut self) -> Result<(), StoreError> {
        let Some(changes) = self.store.changes(0, FEED_BOOT_ENTRIES_MAX).await? else {
            self.feed = Feed::Absent;
            return Ok(());
        };
        self.stats.feed_reads += 1;
        // Rosters (and index entries) read before now are of unknown age
        // relative to the feed.
        self.rosters.clear();
        self.mirror.clear();
        if changes.gap || changes.more {
            return self.restart_feed().await;
        }
        // The whole history in hand: every unit row, and so the whole index,
        // when it pins them down (see `crate::mirror`).
        let rows = crate::mirror::rows_from_history(&changes.appends, self.config.unit_cache_max);
        self.feed = Feed::At { pos: 0, complete: true };
        self.apply_changes(0, changes)?;
        if let Some(rows) = rows {
            self.mirror.hold_all(&rows, self.config.unit_cache_max);
            self.units.clear();
            self.units.extend(rows.into_iter().map(|r| (r.id().clone(), r)));
        }
        Ok(())
    }

    /// Follows the feed from the last position seen.
    async fn follow_feed(&mut self, mut pos: FeedPos) -> Result<(), StoreError> {
        for _ in 0..FEED_PAGES_PER_CATCH_UP_MAX {
            let Some(changes) = self.store.changes(pos, FEED_PAGE_ENTRIES_MAX).await? else {
                // The store stopped keeping a feed: read streams again.
                self.rosters.clear();
                self.mirror.clear();
                self.feed = Feed::Absent;
                return Ok(());
            };
            self.stats.feed_reads += 1;
            if changes.gap {
                return self.restart_feed().await;
            }
            let more = changes.more;
            self.apply_changes(pos, changes)?;
            if !more {
                return Ok(());
            }
            let Feed::At { pos: next, .. } = self.feed else { return Ok(()) };
            pos = next;
        }
        // Too far behind: re-reading what it needs costs less.
        self.restart_feed().await
    }

    /// Forgets every roster and follows the feed from its current end.
    /// The index entries go too: the changes skipped may have moved them.
    async fn restart_feed(&mut self) -> Result<(), StoreError> {
        self.rosters.clear();
        self.mirror.clear();
        let Some(end) = self.store.changes(0, 0).await? else {
            self.feed = Feed::Absent;
            return Ok(());
        };
        self.stats.feed_reads += 1;
        self.feed = Feed::At { pos: end.pos, complete: false };
        Ok(())
    }

    /// Applies one read of the feed (made after `after`) to the cache.
    pub(crate) fn apply_changes(&mut self, after: FeedPos, changes: Changes) -> Result<(), StoreError> {
        let cache = FeedCache {
            rosters: &mut self.rosters,
            units: &mut self.units,
            mirror: &mut self.mirror,
            schema: &mut self.schema,
            feed: &mut self.feed,
        };
        apply_feed(cache, self.config.roster_cache_max, after, changes)
    }

    /// Makes room in the roster cache for `more` streams (dropping it all:
    /// it is only an optimisation). Call before computing reads from it.
    pub(crate) fn make_room(&mut self, more: usize) {
        if self.rosters.len() + more > self.config.roster_cache_max {
            self.rosters.clear();
            self.feed_incomplete();
        }
    }

    /// After streams were dropped from the cache: they are no longer
    /// known, so the cache is not complete.
    fn feed_incomplete(&mut self) {
        if let Feed::At { pos, .. } = self.feed {
            self.feed = Feed::At { pos, complete: false };
        }
    }

    /// Drops `streams` from the cache, so that the next observation reads
    /// them whole, together.
    pub(crate) fn forget(&mut self, streams: &[StreamId]) {
        for s in streams {
            self.rosters.remove(s);
        }
        self.feed_fresh = false;
        self.feed_incomplete();
    }

    /// Applies stream slices read after the cached seqs to the cache.
    pub(crate) fn absorb(&mut self, reqs: Vec<ReadReq>, slices: Vec<StreamSlice>) -> Result<(), StoreError> {
        if slices.len() != reqs.len() {
            return Err(corrupt("read", "the store answered a different number of streams"));
        }
        for (req, slice) in reqs.into_iter().zip(slices) {
            if slice.head < req.after || slice.head - req.after != slice.events.len() as u64 {
                return Err(corrupt("read", "a stream slice does not match its head"));
            }
            // A stream found empty is what the cache assumes of a stream
            // it does not hold (seq 0, an empty roster). Only with a change
            // feed does an entry say more (`current`: known and fresh), so
            // without one it is not kept. A walk over a large range reads
            // mostly empty streams: held, they filled the cache until it was
            // cleared, and each one this client then booked was noted there
            // (`note_committed`), a roster built and dropped per booking.
            // Not held, the client learns of its own booking when it next
            // reads that stream, which few do. Measured: ARCHITECTURE.md,
            // "What a booking costs now".
            if req.after == 0 && slice.events.is_empty() && matches!(self.feed, Feed::Absent) {
                continue;
            }
            let roster = self.rosters.entry(req.stream).or_default();
            let mut anomalies = Vec::new();
            roster.extend(req.after + 1, &slice.events, &mut anomalies);
            if let Some(a) = anomalies.first() {
                return Err(anomaly_error(a));
            }
        }
        Ok(())
    }

    /// Records a commit this client made in its cache, saving a read.
    pub(crate) fn note_committed(&mut self, commit: &Commit) {
        for w in &commit.writes {
            if w.events.is_empty() {
                continue;
            }
            let room = self.rosters.len() < self.config.roster_cache_max;
            let complete = matches!(self.feed, Feed::At { complete: true, .. });
            match self.rosters.get_mut(&w.stream) {
                Some(r) => {
                    let mut anomalies = Vec::new();
                    r.extend(w.expected + 1, &w.events, &mut anomalies);
                }
                // A cache that knows every stream learns the new one too.
                None if complete && w.expected == 0 && room => {
                    let mut anomalies = Vec::new();
                    self.rosters.entry(w.stream.clone()).or_default().extend(1, &w.events, &mut anomalies);
                }
                None if complete => {
                    // It cannot be cached: the cache no longer knows everything.
                    if let Feed::At { pos, .. } = self.feed {
                        self.feed = Feed::At { pos, complete: false };
                    }
                }
                None => {}
            }
        }
    }

    /// Which of `ids` this client knows, from its cache alone, to have no
    /// claim. A claim is only ever written in the commit that appends its
    /// booking's `Booked` event, and a cache that holds every booking stream
    /// the feed named since the origin (`Feed::At { complete: true }`) holds
    /// every such event up to its position: an id in none of its rosters had
    /// no claim there. Claims are never removed, so that answer is the one a
    /// claim read at that position would give, without its transaction.
    /// All `false` when the cache is not complete.
    ///
    /// Only for the cache's own reads: a commit of ours whose outcome was
    /// lost may have landed with its claim and the cache cannot know.
    pub(crate) fn known_unclaimed(&self, ids: &[&BookingId]) -> Vec<bool> {
        let mut unclaimed = alloc::vec![matches!(self.feed, Feed::At { complete: true, .. }); ids.len()];
        if ids.is_empty() || !unclaimed[0] {
            return unclaimed;
        }
        // One pass over every cached booking: sorted ids, a search each.
        let mut sorted: Vec<(&BookingId, usize)> = ids.iter().copied().zip(0..).collect();
        sorted.sort_unstable();
        for entry in self.rosters.values().flat_map(Roster::entries) {
            let from = sorted.partition_point(|(id, _)| *id < &entry.booking);
            for (_, i) in sorted[from..].iter().take_while(|(id, _)| *id == &entry.booking) {
                unclaimed[*i] = false;
            }
        }
        unclaimed
    }

    pub(crate) fn rosters_of(&self, streams: &[StreamId]) -> Vec<&Roster> {
        rosters_in(&self.rosters, streams)
    }

    /// `q`'s byte range, `limit` at a time; the error (unknown index, bad
    /// bound) is the request's own. The last query's range is kept: an
    /// index, once defined, never changes or goes, so a repeated query
    /// needs no look at the schema and no encoding.
    pub(crate) async fn query_range(
        &mut self,
        q: &IndexQuery,
        limit: u32,
    ) -> Result<Result<Arc<KeyRange>, BookError>, StoreError> {
        if let Some((lq, ll, r)) = &self.last_range
            && lq == q
            && *ll == limit
        {
            return Ok(Ok(r.clone()));
        }
        let Some(def) = self.index_def(&q.index).await? else {
            return Ok(Err(BookError::UnknownIndex { index: q.index.clone() }));
        };
        Ok(match q.key_range(&def, limit) {
            Ok(r) => {
                let r = Arc::new(r);
                self.last_range = Some((q.clone(), limit, r.clone()));
                Ok(r)
            }
            Err(e) => Err(e.into()),
        })
    }

    /// An index definition, from the cached schema; the catalog stream is
    /// read again only when the index is not known yet. Index definitions
    /// never change once made, and bookings do not guard the catalog, so a
    /// cached schema can only lack indexes, never be wrong about one.
    pub(crate) async fn index_def(&mut self, name: &str) -> Result<Option<IndexDef>, StoreError> {
        if let Some(def) = self.schema.as_ref().and_then(|s| s.index(name)) {
            return Ok(Some(def.clone()));
        }
        Ok(self.fresh_schema().await?.index(name).cloned())
    }

    /// The schema, reading the catalog stream's new events first.
    pub(crate) async fn fresh_schema(&mut self) -> Result<&Schema, StoreError> {
        let mut schema = self.schema.take().unwrap_or_default();
        let slice = self.store.read_streams(&[ReadReq { stream: StreamId::catalog(), after: schema.seq }]).await?;
        self.stats.stream_reads += 1;
        let Some(slice) = slice.into_iter().next() else {
            return Err(corrupt("read", "the store answered no stream"));
        };
        if slice.head < schema.seq || slice.head - schema.seq != slice.events.len() as u64 {
            return Err(corrupt("read", "a stream slice does not match its head"));
        }
        schema.extend(&slice.events);
        Ok(self.schema.insert(schema))
    }

    /// Unit rows for `ids` (cached ones reused unless `fresh`).
    pub(crate) async fn unit_rows(
        &mut self,
        ids: &[UnitId],
        fresh: bool,
    ) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        // The answer is built before the cache is touched: clearing the
        // cache to make room must never lose a row this very call needs.
        let mut out: Vec<Option<Arc<UnitRow>>> =
            ids.iter().map(|id| if fresh { None } else { self.units.get(id).cloned() }).collect();
        if out.iter().all(Option::is_some) {
            return Ok(out);
        }
        let missing: Vec<usize> = (0..ids.len()).filter(|&i| out[i].is_none()).collect();
        let wanted: Vec<UnitId> = missing.iter().map(|&i| ids[i].clone()).collect();
        let rows = self.store.get_units(&wanted).await?;
        if rows.len() != wanted.len() {
            return Err(corrupt("read", "the store answered a different number of units"));
        }
        if self.units.len() + wanted.len() > self.config.unit_cache_max {
            self.units.clear();
        }
        for (i, row) in missing.into_iter().zip(rows) {
            match row {
                Some(row) if *row.id() == ids[i] => {
                    self.units.insert(ids[i].clone(), row.clone());
                    out[i] = Some(row);
                }
                Some(_) => return Err(corrupt("unit row", "a row has another unit's id")),
                None => {
                    self.units.remove(&ids[i]);
                }
            }
        }
        Ok(out)
    }

    pub(crate) async fn unit_row(&mut self, id: &UnitId, fresh: bool) -> Result<Option<Arc<UnitRow>>, StoreError> {
        Ok(self.unit_rows(core::slice::from_ref(id), fresh).await?.pop().flatten())
    }

    /// The original outcome if `booking` was claimed before; an error if
    /// it was claimed for a different request.
    pub(crate) async fn replay(
        &mut self,
        booking: &BookingId,
        fingerprint: &[u8],
    ) -> Result<Option<Outcome>, BookError> {
        let claim = self.store.get_claims(core::slice::from_ref(booking)).await?.pop().flatten();
        claim.map(|c| self.replay_claim(booking, &c, fingerprint)).transpose()
    }

    pub(crate) fn replay_claim(
        &mut self,
        booking: &BookingId,
        claim: &ClaimRecord,
        fingerprint: &[u8],
    ) -> Result<Outcome, BookError> {
        if *claim.request != *fingerprint {
            return Err(BookError::IdempotencyMismatch { booking: booking.clone() });
        }
        self.stats.replays += 1;
        Ok(Outcome::replay_of(booking, claim))
    }

    // ---------------------------------------------------------------- book

    /// Books (or holds) `req.unit`. Full and overlap are outcomes; a replayed
    /// request returns its first outcome.
    pub async fn book(&mut self, req: &BookReq, now: TimeMs) -> Result<Outcome, BookError> {
        self.begin();
        check_time("now", now)?;
        check_ask(req.qty, req.hold.as_ref(), &req.span)?;
        let fingerprint: Arc<[u8]> = req.fingerprint().into();
        if let Some(o) = self.replay(&req.booking, &fingerprint).await? {
            return Ok(o);
        }
        let streams = booking_streams(&req.unit, &req.span);
        let mut fresh_unit = false;
        let mut last = None;
        let mut unknown = false;
        for attempt in 1..=self.config.commit_attempts_max {
            let unit = match self.unit_row(&req.unit, fresh_unit).await? {
                None => return Err(BookError::UnknownUnit { unit: req.unit.to_string() }),
                Some(u) if u.retired => return Err(BookError::UnitRetired { unit: req.unit.to_string() }),
                Some(u) => u,
            };
            req.span.validate(&unit.spec.kind)?;
            let capacity = unit.spec.kind.capacity();
            if req.qty > capacity {
                return Err(InputError::QtyInvalid { qty: req.qty.into(), max: capacity }.into());
            }
            self.observe(&streams).await?;
            let ask = Ask {
                booking: &req.booking,
                span: req.span,
                qty: req.qty,
                hold: req.hold.as_ref(),
                fingerprint: &fingerprint,
            };
            let decision = rules::decide_book(&unit, &streams, &self.rosters_of(&streams), ask, now)?;
            // An answer without a commit rests on the view alone, and a view
            // read piece by piece while a commit landed gives counts (how
            // many places are left) that no state of the store had: all the
            // streams again, at one read. On the last attempt it stands
            // (full is still true of some state, only the count may not be).
            if matches!(decision, Decision::Done(Outcome::Full { .. } | Outcome::Overlap { .. }))
                && attempt < self.config.commit_attempts_max
                && rules::torn_view(&streams, &self.rosters_of(&streams))
            {
                self.forget(&streams);
                continue;
            }
            match self.try_commit(decision, &req.booking, &fingerprint).await? {
                Attempt::Done(o) => return Ok(o),
                Attempt::Conflict { stream, expected, actual } => {
                    fresh_unit = stream.part == Part::Def;
                    last = Some((stream, expected, actual));
                }
                Attempt::Retry { unknown: u } => {
                    unknown |= u;
                    fresh_unit = true;
                }
            }
        }
        let (stream, expected, actual) = gave_up(unknown, last, StreamId::new(&req.unit, Part::Main))?;
        Err(BookError::Conflict { stream, expected, actual })
    }

    /// Sends a decision's commit. Retryable store errors are retried here:
    /// the commit carries the request's claim, so a commit that did land
    /// shows up as a duplicate (or in the replay check) instead of twice.
    async fn try_commit(
        &mut self,
        decision: Decision,
        booking: &BookingId,
        fingerprint: &[u8],
    ) -> Result<Attempt, BookError> {
        let (commit, outcome) = match decision {
            Decision::Done(o) => return Ok(Attempt::Done(o)),
            Decision::Claimed => {
                return match self.replay(booking, fingerprint).await? {
                    Some(o) => Ok(Attempt::Done(o)),
                    None => Err(BookError::Store(corrupt("claim", "a booking in a stream has no claim"))),
                };
            }
            Decision::Commit { commit, outcome } => (commit, outcome),
        };
        self.stats.commits += 1;
        match self.store.commit(&commit).await {
            Ok(CommitOutcome::Committed) => {
                self.note_committed(&commit);
                Ok(Attempt::Done(outcome))
            }
            Ok(CommitOutcome::Conflict { stream, expected, actual }) => {
                self.stats.conflicts += 1;
                self.feed_fresh = false; // learn what moved
                Ok(Attempt::Conflict { stream, expected, actual })
            }
            Ok(CommitOutcome::Duplicate { existing, .. }) => {
                Ok(Attempt::Done(self.replay_claim(booking, &existing, fingerprint)?))
            }
            Err(e) if e.is_retryable() => {
                // Did it land? The claim says. If even that cannot be read
                // after an unknown outcome, the outcome stays unknown: never
                // report "nothing written" for a commit that may have landed.
                match self.replay(booking, fingerprint).await {
                    Ok(Some(o)) => return Ok(Attempt::Done(o)),
                    Ok(None) => {}
                    Err(BookError::Store(read)) if matches!(e, StoreError::OutcomeUnknown(_)) => {
                        return Err(BookError::Store(StoreError::OutcomeUnknown(alloc::format!(
                            "{e}; checking the request's claim then failed too: {read}"
                        ))));
                    }
                    Err(other) => return Err(other),
                }
                // Not landed, so far: decide again from a fresh observation.
                self.feed_fresh = false;
                Ok(Attempt::Retry { unknown: matches!(e, StoreError::OutcomeUnknown(_)) })
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Books the first free unit of an index range: auto-assign. Windows of
    /// candidates are scanned in order, from `WINDOW_LEN_FIRST` doubling up
    /// to `config.window_len`; when every candidate of a window is taken (by
    /// others, meanwhile) the next window is queried, and the request ends
    /// `SoldOut` only after a whole pass over the range observed every unit
    /// taken. A spreading walk that finds a window wholly taken first tries
    /// the store's untouched units, where it keeps them (`book_untouched`).
    pub async fn book_any(&mut self, req: &BookAnyReq, now: TimeMs) -> Result<Outcome, BookError> {
        self.begin();
        check_time("now", now)?;
        check_ask(req.qty, req.hold.as_ref(), &req.span)?;
        let window = self.config.window_len;
        if window == 0 || window > WINDOW_LEN_MAX {
            return Err(
                InputError::LimitInvalid { what: "window", value: window.into(), max: WINDOW_LEN_MAX.into() }.into()
            );
        }
        if matches!(self.feed, Feed::At { .. }) {
            // A client that follows the feed decides with what it keeps (the
            // whole index, where it booted from the origin) inside the
            // store's transaction: one transaction where the walk below
            // would read the claim, the feed and windows on their own first.
            let mut out = self.book_any_many(core::slice::from_ref(req), now).await;
            return out.pop().unwrap_or_else(|| Err(BookError::Store(corrupt("batch", "a request got no outcome"))));
        }
        let fingerprint: Arc<[u8]> = req.fingerprint().into();
        if let Some(o) = self.replay(&req.booking, &fingerprint).await? {
            return Ok(o);
        }
        // Read before the walk's first read, the feed's included (see
        // `remember_sold_out`): read after it, a cancel landing in between
        // was counted in the epoch and missing from what the walk saw, and
        // a sold-out answer was remembered for a unit the cancel had freed
        // (allot-sim seed 9067202; core/tests/sold_out_memo.rs).
        let epoch = self.store.vacancy_epoch().await?;
        // The feed (it brings the schema along; observing candidates reads
        // it anyway).
        self.catch_up().await?;
        let range = self.query_range(&req.query, window).await??;
        if self.known_sold_out(&range, &req.span, req.qty, req.hold.is_some(), epoch, now) {
            self.stats.sold_out_known += 1;
            return Ok(Outcome::SoldOut);
        }
        let mut tries = Tries::default();
        // Best fit scans from the start of the range every time; spreading
        // bookers resume where they last booked (what lies before was taken
        // when they passed, and the pass wraps around, so nothing is missed).
        let mut segments: VecDeque<KeyRange> = if req.pick == Pick::Spread {
            self.segments(&range, &req.span, &req.booking).into()
        } else {
            alloc::vec![(*range).clone()].into()
        };
        // Resuming after its last booking, the walk tries units in key
        // order: a booker that skipped some (see `try_window`) would leave
        // them behind until it came round again.
        let resumed = req.pick == Pick::Spread && self.hint_in(&range, &req.span).is_some();
        let mut leaps = 0;
        // The untouched units are walked once, at the first window found
        // taken whole (as the batch walk does; see `book_untouched`).
        let mut untouched_walked = req.pick != Pick::Spread;
        // Windows grow from a few candidates to `window`: the first unit
        // tried is usually free, and a full window fetched for it would be
        // copied and dropped unread. (A spreading walk may so leap after a
        // first small window taken whole; 100K rooms on 16 threads read as
        // many windows as with full ones.)
        let mut limit = WINDOW_LEN_FIRST.min(window);
        // The window comes with its rows (one read, where a unit's row
        // looked up on its own is another lookup per candidate); its streams
        // are read by `try_window`, a few candidates at a time.
        let no_reads = |_: &UnitRow, _: &mut Vec<ReadReq>| {};
        while let Some(cur) = segments.front_mut() {
            cur.limit = limit;
            limit = limit.saturating_mul(2).min(window);
            let Window { entries, rows, .. } = self.store.read_window(cur, &no_reads).await?;
            self.stats.read_queries += 1;
            let full_window = entries.len() as u32 >= cur.limit;
            if entries.is_empty() {
                segments.pop_front();
                continue;
            }
            if let Some(o) = self.try_window(req, &entries, &rows, &fingerprint, now, &mut tries, !resumed).await? {
                self.hint_at_outcome(&range, req.span, &o, &entries);
                return Ok(o);
            }
            if !full_window {
                segments.pop_front();
                continue;
            }
            if let (Some(front), Some(last)) = (segments.front_mut(), entries.last()) {
                front.advance_past(&last.key);
            }
            // A whole window taken: a spreading walker is in a stretch
            // others booked.
            if !untouched_walked {
                untouched_walked = true;
                if let Some(o) = self.book_untouched(req, &range, &fingerprint, now, &mut tries).await? {
                    return Ok(o);
                }
            }
            leap_past_taken(&mut segments, &mut leaps, req.pick, &req.booking);
        }
        let ended = if epoch.is_some() { self.store.vacancy_epoch().await? } else { None };
        self.remember_sold_out(&range, req.span, req.qty, req.hold.is_some(), epoch, ended);
        Ok(Outcome::SoldOut)
    }

    /// Books a unit among the untouched units of `range` (the store's
    /// [`Store::read_untouched_window`]), walked from the request's own
    /// spread point: every one was free when read, where a walk over the
    /// whole index reads the taken ones too. `None` when none could be
    /// booked or the store keeps no untouched units: the caller's walk then
    /// goes on, and only that walk may end sold out (units free again after
    /// a cancellation are not untouched).
    async fn book_untouched(
        &mut self,
        req: &BookAnyReq,
        range: &KeyRange,
        fingerprint: &Arc<[u8]>,
        now: TimeMs,
        tries: &mut Tries,
    ) -> Result<Option<Outcome>, BookError> {
        if self.untouched_absent {
            return Ok(None);
        }
        // No stream reads with the window: `try_window` observes the
        // candidates it tries, a few at a time.
        let no_reads = |_: &UnitRow, _: &mut Vec<ReadReq>| {};
        let mut segments: VecDeque<KeyRange> = split_at(range, None, &req.booking).into();
        while let Some(cur) = segments.front_mut() {
            cur.limit = self.config.window_len;
            let Some(window) = self.store.read_untouched_window(cur, &no_reads).await? else {
                self.untouched_absent = true;
                return Ok(None);
            };
            self.stats.read_queries += 1;
            self.stats.untouched_reads += 1;
            let Window { entries, rows, .. } = window;
            let full_window = entries.len() as u32 >= cur.limit;
            if let Some(o) = self.try_window(req, &entries, &rows, fingerprint, now, tries, true).await? {
                self.hint_at_outcome(range, req.span, &o, &entries);
                return Ok(Some(o));
            }
            match (full_window, entries.last()) {
                (true, Some(last)) => cur.advance_past(&last.key),
                _ => {
                    segments.pop_front();
                }
            }
        }
        Ok(None)
    }

    /// The range split at this client's hint: from the hint to the end, then
    /// from the start to the hint. Together they cover the range once.
    ///
    /// Without a hint, a spreading booker starts at a point of the range
    /// derived from its booking id (see [`spread_point`]): concurrent bookers
    /// then walk different parts of the index instead of all scanning the
    /// same first windows, which others keep taking from under them.
    pub(crate) fn segments(&self, range: &KeyRange, span: &Span, booking: &BookingId) -> Vec<KeyRange> {
        split_at(range, self.hint_in(range, span).map(<[u8]>::to_vec), booking)
    }

    /// Notes that this client's walk over `range` for `span` got to `key`.
    /// Reuses the hint's buffers: a walk that keeps booking in the same
    /// range allocates nothing for it.
    pub(crate) fn set_hint(&mut self, range: &KeyRange, span: Span, key: &[u8]) {
        match &mut self.hint {
            Some(h) if h.start == range.start && h.end == range.end => {
                h.span = span;
                h.key.clear();
                h.key.extend_from_slice(key);
            }
            _ => {
                self.hint = Some(Hint { start: range.start.clone(), end: range.end.clone(), span, key: key.to_vec() });
            }
        }
    }

    /// Moves the hint to the entry of the unit `outcome` placed, if it is
    /// one of `entries` (the window the walk found it in).
    fn hint_at_outcome(&mut self, range: &KeyRange, span: Span, outcome: &Outcome, entries: &[IndexEntry]) {
        if let Some(e) = outcome.unit().and_then(|unit| entries.iter().find(|e| e.unit == *unit)) {
            self.set_hint(range, span, &e.key);
        }
    }

    /// Where this client's last walk over `range` for `span` stopped.
    fn hint_in(&self, range: &KeyRange, span: &Span) -> Option<&[u8]> {
        match &self.hint {
            Some(h) if h.start == range.start && h.end == range.end && h.span == *span && range.contains(&h.key) => {
                Some(&h.key)
            }
            _ => None,
        }
    }

    /// Tries the candidates of one window (its entries and, in the same
    /// order, their rows as the window read them); `None` when all were
    /// taken.
    #[allow(clippy::too_many_arguments)]
    async fn try_window(
        &mut self,
        req: &BookAnyReq,
        entries: &[IndexEntry],
        rows: &[Option<Arc<UnitRow>>],
        fingerprint: &Arc<[u8]>,
        now: TimeMs,
        tries: &mut Tries,
        rotate: bool,
    ) -> Result<Option<Outcome>, BookError> {
        // Candidates in the order they are tried. `rotate` rotates the
        // window by the booking id, so that concurrent bookers that start
        // at the same window start at different units instead of all racing
        // for the first.
        check_window(entries, rows)?;
        let mut order: Vec<(&IndexEntry, &Option<Arc<UnitRow>>)> = entries.iter().zip(rows).collect();
        if rotate && req.pick == Pick::Spread && !order.is_empty() {
            let n = order.len();
            order.rotate_left((spread_hash(&req.booking) % n as u64) as usize);
        }
        // Observe in doubling batches: usually a free unit is among the
        // first few, so reading the whole window would be wasted work; when
        // the window is crowded, batches keep the reads few.
        let mut next = 0;
        let mut batch_len = 2;
        while next < order.len() {
            let batch = &order[next..(next + batch_len).min(order.len())];
            next += batch.len();
            batch_len *= 2;
            let mut candidates: Vec<(Arc<UnitRow>, Vec<StreamId>, &IndexEntry)> = Vec::with_capacity(batch.len());
            for &(entry, row) in batch {
                let Some(row) = row else { continue };
                if row.retired || req.span.validate(&row.spec.kind).is_err() || req.qty > row.spec.kind.capacity() {
                    continue; // not a candidate for this request
                }
                let streams = booking_streams(row.id(), &req.span);
                candidates.push((Arc::clone(row), streams, entry));
            }
            let batch_streams: Vec<StreamId> = candidates.iter().flat_map(|(_, s, _)| s.iter().cloned()).collect();
            self.observe(&batch_streams).await?;
            for (mut unit, streams, entry) in candidates {
                let mut lost_race = false;
                loop {
                    let ask = Ask {
                        booking: &req.booking,
                        span: req.span,
                        qty: req.qty,
                        hold: req.hold.as_ref(),
                        fingerprint,
                    };
                    let rosters = self.rosters_of(&streams);
                    let decision = rules::decide_book(&unit, &streams, &rosters, ask, now)?;
                    if let Decision::Done(Outcome::Full { .. } | Outcome::Overlap { .. }) = decision {
                        note_taken(&self.walk_until, &rosters, now);
                        if lost_race {
                            self.stats.already_booked += 1;
                        }
                        break; // taken: next candidate
                    }
                    tries.count += 1;
                    if tries.count > self.config.commit_attempts_max {
                        let fallback = StreamId::new(unit.id(), Part::Main);
                        let (stream, expected, actual) = gave_up(tries.unknown, tries.last.clone(), fallback)?;
                        return Err(BookError::Conflict { stream, expected, actual });
                    }
                    match self.try_commit(decision, &req.booking, fingerprint).await? {
                        Attempt::Done(o) => return Ok(Some(o)),
                        Attempt::Retry { unknown } => {
                            tries.unknown |= unknown;
                            self.observe(&streams).await?;
                        }
                        Attempt::Conflict { stream, expected, actual } => {
                            lost_race = true;
                            let def_moved = stream.part == Part::Def;
                            tries.last = Some((stream, expected, actual));
                            if def_moved {
                                // Redefined meanwhile: still a candidate only
                                // where the walk found it (a replace may have
                                // moved it out of the range asked).
                                match self.unit_row(&unit.id().clone(), true).await? {
                                    Some(u) if !u.retired && u.index_keys.contains(&entry.key) => unit = u,
                                    _ => break,
                                }
                            }
                            self.observe(&streams).await?;
                        }
                    }
                }
            }
        }
        Ok(None)
    }

    // ---------------------------------------------------------------- act

    /// Confirms a live hold. Only its owner may; after expiry it fails with
    /// `E_HOLD_EXPIRED` (and `reconcile` lists the hold's external ref).
    pub async fn confirm(&mut self, req: &ActReq, now: TimeMs) -> Result<Outcome, ConfirmError> {
        self.act(Act::Confirm, req, now).await
    }

    /// Cancels a hold or a booking. Only its owner may.
    pub async fn cancel(&mut self, req: &ActReq, now: TimeMs) -> Result<Outcome, ConfirmError> {
        self.act(Act::Cancel, req, now).await
    }

    /// Gives a live hold back. Only its owner may.
    pub async fn release(&mut self, req: &ActReq, now: TimeMs) -> Result<Outcome, ConfirmError> {
        self.act(Act::Release, req, now).await
    }

    async fn act(&mut self, act: Act, req: &ActReq, now: TimeMs) -> Result<Outcome, ConfirmError> {
        self.begin();
        check_time("now", now)?;
        let Some(claim) = self.store.get_claims(core::slice::from_ref(&req.booking)).await?.pop().flatten() else {
            return Err(ConfirmError::UnknownBooking { booking: req.booking.clone() });
        };
        let streams = booking_streams(&claim.unit, &claim.span);
        let mut last = None;
        let mut unknown = false;
        let mut torn = false;
        for _ in 0..self.config.commit_attempts_max {
            self.observe(&streams).await?;
            torn = rules::torn_view(&streams, &self.rosters_of(&streams));
            if torn {
                // Read piece by piece while a commit landed: all of them
                // again, at one read. A view still torn after the last
                // attempt reaches `decide_act` below, which calls it corrupt.
                self.forget(&streams);
                continue;
            }
            let decision = rules::decide_act(act, &req.booking, &req.by, &streams, &self.rosters_of(&streams), now)?;
            let (commit, outcome) = match decision {
                Decision::Done(o) => return Ok(o),
                Decision::Commit { commit, outcome } => (commit, outcome),
                Decision::Claimed => {
                    return Err(ConfirmError::Store(corrupt("decision", "confirm, cancel and release never claim")));
                }
            };
            self.stats.commits += 1;
            match self.store.commit(&commit).await {
                Ok(CommitOutcome::Committed) => {
                    self.note_committed(&commit);
                    return Ok(outcome);
                }
                Ok(CommitOutcome::Conflict { stream, expected, actual }) => {
                    self.stats.conflicts += 1;
                    self.feed_fresh = false;
                    last = Some((stream, expected, actual));
                }
                Ok(CommitOutcome::Duplicate { .. }) => {
                    return Err(ConfirmError::Store(corrupt(
                        "commit",
                        "a commit without claims was called a duplicate",
                    )));
                }
                // A transition is idempotent by state: the next observation
                // shows whether the lost commit landed.
                Err(e) if e.is_retryable() => {
                    unknown |= matches!(e, StoreError::OutcomeUnknown(_));
                    self.feed_fresh = false;
                }
                Err(e) => return Err(e.into()),
            }
        }
        if unknown || torn {
            // One last look: the lost commit may have landed by now (or
            // the view was torn to the end: a store that holds one is
            // corrupt, and `decide_act` says so).
            self.observe(&streams).await?;
            let decision = rules::decide_act(act, &req.booking, &req.by, &streams, &self.rosters_of(&streams), now)?;
            if let Decision::Done(o) = decision {
                return Ok(o);
            }
        }
        let (stream, expected, actual) = gave_up(unknown, last, StreamId::new(&claim.unit, Part::Main))?;
        Err(ConfirmError::Conflict { stream, expected, actual })
    }

    // ---------------------------------------------------------------- catalog

    /// Adds a secondary index and indexes every existing unit. Defining the
    /// same index again is a no-op; a different one with the same name is
    /// `E_INDEX_EXISTS`.
    pub async fn define_index(&mut self, def: &IndexDef, now: TimeMs) -> Result<(), CatalogError> {
        check_time("now", now)?;
        IndexDef::new(&def.name, def.fields.clone())?;
        let mut last = None;
        let mut defined = false;
        for _ in 0..self.config.commit_attempts_max {
            let schema = self.fresh_schema().await?;
            match schema.index(&def.name) {
                Some(existing) if existing == def => {
                    defined = true;
                    break;
                }
                Some(_) => return Err(CatalogError::IndexExists { index: def.name.clone() }),
                None if schema.indexes.len() >= INDEXES_MAX => {
                    return Err(InputError::TooMany {
                        what: "indexes",
                        len: schema.indexes.len() + 1,
                        max: INDEXES_MAX,
                    }
                    .into());
                }
                None => {}
            }
            let commit = Commit {
                writes: alloc::vec![StreamWrite {
                    stream: StreamId::catalog(),
                    expected: schema.seq,
                    events: alloc::vec![Event::IndexDefined { def: def.clone(), at: now }],
                }],
                ..Commit::default()
            };
            match self.store.commit(&commit).await {
                Ok(CommitOutcome::Committed) => {
                    defined = true;
                    break;
                }
                Ok(CommitOutcome::Conflict { stream, expected, actual }) => last = Some((stream, expected, actual)),
                Ok(CommitOutcome::Duplicate { .. }) => {
                    return Err(corrupt("commit", "a commit without claims was called a duplicate").into());
                }
                // The next attempt reads the catalog: defined (by the lost
                // attempt) is a no-op, absent is tried again.
                Err(e) if e.is_retryable() => {}
                Err(e) => return Err(e.into()),
            }
        }
        if !defined {
            let (stream, expected, actual) = last.unwrap_or((StreamId::catalog(), 0, 0));
            return Err(CatalogError::Conflict { stream, expected, actual });
        }
        self.backfill(now).await
    }

    /// Rewrites every unit row whose index keys differ from what the
    /// current schema gives, a page at a time. Each page guards the rows'
    /// definition streams, so a unit changed meanwhile is re-read, never
    /// overwritten with stale attributes. Each page also appends
    /// [`Event::UnitsReindexed`] to the catalog: rewriting a row appends
    /// nothing to its definition stream, and clients that keep index
    /// entries they read (see [`crate::mirror`]) learn from the change feed
    /// that those may have moved.
    async fn backfill(&mut self, now: TimeMs) -> Result<(), CatalogError> {
        let mut range = KeyRange::all(UNITS_PER_COMMIT_MAX as u32);
        let mut attempts = 0;
        loop {
            let schema = self.fresh_schema().await?.clone();
            let rows = self.store.scan_units(&range).await?;
            let Some(last_id) = rows.last().map(|r| r.id().clone()) else { return Ok(()) };
            let full = rows.len() as u32 >= range.limit;
            let mut commit = Commit::default();
            commit.writes.push(StreamWrite { stream: StreamId::catalog(), expected: schema.seq, events: Vec::new() });
            for row in rows {
                let keys = if row.retired { Vec::new() } else { schema.index_keys(&row.spec)? };
                if keys != row.index_keys {
                    commit.writes.push(StreamWrite {
                        stream: StreamId::new(row.id(), Part::Def),
                        expected: row.version,
                        events: Vec::new(),
                    });
                    commit.units.push(UnitRow { index_keys: keys, ..(*row).clone() });
                }
            }
            if !commit.units.is_empty() {
                let units = commit.units.len() as u32;
                commit.writes[0].events.push(Event::UnitsReindexed { units, at: now });
                match self.store.commit(&commit).await {
                    Ok(CommitOutcome::Committed) => {}
                    Ok(CommitOutcome::Conflict { stream, expected, actual }) => {
                        attempts += 1;
                        if attempts > self.config.commit_attempts_max {
                            return Err(CatalogError::Conflict { stream, expected, actual });
                        }
                        continue; // re-read this page
                    }
                    Ok(CommitOutcome::Duplicate { .. }) => {
                        return Err(corrupt("commit", "a commit without claims was called a duplicate").into());
                    }
                    // Re-read the page: rows already rewritten need nothing.
                    Err(e) if e.is_retryable() && attempts < self.config.commit_attempts_max => {
                        attempts += 1;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            if !full {
                return Ok(());
            }
            let mut k = Vec::new();
            key::encode_str(last_id.as_str(), &mut k);
            range = range.after(&k);
        }
    }

    /// Defines new units with their index entries, at most
    /// [`UNITS_PER_COMMIT_MAX`] per commit, each commit all or nothing.
    /// A unit that exists already fails its commit with `E_UNIT_EXISTS`;
    /// earlier commits stay. Returns the number defined.
    pub async fn define_units(&mut self, specs: &[UnitSpec], now: TimeMs) -> Result<usize, CatalogError> {
        check_time("now", now)?;
        // The first spec whose id an earlier one has, found through the
        // shared dyn sort (ties broken by position) rather than a BTreeSet
        // instantiated for it in the wasm: the second of each run of equal
        // ids, the earliest of those.
        let order = crate::store::sorted_order(specs.len(), &|a, b| specs[a].id.cmp(&specs[b].id).then(a.cmp(&b)));
        let dup = order.windows(2).filter(|w| specs[w[0]].id == specs[w[1]].id).map(|w| w[1]).min();
        for (i, s) in specs.iter().enumerate() {
            s.kind.validate()?;
            if dup == Some(i) {
                return Err(InputError::Duplicate { what: "unit", name: s.id.to_string() }.into());
            }
        }
        let mut defined = 0;
        for chunk in specs.chunks(UNITS_PER_COMMIT_MAX) {
            let mut attempts = 0;
            loop {
                let schema = self.fresh_schema().await?.clone();
                let mut commit = Commit::default();
                commit.writes.push(StreamWrite {
                    stream: StreamId::catalog(),
                    expected: schema.seq,
                    events: Vec::new(),
                });
                for spec in chunk {
                    let index_keys = schema.index_keys(spec)?;
                    commit.writes.push(StreamWrite {
                        stream: StreamId::new(&spec.id, Part::Def),
                        expected: 0,
                        events: alloc::vec![Event::UnitDefined { spec: spec.clone(), at: now }],
                    });
                    commit.units.push(UnitRow { spec: spec.clone(), version: 1, retired: false, index_keys });
                }
                match self.store.commit(&commit).await {
                    Ok(CommitOutcome::Committed) => {
                        defined += chunk.len();
                        break;
                    }
                    Ok(CommitOutcome::Conflict { stream, .. }) if !stream.is_catalog() => {
                        // Defined already: by an attempt of this very call
                        // whose acknowledgement was lost, or identically by
                        // someone else, which is the same. Anything else is
                        // a unit that exists.
                        if self.defined_as_asked(chunk).await? {
                            defined += chunk.len();
                            break;
                        }
                        return Err(CatalogError::UnitExists { unit: String::from(stream.unit_str()) });
                    }
                    Ok(CommitOutcome::Conflict { stream, expected, actual }) => {
                        attempts += 1;
                        if attempts > self.config.commit_attempts_max {
                            return Err(CatalogError::Conflict { stream, expected, actual });
                        }
                    }
                    Ok(CommitOutcome::Duplicate { .. }) => {
                        return Err(corrupt("commit", "a commit without claims was called a duplicate").into());
                    }
                    Err(e) if e.is_retryable() && attempts < self.config.commit_attempts_max => attempts += 1,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(defined)
    }

    /// Whether every unit of `specs` exists exactly as specified and
    /// unchanged since its definition.
    async fn defined_as_asked(&mut self, specs: &[UnitSpec]) -> Result<bool, StoreError> {
        let ids: Vec<UnitId> = specs.iter().map(|s| s.id.clone()).collect();
        let rows = self.unit_rows(&ids, true).await?;
        Ok(specs
            .iter()
            .zip(rows)
            .all(|(spec, row)| row.is_some_and(|r| r.version == 1 && !r.retired && r.spec == *spec)))
    }

    /// Replaces a unit's attributes (kind and capacity are fixed: existing
    /// bookings were decided against them). Its index entries follow.
    pub async fn replace_unit(&mut self, spec: &UnitSpec, now: TimeMs) -> Result<(), CatalogError> {
        check_time("now", now)?;
        let mut last = None;
        for _ in 0..self.config.commit_attempts_max {
            let schema = self.fresh_schema().await?.clone();
            let row = match self.unit_row(&spec.id, true).await? {
                None => return Err(CatalogError::UnknownUnit { unit: spec.id.to_string() }),
                Some(r) if r.retired => return Err(CatalogError::UnitRetired { unit: spec.id.to_string() }),
                Some(r) => r,
            };
            if row.spec.kind != spec.kind {
                return Err(CatalogError::KindChange { unit: spec.id.to_string() });
            }
            if row.spec == *spec {
                // Already so: a no-op, and what a retry finds after an
                // attempt whose acknowledgement was lost.
                return Ok(());
            }
            let index_keys = schema.index_keys(spec)?;
            let commit = Commit {
                writes: alloc::vec![
                    StreamWrite { stream: StreamId::catalog(), expected: schema.seq, events: Vec::new() },
                    StreamWrite {
                        stream: StreamId::new(&spec.id, Part::Def),
                        expected: row.version,
                        events: alloc::vec![Event::UnitReplaced { attrs: spec.attrs.clone(), at: now }],
                    },
                ],
                units: alloc::vec![UnitRow {
                    spec: spec.clone(),
                    version: row.version + 1,
                    retired: false,
                    index_keys
                }],
                ..Commit::default()
            };
            match self.store.commit(&commit).await {
                Ok(CommitOutcome::Committed) => {
                    self.units.remove(&spec.id);
                    return Ok(());
                }
                Ok(CommitOutcome::Conflict { stream, expected, actual }) => last = Some((stream, expected, actual)),
                Ok(CommitOutcome::Duplicate { .. }) => {
                    return Err(corrupt("commit", "a commit without claims was called a duplicate").into());
                }
                Err(e) if e.is_retryable() => {}
                Err(e) => return Err(e.into()),
            }
        }
        let (stream, expected, actual) = last.unwrap_or((StreamId::catalog(), 0, 0));
        Err(CatalogError::Conflict { stream, expected, actual })
    }

    /// Retires a unit: it leaves every index and takes no new booking (a
    /// booking racing with the retirement either lands first and is counted
    /// in the report, or fails its guard and sees the unit retired). Its
    /// streams stay for audit, and its live bookings stay valid.
    pub async fn retire_unit(&mut self, id: &UnitId, now: TimeMs) -> Result<RetireReport, CatalogError> {
        check_time("now", now)?;
        let mut last = None;
        // Set when an attempt's outcome was lost: finding the unit retired
        // then is (most likely) our own doing, and reported as done.
        let mut maybe_landed = false;
        for _ in 0..self.config.commit_attempts_max {
            let row = match self.unit_row(id, true).await? {
                None => return Err(CatalogError::UnknownUnit { unit: id.to_string() }),
                Some(r) if r.retired && maybe_landed => return self.retire_report(id, now).await,
                Some(r) if r.retired => return Err(CatalogError::UnitRetired { unit: id.to_string() }),
                Some(r) => r,
            };
            let commit = Commit {
                writes: alloc::vec![StreamWrite {
                    stream: StreamId::new(id, Part::Def),
                    expected: row.version,
                    events: alloc::vec![Event::UnitRetired { at: now }],
                }],
                units: alloc::vec![UnitRow {
                    version: row.version + 1,
                    retired: true,
                    index_keys: Vec::new(),
                    ..(*row).clone()
                }],
                ..Commit::default()
            };
            match self.store.commit(&commit).await {
                Ok(CommitOutcome::Committed) => {
                    self.units.remove(id);
                    return self.retire_report(id, now).await;
                }
                Ok(CommitOutcome::Conflict { stream, expected, actual }) => last = Some((stream, expected, actual)),
                Ok(CommitOutcome::Duplicate { .. }) => {
                    return Err(corrupt("commit", "a commit without claims was called a duplicate").into());
                }
                Err(e) if e.is_retryable() => maybe_landed |= matches!(e, StoreError::OutcomeUnknown(_)),
                Err(e) => return Err(e.into()),
            }
        }
        let (stream, expected, actual) = last.unwrap_or((StreamId::new(id, Part::Def), 0, 0));
        Err(CatalogError::Conflict { stream, expected, actual })
    }

    /// How many live bookings a just-retired unit still carries.
    async fn retire_report(&mut self, id: &UnitId, now: TimeMs) -> Result<RetireReport, CatalogError> {
        self.units.remove(id);
        let views = self.roster(id, None, now).await.map_err(|e| match e {
            QueryError::Store(s) => CatalogError::Store(s),
            QueryError::Input(i) => CatalogError::Input(i),
            _ => CatalogError::UnknownUnit { unit: id.to_string() },
        })?;
        // Distinct bookings: sorted through the one shared dyn sort (no
        // BTreeSet or sort instantiation of their own in the wasm).
        let live: Vec<&BookingId> = views
            .iter()
            .flat_map(|v| v.entries.iter())
            .filter(|e| matches!(e.state, "held" | "confirmed"))
            .map(|e| &e.booking)
            .collect();
        let order = crate::store::sorted_order(live.len(), &|a, b| live[a].cmp(live[b]));
        let live_bookings =
            order.iter().enumerate().filter(|&(i, &b)| i == 0 || live[order[i - 1]] != live[b]).count() as u64;
        Ok(RetireReport { unit: id.clone(), live_bookings })
    }

    // ---------------------------------------------------------------- read

    /// The schema's index definitions.
    pub async fn indexes(&mut self) -> Result<Vec<IndexDef>, QueryError> {
        Ok(self.fresh_schema().await?.indexes.clone())
    }

    /// A unit's current row.
    pub async fn unit(&mut self, id: &UnitId) -> Result<UnitRow, QueryError> {
        self.unit_row(id, true)
            .await?
            .map(|r| (*r).clone())
            .ok_or_else(|| QueryError::UnknownUnit { unit: id.to_string() })
    }

    /// A page of a range query on a secondary index, resumable: pass the
    /// page's `next` as `after` to continue after its last key.
    pub async fn query(&mut self, q: &IndexQuery, limit: u32, after: Option<&[u8]>) -> Result<QueryPage, QueryError> {
        let Some(def) = self.index_def(&q.index).await? else {
            return Err(QueryError::UnknownIndex { index: q.index.clone() });
        };
        let mut range = q.key_range(&def, limit)?;
        if let Some(a) = after {
            if a.len()
                > 2 * ID_LEN_MAX_BYTES + INDEX_FIELDS_MAX * (2 * ATTR_VALUE_LEN_MAX_BYTES + 2) + 2 * NAME_LEN_MAX_BYTES
            {
                return Err(InputError::ValueTooLong { what: "cursor", len: a.len(), max: 0 }.into());
            }
            crate::catalog::decode_index_key(&def, a)?;
            range = range.after(a);
        }
        let entries = self.store.scan_index(&range).await?;
        self.stats.read_queries += 1;
        let ids: Vec<UnitId> = entries.iter().map(|e| e.unit.clone()).collect();
        let rows = self.unit_rows(&ids, true).await?;
        let next = (entries.len() as u32 >= limit).then(|| entries.last().map(|e| e.key.clone())).flatten();
        let units = entries.into_iter().zip(rows).filter_map(|(e, r)| r.map(|r| (e.key, (*r).clone()))).collect();
        Ok(QueryPage { units, next })
    }

    /// The rosters of a unit at `now`: its main stream, or its days (all
    /// that have bookings, or `days = [from, to)`).
    pub async fn roster(
        &mut self,
        id: &UnitId,
        days: Option<(u32, u32)>,
        now: TimeMs,
    ) -> Result<Vec<RosterView>, QueryError> {
        self.begin();
        check_time("now", now)?;
        let row = self.unit(id).await?;
        let streams: Vec<StreamId> = match (row.spec.kind, days) {
            (UnitKind::Allotment { .. }, Some((from, to))) => {
                Span::Days { from, to }.validate(&row.spec.kind)?;
                booking_streams(id, &Span::Days { from, to })
            }
            (UnitKind::Allotment { .. }, None) => {
                self.unit_streams(id).await?.into_iter().filter(|s| matches!(s.part, Part::Day(_))).collect()
            }
            _ => alloc::vec![StreamId::new(id, Part::Main)],
        };
        let capacity = row.spec.kind.capacity();
        let mut views = Vec::with_capacity(streams.len());
        for chunk in streams.chunks(READ_BATCH_LEN) {
            self.observe(chunk).await?;
            for s in chunk {
                let r = self.rosters.get(s).cloned().unwrap_or_default();
                views.push(roster_view(s.clone(), &r, capacity, now));
            }
        }
        Ok(views)
    }

    /// Every stream of a unit that has events, definition stream first.
    async fn unit_streams(&mut self, id: &UnitId) -> Result<Vec<StreamId>, StoreError> {
        let prefix = StreamId::unit_prefix(id);
        let range = KeyRange { end: key::prefix_end(&prefix), start: prefix, reverse: false, limit: SCAN_LIMIT_MAX };
        let mut out = Vec::new();
        let mut cur = range;
        loop {
            let page = self.store.scan_streams(&cur).await?;
            let full = page.len() as u32 >= cur.limit;
            let Some((last, _)) = page.last().cloned() else { break };
            out.extend(page.into_iter().map(|(s, _)| s));
            if !full {
                break;
            }
            cur = cur.after(&last.encode());
        }
        Ok(out)
    }

    /// A unit's whole history: its definition stream, then each booking
    /// stream, every event with its seq. For audit and for the inspector.
    pub async fn lifecycle(&mut self, id: &UnitId) -> Result<Vec<LifecycleItem>, QueryError> {
        let streams = self.unit_streams(id).await?;
        if streams.is_empty() {
            return Err(QueryError::UnknownUnit { unit: id.to_string() });
        }
        let mut items = Vec::new();
        for chunk in streams.chunks(READ_BATCH_LEN) {
            let reqs: Vec<ReadReq> = chunk.iter().map(|s| ReadReq { stream: s.clone(), after: 0 }).collect();
            let slices = self.store.read_streams(&reqs).await?;
            for (s, slice) in chunk.iter().zip(slices) {
                for (i, event) in slice.events.into_iter().enumerate() {
                    items.push(LifecycleItem { stream: s.clone(), seq: i as Seq + 1, event });
                }
            }
        }
        Ok(items)
    }

    /// Holds with an external reference that expired unconfirmed: the
    /// payments the app should refund. Computed from the stores' claims and
    /// streams at `now`; nothing needs to have run in the background.
    pub async fn reconcile(&mut self, now: TimeMs) -> Result<Vec<ReconcileItem>, QueryError> {
        self.begin();
        check_time("now", now)?;
        let mut out = Vec::new();
        let mut range = KeyRange::all(1024);
        loop {
            let page = self.store.scan_claims(&range).await?;
            let full = page.len() as u32 >= range.limit;
            let Some(last) = page.last().map(|(b, _)| b.encode()) else { break };
            for (booking, claim) in page {
                let Some(ext_ref) = claim.hold.as_ref().and_then(|h| h.ext_ref.clone()) else { continue };
                let streams = booking_streams(&claim.unit, &claim.span);
                self.observe(&streams).await?;
                let rosters = self.rosters_of(&streams);
                let eff = rules::effective_now(&rosters, now);
                let expired = rosters.iter().any(|r| {
                    r.find(&booking).is_some_and(|e| matches!(e.state, BookingState::Held { .. }) && !e.is_live(eff))
                });
                if let (true, Some(h)) = (expired, &claim.hold) {
                    out.push(ReconcileItem {
                        booking,
                        unit: claim.unit,
                        span: claim.span,
                        ext_ref,
                        expires_at: h.expires_at,
                    });
                }
            }
            if !full {
                break;
            }
            range = range.after(&last);
        }
        Ok(out)
    }
}

/// A roster as a plain view at `now`.
pub fn roster_view(stream: StreamId, r: &Roster, capacity: u32, now: TimeMs) -> RosterView {
    let eff = r.effective_now(now);
    let entries = r
        .entries()
        .iter()
        .map(|e| {
            let (expires_at, ext_ref) = match &e.state {
                BookingState::Held { expires_at, ext_ref } => (Some(*expires_at), ext_ref.clone()),
                _ => (None, None),
            };
            EntryView {
                booking: e.booking.clone(),
                qty: e.qty,
                span: e.span,
                state: e.state_name(eff),
                expires_at,
                ext_ref,
                seq: e.seq,
                at: e.at,
            }
        })
        .collect();
    RosterView { stream, seq: r.seq(), capacity, used: r.used(now), entries }
}

/// Where an auto-assign range was last booked by this client.
#[derive(Debug)]
pub(crate) struct Hint {
    pub(crate) start: Vec<u8>,
    pub(crate) end: Option<Vec<u8>>,
    pub(crate) span: Span,
    pub(crate) key: Vec<u8>,
}

/// Commit attempts of one request so far.
#[derive(Debug, Default)]
struct Tries {
    count: u32,
    /// Some attempt's outcome was lost (it may still land).
    unknown: bool,
    last: Option<(StreamId, Seq, Seq)>,
}

enum Attempt {
    Done(Outcome),
    Conflict {
        stream: StreamId,
        expected: Seq,
        actual: Seq,
    },
    /// The store failed retryably and the claim says it did not land (yet):
    /// decide again. `unknown`: the commit may still land later.
    Retry {
        unknown: bool,
    },
}

/// What every attempt being used up means: a conflict if every failed
/// attempt is known not to have written; otherwise the outcome is unknown (a
/// commit whose acknowledgement was lost may land after its claim was
/// checked), and saying "conflict, nothing written" would be a lie.
fn gave_up(
    unknown: bool,
    last: Option<(StreamId, Seq, Seq)>,
    fallback: StreamId,
) -> Result<(StreamId, Seq, Seq), StoreError> {
    if unknown {
        return Err(StoreError::OutcomeUnknown(
            "attempts used up after a commit whose outcome was lost: it may still land; retry with the same request key"
                .into(),
        ));
    }
    Ok(last.unwrap_or((fallback, 0, 0)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `same_fingerprint` says yes only where the fingerprints are equal
    /// (the batch reuses one for the other), and yes for requests that
    /// differ only in what the fingerprint leaves out (id, pick).
    #[test]
    fn same_fingerprint_never_says_yes_for_different_fingerprints() {
        let base = BookAnyReq {
            booking: BookingId::new("a", "k").unwrap(),
            query: IndexQuery::closed("price", KeyValue::U32(0), KeyValue::U32(1000)),
            span: Span::Interval { start: 1, end: 3 },
            qty: 1,
            hold: None,
            pick: Pick::First,
        };
        let hold = |ext: Option<&str>| Some(HoldReq { ttl_ms: 60_000, ext_ref: ext.map(Into::into) });
        let variants = [
            BookAnyReq { booking: BookingId::new("b", "other").unwrap(), pick: Pick::Spread, ..base.clone() },
            BookAnyReq { query: IndexQuery::closed("price", KeyValue::U32(0), KeyValue::U32(999)), ..base.clone() },
            BookAnyReq { query: IndexQuery::closed("price", KeyValue::U64(0), KeyValue::U32(1000)), ..base.clone() },
            BookAnyReq { query: IndexQuery::closed("rate", KeyValue::U32(0), KeyValue::U32(1000)), ..base.clone() },
            BookAnyReq { query: IndexQuery { reverse: true, ..base.query.clone() }, ..base.clone() },
            BookAnyReq { span: Span::Days { from: 1, to: 3 }, ..base.clone() },
            BookAnyReq { qty: 2, ..base.clone() },
            BookAnyReq { hold: hold(None), ..base.clone() },
            BookAnyReq { hold: hold(Some("")), ..base.clone() },
            BookAnyReq { hold: hold(Some("order-7")), ..base.clone() },
        ];
        let f64_query = |v: f64| IndexQuery::closed("score", KeyValue::F64(v), KeyValue::F64(1.0));
        let zeros = [
            BookAnyReq { query: f64_query(0.0), ..base.clone() },
            BookAnyReq { query: f64_query(-0.0), ..base.clone() },
        ];
        let mut same = 0;
        for pair in variants.iter().flat_map(|a| variants.iter().map(move |b| (a, b))).chain([(&zeros[0], &zeros[1])]) {
            let (a, b) = pair;
            if a.same_fingerprint(b) {
                same += 1;
                assert_eq!(a.fingerprint(), b.fingerprint(), "{a:?} / {b:?}");
            }
        }
        // Each variant with itself, the first with the base's payload
        // (none other here), and the two zeros.
        assert!(base.same_fingerprint(&variants[0]));
        assert_eq!(same, variants.len() + 1);
    }

    /// Without a change feed an empty stream is not cached (its absence
    /// says the same); with one, it is (`current` trusts a cached stream).
    #[test]
    fn empty_streams_are_cached_only_where_a_feed_keeps_them_current() {
        let stream = |u: &str| StreamId::new(&UnitId::new(u).unwrap(), Part::Main);
        let booked =
            Event::Booked { booking: BookingId::new("a", "k").unwrap(), qty: 1, span: Span::Whole, hold: None, at: 1 };
        let reqs = || {
            alloc::vec![ReadReq { stream: stream("empty"), after: 0 }, ReadReq { stream: stream("booked"), after: 0 }]
        };
        let slices = || {
            alloc::vec![
                StreamSlice { head: 0, events: Vec::new() },
                StreamSlice { head: 1, events: alloc::vec![booked.clone()] },
            ]
        };
        for (feed, empty_kept) in [(Feed::Absent, false), (Feed::At { pos: 0, complete: false }, true)] {
            let mut allot = Allot::new(crate::mem::MemStore::new());
            allot.feed = feed;
            allot.absorb(reqs(), slices()).unwrap();
            assert_eq!(allot.rosters.contains_key(&stream("empty")), empty_kept, "{:?}", allot.feed);
            assert_eq!(allot.rosters.get(&stream("booked")).map(Roster::seq), Some(1), "{:?}", allot.feed);
        }
    }

    #[test]
    fn with_rosters_hands_over_the_cached_rosters_in_order_on_both_paths() {
        // Inline up to STREAMS_INLINE_MAX streams, a vector above.
        let unit = UnitId::new("u").unwrap();
        let booked = |d: u32| Event::Booked {
            booking: BookingId::new(&alloc::format!("a{d}"), "k").unwrap(),
            qty: 1,
            span: Span::Days { from: d, to: d + 1 },
            hold: None,
            at: 1,
        };
        let mut rosters = HashMap::new();
        // Every other day cached, with one booking each.
        for d in (0..10).step_by(2) {
            rosters.insert(StreamId::new(&unit, Part::Day(d)), Roster::replay(&[booked(d)]).0);
        }
        for len in [1, STREAMS_INLINE_MAX, STREAMS_INLINE_MAX + 1, 10] {
            let streams: Vec<StreamId> = (0..len as u32).map(|d| StreamId::new(&unit, Part::Day(d))).collect();
            let seqs = with_rosters(&rosters, &streams, |rs| rs.iter().map(|r| r.seq()).collect::<Vec<_>>());
            let want: Vec<Seq> = (0..len).map(|d| u64::from(d % 2 == 0)).collect();
            assert_eq!(seqs, want, "{len} streams");
        }
    }

    #[test]
    fn the_schema_takes_from_the_feed_only_the_catalog_events_it_lacks() {
        let def = |name: &str| IndexDef::single(name, "price", crate::key::KeyType::U32).unwrap();
        let defined = |name: &str| Event::IndexDefined { def: def(name), at: 1 };
        let append = |first, names: &[&str]| Append {
            stream: StreamId::catalog(),
            first,
            events: names.iter().map(|n| defined(n)).collect(),
        };
        let (mut rosters, mut units, mut mirror) = (HashMap::new(), HashMap::new(), Mirror::default());
        let mut feed = Feed::At { pos: 0, complete: true };
        // Read directly up to seq 2; the feed then brings 2..=3, then 5 (a hole).
        let mut schema = Some(Schema::replay(&[defined("a"), defined("b")]));
        for (pos, a) in [(1, append(2, &["b", "c"])), (2, append(5, &["e"]))] {
            let changes = Changes { pos, appends: alloc::vec![a], more: false, gap: false };
            let cache = FeedCache {
                rosters: &mut rosters,
                units: &mut units,
                mirror: &mut mirror,
                schema: &mut schema,
                feed: &mut feed,
            };
            apply_feed(cache, 16, pos - 1, changes).unwrap();
        }
        let s = schema.unwrap();
        assert_eq!(s.seq, 3, "seq 4 never came: the schema stops before the hole");
        let names: Vec<&str> = s.indexes.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
    }

    /// Every two-byte key of `range`'s domain lies in exactly one segment
    /// after any number of leaps: a walk still visits each key once.
    #[test]
    fn leaps_keep_a_walk_covering_its_range_once() {
        use proptest::prelude::*;
        proptest!(|(lo in 0u8..200, width in 2u8..55, reverse: bool, hs in proptest::collection::vec(any::<u64>(), 0..12))| {
            let range = KeyRange {
                start: alloc::vec![lo],
                end: Some(alloc::vec![lo + width]),
                reverse,
                limit: 4,
            };
            let mut walk: VecDeque<KeyRange> = alloc::vec![range.clone()].into();
            let mut leaps = 0;
            for h in hs {
                let before: Vec<KeyRange> = walk.iter().cloned().collect();
                if leap(&mut walk, h) {
                    leaps += 1;
                    prop_assert_eq!(walk.len(), before.len() + 1);
                    // On from the point leapt to, in scan direction; what
                    // it skipped comes last.
                    let (old, front, back) = (&before[0], &walk[0], &walk[walk.len() - 1]);
                    if reverse {
                        prop_assert!(front.start == old.start && front.end < old.end);
                        prop_assert!(back.start == *front.end.as_ref().unwrap() && back.end == old.end);
                    } else {
                        prop_assert!(front.end == old.end && front.start > old.start);
                        prop_assert!(back.start == old.start && back.end == Some(front.start.clone()));
                    }
                } else {
                    prop_assert_eq!(walk.iter().cloned().collect::<Vec<_>>(), before);
                }
            }
            prop_assert_eq!(walk.len(), leaps + 1);
            for a in 0..=u8::MAX {
                for b in [None, Some(0u8), Some(7), Some(u8::MAX)] {
                    let mut key = alloc::vec![a];
                    key.extend(b);
                    let holders = walk.iter().filter(|s| s.contains(&key)).count();
                    prop_assert_eq!(holders, usize::from(range.contains(&key)), "key {:?} in {:?}", key, walk);
                }
            }
            prop_assert!(walk.iter().all(|s| s.reverse == reverse && s.limit == 4));
        });
        // A segment with no point inside it is left alone.
        let narrow = KeyRange { start: alloc::vec![1, 2], end: Some(alloc::vec![1, 2, 0]), reverse: false, limit: 1 };
        let mut walk: VecDeque<KeyRange> = alloc::vec![narrow.clone()].into();
        assert!(!leap(&mut walk, u64::MAX / 2));
        assert_eq!(walk, VecDeque::from(alloc::vec![narrow]));
    }

    /// The spread hash is 64 bits wide on every target and spreads nearby
    /// ids over the whole range.
    #[test]
    fn spread_hashes_of_nearby_ids_cover_every_quarter() {
        let quarters: alloc::collections::BTreeSet<u64> =
            (0..16).map(|i| spread_hash(&BookingId::new(&alloc::format!("s-{i}"), "k").unwrap()) >> 62).collect();
        assert_eq!(quarters.len(), 4);
    }

    #[test]
    fn spread_points_fall_inside_the_range_in_order() {
        let r = KeyRange {
            start: alloc::vec![7, 0, 0, 0, 0],
            end: Some(alloc::vec![7, 0xff, 0xff, 0xff, 0xff]),
            reverse: false,
            limit: 1,
        };
        let mut last = r.start.clone();
        for h in [0, 1 << 60, 1 << 62, 1 << 63, u64::MAX] {
            let p = spread_point(&r, h).unwrap();
            assert!(r.contains(&p), "{p:?}");
            assert!(p >= last, "points grow with h");
            last = p;
        }
        // Unbounded above, or nothing to split: no point.
        assert_eq!(spread_point(&KeyRange { end: None, ..r.clone() }, 5), None);
        let narrow = KeyRange { start: alloc::vec![1, 2], end: Some(alloc::vec![1, 2, 0]), reverse: false, limit: 1 };
        assert_eq!(spread_point(&narrow, u64::MAX), None);
    }
}

//! The in-memory store: the reference implementation of [`Store`], safe to
//! share across threads (with `std`, or with spin locks without it).
//!
//! Streams and claims are sharded by a hash of the unit id and of the booking
//! id, so that commits on different units rarely wait for each other. A
//! commit locks every shard it touches in ascending order (streams first, then
//! claims, then the catalog, then the untouched units), checks everything, and
//! only then writes: the lock order rules out deadlock and the
//! check-then-write order rules out a half-applied commit.
//!
//! The booking loop only ever looks streams and claims up by id, so shards
//! keep them in hash maps. The byte-ordered scans of the contract (verify,
//! lifecycle, reconcile) use a sorted list of each shard's keys, rebuilt
//! lazily after a key was added: it costs nothing while bookings run, and
//! once per scan burst afterwards.
//!
//! The change feed is optional ([`MemStore::with_feed`]): a journal appended
//! by every commit under its shard locks, so that each stream's appends are
//! journaled in seq order. Off by default, since threads sharing one
//! in-memory store read it for free and the journal would be one more lock
//! every commit takes.

use alloc::boxed::Box;
use alloc::collections::{BTreeMap, BinaryHeap, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::hash::{BuildHasher, Hasher};
use core::ops::Bound;
use core::sync::atomic::{AtomicU32, Ordering as AtomicOrdering};

use hashbrown::HashMap;
use smallvec::SmallVec;

use crate::error::{InputError, StoreError};
use crate::event::{ClaimRecord, Event, UnitRow};
use crate::key;
use crate::model::{BookingId, Part, Seq, StreamId, TimeMs, UnitId};
use crate::store::*;
use crate::sync::{Mutex, RwLock};

/// Entries a capacity hint ([`MemStore::with_capacity`]) reserves at most
/// per keyspace: a hint promises nothing, and a wild one must not reserve
/// the machine's memory up front.
const CAPACITY_HINT_MAX: usize = 1 << 23;

/// Entries of the untouched index a window read takes at a time, at least
/// (see [`MemStore::read_untouched_window`]).
const UNTOUCHED_SCAN_LEN_MIN: u32 = 64;

/// Shards per keyspace. A power of two well above the thread counts allot
/// runs with, so that two random units share a shard rarely.
const SHARD_COUNT: usize = 64;

#[derive(Debug, Default)]
struct StreamShard {
    /// Every stream of a unit in one entry, keyed by the unit's id (the
    /// catalog's is the empty id): a booking's commit checks the unit's
    /// definition stream and appends to its bookings with one lookup, a
    /// stream started is no new entry, and whether a unit was ever booked
    /// is in the entry the untouched walk looks up anyway.
    units: HashMap<Arc<str>, UnitStreams>,
    /// Encoded ids of the streams, sorted; `None` once a stream was started.
    sorted: Option<Vec<(Key, StreamId)>>,
    /// Where the next unit's touch flag is.
    touches: TouchCursor,
}

impl StreamShard {
    fn sorted(&mut self) -> &[(Key, StreamId)] {
        let units = &self.units;
        self.sorted.get_or_insert_with(|| {
            let mut v: Vec<(Key, StreamId)> = units
                .iter()
                .flat_map(|(unit, streams)| streams.parts().map(|part| StreamId::of(Arc::clone(unit), part)))
                .map(|s| (Key::from_slice(&s.encode()), s))
                .collect();
            v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            v
        })
    }

    /// The events of stream `s` (empty if it has none: a stream exists
    /// once it has an event).
    fn events(&self, s: &StreamId) -> &[Event] {
        self.units.get(&SameUnit(s.unit_arc())).map_or(&[], |u| u.part(s.part))
    }
}

/// A unit id to look a shard's streams up by, equal to a key at once when
/// it is the very same id: a client's stream ids share the ids of the rows
/// the store gave it, so most lookups need not read the stored key's text
/// (a cache miss each, in a table of a million units).
struct SameUnit<'a>(&'a Arc<str>);

impl core::hash::Hash for SameUnit<'_> {
    fn hash<H: Hasher>(&self, h: &mut H) {
        // As the key's own hash (`Arc<str>` hashes its text).
        str::hash(self.0, h);
    }
}

impl hashbrown::Equivalent<Arc<str>> for SameUnit<'_> {
    fn equivalent(&self, key: &Arc<str>) -> bool {
        Arc::ptr_eq(self.0, key) || **self.0 == **key
    }
}

/// Appends `new` to a stream's `events`; whether that started the stream.
fn append(events: &mut Events, new: &[Event]) -> bool {
    let started = events.is_empty();
    if started && new.len() > 1 {
        // Exactly as long as its first append (`extend` would reserve four
        // events).
        *events = SmallVec::from_vec(new.to_vec());
    } else {
        events.extend(new.iter().cloned());
    }
    started
}

/// A stream's events, the first inline: most streams keep one (a unit's
/// definition, a room's booking), and a booking's event then costs the
/// store no allocation of its own.
type Events = SmallVec<[Event; 1]>;

/// The streams of one unit. A stream with no event does not exist.
#[derive(Debug)]
struct UnitStreams {
    def: Events,
    main: Events,
    /// A day is here once its stream has an event (a commit's first append
    /// to it puts it here).
    days: BTreeMap<u32, Events>,
    /// Set by the first commit to a booking stream (see [`Touch`]).
    touch: Touch,
}

impl UnitStreams {
    fn new(touch: Touch) -> Self {
        Self { def: Events::new(), main: Events::new(), days: BTreeMap::new(), touch }
    }

    fn part(&self, part: Part) -> &[Event] {
        match part {
            Part::Def => &self.def,
            Part::Main => &self.main,
            Part::Day(d) => self.days.get(&d).map_or(&[], SmallVec::as_slice),
        }
    }

    fn part_mut(&mut self, part: Part) -> &mut Events {
        match part {
            Part::Def => &mut self.def,
            Part::Main => &mut self.main,
            Part::Day(d) => self.days.entry(d).or_default(),
        }
    }

    /// The parts that hold events, in stream id order.
    fn parts(&self) -> impl Iterator<Item = Part> + '_ {
        let def = (!self.def.is_empty()).then_some(Part::Def);
        let main = (!self.main.is_empty()).then_some(Part::Main);
        def.into_iter().chain(main).chain(self.days.keys().map(|&d| Part::Day(d)))
    }

    /// Whether any booking stream holds an event.
    fn touched(&self) -> bool {
        !self.main.is_empty() || !self.days.is_empty()
    }
}

/// Touch flags that share one allocation: a shard's units, in the order
/// they were first seen, a bit each. A million units' flags take 125 KB,
/// which stays in a core's cache: the untouched walk reads them without a
/// lock where checking each unit in its stream shard cost a lock and about
/// five cache misses, and a booking's commit reads and sets its unit's.
/// (A byte per flag took a megabyte, and reading a flag was then a cache
/// miss: ARCHITECTURE.md, "Touch flags".)
const TOUCH_FLAGS_PER_BLOCK: usize = 512;

/// Flags per word of a [`TouchBlock`]: 32-bit atomics are on more targets
/// than 64-bit ones, and only loads and stores are used.
const TOUCH_FLAGS_PER_WORD: usize = 32;

const _: () = assert!(TOUCH_FLAGS_PER_BLOCK.is_multiple_of(TOUCH_FLAGS_PER_WORD));

/// One cache line of flags. Every flag in a block is of a unit of the same
/// stream shard (one [`TouchCursor`] hands them out), so flags are only
/// ever set under that shard's lock: a word's writers are serialised, and
/// setting a bit is a load and a store, no read-modify-write.
struct TouchBlock([AtomicU32; TOUCH_FLAGS_PER_BLOCK / TOUCH_FLAGS_PER_WORD]);

/// A unit's touch flag: set, under the unit's shard lock, by the first
/// commit that appends to any of its booking streams (after that commit's
/// checks, so it lands); never cleared. The stream shard and the untouched
/// index share it, so that the untouched walk drops the entries of units
/// booked since without looking them up in their shards (see
/// [`MemStore::take_untouched`]).
#[derive(Clone)]
struct Touch {
    block: Arc<TouchBlock>,
    /// Below [`TOUCH_FLAGS_PER_BLOCK`].
    at: usize,
}

impl Touch {
    fn word(&self) -> (&AtomicU32, u32) {
        (&self.block.0[self.at / TOUCH_FLAGS_PER_WORD], 1 << (self.at % TOUCH_FLAGS_PER_WORD))
    }

    /// Only under the lock of the stream shard whose cursor gave this flag
    /// out (see [`TouchBlock`]).
    fn set(&self) {
        let (word, bit) = self.word();
        let w = word.load(AtomicOrdering::Relaxed);
        // Read first: a unit booked again does not write the line again.
        if w & bit == 0 {
            word.store(w | bit, AtomicOrdering::Relaxed);
        }
    }

    /// Relaxed suffices: a commit acknowledged before a read started set
    /// the flag before it returned, and whatever told the reader of the
    /// acknowledgement orders that store before this load.
    fn is_set(&self) -> bool {
        let (word, bit) = self.word();
        word.load(AtomicOrdering::Relaxed) & bit != 0
    }
}

impl core::fmt::Debug for Touch {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Touch").field("set", &self.is_set()).finish()
    }
}

/// Where a shard's next touch flag is.
#[derive(Default)]
struct TouchCursor {
    block: Option<Arc<TouchBlock>>,
    next: usize,
}

impl core::fmt::Debug for TouchCursor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TouchCursor").field("next", &self.next).finish()
    }
}

impl TouchCursor {
    fn take(&mut self) -> Touch {
        let block = match &self.block {
            Some(b) if self.next < TOUCH_FLAGS_PER_BLOCK => Arc::clone(b),
            _ => {
                let b =
                    Arc::new(TouchBlock([const { AtomicU32::new(0) }; TOUCH_FLAGS_PER_BLOCK / TOUCH_FLAGS_PER_WORD]));
                self.block = Some(Arc::clone(&b));
                self.next = 0;
                b
            }
        };
        let at = self.next;
        self.next += 1;
        Touch { block, at }
    }
}

#[derive(Debug, Default)]
struct ClaimShard {
    /// Records boxed: a table sized for its claims up front is mostly
    /// empty buckets, and each bucket holds a key and a value.
    claims: HashMap<BookingId, Box<ClaimRecord>>,
    /// Encoded ids of `claims`, sorted; `None` once a claim was added.
    sorted: Option<Vec<(Key, BookingId)>>,
}

impl ClaimShard {
    fn sorted(&mut self) -> &[(Key, BookingId)] {
        let claims = &self.claims;
        self.sorted.get_or_insert_with(|| {
            let mut v: Vec<(Key, BookingId)> =
                claims.keys().map(|b| (Key::from_slice(&b.encode()), b.clone())).collect();
            v.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            v
        })
    }
}

/// The change feed: entry `i` of `entries` is at position `base + i + 1`.
#[derive(Debug, Default)]
struct Journal {
    base: FeedPos,
    entries: VecDeque<Vec<Append>>,
}

/// A key of the catalog's B-trees, inline up to [`KEY_INLINE_BYTES`]: a
/// descent compares about 20 keys at a million units, and a key behind a
/// pointer is a cache miss for each (allot holiday's index keys are 26
/// bytes).
type Key = SmallVec<[u8; KEY_INLINE_BYTES]>;

/// Long enough for an index name, a number and a short unit id.
const KEY_INLINE_BYTES: usize = 32;

#[derive(Debug, Default)]
struct Catalog {
    units: HashMap<UnitId, Arc<UnitRow>>,
    /// Unit ids by encoded id, for `scan_units`.
    ordered: BTreeMap<Key, UnitId>,
    /// Each index entry's unit row (the same `Arc` as in `units`): a window
    /// read takes its rows from its walk of the index, with no lookup by id.
    index: BTreeMap<Key, Arc<UnitRow>>,
}

/// Index entries whose units may be untouched (see
/// [`Store::read_untouched_window`]), each with its unit's touch flag
/// (`None`: the commit that wrote the entry did not hold the unit's
/// streams): every live unit's entries in [`Catalog::index`], less those a
/// read found booked since. Commits only add (defining a unit) and set
/// flags (booking); the reads drop the entries of units found touched, so
/// that booking takes no lock here.
type Untouched = BTreeMap<Key, Option<Touch>>;

/// The in-memory store.
#[derive(Debug)]
pub struct MemStore {
    streams: Vec<Mutex<StreamShard>>,
    claims: Vec<Mutex<ClaimShard>>,
    catalog: RwLock<Catalog>,
    journal: Option<Mutex<Journal>>,
    /// Locked after the catalog by commits; a read never holds it while it
    /// locks a stream shard.
    untouched: RwLock<Untouched>,
    /// The vacancy epoch (see [`Store::vacancy_epoch`]). Behind a lock, not
    /// atomics: 64-bit atomics are not on every target `no_std` runs on.
    vacancies: Mutex<VacancyEpoch>,
    /// A copy of `vacancies.at_max`, so that a booking whose events are no
    /// later than it need not take that lock (one lock every commit shares).
    at_max_seen: AtMaxSeen,
}

/// A lower bound of [`VacancyEpoch::at_max`] readable without its lock:
/// written only under it, after `at_max`, with `at_max`'s new value, so it
/// never exceeds it. Release and acquire: a commit that skips the lock
/// because of a value it read comes after the critical section that wrote
/// it, so any later `vacancy_epoch` read sees at least that value. Where
/// 64-bit atomics are missing it knows nothing and every commit with events
/// takes the lock, as before.
#[derive(Debug, Default)]
struct AtMaxSeen {
    #[cfg(target_has_atomic = "64")]
    at_max: core::sync::atomic::AtomicU64,
}

impl AtMaxSeen {
    /// Whether `at_max` is known to be at least `at` (stale reads only
    /// answer `false` more often: the bound only grows).
    fn covers(&self, at: TimeMs) -> bool {
        #[cfg(target_has_atomic = "64")]
        return at <= self.at_max.load(core::sync::atomic::Ordering::Acquire);
        #[cfg(not(target_has_atomic = "64"))]
        return {
            let _ = at;
            false
        };
    }

    /// Records `at_max`'s new value; call with the vacancy lock held.
    fn set(&self, at_max: TimeMs) {
        #[cfg(target_has_atomic = "64")]
        self.at_max.store(at_max, core::sync::atomic::Ordering::Release);
        #[cfg(not(target_has_atomic = "64"))]
        let _ = at_max;
    }
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

/// foldhash with a fixed seed over `parts`, separated: deterministic (a
/// simulation replays the same lock order), no_std, and a word at a time
/// (byte-wise FNV-1a was a tenth of a booking's instructions: a commit
/// hashes each of its stream and claim ids). Shards need spread, not
/// security.
fn shard_of(parts: &[&[u8]]) -> usize {
    let mut h = foldhash::fast::FixedState::with_seed(0).build_hasher();
    for p in parts {
        h.write(p);
        h.write_u8(0xff);
    }
    (h.finish() as usize) & (SHARD_COUNT - 1)
}

/// The shard of every stream of the unit whose id is `unit`.
fn unit_shard(unit: &str) -> usize {
    shard_of(&[unit.as_bytes()])
}

fn stream_shard(s: &StreamId) -> usize {
    unit_shard(s.unit_str())
}

fn claim_shard(b: &BookingId) -> usize {
    shard_of(&[b.actor.as_str().as_bytes(), b.key.as_str().as_bytes()])
}

type ByteBounds<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

fn bounds(range: &KeyRange) -> Option<ByteBounds<'_>> {
    if let Some(end) = &range.end {
        // BTreeMap::range panics on an inverted range; an empty one is fine.
        if end.as_slice() <= range.start.as_slice() {
            return None;
        }
    }
    let end = match &range.end {
        Some(e) => Bound::Excluded(e.as_slice()),
        None => Bound::Unbounded,
    };
    Some((Bound::Included(range.start.as_slice()), end))
}

/// Up to `range.limit` items of `map` in `range`, in scan order.
fn scan_map<'a, V>(map: &'a BTreeMap<Key, V>, range: &KeyRange) -> Vec<(&'a [u8], &'a V)> {
    let Some(b) = bounds(range) else { return Vec::new() };
    let limit = range.limit as usize;
    let it = map.range::<[u8], _>(b).map(|(k, v)| (k.as_slice(), v));
    if range.reverse { it.rev().take(limit).collect() } else { it.take(limit).collect() }
}

/// Walks `it` (untouched index entries in scan order) until it has taken
/// `want` keys whose entries are not `set`: the keys taken, the last key
/// looked at, how many `set` ones were passed, and whether `it` ended.
fn scan_untouched<'a>(
    it: impl Iterator<Item = (&'a Key, &'a Option<Touch>)>,
    want: usize,
    set: impl Fn(&Option<Touch>) -> bool,
) -> (Vec<Key>, Option<Key>, usize, bool) {
    let (mut taken, mut last, mut dropped) = (Vec::with_capacity(want), None, 0);
    for (k, t) in it {
        last = Some(k);
        if set(t) {
            dropped += 1;
        } else {
            taken.push(k.clone());
            if taken.len() == want {
                return (taken, last.cloned(), dropped, false);
            }
        }
    }
    (taken, last.cloned(), dropped, true)
}

/// The part of a sorted list whose keys lie in `range`.
fn in_range<'a, T>(sorted: &'a [(Key, T)], range: &KeyRange) -> &'a [(Key, T)] {
    if bounds(range).is_none() {
        return &[];
    }
    let lo = sorted.partition_point(|(k, _)| k.as_slice() < range.start.as_slice());
    let hi = match &range.end {
        Some(end) => sorted.partition_point(|(k, _)| k.as_slice() < end.as_slice()),
        None => sorted.len(),
    };
    &sorted[lo..hi.max(lo)]
}

/// Up to `range.limit` items in `range` over every shard's sorted list
/// (all locked by the caller), merged in scan order: a k-way merge, so a
/// page costs O(limit log shards) whatever the number of shards.
fn scan_merged<'a, T>(lists: &[&'a [(Key, T)]], range: &KeyRange) -> Vec<&'a T> {
    let mut slices: Vec<&'a [(Key, T)]> = lists.iter().map(|l| in_range(l, range)).collect();
    let take = |s: &mut &'a [(Key, T)]| -> Option<&'a (Key, T)> {
        if range.reverse {
            let (last, rest) = s.split_last()?;
            *s = rest;
            Some(last)
        } else {
            let (first, rest) = s.split_first()?;
            *s = rest;
            Some(first)
        }
    };
    // BinaryHeap pops the largest: order reversed for a forward scan.
    let mut heap = BinaryHeap::new();
    for (i, s) in slices.iter_mut().enumerate() {
        if let Some(item) = take(s) {
            heap.push(Head { key: &item.0, value: &item.1, shard: i, reverse: range.reverse });
        }
    }
    let mut out = Vec::new();
    while out.len() < range.limit as usize {
        let Some(h) = heap.pop() else { break };
        out.push(h.value);
        if let Some(item) = take(&mut slices[h.shard]) {
            heap.push(Head { key: &item.0, value: &item.1, shard: h.shard, reverse: range.reverse });
        }
    }
    out
}

struct Head<'a, V> {
    key: &'a Key,
    value: &'a V,
    shard: usize,
    reverse: bool,
}

impl<V> PartialEq for Head<'_, V> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<V> Eq for Head<'_, V> {}
impl<V> PartialOrd for Head<'_, V> {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<V> Ord for Head<'_, V> {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        let o = self.key.cmp(other.key);
        if self.reverse { o } else { o.reverse() }
    }
}

impl MemStore {
    pub fn new() -> Self {
        Self::with_capacity(0, 0)
    }

    /// A store with room for about `units` units (each with all its
    /// streams) and `claims` claims (bookings) before its tables grow, like
    /// `HashMap::with_capacity`.
    /// A hint only: the store grows past it. Growing a table rehashes every
    /// key in it, each a string elsewhere in memory: the native holiday rush
    /// spent about a sixth of its time there before its store was sized.
    pub fn with_capacity(units: usize, claims: usize) -> Self {
        let per_shard = |n: usize| n.min(CAPACITY_HINT_MAX).div_ceil(SHARD_COUNT);
        Self {
            streams: (0..SHARD_COUNT)
                .map(|_| {
                    let units = HashMap::with_capacity(per_shard(units));
                    Mutex::new(StreamShard { units, sorted: None, touches: TouchCursor::default() })
                })
                .collect(),
            claims: (0..SHARD_COUNT)
                .map(|_| Mutex::new(ClaimShard { claims: HashMap::with_capacity(per_shard(claims)), sorted: None }))
                .collect(),
            catalog: RwLock::new(Catalog::default()),
            journal: None,
            untouched: RwLock::new(Untouched::default()),
            vacancies: Mutex::new(VacancyEpoch { epoch: 0, at_max: 0 }),
            at_max_seen: AtMaxSeen::default(),
        }
    }

    /// A store that keeps a change feed ([`Store::changes`]).
    pub fn with_feed() -> Self {
        Self { journal: Some(Mutex::new(Journal::default())), ..Self::new() }
    }

    /// Drops the feed's entries up to position `upto` (inclusive), as a
    /// store that trims its journal would: a client behind `upto` then gets
    /// `gap`. For tests of that path.
    pub fn trim_feed(&self, upto: FeedPos) {
        if let Some(j) = &self.journal {
            let mut j = j.lock();
            while j.base < upto && j.entries.pop_front().is_some() {
                j.base += 1;
            }
        }
    }

    /// Whether any booking stream of `unit` holds an event (see
    /// [`Store::read_untouched_window`]).
    fn touched(&self, unit: &UnitId) -> bool {
        let shard = self.streams[unit_shard(unit.as_str())].lock();
        shard.units.get(&SameUnit(unit.arc())).is_some_and(UnitStreams::touched)
    }

    /// The next entries of the untouched index in `rest`, in its direction,
    /// whose units' touch flags are not set: up to `rest.limit` of them, as
    /// their rows and the positions of their keys in the rows' keys, with
    /// `rest` advanced past the last entry looked at; `true` when the range
    /// ended. The entries passed whose flags are set are dropped from the
    /// index on the way. Near the end of a rush nearly every entry is of a
    /// unit booked since: a flag read each, and one pass that drops them
    /// in order, where checking each in its stream shard cost a lock and
    /// about five cache misses, and dropping each a descent (ARCHITECTURE.md,
    /// "Touch flags").
    fn take_untouched(&self, rest: &mut KeyRange) -> (Vec<(Arc<UnitRow>, usize)>, bool) {
        let Some(b) = bounds(rest) else { return (Vec::new(), true) };
        let want = rest.limit as usize;
        // In the commits' order (the catalog, then the index), and no
        // stream shard locked.
        let cat = self.catalog.read();
        let mut untouched = self.untouched.write();
        let set = |t: &Option<Touch>| t.as_ref().is_some_and(Touch::is_set);
        let (taken, last, dropped, ended) = {
            let it = untouched.range::<[u8], _>(b);
            if rest.reverse { scan_untouched(it.rev(), want, set) } else { scan_untouched(it, want, set) }
        };
        let Some(last) = last else { return (Vec::new(), true) };
        let found = taken
            .iter()
            .filter_map(|k| {
                let row = cat.index.get(k.as_slice())?;
                let at = row.index_keys.iter().position(|own| own.as_slice() == k.as_slice())?;
                Some((Arc::clone(row), at))
            })
            .collect();
        if dropped > 0 {
            // The entries looked at, as a range of owned keys.
            let (lo, hi) = if rest.reverse {
                let hi = rest.end.as_ref().map_or(Bound::Unbounded, |e| Bound::Excluded(Key::from_slice(e)));
                (Bound::Included(last.clone()), hi)
            } else {
                (Bound::Included(Key::from_slice(&rest.start)), Bound::Included(last.clone()))
            };
            untouched.extract_if((lo, hi), |_, t| set(t)).for_each(drop);
        }
        rest.advance_past(&last);
        (found, ended)
    }

    fn commit_now(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        c.validate()?;
        // Lock in ascending shard order: streams, claims, catalog.
        // Each id hashed once: a booking's writes are several streams of one unit.
        let write_shards: SmallVec<[usize; 4]> = c.writes.iter().map(|w| stream_shard(&w.stream)).collect();
        let claim_of: SmallVec<[usize; 2]> = c.claims.iter().map(|cl| claim_shard(&cl.booking)).collect();
        let stream_shards = shard_set(write_shards.iter().copied());
        let claim_shards = shard_set(claim_of.iter().copied());
        // Inline: a booking locks one shard of each (no allocation per commit).
        let mut stream_guards: SmallVec<[_; 2]> = shards_in(stream_shards).map(|s| self.streams[s].lock()).collect();
        let mut claim_guards: SmallVec<[_; 2]> = shards_in(claim_shards).map(|s| self.claims[s].lock()).collect();
        let mut catalog = (!c.units.is_empty()).then(|| self.catalog.write());
        let stream_slot = |i: usize| slot(stream_shards, write_shards[i]);
        let claim_slot = |i: usize| slot(claim_shards, claim_of[i]);

        // Check everything: claims first (a repeated request is a duplicate
        // even though its streams moved on since), then streams.
        for (i, cl) in c.claims.iter().enumerate() {
            if let Some(existing) = claim_guards[claim_slot(i)].claims.get(&cl.booking) {
                return Ok(CommitOutcome::Duplicate { booking: cl.booking.clone(), existing: (**existing).clone() });
            }
        }
        for (i, w) in c.writes.iter().enumerate() {
            let actual = stream_guards[stream_slot(i)].events(&w.stream).len() as Seq;
            if actual != w.expected {
                return Ok(CommitOutcome::Conflict { stream: w.stream.clone(), expected: w.expected, actual });
            }
        }

        // Write everything (the journal under the same locks, so that each
        // stream's appends are journaled in seq order).
        if let Some(j) = &self.journal {
            let appends: Vec<Append> = c
                .writes
                .iter()
                .filter(|w| !w.events.is_empty())
                .map(|w| Append { stream: w.stream.clone(), first: w.expected + 1, events: w.events.clone() })
                .collect();
            if !appends.is_empty() {
                j.lock().entries.push_back(appends);
            }
        }
        for (i, w) in c.writes.iter().enumerate() {
            if w.events.is_empty() {
                continue; // a guard
            }
            let shard = &mut *stream_guards[stream_slot(i)];
            let booking = w.stream.part != Part::Def;
            let started = match shard.units.get_mut(&SameUnit(w.stream.unit_arc())) {
                Some(unit) => {
                    if booking {
                        unit.touch.set();
                    }
                    append(unit.part_mut(w.stream.part), &w.events)
                }
                None => {
                    // The unit's first stream: its id shared, not copied.
                    let mut unit = UnitStreams::new(shard.touches.take());
                    if booking {
                        unit.touch.set();
                    }
                    append(unit.part_mut(w.stream.part), &w.events);
                    shard.units.insert(Arc::clone(w.stream.unit_arc()), unit);
                    true
                }
            };
            if started {
                shard.sorted = None;
            }
        }
        for (i, cl) in c.claims.iter().enumerate() {
            let shard = &mut claim_guards[claim_slot(i)];
            shard.claims.insert(cl.booking.clone(), Box::new(cl.record.clone()));
            shard.sorted = None;
        }
        if let Some(cat) = catalog.as_mut() {
            // A replaced unit's new entries go in whether or not it was
            // booked: a read drops them if it was.
            let mut untouched = self.untouched.write();
            for row in &c.units {
                let id = row.id();
                match cat.units.get(id).cloned() {
                    Some(old) => {
                        for k in &old.index_keys {
                            cat.index.remove(k.as_slice());
                            untouched.remove(k.as_slice());
                        }
                    }
                    None => {
                        let mut k = Vec::new();
                        key::encode_str(id.as_str(), &mut k);
                        cat.ordered.insert(Key::from_slice(&k), id.clone());
                    }
                }
                let row = Arc::new(row.clone());
                // The unit's touch flag, where this commit holds its streams
                // (it defines or replaces the unit); else its entries are
                // checked in its shard.
                let shard = unit_shard(id.as_str());
                let touch = (stream_shards & (1 << shard) != 0)
                    .then(|| stream_guards[slot(stream_shards, shard)].units.get(&SameUnit(id.arc())))
                    .flatten()
                    .map(|u| u.touch.clone());
                for k in &row.index_keys {
                    cat.index.insert(Key::from_slice(k), Arc::clone(&row));
                    untouched.insert(Key::from_slice(k), touch.clone());
                }
                cat.units.insert(id.clone(), row);
            }
        }
        // Still under the commit's locks: no read sees its writes with the
        // old epoch (the contract of `vacancy_epoch`).
        let at_max = c.writes.iter().flat_map(|w| &w.events).map(Event::at).max().unwrap_or(0);
        let vacates = c.may_vacate();
        if vacates || !self.at_max_seen.covers(at_max) {
            let mut v = self.vacancies.lock();
            v.at_max = v.at_max.max(at_max);
            self.at_max_seen.set(v.at_max);
            if vacates {
                v.epoch += 1;
            }
        }
        Ok(CommitOutcome::Committed)
    }
}

// A set of shards is a bit set in one `u64`: sorted and deduplicated for
// free, and no allocation per commit.
const _: () = assert!(SHARD_COUNT <= 64);

/// The index entry of `key`, whose unit's row is `row`.
fn index_entry(key: &[u8], row: &UnitRow) -> IndexEntry {
    IndexEntry { key: key.to_vec(), unit: row.id().clone() }
}

/// A window's entries in `range` of `index` (entry key to row), and their rows.
fn window_entries(
    index: &BTreeMap<Key, Arc<UnitRow>>,
    range: &KeyRange,
) -> (Vec<IndexEntry>, Vec<Option<Arc<UnitRow>>>) {
    scan_map(index, range).into_iter().map(|(k, row)| (index_entry(k, row), Some(Arc::clone(row)))).unzip()
}

/// The set of the shards `it` yields (each `< SHARD_COUNT`).
fn shard_set(it: impl Iterator<Item = usize>) -> u64 {
    it.fold(0, |set, s| set | (1 << s))
}

/// The shards of `set`, in ascending order (the lock order): one step per
/// shard in the set, not per shard there is.
fn shards_in(set: u64) -> impl Iterator<Item = usize> {
    let mut rest = set;
    core::iter::from_fn(move || {
        let s = rest.trailing_zeros() as usize;
        rest &= rest.wrapping_sub(1);
        (s < SHARD_COUNT).then_some(s)
    })
}

/// Position of `shard` among the shards of `set` in ascending order.
fn slot(set: u64, shard: usize) -> usize {
    (set & ((1 << shard) - 1)).count_ones() as usize
}

impl Store for MemStore {
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        let mut out = Vec::with_capacity(reqs.len());
        for r in reqs {
            let shard = self.streams[stream_shard(&r.stream)].lock();
            let events = shard.events(&r.stream);
            let from = usize::try_from(r.after).unwrap_or(usize::MAX).min(events.len());
            out.push(StreamSlice { head: events.len() as Seq, events: events[from..].to_vec() });
        }
        Ok(out)
    }

    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        self.commit_now(commit)
    }

    /// The default, with each commit validated once (`commit_now` does;
    /// the default validates before calling `commit`, which does again).
    async fn commit_group(&self, commits: &[Commit]) -> Result<Vec<Result<CommitOutcome, InputError>>, StoreError> {
        let mut out = Vec::with_capacity(commits.len());
        for c in commits {
            out.push(match self.commit_now(c) {
                Ok(o) => Ok(o),
                Err(StoreError::Invalid(e)) => Err(e),
                Err(e) => return Err(e),
            });
        }
        Ok(out)
    }

    async fn vacancy_epoch(&self) -> Result<Option<VacancyEpoch>, StoreError> {
        Ok(Some(*self.vacancies.lock()))
    }

    async fn changes(&self, after: FeedPos, limit: u32) -> Result<Option<Changes>, StoreError> {
        let Some(j) = &self.journal else { return Ok(None) };
        let j = j.lock();
        let end = j.base + j.entries.len() as FeedPos;
        if limit == 0 || after > end {
            // A position past the end is one this feed never gave out (the
            // store was replaced): as unusable as a trimmed one.
            return Ok(Some(Changes { pos: end, appends: Vec::new(), more: false, gap: after > end }));
        }
        let gap = after < j.base;
        let start = after.max(j.base);
        let skip = (start - j.base) as usize;
        let take = (limit as usize).min(j.entries.len() - skip);
        let appends = j.entries.iter().skip(skip).take(take).flat_map(|e| e.iter().cloned()).collect();
        let pos = start + take as FeedPos;
        Ok(Some(Changes { pos, appends, more: pos < end, gap }))
    }

    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        Ok(ids.iter().map(|id| self.claims[claim_shard(id)].lock().claims.get(id).map(|r| (**r).clone())).collect())
    }

    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        let cat = self.catalog.read();
        Ok(ids.iter().map(|id| cat.units.get(id).cloned()).collect())
    }

    async fn scan_index(&self, range: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        let cat = self.catalog.read();
        Ok(scan_map(&cat.index, range).into_iter().map(|(k, row)| index_entry(k, row)).collect())
    }

    /// The window's entries and rows from one walk of the index under one
    /// lock (the default looks every row up by id after the walk).
    async fn read_window(&self, range: &KeyRange, reads: &WindowReads<'_>) -> Result<Window, StoreError> {
        let (entries, rows) = window_entries(&self.catalog.read().index, range);
        window_of(self, entries, rows, reads).await
    }

    /// Takes entries from the untouched index ([`MemStore::take_untouched`]:
    /// those of units whose flags say booked are dropped there), checks
    /// each unit taken against its stream shard and drops the touched ones
    /// from the index, until it has a window of untouched ones or the range
    /// ends. (The shards are checked with the index unlocked: commits lock
    /// a shard first.)
    async fn read_untouched_window(
        &self,
        range: &KeyRange,
        reads: &WindowReads<'_>,
    ) -> Result<Option<Window>, StoreError> {
        let limit = range.limit as usize;
        let (mut entries, mut rows) = (Vec::with_capacity(limit), Vec::with_capacity(limit));
        let mut rest = range.clone();
        // Entries taken at a time: near the end of a rush most are of units
        // booked since, taken one by one they would cost a descent each.
        rest.limit = range.limit.max(UNTOUCHED_SCAN_LEN_MIN);
        while entries.len() < limit {
            let (found, ended) = self.take_untouched(&mut rest);
            let mut touched = Vec::new();
            for (row, at) in found {
                if entries.len() == limit {
                    break;
                }
                // A flag not set may be a commit's still to come: the
                // streams say, under their lock.
                if self.touched(row.id()) {
                    touched.push((row, at));
                } else {
                    entries.push(index_entry(&row.index_keys[at], &row));
                    rows.push(Some(row));
                }
            }
            if !touched.is_empty() {
                let mut untouched = self.untouched.write();
                for (row, at) in &touched {
                    untouched.remove(row.index_keys[*at].as_slice());
                }
            }
            if ended {
                break;
            }
        }
        // Each row here was untouched when it was checked above: its booking
        // streams were empty then, which is what a read would have returned
        // (streams only grow, so no cached seq can be past 0). Answering from
        // that check saves a second lookup of each unit; anything else asked
        // is read.
        let mut reqs = Vec::new();
        let mut answered = true;
        for row in rows.iter().flatten() {
            let from = reqs.len();
            reads(row, &mut reqs);
            answered &= reqs[from..]
                .iter()
                .all(|r| r.after == 0 && r.stream.part != Part::Def && r.stream.unit_str() == row.id().as_str());
        }
        if !answered {
            return window_of(self, entries, rows, reads).await.map(Some);
        }
        let slices = reqs.iter().map(|_| StreamSlice { head: 0, events: Vec::new() }).collect();
        Ok(Some(Window { entries, rows, reads: reqs, slices }))
    }

    async fn scan_units(&self, range: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        let cat = self.catalog.read();
        Ok(scan_map(&cat.ordered, range).into_iter().filter_map(|(_, id)| cat.units.get(id).cloned()).collect())
    }

    async fn scan_streams(&self, range: &KeyRange) -> Result<Vec<(StreamId, Seq)>, StoreError> {
        // All shards locked in ascending order, as commits do.
        let mut guards: Vec<_> = self.streams.iter().map(|s| s.lock()).collect();
        for g in guards.iter_mut() {
            g.sorted();
        }
        let lists: Vec<&[(Key, StreamId)]> = guards.iter().map(|g| g.sorted.as_deref().unwrap_or(&[])).collect();
        let ids = scan_merged(&lists, range);
        Ok(ids
            .into_iter()
            .map(|id| {
                let head = guards[stream_shard(id)].events(id).len() as Seq;
                (id.clone(), head)
            })
            .collect())
    }

    async fn scan_claims(&self, range: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        let mut guards: Vec<_> = self.claims.iter().map(|s| s.lock()).collect();
        for g in guards.iter_mut() {
            g.sorted();
        }
        let lists: Vec<&[(Key, BookingId)]> = guards.iter().map(|g| g.sorted.as_deref().unwrap_or(&[])).collect();
        let ids = scan_merged(&lists, range);
        Ok(ids
            .into_iter()
            .filter_map(|b| guards[claim_shard(b)].claims.get(b).map(|r| (b.clone(), (**r).clone())))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shard_set_yields_its_shards_in_lock_order_at_their_slots() {
        let shards = [63, 0, 17, 17, 5, 63];
        let set = shard_set(shards.iter().copied());
        let ordered: Vec<usize> = shards_in(set).collect();
        assert_eq!(ordered, alloc::vec![0, 5, 17, 63]);
        for (i, &s) in ordered.iter().enumerate() {
            assert_eq!(slot(set, s), i);
        }
    }

    #[test]
    fn an_untouched_read_drops_the_entries_of_units_flagged_booked() {
        use crate::model::{UnitKind, UnitSpec};
        let store = MemStore::new();
        let spec = |i: u8| UnitSpec {
            id: UnitId::new(&alloc::format!("u{i}")).unwrap(),
            kind: UnitKind::Exclusive,
            attrs: Default::default(),
        };
        let rows: Vec<UnitRow> = (0..6)
            .map(|i| UnitRow { spec: spec(i), version: 1, retired: false, index_keys: alloc::vec![alloc::vec![9, i]] })
            .collect();
        let writes = rows
            .iter()
            .map(|r| StreamWrite {
                stream: StreamId::new(r.id(), Part::Def),
                expected: 0,
                events: alloc::vec![Event::UnitDefined { spec: r.spec.clone(), at: 0 }],
            })
            .collect();
        pollster::block_on(store.commit(&Commit { units: rows, writes, ..Commit::default() })).unwrap();
        let flags = |store: &MemStore| -> Vec<(u8, bool)> {
            store.untouched.read().iter().map(|(k, t)| (k[1], t.as_ref().is_some_and(Touch::is_set))).collect()
        };
        assert_eq!(flags(&store), (0..6).map(|i| (i, false)).collect::<Vec<_>>(), "defining sets no flag");
        let booking = Event::Booked {
            booking: BookingId::new("a", "k").unwrap(),
            qty: 1,
            span: crate::model::Span::Whole,
            hold: None,
            at: 1,
        };
        for i in [1, 2, 4] {
            let stream = StreamId::new(&spec(i).id, Part::Main);
            let write = StreamWrite { stream, expected: 0, events: alloc::vec![booking.clone()] };
            pollster::block_on(store.commit(&Commit { writes: alloc::vec![write], ..Commit::default() })).unwrap();
        }
        let want = alloc::vec![(0, false), (1, true), (2, true), (3, false), (4, true), (5, false)];
        assert_eq!(flags(&store), want, "each booked unit's flag, and no other");
        // Up to u3: the flagged entries passed are dropped, u4's stays.
        let range = KeyRange { start: alloc::vec![9], end: Some(alloc::vec![9, 4]), reverse: false, limit: 2 };
        let no_reads = |_: &UnitRow, _: &mut Vec<ReadReq>| {};
        let w = pollster::block_on(store.read_untouched_window(&range, &no_reads)).unwrap().unwrap();
        let got: Vec<&str> = w.entries.iter().map(|e| e.unit.as_str()).collect();
        assert_eq!(got, ["u0", "u3"]);
        assert_eq!(flags(&store), alloc::vec![(0, false), (3, false), (4, true), (5, false)]);
        // Backwards from the end: u4's is dropped too.
        let range = KeyRange { start: alloc::vec![9], end: None, reverse: true, limit: 2 };
        let w = pollster::block_on(store.read_untouched_window(&range, &no_reads)).unwrap().unwrap();
        let got: Vec<&str> = w.entries.iter().map(|e| e.unit.as_str()).collect();
        assert_eq!(got, ["u5", "u3"]);
        assert_eq!(flags(&store), alloc::vec![(0, false), (3, false), (5, false)]);
    }

    #[test]
    fn each_touch_flag_is_its_own_bit() {
        let mut cursor = TouchCursor::default();
        let touches: Vec<Touch> = (0..TOUCH_FLAGS_PER_BLOCK * 2 + 3).map(|_| cursor.take()).collect();
        assert!(Arc::ptr_eq(&touches[0].block, &touches[TOUCH_FLAGS_PER_BLOCK - 1].block));
        assert!(!Arc::ptr_eq(&touches[0].block, &touches[TOUCH_FLAGS_PER_BLOCK].block));
        // Across words and blocks: every seventh flag, and each word's last.
        let set = |i: usize| i.is_multiple_of(7) || i % TOUCH_FLAGS_PER_WORD == TOUCH_FLAGS_PER_WORD - 1;
        for (i, t) in touches.iter().enumerate() {
            if set(i) {
                t.set();
                t.set();
            }
        }
        let got: Vec<usize> = (0..touches.len()).filter(|&i| touches[i].is_set()).collect();
        let want: Vec<usize> = (0..touches.len()).filter(|&i| set(i)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn a_unit_is_found_by_an_equal_id_as_by_the_same_one() {
        let mut shard = StreamShard::default();
        let stored: Arc<str> = Arc::from("room-1");
        let mut unit = UnitStreams::new(shard.touches.take());
        unit.main.push(Event::Cancelled { booking: BookingId::new("a", "k").unwrap(), at: 1 });
        shard.units.insert(Arc::clone(&stored), unit);
        let equal: Arc<str> = Arc::from("room-1");
        assert!(!Arc::ptr_eq(&stored, &equal));
        assert_eq!(shard.units.get(&SameUnit(&stored)).map(|u| u.main.len()), Some(1));
        assert_eq!(shard.units.get(&SameUnit(&equal)).map(|u| u.main.len()), Some(1));
        assert!(shard.units.get(&SameUnit(&Arc::from("room-2"))).is_none());
    }
}

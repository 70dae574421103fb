//! The storage contract: the one way allot reaches its platform.
//!
//! A store keeps four things:
//! - **streams**: append-only sequences of [`Event`]s, keyed by [`StreamId`],
//!   with contiguous 1-based seqs;
//! - **claims**: idempotency records keyed by [`BookingId`] (actor + request
//!   key), insert-if-absent;
//! - **unit rows**: the current definition of each unit, keyed by its id;
//! - **index entries**: byte keys pointing at units, taken from the unit
//!   rows' `index_keys`.
//!
//! A store never decides anything about bookings. It offers one write,
//! [`Store::commit`], whose contract is the whole of allot's safety:
//!
//! > **Append-expect.** A commit applies entirely or not at all. It applies
//! > only if (1) none of its claims exists yet and (2) every stream it names
//! > has exactly the `expected` seq. Otherwise nothing is written and the
//! > outcome names the first claim that exists ([`CommitOutcome::Duplicate`],
//! > checked before streams) or the first stream that moved
//! > ([`CommitOutcome::Conflict`], with the actual seq). A write with no
//! > events is a guard: it checks the seq and appends nothing. Unit rows in a
//! > commit replace the stored rows and their index entries, in the same
//! > atomic step.
//!
//! Commits must be linearizable: concurrent commits behave as if applied one
//! at a time in some order consistent with real time, and an acknowledged
//! commit survives everything the store promises to survive (a page reload for
//! IndexedDB, a server restart for PostgreSQL).
//!
//! **A guard is a write for concurrency, a read for data.** A zero-event
//! write must conflict with any concurrent commit that appends to its stream
//! (including one that creates the stream while the guard expects 0), exactly
//! as an appending write would: two commits that each guard the stream the
//! other appends to can never both apply. Bookings guard their unit's
//! definition stream and retirements append to it, so a store whose guards
//! only read (write skew under snapshot isolation or READ COMMITTED) lets a
//! booking land on a retired unit. A SQL store makes the guard a conditional
//! write of the head (`UPDATE ... SET head = head WHERE head = expected`).
//!
//! [`Store::commit_group`] submits many independent commits at once, in one
//! storage transaction where the store has transactions: each succeeds or
//! conflicts on its own, and the result is as if they were applied one after
//! another in order (a later commit sees an earlier one's writes).
//!
//! Reads need not be snapshots across calls: every write allot decides from a
//! read is checked again by append-expect at commit. But reads must be
//! **fresh and monotonic**: a read reflects at least every commit
//! acknowledged before it started (outcomes decided without a write, such as
//! full, sold out, overlap or an expired hold, rely on it), and a store handle
//! never reads an older state than it read or wrote before, across calls and
//! across keyspaces (a claim is never missing after its stream's events were
//! seen). Within one call a stream slice must be consistent (its events and
//! head from the same state).
//!
//! **The change feed** ([`Store::changes`], optional). A store may keep a
//! journal of what its commits appended, in commit order, so that a client
//! can bring everything it cached up to date with one read instead of one
//! read per stream (what makes IndexedDB fast: a request costs about as much
//! as a small transaction's worth of work). Its contract:
//!
//! > Every commit that appends events gets a position greater than every
//! > position before it, in the order commits are linearized, and its appends
//! > appear there, once, with their seqs. Guards, conflicts and duplicates
//! > append nothing and do not appear. `changes(after, limit)` is fresh and
//! > monotonic like every read, returns the appends after position `after`
//! > in order (so each stream's appends come in seq order with no gap), and
//! > says `gap` when the feed does not reach back to `after` (it started
//! > after some data existed, or was trimmed): then a client cannot bring a
//! > cache as of `after` up to date from it. Position 0 is the origin: with
//! > no gap, the appends after 0 are the whole history.
//!
//! A store without a feed answers `None` (the default) and clients read
//! streams one by one, as they must anyway for streams they never cached.
//!
//! **Decided groups** ([`Store::decide_group`], optional). A store with
//! transactions may read the feed (and the claims the client asks for, which
//! tell a retry from a new request), run the client's (synchronous) decision
//! and commit what it decided in one transaction. Nothing then commits
//! between the decision's read and its write, so a decision on a feed read to
//! its end cannot conflict. The commits are still checked like any other:
//! the decision is the client's, the check is the store's.
//!
//! **The vacancy epoch** ([`Store::vacancy_epoch`], optional). A number
//! that moves whenever a commit may have given room back
//! ([`Commit::may_vacate`]: a cancel or release, a unit defined, replaced or
//! retired, an index defined). Bookings and confirmations take room and
//! never move it. Its contract:
//!
//! > The epoch moves in the same atomic step as such a commit's writes: a
//! > read that sees any of them, and every read after it, sees the new
//! > epoch. Two reads that return the same epoch have no such commit
//! > between them. Read with it, `at_max` is at least the largest `at` of
//! > any event committed before the read.
//!
//! (A booking takes room, but its `at` moves its streams' clock forward:
//! a hold expired by then is room again even for a client whose own clock
//! is behind. `at_max` bounds that.)
//!
//! It lets a client that found a range sold out answer the same ask again
//! with one read instead of a walk over the whole range, until the epoch
//! moves or a hold it saw expires. A store without one answers `None` (the
//! default), and every sold-out answer walks its range.
//!
//! **Untouched units** ([`Store::read_untouched_window`], optional). A
//! unit is *untouched* while none of its booking streams (its main stream
//! and its day streams, not its definition) holds an event: it is free for
//! any span and any quantity up to its capacity. A store may keep the index
//! entries of its live untouched units apart, so that a spreading walk over
//! a nearly sold-out range finds the free units left without reading every
//! taken one on its way. Its contract:
//!
//! > `read_untouched_window(range, reads)` is [`Store::read_window`] over
//! > the index entries in `range` whose units are live (not retired) and
//! > untouched: a unit whose first booking event was acknowledged before
//! > the read started is never among them, and one defined (and still
//! > untouched) before it started always is. A unit is untouched as long as
//! > it is defined and nothing appended to its booking streams since (allot
//! > books only defined units).
//!
//! It is a way to find free units faster, never a decision: every booking
//! made from it is still an append-expect on the streams read with it, and
//! a sold-out answer still rests on a walk of the whole index. A store
//! without it answers `None` (the default).
//!
//! Methods are `async` so that stores can be asynchronous (IndexedDB in a
//! browser, a server database); the futures are not required to be `Send`.
//! An in-memory store can return ready futures. Errors say whether anything
//! may have been written: see [`StoreError`].
//!
//! [`crate::conformance`] checks a store against this contract; every store
//! runs it against itself.

use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::{InputError, StoreError};
pub use crate::event::Append;
use crate::event::{ClaimRecord, Event, UnitRow};
use crate::limits::*;
use crate::model::{BookingId, Seq, StreamId, TimeMs, UnitId};

/// Append `events` to `stream` if its seq is `expected`; with no events, a
/// guard that only checks.
#[derive(Clone, Debug, PartialEq)]
pub struct StreamWrite {
    pub stream: StreamId,
    pub expected: Seq,
    pub events: Vec<Event>,
}

/// Insert an idempotency claim; the commit fails with
/// [`CommitOutcome::Duplicate`] if it exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claim {
    pub booking: BookingId,
    pub record: ClaimRecord,
}

/// One atomic append-expect over any number of streams.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Commit {
    pub writes: Vec<StreamWrite>,
    pub claims: Vec<Claim>,
    /// Rows to put (replacing the stored row and its index entries).
    pub units: Vec<UnitRow>,
}

impl Commit {
    /// The checks every store runs before applying a commit, so that all
    /// stores reject the same malformed commits with the same errors.
    pub fn validate(&self) -> Result<(), InputError> {
        if self.writes.is_empty() && self.claims.is_empty() && self.units.is_empty() {
            return Err(InputError::CommitEmpty);
        }
        if self.writes.len() > STREAMS_PER_COMMIT_MAX {
            return Err(InputError::TooMany {
                what: "streams in a commit",
                len: self.writes.len(),
                max: STREAMS_PER_COMMIT_MAX,
            });
        }
        if self.units.len() > UNITS_PER_COMMIT_MAX {
            return Err(InputError::TooMany {
                what: "units in a commit",
                len: self.units.len(),
                max: UNITS_PER_COMMIT_MAX,
            });
        }
        if self.claims.len() > STREAMS_PER_COMMIT_MAX {
            return Err(InputError::TooMany {
                what: "claims in a commit",
                len: self.claims.len(),
                max: STREAMS_PER_COMMIT_MAX,
            });
        }
        let events: usize = self.writes.iter().map(|w| w.events.len()).sum();
        if events > EVENTS_PER_COMMIT_MAX {
            return Err(InputError::TooMany { what: "events in a commit", len: events, max: EVENTS_PER_COMMIT_MAX });
        }
        for w in &self.writes {
            if w.expected.checked_add(w.events.len() as u64).is_none() {
                return Err(InputError::SeqOverflow { stream: w.stream.clone() });
            }
        }
        if let Some(dup) = first_duplicate(self.writes.len(), |i| &self.writes[i].stream) {
            return Err(InputError::Duplicate { what: "stream", name: alloc::format!("{dup}") });
        }
        if let Some(dup) = first_duplicate(self.claims.len(), |i| &self.claims[i].booking) {
            return Err(InputError::Duplicate { what: "claim", name: alloc::format!("{dup}") });
        }
        if let Some(dup) = first_duplicate(self.units.len(), |i| self.units[i].id()) {
            return Err(InputError::Duplicate { what: "unit", name: alloc::format!("{dup}") });
        }
        Ok(())
    }

    /// Whether applying this commit may leave room where there was none:
    /// any event but a booking or a confirmation (which only take room),
    /// or unit rows (units defined or replaced, an index backfilled). What
    /// moves [`Store::vacancy_epoch`].
    pub fn may_vacate(&self) -> bool {
        !self.units.is_empty()
            || self
                .writes
                .iter()
                .flat_map(|w| &w.events)
                .any(|e| !matches!(e, Event::Booked { .. } | Event::Confirmed { .. }))
    }
}

/// Up to this many items, [`first_duplicate`] compares each pair.
const DUPLICATE_SCAN_LEN_MAX: usize = 8;

/// The smallest of the `len` items `item(0..len)` that appears more than
/// once. Allocates nothing for up to [`DUPLICATE_SCAN_LEN_MAX`] items.
fn first_duplicate<'a, T: Ord + 'a>(len: usize, item: impl Fn(usize) -> &'a T) -> Option<&'a T> {
    if len < 2 {
        return None;
    }
    if len <= DUPLICATE_SCAN_LEN_MAX {
        // A booking's commit writes two or three streams and one claim:
        // comparing each pair is cheaper than sorting, and allocates nothing.
        return (0..len).filter(|&a| ((a + 1)..len).any(|b| item(a) == item(b))).map(&item).min();
    }
    let order = sorted_order(len, &|a, b| item(a).cmp(item(b)));
    order.windows(2).find(|w| item(w[0]) == item(w[1])).map(|w| item(w[0]))
}

/// The positions `0..len` sorted by `cmp`. Not generic (the comparison is
/// a trait object): the item types of [`Commit::validate`], `define_units`
/// and `retire_unit` share one sort instead of instantiating one each,
/// which matters in the npm package's wasm; none is a hot path, and the
/// indirect call is cheap next to what each comparison does.
pub(crate) fn sorted_order(len: usize, cmp: &dyn Fn(usize, usize) -> core::cmp::Ordering) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    order.sort_unstable_by(|&a, &b| cmp(a, b));
    order
}

/// What became of a commit. Only `Committed` wrote anything.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommitOutcome {
    Committed,
    /// `stream` was at `actual`, not at the `expected` the writer observed.
    Conflict {
        stream: StreamId,
        expected: Seq,
        actual: Seq,
    },
    /// The claim exists: the request was applied before (maybe by an attempt
    /// whose outcome the caller never learned).
    Duplicate {
        booking: BookingId,
        existing: ClaimRecord,
    },
}

/// Read `stream`'s events after seq `after`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadReq {
    pub stream: StreamId,
    pub after: Seq,
}

/// A consistent piece of a stream: `events` have seqs `after + 1 ..= head`
/// (empty if `after >= head`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StreamSlice {
    pub head: Seq,
    pub events: Vec<Event>,
}

/// A byte range `[start, end)` (`end: None` is unbounded), scanned forwards
/// or backwards, at most `limit` items.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRange {
    pub start: Vec<u8>,
    pub end: Option<Vec<u8>>,
    pub reverse: bool,
    pub limit: u32,
}

impl KeyRange {
    /// Everything, forwards, `limit` at a time.
    pub fn all(limit: u32) -> Self {
        Self { start: Vec::new(), end: None, reverse: false, limit }
    }

    /// Whether `key` lies in `[start, end)`.
    pub fn contains(&self, key: &[u8]) -> bool {
        key >= self.start.as_slice() && self.end.as_deref().is_none_or(|end| key < end)
    }

    /// The same range continued after `last` (exclusive), in scan direction:
    /// what makes scans resumable.
    pub fn after(&self, last: &[u8]) -> Self {
        let mut next = self.clone();
        next.advance_past(last);
        next
    }

    /// [`KeyRange::after`] in place, reusing this range's buffers.
    pub fn advance_past(&mut self, last: &[u8]) {
        if self.reverse {
            match &mut self.end {
                Some(end) => {
                    end.clear();
                    end.extend_from_slice(last);
                }
                None => self.end = Some(last.to_vec()),
            }
        } else {
            // The smallest byte string greater than `last`.
            self.start.clear();
            self.start.extend_from_slice(last);
            self.start.push(0);
        }
    }
}

/// One entry of a secondary index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexEntry {
    pub key: Vec<u8>,
    pub unit: UnitId,
}

/// What [`Store::read_window`] read: one window of candidates.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Window {
    pub entries: Vec<IndexEntry>,
    /// The row of each entry's unit, in the same order (`None`: it vanished).
    pub rows: Vec<Option<Arc<UnitRow>>>,
    /// The stream reads the caller asked for, and their slices (same order).
    pub reads: Vec<ReadReq>,
    pub slices: Vec<StreamSlice>,
}

/// A position in a store's change feed. 0 is the origin, before the first
/// commit that appended anything.
pub type FeedPos = u64;

/// What [`Store::changes`] read.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Changes {
    /// Where this read ended: pass it as `after` to continue.
    pub pos: FeedPos,
    /// The appends after `after`, in commit order.
    pub appends: Vec<Append>,
    /// The read stopped at its limit: more follow `pos`.
    pub more: bool,
    /// The feed does not reach back to `after`: appends between `after` and
    /// the feed's oldest entry are missing.
    pub gap: bool,
}

/// The stream reads a caller wants for one candidate unit, pushed onto the
/// vector it is given (one vector for a whole window, not one per unit).
pub type WindowReads<'a> = dyn Fn(&UnitRow, &mut Vec<ReadReq>) + 'a;

/// The decision of [`Store::decide_group`]: given the change feed read in
/// the transaction (`None`: not read) and the claims asked for (one per id,
/// in order), the commits to apply.
pub type DecideGroup<'a> = dyn FnMut(Option<Changes>, Vec<Option<ClaimRecord>>) -> Result<Vec<Commit>, StoreError> + 'a;

/// What [`Store::decide_group`] did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decided {
    /// The commits the decision returned, in order.
    pub commits: Vec<Commit>,
    /// Their results, as [`Store::commit_group`] gives them.
    pub results: Vec<Result<CommitOutcome, InputError>>,
    /// The feed position right after this group, when the decision saw the
    /// feed up to the group's own transaction (read and write in one
    /// transaction, the read reaching the journal's end): a client that
    /// applied the changes and its own commits is then current as of it.
    /// `None` otherwise (others may have committed in between).
    pub pos: Option<FeedPos>,
}

/// What [`Store::vacancy_epoch`] reads (see the module documentation).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VacancyEpoch {
    /// Moves with every commit that [`Commit::may_vacate`].
    pub epoch: u64,
    /// At least the latest `at` of any event committed so far.
    pub at_max: TimeMs,
}

/// The rest of a window read once its entries and their rows are known:
/// the stream reads `reads` asks for each row, read with
/// [`Store::read_streams`]. Shared by the default [`Store::read_window`] and
/// stores that find the entries and rows their own way (one walk of an
/// index, one join), so that each answers the reads as the contract says.
pub async fn window_of<S: Store + ?Sized>(
    store: &S,
    entries: Vec<IndexEntry>,
    rows: Vec<Option<Arc<UnitRow>>>,
    reads: &WindowReads<'_>,
) -> Result<Window, StoreError> {
    let mut reqs: Vec<ReadReq> = Vec::new();
    rows.iter().flatten().for_each(|r| reads(r, &mut reqs));
    let slices = if reqs.is_empty() { Vec::new() } else { store.read_streams(&reqs).await? };
    Ok(Window { entries, rows, reads: reqs, slices })
}

/// A window read as three calls ([`Store::scan_index`], [`Store::get_units`],
/// [`Store::read_streams`]): the default [`Store::read_window`], and what a
/// store that reads windows its own way falls back on where it cannot.
pub async fn window_in_parts<S: Store + ?Sized>(
    store: &S,
    range: &KeyRange,
    reads: &WindowReads<'_>,
) -> Result<Window, StoreError> {
    let entries = store.scan_index(range).await?;
    let ids: Vec<UnitId> = entries.iter().map(|e| e.unit.clone()).collect();
    let rows = if ids.is_empty() { Vec::new() } else { store.get_units(&ids).await? };
    window_of(store, entries, rows, reads).await
}

/// The storage contract. See the module documentation.
#[allow(async_fn_in_trait)]
pub trait Store {
    /// Reads stream slices, one per request, in order.
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError>;

    /// Applies one commit under the append-expect contract.
    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError>;

    /// Applies independent commits in order, each on its own; one store
    /// transaction where the store has them. A commit that fails validation
    /// gets its error and does not affect the others. A store error fails the
    /// whole group: with `OutcomeUnknown`, any prefix may have been applied.
    async fn commit_group(&self, commits: &[Commit]) -> Result<Vec<Result<CommitOutcome, InputError>>, StoreError> {
        let mut out = Vec::with_capacity(commits.len());
        for c in commits {
            out.push(match c.validate() {
                Err(e) => Err(e),
                Ok(()) => match self.commit(c).await {
                    Ok(o) => Ok(o),
                    Err(StoreError::Invalid(e)) => Err(e),
                    Err(e) => return Err(e),
                },
            });
        }
        Ok(out)
    }

    /// One candidate window of an auto-assign, read together: the index
    /// entries in `range`, each entry's unit row, and the stream slices
    /// `reads` asks for each row. The default makes three calls; a store with
    /// transactions answers from one (fewer round trips is what a window
    /// costs). Each part obeys the contract of its own method.
    async fn read_window(&self, range: &KeyRange, reads: &WindowReads<'_>) -> Result<Window, StoreError> {
        window_in_parts(self, range, reads).await
    }

    /// [`Store::read_window`] over the entries of live untouched units only
    /// (see the module documentation). `None`: the store keeps no such
    /// index (the default).
    async fn read_untouched_window(
        &self,
        range: &KeyRange,
        reads: &WindowReads<'_>,
    ) -> Result<Option<Window>, StoreError> {
        let _ = (range, reads);
        Ok(None)
    }

    /// The change feed after position `after`: at most `limit` journal
    /// entries (an entry is what the store journals at once: one commit, or
    /// one commit group); `limit` 0 reads only the feed's current end
    /// position. `None`: the store keeps no feed (the default). See the
    /// module documentation for the contract.
    async fn changes(&self, after: FeedPos, limit: u32) -> Result<Option<Changes>, StoreError> {
        let _ = (after, limit);
        Ok(None)
    }

    /// The vacancy epoch (see the module documentation): moves with every
    /// commit that [`Commit::may_vacate`]. `None`: the store keeps none
    /// (the default).
    async fn vacancy_epoch(&self) -> Result<Option<VacancyEpoch>, StoreError> {
        Ok(None)
    }

    /// [`Store::commit_group`], then the change feed after `after` (at most
    /// `limit` entries) as it stands right after the group: in the same
    /// transaction where the store has both, so that a client learns what
    /// others committed meanwhile at no extra round trip. The group's results
    /// are the group's whatever happens to the feed read: a feed that cannot
    /// be read (or a store without one) gives `None`.
    async fn commit_group_and_changes(
        &self,
        commits: &[Commit],
        after: FeedPos,
        limit: u32,
    ) -> Result<(Vec<Result<CommitOutcome, InputError>>, Option<Changes>), StoreError> {
        let out = self.commit_group(commits).await?;
        let changes = self.changes(after, limit).await.ok().flatten();
        Ok((out, changes))
    }

    /// A group commit decided inside the store's transaction: reads the
    /// change feed after `after` (at most `limit` entries; `None`: no read)
    /// and the claims of `claims`, hands both to `decide`, and commits the
    /// group `decide` returns. A store with transactions does it all in
    /// one, so nothing commits between the reads and the write and a
    /// decision on a feed read up to its end cannot conflict: under
    /// contention that turns rounds of conflicts into one transaction. The
    /// claims let the decision tell a retry from a new request where it
    /// finds no room for it, at no transaction of their own. The default
    /// does it all one step after another, which is as safe (append-expect
    /// checks every commit) but may conflict. An error from `decide` is
    /// returned and nothing is written.
    async fn decide_group(
        &self,
        after: Option<FeedPos>,
        limit: u32,
        claims: &[BookingId],
        decide: &mut DecideGroup<'_>,
    ) -> Result<Decided, StoreError> {
        let changes = match after {
            Some(after) => self.changes(after, limit).await?,
            None => None,
        };
        let claims = if claims.is_empty() { Vec::new() } else { self.get_claims(claims).await? };
        let commits = decide(changes, claims)?;
        let results = if commits.is_empty() { Vec::new() } else { self.commit_group(&commits).await? };
        Ok(Decided { commits, results, pos: None })
    }

    /// Claims by booking id, one per id, in order.
    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError>;

    /// Unit rows by id, one per id, in order.
    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError>;

    /// Index entries whose key lies in `range`, in key order (reversed if asked).
    async fn scan_index(&self, range: &KeyRange) -> Result<Vec<IndexEntry>, StoreError>;

    /// Unit rows whose encoded id (`key::encode_str(id)`) lies in `range`.
    async fn scan_units(&self, range: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError>;

    /// Heads of the non-empty streams whose encoded id lies in `range`.
    async fn scan_streams(&self, range: &KeyRange) -> Result<Vec<(StreamId, Seq)>, StoreError>;

    /// Claims whose encoded booking id lies in `range`.
    async fn scan_claims(&self, range: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError>;
}

macro_rules! forward_store {
    ($($ty:ty),*) => {$(
        impl<S: Store + ?Sized> Store for $ty {
            async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
                (**self).read_streams(reqs).await
            }
            async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
                (**self).commit(commit).await
            }
            async fn commit_group(&self, commits: &[Commit]) -> Result<Vec<Result<CommitOutcome, InputError>>, StoreError> {
                (**self).commit_group(commits).await
            }
            async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
                (**self).get_claims(ids).await
            }
            async fn changes(&self, after: FeedPos, limit: u32) -> Result<Option<Changes>, StoreError> {
                (**self).changes(after, limit).await
            }
            async fn vacancy_epoch(&self) -> Result<Option<VacancyEpoch>, StoreError> {
                (**self).vacancy_epoch().await
            }
            async fn commit_group_and_changes(
                &self,
                commits: &[Commit],
                after: FeedPos,
                limit: u32,
            ) -> Result<(Vec<Result<CommitOutcome, InputError>>, Option<Changes>), StoreError> {
                (**self).commit_group_and_changes(commits, after, limit).await
            }
            async fn read_window(&self, range: &KeyRange, reads: &WindowReads<'_>) -> Result<Window, StoreError> {
                (**self).read_window(range, reads).await
            }
            async fn read_untouched_window(
                &self,
                range: &KeyRange,
                reads: &WindowReads<'_>,
            ) -> Result<Option<Window>, StoreError> {
                (**self).read_untouched_window(range, reads).await
            }
            async fn decide_group(
                &self,
                after: Option<FeedPos>,
                limit: u32,
                claims: &[BookingId],
                decide: &mut DecideGroup<'_>,
            ) -> Result<Decided, StoreError> {
                (**self).decide_group(after, limit, claims, decide).await
            }
            async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
                (**self).get_units(ids).await
            }
            async fn scan_index(&self, range: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
                (**self).scan_index(range).await
            }
            async fn scan_units(&self, range: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
                (**self).scan_units(range).await
            }
            async fn scan_streams(&self, range: &KeyRange) -> Result<Vec<(StreamId, Seq)>, StoreError> {
                (**self).scan_streams(range).await
            }
            async fn scan_claims(&self, range: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
                (**self).scan_claims(range).await
            }
        }
    )*};
}
forward_store!(&S, Arc<S>, alloc::boxed::Box<S>);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_past_is_after_in_place() {
        let ranges = [
            KeyRange { start: alloc::vec![1, 2], end: Some(alloc::vec![9]), reverse: false, limit: 4 },
            KeyRange { start: alloc::vec![1, 2], end: None, reverse: false, limit: 4 },
            KeyRange { start: alloc::vec![1], end: Some(alloc::vec![9, 9, 9]), reverse: true, limit: 4 },
            KeyRange { start: Vec::new(), end: None, reverse: true, limit: 4 },
        ];
        for r in ranges {
            for last in [&[5u8][..], &[5, 0, 255], &[]] {
                let mut moved = r.clone();
                moved.advance_past(last);
                assert_eq!(moved, r.after(last), "{r:?} past {last:?}");
            }
        }
    }

    /// A commit that only guards the main stream of each of `units`.
    fn guarding(units: &[&str]) -> Commit {
        let write = |unit: &str| StreamWrite {
            stream: StreamId::new(&UnitId::new(unit).unwrap(), crate::model::Part::Main),
            expected: 0,
            events: Vec::new(),
        };
        Commit { writes: units.iter().map(|u| write(u)).collect(), ..Commit::default() }
    }

    #[test]
    fn validate_finds_a_duplicate_only_where_there_is_one() {
        assert_eq!(guarding(&["a"]).validate(), Ok(()));
        assert_eq!(guarding(&["a", "b", "c"]).validate(), Ok(()));
        let Err(InputError::Duplicate { what: "stream", name }) = guarding(&["c", "b", "a", "b"]).validate() else {
            panic!("a stream written twice must be refused");
        };
        assert!(name.contains('b'), "{name}");
    }

    #[test]
    fn validate_names_the_smallest_duplicate_on_both_paths() {
        // Pairs compared up to DUPLICATE_SCAN_LEN_MAX items, sorted above.
        let few = ["d", "c", "d", "c"];
        let many = ["k", "j", "i", "h", "g", "f", "e", "d", "c", "d", "c"];
        assert!(few.len() <= DUPLICATE_SCAN_LEN_MAX && many.len() > DUPLICATE_SCAN_LEN_MAX);
        for units in [&few[..], &many[..]] {
            let Err(InputError::Duplicate { what: "stream", name }) = guarding(units).validate() else {
                panic!("{units:?}: a stream written twice must be refused");
            };
            assert!(name.starts_with("c#"), "{units:?}: {name}");
        }
    }
}

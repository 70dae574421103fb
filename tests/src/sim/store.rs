//! The stores of the simulation.
//!
//! - [`SimStore`]: the store under test, a `MemStore`, optionally
//!   deliberately broken ([`Broken`]) to show that the checker has teeth.
//! - [`Shared`]: the fault-injecting wrapper every booker goes through. It
//!   owns the one `SimStore`, decides faults with the seeded RNG, and after
//!   every commit copies what the store now holds into the model's
//!   [`History`] (checking the invariants on the way).
//! - [`Handle`]: one booker's connection to the `Shared` wrapper (what its
//!   `Allot` is built over). Every call first yields to the scheduler.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::Arc;

use allot_core::store::{
    Changes, FeedPos, IndexEntry, KeyRange, ReadReq, StreamSlice, VacancyEpoch, Window, WindowReads,
};
use allot_core::{BookingId, ClaimRecord, Commit, CommitOutcome, MemStore, Seq, Store, StoreError, StreamId, UnitRow};

use super::exec::{run, yield_now};
use super::model::History;
use super::rng::Rng;
use super::trace::Trace;

/// A deliberately broken store: each breaks one clause of the `Store`
/// contract, and the simulation must report violations for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Broken {
    /// Skips the expected-seq check: every write's `expected` is rewritten
    /// to the stream's current head before committing (double bookings).
    SkipSeqCheck,
    /// Skips the claim check: a commit whose claim exists is applied anyway,
    /// keeping the first claim (a retry that books twice).
    IgnoreClaims,
    /// Acknowledges every 5th booking commit without writing it (an
    /// acknowledged booking that is missing).
    LoseAcked,
    /// Answers the same vacancy epoch for ever, whatever commits give room
    /// back (a client then answers sold out from a walk made before a
    /// cancellation).
    StuckEpoch,
}

impl Broken {
    pub const ALL: [Broken; 4] = [Broken::SkipSeqCheck, Broken::IgnoreClaims, Broken::LoseAcked, Broken::StuckEpoch];

    /// The command-line name: `seq`, `claims`, `lose`, `epoch`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::SkipSeqCheck => "seq",
            Self::IgnoreClaims => "claims",
            Self::LoseAcked => "lose",
            Self::StuckEpoch => "epoch",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|b| b.name() == s)
    }
}

/// The store under test: a `MemStore` (with a change feed or not), broken
/// or not.
#[derive(Debug, Default)]
pub struct SimStore {
    pub mem: MemStore,
    pub broken: Option<Broken>,
    booking_commits: Cell<u64>,
}

impl SimStore {
    pub fn new(broken: Option<Broken>, feed: bool) -> Self {
        let mem = if feed { MemStore::with_feed() } else { MemStore::new() };
        Self { mem, broken, booking_commits: Cell::new(0) }
    }

    fn commit_now(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        match self.broken {
            None | Some(Broken::StuckEpoch) => run(self.mem.commit(c)),
            Some(Broken::SkipSeqCheck) => {
                let reqs: Vec<ReadReq> =
                    c.writes.iter().map(|w| ReadReq { stream: w.stream.clone(), after: Seq::MAX }).collect();
                let heads = run(self.mem.read_streams(&reqs))?;
                let mut c = c.clone();
                for (w, h) in c.writes.iter_mut().zip(heads) {
                    w.expected = h.head;
                }
                run(self.mem.commit(&c))
            }
            Some(Broken::IgnoreClaims) => {
                let ids: Vec<BookingId> = c.claims.iter().map(|cl| cl.booking.clone()).collect();
                let existing = run(self.mem.get_claims(&ids))?;
                let mut c = c.clone();
                let mut keep = existing.iter().map(Option::is_none);
                c.claims.retain(|_| keep.next().unwrap_or(true));
                run(self.mem.commit(&c))
            }
            Some(Broken::LoseAcked) => {
                if !c.claims.is_empty() {
                    let n = self.booking_commits.get() + 1;
                    self.booking_commits.set(n);
                    if n.is_multiple_of(5) {
                        c.validate()?;
                        return Ok(CommitOutcome::Committed);
                    }
                }
                run(self.mem.commit(c))
            }
        }
    }
}

impl Store for SimStore {
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        self.mem.read_streams(reqs).await
    }
    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        self.commit_now(commit)
    }
    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        self.mem.get_claims(ids).await
    }
    async fn changes(&self, after: FeedPos, limit: u32) -> Result<Option<Changes>, StoreError> {
        self.mem.changes(after, limit).await
    }
    async fn vacancy_epoch(&self) -> Result<Option<VacancyEpoch>, StoreError> {
        match self.broken {
            Some(Broken::StuckEpoch) => Ok(Some(VacancyEpoch::default())),
            _ => self.mem.vacancy_epoch().await,
        }
    }
    async fn get_units(&self, ids: &[allot_core::UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        self.mem.get_units(ids).await
    }
    async fn scan_index(&self, range: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        self.mem.scan_index(range).await
    }
    async fn read_untouched_window(
        &self,
        range: &KeyRange,
        reads: &WindowReads<'_>,
    ) -> Result<Option<Window>, StoreError> {
        self.mem.read_untouched_window(range, reads).await
    }
    async fn scan_units(&self, range: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        self.mem.scan_units(range).await
    }
    async fn scan_streams(&self, range: &KeyRange) -> Result<Vec<(StreamId, Seq)>, StoreError> {
        self.mem.scan_streams(range).await
    }
    async fn scan_claims(&self, range: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        self.mem.scan_claims(range).await
    }
}

/// Per-call fault probabilities, in per mille.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Faults {
    /// Commit applied, then `OutcomeUnknown` (the acknowledgement was lost).
    pub unknown_applied: u32,
    /// Commit not applied, `OutcomeUnknown` (lost on the way in).
    pub unknown_dropped: u32,
    /// `OutcomeUnknown` at once, and the commit is applied (or refused)
    /// some steps later: still in flight when the caller gave up on it.
    pub unknown_later: u32,
    /// Commit not applied, `Aborted`.
    pub aborted: u32,
    /// A read fails (`Aborted` or `Unavailable`).
    pub read_error: u32,
    /// A read is served from an earlier state (see [`Shared::read_streams`]).
    pub stale_read: u32,
    /// The booker stalls between its decision and its commit.
    pub delay: u32,
    /// Longest stall, in scheduler steps.
    pub delay_max: u64,
}

/// How many faults of each kind were injected.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultCounts {
    pub unknown_applied: u64,
    pub unknown_dropped: u64,
    pub unknown_later: u64,
    pub aborted: u64,
    pub read_error: u64,
    pub stale_read: u64,
    pub delay: u64,
    pub crash: u64,
    pub duplicate: u64,
    pub reorder: u64,
    pub clock_jump: u64,
    pub vanish: u64,
}

impl FaultCounts {
    pub fn add(&mut self, o: &FaultCounts) {
        self.unknown_applied += o.unknown_applied;
        self.unknown_dropped += o.unknown_dropped;
        self.unknown_later += o.unknown_later;
        self.aborted += o.aborted;
        self.read_error += o.read_error;
        self.stale_read += o.stale_read;
        self.delay += o.delay;
        self.crash += o.crash;
        self.duplicate += o.duplicate;
        self.reorder += o.reorder;
        self.clock_jump += o.clock_jump;
        self.vanish += o.vanish;
    }

    pub fn total(&self) -> u64 {
        self.unknown_applied
            + self.unknown_dropped
            + self.unknown_later
            + self.aborted
            + self.read_error
            + self.stale_read
            + self.delay
            + self.crash
            + self.duplicate
            + self.reorder
            + self.clock_jump
            + self.vanish
    }
}

/// One booker's connection state.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Io {
    /// Faults are injected on this connection.
    pub faulty: bool,
    /// The version when the current operation started: no read is served
    /// from an earlier state.
    pub floor: u64,
    /// The latest version this connection read or wrote: reads never go
    /// back before it (monotonic reads, read-your-writes).
    pub seen: u64,
    /// Faults injected into the current operation.
    pub injected: u32,
    /// Steps to stall before the pending commit (set by the wrapper, taken
    /// by the scheduler).
    pub delay: u64,
    /// The store call this connection is about to make (for the trace).
    pub call: &'static str,
}

/// The mutable state behind the wrapper.
#[derive(Debug)]
pub struct State {
    pub rng: Rng,
    pub faults: Faults,
    pub hist: History,
    pub io: Vec<Io>,
    pub counts: FaultCounts,
    /// Invariants broken so far (found when recording commits).
    pub bad: Vec<String>,
    pub trace: Trace,
    /// The scheduler's step (set by the world).
    pub step: u64,
    /// Commits whose caller was told `OutcomeUnknown`, still on their way:
    /// (step they land at, booker, commit).
    pub in_flight: Vec<(u64, usize, Commit)>,
    /// Where the change feed ended at each version that moved it (for
    /// serving a feed read from an earlier state).
    pub feed_ends: Vec<(u64, FeedPos)>,
    /// Change-feed reads answered (by a store that keeps one).
    pub feed_reads: u64,
}

/// The fault-injecting wrapper shared by every booker.
#[derive(Debug)]
pub struct Shared {
    pub inner: SimStore,
    pub st: RefCell<State>,
}

enum CommitFault {
    None,
    Aborted,
    Dropped,
    Applied,
    Later,
}

impl Shared {
    fn read_fault(&self, b: usize, what: &str) -> Result<(), StoreError> {
        let mut st = self.st.borrow_mut();
        let p = st.faults.read_error;
        if !st.io[b].faulty || !st.rng.chance(p) {
            return Ok(());
        }
        st.io[b].injected += 1;
        st.counts.read_error += 1;
        let unavailable = st.rng.chance(300);
        st.trace.note(&[0xfa01, b as u64, u64::from(unavailable)], || {
            format!("    b{b} fault: {what} fails ({})", if unavailable { "unavailable" } else { "aborted" })
        });
        Err(if unavailable {
            StoreError::Unavailable("sim: connection lost".into())
        } else {
            StoreError::Aborted("sim: read transaction aborted".into())
        })
    }

    /// The version a read by `b` is served at: the current one, or with a
    /// stale-read fault an earlier one, never before the operation started,
    /// before what `b` already saw, or before the states `after` names.
    fn read_version(&self, st: &mut State, b: usize, after: &[(&StreamId, Seq)]) -> u64 {
        let cur = st.hist.version;
        let p = st.faults.stale_read;
        if !st.io[b].faulty || !st.rng.chance(p) {
            return cur;
        }
        let mut lo = st.io[b].floor.max(st.io[b].seen);
        for (s, n) in after {
            lo = lo.max(st.hist.reached(s, *n).unwrap_or(u64::MAX));
        }
        if lo >= cur {
            return cur;
        }
        let v = st.rng.range(lo, cur - 1);
        st.io[b].injected += 1;
        st.counts.stale_read += 1;
        st.trace
            .note(&[0xfa02, b as u64, cur - v], || format!("    b{b} fault: read served {} versions stale", cur - v));
        v
    }

    pub fn read_streams(&self, b: usize, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        self.read_fault(b, "read_streams")?;
        let mut slices = run(self.inner.read_streams(reqs))?;
        let mut st = self.st.borrow_mut();
        let after: Vec<(&StreamId, Seq)> = reqs.iter().map(|r| (&r.stream, r.after)).collect();
        let v = self.read_version(&mut st, b, &after);
        if v < st.hist.version {
            for (r, slice) in reqs.iter().zip(slices.iter_mut()) {
                let h = st.hist.head_at(&r.stream, v).max(r.after);
                if slice.head >= r.after && h < slice.head {
                    slice.events.truncate((h - r.after) as usize);
                    slice.head = h;
                }
            }
        }
        let io = &mut st.io[b];
        io.seen = io.seen.max(v);
        Ok(slices)
    }

    /// The change feed, perhaps served from an earlier state (a prefix of
    /// it, within what the contract allows, as for every read).
    pub fn changes(&self, b: usize, after: FeedPos, limit: u32) -> Result<Option<Changes>, StoreError> {
        self.read_fault(b, "changes")?;
        let Some(c) = run(self.inner.changes(after, limit))? else { return Ok(None) };
        let mut st = self.st.borrow_mut();
        st.feed_reads += 1;
        let v = self.read_version(&mut st, b, &[]);
        let end_v = st.feed_ends.iter().rev().find(|(ver, _)| *ver <= v).map_or(0, |(_, p)| *p).max(after);
        let c = if c.pos <= end_v || c.gap {
            c
        } else if limit == 0 || end_v == after {
            Changes { pos: end_v, appends: Vec::new(), more: false, gap: false }
        } else {
            let mut older = run(self.inner.changes(after, (end_v - after) as u32))?.unwrap_or_default();
            older.more = false;
            older
        };
        let io = &mut st.io[b];
        io.seen = io.seen.max(v);
        Ok(Some(c))
    }

    pub fn get_claims(&self, b: usize, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        self.read_fault(b, "get_claims")?;
        let mut claims = run(self.inner.get_claims(ids))?;
        let mut st = self.st.borrow_mut();
        let v = self.read_version(&mut st, b, &[]);
        for (id, c) in ids.iter().zip(claims.iter_mut()) {
            if st.hist.claims.get(id).is_some_and(|(ver, _)| *ver > v) {
                *c = None;
            }
        }
        let io = &mut st.io[b];
        io.seen = io.seen.max(v);
        Ok(claims)
    }

    pub async fn commit(&self, b: usize, c: &Commit) -> Result<CommitOutcome, StoreError> {
        {
            let mut st = self.st.borrow_mut();
            let (p, max) = (st.faults.delay, st.faults.delay_max.max(1));
            if st.io[b].faulty && st.rng.chance(p) {
                let d = st.rng.range(1, max);
                st.io[b].delay = d;
                st.counts.delay += 1;
                st.trace.note(&[0xfa03, b as u64, d], || format!("    b{b} fault: stalls {d} steps before its commit"));
            }
        }
        // The decision is made; the commit is on its way.
        yield_now().await;
        let fault = {
            let mut st = self.st.borrow_mut();
            let f = st.faults.clone();
            if !st.io[b].faulty {
                CommitFault::None
            } else {
                let x = st.rng.below(1000) as u32;
                if x < f.aborted {
                    CommitFault::Aborted
                } else if x < f.aborted + f.unknown_dropped {
                    CommitFault::Dropped
                } else if x < f.aborted + f.unknown_dropped + f.unknown_applied {
                    CommitFault::Applied
                } else if x < f.aborted + f.unknown_dropped + f.unknown_applied + f.unknown_later {
                    CommitFault::Later
                } else {
                    CommitFault::None
                }
            }
        };
        let note = |code: u64, what: &'static str| {
            let mut st = self.st.borrow_mut();
            st.io[b].injected += 1;
            match code {
                1 => st.counts.aborted += 1,
                2 => st.counts.unknown_dropped += 1,
                4 => st.counts.unknown_later += 1,
                _ => st.counts.unknown_applied += 1,
            }
            st.trace.note(&[0xfa04, b as u64, code], || format!("    b{b} fault: commit {what}"));
        };
        match fault {
            CommitFault::Aborted => {
                note(1, "aborted (not applied)");
                Err(StoreError::Aborted("sim: commit aborted".into()))
            }
            CommitFault::Dropped => {
                note(2, "outcome unknown (not applied)");
                Err(StoreError::OutcomeUnknown("sim: connection lost before the commit arrived".into()))
            }
            CommitFault::Later => {
                note(4, "outcome unknown (still in flight)");
                {
                    let mut st = self.st.borrow_mut();
                    let due = st.step + st.rng.range(1, 30);
                    st.in_flight.push((due, b, c.clone()));
                }
                Err(StoreError::OutcomeUnknown("sim: connection lost while committing".into()))
            }
            CommitFault::None | CommitFault::Applied => {
                let applied = matches!(fault, CommitFault::Applied);
                if applied {
                    note(3, "outcome unknown (applied)");
                }
                let res = self.apply(c);
                {
                    let mut st = self.st.borrow_mut();
                    let v = st.hist.version;
                    st.io[b].seen = v;
                    st.io[b].call = "commit acknowledgement";
                }
                // The acknowledgement is on its way back: a booker dropped
                // here never learns that its commit landed.
                yield_now().await;
                if applied {
                    return Err(StoreError::OutcomeUnknown("sim: connection lost after the commit".into()));
                }
                res
            }
        }
    }

    /// Applies the in-flight commits due by `step` (all of them with
    /// `u64::MAX`), oldest first.
    pub fn land_in_flight(&self, step: u64) {
        loop {
            let next = {
                let mut st = self.st.borrow_mut();
                match st.in_flight.iter().position(|(due, _, _)| *due <= step) {
                    Some(i) => st.in_flight.remove(i),
                    None => return,
                }
            };
            let (_, b, c) = next;
            let res = self.apply(&c);
            let mut st = self.st.borrow_mut();
            let s = st.step;
            st.trace.note(&[0xfa05, b as u64, u64::from(matches!(res, Ok(CommitOutcome::Committed)))], || {
                format!("step={s} a commit of b{b} in flight lands: {res:?}")
            });
        }
    }

    /// Commits to the store under test, then records what it now holds.
    pub fn apply(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        let res = self.inner.commit_now(c);
        let mut st = self.st.borrow_mut();
        let mut events = Vec::new();
        for w in &c.writes {
            let known = st.hist.streams.get(&w.stream).map_or(0, |e| e.len() as Seq);
            let slice = run(self.inner.mem.read_streams(&[ReadReq { stream: w.stream.clone(), after: known }]))
                .ok()
                .and_then(|mut s| s.pop())
                .unwrap_or_default();
            if !slice.events.is_empty() {
                events.push((w.stream.clone(), slice.events));
            }
        }
        let ids: Vec<BookingId> = c.claims.iter().map(|cl| cl.booking.clone()).collect();
        let stored = run(self.inner.mem.get_claims(&ids)).unwrap_or_default();
        let claims: Vec<(BookingId, ClaimRecord)> = ids
            .into_iter()
            .zip(stored)
            .filter_map(|(id, rec)| {
                let rec = rec?;
                (st.hist.claim(&id) != Some(&rec)).then_some((id, rec))
            })
            .collect();
        let bad = st.hist.record(events, claims);
        st.bad.extend(bad);
        if let Ok(Some(end)) = run(self.inner.changes(0, 0)) {
            let version = st.hist.version;
            if st.feed_ends.last().is_none_or(|(_, p)| *p != end.pos) {
                st.feed_ends.push((version, end.pos));
            }
        }
        res
    }
}

/// One booker's connection: what its `Allot` runs over.
#[derive(Clone, Debug)]
pub struct Handle {
    pub shared: Rc<Shared>,
    pub booker: usize,
}

impl Handle {
    fn calling(&self, what: &'static str) {
        self.shared.st.borrow_mut().io[self.booker].call = what;
    }

    async fn plain<T>(
        &self,
        what: &'static str,
        f: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        self.calling(what);
        yield_now().await;
        self.shared.read_fault(self.booker, what)?;
        let out = f.await?;
        // Served from the current state, so no later read of this
        // connection may be older (monotonic reads across keyspaces).
        // Without it a stale feed read after a fresh vacancy epoch showed a
        // cancel's epoch with the state from before it, and a sold-out
        // answer was remembered that the store had undone (seed 9193027).
        let mut st = self.shared.st.borrow_mut();
        let cur = st.hist.version;
        let io = &mut st.io[self.booker];
        io.seen = io.seen.max(cur);
        Ok(out)
    }
}

impl Store for Handle {
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        self.calling("read_streams");
        yield_now().await;
        self.shared.read_streams(self.booker, reqs)
    }
    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        self.calling("commit");
        self.shared.commit(self.booker, commit).await
    }
    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        self.calling("get_claims");
        yield_now().await;
        self.shared.get_claims(self.booker, ids)
    }
    async fn changes(&self, after: FeedPos, limit: u32) -> Result<Option<Changes>, StoreError> {
        self.calling("changes");
        yield_now().await;
        self.shared.changes(self.booker, after, limit)
    }
    async fn get_units(&self, ids: &[allot_core::UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        self.plain("get_units", self.shared.inner.get_units(ids)).await
    }
    async fn vacancy_epoch(&self) -> Result<Option<VacancyEpoch>, StoreError> {
        self.plain("vacancy_epoch", self.shared.inner.vacancy_epoch()).await
    }
    async fn scan_index(&self, range: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        self.plain("scan_index", self.shared.inner.scan_index(range)).await
    }
    async fn read_untouched_window(
        &self,
        range: &KeyRange,
        reads: &WindowReads<'_>,
    ) -> Result<Option<Window>, StoreError> {
        self.plain("read_untouched_window", self.shared.inner.read_untouched_window(range, reads)).await
    }
    async fn scan_units(&self, range: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        self.plain("scan_units", self.shared.inner.scan_units(range)).await
    }
    async fn scan_streams(&self, range: &KeyRange) -> Result<Vec<(StreamId, Seq)>, StoreError> {
        self.plain("scan_streams", self.shared.inner.scan_streams(range)).await
    }
    async fn scan_claims(&self, range: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        self.plain("scan_claims", self.shared.inner.scan_claims(range)).await
    }
}

//! The store conformance suite: what every [`Store`] must do, as code any
//! store runs against itself (the in-memory store in `cargo test`, the
//! IndexedDB store in a browser, the PostgreSQL store against a server).
//!
//! It is library code, not `#[cfg(test)]`, so that other crates can run it:
//!
//! ```ignore
//! let report = allot_core::conformance::run(&mut MyFactory).await;
//! report.assert_ok();
//! ```
//!
//! Each case gets a fresh, empty store from the [`StoreFactory`].

use alloc::boxed::Box;
use alloc::format;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;

use crate::allot::{ActReq, Allot, BookReq};
use crate::error::{InputError, StoreError};
use crate::event::{ClaimRecord, Event, Hold, UnitRow};
use crate::key::{self, KeyType, KeyValue};
use crate::model::*;
use crate::rules::{self, Ask, Decision, HoldReq, Outcome};
use crate::store::*;

/// Makes fresh, empty stores, one per case.
#[allow(async_fn_in_trait)]
pub trait StoreFactory {
    type Store: Store;
    /// A new empty store; `case` names the case (e.g. for a database name).
    async fn fresh(&mut self, case: &'static str) -> Result<Self::Store, StoreError>;
}

/// Which cases passed and which failed, with why.
#[derive(Clone, Debug, Default)]
pub struct Report {
    pub passed: Vec<&'static str>,
    pub failed: Vec<(&'static str, String)>,
    /// Cases for an optional capability the store does not have (the
    /// change feed).
    pub skipped: Vec<&'static str>,
}

impl Report {
    pub fn is_ok(&self) -> bool {
        self.failed.is_empty() && !self.passed.is_empty()
    }

    /// Panics listing every failed case (for use inside tests).
    #[track_caller]
    pub fn assert_ok(&self) {
        assert!(self.is_ok(), "store conformance failed: {:#?} (passed: {:?})", self.failed, self.passed);
    }
}

type CaseResult = Result<(), String>;

/// What a case for an optional capability returns when the store lacks it.
const SKIP: &str = "(skipped: the store does not have this optional capability)";

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(format!($($fmt)*));
        }
    };
}

fn st<T>(r: Result<T, StoreError>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: unexpected store error {} ({e})", e.code()))
}

fn unit(s: &str) -> UnitId {
    UnitId::new(s).unwrap_or_else(|_| UnitId::new("invalid").unwrap_or_else(|_| unreachable!()))
}

fn bid(actor: &str, k: &str) -> BookingId {
    BookingId {
        actor: Actor::new(actor).unwrap_or_else(|_| unreachable!()),
        key: RequestKey::new(k).unwrap_or_else(|_| unreachable!()),
    }
}

fn main_stream(u: &str) -> StreamId {
    StreamId::new(&unit(u), Part::Main)
}

fn booked(actor: &str, k: &str, at: TimeMs) -> Event {
    Event::Booked { booking: bid(actor, k), qty: 1, span: Span::Whole, hold: None, at }
}

fn write(stream: StreamId, expected: Seq, events: Vec<Event>) -> Commit {
    Commit { writes: vec![StreamWrite { stream, expected, events }], ..Commit::default() }
}

fn claim(actor: &str, k: &str, u: &str) -> Claim {
    Claim {
        booking: bid(actor, k),
        record: ClaimRecord {
            request: vec![1, 2, 3].into(),
            unit: unit(u),
            span: Span::Whole,
            qty: 1,
            hold: None,
            seat: 1,
            at: 7,
        },
    }
}

async fn head<S: Store>(s: &S, stream: &StreamId) -> Result<Seq, String> {
    let slices = st(s.read_streams(&[ReadReq { stream: stream.clone(), after: 0 }]).await, "read")?;
    ensure!(slices.len() == 1, "read of one stream returned {} slices", slices.len());
    let slice = &slices[0];
    ensure!(
        slice.head == slice.events.len() as u64,
        "head {} but {} events from seq 1",
        slice.head,
        slice.events.len()
    );
    Ok(slice.head)
}

/// Runs every case against fresh stores from `factory`.
pub async fn run<F: StoreFactory>(factory: &mut F) -> Report {
    let mut report = Report::default();
    macro_rules! cases {
        ($($name:ident),* $(,)?) => {$(
            let name = stringify!($name);
            let result = match factory.fresh(name).await {
                Ok(store) => $name(&store).await,
                Err(e) => Err(format!("could not open a fresh store: {e}")),
            };
            match result {
                Ok(()) => report.passed.push(name),
                Err(why) if why == SKIP => report.skipped.push(name),
                Err(why) => report.failed.push((name, why)),
            }
        )*};
    }
    cases!(
        append_to_empty,
        streams_of_one_unit_are_apart,
        stale_expected_conflicts,
        guard_checks_without_appending,
        multi_stream_all_or_nothing,
        conflict_names_first_moved_stream,
        claims_insert_if_absent,
        duplicate_is_checked_before_conflict,
        claim_not_written_on_conflict,
        group_commit_each_on_its_own,
        invalid_commits_are_rejected,
        events_round_trip,
        read_many_in_order,
        large_commit,
        unit_rows_and_index,
        index_compares_bytes_unsigned,
        scans_are_resumable,
        read_window_is_its_parts,
        untouched_window_is_the_units_never_booked,
        feed_reports_appends_in_commit_order,
        feed_pages_and_end,
        commit_group_and_changes_agree,
        decide_group_checks_what_it_decides,
        decide_group_on_a_followed_feed_checks_too,
        last_seat_race,
        booking_lifecycle_and_verify,
        vacancy_epoch_moves_when_room_may_come_back,
    );
    report
}

async fn append_to_empty<S: Store>(s: &S) -> CaseResult {
    let a = main_stream("a");
    ensure!(head(s, &a).await? == 0, "a new stream is not empty");
    let events = vec![booked("x", "1", 1), booked("y", "2", 2)];
    let o = st(s.commit(&write(a.clone(), 0, events.clone())).await, "commit")?;
    ensure!(o == CommitOutcome::Committed, "append to empty stream: {o:?}");
    let slices = st(
        s.read_streams(&[
            ReadReq { stream: a.clone(), after: 0 },
            ReadReq { stream: a.clone(), after: 1 },
            ReadReq { stream: a.clone(), after: 2 },
            ReadReq { stream: a.clone(), after: 9 },
        ])
        .await,
        "read",
    )?;
    ensure!(slices.len() == 4, "4 reads gave {} slices", slices.len());
    ensure!(slices[0] == StreamSlice { head: 2, events: events.clone() }, "read after 0: {:?}", slices[0]);
    ensure!(slices[1] == StreamSlice { head: 2, events: events[1..].to_vec() }, "read after 1: {:?}", slices[1]);
    ensure!(slices[2] == StreamSlice { head: 2, events: vec![] }, "read after 2: {:?}", slices[2]);
    ensure!(slices[3].head == 2 && slices[3].events.is_empty(), "read after 9: {:?}", slices[3]);
    let o = st(s.commit(&write(a.clone(), 2, vec![booked("z", "3", 3)])).await, "commit")?;
    ensure!(o == CommitOutcome::Committed && head(s, &a).await? == 3, "second append: {o:?}");
    Ok(())
}

async fn stale_expected_conflicts<S: Store>(s: &S) -> CaseResult {
    let a = main_stream("a");
    st(s.commit(&write(a.clone(), 0, vec![booked("x", "1", 1)])).await, "commit")?;
    for expected in [0, 2, 5, u64::MAX - 1] {
        let o = st(s.commit(&write(a.clone(), expected, vec![booked("y", "2", 2)])).await, "commit")?;
        ensure!(
            o == CommitOutcome::Conflict { stream: a.clone(), expected, actual: 1 },
            "expected {expected} on a stream at 1: {o:?}"
        );
    }
    ensure!(head(s, &a).await? == 1, "a conflicting commit wrote something");
    Ok(())
}

async fn guard_checks_without_appending<S: Store>(s: &S) -> CaseResult {
    let (a, b) = (main_stream("a"), main_stream("b"));
    st(s.commit(&write(a.clone(), 0, vec![booked("x", "1", 1)])).await, "commit")?;
    let guarded = Commit {
        writes: vec![
            StreamWrite { stream: a.clone(), expected: 1, events: vec![] },
            StreamWrite { stream: b.clone(), expected: 0, events: vec![booked("y", "1", 1)] },
        ],
        ..Commit::default()
    };
    let o = st(s.commit(&guarded).await, "commit")?;
    ensure!(o == CommitOutcome::Committed, "guard at the right seq: {o:?}");
    ensure!(head(s, &a).await? == 1 && head(s, &b).await? == 1, "a guard appended");
    let stale = Commit {
        writes: vec![
            StreamWrite { stream: a.clone(), expected: 0, events: vec![] },
            StreamWrite { stream: b.clone(), expected: 1, events: vec![booked("y", "2", 1)] },
        ],
        ..Commit::default()
    };
    let o = st(s.commit(&stale).await, "commit")?;
    ensure!(o == CommitOutcome::Conflict { stream: a.clone(), expected: 0, actual: 1 }, "stale guard: {o:?}");
    ensure!(head(s, &b).await? == 1, "a commit with a failed guard wrote");
    // A guard on a stream that does not exist expects 0.
    let o = st(
        s.commit(&Commit {
            writes: vec![StreamWrite { stream: main_stream("nope"), expected: 0, events: vec![] }],
            ..Commit::default()
        })
        .await,
        "commit",
    )?;
    ensure!(o == CommitOutcome::Committed, "guard on an absent stream at 0: {o:?}");
    ensure!(head(s, &main_stream("nope")).await? == 0, "a guard created a stream");
    Ok(())
}

async fn multi_stream_all_or_nothing<S: Store>(s: &S) -> CaseResult {
    let nights: Vec<StreamId> = (0..3).map(|d| StreamId::new(&unit("rt"), Part::Day(d))).collect();
    // Night 1 is taken by someone else first.
    st(s.commit(&write(nights[1].clone(), 0, vec![booked("other", "1", 1)])).await, "commit")?;
    let stay = Commit {
        writes: nights
            .iter()
            .map(|n| StreamWrite { stream: n.clone(), expected: 0, events: vec![booked("me", "stay", 2)] })
            .collect(),
        claims: vec![claim("me", "stay", "rt")],
        ..Commit::default()
    };
    let o = st(s.commit(&stay).await, "commit")?;
    ensure!(
        o == CommitOutcome::Conflict { stream: nights[1].clone(), expected: 0, actual: 1 },
        "stay over a moved night: {o:?}"
    );
    ensure!(
        head(s, &nights[0]).await? == 0 && head(s, &nights[2]).await? == 0,
        "a failed multi-stream commit wrote some streams"
    );
    let claims = st(s.get_claims(&[bid("me", "stay")]).await, "get_claims")?;
    ensure!(claims == vec![None], "a failed commit wrote its claim");
    let mut ok = stay.clone();
    ok.writes[1].expected = 1;
    let o = st(s.commit(&ok).await, "commit")?;
    ensure!(o == CommitOutcome::Committed, "stay at the right seqs: {o:?}");
    for (n, want) in nights.iter().zip([1, 2, 1]) {
        ensure!(head(s, n).await? == want, "night {n} at {} after the stay, want {want}", head(s, n).await?);
    }
    Ok(())
}

async fn conflict_names_first_moved_stream<S: Store>(s: &S) -> CaseResult {
    let (a, b, c) = (main_stream("a"), main_stream("b"), main_stream("c"));
    for x in [&b, &c] {
        st(s.commit(&write(x.clone(), 0, vec![booked("x", "1", 1)])).await, "commit")?;
    }
    let commit = Commit {
        writes: [&a, &c, &b]
            .iter()
            .map(|x| StreamWrite { stream: (*x).clone(), expected: 0, events: vec![booked("y", "1", 1)] })
            .collect(),
        ..Commit::default()
    };
    let o = st(s.commit(&commit).await, "commit")?;
    ensure!(
        o == CommitOutcome::Conflict { stream: c.clone(), expected: 0, actual: 1 },
        "the first moved stream in commit order is c: {o:?}"
    );
    Ok(())
}

async fn claims_insert_if_absent<S: Store>(s: &S) -> CaseResult {
    let mut first = write(main_stream("a"), 0, vec![booked("me", "k", 1)]);
    first.claims.push(claim("me", "k", "a"));
    ensure!(st(s.commit(&first).await, "commit")? == CommitOutcome::Committed, "first claim");
    let got = st(s.get_claims(&[bid("me", "k"), bid("me", "other"), bid("you", "k")]).await, "get_claims")?;
    ensure!(got == vec![Some(claim("me", "k", "a").record), None, None], "claims read back: {got:?}");
    let mut again = write(main_stream("b"), 0, vec![booked("me", "k", 2)]);
    let mut c2 = claim("me", "k", "b");
    c2.record.request = vec![9].into();
    again.claims.push(c2);
    let o = st(s.commit(&again).await, "commit")?;
    ensure!(
        o == CommitOutcome::Duplicate { booking: bid("me", "k"), existing: claim("me", "k", "a").record },
        "a second claim of the same key: {o:?}"
    );
    ensure!(head(s, &main_stream("b")).await? == 0, "a duplicate commit wrote its stream");
    Ok(())
}

async fn duplicate_is_checked_before_conflict<S: Store>(s: &S) -> CaseResult {
    let mut first = write(main_stream("a"), 0, vec![booked("me", "k", 1)]);
    first.claims.push(claim("me", "k", "a"));
    st(s.commit(&first).await, "commit")?;
    // The same commit again: its stream moved (by itself) and its claim exists.
    let o = st(s.commit(&first).await, "commit")?;
    ensure!(
        matches!(o, CommitOutcome::Duplicate { .. }),
        "a repeated commit must be a duplicate, not a conflict: {o:?}"
    );
    Ok(())
}

async fn claim_not_written_on_conflict<S: Store>(s: &S) -> CaseResult {
    st(s.commit(&write(main_stream("a"), 0, vec![booked("x", "1", 1)])).await, "commit")?;
    let mut stale = write(main_stream("a"), 0, vec![booked("me", "k", 1)]);
    stale.claims.push(claim("me", "k", "a"));
    let o = st(s.commit(&stale).await, "commit")?;
    ensure!(matches!(o, CommitOutcome::Conflict { actual: 1, .. }), "stale commit: {o:?}");
    let got = st(s.get_claims(&[bid("me", "k")]).await, "get_claims")?;
    ensure!(got == vec![None], "a conflicting commit wrote its claim");
    Ok(())
}

async fn group_commit_each_on_its_own<S: Store>(s: &S) -> CaseResult {
    let (a, b, c) = (main_stream("a"), main_stream("b"), main_stream("c"));
    let mut with_claim = write(b.clone(), 0, vec![booked("me", "k", 1)]);
    with_claim.claims.push(claim("me", "k", "b"));
    let mut dup_claim = write(c.clone(), 0, vec![booked("me", "k", 1)]);
    dup_claim.claims.push(claim("me", "k", "c"));
    let group = vec![
        write(a.clone(), 0, vec![booked("x", "1", 1)]),
        // Sees the first one's write: a is at 1 now.
        write(a.clone(), 0, vec![booked("y", "1", 1)]),
        with_claim,
        Commit::default(),
        dup_claim,
        write(a.clone(), 1, vec![booked("z", "1", 1)]),
    ];
    let out = st(s.commit_group(&group).await, "commit_group")?;
    ensure!(out.len() == group.len(), "{} results for {} commits", out.len(), group.len());
    ensure!(out[0] == Ok(CommitOutcome::Committed), "group[0]: {:?}", out[0]);
    ensure!(
        out[1] == Ok(CommitOutcome::Conflict { stream: a.clone(), expected: 0, actual: 1 }),
        "group[1]: {:?}",
        out[1]
    );
    ensure!(out[2] == Ok(CommitOutcome::Committed), "group[2]: {:?}", out[2]);
    ensure!(out[3] == Err(InputError::CommitEmpty), "group[3] (empty commit): {:?}", out[3]);
    ensure!(
        matches!(out[4], Ok(CommitOutcome::Duplicate { .. })),
        "group[4] (claim taken earlier in the group): {:?}",
        out[4]
    );
    ensure!(out[5] == Ok(CommitOutcome::Committed), "group[5]: {:?}", out[5]);
    ensure!(head(s, &a).await? == 2 && head(s, &b).await? == 1 && head(s, &c).await? == 0, "heads after the group");
    let empty = st(s.commit_group(&[]).await, "empty group")?;
    ensure!(empty.is_empty(), "an empty group gave results");
    Ok(())
}

async fn invalid_commits_are_rejected<S: Store>(s: &S) -> CaseResult {
    let a = main_stream("a");
    let two = Commit {
        writes: vec![
            StreamWrite { stream: a.clone(), expected: 0, events: vec![booked("x", "1", 1)] },
            StreamWrite { stream: a.clone(), expected: 0, events: vec![booked("x", "2", 1)] },
        ],
        ..Commit::default()
    };
    let overflow = write(a.clone(), u64::MAX, vec![booked("x", "1", 1)]);
    let mut two_claims = write(a.clone(), 0, vec![booked("x", "1", 1)]);
    two_claims.claims = vec![claim("x", "1", "a"), claim("x", "1", "a")];
    for (commit, code) in [
        (Commit::default(), "E_COMMIT_EMPTY"),
        (two, "E_DUPLICATE"),
        (overflow, "E_SEQ_OVERFLOW"),
        (two_claims, "E_DUPLICATE"),
    ] {
        match s.commit(&commit).await {
            Err(e @ StoreError::Invalid(_)) if e.code() == code => {}
            other => return Err(format!("invalid commit: want {code}, got {other:?}")),
        }
    }
    ensure!(head(s, &a).await? == 0, "an invalid commit wrote");
    Ok(())
}

fn every_event() -> Vec<Event> {
    let b = bid("actor \u{e9}\0x", "key/\u{1F600}");
    let spec = UnitSpec::new(
        "u\0nit",
        UnitKind::Allotment { capacity: 12 },
        vec![
            ("a".into(), KeyValue::U8(255)),
            ("b".into(), KeyValue::I64(i64::MIN)),
            ("c".into(), KeyValue::F64(-0.5)),
            ("d".into(), KeyValue::Bool(true)),
            ("e".into(), KeyValue::Bytes(vec![0, 0xff, 0])),
            ("f".into(), KeyValue::Str("".into())),
            ("g".into(), KeyValue::U64(u64::MAX)),
        ],
    );
    let Ok(spec) = spec else { return vec![] };
    let Ok(def) = IndexDef::single("price", "price", KeyType::U32) else { return vec![] };
    vec![
        Event::UnitDefined { spec: spec.clone(), at: 0 },
        Event::UnitReplaced { attrs: spec.attrs.clone(), at: 1 },
        Event::UnitRetired { at: 2 },
        Event::IndexDefined { def, at: 3 },
        Event::Booked { booking: b.clone(), qty: 3, span: Span::Days { from: 0, to: 366 }, hold: None, at: 4 },
        Event::Booked {
            booking: b.clone(),
            qty: 1,
            span: Span::Interval { start: 0, end: crate::limits::TIME_MAX },
            hold: Some(Box::new(Hold { expires_at: crate::limits::TIME_MAX, ext_ref: Some("pay\0ment".into()) })),
            at: 5,
        },
        Event::Booked {
            booking: b.clone(),
            qty: 1,
            span: Span::Whole,
            hold: Some(Box::new(Hold { expires_at: 9, ext_ref: None })),
            at: 6,
        },
        Event::Confirmed { booking: b.clone(), at: 7 },
        Event::Cancelled { booking: b.clone(), at: 8 },
        Event::Released { booking: b, at: crate::limits::TIME_MAX },
    ]
}

async fn events_round_trip<S: Store>(s: &S) -> CaseResult {
    let events = every_event();
    ensure!(events.len() == 10, "building sample events failed");
    let stream = StreamId::new(&unit("u\0nit"), Part::Day(u32::MAX));
    st(s.commit(&write(stream.clone(), 0, events.clone())).await, "commit")?;
    let back = st(s.read_streams(&[ReadReq { stream, after: 0 }]).await, "read")?;
    ensure!(back.first().map(|x| &x.events) == Some(&events), "events changed in the store: {back:?}");
    Ok(())
}

async fn read_many_in_order<S: Store>(s: &S) -> CaseResult {
    let ids: Vec<StreamId> = ["c", "a", "b"].iter().map(|u| main_stream(u)).collect();
    for (i, id) in ids.iter().enumerate() {
        let events = (0..=i).map(|j| booked("x", &format!("{j}"), 1)).collect();
        st(s.commit(&write(id.clone(), 0, events)).await, "commit")?;
    }
    let mut reqs: Vec<ReadReq> = ids.iter().map(|id| ReadReq { stream: id.clone(), after: 0 }).collect();
    reqs.push(ReadReq { stream: main_stream("none"), after: 0 });
    reqs.push(ReadReq { stream: ids[0].clone(), after: 0 });
    let got = st(s.read_streams(&reqs).await, "read")?;
    let heads: Vec<Seq> = got.iter().map(|x| x.head).collect();
    ensure!(heads == vec![1, 2, 3, 0, 1], "heads in request order: {heads:?}");
    let empty = st(s.read_streams(&[]).await, "empty read")?;
    ensure!(empty.is_empty(), "an empty read gave slices");
    Ok(())
}

async fn large_commit<S: Store>(s: &S) -> CaseResult {
    let a = main_stream("a");
    let events: Vec<Event> = (0..1000).map(|i| booked("x", &format!("{i}"), i)).collect();
    let o = st(s.commit(&write(a.clone(), 0, events)).await, "commit")?;
    ensure!(o == CommitOutcome::Committed && head(s, &a).await? == 1000, "1000 events in one commit: {o:?}");
    let too_many: Vec<Event> =
        (0..crate::limits::EVENTS_PER_COMMIT_MAX as u64 + 1).map(|i| booked("x", "k", i)).collect();
    match s.commit(&write(a.clone(), 1000, too_many)).await {
        Err(e) if e.code() == "E_TOO_MANY" => {}
        other => return Err(format!("too many events: want E_TOO_MANY, got {other:?}")),
    }
    Ok(())
}

fn row(id: &str, version: Seq, keys: Vec<Vec<u8>>) -> UnitRow {
    UnitRow {
        spec: UnitSpec { id: unit(id), kind: UnitKind::Exclusive, attrs: Default::default() },
        version,
        retired: false,
        index_keys: keys,
    }
}

fn range(start: &[u8], end: Option<&[u8]>, reverse: bool, limit: u32) -> KeyRange {
    KeyRange { start: start.to_vec(), end: end.map(<[u8]>::to_vec), reverse, limit }
}

async fn unit_rows_and_index<S: Store>(s: &S) -> CaseResult {
    let put = Commit {
        units: vec![row("u1", 1, vec![vec![1, 5], vec![2, 0]]), row("u2", 1, vec![vec![1, 3]])],
        ..Commit::default()
    };
    ensure!(st(s.commit(&put).await, "commit")? == CommitOutcome::Committed, "putting rows");
    let got = st(s.get_units(&[unit("u2"), unit("zz"), unit("u1")]).await, "get_units")?;
    ensure!(
        got == vec![
            Some(Arc::new(row("u2", 1, vec![vec![1, 3]]))),
            None,
            Some(Arc::new(row("u1", 1, vec![vec![1, 5], vec![2, 0]])))
        ],
        "rows read back: {got:?}"
    );
    let all = st(s.scan_index(&range(&[], None, false, 100)).await, "scan")?;
    let keys: Vec<(Vec<u8>, &str)> = all.iter().map(|e| (e.key.clone(), e.unit.as_str())).collect();
    ensure!(keys == vec![(vec![1, 3], "u2"), (vec![1, 5], "u1"), (vec![2, 0], "u1")], "index in key order: {keys:?}");
    let rev = st(s.scan_index(&range(&[1], Some(&[2]), true, 100)).await, "scan")?;
    let keys: Vec<Vec<u8>> = rev.iter().map(|e| e.key.clone()).collect();
    ensure!(keys == vec![vec![1, 5], vec![1, 3]], "reverse [1, 2): {keys:?}");
    // Replacing a row replaces its index entries.
    let replace = Commit { units: vec![row("u1", 2, vec![vec![0, 9]])], ..Commit::default() };
    st(s.commit(&replace).await, "commit")?;
    let all = st(s.scan_index(&range(&[], None, false, 100)).await, "scan")?;
    let keys: Vec<Vec<u8>> = all.iter().map(|e| e.key.clone()).collect();
    ensure!(keys == vec![vec![0, 9], vec![1, 3]], "after replacing u1: {keys:?}");
    let units = st(s.scan_units(&KeyRange::all(10)).await, "scan_units")?;
    let ids: Vec<&str> = units.iter().map(|r| r.id().as_str()).collect();
    ensure!(ids == vec!["u1", "u2"] && units[0].version == 2, "units: {ids:?}");
    // A retired row keeps no entries.
    let retire = Commit {
        units: vec![UnitRow { retired: true, index_keys: vec![], ..row("u2", 2, vec![]) }],
        ..Commit::default()
    };
    st(s.commit(&retire).await, "commit")?;
    let all = st(s.scan_index(&range(&[], None, false, 100)).await, "scan")?;
    ensure!(all.len() == 1 && all[0].unit.as_str() == "u1", "after retiring u2: {all:?}");
    Ok(())
}

async fn index_compares_bytes_unsigned<S: Store>(s: &S) -> CaseResult {
    // Keys that sort differently as signed bytes, as UTF-16 strings, or by
    // length first. Stores must compare plain unsigned bytes.
    let mut keys: Vec<Vec<u8>> = vec![
        vec![0x7f],
        vec![0x80],
        vec![0xff],
        vec![0xff, 0x00],
        vec![0x00],
        vec![0x00, 0x00],
        vec![0x01, 0xff, 0xff],
        vec![0x02],
    ];
    let rows: Vec<UnitRow> = keys.iter().enumerate().map(|(i, k)| row(&format!("u{i}"), 1, vec![k.clone()])).collect();
    st(s.commit(&Commit { units: rows, ..Commit::default() }).await, "commit")?;
    keys.sort();
    let all = st(s.scan_index(&range(&[], None, false, 100)).await, "scan")?;
    let got: Vec<Vec<u8>> = all.iter().map(|e| e.key.clone()).collect();
    ensure!(got == keys, "index order: {got:?}, want {keys:?}");
    // [0x01, 0x80) holds exactly 0x01ffff, 0x02, 0x7f.
    let mid = st(s.scan_index(&range(&[0x01], Some(&[0x80]), false, 100)).await, "scan")?;
    let got: Vec<Vec<u8>> = mid.iter().map(|e| e.key.clone()).collect();
    ensure!(got == vec![vec![0x01, 0xff, 0xff], vec![0x02], vec![0x7f]], "range [01, 80): {got:?}");
    let empty = st(s.scan_index(&range(&[0x80], Some(&[0x01]), false, 100)).await, "inverted scan")?;
    ensure!(empty.is_empty(), "an inverted range is empty, got {empty:?}");
    Ok(())
}

async fn scans_are_resumable<S: Store>(s: &S) -> CaseResult {
    let names = ["b", "a\0", "a", "c", "\u{e9}", "\u{1F600}", "A"];
    let mut want_streams: Vec<StreamId> = Vec::new();
    for n in names {
        for part in [Part::Def, Part::Main, Part::Day(7)] {
            let id = StreamId::new(&unit(n), part);
            let mut c = write(id.clone(), 0, vec![booked("x", n, 1)]);
            if part == Part::Main {
                c.claims.push(claim("x", n, n));
            }
            st(s.commit(&c).await, "commit")?;
            want_streams.push(id);
        }
    }
    want_streams.sort_by_key(StreamId::encode);
    for reverse in [false, true] {
        let mut got = Vec::new();
        let mut r = KeyRange { reverse, ..KeyRange::all(2) };
        loop {
            let page = st(s.scan_streams(&r).await, "scan_streams")?;
            ensure!(page.len() <= 2, "page larger than its limit");
            let Some(last) = page.last().map(|(id, _)| id.encode()) else { break };
            for (id, h) in page {
                ensure!(h == 1, "head of {id}: {h}");
                got.push(id);
            }
            r = r.after(&last);
        }
        let mut want = want_streams.clone();
        if reverse {
            want.reverse();
        }
        ensure!(got == want, "streams paged (reverse={reverse}): {got:?}");
    }
    // Only one unit's streams, by prefix.
    let prefix = StreamId::unit_prefix(&unit("a"));
    let one = st(
        s.scan_streams(&KeyRange { end: key::prefix_end(&prefix), start: prefix, reverse: false, limit: 100 }).await,
        "scan",
    )?;
    ensure!(one.len() == 3 && one.iter().all(|(id, _)| id.unit_str() == "a"), "streams of unit a: {one:?}");
    let mut got = Vec::new();
    let mut r = KeyRange::all(3);
    loop {
        let page = st(s.scan_claims(&r).await, "scan_claims")?;
        let Some(last) = page.last().map(|(b, _)| b.encode()) else { break };
        got.extend(page.into_iter().map(|(b, _)| b));
        r = r.after(&last);
    }
    let mut want: Vec<BookingId> = names.iter().map(|n| bid("x", n)).collect();
    want.sort_by_key(BookingId::encode);
    ensure!(got == want, "claims paged: {got:?}");
    Ok(())
}

async fn read_window_is_its_parts<S: Store>(s: &S) -> CaseResult {
    // Units u0..u5 with one index key each, some with bookings.
    let rows: Vec<UnitRow> = (0..6).map(|i| row(&format!("u{i}"), 1, vec![vec![9, i as u8]])).collect();
    st(s.commit(&Commit { units: rows, ..Commit::default() }).await, "commit")?;
    for i in [1, 3, 4] {
        let n = if i == 3 { 2 } else { 1 };
        let events = (0..n).map(|j| booked("x", &format!("{i}-{j}"), 1)).collect();
        st(s.commit(&write(main_stream(&format!("u{i}")), 0, events)).await, "commit")?;
    }
    let reads_of = |r: &UnitRow| -> Vec<ReadReq> {
        // Skip u2 entirely; read u3 after its first event.
        match r.id().as_str() {
            "u2" => vec![],
            "u3" => vec![ReadReq { stream: main_stream("u3"), after: 1 }],
            id => vec![ReadReq { stream: main_stream(id), after: 0 }],
        }
    };
    let reads = |r: &UnitRow, out: &mut Vec<ReadReq>| out.extend(reads_of(r));
    // Then again after u1's row is replaced under the same key, and u2's
    // moves to a key outside every range: a window shows rows as they are.
    for replaced in [false, true] {
        if replaced {
            let rows = vec![row("u1", 2, vec![vec![9, 1]]), row("u2", 2, vec![vec![8, 2]])];
            st(s.commit(&Commit { units: rows, ..Commit::default() }).await, "replacing rows")?;
        }
        for (range, what) in [
            (range(&[9, 1], Some(&[9, 5]), false, 10), "forward"),
            (range(&[9, 1], Some(&[9, 5]), true, 10), "reverse"),
            (range(&[9], None, false, 3), "forward, limited"),
            (range(&[9, 4], Some(&[9, 2]), false, 10), "empty"),
        ] {
            let w = st(s.read_window(&range, &reads).await, "read_window")?;
            let entries = st(s.scan_index(&range).await, "scan_index")?;
            ensure!(w.entries == entries, "{what}: entries {:?}, scan_index says {entries:?}", w.entries);
            let ids: Vec<UnitId> = entries.iter().map(|e| e.unit.clone()).collect();
            let want_rows = if ids.is_empty() { vec![] } else { st(s.get_units(&ids).await, "get_units")? };
            ensure!(w.rows == want_rows, "{what}: rows differ from get_units");
            let want_reads: Vec<ReadReq> = want_rows.iter().flatten().flat_map(|r| reads_of(r)).collect();
            ensure!(w.reads == want_reads, "{what}: reads {:?}, want {want_reads:?}", w.reads);
            let want_slices =
                if want_reads.is_empty() { vec![] } else { st(s.read_streams(&want_reads).await, "read")? };
            ensure!(w.slices == want_slices, "{what}: slices {:?}, want {want_slices:?}", w.slices);
            if replaced && what == "forward" {
                let versions: Vec<(&str, Seq)> =
                    w.rows.iter().flatten().map(|r| (r.id().as_str(), r.version)).collect();
                ensure!(versions == [("u1", 2), ("u3", 1), ("u4", 1)], "after the replacement: rows {versions:?}");
            }
        }
    }
    Ok(())
}

/// Each stream of a unit (definition, main, each day) and the catalog's
/// keep their own events and heads.
async fn streams_of_one_unit_are_apart<S: Store>(s: &S) -> CaseResult {
    let u = unit("apart");
    let parts = [(Part::Def, 2), (Part::Main, 1), (Part::Day(3), 3), (Part::Day(4), 1)];
    let events = |part: Part, n: usize| -> Vec<Event> {
        (0..n).map(|i| booked("x", &format!("{part:?}-{i}"), i as TimeMs + 1)).collect()
    };
    for (part, n) in parts {
        let o = st(s.commit(&write(StreamId::new(&u, part), 0, events(part, n))).await, "commit")?;
        ensure!(o == CommitOutcome::Committed, "first append to {part:?}: {o:?}");
    }
    let catalog = st(s.read_streams(&[ReadReq { stream: StreamId::catalog(), after: 0 }]).await, "read")?;
    let mut reqs: Vec<ReadReq> =
        parts.iter().map(|&(part, _)| ReadReq { stream: StreamId::new(&u, part), after: 0 }).collect();
    reqs.push(ReadReq { stream: StreamId::new(&u, Part::Day(5)), after: 0 });
    let slices = st(s.read_streams(&reqs).await, "read")?;
    for (&(part, n), slice) in parts.iter().zip(&slices) {
        ensure!(*slice == StreamSlice { head: n as Seq, events: events(part, n) }, "{part:?}: {slice:?}");
    }
    ensure!(slices[4] == StreamSlice::default(), "a day never written: {:?}", slices[4]);
    let after = st(s.read_streams(&[ReadReq { stream: StreamId::catalog(), after: 0 }]).await, "read")?;
    ensure!(after == catalog, "the catalog stream moved: {catalog:?} then {after:?}");
    let o = st(s.commit(&write(StreamId::new(&u, Part::Main), 2, events(Part::Main, 1))).await, "commit")?;
    let want = CommitOutcome::Conflict { stream: StreamId::new(&u, Part::Main), expected: 2, actual: 1 };
    ensure!(o == want, "main at the definition's head: {o:?}");
    let prefix = StreamId::unit_prefix(&u);
    let listed = st(
        s.scan_streams(&KeyRange { end: key::prefix_end(&prefix), start: prefix, reverse: false, limit: 100 }).await,
        "scan",
    )?;
    let want: Vec<(StreamId, Seq)> = parts.iter().map(|&(part, n)| (StreamId::new(&u, part), n as Seq)).collect();
    ensure!(listed == want, "the unit's streams: {listed:?}");
    Ok(())
}

async fn untouched_window_is_the_units_never_booked<S: Store>(s: &S) -> CaseResult {
    let reads =
        |r: &UnitRow, out: &mut Vec<ReadReq>| out.push(ReadReq { stream: main_stream(r.id().as_str()), after: 0 });
    let nines = range(&[9], Some(&[10]), false, 10);
    let Some(w) = st(s.read_untouched_window(&nines, &reads).await, "read_untouched_window")? else {
        return Err(SKIP.into());
    };
    ensure!(w.entries.is_empty(), "an empty store has untouched entries {:?}", w.entries);
    // Units u0..u7 under keys [9, i]; u8 under [8, 8], outside the range.
    // Defined as allot defines them, with their definition streams (the
    // replaced rows below come without: a store may tell the two apart).
    let mut rows: Vec<UnitRow> = (0..8).map(|i| row(&format!("u{i}"), 1, vec![vec![9, i as u8]])).collect();
    rows.push(row("u8", 1, vec![vec![8, 8]]));
    let writes = rows
        .iter()
        .map(|r| StreamWrite {
            stream: StreamId::new(r.id(), Part::Def),
            expected: 0,
            events: vec![Event::UnitDefined { spec: r.spec.clone(), at: 0 }],
        })
        .collect();
    st(s.commit(&Commit { units: rows, writes, ..Commit::default() }).await, "commit")?;
    // Booked: u1 on its main stream, u3 on one day, u4 (then replaced). A
    // guard on u5 appends nothing; u2 is replaced to another key; u7 retires.
    for stream in [main_stream("u1"), StreamId::new(&unit("u3"), Part::Day(20_000)), main_stream("u4")] {
        st(s.commit(&write(stream, 0, vec![booked("x", "k", 1)])).await, "booking")?;
    }
    st(s.commit(&write(main_stream("u5"), 0, vec![])).await, "guard")?;
    let retired = UnitRow { retired: true, index_keys: vec![], ..row("u7", 2, vec![]) };
    let replaced = vec![row("u2", 2, vec![vec![9, 9]]), row("u4", 2, vec![vec![9, 10]]), retired];
    st(s.commit(&Commit { units: replaced, ..Commit::default() }).await, "replacing rows")?;
    for (range, want) in [
        // Backwards first, over u1 and u3 (booked) and u2's old key.
        (range(&[9], Some(&[9, 4]), true, 10), vec![("u0", 0u8)]),
        (nines.clone(), vec![("u0", 0u8), ("u5", 5), ("u6", 6), ("u2", 9)]),
        (range(&[9], Some(&[10]), true, 2), vec![("u2", 9), ("u6", 6)]),
        (range(&[9, 1], Some(&[9, 9]), false, 2), vec![("u5", 5), ("u6", 6)]),
        (range(&[9, 7], Some(&[9, 9]), false, 10), vec![]),
    ] {
        let what = format!("{range:?}");
        let w = st(s.read_untouched_window(&range, &reads).await, "read_untouched_window")?
            .ok_or_else(|| format!("{what}: the untouched window vanished"))?;
        let got: Vec<(&str, u8)> = w.entries.iter().map(|e| (e.unit.as_str(), e.key[1])).collect();
        ensure!(got == want, "{what}: untouched entries {got:?}, want {want:?}");
        ensure!(w.entries.iter().all(|e| e.key.len() == 2 && e.key[0] == 9), "{what}: keys {:?}", w.entries);
        // Rows as they are now, and the streams asked for, read.
        let ids: Vec<UnitId> = w.entries.iter().map(|e| e.unit.clone()).collect();
        let want_rows = if ids.is_empty() { vec![] } else { st(s.get_units(&ids).await, "get_units")? };
        ensure!(w.rows == want_rows, "{what}: rows differ from get_units");
        let want_reads: Vec<ReadReq> =
            ids.iter().map(|u| ReadReq { stream: StreamId::new(u, Part::Main), after: 0 }).collect();
        ensure!(w.reads == want_reads, "{what}: reads {:?}, want {want_reads:?}", w.reads);
        ensure!(w.slices.iter().all(|sl| sl.head == 0 && sl.events.is_empty()), "{what}: slices {:?}", w.slices);
        ensure!(w.slices.len() == want_reads.len(), "{what}: {} slices", w.slices.len());
    }
    // Other streams asked for (a definition stream, another unit's stream)
    // are read: the slices are what `read_streams` answers.
    let def = |r: &UnitRow, out: &mut Vec<ReadReq>| {
        out.push(ReadReq { stream: StreamId::new(r.id(), Part::Def), after: 0 });
        out.push(ReadReq { stream: main_stream(r.id().as_str()), after: 0 });
    };
    let booked_u1 = |_: &UnitRow, out: &mut Vec<ReadReq>| out.push(ReadReq { stream: main_stream("u1"), after: 0 });
    for (what, more) in [("definitions", &def as &WindowReads<'_>), ("u1's stream", &booked_u1)] {
        let w = st(s.read_untouched_window(&nines, more).await, "read_untouched_window")?
            .ok_or("the untouched window vanished")?;
        ensure!(!w.entries.is_empty() && w.reads.len() >= w.entries.len(), "{what}: reads {:?}", w.reads);
        let want = st(s.read_streams(&w.reads).await, "read")?;
        ensure!(w.slices == want, "{what}: slices {:?}, read_streams {want:?}", w.slices);
    }
    // u1 was booked: the slices above were not answered from the rows.
    let w = st(s.read_untouched_window(&nines, &booked_u1).await, "read_untouched_window")?
        .ok_or("the untouched window vanished")?;
    ensure!(w.slices.iter().all(|sl| sl.head == 1), "u1's stream read as {:?}", w.slices);
    Ok(())
}

/// The whole feed after `after`, read `limit` entries at a time: positions
/// must grow and the last page must say there is no more.
async fn feed_all<S: Store>(s: &S, after: FeedPos, limit: u32) -> Result<(FeedPos, Vec<Append>), String> {
    let mut pos = after;
    let mut out = Vec::new();
    for _ in 0..10_000 {
        let Some(c) = st(s.changes(pos, limit).await, "changes")? else { return Err("the feed vanished".into()) };
        ensure!(!c.gap, "a gap after {pos} in a feed that was never trimmed");
        ensure!(c.pos >= pos, "the feed went backwards: {} after {pos}", c.pos);
        ensure!(c.pos > pos || c.appends.is_empty(), "appends without a new position after {pos}");
        out.extend(c.appends);
        pos = c.pos;
        if !c.more {
            return Ok((pos, out));
        }
    }
    Err("the feed never ended".into())
}

/// The vacancy epoch (optional): bookings and confirmations keep it, what
/// may give room back moves it (a cancel, alone or in a group; unit rows),
/// what did not apply does not count, and `at_max` follows event times.
async fn vacancy_epoch_moves_when_room_may_come_back<S: Store>(s: &S) -> CaseResult {
    let Some(origin) = st(s.vacancy_epoch().await, "vacancy_epoch")? else { return Err(SKIP.into()) };
    let read = || async { st(s.vacancy_epoch().await, "vacancy_epoch")?.ok_or_else(|| String::from("it went away")) };
    let (x, y) = (main_stream("x"), main_stream("y"));
    let mut book = write(x.clone(), 0, vec![booked("a", "1", 10)]);
    book.claims.push(claim("a", "1", "x"));
    ensure!(st(s.commit(&book).await, "booking")? == CommitOutcome::Committed, "booking x");
    let confirm = write(x.clone(), 1, vec![Event::Confirmed { booking: bid("a", "1"), at: 20 }]);
    ensure!(st(s.commit(&confirm).await, "confirm")? == CommitOutcome::Committed, "confirming x");
    let booked_only = read().await?;
    ensure!(booked_only.epoch == origin.epoch, "a booking and a confirmation moved it: {origin:?} -> {booked_only:?}");
    ensure!(booked_only.at_max >= 20, "at_max below the latest event's time (20): {booked_only:?}");
    // A cancel that conflicts applies nothing.
    let stale = write(x.clone(), 0, vec![Event::Cancelled { booking: bid("a", "1"), at: 30 }]);
    ensure!(matches!(st(s.commit(&stale).await, "stale")?, CommitOutcome::Conflict { .. }), "stale cancel");
    ensure!(read().await?.epoch == origin.epoch, "a cancel that did not apply moved it");
    let cancel = write(x.clone(), 2, vec![Event::Cancelled { booking: bid("a", "1"), at: 40 }]);
    ensure!(st(s.commit(&cancel).await, "cancel")? == CommitOutcome::Committed, "cancelling x");
    let cancelled = read().await?;
    ensure!(cancelled.epoch != origin.epoch, "a cancel did not move it: {cancelled:?}");
    ensure!(cancelled.at_max >= 40, "at_max below the latest event's time (40): {cancelled:?}");
    // In a group, with a booking beside it.
    let group = [
        write(y.clone(), 0, vec![booked("b", "1", 50)]),
        write(y.clone(), 1, vec![Event::Released { booking: bid("b", "1"), at: 60 }]),
    ];
    let out = st(s.commit_group(&group).await, "group")?;
    ensure!(out.iter().all(|o| o == &Ok(CommitOutcome::Committed)), "group: {out:?}");
    let released = read().await?;
    ensure!(released.epoch != cancelled.epoch, "a release in a group did not move it: {released:?}");
    ensure!(released.at_max >= 60, "at_max below the latest event's time (60): {released:?}");
    // Unit rows (a unit defined or replaced can be room).
    let put = Commit { units: vec![row("u1", 1, vec![vec![1]])], ..Commit::default() };
    ensure!(st(s.commit(&put).await, "units")? == CommitOutcome::Committed, "putting a row");
    ensure!(read().await?.epoch != released.epoch, "a unit row did not move it");
    Ok(())
}

async fn feed_reports_appends_in_commit_order<S: Store>(s: &S) -> CaseResult {
    let Some(origin) = st(s.changes(0, 100).await, "changes")? else { return Err(SKIP.into()) };
    ensure!(
        origin.appends.is_empty() && !origin.more && !origin.gap,
        "a fresh store's feed has no history and no gap: {origin:?}"
    );
    let (x, y, z) = (main_stream("x"), main_stream("y"), main_stream("z"));
    let x12 = vec![booked("a", "1", 1), booked("b", "2", 2)];
    st(s.commit(&write(x.clone(), 0, x12.clone())).await, "commit")?;
    // Neither a guard, nor a conflict, nor a duplicate appends anything.
    st(s.commit(&write(y.clone(), 0, vec![])).await, "guard")?;
    st(s.commit(&write(x.clone(), 0, vec![booked("c", "3", 3)])).await, "conflict")?;
    let mut claimed = write(z.clone(), 0, vec![booked("me", "k", 4)]);
    claimed.claims.push(claim("me", "k", "z"));
    st(s.commit(&claimed).await, "claimed")?;
    let mut again = write(y.clone(), 0, vec![booked("me", "k", 5)]);
    again.claims.push(claim("me", "k", "y"));
    st(s.commit(&again).await, "duplicate")?;
    let x3 = vec![booked("d", "4", 6)];
    let y1 = vec![booked("e", "5", 7)];
    let out = st(
        s.commit_group(&[
            write(y.clone(), 0, y1.clone()),
            write(x.clone(), 0, vec![booked("f", "6", 8)]), // conflicts
            write(x.clone(), 2, x3.clone()),
        ])
        .await,
        "group",
    )?;
    ensure!(out.iter().filter(|o| **o == Ok(CommitOutcome::Committed)).count() == 2, "group outcomes: {out:?}");
    let (end, all) = feed_all(s, 0, 1000).await?;
    let want = vec![
        Append { stream: x.clone(), first: 1, events: x12 },
        Append { stream: z.clone(), first: 1, events: vec![booked("me", "k", 4)] },
        Append { stream: y.clone(), first: 1, events: y1 },
        Append { stream: x.clone(), first: 3, events: x3 },
    ];
    ensure!(all == want, "the feed from the origin: {all:?}\nwant {want:?}");
    let (again_end, nothing) = feed_all(s, end, 1000).await?;
    ensure!(nothing.is_empty() && again_end == end, "nothing after the end: {nothing:?} at {again_end}");
    // Fresh: a commit acknowledged now is in the next read.
    let w = vec![booked("g", "7", 9)];
    st(s.commit(&write(main_stream("w"), 0, w.clone())).await, "commit")?;
    let (_, tail) = feed_all(s, end, 1000).await?;
    ensure!(tail == vec![Append { stream: main_stream("w"), first: 1, events: w }], "the tail: {tail:?}");
    Ok(())
}

async fn commit_group_and_changes_agree<S: Store>(s: &S) -> CaseResult {
    let Some(start) = st(s.changes(0, 0).await, "changes")? else { return Err(SKIP.into()) };
    let (a, b) = (main_stream("a"), main_stream("b"));
    // Another writer's append, then a group of ours: one passes, one conflicts.
    st(s.commit(&write(a.clone(), 0, vec![booked("x", "1", 1)])).await, "commit")?;
    let group = [write(b.clone(), 0, vec![booked("y", "2", 2)]), write(a.clone(), 0, vec![booked("z", "3", 3)])];
    let (results, changes) = st(s.commit_group_and_changes(&group, start.pos, 100).await, "commit with changes")?;
    ensure!(results.len() == 2 && results[0] == Ok(CommitOutcome::Committed), "group results: {results:?}");
    ensure!(
        results[1] == Ok(CommitOutcome::Conflict { stream: a.clone(), expected: 0, actual: 1 }),
        "the stale member: {:?}",
        results[1]
    );
    let (end, all) = feed_all(s, start.pos, 100).await?;
    // What came with the commit is what the feed says, when it came at all.
    if let Some(c) = changes {
        ensure!(!c.gap && !c.more, "a small feed read with the commit: {c:?}");
        ensure!(c.pos == end && c.appends == all, "changes with the commit {c:?}, the feed {all:?}");
    }
    ensure!(all.len() == 2 && all[0].stream == a && all[1].stream == b, "the feed after the group: {all:?}");
    // A group where everything conflicts writes nothing and moves nothing.
    let (results, changes) = st(s.commit_group_and_changes(&group[1..], end, 100).await, "commit with changes")?;
    ensure!(matches!(results[..], [Ok(CommitOutcome::Conflict { .. })]), "a stale group: {results:?}");
    if let Some(c) = changes {
        ensure!(c.pos == end && c.appends.is_empty() && !c.gap, "nothing happened, yet: {c:?}");
    }
    // A page smaller than what happened: the results stand, the page says more.
    let (results, changes) = st(
        s.commit_group_and_changes(&[write(a.clone(), 1, vec![booked("w", "4", 4)])], start.pos, 1).await,
        "commit with changes",
    )?;
    ensure!(results == [Ok(CommitOutcome::Committed)], "a small page changed the outcome: {results:?}");
    if let Some(c) = changes {
        ensure!(c.more && c.appends == all[..1], "one entry, and more: {c:?}");
    }
    ensure!(head(s, &a).await? == 2 && head(s, &b).await? == 1, "heads after the groups");
    Ok(())
}

/// Commits stale against stream `a` holding one event of request `me/k`
/// (claimed), each with the outcome a store must give it: an append or a
/// guard on a seq that moved on or never was, and a duplicate request.
fn stale_shapes(a: &StreamId) -> [(Commit, CommitOutcome); 5] {
    let mut dup = write(main_stream("d"), 0, vec![booked("me", "k", 2)]);
    dup.claims.push(claim("me", "k", "d"));
    [
        (
            write(a.clone(), 0, vec![booked("x", "1", 3)]),
            CommitOutcome::Conflict { stream: a.clone(), expected: 0, actual: 1 },
        ),
        (
            write(a.clone(), 5, vec![booked("x", "2", 3)]),
            CommitOutcome::Conflict { stream: a.clone(), expected: 5, actual: 1 },
        ),
        (write(a.clone(), 0, Vec::new()), CommitOutcome::Conflict { stream: a.clone(), expected: 0, actual: 1 }),
        (write(a.clone(), 2, Vec::new()), CommitOutcome::Conflict { stream: a.clone(), expected: 2, actual: 1 }),
        (dup, CommitOutcome::Duplicate { booking: bid("me", "k"), existing: claim("me", "k", "a").record }),
    ]
}

/// `decide_group` in one call: the decision gets the feed (when there is
/// one) and the claims asked for, as they were before its own commits, and
/// every commit it returns is checked like any other, whether or
/// not it was decided inside the store's transaction. Each stale shape is
/// tried alone beside a good commit, so that a store with a fast path that
/// writes before it reads must refuse it and still answer both.
async fn decide_group_checks_what_it_decides<S: Store>(s: &S) -> CaseResult {
    let (a, b) = (main_stream("a"), main_stream("b"));
    let mut first = write(a.clone(), 0, vec![booked("me", "k", 1)]);
    first.claims.push(claim("me", "k", "a"));
    st(s.commit(&first).await, "commit")?;
    let start = st(s.changes(0, 0).await, "changes")?;
    // Nothing to decide: nothing written.
    let at = start.as_ref().map(|c| c.pos);
    let d = st(s.decide_group(at, 100, &[], &mut |_, _| Ok(Vec::new())).await, "decide")?;
    ensure!(d.commits.is_empty() && d.results.is_empty(), "an empty decision: {d:?}");
    // The claims asked for reach the decision, one per id, in order.
    let asked = [bid("no", "such"), bid("me", "k"), bid("no", "such")];
    let mut got_claims = None;
    let d = st(
        s.decide_group(at, 100, &asked, &mut |_, claims| {
            got_claims = Some(claims);
            Ok(Vec::new())
        })
        .await,
        "decide",
    )?;
    ensure!(d.results.is_empty(), "nothing decided, something written: {d:?}");
    let me = Some(claim("me", "k", "a").record);
    ensure!(got_claims == Some(vec![None, me.clone(), None]), "the claims decided on: {got_claims:?}");
    // A good append to a new stream beside each stale shape.
    let stale = stale_shapes(&a);
    for (n, (bad, want)) in stale.into_iter().enumerate() {
        let good_stream = main_stream(&alloc::format!("g{n}"));
        let good = write(good_stream.clone(), 0, vec![booked("g", &alloc::format!("{n}"), 4)]);
        let mut seen = None;
        let d = st(
            s.decide_group(None, 100, &[], &mut |changes, claims| {
                seen = Some(changes.is_some() && claims.is_empty());
                Ok(alloc::vec![good.clone(), bad.clone()])
            })
            .await,
            "decide",
        )?;
        ensure!(seen == Some(false), "decide was not called once without a feed: {seen:?}");
        ensure!(d.commits == [good.clone(), bad.clone()], "the commits decided: {:?}", d.commits);
        ensure!(d.results == [Ok(CommitOutcome::Committed), Ok(want.clone())], "case {n}: {:?}", d.results);
        ensure!(head(s, &good_stream).await? == 1 && head(s, &a).await? == 1, "case {n}: heads after it");
    }
    ensure!(head(s, &main_stream("d")).await? == 0, "a duplicate wrote its stream");
    // Good commits on streams with history, a guard and a claim: all pass.
    let mut ok = write(a.clone(), 1, vec![booked("y", "1", 5)]);
    ok.writes.push(StreamWrite { stream: main_stream("g0"), expected: 1, events: Vec::new() });
    ok.claims.push(claim("y", "1", "a"));
    let next = write(a.clone(), 2, vec![booked("y", "2", 6)]);
    let mut got = None;
    let mut got_claims = None;
    let d = st(
        s.decide_group(at, 100, &[bid("y", "1"), bid("me", "k")], &mut |changes, claims| {
            got = Some(changes);
            got_claims = Some(claims);
            Ok(alloc::vec![ok.clone(), next.clone()])
        })
        .await,
        "decide",
    )?;
    ensure!(d.results == [Ok(CommitOutcome::Committed), Ok(CommitOutcome::Committed)], "good ones: {:?}", d.results);
    // Read before the group's own claim was written.
    ensure!(got_claims == Some(vec![None, me]), "claims beside a group: {got_claims:?}");
    ensure!(head(s, &a).await? == 3 && head(s, &b).await? == 0, "heads after the good group");
    let claims = st(s.get_claims(&[bid("y", "1")]).await, "get_claims")?;
    ensure!(claims == [Some(claim("y", "1", "a").record)], "the group's claim: {claims:?}");
    if let Some(start) = start {
        // The decision saw the stale rounds' good commits in its feed.
        let Some(Some(changes)) = got else { return Err(alloc::format!("no feed for the decision: {got:?}")) };
        ensure!(!changes.gap && changes.appends.len() == 5, "the feed the decision saw: {changes:?}");
        let (end, _) = feed_all(s, start.pos, 100).await?;
        if let Some(pos) = d.pos {
            ensure!(pos == end, "decide_group says current at {pos}, the feed ends at {end}");
        }
    }
    // A decided commit that also writes a unit row (and its index entry):
    // written whole, like any commit.
    let mut with_row = write(main_stream("r"), 0, vec![booked("z", "1", 7)]);
    with_row.units.push(row("r", 1, vec![vec![7, 7]]));
    let d = st(s.decide_group(None, 100, &[], &mut |_, _| Ok(alloc::vec![with_row.clone()])).await, "decide")?;
    ensure!(d.results == [Ok(CommitOutcome::Committed)], "a decided unit row: {:?}", d.results);
    ensure!(head(s, &main_stream("r")).await? == 1, "the decided unit row's stream");
    let rows = st(s.get_units(&[unit("r")]).await, "get_units")?;
    ensure!(rows.len() == 1 && rows[0].as_deref() == Some(&with_row.units[0]), "the decided unit row: {rows:?}");
    let index = st(s.scan_index(&range(&[7], None, false, 10)).await, "scan_index")?;
    ensure!(index.len() == 1 && index[0].key == [7, 7], "the decided row's index entry: {index:?}");
    // An error from the decision is returned and nothing is written.
    let r =
        s.decide_group(None, 100, &[], &mut |_, _| Err(StoreError::Unavailable("the decision failed".into()))).await;
    ensure!(matches!(r, Err(StoreError::Unavailable(_))), "a failed decision: {r:?}");
    ensure!(head(s, &a).await? == 3, "a failed decision wrote");
    Ok(())
}

/// [`decide_group_checks_what_it_decides`] for a client that follows the
/// feed from its origin and decides on the page read at the journal's end:
/// a store may then know every head from the feed it served (IndexedDB
/// does, and checks expected seqs and guards in memory instead of reading
/// them), and it must still refuse each stale shape, and answer both
/// commits of the group.
async fn decide_group_on_a_followed_feed_checks_too<S: Store>(s: &S) -> CaseResult {
    if st(s.changes(0, 1).await, "changes")?.is_none() {
        return Err(SKIP.into());
    }
    let a = main_stream("a");
    let mut first = write(a.clone(), 0, vec![booked("me", "k", 1)]);
    first.claims.push(claim("me", "k", "a"));
    st(s.commit(&first).await, "commit")?;
    let stale = stale_shapes(&a);
    // Followed from the origin, page after page.
    let (mut pos, _) = feed_all(s, 0, 2).await?;
    for (n, (bad, want)) in stale.into_iter().enumerate() {
        let good_stream = main_stream(&alloc::format!("g{n}"));
        let good = write(good_stream.clone(), 0, vec![booked("g", &alloc::format!("{n}"), 4)]);
        let mut fed = None;
        let d = st(
            s.decide_group(Some(pos), 100, &[], &mut |changes, _| {
                fed = Some(changes.map(|c| (c.gap, c.more)));
                Ok(alloc::vec![good.clone(), bad.clone()])
            })
            .await,
            "decide",
        )?;
        ensure!(fed == Some(Some((false, false))), "case {n}: the page decided on: {fed:?}");
        ensure!(d.results == [Ok(CommitOutcome::Committed), Ok(want.clone())], "case {n}: {:?}", d.results);
        ensure!(head(s, &good_stream).await? == 1 && head(s, &a).await? == 1, "case {n}: heads after it");
        (pos, _) = feed_all(s, pos, 2).await?;
    }
    ensure!(head(s, &main_stream("d")).await? == 0, "a duplicate wrote its stream");
    // And a good group on streams with history, a guard among them.
    let mut ok = write(a.clone(), 1, vec![booked("y", "1", 5)]);
    ok.writes.push(StreamWrite { stream: main_stream("g0"), expected: 1, events: Vec::new() });
    let next = write(a.clone(), 2, vec![booked("y", "2", 6)]);
    let d =
        st(s.decide_group(Some(pos), 100, &[], &mut |_, _| Ok(alloc::vec![ok.clone(), next.clone()])).await, "decide")?;
    ensure!(d.results == [Ok(CommitOutcome::Committed), Ok(CommitOutcome::Committed)], "good ones: {:?}", d.results);
    ensure!(head(s, &a).await? == 3, "heads after the good group");
    Ok(())
}

async fn feed_pages_and_end<S: Store>(s: &S) -> CaseResult {
    if st(s.changes(0, 1).await, "changes")?.is_none() {
        return Err(SKIP.into());
    }
    for i in 0..7u64 {
        let u = format!("u{}", i % 3);
        let h = head(s, &main_stream(&u)).await?;
        st(s.commit(&write(main_stream(&u), h, vec![booked("p", &format!("{i}"), i)])).await, "commit")?;
    }
    let (end, all) = feed_all(s, 0, 1000).await?;
    ensure!(all.len() == 7, "7 appends, the feed has {}", all.len());
    for limit in [1, 2, 3] {
        let (e, paged) = feed_all(s, 0, limit).await?;
        ensure!(paged == all && e == end, "read {limit} at a time, the feed differs");
    }
    let Some(only_end) = st(s.changes(0, 0).await, "changes")? else { return Err("the feed vanished".into()) };
    ensure!(only_end.pos == end && only_end.appends.is_empty(), "limit 0 reads the end position: {only_end:?}");
    let Some(first) = st(s.changes(0, 1).await, "changes")? else { return Err("the feed vanished".into()) };
    ensure!(first.more && first.appends == all[..1], "one entry, and more: {first:?}");
    // Each stream's appends come in seq order, without holes.
    let mut seen: alloc::collections::BTreeMap<StreamId, Seq> = Default::default();
    for a in &all {
        let last = seen.entry(a.stream.clone()).or_insert(0);
        ensure!(a.first == *last + 1, "{} appended at {} after {}", a.stream, a.first, last);
        *last += a.events.len() as Seq;
    }
    Ok(())
}

/// A store that lets a rival commit land between a booker's observation
/// and its commit: the last-seat race, made deterministic.
struct Interfere<'a, S> {
    inner: &'a S,
    rival: RefCell<Option<Commit>>,
}

impl<S: Store> Store for Interfere<'_, S> {
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        self.inner.read_streams(reqs).await
    }
    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        let rival = self.rival.borrow_mut().take();
        if let Some(r) = rival {
            let o = self.inner.commit(&r).await?;
            if o != CommitOutcome::Committed {
                return Err(StoreError::Unavailable(format!("rival commit failed: {o:?}")));
            }
        }
        self.inner.commit(commit).await
    }
    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        self.inner.get_claims(ids).await
    }
    async fn changes(&self, after: FeedPos, limit: u32) -> Result<Option<Changes>, StoreError> {
        self.inner.changes(after, limit).await
    }
    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        self.inner.get_units(ids).await
    }
    async fn scan_index(&self, range: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        self.inner.scan_index(range).await
    }
    async fn scan_units(&self, range: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        self.inner.scan_units(range).await
    }
    async fn scan_streams(&self, range: &KeyRange) -> Result<Vec<(StreamId, Seq)>, StoreError> {
        self.inner.scan_streams(range).await
    }
    async fn scan_claims(&self, range: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        self.inner.scan_claims(range).await
    }
}

async fn last_seat_race<S: Store>(s: &S) -> CaseResult {
    let mut admin = Allot::new(s);
    let spec = UnitSpec::new("tour", UnitKind::Pool { capacity: 1 }, vec![]).map_err(|e| format!("{e}"))?;
    admin.define_units(&[spec], 0).await.map_err(|e| format!("define: {e}"))?;
    // Bob's booking of the last seat, decided on the empty roster...
    let row = admin.unit(&unit("tour")).await.map_err(|e| format!("{e}"))?;
    let streams = vec![main_stream("tour")];
    let empty = crate::roster::Roster::new();
    let bob = bid("bob", "1");
    let fingerprint: Arc<[u8]> = Arc::from(&b"bob"[..]);
    let ask = Ask { booking: &bob, span: Span::Whole, qty: 1, hold: None, fingerprint: &fingerprint };
    let Ok(Decision::Commit { commit: rival, .. }) = rules::decide_book(&row, &streams, &[&empty], ask, 10) else {
        return Err("bob's decision on an empty roster is not a commit".into());
    };
    // ...lands right after Alice observed the same empty roster.
    let racing = Interfere { inner: s, rival: RefCell::new(Some(rival)) };
    let mut alice = Allot::new(&racing);
    let req = BookReq { booking: bid("alice", "1"), unit: unit("tour"), span: Span::Whole, qty: 1, hold: None };
    let o = alice.book(&req, 10).await.map_err(|e| format!("alice: {e}"))?;
    ensure!(o == Outcome::Full { unit: unit("tour"), available: 0 }, "alice lost the race, must see full: {o:?}");
    ensure!(alice.stats().conflicts == 1, "alice must have met exactly one conflict: {:?}", alice.stats());
    let report = crate::verify::verify(s, 10, core::slice::from_ref(&bob), &Default::default())
        .await
        .map_err(|e| format!("verify: {e}"))?;
    ensure!(report.is_ok() && report.live_bookings == 1, "after the race: {report:?}");
    Ok(())
}

async fn booking_lifecycle_and_verify<S: Store>(s: &S) -> CaseResult {
    let mut a = Allot::new(s);
    let err = |e: &dyn core::fmt::Display| format!("{e}");
    let def = IndexDef::single("seats", "seats", KeyType::U8).map_err(|e| err(&e))?;
    a.define_index(&def, 0).await.map_err(|e| err(&e))?;
    let specs = [
        UnitSpec::new("t2", UnitKind::Exclusive, vec![("seats".into(), KeyValue::U8(2))]),
        UnitSpec::new("t4", UnitKind::Exclusive, vec![("seats".into(), KeyValue::U8(4))]),
    ];
    let specs: Vec<UnitSpec> = specs.into_iter().collect::<Result<_, _>>().map_err(|e| err(&e))?;
    a.define_units(&specs, 0).await.map_err(|e| err(&e))?;
    let hold = BookReq {
        booking: bid("ann", "h1"),
        unit: unit("t2"),
        span: Span::Interval { start: 100, end: 200 },
        qty: 1,
        hold: Some(HoldReq { ttl_ms: 50, ext_ref: Some("pay_1".into()) }),
    };
    let o = a.book(&hold, 1000).await.map_err(|e| err(&e))?;
    ensure!(matches!(o, Outcome::Held { expires_at: 1050, replayed: false, .. }), "hold: {o:?}");
    let again = a.book(&hold, 1001).await.map_err(|e| err(&e))?;
    ensure!(matches!(again, Outcome::Held { expires_at: 1050, replayed: true, .. }), "replayed hold: {again:?}");
    // Someone else cannot confirm it; its owner can, before expiry.
    let by_other = ActReq { by: Actor::new("eve").map_err(|e| err(&e))?, booking: bid("ann", "h1") };
    let e = a.confirm(&by_other, 1010).await.err().map(|e| e.code());
    ensure!(e == Some("E_NOT_OWNER"), "confirm by a non-owner: {e:?}");
    let mine = ActReq { by: Actor::new("ann").map_err(|e| err(&e))?, booking: bid("ann", "h1") };
    let o = a.confirm(&mine, 1010).await.map_err(|e| err(&e))?;
    ensure!(o == Outcome::Confirmed { booking: bid("ann", "h1"), already: false }, "confirm: {o:?}");
    // Back-to-back is fine, overlap is not.
    let next = BookReq {
        booking: bid("bo", "b1"),
        unit: unit("t2"),
        span: Span::Interval { start: 200, end: 300 },
        qty: 1,
        hold: None,
    };
    let o = a.book(&next, 1020).await.map_err(|e| err(&e))?;
    ensure!(matches!(o, Outcome::Booked { .. }), "back-to-back: {o:?}");
    let clash = BookReq {
        booking: bid("cy", "c1"),
        unit: unit("t2"),
        span: Span::Interval { start: 150, end: 250 },
        qty: 1,
        hold: None,
    };
    let o = a.book(&clash, 1030).await.map_err(|e| err(&e))?;
    ensure!(matches!(o, Outcome::Overlap { .. }), "overlap: {o:?}");
    // A hold whose owner vanished frees its slot by itself.
    let lapse = BookReq {
        booking: bid("dee", "d1"),
        unit: unit("t4"),
        span: Span::Interval { start: 0, end: 10 },
        qty: 1,
        hold: Some(HoldReq { ttl_ms: 5, ext_ref: Some("pay_2".into()) }),
    };
    a.book(&lapse, 2000).await.map_err(|e| err(&e))?;
    let taker = BookReq {
        booking: bid("eli", "e1"),
        unit: unit("t4"),
        span: Span::Interval { start: 0, end: 10 },
        qty: 1,
        hold: None,
    };
    let o = a.book(&taker, 2004).await.map_err(|e| err(&e))?;
    ensure!(matches!(o, Outcome::Overlap { .. }), "before expiry the hold blocks: {o:?}");
    let o = a.book(&taker, 2005).await.map_err(|e| err(&e))?;
    ensure!(matches!(o, Outcome::Booked { .. }), "after expiry the slot is free: {o:?}");
    let late = ActReq { by: Actor::new("dee").map_err(|e| err(&e))?, booking: bid("dee", "d1") };
    let e = a.confirm(&late, 1999).await.err().map(|e| e.code());
    ensure!(e == Some("E_HOLD_EXPIRED"), "confirming after expiry, even with a clock gone back: {e:?}");
    let rec = a.reconcile(3000).await.map_err(|e| err(&e))?;
    ensure!(rec.len() == 1 && rec[0].ext_ref == "pay_2", "reconcile lists the lapsed paid hold only: {rec:?}");
    let acked = [bid("ann", "h1"), bid("bo", "b1"), bid("eli", "e1")];
    let report = crate::verify::verify(s, 3000, &acked, &Default::default()).await.map_err(|e| err(&e))?;
    ensure!(report.is_ok(), "verify: {:?}", report.violations);
    ensure!(report.live_bookings == 3 && report.confirmed == 3 && report.units == 2, "verify counts: {report:?}");
    let life = a.lifecycle(&unit("t4")).await.map_err(|e| err(&e))?;
    let names: Vec<&str> = life.iter().map(|i| i.event.name()).collect();
    ensure!(names == vec!["unit-defined", "held", "booked"], "lifecycle of t4: {names:?}");
    Ok(())
}

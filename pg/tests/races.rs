//! Concurrency against a real server: many connections racing on the last
//! seat, guards against appends (write skew), group commits whose failing
//! members leave the others alone, the `(stream, seq)` key as the backstop of
//! append-expect, and migrations raced by several processes.

mod common;

use std::sync::Barrier;
use std::sync::atomic::{AtomicU64, Ordering};

use allot_core::store::{Claim, StreamWrite};
use allot_core::{
    Allot, BookReq, ClaimRecord, Commit, CommitOutcome, Event, Outcome, Part, Span, Store, StoreError, StreamId,
    UnitId, UnitKind, UnitSpec, VerifyOptions, verify,
};
use allot_pg::{MIGRATIONS, PgOptions, PgStore, SCHEMA_VERSION};
use common::*;

fn sid(unit: &str) -> StreamId {
    StreamId::new(&UnitId::new(unit).unwrap(), Part::Main)
}

fn booked(actor: &str, key: &str) -> Event {
    Event::Booked { booking: bid(actor, key), qty: 1, span: Span::Whole, hold: None, at: 1 }
}

fn append(stream: &StreamId, expected: u64, events: Vec<Event>) -> StreamWrite {
    StreamWrite { stream: stream.clone(), expected, events }
}

fn claim(actor: &str, key: &str, unit: &str) -> Claim {
    Claim {
        booking: bid(actor, key),
        record: ClaimRecord {
            request: vec![7].into(),
            unit: UnitId::new(unit).unwrap(),
            span: Span::Whole,
            qty: 1,
            hold: None,
            seat: 1,
            at: 1,
        },
    }
}

fn head(s: &PgStore, stream: &StreamId) -> u64 {
    let r = pollster::block_on(s.read_streams(&[allot_core::store::ReadReq { stream: stream.clone(), after: 0 }]));
    r.unwrap()[0].head
}

#[test]
fn last_seat_over_many_connections() {
    const BOOKERS: usize = 32;
    let store = fresh("last_seat", PgOptions { max_connections: BOOKERS, ..PgOptions::default() });
    let capacities = [1u32, 1, 2, 3, 1, 5, 1, 1];
    let units: Vec<String> = (0..capacities.len()).map(|i| format!("tour-{i}")).collect();
    let specs: Vec<_> = units.iter().zip(capacities).map(|(u, c)| pool_unit(u, c)).collect();
    pollster::block_on(Allot::new(&store).define_units(&specs, 0)).unwrap();

    let mut acked = Vec::new();
    for (u, cap) in units.iter().zip(capacities) {
        let barrier = Barrier::new(BOOKERS);
        let (booked, full) = (AtomicU64::new(0), AtomicU64::new(0));
        let ids = std::sync::Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for t in 0..BOOKERS {
                let (store, barrier, booked, full, ids) = (&store, &barrier, &booked, &full, &ids);
                s.spawn(move || {
                    let mut a = Allot::new(store);
                    let req = BookReq {
                        booking: bid(&format!("booker-{t}"), u),
                        unit: UnitId::new(u).unwrap(),
                        span: WHOLE,
                        qty: 1,
                        hold: None,
                    };
                    barrier.wait();
                    match pollster::block_on(a.book(&req, 10)).unwrap() {
                        o if is_booked(&o) => {
                            booked.fetch_add(1, Ordering::SeqCst);
                            ids.lock().unwrap().push(req.booking.clone());
                        }
                        Outcome::Full { .. } => {
                            full.fetch_add(1, Ordering::SeqCst);
                        }
                        other => panic!("unexpected outcome {other:?}"),
                    }
                });
            }
        });
        let (b, f) = (booked.load(Ordering::SeqCst), full.load(Ordering::SeqCst));
        println!("{u}: capacity {cap}, {BOOKERS} bookers: booked {b}, full {f}");
        assert_eq!(b, u64::from(cap), "{u}: exactly the capacity is booked");
        assert_eq!(f, BOOKERS as u64 - u64::from(cap), "{u}: everybody else sees it full");
        acked.extend(ids.into_inner().unwrap());
    }
    // Recounted from the database through fresh connections.
    let again = reopen(&store, PgOptions::default());
    let report = pollster::block_on(verify(&again, 10, &acked, &VerifyOptions::default())).unwrap();
    assert!(report.is_ok(), "{:?}", report.violations);
    assert_eq!(report.live_bookings, capacities.iter().map(|c| u64::from(*c)).sum::<u64>());
    pollster::block_on(store.drop_schema()).unwrap();
}

/// Stays over overlapping nights of one allotment: each booking is one
/// multi-stream commit (one stream per night, plus the definition guard),
/// all or nothing, racing the others on shared nights.
#[test]
fn overlapping_stays_never_overbook_a_night() {
    const BOOKERS: usize = 24;
    const CAPACITY: u32 = 3;
    let store = fresh("stays", PgOptions { max_connections: BOOKERS, ..PgOptions::default() });
    let spec = UnitSpec::new("rt", UnitKind::Allotment { capacity: CAPACITY }, vec![]).unwrap();
    pollster::block_on(Allot::new(&store).define_units(&[spec], 0)).unwrap();
    let barrier = Barrier::new(BOOKERS);
    let acked = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for t in 0..BOOKERS {
            let (store, barrier, acked) = (&store, &barrier, &acked);
            s.spawn(move || {
                let mut a = Allot::new(store);
                let from = (t * 7 % 9) as u32;
                let req = BookReq {
                    booking: bid(&format!("guest-{t}"), "stay"),
                    unit: UnitId::new("rt").unwrap(),
                    span: Span::Days { from, to: from + 1 + (t % 4) as u32 },
                    qty: 1,
                    hold: None,
                };
                barrier.wait();
                let o = pollster::block_on(a.book(&req, 10)).unwrap();
                if is_booked(&o) {
                    acked.lock().unwrap().push(req.booking);
                } else {
                    assert!(matches!(o, Outcome::Full { .. }), "{o:?}");
                }
            });
        }
    });
    let acked = acked.into_inner().unwrap();
    let again = reopen(&store, PgOptions::default());
    let report = pollster::block_on(verify(&again, 10, &acked, &VerifyOptions::default())).unwrap();
    assert!(report.is_ok(), "{:?}", report.violations);
    assert_eq!(report.live_bookings, acked.len() as u64);
    // Someone was refused, and only because a night was full.
    let rosters = pollster::block_on(verify(&again, 10, &acked, &VerifyOptions { rosters: true })).unwrap().rosters;
    let used: u64 = rosters.iter().map(|r| r.used).max().unwrap_or(0);
    println!(
        "{} of {BOOKERS} stays booked; fullest night holds {used} of {CAPACITY}; {:?}",
        acked.len(),
        store.stats()
    );
    assert!(acked.len() < BOOKERS && used == u64::from(CAPACITY));
    pollster::block_on(store.drop_schema()).unwrap();
}

/// Two commits that each guard the stream the other appends to: serially,
/// whichever goes second sees the other's append and conflicts. A store
/// whose guards only *read* the head could let both through under READ
/// COMMITTED (write skew); the conditional write on the head row must not.
#[test]
fn guards_conflict_with_concurrent_appends() {
    const ROUNDS: usize = 150;
    let store = fresh("write_skew", PgOptions { max_connections: 4, ..PgOptions::default() });
    let mut outcomes = [0u64; 3]; // both?, one, none
    for r in 0..ROUNDS {
        let (x, y) = (sid(&format!("x{r}")), sid(&format!("y{r}")));
        if r % 2 == 1 {
            // Half the rounds on streams that exist already.
            for s in [&x, &y] {
                let c = Commit { writes: vec![append(s, 0, vec![booked("seed", "0")])], ..Commit::default() };
                assert_eq!(pollster::block_on(store.commit(&c)).unwrap(), CommitOutcome::Committed);
            }
        }
        let base = (r % 2) as u64;
        let a = Commit {
            writes: vec![append(&x, base, vec![]), append(&y, base, vec![booked("a", "1")])],
            ..Commit::default()
        };
        let b = Commit {
            writes: vec![append(&y, base, vec![]), append(&x, base, vec![booked("b", "1")])],
            ..Commit::default()
        };
        let barrier = Barrier::new(2);
        let (oa, ob) = std::thread::scope(|s| {
            let ha = s.spawn(|| {
                barrier.wait();
                pollster::block_on(store.commit(&a)).unwrap()
            });
            let hb = s.spawn(|| {
                barrier.wait();
                pollster::block_on(store.commit(&b)).unwrap()
            });
            (ha.join().unwrap(), hb.join().unwrap())
        });
        let won = [&oa, &ob].iter().filter(|o| ***o == CommitOutcome::Committed).count();
        assert!(won <= 1, "round {r}: both guarded commits went through: {oa:?} {ob:?}");
        for o in [&oa, &ob] {
            if let CommitOutcome::Conflict { expected, actual, .. } = o {
                assert_eq!((*expected, *actual), (base, base + 1), "round {r}: {o:?}");
            }
        }
        assert_eq!(head(&store, &x) + head(&store, &y), 2 * base + won as u64, "round {r}");
        outcomes[won] += 1;
    }
    println!("{ROUNDS} rounds: one won {}, none won {}", outcomes[1], outcomes[0]);
    assert!(outcomes[1] > 0);
    pollster::block_on(store.drop_schema()).unwrap();
}

#[test]
fn group_commit_members_fail_alone() {
    let (store, _) = members_fail_alone("group", false);
    pollster::block_on(store.drop_schema()).unwrap();
}

/// The same with no claim or stream named twice in the group, which the
/// store checks as one set (two round trips for the whole group): a member
/// that fails after its claim went in, or after its head moved, leaves
/// nothing behind, and a group where every member fails writes nothing.
#[test]
fn set_checked_group_members_fail_alone() {
    let (store, again) = members_fail_alone("group_set", true);
    // A stream a failed member moved and moved back takes the next writer
    // that expects it at 0.
    let g1 = Commit { writes: vec![append(&sid("g1"), 0, vec![booked("next", "1")])], ..Commit::default() };
    assert_eq!(pollster::block_on(again.commit(&g1)).unwrap(), CommitOutcome::Committed);

    // Every member fails: nothing is written.
    let mut all_fail = Vec::new();
    for i in [7, 9, 13, 15] {
        let mut c = Commit {
            writes: vec![append(&sid(&format!("h{i}")), 0, vec![booked("me", &format!("h{i}"))])],
            ..Commit::default()
        };
        c.claims.push(claim("me", &format!("h{i}"), &format!("h{i}")));
        if i % 6 == 1 {
            c.writes.push(append(&sid(&format!("taken{i}")), 0, vec![]));
        } else {
            c.claims.push(claim("old", &format!("{i}"), &format!("taken{i}")));
        }
        all_fail.push(c);
    }
    let out = pollster::block_on(again.commit_group(&all_fail)).unwrap();
    for (o, i) in out.iter().zip([7, 9, 13, 15]) {
        let ok = match o {
            Ok(CommitOutcome::Conflict { actual: 1, .. }) => i % 6 == 1,
            Ok(CommitOutcome::Duplicate { .. }) => i % 6 == 3,
            _ => false,
        };
        assert!(ok, "member h{i}: {o:?}");
        assert_eq!(head(&again, &sid(&format!("h{i}"))), 0, "stream h{i}");
        let claims = pollster::block_on(again.get_claims(&[bid("me", &format!("h{i}"))])).unwrap();
        assert!(claims[0].is_none(), "claim h{i}");
    }
    for i in [1, 3, 7, 9] {
        assert_eq!(head(&again, &sid(&format!("taken{i}"))), 1, "taken{i}");
    }
    pollster::block_on(store.drop_schema()).unwrap();
}

/// A group of 60 commits on a fresh store `case`: every sixth is stale (its
/// guard expects a stream at 1 to be at 0), every sixth has a claim that
/// exists, every sixth is empty, the rest go in. With `own_keys`, each
/// failing member has a taken stream and claim of its own (the group is
/// checked as one set); without, they all share one (member by member).
/// Checks each outcome, and that what failed left nothing behind; returns
/// the store and a second connection to it.
fn members_fail_alone(case: &'static str, own_keys: bool) -> (PgStore, PgStore) {
    let store = fresh(case, PgOptions::default());
    let taken = |i: usize| if own_keys { format!("taken{i}") } else { "taken".to_string() };
    let old_key = |i: usize| if own_keys { format!("{i}") } else { "k".to_string() };
    // The existing claims and streams already at 1.
    let mut seed = Vec::new();
    for i in (0..60).filter(|i| i % 6 == 1 || i % 6 == 3) {
        if !own_keys && !seed.is_empty() {
            break;
        }
        let mut c =
            Commit { writes: vec![append(&sid(&taken(i)), 0, vec![booked("old", &old_key(i))])], ..Commit::default() };
        c.claims.push(claim("old", &old_key(i), &taken(i)));
        seed.push(c);
    }
    for o in pollster::block_on(store.commit_group(&seed)).unwrap() {
        assert_eq!(o, Ok(CommitOutcome::Committed));
    }

    let mut group = Vec::new();
    let mut want = Vec::new();
    for i in 0..60 {
        let s = sid(&format!("g{i}"));
        let mut c = Commit { writes: vec![append(&s, 0, vec![booked("me", &format!("{i}"))])], ..Commit::default() };
        c.claims.push(claim("me", &format!("{i}"), &format!("g{i}")));
        match i % 6 {
            // Stale: its own claim goes in and its own stream moves, then
            // its guard on a stream at 1 expects 0.
            1 => {
                c.writes.push(append(&sid(&taken(i)), 0, vec![]));
                want.push(Some(false));
            }
            // Its second claim exists (made before the group), its stream
            // moves first.
            3 => {
                c.claims.push(claim("old", &old_key(i), &taken(i)));
                want.push(Some(false));
            }
            // Empty: invalid, never sent.
            5 => {
                c = Commit::default();
                want.push(None);
            }
            _ => want.push(Some(true)),
        }
        group.push(c);
    }
    let out = pollster::block_on(store.commit_group(&group)).unwrap();
    assert_eq!(out.len(), group.len());
    for (i, (o, w)) in out.iter().zip(&want).enumerate() {
        match (o, w) {
            (Ok(CommitOutcome::Committed), Some(true)) => {}
            (Ok(CommitOutcome::Conflict { stream, expected: 0, actual: 1 }), Some(false))
                if i % 6 == 1 && *stream == sid(&taken(i)) => {}
            (Ok(CommitOutcome::Duplicate { booking, existing }), Some(false))
                if i % 6 == 3 && *booking == bid("old", &old_key(i)) && existing.unit.as_str() == taken(i) => {}
            (Err(e), None) if e.code() == "E_COMMIT_EMPTY" => {}
            _ => panic!("group member {i}: {o:?}, wanted {w:?}"),
        }
    }
    // What failed left nothing behind; what succeeded is all there.
    let again = reopen(&store, PgOptions::default());
    for (i, w) in want.iter().enumerate() {
        let h = head(&again, &sid(&format!("g{i}")));
        assert_eq!(h, u64::from(*w == Some(true)), "stream g{i}");
        let claims = pollster::block_on(again.get_claims(&[bid("me", &format!("{i}"))])).unwrap();
        assert_eq!(claims[0].is_some(), *w == Some(true), "claim {i}");
    }
    for i in (0..60).filter(|i| i % 6 == 1 || i % 6 == 3) {
        assert_eq!(head(&again, &sid(&taken(i))), 1, "{}", taken(i));
    }
    (store, again)
}

/// Group commits racing single commits on the same few streams: every
/// member succeeds or conflicts on its own, and the streams stay contiguous.
#[test]
fn group_commits_race_single_commits() {
    const STREAMS: usize = 6;
    let store = fresh("group_race", PgOptions { max_connections: 8, ..PgOptions::default() });
    let committed = AtomicU64::new(0);
    std::thread::scope(|s| {
        for t in 0..6 {
            let (store, committed) = (&store, &committed);
            s.spawn(move || {
                for round in 0..40 {
                    let streams: Vec<StreamId> = (0..STREAMS).map(|i| sid(&format!("s{i}"))).collect();
                    let heads = pollster::block_on(
                        store.read_streams(
                            &streams
                                .iter()
                                .map(|x| allot_core::store::ReadReq { stream: x.clone(), after: 0 })
                                .collect::<Vec<_>>(),
                        ),
                    )
                    .unwrap();
                    let commit = |i: usize| Commit {
                        writes: vec![append(
                            &streams[i],
                            heads[i].head,
                            vec![booked(&format!("t{t}"), &format!("{round}-{i}"))],
                        )],
                        ..Commit::default()
                    };
                    let n = if t % 2 == 0 {
                        let group: Vec<Commit> = (0..STREAMS).map(commit).collect();
                        let out = pollster::block_on(store.commit_group(&group)).unwrap();
                        out.iter().filter(|o| matches!(o, Ok(CommitOutcome::Committed))).count()
                    } else {
                        let i = round % STREAMS;
                        usize::from(pollster::block_on(store.commit(&commit(i))).unwrap() == CommitOutcome::Committed)
                    };
                    committed.fetch_add(n as u64, Ordering::SeqCst);
                }
            });
        }
    });
    let total: u64 = (0..STREAMS).map(|i| head(&store, &sid(&format!("s{i}")))).sum();
    println!("{total} appends committed");
    assert_eq!(total, committed.load(Ordering::SeqCst));
    let report = pollster::block_on(verify(&store, 10, &[], &VerifyOptions::default())).unwrap();
    assert!(!report.violations.iter().any(|v| v.kind() == "seq-gap"), "{:?}", report.violations);
    pollster::block_on(store.drop_schema()).unwrap();
}

/// Two group commits over the same streams in opposite orders, started
/// together: without one lock order across the whole group, each would lock
/// its first members' rows and wait for the other's, a deadlock PostgreSQL
/// only breaks after `deadlock_timeout` (1 s) by aborting one of them (which
/// the store then retries). Every member must end committed or in conflict
/// without a single retry, and each stream gets exactly one append a round.
#[test]
fn group_commits_in_opposite_orders_do_not_deadlock() {
    opposite_order_groups(24, 8);
}

/// The same with groups too big to lock key by key (200 claims and 200
/// streams each): they take their schema's lock exclusively instead.
#[test]
fn oversized_group_commits_do_not_deadlock_either() {
    opposite_order_groups(200, 3);
}

fn opposite_order_groups(stream_count: usize, rounds: usize) {
    let store = fresh("group_order", PgOptions { max_connections: 4, ..PgOptions::default() });
    let streams: Vec<StreamId> = (0..stream_count).map(|i| sid(&format!("o{i}"))).collect();
    let barrier = Barrier::new(2);
    let committed = AtomicU64::new(0);
    for round in 0..rounds {
        let expected = round as u64;
        std::thread::scope(|s| {
            for t in 0..2 {
                let (store, streams, barrier, committed) = (&store, &streams, &barrier, &committed);
                s.spawn(move || {
                    let mut order: Vec<usize> = (0..stream_count).collect();
                    if t == 1 {
                        order.reverse();
                    }
                    let group: Vec<Commit> = order
                        .iter()
                        .map(|&i| {
                            let key = format!("{round}-{i}");
                            let mut c = Commit {
                                writes: vec![append(&streams[i], expected, vec![booked(&format!("t{t}"), &key)])],
                                ..Commit::default()
                            };
                            c.claims.push(claim(&format!("t{t}"), &key, &format!("o{i}")));
                            c
                        })
                        .collect();
                    barrier.wait();
                    let out = pollster::block_on(store.commit_group(&group)).unwrap();
                    for o in &out {
                        match o {
                            Ok(CommitOutcome::Committed) => {
                                committed.fetch_add(1, Ordering::SeqCst);
                            }
                            Ok(CommitOutcome::Conflict { actual, .. }) => assert_eq!(*actual, expected + 1),
                            other => panic!("round {round}, group {t}: {other:?}"),
                        }
                    }
                });
            }
        });
        for (i, st) in streams.iter().enumerate() {
            assert_eq!(head(&store, st), expected + 1, "round {round}: stream o{i}");
        }
    }
    assert_eq!(committed.load(Ordering::SeqCst), (stream_count * rounds) as u64);
    assert_eq!(store.stats().retried, 0, "a group was rolled back and retried (deadlock)");
    pollster::block_on(store.drop_schema()).unwrap();
}

/// The `(stream, seq)` primary key is the last line: even if a stream's head
/// row were behind its events (it never is: they are written in the same
/// transaction), a writer expecting that stale head gets a unique violation
/// on the event insert, reported as the same conflict, with the actual seq.
#[test]
fn event_key_is_the_backstop() {
    let store = fresh("backstop", PgOptions::default());
    let x = sid("x");
    let two = Commit { writes: vec![append(&x, 0, vec![booked("a", "1"), booked("a", "2")])], ..Commit::default() };
    assert_eq!(pollster::block_on(store.commit(&two)).unwrap(), CommitOutcome::Committed);
    // Put the head row behind its events, as a buggy writer would.
    let schema = store.schema().unwrap().to_string();
    sql(Some(&schema), "UPDATE streams SET head = 1");
    let mut stale = Commit { writes: vec![append(&x, 1, vec![booked("b", "1")])], ..Commit::default() };
    stale.claims.push(claim("b", "1", "x"));
    let o = pollster::block_on(store.commit(&stale)).unwrap();
    assert_eq!(o, CommitOutcome::Conflict { stream: x.clone(), expected: 1, actual: 2 });
    // The same inside a group: the member conflicts, the next one commits.
    let next = Commit { writes: vec![append(&sid("y"), 0, vec![booked("c", "1")])], ..Commit::default() };
    let out = pollster::block_on(store.commit_group(&[stale.clone(), next])).unwrap();
    assert_eq!(out[0], Ok(CommitOutcome::Conflict { stream: x.clone(), expected: 1, actual: 2 }));
    assert_eq!(out[1], Ok(CommitOutcome::Committed));
    assert_eq!(head(&store, &sid("y")), 1);
    assert_eq!(scalar(Some(&schema), "SELECT count(*) FROM claims"), "0", "the stale writer's claim was rolled back");
    assert_eq!(scalar(Some(&schema), "SELECT count(*) FROM events"), "3");
    pollster::block_on(store.drop_schema()).unwrap();
}

#[test]
fn migrations_are_idempotent_and_race_safely() {
    let schema = unique_schema("migrate");
    let opts = PgOptions { schema: Some(schema.clone()), max_connections: 1, ..PgOptions::default() };
    let url = pg_url();
    let stores: Vec<PgStore> = std::thread::scope(|s| {
        let handles: Vec<_> =
            (0..6).map(|_| s.spawn(|| pollster::block_on(PgStore::connect(&url, opts.clone())))).collect();
        handles.into_iter().map(|h| h.join().unwrap().expect("a racing migrator")).collect()
    });
    for s in &stores {
        assert_eq!(pollster::block_on(s.schema_version()).unwrap(), SCHEMA_VERSION);
    }
    let rows = sql(Some(&schema), "SELECT version FROM schema_version ORDER BY version");
    let versions: Vec<i32> = rows.iter().map(|r| r[0].as_deref().unwrap().parse().unwrap()).collect();
    assert_eq!(versions, MIGRATIONS.iter().map(|m| m.version).collect::<Vec<_>>(), "each migration applied once");
    // Again: nothing to do.
    let again = pollster::block_on(PgStore::connect(&url, opts.clone())).unwrap();
    assert_eq!(scalar(Some(&schema), "SELECT count(*) FROM schema_version"), MIGRATIONS.len().to_string());
    // A database migrated by a newer build is refused, not misread.
    sql(Some(&schema), "INSERT INTO schema_version (version, description) VALUES (999, 'from the future')");
    let newer = pollster::block_on(PgStore::connect(&url, opts.clone()));
    assert!(matches!(newer, Err(StoreError::VersionChange(_))), "{newer:?}");
    pollster::block_on(again.drop_schema()).unwrap();
}

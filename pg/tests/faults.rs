//! Connections dropped in the middle of a commit, for real: a TCP proxy
//! between the store and the server cuts both sockets at a chosen point of
//! the transaction, and backends are killed with `pg_terminate_backend`
//! while bookings run. Whatever happens, a request is booked at most once and
//! no acknowledged booking is lost.

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use allot_core::store::{Claim, ReadReq, StreamWrite};
use allot_core::{
    Allot, BookAnyReq, BookReq, ClaimRecord, Commit, CommitOutcome, Event, IndexDef, IndexQuery, KeyType, KeyValue,
    Outcome, Part, Pick, Span, Store, StoreError, StreamId, UnitId, UnitKind, UnitSpec, VerifyOptions, verify,
};
use allot_pg::{PgOptions, PgStore};
use common::proxy::{Mode, Proxy};
use common::*;

/// A store that reaches the server through `proxy`, with one connection (so
/// the armed cut hits the next transaction) and no retries of its own
/// unless asked (so the tests see the raw error).
fn via(proxy: &Proxy, schema: &str, retry_for: Duration) -> PgStore {
    let opts = PgOptions { schema: Some(schema.into()), max_connections: 1, retry_for, ..PgOptions::default() };
    pollster::block_on(PgStore::connect(proxy.url(), opts)).unwrap()
}

fn booking_commit(unit: &str, actor: &str, key: &str, expected: u64) -> Commit {
    let booking = bid(actor, key);
    Commit {
        writes: vec![StreamWrite {
            stream: StreamId::new(&UnitId::new(unit).unwrap(), Part::Main),
            expected,
            events: vec![Event::Booked { booking: booking.clone(), qty: 1, span: Span::Whole, hold: None, at: 1 }],
        }],
        claims: vec![Claim {
            booking,
            record: ClaimRecord {
                request: b"req".to_vec().into(),
                unit: UnitId::new(unit).unwrap(),
                span: Span::Whole,
                qty: 1,
                hold: None,
                seat: 1,
                at: 1,
            },
        }],
        ..Commit::default()
    }
}

fn head_of(s: &PgStore, unit: &str) -> u64 {
    let stream = StreamId::new(&UnitId::new(unit).unwrap(), Part::Main);
    pollster::block_on(s.read_streams(&[ReadReq { stream, after: 0 }])).unwrap()[0].head
}

fn claim_exists(s: &PgStore, actor: &str, key: &str) -> bool {
    pollster::block_on(s.get_claims(&[bid(actor, key)])).unwrap()[0].is_some()
}

#[test]
fn lost_before_commit_is_aborted_and_wrote_nothing() {
    let proxy = Proxy::start();
    let direct = fresh("cut_begin", PgOptions::default());
    let schema = direct.schema().unwrap().to_string();
    let raw = via(&proxy, &schema, Duration::ZERO);
    proxy.arm(Mode::CutAfterBegin);
    let c = booking_commit("u", "ann", "1", 0);
    let r = pollster::block_on(raw.commit(&c));
    assert_eq!(proxy.fired(), 1);
    assert!(matches!(r, Err(StoreError::Aborted(_))), "a connection lost before COMMIT is Aborted: {r:?}");
    assert!(r.as_ref().unwrap_err().is_retryable());
    assert_eq!(head_of(&direct, "u"), 0, "nothing written");
    assert!(!claim_exists(&direct, "ann", "1"));
    // The same commit again (as the core's loop does): it applies once.
    assert_eq!(pollster::block_on(raw.commit(&c)).unwrap(), CommitOutcome::Committed);
    assert_eq!(head_of(&direct, "u"), 1);

    // With the store's own retries, the caller never sees the cut.
    let retrying = via(&proxy, &schema, Duration::from_secs(10));
    proxy.arm(Mode::CutAfterBegin);
    let c2 = booking_commit("u", "bob", "1", 1);
    assert_eq!(pollster::block_on(retrying.commit(&c2)).unwrap(), CommitOutcome::Committed);
    assert_eq!(proxy.fired(), 2);
    assert_eq!(head_of(&direct, "u"), 2);
    pollster::block_on(direct.drop_schema()).unwrap();
}

#[test]
fn cut_instead_of_commit_is_unknown_and_not_applied() {
    let proxy = Proxy::start();
    let direct = fresh("cut_commit", PgOptions::default());
    let schema = direct.schema().unwrap().to_string();
    // Retries on: OutcomeUnknown must still reach the caller.
    let raw = via(&proxy, &schema, Duration::from_secs(10));
    proxy.arm(Mode::CutBeforeCommit);
    let c = booking_commit("u", "ann", "1", 0);
    let r = pollster::block_on(raw.commit(&c));
    assert_eq!(proxy.fired(), 1);
    assert!(matches!(r, Err(StoreError::OutcomeUnknown(_))), "cut with COMMIT in flight: {r:?}");
    // The server never got the COMMIT: it rolled back when the socket closed.
    assert!(wait_for(Duration::from_secs(5), || !claim_exists(&direct, "ann", "1") && head_of(&direct, "u") == 0));
    // Retrying with the same request key applies it, once.
    assert_eq!(pollster::block_on(raw.commit(&c)).unwrap(), CommitOutcome::Committed);
    assert!(matches!(pollster::block_on(raw.commit(&c)).unwrap(), CommitOutcome::Duplicate { .. }));
    assert_eq!(head_of(&direct, "u"), 1);
    pollster::block_on(direct.drop_schema()).unwrap();
}

#[test]
fn cut_after_commit_is_unknown_and_the_retry_is_a_duplicate() {
    let proxy = Proxy::start();
    let direct = fresh("cut_after", PgOptions::default());
    let schema = direct.schema().unwrap().to_string();
    let raw = via(&proxy, &schema, Duration::from_secs(10));
    proxy.arm(Mode::CutAfterCommit);
    let c = booking_commit("u", "ann", "1", 0);
    let r = pollster::block_on(raw.commit(&c));
    assert_eq!(proxy.fired(), 1);
    assert!(matches!(r, Err(StoreError::OutcomeUnknown(_))), "acknowledgement lost: {r:?}");
    // It did commit.
    assert!(claim_exists(&direct, "ann", "1"));
    assert_eq!(head_of(&direct, "u"), 1);
    // The retry (same request key) is recognised, even though the stream
    // moved on (by this very request): claims are checked before seqs.
    match pollster::block_on(raw.commit(&c)).unwrap() {
        CommitOutcome::Duplicate { booking, existing } => {
            assert_eq!(booking, bid("ann", "1"));
            assert_eq!(existing, c.claims[0].record);
        }
        other => panic!("retry after a lost acknowledgement: {other:?}"),
    }
    assert_eq!(head_of(&direct, "u"), 1, "booked once");
    pollster::block_on(direct.drop_schema()).unwrap();
}

/// The same three cuts under the core's booking loop: every booking ends
/// booked exactly once, and the ones whose acknowledgement was lost are
/// answered from their claim.
#[test]
fn booking_loop_survives_every_cut_without_double_booking() {
    let proxy = Proxy::start();
    let direct = fresh("cut_loop", PgOptions::default());
    let schema = direct.schema().unwrap().to_string();
    pollster::block_on(Allot::new(&direct).define_units(&[pool_unit("tour", 10)], 0)).unwrap();
    let store = via(&proxy, &schema, Duration::from_secs(10));
    let mut allot = Allot::new(&store);
    let mut acked = Vec::new();
    for (i, mode) in [Mode::CutAfterBegin, Mode::CutBeforeCommit, Mode::CutAfterCommit, Mode::Pass].iter().enumerate() {
        let req = BookReq {
            booking: bid(&format!("guest{i}"), "stay"),
            unit: UnitId::new("tour").unwrap(),
            span: WHOLE,
            qty: 1,
            hold: None,
        };
        // Warm the caches, so that the cut hits the booking's commit.
        let _ =
            pollster::block_on(allot.book(&BookReq { booking: bid(&format!("warm{i}"), "stay"), ..req.clone() }, 5));
        let before = proxy.fired();
        proxy.arm(*mode);
        let o = pollster::block_on(allot.book(&req, 5)).unwrap();
        assert!(is_booked(&o), "{mode:?}: {o:?}");
        if *mode != Mode::Pass {
            assert_eq!(proxy.fired(), before + 1, "{mode:?}: the cut happened");
        }
        if *mode == Mode::CutAfterCommit {
            assert!(matches!(o, Outcome::Booked { replayed: true, .. }), "answered from the claim: {o:?}");
        }
        // Asking again is a replay, never a second booking.
        let again = pollster::block_on(allot.book(&req, 6)).unwrap();
        assert!(matches!(again, Outcome::Booked { replayed: true, .. }), "{again:?}");
        acked.push(req.booking);
    }
    println!("booking loop stats: {:?}", allot.stats());
    let report = pollster::block_on(verify(&direct, 10, &acked, &VerifyOptions::default())).unwrap();
    assert!(report.is_ok(), "{:?}", report.violations);
    assert_eq!(report.live_bookings, 8, "4 guests and 4 warm-ups, each once");
    assert_eq!(report.actors_with_multiple_live, 0);
    pollster::block_on(direct.drop_schema()).unwrap();
}

/// Backends killed from another connection while 8 workers auto-assign
/// rooms: every request books at most once, every acknowledged booking is in
/// the database.
#[test]
fn backends_terminated_during_bookings() {
    terminated_during_bookings("chaos", 1);
}

/// The same with 8 bookings per call (`book_any_many`): its groups are
/// checked as one set, whose two round trips the kills now cut.
#[test]
fn backends_terminated_during_group_bookings() {
    terminated_during_bookings("chaos_group", 8);
}

fn terminated_during_bookings(case: &'static str, batch: u64) {
    const ROOMS: u64 = 400;
    const SESSIONS: u64 = 600;
    const WORKERS: usize = 8;
    let app = format!("allot_{case}_{}", std::process::id());
    let store = fresh(
        case,
        PgOptions {
            max_connections: WORKERS,
            application_name: app.clone(),
            retry_for: Duration::from_secs(30),
            ..PgOptions::default()
        },
    );
    let mut admin = Allot::new(&store);
    pollster::block_on(admin.define_index(&IndexDef::single("price", "price", KeyType::U32).unwrap(), 0)).unwrap();
    let rooms: Vec<UnitSpec> = (0..ROOMS)
        .map(|r| {
            UnitSpec::new(&format!("room-{r:04}"), UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(r as u32))])
                .unwrap()
        })
        .collect();
    pollster::block_on(admin.define_units(&rooms, 0)).unwrap();

    let next = AtomicU64::new(0);
    let done = AtomicBool::new(false);
    let acked = Mutex::new(Vec::new());
    let (failed, sold_out, killed) = (AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0));
    std::thread::scope(|s| {
        let killer = s.spawn(|| {
            let q = format!(
                "SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE application_name = '{app}' AND state <> 'idle' ORDER BY random() LIMIT 2) t"
            );
            while !done.load(Ordering::SeqCst) {
                let n: u64 = scalar(None, &q).parse().unwrap();
                killed.fetch_add(n, Ordering::SeqCst);
                std::thread::sleep(Duration::from_millis(15));
            }
        });
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                s.spawn(|| {
                    let mut a = Allot::new(&store);
                    loop {
                        let first = next.fetch_add(batch, Ordering::SeqCst);
                        if first >= SESSIONS {
                            break;
                        }
                        let reqs: Vec<BookAnyReq> = (first..(first + batch).min(SESSIONS))
                            .map(|i| BookAnyReq {
                                booking: bid(&format!("s{i}"), "holiday"),
                                query: IndexQuery::closed("price", KeyValue::U32(0), KeyValue::U32(u32::MAX)),
                                span: Span::Interval { start: 10, end: 13 },
                                qty: 1,
                                hold: None,
                                pick: Pick::Spread,
                            })
                            .collect();
                        let outcomes = if batch == 1 {
                            vec![pollster::block_on(a.book_any(&reqs[0], 1000))]
                        } else {
                            pollster::block_on(a.book_any_many(&reqs, 1000))
                        };
                        for (req, o) in reqs.into_iter().zip(outcomes) {
                            match o {
                                Ok(o) if is_booked(&o) => acked.lock().unwrap().push(req.booking),
                                Ok(Outcome::SoldOut) => {
                                    sold_out.fetch_add(1, Ordering::SeqCst);
                                }
                                Ok(o) => panic!("session {}: {o:?}", req.booking),
                                Err(e) => {
                                    eprintln!("session {} failed: {} ({e})", req.booking, e.code());
                                    failed.fetch_add(1, Ordering::SeqCst);
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
        done.store(true, Ordering::SeqCst);
        killer.join().unwrap();
    });
    let acked = acked.into_inner().unwrap();
    let (failed, sold_out, killed) = (failed.into_inner(), sold_out.into_inner(), killed.into_inner());
    println!(
        "{} booked, {sold_out} sold out, {failed} failed, {killed} backends terminated, {:?}",
        acked.len(),
        store.stats()
    );
    assert!(killed > 0, "the test killed no backend: it proved nothing");
    // Recount through fresh connections.
    let fresh_store = reopen(&store, PgOptions::default());
    let report = pollster::block_on(verify(&fresh_store, 1000, &acked, &VerifyOptions::default())).unwrap();
    assert!(report.is_ok(), "{:?}", report.violations);
    assert_eq!(report.actors_with_multiple_live, 0, "a session booked twice");
    // The store's retries and the booking loop's claims absorb every kill:
    // no session fails, every room ends booked once, the rest sold out.
    assert_eq!(failed, 0, "sessions failed");
    assert_eq!(report.live_bookings, ROOMS);
    assert_eq!(acked.len() as u64, ROOMS);
    assert_eq!(sold_out, SESSIONS - ROOMS);
    pollster::block_on(store.drop_schema()).unwrap();
}

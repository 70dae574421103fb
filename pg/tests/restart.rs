//! The server restarted (crashed, then cleanly) in the middle of a run of
//! bookings: no acknowledged booking is lost, no session books twice.
//!
//! This restarts the server that `scripts/pg.sh run` started, so it lives in
//! a test binary of its own (cargo runs test binaries one after another) and
//! holds a single test.

mod common;

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use allot_core::{
    Allot, BookAnyReq, IndexDef, IndexQuery, KeyType, KeyValue, Outcome, Pick, Span, UnitKind, UnitSpec, VerifyOptions,
    verify,
};
use allot_pg::PgOptions;
use common::*;

fn restart(mode: &str) {
    let status = std::process::Command::new("bash")
        .arg(pg_script())
        .args(["restart", mode, &pg_dir()])
        .status()
        .expect("run scripts/pg.sh restart");
    assert!(status.success(), "scripts/pg.sh restart {mode} failed");
}

#[test]
fn server_restarts_lose_no_acknowledged_booking() {
    const ROOMS: u64 = 3000;
    const SESSIONS: u64 = 2400;
    const WORKERS: usize = 8;
    pg_dir(); // fail loudly before doing anything if we do not own the server
    let store = fresh(
        "restart",
        PgOptions { max_connections: WORKERS, retry_for: Duration::from_secs(60), ..PgOptions::default() },
    );
    let mut admin = Allot::new(&store);
    pollster::block_on(admin.define_index(&IndexDef::single("price", "price", KeyType::U32).unwrap(), 0)).unwrap();
    let rooms: Vec<UnitSpec> = (0..ROOMS)
        .map(|r| {
            let price = (r.wrapping_mul(2_654_435_761) % (1 << 32)) as u32;
            UnitSpec::new(&format!("room-{r:05}"), UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(price))])
                .unwrap()
        })
        .collect();
    pollster::block_on(admin.define_units(&rooms, 0)).unwrap();

    let next = AtomicU64::new(0);
    let acked = Mutex::new(Vec::new());
    let failed = AtomicU64::new(0);
    let mut acked_at_restart = Vec::new();
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..WORKERS)
            .map(|_| {
                s.spawn(|| {
                    let mut a = Allot::new(&store);
                    loop {
                        let i = next.fetch_add(1, Ordering::SeqCst);
                        if i >= SESSIONS {
                            break;
                        }
                        let req = BookAnyReq {
                            booking: bid(&format!("s{i}"), "holiday"),
                            query: IndexQuery::closed("price", KeyValue::U32(0), KeyValue::U32(u32::MAX)),
                            span: Span::Interval { start: 20_811, end: 20_814 },
                            qty: 1,
                            hold: None,
                            pick: Pick::Spread,
                        };
                        match pollster::block_on(a.book_any(&req, 1000)) {
                            Ok(Outcome::Booked { .. }) => acked.lock().unwrap().push(req.booking),
                            Ok(o) => panic!("session {i}: {o:?}"),
                            Err(e) => {
                                eprintln!("session {i} failed: {} ({e})", e.code());
                                failed.fetch_add(1, Ordering::SeqCst);
                            }
                        }
                    }
                })
            })
            .collect();
        // A crash (immediate shutdown: recovery from the WAL on start), then
        // a clean restart, each with bookings acknowledged before it and
        // bookings in flight during it.
        for (mode, at) in [("immediate", SESSIONS / 4), ("fast", SESSIONS * 5 / 8)] {
            assert!(wait_for(Duration::from_secs(300), || acked.lock().unwrap().len() as u64 >= at));
            let before = acked.lock().unwrap().len();
            restart(mode);
            println!("restarted ({mode}) with {before} bookings acknowledged");
            acked_at_restart.push(before as u64);
        }
        for w in workers {
            w.join().unwrap();
        }
    });
    let acked = acked.into_inner().unwrap();
    let failed = failed.into_inner();
    println!("{} booked, {failed} failed, {:?}", acked.len(), store.stats());
    assert!(store.stats().retried > 0, "no operation met the restarts: the test proved nothing");
    assert!(*acked_at_restart.last().unwrap() < acked.len() as u64, "the run went on after the last restart");
    // Recount from the database through fresh connections.
    let fresh_store = reopen(&store, PgOptions::default());
    let report = pollster::block_on(verify(&fresh_store, 1000, &acked, &VerifyOptions::default())).unwrap();
    assert!(report.is_ok(), "{:?}", report.violations);
    assert_eq!(report.actors_with_multiple_live, 0, "a session booked twice");
    assert_eq!(failed, 0, "the store rides out a restart within retry_for");
    assert_eq!(report.live_bookings, SESSIONS);
    assert_eq!(acked.len() as u64, SESSIONS);
    pollster::block_on(store.drop_schema()).unwrap();
}

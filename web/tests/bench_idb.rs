//! Benchmark (not a test: it asserts correctness only, never speed): single
//! append-expect vs group commit on real IndexedDB in headless Chromium.
//!
//! Run it with
//!
//! ```sh
//! WASM_BINDGEN_TEST_TIMEOUT=900 CHROMEDRIVER=/usr/bin/chromedriver cargo test --release --target wasm32-unknown-unknown \
//!     -p allot-web --test bench_idb -- --include-ignored --nocapture
//! ```
//!
//! It prints `bench_idb` lines: per-commit cost of N commits each in its own
//! readwrite transaction vs the same N commits in groups of 8, 32 and 128,
//! and the booking loop one request at a time vs `book_any_many`. Each figure
//! is the median of 3 runs on fresh databases.

mod common;

use allot_core::store::{Commit, StreamWrite};
use allot_core::*;
use allot_web::idb::{Durability, IdbStore};
use common::unique;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const NOW: u64 = 1_797_984_000_000;

fn now_ms() -> f64 {
    let perf = js_sys::Reflect::get(&js_sys::global(), &"performance".into()).unwrap();
    let f: js_sys::Function = js_sys::Reflect::get(&perf, &"now".into()).unwrap().into();
    f.call0(&perf).unwrap().as_f64().unwrap()
}

fn commit_for(i: usize) -> Commit {
    let booking = BookingId::new(&format!("s{i}"), "k").unwrap();
    let stream = StreamId::new(&UnitId::new(&format!("room-{i:05}")).unwrap(), Part::Main);
    let event = Event::Booked { booking: booking.clone(), qty: 1, span: Span::Whole, hold: None, at: NOW };
    let record = ClaimRecord {
        request: vec![1].into(),
        unit: UnitId::new(&format!("room-{i:05}")).unwrap(),
        span: Span::Whole,
        qty: 1,
        hold: None,
        seat: 1,
        at: NOW,
    };
    Commit {
        writes: vec![StreamWrite { stream, expected: 0, events: vec![event] }],
        claims: vec![allot_core::store::Claim { booking, record }],
        units: vec![],
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// ms per commit for `n` commits sent in groups of `group` (1 = one
/// transaction per commit, through `Store::commit`).
async fn run_commits(n: usize, group: usize, durability: Durability) -> f64 {
    let store = IdbStore::open(&unique("bench-commit"), durability).await.unwrap();
    let commits: Vec<Commit> = (0..n).map(commit_for).collect();
    let t0 = now_ms();
    if group == 1 {
        for c in &commits {
            assert_eq!(store.commit(c).await.unwrap(), CommitOutcome::Committed);
        }
    } else {
        for chunk in commits.chunks(group) {
            let out = store.commit_group(chunk).await.unwrap();
            assert!(out.iter().all(|o| *o == Ok(CommitOutcome::Committed)));
        }
    }
    let ms = (now_ms() - t0) / n as f64;
    store.close();
    ms
}

async fn rooms(store: &IdbStore, n: usize) {
    let mut a = Allot::new(store);
    a.define_index(&IndexDef::single("price", "price", KeyType::U32).unwrap(), NOW).await.unwrap();
    let specs: Vec<UnitSpec> = (0..n as u64)
        .map(|r| {
            let price = (r.wrapping_mul(2_654_435_761) % (1 << 32)) as u32;
            UnitSpec::new(&format!("room-{r:05}"), UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(price))])
                .unwrap()
        })
        .collect();
    a.define_units(&specs, NOW).await.unwrap();
}

fn session(i: usize) -> BookAnyReq {
    BookAnyReq {
        booking: BookingId::new(&format!("s{i}"), "holiday").unwrap(),
        query: IndexQuery::closed("price", KeyValue::U32(0), KeyValue::U32(u32::MAX)),
        span: Span::Interval { start: 20_811, end: 20_814 },
        qty: 1,
        hold: None,
        pick: Pick::Spread,
    }
}

/// ms per booking for `n` sessions through the booking loop, one at a time
/// (`batch` = 1) or in batches with group commit.
async fn run_bookings(n: usize, batch: usize) -> f64 {
    let store = IdbStore::open(&unique("bench-book"), Durability::Relaxed).await.unwrap();
    rooms(&store, n).await;
    let mut a = Allot::new(&store);
    let reqs: Vec<BookAnyReq> = (0..n).map(session).collect();
    let t0 = now_ms();
    let mut booked = 0;
    if batch == 1 {
        for r in &reqs {
            booked += usize::from(matches!(a.book_any(r, NOW).await.unwrap(), Outcome::Booked { .. }));
        }
    } else {
        for chunk in reqs.chunks(batch) {
            let out = a.book_any_many(chunk, NOW).await;
            booked += out.iter().filter(|o| matches!(o, Ok(Outcome::Booked { .. }))).count();
        }
    }
    let ms = (now_ms() - t0) / n as f64;
    assert_eq!(booked, n);
    store.close();
    ms
}

#[wasm_bindgen_test]
#[ignore = "a benchmark: run with --include-ignored"]
async fn bench_single_vs_group_commit() {
    let n = 512;
    for durability in [Durability::Relaxed, Durability::Strict] {
        for group in [1, 8, 32, 128] {
            let mut runs = Vec::new();
            for _ in 0..3 {
                runs.push(run_commits(n, group, durability).await);
            }
            console_log!(
                "bench_idb commits={n} durability={durability:?} group={group} ms_per_commit={:.4} commits_per_sec={:.0}",
                median(runs.clone()),
                1000.0 / median(runs)
            );
        }
    }
    for batch in [1, 32] {
        let mut runs = Vec::new();
        for _ in 0..3 {
            runs.push(run_bookings(256, batch).await);
        }
        console_log!(
            "bench_idb bookings=256 batch={batch} ms_per_booking={:.4} bookings_per_sec={:.0}",
            median(runs.clone()),
            1000.0 / median(runs)
        );
    }
}

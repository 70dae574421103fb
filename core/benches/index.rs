//! The ordered index: windows of 32 entries of a `price` range.
//!
//! For N = 10_000 and 100_000 exclusive units with a u32 `price`
//! (`price = r * 2654435761 mod 2^32`, distinct for every r), defined through
//! `Allot::define_index` + `Allot::define_units` (setup, not measured), each
//! iteration scans one window at a random position (512 precomputed
//! windows, cycled). A query is `[price_p, price_{p+64})`, so it holds 64
//! entries: a forward window returns entries p..p+32, a reverse one
//! p+64..p+32, and the resumed one (`KeyRange::after` the forward window's
//! last key, included in the measurement) p+32..p+64.
//!
//! `btreemap_*` is the baseline: a bare `BTreeMap<Vec<u8>, String>` holding
//! the same encoded keys, scanned with `range(..).take(32)` and cloned into an
//! owned `Vec` as the store's answer is (`btreemap_borrowed` skips the clone).
//! The difference to `store_*` is the store's own overhead (lock, bounds
//! check, `IndexEntry` conversion). `allot_query` is the full public path:
//! schema check, `key_range`, scan, and the unit rows of the window.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::ops::Bound;
use std::time::Duration;

use allot_core::catalog::index_key;
use allot_core::store::{IndexEntry, KeyRange};
use allot_core::{Allot, IndexDef, IndexQuery, KeyType, KeyValue, MemStore, Store, UnitKind, UnitSpec};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use pollster::block_on;

const WINDOW: u32 = 32;
/// Entries in each query range: two windows.
const SPAN: usize = 2 * WINDOW as usize;
const QUERIES: usize = 512;
const NOW: u64 = 1_000;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn price(r: u64) -> u32 {
    (r.wrapping_mul(2_654_435_761) % (1 << 32)) as u32
}

fn unit_id(r: u64) -> String {
    format!("room-{r:06}")
}

/// One precomputed window position.
struct Query {
    q: IndexQuery,
    fwd: KeyRange,
    rev: KeyRange,
    /// Last key of the forward window: where the resumed scan continues.
    fwd_last: Vec<u8>,
}

struct Fixture {
    allot: Allot<MemStore>,
    map: BTreeMap<Vec<u8>, String>,
    queries: Vec<Query>,
}

fn fixture(n: u64) -> Fixture {
    let def = IndexDef::single("price", "price", KeyType::U32).unwrap();
    let specs: Vec<UnitSpec> = (0..n)
        .map(|r| {
            UnitSpec::new(&unit_id(r), UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(price(r)))]).unwrap()
        })
        .collect();
    let mut allot = Allot::new(MemStore::new());
    block_on(allot.define_index(&def, NOW)).unwrap();
    assert_eq!(block_on(allot.define_units(&specs, NOW)).unwrap(), specs.len());

    // The baseline holds exactly the keys the store indexed.
    let map: BTreeMap<Vec<u8>, String> = specs
        .iter()
        .map(|s| {
            let KeyValue::U32(p) = s.attrs.get("price").unwrap() else { unreachable!() };
            (index_key(&def, &[KeyValue::U32(*p)], &s.id).unwrap(), s.id.as_str().to_owned())
        })
        .collect();
    let mut stored = Vec::with_capacity(map.len());
    let mut range = KeyRange::all(10_000);
    loop {
        let page = block_on(allot.store().scan_index(&range)).unwrap();
        let Some(last) = page.last().map(|e| e.key.clone()) else { break };
        stored.extend(page);
        range = range.after(&last);
    }
    assert!(stored.iter().map(|e| (&e.key, e.unit.as_str())).eq(map.iter().map(|(k, v)| (k, v.as_str()))));

    let mut prices: Vec<u32> = (0..n).map(price).collect();
    prices.sort_unstable();
    let keys: Vec<&Vec<u8>> = map.keys().collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n);
    let queries = (0..QUERIES)
        .map(|_| {
            let p = (rng.next() % (n - SPAN as u64)) as usize;
            let q = IndexQuery::half_open("price", KeyValue::U32(prices[p]), KeyValue::U32(prices[p + SPAN]));
            let fwd = q.key_range(&def, WINDOW).unwrap();
            let rev = IndexQuery { reverse: true, ..q.clone() }.key_range(&def, WINDOW).unwrap();
            Query { q, fwd, rev, fwd_last: keys[p + WINDOW as usize - 1].clone() }
        })
        .collect();
    Fixture { allot, map, queries }
}

fn btree_bounds(r: &KeyRange) -> (Bound<&[u8]>, Bound<&[u8]>) {
    let end = r.end.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
    (Bound::Included(r.start.as_slice()), end)
}

fn btree_scan(map: &BTreeMap<Vec<u8>, String>, r: &KeyRange) -> Vec<(Vec<u8>, String)> {
    let it = map.range::<[u8], _>(btree_bounds(r));
    let limit = r.limit as usize;
    if r.reverse {
        it.rev().take(limit).map(|(k, v)| (k.clone(), v.clone())).collect()
    } else {
        it.take(limit).map(|(k, v)| (k.clone(), v.clone())).collect()
    }
}

fn scan(store: &MemStore, r: &KeyRange) -> Vec<IndexEntry> {
    block_on(store.scan_index(r)).unwrap()
}

/// Checks that every window is full and that the store and the baseline
/// agree, so that both sides measure the same work.
fn check(f: &Fixture) {
    let store = f.allot.store();
    for q in &f.queries {
        let resumed = q.fwd.after(&q.fwd_last);
        for r in [&q.fwd, &q.rev, &resumed] {
            let s = scan(store, r);
            let b = btree_scan(&f.map, r);
            assert_eq!(s.len(), WINDOW as usize);
            assert!(s.iter().map(|e| (&e.key, e.unit.as_str())).eq(b.iter().map(|(k, v)| (k, v.as_str()))));
        }
        assert_eq!(scan(store, &q.fwd).last().unwrap().key, q.fwd_last);
    }
}

fn index(c: &mut Criterion) {
    let mut g = c.benchmark_group("index_window32");
    g.throughput(Throughput::Elements(u64::from(WINDOW)));
    for n in [10_000u64, 100_000] {
        let mut f = fixture(n);
        check(&f);
        let store = f.allot.store();
        let qs = &f.queries;
        let map = &f.map;
        let mut i = 0;
        let mut next = || {
            i = (i + 1) % QUERIES;
            &qs[i]
        };
        g.bench_function(BenchmarkId::new("store_fwd", n), |b| b.iter(|| scan(store, black_box(&next().fwd))));
        g.bench_function(BenchmarkId::new("btreemap_fwd", n), |b| b.iter(|| btree_scan(map, black_box(&next().fwd))));
        g.bench_function(BenchmarkId::new("btreemap_borrowed_fwd", n), |b| {
            b.iter(|| {
                let r = black_box(&next().fwd);
                map.range::<[u8], _>(btree_bounds(r))
                    .take(WINDOW as usize)
                    .map(|(k, v)| k.len() + v.len())
                    .sum::<usize>()
            })
        });
        g.bench_function(BenchmarkId::new("store_rev", n), |b| b.iter(|| scan(store, black_box(&next().rev))));
        g.bench_function(BenchmarkId::new("btreemap_rev", n), |b| b.iter(|| btree_scan(map, black_box(&next().rev))));
        g.bench_function(BenchmarkId::new("store_resume", n), |b| {
            b.iter(|| {
                let q = black_box(next());
                scan(store, &q.fwd.after(&q.fwd_last))
            })
        });
        g.bench_function(BenchmarkId::new("btreemap_resume", n), |b| {
            b.iter(|| {
                let q = black_box(next());
                btree_scan(map, &q.fwd.after(&q.fwd_last))
            })
        });
        let mut i = 0;
        let allot = &mut f.allot;
        g.bench_function(BenchmarkId::new("allot_query", n), |b| {
            b.iter(|| {
                i = (i + 1) % QUERIES;
                let page = block_on(allot.query(black_box(&qs[i].q), WINDOW, None)).unwrap();
                assert_eq!(page.units.len(), WINDOW as usize);
                page
            })
        });
    }
    g.finish();
}

fn config() -> Criterion {
    // 10_000 bootstrap resamples (default 100_000): ample for 20 samples, and
    // it makes the plotters KDE plots ~20x cheaper (they dominated the run).
    Criterion::default()
        .nresamples(10_000)
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = index
}
criterion_main!(benches);

//! The ordered index through the public API: range scans [lo, hi) in both
//! directions, limits, resumable windows, composite and descending fields,
//! and index maintenance when units are defined, replaced and retired.

use std::ops::Bound;

use allot_core::*;
use proptest::prelude::*;

const NOW: u64 = 1;

fn price(r: u64) -> u32 {
    (r.wrapping_mul(2_654_435_761) % (1 << 32)) as u32
}

/// The seed's prices plus every byte boundary the seed's bug tripped on.
fn prices() -> Vec<u32> {
    let mut p: Vec<u32> = (0..1000).map(price).collect();
    p.extend([255, 256, 999, 1000, 65_535, 65_536, (1 << 24) - 1, 1 << 24, (1 << 31) - 1, 1 << 31, u32::MAX]);
    p
}

fn hotel_store(prices: &[u32]) -> MemStore {
    let store = MemStore::new();
    let mut a = Allot::new(&store);
    pollster::block_on(async {
        a.define_index(&IndexDef::single("price", "price", KeyType::U32).unwrap(), NOW).await.unwrap();
        let hp = IndexDef::new(
            "hotel_price",
            vec![
                IndexField { attr: "hotel".into(), ty: KeyType::U32, order: Order::Asc },
                IndexField { attr: "price".into(), ty: KeyType::U32, order: Order::Asc },
            ],
        )
        .unwrap();
        a.define_index(&hp, NOW).await.unwrap();
        let desc = IndexDef::new(
            "price_desc",
            vec![IndexField { attr: "price".into(), ty: KeyType::U32, order: Order::Desc }],
        )
        .unwrap();
        a.define_index(&desc, NOW).await.unwrap();
        let specs: Vec<UnitSpec> = prices
            .iter()
            .enumerate()
            .map(|(r, p)| {
                let attrs = vec![("hotel".into(), KeyValue::U32(r as u32 % 20)), ("price".into(), KeyValue::U32(*p))];
                UnitSpec::new(&format!("room-{r:05}"), UnitKind::Exclusive, attrs).unwrap()
            })
            .collect();
        a.define_units(&specs, NOW).await.unwrap();
    });
    store
}

/// Every unit of a query, following `next` cursors `limit` at a time.
fn all_pages(store: &MemStore, q: &IndexQuery, limit: u32) -> Vec<(String, u32)> {
    let mut a = Allot::new(store);
    let mut out = Vec::new();
    let mut after: Option<Vec<u8>> = None;
    loop {
        let page = pollster::block_on(a.query(q, limit, after.as_deref())).unwrap();
        assert!(page.units.len() <= limit as usize);
        for (_, row) in &page.units {
            let p = match row.spec.attrs.get("price") {
                Some(KeyValue::U32(p)) => *p,
                other => panic!("price attribute {other:?}"),
            };
            out.push((row.id().as_str().to_string(), p));
        }
        match page.next {
            Some(n) => after = Some(n),
            None => return out,
        }
    }
}

/// What a plain comparison selects, in index order (price, then id).
fn filtered(prices: &[u32], keep: impl Fn(u32) -> bool) -> Vec<(String, u32)> {
    let mut v: Vec<(String, u32)> =
        prices.iter().enumerate().filter(|(_, p)| keep(**p)).map(|(r, p)| (format!("room-{r:05}"), *p)).collect();
    v.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    v
}

#[test]
fn price_ranges_match_a_plain_comparison_across_byte_boundaries() {
    let ps = prices();
    let store = hotel_store(&ps);
    let ranges: [(u32, u32); 8] = [
        (0, 1000),
        (255, 257),
        (999, 1001),
        (65_535, 65_537),
        ((1 << 24) - 1, (1 << 24) + 1),
        ((1 << 31) - 1, (1 << 31) + 1),
        (0, u32::MAX),
        (1 << 31, u32::MAX),
    ];
    for (lo, hi) in ranges {
        let q = IndexQuery::half_open("price", KeyValue::U32(lo), KeyValue::U32(hi));
        let want = filtered(&ps, |p| lo <= p && p < hi);
        assert_eq!(all_pages(&store, &q, 1000), want, "[{lo}, {hi})");
        // The same range read 7 at a time, resuming after each window.
        assert_eq!(all_pages(&store, &q, 7), want, "[{lo}, {hi}) in windows of 7");
        // Backwards: the same rows, reversed.
        let mut rq = q.clone();
        rq.reverse = true;
        let mut back = all_pages(&store, &rq, 5);
        back.reverse();
        assert_eq!(back, want, "[{lo}, {hi}) backwards");
    }
    // [0, 1000) holds exactly the rows of the seed's bug report's question.
    let q = IndexQuery::half_open("price", KeyValue::U32(0), KeyValue::U32(1000));
    assert_eq!(all_pages(&store, &q, 100).len(), ps.iter().filter(|p| **p < 1000).count());
    // An inclusive upper bound at u32::MAX needs no overflow.
    let q = IndexQuery::closed("price", KeyValue::U32(1 << 31), KeyValue::U32(u32::MAX));
    assert_eq!(all_pages(&store, &q, 100), filtered(&ps, |p| p >= 1 << 31));
}

#[test]
fn composite_and_descending_indexes() {
    let ps = prices();
    let store = hotel_store(&ps);
    // (hotel, price): all of hotel 3, then hotel 3 with price in [0, 2^31).
    let hotel3 = IndexQuery {
        index: "hotel_price".into(),
        lo: Bound::Included(vec![KeyValue::U32(3)]),
        hi: Bound::Included(vec![KeyValue::U32(3)]),
        reverse: false,
    };
    let want: Vec<_> =
        filtered(&ps, |_| true).into_iter().filter(|(id, _)| id[5..].parse::<u32>().unwrap() % 20 == 3).collect();
    assert_eq!(all_pages(&store, &hotel3, 9), want);
    let cheap3 = IndexQuery {
        index: "hotel_price".into(),
        lo: Bound::Included(vec![KeyValue::U32(3), KeyValue::U32(0)]),
        hi: Bound::Excluded(vec![KeyValue::U32(3), KeyValue::U32(1 << 31)]),
        reverse: false,
    };
    let want_cheap: Vec<_> = want.iter().filter(|(_, p)| *p < 1 << 31).cloned().collect();
    assert_eq!(all_pages(&store, &cheap3, 4), want_cheap);
    // Excluded lower bound on a prefix: every hotel after 18 is hotel 19.
    let after18 = IndexQuery {
        index: "hotel_price".into(),
        lo: Bound::Excluded(vec![KeyValue::U32(18)]),
        hi: Bound::Unbounded,
        reverse: false,
    };
    assert!(all_pages(&store, &after18, 50).iter().all(|(id, _)| id[5..].parse::<u32>().unwrap() % 20 == 19));
    // A descending field scans highest price first.
    let desc = all_pages(&store, &IndexQuery::all("price_desc"), 64);
    let mut want_desc = filtered(&ps, |_| true);
    want_desc.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    assert_eq!(desc, want_desc);
}

#[test]
fn index_follows_define_replace_and_retire() {
    let store = hotel_store(&[10, 20, 30]);
    let q = IndexQuery::all("price");
    let ids = |store: &MemStore| all_pages(store, &q, 2);
    assert_eq!(ids(&store), vec![("room-00000".into(), 10), ("room-00001".into(), 20), ("room-00002".into(), 30)]);
    let mut a = Allot::new(&store);
    pollster::block_on(async {
        // Replace: room 0 becomes the most expensive.
        let attrs = vec![("hotel".into(), KeyValue::U32(0)), ("price".into(), KeyValue::U32(99))];
        let s = UnitSpec::new("room-00000", UnitKind::Exclusive, attrs).unwrap();
        a.replace_unit(&s, NOW).await.unwrap();
        // Retire room 1; define room 3.
        a.retire_unit(&UnitId::new("room-00001").unwrap(), NOW).await.unwrap();
        let s = UnitSpec::new("room-00003", UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(15))]).unwrap();
        a.define_units(&[s], NOW).await.unwrap();
        // A unit without a price is in no price index (sparse).
        let s = UnitSpec::new("no-price", UnitKind::Exclusive, vec![]).unwrap();
        a.define_units(&[s], NOW).await.unwrap();
    });
    assert_eq!(ids(&store), vec![("room-00003".into(), 15), ("room-00002".into(), 30), ("room-00000".into(), 99)]);
    // The composite index followed the replacement too (the old price 10
    // is gone from hotel 0).
    let hp = IndexQuery {
        index: "hotel_price".into(),
        lo: Bound::Included(vec![KeyValue::U32(0)]),
        hi: Bound::Included(vec![KeyValue::U32(0)]),
        reverse: false,
    };
    let hotel0 = all_pages(&store, &hp, 10);
    assert_eq!(hotel0, vec![("room-00000".into(), 99)]);
}

#[test]
fn an_index_defined_late_covers_existing_units() {
    let store = hotel_store(&[5, 6, 7]);
    let mut a = Allot::new(&store);
    let def = IndexDef::single("by_hotel", "hotel", KeyType::U64).unwrap();
    pollster::block_on(a.define_index(&def, NOW)).unwrap();
    let page = pollster::block_on(a.query(&IndexQuery::all("by_hotel"), 10, None)).unwrap();
    assert_eq!(page.units.len(), 3);
    // Defining the very same index again is a no-op, not an error.
    pollster::block_on(a.define_index(&def, NOW)).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn random_ranges_match_a_plain_comparison(
        ps in proptest::collection::vec(prop_oneof![any::<u32>(), 0u32..2000, Just(u32::MAX)], 1..120),
        lo in prop_oneof![any::<u32>(), 0u32..2000],
        span in prop_oneof![any::<u32>(), 0u32..2000],
        limit in 1u32..20,
        reverse in any::<bool>(),
    ) {
        let hi = lo.saturating_add(span);
        let store = hotel_store(&ps);
        let mut q = IndexQuery::half_open("price", KeyValue::U32(lo), KeyValue::U32(hi));
        q.reverse = reverse;
        let mut got = all_pages(&store, &q, limit);
        if reverse {
            got.reverse();
        }
        prop_assert_eq!(got, filtered(&ps, |p| lo <= p && p < hi));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    // The in-memory store keeps keys of up to 32 bytes inline and longer
    // ones behind a pointer: ids from 1 to 60 bytes put both kinds, in any
    // mix, in one index, and order must not depend on which kind a key is.
    #[test]
    fn ranges_over_ids_of_any_length_match_a_plain_comparison(
        units in proptest::collection::btree_map("[a-z0-9]{1,60}", 0u32..50, 1..80),
        lo in 0u32..50,
        span in 0u32..50,
        limit in 1u32..20,
        reverse in any::<bool>(),
    ) {
        let hi = lo.saturating_add(span);
        let store = MemStore::new();
        let mut a = Allot::new(&store);
        pollster::block_on(async {
            a.define_index(&IndexDef::single("price", "price", KeyType::U32).unwrap(), NOW).await.unwrap();
            let specs: Vec<UnitSpec> = units
                .iter()
                .map(|(id, p)| UnitSpec::new(id, UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(*p))]).unwrap())
                .collect();
            a.define_units(&specs, NOW).await.unwrap();
        });
        let mut q = IndexQuery::half_open("price", KeyValue::U32(lo), KeyValue::U32(hi));
        q.reverse = reverse;
        let mut got = all_pages(&store, &q, limit);
        if reverse {
            got.reverse();
        }
        let mut want: Vec<(String, u32)> =
            units.iter().filter(|(_, p)| lo <= **p && **p < hi).map(|(id, p)| (id.clone(), *p)).collect();
        want.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
        prop_assert_eq!(got, want);
    }
}

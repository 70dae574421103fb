//! The index mirror as an auto-assign batch uses it: a client that follows
//! the change feed answers a window it read before without reading it
//! again, and never from entries the feed says may have changed (a unit
//! defined, replaced or retired, an index backfilled).

use allot_core::*;

mod common;
use common::booked;

const NOW: u64 = 1_000;

fn price_index() -> IndexDef {
    IndexDef::single("price", "price", KeyType::U32).unwrap()
}

fn room(i: u32, price: u32) -> UnitSpec {
    UnitSpec::new(&format!("room-{i:03}"), UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(price))]).unwrap()
}

fn define(store: &MemStore, rooms: &[UnitSpec]) {
    let mut admin = Allot::new(store);
    pollster::block_on(admin.define_index(&price_index(), NOW)).unwrap();
    pollster::block_on(admin.define_units(rooms, NOW)).unwrap();
}

fn reqs(from: usize, n: usize, night: u32) -> Vec<BookAnyReq> {
    (from..from + n)
        .map(|i| BookAnyReq {
            booking: BookingId::new("guest", &format!("g{i}")).unwrap(),
            query: IndexQuery::all("price"),
            span: Span::Interval { start: u64::from(night) * 100, end: u64::from(night) * 100 + 10 },
            qty: 1,
            hold: None,
            pick: Pick::First,
        })
        .collect()
}

fn client(store: &MemStore) -> Allot<&MemStore> {
    Allot::with_config(store, Config { window_len: 8, ..Config::default() })
}

#[test]
fn a_window_read_once_is_answered_again_without_a_read() {
    let store = MemStore::with_feed();
    define(&store, &(0..20).map(|i| room(i, i)).collect::<Vec<_>>());
    let mut c = client(&store);
    let first = pollster::block_on(c.book_any_many(&reqs(0, 4, 1), NOW));
    assert_eq!(booked(&first).len(), 4, "{first:?}");
    let reads = c.stats().read_queries;
    // Other nights of the same rooms: the same windows.
    for night in 2..6 {
        let out = pollster::block_on(c.book_any_many(&reqs(night as usize * 10, 4, night), NOW));
        assert_eq!(booked(&out), booked(&first), "night {night}");
    }
    assert_eq!(c.stats().read_queries, reads, "no index query after the first batch");
    assert!(c.stats().window_hits >= 4, "{:?}", c.stats());

    // Without a feed there is nothing to keep the entries current by:
    // every batch reads.
    let plain = MemStore::new();
    define(&plain, &(0..20).map(|i| room(i, i)).collect::<Vec<_>>());
    let mut c = client(&plain);
    for night in 1..4 {
        pollster::block_on(c.book_any_many(&reqs(night as usize * 10, 4, night), NOW));
    }
    assert_eq!(c.stats().window_hits, 0);
    assert!(c.stats().read_queries >= 3, "{:?}", c.stats());
}

#[test]
fn a_unit_defined_elsewhere_is_offered_after_its_range_was_kept() {
    let store = MemStore::with_feed();
    define(&store, &[room(1, 10), room(2, 20)]);
    let mut c = client(&store);
    let out = pollster::block_on(c.book_any_many(&reqs(0, 3, 1), NOW));
    assert_eq!(booked(&out).len(), 2, "{out:?}");
    assert!(matches!(out[2], Ok(Outcome::SoldOut)), "{out:?}");
    // Another client adds a room inside the range the first one walked whole.
    pollster::block_on(Allot::new(&store).define_units(&[room(3, 15)], NOW)).unwrap();
    let out = pollster::block_on(c.book_any_many(&reqs(10, 1, 1), NOW));
    assert_eq!(booked(&out), ["room-003"], "{out:?}");
}

#[test]
fn a_unit_retired_or_moved_elsewhere_is_not_offered_from_kept_entries() {
    let store = MemStore::with_feed();
    define(&store, &[room(1, 10), room(2, 20), room(3, 30)]);
    let mut c = client(&store);
    let out = pollster::block_on(c.book_any_many(&reqs(0, 1, 1), NOW));
    assert_eq!(booked(&out), ["room-001"]);
    let mut admin = Allot::new(&store);
    pollster::block_on(admin.retire_unit(&UnitId::new("room-002").unwrap(), NOW)).unwrap();
    // room-003 moves out of the range asked below.
    pollster::block_on(admin.replace_unit(&room(3, 900), NOW)).unwrap();
    let cheap = |from| {
        reqs(from, 1, 1)
            .into_iter()
            .map(|r| BookAnyReq { query: IndexQuery::half_open("price", KeyValue::U32(0), KeyValue::U32(100)), ..r })
            .collect::<Vec<_>>()
    };
    let before = c.stats().conflicts;
    let out = pollster::block_on(c.book_any_many(&cheap(10), NOW));
    assert!(matches!(out[..], [Ok(Outcome::SoldOut)]), "{out:?}");
    assert_eq!(c.stats().conflicts, before, "dropped before deciding, not refused by the store");
}

#[test]
fn entries_kept_before_a_backfill_are_dropped_by_it() {
    let store = MemStore::with_feed();
    // Rooms defined before the index: only the backfill gives them entries.
    pollster::block_on(Allot::new(&store).define_units(&[room(1, 10), room(2, 20)], NOW)).unwrap();
    // The index is in the catalog, its backfill has not run yet (as if its
    // definer were still at it): the index is empty.
    let commit = store::Commit {
        writes: vec![store::StreamWrite {
            stream: StreamId::catalog(),
            expected: 0,
            events: vec![Event::IndexDefined { def: price_index(), at: NOW }],
        }],
        ..store::Commit::default()
    };
    assert_eq!(pollster::block_on(store::Store::commit(&&store, &commit)).unwrap(), store::CommitOutcome::Committed);
    let mut c = client(&store);
    let out = pollster::block_on(c.book_any_many(&reqs(0, 1, 1), NOW));
    assert!(matches!(out[..], [Ok(Outcome::SoldOut)]), "an empty index: {out:?}");
    // The backfill (defining the same index again runs it).
    pollster::block_on(Allot::new(&store).define_index(&price_index(), NOW)).unwrap();
    let out = pollster::block_on(c.book_any_many(&reqs(10, 2, 1), NOW));
    assert_eq!(booked(&out), ["room-001", "room-002"], "{out:?}");
}

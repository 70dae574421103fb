//! Spreading auto-assign on a store that keeps its untouched units apart
//! (`Store::read_untouched_window`, the in-memory store): the last free
//! units of a nearly sold-out range are found without reading the taken
//! ones (in a batch and one `book_any` at a time), and a unit that is free
//! again after a cancellation (not untouched)
//! is still found, never answered sold out.

use std::collections::BTreeSet;
use std::sync::Arc;

use allot_core::store::*;
use allot_core::*;

mod common;
use common::booked;

const NOW: u64 = 1_000;
const STAY: Span = Span::Interval { start: 100, end: 110 };

/// The in-memory store without its untouched units: every method but
/// `read_untouched_window` forwarded, which answers `None` by default.
struct Plain {
    inner: MemStore,
}

impl Store for Plain {
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        self.inner.read_streams(reqs).await
    }
    common::forward_store!();
}

fn rooms(n: u32) -> Vec<UnitSpec> {
    (0..n)
        .map(|i| {
            UnitSpec::new(&format!("room-{i:04}"), UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(i))])
                .unwrap()
        })
        .collect()
}

fn define<S: Store>(store: S, n: u32) {
    let mut admin = Allot::new(store);
    let def = IndexDef::single("price", "price", KeyType::U32).unwrap();
    pollster::block_on(admin.define_index(&def, NOW)).unwrap();
    pollster::block_on(admin.define_units(&rooms(n), NOW)).unwrap();
}

fn reqs(actor: &str, from: u32, n: u32) -> Vec<BookAnyReq> {
    (from..from + n)
        .map(|i| BookAnyReq {
            booking: BookingId::new(actor, &format!("r{i}")).unwrap(),
            query: IndexQuery::all("price"),
            span: STAY,
            qty: 1,
            hold: None,
            pick: Pick::Spread,
        })
        .collect()
}

fn client<S: Store>(store: S) -> Allot<S> {
    Allot::with_config(store, Config { window_len: 8, ..Config::default() })
}

/// 2000 rooms, 1990 booked by one client; a second one books the last 10
/// (in one batch, or with one `book_any` each) and then finds the range
/// sold out. Returns what the second one booked and its stats.
fn last_ten<S: Store + Copy>(store: S, one_by_one: bool) -> (BTreeSet<String>, Stats) {
    define(store, 2000);
    let mut first = client(store);
    let mut all = BTreeSet::new();
    for k in 0..199 {
        let out = pollster::block_on(first.book_any_many(&reqs("ann", k * 10, 10), NOW));
        let units = booked(&out);
        assert_eq!(units.len(), 10, "{out:?}");
        all.extend(units);
    }
    let mut second = client(store);
    let book = |c: &mut Allot<S>, from: u32, n: u32| {
        if one_by_one {
            reqs("bob", from, n).iter().map(|r| pollster::block_on(c.book_any(r, NOW))).collect::<Vec<_>>()
        } else {
            pollster::block_on(c.book_any_many(&reqs("bob", from, n), NOW))
        }
    };
    let out = book(&mut second, 0, 10);
    let last: BTreeSet<String> = booked(&out).into_iter().collect();
    assert_eq!(last.len(), 10, "the last ten rooms: {out:?}");
    assert!(last.is_disjoint(&all), "a room booked twice: {:?}", last.intersection(&all).collect::<Vec<_>>());
    let stats = second.stats();
    let out = book(&mut second, 10, 1);
    assert!(matches!(out[0], Ok(Outcome::SoldOut)), "{out:?}");
    (last, stats)
}

/// Runs [`last_ten`] on the in-memory store with and without its untouched
/// units, and checks that both found the same rooms, the first from far
/// fewer reads.
fn found_from_the_untouched_units(one_by_one: bool) {
    let kept = MemStore::new();
    let (found, with) = last_ten(&kept, one_by_one);
    let plain = Plain { inner: MemStore::new() };
    let (found_plain, without) = last_ten(&plain, one_by_one);
    // The same rooms were left (the first client's walk does not depend on
    // the store), and both found them all.
    assert_eq!(found, found_plain);
    assert!(with.untouched_reads >= 1, "{with:?}");
    assert_eq!(without.untouched_reads, 0, "{without:?}");
    // 1990 of 2000 taken, windows of 8: a walk that reads the taken rooms
    // needs tens of windows to find ten scattered free ones.
    assert!(with.read_queries * 4 <= without.read_queries, "reads with untouched units {with:?}, without {without:?}");
}

#[test]
fn the_last_free_units_are_found_without_reading_the_taken_ones() {
    found_from_the_untouched_units(false);
}

#[test]
fn one_at_a_time_too_the_last_free_units_are_found_without_reading_the_taken_ones() {
    found_from_the_untouched_units(true);
}

#[test]
fn a_room_free_again_after_a_cancellation_is_found_not_sold_out() {
    // In one batch, and with one `book_any` each.
    for one_by_one in [false, true] {
        let store = MemStore::new();
        define(&store, 50);
        let mut c = client(&store);
        let out = pollster::block_on(c.book_any_many(&reqs("ann", 0, 50), NOW));
        assert_eq!(booked(&out).len(), 50, "{out:?}");
        // No untouched room left; one is free again.
        let Ok(Outcome::Booked { booking, unit, .. }) = &out[17] else { panic!("{:?}", out[17]) };
        let cancel = ActReq { by: booking.actor.clone(), booking: booking.clone() };
        pollster::block_on(c.cancel(&cancel, NOW)).unwrap();
        let mut other = client(&store);
        let again = if one_by_one {
            reqs("bob", 0, 2).iter().map(|r| pollster::block_on(other.book_any(r, NOW))).collect()
        } else {
            pollster::block_on(other.book_any_many(&reqs("bob", 0, 2), NOW))
        };
        assert_eq!(booked(&again), vec![unit.as_str().to_string()], "one by one: {one_by_one}, {again:?}");
        assert!(matches!(again[1], Ok(Outcome::SoldOut)), "one by one: {one_by_one}, {again:?}");
    }
}

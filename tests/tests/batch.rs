//! Group commit at the booking level (`Allot::book_any_many`): batches of
//! auto-assign requests, alone and racing other batches on threads. And the
//! windows of the single auto-assign (`Allot::book_any`) they build on.

use std::sync::Barrier;

use allot_core::*;

const NOW: u64 = 1_797_984_000_000;
const STAY: Span = Span::Interval { start: 20_811, end: 20_814 };

fn rooms(store: &MemStore, n: u64) {
    let mut a = Allot::new(store);
    pollster::block_on(async {
        a.define_index(&IndexDef::single("price", "price", KeyType::U32).unwrap(), NOW).await.unwrap();
        let specs: Vec<UnitSpec> = (0..n)
            .map(|r| {
                let price = (r.wrapping_mul(2_654_435_761) % (1 << 32)) as u32;
                UnitSpec::new(
                    &format!("room-{r:05}"),
                    UnitKind::Exclusive,
                    vec![("price".into(), KeyValue::U32(price))],
                )
                .unwrap()
            })
            .collect();
        a.define_units(&specs, NOW).await.unwrap();
    });
}

fn session(actor: &str, pick: Pick) -> BookAnyReq {
    BookAnyReq {
        booking: BookingId::new(actor, "holiday").unwrap(),
        query: IndexQuery::closed("price", KeyValue::U32(0), KeyValue::U32(u32::MAX)),
        span: STAY,
        qty: 1,
        hold: None,
        pick,
    }
}

fn booked_units(outcomes: &[Result<Outcome, BookError>]) -> Vec<String> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            Ok(Outcome::Booked { unit, .. }) => Some(unit.as_str().to_string()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_batch_books_distinct_units_then_sells_out() {
    for pick in [Pick::First, Pick::Spread] {
        let store = MemStore::new();
        rooms(&store, 50);
        let reqs: Vec<BookAnyReq> = (0..70).map(|i| session(&format!("s{i}"), pick)).collect();
        let mut a = Allot::with_config(&store, Config { window_len: 8, ..Config::default() });
        let out = pollster::block_on(a.book_any_many(&reqs, NOW));
        assert_eq!(out.len(), 70);
        let units = booked_units(&out);
        let distinct: std::collections::BTreeSet<_> = units.iter().collect();
        assert_eq!((units.len(), distinct.len()), (50, 50), "{pick:?}");
        let sold_out = out.iter().filter(|o| matches!(o, Ok(Outcome::SoldOut))).count();
        assert_eq!(sold_out, 20, "{pick:?}");
        let acked: Vec<BookingId> = reqs
            .iter()
            .zip(&out)
            .filter(|(_, o)| matches!(o, Ok(Outcome::Booked { .. })))
            .map(|(r, _)| r.booking.clone())
            .collect();
        let report = pollster::block_on(verify(&store, NOW, &acked, &VerifyOptions::default())).unwrap();
        assert!(report.is_ok() && report.live_bookings == 50, "{pick:?}: {report:?}");
        // Best fit: the first 50 requests got the rooms in price order.
        if pick == Pick::First {
            let mut prices: Vec<u32> = Vec::new();
            for u in &units {
                let row = pollster::block_on(a.unit(&UnitId::new(u).unwrap())).unwrap();
                if let Some(KeyValue::U32(p)) = row.spec.attrs.get("price") {
                    prices.push(*p);
                }
            }
            assert!(prices.windows(2).all(|w| w[0] <= w[1]), "best fit in order: {prices:?}");
        }
    }
}

#[test]
fn a_spreading_batch_finds_the_last_free_rooms_in_a_range_others_took() {
    // Another client took every room but two short stretches (in price
    // order); this client never saw those bookings. Its spreading walk
    // leaps over the taken windows it lands in and probes where it lands
    // with small windows: it must still find every free room, and say
    // sold out only when none is left.
    let n = 2000u64;
    let price = |r: u64| (r.wrapping_mul(2_654_435_761) % (1 << 32)) as u32;
    let mut by_price: Vec<u64> = (0..n).collect();
    by_price.sort_by_key(|&r| price(r));
    let free: std::collections::BTreeSet<String> =
        by_price[300..306].iter().chain(&by_price[1500..1505]).map(|r| format!("room-{r:05}")).collect();
    for seed in 0..4 {
        let store = MemStore::new();
        rooms(&store, n);
        let mut other = Allot::new(&store);
        for r in 0..n {
            let unit = format!("room-{r:05}");
            if free.contains(&unit) {
                continue;
            }
            let req = BookReq {
                booking: BookingId::new(&format!("early-{r}"), "k").unwrap(),
                unit: UnitId::new(&unit).unwrap(),
                span: STAY,
                qty: 1,
                hold: None,
            };
            assert!(matches!(pollster::block_on(other.book(&req, NOW)), Ok(Outcome::Booked { .. })));
        }
        let reqs: Vec<BookAnyReq> = (0..20).map(|i| session(&format!("late-{seed}-{i}"), Pick::Spread)).collect();
        let mut late = Allot::with_config(&store, Config { window_len: 32, ..Config::default() });
        let out = pollster::block_on(late.book_any_many(&reqs, NOW));
        let got: std::collections::BTreeSet<String> = booked_units(&out).into_iter().collect();
        assert_eq!(got, free, "seed {seed}: every free room, and only those");
        let sold_out = out.iter().filter(|o| matches!(o, Ok(Outcome::SoldOut))).count();
        assert_eq!(sold_out, 20 - free.len(), "seed {seed}");
    }
}

#[test]
fn batches_racing_on_threads_never_double_book() {
    // Half the rounds with a change feed: the decision then rests on the
    // feed read by `decide_group` as well as on window reads.
    for round in 0..20 {
        let store = if round % 2 == 0 { MemStore::new() } else { MemStore::with_feed() };
        rooms(&store, 40);
        let barrier = Barrier::new(4);
        let results: Vec<Vec<(BookingId, Result<Outcome, BookError>)>> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..4)
                .map(|w| {
                    let (store, barrier) = (&store, &barrier);
                    s.spawn(move || {
                        let reqs: Vec<BookAnyReq> =
                            (0..15).map(|i| session(&format!("w{w}-s{i}"), Pick::Spread)).collect();
                        let mut a = Allot::with_config(store, Config { window_len: 8, ..Config::default() });
                        barrier.wait();
                        let out = pollster::block_on(a.book_any_many(&reqs, NOW));
                        reqs.into_iter().map(|r| r.booking).zip(out).collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let all: Vec<_> = results.into_iter().flatten().collect();
        let units = booked_units(&all.iter().map(|(_, o)| o.clone()).collect::<Vec<_>>());
        let distinct: std::collections::BTreeSet<_> = units.iter().collect();
        assert_eq!(units.len(), 40, "round {round}: 60 sessions for 40 rooms");
        assert_eq!(distinct.len(), 40, "round {round}: a room booked twice");
        assert_eq!(all.iter().filter(|(_, o)| matches!(o, Ok(Outcome::SoldOut))).count(), 20);
        let acked: Vec<BookingId> =
            all.iter().filter(|(_, o)| matches!(o, Ok(Outcome::Booked { .. }))).map(|(b, _)| b.clone()).collect();
        let report = pollster::block_on(verify(&store, NOW, &acked, &VerifyOptions::default())).unwrap();
        assert!(report.is_ok(), "round {round}: {:?}", report.violations);
        assert_eq!((report.live_bookings, report.actors_with_multiple_live), (40, 0));
    }
}

#[test]
fn requests_that_ask_the_same_with_another_pick_walk_apart() {
    // Same query, span and quantity (one fingerprint), picks alternating:
    // each best-fit request takes the cheapest room left, whatever the
    // spreading ones next to it in the batch take.
    let n = 50u64;
    let store = MemStore::new();
    rooms(&store, n);
    let picks = [Pick::Spread, Pick::First, Pick::Spread, Pick::First, Pick::First, Pick::Spread];
    let reqs: Vec<BookAnyReq> = picks.iter().enumerate().map(|(i, &p)| session(&format!("s{i}"), p)).collect();
    let mut a = Allot::new(&store);
    let out = pollster::block_on(a.book_any_many(&reqs, NOW));
    let unit_of = |o: &Result<Outcome, BookError>| match o {
        Ok(Outcome::Booked { unit, .. }) => unit.as_str().to_string(),
        other => panic!("{other:?}"),
    };
    let spread: std::collections::BTreeSet<String> =
        picks.iter().zip(&out).filter(|(p, _)| **p == Pick::Spread).map(|(_, o)| unit_of(o)).collect();
    let first: Vec<String> =
        picks.iter().zip(&out).filter(|(p, _)| **p == Pick::First).map(|(_, o)| unit_of(o)).collect();
    let price = |r: u64| (r.wrapping_mul(2_654_435_761) % (1 << 32)) as u32;
    let mut by_price: Vec<String> = (0..n)
        .map(|r| (price(r), format!("room-{r:05}")))
        .collect::<std::collections::BTreeMap<_, _>>()
        .into_values()
        .collect();
    by_price.retain(|u| !spread.contains(u));
    assert_eq!(first, by_price[..3], "spread took {spread:?}");
    assert!(spread.len() == 3 && spread.iter().all(|u| !first.contains(u)));
}

#[test]
fn replays_and_duplicates_in_a_batch_book_once() {
    let store = MemStore::new();
    rooms(&store, 10);
    let mut a = Allot::new(&store);
    let first = pollster::block_on(a.book_any_many(&[session("ann", Pick::First)], NOW));
    let Ok(Outcome::Booked { unit, .. }) = &first[0] else { panic!("{first:?}") };
    // The same request again, twice in one batch, next to a new one.
    let reqs = [session("ann", Pick::First), session("ann", Pick::First), session("bob", Pick::First)];
    let out = pollster::block_on(a.book_any_many(&reqs, NOW));
    for o in &out[..2] {
        assert!(matches!(o, Ok(Outcome::Booked { unit: u, replayed: true, .. }) if u == unit), "{o:?}");
    }
    assert!(matches!(&out[2], Ok(Outcome::Booked { unit: u, replayed: false, .. }) if u != unit), "{:?}", out[2]);
    // A new id twice in one batch: one booking, the second a replay.
    let twice = [session("cy", Pick::Spread), session("cy", Pick::Spread)];
    let out = pollster::block_on(a.book_any_many(&twice, NOW));
    assert!(matches!(&out[0], Ok(Outcome::Booked { replayed: false, .. })), "{out:?}");
    assert!(matches!(&out[1], Ok(Outcome::Booked { replayed: true, .. })), "{out:?}");
    // The same id with another payload in one batch is a mismatch.
    let mut other = session("dee", Pick::First);
    other.span = Span::Interval { start: 1, end: 2 };
    let out = pollster::block_on(a.book_any_many(&[session("dee", Pick::First), other], NOW));
    assert!(matches!(&out[0], Ok(Outcome::Booked { .. })));
    assert_eq!(out[1].as_ref().map_err(BookError::code).err(), Some("E_IDEMPOTENCY_MISMATCH"));
    let report = pollster::block_on(verify(&store, NOW, &[], &VerifyOptions::default())).unwrap();
    assert!(report.is_ok() && report.live_bookings == 4 && report.actors_with_multiple_live == 0, "{report:?}");
}

#[test]
fn bad_requests_in_a_batch_fail_alone() {
    let store = MemStore::new();
    rooms(&store, 5);
    let mut a = Allot::new(&store);
    let mut bad_qty = session("x", Pick::First);
    bad_qty.qty = 0;
    let mut bad_index = session("y", Pick::First);
    bad_index.query.index = "nope".into();
    let out = pollster::block_on(a.book_any_many(&[bad_qty, session("ok", Pick::First), bad_index], NOW));
    assert_eq!(out[0].as_ref().map_err(BookError::code).err(), Some("E_QTY_INVALID"));
    assert!(matches!(out[1], Ok(Outcome::Booked { .. })));
    assert_eq!(out[2].as_ref().map_err(BookError::code).err(), Some("E_UNKNOWN_INDEX"));
}

#[test]
fn a_batch_never_books_more_than_a_unit_holds() {
    // An exclusive room holds one booking of quantity 1. Found by the
    // simulation once it sent auto-assigns through the batch path: an
    // exclusive unit's decision does not look at the quantity, so the batch
    // must never offer one to a request for more.
    let store = MemStore::new();
    rooms(&store, 4);
    let mut a = Allot::new(&store);
    let ask = |actor: &str, qty: u32, pick: Pick| BookAnyReq { qty, ..session(actor, pick) };
    for pick in [Pick::First, Pick::Spread] {
        let reqs = [ask(&format!("two-{pick:?}"), 2, pick), ask(&format!("one-{pick:?}"), 1, pick)];
        let out = pollster::block_on(a.book_any_many(&reqs, NOW));
        assert!(matches!(out[0], Ok(Outcome::SoldOut)), "qty 2 fits no room: {out:?}");
        assert_eq!(booked_units(&out[1..]).len(), 1, "qty 1 fits a room: {out:?}");
    }
    let report = pollster::block_on(verify(&store, NOW, &[], &VerifyOptions::default())).unwrap();
    assert!(report.violations.is_empty(), "{:?}", report.violations);
    assert_eq!(report.live_bookings, 2);
}

/// The store, recording every index scan: the limit asked and the entries
/// it got.
struct Recording<'a> {
    inner: &'a MemStore,
    scans: std::cell::RefCell<Vec<(u32, usize)>>,
}

impl Store for Recording<'_> {
    async fn read_streams(&self, r: &[store::ReadReq]) -> Result<Vec<store::StreamSlice>, StoreError> {
        self.inner.read_streams(r).await
    }
    async fn commit(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        self.inner.commit(c).await
    }
    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        self.inner.get_claims(ids).await
    }
    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<std::sync::Arc<UnitRow>>>, StoreError> {
        self.inner.get_units(ids).await
    }
    async fn scan_index(&self, r: &store::KeyRange) -> Result<Vec<store::IndexEntry>, StoreError> {
        let got = self.inner.scan_index(r).await;
        if let Ok(entries) = &got {
            self.scans.borrow_mut().push((r.limit, entries.len()));
        }
        got
    }
    async fn scan_units(&self, r: &store::KeyRange) -> Result<Vec<std::sync::Arc<UnitRow>>, StoreError> {
        self.inner.scan_units(r).await
    }
    async fn scan_streams(&self, r: &store::KeyRange) -> Result<Vec<(StreamId, u64)>, StoreError> {
        self.inner.scan_streams(r).await
    }
    async fn scan_claims(&self, r: &store::KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        self.inner.scan_claims(r).await
    }
}

#[test]
fn a_single_auto_assign_starts_with_a_small_window_and_doubles_it_past_taken_units() {
    let store = MemStore::new();
    rooms(&store, 100);
    let by_price = || -> Vec<String> {
        let mut r: Vec<u64> = (0..100).collect();
        r.sort_by_key(|r| (r.wrapping_mul(2_654_435_761) % (1 << 32)) as u32);
        r.iter().map(|r| format!("room-{r:05}")).collect()
    };
    let booked = |o: &Outcome| match o {
        Outcome::Booked { unit, .. } => unit.as_str().to_string(),
        other => panic!("not booked: {other:?}"),
    };

    // On a free range, one window of WINDOW_LEN_FIRST: the first unit is free.
    let rec = Recording { inner: &store, scans: Default::default() };
    let first = pollster::block_on(Allot::new(&rec).book_any(&session("first", Pick::First), NOW)).unwrap();
    assert_eq!(booked(&first), by_price()[0]);
    assert_eq!(*rec.scans.borrow(), [(limits::WINDOW_LEN_FIRST, limits::WINDOW_LEN_FIRST as usize)]);

    // Another client takes the next 49 cheapest: the walk doubles its window
    // (4, 8, 16 taken whole, then 32) and books the cheapest free room.
    let mut other = Allot::new(&store);
    for i in 0..49 {
        let o = pollster::block_on(other.book_any(&session(&format!("o{i}"), Pick::First), NOW)).unwrap();
        assert_eq!(booked(&o), by_price()[i + 1]);
    }
    let rec = Recording { inner: &store, scans: Default::default() };
    let mut a = Allot::with_config(&rec, Config { window_len: 32, ..Config::default() });
    let o = pollster::block_on(a.book_any(&session("ada", Pick::First), NOW)).unwrap();
    assert_eq!(booked(&o), by_price()[50]);
    assert_eq!(*rec.scans.borrow(), [(4, 4), (8, 8), (16, 16), (32, 32)]);
}

#[test]
fn a_batch_reads_a_first_window_as_long_as_it_has_requests_and_doubles_it_past_taken_units() {
    let store = MemStore::new();
    rooms(&store, 100);
    let batch = |prefix: &str, n: usize| -> Vec<BookAnyReq> {
        (0..n).map(|i| session(&format!("{prefix}{i}"), Pick::First)).collect()
    };
    let config = Config { window_len: 32, ..Config::default() };
    let read = |reqs: &[BookAnyReq]| {
        let rec = Recording { inner: &store, scans: Default::default() };
        let out = pollster::block_on(Allot::with_config(&rec, config).book_any_many(reqs, NOW));
        assert_eq!(booked_units(&out).len(), reqs.len(), "{out:?}");
        rec.scans.into_inner()
    };
    // On a free range: six requests read six units, not the whole window.
    assert_eq!(read(&batch("a", 6)), [(6, 6)]);
    // Two requests read at least WINDOW_LEN_FIRST (4): those are taken, so
    // the next window is twice as long.
    assert_eq!(limits::WINDOW_LEN_FIRST, 4);
    assert_eq!(read(&batch("b", 2)), [(4, 4), (8, 8)]);
    // Six again: the cheapest eight are taken, so six, then twelve.
    assert_eq!(read(&batch("c", 6)), [(6, 6), (12, 12)]);
}

//! A sold-out answer from an earlier walk (`Store::vacancy_epoch`): once a
//! client found a range sold out, the same ask is answered with no walk,
//! and only while nothing can have given room back. Each test gives room
//! back one way and checks that the next ask takes it, through the single
//! auto-assign (`book_any`) and the batch (`book_any_many`) alike.

use allot_core::*;

const NOW: u64 = 1_797_984_000_000;
const STAY: Span = Span::Interval { start: 20_811, end: 20_814 };

fn define(a: &mut Allot<&MemStore>, ids: &[&str]) {
    define_priced(a, ids, 100);
}

fn define_priced(a: &mut Allot<&MemStore>, ids: &[&str], price: u32) {
    let specs: Vec<UnitSpec> = ids
        .iter()
        .map(|id| UnitSpec::new(id, UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(price))]).unwrap())
        .collect();
    pollster::block_on(a.define_units(&specs, NOW)).unwrap();
}

fn hotel(store: &MemStore, rooms: usize) {
    let mut a = Allot::new(store);
    pollster::block_on(a.define_index(&IndexDef::single("price", "price", KeyType::U32).unwrap(), NOW)).unwrap();
    let ids: Vec<String> = (0..rooms).map(|r| format!("room-{r}")).collect();
    define(&mut a, &ids.iter().map(String::as_str).collect::<Vec<_>>());
}

fn ask(actor: &str, hold_ms: Option<u64>) -> BookAnyReq {
    BookAnyReq {
        booking: BookingId::new(actor, "stay").unwrap(),
        query: IndexQuery::closed("price", KeyValue::U32(0), KeyValue::U32(1000)),
        span: STAY,
        qty: 1,
        hold: hold_ms.map(|ttl_ms| HoldReq { ttl_ms, ext_ref: None }),
        pick: Pick::First,
    }
}

/// One auto-assign, through `book_any` or as a batch of one.
fn book(a: &mut Allot<&MemStore>, req: &BookAnyReq, now: u64, batch: bool) -> Outcome {
    if batch {
        pollster::block_on(a.book_any_many(std::slice::from_ref(req), now)).pop().unwrap().unwrap()
    } else {
        pollster::block_on(a.book_any(req, now)).unwrap()
    }
}

/// Books every room of a 3-room hotel with `others` (holds of `hold_ms`
/// if given), then has `client` find it sold out twice: the second answer
/// must come from the first walk, with no index query.
fn sold_out_twice(
    store: &MemStore,
    others: &mut Allot<&MemStore>,
    client: &mut Allot<&MemStore>,
    hold_ms: Option<u64>,
    batch: bool,
) {
    for i in 0..3 {
        assert!(matches!(
            book(others, &ask(&format!("o{i}"), hold_ms), NOW, false),
            Outcome::Booked { .. } | Outcome::Held { .. }
        ));
    }
    let _ = store;
    assert_eq!(book(client, &ask("late-1", None), NOW, batch), Outcome::SoldOut);
    let walked = client.stats();
    assert_eq!(walked.sold_out_known, 0);
    assert_eq!(book(client, &ask("late-2", None), NOW, batch), Outcome::SoldOut);
    let known = client.stats();
    assert_eq!(known.sold_out_known, 1, "the second sold-out answer comes from the first walk");
    assert_eq!(known.read_queries, walked.read_queries, "and reads no index window");
}

#[test]
fn a_cancellation_ends_a_remembered_sold_out() {
    for batch in [false, true] {
        let store = MemStore::new();
        hotel(&store, 3);
        let (mut others, mut client) = (Allot::new(&store), Allot::new(&store));
        sold_out_twice(&store, &mut others, &mut client, None, batch);
        let o1 = BookingId::new("o1", "stay").unwrap();
        let by = Actor::new("o1").unwrap();
        pollster::block_on(others.cancel(&ActReq { by, booking: o1 }, NOW)).unwrap();
        match book(&mut client, &ask("late-3", None), NOW, batch) {
            Outcome::Booked { .. } => {}
            o => panic!("the cancelled room is free again (batch {batch}): {o:?}"),
        }
    }
}

#[test]
fn a_unit_defined_in_the_range_ends_a_remembered_sold_out() {
    for batch in [false, true] {
        let store = MemStore::new();
        hotel(&store, 3);
        let (mut others, mut client) = (Allot::new(&store), Allot::new(&store));
        sold_out_twice(&store, &mut others, &mut client, None, batch);
        define(&mut others, &["room-new"]);
        match book(&mut client, &ask("late-3", None), NOW, batch) {
            Outcome::Booked { unit, .. } => assert_eq!(unit.as_str(), "room-new"),
            o => panic!("the new room is free (batch {batch}): {o:?}"),
        }
    }
}

#[test]
fn an_expired_hold_ends_a_remembered_sold_out() {
    for batch in [false, true] {
        let store = MemStore::new();
        hotel(&store, 3);
        let (mut others, mut client) = (Allot::new(&store), Allot::new(&store));
        sold_out_twice(&store, &mut others, &mut client, Some(60_000), batch);
        // Still held a moment before the expiry: still sold out.
        assert_eq!(book(&mut client, &ask("late-3", None), NOW + 59_999, batch), Outcome::SoldOut);
        match book(&mut client, &ask("late-4", None), NOW + 60_000, batch) {
            Outcome::Booked { .. } => {}
            o => panic!("the holds expired (batch {batch}): {o:?}"),
        }
    }
}

#[test]
fn a_hold_expired_by_another_clients_clock_ends_a_remembered_sold_out() {
    // A tour with 2 seats, both held for a minute. The client's clock stays
    // before the expiry; another client, whose clock is past it, books a
    // seat: its `at` moves the stream's clock, so the other held seat is
    // free for everybody. That booking gives no room back by itself (the
    // vacancy epoch stays), but the store's `at_max` moves.
    for batch in [false, true] {
        let store = MemStore::new();
        let mut admin = Allot::new(&store);
        pollster::block_on(admin.define_index(&IndexDef::single("price", "price", KeyType::U32).unwrap(), NOW))
            .unwrap();
        let tour =
            UnitSpec::new("tour", UnitKind::Pool { capacity: 2 }, vec![("price".into(), KeyValue::U32(100))]).unwrap();
        pollster::block_on(admin.define_units(&[tour], NOW)).unwrap();
        let seat = |actor: &str, hold_ms: Option<u64>| BookAnyReq { span: Span::Whole, ..ask(actor, hold_ms) };
        let (mut others, mut client) = (Allot::new(&store), Allot::new(&store));
        for i in 0..2 {
            assert_eq!(book(&mut others, &seat(&format!("o{i}"), Some(60_000)), NOW, false).status(), "held");
        }
        assert_eq!(book(&mut client, &seat("late-1", None), NOW, batch), Outcome::SoldOut);
        assert_eq!(book(&mut client, &seat("late-2", None), NOW, batch), Outcome::SoldOut);
        assert_eq!(client.stats().sold_out_known, 1);
        let before = pollster::block_on(store.vacancy_epoch()).unwrap().unwrap();
        assert_eq!(book(&mut others, &seat("ahead", None), NOW + 60_000, false).status(), "booked");
        let after = pollster::block_on(store.vacancy_epoch()).unwrap().unwrap();
        assert_eq!(after.epoch, before.epoch, "a booking does not move the epoch");
        assert_eq!(after.at_max, NOW + 60_000);
        match book(&mut client, &seat("late-3", None), NOW, batch) {
            Outcome::Booked { .. } => {}
            o => panic!("a seat is free at the stream's time (batch {batch}): {o:?}"),
        }
        assert_eq!(client.stats().sold_out_known, 1);
    }
}

#[test]
fn bookings_elsewhere_keep_a_sold_out_remembered() {
    // In a rush, bookings go on in other ranges: none gives room back, so
    // the answer stays remembered.
    let store = MemStore::new();
    hotel(&store, 3);
    let (mut others, mut client) = (Allot::new(&store), Allot::new(&store));
    sold_out_twice(&store, &mut others, &mut client, None, false);
    define(&mut others, &["annex-1", "annex-2"]);
    let annex = |i: u32| BookReq {
        booking: BookingId::new("elsewhere", &format!("k{i}")).unwrap(),
        unit: UnitId::new("annex-1").unwrap(),
        span: Span::Interval { start: u64::from(i), end: u64::from(i) + 1 },
        qty: 1,
        hold: None,
    };
    let cheap =
        BookAnyReq { query: IndexQuery::closed("price", KeyValue::U32(0), KeyValue::U32(99)), ..ask("late-3", None) };
    // The ask is remembered for its own range only (here: price 0..=99,
    // which holds no room; the annex rooms cost 100).
    assert_eq!(book(&mut client, &cheap, NOW, false), Outcome::SoldOut);
    let walks = client.stats().read_queries;
    for i in 0..5 {
        assert_eq!(pollster::block_on(others.book(&annex(i), NOW)).unwrap().status(), "booked");
        assert_eq!(
            book(
                &mut client,
                &BookAnyReq { booking: BookingId::new(&format!("c{i}"), "x").unwrap(), ..cheap.clone() },
                NOW,
                false
            ),
            Outcome::SoldOut
        );
    }
    assert_eq!(client.stats().read_queries, walks, "bookings elsewhere did not make it walk again");
    assert_eq!(client.stats().sold_out_known, 6);
}

#[test]
fn a_request_booked_before_is_answered_from_its_claim_not_from_a_remembered_sold_out() {
    for batch in [false, true] {
        let store = MemStore::new();
        hotel(&store, 3);
        let (mut others, mut client) = (Allot::new(&store), Allot::new(&store));
        sold_out_twice(&store, &mut others, &mut client, None, batch);
        // "o0" booked a room before: its retry replays, from any client.
        match book(&mut client, &ask("o0", None), NOW, batch) {
            Outcome::Booked { replayed: true, .. } => {}
            o => panic!("a retry of a booked request (batch {batch}): {o:?}"),
        }
    }
}

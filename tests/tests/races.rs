//! Threaded races against one shared `MemStore`, one `Allot` per thread.
//!
//! Racers are released together by a `Barrier`. What a race decides (who
//! wins) is never asserted; what it must not change (how many win, that
//! nothing is booked twice, that every acknowledged booking is in the store)
//! is, and every round ends with `verify` recounting the store.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::Arc;
use std::sync::Barrier;

use allot_core::store::{IndexEntry, KeyRange, ReadReq, StreamSlice};
use allot_core::{
    ActReq, Actor, Allot, BookAnyReq, BookError, BookReq, BookingId, ClaimRecord, Commit, CommitOutcome, HoldReq,
    IndexDef, IndexField, IndexQuery, KeyType, KeyValue, MemStore, Order, Outcome, Pick, Span, Store, StoreError,
    StreamId, UnitId, UnitKind, UnitRow, UnitSpec, VerifyOptions, VerifyReport, verify,
};
use allot_tests::holiday::{self, HolidayParams};
use allot_tests::scenarios;
use pollster::block_on;

/// The caller's clock for every test here (allot reads none).
const NOW: u64 = 1_700_000_000_000;

fn bid(actor: &str, key: &str) -> BookingId {
    BookingId::new(actor, key).unwrap()
}

fn uid(id: &str) -> UnitId {
    UnitId::new(id).unwrap()
}

fn define(store: &MemStore, specs: &[UnitSpec]) {
    let n = block_on(Allot::new(store).define_units(specs, NOW)).unwrap();
    assert_eq!(n, specs.len());
}

fn define_one(store: &MemStore, id: &str, kind: UnitKind) -> UnitId {
    define(store, &[UnitSpec::new(id, kind, vec![]).unwrap()]);
    uid(id)
}

fn req(booking: BookingId, unit: &UnitId, span: Span) -> BookReq {
    BookReq { booking, unit: unit.clone(), span, qty: 1, hold: None }
}

/// Verifies the store at `now` and fails on any violation.
fn verify_clean(store: &MemStore, now: u64, acknowledged: &[BookingId]) -> VerifyReport {
    let report = block_on(verify(store, now, acknowledged, &VerifyOptions::default())).unwrap();
    assert!(report.is_ok(), "verify found violations: {:#?}", report.violations);
    report
}

/// Runs `f(i)` on `n` threads released together; results in thread order.
fn race<T: Send>(n: usize, f: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let barrier = Barrier::new(n);
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let (barrier, f) = (&barrier, &f);
                s.spawn(move || {
                    barrier.wait();
                    f(i)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().expect("racer panicked")).collect()
    })
}

/// `o` as a replay of it reports it.
fn as_replay(o: &Outcome) -> Outcome {
    let mut o = o.clone();
    if let Outcome::Booked { replayed, .. } | Outcome::Held { replayed, .. } = &mut o {
        *replayed = true;
    }
    o
}

/// The bookings acknowledged as new (booked or held, not a replay).
fn acknowledged(outcomes: &[Outcome]) -> Vec<BookingId> {
    outcomes
        .iter()
        .filter_map(|o| match o {
            Outcome::Booked { booking, replayed: false, .. } | Outcome::Held { booking, replayed: false, .. } => {
                Some(booking.clone())
            }
            _ => None,
        })
        .collect()
}

/// The spans of the live entries of a unit's main stream, by booking.
fn live_spans(store: &MemStore, unit: &UnitId, now: u64) -> BTreeMap<BookingId, Span> {
    let views = block_on(Allot::new(store).roster(unit, None, now)).unwrap();
    assert_eq!(views.len(), 1, "one main stream");
    views[0]
        .entries
        .iter()
        .filter(|e| matches!(e.state, "held" | "confirmed"))
        .map(|e| (e.booking.clone(), e.span))
        .collect()
}

fn assert_pairwise_disjoint(spans: &BTreeMap<BookingId, Span>) {
    let all: Vec<_> = spans.iter().collect();
    for (i, (a, sa)) in all.iter().enumerate() {
        for (b, sb) in &all[i + 1..] {
            assert!(!sa.overlaps(sb), "{a} {sa:?} and {b} {sb:?} are both live and overlap");
        }
    }
}

// ---------------------------------------------------------------- last seat

/// `n` bookers race for a pool of `capacity`, each asking for one place.
fn last_seats_round(capacity: u32, n: usize) -> (Vec<Outcome>, VerifyReport) {
    let store = MemStore::new();
    let tour = define_one(&store, "tour", UnitKind::Pool { capacity });
    let outcomes = race(n, |i| {
        let mut allot = Allot::new(&store);
        block_on(allot.book(&req(bid(&format!("booker-{i}"), "seat"), &tour, Span::Whole), NOW)).unwrap()
    });
    let report = verify_clean(&store, NOW, &acknowledged(&outcomes));
    (outcomes, report)
}

#[test]
fn last_seat_two_bookers_exactly_one_is_booked() {
    for round in 0..200 {
        let (outcomes, report) = last_seats_round(1, 2);
        let booked = outcomes.iter().filter(|o| matches!(o, Outcome::Booked { replayed: false, .. })).count();
        let full = outcomes.iter().filter(|o| matches!(o, Outcome::Full { available: 0, .. })).count();
        assert_eq!((booked, full), (1, 1), "round {round}: {outcomes:?}");
        assert_eq!(report.live_bookings, 1, "round {round}");
        assert_eq!(report.claims, 1, "round {round}: a full booking leaves no claim");
    }
}

#[test]
fn last_three_seats_eight_bookers_exactly_three_are_booked() {
    for round in 0..50 {
        let (outcomes, report) = last_seats_round(3, 8);
        let seats: BTreeSet<u32> = outcomes
            .iter()
            .filter_map(|o| match o {
                Outcome::Booked { seat, replayed: false, .. } => Some(*seat),
                _ => None,
            })
            .collect();
        let full = outcomes.iter().filter(|o| matches!(o, Outcome::Full { available: 0, .. })).count();
        assert_eq!(full, 5, "round {round}: {outcomes:?}");
        // Each winner was told a different seat of the three.
        assert_eq!(seats, BTreeSet::from([1, 2, 3]), "round {round}: {outcomes:?}");
        assert_eq!(report.live_bookings, 3, "round {round}");
    }
}

// ---------------------------------------------------------------- last room / holiday

#[test]
fn last_room_fifty_sessions_one_booking() {
    let p = HolidayParams { hotels: 1, rooms_per_hotel: 1, sessions: 50, workers: 50, ..HolidayParams::default() };
    let r = holiday::run_memory(&p, &|_, _| {}).unwrap();
    assert_eq!(r.eligible, 1);
    assert_eq!(r.booked, 1, "{r}");
    assert_eq!(r.verified_booked, 1, "{r}");
    assert_eq!(r.double_booked, 0, "{r}");
    assert_eq!(r.sold_out, 49, "{r}");
    r.check().unwrap();
}

#[test]
fn scenarios_last_room_and_last_seat_check() {
    let room = scenarios::last_room(50, 50).unwrap();
    room.check().unwrap();
    assert_eq!((room.booked, room.verified_booked, room.sold_out), (1, 1, 49), "{room}");
    for _ in 0..20 {
        let seat = scenarios::last_seat().unwrap();
        seat.check().unwrap();
        assert_eq!((seat.booked, seat.full, seat.verified_booked), (1, 1, 1), "{seat}");
    }
}

#[test]
fn holiday_thousand_rooms_thousand_sessions_all_booked() {
    let p = HolidayParams { hotels: 20, rooms_per_hotel: 50, sessions: 1000, workers: 16, ..HolidayParams::default() };
    let r = holiday::run_memory(&p, &|_, _| {}).unwrap();
    r.check().unwrap();
    assert_eq!((r.rooms, r.eligible), (1000, 1000));
    assert_eq!(r.booked, 1000, "{r}");
    assert_eq!(r.verified_booked, 1000, "{r}");
    assert_eq!(r.sold_out, 0, "{r}");
    assert_eq!(r.double_booked, 0, "{r}");
}

#[test]
fn holiday_price_range_books_exactly_the_eligible_rooms() {
    let p = HolidayParams {
        hotels: 20,
        rooms_per_hotel: 50,
        sessions: 400,
        workers: 16,
        price_max: 999_999_999,
        ..HolidayParams::default()
    };
    // The count by a plain filter, and the price formula written out again
    // from its documentation (so a wrong `price` cannot agree with itself).
    let in_range: BTreeSet<u64> = (0..p.rooms()).filter(|&r| holiday::price(r) <= p.price_max).collect();
    for r in 0..p.rooms() {
        assert_eq!(u64::from(holiday::price(r)), (r * 2_654_435_761) % (1 << 32), "price of room {r}");
    }
    let eligible = in_range.len() as u64;
    assert!(0 < eligible && eligible < p.sessions, "the range must select a proper subset: {eligible}");

    let store = MemStore::new();
    holiday::setup(&store, &p).unwrap();
    let r = holiday::race(&store, &p, &|_, _| {});
    r.check().unwrap();
    assert_eq!(r.eligible, eligible, "{r}");
    assert_eq!(r.booked, eligible, "{r}");
    assert_eq!(r.verified_booked, eligible, "{r}");
    assert_eq!(r.sold_out, p.sessions - eligible, "{r}");

    // The booked rooms are exactly the rooms in the price range.
    let report = block_on(verify(&store, holiday::NOW_MS, &[], &VerifyOptions { rosters: true })).unwrap();
    assert!(report.is_ok(), "{:#?}", report.violations);
    let booked_rooms: BTreeSet<u64> = report
        .rosters
        .iter()
        .filter(|v| v.used > 0)
        .map(|v| {
            assert_eq!(v.used, 1, "{} holds {} bookings", v.stream, v.used);
            v.stream.unit_str().trim_start_matches("room-").parse::<u64>().unwrap()
        })
        .collect();
    assert_eq!(booked_rooms, in_range);
}

// ---------------------------------------------------------------- multi-day stays

#[test]
fn three_night_stay_races_single_nights() {
    let nights = [10u32, 11, 12];
    for round in 0..150 {
        let store = MemStore::new();
        let rt = define_one(&store, "double-room", UnitKind::Allotment { capacity: 1 });
        let outcomes = race(4, |i| {
            let (who, span) = match i {
                0 => ("stay", Span::Days { from: 10, to: 13 }),
                n => ("night", Span::Days { from: nights[n - 1], to: nights[n - 1] + 1 }),
            };
            let mut allot = Allot::new(&store);
            block_on(allot.book(&req(bid(&format!("{who}-{i}"), "r"), &rt, span), NOW)).unwrap()
        });
        let booked = |o: &Outcome| matches!(o, Outcome::Booked { replayed: false, .. });
        let full = |o: &Outcome| matches!(o, Outcome::Full { available: 0, .. });
        let stay = &outcomes[0];
        let singles = &outcomes[1..];
        if booked(stay) {
            assert!(singles.iter().all(full), "round {round}: the stay and a night were both booked: {outcomes:?}");
        } else {
            assert!(full(stay), "round {round}: {outcomes:?}");
            // The stay lost, so nothing stands between the single nights
            // and their (pairwise distinct) days.
            assert!(singles.iter().all(booked), "round {round}: {outcomes:?}");
        }
        let report = verify_clean(&store, NOW, &acknowledged(&outcomes));
        let want = if booked(stay) { 1 } else { 3 };
        assert_eq!(report.live_bookings, want, "round {round}");
        // Every night is taken exactly once either way.
        let views = block_on(Allot::new(&store).roster(&rt, Some((10, 13)), NOW)).unwrap();
        assert!(views.iter().all(|v| v.used == 1), "round {round}: {views:?}");
    }
}

#[test]
fn stays_and_single_nights_capacity_two() {
    // Two 3-night stays and one single per night: every night is wanted 3
    // times with 2 places. Who wins is the race's; that no night is
    // oversold, and that every refusal is explained by a full night, is not.
    let spans = [
        Span::Days { from: 10, to: 13 },
        Span::Days { from: 10, to: 13 },
        Span::Days { from: 10, to: 11 },
        Span::Days { from: 11, to: 12 },
        Span::Days { from: 12, to: 13 },
    ];
    for round in 0..100 {
        let store = MemStore::new();
        let rt = define_one(&store, "twin-room", UnitKind::Allotment { capacity: 2 });
        let outcomes = race(spans.len(), |i| {
            let mut allot = Allot::new(&store);
            block_on(allot.book(&req(bid(&format!("guest-{i}"), "r"), &rt, spans[i]), NOW)).unwrap()
        });
        verify_clean(&store, NOW, &acknowledged(&outcomes));
        let mut used = BTreeMap::<u32, u32>::new();
        for (o, span) in outcomes.iter().zip(&spans) {
            if let Outcome::Booked { span: got, .. } = o {
                assert_eq!(got, span);
                let Span::Days { from, to } = *span else { unreachable!() };
                for d in from..to {
                    *used.entry(d).or_default() += 1;
                }
            }
        }
        assert!(used.values().all(|&n| n <= 2), "round {round}: oversold {used:?}: {outcomes:?}");
        let views = block_on(Allot::new(&store).roster(&rt, Some((10, 13)), NOW)).unwrap();
        for v in &views {
            let allot_core::Part::Day(d) = v.stream.part else { unreachable!() };
            assert_eq!(v.used, u64::from(used.get(&d).copied().unwrap_or(0)), "round {round}: day {d}");
        }
        for (o, span) in outcomes.iter().zip(&spans) {
            if matches!(o, Outcome::Full { .. }) {
                // Nothing is ever cancelled here, so a refusal must still be
                // explained by a night of the span at capacity.
                let Span::Days { from, to } = *span else { unreachable!() };
                assert!((from..to).any(|d| used.get(&d) == Some(&2)), "round {round}: {span:?} refused: {used:?}");
            } else {
                assert!(matches!(o, Outcome::Booked { .. }), "round {round}: {o:?}");
            }
        }
    }
}

// ---------------------------------------------------------------- idempotency

#[test]
fn same_book_request_from_eight_threads_books_once() {
    for round in 0..50 {
        let store = MemStore::new();
        let tour = define_one(&store, "tour", UnitKind::Pool { capacity: 10 });
        let same = BookReq { qty: 2, ..req(bid("ada", "checkout-1"), &tour, Span::Whole) };
        let outcomes = race(8, |_| block_on(Allot::new(&store).book(&same, NOW)).unwrap());
        let mut writers = 0;
        for o in &outcomes {
            let Outcome::Booked { booking, unit, span, qty, replayed, .. } = o else {
                panic!("round {round}: every thread must be told it is booked: {outcomes:?}")
            };
            assert_eq!((booking, unit, span, *qty), (&same.booking, &tour, &Span::Whole, 2), "round {round}");
            writers += usize::from(!replayed);
        }
        assert_eq!(writers, 1, "round {round}: exactly one thread wrote it: {outcomes:?}");
        let report = verify_clean(&store, NOW, std::slice::from_ref(&same.booking));
        assert_eq!((report.live_bookings, report.claims), (1, 1), "round {round}");
        let views = block_on(Allot::new(&store).roster(&tour, None, NOW)).unwrap();
        assert_eq!(views[0].entries.len(), 1, "round {round}: {views:?}");
        assert_eq!(views[0].used, 2, "round {round}");
    }
}

fn tables_index() -> IndexDef {
    IndexDef::new(
        "zone_seats",
        vec![
            IndexField { attr: "zone".into(), ty: KeyType::Str, order: Order::Asc },
            IndexField { attr: "seats".into(), ty: KeyType::U8, order: Order::Asc },
        ],
    )
    .unwrap()
}

fn table(id: &str, zone: &str, seats: u8) -> UnitSpec {
    let attrs = vec![("zone".into(), KeyValue::Str(zone.into())), ("seats".into(), KeyValue::U8(seats))];
    UnitSpec::new(id, UnitKind::Exclusive, attrs).unwrap()
}

/// Tables of `zone` seating at least `party`, smallest first.
fn party_query(zone: &str, party: u8) -> IndexQuery {
    IndexQuery {
        index: "zone_seats".into(),
        lo: Bound::Included(vec![KeyValue::Str(zone.into()), KeyValue::U8(party)]),
        hi: Bound::Included(vec![KeyValue::Str(zone.into())]),
        reverse: false,
    }
}

#[test]
fn same_book_any_request_from_eight_threads_books_once() {
    for (round, pick) in (0..40).zip([Pick::First, Pick::Spread].into_iter().cycle()) {
        let store = MemStore::new();
        let mut admin = Allot::new(&store);
        block_on(admin.define_index(&tables_index(), NOW)).unwrap();
        let tables: Vec<UnitSpec> = (0..40).map(|i| table(&format!("t{i:02}"), "hall", 4)).collect();
        define(&store, &tables);
        let same = BookAnyReq {
            booking: bid("ada", "dinner"),
            query: party_query("hall", 2),
            span: Span::Interval { start: 1900, end: 2100 },
            qty: 1,
            hold: None,
            pick,
        };
        let outcomes = race(8, |_| block_on(Allot::new(&store).book_any(&same, NOW)).unwrap());
        let units: BTreeSet<&UnitId> = outcomes.iter().map(|o| o.unit().expect("booked")).collect();
        assert_eq!(units.len(), 1, "round {round}: the replays name different tables: {outcomes:?}");
        let writers = outcomes.iter().filter(|o| matches!(o, Outcome::Booked { replayed: false, .. })).count();
        assert_eq!(writers, 1, "round {round}: {outcomes:?}");
        let report = verify_clean(&store, NOW, std::slice::from_ref(&same.booking));
        assert_eq!((report.live_bookings, report.claims, report.units_with_live), (1, 1, 1), "round {round}");
    }
}

#[test]
fn request_key_reused_for_a_different_request_is_rejected() {
    let store = MemStore::new();
    let tour = define_one(&store, "tour", UnitKind::Pool { capacity: 10 });
    let other = define_one(&store, "tour-2", UnitKind::Pool { capacity: 10 });
    let mut allot = Allot::new(&store);
    let first = req(bid("ada", "k"), &tour, Span::Whole);
    let o = block_on(allot.book(&first, NOW)).unwrap();
    assert!(matches!(o, Outcome::Booked { replayed: false, .. }), "{o:?}");
    let variants = [
        BookReq { qty: 2, ..first.clone() },
        BookReq { unit: other.clone(), ..first.clone() },
        BookReq { hold: Some(HoldReq { ttl_ms: 60_000, ext_ref: None }), ..first.clone() },
    ];
    for v in &variants {
        let e = block_on(allot.book(v, NOW)).unwrap_err();
        assert_eq!(e.code(), "E_IDEMPOTENCY_MISMATCH", "{v:?}: {e}");
    }
    // The same payload is still a replay of the first outcome.
    let again = block_on(Allot::new(&store).book(&first, NOW + 5)).unwrap();
    assert_eq!(again, as_replay(&o));
    // Racing mismatched payloads, and the first one again, adds nothing.
    let outcomes = race(6, |i| block_on(Allot::new(&store).book(&variants[i % 3], NOW)));
    assert!(outcomes.iter().all(|r| r.as_ref().is_err_and(|e| e.code() == "E_IDEMPOTENCY_MISMATCH")), "{outcomes:?}");
    let report = verify_clean(&store, NOW, std::slice::from_ref(&first.booking));
    assert_eq!((report.live_bookings, report.claims), (1, 1));
}

/// Runs `hook` once, right after the first claim lookup has read the store:
/// a deterministic stand-in for a racer whose claim lookup came just before
/// another racer's commit. Every call goes to the real store.
struct AfterFirstClaimRead<'a> {
    inner: &'a MemStore,
    hook: std::cell::RefCell<Option<Box<dyn FnOnce() + 'a>>>,
}

impl Store for AfterFirstClaimRead<'_> {
    async fn read_streams(&self, r: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        self.inner.read_streams(r).await
    }
    async fn commit(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        self.inner.commit(c).await
    }
    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        let claims = self.inner.get_claims(ids).await;
        let hook = self.hook.borrow_mut().take();
        if let Some(hook) = hook {
            hook();
        }
        claims
    }
    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        self.inner.get_units(ids).await
    }
    async fn scan_index(&self, r: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        self.inner.scan_index(r).await
    }
    async fn scan_units(&self, r: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        self.inner.scan_units(r).await
    }
    async fn scan_streams(&self, r: &KeyRange) -> Result<Vec<(StreamId, u64)>, StoreError> {
        self.inner.scan_streams(r).await
    }
    async fn scan_claims(&self, r: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        self.inner.scan_claims(r).await
    }
}

#[test]
fn replay_that_meets_the_booking_in_the_roster_keeps_first_outcome() {
    let store = MemStore::new();
    let tour = define_one(&store, "tour", UnitKind::Pool { capacity: 10 });
    for k in 0..3 {
        block_on(Allot::new(&store).book(&req(bid("other", &format!("{k}")), &tour, Span::Whole), NOW)).unwrap();
    }
    let first = BookReq { qty: 2, ..req(bid("ada", "k"), &tour, Span::Whole) };
    let first_outcome = std::cell::RefCell::new(None);
    let racer = AfterFirstClaimRead {
        inner: &store,
        hook: std::cell::RefCell::new(Some(Box::new(|| {
            *first_outcome.borrow_mut() = Some(block_on(Allot::new(&store).book(&first, NOW)).unwrap());
        }))),
    };
    // The same request: its replay must be the first outcome (seat 4).
    let replay = block_on(Allot::new(&racer).book(&first, NOW)).unwrap();
    let first_outcome = first_outcome.take().unwrap();
    assert!(matches!(first_outcome, Outcome::Booked { seat: 4, replayed: false, .. }), "{first_outcome:?}");
    assert_eq!(replay, as_replay(&first_outcome));

    // The same key for a different request must be E_IDEMPOTENCY_MISMATCH,
    // as it is when the claim lookup sees the claim.
    let store = MemStore::new();
    assert_eq!(define_one(&store, "tour", UnitKind::Pool { capacity: 10 }), first.unit);
    let racer = AfterFirstClaimRead {
        inner: &store,
        hook: std::cell::RefCell::new(Some(Box::new(|| {
            block_on(Allot::new(&store).book(&first, NOW)).unwrap();
        }))),
    };
    let different = BookReq { qty: 1, ..first.clone() };
    let got = block_on(Allot::new(&racer).book(&different, NOW));
    assert_eq!(got.map_err(|e| e.code()), Err("E_IDEMPOTENCY_MISMATCH"));
}

#[test]
fn racing_replays_of_one_request_all_report_its_first_outcome() {
    for round in 0..300 {
        let store = MemStore::new();
        let tour = define_one(&store, "tour", UnitKind::Pool { capacity: 100 });
        for k in 0..3 {
            block_on(Allot::new(&store).book(&req(bid("other", &format!("{k}")), &tour, Span::Whole), NOW)).unwrap();
        }
        let outcomes = race(8, |i| {
            // Half the racers send the request, half reuse its key for another.
            let r = BookReq { qty: 1 + (i % 2) as u32, ..req(bid("ada", "k"), &tour, Span::Whole) };
            block_on(Allot::new(&store).book(&r, NOW))
        });
        let winner = outcomes
            .iter()
            .find_map(|o| match o {
                Ok(o @ Outcome::Booked { replayed: false, .. }) => Some(o.clone()),
                _ => None,
            })
            .unwrap();
        let Outcome::Booked { qty, .. } = winner else { unreachable!() };
        for (i, o) in outcomes.iter().enumerate() {
            if 1 + (i % 2) as u32 == qty {
                let o = o.as_ref().unwrap();
                assert!(o == &winner || *o == as_replay(&winner), "round {round}: {o:?} vs {winner:?}");
            } else {
                assert_eq!(o.as_ref().map_err(BookError::code), Err("E_IDEMPOTENCY_MISMATCH"), "round {round}");
            }
        }
    }
}

// ---------------------------------------------------------------- holds

fn hold_req(booking: BookingId, unit: &UnitId, span: Span, ttl_ms: u64, ext_ref: Option<&str>) -> BookReq {
    BookReq { hold: Some(HoldReq { ttl_ms, ext_ref: ext_ref.map(String::from) }), ..req(booking, unit, span) }
}

fn act(actor: &str, booking: &BookingId) -> ActReq {
    ActReq { by: Actor::new(actor).unwrap(), booking: booking.clone() }
}

#[test]
fn hold_expiry_frees_the_slot() {
    let store = MemStore::new();
    let table = define_one(&store, "table-1", UnitKind::Exclusive);
    let dinner = Span::Interval { start: 1900, end: 2100 };
    let t = NOW;
    let mut ada = Allot::new(&store);
    let mut bob = Allot::new(&store);
    let hold = hold_req(bid("ada", "h"), &table, dinner, 1000, Some("pay-1"));
    let held = block_on(ada.book(&hold, t)).unwrap();
    assert!(matches!(held, Outcome::Held { expires_at, replayed: false, .. } if expires_at == t + 1000), "{held:?}");
    // A hold without an external reference, elsewhere: never reconciled.
    let quiet = hold_req(bid("ada", "q"), &table, Span::Interval { start: 0, end: 10 }, 1000, None);
    block_on(ada.book(&quiet, t)).unwrap();

    let o = block_on(bob.book(&req(bid("bob", "a"), &table, dinner), t + 999)).unwrap();
    assert_eq!(o, Outcome::Overlap { unit: table.clone(), with: dinner });
    assert_eq!(block_on(bob.reconcile(t + 999)).unwrap(), vec![], "nothing has lapsed yet");
    let o = block_on(bob.book(&req(bid("bob", "b"), &table, dinner), t + 1000)).unwrap();
    assert!(matches!(o, Outcome::Booked { replayed: false, .. }), "expires_at is exclusive: {o:?}");

    // The owner's clock runs behind: the stream has seen t + 1000 already.
    let e = block_on(ada.confirm(&act("ada", &hold.booking), t + 10)).unwrap_err();
    assert_eq!(e.code(), "E_HOLD_EXPIRED", "{e}");
    // Only the hold with an external reference is listed, whatever the
    // reconciler's clock says.
    for now in [t + 10, t + 5000] {
        let items = block_on(Allot::new(&store).reconcile(now)).unwrap();
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!((&items[0].booking, items[0].ext_ref.as_str()), (&hold.booking, "pay-1"));
        assert_eq!((items[0].expires_at, items[0].span, &items[0].unit), (t + 1000, dinner, &table));
    }
    let report = verify_clean(&store, t + 10, &[hold.booking.clone(), bid("bob", "b")]);
    assert_eq!((report.live_bookings, report.confirmed), (1, 1));
}

#[test]
fn hold_expiry_across_threads() {
    for round in 0..50 {
        let store = MemStore::new();
        let table = define_one(&store, "table-1", UnitKind::Exclusive);
        let dinner = Span::Interval { start: 1900, end: 2100 };
        let t = NOW;
        let hold = hold_req(bid("ada", "h"), &table, dinner, 1000, Some("pay-1"));
        let held = Barrier::new(2);
        let booked = Barrier::new(2);
        let (confirm, book) = std::thread::scope(|s| {
            let holder = s.spawn(|| {
                let mut ada = Allot::new(&store);
                let o = block_on(ada.book(&hold, t)).unwrap();
                assert!(matches!(o, Outcome::Held { .. }), "{o:?}");
                held.wait();
                booked.wait();
                block_on(ada.confirm(&act("ada", &hold.booking), t + 10))
            });
            let booker = s.spawn(|| {
                let mut bob = Allot::new(&store);
                held.wait();
                let o = block_on(bob.book(&req(bid("bob", "b"), &table, dinner), t + 1000)).unwrap();
                booked.wait();
                o
            });
            (holder.join().unwrap(), booker.join().unwrap())
        });
        assert!(matches!(book, Outcome::Booked { replayed: false, .. }), "round {round}: {book:?}");
        assert_eq!(confirm.map_err(|e| e.code()), Err("E_HOLD_EXPIRED"), "round {round}");
        let items = block_on(Allot::new(&store).reconcile(t)).unwrap();
        assert_eq!(items.iter().map(|i| &i.booking).collect::<Vec<_>>(), vec![&hold.booking], "round {round}");
        verify_clean(&store, t, &[hold.booking.clone(), bid("bob", "b")]);
    }
}

#[test]
fn confirm_racing_a_booking_at_expiry_never_both_win() {
    let (mut confirmed, mut rebooked) = (0, 0);
    for round in 0..150 {
        let store = MemStore::new();
        let table = define_one(&store, "table-1", UnitKind::Exclusive);
        let dinner = Span::Interval { start: 1900, end: 2100 };
        let t = NOW;
        let hold = hold_req(bid("ada", "h"), &table, dinner, 1000, None);
        block_on(Allot::new(&store).book(&hold, t)).unwrap();
        // The owner confirms while its clock says the hold is live; another
        // client books the moment the hold lapses on its clock.
        let results = race(2, |i| match i {
            0 => block_on(Allot::new(&store).confirm(&act("ada", &hold.booking), t + 999)).map_err(|e| e.code()),
            _ => Ok(block_on(Allot::new(&store).book(&req(bid("bob", "b"), &table, dinner), t + 1000)).unwrap()),
        });
        match (&results[0], &results[1]) {
            (Ok(Outcome::Confirmed { already: false, .. }), Ok(Outcome::Overlap { with, .. })) => {
                assert_eq!(*with, dinner);
                confirmed += 1;
            }
            (Err("E_HOLD_EXPIRED"), Ok(Outcome::Booked { replayed: false, .. })) => rebooked += 1,
            other => panic!("round {round}: {other:?}"),
        }
        let report = verify_clean(&store, t + 1000, &[]);
        assert_eq!((report.live_bookings, report.confirmed), (1, 1), "round {round}");
    }
    assert_eq!(confirmed + rebooked, 150);
}

// ---------------------------------------------------------------- intervals

#[test]
fn overlapping_intervals_are_never_both_live() {
    let iv = |start, end| Span::Interval { start, end };
    // A cluster that overlaps pairwise except [0,10) / [10,20), and two
    // intervals that only touch the others.
    let wanted = [iv(0, 10), iv(5, 15), iv(9, 20), iv(10, 20), iv(20, 30), iv(30, 40)];
    for round in 0..100 {
        let store = MemStore::new();
        let table = define_one(&store, "table-7", UnitKind::Exclusive);
        // Two clients per interval.
        let outcomes = race(wanted.len() * 2, |i| {
            let r = req(bid(&format!("guest-{i}"), "dinner"), &table, wanted[i / 2]);
            block_on(Allot::new(&store).book(&r, NOW)).unwrap()
        });
        verify_clean(&store, NOW, &acknowledged(&outcomes));
        let live = live_spans(&store, &table, NOW);
        assert_pairwise_disjoint(&live);
        let mut told: BTreeMap<BookingId, Span> = BTreeMap::new();
        for (i, o) in outcomes.iter().enumerate() {
            match o {
                Outcome::Booked { booking, span, .. } => {
                    assert_eq!(*span, wanted[i / 2]);
                    told.insert(booking.clone(), *span);
                }
                // Refused because of a booking that is live now.
                Outcome::Overlap { with, .. } => {
                    assert!(with.overlaps(&wanted[i / 2]), "round {round}: {with:?} vs {:?}", wanted[i / 2]);
                    assert!(live.values().any(|s| s == with), "round {round}: {with:?} is not live: {live:?}");
                }
                other => panic!("round {round}: {other:?}"),
            }
        }
        assert_eq!(told, live, "round {round}: what was acknowledged is what the roster holds");
        // The back-to-back intervals overlap nothing else: each is booked by
        // exactly one of its two clients.
        for s in [iv(20, 30), iv(30, 40)] {
            assert_eq!(live.values().filter(|l| **l == s).count(), 1, "round {round}: {s:?} in {live:?}");
        }
        // Every refused interval is blocked by a live one (maximality).
        for w in &wanted {
            assert!(live.values().any(|l| l.overlaps(w)), "round {round}: {w:?} is free yet refused");
        }
    }
}

// ---------------------------------------------------------------- auto-assign

/// Seats by table id, in an id order that is not the seat order.
const TERRACE: [(&str, u8); 6] = [("t1", 8), ("t2", 4), ("t3", 2), ("t4", 6), ("t5", 4), ("t6", 2)];
const INSIDE: [(&str, u8); 6] = [("i1", 2), ("i2", 8), ("i3", 4), ("i4", 2), ("i5", 6), ("i6", 4)];

fn restaurant() -> MemStore {
    let store = MemStore::new();
    block_on(Allot::new(&store).define_index(&tables_index(), NOW)).unwrap();
    let specs: Vec<UnitSpec> = TERRACE
        .iter()
        .map(|(id, s)| table(id, "terrace", *s))
        .chain(INSIDE.iter().map(|(id, s)| table(id, "inside", *s)))
        .collect();
    define(&store, &specs);
    store
}

fn seat_party(allot: &mut Allot<&MemStore>, who: &str, zone: &str, party: u8, span: Span) -> Outcome {
    let r = BookAnyReq {
        booking: bid(who, "table"),
        query: party_query(zone, party),
        span,
        qty: 1,
        hold: None,
        pick: Pick::First,
    };
    block_on(allot.book_any(&r, NOW)).unwrap()
}

/// The tables of `zone` a party of `party` fits at, best fit first (fewest
/// seats, then id): computed from the table list, not from the index.
fn best_fit(zone: &[(&'static str, u8)], party: u8) -> Vec<&'static str> {
    let mut fits: Vec<(u8, &str)> = zone.iter().filter(|(_, s)| *s >= party).map(|(id, s)| (*s, *id)).collect();
    fits.sort();
    fits.into_iter().map(|(_, id)| id).collect()
}

#[test]
fn auto_assign_gives_the_smallest_free_table_that_fits() {
    let store = restaurant();
    let dinner = Span::Interval { start: 1900, end: 2100 };
    let order = best_fit(&TERRACE, 3);
    assert_eq!(order.len(), 4);
    for (i, want) in order.iter().enumerate() {
        // A fresh client per party, as separate sessions would be.
        let o = seat_party(&mut Allot::new(&store), &format!("p{i}"), "terrace", 3, dinner);
        assert_eq!(o.unit().map(UnitId::as_str), Some(*want), "party {i}: {o:?}");
    }
    let o = seat_party(&mut Allot::new(&store), "p-late", "terrace", 3, dinner);
    assert_eq!(o, Outcome::SoldOut, "the 2-seat tables do not fit a party of 3");
    // Inside is untouched; a party of 2 takes a 2-seat table; the same
    // client books the same span again and still gets best fit.
    let mut host = Allot::new(&store);
    let inside = best_fit(&INSIDE, 3);
    for (i, want) in inside.iter().enumerate() {
        let o = seat_party(&mut host, &format!("q{i}"), "inside", 3, dinner);
        assert_eq!(o.unit().map(UnitId::as_str), Some(*want), "inside party {i}");
    }
    let o = seat_party(&mut host, "pair", "terrace", 2, dinner);
    assert_eq!(o.unit().map(UnitId::as_str), Some(best_fit(&TERRACE, 2)[0]));
    // Back to back with dinner, the best table is free again.
    let o = seat_party(&mut Allot::new(&store), "lunch", "terrace", 3, Span::Interval { start: 1200, end: 1900 });
    assert_eq!(o.unit().map(UnitId::as_str), Some(order[0]));
    verify_clean(&store, NOW, &[]);
}

#[test]
fn auto_assign_best_fit_with_one_client_across_spans() {
    let store = restaurant();
    let mut host = Allot::new(&store);
    let dinner = Span::Interval { start: 1900, end: 2100 };
    let order = best_fit(&TERRACE, 3);
    for (i, want) in order.iter().take(3).enumerate() {
        let o = seat_party(&mut host, &format!("p{i}"), "terrace", 3, dinner);
        assert_eq!(o.unit().map(UnitId::as_str), Some(*want));
    }
    // Lunch: every table is free, so the smallest that fits is the best.
    let lunch = Span::Interval { start: 1200, end: 1400 };
    let o = seat_party(&mut host, "lunch", "terrace", 3, lunch);
    assert_eq!(o.unit().map(UnitId::as_str), Some(order[0]), "{o:?}");
}

#[test]
fn racing_parties_get_the_best_fitting_tables_and_never_share() {
    let dinner = Span::Interval { start: 1900, end: 2100 };
    let late = Span::Interval { start: 2000, end: 2200 };
    for round in 0..60 {
        // k parties of 3 racing for the terrace: the k best-fitting tables
        // are taken, whoever gets which.
        let k = 1 + round % 4;
        let store = restaurant();
        let outcomes = race(k, |i| seat_party(&mut Allot::new(&store), &format!("p{i}"), "terrace", 3, dinner));
        let got: BTreeSet<&str> = outcomes.iter().map(|o| o.unit().expect("a table fits").as_str()).collect();
        let want: BTreeSet<&str> = best_fit(&TERRACE, 3).into_iter().take(k).collect();
        assert_eq!(got, want, "round {round}: {outcomes:?}");
        verify_clean(&store, NOW, &acknowledged(&outcomes));
    }
    for round in 0..60 {
        // Ten parties of mixed sizes and overlapping times, both zones.
        let store = restaurant();
        let parties: Vec<(&str, u8, Span)> = (0..10)
            .map(|i| (["terrace", "inside"][i % 2], [2u8, 3, 4, 5, 6][i % 5], [dinner, late][(i / 2) % 2]))
            .collect();
        let outcomes = race(parties.len(), |i| {
            let (zone, party, span) = parties[i];
            seat_party(&mut Allot::new(&store), &format!("p{i}"), zone, party, span)
        });
        verify_clean(&store, NOW, &acknowledged(&outcomes));
        for ((zone, party, _), o) in parties.iter().zip(&outcomes) {
            match o {
                Outcome::Booked { unit, .. } => {
                    let tables = if *zone == "terrace" { &TERRACE } else { &INSIDE };
                    let seats = tables.iter().find(|(id, _)| *id == unit.as_str()).map(|(_, s)| *s);
                    assert!(seats.is_some_and(|s| s >= *party), "round {round}: party of {party} at {unit} in {zone}");
                }
                Outcome::SoldOut => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
        for (id, _) in TERRACE.iter().chain(&INSIDE) {
            assert_pairwise_disjoint(&live_spans(&store, &uid(id), NOW));
        }
    }
}

// ---------------------------------------------------------------- retire

#[test]
fn retire_racing_bookings_keeps_every_acknowledged_booking() {
    for round in 0..40 {
        let store = MemStore::new();
        block_on(Allot::new(&store).define_index(&IndexDef::single("kind", "kind", KeyType::Str).unwrap(), NOW))
            .unwrap();
        let attrs = vec![("kind".to_string(), KeyValue::Str("tour".into()))];
        define(&store, &[UnitSpec::new("tour", UnitKind::Pool { capacity: 10_000 }, attrs).unwrap()]);
        let tour = uid("tour");
        const BOOKERS: usize = 4;
        const EACH: usize = 25;
        const RETIRE_AFTER: u64 = 10;
        let results = race(BOOKERS + 1, |i| {
            let mut allot = Allot::new(&store);
            if i == BOOKERS {
                // Retire once some bookings have landed, while the bookers
                // are still at it.
                while block_on(allot.roster(&tour, None, NOW)).unwrap()[0].used < RETIRE_AFTER {
                    std::thread::yield_now();
                }
                let report = block_on(allot.retire_unit(&tour, NOW)).unwrap();
                return Err(report.live_bookings);
            }
            Ok((0..EACH)
                .map(|k| block_on(allot.book(&req(bid(&format!("b{i}"), &format!("{k}")), &tour, Span::Whole), NOW)))
                .collect::<Vec<_>>())
        });
        let mut acked = Vec::new();
        let mut retired_report = None;
        let mut refused = 0;
        for r in results {
            match r {
                Err(live) => retired_report = Some(live),
                Ok(seq) => {
                    let mut seen_retired = false;
                    for o in seq {
                        match o {
                            Ok(Outcome::Booked { booking, replayed: false, .. }) => {
                                assert!(!seen_retired, "round {round}: booked after being told it is retired");
                                acked.push(booking);
                            }
                            Err(e) if e.code() == "E_UNIT_RETIRED" => {
                                seen_retired = true;
                                refused += 1;
                            }
                            other => panic!("round {round}: {other:?}"),
                        }
                    }
                }
            }
        }
        // Every booking that landed landed before the retirement, which
        // counted them all.
        assert_eq!(retired_report, Some(acked.len() as u64), "round {round}");
        assert!(acked.len() as u64 >= RETIRE_AFTER, "round {round}");
        assert_eq!(acked.len() + refused, BOOKERS * EACH, "round {round}");
        let report = verify_clean(&store, NOW, &acked);
        assert_eq!(report.live_bookings, acked.len() as u64, "round {round}");
        assert_eq!(report.retired_units, 1);

        // After the retirement: a direct booking is refused, an
        // auto-assign finds nothing, existing bookings can be cancelled.
        let mut late = Allot::new(&store);
        let e = block_on(late.book(&req(bid("late", "1"), &tour, Span::Whole), NOW)).unwrap_err();
        assert_eq!(e.code(), "E_UNIT_RETIRED");
        let any = BookAnyReq {
            booking: bid("late", "2"),
            query: IndexQuery::all("kind"),
            span: Span::Whole,
            qty: 1,
            hold: None,
            pick: Pick::First,
        };
        assert_eq!(block_on(late.book_any(&any, NOW)).unwrap(), Outcome::SoldOut);
        if let Some(b) = acked.first() {
            let o = block_on(late.cancel(&act(b.actor.as_str(), b), NOW)).unwrap();
            assert_eq!(o, Outcome::Cancelled { booking: b.clone(), already: false });
            let report = verify_clean(&store, NOW, &acked);
            assert_eq!(report.live_bookings, acked.len() as u64 - 1, "round {round}");
        }
    }
}

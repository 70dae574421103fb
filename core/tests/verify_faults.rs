//! Verify finds every kind of broken invariant a store can be made to hold,
//! each planted with raw commits that bypass `Allot`; on a store that only
//! `Allot` wrote it finds none, and counts what is live.

use allot_core::store::*;
use allot_core::*;

const NOW: u64 = 1_000;

fn unit(id: &str) -> UnitId {
    UnitId::new(id).unwrap()
}

fn id(actor: &str, key: &str) -> BookingId {
    BookingId::new(actor, key).unwrap()
}

fn stay(start: u64, end: u64) -> Span {
    Span::Interval { start, end }
}

fn booked(b: &BookingId, span: Span) -> Event {
    Event::Booked { booking: b.clone(), qty: 1, span, hold: None, at: NOW }
}

fn claim(b: &BookingId, unit_id: &str, span: Span) -> Claim {
    let record =
        ClaimRecord { request: vec![1].into(), unit: unit(unit_id), span, qty: 1, hold: None, seat: 1, at: NOW };
    Claim { booking: b.clone(), record }
}

/// Two exclusive rooms and a tour of one place, defined through `Allot`.
fn store() -> MemStore {
    let store = MemStore::new();
    let specs = [
        UnitSpec::new("room-a", UnitKind::Exclusive, vec![]).unwrap(),
        UnitSpec::new("room-b", UnitKind::Exclusive, vec![]).unwrap(),
        UnitSpec::new("tour", UnitKind::Pool { capacity: 1 }, vec![]).unwrap(),
    ];
    pollster::block_on(Allot::new(&store).define_units(&specs, NOW)).unwrap();
    store
}

/// Appends `events` to `unit_id`'s main stream, with `claims`, bypassing
/// every check `Allot` makes.
fn plant(store: &MemStore, unit_id: &str, events: Vec<Event>, claims: Vec<Claim>) {
    let stream = StreamId::new(&unit(unit_id), Part::Main);
    let head = pollster::block_on(store.read_streams(&[ReadReq { stream: stream.clone(), after: 0 }])).unwrap()[0].head;
    let writes = if events.is_empty() { vec![] } else { vec![StreamWrite { stream, expected: head, events }] };
    let c = Commit { writes, claims, ..Commit::default() };
    assert_eq!(pollster::block_on(store.commit(&c)).unwrap(), CommitOutcome::Committed);
}

fn check(store: &MemStore, acknowledged: &[BookingId]) -> VerifyReport {
    pollster::block_on(verify(store, NOW, acknowledged, &VerifyOptions::default())).unwrap()
}

/// The kinds of the violations found, sorted.
fn kinds(r: &VerifyReport) -> Vec<&'static str> {
    let mut k: Vec<_> = r.violations.iter().map(Violation::kind).collect();
    k.sort_unstable();
    k
}

#[test]
fn a_store_allot_wrote_is_clean_and_counted() {
    let store = store();
    let mut a = Allot::new(&store);
    // alice and carol hold two live bookings each, bob one; carol sorts
    // last, so the count of actors with several must include the last one.
    let asks = [
        (id("alice", "k1"), "room-a", stay(1, 3)),
        (id("alice", "k2"), "room-b", stay(1, 3)),
        (id("bob", "k1"), "room-a", stay(5, 7)),
        (id("carol", "k1"), "room-a", stay(8, 9)),
        (id("carol", "k2"), "room-b", stay(8, 9)),
    ];
    let mut acked = Vec::new();
    for (booking, u, span) in &asks {
        let req = BookReq { booking: booking.clone(), unit: unit(u), span: *span, qty: 1, hold: None };
        match pollster::block_on(a.book(&req, NOW)).unwrap() {
            Outcome::Booked { booking, .. } => acked.push(booking),
            o => panic!("{o:?}"),
        }
    }
    let r = check(&store, &acked);
    assert!(r.is_ok(), "{:?}", r.violations);
    assert_eq!((r.units, r.claims, r.live_bookings, r.confirmed, r.held), (3, 5, 5, 5, 0));
    assert_eq!(r.actors_with_multiple_live, 2, "alice and carol");
    assert_eq!(r.units_with_live, 2, "the rooms, not the tour");
}

#[test]
fn each_planted_fault_is_reported() {
    let mallory = id("mallory", "k");
    let bob = id("bob", "k");
    type Plant = fn(&MemStore, &BookingId, &BookingId);
    let cases: [(&str, Plant, &[&str]); 8] = [
        (
            "an event with no claim",
            |s, m, _| plant(s, "room-a", vec![booked(m, stay(1, 2))], vec![]),
            &["booking-without-claim"],
        ),
        (
            "a claim with no event",
            |s, m, _| plant(s, "room-a", vec![], vec![claim(m, "room-a", stay(1, 2))]),
            &["claim-without-booking"],
        ),
        (
            "an event in another unit than its claim's",
            |s, m, _| plant(s, "room-a", vec![booked(m, stay(1, 2))], vec![claim(m, "room-b", stay(1, 2))]),
            &["claim-mismatch", "claim-without-booking"],
        ),
        (
            "an event of a unit never defined",
            |s, m, _| plant(s, "nowhere", vec![booked(m, stay(1, 2))], vec![]),
            &["orphan-stream"],
        ),
        (
            "a row with no definition stream",
            |s, _, _| {
                let spec = UnitSpec::new("room-c", UnitKind::Exclusive, vec![]).unwrap();
                let row = UnitRow { spec, version: 1, retired: false, index_keys: vec![] };
                let c = Commit { units: vec![row], ..Commit::default() };
                assert_eq!(pollster::block_on(s.commit(&c)).unwrap(), CommitOutcome::Committed);
            },
            &["unit-row-mismatch"],
        ),
        (
            "two stays that overlap on a room",
            |s, m, b| {
                let events = vec![booked(m, stay(1, 3)), booked(b, stay(2, 4))];
                plant(s, "room-a", events, vec![claim(m, "room-a", stay(1, 3)), claim(b, "room-a", stay(2, 4))]);
            },
            &["overlap"],
        ),
        (
            "two places on a tour of one",
            |s, m, b| {
                let events = vec![booked(m, Span::Whole), booked(b, Span::Whole)];
                plant(s, "tour", events, vec![claim(m, "tour", Span::Whole), claim(b, "tour", Span::Whole)]);
            },
            &["over-capacity"],
        ),
        (
            "a cancellation of a booking never made",
            |s, m, _| plant(s, "room-a", vec![Event::Cancelled { booking: m.clone(), at: NOW }], vec![]),
            &["anomaly"],
        ),
    ];
    for (what, plant_fault, want) in cases {
        let store = store();
        plant_fault(&store, &mallory, &bob);
        assert_eq!(kinds(&check(&store, &[])), want, "{what}");
    }
}

#[test]
fn an_acknowledged_booking_must_be_in_a_stream_and_claimed() {
    let store = store();
    let claimed_only = id("claimed", "k");
    let unclaimed = id("unclaimed", "k");
    plant(&store, "room-a", vec![], vec![claim(&claimed_only, "room-a", stay(1, 2))]);
    plant(&store, "room-b", vec![booked(&unclaimed, stay(1, 2))], vec![]);
    let never = id("never", "k");
    let r = check(&store, &[claimed_only.clone(), unclaimed.clone(), never.clone()]);
    let missing: Vec<&BookingId> = r
        .violations
        .iter()
        .filter_map(|v| match v {
            Violation::MissingAcknowledged { booking } => Some(booking),
            _ => None,
        })
        .collect();
    assert_eq!(missing, [&claimed_only, &unclaimed, &never]);
}

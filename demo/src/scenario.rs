//! What each scenario defines and asks for, as pure functions of the
//! parameters: session `i`'s request is the same wherever it is computed
//! (the worker that books it, the page that recounts).
//!
//! The holiday rush and the last room are the native command's own
//! definitions (`allot_tests::holiday`): rooms, prices, eligibility and the
//! request of each session.

use std::ops::Bound;

use allot_core::{
    Allot, BookAnyReq, BookReq, BookingId, IndexDef, IndexField, IndexQuery, KeyType, KeyValue, Order, Pick, Span,
    Store, UnitId, UnitKind, UnitSpec,
};
use allot_tests::holiday::{self, NOW_MS};

use crate::params::{Params, Scenario};

/// The caller's clock for every run (allot reads none): the native one.
pub const NOW: u64 = NOW_MS;

/// One session's request.
#[derive(Clone, Debug, PartialEq)]
pub enum Ask {
    /// Auto-assign through an index (batched with `book_any_many`).
    Any(BookAnyReq),
    /// A given unit (`book`).
    One(BookReq),
}

impl Ask {
    pub fn booking(&self) -> &BookingId {
        match self {
            Ask::Any(r) => &r.booking,
            Ask::One(r) => &r.booking,
        }
    }
}

/// A small deterministic generator (splitmix64) keyed by seed and session:
/// session `i` of seed `s` always asks for the same thing.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64, stream: u64, i: u64) -> Self {
        Self(seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ i.wrapping_mul(0xd1b5_4a32_d192_ed03))
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }
}

// ------------------------------------------------------------------ last seat

pub const SEAT_UNIT: &str = "tour-0900";
pub const SEAT_BOOKERS: [&str; 2] = ["ada", "bob"];

fn last_seat_request(i: u64) -> BookReq {
    BookReq {
        booking: BookingId::new(SEAT_BOOKERS[(i % 2) as usize], "seat").expect("valid booking id"),
        unit: UnitId::new(SEAT_UNIT).expect("valid unit id"),
        span: Span::Whole,
        qty: 1,
        hold: None,
    }
}

// --------------------------------------------------------------------- dinner

pub const ZONES: [&str; 8] = ["terrace", "garden", "inside", "bar", "window", "lounge", "patio", "cellar"];
/// Seats of table `t` of a zone, cycling: mostly twos and fours.
pub const TABLE_SEATS: [u8; 10] = [2, 4, 2, 6, 4, 2, 4, 8, 4, 6];
/// Party sizes, drawn uniformly from this list (so mostly 2 and 4).
const PARTY_SIZES: [u8; 13] = [1, 2, 2, 2, 3, 4, 4, 4, 5, 6, 6, 7, 8];
/// First seating of the evening, in minutes since midnight (17:00).
pub const EVENING_START: u64 = 17 * 60;
/// Seatings start every 15 minutes from 17:00 to 21:00.
const SEATINGS: u64 = 17;

pub fn table_id(zone: usize, t: u32) -> String {
    format!("table-{}-{:03}", ZONES[zone], t + 1)
}

pub fn table_seats(t: u32) -> u8 {
    TABLE_SEATS[(t as usize) % TABLE_SEATS.len()]
}

pub fn table_specs(p: &Params) -> Vec<UnitSpec> {
    let mut out = Vec::new();
    for (z, zone) in ZONES.iter().enumerate().take(p.hotels as usize) {
        for t in 0..p.rooms {
            let attrs = vec![
                ("zone".to_string(), KeyValue::Str(zone.to_string())),
                ("seats".to_string(), KeyValue::U8(table_seats(t))),
            ];
            out.push(UnitSpec::new(&table_id(z, t), UnitKind::Exclusive, attrs).expect("valid table"));
        }
    }
    out
}

/// The (zone, seats) index: a party's range starts at its zone and size, so
/// the first free entry is the smallest table that seats it.
pub fn seats_index() -> IndexDef {
    IndexDef::new(
        "seats",
        vec![
            IndexField { attr: "zone".into(), ty: KeyType::Str, order: Order::Asc },
            IndexField { attr: "seats".into(), ty: KeyType::U8, order: Order::Asc },
        ],
    )
    .expect("valid index")
}

/// Party `i` of a dinner service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Party {
    pub zone: usize,
    pub size: u8,
    /// Minutes since midnight, `[start, end)`.
    pub start: u64,
    pub end: u64,
}

pub fn party(p: &Params, i: u64) -> Party {
    let mut r = Rng::new(p.seed, 1, i);
    let zone = r.below(u64::from(p.hotels)) as usize;
    let size = PARTY_SIZES[r.below(PARTY_SIZES.len() as u64) as usize];
    let start = EVENING_START + 15 * r.below(SEATINGS);
    let end = start + 90 + 15 * r.below(5);
    Party { zone, size, start, end }
}

pub fn party_booking(seed: u64, i: u64) -> BookingId {
    BookingId::new(&format!("p{seed}-{i}"), "dinner").expect("valid booking id")
}

fn dinner_request(p: &Params, i: u64) -> BookAnyReq {
    let party = party(p, i);
    let zone = KeyValue::Str(ZONES[party.zone].to_string());
    BookAnyReq {
        booking: party_booking(p.seed, i),
        query: IndexQuery {
            index: "seats".into(),
            lo: Bound::Included(vec![zone.clone(), KeyValue::U8(party.size)]),
            hi: Bound::Included(vec![zone]),
            reverse: false,
        },
        span: Span::Interval { start: party.start, end: party.end },
        qty: 1,
        hold: None,
        pick: Pick::First,
    }
}

// ----------------------------------------------------------------- long stays

pub const ROOM_TYPES: [&str; 8] =
    ["standard", "superior", "deluxe", "junior-suite", "suite", "family", "studio", "loft"];
/// The season: 14 nights from 24 December 2026 (days since 1970).
pub const SEASON_FROM: u32 = 20_811;
pub const SEASON_NIGHTS: u32 = 14;

pub fn room_type_id(k: usize) -> String {
    format!("type-{}", ROOM_TYPES[k])
}

/// Room types: allotments of `rooms` rooms per night, with a nightly rate.
pub fn room_type_specs(p: &Params) -> Vec<UnitSpec> {
    (0..p.hotels as usize)
        .map(|k| {
            let attrs = vec![("rate".to_string(), KeyValue::U32(90 + 40 * k as u32))];
            UnitSpec::new(&room_type_id(k), UnitKind::Allotment { capacity: p.rooms }, attrs).expect("valid type")
        })
        .collect()
}

pub fn rate_index() -> IndexDef {
    IndexDef::single("rate", "rate", KeyType::U32).expect("valid index")
}

/// Request `i`: a third are stays of 3-7 nights, the rest single nights.
pub fn stay(p: &Params, i: u64) -> (u32, u32) {
    let mut r = Rng::new(p.seed, 2, i);
    let nights = if r.below(3) == 0 { 3 + r.below(5) as u32 } else { 1 };
    let from = SEASON_FROM + r.below(u64::from(SEASON_NIGHTS - nights + 1)) as u32;
    (from, from + nights)
}

pub fn stay_booking(seed: u64, i: u64) -> BookingId {
    BookingId::new(&format!("g{seed}-{i}"), "stay").expect("valid booking id")
}

fn long_stay_request(p: &Params, i: u64) -> BookAnyReq {
    let (from, to) = stay(p, i);
    BookAnyReq {
        booking: stay_booking(p.seed, i),
        // Any room type, cheapest first.
        query: IndexQuery::all("rate"),
        span: Span::Days { from, to },
        qty: 1,
        hold: None,
        pick: Pick::First,
    }
}

// ------------------------------------------------------------------- together

/// Session `i`'s request.
pub fn ask(p: &Params, i: u64) -> Ask {
    match p.scenario {
        Scenario::Holiday | Scenario::LastRoom => Ask::Any(holiday::request(&p.holiday(), i)),
        Scenario::LastSeat => Ask::One(last_seat_request(i)),
        Scenario::Dinner => Ask::Any(dinner_request(p, i)),
        Scenario::LongStays => Ask::Any(long_stay_request(p, i)),
    }
}

/// The session a booking id belongs to, if it is one of this run's.
pub fn session_of(p: &Params, b: &BookingId) -> Option<u64> {
    let i = match p.scenario {
        Scenario::LastSeat => return SEAT_BOOKERS.iter().position(|a| *a == b.actor.as_str()).map(|i| i as u64),
        Scenario::Holiday | Scenario::LastRoom => b.actor.as_str().strip_prefix(&format!("s{}-", p.seed))?,
        Scenario::Dinner => b.actor.as_str().strip_prefix(&format!("p{}-", p.seed))?,
        Scenario::LongStays => b.actor.as_str().strip_prefix(&format!("g{}-", p.seed))?,
    };
    let i: u64 = i.parse().ok()?;
    (i < p.sessions && ask(p, i).booking() == b).then_some(i)
}

/// Every unit of a run, in definition order.
pub fn unit_specs(p: &Params) -> Vec<UnitSpec> {
    match p.scenario {
        Scenario::Holiday | Scenario::LastRoom => holiday::room_specs(&p.holiday()),
        Scenario::LastSeat => {
            vec![UnitSpec::new(SEAT_UNIT, UnitKind::Pool { capacity: 1 }, vec![]).expect("valid unit")]
        }
        Scenario::Dinner => table_specs(p),
        Scenario::LongStays => room_type_specs(p),
    }
}

pub fn indexes(p: &Params) -> Vec<IndexDef> {
    match p.scenario {
        Scenario::Holiday | Scenario::LastRoom => {
            vec![IndexDef::single("price", "price", KeyType::U32).expect("valid index")]
        }
        Scenario::LastSeat => vec![],
        Scenario::Dinner => vec![seats_index()],
        Scenario::LongStays => vec![rate_index()],
    }
}

/// Defines the indexes and units of a run in an empty store (the setup,
/// before the race; not timed).
pub async fn setup<S: Store>(store: S, p: &Params) -> Result<(), String> {
    let mut admin = Allot::new(store);
    for def in indexes(p) {
        admin.define_index(&def, NOW).await.map_err(|e| format!("defining index {}: {e}", def.name))?;
    }
    admin.define_units(&unit_specs(p), NOW).await.map_err(|e| format!("defining units: {e}"))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_deterministic_and_owned() {
        for s in Scenario::ALL {
            let p = Params::defaults(s);
            for i in 0..p.sessions {
                let a = ask(&p, i);
                assert_eq!(a, ask(&p, i));
                assert_eq!(session_of(&p, a.booking()), Some(i), "{s:?} {i}");
            }
        }
    }

    #[test]
    fn parties_and_stays_stay_in_bounds() {
        let p = Params::defaults(Scenario::Dinner);
        let mut sizes = [0u32; 9];
        for i in 0..2000 {
            let x = party(&p, i);
            assert!(x.zone < p.hotels as usize && (1..=8).contains(&x.size));
            assert!(x.start >= EVENING_START && x.end - x.start >= 90 && x.end - x.start <= 150);
            sizes[x.size as usize] += 1;
        }
        assert!(sizes[1..].iter().all(|n| *n > 0), "{sizes:?}");
        let p = Params::defaults(Scenario::LongStays);
        let (mut single, mut long) = (0, 0);
        for i in 0..2000 {
            let (from, to) = stay(&p, i);
            assert!(from >= SEASON_FROM && to <= SEASON_FROM + SEASON_NIGHTS && to > from);
            match to - from {
                1 => single += 1,
                3..=7 => long += 1,
                n => panic!("{n} nights"),
            }
        }
        assert!(long > 500 && single > 1000, "{long} {single}");
    }

    #[test]
    fn the_largest_table_seats_the_largest_party() {
        assert_eq!(TABLE_SEATS.iter().max(), PARTY_SIZES.iter().max());
    }
}

//! The small races: the last room and the last seat.

use std::fmt;
use std::sync::Barrier;

use allot_core::{Allot, BookReq, BookingId, MemStore, Outcome, Span, UnitId, UnitKind, UnitSpec, VerifyOptions};

use crate::holiday::{self, HolidayParams, NOW_MS};

/// `last_room_done`: one room, many sessions; exactly one may get it.
#[derive(Clone, Debug, PartialEq)]
pub struct LastRoom {
    pub sessions: u64,
    pub booked: u64,
    pub verified_booked: u64,
    pub sold_out: u64,
    pub double_booked: u64,
    pub conflicts: u64,
    pub wall_secs: f64,
}

impl LastRoom {
    pub fn check(&self) -> Result<(), String> {
        if self.booked == 1
            && self.verified_booked == 1
            && self.double_booked == 0
            && self.sold_out == self.sessions - 1
        {
            Ok(())
        } else {
            Err(format!("want exactly one booking: {self}"))
        }
    }
}

impl fmt::Display for LastRoom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "last_room_done sessions={} rooms=1 booked={} verified_booked={} sold_out={} double_booked={} conflicts={} wall_secs={:.3}",
            self.sessions,
            self.booked,
            self.verified_booked,
            self.sold_out,
            self.double_booked,
            self.conflicts,
            self.wall_secs
        )
    }
}

/// The holiday machinery with one room: every session races for it.
pub fn last_room(sessions: u64, workers: u32) -> Result<LastRoom, String> {
    if sessions == 0 {
        return Err("--sessions must be at least 1".into());
    }
    let p = HolidayParams { hotels: 1, rooms_per_hotel: 1, sessions, workers, ..HolidayParams::default() };
    let r = holiday::run_memory(&p, &|_, _| {})?;
    Ok(LastRoom {
        sessions,
        booked: r.booked,
        verified_booked: r.verified_booked,
        sold_out: r.sold_out,
        double_booked: r.double_booked,
        conflicts: r.conflicts,
        wall_secs: r.wall_secs,
    })
}

/// `last_seat_done`: a capacity-1 occurrence, two bookers released at once.
#[derive(Clone, Debug, PartialEq)]
pub struct LastSeat {
    pub booked: u64,
    pub full: u64,
    pub verified_booked: u64,
    pub conflicts: u64,
}

impl LastSeat {
    pub fn check(&self) -> Result<(), String> {
        if self.booked == 1 && self.full == 1 && self.verified_booked == 1 {
            Ok(())
        } else {
            Err(format!("want one booked, one full: {self}"))
        }
    }
}

impl fmt::Display for LastSeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "last_seat_done bookers=2 capacity=1 booked={} full={} verified_booked={} conflicts={}",
            self.booked, self.full, self.verified_booked, self.conflicts
        )
    }
}

pub fn last_seat() -> Result<LastSeat, String> {
    let store = MemStore::new();
    let tour = UnitId::new("tour-0900").map_err(|e| e.to_string())?;
    let spec = UnitSpec::new(tour.as_str(), UnitKind::Pool { capacity: 1 }, vec![]).map_err(|e| e.to_string())?;
    pollster::block_on(Allot::new(&store).define_units(&[spec], NOW_MS)).map_err(|e| e.to_string())?;
    let barrier = Barrier::new(2);
    let results: Vec<(Result<Outcome, String>, u64)> = std::thread::scope(|s| {
        let handles: Vec<_> = ["ada", "bob"]
            .into_iter()
            .map(|who| {
                let (store, barrier, tour) = (&store, &barrier, &tour);
                s.spawn(move || {
                    let mut a = Allot::new(store);
                    let req = BookReq {
                        booking: BookingId::new(who, "seat").expect("valid"),
                        unit: tour.clone(),
                        span: Span::Whole,
                        qty: 1,
                        hold: None,
                    };
                    barrier.wait();
                    let o = pollster::block_on(a.book(&req, NOW_MS)).map_err(|e| e.to_string());
                    (o, a.stats().conflicts)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap_or_else(|_| (Err("booker thread panicked".into()), 0))).collect()
    });
    let mut r = LastSeat { booked: 0, full: 0, verified_booked: 0, conflicts: 0 };
    for (o, conflicts) in results {
        r.conflicts += conflicts;
        match o? {
            Outcome::Booked { .. } => r.booked += 1,
            Outcome::Full { .. } => r.full += 1,
            other => return Err(format!("unexpected outcome {other:?}")),
        }
    }
    let report = pollster::block_on(allot_core::verify(&store, NOW_MS, &[], &VerifyOptions::default()))
        .map_err(|e| e.to_string())?;
    if !report.is_ok() {
        return Err(format!("verify: {:?}", report.violations));
    }
    r.verified_booked = report.live_bookings;
    Ok(r)
}

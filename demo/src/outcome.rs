//! The recount and the result lines.
//!
//! Everything a line calls "verified" comes from [`allot_core::verify`] run
//! on a fresh IndexedDB connection ([`Figures::from_report`]), never from
//! the workers' counters; the workers' counters only say what they were told
//! (booked, sold out, conflicts). The holiday and last-room lines are the
//! native command's (`HolidayResult`, `LastRoom`, `LastSeat` Display), so a
//! browser run and a native run can be compared field by field.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use allot_core::{BookingId, Span, StreamId, UnitKind, VerifyReport, Violation};
use allot_tests::holiday::{self, HolidayResult};
use allot_tests::scenarios::{LastRoom, LastSeat};

use crate::params::{Params, Scenario};
use crate::proto::Counters;
use crate::scenario::{self, Ask};

fn is_live(state: &str) -> bool {
    matches!(state, "held" | "confirmed")
}

/// What the store holds, recounted.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Figures {
    pub units: u64,
    pub streams: u64,
    pub events: u64,
    pub claims: u64,
    /// Distinct live bookings.
    pub live: u64,
    pub units_with_live: u64,
    /// Rooms with overlapping live bookings (distinct streams) plus actors
    /// holding more than one live booking: the native definition.
    pub double_booked: u64,
    /// Eligible rooms still free (holiday, last room).
    pub free_eligible: u64,
    /// Overlap violations (dinner).
    pub overlaps: u64,
    /// Live bookings on a table with fewer seats than the party (dinner).
    pub undersized: u64,
    /// Live booking-nights over every night stream (long stays).
    pub nights_booked: u64,
    /// Night streams ever above their allotment (long stays).
    pub over_capacity: u64,
    /// Stays live on some but not all of their nights, or claimed without
    /// their events on a night (long stays).
    pub partial_stays: u64,
    /// Live bookings that are no session of this run's.
    pub foreign: u64,
    /// Every invariant violation verify found, rendered.
    pub violations: Vec<String>,
}

impl Figures {
    /// `r` must have been made with `VerifyOptions { rosters: true }`.
    pub fn from_report(p: &Params, r: &VerifyReport) -> Self {
        let mut f = Figures {
            units: r.units,
            streams: r.streams,
            events: r.events,
            claims: r.claims,
            live: r.live_bookings,
            units_with_live: r.units_with_live,
            violations: r.violations.iter().map(ToString::to_string).collect(),
            ..Figures::default()
        };
        // The holiday's own definition (shared with the native command).
        f.double_booked = holiday::Recount::of(&p.holiday(), r).double_booked;
        f.overlaps = r.violations.iter().filter(|v| matches!(v, Violation::Overlap { .. })).count() as u64;
        match p.scenario {
            Scenario::Holiday | Scenario::LastRoom => {
                f.free_eligible = holiday::Recount::of(&p.holiday(), r).free_eligible;
            }
            Scenario::LastSeat => {}
            Scenario::Dinner => {
                let seats: BTreeMap<String, u8> = scenario::table_specs(p)
                    .into_iter()
                    .filter_map(|s| match s.attrs.get("seats") {
                        Some(allot_core::KeyValue::U8(n)) => Some((s.id.as_str().to_string(), *n)),
                        _ => None,
                    })
                    .collect();
                let mut live = BTreeSet::new();
                for roster in &r.rosters {
                    let table = seats.get(roster.stream.unit_str()).copied();
                    for e in roster.entries.iter().filter(|e| is_live(e.state)) {
                        live.insert(e.booking.clone());
                        let party = scenario::session_of(p, &e.booking).map(|i| scenario::party(p, i).size);
                        match (party, table) {
                            (Some(size), Some(seats)) if seats >= size => {}
                            (Some(_), _) => f.undersized += 1,
                            (None, _) => {}
                        }
                    }
                }
                f.foreign = live.iter().filter(|b| scenario::session_of(p, b).is_none()).count() as u64;
            }
            Scenario::LongStays => {
                let capacity = match scenario::room_type_specs(p).first().map(|s| s.kind) {
                    Some(UnitKind::Allotment { capacity }) => u64::from(capacity),
                    _ => 0,
                };
                let mut over: BTreeSet<StreamId> = r
                    .violations
                    .iter()
                    .filter_map(|v| match v {
                        Violation::OverCapacity { stream, .. } => Some(stream.clone()),
                        _ => None,
                    })
                    .collect();
                let mut nights_live: BTreeMap<BookingId, u32> = BTreeMap::new();
                for roster in &r.rosters {
                    if roster.used > capacity {
                        over.insert(roster.stream.clone());
                    }
                    for e in roster.entries.iter().filter(|e| is_live(e.state)) {
                        *nights_live.entry(e.booking.clone()).or_default() += 1;
                    }
                }
                f.over_capacity = over.len() as u64;
                f.nights_booked = nights_live.values().map(|n| u64::from(*n)).sum();
                let mut partial: BTreeSet<BookingId> = r
                    .violations
                    .iter()
                    .filter_map(|v| match v {
                        Violation::ClaimWithoutBooking { booking, .. } => Some(booking.clone()),
                        _ => None,
                    })
                    .collect();
                for (b, n) in &nights_live {
                    match scenario::session_of(p, b).map(|i| scenario::ask(p, i)) {
                        Some(Ask::Any(req)) => match req.span {
                            Span::Days { from, to } if to - from == *n => {}
                            _ => {
                                partial.insert(b.clone());
                            }
                        },
                        _ => f.foreign += 1,
                    }
                }
                f.partial_stays = partial.len() as u64;
            }
        }
        f
    }

    /// The recount alone (Verify, and the page after a reload): a line and
    /// whether the scenario's invariant holds in the store.
    pub fn summary(&self, p: &Params) -> (String, bool) {
        let v = self.violations.len();
        let (line, ok) = match p.scenario {
            Scenario::Holiday | Scenario::LastRoom => (
                format!(
                    "recount units={} live_bookings={} double_booked={} free_eligible={} violations={v}",
                    self.units, self.live, self.double_booked, self.free_eligible
                ),
                self.double_booked == 0,
            ),
            Scenario::LastSeat => (
                format!("recount units={} verified_booked={} capacity=1 violations={v}", self.units, self.live),
                self.live <= 1,
            ),
            Scenario::Dinner => (
                format!(
                    "recount tables={} seated={} overlaps={} undersized={} violations={v}",
                    self.units, self.live, self.overlaps, self.undersized
                ),
                self.overlaps == 0 && self.undersized == 0,
            ),
            Scenario::LongStays => (
                format!(
                    "recount room_types={} stays_booked={} nights_booked={} over_capacity={} partial_stays={} violations={v}",
                    self.units, self.live, self.nights_booked, self.over_capacity, self.partial_stays
                ),
                self.over_capacity == 0 && self.partial_stays == 0,
            ),
        };
        (line, ok && v == 0 && self.foreign == 0)
    }
}

/// `dinner_service_done`.
#[derive(Clone, Debug, PartialEq)]
pub struct Dinner {
    pub parties: u64,
    /// Live bookings recounted from the store.
    pub seated: u64,
    /// Parties told no table in their zone could take them.
    pub turned_away: u64,
    pub overlaps: u64,
    pub undersized: u64,
    pub conflicts: u64,
    pub wall_secs: f64,
}

impl fmt::Display for Dinner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dinner_service_done parties={} seated={} turned_away={} overlaps={} undersized={} conflicts={} wall_secs={:.3}",
            self.parties, self.seated, self.turned_away, self.overlaps, self.undersized, self.conflicts, self.wall_secs
        )
    }
}

/// `long_stays_done`.
#[derive(Clone, Debug, PartialEq)]
pub struct LongStays {
    pub requests: u64,
    /// Live bookings (stays of any length) recounted from the store.
    pub stays_booked: u64,
    /// Booked room-nights recounted from the night streams.
    pub nights_booked: u64,
    /// Requests told no room type had every night free.
    pub full: u64,
    pub over_capacity: u64,
    pub partial_stays: u64,
    pub conflicts: u64,
    pub wall_secs: f64,
}

impl fmt::Display for LongStays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "long_stays_done requests={} stays_booked={} nights_booked={} full={} over_capacity={} partial_stays={} conflicts={} wall_secs={:.3}",
            self.requests,
            self.stays_booked,
            self.nights_booked,
            self.full,
            self.over_capacity,
            self.partial_stays,
            self.conflicts,
            self.wall_secs
        )
    }
}

/// A finished run: its line, whether its invariant held, in words.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    pub line: String,
    /// `Err(why)` when the scenario's invariant failed.
    pub check: Result<(), String>,
    /// One plain-language sentence.
    pub verdict: String,
}

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// Everything the scenario promises beyond its line's own check.
fn common_checks(why: &mut Vec<String>, t: &Counters, f: &Figures, acked: u64) {
    if t.errors > 0 {
        why.push(format!("{} sessions ended with an error", t.errors));
    }
    if acked != t.booked {
        why.push(format!("workers counted {} bookings but acknowledged {acked}", t.booked));
    }
    if f.foreign > 0 {
        why.push(format!("{} live bookings belong to no session of this run", f.foreign));
    }
    if !f.violations.is_empty() {
        let shown: Vec<&str> = f.violations.iter().take(5).map(String::as_str).collect();
        why.push(format!("{} violations: {}", f.violations.len(), shown.join("; ")));
    }
}

fn join(why: Vec<String>) -> Result<(), String> {
    if why.is_empty() { Ok(()) } else { Err(why.join(", ")) }
}

/// The result of a run: worker counters `t` (what they were told), the
/// recount `f` (or why it failed), and the booking phase's wall time.
pub fn finish(p: &Params, t: &Counters, acked: u64, f: Result<Figures, String>, wall_secs: f64) -> RunOutcome {
    let (f, verify_error) = match f {
        Ok(f) => (f, None),
        Err(e) => (Figures::default(), Some(format!("verify failed: {e}"))),
    };
    let mut why = Vec::new();
    if let Some(e) = &verify_error {
        why.push(e.clone());
    }
    let recounted = "recounted from IndexedDB through a fresh connection";
    let (line, mut check, verdict) = match p.scenario {
        Scenario::Holiday => {
            let hp = p.holiday();
            let eligible = holiday::eligible(&hp);
            let r = HolidayResult {
                sessions: p.sessions,
                rooms: hp.rooms(),
                eligible,
                booked: t.booked,
                verified_booked: f.live,
                sold_out: t.sold_out,
                double_booked: f.double_booked,
                read_queries: t.read_queries,
                conflicts: t.conflicts,
                already_booked: t.already_booked,
                failed_sessions: holiday::failed_sessions(t.sold_out, t.errors, f.free_eligible),
                wall_secs,
                violations: f.violations.clone(),
            };
            let rooms = if eligible == hp.rooms() {
                plural(hp.rooms(), "room", "rooms")
            } else {
                format!("{eligible} of {} rooms in the price range", hp.rooms())
            };
            let rest = if t.sold_out > 0 {
                format!(
                    ", {} told sold out only once every eligible room was taken",
                    plural(t.sold_out, "session", "sessions")
                )
            } else {
                String::new()
            };
            let once = if f.live == eligible && eligible == hp.rooms() {
                "each room booked exactly once"
            } else if f.live == eligible {
                "each eligible room booked exactly once"
            } else {
                "no room booked twice"
            };
            let verdict = format!(
                "{rooms}, {}: {}, {once}{rest} — {recounted}.",
                plural(p.sessions, "session", "sessions"),
                plural(f.live, "booking", "bookings"),
            );
            (r.to_string(), r.check(), verdict)
        }
        Scenario::LastRoom => {
            let r = LastRoom {
                sessions: p.sessions,
                booked: t.booked,
                verified_booked: f.live,
                sold_out: t.sold_out,
                double_booked: f.double_booked,
                conflicts: t.conflicts,
                wall_secs,
            };
            let verdict = format!(
                "1 room, {}: exactly {} in the store, {} told sold out — {recounted}.",
                plural(p.sessions, "session", "sessions"),
                plural(f.live, "booking", "bookings"),
                t.sold_out
            );
            (r.to_string(), r.check(), verdict)
        }
        Scenario::LastSeat => {
            let r = LastSeat { booked: t.booked, full: t.full, verified_booked: f.live, conflicts: t.conflicts };
            let verdict = format!(
                "1 seat, 2 bookers released at once: {} booked, {} told full, {} in the store — {recounted}.",
                t.booked, t.full, f.live
            );
            (r.to_string(), r.check(), verdict)
        }
        Scenario::Dinner => {
            let r = Dinner {
                parties: p.sessions,
                seated: f.live,
                turned_away: t.sold_out,
                overlaps: f.overlaps,
                undersized: f.undersized,
                conflicts: t.conflicts,
                wall_secs,
            };
            let mut w = Vec::new();
            if r.overlaps != 0 {
                w.push(format!("overlaps {}", r.overlaps));
            }
            if r.undersized != 0 {
                w.push(format!("undersized {}", r.undersized));
            }
            if r.seated != t.booked {
                w.push(format!("seated {} in the store != {} booked by the workers", r.seated, t.booked));
            }
            if r.seated + r.turned_away != r.parties {
                w.push(format!("seated {} + turned away {} != parties {}", r.seated, r.turned_away, r.parties));
            }
            let tables = u64::from(p.hotels) * u64::from(p.rooms);
            let verdict = format!(
                "{} and {}: {} seated, {} turned away; no table holds two parties at overlapping times and no party \
                 sits at a table too small — {recounted}.",
                plural(p.sessions, "party", "parties"),
                plural(tables, "table", "tables"),
                r.seated,
                r.turned_away
            );
            (r.to_string(), join(w), verdict)
        }
        Scenario::LongStays => {
            let r = LongStays {
                requests: p.sessions,
                stays_booked: f.live,
                nights_booked: f.nights_booked,
                full: t.sold_out,
                over_capacity: f.over_capacity,
                partial_stays: f.partial_stays,
                conflicts: t.conflicts,
                wall_secs,
            };
            let mut w = Vec::new();
            if r.over_capacity != 0 {
                w.push(format!("over_capacity {}", r.over_capacity));
            }
            if r.partial_stays != 0 {
                w.push(format!("partial_stays {}", r.partial_stays));
            }
            if r.stays_booked != t.booked {
                w.push(format!("{} stays in the store != {} booked by the workers", r.stays_booked, t.booked));
            }
            if r.stays_booked + r.full != r.requests {
                w.push(format!("booked {} + full {} != requests {}", r.stays_booked, r.full, r.requests));
            }
            let verdict = format!(
                "{} over {} × {} × {} nights: {} covering {}, {} told full; no night sold over its \
                 allotment and no stay holds only some of its nights — {recounted}.",
                plural(p.sessions, "request", "requests"),
                plural(u64::from(p.hotels), "room type", "room types"),
                plural(u64::from(p.rooms), "room", "rooms"),
                scenario::SEASON_NIGHTS,
                plural(r.stays_booked, "booking", "bookings"),
                plural(r.nights_booked, "room-night", "room-nights"),
                r.full
            );
            (r.to_string(), join(w), verdict)
        }
    };
    if let Err(e) = check {
        why.insert(0, e);
    }
    common_checks(&mut why, t, &f, acked);
    // The line's own check may repeat the violations: keep each reason once.
    let mut seen = BTreeSet::new();
    why.retain(|w| seen.insert(w.clone()));
    check = join(why);
    RunOutcome { line, check, verdict }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(booked: u64, sold_out: u64) -> Counters {
        Counters { booked, sold_out, done: booked + sold_out, sessions: booked + sold_out, ..Counters::default() }
    }

    #[test]
    fn a_clean_holiday_run_passes_with_the_native_line() {
        let p = Params::defaults(Scenario::Holiday);
        let f = Figures { live: 1000, units_with_live: 1000, units: 1000, ..Figures::default() };
        let o = finish(&p, &counters(1000, 0), 1000, Ok(f), 1.5);
        assert_eq!(o.check, Ok(()));
        assert!(o.line.starts_with("holiday_rush_done sessions=1000 rooms=1000 eligible=1000 booked=1000 verified_booked=1000 sold_out=0 double_booked=0 "), "{}", o.line);
        assert!(o.line.ends_with("failed_sessions=0 wall_secs=1.500"), "{}", o.line);
    }

    #[test]
    fn a_lost_booking_fails() {
        let p = Params::defaults(Scenario::Holiday);
        let f = Figures { live: 999, units_with_live: 999, units: 1000, free_eligible: 1, ..Figures::default() };
        let o = finish(&p, &counters(1000, 0), 1000, Ok(f), 1.0);
        assert!(o.check.is_err());
    }

    #[test]
    fn dinner_and_long_stays_lines_have_their_invariants() {
        let p = Params::defaults(Scenario::Dinner);
        let f = Figures { live: 150, ..Figures::default() };
        let o = finish(&p, &counters(150, 50), 150, Ok(f.clone()), 0.5);
        assert_eq!(o.check, Ok(()));
        assert_eq!(
            o.line,
            "dinner_service_done parties=200 seated=150 turned_away=50 overlaps=0 undersized=0 conflicts=0 wall_secs=0.500"
        );
        let o = finish(&p, &counters(150, 50), 150, Ok(Figures { undersized: 1, ..f }), 0.5);
        assert!(o.check.unwrap_err().contains("undersized 1"));
        let p = Params::defaults(Scenario::LongStays);
        let f = Figures { live: 300, nights_booked: 420, ..Figures::default() };
        let o = finish(&p, &counters(300, 100), 300, Ok(f), 0.25);
        assert_eq!(o.check, Ok(()));
        assert_eq!(
            o.line,
            "long_stays_done requests=400 stays_booked=300 nights_booked=420 full=100 over_capacity=0 partial_stays=0 conflicts=0 wall_secs=0.250"
        );
    }
}

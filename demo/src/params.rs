//! The parameters of a run: what the controls show and the URL carries
//! (`?scenario=holiday&hotels=20&rooms=50&sessions=1000&workers=16&...`).
//!
//! The same three size controls mean different things per scenario (see
//! [`Scenario::labels`]): hotels / rooms per hotel / sessions for the rush,
//! zones / tables per zone / parties for dinner, room types / rooms per type
//! (the nightly allotment) / requests for long stays.

use allot_tests::holiday::HolidayParams;
use serde::{Deserialize, Serialize};

/// The demo's races.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scenario {
    /// Many sessions, many rooms, one price range: the holiday rush.
    Holiday,
    /// Many sessions, one room.
    LastRoom,
    /// Two bookers, one seat.
    LastSeat,
    /// Restaurant tables, parties of 1-8, overlapping time slots.
    Dinner,
    /// Multi-night stays racing single nights over nightly allotments.
    LongStays,
}

/// Labels of the three size controls for a scenario.
#[derive(Clone, Copy, Debug)]
pub struct Labels {
    pub hotels: &'static str,
    pub rooms: &'static str,
    pub sessions: &'static str,
}

impl Scenario {
    pub const ALL: [Scenario; 5] =
        [Scenario::Holiday, Scenario::LastRoom, Scenario::LastSeat, Scenario::Dinner, Scenario::LongStays];

    /// The URL value.
    pub fn slug(self) -> &'static str {
        match self {
            Self::Holiday => "holiday",
            Self::LastRoom => "last-room",
            Self::LastSeat => "last-seat",
            Self::Dinner => "dinner",
            Self::LongStays => "long-stays",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|x| x.slug() == s)
    }

    pub fn title(self) -> &'static str {
        match self {
            Self::Holiday => "Holiday rush",
            Self::LastRoom => "Last room",
            Self::LastSeat => "Last seat",
            Self::Dinner => "Dinner service",
            Self::LongStays => "Long stays",
        }
    }

    /// One sentence: what the scenario races for and what it proves.
    pub fn about(self) -> &'static str {
        match self {
            Self::Holiday => {
                "Every session wants one hotel room in the price range for 24-27 December. Workers pick rooms \
                 through the ordered price index; each room may be booked once, and every session that could get \
                 a room must get one."
            }
            Self::LastRoom => {
                "One room, many sessions racing for it on every worker: exactly one may win, all the others must \
                 be told it is sold out."
            }
            Self::LastSeat => {
                "A tour with one seat left and two bookers on two workers, released at the same moment: one books, \
                 the other is told it is full."
            }
            Self::Dinner => {
                "Parties of 1 to 8 want a table in their zone for 90-150 minutes of the evening. Each gets the \
                 smallest free table that seats it (best fit through the (zone, seats) index); no table may hold \
                 two parties at overlapping times, and no party may get a table too small."
            }
            Self::LongStays => {
                "Stays of 3-7 nights race single nights for room types with a nightly allotment. A stay books all \
                 its nights at once or none: no night may be sold over its allotment, and no stay may end up \
                 with only some of its nights."
            }
        }
    }

    pub fn labels(self) -> Labels {
        match self {
            Self::Holiday | Self::LastRoom | Self::LastSeat => {
                Labels { hotels: "Hotels", rooms: "Rooms per hotel", sessions: "Sessions" }
            }
            Self::Dinner => Labels { hotels: "Zones", rooms: "Tables per zone", sessions: "Parties" },
            Self::LongStays => {
                Labels { hotels: "Room types", rooms: "Rooms per type (each night)", sessions: "Requests" }
            }
        }
    }
}

/// Every knob of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Params {
    pub scenario: Scenario,
    pub hotels: u32,
    pub rooms: u32,
    pub sessions: u64,
    pub workers: u32,
    pub window: u32,
    pub price_min: u32,
    pub price_max: u32,
    pub seed: u64,
    /// `relaxed`, `default` or `strict` (IndexedDB's durability hint).
    pub durability: String,
    /// Requests per group commit (`Allot::book_any_many`); 1 books one at
    /// a time with `book_any`.
    pub batch: u32,
}

/// The URL keys, in the order a URL is written.
pub const KEYS: [&str; 11] = [
    "scenario",
    "hotels",
    "rooms",
    "sessions",
    "workers",
    "window",
    "price_min",
    "price_max",
    "seed",
    "durability",
    "batch",
];

pub const WORKERS_MAX: u32 = 32;
pub const BATCH_MAX: u32 = 256;
pub const SESSIONS_MAX: u64 = 100_000;
pub const UNITS_MAX: u64 = 100_000;

impl Params {
    /// The defaults of a scenario.
    pub fn defaults(scenario: Scenario) -> Self {
        let h = HolidayParams::default();
        let base = Self {
            scenario,
            hotels: h.hotels,
            rooms: h.rooms_per_hotel,
            sessions: h.sessions,
            workers: h.workers,
            window: h.window,
            price_min: h.price_min,
            price_max: h.price_max,
            seed: h.seed,
            durability: "relaxed".into(),
            batch: 8,
        };
        match scenario {
            // Measured (BENCHMARKS.md): with 16 workers on IndexedDB, wide
            // windows and batches mean fewer transactions, which is what
            // costs; the race is no less real. 64: a worker's whole share
            // of the default 1000 sessions in one group (10 alternating
            // runs against 32: median 1.25 -> 1.10 s, faster in 9 of 10).
            Scenario::Holiday => Self { window: 512, batch: 64, ..base },
            Scenario::LastRoom => Self { hotels: 1, rooms: 1, sessions: 50, ..base },
            Scenario::LastSeat => Self { hotels: 1, rooms: 1, sessions: 2, workers: 2, batch: 1, ..base },
            Scenario::Dinner => Self { hotels: 3, rooms: 16, sessions: 200, ..base },
            Scenario::LongStays => Self { hotels: 3, rooms: 10, sessions: 400, ..base },
        }
    }

    /// Parses `key=value` pairs (a URL's query, or the controls): the
    /// scenario's defaults, overridden by every key given. Unknown keys are
    /// ignored (`autostart` and the like are the page's business).
    pub fn from_pairs(pairs: &[(String, String)]) -> Result<Self, String> {
        let get = |k: &str| pairs.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.trim());
        let scenario = match get("scenario") {
            None | Some("") => Scenario::Holiday,
            Some(s) => Scenario::parse(s).ok_or_else(|| {
                format!("scenario must be one of {}, not {s:?}", Scenario::ALL.map(Scenario::slug).join(", "))
            })?,
        };
        let mut p = Self::defaults(scenario);
        fn num<T: std::str::FromStr>(key: &str, v: Option<&str>, into: &mut T) -> Result<(), String> {
            match v {
                None | Some("") => Ok(()),
                Some(v) => {
                    *into = v.parse().map_err(|_| format!("{key} must be a whole number, not {v:?}"))?;
                    Ok(())
                }
            }
        }
        num("hotels", get("hotels"), &mut p.hotels)?;
        num("rooms", get("rooms"), &mut p.rooms)?;
        num("sessions", get("sessions"), &mut p.sessions)?;
        num("workers", get("workers"), &mut p.workers)?;
        num("window", get("window"), &mut p.window)?;
        num("price_min", get("price_min"), &mut p.price_min)?;
        num("price_max", get("price_max"), &mut p.price_max)?;
        num("seed", get("seed"), &mut p.seed)?;
        num("batch", get("batch"), &mut p.batch)?;
        if let Some(d) = get("durability").filter(|d| !d.is_empty()) {
            p.durability = d.to_string();
        }
        let p = p.normalized();
        p.validate()?;
        Ok(p)
    }

    /// What a scenario fixes whatever the controls say.
    pub fn normalized(mut self) -> Self {
        match self.scenario {
            Scenario::LastRoom => {
                self.hotels = 1;
                self.rooms = 1;
                self.price_min = 0;
                self.price_max = u32::MAX;
            }
            Scenario::LastSeat => {
                self.hotels = 1;
                self.rooms = 1;
                self.sessions = 2;
                self.workers = 2;
                self.batch = 1;
            }
            _ => {}
        }
        self
    }

    pub fn validate(&self) -> Result<(), String> {
        let l = self.scenario.labels();
        if self.hotels == 0 || self.rooms == 0 {
            return Err(format!("{} and {} must be at least 1", l.hotels, l.rooms));
        }
        match self.scenario {
            Scenario::Dinner | Scenario::LongStays if self.hotels > 8 => {
                return Err(format!("{} must be in 1..=8", l.hotels));
            }
            Scenario::Dinner if self.rooms > 999 => return Err(format!("{} must be in 1..=999", l.rooms)),
            _ => {}
        }
        let units = match self.scenario {
            Scenario::LongStays => u64::from(self.hotels),
            _ => u64::from(self.hotels) * u64::from(self.rooms),
        };
        if units > UNITS_MAX {
            return Err(format!("at most {UNITS_MAX} rooms or tables"));
        }
        if self.scenario == Scenario::LongStays && self.rooms > allot_core::limits::CAPACITY_MAX {
            return Err(format!("{} must be at most {}", l.rooms, allot_core::limits::CAPACITY_MAX));
        }
        if self.sessions == 0 || self.sessions > SESSIONS_MAX {
            return Err(format!("{} must be in 1..={SESSIONS_MAX}", l.sessions));
        }
        if self.workers == 0 || self.workers > WORKERS_MAX {
            return Err(format!("workers must be in 1..={WORKERS_MAX}"));
        }
        if self.window == 0 || self.window > allot_core::limits::WINDOW_LEN_MAX {
            return Err(format!("window must be in 1..={}", allot_core::limits::WINDOW_LEN_MAX));
        }
        if self.batch == 0 || self.batch > BATCH_MAX {
            return Err(format!("batch must be in 1..={BATCH_MAX}"));
        }
        if self.price_min > self.price_max {
            return Err("price_min must not be above price_max".into());
        }
        if allot_web::idb::Durability::parse(&self.durability).is_none() {
            return Err(format!("durability must be relaxed, default or strict, not {:?}", self.durability));
        }
        Ok(())
    }

    /// `key=value` pairs in URL order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        vec![
            ("scenario", self.scenario.slug().to_string()),
            ("hotels", self.hotels.to_string()),
            ("rooms", self.rooms.to_string()),
            ("sessions", self.sessions.to_string()),
            ("workers", self.workers.to_string()),
            ("window", self.window.to_string()),
            ("price_min", self.price_min.to_string()),
            ("price_max", self.price_max.to_string()),
            ("seed", self.seed.to_string()),
            ("durability", self.durability.clone()),
            ("batch", self.batch.to_string()),
        ]
    }

    /// The URL query (without `?`); every value is a number or a fixed word.
    pub fn to_query(&self) -> String {
        self.pairs().iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
    }

    /// The native command's parameters for the rush (and the last room).
    pub fn holiday(&self) -> HolidayParams {
        HolidayParams {
            hotels: self.hotels,
            rooms_per_hotel: self.rooms,
            sessions: self.sessions,
            workers: self.workers,
            window: self.window,
            price_min: self.price_min,
            price_max: self.price_max,
            seed: self.seed,
            batch: self.batch,
        }
    }

    /// Sessions handed to worker `w`: session `i` goes to worker `i % W`.
    /// The page hands out demand, never rooms.
    pub fn sessions_of(&self, w: u32) -> impl Iterator<Item = u64> + use<> {
        (u64::from(w)..self.sessions).step_by(self.workers.max(1) as usize)
    }

    pub fn durability(&self) -> allot_web::idb::Durability {
        allot_web::idb::Durability::parse(&self.durability).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(q: &str) -> Vec<(String, String)> {
        q.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn a_url_round_trips() {
        let p = Params::from_pairs(&pairs(
            "scenario=holiday&hotels=20&rooms=50&sessions=1000&workers=16&window=32&price_min=0&price_max=4294967295&seed=1&durability=relaxed&autostart=1",
        ))
        .unwrap();
        assert_eq!(p, Params { window: 32, ..Params::defaults(Scenario::Holiday) });
        assert_eq!(Params::from_pairs(&pairs(&p.to_query())).unwrap(), p);
    }

    #[test]
    fn bad_values_are_named() {
        let e = Params::from_pairs(&pairs("workers=33")).unwrap_err();
        assert!(e.contains("workers"), "{e}");
        let e = Params::from_pairs(&pairs("scenario=brunch")).unwrap_err();
        assert!(e.contains("scenario"), "{e}");
        let e = Params::from_pairs(&pairs("hotels=x")).unwrap_err();
        assert!(e.contains("hotels"), "{e}");
    }

    #[test]
    fn sessions_are_dealt_round_robin() {
        let p = Params { sessions: 10, workers: 3, ..Params::defaults(Scenario::Holiday) };
        let all: Vec<Vec<u64>> = (0..3).map(|w| p.sessions_of(w).collect()).collect();
        assert_eq!(all, vec![vec![0, 3, 6, 9], vec![1, 4, 7], vec![2, 5, 8]]);
    }
}

//! The holiday rush: many sessions race on OS threads to book one eligible
//! hotel room each, through the ordered price index and append-expect, and
//! the result is recounted from the store.
//!
//! Definitions shared with the browser demo (so the two can be compared):
//! room `r` (0-based, `r < hotels * rooms_per_hotel`) is in hotel
//! `r / rooms_per_hotel` and has the UInt32 price `(r * 2654435761) mod 2^32`
//! (so prices cross every byte boundary); a room is eligible when
//! `price_min <= price <= price_max`. Every session wants one eligible room
//! for the same stay.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use allot_core::{
    Actor, Allot, BookAnyReq, BookingId, Config, IndexDef, IndexQuery, KeyType, KeyValue, Outcome, Pick, RequestKey,
    Span, Store, UnitKind, UnitSpec, VerifyOptions, Violation,
};

/// The stay every session books: days since 1970 of 2026-12-24 to 2026-12-27,
/// as an interval on each room (rooms are exclusive resources).
pub const STAY: Span = Span::Interval { start: 20_811, end: 20_814 };
/// The caller's clock for the run (allot reads none).
pub const NOW_MS: u64 = 1_797_984_000_000;

/// Knobs of a holiday run, with the defaults of the published benchmark.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HolidayParams {
    pub hotels: u32,
    pub rooms_per_hotel: u32,
    pub sessions: u64,
    pub workers: u32,
    pub window: u32,
    pub price_min: u32,
    pub price_max: u32,
    pub seed: u64,
    /// Sessions a worker decides together and commits with one group
    /// commit per round (`Allot::book_any_many`); 1: one at a time
    /// (`Allot::book_any`).
    pub batch: u32,
}

impl Default for HolidayParams {
    fn default() -> Self {
        Self {
            hotels: 20,
            rooms_per_hotel: 50,
            sessions: 1000,
            workers: 16,
            window: 32,
            price_min: 0,
            price_max: u32::MAX,
            seed: 1,
            batch: 1,
        }
    }
}

impl HolidayParams {
    pub fn rooms(&self) -> u64 {
        u64::from(self.hotels) * u64::from(self.rooms_per_hotel)
    }

    /// Checks the bounds a run needs; an error names the bad flag.
    pub fn validate(&self) -> Result<(), String> {
        if self.rooms() == 0 {
            return Err("--hotels and --rooms-per-hotel must be at least 1".into());
        }
        if self.rooms() > 100_000_000 {
            return Err("at most 100000000 rooms".into());
        }
        if self.workers == 0 || self.workers > 1024 {
            return Err("--workers must be in 1..=1024".into());
        }
        if self.window == 0 || self.window > allot_core::limits::WINDOW_LEN_MAX {
            return Err(format!("--window must be in 1..={}", allot_core::limits::WINDOW_LEN_MAX));
        }
        if self.batch == 0 || self.batch as usize > allot_core::limits::COMMITS_PER_GROUP_MAX {
            return Err(format!("--batch must be in 1..={}", allot_core::limits::COMMITS_PER_GROUP_MAX));
        }
        if self.price_min > self.price_max {
            return Err("--price-min must not be above --price-max".into());
        }
        Ok(())
    }
}

/// Room `r`'s price: crosses every byte boundary of a UInt32.
pub fn price(r: u64) -> u32 {
    (r.wrapping_mul(2_654_435_761) % (1 << 32)) as u32
}

pub fn room_id(r: u64) -> String {
    format!("room-{r:08}")
}

/// The rooms of a run, as units with `hotel` and `price` attributes.
pub fn room_specs(p: &HolidayParams) -> Vec<UnitSpec> {
    (0..p.rooms())
        .map(|r| {
            let attrs = vec![
                ("hotel".to_string(), KeyValue::U32((r / u64::from(p.rooms_per_hotel)) as u32)),
                ("price".to_string(), KeyValue::U32(price(r))),
            ];
            UnitSpec::new(&room_id(r), UnitKind::Exclusive, attrs).expect("room ids and attributes are valid")
        })
        .collect()
}

pub fn eligible(p: &HolidayParams) -> u64 {
    (0..p.rooms()).filter(|&r| (p.price_min..=p.price_max).contains(&price(r))).count() as u64
}

/// Session `i`'s booking id: the session is the actor, its one request key
/// makes every retry of it idempotent.
pub fn session_booking(seed: u64, i: u64) -> BookingId {
    let mut actor = String::new();
    write_actor(&mut actor, seed, i);
    BookingId::new(&actor, REQUEST_KEY).expect("session ids are valid")
}

/// Every session's request key.
const REQUEST_KEY: &str = "holiday";

/// Session `i`'s actor, `s{seed}-{i}`, into `out` (cleared first).
fn write_actor(out: &mut String, seed: u64, i: u64) {
    let mut digits = itoa::Buffer::new();
    out.clear();
    out.push('s');
    out.push_str(digits.format(seed));
    out.push('-');
    out.push_str(digits.format(i));
}

pub fn request(p: &HolidayParams, i: u64) -> BookAnyReq {
    Requests::new(p).get(i)
}

/// Builds the sessions' requests: what they share is made once, so that a
/// booker making one per session under the clock pays for the session's own
/// id only. (`format!` and a fresh request key and query per session were
/// about 8% of the race's instructions: callgrind, ARCHITECTURE.md.)
#[derive(Clone, Debug)]
pub struct Requests {
    seed: u64,
    key: RequestKey,
    query: IndexQuery,
    /// The actor's text, written again for each session.
    actor: String,
}

impl Requests {
    pub fn new(p: &HolidayParams) -> Self {
        Self {
            seed: p.seed,
            key: RequestKey::new(REQUEST_KEY).expect("the request key is valid"),
            query: IndexQuery::closed("price", KeyValue::U32(p.price_min), KeyValue::U32(p.price_max)),
            actor: String::with_capacity(48),
        }
    }

    /// [`session_booking`], sharing the request key.
    pub fn booking(&mut self, i: u64) -> BookingId {
        write_actor(&mut self.actor, self.seed, i);
        BookingId { actor: Actor::new(&self.actor).expect("session ids are valid"), key: self.key.clone() }
    }

    /// Session `i`'s request: one eligible room for [`STAY`].
    pub fn get(&mut self, i: u64) -> BookAnyReq {
        BookAnyReq {
            booking: self.booking(i),
            query: self.query.clone(),
            span: STAY,
            qty: 1,
            hold: None,
            pick: Pick::Spread,
        }
    }
}

/// The result line's figures.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HolidayResult {
    pub sessions: u64,
    pub rooms: u64,
    pub eligible: u64,
    pub booked: u64,
    pub verified_booked: u64,
    pub sold_out: u64,
    pub double_booked: u64,
    pub read_queries: u64,
    pub conflicts: u64,
    pub already_booked: u64,
    pub failed_sessions: u64,
    pub wall_secs: f64,
    /// Invariant violations verify found (all kinds); must be empty.
    pub violations: Vec<String>,
}

impl HolidayResult {
    /// The run is correct: every figure the published benchmark promises.
    pub fn check(&self) -> Result<(), String> {
        let want = self.eligible.min(self.sessions);
        let mut why = Vec::new();
        if self.booked != self.verified_booked {
            why.push(format!("booked {} != verified_booked {}", self.booked, self.verified_booked));
        }
        if self.booked != want {
            why.push(format!("booked {} != min(eligible, sessions) {}", self.booked, want));
        }
        if self.double_booked != 0 {
            why.push(format!("double_booked {}", self.double_booked));
        }
        if self.failed_sessions != 0 {
            why.push(format!("failed_sessions {}", self.failed_sessions));
        }
        if !self.violations.is_empty() {
            why.push(format!("violations: {}", self.violations.join("; ")));
        }
        if why.is_empty() { Ok(()) } else { Err(why.join(", ")) }
    }
}

impl fmt::Display for HolidayResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "holiday_rush_done sessions={} rooms={} eligible={} booked={} verified_booked={} sold_out={} double_booked={} read_queries={} conflicts={} already_booked={} failed_sessions={} wall_secs={:.3}",
            self.sessions,
            self.rooms,
            self.eligible,
            self.booked,
            self.verified_booked,
            self.sold_out,
            self.double_booked,
            self.read_queries,
            self.conflicts,
            self.already_booked,
            self.failed_sessions,
            self.wall_secs
        )
    }
}

/// Defines the price index and the rooms in an empty store.
pub fn setup<S: Store>(store: &S, p: &HolidayParams) -> Result<(), String> {
    pollster::block_on(setup_async(store, p))
}

/// [`setup`] for callers with an executor of their own (the browser demo).
pub async fn setup_async<S: Store>(store: S, p: &HolidayParams) -> Result<(), String> {
    let mut admin = Allot::new(store);
    let def = IndexDef::single("price", "price", KeyType::U32).map_err(|e| e.to_string())?;
    admin.define_index(&def, NOW_MS).await.map_err(|e| e.to_string())?;
    admin.define_units(&room_specs(p), NOW_MS).await.map_err(|e| e.to_string())?;
    Ok(())
}

/// What the recount proves, from `verify`'s report: the figures of the
/// result line that come from the store, not from the bookers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Recount {
    /// Live bookings in the store.
    pub verified_booked: u64,
    /// Rooms with overlapping live bookings, plus sessions holding more
    /// than one room.
    pub double_booked: u64,
    /// Eligible rooms still free after the run.
    pub free_eligible: u64,
    /// Every invariant verify found broken.
    pub violations: Vec<String>,
}

impl Recount {
    pub fn of(p: &HolidayParams, r: &allot_core::VerifyReport) -> Self {
        let overlapped: std::collections::BTreeSet<_> = r
            .violations
            .iter()
            .filter_map(|v| match v {
                Violation::Overlap { stream, .. } => Some(stream),
                _ => None,
            })
            .collect();
        Self {
            verified_booked: r.live_bookings,
            double_booked: overlapped.len() as u64 + r.actors_with_multiple_live,
            free_eligible: eligible(p).saturating_sub(r.units_with_live),
            violations: r.violations.iter().map(ToString::to_string).collect(),
        }
    }

    /// See [`failed_sessions`].
    pub fn failed_sessions(&self, sold_out: u64, errors: u64) -> u64 {
        failed_sessions(sold_out, errors, self.free_eligible)
    }
}

/// Sessions that ended without a room (sold out, or an error) while an
/// eligible room was still free after the run.
pub fn failed_sessions(sold_out: u64, errors: u64, free_eligible: u64) -> u64 {
    errors + sold_out.min(free_eligible)
}

#[derive(Default)]
struct Counters {
    done: AtomicU64,
    booked: AtomicU64,
    sold_out: AtomicU64,
    errors: AtomicU64,
    read_queries: AtomicU64,
    conflicts: AtomicU64,
    already_booked: AtomicU64,
}

/// Races the sessions on `p.workers` threads against `store` (already set
/// up), then recounts. `progress` is called about 4 times a second with
/// (sessions done, booked) while the run lasts.
pub fn race<S: Store + Sync>(store: &S, p: &HolidayParams, progress: &(dyn Fn(u64, u64) + Sync)) -> HolidayResult {
    let (c, acked, wall_secs) = race_sessions(store, p, progress);
    recount(store, p, &c, &acked, wall_secs)
}

/// Ids a worker reserves room for up front, at most (a wild session count
/// must not reserve the machine's memory).
const SHARE_LEN_MAX: usize = 1 << 22;

/// Room for the session numbers a worker acknowledges: its even share of
/// the sessions and a quarter more, as workers do not finish evenly.
fn share_len(p: &HolidayParams) -> usize {
    let share = p.sessions / u64::from(p.workers.max(1));
    usize::try_from(share + share / 4 + u64::from(p.batch)).unwrap_or(SHARE_LEN_MAX).min(SHARE_LEN_MAX)
}

/// The race itself: the counters, the bookings acknowledged, the wall time.
fn race_sessions<S: Store + Sync>(
    store: &S,
    p: &HolidayParams,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> (Counters, Vec<BookingId>, f64) {
    let next = AtomicU64::new(0);
    let c = Counters::default();
    // Each worker's acknowledged ids, handed over whole: merging them into
    // one list under the clock copied every id (32 MB at a million).
    // Session numbers, not ids: 8 bytes an acknowledgement instead of an id
    // (32 bytes, and two reference counts) in memory first touched under
    // the clock. The ids are derived again after it, at the end here.
    let booked_ids = std::sync::Mutex::new(Vec::with_capacity(p.workers as usize));
    let started = Instant::now();
    // When the last worker finished: the progress reporter below sleeps in
    // steps, and the wall time must not include its last nap.
    let finished_ns = AtomicU64::new(0);
    std::thread::scope(|scope| {
        for _ in 0..p.workers {
            scope.spawn(|| {
                let config = Config { window_len: p.window, ..Config::default() };
                let mut allot = Allot::with_config(store, config);
                // About its share, so that the list seldom has to move.
                let mut mine = Vec::with_capacity(share_len(p));
                let mut requests = Requests::new(p);
                let batch = u64::from(p.batch);
                loop {
                    // The queue hands out sessions, never rooms: which room a
                    // session gets is decided by the race.
                    let first = next.fetch_add(batch, Ordering::Relaxed);
                    if first >= p.sessions {
                        break;
                    }
                    let reqs: Vec<BookAnyReq> =
                        (first..(first + batch).min(p.sessions)).map(|i| requests.get(i)).collect();
                    let outcomes = if batch == 1 {
                        vec![pollster::block_on(allot.book_any(&reqs[0], NOW_MS))]
                    } else {
                        pollster::block_on(allot.book_any_many(&reqs, NOW_MS))
                    };
                    for ((i, req), outcome) in (first..).zip(&reqs).zip(outcomes) {
                        match outcome {
                            Ok(Outcome::Booked { booking, .. }) if booking == req.booking => {
                                c.booked.fetch_add(1, Ordering::Relaxed);
                                mine.push(i);
                            }
                            Ok(Outcome::Booked { booking, .. }) => {
                                eprintln!("session {} was answered with booking {booking}", req.booking);
                                c.errors.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(Outcome::SoldOut) => {
                                c.sold_out.fetch_add(1, Ordering::Relaxed);
                            }
                            Ok(other) => {
                                eprintln!("session {} ended {other:?}, which a holiday session cannot", req.booking);
                                c.errors.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                eprintln!("session {} failed: {} ({e})", req.booking, e.code());
                                c.errors.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                        c.done.fetch_add(1, Ordering::Relaxed);
                    }
                }
                let s = allot.stats();
                c.read_queries.fetch_add(s.read_queries, Ordering::Relaxed);
                c.conflicts.fetch_add(s.conflicts, Ordering::Relaxed);
                c.already_booked.fetch_add(s.already_booked, Ordering::Relaxed);
                booked_ids.lock().unwrap_or_else(|e| e.into_inner()).push(mine);
                let ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
                finished_ns.fetch_max(ns, Ordering::Relaxed);
            });
        }
        scope.spawn(|| {
            while c.done.load(Ordering::Relaxed) < p.sessions {
                std::thread::sleep(Duration::from_millis(50));
                if started.elapsed() > Duration::from_secs(1) {
                    progress(c.done.load(Ordering::Relaxed), c.booked.load(Ordering::Relaxed));
                    std::thread::sleep(Duration::from_millis(200));
                }
            }
        });
    });
    let wall_secs = Duration::from_nanos(finished_ns.into_inner()).as_secs_f64();
    let sessions: Vec<u64> = booked_ids.into_inner().unwrap_or_else(|e| e.into_inner()).concat();
    let mut requests = Requests::new(p);
    let acked = sessions.into_iter().map(|i| requests.booking(i)).collect();
    (c, acked, wall_secs)
}

/// Recounts from the store: only what the store holds counts as booked.
fn recount<S: Store>(store: &S, p: &HolidayParams, c: &Counters, acked: &[BookingId], wall_secs: f64) -> HolidayResult {
    let eligible = eligible(p);
    let report = pollster::block_on(allot_core::verify(store, NOW_MS, acked, &VerifyOptions::default()));
    let recount = match report {
        Ok(r) => Recount::of(p, &r),
        Err(e) => {
            Recount { free_eligible: eligible, violations: vec![format!("verify failed: {e}")], ..Recount::default() }
        }
    };
    let sold_out = c.sold_out.load(Ordering::Relaxed);
    let errors = c.errors.load(Ordering::Relaxed);
    HolidayResult {
        sessions: p.sessions,
        rooms: p.rooms(),
        eligible,
        booked: c.booked.load(Ordering::Relaxed),
        verified_booked: recount.verified_booked,
        sold_out,
        double_booked: recount.double_booked,
        read_queries: c.read_queries.load(Ordering::Relaxed),
        conflicts: c.conflicts.load(Ordering::Relaxed),
        already_booked: c.already_booked.load(Ordering::Relaxed),
        failed_sessions: recount.failed_sessions(sold_out, errors),
        wall_secs,
        violations: recount.violations,
    }
}

/// Sets up a fresh in-memory store and races.
pub fn run_memory(p: &HolidayParams, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<HolidayResult, String> {
    p.validate()?;
    // Sized like an application that knows its inventory would: its rooms,
    // a claim per session.
    let hint = |n: u64| usize::try_from(n).unwrap_or(usize::MAX);
    let store = allot_core::MemStore::with_capacity(hint(p.rooms()), hint(p.sessions));
    setup(&store, p)?;
    Ok(race(&store, p, progress))
}

/// Where a holiday run keeps its data: `memory` (the default) or a
/// PostgreSQL URL (`postgres://user:password@host:port/database`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreChoice {
    Memory,
    #[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
    Postgres(String),
}

impl std::str::FromStr for StoreChoice {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if s == "memory" {
            return Ok(Self::Memory);
        }
        #[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(Self::Postgres(s.to_string()));
        }
        Err(format!("--store must be `memory` or a postgres:// URL, not {s:?}"))
    }
}

/// Sets up a fresh store of the chosen kind and races.
pub fn run(
    store: &StoreChoice,
    p: &HolidayParams,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<HolidayResult, String> {
    match store {
        StoreChoice::Memory => run_memory(p, progress),
        #[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
        StoreChoice::Postgres(url) => run_postgres(url, p, progress),
    }
}

#[cfg(all(feature = "postgres", not(target_arch = "wasm32")))]
/// The same run against PostgreSQL: a fresh schema in the database at
/// `url` (dropped afterwards), `p.workers` threads over one pool of as many
/// connections, racing through append-expect. The recount reads the
/// database through a new pool (fresh connections), not through the one the
/// workers used.
pub fn run_postgres(
    url: &str,
    p: &HolidayParams,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<HolidayResult, String> {
    use allot_pg::{PgOptions, PgStore};
    p.validate()?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let schema = format!("allot_holiday_{}_{nanos}", std::process::id());
    let opts = PgOptions {
        schema: Some(schema.clone()),
        max_connections: p.workers as usize,
        application_name: "allot-holiday".into(),
        ..PgOptions::default()
    };
    let store = pollster::block_on(PgStore::connect(url, opts.clone())).map_err(|e| format!("{e}"))?;
    let outcome = setup(&store, p).map(|()| race_sessions(&store, p, progress));
    store.close();
    drop(store);
    let verifier = pollster::block_on(PgStore::connect(url, PgOptions { max_connections: 2, ..opts }))
        .map_err(|e| format!("reconnecting to recount: {e}"))?;
    let result = outcome.map(|(c, acked, wall_secs)| recount(&verifier, p, &c, &acked, wall_secs));
    if let Err(e) = pollster::block_on(verifier.drop_schema()) {
        eprintln!("could not drop schema {schema}: {e}");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_name_each_session_as_its_formatted_id_does() {
        for seed in [0, 1, 7, u64::MAX] {
            let p = HolidayParams { seed, price_min: 5, price_max: 9, ..HolidayParams::default() };
            let mut requests = Requests::new(&p);
            for i in [0, 9, 10, 12_345, u64::MAX] {
                let want = BookingId::new(&format!("s{seed}-{i}"), "holiday").unwrap();
                assert_eq!(session_booking(seed, i), want);
                let req = requests.get(i);
                assert_eq!(req.booking, want);
                assert_eq!(req.query, IndexQuery::closed("price", KeyValue::U32(5), KeyValue::U32(9)));
                assert_eq!((req.span, req.qty, req.hold, req.pick), (STAY, 1, None, Pick::Spread));
            }
        }
    }
}

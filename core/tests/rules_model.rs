//! Booking rules against a reference model.
//!
//! The model is one unit (a pool, an exclusive resource, or an allotment
//! over a few days) written as plainly as the documentation reads: a list of
//! bookings with a state and an expiry, and per booking stream the latest
//! event time it has seen (its watermark). Random operation sequences run
//! against `Allot` over a `MemStore` and against the model; every outcome
//! and error code must match, and after every step `verify` must find no
//! violation and count what the model counts.
//!
//! The rules, as the documentation states them:
//! - a hold is live while `expires_at > max(now, watermark)`, where the
//!   watermark is the latest event time on the streams a decision reads (the
//!   booking's streams); confirmed bookings are live, cancelled and released
//!   ones are not; a new hold expires at `max(now, watermark) + ttl`; the
//!   events a decision writes carry that effective time, so every stream it
//!   wrote agrees with what it assumed;
//! - a pool or a day takes bookings while the live quantity plus the new one
//!   fits the capacity (`Full` reports what is left, the least over a stay's
//!   days); an exclusive resource refuses an interval overlapping a live one
//!   (half-open: touching is fine);
//! - only the owner confirms, cancels or releases (`E_NOT_OWNER`); confirm
//!   only a live hold (`E_HOLD_EXPIRED` once it lapsed, `E_NOT_HELD` once
//!   cancelled or released; confirming a confirmed booking says `already`);
//!   cancel a hold or a booking (`already` when it holds nothing any more);
//!   release a live hold (`E_NOT_HELD` when confirmed, `already` otherwise);
//! - a request whose (actor, key) was booked before returns the first
//!   outcome marked `replayed`, or `E_IDEMPOTENCY_MISMATCH` when its payload
//!   differs; outcomes that booked nothing (full, overlap, errors) claim
//!   nothing.

use std::collections::BTreeMap;

use allot_core::limits::HOLD_MS_MAX;
use allot_core::{
    ActReq, Actor, Allot, BookReq, BookingId, HoldReq, MemStore, Outcome, Part, Span, UnitId, UnitKind, UnitSpec,
    VerifyOptions, verify,
};
use pollster::block_on;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::Config as ProptestConfig;

const ACTORS: [&str; 3] = ["ada", "bob", "cy"];
const KEYS: [&str; 4] = ["k0", "k1", "k2", "k3"];
/// Days of the allotment the model looks at: stays lie in `0..DAYS`.
const DAYS: u32 = 6;
/// The first `now`: far enough from 0 for clocks to go back.
const T0: u64 = 10_000;

// ---------------------------------------------------------------- the model

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Held { expires_at: u64 },
    Confirmed,
    Cancelled,
    Released,
}

impl State {
    fn is_live(self, eff: u64) -> bool {
        match self {
            State::Held { expires_at } => expires_at > eff,
            State::Confirmed => true,
            State::Cancelled | State::Released => false,
        }
    }

    fn name(self, eff: u64) -> &'static str {
        match self {
            State::Held { .. } if self.is_live(eff) => "held",
            State::Held { .. } => "expired",
            State::Confirmed => "confirmed",
            State::Cancelled => "cancelled",
            State::Released => "released",
        }
    }
}

#[derive(Clone, Debug)]
struct Booking {
    id: BookingId,
    span: Span,
    qty: u32,
    state: State,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    Confirm,
    Cancel,
    Release,
}

type Res = Result<Outcome, &'static str>;

#[derive(Debug)]
struct Model {
    unit: UnitId,
    kind: UnitKind,
    /// Latest event time per booking stream.
    watermark: BTreeMap<Part, u64>,
    /// In the order they were made.
    bookings: Vec<Booking>,
    /// The first request and outcome of every (actor, key) that booked.
    claims: BTreeMap<BookingId, (BookReq, Outcome)>,
}

/// The streams a span lives in: one per day for a stay, else the main one.
fn streams(span: &Span) -> Vec<Part> {
    match *span {
        Span::Days { from, to } => (from..to).map(Part::Day).collect(),
        _ => vec![Part::Main],
    }
}

impl Model {
    fn new(unit: UnitId, kind: UnitKind) -> Self {
        Self { unit, kind, watermark: BTreeMap::new(), bookings: Vec::new(), claims: BTreeMap::new() }
    }

    fn capacity(&self) -> u32 {
        match self.kind {
            UnitKind::Pool { capacity } | UnitKind::Allotment { capacity } => capacity,
            UnitKind::Exclusive => 1,
        }
    }

    fn watermark(&self, s: Part) -> u64 {
        self.watermark.get(&s).copied().unwrap_or(0)
    }

    /// `now`, never earlier than an event on `parts`.
    fn effective(&self, parts: &[Part], now: u64) -> u64 {
        parts.iter().map(|s| self.watermark(*s)).fold(now, u64::max)
    }

    fn in_stream(&self, s: Part) -> impl Iterator<Item = &Booking> {
        self.bookings.iter().filter(move |b| streams(&b.span).contains(&s))
    }

    /// Places taken on stream `s`, judged at `eff`.
    fn used(&self, s: Part, eff: u64) -> u32 {
        self.in_stream(s).filter(|b| b.state.is_live(eff)).map(|b| b.qty).sum()
    }

    fn written(&mut self, parts: &[Part], now: u64) {
        for s in parts {
            let w = self.watermark.entry(*s).or_default();
            *w = (*w).max(now);
        }
    }

    /// The spans an `Overlap` may name: every live booking overlapping `span`.
    fn overlapping(&self, span: &Span, now: u64) -> Vec<Span> {
        let eff = self.effective(&[Part::Main], now);
        self.in_stream(Part::Main).filter(|b| b.state.is_live(eff) && b.span.overlaps(span)).map(|b| b.span).collect()
    }

    fn book(&mut self, r: &BookReq, now: u64) -> Res {
        if r.qty == 0 {
            return Err("E_QTY_INVALID");
        }
        if r.hold.as_ref().is_some_and(|h| h.ttl_ms == 0 || h.ttl_ms > HOLD_MS_MAX) {
            return Err("E_TTL_INVALID");
        }
        if let Some((first, outcome)) = self.claims.get(&r.booking) {
            return if first == r { Ok(replayed(outcome)) } else { Err("E_IDEMPOTENCY_MISMATCH") };
        }
        let fits = matches!(
            (self.kind, r.span),
            (UnitKind::Pool { .. }, Span::Whole)
                | (UnitKind::Allotment { .. }, Span::Days { .. })
                | (UnitKind::Exclusive, Span::Interval { .. })
        );
        if !fits {
            return Err("E_SPAN_KIND");
        }
        if r.qty > self.capacity() {
            return Err("E_QTY_INVALID");
        }
        let parts = streams(&r.span);
        let eff = self.effective(&parts, now);
        let mut seat = 1;
        if self.kind == UnitKind::Exclusive {
            if let Some(with) = self.overlapping(&r.span, now).first() {
                return Ok(Outcome::Overlap { unit: self.unit.clone(), with: *with });
            }
        } else {
            let available = parts.iter().map(|s| self.capacity() - self.used(*s, eff)).min().unwrap_or(0);
            if r.qty > available {
                return Ok(Outcome::Full { unit: self.unit.clone(), available });
            }
            seat = self.used(parts[0], eff) + 1;
        }
        let (state, outcome) = match &r.hold {
            None => (
                State::Confirmed,
                Outcome::Booked {
                    booking: r.booking.clone(),
                    unit: self.unit.clone(),
                    span: r.span,
                    qty: r.qty,
                    seat,
                    replayed: false,
                },
            ),
            Some(h) => (
                State::Held { expires_at: eff + h.ttl_ms },
                Outcome::Held {
                    booking: r.booking.clone(),
                    unit: self.unit.clone(),
                    span: r.span,
                    qty: r.qty,
                    seat,
                    expires_at: eff + h.ttl_ms,
                    replayed: false,
                },
            ),
        };
        self.bookings.push(Booking { id: r.booking.clone(), span: r.span, qty: r.qty, state });
        // Events carry the effective time the decision relied on.
        self.written(&parts, eff);
        self.claims.insert(r.booking.clone(), (r.clone(), outcome.clone()));
        Ok(outcome)
    }

    fn act(&mut self, act: Act, by: &Actor, id: &BookingId, now: u64) -> Res {
        let Some(i) = self.bookings.iter().position(|b| b.id == *id) else { return Err("E_UNKNOWN_BOOKING") };
        if *by != id.actor {
            return Err("E_NOT_OWNER");
        }
        let parts = streams(&self.bookings[i].span);
        let state = self.bookings[i].state;
        let eff = self.effective(&parts, now);
        let live = state.is_live(eff);
        let booking = id.clone();
        let (next, outcome) = match (act, state) {
            (Act::Confirm, State::Held { .. }) if live => {
                (Some(State::Confirmed), Outcome::Confirmed { booking, already: false })
            }
            (Act::Confirm, State::Held { .. }) => return Err("E_HOLD_EXPIRED"),
            (Act::Confirm, State::Confirmed) => (None, Outcome::Confirmed { booking, already: true }),
            (Act::Confirm, _) => return Err("E_NOT_HELD"),
            (Act::Cancel, _) if live => (Some(State::Cancelled), Outcome::Cancelled { booking, already: false }),
            (Act::Cancel, _) => (None, Outcome::Cancelled { booking, already: true }),
            (Act::Release, State::Confirmed) => return Err("E_NOT_HELD"),
            (Act::Release, _) if live => (Some(State::Released), Outcome::Released { booking, already: false }),
            (Act::Release, _) => (None, Outcome::Released { booking, already: true }),
        };
        if let Some(next) = next {
            self.bookings[i].state = next;
            self.written(&parts, eff);
        }
        Ok(outcome)
    }

    /// The streams a roster of the unit shows.
    fn all_streams(&self) -> Vec<Part> {
        match self.kind {
            UnitKind::Allotment { .. } => (0..DAYS).map(Part::Day).collect(),
            _ => vec![Part::Main],
        }
    }

    /// Bookings live at `now` on any of their streams, each stream judged
    /// by its own watermark (as a reader of that stream sees it); and how
    /// many of those are confirmed.
    fn live_counts(&self, now: u64) -> (u64, u64) {
        let live: Vec<&Booking> = self
            .bookings
            .iter()
            .filter(|b| streams(&b.span).iter().any(|s| b.state.is_live(now.max(self.watermark(*s)))))
            .collect();
        let confirmed = live.iter().filter(|b| b.state == State::Confirmed).count();
        (live.len() as u64, confirmed as u64)
    }
}

fn replayed(o: &Outcome) -> Outcome {
    let mut o = o.clone();
    if let Outcome::Booked { replayed, .. } | Outcome::Held { replayed, .. } = &mut o {
        *replayed = true;
    }
    o
}

// ---------------------------------------------------------------- operations

#[derive(Clone, Debug)]
enum Target {
    /// A booking that was made (most acts are about real bookings).
    Made(Index),
    /// Any id of the small id space.
    Any(usize, usize),
}

/// How `now` moves before an operation.
#[derive(Clone, Debug)]
enum Clock {
    By(i64),
    /// To a hold's expiry, give or take 1 ms: where `>` and `>=` differ.
    NearExpiry(Index, i64),
}

#[derive(Clone, Debug)]
enum Op {
    Book {
        client: usize,
        actor: usize,
        key: usize,
        /// Raw numbers the unit's kind turns into a span.
        place: (u32, u32),
        wrong_kind: bool,
        qty: u32,
        /// ttl and whether it carries an external reference.
        hold: Option<(u64, bool)>,
        clock: Clock,
    },
    /// Sends an earlier book request again, unchanged.
    Replay {
        client: usize,
        of: Index,
        clock: Clock,
    },
    Act {
        client: usize,
        act: Act,
        target: Target,
        by: Option<usize>,
        clock: Clock,
    },
}

/// How `now` moves before an operation: mostly forward, sometimes past
/// every hold, sometimes to a hold's expiry, and (if `backward`) sometimes
/// back, as a client whose clock runs behind.
fn clock(backward: bool) -> BoxedStrategy<Clock> {
    let by = if backward {
        prop_oneof![6 => 0..300i64, 1 => 900..1500i64, 2 => -700..0i64].boxed()
    } else {
        prop_oneof![6 => 0..300i64, 1 => 900..1500i64].boxed()
    };
    let near = (any::<Index>(), -1..=1i64).prop_map(|(i, off)| Clock::NearExpiry(i, off));
    prop_oneof![8 => by.prop_map(Clock::By), 2 => near].boxed()
}

/// Operation sequences; quantities are mostly `1..=capacity`, sometimes 0
/// or above the capacity (both refused).
fn ops(backward: bool, capacity: u32) -> impl Strategy<Value = Vec<Op>> {
    let clock = clock(backward);
    let qty = prop_oneof![1 => Just(0u32), 12 => 1..=capacity, 1 => capacity + 1..=capacity + 2];
    let ttl = prop_oneof![1 => Just(0u64), 12 => 1..1500u64, 1 => Just(HOLD_MS_MAX)];
    let hold = prop::option::weighted(0.5, (ttl, any::<bool>()));
    let book =
        (0..2usize, 0..3usize, 0..4usize, (0..40u32, 0..40u32), prop::bool::weighted(0.05), qty, hold, clock.clone())
            .prop_map(|(client, actor, key, place, wrong_kind, qty, hold, clock)| Op::Book {
                client,
                actor,
                key,
                place,
                wrong_kind,
                qty,
                hold,
                clock,
            });
    let replay =
        (0..2usize, any::<Index>(), clock.clone()).prop_map(|(client, of, clock)| Op::Replay { client, of, clock });
    let act = prop_oneof![Just(Act::Confirm), Just(Act::Cancel), Just(Act::Release)];
    let any_id = (0..3usize, 0..4usize).prop_map(|(a, k)| Target::Any(a, k));
    let target = prop_oneof![5 => any::<Index>().prop_map(Target::Made), 1 => any_id];
    let by = prop::option::weighted(0.15, 0..3usize);
    let acts = (0..2usize, act, target, by, clock).prop_map(|(client, act, target, by, clock)| Op::Act {
        client,
        act,
        target,
        by,
        clock,
    });
    prop::collection::vec(prop_oneof![5 => book, 2 => replay, 4 => acts], 1..40)
}

/// A capacity in `capacities` and operations sized for it.
fn sized(capacities: std::ops::RangeInclusive<u32>, backward: bool) -> impl Strategy<Value = (u32, Vec<Op>)> {
    capacities.prop_flat_map(move |c| (Just(c), ops(backward, c)))
}

fn span_for(kind: UnitKind, (a, b): (u32, u32), wrong_kind: bool) -> Span {
    let interval = Span::Interval { start: u64::from(a % 30), end: u64::from(a % 30 + 1 + b % 10) };
    let from = a % (DAYS - 1);
    let days = Span::Days { from, to: (from + 1 + b % 3).min(DAYS) };
    match (kind, wrong_kind) {
        (UnitKind::Pool { .. }, false) => Span::Whole,
        (UnitKind::Pool { .. }, true) => interval,
        (UnitKind::Exclusive, false) => interval,
        (UnitKind::Allotment { .. }, false) => days,
        (_, true) => Span::Whole,
    }
}

// ---------------------------------------------------------------- the run

/// Runs `ops` against `Allot` (two clients with their own caches over one
/// store) and the model, comparing as it goes.
fn run(kind: UnitKind, backward: bool, ops: &[Op]) -> Result<(), TestCaseError> {
    let store = MemStore::new();
    let unit = UnitId::new("unit").unwrap();
    block_on(Allot::new(&store).define_units(&[UnitSpec::new("unit", kind, vec![]).unwrap()], 0)).unwrap();
    let mut clients = [Allot::new(&store), Allot::new(&store)];
    let mut model = Model::new(unit.clone(), kind);
    let mut sent: Vec<BookReq> = Vec::new();
    let mut now = T0;
    for (step, op) in ops.iter().enumerate() {
        let (client, clock) = match op {
            Op::Book { client, clock, .. } | Op::Replay { client, clock, .. } | Op::Act { client, clock, .. } => {
                (*client, clock)
            }
        };
        now = match clock {
            Clock::By(dt) => now.saturating_add_signed(*dt),
            Clock::NearExpiry(i, off) => {
                let expiries: Vec<u64> = model
                    .bookings
                    .iter()
                    .filter_map(|b| match b.state {
                        State::Held { expires_at } => Some(expires_at),
                        _ => None,
                    })
                    .collect();
                match expiries.get(i.index(expiries.len().max(1))) {
                    Some(t) if backward => t.saturating_add_signed(*off),
                    Some(t) => t.saturating_add_signed(*off).max(now),
                    None => now,
                }
            }
        };
        let allot = &mut clients[client];
        let book = |r: BookReq, allot: &mut Allot<&MemStore>, model: &mut Model, sent: &mut Vec<BookReq>| {
            let real = block_on(allot.book(&r, now)).map_err(|e| e.code());
            let overlapping = model.overlapping(&r.span, now);
            let want = model.book(&r, now);
            sent.push(r);
            (real, want, overlapping)
        };
        let (real, want, overlapping) = match op {
            Op::Book { actor, key, place, wrong_kind, qty, hold, .. } => {
                let r = BookReq {
                    booking: BookingId::new(ACTORS[*actor], KEYS[*key]).unwrap(),
                    unit: unit.clone(),
                    span: span_for(kind, *place, *wrong_kind),
                    qty: *qty,
                    hold: hold.map(|(ttl_ms, ext)| HoldReq {
                        ttl_ms,
                        ext_ref: ext.then(|| format!("pay-{}-{}", ACTORS[*actor], KEYS[*key])),
                    }),
                };
                book(r, allot, &mut model, &mut sent)
            }
            Op::Replay { of, .. } => {
                if sent.is_empty() {
                    continue;
                }
                let r = sent[of.index(sent.len())].clone();
                book(r, allot, &mut model, &mut sent)
            }
            Op::Act { act, target, by, .. } => {
                let booking = match target {
                    Target::Made(i) if !model.bookings.is_empty() => {
                        model.bookings[i.index(model.bookings.len())].id.clone()
                    }
                    Target::Made(i) => BookingId::new("ada", KEYS[i.index(KEYS.len())]).unwrap(),
                    Target::Any(a, k) => BookingId::new(ACTORS[*a], KEYS[*k]).unwrap(),
                };
                let by = by.map_or_else(|| booking.actor.clone(), |a| Actor::new(ACTORS[a]).unwrap());
                let req = ActReq { by: by.clone(), booking: booking.clone() };
                let real = match act {
                    Act::Confirm => block_on(allot.confirm(&req, now)),
                    Act::Cancel => block_on(allot.cancel(&req, now)),
                    Act::Release => block_on(allot.release(&req, now)),
                }
                .map_err(|e| e.code());
                (real, model.act(*act, &by, &booking, now), Vec::new())
            }
        };
        match (&real, &want) {
            // Which of several overlapping bookings is named is not specified.
            (Ok(Outcome::Overlap { unit: u, with }), Ok(Outcome::Overlap { .. })) => {
                prop_assert_eq!(u, &unit);
                prop_assert!(
                    overlapping.contains(with),
                    "step {}: {:?} names {:?}, not one of {:?}",
                    step,
                    op,
                    with,
                    overlapping
                );
            }
            _ => prop_assert_eq!(&real, &want, "step {} at now={}: {:?}", step, now, op),
        }
        check_store(&store, &model, now, step)?;
    }
    Ok(())
}

/// Verify and the rosters agree with the model at `now`.
fn check_store(store: &MemStore, model: &Model, now: u64, step: usize) -> Result<(), TestCaseError> {
    let acked: Vec<BookingId> = model.bookings.iter().map(|b| b.id.clone()).collect();
    let report = block_on(verify(store, now, &acked, &VerifyOptions::default())).unwrap();
    prop_assert!(report.is_ok(), "step {} at now={}: violations {:?}", step, now, report.violations);
    let (live, confirmed) = model.live_counts(now);
    prop_assert_eq!(
        (report.live_bookings, report.confirmed, report.held),
        (live, confirmed, live - confirmed),
        "step {}",
        step
    );
    prop_assert_eq!(report.claims, model.claims.len() as u64, "step {}", step);

    let days = matches!(model.kind, UnitKind::Allotment { .. }).then_some((0, DAYS));
    let views = block_on(Allot::new(store).roster(&model.unit, days, now)).unwrap();
    let parts = model.all_streams();
    prop_assert_eq!(views.len(), parts.len());
    for (view, part) in views.iter().zip(parts) {
        prop_assert_eq!(view.stream.part, part);
        let eff = now.max(model.watermark(part));
        prop_assert_eq!(view.used, u64::from(model.used(part, eff)), "step {}: {}", step, view.stream);
        let got: Vec<(&BookingId, &str)> = view.entries.iter().map(|e| (&e.booking, e.state)).collect();
        let want: Vec<(&BookingId, &str)> = model.in_stream(part).map(|b| (&b.id, b.state.name(eff))).collect();
        prop_assert_eq!(got, want, "step {}: {}", step, view.stream);
    }
    Ok(())
}

fn config(cases: u32) -> ProptestConfig {
    // No regression files: this suite writes nowhere but stdout.
    ProptestConfig { cases, failure_persistence: None, ..ProptestConfig::default() }
}

proptest! {
    #![proptest_config(config(160))]

    #[test]
    fn pool_matches_model((capacity, ops) in sized(1..=3, true)) {
        run(UnitKind::Pool { capacity }, true, &ops)?;
    }

    #[test]
    fn exclusive_matches_model(ops in ops(true, 1)) {
        run(UnitKind::Exclusive, true, &ops)?;
    }

    #[test]
    fn allotment_matches_model_clock_forward((capacity, ops) in sized(1..=2, false)) {
        run(UnitKind::Allotment { capacity }, false, &ops)?;
    }
}

proptest! {
    #![proptest_config(config(160))]

    #[test]
    fn allotment_matches_model((capacity, ops) in sized(1..=2, true)) {
        run(UnitKind::Allotment { capacity }, true, &ops)?;
    }
}

// ---------------------------------------------------------------- examples

fn bid(actor: &str, key: &str) -> BookingId {
    BookingId::new(actor, key).unwrap()
}

/// A hand-written sequence through the model and `Allot`: the comparison
/// machinery itself must see expiry, the watermark and ownership.
#[test]
fn model_and_allot_agree_on_a_hold_lifecycle() {
    let hold = |ttl| Some((ttl, true));
    let ops = vec![
        Op::Book {
            client: 0,
            actor: 0,
            key: 0,
            place: (0, 0),
            wrong_kind: false,
            qty: 1,
            hold: hold(100),
            clock: Clock::By(0),
        },
        // Another actor may not confirm it.
        Op::Act { client: 1, act: Act::Confirm, target: Target::Any(0, 0), by: Some(1), clock: Clock::By(10) },
        // Full while held; booked once the hold lapsed.
        Op::Book {
            client: 1,
            actor: 1,
            key: 0,
            place: (0, 0),
            wrong_kind: false,
            qty: 1,
            hold: None,
            clock: Clock::By(89),
        },
        Op::Book {
            client: 1,
            actor: 1,
            key: 1,
            place: (0, 0),
            wrong_kind: false,
            qty: 1,
            hold: None,
            clock: Clock::By(1),
        },
        // The owner's clock is behind the stream: still expired.
        Op::Act { client: 0, act: Act::Confirm, target: Target::Any(0, 0), by: None, clock: Clock::By(-50) },
        Op::Act { client: 0, act: Act::Release, target: Target::Any(0, 0), by: None, clock: Clock::By(0) },
        Op::Act { client: 1, act: Act::Cancel, target: Target::Any(1, 1), by: None, clock: Clock::By(0) },
        Op::Act { client: 1, act: Act::Release, target: Target::Any(1, 1), by: None, clock: Clock::By(0) },
    ];
    let mut model = Model::new(UnitId::new("unit").unwrap(), UnitKind::Pool { capacity: 1 });
    let r = |actor: &str, key: &str, hold: Option<u64>| BookReq {
        booking: bid(actor, key),
        unit: UnitId::new("unit").unwrap(),
        span: Span::Whole,
        qty: 1,
        hold: hold.map(|ttl_ms| HoldReq { ttl_ms, ext_ref: Some(format!("pay-{actor}-{key}")) }),
    };
    // What the documentation says, step by step, checked on the model...
    assert!(matches!(model.book(&r("ada", "k0", Some(100)), T0),
            Ok(Outcome::Held { expires_at, .. }) if expires_at == T0 + 100));
    assert_eq!(model.act(Act::Confirm, &Actor::new("bob").unwrap(), &bid("ada", "k0"), T0 + 10), Err("E_NOT_OWNER"));
    assert!(matches!(model.book(&r("bob", "k0", None), T0 + 99), Ok(Outcome::Full { available: 0, .. })));
    assert!(matches!(model.book(&r("bob", "k1", None), T0 + 100), Ok(Outcome::Booked { seat: 1, .. })));
    assert_eq!(model.act(Act::Confirm, &Actor::new("ada").unwrap(), &bid("ada", "k0"), T0 + 50), Err("E_HOLD_EXPIRED"));
    assert!(matches!(
        model.act(Act::Release, &Actor::new("ada").unwrap(), &bid("ada", "k0"), T0 + 50),
        Ok(Outcome::Released { already: true, .. })
    ));
    assert!(matches!(
        model.act(Act::Cancel, &Actor::new("bob").unwrap(), &bid("bob", "k1"), T0 + 50),
        Ok(Outcome::Cancelled { already: false, .. })
    ));
    // ...and the same sequence against allot.
    run(UnitKind::Pool { capacity: 1 }, true, &ops).unwrap();
}

/// Regression (found by the model): a stay decided with an effective time
/// taken from one day's watermark once wrote its events with `at: now` on
/// its other days, so their watermarks stayed behind: a hold that the stay
/// treated as expired came back to life there, and the day ended up over
/// capacity with both bookings confirmable.
#[test]
fn multi_day_booking_keeps_expired_holds_dead() {
    let store = MemStore::new();
    let mut a = Allot::new(&store);
    let spec = UnitSpec::new("room-type", UnitKind::Allotment { capacity: 1 }, vec![]).unwrap();
    block_on(a.define_units(&[spec], 0)).unwrap();
    let unit = UnitId::new("room-type").unwrap();
    let book = |who: &str, from, to, hold: Option<u64>| BookReq {
        booking: bid(who, "r"),
        unit: unit.clone(),
        span: Span::Days { from, to },
        qty: 1,
        hold: hold.map(|ttl_ms| HoldReq { ttl_ms, ext_ref: None }),
    };
    // Day 2: a hold until t=500. Day 1: an event at t=1000 (booked and
    // cancelled, so day 1 is free again).
    let o = block_on(a.book(&book("hold", 2, 3, Some(500)), 0)).unwrap();
    assert!(matches!(o, Outcome::Held { expires_at: 500, .. }), "{o:?}");
    block_on(a.book(&book("x", 1, 2, None), 1000)).unwrap();
    block_on(a.cancel(&ActReq { by: Actor::new("x").unwrap(), booking: bid("x", "r") }, 1000)).unwrap();
    // A client whose clock says 100 books days 1-2: day 1's watermark (1000)
    // makes the hold expired, so day 2 is free. Fine so far.
    let o = block_on(a.book(&book("stay", 1, 3, None), 100)).unwrap();
    assert!(matches!(o, Outcome::Booked { .. }), "{o:?}");
    // Day 2 has the hold (expires 500) and the stay; the stay's event on
    // day 2 carries t=1000, so a reader of day 2 at t=200 sees one live.
    let report = block_on(verify(&store, 200, &[], &VerifyOptions::default())).unwrap();
    assert!(report.is_ok(), "{:?}", report.violations);
    let views = block_on(a.roster(&unit, Some((2, 3)), 200)).unwrap();
    assert!(views[0].used <= 1, "day 2 holds {} places of 1", views[0].used);
    // And the hold's owner cannot confirm it any more.
    let confirm = block_on(a.confirm(&ActReq { by: Actor::new("hold").unwrap(), booking: bid("hold", "r") }, 200));
    assert_eq!(confirm.map_err(|e| e.code()), Err("E_HOLD_EXPIRED"));
}

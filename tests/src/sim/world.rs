//! The world: bookers, their requests, the seeded scheduler, and the checker
//! that compares every outcome with the reference model.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::ops::Bound;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use allot_core::allot::RetireReport;
use allot_core::model::booking_streams;
use allot_core::{
    ActReq, Actor, Allot, BookAnyReq, BookError, BookReq, BookingId, CatalogError, Config, ConfirmError, Event,
    HoldReq, IndexDef, IndexField, IndexQuery, KeyType, KeyValue, Order, Outcome, Pick, Span, StoreError, StreamId,
    UnitId, UnitKind, UnitSpec, VerifyOptions, verify,
};

use super::exec::{poll_once, run};
use super::model::{MEntry, MState, Refusal, eff_of};
use super::rng::Rng;
use super::store::{Handle, Io, Shared};
use super::swarm::Swarm;
use super::{Failure, SimOptions};

/// Where every run's clock starts (ms).
pub const T0: u64 = 1_700_000_000_000;
const INDEX: &str = "by_kind";

/// A time as an offset from `T0` (`+1500`, `-20`).
fn rel(t: u64) -> String {
    format!("{:+}", i128::from(t) - i128::from(T0))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActKind {
    Confirm,
    Cancel,
    Release,
}

impl ActKind {
    fn name(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Cancel => "cancel",
            Self::Release => "release",
        }
    }
}

#[derive(Clone, Debug)]
pub enum Op {
    Book(BookReq),
    BookAny(BookAnyReq),
    Act(ActKind, ActReq),
    /// An admin retires a unit (it takes no new booking).
    Retire(UnitId),
}

impl Op {
    fn booking(&self) -> Option<&BookingId> {
        match self {
            Op::Book(r) => Some(&r.booking),
            Op::BookAny(r) => Some(&r.booking),
            Op::Act(_, r) => Some(&r.booking),
            Op::Retire(_) => None,
        }
    }

    fn describe(&self) -> String {
        let hold = |h: &Option<HoldReq>| h.as_ref().map_or(String::new(), |h| format!(" hold={}ms", h.ttl_ms));
        match self {
            Op::Book(r) => format!("book {} {} {:?} x{}{}", r.booking, r.unit, r.span, r.qty, hold(&r.hold)),
            Op::BookAny(r) => format!(
                "book_any {} {:?}..{:?}{} {:?} x{}{} {:?}",
                r.booking,
                r.query.lo,
                r.query.hi,
                if r.query.reverse { " rev" } else { "" },
                r.span,
                r.qty,
                hold(&r.hold),
                r.pick
            ),
            Op::Act(k, r) => format!("{} {} by {}", k.name(), r.booking, r.by),
            Op::Retire(u) => format!("retire {u}"),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Origin {
    New,
    Duplicate,
    Retry,
    FollowUp,
    Reuse,
    Resubmit,
    Stray,
    /// A malformed request: it must fail with `expect` and write nothing.
    Bad {
        expect: &'static str,
    },
}

#[derive(Clone, Debug)]
struct Request {
    id: u64,
    op: Op,
    origin: Origin,
    not_before: u64,
}

#[derive(Debug)]
enum OpResult {
    Book(Result<Outcome, BookError>),
    Act(Result<Outcome, ConfirmError>),
    Retire(Result<RetireReport, CatalogError>),
}

impl OpResult {
    fn describe(&self) -> String {
        let o = |o: &Outcome| match o {
            Outcome::Booked { unit, seat, replayed, .. } => {
                format!("booked {unit} seat={seat}{}", if *replayed { " (replay)" } else { "" })
            }
            Outcome::Held { unit, seat, expires_at, replayed, .. } => format!(
                "held {unit} seat={seat} until={}{}",
                rel(*expires_at),
                if *replayed { " (replay)" } else { "" }
            ),
            Outcome::Full { unit, available } => format!("full {unit} available={available}"),
            Outcome::Overlap { unit, with } => format!("overlap {unit} with {with:?}"),
            Outcome::Confirmed { already, .. } => format!("confirmed already={already}"),
            Outcome::Cancelled { already, .. } => format!("cancelled already={already}"),
            Outcome::Released { already, .. } => format!("released already={already}"),
            Outcome::SoldOut => "sold-out".into(),
        };
        match self {
            OpResult::Book(Ok(x)) | OpResult::Act(Ok(x)) => o(x),
            OpResult::Book(Err(e)) => format!("error {} ({e})", e.code()),
            OpResult::Act(Err(e)) => format!("error {} ({e})", e.code()),
            OpResult::Retire(Ok(r)) => format!("retired, {} live bookings", r.live_bookings),
            OpResult::Retire(Err(e)) => format!("error {} ({e})", e.code()),
        }
    }

    /// `book:held`, `book_any:sold-out`, `confirm:E_HOLD_EXPIRED`...
    fn kind(&self, op: &Op) -> String {
        let what = match op {
            Op::Book(_) => "book",
            Op::BookAny(_) => "book_any",
            Op::Act(k, _) => k.name(),
            Op::Retire(_) => "retire",
        };
        let how = match self {
            OpResult::Book(Ok(o)) | OpResult::Act(Ok(o)) => match o {
                Outcome::Booked { replayed: true, .. } => "booked-replay",
                Outcome::Held { replayed: true, .. } => "held-replay",
                Outcome::Confirmed { already: true, .. } => "confirmed-already",
                Outcome::Cancelled { already: true, .. } => "cancelled-already",
                Outcome::Released { already: true, .. } => "released-already",
                o => o.status(),
            },
            OpResult::Book(Err(e)) => e.code(),
            OpResult::Act(Err(e)) => e.code(),
            OpResult::Retire(Ok(_)) => "retired",
            OpResult::Retire(Err(e)) => e.code(),
        };
        format!("{what}:{how}")
    }

    fn failed_retryably(&self) -> bool {
        matches!(
            self,
            OpResult::Book(Err(BookError::Store(_) | BookError::Conflict { .. }))
                | OpResult::Act(Err(ConfirmError::Store(_) | ConfirmError::Conflict { .. }))
                | OpResult::Retire(Err(CatalogError::Store(_) | CatalogError::Conflict { .. }))
        )
    }
}

type OpFuture = Pin<Box<dyn Future<Output = (Allot<Handle>, OpResult)>>>;

/// `batched`: an auto-assign goes through `book_any_many` (a batch of one:
/// the group-commit rounds and `Store::decide_group`, under the same faults)
/// instead of `book_any`; both must keep every promise the model checks.
fn op_future(mut allot: Allot<Handle>, op: Op, now: u64, batched: bool) -> OpFuture {
    Box::pin(async move {
        let r = match &op {
            Op::Book(r) => OpResult::Book(allot.book(r, now).await),
            Op::BookAny(r) if batched => OpResult::Book(
                (allot.book_any_many(core::slice::from_ref(r), now).await.pop())
                    .expect("book_any_many answers once per request"),
            ),
            Op::BookAny(r) => OpResult::Book(allot.book_any(r, now).await),
            Op::Act(ActKind::Confirm, r) => OpResult::Act(allot.confirm(r, now).await),
            Op::Act(ActKind::Cancel, r) => OpResult::Act(allot.cancel(r, now).await),
            Op::Act(ActKind::Release, r) => OpResult::Act(allot.release(r, now).await),
            Op::Retire(u) => OpResult::Retire(allot.retire_unit(u, now).await),
        };
        (allot, r)
    })
}

struct Task {
    fut: OpFuture,
    req: Request,
    now: u64,
    /// The history version when the operation started.
    v_start: u64,
}

struct Booker {
    allot: Option<Allot<Handle>>,
    task: Option<Task>,
    /// This booker's clock minus the true time.
    offset: i64,
    sleep_until: u64,
}

#[derive(Clone, Debug)]
struct UnitInfo {
    id: UnitId,
    kind: UnitKind,
    code: u8,
    n: u32,
}

/// What the bookers were told, as the model remembers it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Acked {
    unit: UnitId,
    span: Span,
    qty: u32,
    seat: u32,
    expires_at: Option<u64>,
    /// Acknowledgements with `replayed: false` (at most one may exist).
    fresh: u32,
}

#[derive(Debug, Default)]
struct Acks {
    booked: BTreeMap<BookingId, Acked>,
    /// Acknowledged as confirmed (booked outright, or a hold confirmed).
    confirmed: BTreeSet<BookingId>,
    /// A cancel was ever sent for these.
    cancel_asked: BTreeSet<BookingId>,
    /// Booking requests started, per booking id.
    started: BTreeMap<BookingId, u32>,
    followed: BTreeSet<BookingId>,
    hold_expiries: Vec<u64>,
    /// Booking requests answered `E_CONFLICT` ("nothing was written").
    conflicted: BTreeSet<BookingId>,
    /// Confirms, cancels and releases started, per booking and kind.
    acts_started: BTreeMap<(BookingId, &'static str), u32>,
    /// Of those, the ones answered `E_CONFLICT`.
    acts_conflicted: BTreeSet<(BookingId, &'static str)>,
}

/// One seed's world.
pub struct World {
    pub swarm: Swarm,
    pub shared: Rc<Shared>,
    sched: Rng,
    work: Rng,
    bookers: Vec<Booker>,
    config: Config,
    pending: Vec<Request>,
    sent: Vec<Request>,
    units: Vec<UnitInfo>,
    acks: Acks,
    next_req: u64,
    next_key: u64,
    pub t: u64,
    max_now: u64,
    pub step: u64,
    pub ops: u64,
    /// Finished operations by outcome (`book:held`, `confirm:E_HOLD_EXPIRED`...).
    pub outcomes: BTreeMap<String, u64>,
    verify_every: u64,
}

fn fail(step: u64, what: impl Into<String>) -> Failure {
    Failure { step, what: what.into() }
}

impl World {
    /// `root`: the seed's generator (see [`super::run_seed`]).
    pub fn new(mut root: Rng, swarm: Swarm, shared: Rc<Shared>, opts: &SimOptions) -> Self {
        let sched = root.fork(1);
        let work = root.fork(2);
        let config = Config {
            commit_attempts_max: swarm.commit_attempts,
            window_len: swarm.window,
            unit_cache_max: swarm.unit_cache_max,
            roster_cache_max: swarm.roster_cache_max,
        };
        let bookers =
            (0..swarm.bookers).map(|_| Booker { allot: None, task: None, offset: 0, sleep_until: 0 }).collect();
        let mut units = Vec::new();
        let mut n = 0;
        let mut add = |id: String, kind: UnitKind, code: u8| {
            units.push(UnitInfo { id: UnitId::new(&id).expect("valid unit id"), kind, code, n });
            n += 1;
        };
        for (i, &capacity) in swarm.pools.iter().enumerate() {
            add(format!("p{i}"), UnitKind::Pool { capacity }, 0);
        }
        for (i, &capacity) in swarm.allotments.iter().enumerate() {
            add(format!("a{i}"), UnitKind::Allotment { capacity }, 1);
        }
        for i in 0..swarm.exclusives {
            add(format!("x{i}"), UnitKind::Exclusive, 2);
        }
        Self {
            swarm,
            shared,
            sched,
            work,
            bookers,
            config,
            pending: Vec::new(),
            sent: Vec::new(),
            units,
            acks: Acks::default(),
            next_req: 0,
            next_key: 0,
            t: T0,
            max_now: T0,
            step: 0,
            ops: 0,
            outcomes: BTreeMap::new(),
            verify_every: opts.verify_every,
        }
    }

    fn probe_io(&self) -> usize {
        self.bookers.len()
    }

    fn trace(&self, tokens: &[u64], line: impl FnOnce() -> String) {
        self.shared.st.borrow_mut().trace.note(tokens, line);
    }

    /// Defines the index and the units (no faults).
    pub fn setup(&mut self) -> Result<(), Failure> {
        {
            let mut st = self.shared.st.borrow_mut();
            st.io = vec![Io { faulty: true, ..Io::default() }; self.bookers.len()];
            st.io.push(Io::default()); // the probe / admin connection
            for u in &self.units {
                st.hist.units.insert(u.id.clone(), u.kind);
            }
        }
        let order = if self.swarm.n_desc { Order::Desc } else { Order::Asc };
        let def = IndexDef::new(
            INDEX,
            vec![
                IndexField { attr: "kind".into(), ty: KeyType::U8, order: Order::Asc },
                IndexField { attr: "n".into(), ty: KeyType::U32, order },
            ],
        )
        .map_err(|e| fail(0, format!("setup: {e}")))?;
        let specs: Vec<UnitSpec> = self
            .units
            .iter()
            .map(|u| {
                UnitSpec::new(
                    u.id.as_str(),
                    u.kind,
                    vec![("kind".into(), KeyValue::U8(u.code)), ("n".into(), KeyValue::U32(u.n))],
                )
                .expect("valid unit spec")
            })
            .collect();
        let mut admin = Allot::new(Handle { shared: self.shared.clone(), booker: self.probe_io() });
        run(async {
            admin.define_index(&def, T0).await.map_err(|e| e.to_string())?;
            admin.define_units(&specs, T0).await.map_err(|e| e.to_string())
        })
        .map_err(|e| fail(0, format!("setup: {e}")))?;
        self.check_bad()
    }

    fn check_bad(&self) -> Result<(), Failure> {
        match self.shared.st.borrow().bad.first() {
            Some(b) => Err(fail(self.step, b.clone())),
            None => Ok(()),
        }
    }

    // ------------------------------------------------------------ requests

    fn new_booking(&mut self) -> BookingId {
        let a = self.work.below(self.swarm.actors);
        self.next_key += 1;
        BookingId::new(&format!("u{a}"), &format!("k{}", self.next_key)).expect("valid booking id")
    }

    fn hold(&mut self) -> Option<HoldReq> {
        if !self.work.chance(self.swarm.hold_pm) {
            return None;
        }
        // Mostly long enough to be confirmed in time, sometimes not.
        let max = self.swarm.ttl_max;
        let ttl_ms = if self.work.chance(800) { self.work.range(max / 4, max) } else { self.work.range(1, max) };
        let ext_ref = self.work.chance(self.swarm.ext_ref_pm).then(|| format!("pay-{}", self.next_key));
        Some(HoldReq { ttl_ms, ext_ref })
    }

    fn span_for(&mut self, kind: UnitKind) -> Span {
        match kind {
            UnitKind::Pool { .. } => Span::Whole,
            UnitKind::Allotment { .. } => {
                let days = self.swarm.days;
                let from = self.work.below(u64::from(days)) as u32;
                let len = self.work.range(1, u64::from((days - from).min(3))) as u32;
                Span::Days { from, to: from + len }
            }
            UnitKind::Exclusive => {
                let h = self.swarm.horizon;
                let start = self.work.below(h);
                let len = self.work.range(1, (h - start).min(4));
                Span::Interval { start, end: start + len }
            }
        }
    }

    fn qty_for(&mut self, kind: UnitKind) -> u32 {
        match kind {
            UnitKind::Exclusive => 1,
            UnitKind::Pool { capacity } | UnitKind::Allotment { capacity } => {
                self.work.range(1, u64::from(capacity.min(self.swarm.qty_max))) as u32
            }
        }
    }

    fn units_of(&self, code: u8) -> Vec<usize> {
        (0..self.units.len()).filter(|&i| self.units[i].code == code).collect()
    }

    /// A malformed request and the error code it must get.
    fn bad_request(&mut self) -> (Op, &'static str) {
        let booking = self.new_booking();
        let u = self.units[self.work.below(self.units.len() as u64) as usize].clone();
        let span = self.span_for(u.kind);
        let book = BookReq { booking: booking.clone(), unit: u.id.clone(), span, qty: 1, hold: None };
        match self.work.below(6) {
            0 => (Op::Book(BookReq { qty: 0, ..book }), "E_QTY_INVALID"),
            1 => (Op::Book(BookReq { qty: u.kind.capacity() + 1, ..book }), "E_QTY_INVALID"),
            2 => {
                let span = match u.kind {
                    UnitKind::Pool { .. } => Span::Interval { start: 0, end: 1 },
                    _ => Span::Whole,
                };
                (Op::Book(BookReq { span, ..book }), "E_SPAN_KIND")
            }
            3 => (Op::Book(BookReq { hold: Some(HoldReq { ttl_ms: 0, ext_ref: None }), ..book }), "E_TTL_INVALID"),
            4 => (Op::Book(BookReq { unit: UnitId::new("nope").expect("valid id"), ..book }), "E_UNKNOWN_UNIT"),
            _ => {
                let query = IndexQuery::all("nope");
                let req = BookAnyReq { booking, query, span, qty: 1, hold: None, pick: Pick::First };
                (Op::BookAny(req), "E_UNKNOWN_INDEX")
            }
        }
    }

    fn book_on(&mut self, booking: BookingId, code: u8) -> Option<Op> {
        let mut of = self.units_of(code);
        {
            // Mostly units still open for booking.
            let st = self.shared.st.borrow();
            let open: Vec<usize> =
                of.iter().copied().filter(|&i| !st.hist.retired.contains_key(&self.units[i].id)).collect();
            if !open.is_empty() && self.work.chance(900) {
                of = open;
            }
        }
        if of.is_empty() {
            return None;
        }
        let u = self.units[*self.work.pick(&of)].clone();
        let span = self.span_for(u.kind);
        let qty = self.qty_for(u.kind);
        let hold = self.hold();
        Some(Op::Book(BookReq { booking, unit: u.id, span, qty, hold }))
    }

    fn book_any(&mut self, booking: BookingId) -> Option<Op> {
        let codes: BTreeSet<u8> = self.units.iter().map(|u| u.code).collect();
        let codes: Vec<u8> = codes.into_iter().collect();
        let code = *self.work.pick(&codes);
        let kind = self.units[*self.work.pick(&self.units_of(code))].kind;
        let span = self.span_for(kind);
        let qty = self.work.range(1, u64::from(self.swarm.qty_max)) as u32;
        let hold = self.hold();
        let total = self.units.len() as u64;
        let lo = match self.work.below(5) {
            0 => Bound::Unbounded,
            1 | 2 => Bound::Included(vec![KeyValue::U8(code)]),
            3 => Bound::Included(vec![KeyValue::U8(code), KeyValue::U32(self.work.below(total + 1) as u32)]),
            _ => Bound::Excluded(vec![KeyValue::U8(code), KeyValue::U32(self.work.below(total + 1) as u32)]),
        };
        let hi_code = if self.work.chance(800) { code } else { 2 };
        let hi = match self.work.below(5) {
            0 => Bound::Unbounded,
            1 | 2 => Bound::Included(vec![KeyValue::U8(hi_code)]),
            3 => Bound::Included(vec![KeyValue::U8(hi_code), KeyValue::U32(self.work.below(total + 1) as u32)]),
            _ => Bound::Excluded(vec![KeyValue::U8(hi_code), KeyValue::U32(self.work.below(total + 1) as u32)]),
        };
        let reverse = self.work.chance(self.swarm.reverse_pm);
        let pick = if self.work.chance(self.swarm.spread_pm) { Pick::Spread } else { Pick::First };
        let query = IndexQuery { index: INDEX.into(), lo, hi, reverse };
        Some(Op::BookAny(BookAnyReq { booking, query, span, qty, hold, pick }))
    }

    fn stray_act(&mut self) -> Op {
        let kind = *self.work.pick(&[ActKind::Confirm, ActKind::Cancel, ActKind::Release]);
        let known: Vec<BookingId> = self.acks.booked.keys().cloned().collect();
        let booking =
            if known.is_empty() || self.work.chance(300) { self.new_booking() } else { self.work.pick(&known).clone() };
        let by = if self.work.chance(500) {
            booking.actor.clone()
        } else {
            Actor::new(&format!("u{}", self.work.below(self.swarm.actors + 1))).expect("valid actor")
        };
        Op::Act(kind, ActReq { by, booking })
    }

    /// A new request (and maybe its duplicate, left waiting).
    fn generate(&mut self) -> Request {
        let retired = self.shared.st.borrow().hist.retired.len();
        // Retire at most half of the units: the rest of the run needs some.
        if self.work.chance(self.swarm.retire_pm) && retired * 2 < self.units.len() {
            let u = self.units[self.work.below(self.units.len() as u64) as usize].id.clone();
            return self.request(Op::Retire(u), Origin::New, 0);
        }
        if self.work.chance(self.swarm.bad_pm) {
            let (op, expect) = self.bad_request();
            return self.request(op, Origin::Bad { expect }, 0);
        }
        let w = &self.swarm.weights;
        let weights = [w.pool, w.allotment, w.exclusive, w.any, w.stray_act, w.reuse, w.resubmit];
        loop {
            let kind = self.work.weighted(&weights).unwrap_or(3);
            let (op, origin) = match kind {
                0..=2 => {
                    let b = self.new_booking();
                    match self.book_on(b, kind as u8) {
                        Some(op) => (op, Origin::New),
                        None => continue,
                    }
                }
                3 => {
                    let b = self.new_booking();
                    match self.book_any(b) {
                        Some(op) => (op, Origin::New),
                        None => continue,
                    }
                }
                4 => (self.stray_act(), Origin::Stray),
                5 => {
                    if self.sent.is_empty() {
                        continue;
                    }
                    let Some(b) = self.work.pick(&self.sent).op.booking().cloned() else { continue };
                    let code = self.units[self.work.below(self.units.len() as u64) as usize].code;
                    match self.book_on(b, code) {
                        Some(op) => (op, Origin::Reuse),
                        None => continue,
                    }
                }
                _ => {
                    if self.sent.is_empty() {
                        continue;
                    }
                    (self.work.pick(&self.sent).op.clone(), Origin::Resubmit)
                }
            };
            return self.request(op, origin, 0);
        }
    }

    fn request(&mut self, op: Op, origin: Origin, not_before: u64) -> Request {
        self.next_req += 1;
        let r = Request { id: self.next_req, op, origin, not_before };
        if matches!(r.op, Op::Book(_) | Op::BookAny(_)) && matches!(origin, Origin::New | Origin::Reuse) {
            if self.sent.len() >= 256 {
                let i = self.work.below(256) as usize;
                self.sent[i] = r.clone();
            } else {
                self.sent.push(r.clone());
            }
        }
        if matches!(origin, Origin::New | Origin::Reuse | Origin::Stray | Origin::Bad { .. })
            && self.work.chance(self.swarm.duplicate_pm)
        {
            self.shared.st.borrow_mut().counts.duplicate += 1;
            let origin = if matches!(origin, Origin::Bad { .. }) { origin } else { Origin::Duplicate };
            let dup = Request { origin, ..r.clone() };
            self.trace(&[0xd0, r.id], || format!("    request #{} will be delivered twice", r.id));
            self.pending.push(dup);
        }
        r
    }

    fn next_request(&mut self) -> Request {
        let ready: Vec<usize> = (0..self.pending.len()).filter(|&i| self.pending[i].not_before <= self.t).collect();
        if ready.is_empty() || !self.work.chance(self.swarm.take_pending_pm) {
            return self.generate();
        }
        let i = if self.swarm.reorder { *self.work.pick(&ready) } else { ready[0] };
        if i != ready[0] {
            self.shared.st.borrow_mut().counts.reorder += 1;
        }
        self.pending.remove(i)
    }

    // ------------------------------------------------------------ scheduling

    fn jump_clock(&mut self, b: usize) {
        if !self.work.chance(self.swarm.clock_pm) {
            return;
        }
        let ttl = self.swarm.ttl_max as i64;
        let t = self.t as i64;
        let offset = match self.work.below(4) {
            0 if !self.acks.hold_expiries.is_empty() => {
                // Just around a hold's expiry.
                let exp = *self.work.pick(&self.acks.hold_expiries) as i64;
                exp + self.work.range(0, 4) as i64 - 2 - t
            }
            1 => self.bookers[b].offset + self.work.range(1, 2 * ttl as u64) as i64,
            2 => self.bookers[b].offset - self.work.range(1, 2 * ttl as u64) as i64,
            _ => 0,
        };
        self.bookers[b].offset = offset.clamp(-(1 << 40), 1 << 40);
        self.shared.st.borrow_mut().counts.clock_jump += 1;
        let o = self.bookers[b].offset;
        self.trace(&[0xc1, b as u64, o as u64], || format!("    b{b} clock jumps to offset {o:+}ms"));
    }

    fn start(&mut self, b: usize) {
        let req = self.next_request();
        self.jump_clock(b);
        let now = (self.t as i64 + self.bookers[b].offset).max(1) as u64;
        self.max_now = self.max_now.max(now);
        match &req.op {
            Op::Book(r) => *self.acks.started.entry(r.booking.clone()).or_default() += 1,
            Op::BookAny(r) => *self.acks.started.entry(r.booking.clone()).or_default() += 1,
            Op::Act(k, r) => {
                if *k == ActKind::Cancel {
                    self.acks.cancel_asked.insert(r.booking.clone());
                }
                *self.acks.acts_started.entry((r.booking.clone(), k.name())).or_default() += 1;
            }
            Op::Retire(_) => {}
        }
        let v_start = {
            let mut st = self.shared.st.borrow_mut();
            let v = st.hist.version;
            let io = &mut st.io[b];
            io.floor = v;
            io.injected = 0;
            io.delay = 0;
            v
        };
        let allot = self.bookers[b]
            .allot
            .take()
            .unwrap_or_else(|| Allot::with_config(Handle { shared: self.shared.clone(), booker: b }, self.config));
        let (step, t, id) = (self.step, self.t - T0, req.id);
        self.trace(&[0x57, step, b as u64, id, now], || {
            format!("step={step} t=+{t} b{b} starts #{id} ({:?}) now={} {}", req.origin, rel(now), req.op.describe())
        });
        // Every other request id auto-assigns through the batch path.
        let fut = op_future(allot, req.op.clone(), now, req.id % 2 == 1);
        self.bookers[b].task = Some(Task { fut, req, now, v_start });
    }

    fn crash(&mut self, b: usize) {
        let Some(task) = self.bookers[b].task.take() else { return };
        self.bookers[b].allot = None;
        drop(task.fut);
        {
            let mut st = self.shared.st.borrow_mut();
            st.counts.crash += 1;
            st.io[b].delay = 0;
        }
        let (step, id) = (self.step, task.req.id);
        self.trace(&[0xcc, step, b as u64, id], || format!("step={step} b{b} crashes during #{id}; its cache is lost"));
        if self.work.chance(self.swarm.retry_pm) {
            self.resend(&task.req);
        }
    }

    fn resend(&mut self, req: &Request) {
        let nb = self.t + self.work.range(0, 2 * self.swarm.dt_max);
        let origin = if matches!(req.origin, Origin::Bad { .. }) { req.origin } else { Origin::Retry };
        let r = self.request(req.op.clone(), origin, nb);
        self.pending.push(r);
    }

    fn poll(&mut self, b: usize) -> Result<(), Failure> {
        let Some(task) = self.bookers[b].task.as_mut() else { return Ok(()) };
        let (step, id) = (self.step, task.req.id);
        match poll_once(task.fut.as_mut()) {
            Poll::Pending => {
                let (d, call) = {
                    let mut st = self.shared.st.borrow_mut();
                    (std::mem::take(&mut st.io[b].delay), st.io[b].call)
                };
                if d > 0 {
                    self.bookers[b].sleep_until = self.step + d;
                }
                self.trace(&[0x9a, step, b as u64, id], || format!("step={step} b{b} runs #{id} up to its {call}"));
                Ok(())
            }
            Poll::Ready((allot, result)) => {
                let task = self.bookers[b].task.take().expect("a task was running");
                self.bookers[b].allot = Some(allot);
                self.finish(b, task, result)
            }
        }
    }

    /// One scheduler step.
    /// Sets the step and lets the in-flight commits due by now land.
    fn tick(&mut self) -> Result<(), Failure> {
        self.step += 1;
        self.shared.st.borrow_mut().step = self.step;
        self.shared.land_in_flight(self.step);
        self.check_bad()
    }

    pub fn step_once(&mut self) -> Result<(), Failure> {
        self.tick()?;
        self.t += self.sched.range(0, self.swarm.dt_max);
        let b = self.sched.below(self.bookers.len() as u64) as usize;
        if self.bookers[b].sleep_until > self.step {
            let step = self.step;
            self.trace(&[0x5e, step, b as u64], || format!("step={step} b{b} is stalled"));
        } else if self.bookers[b].task.is_some() {
            if self.sched.chance(self.swarm.crash_pm) {
                self.crash(b);
            } else {
                self.poll(b)?;
            }
        } else {
            self.start(b);
            self.poll(b)?;
        }
        self.check_bad()?;
        if self.verify_every > 0 && self.step.is_multiple_of(self.verify_every) {
            self.verify_now(self.t)?;
        }
        Ok(())
    }

    /// Lets every running operation finish (no new requests, no crashes).
    pub fn drain(&mut self) -> Result<(), Failure> {
        let mut polls = 0u64;
        loop {
            let busy: Vec<usize> = (0..self.bookers.len()).filter(|&b| self.bookers[b].task.is_some()).collect();
            if busy.is_empty() {
                self.shared.land_in_flight(u64::MAX);
                return self.check_bad();
            }
            polls += 1;
            if polls > 1_000_000 {
                return Err(fail(self.step, "livelock: operations still running after 1000000 polls"));
            }
            self.tick()?;
            let b = *self.sched.pick(&busy);
            self.poll(b)?;
            self.check_bad()?;
        }
    }

    // ------------------------------------------------------------ checking

    fn acknowledged(&self) -> Vec<BookingId> {
        self.acks.booked.keys().cloned().collect()
    }

    fn verify_now(&self, now: u64) -> Result<(), Failure> {
        let acked = self.acknowledged();
        let report = run(verify(&self.shared.inner, now, &acked, &VerifyOptions::default()))
            .map_err(|e| fail(self.step, format!("verify failed: {e}")))?;
        match report.violations.first() {
            Some(v) => Err(fail(self.step, format!("verify: {} {v:?}", v.kind()))),
            None => Ok(()),
        }
    }

    /// The units a `book_any` may land on: in the query's range, and able
    /// to take the span and quantity.
    fn candidates(&self, q: &IndexQuery, span: &Span, qty: u32) -> Vec<UnitId> {
        let ord = |n: u32| if self.swarm.n_desc { u32::MAX - n } else { n };
        let key_cmp = |u: &UnitInfo, bound: &[KeyValue]| -> Ordering {
            let mut o = Ordering::Equal;
            if let Some(KeyValue::U8(c)) = bound.first() {
                o = u.code.cmp(c);
            }
            if o == Ordering::Equal
                && let Some(KeyValue::U32(n)) = bound.get(1)
            {
                o = ord(u.n).cmp(&ord(*n));
            }
            o
        };
        self.units
            .iter()
            .filter(|u| match &q.lo {
                Bound::Unbounded => true,
                Bound::Included(v) => key_cmp(u, v) != Ordering::Less,
                Bound::Excluded(v) => key_cmp(u, v) == Ordering::Greater,
            })
            .filter(|u| match &q.hi {
                Bound::Unbounded => true,
                Bound::Included(v) => key_cmp(u, v) != Ordering::Greater,
                Bound::Excluded(v) => key_cmp(u, v) == Ordering::Less,
            })
            .filter(|u| span.validate(&u.kind).is_ok() && qty <= u.kind.capacity())
            .map(|u| u.id.clone())
            .collect()
    }

    fn store_error_ok(e: &StoreError, injected: u32) -> Result<(), String> {
        match e {
            StoreError::Aborted(_) | StoreError::OutcomeUnknown(_) | StoreError::Unavailable(_) if injected > 0 => {
                Ok(())
            }
            _ => Err(format!("store error {} ({e}) but no fault was injected into this operation", e.code())),
        }
    }

    fn check_book(&self, task: &Task, r: &Result<Outcome, BookError>, injected: u32) -> Result<(), String> {
        let st = self.shared.st.borrow();
        let h = &st.hist;
        let (lo, hi) = (task.v_start, h.version);
        let (booking, span, qty, hold, fingerprint, candidates, any) = match &task.req.op {
            Op::Book(b) => (&b.booking, b.span, b.qty, b.hold.as_ref(), b.fingerprint(), vec![b.unit.clone()], false),
            Op::BookAny(b) => {
                let c = self.candidates(&b.query, &b.span, b.qty);
                (&b.booking, b.span, b.qty, b.hold.as_ref(), b.fingerprint(), c, true)
            }
            Op::Act(..) | Op::Retire(_) => return Err("a booking result for another operation".into()),
        };
        if let Origin::Bad { expect } = task.req.origin {
            if h.claim(booking).is_some() {
                return Err("the malformed request left a claim".into());
            }
            return match r {
                Err(e) if e.code() == expect => Ok(()),
                // Checked before the quantity against the capacity.
                Err(BookError::UnitRetired { .. }) if candidates.first().is_some_and(|u| h.retired.contains_key(u)) => {
                    Ok(())
                }
                Err(BookError::Store(e)) => Self::store_error_ok(e, injected),
                other => Err(format!("a malformed request must fail with {expect}, got {other:?}")),
            };
        }
        match r {
            Ok(
                o @ (Outcome::Booked { booking: ob, unit, span: os, qty: oq, seat, replayed }
                | Outcome::Held { booking: ob, unit, span: os, qty: oq, seat, replayed, .. }),
            ) => {
                let expires_at = match o {
                    Outcome::Held { expires_at, .. } => Some(*expires_at),
                    _ => None,
                };
                if ob != booking || *os != span || *oq != qty {
                    return Err("the outcome names another request".into());
                }
                if hold.is_some() != expires_at.is_some() {
                    return Err("a hold was answered as a booking, or the reverse".into());
                }
                if !candidates.contains(unit) {
                    return Err(format!("booked {unit}, which the request does not allow"));
                }
                let Some(claim) = h.claim(booking) else {
                    return Err("acknowledged, but the store has no claim for it (lost)".into());
                };
                if *claim.request != *fingerprint {
                    return Err("acknowledged, but the claim is for a different request".into());
                }
                if claim.unit != *unit
                    || claim.span != span
                    || claim.qty != qty
                    || claim.seat != *seat
                    || claim.hold.as_ref().map(|h| h.expires_at) != expires_at
                {
                    return Err(format!("the acknowledgement disagrees with the stored claim {claim:?}"));
                }
                for s in booking_streams(unit, &span) {
                    match h.models.get(&s).and_then(|m| m.find(booking)) {
                        Some(e) if e.qty == qty && e.span == span => {}
                        _ => return Err(format!("acknowledged, but missing from {s} (lost)")),
                    }
                }
                if !replayed {
                    // This operation's own commit created the booking: it was
                    // decided on exactly the state before that commit.
                    let vc = h.claims.get(booking).map_or(0, |(v, _)| *v);
                    let streams = booking_streams(unit, &span);
                    let before: Vec<_> = streams.iter().map(|s| h.state_at(s, vc.saturating_sub(1))).collect();
                    let eff = eff_of(&before, task.now);
                    if claim.at != eff {
                        return Err(format!(
                            "stamped at {}, but the decision's effective time max(now, watermarks) was {eff}",
                            claim.at
                        ));
                    }
                    let want_seat = match h.units.get(unit) {
                        Some(UnitKind::Exclusive) | None => 1,
                        Some(_) => before.first().map_or(0, |s| s.used(eff)) + 1,
                    };
                    if u64::from(*seat) != want_seat {
                        return Err(format!("seat {seat}, but {} places were live before it", want_seat - 1));
                    }
                    if let (Some(hr), Some(exp)) = (hold, expires_at)
                        && exp != claim.at + hr.ttl_ms
                    {
                        return Err(format!("hold expires at {exp}, not decision time + ttl {}", claim.at + hr.ttl_ms));
                    }
                }
                if let Some(prev) = self.acks.booked.get(booking) {
                    let same = prev.unit == *unit
                        && prev.span == span
                        && prev.qty == qty
                        && prev.seat == *seat
                        && prev.expires_at == expires_at;
                    if !same {
                        return Err(format!("acknowledged twice with different outcomes (first {prev:?})"));
                    }
                    if !replayed && prev.fresh > 0 {
                        return Err("acknowledged as new twice: the request was applied twice".into());
                    }
                }
                Ok(())
            }
            Ok(Outcome::Full { unit, available }) => {
                if any {
                    return Err("book_any answered Full".into());
                }
                if *unit != candidates[0] || *available >= qty {
                    return Err("Full names another unit or enough places".into());
                }
                let refusal =
                    Refusal { booking, unit, span, qty, now: task.now, available: Some(*available), with: None };
                if !h.refusable(&refusal, lo, hi) {
                    return Err(format!(
                        "Full with {available} available, but the model had room (or another count) at every state the request could have seen: a slot blocked by an expired hold?"
                    ));
                }
                Ok(())
            }
            Ok(Outcome::Overlap { unit, with }) => {
                if any {
                    return Err("book_any answered Overlap".into());
                }
                if *unit != candidates[0] || !with.overlaps(&span) {
                    return Err("Overlap names another unit or a span that does not overlap".into());
                }
                let refusal = Refusal { booking, unit, span, qty, now: task.now, available: None, with: Some(*with) };
                if !h.refusable(&refusal, lo, hi) {
                    return Err(format!(
                        "Overlap with {with:?}, but no live booking with that span overlapped at any state the request could have seen: a slot blocked by an expired hold?"
                    ));
                }
                Ok(())
            }
            Ok(Outcome::SoldOut) => {
                if !any {
                    return Err("book answered SoldOut".into());
                }
                if h.claim_at(booking, lo).is_some() {
                    // Claims are never removed: its claim was there for
                    // the whole operation, and a retry gets what it got.
                    return Err(
                        "sold out, but the request was claimed before it began (a retry not answered from its claim)"
                            .into(),
                    );
                }
                for unit in &candidates {
                    if h.retired.get(unit).is_some_and(|v| *v <= hi) {
                        continue; // retired meanwhile: it left the index
                    }
                    let refusal = Refusal { booking, unit, span, qty, now: task.now, available: None, with: None };
                    if !h.refusable(&refusal, lo, hi) {
                        return Err(format!("sold out, but {unit} could take it at every state the request could see"));
                    }
                }
                Ok(())
            }
            Ok(o) => Err(format!("a booking answered {}", o.status())),
            Err(BookError::IdempotencyMismatch { .. }) => match h.claim(booking) {
                Some(c) if *c.request != *fingerprint => Ok(()),
                _ => Err("idempotency mismatch, but no claim with another payload exists".into()),
            },
            Err(BookError::Conflict { .. }) => {
                if self.acks.started.get(booking) == Some(&1) && h.claim(booking).is_some() {
                    return Err("a conflict error (nothing written), but the request's claim exists".into());
                }
                Ok(())
            }
            Err(BookError::UnitRetired { unit }) => {
                if any || !h.retired.contains_key(&candidates[0]) || candidates[0].as_str() != unit {
                    return Err("unit retired, but it is not".into());
                }
                Ok(())
            }
            Err(BookError::Store(e)) => Self::store_error_ok(e, injected),
            Err(e) => Err(format!("unexpected error {} ({e})", e.code())),
        }
    }

    fn check_retire(&self, task: &Task, r: &Result<RetireReport, CatalogError>, injected: u32) -> Result<(), String> {
        let st = self.shared.st.borrow();
        let h = &st.hist;
        let Op::Retire(unit) = &task.req.op else { return Err("a retire result for another operation".into()) };
        match r {
            Ok(report) => {
                let def = StreamId::new(unit, allot_core::Part::Def);
                let retirements = h
                    .streams
                    .get(&def)
                    .map_or(0, |evs| evs.iter().filter(|(_, e)| matches!(e, Event::UnitRetired { .. })).count());
                if report.unit != *unit || retirements != 1 {
                    return Err(format!("retired, but the definition stream has {retirements} retirements"));
                }
                Ok(())
            }
            Err(CatalogError::UnitRetired { .. }) if h.retired.contains_key(unit) => Ok(()),
            Err(CatalogError::Conflict { .. }) => Ok(()),
            Err(CatalogError::Store(e)) => Self::store_error_ok(e, injected),
            Err(e) => Err(format!("unexpected error {} ({e})", e.code())),
        }
    }

    fn check_act(&self, task: &Task, r: &Result<Outcome, ConfirmError>, injected: u32) -> Result<(), String> {
        let st = self.shared.st.borrow();
        let h = &st.hist;
        let (lo, hi) = (task.v_start, h.version);
        let Op::Act(kind, req) = &task.req.op else { return Err("an act result for a booking".into()) };
        let booking = &req.booking;
        let owner = req.by == booking.actor;
        let streams: Vec<StreamId> = h.claim(booking).map(|c| booking_streams(&c.unit, &c.span)).unwrap_or_default();
        let has_event = |pred: &dyn Fn(&Event) -> bool| {
            !streams.is_empty()
                && streams.iter().all(|s| h.streams.get(s).is_some_and(|evs| evs.iter().any(|(_, e)| pred(e))))
        };
        let at_some_version = |pred: &dyn Fn(&MEntry, u64) -> bool| {
            !streams.is_empty()
                && h.at_some_version(&streams, lo, hi, |states| {
                    let eff = eff_of(states, task.now);
                    states.iter().all(|s| s.find(booking).is_some_and(|e| pred(e, eff)))
                })
        };
        let gone = |e: &MEntry, eff: u64| match e.state {
            MState::Cancelled | MState::Released => true,
            MState::Held { .. } => !e.live(eff),
            MState::Confirmed => false,
        };
        if let Ok(o) = r {
            if !owner {
                return Err(format!("{} acted on {booking} without owning it", req.by));
            }
            let (ob, already) = match (kind, o) {
                (ActKind::Confirm, Outcome::Confirmed { booking, already })
                | (ActKind::Cancel, Outcome::Cancelled { booking, already })
                | (ActKind::Release, Outcome::Released { booking, already }) => (booking, *already),
                _ => return Err(format!("{} answered {}", kind.name(), o.status())),
            };
            if ob != booking {
                return Err("the outcome names another booking".into());
            }
            let ok = match (kind, already) {
                (ActKind::Confirm, false) => {
                    has_event(&|e| matches!(e, Event::Confirmed { booking: b, .. } if b == booking))
                }
                (ActKind::Cancel, false) => {
                    has_event(&|e| matches!(e, Event::Cancelled { booking: b, .. } if b == booking))
                }
                (ActKind::Release, false) => {
                    has_event(&|e| matches!(e, Event::Released { booking: b, .. } if b == booking))
                }
                (ActKind::Confirm, true) => at_some_version(&|e, _| e.state == MState::Confirmed),
                (ActKind::Cancel | ActKind::Release, true) => at_some_version(&gone),
            };
            return if ok {
                Ok(())
            } else if already {
                Err("'already', but the booking was never in that state while the request ran".into())
            } else {
                Err("acknowledged, but the event is not in every stream of the booking (lost)".into())
            };
        }
        match r {
            Ok(_) => Ok(()),
            Err(ConfirmError::UnknownBooking { .. }) => {
                if h.claim_at(booking, lo).is_some() {
                    return Err("unknown booking, but its claim existed when the request started".into());
                }
                Ok(())
            }
            Err(ConfirmError::NotOwner { .. }) => {
                if owner || streams.is_empty() {
                    return Err("not owner, but the actor owns it (or it does not exist)".into());
                }
                Ok(())
            }
            Err(ConfirmError::HoldExpired { expires_at, .. }) => {
                let ok = *kind == ActKind::Confirm
                    && at_some_version(&|e, eff| {
                        matches!(e.state, MState::Held { expires_at: x } if x == *expires_at) && !e.live(eff)
                    });
                if !ok {
                    return Err("hold expired, but it was never an expired hold while the request ran".into());
                }
                Ok(())
            }
            Err(ConfirmError::NotHeld { .. }) => {
                let ok = match kind {
                    ActKind::Confirm => {
                        at_some_version(&|e, _| matches!(e.state, MState::Cancelled | MState::Released))
                    }
                    ActKind::Release => at_some_version(&|e, _| e.state == MState::Confirmed),
                    ActKind::Cancel => false,
                };
                if !ok {
                    return Err("not held, but the booking was never in such a state while the request ran".into());
                }
                Ok(())
            }
            Err(ConfirmError::Conflict { .. }) => Ok(()),
            Err(ConfirmError::Store(e)) => Self::store_error_ok(e, injected),
            Err(e) => Err(format!("unexpected error {} ({e})", e.code())),
        }
    }

    fn finish(&mut self, b: usize, task: Task, result: OpResult) -> Result<(), Failure> {
        self.ops += 1;
        *self.outcomes.entry(result.kind(&task.req.op)).or_default() += 1;
        let injected = self.shared.st.borrow().io[b].injected;
        let text = result.describe();
        let (step, id) = (self.step, task.req.id);
        {
            let mut st = self.shared.st.borrow_mut();
            st.trace.mix(0xf1);
            st.trace.mix(step);
            st.trace.mix(id);
            st.trace.mix_str(&text);
            if st.trace.on {
                st.trace.lines.push(format!("step={step} b{b} ends #{id}: {text}"));
            }
        }
        let verdict = match &result {
            OpResult::Book(r) => self.check_book(&task, r, injected),
            OpResult::Act(r) => self.check_act(&task, r, injected),
            OpResult::Retire(r) => self.check_retire(&task, r, injected),
        };
        if let Err(why) = verdict {
            return Err(fail(
                self.step,
                format!("#{id} {} (now={}) -> {text}: {why}", task.req.op.describe(), rel(task.now)),
            ));
        }
        self.consequences(&task, &result);
        Ok(())
    }

    /// Records acknowledgements and sends what the caller would send next.
    fn consequences(&mut self, task: &Task, result: &OpResult) {
        match result {
            OpResult::Book(Ok(
                o @ (Outcome::Booked { booking, unit, span, qty, seat, replayed }
                | Outcome::Held { booking, unit, span, qty, seat, replayed, .. }),
            )) => {
                let expires_at = match o {
                    Outcome::Held { expires_at, .. } => Some(*expires_at),
                    _ => None,
                };
                let a = self.acks.booked.entry(booking.clone()).or_insert(Acked {
                    unit: unit.clone(),
                    span: *span,
                    qty: *qty,
                    seat: *seat,
                    expires_at,
                    fresh: 0,
                });
                a.fresh += u32::from(!replayed);
                let by = booking.actor.clone();
                if !self.acks.followed.insert(booking.clone()) {
                    return;
                }
                let req = ActReq { by, booking: booking.clone() };
                match expires_at {
                    None => {
                        self.acks.confirmed.insert(booking.clone());
                        if self.work.chance(self.swarm.cancel_booked_pm) {
                            let nb = self.t + self.work.range(0, 4 * self.swarm.dt_max + 1);
                            let r = self.request(Op::Act(ActKind::Cancel, req), Origin::FollowUp, nb);
                            self.pending.push(r);
                        }
                    }
                    Some(exp) => {
                        self.acks.hold_expiries.push(exp);
                        let ttl = exp.saturating_sub(task.now).max(1);
                        // Mostly in time; sometimes late (after the expiry).
                        let nb = self.t
                            + if self.work.chance(800) {
                                self.work.range(0, ttl / 2)
                            } else {
                                self.work.range(0, 2 * ttl)
                            };
                        let x = self.work.below(1000) as u32;
                        let s = &self.swarm;
                        let kind = if x < s.confirm_pm {
                            Some(ActKind::Confirm)
                        } else if x < s.confirm_pm + s.release_pm {
                            Some(ActKind::Release)
                        } else if x < s.confirm_pm + s.release_pm + s.cancel_pm {
                            Some(ActKind::Cancel)
                        } else {
                            None
                        };
                        match kind {
                            Some(k) => {
                                let r = self.request(Op::Act(k, req), Origin::FollowUp, nb);
                                self.pending.push(r);
                            }
                            None => {
                                self.shared.st.borrow_mut().counts.vanish += 1;
                                let id = task.req.id;
                                self.trace(&[0x7a, id], || format!("    the owner of #{id} vanishes: never confirms"));
                            }
                        }
                    }
                }
            }
            OpResult::Act(Ok(Outcome::Confirmed { booking, .. })) => {
                self.acks.confirmed.insert(booking.clone());
            }
            OpResult::Book(Err(BookError::Conflict { .. })) if !matches!(task.req.origin, Origin::Bad { .. }) => {
                if let Some(b) = task.req.op.booking() {
                    self.acks.conflicted.insert(b.clone());
                }
                if self.work.chance(self.swarm.retry_pm) {
                    self.resend(&task.req);
                }
            }
            OpResult::Act(Err(ConfirmError::Conflict { .. })) => {
                if let Op::Act(k, r) = &task.req.op {
                    self.acks.acts_conflicted.insert((r.booking.clone(), k.name()));
                }
                if self.work.chance(self.swarm.retry_pm) {
                    self.resend(&task.req);
                }
            }
            r if r.failed_retryably() && self.work.chance(self.swarm.retry_pm) => self.resend(&task.req),
            _ => {}
        }
    }

    // ------------------------------------------------------------ the end

    /// Quiescent checks: acknowledged bookings, the recount, and the probe.
    pub fn finish_run(&mut self) -> Result<(), Failure> {
        self.step += 1;
        {
            let st = self.shared.st.borrow();
            let h = &st.hist;
            for (b, a) in &self.acks.booked {
                for s in booking_streams(&a.unit, &a.span) {
                    if h.models.get(&s).and_then(|m| m.find(b)).is_none() {
                        return Err(fail(self.step, format!("acknowledged {b} is missing from {s} at the end (lost)")));
                    }
                }
            }
            for b in &self.acks.confirmed {
                if self.acks.cancel_asked.contains(b) {
                    continue;
                }
                let Some(a) = self.acks.booked.get(b) else { continue };
                for s in booking_streams(&a.unit, &a.span) {
                    let state = h.models.get(&s).and_then(|m| m.find(b)).map(|e| e.state);
                    if state != Some(MState::Confirmed) {
                        return Err(fail(
                            self.step,
                            format!("{b} was confirmed and never cancelled, but {s} shows {state:?} (lost)"),
                        ));
                    }
                }
            }
            for b in &self.acks.conflicted {
                if self.acks.started.get(b) == Some(&1) && h.claim(b).is_some() {
                    return Err(fail(
                        self.step,
                        format!(
                            "{b} was answered E_CONFLICT (nothing written) and never sent again, but its booking is in the store"
                        ),
                    ));
                }
            }
            for (b, kind) in &self.acks.acts_conflicted {
                let Some(c) = h.claim(b) else { continue };
                let landed = booking_streams(&c.unit, &c.span).iter().any(|s| {
                    h.streams.get(s).is_some_and(|evs| {
                        evs.iter().any(|(_, e)| {
                            e.booking() == Some(b)
                                && matches!(
                                    (*kind, e),
                                    ("confirm", Event::Confirmed { .. })
                                        | ("cancel", Event::Cancelled { .. })
                                        | ("release", Event::Released { .. })
                                )
                        })
                    })
                });
                if self.acks.acts_started.get(&(b.clone(), *kind)) == Some(&1) && landed {
                    return Err(fail(
                        self.step,
                        format!(
                            "the {kind} of {b} was answered E_CONFLICT and never sent again, but it is in the store"
                        ),
                    ));
                }
            }
            for (b, (_, c)) in &h.claims {
                let states: BTreeSet<String> = booking_streams(&c.unit, &c.span)
                    .iter()
                    .map(|s| format!("{:?}", h.models.get(s).and_then(|m| m.find(b)).map(|e| e.state)))
                    .collect();
                if states.len() > 1 {
                    return Err(fail(self.step, format!("the days of {b} disagree: {states:?}")));
                }
            }
        }
        self.verify_now(self.max_now.max(self.t))?;
        let t_probe = self.probe()?;
        self.check_bad()?;
        self.verify_now(t_probe)?;
        self.check_views(self.max_now.max(self.t))?;
        self.check_views(t_probe)
    }

    /// What `roster` and `reconcile` show at `now` must be the model's view:
    /// every entry in its state (expired holds as expired), the places
    /// used, and every lapsed hold with an external reference listed.
    fn check_views(&mut self, now: u64) -> Result<(), Failure> {
        let mut reader = Allot::new(Handle { shared: self.shared.clone(), booker: self.probe_io() });
        let ids: Vec<UnitId> = self.units.iter().map(|u| u.id.clone()).collect();
        for id in &ids {
            let views = run(reader.roster(id, None, now)).map_err(|e| fail(self.step, format!("roster {id}: {e}")))?;
            let st = self.shared.st.borrow();
            let h = &st.hist;
            for v in &views {
                let m = h.models.get(&v.stream).cloned().unwrap_or_default();
                let eff = now.max(m.watermark);
                let name = |e: &MEntry| match e.state {
                    MState::Held { .. } if !e.live(eff) => "expired",
                    MState::Held { .. } => "held",
                    MState::Confirmed => "confirmed",
                    MState::Cancelled => "cancelled",
                    MState::Released => "released",
                };
                let want: Vec<(BookingId, &str)> = m.entries.iter().map(|e| (e.booking.clone(), name(e))).collect();
                let got: Vec<(BookingId, &str)> = v.entries.iter().map(|e| (e.booking.clone(), e.state)).collect();
                let seq = h.streams.get(&v.stream).map_or(0, |e| e.len() as u64);
                if v.used != m.used(eff) || want != got || v.seq != seq {
                    return Err(fail(
                        self.step,
                        format!(
                            "roster of {} at {}: used {} seq {} {got:?}, the model says used {} seq {seq} {want:?}",
                            v.stream,
                            rel(now),
                            v.used,
                            v.seq,
                            m.used(eff)
                        ),
                    ));
                }
            }
        }
        let items = run(reader.reconcile(now)).map_err(|e| fail(self.step, format!("reconcile: {e}")))?;
        let got: BTreeSet<(BookingId, String, u64)> =
            items.into_iter().map(|i| (i.booking, i.ext_ref, i.expires_at)).collect();
        let st = self.shared.st.borrow();
        let h = &st.hist;
        let mut want = BTreeSet::new();
        for (b, (_, c)) in &h.claims {
            let Some(hold) = &c.hold else { continue };
            let Some(ext_ref) = &hold.ext_ref else { continue };
            let states: Vec<_> = booking_streams(&c.unit, &c.span)
                .iter()
                .map(|s| h.models.get(s).cloned().unwrap_or_default())
                .collect();
            let eff = eff_of(&states, now);
            let lapsed = states
                .iter()
                .any(|s| s.find(b).is_some_and(|e| matches!(e.state, MState::Held { .. }) && !e.live(eff)));
            if lapsed {
                want.insert((b.clone(), ext_ref.clone(), hold.expires_at));
            }
        }
        *self.outcomes.entry("reconcile:listed".into()).or_default() += got.len() as u64;
        if got != want {
            return Err(fail(
                self.step,
                format!("reconcile at {} lists {got:?}, the model's lapsed holds are {want:?}", rel(now)),
            ));
        }
        Ok(())
    }

    /// With every hold expired, whatever is not confirmed must be bookable,
    /// and nothing more: book exactly the free places and intervals the
    /// model computes, then one more, which must be refused.
    fn probe(&mut self) -> Result<u64, Failure> {
        let (t_probe, plan) = {
            let st = self.shared.st.borrow();
            let h = &st.hist;
            let mut t = self.max_now.max(self.t);
            for m in h.models.values() {
                t = t.max(m.watermark);
                for e in &m.entries {
                    if let MState::Held { expires_at } = e.state {
                        t = t.max(expires_at);
                    }
                }
            }
            let t = t + 1;
            let state = |s: &StreamId| h.models.get(s).cloned().unwrap_or_default();
            let mut plan: Vec<(BookReq, Expect)> = Vec::new();
            let mut k = 0;
            let mut req = |unit: &UnitId, span: Span, qty: u32| {
                k += 1;
                BookReq {
                    booking: BookingId::new("probe", &format!("p{k}")).expect("valid id"),
                    unit: unit.clone(),
                    span,
                    qty,
                    hold: None,
                }
            };
            for u in &self.units {
                if h.retired.contains_key(&u.id) {
                    let span = match u.kind {
                        UnitKind::Pool { .. } => Span::Whole,
                        UnitKind::Allotment { .. } => Span::Days { from: 0, to: 1 },
                        UnitKind::Exclusive => Span::Interval { start: 0, end: 1 },
                    };
                    plan.push((req(&u.id, span, 1), Expect::Retired));
                    continue;
                }
                match u.kind {
                    UnitKind::Pool { capacity } => {
                        let s = state(&StreamId::new(&u.id, allot_core::Part::Main));
                        let free = u64::from(capacity).saturating_sub(s.used(t)) as u32;
                        if free > 0 {
                            plan.push((req(&u.id, Span::Whole, free), Expect::Booked));
                        }
                        plan.push((req(&u.id, Span::Whole, 1), Expect::Full));
                    }
                    UnitKind::Allotment { capacity } => {
                        for d in 0..self.swarm.days {
                            let s = state(&StreamId::new(&u.id, allot_core::Part::Day(d)));
                            let free = u64::from(capacity).saturating_sub(s.used(t)) as u32;
                            if free > 0 {
                                plan.push((req(&u.id, Span::Days { from: d, to: d + 1 }, free), Expect::Booked));
                            }
                        }
                        plan.push((req(&u.id, Span::Days { from: 0, to: self.swarm.days }, 1), Expect::Full));
                    }
                    UnitKind::Exclusive => {
                        let s = state(&StreamId::new(&u.id, allot_core::Part::Main));
                        let mut taken = vec![false; self.swarm.horizon as usize];
                        for e in s.entries.iter().filter(|e| e.live(t)) {
                            if let Span::Interval { start, end } = e.span {
                                for x in start..end.min(self.swarm.horizon) {
                                    taken[x as usize] = true;
                                }
                            }
                        }
                        let mut x = 0;
                        while x < taken.len() {
                            if taken[x] {
                                x += 1;
                                continue;
                            }
                            let start = x;
                            while x < taken.len() && !taken[x] {
                                x += 1;
                            }
                            let span = Span::Interval { start: start as u64, end: x as u64 };
                            plan.push((req(&u.id, span, 1), Expect::Booked));
                        }
                        plan.push((
                            req(&u.id, Span::Interval { start: 0, end: self.swarm.horizon }, 1),
                            Expect::Overlap,
                        ));
                    }
                }
            }
            (t, plan)
        };
        let mut probe = Allot::new(Handle { shared: self.shared.clone(), booker: self.probe_io() });
        for (req, expect) in plan {
            let got = run(probe.book(&req, t_probe));
            let ok = matches!(
                (&expect, &got),
                (Expect::Booked, Ok(Outcome::Booked { replayed: false, .. }))
                    | (Expect::Full, Ok(Outcome::Full { available: 0, .. }))
                    | (Expect::Overlap, Ok(Outcome::Overlap { .. }))
                    | (Expect::Retired, Err(BookError::UnitRetired { .. }))
            );
            self.step += 1;
            self.check_bad()?;
            *self.outcomes.entry(format!("probe:{expect:?}")).or_default() += 1;
            let (step, text) = (self.step, format!("{got:?}"));
            self.trace(&[0x9b, step], || {
                format!("step={step} probe {:?} x{} on {}: {text}", req.span, req.qty, req.unit)
            });
            if !ok {
                return Err(fail(
                    self.step,
                    format!(
                        "probe at t=+{} (every hold expired): book {} {:?} x{} answered {text}, the model expects {expect:?}: {}",
                        t_probe - T0,
                        req.unit,
                        req.span,
                        req.qty,
                        "a slot blocked forever by an expired hold, or capacity counted wrong"
                    ),
                ));
            }
            if let Ok(Outcome::Booked { booking, unit, span, qty, seat, .. }) = got {
                self.acks.booked.insert(booking, Acked { unit, span, qty, seat, expires_at: None, fresh: 1 });
            }
        }
        Ok(t_probe)
    }
}

impl std::fmt::Debug for World {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("World")
            .field("step", &self.step)
            .field("t", &self.t)
            .field("bookers", &self.bookers.len())
            .field("pending", &self.pending.len())
            .field("ops", &self.ops)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
enum Expect {
    Retired,
    Booked,
    Full,
    Overlap,
}

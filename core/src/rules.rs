//! Booking rules: pure decisions against an observed snapshot.
//!
//! Nothing here reads a store or a clock. A decision is made against the
//! rosters a booker observed (their events and seqs) and the `now` it was
//! given, and produces either a final outcome or a commit whose writes expect
//! exactly the observed seqs. If anything changed since the observation the
//! store rejects the commit and the booker decides again: the rules never
//! need to be right about the present, only about the snapshot.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::{ConfirmError, DecodeError, InputError, StoreError};
use crate::event::{ClaimRecord, Event, Hold, UnitRow};
use crate::model::*;
use crate::roster::{BookingState, Roster};
use crate::store::{Claim, Commit, StreamWrite};

/// A hold request: how long, and what it stands for outside allot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoldReq {
    pub ttl_ms: u64,
    pub ext_ref: Option<alloc::string::String>,
}

impl HoldReq {
    pub fn validate(&self) -> Result<(), InputError> {
        if self.ttl_ms == 0 || self.ttl_ms > crate::limits::HOLD_MS_MAX {
            return Err(InputError::TtlInvalid { ttl_ms: self.ttl_ms });
        }
        if let Some(r) = &self.ext_ref
            && (r.is_empty() || r.len() > crate::limits::EXT_REF_LEN_MAX_BYTES)
        {
            return Err(InputError::ValueTooLong {
                what: "external reference",
                len: r.len(),
                max: crate::limits::EXT_REF_LEN_MAX_BYTES,
            });
        }
        Ok(())
    }
}

/// What a booking operation ended with. Failures are errors, not outcomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Booked for good. `seat` is the 1-based ordinal of the booking's first
    /// place among the live bookings when it was made.
    Booked {
        booking: BookingId,
        unit: UnitId,
        span: Span,
        qty: u32,
        seat: u32,
        replayed: bool,
    },
    /// Held until `expires_at` (exclusive) unless confirmed.
    Held {
        booking: BookingId,
        unit: UnitId,
        span: Span,
        qty: u32,
        seat: u32,
        expires_at: TimeMs,
        replayed: bool,
    },
    /// `already`: it was confirmed before this request.
    Confirmed {
        booking: BookingId,
        already: bool,
    },
    Cancelled {
        booking: BookingId,
        already: bool,
    },
    Released {
        booking: BookingId,
        already: bool,
    },
    /// Not enough places left: `available` is what is left (the least over a
    /// stay's days).
    Full {
        unit: UnitId,
        available: u32,
    },
    /// The interval overlaps a live booking's `with`.
    Overlap {
        unit: UnitId,
        with: Span,
    },
    /// No unit in the queried range can take the booking.
    SoldOut,
}

impl Outcome {
    /// A short name: `booked`, `held`, `full`...
    pub fn status(&self) -> &'static str {
        match self {
            Self::Booked { .. } => "booked",
            Self::Held { .. } => "held",
            Self::Confirmed { .. } => "confirmed",
            Self::Cancelled { .. } => "cancelled",
            Self::Released { .. } => "released",
            Self::Full { .. } => "full",
            Self::Overlap { .. } => "overlap",
            Self::SoldOut => "sold-out",
        }
    }

    /// The unit booked or held, if any.
    pub fn unit(&self) -> Option<&UnitId> {
        match self {
            Self::Booked { unit, .. } | Self::Held { unit, .. } => Some(unit),
            _ => None,
        }
    }

    /// The outcome a claim remembers, marked as a replay.
    pub fn replay_of(booking: &BookingId, claim: &ClaimRecord) -> Self {
        let (booking, unit, span, qty, seat) = (booking.clone(), claim.unit.clone(), claim.span, claim.qty, claim.seat);
        match &claim.hold {
            None => Self::Booked { booking, unit, span, qty, seat, replayed: true },
            Some(h) => Self::Held { booking, unit, span, qty, seat, expires_at: h.expires_at, replayed: true },
        }
    }
}

/// A decision: done, or commit this and report that.
#[derive(Debug)]
pub enum Decision {
    Done(Outcome),
    /// The booking id is already in a stream: answer from its claim
    /// (the first outcome, or an idempotency mismatch).
    Claimed,
    Commit {
        commit: Commit,
        outcome: Outcome,
    },
}

/// The largest effective time over `rosters`: see [`Roster::effective_now`].
pub fn effective_now(rosters: &[&Roster], now: TimeMs) -> TimeMs {
    rosters.iter().fold(now, |t, r| r.effective_now(t))
}

/// What a booking asks for.
#[derive(Clone, Copy, Debug)]
pub struct Ask<'a> {
    pub booking: &'a BookingId,
    pub span: Span,
    pub qty: u32,
    pub hold: Option<&'a HoldReq>,
    /// The request's canonical payload, remembered by the claim.
    pub fingerprint: &'a Arc<[u8]>,
}

/// Where a booking of an [`Ask`] stands on one unit, before any commit is
/// built: the checks of [`decide_book`], which a batch also runs to screen
/// candidates (hundreds per round), so they allocate nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fit {
    /// The booking is already in one of the unit's streams.
    Claimed,
    /// A pool or allotment with fewer places than asked on some stream.
    Full { available: u32 },
    /// An exclusive unit with a live booking overlapping the span.
    Overlap { with: Span },
    /// It fits: at this effective time, from this seat.
    Free { eff: TimeMs, seat: u32 },
}

/// [`Fit`] of `ask` on `unit` given the rosters of its streams.
pub fn fit(unit: &UnitRow, rosters: &[&Roster], ask: &Ask<'_>, now: TimeMs) -> Fit {
    let eff = effective_now(rosters, now);
    if rosters.iter().any(|r| r.find(ask.booking).is_some()) {
        // The booking is already there: an earlier attempt of this request
        // id committed (its acknowledgement was lost, or a racer with the
        // same id won). Its claim, written in the same commit, says what the
        // request was and what it got: the caller replays from there.
        return Fit::Claimed;
    }
    let capacity = unit.spec.kind.capacity();
    let mut seat = 1;
    match unit.spec.kind {
        UnitKind::Pool { .. } | UnitKind::Allotment { .. } => {
            let mut available = capacity;
            for (i, r) in rosters.iter().enumerate() {
                let used = r.used(eff);
                let left = u64::from(capacity).saturating_sub(used) as u32;
                available = available.min(left);
                if i == 0 {
                    seat = used as u32 + 1;
                }
            }
            if ask.qty > available {
                return Fit::Full { available };
            }
        }
        UnitKind::Exclusive => {
            for r in rosters {
                if let Some(e) = r.live(eff).find(|e| e.span.overlaps(&ask.span)) {
                    return Fit::Overlap { with: e.span };
                }
            }
        }
    }
    Fit::Free { eff, seat }
}

/// Decides a booking of `ask` on `unit` given the rosters of `streams`
/// (one per stream, same order). The commit guards the unit's definition
/// stream, so a booking never lands on a unit retired or changed since it
/// was observed.
pub fn decide_book(
    unit: &UnitRow,
    streams: &[StreamId],
    rosters: &[&Roster],
    ask: Ask<'_>,
    now: TimeMs,
) -> Result<Decision, InputError> {
    debug_assert_eq!(streams.len(), rosters.len());
    let id = unit.id();
    let (eff, seat) = match fit(unit, rosters, &ask, now) {
        Fit::Claimed => return Ok(Decision::Claimed),
        Fit::Full { available } => return Ok(Decision::Done(Outcome::Full { unit: id.clone(), available })),
        Fit::Overlap { with } => return Ok(Decision::Done(Outcome::Overlap { unit: id.clone(), with })),
        Fit::Free { eff, seat } => (eff, seat),
    };
    let hold = match ask.hold {
        None => None,
        Some(h) => {
            // From the effective time: a caller whose clock runs behind the
            // stream must not create a hold that is dead on arrival.
            let expires_at = eff.saturating_add(h.ttl_ms);
            check_time("hold expiry", expires_at)?;
            Some(Box::new(Hold { expires_at, ext_ref: h.ext_ref.clone() }))
        }
    };
    let event =
        // Stamped with the effective time the decision relied on, not the
        // caller's `now`: each stream's watermark then covers what this
        // decision assumed about every other stream it read (a hold treated
        // as expired on one day stays expired on all of them).
        Event::Booked { booking: ask.booking.clone(), qty: ask.qty, span: ask.span, hold: hold.clone(), at: eff };
    let mut writes = Vec::with_capacity(streams.len() + 1);
    writes.push(StreamWrite { stream: StreamId::new(id, Part::Def), expected: unit.version, events: Vec::new() });
    for (s, r) in streams.iter().zip(rosters) {
        writes.push(StreamWrite { stream: s.clone(), expected: r.seq(), events: alloc::vec![event.clone()] });
    }
    let record = ClaimRecord {
        request: Arc::clone(ask.fingerprint),
        unit: id.clone(),
        span: ask.span,
        qty: ask.qty,
        hold: hold.clone(),
        seat,
        at: eff,
    };
    let outcome = match &hold {
        None => Outcome::Booked {
            booking: ask.booking.clone(),
            unit: id.clone(),
            span: ask.span,
            qty: ask.qty,
            seat,
            replayed: false,
        },
        Some(h) => Outcome::Held {
            booking: ask.booking.clone(),
            unit: id.clone(),
            span: ask.span,
            qty: ask.qty,
            seat,
            expires_at: h.expires_at,
            replayed: false,
        },
    };
    let commit =
        Commit { writes, claims: alloc::vec![Claim { booking: ask.booking.clone(), record }], units: Vec::new() };
    Ok(Decision::Commit { commit, outcome })
}

/// What an owner does to an existing booking.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Act {
    Confirm,
    Cancel,
    Release,
}

impl Act {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Cancel => "cancel",
            Self::Release => "release",
        }
    }
}

fn corrupt(reason: &'static str) -> ConfirmError {
    ConfirmError::Store(StoreError::Corrupt(DecodeError::Malformed { what: "stream", reason }))
}

const DAYS_DISAGREE: &str = "a booking's days disagree about its state";

/// Whether `rosters` (of `streams`, one unit's, in the same order) cannot
/// be one state of the store: a booking that covers several of these day
/// streams shows in one and is missing, or in another state, in another.
/// A commit appends to all of a booking's days at once, so only a view
/// read piece by piece (a feed catch-up, then a read; one stream read
/// before a commit and the next after it) looks so: an act would find its
/// booking's days disagreeing, and counts taken from it match no state.
pub fn torn_view(streams: &[StreamId], rosters: &[&Roster]) -> bool {
    let day = |s: &StreamId| match s.part {
        Part::Day(d) => Some(d),
        Part::Def | Part::Main => None,
    };
    streams.iter().zip(rosters).any(|(s, r)| {
        let Some(here) = day(s) else { return false };
        r.entries().iter().any(|e| {
            let Span::Days { from, to } = e.span else { return false };
            streams.iter().zip(rosters).any(|(other, o)| {
                day(other).is_some_and(|d| d != here && (from..to).contains(&d))
                    && o.find(&e.booking).is_none_or(|f| f.state != e.state)
            })
        })
    })
}

/// Decides `act` by `by` on `booking`, which lives in `streams` (rosters in
/// the same order). A torn view ([`torn_view`]) is an error here: the
/// caller reads again first.
pub fn decide_act(
    act: Act,
    booking: &BookingId,
    by: &Actor,
    streams: &[StreamId],
    rosters: &[&Roster],
    now: TimeMs,
) -> Result<Decision, ConfirmError> {
    if *by != booking.actor {
        return Err(ConfirmError::NotOwner { booking: booking.clone(), by: alloc::string::String::from(by.as_str()) });
    }
    let mut entries = Vec::with_capacity(rosters.len());
    for r in rosters {
        entries.push(r.find(booking).ok_or_else(|| corrupt("a claimed booking is missing from its stream"))?);
    }
    let Some(first) = entries.first() else { return Err(corrupt("a booking with no stream")) };
    if entries.iter().any(|e| e.state != first.state) {
        return Err(corrupt(DAYS_DISAGREE));
    }
    let eff = effective_now(rosters, now);
    let b = booking.clone();
    let state = first.state.clone();
    let live = first.is_live(eff);
    let done = |o| Ok(Decision::Done(o));
    let event = match (act, &state) {
        (Act::Confirm, BookingState::Held { .. }) if live => Event::Confirmed { booking: b, at: eff },
        (Act::Confirm, BookingState::Held { expires_at, ext_ref }) => {
            return Err(ConfirmError::HoldExpired { booking: b, expires_at: *expires_at, ext_ref: ext_ref.clone() });
        }
        (Act::Confirm, BookingState::Confirmed) => return done(Outcome::Confirmed { booking: b, already: true }),
        (Act::Confirm, _) => return Err(ConfirmError::NotHeld { booking: b, state: first.state_name(eff) }),
        (Act::Cancel, BookingState::Confirmed) => Event::Cancelled { booking: b, at: eff },
        (Act::Cancel, BookingState::Held { .. }) if live => Event::Cancelled { booking: b, at: eff },
        // Expired, released or cancelled: it holds nothing any more.
        (Act::Cancel, _) => return done(Outcome::Cancelled { booking: b, already: true }),
        (Act::Release, BookingState::Held { .. }) if live => Event::Released { booking: b, at: eff },
        (Act::Release, BookingState::Confirmed) => {
            return Err(ConfirmError::NotHeld { booking: b, state: "confirmed" });
        }
        (Act::Release, _) => return done(Outcome::Released { booking: b, already: true }),
    };
    let writes = streams
        .iter()
        .zip(rosters)
        .map(|(s, r)| StreamWrite { stream: s.clone(), expected: r.seq(), events: alloc::vec![event.clone()] })
        .collect();
    let b = booking.clone();
    let outcome = match act {
        Act::Confirm => Outcome::Confirmed { booking: b, already: false },
        Act::Cancel => Outcome::Cancelled { booking: b, already: false },
        Act::Release => Outcome::Released { booking: b, already: false },
    };
    Ok(Decision::Commit { commit: Commit { writes, ..Commit::default() }, outcome })
}

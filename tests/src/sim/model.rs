//! The reference model: a plain, independent replay of booking streams
//! (it does not use `allot_core::roster`), and the history of everything
//! the store ever held, versioned by commit, so that any past state can be
//! rebuilt.
//!
//! The model states the rules as the architecture document does: a booking
//! takes places while it is confirmed, or held with `expires_at > eff`, where
//! `eff = max(now, latest event time in the booking's streams)`. Confirming
//! needs a live hold; releasing needs a live hold; cancelling needs a
//! confirmed booking or a live hold.

use std::collections::BTreeMap;

use allot_core::model::booking_streams;
use allot_core::{BookingId, ClaimRecord, Event, Part, Span, StreamId, UnitId, UnitKind};

/// Where a booking stands in the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MState {
    Held { expires_at: u64 },
    Confirmed,
    Cancelled,
    Released,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MEntry {
    pub booking: BookingId,
    pub qty: u32,
    pub span: Span,
    pub state: MState,
}

impl MEntry {
    pub fn live(&self, eff: u64) -> bool {
        match self.state {
            MState::Confirmed => true,
            MState::Held { expires_at } => expires_at > eff,
            MState::Cancelled | MState::Released => false,
        }
    }
}

/// One booking stream, replayed by the model.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MStream {
    pub entries: Vec<MEntry>,
    /// The latest event time seen.
    pub watermark: u64,
}

impl MStream {
    pub fn find(&self, b: &BookingId) -> Option<&MEntry> {
        self.entries.iter().find(|e| e.booking == *b)
    }

    pub fn used(&self, eff: u64) -> u64 {
        self.entries.iter().filter(|e| e.live(eff)).map(|e| u64::from(e.qty)).sum()
    }

    /// The first live entry other than `except` overlapping `span` at `eff`.
    pub fn overlapping(&self, span: &Span, eff: u64, except: Option<&BookingId>) -> Option<&MEntry> {
        self.entries.iter().find(|e| Some(&e.booking) != except && e.live(eff) && e.span.overlaps(span))
    }

    /// Applies one event; an error names a rule the event breaks (the event
    /// is then ignored, but time still moves).
    pub fn apply(&mut self, ev: &Event) -> Result<(), String> {
        let eff = self.watermark.max(ev.at());
        let r = self.transition(ev, eff);
        self.watermark = eff;
        r
    }

    fn transition(&mut self, ev: &Event, eff: u64) -> Result<(), String> {
        let (booking, name) = match ev {
            Event::Booked { booking, qty, span, hold, .. } => {
                if self.find(booking).is_some() {
                    return Err(format!("{booking} booked twice in one stream"));
                }
                let state = match hold {
                    None => MState::Confirmed,
                    Some(h) => MState::Held { expires_at: h.expires_at },
                };
                self.entries.push(MEntry { booking: booking.clone(), qty: *qty, span: *span, state });
                return Ok(());
            }
            Event::Confirmed { booking, .. } => (booking, "confirm"),
            Event::Cancelled { booking, .. } => (booking, "cancel"),
            Event::Released { booking, .. } => (booking, "release"),
            other => return Err(format!("a {} event in a booking stream", other.name())),
        };
        let Some(e) = self.entries.iter_mut().find(|e| e.booking == *booking) else {
            return Err(format!("{name} of {booking}, which the stream never had"));
        };
        let live = e.live(eff);
        let next = match (name, e.state) {
            ("confirm", MState::Held { .. }) if live => MState::Confirmed,
            ("release", MState::Held { .. }) if live => MState::Released,
            ("cancel", MState::Held { .. }) if live => MState::Cancelled,
            ("cancel", MState::Confirmed) => MState::Cancelled,
            (_, s) => return Err(format!("{name} of {booking} from {s:?} at {eff} (live: {live})")),
        };
        e.state = next;
        Ok(())
    }
}

/// `max(now, watermarks)`: the time a decision over `states` is made at.
pub fn eff_of(states: &[MStream], now: u64) -> u64 {
    states.iter().fold(now, |t, s| t.max(s.watermark))
}

/// Everything the store held, by version (one version per commit that
/// changed anything), plus the model's current replay of every stream.
#[derive(Clone, Debug, Default)]
pub struct History {
    pub version: u64,
    pub streams: BTreeMap<StreamId, Vec<(u64, Event)>>,
    pub models: BTreeMap<StreamId, MStream>,
    pub claims: BTreeMap<BookingId, (u64, ClaimRecord)>,
    /// The unit each booking id was booked on.
    pub booked_in: BTreeMap<BookingId, UnitId>,
    pub units: BTreeMap<UnitId, UnitKind>,
    /// The version each retired unit was retired at.
    pub retired: BTreeMap<UnitId, u64>,
}

impl History {
    /// The stream's head at version `v`.
    pub fn head_at(&self, s: &StreamId, v: u64) -> u64 {
        self.streams.get(s).map_or(0, |evs| evs.partition_point(|(ver, _)| *ver <= v) as u64)
    }

    /// The version at which the stream first had `n` events (`None` if it
    /// never had that many).
    pub fn reached(&self, s: &StreamId, n: u64) -> Option<u64> {
        if n == 0 {
            return Some(0);
        }
        let i = usize::try_from(n - 1).ok()?;
        self.streams.get(s).and_then(|evs| evs.get(i)).map(|(v, _)| *v)
    }

    /// The model's replay of a stream as it was at version `v`.
    pub fn state_at(&self, s: &StreamId, v: u64) -> MStream {
        let mut m = MStream::default();
        if let Some(evs) = self.streams.get(s) {
            for (ver, ev) in evs {
                if *ver > v {
                    break;
                }
                let _ = m.apply(ev);
            }
        }
        m
    }

    pub fn claim(&self, b: &BookingId) -> Option<&ClaimRecord> {
        self.claims.get(b).map(|(_, c)| c)
    }

    /// The claim as it was at version `v`.
    pub fn claim_at(&self, b: &BookingId, v: u64) -> Option<&ClaimRecord> {
        self.claims.get(b).filter(|(ver, _)| *ver <= v).map(|(_, c)| c)
    }

    /// Whether `pred` holds for the states of `streams` at some version in
    /// `lo..=hi` (only versions where one of them changed are tried).
    pub fn at_some_version(&self, streams: &[StreamId], lo: u64, hi: u64, pred: impl Fn(&[MStream]) -> bool) -> bool {
        let mut versions = vec![lo];
        for s in streams {
            if let Some(evs) = self.streams.get(s) {
                versions.extend(evs.iter().map(|(v, _)| *v).filter(|v| *v > lo && *v <= hi));
            }
        }
        versions.sort_unstable();
        versions.dedup();
        versions.iter().any(|&v| {
            let states: Vec<MStream> = streams.iter().map(|s| self.state_at(s, v)).collect();
            pred(&states)
        })
    }

    /// Whether a booking of `booking`, `span`, `qty` on `unit` would not fit
    /// at some version in `lo..=hi` at the caller's `now` (and the booking
    /// is not there yet). `available` (for pools and allotments) and `with`
    /// (for exclusive units), when given, must be what the model finds.
    pub fn refusable(&self, r: &Refusal<'_>, lo: u64, hi: u64) -> bool {
        let Some(kind) = self.units.get(r.unit).copied() else { return false };
        let streams = booking_streams(r.unit, &r.span);
        self.at_some_version(&streams, lo, hi, |states| {
            if states.iter().any(|s| s.find(r.booking).is_some()) {
                return false; // the decision would have been a replay
            }
            let eff = eff_of(states, r.now);
            match kind {
                UnitKind::Exclusive => states.iter().any(|s| {
                    s.entries
                        .iter()
                        .any(|e| e.live(eff) && e.span.overlaps(&r.span) && r.with.is_none_or(|w| w == e.span))
                }),
                UnitKind::Pool { capacity } | UnitKind::Allotment { capacity } => {
                    let available = states
                        .iter()
                        .map(|s| u64::from(capacity).saturating_sub(s.used(eff)))
                        .min()
                        .unwrap_or(u64::from(capacity));
                    available < u64::from(r.qty) && r.available.is_none_or(|a| u64::from(a) == available)
                }
            }
        })
    }

    /// Records what a commit changed in the store (`events` new per stream,
    /// `claims` new) as one version, and checks the invariants on it.
    /// Returns the broken invariants.
    pub fn record(
        &mut self,
        events: Vec<(StreamId, Vec<Event>)>,
        claims: Vec<(BookingId, ClaimRecord)>,
    ) -> Vec<String> {
        let mut bad = Vec::new();
        if events.iter().all(|(_, e)| e.is_empty()) && claims.is_empty() {
            return bad;
        }
        self.version += 1;
        let v = self.version;
        let mut new_bookings = Vec::new();
        for (s, evs) in events {
            self.streams.entry(s.clone()).or_default().extend(evs.iter().map(|e| (v, e.clone())));
            let Some(unit) = s.unit() else { continue };
            if s.part == Part::Def {
                if evs.iter().any(|e| matches!(e, Event::UnitRetired { .. })) {
                    self.retired.entry(unit).or_insert(v);
                }
                continue;
            }
            let Some(kind) = self.units.get(&unit).copied() else {
                bad.push(format!("stream {s} of a unit that was never defined"));
                continue;
            };
            let model = self.models.entry(s.clone()).or_default();
            for ev in &evs {
                if let Err(e) = model.apply(ev) {
                    bad.push(format!("{s}: {e}"));
                }
                let Event::Booked { booking, qty, span, .. } = ev else { continue };
                new_bookings.push((s.clone(), booking.clone(), *qty, *span));
                if let Some(rv) = self.retired.get(&unit) {
                    bad.push(format!("{s}: {booking} booked on a unit retired at version {rv}"));
                }
                // The invariant right after the booking landed, at the time
                // it was decided at (the stream's watermark).
                let eff = model.watermark;
                match kind {
                    UnitKind::Exclusive => {
                        let me_live = model.find(booking).is_some_and(|e| e.live(eff));
                        if let Some(o) = model.overlapping(span, eff, Some(booking)).filter(|_| me_live) {
                            bad.push(format!(
                                "double booking: {s}: {booking} {span:?} overlaps live {} {:?} at t={eff}",
                                o.booking, o.span
                            ));
                        }
                    }
                    UnitKind::Pool { capacity } | UnitKind::Allotment { capacity } => {
                        let used = model.used(eff);
                        if used > u64::from(capacity) {
                            bad.push(format!(
                                "over capacity: {s}: {used} places live > capacity {capacity} at t={eff} after {booking}"
                            ));
                        }
                    }
                }
                match self.booked_in.get(booking) {
                    Some(u) if *u != unit => {
                        bad.push(format!("request applied twice: {booking} is booked on {u} and on {unit}"))
                    }
                    Some(_) => {}
                    None => {
                        self.booked_in.insert(booking.clone(), unit.clone());
                    }
                }
            }
        }
        let mut new_claims = Vec::new();
        for (b, c) in claims {
            match self.claims.get(&b) {
                Some((_, old)) if *old != c => bad.push(format!("claim of {b} was overwritten")),
                Some(_) => {}
                None => {
                    self.claims.insert(b.clone(), (v, c));
                    new_claims.push(b);
                }
            }
        }
        for (s, b, qty, span) in &new_bookings {
            match self.claim(b) {
                None => bad.push(format!("{s}: {b} booked without a claim (a retry could apply it again)")),
                Some(c) if s.unit().as_ref() != Some(&c.unit) || c.span != *span || c.qty != *qty => {
                    bad.push(format!("{s}: {b} disagrees with its claim ({} {:?} x{})", c.unit, c.span, c.qty))
                }
                Some(_) => {}
            }
        }
        for b in &new_claims {
            let Some(c) = self.claim(b) else { continue };
            for s in booking_streams(&c.unit, &c.span) {
                if self.models.get(&s).and_then(|m| m.find(b)).is_none() {
                    bad.push(format!("claim of {b} without its booking in {s} (a partial commit)"));
                }
            }
        }
        bad
    }
}

/// A refusal to check: `Full` / `Overlap` / a sold-out candidate.
#[derive(Debug)]
pub struct Refusal<'a> {
    pub booking: &'a BookingId,
    pub unit: &'a UnitId,
    pub span: Span,
    pub qty: u32,
    pub now: u64,
    pub available: Option<u32>,
    pub with: Option<Span>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use allot_core::Hold;

    fn b(k: &str) -> BookingId {
        BookingId::new("a", k).unwrap()
    }

    #[test]
    fn model_expiry_and_watermark() {
        let mut m = MStream::default();
        let held = |k: &str, exp, at| Event::Booked {
            booking: b(k),
            qty: 1,
            span: Span::Whole,
            hold: Some(Box::new(Hold { expires_at: exp, ext_ref: None })),
            at,
        };
        m.apply(&held("h", 100, 0)).unwrap();
        assert_eq!(m.used(99), 1);
        assert_eq!(m.used(100), 0);
        m.apply(&held("i", 300, 150)).unwrap();
        assert_eq!(m.used(m.watermark.max(50)), 1, "the watermark keeps h dead");
        assert!(m.apply(&Event::Confirmed { booking: b("h"), at: 120 }).is_err(), "h expired at 100 < 150");
        assert!(m.apply(&Event::Confirmed { booking: b("i"), at: 10 }).is_ok());
        assert!(m.apply(&held("i", 300, 150)).is_err());
    }

    /// The checker's judgement of `Full`: an expired hold is no excuse.
    #[test]
    fn full_is_only_legal_when_live_places_refuse() {
        let unit = UnitId::new("p").unwrap();
        let s = StreamId::new(&unit, Part::Main);
        let mut h = History::default();
        h.units.insert(unit.clone(), UnitKind::Pool { capacity: 1 });
        let hold = Event::Booked {
            booking: b("h"),
            qty: 1,
            span: Span::Whole,
            hold: Some(Box::new(Hold { expires_at: 100, ext_ref: None })),
            at: 0,
        };
        let claim = ClaimRecord {
            request: Vec::new().into(),
            unit: unit.clone(),
            span: Span::Whole,
            qty: 1,
            hold: Some(Box::new(Hold { expires_at: 100, ext_ref: None })),
            seat: 1,
            at: 0,
        };
        assert!(h.record(vec![(s.clone(), vec![hold])], vec![(b("h"), claim)]).is_empty());
        let me = b("me");
        let full =
            |now| Refusal { booking: &me, unit: &unit, span: Span::Whole, qty: 1, now, available: Some(0), with: None };
        assert!(h.refusable(&full(99), 0, h.version), "the hold is live at 99");
        assert!(!h.refusable(&full(100), 0, h.version), "expired at 100: Full would be a slot blocked by it");
        assert!(!h.refusable(&Refusal { available: Some(1), ..full(99) }, 0, h.version), "wrong count");
        assert!(!h.refusable(&full(99), 0, 0), "before the hold existed there was room");
        // And an over-booking is reported when recorded.
        let twice = Event::Booked { booking: b("x"), qty: 1, span: Span::Whole, hold: None, at: 50 };
        let claim = ClaimRecord {
            request: Vec::new().into(),
            unit: unit.clone(),
            span: Span::Whole,
            qty: 1,
            hold: None,
            seat: 2,
            at: 50,
        };
        let bad = h.record(vec![(s, vec![twice])], vec![(b("x"), claim)]);
        assert!(bad.iter().any(|v| v.contains("over capacity")), "{bad:?}");
    }
}

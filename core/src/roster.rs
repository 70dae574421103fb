//! The roster: a booking stream replayed.
//!
//! Expiry is computed here, when the stream is read, so no background job is
//! needed and nothing stays blocked after a crash: a hold whose owner vanished
//! simply stops counting once its time has passed.
//!
//! Time only moves forward inside a stream. Each event records the `now` it
//! was decided at, and a roster's *watermark* is the largest of them. A hold
//! is live while `expires_at > max(now, watermark)`: once an event was
//! written on the strength of a hold having expired, a caller whose clock
//! runs behind cannot bring that hold back to life.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::event::{Event, Hold};
use crate::model::{BookingId, Seq, Span, TimeMs};

/// Where a booking stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BookingState {
    /// Held until `expires_at` (exclusive) unless confirmed.
    Held {
        expires_at: TimeMs,
        ext_ref: Option<String>,
    },
    Confirmed,
    Cancelled,
    Released,
}

/// One booking as a stream knows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub booking: BookingId,
    pub qty: u32,
    pub span: Span,
    pub state: BookingState,
    /// Seq of the event that created it.
    pub seq: Seq,
    /// When it was created.
    pub at: TimeMs,
}

impl Entry {
    /// Whether it takes places at effective time `eff_now`.
    pub fn is_live(&self, eff_now: TimeMs) -> bool {
        match self.state {
            BookingState::Confirmed => true,
            BookingState::Held { expires_at, .. } => expires_at > eff_now,
            BookingState::Cancelled | BookingState::Released => false,
        }
    }

    /// `held`, `confirmed`, `cancelled`, `released` or `expired`.
    pub fn state_name(&self, eff_now: TimeMs) -> &'static str {
        match self.state {
            BookingState::Held { .. } if !self.is_live(eff_now) => "expired",
            BookingState::Held { .. } => "held",
            BookingState::Confirmed => "confirmed",
            BookingState::Cancelled => "cancelled",
            BookingState::Released => "released",
        }
    }
}

/// An event that does not fit the stream it is in: evidence of a bug or of
/// a store that broke its contract. Replay skips the event and reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Anomaly {
    /// The same booking was created twice in one stream.
    DuplicateBooking { seq: Seq, booking: BookingId },
    /// A confirm, cancel or release names a booking the stream never had.
    UnknownBooking { seq: Seq, booking: BookingId },
    /// A transition from a state that does not allow it (confirming a
    /// cancelled booking...).
    BadTransition { seq: Seq, booking: BookingId, from: &'static str, event: &'static str },
    /// A definition event in a booking stream.
    WrongStream { seq: Seq, event: &'static str },
    /// The events handed over do not continue the roster's seq.
    Gap { expected: Seq, got: Seq },
}

/// For people (the `detail` of a violation in the npm package): the same
/// facts as `Debug`, in words.
impl core::fmt::Display for Anomaly {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::DuplicateBooking { seq, booking } => write!(f, "booking {booking} created again at seq {seq}"),
            Self::UnknownBooking { seq, booking } => {
                write!(f, "seq {seq} names booking {booking}, which the stream never had")
            }
            Self::BadTransition { seq, booking, from, event } => {
                write!(f, "seq {seq}: booking {booking} {event} while {from}")
            }
            Self::WrongStream { seq, event } => write!(f, "seq {seq}: a {event} event in a booking stream"),
            Self::Gap { expected, got } => write!(f, "events start at seq {got}, the roster expected {expected}"),
        }
    }
}

/// The replay of one booking stream.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Roster {
    seq: Seq,
    watermark: TimeMs,
    entries: Vec<Entry>,
    /// Position of each booking in `entries`, kept only once a roster grows
    /// past [`INDEXED_FROM`]: most rosters hold a handful of bookings, and a
    /// scan of those is cheaper than a map.
    by_booking: BTreeMap<BookingId, usize>,
}

/// Rosters with at least this many bookings keep an index by booking.
const INDEXED_FROM: usize = 16;

impl Roster {
    fn position(&self, booking: &BookingId) -> Option<usize> {
        if self.entries.len() > INDEXED_FROM {
            self.by_booking.get(booking).copied()
        } else {
            self.entries.iter().position(|e| e.booking == *booking)
        }
    }

    /// The empty stream's roster.
    pub const EMPTY: Roster = Roster { seq: 0, watermark: 0, entries: Vec::new(), by_booking: BTreeMap::new() };

    pub fn new() -> Self {
        Self::default()
    }

    /// Replays `events`, the first of which has seq 1.
    pub fn replay(events: &[Event]) -> (Self, Vec<Anomaly>) {
        let mut roster = Self::new();
        let mut anomalies = Vec::new();
        roster.extend(roster.seq + 1, events, &mut anomalies);
        (roster, anomalies)
    }

    /// The seq of the last event applied: what an append-expect must expect.
    pub fn seq(&self) -> Seq {
        self.seq
    }

    /// The latest decision time seen in the stream.
    pub fn watermark(&self) -> TimeMs {
        self.watermark
    }

    /// `now`, never earlier than the stream's watermark.
    pub fn effective_now(&self, now: TimeMs) -> TimeMs {
        now.max(self.watermark)
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    pub fn find(&self, booking: &BookingId) -> Option<&Entry> {
        self.position(booking).map(|i| &self.entries[i])
    }

    /// Bookings taking places at `now`.
    pub fn live(&self, now: TimeMs) -> impl Iterator<Item = &Entry> {
        let eff = self.effective_now(now);
        self.entries.iter().filter(move |e| e.is_live(eff))
    }

    /// The earliest expiry after `now` among its holds: when it may give
    /// room back with no commit (`TimeMs::MAX`: not by time).
    pub fn next_expiry(&self, now: TimeMs) -> TimeMs {
        self.entries
            .iter()
            .filter_map(|e| match e.state {
                BookingState::Held { expires_at, .. } if expires_at > now => Some(expires_at),
                _ => None,
            })
            .min()
            .unwrap_or(TimeMs::MAX)
    }

    /// Places taken at `now`.
    pub fn used(&self, now: TimeMs) -> u64 {
        self.live(now).map(|e| u64::from(e.qty)).sum()
    }

    /// Applies events `first_seq..`. Events that do not fit are skipped and
    /// reported; the seq advances regardless so that the roster stays in step
    /// with the stream.
    pub fn extend(&mut self, first_seq: Seq, events: &[Event], anomalies: &mut Vec<Anomaly>) {
        if first_seq != self.seq + 1 && !events.is_empty() {
            anomalies.push(Anomaly::Gap { expected: self.seq + 1, got: first_seq });
            return;
        }
        for event in events {
            let seq = self.seq + 1;
            if let Err(a) = self.apply(seq, event) {
                anomalies.push(a);
            }
            self.seq = seq;
            self.watermark = self.watermark.max(event.at());
        }
    }

    fn apply(&mut self, seq: Seq, event: &Event) -> Result<(), Anomaly> {
        let transition = |roster: &mut Self, booking: &BookingId, name: &'static str| {
            let Some(i) = roster.position(booking) else {
                return Err(Anomaly::UnknownBooking { seq, booking: booking.clone() });
            };
            let eff = roster.watermark.max(event.at());
            let entry = &mut roster.entries[i];
            let allowed = match (&entry.state, event) {
                (BookingState::Held { expires_at, .. }, Event::Confirmed { .. }) => *expires_at > eff,
                (BookingState::Held { .. }, Event::Released { .. }) => true,
                (BookingState::Held { .. } | BookingState::Confirmed, Event::Cancelled { .. }) => true,
                _ => false,
            };
            if !allowed {
                return Err(Anomaly::BadTransition {
                    seq,
                    booking: booking.clone(),
                    from: entry.state_name(eff),
                    event: name,
                });
            }
            entry.state = match event {
                Event::Confirmed { .. } => BookingState::Confirmed,
                Event::Cancelled { .. } => BookingState::Cancelled,
                _ => BookingState::Released,
            };
            Ok(())
        };
        match event {
            Event::Booked { booking, qty, span, hold, at } => {
                if self.position(booking).is_some() {
                    return Err(Anomaly::DuplicateBooking { seq, booking: booking.clone() });
                }
                let state = match hold.as_deref() {
                    None => BookingState::Confirmed,
                    Some(Hold { expires_at, ext_ref }) => {
                        BookingState::Held { expires_at: *expires_at, ext_ref: ext_ref.clone() }
                    }
                };
                if self.entries.len() >= INDEXED_FROM {
                    if self.by_booking.is_empty() {
                        // Inserted one by one, not collected: the same map
                        // (bookings are unique here), without the sort and
                        // bulk build that `collect` would add to the wasm.
                        for (i, e) in self.entries.iter().enumerate() {
                            self.by_booking.insert(e.booking.clone(), i);
                        }
                    }
                    self.by_booking.insert(booking.clone(), self.entries.len());
                }
                if self.entries.capacity() == 0 {
                    // Most rosters hold one booking: room for exactly one
                    // entry (112 bytes), not the four a first push reserves.
                    // The client cache holds up to `roster_cache_max` of them.
                    self.entries.reserve_exact(1);
                }
                self.entries.push(Entry { booking: booking.clone(), qty: *qty, span: *span, state, seq, at: *at });
                Ok(())
            }
            Event::Confirmed { booking, .. } => transition(self, booking, "confirmed"),
            Event::Cancelled { booking, .. } => transition(self, booking, "cancelled"),
            Event::Released { booking, .. } => transition(self, booking, "released"),
            other => Err(Anomaly::WrongStream { seq, event: other.name() }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::boxed::Box;
    use alloc::vec;

    fn b(k: &str) -> BookingId {
        BookingId::new("alice", k).unwrap()
    }

    fn held(k: &str, expires_at: u64, at: u64) -> Event {
        Event::Booked {
            booking: b(k),
            qty: 1,
            span: Span::Whole,
            hold: Some(Box::new(Hold { expires_at, ext_ref: None })),
            at,
        }
    }

    #[test]
    fn a_roster_of_one_booking_keeps_room_for_one() {
        // A client caches up to `roster_cache_max` rosters, most of them of
        // one booking: room for four would be three wasted entries each.
        let (r, _) = Roster::replay(&[held("h", 100, 0)]);
        assert_eq!(r.entries.capacity(), 1);
        let (r, _) = Roster::replay(&[held("h", 100, 0), held("i", 100, 0)]);
        assert_eq!(r.entries.len(), 2);
    }

    #[test]
    fn expiry_is_computed_on_read() {
        let (r, a) = Roster::replay(&[held("h", 100, 0)]);
        assert!(a.is_empty());
        assert_eq!(r.used(99), 1);
        assert_eq!(r.used(100), 0, "expires_at is exclusive");
    }

    #[test]
    fn watermark_keeps_expired_holds_dead() {
        // A later event was decided at t=150, after the hold's expiry.
        let later = Event::Booked { booking: b("x"), qty: 1, span: Span::Whole, hold: None, at: 150 };
        let (r, _) = Roster::replay(&[held("h", 100, 0), later]);
        // A caller whose clock reads 50 must not see the hold alive again.
        assert_eq!(r.used(50), 1);
        assert_eq!(r.effective_now(50), 150);
    }

    #[test]
    fn anomalies_are_reported_not_applied() {
        let events = vec![
            held("h", 100, 0),
            held("h", 100, 0),
            Event::Confirmed { booking: b("nope"), at: 1 },
            Event::Cancelled { booking: b("h"), at: 2 },
            Event::Confirmed { booking: b("h"), at: 3 },
            Event::UnitRetired { at: 4 },
        ];
        let (r, a) = Roster::replay(&events);
        assert_eq!(r.seq(), 6);
        assert_eq!(a.len(), 4, "{a:?}");
        assert!(matches!(a[0], Anomaly::DuplicateBooking { seq: 2, .. }));
        assert!(matches!(a[1], Anomaly::UnknownBooking { seq: 3, .. }));
        assert!(matches!(a[2], Anomaly::BadTransition { seq: 5, from: "cancelled", .. }));
        assert!(matches!(a[3], Anomaly::WrongStream { seq: 6, .. }));
        assert_eq!(r.used(0), 0);
    }

    #[test]
    fn confirming_after_expiry_is_an_anomaly() {
        let (_, a) = Roster::replay(&[held("h", 100, 0), Event::Confirmed { booking: b("h"), at: 100 }]);
        assert!(matches!(a[0], Anomaly::BadTransition { from: "expired", .. }));
    }
}

#[cfg(test)]
mod index_tests {
    use super::*;

    /// Past `INDEXED_FROM` bookings a roster switches to its index: finding,
    /// duplicate detection and transitions must not change.
    #[test]
    fn large_rosters_find_every_booking() {
        let b = |i: usize| BookingId::new("a", &alloc::format!("k{i}")).unwrap();
        let mut events: Vec<Event> =
            (0..40).map(|i| Event::Booked { booking: b(i), qty: 1, span: Span::Whole, hold: None, at: 0 }).collect();
        events.push(Event::Booked { booking: b(3), qty: 1, span: Span::Whole, hold: None, at: 0 });
        events.push(Event::Booked { booking: b(30), qty: 1, span: Span::Whole, hold: None, at: 0 });
        events.push(Event::Cancelled { booking: b(35), at: 1 });
        let (r, anomalies) = Roster::replay(&events);
        assert_eq!(anomalies.len(), 2, "{anomalies:?}");
        for i in 0..40 {
            assert_eq!(r.find(&b(i)).map(|e| e.seq), Some(i as u64 + 1), "{i}");
        }
        assert!(r.find(&b(40)).is_none());
        assert_eq!(r.used(0), 39);
    }
}

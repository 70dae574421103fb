//! Verify: recount everything from the store and check every invariant.
//!
//! This is the check the seeds' systems lacked ("a log says 58 bookings were
//! made and the database holds 19"). It trusts nothing but what the store
//! hands back: every stream is replayed from seq 1, every claim is matched
//! with its events, and every booking the caller was told about
//! (`acknowledged`) must be present.
//!
//! Verify reads the store in pages, not in one snapshot. It still holds with
//! writers running: claims are read before streams, so every claim read has
//! its events in the streams read later (they commit together); and a
//! booking found in a stream whose claim was not there yet was committed
//! meanwhile, which a second read of its claim shows (claims are never
//! removed). What it reports then is a moment between its first and last
//! read.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use smallvec::SmallVec;

use crate::allot::{RosterView, roster_view};
use crate::catalog::Schema;
use crate::error::{QueryError, StoreError};
use crate::event::{ClaimRecord, Event, UnitRow};
use crate::model::*;
use crate::roster::{Anomaly, Roster};
use crate::store::{KeyRange, ReadReq, Store};

/// A broken invariant. Any of these is a bug in allot or in the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation {
    /// More places live than the capacity, right after event `seq`.
    OverCapacity { stream: StreamId, seq: Seq, used: u64, capacity: u32 },
    /// Two live bookings overlap on an exclusive resource.
    Overlap { stream: StreamId, seq: Seq, booking: BookingId, with: BookingId },
    /// An event that breaks the stream's rules (or a seq gap).
    Anomaly { stream: StreamId, anomaly: Anomaly },
    /// The store's head and its events disagree: seqs are not contiguous.
    SeqGap { stream: StreamId, head: Seq, events: u64 },
    /// A booking stream of a unit that was never defined.
    OrphanStream { stream: StreamId },
    /// A unit row that is not the replay of its definition stream.
    UnitRowMismatch { unit: UnitId },
    /// A booking event without a claim: the request could be applied again.
    BookingWithoutClaim { stream: StreamId, booking: BookingId },
    /// A claim whose booking is missing from one of its streams.
    ClaimWithoutBooking { booking: BookingId, stream: StreamId },
    /// A booking event that disagrees with its claim (unit, span, qty).
    ClaimMismatch { booking: BookingId, stream: StreamId },
    /// A booking the caller was told about is not in the store.
    MissingAcknowledged { booking: BookingId },
}

impl Violation {
    /// A stable short name.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::OverCapacity { .. } => "over-capacity",
            Self::Overlap { .. } => "overlap",
            Self::Anomaly { .. } => "anomaly",
            Self::SeqGap { .. } => "seq-gap",
            Self::OrphanStream { .. } => "orphan-stream",
            Self::UnitRowMismatch { .. } => "unit-row-mismatch",
            Self::BookingWithoutClaim { .. } => "booking-without-claim",
            Self::ClaimWithoutBooking { .. } => "claim-without-booking",
            Self::ClaimMismatch { .. } => "claim-mismatch",
            Self::MissingAcknowledged { .. } => "missing-acknowledged",
        }
    }
}

/// For people (the `detail` of a violation in the npm package): the same
/// facts as `Debug`, in words.
impl core::fmt::Display for Violation {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::OverCapacity { stream, seq, used, capacity } => {
                write!(f, "stream {stream}: {used} places live after seq {seq}, capacity {capacity}")
            }
            Self::Overlap { stream, seq, booking, with } => {
                write!(f, "stream {stream}: booking {booking} overlaps booking {with} after seq {seq}")
            }
            Self::Anomaly { stream, anomaly } => write!(f, "stream {stream}: {anomaly}"),
            Self::SeqGap { stream, head, events } => {
                write!(f, "stream {stream}: head is seq {head} but {events} events were read")
            }
            Self::OrphanStream { stream } => write!(f, "stream {stream} belongs to a unit never defined"),
            Self::UnitRowMismatch { unit } => {
                write!(f, "unit {unit}: its row is not the replay of its definition stream")
            }
            Self::BookingWithoutClaim { stream, booking } => {
                write!(f, "stream {stream}: booking {booking} has no claim")
            }
            Self::ClaimWithoutBooking { booking, stream } => {
                write!(f, "booking {booking}: claimed, but missing from stream {stream}")
            }
            Self::ClaimMismatch { booking, stream } => {
                write!(f, "booking {booking}: its event in stream {stream} disagrees with its claim")
            }
            Self::MissingAcknowledged { booking } => {
                write!(f, "booking {booking} was acknowledged but is not in the store")
            }
        }
    }
}

/// What verify counted and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyReport {
    pub units: u64,
    pub retired_units: u64,
    pub streams: u64,
    pub events: u64,
    pub claims: u64,
    /// Distinct bookings live (confirmed, or held and unexpired) at `now`.
    pub live_bookings: u64,
    pub confirmed: u64,
    pub held: u64,
    /// Units with at least one live booking at `now`.
    pub units_with_live: u64,
    /// Actors holding more than one live booking at `now`.
    pub actors_with_multiple_live: u64,
    pub violations: Vec<Violation>,
    /// Per-stream rosters at `now`, when asked for.
    pub rosters: Vec<RosterView>,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }
}

/// Options for [`verify`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VerifyOptions {
    /// Include every stream's roster in the report.
    pub rosters: bool,
}

const PAGE: u32 = 1024;

/// What the recount checks of a claim: where its booking must be. (Not the
/// whole record: its request bytes would be most of the memory.)
#[derive(Debug, PartialEq, Eq)]
struct ClaimFacts {
    unit: UnitId,
    span: Span,
    qty: u32,
}

impl From<ClaimRecord> for ClaimFacts {
    fn from(c: ClaimRecord) -> Self {
        Self { unit: c.unit, span: c.span, qty: c.qty }
    }
}

/// Every claim, as the entry of its booking (nothing found in a stream yet).
///
/// Both maps are built from sorted lists, not one insert at a time: a
/// B-tree filled in key order splits each node as it fills and leaves it
/// half empty, so that the same map took about twice the memory.
async fn all_claims<S: Store>(store: &S) -> Result<BTreeMap<BookingId, Booking>, StoreError> {
    let mut out = Vec::new();
    let mut range = KeyRange::all(PAGE);
    loop {
        let page = store.scan_claims(&range).await?;
        let full = page.len() as u32 >= range.limit;
        let Some(last) = page.last().map(|(b, _)| b.encode()) else { break };
        out.extend(page.into_iter().map(|(b, c)| (b, Booking { claim: Some(c.into()), ..Booking::default() })));
        if !full {
            break;
        }
        range = range.after(&last);
    }
    Ok(out.into_iter().collect())
}

/// Every unit row, as the entry of its unit (nothing seen yet).
async fn all_units<S: Store>(store: &S) -> Result<BTreeMap<UnitId, Unit>, StoreError> {
    let mut out = Vec::new();
    let mut range = KeyRange::all(PAGE);
    loop {
        let page = store.scan_units(&range).await?;
        let full = page.len() as u32 >= range.limit;
        let Some(last) = page.last().map(|r| r.id().clone()) else { break };
        out.extend(page.into_iter().map(|row| (row.id().clone(), Unit { row, def_seen: false, live: false })));
        if !full {
            break;
        }
        let mut k = Vec::new();
        crate::key::encode_str(last.as_str(), &mut k);
        range = range.after(&k);
    }
    Ok(out.into_iter().collect())
}

/// What the recount knows of one unit: its row, and what the streams read
/// so far showed of it. (One map for all three: at a million units a set
/// per fact cost as much memory as the rows.)
struct Unit {
    row: alloc::sync::Arc<UnitRow>,
    /// Its definition stream was read.
    def_seen: bool,
    /// It holds a live booking at `now`.
    live: bool,
}

/// What the recount knows of one booking: its claim, from the first read
/// of the claims or from the second (for bookings committed meanwhile), and
/// what the streams showed of it. (One entry, keyed once: claims and
/// bookings found were the recount's two largest maps.)
#[derive(Default)]
struct Booking {
    claim: Option<ClaimFacts>,
    /// Its claim was missing from the first read and there in the second.
    claimed_late: bool,
    found: Found,
}

/// What the recount found of one booking.
#[derive(Default)]
struct Found {
    /// The streams it is in, each once: one for most bookings (a stay of
    /// an allotment is in one stream per day), so inline: at a million
    /// bookings a set per booking was the largest part of the recount's
    /// memory.
    streams: SmallVec<[StreamId; 1]>,
    /// Live at `now` in one of them.
    live: bool,
    /// Confirmed in one of them.
    confirmed: bool,
}

/// Replays a definition stream into the row it should have produced.
fn replay_def(events: &[Event]) -> Option<(UnitSpec, bool)> {
    let mut spec: Option<UnitSpec> = None;
    let mut retired = false;
    for e in events {
        match (e, spec.as_mut()) {
            (Event::UnitDefined { spec: s, .. }, None) => spec = Some(s.clone()),
            (Event::UnitReplaced { attrs, .. }, Some(s)) => s.attrs = attrs.clone(),
            (Event::UnitRetired { .. }, Some(_)) => retired = true,
            _ => return None,
        }
    }
    spec.map(|s| (s, retired))
}

/// Recounts the store. See the module documentation.
pub async fn verify<S: Store>(
    store: &S,
    now: TimeMs,
    acknowledged: &[BookingId],
    options: &VerifyOptions,
) -> Result<VerifyReport, QueryError> {
    check_time("now", now)?;
    // Claims before streams: with a writer still running, a claim read now
    // has its events in the streams read later (they commit together).
    // Every booking claimed or found in a stream: its claim, where it was
    // found, and whether it is live.
    let mut bookings = all_claims(store).await?;
    let mut units = all_units(store).await?;
    let mut report = VerifyReport {
        claims: bookings.len() as u64,
        units: units.len() as u64,
        retired_units: units.values().filter(|u| u.row.retired).count() as u64,
        ..VerifyReport::default()
    };
    let mut v = Vec::new();
    // Bookings found without a claim in the first read: read again at the end.
    let mut unclaimed: Vec<(StreamId, BookingId, UnitId, Span, u32)> = Vec::new();

    let mut range = KeyRange::all(256);
    loop {
        let heads = store.scan_streams(&range).await?;
        let full = heads.len() as u32 >= range.limit;
        let Some(last) = heads.last().map(|(s, _)| s.encode()) else { break };
        let reqs: Vec<ReadReq> = heads.iter().map(|(s, _)| ReadReq { stream: s.clone(), after: 0 }).collect();
        let slices = store.read_streams(&reqs).await?;
        for ((stream, _), slice) in heads.into_iter().zip(slices) {
            report.streams += 1;
            report.events += slice.events.len() as u64;
            if slice.head != slice.events.len() as u64 {
                v.push(Violation::SeqGap {
                    stream: stream.clone(),
                    head: slice.head,
                    events: slice.events.len() as u64,
                });
            }
            let Some(unit_id) = stream.unit() else {
                let _ = Schema::replay(&slice.events);
                continue;
            };
            if stream.part == Part::Def {
                let ok = units.get_mut(&unit_id).is_some_and(|unit| {
                    unit.def_seen = true;
                    let row = &unit.row;
                    replay_def(&slice.events).is_some_and(|(spec, retired)| {
                        row.spec == spec && row.retired == retired && row.version == slice.events.len() as u64
                    })
                });
                if !ok {
                    v.push(Violation::UnitRowMismatch { unit: unit_id });
                }
                continue;
            }
            let Some(unit) = units.get_mut(&unit_id) else {
                v.push(Violation::OrphanStream { stream });
                continue;
            };
            let kind = unit.row.spec.kind;
            let capacity = kind.capacity();
            let mut roster = Roster::new();
            for (i, event) in slice.events.iter().enumerate() {
                let seq = i as Seq + 1;
                let mut anomalies = Vec::new();
                roster.extend(seq, core::slice::from_ref(event), &mut anomalies);
                for a in anomalies {
                    v.push(Violation::Anomaly { stream: stream.clone(), anomaly: a });
                }
                let Event::Booked { booking, qty, span, .. } = event else { continue };
                // Claimed (most bookings): its id is not cloned again.
                let entry = match bookings.get_mut(booking) {
                    Some(entry) => entry,
                    None => bookings.entry(booking.clone()).or_default(),
                };
                let streams = &mut entry.found.streams;
                if !streams.contains(&stream) {
                    streams.push(stream.clone());
                }
                match &entry.claim {
                    None => unclaimed.push((stream.clone(), booking.clone(), unit_id.clone(), *span, *qty)),
                    Some(c) if c.unit != unit_id || c.span != *span || c.qty != *qty => {
                        v.push(Violation::ClaimMismatch { booking: booking.clone(), stream: stream.clone() });
                    }
                    Some(_) => {}
                }
                // The invariant at the moment the booking was added.
                let eff = roster.watermark();
                match kind {
                    UnitKind::Exclusive => {
                        let me = roster.live(eff).find(|e| e.booking == *booking);
                        let other = me.and_then(|me| {
                            roster.live(eff).find(|e| e.booking != *booking && e.span.overlaps(&me.span))
                        });
                        if let Some(other) = other {
                            v.push(Violation::Overlap {
                                stream: stream.clone(),
                                seq,
                                booking: booking.clone(),
                                with: other.booking.clone(),
                            });
                        }
                    }
                    _ => {
                        let used = roster.used(eff);
                        if used > u64::from(capacity) {
                            v.push(Violation::OverCapacity { stream: stream.clone(), seq, used, capacity });
                        }
                    }
                }
            }
            let eff = roster.effective_now(now);
            for e in roster.entries() {
                let is_live = e.is_live(eff);
                // Found above (every entry comes from a `Booked` here), so
                // its id is not cloned again.
                let slot = match bookings.get_mut(&e.booking) {
                    Some(slot) => &mut slot.found,
                    None => &mut bookings.entry(e.booking.clone()).or_default().found,
                };
                slot.live |= is_live;
                slot.confirmed |= e.state == crate::roster::BookingState::Confirmed;
                unit.live |= is_live;
            }
            if options.rosters {
                report.rosters.push(roster_view(stream, &roster, capacity, now));
            }
        }
        if !full {
            break;
        }
        range = range.after(&last);
    }

    for (id, unit) in &units {
        if !unit.def_seen {
            v.push(Violation::UnitRowMismatch { unit: id.clone() });
        }
    }
    for (booking, entry) in &bookings {
        let Some(claim) = &entry.claim else { continue };
        for s in booking_streams(&claim.unit, &claim.span) {
            if !entry.found.streams.contains(&s) {
                v.push(Violation::ClaimWithoutBooking { booking: booking.clone(), stream: s });
            }
        }
    }
    for chunk in unclaimed.chunks(crate::limits::READ_BATCH_LEN) {
        let ids: Vec<BookingId> = chunk.iter().map(|(_, b, ..)| b.clone()).collect();
        let again = store.get_claims(&ids).await?;
        for ((stream, booking, unit, span, qty), claim) in chunk.iter().zip(again) {
            match claim {
                None => v.push(Violation::BookingWithoutClaim { stream: stream.clone(), booking: booking.clone() }),
                Some(c) if c.unit != *unit || c.span != *span || c.qty != *qty => {
                    v.push(Violation::ClaimMismatch { booking: booking.clone(), stream: stream.clone() });
                }
                Some(_) => {
                    if let Some(entry) = bookings.get_mut(booking) {
                        entry.claimed_late = true;
                    }
                }
            }
        }
    }
    for booking in acknowledged {
        let present =
            bookings.get(booking).is_some_and(|b| !b.found.streams.is_empty() && (b.claim.is_some() || b.claimed_late));
        if !present {
            v.push(Violation::MissingAcknowledged { booking: booking.clone() });
        }
    }
    // Bookings are ordered by actor first: an actor's live bookings are
    // counted in one run, with no map of actors.
    let mut actor: Option<(&Actor, u32)> = None;
    for (booking, b) in &bookings {
        let f = &b.found;
        if !f.live {
            continue;
        }
        report.live_bookings += 1;
        if f.confirmed {
            report.confirmed += 1;
        } else {
            report.held += 1;
        }
        match &mut actor {
            Some((a, n)) if *a == &booking.actor => *n += 1,
            _ => {
                if actor.is_some_and(|(_, n)| n > 1) {
                    report.actors_with_multiple_live += 1;
                }
                actor = Some((&booking.actor, 1));
            }
        }
    }
    if actor.is_some_and(|(_, n)| n > 1) {
        report.actors_with_multiple_live += 1;
    }
    report.units_with_live = units.values().filter(|u| u.live).count() as u64;
    report.violations = v;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    /// The npm package hands these texts to people (`detail`): they name
    /// the stream, booking or unit in its own notation, not Rust's `Debug`.
    #[test]
    fn violations_read_as_words() {
        let unit = UnitId::new("room-1").unwrap();
        let stream = StreamId::new(&unit, Part::Main);
        let (ada, bob) = (BookingId::new("ada", "k1").unwrap(), BookingId::new("bob", "k2").unwrap());
        let cases = [
            (
                Violation::Overlap { stream: stream.clone(), seq: 2, booking: bob.clone(), with: ada.clone() },
                "stream room-1#main: booking bob/k2 overlaps booking ada/k1 after seq 2",
            ),
            (
                Violation::OverCapacity { stream: stream.clone(), seq: 3, used: 3, capacity: 2 },
                "stream room-1#main: 3 places live after seq 3, capacity 2",
            ),
            (
                Violation::Anomaly {
                    stream: stream.clone(),
                    anomaly: Anomaly::DuplicateBooking { seq: 4, booking: ada.clone() },
                },
                "stream room-1#main: booking ada/k1 created again at seq 4",
            ),
            (Violation::UnitRowMismatch { unit }, "unit room-1: its row is not the replay of its definition stream"),
            (
                Violation::MissingAcknowledged { booking: bob },
                "booking bob/k2 was acknowledged but is not in the store",
            ),
        ];
        for (v, want) in cases {
            assert_eq!(v.to_string(), want, "{v:?}");
        }
    }
}

//! Events (what streams hold) and the records stores keep beside them (unit
//! rows, claims), with their byte encoding.
//!
//! Every record starts with a format version byte, then fields in the
//! order-preserving key codec (so there is one decoder to fuzz). Decoding
//! validates everything it reads: a store handing back garbage gets a
//! [`DecodeError`], never a panic and never a half-valid value. The layout is
//! written down in `docs/key-format.md`.

use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::error::{DecodeError, InputError};
use crate::key::{self, KeyError, KeyPart, KeyReader, KeyType, KeyValue, Order};
use crate::limits::*;
use crate::model::*;

/// The version byte every record starts with.
pub const FORMAT_VERSION: u8 = 1;

/// A hold: a booking that lapses by itself at `expires_at` unless confirmed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hold {
    pub expires_at: TimeMs,
    /// What the hold stands for outside allot (a payment id): if the hold
    /// expires unconfirmed, `reconcile` lists it so the app can refund.
    pub ext_ref: Option<String>,
}

/// One entry of a stream. `at` is the caller's `now` when it was decided.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// First event of a unit's definition stream.
    UnitDefined { spec: UnitSpec, at: TimeMs },
    /// New attributes (kind and capacity never change).
    UnitReplaced { attrs: Attrs, at: TimeMs },
    /// No new bookings; existing ones stay and can still be cancelled.
    UnitRetired { at: TimeMs },
    /// A secondary index was added to the catalog.
    IndexDefined { def: IndexDef, at: TimeMs },
    /// `units` rows got new index entries (a page of the backfill after an
    /// index was defined). Rewriting a row appends nothing to its
    /// definition stream, so this is how a client following the change
    /// feed learns that the index entries it has read may have moved.
    UnitsReindexed { units: u32, at: TimeMs },
    /// A booking (or, with `hold`, a hold) took `qty` places for `span`.
    Booked { booking: BookingId, qty: u32, span: Span, hold: Option<Box<Hold>>, at: TimeMs },
    /// The owner confirmed a live hold.
    Confirmed { booking: BookingId, at: TimeMs },
    /// The owner cancelled a hold or a booking.
    Cancelled { booking: BookingId, at: TimeMs },
    /// The owner gave a hold back before it expired.
    Released { booking: BookingId, at: TimeMs },
}

const TAG_UNIT_DEFINED: u8 = 1;
const TAG_UNIT_REPLACED: u8 = 2;
const TAG_UNIT_RETIRED: u8 = 3;
const TAG_INDEX_DEFINED: u8 = 4;
const TAG_UNITS_REINDEXED: u8 = 5;
const TAG_BOOKED: u8 = 10;
const TAG_CONFIRMED: u8 = 11;
const TAG_CANCELLED: u8 = 12;
const TAG_RELEASED: u8 = 13;

impl Event {
    pub fn at(&self) -> TimeMs {
        match self {
            Self::UnitDefined { at, .. }
            | Self::UnitReplaced { at, .. }
            | Self::UnitRetired { at }
            | Self::IndexDefined { at, .. }
            | Self::UnitsReindexed { at, .. }
            | Self::Booked { at, .. }
            | Self::Confirmed { at, .. }
            | Self::Cancelled { at, .. }
            | Self::Released { at, .. } => *at,
        }
    }

    /// The booking this event is about, if any.
    pub fn booking(&self) -> Option<&BookingId> {
        match self {
            Self::Booked { booking, .. }
            | Self::Confirmed { booking, .. }
            | Self::Cancelled { booking, .. }
            | Self::Released { booking, .. } => Some(booking),
            _ => None,
        }
    }

    /// A short name: `booked`, `held`, `confirmed`...
    pub fn name(&self) -> &'static str {
        match self {
            Self::UnitDefined { .. } => "unit-defined",
            Self::UnitReplaced { .. } => "unit-replaced",
            Self::UnitRetired { .. } => "unit-retired",
            Self::IndexDefined { .. } => "index-defined",
            Self::UnitsReindexed { .. } => "units-reindexed",
            Self::Booked { hold: None, .. } => "booked",
            Self::Booked { hold: Some(_), .. } => "held",
            Self::Confirmed { .. } => "confirmed",
            Self::Cancelled { .. } => "cancelled",
            Self::Released { .. } => "released",
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.push(FORMAT_VERSION);
        match self {
            Self::UnitDefined { spec, at } => {
                out.push(TAG_UNIT_DEFINED);
                at.encode_to(&mut out);
                put_spec(spec, &mut out);
            }
            Self::UnitReplaced { attrs, at } => {
                out.push(TAG_UNIT_REPLACED);
                at.encode_to(&mut out);
                put_attrs(attrs, &mut out);
            }
            Self::UnitRetired { at } => {
                out.push(TAG_UNIT_RETIRED);
                at.encode_to(&mut out);
            }
            Self::IndexDefined { def, at } => {
                out.push(TAG_INDEX_DEFINED);
                at.encode_to(&mut out);
                put_index_def(def, &mut out);
            }
            Self::UnitsReindexed { units, at } => {
                out.push(TAG_UNITS_REINDEXED);
                at.encode_to(&mut out);
                units.encode_to(&mut out);
            }
            Self::Booked { booking, qty, span, hold, at } => {
                out.push(TAG_BOOKED);
                at.encode_to(&mut out);
                put_booking(booking, &mut out);
                qty.encode_to(&mut out);
                put_span(span, &mut out);
                put_hold(hold.as_deref(), &mut out);
            }
            Self::Confirmed { booking, at } => {
                out.push(TAG_CONFIRMED);
                at.encode_to(&mut out);
                put_booking(booking, &mut out);
            }
            Self::Cancelled { booking, at } => {
                out.push(TAG_CANCELLED);
                at.encode_to(&mut out);
                put_booking(booking, &mut out);
            }
            Self::Released { booking, at } => {
                out.push(TAG_RELEASED);
                at.encode_to(&mut out);
                put_booking(booking, &mut out);
            }
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let what = "event";
        let mut r = Reader::start(bytes, what)?;
        let tag = r.u8()?;
        let at = r.time()?;
        let event = match tag {
            TAG_UNIT_DEFINED => Self::UnitDefined { spec: r.spec()?, at },
            TAG_UNIT_REPLACED => Self::UnitReplaced { attrs: r.attrs()?, at },
            TAG_UNIT_RETIRED => Self::UnitRetired { at },
            TAG_INDEX_DEFINED => Self::IndexDefined { def: r.index_def()?, at },
            TAG_UNITS_REINDEXED => Self::UnitsReindexed { units: r.u32()?, at },
            TAG_BOOKED => {
                let booking = r.booking()?;
                let qty = r.u32()?;
                if qty == 0 || qty > CAPACITY_MAX {
                    return Err(r.bad("quantity out of range"));
                }
                let span = r.span()?;
                let hold = r.hold()?;
                Self::Booked { booking, qty, span, hold, at }
            }
            TAG_CONFIRMED => Self::Confirmed { booking: r.booking()?, at },
            TAG_CANCELLED => Self::Cancelled { booking: r.booking()?, at },
            TAG_RELEASED => Self::Released { booking: r.booking()?, at },
            _ => return Err(r.bad("unknown event tag")),
        };
        r.finish()?;
        Ok(event)
    }
}

/// A unit as stores keep it: the replay of its definition stream, plus the
/// index entries it has, so that stores maintain indexes without knowing
/// the catalog.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitRow {
    pub spec: UnitSpec,
    /// The definition stream's seq this row reflects.
    pub version: Seq,
    pub retired: bool,
    /// Full index entry keys (index name, fields, unit id). Empty once retired.
    pub index_keys: Vec<Vec<u8>>,
}

impl UnitRow {
    pub fn id(&self) -> &UnitId {
        &self.spec.id
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.push(FORMAT_VERSION);
        self.version.encode_to(&mut out);
        self.retired.encode_to(&mut out);
        put_spec(&self.spec, &mut out);
        (self.index_keys.len() as u16).encode_to(&mut out);
        for k in &self.index_keys {
            key::encode_bytes(k, &mut out);
        }
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::start(bytes, "unit row")?;
        let version = r.u64()?;
        let retired = r.bool()?;
        let spec = r.spec()?;
        let n = usize::from(r.u16()?);
        if n > INDEXES_MAX {
            return Err(r.bad("too many index keys"));
        }
        let mut index_keys = Vec::with_capacity(n);
        for _ in 0..n {
            index_keys.push(r.bytes()?);
        }
        r.finish()?;
        Ok(Self { spec, version, retired, index_keys })
    }
}

// Each booking keeps one `Event::Booked` in its unit's stream and one
// `ClaimRecord` in the claims for as long as the store lives: at a million
// bookings every 8 bytes here is 8 MB more that a rush faults in while it
// runs. So a hold, which few bookings carry, is boxed, and these bounds
// keep both as small on 64-bit targets.
#[cfg(target_pointer_width = "64")]
const _: () = assert!(core::mem::size_of::<Event>() <= 80 && core::mem::size_of::<ClaimRecord>() <= 88);

/// What an idempotency claim remembers: the request's canonical payload (to
/// reject a key reused for something else) and its outcome (to replay it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClaimRecord {
    /// Shared, not copied: a batch's requests mostly ask the same, and a
    /// claim kept per booking would otherwise keep a copy of its own.
    pub request: Arc<[u8]>,
    pub unit: UnitId,
    pub span: Span,
    pub qty: u32,
    pub hold: Option<Box<Hold>>,
    /// 1-based ordinal of the booking's first place among the live bookings
    /// when it was made (informational, like a seat number).
    pub seat: u32,
    pub at: TimeMs,
}

impl ClaimRecord {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        out.push(FORMAT_VERSION);
        key::encode_bytes(&self.request, &mut out);
        key::encode_str(self.unit.as_str(), &mut out);
        put_span(&self.span, &mut out);
        self.qty.encode_to(&mut out);
        put_hold(self.hold.as_deref(), &mut out);
        self.seat.encode_to(&mut out);
        self.at.encode_to(&mut out);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::start(bytes, "claim")?;
        let request = r.bytes()?.into();
        let unit = r.id(UnitId::new)?;
        let span = r.span()?;
        let qty = r.u32()?;
        let hold = r.hold()?;
        let seat = r.u32()?;
        let at = r.time()?;
        r.finish()?;
        Ok(Self { request, unit, span, qty, hold, seat, at })
    }
}

/// Events one commit appended to one stream: what a store's change feed
/// reports (see [`crate::store::Store::changes`]). `events` have seqs
/// `first ..= first + events.len() - 1`.
#[derive(Clone, Debug, PartialEq)]
pub struct Append {
    pub stream: StreamId,
    pub first: Seq,
    pub events: Vec<Event>,
}

impl Append {
    /// One record for many appends (what a store journals per commit or per
    /// commit group).
    pub fn encode_all(appends: &[Append]) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 + appends.len() * 64);
        out.push(FORMAT_VERSION);
        (appends.len() as u32).encode_to(&mut out);
        for a in appends {
            key::encode_bytes(&a.stream.encode(), &mut out);
            a.first.encode_to(&mut out);
            (a.events.len() as u32).encode_to(&mut out);
            for e in &a.events {
                key::encode_bytes(&e.encode(), &mut out);
            }
        }
        out
    }

    /// Decodes [`Append::encode_all`]'s record; every append is checked
    /// (a first seq of at least 1, at least one event, no seq overflow).
    pub fn decode_all(bytes: &[u8]) -> Result<Vec<Append>, DecodeError> {
        let mut r = Reader::start(bytes, "journal record")?;
        let n = r.u32()? as usize;
        if n > STREAMS_PER_COMMIT_MAX * COMMITS_PER_GROUP_MAX {
            return Err(r.bad("too many appends"));
        }
        let mut out = Vec::with_capacity(n.min(1024));
        for _ in 0..n {
            let stream = StreamId::decode(&r.bytes()?).map_err(|_| r.bad("bad stream id"))?;
            let first = r.u64()?;
            let len = r.u32()? as usize;
            if first == 0 || len == 0 || len > EVENTS_PER_COMMIT_MAX {
                return Err(r.bad("bad append"));
            }
            if first.checked_add(len as u64).is_none() {
                return Err(r.bad("seq overflow"));
            }
            let mut events = Vec::with_capacity(len);
            for _ in 0..len {
                events.push(Event::decode(&r.bytes()?).map_err(|_| r.bad("bad event"))?);
            }
            out.push(Append { stream, first, events });
        }
        r.finish()?;
        Ok(out)
    }
}

// ---- writing ----

fn put_booking(b: &BookingId, out: &mut Vec<u8>) {
    key::encode_str(b.actor.as_str(), out);
    key::encode_str(b.key.as_str(), out);
}

fn put_span(span: &Span, out: &mut Vec<u8>) {
    match *span {
        Span::Whole => out.push(0),
        Span::Days { from, to } => {
            out.push(1);
            from.encode_to(out);
            to.encode_to(out);
        }
        Span::Interval { start, end } => {
            out.push(2);
            start.encode_to(out);
            end.encode_to(out);
        }
    }
}

fn put_hold(hold: Option<&Hold>, out: &mut Vec<u8>) {
    match hold {
        None => out.push(0),
        Some(h) => {
            out.push(1);
            h.expires_at.encode_to(out);
            match &h.ext_ref {
                None => out.push(0),
                Some(s) => {
                    out.push(1);
                    key::encode_str(s, out);
                }
            }
        }
    }
}

fn put_spec(spec: &UnitSpec, out: &mut Vec<u8>) {
    key::encode_str(spec.id.as_str(), out);
    match spec.kind {
        UnitKind::Pool { capacity } => {
            out.push(0);
            capacity.encode_to(out);
        }
        UnitKind::Allotment { capacity } => {
            out.push(1);
            capacity.encode_to(out);
        }
        UnitKind::Exclusive => out.push(2),
    }
    put_attrs(&spec.attrs, out);
}

fn put_attrs(attrs: &Attrs, out: &mut Vec<u8>) {
    out.push(attrs.len() as u8);
    for (name, value) in attrs.iter() {
        key::encode_str(name, out);
        out.push(type_tag(value.key_type()));
        value.encode_to(Order::Asc, out);
    }
}

fn put_index_def(def: &IndexDef, out: &mut Vec<u8>) {
    key::encode_str(&def.name, out);
    out.push(def.fields.len() as u8);
    for f in &def.fields {
        key::encode_str(&f.attr, out);
        out.push(type_tag(f.ty));
        out.push(match f.order {
            Order::Asc => 0,
            Order::Desc => 1,
        });
    }
}

const TYPES: [KeyType; 12] = [
    KeyType::U8,
    KeyType::U16,
    KeyType::U32,
    KeyType::U64,
    KeyType::I8,
    KeyType::I16,
    KeyType::I32,
    KeyType::I64,
    KeyType::F64,
    KeyType::Bool,
    KeyType::Bytes,
    KeyType::Str,
];

fn type_tag(ty: KeyType) -> u8 {
    TYPES.iter().position(|t| *t == ty).unwrap_or(0) as u8
}

// ---- reading ----

struct Reader<'a> {
    r: KeyReader<'a>,
    what: &'static str,
}

impl<'a> Reader<'a> {
    fn start(bytes: &'a [u8], what: &'static str) -> Result<Self, DecodeError> {
        let Some((&version, rest)) = bytes.split_first() else {
            return Err(DecodeError::Malformed { what, reason: "empty" });
        };
        if version != FORMAT_VERSION {
            return Err(DecodeError::Version { what, found: version });
        }
        Ok(Self { r: KeyReader::new(rest), what })
    }

    fn bad(&self, reason: &'static str) -> DecodeError {
        DecodeError::Malformed { what: self.what, reason }
    }

    fn key<T: KeyPart>(&mut self) -> Result<T, DecodeError> {
        T::decode_from(&mut self.r).map_err(|error| DecodeError::Key { what: self.what, error })
    }

    fn u8(&mut self) -> Result<u8, DecodeError> {
        self.key()
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        self.key()
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        self.key()
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        self.key()
    }
    fn bool(&mut self) -> Result<bool, DecodeError> {
        self.key()
    }
    fn bytes(&mut self) -> Result<Vec<u8>, DecodeError> {
        self.key()
    }
    fn string(&mut self) -> Result<String, DecodeError> {
        self.key()
    }

    fn time(&mut self) -> Result<TimeMs, DecodeError> {
        let t = self.u64()?;
        if t > TIME_MAX {
            return Err(self.bad("time out of range"));
        }
        Ok(t)
    }

    fn input<T>(&self, r: Result<T, InputError>) -> Result<T, DecodeError> {
        r.map_err(|e| match e {
            InputError::Key(error) => DecodeError::Key { what: self.what, error },
            _ => self.bad("invalid field"),
        })
    }

    fn id<T>(&mut self, f: fn(&str) -> Result<T, InputError>) -> Result<T, DecodeError> {
        let s = self.string()?;
        self.input(f(&s))
    }

    fn booking(&mut self) -> Result<BookingId, DecodeError> {
        let actor = self.id(Actor::new)?;
        let key = self.id(RequestKey::new)?;
        Ok(BookingId { actor, key })
    }

    fn span(&mut self) -> Result<Span, DecodeError> {
        let span = match self.u8()? {
            0 => Span::Whole,
            1 => {
                let (from, to) = (self.u32()?, self.u32()?);
                if to <= from || to - from > STAY_DAYS_MAX {
                    return Err(self.bad("bad day span"));
                }
                Span::Days { from, to }
            }
            2 => {
                let (start, end) = (self.u64()?, self.u64()?);
                if end <= start || end > TIME_MAX {
                    return Err(self.bad("bad interval"));
                }
                Span::Interval { start, end }
            }
            _ => return Err(self.bad("unknown span tag")),
        };
        Ok(span)
    }

    fn hold(&mut self) -> Result<Option<Box<Hold>>, DecodeError> {
        match self.u8()? {
            0 => Ok(None),
            1 => {
                let expires_at = self.time()?;
                let ext_ref = match self.u8()? {
                    0 => None,
                    1 => {
                        let s = self.string()?;
                        if s.len() > EXT_REF_LEN_MAX_BYTES {
                            return Err(self.bad("external reference too long"));
                        }
                        Some(s)
                    }
                    _ => return Err(self.bad("bad option tag")),
                };
                Ok(Some(Box::new(Hold { expires_at, ext_ref })))
            }
            _ => Err(self.bad("bad option tag")),
        }
    }

    fn key_type(&mut self) -> Result<KeyType, DecodeError> {
        let tag = self.u8()?;
        TYPES.get(usize::from(tag)).copied().ok_or_else(|| self.bad("unknown value type"))
    }

    fn attrs(&mut self) -> Result<Attrs, DecodeError> {
        let n = usize::from(self.u8()?);
        if n > ATTRS_PER_UNIT_MAX {
            return Err(self.bad("too many attributes"));
        }
        let mut attrs: Vec<(String, KeyValue)> = Vec::with_capacity(n);
        for _ in 0..n {
            let name = self.string()?;
            // One encoding per record: names strictly ascending, as written.
            if attrs.last().is_some_and(|(prev, _)| *prev >= name) {
                return Err(self.bad("attributes not in ascending name order"));
            }
            let ty = self.key_type()?;
            let value = KeyValue::decode_from(ty, Order::Asc, &mut self.r)
                .map_err(|error| DecodeError::Key { what: self.what, error })?;
            attrs.push((name, value));
        }
        self.input(Attrs::new(attrs))
    }

    fn spec(&mut self) -> Result<UnitSpec, DecodeError> {
        let id = self.id(UnitId::new)?;
        let kind = match self.u8()? {
            0 => UnitKind::Pool { capacity: self.u32()? },
            1 => UnitKind::Allotment { capacity: self.u32()? },
            2 => UnitKind::Exclusive,
            _ => return Err(self.bad("unknown unit kind")),
        };
        let r = kind.validate();
        self.input(r)?;
        let attrs = self.attrs()?;
        Ok(UnitSpec { id, kind, attrs })
    }

    fn index_def(&mut self) -> Result<IndexDef, DecodeError> {
        let name = self.string()?;
        let n = usize::from(self.u8()?);
        if n > INDEX_FIELDS_MAX {
            return Err(self.bad("too many index fields"));
        }
        let mut fields = Vec::with_capacity(n);
        for _ in 0..n {
            let attr = self.string()?;
            let ty = self.key_type()?;
            let order = match self.u8()? {
                0 => Order::Asc,
                1 => Order::Desc,
                _ => return Err(self.bad("bad order")),
            };
            fields.push(IndexField { attr, ty, order });
        }
        let def = IndexDef::new(&name, fields);
        self.input(def)
    }

    fn finish(self) -> Result<(), DecodeError> {
        self.r.finish().map_err(|error: KeyError| DecodeError::Key { what: self.what, error })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    fn sample_events() -> Vec<Event> {
        let b = BookingId::new("alice", "req-1").unwrap();
        let spec = UnitSpec::new(
            "room-1",
            UnitKind::Allotment { capacity: 3 },
            vec![
                ("price".into(), KeyValue::U32(990)),
                ("zone".into(), KeyValue::Str("sea\0view".into())),
                ("rating".into(), KeyValue::F64(4.5)),
            ],
        )
        .unwrap();
        vec![
            Event::UnitDefined { spec: spec.clone(), at: 1 },
            Event::UnitReplaced { attrs: spec.attrs.clone(), at: 2 },
            Event::UnitRetired { at: 3 },
            Event::IndexDefined { def: IndexDef::single("price", "price", KeyType::U32).unwrap(), at: 4 },
            Event::UnitsReindexed { units: 17, at: 5 },
            Event::Booked { booking: b.clone(), qty: 2, span: Span::Days { from: 10, to: 13 }, hold: None, at: 5 },
            Event::Booked {
                booking: b.clone(),
                qty: 1,
                span: Span::Interval { start: 100, end: 200 },
                hold: Some(Box::new(Hold { expires_at: 9, ext_ref: Some("pay_1".into()) })),
                at: 6,
            },
            Event::Booked {
                booking: b.clone(),
                qty: 1,
                span: Span::Whole,
                hold: Some(Box::new(Hold { expires_at: 9, ext_ref: None })),
                at: 6,
            },
            Event::Confirmed { booking: b.clone(), at: 7 },
            Event::Cancelled { booking: b.clone(), at: 8 },
            Event::Released { booking: b, at: TIME_MAX },
        ]
    }

    #[test]
    fn events_round_trip() {
        for e in sample_events() {
            let bytes = e.encode();
            assert_eq!(Event::decode(&bytes), Ok(e.clone()), "{e:?}");
        }
    }

    #[test]
    fn every_truncation_is_an_error() {
        for e in sample_events() {
            let bytes = e.encode();
            for len in 0..bytes.len() {
                assert!(Event::decode(&bytes[..len]).is_err(), "{e:?} cut at {len}");
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(Event::decode(&longer).is_err());
        }
    }

    #[test]
    fn version_and_tag_are_checked() {
        let mut bytes = Event::UnitRetired { at: 1 }.encode();
        bytes[0] = 2;
        assert_eq!(Event::decode(&bytes).unwrap_err().code(), "E_FORMAT_VERSION");
        bytes[0] = FORMAT_VERSION;
        bytes[1] = 99;
        assert_eq!(Event::decode(&bytes).unwrap_err().code(), "E_EVENT_MALFORMED");
    }

    #[test]
    fn semantic_checks_on_decode() {
        let b = BookingId::new("a", "k").unwrap();
        // qty 0 and an empty interval cannot be built through the API, so
        // build the bytes by hand.
        let good = Event::Booked { booking: b, qty: 1, span: Span::Interval { start: 5, end: 6 }, hold: None, at: 0 };
        let bytes = good.encode();
        let qty_at = bytes.len() - 1 - 17 - 4;
        let mut zero_qty = bytes.clone();
        zero_qty[qty_at..qty_at + 4].copy_from_slice(&0u32.to_be_bytes());
        assert_eq!(Event::decode(&zero_qty).unwrap_err().code(), "E_EVENT_MALFORMED");
        let mut empty = bytes.clone();
        let end_at = bytes.len() - 1 - 8;
        empty[end_at..end_at + 8].copy_from_slice(&5u64.to_be_bytes());
        assert_eq!(Event::decode(&empty).unwrap_err().code(), "E_EVENT_MALFORMED");
    }

    /// Found by fuzzing (fuzz/fuzz_targets/record_decode.rs): a row whose
    /// attributes were not sorted decoded (sorted) and re-encoded to other
    /// bytes. Decoding now accepts only the one canonical encoding.
    #[test]
    fn unsorted_attributes_are_malformed() {
        let crash: &[u8] = &[
            1, 1, 0, 1, 0, 0, 0, 220, 0, 1, 108, 108, 108, 106, 108, 1, 0, 1, 0, 0, 1, 1, 1, 3, 1, 0, 1, 0, 1, 1, 108,
            108, 106, 11, 108, 108, 0, 1, 1, 1, 1, 108, 93, 1, 1, 1, 0, 1, 1, 0, 0,
        ];
        assert_eq!(UnitRow::decode(crash).unwrap_err().code(), "E_RECORD_MALFORMED");
        let spec =
            UnitSpec::new("u", UnitKind::Exclusive, vec![("b".into(), KeyValue::U8(1)), ("a".into(), KeyValue::U8(2))])
                .unwrap();
        let row = UnitRow { spec, version: 1, retired: false, index_keys: vec![] };
        assert_eq!(UnitRow::decode(&row.encode()), Ok(row));
    }

    #[test]
    fn rows_and_claims_round_trip() {
        let spec = UnitSpec::new("t1", UnitKind::Exclusive, vec![("seats".into(), KeyValue::U8(4))]).unwrap();
        let row = UnitRow { spec, version: 7, retired: false, index_keys: vec![vec![0, 1, 2], vec![]] };
        assert_eq!(UnitRow::decode(&row.encode()), Ok(row));
        let claim = ClaimRecord {
            request: vec![0, 0xff, 3].into(),
            unit: UnitId::new("t1").unwrap(),
            span: Span::Interval { start: 1, end: 2 },
            qty: 1,
            hold: Some(Box::new(Hold { expires_at: 50, ext_ref: Some("pi_123".into()) })),
            seat: 1,
            at: 10,
        };
        assert_eq!(ClaimRecord::decode(&claim.encode()), Ok(claim));
    }
}

//! The vocabulary: ids, units, spans, streams, index definitions, and the
//! validation every public entry point runs before touching a store.

use alloc::borrow::ToOwned;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::error::{DecodeError, InputError};
use crate::key::{self, KeyType, KeyValue, Order};
use crate::limits::*;

/// A stream's sequence number: the number of events in it. 0 is the empty
/// stream; the first event has seq 1 and seqs are contiguous.
pub type Seq = u64;

/// Milliseconds on the caller's clock. allot never reads a clock: every
/// operation that depends on time takes `now` as an argument.
pub type TimeMs = u64;

macro_rules! id_type {
    ($(#[$m:meta])* $name:ident, $what:literal) => {
        $(#[$m])*
        ///
        /// Shared, immutable text: cloning one (which the booking loop does
        /// for every candidate it looks at) is a reference count, not a copy.
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(Arc<str>);

        impl $name {
            /// Validates length: 1..=[`ID_LEN_MAX_BYTES`] UTF-8 bytes.
            pub fn new(s: &str) -> Result<Self, InputError> {
                check_id(s, $what)?;
                Ok(Self(Arc::from(s)))
            }
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = InputError;
            fn try_from(s: &str) -> Result<Self, InputError> {
                Self::new(s)
            }
        }
    };
}

id_type!(
    /// A bookable unit: a room, a table, an occurrence, a room type.
    UnitId,
    "unit id"
);
id_type!(
    /// Who books: a user, a session, a travel agent. Owns what it books.
    Actor,
    "actor"
);
id_type!(
    /// The caller's idempotency key. Unique per actor: repeating a request
    /// with the same key returns the first outcome instead of booking twice.
    RequestKey,
    "request key"
);

impl UnitId {
    /// The shared text itself, for lookups that compare pointers first.
    pub(crate) fn arc(&self) -> &Arc<str> {
        &self.0
    }
}

fn check_id(s: &str, what: &'static str) -> Result<(), InputError> {
    if s.is_empty() {
        return Err(InputError::IdEmpty { what });
    }
    if s.len() > ID_LEN_MAX_BYTES {
        return Err(InputError::IdTooLong { what, len: s.len() });
    }
    Ok(())
}

/// Validates a name (attribute, index): 1..=[`NAME_LEN_MAX_BYTES`] bytes.
pub fn check_name(s: &str, what: &'static str) -> Result<(), InputError> {
    if s.is_empty() || s.len() > NAME_LEN_MAX_BYTES {
        return Err(InputError::NameInvalid { what, len: s.len() });
    }
    Ok(())
}

/// A booking is named by the actor that made it and the request key it was
/// made with: the same pair is its idempotency claim, so a booking can exist
/// at most once by construction.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BookingId {
    pub actor: Actor,
    pub key: RequestKey,
}

impl BookingId {
    pub fn new(actor: &str, key: &str) -> Result<Self, InputError> {
        Ok(Self { actor: Actor::new(actor)?, key: RequestKey::new(key)? })
    }

    /// Order-preserving bytes: the claim key in stores.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.actor.0.len() + self.key.0.len() + 4);
        key::encode_str(&self.actor.0, &mut out);
        key::encode_str(&self.key.0, &mut out);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, InputError> {
        let (actor, key): (String, String) = key::decode(bytes)?;
        Self::new(&actor, &key)
    }
}

impl fmt::Display for BookingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.actor, self.key)
    }
}

/// How a unit is booked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum UnitKind {
    /// `capacity` interchangeable places in one occurrence (the seats of a
    /// tour departure). One stream; book with [`Span::Whole`].
    Pool { capacity: u32 },
    /// `capacity` places per day (an allotment of a room type per date). One
    /// stream per day; book with [`Span::Days`], a multi-day stay commits
    /// over all its days at once.
    Allotment { capacity: u32 },
    /// One resource booked over half-open intervals (a table, a room):
    /// back-to-back is allowed, overlap is not. One stream; book with
    /// [`Span::Interval`].
    Exclusive,
}

impl UnitKind {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Pool { .. } => "pool",
            Self::Allotment { .. } => "allotment",
            Self::Exclusive => "exclusive",
        }
    }

    /// Places per stream: 1 for an exclusive resource.
    pub fn capacity(&self) -> u32 {
        match self {
            Self::Pool { capacity } | Self::Allotment { capacity } => *capacity,
            Self::Exclusive => 1,
        }
    }

    pub fn validate(&self) -> Result<(), InputError> {
        let capacity = self.capacity();
        if capacity == 0 {
            return Err(InputError::CapacityZero);
        }
        if capacity > CAPACITY_MAX {
            return Err(InputError::CapacityTooLarge { capacity: u64::from(capacity) });
        }
        Ok(())
    }
}

/// What part of a unit a booking takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Span {
    /// The whole occurrence of a [`UnitKind::Pool`].
    Whole,
    /// Days `[from, to)` of a [`UnitKind::Allotment`]: a stay of `to - from`
    /// nights. Day numbers are the caller's (days since an epoch, say).
    Days { from: u32, to: u32 },
    /// Half-open `[start, end)` on an [`UnitKind::Exclusive`] resource, in the
    /// caller's time unit (minutes, ms...).
    Interval { start: u64, end: u64 },
}

impl Span {
    pub fn name(&self) -> &'static str {
        match self {
            Self::Whole => "whole",
            Self::Days { .. } => "days",
            Self::Interval { .. } => "interval",
        }
    }

    /// Checks the span's own shape and that it fits `kind`.
    pub fn validate(&self, kind: &UnitKind) -> Result<(), InputError> {
        match *self {
            Span::Whole => {}
            Span::Days { from, to } => {
                if to <= from {
                    return Err(InputError::SpanEmpty { start: from.into(), end: to.into() });
                }
                if to - from > STAY_DAYS_MAX {
                    return Err(InputError::SpanTooLong { days: u64::from(to - from) });
                }
            }
            Span::Interval { start, end } => {
                check_time("interval start", start)?;
                check_time("interval end", end)?;
                if end <= start {
                    return Err(InputError::SpanEmpty { start, end });
                }
            }
        }
        let fits = matches!(
            (kind, self),
            (UnitKind::Pool { .. }, Span::Whole)
                | (UnitKind::Allotment { .. }, Span::Days { .. })
                | (UnitKind::Exclusive, Span::Interval { .. })
        );
        if !fits {
            return Err(InputError::SpanKind { kind: kind.name(), span: self.name() });
        }
        Ok(())
    }

    /// How many streams a booking of this span lives in.
    pub fn stream_count(&self) -> usize {
        match *self {
            Span::Days { from, to } => to.saturating_sub(from) as usize,
            Span::Whole | Span::Interval { .. } => 1,
        }
    }

    /// Whether two spans share any time (half-open: touching is not overlap).
    pub fn overlaps(&self, other: &Span) -> bool {
        match (*self, *other) {
            (Span::Whole, Span::Whole) => true,
            (Span::Days { from: a0, to: a1 }, Span::Days { from: b0, to: b1 }) => a0 < b1 && b0 < a1,
            (Span::Interval { start: a0, end: a1 }, Span::Interval { start: b0, end: b1 }) => a0 < b1 && b0 < a1,
            _ => false,
        }
    }
}

/// Checks that a time fits in [`TIME_MAX`].
pub fn check_time(what: &'static str, value: u64) -> Result<(), InputError> {
    if value > TIME_MAX {
        return Err(InputError::TimeOutOfRange { what, value });
    }
    Ok(())
}

/// Which stream of a unit. Streams of one unit are contiguous in key order,
/// the definition stream first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// The unit's definition and lifecycle (defined, replaced, retired). Its
    /// seq is the unit's version. For the catalog stream: index definitions.
    Def,
    /// The bookings of a pool or an exclusive resource.
    Main,
    /// The bookings of one day of an allotment.
    Day(u32),
}

/// An append-only stream: the unit it belongs to and which part.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    /// Empty only for the catalog stream.
    unit: Arc<str>,
    pub part: Part,
}

const PART_DEF: u8 = 0;
const PART_MAIN: u8 = 1;
const PART_DAY: u8 = 2;

impl StreamId {
    pub fn new(unit: &UnitId, part: Part) -> Self {
        Self { unit: unit.0.clone(), part }
    }

    /// The catalog stream: index definitions. Its seq is the schema version.
    pub fn catalog() -> Self {
        Self { unit: Arc::from(""), part: Part::Def }
    }

    pub fn is_catalog(&self) -> bool {
        self.unit.is_empty()
    }

    /// The stream `part` of the unit whose id is `unit` (empty: the catalog).
    pub(crate) fn of(unit: Arc<str>, part: Part) -> Self {
        Self { unit, part }
    }

    /// The unit's id as shared (empty for the catalog stream).
    pub(crate) fn unit_arc(&self) -> &Arc<str> {
        &self.unit
    }

    /// The unit's id; `None` for the catalog stream.
    pub fn unit(&self) -> Option<UnitId> {
        (!self.unit.is_empty()).then(|| UnitId(self.unit.clone()))
    }

    pub fn unit_str(&self) -> &str {
        &self.unit
    }

    /// Order-preserving bytes: unit id, part tag, day. Streams sort by unit,
    /// then definition before bookings, then by day.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.unit.len() + 8);
        self.encode_to(&mut out);
        out
    }

    pub fn encode_to(&self, out: &mut Vec<u8>) {
        key::encode_str(&self.unit, out);
        match self.part {
            Part::Def => out.push(PART_DEF),
            Part::Main => out.push(PART_MAIN),
            Part::Day(d) => {
                out.push(PART_DAY);
                out.extend_from_slice(&d.to_be_bytes());
            }
        }
    }

    /// The byte prefix shared by every stream of `unit`.
    pub fn unit_prefix(unit: &UnitId) -> Vec<u8> {
        let mut out = Vec::with_capacity(unit.0.len() + 2);
        key::encode_str(&unit.0, &mut out);
        out
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let what = "stream id";
        let bad = |reason| DecodeError::Malformed { what, reason };
        let key_err = |error| DecodeError::Key { what, error };
        let mut r = key::KeyReader::new(bytes);
        let unit: String = String::decode_from(&mut r).map_err(key_err)?;
        if unit.len() > ID_LEN_MAX_BYTES {
            return Err(bad("unit id too long"));
        }
        let part = match u8::decode_from(&mut r).map_err(key_err)? {
            PART_DEF => Part::Def,
            PART_MAIN => Part::Main,
            PART_DAY => Part::Day(u32::decode_from(&mut r).map_err(key_err)?),
            _ => return Err(bad("unknown part tag")),
        };
        r.finish().map_err(key_err)?;
        if unit.is_empty() && part != Part::Def {
            return Err(bad("catalog stream has only a definition part"));
        }
        Ok(Self { unit: Arc::from(unit), part })
    }
}

use crate::key::KeyPart;

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.unit.is_empty() {
            return f.write_str("#catalog");
        }
        match self.part {
            Part::Def => write!(f, "{}#def", self.unit),
            Part::Main => write!(f, "{}#main", self.unit),
            Part::Day(d) => write!(f, "{}#day{}", self.unit, d),
        }
    }
}

/// The streams a booking of `span` on a unit of `kind` lives in, in order.
pub fn booking_streams(unit: &UnitId, span: &Span) -> Vec<StreamId> {
    booking_stream_iter(unit, span).collect()
}

/// [`booking_streams`] one at a time, with no vector: a window's walk asks
/// for them once per unit it visits.
pub fn booking_stream_iter(unit: &UnitId, span: &Span) -> impl Iterator<Item = StreamId> {
    let (main, days) = match *span {
        Span::Days { from, to } => (None, from..to),
        Span::Whole | Span::Interval { .. } => (Some(Part::Main), 0..0),
    };
    main.into_iter().chain(days.map(Part::Day)).map(move |p| StreamId::new(unit, p))
}

/// Sorts at most [`ATTRS_PER_UNIT_MAX`] attributes by name, stably (an
/// insertion sort: for so few items as quick as `sort_by`, and a fraction
/// of its code, which matters in the npm package's wasm).
fn sort_small(attrs: &mut [(String, KeyValue)]) {
    for i in 1..attrs.len() {
        let mut j = i;
        while j > 0 && attrs[j - 1].0 > attrs[j].0 {
            attrs.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// Named, typed attributes of a unit, sorted by name with unique names.
///
/// Shared, not copied, when cloned: a unit's spec is in its definition
/// event, in its row and in every client's cache, and attributes were the
/// largest part of a unit's memory (a copy is an allocation per name and
/// one for the list).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Attrs(Arc<[(String, KeyValue)]>);

impl Attrs {
    /// Sorts, validates names and values, rejects duplicates, NaN and
    /// infinities, and oversized strings.
    pub fn new(mut attrs: Vec<(String, KeyValue)>) -> Result<Self, InputError> {
        if attrs.len() > ATTRS_PER_UNIT_MAX {
            return Err(InputError::TooMany { what: "attributes", len: attrs.len(), max: ATTRS_PER_UNIT_MAX });
        }
        sort_small(&mut attrs);
        for (i, (name, value)) in attrs.iter().enumerate() {
            check_name(name, "attribute name")?;
            if i > 0 && attrs[i - 1].0 == *name {
                return Err(InputError::Duplicate { what: "attribute", name: name.clone() });
            }
            check_value(value, "attribute value")?;
        }
        Ok(Self(attrs.into()))
    }

    pub fn get(&self, name: &str) -> Option<&KeyValue> {
        self.0.binary_search_by(|(n, _)| n.as_str().cmp(name)).ok().map(|i| &self.0[i].1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &KeyValue)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Checks one attribute or range value: finite floats, bounded strings.
pub fn check_value(value: &KeyValue, what: &'static str) -> Result<(), InputError> {
    match value {
        KeyValue::F64(v) if !v.is_finite() => Err(InputError::NotFinite { what }),
        KeyValue::Str(s) if s.len() > ATTR_VALUE_LEN_MAX_BYTES => {
            Err(InputError::ValueTooLong { what, len: s.len(), max: ATTR_VALUE_LEN_MAX_BYTES })
        }
        KeyValue::Bytes(b) if b.len() > ATTR_VALUE_LEN_MAX_BYTES => {
            Err(InputError::ValueTooLong { what, len: b.len(), max: ATTR_VALUE_LEN_MAX_BYTES })
        }
        _ => Ok(()),
    }
}

/// Converts a value to `ty` when that loses nothing (500u64 to u32, 3.0 to
/// i8); `None` otherwise. This is what lets a JavaScript number be stored in
/// a `u32` index field, and what rejects 2^32 there.
pub fn coerce(value: &KeyValue, ty: KeyType) -> Option<KeyValue> {
    if value.key_type() == ty {
        return Some(value.clone());
    }
    // Every integer type fits in i128, so go through it; floats only when
    // they are integral and in range.
    let wide: i128 = match *value {
        KeyValue::U8(v) => v.into(),
        KeyValue::U16(v) => v.into(),
        KeyValue::U32(v) => v.into(),
        KeyValue::U64(v) => v.into(),
        KeyValue::I8(v) => v.into(),
        KeyValue::I16(v) => v.into(),
        KeyValue::I32(v) => v.into(),
        KeyValue::I64(v) => v.into(),
        KeyValue::F64(v) => {
            if ty == KeyType::F64 {
                return Some(KeyValue::F64(v));
            }
            if !v.is_finite() || v != libm_trunc(v) || v.abs() > 1.8e19 {
                return None;
            }
            v as i128
        }
        _ => return None,
    };
    Some(match ty {
        KeyType::U8 => KeyValue::U8(u8::try_from(wide).ok()?),
        KeyType::U16 => KeyValue::U16(u16::try_from(wide).ok()?),
        KeyType::U32 => KeyValue::U32(u32::try_from(wide).ok()?),
        KeyType::U64 => KeyValue::U64(u64::try_from(wide).ok()?),
        KeyType::I8 => KeyValue::I8(i8::try_from(wide).ok()?),
        KeyType::I16 => KeyValue::I16(i16::try_from(wide).ok()?),
        KeyType::I32 => KeyValue::I32(i32::try_from(wide).ok()?),
        KeyType::I64 => KeyValue::I64(i64::try_from(wide).ok()?),
        KeyType::F64 => {
            let f = wide as f64;
            // Only exact conversions: 2^53 + 1 does not survive.
            if f as i128 != wide {
                return None;
            }
            KeyValue::F64(f)
        }
        _ => return None,
    })
}

/// `f64::trunc` without std.
fn libm_trunc(v: f64) -> f64 {
    if v.abs() >= 4_503_599_627_370_496.0 {
        return v; // 2^52 and above are integral
    }
    (v as i64) as f64
}

/// A unit's definition: what it is and what it is like.
#[derive(Clone, Debug, PartialEq)]
pub struct UnitSpec {
    pub id: UnitId,
    pub kind: UnitKind,
    pub attrs: Attrs,
}

impl UnitSpec {
    pub fn new(id: &str, kind: UnitKind, attrs: Vec<(String, KeyValue)>) -> Result<Self, InputError> {
        kind.validate()?;
        Ok(Self { id: UnitId::new(id)?, kind, attrs: Attrs::new(attrs)? })
    }
}

/// One field of a secondary index: which attribute, stored as which type,
/// in which order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexField {
    pub attr: String,
    pub ty: KeyType,
    pub order: Order,
}

/// A secondary index over unit attributes. Its entries are the fields'
/// order-preserving bytes followed by the unit id, so entries are unique and
/// units with equal fields come out in id order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexDef {
    pub name: String,
    pub fields: Vec<IndexField>,
}

impl IndexDef {
    pub fn new(name: &str, fields: Vec<IndexField>) -> Result<Self, InputError> {
        check_name(name, "index name")?;
        if fields.is_empty() || fields.len() > INDEX_FIELDS_MAX {
            return Err(InputError::LimitInvalid {
                what: "index fields",
                value: fields.len() as u64,
                max: INDEX_FIELDS_MAX as u64,
            });
        }
        for f in &fields {
            check_name(&f.attr, "index field")?;
        }
        Ok(Self { name: name.to_owned(), fields })
    }

    /// An ascending single-field index.
    pub fn single(name: &str, attr: &str, ty: KeyType) -> Result<Self, InputError> {
        Self::new(name, alloc::vec![IndexField { attr: attr.to_owned(), ty, order: Order::Asc }])
    }

    pub fn schema(&self) -> key::KeySchema {
        key::KeySchema { fields: self.fields.iter().map(|f| (f.ty, f.order)).collect() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_booking_lives_in_its_days_streams_or_in_main() {
        let u = UnitId::new("u").unwrap();
        let parts = |span: Span| booking_streams(&u, &span).into_iter().map(|s| s.part).collect::<Vec<_>>();
        assert_eq!(parts(Span::Days { from: 3, to: 6 }), [Part::Day(3), Part::Day(4), Part::Day(5)]);
        assert_eq!(parts(Span::Days { from: 5, to: 5 }), []);
        assert_eq!(parts(Span::Interval { start: 1, end: 9 }), [Part::Main]);
        assert_eq!(parts(Span::Whole), [Part::Main]);
        assert!(booking_streams(&u, &Span::Whole).iter().all(|s| s.unit_str() == "u"));
    }
}

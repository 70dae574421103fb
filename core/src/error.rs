//! Errors: one `#[non_exhaustive]` enum per operation, all converging on
//! [`Error`]. Every variant has a stable code (`E_...`) that callers can match
//! on and that reaches JavaScript as `error.code`. Codes never change meaning;
//! new ones may be added.
//!
//! Business results that are not failures (full, sold out, overlap) are
//! [`crate::Outcome`]s, not errors.

use alloc::string::String;
use core::fmt;

use crate::key::KeyError;
use crate::model::{BookingId, StreamId};

/// Every code an allot-core error can carry, sorted. A test checks that the
/// sources use exactly these.
pub const ERROR_CODES: &[&str] = &[
    "E_ATTR_TYPE",
    "E_CAPACITY_TOO_LARGE",
    "E_CAPACITY_ZERO",
    "E_COMMIT_EMPTY",
    "E_CONFLICT",
    "E_DUPLICATE",
    "E_EVENT_MALFORMED",
    "E_FORMAT_VERSION",
    "E_HOLD_EXPIRED",
    "E_IDEMPOTENCY_MISMATCH",
    "E_ID_EMPTY",
    "E_ID_TOO_LONG",
    "E_INDEX_EXISTS",
    "E_KEY_ARITY_MISMATCH",
    "E_KEY_INVALID_BOOL",
    "E_KEY_INVALID_ESCAPE",
    "E_KEY_INVALID_UTF8",
    "E_KEY_NONCANONICAL_FLOAT",
    "E_KEY_TRAILING_BYTES",
    "E_KEY_TRUNCATED",
    "E_KEY_TYPE_MISMATCH",
    "E_KIND_CHANGE",
    "E_LIMIT_INVALID",
    "E_NAME_INVALID",
    "E_NOT_FINITE",
    "E_NOT_HELD",
    "E_NOT_OWNER",
    "E_OUTCOME_UNKNOWN",
    "E_QTY_INVALID",
    "E_RANGE_ARITY",
    "E_RECORD_MALFORMED",
    "E_SEQ_OVERFLOW",
    "E_SPAN_EMPTY",
    "E_SPAN_KIND",
    "E_SPAN_TOO_LONG",
    "E_STORE_ABORTED",
    "E_STORE_QUOTA",
    "E_STORE_UNAVAILABLE",
    "E_TIME_OUT_OF_RANGE",
    "E_TOO_MANY",
    "E_TTL_INVALID",
    "E_UNIT_EXISTS",
    "E_UNIT_RETIRED",
    "E_UNKNOWN_BOOKING",
    "E_UNKNOWN_INDEX",
    "E_UNKNOWN_UNIT",
    "E_VALUE_TOO_LONG",
    "E_VERSION_CHANGE",
];

/// Something the caller passed is not acceptable. Nothing was read or written.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum InputError {
    /// An id (unit, actor, request key) is empty.
    IdEmpty { what: &'static str },
    /// An id is longer than [`crate::limits::ID_LEN_MAX_BYTES`].
    IdTooLong { what: &'static str, len: usize },
    /// A name (attribute, index) is empty or too long.
    NameInvalid { what: &'static str, len: usize },
    /// A string or bytes value is longer than its bound.
    ValueTooLong { what: &'static str, len: usize, max: usize },
    /// A float is NaN or infinite where a finite number is required.
    NotFinite { what: &'static str },
    /// A capacity of zero: nothing could ever be booked.
    CapacityZero,
    /// A capacity above [`crate::limits::CAPACITY_MAX`].
    CapacityTooLarge { capacity: u64 },
    /// A quantity of zero, or above the unit's capacity.
    QtyInvalid { qty: u64, max: u32 },
    /// An interval or day span whose end is not after its start.
    SpanEmpty { start: u64, end: u64 },
    /// A day span longer than [`crate::limits::STAY_DAYS_MAX`].
    SpanTooLong { days: u64 },
    /// A time or interval bound above [`crate::limits::TIME_MAX`].
    TimeOutOfRange { what: &'static str, value: u64 },
    /// A hold TTL of zero or above [`crate::limits::HOLD_MS_MAX`].
    TtlInvalid { ttl_ms: u64 },
    /// The span does not fit the unit kind (an interval on a pool, ...).
    SpanKind { kind: &'static str, span: &'static str },
    /// Too many items (attributes, fields, streams, events, units).
    TooMany { what: &'static str, len: usize, max: usize },
    /// The same name or id appears twice where it must be unique.
    Duplicate { what: &'static str, name: String },
    /// A window or scan limit of zero or above its bound.
    LimitInvalid { what: &'static str, value: u64, max: u64 },
    /// A range bound has more fields than the index.
    RangeArity { got: usize, max: usize },
    /// A commit has nothing to write or check.
    CommitEmpty,
    /// Appending would move a stream's seq past `u64::MAX`.
    SeqOverflow { stream: StreamId },
    /// A malformed order-preserving key.
    Key(KeyError),
}

impl InputError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::IdEmpty { .. } => "E_ID_EMPTY",
            Self::IdTooLong { .. } => "E_ID_TOO_LONG",
            Self::NameInvalid { .. } => "E_NAME_INVALID",
            Self::ValueTooLong { .. } => "E_VALUE_TOO_LONG",
            Self::NotFinite { .. } => "E_NOT_FINITE",
            Self::CapacityZero => "E_CAPACITY_ZERO",
            Self::CapacityTooLarge { .. } => "E_CAPACITY_TOO_LARGE",
            Self::QtyInvalid { .. } => "E_QTY_INVALID",
            Self::SpanEmpty { .. } => "E_SPAN_EMPTY",
            Self::SpanTooLong { .. } => "E_SPAN_TOO_LONG",
            Self::TimeOutOfRange { .. } => "E_TIME_OUT_OF_RANGE",
            Self::TtlInvalid { .. } => "E_TTL_INVALID",
            Self::SpanKind { .. } => "E_SPAN_KIND",
            Self::TooMany { .. } => "E_TOO_MANY",
            Self::Duplicate { .. } => "E_DUPLICATE",
            Self::LimitInvalid { .. } => "E_LIMIT_INVALID",
            Self::RangeArity { .. } => "E_RANGE_ARITY",
            Self::CommitEmpty => "E_COMMIT_EMPTY",
            Self::SeqOverflow { .. } => "E_SEQ_OVERFLOW",
            Self::Key(e) => e.code(),
        }
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::IdEmpty { what } => write!(f, "{what} must not be empty"),
            Self::IdTooLong { what, len } => {
                write!(f, "{what} is {len} bytes, more than {}", crate::limits::ID_LEN_MAX_BYTES)
            }
            Self::NameInvalid { what, len } => {
                write!(f, "{what} must be 1..={} bytes, got {len}", crate::limits::NAME_LEN_MAX_BYTES)
            }
            Self::ValueTooLong { what, len, max } => {
                write!(f, "{what} is {len} bytes, more than {max}")
            }
            Self::NotFinite { what } => write!(f, "{what} must be a finite number"),
            Self::CapacityZero => f.write_str("capacity must be at least 1"),
            Self::CapacityTooLarge { capacity } => {
                write!(f, "capacity {capacity} is above {}", crate::limits::CAPACITY_MAX)
            }
            Self::QtyInvalid { qty, max } => write!(f, "quantity {qty} is not in 1..={max}"),
            Self::SpanEmpty { start, end } => {
                write!(f, "end {end} must be after start {start}")
            }
            Self::SpanTooLong { days } => {
                write!(f, "span of {days} days is longer than {}", crate::limits::STAY_DAYS_MAX)
            }
            Self::TimeOutOfRange { what, value } => write!(f, "{what} {value} is above {}", crate::limits::TIME_MAX),
            Self::TtlInvalid { ttl_ms } => {
                write!(f, "hold ttl {ttl_ms} ms is not in 1..={}", crate::limits::HOLD_MS_MAX)
            }
            Self::SpanKind { kind, span } => {
                write!(f, "a {kind} unit cannot be booked with a {span} span")
            }
            Self::TooMany { what, len, max } => write!(f, "{len} {what}, more than {max}"),
            Self::Duplicate { what, name } => write!(f, "{what} {name:?} appears twice"),
            Self::LimitInvalid { what, value, max } => {
                write!(f, "{what} {value} is not in 1..={max}")
            }
            Self::RangeArity { got, max } => {
                write!(f, "range bound has {got} fields, the index has {max}")
            }
            Self::CommitEmpty => f.write_str("commit writes nothing"),
            Self::SeqOverflow { stream } => write!(f, "stream {stream} would overflow its seq"),
            Self::Key(e) => write!(f, "{e}"),
        }
    }
}

impl From<KeyError> for InputError {
    fn from(e: KeyError) -> Self {
        Self::Key(e)
    }
}

/// Bytes read back from a store do not decode as an allot record.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// The record was written by a format version this build does not know.
    Version { what: &'static str, found: u8 },
    /// The record is truncated, has an unknown tag, or violates an invariant.
    Malformed { what: &'static str, reason: &'static str },
    /// A key inside the record is malformed.
    Key { what: &'static str, error: KeyError },
}

impl DecodeError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Version { .. } => "E_FORMAT_VERSION",
            Self::Malformed { what: "event", .. } | Self::Key { what: "event", .. } => "E_EVENT_MALFORMED",
            Self::Malformed { .. } | Self::Key { .. } => "E_RECORD_MALFORMED",
        }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Version { what, found } => {
                write!(f, "{what} has format version {found}, not one this build reads")
            }
            Self::Malformed { what, reason } => write!(f, "malformed {what}: {reason}"),
            Self::Key { what, error } => write!(f, "malformed {what}: {error}"),
        }
    }
}

/// A store could not do what was asked. Whether anything was written is part
/// of the variant: callers rely on it to decide how to retry.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreError {
    /// The store cannot be reached (closed database, no connection): the
    /// request was never sent. Nothing was written.
    Unavailable(String),
    /// The transaction was rolled back, or its connection was lost before
    /// the commit was sent. Nothing was written; retrying is safe.
    Aborted(String),
    /// A commit may or may not have been applied (connection lost while
    /// committing). Retrying with the same request key is safe: the claim
    /// makes the second attempt return the first one's outcome.
    OutcomeUnknown(String),
    /// Another connection upgraded the schema; this one was closed.
    VersionChange(String),
    /// The store refused to grow (storage quota).
    QuotaExceeded(String),
    /// Stored bytes do not decode.
    Corrupt(DecodeError),
    /// The commit itself is invalid; nothing was written.
    Invalid(InputError),
}

impl StoreError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unavailable(_) => "E_STORE_UNAVAILABLE",
            Self::Aborted(_) => "E_STORE_ABORTED",
            Self::OutcomeUnknown(_) => "E_OUTCOME_UNKNOWN",
            Self::VersionChange(_) => "E_VERSION_CHANGE",
            Self::QuotaExceeded(_) => "E_STORE_QUOTA",
            Self::Corrupt(e) => e.code(),
            Self::Invalid(e) => e.code(),
        }
    }

    /// Whether retrying the same request may succeed, given that requests
    /// carry claims (idempotency keys) that make a repeated commit harmless.
    pub fn is_retryable(&self) -> bool {
        matches!(self, Self::Aborted(_) | Self::OutcomeUnknown(_))
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(m) => write!(f, "store unavailable: {m}"),
            Self::Aborted(m) => write!(f, "transaction aborted, nothing written: {m}"),
            Self::OutcomeUnknown(m) => write!(f, "commit outcome unknown: {m}"),
            Self::VersionChange(m) => write!(f, "database upgraded by another connection: {m}"),
            Self::QuotaExceeded(m) => write!(f, "storage quota exceeded: {m}"),
            Self::Corrupt(e) => write!(f, "store holds bad data: {e}"),
            Self::Invalid(e) => write!(f, "invalid commit: {e}"),
        }
    }
}

impl From<DecodeError> for StoreError {
    fn from(e: DecodeError) -> Self {
        Self::Corrupt(e)
    }
}

impl From<InputError> for StoreError {
    fn from(e: InputError) -> Self {
        Self::Invalid(e)
    }
}

/// Why booking, holding or auto-assigning failed. Full, sold out and overlap
/// are not failures: they are [`crate::Outcome`]s.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum BookError {
    Input(InputError),
    UnknownUnit {
        unit: String,
    },
    UnitRetired {
        unit: String,
    },
    UnknownIndex {
        index: String,
    },
    /// The request key was used before by the same actor for a different request.
    IdempotencyMismatch {
        booking: BookingId,
    },
    /// Every attempt met a concurrent writer: the last one's expected and
    /// actual seq. Nothing was written by this request.
    Conflict {
        stream: StreamId,
        expected: u64,
        actual: u64,
    },
    Store(StoreError),
}

/// Why confirming, cancelling or releasing failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfirmError {
    Input(InputError),
    UnknownBooking {
        booking: BookingId,
    },
    /// Only the actor who made a booking may confirm, cancel or release it.
    NotOwner {
        booking: BookingId,
        by: String,
    },
    /// The hold expired before it was confirmed. `ext_ref` is what the hold
    /// carried (a payment id to refund); `reconcile` lists it too.
    HoldExpired {
        booking: BookingId,
        expires_at: u64,
        ext_ref: Option<String>,
    },
    /// The booking is not a live hold (already confirmed, for release; or
    /// cancelled / released, for confirm).
    NotHeld {
        booking: BookingId,
        state: &'static str,
    },
    Conflict {
        stream: StreamId,
        expected: u64,
        actual: u64,
    },
    Store(StoreError),
}

/// Why a catalog change (units, indexes) failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CatalogError {
    Input(InputError),
    UnitExists {
        unit: String,
    },
    UnknownUnit {
        unit: String,
    },
    UnitRetired {
        unit: String,
    },
    IndexExists {
        index: String,
    },
    UnknownIndex {
        index: String,
    },
    /// An attribute cannot be converted losslessly to an index field's type.
    AttrType {
        unit: String,
        attr: String,
        expected: &'static str,
    },
    /// Kind and capacity are fixed at definition: existing bookings were
    /// decided against them.
    KindChange {
        unit: String,
    },
    Conflict {
        stream: StreamId,
        expected: u64,
        actual: u64,
    },
    Store(StoreError),
}

/// Why a read (index scan, roster, lifecycle, verify, reconcile) failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum QueryError {
    Input(InputError),
    UnknownIndex { index: String },
    UnknownUnit { unit: String },
    Store(StoreError),
}

macro_rules! op_error_common {
    ($t:ident) => {
        impl From<InputError> for $t {
            fn from(e: InputError) -> Self {
                Self::Input(e)
            }
        }
        impl From<StoreError> for $t {
            fn from(e: StoreError) -> Self {
                Self::Store(e)
            }
        }
        impl From<KeyError> for $t {
            fn from(e: KeyError) -> Self {
                Self::Input(InputError::Key(e))
            }
        }
        #[cfg(feature = "std")]
        impl std::error::Error for $t {}
    };
}
op_error_common!(BookError);
op_error_common!(ConfirmError);
op_error_common!(CatalogError);
op_error_common!(QueryError);

#[cfg(feature = "std")]
impl std::error::Error for InputError {}
#[cfg(feature = "std")]
impl std::error::Error for DecodeError {}
#[cfg(feature = "std")]
impl std::error::Error for StoreError {}

impl BookError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Input(e) => e.code(),
            Self::UnknownUnit { .. } => "E_UNKNOWN_UNIT",
            Self::UnitRetired { .. } => "E_UNIT_RETIRED",
            Self::UnknownIndex { .. } => "E_UNKNOWN_INDEX",
            Self::IdempotencyMismatch { .. } => "E_IDEMPOTENCY_MISMATCH",
            Self::Conflict { .. } => "E_CONFLICT",
            Self::Store(e) => e.code(),
        }
    }
}

impl ConfirmError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Input(e) => e.code(),
            Self::UnknownBooking { .. } => "E_UNKNOWN_BOOKING",
            Self::NotOwner { .. } => "E_NOT_OWNER",
            Self::HoldExpired { .. } => "E_HOLD_EXPIRED",
            Self::NotHeld { .. } => "E_NOT_HELD",
            Self::Conflict { .. } => "E_CONFLICT",
            Self::Store(e) => e.code(),
        }
    }
}

impl CatalogError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Input(e) => e.code(),
            Self::UnitExists { .. } => "E_UNIT_EXISTS",
            Self::UnknownUnit { .. } => "E_UNKNOWN_UNIT",
            Self::UnitRetired { .. } => "E_UNIT_RETIRED",
            Self::IndexExists { .. } => "E_INDEX_EXISTS",
            Self::UnknownIndex { .. } => "E_UNKNOWN_INDEX",
            Self::AttrType { .. } => "E_ATTR_TYPE",
            Self::KindChange { .. } => "E_KIND_CHANGE",
            Self::Conflict { .. } => "E_CONFLICT",
            Self::Store(e) => e.code(),
        }
    }
}

impl QueryError {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Input(e) => e.code(),
            Self::UnknownIndex { .. } => "E_UNKNOWN_INDEX",
            Self::UnknownUnit { .. } => "E_UNKNOWN_UNIT",
            Self::Store(e) => e.code(),
        }
    }
}

fn fmt_conflict(f: &mut fmt::Formatter<'_>, stream: &StreamId, expected: u64, actual: u64) -> fmt::Result {
    write!(f, "stream {stream} moved on while deciding (expected seq {expected}, actual {actual}) on every attempt")
}

impl fmt::Display for BookError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input(e) => write!(f, "{e}"),
            Self::UnknownUnit { unit } => write!(f, "unknown unit {unit:?}"),
            Self::UnitRetired { unit } => write!(f, "unit {unit:?} is retired"),
            Self::UnknownIndex { index } => write!(f, "unknown index {index:?}"),
            Self::IdempotencyMismatch { booking } => write!(
                f,
                "request key {:?} of actor {:?} was already used for a different request",
                booking.key.as_str(),
                booking.actor.as_str()
            ),
            Self::Conflict { stream, expected, actual } => fmt_conflict(f, stream, *expected, *actual),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for ConfirmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input(e) => write!(f, "{e}"),
            Self::UnknownBooking { booking } => write!(f, "unknown booking {booking}"),
            Self::NotOwner { booking, by } => {
                write!(f, "{by:?} does not own booking {booking}")
            }
            Self::HoldExpired { booking, expires_at, .. } => {
                write!(f, "hold {booking} expired at {expires_at}")
            }
            Self::NotHeld { booking, state } => write!(f, "booking {booking} is {state}"),
            Self::Conflict { stream, expected, actual } => fmt_conflict(f, stream, *expected, *actual),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for CatalogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input(e) => write!(f, "{e}"),
            Self::UnitExists { unit } => write!(f, "unit {unit:?} already exists"),
            Self::UnknownUnit { unit } => write!(f, "unknown unit {unit:?}"),
            Self::UnitRetired { unit } => write!(f, "unit {unit:?} is retired"),
            Self::IndexExists { index } => write!(f, "index {index:?} already exists"),
            Self::UnknownIndex { index } => write!(f, "unknown index {index:?}"),
            Self::AttrType { unit, attr, expected } => {
                write!(f, "attribute {attr:?} of unit {unit:?} cannot be stored as {expected}")
            }
            Self::KindChange { unit } => {
                write!(f, "unit {unit:?}: kind and capacity cannot change")
            }
            Self::Conflict { stream, expected, actual } => fmt_conflict(f, stream, *expected, *actual),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input(e) => write!(f, "{e}"),
            Self::UnknownIndex { index } => write!(f, "unknown index {index:?}"),
            Self::UnknownUnit { unit } => write!(f, "unknown unit {unit:?}"),
            Self::Store(e) => write!(f, "{e}"),
        }
    }
}

/// Any allot error: what every operation's error converges on.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    Input(InputError),
    Decode(DecodeError),
    Store(StoreError),
    Book(BookError),
    Confirm(ConfirmError),
    Catalog(CatalogError),
    Query(QueryError),
}

impl Error {
    /// The stable error code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Input(e) => e.code(),
            Self::Decode(e) => e.code(),
            Self::Store(e) => e.code(),
            Self::Book(e) => e.code(),
            Self::Confirm(e) => e.code(),
            Self::Catalog(e) => e.code(),
            Self::Query(e) => e.code(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Input(e) => write!(f, "{e}"),
            Self::Decode(e) => write!(f, "{e}"),
            Self::Store(e) => write!(f, "{e}"),
            Self::Book(e) => write!(f, "{e}"),
            Self::Confirm(e) => write!(f, "{e}"),
            Self::Catalog(e) => write!(f, "{e}"),
            Self::Query(e) => write!(f, "{e}"),
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Error {}

macro_rules! into_error {
    ($($t:ident => $v:ident),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Self::$v(e)
            }
        }
    )*};
}
into_error!(InputError => Input, DecodeError => Decode, StoreError => Store, BookError => Book,
    ConfirmError => Confirm, CatalogError => Catalog, QueryError => Query);

impl From<KeyError> for Error {
    fn from(e: KeyError) -> Self {
        Self::Input(InputError::Key(e))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    /// The list above is what the sources use: no code missing, none stale.
    #[test]
    fn error_codes_lists_every_code_in_the_sources() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
        let mut found: Vec<String> = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            for (i, _) in text.match_indices("\"E_") {
                let code: String = text[i + 1..]
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                if code.len() > 2 && !code.ends_with('_') {
                    found.push(code);
                }
            }
        }
        found.sort();
        found.dedup();
        assert_eq!(found, super::ERROR_CODES);
    }
}

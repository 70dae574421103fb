//! Order-preserving byte key codec: the core of the index.
//!
//! The index stores keys as plain byte strings and compares them as unsigned
//! bytes, lexicographically (like `BTreeMap<Vec<u8>, _>`, IndexedDB or
//! PostgreSQL `bytea`). A range query over typed values is therefore only
//! correct if the byte order of the encodings is the order of the values:
//!
//! ```text
//! a.cmp(&b) == encode(&a).cmp(&encode(&b))      and      decode(&encode(&x)) == x
//! ```
//!
//! This module exists because an engine once encoded `u32` keys little-endian
//! and `price in [0, 1000)` silently matched 919 of 1000 rows. Every encoding
//! here is designed so that this cannot happen, and the property tests in
//! `tests/key_props.rs` check it for every type and for tuples.
//!
//! The byte format is version 1 and is frozen: persisted stores depend on it.
//! It is specified in `docs/key-format.md`; any change needs a new format
//! version and a migration.
//!
//! Decoders never panic: keys come from storage and from the JS layer and may
//! be corrupt or hostile, so every malformed input is a [`KeyError`].
//!
//! ```
//! use allot_core::key::{Desc, decode, encode, prefix_end};
//!
//! // Big-endian: 255 < 256 as numbers and as bytes (little-endian would not).
//! let low = encode(&(255u32, String::from("z")));
//! let high = encode(&(256u32, String::new()));
//! assert!(low < high);
//! assert_eq!(decode::<(u32, String)>(&low), Ok((255, String::from("z"))));
//!
//! // Descending fields sort newest first.
//! assert!(encode(&Desc(2u64)) < encode(&Desc(1u64)));
//!
//! // All keys whose first field is 255 lie in `prefix .. prefix_end(prefix)`.
//! let prefix = encode(&(255u32,));
//! let end = prefix_end(&prefix).unwrap();
//! assert!(prefix <= low && low < end && high >= end);
//! ```

use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;
use core::fmt;

/// The single NaN that [`canonical_f64`] maps every NaN to. It is positive, so
/// it sorts above `+inf`.
const CANONICAL_NAN_BITS: u64 = 0x7ff8_0000_0000_0000;
/// `-0.0` is folded into `+0.0`, so its encoding never appears in a valid key.
const NEGATIVE_ZERO_BITS: u64 = 0x8000_0000_0000_0000;
const F64_SIGN_BIT: u64 = 1 << 63;

/// Escape byte: a literal 0x00 in a byte string is written as `0x00 0xFF`.
const ESCAPE: u8 = 0x00;
/// Second byte of an escaped literal 0x00. It is the largest byte so that an
/// embedded NUL sorts after the end of the string (`"a" < "a\0"`).
const ESCAPED_ZERO: u8 = 0xFF;
/// Second byte of the terminator `0x00 0x01`. It is smaller than every byte a
/// longer string can have at this position (`0x01..=0xFF` and the escape
/// `0x00 0xFF`), so a prefix sorts before its extensions.
const TERMINATOR: u8 = 0x01;

/// Returns `v` with every NaN replaced by the canonical NaN and `-0.0`
/// replaced by `+0.0`.
///
/// Keys must have one encoding per value, or equal values could land at
/// different places in the index and a point lookup would miss. `-0.0 == 0.0`
/// and NaN payloads carry no meaning for ordering, so they are folded before
/// encoding. Comparing `canonical_f64(a).total_cmp(&canonical_f64(b))` gives
/// exactly the order of the encoded keys.
#[must_use]
pub const fn canonical_f64(v: f64) -> f64 {
    if v.is_nan() {
        f64::from_bits(CANONICAL_NAN_BITS)
    } else if v == 0.0 {
        // Matches both zeros.
        0.0
    } else {
        v
    }
}

/// A value that can be written as an order-preserving key, alone or as an
/// element of a tuple.
///
/// Implementations must keep two promises, which the property tests check:
/// the byte order of encodings equals the value order, and the set of
/// encodings is prefix-free (no encoding is a proper prefix of another of the
/// same type). Prefix-freeness is what lets tuples be plain concatenations
/// and lets [`Desc`] reverse order by inverting bytes.
pub trait KeyPart: Sized {
    /// Appends the encoding of `self` to `out`. Appending (rather than
    /// returning a buffer) lets tuples and schemas build a key in one
    /// allocation.
    fn encode_to(&self, out: &mut Vec<u8>);

    /// Reads one value from `r`, leaving the reader just past it. Must return
    /// an error, never panic, on malformed input, and must reject every byte
    /// string that is not the exact encoding of some value (so that decoding
    /// and re-encoding is the identity).
    fn decode_from(r: &mut KeyReader<'_>) -> Result<Self, KeyError>;
}

/// Encodes a value (or a tuple) as a key.
#[must_use]
pub fn encode<T: KeyPart>(v: &T) -> Vec<u8> {
    let mut out = Vec::new();
    v.encode_to(&mut out);
    out
}

/// Decodes a whole key. Trailing bytes are an error rather than ignored: a key
/// with leftovers was written with a different type or schema, and accepting
/// it would hide that mismatch.
pub fn decode<T: KeyPart>(bytes: &[u8]) -> Result<T, KeyError> {
    let mut r = KeyReader::new(bytes);
    let v = T::decode_from(&mut r)?;
    r.finish()?;
    Ok(v)
}

/// Appends the encoding of a UTF-8 string without needing an owned `String`.
/// Produces exactly the bytes of `String::encode_to`.
pub fn encode_str(s: &str, out: &mut Vec<u8>) {
    encode_bytes(s.as_bytes(), out);
}

/// Appends the encoding of a byte string without needing an owned `Vec<u8>`:
/// every 0x00 becomes `0x00 0xFF`, then the terminator `0x00 0x01` is added.
/// Produces exactly the bytes of `Vec::<u8>::encode_to`.
pub fn encode_bytes(b: &[u8], out: &mut Vec<u8>) {
    out.reserve(b.len() + 2);
    for &byte in b {
        out.push(byte);
        if byte == ESCAPE {
            out.push(ESCAPED_ZERO);
        }
    }
    out.push(ESCAPE);
    out.push(TERMINATOR);
}

/// Returns the smallest byte string greater than every string that starts
/// with `prefix`, or `None` if no such string exists (`prefix` is empty or all
/// 0xFF, so the prefix range is unbounded above).
///
/// A prefix scan is the range `prefix .. prefix_end(prefix)`; with `None` the
/// scan runs to the end of the index.
#[must_use]
pub fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    // Trailing 0xFF bytes cannot be incremented; drop them and bump the last
    // byte that can be. Every extension of `prefix` is below the result.
    let last_index = prefix.iter().rposition(|&byte| byte != 0xFF)?;
    let mut end = prefix.get(..=last_index)?.to_vec();
    let last = end.last_mut()?;
    *last += 1;
    Some(end)
}

/// Sort key wrapper that reverses the order of `T`, both as a Rust value and
/// in its key encoding (every byte of `T`'s encoding is inverted).
///
/// Used for "newest first" style index fields. Inverting bytes reverses order
/// only because every encoding is prefix-free: two distinct encodings always
/// differ at some byte, and inverting flips that comparison. Nesting cancels:
/// `Desc<Desc<T>>` orders like `T`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Desc<T>(pub T);

impl<T: PartialOrd> PartialOrd for Desc<T> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        other.0.partial_cmp(&self.0)
    }
}

impl<T: Ord> Ord for Desc<T> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.0.cmp(&self.0)
    }
}

impl<T: KeyPart> KeyPart for Desc<T> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        let start = out.len();
        self.0.encode_to(out);
        invert(out, start);
    }

    fn decode_from(r: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        r.inverted(T::decode_from).map(Desc)
    }
}

/// Inverts every byte of `out` from `start` on: the descending form of the
/// encoding just appended.
fn invert(out: &mut [u8], start: usize) {
    debug_assert!(start <= out.len());
    for byte in out.iter_mut().skip(start) {
        *byte = !*byte;
    }
}

/// Cursor over an encoded key.
///
/// It tracks an inversion mask so that [`Desc`] fields (possibly nested) are
/// read in place, without copying and re-inverting the input. All reads are
/// bounds-checked and leave the position unchanged on error. Error positions
/// are byte offsets into the whole input, so they point at the bad field.
#[derive(Clone, Debug)]
pub struct KeyReader<'a> {
    bytes: &'a [u8],
    position: usize,
    /// 0x00 while reading ascending fields, 0xFF inside an odd number of
    /// `Desc` wrappers. XOR-ed onto every byte read.
    mask: u8,
}

impl<'a> KeyReader<'a> {
    /// Starts reading `bytes` from offset 0, ascending.
    #[must_use]
    pub fn new(bytes: &'a [u8]) -> Self {
        KeyReader { bytes, position: 0, mask: 0x00 }
    }

    /// True when every byte has been consumed.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.remaining() == 0
    }

    /// Byte offset of the next byte to read.
    #[must_use]
    pub fn position(&self) -> usize {
        self.position
    }

    /// Number of bytes not yet read.
    #[must_use]
    pub fn remaining(&self) -> usize {
        debug_assert!(self.position <= self.bytes.len());
        self.bytes.len().saturating_sub(self.position)
    }

    /// The unread bytes, raw (not un-inverted). Useful after
    /// [`KeySchema::decode_prefix`] to get the suffix of a composite key.
    #[must_use]
    pub fn rest(&self) -> &'a [u8] {
        self.bytes.get(self.position..).unwrap_or_default()
    }

    /// Succeeds only if every byte has been consumed; call it after the last
    /// field so a key of the wrong shape is rejected instead of half-read.
    pub fn finish(&self) -> Result<(), KeyError> {
        if self.is_empty() { Ok(()) } else { Err(KeyError::TrailingBytes { at: self.position }) }
    }

    /// Reads one byte (un-inverted if inside [`Desc`]).
    pub fn read_byte(&mut self) -> Result<u8, KeyError> {
        let [byte] = self.read_array::<1>()?;
        Ok(byte)
    }

    /// Reads exactly `N` bytes (un-inverted if inside [`Desc`]); the building
    /// block of every fixed-width type.
    pub fn read_array<const N: usize>(&mut self) -> Result<[u8; N], KeyError> {
        let start = self.position;
        let truncated = KeyError::Truncated { at: start };
        let end = start.checked_add(N).ok_or(truncated.clone())?;
        let source = self.bytes.get(start..end).ok_or(truncated)?;
        let mut out = [0u8; N];
        for (o, &s) in out.iter_mut().zip(source) {
            *o = s ^ self.mask;
        }
        self.position = end;
        Ok(out)
    }

    /// Reads an escaped, terminated byte string (see [`encode_bytes`]) and
    /// returns the unescaped bytes.
    pub fn read_escaped(&mut self) -> Result<Vec<u8>, KeyError> {
        let start = self.position;
        let mut position = start;
        let mut out = Vec::new();
        loop {
            let byte = self.byte_at(position).ok_or(KeyError::Truncated { at: start })?;
            // `position < bytes.len() <= isize::MAX`, so `+ 1` and `+ 2`
            // cannot overflow.
            if byte != ESCAPE {
                out.push(byte);
                position += 1;
                continue;
            }
            let next_position = position + 1;
            let next = self.byte_at(next_position).ok_or(KeyError::Truncated { at: start })?;
            match next {
                ESCAPED_ZERO => out.push(0x00),
                TERMINATOR => {
                    self.position = position + 2;
                    return Ok(out);
                }
                _ => {
                    return Err(KeyError::InvalidEscape { at: next_position, byte: next });
                }
            }
            position += 2;
        }
    }

    fn byte_at(&self, position: usize) -> Option<u8> {
        self.bytes.get(position).map(|&byte| byte ^ self.mask)
    }

    /// Runs `read` with the inversion toggled: the read side of [`Desc`].
    /// The mask is restored on error too, though callers stop at errors.
    fn inverted<T>(&mut self, read: impl FnOnce(&mut Self) -> Result<T, KeyError>) -> Result<T, KeyError> {
        self.mask = !self.mask;
        let result = read(self);
        self.mask = !self.mask;
        result
    }
}

macro_rules! impl_unsigned {
    ($($t:ty),*) => {$(
        /// Fixed-width big-endian: the most significant byte comes first, so
        /// byte order is numeric order.
        impl KeyPart for $t {
            fn encode_to(&self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_be_bytes());
            }

            fn decode_from(r: &mut KeyReader<'_>) -> Result<Self, KeyError> {
                Ok(<$t>::from_be_bytes(r.read_array()?))
            }
        }
    )*};
}

impl_unsigned!(u8, u16, u32, u64);

macro_rules! impl_signed {
    ($($t:ty),*) => {$(
        /// Fixed-width big-endian with the sign bit flipped: this maps
        /// `MIN..=MAX` onto `0..=unsigned MAX` monotonically (two's complement
        /// would put negatives above positives).
        impl KeyPart for $t {
            fn encode_to(&self, out: &mut Vec<u8>) {
                let sign_bit = 1 << (<$t>::BITS - 1);
                out.extend_from_slice(&(self.cast_unsigned() ^ sign_bit).to_be_bytes());
            }

            fn decode_from(r: &mut KeyReader<'_>) -> Result<Self, KeyError> {
                let sign_bit = 1 << (<$t>::BITS - 1);
                let bits = <$t>::from_be_bytes(r.read_array()?).cast_unsigned() ^ sign_bit;
                Ok(bits.cast_signed())
            }
        }
    )*};
}

impl_signed!(i8, i16, i32, i64);

/// Canonicalized (see [`canonical_f64`]), then the IEEE 754 bits transformed
/// so that unsigned comparison is `total_cmp`: negatives have all bits
/// inverted (larger magnitude sorts lower), positives get the sign bit set
/// (above every negative). 8 bytes big-endian.
impl KeyPart for f64 {
    fn encode_to(&self, out: &mut Vec<u8>) {
        let bits = canonical_f64(*self).to_bits();
        let ordered = if bits & F64_SIGN_BIT != 0 { !bits } else { bits | F64_SIGN_BIT };
        out.extend_from_slice(&ordered.to_be_bytes());
    }

    fn decode_from(r: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        let at = r.position();
        let ordered = u64::from_be_bytes(r.read_array()?);
        let bits = if ordered & F64_SIGN_BIT != 0 { ordered ^ F64_SIGN_BIT } else { !ordered };
        let value = f64::from_bits(bits);
        // The encoder never produces these; accepting them would give a
        // value two encodings and break point lookups.
        if bits == NEGATIVE_ZERO_BITS || (value.is_nan() && bits != CANONICAL_NAN_BITS) {
            return Err(KeyError::NonCanonicalFloat { at });
        }
        Ok(value)
    }
}

/// One byte, 0x00 or 0x01; anything else is rejected so each value has one
/// encoding.
impl KeyPart for bool {
    fn encode_to(&self, out: &mut Vec<u8>) {
        out.push(u8::from(*self));
    }

    fn decode_from(r: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        let at = r.position();
        match r.read_byte()? {
            0x00 => Ok(false),
            0x01 => Ok(true),
            byte => Err(KeyError::InvalidBool { at, byte }),
        }
    }
}

/// Escaped and terminated (see [`encode_bytes`]): a prefix sorts before its
/// extensions, and embedded 0x00 bytes round-trip.
impl KeyPart for Vec<u8> {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_bytes(self, out);
    }

    fn decode_from(r: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        r.read_escaped()
    }
}

/// Same bytes as the UTF-8 byte string. UTF-8 byte order is code point order,
/// which is also `str`'s `Ord`.
impl KeyPart for String {
    fn encode_to(&self, out: &mut Vec<u8>) {
        encode_str(self, out);
    }

    fn decode_from(r: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        let at = r.position();
        let bytes = r.read_escaped()?;
        String::from_utf8(bytes).map_err(|_| KeyError::InvalidUtf8 { at })
    }
}

macro_rules! impl_tuple {
    ($($name:ident),+) => {
        /// Concatenation of the element encodings, without tags or lengths:
        /// because each element encoding is prefix-free, the first differing
        /// element decides the byte comparison, which is tuple (lexicographic)
        /// order. A one-tuple `(a,)` encodes exactly like `a`.
        impl<$($name: KeyPart),+> KeyPart for ($($name,)+) {
            #[allow(non_snake_case)]
            fn encode_to(&self, out: &mut Vec<u8>) {
                let ($($name,)+) = self;
                $($name.encode_to(out);)+
            }

            fn decode_from(r: &mut KeyReader<'_>) -> Result<Self, KeyError> {
                Ok(($($name::decode_from(r)?,)+))
            }
        }
    };
}

impl_tuple!(A);
impl_tuple!(A, B);
impl_tuple!(A, B, C);
impl_tuple!(A, B, C, D);
impl_tuple!(A, B, C, D, E);
impl_tuple!(A, B, C, D, E, F);

/// Runtime type of a key field, for indexes whose field types are data
/// (secondary indexes, the JS layer). Declaration order is the order of
/// [`KeyValue`]s of different types; do not reorder.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum KeyType {
    U8,
    U16,
    U32,
    U64,
    I8,
    I16,
    I32,
    I64,
    F64,
    Bool,
    Bytes,
    Str,
}

impl KeyType {
    /// Every type, in declaration order.
    pub const ALL: [KeyType; 12] = [
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

    /// Stable lower-case name, as used by the JS layer and in schemas stored
    /// as data.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            KeyType::U8 => "u8",
            KeyType::U16 => "u16",
            KeyType::U32 => "u32",
            KeyType::U64 => "u64",
            KeyType::I8 => "i8",
            KeyType::I16 => "i16",
            KeyType::I32 => "i32",
            KeyType::I64 => "i64",
            KeyType::F64 => "f64",
            KeyType::Bool => "bool",
            KeyType::Bytes => "bytes",
            KeyType::Str => "str",
        }
    }

    /// Inverse of [`KeyType::name`]; exact, case-sensitive match.
    #[must_use]
    pub fn from_name(name: &str) -> Option<KeyType> {
        KeyType::ALL.into_iter().find(|ty| ty.name() == name)
    }
}

impl fmt::Display for KeyType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Direction of a schema field. `Desc` stores the field as [`Desc`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum Order {
    #[default]
    Asc,
    Desc,
}

/// A key field value whose type is known only at runtime. Encodes to exactly
/// the bytes of the corresponding static type, so static and dynamic callers
/// can share an index.
///
/// Equality and order are by hand, not derived: `f64` uses the canonical
/// total order (so NaN equals NaN and `-0.0` equals `0.0`, as their keys do),
/// which also makes `Eq` and `Ord` lawful. Values of different types compare
/// by [`KeyType`] declaration order.
#[derive(Clone, Debug)]
pub enum KeyValue {
    U8(u8),
    U16(u16),
    U32(u32),
    U64(u64),
    I8(i8),
    I16(i16),
    I32(i32),
    I64(i64),
    F64(f64),
    Bool(bool),
    Bytes(Vec<u8>),
    Str(String),
}

impl KeyValue {
    /// The runtime type of this value.
    #[must_use]
    pub fn key_type(&self) -> KeyType {
        match self {
            KeyValue::U8(_) => KeyType::U8,
            KeyValue::U16(_) => KeyType::U16,
            KeyValue::U32(_) => KeyType::U32,
            KeyValue::U64(_) => KeyType::U64,
            KeyValue::I8(_) => KeyType::I8,
            KeyValue::I16(_) => KeyType::I16,
            KeyValue::I32(_) => KeyType::I32,
            KeyValue::I64(_) => KeyType::I64,
            KeyValue::F64(_) => KeyType::F64,
            KeyValue::Bool(_) => KeyType::Bool,
            KeyValue::Bytes(_) => KeyType::Bytes,
            KeyValue::Str(_) => KeyType::Str,
        }
    }

    /// Appends the encoding, inverted when `order` is [`Order::Desc`].
    pub fn encode_to(&self, order: Order, out: &mut Vec<u8>) {
        let start = out.len();
        match self {
            KeyValue::U8(v) => v.encode_to(out),
            KeyValue::U16(v) => v.encode_to(out),
            KeyValue::U32(v) => v.encode_to(out),
            KeyValue::U64(v) => v.encode_to(out),
            KeyValue::I8(v) => v.encode_to(out),
            KeyValue::I16(v) => v.encode_to(out),
            KeyValue::I32(v) => v.encode_to(out),
            KeyValue::I64(v) => v.encode_to(out),
            KeyValue::F64(v) => v.encode_to(out),
            KeyValue::Bool(v) => v.encode_to(out),
            KeyValue::Bytes(v) => encode_bytes(v, out),
            KeyValue::Str(v) => encode_str(v, out),
        }
        if order == Order::Desc {
            invert(out, start);
        }
    }

    /// Reads one value of type `ty` stored with direction `order`.
    pub fn decode_from(ty: KeyType, order: Order, r: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        match order {
            Order::Asc => Self::decode_ascending(ty, r),
            Order::Desc => r.inverted(|r| Self::decode_ascending(ty, r)),
        }
    }

    fn decode_ascending(ty: KeyType, r: &mut KeyReader<'_>) -> Result<Self, KeyError> {
        Ok(match ty {
            KeyType::U8 => KeyValue::U8(u8::decode_from(r)?),
            KeyType::U16 => KeyValue::U16(u16::decode_from(r)?),
            KeyType::U32 => KeyValue::U32(u32::decode_from(r)?),
            KeyType::U64 => KeyValue::U64(u64::decode_from(r)?),
            KeyType::I8 => KeyValue::I8(i8::decode_from(r)?),
            KeyType::I16 => KeyValue::I16(i16::decode_from(r)?),
            KeyType::I32 => KeyValue::I32(i32::decode_from(r)?),
            KeyType::I64 => KeyValue::I64(i64::decode_from(r)?),
            KeyType::F64 => KeyValue::F64(f64::decode_from(r)?),
            KeyType::Bool => KeyValue::Bool(bool::decode_from(r)?),
            KeyType::Bytes => KeyValue::Bytes(Vec::decode_from(r)?),
            KeyType::Str => KeyValue::Str(String::decode_from(r)?),
        })
    }
}

impl PartialEq for KeyValue {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for KeyValue {}

impl PartialOrd for KeyValue {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for KeyValue {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (KeyValue::U8(a), KeyValue::U8(b)) => a.cmp(b),
            (KeyValue::U16(a), KeyValue::U16(b)) => a.cmp(b),
            (KeyValue::U32(a), KeyValue::U32(b)) => a.cmp(b),
            (KeyValue::U64(a), KeyValue::U64(b)) => a.cmp(b),
            (KeyValue::I8(a), KeyValue::I8(b)) => a.cmp(b),
            (KeyValue::I16(a), KeyValue::I16(b)) => a.cmp(b),
            (KeyValue::I32(a), KeyValue::I32(b)) => a.cmp(b),
            (KeyValue::I64(a), KeyValue::I64(b)) => a.cmp(b),
            (KeyValue::F64(a), KeyValue::F64(b)) => canonical_f64(*a).total_cmp(&canonical_f64(*b)),
            (KeyValue::Bool(a), KeyValue::Bool(b)) => a.cmp(b),
            (KeyValue::Bytes(a), KeyValue::Bytes(b)) => a.cmp(b),
            (KeyValue::Str(a), KeyValue::Str(b)) => a.cmp(b),
            _ => (self.key_type() as u8).cmp(&(other.key_type() as u8)),
        }
    }
}

/// The field types and directions of a composite key whose shape is data.
/// Encodes exactly like the equivalent static tuple (with [`Desc`] for
/// descending fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySchema {
    pub fields: Vec<(KeyType, Order)>,
}

impl KeySchema {
    /// Encodes a full key. Arity and every type must match exactly: a wrong
    /// type would encode fine but sort and decode as garbage.
    pub fn encode(&self, values: &[KeyValue]) -> Result<Vec<u8>, KeyError> {
        if values.len() != self.fields.len() {
            return Err(KeyError::ArityMismatch { expected: self.fields.len(), got: values.len() });
        }
        self.encode_prefix(values)
    }

    /// Encodes the first `values.len()` fields (at most all of them). The
    /// result is a byte prefix of every full key that starts with these
    /// values, so `prefix .. prefix_end(prefix)` scans exactly those keys.
    pub fn encode_prefix(&self, values: &[KeyValue]) -> Result<Vec<u8>, KeyError> {
        if values.len() > self.fields.len() {
            return Err(KeyError::ArityMismatch { expected: self.fields.len(), got: values.len() });
        }
        let mut out = Vec::new();
        for (field, (value, &(expected, order))) in values.iter().zip(&self.fields).enumerate() {
            let got = value.key_type();
            if got != expected {
                return Err(KeyError::TypeMismatch { field, expected, got });
            }
            value.encode_to(order, &mut out);
        }
        Ok(out)
    }

    /// Decodes a full key; trailing bytes are an error.
    pub fn decode(&self, bytes: &[u8]) -> Result<Vec<KeyValue>, KeyError> {
        let mut r = KeyReader::new(bytes);
        let values = self.decode_prefix(&mut r)?;
        r.finish()?;
        Ok(values)
    }

    /// Reads exactly this schema's fields and leaves the reader after them,
    /// for keys that are a schema-typed prefix followed by more data (e.g. a
    /// secondary index key followed by the primary key).
    pub fn decode_prefix(&self, r: &mut KeyReader<'_>) -> Result<Vec<KeyValue>, KeyError> {
        self.fields.iter().map(|&(ty, order)| KeyValue::decode_from(ty, order, r)).collect()
    }
}

/// Why a key could not be encoded or decoded. Positions (`at`) are byte
/// offsets into the whole key being decoded.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyError {
    /// The input ended inside the value that starts at `at`.
    Truncated { at: usize },
    /// A bool byte at `at` was neither 0x00 nor 0x01 (`byte` is the value
    /// after undoing any descending inversion).
    InvalidBool { at: usize, byte: u8 },
    /// A 0x00 in a byte string was followed at `at` by `byte` instead of 0xFF
    /// (escaped NUL) or 0x01 (end); `byte` is after undoing any inversion.
    InvalidEscape { at: usize, byte: u8 },
    /// The f64 at `at` is the encoding of `-0.0` or of a non-canonical NaN,
    /// which the encoder never produces.
    NonCanonicalFloat { at: usize },
    /// The string starting at `at` is not valid UTF-8.
    InvalidUtf8 { at: usize },
    /// The key has unread bytes starting at `at`.
    TrailingBytes { at: usize },
    /// Field `field` of a schema expects `expected` but the value is `got`.
    TypeMismatch { field: usize, expected: KeyType, got: KeyType },
    /// A schema with `expected` fields was given `got` values.
    ArityMismatch { expected: usize, got: usize },
}

impl KeyError {
    /// Stable machine-readable code, for the JS layer and logs. Codes never
    /// change meaning; new variants get new codes.
    #[must_use]
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::Truncated { .. } => "E_KEY_TRUNCATED",
            KeyError::InvalidBool { .. } => "E_KEY_INVALID_BOOL",
            KeyError::InvalidEscape { .. } => "E_KEY_INVALID_ESCAPE",
            KeyError::NonCanonicalFloat { .. } => "E_KEY_NONCANONICAL_FLOAT",
            KeyError::InvalidUtf8 { .. } => "E_KEY_INVALID_UTF8",
            KeyError::TrailingBytes { .. } => "E_KEY_TRAILING_BYTES",
            KeyError::TypeMismatch { .. } => "E_KEY_TYPE_MISMATCH",
            KeyError::ArityMismatch { .. } => "E_KEY_ARITY_MISMATCH",
        }
    }
}

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyError::Truncated { at } => {
                write!(f, "key is truncated: the value starting at byte {at} runs past the end")
            }
            KeyError::InvalidBool { at, byte } => {
                write!(f, "invalid bool byte 0x{byte:02x} at byte {at} (expected 0x00 or 0x01)")
            }
            KeyError::InvalidEscape { at, byte } => {
                write!(f, "invalid escape byte 0x{byte:02x} after 0x00 at byte {at} (expected 0xff or 0x01)")
            }
            KeyError::NonCanonicalFloat { at } => {
                write!(f, "non-canonical f64 (-0.0 or a non-canonical NaN) at byte {at}")
            }
            KeyError::InvalidUtf8 { at } => {
                write!(f, "string starting at byte {at} is not valid UTF-8")
            }
            KeyError::TrailingBytes { at } => {
                write!(f, "key has unexpected trailing bytes starting at byte {at}")
            }
            KeyError::TypeMismatch { field, expected, got } => {
                write!(f, "key field {field} expects type {expected} but got {got}")
            }
            KeyError::ArityMismatch { expected, got } => {
                write!(f, "key schema has {expected} fields but {got} values were given")
            }
        }
    }
}

/// `core::error::Error` is the same trait as `std::error::Error`, so this
/// serves std users without needing the `std` feature.
impl core::error::Error for KeyError {}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use alloc::vec;

    fn assert_order<T: KeyPart + Ord + fmt::Debug>(sorted: &[T]) {
        for pair in sorted.windows(2) {
            let (a, b) = (&pair[0], &pair[1]);
            assert!(a < b, "test input not sorted: {a:?} {b:?}");
            assert!(encode(a) < encode(b), "{a:?} must encode below {b:?}");
        }
        for v in sorted {
            assert_eq!(&decode::<T>(&encode(v)).unwrap(), v);
        }
    }

    #[test]
    fn unsigned_edges() {
        assert_order(&[0u8, 1, 127, 128, 254, 255]);
        assert_order(&[0u16, 1, 255, 256, 65534, 65535]);
        assert_order(&[0u32, 1, 255, 256, 999, 1000, 65535, 65536, 1 << 24, (1 << 31) - 1, 1 << 31, u32::MAX]);
        assert_order(&[0u64, 255, 256, u64::from(u32::MAX), 1 << 32, 1 << 32 | 1, u64::MAX - 1, u64::MAX]);
        assert_eq!(encode(&256u32), [0, 0, 1, 0]);
        assert_eq!(encode(&u16::MAX), [0xFF, 0xFF]);
    }

    #[test]
    fn signed_edges() {
        assert_order(&[i8::MIN, -2, -1, 0, 1, i8::MAX]);
        assert_order(&[i16::MIN, -256, -255, -1, 0, 255, 256, i16::MAX]);
        assert_order(&[i32::MIN, -65536, -1, 0, 1, 1 << 24, i32::MAX]);
        assert_order(&[i64::MIN, i64::from(i32::MIN) - 1, -1, 0, 1, i64::from(u32::MAX), i64::MAX]);
        assert_eq!(encode(&0i32), [0x80, 0, 0, 0]);
        assert_eq!(encode(&-1i32), [0x7F, 0xFF, 0xFF, 0xFF]);
        assert_eq!(encode(&i16::MIN), [0, 0]);
    }

    #[test]
    fn strings_and_bytes() {
        let sorted: Vec<String> = ["", "\0", "\0\0", "\u{1}", "a", "a\0", "a\0b", "a\u{1}", "ab", "é", "\u{ff}", "😀"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_order(&sorted);
        assert_order(&[vec![], vec![0u8], vec![0, 0], vec![0, 0xFF], vec![1], vec![0xFF], vec![0xFF, 0]]);
        assert_eq!(encode(&String::new()), [0x00, 0x01]);
        assert_eq!(encode(&b"a\0".to_vec()), [b'a', 0x00, 0xFF, 0x00, 0x01]);
        let mut out = Vec::new();
        encode_str("a\0b", &mut out);
        assert_eq!(out, encode(&"a\0b".to_string()));
    }

    #[test]
    fn desc_order() {
        assert_order(&[Desc(u32::MAX), Desc(256), Desc(0)]);
        assert_order(&[Desc("b".to_string()), Desc("ab".to_string()), Desc("a".to_string()), Desc(String::new())]);
        assert_order(&[Desc(Desc(1u8)), Desc(Desc(2u8))]);
        // A descending string followed by another field: prefix-freeness
        // keeps the first field decisive.
        assert_order(&[(Desc("ab".to_string()), 0u8), (Desc("a".to_string()), 255u8)]);
        assert_eq!(encode(&Desc(0u8)), [0xFF]);
        assert!(Desc(1) < Desc(0));
    }

    #[test]
    fn float_order_and_canonical_form() {
        let sorted = [
            f64::NEG_INFINITY,
            f64::MIN,
            -1.0,
            -f64::MIN_POSITIVE,
            -0.0,
            f64::MIN_POSITIVE,
            1.0,
            f64::MAX,
            f64::INFINITY,
            f64::NAN,
        ];
        for pair in sorted.windows(2) {
            assert!(encode(&pair[0]) <= encode(&pair[1]), "{pair:?}");
        }
        assert!(encode(&-1.0) < encode(&-0.0));
        assert_eq!(encode(&-0.0f64), encode(&0.0f64));
        assert!(encode(&f64::INFINITY) < encode(&f64::NAN));
        let nans = [f64::NAN, -f64::NAN, f64::from_bits(0x7ff0_0000_0000_0001), f64::from_bits(0xffff_ffff_ffff_ffff)];
        for nan in nans {
            assert!(nan.is_nan());
            assert_eq!(encode(&nan), encode(&f64::NAN));
            assert_eq!(decode::<f64>(&encode(&nan)).unwrap().to_bits(), CANONICAL_NAN_BITS);
        }
        assert_eq!(decode::<f64>(&encode(&-0.0)).unwrap().to_bits(), 0);
        assert_eq!(decode::<f64>(&encode(&-2.5)).unwrap(), -2.5);
    }

    #[test]
    fn tuples() {
        assert_eq!(encode(&(7u32,)), encode(&7u32));
        assert_order(&[(0u32, "b".to_string()), (1, String::new()), (1, "a".to_string())]);
        let six = (1u8, -2i16, "x".to_string(), Desc(3u64), true, vec![0u8]);
        assert_eq!(decode::<(u8, i16, String, Desc<u64>, bool, Vec<u8>)>(&encode(&six)).unwrap(), six);
    }

    #[test]
    fn every_error_variant() {
        let cases: [(Result<(), KeyError>, KeyError, &str); 8] = [
            (decode::<u32>(&[1, 2, 3]).map(drop), KeyError::Truncated { at: 0 }, "E_KEY_TRUNCATED"),
            (decode::<(u8, bool)>(&[0, 2]).map(drop), KeyError::InvalidBool { at: 1, byte: 2 }, "E_KEY_INVALID_BOOL"),
            (
                decode::<Vec<u8>>(&[b'a', 0, 7]).map(drop),
                KeyError::InvalidEscape { at: 2, byte: 7 },
                "E_KEY_INVALID_ESCAPE",
            ),
            (
                decode::<f64>(&[0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]).map(drop),
                KeyError::NonCanonicalFloat { at: 0 },
                "E_KEY_NONCANONICAL_FLOAT",
            ),
            (
                decode::<(u8, String)>(&[9, 0xC3, 0x28, 0, 1]).map(drop),
                KeyError::InvalidUtf8 { at: 1 },
                "E_KEY_INVALID_UTF8",
            ),
            (decode::<u8>(&[1, 2]).map(drop), KeyError::TrailingBytes { at: 1 }, "E_KEY_TRAILING_BYTES"),
            (
                KeySchema { fields: vec![(KeyType::U8, Order::Asc)] }.encode(&[KeyValue::Str(String::new())]).map(drop),
                KeyError::TypeMismatch { field: 0, expected: KeyType::U8, got: KeyType::Str },
                "E_KEY_TYPE_MISMATCH",
            ),
            (
                KeySchema { fields: vec![] }.encode(&[KeyValue::U8(0)]).map(drop),
                KeyError::ArityMismatch { expected: 0, got: 1 },
                "E_KEY_ARITY_MISMATCH",
            ),
        ];
        for (result, expected, code) in cases {
            let error = result.unwrap_err();
            assert_eq!(error, expected);
            assert_eq!(error.code(), code);
            assert!(!error.to_string().is_empty());
        }
    }

    #[test]
    fn malformed_inputs() {
        // Ordered forms: -0.0 is 0x7FFF..FF, the canonical NaN 0xFFF8_00..00;
        // a payload NaN and a negative NaN (0x0000..00) are rejected.
        assert_eq!(
            decode::<f64>(&[0x7F, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF]),
            Err(KeyError::NonCanonicalFloat { at: 0 })
        );
        assert_eq!(decode::<f64>(&encode(&f64::NAN)).map(f64::to_bits), Ok(CANONICAL_NAN_BITS));
        assert_eq!(decode::<f64>(&[0xFF, 0xF8, 0, 0, 0, 0, 0, 1]), Err(KeyError::NonCanonicalFloat { at: 0 }));
        assert_eq!(decode::<f64>(&[0, 0, 0, 0, 0, 0, 0, 0]), Err(KeyError::NonCanonicalFloat { at: 0 }));
        // Missing terminator, dangling escape, escape at the very end.
        assert_eq!(decode::<String>(b"abc"), Err(KeyError::Truncated { at: 0 }));
        assert_eq!(decode::<String>(&[b'a', 0]), Err(KeyError::Truncated { at: 0 }));
        assert_eq!(decode::<(u8, Vec<u8>)>(&[1, 0, 0xFF]), Err(KeyError::Truncated { at: 1 }));
        assert_eq!(decode::<Vec<u8>>(&[0, 0]), Err(KeyError::InvalidEscape { at: 1, byte: 0 }));
        // Inside Desc the reported byte is the logical (un-inverted) one.
        assert_eq!(decode::<Desc<bool>>(&[0xFD]), Err(KeyError::InvalidBool { at: 0, byte: 2 }));
        assert_eq!(decode::<u8>(&[]), Err(KeyError::Truncated { at: 0 }));
    }

    #[test]
    fn prefix_end_cases() {
        assert_eq!(prefix_end(&[]), None);
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_end(&[1, 2]), Some(vec![1, 3]));
        assert_eq!(prefix_end(&[1, 0xFF, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0x00]), Some(vec![0x01]));
        assert_eq!(prefix_end(&[0xFE, 0xFF]), Some(vec![0xFF]));
        let prefix = encode(&(5u32,));
        let end = prefix_end(&prefix).unwrap();
        assert!(encode(&(5u32, u64::MAX)) < end);
        assert!(encode(&(6u32, 0u64)) >= end);
    }

    #[test]
    fn reader_api() {
        let key = encode(&(1u16, "a".to_string(), 9u8));
        let mut r = KeyReader::new(&key);
        assert_eq!(r.position(), 0);
        assert_eq!(r.remaining(), key.len());
        assert_eq!(u16::decode_from(&mut r), Ok(1));
        assert_eq!(String::decode_from(&mut r), Ok("a".to_string()));
        assert_eq!(r.rest(), [9]);
        assert_eq!(r.finish(), Err(KeyError::TrailingBytes { at: 5 }));
        // A failed read leaves the position where it was.
        assert!(u16::decode_from(&mut r).is_err());
        assert_eq!(r.position(), 5);
        assert_eq!(r.read_byte(), Ok(9));
        assert!(r.is_empty());
        assert_eq!(r.finish(), Ok(()));
    }

    #[test]
    fn key_type_names() {
        for ty in KeyType::ALL {
            assert_eq!(KeyType::from_name(ty.name()), Some(ty));
        }
        assert_eq!(KeyType::from_name("U8"), None);
        assert_eq!(KeyType::from_name("string"), None);
    }

    #[test]
    fn key_value_and_schema() {
        let schema = KeySchema {
            fields: vec![(KeyType::Str, Order::Asc), (KeyType::U64, Order::Desc), (KeyType::F64, Order::Asc)],
        };
        let values = [KeyValue::Str("a\0".to_string()), KeyValue::U64(7), KeyValue::F64(-0.0)];
        let key = schema.encode(&values).unwrap();
        assert_eq!(key, encode(&("a\0".to_string(), Desc(7u64), 0.0f64)));
        assert_eq!(schema.decode(&key).unwrap(), values);
        let prefix = schema.encode_prefix(&values[..1]).unwrap();
        assert!(key.starts_with(&prefix));
        let mut r = KeyReader::new(&key);
        let prefix_schema = KeySchema { fields: schema.fields[..2].to_vec() };
        assert_eq!(prefix_schema.decode_prefix(&mut r).unwrap(), values[..2]);
        assert_eq!(r.remaining(), 8);
        assert_eq!(schema.encode(&values[..2]), Err(KeyError::ArityMismatch { expected: 3, got: 2 }));
        // Canonical float equality and cross-type order.
        assert_eq!(KeyValue::F64(f64::NAN), KeyValue::F64(-f64::NAN));
        assert_eq!(KeyValue::F64(-0.0), KeyValue::F64(0.0));
        assert!(KeyValue::U64(u64::MAX) < KeyValue::I8(i8::MIN));
        assert!(KeyValue::Bytes(vec![0xFF]) < KeyValue::Str(String::new()));
    }
}

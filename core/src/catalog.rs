//! The catalog schema (secondary index definitions) and the ordered index:
//! how unit attributes become index keys and how a range query becomes a
//! byte range.
//!
//! An index entry key is `name ‖ fields ‖ unit id`, every part in the
//! order-preserving codec: entries of one index are contiguous, sorted by
//! field values, ties broken by unit id. Stores compare keys as plain bytes
//! and never decode them.

use alloc::string::String;
use alloc::vec::Vec;
use core::ops::Bound;

use crate::error::{CatalogError, InputError};
use crate::event::Event;
use crate::key::{self, KeyValue};
use crate::limits::*;
use crate::model::*;
use crate::store::KeyRange;

/// The replay of the catalog stream.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Schema {
    /// The catalog stream's seq: the schema version.
    pub seq: Seq,
    pub indexes: Vec<IndexDef>,
}

impl Schema {
    pub fn replay(events: &[Event]) -> Self {
        let mut s = Self::default();
        s.extend(events);
        s
    }

    /// Applies catalog events that follow `self.seq`.
    pub fn extend(&mut self, events: &[Event]) {
        for e in events {
            self.seq += 1;
            if let Event::IndexDefined { def, .. } = e
                && self.index(&def.name).is_none()
            {
                self.indexes.push(def.clone());
            }
        }
    }

    pub fn index(&self, name: &str) -> Option<&IndexDef> {
        self.indexes.iter().find(|d| d.name == name)
    }

    /// The index entry keys of a unit: one per index whose fields the unit
    /// has all of. A unit missing a field is not in that index (sparse
    /// indexes); a field present with a value that does not fit the index's
    /// type is an error, never silently dropped.
    pub fn index_keys(&self, spec: &UnitSpec) -> Result<Vec<Vec<u8>>, CatalogError> {
        let mut keys = Vec::new();
        'index: for def in &self.indexes {
            let mut values = Vec::with_capacity(def.fields.len());
            for f in &def.fields {
                let Some(v) = spec.attrs.get(&f.attr) else { continue 'index };
                let Some(v) = coerce(v, f.ty) else {
                    return Err(CatalogError::AttrType {
                        unit: String::from(spec.id.as_str()),
                        attr: f.attr.clone(),
                        expected: f.ty.name(),
                    });
                };
                values.push(v);
            }
            keys.push(index_key(def, &values, &spec.id)?);
        }
        Ok(keys)
    }
}

/// The byte prefix of every entry of index `name`.
pub fn index_prefix(name: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(name.len() + 2);
    key::encode_str(name, &mut out);
    out
}

/// One index entry key: `name ‖ fields ‖ unit id`.
pub fn index_key(def: &IndexDef, values: &[KeyValue], unit: &UnitId) -> Result<Vec<u8>, InputError> {
    let mut out = index_prefix(&def.name);
    out.extend_from_slice(&def.schema().encode(values)?);
    key::encode_str(unit.as_str(), &mut out);
    Ok(out)
}

/// Decodes the field values and unit id of an index entry key.
pub fn decode_index_key(def: &IndexDef, bytes: &[u8]) -> Result<(Vec<KeyValue>, UnitId), InputError> {
    let mut r = key::KeyReader::new(bytes);
    let name: String = key::KeyPart::decode_from(&mut r)?;
    if name != def.name {
        return Err(InputError::Duplicate { what: "index name in key", name });
    }
    let values = def.schema().decode_prefix(&mut r)?;
    let unit: String = key::KeyPart::decode_from(&mut r)?;
    r.finish()?;
    Ok((values, UnitId::new(&unit)?))
}

/// A range query on a secondary index. Bounds are tuples of leading field
/// values (a prefix of the index's fields): on a `(hotel, price)` index,
/// `lo = Included([3])` and `hi = Included([3])` is all of hotel 3, and
/// `lo = Included([3, 0])`, `hi = Excluded([3, 1000])` is hotel 3 with price
/// in `[0, 1000)`. `Included` on the high side includes every entry that
/// starts with the bound (so `price <= 4294967295` needs no overflow).
#[derive(Clone, Debug, PartialEq)]
pub struct IndexQuery {
    pub index: String,
    pub lo: Bound<Vec<KeyValue>>,
    pub hi: Bound<Vec<KeyValue>>,
    pub reverse: bool,
}

impl IndexQuery {
    /// `[lo, hi)` on a single-field index.
    pub fn half_open(index: &str, lo: KeyValue, hi: KeyValue) -> Self {
        Self {
            index: String::from(index),
            lo: Bound::Included(alloc::vec![lo]),
            hi: Bound::Excluded(alloc::vec![hi]),
            reverse: false,
        }
    }

    /// `[lo, hi]` on a single-field index.
    pub fn closed(index: &str, lo: KeyValue, hi: KeyValue) -> Self {
        Self {
            index: String::from(index),
            lo: Bound::Included(alloc::vec![lo]),
            hi: Bound::Included(alloc::vec![hi]),
            reverse: false,
        }
    }

    /// Every entry of an index.
    pub fn all(index: &str) -> Self {
        Self { index: String::from(index), lo: Bound::Unbounded, hi: Bound::Unbounded, reverse: false }
    }

    /// The byte range this query covers on `def`, `limit` entries at a time.
    pub fn key_range(&self, def: &IndexDef, limit: u32) -> Result<KeyRange, InputError> {
        if limit == 0 || limit > SCAN_LIMIT_MAX {
            return Err(InputError::LimitInvalid { what: "limit", value: limit.into(), max: SCAN_LIMIT_MAX.into() });
        }
        let prefix = index_prefix(&def.name);
        let bound_key = |values: &[KeyValue]| -> Result<Vec<u8>, InputError> {
            if values.len() > def.fields.len() {
                return Err(InputError::RangeArity { got: values.len(), max: def.fields.len() });
            }
            let mut coerced = Vec::with_capacity(values.len());
            for (v, f) in values.iter().zip(&def.fields) {
                check_value(v, "range bound")?;
                // A bound that does not fit the field type is a caller
                // error: silently clamping it would change the result set.
                let c = coerce(v, f.ty).ok_or(InputError::Key(key::KeyError::TypeMismatch {
                    field: coerced.len(),
                    expected: f.ty,
                    got: v.key_type(),
                }))?;
                coerced.push(c);
            }
            let mut k = prefix.clone();
            k.extend_from_slice(&def.schema().encode_prefix(&coerced)?);
            Ok(k)
        };
        let after_prefix = |k: &[u8]| key::prefix_end(k);
        let start = match &self.lo {
            Bound::Unbounded => prefix.clone(),
            Bound::Included(v) => bound_key(v)?,
            // Past every entry that starts with the bound.
            Bound::Excluded(v) => match after_prefix(&bound_key(v)?) {
                Some(k) => k,
                None => return Ok(empty_range(limit, self.reverse)),
            },
        };
        let end = match &self.hi {
            Bound::Unbounded => after_prefix(&prefix),
            Bound::Included(v) => after_prefix(&bound_key(v)?),
            Bound::Excluded(v) => Some(bound_key(v)?),
        };
        Ok(KeyRange { start, end, reverse: self.reverse, limit })
    }
}

fn empty_range(limit: u32, reverse: bool) -> KeyRange {
    KeyRange { start: alloc::vec![0xff], end: Some(alloc::vec![0xff]), reverse, limit }
}

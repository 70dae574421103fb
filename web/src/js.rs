//! Conversions between plain JavaScript objects and allot-core types, with
//! the validation that gives every bad JS input a typed error.
//!
//! JavaScript has one number type, so integers arrive as `f64`: NaN and the
//! infinities are `E_NOT_FINITE`, fractions and out-of-range values get the
//! field's own code (`E_QTY_INVALID`, `E_TIME_OUT_OF_RANGE`...), and a field
//! of the wrong JS type or an unknown field is `E_INVALID_INPUT`. Strings are
//! measured before they are copied into wasm memory, so a huge string costs
//! nothing but its error.

use std::cell::RefCell;
use std::ops::Bound;

use allot_core::error::InputError;
use allot_core::key::{KeyType, KeyValue, Order};
use allot_core::limits::*;
use allot_core::model::*;
use allot_core::rules::{HoldReq, Outcome};
use allot_core::{Event, Pick};
use hashbrown::HashMap;
use js_sys::{Array, BigInt, JsString, Object, Reflect, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::{JsCast, JsValue};

/// An error before any core call: the JS value has the wrong shape.
#[derive(Debug)]
pub enum JsInputError {
    /// Wrong JS type, missing required field, unknown field.
    Shape(String),
    /// A value of the right shape that core rejects.
    Core(InputError),
}

impl From<InputError> for JsInputError {
    fn from(e: InputError) -> Self {
        Self::Core(e)
    }
}

pub type Res<T> = Result<T, JsInputError>;

fn shape<T>(msg: impl Into<String>) -> Res<T> {
    Err(JsInputError::Shape(msg.into()))
}

thread_local! {
    /// JS strings of the field names, by the address and length of their
    /// `&'static str`: turning a Rust string into a JS one costs a
    /// TextDecoder call, and each request reads (and each outcome writes)
    /// about a dozen fields. Field names are a fixed set, so this stays small.
    static KEYS: RefCell<HashMap<(usize, usize), JsValue>> = RefCell::new(HashMap::new());
    /// The field names of each request shape, as JS arrays (keyed by the
    /// address and length of the `&'static` list), for [`read_fields`].
    static NAMES: RefCell<HashMap<(usize, usize), Array>> = RefCell::new(HashMap::new());
}

#[wasm_bindgen(module = "/src/glue.js")]
extern "C" {
    /// A request's fields in one call: `null` (not a plain object), the
    /// name of an unknown field (a string), or the values of `names` in
    /// order. Errs if a getter or proxy of the request throws.
    #[wasm_bindgen(js_name = readFields, catch)]
    fn read_fields(o: &JsValue, names: &Array) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(js_name = bookingObj)]
    fn booking_obj(actor: &str, key: &str) -> JsValue;
    #[wasm_bindgen(js_name = intervalObj)]
    fn interval_obj(start: JsValue, end: JsValue) -> JsValue;
    #[wasm_bindgen(js_name = daysObj)]
    fn days_obj(from: u32, to: u32) -> JsValue;
    /// A booked outcome (`expires_at` undefined) or a held one.
    #[wasm_bindgen(js_name = placedObj)]
    #[allow(clippy::too_many_arguments)]
    fn placed_obj(
        status: &JsValue,
        booking: JsValue,
        unit: &str,
        span: JsValue,
        qty: u32,
        seat: u32,
        expires_at: JsValue,
        replayed: bool,
    ) -> JsValue;
}

/// The JS string for a field name (converted once per thread).
pub fn key(k: &'static str) -> JsValue {
    let id = (k.as_ptr() as usize, k.len());
    // The borrow ends before any call into JS (a JS getter could call back in).
    if let Some(v) = KEYS.with(|m| m.borrow().get(&id).cloned()) {
        return v;
    }
    let v = JsValue::from_str(k);
    KEYS.with(|m| m.borrow_mut().insert(id, v.clone()));
    v
}

fn names_array(names: &'static [&'static str]) -> Array {
    let id = (names.as_ptr() as usize, names.len());
    if let Some(a) = NAMES.with(|m| m.borrow().get(&id).cloned()) {
        return a;
    }
    let a: Array = names.iter().map(|&k| key(k)).collect();
    NAMES.with(|m| m.borrow_mut().insert(id, a.clone()));
    a
}

/// A request object's fields, read in one call ([`read_fields`]).
#[derive(Debug)]
pub struct Fields {
    values: Array,
    names: &'static [&'static str],
}

/// A request object: a plain object whose keys are all in `allowed`.
pub fn object(v: &JsValue, what: &str, allowed: &'static [&'static str]) -> Res<Fields> {
    let Ok(read) = read_fields(v, &names_array(allowed)) else {
        return shape(format!("{what} could not be read (a getter or proxy threw)"));
    };
    if read.is_null() {
        return shape(format!("{what} must be an object"));
    }
    if let Some(k) = read.as_string() {
        return shape(format!("{what} has an unknown field `{k}` (allowed: {})", allowed.join(", ")));
    }
    Ok(Fields { values: read.unchecked_into(), names: allowed })
}

/// Field `k` of `o` (one of the names `o` was read with).
pub fn field(o: &Fields, k: &'static str) -> JsValue {
    // Field names are literals, usually the same pointer: no string compare.
    match o.names.iter().position(|&n| core::ptr::eq(n, k) || n == k) {
        Some(i) => o.values.get(i as u32),
        None => {
            debug_assert!(false, "field {k} was not read");
            JsValue::UNDEFINED
        }
    }
}

/// Field `k` of `o`, for names that come from the caller (attributes).
fn field_named(o: &Object, k: &str) -> JsValue {
    Reflect::get(o, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

fn present(v: &JsValue) -> bool {
    !v.is_undefined() && !v.is_null()
}

/// A string of at most `max_bytes` UTF-8 bytes, checked before copying.
pub fn string(v: &JsValue, what: &'static str, max_bytes: usize) -> Res<String> {
    let Some(js) = v.dyn_ref::<JsString>() else { return shape(format!("{what} must be a string")) };
    // A UTF-16 unit is at most 3 UTF-8 bytes; refuse absurd lengths unread.
    let units = js.length() as usize;
    if units > 3 * max_bytes + 3 {
        return Err(InputError::ValueTooLong { what, len: units, max: max_bytes }.into());
    }
    Ok(String::from(js))
}

pub fn req_string(o: &Fields, k: &'static str, what: &'static str, max_bytes: usize) -> Res<String> {
    let v = field(o, k);
    if !present(&v) {
        return shape(format!("`{k}` is required ({what})"));
    }
    string(&v, what, max_bytes)
}

pub fn id<T>(o: &Fields, k: &'static str, what: &'static str, make: fn(&str) -> Result<T, InputError>) -> Res<T> {
    let v = field(o, k);
    if !present(&v) {
        return shape(format!("`{k}` is required ({what})"));
    }
    let Some(js) = v.dyn_ref::<JsString>() else { return shape(format!("`{k}` must be a string ({what})")) };
    if js.length() as usize > 3 * ID_LEN_MAX_BYTES + 3 {
        return Err(InputError::IdTooLong { what, len: js.length() as usize }.into());
    }
    Ok(make(&String::from(js))?)
}

/// A finite number, or an error naming the field.
pub fn number(v: &JsValue, what: &'static str) -> Res<f64> {
    let Some(n) = v.as_f64() else { return shape(format!("{what} must be a number")) };
    if !n.is_finite() {
        return Err(InputError::NotFinite { what }.into());
    }
    Ok(n)
}

/// An integer in `0..=max` (2^53 - 1 at most); `bad` builds the error for a
/// fraction or an out-of-range value.
pub fn integer(v: &JsValue, what: &'static str, max: u64, bad: impl Fn(f64) -> InputError) -> Res<u64> {
    let n = number(v, what)?;
    if n.fract() != 0.0 || n < 0.0 || n > max as f64 {
        return Err(bad(n).into());
    }
    Ok(n as u64)
}

fn time_of(v: &JsValue, what: &'static str) -> Res<u64> {
    integer(v, what, TIME_MAX, |n| InputError::TimeOutOfRange { what, value: clamp_u64(n) })
}

fn clamp_u64(n: f64) -> u64 {
    if n <= 0.0 { 0 } else { n.min(u64::MAX as f64) as u64 }
}

/// `now`: the caller's clock in ms; `Date.now()` when absent.
pub fn now(o: &Fields) -> Res<u64> {
    let v = field(o, "now");
    if !present(&v) {
        return Ok(js_sys::Date::now() as u64);
    }
    time_of(&v, "now")
}

pub fn opt_now(v: &JsValue) -> Res<u64> {
    if !present(v) {
        return Ok(js_sys::Date::now() as u64);
    }
    let o = object(v, "options", &["now", "acknowledged", "rosters"])?;
    now(&o)
}

pub fn qty(o: &Fields) -> Res<u32> {
    let v = field(o, "qty");
    if !present(&v) {
        return Ok(1);
    }
    let q = integer(&v, "qty", u64::from(CAPACITY_MAX), |n| InputError::QtyInvalid {
        qty: clamp_u64(n),
        max: CAPACITY_MAX,
    })?;
    if q == 0 {
        return Err(InputError::QtyInvalid { qty: 0, max: CAPACITY_MAX }.into());
    }
    Ok(q as u32)
}

fn day(v: &JsValue, what: &'static str) -> Res<u32> {
    Ok(integer(v, what, u64::from(u32::MAX), |n| InputError::TimeOutOfRange { what, value: clamp_u64(n) })? as u32)
}

/// `span`: absent (a pool's whole occurrence), `{ start, end }` (an
/// interval) or `{ from, to }` (days of an allotment).
pub fn span(o: &Fields) -> Res<Span> {
    let v = field(o, "span");
    if !present(&v) {
        return Ok(Span::Whole);
    }
    let s = object(&v, "span", &["start", "end", "from", "to"])?;
    let (start, end, from, to) = (field(&s, "start"), field(&s, "end"), field(&s, "from"), field(&s, "to"));
    match (present(&start) || present(&end), present(&from) || present(&to)) {
        (true, false) => {
            let span =
                Span::Interval { start: time_of(&start, "interval start")?, end: time_of(&end, "interval end")? };
            check_span_shape(&span)?;
            Ok(span)
        }
        (false, true) => {
            let span = Span::Days { from: day(&from, "first day")?, to: day(&to, "end day")? };
            check_span_shape(&span)?;
            Ok(span)
        }
        _ => shape("span must be { start, end } (an interval) or { from, to } (days)"),
    }
}

fn check_span_shape(span: &Span) -> Res<()> {
    let kind = match span {
        Span::Whole => UnitKind::Pool { capacity: 1 },
        Span::Days { .. } => UnitKind::Allotment { capacity: 1 },
        Span::Interval { .. } => UnitKind::Exclusive,
    };
    Ok(span.validate(&kind)?)
}

pub fn hold(o: &Fields) -> Res<Option<HoldReq>> {
    let v = field(o, "hold");
    if !present(&v) {
        return Ok(None);
    }
    let h = object(&v, "hold", &["ttlMs", "extRef"])?;
    let ttl = field(&h, "ttlMs");
    if !present(&ttl) {
        return shape("`hold.ttlMs` is required");
    }
    let ttl_ms = integer(&ttl, "hold ttl", HOLD_MS_MAX, |n| InputError::TtlInvalid { ttl_ms: clamp_u64(n) })?;
    let ext = field(&h, "extRef");
    let ext_ref = if present(&ext) { Some(string(&ext, "external reference", EXT_REF_LEN_MAX_BYTES)?) } else { None };
    let req = HoldReq { ttl_ms, ext_ref };
    req.validate()?;
    Ok(Some(req))
}

pub fn booking(o: &Fields) -> Res<BookingId> {
    Ok(BookingId { actor: id(o, "actor", "actor", Actor::new)?, key: id(o, "key", "request key", RequestKey::new)? })
}

/// An attribute value: number (integer or not), string, boolean, bigint or
/// Uint8Array.
pub fn attr_value(v: &JsValue, what: &'static str) -> Res<KeyValue> {
    if let Some(n) = v.as_f64() {
        if !n.is_finite() {
            return Err(InputError::NotFinite { what }.into());
        }
        if n.fract() == 0.0 && n.abs() <= TIME_MAX as f64 {
            return Ok(if n >= 0.0 { KeyValue::U64(n as u64) } else { KeyValue::I64(n as i64) });
        }
        return Ok(KeyValue::F64(n));
    }
    if v.is_string() {
        return Ok(KeyValue::Str(string(v, what, ATTR_VALUE_LEN_MAX_BYTES)?));
    }
    if let Some(b) = v.as_bool() {
        return Ok(KeyValue::Bool(b));
    }
    if v.is_bigint() {
        let b: BigInt = v.clone().unchecked_into();
        if let Ok(u) = u64::try_from(b.clone()) {
            return Ok(KeyValue::U64(u));
        }
        if let Ok(i) = i64::try_from(b) {
            return Ok(KeyValue::I64(i));
        }
        return shape(format!("{what} is a bigint outside the 64-bit range"));
    }
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        if a.length() as usize > ATTR_VALUE_LEN_MAX_BYTES {
            return Err(
                InputError::ValueTooLong { what, len: a.length() as usize, max: ATTR_VALUE_LEN_MAX_BYTES }.into()
            );
        }
        return Ok(KeyValue::Bytes(a.to_vec()));
    }
    shape(format!("{what} must be a number, string, boolean, bigint or Uint8Array"))
}

fn attrs(v: &JsValue) -> Res<Attrs> {
    if !present(v) {
        return Ok(Attrs::default());
    }
    if !v.is_object() || Array::is_array(v) || v.is_function() || v.dyn_ref::<Uint8Array>().is_some() {
        return shape("attrs must be an object of name: value");
    }
    let o: Object = v.clone().unchecked_into();
    let keys = Object::keys(&o);
    if keys.length() as usize > ATTRS_PER_UNIT_MAX {
        return Err(
            InputError::TooMany { what: "attributes", len: keys.length() as usize, max: ATTRS_PER_UNIT_MAX }.into()
        );
    }
    let mut out = Vec::with_capacity(keys.length() as usize);
    for k in keys.iter() {
        let name = string(&k, "attribute name", NAME_LEN_MAX_BYTES)?;
        let value = attr_value(&field_named(&o, &name), "attribute value")?;
        out.push((name, value));
    }
    Ok(Attrs::new(out)?)
}

/// `{ id, kind: 'pool' | 'allotment' | 'exclusive', capacity?, attrs? }`.
pub fn unit_spec(v: &JsValue) -> Res<UnitSpec> {
    let o = object(v, "unit", &["id", "kind", "capacity", "attrs"])?;
    let id = id(&o, "id", "unit id", UnitId::new)?;
    let kind_name = req_string(&o, "kind", "unit kind", 16)?;
    let cap = field(&o, "capacity");
    let capacity = |required: bool| -> Res<u32> {
        if !present(&cap) {
            return if required { shape(format!("a {kind_name} unit needs a capacity")) } else { Ok(1) };
        }
        let n = number(&cap, "capacity")?;
        if n.fract() != 0.0 || n < 0.0 {
            return shape("capacity must be a whole number");
        }
        if n == 0.0 {
            return Err(InputError::CapacityZero.into());
        }
        if n > f64::from(CAPACITY_MAX) {
            return Err(InputError::CapacityTooLarge { capacity: clamp_u64(n) }.into());
        }
        Ok(n as u32)
    };
    let kind = match kind_name.as_str() {
        "pool" => UnitKind::Pool { capacity: capacity(true)? },
        "allotment" => UnitKind::Allotment { capacity: capacity(true)? },
        "exclusive" => {
            if present(&cap) && capacity(false)? != 1 {
                return shape("an exclusive unit has capacity 1");
            }
            UnitKind::Exclusive
        }
        other => return shape(format!("kind must be 'pool', 'allotment' or 'exclusive', not {other:?}")),
    };
    kind.validate()?;
    Ok(UnitSpec { id, kind, attrs: attrs(&field(&o, "attrs"))? })
}

pub fn array(v: &JsValue, what: &str, max: usize) -> Res<Array> {
    if !Array::is_array(v) {
        return shape(format!("{what} must be an array"));
    }
    let a: Array = v.clone().unchecked_into();
    if a.length() as usize > max {
        return Err(InputError::TooMany { what: "items", len: a.length() as usize, max }.into());
    }
    Ok(a)
}

/// `{ name, fields: [{ attr, type, order? }] }`.
pub fn index_def(v: &JsValue) -> Res<IndexDef> {
    let o = object(v, "index", &["name", "fields"])?;
    let name = req_string(&o, "name", "index name", NAME_LEN_MAX_BYTES)?;
    let fields = array(&field(&o, "fields"), "fields", INDEX_FIELDS_MAX + 1)?;
    let mut out = Vec::new();
    for f in fields.iter() {
        let fo = object(&f, "index field", &["attr", "type", "order"])?;
        let attr = req_string(&fo, "attr", "index field", NAME_LEN_MAX_BYTES)?;
        let ty_name = req_string(&fo, "type", "field type", 16)?;
        let Some(ty) = KeyType::from_name(&ty_name) else {
            return shape(format!("unknown field type {ty_name:?} (u8 u16 u32 u64 i8 i16 i32 i64 f64 bool bytes str)"));
        };
        let ov = field(&fo, "order");
        let order = if !present(&ov) {
            Order::Asc
        } else {
            match string(&ov, "order", 8)?.as_str() {
                "asc" => Order::Asc,
                "desc" => Order::Desc,
                _ => return shape("order must be 'asc' or 'desc'"),
            }
        };
        out.push(IndexField { attr, ty, order });
    }
    Ok(IndexDef::new(&name, out)?)
}

fn bound_values(v: &JsValue) -> Res<Vec<KeyValue>> {
    if Array::is_array(v) {
        let a = array(v, "bound", INDEX_FIELDS_MAX + 1)?;
        a.iter().map(|x| attr_value(&x, "range bound")).collect()
    } else {
        Ok(vec![attr_value(v, "range bound")?])
    }
}

/// The range part of a query: `{ index, lo?, hi?, loExclusive?,
/// hiInclusive?, reverse? }`; `[lo, hi)` by default.
pub fn index_query(o: &Fields) -> Res<allot_core::IndexQuery> {
    let index = req_string(o, "index", "index name", NAME_LEN_MAX_BYTES)?;
    let flag = |k: &'static str| -> Res<bool> {
        let v = field(o, k);
        if !present(&v) {
            return Ok(false);
        }
        v.as_bool().map_or_else(|| shape(format!("`{k}` must be a boolean")), Ok)
    };
    let (lo_v, hi_v) = (field(o, "lo"), field(o, "hi"));
    let lo = if present(&lo_v) {
        let vals = bound_values(&lo_v)?;
        if flag("loExclusive")? { Bound::Excluded(vals) } else { Bound::Included(vals) }
    } else {
        Bound::Unbounded
    };
    let hi = if present(&hi_v) {
        let vals = bound_values(&hi_v)?;
        if flag("hiInclusive")? { Bound::Included(vals) } else { Bound::Excluded(vals) }
    } else {
        Bound::Unbounded
    };
    Ok(allot_core::IndexQuery { index, lo, hi, reverse: flag("reverse")? })
}

pub fn pick(o: &Fields) -> Res<Pick> {
    let v = field(o, "pick");
    if !present(&v) {
        return Ok(Pick::First);
    }
    match string(&v, "pick", 8)?.as_str() {
        "first" => Ok(Pick::First),
        "spread" => Ok(Pick::Spread),
        _ => shape("pick must be 'first' or 'spread'"),
    }
}

pub fn limit(o: &Fields, default: u32) -> Res<u32> {
    let v = field(o, "limit");
    if !present(&v) {
        return Ok(default);
    }
    Ok(integer(&v, "limit", u64::from(SCAN_LIMIT_MAX), |n| InputError::LimitInvalid {
        what: "limit",
        value: clamp_u64(n),
        max: u64::from(SCAN_LIMIT_MAX),
    })? as u32)
}

/// A cursor is the hex of the last index key of a page.
pub fn cursor_out(k: &[u8]) -> String {
    k.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn cursor_in(v: &JsValue) -> Res<Option<Vec<u8>>> {
    if !present(v) {
        return Ok(None);
    }
    let s = string(v, "cursor", 4 * 4096)?;
    if s.len() % 2 != 0 || !s.bytes().all(|c| c.is_ascii_hexdigit()) {
        return shape("`after` must be a cursor returned as `next` by query()");
    }
    Ok(Some((0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap_or(0)).collect()))
}

// ------------------------------------------------------------------ output

#[derive(Debug)]
pub struct Obj(Object);

impl Obj {
    pub fn new() -> Self {
        Self(Object::new())
    }
    pub fn set(self, k: &'static str, v: impl Into<JsValue>) -> Self {
        let _ = Reflect::set(&self.0, &key(k), &v.into());
        self
    }
    pub fn done(self) -> JsValue {
        self.0.into()
    }
}

impl Default for Obj {
    fn default() -> Self {
        Self::new()
    }
}

/// A u64 as a JS number when exact, else a BigInt.
pub fn u64_js(n: u64) -> JsValue {
    if n <= TIME_MAX { JsValue::from_f64(n as f64) } else { BigInt::from(n).into() }
}

fn i64_js(n: i64) -> JsValue {
    if n.unsigned_abs() <= TIME_MAX { JsValue::from_f64(n as f64) } else { BigInt::from(n).into() }
}

pub fn value_js(v: &KeyValue) -> JsValue {
    match v {
        KeyValue::U8(n) => JsValue::from(*n),
        KeyValue::U16(n) => JsValue::from(*n),
        KeyValue::U32(n) => JsValue::from(*n),
        KeyValue::U64(n) => u64_js(*n),
        KeyValue::I8(n) => JsValue::from(*n),
        KeyValue::I16(n) => JsValue::from(*n),
        KeyValue::I32(n) => JsValue::from(*n),
        KeyValue::I64(n) => i64_js(*n),
        KeyValue::F64(n) => JsValue::from_f64(*n),
        KeyValue::Bool(b) => JsValue::from_bool(*b),
        KeyValue::Bytes(b) => Uint8Array::from(b.as_slice()).into(),
        KeyValue::Str(s) => JsValue::from_str(s),
    }
}

pub fn booking_js(b: &BookingId) -> JsValue {
    booking_obj(b.actor.as_str(), b.key.as_str())
}

pub fn span_js(s: &Span) -> JsValue {
    match *s {
        Span::Whole => JsValue::NULL,
        Span::Days { from, to } => days_obj(from, to),
        Span::Interval { start, end } => interval_obj(u64_js(start), u64_js(end)),
    }
}

pub fn attrs_js(a: &Attrs) -> JsValue {
    // Attribute names are the caller's: not interned.
    let o = Object::new();
    for (k, v) in a.iter() {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &value_js(v));
    }
    o.into()
}

pub fn unit_js(row: &allot_core::UnitRow) -> JsValue {
    Obj::new()
        .set("id", row.id().as_str())
        .set("kind", row.spec.kind.name())
        .set("capacity", row.spec.kind.capacity())
        .set("attrs", attrs_js(&row.spec.attrs))
        .set("version", u64_js(row.version))
        .set("retired", row.retired)
        .done()
}

pub fn outcome_js(o: &Outcome) -> JsValue {
    // A booking's outcome (the hot path: one per booking) is built by one JS
    // call; the others field by field.
    let status = key(o.status());
    let base = || Obj::new().set("status", status.clone());
    match o {
        Outcome::Booked { booking, unit, span, qty, seat, replayed } => placed_obj(
            &status,
            booking_js(booking),
            unit.as_str(),
            span_js(span),
            *qty,
            *seat,
            JsValue::UNDEFINED,
            *replayed,
        ),
        Outcome::Held { booking, unit, span, qty, seat, expires_at, replayed } => placed_obj(
            &status,
            booking_js(booking),
            unit.as_str(),
            span_js(span),
            *qty,
            *seat,
            u64_js(*expires_at),
            *replayed,
        ),
        Outcome::Confirmed { booking, already }
        | Outcome::Cancelled { booking, already }
        | Outcome::Released { booking, already } => {
            base().set("booking", booking_js(booking)).set("already", *already).done()
        }
        Outcome::Full { unit, available } => base().set("unit", unit.as_str()).set("available", *available).done(),
        Outcome::Overlap { unit, with } => base().set("unit", unit.as_str()).set("with", span_js(with)).done(),
        Outcome::SoldOut => base().done(),
    }
}

pub fn event_js(e: &Event) -> Obj {
    let o = Obj::new().set("type", e.name()).set("at", u64_js(e.at()));
    match e {
        Event::UnitDefined { spec, .. } => {
            o.set("kind", spec.kind.name()).set("capacity", spec.kind.capacity()).set("attrs", attrs_js(&spec.attrs))
        }
        Event::UnitReplaced { attrs, .. } => o.set("attrs", attrs_js(attrs)),
        Event::UnitRetired { .. } => o,
        Event::IndexDefined { def, .. } => o.set("index", def.name.as_str()),
        Event::UnitsReindexed { units, .. } => o.set("units", *units),
        Event::Booked { booking, qty, span, hold, .. } => {
            let o = o.set("booking", booking_js(booking)).set("qty", *qty).set("span", span_js(span));
            match hold {
                None => o,
                Some(h) => o
                    .set("expiresAt", u64_js(h.expires_at))
                    .set("extRef", h.ext_ref.as_deref().map_or(JsValue::NULL, JsValue::from_str)),
            }
        }
        Event::Confirmed { booking, .. } | Event::Cancelled { booking, .. } | Event::Released { booking, .. } => {
            o.set("booking", booking_js(booking))
        }
    }
}

pub fn strings(items: impl IntoIterator<Item = JsValue>) -> JsValue {
    items.into_iter().collect::<Array>().into()
}

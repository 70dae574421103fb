//! Errors as JavaScript sees them: `Error` objects named `AllotError` with a
//! stable `code` (the same codes as allot-core, plus `E_INVALID_INPUT` for a
//! JS value of the wrong shape) and the fields that help handle them.

use allot_core::error::*;
use wasm_bindgen::JsValue;

use crate::js::{JsInputError, Obj, booking_js, u64_js};

/// The code for a JS value of the wrong shape (type, missing or unknown field).
pub const E_INVALID_INPUT: &str = "E_INVALID_INPUT";

fn make(code: &str, message: &str, fields: Obj) -> JsValue {
    let err = js_sys::Error::new(message);
    err.set_name("AllotError");
    let e: JsValue = err.into();
    let _ = js_sys::Reflect::set(&e, &"code".into(), &code.into());
    let fields: JsValue = fields.done();
    let _ = js_sys::Object::assign(&e.clone().into(), &fields.into());
    e
}

pub fn input_error(e: &JsInputError) -> JsValue {
    match e {
        JsInputError::Shape(m) => make(E_INVALID_INPUT, m, Obj::new()),
        JsInputError::Core(e) => make(e.code(), &e.to_string(), Obj::new()),
    }
}

fn conflict(o: Obj, stream: &allot_core::StreamId, expected: u64, actual: u64) -> Obj {
    o.set("stream", stream.to_string()).set("expected", u64_js(expected)).set("actual", u64_js(actual))
}

/// Any core error, with its useful fields.
pub fn core_error(e: &Error) -> JsValue {
    let o = Obj::new();
    let o = match e {
        Error::Book(b) => match b {
            BookError::UnknownUnit { unit } | BookError::UnitRetired { unit } => o.set("unit", unit.as_str()),
            BookError::UnknownIndex { index } => o.set("index", index.as_str()),
            BookError::IdempotencyMismatch { booking } => o.set("booking", booking_js(booking)),
            BookError::Conflict { stream, expected, actual } => conflict(o, stream, *expected, *actual),
            _ => o,
        },
        Error::Confirm(c) => match c {
            ConfirmError::UnknownBooking { booking } => o.set("booking", booking_js(booking)),
            ConfirmError::NotOwner { booking, by } => o.set("booking", booking_js(booking)).set("by", by.as_str()),
            ConfirmError::HoldExpired { booking, expires_at, ext_ref } => o
                .set("booking", booking_js(booking))
                .set("expiresAt", u64_js(*expires_at))
                .set("extRef", ext_ref.as_deref().map_or(JsValue::NULL, JsValue::from_str)),
            ConfirmError::NotHeld { booking, state } => o.set("booking", booking_js(booking)).set("state", *state),
            ConfirmError::Conflict { stream, expected, actual } => conflict(o, stream, *expected, *actual),
            _ => o,
        },
        Error::Catalog(c) => match c {
            CatalogError::UnitExists { unit }
            | CatalogError::UnknownUnit { unit }
            | CatalogError::UnitRetired { unit }
            | CatalogError::KindChange { unit } => o.set("unit", unit.as_str()),
            CatalogError::IndexExists { index } | CatalogError::UnknownIndex { index } => {
                o.set("index", index.as_str())
            }
            CatalogError::AttrType { unit, attr, expected } => {
                o.set("unit", unit.as_str()).set("attr", attr.as_str()).set("expected", *expected)
            }
            CatalogError::Conflict { stream, expected, actual } => conflict(o, stream, *expected, *actual),
            _ => o,
        },
        Error::Query(QueryError::UnknownIndex { index }) => o.set("index", index.as_str()),
        Error::Query(QueryError::UnknownUnit { unit }) => o.set("unit", unit.as_str()),
        _ => o,
    };
    make(e.code(), &e.to_string(), o)
}

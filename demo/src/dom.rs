//! Small DOM helpers. Text goes in with `set_text_content` only: nothing on
//! this page is ever parsed as HTML.

use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Document, Element, HtmlElement, HtmlInputElement, HtmlSelectElement};

pub const SVG_NS: &str = "http://www.w3.org/2000/svg";

pub fn window() -> web_sys::Window {
    web_sys::window().expect("a window")
}

pub fn doc() -> Document {
    window().document().expect("a document")
}

/// The element with `id` (the page's skeleton is in index.html).
pub fn by_id(id: &str) -> Element {
    doc().get_element_by_id(id).unwrap_or_else(|| panic!("index.html lacks #{id}"))
}

pub fn input(id: &str) -> HtmlInputElement {
    by_id(id).unchecked_into()
}

pub fn select(id: &str) -> HtmlSelectElement {
    by_id(id).unchecked_into()
}

pub fn el(tag: &str) -> Element {
    doc().create_element(tag).expect("create_element")
}

pub fn svg(tag: &str) -> Element {
    doc().create_element_ns(Some(SVG_NS), tag).expect("create_element_ns")
}

/// An element with a class and a text.
pub fn el_text(tag: &str, class: &str, text: &str) -> Element {
    let e = el(tag);
    if !class.is_empty() {
        e.set_class_name(class);
    }
    e.set_text_content(Some(text));
    e
}

pub fn set_text(id: &str, text: &str) {
    by_id(id).set_text_content(Some(text));
}

pub fn set_attr(e: &Element, name: &str, value: &str) {
    let _ = e.set_attribute(name, value);
}

/// Sets numeric attributes (SVG geometry).
pub fn set_nums(e: &Element, pairs: &[(&str, f64)]) {
    for (k, v) in pairs {
        let _ = e.set_attribute(k, &format!("{:.2}", v));
    }
}

pub fn append(parent: &Element, child: &Element) {
    let _ = parent.append_child(child);
}

pub fn clear(e: &Element) {
    while let Some(c) = e.first_child() {
        let _ = e.remove_child(&c);
    }
}

pub fn set_disabled(id: &str, disabled: bool) {
    let e = by_id(id);
    if disabled {
        let _ = e.set_attribute("disabled", "");
    } else {
        let _ = e.remove_attribute("disabled");
    }
}

/// Calls `f` on every `event` of element `id`, for the page's lifetime.
pub fn on(id: &str, event: &str, f: impl FnMut(web_sys::Event) + 'static) {
    let cb = Closure::<dyn FnMut(web_sys::Event)>::new(f);
    let _ = by_id(id).add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
    cb.forget();
}

pub fn focus(id: &str) {
    if let Some(h) = by_id(id).dyn_ref::<HtmlElement>() {
        let _ = h.focus();
    }
}

pub fn now_ms() -> f64 {
    window().performance().map_or_else(js_sys::Date::now, |p| p.now())
}

/// Thousands separated with a thin space, for counters.
pub fn group(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push('\u{2009}');
        }
        out.push(ch);
    }
    out
}

/// A civil date (YYYY-MM-DD) from days since 1970-01-01.
pub fn date(days: u64) -> String {
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `HH:MM` from minutes since midnight.
pub fn clock(minutes: u64) -> String {
    format!("{:02}:{:02}", minutes / 60 % 24, minutes % 60)
}

//! Shared by the browser test binaries (page and worker).
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use allot_core::StoreError;
use allot_core::conformance::StoreFactory;
use allot_web::idb::{Durability, IdbStore};
use js_sys::{Promise, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

/// A database name no earlier run used.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", js_sys::Date::now(), (js_sys::Math::random() * 1e9) as u64)
}

/// A fresh IndexedDB database per conformance case.
pub struct Fresh;

impl StoreFactory for Fresh {
    type Store = IdbStore;
    async fn fresh(&mut self, case: &'static str) -> Result<IdbStore, StoreError> {
        IdbStore::open(&unique(case), Durability::Relaxed).await
    }
}

/// Polls both futures until both are done, interleaving them at every await
/// (IndexedDB requests), so that two clients genuinely race.
pub async fn join2<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = Box::pin(a);
    let mut b = Box::pin(b);
    let (mut ra, mut rb) = (None, None);
    std::future::poll_fn(move |cx| {
        if ra.is_none()
            && let Poll::Ready(v) = Pin::as_mut(&mut a).poll(cx)
        {
            ra = Some(v);
        }
        if rb.is_none()
            && let Poll::Ready(v) = Pin::as_mut(&mut b).poll(cx)
        {
            rb = Some(v);
        }
        if ra.is_some() && rb.is_some() { Poll::Ready((ra.take().unwrap(), rb.take().unwrap())) } else { Poll::Pending }
    })
    .await
}

/// Awaits a JS promise.
pub async fn call(p: Promise) -> Result<JsValue, JsValue> {
    JsFuture::from(p).await
}

/// A promise that rejects after `ms`: tests race it against operations that
/// must not hang.
pub fn timeout(ms: i32, what: &'static str) -> Promise {
    Promise::new(&mut |_resolve, reject| {
        let cb = wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&format!("timed out: {what}")));
        });
        let global = js_sys::global();
        let set_timeout = Reflect::get(&global, &"setTimeout".into()).unwrap();
        let f: js_sys::Function = set_timeout.unchecked_into();
        let _ = f.call2(&global, &cb, &JsValue::from(ms));
    })
}

/// `Promise.race([p, timeout])`.
pub async fn within(ms: i32, what: &'static str, p: Promise) -> Result<JsValue, JsValue> {
    call(Promise::race(&js_sys::Array::of2(&p, &timeout(ms, what)))).await
}

pub fn get(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &JsValue::from_str(k)).unwrap_or(JsValue::UNDEFINED)
}

pub fn code(e: &JsValue) -> String {
    get(e, "code").as_string().unwrap_or_else(|| format!("no code: {e:?}"))
}

/// `JSON.parse` for test inputs written as JSON.
pub fn json(s: &str) -> JsValue {
    js_sys::JSON::parse(s).unwrap_or_else(|e| panic!("bad test JSON {s}: {e:?}"))
}

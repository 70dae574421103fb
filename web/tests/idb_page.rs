//! The IndexedDB store and the JS API in a page of headless Chromium, on
//! real IndexedDB: the store conformance suite, a last-seat race between two
//! connections, persistence across close and reopen, a version change from
//! another connection, and the bad-input table's JavaScript rows.

mod common;

use std::collections::BTreeMap;

use allot_core::conformance;
use allot_core::{Allot, BookReq, BookingId, Outcome, Span, UnitId, UnitKind, UnitSpec, VerifyOptions};
use allot_web::api::{self, Db};
use allot_web::idb::{Durability, IdbStore};
use common::*;
use js_sys::Promise;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const NOW: u64 = 1_797_984_000_000;

#[wasm_bindgen_test]
async fn idb_store_conforms_in_a_page() {
    let report = conformance::run(&mut Fresh).await;
    report.assert_ok();
    assert!(report.passed.len() >= 21, "cases: {:?}", report.passed);
    // IndexedDB keeps a change feed, but no vacancy epoch (a client that
    // follows the feed walks a sold-out range in its own memory), and no
    // untouched units (not yet).
    assert_eq!(
        report.skipped,
        ["untouched_window_is_the_units_never_booked", "vacancy_epoch_moves_when_room_may_come_back"],
        "skipped"
    );
}

async fn define_tour(store: &IdbStore, capacity: u32) {
    let spec = UnitSpec::new("tour", UnitKind::Pool { capacity }, vec![]).unwrap();
    Allot::new(store).define_units(&[spec], NOW).await.unwrap();
}

fn seat(who: &str) -> BookReq {
    BookReq {
        booking: BookingId::new(who, "seat").unwrap(),
        unit: UnitId::new("tour").unwrap(),
        span: Span::Whole,
        qty: 1,
        hold: None,
    }
}

/// Two connections (as two tabs or workers would have) race for the last
/// seat, many rounds: exactly one books each time, the store agrees, and the
/// race really reached the store (conflicts happened).
#[wasm_bindgen_test]
async fn last_seat_race_between_two_connections() {
    let mut conflicts = 0;
    for round in 0..10 {
        let name = unique("last-seat");
        let a = IdbStore::open(&name, Durability::Relaxed).await.unwrap();
        let b = IdbStore::open(&name, Durability::Relaxed).await.unwrap();
        define_tour(&a, 1).await;
        let (mut ca, mut cb) = (Allot::new(&a), Allot::new(&b));
        let (ra, rb) = join2(ca.book(&seat("ada"), NOW), cb.book(&seat("bob"), NOW)).await;
        let outcomes = [ra.unwrap(), rb.unwrap()];
        let booked = outcomes.iter().filter(|o| matches!(o, Outcome::Booked { .. })).count();
        let full = outcomes.iter().filter(|o| matches!(o, Outcome::Full { .. })).count();
        assert_eq!((booked, full), (1, 1), "round {round}: {outcomes:?}");
        conflicts += ca.stats().conflicts + cb.stats().conflicts;
        // Recount through a third, fresh connection.
        let fresh = IdbStore::open(&name, Durability::Default).await.unwrap();
        let report = allot_core::verify(&fresh, NOW, &[], &VerifyOptions::default()).await.unwrap();
        assert!(report.is_ok() && report.live_bookings == 1, "round {round}: {report:?}");
    }
    assert!(conflicts > 0, "the two connections never collided: the test did not race");
}

/// Two connections booking many seats at once: never above capacity.
#[wasm_bindgen_test]
async fn many_bookers_never_exceed_capacity() {
    let name = unique("capacity");
    let stores: Vec<IdbStore> = {
        let mut v = Vec::new();
        for _ in 0..2 {
            v.push(IdbStore::open(&name, Durability::Relaxed).await.unwrap());
        }
        v
    };
    define_tour(&stores[0], 5).await;
    let mut a = Allot::new(&stores[0]);
    let mut b = Allot::new(&stores[1]);
    let mut booked = 0;
    for i in 0..6 {
        let (ra, rb) = join2(a.book(&seat(&format!("a{i}")), NOW), b.book(&seat(&format!("b{i}")), NOW)).await;
        booked += [ra.unwrap(), rb.unwrap()].iter().filter(|o| matches!(o, Outcome::Booked { .. })).count();
    }
    assert_eq!(booked, 5);
    let report = allot_core::verify(&stores[0], NOW, &[], &VerifyOptions::default()).await.unwrap();
    assert!(report.is_ok() && report.live_bookings == 5, "{report:?}");
}

/// What a connection acknowledged is there for the next connection, after
/// this one is closed (as after a page reload).
#[wasm_bindgen_test]
async fn acknowledged_bookings_survive_close_and_reopen() {
    let name = unique("reopen");
    let mut acked = Vec::new();
    {
        let store = IdbStore::open(&name, Durability::Strict).await.unwrap();
        define_tour(&store, 3).await;
        let mut a = Allot::new(&store);
        for who in ["ada", "bob", "cy"] {
            if let Outcome::Booked { booking, .. } = a.book(&seat(who), NOW).await.unwrap() {
                acked.push(booking);
            }
        }
        store.close();
    }
    assert_eq!(acked.len(), 3);
    let store = IdbStore::open(&name, Durability::Default).await.unwrap();
    let report = allot_core::verify(&store, NOW, &acked, &VerifyOptions::default()).await.unwrap();
    assert!(report.is_ok(), "{:?}", report.violations);
    assert_eq!(report.live_bookings, 3);
    // And the roster refuses a fourth.
    let o = Allot::new(&store).book(&seat("dee"), NOW).await.unwrap();
    assert!(matches!(o, Outcome::Full { .. }), "{o:?}");
}

fn raw_open(name: &str, version: u32) -> Promise {
    let name = name.to_string();
    Promise::new(&mut |resolve, reject| {
        let factory: web_sys::IdbFactory =
            js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap().unchecked_into();
        let req = factory.open_with_u32(&name, version).unwrap();
        let r2 = req.clone();
        let ok = wasm_bindgen::closure::Closure::once_into_js(move || {
            let db = r2.result().unwrap();
            let _ = resolve.call1(&JsValue::NULL, &db);
        });
        let rej = reject.clone();
        let err = wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ = rej.call1(&JsValue::NULL, &"open failed".into());
        });
        let blocked = wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::NULL, &"blocked by an open connection".into());
        });
        req.set_onsuccess(Some(ok.unchecked_ref()));
        req.set_onerror(Some(err.unchecked_ref()));
        req.set_onblocked(Some(blocked.unchecked_ref()));
    })
}

/// Another tab upgrading the schema closes this connection cleanly: the
/// upgrade is not blocked, and the next call fails with a typed error
/// instead of hanging.
#[wasm_bindgen_test]
async fn a_version_change_closes_the_connection_with_a_typed_error() {
    let name = unique("versionchange");
    let store = IdbStore::open(&name, Durability::Default).await.unwrap();
    define_tour(&store, 1).await;
    let newer = within(5000, "the upgrade", raw_open(&name, allot_web::idb::SCHEMA_VERSION + 1)).await;
    let newer: web_sys::IdbDatabase =
        newer.expect("upgrade must not be blocked by allot's connection").unchecked_into();
    let err = Allot::new(&store).book(&seat("ada"), NOW).await.unwrap_err();
    assert_eq!(err.code(), "E_VERSION_CHANGE", "{err}");
    newer.close();
    // And this build refuses a database from a newer schema, with a type.
    let err = IdbStore::open(&name, Durability::Default).await.unwrap_err();
    assert_eq!(err.code(), "E_VERSION_CHANGE", "{err}");
}

/// Creates `name` at `version` through a raw connection, `upgrade` making
/// its stores (and writing into them) in the version change transaction.
fn raw_create(name: &str, version: u32, upgrade: impl FnOnce(&web_sys::IdbOpenDbRequest) + 'static) -> Promise {
    let name = name.to_string();
    let mut upgrade = Some(upgrade);
    Promise::new(&mut |resolve, reject| {
        let factory: web_sys::IdbFactory =
            js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into()).unwrap().unchecked_into();
        let req = factory.open_with_u32(&name, version).unwrap();
        let r1 = req.clone();
        let make = upgrade.take().unwrap();
        let on_upgrade = wasm_bindgen::closure::Closure::once_into_js(move || make(&r1));
        let r2 = req.clone();
        let ok = wasm_bindgen::closure::Closure::once_into_js(move || {
            let db: web_sys::IdbDatabase = r2.result().unwrap().unchecked_into();
            db.close();
            let _ = resolve.call0(&JsValue::NULL);
        });
        let err = wasm_bindgen::closure::Closure::once_into_js(move || {
            let _ = reject.call1(&JsValue::NULL, &"open failed".into());
        });
        req.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
        req.set_onsuccess(Some(ok.unchecked_ref()));
        req.set_onerror(Some(err.unchecked_ref()));
    })
}

/// The stores of schema version 1 (before the journal), as an older allot
/// build made them.
fn create_v1_layout(req: &web_sys::IdbOpenDbRequest) -> web_sys::IdbDatabase {
    let db: web_sys::IdbDatabase = req.result().unwrap().unchecked_into();
    for s in ["events", "heads", "claims"] {
        db.create_object_store(s).unwrap();
    }
    let units = db.create_object_store("units").unwrap();
    let p = web_sys::IdbIndexParameters::new();
    p.set_multi_entry(true);
    units.create_index_with_str_and_optional_parameters("ikeys", "ikeys", &p).unwrap();
    db
}

/// A version 1 database (no journal) upgrades in place: the journal starts
/// with a horizon, so a client reading the feed from the origin is told
/// that history is missing (and reads streams) instead of trusting an empty
/// feed; a database created fresh has no horizon.
#[wasm_bindgen_test]
async fn a_v1_database_upgrades_with_a_horizon_in_its_journal() {
    use allot_core::Store;
    let old = unique("v1");
    wasm_bindgen_futures::JsFuture::from(raw_create(&old, 1, |req| drop(create_v1_layout(req)))).await.unwrap();
    let store = IdbStore::open(&old, Durability::Default).await.unwrap();
    let from_origin = store.changes(0, 100).await.unwrap().unwrap();
    assert!(from_origin.gap && from_origin.appends.is_empty(), "{from_origin:?}");
    // It works as any database, and its feed is whole after the horizon.
    define_tour(&store, 2).await;
    let horizon = from_origin.pos;
    let after = store.changes(horizon, 100).await.unwrap().unwrap();
    let tour_def = allot_core::StreamId::new(&UnitId::new("tour").unwrap(), allot_core::Part::Def);
    assert!(!after.gap && after.appends.iter().any(|a| a.stream == tour_def), "the tour's definition: {after:?}");
    let mut a = Allot::new(&store);
    assert!(matches!(a.book(&seat("ada"), NOW).await.unwrap(), Outcome::Booked { .. }));
    assert!(matches!(Allot::new(&store).book(&seat("bob"), NOW).await.unwrap(), Outcome::Booked { .. }));
    assert!(matches!(a.book(&seat("cy"), NOW).await.unwrap(), Outcome::Full { .. }));
    store.close();
    let fresh = IdbStore::open(&unique("v2"), Durability::Default).await.unwrap();
    let c = fresh.changes(0, 100).await.unwrap().unwrap();
    assert!(!c.gap && c.pos == 0 && c.appends.is_empty(), "{c:?}");
}

/// A web-sys request's result, once it succeeds.
async fn done(req: &web_sys::IdbRequest) -> JsValue {
    let p = Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    wasm_bindgen_futures::JsFuture::from(p).await.expect("request failed");
    req.result().unwrap()
}

/// Makes `dst` a database of schema `version` (2 or 3: the layouts of the
/// builds before v4, with a store each for events and claims) holding what
/// `src`, a database of this build, holds: its events keyed by event key,
/// its claims keyed by claim key, its unit rows as they are, its journal's
/// records without what v4 added to them, and for v2 the `heads` store it
/// kept beside the events (each stream's last seq).
async fn copy_as(version: u32, src: &str, dst: &str) {
    use allot_core::{
        Store,
        store::{KeyRange, ReadReq},
    };
    let store = IdbStore::open(src, Durability::Default).await.unwrap();
    let streams = store.scan_streams(&KeyRange::all(10_000)).await.unwrap();
    let reqs: Vec<ReadReq> = streams.iter().map(|(s, _)| ReadReq { stream: s.clone(), after: 0 }).collect();
    let slices = store.read_streams(&reqs).await.unwrap();
    let mut events: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    let mut heads: Vec<(Vec<u8>, u64)> = Vec::new();
    for ((stream, head), slice) in streams.iter().zip(&slices) {
        assert_eq!(*head, slice.events.len() as u64);
        heads.push((stream.encode(), *head));
        for (i, e) in slice.events.iter().enumerate() {
            let mut k = stream.encode();
            k.extend_from_slice(&(i as u64 + 1).to_be_bytes());
            events.push((k, e.encode()));
        }
    }
    let claims: Vec<(Vec<u8>, Vec<u8>)> = store
        .scan_claims(&KeyRange::all(10_000))
        .await
        .unwrap()
        .into_iter()
        .map(|(b, r)| (b.encode(), r.encode()))
        .collect();
    assert!(!events.is_empty() && !claims.is_empty(), "something to move");
    store.close();
    let db: web_sys::IdbDatabase = wasm_bindgen_futures::JsFuture::from(raw_open(src, allot_web::idb::SCHEMA_VERSION))
        .await
        .unwrap()
        .unchecked_into();
    let names = js_sys::Array::of2(&"units".into(), &"journal".into());
    let tx = db.transaction_with_str_sequence(&names).unwrap();
    let units = tx.object_store("units").unwrap();
    let unit_rows = (done(&units.get_all_keys().unwrap()).await, done(&units.get_all().unwrap()).await);
    let journal = done(&tx.object_store("journal").unwrap().get_all().unwrap()).await;
    db.close();
    let old = raw_create(dst, version, move |req| {
        let db = create_v1_layout(req);
        let jp = web_sys::IdbObjectStoreParameters::new();
        jp.set_auto_increment(true);
        jp.set_key_path(&"k".into());
        db.create_object_store_with_optional_parameters("journal", &jp).unwrap();
        if version > 2 {
            db.delete_object_store("heads").unwrap();
        }
        let tx = req.transaction().unwrap();
        let put = |store: &str, k: &[u8], v: &JsValue| {
            let k: JsValue = js_sys::Uint8Array::from(k).into();
            tx.object_store(store).unwrap().put_with_key(v, &k).unwrap();
        };
        for (k, v) in &events {
            put("events", k, &js_sys::Uint8Array::from(v.as_slice()).into());
        }
        for (k, v) in &claims {
            put("claims", k, &js_sys::Uint8Array::from(v.as_slice()).into());
        }
        if version == 2 {
            for (k, head) in &heads {
                put("heads", k, &JsValue::from_f64(*head as f64));
            }
        }
        let units = tx.object_store("units").unwrap();
        for (k, v) in js_sys::Array::from(&unit_rows.0).iter().zip(js_sys::Array::from(&unit_rows.1).iter()) {
            units.put_with_key(&v, &k).unwrap();
        }
        let journal_store = tx.object_store("journal").unwrap();
        for r in js_sys::Array::from(&journal).iter() {
            // v2 and v3 records: the position and the appends.
            let old = js_sys::Object::new();
            for f in ["k", "b"] {
                js_sys::Reflect::set(&old, &f.into(), &js_sys::Reflect::get(&r, &f.into()).unwrap()).unwrap();
            }
            journal_store.put(&old).unwrap();
        }
    });
    wasm_bindgen_futures::JsFuture::from(old).await.unwrap();
}

/// The stores a database of `version` has, through a raw connection.
async fn store_names(name: &str, version: u32) -> Vec<String> {
    let db: web_sys::IdbDatabase =
        wasm_bindgen_futures::JsFuture::from(raw_open(name, version)).await.unwrap().unchecked_into();
    let list = db.object_store_names();
    let names = (0..list.length()).filter_map(|i| list.item(i)).collect();
    db.close();
    names
}

/// A version 2 database (events, heads and claims in stores of their own)
/// and a version 3 one (no heads) upgrade in place to v4, whose journal
/// holds events and claims: the old stores go, every booking made before
/// stays (heads, replays, the capacity check and verify see them), the
/// moved history is behind a horizon, and a client's old feed position
/// answers `gap`.
#[wasm_bindgen_test]
async fn v2_and_v3_databases_upgrade_to_v4_keeping_their_bookings() {
    use allot_core::{
        Part, Store, StreamId,
        store::{KeyRange, ReadReq},
    };
    let src = unique("v4-source");
    let old_pos = {
        let store = IdbStore::open(&src, Durability::Default).await.unwrap();
        define_tour(&store, 3).await;
        let mut a = Allot::new(&store);
        for who in ["ada", "bob"] {
            assert!(matches!(a.book(&seat(who), NOW).await.unwrap(), Outcome::Booked { .. }));
        }
        let pos = store.changes(0, 0).await.unwrap().unwrap().pos;
        store.close();
        pos
    };
    assert!(old_pos > 0);
    for version in [2, 3] {
        let old = unique(&format!("v{version}"));
        copy_as(version, &src, &old).await;
        let has_heads = store_names(&old, version).await.contains(&"heads".to_string());
        assert_eq!(has_heads, version == 2, "the v{version} layout");
        let store = IdbStore::open(&old, Durability::Default).await.unwrap();
        store.close();
        let names = store_names(&old, allot_web::idb::SCHEMA_VERSION).await;
        assert_eq!(names, ["journal", "units"], "upgraded from v{version}");
        let store = IdbStore::open(&old, Durability::Default).await.unwrap();
        let tour = UnitId::new("tour").unwrap();
        let main = StreamId::new(&tour, Part::Main);
        let heads = store.scan_streams(&KeyRange::all(10)).await.unwrap();
        assert_eq!(heads, vec![(StreamId::new(&tour, Part::Def), 1), (main.clone(), 2)]);
        let back = store.scan_streams(&KeyRange { reverse: true, ..KeyRange::all(10) }).await.unwrap();
        assert_eq!(back, vec![(main.clone(), 2), (StreamId::new(&tour, Part::Def), 1)]);
        let slice = store.read_streams(&[ReadReq { stream: main.clone(), after: 1 }]).await.unwrap();
        assert_eq!((slice[0].head, slice[0].events.len()), (2, 1));
        let from_origin = store.changes(0, 100).await.unwrap().unwrap();
        assert!(from_origin.gap && from_origin.appends.is_empty(), "behind a horizon: {from_origin:?}");
        let stale = store.changes(old_pos, 100).await.unwrap().unwrap();
        assert!(stale.gap, "an old position: {stale:?}");
        let mut c = Allot::new(&store);
        assert!(matches!(c.book(&seat("ada"), NOW).await.unwrap(), Outcome::Booked { replayed: true, .. }));
        assert!(matches!(c.book(&seat("cy"), NOW).await.unwrap(), Outcome::Booked { .. }));
        assert!(matches!(Allot::new(&store).book(&seat("dee"), NOW).await.unwrap(), Outcome::Full { .. }));
        let report = allot_core::verify(&store, NOW, &[], &VerifyOptions::default()).await.unwrap();
        assert!(report.is_ok() && report.live_bookings == 3, "{report:?}");
        store.close();
    }
}

// ---------------------------------------------------------------- JS API

async fn js_db(name: &str) -> Db {
    let opts = json(&format!(r#"{{ "name": "{name}", "storage": "indexeddb", "durability": "relaxed" }}"#));
    let db = call(api::open(opts)).await.expect("open");
    // `Db` comes back as a JS object owning the Rust value.
    Db::try_from_js(db)
}

trait FromJs {
    fn try_from_js(v: JsValue) -> Self;
}

impl FromJs for Db {
    fn try_from_js(v: JsValue) -> Self {
        // wasm-bindgen exported structs convert back from their JS wrapper.
        use wasm_bindgen::convert::TryFromJsValue;
        Db::try_from_js_value(v).expect("a Db")
    }
}

fn obj(pairs: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        js_sys::Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    o.into()
}

fn s(v: &str) -> JsValue {
    JsValue::from_str(v)
}

fn n(v: f64) -> JsValue {
    JsValue::from_f64(v)
}

fn interval(start: f64, end: f64) -> JsValue {
    obj(&[("start", n(start)), ("end", n(end))])
}

fn book_on(unit: &str, extra: &[(&str, JsValue)]) -> JsValue {
    let mut pairs = vec![("actor", s("ann")), ("key", s("k-bad")), ("unit", s(unit)), ("now", n(NOW as f64))];
    pairs.extend(extra.iter().cloned());
    // Later keys win, like object spread.
    let o = js_sys::Object::new();
    for (k, v) in pairs {
        js_sys::Reflect::set(&o, &JsValue::from_str(k), &v).unwrap();
    }
    o.into()
}

fn unit_def(extra: &[(&str, JsValue)]) -> JsValue {
    let o = js_sys::Object::new();
    for (k, v) in [("id", s("u-bad")), ("kind", s("exclusive"))].iter().chain(extra.iter()) {
        js_sys::Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
    }
    js_sys::Array::of1(&o).into()
}

fn table() -> BTreeMap<String, String> {
    let doc = include_str!("../../docs/bad-input.md");
    let mut rows = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        if cells.len() == 6 && cells[1].starts_with('J') && cells[1][1..].chars().all(|c| c.is_ascii_digit()) {
            rows.insert(cells[1].to_string(), cells[4].trim_matches('`').to_string());
        }
    }
    rows
}

/// Every J row of docs/bad-input.md, through the JS API on IndexedDB: each
/// bad input rejects with its code, and afterwards the same instance still
/// books (no panic killed it, no state was corrupted).
#[wasm_bindgen_test]
async fn every_js_row_of_the_bad_input_table_gives_its_code() {
    let name = unique("bad-input");
    let db = js_db(&name).await;
    call(db.define_index(json(r#"{ "name": "price", "fields": [{ "attr": "price", "type": "u32" }] }"#)))
        .await
        .unwrap();
    call(db.define_units(json(
        r#"[{ "id": "tour", "kind": "pool", "capacity": 2 }, { "id": "t1", "kind": "exclusive", "attrs": { "price": 10 } }]"#,
    )))
    .await
    .unwrap();
    let hold = obj(&[("ttlMs", n(100.0))]);
    call(db.book(book_on("t1", &[("span", interval(0.0, 10.0)), ("hold", hold), ("key", s("h1"))]))).await.unwrap();
    call(db.book(book_on("tour", &[("key", s("reused"))]))).await.unwrap();

    let huge = "x".repeat(1_000_000);
    let open_with = |o: JsValue| api::open(o);
    let act = |extra: &[(&str, JsValue)]| {
        let o = js_sys::Object::new();
        for (k, v) in [("actor", s("ann")), ("key", s("h1")), ("now", n(NOW as f64 + 1.0))].iter().chain(extra.iter()) {
            js_sys::Reflect::set(&o, &JsValue::from_str(k), v).unwrap();
        }
        JsValue::from(o)
    };
    let big = js_sys::BigInt::new(&JsValue::from_str("1180591620717411303424")).unwrap();
    // A request whose `unit` getter throws (a JS error while reading it).
    let getter_throws = book_on("tour", &[]);
    let throw = js_sys::Function::new_no_args("throw new Error('boom')");
    let target: js_sys::Object = getter_throws.clone().unchecked_into();
    js_sys::Object::define_property(&target, &s("unit"), &obj(&[("get", throw.into())]).unchecked_into());
    let many_with_now = js_sys::Array::of1(&json(r#"{ "actor": "ann", "key": "many", "index": "price", "now": 5 }"#));
    let cases: Vec<(&str, Promise)> = vec![
        ("J01", open_with(obj(&[("storage", s("disk"))]))),
        ("J02", open_with(obj(&[("durability", s("maybe"))]))),
        ("J03", open_with(obj(&[("name", s(""))]))),
        ("J04", open_with(obj(&[("window", n(0.0))]))),
        ("J05", open_with(s("hotel"))),
        ("J06", db.define_units(obj(&[("id", s("x"))]))),
        ("J07", db.define_units(json(r#"[{ "kind": "exclusive" }]"#))),
        ("J08", db.define_units(unit_def(&[("id", n(5.0))]))),
        ("J09", db.define_units(unit_def(&[("kind", s("room"))]))),
        ("J10", db.define_units(unit_def(&[("kind", s("pool"))]))),
        ("J11", db.define_units(unit_def(&[("kind", s("pool")), ("capacity", n(-1.0))]))),
        ("J12", db.define_units(unit_def(&[("kind", s("pool")), ("capacity", n(0.0))]))),
        ("J13", db.define_units(unit_def(&[("kind", s("pool")), ("capacity", n(1e9))]))),
        ("J14", db.define_units(unit_def(&[("kind", s("pool")), ("capacity", n(f64::NAN))]))),
        ("J15", db.define_units(unit_def(&[("kind", s("pool")), ("capacity", n(2.5))]))),
        ("J16", db.define_units(unit_def(&[("attrs", obj(&[("price", n(f64::NAN))]))]))),
        ("J17", db.define_units(unit_def(&[("attrs", obj(&[("price", n(f64::INFINITY))]))]))),
        ("J18", db.define_units(unit_def(&[("attrs", obj(&[("price", obj(&[]))]))]))),
        ("J19", db.define_units(unit_def(&[("id", s(&huge))]))),
        ("J20", db.book(json(r#"{ "key": "k", "unit": "tour" }"#))),
        ("J21", db.book(book_on("tour", &[("actor", s(""))]))),
        ("J22", db.book(book_on("nope", &[]))),
        ("J23", db.book(book_on("tour", &[("qty", n(f64::NAN))]))),
        ("J24", db.book(book_on("tour", &[("qty", n(-1.0))]))),
        ("J25", db.book(book_on("tour", &[("qty", n(0.0))]))),
        ("J26", db.book(book_on("tour", &[("qty", n(1.5))]))),
        ("J27", db.book(book_on("t1", &[("span", interval(5.0, 5.0))]))),
        ("J28", db.book(book_on("t1", &[("span", obj(&[("start", n(0.0))]))]))),
        ("J29", db.book(book_on("t1", &[("span", interval(-5.0, 5.0))]))),
        ("J30", db.book(book_on("t1", &[("span", interval(0.0, 2f64.powi(53)))]))),
        (
            "J31",
            db.book(book_on(
                "t1",
                &[("span", obj(&[("start", n(0.0)), ("end", n(1.0)), ("from", n(0.0)), ("to", n(1.0))]))],
            )),
        ),
        ("J32", db.book(book_on("tour", &[("now", n(-1.0))]))),
        ("J33", db.book(book_on("tour", &[("now", n(f64::INFINITY))]))),
        ("J34", db.book(book_on("tour", &[("hold", obj(&[("ttlMs", n(0.0))]))]))),
        ("J35", db.book(book_on("tour", &[("hold", obj(&[]))]))),
        ("J36", db.book(book_on("tour", &[("unitt", s("tour"))]))),
        ("J37", db.book(JsValue::NULL)),
        ("J38", db.book(book_on("t1", &[("key", s("reused")), ("span", interval(20.0, 30.0))]))),
        ("J39", db.book_any(json(r#"{ "actor": "ann", "key": "any", "index": "nope" }"#))),
        ("J40", db.book_any(json(r#"{ "actor": "ann", "key": "any", "index": "price", "pick": "random" }"#))),
        ("J41", db.query(json(r#"{ "index": "price", "lo": "cheap" }"#))),
        ("J42", db.query(obj(&[("index", s("price")), ("lo", n(2f64.powi(32)))]))),
        ("J43", db.query(json(r#"{ "index": "price", "limit": 0 }"#))),
        ("J44", db.query(json(r#"{ "index": "price", "after": "zz" }"#))),
        ("J45", db.confirm(act(&[("by", s("eve"))]))),
        ("J46", db.cancel(act(&[("by", s("eve"))]))),
        ("J47", db.confirm(act(&[("key", s("nope"))]))),
        ("J48", db.confirm(act(&[("now", n(NOW as f64 + 100.0))]))),
        ("J49", db.define_index(json(r#"{ "name": "p2", "fields": [{ "attr": "price", "type": "int" }] }"#))),
        ("J50", db.define_index(json(r#"{ "name": "p3", "fields": [] }"#))),
        ("J51", db.retire_unit(n(42.0))),
        ("J52", db.roster(json(r#"{ "unit": "nope" }"#))),
        ("J53", db.verify(json(r#"{ "acknowledged": "all" }"#))),
        ("J54", db.define_units(unit_def(&[("attrs", obj(&[("price", big.into())]))]))),
        ("J55", db.book(getter_throws)),
        ("J56", db.book_any_many(many_with_now.into(), JsValue::UNDEFINED)),
    ];
    let rows = table();
    assert!(rows.len() >= 50, "{} J rows", rows.len());
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (id, p) in cases {
        seen.insert(id);
        let want = rows.get(id).cloned().unwrap_or_else(|| "no row".into());
        match call(p).await {
            Ok(v) => failures.push(format!("{id}: want {want}, resolved with {v:?}")),
            Err(e) => {
                let is_error = e.dyn_ref::<js_sys::Error>().is_some_and(|e| e.name() == "AllotError");
                if code(&e) != want || !is_error {
                    failures.push(format!("{id}: want AllotError {want}, got {} ({e:?})", code(&e)));
                }
            }
        }
    }
    for id in rows.keys() {
        if !seen.contains(id.as_str()) {
            failures.push(format!("{id}: a row with no test case"));
        }
    }
    assert!(failures.is_empty(), "bad-input mismatches:\n{}", failures.join("\n"));
    // The same instance still works: a booking, its replay, and a clean recount.
    let ok = call(db.book(book_on("tour", &[("key", s("after-all"))]))).await.expect("a valid booking after bad input");
    assert_eq!(get(&ok, "status").as_string().as_deref(), Some("booked"));
    let report = call(db.verify(JsValue::UNDEFINED)).await.unwrap();
    assert_eq!(get(&report, "ok").as_bool(), Some(true), "{report:?}");
    db.close();
}

/// The JS API end to end on IndexedDB: hold, confirm, lifecycle, reconcile.
#[wasm_bindgen_test]
async fn js_api_books_holds_and_reconciles_on_indexeddb() {
    let db = js_db(&unique("js-api")).await;
    assert_eq!(db.storage(), "indexeddb");
    call(db.define_index(json(
        r#"{ "name": "seats", "fields": [{ "attr": "zone", "type": "str" }, { "attr": "seats", "type": "u8" }] }"#,
    )))
    .await
    .unwrap();
    call(db.define_units(json(
        r#"[{ "id": "t2", "kind": "exclusive", "attrs": { "zone": "terrace", "seats": 2 } },
            { "id": "t4", "kind": "exclusive", "attrs": { "zone": "terrace", "seats": 4 } },
            { "id": "t6", "kind": "exclusive", "attrs": { "zone": "inside", "seats": 6 } }]"#,
    )))
    .await
    .unwrap();
    // A party of 3 on the terrace gets the 4-seat table (best fit).
    let party = |who: &str, start: f64| {
        obj(&[
            ("actor", s(who)),
            ("key", s("dinner")),
            ("index", s("seats")),
            ("lo", js_sys::Array::of2(&s("terrace"), &n(3.0)).into()),
            ("hi", s("terrace")),
            ("hiInclusive", JsValue::TRUE),
            ("span", interval(start, start + 120.0)),
            ("now", n(NOW as f64)),
        ])
    };
    let o = call(db.book_any(party("ann", 1140.0))).await.unwrap();
    assert_eq!(get(&o, "unit").as_string().as_deref(), Some("t4"), "{o:?}");
    let o = call(db.book_any(party("bob", 1200.0))).await.unwrap();
    assert_eq!(get(&o, "status").as_string().as_deref(), Some("sold-out"), "{o:?}");
    // A paid hold that lapses is listed for a refund.
    let hold = obj(&[("ttlMs", n(1000.0)), ("extRef", s("pi_42"))]);
    let h =
        call(db.hold(book_on("t2", &[("key", s("h")), ("span", interval(0.0, 60.0)), ("hold", hold)]))).await.unwrap();
    assert_eq!(get(&h, "status").as_string().as_deref(), Some("held"));
    let later = obj(&[("actor", s("ann")), ("key", s("h")), ("now", n(NOW as f64 + 5000.0))]);
    let e = call(db.confirm(later)).await.unwrap_err();
    assert_eq!(code(&e), "E_HOLD_EXPIRED");
    assert_eq!(get(&e, "extRef").as_string().as_deref(), Some("pi_42"));
    let rec = call(db.reconcile(obj(&[("now", n(NOW as f64 + 5000.0))]))).await.unwrap();
    let rec: js_sys::Array = rec.unchecked_into();
    assert_eq!(rec.length(), 1);
    let life = call(db.lifecycle(s("t2"))).await.unwrap();
    let types: Vec<String> =
        life.unchecked_into::<js_sys::Array>().iter().map(|i| get(&i, "type").as_string().unwrap()).collect();
    assert_eq!(types, ["unit-defined", "held"]);
    let st = db.stats();
    // Two commits: the dinner booking and the hold (the rest decided without writing).
    assert_eq!(get(&st, "commits").as_f64(), Some(2.0), "{st:?}");
}

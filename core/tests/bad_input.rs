//! Every row of docs/bad-input.md, checked: each bad input must give exactly
//! the row's error code (never a panic, never another code), and every row
//! must have a case and every case a row.

use std::collections::BTreeMap;
use std::ops::Bound;

use allot_core::key::{self, KeyValue};
use allot_core::limits::TIME_MAX;
use allot_core::store::{Commit, StreamWrite};
use allot_core::*;

const NOW: u64 = 1_000_000;

fn table() -> BTreeMap<String, String> {
    let doc = include_str!("../../docs/bad-input.md");
    let mut rows = BTreeMap::new();
    for line in doc.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // | id | API | bad input | code |
        if cells.len() == 6 && cells[1].starts_with('R') && cells[1][1..].chars().all(|c| c.is_ascii_digit()) {
            rows.insert(cells[1].to_string(), cells[4].trim_matches('`').to_string());
        }
    }
    rows
}

fn code<T: std::fmt::Debug, E: Into<Error>>(r: Result<T, E>) -> String {
    match r {
        Ok(v) => format!("no error (got {v:?})"),
        Err(e) => e.into().code().to_string(),
    }
}

fn b(actor: &str, key: &str) -> BookingId {
    BookingId::new(actor, key).unwrap()
}

fn u(id: &str) -> UnitId {
    UnitId::new(id).unwrap()
}

/// A store with a u32 `price` index, an f64 `score` index, a pool, an
/// exclusive unit and an allotment.
fn fixture() -> MemStore {
    let store = MemStore::new();
    let mut a = Allot::new(&store);
    pollster::block_on(async {
        a.define_index(&IndexDef::single("price", "price", KeyType::U32).unwrap(), NOW).await.unwrap();
        a.define_index(&IndexDef::single("score", "score", KeyType::F64).unwrap(), NOW).await.unwrap();
        let specs = vec![
            UnitSpec::new("tour", UnitKind::Pool { capacity: 2 }, vec![]).unwrap(),
            UnitSpec::new("t1", UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(10))]).unwrap(),
            UnitSpec::new("rt", UnitKind::Allotment { capacity: 2 }, vec![("price".into(), KeyValue::U32(20))])
                .unwrap(),
            UnitSpec::new("old", UnitKind::Exclusive, vec![]).unwrap(),
        ];
        a.define_units(&specs, NOW).await.unwrap();
        a.retire_unit(&u("old"), NOW).await.unwrap();
    });
    store
}

fn book(unit: &str, span: Span, qty: u32, hold: Option<HoldReq>) -> BookReq {
    BookReq { booking: b("ann", "k1"), unit: u(unit), span, qty, hold }
}

fn try_book(req: BookReq, now: u64) -> String {
    let store = fixture();
    code(pollster::block_on(Allot::new(&store).book(&req, now)))
}

fn any(index: &str, window: u32) -> String {
    let store = fixture();
    let mut a = Allot::with_config(&store, Config { window_len: window, ..Config::default() });
    let req = BookAnyReq {
        booking: b("ann", "k1"),
        query: IndexQuery::all(index),
        span: Span::Interval { start: 0, end: 1 },
        qty: 1,
        hold: None,
        pick: Pick::First,
    };
    code(pollster::block_on(a.book_any(&req, NOW)))
}

fn query(q: IndexQuery, limit: u32, after: Option<&[u8]>) -> String {
    let store = fixture();
    code(pollster::block_on(Allot::new(&store).query(&q, limit, after)))
}

fn bound(index: &str, lo: Vec<KeyValue>) -> IndexQuery {
    IndexQuery { index: index.into(), lo: Bound::Included(lo), hi: Bound::Unbounded, reverse: false }
}

fn define(spec: UnitSpec) -> String {
    let store = fixture();
    code(pollster::block_on(Allot::new(&store).define_units(&[spec], NOW)))
}

fn priced(v: KeyValue) -> UnitSpec {
    UnitSpec::new("new", UnitKind::Exclusive, vec![("price".into(), v)]).unwrap()
}

fn define_index(def: IndexDef) -> String {
    let store = fixture();
    code(pollster::block_on(Allot::new(&store).define_index(&def, NOW)))
}

fn field(attr: &str) -> IndexField {
    IndexField { attr: attr.into(), ty: KeyType::U32, order: Order::Asc }
}

/// A hold by ann on t1 [0, 10) for 100 ms, then `act` by `by` at `at`.
fn act(kind: &str, by: &str, booking: BookingId, at: u64, confirm_first: bool, cancel_first: bool) -> String {
    let store = fixture();
    let mut a = Allot::new(&store);
    pollster::block_on(async {
        let hold = HoldReq { ttl_ms: 100, ext_ref: None };
        a.book(&book("t1", Span::Interval { start: 0, end: 10 }, 1, Some(hold)), NOW).await.unwrap();
        let mine = ActReq { by: Actor::new("ann").unwrap(), booking: b("ann", "k1") };
        if confirm_first {
            a.confirm(&mine, NOW + 1).await.unwrap();
        }
        if cancel_first {
            a.cancel(&mine, NOW + 1).await.unwrap();
        }
        let req = ActReq { by: Actor::new(by).unwrap(), booking };
        code(match kind {
            "confirm" => a.confirm(&req, at).await,
            "cancel" => a.cancel(&req, at).await,
            _ => a.release(&req, at).await,
        })
    })
}

fn commit(c: Commit) -> String {
    let store = MemStore::new();
    code(pollster::block_on(store.commit(&c)))
}

fn booked_event() -> Event {
    Event::Booked { booking: b("a", "k"), qty: 1, span: Span::Whole, hold: None, at: 0 }
}

fn main_stream() -> StreamId {
    StreamId::new(&u("s"), Part::Main)
}

type Case = (&'static str, Box<dyn Fn() -> String>);

fn cases() -> Vec<Case> {
    let iv = |start, end| Span::Interval { start, end };
    vec![
        ("R01", Box::new(|| code(UnitId::new("")))),
        ("R02", Box::new(|| code(UnitId::new(&"x".repeat(129))))),
        ("R03", Box::new(|| code(Actor::new("")))),
        ("R04", Box::new(|| code(RequestKey::new(&"k".repeat(1000))))),
        ("R05", Box::new(|| code(UnitSpec::new("p", UnitKind::Pool { capacity: 0 }, vec![])))),
        ("R06", Box::new(|| code(UnitSpec::new("p", UnitKind::Allotment { capacity: 1_000_001 }, vec![])))),
        (
            "R07",
            Box::new(|| code(UnitSpec::new("p", UnitKind::Exclusive, vec![("x".into(), KeyValue::F64(f64::NAN))]))),
        ),
        (
            "R08",
            Box::new(|| {
                code(UnitSpec::new("p", UnitKind::Exclusive, vec![("x".into(), KeyValue::F64(f64::INFINITY))]))
            }),
        ),
        (
            "R09",
            Box::new(|| {
                code(UnitSpec::new("p", UnitKind::Exclusive, vec![("x".into(), KeyValue::Str("s".repeat(1025)))]))
            }),
        ),
        ("R10", Box::new(|| code(UnitSpec::new("p", UnitKind::Exclusive, vec![("".into(), KeyValue::U8(1))])))),
        (
            "R11",
            Box::new(|| {
                code(UnitSpec::new(
                    "p",
                    UnitKind::Exclusive,
                    vec![("x".into(), KeyValue::U8(1)), ("x".into(), KeyValue::U8(2))],
                ))
            }),
        ),
        (
            "R12",
            Box::new(|| {
                let attrs = (0..33).map(|i| (format!("a{i}"), KeyValue::U8(1))).collect();
                code(UnitSpec::new("p", UnitKind::Exclusive, attrs))
            }),
        ),
        ("R13", Box::new(|| try_book(book("tour", Span::Whole, 0, None), NOW))),
        ("R14", Box::new(|| try_book(book("tour", Span::Whole, 3, None), NOW))),
        ("R15", Box::new(move || try_book(book("t1", iv(5, 5), 1, None), NOW))),
        ("R16", Box::new(move || try_book(book("t1", iv(6, 5), 1, None), NOW))),
        ("R17", Box::new(|| try_book(book("rt", Span::Days { from: 10, to: 10 }, 1, None), NOW))),
        ("R18", Box::new(|| try_book(book("rt", Span::Days { from: 0, to: 367 }, 1, None), NOW))),
        ("R19", Box::new(move || try_book(book("t1", iv(0, TIME_MAX + 1), 1, None), NOW))),
        ("R20", Box::new(move || try_book(book("t1", iv(0, 1), 1, None), u64::MAX))),
        ("R21", Box::new(move || try_book(book("t1", iv(0, 1), 1, Some(HoldReq { ttl_ms: 0, ext_ref: None })), NOW))),
        (
            "R22",
            Box::new(move || {
                let ttl_ms = allot_core::limits::HOLD_MS_MAX + 1;
                try_book(book("t1", iv(0, 1), 1, Some(HoldReq { ttl_ms, ext_ref: None })), NOW)
            }),
        ),
        (
            "R23",
            Box::new(move || try_book(book("t1", iv(0, 1), 1, Some(HoldReq { ttl_ms: 1, ext_ref: None })), TIME_MAX)),
        ),
        ("R24", Box::new(move || try_book(book("tour", iv(0, 1), 1, None), NOW))),
        ("R25", Box::new(move || try_book(book("nope", iv(0, 1), 1, None), NOW))),
        ("R26", Box::new(move || try_book(book("old", iv(0, 1), 1, None), NOW))),
        (
            "R27",
            Box::new(move || {
                let store = fixture();
                let mut a = Allot::new(&store);
                pollster::block_on(async {
                    a.book(&book("t1", iv(0, 1), 1, None), NOW).await.unwrap();
                    code(a.book(&book("t1", iv(1, 2), 1, None), NOW).await)
                })
            }),
        ),
        (
            "R28",
            Box::new(move || {
                try_book(book("t1", iv(0, 1), 1, Some(HoldReq { ttl_ms: 10, ext_ref: Some("r".repeat(257)) })), NOW)
            }),
        ),
        ("R29", Box::new(|| any("nope", 32))),
        ("R30", Box::new(|| any("price", 0))),
        ("R31", Box::new(|| any("price", 1025))),
        ("R32", Box::new(|| query(bound("price", vec![KeyValue::Str("10".into())]), 10, None))),
        ("R33", Box::new(|| query(bound("price", vec![KeyValue::U64(1 << 32)]), 10, None))),
        ("R34", Box::new(|| query(bound("score", vec![KeyValue::F64(f64::NAN)]), 10, None))),
        ("R35", Box::new(|| query(bound("price", vec![KeyValue::U32(1), KeyValue::U32(2)]), 10, None))),
        ("R36", Box::new(|| query(IndexQuery::all("price"), 0, None))),
        ("R37", Box::new(|| query(IndexQuery::all("price"), 10_001, None))),
        ("R38", Box::new(|| query(IndexQuery::all("price"), 10, Some(&[0x01])))),
        ("R39", Box::new(|| define(UnitSpec::new("t1", UnitKind::Exclusive, vec![]).unwrap()))),
        (
            "R40",
            Box::new(|| {
                let store = fixture();
                let s = UnitSpec::new("dup", UnitKind::Exclusive, vec![]).unwrap();
                code(pollster::block_on(Allot::new(&store).define_units(&[s.clone(), s], NOW)))
            }),
        ),
        ("R41", Box::new(|| define(priced(KeyValue::I64(-1))))),
        ("R42", Box::new(|| define(priced(KeyValue::U64(1 << 32))))),
        ("R43", Box::new(|| define(priced(KeyValue::F64(2.5))))),
        (
            "R44",
            Box::new(|| {
                let store = fixture();
                let s = UnitSpec::new("t1", UnitKind::Pool { capacity: 4 }, vec![]).unwrap();
                code(pollster::block_on(Allot::new(&store).replace_unit(&s, NOW)))
            }),
        ),
        (
            "R45",
            Box::new(|| {
                let store = fixture();
                let s = UnitSpec::new("nope", UnitKind::Exclusive, vec![]).unwrap();
                code(pollster::block_on(Allot::new(&store).replace_unit(&s, NOW)))
            }),
        ),
        (
            "R46",
            Box::new(|| {
                let store = fixture();
                code(pollster::block_on(Allot::new(&store).retire_unit(&u("old"), NOW)))
            }),
        ),
        ("R47", Box::new(|| code(IndexDef::new("i", vec![])))),
        ("R48", Box::new(|| code(IndexDef::new("i", (0..9).map(|i| field(&format!("f{i}"))).collect())))),
        ("R49", Box::new(|| define_index(IndexDef::new("price", vec![field("other")]).unwrap()))),
        ("R50", Box::new(|| act("confirm", "eve", b("ann", "k1"), NOW + 1, false, false))),
        ("R51", Box::new(|| act("cancel", "eve", b("ann", "k1"), NOW + 1, false, false))),
        ("R52", Box::new(|| act("confirm", "ann", b("ann", "other"), NOW + 1, false, false))),
        ("R53", Box::new(|| act("confirm", "ann", b("ann", "k1"), NOW + 100, false, false))),
        ("R54", Box::new(|| act("release", "ann", b("ann", "k1"), NOW + 2, true, false))),
        ("R55", Box::new(|| act("confirm", "ann", b("ann", "k1"), NOW + 2, false, true))),
        ("R56", Box::new(|| commit(Commit::default()))),
        (
            "R57",
            Box::new(|| {
                commit(Commit {
                    writes: vec![StreamWrite {
                        stream: main_stream(),
                        expected: u64::MAX,
                        events: vec![booked_event()],
                    }],
                    ..Commit::default()
                })
            }),
        ),
        (
            "R58",
            Box::new(|| {
                let w = StreamWrite { stream: main_stream(), expected: 0, events: vec![booked_event()] };
                commit(Commit { writes: vec![w.clone(), w], ..Commit::default() })
            }),
        ),
        (
            "R59",
            Box::new(|| {
                let events = vec![booked_event(); allot_core::limits::EVENTS_PER_COMMIT_MAX + 1];
                commit(Commit {
                    writes: vec![StreamWrite { stream: main_stream(), expected: 0, events }],
                    ..Commit::default()
                })
            }),
        ),
        ("R60", Box::new(|| code(key::decode::<u32>(&[0, 0, 1])))),
        ("R61", Box::new(|| code(key::decode::<String>(b"abc")))),
        ("R62", Box::new(|| code(key::decode::<String>(&[b'a', 0x00, 0x02, 0x00, 0x01])))),
        ("R63", Box::new(|| code(key::decode::<String>(&[0xff, 0xfe, 0x00, 0x01])))),
        ("R64", Box::new(|| code(key::decode::<f64>(&(!(-0.0f64).to_bits()).to_be_bytes())))),
        ("R65", Box::new(|| code(key::decode::<bool>(&[2])))),
        ("R66", Box::new(|| code(key::decode::<u32>(&[0, 0, 0, 1, 0])))),
        ("R67", Box::new(|| code(Event::decode(&[])))),
        (
            "R68",
            Box::new(|| {
                let mut e = booked_event().encode();
                e[0] = 2;
                code(Event::decode(&e))
            }),
        ),
        (
            "R69",
            Box::new(|| {
                let mut e = booked_event().encode();
                e[1] = 200;
                code(Event::decode(&e))
            }),
        ),
        (
            "R70",
            Box::new(|| {
                let mut e = booked_event().encode();
                e.push(0);
                code(Event::decode(&e))
            }),
        ),
        (
            "R71",
            Box::new(|| {
                // at (8) + actor "a" (3) + key "k" (3) after version and tag.
                let mut e = booked_event().encode();
                let qty_at = 2 + 8 + 3 + 3;
                e[qty_at..qty_at + 4].copy_from_slice(&0u32.to_be_bytes());
                code(Event::decode(&e))
            }),
        ),
        (
            "R72",
            Box::new(|| {
                let store = fixture();
                let row = pollster::block_on(Allot::new(&store).unit(&u("t1"))).unwrap();
                let bytes = row.encode();
                code(UnitRow::decode(&bytes[..bytes.len() - 1]))
            }),
        ),
        (
            "R73",
            Box::new(|| {
                let mut k = main_stream().encode();
                let tag_at = k.len() - 1;
                k[tag_at] = 9;
                code(StreamId::decode(&k))
            }),
        ),
        (
            "R74",
            Box::new(|| {
                let store = fixture();
                code(pollster::block_on(allot_core::verify(&store, TIME_MAX + 1, &[], &VerifyOptions::default())))
            }),
        ),
    ]
}

#[test]
fn every_row_of_the_bad_input_table_gives_its_code() {
    let rows = table();
    assert!(rows.len() >= 70, "the table has {} rows", rows.len());
    let cases = cases();
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (id, case) in &cases {
        assert!(seen.insert(*id), "case {id} twice");
        let Some(want) = rows.get(*id) else {
            failures.push(format!("{id}: a case with no row in docs/bad-input.md"));
            continue;
        };
        let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(case)).unwrap_or_else(|_| "PANIC".into());
        if got != *want {
            failures.push(format!("{id}: want {want}, got {got}"));
        }
    }
    for id in rows.keys() {
        if !seen.contains(id.as_str()) {
            failures.push(format!("{id}: a row with no test case"));
        }
    }
    assert!(failures.is_empty(), "bad-input table mismatches:\n{}", failures.join("\n"));
}

/// `define_units` names the first id repeated in input order (not the
/// smallest repeated id), and a bad kind before that repeat is reported
/// first: its checks run spec by spec.
#[test]
fn define_units_reports_the_first_repeat_in_input_order() {
    let spec = |id: &str| UnitSpec::new(id, UnitKind::Exclusive, vec![]).unwrap();
    let define = |specs: &[UnitSpec]| pollster::block_on(Allot::new(&MemStore::new()).define_units(specs, NOW));
    match define(&[spec("b"), spec("a"), spec("b"), spec("a")]) {
        Err(CatalogError::Input(InputError::Duplicate { what: "unit", name })) => assert_eq!(name, "b"),
        other => panic!("want the duplicate b, got {other:?}"),
    }
    let bad = UnitSpec {
        id: UnitId::new("c").unwrap(),
        kind: UnitKind::Pool { capacity: 0 },
        attrs: allot_core::model::Attrs::default(),
    };
    assert_eq!(code(define(&[spec("a"), bad.clone(), spec("a")])), "E_CAPACITY_ZERO");
    assert_eq!(code(define(&[spec("a"), spec("a"), bad])), "E_DUPLICATE");
}

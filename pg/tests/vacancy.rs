//! The vacancy epoch on PostgreSQL: what lets a client that found a range
//! sold out answer the same ask again with one read instead of a walk
//! (`Store::vacancy_epoch`; the contract itself is a conformance case).

mod common;

use allot_core::{
    ActReq, Actor, Allot, BookAnyReq, BookingId, IndexDef, IndexQuery, KeyType, KeyValue, Outcome, Pick, Span, Store,
    UnitKind, UnitSpec,
};
use allot_pg::{PgOptions, PgStore};
use common::*;

const NOW: u64 = 1_797_984_000_000;
const STAY: Span = Span::Interval { start: 20_811, end: 20_814 };

fn hotel(store: &PgStore, rooms: usize) {
    let mut a = Allot::new(store);
    pollster::block_on(a.define_index(&IndexDef::single("price", "price", KeyType::U32).unwrap(), NOW)).unwrap();
    let specs: Vec<UnitSpec> = (0..rooms)
        .map(|r| {
            UnitSpec::new(&format!("room-{r}"), UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(100))])
                .unwrap()
        })
        .collect();
    pollster::block_on(a.define_units(&specs, NOW)).unwrap();
}

fn ask(actor: &str) -> BookAnyReq {
    BookAnyReq {
        booking: BookingId::new(actor, "stay").unwrap(),
        query: IndexQuery::closed("price", KeyValue::U32(0), KeyValue::U32(1000)),
        span: STAY,
        qty: 1,
        hold: None,
        pick: Pick::First,
    }
}

/// A hotel sold out by one client is answered sold out by another with one
/// walk, then from memory, until a cancel gives a room back, which the next
/// ask takes: through the single auto-assign and the batch alike.
#[test]
fn a_sold_out_answer_is_remembered_until_a_cancel() {
    for batch in [false, true] {
        let store = fresh("vacancy_memo", PgOptions::default());
        hotel(&store, 3);
        let mut others = Allot::new(&store);
        for i in 0..3 {
            assert!(is_booked(&pollster::block_on(others.book_any(&ask(&format!("o{i}")), NOW)).unwrap()));
        }
        let mut client = Allot::new(&store);
        let book = |client: &mut Allot<&PgStore>, actor: &str| {
            if batch {
                pollster::block_on(client.book_any_many(&[ask(actor)], NOW)).pop().unwrap().unwrap()
            } else {
                pollster::block_on(client.book_any(&ask(actor), NOW)).unwrap()
            }
        };
        assert_eq!(book(&mut client, "late-1"), Outcome::SoldOut);
        let walked = client.stats();
        assert_eq!(book(&mut client, "late-2"), Outcome::SoldOut);
        let known = client.stats();
        assert_eq!(known.sold_out_known, walked.sold_out_known + 1, "answered from the first walk");
        assert_eq!(known.read_queries, walked.read_queries, "with no index window read");

        let cancel = ActReq { by: Actor::new("o1").unwrap(), booking: BookingId::new("o1", "stay").unwrap() };
        pollster::block_on(others.cancel(&cancel, NOW)).unwrap();
        assert!(is_booked(&book(&mut client, "late-3")), "the cancelled room is found (batch: {batch})");
        pollster::block_on(store.drop_schema()).unwrap();
    }
}

/// Events written before schema version 2 have no time: while one is left,
/// the latest event time cannot be bounded and the store reports no epoch
/// (every sold-out answer walks, as before).
#[test]
fn an_event_without_a_time_turns_the_epoch_off() {
    let store = fresh("vacancy_untimed", PgOptions::default());
    hotel(&store, 1);
    assert!(pollster::block_on(store.vacancy_epoch()).unwrap().is_some());
    sql(store.schema(), "UPDATE events SET at = NULL WHERE seq = 1");
    assert_eq!(pollster::block_on(store.vacancy_epoch()).unwrap(), None);
    pollster::block_on(store.drop_schema()).unwrap();
}

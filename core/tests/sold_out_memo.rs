//! A client remembers a range it found sold out under the store's vacancy
//! epoch, and answers the same ask again with no walk while the epoch stays
//! where it was. The epoch must be read before anything the walk decides
//! from, the change feed included: read after it, a cancel landing in
//! between is counted in the epoch but missing from the walk, and the next
//! request is told sold out for the unit the cancel freed (found by
//! `allot-sim --seed 9067202`).

use std::cell::RefCell;
use std::sync::Arc;

use allot_core::store::*;
use allot_core::*;

mod common;

const NOW: u64 = 1_000;

type Hook = Box<dyn FnOnce(&MemStore)>;

/// The in-memory store with its feed, and a hook run right after the next
/// feed read, as another client's commit can land.
struct AfterFeed {
    inner: MemStore,
    hook: RefCell<Option<Hook>>,
}

impl Store for &AfterFeed {
    async fn changes(&self, after: FeedPos, limit: u32) -> Result<Option<Changes>, StoreError> {
        let out = self.inner.changes(after, limit).await;
        if let Some(hook) = self.hook.borrow_mut().take() {
            hook(&self.inner);
        }
        out
    }
    async fn vacancy_epoch(&self) -> Result<Option<VacancyEpoch>, StoreError> {
        self.inner.vacancy_epoch().await
    }
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        self.inner.read_streams(reqs).await
    }
    common::forward_store!();
}

fn ask(key: &str) -> BookAnyReq {
    BookAnyReq {
        booking: BookingId::new("guest", key).unwrap(),
        query: IndexQuery::all("price"),
        span: Span::Whole,
        qty: 1,
        hold: None,
        pick: Pick::First,
    }
}

#[test]
fn a_cancel_during_a_sold_out_walk_is_not_remembered_as_sold_out() {
    let store = AfterFeed { inner: MemStore::with_feed(), hook: RefCell::new(None) };
    let mut admin = Allot::new(&store.inner);
    pollster::block_on(admin.define_index(&IndexDef::single("price", "price", key::KeyType::U32).unwrap(), NOW))
        .unwrap();
    let room =
        UnitSpec::new("room", UnitKind::Pool { capacity: 1 }, vec![("price".into(), KeyValue::U32(10))]).unwrap();
    pollster::block_on(admin.define_units(&[room], NOW)).unwrap();
    let first = pollster::block_on(admin.book_any(&ask("first"), NOW)).unwrap();
    assert!(matches!(first, Outcome::Booked { .. }), "{first:?}");

    // A new client (or one that lost its cache): its first request reads
    // the feed from the origin, then walks on what it read.
    let mut client = Allot::new(&store);
    // The one room is cancelled right after the client's first feed read.
    *store.hook.borrow_mut() = Some(Box::new(|inner: &MemStore| {
        let cancel = ActReq { by: Actor::new("guest").unwrap(), booking: BookingId::new("guest", "first").unwrap() };
        let out = pollster::block_on(Allot::new(inner).cancel(&cancel, NOW + 1)).unwrap();
        assert!(matches!(out, Outcome::Cancelled { already: false, .. }), "{out:?}");
    }));
    // Walked on the feed read before the cancel: sold out, which it was.
    assert_eq!(pollster::block_on(client.book_any(&ask("second"), NOW + 2)).unwrap(), Outcome::SoldOut);
    assert!(store.hook.borrow().is_none(), "the cancel landed during that request");
    // The room is free now, and the next request is not told otherwise.
    let third = pollster::block_on(client.book_any(&ask("third"), NOW + 3)).unwrap();
    assert!(matches!(&third, Outcome::Booked { unit, .. } if unit.as_str() == "room"), "{third:?}");
    assert_eq!(client.stats().sold_out_known, 0);
}

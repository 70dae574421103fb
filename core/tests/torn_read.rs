//! A confirm, cancel or release of a booking over several days reads the
//! booking's day streams, and a read need not be a snapshot across streams:
//! the in-memory store locks one stream at a time, and a client with a
//! change feed takes some streams from its catch-up and reads the rest. So a
//! commit landing mid-read can show the booking cancelled on one day and
//! live on the next. The client reads again instead of calling the store
//! corrupt (found by `allot-sim --seed 9101370`); a store that really holds
//! such days is still reported corrupt.

use std::cell::RefCell;
use std::sync::Arc;

use allot_core::store::*;
use allot_core::*;

mod common;

const NOW: u64 = 1_000;
const STAY: Span = Span::Days { from: 1, to: 3 };

/// What runs in the middle of a read.
type Hook = Box<dyn FnOnce(&MemStore)>;

/// The in-memory store, with a hook run in the middle of the next
/// `read_streams` of two streams or more: after the first stream is read,
/// before the others are, as another client's commit can land.
struct Racy {
    inner: MemStore,
    mid_read: RefCell<Option<Hook>>,
}

impl Store for &Racy {
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        let hook = if reqs.len() > 1 { self.mid_read.borrow_mut().take() } else { None };
        let Some(hook) = hook else { return self.inner.read_streams(reqs).await };
        let mut out = self.inner.read_streams(&reqs[..1]).await?;
        hook(&self.inner);
        out.extend(self.inner.read_streams(&reqs[1..]).await?);
        Ok(out)
    }
    common::forward_store!();
}

fn unit() -> UnitId {
    UnitId::new("rooms").unwrap()
}

fn booking() -> BookingId {
    BookingId::new("guest", "stay").unwrap()
}

fn act() -> ActReq {
    ActReq { by: Actor::new("guest").unwrap(), booking: booking() }
}

/// A store with one allotment and the guest's two-day booking on it.
fn booked() -> Racy {
    let store = MemStore::new();
    let mut admin = Allot::new(&store);
    let spec = UnitSpec::new("rooms", UnitKind::Allotment { capacity: 2 }, vec![]).unwrap();
    pollster::block_on(admin.define_units(&[spec], NOW)).unwrap();
    let req = BookReq { booking: booking(), unit: unit(), span: STAY, qty: 1, hold: None };
    let out = pollster::block_on(admin.book(&req, NOW)).unwrap();
    assert!(matches!(out, Outcome::Booked { .. }), "{out:?}");
    Racy { inner: store, mid_read: RefCell::new(None) }
}

#[test]
fn a_cancel_landing_between_two_days_read_is_read_again() {
    let store = booked();
    // Another client of the guest's cancels while this one reads: the
    // first day is read before the cancel, the second after it.
    *store.mid_read.borrow_mut() = Some(Box::new(|inner: &MemStore| {
        let out = pollster::block_on(Allot::new(inner).cancel(&act(), NOW + 1)).unwrap();
        assert_eq!(out, Outcome::Cancelled { booking: booking(), already: false });
    }));
    let mut client = Allot::new(&store);
    let out = pollster::block_on(client.cancel(&act(), NOW + 2)).unwrap();
    assert!(store.mid_read.borrow().is_none(), "the hook ran: the first read was torn");
    assert_eq!(out, Outcome::Cancelled { booking: booking(), already: true });
    // The release sees the same: nothing held any more.
    let out = pollster::block_on(client.release(&act(), NOW + 3)).unwrap();
    assert_eq!(out, Outcome::Released { booking: booking(), already: true });
}

#[test]
fn days_that_disagree_in_the_store_are_still_corrupt() {
    let store = booked();
    // Written past the rules: the booking cancelled on its first day only.
    let day = StreamId::new(&unit(), Part::Day(1));
    let cancelled = Event::Cancelled { booking: booking(), at: NOW + 1 };
    let bad =
        Commit { writes: vec![StreamWrite { stream: day, expected: 1, events: vec![cancelled] }], ..Commit::default() };
    assert_eq!(pollster::block_on(store.inner.commit(&bad)).unwrap(), CommitOutcome::Committed);
    let err = pollster::block_on(Allot::new(&store).cancel(&act(), NOW + 2)).unwrap_err();
    assert_eq!(err.code(), "E_RECORD_MALFORMED", "{err}");
}

/// A count read from a torn view matches no state: two days of an
/// allotment of 3, a confirmed booking of 2 on the first, an old hold of 1
/// on both, and another client's new hold of 1 on both landing between
/// the two days' reads, stamped after the old hold expires. Before it: the
/// first day is full (2 + old hold). After it: the old hold has expired at
/// the new one's time, and the first day is full again (2 + new hold). The
/// torn view (first day before, second day after, at the new hold's time)
/// has one place left on the first day.
#[test]
fn a_full_answer_counts_from_one_state_not_a_torn_view() {
    let store = MemStore::new();
    let mut admin = Allot::new(&store);
    let spec = UnitSpec::new("rooms", UnitKind::Allotment { capacity: 3 }, vec![]).unwrap();
    pollster::block_on(admin.define_units(&[spec], NOW)).unwrap();
    let ask = |who: &str, span: Span, qty: u32, hold: Option<HoldReq>| BookReq {
        booking: BookingId::new(who, "stay").unwrap(),
        unit: unit(),
        span,
        qty,
        hold,
    };
    let hold = |ttl_ms: u64| Some(HoldReq { ttl_ms, ext_ref: None });
    let first_day = Span::Days { from: 1, to: 2 };
    for (req, now) in [(ask("confirmed", first_day, 2, None), NOW), (ask("old", STAY, 1, hold(1_000)), NOW)] {
        let out = pollster::block_on(admin.book(&req, now)).unwrap();
        assert!(matches!(out, Outcome::Booked { .. } | Outcome::Held { .. }), "{out:?}");
    }
    let store = Racy { inner: store, mid_read: RefCell::new(None) };
    *store.mid_read.borrow_mut() = Some(Box::new(move |inner: &MemStore| {
        let out = pollster::block_on(Allot::new(inner).book(&ask("new", STAY, 1, hold(60_000)), NOW + 5_000)).unwrap();
        assert!(matches!(out, Outcome::Held { .. }), "{out:?}");
    }));
    let mut client = Allot::new(&store);
    let out = pollster::block_on(client.book(&ask("late", STAY, 2, None), NOW + 2)).unwrap();
    assert!(store.mid_read.borrow().is_none(), "the hook ran: the first read was torn");
    assert_eq!(out, Outcome::Full { unit: unit(), available: 0 });
}

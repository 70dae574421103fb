//! A store whose window answer does not pair each index entry with its own
//! unit's row (a row missing, or rows in another order) gets a corrupt-store
//! error from an auto-assign, one at a time and in a batch, and nothing is
//! booked: a walk that paired an entry with another unit's row would book a
//! unit the query never asked for.

use std::sync::Arc;

use allot_core::store::*;
use allot_core::*;

mod common;

const NOW: u64 = 1_000;
const STAY: Span = Span::Interval { start: 100, end: 110 };

#[derive(Clone, Copy)]
enum Lie {
    /// The rows in reverse order.
    Reversed,
    /// One row fewer than entries.
    Short,
}

/// The in-memory store, with every window answer bent by `lie`.
struct Bent {
    inner: MemStore,
    lie: Lie,
}

impl Bent {
    fn bend(&self, mut w: Window) -> Window {
        match self.lie {
            Lie::Reversed => w.rows.reverse(),
            Lie::Short => {
                w.rows.pop();
            }
        }
        w
    }
}

impl Store for Bent {
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        self.inner.read_streams(reqs).await
    }
    async fn read_window(&self, range: &KeyRange, reads: &WindowReads<'_>) -> Result<Window, StoreError> {
        Ok(self.bend(self.inner.read_window(range, reads).await?))
    }
    async fn read_untouched_window(
        &self,
        range: &KeyRange,
        reads: &WindowReads<'_>,
    ) -> Result<Option<Window>, StoreError> {
        Ok(self.inner.read_untouched_window(range, reads).await?.map(|w| self.bend(w)))
    }
    common::forward_store!();
}

/// A store of 8 rooms priced 0..8, bent by `lie`.
fn bent_store(lie: Lie) -> Bent {
    let inner = MemStore::new();
    let mut admin = Allot::new(&inner);
    let def = IndexDef::single("price", "price", KeyType::U32).unwrap();
    pollster::block_on(admin.define_index(&def, NOW)).unwrap();
    let rooms: Vec<UnitSpec> = (0..8u32)
        .map(|i| UnitSpec::new(&format!("room-{i}"), UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(i))]))
        .collect::<Result<_, _>>()
        .unwrap();
    pollster::block_on(admin.define_units(&rooms, NOW)).unwrap();
    Bent { inner, lie }
}

/// Rooms priced 0 and 1 only (a window of two entries, so that reversed
/// rows pair each entry with the other's unit).
fn cheap(n: &str) -> BookAnyReq {
    BookAnyReq {
        booking: BookingId::new("ann", n).unwrap(),
        query: IndexQuery::half_open("price", KeyValue::U32(0), KeyValue::U32(2)),
        span: STAY,
        qty: 1,
        hold: None,
        pick: Pick::First,
    }
}

fn assert_corrupt(out: &Result<Outcome, BookError>) {
    assert!(matches!(out, Err(BookError::Store(StoreError::Corrupt(_)))), "{out:?}");
}

fn nothing_booked(store: &Bent) {
    let claims = pollster::block_on(store.inner.scan_claims(&KeyRange::all(1000))).unwrap();
    assert!(claims.is_empty(), "booked from a bent window: {claims:?}");
}

#[test]
fn one_book_any_refuses_a_window_whose_rows_do_not_match_its_entries() {
    for lie in [Lie::Reversed, Lie::Short] {
        let store = bent_store(lie);
        let mut c = Allot::new(&store);
        assert_corrupt(&pollster::block_on(c.book_any(&cheap("a"), NOW)));
        nothing_booked(&store);
    }
}

#[test]
fn a_batch_refuses_a_window_whose_rows_do_not_match_its_entries() {
    for lie in [Lie::Reversed, Lie::Short] {
        let store = bent_store(lie);
        let mut c = Allot::new(&store);
        let out = pollster::block_on(c.book_any_many(&[cheap("a"), cheap("b")], NOW));
        assert_eq!(out.len(), 2);
        out.iter().for_each(assert_corrupt);
        nothing_booked(&store);
    }
}

//! Verify with a writer still running: a booking committed between verify's
//! read of the claims and its read of the streams is counted, not reported
//! as a booking without a claim; a booking that truly has no claim still is.

use std::cell::Cell;
use std::sync::Arc;

use allot_core::store::*;
use allot_core::*;

const NOW: u64 = 1_000;

#[derive(Clone, Copy, PartialEq)]
enum Midway {
    Nothing,
    /// Book through `Allot`: events and claim in one commit.
    Book,
    /// Append a booking event with no claim (what a broken store would keep).
    AppendWithoutClaim,
}

/// A MemStore that, once verify has read the claims (at its first
/// `scan_units`), lets another writer commit.
struct Racing {
    inner: MemStore,
    midway: Cell<Midway>,
}

fn tour() -> UnitSpec {
    UnitSpec::new("tour", UnitKind::Pool { capacity: 3 }, vec![]).unwrap()
}

fn seat(who: &str) -> BookReq {
    BookReq {
        booking: BookingId::new(who, "k").unwrap(),
        unit: UnitId::new("tour").unwrap(),
        span: Span::Whole,
        qty: 1,
        hold: None,
    }
}

impl Racing {
    async fn write_midway(&self) {
        match self.midway.replace(Midway::Nothing) {
            Midway::Nothing => {}
            Midway::Book => {
                let o = Allot::new(&self.inner).book(&seat("late"), NOW).await.unwrap();
                assert!(matches!(o, Outcome::Booked { .. }), "{o:?}");
            }
            Midway::AppendWithoutClaim => {
                // The event a real booking of "late" writes, taken from a
                // second store, appended here without its claim.
                let donor = MemStore::new();
                let mut a = Allot::new(&donor);
                a.define_units(&[tour()], NOW).await.unwrap();
                a.book(&seat("late"), NOW).await.unwrap();
                let stream = StreamId::new(&UnitId::new("tour").unwrap(), Part::Main);
                let event = donor.read_streams(&[ReadReq { stream: stream.clone(), after: 0 }]).await.unwrap()[0]
                    .events
                    .last()
                    .cloned()
                    .unwrap();
                let head =
                    self.inner.read_streams(&[ReadReq { stream: stream.clone(), after: 0 }]).await.unwrap()[0].head;
                let c = Commit {
                    writes: vec![StreamWrite { stream, expected: head, events: vec![event] }],
                    ..Commit::default()
                };
                assert_eq!(self.inner.commit(&c).await.unwrap(), CommitOutcome::Committed);
            }
        }
    }
}

impl Store for Racing {
    async fn read_streams(&self, r: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        self.inner.read_streams(r).await
    }
    async fn commit(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        self.inner.commit(c).await
    }
    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        self.inner.get_claims(ids).await
    }
    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        self.inner.get_units(ids).await
    }
    async fn scan_index(&self, r: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        self.inner.scan_index(r).await
    }
    async fn scan_units(&self, r: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        self.write_midway().await;
        self.inner.scan_units(r).await
    }
    async fn scan_streams(&self, r: &KeyRange) -> Result<Vec<(StreamId, u64)>, StoreError> {
        self.inner.scan_streams(r).await
    }
    async fn scan_claims(&self, r: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        self.inner.scan_claims(r).await
    }
}

fn run(midway: Midway) -> VerifyReport {
    pollster::block_on(async {
        let store = Racing { inner: MemStore::new(), midway: Cell::new(Midway::Nothing) };
        let mut a = Allot::new(&store.inner);
        a.define_units(&[tour()], NOW).await.unwrap();
        let early = match a.book(&seat("early"), NOW).await.unwrap() {
            Outcome::Booked { booking, .. } => booking,
            o => panic!("{o:?}"),
        };
        store.midway.set(midway);
        let acked = [early, BookingId::new("late", "k").unwrap()];
        let acked = if midway == Midway::Book { &acked[..] } else { &acked[..1] };
        verify(&store, NOW, acked, &VerifyOptions::default()).await.unwrap()
    })
}

#[test]
fn a_booking_committed_during_verify_is_counted_not_reported() {
    let quiet = run(Midway::Nothing);
    assert!(quiet.violations.is_empty(), "{:?}", quiet.violations);
    assert_eq!(quiet.live_bookings, 1);
    let r = run(Midway::Book);
    assert!(r.violations.is_empty(), "{:?}", r.violations);
    assert_eq!(r.live_bookings, 2);
}

#[test]
fn a_booking_without_a_claim_is_still_reported() {
    let r = run(Midway::AppendWithoutClaim);
    assert!(r.violations.iter().any(|v| matches!(v, Violation::BookingWithoutClaim { .. })), "{:?}", r.violations);
}

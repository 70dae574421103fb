//! Commits whose acknowledgement is lost (`E_OUTCOME_UNKNOWN`): the loop and
//! the catalog operations must retry without doing anything twice, and must
//! never report "nothing written" for a commit that may have landed.

use std::cell::Cell;
use std::sync::Arc;

use allot_core::store::*;
use allot_core::*;

const NOW: u64 = 1_000;

/// A MemStore whose next `commits` commits land but report an unknown
/// outcome, and whose next `claim_failures` claim reads fail.
#[derive(Default)]
struct Lossy {
    inner: MemStore,
    lose_acks: Cell<u32>,
    claim_failures: Cell<u32>,
}

impl Store for Lossy {
    async fn read_streams(&self, r: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        self.inner.read_streams(r).await
    }
    async fn commit(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        let o = self.inner.commit(c).await?;
        if o == CommitOutcome::Committed && self.lose_acks.get() > 0 {
            self.lose_acks.set(self.lose_acks.get() - 1);
            return Err(StoreError::OutcomeUnknown("connection lost after COMMIT was sent".into()));
        }
        Ok(o)
    }
    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        if self.claim_failures.get() > 0 {
            self.claim_failures.set(self.claim_failures.get() - 1);
            return Err(StoreError::Unavailable("no connection".into()));
        }
        self.inner.get_claims(ids).await
    }
    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        self.inner.get_units(ids).await
    }
    async fn scan_index(&self, r: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        self.inner.scan_index(r).await
    }
    async fn scan_units(&self, r: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        self.inner.scan_units(r).await
    }
    async fn scan_streams(&self, r: &KeyRange) -> Result<Vec<(StreamId, u64)>, StoreError> {
        self.inner.scan_streams(r).await
    }
    async fn scan_claims(&self, r: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        self.inner.scan_claims(r).await
    }
}

fn tour() -> UnitSpec {
    UnitSpec::new("tour", UnitKind::Pool { capacity: 3 }, vec![("zone".into(), KeyValue::Str("old town".into()))])
        .unwrap()
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

fn live(store: &Lossy) -> u64 {
    pollster::block_on(verify(&store.inner, NOW, &[], &VerifyOptions::default()))
        .map(|r| {
            assert!(r.is_ok(), "{:?}", r.violations);
            r.live_bookings
        })
        .unwrap()
}

#[test]
fn a_lost_acknowledgement_is_retried_without_booking_twice() {
    let store = Lossy::default();
    let mut a = Allot::new(&store);
    pollster::block_on(a.define_units(&[tour()], NOW)).unwrap();
    store.lose_acks.set(1);
    let o = pollster::block_on(a.book(&seat("ann"), NOW)).unwrap();
    assert!(matches!(o, Outcome::Booked { replayed: true, .. }), "the retry finds the first attempt: {o:?}");
    assert_eq!(live(&store), 1);
}

/// Fails every claim read once a commit was sent: the read that would tell
/// whether a lost commit landed.
struct BlindAfterCommit<'a>(&'a Lossy, Cell<bool>);

impl Store for BlindAfterCommit<'_> {
    async fn read_streams(&self, r: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        self.0.read_streams(r).await
    }
    async fn commit(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        self.1.set(true);
        self.0.commit(c).await
    }
    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        if self.1.get() {
            return Err(StoreError::Unavailable("no connection".into()));
        }
        self.0.get_claims(ids).await
    }
    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        self.0.get_units(ids).await
    }
    async fn scan_index(&self, r: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        self.0.scan_index(r).await
    }
    async fn scan_units(&self, r: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        self.0.scan_units(r).await
    }
    async fn scan_streams(&self, r: &KeyRange) -> Result<Vec<(StreamId, u64)>, StoreError> {
        self.0.scan_streams(r).await
    }
    async fn scan_claims(&self, r: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        self.0.scan_claims(r).await
    }
}

#[test]
fn when_even_the_check_fails_the_outcome_stays_unknown() {
    let store = Lossy::default();
    pollster::block_on(Allot::new(&store).define_units(&[tour()], NOW)).unwrap();
    // The commit lands but its ack is lost, and the claim read that would
    // tell fails: the caller must hear "unknown", never "not written".
    store.lose_acks.set(1);
    let blind = BlindAfterCommit(&store, Cell::new(false));
    let err = pollster::block_on(Allot::new(&blind).book(&seat("bob"), NOW)).unwrap_err();
    assert_eq!(err.code(), "E_OUTCOME_UNKNOWN", "{err}");
    // It did land: the store holds exactly that one booking, and a retry
    // through a working connection answers from its claim.
    assert_eq!(live(&store), 1);
    let o = pollster::block_on(Allot::new(&store).book(&seat("bob"), NOW)).unwrap();
    assert!(matches!(o, Outcome::Booked { replayed: true, .. }), "{o:?}");
}

#[test]
fn catalog_changes_retry_a_lost_acknowledgement() {
    let store = Lossy::default();
    let mut a = Allot::new(&store);
    // define: the first attempt lands, its ack is lost; the retry must not
    // call the unit "existing".
    store.lose_acks.set(1);
    assert_eq!(pollster::block_on(a.define_units(&[tour()], NOW)), Ok(1));
    // The same definition again is a no-op; a different one still exists.
    assert_eq!(pollster::block_on(a.define_units(&[tour()], NOW)), Ok(1));
    let other = UnitSpec::new("tour", UnitKind::Pool { capacity: 9 }, vec![]).unwrap();
    assert_eq!(pollster::block_on(a.define_units(&[other], NOW)).map_err(|e| e.code()), Err("E_UNIT_EXISTS"));
    // replace: lost ack, then the retry finds it done.
    let moved =
        UnitSpec::new("tour", UnitKind::Pool { capacity: 3 }, vec![("zone".into(), KeyValue::Str("harbour".into()))])
            .unwrap();
    store.lose_acks.set(1);
    assert_eq!(pollster::block_on(a.replace_unit(&moved, NOW)), Ok(()));
    assert_eq!(pollster::block_on(a.unit(&UnitId::new("tour").unwrap())).unwrap().version, 2, "replaced once");
    // index: lost ack, then the retry finds it defined.
    store.lose_acks.set(1);
    let def = IndexDef::single("zone", "zone", KeyType::Str).unwrap();
    assert_eq!(pollster::block_on(a.define_index(&def, NOW)), Ok(()));
    assert_eq!(pollster::block_on(a.indexes()).unwrap().len(), 1);
    // retire: lost ack, then the retry reports it retired (not E_UNIT_RETIRED).
    pollster::block_on(a.book(&seat("ann"), NOW)).unwrap();
    store.lose_acks.set(1);
    let report = pollster::block_on(a.retire_unit(&UnitId::new("tour").unwrap(), NOW)).unwrap();
    assert_eq!(report.live_bookings, 1);
    // A second, deliberate retirement is an error again.
    let again = pollster::block_on(a.retire_unit(&UnitId::new("tour").unwrap(), NOW));
    assert_eq!(again.map_err(|e| e.code()).err(), Some("E_UNIT_RETIRED"));
    assert_eq!(live(&store), 1);
}

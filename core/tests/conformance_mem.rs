//! The store conformance suite against the in-memory store.

use allot_core::conformance::{self, StoreFactory};
use allot_core::{MemStore, StoreError};

struct Fresh;

impl StoreFactory for Fresh {
    type Store = MemStore;
    async fn fresh(&mut self, _case: &'static str) -> Result<MemStore, StoreError> {
        Ok(MemStore::new())
    }
}

#[test]
fn mem_store_conforms() {
    let report = pollster::block_on(conformance::run(&mut Fresh));
    println!("passed: {:?}", report.passed);
    report.assert_ok();
    assert!(report.passed.len() >= 18, "cases run: {}", report.passed.len());
}

/// A store that breaks the contract: it appends whatever the seq. The suite
/// must catch it, or it proves nothing.
struct Blind(MemStore);

impl allot_core::Store for Blind {
    async fn read_streams(
        &self,
        r: &[allot_core::store::ReadReq],
    ) -> Result<Vec<allot_core::store::StreamSlice>, StoreError> {
        self.0.read_streams(r).await
    }
    async fn commit(&self, c: &allot_core::Commit) -> Result<allot_core::CommitOutcome, StoreError> {
        let mut c = c.clone();
        for w in &mut c.writes {
            let head =
                self.0.read_streams(&[allot_core::store::ReadReq { stream: w.stream.clone(), after: 0 }]).await?;
            w.expected = head[0].head;
        }
        self.0.commit(&c).await
    }
    async fn get_claims(
        &self,
        ids: &[allot_core::BookingId],
    ) -> Result<Vec<Option<allot_core::ClaimRecord>>, StoreError> {
        self.0.get_claims(ids).await
    }
    async fn get_units(
        &self,
        ids: &[allot_core::UnitId],
    ) -> Result<Vec<Option<std::sync::Arc<allot_core::UnitRow>>>, StoreError> {
        self.0.get_units(ids).await
    }
    async fn scan_index(
        &self,
        r: &allot_core::store::KeyRange,
    ) -> Result<Vec<allot_core::store::IndexEntry>, StoreError> {
        self.0.scan_index(r).await
    }
    async fn scan_units(
        &self,
        r: &allot_core::store::KeyRange,
    ) -> Result<Vec<std::sync::Arc<allot_core::UnitRow>>, StoreError> {
        self.0.scan_units(r).await
    }
    async fn scan_streams(
        &self,
        r: &allot_core::store::KeyRange,
    ) -> Result<Vec<(allot_core::StreamId, u64)>, StoreError> {
        self.0.scan_streams(r).await
    }
    async fn scan_claims(
        &self,
        r: &allot_core::store::KeyRange,
    ) -> Result<Vec<(allot_core::BookingId, allot_core::ClaimRecord)>, StoreError> {
        self.0.scan_claims(r).await
    }
}

struct FreshBlind;

impl StoreFactory for FreshBlind {
    type Store = Blind;
    async fn fresh(&mut self, _case: &'static str) -> Result<Blind, StoreError> {
        Ok(Blind(MemStore::new()))
    }
}

#[test]
fn a_store_that_skips_the_seq_check_fails_conformance() {
    let report = pollster::block_on(conformance::run(&mut FreshBlind));
    let failed: Vec<&str> = report.failed.iter().map(|(n, _)| *n).collect();
    for case in ["stale_expected_conflicts", "multi_stream_all_or_nothing", "last_seat_race"] {
        assert!(failed.contains(&case), "{case} must fail on a blind store; failed: {failed:?}");
    }
}

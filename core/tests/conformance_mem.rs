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

const FEED_CASES: [&str; 4] = [
    "feed_reports_appends_in_commit_order",
    "feed_pages_and_end",
    "commit_group_and_changes_agree",
    "decide_group_on_a_followed_feed_checks_too",
];

#[test]
fn mem_store_conforms() {
    let report = pollster::block_on(conformance::run(&mut Fresh));
    println!("passed: {:?}", report.passed);
    report.assert_ok();
    assert!(report.passed.len() >= 19, "cases run: {}", report.passed.len());
    // No feed by default: its cases are skipped, not passed.
    assert_eq!(report.skipped, FEED_CASES.to_vec());
}

struct FreshWithFeed;

impl StoreFactory for FreshWithFeed {
    type Store = MemStore;
    async fn fresh(&mut self, _case: &'static str) -> Result<MemStore, StoreError> {
        Ok(MemStore::with_feed())
    }
}

#[test]
fn mem_store_with_a_feed_conforms() {
    let report = pollster::block_on(conformance::run(&mut FreshWithFeed));
    report.assert_ok();
    assert!(report.skipped.is_empty(), "skipped: {:?}", report.skipped);
    for case in FEED_CASES {
        assert!(report.passed.contains(&case), "{case} must run and pass");
    }
}

/// A feed that loses every other append: the suite must catch it.
struct Forgetful(MemStore);

impl allot_core::Store for Forgetful {
    async fn read_streams(
        &self,
        r: &[allot_core::store::ReadReq],
    ) -> Result<Vec<allot_core::store::StreamSlice>, StoreError> {
        self.0.read_streams(r).await
    }
    async fn commit(&self, c: &allot_core::Commit) -> Result<allot_core::CommitOutcome, StoreError> {
        self.0.commit(c).await
    }
    async fn changes(
        &self,
        after: allot_core::store::FeedPos,
        limit: u32,
    ) -> Result<Option<allot_core::store::Changes>, StoreError> {
        let mut c = self.0.changes(after, limit).await?;
        if let Some(c) = c.as_mut() {
            let mut keep = false;
            c.appends.retain(|_| {
                keep = !keep;
                keep
            });
        }
        Ok(c)
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

struct FreshForgetful;

impl StoreFactory for FreshForgetful {
    type Store = Forgetful;
    async fn fresh(&mut self, _case: &'static str) -> Result<Forgetful, StoreError> {
        Ok(Forgetful(MemStore::with_feed()))
    }
}

#[test]
fn a_feed_that_loses_appends_fails_conformance() {
    let report = pollster::block_on(conformance::run(&mut FreshForgetful));
    let failed: Vec<&str> = report.failed.iter().map(|(n, _)| *n).collect();
    // (The last feed case checks decisions on a followed feed, which a
    // store that forgets appends in its feed still checks right.)
    for case in &FEED_CASES[..3] {
        assert!(failed.contains(case), "{case} must fail on a forgetful feed; failed: {failed:?}");
    }
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

//! Helpers shared by core's integration tests (each test file is a crate of
//! its own and includes this module with `mod common;`).

use allot_core::{BookError, Outcome};

/// The units `out` booked, in order (everything else left out).
#[allow(dead_code)]
pub fn booked(out: &[Result<Outcome, BookError>]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Ok(Outcome::Booked { unit, .. }) => Some(unit.as_str().to_string()),
            _ => None,
        })
        .collect()
}

/// The `Store` methods a test wrapper does not change, forwarded to its
/// field `inner`: write the ones the test changes, then
/// `forward_store!();` for the rest.
#[allow(unused_macros)]
macro_rules! forward_store {
    () => {
        async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
            self.inner.commit(commit).await
        }
        async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
            self.inner.get_claims(ids).await
        }
        async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
            self.inner.get_units(ids).await
        }
        async fn scan_index(&self, range: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
            self.inner.scan_index(range).await
        }
        async fn scan_units(&self, range: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
            self.inner.scan_units(range).await
        }
        async fn scan_streams(&self, range: &KeyRange) -> Result<Vec<(StreamId, Seq)>, StoreError> {
            self.inner.scan_streams(range).await
        }
        async fn scan_claims(&self, range: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
            self.inner.scan_claims(range).await
        }
    };
}
#[allow(unused_imports)]
pub(crate) use forward_store;

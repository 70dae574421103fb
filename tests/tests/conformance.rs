//! The store conformance suite against `MemStore`, run from outside the core
//! crate (as every other store runs it).

use allot_core::conformance::{self, StoreFactory};
use allot_core::{MemStore, StoreError};

struct FreshMemStore;

impl StoreFactory for FreshMemStore {
    type Store = MemStore;
    async fn fresh(&mut self, _case: &'static str) -> Result<MemStore, StoreError> {
        Ok(MemStore::new())
    }
}

#[test]
fn mem_store_passes_the_conformance_suite() {
    let report = pollster::block_on(conformance::run(&mut FreshMemStore));
    report.assert_ok();
    assert!(report.passed.len() >= 18, "cases passed: {:?}", report.passed);
}

//! The store conformance suite against `MemStore`, run from outside the core
//! crate (as every other store runs it).

use allot_core::conformance::{self, StoreFactory};
use allot_core::{MemStore, StoreError};

/// Fresh stores, sized with a capacity hint or not.
struct FreshMemStore(Option<(usize, usize)>);

impl StoreFactory for FreshMemStore {
    type Store = MemStore;
    async fn fresh(&mut self, _case: &'static str) -> Result<MemStore, StoreError> {
        Ok(match self.0 {
            None => MemStore::new(),
            Some((units, claims)) => MemStore::with_capacity(units, claims),
        })
    }
}

#[test]
fn mem_store_passes_the_conformance_suite() {
    // A hint sizes tables, nothing else: below, at and far past what a case
    // holds (the largest is clamped, not reserved).
    for hint in [None, Some((1, 1)), Some((4096, 4096)), Some((usize::MAX, usize::MAX))] {
        let report = pollster::block_on(conformance::run(&mut FreshMemStore(hint)));
        report.assert_ok();
        assert!(report.passed.len() >= 18, "{hint:?}: cases passed: {:?}", report.passed);
    }
}

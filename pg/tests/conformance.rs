//! The core's store conformance suite against a real PostgreSQL server,
//! every case in a fresh, empty schema.

mod common;

use allot_core::StoreError;
use allot_core::conformance::{self, StoreFactory};
use allot_pg::{PgOptions, PgStore};

struct Factory {
    url: String,
    runtime: tokio::runtime::Runtime,
    made: Vec<PgStore>,
}

impl StoreFactory for Factory {
    type Store = PgStore;

    async fn fresh(&mut self, case: &'static str) -> Result<PgStore, StoreError> {
        let opts = PgOptions {
            schema: Some(common::unique_schema(&format!("conf_{case}"))),
            max_connections: 4,
            runtime: Some(self.runtime.handle().clone()),
            ..PgOptions::default()
        };
        let store = PgStore::connect(&self.url, opts).await?;
        self.made.push(store.clone());
        Ok(store)
    }
}

#[test]
fn store_conformance() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let mut factory = Factory { url: common::pg_url(), runtime, made: Vec::new() };
    let report = pollster::block_on(conformance::run(&mut factory));
    println!("passed ({}): {:?}", report.passed.len(), report.passed);
    for (case, why) in &report.failed {
        println!("FAILED {case}: {why}");
    }
    // Every case really had a schema of its own, at the current version.
    for s in &factory.made {
        assert_eq!(pollster::block_on(s.schema_version()).unwrap(), allot_pg::SCHEMA_VERSION);
    }
    report.assert_ok();
    assert!(
        report.passed.contains(&"vacancy_epoch_moves_when_room_may_come_back"),
        "the store keeps a vacancy epoch: {:?}",
        report.skipped
    );
    for s in factory.made.drain(..) {
        pollster::block_on(s.drop_schema()).unwrap();
    }
    factory.runtime.shutdown_background();
}

//! The demo's own small database (`allot-demo-meta`): the last run's
//! parameters and result line, so that a reloaded page can show them beside
//! a fresh recount of the allot database.

use allot_demo::META_DB_NAME;
use allot_demo::params::Params;
use allot_demo::proto::{from_js, to_js};
use indexed_db_futures::database::Database;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::TransactionMode;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

const RUNS: &str = "runs";
const LAST: &str = "last";

/// What is kept of the last finished run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Saved {
    pub params: Params,
    pub line: String,
    pub ok: bool,
    pub verdict: String,
    /// When it finished (ms since 1970, the browser's clock).
    pub at: f64,
}

async fn open() -> Result<Database, String> {
    Database::open(META_DB_NAME)
        .with_version(1u32)
        .with_on_upgrade_needed(|event, db| {
            if (event.old_version() as u32) < 1 {
                db.create_object_store(RUNS).build()?;
            }
            Ok(())
        })
        .await
        .map_err(|e| format!("opening {META_DB_NAME}: {e}"))
}

pub async fn save(s: &Saved) -> Result<(), String> {
    let db = open().await?;
    let err = |e: indexed_db_futures::error::Error| format!("saving the run: {e}");
    let result = async {
        let tx = db.transaction(RUNS).with_mode(TransactionMode::Readwrite).build().map_err(err)?;
        let store = tx.object_store(RUNS).map_err(err)?;
        store.put(to_js(s)).with_key(JsValue::from_str(LAST)).primitive().map_err(err)?;
        tx.commit().await.map_err(err)
    }
    .await;
    db.close();
    result
}

pub async fn load() -> Result<Option<Saved>, String> {
    let db = open().await?;
    let err = |e: indexed_db_futures::error::Error| format!("reading the last run: {e}");
    let result = async {
        let tx = db.transaction(RUNS).build().map_err(err)?;
        let store = tx.object_store(RUNS).map_err(err)?;
        let v: Option<JsValue> =
            store.get::<JsValue, _, _>(JsValue::from_str(LAST)).primitive().map_err(err)?.await.map_err(err)?;
        match v {
            None => Ok(None),
            Some(v) => from_js::<Saved>(v).map(Some),
        }
    }
    .await;
    db.close();
    result
}

/// Deletes a whole database (waits while open connections close: allot's
/// connections close themselves when asked to).
pub async fn delete_database(name: &str) -> Result<(), String> {
    Database::delete_by_name(name)
        .map_err(|e| format!("deleting {name}: {e}"))?
        .await
        .map_err(|e| format!("deleting {name}: {e}"))
}

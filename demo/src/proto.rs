//! Messages between the page and its workers (structured-cloned JS objects,
//! through `serde-wasm-bindgen`).
//!
//! ```text
//! worker → page   Ready                      (its wasm started: it can take work)
//! page → worker   Prepare { params, index }  (open its own IndexedDB connection)
//! worker → page   Prepared
//! page → worker   Go                         (all at once: the clock starts)
//! worker → page   Progress { counters }*     (after every batch)
//! worker → page   Done { counters, acked }   (or Failed)
//! ```

use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;

use crate::params::Params;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum ToWorker {
    /// Open a connection to `db` and get ready to book this worker's share
    /// of the sessions (session `i` is worker `i % workers`'s): rehearse it
    /// in memory, then load the client's cache from the database
    /// (`Allot::sync`, as a page does when it opens) unless `cold`.
    Prepare { db: String, params: Params, index: u32, cold: bool },
    /// Start booking.
    Go,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "t")]
pub enum FromWorker {
    Ready,
    Prepared {
        index: u32,
    },
    Progress {
        index: u32,
        c: Counters,
    },
    /// Finished its sessions. `acked`: the bookings it was told succeeded
    /// (actor, key), for the recount to find.
    Done {
        index: u32,
        c: Counters,
        acked: Vec<(String, String)>,
        first_error: Option<String>,
    },
    Failed {
        index: u32,
        error: String,
    },
}

/// One worker's counters (cumulative), as the worker saw its outcomes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    /// Sessions handed to this worker.
    pub sessions: u64,
    /// Sessions finished (any outcome).
    pub done: u64,
    pub booked: u64,
    /// No unit in range could take it (sold out, turned away, no room type
    /// free for every night).
    pub sold_out: u64,
    /// The one unit asked for was full (last seat).
    pub full: u64,
    /// Ended with an error (or an outcome the scenario cannot produce).
    pub errors: u64,
    /// Commits rejected because a stream moved since it was observed.
    pub conflicts: u64,
    /// Candidates lost to another worker after a conflict.
    pub already_booked: u64,
    pub read_queries: u64,
    pub commits: u64,
    /// Bookings answered from an earlier run's claim (a resumed run).
    pub replays: u64,
}

impl Counters {
    pub fn add(&mut self, o: &Counters) {
        self.sessions += o.sessions;
        self.done += o.done;
        self.booked += o.booked;
        self.sold_out += o.sold_out;
        self.full += o.full;
        self.errors += o.errors;
        self.conflicts += o.conflicts;
        self.already_booked += o.already_booked;
        self.read_queries += o.read_queries;
        self.commits += o.commits;
        self.replays += o.replays;
    }
}

pub fn to_js<T: Serialize>(v: &T) -> JsValue {
    serde_wasm_bindgen::to_value(v).unwrap_or_else(|e| JsValue::from_str(&format!("unserialisable message: {e}")))
}

pub fn from_js<T: for<'de> Deserialize<'de>>(v: JsValue) -> Result<T, String> {
    serde_wasm_bindgen::from_value(v).map_err(|e| format!("bad message: {e}"))
}

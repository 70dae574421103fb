//! The in-browser demo of allot: what the page and the workers share.
//!
//! - [`params`]: the controls (and URL parameters) of a run;
//! - [`scenario`]: what each scenario defines (units, indexes) and asks for
//!   (one request per session), as pure functions of the parameters, so that
//!   the workers and the page's recount derive the same things independently;
//! - [`proto`]: the messages between the page and its workers;
//! - [`outcome`]: the recount from IndexedDB and each scenario's result line.
//!
//! The holiday rush uses the native command's own definitions
//! (`allot_tests::holiday`), so the two result lines can be compared.

pub mod outcome;
pub mod params;
pub mod proto;
pub mod scenario;

/// The allot database of the demo (one at a time; Reset deletes it).
pub const DB_NAME: &str = "allot-demo";
/// The demo's own small database: the last run's parameters and result.
pub const META_DB_NAME: &str = "allot-demo-meta";

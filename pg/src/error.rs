//! From PostgreSQL's errors to allot's [`StoreError`], by what may have been
//! written.
//!
//! | what happened | where | `StoreError` | retried inside the store |
//! |---|---|---|---|
//! | no connection could be had (refused, timeout, server starting or stopping) | any | `Unavailable` | yes |
//! | connection lost, or server shutting down (`08*`, `57P01..03`) | a read | `Unavailable` | yes |
//! | connection lost, or server shutting down | a commit, before COMMIT was sent | `Aborted` | yes |
//! | connection lost, or server shutting down | a commit, once COMMIT was sent | `OutcomeUnknown` | never |
//! | `40003` statement completion unknown | anywhere | `OutcomeUnknown` | never |
//! | serialization failure `40001`, deadlock `40P01` | any | `Aborted` | yes |
//! | an error answered to COMMIT itself (the server rolled back) | commit | `Aborted` | yes |
//! | disk full `53100` | any | `QuotaExceeded` | no |
//! | anything else (missing table, bad login, ...) | any | `Unavailable` | no |
//!
//! "Retried inside the store" means: while [`crate::PgOptions::retry_for`]
//! has not run out, the store tries again on a fresh connection, which is
//! safe because nothing can have been written. `OutcomeUnknown` is never
//! retried here: only the caller, whose commits carry claims, can retry it
//! without booking twice.

use allot_core::StoreError;

/// Where an operation was when it failed: what decides whether anything may
/// have been written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Stage {
    /// Reading: nothing is ever written.
    Read,
    /// Inside a transaction whose COMMIT has not been sent.
    BeforeCommit,
    /// COMMIT has been sent (or may have been, in the same pipeline).
    Commit,
}

/// A failure, with whether the store may try again by itself.
#[derive(Debug)]
pub(crate) struct Fail {
    pub err: StoreError,
    pub retry: bool,
}

impl Fail {
    pub fn fatal(err: StoreError) -> Self {
        Self { err, retry: false }
    }
}

fn sqlstate(e: &tokio_postgres::Error) -> Option<&str> {
    e.code().map(|c| c.code())
}

/// Classifies a client error met at `stage`.
pub(crate) fn classify(e: &tokio_postgres::Error, stage: Stage) -> Fail {
    let msg = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    let (lost, retryable) = match sqlstate(e) {
        // The server cannot say whether the statement completed.
        Some("40003") => return Fail::fatal(StoreError::OutcomeUnknown(msg)),
        Some("40001" | "40P01") => {
            return Fail { err: StoreError::Aborted(msg), retry: true };
        }
        Some("53100") => return Fail::fatal(StoreError::QuotaExceeded(msg)),
        Some(c) if c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "53300") => (true, true),
        Some(_) => (false, false),
        // No SQLSTATE: the connection broke (closed, IO error, timeout).
        None => (true, true),
    };
    match (stage, lost) {
        (Stage::Commit, true) => Fail::fatal(StoreError::OutcomeUnknown(msg)),
        // The server answered COMMIT with an error: it rolled back.
        (Stage::Commit, false) => Fail { err: StoreError::Aborted(msg), retry: true },
        (Stage::BeforeCommit, true) => Fail { err: StoreError::Aborted(msg), retry: retryable },
        // A lasting problem (a missing table, a permission): nothing was
        // written, and trying again will not help.
        (Stage::BeforeCommit, false) | (Stage::Read, _) => Fail { err: StoreError::Unavailable(msg), retry: retryable },
    }
}

/// Classifies a failure to get a connection from the pool.
pub(crate) fn pool_error(e: deadpool_postgres::PoolError) -> Fail {
    use deadpool_postgres::PoolError;
    let retry = match &e {
        // A login or a database that is wrong stays wrong.
        PoolError::Backend(pe) => {
            !sqlstate(pe).is_some_and(|c| c.starts_with("28") || c == "3D000" || c == "3F000" || c == "42501")
        }
        PoolError::Closed | PoolError::NoRuntimeSpecified => false,
        PoolError::Timeout(_) | PoolError::PostCreateHook(_) => true,
    };
    Fail { err: StoreError::Unavailable(format!("no connection: {e}")), retry }
}

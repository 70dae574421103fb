//! The tables, as an ordered list of migrations, and how they are applied.
//!
//! `schema_version` holds one row per applied migration. A migration is
//! applied in one transaction that first inserts its version row: two
//! processes migrating the same database at once both try to insert it, the
//! unique key lets one through and makes the other wait and then fail, and
//! the loser rolls back (DDL is transactional) and reads the versions again.
//! Applying the migrations is therefore idempotent and safe to race.

use tokio_postgres::Client;

use crate::error::{Fail, Stage, classify};
use allot_core::StoreError;

/// One schema change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Migration {
    pub version: i32,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every migration, in the order they apply. Append only: a released
/// migration is never edited (databases out there have applied it).
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "streams, events, claims, unit rows, index entries",
        sql: "
-- One row per stream that was ever written or guarded at 0: its head (last
-- seq). Every commit updates the row of every stream it names with a
-- conditional write (head = expected), which is what makes append-expect
-- and guards atomic under READ COMMITTED. head 0 means no events (a guard on
-- a new stream left the row behind); scans skip those.
CREATE TABLE streams (
    stream BYTEA PRIMARY KEY,
    head BIGINT NOT NULL CHECK (head >= 0)
);
-- The events. The primary key is also the backstop of append-expect: two
-- writers can never both append seq n to a stream.
CREATE TABLE events (
    stream BYTEA NOT NULL,
    seq BIGINT NOT NULL CHECK (seq >= 1),
    body BYTEA NOT NULL,
    PRIMARY KEY (stream, seq)
);
-- Idempotency claims: insert-if-absent on the primary key.
CREATE TABLE claims (
    booking BYTEA PRIMARY KEY,
    record BYTEA NOT NULL
);
-- Unit rows, keyed by key::encode_str(unit id).
CREATE TABLE units (
    unit BYTEA PRIMARY KEY,
    body BYTEA NOT NULL
);
-- Index entries: the byte keys allot computes, pointing at a unit row.
CREATE TABLE index_entries (
    key BYTEA PRIMARY KEY,
    unit BYTEA NOT NULL
);
CREATE INDEX index_entries_by_unit ON index_entries (unit);
",
    },
    Migration {
        version: 2,
        description: "the vacancy epoch: counters moved by commits that may give room back, event times",
        sql: "
-- The vacancy epoch (allot-core's store documentation): the sum of these
-- counters moves with every commit that may give room back (a cancel or
-- release, unit rows). Several rows, each such commit adding to one, so
-- that they rarely wait for each other's row; bookings never touch them.
CREATE TABLE vacancy (
    shard SMALLINT PRIMARY KEY,
    epoch BIGINT NOT NULL
);
INSERT INTO vacancy (shard, epoch) SELECT s, 0 FROM generate_series(0, 15) AS s;
-- Each event's time (its `at`), so that the latest one is one index probe
-- away. NULL for events written before this version: while any is left, the
-- store reports no vacancy epoch.
ALTER TABLE events ADD COLUMN at BIGINT;
CREATE INDEX events_by_at ON events (at);
",
    },
];

/// The schema version this build creates and reads.
pub const SCHEMA_VERSION: i32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

const VERSION_TABLE: &str = "
CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    description TEXT NOT NULL,
    applied_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT CURRENT_TIMESTAMP
)";

/// Whether `e` says that a concurrent migrator got there first.
fn lost_race(e: &tokio_postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        // unique_violation (a version row, or a catalog row of a table or
        // schema created at the same time), duplicate_table, duplicate_schema
        matches!(c.code(), "23505" | "42P07" | "42P06")
    })
}

/// The highest applied version, or 0.
pub(crate) async fn current_version(client: &Client) -> Result<i32, tokio_postgres::Error> {
    let row = client.query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[]).await?;
    row.try_get(0)
}

/// Creates `schema` (if given) and applies every migration not applied yet.
pub(crate) async fn migrate(client: &Client, schema: Option<&str>) -> Result<i32, Fail> {
    let fail = |e: tokio_postgres::Error| classify(&e, Stage::Read);
    for _attempt in 0..20 {
        if let Some(s) = schema {
            match client.batch_execute(&format!("CREATE SCHEMA IF NOT EXISTS {s}")).await {
                Err(e) if lost_race(&e) => continue,
                r => r.map_err(fail)?,
            }
        }
        match client.batch_execute(VERSION_TABLE).await {
            Err(e) if lost_race(&e) => continue,
            r => r.map_err(fail)?,
        }
        let current = current_version(client).await.map_err(fail)?;
        if current > SCHEMA_VERSION {
            return Err(Fail::fatal(StoreError::VersionChange(format!(
                "the database schema is at version {current}, newer than this build's {SCHEMA_VERSION}"
            ))));
        }
        let mut raced = false;
        for m in MIGRATIONS.iter().filter(|m| m.version > current) {
            client.batch_execute("BEGIN").await.map_err(fail)?;
            let applied = async {
                client
                    .execute(
                        "INSERT INTO schema_version (version, description) VALUES ($1, $2)",
                        &[&m.version, &m.description],
                    )
                    .await?;
                client.batch_execute(m.sql).await?;
                client.batch_execute("COMMIT").await
            }
            .await;
            match applied {
                Ok(()) => {}
                Err(e) => {
                    let _ = client.batch_execute("ROLLBACK").await;
                    if lost_race(&e) {
                        raced = true;
                        break;
                    }
                    return Err(fail(e));
                }
            }
        }
        if !raced {
            return Ok(SCHEMA_VERSION);
        }
    }
    Err(Fail::fatal(StoreError::Unavailable("schema migration kept racing with another migrator".into())))
}

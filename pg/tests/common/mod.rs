//! What the PostgreSQL tests share: the server's URL (from `scripts/pg.sh`),
//! fresh stores in fresh schemas, an admin connection, and a TCP proxy that
//! cuts connections at chosen points of a transaction.
#![allow(dead_code)]

pub mod proxy;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use allot_core::{BookingId, Outcome, Span, UnitKind, UnitSpec};
use allot_pg::{PgOptions, PgStore};

/// The server the tests run against. There is deliberately no fallback and
/// no skip: a test that did not run proves nothing.
pub fn pg_url() -> String {
    match std::env::var("ALLOT_PG_URL") {
        Ok(u) if !u.is_empty() => u,
        _ => panic!(
            "\n\nALLOT_PG_URL is not set: the allot-pg tests need a PostgreSQL server.\n\
             Run them through the throwaway-server script, which starts a fresh cluster on\n\
             127.0.0.1, sets ALLOT_PG_URL and stops the server afterwards:\n\n    \
             scripts/pg.sh run -- cargo test -p allot-pg\n\n"
        ),
    }
}

/// The folder of the server started by `scripts/pg.sh` (for restarts).
pub fn pg_dir() -> String {
    match std::env::var("ALLOT_PG_DIR") {
        Ok(d) if !d.is_empty() => d,
        _ => panic!(
            "\n\nALLOT_PG_DIR is not set: this test restarts the server, so it must own it.\n\
             Run it through:\n\n    scripts/pg.sh run -- cargo test -p allot-pg\n\n"
        ),
    }
}

/// `scripts/pg.sh`.
pub fn pg_script() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/pg.sh")
}

/// A schema name no other test or run uses.
pub fn unique_schema(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    let mut p: String = prefix.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
    p.make_ascii_lowercase();
    p.truncate(36);
    format!("{p}_{}_{}_{nanos}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

pub fn options(schema: &str) -> PgOptions {
    PgOptions { schema: Some(schema.to_string()), max_connections: 8, ..PgOptions::default() }
}

/// A store in a new, empty schema.
pub fn fresh(prefix: &str, opts: PgOptions) -> PgStore {
    let schema = unique_schema(prefix);
    let opts = PgOptions { schema: Some(schema), ..opts };
    pollster::block_on(PgStore::connect(&pg_url(), opts)).expect("connect to the test server")
}

/// Another store on the same schema (a fresh pool: fresh connections).
pub fn reopen(store: &PgStore, opts: PgOptions) -> PgStore {
    let opts = PgOptions { schema: store.schema().map(str::to_string), ..opts };
    pollster::block_on(PgStore::connect(&pg_url(), opts)).expect("reconnect to the test server")
}

/// Runs `sql` (simple protocol, several statements allowed) on a new
/// connection with `search_path` set to `schema`; returns the rows of the
/// last statement as text.
pub fn sql(schema: Option<&str>, sql: &str) -> Vec<Vec<Option<String>>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let mut cfg: tokio_postgres::Config = pg_url().parse().unwrap();
        if let Some(s) = schema {
            cfg.options(format!("-c search_path={s}"));
        }
        cfg.application_name("allot-test-admin");
        let (client, conn) = cfg.connect(tokio_postgres::NoTls).await.expect("admin connection");
        let task = tokio::spawn(conn);
        let msgs = client.simple_query(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
        drop(client);
        let _ = task.await;
        let mut rows = Vec::new();
        for m in msgs {
            match m {
                tokio_postgres::SimpleQueryMessage::Row(r) => {
                    rows.push((0..r.len()).map(|i| r.get(i).map(str::to_string)).collect());
                }
                tokio_postgres::SimpleQueryMessage::CommandComplete(_) => {}
                _ => {}
            }
        }
        rows
    })
}

/// The single value of a one-row, one-column query.
pub fn scalar(schema: Option<&str>, q: &str) -> String {
    let rows = sql(schema, q);
    rows.first().and_then(|r| r.first()).cloned().flatten().unwrap_or_else(|| panic!("{q}: no value"))
}

pub fn bid(actor: &str, key: &str) -> BookingId {
    BookingId::new(actor, key).unwrap()
}

pub fn pool_unit(id: &str, capacity: u32) -> UnitSpec {
    UnitSpec::new(id, UnitKind::Pool { capacity }, vec![]).unwrap()
}

pub fn is_booked(o: &Outcome) -> bool {
    matches!(o, Outcome::Booked { .. } | Outcome::Held { .. })
}

pub const WHOLE: Span = Span::Whole;

/// Waits for `cond` up to `limit`.
pub fn wait_for(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    cond()
}

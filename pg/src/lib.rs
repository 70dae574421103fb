//! allot's store on PostgreSQL: the same `allot-core`, unchanged, against a
//! shared database instead of one process's memory or one browser's
//! IndexedDB.
//!
//! The design, its correctness argument and the schema are written down in
//! `docs/postgres.md`; in short:
//!
//! - **Tables** (see [`MIGRATIONS`]): `streams` (one head per stream),
//!   `events` (primary key `(stream, seq)`), `claims`, `units`,
//!   `index_entries`, all keyed by the byte keys `allot-core` computes
//!   (`bytea` compares as unsigned bytes, as the key format needs), and
//!   `schema_version`.
//! - **A commit** is one READ COMMITTED transaction: insert the claims
//!   (`ON CONFLICT DO NOTHING`: a missing row is a duplicate), advance every
//!   named stream's head with a conditional write
//!   (`UPDATE streams SET head = expected + n WHERE head = expected`; a guard
//!   writes `head = expected`), insert the events under the `(stream, seq)`
//!   key, put unit rows and index entries, COMMIT. Any check that fails rolls
//!   everything back. The conditional writes take row locks that are held to
//!   the end of the transaction, so every commit that names a stream (guard
//!   or append) is ordered with every other one that names it: no lock is
//!   held across a decision (the decision was made before the transaction
//!   started), and no `SELECT ... FOR UPDATE` is used. Before any row write,
//!   a commit takes advisory locks on its claims and streams in one global
//!   order, so that commits never wait for each other in a cycle.
//! - **Group commit** runs many commits in one transaction, and one COMMIT
//!   (one WAL flush) makes all the applied ones durable. A group whose
//!   members name no claim or stream twice and write no unit rows (what
//!   `book_any_many` sends) is checked as one set, in two round trips for the
//!   whole group; the members that failed have their own writes undone.
//!   Any other group runs each member inside its own savepoint: a conflicting
//!   or duplicate one is rolled back to it without touching the others.
//! - **Round trips**: statements are pipelined. A commit costs two round
//!   trips (BEGIN and the checks; then the writes and COMMIT).
//! - **Errors** are mapped by what may have been written (see the `error`
//!   module table): a connection lost before COMMIT was sent is `Aborted`,
//!   after it `OutcomeUnknown`.
//!
//! Every operation runs as a task on a tokio runtime (the store's own, or
//! one given in [`PgOptions::runtime`]); the futures the [`Store`] methods
//! return only wait for that task. They can therefore be driven by any
//! executor (`pollster::block_on` on plain threads, as the holiday command
//! does, or `.await` inside tokio), and a commit whose caller stops waiting
//! still runs to its end instead of leaving a transaction half-sent.

mod error;
mod schema;

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use allot_core::error::{DecodeError, InputError, StoreError};
use allot_core::event::{ClaimRecord, Event, UnitRow};
use allot_core::key;
use allot_core::model::{BookingId, Seq, StreamId, UnitId};
use allot_core::store::{
    Commit, CommitOutcome, IndexEntry, KeyRange, ReadReq, Store, StreamSlice, VacancyEpoch, Window, WindowReads,
    window_of,
};
use deadpool_postgres::{ClientWrapper, Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::{NoTls, Row};

use crate::error::{Fail, Stage, classify, pool_error};
pub use crate::schema::{MIGRATIONS, Migration, SCHEMA_VERSION};

/// How a [`PgStore`] connects and behaves.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Connections in the pool (the most statements in flight at once).
    pub max_connections: usize,
    /// A schema to keep the tables in (created if missing): several allot
    /// databases can share one PostgreSQL database this way. A lowercase SQL
    /// identifier (`[a-z_][a-z0-9_]*`, at most 63 bytes). `None`: the
    /// connection's default `search_path` (normally `public`).
    pub schema: Option<String>,
    /// Shown in `pg_stat_activity`.
    pub application_name: String,
    /// How long opening one connection may take.
    pub connect_timeout: Duration,
    /// How long the store keeps retrying failures after which nothing can
    /// have been written (no connection, connection lost before COMMIT,
    /// serialization failure, deadlock), e.g. across a server restart.
    /// `Duration::ZERO` hands every failure straight to the caller.
    pub retry_for: Duration,
    /// Run the store's tasks on this runtime (it must be a multi-thread
    /// runtime if callers block a thread on the store's futures). `None`:
    /// the store starts its own, with [`Self::runtime_threads`] threads.
    pub runtime: Option<tokio::runtime::Handle>,
    /// Threads of the store's own runtime. It only moves bytes between the
    /// callers and the sockets (the work is in the server): one is enough
    /// for a few dozen connections, and saves cross-thread wake-ups.
    pub runtime_threads: usize,
    /// Ask the server for generic plans of the prepared statements
    /// (`plan_cache_mode = force_generic_plan`, PostgreSQL 12 and later).
    /// Every statement here is a short primary-key lookup or range scan whose
    /// generic plan is the right one, but PostgreSQL keeps re-planning some of
    /// them per execution (the arrays of `unnest` make the custom plans look
    /// cheaper), which costs more than executing them. Turn it off for an
    /// engine that does not know the setting.
    pub generic_plans: bool,
}

impl Default for PgOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            schema: None,
            application_name: "allot".into(),
            connect_timeout: Duration::from_secs(5),
            retry_for: Duration::from_secs(30),
            runtime: None,
            runtime_threads: 1,
            generic_plans: true,
        }
    }
}

/// Whether `s` can be used as a schema name without quoting.
pub fn valid_schema_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some('a'..='z' | '_'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
        && s.len() <= 63
}

/// A runtime the store started: shut down without blocking when the last
/// handle to the store goes (a plain drop would panic inside another
/// runtime).
struct OwnedRuntime(Option<tokio::runtime::Runtime>);

impl Drop for OwnedRuntime {
    fn drop(&mut self) {
        if let Some(rt) = self.0.take() {
            rt.shutdown_background();
        }
    }
}

struct Inner {
    // Dropped before the runtime: closing connections needs no runtime.
    pool: Pool,
    handle: tokio::runtime::Handle,
    retry_for: Duration,
    schema: Option<String>,
    retried: AtomicU64,
    _runtime: Option<OwnedRuntime>,
}

/// What a [`PgStore`] went through (all its clones together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PgStats {
    /// Failures after which nothing could have been written, retried by the
    /// store itself (see [`PgOptions::retry_for`]).
    pub retried: u64,
}

/// The PostgreSQL store. Cheap to clone (clones share the pool).
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = self.inner.pool.status();
        f.debug_struct("PgStore")
            .field("schema", &self.inner.schema)
            .field("connections", &status.size)
            .field("max_connections", &status.max_size)
            .finish()
    }
}

/// Pauses between retries double up to this.
const MAX_PAUSE: Duration = Duration::from_millis(500);

/// Runs `$attempt` (an expression making a fresh future each time) until it
/// succeeds, fails for good, or `$inner.retry_for` has run out.
macro_rules! retrying {
    ($inner:expr, $attempt:expr) => {{
        let started = Instant::now();
        let mut pause = Duration::from_millis(5);
        loop {
            match $attempt.await {
                Ok(v) => break Ok(v),
                Err(f) if f.retry && started.elapsed() + pause <= $inner.retry_for => {
                    $inner.retried.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(MAX_PAUSE);
                }
                Err(f) => break Err::<_, StoreError>(f.err),
            }
        }
    }};
}

impl PgStore {
    /// Connects to `url` (`postgres://user:password@host:port/database`),
    /// creates the schema if asked, and applies the migrations this build
    /// knows. Fails with `E_VERSION_CHANGE` if the database was migrated by
    /// a newer build.
    pub async fn connect(url: &str, opts: PgOptions) -> Result<Self, StoreError> {
        let mut cfg: tokio_postgres::Config =
            url.parse().map_err(|e| StoreError::Unavailable(format!("not a PostgreSQL URL: {e}")))?;
        let mut settings: Vec<String> = cfg.get_options().map(str::to_string).into_iter().collect();
        if let Some(s) = &opts.schema {
            if !valid_schema_name(s) {
                return Err(StoreError::Unavailable(format!("schema name {s:?} is not a plain lowercase identifier")));
            }
            settings.push(format!("-c search_path={s}"));
        }
        if opts.generic_plans {
            settings.push("-c plan_cache_mode=force_generic_plan".into());
        }
        if !settings.is_empty() {
            cfg.options(settings.join(" "));
        }
        cfg.application_name(&opts.application_name);
        cfg.connect_timeout(opts.connect_timeout);
        cfg.keepalives(true);
        cfg.keepalives_idle(Duration::from_secs(30));
        let (handle, owned) = match opts.runtime {
            Some(h) => (h, None),
            None => {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(opts.runtime_threads.max(1))
                    .thread_name("allot-pg")
                    .enable_all()
                    .build()
                    .map_err(|e| StoreError::Unavailable(format!("cannot start a tokio runtime: {e}")))?;
                (rt.handle().clone(), Some(OwnedRuntime(Some(rt))))
            }
        };
        let manager = Manager::from_config(cfg, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(opts.max_connections.max(1))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(Some(opts.connect_timeout))
            .build()
            .map_err(|e| StoreError::Unavailable(format!("cannot build the connection pool: {e}")))?;
        let store = Self {
            inner: Arc::new(Inner {
                pool,
                handle,
                retry_for: opts.retry_for,
                schema: opts.schema.clone(),
                retried: AtomicU64::new(0),
                _runtime: owned,
            }),
        };
        let inner = store.inner.clone();
        store
            .run(async move {
                retrying!(inner, async {
                    let c = inner.pool.get().await.map_err(pool_error)?;
                    schema::migrate(&c, inner.schema.as_deref()).await
                })
            })
            .await?;
        Ok(store)
    }

    /// The schema the tables are in, if one was given.
    pub fn schema(&self) -> Option<&str> {
        self.inner.schema.as_deref()
    }

    /// Counters since the store was opened.
    pub fn stats(&self) -> PgStats {
        PgStats { retried: self.inner.retried.load(Ordering::Relaxed) }
    }

    /// The applied schema version (see [`SCHEMA_VERSION`]).
    pub async fn schema_version(&self) -> Result<i32, StoreError> {
        let rows = self.query("SELECT coalesce(max(version), 0) FROM schema_version".into(), Vec::new()).await?;
        rows.first().map(|r| col::<i32>(r, 0)).transpose()?.ok_or_else(|| corrupt("schema version", "no row"))
    }

    /// Drops the store's schema and everything in it (for throwaway stores:
    /// tests, benchmark runs). Does nothing without a schema.
    pub async fn drop_schema(&self) -> Result<(), StoreError> {
        let Some(s) = self.inner.schema.clone() else { return Ok(()) };
        self.query(format!("DROP SCHEMA IF EXISTS {s} CASCADE"), Vec::new()).await.map(drop)
    }

    /// Closes the pool: connections are closed as they come back.
    pub fn close(&self) {
        self.inner.pool.close();
    }

    /// Runs `f` as a task on the store's runtime and waits for it.
    async fn run<T: Send + 'static>(
        &self,
        f: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        match self.inner.handle.spawn(f).await {
            Ok(r) => r,
            Err(e) => Err(StoreError::Unavailable(format!("the store's task ended: {e}"))),
        }
    }

    /// One read statement, retried while retrying is safe.
    async fn query(&self, sql: String, params: Vec<Param>) -> Result<Vec<Row>, StoreError> {
        let inner = self.inner.clone();
        self.run(async move { retrying!(inner, read_attempt(&inner.pool, &sql, &params)) }).await
    }
}

/// A statement parameter, owned so that it can move into the store's task.
#[derive(Debug)]
enum Param {
    Bytes(Vec<u8>),
    ByteArr(Vec<Vec<u8>>),
    Int(i64),
    IntArr(Vec<i64>),
}

impl Param {
    fn as_sql(&self) -> &(dyn ToSql + Sync) {
        match self {
            Self::Bytes(v) => v,
            Self::ByteArr(v) => v,
            Self::Int(v) => v,
            Self::IntArr(v) => v,
        }
    }
}

/// Gives up a connection whose state is unknown (it is closed, not pooled).
fn discard(c: Object) {
    drop(Object::take(c));
}

async fn read_attempt(pool: &Pool, sql: &str, params: &[Param]) -> Result<Vec<Row>, Fail> {
    let c = pool.get().await.map_err(pool_error)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(Param::as_sql).collect();
    let r = async {
        let st = c.prepare_cached(sql).await?;
        c.query(&st, &refs).await
    }
    .await;
    r.map_err(|e| {
        let f = classify(&e, Stage::Read);
        discard(c);
        f
    })
}

fn corrupt(what: &'static str, reason: &'static str) -> StoreError {
    StoreError::Corrupt(DecodeError::Malformed { what, reason })
}

fn col<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<T, StoreError> {
    row.try_get(i).map_err(|_| corrupt("row", "a column has an unexpected type or is null"))
}

fn seq_of(v: i64) -> Result<Seq, StoreError> {
    Seq::try_from(v).map_err(|_| corrupt("stream", "negative seq"))
}

fn unit_key(id: &UnitId) -> Vec<u8> {
    let mut k = Vec::with_capacity(id.as_str().len() + 2);
    key::encode_str(id.as_str(), &mut k);
    k
}

fn unit_of_key(k: &[u8]) -> Result<UnitId, StoreError> {
    let s: String =
        key::decode(k).map_err(|error| StoreError::Corrupt(DecodeError::Key { what: "index entry", error }))?;
    UnitId::new(&s).map_err(|_| corrupt("index entry", "not a unit id"))
}

// ------------------------------------------------------------------ commits

const BEGIN: &str = "BEGIN ISOLATION LEVEL READ COMMITTED";
const SAVEPOINT: &str = "SAVEPOINT allot_commit";
const RELEASE: &str = "RELEASE SAVEPOINT allot_commit";
const ROLLBACK_TO: &str = "ROLLBACK TO SAVEPOINT allot_commit; RELEASE SAVEPOINT allot_commit";

/// Claims first, in key order (a consistent order for the unique-key waits);
/// `RETURNING` names the ones inserted: a missing one exists already.
const INSERT_CLAIMS: &str = "INSERT INTO claims (booking, record) \
    SELECT k, r FROM unnest($1::bytea[], $2::bytea[]) AS c(k, r) ORDER BY k \
    ON CONFLICT (booking) DO NOTHING RETURNING booking";
/// Streams expected at 0 get a row (head 0) if they have none, so that the
/// conditional write below has a row to write (and lock) for them too.
const ENSURE_STREAMS: &str = "INSERT INTO streams (stream, head) \
    SELECT s, 0 FROM unnest($1::bytea[]) AS n(s) ORDER BY s \
    ON CONFLICT (stream) DO NOTHING";
/// The append-expect itself: advance each head only from the expected seq.
/// `RETURNING` names the streams advanced; a missing one moved.
const ADVANCE_HEADS: &str = "UPDATE streams AS t SET head = w.new_head \
    FROM unnest($1::bytea[], $2::int8[], $3::int8[]) AS w(stream, expected, new_head) \
    WHERE t.stream = w.stream AND t.head = w.expected RETURNING t.stream";
const INSERT_EVENTS: &str = "INSERT INTO events (stream, seq, body, at) \
    SELECT s, q, b, t FROM unnest($1::bytea[], $2::int8[], $3::bytea[], $4::int8[]) AS e(s, q, b, t)";
/// Moves the vacancy epoch (one of its counters): the last row write of a
/// transaction, sent with its COMMIT, so that a commit never holds a counter
/// while it waits for anything else.
const MOVE_VACANCY: &str = "UPDATE vacancy SET epoch = epoch + 1 WHERE shard = $1";
/// The counters (`vacancy` rows) the epoch is split into.
const VACANCY_SHARDS: u32 = 16;
/// The epoch, the latest event time, and whether an event has no time (one
/// written before schema version 2): one statement, one snapshot.
const READ_VACANCY: &str = "SELECT (SELECT coalesce(sum(epoch), 0) FROM vacancy)::int8, \
    (SELECT coalesce(max(at), 0) FROM events)::int8, \
    EXISTS (SELECT 1 FROM events WHERE at IS NULL)";
const PUT_UNITS: &str = "INSERT INTO units (unit, body) \
    SELECT u, b FROM unnest($1::bytea[], $2::bytea[]) AS r(u, b) \
    ON CONFLICT (unit) DO UPDATE SET body = excluded.body";
const DELETE_ENTRIES: &str = "DELETE FROM index_entries WHERE unit = ANY($1::bytea[])";
const INSERT_ENTRIES: &str = "INSERT INTO index_entries (key, unit) \
    SELECT k, u FROM unnest($1::bytea[], $2::bytea[]) AS x(k, u) \
    ON CONFLICT (key) DO UPDATE SET unit = excluded.unit";
const CLAIM_OF: &str = "SELECT record FROM claims WHERE booking = $1";
const HEAD_OF: &str = "SELECT head FROM streams WHERE stream = $1";
const LAST_SEQS: &str = "SELECT w.i, coalesce((SELECT max(e.seq) FROM events e WHERE e.stream = w.s), 0) \
    FROM unnest($1::bytea[]) WITH ORDINALITY AS w(s, i) ORDER BY w.i";

// --------------------------------------------------------------- lock order

/// The first key of allot's advisory locks (PostgreSQL's two-`int4` form),
/// which keeps them apart from other applications' advisory locks in the
/// same database: the locks on single keys, and the one lock per schema that
/// every commit takes shared and an oversized one takes exclusively.
const LOCK_CLASS_KEY: i32 = 0x616c_6c6b; // "allk"
const LOCK_CLASS_ALL: i32 = 0x616c_6c61; // "alla"
/// A transaction that would lock more keys than this takes its schema's
/// lock exclusively instead: advisory locks live in the server's shared lock
/// table (`max_locks_per_transaction` per connection), row locks do not.
const LOCKED_KEYS_PER_TRANSACTION_MAX: usize = 256;
const LOCK_ALL_SHARED: &str = "SELECT pg_advisory_xact_lock_shared($1::int4, $2::int4)";
const LOCK_ALL: &str = "SELECT pg_advisory_xact_lock($1::int4, $2::int4)";
/// In the array's order (a function scan returns its elements in order).
const LOCK_KEYS: &str = "SELECT count(pg_advisory_xact_lock($1::int4, k)) FROM unnest($2::int4[]) AS k";

/// The locks a transaction takes before its first row write, so that
/// commits never wait for each other in a cycle (see `docs/postgres.md`,
/// "Deadlocks"): a lock per claim and per stream it writes, named by a hash
/// of the key, in ascending order, after its schema's lock taken shared.
/// Every row a commit could wait for belongs to a key it holds the lock of,
/// so commits wait only for these locks, which all take in one order. A
/// hash collision only makes two commits wait for each other needlessly.
#[derive(Debug, Default, PartialEq, Eq)]
struct Locks {
    /// The schema's lock (second key; a hash of the schema name).
    scope: i32,
    /// Takes the schema's lock exclusively and no key's (too many keys).
    exclusive: bool,
    /// Sorted, without repeats.
    keys: Vec<i32>,
}

impl Locks {
    fn of<'a>(schema: Option<&str>, plans: impl IntoIterator<Item = &'a Plan>) -> Self {
        let schema = schema.unwrap_or("").as_bytes();
        let mut keys = Vec::new();
        for p in plans {
            keys.extend(p.claim_keys.iter().map(|k| lock_hash(schema, b'c', k)));
            keys.extend(p.writes.iter().map(|w| lock_hash(schema, b's', &w.key)));
        }
        keys.sort_unstable();
        keys.dedup();
        let scope = lock_hash(schema, b'*', &[]);
        if keys.len() > LOCKED_KEYS_PER_TRANSACTION_MAX {
            return Self { scope, exclusive: true, keys: Vec::new() };
        }
        Self { scope, exclusive: false, keys }
    }

    fn any(&self) -> bool {
        self.exclusive || !self.keys.is_empty()
    }
}

/// FNV-1a (32 bits) of the schema, a kind tag and a key. Part of how every
/// client of a database names its locks, so it must never change between
/// builds (a std hasher may).
fn lock_hash(schema: &[u8], tag: u8, key: &[u8]) -> i32 {
    let mut h: u32 = 0x811c_9dc5;
    for &b in schema.iter().chain(&[0xff, tag]).chain(key) {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h as i32
}

/// The prepared statements that take `l` (none if it names no lock).
struct LockStatements {
    all: Option<tokio_postgres::Statement>,
    keys: Option<tokio_postgres::Statement>,
}

async fn prepare_locks(c: &ClientWrapper, l: &Locks) -> Result<LockStatements, Fail> {
    let all = prepare_if(c, l.any(), if l.exclusive { LOCK_ALL } else { LOCK_ALL_SHARED }).await?;
    let keys = prepare_if(c, !l.exclusive && !l.keys.is_empty(), LOCK_KEYS).await?;
    Ok(LockStatements { all, keys })
}

/// Sends the statements that take `l`, in order (pipelined: the caller
/// polls this future before the ones that write rows).
async fn take_locks(c: &ClientWrapper, l: &Locks, st: &LockStatements) -> Result<(), tokio_postgres::Error> {
    let all = async {
        match &st.all {
            Some(s) => c.execute(s, &[&LOCK_CLASS_ALL, &l.scope]).await.map(drop),
            None => Ok(()),
        }
    };
    let keys = async {
        match &st.keys {
            Some(s) => c.execute(s, &[&LOCK_CLASS_KEY, &l.keys]).await.map(drop),
            None => Ok(()),
        }
    };
    let (all, keys) = tokio::join!(biased; all, keys);
    all?;
    keys
}

/// One write of a commit, as planned.
#[derive(Debug)]
struct PlannedWrite {
    stream: StreamId,
    key: Vec<u8>,
    expected: Seq,
}

/// A commit turned into statement parameters (owned, so that it can move
/// into the store's task).
#[derive(Debug, Default)]
struct Plan {
    /// Claims, in commit order.
    claim_keys: Vec<Vec<u8>>,
    claim_records: Vec<Vec<u8>>,
    booking_ids: Vec<BookingId>,
    /// Writes in commit order (conflicts name the first that moved).
    writes: Vec<PlannedWrite>,
    /// Streams expected at 0, sorted.
    new_streams: Vec<Vec<u8>>,
    /// The conditional head writes, sorted by stream key.
    head_keys: Vec<Vec<u8>>,
    head_expected: Vec<i64>,
    head_new: Vec<i64>,
    ev_streams: Vec<Vec<u8>>,
    ev_seqs: Vec<i64>,
    ev_bodies: Vec<Vec<u8>>,
    ev_ats: Vec<i64>,
    unit_keys: Vec<Vec<u8>>,
    unit_bodies: Vec<Vec<u8>>,
    entry_keys: Vec<Vec<u8>>,
    entry_units: Vec<Vec<u8>>,
    /// The vacancy counter this commit moves, if it may give room back
    /// ([`Commit::may_vacate`]).
    vacates: Option<i16>,
}

impl Plan {
    /// Validates and plans `c`.
    fn of(c: &Commit) -> Result<Self, InputError> {
        c.validate()?;
        let mut p = Plan::default();
        for cl in &c.claims {
            p.claim_keys.push(cl.booking.encode());
            p.claim_records.push(cl.record.encode());
            p.booking_ids.push(cl.booking.clone());
        }
        let mut heads: Vec<(Vec<u8>, i64, i64)> = Vec::with_capacity(c.writes.len());
        for w in &c.writes {
            let k = w.stream.encode();
            let n = w.events.len() as u64;
            // validate() ruled out overflow of u64. Seqs above i64::MAX
            // cannot exist here (no stream gets 2^63 events): such an
            // expected seq becomes -1, which no head equals, so the write
            // conflicts.
            let (expected, new_head) = match (i64::try_from(w.expected), i64::try_from(w.expected + n)) {
                (Ok(e), Ok(h)) => (e, h),
                _ => (-1, -1),
            };
            if w.expected == 0 {
                p.new_streams.push(k.clone());
            }
            for (j, ev) in w.events.iter().enumerate() {
                p.ev_streams.push(k.clone());
                p.ev_seqs.push(expected.saturating_add(j as i64 + 1));
                p.ev_bodies.push(ev.encode());
                // validate() keeps times at most TIME_MAX (2^53 - 1).
                p.ev_ats.push(i64::try_from(ev.at()).unwrap_or(i64::MAX));
            }
            heads.push((k.clone(), expected, new_head));
            p.writes.push(PlannedWrite { stream: w.stream.clone(), key: k, expected: w.expected });
        }
        p.new_streams.sort_unstable();
        heads.sort_unstable();
        for (k, e, h) in heads {
            p.head_keys.push(k);
            p.head_expected.push(e);
            p.head_new.push(h);
        }
        let mut entries: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
        for row in &c.units {
            let uk = unit_key(row.id());
            for k in &row.index_keys {
                // A later row's entry replaces an earlier one's, as in the
                // in-memory store.
                entries.insert(k.clone(), uk.clone());
            }
            p.unit_bodies.push(row.encode());
            p.unit_keys.push(uk);
        }
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = entries.into_iter().collect();
        entries.sort_unstable();
        for (k, u) in entries {
            p.entry_keys.push(k);
            p.entry_units.push(u);
        }
        if c.may_vacate() {
            // Spread over the counters by what the commit writes first.
            let first = p.writes.first().map(|w| &w.key).or(p.unit_keys.first()).or(p.claim_keys.first());
            let h = lock_hash(&[], b'v', first.map_or(&[][..], Vec::as_slice)) as u32;
            p.vacates = Some((h % VACANCY_SHARDS) as i16);
        }
        Ok(p)
    }

    fn checks(&self) -> bool {
        !self.claim_keys.is_empty() || !self.writes.is_empty()
    }
}

/// What the checks of a commit found.
#[derive(Debug, PartialEq, Eq)]
enum Check {
    Go,
    /// The claim at this index (commit order) exists.
    Duplicate(usize),
    /// The write at this index (commit order) did not find its expected seq.
    Conflict(usize),
}

async fn prepare_if(c: &ClientWrapper, want: bool, sql: &str) -> Result<Option<tokio_postgres::Statement>, Fail> {
    if !want {
        return Ok(None);
    }
    c.prepare_cached(sql).await.map(Some).map_err(|e| classify(&e, Stage::BeforeCommit))
}

/// Sends `opener`, the locks (if any: see [`Locks`]), the claims insert and
/// the conditional head writes in one round trip, and says whether the
/// commit may go on.
async fn check(c: &ClientWrapper, p: &Plan, opener: &str, locks: &Locks) -> Result<Check, Fail> {
    let (claims, heads) = check_rows(c, p, opener, locks).await?;
    if claims.len() < p.claim_keys.len() {
        let inserted: HashSet<Vec<u8>> =
            claims.iter().map(|r| col(r, 0)).collect::<Result<_, _>>().map_err(Fail::fatal)?;
        let i = p.claim_keys.iter().position(|k| !inserted.contains(k)).unwrap_or(0);
        return Ok(Check::Duplicate(i));
    }
    if heads.len() < p.writes.len() {
        let advanced: HashSet<Vec<u8>> =
            heads.iter().map(|r| col(r, 0)).collect::<Result<_, _>>().map_err(Fail::fatal)?;
        let i = p.writes.iter().position(|w| !advanced.contains(&w.key)).unwrap_or(0);
        return Ok(Check::Conflict(i));
    }
    Ok(Check::Go)
}

/// The round trip of [`check`]: the rows of the claims inserted and of the
/// heads advanced.
async fn check_rows(c: &ClientWrapper, p: &Plan, opener: &str, locks: &Locks) -> Result<(Vec<Row>, Vec<Row>), Fail> {
    let st_locks = prepare_locks(c, locks).await?;
    let st_claims = prepare_if(c, !p.claim_keys.is_empty(), INSERT_CLAIMS).await?;
    let st_ensure = prepare_if(c, !p.new_streams.is_empty(), ENSURE_STREAMS).await?;
    let st_heads = prepare_if(c, !p.head_keys.is_empty(), ADVANCE_HEADS).await?;
    let (open, locked, claims, ensure, heads) = tokio::join!(
        biased;
        c.batch_execute(opener),
        take_locks(c, locks, &st_locks),
        async {
            match &st_claims {
                Some(st) => c.query(st, &[&p.claim_keys, &p.claim_records]).await,
                None => Ok(Vec::new()),
            }
        },
        async {
            match &st_ensure {
                Some(st) => c.execute(st, &[&p.new_streams]).await.map(drop),
                None => Ok(()),
            }
        },
        async {
            match &st_heads {
                Some(st) => c.query(st, &[&p.head_keys, &p.head_expected, &p.head_new]).await,
                None => Ok(Vec::new()),
            }
        },
    );
    let before = |e: tokio_postgres::Error| classify(&e, Stage::BeforeCommit);
    open.map_err(before)?;
    locked.map_err(before)?;
    let claims = claims.map_err(before)?;
    ensure.map_err(before)?;
    let heads = heads.map_err(before)?;
    Ok((claims, heads))
}

/// Reads the existing claim at `i` and sends `closer` (which rolls back).
async fn duplicate(c: &ClientWrapper, p: &Plan, i: usize, closer: &str) -> Result<CommitOutcome, Fail> {
    let before = |e: tokio_postgres::Error| classify(&e, Stage::BeforeCommit);
    let st = c.prepare_cached(CLAIM_OF).await.map_err(before)?;
    let params: [&(dyn ToSql + Sync); 1] = [&p.claim_keys[i]];
    let (row, close) = tokio::join!(biased; c.query_opt(&st, &params), c.batch_execute(closer));
    let row = row.map_err(before)?;
    close.map_err(before)?;
    let Some(row) = row else {
        // The claim that was there is gone: cannot happen (claims are never
        // deleted); nothing was written, so let the caller try again.
        return Err(Fail { err: StoreError::Aborted("a claim vanished during the commit".into()), retry: true });
    };
    let existing = ClaimRecord::decode(&col::<Vec<u8>>(&row, 0).map_err(Fail::fatal)?)
        .map_err(|e| Fail::fatal(StoreError::Corrupt(e)))?;
    Ok(CommitOutcome::Duplicate { booking: p.booking_ids[i].clone(), existing })
}

/// Reads the actual head of the write at `i` and sends `closer`.
async fn conflict(c: &ClientWrapper, p: &Plan, i: usize, closer: &str) -> Result<CommitOutcome, Fail> {
    let before = |e: tokio_postgres::Error| classify(&e, Stage::BeforeCommit);
    let st = c.prepare_cached(HEAD_OF).await.map_err(before)?;
    let w = &p.writes[i];
    let params: [&(dyn ToSql + Sync); 1] = [&w.key];
    let (row, close) = tokio::join!(biased; c.query_opt(&st, &params), c.batch_execute(closer));
    let row = row.map_err(before)?;
    close.map_err(before)?;
    let actual = match row {
        None => 0,
        Some(r) => seq_of(col(&r, 0).map_err(Fail::fatal)?).map_err(Fail::fatal)?,
    };
    Ok(CommitOutcome::Conflict { stream: w.stream.clone(), expected: w.expected, actual })
}

/// The backstop: an event insert hit the `(stream, seq)` key, so some
/// stream holds events past the head the commit expected. Names the first
/// write (commit order) whose last event is not its expected seq.
async fn event_key_conflict(c: &ClientWrapper, p: &Plan, stage: Stage) -> Result<CommitOutcome, Fail> {
    let keys: Vec<Vec<u8>> = p.writes.iter().map(|w| w.key.clone()).collect();
    let rows = async {
        let st = c.prepare_cached(LAST_SEQS).await?;
        c.query(&st, &[&keys]).await
    }
    .await
    .map_err(|e| classify(&e, stage))?;
    for (w, row) in p.writes.iter().zip(&rows) {
        let last = seq_of(col(row, 1).map_err(Fail::fatal)?).map_err(Fail::fatal)?;
        if last != w.expected {
            return Ok(CommitOutcome::Conflict { stream: w.stream.clone(), expected: w.expected, actual: last });
        }
    }
    Err(Fail { err: StoreError::Aborted("an event's (stream, seq) key was taken, then freed".into()), retry: true })
}

/// What the writes of a commit came to.
#[derive(Debug, PartialEq, Eq)]
enum Applied {
    Done,
    /// An event insert hit the `(stream, seq)` key.
    EventKeyTaken,
}

/// Sends `opener` (if any), the writes and `closer` in one round trip.
/// `closer_stage` says what a lost connection means: `Stage::Commit` when the
/// closer is COMMIT.
async fn apply(
    c: &ClientWrapper,
    p: &Plan,
    opener: Option<&str>,
    vacate: Option<i16>,
    closer: &str,
    closer_stage: Stage,
) -> Result<Applied, Fail> {
    let st_vacancy = prepare_if(c, vacate.is_some(), MOVE_VACANCY).await?;
    let st_ev = prepare_if(c, !p.ev_streams.is_empty(), INSERT_EVENTS).await?;
    let st_units = prepare_if(c, !p.unit_keys.is_empty(), PUT_UNITS).await?;
    let st_del = prepare_if(c, !p.unit_keys.is_empty(), DELETE_ENTRIES).await?;
    let st_entries = prepare_if(c, !p.entry_keys.is_empty(), INSERT_ENTRIES).await?;
    let (open, events, units, del, entries, vacancy, close) = tokio::join!(
        biased;
        async {
            match opener {
                Some(s) => c.batch_execute(s).await,
                None => Ok(()),
            }
        },
        async {
            match &st_ev {
                Some(st) => c.execute(st, &[&p.ev_streams, &p.ev_seqs, &p.ev_bodies, &p.ev_ats]).await.map(drop),
                None => Ok(()),
            }
        },
        async {
            match &st_units {
                Some(st) => c.execute(st, &[&p.unit_keys, &p.unit_bodies]).await.map(drop),
                None => Ok(()),
            }
        },
        async {
            match &st_del {
                Some(st) => c.execute(st, &[&p.unit_keys]).await.map(drop),
                None => Ok(()),
            }
        },
        async {
            match &st_entries {
                Some(st) => c.execute(st, &[&p.entry_keys, &p.entry_units]).await.map(drop),
                None => Ok(()),
            }
        },
        move_vacancy(c, st_vacancy.as_ref(), vacate),
        c.batch_execute(closer),
    );
    let first_error = [&open, &events, &units, &del, &entries, &vacancy].into_iter().find_map(|r| r.as_ref().err());
    if let Some(e) = first_error {
        refused(e, &events, closer_stage)?;
        return Ok(Applied::EventKeyTaken);
    }
    close.map_err(|e| classify(&e, closer_stage))?;
    Ok(Applied::Done)
}

/// Why a pipeline of writes sent with its closer failed at `e`, the first
/// statement that did: `Ok` when that was the events insert hitting the
/// `(stream, seq)` key (the backstop), the failure otherwise.
fn refused(
    e: &tokio_postgres::Error,
    events: &Result<(), tokio_postgres::Error>,
    closer_stage: Stage,
) -> Result<(), Fail> {
    if e.as_db_error().is_none() {
        // The connection broke with the closer in the same pipeline.
        return Err(classify(e, closer_stage));
    }
    // The server refused a statement: the transaction is aborted, and a
    // COMMIT sent after it rolled back.
    let is_event_key =
        events.as_ref().err().is_some_and(|ev| std::ptr::eq(ev, e) && ev.code().is_some_and(|s| s.code() == "23505"));
    if is_event_key { Ok(()) } else { Err(classify(e, Stage::BeforeCommit)) }
}

/// Moves vacancy counter `shard` (if any) with the prepared `st`.
async fn move_vacancy(
    c: &ClientWrapper,
    st: Option<&tokio_postgres::Statement>,
    shard: Option<i16>,
) -> Result<(), tokio_postgres::Error> {
    match (st, shard) {
        (Some(st), Some(shard)) => c.execute(st, &[&shard]).await.map(drop),
        _ => Ok(()),
    }
}

/// One commit, in its own transaction.
async fn commit_tx(c: &ClientWrapper, p: &Plan, locks: &Locks) -> Result<CommitOutcome, Fail> {
    let opener = if p.checks() {
        match check(c, p, BEGIN, locks).await? {
            Check::Go => None,
            Check::Duplicate(i) => return duplicate(c, p, i, "ROLLBACK").await,
            Check::Conflict(i) => return conflict(c, p, i, "ROLLBACK").await,
        }
    } else {
        // Nothing to check (unit rows only): one round trip.
        Some(BEGIN)
    };
    match apply(c, p, opener, p.vacates, "COMMIT", Stage::Commit).await? {
        Applied::Done => Ok(CommitOutcome::Committed),
        // The COMMIT after the failed insert rolled back; look outside.
        Applied::EventKeyTaken => event_key_conflict(c, p, Stage::Read).await,
    }
}

/// Many commits in one transaction, each in its own savepoint. The whole
/// group's locks come first: members taking their rows one after another
/// would otherwise lock in group order, and two groups naming the same rows
/// in different orders would each wait for the other.
async fn group_tx(
    c: &ClientWrapper,
    plans: &[Option<Plan>],
    locks: &Locks,
) -> Result<Vec<Option<CommitOutcome>>, Fail> {
    let before = |e: tokio_postgres::Error| classify(&e, Stage::BeforeCommit);
    let st_locks = prepare_locks(c, locks).await?;
    let (open, locked) = tokio::join!(biased; c.batch_execute(BEGIN), take_locks(c, locks, &st_locks));
    open.map_err(before)?;
    locked.map_err(before)?;
    let mut out = Vec::with_capacity(plans.len());
    let mut wrote = false;
    // One counter for the whole group, moved with its COMMIT (a transaction
    // holding two counters could wait for another holding them the other
    // way round).
    let mut vacates = None;
    for p in plans {
        let Some(p) = p else {
            out.push(None);
            continue;
        };
        // The group's locks are held already.
        let o = match check(c, p, SAVEPOINT, &Locks::default()).await? {
            Check::Duplicate(i) => duplicate(c, p, i, ROLLBACK_TO).await?,
            Check::Conflict(i) => conflict(c, p, i, ROLLBACK_TO).await?,
            Check::Go => match apply(c, p, None, None, RELEASE, Stage::BeforeCommit).await? {
                Applied::Done => {
                    wrote = true;
                    vacates = vacates.or(p.vacates);
                    CommitOutcome::Committed
                }
                Applied::EventKeyTaken => {
                    c.batch_execute(ROLLBACK_TO).await.map_err(before)?;
                    event_key_conflict(c, p, Stage::BeforeCommit).await?
                }
            },
        };
        out.push(Some(o));
    }
    if wrote {
        let st = prepare_if(c, vacates.is_some(), MOVE_VACANCY).await?;
        let (vacancy, commit) = tokio::join!(biased; move_vacancy(c, st.as_ref(), vacates), c.batch_execute("COMMIT"));
        if let Err(e) = vacancy {
            // The COMMIT after it rolled back (or the connection broke with
            // the COMMIT in the same pipeline).
            return Err(classify(&e, if e.as_db_error().is_some() { Stage::BeforeCommit } else { Stage::Commit }));
        }
        commit.map_err(|e| classify(&e, Stage::Commit))?;
    } else {
        c.batch_execute("ROLLBACK").await.map_err(before)?;
    }
    Ok(out)
}

/// Whether a group can be checked and written as one set
/// ([`group_set_tx`]): every member claims and appends only (no unit rows),
/// and no claim or stream is named twice in the group. Then no member can
/// see another's writes, and checking them all at once decides each as
/// checking them one after another would.
fn set_shaped(plans: &[Option<Plan>]) -> bool {
    let mut claims = HashSet::new();
    let mut streams = HashSet::new();
    plans.iter().flatten().all(|p| {
        p.unit_keys.is_empty()
            && p.entry_keys.is_empty()
            && p.checks()
            && p.claim_keys.iter().all(|k| claims.insert(k.as_slice()))
            && p.writes.iter().all(|w| streams.insert(w.key.as_slice()))
    })
}

/// Undoes what the set check wrote for members that failed it: their claims
/// inserted, and their heads advanced (back to the seq they expected).
const UNDO_CLAIMS: &str = "DELETE FROM claims WHERE booking = ANY($1::bytea[])";
const UNDO_HEADS: &str = "UPDATE streams AS t SET head = w.expected \
    FROM unnest($1::bytea[], $2::int8[]) AS w(stream, expected) WHERE t.stream = w.stream";
const HEADS_OF: &str = "SELECT stream, head FROM streams WHERE stream = ANY($1::bytea[])";

/// A set-shaped group ([`set_shaped`]) in two round trips, whatever its
/// size: the locks and every member's checks (claims, conditional head
/// writes) as single statements over the whole group; then, for the members
/// that failed, their partial writes undone and what they failed on read,
/// and the events of the others written, with the COMMIT. The member-by-
/// member way ([`group_tx`]) takes two round trips per member.
///
/// `None` when the backstop fired (an event's `(stream, seq)` key was taken
/// although its head was as expected): the whole transaction rolled back,
/// and the caller runs the group member by member, which tells which member
/// it was.
async fn group_set_tx(
    c: &ClientWrapper,
    plans: &[Option<Plan>],
    locks: &Locks,
) -> Result<Option<Vec<Option<CommitOutcome>>>, Fail> {
    let before = |e: tokio_postgres::Error| classify(&e, Stage::BeforeCommit);
    let members: Vec<&Plan> = plans.iter().flatten().collect();
    let concat = |f: fn(&Plan) -> &Vec<Vec<u8>>| members.iter().flat_map(|&p| f(p).iter().cloned()).collect::<Vec<_>>();
    let claim_keys = concat(|p| &p.claim_keys);
    let claim_records = concat(|p| &p.claim_records);
    let new_streams = concat(|p| &p.new_streams);
    let head_keys = concat(|p| &p.head_keys);
    let head_expected: Vec<i64> = members.iter().flat_map(|p| p.head_expected.iter().copied()).collect();
    let head_new: Vec<i64> = members.iter().flat_map(|p| p.head_new.iter().copied()).collect();
    // The whole group's checks, as one plan's.
    let merged = Plan { claim_keys, claim_records, new_streams, head_keys, head_expected, head_new, ..Plan::default() };
    let (claimed, advanced) = check_rows(c, &merged, BEGIN, locks).await?;
    let keys_of = |rows: &[Row]| rows.iter().map(|r| col::<Vec<u8>>(r, 0)).collect::<Result<HashSet<_>, _>>();
    let all_went = claimed.len() == merged.claim_keys.len() && advanced.len() == merged.head_keys.len();
    let (claimed, advanced) = if all_went {
        (HashSet::new(), HashSet::new())
    } else {
        (keys_of(&claimed).map_err(Fail::fatal)?, keys_of(&advanced).map_err(Fail::fatal)?)
    };

    // Each member's fate, as `check` would have found it on its own.
    let fates: Vec<Check> = members
        .iter()
        .map(|p| {
            if all_went {
                return Check::Go;
            }
            if let Some(i) = p.claim_keys.iter().position(|k| !claimed.contains(k)) {
                return Check::Duplicate(i);
            }
            match p.writes.iter().position(|w| !advanced.contains(&w.key)) {
                Some(i) => Check::Conflict(i),
                None => Check::Go,
            }
        })
        .collect();
    let any_go = fates.contains(&Check::Go);
    let (mut undo_claims, mut undo_heads, mut undo_expected) = (Vec::new(), Vec::new(), Vec::new());
    let (mut dup_keys, mut conflict_keys) = (Vec::new(), Vec::new());
    let (mut ev_streams, mut ev_seqs, mut ev_bodies, mut ev_ats) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut vacates = None;
    for (p, fate) in members.iter().zip(&fates) {
        match *fate {
            Check::Go => {
                ev_streams.extend(p.ev_streams.iter().cloned());
                ev_seqs.extend(p.ev_seqs.iter().copied());
                ev_bodies.extend(p.ev_bodies.iter().cloned());
                ev_ats.extend(p.ev_ats.iter().copied());
                vacates = vacates.or(p.vacates);
                continue;
            }
            Check::Duplicate(i) => dup_keys.push(p.claim_keys[i].clone()),
            Check::Conflict(i) => conflict_keys.push(p.writes[i].key.clone()),
        }
        if any_go {
            // Nothing to undo when the transaction rolls back anyway.
            undo_claims.extend(p.claim_keys.iter().filter(|k| claimed.contains(*k)).cloned());
            for w in p.writes.iter().filter(|w| advanced.contains(&w.key)) {
                undo_heads.push(w.key.clone());
                // An advanced head was expected at a seq that fits an i64.
                undo_expected.push(i64::try_from(w.expected).unwrap_or(-1));
            }
        }
    }

    let st_undo_claims = prepare_if(c, !undo_claims.is_empty(), UNDO_CLAIMS).await?;
    let st_undo_heads = prepare_if(c, !undo_heads.is_empty(), UNDO_HEADS).await?;
    let st_dups = prepare_if(c, !dup_keys.is_empty(), GET_CLAIMS).await?;
    let st_conflicts = prepare_if(c, !conflict_keys.is_empty(), HEADS_OF).await?;
    let st_ev = prepare_if(c, !ev_streams.is_empty(), INSERT_EVENTS).await?;
    let st_vacancy = prepare_if(c, vacates.is_some(), MOVE_VACANCY).await?;
    let (closer, closer_stage) = if any_go { ("COMMIT", Stage::Commit) } else { ("ROLLBACK", Stage::BeforeCommit) };
    let (undone_claims, undone_heads, dups, conflicts, events, vacancy, close) = tokio::join!(
        biased;
        async {
            match &st_undo_claims {
                Some(st) => c.execute(st, &[&undo_claims]).await.map(drop),
                None => Ok(()),
            }
        },
        async {
            match &st_undo_heads {
                Some(st) => c.execute(st, &[&undo_heads, &undo_expected]).await.map(drop),
                None => Ok(()),
            }
        },
        async {
            match &st_dups {
                Some(st) => c.query(st, &[&dup_keys]).await,
                None => Ok(Vec::new()),
            }
        },
        async {
            match &st_conflicts {
                Some(st) => c.query(st, &[&conflict_keys]).await,
                None => Ok(Vec::new()),
            }
        },
        async {
            match &st_ev {
                Some(st) => c.execute(st, &[&ev_streams, &ev_seqs, &ev_bodies, &ev_ats]).await.map(drop),
                None => Ok(()),
            }
        },
        move_vacancy(c, st_vacancy.as_ref(), vacates),
        c.batch_execute(closer),
    );
    let statements = [undone_claims.as_ref().err(), undone_heads.as_ref().err(), dups.as_ref().err()];
    let first_error = statements
        .into_iter()
        .chain([conflicts.as_ref().err(), events.as_ref().err(), vacancy.as_ref().err()])
        .flatten()
        .next();
    if let Some(e) = first_error {
        refused(e, &events, closer_stage)?;
        return Ok(None);
    }
    close.map_err(|e| classify(&e, closer_stage))?;
    let (dups, conflicts) = (dups.map_err(before)?, conflicts.map_err(before)?);
    let mut existing: HashMap<Vec<u8>, Vec<u8>> = HashMap::with_capacity(dups.len());
    for r in &dups {
        existing.insert(col(r, 0).map_err(Fail::fatal)?, col(r, 1).map_err(Fail::fatal)?);
    }
    let mut heads: HashMap<Vec<u8>, i64> = HashMap::with_capacity(conflicts.len());
    for r in &conflicts {
        heads.insert(col(r, 0).map_err(Fail::fatal)?, col(r, 1).map_err(Fail::fatal)?);
    }

    let mut out = Vec::with_capacity(plans.len());
    let mut fates = fates.into_iter();
    let mut members = members.into_iter();
    for p in plans {
        if p.is_none() {
            out.push(None);
            continue;
        }
        let (Some(p), Some(fate)) = (members.next(), fates.next()) else {
            return Err(Fail::fatal(corrupt("group", "a member without its fate")));
        };
        let o = match fate {
            Check::Go => CommitOutcome::Committed,
            Check::Duplicate(i) => {
                let Some(record) = existing.get(&p.claim_keys[i]) else {
                    // As in `duplicate`: cannot happen (claims are never
                    // deleted but by their own transaction); nothing was
                    // written for this member, so the caller may try again.
                    return Err(Fail {
                        err: StoreError::Aborted("a claim vanished during the commit".into()),
                        retry: true,
                    });
                };
                let existing = ClaimRecord::decode(record).map_err(|e| Fail::fatal(StoreError::Corrupt(e)))?;
                CommitOutcome::Duplicate { booking: p.booking_ids[i].clone(), existing }
            }
            Check::Conflict(i) => {
                let w = &p.writes[i];
                let actual = heads.get(&w.key).map_or(Ok(0), |&h| seq_of(h)).map_err(Fail::fatal)?;
                CommitOutcome::Conflict { stream: w.stream.clone(), expected: w.expected, actual }
            }
        };
        out.push(Some(o));
    }
    Ok(Some(out))
}

async fn commit_attempt(pool: &Pool, p: &Plan, locks: &Locks) -> Result<CommitOutcome, Fail> {
    let c = pool.get().await.map_err(pool_error)?;
    let r = commit_tx(&c, p, locks).await;
    if r.is_err() {
        discard(c);
    }
    r
}

async fn group_attempt(pool: &Pool, plans: &[Option<Plan>], locks: &Locks) -> Result<Vec<Option<CommitOutcome>>, Fail> {
    let c = pool.get().await.map_err(pool_error)?;
    let r = if set_shaped(plans) {
        match group_set_tx(&c, plans, locks).await {
            // The backstop fired and rolled everything back: member by member.
            Ok(None) => group_tx(&c, plans, locks).await,
            Ok(Some(out)) => Ok(out),
            Err(e) => Err(e),
        }
    } else {
        group_tx(&c, plans, locks).await
    };
    if r.is_err() {
        discard(c);
    }
    r
}

// -------------------------------------------------------------------- reads

/// Each request's head and its events after `after`, in one statement (one
/// snapshot, so a slice's head and events always agree).
const READ_STREAMS: &str = "SELECT r.i, coalesce(s.head, 0), e.seq, e.body \
    FROM unnest($1::bytea[], $2::int8[]) WITH ORDINALITY AS r(stream, after_seq, i) \
    LEFT JOIN streams s ON s.stream = r.stream \
    LEFT JOIN events e ON e.stream = r.stream AND e.seq > r.after_seq AND e.seq <= s.head \
    ORDER BY r.i, e.seq";
const GET_CLAIMS: &str = "SELECT booking, record FROM claims WHERE booking = ANY($1::bytea[])";
const GET_UNITS: &str = "SELECT unit, body FROM units WHERE unit = ANY($1::bytea[])";

/// A range scan of `table` on its key column, `limit` rows in scan order.
/// `None` when the range is empty (an inverted range, or a limit of 0).
fn scan(cols: &str, table: &str, key: &str, filter: &str, range: &KeyRange) -> Option<(String, Vec<Param>)> {
    if range.limit == 0 || range.end.as_ref().is_some_and(|e| e.as_slice() <= range.start.as_slice()) {
        return None;
    }
    let dir = if range.reverse { "DESC" } else { "ASC" };
    let mut params = vec![Param::Bytes(range.start.clone())];
    let mut sql = format!("SELECT {cols} FROM {table} WHERE {key} >= $1");
    if let Some(end) = &range.end {
        params.push(Param::Bytes(end.clone()));
        sql.push_str(&format!(" AND {key} < $2"));
    }
    params.push(Param::Int(i64::from(range.limit)));
    sql.push_str(&format!("{filter} ORDER BY {key} {dir} LIMIT ${}", params.len()));
    Some((sql, params))
}

impl Store for PgStore {
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        if reqs.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Vec<u8>> = reqs.iter().map(|r| r.stream.encode()).collect();
        let afters: Vec<i64> = reqs.iter().map(|r| i64::try_from(r.after).unwrap_or(i64::MAX)).collect();
        let rows = self.query(READ_STREAMS.into(), vec![Param::ByteArr(keys), Param::IntArr(afters)]).await?;
        let mut out = vec![StreamSlice::default(); reqs.len()];
        for row in &rows {
            let i: i64 = col(row, 0)?;
            let slot = usize::try_from(i - 1)
                .ok()
                .and_then(|i| out.get_mut(i).zip(reqs.get(i)))
                .ok_or_else(|| corrupt("read", "a row for a stream that was not asked for"))?;
            let (slice, req) = slot;
            slice.head = seq_of(col(row, 1)?)?;
            let seq: Option<i64> = col(row, 2)?;
            let body: Option<Vec<u8>> = col(row, 3)?;
            if let (Some(seq), Some(body)) = (seq, body) {
                if seq_of(seq)? != req.after + slice.events.len() as Seq + 1 {
                    return Err(corrupt("stream", "seqs are not contiguous"));
                }
                slice.events.push(Event::decode(&body)?);
            }
        }
        Ok(out)
    }

    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        let plan = Plan::of(commit)?;
        let locks = Locks::of(self.schema(), [&plan]);
        let inner = self.inner.clone();
        self.run(async move { retrying!(inner, commit_attempt(&inner.pool, &plan, &locks)) }).await
    }

    async fn commit_group(&self, commits: &[Commit]) -> Result<Vec<Result<CommitOutcome, InputError>>, StoreError> {
        let mut plans = Vec::with_capacity(commits.len());
        let mut invalid = Vec::with_capacity(commits.len());
        for c in commits {
            match Plan::of(c) {
                Ok(p) => {
                    plans.push(Some(p));
                    invalid.push(None);
                }
                Err(e) => {
                    plans.push(None);
                    invalid.push(Some(e));
                }
            }
        }
        if plans.iter().all(Option::is_none) {
            return Ok(invalid.into_iter().flatten().map(Err).collect());
        }
        let locks = Locks::of(self.schema(), plans.iter().flatten());
        let inner = self.inner.clone();
        let outcomes = self.run(async move { retrying!(inner, group_attempt(&inner.pool, &plans, &locks)) }).await?;
        Ok(outcomes
            .into_iter()
            .zip(invalid)
            .map(|(o, e)| match (o, e) {
                (Some(o), _) => Ok(o),
                (None, Some(e)) => Err(e),
                (None, None) => Err(InputError::CommitEmpty),
            })
            .collect())
    }

    /// `None` while an event written before schema version 2 has no time
    /// (the latest time could not be bounded).
    async fn vacancy_epoch(&self) -> Result<Option<VacancyEpoch>, StoreError> {
        let rows = self.query(READ_VACANCY.into(), Vec::new()).await?;
        let row = rows.first().ok_or_else(|| corrupt("vacancy", "no row"))?;
        let (epoch, at_max, untimed): (i64, i64, bool) = (col(row, 0)?, col(row, 1)?, col(row, 2)?);
        if untimed {
            return Ok(None);
        }
        // A counter only grows from 0; wrapping would take 2^63 commits.
        let epoch = u64::try_from(epoch).map_err(|_| corrupt("vacancy", "a negative epoch"))?;
        Ok(Some(VacancyEpoch { epoch, at_max: u64::try_from(at_max).unwrap_or(0) }))
    }

    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Vec<u8>> = ids.iter().map(BookingId::encode).collect();
        let rows = self.query(GET_CLAIMS.into(), vec![Param::ByteArr(keys.clone())]).await?;
        let mut found: HashMap<Vec<u8>, ClaimRecord> = HashMap::with_capacity(rows.len());
        for row in &rows {
            found.insert(col(row, 0)?, ClaimRecord::decode(col(row, 1)?)?);
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let keys: Vec<Vec<u8>> = ids.iter().map(unit_key).collect();
        let rows = self.query(GET_UNITS.into(), vec![Param::ByteArr(keys.clone())]).await?;
        let mut found: HashMap<Vec<u8>, Arc<UnitRow>> = HashMap::with_capacity(rows.len());
        for row in &rows {
            found.insert(col(row, 0)?, Arc::new(UnitRow::decode(col(row, 1)?)?));
        }
        Ok(keys.iter().map(|k| found.get(k).cloned()).collect())
    }

    async fn scan_index(&self, range: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        let Some((sql, params)) = scan("key, unit", "index_entries", "key", "", range) else { return Ok(Vec::new()) };
        let rows = self.query(sql, params).await?;
        rows.iter().map(|r| Ok(IndexEntry { key: col(r, 0)?, unit: unit_of_key(col(r, 1)?)? })).collect()
    }

    /// The window's entries and their rows in one statement (one snapshot,
    /// one round trip, where `scan_index` then `get_units` are two), then
    /// the streams `reads` asks for, if any.
    async fn read_window(&self, range: &KeyRange, reads: &WindowReads<'_>) -> Result<Window, StoreError> {
        let Some((sql, params)) = scan(
            "index_entries.key, index_entries.unit, units.body",
            "index_entries LEFT JOIN units ON units.unit = index_entries.unit",
            "index_entries.key",
            "",
            range,
        ) else {
            return Ok(Window::default());
        };
        let found = self.query(sql, params).await?;
        let mut entries = Vec::with_capacity(found.len());
        let mut rows = Vec::with_capacity(found.len());
        for r in &found {
            entries.push(IndexEntry { key: col(r, 0)?, unit: unit_of_key(col(r, 1)?)? });
            let body: Option<Vec<u8>> = col(r, 2)?;
            rows.push(body.map(|b| UnitRow::decode(&b).map(Arc::new)).transpose()?);
        }
        window_of(self, entries, rows, reads).await
    }

    async fn scan_units(&self, range: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        let Some((sql, params)) = scan("body", "units", "unit", "", range) else { return Ok(Vec::new()) };
        let rows = self.query(sql, params).await?;
        rows.iter().map(|r| Ok(Arc::new(UnitRow::decode(col(r, 0)?)?))).collect()
    }

    async fn scan_streams(&self, range: &KeyRange) -> Result<Vec<(StreamId, Seq)>, StoreError> {
        let Some((sql, params)) = scan("stream, head", "streams", "stream", " AND head > 0", range) else {
            return Ok(Vec::new());
        };
        let rows = self.query(sql, params).await?;
        rows.iter().map(|r| Ok((StreamId::decode(col(r, 0)?)?, seq_of(col(r, 1)?)?))).collect()
    }

    async fn scan_claims(&self, range: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        let Some((sql, params)) = scan("booking, record", "claims", "booking", "", range) else {
            return Ok(Vec::new());
        };
        let rows = self.query(sql, params).await?;
        rows.iter()
            .map(|r| {
                let id = BookingId::decode(col(r, 0)?).map_err(|_| corrupt("claim key", "not a booking id"))?;
                Ok((id, ClaimRecord::decode(col(r, 1)?)?))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use allot_core::model::Part;
    use allot_core::store::StreamWrite;

    #[test]
    fn schema_names() {
        assert!(valid_schema_name("conf_append_to_empty_1"));
        assert!(valid_schema_name("_x"));
        for bad in ["", "1a", "A", "a-b", "a;drop", "a b", &"x".repeat(64)] {
            assert!(!valid_schema_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn seqs_beyond_i64_can_only_conflict() {
        let s = StreamId::new(&UnitId::new("a").unwrap(), Part::Main);
        let c = Commit {
            writes: vec![StreamWrite { stream: s, expected: u64::MAX - 1, events: vec![] }],
            ..Commit::default()
        };
        let p = Plan::of(&c).unwrap();
        assert_eq!((p.head_expected[0], p.head_new[0]), (-1, -1));
        assert!(p.new_streams.is_empty());
    }

    #[test]
    fn plans_sort_heads_and_number_events() {
        let u = |s: &str| UnitId::new(s).unwrap();
        let ev = |at| Event::UnitRetired { at };
        let c = Commit {
            writes: vec![
                StreamWrite { stream: StreamId::new(&u("b"), Part::Main), expected: 3, events: vec![ev(1), ev(2)] },
                StreamWrite { stream: StreamId::new(&u("a"), Part::Def), expected: 0, events: vec![] },
            ],
            ..Commit::default()
        };
        let p = Plan::of(&c).unwrap();
        assert_eq!(p.writes[0].stream.unit_str(), "b", "commit order kept for conflicts");
        assert_eq!(p.head_keys[0], StreamId::new(&u("a"), Part::Def).encode(), "heads sorted by key");
        assert_eq!((p.head_expected.clone(), p.head_new.clone()), (vec![0, 3], vec![0, 5]));
        assert_eq!(p.ev_seqs, vec![4, 5]);
        assert_eq!(p.new_streams.len(), 1);
    }

    #[test]
    fn scans_skip_empty_ranges() {
        let r = KeyRange { start: vec![2], end: Some(vec![1]), reverse: false, limit: 5 };
        assert!(scan("k", "t", "k", "", &r).is_none());
        assert!(scan("k", "t", "k", "", &KeyRange::all(0)).is_none());
        let (sql, params) = scan("k", "t", "k", "", &KeyRange { reverse: true, ..KeyRange::all(3) }).unwrap();
        assert_eq!(sql, "SELECT k FROM t WHERE k >= $1 ORDER BY k DESC LIMIT $2");
        assert_eq!(params.len(), 2);
    }

    /// A commit writing `units`' main streams, with one claim.
    fn booking_plan(actor: &str, units: &[&str]) -> Plan {
        let writes = units
            .iter()
            .map(|u| StreamWrite {
                stream: StreamId::new(&UnitId::new(u).unwrap(), Part::Main),
                expected: 0,
                events: vec![Event::UnitRetired { at: 1 }],
            })
            .collect();
        let booking = BookingId::new(actor, "k").unwrap();
        let record = ClaimRecord {
            request: vec![1].into(),
            unit: UnitId::new(units[0]).unwrap(),
            span: allot_core::Span::Whole,
            qty: 1,
            hold: None,
            seat: 1,
            at: 1,
        };
        let c = Commit { writes, claims: vec![allot_core::store::Claim { booking, record }], ..Commit::default() };
        Plan::of(&c).unwrap()
    }

    #[test]
    fn locks_cover_the_claims_and_streams_of_a_group_in_one_order() {
        let (a, b) = (booking_plan("x", &["u1", "u2"]), booking_plan("y", &["u2", "u3"]));
        let ab = Locks::of(Some("s"), [&a, &b]);
        // Two claims, three distinct streams: u2 is locked once.
        assert_eq!(ab.keys.len(), 5);
        assert!(ab.keys.windows(2).all(|w| w[0] < w[1]), "ascending, no repeats: {:?}", ab.keys);
        assert!(!ab.exclusive);
        // The order of the members does not change the locks.
        assert_eq!(Locks::of(Some("s"), [&b, &a]), ab);
        // Another schema names other locks (its commits never wait for these).
        let other = Locks::of(Some("t"), [&a, &b]);
        assert_ne!(other.scope, ab.scope);
        assert!(other.keys.iter().all(|k| !ab.keys.contains(k)));
    }

    #[test]
    fn only_groups_naming_each_key_once_are_checked_as_a_set() {
        let distinct = [Some(booking_plan("a", &["u1"])), None, Some(booking_plan("b", &["u2", "u3"]))];
        assert!(set_shaped(&distinct));
        // The same claim (actor and key) twice.
        assert!(!set_shaped(&[Some(booking_plan("a", &["u1"])), Some(booking_plan("a", &["u2"]))]));
        // The same stream twice.
        assert!(!set_shaped(&[Some(booking_plan("a", &["u1"])), Some(booking_plan("b", &["u1"]))]));
        // Unit rows.
        let spec = allot_core::UnitSpec {
            id: UnitId::new("u9").unwrap(),
            kind: allot_core::UnitKind::Exclusive,
            attrs: Default::default(),
        };
        let row = UnitRow { spec, version: 1, retired: false, index_keys: Vec::new() };
        let units = Plan::of(&Commit { units: vec![row], ..Commit::default() }).unwrap();
        assert!(!set_shaped(&[Some(booking_plan("a", &["u1"])), Some(units)]));
    }

    #[test]
    fn too_many_keys_take_the_schema_lock_alone() {
        let units: Vec<String> = (0..LOCKED_KEYS_PER_TRANSACTION_MAX).map(|i| format!("u{i}")).collect();
        let names: Vec<&str> = units.iter().map(String::as_str).collect();
        // The claim's lock is one more than the streams'.
        let big = booking_plan("x", &names);
        let l = Locks::of(None, [&big]);
        assert!(l.exclusive && l.keys.is_empty() && l.any());
        let fits = booking_plan("x", &names[1..]);
        let l = Locks::of(None, [&fits]);
        assert!(!l.exclusive && l.keys.len() == LOCKED_KEYS_PER_TRANSACTION_MAX);
    }

    /// Every client of a database must name a key's lock the same way: the
    /// hash is FNV-1a over schema, 0xff, kind and key (value computed apart).
    #[test]
    fn lock_names_do_not_change_between_builds() {
        assert_eq!(lock_hash(b"bench", b'c', b"k"), 732_832_312);
    }

    #[test]
    fn invalid_commits_are_refused_before_any_io() {
        assert_eq!(Plan::of(&Commit::default()).unwrap_err(), InputError::CommitEmpty);
    }
}

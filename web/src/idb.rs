//! The IndexedDB store: allot's storage contract ([`allot_core::store`]) on
//! the browser's database, through `indexed_db_futures`.
//!
//! Layout (schema version [`SCHEMA_VERSION`]; keys are allot-core's
//! order-preserving bytes, which IndexedDB compares bytewise):
//!
//! | object store | key | value |
//! |---|---|---|
//! | `journal` | position (auto-increment number, key path `k`) | `{ k, b, e, c, d }`: the appends of one transaction (`b`, `Append::encode_all`), the key of every event in them (`e`: stream key ‖ BE_8(seq)), and the claims it made (`c`: their keys, actor ‖ request key; `d`: their records, in the same order) |
//! | `units` | unit id | `{ row: unit row bytes, ikeys: [index entry keys] }`, with the multiEntry index `ikeys` |
//!
//! and on `journal` two **unique** multiEntry indexes: `e` over event keys and
//! `c` over claim keys.
//!
//! The journal is the only place events and claims are written: a commit
//! group is one `add` of one record, whatever the number of bookings in it.
//! IndexedDB has no batched write, and each request costs about as much as a
//! small transaction's fixed part (measured: a group of 64 bookings took
//! ~40 ms as one event `add`, one claim `add` and one guard `count` per
//! booking; ~10 ms as one record). The unique indexes are what the separate
//! `events` and `claims` stores of schema v1-v3 gave by their keys: an event
//! key taken (the stream moved on) or a claim key taken (the request was
//! made) refuses the record, and with it the transaction. A stream's events
//! are read through `e` (a range of its keys gives the records holding
//! them), its head is the number of its keys there (seqs run from 1 with no
//! gap), and a claim is read through `c`.
//!
//! A record with `h: true` is a horizon: the feed's readers are told history
//! before it is missing (and skip its appends). Schema v4's upgrade moves the
//! events and claims of an older database into such records (their indexes
//! see them like any other), and drops the old journal, whose positions
//! then answer `gap`.
//!
//! Every commit is one `readwrite` transaction: it reads the claims and heads
//! it depends on, and writes only if every claim is absent and every head is
//! the expected one; the record it writes is the change feed
//! ([`Store::changes`]) that lets a client refresh every cached stream with
//! one request. A decided group ([`Store::decide_group`]) reads the journal,
//! runs the caller's decision and writes in one transaction; expecting every
//! commit to pass, it writes without reading first and aborts (nothing
//! written) on any refusal, then takes the checked path. IndexedDB serialises
//! readwrite transactions on overlapping stores across every connection
//! (tabs, workers), so the check and the write are atomic with respect to
//! every other writer; no lock or leader in JavaScript is involved.
//!
//! A decided group's transaction leaves out `units` (a group carrying unit
//! rows is sent down the checked path over both stores), and every read is
//! scoped to the stores it reads: a window read of unit rows then neither
//! waits for nor holds up the bookings being committed. Reads stay fresh and
//! monotonic: a transaction sees every transaction that committed before it
//! was created, whatever their scopes.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::sync::Arc;

use allot_core::error::{InputError, StoreError};
use allot_core::event::{Append, ClaimRecord, Event, UnitRow};
use allot_core::key;
use allot_core::model::{BookingId, Seq, StreamId, UnitId};
use allot_core::store::{
    Changes, Commit, CommitOutcome, DecideGroup, Decided, FeedPos, IndexEntry, KeyRange, ReadReq, Store, StreamSlice,
};
use indexed_db_futures::database::Database;
use indexed_db_futures::internals::SystemRepr;
use indexed_db_futures::prelude::*;
use indexed_db_futures::transaction::{Transaction, TransactionDurability, TransactionMode, TransactionOptions};
use js_sys::{Array, Object, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};

/// The schema version this build creates and reads.
pub const SCHEMA_VERSION: u32 = 4;

/// Where schema v1-v3 kept events, keyed by event key (moved into the
/// journal by v4).
const EVENTS_V3: &str = "events";
/// Where schema v1-v3 kept claims, keyed by claim key (moved by v4).
const CLAIMS_V3: &str = "claims";
/// Where schema v1 and v2 kept each stream's head (dropped by v3).
const HEADS_V2: &str = "heads";
const UNITS: &str = "units";
const IKEYS: &str = "ikeys";
const JOURNAL: &str = "journal";
/// The journal's unique multiEntry index over the event keys of its records.
const EKEYS: &str = "e";
/// The journal's unique multiEntry index over the claim keys of its records.
const CKEYS: &str = "c";
/// A record's claim records, in the order of its `c`.
const CLAIM_RECORDS: &str = "d";
const ALL_STORES: [&str; 2] = [UNITS, JOURNAL];
/// What a decided group touches: no unit rows. IndexedDB runs a
/// transaction once no earlier readwrite one over any of its stores is
/// unfinished, so leaving `units` out lets window reads (units only) run
/// while bookings commit instead of queueing behind every one of them.
const DECIDE_STORES: [&str; 1] = [JOURNAL];
/// Events or claims per horizon record written by the v4 upgrade: a read
/// of one legacy stream decodes the record holding it.
const LEGACY_RECORD_LEN_MAX: usize = 256;

/// How hard a commit waits for the disk (IndexedDB's transaction
/// durability hint).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    Relaxed,
    #[default]
    Default,
    Strict,
}

impl Durability {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "relaxed" => Some(Self::Relaxed),
            "default" => Some(Self::Default),
            "strict" => Some(Self::Strict),
            _ => None,
        }
    }
}

/// A connection to one allot database in IndexedDB.
#[derive(Debug, Clone)]
pub struct IdbStore {
    db: Database,
    durability: Durability,
    /// Set when another connection asked for a version change: this one
    /// closed itself, and every later call fails with `E_VERSION_CHANGE`.
    closed_by_upgrade: Rc<Cell<bool>>,
    /// Every stream's head as of a journal position, when this connection
    /// has read the journal from its origin with no gap: then a decided
    /// group whose page reached the journal's end in its own transaction
    /// checks its expected seqs here instead of with a `count` per write.
    known: Rc<RefCell<KnownHeads>>,
}

/// The heads of every stream at journal position `pos`, folded from pages
/// read contiguously from the origin (a stream absent is empty). Starts
/// valid at position 0 (nothing yet); a gap (history not in the journal)
/// makes it invalid for good.
#[derive(Debug)]
struct KnownHeads {
    pos: FeedPos,
    heads: hashbrown::HashMap<Vec<u8>, Seq>,
    valid: bool,
}

impl Default for KnownHeads {
    fn default() -> Self {
        Self { pos: 0, heads: hashbrown::HashMap::new(), valid: true }
    }
}

impl KnownHeads {
    /// Folds in the changes after `after` (a page read from the journal),
    /// if they continue what is known.
    fn learn(&mut self, after: FeedPos, c: &Changes) {
        if !self.valid || after != self.pos {
            return;
        }
        if c.gap {
            self.valid = false;
            return;
        }
        self.fold(&c.appends, c.pos);
    }

    /// Appends that take the journal from `self.pos` to `pos`.
    fn fold(&mut self, appends: &[Append], pos: FeedPos) {
        for a in appends {
            let head = self.heads.entry(a.stream.encode()).or_insert(0);
            if a.first != *head + 1 {
                // Not contiguous: the journal is not what this believed.
                self.valid = false;
                return;
            }
            *head += a.events.len() as Seq;
        }
        self.pos = pos;
    }

    /// The exact head of stream key `k`, when known as of `pos`.
    fn head(&self, pos: FeedPos, k: &[u8]) -> Option<Seq> {
        (self.valid && self.pos == pos).then(|| self.heads.get(k).copied().unwrap_or(0))
    }
}

fn bytes(b: &[u8]) -> JsValue {
    Uint8Array::from(b).into()
}

/// Bytes of a binary key or value read back (IndexedDB hands binary keys
/// back as ArrayBuffer, values as they were stored).
fn to_vec(v: &JsValue) -> Option<Vec<u8>> {
    if let Some(a) = v.dyn_ref::<Uint8Array>() {
        return Some(a.to_vec());
    }
    if let Some(b) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        return Some(Uint8Array::new(b).to_vec());
    }
    None
}

/// A journal record: the appends of one transaction in commit order, the
/// keys of their events, and the claims it made (`(claim key, record)`);
/// `horizon` marks history the feed does not hold (the v4 upgrade's).
fn journal_record(appends: &[Append], claims: &[(Vec<u8>, Vec<u8>)], horizon: bool) -> Result<JsValue, StoreError> {
    let record = Object::new();
    let set =
        |k: &str, v: &JsValue| Reflect::set(&record, &k.into(), v).map(drop).map_err(|_| corrupt("journal record"));
    set("b", &bytes(&Append::encode_all(appends)))?;
    let ekeys = Array::new();
    for a in appends {
        let k = a.stream.encode();
        for i in 0..a.events.len() {
            ekeys.push(&bytes(&event_key(&k, a.first + i as Seq)));
        }
    }
    set(EKEYS, &ekeys)?;
    let ckeys: Array = claims.iter().map(|(k, _)| bytes(k)).collect();
    let records: Array = claims.iter().map(|(_, r)| bytes(r)).collect();
    set(CKEYS, &ckeys)?;
    set(CLAIM_RECORDS, &records)?;
    if horizon {
        set("h", &JsValue::TRUE)?;
    }
    Ok(record.into())
}

/// The claim keyed `key` in a journal record found through its `c` index.
fn claim_in(record: &JsValue, key: &[u8]) -> Result<ClaimRecord, StoreError> {
    let array = |k: &str| Reflect::get(record, &k.into()).ok().and_then(|a| a.dyn_into::<Array>().ok());
    let keys = array(CKEYS).ok_or_else(|| corrupt("claim"))?;
    let at = keys.iter().position(|k| to_vec(&k).is_some_and(|k| k == key)).ok_or_else(|| corrupt("claim"))?;
    let records = array(CLAIM_RECORDS).ok_or_else(|| corrupt("claim"))?;
    ClaimRecord::decode(&to_vec(&records.get(at as u32)).ok_or_else(|| corrupt("claim"))?).map_err(Into::into)
}

/// The appends of a journal record.
fn appends_in(record: &JsValue) -> Result<Vec<Append>, StoreError> {
    let b = Reflect::get(record, &"b".into()).ok().and_then(|b| to_vec(&b)).ok_or_else(|| corrupt("journal record"))?;
    Ok(Append::decode_all(&b)?)
}

/// A unit row as stored: its bytes and its index keys (for the multiEntry index).
fn unit_value(row: &UnitRow) -> Result<JsValue, StoreError> {
    let value = Object::new();
    let ikeys: Array = row.index_keys.iter().map(|k| bytes(k)).collect();
    Reflect::set(&value, &"row".into(), &bytes(&row.encode())).map_err(|_| corrupt("unit row"))?;
    Reflect::set(&value, &IKEYS.into(), &ikeys).map_err(|_| corrupt("unit row"))?;
    Ok(value.into())
}

fn corrupt(what: &'static str) -> StoreError {
    StoreError::Corrupt(allot_core::DecodeError::Malformed { what, reason: "not the bytes allot stored" })
}

fn event_key(stream: &[u8], seq: Seq) -> Vec<u8> {
    let mut k = Vec::with_capacity(stream.len() + 8);
    k.extend_from_slice(stream);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// The journal's indexes: by event key and by claim key.
fn indexes(
    journal: &indexed_db_futures::object_store::ObjectStore<'_>,
) -> Result<(web_sys::IdbIndex, web_sys::IdbIndex), JsValue> {
    Ok((journal.as_sys().index(EKEYS)?, journal.as_sys().index(CKEYS)?))
}

/// Every possible event key of the stream keyed `stream`, as a key range.
fn stream_keys(stream: &[u8]) -> Result<JsValue, JsValue> {
    stream_keys_from(stream, 1)
}

/// The event keys of the stream keyed `stream` from seq `from` on.
fn stream_keys_from(stream: &[u8], from: Seq) -> Result<JsValue, JsValue> {
    web_sys::IdbKeyRange::bound(&bytes(&event_key(stream, from)), &bytes(&event_key(stream, Seq::MAX))).map(Into::into)
}

/// The result of a finished `count` request.
fn count_of(req: &web_sys::IdbRequest) -> Result<Seq, StoreError> {
    let n = req.result().ok().and_then(|n| n.as_f64()).filter(|f| *f >= 0.0 && f.fract() == 0.0);
    Ok(n.ok_or_else(|| corrupt("event count"))? as Seq)
}

/// The next outcome of a web-sys request: its result once it succeeds, or
/// the error it failed with (a cursor's request succeeds once per step).
async fn settled(req: &web_sys::IdbRequest) -> Result<JsValue, JsValue> {
    let done = js_sys::Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        req.set_onerror(Some(&reject));
    });
    match wasm_bindgen_futures::JsFuture::from(done).await {
        Ok(_) => req.result(),
        Err(e) => Err(req.error().ok().flatten().map_or(e, JsValue::from)),
    }
}

/// The key a successful `add` wrote, or the error it failed with. A failure
/// is kept from aborting the transaction on its own (its event's default)
/// and from reaching the transaction's handlers: the caller decides.
async fn added(req: &web_sys::IdbRequest) -> Result<JsValue, JsValue> {
    let done = js_sys::Promise::new(&mut |resolve, reject| {
        req.set_onsuccess(Some(&resolve));
        let on_error = Closure::once_into_js(move |e: web_sys::Event| {
            e.prevent_default();
            e.stop_propagation();
            let _ = reject.call0(&JsValue::UNDEFINED);
        });
        req.set_onerror(Some(on_error.unchecked_ref()));
    });
    match wasm_bindgen_futures::JsFuture::from(done).await {
        Ok(_) => req.result(),
        Err(e) => Err(req.error().ok().flatten().map_or(e, JsValue::from)),
    }
}

/// A unique index refused a write (IndexedDB's `ConstraintError`).
fn is_constraint(e: &JsValue) -> bool {
    e.dyn_ref::<web_sys::DomException>().is_some_and(|d| d.name() == "ConstraintError")
}

fn id_key(id: &UnitId) -> Vec<u8> {
    let mut k = Vec::new();
    key::encode_str(id.as_str(), &mut k);
    k
}

impl IdbStore {
    /// Opens (creating or upgrading) the database `name`.
    pub async fn open(name: &str, durability: Durability) -> Result<Self, StoreError> {
        let db = Database::open(name)
            .with_version(SCHEMA_VERSION)
            .with_on_upgrade_needed(|event, db| {
                // Each step takes the schema from one version to the next,
                // so any older database walks up to the current one.
                let old = event.old_version() as u32;
                if old < 1 {
                    let units = db.create_object_store(UNITS).build()?;
                    units
                        .create_index(IKEYS, indexed_db_futures::KeyPath::One(IKEYS))
                        .with_multi_entry(true)
                        .build()?;
                }
                if old < 2 {
                    // (v2's upgrade also wrote a horizon for v1's data; v4's
                    // below does it now.)
                    db.create_object_store(JOURNAL)
                        .with_auto_increment(true)
                        .with_key_path(indexed_db_futures::KeyPath::One("k"))
                        .build()?;
                }
                if old < 3 && db.object_store_names().any(|n| n == HEADS_V2) {
                    // Every head it held is its stream's event count.
                    db.delete_object_store(HEADS_V2)?;
                }
                if old < 4 {
                    to_v4(&db, old).map_err(indexed_db_futures::error::Error::from)?;
                }
                Ok(())
            })
            .await
            .map_err(open_error)?;
        let store = Self { db, durability, closed_by_upgrade: Rc::new(Cell::new(false)), known: Rc::default() };
        store.watch_version_changes();
        Ok(store)
    }

    /// Closes this connection when another one asks to upgrade the schema
    /// (a newer tab), so that the upgrade is never blocked by us and our
    /// callers get a typed error instead of a hang.
    fn watch_version_changes(&self) {
        let Ok(mut listener) = self.db.version_changes() else { return };
        let flag = self.closed_by_upgrade.clone();
        wasm_bindgen_futures::spawn_local(async move {
            if listener.recv().await.is_some() {
                flag.set(true);
                listener.db().clone().close();
            }
        });
    }

    /// Closes the connection (pending transactions finish first).
    pub fn close(self) {
        self.db.close();
    }

    pub fn name(&self) -> String {
        self.db.name()
    }

    fn check_open(&self) -> Result<(), StoreError> {
        if self.closed_by_upgrade.get() {
            return Err(StoreError::VersionChange("another connection upgraded the database; reopen it".into()));
        }
        Ok(())
    }

    /// A transaction over every store (what a commit may write).
    fn tx(&self, mode: TransactionMode) -> Result<Transaction<'_>, StoreError> {
        self.tx_on(&ALL_STORES, mode)
    }

    /// A transaction over `stores` only: a read scoped to what it reads
    /// waits only for the writers of those stores.
    fn tx_on(&self, stores: &[&str], mode: TransactionMode) -> Result<Transaction<'_>, StoreError> {
        self.check_open()?;
        let mut opts = TransactionOptions::new();
        opts.set_durability(match self.durability {
            Durability::Relaxed => TransactionDurability::Relaxed,
            Durability::Default => TransactionDurability::Default,
            Durability::Strict => TransactionDurability::Strict,
        });
        self.db.transaction(stores).with_mode(mode).with_options(opts).build().map_err(|e| self.error(e))
    }

    fn error(&self, e: indexed_db_futures::error::Error) -> StoreError {
        if self.closed_by_upgrade.get() {
            return StoreError::VersionChange(format!("closed for an upgrade: {e}"));
        }
        map_error(e)
    }

    /// [`IdbStore::error`] for a web-sys call's exception.
    fn js_error(&self, e: JsValue) -> StoreError {
        if self.closed_by_upgrade.get() {
            return StoreError::VersionChange(format!("closed for an upgrade: {e:?}"));
        }
        map_js_error(e)
    }

    /// Commits inside one open readwrite transaction, in order, each on
    /// its own. Every read (the claims and heads all of them depend on) is
    /// sent at once and awaited once; then the commits are decided in order
    /// against what was read plus what earlier commits of the group wrote,
    /// and the writes of those that pass are sent. Two event-loop round trips
    /// for the whole group instead of one per request: that is what makes a
    /// group cheaper than its commits one by one.
    ///
    /// With `feed = Some((after, limit))` it also reads the journal after
    /// `after` in the same transaction and returns those changes, ending
    /// with this transaction's own record when the page reaches it.
    async fn commit_all(
        &self,
        tx: &Transaction<'_>,
        commits: &[&Commit],
        feed: Option<(FeedPos, u32)>,
    ) -> Result<(Vec<CommitOutcome>, Option<Changes>, Option<FeedPos>), StoreError> {
        let err = |e| self.error(e);
        let raw = |e: JsValue| self.js_error(e);
        // Only a commit with unit rows needs their store (a decided group's
        // transaction does not have it).
        let units = match commits.iter().any(|c| !c.units.is_empty()) {
            true => Some(tx.object_store(UNITS).map_err(err)?),
            false => None,
        };
        let journal = tx.object_store(JOURNAL).map_err(err)?;
        let (by_event, by_claim) = indexes(&journal).map_err(raw)?;
        // Distinct keys, each read once.
        let mut claim_keys: BTreeMap<Vec<u8>, Option<ClaimRecord>> = BTreeMap::new();
        let mut head_keys: BTreeMap<Vec<u8>, Seq> = BTreeMap::new();
        for c in commits {
            for cl in &c.claims {
                claim_keys.insert(cl.booking.encode(), None);
            }
            for w in &c.writes {
                head_keys.insert(w.stream.encode(), 0);
            }
        }
        let mut claim_reqs = Vec::with_capacity(claim_keys.len());
        for k in claim_keys.keys() {
            claim_reqs.push(by_claim.get(&bytes(k)).map_err(raw)?);
        }
        let mut head_reqs = Vec::with_capacity(head_keys.len());
        for k in head_keys.keys() {
            head_reqs.push(by_event.count_with_key(&stream_keys(k).map_err(raw)?).map_err(raw)?);
        }
        let feed_req = match feed {
            Some((after, limit)) => Some(journal_page(&journal, after, limit).map_err(err)?),
            None => None,
        };
        // Requests finish in the order sent: once the last has, all have.
        match (&feed_req, head_reqs.last().or(claim_reqs.last())) {
            (Some(_), _) => {}
            (None, Some(last)) => drop(settled(last).await.map_err(raw)?),
            (None, None) => {}
        }
        let mut changes = match (feed, feed_req) {
            (Some((after, limit)), Some(req)) => Some(read_journal_page(req.await.map_err(err)?, after, limit, err)?),
            _ => None,
        };
        for ((k, slot), req) in claim_keys.iter_mut().zip(&claim_reqs) {
            let v = req.result().map_err(raw)?;
            if !v.is_undefined() {
                *slot = Some(claim_in(&v, k)?);
            }
        }
        for (slot, req) in head_keys.values_mut().zip(&head_reqs) {
            *slot = count_of(req)?;
        }
        let mut out = Vec::with_capacity(commits.len());
        let mut appends: Vec<Append> = Vec::new();
        let mut claimed: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for c in commits {
            let outcome = decide(c, &claim_keys, &head_keys);
            if outcome == CommitOutcome::Committed {
                // Passed: into the group's record, and let later commits see it.
                for w in &c.writes {
                    if w.events.is_empty() {
                        continue;
                    }
                    appends.push(Append { stream: w.stream.clone(), first: w.expected + 1, events: w.events.clone() });
                    head_keys.insert(w.stream.encode(), w.expected + w.events.len() as Seq);
                }
                for cl in &c.claims {
                    let k = cl.booking.encode();
                    claimed.push((k.clone(), cl.record.encode()));
                    claim_keys.insert(k, Some(cl.record.clone()));
                }
                if let Some(units) = &units {
                    for row in &c.units {
                        units.put(unit_value(row)?).with_key(bytes(&id_key(row.id()))).primitive().map_err(err)?;
                    }
                }
            }
            out.push(outcome);
        }
        let mut own = None;
        if !appends.is_empty() || !claimed.is_empty() {
            // One journal record for the whole transaction, in commit order:
            // IndexedDB runs readwrite transactions on the journal one at a
            // time, so its keys follow the order commits took effect.
            let add = journal.as_sys().add(&journal_record(&appends, &claimed, false)?).map_err(raw)?;
            let pos = feed_pos(&settled(&add).await.map_err(raw)?)?;
            own = Some(pos);
            if let Some(c) = changes.as_mut().filter(|c| !c.more && !c.gap) {
                // The page reached the journal's end, which this record
                // extends: the caller learns its own appends too.
                if pos <= c.pos {
                    return Err(corrupt("journal key"));
                }
                c.pos = pos;
                c.appends.extend(appends);
            }
        }
        Ok((out, changes, own))
    }

    /// A group commit in one readwrite transaction (invalid commits answered
    /// on their own), optionally reading the change feed in it.
    async fn group(
        &self,
        commits: &[Commit],
        feed: Option<(FeedPos, u32)>,
    ) -> Result<(Vec<Result<CommitOutcome, InputError>>, Option<Changes>), StoreError> {
        let tx = self.tx(TransactionMode::Readwrite)?;
        let (out, changes, _) = self.group_in(tx, commits, feed).await?;
        // Committed (or nothing written): the page, with this group's own
        // record when it reached the end, is what the journal holds.
        if let (Some((after, _)), Some(c)) = (feed, &changes) {
            self.known.borrow_mut().learn(after, c);
        }
        Ok((out, changes))
    }

    /// [`IdbStore::group`] in an open readwrite transaction, which it
    /// commits (or drops unwritten when nothing committed); also the
    /// journal position of the group's own record, if it wrote one.
    async fn group_in(
        &self,
        tx: Transaction<'_>,
        commits: &[Commit],
        feed: Option<(FeedPos, u32)>,
    ) -> Result<(Vec<Result<CommitOutcome, InputError>>, Option<Changes>, Option<FeedPos>), StoreError> {
        let valid: Vec<&Commit> = commits.iter().filter(|c| c.validate().is_ok()).collect();
        let (decided, changes, own) = self.commit_all(&tx, &valid, feed).await?;
        let mut decided = decided.into_iter();
        let mut out = Vec::with_capacity(commits.len());
        let mut any_committed = false;
        for c in commits {
            out.push(match c.validate() {
                Err(e) => Err(e),
                Ok(()) => {
                    let o = decided.next().ok_or_else(|| corrupt("commit group"))?;
                    any_committed |= o == CommitOutcome::Committed;
                    Ok(o)
                }
            });
        }
        if any_committed {
            tx.commit().await.map_err(|e| commit_error(self.error(e)))?;
        }
        // Otherwise the transaction is dropped unwritten (a rollback).
        Ok((out, changes, own))
    }

    /// The fast path of a group decided inside its transaction: its record
    /// `add`ed with no read before it, and checks that can only confirm or
    /// abort. The journal's unique indexes refuse the record if one of its
    /// event keys is taken (a stream moved on) or one of its claim keys is
    /// (the request was made); an append to an empty stream needs nothing
    /// more (its first event is refused if the stream is not empty); any
    /// other write also counts the stream's events from its expected seq on
    /// (exactly one: the head is the expected seq). Commits of one group
    /// never write the same event key twice (the caller decided them on one
    /// state; a group that does is refused by the index too). Every commit
    /// committed: `Some` (with the position of the group's journal record);
    /// any refusal or failed check: the whole transaction is aborted,
    /// nothing is written, `None`. Unit rows are not written here (a
    /// decided group's transaction lacks their store): a commit carrying any
    /// is refused the same way.
    ///
    /// With `end` (the journal's end, read in this transaction) where this
    /// connection knows every head ([`KnownHeads`]), the expected seqs are
    /// checked against those instead, before anything is sent: no `count`,
    /// and the record is sent with the commit right behind it (one round
    /// trip less). A refused record then aborts the transaction by itself.
    async fn commit_fast(
        &self,
        tx: Transaction<'_>,
        commits: &[Commit],
        end: Option<FeedPos>,
    ) -> Result<Option<Option<FeedPos>>, StoreError> {
        if commits.iter().any(|c| !c.units.is_empty()) {
            return Ok(None);
        }
        let known = self.check_known(end, commits);
        if known == Some(false) {
            return Ok(None); // moved on: the checked path says how
        }
        let err = |e| self.error(e);
        let raw = |e: JsValue| self.js_error(e);
        let journal = tx.object_store(JOURNAL).map_err(err)?;
        // The requests go straight to web-sys: none is awaited on its own
        // (only the last one below), and a request future of
        // indexed_db_futures costs more to set up than IndexedDB takes to
        // run the request (measured: ~20 ms of a 64-booking transaction).
        let (by_event, _) = indexes(&journal).map_err(raw)?;
        let mut checks: Vec<(web_sys::IdbRequest, Seq)> = Vec::new();
        let mut appends: Vec<Append> = Vec::new();
        let mut claimed: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for c in commits {
            for w in &c.writes {
                if known.is_none() && (w.expected > 0 || w.events.is_empty()) {
                    let range = stream_keys_from(&w.stream.encode(), w.expected.max(1)).map_err(raw)?;
                    checks.push((by_event.count_with_key(&range).map_err(raw)?, Seq::from(w.expected > 0)));
                }
                if !w.events.is_empty() {
                    appends.push(Append { stream: w.stream.clone(), first: w.expected + 1, events: w.events.clone() });
                }
            }
            claimed.extend(c.claims.iter().map(|cl| (cl.booking.encode(), cl.record.encode())));
        }
        if known == Some(true) {
            let add = match appends.is_empty() && claimed.is_empty() {
                true => None,
                false => Some(journal.as_sys().add(&journal_record(&appends, &claimed, false)?).map_err(raw)?),
            };
            return match (tx.commit().await, add) {
                (Ok(()), None) => Ok(Some(None)),
                (Ok(()), Some(add)) => {
                    let own = feed_pos(&add.result().map_err(raw)?)?;
                    self.learn_own(end, &appends, own);
                    Ok(Some(Some(own)))
                }
                (Err(_), Some(add)) if add.error().ok().flatten().is_some_and(|e| e.name() == "ConstraintError") => {
                    Ok(None) // refused: the transaction aborted, nothing written
                }
                (Err(e), _) => Err(commit_error(self.error(e))),
            };
        }
        // The last request: requests finish in the order sent, so once it
        // has, every check is known. A refused `add` fails its request; the
        // handler keeps the failure from aborting the transaction on its own
        // (and from reaching the transaction's handlers); the transaction
        // is then dropped, which aborts it.
        let own = if appends.is_empty() && claimed.is_empty() {
            settled(&journal.as_sys().count().map_err(raw)?).await.map_err(raw)?;
            None
        } else {
            let add = journal.as_sys().add(&journal_record(&appends, &claimed, false)?).map_err(raw)?;
            match added(&add).await {
                Ok(k) => Some(feed_pos(&k)?),
                Err(e) if is_constraint(&e) => return Ok(None),
                Err(e) => return Err(raw(e)),
            }
        };
        // Finished too (requests finish in the order sent): their results
        // are there to read.
        for (count, want) in checks {
            if count_of(&count)? != want {
                // Moved on: dropping the transaction aborts it.
                return Ok(None);
            }
        }
        tx.commit().await.map_err(|e| commit_error(self.error(e)))?;
        if let Some(own) = own {
            self.learn_own(end, &appends, own);
        }
        Ok(Some(own))
    }

    /// Whether every write of `commits` expects the head this connection
    /// knows for it at `end` (the journal's end in the caller's
    /// transaction), each commit after the earlier ones' writes: `None`
    /// when the heads are not known there.
    fn check_known(&self, end: Option<FeedPos>, commits: &[Commit]) -> Option<bool> {
        let end = end?;
        let known = self.known.borrow();
        let mut written: BTreeMap<Vec<u8>, Seq> = BTreeMap::new();
        for c in commits {
            for w in &c.writes {
                let k = w.stream.encode();
                let head = match written.get(&k) {
                    Some(h) => *h,
                    None => known.head(end, &k)?,
                };
                if head != w.expected {
                    return Some(false);
                }
                written.insert(k, w.expected + w.events.len() as Seq);
            }
        }
        Some(true)
    }

    /// Folds this connection's own record at `own`, written right after
    /// the journal's end `end` in one transaction, into the known heads.
    fn learn_own(&self, end: Option<FeedPos>, appends: &[Append], own: FeedPos) {
        let mut known = self.known.borrow_mut();
        if known.valid && Some(known.pos) == end {
            known.fold(appends, own);
        }
    }

    /// [`Store::decide_group`] in one readwrite transaction: the journal
    /// page, the decision, the checks and the writes. IndexedDB runs
    /// readwrite transactions over the same stores one at a time, so the
    /// decision sees every commit before its own and none lands in between.
    async fn decide_in_tx(
        &self,
        after: Option<FeedPos>,
        limit: u32,
        asked: &[BookingId],
        decide: &mut DecideGroup<'_>,
    ) -> Result<Decided, StoreError> {
        let err = |e| self.error(e);
        let tx = self.tx_on(&DECIDE_STORES, TransactionMode::Readwrite)?;
        // Every read sent at once (the claims, then the journal page), and
        // the last one awaited: one round trip, requests finish in order.
        let gets = self.send_claim_gets(&tx, asked)?;
        let changes = match after {
            Some(after) => {
                let journal = tx.object_store(JOURNAL).map_err(err)?;
                let page = journal_page(&journal, after, limit).map_err(err)?;
                Some(read_journal_page(page.await.map_err(err)?, after, limit, err)?)
            }
            None => {
                if let Some(last) = gets.last() {
                    settled(last).await.map_err(|e| self.js_error(e))?;
                }
                None
            }
        };
        let claims = self.claims_read(asked, &gets)?;
        if let (Some(after), Some(c)) = (after, &changes) {
            self.known.borrow_mut().learn(after, c);
        }
        let at_end = changes.as_ref().filter(|c| !c.more && !c.gap).map(|c| c.pos);
        // Synchronous: the transaction stays active (no await in between).
        let commits = decide(changes, claims)?;
        if commits.is_empty() {
            return Ok(Decided { commits, results: Vec::new(), pos: at_end });
        }
        // Unit rows are outside this transaction's stores.
        if commits.iter().all(|c| c.units.is_empty()) {
            if commits.iter().all(|c| c.validate().is_ok()) {
                // A decision on the journal read in this very transaction
                // expects every commit to pass: write without reading first.
                if let Some(own) = self.commit_fast(tx, &commits, at_end).await? {
                    let results = commits.iter().map(|_| Ok(CommitOutcome::Committed)).collect();
                    return Ok(Decided { commits, results, pos: at_end.map(|end| own.unwrap_or(end)) });
                }
                // Refused, nothing written: the checked path below.
            } else {
                let (results, _, own) = self.group_in(tx, &commits, None).await?;
                // Up to the journal's end, then this group's own record (if any).
                let pos = at_end.map(|end| own.unwrap_or(end));
                return Ok(Decided { commits, results, pos });
            }
        } else {
            drop(tx); // unwritten
        }
        // The checked path over every store, in a new transaction (others
        // may commit in between: no position).
        let tx = self.tx(TransactionMode::Readwrite)?;
        let (results, _, _) = self.group_in(tx, &commits, None).await?;
        Ok(Decided { commits, results, pos: None })
    }

    /// One `get` per booking id on the journal's claim index in `tx`, sent
    /// at once.
    fn send_claim_gets(&self, tx: &Transaction<'_>, ids: &[BookingId]) -> Result<Vec<web_sys::IdbRequest>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let raw = |e: JsValue| self.js_error(e);
        let journal = tx.object_store(JOURNAL).map_err(|e| self.error(e))?;
        let (_, by_claim) = indexes(&journal).map_err(raw)?;
        let mut gets = Vec::with_capacity(ids.len());
        for id in ids {
            gets.push(by_claim.get(&bytes(&id.encode())).map_err(raw)?);
        }
        Ok(gets)
    }

    /// The claims of `ids` that `gets` read (finished requests of
    /// [`Self::send_claim_gets`]).
    fn claims_read(
        &self,
        ids: &[BookingId],
        gets: &[web_sys::IdbRequest],
    ) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        let mut out = Vec::with_capacity(gets.len());
        for (id, g) in ids.iter().zip(gets) {
            let v = g.result().map_err(|e| self.js_error(e))?;
            out.push(match v.is_undefined() {
                true => None,
                false => Some(claim_in(&v, &id.encode())?),
            });
        }
        Ok(out)
    }

    /// The journal's last position (0 when empty), inside `tx`.
    async fn feed_end(
        &self,
        journal: &indexed_db_futures::object_store::ObjectStore<'_>,
    ) -> Result<FeedPos, StoreError> {
        let err = |e| self.error(e);
        let cursor = journal
            .open_key_cursor()
            .with_direction(indexed_db_futures::cursor::CursorDirection::Prev)
            .await
            .map_err(err)?;
        let Some(mut cursor) = cursor else { return Ok(0) };
        match cursor.next_key::<JsValue>().await.map_err(err)? {
            Some(k) => feed_pos(&k),
            None => Ok(0),
        }
    }
}

/// Schema v4's step of an upgrade: the journal's two unique indexes, and
/// an older database's events and claims moved into it.
fn to_v4(db: &Database, old: u32) -> Result<(), JsValue> {
    // indexed_db_futures hands the upgrade callback no transaction, and an
    // existing store is reached only through one: a scratch store's
    // transaction is the version change transaction itself.
    const SCRATCH: &str = "allot-upgrade-scratch";
    let scratch = db.as_sys().create_object_store(SCRATCH)?;
    let tx = scratch.transaction();
    db.as_sys().delete_object_store(SCRATCH)?;
    let journal = tx.object_store(JOURNAL)?;
    let params = web_sys::IdbIndexParameters::new();
    params.set_multi_entry(true);
    params.set_unique(true);
    for index in [EKEYS, CKEYS] {
        journal.create_index_with_str_and_optional_parameters(index, index, &params)?;
    }
    if old >= 1 {
        move_into_journal(tx)?;
    }
    Ok(())
}

/// Schema v4's upgrade of a v1-v3 database, inside its version change
/// transaction: reads every event and claim of the old stores, then (in the
/// last read's success handler, where the transaction is still active)
/// clears the journal, writes them as horizon records and drops the old
/// stores. Any failure aborts the upgrade, which fails the open and leaves
/// the database as it was.
fn move_into_journal(tx: web_sys::IdbTransaction) -> Result<(), JsValue> {
    let events = tx.object_store(EVENTS_V3)?;
    let claims = tx.object_store(CLAIMS_V3)?;
    let reads = [events.get_all_keys()?, events.get_all()?, claims.get_all_keys()?, claims.get_all()?];
    let last = reads[3].clone();
    let on_read = Closure::once_into_js(move || {
        let moved = (|| -> Result<(), StoreError> {
            let results: Vec<Array> = reads
                .iter()
                .map(|r| r.result().ok().and_then(|v| v.dyn_into::<Array>().ok()).ok_or_else(|| corrupt("v3 store")))
                .collect::<Result<_, _>>()?;
            let fail = |_| corrupt("v3 store");
            let journal = tx.object_store(JOURNAL).map_err(fail)?;
            journal.clear().map_err(fail)?;
            // Events in key order: each stream's, by seq from 1.
            let mut appends: Vec<Append> = Vec::new();
            let mut pending = 0;
            for (k, v) in results[0].iter().zip(results[1].iter()) {
                let k = to_vec(&k).ok_or_else(|| corrupt("event key"))?;
                let split = k.len().checked_sub(8).filter(|n| *n > 0).ok_or_else(|| corrupt("event key"))?;
                let (stream, seq) = k.split_at(split);
                let seq = Seq::from_be_bytes(seq.try_into().map_err(|_| corrupt("event key"))?);
                let event = Event::decode(&to_vec(&v).ok_or_else(|| corrupt("event"))?)?;
                let stream = StreamId::decode(stream)?;
                match appends.last_mut() {
                    Some(a) if a.stream == stream && a.first + a.events.len() as Seq == seq => a.events.push(event),
                    _ => appends.push(Append { stream, first: seq, events: vec![event] }),
                }
                pending += 1;
                if pending >= LEGACY_RECORD_LEN_MAX {
                    journal.add(&journal_record(&core::mem::take(&mut appends), &[], true)?).map_err(fail)?;
                    pending = 0;
                }
            }
            let mut claims: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
            for (k, v) in results[2].iter().zip(results[3].iter()) {
                claims.push((
                    to_vec(&k).ok_or_else(|| corrupt("claim key"))?,
                    to_vec(&v).ok_or_else(|| corrupt("claim"))?,
                ));
                if claims.len() >= LEGACY_RECORD_LEN_MAX {
                    journal.add(&journal_record(&[], &core::mem::take(&mut claims), true)?).map_err(fail)?;
                }
            }
            // At least one horizon, even for an empty database: history
            // before it (the old journal) is gone.
            journal.add(&journal_record(&appends, &claims, true)?).map_err(fail)?;
            let db = journal.transaction().db();
            db.delete_object_store(EVENTS_V3).map_err(fail)?;
            db.delete_object_store(CLAIMS_V3).map_err(fail)?;
            Ok(())
        })();
        if moved.is_err() {
            let _ = tx.abort();
        }
    });
    last.set_onsuccess(Some(on_read.unchecked_ref()));
    Ok(())
}

type JournalRequest = indexed_db_futures::future::GetAllPrimitiveRequest<JsValue>;

/// Asks for the journal page after `after`: from `after` itself
/// (inclusive), because its record must still be there or the feed no
/// longer reaches back to it, and one more than `limit` to tell whether
/// more follow.
fn journal_page(
    journal: &indexed_db_futures::object_store::ObjectStore<'_>,
    after: FeedPos,
    limit: u32,
) -> indexed_db_futures::Result<JournalRequest> {
    let range = indexed_db_futures::KeyRange::LowerBound(JsValue::from_f64(after as f64), false);
    let want = limit.saturating_add(1).saturating_add(u32::from(after > 0));
    journal.get_all::<JsValue>().with_query::<JsValue, _>(range).with_limit(want).primitive()
}

/// The changes in a journal page asked for by [`journal_page`].
fn read_journal_page(
    records: indexed_db_futures::iter::ArrayMapIter<JsValue>,
    after: FeedPos,
    limit: u32,
    err: impl Fn(indexed_db_futures::error::Error) -> StoreError,
) -> Result<Changes, StoreError> {
    let mut records = records.peekable();
    let mut gap = false;
    if after > 0 {
        match records.peek() {
            Some(Ok(first)) if feed_pos(&Reflect::get(first, &"k".into()).unwrap_or_default())? == after => {
                records.next();
            }
            _ => gap = true,
        }
    }
    let mut out = Changes { pos: after, appends: Vec::new(), more: false, gap };
    for (taken, r) in records.enumerate() {
        if taken == limit as usize {
            out.more = true;
            break;
        }
        let r = r.map_err(&err)?;
        let pos = feed_pos(&Reflect::get(&r, &"k".into()).unwrap_or_default())?;
        if pos <= out.pos {
            return Err(corrupt("journal key"));
        }
        out.pos = pos;
        if Reflect::get(&r, &"h".into()).is_ok_and(|h| h.is_truthy()) {
            out.gap = true; // history before the horizon is not here
            continue;
        }
        let b = Reflect::get(&r, &"b".into()).ok().and_then(|b| to_vec(&b)).ok_or_else(|| corrupt("journal record"))?;
        out.appends.extend(Append::decode_all(&b)?);
    }
    Ok(out)
}

/// A journal key: a positive integer.
fn feed_pos(k: &JsValue) -> Result<FeedPos, StoreError> {
    k.as_f64().filter(|f| *f >= 1.0 && f.fract() == 0.0).map(|f| f as FeedPos).ok_or_else(|| corrupt("journal key"))
}

/// The append-expect decision for one commit against the claims and heads
/// as they stand (read, plus earlier commits of the same transaction).
/// Claims first, as the contract says.
fn decide(
    c: &Commit,
    claims: &BTreeMap<Vec<u8>, Option<ClaimRecord>>,
    heads: &BTreeMap<Vec<u8>, Seq>,
) -> CommitOutcome {
    for cl in &c.claims {
        if let Some(Some(existing)) = claims.get(&cl.booking.encode()) {
            return CommitOutcome::Duplicate { booking: cl.booking.clone(), existing: existing.clone() };
        }
    }
    for w in &c.writes {
        let actual = heads.get(&w.stream.encode()).copied().unwrap_or(0);
        if actual != w.expected {
            return CommitOutcome::Conflict { stream: w.stream.clone(), expected: w.expected, actual };
        }
    }
    CommitOutcome::Committed
}

fn open_error(e: indexed_db_futures::error::OpenDbError) -> StoreError {
    let s = format!("{e}");
    if s.contains("VersionError") {
        return StoreError::VersionChange(format!(
            "the database was created by a newer allot (schema above {SCHEMA_VERSION}): {s}"
        ));
    }
    StoreError::Unavailable(format!("cannot open IndexedDB: {s}"))
}

fn map_error(e: indexed_db_futures::error::Error) -> StoreError {
    classify(format!("{e}"))
}

/// A store error for what a web-sys call threw (a `DOMException`, named as
/// `indexed_db_futures` names it).
fn map_js_error(e: JsValue) -> StoreError {
    classify(match e.dyn_ref::<web_sys::DomException>() {
        Some(d) => format!("{}: {}", d.name(), d.message()),
        None => format!("{e:?}"),
    })
}

fn classify(s: String) -> StoreError {
    if s.contains("QuotaExceeded") {
        StoreError::QuotaExceeded(s)
    } else if s.contains("Abort") || s.contains("TransactionInactive") {
        StoreError::Aborted(s)
    } else if s.contains("InvalidState") {
        StoreError::Unavailable(format!("the connection is closed: {s}"))
    } else {
        StoreError::Unavailable(s)
    }
}

/// The `n`th smallest (from 0) of a row's index keys in `range`. A row has
/// a few index keys: picked by counting, with no sort (whose code would
/// cost the npm package more than this loop ever costs a query).
fn nth_in_range(keys: &[Vec<u8>], range: &KeyRange, n: usize) -> Option<Vec<u8>> {
    let in_range = || keys.iter().filter(|k| range.contains(k));
    // A key's rank is how many keys sort before it; equal keys share it,
    // and the first of them answers for every rank they cover.
    in_range()
        .find(|k| {
            let below = in_range().filter(|o| o < k).count();
            let equal = in_range().filter(|o| o == k).count();
            below <= n && n < below + equal
        })
        .cloned()
}

/// `IDBKeyRange` for a byte range `[start, end)`.
fn key_range(r: &KeyRange) -> Option<indexed_db_futures::KeyRange<JsValue>> {
    if let Some(end) = &r.end {
        if end.as_slice() <= r.start.as_slice() {
            return None; // empty: IndexedDB rejects inverted ranges
        }
        return Some(indexed_db_futures::KeyRange::Bound(bytes(&r.start), false, bytes(end), true));
    }
    Some(indexed_db_futures::KeyRange::LowerBound(bytes(&r.start), false))
}

fn direction(r: &KeyRange) -> indexed_db_futures::cursor::CursorDirection {
    if r.reverse {
        indexed_db_futures::cursor::CursorDirection::Prev
    } else {
        indexed_db_futures::cursor::CursorDirection::Next
    }
}

impl IdbStore {
    /// Index entries in a forward `range` with their unit rows, from one
    /// `getAll` on the multiEntry index (one request instead of a cursor
    /// step per entry). The entry key of a record is the one of its index
    /// keys in the range (a record in the range k times has k of them, in
    /// key order).
    async fn index_rows(
        &self,
        units: &indexed_db_futures::object_store::ObjectStore<'_>,
        range: &KeyRange,
        kr: indexed_db_futures::KeyRange<JsValue>,
    ) -> Result<Vec<(IndexEntry, Arc<UnitRow>)>, StoreError> {
        let err = |e| self.error(e);
        let index = units.index(IKEYS).map_err(err)?;
        let records =
            index.get_all::<JsValue>().with_query::<JsValue, _>(kr).with_limit(range.limit).primitive().map_err(err)?;
        // Times each unit was met so far, by its key in `units`: the same
        // map type as the heads of `commit_all`, so no B-tree code of its own.
        let mut seen: BTreeMap<Vec<u8>, Seq> = BTreeMap::new();
        let mut out = Vec::new();
        for v in records.await.map_err(err)? {
            let row = decode_unit(&v.map_err(err)?)?;
            let id = id_key(row.id());
            let n = seen.get(&id).copied().unwrap_or(0);
            let key = nth_in_range(&row.index_keys, range, n as usize).ok_or_else(|| corrupt("index entry"))?;
            seen.insert(id, n + 1);
            out.push((IndexEntry { key, unit: row.id().clone() }, row));
        }
        Ok(out)
    }

    /// Stream slices read inside an open transaction: every request sent at
    /// once, then awaited. A stream's events are in the journal records its
    /// event keys index: one `getAll` on the index over the keys after the
    /// seq asked for gives them (a record once per key it has there). A
    /// read from the start needs nothing more (seqs are contiguous from 1,
    /// so the head is the number of events); a read after some seq also
    /// counts the stream's keys (its head may be below that seq). A record
    /// holding many of the streams asked for is decoded once.
    async fn read_in(
        &self,
        journal: &indexed_db_futures::object_store::ObjectStore<'_>,
        reqs: &[ReadReq],
    ) -> Result<Vec<StreamSlice>, StoreError> {
        let raw = |e: JsValue| self.js_error(e);
        let (by_event, _) = indexes(journal).map_err(raw)?;
        let mut pending = Vec::with_capacity(reqs.len());
        for r in reqs {
            let k = r.stream.encode();
            let head = match r.after {
                0 => None,
                _ => Some(by_event.count_with_key(&stream_keys(&k).map_err(raw)?).map_err(raw)?),
            };
            let range = stream_keys_from(&k, r.after.saturating_add(1)).map_err(raw)?;
            pending.push((head, by_event.get_all_with_key(&range).map_err(raw)?));
        }
        if let Some((_, last)) = pending.last() {
            settled(last).await.map_err(raw)?;
        }
        let mut decoded: BTreeMap<FeedPos, Vec<Append>> = BTreeMap::new();
        let mut out = Vec::with_capacity(reqs.len());
        for (r, (head, all)) in reqs.iter().zip(pending) {
            let records: Array = all.result().map_err(raw)?.dyn_into().map_err(|_| corrupt("journal record"))?;
            let mut evs = Vec::new();
            let mut last_pos = 0;
            for record in records.iter() {
                let pos = feed_pos(&Reflect::get(&record, &"k".into()).unwrap_or_default())?;
                if pos == last_pos {
                    continue; // the same record, for its next key
                }
                last_pos = pos;
                let appends = match decoded.entry(pos) {
                    std::collections::btree_map::Entry::Occupied(o) => o.into_mut(),
                    std::collections::btree_map::Entry::Vacant(v) => v.insert(appends_in(&record)?),
                };
                for a in appends.iter().filter(|a| a.stream == r.stream) {
                    for (i, e) in a.events.iter().enumerate() {
                        let seq = a.first + i as Seq;
                        if seq <= r.after {
                            continue;
                        }
                        if seq != r.after + 1 + evs.len() as Seq {
                            return Err(corrupt("event seq"));
                        }
                        evs.push(e.clone());
                    }
                }
            }
            let head = match head {
                None => evs.len() as Seq,
                Some(n) => count_of(&n)?,
            };
            out.push(StreamSlice { head, events: evs });
        }
        Ok(out)
    }
}

impl Store for IdbStore {
    async fn read_window(
        &self,
        range: &KeyRange,
        reads: &allot_core::store::WindowReads<'_>,
    ) -> Result<allot_core::store::Window, StoreError> {
        use allot_core::store::Window;
        let Some(kr) = key_range(range) else { return Ok(Window::default()) };
        if range.reverse || range.limit == 0 {
            // getAll has no direction: the three separate reads.
            return allot_core::store::window_in_parts(self, range, reads).await;
        }
        let err = |e| self.error(e);
        // The window with its rows (one getAll) in a transaction over the
        // units alone, which commits of bookings do not wait for or block.
        // A client whose cache is current asks for no stream.
        {
            let tx = self.tx_on(&[UNITS], TransactionMode::Readonly)?;
            let units = tx.object_store(UNITS).map_err(err)?;
            let found = self.index_rows(&units, range, kr.clone()).await?;
            let mut wanted = Vec::new();
            found.iter().for_each(|(_, r)| reads(r, &mut wanted));
            if wanted.is_empty() {
                let (entries, rows) = found.into_iter().map(|(e, r)| (e, Some(r))).unzip();
                return Ok(Window { entries, rows, reads: Vec::new(), slices: Vec::new() });
            }
        }
        // Streams too: one readonly transaction over rows and streams, so
        // that both are of one state: the window with its rows again, then
        // every head and every event range it asks for, all at once.
        let tx = self.tx_on(&ALL_STORES, TransactionMode::Readonly)?;
        let units = tx.object_store(UNITS).map_err(err)?;
        let journal = tx.object_store(JOURNAL).map_err(err)?;
        let found = self.index_rows(&units, range, kr).await?;
        let mut reqs: Vec<ReadReq> = Vec::new();
        found.iter().for_each(|(_, r)| reads(r, &mut reqs));
        let slices = self.read_in(&journal, &reqs).await?;
        let (entries, rows) = found.into_iter().map(|(e, r)| (e, Some(r))).unzip();
        Ok(Window { entries, rows, reads: reqs, slices })
    }

    async fn changes(&self, after: FeedPos, limit: u32) -> Result<Option<Changes>, StoreError> {
        let err = |e| self.error(e);
        self.check_open()?;
        let tx = self.db.transaction(JOURNAL).with_mode(TransactionMode::Readonly).build().map_err(err)?;
        let journal = tx.object_store(JOURNAL).map_err(err)?;
        if limit == 0 {
            let pos = self.feed_end(&journal).await?;
            return Ok(Some(Changes { pos, appends: Vec::new(), more: false, gap: after > pos }));
        }
        let records = journal_page(&journal, after, limit).map_err(err)?.await.map_err(err)?;
        let changes = read_journal_page(records, after, limit, err)?;
        self.known.borrow_mut().learn(after, &changes);
        Ok(Some(changes))
    }

    async fn commit_group_and_changes(
        &self,
        commits: &[Commit],
        after: FeedPos,
        limit: u32,
    ) -> Result<(Vec<Result<CommitOutcome, InputError>>, Option<Changes>), StoreError> {
        if limit == 0 {
            // Only the end: nothing to read with the commit.
            let out = self.commit_group(commits).await?;
            return Ok((out, self.changes(after, 0).await.ok().flatten()));
        }
        self.group(commits, Some((after, limit))).await
    }

    async fn decide_group(
        &self,
        after: Option<FeedPos>,
        limit: u32,
        claims: &[BookingId],
        decide: &mut DecideGroup<'_>,
    ) -> Result<Decided, StoreError> {
        self.decide_in_tx(after, limit, claims, decide).await
    }

    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        if reqs.is_empty() {
            return Ok(Vec::new());
        }
        let err = |e| self.error(e);
        let tx = self.tx_on(&[JOURNAL], TransactionMode::Readonly)?;
        let journal = tx.object_store(JOURNAL).map_err(err)?;
        self.read_in(&journal, reqs).await
    }

    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        commit.validate()?;
        let tx = self.tx(TransactionMode::Readwrite)?;
        let outcome = self.commit_all(&tx, &[commit], None).await?.0.pop().unwrap_or(CommitOutcome::Committed);
        if outcome == CommitOutcome::Committed {
            tx.commit().await.map_err(|e| commit_error(self.error(e)))?;
        }
        // Otherwise the transaction is dropped unwritten (a rollback).
        Ok(outcome)
    }

    async fn commit_group(&self, commits: &[Commit]) -> Result<Vec<Result<CommitOutcome, InputError>>, StoreError> {
        if commits.is_empty() {
            return Ok(Vec::new());
        }
        Ok(self.group(commits, None).await?.0)
    }

    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let tx = self.tx_on(&[JOURNAL], TransactionMode::Readonly)?;
        let gets = self.send_claim_gets(&tx, ids)?;
        if let Some(last) = gets.last() {
            settled(last).await.map_err(|e| self.js_error(e))?;
        }
        self.claims_read(ids, &gets)
    }

    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let err = |e| self.error(e);
        let tx = self.tx_on(&[UNITS], TransactionMode::Readonly)?;
        let units = tx.object_store(UNITS).map_err(err)?;
        let mut reqs = Vec::with_capacity(ids.len());
        for id in ids {
            reqs.push(units.get::<JsValue, _, _>(bytes(&id_key(id))).primitive().map_err(err)?);
        }
        let mut out = Vec::with_capacity(ids.len());
        for r in reqs {
            out.push(match r.await.map_err(err)? {
                None => None,
                Some(v) => Some(decode_unit(&v)?),
            });
        }
        Ok(out)
    }

    async fn scan_index(&self, range: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        let Some(kr) = key_range(range) else { return Ok(Vec::new()) };
        if range.limit == 0 {
            return Ok(Vec::new());
        }
        let err = |e| self.error(e);
        let tx = self.tx_on(&[UNITS], TransactionMode::Readonly)?;
        let units = tx.object_store(UNITS).map_err(err)?;
        if !range.reverse {
            return Ok(self.index_rows(&units, range, kr).await?.into_iter().map(|(e, _)| e).collect());
        }
        let index = units.index(IKEYS).map_err(err)?;
        let mut out = Vec::new();
        let Some(mut cursor) =
            index.open_key_cursor().with_query::<JsValue, _>(kr).with_direction(direction(range)).await.map_err(err)?
        else {
            return Ok(out);
        };
        // The first `next_key` yields the current entry, later ones advance.
        while let Some(k) = cursor.next_key::<JsValue>().await.map_err(err)? {
            let Some(pk) = cursor.primary_key::<JsValue>().map_err(err)? else { break };
            let key = to_vec(&k).ok_or_else(|| corrupt("index key"))?;
            let id = to_vec(&pk).ok_or_else(|| corrupt("unit key"))?;
            let id: String = key::decode(&id).map_err(|_| corrupt("unit key"))?;
            let unit = UnitId::new(&id).map_err(|_| corrupt("unit key"))?;
            out.push(IndexEntry { key, unit });
            if out.len() >= range.limit as usize {
                break;
            }
        }
        Ok(out)
    }

    async fn scan_units(&self, range: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        let Some(kr) = key_range(range) else { return Ok(Vec::new()) };
        let err = |e| self.error(e);
        let tx = self.tx_on(&[UNITS], TransactionMode::Readonly)?;
        let units = tx.object_store(UNITS).map_err(err)?;
        let mut out = Vec::new();
        if range.limit == 0 {
            return Ok(out);
        }
        let Some(mut cursor) =
            units.open_cursor().with_query::<JsValue, _>(kr).with_direction(direction(range)).await.map_err(err)?
        else {
            return Ok(out);
        };
        loop {
            let Some(v) = cursor.next_record::<JsValue>().await.map_err(err)? else { break };
            out.push(decode_unit(&v)?);
            if out.len() >= range.limit as usize {
                break;
            }
        }
        Ok(out)
    }

    async fn scan_streams(&self, range: &KeyRange) -> Result<Vec<(StreamId, Seq)>, StoreError> {
        if key_range(range).is_none() || range.limit == 0 {
            return Ok(Vec::new());
        }
        let err = |e| self.error(e);
        let raw = |e: JsValue| self.js_error(e);
        let tx = self.tx_on(&[JOURNAL], TransactionMode::Readonly)?;
        let journal = tx.object_store(JOURNAL).map_err(err)?;
        let (ev, _) = indexes(&journal).map_err(raw)?;
        // The range bounds stream keys; as bounds of event keys they take
        // in every event of the streams in it, and maybe of a stream at a
        // bound that is not (filtered below).
        let bounds = match &range.end {
            Some(end) => web_sys::IdbKeyRange::bound_with_lower_open_and_upper_open(
                &bytes(&range.start),
                &bytes(end),
                false,
                true,
            ),
            None => web_sys::IdbKeyRange::lower_bound(&bytes(&range.start)),
        }
        .map_err(raw)?;
        let dir = if range.reverse { web_sys::IdbCursorDirection::Prev } else { web_sys::IdbCursorDirection::Next };
        let cursor_req = ev.open_key_cursor_with_range_and_direction(&bounds, dir).map_err(raw)?;
        // One cursor step per stream: backwards, the step lands on a
        // stream's last event (its seq is the head), then jumps below the
        // stream; forwards it lands on the first event, the head is
        // counted, then it jumps past the stream.
        let mut out = Vec::new();
        let mut counted: Vec<(StreamId, web_sys::IdbRequest)> = Vec::new();
        loop {
            let at = settled(&cursor_req).await.map_err(raw)?;
            let Some(cursor) = at.dyn_ref::<web_sys::IdbCursor>() else { break };
            let key = cursor.key().ok().and_then(|k| to_vec(&k)).ok_or_else(|| corrupt("event key"))?;
            let Some(split) = key.len().checked_sub(8).filter(|n| *n > 0) else { return Err(corrupt("event key")) };
            let (stream_key, seq) = key.split_at(split);
            let seq = Seq::from_be_bytes(seq.try_into().map_err(|_| corrupt("event key"))?);
            if range.contains(stream_key) {
                let stream = StreamId::decode(stream_key)?;
                // Backwards, the landing is the last event unless the range
                // ends inside the stream's keys (then it is counted too).
                let cut = range.end.as_ref().is_some_and(|e| event_key(stream_key, Seq::MAX) >= *e);
                if range.reverse && !cut {
                    out.push((stream, seq));
                } else {
                    let count = ev.count_with_key(&stream_keys(stream_key).map_err(raw)?).map_err(raw)?;
                    counted.push((stream, count));
                }
                if out.len() + counted.len() >= range.limit as usize {
                    // The last count may still run (nothing sent after it).
                    if let Some((_, last)) = counted.last() {
                        settled(last).await.map_err(raw)?;
                    }
                    break;
                }
            }
            let next = if range.reverse {
                event_key(stream_key, 0) // the greatest key at or below it: the stream before's last
            } else {
                let mut past = event_key(stream_key, Seq::MAX);
                past.push(0);
                past
            };
            cursor.continue_with_key(&bytes(&next)).map_err(raw)?;
        }
        // Requests finish in the order sent: every count has (each was sent
        // before the cursor's next step, or awaited above).
        let mut heads = Vec::with_capacity(counted.len());
        for (stream, count) in counted {
            heads.push((stream, count_of(&count)?));
        }
        // Forwards every head was counted; backwards at most the first
        // stream's (the one the range's end may cut), which comes first.
        heads.append(&mut out);
        Ok(heads)
    }

    async fn scan_claims(&self, range: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        let Some(kr) = key_range(range) else { return Ok(Vec::new()) };
        let err = |e| self.error(e);
        let tx = self.tx_on(&[JOURNAL], TransactionMode::Readonly)?;
        let journal = tx.object_store(JOURNAL).map_err(err)?;
        let by_claim = journal.index(CKEYS).map_err(err)?;
        let mut out = Vec::new();
        if range.limit == 0 {
            return Ok(out);
        }
        let Some(mut cursor) =
            by_claim.open_cursor().with_query::<JsValue, _>(kr).with_direction(direction(range)).await.map_err(err)?
        else {
            return Ok(out);
        };
        loop {
            // The record first: it moves the cursor, then the key is its own
            // (the claim's, in the index).
            let Some(v) = cursor.next_record::<JsValue>().await.map_err(err)? else { break };
            let k: Option<JsValue> = cursor.key().map_err(err)?;
            let k = k.and_then(|k| to_vec(&k)).ok_or_else(|| corrupt("claim key"))?;
            let record = claim_in(&v, &k)?;
            let booking = BookingId::decode(&k).map_err(|_| corrupt("claim key"))?;
            out.push((booking, record));
            if out.len() >= range.limit as usize {
                break;
            }
        }
        Ok(out)
    }
}

fn decode_unit(v: &JsValue) -> Result<Arc<UnitRow>, StoreError> {
    let row = Reflect::get(v, &"row".into()).map_err(|_| corrupt("unit row"))?;
    Ok(Arc::new(UnitRow::decode(&to_vec(&row).ok_or_else(|| corrupt("unit row"))?)?))
}

/// A failed `commit()` of a readwrite transaction: if the browser says it
/// aborted, nothing was written; anything else leaves the outcome unknown.
fn commit_error(e: StoreError) -> StoreError {
    match e {
        StoreError::Aborted(_) | StoreError::QuotaExceeded(_) | StoreError::VersionChange(_) => e,
        StoreError::Unavailable(m) => StoreError::OutcomeUnknown(m),
        other => other,
    }
}

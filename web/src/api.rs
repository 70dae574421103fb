//! The JavaScript API: `open()` and the `Db` class. Promise-based,
//! camelCase, plain objects in and out. Booking logic stays in allot-core;
//! this file only converts, dispatches and maps errors.

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use allot_core::error::{Error, InputError, StoreError};
use allot_core::event::{ClaimRecord, UnitRow};
use allot_core::limits::*;
use allot_core::model::*;
use allot_core::store::{
    Changes, Commit, CommitOutcome, DecideGroup, Decided, FeedPos, IndexEntry, KeyRange, ReadReq, StreamSlice,
    VacancyEpoch, Window, WindowReads,
};
use allot_core::{ActReq, Allot, BookAnyReq, BookReq, Config, MemStore, Stats, Store, VerifyOptions};
use js_sys::{Array, Promise};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::future_to_promise;

use crate::error::{core_error, input_error};
use crate::idb::{Durability, IdbStore};
use crate::js::{self, Obj, Res};

#[wasm_bindgen(typescript_custom_section)]
const TS_TYPES: &'static str = include_str!("types.d.ts");

/// The storage behind a `Db`: one enum so the JS class is not generic.
#[derive(Debug, Clone)]
pub enum Backend {
    Memory(Rc<MemStore>),
    IndexedDb(IdbStore),
}

macro_rules! dispatch {
    ($self:ident, $m:ident($($a:expr),*)) => {{
        // Here, the one place every operation passes through, once per
        // store call: one API call (a verify, a large defineUnits) makes
        // many, and memory can grow a long way in between (see crate::heap).
        crate::heap::reserve();
        match $self {
            Backend::Memory(s) => s.$m($($a),*).await,
            Backend::IndexedDb(s) => s.$m($($a),*).await,
        }
    }};
}

impl Store for Backend {
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        dispatch!(self, read_streams(reqs))
    }
    async fn commit(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        dispatch!(self, commit(c))
    }
    async fn commit_group(&self, cs: &[Commit]) -> Result<Vec<Result<CommitOutcome, InputError>>, StoreError> {
        dispatch!(self, commit_group(cs))
    }
    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        dispatch!(self, get_claims(ids))
    }
    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        dispatch!(self, get_units(ids))
    }
    async fn scan_index(&self, r: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        dispatch!(self, scan_index(r))
    }
    async fn scan_units(&self, r: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        dispatch!(self, scan_units(r))
    }
    async fn scan_streams(&self, r: &KeyRange) -> Result<Vec<(StreamId, Seq)>, StoreError> {
        dispatch!(self, scan_streams(r))
    }
    async fn scan_claims(&self, r: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        dispatch!(self, scan_claims(r))
    }
    // The optional parts of the contract too: without them a client of the
    // IndexedDB backend would get the defaults (no change feed, three reads
    // per window, decisions outside the commit's transaction).
    async fn read_window(&self, r: &KeyRange, reads: &WindowReads<'_>) -> Result<Window, StoreError> {
        dispatch!(self, read_window(r, reads))
    }
    async fn read_untouched_window(&self, r: &KeyRange, reads: &WindowReads<'_>) -> Result<Option<Window>, StoreError> {
        dispatch!(self, read_untouched_window(r, reads))
    }
    async fn changes(&self, after: FeedPos, limit: u32) -> Result<Option<Changes>, StoreError> {
        dispatch!(self, changes(after, limit))
    }
    async fn vacancy_epoch(&self) -> Result<Option<VacancyEpoch>, StoreError> {
        dispatch!(self, vacancy_epoch())
    }
    async fn commit_group_and_changes(
        &self,
        cs: &[Commit],
        after: FeedPos,
        limit: u32,
    ) -> Result<(Vec<Result<CommitOutcome, InputError>>, Option<Changes>), StoreError> {
        dispatch!(self, commit_group_and_changes(cs, after, limit))
    }
    async fn decide_group(
        &self,
        after: Option<FeedPos>,
        limit: u32,
        claims: &[BookingId],
        decide: &mut DecideGroup<'_>,
    ) -> Result<Decided, StoreError> {
        dispatch!(self, decide_group(after, limit, claims, decide))
    }
}

thread_local! {
    /// In-memory stores by name: every `open({ storage: 'memory', name })`
    /// with the same name in this instance shares one store.
    /// A list, not a map: an app opens a handful of names, and a map type
    /// of its own would cost the npm package its whole B-tree code.
    static MEMORY: RefCell<Vec<(String, Rc<MemStore>)>> = const { RefCell::new(Vec::new()) };
}

#[derive(Debug)]
struct Inner {
    backend: Backend,
    config: Config,
    /// Idle clients. Each call takes one (or makes one) for its whole
    /// duration, so concurrent calls never share a client's cache across an
    /// await; correctness never depended on it anyway (append-expect).
    pool: RefCell<Vec<Allot<Backend>>>,
    stats: Cell<Stats>,
    closed: Cell<bool>,
}

impl Inner {
    async fn with<T>(&self, f: impl AsyncFnOnce(&mut Allot<Backend>) -> T) -> Result<T, JsValue> {
        let (mut allot, before) = self.take()?;
        let out = f(&mut allot).await;
        self.give_back(allot, before);
        Ok(out)
    }

    /// The non-generic halves of [`Inner::with`], so that its ~20
    /// instantiations share them instead of each carrying a copy.
    fn take(&self) -> Result<(Allot<Backend>, Stats), JsValue> {
        if self.closed.get() {
            return Err(core_error(&StoreError::Unavailable("this database handle was closed".into()).into()));
        }
        let taken = self.pool.borrow_mut().pop();
        let allot = taken.unwrap_or_else(|| Allot::with_config(self.backend.clone(), self.config));
        let before = allot.stats();
        Ok((allot, before))
    }

    fn give_back(&self, allot: Allot<Backend>, before: Stats) {
        let after = allot.stats();
        let mut total = self.stats.get();
        total.read_queries += after.read_queries - before.read_queries;
        total.stream_reads += after.stream_reads - before.stream_reads;
        total.commits += after.commits - before.commits;
        total.conflicts += after.conflicts - before.conflicts;
        total.already_booked += after.already_booked - before.already_booked;
        total.replays += after.replays - before.replays;
        total.window_hits += after.window_hits - before.window_hits;
        total.untouched_reads += after.untouched_reads - before.untouched_reads;
        total.feed_reads += after.feed_reads - before.feed_reads;
        total.sold_out_known += after.sold_out_known - before.sold_out_known;
        self.stats.set(total);
        self.pool.borrow_mut().push(allot);
    }
}

fn input<T>(r: Res<T>) -> Result<T, JsValue> {
    r.map_err(|e| input_error(&e))
}

fn core<T, E: Into<Error>>(r: Result<T, E>) -> Result<T, JsValue> {
    r.map_err(|e| core_error(&e.into()))
}

/// A handle on one allot database.
#[wasm_bindgen]
#[derive(Debug)]
pub struct Db {
    inner: Rc<Inner>,
}

/// What every exported async function hands to [`promise`].
type JsFuture = Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>;

/// One `future_to_promise` for the whole API: boxed, every method shares
/// its spawning and settling code instead of getting a copy of it (about
/// 20 copies, one per exported async function).
///
/// The future is polled once right away: an operation that needs no store
/// round trip (every one on the in-memory store, many on a warm cache)
/// settles then, and its promise is made settled, with no task spawned. One
/// that is still pending goes to `future_to_promise`, whose task polls it
/// again first thing: that poll registers the task's waker in place of the
/// no-op one, and a wake-up sent in between only means that this poll finds
/// the future further on (futures check their state on every poll).
fn promise(mut f: JsFuture) -> Promise {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(Ok(v)) => Promise::resolve(&v),
        std::task::Poll::Ready(Err(e)) => Promise::reject(&e),
        std::task::Poll::Pending => future_to_promise(f),
    }
}

impl Db {
    fn run<F>(&self, f: impl FnOnce(Rc<Inner>) -> F) -> Promise
    where
        F: Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        promise(Box::pin(f(self.inner.clone())))
    }
}

/// Opens a database. `storage` defaults to `'indexeddb'` where there is an
/// IndexedDB (browsers, workers) and to `'memory'` elsewhere (Node).
#[wasm_bindgen(unchecked_return_type = "Promise<Db>")]
pub fn open(#[wasm_bindgen(unchecked_param_type = "OpenOptions | undefined")] options: JsValue) -> Promise {
    promise(Box::pin(async move {
        let options = if options.is_undefined() || options.is_null() { js_sys::Object::new().into() } else { options };
        let o =
            input(js::object(&options, "options", &["name", "storage", "durability", "window", "commitAttemptsMax"]))?;
        let name_v = js::field(&o, "name");
        let name = if name_v.is_undefined() {
            "allot".to_string()
        } else {
            input(js::string(&name_v, "database name", NAME_LEN_MAX_BYTES))?
        };
        if name.is_empty() {
            return Err(input_error(&InputError::NameInvalid { what: "database name", len: 0 }.into()));
        }
        let storage_v = js::field(&o, "storage");
        let has_idb = js_sys::Reflect::get(&js_sys::global(), &"indexedDB".into()).is_ok_and(|v| !v.is_undefined());
        let storage = if storage_v.is_undefined() { None } else { Some(input(js::string(&storage_v, "storage", 16))?) };
        let durability_v = js::field(&o, "durability");
        let durability = if durability_v.is_undefined() {
            Durability::Default
        } else {
            let s = input(js::string(&durability_v, "durability", 16))?;
            Durability::parse(&s).ok_or_else(|| {
                input_error(&js::JsInputError::Shape("durability must be 'relaxed', 'default' or 'strict'".into()))
            })?
        };
        let mut config = Config::default();
        let w = js::field(&o, "window");
        if !w.is_undefined() {
            config.window_len = input(js::integer(&w, "window", u64::from(WINDOW_LEN_MAX), |n| {
                InputError::LimitInvalid { what: "window", value: n.max(0.0) as u64, max: u64::from(WINDOW_LEN_MAX) }
            }))? as u32;
            if config.window_len == 0 {
                return Err(input_error(
                    &InputError::LimitInvalid { what: "window", value: 0, max: u64::from(WINDOW_LEN_MAX) }.into(),
                ));
            }
        }
        let c = js::field(&o, "commitAttemptsMax");
        if !c.is_undefined() {
            config.commit_attempts_max = input(js::integer(&c, "commitAttemptsMax", 1 << 20, |n| {
                InputError::LimitInvalid { what: "commitAttemptsMax", value: n.max(0.0) as u64, max: 1 << 20 }
            }))?
            .max(1) as u32;
        }
        let backend = match storage.as_deref() {
            Some("memory") => Backend::Memory(memory_store(&name)),
            Some("indexeddb") => Backend::IndexedDb(core(IdbStore::open(&name, durability).await)?),
            None if has_idb => Backend::IndexedDb(core(IdbStore::open(&name, durability).await)?),
            None => Backend::Memory(memory_store(&name)),
            Some(other) => {
                return Err(input_error(&js::JsInputError::Shape(format!(
                    "storage must be 'indexeddb' or 'memory', not {other:?}"
                ))));
            }
        };
        let inner = Inner {
            backend,
            config,
            pool: RefCell::new(Vec::new()),
            stats: Cell::new(Stats::default()),
            closed: Cell::new(false),
        };
        Ok(Db { inner: Rc::new(inner) }.into())
    }))
}

fn memory_store(name: &str) -> Rc<MemStore> {
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        if let Some((_, s)) = m.iter().find(|(n, _)| n == name) {
            return s.clone();
        }
        let s = Rc::new(MemStore::new());
        m.push((name.to_string(), s.clone()));
        s
    })
}

/// Drops the named in-memory store (the next `open` starts empty).
#[wasm_bindgen(js_name = dropMemory)]
pub fn drop_memory(name: &str) -> bool {
    MEMORY.with(|m| {
        let mut m = m.borrow_mut();
        let before = m.len();
        m.retain(|(n, _)| n != name);
        m.len() < before
    })
}

fn act_req(v: &JsValue) -> Res<(ActReq, u64)> {
    let o = js::object(v, "request", &["actor", "key", "by", "now"])?;
    let booking = js::booking(&o)?;
    let by_v = js::field(&o, "by");
    let by = if by_v.is_undefined() { booking.actor.clone() } else { js::id(&o, "by", "actor", Actor::new)? };
    Ok((ActReq { by, booking }, js::now(&o)?))
}

const BOOK_FIELDS: [&str; 8] = ["actor", "key", "unit", "span", "qty", "hold", "now", "kind"];
const BOOK_ANY_FIELDS: [&str; 14] = [
    "actor",
    "key",
    "index",
    "lo",
    "hi",
    "loExclusive",
    "hiInclusive",
    "reverse",
    "span",
    "qty",
    "hold",
    "pick",
    "now",
    "kind",
];

fn book_req(v: &JsValue, require_hold: bool) -> Res<(BookReq, u64)> {
    let o = js::object(v, "request", &BOOK_FIELDS[..7])?;
    let req = BookReq {
        booking: js::booking(&o)?,
        unit: js::id(&o, "unit", "unit id", UnitId::new)?,
        span: js::span(&o)?,
        qty: js::qty(&o)?,
        hold: js::hold(&o)?,
    };
    if require_hold && req.hold.is_none() {
        return Err(js::JsInputError::Shape("hold() needs `hold: { ttlMs }`".into()));
    }
    Ok((req, js::now(&o)?))
}

fn book_any_req(v: &JsValue) -> Res<(BookAnyReq, u64)> {
    let o = js::object(v, "request", &BOOK_ANY_FIELDS[..13])?;
    Ok((book_any_fields(&o)?, js::now(&o)?))
}

/// A `bookAny` request from its fields, without its `now`.
fn book_any_fields(o: &js::Fields) -> Res<BookAnyReq> {
    Ok(BookAnyReq {
        booking: js::booking(o)?,
        query: js::index_query(o)?,
        span: js::span(o)?,
        qty: js::qty(o)?,
        hold: js::hold(o)?,
        pick: js::pick(o)?,
    })
}

#[wasm_bindgen]
impl Db {
    /// Adds a secondary index (and indexes every existing unit).
    #[wasm_bindgen(js_name = defineIndex, unchecked_return_type = "Promise<void>")]
    pub fn define_index(&self, #[wasm_bindgen(unchecked_param_type = "IndexDefinition")] def: JsValue) -> Promise {
        self.run(|inner| async move {
            let def = input(js::index_def(&def))?;
            let now = js_sys::Date::now() as u64;
            core(inner.with(async |a| a.define_index(&def, now).await).await?)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// The secondary indexes.
    #[wasm_bindgen(unchecked_return_type = "Promise<IndexDefinition[]>")]
    pub fn indexes(&self) -> Promise {
        self.run(|inner| async move {
            let defs = core(inner.with(async |a| a.indexes().await).await?)?;
            Ok(js::strings(defs.iter().map(|d| {
                let fields = d.fields.iter().map(|f| {
                    let order = if f.order == allot_core::Order::Desc { "desc" } else { "asc" };
                    Obj::new().set("attr", f.attr.as_str()).set("type", f.ty.name()).set("order", order).done()
                });
                Obj::new().set("name", d.name.as_str()).set("fields", js::strings(fields)).done()
            })))
        })
    }

    /// Defines new units (all or nothing per 1024). Resolves to the count.
    #[wasm_bindgen(js_name = defineUnits, unchecked_return_type = "Promise<number>")]
    pub fn define_units(&self, #[wasm_bindgen(unchecked_param_type = "UnitDefinition[]")] units: JsValue) -> Promise {
        self.run(|inner| async move {
            let arr = input(js::array(&units, "units", 1_000_000))?;
            let specs: Vec<UnitSpec> = input(arr.iter().map(|u| js::unit_spec(&u)).collect())?;
            let now = js_sys::Date::now() as u64;
            let n = core(inner.with(async |a| a.define_units(&specs, now).await).await?)?;
            Ok(JsValue::from(n as u32))
        })
    }

    /// Replaces a unit's attributes (kind and capacity are fixed).
    #[wasm_bindgen(js_name = replaceUnit, unchecked_return_type = "Promise<void>")]
    pub fn replace_unit(&self, #[wasm_bindgen(unchecked_param_type = "UnitDefinition")] unit: JsValue) -> Promise {
        self.run(|inner| async move {
            let spec = input(js::unit_spec(&unit))?;
            let now = js_sys::Date::now() as u64;
            core(inner.with(async |a| a.replace_unit(&spec, now).await).await?)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// Retires a unit: out of every index, no new bookings; its live
    /// bookings stay and are counted.
    #[wasm_bindgen(js_name = retireUnit, unchecked_return_type = "Promise<{ unit: string; liveBookings: number }>")]
    pub fn retire_unit(&self, id: JsValue) -> Promise {
        self.run(|inner| async move {
            let id = input(unit_id(&id))?;
            let now = js_sys::Date::now() as u64;
            let r = core(inner.with(async |a| a.retire_unit(&id, now).await).await?)?;
            Ok(Obj::new().set("unit", r.unit.as_str()).set("liveBookings", js::u64_js(r.live_bookings)).done())
        })
    }

    /// One unit.
    #[wasm_bindgen(unchecked_return_type = "Promise<Unit>")]
    pub fn unit(&self, id: JsValue) -> Promise {
        self.run(|inner| async move {
            let id = input(unit_id(&id))?;
            let row = core(inner.with(async |a| a.unit(&id).await).await?)?;
            Ok(js::unit_js(&row))
        })
    }

    /// A page of a range query on a secondary index: `[lo, hi)` by default.
    #[wasm_bindgen(unchecked_return_type = "Promise<QueryPage>")]
    pub fn query(&self, #[wasm_bindgen(unchecked_param_type = "Query")] q: JsValue) -> Promise {
        self.run(|inner| async move {
            let o = input(js::object(
                &q,
                "query",
                &["index", "lo", "hi", "loExclusive", "hiInclusive", "reverse", "limit", "after"],
            ))?;
            let query = input(js::index_query(&o))?;
            let limit = input(js::limit(&o, WINDOW_LEN_DEFAULT))?;
            let after = input(js::cursor_in(&js::field(&o, "after")))?;
            let page = core(inner.with(async |a| a.query(&query, limit, after.as_deref()).await).await?)?;
            let units = js::strings(page.units.iter().map(|(_, row)| js::unit_js(row)));
            let next = page.next.as_deref().map_or(JsValue::NULL, |k| JsValue::from_str(&js::cursor_out(k)));
            Ok(Obj::new().set("units", units).set("next", next).done())
        })
    }

    /// Books (or, with `hold`, holds) a unit.
    #[wasm_bindgen(unchecked_return_type = "Promise<Outcome>")]
    pub fn book(&self, #[wasm_bindgen(unchecked_param_type = "BookRequest")] req: JsValue) -> Promise {
        self.run(|inner| async move {
            let (req, now) = input(book_req(&req, false))?;
            let o = core(inner.with(async |a| a.book(&req, now).await).await?)?;
            Ok(js::outcome_js(&o))
        })
    }

    /// Holds a unit until `hold.ttlMs` from now unless confirmed.
    #[wasm_bindgen(unchecked_return_type = "Promise<Outcome>")]
    pub fn hold(&self, #[wasm_bindgen(unchecked_param_type = "BookRequest & { hold: Hold }")] req: JsValue) -> Promise {
        self.run(|inner| async move {
            let (req, now) = input(book_req(&req, true))?;
            let o = core(inner.with(async |a| a.book(&req, now).await).await?)?;
            Ok(js::outcome_js(&o))
        })
    }

    /// Auto-assign: books the first free unit of an index range.
    #[wasm_bindgen(js_name = bookAny, unchecked_return_type = "Promise<Outcome>")]
    pub fn book_any(&self, #[wasm_bindgen(unchecked_param_type = "BookAnyRequest")] req: JsValue) -> Promise {
        self.run(|inner| async move {
            let (req, now) = input(book_any_req(&req))?;
            let o = core(inner.with(async |a| a.book_any(&req, now).await).await?)?;
            Ok(js::outcome_js(&o))
        })
    }

    /// Auto-assigns many requests at once with group commit (one IndexedDB
    /// transaction per round instead of one per booking). Resolves to one
    /// result per request, in order: an `Outcome`, or the `AllotError` that
    /// request failed with (the others are unaffected).
    #[wasm_bindgen(js_name = bookAnyMany, unchecked_return_type = "Promise<(Outcome | AllotError)[]>")]
    pub fn book_any_many(
        &self,
        #[wasm_bindgen(unchecked_param_type = "BookAnyRequest[]")] reqs: JsValue,
        #[wasm_bindgen(unchecked_param_type = "{ now?: number } | undefined")] options: JsValue,
    ) -> Promise {
        self.run(|inner| async move {
            let arr = input(js::array(&reqs, "requests", COMMITS_PER_GROUP_MAX))?;
            let now = input(js::opt_now(&options))?;
            let mut parsed = Vec::with_capacity(arr.length() as usize);
            for r in arr.iter() {
                let o = input(js::object(&r, "request", &BOOK_ANY_FIELDS[..13]))?;
                if !js::field(&o, "now").is_undefined() {
                    return Err(input_error(&js::JsInputError::Shape(
                        "in bookAnyMany, `now` goes in the options, not in each request".into(),
                    )));
                }
                parsed.push(input(book_any_fields(&o))?);
            }
            let results = inner.with(async |a| a.book_any_many(&parsed, now).await).await?;
            Ok(js::strings(results.iter().map(|r| match r {
                Ok(o) => js::outcome_js(o),
                Err(e) => core_error(&e.clone().into()),
            })))
        })
    }

    /// Confirms a live hold (only its owner).
    #[wasm_bindgen(unchecked_return_type = "Promise<Outcome>")]
    pub fn confirm(&self, #[wasm_bindgen(unchecked_param_type = "ActRequest")] req: JsValue) -> Promise {
        self.run(|inner| async move {
            let (req, now) = input(act_req(&req))?;
            let o = core(inner.with(async |a| a.confirm(&req, now).await).await?)?;
            Ok(js::outcome_js(&o))
        })
    }

    /// Cancels a hold or a booking (only its owner).
    #[wasm_bindgen(unchecked_return_type = "Promise<Outcome>")]
    pub fn cancel(&self, #[wasm_bindgen(unchecked_param_type = "ActRequest")] req: JsValue) -> Promise {
        self.run(|inner| async move {
            let (req, now) = input(act_req(&req))?;
            let o = core(inner.with(async |a| a.cancel(&req, now).await).await?)?;
            Ok(js::outcome_js(&o))
        })
    }

    /// Gives a live hold back (only its owner).
    #[wasm_bindgen(unchecked_return_type = "Promise<Outcome>")]
    pub fn release(&self, #[wasm_bindgen(unchecked_param_type = "ActRequest")] req: JsValue) -> Promise {
        self.run(|inner| async move {
            let (req, now) = input(act_req(&req))?;
            let o = core(inner.with(async |a| a.release(&req, now).await).await?)?;
            Ok(js::outcome_js(&o))
        })
    }

    /// A unit's rosters at `now`: its bookings and their states.
    #[wasm_bindgen(unchecked_return_type = "Promise<Roster[]>")]
    pub fn roster(&self, #[wasm_bindgen(unchecked_param_type = "RosterRequest")] req: JsValue) -> Promise {
        self.run(|inner| async move {
            let o = input(js::object(&req, "request", &["unit", "from", "to", "now"]))?;
            let unit = input(js::id(&o, "unit", "unit id", UnitId::new))?;
            let (from, to) = (js::field(&o, "from"), js::field(&o, "to"));
            let days = if from.is_undefined() && to.is_undefined() {
                None
            } else {
                let d = |v: &JsValue, w| {
                    js::integer(v, w, u64::from(u32::MAX), |n| InputError::TimeOutOfRange {
                        what: w,
                        value: n.max(0.0) as u64,
                    })
                };
                Some((input(d(&from, "first day"))? as u32, input(d(&to, "end day"))? as u32))
            };
            let now = input(js::now(&o))?;
            let views = core(inner.with(async |a| a.roster(&unit, days, now).await).await?)?;
            Ok(js::strings(views.iter().map(roster_js)))
        })
    }

    /// A unit's whole history, event by event.
    #[wasm_bindgen(unchecked_return_type = "Promise<LifecycleItem[]>")]
    pub fn lifecycle(&self, id: JsValue) -> Promise {
        self.run(|inner| async move {
            let id = input(unit_id(&id))?;
            let items = core(inner.with(async |a| a.lifecycle(&id).await).await?)?;
            Ok(js::strings(items.iter().map(|i| {
                js::event_js(&i.event).set("stream", i.stream.to_string()).set("seq", js::u64_js(i.seq)).done()
            })))
        })
    }

    /// Holds with an external reference that lapsed unconfirmed (refund them).
    #[wasm_bindgen(unchecked_return_type = "Promise<ReconcileItem[]>")]
    pub fn reconcile(
        &self,
        #[wasm_bindgen(unchecked_param_type = "{ now?: number } | undefined")] options: JsValue,
    ) -> Promise {
        self.run(|inner| async move {
            let now = input(js::opt_now(&options))?;
            let items = core(inner.with(async |a| a.reconcile(now).await).await?)?;
            Ok(js::strings(items.iter().map(|i| {
                Obj::new()
                    .set("booking", js::booking_js(&i.booking))
                    .set("unit", i.unit.as_str())
                    .set("span", js::span_js(&i.span))
                    .set("extRef", i.ext_ref.as_str())
                    .set("expiresAt", js::u64_js(i.expires_at))
                    .done()
            })))
        })
    }

    /// Recounts everything from the store and checks every invariant.
    #[wasm_bindgen(unchecked_return_type = "Promise<VerifyReport>")]
    pub fn verify(
        &self,
        #[wasm_bindgen(unchecked_param_type = "VerifyOptions | undefined")] options: JsValue,
    ) -> Promise {
        self.run(|inner| async move {
            let now = input(js::opt_now(&options))?;
            let mut acked = Vec::new();
            let mut rosters = false;
            if !options.is_undefined() && !options.is_null() {
                let o = input(js::object(&options, "options", &["now", "acknowledged", "rosters"]))?;
                let a = js::field(&o, "acknowledged");
                if !a.is_undefined() {
                    let arr = input(js::array(&a, "acknowledged", 10_000_000))?;
                    for b in arr.iter() {
                        let bo = input(js::object(&b, "booking", &["actor", "key"]))?;
                        acked.push(input(js::booking(&bo))?);
                    }
                }
                let r = js::field(&o, "rosters");
                rosters = r.as_bool().unwrap_or(false);
            }
            let store = inner.backend.clone();
            let report = core(allot_core::verify(&store, now, &acked, &VerifyOptions { rosters }).await)?;
            let violations = js::strings(
                report.violations.iter().map(|v| Obj::new().set("kind", v.kind()).set("detail", v.to_string()).done()),
            );
            Ok(Obj::new()
                .set("ok", report.is_ok())
                .set("units", js::u64_js(report.units))
                .set("retiredUnits", js::u64_js(report.retired_units))
                .set("streams", js::u64_js(report.streams))
                .set("events", js::u64_js(report.events))
                .set("claims", js::u64_js(report.claims))
                .set("liveBookings", js::u64_js(report.live_bookings))
                .set("confirmed", js::u64_js(report.confirmed))
                .set("held", js::u64_js(report.held))
                .set("unitsWithLive", js::u64_js(report.units_with_live))
                .set("actorsWithMultipleLive", js::u64_js(report.actors_with_multiple_live))
                .set("violations", violations)
                .set("rosters", js::strings(report.rosters.iter().map(roster_js)))
                .done())
        })
    }

    /// Loads this handle's cache from the store now, through the store's
    /// change feed: the whole history the first time, what changed since
    /// afterwards. Optional (every operation catches up by itself); a page
    /// calls it when it opens, so that its first booking reads only what
    /// changed since. Operations that run at the same time on one handle
    /// each take a client of their own: the synced one goes to the next
    /// operation. The in-memory store keeps no feed: a no-op there.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn sync(&self) -> Promise {
        self.run(|inner| async move {
            core(inner.with(async |a| a.sync().await).await?)?;
            Ok(JsValue::UNDEFINED)
        })
    }

    /// What the booking loop did through this handle.
    #[wasm_bindgen(unchecked_return_type = "Stats")]
    pub fn stats(&self) -> JsValue {
        let s = self.inner.stats.get();
        Obj::new()
            .set("readQueries", js::u64_js(s.read_queries))
            .set("streamReads", js::u64_js(s.stream_reads))
            .set("commits", js::u64_js(s.commits))
            .set("conflicts", js::u64_js(s.conflicts))
            .set("alreadyBooked", js::u64_js(s.already_booked))
            .set("replays", js::u64_js(s.replays))
            .set("windowHits", js::u64_js(s.window_hits))
            .set("untouchedReads", js::u64_js(s.untouched_reads))
            .set("feedReads", js::u64_js(s.feed_reads))
            .set("soldOutKnown", js::u64_js(s.sold_out_known))
            .done()
    }

    /// `'indexeddb'` or `'memory'`.
    #[wasm_bindgen(getter)]
    pub fn storage(&self) -> String {
        match self.inner.backend {
            Backend::Memory(_) => "memory".into(),
            Backend::IndexedDb(_) => "indexeddb".into(),
        }
    }

    /// Closes the handle (and its IndexedDB connection).
    pub fn close(&self) {
        if self.inner.closed.replace(true) {
            return;
        }
        if let Backend::IndexedDb(s) = &self.inner.backend {
            s.clone().close();
        }
    }
}

fn unit_id(v: &JsValue) -> Res<UnitId> {
    let s = js::string(v, "unit id", ID_LEN_MAX_BYTES)?;
    Ok(UnitId::new(&s)?)
}

fn roster_js(v: &allot_core::allot::RosterView) -> JsValue {
    let day = match v.stream.part {
        Part::Day(d) => JsValue::from(d),
        _ => JsValue::NULL,
    };
    let entries: Array = v
        .entries
        .iter()
        .map(|e| {
            Obj::new()
                .set("booking", js::booking_js(&e.booking))
                .set("qty", e.qty)
                .set("span", js::span_js(&e.span))
                .set("state", e.state)
                .set("expiresAt", e.expires_at.map_or(JsValue::NULL, js::u64_js))
                .set("extRef", e.ext_ref.as_deref().map_or(JsValue::NULL, JsValue::from_str))
                .set("seq", js::u64_js(e.seq))
                .set("at", js::u64_js(e.at))
                .done()
        })
        .collect();
    Obj::new()
        .set("unit", v.stream.unit_str())
        .set("stream", v.stream.to_string())
        .set("day", day)
        .set("seq", js::u64_js(v.seq))
        .set("capacity", v.capacity)
        .set("used", js::u64_js(v.used))
        .set("entries", entries)
        .done()
}

/// Whether `e` is an error thrown by allot (it then has a stable `code`).
#[wasm_bindgen(js_name = isAllotError)]
pub fn is_allot_error(e: &JsValue) -> bool {
    e.dyn_ref::<js_sys::Error>().is_some_and(|e| e.name() == "AllotError")
}

/// Every error code allot can throw, for exhaustive handling.
#[wasm_bindgen(js_name = errorCodes, unchecked_return_type = "ErrorCode[]")]
pub fn error_codes() -> JsValue {
    js::strings(crate::ERROR_CODES.iter().map(|c| JsValue::from_str(c)))
}

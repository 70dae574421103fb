//! A booking worker: a dedicated Web Worker with its own wasm instance and
//! its own IndexedDB connection. It books its share of the sessions against
//! what it observes (the ordered index, append-expect), retrying on
//! conflicts; nobody hands it rooms. Batches go through
//! `Allot::book_any_many` (one IndexedDB readwrite transaction per round).
//!
//! Before the clock starts, while it opens its connection, a worker
//! rehearses its share on an in-memory store of its own (same units, same
//! requests, nothing shared): V8 compiles a wasm function when it is first
//! called and optimises it once it runs hot, and measured in a trace of the
//! last-room run that took ~200 ms of CPU on 2 cores inside the timed race.
//! The rehearsal moves that compilation to the untimed start, as a benchmark
//! warms up; its outcomes are thrown away.
//!
//! The rehearsal books through the same `Allot<Backend>` as the race
//! (`allot_web::api::Backend`, IndexedDB or memory, the npm package's own
//! store type). With `Allot<MemStore>` it warmed a second copy of the
//! generic booking code, and every worker compiled the race's copy (one
//! function alone has a 29.5 KB body) at the start of the race. And it books
//! its share `REHEARSAL_ROUNDS` times, so that V8 optimises the hot functions
//! before the clock rather than during the race. Measured (alternating runs,
//! 12 holiday pairs against the `Allot<MemStore>` rehearsal once): median
//! 0.457 -> 0.331 s, faster in 10 of 12. Rounds, 6 pairs each: 1 round 0.39 s against 3 rounds 0.32 s,
//! 3 rounds 0.34 s against 6 rounds 0.28 s. Last room, 6 pairs against the
//! old rehearsal: 0.127 -> 0.081 s with 6 rounds.
//!
//! Then, still before the clock, the worker loads its client's cache from
//! IndexedDB (`Allot::sync`: the units, the index and every booking stream,
//! from the change feed), as a web app does when its page opens; its first
//! booking then reads only what changed since (the journal, inside its
//! readwrite transaction). Measured (alternating runs, 8 last-room and 6
//! holiday pairs): last room 0.104 -> 0.077 s, holiday 0.84 -> 0.70 s, the
//! boot reads of 16 workers no longer queueing in the race. The page's
//! `cold=1` skips the load: the race then starts from an empty cache.

use std::cell::RefCell;
use std::rc::Rc;

use allot_core::{Allot, BookAnyReq, BookError, Config, MemStore, Outcome, Stats, Store};
use allot_demo::params::{Params, Scenario};
use allot_demo::proto::{Counters, FromWorker, ToWorker, from_js, to_js};
use allot_demo::scenario::{self, Ask, NOW};
use allot_web::api::Backend;
use allot_web::idb::IdbStore;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

struct Job {
    params: Params,
    index: u32,
    /// The client on this worker's own connection (its cache loaded
    /// unless the run is cold).
    allot: Allot<Backend>,
}

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(msg: &FromWorker) {
    let _ = scope().post_message(&to_js(msg));
}

fn main() {
    let job: Rc<RefCell<Option<Job>>> = Rc::new(RefCell::new(None));
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        let job = job.clone();
        wasm_bindgen_futures::spawn_local(async move {
            match from_js::<ToWorker>(ev.data()) {
                Ok(ToWorker::Prepare { db, params, index, cold }) => {
                    match IdbStore::open(&db, params.durability()).await {
                        Ok(store) => {
                            rehearse(&params, index).await;
                            let mut allot = Allot::with_config(Backend::IndexedDb(store), config(&params));
                            if !cold && let Err(e) = allot.sync().await {
                                post(&FromWorker::Failed { index, error: format!("loading the cache: {e}") });
                                return;
                            }
                            *job.borrow_mut() = Some(Job { params, index, allot });
                            post(&FromWorker::Prepared { index });
                        }
                        Err(e) => post(&FromWorker::Failed { index, error: format!("opening IndexedDB: {e}") }),
                    }
                }
                Ok(ToWorker::Go) => {
                    let Some(j) = job.borrow_mut().take() else {
                        post(&FromWorker::Failed { index: u32::MAX, error: "Go before Prepare".into() });
                        return;
                    };
                    run(j).await;
                }
                Err(e) => post(&FromWorker::Failed { index: u32::MAX, error: e }),
            }
        });
    });
    scope().set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    on_message.forget();
    // Messages sent before this point would have been lost: say so now.
    post(&FromWorker::Ready);
}

/// Above this many units a run is long enough that compiling on the way
/// costs it little, and a rehearsal would hold a copy of them per worker.
const REHEARSAL_UNITS_MAX: u64 = 4096;
/// Enough batches for V8 to see the booking code run hot.
const REHEARSAL_SESSIONS_MAX: usize = 1024;

/// Rehearsal rounds: the first compiles the booking code, the next ones
/// run it hot enough for V8 to optimise it before the clock.
const REHEARSAL_ROUNDS: usize = 6;

/// Books this worker's share on stores of its own in memory (see the module
/// documentation), `REHEARSAL_ROUNDS` times; the outcomes are not used.
async fn rehearse(p: &Params, index: u32) {
    // At most hotels x rooms in every scenario (without building them).
    if u64::from(p.hotels) * u64::from(p.rooms) > REHEARSAL_UNITS_MAX {
        return;
    }
    let sessions: Vec<u64> = p.sessions_of(index).take(REHEARSAL_SESSIONS_MAX).collect();
    for _ in 0..REHEARSAL_ROUNDS {
        let mem = Backend::Memory(Rc::new(MemStore::with_feed()));
        if scenario::setup(&mem, p).await.is_err() {
            return;
        }
        let mut allot = Allot::with_config(mem, config(p));
        book_share(&mut allot, p, &sessions, |_, _, _| {}).await;
    }
}

fn config(p: &Params) -> Config {
    Config { window_len: p.window, ..Config::default() }
}

/// Books `sessions` in batches of the run's size; hands each batch's
/// sessions and outcomes to `done`, with the client's stats after it.
async fn book_share<S: Store>(
    allot: &mut Allot<S>,
    p: &Params,
    sessions: &[u64],
    mut done: impl FnMut(&[u64], Vec<Result<Outcome, BookError>>, Stats),
) {
    let batch = p.batch.max(1) as usize;
    for chunk in sessions.chunks(batch) {
        let asks: Vec<Ask> = chunk.iter().map(|&i| scenario::ask(p, i)).collect();
        let anys: Vec<BookAnyReq> =
            asks.iter().filter_map(|a| if let Ask::Any(r) = a { Some(r.clone()) } else { None }).collect();
        let outcomes = if batch > 1 && anys.len() == asks.len() {
            allot.book_any_many(&anys, NOW).await
        } else {
            let mut v = Vec::with_capacity(asks.len());
            for a in &asks {
                v.push(match a {
                    Ask::Any(r) => allot.book_any(r, NOW).await,
                    Ask::One(r) => allot.book(r, NOW).await,
                });
            }
            v
        };
        done(chunk, outcomes, allot.stats());
    }
}

/// Books this worker's sessions, reporting after every batch.
async fn run(job: Job) {
    let Job { params: p, index, mut allot } = job;
    let sessions: Vec<u64> = p.sessions_of(index).collect();
    let mut c = Counters { sessions: sessions.len() as u64, ..Counters::default() };
    let mut acked = Vec::new();
    let mut first_error = None;
    book_share(&mut allot, &p, &sessions, |chunk, outcomes, s| {
        for (i, o) in chunk.iter().zip(outcomes) {
            match o {
                Ok(Outcome::Booked { booking, replayed, .. }) => {
                    c.booked += 1;
                    c.replays += u64::from(replayed);
                    acked.push((booking.actor.as_str().to_string(), booking.key.as_str().to_string()));
                }
                Ok(Outcome::SoldOut) => c.sold_out += 1,
                Ok(Outcome::Full { .. }) if p.scenario == Scenario::LastSeat => c.full += 1,
                Ok(other) => {
                    c.errors += 1;
                    first_error.get_or_insert_with(|| format!("session {i} ended {other:?}"));
                }
                Err(e) => {
                    c.errors += 1;
                    first_error.get_or_insert_with(|| format!("session {i} failed: {} ({e})", e.code()));
                }
            }
            c.done += 1;
        }
        c.conflicts = s.conflicts;
        c.already_booked = s.already_booked;
        c.read_queries = s.read_queries;
        c.commits = s.commits;
        post(&FromWorker::Progress { index, c });
    })
    .await;
    if let Backend::IndexedDb(s) = allot.store() {
        s.clone().close();
    }
    post(&FromWorker::Done { index, c, acked, first_error });
}

//! The demo page: orchestrates and displays; never books.
//!
//! Start: deletes the demo database, defines the units and index (setup,
//! not timed), starts the workers and waits until each has said it is ready,
//! has opened its own IndexedDB connection, has rehearsed its share in
//! memory and has loaded its cache from the database (see `bin/worker.rs`;
//! `cold=1` in the URL skips that load), then tells them all to go
//! (the clock starts) and waits until the last one is done (the clock
//! stops). Then it recounts through a fresh connection, prints the result
//! line and keeps the run's parameters and line in a small database of its
//! own, so that a reloaded page shows them beside a fresh recount.

mod chart;
mod dom;
mod meta;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::task::{Poll, Waker};

use allot_core::event::Event;
use allot_core::{Allot, BookingId, KeyValue, Part, Span, UnitId, UnitKind, VerifyOptions};
use allot_demo::outcome::{self, Figures, RunOutcome};
use allot_demo::params::{KEYS, Params, Scenario};
use allot_demo::proto::{Counters, FromWorker, ToWorker, from_js, to_js};
use allot_demo::scenario::{self, NOW};
use allot_demo::{DB_NAME, META_DB_NAME};
use allot_tests::holiday;
use allot_web::idb::{Durability, IdbStore};
use chart::Sample;
use dom::*;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use web_sys::{Element, ErrorEvent, MessageEvent, Worker, WorkerOptions, WorkerType};

/// How long workers may take to start and open their connection.
const START_TIMEOUT_MS: f64 = 120_000.0;
/// Most unit ids offered in the inspector's list.
const DATALIST_MAX: usize = 5000;

fn main() {
    wasm_bindgen_futures::spawn_local(init());
}

// ------------------------------------------------------------------ state

#[derive(Default)]
struct App {
    busy: bool,
    /// Workers of the run in progress (terminated when it ends or on Reset).
    workers: Vec<Worker>,
    /// The last run kept in IndexedDB.
    saved: Option<meta::Saved>,
}

thread_local! {
    static APP: RefCell<App> = RefCell::new(App::default());
}

fn busy() -> bool {
    APP.with(|a| a.borrow().busy)
}

fn set_busy(b: bool) {
    APP.with(|a| a.borrow_mut().busy = b);
    for id in ["start", "verify", "reset", "inspect"] {
        set_disabled(id, b);
    }
    let _ = by_id("app").set_attribute("data-busy", if b { "1" } else { "0" });
}

fn terminate_workers() {
    let ws = APP.with(|a| std::mem::take(&mut a.borrow_mut().workers));
    for w in ws {
        w.set_onmessage(None);
        w.set_onerror(None);
        w.terminate();
    }
}

// ------------------------------------------------------------------ init

async fn init() {
    let sel = by_id("scenario");
    for s in Scenario::ALL {
        let o = el_text("option", "", s.title());
        set_attr(&o, "value", s.slug());
        append(&sel, &o);
    }
    on("scenario", "change", |_| {
        let Some(s) = Scenario::parse(&select("scenario").value()) else { return };
        let mut p = Params::defaults(s);
        // Keep what is not about the scenario's size.
        if let Ok(cur) = Params::from_pairs(&read_controls()) {
            p.seed = cur.seed;
            p.durability = cur.durability;
            p.window = cur.window;
            if s != Scenario::LastSeat {
                p.batch = cur.batch;
            }
        }
        fill_controls(&p.normalized());
    });
    on("start", "click", |_| wasm_bindgen_futures::spawn_local(start()));
    on("verify", "click", |_| wasm_bindgen_futures::spawn_local(verify_button()));
    on("reset", "click", |_| wasm_bindgen_futures::spawn_local(reset()));
    on("inspect", "click", |_| {
        let id = input("unit").value();
        wasm_bindgen_futures::spawn_local(inspect(id));
    });
    on("unit", "keydown", |e| {
        if e.dyn_ref::<web_sys::KeyboardEvent>().is_some_and(|k| k.key() == "Enter") {
            let id = input("unit").value();
            wasm_bindgen_futures::spawn_local(inspect(id));
        }
    });
    chart::draw(&by_id("chart"), &[], None);

    // Controls: the URL first, else the last run's, else the defaults.
    let url = url_pairs();
    let autostart = url.iter().any(|(k, v)| k == "autostart" && v == "1");
    let from_url = url.iter().any(|(k, _)| KEYS.contains(&k.as_str()));
    let mut params = Params::defaults(Scenario::Holiday);
    if from_url {
        match Params::from_pairs(&url) {
            Ok(p) => params = p,
            Err(e) => {
                set_text("form-error", &format!("URL: {e}"));
                if autostart {
                    show_failure(&format!("error: bad URL parameters: {e}"), &e);
                    return;
                }
            }
        }
    }
    set_busy(true);
    let saved = match meta::load().await {
        Ok(s) => s,
        Err(e) => {
            set_text("recount", &format!("could not read the last run: {e}"));
            None
        }
    };
    if !from_url && let Some(s) = &saved {
        params = s.params.clone();
    }
    fill_controls(&params);
    match saved {
        Some(s) => {
            show_saved(&s);
            APP.with(|a| a.borrow_mut().saved = Some(s.clone()));
            recount_stored(&s.params).await;
            fill_units(&s.params, None);
        }
        None => {
            set_text("stored-params", "No run kept yet: press Start.");
            set_attr(&by_id("recount"), "data-done", "1");
            set_attr(&by_id("recount"), "data-ok", "1");
            set_attr(&by_id("recount"), "data-empty", "1");
        }
    }
    set_busy(false);
    let _ = by_id("app").set_attribute("data-ready", "1");
    if autostart {
        start().await;
    }
}

fn url_pairs() -> Vec<(String, String)> {
    let search = window().location().search().unwrap_or_default();
    let Ok(sp) = web_sys::UrlSearchParams::new_with_str(&search) else { return Vec::new() };
    let mut out = Vec::new();
    let entries = js_sys::try_iter(&sp).ok().flatten();
    for entry in entries.into_iter().flatten().flatten() {
        let pair: js_sys::Array = entry.unchecked_into();
        out.push((pair.get(0).as_string().unwrap_or_default(), pair.get(1).as_string().unwrap_or_default()));
    }
    out
}

fn read_controls() -> Vec<(String, String)> {
    let mut out = vec![("scenario".to_string(), select("scenario").value())];
    for k in ["hotels", "rooms", "sessions", "workers", "window", "price_min", "price_max", "seed", "batch"] {
        out.push((k.to_string(), input(k).value()));
    }
    out.push(("durability".to_string(), select("durability").value()));
    out
}

fn fill_controls(p: &Params) {
    select("scenario").set_value(p.scenario.slug());
    for (k, v) in p.pairs() {
        match k {
            "scenario" => {}
            "durability" => select("durability").set_value(&v),
            _ => input(k).set_value(&v),
        }
    }
    let l = p.scenario.labels();
    set_text("label-hotels", l.hotels);
    set_text("label-rooms", l.rooms);
    set_text("label-sessions", l.sessions);
    set_text("scenario-about", p.scenario.about());
    let fixed: &[&str] = match p.scenario {
        Scenario::Holiday => &[],
        Scenario::LastRoom => &["hotels", "rooms", "price_min", "price_max"],
        Scenario::LastSeat => &["hotels", "rooms", "sessions", "workers", "batch", "window", "price_min", "price_max"],
        Scenario::Dinner | Scenario::LongStays => &["price_min", "price_max"],
    };
    for k in ["hotels", "rooms", "sessions", "workers", "batch", "window", "price_min", "price_max"] {
        set_disabled(k, fixed.contains(&k));
    }
}

/// The run's parameters in words (numbers and fixed words only).
fn describe(p: &Params) -> String {
    let l = p.scenario.labels();
    let size = match p.scenario {
        Scenario::LastSeat => "1 tour, 1 seat, 2 bookers".to_string(),
        Scenario::LastRoom => format!("1 room, {} sessions", p.sessions),
        _ => format!(
            "{} {} × {} {} · {} {}",
            p.hotels,
            l.hotels.to_lowercase(),
            p.rooms,
            l.rooms.to_lowercase(),
            p.sessions,
            l.sessions.to_lowercase()
        ),
    };
    let price = if p.scenario == Scenario::Holiday && (p.price_min, p.price_max) != (0, u32::MAX) {
        format!(" · price {}..={}", p.price_min, p.price_max)
    } else {
        String::new()
    };
    format!(
        "{} · {size}{price} · {} workers · batch {} · window {} · seed {} · durability {}",
        p.scenario.title(),
        p.workers,
        p.batch,
        p.window,
        p.seed,
        p.durability
    )
}

// ------------------------------------------------------------------ start

async fn start() {
    if busy() {
        return;
    }
    set_text("form-error", "");
    let p = match Params::from_pairs(&read_controls()) {
        Ok(p) => p,
        Err(e) => {
            set_text("form-error", &e);
            focus("start");
            return;
        }
    };
    fill_controls(&p);
    // Read before the URL is rewritten below (faults are URL-only).
    let faults = faults();
    // The URL mirrors the controls (without autostart: a reload shows the
    // kept run instead of running again).
    if let Ok(h) = window().history() {
        let _ = h.replace_state_with_url(&JsValue::NULL, "", Some(&format!("?{}", p.to_query())));
    }
    set_busy(true);
    begin_outcome(&p);
    match race(&p, faults).await {
        Ok(done) => show_outcome(&p, &done),
        Err(e) => show_failure(&format!("error: {e}"), &e),
    }
    terminate_workers();
    set_busy(false);
}

fn phase(text: &str) {
    set_text("phase", text);
}

fn begin_outcome(p: &Params) {
    let r = by_id("result");
    let _ = r.remove_attribute("data-done");
    let _ = r.remove_attribute("data-ok");
    let _ = r.remove_attribute("data-resumed");
    let _ = r.remove_attribute("data-replays");
    set_attr(&r, "data-scenario", p.scenario.slug());
    r.set_text_content(Some("running…"));
    set_attr(&by_id("outcome"), "data-state", "running");
    set_text("verdict-badge", "Running");
    set_text("verdict", &format!("{} — {}", p.scenario.title(), describe(p)));
    set_text("run-params", &describe(p));
    for id in ["c-booked", "c-conflicts", "c-already", "c-soldout", "c-failed"] {
        set_text(id, "0");
    }
    set_text("elapsed", "");
    set_attr(&by_id("progress"), "value", "0");
    clear(&by_id("workers-grid"));
    chart::draw(&by_id("chart"), &[], None);
}

fn show_outcome(p: &Params, o: &RunOutcome) {
    let r = by_id("result");
    r.set_text_content(Some(&o.line));
    set_attr(&r, "data-ok", if o.check.is_ok() { "1" } else { "0" });
    set_attr(&r, "data-done", "1");
    match &o.check {
        Ok(()) => {
            set_attr(&by_id("outcome"), "data-state", "pass");
            set_text("verdict-badge", "✓ Invariant held");
            set_text("verdict", &o.verdict);
        }
        Err(why) => {
            set_attr(&by_id("outcome"), "data-state", "fail");
            set_text("verdict-badge", "✗ Invariant broken");
            set_text("verdict", &format!("{} — {why}", p.scenario.title()));
        }
    }
    phase(if o.check.is_ok() { "done: invariant held" } else { "done: INVARIANT BROKEN" });
}

fn show_failure(line: &str, why: &str) {
    let r = by_id("result");
    r.set_text_content(Some(line));
    set_attr(&r, "data-ok", "0");
    set_attr(&r, "data-done", "1");
    set_attr(&by_id("outcome"), "data-state", "fail");
    set_text("verdict-badge", "✗ Run failed");
    set_text("verdict", why);
    phase("failed");
}

// ------------------------------------------------------------------ the race

enum Ev {
    Msg(usize, FromWorker),
    Error(usize, String),
    Tick,
}

#[derive(Default)]
struct Inbox {
    q: VecDeque<Ev>,
    waker: Option<Waker>,
}

type InboxRef = Rc<RefCell<Inbox>>;

fn push(inbox: &InboxRef, ev: Ev) {
    let waker = {
        let mut i = inbox.borrow_mut();
        i.q.push_back(ev);
        i.waker.take()
    };
    if let Some(w) = waker {
        w.wake();
    }
}

async fn next(inbox: &InboxRef) -> Ev {
    std::future::poll_fn(|cx| {
        let mut i = inbox.borrow_mut();
        match i.q.pop_front() {
            Some(e) => Poll::Ready(e),
            None => {
                i.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
}

/// A repeating timer feeding `Tick`s into the inbox while it lives.
struct Ticker {
    handle: i32,
    _cb: Closure<dyn FnMut()>,
}

impl Ticker {
    fn new(inbox: &InboxRef, ms: i32) -> Self {
        let ib = inbox.clone();
        let cb = Closure::<dyn FnMut()>::new(move || push(&ib, Ev::Tick));
        let handle = window()
            .set_interval_with_callback_and_timeout_and_arguments_0(cb.as_ref().unchecked_ref(), ms)
            .unwrap_or(0);
        Self { handle, _cb: cb }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        window().clear_interval_with_handle(self.handle);
    }
}

/// One worker as the page sees it.
struct Slot {
    state: &'static str,
    c: Counters,
    done: bool,
    tile: Tile,
}

/// A worker's tile in the per-worker view.
struct Tile {
    root: Element,
    state: Element,
    bar: Element,
    sessions: Element,
    booked: Element,
    conflicts: Element,
    sold_out: Element,
    errors: Element,
}

/// Handlers kept alive while their worker runs.
type Handlers = (Closure<dyn FnMut(MessageEvent)>, Closure<dyn FnMut(ErrorEvent)>);

fn spawn_worker(k: usize, inbox: &InboxRef) -> Result<(Worker, Handlers), String> {
    let opts = WorkerOptions::new();
    opts.set_name(&format!("allot-worker-{k}"));
    // A module worker: the npm package's JS snippets (web/src/glue.js) are
    // ES modules, which a classic worker cannot import.
    opts.set_type(WorkerType::Module);
    let w = Worker::new_with_options("/worker_loader.js", &opts).map_err(|e| format!("starting worker {k}: {e:?}"))?;
    let ib = inbox.clone();
    let on_msg =
        Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| match from_js::<FromWorker>(ev.data()) {
            Ok(m) => push(&ib, Ev::Msg(k, m)),
            Err(e) => push(&ib, Ev::Error(k, e)),
        });
    let ib = inbox.clone();
    let on_err = Closure::<dyn FnMut(ErrorEvent)>::new(move |ev: ErrorEvent| {
        push(&ib, Ev::Error(k, format!("{} ({}:{})", ev.message(), ev.filename(), ev.lineno())));
    });
    w.set_onmessage(Some(on_msg.as_ref().unchecked_ref()));
    w.set_onerror(Some(on_err.as_ref().unchecked_ref()));
    Ok((w, (on_msg, on_err)))
}

fn worker_tile(k: usize) -> Tile {
    let root = el("div");
    root.set_class_name("tile");
    let head = el("div");
    head.set_class_name("tile-head");
    append(&head, &el_text("span", "tile-name", &format!("W{}", k + 1)));
    let state = el_text("span", "tile-state", "starting");
    append(&head, &state);
    append(&root, &head);
    let bar = el("progress");
    set_attr(&bar, "max", "1");
    set_attr(&bar, "value", "0");
    append(&root, &bar);
    let sessions = el_text("div", "tile-line", "");
    let booked = el_text("div", "tile-line booked", "");
    let conflicts = el_text("div", "tile-line conflicts", "");
    let sold_out = el_text("div", "tile-line sold-out", "");
    let errors = el_text("div", "tile-line errors", "");
    for e in [&sessions, &booked, &conflicts, &sold_out, &errors] {
        append(&root, e);
    }
    append(&by_id("workers-grid"), &root);
    Tile { root, state, bar, sessions, booked, conflicts, sold_out, errors }
}

fn render_slot(s: &Slot) {
    let t = &s.tile;
    let c = &s.c;
    t.state.set_text_content(Some(s.state));
    set_attr(&t.root, "data-state", s.state);
    set_attr(&t.bar, "max", &c.sessions.max(1).to_string());
    set_attr(&t.bar, "value", &c.done.to_string());
    t.sessions.set_text_content(Some(&format!("{}/{} sessions", c.done, c.sessions)));
    t.booked.set_text_content(Some(&format!("{} booked", group(c.booked))));
    t.conflicts.set_text_content(Some(&format!("{} conflicts", group(c.conflicts))));
    let no = c.sold_out + c.full;
    t.sold_out.set_text_content(Some(&if no > 0 { format!("{} sold out", group(no)) } else { String::new() }));
    t.errors.set_text_content(Some(&if c.errors > 0 { format!("{} errors", group(c.errors)) } else { String::new() }));
}

fn totals(slots: &[Slot]) -> Counters {
    let mut t = Counters::default();
    for s in slots {
        t.add(&s.c);
    }
    t
}

fn render_totals(p: &Params, t: &Counters, elapsed: Option<f64>) {
    set_text("c-booked", &group(t.booked));
    set_text("c-conflicts", &group(t.conflicts));
    set_text("c-already", &group(t.already_booked));
    set_text("c-soldout", &group(t.sold_out + t.full));
    set_text("c-failed", &group(t.errors));
    set_attr(&by_id("progress"), "max", &p.sessions.to_string());
    set_attr(&by_id("progress"), "value", &t.done.to_string());
    set_text("progress-text", &format!("{} of {} sessions done", group(t.done), group(p.sessions)));
    if let Some(s) = elapsed {
        set_text("elapsed", &format!("booking phase {s:.2} s"));
    }
}

/// What the run should end with, where the scenario says it exactly.
fn expected_bookings(p: &Params) -> Option<u64> {
    match p.scenario {
        Scenario::Holiday => Some(holiday::eligible(&p.holiday()).min(p.sessions)),
        Scenario::LastRoom | Scenario::LastSeat => Some(1),
        Scenario::Dinner | Scenario::LongStays => None,
    }
}

/// Faults for the reliability tests, from the URL only (never a control):
/// `resume=1` keeps the database (and replays the sessions already booked)
/// instead of starting afresh; `kill_worker=K&kill_after=N` terminates
/// worker K (1-based, as the tiles) for real once it reports N sessions done,
/// in the middle of whatever it is doing.
#[derive(Clone, Copy, Debug, Default)]
struct Faults {
    resume: bool,
    kill: Option<(usize, u64)>,
    /// Not a fault: `cold=1` starts the race with empty client caches (the
    /// workers do not load theirs from the database before the clock).
    cold: bool,
}

fn faults() -> Faults {
    let url = url_pairs();
    let get = |k: &str| url.iter().rev().find(|(key, _)| key == k).map(|(_, v)| v.as_str());
    let kill = get("kill_worker").and_then(|w| w.parse::<usize>().ok()).filter(|w| *w >= 1).map(|w| {
        let after = get("kill_after").and_then(|n| n.parse::<u64>().ok()).unwrap_or(1);
        (w - 1, after)
    });
    Faults { resume: get("resume") == Some("1"), kill, cold: get("cold") == Some("1") }
}

async fn race(p: &Params, faults: Faults) -> Result<RunOutcome, String> {
    terminate_workers();
    if faults.resume {
        phase("Resuming: keeping the database (sessions already booked replay)");
    } else {
        phase("Deleting the previous database");
        meta::delete_database(DB_NAME).await?;
    }

    let units = scenario::unit_specs(p).len();
    phase(&format!("Setup: defining {units} units and the index (not timed)"));
    let store = IdbStore::open(DB_NAME, p.durability()).await.map_err(|e| format!("opening IndexedDB: {e}"))?;
    let setup = scenario::setup(&store, p).await;
    store.close();
    setup?;

    let n = p.workers as usize;
    let load = if faults.cold { "" } else { " and loads its cache from the database" };
    phase(&format!("Starting {n} workers (not timed): each opens its connection, rehearses its share in memory{load}"));
    let inbox: InboxRef = Rc::default();
    let mut slots = Vec::with_capacity(n);
    let mut handlers = Vec::with_capacity(n);
    for k in 0..n {
        let (w, h) = spawn_worker(k, &inbox)?;
        APP.with(|a| a.borrow_mut().workers.push(w));
        handlers.push(h);
        let sessions = p.sessions_of(k as u32).count() as u64;
        slots.push(Slot {
            state: "starting",
            c: Counters { sessions, ..Counters::default() },
            done: false,
            tile: worker_tile(k),
        });
        render_slot(&slots[k]);
    }
    let workers: Vec<Worker> = APP.with(|a| a.borrow().workers.clone());
    let ticker = Ticker::new(&inbox, 100);
    let started = now_ms();

    // Ready → Prepare → Prepared: every worker has its wasm running and its
    // own connection open before the clock starts.
    let mut ready = 0;
    let mut prepared = 0;
    while prepared < n {
        match next(&inbox).await {
            Ev::Msg(k, FromWorker::Ready) => {
                ready += 1;
                slots[k].state = "ready";
                render_slot(&slots[k]);
                let msg =
                    ToWorker::Prepare { db: DB_NAME.into(), params: p.clone(), index: k as u32, cold: faults.cold };
                workers[k].post_message(&to_js(&msg)).map_err(|e| format!("posting to worker {k}: {e:?}"))?;
            }
            Ev::Msg(k, FromWorker::Prepared { .. }) => {
                prepared += 1;
                slots[k].state = "connected";
                render_slot(&slots[k]);
            }
            Ev::Msg(k, FromWorker::Failed { error, .. }) | Ev::Error(k, error) => {
                return Err(format!("worker {}: {error}", k + 1));
            }
            Ev::Msg(k, other) => return Err(format!("worker {}: unexpected {other:?} before the start", k + 1)),
            Ev::Tick => {
                phase(&format!("Starting {n} workers (not timed): {ready} ready, {prepared} prepared"));
                if now_ms() - started > START_TIMEOUT_MS {
                    return Err(format!("only {ready} of {n} workers started within {} s", START_TIMEOUT_MS / 1000.0));
                }
            }
        }
    }

    phase("Racing");
    let mut samples: Vec<Sample> = Vec::new();
    let mut acked: Vec<BookingId> = Vec::new();
    let mut errors: Vec<String> = Vec::new();
    let t0 = now_ms();
    for (k, w) in workers.iter().enumerate() {
        w.post_message(&to_js(&ToWorker::Go)).map_err(|e| format!("posting to worker {k}: {e:?}"))?;
        slots[k].state = "racing";
    }
    let mut done = 0;
    let mut dirty = true;
    let t1 = loop {
        match next(&inbox).await {
            Ev::Msg(k, FromWorker::Progress { c, .. }) => {
                slots[k].c = c;
                dirty = true;
                if faults.kill.is_some_and(|(w, after)| w == k && c.done >= after) && !slots[k].done {
                    // The fault: the worker dies mid-run, whatever it was
                    // doing (its commit in flight lands whole or not at all).
                    workers[k].terminate();
                    slots[k].state = "killed";
                    slots[k].done = true;
                    done += 1;
                    if done == n {
                        break now_ms();
                    }
                }
            }
            Ev::Msg(k, FromWorker::Done { c, acked: a, first_error, .. }) => {
                slots[k].c = c;
                slots[k].state = "done";
                if !slots[k].done {
                    slots[k].done = true;
                    done += 1;
                }
                for (actor, key) in a {
                    acked.push(BookingId::new(&actor, &key).map_err(|e| format!("worker {}: {e}", k + 1))?);
                }
                if let Some(e) = first_error {
                    errors.push(format!("worker {}: {e}", k + 1));
                }
                dirty = true;
                if done == n {
                    break now_ms();
                }
            }
            Ev::Msg(k, FromWorker::Failed { error, .. }) | Ev::Error(k, error) => {
                return Err(format!("worker {}: {error}", k + 1));
            }
            Ev::Msg(k, other) => return Err(format!("worker {}: unexpected {other:?} while racing", k + 1)),
            Ev::Tick => {
                let t = totals(&slots);
                let secs = (now_ms() - t0) / 1000.0;
                samples.push(Sample { t: secs, booked: t.booked, conflicts: t.conflicts });
                render_totals(p, &t, Some(secs));
                if dirty {
                    slots.iter().for_each(render_slot);
                    dirty = false;
                }
                chart::draw(&by_id("chart"), &samples, expected_bookings(p));
            }
        }
    };
    drop(ticker);
    let wall_secs = (t1 - t0) / 1000.0;
    let t = totals(&slots);
    // For the reliability tests: whether this run kept the database, and how
    // many bookings were answered from an earlier run's claims.
    let result = by_id("result");
    set_attr(&result, "data-resumed", if faults.resume { "1" } else { "0" });
    set_attr(&result, "data-replays", &t.replays.to_string());
    samples.push(Sample { t: wall_secs, booked: t.booked, conflicts: t.conflicts });
    slots.iter().for_each(render_slot);
    render_totals(p, &t, Some(wall_secs));
    chart::draw(&by_id("chart"), &samples, expected_bookings(p));
    terminate_workers();
    drop(handlers);
    if let Some(e) = errors.first() {
        set_text("form-error", e);
    }

    // The recount: a new connection, everything replayed from the store.
    phase("Recounting from IndexedDB through a fresh connection");
    let figures = recount(p, &acked).await;
    let first_unit = figures.as_ref().ok().and_then(|(_, u)| u.clone());
    let o = outcome::finish(p, &t, acked.len() as u64, figures.clone().map(|(f, _)| f), wall_secs);
    let saved = meta::Saved {
        params: p.clone(),
        line: o.line.clone(),
        ok: o.check.is_ok(),
        verdict: o.verdict.clone(),
        at: js_sys::Date::now(),
    };
    if let Err(e) = meta::save(&saved).await {
        set_text("form-error", &e);
    }
    show_saved(&saved);
    match &figures {
        Ok((f, _)) => show_recount(p, f, "recounted at the end of the run"),
        Err(e) => set_text("recount", e),
    }
    APP.with(|a| a.borrow_mut().saved = Some(saved));
    fill_units(p, first_unit.as_deref());
    if let Some(u) = first_unit {
        inspect_now(&u).await;
    }
    Ok(o)
}

/// Verify on a fresh connection; the figures and one live unit (for the
/// inspector).
/// `acked`: the bookings the workers were told succeeded; verify reports any
/// the store lacks.
async fn recount(p: &Params, acked: &[BookingId]) -> Result<(Figures, Option<String>), String> {
    let fresh = IdbStore::open(DB_NAME, Durability::Default).await.map_err(|e| format!("opening IndexedDB: {e}"))?;
    let report = allot_core::verify(&fresh, NOW, acked, &VerifyOptions { rosters: true }).await;
    fresh.close();
    let report = report.map_err(|e| format!("verify: {e}"))?;
    let unit = report
        .rosters
        .iter()
        .find(|r| r.entries.iter().any(|e| matches!(e.state, "held" | "confirmed")))
        .map(|r| r.stream.unit_str().to_string());
    Ok((Figures::from_report(p, &report), unit))
}

// ------------------------------------------------------------------ kept state

fn show_saved(s: &meta::Saved) {
    let when = js_sys::Date::new(&JsValue::from_f64(s.at));
    let at: String = when.to_locale_string("en-GB", &JsValue::UNDEFINED).into();
    set_text("stored-params", &format!("{} — finished {at}", describe(&s.params)));
    set_text("stored-line", &s.line);
    set_attr(&by_id("stored-line"), "data-ok", if s.ok { "1" } else { "0" });
}

fn show_recount(p: &Params, f: &Figures, how: &str) {
    let (line, ok) = f.summary(p);
    let r = by_id("recount");
    r.set_text_content(Some(&line));
    set_attr(&r, "data-done", "1");
    set_attr(&r, "data-ok", if ok { "1" } else { "0" });
    set_attr(&r, "data-live", &f.live.to_string());
    let _ = r.remove_attribute("data-empty");
    set_text(
        "recount-note",
        &format!(
            "{} — {how}: {} units, {} streams, {} events, {} claims replayed.",
            if ok { "✓ The store holds what the invariant demands" } else { "✗ The store breaks the invariant" },
            f.units,
            f.streams,
            f.events,
            f.claims
        ),
    );
    set_attr(&by_id("stored"), "data-state", if ok { "pass" } else { "fail" });
}

async fn recount_stored(p: &Params) {
    set_text("recount", "recounting…");
    let _ = by_id("recount").remove_attribute("data-done");
    match recount(p, &[]).await {
        Ok((f, _)) => show_recount(p, &f, &format!("recounted just now through a fresh connection to “{DB_NAME}”")),
        Err(e) => {
            let r = by_id("recount");
            r.set_text_content(Some(&e));
            set_attr(&r, "data-done", "1");
            set_attr(&r, "data-ok", "0");
        }
    }
}

async fn verify_button() {
    if busy() {
        return;
    }
    let Some(p) = APP.with(|a| a.borrow().saved.as_ref().map(|s| s.params.clone())) else {
        set_text("recount", "Nothing to verify: no run is kept in IndexedDB. Press Start first.");
        return;
    };
    set_busy(true);
    recount_stored(&p).await;
    set_busy(false);
}

async fn reset() {
    if busy() {
        return;
    }
    set_busy(true);
    terminate_workers();
    phase("Deleting the databases");
    let r1 = meta::delete_database(DB_NAME).await;
    let r2 = meta::delete_database(META_DB_NAME).await;
    APP.with(|a| a.borrow_mut().saved = None);
    match r1.and(r2) {
        Ok(()) => phase(&format!("Reset: “{DB_NAME}” and “{META_DB_NAME}” deleted")),
        Err(e) => phase(&e),
    }
    let r = by_id("result");
    r.set_text_content(Some(""));
    let _ = r.remove_attribute("data-done");
    let _ = r.remove_attribute("data-ok");
    set_attr(&by_id("outcome"), "data-state", "idle");
    set_text("verdict-badge", "Ready");
    set_text("verdict", "The database is empty. Press Start to race.");
    set_text("stored-params", "No run kept yet: press Start.");
    set_text("stored-line", "");
    set_text("recount", "");
    set_text("recount-note", "");
    set_attr(&by_id("stored"), "data-state", "idle");
    clear(&by_id("workers-grid"));
    clear(&by_id("stream-body"));
    clear(&by_id("units"));
    set_text("unit-summary", "");
    chart::draw(&by_id("chart"), &[], None);
    set_busy(false);
}

// ------------------------------------------------------------------ inspector

fn fill_units(p: &Params, select_unit: Option<&str>) {
    let list = by_id("units");
    clear(&list);
    let specs = scenario::unit_specs(p);
    for s in specs.iter().take(DATALIST_MAX) {
        let o = el("option");
        set_attr(&o, "value", s.id.as_str());
        append(&list, &o);
    }
    let pick = select_unit.map(str::to_string).or_else(|| specs.first().map(|s| s.id.as_str().to_string()));
    if let Some(u) = pick {
        input("unit").set_value(&u);
    }
}

async fn inspect(id: String) {
    if busy() {
        return;
    }
    set_busy(true);
    inspect_now(&id).await;
    set_busy(false);
}

fn value_text(v: &KeyValue) -> String {
    match v {
        KeyValue::U8(x) => x.to_string(),
        KeyValue::U16(x) => x.to_string(),
        KeyValue::U32(x) => x.to_string(),
        KeyValue::U64(x) => x.to_string(),
        KeyValue::I8(x) => x.to_string(),
        KeyValue::I16(x) => x.to_string(),
        KeyValue::I32(x) => x.to_string(),
        KeyValue::I64(x) => x.to_string(),
        KeyValue::F64(x) => x.to_string(),
        KeyValue::Bool(x) => x.to_string(),
        KeyValue::Str(s) => s.clone(),
        KeyValue::Bytes(b) => b.iter().map(|x| format!("{x:02x}")).collect(),
    }
}

fn span_text(span: &Span, minutes: bool) -> String {
    match *span {
        Span::Whole => "the whole departure".into(),
        Span::Days { from, to } => {
            let n = to - from;
            format!("nights {} → {} ({n} night{})", date(from.into()), date(to.into()), if n == 1 { "" } else { "s" })
        }
        Span::Interval { start, end } if minutes => format!("{}–{}", clock(start), clock(end)),
        Span::Interval { start, end } => format!("{} → {}", date(start), date(end)),
    }
}

fn stream_text(part: &Part) -> String {
    match part {
        Part::Def => "definition".into(),
        Part::Main => "bookings".into(),
        Part::Day(d) => format!("night {}", date((*d).into())),
    }
}

async fn inspect_now(id: &str) {
    let body = by_id("stream-body");
    clear(&body);
    let Ok(unit) = UnitId::new(id.trim()) else {
        set_text("unit-summary", "Not a valid unit id.");
        return;
    };
    let params = APP.with(|a| a.borrow().saved.as_ref().map(|s| s.params.clone()));
    let minutes = params.as_ref().is_some_and(|p| p.scenario == Scenario::Dinner);
    let store = match IdbStore::open(DB_NAME, Durability::Default).await {
        Ok(s) => s,
        Err(e) => {
            set_text("unit-summary", &format!("cannot open IndexedDB: {e}"));
            return;
        }
    };
    let items = Allot::new(&store).lifecycle(&unit).await;
    store.close();
    let items = match items {
        Ok(i) => i,
        Err(e) => {
            set_text("unit-summary", &format!("{}: {e}", unit.as_str()));
            return;
        }
    };
    let mut bookings = std::collections::BTreeSet::new();
    let mut about = String::new();
    let mut streams = std::collections::BTreeSet::new();
    for (n, it) in items.iter().enumerate() {
        streams.insert(it.stream.clone());
        let (what, who, detail) = match &it.event {
            Event::UnitDefined { spec, .. } => {
                let attrs: Vec<String> = spec.attrs.iter().map(|(k, v)| format!("{k} = {}", value_text(v))).collect();
                let kind = match spec.kind {
                    UnitKind::Exclusive => "exclusive".to_string(),
                    UnitKind::Pool { capacity } => format!("pool of {capacity}"),
                    UnitKind::Allotment { capacity } => format!("allotment of {capacity} per night"),
                };
                about = format!("{kind}; {}", attrs.join(", "));
                ("defined", String::new(), about.clone())
            }
            Event::UnitReplaced { .. } => ("replaced", String::new(), String::new()),
            Event::UnitRetired { .. } => ("retired", String::new(), String::new()),
            Event::IndexDefined { def, .. } => ("index defined", String::new(), def.name.clone()),
            Event::UnitsReindexed { units, .. } => ("reindexed", String::new(), format!("{units} units")),
            Event::Booked { booking, qty, span, hold, .. } => {
                bookings.insert(booking.clone());
                let kind = if hold.is_some() { "held" } else { "booked" };
                let party = params
                    .as_ref()
                    .filter(|p| p.scenario == Scenario::Dinner)
                    .and_then(|p| scenario::session_of(p, booking).map(|i| scenario::party(p, i).size))
                    .map_or(String::new(), |n| format!(", party of {n}"));
                (kind, booking.to_string(), format!("{} × {qty}{party}", span_text(span, minutes)))
            }
            Event::Confirmed { booking, .. } => ("confirmed", booking.to_string(), String::new()),
            Event::Cancelled { booking, .. } => ("cancelled", booking.to_string(), String::new()),
            Event::Released { booking, .. } => ("released", booking.to_string(), String::new()),
        };
        let tr = el("tr");
        set_attr(&tr, "data-event", what);
        for (text, class) in [
            ((n + 1).to_string(), "num"),
            (stream_text(&it.stream.part), ""),
            (it.seq.to_string(), "num"),
            (what.to_string(), "event"),
            (who, "mono"),
            (detail, ""),
        ] {
            append(&tr, &el_text("td", class, &text));
        }
        append(&body, &tr);
    }
    set_text(
        "unit-summary",
        &format!(
            "{}: {about}. {} event{} in {} stream{}, {} booking{}. Each event was appended only if its stream was \
             still at the seq its booker had observed.",
            unit.as_str(),
            items.len(),
            if items.len() == 1 { "" } else { "s" },
            streams.len(),
            if streams.len() == 1 { "" } else { "s" },
            bookings.len(),
            if bookings.len() == 1 { "" } else { "s" },
        ),
    );
}

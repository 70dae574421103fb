//! The deterministic simulation: many virtual bookers, interleaved by a
//! seeded scheduler over one fault-injecting store, checked against a
//! reference model after every step. A run is a pure function of its seed
//! (and step budget): a failing seed replays exactly.
//!
//! - Each booker is an [`allot_core::Allot`] (its own cache) over a
//!   [`store::Handle`] to the same [`store::Shared`] wrapper around one
//!   `MemStore`. Every store call yields once to the scheduler, so bookers
//!   interleave between observe, decide and commit.
//! - The scheduler ([`world`]) picks, at each step, one booker: it starts an
//!   operation, advances its running one to its next store call, or crashes
//!   it. No threads, no clock, no hash-map iteration order.
//! - Faults: commits whose outcome is unknown (applied or not), aborted
//!   commits, failing reads, reads served from an earlier state (within what
//!   the contract allows), bookers stalled between decision and commit,
//!   crashed bookers, holders that vanish, requests delivered twice or out
//!   of order, and clocks that jump around hold expiries.
//! - The checker ([`model`], [`world`]) compares every outcome with the
//!   reference model, checks the invariants on every commit, runs
//!   `allot_core::verify` periodically and at the end, and finally probes
//!   that everything not confirmed is bookable once every hold expired.
//!
//! See `docs/simulation.md` for the faults, the invariants, and how to run
//! and replay.

pub mod exec;
pub mod model;
pub mod rng;
pub mod store;
pub mod swarm;
pub mod trace;
pub mod world;

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;

pub use store::Broken;
pub use swarm::Swarm;

use model::History;
use rng::Rng;
use store::{FaultCounts, Shared, SimStore, State};
use trace::Trace;
use world::World;

/// How to run a seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SimOptions {
    /// Scheduler steps before draining (then the running operations finish
    /// and the end checks run).
    pub steps: u64,
    /// Run against a deliberately broken store.
    pub broken: Option<Broken>,
    /// Keep one readable line per event.
    pub trace: bool,
    /// Run `verify` every this many steps (0: only at the end).
    pub verify_every: u64,
    /// Bytes that steer the run's choices (a fuzzer's input; see
    /// [`rng::Rng::taped`]). `None`: the seed alone decides.
    pub tape: Option<Rc<[u8]>>,
}

impl Default for SimOptions {
    fn default() -> Self {
        Self { steps: 200, broken: None, trace: false, verify_every: 50, tape: None }
    }
}

/// The first broken invariant of a seed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub step: u64,
    pub what: String,
}

/// What one seed did.
#[derive(Clone, Debug)]
pub struct SeedReport {
    pub seed: u64,
    /// Steps taken, including draining and the end checks.
    pub steps: u64,
    pub faults: u64,
    pub fault_counts: FaultCounts,
    /// Operations that finished.
    pub ops: u64,
    /// Finished operations by outcome (`book:held`, `confirm:E_HOLD_EXPIRED`...).
    pub outcomes: BTreeMap<String, u64>,
    /// Commits that changed the store.
    pub commits: u64,
    /// Change-feed reads the bookers made (0 unless the swarm has a feed).
    pub feed_reads: u64,
    pub failure: Option<Failure>,
    /// A digest of the whole trace: equal digests, same run.
    pub digest: u64,
    pub trace: Vec<String>,
    pub swarm: Swarm,
}

/// Runs one seed.
pub fn run_seed(seed: u64, opts: &SimOptions) -> SeedReport {
    // Every generator of the run descends from `proto`: with a tape, they
    // all read it.
    let proto = match &opts.tape {
        Some(t) => Rng::taped(seed, t.clone()),
        None => Rng::new(seed),
    };
    let swarm = Swarm::drawn(seed, &proto);
    let mut fault_rng = proto.reseed(seed);
    let state = State {
        rng: fault_rng.fork(3),
        faults: swarm.faults.clone(),
        hist: History::default(),
        io: Vec::new(),
        counts: FaultCounts::default(),
        bad: Vec::new(),
        trace: Trace::new(opts.trace),
        step: 0,
        in_flight: Vec::new(),
        feed_ends: Vec::new(),
        feed_reads: 0,
    };
    let shared = Rc::new(Shared { inner: SimStore::new(opts.broken, swarm.feed), st: RefCell::new(state) });
    let step = Rc::new(std::cell::Cell::new(0u64));
    let ops = Rc::new(std::cell::Cell::new(0u64));
    let outcomes = Rc::new(RefCell::new(BTreeMap::new()));
    let result = catch_unwind(AssertUnwindSafe(|| {
        let mut w = World::new(proto.reseed(seed), swarm.clone(), shared.clone(), opts);
        let r = (|| {
            w.setup()?;
            for _ in 0..opts.steps {
                w.step_once()?;
                step.set(w.step);
            }
            w.drain()?;
            w.finish_run()
        })();
        step.set(w.step);
        ops.set(w.ops);
        *outcomes.borrow_mut() = std::mem::take(&mut w.outcomes);
        r
    }));
    let failure = match result {
        Ok(Ok(())) => None,
        Ok(Err(f)) => Some(f),
        Err(p) => {
            let msg = p
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "?".into());
            Some(Failure { step: step.get() + 1, what: format!("panic: {msg}") })
        }
    };
    let st = shared.st.borrow();
    SeedReport {
        seed,
        steps: step.get(),
        faults: st.counts.total(),
        fault_counts: st.counts.clone(),
        ops: ops.get(),
        outcomes: outcomes.take(),
        commits: st.hist.version,
        feed_reads: st.feed_reads,
        failure,
        digest: st.trace.digest,
        trace: st.trace.lines.clone(),
        swarm,
    }
}

/// The most scheduler steps a fuzz input can ask for: long enough for
/// holds to expire and stays to overlap, short enough for libFuzzer to
/// run thousands of inputs a second.
pub const FUZZ_STEPS_MAX: u64 = 400;

/// Runs one fuzz input: its first two bytes pick the seed, the third the
/// step budget (up to [`FUZZ_STEPS_MAX`]), and the rest is the tape that
/// steers every choice of the run (configuration, schedule, operations,
/// faults). A pure function of `data`: the fuzz target `sim_ops` and
/// `allot-sim --tape FILE` run exactly this.
pub fn run_fuzz_input(data: &[u8], broken: Option<Broken>) -> SeedReport {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let seed = u64::from(u16::from_le_bytes([byte(0), byte(1)]));
    let steps = u64::from(byte(2)) * FUZZ_STEPS_MAX / 255;
    let tape: Rc<[u8]> = Rc::from(data.get(3..).unwrap_or(&[]));
    let opts = SimOptions { steps, broken, trace: false, verify_every: 25, tape: Some(tape) };
    run_seed(seed, &opts)
}

/// Totals over many seeds.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    pub seeds: u64,
    pub steps: u64,
    pub faults: u64,
    pub ops: u64,
    pub commits: u64,
    pub outcomes: BTreeMap<String, u64>,
    pub fault_counts: FaultCounts,
    /// Failing seeds with their first violation.
    pub failures: Vec<(u64, Failure)>,
}

impl Summary {
    pub fn add(&mut self, r: &SeedReport) {
        self.seeds += 1;
        self.steps += r.steps;
        self.faults += r.faults;
        self.ops += r.ops;
        self.commits += r.commits;
        for (k, n) in &r.outcomes {
            *self.outcomes.entry(k.clone()).or_default() += n;
        }
        self.fault_counts.add(&r.fault_counts);
        if let Some(f) = &r.failure {
            self.failures.push((r.seed, f.clone()));
        }
    }

    /// `sim_done seeds=N steps=... faults=... violations=V` (V: failing seeds).
    pub fn line(&self) -> String {
        format!(
            "sim_done seeds={} steps={} faults={} violations={}",
            self.seeds,
            self.steps,
            self.faults,
            self.failures.len()
        )
    }
}

/// `sim_failed seed=S step=K: <violation>`.
pub fn failure_line(seed: u64, f: &Failure) -> String {
    format!("sim_failed seed={seed} step={}: {}", f.step, f.what)
}

/// Runs `seeds` seeds from `start`, calling `each` after every seed.
pub fn run_seeds(start: u64, seeds: u64, opts: &SimOptions, mut each: impl FnMut(&SeedReport)) -> Summary {
    let mut s = Summary::default();
    for seed in start..start.saturating_add(seeds) {
        let r = run_seed(seed, opts);
        each(&r);
        s.add(&r);
    }
    s
}

//! `allot-sim`: runs the deterministic simulation over many seeds.
//!
//! stdout gets one `sim_failed seed=S step=K: ...` line per failing seed and
//! exactly one `sim_done seeds=N steps=... faults=... violations=V` line;
//! progress, replay hints and traces go to stderr. The exit status is 0 only
//! if no seed broke an invariant.

use std::process::ExitCode;
use std::time::Instant;

use allot_tests::sim::{self, Broken, SimOptions};
use clap::Parser;

#[derive(Parser)]
#[command(name = "allot-sim", about = "allot's deterministic simulation: seeded bookers, faults, a reference model")]
struct Cli {
    /// How many seeds to run (from --start).
    #[arg(long, default_value_t = 1000)]
    seeds: u64,
    /// The first seed.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Run this one seed only (replays it exactly).
    #[arg(long)]
    seed: Option<u64>,
    /// Scheduler steps per seed (before draining and the end checks).
    #[arg(long, default_value_t = 500)]
    steps: u64,
    /// Run `verify` every this many steps (0: only at the end).
    #[arg(long, default_value_t = 50)]
    verify_every: u64,
    /// Run against a deliberately broken store: `seq` (skips the
    /// expected-seq check), `claims` (skips the claim check), `lose` (drops
    /// acknowledged commits), `epoch` (a vacancy epoch that never moves).
    #[arg(long, num_args = 0..=1, default_missing_value = "seq", value_parser = parse_broken)]
    broken_store: Option<Broken>,
    /// Print every step of the run to stderr (with --seed).
    #[arg(long)]
    trace: bool,
    /// Run one fuzz input (a file from `fuzz/artifacts/sim_ops/` or the
    /// corpus) exactly as the `sim_ops` fuzz target does.
    #[arg(long, value_name = "FILE")]
    tape: Option<std::path::PathBuf>,
    /// Print each seed's swarm configuration to stderr.
    #[arg(long)]
    verbose: bool,
}

fn parse_broken(s: &str) -> Result<Broken, String> {
    Broken::parse(s).ok_or_else(|| format!("unknown broken store {s:?} (seq, claims, lose, epoch)"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Some(path) = &cli.tape {
        let data = match std::fs::read(path) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("allot-sim: cannot read {}: {e}", path.display());
                return ExitCode::from(2);
            }
        };
        let r = sim::run_fuzz_input(&data, cli.broken_store);
        eprintln!("seed {}: {}", r.seed, r.swarm.summary());
        eprintln!(
            "steps={} ops={} commits={} faults={} outcomes {:?}",
            r.steps, r.ops, r.commits, r.faults, r.outcomes
        );
        if let Some(f) = &r.failure {
            println!("{}", sim::failure_line(r.seed, f));
            return ExitCode::FAILURE;
        }
        println!("sim_done seeds=1 steps={} faults={} violations=0", r.steps, r.faults);
        return ExitCode::SUCCESS;
    }
    let opts = SimOptions {
        steps: cli.steps,
        broken: cli.broken_store,
        trace: cli.trace,
        verify_every: cli.verify_every,
        tape: None,
    };
    let (start, seeds) = match cli.seed {
        Some(s) => (s, 1),
        None => (cli.start, cli.seeds),
    };
    let started = Instant::now();
    let mut last_progress = Instant::now();
    let mut replay = format!("--steps {}", cli.steps);
    if cli.verify_every != 50 {
        replay.push_str(&format!(" --verify-every {}", cli.verify_every));
    }
    if let Some(b) = cli.broken_store {
        replay.push_str(&format!(" --broken-store {}", b.name()));
    }
    let summary = sim::run_seeds(start, seeds, &opts, |r| {
        if cli.verbose || cli.seed.is_some() {
            eprintln!("seed {}: {}", r.seed, r.swarm.summary());
        }
        if cli.verbose {
            eprintln!("seed {}: outcomes {:?}", r.seed, r.outcomes);
        }
        for line in &r.trace {
            eprintln!("{line}");
        }
        if cli.seed.is_some() {
            eprintln!(
                "seed {}: steps={} ops={} commits={} faults={} {:?} digest={:016x}",
                r.seed, r.steps, r.ops, r.commits, r.faults, r.fault_counts, r.digest
            );
        }
        if let Some(f) = &r.failure {
            println!("{}", sim::failure_line(r.seed, f));
            eprintln!(
                "  replay: cargo run --release -p allot-tests --bin allot-sim -- --seed {} {replay} --trace",
                r.seed
            );
        }
        if last_progress.elapsed().as_secs() >= 2 {
            last_progress = Instant::now();
            eprintln!("  seed {} done ({:.0}s)", r.seed, started.elapsed().as_secs_f64());
        }
    });
    eprintln!(
        "{} seeds in {:.1}s: {} ops, {} commits",
        summary.seeds,
        started.elapsed().as_secs_f64(),
        summary.ops,
        summary.commits
    );
    eprintln!("faults: {:?}", summary.fault_counts);
    eprintln!("outcomes: {:?}", summary.outcomes);
    println!("{}", summary.line());
    if summary.failures.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

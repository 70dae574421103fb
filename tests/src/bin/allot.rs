//! `allot`: the native holiday rush and the small races, from a terminal.
//!
//! stdout gets exactly one result line; progress goes to stderr, only on a
//! terminal and only for runs longer than a second. The exit status is 0
//! only if the run proved its invariant.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use allot_tests::holiday::{self, HolidayParams};

/// mimalloc rather than the system allocator: a booking allocates many small
/// short-lived values on 16 threads at once: about a third less CPU for the
/// same run (holiday 1e5 rooms, 16 threads, batch 16).
///
/// On Linux it replaces `malloc` itself (its `override` feature) and Rust's
/// default allocator calls that. Not through `mimalloc::MiMalloc`, which
/// asks for every block with `mi_malloc_aligned`: once a size class's page
/// is used up, mimalloc serves an aligned request whose size is not a power
/// of two by over-allocating in a larger class (an 80-byte claim record in
/// a 96-byte block), and never goes back to the class's own pages. Plain
/// `malloc` has no such path: 4% fewer instructions per booking (callgrind),
/// ARCHITECTURE.md, "mimalloc in place of malloc".
#[cfg(all(feature = "mimalloc", target_os = "linux"))]
extern crate mimalloc;
#[cfg(all(feature = "mimalloc", not(target_arch = "wasm32"), not(target_os = "linux")))]
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use allot_tests::scenarios;
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "allot", about = "allot's native races: holiday rush, last room, last seat")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Sessions race on threads to book one eligible room each, then the
    /// store is recounted.
    Holiday {
        #[arg(long, default_value_t = 20)]
        hotels: u32,
        #[arg(long, default_value_t = 50)]
        rooms_per_hotel: u32,
        #[arg(long, default_value_t = 1000)]
        sessions: u64,
        #[arg(long, default_value_t = 16)]
        workers: u32,
        #[arg(long, default_value_t = 32)]
        window: u32,
        #[arg(long, default_value_t = 0)]
        price_min: u32,
        #[arg(long, default_value_t = u32::MAX)]
        price_max: u32,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Sessions a worker books together with group commit (1: one at a time).
        #[arg(long, default_value_t = 1)]
        batch: u32,
        /// `memory`, or a PostgreSQL URL (`postgres://user:password@host:port/db`):
        /// the run gets a fresh schema there, dropped afterwards.
        #[arg(long, default_value = "memory")]
        store: holiday::StoreChoice,
    },
    /// One room, many sessions: exactly one books it.
    LastRoom {
        #[arg(long, default_value_t = 50)]
        sessions: u64,
        #[arg(long, default_value_t = 16)]
        workers: u32,
    },
    /// A capacity-1 occurrence, two bookers: one booked, one full.
    LastSeat,
}

fn progress(total: u64) -> impl Fn(u64, u64) + Sync {
    let tty = std::io::stderr().is_terminal();
    move |done, booked| {
        if tty {
            let mut e = std::io::stderr().lock();
            let _ = write!(e, "\r  {done}/{total} sessions done, {booked} booked   ");
            let _ = e.flush();
        }
    }
}

fn finish(line: String, check: Result<(), String>) -> ExitCode {
    if std::io::stderr().is_terminal() {
        eprint!("\r\x1b[K");
    }
    println!("{line}");
    match check {
        Ok(()) => ExitCode::SUCCESS,
        Err(why) => {
            eprintln!("FAILED: {why}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Holiday {
            hotels,
            rooms_per_hotel,
            sessions,
            workers,
            window,
            price_min,
            price_max,
            seed,
            batch,
            store,
        } => {
            let p =
                HolidayParams { hotels, rooms_per_hotel, sessions, workers, window, price_min, price_max, seed, batch };
            holiday::run(&store, &p, &progress(sessions)).map(|r| (r.to_string(), r.check()))
        }
        Command::LastRoom { sessions, workers } => {
            scenarios::last_room(sessions, workers).map(|r| (r.to_string(), r.check()))
        }
        Command::LastSeat => scenarios::last_seat().map(|r| (r.to_string(), r.check())),
    };
    match outcome {
        Ok((line, check)) => finish(line, check),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}

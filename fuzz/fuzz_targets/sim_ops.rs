//! Random operation sequences against the reference model: the input steers
//! every choice of one deterministic simulation run (the configuration, the
//! schedule of bookers, each operation and its arguments, every injected
//! fault), and the run checks every outcome against the reference model and
//! the invariants after every step. Any broken invariant or panic is a
//! crash; `allot-sim --tape <crash file>` replays it with a trace.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let report = allot_tests::sim::run_fuzz_input(data, None);
    if let Some(f) = report.failure {
        panic!("{}", allot_tests::sim::failure_line(report.seed, &f));
    }
});

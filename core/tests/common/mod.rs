//! Helpers shared by core's integration tests (each test file is a crate of
//! its own and includes this module with `mod common;`).

use allot_core::{BookError, Outcome};

/// The units `out` booked, in order (everything else left out).
pub fn booked(out: &[Result<Outcome, BookError>]) -> Vec<String> {
    out.iter()
        .filter_map(|o| match o {
            Ok(Outcome::Booked { unit, .. }) => Some(unit.as_str().to_string()),
            _ => None,
        })
        .collect()
}

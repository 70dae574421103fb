//! What spans crates: the native holiday rush and the small races (as
//! library code, so that the `allot` command and the tests share it), and
//! the deterministic simulation.

pub mod holiday;
pub mod scenarios;
pub mod sim;

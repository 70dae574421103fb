#![no_std]
#![doc = include_str!("../README.md")]

extern crate alloc;
#[cfg(feature = "std")]
extern crate std;

pub mod allot;
mod batch;
pub mod catalog;
pub mod conformance;
pub mod error;
pub mod event;
pub mod key;
pub mod limits;
pub mod mem;
mod mirror;
pub mod model;
pub mod roster;
pub mod rules;
pub mod store;
mod sync;
pub mod verify;

pub use allot::{ActReq, Allot, BookAnyReq, BookReq, Config, Pick, Stats};
pub use catalog::{IndexQuery, Schema};
pub use error::{BookError, CatalogError, ConfirmError, DecodeError, Error, InputError, QueryError, StoreError};
pub use event::{ClaimRecord, Event, Hold, UnitRow};
pub use key::{KeyType, KeyValue, Order};
pub use mem::MemStore;
pub use model::{
    Actor, BookingId, IndexDef, IndexField, Part, RequestKey, Seq, Span, StreamId, TimeMs, UnitId, UnitKind, UnitSpec,
};
pub use rules::{HoldReq, Outcome};
pub use store::{Commit, CommitOutcome, Store};
pub use verify::{VerifyOptions, VerifyReport, Violation, verify};

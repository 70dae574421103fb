//! Arbitrary bytes into every record decoder a store hands data to (events,
//! unit rows, claims, stream ids, booking ids): never a panic, and whatever
//! decodes re-encodes to exactly the input.
#![no_main]

use allot_core::event::Append;
use allot_core::{BookingId, ClaimRecord, Event, StreamId, UnitRow};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(e) = Event::decode(data) {
        assert_eq!(e.encode(), data);
    }
    if let Ok(r) = UnitRow::decode(data) {
        assert_eq!(r.encode(), data);
    }
    if let Ok(c) = ClaimRecord::decode(data) {
        assert_eq!(c.encode(), data);
    }
    if let Ok(s) = StreamId::decode(data) {
        assert_eq!(s.encode(), data);
    }
    if let Ok(b) = BookingId::decode(data) {
        assert_eq!(b.encode(), data);
    }
    if let Ok(a) = Append::decode_all(data) {
        assert_eq!(Append::encode_all(&a), data);
    }
});

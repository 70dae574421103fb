//! Grows the wasm heap in large steps instead of 64 KiB ones.
//!
//! Why: the wasm allocator (talc, as std's dlmalloc before it) asks for
//! about the memory that fits each time it runs out, in 64 KiB pages. Every
//! `memory.grow` makes V8 report external memory pressure, and that starts
//! garbage-collection work on the JS heap. A 100,000-room in-memory rush
//! grows memory to about 180 MB in thousands of such steps; in a Node
//! profile, `memory.grow` and the collections it set off took about a
//! fifth of the main thread.
//!
//! The fix stays in safe code: when memory has grown since the last check,
//! allocate one block as large as `step_bytes(memory)` and free it at once.
//! The allocator grows memory once to fit it, and the freed block joins its
//! free memory, from which later allocations are cut without growing
//! memory. The pages are only reserved: the block is never written, so the
//! memory behind it is not touched until allocations use it.

use std::cell::Cell;

/// The smallest reservation step: below this, growing in pages is cheap.
const STEP_BYTES_MIN: usize = 1 << 20;
/// The largest: a step never reserves more than this at once, so a large
/// heap wastes at most this much address space beyond its use.
const STEP_BYTES_MAX: usize = 64 << 20;
/// One wasm page.
const PAGE_BYTES: usize = 64 << 10;

thread_local! {
    /// Memory size in pages when last checked (0: never).
    static PAGES_SEEN: Cell<usize> = const { Cell::new(0) };
}

/// How much to reserve when memory has reached `memory_bytes`: half of it
/// (so memory grows geometrically, by 1.5x), within the bounds above.
fn step_bytes(memory_bytes: usize) -> usize {
    (memory_bytes / 2).clamp(STEP_BYTES_MIN, STEP_BYTES_MAX)
}

/// Called before every store call (`Backend`'s dispatch). Costs one
/// `memory.size` when memory has not grown since the last call.
pub fn reserve() {
    let pages = memory_pages();
    if PAGES_SEEN.with(Cell::get) == pages {
        return;
    }
    let step = step_bytes(pages.saturating_mul(PAGE_BYTES));
    // try_reserve: if memory cannot grow this far, nothing happens and the
    // allocator keeps growing in small steps, as it would have.
    let mut block: Vec<u8> = Vec::new();
    if block.try_reserve_exact(step).is_ok() {
        drop(block);
    }
    PAGES_SEEN.with(|seen| seen.set(memory_pages()));
}

#[cfg(target_arch = "wasm32")]
fn memory_pages() -> usize {
    core::arch::wasm32::memory_size::<0>()
}

/// Natively there is no wasm memory to grow: the system allocator does it.
#[cfg(not(target_arch = "wasm32"))]
fn memory_pages() -> usize {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_is_half_the_memory_within_its_bounds() {
        assert_eq!(step_bytes(0), STEP_BYTES_MIN);
        assert_eq!(step_bytes(20 << 20), 10 << 20);
        assert_eq!(step_bytes(4 << 30), STEP_BYTES_MAX);
    }
}

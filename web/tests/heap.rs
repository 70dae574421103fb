//! `heap::reserve` in real wasm: after it, allocations that fit the
//! reserved step are cut from the allocator's free top chunk, and wasm
//! memory does not grow; and every store call reserves.
#![cfg(target_arch = "wasm32")]

use allot_web::heap;
use core::arch::wasm32::memory_size;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

const PAGE_BYTES: usize = 64 << 10;

#[wasm_bindgen_test]
fn small_allocations_after_a_reserve_do_not_grow_memory() {
    // Grow memory first, so that the allocator's top chunk is nearly used
    // up and the next reserve sees memory it has not seen.
    let grown: Vec<Vec<u8>> = (0..64).map(|i| vec![i as u8; PAGE_BYTES]).collect();
    heap::reserve();
    let pages = memory_size::<0>();
    // The step is at least half of memory: allocate a third of memory in
    // 1 KiB pieces. Without the reserve, this grows memory page by page.
    let pieces = pages * PAGE_BYTES / 3 / 1024;
    let kept: Vec<Vec<u8>> = (0..pieces).map(|i| vec![i as u8; 1024]).collect();
    assert_eq!(memory_size::<0>(), pages, "memory grew after a reserve ({pieces} pieces)");
    // A second reserve with memory unchanged does nothing.
    heap::reserve();
    assert_eq!(memory_size::<0>(), pages);
    assert_eq!(grown.len() + kept.len(), 64 + pieces);
}

/// Every store call reserves: a verify or a large defineUnits is one API
/// call that makes many store calls.
#[wasm_bindgen_test]
async fn a_store_call_reserves_when_memory_grew() {
    use allot_core::{MemStore, Store};
    use allot_web::api::Backend;
    let backend = Backend::Memory(std::rc::Rc::new(MemStore::new()));
    backend.read_streams(&[]).await.expect("read");
    // Allocate until the allocator has grown memory (the other test in
    // this instance may have left a reserve to use up first).
    let start = memory_size::<0>();
    let mut grown: Vec<Vec<u8>> = Vec::new();
    while memory_size::<0>() == start {
        grown.push(vec![1; PAGE_BYTES]);
    }
    let before = memory_size::<0>();
    backend.read_streams(&[]).await.expect("read");
    // The reserve grew memory by its step (half of memory, 1 MiB at least)
    // in one go; the empty read itself allocates nothing.
    let after = memory_size::<0>();
    assert!(after >= before + before / 2 - 1, "memory {before} -> {after} pages: no reserve");
    assert!(!grown.is_empty());
}

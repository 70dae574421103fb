//! allot for web apps: the thin wasm-bindgen layer over allot-core, the
//! IndexedDB store, and the JavaScript API of the npm package.
//!
//! Keep it thin: conversions (`js`), errors (`error`), IndexedDB access
//! (`idb`) and dispatch (`api`). Booking logic lives in allot-core.

pub mod api;
pub mod error;
pub mod heap;
pub mod idb;
pub mod js;

/// The wasm heap's allocator: talc instead of std's dlmalloc, 3 KB smaller
/// with gzip and no slower (ARCHITECTURE.md, "Where the wasm's time goes").
#[cfg(all(target_arch = "wasm32", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOC: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

/// Every code the JS API can throw: allot-core's plus `E_INVALID_INPUT`.
pub const ERROR_CODES: &[&str] = &{
    const CORE: &[&str] = allot_core::error::ERROR_CODES;
    let mut all = [""; allot_core::error::ERROR_CODES.len() + 1];
    let mut i = 0;
    while i < CORE.len() {
        all[i] = CORE[i];
        i += 1;
    }
    all[CORE.len()] = error::E_INVALID_INPUT;
    all
};

#[cfg(test)]
mod tests {
    /// The TypeScript `ErrorCode` union is exactly the codes allot throws.
    #[test]
    fn typescript_error_codes_match() {
        let ts = include_str!("types.d.ts");
        let start = ts.find("export type ErrorCode =").expect("ErrorCode union");
        let end = start + ts[start..].find(';').expect("end of union");
        let mut in_ts: Vec<&str> = ts[start..end].split('\'').skip(1).step_by(2).collect();
        in_ts.sort_unstable();
        let mut codes = super::ERROR_CODES.to_vec();
        codes.sort_unstable();
        assert_eq!(in_ts, codes);
    }
}

//! A tiny seedable PRNG (SplitMix64): the same seed gives the same numbers
//! on every platform, with no dependency and no floating point.
//!
//! A generator may also read from a *tape* of bytes (a fuzzer's input): then
//! each draw takes its top byte from the tape while it lasts, so the bytes
//! steer every small choice (which booker runs, which operation, which
//! fault) and a mutated byte changes one decision. Once the tape is used up
//! the draws are plain SplitMix64 again. Every generator forked from a taped
//! one reads the same tape, so the run is still a pure function of
//! (seed, tape).

use std::cell::Cell;
use std::rc::Rc;

/// The bytes and the read position, shared by a generator and its forks.
#[derive(Clone, Debug)]
struct Tape {
    bytes: Rc<[u8]>,
    pos: Rc<Cell<usize>>,
}

impl Tape {
    fn next(&self) -> Option<u8> {
        let i = self.pos.get();
        let b = *self.bytes.get(i)?;
        self.pos.set(i + 1);
        Some(b)
    }
}

/// SplitMix64. Not for cryptography; for reproducible schedules.
#[derive(Clone, Debug)]
pub struct Rng {
    state: u64,
    tape: Option<Tape>,
}

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self { state: seed, tape: None }
    }

    /// A generator whose draws are steered by `tape` (see the module doc).
    pub fn taped(seed: u64, tape: Rc<[u8]>) -> Self {
        Self { state: seed, tape: Some(Tape { bytes: tape, pos: Rc::new(Cell::new(0)) }) }
    }

    /// A generator reading the same tape as `self` (if any) from `seed`.
    fn sibling(&self, seed: u64) -> Self {
        Self { state: seed, tape: self.tape.clone() }
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        // The top byte decides `below(n)` for every n <= 256 (multiply-shift
        // uses the high bits), so one tape byte is one decision.
        match self.tape.as_ref().and_then(Tape::next) {
            Some(b) => (u64::from(b) << 56) | (z >> 8),
            None => z,
        }
    }

    /// A new generator for an independent purpose, derived from this one.
    pub fn fork(&mut self, tag: u64) -> Rng {
        let seed = self.next_u64() ^ tag.wrapping_mul(0xd6e8_feb8_6659_fd93);
        self.sibling(seed)
    }

    /// A generator from `seed` that reads the same tape as `self`.
    pub fn reseed(&self, seed: u64) -> Rng {
        self.sibling(seed)
    }

    /// Uniform in `0..n` (`n > 0`), by multiply-shift.
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0)");
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        assert!(lo <= hi, "range({lo}, {hi})");
        if hi - lo == u64::MAX {
            return self.next_u64();
        }
        lo + self.below(hi - lo + 1)
    }

    /// True with probability `per_mille / 1000`.
    pub fn chance(&mut self, per_mille: u32) -> bool {
        per_mille > 0 && self.below(1000) < u64::from(per_mille)
    }

    /// An index into `weights`, chosen in proportion to them; `None` if all
    /// are zero.
    pub fn weighted(&mut self, weights: &[u32]) -> Option<usize> {
        let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
        if total == 0 {
            return None;
        }
        let mut x = self.below(total);
        for (i, &w) in weights.iter().enumerate() {
            if x < u64::from(w) {
                return Some(i);
            }
            x -= u64::from(w);
        }
        None
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_numbers() {
        let a: Vec<u64> = (0..8).scan(Rng::new(42), |r, _| Some(r.next_u64())).collect();
        let b: Vec<u64> = (0..8).scan(Rng::new(42), |r, _| Some(r.next_u64())).collect();
        assert_eq!(a, b);
        // The reference SplitMix64 output for seed 0.
        assert_eq!(Rng::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn bounds_hold() {
        let mut r = Rng::new(7);
        for _ in 0..10_000 {
            assert!(r.below(3) < 3);
            let x = r.range(5, 9);
            assert!((5..=9).contains(&x));
        }
        assert_eq!(r.weighted(&[0, 0]), None);
        assert_eq!(r.weighted(&[0, 5]), Some(1));
    }

    #[test]
    fn a_tape_steers_small_choices_then_runs_out() {
        let tape: Rc<[u8]> = Rc::from(&[0u8, 255, 128][..]);
        let mut r = Rng::taped(1, tape.clone());
        let mut f = r.fork(9); // takes byte 0
        assert_eq!(f.below(4), 3); // byte 255, read by the fork
        assert_eq!(r.below(2), 1); // byte 128
        // Tape used up: plain SplitMix64 from here.
        let mut plain = Rng::new(r.state);
        assert_eq!(r.next_u64(), plain.next_u64());
        let first = |seed| Rng::taped(seed, tape.clone()).next_u64();
        assert_eq!(first(5), first(5), "same seed and tape, same draws");
        assert_eq!(first(5) >> 56, 0, "the first byte of the tape is the top byte");
    }
}

//! The trace of a run: a digest of every scheduling decision and outcome
//! (always kept, so that two runs of a seed can be compared cheaply), and,
//! when asked for, one readable line per event.

/// FNV-1a over 64-bit tokens, plus the lines if `on`.
#[derive(Clone, Debug)]
pub struct Trace {
    pub on: bool,
    pub lines: Vec<String>,
    pub digest: u64,
}

impl Trace {
    pub fn new(on: bool) -> Self {
        Self { on, lines: Vec::new(), digest: 0xcbf2_9ce4_8422_2325 }
    }

    pub fn mix(&mut self, x: u64) {
        for b in x.to_le_bytes() {
            self.digest ^= u64::from(b);
            self.digest = self.digest.wrapping_mul(0x0100_0000_01b3);
        }
    }

    pub fn mix_str(&mut self, s: &str) {
        for b in s.bytes() {
            self.digest ^= u64::from(b);
            self.digest = self.digest.wrapping_mul(0x0100_0000_01b3);
        }
        self.mix(s.len() as u64);
    }

    /// Records an event: `tokens` go into the digest, `line()` into the
    /// lines when tracing.
    pub fn note(&mut self, tokens: &[u64], line: impl FnOnce() -> String) {
        for &t in tokens {
            self.mix(t);
        }
        if self.on {
            self.lines.push(line());
        }
    }
}

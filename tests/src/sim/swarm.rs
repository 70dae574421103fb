//! Swarm testing: every seed draws its own configuration (which operations
//! and which faults are enabled, how often, how many bookers and units,
//! capacities, spans, clocks), so that a run over many seeds covers mixes a
//! single fixed configuration would make rare: some seeds hammer one
//! capacity-1 pool with duplicates and no faults at all, others run every
//! fault at once over many units.
//!
//! The configuration depends on the seed only (never on the step budget), so
//! a seed's run is the same prefix whatever `--steps` says.

use super::rng::Rng;
use super::store::Faults;

/// Weights of the kinds of new requests.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Weights {
    /// `book` on a pool (`Span::Whole`).
    pub pool: u32,
    /// `book` on an allotment (a multi-night stay).
    pub allotment: u32,
    /// `book` on an exclusive unit (an interval).
    pub exclusive: u32,
    /// `book_any` over the index (auto-assign).
    pub any: u32,
    /// confirm / cancel / release of a random booking, by its owner or by
    /// someone else, or of a booking that does not exist.
    pub stray_act: u32,
    /// A request key used again for a different request.
    pub reuse: u32,
    /// An earlier request sent again unchanged (an idempotent replay).
    pub resubmit: u32,
}

/// One seed's configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Swarm {
    pub bookers: usize,
    pub actors: u64,
    /// Capacities of the pools.
    pub pools: Vec<u32>,
    /// Capacities per day of the allotments.
    pub allotments: Vec<u32>,
    /// Allotment days are `0..days`.
    pub days: u32,
    pub exclusives: u32,
    /// Exclusive intervals lie in `0..horizon`.
    pub horizon: u64,
    /// The `n` index field sorts descending.
    pub n_desc: bool,
    pub qty_max: u32,
    pub weights: Weights,
    /// Per mille of new requests that retire a unit.
    pub retire_pm: u32,
    /// Per mille of new requests that are malformed.
    pub bad_pm: u32,
    /// Per mille of booking requests that are holds.
    pub hold_pm: u32,
    pub ext_ref_pm: u32,
    pub ttl_max: u64,
    /// Largest clock advance per step, in ms.
    pub dt_max: u64,
    pub commit_attempts: u32,
    pub window: u32,
    /// The bookers' `Config::unit_cache_max` and `roster_cache_max`
    /// (tiny ones exercise eviction).
    pub unit_cache_max: usize,
    pub roster_cache_max: usize,
    pub spread_pm: u32,
    pub reverse_pm: u32,
    /// What the owner of a new hold does next (the rest vanish: the hold
    /// is never confirmed).
    pub confirm_pm: u32,
    pub release_pm: u32,
    pub cancel_pm: u32,
    /// Per mille of new bookings cancelled later.
    pub cancel_booked_pm: u32,
    /// Per mille of start-of-operation chances to take a waiting request
    /// (the rest generate a new one).
    pub take_pending_pm: u32,
    pub faults: Faults,
    /// A booker crashes mid-operation (its future is dropped, its cache lost).
    pub crash_pm: u32,
    /// A new request is delivered twice.
    pub duplicate_pm: u32,
    /// Waiting requests are taken in random order instead of in order.
    pub reorder: bool,
    /// A booker's clock jumps (forward, backward, or to just around a hold's
    /// expiry) when it starts an operation.
    pub clock_pm: u32,
    /// A request that failed or whose booker crashed is sent again.
    pub retry_pm: u32,
    /// The store keeps a change feed (`MemStore::with_feed`): bookers catch
    /// up from it instead of reading each stream.
    pub feed: bool,
}

/// Off half of the time; otherwise rare to frequent.
fn level(r: &mut Rng) -> u32 {
    if r.chance(500) { 0 } else { *r.pick(&[5, 20, 60, 150]) }
}

fn weight(r: &mut Rng) -> u32 {
    *r.pick(&[0, 1, 3, 10])
}

impl Swarm {
    pub fn from_seed(seed: u64) -> Self {
        Self::drawn(seed, &Rng::new(seed))
    }

    /// The configuration for `seed`, drawn with `proto`'s tape (a fuzzer's
    /// input), if it has one.
    pub fn drawn(seed: u64, proto: &Rng) -> Self {
        let mut r = proto.reseed(seed ^ 0x5357_4152_4d5f_5349); // "SWARM_SI"
        // Usually a handful of units; sometimes a small hotel or restaurant
        // (many interchangeable units: what auto-assign picks among).
        let many = r.chance(250);
        let n_pools = if many && r.chance(500) { r.range(4, 10) } else { r.range(0, 3) };
        let pools: Vec<u32> = (0..n_pools).map(|_| r.range(1, 5) as u32).collect();
        let allotments: Vec<u32> = (0..r.range(0, 2)).map(|_| r.range(1, 3) as u32).collect();
        let mut exclusives = if many { r.range(4, 12) as u32 } else { r.range(0, 3) as u32 };
        let mut pools = pools;
        if pools.is_empty() && allotments.is_empty() && exclusives == 0 {
            if r.chance(500) {
                pools.push(r.range(1, 3) as u32);
            } else {
                exclusives = 1;
            }
        }
        let mut weights = Weights {
            pool: weight(&mut r),
            allotment: weight(&mut r),
            exclusive: weight(&mut r),
            any: weight(&mut r),
            stray_act: *r.pick(&[0, 1, 2]),
            reuse: *r.pick(&[0, 0, 1, 2]),
            resubmit: *r.pick(&[0, 1, 2]),
        };
        let usable = (if pools.is_empty() { 0 } else { weights.pool })
            + (if allotments.is_empty() { 0 } else { weights.allotment })
            + (if exclusives == 0 { 0 } else { weights.exclusive })
            + weights.any;
        if usable == 0 {
            weights.any = 3;
        }
        let faults = Faults {
            unknown_applied: level(&mut r),
            unknown_dropped: level(&mut r),
            unknown_later: level(&mut r),
            aborted: level(&mut r),
            read_error: level(&mut r),
            stale_read: level(&mut r) * 2,
            delay: level(&mut r),
            delay_max: *r.pick(&[3, 10, 40]),
        };
        let ttl_max = *r.pick(&[500, 2_000, 10_000, 30_000]);
        Self {
            bookers: r.range(1, 6) as usize,
            actors: r.range(1, 5),
            pools,
            allotments,
            days: r.range(2, 6) as u32,
            exclusives,
            horizon: r.range(6, 24),
            n_desc: r.chance(300),
            qty_max: r.range(1, 3) as u32,
            weights,
            retire_pm: *r.pick(&[0, 0, 0, 3, 10]),
            bad_pm: *r.pick(&[0, 0, 10, 30]),
            hold_pm: *r.pick(&[0, 200, 500, 800]),
            ext_ref_pm: *r.pick(&[0, 300]),
            ttl_max,
            dt_max: *r.pick(&[0, ttl_max / 100, ttl_max / 20, ttl_max / 4]),
            commit_attempts: *r.pick(&[2, 8, 1024, 1024]),
            window: *r.pick(&[1, 2, 4, 32]),
            unit_cache_max: *r.pick(&[1, 2, 3, 4096, 4096, 4096]),
            roster_cache_max: *r.pick(&[1, 2, 3, 4096, 4096, 4096]),
            spread_pm: *r.pick(&[0, 500, 1000]),
            reverse_pm: *r.pick(&[0, 300]),
            confirm_pm: *r.pick(&[300, 600, 900]),
            release_pm: *r.pick(&[0, 100, 200]),
            cancel_pm: *r.pick(&[0, 100]),
            cancel_booked_pm: *r.pick(&[0, 100, 300, 500]),
            take_pending_pm: *r.pick(&[300, 600, 900]),
            faults,
            crash_pm: level(&mut r) / 3,
            duplicate_pm: level(&mut r) * 2,
            reorder: r.chance(500),
            clock_pm: level(&mut r) * 2,
            retry_pm: *r.pick(&[0, 500, 1000, 1000]),
            // Drawn last: adding it left every other field of a seed as it was.
            feed: r.chance(500),
        }
    }

    /// One line for reports.
    pub fn summary(&self) -> String {
        let f = &self.faults;
        format!(
            "bookers={} actors={} pools={:?} allotments={:?}x{}d exclusives={}x{} qty_max={} weights=[pool {} allot {} excl {} any {} stray {} reuse {} resubmit {}] retire={} bad={} hold={} ttl_max={} dt_max={} attempts={} window={} caches={}/{} faults=[unknown+ {} unknown- {} unknown~ {} abort {} read {} stale {} delay {}<={} crash {} dup {} reorder {} clock {} retry {}] feed={}",
            self.bookers,
            self.actors,
            self.pools,
            self.allotments,
            self.days,
            self.exclusives,
            self.horizon,
            self.qty_max,
            self.weights.pool,
            self.weights.allotment,
            self.weights.exclusive,
            self.weights.any,
            self.weights.stray_act,
            self.weights.reuse,
            self.weights.resubmit,
            self.retire_pm,
            self.bad_pm,
            self.hold_pm,
            self.ttl_max,
            self.dt_max,
            self.commit_attempts,
            self.window,
            self.unit_cache_max,
            self.roster_cache_max,
            f.unknown_applied,
            f.unknown_dropped,
            f.unknown_later,
            f.aborted,
            f.read_error,
            f.stale_read,
            f.delay,
            f.delay_max,
            self.crash_pm,
            self.duplicate_pm,
            self.reorder,
            self.clock_pm,
            self.retry_pm,
            self.feed,
        )
    }
}

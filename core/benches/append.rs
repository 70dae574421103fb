//! Append-expect on the `MemStore`, and the booking calls that end in it.
//!
//! Raw commits (`store_commit`) are built by hand: stream writes only, no
//! claim and no definition guard, so they measure the store's append-expect
//! itself. Every commit that succeeds changes the store, so those benchmarks
//! run in rounds over a fixture (`Rounds`): a store prepared outside the
//! measurement, then rounds of commits, each round prepared (untimed) and
//! then committed back to back under the clock. A fixture is rebuilt,
//! untimed, after `rounds` rounds, which bounds how large the store and its
//! streams grow. Each benchmark's doc says what the streams hold.
//!
//! `allot_book` and `allot_book_any` go through `Allot` end to end: idempotency
//! check, observe, decide, commit with claim and guard.

use std::hint::black_box;
use std::time::{Duration, Instant};

use allot_core::model::{Part, booking_streams};
use allot_core::store::StreamWrite;
use allot_core::{
    Allot, BookAnyReq, BookReq, BookingId, Commit, CommitOutcome, Event, IndexDef, IndexQuery, KeyType, KeyValue,
    MemStore, Outcome, Pick, Span, Store, StreamId, UnitId, UnitKind, UnitSpec,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use pollster::block_on;

const NOW: u64 = 1_000_000;

/// xorshift64: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
}

fn booking(n: u64) -> BookingId {
    BookingId::new("bench", &format!("req-{n}")).unwrap()
}

fn unit(name: &str, n: u64) -> UnitId {
    UnitId::new(&format!("{name}-{n:06}")).unwrap()
}

fn booked(n: u64, span: Span) -> Event {
    Event::Booked { booking: booking(n), qty: 1, span, hold: None, at: NOW }
}

fn append(stream: StreamId, expected: u64, events: Vec<Event>) -> StreamWrite {
    StreamWrite { stream, expected, events }
}

fn commit_of(writes: Vec<StreamWrite>) -> Commit {
    Commit { writes, ..Commit::default() }
}

fn committed(store: &MemStore, c: &Commit) {
    assert_eq!(block_on(store.commit(c)).unwrap(), CommitOutcome::Committed);
}

/// A fixture and where its rounds stand, kept across criterion's samples.
struct Rounds<F, I> {
    fixture: Option<F>,
    /// Rounds prepared on the current fixture.
    round: u64,
    rounds: u64,
    /// The current round's inputs, and how many of them are done.
    inputs: Vec<I>,
    done: usize,
}

impl<F, I> Rounds<F, I> {
    fn new(rounds: u64) -> Self {
        Self { fixture: None, round: 0, rounds, inputs: Vec::new(), done: 0 }
    }

    /// Times `iters` operations. `setup` builds a fresh fixture, `prepare`
    /// the inputs of a round (both untimed); `op` is timed, once per input,
    /// in order. A round cut short by `iters` is continued by the next call.
    fn run(
        &mut self,
        iters: u64,
        mut setup: impl FnMut() -> F,
        mut prepare: impl FnMut(&mut F, u64) -> Vec<I>,
        mut op: impl FnMut(&mut F, &I),
    ) -> Duration {
        let mut total = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            if self.done == self.inputs.len() {
                if self.fixture.is_none() || self.round == self.rounds {
                    self.fixture = None; // drop the old one before building anew
                    self.fixture = Some(setup());
                    self.round = 0;
                }
                self.inputs = prepare(self.fixture.as_mut().unwrap(), self.round);
                assert!(!self.inputs.is_empty());
                self.done = 0;
                self.round += 1;
            }
            let f = self.fixture.as_mut().unwrap();
            let n = (self.inputs.len() - self.done).min(usize::try_from(left).unwrap_or(usize::MAX));
            let batch = &self.inputs[self.done..self.done + n];
            let start = Instant::now();
            for input in batch {
                op(f, input);
            }
            total += start.elapsed();
            self.done += n;
            left -= n as u64;
        }
        total
    }
}

/// Streams per round of the raw-commit benchmarks.
const STREAMS: u64 = 1000;

/// (a) One event appended to a stream that does not exist yet. The store
/// holds up to 10 rounds x 1000 streams of one event each.
fn fresh_stream(c: &mut Criterion) {
    let mut rounds = Rounds::new(10);
    c.bench_function("store_commit/fresh_stream", |b| {
        b.iter_custom(|iters| {
            rounds.run(
                iters,
                MemStore::new,
                |_, round| {
                    (0..STREAMS)
                        .map(|i| {
                            let n = round * STREAMS + i;
                            let s = StreamId::new(&unit("fresh", n), Part::Main);
                            commit_of(vec![append(s, 0, vec![booked(n, Span::Whole)])])
                        })
                        .collect()
                },
                |store, c| committed(store, black_box(c)),
            )
        })
    });
}

/// (b) One event appended to a stream that already has 100 events: 1000
/// streams, appended to round-robin, so each has 100 to 149 events when
/// appended to.
fn existing_stream(c: &mut Criterion) {
    const SEED: u64 = 100;
    let streams: Vec<StreamId> = (0..STREAMS).map(|i| StreamId::new(&unit("hot", i), Part::Main)).collect();
    let mut rounds = Rounds::new(50);
    c.bench_function("store_commit/stream_of_100", |b| {
        b.iter_custom(|iters| {
            rounds.run(
                iters,
                || {
                    let store = MemStore::new();
                    for (i, s) in streams.iter().enumerate() {
                        let events = (0..SEED).map(|k| booked(i as u64 * 1000 + k, Span::Whole)).collect();
                        committed(&store, &commit_of(vec![append(s.clone(), 0, events)]));
                    }
                    store
                },
                |_, round| {
                    streams
                        .iter()
                        .enumerate()
                        .map(|(i, s)| {
                            let ev = booked(i as u64 * 1000 + SEED + round, Span::Whole);
                            commit_of(vec![append(s.clone(), SEED + round, vec![ev])])
                        })
                        .collect()
                },
                |store, c| committed(store, black_box(c)),
            )
        })
    });
}

/// (c) A commit whose expected seq is stale: the rejection path. Nothing is
/// written, so the same 256 commits (on 256 of 10_000 streams of 5 events)
/// are sent again and again.
fn conflict(c: &mut Criterion) {
    let store = MemStore::new();
    for i in 0..10_000 {
        let events = (0..5).map(|k| booked(i * 10 + k, Span::Whole)).collect();
        committed(&store, &commit_of(vec![append(StreamId::new(&unit("busy", i), Part::Main), 0, events)]));
    }
    let mut rng = Rng(42);
    let stale: Vec<Commit> = (0..256)
        .map(|n| {
            let s = StreamId::new(&unit("busy", rng.next() % 10_000), Part::Main);
            commit_of(vec![append(s, 4, vec![booked(1_000_000 + n, Span::Whole)])])
        })
        .collect();
    for c in &stale {
        assert!(matches!(block_on(store.commit(c)).unwrap(), CommitOutcome::Conflict { actual: 5, .. }));
    }
    let mut i = 0;
    c.bench_function("store_commit/conflict", |b| {
        b.iter(|| {
            i = (i + 1) % stale.len();
            block_on(store.commit(black_box(&stale[i]))).unwrap()
        })
    });
}

/// (d) A 3-night stay: one event appended to each of 3 day streams of an
/// allotment, in one commit. 1000 room types, booked round-robin for days
/// 10..13; the first round (creating the day streams) is part of the untimed
/// setup, so the streams hold 1 to 20 events when appended to.
fn three_nights(c: &mut Criterion) {
    let units: Vec<UnitId> = (0..STREAMS).map(|i| unit("type", i)).collect();
    let stay = Span::Days { from: 10, to: 13 };
    let stay_commit = |i: u64, u: &UnitId, expected: u64| {
        let ev = booked(i * 1000 + expected, stay);
        commit_of(booking_streams(u, &stay).into_iter().map(|s| append(s, expected, vec![ev.clone()])).collect())
    };
    let mut rounds = Rounds::new(20);
    c.bench_function("store_commit/three_nights", |b| {
        b.iter_custom(|iters| {
            rounds.run(
                iters,
                || {
                    let store = MemStore::new();
                    for (i, u) in units.iter().enumerate() {
                        committed(&store, &stay_commit(i as u64, u, 0));
                    }
                    store
                },
                |_, round| units.iter().enumerate().map(|(i, u)| stay_commit(i as u64, u, round + 1)).collect(),
                |store, c| committed(store, black_box(c)),
            )
        })
    });
}

/// (e) 32 independent commits (one event each on 32 different streams) as
/// one `commit_group` versus 32 `commit` calls. 1024 streams seeded with one
/// event, appended to round-robin: they hold 1 to 50 events.
fn group_vs_sequential(c: &mut Criterion) {
    const BATCH: usize = 32;
    const N: u64 = 1024;
    let streams: Vec<StreamId> = (0..N).map(|i| StreamId::new(&unit("grp", i), Part::Main)).collect();
    let setup = || {
        let store = MemStore::new();
        for (i, s) in streams.iter().enumerate() {
            committed(&store, &commit_of(vec![append(s.clone(), 0, vec![booked(i as u64 * 1000, Span::Whole)])]));
        }
        store
    };
    // One round: N commits in N / 32 batches.
    let prepare = |_: &mut MemStore, round: u64| -> Vec<Vec<Commit>> {
        let commits: Vec<Commit> = streams
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let ev = booked(i as u64 * 1000 + 1 + round, Span::Whole);
                commit_of(vec![append(s.clone(), 1 + round, vec![ev])])
            })
            .collect();
        commits.chunks(BATCH).map(<[Commit]>::to_vec).collect()
    };
    let mut g = c.benchmark_group("store_commit_x32");
    g.throughput(Throughput::Elements(BATCH as u64));
    let mut rounds = Rounds::new(49);
    g.bench_function("commit_group", |b| {
        b.iter_custom(|iters| {
            rounds.run(iters, setup, prepare, |store, batch| {
                let out = block_on(store.commit_group(black_box(batch))).unwrap();
                assert!(out.iter().all(|o| *o == Ok(CommitOutcome::Committed)));
            })
        })
    });
    let mut rounds = Rounds::new(49);
    g.bench_function("sequential_commit", |b| {
        b.iter_custom(|iters| {
            rounds.run(iters, setup, prepare, |store, batch| {
                for c in black_box(batch) {
                    let out = block_on(store.commit(c)).unwrap();
                    assert_eq!(out, CommitOutcome::Committed);
                }
            })
        })
    });
    g.finish();
}

/// `Allot::book` of one seat of a pool (a tour departure of 64 seats): 1000
/// pools booked round-robin by one client, so each roster holds 0 to 31
/// bookings. The client's caches are warm, as in a long-lived session.
fn allot_book(c: &mut Criterion) {
    const POOLS: u64 = 1000;
    let specs: Vec<UnitSpec> = (0..POOLS)
        .map(|i| UnitSpec::new(unit("tour", i).as_str(), UnitKind::Pool { capacity: 64 }, vec![]).unwrap())
        .collect();
    let mut rounds = Rounds::new(32);
    c.bench_function("allot/book_pool_seat", |b| {
        b.iter_custom(|iters| {
            rounds.run(
                iters,
                || {
                    let mut allot = Allot::new(MemStore::new());
                    block_on(allot.define_units(&specs, NOW)).unwrap();
                    allot
                },
                |_, round| {
                    (0..POOLS)
                        .map(|i| BookReq {
                            booking: booking(round * POOLS + i),
                            unit: specs[i as usize].id.clone(),
                            span: Span::Whole,
                            qty: 1,
                            hold: None,
                        })
                        .collect()
                },
                |allot, req| {
                    let o = block_on(allot.book(black_box(req), NOW)).unwrap();
                    assert!(matches!(o, Outcome::Booked { .. }), "{o:?}");
                },
            )
        })
    });
}

/// `Allot::book_any` of one night of a room, on an index of 10_000 rooms by
/// price, mostly free for that night. Two ways of picking:
///
/// - `first_random_range`: `Pick::First` (best fit: the first free room in
///   index order, always searched from the start of the range) over
///   `[p, MAX)` for a random room price `p`: "the cheapest free room from
///   p up". The store is rebuilt after 2000 bookings, so at least 80% of the
///   rooms are free and the first candidate nearly always is.
/// - `spread_sequential`: `Pick::Spread` over the whole index, one client
///   booking in sequence: its hint resumes each search where its last
///   booking landed. Rebuilt after 5000 bookings (at least half free).
fn allot_book_any(c: &mut Criterion) {
    const ROOMS: u64 = 10_000;
    const PER_ROUND: u64 = 500;
    let price = |r: u64| (r.wrapping_mul(2_654_435_761) % (1 << 32)) as u32;
    let def = IndexDef::single("price", "price", KeyType::U32).unwrap();
    let specs: Vec<UnitSpec> = (0..ROOMS)
        .map(|r| {
            UnitSpec::new(
                unit("room", r).as_str(),
                UnitKind::Exclusive,
                vec![("price".into(), KeyValue::U32(price(r)))],
            )
            .unwrap()
        })
        .collect();
    let mut prices: Vec<u32> = (0..ROOMS).map(price).collect();
    prices.sort_unstable();
    let night = Span::Interval { start: 20 * 86_400_000, end: 21 * 86_400_000 };
    let setup = || {
        let mut allot = Allot::new(MemStore::new());
        block_on(allot.define_index(&def, NOW)).unwrap();
        block_on(allot.define_units(&specs, NOW)).unwrap();
        allot
    };
    let req = |n: u64, query: IndexQuery, pick: Pick| BookAnyReq {
        booking: booking(n),
        query,
        span: night,
        qty: 1,
        hold: None,
        pick,
    };
    let book = |allot: &mut Allot<MemStore>, req: &BookAnyReq| {
        let o = block_on(allot.book_any(black_box(req), NOW)).unwrap();
        assert!(matches!(o, Outcome::Booked { .. }), "{o:?}");
    };

    let mut g = c.benchmark_group("allot_book_any_10000_rooms");
    let mut rng = Rng(7);
    let mut rounds = Rounds::new(4);
    g.bench_function("first_random_range", |b| {
        b.iter_custom(|iters| {
            rounds.run(
                iters,
                setup,
                |_, round| {
                    (0..PER_ROUND)
                        .map(|i| {
                            let lo = prices[(rng.next() % (ROOMS - 64)) as usize];
                            let q = IndexQuery::half_open("price", KeyValue::U32(lo), KeyValue::U32(u32::MAX));
                            req(round * PER_ROUND + i, q, Pick::First)
                        })
                        .collect()
                },
                book,
            )
        })
    });
    let mut rounds = Rounds::new(10);
    g.bench_function("spread_sequential", |b| {
        b.iter_custom(|iters| {
            rounds.run(
                iters,
                setup,
                |_, round| {
                    (0..PER_ROUND).map(|i| req(round * PER_ROUND + i, IndexQuery::all("price"), Pick::Spread)).collect()
                },
                book,
            )
        })
    });
    g.finish();
}

fn config() -> Criterion {
    // 10_000 bootstrap resamples (default 100_000): ample for 20 samples, and
    // it makes the plotters KDE plots ~20x cheaper (they dominated the run).
    Criterion::default()
        .nresamples(10_000)
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = benches;
    config = config();
    targets = fresh_stream, existing_stream, conflict, three_nights, group_vs_sequential, allot_book, allot_book_any
}
criterion_main!(benches);

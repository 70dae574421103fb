//! The group commit decision, without the store: 16 pending auto-assign
//! requests for the same night against one window of 32 candidate rooms.
//!
//! Each candidate is an exclusive room with a roster replayed (setup) from 4
//! to 11 earlier bookings on other nights, a quarter of them live holds;
//! every third candidate is already booked for the requested night. The
//! requests are decided in order, each walking the window from where the
//! previous one stopped and calling `rules::decide_book` on each candidate
//! until one yields a commit; a candidate assigned earlier in the batch is
//! skipped (a mask, so the rosters are never mutated and need no cloning).
//! About 21 of the 32 are free, so all 16 requests get a room, after about
//! 24 calls of `decide_book` in all.
//!
//! `decide_book_free` and `decide_book_taken` are single calls: on a free
//! candidate (builds the commit: events, guard, claim) and on a taken one
//! (finds the overlap). `fit_free` is the screening a batch runs over every
//! candidate it holds (`rules::fit`: the same checks, no commit built).

use std::hint::black_box;
use std::time::Duration;

use allot_core::model::booking_streams;
use allot_core::roster::Roster;
use allot_core::rules::{Ask, Decision, Fit, decide_book, fit};
use allot_core::{
    BookAnyReq, BookingId, Event, Hold, IndexQuery, Outcome, Pick, Span, StreamId, UnitKind, UnitRow, UnitSpec,
};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const CANDIDATES: usize = 32;
const REQUESTS: usize = 16;
const DAY: u64 = 86_400_000;
const NOW: u64 = 19 * DAY;
const NIGHT: Span = Span::Interval { start: 20 * DAY, end: 21 * DAY };

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

struct Candidate {
    row: UnitRow,
    streams: Vec<StreamId>,
    roster: Roster,
}

fn candidates() -> Vec<Candidate> {
    let mut rng = Rng(0x5EED);
    (0..CANDIDATES)
        .map(|i| {
            let spec = UnitSpec::new(&format!("room-{i:03}"), UnitKind::Exclusive, vec![]).unwrap();
            let row = UnitRow { spec, version: 1, retired: false, index_keys: Vec::new() };
            let streams = booking_streams(row.id(), &NIGHT);
            // Earlier bookings on nights 0, 1, 2... (at most 11): none overlaps NIGHT.
            let past = 4 + rng.next() % 8;
            let mut events: Vec<Event> = (0..past)
                .map(|k| Event::Booked {
                    booking: BookingId::new(&format!("guest-{}", rng.next() % 1000), &format!("k{i}-{k}")).unwrap(),
                    qty: 1,
                    span: Span::Interval { start: k * DAY, end: (k + 1) * DAY },
                    hold: (k % 4 == 3).then(|| Box::new(Hold { expires_at: NOW + 600_000, ext_ref: None })),
                    at: NOW - (past - k) * 60_000,
                })
                .collect();
            if i % 3 == 0 {
                events.push(Event::Booked {
                    booking: BookingId::new("early-bird", &format!("night-{i}")).unwrap(),
                    qty: 1,
                    span: NIGHT,
                    hold: None,
                    at: NOW - 1000,
                });
            }
            let (roster, anomalies) = Roster::replay(&events);
            assert!(anomalies.is_empty());
            Candidate { row, streams, roster }
        })
        .collect()
}

struct Request {
    booking: BookingId,
    fingerprint: std::sync::Arc<[u8]>,
}

fn requests() -> Vec<Request> {
    (0..REQUESTS)
        .map(|i| {
            let req = BookAnyReq {
                booking: BookingId::new(&format!("user-{i}"), &format!("req-{i}")).unwrap(),
                query: IndexQuery::all("price"),
                span: NIGHT,
                qty: 1,
                hold: None,
                pick: Pick::First,
            };
            Request { fingerprint: req.fingerprint().into(), booking: req.booking }
        })
        .collect()
}

fn decide(c: &Candidate, r: &Request) -> Decision {
    let ask = Ask { booking: &r.booking, span: NIGHT, qty: 1, hold: None, fingerprint: &r.fingerprint };
    decide_book(&c.row, &c.streams, &[&c.roster], ask, NOW).unwrap()
}

fn screen(c: &Candidate, r: &Request) -> Fit {
    let ask = Ask { booking: &r.booking, span: NIGHT, qty: 1, hold: None, fingerprint: &r.fingerprint };
    fit(&c.row, &[&c.roster], &ask, NOW)
}

/// Decides the whole batch; returns (candidate, commit) per request.
fn decide_batch(cands: &[Candidate], reqs: &[Request]) -> Vec<(usize, Decision)> {
    let mut assigned = [false; CANDIDATES];
    let mut out = Vec::with_capacity(reqs.len());
    let mut cursor = 0;
    for r in reqs {
        while cursor < cands.len() {
            let i = cursor;
            cursor += 1;
            if assigned[i] {
                continue;
            }
            let d = decide(&cands[i], r);
            if let Decision::Commit { .. } = d {
                assigned[i] = true;
                out.push((i, d));
                break;
            }
        }
    }
    out
}

fn group(c: &mut Criterion) {
    let cands = candidates();
    let reqs = requests();

    let batch = decide_batch(&cands, &reqs);
    assert_eq!(batch.len(), REQUESTS, "every request gets a room");
    assert!(batch.iter().all(|(i, _)| i % 3 != 0));
    let free = &cands[1];
    let taken = &cands[0];
    assert!(matches!(decide(free, &reqs[0]), Decision::Commit { outcome: Outcome::Booked { .. }, .. }));
    assert!(matches!(decide(taken, &reqs[0]), Decision::Done(Outcome::Overlap { .. })));
    assert!(matches!(screen(free, &reqs[0]), Fit::Free { .. }));

    let mut g = c.benchmark_group("group_decide");
    g.throughput(Throughput::Elements(REQUESTS as u64));
    g.bench_function("window32_requests16", |b| b.iter(|| decide_batch(black_box(&cands), black_box(&reqs))));
    g.throughput(Throughput::Elements(1));
    g.bench_function("decide_book_free", |b| b.iter(|| decide(black_box(free), black_box(&reqs[0]))));
    g.bench_function("decide_book_taken", |b| b.iter(|| decide(black_box(taken), black_box(&reqs[0]))));
    g.bench_function("fit_free", |b| b.iter(|| screen(black_box(free), black_box(&reqs[0]))));
    g.finish();
}

fn config() -> Criterion {
    // 10_000 bootstrap resamples (default 100_000): ample for 20 samples, and
    // it makes the plotters KDE plots ~20x cheaper (they dominated the run).
    Criterion::default()
        .nresamples(10_000)
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = group
}
criterion_main!(benches);

//! Key codec: encode and decode of the types index keys are made of.
//!
//! Every benchmark handles a batch of `BATCH` deterministic values (xorshift,
//! fixed seed) per iteration, so the per-value cost is the reported time
//! divided by `BATCH` (criterion also prints it as elements/s).
//!
//! Static types encode with `KeyPart::encode_to` into one reused buffer: the
//! codec's own cost, no allocation. `tuple_alloc` and `schema` allocate one
//! `Vec` per key, as `key::encode` and `KeySchema::encode` do (the schema
//! additionally type-checks every value). Decoding goes through the public
//! whole-key entry points (`key::decode`, `KeySchema::decode`), which check
//! for trailing bytes; strings and schemas allocate their results.

use std::hint::black_box;
use std::time::Duration;

use allot_core::key::{self, KeyPart, KeySchema, KeyType, KeyValue, Order};
use criterion::{BenchmarkGroup, Criterion, Throughput, criterion_group, criterion_main, measurement::WallTime};

/// Values per iteration.
const BATCH: usize = 1024;

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

    /// Printable ASCII (no NUL, so no escapes: ids and names look like this).
    fn string(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";
        (0..len).map(|_| char::from(ALPHABET[(self.next() % ALPHABET.len() as u64) as usize])).collect()
    }
}

fn values<T>(seed: u64, mut f: impl FnMut(&mut Rng) -> T) -> Vec<T> {
    let mut rng = Rng(seed);
    (0..BATCH).map(|_| f(&mut rng)).collect()
}

/// Deterministic inputs, one set per benchmark.
struct Inputs {
    u32s: Vec<u32>,
    u64s: Vec<u64>,
    i64s: Vec<i64>,
    f64s: Vec<f64>,
    short: Vec<String>,
    long: Vec<String>,
    tuples: Vec<(u32, String)>,
    schema: KeySchema,
    rows: Vec<Vec<KeyValue>>,
}

impl Inputs {
    fn new() -> Self {
        let short_str = |r: &mut Rng| {
            let len = 4 + (r.next() % 13) as usize;
            r.string(len)
        };
        let tuples = values(7, |r| (r.next() as u32, short_str(r)));
        let schema = KeySchema { fields: vec![(KeyType::U32, Order::Asc), (KeyType::Str, Order::Asc)] };
        let rows: Vec<Vec<KeyValue>> =
            tuples.iter().map(|(n, s)| vec![KeyValue::U32(*n), KeyValue::Str(s.clone())]).collect();
        // The dynamic path must give the static tuple's bytes.
        for (row, t) in rows.iter().zip(&tuples) {
            let e = schema.encode(row).unwrap();
            assert_eq!(e, key::encode(t));
            assert_eq!(&schema.decode(&e).unwrap(), row);
        }
        Self {
            u32s: values(1, |r| r.next() as u32),
            u64s: values(2, Rng::next),
            i64s: values(3, |r| r.next() as i64),
            // Finite values of both signs over 20 decades of magnitude.
            f64s: values(4, |r| {
                let mantissa = (r.next() >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                mantissa * 10f64.powi((r.next() % 20) as i32)
            }),
            short: values(5, short_str),
            long: values(6, |r| r.string(64)),
            tuples,
            schema,
            rows,
        }
    }
}

/// `encode_to` of every value into one reused buffer.
fn encode_static<T: KeyPart>(g: &mut BenchmarkGroup<'_, WallTime>, name: &str, vals: &[T]) {
    let total: usize = vals.iter().map(|v| key::encode(v).len()).sum();
    let mut buf = Vec::with_capacity(total);
    g.bench_function(name, |b| {
        b.iter(|| {
            buf.clear();
            for v in black_box(vals) {
                v.encode_to(&mut buf);
            }
            black_box(buf.len())
        })
    });
}

/// `key::decode` of every value's encoding (checked to round-trip first).
fn decode_static<T: KeyPart + PartialEq + std::fmt::Debug>(
    g: &mut BenchmarkGroup<'_, WallTime>,
    name: &str,
    vals: &[T],
) {
    let encoded: Vec<Vec<u8>> = vals.iter().map(key::encode).collect();
    for (v, e) in vals.iter().zip(&encoded) {
        assert_eq!(&key::decode::<T>(e).unwrap(), v);
    }
    g.bench_function(name, |b| {
        b.iter(|| {
            for e in black_box(&encoded) {
                black_box(key::decode::<T>(e).unwrap());
            }
        })
    });
}

fn encode(c: &mut Criterion) {
    let inp = Inputs::new();
    let mut g = c.benchmark_group("codec/encode");
    g.throughput(Throughput::Elements(BATCH as u64));
    encode_static(&mut g, "u32", &inp.u32s);
    encode_static(&mut g, "u64", &inp.u64s);
    encode_static(&mut g, "i64", &inp.i64s);
    encode_static(&mut g, "f64", &inp.f64s);
    encode_static(&mut g, "str_short", &inp.short);
    encode_static(&mut g, "str_64", &inp.long);
    encode_static(&mut g, "tuple_u32_str", &inp.tuples);
    // The same tuples through `key::encode`: one allocation per key, the
    // fair comparison for the schema path.
    g.bench_function("tuple_u32_str_alloc", |b| {
        b.iter(|| {
            for t in black_box(&inp.tuples) {
                black_box(key::encode(t));
            }
        })
    });
    // The dynamic path: a (u32, Str) schema over `KeyValue`s, as secondary
    // indexes and the JS layer use it.
    g.bench_function("schema_u32_str", |b| {
        b.iter(|| {
            for r in black_box(&inp.rows) {
                black_box(inp.schema.encode(r).unwrap());
            }
        })
    });
    g.finish();
}

fn decode(c: &mut Criterion) {
    let inp = Inputs::new();
    let mut g = c.benchmark_group("codec/decode");
    g.throughput(Throughput::Elements(BATCH as u64));
    decode_static(&mut g, "u32", &inp.u32s);
    decode_static(&mut g, "u64", &inp.u64s);
    decode_static(&mut g, "i64", &inp.i64s);
    decode_static(&mut g, "f64", &inp.f64s);
    decode_static(&mut g, "str_short", &inp.short);
    decode_static(&mut g, "str_64", &inp.long);
    decode_static(&mut g, "tuple_u32_str", &inp.tuples);
    let encoded: Vec<Vec<u8>> = inp.tuples.iter().map(key::encode).collect();
    g.bench_function("schema_u32_str", |b| {
        b.iter(|| {
            for e in black_box(&encoded) {
                black_box(inp.schema.decode(e).unwrap());
            }
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
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = benches;
    config = config();
    targets = encode, decode
}
criterion_main!(benches);

//! Arbitrary typed values: encode then decode gives them back, and the
//! byte order of two encodings is the order of the values.
#![no_main]

use allot_core::key::{self, Desc};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Pair {
    a: (u32, String, i64),
    b: (u32, String, i64),
    c: (Vec<u8>, f64),
    d: (Vec<u8>, f64),
    e: (String, bool),
    f: (String, bool),
}

fn check<T: key::KeyPart + std::fmt::Debug + PartialEq>(a: &T, b: &T, cmp: std::cmp::Ordering) {
    let (ea, eb) = (key::encode(a), key::encode(b));
    assert_eq!(ea.cmp(&eb), cmp, "{a:?} vs {b:?}");
    assert_eq!(&key::decode::<T>(&ea).unwrap(), a);
}

fuzz_target!(|p: Pair| {
    check(&p.a, &p.b, p.a.cmp(&p.b));
    let (e, f) = ((Desc(p.e.0.clone()), p.e.1), (Desc(p.f.0.clone()), p.f.1));
    check(&e, &f, e.cmp(&f));
    // f64: the canonical total order (one NaN, -0.0 == 0.0).
    let canon = |x: f64| key::canonical_f64(x);
    let (c, d) = ((p.c.0.clone(), canon(p.c.1)), (p.d.0.clone(), canon(p.d.1)));
    let want = c.0.cmp(&d.0).then(c.1.total_cmp(&d.1));
    let (ec, ed) = (key::encode(&p.c), key::encode(&p.d));
    assert_eq!(ec.cmp(&ed), want, "{c:?} vs {d:?}");
    let back = key::decode::<(Vec<u8>, f64)>(&ec).unwrap();
    assert_eq!(back.0, c.0);
    assert_eq!(back.1.to_bits(), c.1.to_bits());
});

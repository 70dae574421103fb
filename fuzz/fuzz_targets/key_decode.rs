//! Arbitrary bytes into every key decoder: never a panic, and whatever
//! decodes re-encodes to exactly the input (the codec is canonical).
#![no_main]

use allot_core::key::{self, KeySchema, KeyType, Order};
use libfuzzer_sys::fuzz_target;

fn canonical<T: key::KeyPart>(data: &[u8]) {
    if let Ok(v) = key::decode::<T>(data) {
        assert_eq!(key::encode(&v), data, "decode then encode changed the bytes");
    }
}

const TYPES: [KeyType; 12] = [
    KeyType::U8,
    KeyType::U16,
    KeyType::U32,
    KeyType::U64,
    KeyType::I8,
    KeyType::I16,
    KeyType::I32,
    KeyType::I64,
    KeyType::F64,
    KeyType::Bool,
    KeyType::Bytes,
    KeyType::Str,
];

fuzz_target!(|data: &[u8]| {
    canonical::<u32>(data);
    canonical::<u64>(data);
    canonical::<i64>(data);
    canonical::<f64>(data);
    canonical::<bool>(data);
    canonical::<String>(data);
    canonical::<Vec<u8>>(data);
    canonical::<key::Desc<String>>(data);
    canonical::<(String, u32)>(data);
    canonical::<(u32, key::Desc<Vec<u8>>, i16)>(data);
    canonical::<(String, key::Desc<f64>, bool)>(data);
    // A schema chosen by the first byte(s), applied to the rest.
    if let Some((&n, rest)) = data.split_first() {
        let fields: Vec<(KeyType, Order)> = rest
            .iter()
            .take(usize::from(n % 4) + 1)
            .map(|b| (TYPES[usize::from(b % 12)], if b & 0x80 != 0 { Order::Desc } else { Order::Asc }))
            .collect();
        let body = &rest[fields.len().min(rest.len())..];
        let schema = KeySchema { fields };
        if let Ok(values) = schema.decode(body) {
            assert_eq!(schema.encode(&values).unwrap(), body);
        }
    }
});

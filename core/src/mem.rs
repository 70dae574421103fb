//! The in-memory store: the reference implementation of [`Store`], safe to
//! share across threads (with `std`, or with spin locks without it).
//!
//! Streams and claims are sharded by a hash of the unit id and of the booking
//! id, so that commits on different units rarely wait for each other. A
//! commit locks every shard it touches in ascending order (streams first, then
//! claims, then the catalog), checks everything, and only then writes: the
//! lock order rules out deadlock and the check-then-write order rules out a
//! half-applied commit.

use alloc::collections::{BTreeMap, BinaryHeap};
use alloc::vec::Vec;
use core::ops::Bound;

use crate::error::StoreError;
use crate::event::{ClaimRecord, Event, UnitRow};
use crate::key;
use crate::model::{BookingId, Seq, StreamId, UnitId};
use crate::store::*;
use crate::sync::{Mutex, RwLock};

/// Shards per keyspace. A power of two well above the thread counts allot
/// runs with, so that two random units share a shard rarely.
const SHARD_COUNT: usize = 64;

#[derive(Debug, Default)]
struct StreamShard {
    /// Keyed by the encoded stream id, so that byte-range scans are direct.
    streams: BTreeMap<Vec<u8>, (StreamId, Vec<Event>)>,
}

#[derive(Debug, Default)]
struct ClaimShard {
    claims: BTreeMap<Vec<u8>, (BookingId, ClaimRecord)>,
}

#[derive(Debug, Default)]
struct Catalog {
    /// Keyed by `key::encode_str(id)`.
    units: BTreeMap<Vec<u8>, UnitRow>,
    index: BTreeMap<Vec<u8>, UnitId>,
}

/// The in-memory store.
#[derive(Debug)]
pub struct MemStore {
    streams: Vec<Mutex<StreamShard>>,
    claims: Vec<Mutex<ClaimShard>>,
    catalog: RwLock<Catalog>,
}

impl Default for MemStore {
    fn default() -> Self {
        Self::new()
    }
}

/// FNV-1a: cheap, deterministic, no_std. Shards need spread, not security.
fn shard_of(bytes: &[u8]) -> usize {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    (h as usize) & (SHARD_COUNT - 1)
}

type ByteBounds<'a> = (Bound<&'a [u8]>, Bound<&'a [u8]>);

fn bounds(range: &KeyRange) -> Option<ByteBounds<'_>> {
    if let Some(end) = &range.end {
        // BTreeMap::range panics on an inverted range; an empty one is fine.
        if end.as_slice() <= range.start.as_slice() {
            return None;
        }
    }
    let end = match &range.end {
        Some(e) => Bound::Excluded(e.as_slice()),
        None => Bound::Unbounded,
    };
    Some((Bound::Included(range.start.as_slice()), end))
}

/// Up to `range.limit` items of `map` in `range`, in scan order.
fn scan_map<'a, V>(map: &'a BTreeMap<Vec<u8>, V>, range: &KeyRange) -> Vec<(&'a Vec<u8>, &'a V)> {
    let Some(b) = bounds(range) else { return Vec::new() };
    let limit = range.limit as usize;
    let it = map.range::<[u8], _>(b);
    if range.reverse { it.rev().take(limit).collect() } else { it.take(limit).collect() }
}

/// Up to `range.limit` items in `range` over all `maps` (the shards, all
/// locked by the caller), merged in scan order: a k-way merge, so a page
/// costs O(limit log shards) whatever the number of shards.
fn scan_merged<'a, V>(maps: &[&'a BTreeMap<Vec<u8>, V>], range: &KeyRange) -> Vec<(&'a Vec<u8>, &'a V)> {
    let Some(b) = bounds(range) else { return Vec::new() };
    let mut iters: Vec<_> = maps.iter().map(|m| m.range::<[u8], _>(b)).collect();
    let step = |it: &mut alloc::collections::btree_map::Range<'a, Vec<u8>, V>| {
        if range.reverse { it.next_back() } else { it.next() }
    };
    // The heap orders by key (reversed for a forward scan, since
    // BinaryHeap pops the largest).
    let mut heap = BinaryHeap::new();
    for (i, it) in iters.iter_mut().enumerate() {
        if let Some((k, v)) = step(it) {
            heap.push(Head { key: k, value: v, shard: i, reverse: range.reverse });
        }
    }
    let mut out = Vec::new();
    while out.len() < range.limit as usize {
        let Some(h) = heap.pop() else { break };
        out.push((h.key, h.value));
        if let Some((k, v)) = step(&mut iters[h.shard]) {
            heap.push(Head { key: k, value: v, shard: h.shard, reverse: range.reverse });
        }
    }
    out
}

struct Head<'a, V> {
    key: &'a Vec<u8>,
    value: &'a V,
    shard: usize,
    reverse: bool,
}

impl<V> PartialEq for Head<'_, V> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<V> Eq for Head<'_, V> {}
impl<V> PartialOrd for Head<'_, V> {
    fn partial_cmp(&self, other: &Self) -> Option<core::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl<V> Ord for Head<'_, V> {
    fn cmp(&self, other: &Self) -> core::cmp::Ordering {
        let o = self.key.cmp(other.key);
        if self.reverse { o } else { o.reverse() }
    }
}

impl MemStore {
    pub fn new() -> Self {
        Self {
            streams: (0..SHARD_COUNT).map(|_| Mutex::new(StreamShard::default())).collect(),
            claims: (0..SHARD_COUNT).map(|_| Mutex::new(ClaimShard::default())).collect(),
            catalog: RwLock::new(Catalog::default()),
        }
    }

    fn commit_now(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        c.validate()?;
        let stream_keys: Vec<Vec<u8>> = c.writes.iter().map(|w| w.stream.encode()).collect();
        let claim_keys: Vec<Vec<u8>> = c.claims.iter().map(|cl| cl.booking.encode()).collect();

        // Lock in ascending shard order: streams, claims, catalog.
        let stream_shards = sorted_shards(c.writes.iter().map(|w| shard_of(w.stream.unit_str().as_bytes())));
        let claim_shards = sorted_shards(claim_keys.iter().map(|k| shard_of(k)));
        let mut stream_guards: Vec<_> = stream_shards.iter().map(|&s| self.streams[s].lock()).collect();
        let mut claim_guards: Vec<_> = claim_shards.iter().map(|&s| self.claims[s].lock()).collect();
        let mut catalog = (!c.units.is_empty()).then(|| self.catalog.write());
        let stream_slot = |w: &StreamWrite| slot(&stream_shards, shard_of(w.stream.unit_str().as_bytes()));
        let claim_slot = |k: &[u8]| slot(&claim_shards, shard_of(k));

        // Check everything: claims first (a repeated request is a duplicate
        // even though its streams moved on since), then streams.
        for (cl, k) in c.claims.iter().zip(&claim_keys) {
            if let Some((_, existing)) = claim_guards[claim_slot(k)].claims.get(k) {
                return Ok(CommitOutcome::Duplicate { booking: cl.booking.clone(), existing: existing.clone() });
            }
        }
        for (w, k) in c.writes.iter().zip(&stream_keys) {
            let actual = stream_guards[stream_slot(w)].streams.get(k).map_or(0, |(_, ev)| ev.len() as Seq);
            if actual != w.expected {
                return Ok(CommitOutcome::Conflict { stream: w.stream.clone(), expected: w.expected, actual });
            }
        }

        // Write everything.
        for (w, k) in c.writes.iter().zip(stream_keys) {
            if w.events.is_empty() {
                continue; // a guard
            }
            let shard = &mut stream_guards[stream_slot(w)];
            let (_, events) = shard.streams.entry(k).or_insert_with(|| (w.stream.clone(), Vec::new()));
            events.extend(w.events.iter().cloned());
        }
        for (cl, k) in c.claims.iter().zip(claim_keys) {
            let s = claim_slot(&k);
            claim_guards[s].claims.insert(k, (cl.booking.clone(), cl.record.clone()));
        }
        if let Some(cat) = catalog.as_mut() {
            for row in &c.units {
                let mut id_key = Vec::new();
                key::encode_str(row.id().as_str(), &mut id_key);
                if let Some(old) = cat.units.get(&id_key) {
                    for k in old.index_keys.clone() {
                        cat.index.remove(&k);
                    }
                }
                for k in &row.index_keys {
                    cat.index.insert(k.clone(), row.id().clone());
                }
                cat.units.insert(id_key, row.clone());
            }
        }
        Ok(CommitOutcome::Committed)
    }
}

fn sorted_shards(it: impl Iterator<Item = usize>) -> Vec<usize> {
    let mut v: Vec<usize> = it.collect();
    v.sort_unstable();
    v.dedup();
    v
}

/// Position of `shard` in the sorted, deduplicated `shards` it was taken from.
fn slot(shards: &[usize], shard: usize) -> usize {
    shards.partition_point(|&s| s < shard)
}

impl Store for MemStore {
    async fn read_streams(&self, reqs: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        let mut out = Vec::with_capacity(reqs.len());
        for r in reqs {
            let k = r.stream.encode();
            let shard = self.streams[shard_of(r.stream.unit_str().as_bytes())].lock();
            out.push(match shard.streams.get(&k) {
                None => StreamSlice::default(),
                Some((_, events)) => {
                    let head = events.len() as Seq;
                    let from = usize::try_from(r.after).unwrap_or(usize::MAX).min(events.len());
                    StreamSlice { head, events: events[from..].to_vec() }
                }
            });
        }
        Ok(out)
    }

    async fn commit(&self, commit: &Commit) -> Result<CommitOutcome, StoreError> {
        self.commit_now(commit)
    }

    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        Ok(ids
            .iter()
            .map(|id| {
                let k = id.encode();
                self.claims[shard_of(&k)].lock().claims.get(&k).map(|(_, r)| r.clone())
            })
            .collect())
    }

    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<UnitRow>>, StoreError> {
        let cat = self.catalog.read();
        Ok(ids
            .iter()
            .map(|id| {
                let mut k = Vec::new();
                key::encode_str(id.as_str(), &mut k);
                cat.units.get(&k).cloned()
            })
            .collect())
    }

    async fn scan_index(&self, range: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        let cat = self.catalog.read();
        Ok(scan_map(&cat.index, range)
            .into_iter()
            .map(|(k, u)| IndexEntry { key: k.clone(), unit: u.clone() })
            .collect())
    }

    async fn scan_units(&self, range: &KeyRange) -> Result<Vec<UnitRow>, StoreError> {
        let cat = self.catalog.read();
        Ok(scan_map(&cat.units, range).into_iter().map(|(_, r)| r.clone()).collect())
    }

    async fn scan_streams(&self, range: &KeyRange) -> Result<Vec<(StreamId, Seq)>, StoreError> {
        // All shards locked in ascending order, as commits do.
        let guards: Vec<_> = self.streams.iter().map(|s| s.lock()).collect();
        let maps: Vec<_> = guards.iter().map(|g| &g.streams).collect();
        Ok(scan_merged(&maps, range).into_iter().map(|(_, (id, events))| (id.clone(), events.len() as Seq)).collect())
    }

    async fn scan_claims(&self, range: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        let guards: Vec<_> = self.claims.iter().map(|s| s.lock()).collect();
        let maps: Vec<_> = guards.iter().map(|g| &g.claims).collect();
        Ok(scan_merged(&maps, range).into_iter().map(|(_, v)| v.clone()).collect())
    }
}

//! The index mirror: the index entries a client has read, each with its
//! unit row, and the key intervals in which it holds every entry the store
//! had. A window inside those intervals is answered without asking the
//! store.
//!
//! Why: an auto-assign batch reads a window of candidates (hundreds of
//! unit rows) before each decision, and in a browser that read costs about
//! as much as committing the batch. The entries and rows change only when
//! a unit is defined, replaced or retired (appends to its definition
//! stream) or when an index is backfilled ([`Event::UnitsReindexed`] on the
//! catalog stream), and every one of those is in the change feed. So a
//! client that follows the feed keeps what it read, drops all of it when
//! the feed shows any such append, and a window it answers is the window a
//! read would have returned at the feed position it has caught up to.
//!
//! A client that boots from the feed's origin has the whole history in
//! hand, every unit definition included: when that history defines every
//! row exactly (see [`rows_from_history`]), the mirror starts out holding
//! the whole index, and windows are never read while the feed shows no
//! definition change.
//!
//! Architecture Invariant: the mirror is only consulted right after the
//! client caught up with the feed in the same operation, and it is empty
//! whenever the client does not follow a feed. Decisions never rest on it
//! alone: every booking still guards its unit's definition stream, so a
//! row that changed under the mirror makes the commit conflict, never
//! land.
//!
//! [`Event::UnitsReindexed`]: crate::event::Event::UnitsReindexed

use alloc::collections::BTreeMap;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::ops::Bound::{Included, Unbounded};

use hashbrown::HashMap;

use crate::catalog::Schema;
use crate::event::{Append, Event, UnitRow};
use crate::model::{Part, Seq, UnitId, UnitSpec};
use crate::store::{IndexEntry, KeyRange};

/// An interval of entry keys `[start, end)`; `end: None` is unbounded.
type Interval = (Vec<u8>, Option<Vec<u8>>);

/// A window as the mirror holds it.
#[derive(Debug)]
pub(crate) struct Held {
    /// Entries in key order, with their rows.
    pub found: Vec<(IndexEntry, Arc<UnitRow>)>,
    /// Where the part held ends, when it ends before the window would: the
    /// rest of the range is still to be read from there.
    pub rest: Option<Vec<u8>>,
}

#[derive(Debug, Default)]
pub(crate) struct Mirror {
    /// Entries read, by entry key (unique: an entry key ends with its unit id).
    entries: BTreeMap<Vec<u8>, (UnitId, Arc<UnitRow>)>,
    /// Sorted, disjoint, not touching: where `entries` is complete.
    covered: Vec<Interval>,
}

impl Mirror {
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        self.covered.clear();
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Holds every entry of `rows` and claims the whole key space: for a
    /// client whose rows are every row the store has (see
    /// [`rows_from_history`]). Nothing is kept past `entries_max` entries.
    pub(crate) fn hold_all(&mut self, rows: &[Arc<UnitRow>], entries_max: usize) {
        self.clear();
        if rows.iter().map(|r| r.index_keys.len()).sum::<usize>() > entries_max {
            return;
        }
        for row in rows {
            for k in &row.index_keys {
                self.entries.insert(k.clone(), (row.id().clone(), row.clone()));
            }
        }
        self.covered.push((Vec::new(), None));
    }

    /// Whether [`Self::window`] answers all of `range` (no part left to read).
    pub(crate) fn holds(&self, range: &KeyRange) -> bool {
        if range.reverse || range.limit == 0 {
            return false;
        }
        self.cover_end(&range.start).is_some_and(|cover| reaches_end(cover, range.end.as_deref()))
    }

    /// The end of the covered interval holding `key`, if one does
    /// (`Some(None)`: covered to the end of the key space).
    fn cover_end(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        // The last interval starting at or before `key`.
        let i = self.covered.partition_point(|(s, _)| s.as_slice() <= key);
        let (_, end) = self.covered.get(i.checked_sub(1)?)?;
        match end {
            None => Some(None),
            Some(e) if key < e.as_slice() => Some(Some(e.as_slice())),
            Some(_) => None,
        }
    }

    /// A forward window of `range`, with rows, as a read of the store would
    /// return it, or the part of it the mirror holds. `None` when the mirror
    /// holds nothing of the range's start.
    pub(crate) fn window(&self, range: &KeyRange) -> Option<Held> {
        if range.reverse || range.limit == 0 {
            return None;
        }
        let cover = self.cover_end(&range.start)?;
        // Entries from the start up to the nearer of the two ends.
        let stop = match (cover, range.end.as_deref()) {
            (None, e) | (e, None) => e,
            (Some(c), Some(e)) => Some(c.min(e)),
        };
        let mut out = Vec::new();
        for (key, (unit, row)) in self.entries.range::<[u8], _>((Included(range.start.as_slice()), Unbounded)) {
            if stop.is_some_and(|s| key.as_slice() >= s) || out.len() >= range.limit as usize {
                break;
            }
            out.push((IndexEntry { key: key.clone(), unit: unit.clone() }, row.clone()));
        }
        // Full, or the covered interval reaches the range's end.
        let complete = reaches_end(cover, range.end.as_deref());
        let rest = match cover {
            Some(c) if out.len() < range.limit as usize && !complete => Some(c.to_vec()),
            _ => None,
        };
        Some(Held { found: out, rest })
    }

    /// Records what a forward read of `range` returned: its entries in key
    /// order and their rows, one each (a missing row: nothing is recorded).
    /// Past `entries_max` entries the mirror starts over.
    pub(crate) fn record(
        &mut self,
        range: &KeyRange,
        found: &[IndexEntry],
        rows: &[Option<Arc<UnitRow>>],
        entries_max: usize,
    ) {
        if range.reverse || range.limit == 0 || found.len() != rows.len() || rows.iter().any(Option::is_none) {
            return;
        }
        if self.entries.len() + found.len() > entries_max {
            self.clear();
            if found.len() > entries_max {
                return;
            }
        }
        // A full window is complete up to and including its last key;
        // a short one up to the range's end.
        let end = match found.last() {
            Some(last) if found.len() >= range.limit as usize => {
                let mut after = last.key.clone();
                after.push(0); // the least key above `last`
                Some(after)
            }
            _ => range.end.clone(),
        };
        if end.as_ref().is_some_and(|e| *e <= range.start) {
            return;
        }
        for (entry, row) in found.iter().zip(rows) {
            if let Some(row) = row {
                self.entries.insert(entry.key.clone(), (entry.unit.clone(), row.clone()));
            }
        }
        self.cover(range.start.clone(), end);
    }

    /// Adds `[start, end)` to the covered intervals, merging what it
    /// overlaps or touches.
    fn cover(&mut self, mut start: Vec<u8>, mut end: Option<Vec<u8>>) {
        let reaches = |e: &Option<Vec<u8>>, s: &[u8]| e.as_ref().is_none_or(|e| e.as_slice() >= s);
        let mut kept = Vec::with_capacity(self.covered.len() + 1);
        for (s, e) in core::mem::take(&mut self.covered) {
            // Disjoint and not touching: keep apart.
            if !reaches(&e, &start) || !reaches(&end, &s) {
                kept.push((s, e));
                continue;
            }
            if s < start {
                start = s;
            }
            end = match (end, e) {
                (Some(a), Some(b)) => Some(a.max(b)),
                _ => None,
            };
        }
        let at = kept.partition_point(|(s, _)| *s < start);
        kept.insert(at, (start, end));
        self.covered = kept;
        debug_assert!(self.covered.windows(2).all(|w| w[0].1.as_ref().is_some_and(|e| *e < w[1].0)));
    }
}

/// Whether a covered interval ending at `cover` (`None`: the end of the key
/// space) reaches a range's `end` (`None`: unbounded).
fn reaches_end(cover: Option<&[u8]>, end: Option<&[u8]>) -> bool {
    match (cover, end) {
        (None, _) => true,
        (Some(_), None) => false,
        (Some(c), Some(e)) => e <= c,
    }
}

/// One unit as its definition stream left it.
struct Defined {
    spec: UnitSpec,
    version: Seq,
    retired: bool,
    /// Indexes in the catalog when its attributes were last written: the
    /// row got entries for those (a commit defining or replacing a unit
    /// guards the catalog stream, so its schema was the current one).
    indexes: usize,
}

/// Every unit row of a store whose whole history is `appends` (the change
/// feed from its origin, no gap), at most `rows_max` of them; `None` when
/// the history does not pin every row down exactly.
///
/// A row is its definition stream replayed: the spec of `UnitDefined`, the
/// attributes of the last `UnitReplaced`, retired by `UnitRetired`, its
/// version the stream's seq, and the entry keys the catalog gives its spec.
/// That last part is exact only for units last written after every index
/// was defined: an index defined later reaches older rows through a
/// backfill, which the feed shows only as a count (`UnitsReindexed`), so a
/// row may or may not have its entry yet. Such a history gives `None`, and
/// the client reads windows from the store as it would without this.
pub(crate) fn rows_from_history(appends: &[Append], rows_max: usize) -> Option<Vec<Arc<UnitRow>>> {
    let mut schema = Schema::default();
    let mut units: Vec<Defined> = Vec::new();
    let mut by_id: HashMap<UnitId, usize> = HashMap::new();
    for a in appends.iter().filter(|a| a.stream.part == Part::Def) {
        if a.stream.is_catalog() {
            if a.first != schema.seq + 1 {
                return None;
            }
            schema.extend(&a.events);
            continue;
        }
        let id = a.stream.unit()?;
        let at = match by_id.get(&id) {
            Some(&at) => at,
            None => {
                // A stream starts with its definition.
                let Some(Event::UnitDefined { spec, .. }) = a.events.first() else { return None };
                if a.first != 1 || spec.id != id || units.len() >= rows_max {
                    return None;
                }
                by_id.insert(id, units.len());
                units.push(Defined { spec: spec.clone(), version: 0, retired: false, indexes: 0 });
                units.len() - 1
            }
        };
        let u = &mut units[at];
        if a.first != u.version + 1 {
            return None;
        }
        for e in &a.events {
            match e {
                Event::UnitDefined { .. } if u.version == 0 => u.indexes = schema.indexes.len(),
                Event::UnitReplaced { attrs, .. } if u.version > 0 && !u.retired => {
                    u.spec.attrs = attrs.clone();
                    u.indexes = schema.indexes.len();
                }
                Event::UnitRetired { .. } if u.version > 0 && !u.retired => u.retired = true,
                _ => return None,
            }
            u.version += 1;
        }
    }
    let mut rows = Vec::with_capacity(units.len());
    for u in units {
        let index_keys = match u.retired {
            true => Vec::new(),
            false if u.indexes == schema.indexes.len() => schema.index_keys(&u.spec).ok()?,
            false => return None,
        };
        rows.push(Arc::new(UnitRow { spec: u.spec, version: u.version, retired: u.retired, index_keys }));
    }
    Some(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{UnitKind, UnitSpec};
    use alloc::vec;

    fn row(id: &str) -> Arc<UnitRow> {
        let spec = UnitSpec::new(id, UnitKind::Exclusive, vec![]).unwrap();
        Arc::new(UnitRow { spec, version: 1, retired: false, index_keys: vec![] })
    }

    fn rec(m: &mut Mirror, r: &KeyRange, f: &[(IndexEntry, Option<Arc<UnitRow>>)], max: usize) {
        let (entries, rows): (Vec<_>, Vec<_>) = f.iter().cloned().unzip();
        m.record(r, &entries, &rows, max);
    }

    fn found(keys: &[u8]) -> Vec<(IndexEntry, Option<Arc<UnitRow>>)> {
        keys.iter()
            .map(|k| {
                let id = alloc::format!("u{k}");
                (IndexEntry { key: vec![*k], unit: UnitId::new(&id).unwrap() }, Some(row(&id)))
            })
            .collect()
    }

    fn range(start: u8, end: Option<u8>, limit: u32) -> KeyRange {
        KeyRange { start: vec![start], end: end.map(|e| vec![e]), reverse: false, limit }
    }

    /// The keys of a window the mirror answers whole (`None`: it must be read).
    fn keys(w: Option<Held>) -> Option<Vec<u8>> {
        w.filter(|h| h.rest.is_none()).map(|h| h.found.iter().map(|(e, _)| e.key[0]).collect())
    }

    mod history {
        //! `rows_from_history` against the store it was read from: random
        //! catalogs (indexes before and after units, some defined without
        //! their backfill, replaced and retired units, bookings between).
        use super::super::*;
        use crate::catalog::IndexQuery;
        use crate::key::{KeyType, KeyValue};
        use crate::model::{BookingId, IndexDef, IndexField, Span, StreamId, UnitKind};
        use crate::store::{Commit, Store, StreamWrite};
        use crate::{Allot, BookAnyReq, MemStore, Pick};
        use alloc::format;
        use alloc::string::String;
        use alloc::vec;
        use proptest::prelude::*;

        const NOW: u64 = 1_000;

        fn index(i: u8) -> IndexDef {
            match i % 3 {
                0 => IndexDef::single("price", "price", KeyType::U32).unwrap(),
                1 => IndexDef::single("hotel", "hotel", KeyType::U8).unwrap(),
                _ => IndexDef::new(
                    "zone_price",
                    vec![
                        IndexField { attr: "zone".into(), ty: KeyType::Str, order: crate::key::Order::Asc },
                        IndexField { attr: "price".into(), ty: KeyType::U32, order: crate::key::Order::Desc },
                    ],
                )
                .unwrap(),
            }
        }

        /// A unit (by number), with optional price, hotel and zone.
        type NewUnit = (u8, Option<u32>, Option<u8>, Option<u8>);

        #[derive(Clone, Debug)]
        enum Op {
            /// An index, backfilled.
            Index(u8),
            /// An index in the catalog whose backfill never ran (its
            /// definer died in between).
            IndexOnly(u8),
            Units(Vec<NewUnit>),
            Replace(u8, Option<u32>, Option<u8>),
            Retire(u8),
            Book(u8),
        }

        fn attrs(price: Option<u32>, hotel: Option<u8>, zone: Option<u8>) -> Vec<(String, KeyValue)> {
            let mut a = Vec::new();
            if let Some(p) = price {
                a.push(("price".into(), KeyValue::U32(p)));
            }
            if let Some(h) = hotel {
                a.push(("hotel".into(), KeyValue::U8(h)));
            }
            if let Some(z) = zone {
                a.push(("zone".into(), KeyValue::Str(format!("z{}", z % 3))));
            }
            a
        }

        fn unit(n: u8) -> String {
            format!("u{n:02}")
        }

        fn op() -> impl Strategy<Value = Op> {
            let price = proptest::option::of(0u32..5);
            let small = proptest::option::of(0u8..4);
            prop_oneof![
                1 => (0u8..3).prop_map(Op::Index),
                1 => (0u8..3).prop_map(Op::IndexOnly),
                3 => proptest::collection::vec((0u8..24, price.clone(), small.clone(), small.clone()), 1..6)
                    .prop_map(Op::Units),
                2 => (0u8..24, price, small).prop_map(|(u, p, h)| Op::Replace(u, p, h)),
                1 => (0u8..24).prop_map(Op::Retire),
                2 => (0u8..8).prop_map(Op::Book),
            ]
        }

        fn run(store: &MemStore, ops: &[Op]) {
            let mut a = Allot::new(store);
            for (k, op) in ops.iter().enumerate() {
                let _ = match op {
                    Op::Index(i) => pollster::block_on(a.define_index(&index(*i), NOW)).map(|_| ()),
                    Op::IndexOnly(i) => {
                        let schema = pollster::block_on(a.fresh_schema()).unwrap().clone();
                        if schema.index(&index(*i).name).is_none() {
                            let commit = Commit {
                                writes: vec![StreamWrite {
                                    stream: StreamId::catalog(),
                                    expected: schema.seq,
                                    events: vec![Event::IndexDefined { def: index(*i), at: NOW }],
                                }],
                                ..Commit::default()
                            };
                            pollster::block_on(store.commit(&commit)).unwrap();
                        }
                        Ok(())
                    }
                    Op::Units(us) => {
                        let mut specs: Vec<UnitSpec> = Vec::new();
                        for (n, p, h, z) in us {
                            if specs.iter().all(|s| s.id.as_str() != unit(*n)) {
                                specs.push(UnitSpec::new(&unit(*n), UnitKind::Exclusive, attrs(*p, *h, *z)).unwrap());
                            }
                        }
                        pollster::block_on(a.define_units(&specs, NOW)).map(|_| ())
                    }
                    Op::Replace(n, p, h) => {
                        let spec = UnitSpec::new(&unit(*n), UnitKind::Exclusive, attrs(*p, *h, Some(1))).unwrap();
                        pollster::block_on(a.replace_unit(&spec, NOW))
                    }
                    Op::Retire(n) => {
                        pollster::block_on(a.retire_unit(&UnitId::new(&unit(*n)).unwrap(), NOW)).map(|_| ())
                    }
                    Op::Book(q) => {
                        let req = BookAnyReq {
                            booking: BookingId::new("guest", &format!("b{k}")).unwrap(),
                            query: IndexQuery::all(&index(*q).name),
                            span: Span::Interval { start: u64::from(*q), end: u64::from(*q) + 2 },
                            qty: 1,
                            hold: None,
                            pick: Pick::First,
                        };
                        let _ = pollster::block_on(a.book_any(&req, NOW));
                        Ok(())
                    }
                };
            }
        }

        proptest! {
            #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

            #[test]
            fn rows_from_the_history_are_the_stores_rows_when_given(
                first in proptest::collection::vec(0u8..3, 0..3),
                ops in proptest::collection::vec(op(), 1..24),
                starts in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..3), 4),
            ) {
                // Indexes first, as a catalog is usually set up: rows given.
                let ops: Vec<Op> = first.into_iter().map(Op::Index).chain(ops).collect();
                let store = MemStore::with_feed();
                run(&store, &ops);
                let changes = pollster::block_on(store.changes(0, 4096)).unwrap().unwrap();
                prop_assert!(!changes.more && !changes.gap);
                let rows = rows_from_history(&changes.appends, 4096);
                let mut stored = pollster::block_on(store.scan_units(&KeyRange::all(10_000))).unwrap();
                // Given whenever every index came before the first unit.
                let last_index = changes.appends.iter().rposition(|a| {
                    a.stream.is_catalog() && a.events.iter().any(|e| matches!(e, Event::IndexDefined { .. }))
                });
                let first_unit =
                    changes.appends.iter().position(|a| a.stream.part == Part::Def && !a.stream.is_catalog());
                if first_unit.is_none_or(|u| last_index.is_none_or(|i| i < u)) {
                    prop_assert!(rows.is_some(), "every index came first: {ops:?}");
                }
                let Some(mut rows) = rows else { return Ok(()) };
                rows.sort_by(|a, b| a.id().cmp(b.id()));
                stored.sort_by(|a, b| a.id().cmp(b.id()));
                prop_assert_eq!(&rows, &stored);
                let mut m = Mirror::default();
                m.hold_all(&rows, 4096);
                let schema = pollster::block_on(Allot::new(&store).fresh_schema()).unwrap().clone();
                let mut ranges: Vec<KeyRange> = Vec::new();
                for def in &schema.indexes {
                    for limit in [1, 3, 100] {
                        ranges.push(IndexQuery::all(&def.name).key_range(def, limit).unwrap());
                    }
                }
                for (i, s) in starts.iter().enumerate() {
                    let end = (i % 2 == 0).then(|| vec![s.first().copied().unwrap_or(0).saturating_add(1)]);
                    ranges.push(KeyRange { start: s.clone(), end, reverse: false, limit: 1 + i as u32 * 7 });
                }
                for r in &ranges {
                    prop_assert!(m.holds(r));
                    let held = m.window(r).unwrap();
                    prop_assert!(held.rest.is_none());
                    let got: Vec<IndexEntry> = held.found.into_iter().map(|(e, _)| e).collect();
                    let want = pollster::block_on(store.scan_index(r)).unwrap();
                    prop_assert_eq!(got, want, "range {:?}", r);
                }
            }
        }
    }

    #[test]
    fn a_full_window_covers_up_to_its_last_key_only() {
        let mut m = Mirror::default();
        rec(&mut m, &range(10, Some(100), 3), &found(&[10, 20, 30]), 100);
        assert_eq!(keys(m.window(&range(10, Some(100), 3))), Some(vec![10, 20, 30]));
        assert_eq!(keys(m.window(&range(10, Some(100), 2))), Some(vec![10, 20]));
        assert_eq!(keys(m.window(&range(15, Some(100), 2))), Some(vec![20, 30]));
        // Past 30 nothing is known: more entries may follow.
        assert_eq!(keys(m.window(&range(15, Some(100), 3))), None);
        let part = m.window(&range(15, Some(100), 3)).unwrap();
        assert_eq!(part.found.iter().map(|(e, _)| e.key[0]).collect::<Vec<_>>(), vec![20, 30]);
        assert_eq!(part.rest, Some(vec![30, 0]));
        assert!(m.window(&range(31, Some(100), 1)).is_none());
        assert_eq!(keys(m.window(&range(31, Some(100), 1))), None);
        assert_eq!(keys(m.window(&range(5, Some(100), 1))), None);
        // Inside the covered part, a range that ends there is complete.
        assert_eq!(keys(m.window(&range(15, Some(30), 5))), Some(vec![20]));
    }

    #[test]
    fn a_short_window_covers_its_whole_range() {
        let mut m = Mirror::default();
        rec(&mut m, &range(10, Some(100), 5), &found(&[20, 30]), 100);
        assert_eq!(keys(m.window(&range(10, Some(100), 5))), Some(vec![20, 30]));
        assert_eq!(keys(m.window(&range(50, Some(100), 5))), Some(vec![]));
        assert_eq!(keys(m.window(&range(50, Some(101), 5))), None);
        assert_eq!(keys(m.window(&range(50, None, 5))), None);
        // Reverse windows are always read.
        assert_eq!(keys(m.window(&KeyRange { reverse: true, ..range(10, Some(100), 5) })), None);
    }

    #[test]
    fn touching_reads_join_and_an_unbounded_one_covers_the_rest() {
        let mut m = Mirror::default();
        rec(&mut m, &range(0, None, 2), &found(&[1, 2]), 100);
        rec(&mut m, &KeyRange { start: vec![2, 0], ..range(0, None, 2) }, &found(&[3, 4]), 100);
        assert_eq!(m.covered.len(), 1);
        assert_eq!(keys(m.window(&range(0, None, 4))), Some(vec![1, 2, 3, 4]));
        rec(&mut m, &KeyRange { start: vec![4, 0], ..range(0, None, 2) }, &found(&[9]), 100);
        assert_eq!(keys(m.window(&range(0, None, 10))), Some(vec![1, 2, 3, 4, 9]));
        assert_eq!(m.covered, vec![(vec![0], None)]);
    }

    #[test]
    fn a_missing_row_records_nothing_and_the_bound_starts_over() {
        let mut m = Mirror::default();
        let mut f = found(&[1, 2]);
        f[1].1 = None;
        rec(&mut m, &range(0, Some(9), 5), &f, 100);
        assert_eq!(keys(m.window(&range(0, Some(9), 5))), None);
        rec(&mut m, &range(0, Some(9), 5), &found(&[1, 2]), 3);
        rec(&mut m, &range(20, Some(29), 5), &found(&[21, 22]), 3);
        assert_eq!(m.len(), 2);
        assert_eq!(keys(m.window(&range(0, Some(9), 5))), None);
        assert_eq!(keys(m.window(&range(20, Some(29), 5))), Some(vec![21, 22]));
    }
}

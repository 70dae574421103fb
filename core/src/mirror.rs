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

use crate::event::UnitRow;
use crate::model::UnitId;
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
        let complete = match (cover, range.end.as_deref()) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(c), Some(e)) => e <= c,
        };
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

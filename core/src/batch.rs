//! Group commit at the booking level: many auto-assign requests decided
//! together and committed with one [`Store::commit_group`] per round.
//!
//! A store with transactions (IndexedDB, PostgreSQL) pays per transaction
//! far more than per request inside one; deciding a batch against one
//! observation and committing it in one transaction amortises that cost.
//! Safety is unchanged: every commit in the group is still an append-expect
//! on exactly what its decision observed, and succeeds or conflicts on its
//! own.
//!
//! The decision for a group of requests with the same range, span and
//! quantity walks the range once, window by window, handing each request
//! the next free candidate; two requests of one round never get units whose
//! streams overlap (their commits would conflict by construction). A
//! request whose commit conflicts stays pending and is decided again in the
//! next round, against the re-read stream. A request ends `SoldOut` only
//! when its group has walked the whole range and found every unit taken.

use alloc::collections::{BTreeSet, VecDeque};
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::cell::Cell;

use crate::allot::{
    Allot, BookAnyReq, Feed, FeedCache, Pick, apply_feed, check_ask, check_window, corrupt, leap_past_taken,
    note_taken, split_at, spread_hash, with_rosters,
};
use crate::error::{BookError, InputError, StoreError};
use crate::event::{ClaimRecord, UnitRow};
use crate::limits::*;
use crate::model::*;
use crate::roster::Roster;
use crate::rules::{self, Ask, Decision, Fit, Outcome};
use crate::store::*;
use hashbrown::{HashMap, HashSet};

/// Requests that can share one walk over the index: same range, span, qty,
/// hold presence and pick.
#[derive(Debug)]
struct Group {
    range: Arc<KeyRange>,
    span: Span,
    pick: Pick,
    /// Segments of the walk still to scan (the first one in progress).
    segments: VecDeque<KeyRange>,
    /// Segments of the walk over untouched units still to scan, before
    /// `segments` (see [`Store::read_untouched_window`]).
    untouched: VecDeque<KeyRange>,
    /// The walk went over untouched units once (it does not again).
    untouched_walked: bool,
    /// Candidates fetched and not yet found taken, in walk order.
    candidates: VecDeque<(IndexEntry, Arc<UnitRow>, Streams)>,
    /// Request positions, in submission order.
    pending: Vec<usize>,
    /// Leaps the walk made (see [`crate::allot::leap`]).
    leaps: u32,
}

impl Group {
    /// Where this client's next walk over the same range resumes (see
    /// [`Hint`]): at the first candidate, in walk order, that is not in
    /// `booked` (booked by this round), else (walking forwards) where the
    /// walk goes on; `None`: at the unit booked last.
    /// Resuming at the unit booked last instead would leave the free units
    /// of its window that the stride had not reached behind, until the
    /// walk came round again.
    fn resume(&self, booked: &HashSet<&UnitId>) -> Option<Vec<u8>> {
        let left = self.candidates.iter().map(|(e, _, _)| e).filter(|e| !booked.contains(&e.unit));
        let first = if self.range.reverse {
            left.max_by(|a, b| a.key.cmp(&b.key))
        } else {
            left.min_by(|a, b| a.key.cmp(&b.key))
        };
        match (first, self.segments.front()) {
            (Some(e), _) => Some(e.key.clone()),
            (None, Some(s)) if !self.range.reverse => Some(s.start.clone()),
            _ => None,
        }
    }

    fn walked(&self) -> bool {
        self.untouched.is_empty() && self.segments.is_empty()
    }

    /// Each segment's first window as long as the group has requests (at
    /// least `WINDOW_LEN_FIRST`, at most the configured window): a full
    /// window doubles the next one up to the configured length, so a batch
    /// reads what it needs, and more only where others took its units.
    fn size_first_windows(&mut self) {
        let len = u32::try_from(self.pending.len()).unwrap_or(u32::MAX);
        let first = len.max(WINDOW_LEN_FIRST).min(self.range.limit);
        self.segments.iter_mut().for_each(|s| s.limit = first);
    }
}

type Slot = Option<Result<Outcome, BookError>>;

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 { a } else { gcd(b, a % b) }
}

impl<S: Store> Allot<S> {
    /// Auto-assigns many requests at once: the batch form of
    /// [`Allot::book_any`], with one group commit per round. Outcomes come
    /// back in request order; each request succeeds, ends `SoldOut`, or
    /// fails on its own.
    pub async fn book_any_many(&mut self, reqs: &[BookAnyReq], now: TimeMs) -> Vec<Result<Outcome, BookError>> {
        let mut out: Vec<Slot> = (0..reqs.len()).map(|_| None).collect();
        match self.book_any_many_in(reqs, now, &mut out).await {
            Ok(()) => {}
            Err(e) => {
                for slot in out.iter_mut().filter(|s| s.is_none()) {
                    *slot = Some(Err(e.clone()));
                }
            }
        }
        out.into_iter()
            .map(|s| s.unwrap_or_else(|| Err(BookError::Store(corrupt("batch", "a request got no outcome")))))
            .collect()
    }

    async fn book_any_many_in(&mut self, reqs: &[BookAnyReq], now: TimeMs, out: &mut [Slot]) -> Result<(), BookError> {
        self.begin();
        check_time("now", now)?;
        let window = self.config.window_len;
        if window == 0 || window > WINDOW_LEN_MAX {
            return Err(
                InputError::LimitInvalid { what: "window", value: window.into(), max: WINDOW_LEN_MAX.into() }.into()
            );
        }
        if reqs.len() > COMMITS_PER_GROUP_MAX {
            return Err(InputError::TooMany {
                what: "requests in a batch",
                len: reqs.len(),
                max: COMMITS_PER_GROUP_MAX,
            }
            .into());
        }
        // Encoded once per run of requests that ask the same.
        let mut fingerprints: Vec<Arc<[u8]>> = Vec::with_capacity(reqs.len());
        for (i, r) in reqs.iter().enumerate() {
            let fp = match (i.checked_sub(1).map(|p| &reqs[p]), fingerprints.last()) {
                (Some(prev), Some(fp)) if prev.same_fingerprint(r) => Arc::clone(fp),
                _ => r.fingerprint().into(),
            };
            fingerprints.push(fp);
        }
        // Shape checks, and a request id twice in one batch is one request.
        // Borrowed ids, hashed: a B-tree of cloned ids was 5% of a batched
        // booking's instructions.
        let mut seen: HashMap<&BookingId, usize> = HashMap::with_capacity(reqs.len());
        let mut live = Vec::with_capacity(reqs.len());
        for (i, r) in reqs.iter().enumerate() {
            if let Err(e) = check_ask(r.qty, r.hold.as_ref(), &r.span) {
                out[i] = Some(Err(e.into()));
            } else if let hashbrown::hash_map::Entry::Vacant(v) = seen.entry(&r.booking) {
                // One hash of the id (a look and an insert hashed it twice).
                v.insert(i);
                live.push(i);
            } else {
                // The same request id twice: answered like its first
                // occurrence once that one is decided (below).
            }
        }
        // Replays are not looked up front (that would cost every batch a
        // read): a replayed request's commit meets its claim and answers
        // `Duplicate` (claims are checked first), and a request about to be
        // answered without a commit (sold out) checks its claim at the end.
        // A client that already follows the feed starts from what its cache
        // knows, with no read of its own: the first round's decision applies
        // the feed read inside the store's transaction before it decides,
        // and the store checks every commit it sends. Only a sold-out answer
        // must rest on reads made after the operation began (see
        // [`Allot::begin`]), so a round on the presumed cache never gives
        // one: its requests left without a candidate walk again, on the
        // cache the transaction brought up to date. Otherwise the feed
        // first: it brings the schema along (a client that follows it from
        // the origin never reads the catalog stream).
        // Read before the operation's first read of anything else (see
        // `Allot::remember_sold_out`).
        let epoch = self.store.vacancy_epoch().await?;
        // Requests answered sold out (checked against their claims at the
        // end), and which of them from an earlier walk.
        let mut sold_out: Vec<usize> = Vec::new();
        let mut known: Vec<bool> = alloc::vec![false; reqs.len()];
        let mut presumed = matches!(self.feed, Feed::At { .. });
        if presumed {
            self.feed_fresh = true;
        } else {
            self.catch_up().await?;
        }
        // Groups sharing a walk.
        let mut groups: Vec<Group> = Vec::new();
        // The last request put in a group, and its group: a request that
        // asks what it asked (their fingerprints are one `Arc`, see above)
        // with the same pick joins it with no range to look up, no sold-out
        // check (the same answer) and no search of the groups.
        let mut last: Option<(usize, usize)> = None;
        for &i in &live {
            if out[i].is_some() {
                continue;
            }
            let r = &reqs[i];
            if let Some((p, gi)) = last
                && Arc::ptr_eq(&fingerprints[p], &fingerprints[i])
                && reqs[p].pick == r.pick
            {
                groups[gi].pending.push(i);
                continue;
            }
            if presumed && self.schema.as_ref().and_then(|s| s.index(&r.query.index)).is_none() {
                // An index the cache does not know (yet): the feed brings a
                // new one along, with no read of the catalog.
                presumed = false;
                self.feed_fresh = false;
                self.catch_up().await?;
            }
            let range = match self.query_range(&r.query, window).await? {
                Ok(range) => range,
                Err(e) => {
                    out[i] = Some(Err(e));
                    continue;
                }
            };
            if self.known_sold_out(&range, &r.span, r.qty, r.hold.is_some(), epoch, now) {
                self.stats.sold_out_known += 1;
                known[i] = true;
                sold_out.push(i);
                out[i] = Some(Ok(Outcome::SoldOut));
                continue;
            }
            let same = |g: &Group| {
                g.range == range && g.span == r.span && g.pick == r.pick && {
                    let f = &reqs[g.pending[0]];
                    f.qty == r.qty && f.hold.is_some() == r.hold.is_some()
                }
            };
            match groups.iter().position(same) {
                Some(gi) => {
                    groups[gi].pending.push(i);
                    last = Some((i, gi));
                }
                None => {
                    last = Some((i, groups.len()));
                    let segments = self.walk(&range, &r.span, r.pick, &r.booking);
                    groups.push(Group {
                        range,
                        span: r.span,
                        pick: r.pick,
                        segments,
                        untouched: VecDeque::new(),
                        untouched_walked: false,
                        candidates: VecDeque::new(),
                        pending: alloc::vec![i],
                        leaps: 0,
                    });
                }
            }
        }

        for g in &mut groups {
            g.size_first_windows();
        }

        // Units a commit of ours conflicted on: if they turn out taken, we
        // lost the race for them (counted as already booked).
        let mut lost: BTreeSet<UnitId> = BTreeSet::new();
        // Requests one of whose commits had its outcome lost, and the last
        // conflict each met: what to report if the rounds run out.
        // (Indexed by request: plain vectors, no B-tree code for them in
        // the npm package's wasm.)
        let mut unknown: Vec<bool> = alloc::vec![false; reqs.len()];
        let mut last_conflict: Vec<Option<(StreamId, Seq, Seq)>> = alloc::vec![None; reqs.len()];
        let mut rounds = 0u32;
        loop {
            groups.retain(|g| !g.pending.is_empty());
            if groups.is_empty() {
                break;
            }
            rounds += 1;
            if rounds > self.config.commit_attempts_max {
                for g in &groups {
                    for &i in &g.pending {
                        // A request whose commit's outcome was lost may still
                        // land: that is unknown, never "conflict, nothing written".
                        out[i] = Some(Err(if unknown[i] {
                            BookError::Store(StoreError::OutcomeUnknown(
                                "attempts used up after a commit whose outcome was lost: it may still land; \
                                 retry with the same request key"
                                    .into(),
                            ))
                        } else {
                            let (stream, expected, actual) =
                                last_conflict[i].clone().unwrap_or((StreamId::catalog(), 0, 0));
                            BookError::Conflict { stream, expected, actual }
                        }));
                    }
                }
                break;
            }
            // Every cached roster up to date (after the last round's
            // conflicts), where the store keeps a change feed.
            self.catch_up().await?;
            // Candidates for every pending request, as far as the cache
            // knows: the decision below cannot read (it runs inside the
            // store's transaction where the store has one).
            for g in &mut groups {
                self.fill(g, reqs, &fingerprints, now, &mut lost).await?;
            }
            if groups.iter().all(|g| g.walked() && g.candidates.is_empty()) {
                if presumed {
                    // Taken as far as the cache knew before the operation:
                    // walk again after a read.
                    presumed = false;
                    self.feed_fresh = false;
                    rounds -= 1;
                    self.restart_walks(&mut groups, reqs);
                    continue;
                }
                // Every unit in every range is taken, as of reads made in this
                // round: sold out, with no transaction (the decision inside
                // one would find no candidate either: a feed read there only
                // ever drops candidates).
                for g in &mut groups {
                    for i in core::mem::take(&mut g.pending) {
                        sold_out.push(i);
                        out[i] = Some(Ok(Outcome::SoldOut));
                    }
                }
                continue;
            }
            let following = match self.feed {
                Feed::At { pos, .. } => Some(pos),
                Feed::Unknown | Feed::Absent => None,
            };
            // Decide against the feed read in the commit's own transaction:
            // each pending request takes the next candidate that fits and
            // whose streams no other commit of this round touches.
            // request, group, outcome, entry; about one per pending request
            // (grown push by push, these were 2% of a booking's instructions).
            let pending: usize = groups.iter().map(|g| g.pending.len()).sum();
            let mut owners: Vec<(usize, usize, Outcome, IndexEntry)> = Vec::with_capacity(pending);
            let mut claimed: Vec<usize> = Vec::new();
            let mut invalid: Option<InputError> = None;
            let mut page_stale = false;
            // The feed read with the decision showed a unit (or the catalog)
            // redefined: candidates may have moved, so the walks start again.
            let mut redefined = false;
            // Requests that may end sold out in this decision (their group
            // walked its whole range and holds fewer candidates than
            // requests): their claims are read with it, in its transaction,
            // and tell a retry from a new request.
            // Not those the cache knows were never booked: should one be
            // booked by the time of the decision, the feed read with it
            // brings its booking, and the check at the end reads its claim.
            let mut maybe_sold: Vec<usize> = groups
                .iter()
                .filter(|g| !presumed && g.walked() && g.candidates.len() < g.pending.len())
                .flat_map(|g| g.pending.iter().copied())
                .collect();
            self.keep_maybe_claimed(&mut maybe_sold, reqs, &unknown);
            let asked: Vec<BookingId> = maybe_sold.iter().map(|&i| reqs[i].booking.clone()).collect();
            let mut claims_read: Vec<Option<ClaimRecord>> = Vec::new();
            let sent = {
                let rosters = &mut self.rosters;
                let units = &mut self.units;
                let mirror = &mut self.mirror;
                let schema = &mut self.schema;
                let feed = &mut self.feed;
                let cache_max = self.config.roster_cache_max;
                let already_booked = &mut self.stats.already_booked;
                let until = &self.walk_until;
                let claims_read = &mut claims_read;
                let mut decide = |changes: Option<Changes>, claims: Vec<Option<ClaimRecord>>| {
                    *claims_read = claims;
                    if let (Some(pos), Some(changes)) = (following, changes) {
                        page_stale = changes.gap || changes.more;
                        if !changes.gap {
                            // A candidate's row and index entry are as the
                            // walk found them: one redefined since is not
                            // offered (its definition guard would be refused).
                            let mut moved = changes.appends.iter().filter(|a| a.stream.part == Part::Def).peekable();
                            if moved.peek().is_some() {
                                redefined = true;
                                // Inserted one by one, not collected: `collect`
                                // would add a stable sort and a bulk build of
                                // the set to the npm package's wasm (6 KB raw).
                                let mut units: BTreeSet<UnitId> = BTreeSet::new();
                                for u in moved.filter_map(|a| a.stream.unit()) {
                                    units.insert(u);
                                }
                                for g in groups.iter_mut() {
                                    g.candidates.retain(|(e, _, _)| !units.contains(&e.unit));
                                }
                            }
                            let cache = FeedCache { rosters, units, mirror, schema, feed };
                            apply_feed(cache, cache_max, pos, changes)?;
                        }
                    }
                    let round = Round { reqs, fingerprints: &fingerprints, now, rosters, until };
                    let may_sell_out = !presumed && !redefined;
                    round
                        .decide(
                            &mut groups,
                            may_sell_out,
                            &mut lost,
                            already_booked,
                            out,
                            &mut sold_out,
                            &mut owners,
                            &mut claimed,
                        )
                        .map_err(|e| {
                            let shown = StoreError::Invalid(e.clone());
                            invalid = Some(e);
                            shown
                        })
                };
                self.store.decide_group(following, FEED_PAGE_ENTRIES_MAX, &asked, &mut decide).await
            };
            // The walks so far skipped units the presumed cache showed taken,
            // or passed units since redefined: the next round walks from the
            // start, on the cache as the transaction left it (once every
            // request of this round that goes on is pending again).
            let mut rewalk = core::mem::take(&mut presumed) || redefined;
            if let Some(e) = invalid {
                return Err(e.into());
            }
            // A booking already in its candidate's stream: an earlier attempt
            // of the same request id landed; its claim says what it got.
            for i in claimed {
                out[i] = Some(match self.replay(&reqs[i].booking, &fingerprints[i]).await? {
                    Some(o) => Ok(o),
                    None => Err(BookError::Store(corrupt("claim", "a booking in a stream has no claim"))),
                });
            }
            let Decided { commits, results, pos } = match sent {
                Ok(d) => d,
                Err(e) if e.is_retryable() => {
                    self.feed_fresh = false;
                    // Some may have landed: their claims say so.
                    let ids: Vec<usize> = owners.iter().map(|o| o.0).collect();
                    if let Err(read) = self.resolve_claimed(reqs, &fingerprints, &ids, out).await {
                        // Never "nothing written" for what may have landed.
                        return Err(match e {
                            StoreError::OutcomeUnknown(_) => StoreError::OutcomeUnknown(alloc::format!(
                                "{e}; checking the requests' claims then failed too: {read}"
                            )),
                            _ => read,
                        }
                        .into());
                    }
                    let lost_ack = matches!(e, StoreError::OutcomeUnknown(_));
                    for (i, gi, _, _) in owners {
                        if out[i].is_none() {
                            if lost_ack {
                                unknown[i] = true;
                            }
                            groups[gi].pending.push(i);
                        }
                    }
                    for g in &mut groups {
                        g.pending.sort_unstable();
                    }
                    if rewalk {
                        self.restart_walks(&mut groups, reqs);
                    }
                    continue;
                }
                Err(e) => return Err(e.into()),
            };
            if results.len() != commits.len() || commits.len() != owners.len() {
                return Err(corrupt("commit group", "the store answered a different number of commits").into());
            }
            if !asked.is_empty() {
                if claims_read.len() != asked.len() {
                    return Err(corrupt("commit group", "the store answered a different number of claims").into());
                }
                // Found sold out with its claim read: a claim makes it a
                // replay; without one, sold out is final (no read at the end).
                // By request position: a batch may hold thousands.
                let mut read_for: Vec<Option<&Option<ClaimRecord>>> = alloc::vec![None; reqs.len()];
                for (&i, c) in maybe_sold.iter().zip(&claims_read) {
                    read_for[i] = Some(c);
                }
                sold_out.retain(|&i| match read_for[i] {
                    None => true,
                    Some(claim) => {
                        if let Some(c) = claim {
                            out[i] = Some(self.replay_claim(&reqs[i].booking, c, &fingerprints[i]));
                        }
                        false
                    }
                });
            }
            self.stats.commits += commits.len() as u64;
            let mut refresh: Vec<StreamId> = Vec::new();
            let mut booked: Vec<(usize, UnitId)> = Vec::new();
            for ((commit, result), (i, gi, outcome, entry)) in commits.iter().zip(results).zip(owners) {
                match result {
                    Ok(CommitOutcome::Committed) => {
                        self.note_committed(commit);
                        if reqs[i].pick == Pick::Spread {
                            let g = &groups[gi];
                            self.set_hint(&g.range, g.span, &entry.key);
                            booked.push((gi, entry.unit));
                        }
                        out[i] = Some(Ok(outcome));
                    }
                    Ok(CommitOutcome::Conflict { stream, expected, actual }) => {
                        self.stats.conflicts += 1;
                        self.feed_fresh = false;
                        lost.insert(entry.unit.clone());
                        last_conflict[i] = Some((stream.clone(), expected, actual));
                        // A unit redefined under the decision: replaced,
                        // it may have left the range or moved within it.
                        rewalk |= stream.part == Part::Def;
                        refresh.extend(commit.writes.iter().filter(|w| !w.events.is_empty()).map(|w| w.stream.clone()));
                        groups[gi].pending.push(i);
                    }
                    Ok(CommitOutcome::Duplicate { existing, .. }) => {
                        out[i] = Some(self.replay_claim(&reqs[i].booking, &existing, &fingerprints[i]));
                    }
                    Err(e) => out[i] = Some(Err(e.into())),
                }
            }
            // The hint the last spread booking left moves back to where its
            // walk resumes.
            if let (Some((gi, _)), Some(hint)) = (booked.last(), self.hint.as_mut()) {
                // Hashed: a scan of the list per candidate compared every
                // pair of ids (a `memcmp` each).
                let units: HashSet<&UnitId> = booked.iter().filter(|b| b.0 == *gi).map(|b| &b.1).collect();
                if let Some(key) = groups[*gi].resume(&units) {
                    hint.key = key;
                }
            }
            match (pos, &mut self.feed) {
                // Read and written in one transaction, up to the journal's
                // end: the cache is current as of the group's own entry.
                (Some(p), Feed::At { pos, .. }) if !page_stale => *pos = p,
                _ if page_stale => self.feed_fresh = false,
                _ => {}
            }
            // Re-observe what moved before deciding again.
            if !refresh.is_empty() {
                self.observe(&refresh).await?;
            }
            if rewalk {
                self.restart_walks(&mut groups, reqs);
            }
            for g in &mut groups {
                g.pending.sort_unstable();
            }
        }
        // A request that found everything taken may be a replay of one that
        // booked before: its claim says so.
        // Without a read for those the cache knows were never booked, unless
        // answered from an earlier walk: the cache may not have caught up in
        // this operation (a client following the feed presumes it current).
        let must_read: Vec<bool> = unknown.iter().zip(&known).map(|(u, k)| *u || *k).collect();
        self.keep_maybe_claimed(&mut sold_out, reqs, &must_read);
        if !sold_out.is_empty() {
            for &i in &sold_out {
                out[i] = None;
            }
            self.resolve_claimed(reqs, &fingerprints, &sold_out, out).await?;
            for i in sold_out {
                out[i].get_or_insert(Ok(Outcome::SoldOut));
            }
        }
        // The asks this operation's walks found sold out: answered again
        // with no walk while nothing gives room back.
        let walked: Vec<usize> =
            live.iter().copied().filter(|&i| !known[i] && matches!(out[i], Some(Ok(Outcome::SoldOut)))).collect();
        if epoch.is_some() && !walked.is_empty() {
            let ended = self.store.vacancy_epoch().await?;
            for i in walked {
                let r = &reqs[i];
                if let Ok(range) = self.query_range(&r.query, window).await? {
                    self.remember_sold_out(&range, r.span, r.qty, r.hold.is_some(), epoch, ended);
                }
            }
        }
        // Duplicates within the batch answer like their first occurrence.
        for (i, r) in reqs.iter().enumerate() {
            if out[i].is_none()
                && let Some(&first) = seen.get(&r.booking)
            {
                out[i] = Some(match &out[first] {
                    Some(Ok(o)) if fingerprints[first] == fingerprints[i] => Ok(match o.clone() {
                        Outcome::Booked { booking, unit, span, qty, seat, .. } => {
                            Outcome::Booked { booking, unit, span, qty, seat, replayed: true }
                        }
                        Outcome::Held { booking, unit, span, qty, seat, expires_at, .. } => {
                            Outcome::Held { booking, unit, span, qty, seat, expires_at, replayed: true }
                        }
                        other => other,
                    }),
                    Some(Ok(_)) => Err(BookError::IdempotencyMismatch { booking: r.booking.clone() }),
                    Some(Err(e)) => Err(e.clone()),
                    None => Err(BookError::Store(corrupt("batch", "a request got no outcome"))),
                });
            }
        }
        Ok(())
    }

    /// Starts the walk of every group with pending requests again, from
    /// the beginning of its range, with no candidate.
    fn restart_walks(&self, groups: &mut [Group], reqs: &[BookAnyReq]) {
        for g in groups.iter_mut() {
            let Some(&first) = g.pending.first() else { continue };
            g.segments = self.walk(&g.range, &g.span, g.pick, &reqs[first].booking);
            g.size_first_windows();
            g.untouched.clear();
            g.untouched_walked = false;
            g.candidates.clear();
            g.leaps = 0;
        }
    }

    /// The segments a walk over `range` visits: from a point of its own
    /// for `Pick::Spread` (see [`Allot::segments`]), else from the start.
    fn walk(&self, range: &KeyRange, span: &Span, pick: Pick, booking: &BookingId) -> VecDeque<KeyRange> {
        if pick == Pick::Spread {
            self.segments(range, span, booking).into()
        } else {
            alloc::vec![range.clone()].into()
        }
    }

    /// Keeps in `requests` those that may have a claim: all but the ones
    /// this client's cache knows were never booked
    /// ([`Allot::known_unclaimed`]), and always one whose commit's outcome
    /// was lost (`unknown`: it may have landed unseen).
    fn keep_maybe_claimed(&self, requests: &mut Vec<usize>, reqs: &[BookAnyReq], unknown: &[bool]) {
        let ids: Vec<&BookingId> = requests.iter().map(|&i| &reqs[i].booking).collect();
        let unclaimed = self.known_unclaimed(&ids);
        let mut k = 0;
        requests.retain(|&i| {
            k += 1;
            unknown[i] || !unclaimed[k - 1]
        });
    }

    /// Answers, from their claims, the requests among `ids` made before.
    async fn resolve_claimed(
        &mut self,
        reqs: &[BookAnyReq],
        fingerprints: &[Arc<[u8]>],
        ids: &[usize],
        out: &mut [Slot],
    ) -> Result<(), StoreError> {
        let open: Vec<usize> = ids.iter().copied().filter(|&i| out[i].is_none()).collect();
        if open.is_empty() {
            return Ok(());
        }
        let bookings: Vec<BookingId> = open.iter().map(|&i| reqs[i].booking.clone()).collect();
        let claims = self.store.get_claims(&bookings).await?;
        if claims.len() != open.len() {
            return Err(corrupt("read", "the store answered a different number of claims"));
        }
        for (i, claim) in open.into_iter().zip(claims) {
            if let Some(c) = claim {
                out[i] = Some(self.replay_claim(&reqs[i].booking, &c, &fingerprints[i]));
            }
        }
        Ok(())
    }

    /// Fetches windows until `g` holds a candidate the cache shows free for
    /// each of its pending requests, or has walked its range.
    async fn fill(
        &mut self,
        g: &mut Group,
        reqs: &[BookAnyReq],
        fingerprints: &[Arc<[u8]>],
        now: TimeMs,
        lost: &mut BTreeSet<UnitId>,
    ) -> Result<(), BookError> {
        let round = Round { reqs, fingerprints, now, rosters: &self.rosters, until: &self.walk_until };
        round.drop_taken(g, 0, lost, &mut self.stats.already_booked);
        loop {
            let Some(&first) = g.pending.first() else { return Ok(()) };
            if g.walked() {
                return Ok(());
            }
            // Enough for every request, unless more cost no read: windows the
            // mirror answers are taken whole, so that a decision which finds
            // many candidates taken meanwhile still has others to give.
            let untouched = !g.untouched.is_empty();
            if g.candidates.len() >= g.pending.len() && (untouched || !self.mirror_holds(g.segments.front())) {
                return Ok(());
            }
            let before = g.candidates.len();
            let full = self.fetch_window(g, &reqs[first], untouched).await?;
            let round = Round { reqs, fingerprints, now, rosters: &self.rosters, until: &self.walk_until };
            round.drop_taken(g, before, lost, &mut self.stats.already_booked);
            // A whole window taken: a spreading walker is in a stretch
            // others booked.
            if !full || untouched || g.candidates.len() > before {
                continue;
            }
            if g.pick == Pick::Spread && !self.untouched_absent && !g.untouched_walked {
                // Where the store keeps untouched units apart, it says
                // where the free ones are: a walk over them, from a point
                // of this request's own (see `spread_point`), before the
                // walk goes on here. Near the end of a rush most taken
                // stretches lie between the last free units, and a leap
                // lands in one about as often as units are taken.
                g.untouched = split_at(&g.range, None, &reqs[first].booking).into();
                g.untouched_walked = true;
            } else if leap_past_taken(&mut g.segments, &mut g.leaps, g.pick, &reqs[first].booking)
                && let Some(front) = g.segments.front_mut()
            {
                // Where it lands is probed with a small window first: near
                // the end of a rush the free units left lie in a few
                // stretches, most leaps land on taken ones, and each unit of
                // a window there is one this client has not seen taken and
                // must read. A probe found free grows back to full windows.
                front.limit = probe_len(g.range.limit);
            }
        }
    }

    /// Whether the mirror would answer `segment`'s next window with no read.
    fn mirror_holds(&self, segment: Option<&KeyRange>) -> bool {
        matches!(self.feed, Feed::At { .. }) && self.feed_fresh && segment.is_some_and(|s| self.mirror.holds(s))
    }

    /// Fetches the group's next window and observes its candidates: the
    /// units that can take the group's span and quantity (`first` is the
    /// group's first pending request; all share span, quantity and pick).
    /// `true` when the window was full: the walk goes on in its segment.
    /// `untouched`: the next window of the walk over untouched units.
    async fn fetch_window(&mut self, g: &mut Group, first: &BookAnyReq, untouched: bool) -> Result<bool, StoreError> {
        let queue = if untouched { &g.untouched } else { &g.segments };
        let Some(cur) = queue.front().cloned() else { return Ok(false) };
        // A unit that cannot take the span, or whose capacity is below the
        // quantity, is never a candidate (an exclusive unit's decision does
        // not look at the quantity: the unit is taken whole).
        let (span, qty, pick) = (g.span, first.qty, first.pick);
        let fits = move |row: &UnitRow| {
            !row.retired && span.validate(&row.spec.kind).is_ok() && qty <= row.spec.kind.capacity()
        };
        self.make_room(cur.limit as usize * span.stream_count());
        self.catch_up().await?;
        let reads = |this: &Self, row: &UnitRow, out: &mut Vec<ReadReq>| {
            if !fits(row) {
                return;
            }
            out.extend(
                booking_stream_iter(row.id(), &span)
                    .filter(|s| !this.current(s))
                    .map(|s| ReadReq { after: this.rosters.get(&s).map_or(0, crate::roster::Roster::seq), stream: s }),
            );
        };
        // Caught up with the feed just now: the index entries kept since
        // are what a read would return (see `crate::mirror`).
        let mirrored = match self.feed {
            Feed::At { .. } if self.feed_fresh && !untouched => self.mirror.window(&cur),
            _ => None,
        };
        // Where the walk goes on: after the last entry of a full window,
        // the next segment after a short one, or (a window the mirror held
        // only part of) where the mirror stops.
        let mut rest = None;
        let (entries, rows) = match mirrored {
            Some(held) => {
                rest = held.rest;
                self.stats.window_hits += 1;
                let (entries, rows): (Vec<IndexEntry>, Vec<Arc<UnitRow>>) = held.found.into_iter().unzip();
                let mut reqs: Vec<ReadReq> = Vec::new();
                rows.iter().for_each(|r| reads(self, r, &mut reqs));
                if !reqs.is_empty() {
                    let slices = self.store.read_streams(&reqs).await?;
                    self.stats.stream_reads += 1;
                    self.absorb(reqs, slices)?;
                }
                (entries, rows.into_iter().map(Some).collect())
            }
            None => {
                // The window, its rows and its streams in one read (one
                // transaction where the store has them).
                let window = {
                    let this = &*self;
                    let reads = |row: &UnitRow, out: &mut Vec<ReadReq>| reads(this, row, out);
                    if untouched {
                        self.store.read_untouched_window(&cur, &reads).await?
                    } else {
                        Some(self.store.read_window(&cur, &reads).await?)
                    }
                };
                let Some(window) = window else {
                    // The store keeps no untouched units: the whole index.
                    self.untouched_absent = true;
                    g.untouched.clear();
                    return Ok(false);
                };
                self.stats.read_queries += 1;
                self.stats.stream_reads += 1;
                self.stats.untouched_reads += u64::from(untouched);
                let Window { entries, rows, reads, slices } = window;
                self.absorb(reads, slices)?;
                // The mirror keeps windows of the index, which an untouched
                // window is not.
                if matches!(self.feed, Feed::At { .. }) && !untouched {
                    self.mirror.record(&cur, &entries, &rows, self.config.unit_cache_max);
                }
                (entries, rows)
            }
        };
        check_window(&entries, &rows)?;
        let queue = if untouched { &mut g.untouched } else { &mut g.segments };
        let full = match (rest, entries.last()) {
            (Some(start), _) => {
                if let Some(front) = queue.front_mut() {
                    front.start = start;
                }
                false
            }
            (None, Some(last)) if entries.len() as u32 >= cur.limit => {
                if let Some(front) = queue.front_mut() {
                    *front = cur.after(&last.key);
                    // Back to full windows after a probe (see `fill`).
                    front.limit = cur.limit.saturating_mul(2).min(g.range.limit);
                }
                true
            }
            _ => {
                queue.pop_front();
                false
            }
        };
        let mut fresh = Vec::with_capacity(entries.len());
        for (entry, row) in entries.into_iter().zip(rows) {
            let Some(row) = row else { continue };
            if !fits(&row) {
                continue;
            }
            let streams = Streams::of(row.id(), &g.span);
            fresh.push((entry, row, streams));
        }
        if pick == Pick::Spread && fresh.len() > 1 {
            // A batch takes many candidates of a window at once: rather than
            // a run of neighbours (which a concurrent batch in the same
            // window would take too), walk the window with a stride coprime
            // with its length, from an offset; both derived from the booking
            // id, so concurrent batches interleave instead of colliding.
            let n = fresh.len();
            let h = spread_hash(&first.booking) as usize;
            let mut stride = 1 + (h >> 16) % (n - 1);
            while gcd(stride, n) != 1 {
                stride += 1;
            }
            let offset = h % n;
            let mut slots: Vec<Option<_>> = fresh.into_iter().map(Some).collect();
            fresh = (0..n).filter_map(|k| slots[(offset + k * stride) % n].take()).collect();
        }
        g.candidates.extend(fresh);
        Ok(full)
    }
}

/// A candidate's booking streams: a single one (an interval, or the whole
/// unit) without a vector, since a walk keeps every candidate of a window.
#[derive(Debug)]
enum Streams {
    One(StreamId),
    Many(Vec<StreamId>),
}

impl Streams {
    fn of(unit: &UnitId, span: &Span) -> Self {
        let mut it = booking_stream_iter(unit, span);
        match (it.next(), it.next()) {
            (Some(one), None) => Self::One(one),
            (a, b) => Self::Many(a.into_iter().chain(b).chain(it).collect()),
        }
    }
}

impl core::ops::Deref for Streams {
    type Target = [StreamId];

    fn deref(&self) -> &[StreamId] {
        match self {
            Self::One(s) => core::slice::from_ref(s),
            Self::Many(v) => v,
        }
    }
}

/// What one round's decision reads: the requests and the cached rosters
/// (borrowed apart from the store, see [`Store::decide_group`]).
struct Round<'a> {
    reqs: &'a [BookAnyReq],
    fingerprints: &'a [Arc<[u8]>],
    now: TimeMs,
    rosters: &'a HashMap<StreamId, Roster>,
    /// See `Allot::walk_until`: the units found taken, and the holds this
    /// operation decides, note here when they may give room back.
    until: &'a Cell<TimeMs>,
}

impl Round<'_> {
    fn ask(&self, i: usize) -> Ask<'_> {
        let r = &self.reqs[i];
        Ask { booking: &r.booking, span: r.span, qty: r.qty, hold: r.hold.as_ref(), fingerprint: &self.fingerprints[i] }
    }

    /// Drops the candidates of `g` from position `from` on that the cache
    /// shows taken for its requests (same span and qty: taken for one is
    /// taken for all).
    fn drop_taken(&self, g: &mut Group, from: usize, lost: &mut BTreeSet<UnitId>, already_booked: &mut u64) {
        let Some(&first) = g.pending.first() else { return };
        let ask = self.ask(first);
        // Only whether each is taken: the decision builds the commits.
        let mut k = 0;
        g.candidates.retain(|(entry, unit, streams)| {
            k += 1;
            if k <= from {
                return true;
            }
            let taken =
                with_rosters(self.rosters, streams, |rosters| match rules::fit(unit, rosters, &ask, self.now) {
                    Fit::Full { .. } | Fit::Overlap { .. } => {
                        note_taken(self.until, rosters, self.now);
                        true
                    }
                    Fit::Claimed | Fit::Free { .. } => false,
                });
            if taken && lost.remove(&entry.unit) {
                *already_booked += 1;
            }
            !taken
        });
    }

    /// Decides every pending request of `groups` from the candidates they
    /// hold: the commits to send (their owners in `owners`), requests
    /// answered without a commit in `out` (sold out also in `sold_out`),
    /// requests whose booking is already in a candidate's stream in
    /// `claimed`. A request left without a candidate stays pending for the
    /// next round, which fetches more (or walks again: no sold out unless
    /// `may_sell_out`). Candidates found taken on the way
    /// are dropped here (no separate pass: this runs inside the store's
    /// transaction).
    #[allow(clippy::too_many_arguments)]
    fn decide(
        &self,
        groups: &mut [Group],
        may_sell_out: bool,
        lost: &mut BTreeSet<UnitId>,
        already_booked: &mut u64,
        out: &mut [Slot],
        sold_out: &mut Vec<usize>,
        owners: &mut Vec<(usize, usize, Outcome, IndexEntry)>,
        claimed: &mut Vec<usize>,
    ) -> Result<Vec<Commit>, InputError> {
        let mut commits = Vec::with_capacity(owners.capacity());
        // Hashed: a B-tree compared the ids' text at each of its levels.
        let mut taken: HashSet<StreamId> = HashSet::with_capacity(owners.capacity());
        for (gi, g) in groups.iter_mut().enumerate() {
            let mut still = Vec::new();
            let pending = core::mem::take(&mut g.pending);
            let mut next_free = 0usize;
            for i in pending {
                let mut assigned = false;
                while let Some((entry, unit, streams)) = g.candidates.get(next_free) {
                    if streams.iter().any(|s| taken.contains(s)) {
                        next_free += 1; // in use this round; free again next round
                        continue;
                    }
                    let decision = with_rosters(self.rosters, streams, |rosters| {
                        let d = rules::decide_book(unit, streams, rosters, self.ask(i), self.now);
                        if let Ok(Decision::Done(Outcome::Full { .. } | Outcome::Overlap { .. })) = d {
                            // Taken for everybody in this group (same span and qty).
                            note_taken(self.until, rosters, self.now);
                        }
                        d
                    })?;
                    match decision {
                        Decision::Done(Outcome::Full { .. } | Outcome::Overlap { .. }) => {
                            if lost.remove(&entry.unit) {
                                *already_booked += 1;
                            }
                            g.candidates.remove(next_free);
                        }
                        Decision::Done(o) => {
                            out[i] = Some(Ok(o));
                            assigned = true;
                            break;
                        }
                        Decision::Claimed => {
                            claimed.push(i);
                            assigned = true;
                            break;
                        }
                        Decision::Commit { commit, outcome } => {
                            if let Outcome::Held { expires_at, .. } = outcome {
                                // Ours, and room again once it expires.
                                self.until.set(self.until.get().min(expires_at));
                            }
                            taken.extend(streams.iter().cloned());
                            owners.push((i, gi, outcome, entry.clone()));
                            commits.push(commit);
                            next_free += 1;
                            assigned = true;
                            break;
                        }
                    }
                }
                if !assigned {
                    if may_sell_out && g.walked() && g.candidates.is_empty() {
                        sold_out.push(i);
                        out[i] = Some(Ok(Outcome::SoldOut));
                    } else {
                        // Every remaining candidate is in use this round, or
                        // the walk goes on next round.
                        still.push(i);
                    }
                }
            }
            g.pending = still;
        }
        Ok(commits)
    }
}

/// The window a leap's landing point is probed with: an eighth of the full
/// window (at least [`WINDOW_LEN_FIRST`]), so that a store whose reads cost
/// more than its units (IndexedDB) needs few reads to grow back to full.
fn probe_len(window: u32) -> u32 {
    (window / 8).max(WINDOW_LEN_FIRST).min(window)
}

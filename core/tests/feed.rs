//! The change feed as the booking loop uses it: a client that follows a
//! store's feed reads streams only when the feed cannot vouch for them, and
//! still answers exactly as a client that reads every stream.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use allot_core::limits::FEED_BOOT_ENTRIES_MAX;
use allot_core::store::*;
use allot_core::*;

const NOW: u64 = 1_000;

/// A store that counts the booking streams read one by one, and the
/// decided groups (a transaction each where the store has them).
struct Counting {
    inner: MemStore,
    streams_read: Cell<usize>,
    catalog_reads: Cell<usize>,
    decided: Cell<usize>,
    /// Claims read on their own (not by a decided group), one per id.
    claim_reads: Cell<usize>,
    /// Claims read by decided groups, one per id.
    claims_asked: Cell<usize>,
    /// Run on the inner store when the next group is decided, before its
    /// transaction: another client's commit landing in between.
    before_decide: RefCell<Option<Interloper>>,
    /// Run on the inner store right after the next group is decided, before
    /// its commits: another client's commit landing under the decision.
    after_decide: RefCell<Option<Interloper>>,
    /// Run on the inner store before the next commit on its own (not in a
    /// decided group): another client's commit landing under its decision.
    before_commit: RefCell<Option<Interloper>>,
    /// Where each read of the change feed started (`after`), on its own
    /// or inside a decided group.
    feed_from: RefCell<Vec<FeedPos>>,
}

type Interloper = Box<dyn FnOnce(&MemStore)>;

impl Counting {
    fn new(inner: MemStore) -> Self {
        Self {
            inner,
            streams_read: Cell::new(0),
            catalog_reads: Cell::new(0),
            decided: Cell::new(0),
            claim_reads: Cell::new(0),
            claims_asked: Cell::new(0),
            before_decide: RefCell::new(None),
            after_decide: RefCell::new(None),
            before_commit: RefCell::new(None),
            feed_from: RefCell::new(Vec::new()),
        }
    }
}

impl Store for Counting {
    async fn read_streams(&self, r: &[ReadReq]) -> Result<Vec<StreamSlice>, StoreError> {
        let booking = r.iter().filter(|q| q.stream.part != Part::Def).count();
        self.streams_read.set(self.streams_read.get() + booking);
        let catalog = r.iter().filter(|q| q.stream.is_catalog()).count();
        self.catalog_reads.set(self.catalog_reads.get() + catalog);
        self.inner.read_streams(r).await
    }
    async fn commit(&self, c: &Commit) -> Result<CommitOutcome, StoreError> {
        if let Some(f) = self.before_commit.borrow_mut().take() {
            f(&self.inner);
        }
        self.inner.commit(c).await
    }
    async fn decide_group(
        &self,
        after: Option<FeedPos>,
        limit: u32,
        claims: &[BookingId],
        decide: &mut DecideGroup<'_>,
    ) -> Result<Decided, StoreError> {
        self.decided.set(self.decided.get() + 1);
        self.feed_from.borrow_mut().extend(after);
        self.claims_asked.set(self.claims_asked.get() + claims.len());
        if let Some(f) = self.before_decide.borrow_mut().take() {
            f(&self.inner);
        }
        let mut decided_then = |changes: Option<Changes>, claims: Vec<Option<ClaimRecord>>| {
            let commits = decide(changes, claims);
            if let Some(f) = self.after_decide.borrow_mut().take() {
                f(&self.inner);
            }
            commits
        };
        self.inner.decide_group(after, limit, claims, &mut decided_then).await
    }
    async fn changes(&self, after: FeedPos, limit: u32) -> Result<Option<Changes>, StoreError> {
        self.feed_from.borrow_mut().push(after);
        self.inner.changes(after, limit).await
    }
    async fn get_claims(&self, ids: &[BookingId]) -> Result<Vec<Option<ClaimRecord>>, StoreError> {
        self.claim_reads.set(self.claim_reads.get() + ids.len());
        self.inner.get_claims(ids).await
    }
    async fn get_units(&self, ids: &[UnitId]) -> Result<Vec<Option<Arc<UnitRow>>>, StoreError> {
        self.inner.get_units(ids).await
    }
    async fn scan_index(&self, r: &KeyRange) -> Result<Vec<IndexEntry>, StoreError> {
        self.inner.scan_index(r).await
    }
    async fn scan_units(&self, r: &KeyRange) -> Result<Vec<Arc<UnitRow>>, StoreError> {
        self.inner.scan_units(r).await
    }
    async fn scan_streams(&self, r: &KeyRange) -> Result<Vec<(StreamId, u64)>, StoreError> {
        self.inner.scan_streams(r).await
    }
    async fn scan_claims(&self, r: &KeyRange) -> Result<Vec<(BookingId, ClaimRecord)>, StoreError> {
        self.inner.scan_claims(r).await
    }
}

fn bid(actor: &str, key: &str) -> BookingId {
    BookingId::new(actor, key).unwrap()
}

fn rooms(store: &Counting, n: usize) {
    let mut admin = Allot::new(store);
    pollster::block_on(admin.define_index(&IndexDef::single("price", "price", KeyType::U32).unwrap(), NOW)).unwrap();
    let specs: Vec<UnitSpec> = (0..n)
        .map(|i| {
            UnitSpec::new(&format!("room-{i:03}"), UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(i as u32))])
                .unwrap()
        })
        .collect();
    pollster::block_on(admin.define_units(&specs, NOW)).unwrap();
}

fn any(i: usize) -> BookAnyReq {
    BookAnyReq {
        booking: bid("guest", &format!("g{i}")),
        query: IndexQuery::all("price"),
        span: Span::Interval { start: 10, end: 20 },
        qty: 1,
        hold: None,
        pick: Pick::First,
    }
}

/// Books `n` rooms through a second client, one by one; returns the
/// streams it read and the rooms it got.
fn book_rooms(store: &Counting, n: usize) -> (usize, Vec<UnitId>) {
    let mut client = Allot::new(store);
    let before = store.streams_read.get();
    let mut got = Vec::new();
    for i in 0..n {
        match pollster::block_on(client.book_any(&any(i), NOW)).unwrap() {
            Outcome::Booked { unit, .. } => got.push(unit),
            o => panic!("request {i}: {o:?}"),
        }
    }
    (store.streams_read.get() - before, got)
}

#[test]
fn a_client_that_knows_the_whole_feed_reads_no_streams() {
    let with = Counting::new(MemStore::with_feed());
    rooms(&with, 40);
    let (reads_with, got_with) = book_rooms(&with, 30);
    let without = Counting::new(MemStore::new());
    rooms(&without, 40);
    let (reads_without, got_without) = book_rooms(&without, 30);
    assert_eq!(got_with, got_without, "the same rooms, feed or not");
    assert_eq!(reads_with, 0, "the feed vouches for every stream");
    assert!(reads_without >= 30, "without a feed, each booking reads streams: {reads_without}");
}

#[test]
fn another_clients_cancel_is_seen_by_the_next_operation() {
    let store = Counting::new(MemStore::with_feed());
    let mut admin = Allot::new(&store);
    pollster::block_on(
        admin.define_units(&[UnitSpec::new("tour", UnitKind::Pool { capacity: 1 }, vec![]).unwrap()], NOW),
    )
    .unwrap();
    let mut ann = Allot::new(&store);
    let mut bob = Allot::new(&store);
    let req = |who: &str| BookReq {
        booking: bid(who, "1"),
        unit: UnitId::new("tour").unwrap(),
        span: Span::Whole,
        qty: 1,
        hold: None,
    };
    assert!(matches!(pollster::block_on(bob.book(&req("bob"), NOW)).unwrap(), Outcome::Booked { .. }));
    // Ann knows the whole feed: she sees the seat taken without reading it.
    let o = pollster::block_on(ann.book(&req("ann"), NOW)).unwrap();
    assert!(matches!(o, Outcome::Full { .. }), "{o:?}");
    // Bob cancels; Ann's next operation catches up and gets the seat.
    let cancel = ActReq { by: Actor::new("bob").unwrap(), booking: bid("bob", "1") };
    pollster::block_on(bob.cancel(&cancel, NOW)).unwrap();
    let o = pollster::block_on(ann.book(&req("ann"), NOW)).unwrap();
    assert!(matches!(o, Outcome::Booked { .. }), "a seat freed by another client: {o:?}");
    assert_eq!(store.streams_read.get(), 0);
}

#[test]
fn a_trimmed_feed_makes_clients_start_over() {
    let store = Counting::new(MemStore::with_feed());
    rooms(&store, 10);
    let mut follower = Allot::new(&store);
    let mut other = Allot::new(&store);
    for i in 0..3 {
        assert!(matches!(pollster::block_on(follower.book_any(&any(i), NOW)).unwrap(), Outcome::Booked { .. }));
    }
    for i in 3..8 {
        assert!(matches!(pollster::block_on(other.book_any(&any(i), NOW)).unwrap(), Outcome::Booked { .. }));
    }
    // The follower's position falls before what the feed still holds.
    let end = pollster::block_on(store.changes(0, 0)).unwrap().unwrap().pos;
    store.inner.trim_feed(end);
    let before = store.streams_read.get();
    let mut booked = 0;
    for i in 8..12 {
        match pollster::block_on(follower.book_any(&any(i), NOW)).unwrap() {
            Outcome::Booked { .. } => booked += 1,
            Outcome::SoldOut => {}
            o => panic!("{o:?}"),
        }
    }
    assert_eq!(booked, 2, "10 rooms, 8 taken before: exactly 2 more");
    assert!(store.streams_read.get() > before, "after the gap, streams are read again");
    let report = pollster::block_on(verify(&store, NOW, &[], &VerifyOptions::default())).unwrap();
    assert!(report.is_ok() && report.live_bookings == 10, "{report:?}");
}

#[test]
fn a_history_longer_than_one_read_is_not_replayed_at_boot() {
    let store = Counting::new(MemStore::with_feed());
    let cap = FEED_BOOT_ENTRIES_MAX + 10;
    let mut admin = Allot::new(&store);
    pollster::block_on(
        admin.define_units(&[UnitSpec::new("hall", UnitKind::Pool { capacity: cap }, vec![]).unwrap()], NOW),
    )
    .unwrap();
    let req = |i: u32| BookReq {
        booking: bid("fan", &format!("t{i}")),
        unit: UnitId::new("hall").unwrap(),
        span: Span::Whole,
        qty: 1,
        hold: None,
    };
    for i in 0..FEED_BOOT_ENTRIES_MAX + 5 {
        pollster::block_on(admin.book(&req(i), NOW)).unwrap();
    }
    let mut late = Allot::new(&store);
    let before = store.streams_read.get();
    let o = pollster::block_on(late.book(&req(999_999), NOW)).unwrap();
    assert!(matches!(o, Outcome::Booked { seat, .. } if seat == FEED_BOOT_ENTRIES_MAX + 6), "{o:?}");
    assert_eq!(store.streams_read.get() - before, 1, "the stream is read, not the whole feed replayed");
    assert!(late.stats().feed_reads <= 2, "{:?}", late.stats());
    // The last seats, with a client that follows from the end.
    for i in 0..10 {
        let o = pollster::block_on(late.book(&req(1_000_000 + i), NOW)).unwrap();
        let want_booked = i < 4;
        assert_eq!(matches!(o, Outcome::Booked { .. }), want_booked, "request {i}: {o:?}");
    }
}

#[test]
fn a_batch_that_finds_everything_taken_opens_no_transaction() {
    for store in [MemStore::with_feed(), MemStore::new()] {
        let store = Counting::new(store);
        rooms(&store, 4);
        let mut client = Allot::new(&store);
        let first: Vec<BookAnyReq> = (0..4).map(any).collect();
        let out = pollster::block_on(client.book_any_many(&first, NOW));
        assert!(out.iter().all(|o| matches!(o, Ok(Outcome::Booked { .. }))), "{out:?}");
        // Another client, and then this one, find every room taken.
        for c in [&mut Allot::new(&store), &mut client] {
            let before = store.decided.get();
            let late: Vec<BookAnyReq> = (10..13).map(any).collect();
            let out = pollster::block_on(c.book_any_many(&late, NOW));
            assert!(out.iter().all(|o| matches!(o, Ok(Outcome::SoldOut))), "{out:?}");
            assert_eq!(store.decided.get(), before, "sold out without a decided group");
        }
        // A replay of a booked request is still answered from its claim.
        let again = pollster::block_on(Allot::new(&store).book_any_many(&first[..1], NOW));
        assert!(matches!(again[..], [Ok(Outcome::Booked { replayed: true, .. })]), "{again:?}");
    }
}

#[test]
fn a_client_following_the_feed_learns_the_schema_from_it() {
    let store = Counting::new(MemStore::with_feed());
    rooms(&store, 10);
    let mut c = Allot::new(&store);
    let before = store.catalog_reads.get();
    let out = pollster::block_on(c.book_any_many(&[any(0), any(1)], NOW));
    assert!(out.iter().all(|o| matches!(o, Ok(Outcome::Booked { .. }))), "{out:?}");
    assert!(matches!(pollster::block_on(c.book_any(&any(2), NOW)), Ok(Outcome::Booked { .. })));
    assert_eq!(store.catalog_reads.get(), before, "the index came with the feed");
    // An index defined later by another client arrives the same way.
    let by_rev = IndexDef::single("rev", "price", KeyType::U32).unwrap();
    pollster::block_on(Allot::new(&store).define_index(&by_rev, NOW)).unwrap();
    let before = store.catalog_reads.get();
    let req = BookAnyReq { query: IndexQuery::all("rev"), ..any(3) };
    assert!(matches!(pollster::block_on(c.book_any(&req, NOW)), Ok(Outcome::Booked { .. })));
    assert_eq!(store.catalog_reads.get(), before);
    // And a name no client defined is still looked up, and refused.
    let req = BookAnyReq { query: IndexQuery::all("nope"), ..any(4) };
    assert!(matches!(pollster::block_on(c.book_any(&req, NOW)), Err(BookError::UnknownIndex { .. })));
    assert_eq!(store.catalog_reads.get(), before + 1);

    // Without a feed the catalog is read once, then the schema is cached.
    let plain = Counting::new(MemStore::new());
    rooms(&plain, 10);
    let before = plain.catalog_reads.get();
    let mut c = Allot::new(&plain);
    pollster::block_on(c.book_any_many(&[any(0), any(1)], NOW));
    pollster::block_on(c.book_any(&any(2), NOW)).unwrap();
    assert_eq!(plain.catalog_reads.get(), before + 1);
}

/// A retry whose first attempt booked a unit that has left the range since,
/// in a batch with a new request, racing a booker that takes the last unit
/// in the range: the decision finds both sold out, and the claims read with
/// it make the retry a replay, with no claim read of its own.
#[test]
fn a_retry_found_sold_out_by_the_decision_is_answered_from_its_claim() {
    let store = Counting::new(MemStore::with_feed());
    rooms(&store, 2);
    let first = pollster::block_on(Allot::new(&store).book_any_many(&[any(0)], NOW));
    let Ok(Outcome::Booked { unit: got, replayed: false, .. }) = &first[0] else { panic!("{first:?}") };
    pollster::block_on(Allot::new(&store).retire_unit(got, NOW)).unwrap();
    // The batch's client sees the other room free (one room, two
    // requests); it is taken right before the decision.
    let mut retry = Allot::new(&store);
    *store.before_decide.borrow_mut() = Some(Box::new(|inner: &MemStore| {
        let o = pollster::block_on(Allot::new(inner).book_any_many(&[any(1)], NOW));
        assert!(matches!(o[0], Ok(Outcome::Booked { .. })), "{o:?}");
    }));
    let claim_reads = store.claim_reads.get();
    let again = pollster::block_on(retry.book_any_many(&[any(0), any(2)], NOW));
    assert!(store.before_decide.borrow().is_none(), "the other booker never ran");
    match &again[0] {
        Ok(Outcome::Booked { unit, replayed: true, .. }) => assert_eq!(unit, got),
        o => panic!("the retry: {o:?}"),
    }
    assert_eq!(again[1], Ok(Outcome::SoldOut));
    assert_eq!(store.claim_reads.get(), claim_reads, "claims read apart from the decision");
}

#[test]
fn a_client_booted_from_the_origin_reads_no_window_and_keeps_its_whole_range() {
    let store = Counting::new(MemStore::with_feed());
    rooms(&store, 40);
    // Windows of 8: without the whole index in hand, a batch of 8 would
    // hold the first 8 rooms as its candidates.
    let mut c = Allot::with_config(&store, Config { window_len: 8, ..Config::default() });
    // Another client takes the 30 cheapest rooms right before the decision.
    *store.before_decide.borrow_mut() = Some(Box::new(|inner: &MemStore| {
        let reqs: Vec<BookAnyReq> = (100..130).map(any).collect();
        let o = pollster::block_on(Allot::new(inner).book_any_many(&reqs, NOW));
        assert!(o.iter().all(|o| matches!(o, Ok(Outcome::Booked { .. }))), "{o:?}");
    }));
    let reqs: Vec<BookAnyReq> = (0..8).map(any).collect();
    let out = pollster::block_on(c.book_any_many(&reqs, NOW));
    assert!(store.before_decide.borrow().is_none(), "the other booker never ran");
    let mut got: Vec<String> = out
        .iter()
        .map(|o| match o {
            Ok(Outcome::Booked { unit, .. }) => unit.as_str().to_string(),
            o => panic!("{o:?}"),
        })
        .collect();
    got.sort();
    // The cheapest rooms the other client left, in one decided group.
    let want: Vec<String> = (30..38).map(|i| format!("room-{i:03}")).collect();
    assert_eq!(got, want);
    assert_eq!(store.decided.get(), 1, "one decided group");
    assert_eq!(c.stats().read_queries, 0, "{:?}", c.stats());
    assert_eq!(c.stats().conflicts, 0, "{:?}", c.stats());
    assert!(c.stats().window_hits >= 5, "{:?}", c.stats());
}

/// A client whose cache holds every booking since the origin knows that a
/// request it finds sold out was never booked, so it reads no claim for it,
/// in a decided group or apart; a retry of a booked request is still
/// answered from its claim. A client without that knowledge reads.
#[test]
fn a_client_that_knows_every_booking_reads_no_claim_for_a_new_request() {
    let store = Counting::new(MemStore::with_feed());
    rooms(&store, 2);
    // any(0) books room-000, which then leaves the range; any(1) takes the other.
    let first = pollster::block_on(Allot::new(&store).book_any_many(&[any(0), any(1)], NOW));
    let Ok(Outcome::Booked { unit: got, .. }) = &first[0] else { panic!("{first:?}") };
    pollster::block_on(Allot::new(&store).retire_unit(got, NOW)).unwrap();
    let (claim_reads, decided) = (store.claim_reads.get(), store.decided.get());
    let out = pollster::block_on(Allot::new(&store).book_any_many(&[any(0), any(2), any(3)], NOW));
    match &out[0] {
        Ok(Outcome::Booked { unit, replayed: true, .. }) => assert_eq!(unit, got),
        o => panic!("the retry: {o:?}"),
    }
    assert_eq!(out[1..], [Ok(Outcome::SoldOut), Ok(Outcome::SoldOut)]);
    assert_eq!(store.decided.get(), decided);
    assert_eq!(store.claim_reads.get(), claim_reads + 1, "one claim read, for the retry");

    // Found sold out by the decision: the room is taken right before it.
    let store = Counting::new(MemStore::with_feed());
    rooms(&store, 1);
    *store.before_decide.borrow_mut() = Some(Box::new(|inner: &MemStore| {
        let o = pollster::block_on(Allot::new(inner).book_any_many(&[any(0)], NOW));
        assert!(matches!(o[0], Ok(Outcome::Booked { .. })), "{o:?}");
    }));
    let out = pollster::block_on(Allot::new(&store).book_any_many(&[any(1), any(2)], NOW));
    assert!(store.before_decide.borrow().is_none(), "the other booker never ran");
    assert_eq!(out, [Ok(Outcome::SoldOut), Ok(Outcome::SoldOut)]);
    assert_eq!((store.claims_asked.get(), store.claim_reads.get()), (0, 0));

    // Without a feed, or with a cache too small to hold every stream, the
    // client cannot know: it reads.
    let plain = Counting::new(MemStore::new());
    let fed = Counting::new(MemStore::with_feed());
    for (store, config) in [(&plain, Config::default()), (&fed, Config { roster_cache_max: 1, ..Config::default() })] {
        rooms(store, 2);
        let out = pollster::block_on(Allot::new(store).book_any_many(&[any(0), any(1)], NOW));
        assert!(out.iter().all(|o| matches!(o, Ok(Outcome::Booked { .. }))), "{out:?}");
        let before = store.claim_reads.get() + store.claims_asked.get();
        let out = pollster::block_on(Allot::with_config(store, config).book_any_many(&[any(2)], NOW));
        assert_eq!(out, [Ok(Outcome::SoldOut)]);
        assert_eq!(store.claim_reads.get() + store.claims_asked.get(), before + 1);
    }
}

/// `sync` loads a client's cache before its first operation (a page that
/// opens): that operation then reads only the feed after where `sync`
/// left off, no stream and no window, and still sees what another client
/// booked in between.
#[test]
fn a_synced_client_reads_only_what_changed_since() {
    let store = Counting::new(MemStore::with_feed());
    rooms(&store, 10);
    let mut c = Allot::new(&store);
    store.feed_from.borrow_mut().clear();
    pollster::block_on(c.sync()).unwrap();
    assert_eq!(*store.feed_from.borrow(), vec![0], "one read of the whole history");
    // Another client takes the first room meanwhile.
    let (_, taken) = book_rooms(&store, 1);
    store.feed_from.borrow_mut().clear();
    let (streams, stats) = (store.streams_read.get(), c.stats());
    let out = pollster::block_on(c.book_any_many(&[any(100)], NOW));
    let [Ok(Outcome::Booked { unit, .. })] = &out[..] else { panic!("{out:?}") };
    assert_ne!(*unit, taken[0], "the other client's booking was seen");
    let from = store.feed_from.borrow().clone();
    assert!(!from.is_empty() && from.iter().all(|&p| p > 0), "the feed read after the synced position: {from:?}");
    assert_eq!(store.streams_read.get(), streams, "no stream read");
    assert_eq!(c.stats().read_queries, stats.read_queries, "no window read");
    assert_eq!(from.len(), 1, "one feed read, the decision's own: {from:?}");
    // Again: only what changed since the last call.
    let before = c.stats().feed_reads;
    pollster::block_on(c.sync()).unwrap();
    assert_eq!(c.stats().feed_reads, before + 1);
    assert!(store.feed_from.borrow().last().is_some_and(|&p| p > 0));
    // A store without a feed: nothing to load, and nothing fails.
    let plain = Counting::new(MemStore::new());
    rooms(&plain, 2);
    let mut p = Allot::new(&plain);
    pollster::block_on(p.sync()).unwrap();
    assert_eq!(p.stats().feed_reads, 0);
    assert!(matches!(pollster::block_on(p.book_any(&any(0), NOW)), Ok(Outcome::Booked { .. })));
}

fn cancel(store: &Counting, i: usize) {
    let req = ActReq { by: Actor::new("guest").unwrap(), booking: bid("guest", &format!("g{i}")) };
    pollster::block_on(Allot::new(store).cancel(&req, NOW)).unwrap();
}

/// A client that follows the feed decides its first round on its cache
/// without reading first; that cache may show taken a room freed since, so
/// "sold out" waits for a round on reads made during the operation.
#[test]
fn a_room_freed_since_the_cache_saw_it_taken_is_booked_not_sold_out() {
    // Everything taken as far as the cache knows: no decided group.
    let store = Counting::new(MemStore::with_feed());
    rooms(&store, 2);
    book_rooms(&store, 2);
    let mut c = Allot::new(&store);
    pollster::block_on(c.sync()).unwrap();
    cancel(&store, 0);
    let out = pollster::block_on(c.book_any_many(&[any(5)], NOW));
    assert!(matches!(&out[..], [Ok(Outcome::Booked { unit, .. })] if unit.as_str() == "room-000"), "{out:?}");

    // Free rooms in the cache, all taken by the time of the decision, and
    // the one the cache saw taken freed: found by a second walk.
    let store = Counting::new(MemStore::with_feed());
    rooms(&store, 3);
    book_rooms(&store, 1);
    let mut c = Allot::new(&store);
    pollster::block_on(c.sync()).unwrap();
    let mut other = Allot::new(&store);
    for i in 1..3 {
        assert!(matches!(pollster::block_on(other.book_any(&any(i), NOW)), Ok(Outcome::Booked { .. })));
    }
    cancel(&store, 0);
    let decided = store.decided.get();
    let out = pollster::block_on(c.book_any_many(&[any(5)], NOW));
    assert!(matches!(&out[..], [Ok(Outcome::Booked { unit, .. })] if unit.as_str() == "room-000"), "{out:?}");
    assert_eq!(store.decided.get(), decided + 2, "a round on the cache, then one on what it read");
}

/// The same when the first round's commit loses its room: the request is
/// decided again after a new walk, which finds the room freed meanwhile.
#[test]
fn a_request_whose_first_commit_lost_walks_again_before_sold_out() {
    let store = Counting::new(MemStore::with_feed());
    rooms(&store, 2);
    book_rooms(&store, 1);
    let mut c = Allot::new(&store);
    pollster::block_on(c.sync()).unwrap();
    cancel(&store, 0);
    // The decision picks room-001 (the cache saw room-000 taken); another
    // client takes it before the commit lands.
    *store.after_decide.borrow_mut() = Some(Box::new(|inner: &MemStore| {
        let just_001 = BookAnyReq { query: IndexQuery::closed("price", KeyValue::U32(1), KeyValue::U32(1)), ..any(9) };
        let o = pollster::block_on(Allot::new(inner).book_any(&just_001, NOW));
        assert!(matches!(&o, Ok(Outcome::Booked { unit, .. }) if unit.as_str() == "room-001"), "{o:?}");
    }));
    let out = pollster::block_on(c.book_any_many(&[any(5)], NOW));
    assert!(store.after_decide.borrow().is_none(), "the other booker never ran");
    assert_eq!(c.stats().conflicts, 1, "{:?}", c.stats());
    assert!(matches!(&out[..], [Ok(Outcome::Booked { unit, .. })] if unit.as_str() == "room-000"), "{out:?}");
}

/// A unit redefined between a decision and its commit: the definition guard
/// refuses the commit, and the next round walks the range again rather than
/// book the unit where it no longer matches the query.
#[test]
fn a_unit_moved_out_of_range_under_a_decision_is_not_booked() {
    // A client that loaded its cache before (its first round presumes it
    // current), and one that reads the feed when the operation begins.
    for synced in [true, false] {
        moved_out_of_range_under_a_decision(synced);
    }
}

/// The same for a client that walks windows and commits one candidate at a
/// time (a store without a feed): the unit's row is read again after the
/// refusal, and it is tried again only where the walk found it.
#[test]
fn a_unit_moved_out_of_range_under_a_single_commit_is_not_booked() {
    let store = Counting::new(MemStore::new());
    rooms(&store, 2);
    let mut c = Allot::new(&store);
    *store.before_commit.borrow_mut() = Some(Box::new(|inner: &MemStore| {
        let moved = UnitSpec::new("room-000", UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(900))]).unwrap();
        pollster::block_on(Allot::new(inner).replace_unit(&moved, NOW)).unwrap();
    }));
    let cheap = BookAnyReq { query: IndexQuery::half_open("price", KeyValue::U32(0), KeyValue::U32(100)), ..any(7) };
    let out = pollster::block_on(c.book_any(&cheap, NOW));
    assert!(store.before_commit.borrow().is_none(), "the redefinition never ran");
    assert!(c.stats().conflicts >= 1, "the first commit was refused: {:?}", c.stats());
    assert!(matches!(&out, Ok(Outcome::Booked { unit, .. }) if unit.as_str() == "room-001"), "{out:?}");
}

fn moved_out_of_range_under_a_decision(synced: bool) {
    let store = Counting::new(MemStore::with_feed());
    rooms(&store, 2);
    let mut c = Allot::new(&store);
    if synced {
        pollster::block_on(c.sync()).unwrap();
    }
    *store.after_decide.borrow_mut() = Some(Box::new(|inner: &MemStore| {
        let moved = UnitSpec::new("room-000", UnitKind::Exclusive, vec![("price".into(), KeyValue::U32(900))]).unwrap();
        pollster::block_on(Allot::new(inner).replace_unit(&moved, NOW)).unwrap();
    }));
    let cheap = BookAnyReq { query: IndexQuery::half_open("price", KeyValue::U32(0), KeyValue::U32(100)), ..any(7) };
    let out = pollster::block_on(c.book_any_many(&[cheap], NOW));
    assert!(store.after_decide.borrow().is_none(), "the redefinition never ran");
    assert!(c.stats().conflicts >= 1, "the first decision was refused: {:?}", c.stats());
    assert!(matches!(&out[..], [Ok(Outcome::Booked { unit, .. })] if unit.as_str() == "room-001"), "{out:?}");
}

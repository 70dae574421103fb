//! Every bound in allot, named once, units last.
//!
//! Bounds exist so that bad input is rejected with a clear error instead of
//! exhausting memory or overflowing arithmetic, and so that every store can
//! size its records. Changing a bound that is persisted (a length) is a format
//! change; see `docs/key-format.md`.

/// Longest unit id, actor or request key, in UTF-8 bytes.
pub const ID_LEN_MAX_BYTES: usize = 128;
/// Longest attribute or index name, in UTF-8 bytes.
pub const NAME_LEN_MAX_BYTES: usize = 64;
/// Longest string or byte-string attribute value, in bytes.
pub const ATTR_VALUE_LEN_MAX_BYTES: usize = 1024;
/// Longest external reference carried by a hold (e.g. a payment id), in bytes.
pub const EXT_REF_LEN_MAX_BYTES: usize = 256;
/// Most attributes on one unit.
pub const ATTRS_PER_UNIT_MAX: usize = 32;
/// Most fields in one secondary index.
pub const INDEX_FIELDS_MAX: usize = 8;
/// Most secondary indexes in one catalog.
pub const INDEXES_MAX: usize = 32;
/// Largest capacity of a pool or of an allotment per day.
pub const CAPACITY_MAX: u32 = 1_000_000;
/// Longest multi-day span (a stay), in days.
pub const STAY_DAYS_MAX: u32 = 366;
/// Longest hold, in milliseconds (7 days). A hold is a promise to a payment
/// flow, not a booking: a long hold blocks inventory for everybody else.
pub const HOLD_MS_MAX: u64 = 7 * 24 * 60 * 60 * 1000;
/// Largest time or interval bound. 2^53 - 1 so that every time survives a
/// round trip through a JavaScript number unchanged.
pub const TIME_MAX: u64 = (1 << 53) - 1;
/// Largest candidate window of an auto-assign scan.
pub const WINDOW_LEN_MAX: u32 = 1024;
/// Default candidate window of an auto-assign scan.
pub const WINDOW_LEN_DEFAULT: u32 = 32;
/// First window of a single auto-assign: windows double from it up to the
/// configured length.
pub const WINDOW_LEN_FIRST: u32 = 4;
/// Asks found sold out that one client remembers (see
/// `Store::vacancy_epoch`); the oldest goes first.
pub const SOLD_OUT_MEMOS_MAX: usize = 8;
/// Leaps one spreading walk makes at most (see `allot::leap`). Each costs
/// one window read: a walk that finds a range nearly sold out goes on in
/// order after this many. Measured on the native holiday rush (16 threads,
/// 200,000 rooms, batch 16, 3 runs each): 16 leaps read a fifth more
/// windows than 64, 32 a tenth more, an unbounded walk a quarter more.
pub const LEAPS_PER_WALK_MAX: u32 = 64;
/// Largest page of an index or catalog scan.
pub const SCAN_LIMIT_MAX: u32 = 10_000;
/// Ids or streams read per store call when a client walks many of them
/// (rosters of a unit, verify's second look at claims): bounds one request.
pub const READ_BATCH_LEN: usize = 256;
/// Default number of commit attempts before a booking gives up with a
/// conflict. Each failed attempt means another booker changed what this one
/// observed, so the bound only matters under pathological contention.
pub const COMMIT_ATTEMPTS_DEFAULT: u32 = 1024;
/// Most streams one commit may write or guard.
pub const STREAMS_PER_COMMIT_MAX: usize = 4096;
/// Most events one commit may append.
pub const EVENTS_PER_COMMIT_MAX: usize = 4096;
/// Most units defined in one commit (all or nothing).
pub const UNITS_PER_COMMIT_MAX: usize = 1024;
/// Most commits in one group commit.
pub const COMMITS_PER_GROUP_MAX: usize = 4096;
/// Change-feed entries a client reads when it first meets a store: if the
/// whole history fits, the client knows every stream (a stream the feed
/// never named is empty, so it is never read); otherwise it follows the
/// feed from its end and reads streams as it first needs them.
pub const FEED_BOOT_ENTRIES_MAX: u32 = 4096;
/// Change-feed entries per read when catching up.
pub const FEED_PAGE_ENTRIES_MAX: u32 = 1024;
/// Pages one catch-up reads before it gives up on the backlog and starts
/// over from the feed's end (dropping its cache): a client that far behind
/// reads less by re-reading the streams it needs.
pub const FEED_PAGES_PER_CATCH_UP_MAX: u32 = 8;

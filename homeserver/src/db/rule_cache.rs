//! What a send checks, kept by the writer thread from one send to the next.
//!
//! Every send into a channel reads the channel's row, the sender's membership, the channel's
//! bans, the sender's mute and the servers with members there (for federation). On SQLite
//! those reads cost microseconds; on Postgres each is a round trip made while every other
//! writer of every process waits for its turn, so they were most of a send's cost. These rows
//! change only through writes that are not sends, which are far rarer.
//!
//! The cache is trusted only while it cannot be stale:
//! - A write that changes none of these rows says so when it starts ([`keep_for_this_write`]);
//!   the send path does. Any other write of the writer clears the cache when it ends
//!   ([`write_finished`]), whatever it did, so no mutator has to remember to invalidate.
//! - A batch that fails to commit clears it ([`forget`]). On Postgres, a batch that changed
//!   anything but the log (any write but sends and cursor moves, or a send that opened
//!   delivery windows: [`take_changed`]) moves the generation of the `writer_turn` row on, and
//!   a process whose batch begins after another process's turn with a generation it has not
//!   seen clears the cache ([`super::backend::Began`]).
//! - Only the writer thread keeps entries, and only during a write that said it keeps them;
//!   everywhere else the lookups read the database.
//!
//! Values are the stored rows, not decisions: a mute's expiry, the ban masks and the modes are
//! judged against the clock and the sender at every send, by the same rules as without a cache.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use diesel::QueryResult;

use super::models::{ChannelRow, MemberRow};
use super::moderation::BanRow;

/// Most entries kept; past it the cache starts over.
const ENTRIES_MAX: usize = 20_000;

#[derive(Default)]
struct Rules {
    channels: HashMap<String, Option<ChannelRow>>,
    members: HashMap<(i64, String), Option<MemberRow>>,
    bans: HashMap<i64, Arc<[BanRow]>>,
    mutes: HashMap<(i64, String), Option<Option<i64>>>,
    servers: HashMap<i64, Arc<[String]>>,
    entries: usize,
}

#[derive(Default)]
struct State {
    /// The running write keeps the rules as they are.
    active: bool,
    /// A write of the running batch may have changed rules or delivery windows.
    changed: bool,
    rules: Rules,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Called by a write that changes no channel, membership, ban, mute or remote membership (a
/// send): its lookups may use, and fill, the cache.
pub fn keep_for_this_write() {
    STATE.with(|s| s.borrow_mut().active = true);
}

/// Called by the writer after each write: a write that did not keep the rules may have changed
/// them, so the cache is cleared.
pub fn write_finished() {
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        if !state.active {
            state.rules = Rules::default();
            state.changed = true;
        }
        state.active = false;
    });
}

/// A write changed what sends check without being a write that clears the cache (a send that
/// opened a DM's delivery windows): other processes must hear of it ([`take_changed`]).
pub fn mark_changed() {
    STATE.with(|s| s.borrow_mut().changed = true);
}

/// Whether a write since the last call may have changed rules or delivery windows; on
/// Postgres the writer then moves the generation on (`backend::next_generation`), so that
/// other processes drop what they cached.
pub fn take_changed() -> bool {
    STATE.with(|s| std::mem::take(&mut s.borrow_mut().changed))
}

/// Forgets everything (a batch failed, or another process wrote).
pub fn forget() {
    STATE.with(|s| s.borrow_mut().rules = Rules::default());
}

/// The value for `key` in the map `pick` chooses: from the cache during a write that keeps the
/// rules, else from `load` (and cached when it may be).
fn cached<K: Hash + Eq, V: Clone>(
    pick: fn(&mut Rules) -> &mut HashMap<K, V>,
    key: K,
    load: impl FnOnce() -> QueryResult<V>,
) -> QueryResult<V> {
    let hit = STATE.with(|s| {
        let mut state = s.borrow_mut();
        if !state.active {
            return None;
        }
        Some(pick(&mut state.rules).get(&key).cloned())
    });
    let Some(hit) = hit else {
        return load();
    };
    if let Some(value) = hit {
        return Ok(value);
    }
    let value = load()?;
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        if state.rules.entries >= ENTRIES_MAX {
            state.rules = Rules::default();
        }
        state.rules.entries += 1;
        pick(&mut state.rules).insert(key, value.clone());
    });
    Ok(value)
}

/// A channel by name (`super::channels::by_name`).
pub fn channel(
    name: &str,
    load: impl FnOnce() -> QueryResult<Option<ChannelRow>>,
) -> QueryResult<Option<ChannelRow>> {
    cached(|r| &mut r.channels, name.to_string(), load)
}

/// A member's row (`super::channels::member`).
pub fn member(
    room_id: i64,
    user_id: &str,
    load: impl FnOnce() -> QueryResult<Option<MemberRow>>,
) -> QueryResult<Option<MemberRow>> {
    cached(|r| &mut r.members, (room_id, user_id.to_string()), load)
}

/// A room's bans (`super::moderation::bans_of`).
pub fn bans(
    room_id: i64,
    load: impl FnOnce() -> QueryResult<Arc<[BanRow]>>,
) -> QueryResult<Arc<[BanRow]>> {
    cached(|r| &mut r.bans, room_id, load)
}

/// A handle's mute in a room: none, forever, or until a time (`super::moderation::is_muted`).
pub fn mute(
    room_id: i64,
    handle: &str,
    load: impl FnOnce() -> QueryResult<Option<Option<i64>>>,
) -> QueryResult<Option<Option<i64>>> {
    cached(|r| &mut r.mutes, (room_id, handle.to_string()), load)
}

/// The servers with members in a room (`super::shared::member_servers`).
pub fn servers(
    room_id: i64,
    load: impl FnOnce() -> QueryResult<Arc<[String]>>,
) -> QueryResult<Arc<[String]>> {
    cached(|r| &mut r.servers, room_id, load)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    fn loads(counter: &Cell<u32>, bans: &[&str]) -> QueryResult<Arc<[BanRow]>> {
        counter.set(counter.get() + 1);
        Ok(bans
            .iter()
            .map(|mask| BanRow {
                room_id: 1,
                mask: mask.to_string(),
                set_by: "op".into(),
                set_ms: 0,
            })
            .collect())
    }

    #[test]
    fn only_writes_that_keep_the_rules_share_what_they_read() {
        let reads = Cell::new(0);
        // Outside a keeping write: always read.
        bans(1, || loads(&reads, &[])).unwrap();
        bans(1, || loads(&reads, &[])).unwrap();
        assert_eq!(reads.get(), 2);
        // Two sends: the second is answered from the first's read.
        keep_for_this_write();
        bans(1, || loads(&reads, &[])).unwrap();
        write_finished();
        keep_for_this_write();
        assert!(bans(1, || loads(&reads, &["x"])).unwrap().is_empty());
        write_finished();
        assert_eq!(reads.get(), 3);
        // Any other write (a ban) clears it: the next send reads the new ban.
        write_finished();
        keep_for_this_write();
        let now = bans(1, || loads(&reads, &["x"])).unwrap();
        write_finished();
        assert_eq!(now.len(), 1);
        assert_eq!(reads.get(), 4);
        // Another process's turn, or a failed batch, clears it too.
        forget();
        keep_for_this_write();
        bans(1, || loads(&reads, &["x"])).unwrap();
        write_finished();
        assert_eq!(reads.get(), 5);
    }
}

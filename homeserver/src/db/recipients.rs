//! Each room's recipients (the users with an open delivery window) and watchers (the users
//! whose notification level for it is `all`), cached by the writer thread.
//!
//! Every appended event needs its room's recipients, and every event of a channel its
//! watchers (they go with it to the notifications consumer, [`super::writer::Committed`]);
//! reading them costs a query per event (or per batch) and a string per user. Spans change
//! only through [`super::events::open_span`] and [`super::events::close_span`], levels only
//! through [`super::notifications::set_level`]; all run on the writer and drop their room's
//! entries ([`changed`]); a write or batch that fails drops every entry ([`forget`]), so the
//! cache never outlives a rollback. On Postgres, where other processes change spans and
//! levels too, [`changed`] moves the generation on ([`super::rule_cache::mark_changed`]) and the
//! writer drops every entry when another process wrote something other than sends since its
//! last turn ([`super::backend::Began`]). Off the writer thread nothing is cached.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Most lists cached; past it the cache starts over.
const LISTS_MAX: usize = 20_000;

/// The cached lists, by list and room.
type Lists = HashMap<(List, i64), Arc<[String]>>;

/// Which of a room's lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum List {
    /// Users with an open delivery window.
    Recipients,
    /// Users whose notification level for the room is `all`.
    Watchers,
}

thread_local! {
    /// `Some` on the writer thread.
    static CACHE: RefCell<Option<Lists>> = const { RefCell::new(None) };
}

/// Turns the cache on for this thread (the writer thread).
pub fn enable() {
    CACHE.with(|c| {
        c.borrow_mut().get_or_insert_with(HashMap::new);
    });
}

/// The room's `list` from the cache, or from `load` (cached when enabled).
pub fn cached<E>(
    list: List,
    room_id: i64,
    load: impl FnOnce() -> Result<Vec<String>, E>,
) -> Result<Arc<[String]>, E> {
    let key = (list, room_id);
    if let Some(hit) = CACHE.with(|c| c.borrow().as_ref().and_then(|m| m.get(&key).cloned())) {
        return Ok(hit);
    }
    let loaded: Arc<[String]> = load()?.into();
    CACHE.with(|c| {
        if let Some(cache) = c.borrow_mut().as_mut() {
            if cache.len() >= LISTS_MAX {
                cache.clear();
            }
            cache.insert(key, Arc::clone(&loaded));
        }
    });
    Ok(loaded)
}

/// A span of this room opened or closed, or a level for it changed: its cached lists are
/// stale.
pub fn changed(room_id: i64) {
    super::rule_cache::mark_changed();
    CACHE.with(|c| {
        if let Some(cache) = c.borrow_mut().as_mut() {
            cache.remove(&(List::Recipients, room_id));
            cache.remove(&(List::Watchers, room_id));
        }
    });
}

/// Forgets every cached list (a write rolled back).
pub fn forget() {
    CACHE.with(|c| {
        if let Some(cache) = c.borrow_mut().as_mut() {
            cache.clear();
        }
    });
}

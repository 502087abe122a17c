//! Each room's recipients (the users with an open delivery window), cached by the writer
//! thread.
//!
//! Every appended event needs its room's recipients; reading them from `spans` costs a query
//! and a string per member per event. Spans change only through
//! [`super::events::open_span`] and [`super::events::close_span`], which run on the writer and
//! drop their room's entry ([`changed`]); a write or batch that fails drops every entry
//! ([`forget`]), so the cache never outlives a rollback. On Postgres, where other processes
//! change spans too, the writer drops every entry when another process wrote since its last
//! turn ([`super::backend::Began`]). Off the writer thread nothing is cached.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// Most rooms whose recipients are cached; past it the cache starts over.
const ROOMS_MAX: usize = 10_000;

thread_local! {
    /// `Some` on the writer thread.
    static CACHE: RefCell<Option<HashMap<i64, Arc<[String]>>>> = const { RefCell::new(None) };
}

/// Turns the cache on for this thread (the writer thread).
pub fn enable() {
    CACHE.with(|c| {
        c.borrow_mut().get_or_insert_with(HashMap::new);
    });
}

/// The room's recipients from the cache, or from `load` (cached when enabled).
pub fn cached<E>(
    room_id: i64,
    load: impl FnOnce() -> Result<Vec<String>, E>,
) -> Result<Arc<[String]>, E> {
    if let Some(hit) = CACHE.with(|c| c.borrow().as_ref().and_then(|m| m.get(&room_id).cloned())) {
        return Ok(hit);
    }
    let loaded: Arc<[String]> = load()?.into();
    CACHE.with(|c| {
        if let Some(cache) = c.borrow_mut().as_mut() {
            if cache.len() >= ROOMS_MAX {
                cache.clear();
            }
            cache.insert(room_id, Arc::clone(&loaded));
        }
    });
    Ok(loaded)
}

/// A span of this room opened or closed: its cached recipients are stale.
pub fn changed(room_id: i64) {
    super::rule_cache::mark_changed();
    CACHE.with(|c| {
        if let Some(cache) = c.borrow_mut().as_mut() {
            cache.remove(&room_id);
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

//! Notifications (issue 18): one row per user and event, and users' per-channel levels.

use std::sync::Arc;

use diesel::prelude::*;

use super::models::EventRow;
use super::schema::{notification_levels, notifications};
use super::Conn;

/// The level at which a user hears of every message of a channel.
pub const ALL: &str = "all";

/// A stored notification.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = notifications)]
pub struct NotificationRow {
    pub id: String,
    pub user_id: String,
    pub kind: String,
    pub event_id: String,
    pub ts_ms: i64,
    pub is_read: bool,
}

/// Stores a notification unless the user has one for that event already (`false` then).
pub fn insert(conn: &mut Conn, row: &NotificationRow) -> QueryResult<bool> {
    let exists = notifications::table
        .filter(notifications::user_id.eq(&row.user_id))
        .filter(notifications::event_id.eq(&row.event_id))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Ok(false);
    }
    diesel::insert_into(notifications::table)
        .values(row)
        .execute(conn)?;
    Ok(true)
}

/// A user's notifications, newest first.
pub fn list(
    conn: &mut Conn,
    user_id: &str,
    unread_only: bool,
    limit: i64,
) -> QueryResult<Vec<NotificationRow>> {
    let mut query = notifications::table
        .filter(notifications::user_id.eq(user_id))
        .into_boxed();
    if unread_only {
        query = query.filter(notifications::is_read.eq(false));
    }
    query
        .order((notifications::ts_ms.desc(), notifications::id.desc()))
        .limit(limit)
        .select(NotificationRow::as_select())
        .load(conn)
}

/// How many of a user's notifications are unread.
pub fn unread_count(conn: &mut Conn, user_id: &str) -> QueryResult<i64> {
    notifications::table
        .filter(notifications::user_id.eq(user_id))
        .filter(notifications::is_read.eq(false))
        .count()
        .get_result(conn)
}

/// Marks one of the user's notifications read: `None` when it is not theirs (or gone),
/// else whether it was unread.
pub fn mark_read(conn: &mut Conn, user_id: &str, id: &str) -> QueryResult<Option<bool>> {
    let found: Option<bool> = notifications::table
        .filter(notifications::id.eq(id))
        .filter(notifications::user_id.eq(user_id))
        .select(notifications::is_read)
        .first(conn)
        .optional()?;
    let Some(was_read) = found else {
        return Ok(None);
    };
    if !was_read {
        diesel::update(notifications::table.find(id))
            .set(notifications::is_read.eq(true))
            .execute(conn)?;
    }
    Ok(Some(!was_read))
}

/// Marks all of a user's notifications read; how many were unread.
pub fn mark_all_read(conn: &mut Conn, user_id: &str) -> QueryResult<usize> {
    diesel::update(
        notifications::table
            .filter(notifications::user_id.eq(user_id))
            .filter(notifications::is_read.eq(false)),
    )
    .set(notifications::is_read.eq(true))
    .execute(conn)
}

/// Deletes notifications made before `cutoff_ms`.
pub fn prune_before(conn: &mut Conn, cutoff_ms: i64) -> QueryResult<usize> {
    diesel::delete(notifications::table.filter(notifications::ts_ms.lt(cutoff_ms))).execute(conn)
}

/// The user's level for a room, if set.
pub fn level(conn: &mut Conn, user_id: &str, room_id: i64) -> QueryResult<Option<String>> {
    notification_levels::table
        .find((user_id, room_id))
        .select(notification_levels::level)
        .first(conn)
        .optional()
}

/// Users whose level for the channel of `row` is `all`: they hear of every message in it
/// (cached by the writer, [`super::recipients`]). None outside channels.
pub fn watchers(conn: &mut Conn, row: &EventRow) -> QueryResult<Arc<[String]>> {
    if !row.recipient.starts_with('#') {
        return Ok(Arc::from(Vec::new()));
    }
    let room_id = row.room_id;
    super::recipients::cached(super::recipients::List::Watchers, room_id, || {
        notification_levels::table
            .filter(notification_levels::room_id.eq(room_id))
            .filter(notification_levels::level.eq(ALL))
            .select(notification_levels::user_id)
            .load(conn)
    })
}

/// Sets the user's level for a room (`None`: back to the default).
pub fn set_level(
    conn: &mut Conn,
    user_id: &str,
    room_id: i64,
    level: Option<&str>,
) -> QueryResult<()> {
    // The room's watchers (cached by the writer) change.
    super::recipients::changed(room_id);
    diesel::delete(notification_levels::table.find((user_id, room_id))).execute(conn)?;
    if let Some(level) = level {
        diesel::insert_into(notification_levels::table)
            .values((
                notification_levels::user_id.eq(user_id),
                notification_levels::room_id.eq(room_id),
                notification_levels::level.eq(level),
            ))
            .execute(conn)?;
    }
    Ok(())
}

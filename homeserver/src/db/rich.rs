//! Edits, deletes, reactions and threads: the aggregates of messages.
//!
//! A message's row holds its latest body and meta; `message_stats` its edit and reply counters
//! (a row only for messages that have some); `reactions` the current reactions, one per user,
//! emoji and message (keyed by a local user's id, so a nick change keeps them). A history page reads the aggregates of its messages in two queries by
//! message id, whatever its length.

use diesel::prelude::*;

use super::models::{EventRow, ReactionRow, StatsRow};
use super::schema::{events, message_stats, reactions, txns};
use super::Conn;

/// Counters of these messages (only those that have a row).
pub fn stats(conn: &mut Conn, ids: &[String]) -> QueryResult<Vec<StatsRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    message_stats::table
        .filter(message_stats::message_id.eq_any(ids))
        .select(StatsRow::as_select())
        .load(conn)
}

/// Current reactions to these messages, oldest first.
pub fn reactions_of(conn: &mut Conn, ids: &[String]) -> QueryResult<Vec<ReactionRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    reactions::table
        .filter(reactions::message_id.eq_any(ids))
        .order((reactions::ts_ms.asc(), reactions::event_id.asc()))
        .select(ReactionRow::as_select())
        .load(conn)
}

/// The current reaction with `emoji` to a message by whoever `reactor` names: the keys one
/// user may be stored under (a local user's id and, for rows from before reactions were keyed
/// by user, their handle; a remote user's handle).
pub fn reaction(
    conn: &mut Conn,
    message_id: &str,
    reactor: &[&str],
    emoji: &str,
) -> QueryResult<Option<ReactionRow>> {
    reactions::table
        .filter(reactions::message_id.eq(message_id))
        .filter(reactions::reactor.eq_any(reactor))
        .filter(reactions::emoji.eq(emoji))
        .select(ReactionRow::as_select())
        .first(conn)
        .optional()
}

/// Records a reaction; `false` (and nothing changes) when the user already has it.
pub fn add_reaction(conn: &mut Conn, row: &ReactionRow) -> QueryResult<bool> {
    if reaction(conn, &row.message_id, &[&row.reactor], &row.emoji)?.is_some() {
        return Ok(false);
    }
    diesel::insert_into(reactions::table)
        .values((
            reactions::message_id.eq(&row.message_id),
            reactions::reactor.eq(&row.reactor),
            reactions::emoji.eq(&row.emoji),
            reactions::event_id.eq(&row.event_id),
            reactions::ts_ms.eq(row.ts_ms),
        ))
        .execute(conn)
        .map(|_| true)
}

/// A user of another server (or, for rows from before reactions were keyed by user, a local
/// one) changed nick: their reactions stored under the old handle move to the new one. A
/// reaction the new handle already has (a reused nick) wins over the old handle's.
pub fn rename_reactor(conn: &mut Conn, old: &str, new: &str) -> QueryResult<()> {
    let clashes: Vec<(String, String)> = reactions::table
        .filter(reactions::reactor.eq(new))
        .select((reactions::message_id, reactions::emoji))
        .load(conn)?;
    for (message_id, emoji) in clashes {
        diesel::delete(
            reactions::table
                .filter(reactions::reactor.eq(old))
                .filter(reactions::message_id.eq(&message_id))
                .filter(reactions::emoji.eq(&emoji)),
        )
        .execute(conn)?;
    }
    diesel::update(reactions::table.filter(reactions::reactor.eq(old)))
        .set(reactions::reactor.eq(new))
        .execute(conn)
        .map(drop)
}

/// The reaction recorded by the reaction event `event_id`, if it is current.
pub fn reaction_by_event(conn: &mut Conn, event_id: &str) -> QueryResult<Option<ReactionRow>> {
    reactions::table
        .filter(reactions::event_id.eq(event_id))
        .select(ReactionRow::as_select())
        .first(conn)
        .optional()
}

/// Withdraws the reaction recorded by the reaction event `event_id`.
pub fn remove_reaction(conn: &mut Conn, event_id: &str) -> QueryResult<()> {
    diesel::delete(reactions::table.filter(reactions::event_id.eq(event_id)))
        .execute(conn)
        .map(drop)
}

/// Counts an edit of a message made at `ts_ms`.
pub fn count_edit(conn: &mut Conn, message_id: &str, ts_ms: i64) -> QueryResult<()> {
    ensure_stats(conn, message_id)?;
    diesel::update(message_stats::table.find(message_id))
        .set((
            message_stats::edit_count.eq(message_stats::edit_count + 1),
            message_stats::edited_ms.eq(ts_ms),
        ))
        .execute(conn)
        .map(drop)
}

/// Counts a reply to a message sent at `ts_ms`.
pub fn count_reply(conn: &mut Conn, message_id: &str, ts_ms: i64) -> QueryResult<()> {
    ensure_stats(conn, message_id)?;
    diesel::update(message_stats::table.find(message_id))
        .set((
            message_stats::reply_count.eq(message_stats::reply_count + 1),
            message_stats::last_reply_ms.eq(ts_ms),
        ))
        .execute(conn)
        .map(drop)
}

fn ensure_stats(conn: &mut Conn, message_id: &str) -> QueryResult<()> {
    let exists: bool = diesel::select(diesel::dsl::exists(message_stats::table.find(message_id)))
        .get_result(conn)?;
    if !exists {
        diesel::insert_into(message_stats::table)
            .values((
                message_stats::message_id.eq(message_id),
                message_stats::edit_count.eq(0),
                message_stats::reply_count.eq(0),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Replaces a message's body and meta with an edit's.
pub fn set_body(conn: &mut Conn, id: &str, body: &str, meta: &str) -> QueryResult<()> {
    diesel::update(events::table.filter(events::id.eq(id)))
        .set((events::body.eq(body), events::meta.eq(meta)))
        .execute(conn)?;
    // Only messages are edited; their words follow the latest body.
    super::search::store_words_of(conn, id, "message", body)
}

/// Erases a deleted message: its body, meta and signed wire form, and those of its edits, are
/// gone from storage (marked `deleted`); its reactions are withdrawn.
pub fn erase(conn: &mut Conn, id: &str) -> QueryResult<()> {
    let erased = || {
        (
            events::body.eq(""),
            events::meta.eq("{}"),
            events::wire.eq(None::<String>),
            events::deleted.eq(true),
        )
    };
    diesel::update(events::table.filter(events::id.eq(id)))
        .set(erased())
        .execute(conn)?;
    diesel::update(
        events::table
            .filter(events::target.eq(id))
            .filter(events::kind.eq("edit")),
    )
    .set(erased())
    .execute(conn)?;
    super::search::forget_words_of(conn, id)?;
    diesel::delete(reactions::table.filter(reactions::message_id.eq(id))).execute(conn)?;
    Ok(())
}

/// Replaces the stored answers of idempotent sends (`txns`, kept 24 hours) that hold the
/// message `id` with `erased`, its erased view: a retried send still gets its answer, and the
/// deleted text is not kept there either.
pub fn erase_txn_answers(conn: &mut Conn, id: &str, erased: &str) -> QueryResult<()> {
    // An id is a UUID: no LIKE wildcards in it.
    diesel::update(txns::table.filter(txns::response.like(format!("%{id}%"))))
        .set(txns::response.eq(erased))
        .execute(conn)
        .map(drop)
}

/// The replies to `root_id` in its room, oldest first, at most `limit`.
pub fn replies(
    conn: &mut Conn,
    room_id: i64,
    root_id: &str,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    events::table
        .filter(events::reply_to.eq(root_id))
        .filter(events::room_id.eq(room_id))
        .order(events::seq.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
}

/// The key of a room (`chan:…`, `mirror:…`, `dm:…`, `user:…`): where a message lives.
pub fn room_key(conn: &mut Conn, room_id: i64) -> QueryResult<Option<String>> {
    super::schema::rooms::table
        .find(room_id)
        .select(super::schema::rooms::room_key)
        .first(conn)
        .optional()
}

//! Media rows (one per upload or cached remote media) and the messages that share them.

use diesel::prelude::*;

use super::events::OPEN;
use super::schema::{events, media, media_refs, mirrors, profiles, remote_members, rooms, spans};
use super::Conn;

/// A stored media.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable)]
#[diesel(table_name = media)]
pub struct MediaRow {
    /// `<uuid>@<origin>`.
    pub id: String,
    /// The server that holds the original.
    pub origin: String,
    /// The uploader's handle `nick@server`.
    pub uploader: String,
    /// The uploader's user id, for media uploaded here.
    pub uploader_id: Option<String>,
    /// The file's name.
    pub filename: String,
    /// Bytes.
    pub size: i64,
    /// Decided by magic bytes.
    pub content_type: String,
    /// Lower-case hex sha256 of the bytes: the key of the stored blob.
    pub sha256: String,
    /// Unix ms.
    pub created_ms: i64,
}

/// Records a media (a cached remote one already present changes nothing).
pub fn insert(conn: &mut Conn, row: &MediaRow) -> QueryResult<()> {
    if get(conn, &row.id)?.is_some() {
        return Ok(());
    }
    diesel::insert_into(media::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// One media by id.
pub fn get(conn: &mut Conn, id: &str) -> QueryResult<Option<MediaRow>> {
    media::table
        .find(id)
        .select(MediaRow::as_select())
        .first(conn)
        .optional()
}

/// These media, in any order (those that exist).
pub fn many(conn: &mut Conn, ids: &[String]) -> QueryResult<Vec<MediaRow>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    media::table
        .filter(media::id.eq_any(ids))
        .select(MediaRow::as_select())
        .load(conn)
}

/// Records that the message `event_id` in `room_id` shares these media.
pub fn add_refs(conn: &mut Conn, ids: &[String], event_id: &str, room_id: i64) -> QueryResult<()> {
    for id in ids {
        let exists = media_refs::table
            .find((id, event_id))
            .count()
            .get_result::<i64>(conn)?
            > 0;
        if !exists {
            diesel::insert_into(media_refs::table)
                .values((
                    media_refs::media_id.eq(id),
                    media_refs::event_id.eq(event_id),
                    media_refs::room_id.eq(room_id),
                ))
                .execute(conn)?;
        }
    }
    Ok(())
}

/// Forgets what the message `event_id` shared (it was deleted): its references and its
/// `attachments`.
pub fn drop_refs_of(conn: &mut Conn, event_id: &str) -> QueryResult<()> {
    diesel::delete(media_refs::table.filter(media_refs::event_id.eq(event_id))).execute(conn)?;
    diesel::update(events::table.filter(events::id.eq(event_id)))
        .set(events::attachments.eq(None::<String>))
        .execute(conn)
        .map(drop)
}

/// Whether the local user `user_id` is a member (has an open delivery window) of a room where
/// a message shared the media `id`.
pub fn shared_with(conn: &mut Conn, id: &str, user_id: &str) -> QueryResult<bool> {
    let rooms = media_refs::table
        .filter(media_refs::media_id.eq(id))
        .select(media_refs::room_id);
    spans::table
        .filter(spans::user_id.eq(user_id))
        .filter(spans::to_seq.eq(OPEN))
        .filter(spans::room_id.eq_any(rooms))
        .count()
        .get_result::<i64>(conn)
        .map(|n| n > 0)
}

/// Whether the media `id` is a local user's avatar: profile data, which every signed-in user
/// and every peer may read, and which retention keeps.
pub fn is_avatar(conn: &mut Conn, id: &str) -> QueryResult<bool> {
    profiles::table
        .filter(profiles::avatar.eq(id))
        .count()
        .get_result::<i64>(conn)
        .map(|n| n > 0)
}

/// Whether a message that went to the server `server` shared the media `id`: one in a
/// channel hosted here where `server` has members, in a DM with one of its users, or in a
/// channel hosted elsewhere (its host relays it to every member server, which this server
/// does not know).
pub fn shared_with_server(conn: &mut Conn, id: &str, server: &str) -> QueryResult<bool> {
    let shared: Vec<i64> = media_refs::table
        .filter(media_refs::media_id.eq(id))
        .select(media_refs::room_id)
        .load(conn)?;
    if shared.is_empty() {
        return Ok(false);
    }
    let members = remote_members::table
        .filter(remote_members::room_id.eq_any(&shared))
        .filter(remote_members::server.eq(server))
        .count()
        .get_result::<i64>(conn)?;
    let mirrored = mirrors::table
        .filter(mirrors::room_id.eq_any(&shared))
        .count()
        .get_result::<i64>(conn)?;
    if members + mirrored > 0 {
        return Ok(true);
    }
    // A DM with a user of `server`: its room key ends with `@server` (services::messages).
    let suffix = format!("@{server}");
    let dm_keys: Vec<String> = rooms::table
        .filter(rooms::id.eq_any(&shared))
        .filter(rooms::kind.eq("dm"))
        .select(rooms::room_key)
        .load(conn)?;
    Ok(dm_keys.iter().any(|k| k.ends_with(&suffix)))
}

/// Media that no message refers to, that are nobody's avatar, and that were created before
/// `before_ms`.
pub fn unreferenced(conn: &mut Conn, before_ms: i64, limit: i64) -> QueryResult<Vec<MediaRow>> {
    let referenced = media_refs::table.select(media_refs::media_id);
    let avatars = profiles::table
        .filter(profiles::avatar.is_not_null())
        .select(profiles::avatar.assume_not_null());
    media::table
        .filter(media::created_ms.lt(before_ms))
        .filter(media::id.ne_all(referenced))
        .filter(media::id.ne_all(avatars))
        .order(media::created_ms.asc())
        .limit(limit)
        .select(MediaRow::as_select())
        .load(conn)
}

/// Every media, newest first.
pub fn list(conn: &mut Conn, limit: i64) -> QueryResult<Vec<MediaRow>> {
    media::table
        .order(media::created_ms.desc())
        .limit(limit)
        .select(MediaRow::as_select())
        .load(conn)
}

/// Deletes a media's row and its references; answers whether another row still names its
/// blob (`sha256`), in which case the blob must stay.
pub fn delete(conn: &mut Conn, id: &str) -> QueryResult<Option<(MediaRow, bool)>> {
    let Some(row) = get(conn, id)? else {
        return Ok(None);
    };
    diesel::delete(media_refs::table.filter(media_refs::media_id.eq(id))).execute(conn)?;
    diesel::delete(media::table.find(id)).execute(conn)?;
    let still_used = media::table
        .filter(media::sha256.eq(&row.sha256))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    Ok(Some((row, still_used)))
}

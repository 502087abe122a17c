//! Server administration (issue 18): admins, disabled accounts and the report queue.

use diesel::prelude::*;

use super::models::UserRow;
use super::schema::{account_flags, devices, reports, users};
use super::Conn;

/// A report of a message.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = reports)]
pub struct ReportRow {
    pub id: String,
    pub reporter_id: String,
    pub reporter: String,
    pub event_id: String,
    pub room_id: i64,
    pub channel: Option<String>,
    pub sender: String,
    pub reason: String,
    pub ts_ms: i64,
    pub status: String,
    pub resolved_by: Option<String>,
    pub resolved_ms: Option<i64>,
}

/// `(is_admin, disabled)` of a user.
pub fn flags(conn: &mut Conn, user_id: &str) -> QueryResult<(bool, bool)> {
    Ok(account_flags::table
        .find(user_id)
        .select((account_flags::is_admin, account_flags::disabled))
        .first(conn)
        .optional()?
        .unwrap_or((false, false)))
}

/// Sets a user's flags.
pub fn set_flags(
    conn: &mut Conn,
    user_id: &str,
    is_admin: bool,
    disabled: bool,
) -> QueryResult<()> {
    diesel::delete(account_flags::table.find(user_id)).execute(conn)?;
    if is_admin || disabled {
        diesel::insert_into(account_flags::table)
            .values((
                account_flags::user_id.eq(user_id),
                account_flags::is_admin.eq(is_admin),
                account_flags::disabled.eq(disabled),
            ))
            .execute(conn)?;
    }
    Ok(())
}

/// Every account with its flags, by nick.
pub fn users_with_flags(conn: &mut Conn) -> QueryResult<Vec<(UserRow, bool, bool)>> {
    let rows: Vec<UserRow> = users::table
        .order(users::nick.asc())
        .select(UserRow::as_select())
        .load(conn)?;
    let flagged: Vec<(String, bool, bool)> = account_flags::table
        .select((
            account_flags::user_id,
            account_flags::is_admin,
            account_flags::disabled,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|u| {
            let (a, d) = flagged
                .iter()
                .find(|(id, _, _)| *id == u.id)
                .map_or((false, false), |(_, a, d)| (*a, *d));
            (u, a, d)
        })
        .collect())
}

/// Ids of a user's devices.
pub fn device_ids(conn: &mut Conn, user_id: &str) -> QueryResult<Vec<String>> {
    devices::table
        .filter(devices::user_id.eq(user_id))
        .select(devices::id)
        .load(conn)
}

/// Sets a user's password hash.
pub fn set_password_hash(conn: &mut Conn, user_id: &str, hash: &str) -> QueryResult<()> {
    diesel::update(users::table.find(user_id))
        .set(users::password_hash.eq(hash))
        .execute(conn)
        .map(drop)
}

/// Stores a report.
pub fn add_report(conn: &mut Conn, row: &ReportRow) -> QueryResult<()> {
    diesel::insert_into(reports::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// A report.
pub fn report(conn: &mut Conn, id: &str) -> QueryResult<Option<ReportRow>> {
    reports::table
        .find(id)
        .select(ReportRow::as_select())
        .first(conn)
        .optional()
}

/// Reports, newest first: all (`channel` None) or those of one channel hosted here; open
/// ones only with `open_only`.
pub fn reports(
    conn: &mut Conn,
    channel: Option<&str>,
    open_only: bool,
    limit: i64,
) -> QueryResult<Vec<ReportRow>> {
    let mut query = reports::table.into_boxed();
    if let Some(channel) = channel {
        query = query.filter(reports::channel.eq(channel));
    }
    if open_only {
        query = query.filter(reports::status.eq("open"));
    }
    query
        .order((reports::ts_ms.desc(), reports::id.desc()))
        .limit(limit)
        .select(ReportRow::as_select())
        .load(conn)
}

/// Marks a report resolved.
pub fn resolve(conn: &mut Conn, id: &str, status: &str, by: &str, at_ms: i64) -> QueryResult<()> {
    diesel::update(reports::table.find(id))
        .set((
            reports::status.eq(status),
            reports::resolved_by.eq(by),
            reports::resolved_ms.eq(at_ms),
        ))
        .execute(conn)
        .map(drop)
}

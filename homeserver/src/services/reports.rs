//! Reports and their review (issue 18). A user reports a message they can read; the report
//! is kept by their own server. The review queues: `GET /api/v1/admin/reports` holds every
//! report (the server's admins, `homeserver admin grant NICK`); `GET
//! /api/v1/channels/{name}/reports` holds a channel's, for its operators (a channel hosted
//! here; reports about a channel hosted elsewhere are reviewed by this server's admins). Either
//! resolves with `POST /api/v1/admin/reports/{id}/resolve`: `dismiss`, `delete` (the message
//! is deleted as by an operator: by the resolver if they are one, else by the channel's owner)
//! or `ban` (`+b nick@server` of the sender, which also removes them). Who may is
//! `policy::review_reports` / `policy::review_all_reports`.

use federation_proto::api::community::{Report, ReportCreated, ReportList};
use federation_proto::event::EventKind;
use federation_proto::ids::ChannelName;
use federation_proto::time::format_rfc3339_ms;
use serde_json::json;

use super::accounts::Session;
use super::channels::act::{self, Authored, Host};
use super::channels::local_actor;
use super::events::view;
use super::modes::{normalize_mask, ModeChange};
use super::policy::{self, Actor};
use super::rich::{no_such_message, Action};
use super::{members, now_ms};
use crate::db::admin::ReportRow;
use crate::db::models::ChannelRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Longest reason.
pub const REASON_MAX: usize = 500;
/// Most reports listed.
const LIST_MAX: i64 = 500;

fn no_such_report(id: &str) -> ApiError {
    ApiError::not_found("no_such_report", format!("no report {id}"))
}

/// Whether the user is one of this server's admins.
pub fn is_admin(conn: &mut Conn, user_id: &str) -> Result<bool, ApiError> {
    Ok(db::admin::flags(conn, user_id)?.0)
}

/// `POST /api/v1/messages/{id}/report`: a message the user can read, with a reason.
pub async fn report(
    state: &AppState,
    session: &Session,
    id: String,
    reason: String,
) -> Result<ReportCreated, ApiError> {
    let reason = reason.trim().to_string();
    if reason.is_empty()
        || reason.chars().count() > REASON_MAX
        || reason.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(ApiError::bad_request(
            "invalid_reason",
            format!("a reason is 1 to {REASON_MAX} characters"),
        ));
    }
    let reporter = format!("{}@{}", session.nick, state.server_name);
    let user_id = session.user_id.clone();
    state
        .db
        .write(move |conn| {
            let event = db::events::by_id(conn, &id)?
                .filter(|e| EventKind::from_wire(&e.kind).is_some_and(|k| k.is_user_sendable()))
                .ok_or_else(|| no_such_message(&id))?;
            if !db::events::has_open_span(conn, &user_id, event.room_id)? {
                return Err(no_such_message(&id));
            }
            let channel = db::moderation::channel_by_room(conn, event.room_id)?.map(|c| c.name);
            let row = ReportRow {
                id: uuid::Uuid::now_v7().to_string(),
                reporter_id: user_id,
                reporter,
                event_id: event.id,
                room_id: event.room_id,
                channel,
                sender: event.sender,
                reason,
                ts_ms: now_ms(),
                status: "open".into(),
                resolved_by: None,
                resolved_ms: None,
            };
            db::admin::add_report(conn, &row)?;
            Ok(ReportCreated { id: row.id })
        })
        .await
}

fn item(conn: &mut Conn, server: &str, row: ReportRow) -> Result<Report, ApiError> {
    let event = db::events::by_id(conn, &row.event_id)?
        .map(view)
        .transpose()?;
    Ok(Report {
        id: row.id,
        message: row.event_id,
        event,
        channel: row.channel.map(|c| format!("#{c}@{server}")),
        reporter: row.reporter,
        sender: row.sender,
        reason: row.reason,
        ts: format_rfc3339_ms(row.ts_ms),
        status: row.status,
        resolved_by: row.resolved_by,
    })
}

/// Reports as items.
pub fn list_rows(
    conn: &mut Conn,
    server: &str,
    channel: Option<&str>,
    open_only: bool,
) -> Result<ReportList, ApiError> {
    let rows = db::admin::reports(conn, channel, open_only, LIST_MAX)?;
    let reports = rows
        .into_iter()
        .map(|r| item(conn, server, r))
        .collect::<Result<_, _>>()?;
    Ok(ReportList { reports })
}

/// `GET /api/v1/admin/reports`: every report (admins).
pub async fn list_all(
    state: &AppState,
    session: &Session,
    open_only: bool,
) -> Result<ReportList, ApiError> {
    let user_id = session.user_id.clone();
    let server = state.server_name.to_string();
    state
        .db
        .run(move |conn| {
            policy::review_all_reports(is_admin(conn, &user_id)?)
                .map_err(|d| d.into_error("this server"))?;
            list_rows(conn, &server, None, open_only)
        })
        .await
}

/// `GET /api/v1/channels/{name}/reports` for a channel hosted here (its operators, admins).
pub async fn list_channel(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
    open_only: bool,
) -> Result<ReportList, ApiError> {
    let actor = local_actor(state, session);
    let server = state.server_name.to_string();
    state
        .db
        .run(move |conn| {
            let row = super::channels::load_channel(conn, &channel.name)?;
            let admin = actor.user_id().map(|u| is_admin(conn, u)).transpose()?;
            let standing = members::standing(conn, &row, &actor)?;
            policy::review_reports(admin.unwrap_or(false), standing)
                .map_err(|d| d.into_error(&format!("#{}@{server}", row.name)))?;
            list_rows(conn, &server, Some(&row.name), open_only)
        })
        .await
}

/// Who acts for a resolution on `channel`: the resolver when an operator, else its owner.
fn operator_for(
    conn: &mut Conn,
    host: &Host,
    channel: &ChannelRow,
    resolver: &Actor,
) -> Result<Actor, ApiError> {
    if members::standing(conn, channel, resolver)?.is_some_and(|s| s.op) {
        return Ok(resolver.clone());
    }
    let owner = db::users::by_id(conn, &channel.owner_id)?
        .ok_or_else(|| ApiError::internal("a channel without its owner"))?;
    Ok(Actor::Local {
        handle: format!("{}@{}", owner.nick, host.server),
        user_id: owner.id,
    })
}

/// `POST /api/v1/admin/reports/{id}/resolve` with `dismiss`, `delete` or `ban`.
pub async fn resolve(
    state: &AppState,
    session: &Session,
    id: String,
    action: String,
) -> Result<Report, ApiError> {
    let status = match action.as_str() {
        "dismiss" => "dismissed",
        "delete" => "deleted",
        "ban" => "banned",
        _ => {
            return Err(ApiError::bad_request(
                "invalid_action",
                "the action is dismiss, delete or ban",
            ))
        }
    };
    let host = Host::of(state);
    let resolver = local_actor(state, session);
    let (report, queued) = state
        .db
        .write(move |conn| {
            let report = db::admin::report(conn, &id)?.ok_or_else(|| no_such_report(&id))?;
            let admin = resolver
                .user_id()
                .map(|u| is_admin(conn, u))
                .transpose()?
                .unwrap_or(false);
            let channel = match &report.channel {
                Some(name) => db::channels::by_name(conn, name)?,
                None => None,
            };
            match &channel {
                Some(row) => {
                    let standing = members::standing(conn, row, &resolver)?;
                    policy::review_reports(admin, standing)
                        .map_err(|d| d.into_error(&host.global(row)))?;
                }
                None => {
                    policy::review_all_reports(admin).map_err(|d| d.into_error("this server"))?
                }
            }
            if report.status != "open" {
                return Err(ApiError::conflict(
                    "already_resolved",
                    format!("report {id} was resolved ({})", report.status),
                ));
            }
            let mut queued = false;
            if status != "dismissed" {
                let row = channel.ok_or_else(|| {
                    ApiError::bad_request(
                        "not_hosted_here",
                        "delete and ban act on channels hosted here; dismiss this one",
                    )
                })?;
                let actor = operator_for(conn, &host, &row, &resolver)?;
                let done = if status == "deleted" {
                    let target = db::events::by_id(conn, &report.event_id)?
                        .ok_or_else(|| no_such_message(&report.event_id))?;
                    if target.deleted {
                        None
                    } else {
                        let action = Action {
                            kind: EventKind::Delete,
                            target: target.id.clone(),
                            body: String::new(),
                            meta: json!({}),
                        };
                        Some(act::message_action(
                            conn,
                            &host,
                            row,
                            &actor,
                            &action,
                            &target,
                            Authored::Here,
                        )?)
                    }
                } else {
                    let mask = normalize_mask(&report.sender)
                        .map_err(|e| ApiError::bad_request("invalid_mode", e.to_string()))?;
                    let ban = [ModeChange::Ban(true, mask)];
                    Some(act::set_modes(
                        conn,
                        &host,
                        row,
                        &actor,
                        &ban,
                        Authored::Here,
                    )?)
                };
                queued = done.is_some_and(|d| d.queued);
            }
            db::admin::resolve(conn, &id, status, resolver.handle(), now_ms())?;
            let report = db::admin::report(conn, &id)?.ok_or_else(|| no_such_report(&id))?;
            Ok::<_, ApiError>((item(conn, host.server.as_str(), report)?, queued))
        })
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    Ok(report)
}

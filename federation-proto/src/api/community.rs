//! Community tools (issue 18): mutes, and the moderation surface DESIGN.md fixes
//! ("Notifications, invites, moderation, limits"). Bans are channel modes (`+b`/`-b` on the
//! mode endpoint); their list is `ChannelInfo::bans`.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Paths of the community tools.
pub mod paths {
    /// `POST`: mute a member of a channel.
    pub const MUTE: &str = "/api/v1/channels/{name}/mute";
    /// `POST`: lift a member's mute.
    pub const UNMUTE: &str = "/api/v1/channels/{name}/unmute";
}

/// `POST /api/v1/channels/{name}/mute`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MuteRequest {
    /// Whom: `nick` (this server) or `nick@server`.
    pub nick: String,
    /// How long, 1 s to a year; without it the mute lasts until lifted.
    #[serde(default)]
    pub seconds: Option<i64>,
}

/// `POST /api/v1/channels/{name}/unmute`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnmuteRequest {
    /// Whom.
    pub nick: String,
}

/// Paths of notifications.
pub mod notification_paths {
    /// `GET`: the user's notifications, newest first (`?unread=true` for unread ones only).
    pub const NOTIFICATIONS: &str = "/api/v1/notifications";
    /// `PATCH`: mark one read.
    pub const READ_ONE: &str = "/api/v1/notifications/{id}/read";
    /// `PATCH`: mark all read.
    pub const READ_ALL: &str = "/api/v1/notifications/read-all";
    /// `PUT`: this user's notification level for a channel.
    pub const LEVEL: &str = "/api/v1/channels/{name}/notifications";
}

/// One notification.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Notification {
    /// Its id.
    pub id: String,
    /// `mention`, `reply`, `invite`, `dm`, or `message` (a channel whose level is `all`).
    #[serde(rename = "type")]
    pub kind: String,
    /// The event it is about (`null` once that event is gone from the log).
    #[schema(value_type = Object)]
    pub event: Option<crate::event::Event>,
    /// When it was made (RFC 3339).
    pub ts: String,
    /// Whether the user marked it read.
    pub read: bool,
}

/// `GET /api/v1/notifications`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotificationList {
    /// Newest first (at most 200).
    pub notifications: Vec<Notification>,
    /// How many of the user's notifications are unread.
    pub unread: i64,
}

/// `GET /api/v1/notifications` query.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationQuery {
    /// Only unread ones.
    #[serde(default)]
    pub unread: Option<bool>,
    /// At most this many (1–200, default 50).
    #[serde(default)]
    pub limit: Option<i64>,
}

/// `PUT /api/v1/channels/{name}/notifications`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LevelRequest {
    /// `all`, `mentions` or `muted`.
    pub level: String,
}

/// Answer to `PUT /api/v1/channels/{name}/notifications`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LevelResponse {
    /// The channel (`#name@host`).
    pub channel: String,
    /// The level now.
    pub level: String,
}

/// Answer to the mark-read endpoints.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MarkedRead {
    /// Notifications that were unread and are read now.
    pub marked: i64,
    /// Unread notifications left.
    pub unread: i64,
}

/// Paths of invite links.
pub mod invite_paths {
    /// `POST`: an operator makes an invite link for a channel hosted here.
    pub const CHANNEL_INVITES: &str = "/api/v1/channels/{name}/invites";
    /// `GET`: a link's details; `DELETE`: revoke it (operators).
    pub const INVITE: &str = "/api/v1/invites/{code}";
    /// `POST`: join the channel through the link.
    pub const ACCEPT: &str = "/api/v1/invites/{code}/accept";
}

/// `POST /api/v1/channels/{name}/invites`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteLinkRequest {
    /// How many joins it allows (1–1,000,000; unlimited without).
    #[serde(default)]
    pub max_uses: Option<i64>,
    /// Seconds until it expires (1 s to a year; default 7 days).
    #[serde(default)]
    pub expires_in: Option<i64>,
}

/// An invite link.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct InviteLink {
    /// The code: 22 URL-safe characters (16 random bytes).
    pub code: String,
    /// The channel (`#name@host`).
    pub channel: String,
    /// When it expires (RFC 3339).
    pub expires: String,
    /// How many joins it allows (`null`: unlimited).
    pub max_uses: Option<i64>,
    /// How many joins it made.
    pub uses: i64,
}

/// Paths of blocks.
pub mod block_paths {
    /// `POST`: block a user; `DELETE`: unblock.
    pub const BLOCK: &str = "/api/v1/users/{handle}/block";
    /// `GET`: the users this user blocked.
    pub const BLOCKS: &str = "/api/v1/users/me/blocks";
}

/// A blocked user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Block {
    /// `nick@server`.
    pub user: String,
    /// Since when (RFC 3339).
    pub ts: String,
}

/// `GET /api/v1/users/me/blocks`, and the answer to blocking and unblocking.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct BlockList {
    /// Oldest first.
    pub blocks: Vec<Block>,
}

/// Paths of reports and their review.
pub mod report_paths {
    /// `POST`: report a message.
    pub const REPORT: &str = "/api/v1/messages/{id}/report";
    /// `GET`: every report (server admins).
    pub const ADMIN_REPORTS: &str = "/api/v1/admin/reports";
    /// `POST`: resolve a report (server admins, or operators of its channel).
    pub const RESOLVE: &str = "/api/v1/admin/reports/{id}/resolve";
    /// `GET`: the reports of a channel hosted here (its operators).
    pub const CHANNEL_REPORTS: &str = "/api/v1/channels/{name}/reports";
}

/// `POST /api/v1/messages/{id}/report`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// Why (1–500 characters).
    pub reason: String,
}

/// Answer to a report.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportCreated {
    /// The report's id.
    pub id: String,
}

/// A report in a review queue.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Report {
    /// Its id.
    pub id: String,
    /// The reported message's id.
    pub message: String,
    /// The message as it is now (`null` once gone from the log).
    #[schema(value_type = Object)]
    pub event: Option<crate::event::Event>,
    /// The channel (`#name@host`) when it is one hosted here.
    pub channel: Option<String>,
    /// Who reported it.
    pub reporter: String,
    /// Who sent the message.
    pub sender: String,
    /// Why.
    pub reason: String,
    /// When (RFC 3339).
    pub ts: String,
    /// `open`, `dismissed`, `deleted` or `banned`.
    pub status: String,
    /// Who resolved it.
    pub resolved_by: Option<String>,
}

/// A review queue, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReportList {
    /// The reports.
    pub reports: Vec<Report>,
}

/// `GET` query of the review queues.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// Only open reports.
    #[serde(default)]
    pub open: Option<bool>,
}

/// `POST /api/v1/admin/reports/{id}/resolve`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolveRequest {
    /// `dismiss`, `delete` (the message is deleted as by an operator of its channel) or `ban`
    /// (its sender is banned from the channel, `+b nick@server`, and removed).
    pub action: String,
}

//! Community tools (issue 18): bans, mutes, notifications, invite links, blocks and reports.

use actix_web::http::Method;
use federation_proto::api::client::{ChannelInfo, ModeRequest};
use federation_proto::api::community::{
    block_paths, invite_paths, notification_paths, paths, report_paths, BlockList, InviteLink,
    InviteLinkRequest, LevelRequest, LevelResponse, MarkedRead, MuteRequest, NotificationList,
    ReportCreated, ReportList, ReportRequest, UnmuteRequest,
};
use serde::de::IgnoredAny;
use serde::Serialize;

use crate::client::{Auth, Call, Client};
use crate::error::ClientError;
use crate::path::{channel_path, fill, user_path};

#[derive(Serialize)]
struct UnreadQuery {
    unread: bool,
}

impl Client {
    /// `POST /api/v1/channels/{name}/mode` with `+b`/`-b MASK` (operators): bans (or lifts the
    /// ban of) `nick@server` masks with `*`/`?`; a ban also removes the members it matches.
    pub async fn ban(
        &self,
        channel: &str,
        mask: &str,
        on: bool,
    ) -> Result<ChannelInfo, ClientError> {
        let req = ModeRequest {
            modes: if on { "+b" } else { "-b" }.to_string(),
            nick: None,
            arg: Some(mask.to_string()),
        };
        self.set_mode(channel, &req).await
    }

    /// `POST /api/v1/channels/{name}/mute` (`seconds`: none for until lifted) or, with `on`
    /// false, `/unmute` (operators).
    pub async fn mute(
        &self,
        channel: &str,
        nick: &str,
        on: bool,
        seconds: Option<i64>,
    ) -> Result<(), ClientError> {
        let _: IgnoredAny = if on {
            let req = MuteRequest {
                nick: nick.to_string(),
                seconds,
            };
            self.post(&channel_path(paths::MUTE, channel)?, &req, Auth::Bearer)
                .await?
        } else {
            let req = UnmuteRequest {
                nick: nick.to_string(),
            };
            self.post(&channel_path(paths::UNMUTE, channel)?, &req, Auth::Bearer)
                .await?
        };
        Ok(())
    }

    /// `GET /api/v1/notifications[?unread=true]`: newest first, with the unread count.
    pub async fn notifications(&self, unread: bool) -> Result<NotificationList, ClientError> {
        if unread {
            self.get_query(
                notification_paths::NOTIFICATIONS,
                &UnreadQuery { unread },
                None,
            )
            .await
        } else {
            self.get(notification_paths::NOTIFICATIONS, Auth::Bearer)
                .await
        }
    }

    /// `PATCH /api/v1/notifications/{id}/read`, or with `None` `…/read-all`.
    pub async fn mark_notifications_read(
        &self,
        id: Option<&str>,
    ) -> Result<MarkedRead, ClientError> {
        let path = match id {
            Some(id) => fill(notification_paths::READ_ONE, "id", id),
            None => notification_paths::READ_ALL.to_string(),
        };
        self.call(Call::<(), ()>::new(Method::PATCH, &path, Auth::Bearer))
            .await
    }

    /// `PUT /api/v1/channels/{name}/notifications`: `all`, `mentions` or `muted`.
    pub async fn set_notification_level(
        &self,
        channel: &str,
        level: &str,
    ) -> Result<LevelResponse, ClientError> {
        let req = LevelRequest {
            level: level.to_string(),
        };
        let path = channel_path(notification_paths::LEVEL, channel)?;
        let mut call = Call::<(), LevelRequest>::new(Method::PUT, &path, Auth::Bearer);
        call.body = Some(&req);
        self.call(call).await
    }

    /// `POST /api/v1/channels/{name}/invites` (operators): a new invite link.
    pub async fn create_invite_link(
        &self,
        channel: &str,
        max_uses: Option<i64>,
        expires_in: Option<i64>,
    ) -> Result<InviteLink, ClientError> {
        let req = InviteLinkRequest {
            max_uses,
            expires_in,
        };
        self.post(
            &channel_path(invite_paths::CHANNEL_INVITES, channel)?,
            &req,
            Auth::Bearer,
        )
        .await
    }

    /// `GET /api/v1/invites/{code}`.
    pub async fn invite_link(&self, code: &str) -> Result<InviteLink, ClientError> {
        self.get(&fill(invite_paths::INVITE, "code", code), Auth::Bearer)
            .await
    }

    /// `POST /api/v1/invites/{code}/accept`: joins the channel.
    pub async fn accept_invite_link(&self, code: &str) -> Result<ChannelInfo, ClientError> {
        self.post(
            &fill(invite_paths::ACCEPT, "code", code),
            &serde_json::json!({}),
            Auth::Bearer,
        )
        .await
    }

    /// `DELETE /api/v1/invites/{code}` (operators).
    pub async fn revoke_invite_link(&self, code: &str) -> Result<(), ClientError> {
        let path = fill(invite_paths::INVITE, "code", code);
        let _: IgnoredAny = self
            .call(Call::<(), ()>::new(Method::DELETE, &path, Auth::Bearer))
            .await?;
        Ok(())
    }

    /// `POST /api/v1/users/{handle}/block`, or with `on` false `DELETE`: the list after.
    pub async fn block(&self, handle: &str, on: bool) -> Result<BlockList, ClientError> {
        let path = user_path(block_paths::BLOCK, handle)?;
        if on {
            self.post(&path, &serde_json::json!({}), Auth::Bearer).await
        } else {
            self.call(Call::<(), ()>::new(Method::DELETE, &path, Auth::Bearer))
                .await
        }
    }

    /// `GET /api/v1/users/me/blocks`.
    pub async fn blocks(&self) -> Result<BlockList, ClientError> {
        self.get(block_paths::BLOCKS, Auth::Bearer).await
    }

    /// `POST /api/v1/messages/{id}/report`.
    pub async fn report(&self, id: &str, reason: &str) -> Result<ReportCreated, ClientError> {
        let req = ReportRequest {
            reason: reason.to_string(),
        };
        self.post(&fill(report_paths::REPORT, "id", id), &req, Auth::Bearer)
            .await
    }

    /// `GET /api/v1/admin/reports` (server admins).
    pub async fn admin_reports(&self) -> Result<ReportList, ClientError> {
        self.get(report_paths::ADMIN_REPORTS, Auth::Bearer).await
    }
}

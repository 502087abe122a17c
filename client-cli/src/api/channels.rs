//! Channels: membership, listing, information, topic, modes, invites and kicks.

use federation_proto::api::client::{
    paths, ChannelInfo, ChannelList, JoinRequest, MemberActionRequest, ModeRequest, TopicRequest,
};
use serde::de::IgnoredAny;

use crate::client::{Auth, Client};
use crate::error::ClientError;
use crate::path::channel_path;

impl Client {
    /// `GET /api/v1/channels`: the channels this user is in.
    pub async fn channels(&self) -> Result<ChannelList, ClientError> {
        self.get(paths::CHANNELS, Auth::Bearer).await
    }

    /// `GET /api/v1/channels/public`: this server's public (not `+s`) channels.
    pub async fn public_channels(&self) -> Result<ChannelList, ClientError> {
        self.get(paths::CHANNELS_PUBLIC, Auth::Bearer).await
    }

    /// `POST /api/v1/channels/join`: joins `#name[@host]` (creating it when it does not exist),
    /// with the channel key when it is `+k`. Returns the channel as joined.
    pub async fn join(&self, channel: &str, key: Option<&str>) -> Result<ChannelInfo, ClientError> {
        let req = JoinRequest {
            channel: channel.to_string(),
            key: key.map(str::to_string),
            invite: None,
            reason: None,
        };
        self.post(paths::JOIN, &req, Auth::Bearer).await
    }

    /// `POST /api/v1/channels/part`: leaves a channel, with an optional part message.
    pub async fn part(&self, channel: &str, reason: Option<&str>) -> Result<(), ClientError> {
        let req = JoinRequest {
            channel: channel.to_string(),
            key: None,
            invite: None,
            reason: reason.map(str::to_string),
        };
        let _: IgnoredAny = self.post(paths::PART, &req, Auth::Bearer).await?;
        Ok(())
    }

    /// `GET /api/v1/channels/{name}`: topic, modes and members.
    pub async fn channel_info(&self, channel: &str) -> Result<ChannelInfo, ClientError> {
        self.get(&channel_path(paths::CHANNEL, channel)?, Auth::Bearer)
            .await
    }

    /// `POST /api/v1/channels/{name}/topic`: sets (or with `""` clears) the topic; returns the
    /// channel after the change.
    pub async fn set_topic(&self, channel: &str, topic: &str) -> Result<ChannelInfo, ClientError> {
        let req = TopicRequest {
            topic: topic.to_string(),
        };
        self.post(&channel_path(paths::TOPIC, channel)?, &req, Auth::Bearer)
            .await
    }

    /// `POST /api/v1/channels/{name}/mode`: `{"modes": "+mt"}`, `{"modes": "+o", "nick": "bob"}`,
    /// `{"modes": "+k", "arg": "secret"}`. See [`ModeRequest`] and [`mode_change`]. Returns the
    /// channel after the change.
    pub async fn set_mode(
        &self,
        channel: &str,
        req: &ModeRequest,
    ) -> Result<ChannelInfo, ClientError> {
        self.post(&channel_path(paths::MODE, channel)?, req, Auth::Bearer)
            .await
    }

    /// `POST /api/v1/channels/{name}/invite`: lets `nick` past `+i`.
    pub async fn invite(&self, channel: &str, nick: &str) -> Result<(), ClientError> {
        let req = MemberActionRequest {
            nick: nick.to_string(),
            reason: None,
        };
        let _: IgnoredAny = self
            .post(&channel_path(paths::INVITE, channel)?, &req, Auth::Bearer)
            .await?;
        Ok(())
    }

    /// `POST /api/v1/channels/{name}/kick`: removes `nick` from the channel.
    pub async fn kick(
        &self,
        channel: &str,
        nick: &str,
        reason: Option<&str>,
    ) -> Result<(), ClientError> {
        let req = MemberActionRequest {
            nick: nick.to_string(),
            reason: reason.map(str::to_string),
        };
        let _: IgnoredAny = self
            .post(&channel_path(paths::KICK, channel)?, &req, Auth::Bearer)
            .await?;
        Ok(())
    }
}

/// Builds a [`ModeRequest`] from IRC-style input: `+o bob` puts `bob` in `nick` (member modes
/// `o`, `v`, `q`), `+k secret` / `+l 50` put the value in `arg`, `+mt` needs no argument.
pub fn mode_change(modes: &str, arg: Option<&str>) -> ModeRequest {
    let letters: Vec<char> = modes.chars().filter(|c| c.is_ascii_alphabetic()).collect();
    let member = !letters.is_empty() && letters.iter().all(|c| matches!(c, 'o' | 'v' | 'q'));
    let arg = arg.map(str::to_string);
    if member {
        ModeRequest {
            modes: modes.to_string(),
            nick: arg,
            arg: None,
        }
    } else {
        ModeRequest {
            modes: modes.to_string(),
            nick: None,
            arg,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_changes() {
        let m = mode_change("+o", Some("bob"));
        assert_eq!((m.nick.as_deref(), m.arg.as_deref()), (Some("bob"), None));
        let m = mode_change("-v", Some("bob"));
        assert_eq!(m.nick.as_deref(), Some("bob"));
        let m = mode_change("+k", Some("secret"));
        assert_eq!(
            (m.nick.as_deref(), m.arg.as_deref()),
            (None, Some("secret"))
        );
        let m = mode_change("+mt", None);
        assert_eq!((m.modes.as_str(), m.nick, m.arg), ("+mt", None, None));
        let m = mode_change("+l", Some("50"));
        assert_eq!(m.arg.as_deref(), Some("50"));
    }
}

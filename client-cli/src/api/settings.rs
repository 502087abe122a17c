//! Channel settings (issue 24): the description, pins and deleting a channel.

use actix_web::http::Method;
use federation_proto::api::client::{
    paths, ChannelInfo, ChannelSettingsRequest, PinList, PinRequest,
};
use federation_proto::event::Event;

use crate::client::{Auth, Call, Client};
use crate::error::ClientError;
use crate::path::{channel_path, fill};

impl Client {
    /// `PUT /api/v1/channels/{name}`: sets (or with `""` clears) the description (operators);
    /// returns the channel after the change.
    pub async fn set_description(
        &self,
        channel: &str,
        description: &str,
    ) -> Result<ChannelInfo, ClientError> {
        let req = ChannelSettingsRequest {
            description: description.to_string(),
        };
        let path = channel_path(paths::CHANNEL, channel)?;
        let mut call = Call::<(), ChannelSettingsRequest>::new(Method::PUT, &path, Auth::Bearer);
        call.body = Some(&req);
        self.call(call).await
    }

    /// `GET /api/v1/channels/{name}/pins`: the pinned messages, newest pin first.
    pub async fn pins(&self, channel: &str) -> Result<PinList, ClientError> {
        self.get(&channel_path(paths::PINS, channel)?, Auth::Bearer)
            .await
    }

    /// `POST /api/v1/channels/{name}/pins`: pins the message `id` (operators); returns the
    /// `pin` event.
    pub async fn pin(&self, channel: &str, id: &str) -> Result<Event, ClientError> {
        let req = PinRequest { id: id.to_string() };
        self.post(&channel_path(paths::PINS, channel)?, &req, Auth::Bearer)
            .await
    }

    /// `DELETE /api/v1/channels/{name}/pins/{id}`: unpins the message `id` (operators);
    /// returns the `unpin` event.
    pub async fn unpin(&self, channel: &str, id: &str) -> Result<Event, ClientError> {
        let path = fill(&channel_path(paths::PIN, channel)?, "id", id);
        self.call(Call::<(), ()>::new(Method::DELETE, &path, Auth::Bearer))
            .await
    }

    /// `DELETE /api/v1/channels/{name}`: deletes the channel (its owner only); returns the
    /// `system` event that announced it.
    pub async fn delete_channel(&self, channel: &str) -> Result<Option<Event>, ClientError> {
        let path = channel_path(paths::CHANNEL, channel)?;
        self.call(Call::<(), ()>::new(Method::DELETE, &path, Auth::Bearer))
            .await
    }
}

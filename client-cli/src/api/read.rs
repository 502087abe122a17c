//! Read state and typing: read markers, receipts, the conversation list with unread counts,
//! and typing notifications.

use federation_proto::api::client::{
    paths, read_paths, ConversationsResponse, ReadRequest, ReadResponse, ReceiptsResponse,
    TypingRequest,
};
use serde::de::IgnoredAny;

use crate::client::{Auth, Client};
use crate::error::ClientError;
use crate::path::fill;

impl Client {
    /// `POST /api/v1/read`: moves this user's read marker in `target` (`#channel[@host]` or
    /// `nick[@server]`) to message `id`. The marker never moves backwards: an older id answers
    /// the current marker with `moved: false`.
    pub async fn read(&self, target: &str, id: &str) -> Result<ReadResponse, ClientError> {
        let req = ReadRequest {
            target: target.to_string(),
            id: id.to_string(),
        };
        self.post(read_paths::READ, &req, Auth::Bearer).await
    }

    /// `GET /api/v1/messages/{id}/receipts`: who has read up to or past a message, earliest
    /// first.
    pub async fn receipts(&self, id: &str) -> Result<ReceiptsResponse, ClientError> {
        self.get(&fill(read_paths::RECEIPTS, "id", id), Auth::Bearer)
            .await
    }

    /// `GET /api/v1/conversations`: every channel and DM of the user, most recent activity
    /// first, with `unread` and `mentions` counts from the stored read markers.
    pub async fn conversations(&self) -> Result<ConversationsResponse, ClientError> {
        self.get(read_paths::CONVERSATIONS, Auth::Bearer).await
    }

    /// `POST /api/v1/typing`: tells the other members of `target` that this user is typing
    /// (`on`; renew it every few seconds, it lapses after 5 s) or stopped.
    pub async fn typing(&self, target: &str, on: bool) -> Result<(), ClientError> {
        let req = TypingRequest {
            target: target.to_string(),
            typing: on,
        };
        let _: IgnoredAny = self.post(paths::TYPING, &req, Auth::Bearer).await?;
        Ok(())
    }
}

//! Server information and health: no login needed.

use federation_proto::api::client::{paths, Health, ServerInfo};

use crate::client::{Auth, Client};
use crate::error::ClientError;

impl Client {
    /// `GET /api/v1/server`: name, version, MOTD, user count, public key.
    pub async fn server_info(&self) -> Result<ServerInfo, ClientError> {
        self.get(paths::SERVER, Auth::None).await
    }

    /// `GET /.well-known/healthcheck.json`.
    pub async fn health(&self) -> Result<Health, ClientError> {
        self.get(paths::HEALTH, Auth::None).await
    }
}

//! Accounts and users: register, login, logout, own and others' profiles, nick changes.

use actix_web::http::Method;
use federation_proto::api::client::{
    paths, read_paths, LoginRequest, LoginResponse, NickRequest, ProfileUpdate, RegisterRequest,
    RegisterResponse, UserProfile, UserSearchQuery, UserSearchResponse,
};
use serde::de::IgnoredAny;

use crate::client::{Auth, Call, Client};
use crate::error::{ClientError, ErrorKind};
use crate::path::user_path;

impl Client {
    /// `POST /api/v1/register`: creates an account and logs this client in as its first device.
    pub async fn register(
        &mut self,
        nick: &str,
        password: &str,
        device: Option<&str>,
    ) -> Result<RegisterResponse, ClientError> {
        let req = RegisterRequest {
            nick: nick.to_string(),
            password: password.to_string(),
            device: device.map(str::to_string),
        };
        let resp: RegisterResponse = self.post(paths::REGISTER, &req, Auth::None).await?;
        self.set_token(Some(resp.token.clone()));
        Ok(resp)
    }

    /// `POST /api/v1/login`: logs in as a new device of `nick` and keeps the token.
    pub async fn login(
        &mut self,
        nick: &str,
        password: &str,
        device: Option<&str>,
    ) -> Result<LoginResponse, ClientError> {
        let req = LoginRequest {
            nick: nick.to_string(),
            password: password.to_string(),
            device: device.map(str::to_string),
        };
        let resp: LoginResponse = self.post(paths::LOGIN, &req, Auth::None).await?;
        self.set_token(Some(resp.token.clone()));
        Ok(resp)
    }

    /// Logs in, registering the account first when it does not exist yet: handy for bots.
    /// Returns the device id.
    pub async fn login_or_register(
        &mut self,
        nick: &str,
        password: &str,
        device: Option<&str>,
    ) -> Result<String, ClientError> {
        match self.register(nick, password, device).await {
            Ok(resp) => Ok(resp.device_id),
            Err(e) if e.kind() == ErrorKind::Conflict => {
                Ok(self.login(nick, password, device).await?.device_id)
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /api/v1/logout`: ends this device's token and forgets it.
    pub async fn logout(&mut self) -> Result<(), ClientError> {
        let _: IgnoredAny = self
            .post(paths::LOGOUT, &serde_json::json!({}), Auth::Bearer)
            .await?;
        self.set_token(None);
        Ok(())
    }

    /// `GET /api/v1/users/me`: own profile.
    pub async fn me(&self) -> Result<UserProfile, ClientError> {
        self.get(paths::ME, Auth::Bearer).await
    }

    /// `GET /api/v1/users/{handle}`: anyone's profile with online status and idle time.
    pub async fn user(&self, handle: &str) -> Result<UserProfile, ClientError> {
        self.get(&user_path(paths::USER, handle)?, Auth::Bearer)
            .await
    }

    /// `POST /api/v1/users/nick`: changes own nick; returns the updated profile.
    pub async fn change_nick(&self, nick: &str) -> Result<UserProfile, ClientError> {
        let req = NickRequest {
            nick: nick.to_string(),
        };
        self.post(paths::NICK, &req, Auth::Bearer).await
    }

    /// `PATCH /api/v1/users/me`: sets any of display name, avatar, status (`online`, `away`,
    /// `busy`, `offline` = appear offline) and status message; `Some("")` clears a text field,
    /// `None` leaves a field as it is. Returns the updated profile.
    pub async fn update_profile(&self, update: &ProfileUpdate) -> Result<UserProfile, ClientError> {
        let mut call = Call::<(), ProfileUpdate>::new(Method::PATCH, paths::ME, Auth::Bearer);
        call.body = Some(update);
        self.call(call).await
    }

    /// `GET /api/v1/users/search?q=`: users of this server whose nick or display name contains
    /// `q` (case-insensitive, 1–50 characters), nick prefixes first.
    pub async fn search_users(&self, q: &str) -> Result<Vec<UserProfile>, ClientError> {
        let query = UserSearchQuery {
            q: Some(q.to_string()),
            limit: None,
        };
        let resp: UserSearchResponse = self
            .get_query(read_paths::USER_SEARCH, &query, None)
            .await?;
        Ok(resp.users)
    }
}

//! What every command needs: the chosen profile, the server URL, an SDK client and the output mode.

use std::path::PathBuf;

use hearth_client::{Client, ClientConfig};
use serde::Serialize;

use crate::cli::error::CliError;
use crate::cli::profile::{Profile, ProfileStore};

/// The state of one `hearth` run.
pub struct Context {
    /// Where profiles live.
    pub store: ProfileStore,
    /// The chosen profile's name.
    pub profile_name: String,
    /// The chosen profile, when it exists.
    pub profile: Option<Profile>,
    /// `--server`, when given.
    pub server_override: Option<String>,
    /// `--json`.
    pub json: bool,
    /// `--extra-ca-file` (`EXTRA_CA_FILE`): a private CA to trust besides the public roots.
    pub extra_ca_file: Option<PathBuf>,
}

impl Context {
    /// Loads the profile named `profile_name` from `store`.
    pub fn load(
        store: ProfileStore,
        profile_name: String,
        server_override: Option<String>,
        json: bool,
    ) -> Result<Context, CliError> {
        let profile = store.load(&profile_name)?;
        Ok(Context {
            store,
            profile_name,
            profile,
            server_override,
            json,
            extra_ca_file: None,
        })
    }

    /// The homeserver URL: `--server`, else the profile's.
    pub fn server_url(&self) -> Result<String, CliError> {
        self.server_override
            .clone()
            .or_else(|| self.profile.as_ref().map(|p| p.server.clone()))
            .ok_or_else(|| {
                CliError::Config(format!(
                    "no server for profile {:?}: pass --server URL (or set HEARTH_SERVER)",
                    self.profile_name
                ))
            })
    }

    /// A client for the server, not logged in.
    pub fn client(&self) -> Result<Client, CliError> {
        let mut config = ClientConfig::default();
        if let Some(path) = self
            .extra_ca_file
            .as_deref()
            .filter(|p| !p.as_os_str().is_empty())
        {
            config = config
                .with_extra_ca_file(path)
                .map_err(|e| CliError::Config(e.to_string()))?;
        }
        Ok(Client::with_config(&self.server_url()?, config)?)
    }

    /// A client logged in with the profile's token.
    pub fn authed(&self) -> Result<Client, CliError> {
        let token = self
            .profile
            .as_ref()
            .and_then(|p| p.token.clone())
            .ok_or_else(|| {
                CliError::NotLoggedIn(format!(
                    "profile {:?} is not logged in: run `hearth --profile {} login NICK`",
                    self.profile_name, self.profile_name
                ))
            })?;
        Ok(self.client()?.with_token(token))
    }

    /// Saves `profile` as the chosen profile and keeps it.
    pub fn save(&mut self, profile: Profile) -> Result<(), CliError> {
        self.store.save(&self.profile_name, &profile)?;
        self.profile = Some(profile);
        Ok(())
    }

    /// The local server's name as seen in handles (`hs1` of `alice@hs1`), for short display.
    pub fn local_server(&self) -> Option<String> {
        let handle = self.profile.as_ref()?.handle.as_ref()?;
        crate::render::server_of(handle).map(str::to_string)
    }

    /// Prints `value` as one line of JSON with `--json`, else the text `human` makes.
    pub fn emit<T: Serialize>(
        &self,
        value: &T,
        human: impl FnOnce() -> String,
    ) -> Result<(), CliError> {
        if self.json {
            let text = serde_json::to_string(value).map_err(std::io::Error::other)?;
            println!("{text}");
        } else {
            let text = human();
            if !text.is_empty() {
                println!("{text}");
            }
        }
        Ok(())
    }
}

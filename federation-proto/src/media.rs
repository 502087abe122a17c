//! Media: the media id, the paths and the bodies of the media API (issue 17).
//!
//! A media id names its origin server the way a handle does: `<uuid>@<server>`
//! (`0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b@hs1.example`), so that any server that meets it in
//! an event's `attachments` knows where the bytes live. The UUID is a v7 made by the origin.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::ids::ServerName;

/// Paths of the media API.
pub mod paths {
    /// `POST`: upload (multipart `file` part, or a raw body with `?filename=`).
    pub const MEDIA: &str = "/api/v1/media";
    /// `GET`: the bytes of one media.
    pub const MEDIA_ONE: &str = "/api/v1/media/{id}";
    /// `GET`: a thumbnail of an image (at most 320×320).
    pub const MEDIA_THUMBNAIL: &str = "/api/v1/media/{id}/thumbnail";
    /// `GET`, signed by a peer: the description of a media of this server ([`super::RemoteMedia`]).
    pub const FEDERATION_MEDIA: &str = "/api/v1/federation/media/{id}";
    /// `GET`, signed by a peer: the bytes of a media of this server.
    pub const FEDERATION_MEDIA_CONTENT: &str = "/api/v1/federation/media/{id}/content";
}

/// At most this many attachments per message.
pub const MAX_ATTACHMENTS: usize = 10;
/// Longest kept file name, in characters.
pub const FILENAME_MAX_CHARS: usize = 255;

/// A media id: `<uuid>@<server>`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MediaId {
    /// The origin's UUID (v7).
    pub uuid: uuid::Uuid,
    /// The server that holds the original.
    pub server: ServerName,
}

impl MediaId {
    /// A new id on `server`.
    pub fn new(server: ServerName) -> MediaId {
        MediaId {
            uuid: uuid::Uuid::now_v7(),
            server,
        }
    }
}

/// A string that is not a media id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not a media id (uuid@server)")]
pub struct MediaIdError(pub String);

impl FromStr for MediaId {
    type Err = MediaIdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || MediaIdError(s.chars().take(80).collect());
        let (uuid, server) = s.split_once('@').ok_or_else(bad)?;
        // Only the canonical hyphenated lower-case form, so that one media has one id.
        if uuid.len() != 36 || uuid.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(bad());
        }
        let uuid = uuid::Uuid::parse_str(uuid).map_err(|_| bad())?;
        let server: ServerName = server.parse().map_err(|_| bad())?;
        if server.as_str() != s.split_once('@').map_or("", |(_, srv)| srv) {
            // Not in its canonical (lower-case) form.
            return Err(bad());
        }
        Ok(MediaId { uuid, server })
    }
}

impl fmt::Display for MediaId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.uuid.hyphenated(), self.server)
    }
}

impl Serialize for MediaId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for MediaId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// `POST /api/v1/media?filename=`: the name of a raw-body upload.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The file's name (a hint only: the type comes from the bytes).
    pub filename: Option<String>,
}

/// `201` answer of an upload, and the description of a stored media.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MediaInfo {
    /// `<uuid>@<server>`.
    pub id: String,
    /// The file's name as uploaded (cleaned of paths and control characters).
    pub filename: String,
    /// Bytes.
    pub size: i64,
    /// Decided by the file's magic bytes (`image/png`, `application/pdf`, …).
    pub content_type: String,
    /// Where to download it (`/api/v1/media/{id}`).
    pub url: String,
    /// Where its thumbnail is, for images.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_url: Option<String>,
}

/// What the origin of a media tells a peer about it (`GET /api/v1/federation/media/{id}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemoteMedia {
    /// `<uuid>@<origin>`.
    pub id: String,
    /// The file's name.
    pub filename: String,
    /// Bytes.
    pub size: i64,
    /// Its type.
    pub content_type: String,
    /// Lower-case hex sha256 of the bytes: the receiver checks what it fetched against it.
    pub sha256: String,
    /// The uploader's handle.
    pub uploader: String,
    /// Unix ms of the upload.
    pub created_ms: i64,
}

/// The URL path of a media.
pub fn media_url(id: &str) -> String {
    format!("/api/v1/media/{id}")
}

/// The URL path of a media's thumbnail.
pub fn thumbnail_url(id: &str) -> String {
    format!("/api/v1/media/{id}/thumbnail")
}

/// Whether a type gets thumbnails (the image formats the thumbnailer decodes).
pub fn has_thumbnail(content_type: &str) -> bool {
    matches!(
        content_type,
        "image/png" | "image/jpeg" | "image/gif" | "image/webp"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_and_reject_the_rest() {
        let id = MediaId::new("hs1.example:8080".parse().unwrap());
        let text = id.to_string();
        assert_eq!(text.parse::<MediaId>().unwrap(), id);
        for bad in [
            "",
            "x@hs1",
            "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b",
            "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b@",
            "0192F1D6-8c1e-7a4e-9b1a-3f2c9d4e5a6b@hs1",
            "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b@HS1",
            "0192f1d68c1e7a4e9b1a3f2c9d4e5a6b@hs1",
            "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b@hs1/../x",
        ] {
            assert!(bad.parse::<MediaId>().is_err(), "{bad}");
        }
    }
}

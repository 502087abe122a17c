//! The directory's signing key and the name it signs as.

use federation_proto::api::directory::DirectoryEntry;
use federation_proto::keydoc::KeyDocument;
use federation_proto::keyring::KeyRing;
use federation_proto::signing::{sign_json, SigningError};
use serde_json::Value;

/// Signs entries and the key document.
#[derive(Debug)]
pub struct Signer {
    name: String,
    keys: KeyRing,
}

impl Signer {
    /// A signer named `name` with the key ring of the data directory.
    pub fn new(name: impl Into<String>, keys: KeyRing) -> Signer {
        Signer {
            name: name.into(),
            keys,
        }
    }

    /// The name signatures are filed under (`signatures[name][key_id]`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The current public key, unpadded base64 (what homeservers pin as `DIRECTORY_KEY`).
    pub fn public_key_b64(&self) -> String {
        self.keys.current().public_key_b64()
    }

    /// The key document served at `GET /directory/v1/key`.
    pub fn key_document(&self, now_ms: u64) -> Result<KeyDocument, SigningError> {
        self.keys.key_document(&self.name, now_ms)
    }

    /// The entry as JSON, signed by the directory.
    pub fn sign_entry(&self, entry: &DirectoryEntry) -> Result<Value, SigningError> {
        let mut value = serde_json::to_value(entry).map_err(|_| SigningError::NotAnObject)?;
        if let Some(map) = value.as_object_mut() {
            map.remove("signatures");
        }
        sign_json(&mut value, &self.name, self.keys.current())?;
        Ok(value)
    }
}

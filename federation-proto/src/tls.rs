//! TLS settings shared by the homeserver, the directory and the `hearth` client (feature
//! `tls`): rustls on the **ring** provider, selected explicitly (never the process default, so
//! a dependency that enables another provider cannot change it).
//!
//! - [`client_config`]: what outbound HTTPS trusts: the public web PKI (Mozilla's root list,
//!   compiled in by `webpki-roots`) plus the certificates of `EXTRA_CA_FILE` (a private CA).
//! - [`server_config`]: what `TLS_CERT` and `TLS_KEY` serve.
//!
//! - [`load_client`] and [`load_server`]: the same from the configured files, with errors that
//!   name the setting and the file.
//!
//! Like the rest of this crate it does no I/O: callers pass the PEM bytes, or the function that
//! reads a file (`std::fs::read`).

use std::io;
use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, RootCertStore, ServerConfig};

/// The rustls this module builds settings for (awc and actix-web take its types).
pub use rustls;

/// Why TLS settings could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    /// The PEM data holds no `CERTIFICATE` block.
    #[error("no certificate (PEM \"BEGIN CERTIFICATE\") found")]
    NoCertificate,
    /// The PEM data holds no private key block.
    #[error("no private key (PEM \"BEGIN PRIVATE KEY\", RSA or EC) found")]
    NoPrivateKey,
    /// A PEM block could not be read.
    #[error("invalid PEM: {0}")]
    Pem(String),
    /// rustls refused the certificate or the key (an unusable CA certificate, a key that does
    /// not match the certificate, an unsupported key type, …).
    #[error("{0}")]
    Refused(String),
}

/// The crypto provider of every Hearth TLS connection: ring.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The certificates of a PEM bundle (one or several `CERTIFICATE` blocks; other blocks are
/// skipped).
pub fn certificates(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    Ok(certs)
}

/// Client settings: the public roots plus every certificate of `extra_ca_pem` as a trust
/// anchor. HTTP/1.1 is offered by ALPN (the servers are built without HTTP/2).
pub fn client_config(extra_ca_pem: Option<&[u8]>) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(pem) = extra_ca_pem {
        for cert in certificates(pem)? {
            roots
                .add(cert)
                .map_err(|e| TlsError::Refused(format!("unusable CA certificate: {e}")))?;
        }
    }
    let mut config = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Refused(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// Server settings: the certificate chain of `cert_pem` (the server's certificate first) and
/// the private key of `key_pem`, which must match it.
pub fn server_config(cert_pem: &[u8], key_pem: &[u8]) -> Result<ServerConfig, TlsError> {
    let chain = certificates(cert_pem)?;
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
        rustls::pki_types::pem::Error::NoItemsFound => TlsError::NoPrivateKey,
        e => TlsError::Pem(e.to_string()),
    })?;
    ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| TlsError::Refused(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| TlsError::Refused(e.to_string()))
}

/// A TLS setting that cannot be used: which setting, which file, and why.
#[derive(Debug, thiserror::Error)]
pub enum TlsFileError {
    /// Only one of `TLS_CERT` and `TLS_KEY` is set.
    #[error("TLS_CERT and TLS_KEY go together: {missing} is not set")]
    Incomplete {
        /// The one that is missing.
        missing: &'static str,
    },
    /// The file could not be read.
    #[error("{setting} {path}: cannot read it: {source}")]
    Read {
        /// `TLS_CERT`, `TLS_KEY` or `EXTRA_CA_FILE`.
        setting: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: io::Error,
    },
    /// The file was read but is not usable.
    #[error("{setting} {path}: {source}")]
    Invalid {
        /// `TLS_CERT`, `TLS_KEY` or `EXTRA_CA_FILE` (`TLS_CERT`/`TLS_KEY` when they do not match).
        setting: &'static str,
        /// The file.
        path: String,
        /// Why.
        source: TlsError,
    },
}

fn read_setting(
    setting: &'static str,
    path: &Path,
    read: &impl Fn(&Path) -> io::Result<Vec<u8>>,
) -> Result<Vec<u8>, TlsFileError> {
    read(path).map_err(|source| TlsFileError::Read {
        setting,
        path: path.display().to_string(),
        source,
    })
}

/// [`client_config`] trusting the public roots plus the certificates of `EXTRA_CA_FILE`
/// (when set), read with `read`.
pub fn load_client(
    extra_ca_file: Option<&Path>,
    read: impl Fn(&Path) -> io::Result<Vec<u8>>,
) -> Result<Arc<ClientConfig>, TlsFileError> {
    let pem = extra_ca_file
        .map(|path| read_setting("EXTRA_CA_FILE", path, &read).map(|pem| (path, pem)))
        .transpose()?;
    let config = client_config(pem.as_ref().map(|(_, pem)| pem.as_slice())).map_err(|source| {
        TlsFileError::Invalid {
            setting: "EXTRA_CA_FILE",
            path: pem
                .as_ref()
                .map(|(path, _)| path.display().to_string())
                .unwrap_or_default(),
            source,
        }
    })?;
    Ok(Arc::new(config))
}

/// [`server_config`] from `TLS_CERT` and `TLS_KEY`, read with `read`; `None` when neither is
/// set (plain HTTP), an error when only one is.
pub fn load_server(
    cert_file: Option<&Path>,
    key_file: Option<&Path>,
    read: impl Fn(&Path) -> io::Result<Vec<u8>>,
) -> Result<Option<ServerConfig>, TlsFileError> {
    let (cert_file, key_file) = match (cert_file, key_file) {
        (None, None) => return Ok(None),
        (Some(_), None) => return Err(TlsFileError::Incomplete { missing: "TLS_KEY" }),
        (None, Some(_)) => {
            return Err(TlsFileError::Incomplete {
                missing: "TLS_CERT",
            })
        }
        (Some(cert), Some(key)) => (cert, key),
    };
    let cert_pem = read_setting("TLS_CERT", cert_file, &read)?;
    let key_pem = read_setting("TLS_KEY", key_file, &read)?;
    let invalid = |setting, path: &Path, source| TlsFileError::Invalid {
        setting,
        path: path.display().to_string(),
        source,
    };
    certificates(&cert_pem).map_err(|e| invalid("TLS_CERT", cert_file, e))?;
    server_config(&cert_pem, &key_pem)
        .map(Some)
        .map_err(|e| match e {
            TlsError::NoPrivateKey | TlsError::Pem(_) => invalid("TLS_KEY", key_file, e),
            e => invalid(
                "TLS_CERT/TLS_KEY",
                key_file,
                TlsError::Refused(format!("does not go with {}: {e}", cert_file.display())),
            ),
        })
}

/// A server's TLS settings, read once at start.
#[derive(Debug, Clone)]
pub struct TlsSettings {
    /// What outbound HTTPS trusts: the public roots plus `EXTRA_CA_FILE`.
    pub client: Arc<ClientConfig>,
    /// What the server serves with `TLS_CERT` and `TLS_KEY`; `None`: plain HTTP.
    pub server: Option<Arc<ServerConfig>>,
}

impl TlsSettings {
    /// [`load_client`] and [`load_server`] from the three settings (`None`: not set).
    pub fn load(
        cert_file: Option<&Path>,
        key_file: Option<&Path>,
        extra_ca_file: Option<&Path>,
        read: impl Fn(&Path) -> io::Result<Vec<u8>>,
    ) -> Result<TlsSettings, TlsFileError> {
        Ok(TlsSettings {
            client: load_client(extra_ca_file, &read)?,
            server: load_server(cert_file, key_file, &read)?.map(Arc::new),
        })
    }

    /// `https` when serving TLS, else `http`: the scheme of the ready line and of the default
    /// public URL.
    pub fn scheme(&self) -> &'static str {
        if self.server.is_some() {
            "https"
        } else {
            "http"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_extra_ca_the_public_roots_are_trusted() {
        assert!(client_config(None).is_ok());
    }

    fn no_file(_: &Path) -> io::Result<Vec<u8>> {
        Err(io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    #[test]
    fn settings_name_what_is_missing_or_unreadable() {
        let (cert, key) = (Path::new("/etc/cert.pem"), Path::new("/etc/key.pem"));
        assert!(load_server(None, None, no_file).unwrap().is_none());
        let only_cert = load_server(Some(cert), None, no_file).unwrap_err();
        assert_eq!(
            only_cert.to_string(),
            "TLS_CERT and TLS_KEY go together: TLS_KEY is not set"
        );
        let only_key = load_server(None, Some(key), no_file).unwrap_err();
        assert!(only_key.to_string().ends_with("TLS_CERT is not set"));
        let unreadable = load_server(Some(cert), Some(key), no_file).unwrap_err();
        assert_eq!(
            unreadable.to_string(),
            "TLS_CERT /etc/cert.pem: cannot read it: no such file"
        );
        let settings = TlsSettings::load(None, None, None, no_file).unwrap();
        assert_eq!(settings.scheme(), "http");
        let ca = load_client(Some(Path::new("/etc/ca.pem")), no_file).unwrap_err();
        assert!(ca
            .to_string()
            .starts_with("EXTRA_CA_FILE /etc/ca.pem: cannot read it"));
        let empty = load_client(Some(Path::new("/etc/ca.pem")), |_| Ok(Vec::new())).unwrap_err();
        assert_eq!(
            empty.to_string(),
            "EXTRA_CA_FILE /etc/ca.pem: no certificate (PEM \"BEGIN CERTIFICATE\") found"
        );
    }

    #[test]
    fn pem_without_certificates_or_keys_is_refused() {
        assert_eq!(certificates(b"").unwrap_err(), TlsError::NoCertificate);
        assert_eq!(
            client_config(Some(b"not a pem file")).unwrap_err(),
            TlsError::NoCertificate
        );
        let junk = b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n";
        assert!(matches!(certificates(junk), Err(TlsError::Pem(_))));
        assert!(matches!(client_config(Some(junk)), Err(TlsError::Pem(_))));
    }
}

//! Certificates for the HTTPS tests, made with rcgen: private CAs, and server certificates for
//! `127.0.0.1` and `localhost` written to files the servers read (`TLS_CERT`, `TLS_KEY`,
//! `EXTRA_CA_FILE`). Test URLs are `https://127.0.0.1:PORT`, so a certificate is checked
//! against the IP address, not the server's name.
//!
//! Every HTTP client of the harness ([`crate::api::Api`]) trusts the public roots plus
//! [`test_ca`], made once per test process.

use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, OnceLock};

use federation_proto::tls::rustls;
use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, SanType,
};

/// A private certificate authority.
pub struct TestCa {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

/// A server certificate, its key and its CA's certificate, as PEM files in a temporary
/// directory (removed when dropped).
pub struct TestCert {
    dir: tempfile::TempDir,
    cert: String,
    key: String,
    ca: String,
}

impl TestCa {
    /// A new CA whose certificate names it `name`.
    pub fn new(name: &str) -> TestCa {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.distinguished_name.push(DnType::CommonName, name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().expect("CA key");
        TestCa {
            issuer: CertifiedIssuer::self_signed(params, key).expect("CA certificate"),
        }
    }

    /// The CA's certificate (PEM).
    pub fn pem(&self) -> String {
        self.issuer.pem()
    }

    /// A certificate for `127.0.0.1` and `localhost`.
    pub fn issue(&self) -> TestCert {
        self.issue_for(&[
            SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)),
            SanType::DnsName("localhost".try_into().expect("a DNS name")),
        ])
    }

    /// A certificate for the DNS name `name` only: wrong for `https://127.0.0.1:…`.
    pub fn issue_for_name(&self, name: &str) -> TestCert {
        self.issue_for(&[SanType::DnsName(name.try_into().expect("a DNS name"))])
    }

    /// A certificate for `127.0.0.1` and `localhost` that expired on 2020-01-01 (for
    /// `homeserver doctor`).
    pub fn issue_expired(&self) -> TestCert {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.subject_alt_names = vec![SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST))];
        params.not_before = rcgen::date_time_ymd(2019, 1, 1);
        params.not_after = rcgen::date_time_ymd(2020, 1, 1);
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        TestCert::write(&cert.pem(), &key.serialize_pem(), &self.pem())
    }

    fn issue_for(&self, names: &[SanType]) -> TestCert {
        let mut params = CertificateParams::new(Vec::<String>::new()).expect("params");
        params.subject_alt_names = names.to_vec();
        params
            .distinguished_name
            .push(DnType::CommonName, "hearth test server");
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let key = KeyPair::generate().expect("server key");
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        TestCert::write(&cert.pem(), &key.serialize_pem(), &self.pem())
    }
}

impl TestCert {
    fn write(cert: &str, key: &str, ca: &str) -> TestCert {
        let dir = tempfile::tempdir().expect("temp dir");
        let file = |name: &str, text: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, text).expect("write a PEM file");
            path.to_string_lossy().into_owned()
        };
        TestCert {
            cert: file("cert.pem", cert),
            key: file("key.pem", key),
            ca: file("ca.pem", ca),
            dir,
        }
    }

    /// Writes `text` (e.g. a bundle of several CAs) to a file beside the certificate; returns
    /// its path.
    pub fn add_file(&self, name: &str, text: &str) -> String {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).expect("write a file");
        path.to_string_lossy().into_owned()
    }

    /// The certificate file (`TLS_CERT`).
    pub fn cert(&self) -> &str {
        &self.cert
    }

    /// The key file (`TLS_KEY`).
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The issuing CA's certificate file (`EXTRA_CA_FILE`).
    pub fn ca(&self) -> &str {
        &self.ca
    }

    /// The directory holding the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// `TLS_CERT`, `TLS_KEY` and `EXTRA_CA_FILE` of a server that serves this certificate and
    /// trusts its CA.
    pub fn env(&self) -> Vec<(&'static str, &str)> {
        vec![
            ("TLS_CERT", self.cert()),
            ("TLS_KEY", self.key()),
            ("EXTRA_CA_FILE", self.ca()),
        ]
    }
}

/// The CA that every harness client trusts, made once per test process.
pub fn test_ca() -> &'static TestCa {
    static CA: OnceLock<TestCa> = OnceLock::new();
    CA.get_or_init(|| TestCa::new("Hearth test CA"))
}

/// What the harness's HTTPS clients trust: the public roots plus [`test_ca`].
pub fn client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    Arc::clone(CONFIG.get_or_init(|| {
        let pem = test_ca().pem();
        Arc::new(federation_proto::tls::client_config(Some(pem.as_bytes())).expect("client TLS"))
    }))
}

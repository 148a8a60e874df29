//! A per-run certificate authority (rcgen) and the rustls configs built from it: the fake
//! servers and spawned Synapses present leaf certificates it issues, and every federation
//! client of the run (the harness's and Synapse's `federation_custom_ca_list`) trusts it.

use std::path::Path;
use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose, SanType,
};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use super::{FederationError, io_err};

/// Names every leaf certificate is valid for: loopback only.
pub const LEAF_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// A certificate authority made for one run; its private key never leaves the process.
pub struct RunCa {
    issuer: Issuer<'static, KeyPair>,
    cert_der: CertificateDer<'static>,
    cert_pem: String,
}

impl std::fmt::Debug for RunCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCa").finish_non_exhaustive()
    }
}

/// A leaf certificate (for [`LEAF_NAMES`]) and its private key, both PEM.
#[derive(Clone)]
pub struct LeafCert {
    /// The certificate, PEM.
    pub cert_pem: String,
    /// The private key (PKCS#8), PEM.
    pub key_pem: String,
    cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for LeafCert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LeafCert").finish_non_exhaustive()
    }
}

fn tls_err(what: &str) -> impl FnOnce(rcgen::Error) -> FederationError + '_ {
    move |e| FederationError::Tls(format!("{what}: {e}"))
}

/// The crypto provider every config of the run uses (the one reqwest uses too).
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

impl RunCa {
    /// A fresh CA (ECDSA P-256, valid from yesterday for a year).
    pub fn new() -> Result<Self, FederationError> {
        Self::generate().map(|(ca, _)| ca)
    }

    /// A fresh CA and its private key (PEM).
    fn generate() -> Result<(Self, String), FederationError> {
        let mut params =
            CertificateParams::new(Vec::<String>::new()).map_err(tls_err("CA parameters"))?;
        params
            .distinguished_name
            .push(DnType::CommonName, "mxharness run CA");
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        set_validity(&mut params);
        let key = KeyPair::generate().map_err(tls_err("CA key"))?;
        let cert = params
            .self_signed(&key)
            .map_err(tls_err("CA certificate"))?;
        let key_pem = key.serialize_pem();
        let ca = Self {
            cert_pem: cert.pem(),
            cert_der: cert.der().clone(),
            issuer: Issuer::new(params, key),
        };
        Ok((ca, key_pem))
    }

    /// The CA kept in `dir` (`ca.pem` and `ca.key`), made and written there first when the
    /// folder has none, so that a remote target can be told once to trust it (the key file is
    /// readable by its owner only).
    pub fn load_or_create(dir: &Path) -> Result<Self, FederationError> {
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        if !cert_path.exists() && !key_path.exists() {
            let (ca, key_pem) = Self::generate()?;
            std::fs::create_dir_all(dir)
                .map_err(io_err(format!("cannot create {}", dir.display())))?;
            write_private(&key_path, &key_pem)?;
            ca.write_pem(&cert_path)?;
            return Ok(ca);
        }
        let read = |p: &Path| {
            std::fs::read_to_string(p).map_err(io_err(format!("cannot read {}", p.display())))
        };
        let (cert_pem, key_pem) = (read(&cert_path)?, read(&key_path)?);
        let key = KeyPair::from_pem(&key_pem).map_err(|e| {
            FederationError::Tls(format!("{}: not a private key: {e}", key_path.display()))
        })?;
        let cert_der = rustls_pki_types::pem::PemObject::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| {
                FederationError::Tls(format!("{}: not a certificate: {e}", cert_path.display()))
            })?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key).map_err(|e| {
            FederationError::Tls(format!(
                "{}: not a CA certificate: {e}",
                cert_path.display()
            ))
        })?;
        Ok(Self {
            issuer,
            cert_der,
            cert_pem,
        })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// The CA certificate, DER.
    pub fn cert_der(&self) -> &CertificateDer<'static> {
        &self.cert_der
    }

    /// Write the CA certificate (PEM) to `path`, e.g. for Synapse's `federation_custom_ca_list`.
    pub fn write_pem(&self, path: &Path) -> Result<(), FederationError> {
        std::fs::write(path, &self.cert_pem)
            .map_err(io_err(format!("cannot write {}", path.display())))
    }

    /// A new leaf certificate for `localhost`, `127.0.0.1` and `::1`.
    pub fn issue_leaf(&self) -> Result<LeafCert, FederationError> {
        let mut params = CertificateParams::new(vec!["localhost".to_owned()])
            .map_err(tls_err("leaf parameters"))?;
        params.subject_alt_names = vec![
            SanType::DnsName("localhost".try_into().map_err(tls_err("leaf name"))?),
            SanType::IpAddress(std::net::IpAddr::from([127, 0, 0, 1])),
            SanType::IpAddress(std::net::IpAddr::from(std::net::Ipv6Addr::LOCALHOST)),
        ];
        params
            .distinguished_name
            .push(DnType::CommonName, "localhost");
        params.is_ca = IsCa::ExplicitNoCa;
        params.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        set_validity(&mut params);
        let key = KeyPair::generate().map_err(tls_err("leaf key"))?;
        let cert = params
            .signed_by(&key, &self.issuer)
            .map_err(tls_err("leaf certificate"))?;
        Ok(LeafCert {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
            cert_der: cert.der().clone(),
            key_der: key.serialize_der(),
        })
    }

    /// Root store holding only this CA.
    pub fn root_store(&self) -> Result<rustls::RootCertStore, FederationError> {
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(self.cert_der.clone())
            .map_err(|e| FederationError::Tls(format!("CA not accepted as a root: {e}")))?;
        Ok(roots)
    }

    /// A rustls client config trusting only this CA.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, FederationError> {
        Ok(rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| FederationError::Tls(format!("client protocol versions: {e}")))?
            .with_root_certificates(self.root_store()?)
            .with_no_client_auth())
    }

    /// The CA as a reqwest root certificate.
    pub fn reqwest_certificate(&self) -> Result<reqwest::Certificate, FederationError> {
        reqwest::Certificate::from_der(self.cert_der.as_ref())
            .map_err(|e| FederationError::Tls(format!("CA not accepted by the HTTP client: {e}")))
    }
}

impl LeafCert {
    /// A rustls server config presenting this certificate (HTTP/1.1 only).
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, FederationError> {
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.key_der.clone()));
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| FederationError::Tls(format!("server protocol versions: {e}")))?
            .with_no_client_auth()
            .with_single_cert(vec![self.cert_der.clone()], key)
            .map_err(|e| FederationError::Tls(format!("server certificate: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }

    /// Write `<stem>.crt` and `<stem>.key` (mode 0600) into `dir`; returns both paths.
    pub fn write_files(
        &self,
        dir: &Path,
        stem: &str,
    ) -> Result<(std::path::PathBuf, std::path::PathBuf), FederationError> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let cert = dir.join(format!("{stem}.crt"));
        let key = dir.join(format!("{stem}.key"));
        std::fs::write(&cert, &self.cert_pem)
            .map_err(io_err(format!("cannot write {}", cert.display())))?;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .mode(0o600)
            .open(&key)
            .map_err(io_err(format!("cannot write {}", key.display())))?;
        file.write_all(self.key_pem.as_bytes())
            .map_err(io_err(format!("cannot write {}", key.display())))?;
        Ok((cert, key))
    }
}

/// Write a private key readable by its owner only.
fn write_private(path: &Path, pem: &str) -> Result<(), FederationError> {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(io_err(format!("cannot create {}", path.display())))?;
    file.write_all(pem.as_bytes())
        .map_err(io_err(format!("cannot write {}", path.display())))
}

fn set_validity(params: &mut CertificateParams) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::days(1);
    params.not_after = now + time::Duration::days(365);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_kept_ca_is_made_once_and_then_reused() {
        let dir = tempfile::tempdir().unwrap();
        let first = RunCa::load_or_create(dir.path()).unwrap();
        let again = RunCa::load_or_create(dir.path()).unwrap();
        assert_eq!(first.cert_pem(), again.cert_pem());
        // A leaf issued by the reloaded CA verifies against the kept certificate.
        let leaf = again.issue_leaf().unwrap();
        let roots = Arc::new(first.root_store().unwrap());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(roots, provider())
                .build()
                .unwrap();
        let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
        let now = rustls_pki_types::UnixTime::now();
        rustls::client::danger::ServerCertVerifier::verify_server_cert(
            verifier.as_ref(),
            &leaf.cert_der,
            &[],
            &name,
            &[],
            now,
        )
        .unwrap();
        // ...and one from another CA does not.
        let stranger = RunCa::new().unwrap().issue_leaf().unwrap();
        let refused = rustls::client::danger::ServerCertVerifier::verify_server_cert(
            verifier.as_ref(),
            &stranger.cert_der,
            &[],
            &name,
            &[],
            now,
        );
        assert!(refused.is_err());
    }

    #[test]
    fn a_kept_ca_that_is_not_a_certificate_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("ca.pem"), "garbage").unwrap();
        std::fs::write(dir.path().join("ca.key"), "garbage").unwrap();
        let err = RunCa::load_or_create(dir.path()).unwrap_err().to_string();
        assert!(err.contains("ca.key"), "{err}");
    }

    #[test]
    fn leaf_is_signed_by_the_ca_and_names_loopback() {
        let ca = RunCa::new().unwrap();
        assert!(ca.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
        let leaf = ca.issue_leaf().unwrap();
        assert!(leaf.key_pem.contains("PRIVATE KEY"));
        // A server config builds and the CA is usable as a root.
        leaf.server_config().unwrap();
        let roots = ca.root_store().unwrap();
        assert_eq!(roots.len(), 1);
        ca.client_config().unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (crt, key) = leaf.write_files(dir.path(), "leaf").unwrap();
        assert!(crt.is_file() && key.is_file());
        ca.write_pem(&dir.path().join("ca.pem")).unwrap();
    }
}

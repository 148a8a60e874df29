//! Federation settings for a spawned Synapse: a federation listener (TLS with a run-CA
//! certificate, or plain HTTP on loopback behind a gateway), the run CA trusted for outbound
//! federation, loopback allowed (`ip_range_whitelist`), keys fetched from origins directly
//! (`trusted_key_servers: []`), and extra YAML merged last for callers (e.g. a
//! `federation_domain_whitelist` set by gateway tests).
//!
//! The server name is `localhost:<port>`: an explicit port means Synapse connects straight
//! to `https://localhost:<port>` with no `.well-known` or SRV lookup. The port is the
//! federation listener's own, or, behind a gateway, the gateway's (`public_name`).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use super::TargetError;
use crate::federation::RunCa;

/// How a spawned Synapse takes part in federation.
#[derive(Clone)]
pub struct FederationSetup {
    /// The run CA: Synapse trusts it for outbound federation, and (with `tls`) presents a
    /// certificate it issued.
    pub ca: Arc<RunCa>,
    /// The public server name, e.g. `localhost:8448` when a gateway listens on 8448. None:
    /// `localhost:<federation listener port>`.
    pub public_name: Option<String>,
    /// Port of Synapse's own federation listener; None picks a free loopback port.
    pub federation_port: Option<u16>,
    /// TLS on the federation listener (true unless a gateway terminates TLS in front).
    pub tls: bool,
    /// Extra YAML (a mapping) written as the last `-c` file: its top-level keys win.
    pub extra_overlay: Option<String>,
}

impl std::fmt::Debug for FederationSetup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FederationSetup")
            .field("public_name", &self.public_name)
            .field("federation_port", &self.federation_port)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

impl FederationSetup {
    /// A directly reachable federation-enabled server: TLS listener on a free port, named
    /// `localhost:<that port>`.
    pub fn direct(ca: Arc<RunCa>) -> Self {
        Self {
            ca,
            public_name: None,
            federation_port: None,
            tls: true,
            extra_overlay: None,
        }
    }
}

/// Where a spawned Synapse's federation listener is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FederationEndpoint {
    /// The server name (`localhost:<port>`).
    pub server_name: String,
    /// Synapse's own federation listener port.
    pub port: u16,
    /// `https://127.0.0.1:<port>` (or `http://` behind a gateway).
    pub url: String,
}

/// The files the federation overlay points at, written into the data dir.
pub(super) struct Written {
    pub overlay: PathBuf,
    pub extra: Option<PathBuf>,
    pub endpoint: FederationEndpoint,
}

/// Write the CA, the leaf certificate, the federation overlay and the extra overlay into
/// `data_dir`. `client_port` keeps the client API (plain HTTP) where it was.
pub(super) fn write(
    setup: &FederationSetup,
    data_dir: &Path,
    client_port: u16,
    federation_port: u16,
) -> Result<Written, TargetError> {
    let fed = |e: crate::federation::FederationError| TargetError::Config(e.to_string());
    let ca_path = data_dir.join("federation-ca.pem");
    setup.ca.write_pem(&ca_path).map_err(fed)?;
    let server_name = setup
        .public_name
        .clone()
        .unwrap_or_else(|| format!("localhost:{federation_port}"));
    let mut overlay = overlay_value(
        &server_name,
        client_port,
        federation_port,
        setup.tls,
        &ca_path,
    );
    if setup.tls {
        let leaf = setup.ca.issue_leaf().map_err(fed)?;
        let (cert, key) = leaf.write_files(data_dir, "federation-tls").map_err(fed)?;
        overlay["tls_certificate_path"] = json!(path_str(&cert)?);
        overlay["tls_private_key_path"] = json!(path_str(&key)?);
    }
    let overlay_path = data_dir.join("mxharness-federation.yaml");
    // JSON is YAML: Synapse's loader reads it as is.
    let text =
        serde_json::to_string_pretty(&overlay).map_err(|e| TargetError::Config(e.to_string()))?;
    std::fs::write(&overlay_path, text).map_err(|e| TargetError::Io {
        context: format!("cannot write {}", overlay_path.display()),
        source: e,
    })?;
    let extra = match &setup.extra_overlay {
        None => None,
        Some(yaml) => {
            let parsed: Value = serde_saphyr::from_str(yaml)
                .map_err(|e| TargetError::Config(format!("extra overlay is not YAML: {e}")))?;
            if !parsed.is_object() {
                return Err(TargetError::Config(
                    "extra overlay must be a YAML mapping".into(),
                ));
            }
            let path = data_dir.join("mxharness-extra.yaml");
            std::fs::write(&path, yaml).map_err(|e| TargetError::Io {
                context: format!("cannot write {}", path.display()),
                source: e,
            })?;
            Some(path)
        }
    };
    let scheme = if setup.tls { "https" } else { "http" };
    Ok(Written {
        overlay: overlay_path,
        extra,
        endpoint: FederationEndpoint {
            server_name,
            port: federation_port,
            url: format!("{scheme}://127.0.0.1:{federation_port}"),
        },
    })
}

fn path_str(p: &Path) -> Result<&str, TargetError> {
    p.to_str()
        .ok_or_else(|| TargetError::Config(format!("{} is not valid UTF-8", p.display())))
}

/// The federation overlay: listeners (client API unchanged, federation on its own port),
/// outbound trust and loopback federation.
pub fn overlay_value(
    server_name: &str,
    client_port: u16,
    federation_port: u16,
    tls: bool,
    ca_path: &Path,
) -> Value {
    json!({
        "server_name": server_name,
        "listeners": [
            {
                "port": client_port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": false,
                "x_forwarded": false,
                "resources": [{"names": ["client"], "compress": false}]
            },
            {
                "port": federation_port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": tls,
                "x_forwarded": !tls,
                "resources": [{"names": ["federation"], "compress": false}]
            }
        ],
        "federation_custom_ca_list": [ca_path.to_string_lossy()],
        "federation_verify_certificates": true,
        "ip_range_whitelist": ["127.0.0.0/8", "::1/128"],
        // Synapse's default blocklist minus loopback: IP-literal server names
        // (`127.0.0.1:<port>`) are checked against the blocklist alone.
        "ip_range_blacklist": [
            "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
            "192.0.0.0/24", "169.254.0.0/16", "192.88.99.0/24", "198.18.0.0/15",
            "192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4",
            "fe80::/10", "fc00::/7", "2001:db8::/32", "ff00::/8", "fec0::/10"
        ],
        "trusted_key_servers": [],
        "suppress_key_server_warning": true,
        "allow_profile_lookup_over_federation": true,
        "allow_public_rooms_over_federation": true,
        "allow_device_name_lookup_over_federation": true,
        "presence": {"enabled": true},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_overlay_certificates_and_extra() {
        let dir = tempfile::tempdir().unwrap();
        let mut setup = FederationSetup::direct(Arc::new(RunCa::new().unwrap()));
        setup.extra_overlay = Some("federation_domain_whitelist: ['localhost:1']\n".into());
        let w = write(&setup, dir.path(), 1000, 2000).unwrap();
        assert_eq!(w.endpoint.server_name, "localhost:2000");
        assert_eq!(w.endpoint.url, "https://127.0.0.1:2000");
        let text = std::fs::read_to_string(&w.overlay).unwrap();
        let v: Value = serde_saphyr::from_str(&text).unwrap();
        assert_eq!(v["listeners"][1]["tls"], true);
        assert_eq!(v["ip_range_whitelist"][0], "127.0.0.0/8");
        assert!(dir.path().join("federation-tls.crt").is_file());
        assert!(w.extra.unwrap().is_file());
    }

    #[test]
    fn behind_a_gateway_the_public_name_wins_and_the_listener_is_plain() {
        let dir = tempfile::tempdir().unwrap();
        let mut setup = FederationSetup::direct(Arc::new(RunCa::new().unwrap()));
        setup.public_name = Some("localhost:8448".into());
        setup.tls = false;
        let w = write(&setup, dir.path(), 1000, 2000).unwrap();
        assert_eq!(w.endpoint.server_name, "localhost:8448");
        assert_eq!(w.endpoint.url, "http://127.0.0.1:2000");
        assert!(!dir.path().join("federation-tls.crt").exists());
        setup.extra_overlay = Some("- not a mapping".into());
        assert!(write(&setup, dir.path(), 1000, 2000).is_err());
    }
}

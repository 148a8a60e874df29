//! Stable identities of the played remote servers (`--gateway-identities DIR`): the federation
//! CA and, per role (allowed, allowed2, denied), the server name, port and ed25519 signing key,
//! made on first use and reused afterwards so a key-pinning gateway can be configured once.
//!
//! Layout of DIR (0700): `identities.json` (public: format version, names, ports, key ids,
//! public keys), `<role>.key` (PKCS#8 PEM, 0600), `ca.pem` and `ca.key` (0600).
//! `identities.json` is written last: a folder without it is not a set of identities.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::GatewayError;
use crate::federation::{FakeServer, RunCa, ServerKey};

/// Version of `identities.json`; a different one is refused, not guessed at.
pub const FORMAT_VERSION: u32 = 1;

/// The roles a gateway topology plays, in order.
pub const ROLES: [&str; 3] = ["allowed", "allowed2", "denied"];

/// The public file name.
pub const INDEX: &str = "identities.json";

/// `identities.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Index {
    format_version: u32,
    /// Role -> identity.
    servers: BTreeMap<String, Stored>,
}

/// One role's public entry in `identities.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    server_name: String,
    port: u16,
    key_id: String,
    public_key: String,
    /// The private key's file, relative to DIR.
    key_file: String,
}

/// One played server.
#[derive(Debug, Clone)]
pub struct Identity {
    /// allowed, allowed2 or denied.
    pub role: &'static str,
    /// Its loopback port.
    pub port: u16,
    /// Its signing key (carries the server name).
    pub key: ServerKey,
}

impl Identity {
    /// Whether the gateway should let this server through.
    pub fn allowed(&self) -> bool {
        self.role != "denied"
    }
}

/// The identities kept in a folder.
#[derive(Debug)]
pub struct Identities {
    /// The folder.
    pub dir: PathBuf,
    /// The federation CA (`ca.pem`, `ca.key`).
    pub ca: Arc<RunCa>,
    /// Per role, in [`ROLES`] order.
    pub servers: Vec<Identity>,
}

/// Server names asked for on the command line (`--gateway-allowed`, `--gateway-denied`): used
/// when the identities are made, checked against the stored ones afterwards.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    /// Per role: the name, if given.
    pub names: BTreeMap<&'static str, String>,
}

fn config(msg: String) -> GatewayError {
    GatewayError::Config(msg)
}

impl Identities {
    /// The identities in `dir`, made first when the folder has none.
    pub fn load_or_create(dir: &Path, requested: &Requested) -> Result<Self, GatewayError> {
        if dir.join(INDEX).exists() {
            let ids = Self::load(dir)?;
            ids.check_requested(requested)?;
            Ok(ids)
        } else {
            Self::create(dir, requested)
        }
    }

    /// The identities in `dir`; an error when there are none or they are damaged.
    pub fn load(dir: &Path) -> Result<Self, GatewayError> {
        let index_path = dir.join(INDEX);
        let text = std::fs::read_to_string(&index_path).map_err(GatewayError::io(format!(
            "cannot read {} (make the identities with `mxharness run scenarios/gateway \
             --gateway-identities {}`)",
            index_path.display(),
            dir.display()
        )))?;
        let index: Index = serde_json::from_str(&text)
            .map_err(|e| config(format!("{}: {e}", index_path.display())))?;
        if index.format_version != FORMAT_VERSION {
            return Err(config(format!(
                "{}: format_version {} is not the supported {FORMAT_VERSION}",
                index_path.display(),
                index.format_version
            )));
        }
        check_private(&dir.join("ca.key"))?;
        let ca = Arc::new(RunCa::load_or_create(dir).map_err(|e| config(e.to_string()))?);
        let mut servers = Vec::new();
        for role in ROLES {
            let stored = index
                .servers
                .get(role)
                .ok_or_else(|| config(format!("{}: no {role:?} server", index_path.display())))?;
            servers.push(load_one(dir, role, stored)?);
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            ca,
            servers,
        })
    }

    /// Make new identities in `dir` (0700; created if missing).
    fn create(dir: &Path, requested: &Requested) -> Result<Self, GatewayError> {
        make_private_dir(dir)?;
        let ca = Arc::new(RunCa::load_or_create(dir).map_err(|e| config(e.to_string()))?);
        let mut index = Index {
            format_version: FORMAT_VERSION,
            servers: BTreeMap::new(),
        };
        let mut servers: Vec<Identity> = Vec::new();
        let mut taken = Vec::new();
        for role in ROLES {
            let name = match requested.names.get(role) {
                Some(n) => n.clone(),
                None => format!("localhost:{}", free_port(&taken)?),
            };
            let (_, port) = loopback_name(&name).map_err(config)?;
            taken.push(port);
            // A role on the same name as an earlier one is that server (one allowed name).
            if let Some(same) = servers.iter().find(|s| s.key.server_name() == name) {
                let entry = index.servers.get(same.role).cloned().ok_or_else(|| {
                    config(format!("internal: no stored entry for {}", same.role))
                })?;
                index.servers.insert(role.to_owned(), entry);
                servers.push(Identity {
                    role,
                    port,
                    key: same.key.clone(),
                });
                continue;
            }
            let signing = crate::signing_keys::generate().map_err(|e| config(e.to_string()))?;
            let key_file = format!("{role}.key");
            crate::signing_keys::write_new_key(&signing, &dir.join(&key_file))
                .map_err(|e| config(e.to_string()))?;
            let version = format!("mxh_{}", &uuid::Uuid::new_v4().simple().to_string()[..8]);
            let key = ServerKey::from_seed(&name, &version, &signing.to_bytes())
                .map_err(|e| config(e.to_string()))?;
            index.servers.insert(
                role.to_owned(),
                Stored {
                    server_name: name.clone(),
                    port,
                    key_id: key.key_id(),
                    public_key: key.public_key_base64(),
                    key_file,
                },
            );
            servers.push(Identity { role, port, key });
        }
        let json = serde_json::to_string_pretty(&index)
            .map_err(|e| config(format!("cannot encode {INDEX}: {e}")))?;
        let index_path = dir.join(INDEX);
        std::fs::write(&index_path, format!("{json}\n")).map_err(GatewayError::io(format!(
            "cannot write {}",
            index_path.display()
        )))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            ca,
            servers,
        })
    }

    /// Start a fake server per role, on its stored port with its stored key (roles on one
    /// name share one server). A busy port fails, naming it: the gateway was configured with
    /// that name, so another port would not be the same server.
    pub async fn start_servers(&self) -> Result<Vec<Arc<FakeServer>>, GatewayError> {
        let mut fakes: Vec<Arc<FakeServer>> = Vec::new();
        for id in &self.servers {
            let name = id.key.server_name();
            if let Some(same) = fakes.iter().find(|f| f.server_name() == name) {
                fakes.push(Arc::clone(same));
                continue;
            }
            let fake = FakeServer::start_with_key(&self.ca, &id.key, id.port)
                .await
                .map_err(|e| {
                    config(format!(
                        "cannot play {} ({name}) on port {}, as {} says: {e}; free port {} \
                         (the gateway is configured with that name) or use another \
                         --gateway-identities folder",
                        id.role,
                        id.port,
                        self.dir.join(INDEX).display(),
                        id.port
                    ))
                })?;
            fakes.push(Arc::new(fake));
        }
        Ok(fakes)
    }

    /// The identity of a role.
    pub fn role(&self, role: &str) -> Option<&Identity> {
        self.servers.iter().find(|s| s.role == role)
    }

    /// Names given on the command line must be the stored ones.
    fn check_requested(&self, requested: &Requested) -> Result<(), GatewayError> {
        for (role, name) in &requested.names {
            if let Some(id) = self.role(role)
                && id.key.server_name() != name
            {
                return Err(config(format!(
                    "{role} is {} in {}, not {name}: drop the flag or use another \
                     --gateway-identities folder",
                    id.key.server_name(),
                    self.dir.join(INDEX).display()
                )));
            }
        }
        Ok(())
    }
}

fn load_one(dir: &Path, role: &'static str, stored: &Stored) -> Result<Identity, GatewayError> {
    let (_, port) = loopback_name(&stored.server_name).map_err(config)?;
    if port != stored.port {
        return Err(config(format!(
            "{}: {role}: port {} does not match server name {}",
            dir.join(INDEX).display(),
            stored.port,
            stored.server_name
        )));
    }
    if stored.key_file.contains('/') || stored.key_file.starts_with('.') {
        return Err(config(format!(
            "{}: {role}: key_file {:?} must be a file name in the folder",
            dir.join(INDEX).display(),
            stored.key_file
        )));
    }
    let version = stored.key_id.strip_prefix("ed25519:").ok_or_else(|| {
        config(format!(
            "{}: {role}: key id {:?} is not ed25519:…",
            dir.join(INDEX).display(),
            stored.key_id
        ))
    })?;
    let path = dir.join(&stored.key_file);
    check_private(&path)?;
    let signing = crate::signing_keys::read_key(&path).map_err(|e| config(e.to_string()))?;
    let key = ServerKey::from_seed(&stored.server_name, version, &signing.to_bytes())
        .map_err(|e| config(format!("{}: {role}: {e}", dir.join(INDEX).display())))?;
    if key.public_key_base64() != stored.public_key {
        return Err(config(format!(
            "{}: {role}: the public key does not match {}",
            dir.join(INDEX).display(),
            path.display()
        )));
    }
    Ok(Identity {
        role,
        port: stored.port,
        key,
    })
}

/// `localhost:PORT` or `127.0.0.1:PORT` -> (is an IP literal, port).
pub fn loopback_name(name: &str) -> Result<(bool, u16), String> {
    let bad = || {
        format!(
            "{name}: the harness plays remote servers on loopback: use localhost:PORT or 127.0.0.1:PORT"
        )
    };
    let (host, port) = name.rsplit_once(':').ok_or_else(bad)?;
    let port: u16 = port.parse().map_err(|_| bad())?;
    match host {
        "localhost" if port != 0 => Ok((false, port)),
        "127.0.0.1" if port != 0 => Ok((true, port)),
        _ => Err(bad()),
    }
}

/// A free loopback port not in `taken`.
fn free_port(taken: &[u16]) -> Result<u16, GatewayError> {
    for _ in 0..16 {
        let l = std::net::TcpListener::bind(("127.0.0.1", 0))
            .map_err(GatewayError::io("cannot bind a loopback port"))?;
        let port = l
            .local_addr()
            .map_err(GatewayError::io("cannot read the bound port"))?
            .port();
        if !taken.contains(&port) {
            return Ok(port);
        }
    }
    Err(config("no free loopback port".into()))
}

/// Create `dir` with mode 0700. A folder that already exists (say a `--federation-ca` folder
/// whose CA is reused) keeps its mode: the harness does not change a folder it did not make.
fn make_private_dir(dir: &Path) -> Result<(), GatewayError> {
    if dir.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(dir)
        .map_err(GatewayError::io(format!("cannot create {}", dir.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)).map_err(
            GatewayError::io(format!("cannot make {} private", dir.display())),
        )?;
    }
    Ok(())
}

/// A secret file readable by others is refused (as ssh does): its key is no longer secret.
fn check_private(path: &Path) -> Result<(), GatewayError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(path)
            .map_err(GatewayError::io(format!("cannot read {}", path.display())))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(config(format!(
                "{} is readable by others (mode {mode:o}): chmod 600 it",
                path.display()
            )));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(p: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn made_once_then_reused_with_private_files() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("ids");
        let first = Identities::load_or_create(&dir, &Requested::default()).unwrap();
        assert_eq!(mode(&dir), 0o700);
        assert_eq!(mode(&dir.join(INDEX)) & 0o022, 0, "not writable by others");
        for f in ["allowed.key", "allowed2.key", "denied.key", "ca.key"] {
            assert_eq!(mode(&dir.join(f)), 0o600, "{f}");
        }
        let second = Identities::load_or_create(&dir, &Requested::default()).unwrap();
        assert_eq!(first.ca.cert_pem(), second.ca.cert_pem());
        for (a, b) in first.servers.iter().zip(&second.servers) {
            assert_eq!(a.role, b.role);
            assert_eq!(a.port, b.port);
            assert_eq!(a.key.server_name(), b.key.server_name());
            assert_eq!(a.key.key_id(), b.key.key_id());
            assert_eq!(a.key.public_key_base64(), b.key.public_key_base64());
        }
        let keys: std::collections::BTreeSet<_> = first
            .servers
            .iter()
            .map(|s| s.key.public_key_base64())
            .collect();
        assert_eq!(keys.len(), 3, "each role has its own key");
        let index: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join(INDEX)).unwrap()).unwrap();
        assert_eq!(index["format_version"], 1);
    }

    #[tokio::test]
    async fn started_servers_serve_the_stored_keys() {
        let tmp = tempfile::tempdir().unwrap();
        let ids = Identities::load_or_create(tmp.path(), &Requested::default()).unwrap();
        let fakes = ids.start_servers().await.unwrap();
        let client = reqwest::Client::builder()
            .add_root_certificate(ids.ca.reqwest_certificate().unwrap())
            .build()
            .unwrap();
        for (id, fake) in ids.servers.iter().zip(&fakes) {
            assert_eq!(fake.addr().port(), id.port);
            let url = format!("{}/_matrix/key/v2/server", fake.base_url());
            let doc: serde_json::Value =
                client.get(url).send().await.unwrap().json().await.unwrap();
            assert_eq!(doc["server_name"], id.key.server_name());
            assert_eq!(
                doc["verify_keys"][id.key.key_id()]["key"],
                id.key.public_key_base64().as_str()
            );
        }
    }

    #[test]
    fn an_existing_folder_keeps_its_mode_and_its_ca() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let ca = RunCa::load_or_create(tmp.path()).unwrap();
        let ids = Identities::load_or_create(tmp.path(), &Requested::default()).unwrap();
        assert_eq!(mode(tmp.path()), 0o755);
        assert_eq!(ids.ca.cert_pem(), ca.cert_pem());
    }

    #[test]
    fn requested_names_are_used_then_enforced() {
        let tmp = tempfile::tempdir().unwrap();
        let mut req = Requested::default();
        req.names.insert("allowed", "localhost:40101".into());
        req.names.insert("allowed2", "localhost:40101".into());
        req.names.insert("denied", "127.0.0.1:40102".into());
        let ids = Identities::load_or_create(tmp.path(), &req).unwrap();
        let (a, a2) = (ids.role("allowed").unwrap(), ids.role("allowed2").unwrap());
        assert_eq!(a.key.public_key_base64(), a2.key.public_key_base64());
        assert_eq!(ids.role("denied").unwrap().port, 40102);
        let mut other = Requested::default();
        other.names.insert("denied", "localhost:40103".into());
        let err = Identities::load_or_create(tmp.path(), &other)
            .unwrap_err()
            .to_string();
        assert!(err.contains("127.0.0.1:40102"), "{err}");
    }

    #[test]
    fn damaged_or_exposed_identities_are_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        Identities::load_or_create(tmp.path(), &Requested::default()).unwrap();
        let key = tmp.path().join("denied.key");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        let err = Identities::load(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("readable by others"), "{err}");
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();

        let index = tmp.path().join(INDEX);
        let text = std::fs::read_to_string(&index).unwrap();
        std::fs::write(
            &index,
            text.replace("\"format_version\": 1", "\"format_version\": 9"),
        )
        .unwrap();
        let err = Identities::load(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("format_version 9"), "{err}");

        let missing = tempfile::tempdir().unwrap();
        let err = Identities::load(missing.path()).unwrap_err().to_string();
        assert!(err.contains("--gateway-identities"), "{err}");
    }
}

//! The run-wide registry of fake server names and their signing keys: no two fake servers
//! share a key id, and a server name is never served with two different keys in one run.
//!
//! Fake server names are `localhost:<port>` (or `127.0.0.1:<port>`), and the operating system
//! hands the same ephemeral port out again once a scenario's server has stopped. A receiver
//! may cache a name's keys (and back off after a forged request) for the key document's
//! validity, so a name that came round again with a new key would inherit what the receiver
//! learnt in an earlier scenario. Servers on port 0 therefore never take a name this run has
//! used ([`bind_fresh`]); a server on a chosen port whose name was used before signs with the
//! key that name already had ([`NameRegistry::claim`]).

use std::collections::{BTreeMap, BTreeSet};
use std::net::TcpListener;
use std::sync::{Mutex, MutexGuard, OnceLock};

use super::keys::ServerKey;
use super::{FederationError, io_err};

/// How many ports [`bind_fresh`] tries before giving up.
const MAX_BIND_ATTEMPTS: usize = 64;

/// Names served in this run, with the key each signs with.
#[derive(Debug, Default)]
pub struct NameRegistry {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    keys: BTreeMap<String, ServerKey>,
    versions: BTreeSet<String>,
}

impl NameRegistry {
    /// An empty registry (tests; the run uses [`NameRegistry::global`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// The registry of this process, which is one run.
    pub fn global() -> &'static NameRegistry {
        static GLOBAL: OnceLock<NameRegistry> = OnceLock::new();
        GLOBAL.get_or_init(NameRegistry::new)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Entries are inserted whole: a panic elsewhere cannot leave one half-written.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A key version `<prefix>_<8 hex digits>` not handed out before by this registry. The
    /// random part also keeps key ids apart across runs, for a receiver that outlives a run.
    pub fn unique_version(&self, prefix: &str) -> String {
        Self::issue_version(&mut self.state(), prefix)
    }

    fn issue_version(state: &mut State, prefix: &str) -> String {
        loop {
            let random = uuid::Uuid::new_v4().simple().to_string();
            let version = format!("{prefix}_{}", &random[..8]);
            if state.versions.insert(version.clone()) {
                return version;
            }
        }
    }

    /// Whether a fake server has had this name in this run.
    pub fn is_used(&self, name: &str) -> bool {
        self.state().keys.contains_key(name)
    }

    /// The key `name` signs with in this run: the one it had before, else a fresh key
    /// `ed25519:<prefix>_<unique>`. The flag says whether the name was used before.
    pub fn claim(&self, name: &str, prefix: &str) -> Result<(ServerKey, bool), FederationError> {
        let mut state = self.state();
        if let Some(key) = state.keys.get(name) {
            return Ok((key.clone(), true));
        }
        let key = Self::new_key(&mut state, name, prefix)?;
        Ok((key, false))
    }

    /// Register a given key (a stored identity) for its server name: fine when the name is
    /// new or already signs with this key id, an error when it signed with another key.
    pub fn claim_key(&self, key: &ServerKey) -> Result<ServerKey, FederationError> {
        let mut state = self.state();
        let name = key.server_name();
        if let Some(had) = state.keys.get(name) {
            if had.key_id() == key.key_id() && had.public_key_base64() == key.public_key_base64() {
                return Ok(had.clone());
            }
            return Err(FederationError::Key(format!(
                "{name} already signed with {} in this run",
                had.key_id()
            )));
        }
        if let Some(version) = key.key_id().strip_prefix("ed25519:") {
            state.versions.insert(version.to_owned());
        }
        state.keys.insert(name.to_owned(), key.clone());
        Ok(key.clone())
    }

    /// A fresh key for `name` when this run has not used the name yet; None when it has.
    pub fn claim_fresh(
        &self,
        name: &str,
        prefix: &str,
    ) -> Result<Option<ServerKey>, FederationError> {
        let mut state = self.state();
        if state.keys.contains_key(name) {
            return Ok(None);
        }
        Self::new_key(&mut state, name, prefix).map(Some)
    }

    fn new_key(state: &mut State, name: &str, prefix: &str) -> Result<ServerKey, FederationError> {
        let version = Self::issue_version(state, prefix);
        let key = ServerKey::generate(name, &version)?;
        state.keys.insert(name.to_owned(), key.clone());
        Ok(key)
    }
}

/// A bound listener whose port can be read.
pub trait Bound {
    /// The local port.
    fn port(&self) -> std::io::Result<u16>;
}

impl Bound for TcpListener {
    fn port(&self) -> std::io::Result<u16> {
        self.local_addr().map(|a| a.port())
    }
}

impl Bound for tokio::net::TcpListener {
    fn port(&self) -> std::io::Result<u16> {
        self.local_addr().map(|a| a.port())
    }
}

/// Bind with `bind` (a loopback listener on port 0) until the name `<host>:<port>` is one this
/// run has not used, and claim it with a fresh key. Listeners on used ports are held until a
/// fresh one is found, so the operating system cannot hand the same port back at once.
pub fn bind_fresh<L: Bound>(
    registry: &NameRegistry,
    host: &str,
    prefix: &str,
    mut bind: impl FnMut() -> std::io::Result<L>,
) -> Result<(L, String, ServerKey), FederationError> {
    let mut held = Vec::new();
    for _ in 0..MAX_BIND_ATTEMPTS {
        let listener = bind().map_err(io_err("cannot bind a loopback port for the fake server"))?;
        let port = listener
            .port()
            .map_err(io_err("cannot read the fake server's port"))?;
        let name = format!("{host}:{port}");
        match registry.claim_fresh(&name, prefix)? {
            Some(key) => return Ok((listener, name, key)),
            None => held.push(listener),
        }
    }
    Err(FederationError::Io {
        context: format!(
            "no loopback port whose name this run has not used yet after {MAX_BIND_ATTEMPTS} tries"
        ),
        source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> std::io::Result<TcpListener> {
        TcpListener::bind(("127.0.0.1", 0))
    }

    #[test]
    fn a_given_key_is_registered_once_and_a_different_one_refused() {
        let registry = NameRegistry::new();
        let key = ServerKey::from_seed("localhost:1", "mxh_a", &[1; 32]).unwrap();
        registry.claim_key(&key).unwrap();
        registry.claim_key(&key).unwrap();
        assert!(registry.is_used("localhost:1"));
        let other = ServerKey::from_seed("localhost:1", "mxh_b", &[2; 32]).unwrap();
        assert!(registry.claim_key(&other).is_err());
        let (had, used) = registry.claim("localhost:1", "k").unwrap();
        assert!(used);
        assert_eq!(had.key_id(), "ed25519:mxh_a");
    }

    #[test]
    fn versions_are_unique_and_valid_key_versions() {
        let registry = NameRegistry::new();
        let versions: BTreeSet<String> = (0..200).map(|_| registry.unique_version("mxh")).collect();
        assert_eq!(versions.len(), 200);
        for v in &versions {
            assert!(v.starts_with("mxh_") && v.len() == 12, "{v}");
            assert!(ServerKey::generate("localhost:1", v).is_ok(), "{v}");
        }
    }

    #[test]
    fn a_reused_name_keeps_its_key_and_names_have_distinct_key_ids() {
        let registry = NameRegistry::new();
        let (first, reused) = registry.claim("localhost:4000", "mxh").unwrap();
        assert!(!reused);
        let (again, reused) = registry.claim("localhost:4000", "other").unwrap();
        assert!(reused);
        assert_eq!(again.key_id(), first.key_id());
        assert_eq!(again.public_key_base64(), first.public_key_base64());
        let (second, _) = registry.claim("localhost:4001", "mxh").unwrap();
        assert_ne!(second.key_id(), first.key_id());
        assert!(registry.is_used("localhost:4000"));
        assert!(
            registry
                .claim_fresh("localhost:4000", "mxh")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn bind_fresh_skips_a_port_whose_name_was_used() {
        let registry = NameRegistry::new();
        let used = loopback().unwrap();
        let used_port = used.local_addr().unwrap().port();
        registry
            .claim(&format!("localhost:{used_port}"), "mxh")
            .unwrap();
        // The "operating system" hands out the used port first, then a fresh one.
        let mut offers = vec![used, loopback().unwrap()];
        let (listener, name, key) =
            bind_fresh(&registry, "localhost", "mxh", || Ok(offers.remove(0))).unwrap();
        let port = listener.local_addr().unwrap().port();
        assert_ne!(port, used_port);
        assert_eq!(name, format!("localhost:{port}"));
        assert_eq!(key.server_name(), name);
        assert!(registry.is_used(&name));
    }

    #[test]
    fn bind_fresh_gives_up_when_every_port_was_used() {
        let registry = NameRegistry::new();
        let only = loopback().unwrap();
        let port = only.local_addr().unwrap().port();
        registry.claim(&format!("localhost:{port}"), "mxh").unwrap();
        let err = bind_fresh(&registry, "localhost", "mxh", || only.try_clone()).unwrap_err();
        assert!(err.to_string().contains("not used yet"), "{err}");
    }
}

//! Getting a gateway run ready from plain data ([`GatewaySpec`]): a local gateway in front of
//! the local Synapse, or, beside a `--gateway URL`, the played remote servers (stored
//! identities or fresh ones), the trusted CAs, the optional tap and direct comparison, and
//! the name of the implementation behind the gateway for reports.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::gateway::exec::{HomeserverClient, Setup};
use crate::gateway::identities::{self, Identities, ROLES, Requested, loopback_name};
use crate::gateway::probe::Roles;
use crate::gateway::raw::Endpoint;
use crate::gateway::tap::Tap;
use crate::gateway::topology::{GatewayKind, LocalGateway};

use super::SynapseSpec;

/// What a gateway run is pointed at, as plain data (the command line fills it).
#[derive(Debug, Clone)]
pub struct GatewaySpec {
    /// Federation entrance of a running gateway; `None` starts a local one of `kind`.
    pub gateway: Option<String>,
    /// The local gateway to start when there is no URL.
    pub kind: GatewayKind,
    /// With a URL: the server name of the homeserver behind it.
    pub server_name: Option<String>,
    /// With a URL: the homeserver's own federation URL, bypassing the gateway.
    pub upstream: Option<String>,
    /// With a URL and an upstream: where the recording tap listens.
    pub tap: Option<std::net::SocketAddr>,
    /// With a URL: the allowed remote server names the harness plays (one or two).
    pub allowed: Vec<String>,
    /// With a URL: a remote server name the gateway does not allow.
    pub denied: Option<String>,
    /// A PEM file of the CA that issued the gateway's TLS certificate.
    pub gateway_ca: Option<PathBuf>,
    /// The folder of stored played-server identities.
    pub identities: Option<PathBuf>,
    /// With a URL: the client-server API of the homeserver behind the gateway (outbound checks).
    pub client: Option<String>,
    /// How the observer account is registered there.
    pub registration: super::Registration,
    /// Where reports, logs and the run CA go.
    pub report_dir: PathBuf,
    /// The local Synapse behind a local gateway.
    pub synapse: SynapseSpec,
    /// The per-request timeout of probes.
    pub step_timeout: Duration,
}

/// TLS trusting the run CA, the CA in `extra` (PEM, `--gateway-ca`) when given, and the
/// `--ca-cert` certificates.
fn client_tls(
    ca: &crate::federation::RunCa,
    extra: Option<&std::path::Path>,
) -> Result<rustls::ClientConfig, String> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let ca_certs = &crate::matrix::net::policy().ca_certs;
    if extra.is_none() && ca_certs.is_empty() {
        return ca.client_config().map_err(|e| e.to_string());
    }
    let mut roots = ca.root_store().map_err(|e| e.to_string())?;
    if let Some(extra) = extra {
        let certs = CertificateDer::pem_file_iter(extra)
            .map_err(|e| format!("{}: {e}", extra.display()))?;
        for cert in certs {
            let cert = cert.map_err(|e| format!("{}: {e}", extra.display()))?;
            roots
                .add(cert)
                .map_err(|e| format!("{}: not a usable CA certificate: {e}", extra.display()))?;
        }
    }
    for cert in ca_certs {
        roots
            .add(cert.clone())
            .map_err(|e| format!("--ca-cert: not a usable CA certificate: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// The stored identities (made first when `dir` has none), announced on stderr.
fn load_identities(dir: &std::path::Path, requested: &Requested) -> Result<Identities, String> {
    let made = !dir.join(identities::INDEX).exists();
    let ids = Identities::load_or_create(dir, requested).map_err(|e| e.to_string())?;
    eprintln!(
        "{} gateway identities in {} (print the gateway configuration with `mxharness \
         gateway-config {}`)",
        if made { "Made" } else { "Using" },
        dir.display(),
        dir.display()
    );
    announce_identities(&ids);
    Ok(ids)
}

/// One line per played server: what a key-pinning gateway must have.
fn announce_identities(ids: &Identities) {
    for id in &ids.servers {
        eprintln!(
            "  identity {} {} {} {}",
            id.role,
            id.key.server_name(),
            id.key.key_id(),
            id.key.public_key_base64()
        );
    }
}

/// A local gateway, or the pieces the harness runs beside a `--gateway URL`.
pub enum PreparedGateway {
    Local(Box<LocalGateway>),
    Remote {
        setup: Box<Setup>,
        _remotes: Vec<Arc<crate::federation::FakeServer>>,
        /// What the homeserver behind the gateway says it is (federation `/version`).
        server_version: Option<String>,
    },
}

impl PreparedGateway {
    pub fn setup(&self) -> &Setup {
        match self {
            PreparedGateway::Local(l) => &l.setup,
            PreparedGateway::Remote { setup, .. } => setup,
        }
    }

    pub fn label(&self) -> String {
        match self {
            PreparedGateway::Local(l) => l.kind.label().to_owned(),
            PreparedGateway::Remote { .. } => "url".into(),
        }
    }

    pub fn server_version(&self) -> Option<String> {
        match self {
            PreparedGateway::Local(l) => Some(format!(
                "{} in front of Synapse {}",
                l.kind.label(),
                l.synapse.version()
            )),
            PreparedGateway::Remote { server_version, .. } => server_version.clone(),
        }
    }

    pub async fn stop(self) {
        if let PreparedGateway::Local(l) = self {
            l.stop().await;
        }
    }
}

pub async fn prepare(spec: &GatewaySpec) -> Result<PreparedGateway, String> {
    match &spec.gateway {
        None => {
            let opts = crate::session::synapse_options(
                &spec.synapse,
                spec.report_dir.join("homeserver.log"),
            );
            eprintln!(
                "Starting the local gateway ({}) in front of Synapse {} ...",
                spec.kind.label(),
                opts.version
            );
            crate::target::ensure_venv(&opts)
                .await
                .map_err(|e| e.to_string())?;
            let identities = match &spec.identities {
                Some(dir) => Some(load_identities(dir, &Requested::default())?),
                None => None,
            };
            let local = LocalGateway::start(
                spec.kind,
                &opts,
                Some(spec.report_dir.clone()),
                spec.step_timeout,
                identities.as_ref(),
            )
            .await
            .map_err(|e| e.to_string())?;
            Ok(PreparedGateway::Local(Box::new(local)))
        }
        Some(url) => prepare_remote(spec, url).await,
    }
}

/// Beside a gateway URL: fake remote servers on loopback (their names must be on the
/// gateway's allow-list, and the homeserver must trust the CA written to the report folder),
/// and optionally the tap and the direct comparison.
async fn prepare_remote(spec: &GatewaySpec, url: &str) -> Result<PreparedGateway, String> {
    let server_name = spec
        .server_name
        .clone()
        .ok_or("--gateway needs --gateway-server-name")?;
    // allowed, allowed2, denied: on the ports of the names given, else on free ports.
    let mut names = spec.allowed.clone();
    if names.len() == 1 {
        names.push(names[0].clone());
    }
    names.resize(2, String::new());
    names.push(spec.denied.clone().unwrap_or_default());
    let identities = match &spec.identities {
        Some(dir) => {
            let mut requested = Requested::default();
            for (role, name) in ROLES.iter().zip(&names) {
                if !name.is_empty() {
                    requested.names.insert(role, name.clone());
                }
            }
            Some(load_identities(dir, &requested)?)
        }
        None => None,
    };
    let ca = match &identities {
        Some(ids) => Arc::clone(&ids.ca),
        None => Arc::new(crate::federation::RunCa::new().map_err(|e| e.to_string())?),
    };
    let ca_path: PathBuf = spec.report_dir.join("gateway-run-ca.pem");
    ca.write_pem(&ca_path).map_err(|e| e.to_string())?;
    let mut fakes: Vec<Arc<crate::federation::FakeServer>> = match &identities {
        Some(ids) => ids.start_servers().await.map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    for name in names.iter().skip(fakes.len()) {
        let (ip_literal, port) = if name.is_empty() {
            (false, 0)
        } else {
            loopback_name(name)?
        };
        if let Some(same) = fakes.iter().find(|f| f.server_name() == name) {
            fakes.push(Arc::clone(same));
            continue;
        }
        fakes.push(Arc::new(
            crate::federation::FakeServer::start_on(&ca, "k1", ip_literal, port)
                .await
                .map_err(|e| format!("cannot play {name}: {e}"))?,
        ));
    }
    let tls = Arc::new(client_tls(&ca, spec.gateway_ca.as_deref())?);
    let gateway = Endpoint::new(url, Some(Arc::clone(&tls)))?;
    let direct = match &spec.upstream {
        Some(u) => Some(Endpoint::new(u, Some(Arc::clone(&tls)))?),
        None => None,
    };
    let tap = match (spec.tap, &direct) {
        (Some(listen), Some(d)) => {
            let upstream = tokio::net::lookup_host(d.host_port())
                .await
                .map_err(|e| e.to_string())?
                .next()
                .ok_or("the upstream host does not resolve")?;
            if d.base.starts_with("https://") {
                return Err(
                    "--gateway-tap forwards plain HTTP: give an http:// --gateway-upstream".into(),
                );
            }
            Some(Arc::new(
                Tap::start(listen, upstream)
                    .await
                    .map_err(|e| e.to_string())?,
            ))
        }
        (Some(_), None) => return Err("--gateway-tap needs --gateway-upstream".into()),
        _ => None,
    };
    eprintln!(
        "The gateway must allow {} and {} (not {}); the homeserver must trust {}",
        fakes[0].server_name(),
        fakes[1].server_name(),
        fakes[2].server_name(),
        ca_path.display()
    );
    let client = match &spec.client {
        Some(client_url) => Some(observer(client_url, spec.registration, &tls).await?),
        None => None,
    };
    let mut remotes = std::collections::BTreeMap::new();
    remotes.insert("allowed", Arc::clone(&fakes[0]));
    remotes.insert("allowed2", Arc::clone(&fakes[1]));
    remotes.insert("denied", Arc::clone(&fakes[2]));
    let setup = Setup {
        roles: Roles {
            server_name,
            allowed: fakes[0].key().clone(),
            allowed2: fakes[1].key().clone(),
            denied: fakes[2].key().clone(),
        },
        gateway,
        direct,
        tap,
        // Reachable only when the gateway runs on this host; otherwise a spoofed routing
        // header that names it shows as the gateway's own error (502).
        decoy: crate::gateway::decoy::Decoy::start()
            .await
            .ok()
            .map(Arc::new),
        no_tap_reason: "no --gateway-tap in front of the homeserver".into(),
        no_direct_reason: "no --gateway-upstream given".into(),
        remotes,
        client,
        timeout: spec.step_timeout,
        run_tag: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
    };
    let server_version = remote_implementation(url, spec).await;
    Ok(PreparedGateway::Remote {
        setup: Box::new(setup),
        _remotes: fakes,
        server_version,
    })
}

/// An observer account on the homeserver behind a gateway URL, for the outbound checks.
async fn observer(
    client_url: &str,
    registration: super::Registration,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<HomeserverClient, String> {
    let method = super::prepare::registration_method(registration)?;
    let provisioner = crate::target::Provisioner::new(client_url, method)
        .map_err(|e| format!("--gateway-client {client_url}: {e}"))?;
    let localpart = format!(
        "mxh-gateway-observer-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let user = provisioner
        .create_user(
            &localpart,
            &uuid::Uuid::new_v4().simple().to_string(),
            false,
        )
        .await
        .map_err(|e| format!("cannot create the observer account on {client_url}: {e}"))?;
    eprintln!(
        "Outbound checks ask {client_url} as {} for profiles on the played servers",
        user.user_id
    );
    Ok(HomeserverClient {
        endpoint: Endpoint::new(client_url, Some(Arc::clone(tls)))?,
        access_token: user.access_token,
    })
}

/// The implementation behind a remote gateway, for reports: federation `/version` through the
/// gateway (trusting `--gateway-ca` when given), else the upstream's client `/versions`.
async fn remote_implementation(url: &str, spec: &GatewaySpec) -> Option<String> {
    let root = spec
        .gateway_ca
        .as_deref()
        .and_then(|p| std::fs::read(p).ok())
        .and_then(|pem| reqwest::Certificate::from_pem(&pem).ok());
    crate::target::implementation::identify(crate::target::implementation::Sources {
        client_url: spec.upstream.as_deref().unwrap_or(url),
        federation_url: Some(url),
        federation_root: root,
    })
    .await
    .map(|v| format!("{v} (behind the gateway)"))
}

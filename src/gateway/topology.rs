//! Local gateway targets (`--gateway-kind`): the run CA, three fake remote servers (two allowed,
//! one denied; fresh, or the stored `--gateway-identities`), a federation-enabled Synapse and, in front of it, either nginx with the
//! allow-list config from fixtures/gateway/ (the tap between nginx and Synapse records what gets
//! through) or Synapse's own `federation_domain_whitelist` (Synapse is its own gateway).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use clap::ValueEnum;

use super::GatewayError;
use super::exec::{HomeserverClient, Setup};
use super::identities::Identities;
use super::nginx::{self, NginxConfig, SpawnedNginx};
use super::probe::Roles;
use super::raw::Endpoint;
use super::tap::Tap;
use crate::federation::{FakeServer, RunCa};
use crate::target::federated::FederationSetup;
use crate::target::{Provisioner, RegistrationMethod, SpawnedSynapse, SynapseOptions};

/// Which local gateway to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GatewayKind {
    /// nginx (Debian's package) with fixtures/gateway/nginx.conf in front of Synapse.
    Nginx,
    /// nginx with fixtures/gateway/nginx-permissive.conf: lets everything through (to show
    /// the checks failing).
    NginxPermissive,
    /// nginx with fixtures/gateway/nginx-closed.conf: refuses everything (to show the
    /// pass-through checks failing).
    NginxClosed,
    /// Synapse's own `federation_domain_whitelist`, no separate gateway.
    SynapseWhitelist,
}

impl GatewayKind {
    /// Stable name used in reports and expectation file names.
    pub fn label(self) -> &'static str {
        match self {
            GatewayKind::Nginx => "nginx",
            GatewayKind::NginxPermissive => "nginx-permissive",
            GatewayKind::NginxClosed => "nginx-closed",
            GatewayKind::SynapseWhitelist => "synapse-whitelist",
        }
    }
}

/// The body limit the local nginx enforces (and the body-limit check exceeds).
pub const NGINX_MAX_BODY: &str = "1m";

/// A running local gateway topology; everything stops when it is dropped.
pub struct LocalGateway {
    /// What the checks need.
    pub setup: Setup,
    /// The gateway kind.
    pub kind: GatewayKind,
    /// Synapse behind (or as) the gateway.
    pub synapse: SpawnedSynapse,
    /// nginx, for the nginx kinds.
    pub nginx: Option<SpawnedNginx>,
    /// Kept alive for the run (they serve keys and record outbound traffic).
    pub remotes: Vec<Arc<FakeServer>>,
}

impl std::fmt::Debug for LocalGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalGateway")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl LocalGateway {
    /// Start everything. `logs` receives nginx's logs when it stops.
    pub async fn start(
        kind: GatewayKind,
        synapse: &SynapseOptions,
        logs: Option<PathBuf>,
        timeout: Duration,
        identities: Option<&Identities>,
    ) -> Result<LocalGateway, GatewayError> {
        let (ca, fakes) = match identities {
            Some(ids) => (Arc::clone(&ids.ca), ids.start_servers().await?),
            None => {
                let ca = Arc::new(RunCa::new().map_err(fed)?);
                let mut fakes = Vec::new();
                for _ in 0..3 {
                    fakes.push(Arc::new(FakeServer::start(&ca, "k1").await.map_err(fed)?));
                }
                (ca, fakes)
            }
        };
        let (allowed, allowed2, denied) = (
            Arc::clone(&fakes[0]),
            Arc::clone(&fakes[1]),
            Arc::clone(&fakes[2]),
        );
        let allow_list = vec![
            allowed.server_name().to_owned(),
            allowed2.server_name().to_owned(),
        ];
        let gateway_port = free_port()?;
        let server_name = format!("localhost:{gateway_port}");
        let federation_setup = match kind {
            GatewayKind::SynapseWhitelist => FederationSetup {
                ca: Arc::clone(&ca),
                public_name: None,
                federation_port: Some(gateway_port),
                tls: true,
                extra_overlay: Some(whitelist_overlay(&allow_list, &server_name)),
            },
            GatewayKind::Nginx | GatewayKind::NginxPermissive | GatewayKind::NginxClosed => {
                FederationSetup {
                    ca: Arc::clone(&ca),
                    public_name: Some(server_name.clone()),
                    federation_port: None,
                    tls: false,
                    extra_overlay: None,
                }
            }
        };
        let spawned = SpawnedSynapse::start_federated(synapse, &federation_setup)
            .await
            .map_err(|e| GatewayError::Startup {
                reason: e.to_string(),
                tail: String::new(),
            })?;
        let federation = spawned.federation().cloned().ok_or_else(|| {
            GatewayError::Config("the spawned Synapse has no federation listener".into())
        })?;
        let tls = Arc::new(ca.client_config().map_err(fed)?);
        let gateway = Endpoint::new(
            &format!("https://127.0.0.1:{gateway_port}"),
            Some(Arc::clone(&tls)),
        )
        .map_err(GatewayError::Config)?;
        let (nginx, tap, direct) = match kind {
            GatewayKind::SynapseWhitelist => (None, None, None),
            GatewayKind::Nginx | GatewayKind::NginxPermissive | GatewayKind::NginxClosed => {
                let upstream = ([127, 0, 0, 1], federation.port).into();
                let tap = Tap::start(([127, 0, 0, 1], 0).into(), upstream).await?;
                let dir = tempfile::Builder::new()
                    .prefix("mxh-gateway-tls-")
                    .tempdir()
                    .map_err(GatewayError::io(
                        "cannot create a dir for the gateway certificate",
                    ))?;
                let leaf = ca.issue_leaf().map_err(fed)?;
                let (cert, key) = leaf.write_files(dir.path(), "gateway").map_err(fed)?;
                let template = match kind {
                    GatewayKind::NginxPermissive => nginx::PERMISSIVE_TEMPLATE,
                    GatewayKind::NginxClosed => nginx::CLOSED_TEMPLATE,
                    _ => nginx::STRICT_TEMPLATE,
                };
                let config = NginxConfig {
                    template: template.to_owned(),
                    port: gateway_port,
                    cert,
                    key,
                    upstream: tap.addr().to_string(),
                    server_name: server_name.clone(),
                    allowed_origins: allow_list.clone(),
                    max_body: NGINX_MAX_BODY.to_owned(),
                };
                let started = SpawnedNginx::start(&config, logs).await;
                // nginx has read its certificate once started; the dir may go.
                drop(dir);
                let direct = Endpoint::new(&federation.url, Some(Arc::clone(&tls)))
                    .map_err(GatewayError::Config)?;
                (Some(started?), Some(Arc::new(tap)), Some(direct))
            }
        };
        let provisioner = Provisioner::new(
            spawned.base_url(),
            RegistrationMethod::SharedSecret {
                secret: spawned.shared_secret().to_owned(),
            },
        )
        .map_err(|e| GatewayError::Config(e.to_string()))?;
        let user = provisioner
            .create_user(
                "gateway-observer",
                &uuid::Uuid::new_v4().simple().to_string(),
                false,
            )
            .await
            .map_err(|e| {
                GatewayError::Config(format!("cannot create the observer account: {e}"))
            })?;
        let client = HomeserverClient {
            endpoint: Endpoint::new(spawned.base_url(), None).map_err(GatewayError::Config)?,
            access_token: user.access_token,
        };
        let mut remotes = BTreeMap::new();
        remotes.insert("allowed", Arc::clone(&allowed));
        remotes.insert("allowed2", Arc::clone(&allowed2));
        remotes.insert("denied", Arc::clone(&denied));
        let setup = Setup {
            roles: Roles {
                server_name,
                allowed: allowed.key().clone(),
                allowed2: allowed2.key().clone(),
                denied: denied.key().clone(),
            },
            gateway,
            direct,
            tap,
            decoy: Some(Arc::new(super::decoy::Decoy::start().await?)),
            no_tap_reason:
                "the gateway is the homeserver itself (Synapse's federation_domain_whitelist)"
                    .into(),
            no_direct_reason: "the gateway is the homeserver itself".into(),
            remotes,
            client: Some(client),
            timeout,
            run_tag: uuid::Uuid::new_v4().simple().to_string()[..8].to_owned(),
        };
        Ok(LocalGateway {
            setup,
            kind,
            synapse: spawned,
            nginx,
            remotes: fakes,
        })
    }

    /// Stop nginx and Synapse (fake servers and the tap stop when dropped).
    pub async fn stop(self) {
        if let Some(n) = self.nginx {
            n.stop().await;
        }
        let _ = self.synapse.stop().await;
    }
}

/// Synapse's own allow-list: the allowed remotes (and itself).
fn whitelist_overlay(allowed: &[String], own: &str) -> String {
    let mut names: Vec<String> = allowed.to_vec();
    names.push(own.to_owned());
    let list = names
        .iter()
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ");
    format!("federation_domain_whitelist: [{list}]\n")
}

fn fed(e: crate::federation::FederationError) -> GatewayError {
    GatewayError::Config(e.to_string())
}

fn free_port() -> Result<u16, GatewayError> {
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(GatewayError::io("cannot bind a loopback port"))?;
    Ok(l.local_addr()
        .map_err(GatewayError::io("cannot read the bound port"))?
        .port())
}

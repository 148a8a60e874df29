//! Federation for a run: the run CA, the target as a federation peer (spawned federation-
//! enabled, or a `--target` reached at `--federation-url`), and a second spawned Synapse
//! when a selected scenario needs one.

use std::sync::Arc;

use super::TargetSpec;
use crate::federation::RunCa;
use crate::runner::Provision;
use crate::runner::federation::{FederationContext, Peer};
use crate::target::{
    FederationSetup, Provisioner, RegistrationMethod, SpawnedSynapse, SynapseOptions,
};

/// The run CA, made once per run that needs federation.
pub fn run_ca(kept: Option<&std::path::Path>) -> Result<Arc<RunCa>, String> {
    match kept {
        None => RunCa::new()
            .map(Arc::new)
            .map_err(|e| format!("cannot make the run's certificate authority: {e}")),
        Some(dir) => {
            let ca = RunCa::load_or_create(dir).map_err(|e| {
                format!(
                    "cannot use the certificate authority in {}: {e}",
                    dir.display()
                )
            })?;
            eprintln!(
                "Federation CA: {} (configure the target to trust it)",
                dir.join("ca.pem").display()
            );
            Ok(Arc::new(ca))
        }
    }
}

/// Start a federation-enabled Synapse, saying where it is.
pub async fn start_synapse(
    opts: &SynapseOptions,
    ca: &Arc<RunCa>,
    label: &str,
) -> Result<SpawnedSynapse, String> {
    let spawned = SpawnedSynapse::start_federated(opts, &FederationSetup::direct(ca.clone()))
        .await
        .map_err(|e| e.to_string())?;
    if let Some(f) = spawned.federation() {
        eprintln!(
            "{label}: Synapse {} federating as {} (federation {}, client {})",
            spawned.version(),
            f.server_name,
            f.url,
            spawned.base_url()
        );
    }
    Ok(spawned)
}

/// Start a federation-enabled Synapse behind a local nginx border gateway (the strict config
/// of `scenarios/gateway`, `fixtures/gateway/nginx.conf`): its server name is the gateway's
/// `localhost:<port>`, so what other servers send it (transactions, key and device queries)
/// goes through nginx, which lets in `allowed` only; its own outbound federation is direct.
/// nginx's logs go to `logs` when it stops.
pub async fn start_synapse_behind_gateway(
    opts: &SynapseOptions,
    ca: &Arc<RunCa>,
    allowed: &[String],
    logs: Option<std::path::PathBuf>,
    label: &str,
) -> Result<(SpawnedSynapse, crate::gateway::nginx::SpawnedNginx), String> {
    use crate::gateway::nginx::{NginxConfig, STRICT_TEMPLATE, SpawnedNginx};
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|l| l.local_addr())
        .map_err(|e| format!("cannot pick a port for the gateway: {e}"))?
        .port();
    let name = format!("localhost:{port}");
    let setup = FederationSetup {
        ca: ca.clone(),
        public_name: Some(name.clone()),
        federation_port: None,
        tls: false,
        extra_overlay: None,
    };
    let spawned = SpawnedSynapse::start_federated(opts, &setup)
        .await
        .map_err(|e| e.to_string())?;
    let upstream = spawned
        .federation()
        .map(|f| format!("127.0.0.1:{}", f.port))
        .ok_or("the spawned Synapse has no federation listener")?;
    let dir = tempfile::Builder::new()
        .prefix("mxh-load-gateway-tls-")
        .tempdir()
        .map_err(|e| format!("cannot create a dir for the gateway certificate: {e}"))?;
    let leaf = ca.issue_leaf().map_err(|e| e.to_string())?;
    let (cert, key) = leaf
        .write_files(dir.path(), "gateway")
        .map_err(|e| e.to_string())?;
    let config = NginxConfig {
        template: STRICT_TEMPLATE.to_owned(),
        port,
        cert,
        key,
        upstream: upstream.clone(),
        server_name: name.clone(),
        allowed_origins: allowed.to_vec(),
        max_body: crate::gateway::topology::NGINX_MAX_BODY.to_owned(),
    };
    let nginx = SpawnedNginx::start(&config, logs)
        .await
        .map_err(|e| e.to_string())?;
    // nginx has read its certificate once started; the dir may go.
    drop(dir);
    eprintln!(
        "{label}: Synapse {} federating as {name} behind an nginx border gateway \
         (https://127.0.0.1:{port} -> {upstream}; allowed: {}), client {}",
        spawned.version(),
        allowed.join(", "),
        spawned.base_url()
    );
    Ok((spawned, nginx))
}

/// The peer a spawned Synapse is.
pub fn spawned_peer(s: &SpawnedSynapse) -> Result<Peer, String> {
    let f = s
        .federation()
        .ok_or("the spawned Synapse has no federation listener")?;
    let provisioner = Provisioner::new(
        s.base_url().to_owned(),
        RegistrationMethod::SharedSecret {
            secret: s.shared_secret().to_owned(),
        },
    )
    .map_err(|e| e.to_string())?;
    Ok(Peer {
        server_name: f.server_name.clone(),
        federation_url: Some(f.url.clone()),
        base_url: s.base_url().to_owned(),
        provisioner: Arc::new(provisioner),
    })
}

/// The second homeserver given with `--target2`.
pub async fn target2_peer(args: &TargetSpec, url: &str) -> Result<Peer, String> {
    let url = url.trim_end_matches('/').to_owned();
    let probe = crate::target::probe(&url, args.target2_server_name.clone())
        .await
        .map_err(|e| format!("--target2: {e}"))?;
    let registration = match std::env::var("MXH_TARGET2_REGISTRATION_SHARED_SECRET") {
        Ok(secret) if !secret.is_empty() => RegistrationMethod::SharedSecret { secret },
        _ => RegistrationMethod::Open,
    };
    let provisioner = Provisioner::new(url.clone(), registration).map_err(|e| e.to_string())?;
    let server_name = match probe.server_name {
        Some(name) => name,
        None => super::prepare::server_name_from_a_user(&provisioner)
            .await
            .map_err(|e| format!("--target2: {e}"))?,
    };
    eprintln!("hs2: {url} federating as {server_name}");
    Ok(Peer {
        server_name,
        federation_url: args.target2_federation_url.clone(),
        base_url: url,
        provisioner: Arc::new(provisioner),
    })
}

/// The federation context of a run: hs1 (the target) and hs2 when the run has one.
pub fn context(
    args: &TargetSpec,
    ca: Arc<RunCa>,
    hs1_spawned: Option<&SpawnedSynapse>,
    hs1_base_url: &str,
    hs1_server_name: &str,
    hs1_provisioner: Arc<dyn Provision>,
    hs2: Option<Peer>,
) -> Result<FederationContext, String> {
    let hs1 = match hs1_spawned {
        Some(s) => spawned_peer(s)?,
        None => Peer {
            server_name: args
                .federation_server_name
                .clone()
                .unwrap_or_else(|| hs1_server_name.to_owned()),
            federation_url: args.federation_url.clone(),
            base_url: hs1_base_url.to_owned(),
            provisioner: hs1_provisioner,
        },
    };
    Ok(FederationContext { ca, hs1, hs2 })
}

//! Getting a target ready for a run from its [`TargetSpec`]: probe a target URL, or install
//! and start the local Synapse; pick the registration method; resolve the server name.

use std::sync::Arc;

use ruma::api::SupportedVersions;

use super::{Registration, SynapseSpec, TargetSpec};
use crate::matrix::http_client::HttpClient;
use crate::runner::{BoxFuture, Provision, RunContext, UserInfo};
use crate::target::{
    self, Provisioner, RegistrationMethod, SpawnedSynapse, SynapseOptions, Target, TargetKind,
};

/// A target ready to run against.
pub struct Prepared {
    /// What is tested.
    pub target: Target,
    /// What the runner needs.
    pub ctx: Arc<RunContext>,
    /// The local Synapse, when the harness started one (stop it afterwards).
    pub spawned: Option<SpawnedSynapse>,
    /// The second local Synapse of a federation run (stop it afterwards).
    pub spawned2: Option<SpawnedSynapse>,
    /// The border gateway in front of the second local Synapse, when asked for.
    pub gateway2: Option<crate::gateway::nginx::SpawnedNginx>,
}

impl Prepared {
    /// Stop the local Synapses the harness started (a failure is a warning: the run's results
    /// stand).
    pub async fn stop(self) {
        if let Some(nginx) = self.gateway2 {
            nginx.stop().await;
        }
        for (spawned, which) in [(self.spawned, "local"), (self.spawned2, "second local")] {
            if let Some(s) = spawned
                && let Err(e) = s.stop().await
            {
                eprintln!("warning: stopping the {which} Synapse: {e}");
            }
        }
    }
}

/// What the selected scenarios need from federation.
#[derive(Debug, Clone, Copy, Default)]
pub struct FederationNeeds {
    /// Any federation at all (fake servers, federation steps).
    pub any: bool,
    /// A second real homeserver.
    pub second_server: bool,
    /// The spawned second homeserver sits behind a local nginx border gateway (load's
    /// `--federation-gateway`).
    pub gateway: bool,
}

impl Provision for Provisioner {
    fn create_user<'a>(
        &'a self,
        localpart: &'a str,
        password: &'a str,
        admin: bool,
    ) -> BoxFuture<'a, Result<UserInfo, String>> {
        Box::pin(async move {
            let u = Provisioner::create_user(self, localpart, password, admin)
                .await
                .map_err(|e| e.to_string())?;
            Ok(UserInfo {
                user_id: u.user_id,
                localpart: u.localpart,
                password: u.password,
                access_token: u.access_token,
                device_id: u.device_id,
            })
        })
    }
}

/// The Synapse options of a run: versions and interpreter from the flags, the log beside the
/// reports.
pub fn synapse_options(spec: &SynapseSpec, log_path: std::path::PathBuf) -> SynapseOptions {
    SynapseOptions {
        version: spec.version.clone(),
        log_path,
        python: spec.python.clone(),
        extra_overlays: spec
            .overlays
            .iter()
            .map(|p| std::fs::canonicalize(p).unwrap_or_else(|_| p.clone()))
            .collect(),
        ..SynapseOptions::default()
    }
}

/// The implementation's name and version when the probe of the client API did not find it:
/// from the federation API where it is served apart (a federation-enabled spawned Synapse,
/// `--federation-url`), else from `/versions`' `server` field.
async fn implementation(
    args: &TargetSpec,
    spawned: Option<&SpawnedSynapse>,
    ca: Option<&crate::federation::RunCa>,
    base_url: &str,
) -> Option<String> {
    let spawned_federation = spawned.and_then(SpawnedSynapse::federation);
    let (federation_url, federation_root) = match spawned_federation {
        Some(f) => (
            Some(f.url.as_str()),
            ca.and_then(|ca| ca.reqwest_certificate().ok()),
        ),
        None => (args.federation_url.as_deref(), None),
    };
    target::implementation::identify(target::implementation::Sources {
        client_url: base_url,
        federation_url,
        federation_root,
    })
    .await
}

/// The capabilities (`requires.capabilities`) and room versions the selected scenarios need.
#[derive(Debug, Clone, Default)]
pub struct CapabilityNeeds {
    /// Capabilities to probe.
    pub capabilities: std::collections::BTreeSet<crate::scenario::model::Capability>,
    /// Whether some scenario needs a room version (probe `/capabilities`).
    pub room_versions: bool,
}

impl CapabilityNeeds {
    /// What `plans` need.
    pub fn of(plans: &[crate::plan::ScenarioPlan]) -> Self {
        Self {
            capabilities: plans
                .iter()
                .flat_map(|p| p.requires_capabilities.iter().copied())
                .collect(),
            room_versions: plans.iter().any(|p| !p.requires_room_versions.is_empty()),
        }
    }
}

pub async fn prepare(
    args: &TargetSpec,
    needs_sliding_sync: bool,
    fed_needs: FederationNeeds,
    cap_needs: CapabilityNeeds,
) -> Result<Prepared, String> {
    let ca = if fed_needs.any {
        Some(super::federation::run_ca(args.federation_ca.as_deref())?)
    } else {
        None
    };
    let mut appservice = None;
    let mut push_gateway = None;
    let mut email_sink = None;
    let mut identity_server = None;
    let (base_url, registration, kind, spawned, log_path) = match &args.target {
        Some(url) => {
            let url = url.trim_end_matches('/').to_owned();
            let method = registration_method(args.registration)?;
            if let Some(path) = &args.appservice_registration {
                appservice = Some(Arc::new(operator_appservice(path).await?));
            }
            (url, method, TargetKind::Url, None, None)
        }
        None => {
            let log_path = args.report_dir.join("homeserver.log");
            let mut opts = synapse_options(&args.synapse, log_path.clone());
            let role = target::appservice::AppServiceRole::start()
                .await
                .map_err(|e| format!("cannot start the application-service role: {e}"))?;
            opts.appservice = Some(role.registration().clone());
            appservice = Some(Arc::new(role));
            let push = target::push_gateway::PushGatewayRole::start()
                .await
                .map_err(|e| format!("cannot start the push-gateway role: {e}"))?;
            opts.loopback_push = true;
            push_gateway = Some(Arc::new(push));
            eprintln!(
                "Preparing Synapse {} (installed once into {}) ...",
                opts.version,
                opts.cache_dir.display()
            );
            target::ensure_venv(&opts)
                .await
                .map_err(|e| e.to_string())?;
            if cap_needs
                .capabilities
                .contains(&crate::scenario::model::Capability::Email)
            {
                let dir = args.report_dir.join("email-sink");
                let _ = std::fs::remove_dir_all(&dir);
                let sink = target::email_sink::EmailSink::start(&opts, &dir)
                    .await
                    .map_err(|e| format!("cannot start the SMTP sink: {e}"))?;
                opts.email_smtp_port = Some(sink.port());
                email_sink = Some(Arc::new(sink));
            }
            if cap_needs
                .capabilities
                .contains(&crate::scenario::model::Capability::IdentityServer)
            {
                let role = target::identity_server::IdentityServerRole::start()
                    .await
                    .map_err(|e| format!("cannot start the identity-server role: {e}"))?;
                opts.insecure_identity_tls = true;
                identity_server = Some(Arc::new(role));
            }
            let spawned = match &ca {
                Some(ca) => super::federation::start_synapse(&opts, ca, "hs1").await?,
                None => SpawnedSynapse::start(&opts)
                    .await
                    .map_err(|e| e.to_string())?,
            };
            eprintln!(
                "Synapse {} is up at {} (started in {:.1}s; log: {})",
                spawned.version(),
                spawned.base_url(),
                spawned.startup_time().as_secs_f64(),
                log_path.display()
            );
            if let Some(role) = &identity_server {
                // onbind is a federation request: to the federation listener when there is
                // one (TLS with the run's CA), else to the client port that serves both.
                let federation = spawned.federation().map(|f| f.url.clone());
                let client = match (&ca, &federation) {
                    (Some(ca), Some(_)) => ca
                        .reqwest_certificate()
                        .map_err(|e| e.to_string())
                        .and_then(|cert| {
                            crate::matrix::net::builder_without_roots()
                                .tls_certs_only([cert])
                                .build()
                                .map_err(|e| e.to_string())
                        }),
                    _ => crate::matrix::net::base_builder()
                        .build()
                        .map_err(|e| e.to_string()),
                }
                .map_err(|e| format!("cannot build the identity role's homeserver client: {e}"))?;
                role.set_homeserver(federation.as_deref().unwrap_or(spawned.base_url()), client);
            }
            let method = RegistrationMethod::SharedSecret {
                secret: spawned.shared_secret().to_owned(),
            };
            (
                spawned.base_url().to_owned(),
                method,
                TargetKind::SpawnedSynapse,
                Some(spawned),
                Some(log_path),
            )
        }
    };
    let server_override = args
        .server_name
        .clone()
        .or_else(|| spawned.as_ref().map(|s| s.server_name().to_owned()));
    let probe = target::probe(&base_url, server_override)
        .await
        .map_err(|e| e.to_string())?;
    let provisioner =
        Provisioner::new(base_url.clone(), registration.clone()).map_err(|e| e.to_string())?;
    let server_name = match probe.server_name.clone() {
        Some(name) => name,
        None => server_name_from_a_user(&provisioner).await?,
    };
    let target = Target {
        base_url: base_url.clone(),
        server_name: server_name.clone(),
        kind,
        registration,
        server_version: match probe.server_version.clone() {
            Some(v) => Some(v),
            None => implementation(args, spawned.as_ref(), ca.as_deref(), &base_url).await,
        },
        spec_versions: probe.versions.clone(),
        unstable_features: probe.unstable_features.clone(),
        log_path,
    };
    let sliding_sync = if needs_sliding_sync {
        // Probing needs a real access token; a forced dialect needs none.
        let token = match args.sliding_sync_dialect {
            Some(_) => String::new(),
            None => fresh_user(&provisioner).await?.access_token,
        };
        let found = crate::matrix::sliding_sync::detect::detect(
            &base_url,
            args.sync_url.as_deref(),
            args.sliding_sync_dialect,
            &token,
        )
        .await?;
        match &found {
            Some(t) => eprintln!("Sliding sync: {}", t.describe()),
            None => eprintln!(
                "Sliding sync: no dialect answered; sliding-sync scenarios will be skipped"
            ),
        }
        found
    } else {
        None
    };
    let provisioner: Arc<dyn crate::runner::Provision> = Arc::new(provisioner);
    let mut spawned2 = None;
    let mut gateway2 = None;
    let federation = match ca {
        None => None,
        Some(ca) => {
            let mut hs2 = None;
            if fed_needs.second_server {
                if let Some(url) = &args.target2 {
                    hs2 = Some(super::federation::target2_peer(args, url).await?);
                } else {
                    let log = args.report_dir.join("homeserver2.log");
                    let opts = synapse_options(&args.synapse, log);
                    let s = if fed_needs.gateway {
                        let (s, nginx) = super::federation::start_synapse_behind_gateway(
                            &opts,
                            &ca,
                            std::slice::from_ref(&server_name),
                            Some(args.report_dir.clone()),
                            "hs2",
                        )
                        .await?;
                        gateway2 = Some(nginx);
                        s
                    } else {
                        super::federation::start_synapse(&opts, &ca, "hs2").await?
                    };
                    hs2 = Some(super::federation::spawned_peer(&s)?);
                    spawned2 = Some(s);
                }
            }
            Some(Arc::new(super::federation::context(
                args,
                ca,
                spawned.as_ref(),
                &base_url,
                &server_name,
                provisioner.clone(),
                hs2,
            )?))
        }
    };
    let capabilities = crate::target::capabilities::probe(
        &HttpClient::new()?,
        &base_url,
        provisioner.as_ref(),
        federation.is_some(),
        &cap_needs.capabilities,
        cap_needs.room_versions,
    )
    .await;
    let mut capabilities = capabilities;
    if cap_needs
        .capabilities
        .contains(&crate::scenario::model::Capability::Appservice)
    {
        capabilities.probed.insert(
            crate::scenario::model::Capability::Appservice,
            target::capabilities::appservice_probed(appservice.as_deref()),
        );
    }
    if cap_needs
        .capabilities
        .contains(&crate::scenario::model::Capability::IdentityServer)
    {
        capabilities.probed.insert(
            crate::scenario::model::Capability::IdentityServer,
            target::capabilities::identity_server_probed(identity_server.is_some()),
        );
    }
    if cap_needs
        .capabilities
        .contains(&crate::scenario::model::Capability::Email)
    {
        capabilities.probed.insert(
            crate::scenario::model::Capability::Email,
            target::capabilities::email_probed(email_sink.is_some()),
        );
    }
    if cap_needs
        .capabilities
        .contains(&crate::scenario::model::Capability::PushGateway)
    {
        capabilities.probed.insert(
            crate::scenario::model::Capability::PushGateway,
            target::capabilities::push_gateway_probed(push_gateway.is_some()),
        );
    }
    for (cap, p) in capabilities.probed.iter().filter(|(_, p)| !p.offered) {
        eprintln!("Capability {}: not offered ({})", cap.as_str(), p.evidence);
    }
    let ctx = RunContext {
        base_url,
        server_name,
        versions: SupportedVersions::from_parts(&probe.versions, &probe.unstable_features),
        spec_versions: probe.versions,
        unstable_features: probe.unstable_features,
        provisioner,
        http: HttpClient::new()?,
        step_timeout: args.step_timeout,
        scenario_timeout: args.scenario_timeout,
        sliding_sync,
        lenient_schema: args.lenient_schema,
        retries: args.retries,
        federation,
        capabilities,
        appservice,
        push_gateway,
        email_sink,
        identity_server,
    };
    Ok(Prepared {
        target,
        ctx: Arc::new(ctx),
        spawned,
        spawned2,
        gateway2,
    })
}

/// The application-service role for a registration the operator made (`--target` with
/// `--appservice-registration`), listening at its url.
async fn operator_appservice(
    path: &std::path::Path,
) -> Result<target::appservice::AppServiceRole, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let reg = target::appservice::Registration::from_yaml(&text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let addr = reg
        .listen_addr()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen at {addr} for the application service: {e}"))?;
    eprintln!(
        "Application service `{}`: listening at {} ({})",
        reg.id,
        reg.url,
        path.display()
    );
    Ok(target::appservice::AppServiceRole::serve(listener, reg))
}

/// A throwaway user for probing the target.
async fn fresh_user(provisioner: &Provisioner) -> Result<crate::target::NewUser, String> {
    let localpart = format!(
        "mxh-probe-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..12]
    );
    let password = uuid::Uuid::new_v4().simple().to_string();
    Provisioner::create_user(provisioner, &localpart, &password, false)
        .await
        .map_err(|e| format!("cannot create a probe user: {e}"))
}

pub async fn server_name_from_a_user(provisioner: &Provisioner) -> Result<String, String> {
    let user = fresh_user(provisioner)
        .await
        .map_err(|e| format!("cannot tell the server name (pass --server-name): {e}"))?;
    user.user_id
        .split_once(':')
        .map(|(_, s)| s.to_owned())
        .ok_or_else(|| format!("the server returned an invalid user id {:?}", user.user_id))
}

/// The registration method `choice` names, with its secret or token from the environment.
pub(crate) fn registration_method(choice: Registration) -> Result<RegistrationMethod, String> {
    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let secret = env("MXH_REGISTRATION_SHARED_SECRET");
    let token = env("MXH_REGISTRATION_TOKEN");
    match choice {
        Registration::Auto => Ok(match (secret, token) {
            (Some(secret), _) => RegistrationMethod::SharedSecret { secret },
            (None, Some(token)) => RegistrationMethod::Token { token },
            (None, None) => RegistrationMethod::Open,
        }),
        Registration::SharedSecret => secret
            .map(|secret| RegistrationMethod::SharedSecret { secret })
            .ok_or_else(|| "--registration shared-secret needs MXH_REGISTRATION_SHARED_SECRET in the environment".to_owned()),
        Registration::Token => token
            .map(|token| RegistrationMethod::Token { token })
            .ok_or_else(|| "--registration token needs MXH_REGISTRATION_TOKEN in the environment".to_owned()),
        Registration::Open => Ok(RegistrationMethod::Open),
    }
}

/// Await the preparation of what is tested (`what`: "target", "gateway"), unless a stop
/// comes first; failures are reported and become the exit code.
pub async fn interruptible_prepare<T>(
    prepare: impl std::future::Future<Output = Result<T, String>>,
    what: &str,
    stop: &crate::lifecycle::Stop,
) -> Result<T, u8> {
    let prepared = tokio::select! {
        p = prepare => p,
        reason = stop.stopped() => {
            eprintln!("{} while preparing the {what}: nothing was run", reason.describe());
            return Err(reason.exit_code());
        }
    };
    prepared.map_err(|e| {
        eprintln!("error: the {what} is not usable: {e}");
        crate::exit_codes::ENVIRONMENT
    })
}

//! The embedded default target: a pinned Synapse started on a free loopback port with a
//! throw-away data dir, plus `up`/`down` for a long-lived local Synapse used by hand.

use std::ffi::OsString;
use std::fs::File;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};
use tempfile::TempDir;

use super::TargetError;
use super::federated::{self, FederationEndpoint, FederationSetup};
use super::venv::{ensure_venv, tail_lines};
use crate::child::{self, Record, RecordGuard, proc_stat};

/// The Synapse release the embedded target installs (see docs/targets.md for why).
pub const SYNAPSE_VERSION: &str = "1.163.2";

/// Server name of every spawned Synapse. Without a port: Synapse derives its listener port
/// from a port in the server name (port - 400), so the listener is set in the overlay instead.
pub const SERVER_NAME: &str = "localhost";

const OVERLAY_TEMPLATE: &str = include_str!("../../fixtures/synapse/homeserver-overlay.yaml");
const LOG_CONFIG: &str = include_str!("../../fixtures/synapse/log-config.yaml");

/// Outbound HTTP (pushers) may reach loopback, where the harness's push-gateway role listens.
const LOOPBACK_OVERLAY: &str = "ip_range_whitelist:\n  - \"127.0.0.0/8\"\n  - \"::1/128\"\n";

const STARTUP_DEADLINE: Duration = Duration::from_secs(60);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
const STOP_GRACE: Duration = Duration::from_secs(10);
const LOG_TAIL: usize = 30;

/// How to install and run the embedded Synapse.
#[derive(Debug, Clone)]
pub struct SynapseOptions {
    /// `matrix-synapse` version to install from PyPI.
    pub version: String,
    /// Where venvs (and `up` data dirs) are kept between runs.
    pub cache_dir: PathBuf,
    /// Where the server's stdout and stderr go.
    pub log_path: PathBuf,
    /// Python interpreter used to create the venv.
    pub python: String,
    /// Extra configuration files applied last (`--synapse-overlay`), e.g.
    /// fixtures/synapse/restrictive.yaml.
    pub extra_overlays: Vec<PathBuf>,
    /// An application service to register (its file is written into the data dir and named
    /// in `app_service_config_files`).
    pub appservice: Option<super::appservice::Registration>,
    /// Let the server's outbound HTTP reach 127.0.0.0/8 (`ip_range_whitelist`), for HTTP
    /// pushers pointing at the harness's push-gateway role.
    pub loopback_push: bool,
    /// Send mail through the harness's SMTP sink on 127.0.0.1:<port> (the `email:` section,
    /// plain SMTP, and `public_baseurl` so the links in the mails reach this server).
    pub email_smtp_port: Option<u16>,
    /// Accept the self-signed certificate of the harness's identity-server role
    /// (`use_insecure_ssl_client_just_for_testing_do_not_use`: Synapse names identity servers
    /// over `https://` only; federation keeps its own verification).
    pub insecure_identity_tls: bool,
}

impl Default for SynapseOptions {
    fn default() -> Self {
        let cache_dir = default_cache_dir();
        let stamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let short = uuid::Uuid::new_v4().simple().to_string();
        let log_path = cache_dir
            .join("logs")
            .join(format!("synapse-{stamp}-{}.log", &short[..8]));
        Self {
            version: SYNAPSE_VERSION.to_owned(),
            cache_dir,
            log_path,
            python: "python3".into(),
            extra_overlays: Vec::new(),
            appservice: None,
            loopback_push: false,
            email_smtp_port: None,
            insecure_identity_tls: false,
        }
    }
}

/// `$MXH_CACHE_DIR`, else `$XDG_CACHE_HOME/mxharness`, else `~/.cache/mxharness`.
pub fn default_cache_dir() -> PathBuf {
    resolve_cache_dir(
        std::env::var_os("MXH_CACHE_DIR"),
        std::env::var_os("XDG_CACHE_HOME"),
        std::env::var_os("HOME"),
    )
}

/// The cache-dir rule, from explicit values (empty values count as unset; a relative
/// `XDG_CACHE_HOME` is ignored as the XDG spec requires).
pub fn resolve_cache_dir(
    mxh_cache_dir: Option<OsString>,
    xdg_cache_home: Option<OsString>,
    home: Option<OsString>,
) -> PathBuf {
    let set = |v: Option<OsString>| v.filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(dir) = set(mxh_cache_dir) {
        return dir;
    }
    if let Some(xdg) = set(xdg_cache_home).filter(|p| p.is_absolute()) {
        return xdg.join("mxharness");
    }
    if let Some(home) = set(home) {
        return home.join(".cache").join("mxharness");
    }
    std::env::temp_dir().join("mxharness-cache")
}

/// Render the config overlay for one server. Fails if a placeholder is left unreplaced.
pub fn render_overlay(
    port: u16,
    data_dir: &Path,
    shared_secret: &str,
) -> Result<String, TargetError> {
    let data_dir = data_dir.to_str().ok_or_else(|| {
        TargetError::Config(format!(
            "data dir {} is not valid UTF-8",
            data_dir.display()
        ))
    })?;
    let rendered = OVERLAY_TEMPLATE
        .replace("{{port}}", &port.to_string())
        .replace("{{data_dir}}", &yaml_escape(data_dir))
        .replace("{{shared_secret}}", &yaml_escape(shared_secret));
    if let Some(at) = rendered.find("{{") {
        let rest: String = rendered[at..].chars().take(40).collect();
        return Err(TargetError::Config(format!(
            "unreplaced placeholder at {rest:?}"
        )));
    }
    Ok(rendered)
}

/// Escape text for the inside of a YAML double-quoted scalar.
fn yaml_escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

/// Everything written into a data dir before Synapse starts.
struct Prepared {
    port: u16,
    base_url: String,
    config: PathBuf,
    overlay: PathBuf,
    shared_secret: String,
    /// Federation overlay files (federation, then extra), applied after `overlay`.
    more_overlays: Vec<PathBuf>,
    federation: Option<FederationEndpoint>,
}

/// Pick a port, generate the base config and write the overlay and log config into `data_dir`.
async fn prepare(
    python: &Path,
    data_dir: &Path,
    log_path: &Path,
    federation: Option<&FederationSetup>,
    appservice: Option<&super::appservice::Registration>,
    loopback_push: bool,
) -> Result<Prepared, TargetError> {
    let port = free_port()?;
    let config = data_dir.join("homeserver.yaml");
    let mut generate = tokio::process::Command::new(python);
    generate
        .args([
            "-m",
            "synapse.app.homeserver",
            "--server-name",
            SERVER_NAME,
            "--config-path",
        ])
        .arg(&config)
        .arg("--data-directory")
        .arg(data_dir)
        .args(["--generate-config", "--report-stats=no"])
        .env("GIT_CEILING_DIRECTORIES", git_ceiling(python))
        .current_dir(data_dir)
        .stdin(Stdio::null());
    let out = child::spawner::output(generate, Signal::SIGKILL)
        .await
        .map_err(|e| io(format!("cannot run {}", python.display()), e))?;
    if !out.status.success() {
        return Err(TargetError::Startup {
            reason: format!("`--generate-config` failed ({})", out.status),
            log: log_path.to_owned(),
            tail: format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        });
    }
    let shared_secret = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let log_config = data_dir.join("log-config.yaml");
    std::fs::write(&log_config, LOG_CONFIG)
        .map_err(|e| io(format!("cannot write {}", log_config.display()), e))?;
    let overlay = data_dir.join("mxharness-overlay.yaml");
    std::fs::write(&overlay, render_overlay(port, data_dir, &shared_secret)?)
        .map_err(|e| io(format!("cannot write {}", overlay.display()), e))?;
    let (more_overlays, federation) = match federation {
        None => (Vec::new(), None),
        Some(setup) => {
            let fed_port = match setup.federation_port {
                Some(p) => p,
                None => free_port()?,
            };
            let written = federated::write(setup, data_dir, port, fed_port)?;
            let mut files = vec![written.overlay];
            files.extend(written.extra);
            (files, Some(written.endpoint))
        }
    };
    let mut more_overlays = more_overlays;
    if let Some(reg) = appservice {
        more_overlays.push(write_appservice(data_dir, reg)?);
    }
    if loopback_push {
        let overlay = data_dir.join("mxharness-loopback-overlay.yaml");
        std::fs::write(&overlay, LOOPBACK_OVERLAY)
            .map_err(|e| io(format!("cannot write {}", overlay.display()), e))?;
        more_overlays.push(overlay);
    }
    Ok(Prepared {
        port,
        base_url: format!("http://127.0.0.1:{port}"),
        config,
        overlay,
        shared_secret,
        more_overlays,
        federation,
    })
}

/// The `email:` overlay: mail goes to the harness's SMTP sink on 127.0.0.1:`smtp` over plain
/// SMTP (the sink offers no TLS), and `public_baseurl` is this server's loopback listener, so
/// the validation links in the mails lead back to it.
fn email_overlay(port: u16, smtp: u16) -> String {
    format!(
        "public_baseurl: \"http://127.0.0.1:{port}/\"\n\
         email:\n  \
         smtp_host: \"127.0.0.1\"\n  \
         smtp_port: {smtp}\n  \
         force_tls: false\n  \
         require_transport_security: false\n  \
         enable_tls: false\n  \
         notif_from: \"mxharness <noreply@localhost>\"\n  \
         app_name: \"mxharness\"\n"
    )
}

/// Write the application-service registration and the overlay naming it; returns the overlay.
fn write_appservice(
    data_dir: &Path,
    reg: &super::appservice::Registration,
) -> Result<PathBuf, TargetError> {
    let file = data_dir.join("mxharness-appservice.yaml");
    std::fs::write(&file, reg.to_yaml())
        .map_err(|e| io(format!("cannot write {}", file.display()), e))?;
    let path = file
        .to_str()
        .ok_or_else(|| TargetError::Config(format!("{} is not valid UTF-8", file.display())))?;
    let overlay = data_dir.join("mxharness-appservice-overlay.yaml");
    std::fs::write(
        &overlay,
        format!("app_service_config_files:\n  - \"{}\"\n", yaml_escape(path)),
    )
    .map_err(|e| io(format!("cannot write {}", overlay.display()), e))?;
    Ok(overlay)
}

/// A free port on 127.0.0.1 (bound then released; Synapse binds it a moment later).
fn free_port() -> Result<u16, TargetError> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .map_err(|e| io("cannot bind a loopback port".to_owned(), e))?;
    let port = listener
        .local_addr()
        .map_err(|e| io("cannot read the bound port".to_owned(), e))?
        .port();
    Ok(port)
}

/// Create the log file (and its parent dirs); returns two handles for stdout and stderr.
fn open_log(path: &Path) -> Result<(File, File), TargetError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| io(format!("cannot create {}", parent.display()), e))?;
    }
    let out = File::create(path).map_err(|e| io(format!("cannot create {}", path.display()), e))?;
    let err = out
        .try_clone()
        .map_err(|e| io(format!("cannot open {}", path.display()), e))?;
    Ok((out, err))
}

/// Synapse appends `git describe` output of its package dir to its version string. Stop git
/// from finding a repository that merely contains the cache (e.g. `target/` of a checkout), so
/// the server reports its plain release version: the venv root is the ceiling.
fn git_ceiling(python: &Path) -> OsString {
    // python = <venv>/bin/python
    let venv = python.parent().and_then(Path::parent).unwrap_or(python);
    // Git ignores relative ceiling entries.
    std::fs::canonicalize(venv)
        .unwrap_or_else(|_| venv.to_owned())
        .into_os_string()
}

fn homeserver_args(prepared: &Prepared) -> Vec<OsString> {
    let mut args: Vec<OsString> = vec![
        "-m".into(),
        "synapse.app.homeserver".into(),
        "-c".into(),
        prepared.config.clone().into(),
        "-c".into(),
        prepared.overlay.clone().into(),
    ];
    for extra in &prepared.more_overlays {
        args.push("-c".into());
        args.push(extra.clone().into());
    }
    args
}

/// Poll `/versions` until it answers 200. `exited` reports an early exit of the server.
async fn wait_ready(
    base_url: &str,
    log_path: &Path,
    mut exited: impl FnMut() -> Option<String>,
) -> Result<Duration, TargetError> {
    let started = Instant::now();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .map_err(|e| startup_error(format!("cannot build an HTTP client: {e}"), log_path))?;
    let url = format!("{base_url}/_matrix/client/versions");
    loop {
        if let Some(status) = exited() {
            return Err(startup_error(
                format!("the process exited early ({status})"),
                log_path,
            ));
        }
        if let Ok(resp) = client.get(&url).send().await
            && resp.status() == reqwest::StatusCode::OK
        {
            return Ok(started.elapsed());
        }
        if started.elapsed() > STARTUP_DEADLINE {
            return Err(startup_error(
                format!(
                    "{url} did not answer 200 within {} s",
                    STARTUP_DEADLINE.as_secs()
                ),
                log_path,
            ));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
}

fn startup_error(reason: String, log_path: &Path) -> TargetError {
    TargetError::Startup {
        reason,
        log: log_path.to_owned(),
        tail: tail_lines(log_path, LOG_TAIL),
    }
}

fn io(context: String, source: std::io::Error) -> TargetError {
    TargetError::Io { context, source }
}

fn signal_group(pid: u32, signal: Signal) -> Result<(), nix::errno::Errno> {
    let pid = i32::try_from(pid).map_err(|_| nix::errno::Errno::ESRCH)?;
    killpg(Pid::from_raw(pid), signal)
}

/// A Synapse the harness started for one run. Stopped by [`SpawnedSynapse::stop`], or killed
/// when dropped (panic and early-return safety); its data dir goes with it either way.
#[derive(Debug)]
pub struct SpawnedSynapse {
    child: Option<tokio::process::Child>,
    data_dir: Option<TempDir>,
    pid: u32,
    port: u16,
    base_url: String,
    shared_secret: String,
    version: String,
    log_path: PathBuf,
    startup: Duration,
    server_name: String,
    federation: Option<FederationEndpoint>,
    /// Its entry under `<cache dir>/running/`, removed when it stops.
    record: Option<RecordGuard>,
}

impl SpawnedSynapse {
    /// Install (if needed) and start Synapse; returns once `/versions` answers 200.
    pub async fn start(opts: &SynapseOptions) -> Result<SpawnedSynapse, TargetError> {
        Self::start_with(opts, None).await
    }

    /// Like [`SpawnedSynapse::start`], federation-enabled as `setup` says (server name
    /// `localhost:<port>`, a federation listener, the run CA trusted, loopback allowed).
    pub async fn start_federated(
        opts: &SynapseOptions,
        setup: &FederationSetup,
    ) -> Result<SpawnedSynapse, TargetError> {
        Self::start_with(opts, Some(setup)).await
    }

    async fn start_with(
        opts: &SynapseOptions,
        federation: Option<&FederationSetup>,
    ) -> Result<SpawnedSynapse, TargetError> {
        let python = ensure_venv(opts).await?;
        let data_dir = tempfile::Builder::new()
            .prefix("mxh-synapse-")
            .tempdir()
            .map_err(|e| io("cannot create a temporary data dir".to_owned(), e))?;
        let mut prepared = prepare(
            &python,
            data_dir.path(),
            &opts.log_path,
            federation,
            opts.appservice.as_ref(),
            opts.loopback_push,
        )
        .await?;
        if let Some(smtp) = opts.email_smtp_port {
            let overlay = data_dir.path().join("mxharness-email-overlay.yaml");
            std::fs::write(&overlay, email_overlay(prepared.port, smtp))
                .map_err(|e| io(format!("cannot write {}", overlay.display()), e))?;
            prepared.more_overlays.push(overlay);
        }
        if opts.insecure_identity_tls {
            let overlay = data_dir.path().join("mxharness-identity-overlay.yaml");
            std::fs::write(
                &overlay,
                "use_insecure_ssl_client_just_for_testing_do_not_use: true\n",
            )
            .map_err(|e| io(format!("cannot write {}", overlay.display()), e))?;
            prepared.more_overlays.push(overlay);
        }
        prepared
            .more_overlays
            .extend(opts.extra_overlays.iter().cloned());
        let (out, err) = open_log(&opts.log_path)?;
        let args = homeserver_args(&prepared);
        let mut cmd = tokio::process::Command::new(&python);
        cmd.args(&args)
            .env("GIT_CEILING_DIRECTORIES", git_ceiling(&python))
            .current_dir(data_dir.path())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .process_group(0);
        // SIGKILL when the harness dies (see crate::child::spawner); its own group so that
        // stop and Drop can take everything it might fork.
        let mut child = child::spawn(cmd, Signal::SIGKILL)
            .await
            .map_err(|e| io(format!("cannot start {}", python.display()), e))?;
        let pid = child.id().unwrap_or(0);
        let record = running_record(&opts.cache_dir, pid, &python, &args, data_dir.path());
        let mut server = SpawnedSynapse {
            child: None,
            data_dir: Some(data_dir),
            pid,
            port: prepared.port,
            base_url: prepared.base_url,
            shared_secret: prepared.shared_secret,
            version: opts.version.clone(),
            log_path: opts.log_path.clone(),
            startup: Duration::ZERO,
            server_name: prepared
                .federation
                .as_ref()
                .map_or_else(|| SERVER_NAME.to_owned(), |f| f.server_name.clone()),
            federation: prepared.federation.clone(),
            record,
        };
        let ready = wait_ready(&server.base_url, &opts.log_path, || {
            match child.try_wait() {
                Ok(Some(status)) => Some(status.to_string()),
                Ok(None) => None,
                Err(e) => Some(format!("cannot check the process: {e}")),
            }
        })
        .await;
        server.child = Some(child);
        // On error `server` is dropped here, which kills the child and removes the data dir.
        server.startup = ready?;
        Ok(server)
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The server name user IDs end with (`localhost`, or `localhost:<port>` when
    /// federation-enabled).
    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    /// The federation listener, when started with [`SpawnedSynapse::start_federated`].
    pub fn federation(&self) -> Option<&FederationEndpoint> {
        self.federation.as_ref()
    }

    /// This run's `registration_shared_secret`.
    pub fn shared_secret(&self) -> &str {
        &self.shared_secret
    }

    /// Process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The Synapse version running.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Where its stdout and stderr go.
    pub fn log_path(&self) -> &Path {
        &self.log_path
    }

    /// The data dir (removed on stop).
    pub fn data_dir(&self) -> Option<&Path> {
        self.data_dir.as_ref().map(|d| d.path())
    }

    /// Time from spawn until `/versions` answered 200.
    pub fn startup_time(&self) -> Duration {
        self.startup
    }

    /// SIGTERM, wait up to 10 s, then SIGKILL its process group; then remove the data dir.
    pub async fn stop(mut self) -> Result<(), TargetError> {
        if let Some(mut child) = self.child.take() {
            child::stop_group(&mut child, self.pid, Signal::SIGTERM, STOP_GRACE)
                .await
                .map_err(|e| TargetError::Stop {
                    pid: self.pid,
                    detail: e.to_string(),
                })?;
        }
        if let Some(record) = self.record.take() {
            record.remove();
        }
        if let Some(dir) = self.data_dir.take() {
            let path = dir.path().to_owned();
            dir.close()
                .map_err(|e| io(format!("cannot remove {}", path.display()), e))?;
        }
        Ok(())
    }
}

impl Drop for SpawnedSynapse {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = signal_group(self.pid, Signal::SIGKILL);
            let _ = child.start_kill();
        }
        // `data_dir` (a TempDir) removes itself when dropped.
    }
}

/// Record a spawned Synapse under `<cache dir>/running/` (see [`crate::child::record`]). A
/// record that cannot be written costs only the cleanup after a crash: the parent-death
/// signal still stops the server with the harness.
fn running_record(
    cache_dir: &Path,
    pid: u32,
    python: &Path,
    args: &[OsString],
    data_dir: &Path,
) -> Option<RecordGuard> {
    let args = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let record = Record::new("synapse", pid, true, python, args)?
        .with_dir(data_dir, "mxharness-overlay.yaml");
    match record.write(&child::record::state_dir(cache_dir)) {
        Ok(guard) => Some(guard),
        Err(e) => {
            eprintln!("warning: cannot record the spawned Synapse (pid {pid}): {e}");
            None
        }
    }
}

/// What `up` records about the Synapse it left running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpState {
    /// Process id (also its process group id).
    pub pid: u32,
    /// `http://127.0.0.1:PORT`.
    pub base_url: String,
    /// The server name user IDs end with.
    pub server_name: String,
    /// The kept data dir (under `cache_dir/up/`).
    pub data_dir: PathBuf,
    /// Where its stdout and stderr go.
    pub log_path: PathBuf,
    /// The Synapse version running.
    pub version: String,
    /// File (mode 0600) holding the `registration_shared_secret`.
    pub shared_secret_path: PathBuf,
    /// Start time of `pid` (`/proc/<pid>/stat` field 22), so that a reused pid is not taken
    /// for the server (absent in state files of older versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starttime: Option<u64>,
}

impl UpState {
    /// Read the shared secret (only when the user asks for it).
    pub fn shared_secret(&self) -> Result<String, TargetError> {
        std::fs::read_to_string(&self.shared_secret_path)
            .map(|s| s.trim().to_owned())
            .map_err(|e| {
                io(
                    format!("cannot read {}", self.shared_secret_path.display()),
                    e,
                )
            })
    }
}

/// The default state file for `up`/`down`: `cache_dir/up/state.json`.
pub fn default_state_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join("up").join("state.json")
}

fn secret_path(state_path: &Path) -> PathBuf {
    state_path.with_extension("secret")
}

fn read_state(state_path: &Path) -> Result<Option<UpState>, TargetError> {
    match std::fs::read(state_path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| TargetError::State {
                path: state_path.to_owned(),
                detail: e.to_string(),
            }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io(format!("cannot read {}", state_path.display()), e)),
    }
}

/// Whether the recorded server is still running: a live Synapse at that pid, started at the
/// recorded time.
fn is_up(state: &UpState) -> bool {
    is_synapse_pid(state.pid)
        && state.starttime.is_none_or(|t| {
            i32::try_from(state.pid)
                .ok()
                .and_then(proc_stat::live_starttime)
                == Some(t)
        })
}

/// Whether `pid` is a live (not zombie) Synapse homeserver process.
fn is_synapse_pid(pid: u32) -> bool {
    let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else {
        return false;
    };
    let is_synapse = cmdline
        .split(|b| *b == 0)
        .any(|arg| arg == b"synapse.app.homeserver");
    let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.trim_start().starts_with('Z'))
        })
        .unwrap_or(false);
    is_synapse && !zombie
}

/// Remove a data dir recorded in a state file, only if it looks like one of ours.
fn remove_up_data_dir(dir: &Path) -> Result<(), TargetError> {
    if dir.join("mxharness-overlay.yaml").is_file() {
        std::fs::remove_dir_all(dir)
            .map_err(|e| io(format!("cannot remove {}", dir.display()), e))?;
    }
    Ok(())
}

fn remove_state(state_path: &Path) -> Result<(), TargetError> {
    for path in [state_path.to_owned(), secret_path(state_path)] {
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(format!("cannot remove {}", path.display()), e)),
        }
    }
    Ok(())
}

/// Start a detached Synapse that outlives the harness (own process group, data dir kept
/// under `cache_dir/up/`), and record it in `state_path` (JSON; the shared secret goes into a
/// separate 0600 file next to it). Refuses when a live one is already recorded.
pub async fn up(opts: &SynapseOptions, state_path: &Path) -> Result<UpState, TargetError> {
    child::record::sweep_once(&child::record::state_dir(&opts.cache_dir));
    if let Some(old) = read_state(state_path)? {
        if is_up(&old) {
            return Err(TargetError::AlreadyUp {
                pid: old.pid,
                base_url: old.base_url,
                state: state_path.to_owned(),
            });
        }
        // Stale record: the server is gone; clean up after it.
        remove_up_data_dir(&old.data_dir)?;
        remove_state(state_path)?;
    }
    let python = ensure_venv(opts).await?;
    let short = uuid::Uuid::new_v4().simple().to_string();
    let data_dir = opts
        .cache_dir
        .join("up")
        .join(format!("data-{}", &short[..8]));
    std::fs::create_dir_all(&data_dir)
        .map_err(|e| io(format!("cannot create {}", data_dir.display()), e))?;
    let result = up_in(opts, &python, &data_dir, state_path).await;
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&data_dir);
    }
    result
}

async fn up_in(
    opts: &SynapseOptions,
    python: &Path,
    data_dir: &Path,
    state_path: &Path,
) -> Result<UpState, TargetError> {
    let mut prepared = prepare(
        python,
        data_dir,
        &opts.log_path,
        None,
        opts.appservice.as_ref(),
        opts.loopback_push,
    )
    .await?;
    prepared
        .more_overlays
        .extend(opts.extra_overlays.iter().cloned());
    let (out, err) = open_log(&opts.log_path)?;
    let args = homeserver_args(&prepared);
    // No parent-death signal: this server is meant to outlive the command.
    let mut child = std::process::Command::new(python);
    std::os::unix::process::CommandExt::process_group(&mut child, 0);
    let mut child = child
        .args(&args)
        .env("GIT_CEILING_DIRECTORIES", git_ceiling(python))
        .current_dir(data_dir)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| io(format!("cannot start {}", python.display()), e))?;
    let pid = child.id();
    // Until the state file names it, the server is this command's: a record makes the next
    // start stop it if this command is killed while it waits.
    let record = running_record(&opts.cache_dir, pid, python, &args, data_dir);
    let ready = wait_ready(&prepared.base_url, &opts.log_path, || {
        match child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(e) => Some(format!("cannot check the process: {e}")),
        }
    })
    .await;
    if let Err(e) = ready {
        let _ = signal_group(pid, Signal::SIGKILL);
        let _ = child.wait();
        return Err(e);
    }
    let state = UpState {
        pid,
        base_url: prepared.base_url.clone(),
        server_name: SERVER_NAME.to_owned(),
        data_dir: data_dir.to_owned(),
        log_path: opts.log_path.clone(),
        version: opts.version.clone(),
        shared_secret_path: secret_path(state_path),
        starttime: i32::try_from(pid).ok().and_then(proc_stat::live_starttime),
    };
    let written = write_state(&state, &prepared.shared_secret, state_path);
    if written.is_err() {
        let _ = signal_group(pid, Signal::SIGKILL);
        let _ = child.wait();
    }
    // From here the state file is the record (`down` reads it).
    drop(record);
    written.map(|()| state)
}

fn write_state(state: &UpState, secret: &str, state_path: &Path) -> Result<(), TargetError> {
    if let Some(parent) = state_path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| io(format!("cannot create {}", parent.display()), e))?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&state.shared_secret_path)
        .map_err(|e| {
            io(
                format!("cannot write {}", state.shared_secret_path.display()),
                e,
            )
        })?;
    std::io::Write::write_all(&mut file, format!("{secret}\n").as_bytes()).map_err(|e| {
        io(
            format!("cannot write {}", state.shared_secret_path.display()),
            e,
        )
    })?;
    let json = serde_json::to_vec_pretty(state).map_err(|e| TargetError::State {
        path: state_path.to_owned(),
        detail: e.to_string(),
    })?;
    std::fs::write(state_path, json)
        .map_err(|e| io(format!("cannot write {}", state_path.display()), e))
}

/// Stop the Synapse recorded in `state_path` (only if that pid is still a Synapse), then
/// remove its data dir and the state files.
pub async fn down(state_path: &Path) -> Result<(), TargetError> {
    // `<cache dir>/up/state.json`: also clean up after an `up` killed before it wrote it.
    if let Some(cache_dir) = state_path.parent().and_then(Path::parent) {
        child::record::sweep_once(&child::record::state_dir(cache_dir));
    }
    let Some(state) = read_state(state_path)? else {
        return Err(TargetError::NotUp {
            state: state_path.to_owned(),
        });
    };
    if is_up(&state) {
        signal_group(state.pid, Signal::SIGTERM).map_err(|e| TargetError::Stop {
            pid: state.pid,
            detail: format!("SIGTERM: {e}"),
        })?;
        let deadline = Instant::now() + STOP_GRACE;
        while is_up(&state) && Instant::now() < deadline {
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        if is_up(&state) {
            let _ = signal_group(state.pid, Signal::SIGKILL);
            let deadline = Instant::now() + Duration::from_secs(5);
            while is_up(&state) && Instant::now() < deadline {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
        }
    }
    remove_up_data_dir(&state.data_dir)?;
    remove_state(state_path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_dir_resolution() {
        let os = |s: &str| Some(OsString::from(s));
        assert_eq!(
            resolve_cache_dir(os("/c/mxh"), os("/xdg"), os("/home/u")),
            PathBuf::from("/c/mxh")
        );
        assert_eq!(
            resolve_cache_dir(None, os("/xdg"), os("/home/u")),
            PathBuf::from("/xdg/mxharness")
        );
        assert_eq!(
            resolve_cache_dir(os(""), os("relative"), os("/home/u")),
            PathBuf::from("/home/u/.cache/mxharness")
        );
        assert_eq!(
            resolve_cache_dir(None, None, None),
            std::env::temp_dir().join("mxharness-cache")
        );
    }

    #[test]
    fn overlay_renders_and_parses() {
        let dir = Path::new("/tmp/mxh \"data\"");
        let text = render_overlay(45678, dir, "sekret-value").unwrap();
        assert!(!text.contains("{{"), "{text}");
        let value: serde_json::Value = serde_saphyr::from_str(&text).unwrap();
        let listeners = value["listeners"].as_array().unwrap();
        assert_eq!(listeners.len(), 1);
        for l in listeners {
            assert_eq!(l["port"], 45678);
            assert_eq!(l["bind_addresses"], serde_json::json!(["127.0.0.1"]));
            assert_eq!(l["tls"], false);
        }
        assert_eq!(value["database"]["name"], "sqlite3");
        assert_eq!(
            value["database"]["args"]["database"],
            "/tmp/mxh \"data\"/homeserver.db"
        );
        assert_eq!(value["registration_shared_secret"], "sekret-value");
        assert_eq!(value["enable_registration"], true);
        assert_eq!(value["enable_registration_without_verification"], true);
        assert_eq!(value["report_stats"], false);
        assert_eq!(value["url_preview_enabled"], false);
        assert_eq!(value["trusted_key_servers"], serde_json::json!([]));
        assert_eq!(value["log_config"], "/tmp/mxh \"data\"/log-config.yaml");
        let rc: Vec<&String> = value
            .as_object()
            .unwrap()
            .keys()
            .filter(|k| k.starts_with("rc_"))
            .collect();
        // The 19 rc_* keys of synapse/config/ratelimiting.py in 1.163.2.
        assert_eq!(rc.len(), 19, "{rc:?}");
        assert_eq!(value["rc_message"]["per_second"], 100000);
        assert_eq!(value["rc_login"]["failed_attempts"]["burst_count"], 1000000);
        assert_eq!(value["rc_federation"]["reject_limit"], 1000000);
    }

    #[test]
    fn log_config_parses_and_logs_to_stderr() {
        let value: serde_json::Value = serde_saphyr::from_str(LOG_CONFIG).unwrap();
        assert_eq!(value["handlers"]["console"]["stream"], "ext://sys.stderr");
        assert_eq!(value["root"]["level"], "INFO");
    }

    #[test]
    fn default_options_use_the_pin() {
        let opts = SynapseOptions::default();
        assert_eq!(opts.version, SYNAPSE_VERSION);
        assert_eq!(opts.python, "python3");
        assert!(opts.log_path.starts_with(&opts.cache_dir));
    }

    #[tokio::test]
    async fn down_without_state_says_not_up() {
        let tmp = tempfile::tempdir().unwrap();
        let err = down(&tmp.path().join("state.json")).await.unwrap_err();
        assert!(matches!(err, TargetError::NotUp { .. }), "{err}");
    }

    #[test]
    fn own_pid_is_not_synapse() {
        assert!(!is_synapse_pid(std::process::id()));
    }
}

//! nginx as a local border gateway: renders `fixtures/gateway/nginx.conf` (or the permissive
//! fixture) into a fresh prefix dir and runs `nginx -p DIR -c DIR/nginx.conf -g 'daemon off;'`
//! as a child process on loopback, in its own process group: stopped gracefully (SIGTERM to the
//! master, which stops its workers), then the whole group SIGKILLed, so no worker outlives it;
//! the group is SIGKILLed (and the dir removed) on drop. If the harness dies, the kernel sends
//! the master SIGTERM (parent-death signal, see [`crate::child`]).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tempfile::TempDir;

use super::GatewayError;
use crate::child::{self, Record, RecordGuard};

/// The gateway config the suite expects nginx to enforce.
pub const STRICT_TEMPLATE: &str = include_str!("../../fixtures/gateway/nginx.conf");
/// A deliberately permissive config (proxies everything) used to show the checks failing.
pub const PERMISSIVE_TEMPLATE: &str = include_str!("../../fixtures/gateway/nginx-permissive.conf");
/// A deliberately closed config (refuses everything) used to show the pass-through checks failing.
pub const CLOSED_TEMPLATE: &str = include_str!("../../fixtures/gateway/nginx-closed.conf");

const STARTUP_DEADLINE: Duration = Duration::from_secs(20);
const POLL_INTERVAL: Duration = Duration::from_millis(50);
const LOG_TAIL: usize = 20;
/// How long the master may take to stop its workers and exit after SIGTERM.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// What the rendered config needs.
#[derive(Debug, Clone)]
pub struct NginxConfig {
    /// The config template (one of the `*_TEMPLATE` constants, or a file's text).
    pub template: String,
    /// Loopback port the gateway listens on (TLS).
    pub port: u16,
    /// PEM certificate and key files of the gateway's TLS leaf.
    pub cert: PathBuf,
    /// See `cert`.
    pub key: PathBuf,
    /// `host:port` of the homeserver's plain-HTTP federation listener (or a tap in front of it).
    pub upstream: String,
    /// The homeserver's server name: the only X-Matrix destination accepted.
    pub server_name: String,
    /// Remote server names allowed in.
    pub allowed_origins: Vec<String>,
    /// `client_max_body_size`, e.g. `1m`.
    pub max_body: String,
}

/// Render a template. Fails on an unreplaced placeholder or a value that would break out of
/// its nginx string.
pub fn render(config: &NginxConfig, dir: &Path, as_root: bool) -> Result<String, GatewayError> {
    let text = |p: &Path| -> Result<String, GatewayError> {
        let s = p
            .to_str()
            .ok_or_else(|| GatewayError::Config(format!("{} is not UTF-8", p.display())))?;
        safe(s)
    };
    let mut allowed = String::new();
    for name in &config.allowed_origins {
        allowed.push_str(&format!("        \"{}\" 1;\n", safe(name)?));
    }
    let rendered = config
        .template
        .replace("{{dir}}", &text(dir)?)
        .replace("{{user}}", if as_root { "user root;" } else { "" })
        .replace("{{listen}}", &format!("127.0.0.1:{}", config.port))
        .replace("{{cert}}", &text(&config.cert)?)
        .replace("{{key}}", &text(&config.key)?)
        .replace("{{upstream}}", &safe(&config.upstream)?)
        .replace("{{server_name}}", &safe(&config.server_name)?)
        .replace("{{allowed_origins}}", allowed.trim_end())
        .replace("{{max_body}}", &safe(&config.max_body)?);
    if let Some(at) = rendered.find("{{") {
        let rest: String = rendered[at..].chars().take(40).collect();
        return Err(GatewayError::Config(format!(
            "unreplaced placeholder at {rest:?}"
        )));
    }
    Ok(rendered)
}

/// Values go into nginx strings and paths: refuse anything that could end one.
fn safe(value: &str) -> Result<String, GatewayError> {
    if value.is_empty()
        || value.chars().any(|c| {
            c.is_whitespace()
                || c.is_control()
                || matches!(c, '"' | '\'' | ';' | '{' | '}' | '\\' | '$')
        })
    {
        return Err(GatewayError::Config(format!(
            "{value:?} cannot be written into the nginx config"
        )));
    }
    Ok(value.to_owned())
}

/// A running nginx; killed and its prefix dir removed when dropped.
#[derive(Debug)]
pub struct SpawnedNginx {
    child: Option<tokio::process::Child>,
    /// The master's pid, which is also its process group id (0 if unknown).
    pid: u32,
    record: Option<RecordGuard>,
    dir: Option<TempDir>,
    port: u16,
    kept_logs: Option<PathBuf>,
}

impl SpawnedNginx {
    /// Write the config into a fresh dir and start nginx; returns once the port accepts TCP.
    /// `keep_logs` copies error.log and access.log there when the gateway stops.
    pub async fn start(
        config: &NginxConfig,
        keep_logs: Option<PathBuf>,
    ) -> Result<SpawnedNginx, GatewayError> {
        let binary = find_nginx()?;
        let dir = tempfile::Builder::new()
            .prefix("mxh-nginx-")
            .tempdir()
            .map_err(GatewayError::io("cannot create the nginx dir"))?;
        for sub in [
            "tmp/body",
            "tmp/proxy",
            "tmp/fastcgi",
            "tmp/uwsgi",
            "tmp/scgi",
        ] {
            std::fs::create_dir_all(dir.path().join(sub))
                .map_err(GatewayError::io("cannot create the nginx temp dirs"))?;
        }
        // /proc/self belongs to the process's effective user.
        let as_root = std::fs::metadata("/proc/self")
            .map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0)
            .unwrap_or(false);
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, render(config, dir.path(), as_root)?)
            .map_err(GatewayError::io("cannot write nginx.conf"))?;
        let stderr = std::fs::File::create(dir.path().join("stderr.log"))
            .map_err(GatewayError::io("cannot create nginx's stderr log"))?;
        let mut cmd = tokio::process::Command::new(&binary);
        cmd.arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .arg("-g")
            .arg("daemon off;")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .kill_on_drop(true)
            .process_group(0);
        // Workers do not inherit the parent-death signal, and a master killed outright leaves
        // them running: the master gets SIGTERM (fast shutdown: it stops its workers first).
        let child = child::spawn(cmd, Signal::SIGTERM)
            .await
            .map_err(GatewayError::io("cannot start nginx"))?;
        let pid = child.id().unwrap_or(0);
        let record = running_record(pid, &binary, dir.path(), &conf);
        let mut nginx = SpawnedNginx {
            child: Some(child),
            pid,
            record,
            dir: Some(dir),
            port: config.port,
            kept_logs: keep_logs,
        };
        nginx.wait_ready().await?;
        Ok(nginx)
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The prefix dir (config, pid, logs).
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_ref().map(TempDir::path)
    }

    async fn wait_ready(&mut self) -> Result<(), GatewayError> {
        let started = Instant::now();
        loop {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                return Err(self.startup_error(format!("nginx exited early ({status})")));
            }
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return Ok(());
            }
            if started.elapsed() > STARTUP_DEADLINE {
                return Err(self.startup_error(format!(
                    "nginx did not listen on 127.0.0.1:{} within {} s",
                    self.port,
                    STARTUP_DEADLINE.as_secs()
                )));
            }
            tokio::time::sleep(POLL_INTERVAL).await;
        }
    }

    fn startup_error(&self, reason: String) -> GatewayError {
        let mut tail = String::new();
        if let Some(dir) = self.dir() {
            for log in ["stderr.log", "error.log"] {
                tail.push_str(&crate::target::venv::tail_lines(&dir.join(log), LOG_TAIL));
            }
        }
        GatewayError::Startup { reason, tail }
    }

    /// Stop nginx (SIGTERM to the master, up to 5 s, then SIGKILL for its process group) and
    /// keep its logs if asked.
    pub async fn stop(mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child::stop_group(&mut child, self.pid, Signal::SIGTERM, STOP_GRACE).await;
        }
        if let Some(record) = self.record.take() {
            record.remove();
        }
        self.keep_logs();
    }

    fn keep_logs(&mut self) {
        if let (Some(dest), Some(dir)) = (self.kept_logs.take(), self.dir.as_ref()) {
            let _ = std::fs::create_dir_all(&dest);
            for (from, to) in [
                ("error.log", "nginx-error.log"),
                ("access.log", "nginx-access.log"),
                ("nginx.conf", "nginx.conf"),
            ] {
                let _ = std::fs::copy(dir.path().join(from), dest.join(to));
            }
        }
    }
}

impl Drop for SpawnedNginx {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Master and workers at once: none is left without the other.
            if let Ok(pgid) = i32::try_from(self.pid) {
                child::group::kill_group_now(pgid);
            }
            let _ = child.start_kill();
        }
    }
}

/// Record the master under `<cache dir>/running/` (see [`crate::child::record`]), so that a
/// start after a killed run stops whatever of this nginx survived and removes its dir.
fn running_record(pid: u32, binary: &Path, dir: &Path, conf: &Path) -> Option<RecordGuard> {
    let args = vec![
        "-p".to_owned(),
        dir.display().to_string(),
        "-c".to_owned(),
        conf.display().to_string(),
    ];
    let record = Record::new("nginx", pid, true, binary, args)?.with_dir(dir, "nginx.conf");
    let state_dir = child::record::state_dir(&crate::target::synapse::default_cache_dir());
    match record.write(&state_dir) {
        Ok(guard) => Some(guard),
        Err(e) => {
            eprintln!("warning: cannot record the spawned nginx (pid {pid}): {e}");
            None
        }
    }
}

/// `nginx` on PATH, or Debian's `/usr/sbin/nginx` (not on a non-root PATH).
fn find_nginx() -> Result<PathBuf, GatewayError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin")])
        .map(|d| d.join("nginx"))
        .find(|p| p.is_file())
        .ok_or_else(|| {
            GatewayError::Missing(
                "nginx not found: install it (Debian: apt-get install nginx-light)".into(),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(template: &str) -> NginxConfig {
        NginxConfig {
            template: template.to_owned(),
            port: 8443,
            cert: "/tmp/c.pem".into(),
            key: "/tmp/k.pem".into(),
            upstream: "127.0.0.1:9000".into(),
            server_name: "localhost:8443".into(),
            allowed_origins: vec!["localhost:1111".into(), "localhost:2222".into()],
            max_body: "1m".into(),
        }
    }

    #[test]
    fn both_fixtures_render_completely() {
        for t in [STRICT_TEMPLATE, PERMISSIVE_TEMPLATE, CLOSED_TEMPLATE] {
            let text = render(&config(t), Path::new("/tmp/x"), false).unwrap();
            assert!(!text.contains("{{"), "{text}");
            assert!(text.contains("listen 127.0.0.1:8443 ssl;"), "{text}");
        }
        let strict = render(&config(STRICT_TEMPLATE), Path::new("/tmp/x"), true).unwrap();
        assert!(strict.contains("\"localhost:2222\" 1;"));
        assert!(strict.starts_with('#') && strict.contains("\nuser root;\n"));
    }

    #[test]
    fn values_that_break_out_of_a_string_are_refused() {
        let mut c = config(STRICT_TEMPLATE);
        c.allowed_origins = vec!["evil\" 1; } server {".into()];
        assert!(render(&c, Path::new("/tmp/x"), false).is_err());
        let mut c = config("{{dir}} {{unknown}}");
        c.template = "{{dir}} {{unknown}}".into();
        assert!(render(&c, Path::new("/tmp/x"), false).is_err());
    }
}

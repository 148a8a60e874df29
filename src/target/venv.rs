//! Installs the pinned Synapse from PyPI into a cached virtual environment, once per version,
//! safely when several runs start at the same time.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use tokio::process::Command;

use crate::child::spawner::{output, status};

use super::TargetError;
use super::synapse::SynapseOptions;

/// Longest wait for another run's install to finish.
const LOCK_WAIT: Duration = Duration::from_secs(15 * 60);

/// Name of the file written only after a complete, verified install.
const MARKER: &str = "installed.ok";

/// Prints the installed distribution's version and proves the package imports. Uses the
/// package metadata, not `synapse.__version__`, which appends git branch info when the venv
/// sits inside a git checkout (e.g. a cache under a project's `target/`).
const VERIFY_SCRIPT: &str = "import importlib.metadata, synapse.app.homeserver; print(importlib.metadata.version('matrix-synapse'))";

/// Lines of the pip log shown when the install fails.
const TAIL_LINES: usize = 30;

/// Upper bounds on Synapse's dependencies for releases that break with their newest versions.
/// pip resolves a release's open-ended requirements (`prometheus-client>=0.4.0`) to today's
/// newest packages; these pins keep an older release installable. Each row: releases before
/// `before` get `requirement` as an extra top-level requirement.
const COMPAT_PINS: &[((u64, u64, u64), &str)] = &[
    // prometheus-client 0.24 made `Collector` a Protocol; Synapse's
    // `class InFlightGauge(Generic[..], Collector)` then fails at import ("Cannot create a
    // consistent method resolution order"), element-hq/synapse#19375, Synapse <= 1.145.
    ((1, 146, 0), "prometheus-client<0.24"),
];

/// The extra pip requirements an older Synapse release needs to install and start
/// (empty for the pinned release and anything newer than the known breakages).
pub fn compat_requirements(version: &str) -> Vec<&'static str> {
    let Some(parsed) = parse_version(version) else {
        return Vec::new();
    };
    COMPAT_PINS
        .iter()
        .filter(|(before, _)| parsed < *before)
        .map(|(_, requirement)| *requirement)
        .collect()
}

/// `1.98.0` → (1, 98, 0); pre-release suffixes (`1.98.0rc1`) keep their numeric prefix.
fn parse_version(version: &str) -> Option<(u64, u64, u64)> {
    let mut parts = version.split('.').map(|part| {
        let digits: String = part.chars().take_while(char::is_ascii_digit).collect();
        digits.parse::<u64>().ok()
    });
    let major = parts.next()??;
    let minor = parts.next().flatten().unwrap_or(0);
    let patch = parts.next().flatten().unwrap_or(0);
    Some((major, minor, patch))
}

/// Directory holding the venv, its marker, lock and install log for one Synapse version.
pub fn version_dir(opts: &SynapseOptions) -> PathBuf {
    opts.cache_dir.join(format!("synapse-{}", opts.version))
}

/// Make sure `cache_dir/synapse-<version>/venv` holds a working `matrix-synapse==<version>`
/// and return the venv's Python interpreter.
///
/// A marker file is written only after pip succeeded and `import synapse` reports the
/// expected version, so an interrupted install is redone. An exclusive file lock serialises
/// concurrent runs; the lock is released by the OS if the holder dies.
pub async fn ensure_venv(opts: &SynapseOptions) -> Result<PathBuf, TargetError> {
    let dir = version_dir(opts);
    let venv = dir.join("venv");
    let python = venv.join("bin").join("python");
    let marker = dir.join(MARKER);
    if marker.is_file() && python.is_file() {
        return Ok(python);
    }
    std::fs::create_dir_all(&dir).map_err(|e| io(format!("cannot create {}", dir.display()), e))?;

    let lock_path = dir.join("install.lock");
    let _lock = acquire_lock(&lock_path).await?;
    // Another run may have finished the install while this one waited.
    if marker.is_file() && python.is_file() {
        return Ok(python);
    }

    check_python(&opts.python).await?;
    if venv.exists() {
        // Left over from an interrupted install: start clean.
        std::fs::remove_dir_all(&venv).map_err(|e| {
            io(
                format!("cannot remove the stale venv {}", venv.display()),
                e,
            )
        })?;
    }
    let mut cmd = Command::new(&opts.python);
    cmd.arg("-m").arg("venv").arg(&venv).stdin(Stdio::null());
    // Every python here dies with the harness (SIGKILL included): see crate::child.
    let out = output(cmd, Signal::SIGKILL)
        .await
        .map_err(|e| python_spawn_error(&opts.python, e))?;
    if !out.status.success() {
        let detail = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let _ = std::fs::remove_dir_all(&venv);
        return Err(TargetError::VenvUnavailable {
            python: opts.python.clone(),
            detail: detail.trim().to_owned(),
        });
    }

    let log_path = dir.join("install.log");
    let mut requirements = vec![format!("matrix-synapse=={}", opts.version)];
    requirements.extend(
        compat_requirements(&opts.version)
            .into_iter()
            .map(String::from),
    );
    let installed = pip_install(&python, &log_path, &requirements).await?;
    if !installed.success() {
        return Err(TargetError::Install {
            version: opts.version.clone(),
            tail: tail_lines(&log_path, TAIL_LINES),
            log: log_path,
        });
    }

    // Verify before trusting the install.
    let mut verify = Command::new(&python);
    verify
        .args(["-c", VERIFY_SCRIPT])
        .env(
            "GIT_CEILING_DIRECTORIES",
            std::fs::canonicalize(&venv).unwrap_or(venv.clone()),
        )
        .stdin(Stdio::null());
    let out = output(verify, Signal::SIGKILL)
        .await
        .map_err(|e| io(format!("cannot run {}", python.display()), e))?;
    let installed = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    if !out.status.success() || installed != opts.version {
        return Err(TargetError::Install {
            version: opts.version.clone(),
            tail: format!(
                "pip succeeded but the installed matrix-synapse reports version {installed:?}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ),
            log: log_path,
        });
    }
    std::fs::write(&marker, format!("matrix-synapse=={}\n", opts.version))
        .map_err(|e| io(format!("cannot write {}", marker.display()), e))?;
    Ok(python)
}

/// Make sure the Synapse venv (installed by [`ensure_venv`]) also holds `requirement` (e.g.
/// `aiosmtpd==1.4.6`, the SMTP sink's library), whose import name is `module`; installed once,
/// under the same lock, with its own marker `<module>.ok`. Returns the venv's interpreter.
pub async fn ensure_package(
    opts: &SynapseOptions,
    requirement: &str,
    module: &str,
) -> Result<PathBuf, TargetError> {
    let python = ensure_venv(opts).await?;
    let dir = version_dir(opts);
    let marker = dir.join(format!("{module}.ok"));
    if marker.is_file() {
        return Ok(python);
    }
    let _lock = acquire_lock(&dir.join("install.lock")).await?;
    if marker.is_file() {
        return Ok(python);
    }
    let log_path = dir.join("install.log");
    let installed = pip_install(&python, &log_path, &[requirement.to_owned()]).await?;
    let mut verify = Command::new(&python);
    verify
        .args(["-c", &format!("import {module}")])
        .stdin(Stdio::null());
    let imports = output(verify, Signal::SIGKILL)
        .await
        .map_err(|e| io(format!("cannot run {}", python.display()), e))?;
    if !installed.success() || !imports.status.success() {
        return Err(TargetError::Install {
            version: format!("{} (+ {requirement})", opts.version),
            tail: tail_lines(&log_path, TAIL_LINES),
            log: log_path,
        });
    }
    std::fs::write(&marker, format!("{requirement}\n"))
        .map_err(|e| io(format!("cannot write {}", marker.display()), e))?;
    Ok(python)
}

/// `pip install` the `requirements` with the venv's `python`, appending pip's output to the
/// install log at `log_path` under a header line naming them.
async fn pip_install(
    python: &Path,
    log_path: &Path,
    requirements: &[String],
) -> Result<std::process::ExitStatus, TargetError> {
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path)
        .map_err(|e| io(format!("cannot open {}", log_path.display()), e))?;
    let _ = writeln!(log, "--- pip install {} ---", requirements.join(" "));
    let log_err = log
        .try_clone()
        .map_err(|e| io(format!("cannot open {}", log_path.display()), e))?;
    let mut pip = Command::new(python);
    pip.args([
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        "--no-input",
    ])
    .args(requirements)
    .stdin(Stdio::null())
    .stdout(log)
    .stderr(log_err);
    status(pip, Signal::SIGKILL)
        .await
        .map_err(|e| io(format!("cannot run {}", python.display()), e))
}

/// Take the exclusive install lock, polling so the async runtime is not blocked.
async fn acquire_lock(path: &Path) -> Result<File, TargetError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(|e| io(format!("cannot open the lock file {}", path.display()), e))?;
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if Instant::now() >= deadline {
                    return Err(TargetError::LockTimeout {
                        path: path.to_owned(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(io(format!("cannot lock {}", path.display()), e));
            }
        }
    }
}

/// Fail early, with the install hint, when the interpreter is missing.
async fn check_python(python: &str) -> Result<(), TargetError> {
    let mut cmd = Command::new(python);
    cmd.arg("--version").stdin(Stdio::null());
    let out = output(cmd, Signal::SIGKILL)
        .await
        .map_err(|e| python_spawn_error(python, e))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(TargetError::PythonMissing {
            python: python.to_owned(),
        })
    }
}

fn python_spawn_error(python: &str, e: std::io::Error) -> TargetError {
    if e.kind() == std::io::ErrorKind::NotFound {
        TargetError::PythonMissing {
            python: python.to_owned(),
        }
    } else {
        io(format!("cannot run {python}"), e)
    }
}

fn io(context: String, source: std::io::Error) -> TargetError {
    TargetError::Io { context, source }
}

/// The last `n` lines of a text file (empty when unreadable).
pub fn tail_lines(path: &Path, n: usize) -> String {
    let text = match std::fs::read(path) {
        Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        Err(e) => return format!("(cannot read {}: {e})", path.display()),
    };
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn missing_python_is_named() {
        let tmp = tempfile::tempdir().unwrap();
        let opts = SynapseOptions {
            cache_dir: tmp.path().to_owned(),
            python: "python3-that-does-not-exist".into(),
            ..SynapseOptions::default()
        };
        let err = ensure_venv(&opts).await.unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("python3-that-does-not-exist not found"),
            "{text}"
        );
        assert!(
            text.contains("apt-get install python3 python3-venv"),
            "{text}"
        );
        assert!(
            !tmp.path()
                .join(format!("synapse-{}", opts.version))
                .join(MARKER)
                .exists()
        );
    }

    #[test]
    fn older_releases_get_their_compat_pins() {
        assert_eq!(
            compat_requirements("1.98.0"),
            vec!["prometheus-client<0.24"]
        );
        assert_eq!(
            compat_requirements("1.145.0"),
            vec!["prometheus-client<0.24"]
        );
        assert_eq!(
            compat_requirements("1.98.0rc1"),
            vec!["prometheus-client<0.24"]
        );
        assert!(compat_requirements("1.146.0").is_empty());
        assert!(compat_requirements(crate::target::SYNAPSE_VERSION).is_empty());
        assert!(compat_requirements("not-a-version").is_empty());
    }

    #[test]
    fn tail_keeps_last_lines() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("log");
        std::fs::write(&p, "a\nb\nc\nd\n").unwrap();
        assert_eq!(tail_lines(&p, 2), "c\nd");
        assert_eq!(tail_lines(&p, 10), "a\nb\nc\nd");
    }
}

//! Helpers shared by the integration tests: running the binary and reading its reports.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The repository root.
pub fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The Synapse cache shared by all tests (installed once per checkout).
pub fn cache_dir() -> PathBuf {
    root().join("target").join("mxh-cache")
}

/// Run `mxharness ARGS` from the repository root with the test cache.
pub fn mxharness(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_mxharness"));
    cmd.current_dir(root())
        .args(args)
        .env("MXH_CACHE_DIR", cache_dir());
    cmd.env_remove("MXH_TARGET")
        .env_remove("MXH_REGISTRATION_SHARED_SECRET")
        .env_remove("MXH_REGISTRATION_TOKEN");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("the mxharness binary runs")
}

/// Text of stdout and stderr, for assertion messages.
pub fn describe(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Parse junit.xml and return (testcases, failures, errors, skipped).
pub fn junit_counts(dir: &Path) -> (usize, usize, usize, usize) {
    let text = std::fs::read_to_string(dir.join("junit.xml")).expect("junit.xml exists");
    let doc = roxmltree::Document::parse(&text).expect("junit.xml is well-formed XML");
    let count = |name: &str| doc.descendants().filter(|n| n.has_tag_name(name)).count();
    (
        count("testcase"),
        count("failure"),
        count("error"),
        count("skipped"),
    )
}

/// Read report.json back as the library's type.
pub fn report(dir: &Path) -> mxharness::results::RunReport {
    let text = std::fs::read_to_string(dir.join("report.json")).expect("report.json exists");
    serde_json::from_str(&text).expect("report.json parses as a RunReport")
}

/// A fresh temporary folder.
pub fn tempdir() -> tempfile::TempDir {
    tempfile::tempdir().expect("temp dir")
}

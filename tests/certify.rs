//! End-to-end tests of `keygen`, `certify` and `verify` through the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/fixtures/reports/run-report.json"
);

fn mxh(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mxharness"))
        .args(args)
        .output()
        .expect("run mxharness")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Makes a key in `dir` and returns (key path, public key).
fn keygen(dir: &Path, name: &str) -> (PathBuf, String) {
    let key = dir.join(name);
    let out = mxh(&["keygen", "--out", s(&key)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let public = stdout(&out).trim().to_owned();
    assert!(!public.is_empty());
    (key, public)
}

/// A temp dir holding a copy of the fixture report, a key, and a bundle made from them.
struct Setup {
    dir: tempfile::TempDir,
    report: PathBuf,
    bundle: PathBuf,
    public: String,
}

fn setup() -> Setup {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    std::fs::copy(FIXTURE, &report).unwrap();
    let (key, public) = keygen(dir.path(), "key.pem");
    let out = mxh(&["certify", s(&report), "--key", s(&key)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let bundle = dir.path().join("certificate.json");
    assert!(bundle.exists(), "default --out is next to the report");
    Setup {
        dir,
        report,
        bundle,
        public,
    }
}

#[test]
fn keygen_certify_verify_round_trip() {
    let t = setup();
    let out = mxh(&[
        "verify",
        s(&t.bundle),
        "--public-key",
        &t.public,
        "--report",
        s(&t.report),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("certificate verified"), "{text}");
    assert!(text.contains("https://matrix.example.org"), "{text}");
    assert!(text.contains("Synapse 1.120.2"), "{text}");
    assert!(text.contains("profile:      none"), "{text}");
    assert!(
        text.contains("4 passed, 2 failed, 1 errored, 2 skipped of 9"),
        "{text}"
    );
    assert!(text.contains("Messaging"), "{text}");
    assert!(text.contains("requirements: 0 passed, 0 failed"), "{text}");
    assert!(text.contains("(the expected key)"), "{text}");

    // Without --public-key it still verifies, and says the signer was not checked.
    let out = mxh(&["verify", s(&t.bundle)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("not checked"), "{}", stdout(&out));
}

#[test]
fn the_bundle_has_the_documented_shape_and_no_private_key() {
    let t = setup();
    let text = std::fs::read_to_string(&t.bundle).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let c = &v["certificate"];
    assert_eq!(c["format"], 1);
    assert_eq!(c["harness"]["name"], "mxharness");
    assert!(c["issued_at"].as_str().unwrap().ends_with('Z'));
    let report_bytes = std::fs::read(&t.report).unwrap();
    assert_eq!(
        c["report_sha256"],
        mxharness::certify::sha256_hex(&report_bytes)
    );
    assert_eq!(c["target"]["server_name"], "example.org");
    assert_eq!(c["summary"]["total"], 9);
    assert_eq!(c["areas"].as_array().unwrap().len(), 3);
    assert!(c["requirements"].as_object().unwrap().is_empty());
    assert_eq!(v["signature"]["algorithm"], "ed25519");
    assert_eq!(v["signature"]["public_key"], t.public.as_str());

    let key = mxharness::signing_keys::read_key(&t.dir.path().join("key.pem")).unwrap();
    let secret = mxharness::certify::encode_b64(&key.to_bytes());
    assert!(!text.contains(&secret));
    assert!(!text.contains("PRIVATE"));
}

#[test]
fn a_one_byte_change_to_the_certificate_is_refused() {
    let t = setup();
    let text = std::fs::read_to_string(&t.bundle).unwrap();
    // The first "passed" in the bundle is the summary's (the fixture has no profile).
    let tampered = text.replacen("\"passed\": 4,", "\"passed\": 5,", 1);
    assert_ne!(tampered, text);
    assert_eq!(tampered.len(), text.len());
    std::fs::write(&t.bundle, tampered).unwrap();
    let out = mxh(&["verify", s(&t.bundle), "--public-key", &t.public]);
    assert_eq!(out.status.code(), Some(1), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("signature does not match the certificate content"),
        "{err}"
    );
    assert!(err.contains("modified after signing"), "{err}");
    assert!(stdout(&out).is_empty());
}

#[test]
fn a_different_public_key_is_refused() {
    let t = setup();
    let (_, other) = keygen(t.dir.path(), "other.pem");
    assert_ne!(other, t.public);
    let out = mxh(&["verify", s(&t.bundle), "--public-key", &other]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("not by the expected key"), "{err}");

    let out = mxh(&["verify", s(&t.bundle), "--public-key", "not-base64!"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn a_different_report_is_refused() {
    let t = setup();
    let other = t.dir.path().join("other.json");
    let mut text = std::fs::read_to_string(&t.report).unwrap();
    text.push('\n');
    std::fs::write(&other, text).unwrap();
    let out = mxh(&["verify", s(&t.bundle), "--report", s(&other)]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("the report does not match the certificate"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn behaviour_ids_make_the_requirement_matrix() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.json");
    let text = std::fs::read_to_string(FIXTURE)
        .unwrap()
        .replace("\"uia\"", "\"uia\", \"CS-ACCOUNT-01\"");
    std::fs::write(&report, &text).unwrap();
    let (key, public) = keygen(dir.path(), "key.pem");
    let bundle = dir.path().join("out").join("cert.json");
    std::fs::create_dir_all(bundle.parent().unwrap()).unwrap();
    let out = mxh(&["certify", s(&report), "--key", s(&key), "--out", s(&bundle)]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&bundle).unwrap()).unwrap();
    let row = &v["certificate"]["requirements"]["CS-ACCOUNT-01"];
    assert_eq!(row["scenarios"][0], "cs/account/change-password");
    assert_eq!(row["verdict"], "fail");
    let out = mxh(&[
        "verify",
        s(&bundle),
        "--public-key",
        &public,
        "--report",
        s(&report),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("requirements: 0 passed, 1 failed"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn keygen_makes_a_private_file_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path(), "key.pem");
    let before = std::fs::read(&key).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let out = mxh(&["keygen", "--out", s(&key)]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("already exists"), "{}", stderr(&out));
    assert_eq!(std::fs::read(&key).unwrap(), before);
}

#[test]
fn io_and_usage_errors_have_their_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let (key, _) = keygen(dir.path(), "key.pem");
    let missing = dir.path().join("missing.json");
    let out = mxh(&["certify", s(&missing), "--key", s(&key)]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let out = mxh(&["verify", s(&missing)]);
    assert_eq!(out.status.code(), Some(5), "{}", stderr(&out));
    let out = mxh(&["certify", FIXTURE, "--key", FIXTURE]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = mxh(&["certify", FIXTURE]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{}").unwrap();
    let out = mxh(&["verify", s(&junk)]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

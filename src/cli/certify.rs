//! `keygen`, `certify` and `verify`: signed certificates of a run's `report.json`
//! (see docs/certificates.md).
//!
//! Exit codes: 0 success; 1 the bundle does not verify; 2 a wrong command line or an
//! input file that is not what the argument needs (not a report, not a key, a bad
//! `--public-key`); 5 a file could not be read or written.

use std::path::{Path, PathBuf};

use clap::Args;

use crate::certify::{self, Bundle, CertifyError};
use crate::exit_codes;
use crate::report::{area_display_name, read_json, write_atomic};
use crate::signing_keys as keys;

/// Options of `keygen`.
#[derive(Debug, Args)]
pub struct KeygenArgs {
    /// Where to write the new PKCS#8 PEM private key (mode 0600; never overwritten).
    #[arg(long)]
    pub out: PathBuf,
}

/// Options of `certify`.
#[derive(Debug, Args)]
pub struct CertifyArgs {
    /// The `report.json` of a run.
    pub report: PathBuf,
    /// Ed25519 private key, PKCS#8 PEM (as written by `mxharness keygen`).
    #[arg(long)]
    pub key: PathBuf,
    /// Where to write the bundle (default: certificate.json next to the report).
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// Options of `verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The certificate bundle written by `certify`.
    pub bundle: PathBuf,
    /// Require the bundle to be signed by this Ed25519 public key (base64).
    #[arg(long)]
    pub public_key: Option<String>,
    /// Also check that the certificate was derived from this `report.json`.
    #[arg(long)]
    pub report: Option<PathBuf>,
}

/// `mxharness keygen`.
pub fn keygen(args: &KeygenArgs) -> u8 {
    let key = match keys::generate() {
        Ok(key) => key,
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::ENVIRONMENT;
        }
    };
    match keys::write_new_key(&key, &args.out) {
        Ok(()) => {}
        Err(e @ keys::KeyError::Exists { .. }) => {
            eprintln!("error: {e}");
            return exit_codes::USAGE;
        }
        Err(e) => {
            eprintln!("error: cannot write the key: {e}");
            return exit_codes::ENVIRONMENT;
        }
    }
    let public = certify::encode_b64(key.verifying_key().as_bytes());
    eprintln!(
        "wrote the private key to {} (keep it secret; it is never put in a bundle)",
        args.out.display()
    );
    eprintln!("public key (give this to whoever verifies your certificates):");
    outln!("{public}");
    exit_codes::SUCCESS
}

/// `mxharness certify`.
pub fn certify(args: &CertifyArgs) -> u8 {
    let bytes = match std::fs::read(&args.report) {
        Ok(bytes) => bytes,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.report.display());
            return exit_codes::ENVIRONMENT;
        }
    };
    let report = match std::str::from_utf8(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|text| read_json(text).map_err(|e| e.to_string()))
    {
        Ok(report) => report,
        Err(e) => {
            eprintln!("error: {}: {e}", args.report.display());
            return exit_codes::USAGE;
        }
    };
    let key = match keys::read_key(&args.key) {
        Ok(key) => key,
        Err(e @ keys::KeyError::Io { .. }) => {
            eprintln!("error: cannot read the key {e}");
            return exit_codes::ENVIRONMENT;
        }
        Err(e) => {
            eprintln!("error: {e}");
            return exit_codes::USAGE;
        }
    };
    let issued_at = now_rfc3339();
    let certificate = certify::derive_certificate(&report, &bytes, &issued_at);
    let rendered = certify::sign(certificate, &key).and_then(|b| {
        let text = certify::render_bundle(&b)?;
        Ok((b, text))
    });
    let (bundle, text) = match rendered {
        Ok(pair) => pair,
        Err(e) => {
            eprintln!("error: cannot sign the certificate: {e}");
            return exit_codes::USAGE;
        }
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| default_out(&args.report));
    if let Err(e) = write_atomic(&out, text.as_bytes()) {
        eprintln!("error: {e}");
        return exit_codes::ENVIRONMENT;
    }
    let counts = certify::verdict_counts(&bundle.certificate);
    outln!("wrote {}", out.display());
    outln!(
        "signed by ed25519 public key {}",
        bundle.signature.public_key
    );
    if let Some(v) = bundle.certificate.verdict {
        outln!("verdict: {} (from MUST requirements only)", v.as_str());
    }
    outln!(
        "requirements: {} passed, {} failed, {} known failures, {} recommendations not met, {} skipped",
        counts.pass,
        counts.fail,
        counts.known_failure,
        counts.recommendation_not_met,
        counts.skipped
    );
    exit_codes::SUCCESS
}

/// `mxharness verify`.
pub fn verify(args: &VerifyArgs) -> u8 {
    let expected = match args.public_key.as_deref().map(certify::parse_public_key) {
        None => None,
        Some(Ok(key)) => Some(key),
        Some(Err(reason)) => {
            eprintln!("error: --public-key is not a base64 Ed25519 public key: {reason}");
            return exit_codes::USAGE;
        }
    };
    let text = match std::fs::read_to_string(&args.bundle) {
        Ok(text) => text,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", args.bundle.display());
            return exit_codes::ENVIRONMENT;
        }
    };
    let bundle = match certify::verify_bundle(&text, expected.as_ref()) {
        Ok(bundle) => bundle,
        Err(e) => return refuse(&args.bundle, &e),
    };
    if let Some(report_path) = &args.report {
        let bytes = match std::fs::read(report_path) {
            Ok(bytes) => bytes,
            Err(e) => {
                eprintln!("error: cannot read {}: {e}", report_path.display());
                return exit_codes::ENVIRONMENT;
            }
        };
        let actual = certify::sha256_hex(&bytes);
        if actual != bundle.certificate.report_sha256 {
            return refuse(
                &args.bundle,
                &CertifyError::ReportHashMismatch {
                    expected: bundle.certificate.report_sha256.clone(),
                    actual,
                },
            );
        }
        let report = match std::str::from_utf8(&bytes)
            .map_err(|e| e.to_string())
            .and_then(|t| read_json(t).map_err(|e| e.to_string()))
        {
            Ok(report) => report,
            Err(e) => {
                eprintln!("error: {}: {e}", report_path.display());
                return exit_codes::USAGE;
            }
        };
        if let Err(e) = certify::check_against_report(&bundle.certificate, &report, &bytes) {
            return refuse(&args.bundle, &e);
        }
    }
    print_summary(&bundle, expected.is_some(), args.report.as_deref());
    exit_codes::SUCCESS
}

fn refuse(bundle: &Path, e: &CertifyError) -> u8 {
    eprintln!("error: {} does not verify: {e}", bundle.display());
    exit_codes::CHECKS_FAILED
}

fn print_summary(bundle: &Bundle, signer_checked: bool, report: Option<&Path>) {
    let c = &bundle.certificate;
    outln!("certificate verified: the signature matches the certificate content");
    if signer_checked {
        outln!(
            "  signer:       {} (the expected key)",
            bundle.signature.public_key
        );
    } else {
        outln!(
            "  signer:       {} (not checked: pass --public-key to check who signed)",
            bundle.signature.public_key
        );
    }
    outln!(
        "  issued:       {} by {} {}",
        c.issued_at,
        c.harness.name,
        c.harness.version
    );
    let version = c
        .target
        .server_version
        .as_deref()
        .unwrap_or("version unknown");
    outln!(
        "  target:       {} ({}, {})",
        c.target.base_url,
        c.target.server_name,
        version
    );
    match &c.profile {
        Some(p) => outln!(
            "  profile:      {}: mandatory {}/{}, optional {}/{}",
            p.name,
            p.mandatory.passed,
            p.mandatory.total,
            p.optional.passed,
            p.optional.total
        ),
        None => outln!("  profile:      none"),
    }
    match c.verdict {
        Some(v) => outln!(
            "  verdict:      {} (from MUST requirements only)",
            v.as_str()
        ),
        None => outln!("  verdict:      not recorded (certificate made before levels)"),
    }
    let s = &c.summary;
    outln!(
        "  scenarios:    {} passed, {} failed, {} errored, {} skipped of {} ({} blocked, {} unsupported, {} known failures)",
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        s.total,
        s.blocked,
        s.unsupported,
        s.known_failures
    );
    let must = s.levels.must.failed + s.levels.policy.failed;
    let recommendations = s.levels.should.failed + s.levels.may.failed;
    if must + recommendations > 0 {
        outln!(
            "  by level:     {must} MUST/POLICY failures, {recommendations} SHOULD/MAY recommendations not met"
        );
    }
    for area in &c.areas {
        let skipped = if area.skipped > 0 {
            format!(" ({} skipped)", area.skipped)
        } else {
            String::new()
        };
        outln!(
            "    {:<22} {}/{}{}",
            area_display_name(&area.area),
            area.passed,
            area.ran,
            skipped
        );
    }
    let n = certify::verdict_counts(c);
    outln!(
        "  requirements: {} passed, {} failed, {} known failures, {} recommendations not met, {} skipped (of {})",
        n.pass,
        n.fail,
        n.known_failure,
        n.recommendation_not_met,
        n.skipped,
        c.requirements.len()
    );
    for (level, n) in certify::verdict_counts_by_level(c) {
        outln!(
            "    {:<22} {} passed, {} failed, {} known failures, {} recommendations not met, {} skipped",
            level.to_ascii_uppercase(),
            n.pass,
            n.fail,
            n.known_failure,
            n.recommendation_not_met,
            n.skipped
        );
    }
    match report {
        Some(path) => outln!(
            "  report:       sha256 {} (matches {})",
            c.report_sha256,
            path.display()
        ),
        None => outln!(
            "  report:       sha256 {} (not checked: pass --report to check)",
            c.report_sha256
        ),
    }
}

fn default_out(report: &Path) -> PathBuf {
    match report.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("certificate.json"),
        _ => PathBuf::from("certificate.json"),
    }
}

fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let now = now.replace_nanosecond(0).unwrap_or(now);
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

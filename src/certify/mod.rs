//! Signed certificates of a run: a [`Certificate`] derived from a `report.json` (target
//! identity, profile, summary, per-area scores, requirement-to-result matrix), signed with
//! Ed25519 over its canonical JSON, and verified again from the bundle alone.
//!
//! The private key is only ever read from the key file given to `certify`; the bundle
//! carries the public key and the signature, never the private key.

pub mod canonical;
pub mod requirements;

use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

pub use canonical::to_canonical_string;
pub use requirements::{Requirement, RequirementMatrix, Verdict, derive_matrix, run_verdict};

use crate::results::{AreaScore, ProfileResult, RunReport, Summary};

/// Version of the certificate format. Bump on any incompatible change.
pub const CERTIFICATE_FORMAT: u32 = 1;
/// The only signature algorithm.
pub const ALGORITHM: &str = "ed25519";

/// What a certificate states about one run. Signed as canonical JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Certificate {
    /// Always [`CERTIFICATE_FORMAT`] when written by this build.
    pub format: u32,
    /// The harness that issued the certificate.
    pub harness: Harness,
    /// When the certificate was issued (RFC 3339, UTC).
    pub issued_at: String,
    /// SHA-256 of the scenario set that was run (from the report), when recorded.
    pub scenario_set_sha256: Option<String>,
    /// SHA-256 (hex) of the bytes of the `report.json` the certificate was made from.
    pub report_sha256: String,
    /// The spec-version profile result, when the run had one.
    pub profile: Option<ProfileResult>,
    /// What was tested.
    pub target: TargetIdentity,
    /// Counts over all scenarios.
    pub summary: Summary,
    /// Per-area scores.
    pub areas: Vec<AreaScore>,
    /// Behaviour ID -> covering scenarios, level and verdict.
    pub requirements: RequirementMatrix,
    /// The run's verdict from its MUST (and POLICY) scenarios only ([`run_verdict`]):
    /// SHOULD/MAY results never change it. Absent in certificates made before levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
}

/// The issuing harness.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Harness {
    /// "mxharness".
    pub name: String,
    /// Version of the binary that signed.
    pub version: String,
}

/// The identity of the system under test, as the report recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetIdentity {
    /// Base URL of the client-server API.
    pub base_url: String,
    /// Server name.
    pub server_name: String,
    /// Implementation and version, when the server said.
    pub server_version: Option<String>,
    /// Spec versions the server advertised.
    pub spec_versions: Vec<String>,
    /// Sliding-sync dialect and location, when probed.
    pub sliding_sync: Option<String>,
}

/// The signature block of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureBlock {
    /// Always "ed25519".
    pub algorithm: String,
    /// The signer's public key, base64 (standard alphabet, unpadded).
    pub public_key: String,
    /// The signature over the canonical JSON of `certificate`, base64 (unpadded).
    pub value: String,
}

/// A certificate and its signature: the file `certify` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bundle {
    /// The signed statement.
    pub certificate: Certificate,
    /// Signature over `certificate`.
    pub signature: SignatureBlock,
}

/// Why a certificate could not be made or verified.
#[derive(Debug, thiserror::Error)]
pub enum CertifyError {
    /// The bundle is not JSON or lacks the expected fields.
    #[error("not a certificate bundle: {0}")]
    Malformed(String),
    /// A format this build does not read.
    #[error(
        "the certificate has format {found}, but this build of mxharness reads only format \
         {CERTIFICATE_FORMAT}"
    )]
    UnsupportedFormat {
        /// As written in the bundle.
        found: String,
    },
    /// Not an ed25519 signature.
    #[error("unsupported signature algorithm {0:?}: only \"ed25519\" is supported")]
    UnsupportedAlgorithm(String),
    /// The public key or signature is not valid base64 of the right length.
    #[error("the bundle's {field} is not a valid base64 Ed25519 {field}: {reason}")]
    BadEncoding {
        /// "public_key" or "signature".
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// No canonical form (float or out-of-range integer).
    #[error(transparent)]
    Canonical(#[from] canonical::CanonicalError),
    /// The signature does not verify.
    #[error(
        "signature does not match the certificate content: the bundle was modified after \
         signing, or the signature was not made with the bundle's public key"
    )]
    BadSignature,
    /// The signature is valid but made by another key than the expected one.
    #[error(
        "the certificate was signed by public key {actual}, not by the expected key {expected}"
    )]
    WrongSigner {
        /// `--public-key`.
        expected: String,
        /// The key in the bundle.
        actual: String,
    },
    /// The report file is not the one the certificate was made from.
    #[error(
        "the report does not match the certificate: its SHA-256 is {actual}, the certificate \
         names {expected}"
    )]
    ReportHashMismatch {
        /// In the certificate.
        expected: String,
        /// Of the file.
        actual: String,
    },
    /// The certificate's content is not what the report yields.
    #[error(
        "the certificate's {field} does not match what the report yields: the certificate was \
         not derived from this report by mxharness"
    )]
    ReportContentMismatch {
        /// The first differing field.
        field: &'static str,
    },
}

/// SHA-256 of `bytes`, lower-case hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The certificate `certify` makes from a report (its parsed form and its file bytes).
pub fn derive_certificate(report: &RunReport, report_bytes: &[u8], issued_at: &str) -> Certificate {
    Certificate {
        format: CERTIFICATE_FORMAT,
        harness: Harness {
            name: env!("CARGO_PKG_NAME").to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
        },
        issued_at: issued_at.to_owned(),
        scenario_set_sha256: report.run.scenario_set_sha256.clone(),
        report_sha256: sha256_hex(report_bytes),
        profile: report.profile.clone(),
        target: TargetIdentity {
            base_url: report.target.base_url.clone(),
            server_name: report.target.server_name.clone(),
            server_version: report.target.server_version.clone(),
            spec_versions: report.target.spec_versions.clone(),
            sliding_sync: report.target.sliding_sync.clone(),
        },
        summary: report.summary.clone(),
        areas: report.areas.clone(),
        requirements: derive_matrix(&report.scenarios),
        verdict: Some(run_verdict(&report.scenarios)),
    }
}

/// Base64 as written in bundles: standard alphabet, no padding (as Matrix keys are).
pub fn encode_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(bytes)
}

/// Base64 as accepted from bundles and the command line: standard alphabet, padding
/// optional.
pub fn decode_b64(text: &str) -> Result<Vec<u8>, String> {
    base64::engine::general_purpose::STANDARD_NO_PAD_INDIFFERENT
        .decode(text.trim())
        .map_err(|e| e.to_string())
}

/// Parses a base64 public key.
pub fn parse_public_key(text: &str) -> Result<VerifyingKey, String> {
    let bytes = decode_b64(text)?;
    let bytes: [u8; 32] = bytes
        .as_slice()
        .try_into()
        .map_err(|_| format!("expected 32 bytes, got {}", bytes.len()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| e.to_string())
}

/// Signs a certificate: the signature covers the canonical JSON of the certificate.
pub fn sign(certificate: Certificate, key: &SigningKey) -> Result<Bundle, CertifyError> {
    let value =
        serde_json::to_value(&certificate).map_err(|e| CertifyError::Malformed(e.to_string()))?;
    let message = to_canonical_string(&value)?;
    let signature: Signature = key.sign(message.as_bytes());
    Ok(Bundle {
        certificate,
        signature: SignatureBlock {
            algorithm: ALGORITHM.to_owned(),
            public_key: encode_b64(key.verifying_key().as_bytes()),
            value: encode_b64(&signature.to_bytes()),
        },
    })
}

/// Renders a bundle as pretty JSON with a trailing newline.
pub fn render_bundle(bundle: &Bundle) -> Result<String, CertifyError> {
    let mut text =
        serde_json::to_string_pretty(bundle).map_err(|e| CertifyError::Malformed(e.to_string()))?;
    text.push('\n');
    Ok(text)
}

/// Verifies a bundle's text: the signature over the canonical JSON of the `certificate`
/// value *as found in the file* (so any change to any field, known or not, is detected),
/// and, with `expected_key`, that the signer is that key. Returns the parsed bundle.
pub fn verify_bundle(
    text: &str,
    expected_key: Option<&VerifyingKey>,
) -> Result<Bundle, CertifyError> {
    let value: Value =
        serde_json::from_str(text).map_err(|e| CertifyError::Malformed(e.to_string()))?;
    let certificate = value
        .get("certificate")
        .ok_or_else(|| CertifyError::Malformed("it has no \"certificate\" field".to_owned()))?;
    match certificate.get("format").and_then(Value::as_u64) {
        Some(v) if v == u64::from(CERTIFICATE_FORMAT) => {}
        other => {
            return Err(CertifyError::UnsupportedFormat {
                found: other.map_or_else(
                    || {
                        certificate
                            .get("format")
                            .map_or("none".to_owned(), Value::to_string)
                    },
                    |v| v.to_string(),
                ),
            });
        }
    }
    let block: SignatureBlock = value
        .get("signature")
        .ok_or_else(|| CertifyError::Malformed("it has no \"signature\" field".to_owned()))
        .and_then(|s| {
            serde_json::from_value(s.clone())
                .map_err(|e| CertifyError::Malformed(format!("signature: {e}")))
        })?;
    if block.algorithm != ALGORITHM {
        return Err(CertifyError::UnsupportedAlgorithm(block.algorithm));
    }
    let public_key =
        parse_public_key(&block.public_key).map_err(|reason| CertifyError::BadEncoding {
            field: "public_key",
            reason,
        })?;
    let signature_bytes = decode_b64(&block.value).map_err(|reason| CertifyError::BadEncoding {
        field: "signature",
        reason,
    })?;
    let signature =
        Signature::from_slice(&signature_bytes).map_err(|e| CertifyError::BadEncoding {
            field: "signature",
            reason: e.to_string(),
        })?;
    let message = to_canonical_string(certificate)?;
    public_key
        .verify_strict(message.as_bytes(), &signature)
        .map_err(|_| CertifyError::BadSignature)?;
    if let Some(expected) = expected_key
        && expected != &public_key
    {
        return Err(CertifyError::WrongSigner {
            expected: encode_b64(expected.as_bytes()),
            actual: block.public_key,
        });
    }
    let certificate: Certificate = serde_json::from_value(certificate.clone())
        .map_err(|e| CertifyError::Malformed(format!("certificate: {e}")))?;
    Ok(Bundle {
        certificate,
        signature: block,
    })
}

/// Checks that `certificate` is what `certify` derives from this report: the file hash,
/// then every field derived from the report (not `format`, `harness` or `issued_at`,
/// which describe the signing, not the run).
pub fn check_against_report(
    certificate: &Certificate,
    report: &RunReport,
    report_bytes: &[u8],
) -> Result<(), CertifyError> {
    let actual = sha256_hex(report_bytes);
    if actual != certificate.report_sha256 {
        return Err(CertifyError::ReportHashMismatch {
            expected: certificate.report_sha256.clone(),
            actual,
        });
    }
    let derived = derive_certificate(report, report_bytes, &certificate.issued_at);
    let mismatch = |field| Err(CertifyError::ReportContentMismatch { field });
    if derived.scenario_set_sha256 != certificate.scenario_set_sha256 {
        return mismatch("scenario_set_sha256");
    }
    if derived.profile != certificate.profile {
        return mismatch("profile");
    }
    if derived.target != certificate.target {
        return mismatch("target");
    }
    if derived.summary != certificate.summary {
        return mismatch("summary");
    }
    if derived.areas != certificate.areas {
        return mismatch("areas");
    }
    // Certificates made before levels were recorded carry no requirement level.
    let mut requirements = derived.requirements.clone();
    for (id, r) in &mut requirements {
        if certificate
            .requirements
            .get(id)
            .is_some_and(|c| c.level.is_none())
        {
            r.level = None;
        }
    }
    if requirements != certificate.requirements {
        return mismatch("requirements");
    }
    if certificate.verdict.is_some() && derived.verdict != certificate.verdict {
        return mismatch("verdict");
    }
    Ok(())
}

/// Verdict counts of a certificate's matrix per requirement level (`must`, `should`,
/// `may`; `unrecorded` for certificates made before levels), sorted by level name.
pub fn verdict_counts_by_level(
    certificate: &Certificate,
) -> std::collections::BTreeMap<String, requirements::VerdictCounts> {
    let mut by_level: std::collections::BTreeMap<String, RequirementMatrix> =
        std::collections::BTreeMap::new();
    for (id, r) in &certificate.requirements {
        let level = r.level.clone().unwrap_or_else(|| "unrecorded".to_owned());
        by_level
            .entry(level)
            .or_default()
            .insert(id.clone(), r.clone());
    }
    by_level
        .into_iter()
        .map(|(level, matrix)| (level, requirements::count_verdicts(&matrix)))
        .collect()
}

/// Convenience for summaries: verdict counts of a certificate's matrix.
pub fn verdict_counts(certificate: &Certificate) -> requirements::VerdictCounts {
    requirements::count_verdicts(&certificate.requirements)
}

#[cfg(test)]
mod tests;

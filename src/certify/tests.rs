//! Unit tests of certificate derivation, signing and verification.

use super::*;
use crate::results::Outcome;

const REPORT: &str = include_str!("../../fixtures/reports/run-report.json");

fn report_with_ids() -> (RunReport, String) {
    let mut report = crate::report::read_json(REPORT).unwrap();
    for (i, s) in report.scenarios.iter_mut().enumerate() {
        s.tags.push(format!("CS-TEST-{}", i % 3));
    }
    let text = crate::report::render_json(&report);
    (report, text)
}

fn key() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32])
}

fn bundle_text() -> (String, RunReport, String) {
    let (report, text) = report_with_ids();
    let cert = derive_certificate(&report, text.as_bytes(), "2026-01-02T03:04:05Z");
    let bundle = sign(cert, &key()).unwrap();
    (render_bundle(&bundle).unwrap(), report, text)
}

#[test]
fn certificate_carries_the_report_identity() {
    let (report, text) = report_with_ids();
    let cert = derive_certificate(&report, text.as_bytes(), "2026-01-02T03:04:05Z");
    assert_eq!(cert.format, 1);
    assert_eq!(cert.harness.name, "mxharness");
    assert_eq!(cert.report_sha256, sha256_hex(text.as_bytes()));
    assert_eq!(cert.report_sha256.len(), 64);
    assert_eq!(cert.target.base_url, report.target.base_url);
    assert_eq!(cert.summary, report.summary);
    assert_eq!(cert.areas, report.areas);
    assert_eq!(
        cert.requirements.keys().collect::<Vec<_>>(),
        vec!["CS-TEST-0", "CS-TEST-1", "CS-TEST-2"]
    );
}

#[test]
fn a_signed_bundle_verifies_and_names_its_key() {
    let (text, _, _) = bundle_text();
    let bundle = verify_bundle(&text, None).unwrap();
    assert_eq!(bundle.signature.algorithm, "ed25519");
    assert_eq!(
        bundle.signature.public_key,
        encode_b64(key().verifying_key().as_bytes())
    );
    verify_bundle(&text, Some(&key().verifying_key())).unwrap();
}

#[test]
fn layout_and_key_order_of_the_bundle_do_not_matter() {
    let (text, _, _) = bundle_text();
    // Reverse every object's key order and print compactly: same canonical content.
    fn reverse(v: &Value) -> Value {
        match v {
            Value::Object(map) => {
                let mut out = serde_json::Map::new();
                for (k, item) in map.iter().rev() {
                    out.insert(k.clone(), reverse(item));
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(reverse).collect()),
            other => other.clone(),
        }
    }
    let value: Value = serde_json::from_str(&text).unwrap();
    let relaid = serde_json::to_string(&reverse(&value)).unwrap();
    assert_ne!(relaid, text);
    verify_bundle(&relaid, None).unwrap();
}

#[test]
fn any_change_to_the_certificate_is_detected() {
    let (text, _, _) = bundle_text();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    value["certificate"]["summary"]["passed"] = Value::from(9);
    let err = verify_bundle(&value.to_string(), None).unwrap_err();
    assert!(matches!(err, CertifyError::BadSignature), "{err}");
    assert!(err.to_string().contains("modified after signing"), "{err}");

    // A field the Certificate struct does not know is covered too.
    let mut value: Value = serde_json::from_str(&text).unwrap();
    value["certificate"]["extra"] = Value::from("x");
    assert!(matches!(
        verify_bundle(&value.to_string(), None),
        Err(CertifyError::BadSignature)
    ));
}

#[test]
fn a_swapped_public_key_or_other_signer_is_refused() {
    let (text, _, _) = bundle_text();
    let other = SigningKey::from_bytes(&[9u8; 32]);
    let err = verify_bundle(&text, Some(&other.verifying_key())).unwrap_err();
    assert!(matches!(err, CertifyError::WrongSigner { .. }), "{err}");

    let mut value: Value = serde_json::from_str(&text).unwrap();
    value["signature"]["public_key"] = Value::from(encode_b64(other.verifying_key().as_bytes()));
    assert!(matches!(
        verify_bundle(&value.to_string(), None),
        Err(CertifyError::BadSignature)
    ));
}

#[test]
fn malformed_bundles_are_refused_clearly() {
    assert!(matches!(
        verify_bundle("nope", None),
        Err(CertifyError::Malformed(_))
    ));
    assert!(matches!(
        verify_bundle("{}", None),
        Err(CertifyError::Malformed(_))
    ));
    let (text, _, _) = bundle_text();
    let mut value: Value = serde_json::from_str(&text).unwrap();
    value["certificate"]["format"] = Value::from(2);
    assert!(matches!(
        verify_bundle(&value.to_string(), None),
        Err(CertifyError::UnsupportedFormat { .. })
    ));
    let mut value: Value = serde_json::from_str(&text).unwrap();
    value["signature"]["algorithm"] = Value::from("rsa");
    assert!(matches!(
        verify_bundle(&value.to_string(), None),
        Err(CertifyError::UnsupportedAlgorithm(_))
    ));
}

#[test]
fn the_report_check_needs_the_same_bytes_and_content() {
    let (text, report, report_text) = bundle_text();
    let bundle = verify_bundle(&text, None).unwrap();
    check_against_report(&bundle.certificate, &report, report_text.as_bytes()).unwrap();

    let other = format!("{report_text} ");
    assert!(matches!(
        check_against_report(&bundle.certificate, &report, other.as_bytes()),
        Err(CertifyError::ReportHashMismatch { .. })
    ));

    // A certificate whose content was edited and re-signed by someone with a key: the
    // hash still names the report, but the content is not what the report yields.
    let mut cert = bundle.certificate.clone();
    cert.summary.passed += 1;
    assert!(matches!(
        check_against_report(&cert, &report, report_text.as_bytes()),
        Err(CertifyError::ReportContentMismatch { field: "summary" })
    ));
}

#[test]
fn public_keys_parse_with_or_without_padding() {
    let vk = key().verifying_key();
    let unpadded = encode_b64(vk.as_bytes());
    assert!(!unpadded.ends_with('='));
    assert_eq!(parse_public_key(&unpadded).unwrap(), vk);
    assert_eq!(parse_public_key(&format!("{unpadded}=")).unwrap(), vk);
    assert!(parse_public_key("AAAA").is_err());
    assert!(parse_public_key("not base64!").is_err());
}

#[test]
fn the_certificate_verdict_rests_on_must_and_requirements_carry_their_level() {
    let (report, text) = report_with_ids();
    let cert = derive_certificate(&report, text.as_bytes(), "2026-01-02T03:04:05Z");
    // The fixture has MUST failures.
    assert_eq!(cert.verdict, Some(Verdict::Fail));
    assert!(
        cert.requirements
            .values()
            .all(|r| r.level.as_deref() == Some("must"))
    );

    let mut only_should = report.clone();
    for s in &mut only_should.scenarios {
        if s.outcome != Outcome::Passed {
            s.level = "should".into();
        }
    }
    let cert = derive_certificate(&only_should, text.as_bytes(), "2026-01-02T03:04:05Z");
    assert_eq!(
        cert.verdict,
        Some(Verdict::Pass),
        "SHOULD failures never fail the certificate"
    );
}

#[test]
fn certificates_made_before_levels_still_match_their_report() {
    let (text, report, report_text) = bundle_text();
    let bundle = verify_bundle(&text, None).unwrap();
    let mut old = bundle.certificate.clone();
    old.verdict = None;
    for r in old.requirements.values_mut() {
        r.level = None;
    }
    let json = serde_json::to_value(&old).unwrap();
    assert!(json.get("verdict").is_none());
    assert!(json["requirements"]["CS-TEST-0"].get("level").is_none());
    check_against_report(&old, &report, report_text.as_bytes()).unwrap();

    let mut forged = bundle.certificate.clone();
    forged.verdict = Some(Verdict::Pass);
    assert!(matches!(
        check_against_report(&forged, &report, report_text.as_bytes()),
        Err(CertifyError::ReportContentMismatch { field: "verdict" })
    ));
}

//! The harness against hostile targets (in-process servers on loopback): each hostile answer
//! is a failed check with its transcript, or exit 5 at preparation, within 300 MB of memory,
//! never a hang, a panic or death by a signal. Redirects are never followed.

mod common;
mod hostile;

use std::sync::atomic::Ordering;

use common::{report, tempdir};
use hostile::{Answer, At, Ran, large_post, run_against};
use mxharness::results::{Exchange, Failure, Outcome};

const GET: &str = "fixtures/scenarios/hostile/get.yaml";
const POST: &str = "fixtures/scenarios/hostile/post.yaml";

/// The hostile answer on the scenario's request: a failed check whose transcript is kept.
fn failed_check(answer: Answer, scenario: &str) -> (Failure, Exchange) {
    let server = hostile::start(answer, At::Check);
    let (ran, dir) = run_against(&server.url, scenario, &[]);
    assert_eq!(ran.code, Some(1), "{}", ran.describe());
    let report = report(dir.path());
    let s = report.scenarios.first().expect("one scenario");
    assert_eq!(s.outcome, Outcome::Failed, "{:?}", s.failure);
    let failure = s.failure.clone().expect("failure");
    let exchange = failure.transcript.last().cloned().expect("a transcript");
    (failure, exchange)
}

/// The hostile answer on `/versions`: preparation fails with exit 5 and says why.
fn refused_at_preparation(answer: Answer) -> Ran {
    let server = hostile::start(answer, At::Versions);
    let (ran, _dir) = run_against(&server.url, GET, &[]);
    assert_eq!(ran.code, Some(5), "{}", ran.describe());
    ran
}

#[test]
fn an_endless_body_stops_at_the_cap() {
    let (failure, exchange) = failed_check(Answer::EndlessChunked, GET);
    let error = exchange.error.clone().unwrap_or_default();
    assert!(
        error.contains("exceeds the 32 MiB cap (--max-body)"),
        "{error}"
    );
    assert_eq!(exchange.status, Some(200));
    let body = exchange.response_body.clone().unwrap_or_default();
    assert!(
        body.len() <= 1024 && body.starts_with("xxxx"),
        "the first KiB is kept: {body:?}"
    );
    assert!(failure.message.contains("cap"), "{}", failure.message);
}

#[test]
fn an_endless_body_on_versions_fails_preparation() {
    let ran = refused_at_preparation(Answer::EndlessChunked);
    assert!(
        ran.stderr.contains("exceeds the 32 MiB cap"),
        "{}",
        ran.describe()
    );
}

#[test]
fn max_body_sets_the_cap() {
    let server = hostile::start(Answer::EndlessChunked, At::Check);
    let (ran, dir) = run_against(&server.url, GET, &["--max-body", "64KiB"]);
    assert_eq!(ran.code, Some(1), "{}", ran.describe());
    let text = std::fs::read_to_string(dir.path().join("report.json")).expect("report");
    assert!(text.contains("exceeds the 64 KiB cap"), "{text}");
}

#[test]
fn a_huge_declared_length_is_refused_without_waiting_for_it() {
    let (_, exchange) = failed_check(Answer::HugeLengthSlow, GET);
    let error = exchange.error.unwrap_or_default();
    assert!(
        error.contains("declares a 1099511627776-byte body"),
        "{error}"
    );
}

#[test]
fn slowloris_headers_time_out() {
    let (failure, exchange) = failed_check(Answer::SlowlorisHeaders, GET);
    assert_eq!(failure.kind, "timeout", "{failure:?}");
    assert!(
        exchange
            .error
            .unwrap_or_default()
            .starts_with("the server held the request for ≥ 3 s")
    );
}

#[test]
fn a_body_trickling_forever_times_out_mid_body() {
    let (failure, exchange) = failed_check(Answer::SlowChunkedBody, GET);
    assert_eq!(failure.kind, "timeout", "{failure:?}");
    assert_eq!(
        exchange.status,
        Some(200),
        "the status came before the body"
    );
    assert!(
        exchange
            .error
            .unwrap_or_default()
            .starts_with("the server held the request for ≥ 3 s"),
        "{failure:?}"
    );
}

#[test]
fn garbage_bytes_are_a_transport_failure() {
    let (failure, exchange) = failed_check(Answer::Garbage, GET);
    assert_eq!(failure.kind, "transport", "{failure:?}");
    assert!(exchange.error.is_some());
}

#[test]
fn garbage_on_versions_fails_preparation() {
    refused_at_preparation(Answer::Garbage);
}

#[test]
fn tls_garbage_on_an_https_target_fails_preparation() {
    // The URL says https; the server answers bytes that are not TLS.
    let server = hostile::start(Answer::GarbageAtOnce, At::Versions);
    let url = server.url.replace("http://", "https://");
    let (ran, _dir) = run_against(&url, GET, &[]);
    assert_eq!(ran.code, Some(5), "{}", ran.describe());
}

#[test]
fn a_redirect_with_a_body_is_judged_not_followed() {
    let other = hostile::counter();
    let location = format!("{}/_matrix/client/v3/login", other.url);
    let (failure, exchange) = failed_check(Answer::Redirect(location.clone()), POST);
    assert_eq!(exchange.status, Some(307), "{failure:?}");
    assert_eq!(
        exchange.response_headers.get("location"),
        Some(&location),
        "the transcript shows Location"
    );
    assert_eq!(
        other.hits.load(Ordering::SeqCst),
        0,
        "the redirect target got a request"
    );
}

#[test]
fn a_redirect_on_versions_is_not_followed() {
    let other = hostile::counter();
    let location = format!("{}/_matrix/client/versions", other.url);
    let ran = refused_at_preparation(Answer::Redirect(location));
    assert!(ran.stderr.contains("HTTP 307"), "{}", ran.describe());
    assert_eq!(other.hits.load(Ordering::SeqCst), 0);
}

#[test]
fn invalid_utf8_is_a_failed_check() {
    let (failure, exchange) = failed_check(Answer::InvalidUtf8, GET);
    assert_eq!(exchange.status, Some(200));
    assert!(failure.message.contains("not JSON"), "{failure:?}");
}

#[test]
fn json_nested_100k_deep_is_a_failed_check_not_a_stack_overflow() {
    let (failure, exchange) = failed_check(Answer::DeepJson(100_000), GET);
    assert_eq!(exchange.status, Some(200));
    assert!(failure.message.contains("not JSON"), "{failure:?}");
}

#[test]
fn json_nested_100k_deep_on_versions_fails_preparation() {
    refused_at_preparation(Answer::DeepJson(100_000));
}

#[test]
fn a_close_in_the_middle_of_a_body_is_a_transport_failure() {
    let (failure, exchange) = failed_check(Answer::CloseMidBody, GET);
    assert_eq!(failure.kind, "transport", "{failure:?}");
    assert!(
        exchange
            .error
            .unwrap_or_default()
            .starts_with("the response body broke off"),
        "{failure:?}"
    );
}

#[test]
fn ten_megabytes_of_headers_are_a_transport_failure() {
    let (failure, _) = failed_check(Answer::HugeHeaders, GET);
    assert_eq!(failure.kind, "transport", "{failure:?}");
}

#[test]
fn a_server_that_never_reads_fails_preparation() {
    let ran = refused_at_preparation(Answer::NeverRead);
    assert!(
        ran.stderr.contains("no answer within 10 s"),
        "{}",
        ran.describe()
    );
}

#[test]
fn a_server_that_never_reads_a_large_body_times_out() {
    let dir = tempdir();
    let scenario = large_post(dir.path());
    let server = hostile::start(Answer::NeverReadBody, At::Check);
    let (ran, reports) = run_against(&server.url, &scenario, &[]);
    assert_eq!(ran.code, Some(1), "{}", ran.describe());
    let r = report(reports.path());
    let failure = r.scenarios[0].failure.clone().expect("failure");
    assert_eq!(failure.kind, "timeout", "{failure:?}");
}

#[test]
fn a_peer_closing_while_a_large_body_is_written_is_an_error_not_death() {
    let dir = tempdir();
    let scenario = large_post(dir.path());
    let server = hostile::start(Answer::CloseWhileWriting, At::Check);
    let (ran, reports) = run_against(&server.url, &scenario, &[]);
    // Exit 1 (a failed check), not 141 (SIGPIPE) nor any other signal.
    assert_eq!(ran.code, Some(1), "{}", ran.describe());
    let r = report(reports.path());
    let failure = r.scenarios[0].failure.clone().expect("failure");
    assert_eq!(failure.kind, "transport", "{failure:?}");
}

#[test]
fn the_scenario_deadline_holds_while_a_body_streams() {
    // A body that trickles for ever, a step timeout longer than the test: the per-scenario
    // deadline ends the scenario as an error and the run goes on to write its reports.
    let server = hostile::start(Answer::SlowChunkedBody, At::Check);
    let started = std::time::Instant::now();
    let (ran, dir) = run_against(
        &server.url,
        GET,
        &["--step-timeout", "10m", "--scenario-timeout", "2s"],
    );
    assert_eq!(ran.code, Some(1), "{}", ran.describe());
    assert!(
        started.elapsed() < std::time::Duration::from_secs(120),
        "the deadline did not hold"
    );
    let report = report(dir.path());
    let s = report.scenarios.first().expect("one scenario");
    assert_eq!(s.outcome, Outcome::Errored, "{:?}", s.failure);
    let failure = s.failure.clone().expect("failure");
    assert_eq!(failure.kind, "timeout");
    assert!(
        failure.message.contains("did not finish within 2s"),
        "{}",
        failure.message
    );
}

#[test]
fn a_failing_step_reports_its_own_basis() {
    let server = hostile::start(Answer::Fine, At::Check);
    let (ran, dir) = run_against(
        &server.url,
        "fixtures/scenarios/hostile/step-basis.yaml",
        &[],
    );
    assert_eq!(ran.code, Some(1), "{}", ran.describe());
    let report = report(dir.path());
    let s = report.scenarios.first().expect("one scenario");
    assert_eq!(s.outcome, Outcome::Failed, "{:?}", s.failure);
    assert_eq!(
        s.basis.as_deref(),
        Some("step-level basis: 'the server MUST answer 404' (test fixture)")
    );
}

//! The preflight against in-process targets on loopback: fake servers standing in for the
//! target, one that authenticates the harness and one that refuses it.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::json;

use super::*;
use crate::federation::{Handler, RunCa};
use crate::matrix::http_client::HttpClient;
use crate::runner::{BoxFuture, Provision, RunContext, UserInfo};
use crate::scenario::source::SourceFile;

struct NoUsers;

impl Provision for NoUsers {
    fn create_user<'a>(
        &'a self,
        _localpart: &'a str,
        _password: &'a str,
        _admin: bool,
    ) -> BoxFuture<'a, Result<UserInfo, String>> {
        Box::pin(async { Err("no users in this test".to_owned()) })
    }
}

fn peer_of(server_name: &str, federation_url: &str) -> Peer {
    Peer {
        server_name: server_name.to_owned(),
        federation_url: Some(federation_url.to_owned()),
        base_url: "http://127.0.0.1:9".into(),
        provisioner: Arc::new(NoUsers),
    }
}

/// A fake server standing in for the target: it answers the profile query with `status` and
/// `body`, refusing unauthenticated requests with 401 when `require_auth`.
async fn target(ca: &RunCa, status: u16, body: Value, require_auth: bool) -> FakeServer {
    let server = FakeServer::start(ca, "target").await.unwrap();
    let mut handler = Handler::json("profile", "GET", PROBE_PATH, status, body).unwrap();
    handler.require_auth = require_auth;
    server.register(handler);
    server
}

fn context(ca: Arc<RunCa>, hs1: Peer) -> RunContext {
    RunContext {
        base_url: "http://127.0.0.1:9".into(),
        server_name: hs1.server_name.clone(),
        versions: ruma::api::SupportedVersions::from_parts(&["v1.1".to_owned()], &BTreeMap::new()),
        spec_versions: vec!["v1.1".into()],
        unstable_features: BTreeMap::new(),
        provisioner: Arc::new(NoUsers),
        http: HttpClient::new().unwrap(),
        step_timeout: Duration::from_secs(10),
        scenario_timeout: Duration::from_secs(60),
        lenient_schema: false,
        sliding_sync: None,
        retries: 0,
        federation: Some(Arc::new(FederationContext { ca, hs1, hs2: None })),
        capabilities: Default::default(),
        appservice: None,
        push_gateway: None,
        email_sink: None,
        identity_server: None,
    }
}

fn plan(id: &str, extra: &str) -> ScenarioPlan {
    let text = format!("schema: 1\nid: {id}\ntitle: t\narea: t\nlevel: must\nbasis: b\n{extra}");
    let file = SourceFile {
        path: "t.yaml".into(),
        text: Arc::new(text),
    };
    let mut problems = Vec::new();
    let plan = crate::plan::lower::lower_file(&file, &mut problems);
    plan.unwrap_or_else(|| panic!("{problems:?}"))
}

/// A scenario with a fake server, one that needs no federation, one skipped on this target.
fn plans() -> Vec<ScenarioPlan> {
    let fed = "servers: { remote: fake }\nsteps:\n  - federation: { from: remote, method: GET, path: \"/x/${remote.key_id}\" }\n    expect: { status: 200 }\n";
    vec![
        plan("t/fed", fed),
        plan(
            "t/cs",
            "steps:\n  - request: { method: GET, path: /_matrix/client/versions }\n",
        ),
        plan(
            "t/fed-later",
            &format!("spec: {{ since: \"1.99\" }}\nrequires: {{ spec: \"1.99\" }}\n{fed}"),
        ),
    ]
}

/// An event bus and what it collected, in the order emitted.
fn recorder() -> (crate::runner::events::Collected, crate::runner::Events) {
    let (events, collected) = crate::runner::events::collecting(Vec::new());
    (collected, events)
}

#[test]
fn judge_passes_any_answer_but_an_authentication_refusal() {
    let ok = |status, body: Value, fetches| judge(Some((status, Some(&body))), None, fetches);
    assert!(ok(404, json!({"errcode": "M_NOT_FOUND"}), 1).is_ok());
    assert!(ok(200, json!({"displayname": "x"}), 1).is_ok());
    assert!(ok(400, json!({"errcode": "M_INVALID_PARAM"}), 0).is_ok());
    assert!(ok(500, json!({}), 1).is_ok());
    // A policy refusal of profile lookups, after the key was fetched.
    let policy = json!({"errcode": "M_FORBIDDEN", "error": "Profile lookup over federation is disabled on this homeserver"});
    assert!(ok(403, policy.clone(), 1).is_ok());

    let err = ok(
        401,
        json!({"errcode": "M_UNAUTHORIZED", "error": "Failed to find any key to satisfy:\n _FetchKeyRequest"}),
        0,
    )
    .unwrap_err();
    assert_eq!(
        err,
        "the target refused a signed request: 401 M_UNAUTHORIZED \"Failed to find any key to satisfy: _FetchKeyRequest\""
    );
    assert!(
        ok(401, json!({}), 1)
            .unwrap_err()
            .contains("401 no errcode")
    );
    assert!(ok(403, json!({"errcode": "M_UNAUTHORIZED"}), 1).is_err());
    // M_FORBIDDEN without ever fetching the key, or saying it is about authentication.
    assert!(ok(403, policy, 0).is_err());
    let denied = json!({"errcode": "M_FORBIDDEN", "error": "Federation denied with localhost:1."});
    assert!(ok(403, denied, 1).is_err());
    let sig =
        json!({"errcode": "M_FORBIDDEN", "error": "Invalid signature for server localhost:1"});
    assert!(ok(403, sig, 1).is_err());
}

#[test]
fn judge_fails_without_an_answer() {
    let err = judge(None, Some("connection refused"), 0).unwrap_err();
    assert_eq!(err, "no answer to a signed request: connection refused");
}

#[tokio::test]
async fn passes_against_a_target_that_authenticates_the_harness() {
    let ca = Arc::new(RunCa::new().unwrap());
    let hs1 = target(&ca, 404, json!({"errcode": "M_NOT_FOUND"}), true).await;
    let fed = FederationContext {
        ca: Arc::clone(&ca),
        hs1: peer_of(hs1.server_name(), &hs1.base_url()),
        hs2: None,
    };
    let verdict = check(&fed, &fed.hs1, Duration::from_secs(10)).await;
    assert_eq!(verdict, Preflight::Passed);
    let asked = hs1.requests();
    assert_eq!(asked.len(), 1);
    assert!(asked[0].auth.is_ok(), "{:?}", asked[0].auth);
    assert!(asked[0].uri.contains("user_id=%40nobody%3Alocalhost%3A"));
}

#[tokio::test]
async fn fails_with_the_targets_answer_when_it_refuses_the_signature() {
    let ca = Arc::new(RunCa::new().unwrap());
    let refusal =
        json!({"errcode": "M_UNAUTHORIZED", "error": "Failed to find any key to satisfy"});
    let hs1 = target(&ca, 401, refusal, false).await;
    let fed = FederationContext {
        ca: Arc::clone(&ca),
        hs1: peer_of(hs1.server_name(), &hs1.base_url()),
        hs2: None,
    };
    let Preflight::Failed(failure) = check(&fed, &fed.hs1, Duration::from_secs(10)).await else {
        panic!("expected a failure");
    };
    assert!(
        failure.message.starts_with(
            "the target refused a signed request: 401 M_UNAUTHORIZED \"Failed to find any key to satisfy\"; it fetched the fake server's key once (signed by localhost:"
        ),
        "{}",
        failure.message
    );
    assert!(
        failure.message.contains(" as ed25519:mxh_"),
        "{}",
        failure.message
    );
    assert_eq!(failure.transcript.len(), 1);
    let exchange = &failure.transcript[0];
    assert_eq!(exchange.status, Some(401));
    assert!(
        exchange
            .response_body
            .as_deref()
            .is_some_and(|b| b.contains("Failed to find any key")),
        "{exchange:?}"
    );

    let result = failed_result(&failure, 7);
    assert_eq!(
        (
            result.id.as_str(),
            result.area.as_str(),
            result.level.as_str()
        ),
        (ID, AREA, "must")
    );
    assert_eq!(result.outcome, Outcome::Failed);
    assert_eq!(result.spec_section.as_deref(), Some(SECTION));
    let f = result.failure.unwrap();
    assert_eq!(f.message, failure.message);
    assert_eq!(f.transcript, failure.transcript);
    assert_eq!(f.actual.as_deref(), Some("401"));
}

#[tokio::test]
async fn fails_when_the_target_does_not_answer() {
    let ca = Arc::new(RunCa::new().unwrap());
    // A port nothing listens on: bound, read, closed.
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fed = FederationContext {
        ca: Arc::clone(&ca),
        hs1: peer_of(
            &format!("localhost:{port}"),
            &format!("https://127.0.0.1:{port}"),
        ),
        hs2: None,
    };
    let Preflight::Failed(failure) = check(&fed, &fed.hs1, Duration::from_secs(5)).await else {
        panic!("expected a failure");
    };
    assert!(
        failure
            .message
            .starts_with("no answer to a signed request: "),
        "{}",
        failure.message
    );
    assert_eq!(failure.transcript[0].status, None);
}

#[tokio::test]
async fn a_failed_preflight_blocks_the_fake_server_scenarios_only() {
    let ca = Arc::new(RunCa::new().unwrap());
    let refusal = json!({"errcode": "M_UNAUTHORIZED", "error": "no key"});
    let hs1 = target(&ca, 401, refusal, false).await;
    let ctx = context(Arc::clone(&ca), peer_of(hs1.server_name(), &hs1.base_url()));
    let (seen, events) = recorder();
    let rest = gate(plans(), &ctx, &events).await;

    let rest: Vec<&str> = rest.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(rest, ["t/cs", "t/fed-later"]);
    let decided = seen.take();
    let ids: Vec<&str> = decided.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, [ID, "t/fed"]);
    assert_eq!(decided[0].outcome, Outcome::Failed);
    let blocked = &decided[1];
    assert_eq!(blocked.outcome, Outcome::Blocked);
    let message = &blocked.failure.as_ref().unwrap().message;
    assert!(
        message.starts_with(
            "blocked: the federation preflight failed (fed/preflight): the target refused a signed request: 401 M_UNAUTHORIZED \"no key\"; "
        ),
        "{message}"
    );
    assert!(!message.contains('\n'));
}

#[tokio::test]
async fn a_passed_preflight_adds_no_result_and_blocks_nothing() {
    let ca = Arc::new(RunCa::new().unwrap());
    let hs1 = target(&ca, 404, json!({"errcode": "M_NOT_FOUND"}), true).await;
    let ctx = context(Arc::clone(&ca), peer_of(hs1.server_name(), &hs1.base_url()));
    let (seen, events) = recorder();
    let rest = gate(plans(), &ctx, &events).await;
    assert_eq!(rest.len(), 3);
    assert!(seen.take().is_empty());
    assert_eq!(hs1.requests().len(), 1, "one signed request, once per run");
}

#[tokio::test]
async fn no_preflight_when_no_scenario_has_a_fake_server() {
    let ca = Arc::new(RunCa::new().unwrap());
    let hs1 = target(&ca, 401, json!({}), false).await;
    let ctx = context(Arc::clone(&ca), peer_of(hs1.server_name(), &hs1.base_url()));
    let (seen, events) = recorder();
    let only_cs: Vec<ScenarioPlan> = plans().into_iter().skip(1).collect();
    let rest = gate(only_cs, &ctx, &events).await;
    assert_eq!(rest.len(), 2);
    assert!(seen.take().is_empty());
    assert!(hs1.requests().is_empty());
}

#[tokio::test]
async fn the_run_reports_the_preflight_and_the_blocked_scenario() {
    let ca = Arc::new(RunCa::new().unwrap());
    let hs1 = target(&ca, 401, json!({"errcode": "M_UNAUTHORIZED"}), false).await;
    let ctx = Arc::new(context(
        Arc::clone(&ca),
        peer_of(hs1.server_name(), &hs1.base_url()),
    ));
    let (seen, events) = recorder();
    let only_fed = vec![plans().remove(0)];
    crate::runner::run(only_fed, ctx, 2, &events, &crate::lifecycle::Stop::manual()).await;
    let results = seen.take();
    let got: Vec<(&str, Outcome)> = results.iter().map(|r| (r.id.as_str(), r.outcome)).collect();
    assert_eq!(got, [(ID, Outcome::Failed), ("t/fed", Outcome::Blocked)]);
}

#[tokio::test]
async fn scenarios_read_their_fake_servers_key_id() {
    let ca = Arc::new(RunCa::new().unwrap());
    let hs1 = target(&ca, 404, json!({}), true).await;
    let ctx = context(Arc::clone(&ca), peer_of(hs1.server_name(), &hs1.base_url()));
    let world = super::super::World::start(&plans()[0], &ctx).await.unwrap();
    let mut vars = crate::plan::template::Vars::default();
    world.set_vars(&ctx, &mut vars);
    let key_id = vars.text_of("${remote.key_id}").unwrap();
    assert!(key_id.starts_with("ed25519:mxh_"), "{key_id}");
    assert_eq!(key_id, world.fake("remote").unwrap().server.key().key_id());
}

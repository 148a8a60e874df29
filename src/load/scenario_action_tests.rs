//! Scenario actions through a persona against an in-process stub homeserver that answers
//! every request `200 {"event_id":"$stub"}`: a scenario whose expectations that answer meets
//! passes every iteration with no errors, one with a deliberately wrong expectation counts
//! each iteration as an `expectation` error of the action, with a sample transcript, and its
//! request rows count the failures as errors.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::prelude::GooseUser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::model::PersonaKind;
use super::personas::{dispatch, on_start};
use super::plan::{Action, Persona};
use super::scenario_ref;
use super::world::{Account, World};
use crate::results::load::ScenarioActionFigures;

async fn stub() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let body = r#"{"event_id":"$stub"}"#;
                let resp = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

/// One chatty user running `reference` for about a second; the action's figures and the
/// request rows' (count, errors) by name.
async fn run(reference: &str) -> (ScenarioActionFigures, BTreeMap<String, (u64, u64)>) {
    let plan_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/load/smoke.yaml");
    let action = scenario_ref::resolve(reference, &plan_file).expect("a runnable scenario");
    let persona = Persona {
        name: "checker".into(),
        kind: PersonaKind::Chatty,
        weight: 1,
        think_mean: Duration::from_millis(20),
        think_max: Duration::from_millis(40),
        actions: vec![(Action::Scenario(0), 1)],
        sync_timeout: Duration::from_secs(1),
        media_bytes: 0,
        arrivals: None,
        scenarios: vec![Arc::new(action)],
    };
    let account = |i: usize| Account {
        user_id: format!("@u{i}:stub"),
        access_token: format!("token-of-user-{i}"),
        persona: 0,
        rooms: vec!["!room:stub".into()],
        created: if i == 0 {
            vec!["!room:stub".into()]
        } else {
            Vec::new()
        },
        ..Account::default()
    };
    let base = stub().await;
    let world = World::new(
        base.clone(),
        None,
        vec![persona],
        vec![account(0), account(1)],
        vec!["!room:stub".into()],
        BTreeMap::new(),
        None,
        1,
    );
    let url = reqwest::Url::parse(&base).unwrap();
    let mut user = GooseUser::single(url, &GooseConfiguration::default()).unwrap();
    on_start(&mut user, &world, 0).unwrap();
    world.set_plan_end(Instant::now() + Duration::from_millis(800));
    while !world.plan_over() {
        dispatch(&mut user, &world).await.unwrap();
    }
    let figures = world.conformance().figures(&world.personas);
    let snap = world.recorder.snapshot(Duration::from_secs(1));
    let rows = snap
        .requests
        .iter()
        .map(|r| (r.name.clone(), (r.latency.count, r.errors)))
        .collect();
    (figures[0].clone(), rows)
}

#[tokio::test]
async fn a_scenario_the_answers_meet_passes_every_iteration() {
    let (a, rows) = run("cs/messaging/send-text-messages#2").await;
    assert!(a.iterations > 0, "{a:?}");
    assert_eq!((a.passed, a.failed()), (a.iterations, 0), "{a:?}");
    assert!(a.sample.is_none());
    // The set-up step (create_room) is served by the population room: only step 2 is sent.
    assert_eq!(
        rows.keys().collect::<Vec<_>>(),
        ["cs/messaging/send-text-messages#2"]
    );
    assert_eq!(rows["cs/messaging/send-text-messages#2"], (a.iterations, 0));
}

#[tokio::test]
async fn a_wrong_expectation_is_an_expectation_error_of_the_action() {
    let (a, rows) = run("fixtures/load/scenarios/send-text-wrong-expectation.yaml").await;
    assert!(a.iterations > 0, "{a:?}");
    assert_eq!(a.passed, 0, "{a:?}");
    assert_eq!(a.errors.get("expectation"), Some(&a.iterations), "{a:?}");
    let sample = a.sample.as_ref().expect("a sample");
    assert_eq!((sample.step, sample.kind.as_str()), (2, "body"));
    let exchange = &sample.transcript[0];
    assert_eq!(exchange.method, "PUT");
    assert!(
        exchange
            .url
            .contains("/rooms/!room:stub/send/m.room.message/")
    );
    assert_eq!(
        exchange
            .request_headers
            .get("authorization")
            .map(String::as_str),
        Some("Bearer <redacted>")
    );
    let row = rows["load-fixture/send-text-wrong-expectation#2"];
    assert_eq!(
        row,
        (a.iterations, a.iterations),
        "each failed check is a request error"
    );
}

#[test]
fn a_scenario_action_takes_an_open_model_rate_and_is_named_in_the_arrivals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.yaml");
    std::fs::write(
        &path,
        r#"load: 1
id: load/t
title: t
population: { users: 3, rooms: 1 }
personas:
  writer:
    kind: chatty
    weight: 2
    arrivals: { rates: { "scenario: cs/messaging/send-text-messages#2": 2/s, send: 1/s } }
profile: { ramp_up: 1s, hold: 2s }
thresholds: ["p95 < 1s for cs/messaging/send-text-messages#2"]
"#,
    )
    .unwrap();
    let plan = super::plan::load_file(&path).unwrap_or_else(|e| panic!("{e:?}"));
    let p = &plan.personas[0];
    assert_eq!(p.scenarios.len(), 1);
    let arrivals = super::arrivals::Arrivals::new(&p.name, p.arrivals.as_ref().unwrap(), 1)
        .with_names(|a| p.action_name(a));
    let now = Instant::now();
    arrivals.open(now, now + Duration::from_secs(1));
    let names: Vec<Option<String>> = arrivals
        .figures(now)
        .into_iter()
        .map(|f| f.action)
        .collect();
    assert!(
        names.contains(&Some(
            "scenario: cs/messaging/send-text-messages#2".to_owned()
        )),
        "{names:?}"
    );
}

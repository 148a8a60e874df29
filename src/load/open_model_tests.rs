//! Open-model arrivals end to end through a persona against a stalling stub homeserver:
//! latency is measured from the intended start (a stall shows in the arrivals queued behind
//! it: no coordinated omission), and more arrivals than the users can take are dropped.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::prelude::GooseUser;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::arrivals::{ArrivalSpec, Stream};
use super::metrics::decode_histogram;
use super::model::{PersonaKind, Spacing};
use super::personas::{dispatch, on_start};
use super::plan::{Action, Persona};
use super::world::{Account, World};
use crate::results::load::{ArrivalFigures, Model};

/// A stub homeserver on loopback answering `{}` with 200, the first request after `first`
/// and every other one after `each`.
async fn stub(first: Duration, each: Duration) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let served = Arc::clone(&served);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 8192];
                let _ = sock.read(&mut buf).await;
                let n = served.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(if n == 0 { first } else { each }).await;
                let resp = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}";
                let _ = sock.write_all(resp.as_bytes()).await;
            });
        }
    });
    format!("http://{addr}")
}

/// One open-model chatty user sending typing notices at `rate` for one second, with
/// `max_delay`; returns the arrival figures and the typing latencies in ms (sorted).
async fn run(base: String, rate: f64, max_delay: Duration) -> (ArrivalFigures, Vec<f64>, Model) {
    let persona = Persona {
        name: "writer".into(),
        kind: PersonaKind::Chatty,
        weight: 1,
        think_mean: Duration::ZERO,
        think_max: Duration::ZERO,
        actions: Vec::new(),
        sync_timeout: Duration::from_secs(1),
        media_bytes: 0,
        arrivals: Some(ArrivalSpec {
            streams: vec![Stream {
                action: Some(Action::Typing),
                rate,
            }],
            spacing: Spacing::Uniform,
            max_delay,
            shard: (0, 1),
        }),
        scenarios: Vec::new(),
    };
    let account = Account {
        user_id: "@u0:x".into(),
        access_token: "t".into(),
        persona: 0,
        rooms: vec!["!r:x".into()],
        ..Account::default()
    };
    let world = World::new(
        base.clone(),
        None,
        vec![persona],
        vec![account],
        vec!["!r:x".into()],
        BTreeMap::new(),
        None,
        1,
    );
    let url = reqwest::Url::parse(&base).unwrap();
    let mut user = GooseUser::single(url, &GooseConfiguration::default()).unwrap();
    on_start(&mut user, &world, 0).unwrap();
    let start = Instant::now();
    world.set_plan_end(start + Duration::from_millis(1600));
    world.open_arrivals(start, start + Duration::from_secs(1));
    while !world.plan_over() {
        dispatch(&mut user, &world).await.unwrap();
    }
    let figures = world.arrivals_of(0).unwrap().figures(Instant::now());
    let snap = world.recorder.snapshot(Duration::from_secs(1));
    let typing = snap.requests.iter().find(|r| r.name == "typing").unwrap();
    let hist = decode_histogram(&snap.histograms["request:typing"]).unwrap();
    let mut ms: Vec<f64> = hist
        .iter_recorded()
        .flat_map(|v| {
            std::iter::repeat_n(
                v.value_iterated_to() as f64 / 1000.0,
                v.count_at_value() as usize,
            )
        })
        .collect();
    ms.sort_by(f64::total_cmp);
    (figures[0].clone(), ms, typing.model)
}

#[tokio::test]
async fn a_stall_counts_for_every_arrival_queued_behind_it() {
    // The first request stalls 500 ms; arrivals are due every 100 ms. A closed-loop user
    // would record one slow request and simply send fewer; from the intended start, the
    // arrivals due at 100, 200, 300 and 400 ms waited behind the stall and show it.
    let base = stub(Duration::from_millis(500), Duration::ZERO).await;
    let (arrivals, ms, model) = run(base, 10.0, Duration::from_secs(5)).await;
    assert_eq!(model, Model::Open);
    assert_eq!(
        (arrivals.scheduled, arrivals.dropped),
        (10, 0),
        "{arrivals:?}"
    );
    assert_eq!(ms.len(), 10, "{ms:?}");
    let slow = ms.iter().filter(|v| **v >= 300.0).count();
    assert!(
        slow >= 3,
        "the stall is in 500, >= 400 and >= 300 ms samples: {ms:?}"
    );
    assert!(ms[ms.len() - 1] >= 500.0, "{ms:?}");
}

#[tokio::test]
async fn arrivals_beyond_what_the_users_can_take_are_dropped() {
    // Every request takes 300 ms, 20 arrivals a second are due and one user serves them:
    // at most a handful can start within the 200 ms bound, the rest are dropped.
    let base = stub(Duration::from_millis(300), Duration::from_millis(300)).await;
    let (arrivals, ms, _) = run(base, 20.0, Duration::from_millis(200)).await;
    assert_eq!(arrivals.scheduled, 20, "{arrivals:?}");
    assert_eq!(arrivals.started + arrivals.dropped, arrivals.scheduled);
    assert!(arrivals.dropped >= 10, "{arrivals:?}");
    assert!(
        arrivals.achieved_rps < arrivals.intended_rps,
        "{arrivals:?}"
    );
    assert!(ms.iter().all(|v| *v >= 300.0), "{ms:?}");
}

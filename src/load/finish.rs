//! After the attack: look up the messages no sync saw (late or lost) and assemble the
//! report's `load` section from the recorder.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::delivery::HISTORY_CHECK_BUDGET;
use super::engine::Attacked;
use super::plan::LoadPlan;
use super::world::World;
use crate::results::load::{DeliveryFigures, LoadReport};

/// Unseen messages that are in the room's history (late) and those that are not (lost).
pub async fn check_history(world: &Arc<World>) -> (u64, u64) {
    let out = world.tracker.outstanding();
    if out.unseen.is_empty() {
        return (0, 0);
    }
    let Some(http) = world.conformance().http.clone() else {
        return (0, out.unseen.len() as u64);
    };
    let get_event = crate::matrix::ops::find("get_event");
    let deadline = Instant::now() + HISTORY_CHECK_BUDGET;
    let gate = Arc::new(Semaphore::new(16));
    let mut set = JoinSet::new();
    for (room, event, sender) in out.unseen {
        let reader = world
            .tracker
            .reader_other_than(&room, sender)
            .unwrap_or(sender);
        let Some(token) = world.accounts.get(reader).map(|a| a.access_token.clone()) else {
            continue;
        };
        // The typed `get_event` operation, as a scenario's `call: get_event` builds it.
        let ctx = crate::matrix::ops::OpContext {
            base_url: &world.base_url,
            access_token: Some(&token),
            user_id: None,
            versions: &world.conformance().versions,
            sliding_sync: None,
        };
        let args = serde_json::json!({"room_id": room, "event_id": event});
        // A request that cannot be built finds nothing: the message counts as lost.
        let request = get_event.and_then(|op| op.build(&args, &ctx).ok());
        let http = http.clone();
        let gate = Arc::clone(&gate);
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            if Instant::now() > deadline {
                return false;
            }
            let Some(request) = request else {
                return false;
            };
            let (_, received) = http.send(request, Duration::from_secs(10)).await;
            received.is_some_and(|r| (200..300).contains(&r.status))
        });
    }
    let (mut late, mut lost) = (0, 0);
    while let Some(r) = set.join_next().await {
        if matches!(r, Ok(true)) {
            late += 1;
        } else {
            lost += 1;
        }
    }
    (late, lost)
}

/// Everything the run measured, as the report's `load` section.
#[allow(clippy::too_many_arguments)]
pub fn assemble(
    plan: &LoadPlan,
    world: &World,
    attacked: &Attacked,
    setup: Duration,
    shard: Option<String>,
    personas: BTreeMap<String, usize>,
    late_lost: (u64, u64),
    notes: Vec<String>,
) -> LoadReport {
    let snap = world.recorder.snapshot(attacked.duration);
    let out = world.tracker.outstanding();
    let fed_sent = world.federation_sent.load(Ordering::Relaxed);
    let fed_seen = world.federation_delivered.load(Ordering::Relaxed);
    let federation = (world.base_url2.is_some() && fed_sent > 0).then(|| DeliveryFigures {
        latency: snap.federation.clone(),
        sent: fed_sent,
        delivered: fed_seen,
        late: 0,
        lost: fed_sent.saturating_sub(fed_seen),
    });
    let ms = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
    LoadReport {
        plan: plan.id.clone(),
        plan_file: plan.file.clone(),
        seed: plan.seed,
        shard,
        users: world.accounts.len(),
        rooms: world.rooms.len(),
        personas,
        profile_ms: [ms(plan.ramp_up), ms(plan.hold), ms(plan.ramp_down)],
        setup_ms: ms(setup),
        duration_ms: ms(attacked.duration),
        interrupted: attacked.interrupted,
        all: snap.all,
        requests: snap.requests,
        delivery: DeliveryFigures {
            latency: snap.delivery,
            sent: out.sent,
            delivered: out.delivered,
            late: late_lost.0,
            lost: late_lost.1,
        },
        sync_wakeup: snap.wakeup,
        federation,
        arrivals: world
            .arrivals
            .iter()
            .flatten()
            .flat_map(|a| a.figures(Instant::now()))
            .collect(),
        series: snap.series,
        notes,
        histograms: snap.histograms,
        capacity: None,
        scenario_actions: world.conformance().figures(&world.personas),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::world::Account;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A stub homeserver answering every request with `status` (unit tests only).
    async fn stub(status: &'static str) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let mut buf = vec![0u8; 4096];
                    let _ = sock.read(&mut buf).await;
                    let body = "{}";
                    let resp = format!(
                        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = sock.write_all(resp.as_bytes()).await;
                });
            }
        });
        format!("http://{addr}")
    }

    fn world(base: String) -> Arc<World> {
        let account = |i: usize| Account {
            user_id: format!("@u{i}:x"),
            access_token: "t".into(),
            persona: 0,
            rooms: vec!["!r:x".into()],
            ..Account::default()
        };
        let w = World::new(
            base,
            None,
            Vec::new(),
            vec![account(0), account(1)],
            vec!["!r:x".into()],
            BTreeMap::new(),
            None,
            1,
        );
        w.tracker.add_reader("!r:x", 1);
        let m = w.tracker.begin("!r:x", 0, "m").unwrap();
        w.tracker.finish(&m, Some("$e".into()));
        Arc::new(w)
    }

    #[tokio::test]
    async fn an_unseen_message_missing_from_history_is_lost() {
        let w = world(stub("404 Not Found").await);
        assert_eq!(check_history(&w).await, (0, 1));
    }

    #[tokio::test]
    async fn an_unseen_message_in_history_is_late() {
        let w = world(stub("200 OK").await);
        assert_eq!(check_history(&w).await, (1, 0));
    }
}

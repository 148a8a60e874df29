//! The unmeasured setup phase: register the population's users, create its rooms and join
//! their members, many at a time; and, with a second homeserver, pair each federation
//! sender with a user there who joins the sender's room over federation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::http::seg;
use super::model::PersonaKind;
use super::plan::LoadPlan;
use super::population::Population;
use super::world::{Account, Partner};
use crate::target::users::Provision;

/// Requests in flight during setup.
const SETUP_CONCURRENCY: usize = 32;

/// One setup request (or a few in a row).
type Job<T> = std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, String>> + Send>>;

/// What setup made.
pub struct Made {
    /// Accounts, by population position.
    pub accounts: Vec<Account>,
    /// Room ids, by room position.
    pub rooms: Vec<String>,
    /// hs2 partners by account position.
    pub partners: BTreeMap<usize, Partner>,
}

/// A setup client (no Goose: nothing here is measured).
fn client() -> Result<reqwest::Client, String> {
    crate::matrix::net::base_builder()
        .timeout(Duration::from_secs(60))
        .build()
        .map_err(|e| {
            format!(
                "cannot build the HTTP client: {}",
                crate::matrix::net::error_chain(&e)
            )
        })
}

async fn post(
    http: &reqwest::Client,
    url: &str,
    token: &str,
    body: &Value,
) -> Result<Value, String> {
    let resp = http
        .post(url)
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let status = resp.status();
    let text = crate::matrix::net::read_body(resp)
        .await
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    if !status.is_success() {
        let short: String = text.chars().take(200).collect();
        return Err(format!("POST {url}: HTTP {status}: {short}"));
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Run `jobs` with at most [`SETUP_CONCURRENCY`] at a time; results in input order.
async fn all<T: Send + 'static>(jobs: Vec<Job<T>>) -> Result<Vec<T>, String> {
    let gate = Arc::new(Semaphore::new(SETUP_CONCURRENCY));
    let mut set = JoinSet::new();
    for (i, job) in jobs.into_iter().enumerate() {
        let gate = Arc::clone(&gate);
        set.spawn(async move {
            let _permit = gate.acquire_owned().await;
            (i, job.await)
        });
    }
    let mut out: Vec<Option<T>> = Vec::new();
    let mut first_error = None;
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, Ok(v))) => {
                if out.len() <= i {
                    out.resize_with(i + 1, || None);
                }
                out[i] = Some(v);
            }
            Ok((_, Err(e))) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(format!("a setup task failed: {e}"));
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    Ok(out.into_iter().flatten().collect())
}

/// Make the population on the target.
pub async fn make(
    plan: &LoadPlan,
    population: &Population,
    base_url: &str,
    provisioner: Arc<dyn Provision>,
    second: Option<(&str, Arc<dyn Provision>)>,
    tag: &str,
) -> Result<Made, String> {
    let http = client()?;
    // Users.
    let jobs = population
        .users
        .iter()
        .map(|u| {
            let p = Arc::clone(&provisioner);
            let localpart = format!("mxl-{tag}-{}", u.index);
            let persona = u.persona;
            Box::pin(async move {
                let password = uuid::Uuid::new_v4().simple().to_string();
                let info = p.create_user(&localpart, &password, false).await?;
                Ok(Account {
                    user_id: info.user_id,
                    access_token: info.access_token,
                    persona,
                    rooms: Vec::new(),
                    created: Vec::new(),
                    localpart: info.localpart,
                    password: info.password,
                    device_id: info.device_id,
                })
            }) as Job<Account>
        })
        .collect();
    let mut accounts = all(jobs)
        .await
        .map_err(|e| format!("registering users: {e}"))?;
    // Rooms, created by their first member.
    let jobs = population
        .rooms
        .iter()
        .map(|r| {
            let http = http.clone();
            let creator = r
                .members
                .first()
                .and_then(|m| accounts.get(*m))
                .map(|a| a.access_token.clone());
            let url = format!("{base_url}/_matrix/client/v3/createRoom");
            let name = format!("load room {}", r.index);
            Box::pin(async move {
                let token = creator.ok_or_else(|| "a room has no member".to_owned())?;
                let body = json!({"preset": "public_chat", "name": name});
                let v = post(&http, &url, &token, &body).await?;
                v.get("room_id")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .ok_or_else(|| "createRoom answered without a room_id".to_owned())
            }) as Job<String>
        })
        .collect();
    let rooms = all(jobs)
        .await
        .map_err(|e| format!("creating rooms: {e}"))?;
    // Joins.
    let mut jobs = Vec::new();
    for (r, room_id) in population.rooms.iter().zip(&rooms) {
        for (k, m) in r.members.iter().enumerate() {
            let Some(a) = accounts.get_mut(*m) else {
                continue;
            };
            a.rooms.push(room_id.clone());
            if k == 0 {
                a.created.push(room_id.clone());
                continue;
            }
            let http = http.clone();
            let token = a.access_token.clone();
            let url = format!("{base_url}/_matrix/client/v3/join/{}", seg(room_id));
            jobs.push(Box::pin(
                async move { post(&http, &url, &token, &json!({})).await.map(|_| ()) },
            ) as Job<()>);
        }
    }
    all(jobs).await.map_err(|e| format!("joining rooms: {e}"))?;
    let partners = match second {
        Some((base2, prov2)) => pair(plan, &accounts, &http, base_url, base2, prov2, tag).await?,
        None => BTreeMap::new(),
    };
    Ok(Made {
        accounts,
        rooms,
        partners,
    })
}

/// For each federation sender: a room on hs1 and a user on hs2 who joins it.
async fn pair(
    plan: &LoadPlan,
    accounts: &[Account],
    http: &reqwest::Client,
    base1: &str,
    base2: &str,
    prov2: Arc<dyn Provision>,
    tag: &str,
) -> Result<BTreeMap<usize, Partner>, String> {
    let mut jobs = Vec::new();
    for (i, a) in accounts.iter().enumerate() {
        if plan.personas.get(a.persona).map(|p| p.kind) != Some(PersonaKind::Federation) {
            continue;
        }
        let http = http.clone();
        let prov2 = Arc::clone(&prov2);
        let token1 = a.access_token.clone();
        let server1 = a
            .user_id
            .split_once(':')
            .map(|(_, s)| s.to_owned())
            .unwrap_or_default();
        let create = format!("{base1}/_matrix/client/v3/createRoom");
        let base2 = base2.to_owned();
        let localpart = format!("mxl-{tag}-fed-{i}");
        jobs.push(Box::pin(async move {
            let v = post(
                &http,
                &create,
                &token1,
                &json!({"preset": "public_chat", "name": "federated load room"}),
            )
            .await?;
            let room_id = v
                .get("room_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| "createRoom answered without a room_id".to_owned())?;
            let password = uuid::Uuid::new_v4().simple().to_string();
            let partner = prov2.create_user(&localpart, &password, false).await?;
            let join = format!(
                "{base2}/_matrix/client/v3/join/{}?server_name={}",
                seg(&room_id),
                seg(&server1)
            );
            post(&http, &join, &partner.access_token, &json!({})).await?;
            Ok((
                i,
                Partner {
                    room_id,
                    access_token: partner.access_token,
                },
            ))
        }) as Job<(usize, Partner)>);
    }
    let pairs = all(jobs)
        .await
        .map_err(|e| format!("pairing federation senders with --target2: {e}"))?;
    Ok(pairs.into_iter().collect())
}

//! The unmeasured setup phase: register the population's users, create its rooms and join
//! their members, many at a time; and, with a second homeserver, pair each federation
//! sender with a user there who joins the sender's room over federation.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::model::PersonaKind;
use super::plan::LoadPlan;
use super::population::Population;
use super::world::{Account, Partner};
use crate::matrix::http_client::HttpClient;
use crate::matrix::ops::{self, OpContext};
use crate::target::users::Provision;
use ruma::api::SupportedVersions;

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

/// The setup client: the conformance run's (no Goose: nothing here is measured), with a
/// longer timeout per request.
struct Client {
    http: HttpClient,
    versions: SupportedVersions,
}

const SETUP_TIMEOUT: Duration = Duration::from_secs(60);

impl Client {
    /// A client for `base`, with the versions the target advertises (v1.1 if it does not say).
    async fn new(base: &str) -> Result<Self, String> {
        let http = HttpClient::new()?;
        let mut client = Self {
            http,
            versions: SupportedVersions::from_parts(&["v1.1".to_owned()], &BTreeMap::new()),
        };
        if let Ok(v) = client.call(base, "versions", json!({}), None).await {
            let list: Vec<String> = v
                .get("versions")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default();
            let unstable: BTreeMap<String, bool> = v
                .get("unstable_features")
                .and_then(|u| serde_json::from_value(u.clone()).ok())
                .unwrap_or_default();
            if !list.is_empty() {
                client.versions = SupportedVersions::from_parts(&list, &unstable);
            }
        }
        Ok(client)
    }

    /// Call the typed operation `op` (as a scenario's `call:` does) and return the JSON body
    /// of its 2xx answer.
    async fn call(
        &self,
        base: &str,
        op: &str,
        args: Value,
        token: Option<&str>,
    ) -> Result<Value, String> {
        let operation = ops::find(op).ok_or_else(|| format!("no typed operation `{op}`"))?;
        let ctx = OpContext {
            base_url: base,
            access_token: token,
            user_id: None,
            versions: &self.versions,
            sliding_sync: None,
        };
        let request = operation
            .build(&args, &ctx)
            .map_err(|e| format!("{op}: {e}"))?;
        let (exchange, received) = self.http.send(request, SETUP_TIMEOUT).await;
        let what = format!("{} {}", exchange.method, exchange.url);
        let received = received.ok_or_else(|| {
            format!(
                "{what}: {}",
                exchange.error.unwrap_or_else(|| "no response".into())
            )
        })?;
        if !(200..300).contains(&received.status) {
            let text = String::from_utf8_lossy(&received.body);
            let short: String = text.chars().take(200).collect();
            return Err(format!("{what}: HTTP {}: {short}", received.status));
        }
        Ok(received.json().unwrap_or(Value::Null))
    }
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
    let http = Arc::new(Client::new(base_url).await?);
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
            let base = base_url.to_owned();
            let name = format!("load room {}", r.index);
            Box::pin(async move {
                let token = creator.ok_or_else(|| "a room has no member".to_owned())?;
                let args = json!({"preset": "public_chat", "name": name});
                let v = http.call(&base, "create_room", args, Some(&token)).await?;
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
            let http = Arc::clone(&http);
            let token = a.access_token.clone();
            let base = base_url.to_owned();
            let args = json!({"room_id_or_alias": room_id});
            jobs.push(Box::pin(async move {
                http.call(&base, "join", args, Some(&token))
                    .await
                    .map(|_| ())
            }) as Job<()>);
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
    http: &Arc<Client>,
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
        let http = Arc::clone(http);
        let prov2 = Arc::clone(&prov2);
        let token1 = a.access_token.clone();
        let server1 = a
            .user_id
            .split_once(':')
            .map(|(_, s)| s.to_owned())
            .unwrap_or_default();
        let base1 = base1.to_owned();
        let base2 = base2.to_owned();
        let localpart = format!("mxl-{tag}-fed-{i}");
        jobs.push(Box::pin(async move {
            let args = json!({"preset": "public_chat", "name": "federated load room"});
            let v = http
                .call(&base1, "create_room", args, Some(&token1))
                .await?;
            let room_id = v
                .get("room_id")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| "createRoom answered without a room_id".to_owned())?;
            let password = uuid::Uuid::new_v4().simple().to_string();
            let partner = prov2.create_user(&localpart, &password, false).await?;
            let args = json!({"room_id_or_alias": room_id, "server_name": [server1]});
            http.call(&base2, "join", args, Some(&partner.access_token))
                .await?;
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

//! The federation building blocks against a real, federation-enabled Synapse: the fake
//! server's signed requests are accepted, forged ones are refused with 401, and Synapse
//! fetches the fake server's key and signs its own requests so the fake server verifies them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use mxharness::federation::{FakeServer, Handler, RunCa, SignedRequest};
use mxharness::target::{FederationSetup, SpawnedSynapse, SynapseOptions};

fn options() -> SynapseOptions {
    let cache_dir = common::cache_dir();
    SynapseOptions {
        log_path: cache_dir
            .join("logs")
            .join(format!("federation-core-{}.log", std::process::id())),
        cache_dir,
        ..SynapseOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_server_and_spawned_synapse_federate() {
    let ca = Arc::new(RunCa::new().expect("CA"));
    let synapse = SpawnedSynapse::start_federated(&options(), &FederationSetup::direct(ca.clone()))
        .await
        .expect("federated Synapse starts");
    let fed = synapse.federation().expect("federation endpoint").clone();
    assert_eq!(synapse.server_name(), fed.server_name);
    let fake = FakeServer::start(&ca, "fake").await.expect("fake server");
    let timeout = Duration::from_secs(20);
    let req = |path: &str| {
        let mut r = SignedRequest::new("GET", &fed.server_name, path);
        r.base_url = Some(fed.url.clone());
        r
    };

    // Keys of the target, unauthenticated.
    let mut keys = req("/_matrix/key/v2/server");
    keys.forge.unsigned = true;
    let (ex, resp) = fake.client().send(&keys, timeout).await;
    let doc = resp
        .and_then(|r| r.json())
        .unwrap_or_else(|| panic!("{ex:?}"));
    assert_eq!(doc["server_name"], fed.server_name.as_str());

    // A signed request: Synapse fetches our key from the fake server and accepts it.
    // Query for a profile of an unknown local user: 404 after authentication passed.
    let path = format!(
        "/_matrix/federation/v1/query/profile?user_id=%40nobody%3A{}",
        fed.server_name.replace(':', "%3A")
    );
    let (ex, resp) = fake.client().send(&req(&path), timeout).await;
    assert_eq!(resp.as_ref().map(|r| r.status), Some(404), "{ex:?}");
    assert!(
        fake.requests()
            .iter()
            .any(|r| r.path == "/_matrix/key/v2/server"),
        "Synapse fetched the fake server's key"
    );

    // Forged: unsigned and tampered requests get 401.
    let mut unsigned = req(&path);
    unsigned.forge.unsigned = true;
    let (ex, resp) = fake.client().send(&unsigned, timeout).await;
    assert_eq!(resp.map(|r| r.status), Some(401), "{ex:?}");
    let mut tampered = req(&path);
    tampered.forge.tamper_signature = true;
    let (ex, resp) = fake.client().send(&tampered, timeout).await;
    assert_eq!(resp.map(|r| r.status), Some(401), "{ex:?}");

    // Synapse's own signed request to the fake server verifies: ask it to query our
    // (fake) user's profile through the client API.
    fake.register(
        Handler::json(
            "profile",
            "GET",
            "/_matrix/federation/v1/query/profile",
            200,
            serde_json::json!({"displayname": "Fake"}),
        )
        .expect("handler"),
    );
    let http = reqwest::Client::new();
    let url = format!(
        "{}/_matrix/client/v3/profile/@someone:{}",
        synapse.base_url(),
        fake.server_name()
    );
    // Profile lookups over federation need an authenticated client in recent Synapse;
    // register a user with the shared secret through the project's provisioner.
    let provisioner = mxharness::target::Provisioner::new(
        synapse.base_url().to_owned(),
        mxharness::target::RegistrationMethod::SharedSecret {
            secret: synapse.shared_secret().to_owned(),
        },
    )
    .expect("provisioner");
    let user = provisioner
        .create_user("fedcore", "fedcore-password-1", false)
        .await
        .expect("user");
    let resp = http
        .get(&url)
        .bearer_auth(&user.access_token)
        .send()
        .await
        .expect("profile lookup answers");
    let status = resp.status().as_u16();
    let body = resp.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{body}");
    let inbound = fake
        .wait_for(0, timeout, |r| {
            r.path == "/_matrix/federation/v1/query/profile"
        })
        .await
        .expect("Synapse asked the fake server");
    assert!(inbound.auth.is_ok(), "{:?}", inbound.auth);
    assert!(fake.unexpected().is_empty(), "{:?}", fake.unexpected());
    synapse.stop().await.expect("stop");
}

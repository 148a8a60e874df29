//! End to end against a real Synapse: install (cached under target/mxh-cache), start, probe,
//! provision users with shared-secret and open registration, stop; and `up`/`down`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mxharness::target::synapse::default_state_path;
use mxharness::target::{
    Provisioner, RegistrationMethod, SYNAPSE_VERSION, SpawnedSynapse, SynapseOptions, down,
    ensure_venv, probe, up,
};

fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("target")
        .join("mxh-cache")
}

fn options(name: &str) -> SynapseOptions {
    let cache_dir = cache_dir();
    SynapseOptions {
        log_path: cache_dir
            .join("logs")
            .join(format!("{name}-{}.log", std::process::id())),
        cache_dir,
        ..SynapseOptions::default()
    }
}

fn port_is_closed(port: u16) -> bool {
    std::net::TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(1),
    )
    .is_err()
}

#[tokio::test]
async fn spawned_synapse_end_to_end() {
    let opts = options("e2e");
    let t = Instant::now();
    let python = ensure_venv(&opts).await.unwrap_or_else(|e| panic!("{e}"));
    eprintln!("ensure_venv: {:?} ({})", t.elapsed(), python.display());
    assert!(python.is_file());

    let t = Instant::now();
    let server = SpawnedSynapse::start(&opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "start: {:?} (ready after {:?})",
        t.elapsed(),
        server.startup_time()
    );
    assert!(server.base_url().starts_with("http://127.0.0.1:"));
    assert_eq!(server.version(), SYNAPSE_VERSION);
    assert!(server.pid() > 0);
    let port = server.port();
    let data_dir = server.data_dir().map(|p| p.to_owned()).unwrap();
    assert!(data_dir.join("homeserver.db").is_file());

    let probed = probe(server.base_url(), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("probe: {probed:?}");
    assert!(
        probed.versions.iter().any(|v| v == "v1.11"),
        "{:?}",
        probed.versions
    );
    assert_eq!(probed.server_name.as_deref(), Some(server.server_name()));
    assert_eq!(
        probed.server_version,
        Some(format!("Synapse {SYNAPSE_VERSION}"))
    );
    let overridden = probe(server.base_url(), Some("example.org".into()))
        .await
        .unwrap();
    assert_eq!(overridden.server_name.as_deref(), Some("example.org"));

    let secret = RegistrationMethod::SharedSecret {
        secret: server.shared_secret().to_owned(),
    };
    let admin_provisioner = Provisioner::new(server.base_url(), secret).unwrap();
    let admin = admin_provisioner
        .create_user("admin1", "pw-admin-1", true)
        .await
        .unwrap();
    let alice = admin_provisioner
        .create_user("alice", "pw-alice", false)
        .await
        .unwrap();
    assert_eq!(admin.user_id, "@admin1:localhost");
    assert_eq!(alice.user_id, "@alice:localhost");
    assert!(!alice.access_token.is_empty() && !alice.device_id.is_empty());
    assert_ne!(admin.access_token, alice.access_token);

    let open = Provisioner::new(server.base_url(), RegistrationMethod::Open).unwrap();
    let bob = open
        .create_user("bob", "pw-bob", false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(bob.user_id, "@bob:localhost");
    assert!(!bob.access_token.is_empty() && !bob.device_id.is_empty());

    // The tokens work: whoami answers with the right user.
    let whoami: serde_json::Value = reqwest::Client::new()
        .get(format!(
            "{}/_matrix/client/v3/account/whoami",
            server.base_url()
        ))
        .bearer_auth(&bob.access_token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(whoami["user_id"], "@bob:localhost");

    // Errors say what to do.
    let taken = open
        .create_user("bob", "pw-bob", false)
        .await
        .unwrap_err()
        .to_string();
    assert!(taken.contains("M_USER_IN_USE"), "{taken}");
    let wrong = Provisioner::new(
        server.base_url(),
        RegistrationMethod::SharedSecret {
            secret: "wrong".into(),
        },
    )
    .unwrap();
    let err = wrong
        .create_user("carol", "pw", false)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("MXH_REGISTRATION_SHARED_SECRET"), "{err}");
    let token = Provisioner::new(
        server.base_url(),
        RegistrationMethod::Token {
            token: "nope".into(),
        },
    )
    .unwrap();
    // Registration without a token requirement: the token flow completes via m.login.dummy.
    let dave = token
        .create_user("dave", "pw", false)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(dave.user_id, "@dave:localhost");

    let t = Instant::now();
    server.stop().await.unwrap();
    eprintln!("stop: {:?}", t.elapsed());
    assert!(port_is_closed(port), "port {port} still open after stop");
    assert!(!data_dir.exists(), "{} still exists", data_dir.display());
}

#[tokio::test]
async fn dropped_synapse_is_killed() {
    let opts = options("drop");
    let server = SpawnedSynapse::start(&opts)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let port = server.port();
    let data_dir = server.data_dir().map(|p| p.to_owned()).unwrap();
    drop(server);
    // SIGKILL is asynchronous: give the kernel a moment to tear the process down.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !port_is_closed(port) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(port_is_closed(port), "port {port} still open after drop");
    assert!(!data_dir.exists());
}

#[tokio::test]
async fn up_and_down() {
    let opts = options("up");
    let state_dir = tempfile::tempdir().unwrap();
    let state_path = state_dir.path().join("state.json");
    let state = up(&opts, &state_path)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(state.data_dir.starts_with(opts.cache_dir.join("up")));
    assert!(state.base_url.starts_with("http://127.0.0.1:"));
    let state_text = std::fs::read_to_string(&state_path).unwrap();
    let secret = state.shared_secret().unwrap();
    assert!(
        !state_text.contains(&secret),
        "secret leaked into the state file"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&state.shared_secret_path)
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let again = up(&opts, &state_path).await.unwrap_err().to_string();
    assert!(again.contains("already up"), "{again}");

    let p = probe(&state.base_url, None).await.unwrap();
    assert_eq!(p.server_name.as_deref(), Some("localhost"));
    let users =
        Provisioner::new(&state.base_url, RegistrationMethod::SharedSecret { secret }).unwrap();
    users.create_user("upuser", "pw", false).await.unwrap();

    down(&state_path).await.unwrap_or_else(|e| panic!("{e}"));
    let port: u16 = state.base_url.rsplit(':').next().unwrap().parse().unwrap();
    assert!(port_is_closed(port));
    assert!(!state.data_dir.exists());
    assert!(!state_path.exists() && !state.shared_secret_path.exists());
    let _ = default_state_path(&opts.cache_dir);
}

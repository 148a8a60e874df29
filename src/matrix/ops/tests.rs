//! Tests of the typed operations: request building, response checking, the registry.

use std::collections::BTreeSet;

use ruma::api::SupportedVersions;
use serde_json::{Value, json};

use super::{BuildError, OpContext, Operation, SchemaMismatch, find, names};

const BASE: &str = "http://127.0.0.1:8008";

/// Every op name the registry must hold.
const EXPECTED: &[&str] = &[
    "versions",
    "capabilities",
    "register",
    "login",
    "logout",
    "logout_all",
    "whoami",
    "create_room",
    "invite",
    "kick",
    "ban",
    "unban",
    "join",
    "join_room_by_id",
    "leave",
    "forget",
    "joined_rooms",
    "joined_members",
    "members",
    "send",
    "send_state",
    "get_state",
    "get_state_event",
    "get_event",
    "redact",
    "messages",
    "context",
    "sync",
    "get_profile",
    "get_displayname",
    "set_displayname",
    "get_avatar_url",
    "set_avatar_url",
    "get_account_data",
    "set_account_data",
    "get_room_account_data",
    "set_room_account_data",
    "create_filter",
    "get_filter",
    "typing",
    "receipt",
    "change_password",
    "deactivate",
    "register_available",
    "login_types",
    "refresh",
    "get_3pids",
    "whois",
    "get_devices",
    "get_device",
    "update_device",
    "delete_device",
    "delete_devices",
    "upload_keys",
    "query_keys",
    "claim_keys",
    "key_changes",
    "upload_signing_keys",
    "upload_signatures",
    "send_to_device",
    "get_push_rules",
    "get_push_rule",
    "set_push_rule",
    "delete_push_rule",
    "get_push_rule_enabled",
    "set_push_rule_enabled",
    "get_push_rule_actions",
    "set_push_rule_actions",
    "get_pushers",
    "set_pusher",
    "get_notifications",
    "upload_media",
    "create_media",
    "get_media_config",
    "download_media",
    "get_thumbnail",
    "create_alias",
    "get_alias",
    "delete_alias",
    "get_room_aliases",
    "get_public_rooms",
    "get_public_rooms_filtered",
    "get_room_visibility",
    "set_room_visibility",
    "search_users",
    "report_event",
    "report_room",
    "report_user",
    "space_hierarchy",
    "upgrade_room",
    "search",
    "get_presence",
    "set_presence",
    "knock",
    "set_read_marker",
    "get_tags",
    "set_tag",
    "delete_tag",
    "get_relations",
    "get_threads",
    "timestamp_to_event",
    "request_openid_token",
    "turn_server",
    "get_room_summary",
];

fn versions() -> SupportedVersions {
    SupportedVersions::from_parts(&["v1.11".into()], &Default::default())
}

fn op(name: &str) -> &'static dyn Operation {
    find(name).unwrap_or_else(|| panic!("operation `{name}` is not registered"))
}

fn try_build(name: &str, args: Value) -> Result<http::Request<Vec<u8>>, BuildError> {
    let versions = versions();
    let ctx = OpContext {
        base_url: BASE,
        access_token: Some("tok"),
        user_id: Some("@alice:example.org"),
        versions: &versions,
        sliding_sync: None,
    };
    op(name).build(&args, &ctx)
}

fn build(name: &str, args: Value) -> http::Request<Vec<u8>> {
    try_build(name, args).unwrap_or_else(|e| panic!("building `{name}` failed: {e}"))
}

/// The request path, percent-decoded.
fn path(req: &http::Request<Vec<u8>>) -> String {
    percent_decode(req.uri().path())
}

fn auth(req: &http::Request<Vec<u8>>) -> Option<&str> {
    req.headers()
        .get(http::header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap())
}

fn body(req: &http::Request<Vec<u8>>) -> Value {
    serde_json::from_slice(req.body()).unwrap()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

/// The query parameters, decoded, in order.
fn query(req: &http::Request<Vec<u8>>) -> Vec<(String, String)> {
    req.uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn query_value(req: &http::Request<Vec<u8>>, key: &str) -> Option<String> {
    query(req)
        .into_iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v)
}

fn check(name: &str, status: u16, body: &Value) -> Result<(), SchemaMismatch> {
    let bytes = serde_json::to_vec(body).unwrap();
    let response = http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(bytes.as_slice())
        .unwrap();
    op(name).check_response(response)
}

// ---- registry ----

#[test]
fn registry_has_every_op_and_names_are_unique() {
    let registered: Vec<&str> = names().collect();
    for name in EXPECTED {
        assert!(registered.contains(name), "missing operation `{name}`");
    }
    let all = super::all_ops();
    let unique: BTreeSet<&str> = all.iter().map(|o| o.name()).collect();
    assert_eq!(unique.len(), all.len(), "duplicate operation names");
    assert_eq!(registered.len(), all.len());
}

#[test]
fn every_op_has_a_summary_endpoint_and_object_schema() {
    for op in super::all() {
        let summary = op.summary();
        assert!(
            !summary.is_empty() && !summary.ends_with('.'),
            "{}",
            op.name()
        );
        let (method, path) = op.endpoint();
        assert!(
            ["GET", "POST", "PUT", "DELETE"].contains(&method),
            "{}",
            op.name()
        );
        assert!(
            path.starts_with("/_matrix/client/") || path.starts_with("/_matrix/media/"),
            "{}",
            op.name()
        );
        let schema = serde_json::to_value(op.args_schema()).unwrap();
        assert_eq!(schema["type"], "object", "{}: {schema}", op.name());
    }
}

#[test]
fn field_docs_become_schema_descriptions() {
    let schema = serde_json::to_value(op("send").args_schema()).unwrap();
    let description = schema["properties"]["txn_id"]["description"]
        .as_str()
        .unwrap();
    assert!(description.contains("transaction"), "{description}");
}

#[test]
fn schemas_describe_enumerated_and_alternative_arguments() {
    let schema = serde_json::to_value(op("messages").args_schema()).unwrap();
    assert_eq!(
        schema["properties"]["dir"]["enum"],
        json!(["b", "f"]),
        "{schema}"
    );
    let schema = serde_json::to_value(op("sync").args_schema()).unwrap();
    let text = schema.to_string();
    assert!(text.contains("anyOf"), "{text}");
}

// ---- argument errors ----

#[test]
fn unknown_argument_is_a_build_error() {
    let err = try_build("whoami", json!({"bogus": 1})).unwrap_err();
    assert!(err.message.contains("bogus"), "{}", err.message);
    let err = try_build("create_room", json!({"preset": "public_chat", "nmae": "x"})).unwrap_err();
    assert!(err.message.contains("nmae"), "{}", err.message);
}

#[test]
fn bad_ids_name_the_argument() {
    let err = try_build(
        "invite",
        json!({"room_id": "not-a-room", "user_id": "@bob:example.org"}),
    )
    .unwrap_err();
    assert!(err.message.contains("`room_id`"), "{}", err.message);
    let err = try_build(
        "kick",
        json!({"room_id": "!r:example.org", "user_id": "bob"}),
    )
    .unwrap_err();
    assert!(err.message.contains("`user_id`"), "{}", err.message);
    let err = try_build(
        "get_event",
        json!({"room_id": "!r:example.org", "event_id": "nope"}),
    )
    .unwrap_err();
    assert!(err.message.contains("`event_id`"), "{}", err.message);
}

#[test]
fn missing_required_argument_is_a_build_error() {
    let err = try_build("send", json!({"room_id": "!r:example.org", "content": {}})).unwrap_err();
    assert!(err.message.contains("txn_id"), "{}", err.message);
}

#[test]
fn user_id_defaults_to_the_acting_user_and_is_required_without_one() {
    let req = build("get_displayname", json!({}));
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/profile/@alice:example.org/displayname"
    );
    let versions = versions();
    let ctx = OpContext {
        base_url: BASE,
        access_token: None,
        user_id: None,
        versions: &versions,
        sliding_sync: None,
    };
    let err = op("get_profile").build(&json!({}), &ctx).unwrap_err();
    assert!(err.message.contains("user_id"), "{}", err.message);
}

// ---- session and account ----

#[test]
fn register_with_auth() {
    let req = build(
        "register",
        json!({
            "username": "alice",
            "password": "secret",
            "kind": "user",
            "inhibit_login": true,
            "auth": {"type": "m.login.dummy", "session": "sess1"},
        }),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(path(&req), "/_matrix/client/v3/register");
    // A user access token is never sent to /register.
    assert_eq!(auth(&req), None);
    assert_eq!(
        body(&req),
        json!({
            "username": "alice",
            "password": "secret",
            "inhibit_login": true,
            "auth": {"type": "m.login.dummy", "session": "sess1"},
        })
    );
}

#[test]
fn register_sends_an_unknown_auth_type_verbatim() {
    let auth = json!({"type": "org.example.auth", "session": "s2", "extra": {"k": [1]}});
    let req = build("register", json!({"auth": auth}));
    assert_eq!(body(&req)["auth"], auth);
    let err = try_build("register", json!({"auth": {"type": "m.login.password"}})).unwrap_err();
    assert!(err.message.contains("`auth`"), "{}", err.message);
}

#[test]
fn register_guest_kind_is_a_query_parameter() {
    let req = build("register", json!({"kind": "guest"}));
    assert_eq!(query_value(&req, "kind").as_deref(), Some("guest"));
    assert_eq!(body(&req), json!({}));
}

#[test]
fn register_responses() {
    let ok = json!({"user_id": "@alice:example.org", "access_token": "t", "device_id": "D"});
    assert_eq!(check("register", 200, &ok), Ok(()));
    let uia = json!({"flows": [{"stages": ["m.login.dummy"]}], "params": {}, "session": "s"});
    assert_eq!(check("register", 401, &uia), Ok(()));
    assert!(check("register", 200, &json!({"access_token": "t"})).is_err());
    assert_eq!(
        check(
            "register",
            400,
            &json!({"errcode": "M_USER_IN_USE", "error": "x"})
        ),
        Ok(())
    );
    assert!(check("register", 400, &json!({"error": "no errcode"})).is_err());
}

#[test]
fn login_with_user_and_password() {
    let req = build(
        "login",
        json!({"user": "alice", "password": "secret", "device_id": "DEV1",
               "initial_device_display_name": "phone"}),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(path(&req), "/_matrix/client/v3/login");
    assert_eq!(auth(&req), None);
    assert_eq!(
        body(&req),
        json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": "alice"},
            "password": "secret",
            "device_id": "DEV1",
            "initial_device_display_name": "phone",
        })
    );
}

#[test]
fn login_with_token_and_identifier() {
    let req = build("login", json!({"type": "m.login.token", "token": "abc"}));
    assert_eq!(body(&req), json!({"type": "m.login.token", "token": "abc"}));
    let req = build(
        "login",
        json!({"identifier": {"type": "m.id.user", "user": "@alice:example.org"},
               "password": "pw", "refresh_token": true}),
    );
    assert_eq!(
        body(&req),
        json!({"type": "m.login.password",
               "identifier": {"type": "m.id.user", "user": "@alice:example.org"},
               "password": "pw", "refresh_token": true})
    );
    assert!(
        try_build(
            "login",
            json!({"user": "a", "identifier": {}, "password": "p"})
        )
        .is_err()
    );
}

#[test]
fn login_responses() {
    let ok = json!({"user_id": "@alice:example.org", "access_token": "t", "device_id": "D"});
    assert_eq!(check("login", 200, &ok), Ok(()));
    assert!(check("login", 200, &json!({"user_id": "@alice:example.org"})).is_err());
}

#[test]
fn logout_whoami_and_capabilities() {
    let req = build("logout", json!({}));
    assert_eq!(
        (req.method().as_str(), path(&req).as_str()),
        ("POST", "/_matrix/client/v3/logout")
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    let req = build("logout_all", json!({}));
    assert_eq!(path(&req), "/_matrix/client/v3/logout/all");
    let req = build("whoami", json!({}));
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(path(&req), "/_matrix/client/v3/account/whoami");
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(
        check("whoami", 200, &json!({"user_id": "@alice:example.org"})),
        Ok(())
    );
    let req = build("capabilities", json!({}));
    assert_eq!(path(&req), "/_matrix/client/v3/capabilities");
    assert_eq!(
        check("capabilities", 200, &json!({"capabilities": {}})),
        Ok(())
    );
}

// ---- rooms and membership ----

#[test]
fn create_room_with_preset_and_initial_state() {
    let req = build(
        "create_room",
        json!({
            "preset": "public_chat",
            "visibility": "public",
            "name": "Test room",
            "room_version": "10",
            "invite": ["@bob:example.org"],
            "is_direct": true,
            "initial_state": [
                {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "can_join"}},
                {"type": "org.example.custom", "state_key": "k", "content": {"x": 1}}
            ],
            "power_level_content_override": {"users_default": 10},
            "creation_content": {"m.federate": false},
        }),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(path(&req), "/_matrix/client/v3/createRoom");
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(
        body(&req),
        json!({
            "creation_content": {"m.federate": false},
            "initial_state": [
                {"type": "m.room.guest_access", "state_key": "", "content": {"guest_access": "can_join"}},
                {"type": "org.example.custom", "state_key": "k", "content": {"x": 1}}
            ],
            "invite": ["@bob:example.org"],
            "is_direct": true,
            "name": "Test room",
            "power_level_content_override": {"users_default": 10},
            "preset": "public_chat",
            "room_version": "10",
            "visibility": "public",
        })
    );
}

#[test]
fn create_room_rejects_a_bad_invitee() {
    let err = try_build("create_room", json!({"invite": ["@ok:example.org", "bad"]})).unwrap_err();
    assert!(err.message.contains("invite[1]"), "{}", err.message);
}

#[test]
fn create_room_responses() {
    assert_eq!(
        check("create_room", 200, &json!({"room_id": "!r:example.org"})),
        Ok(())
    );
    let err = check("create_room", 200, &json!({"room_alias": "#a:example.org"})).unwrap_err();
    assert!(err.detail.contains("room_id"), "{}", err.detail);
}

#[test]
fn membership_requests() {
    let req = build(
        "invite",
        json!({"room_id": "!r:example.org", "user_id": "@bob:example.org", "reason": "hi"}),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert!(path(&req).ends_with("/invite"), "{}", path(&req));
    assert_eq!(
        body(&req),
        json!({"user_id": "@bob:example.org", "reason": "hi"})
    );

    for (name, tail) in [("kick", "/kick"), ("ban", "/ban"), ("unban", "/unban")] {
        let req = build(
            name,
            json!({"room_id": "!r:example.org", "user_id": "@bob:example.org"}),
        );
        assert!(path(&req).ends_with(tail), "{name}: {}", path(&req));
        assert_eq!(body(&req), json!({"user_id": "@bob:example.org"}), "{name}");
    }

    let req = build(
        "join",
        json!({"room_id_or_alias": "#room:example.org", "server_name": ["example.org"]}),
    );
    assert!(
        path(&req).starts_with("/_matrix/client/v3/join/"),
        "{}",
        path(&req)
    );
    assert_eq!(path(&req), "/_matrix/client/v3/join/#room:example.org");
    assert_eq!(
        query_value(&req, "server_name").as_deref(),
        Some("example.org")
    );
    assert_eq!(
        check("join", 200, &json!({"room_id": "!r:example.org"})),
        Ok(())
    );

    let req = build(
        "leave",
        json!({"room_id": "!r:example.org", "reason": "bye"}),
    );
    assert_eq!(body(&req), json!({"reason": "bye"}));
    let req = build("forget", json!({"room_id": "!r:example.org"}));
    assert!(path(&req).ends_with("/forget"));

    let req = build(
        "members",
        json!({"room_id": "!r:example.org", "membership": "join"}),
    );
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(query_value(&req, "membership").as_deref(), Some("join"));
    assert_eq!(check("members", 200, &json!({"chunk": []})), Ok(()));
    assert!(check("joined_rooms", 200, &json!({"joined_rooms": "x"})).is_err());
}

// ---- events and state ----

#[test]
fn send_custom_event_type() {
    let req = build(
        "send",
        json!({"room_id": "!r:example.org", "event_type": "org.example.ping",
               "txn_id": "t1", "content": {"seq": 1, "nested": {"a": [1, 2]}}}),
    );
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/send/org.example.ping/t1"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(body(&req), json!({"seq": 1, "nested": {"a": [1, 2]}}));
    assert_eq!(
        check("send", 200, &json!({"event_id": "$e:example.org"})),
        Ok(())
    );
    assert!(check("send", 200, &json!({})).is_err());
}

#[test]
fn send_defaults_to_room_message() {
    let req = build(
        "send",
        json!({"room_id": "!r:example.org", "txn_id": "t2",
               "content": {"msgtype": "m.text", "body": "hello"}}),
    );
    assert!(
        path(&req).ends_with("/send/m.room.message/t2"),
        "{}",
        path(&req)
    );
    assert_eq!(body(&req), json!({"msgtype": "m.text", "body": "hello"}));
    assert!(
        try_build(
            "send",
            json!({"room_id": "!r:example.org", "txn_id": "t", "content": 5})
        )
        .is_err()
    );
}

#[test]
fn send_state_with_and_without_state_key() {
    let req = build(
        "send_state",
        json!({"room_id": "!r:example.org", "event_type": "m.room.topic",
               "content": {"topic": "hi"}}),
    );
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/state/m.room.topic/"
    );
    assert_eq!(body(&req), json!({"topic": "hi"}));
    let req = build(
        "send_state",
        json!({"room_id": "!r:example.org", "event_type": "org.example.state",
               "state_key": "@alice:example.org", "content": {"v": true}}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/state/org.example.state/@alice:example.org"
    );
    assert_eq!(body(&req), json!({"v": true}));
    assert_eq!(check("send_state", 200, &json!({"event_id": "$e"})), Ok(()));
}

#[test]
fn get_state_requests() {
    let req = build("get_state", json!({"room_id": "!r:example.org"}));
    assert_eq!(path(&req), "/_matrix/client/v3/rooms/!r:example.org/state");
    let req = build(
        "get_state_event",
        json!({"room_id": "!r:example.org", "event_type": "m.room.name", "format": "event"}),
    );
    assert_eq!(req.method(), http::Method::GET);
    assert!(
        path(&req).ends_with("/state/m.room.name/"),
        "{}",
        path(&req)
    );
    assert_eq!(query_value(&req, "format").as_deref(), Some("event"));
    assert_eq!(
        check("get_state_event", 200, &json!({"name": "Room"})),
        Ok(())
    );
    assert!(check("get_state", 200, &json!({"not": "a list"})).is_err());
}

#[test]
fn redact_with_reason() {
    let req = build(
        "redact",
        json!({"room_id": "!r:example.org", "event_id": "$ev:example.org",
               "txn_id": "r1", "reason": "spam"}),
    );
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/redact/$ev:example.org/r1"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(body(&req), json!({"reason": "spam"}));
    assert_eq!(check("redact", 200, &json!({"event_id": "$red"})), Ok(()));
}

#[test]
fn messages_with_dir_limit_and_filter() {
    let req = build(
        "messages",
        json!({"room_id": "!r:example.org", "dir": "f", "limit": 5, "from": "s1",
               "filter": {"types": ["m.room.message"]}}),
    );
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/messages"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(query_value(&req, "dir").as_deref(), Some("f"));
    assert_eq!(query_value(&req, "limit").as_deref(), Some("5"));
    assert_eq!(query_value(&req, "from").as_deref(), Some("s1"));
    let filter: Value = serde_json::from_str(&query_value(&req, "filter").unwrap()).unwrap();
    assert_eq!(filter, json!({"types": ["m.room.message"]}));
    assert!(req.body().is_empty() || body(&req) == json!({}));

    let req = build("messages", json!({"room_id": "!r:example.org"}));
    assert_eq!(query_value(&req, "dir").as_deref(), Some("b"));
    assert!(try_build("messages", json!({"room_id": "!r:example.org", "dir": "x"})).is_err());

    let ok = json!({"chunk": [], "start": "t0", "end": "t1"});
    assert_eq!(check("messages", 200, &ok), Ok(()));
    assert!(check("messages", 200, &json!({"chunk": 3, "start": "t0"})).is_err());
}

#[test]
fn context_with_limit() {
    let req = build(
        "context",
        json!({"room_id": "!r:example.org", "event_id": "$e:example.org", "limit": 3}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/context/$e:example.org"
    );
    assert_eq!(query_value(&req, "limit").as_deref(), Some("3"));
}

// ---- sync ----

#[test]
fn sync_with_inline_filter_and_since() {
    let req = build(
        "sync",
        json!({"since": "s72", "timeout": 1500, "full_state": true, "set_presence": "offline",
               "filter": {"room": {"timeline": {"limit": 10}}}}),
    );
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(path(&req), "/_matrix/client/v3/sync");
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(query_value(&req, "since").as_deref(), Some("s72"));
    assert_eq!(query_value(&req, "timeout").as_deref(), Some("1500"));
    assert_eq!(query_value(&req, "full_state").as_deref(), Some("true"));
    assert_eq!(
        query_value(&req, "set_presence").as_deref(),
        Some("offline")
    );
    let filter: Value = serde_json::from_str(&query_value(&req, "filter").unwrap()).unwrap();
    assert_eq!(filter, json!({"room": {"timeline": {"limit": 10}}}));
}

#[test]
fn sync_with_filter_id() {
    let req = build("sync", json!({"filter": "42"}));
    assert_eq!(query(&req), vec![("filter".to_owned(), "42".to_owned())]);
    let err = try_build("sync", json!({"filter": 42})).unwrap_err();
    assert!(err.message.contains("filter"), "{}", err.message);
}

#[test]
fn sync_responses() {
    assert_eq!(check("sync", 200, &json!({"next_batch": "s1"})), Ok(()));
    let full = json!({
        "next_batch": "s2",
        "rooms": {"join": {"!r:example.org": {"timeline": {"events": [], "limited": false}}}},
        "account_data": {"events": []},
    });
    assert_eq!(check("sync", 200, &full), Ok(()));
    let err = check("sync", 200, &json!({"next_batch": "s1", "rooms": "oops"})).unwrap_err();
    assert!(!err.detail.is_empty());
    assert!(check("sync", 200, &json!({"rooms": {}})).is_err());
}

// ---- profile, account data, filters ----

#[test]
fn set_displayname_for_the_acting_user() {
    let req = build("set_displayname", json!({"displayname": "Alice"}));
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/profile/@alice:example.org/displayname"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(body(&req), json!({"displayname": "Alice"}));
    assert_eq!(check("set_displayname", 200, &json!({})), Ok(()));
    assert_eq!(
        check("get_displayname", 200, &json!({"displayname": "Alice"})),
        Ok(())
    );
}

#[test]
fn avatar_url_and_profile() {
    let req = build(
        "set_avatar_url",
        json!({"user_id": "@bob:example.org", "avatar_url": "mxc://example.org/abc"}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/profile/@bob:example.org/avatar_url"
    );
    assert_eq!(body(&req), json!({"avatar_url": "mxc://example.org/abc"}));
    let req = build("get_profile", json!({"user_id": "@bob:example.org"}));
    assert_eq!(req.method(), http::Method::GET);
    // Optional authentication: a step run as an actor sends the actor's token (a server may
    // require it, or answer authenticated users differently).
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(path(&req), "/_matrix/client/v3/profile/@bob:example.org");
    assert_eq!(
        check("get_profile", 200, &json!({"displayname": "Bob"})),
        Ok(())
    );
}

#[test]
fn set_account_data_global_and_room() {
    let req = build(
        "set_account_data",
        json!({"event_type": "org.example.settings", "content": {"theme": "dark"}}),
    );
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/user/@alice:example.org/account_data/org.example.settings"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(body(&req), json!({"theme": "dark"}));
    assert_eq!(check("set_account_data", 200, &json!({})), Ok(()));

    let req = build(
        "set_room_account_data",
        json!({"room_id": "!r:example.org", "event_type": "m.tag", "content": {"tags": {}}}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/user/@alice:example.org/rooms/!r:example.org/account_data/m.tag"
    );
    assert_eq!(body(&req), json!({"tags": {}}));

    let req = build(
        "get_account_data",
        json!({"event_type": "org.example.settings"}),
    );
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(
        check("get_account_data", 200, &json!({"theme": "dark"})),
        Ok(())
    );
}

#[test]
fn filters() {
    let req = build(
        "create_filter",
        json!({"filter": {"room": {"timeline": {"limit": 10}}, "event_fields": ["type"]}}),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/user/@alice:example.org/filter"
    );
    assert_eq!(
        body(&req),
        json!({"room": {"timeline": {"limit": 10}}, "event_fields": ["type"]})
    );
    assert_eq!(
        check("create_filter", 200, &json!({"filter_id": "f1"})),
        Ok(())
    );
    assert!(check("create_filter", 200, &json!({})).is_err());

    let req = build("get_filter", json!({"filter_id": "f1"}));
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/user/@alice:example.org/filter/f1"
    );
    assert_eq!(check("get_filter", 200, &json!({})), Ok(()));
}

// ---- typing and receipts ----

#[test]
fn typing_and_receipt() {
    let req = build(
        "typing",
        json!({"room_id": "!r:example.org", "typing": true, "timeout": 5000}),
    );
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/typing/@alice:example.org"
    );
    assert_eq!(body(&req), json!({"typing": true, "timeout": 5000}));
    let req = build(
        "typing",
        json!({"room_id": "!r:example.org", "typing": false}),
    );
    assert_eq!(body(&req), json!({"typing": false}));

    let req = build(
        "receipt",
        json!({"room_id": "!r:example.org", "event_id": "$e:example.org", "thread_id": "main"}),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/receipt/m.read/$e:example.org"
    );
    assert_eq!(body(&req), json!({"thread_id": "main"}));
}

// ---- account and devices ----

#[test]
fn change_password_with_auth() {
    let req = build(
        "change_password",
        json!({"new_password": "n3w", "logout_devices": false,
               "auth": {"type": "m.login.password", "session": "s1",
                        "identifier": {"type": "m.id.user", "user": "alice"},
                        "password": "old"}}),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(path(&req), "/_matrix/client/v3/account/password");
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(
        body(&req),
        json!({"new_password": "n3w", "logout_devices": false,
               "auth": {"type": "m.login.password", "session": "s1",
                        "identifier": {"type": "m.id.user", "user": "alice"},
                        "password": "old"}})
    );
    let req = build("change_password", json!({"new_password": "x"}));
    assert_eq!(body(&req), json!({"new_password": "x"}));
    assert_eq!(check("change_password", 200, &json!({})), Ok(()));
    let uia = json!({"flows": [{"stages": ["m.login.password"]}], "params": {}, "session": "s"});
    assert_eq!(check("change_password", 401, &uia), Ok(()));
    assert!(check("change_password", 401, &json!({"flows": 1})).is_err());
}

#[test]
fn deactivate_and_account_queries() {
    let req = build(
        "deactivate",
        json!({"erase": true, "auth": {"type": "m.login.dummy", "session": "s"}}),
    );
    assert_eq!(path(&req), "/_matrix/client/v3/account/deactivate");
    assert_eq!(
        body(&req),
        json!({"erase": true, "auth": {"type": "m.login.dummy", "session": "s"}})
    );
    assert_eq!(
        check(
            "deactivate",
            200,
            &json!({"id_server_unbind_result": "success"})
        ),
        Ok(())
    );
    assert!(check("deactivate", 200, &json!({})).is_err());

    let req = build("register_available", json!({"username": "bob"}));
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(path(&req), "/_matrix/client/v3/register/available");
    assert_eq!(query_value(&req, "username").as_deref(), Some("bob"));
    // A step run as an actor sends its token even where none is needed.
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(
        check("register_available", 200, &json!({"available": true})),
        Ok(())
    );
    assert!(check("register_available", 200, &json!({"available": "yes"})).is_err());

    let req = build("login_types", json!({}));
    assert_eq!(path(&req), "/_matrix/client/v3/login");
    assert_eq!(
        check(
            "login_types",
            200,
            &json!({"flows": [{"type": "m.login.password"}]})
        ),
        Ok(())
    );
    let req = build("refresh", json!({"refresh_token": "rt"}));
    assert_eq!(path(&req), "/_matrix/client/v3/refresh");
    assert_eq!(body(&req), json!({"refresh_token": "rt"}));
    let req = build("get_3pids", json!({}));
    assert_eq!(path(&req), "/_matrix/client/v3/account/3pid");
    let req = build("whois", json!({}));
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/admin/whois/@alice:example.org"
    );
    assert_eq!(
        check(
            "whois",
            200,
            &json!({"user_id": "@alice:example.org", "devices": {}})
        ),
        Ok(())
    );
}

#[test]
fn device_requests() {
    let req = build(
        "delete_device",
        json!({"device_id": "DEV1", "auth": {"type": "m.login.dummy", "session": "s"}}),
    );
    assert_eq!(req.method(), http::Method::DELETE);
    assert_eq!(path(&req), "/_matrix/client/v3/devices/DEV1");
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(
        body(&req),
        json!({"auth": {"type": "m.login.dummy", "session": "s"}})
    );
    let uia = json!({"flows": [{"stages": ["m.login.password"]}], "params": {}});
    assert_eq!(check("delete_device", 401, &uia), Ok(()));
    assert_eq!(check("delete_device", 200, &json!({})), Ok(()));

    let req = build("delete_devices", json!({"devices": ["A", "B"]}));
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(path(&req), "/_matrix/client/v3/delete_devices");
    assert_eq!(body(&req), json!({"devices": ["A", "B"]}));

    let req = build(
        "update_device",
        json!({"device_id": "DEV1", "display_name": "phone"}),
    );
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(body(&req), json!({"display_name": "phone"}));

    let req = build("get_devices", json!({}));
    assert_eq!(path(&req), "/_matrix/client/v3/devices");
    assert_eq!(
        check(
            "get_devices",
            200,
            &json!({"devices": [{"device_id": "D"}]})
        ),
        Ok(())
    );
    assert!(
        check(
            "get_devices",
            200,
            &json!({"devices": [{"display_name": "x"}]})
        )
        .is_err()
    );
    assert_eq!(
        check(
            "get_device",
            200,
            &json!({"device_id": "D", "last_seen_ts": 5})
        ),
        Ok(())
    );
}

// ---- keys and to-device ----

#[test]
fn upload_keys_sends_raw_keys() {
    let device_keys = json!({
        "user_id": "@alice:example.org", "device_id": "DEV1",
        "algorithms": ["m.olm.v1.curve25519-aes-sha2"],
        "keys": {"curve25519:DEV1": "abc", "ed25519:DEV1": "def"},
        "signatures": {"@alice:example.org": {"ed25519:DEV1": "sig"}},
    });
    let otk = json!({"key": "k1", "signatures": {"@alice:example.org": {"ed25519:DEV1": "s"}}});
    let req = build(
        "upload_keys",
        json!({"device_keys": device_keys,
               "one_time_keys": {"signed_curve25519:AAAA": otk, "curve25519:BBBB": "plain"},
               "fallback_keys": {"signed_curve25519:CCCC": {"key": "f", "fallback": true}}}),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(path(&req), "/_matrix/client/v3/keys/upload");
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(
        body(&req),
        json!({"device_keys": device_keys,
               "one_time_keys": {"curve25519:BBBB": "plain", "signed_curve25519:AAAA": otk},
               "fallback_keys": {"signed_curve25519:CCCC": {"key": "f", "fallback": true}}})
    );
    assert_eq!(
        check(
            "upload_keys",
            200,
            &json!({"one_time_key_counts": {"signed_curve25519": 1}})
        ),
        Ok(())
    );
    assert!(check("upload_keys", 200, &json!({})).is_err());
    let err = try_build("upload_keys", json!({"one_time_keys": {"nocolon": "k"}})).unwrap_err();
    assert!(
        err.message.contains("one_time_keys.nocolon"),
        "{}",
        err.message
    );
}

#[test]
fn query_and_claim_keys() {
    let req = build(
        "query_keys",
        json!({"device_keys": {"@bob:example.org": [], "@carol:example.org": ["C1"]},
               "timeout": 5000}),
    );
    assert_eq!(path(&req), "/_matrix/client/v3/keys/query");
    assert_eq!(
        body(&req),
        json!({"device_keys": {"@bob:example.org": [], "@carol:example.org": ["C1"]},
               "timeout": 5000})
    );
    assert_eq!(
        check(
            "query_keys",
            200,
            &json!({"device_keys": {"@bob:example.org": {}}})
        ),
        Ok(())
    );
    assert!(check("query_keys", 200, &json!({"device_keys": []})).is_err());
    let err = try_build("query_keys", json!({"device_keys": {"bob": []}})).unwrap_err();
    assert!(err.message.contains("device_keys.bob"), "{}", err.message);

    let req = build(
        "claim_keys",
        json!({"one_time_keys": {"@bob:example.org": {"B1": "signed_curve25519"}}}),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(path(&req), "/_matrix/client/v3/keys/claim");
    assert_eq!(
        body(&req),
        json!({"one_time_keys": {"@bob:example.org": {"B1": "signed_curve25519"}}})
    );
    let ok = json!({"one_time_keys": {"@bob:example.org": {"B1": {"signed_curve25519:X": {"key": "k"}}}}});
    assert_eq!(check("claim_keys", 200, &ok), Ok(()));
    assert!(check("claim_keys", 200, &json!({"failures": {}})).is_err());

    let req = build("key_changes", json!({"from": "s1", "to": "s2"}));
    assert_eq!(query_value(&req, "from").as_deref(), Some("s1"));
    assert_eq!(query_value(&req, "to").as_deref(), Some("s2"));
}

#[test]
fn signing_keys_and_signatures() {
    let master = json!({"user_id": "@alice:example.org", "usage": ["master"],
                        "keys": {"ed25519:M": "M"}});
    let req = build(
        "upload_signing_keys",
        json!({"master_key": master, "auth": {"type": "m.login.dummy", "session": "s"}}),
    );
    assert_eq!(path(&req), "/_matrix/client/v3/keys/device_signing/upload");
    assert_eq!(
        body(&req),
        json!({"master_key": master, "auth": {"type": "m.login.dummy", "session": "s"}})
    );
    let signed = json!({"DEV1": {"user_id": "@alice:example.org", "device_id": "DEV1",
                                  "signatures": {"@alice:example.org": {"ed25519:M": "s"}}}});
    let req = build(
        "upload_signatures",
        json!({"signed_keys": {"@alice:example.org": signed}}),
    );
    assert_eq!(path(&req), "/_matrix/client/v3/keys/signatures/upload");
    assert_eq!(body(&req), json!({"@alice:example.org": signed}));
}

#[test]
fn send_to_device_with_all_devices() {
    let req = build(
        "send_to_device",
        json!({"event_type": "org.example.ping", "txn_id": "td1",
               "messages": {"@bob:example.org": {"*": {"n": 1}, "B1": {"n": 2}}}}),
    );
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/sendToDevice/org.example.ping/td1"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(
        body(&req),
        json!({"messages": {"@bob:example.org": {"*": {"n": 1}, "B1": {"n": 2}}}})
    );
    assert_eq!(check("send_to_device", 200, &json!({})), Ok(()));
    assert!(
        try_build(
            "send_to_device",
            json!({"event_type": "t", "txn_id": "x", "messages": {"bob": {}}})
        )
        .is_err()
    );
}

// ---- push ----

#[test]
fn set_push_rule_with_conditions() {
    let conditions = json!([
        {"kind": "event_match", "key": "content.body", "pattern": "cake*"},
        {"kind": "org.example.custom", "x": 1}
    ]);
    let actions = json!(["notify", {"set_tweak": "sound", "value": "default"}]);
    let req = build(
        "set_push_rule",
        json!({"kind": "override", "rule_id": "cake", "actions": actions,
               "conditions": conditions, "before": "other"}),
    );
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/pushrules/global/override/cake"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(query(&req), vec![("before".to_owned(), "other".to_owned())]);
    assert_eq!(
        body(&req),
        json!({"actions": actions, "conditions": conditions})
    );
    assert_eq!(check("set_push_rule", 200, &json!({})), Ok(()));

    let req = build(
        "set_push_rule",
        json!({"scope": "global", "kind": "content", "rule_id": "c", "actions": ["notify"],
               "pattern": "cake"}),
    );
    assert_eq!(
        body(&req),
        json!({"actions": ["notify"], "pattern": "cake"})
    );
    let err = try_build(
        "set_push_rule",
        json!({"scope": "device", "kind": "room", "rule_id": "!r:example.org", "actions": []}),
    )
    .unwrap_err();
    assert!(err.message.contains("scope"), "{}", err.message);
    assert!(
        try_build(
            "set_push_rule",
            json!({"kind": "content", "rule_id": "c", "actions": []})
        )
        .is_err()
    );
}

#[test]
fn push_rule_queries_and_pushers() {
    let req = build(
        "set_push_rule_enabled",
        json!({"kind": "underride", "rule_id": ".m.rule.message", "enabled": false}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/pushrules/global/underride/.m.rule.message/enabled"
    );
    assert_eq!(body(&req), json!({"enabled": false}));
    assert_eq!(
        check("get_push_rule_enabled", 200, &json!({"enabled": true})),
        Ok(())
    );
    assert!(check("get_push_rule_enabled", 200, &json!({})).is_err());
    let req = build(
        "set_push_rule_actions",
        json!({"kind": "room", "rule_id": "!r:example.org", "actions": ["dont_notify"]}),
    );
    assert_eq!(body(&req), json!({"actions": ["dont_notify"]}));
    let req = build("get_push_rules", json!({}));
    assert_eq!(path(&req), "/_matrix/client/v3/pushrules/");
    assert_eq!(check("get_push_rules", 200, &json!({"global": {}})), Ok(()));

    let pusher = json!({"pushkey": "pk", "kind": "http", "app_id": "org.example.app",
                        "app_display_name": "App", "device_display_name": "Phone",
                        "lang": "en", "data": {"url": "https://push.example.org/_matrix/push/v1/notify"}});
    let req = build("set_pusher", json!({"pusher": pusher}));
    assert_eq!(path(&req), "/_matrix/client/v3/pushers/set");
    assert_eq!(body(&req), pusher);
    let req = build(
        "set_pusher",
        json!({"pusher": {"pushkey": "pk", "app_id": "a", "kind": null}}),
    );
    assert_eq!(
        body(&req),
        json!({"pushkey": "pk", "app_id": "a", "kind": null})
    );

    let req = build(
        "get_notifications",
        json!({"limit": 3, "only": "highlight"}),
    );
    assert_eq!(query_value(&req, "limit").as_deref(), Some("3"));
    assert_eq!(query_value(&req, "only").as_deref(), Some("highlight"));
    assert_eq!(
        check("get_notifications", 200, &json!({"notifications": []})),
        Ok(())
    );
}

// ---- media ----

#[test]
fn upload_media_with_content_type() {
    let req = build(
        "upload_media",
        json!({"content": "hello", "content_type": "application/octet-stream",
               "filename": "a b.txt"}),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(path(&req), "/_matrix/media/v3/upload");
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(query_value(&req, "filename").as_deref(), Some("a b.txt"));
    assert_eq!(
        req.headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap()),
        Some("application/octet-stream")
    );
    assert_eq!(req.body().as_slice(), b"hello");
    let req = build("upload_media", json!({"content": "x"}));
    assert_eq!(
        req.headers()
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap()),
        Some("text/plain")
    );
    assert_eq!(
        check(
            "upload_media",
            200,
            &json!({"content_uri": "mxc://example.org/abc"})
        ),
        Ok(())
    );
    assert!(check("upload_media", 200, &json!({})).is_err());
}

#[test]
fn download_media_paths() {
    let req = build(
        "download_media",
        json!({"server_name": "example.org", "media_id": "abc"}),
    );
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(
        path(&req),
        "/_matrix/client/v1/media/download/example.org/abc"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    let req = build(
        "download_media",
        json!({"server_name": "example.org", "media_id": "abc", "filename": "f.txt"}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v1/media/download/example.org/abc/f.txt"
    );
    let ok = http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, "text/plain")
        .header(http::header::CONTENT_DISPOSITION, "inline")
        .body(b"hello".as_slice())
        .unwrap();
    assert_eq!(op("download_media").check_response(ok), Ok(()));
    assert_eq!(
        check(
            "download_media",
            404,
            &json!({"errcode": "M_NOT_FOUND", "error": "no such media"})
        ),
        Ok(())
    );

    let req = build(
        "get_thumbnail",
        json!({"server_name": "example.org", "media_id": "abc", "width": 32, "height": 24,
               "method": "crop"}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v1/media/thumbnail/example.org/abc"
    );
    assert_eq!(query_value(&req, "width").as_deref(), Some("32"));
    assert_eq!(query_value(&req, "height").as_deref(), Some("24"));
    assert_eq!(query_value(&req, "method").as_deref(), Some("crop"));

    let req = build("get_media_config", json!({}));
    assert_eq!(path(&req), "/_matrix/client/v1/media/config");
    assert_eq!(
        check("get_media_config", 200, &json!({"m.upload.size": 1000})),
        Ok(())
    );
    let req = build("create_media", json!({}));
    assert_eq!(path(&req), "/_matrix/media/v1/create");
}

// ---- directory ----

#[test]
fn create_alias_percent_encodes_the_hash() {
    let req = build(
        "create_alias",
        json!({"room_alias": "#room:example.org", "room_id": "!r:example.org"}),
    );
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(
        req.uri().path(),
        "/_matrix/client/v3/directory/room/%23room:example.org"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(body(&req), json!({"room_id": "!r:example.org"}));
    assert_eq!(check("create_alias", 200, &json!({})), Ok(()));
    let err = try_build(
        "create_alias",
        json!({"room_alias": "room", "room_id": "!r:example.org"}),
    )
    .unwrap_err();
    assert!(err.message.contains("`room_alias`"), "{}", err.message);

    let req = build("get_alias", json!({"room_alias": "#room:example.org"}));
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(
        check(
            "get_alias",
            200,
            &json!({"room_id": "!r:example.org", "servers": ["example.org"]})
        ),
        Ok(())
    );
    assert!(check("get_alias", 200, &json!({"servers": []})).is_err());
    let req = build("delete_alias", json!({"room_alias": "#room:example.org"}));
    assert_eq!(req.method(), http::Method::DELETE);
    let req = build("get_room_aliases", json!({"room_id": "!r:example.org"}));
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/aliases"
    );
}

#[test]
fn public_rooms_and_visibility() {
    let req = build(
        "get_public_rooms",
        json!({"limit": 5, "server": "other.example.org"}),
    );
    assert_eq!(path(&req), "/_matrix/client/v3/publicRooms");
    assert_eq!(query_value(&req, "limit").as_deref(), Some("5"));
    assert_eq!(
        query_value(&req, "server").as_deref(),
        Some("other.example.org")
    );
    assert_eq!(
        check("get_public_rooms", 200, &json!({"chunk": []})),
        Ok(())
    );
    let req = build(
        "get_public_rooms_filtered",
        json!({"limit": 2, "filter": {"generic_search_term": "foo"},
               "include_all_networks": true}),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(
        body(&req),
        json!({"limit": 2, "filter": {"generic_search_term": "foo"},
               "include_all_networks": true})
    );
    let req = build(
        "set_room_visibility",
        json!({"room_id": "!r:example.org", "visibility": "public"}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/directory/list/room/!r:example.org"
    );
    assert_eq!(body(&req), json!({"visibility": "public"}));
    assert_eq!(
        check(
            "get_room_visibility",
            200,
            &json!({"visibility": "private"})
        ),
        Ok(())
    );
    assert!(check("get_room_visibility", 200, &json!({})).is_err());
}

// ---- misc ----

#[test]
fn search_room_events() {
    let req = build(
        "search",
        json!({"search_term": "cake", "keys": ["content.body"], "order_by": "recent",
               "filter": {"limit": 5}, "event_context": {"before_limit": 1, "after_limit": 1},
               "include_state": true, "groupings": {"group_by": [{"key": "room_id"}]},
               "next_batch": "nb1"}),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(path(&req), "/_matrix/client/v3/search");
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(
        query(&req),
        vec![("next_batch".to_owned(), "nb1".to_owned())]
    );
    assert_eq!(
        body(&req),
        json!({"search_categories": {"room_events": {
            "search_term": "cake", "keys": ["content.body"], "filter": {"limit": 5},
            "order_by": "recent", "event_context": {"before_limit": 1, "after_limit": 1},
            "include_state": true, "groupings": {"group_by": [{"key": "room_id"}]}}}})
    );
    let ok = json!({"search_categories": {"room_events": {"count": 0, "results": []}}});
    assert_eq!(check("search", 200, &ok), Ok(()));
    assert!(check("search", 200, &json!({})).is_err());
}

#[test]
fn presence_requests() {
    let req = build(
        "set_presence",
        json!({"presence": "unavailable", "status_msg": "away"}),
    );
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/presence/@alice:example.org/status"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(
        body(&req),
        json!({"presence": "unavailable", "status_msg": "away"})
    );
    let req = build("get_presence", json!({"user_id": "@bob:example.org"}));
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/presence/@bob:example.org/status"
    );
    assert_eq!(
        check("get_presence", 200, &json!({"presence": "online"})),
        Ok(())
    );
    assert!(check("get_presence", 200, &json!({"status_msg": "x"})).is_err());
}

#[test]
fn users_reports_openid_and_turn() {
    let req = build("search_users", json!({"search_term": "bo", "limit": 3}));
    assert_eq!(path(&req), "/_matrix/client/v3/user_directory/search");
    assert_eq!(body(&req), json!({"search_term": "bo", "limit": 3}));
    assert_eq!(
        check(
            "search_users",
            200,
            &json!({"results": [], "limited": false})
        ),
        Ok(())
    );
    let req = build(
        "report_event",
        json!({"room_id": "!r:example.org", "event_id": "$e:example.org", "reason": "spam"}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/report/$e:example.org"
    );
    assert_eq!(body(&req), json!({"reason": "spam"}));
    let req = build("request_openid_token", json!({}));
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/user/@alice:example.org/openid/request_token"
    );
    let req = build("turn_server", json!({}));
    assert_eq!(path(&req), "/_matrix/client/v3/voip/turnServer");
    assert_eq!(
        check(
            "turn_server",
            200,
            &json!({"username": "u", "password": "p", "uris": [], "ttl": 86400})
        ),
        Ok(())
    );
}

fn build_at(name: &str, args: Value, version: &str) -> http::Request<Vec<u8>> {
    let versions = SupportedVersions::from_parts(&[version.into()], &Default::default());
    let ctx = OpContext {
        base_url: BASE,
        access_token: Some("tok"),
        user_id: Some("@alice:example.org"),
        versions: &versions,
        sliding_sync: None,
    };
    op(name)
        .build(&args, &ctx)
        .unwrap_or_else(|e| panic!("building `{name}` failed: {e}"))
}

#[test]
fn newer_endpoints_use_their_stable_paths() {
    let req = build_at(
        "report_room",
        json!({"room_id": "!r:example.org", "reason": "bad"}),
        "v1.14",
    );
    assert_eq!(path(&req), "/_matrix/client/v3/rooms/!r:example.org/report");
    assert_eq!(body(&req), json!({"reason": "bad"}));
    let req = build_at(
        "report_user",
        json!({"user_id": "@bob:example.org", "reason": "bad"}),
        "v1.14",
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/users/@bob:example.org/report"
    );
    let req = build_at(
        "get_room_summary",
        json!({"room_id_or_alias": "#room:example.org", "via": ["example.org"]}),
        "v1.15",
    );
    assert_eq!(
        req.uri().path(),
        "/_matrix/client/v1/room_summary/%23room:example.org"
    );
    assert_eq!(query_value(&req, "via").as_deref(), Some("example.org"));
}

// ---- room extras ----

#[test]
fn knock_with_via() {
    let req = build(
        "knock",
        json!({"room_id_or_alias": "!r:example.org", "reason": "let me in",
               "via": ["a.example.org", "b.example.org"]}),
    );
    assert_eq!(req.method(), http::Method::POST);
    assert_eq!(path(&req), "/_matrix/client/v3/knock/!r:example.org");
    assert_eq!(auth(&req), Some("Bearer tok"));
    let via: Vec<String> = query(&req)
        .into_iter()
        .filter(|(k, _)| k == "via")
        .map(|(_, v)| v)
        .collect();
    assert_eq!(via, vec!["a.example.org", "b.example.org"]);
    assert_eq!(body(&req), json!({"reason": "let me in"}));
    assert_eq!(
        check("knock", 200, &json!({"room_id": "!r:example.org"})),
        Ok(())
    );
    assert!(check("knock", 200, &json!({})).is_err());
    let err = try_build(
        "knock",
        json!({"room_id_or_alias": "!r:example.org", "via": ["ok.org", "bad server"]}),
    )
    .unwrap_err();
    assert!(err.message.contains("via[1]"), "{}", err.message);
}

#[test]
fn get_relations_picks_the_request_form() {
    let req = build(
        "get_relations",
        json!({"room_id": "!r:example.org", "event_id": "$e:example.org",
               "rel_type": "m.annotation", "event_type": "m.reaction", "limit": 2, "dir": "f"}),
    );
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(
        path(&req),
        "/_matrix/client/v1/rooms/!r:example.org/relations/$e:example.org/m.annotation/m.reaction"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(query_value(&req, "limit").as_deref(), Some("2"));
    assert_eq!(query_value(&req, "dir").as_deref(), Some("f"));
    let req = build(
        "get_relations",
        json!({"room_id": "!r:example.org", "event_id": "$e:example.org",
               "rel_type": "m.thread", "recurse": true}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v1/rooms/!r:example.org/relations/$e:example.org/m.thread"
    );
    assert_eq!(query_value(&req, "recurse").as_deref(), Some("true"));
    let req = build(
        "get_relations",
        json!({"room_id": "!r:example.org", "event_id": "$e:example.org"}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v1/rooms/!r:example.org/relations/$e:example.org"
    );
    assert!(
        try_build(
            "get_relations",
            json!({"room_id": "!r:example.org", "event_id": "$e:example.org",
                   "event_type": "m.reaction"})
        )
        .is_err()
    );
    assert_eq!(check("get_relations", 200, &json!({"chunk": []})), Ok(()));
    assert!(check("get_relations", 200, &json!({"chunk": {}})).is_err());
    let schema = serde_json::to_value(op("get_relations").args_schema()).unwrap();
    assert!(schema["properties"]["rel_type"].is_object(), "{schema}");
}

#[test]
fn tags_read_markers_and_threads() {
    let req = build(
        "set_tag",
        json!({"room_id": "!r:example.org", "tag": "u.work", "order": 0.25}),
    );
    assert_eq!(req.method(), http::Method::PUT);
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/user/@alice:example.org/rooms/!r:example.org/tags/u.work"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(body(&req), json!({"order": 0.25}));
    let req = build(
        "delete_tag",
        json!({"room_id": "!r:example.org", "tag": "u.work"}),
    );
    assert_eq!(req.method(), http::Method::DELETE);
    assert_eq!(
        check(
            "get_tags",
            200,
            &json!({"tags": {"u.work": {"order": 0.5}}})
        ),
        Ok(())
    );
    assert!(check("get_tags", 200, &json!({"tags": []})).is_err());

    let req = build(
        "set_read_marker",
        json!({"room_id": "!r:example.org", "fully_read": "$a:example.org",
               "read_private": "$b:example.org"}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/read_markers"
    );
    assert_eq!(
        body(&req),
        json!({"m.fully_read": "$a:example.org", "m.read.private": "$b:example.org"})
    );

    let req = build(
        "get_threads",
        json!({"room_id": "!r:example.org", "include": "participated", "limit": 4}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v1/rooms/!r:example.org/threads"
    );
    assert_eq!(
        query_value(&req, "include").as_deref(),
        Some("participated")
    );
    assert_eq!(query_value(&req, "limit").as_deref(), Some("4"));

    let req = build(
        "timestamp_to_event",
        json!({"room_id": "!r:example.org", "ts": 1_700_000_000_000u64, "dir": "b"}),
    );
    assert_eq!(query_value(&req, "ts").as_deref(), Some("1700000000000"));
    assert_eq!(query_value(&req, "dir").as_deref(), Some("b"));
    assert_eq!(
        check(
            "timestamp_to_event",
            200,
            &json!({"event_id": "$e", "origin_server_ts": 5})
        ),
        Ok(())
    );
}

#[test]
fn space_hierarchy_and_upgrade() {
    let req = build(
        "space_hierarchy",
        json!({"room_id": "!space:example.org", "from": "p1", "limit": 10, "max_depth": 2,
               "suggested_only": true}),
    );
    assert_eq!(req.method(), http::Method::GET);
    assert_eq!(
        path(&req),
        "/_matrix/client/v1/rooms/!space:example.org/hierarchy"
    );
    assert_eq!(auth(&req), Some("Bearer tok"));
    assert_eq!(query_value(&req, "from").as_deref(), Some("p1"));
    assert_eq!(query_value(&req, "limit").as_deref(), Some("10"));
    assert_eq!(query_value(&req, "max_depth").as_deref(), Some("2"));
    assert_eq!(query_value(&req, "suggested_only").as_deref(), Some("true"));
    assert_eq!(check("space_hierarchy", 200, &json!({"rooms": []})), Ok(()));
    assert!(check("space_hierarchy", 200, &json!({})).is_err());

    let req = build(
        "upgrade_room",
        json!({"room_id": "!r:example.org", "new_version": "11"}),
    );
    assert_eq!(
        path(&req),
        "/_matrix/client/v3/rooms/!r:example.org/upgrade"
    );
    assert_eq!(body(&req), json!({"new_version": "11"}));
    assert_eq!(
        check(
            "upgrade_room",
            200,
            &json!({"replacement_room": "!n:example.org"})
        ),
        Ok(())
    );
}

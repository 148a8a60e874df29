//! The push-gateway role: a [`Recorder`] on 127.0.0.1 that takes `POST
//! /_matrix/push/v1/notify` from the homeserver's HTTP pushers, answers `rejected` with every
//! pushkey of the notification that starts with [`REJECT_PREFIX`], and records the requests.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::target::recorder::{Recorder, RoleRequest};

/// The notify endpoint's path.
pub const NOTIFY_PATH: &str = "/_matrix/push/v1/notify";
/// Pushkeys starting with this are answered as rejected.
pub const REJECT_PREFIX: &str = "mxh-reject-";

/// A running push-gateway role; stops when dropped.
pub struct PushGatewayRole {
    recorder: Recorder,
}

impl std::fmt::Debug for PushGatewayRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushGatewayRole")
            .field("addr", &self.recorder.addr())
            .finish_non_exhaustive()
    }
}

impl PushGatewayRole {
    /// Bind 127.0.0.1:0 and serve.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        Ok(Self {
            recorder: Recorder::serve(listener, None, Arc::new(answer)),
        })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.recorder.addr()
    }

    /// The URL a pusher's `data.url` names: `http://127.0.0.1:<port>/_matrix/push/v1/notify`.
    pub fn notify_url(&self) -> String {
        format!("http://{}{NOTIFY_PATH}", self.addr())
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RoleRequest> {
        self.recorder.requests()
    }
}

/// `{"rejected": [...]}` to a notification (its pushkeys with [`REJECT_PREFIX`]); 404
/// `M_UNRECOGNIZED` elsewhere ("If a request for an unsupported (or unknown) endpoint is
/// received then the server must respond with a 404 M_UNRECOGNIZED error").
fn answer(r: &RoleRequest) -> (u16, Value) {
    if r.method != "POST" || r.path != NOTIFY_PATH {
        return (
            404,
            json!({"errcode": "M_UNRECOGNIZED", "error": "unknown endpoint"}),
        );
    }
    let rejected: Vec<&str> = r
        .json
        .as_ref()
        .and_then(|j| j.pointer("/notification/devices"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|d| d.get("pushkey").and_then(Value::as_str))
        .filter(|k| k.starts_with(REJECT_PREFIX))
        .collect();
    (200, json!({ "rejected": rejected }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn rejects_the_marked_pushkeys_and_records() {
        let role = PushGatewayRole::start().await.unwrap();
        assert!(role.notify_url().starts_with("http://127.0.0.1:"));
        let body = json!({"notification": {"devices": [
            {"app_id": "a", "pushkey": "mxh-reject-1"},
            {"app_id": "a", "pushkey": "keep"}
        ]}});
        let resp: Value = reqwest::Client::new()
            .post(role.notify_url())
            .json(&body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(resp, json!({"rejected": ["mxh-reject-1"]}));
        let status = reqwest::Client::new()
            .get(format!("http://{}/other", role.addr()))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 404);
        let log = role.requests();
        assert_eq!(log.len(), 2);
        assert_eq!(log[0].json, Some(body));
        assert!(log[0].authenticated);
        assert_eq!(log[0].status, 200);
    }
}

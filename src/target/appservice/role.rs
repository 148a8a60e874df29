//! The application-service role: a [`Recorder`] on 127.0.0.1 that answers the homeserver
//! (transactions, user and alias queries, ping), checks the `hs_token` it presents
//! (`Authorization: Bearer`, spec v1.4+) and records every request for the scenarios to judge.

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::Registration;
use crate::target::recorder::{Recorder, RoleRequest};

/// A running application-service role; stops when dropped.
pub struct AppServiceRole {
    registration: Registration,
    recorder: Recorder,
}

impl std::fmt::Debug for AppServiceRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppServiceRole")
            .field("addr", &self.recorder.addr())
            .finish_non_exhaustive()
    }
}

impl AppServiceRole {
    /// Bind 127.0.0.1:0 and serve with a fresh registration pointing there.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let registration = Registration::fresh(format!("http://{addr}"));
        Ok(Self::serve(listener, registration))
    }

    /// Serve `registration` (tokens and all, e.g. one an operator registered) on `listener`.
    pub fn serve(listener: TcpListener, registration: Registration) -> Self {
        let recorder = Recorder::serve(
            listener,
            Some(registration.hs_token.clone()),
            Arc::new(|r: &RoleRequest| answer(&r.method, &r.path, r.authenticated)),
        );
        Self {
            registration,
            recorder,
        }
    }

    /// The registration the homeserver knows the role by.
    pub fn registration(&self) -> &Registration {
        &self.registration
    }

    /// Where the role listens.
    pub fn addr(&self) -> SocketAddr {
        self.recorder.addr()
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RoleRequest> {
        self.recorder.requests()
    }
}

/// What the role answers: 403 `M_FORBIDDEN` without the right `hs_token` ("Application
/// services MUST verify that the provided Bearer token matches their known hs_token, failing
/// the request with an M_FORBIDDEN error if it does not match"); `{}` to transactions and
/// pings; 404 `M_NOT_FOUND` to user and alias queries (the role creates nothing on demand);
/// 404 `M_UNRECOGNIZED` to anything else.
fn answer(method: &str, path: &str, authenticated: bool) -> (u16, Value) {
    if !authenticated {
        return (
            403,
            json!({"errcode": "M_FORBIDDEN", "error": "wrong or missing hs_token"}),
        );
    }
    let is = |m: &str, prefix: &str| method == m && path.starts_with(prefix);
    if is("PUT", "/_matrix/app/v1/transactions/")
        || (method == "POST" && path == "/_matrix/app/v1/ping")
    {
        (200, json!({}))
    } else if is("GET", "/_matrix/app/v1/users/") || is("GET", "/_matrix/app/v1/rooms/") {
        (
            404,
            json!({"errcode": "M_NOT_FOUND", "error": "not bridged"}),
        )
    } else {
        (
            404,
            json!({"errcode": "M_UNRECOGNIZED", "error": "unknown endpoint"}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn send(role: &AppServiceRole, method: &str, path: &str, token: Option<&str>) -> u16 {
        let client = reqwest::Client::new();
        let url = format!("http://{}{path}", role.addr());
        let mut req = client
            .request(http::Method::from_bytes(method.as_bytes()).unwrap(), url)
            .header("content-type", "application/json")
            .body(r#"{"events":[]}"#);
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        req.send().await.unwrap().status().as_u16()
    }

    #[tokio::test]
    async fn answers_and_records_checking_the_hs_token() {
        let role = AppServiceRole::start().await.unwrap();
        let hs = role.registration().hs_token.clone();
        let as_token = role.registration().as_token.clone();
        assert_eq!(
            send(&role, "PUT", "/_matrix/app/v1/transactions/1", Some(&hs)).await,
            200
        );
        assert_eq!(
            send(&role, "POST", "/_matrix/app/v1/ping", Some(&hs)).await,
            200
        );
        assert_eq!(
            send(
                &role,
                "GET",
                "/_matrix/app/v1/users/@_mxh_as_x:hs",
                Some(&hs)
            )
            .await,
            404
        );
        assert_eq!(
            send(&role, "GET", "/_matrix/app/v1/nope", Some(&hs)).await,
            404
        );
        assert_eq!(
            send(
                &role,
                "PUT",
                "/_matrix/app/v1/transactions/2",
                Some(&as_token)
            )
            .await,
            403
        );
        assert_eq!(
            send(&role, "PUT", "/_matrix/app/v1/transactions/3", None).await,
            403
        );
        let log = role.requests();
        assert_eq!(log.len(), 6);
        assert!(log[0].authenticated);
        assert_eq!(log[0].json, Some(json!({"events": []})));
        assert!(!log[4].authenticated);
        assert_eq!(log[4].status, 403);
        assert!(role.registration().url.starts_with("http://127.0.0.1:"));
    }
}

//! Which implementation the target is, for reports ("Synapse 1.163.2"): its federation API's
//! `/_matrix/federation/v1/version` when the federation API is served apart from the client
//! API (a federation-enabled run, `--federation-url`), else the `server` object some servers
//! add to `/_matrix/client/versions`.

use std::time::Duration;

use serde_json::Value;

use crate::matrix::http_client::HttpClient;

/// Each lookup is a nicety for the report: it may not hold the run up for long.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Where to ask.
#[derive(Debug, Clone)]
pub struct Sources<'a> {
    /// Base URL of the client API.
    pub client_url: &'a str,
    /// Base URL of the federation API, when it is not the client API's.
    pub federation_url: Option<&'a str>,
    /// The only root to trust at `federation_url` (the run's CA for a spawned server); the
    /// bundled roots when `None`.
    pub federation_root: Option<reqwest::Certificate>,
}

/// Ask the federation API, then the client API; `None` when neither names the implementation.
pub async fn identify(sources: Sources<'_>) -> Option<String> {
    if let Some(url) = sources.federation_url {
        let client = match sources.federation_root {
            Some(root) => HttpClient::with_root_certificate(root),
            None => HttpClient::new(),
        };
        if let Ok(client) = client
            && let Some(json) = get_json(&client, url, "/_matrix/federation/v1/version").await
            && let Some(found) = from_federation_version(&json)
        {
            return Some(found);
        }
    }
    let client = HttpClient::new().ok()?;
    let json = get_json(&client, sources.client_url, "/_matrix/client/versions").await?;
    from_client_versions(&json)
}

async fn get_json(client: &HttpClient, base: &str, path: &str) -> Option<Value> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let request = http::Request::get(url).body(Vec::new()).ok()?;
    let (_, received) = client.send(request, TIMEOUT).await;
    received.filter(|r| r.status == 200)?.json()
}

/// `{"server": {"name": "Synapse", "version": "1.163.2"}}` -> `Synapse 1.163.2`.
pub fn from_federation_version(json: &Value) -> Option<String> {
    name_and_version(json.get("server")?)
}

/// The `server` field of a versions document: an object like the federation one, or a
/// plain string.
pub fn from_client_versions(json: &Value) -> Option<String> {
    match json.get("server")? {
        Value::String(s) => clean(s),
        other => name_and_version(other),
    }
}

fn name_and_version(server: &Value) -> Option<String> {
    let field = |key: &str| server.get(key).and_then(Value::as_str).and_then(clean);
    match (field("name"), field("version")) {
        (Some(name), Some(version)) => Some(format!("{name} {version}")),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    }
}

/// A server-given string for a report line: trimmed, control characters dropped, at most
/// 100 characters; `None` when nothing is left.
fn clean(text: &str) -> Option<String> {
    let cleaned: String = text.chars().filter(|c| !c.is_control()).take(100).collect();
    let cleaned = cleaned.trim();
    (!cleaned.is_empty()).then(|| cleaned.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn names_come_from_either_document() {
        let fed = json!({"server": {"name": "Synapse", "version": "1.163.2"}});
        assert_eq!(
            from_federation_version(&fed).as_deref(),
            Some("Synapse 1.163.2")
        );
        assert_eq!(
            from_federation_version(&json!({"server": {"name": "conduwuit"}})).as_deref(),
            Some("conduwuit")
        );
        assert_eq!(from_federation_version(&json!({"server": {}})), None);
        assert_eq!(from_federation_version(&json!([1])), None);
        let versions =
            json!({"versions": ["v1.11"], "server": {"name": "Dendrite", "version": "0.13"}});
        assert_eq!(
            from_client_versions(&versions).as_deref(),
            Some("Dendrite 0.13")
        );
        assert_eq!(
            from_client_versions(&json!({"server": " Tuwunel\n1.0 "})).as_deref(),
            Some("Tuwunel1.0")
        );
        assert_eq!(from_client_versions(&json!({"versions": []})), None);
        let long = "x".repeat(500);
        assert_eq!(
            from_client_versions(&json!({ "server": long })).map(|s| s.len()),
            Some(100)
        );
    }

    /// A loopback server answering every request with `body` (status 200) or 404 when `None`.
    async fn serve(body: Option<&'static str>) -> String {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let (status, body) = match body {
                    Some(b) => ("200 OK", b),
                    None => ("404 Not Found", "{}"),
                };
                let response = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(response.as_bytes()).await;
            }
        });
        format!("http://{addr}")
    }

    #[tokio::test]
    async fn the_federation_api_is_asked_first_then_the_client_api() {
        let fed = serve(Some(r#"{"server":{"name":"Synapse","version":"1.163.2"}}"#)).await;
        let client = serve(Some(r#"{"versions":["v1.11"],"server":{"name":"Other"}}"#)).await;
        let found = identify(Sources {
            client_url: &client,
            federation_url: Some(&fed),
            federation_root: None,
        })
        .await;
        assert_eq!(found.as_deref(), Some("Synapse 1.163.2"));

        let gone = serve(None).await;
        let found = identify(Sources {
            client_url: &client,
            federation_url: Some(&gone),
            federation_root: None,
        })
        .await;
        assert_eq!(found.as_deref(), Some("Other"));

        let plain = serve(Some(r#"{"versions":["v1.11"]}"#)).await;
        let found = identify(Sources {
            client_url: &plain,
            federation_url: None,
            federation_root: None,
        })
        .await;
        assert_eq!(found, None);
    }
}

//! Probes a homeserver given by URL: supported spec versions, unstable features, server name
//! and implementation version, before any scenario runs.

use std::collections::BTreeMap;
use std::time::Duration;

use ruma::api::IncomingResponseExt;
use ruma::api::client::discovery::get_supported_versions;
use serde::Deserialize;

use super::TargetError;

const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// What a target says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Spec versions from `/_matrix/client/versions`.
    pub versions: Vec<String>,
    /// Unstable features from `/_matrix/client/versions`.
    pub unstable_features: BTreeMap<String, bool>,
    /// The override, else `/_matrix/key/v2/server`'s `server_name`; `None` when neither is
    /// available (the runner then takes it from the first provisioned user's ID).
    pub server_name: Option<String>,
    /// "<name> <version>" from `/_matrix/federation/v1/version`, when served.
    pub server_version: Option<String>,
}

#[derive(Deserialize)]
struct KeyServer {
    server_name: String,
}

#[derive(Deserialize)]
struct FederationVersion {
    server: FederationServer,
}

#[derive(Deserialize)]
struct FederationServer {
    name: Option<String>,
    version: Option<String>,
}

/// Ask the server at `base_url` what it supports. Fails with [`TargetError::Unreachable`]
/// when `/_matrix/client/versions` does not answer with a valid versions document within 10 s.
pub async fn probe(
    base_url: &str,
    server_name_override: Option<String>,
) -> Result<Probe, TargetError> {
    let base_url = base_url.trim_end_matches('/');
    let unreachable = |reason: String| TargetError::Unreachable {
        url: base_url.to_owned(),
        reason,
    };
    let client = crate::matrix::net::base_builder()
        .timeout(PROBE_TIMEOUT)
        .build()
        .map_err(|e| {
            unreachable(format!(
                "cannot build the HTTP client: {}",
                crate::matrix::net::error_chain(&e)
            ))
        })?;

    let url = format!("{base_url}/_matrix/client/versions");
    let (status, body) = get(&client, &url).await.map_err(&unreachable)?;
    if status != 200 {
        return Err(unreachable(format!("GET {url} answered HTTP {status}")));
    }
    let response = http::Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(body.as_slice())
        .map_err(|e| unreachable(e.to_string()))?;
    let versions = get_supported_versions::Response::try_from_http_response(response)
        .map_err(|e| unreachable(format!("GET {url} did not return a versions document: {e}")))?;

    let server_name = match server_name_override {
        Some(name) => Some(name),
        None => get_json::<KeyServer>(&client, &format!("{base_url}/_matrix/key/v2/server"))
            .await
            .map(|k| k.server_name),
    };
    let server_version = get_json::<FederationVersion>(
        &client,
        &format!("{base_url}/_matrix/federation/v1/version"),
    )
    .await
    .and_then(|v| match (v.server.name, v.server.version) {
        (Some(name), Some(version)) => Some(format!("{name} {version}")),
        (Some(name), None) => Some(name),
        (None, Some(version)) => Some(version),
        (None, None) => None,
    });

    Ok(Probe {
        versions: versions.versions,
        unstable_features: versions.unstable_features,
        server_name,
        server_version,
    })
}

async fn get(client: &reqwest::Client, url: &str) -> Result<(u16, Vec<u8>), String> {
    let response = client
        .get(url)
        .send()
        .await
        .map_err(|e| describe(url, &e))?;
    let status = response.status().as_u16();
    let body = crate::matrix::net::read_capped(response, crate::matrix::net::policy().max_body)
        .await
        .map_err(|e| {
            let held = if e.timed_out {
                " (no answer within 10 s)"
            } else {
                ""
            };
            format!("GET {url} (HTTP {status}): {}{held}", e.reason)
        })?;
    Ok((status, body))
}

/// An optional endpoint: any failure means "not available".
async fn get_json<T: serde::de::DeserializeOwned>(
    client: &reqwest::Client,
    url: &str,
) -> Option<T> {
    match get(client, url).await {
        Ok((200, body)) => serde_json::from_slice(&body).ok(),
        _ => None,
    }
}

fn describe(url: &str, err: &reqwest::Error) -> String {
    let mut text = format!("GET {url}: {}", crate::matrix::net::error_chain(err));
    if err.is_timeout() {
        text.push_str(" (no answer within 10 s)");
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn closed_port_is_unreachable() {
        let port = {
            let l = std::net::TcpListener::bind(("127.0.0.1", 0)).unwrap();
            l.local_addr().unwrap().port()
        };
        let err = probe(&format!("http://127.0.0.1:{port}/"), None)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, TargetError::Unreachable { .. }), "{text}");
        assert!(text.contains("--target"), "{text}");
    }

    #[tokio::test]
    async fn non_json_is_unreachable() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
            .await
            .unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut sock, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = sock.read(&mut buf).await;
                let body = "<html>hello</html>";
                let _ = sock
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .await;
            }
        });
        let err = probe(&format!("http://127.0.0.1:{port}"), None)
            .await
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("did not return a versions document"),
            "{text}"
        );
    }
}

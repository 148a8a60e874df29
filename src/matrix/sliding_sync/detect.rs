//! Finding out which sliding-sync dialect a target speaks and where: `--sync-url` or the
//! `.well-known` proxy entry names the base URL; a probe of each dialect's endpoint (newest
//! first) with a real access token decides the dialect.

use std::time::Duration;

use serde_json::Value;

use super::{Dialect, SlidingSyncTarget};

const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Probe the target. `Ok(None)` means no dialect answered.
pub async fn detect(
    base_url: &str,
    sync_url: Option<&str>,
    forced: Option<Dialect>,
    token: &str,
) -> Result<Option<SlidingSyncTarget>, String> {
    let http = crate::matrix::net::base_builder()
        .timeout(PROBE_TIMEOUT)
        .build()
        .map_err(|e| {
            format!(
                "cannot create the HTTP client: {}",
                super::super::net::error_chain(&e)
            )
        })?;
    let (sync_base, base_source) = match sync_url {
        Some(u) => (u.trim_end_matches('/').to_owned(), "--sync-url"),
        None => match well_known_proxy(&http, base_url).await {
            Some(u) => (u, ".well-known org.matrix.msc3575.proxy"),
            None => (base_url.trim_end_matches('/').to_owned(), "homeserver"),
        },
    };
    if let Some(dialect) = forced {
        return Ok(Some(SlidingSyncTarget {
            dialect,
            base_url: sync_base,
            found_by: format!("--sliding-sync-dialect, {base_source}"),
        }));
    }
    for dialect in [Dialect::V4, Dialect::Simplified, Dialect::Msc3575Proxy] {
        let query = if dialect.params_in_query() {
            "?timeout=0"
        } else {
            ""
        };
        let url = format!("{sync_base}{}{query}", dialect.path());
        let body = if dialect == Dialect::V4 {
            serde_json::json!({"timeout": 0})
        } else {
            serde_json::json!({})
        };
        let resp = http.post(&url).bearer_auth(token).json(&body).send().await;
        let Ok(resp) = resp else { continue };
        if resp.status().as_u16() != 200 {
            continue;
        }
        let Some(json) = json_of(resp).await else {
            continue;
        };
        if json.get("pos").and_then(Value::as_str).is_some() {
            return Ok(Some(SlidingSyncTarget {
                dialect,
                base_url: sync_base,
                found_by: format!("probe, {base_source}"),
            }));
        }
    }
    Ok(None)
}

async fn well_known_proxy(http: &reqwest::Client, base_url: &str) -> Option<String> {
    let url = format!(
        "{}/.well-known/matrix/client",
        base_url.trim_end_matches('/')
    );
    let json = json_of(http.get(url).send().await.ok()?).await?;
    json.get("org.matrix.msc3575.proxy")?
        .get("url")?
        .as_str()
        .map(|u| u.trim_end_matches('/').to_owned())
}

/// The body as JSON, read within the body cap.
async fn json_of(resp: reqwest::Response) -> Option<Value> {
    let body = crate::matrix::net::read_body(resp).await.ok()?;
    serde_json::from_slice(&body).ok()
}

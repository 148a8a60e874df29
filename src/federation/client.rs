//! Sends federation requests as a (fake) remote homeserver: X-Matrix signed, over HTTPS
//! trusting the run's CA, returning the project's [`Exchange`] transcript. The [`Forge`]
//! knobs build requests a correct server must refuse (unsigned, tampered signature, wrong
//! origin or destination, extra or replaced headers).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::Value;

use super::keys::ServerKey;
use super::tls::RunCa;
use super::{FederationError, x_matrix};
use crate::matrix::http_client::{HttpClient, Received};
use crate::results::Exchange;

/// Ways to make a request deliberately wrong. The default sends a correct request.
#[derive(Debug, Clone, Default)]
pub struct Forge {
    /// Send no `Authorization` header at all.
    pub unsigned: bool,
    /// Flip bits in the signature after signing.
    pub tamper_signature: bool,
    /// Claim this origin in the header (and sign as it) instead of the key's server name.
    pub origin: Option<String>,
    /// Put this destination in the header (and in the signed object).
    pub destination: Option<String>,
    /// Leave `destination` out of the header (still signing the real one).
    pub omit_destination: bool,
    /// Sign this URI instead of the one sent (a signature over another request).
    pub sign_uri: Option<String>,
    /// Sign this body instead of the one sent.
    pub sign_body: Option<Value>,
    /// Sign with this key instead of the client's (an unknown key for the origin).
    pub key: Option<ServerKey>,
    /// Send this `Authorization` value verbatim (overrides everything above).
    pub authorization: Option<String>,
    /// Send the correctly computed parts in this hand-written layout
    /// (`x_matrix::fill_template`) instead of the formatter's.
    pub authorization_template: Option<String>,
    /// Extra headers; a name given here replaces the computed header of that name.
    pub headers: BTreeMap<String, String>,
}

/// One federation request.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    /// HTTP method.
    pub method: String,
    /// The destination server name (signed, and the `destination` of the header).
    pub destination: String,
    /// Where to connect, e.g. `https://127.0.0.1:8448`; default `https://<destination>`.
    /// Set it when the server name does not resolve to the listener (a gateway in front).
    pub base_url: Option<String>,
    /// Path and query string, e.g. `/_matrix/federation/v1/version`.
    pub path: String,
    /// JSON body (signed as `content`).
    pub body: Option<Value>,
    /// A raw body sent instead of `body` (not valid JSON, say); nothing is signed for it.
    pub raw_body: Option<Vec<u8>>,
    /// Deliberate faults.
    pub forge: Forge,
}

impl SignedRequest {
    /// A correct request with no body.
    pub fn new(method: &str, destination: &str, path: &str) -> Self {
        Self {
            method: method.to_owned(),
            destination: destination.to_owned(),
            base_url: None,
            path: path.to_owned(),
            body: None,
            raw_body: None,
            forge: Forge::default(),
        }
    }

    /// The same request with a JSON body.
    pub fn with_body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// A signing federation client for one origin server.
#[derive(Debug, Clone)]
pub struct FederationClient {
    http: HttpClient,
    key: ServerKey,
}

impl FederationClient {
    /// A client signing with `key` and trusting only `ca`.
    pub fn new(ca: &RunCa, key: ServerKey) -> Result<Self, FederationError> {
        let http = HttpClient::with_root_certificate(ca.reqwest_certificate()?)
            .map_err(FederationError::Tls)?;
        Ok(Self { http, key })
    }

    /// The signing key (and origin server name).
    pub fn key(&self) -> &ServerKey {
        &self.key
    }

    /// The `Authorization` header the request gets (None: none is sent).
    pub fn authorization_for(
        &self,
        req: &SignedRequest,
    ) -> Result<Option<String>, FederationError> {
        let forge = &req.forge;
        if let Some(raw) = &forge.authorization {
            return Ok(Some(raw.clone()));
        }
        if forge.unsigned {
            return Ok(None);
        }
        let key = forge.key.as_ref().unwrap_or(&self.key);
        let origin = forge.origin.as_deref().unwrap_or(self.key.server_name());
        let destination = forge.destination.as_deref().unwrap_or(&req.destination);
        let uri = forge.sign_uri.as_deref().unwrap_or(&req.path);
        let content = match (&forge.sign_body, &req.raw_body) {
            (Some(b), _) => Some(b),
            (None, Some(_)) => None,
            (None, None) => req.body.as_ref(),
        };
        let mut sig =
            x_matrix::request_signature(key, &req.method, uri, origin, destination, content)?;
        if forge.tamper_signature {
            sig = tamper(&sig);
        }
        if let Some(template) = &forge.authorization_template {
            return Ok(Some(x_matrix::fill_template(
                template,
                origin,
                destination,
                &key.key_id(),
                &sig,
            )));
        }
        let header_dest = (!forge.omit_destination).then_some(destination);
        x_matrix::format_header(origin, header_dest, &key.key_id(), &sig).map(Some)
    }

    /// Send the request; the exchange is always returned, the response only when one came.
    /// A request that cannot even be built comes back as an exchange carrying the error.
    pub async fn send(
        &self,
        req: &SignedRequest,
        timeout: Duration,
    ) -> (Exchange, Option<Received>) {
        let base = req
            .base_url
            .clone()
            .unwrap_or_else(|| format!("https://{}", req.destination));
        let url = format!("{}{}", base.trim_end_matches('/'), req.path);
        let built = self.build(req, &url);
        match built {
            Ok(request) => self.http.send(request, timeout).await,
            Err(e) => (error_exchange(&req.method, &url, e), None),
        }
    }

    fn build(&self, req: &SignedRequest, url: &str) -> Result<http::Request<Vec<u8>>, String> {
        let body = match (&req.raw_body, &req.body) {
            (Some(raw), _) => raw.clone(),
            (None, Some(json)) => serde_json::to_vec(json).map_err(|e| e.to_string())?,
            (None, None) => Vec::new(),
        };
        let mut builder = http::Request::builder()
            .method(req.method.as_str())
            .uri(url);
        let mut headers: BTreeMap<String, String> = BTreeMap::new();
        if !body.is_empty() {
            headers.insert("content-type".into(), "application/json".into());
        }
        if let Some(auth) = self.authorization_for(req).map_err(|e| e.to_string())? {
            headers.insert("authorization".into(), auth);
        }
        for (k, v) in &req.forge.headers {
            headers.insert(k.to_ascii_lowercase(), v.clone());
        }
        for (k, v) in &headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        builder
            .body(body)
            .map_err(|e| format!("invalid request: {e}"))
    }
}

/// The signature with its first character changed (still valid base64, wrong bytes).
pub fn tamper(sig: &str) -> String {
    let mut chars: Vec<char> = sig.chars().collect();
    if let Some(first) = chars.first_mut() {
        *first = if *first == 'A' { 'B' } else { 'A' };
    }
    chars.into_iter().collect()
}

fn error_exchange(method: &str, url: &str, error: String) -> Exchange {
    Exchange {
        method: method.to_owned(),
        url: url.to_owned(),
        request_headers: BTreeMap::new(),
        request_body: None,
        status: None,
        response_headers: BTreeMap::new(),
        response_body: None,
        error: Some(error),
        duration_ms: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::federation::keys::tests::spec_key;

    fn client() -> FederationClient {
        let ca = RunCa::new().unwrap();
        FederationClient::new(&ca, spec_key()).unwrap()
    }

    #[test]
    fn forged_headers() {
        let c = client();
        let map = c.key().public_key_map();
        let req = SignedRequest::new("GET", "hs", "/_matrix/federation/v1/version");
        let good = c.authorization_for(&req).unwrap().unwrap();
        x_matrix::verify(Some(&good), "GET", &req.path, b"", "hs", &map).unwrap();

        let mut bad = req.clone();
        bad.forge.unsigned = true;
        assert_eq!(c.authorization_for(&bad).unwrap(), None);

        let mut bad = req.clone();
        bad.forge.tamper_signature = true;
        let h = c.authorization_for(&bad).unwrap().unwrap();
        assert!(x_matrix::verify(Some(&h), "GET", &req.path, b"", "hs", &map).is_err());

        let mut bad = req.clone();
        bad.forge.destination = Some("elsewhere".into());
        let h = c.authorization_for(&bad).unwrap().unwrap();
        assert!(matches!(
            x_matrix::verify(Some(&h), "GET", &req.path, b"", "hs", &map),
            Err(x_matrix::AuthFailure::WrongDestination { .. })
        ));

        let mut bad = req.clone();
        bad.forge.sign_uri = Some("/other".into());
        let h = c.authorization_for(&bad).unwrap().unwrap();
        assert!(x_matrix::verify(Some(&h), "GET", &req.path, b"", "hs", &map).is_err());
    }

    #[test]
    fn tamper_changes_the_signature() {
        assert_ne!(tamper("AAAA"), "AAAA");
        assert_ne!(tamper("BBBB"), "BBBB");
    }

    #[tokio::test]
    async fn unreachable_destination_is_an_exchange_error_not_a_panic() {
        let c = client();
        let mut req = SignedRequest::new("GET", "localhost:1", "/_matrix/federation/v1/version");
        req.base_url = Some("https://127.0.0.1:1".into());
        let (ex, resp) = c.send(&req, Duration::from_secs(2)).await;
        assert!(resp.is_none());
        assert!(ex.error.is_some());
    }
}

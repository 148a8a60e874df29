//! Turning an inbound check into the exact bytes sent: `${...}` substitution, the JSON body,
//! and the X-Matrix Authorization header signed over what the check says (including the
//! deliberate mismatches and damage of the tampering checks).

use serde_json::Value;

use super::raw::RawRequest;
use super::suite::{HeaderStyle, Probe, Remote, Tamper};
use crate::federation::{ServerKey, client, x_matrix};

/// The remote servers the harness plays, and the gateway's server name.
#[derive(Debug, Clone)]
pub struct Roles {
    /// The homeserver's server name (X-Matrix destination).
    pub server_name: String,
    /// Key (and server name) of the first allowed remote.
    pub allowed: ServerKey,
    /// A second allowed remote.
    pub allowed2: ServerKey,
    /// A remote the gateway must refuse.
    pub denied: ServerKey,
}

impl Roles {
    /// The key of a role; `None` for anonymous.
    pub fn key(&self, role: Remote) -> Option<&ServerKey> {
        match role {
            Remote::Allowed => Some(&self.allowed),
            Remote::Allowed2 => Some(&self.allowed2),
            Remote::Denied => Some(&self.denied),
            Remote::Anonymous => None,
        }
    }

    /// Replace `${marker}`, `${server_name}`, `${allowed}`, `${allowed2}` and `${denied}`.
    pub fn subst(&self, text: &str, marker: &str) -> String {
        text.replace("${marker}", marker)
            .replace("${server_name}", &self.server_name)
            .replace("${allowed2}", self.allowed2.server_name())
            .replace("${allowed}", self.allowed.server_name())
            .replace("${denied}", self.denied.server_name())
    }

    fn subst_json(&self, value: &Value, marker: &str) -> Value {
        match value {
            Value::String(s) => Value::String(self.subst(s, marker)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.subst_json(v, marker)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (self.subst(k, marker), self.subst_json(v, marker)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

/// The request for `probe`, tagged with `marker`.
pub fn build(probe: &Probe, roles: &Roles, marker: &str) -> Result<RawRequest, String> {
    let target = roles.subst(&probe.target, marker);
    let json = probe
        .json
        .as_ref()
        .map(|j| pad(roles.subst_json(j, marker), probe.pad_to_bytes));
    let body = match &json {
        Some(j) => serde_json::to_vec(j).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let mut headers = Vec::new();
    if let Some(auth) = authorization(probe, roles, marker, &target, json.as_ref())? {
        headers.push(("authorization".to_owned(), auth));
    }
    if let Some(second) = probe.also_signed_by {
        let other = Probe {
            from: second,
            authorization: None,
            sign_as: Default::default(),
            tamper: None,
            header_style: None,
            ..probe.clone()
        };
        if let Some(auth) = authorization(&other, roles, marker, &target, json.as_ref())? {
            headers.push(("authorization".to_owned(), auth));
        }
    }
    if json.is_some() {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    for (name, value) in &probe.headers {
        headers.push((name.clone(), roles.subst(value, marker)));
    }
    if let Some(size) = probe.pad_header_bytes {
        headers.push(("x-mxh-padding".to_owned(), "x".repeat(size)));
    }
    Ok(RawRequest {
        method: probe.method.clone(),
        target,
        headers,
        body,
    })
}

/// Add a `padding` string so the body is at least `size` bytes.
fn pad(mut json: Value, size: Option<usize>) -> Value {
    if let (Some(size), Value::Object(map)) = (size, &mut json) {
        map.insert("padding".into(), Value::String("x".repeat(size)));
    }
    json
}

fn authorization(
    probe: &Probe,
    roles: &Roles,
    marker: &str,
    target: &str,
    json: Option<&Value>,
) -> Result<Option<String>, String> {
    if let Some(literal) = &probe.authorization {
        return Ok(Some(roles.subst(literal, marker)));
    }
    let Some(origin) = roles.key(probe.from) else {
        return Ok(None);
    };
    let signer = probe
        .sign_as
        .key_of
        .and_then(|r| roles.key(r))
        .unwrap_or(origin);
    let header_destination = match probe.destination.as_deref() {
        None => Some(roles.server_name.clone()),
        Some("none") => None,
        Some(d) => Some(roles.subst(d, marker)),
    };
    let signed_destination = probe
        .sign_as
        .destination
        .as_deref()
        .map(|d| roles.subst(d, marker))
        .or_else(|| header_destination.clone())
        .unwrap_or_else(|| roles.server_name.clone());
    let method = probe.sign_as.method.as_deref().unwrap_or(&probe.method);
    let signed_target = probe
        .sign_as
        .target
        .as_deref()
        .map(|t| roles.subst(t, marker))
        .unwrap_or_else(|| target.to_owned());
    let content = probe
        .sign_as
        .json
        .as_ref()
        .map(|j| roles.subst_json(j, marker))
        .or_else(|| json.cloned());
    let mut sig = x_matrix::request_signature(
        signer,
        method,
        &signed_target,
        origin.server_name(),
        &signed_destination,
        content.as_ref(),
    )
    .map_err(|e| e.to_string())?;
    match probe.tamper {
        Some(Tamper::FlipSignature) => sig = client::tamper(&sig),
        Some(Tamper::TruncateSignature) => sig.truncate(sig.len() / 2),
        None => {}
    }
    let header = x_matrix::format_header(
        origin.server_name(),
        header_destination.as_deref(),
        &signer.key_id(),
        &sig,
    )
    .map_err(|e| e.to_string())?;
    Ok(Some(match probe.header_style {
        None => header,
        Some(style) => restyle(&header, style),
    }))
}

/// Rewrite `X-Matrix a="1",b="2"` in another spec-valid form (values here never contain
/// commas or quotes: server names, key ids, base64).
fn restyle(header: &str, style: HeaderStyle) -> String {
    let Some(params) = header.strip_prefix("X-Matrix ") else {
        return header.to_owned();
    };
    let mut parts: Vec<String> = params.split(',').map(str::to_owned).collect();
    match style {
        HeaderStyle::Reordered => parts.reverse(),
        HeaderStyle::Unquoted => {
            for p in &mut parts {
                let bare = p.replace('"', "");
                // Only a token may go unquoted (RFC 9110 5.6.2); a colon is allowed unquoted
                // by the spec's "recipient should allow colons". A base64 `/` is neither.
                let value = bare.split_once('=').map_or("", |(_, v)| v);
                if value.chars().all(|c| c == ':' || is_tchar(c)) {
                    *p = bare;
                }
            }
        }
    }
    format!("X-Matrix {}", parts.join(","))
}

/// A `tchar` of RFC 9110 section 5.6.2.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::suite::SignAs;

    fn roles() -> Roles {
        let key = |n: &str| ServerKey::generate(n, "k1").unwrap();
        Roles {
            server_name: "localhost:8448".into(),
            allowed: key("localhost:1001"),
            allowed2: key("localhost:1002"),
            denied: key("localhost:1003"),
        }
    }

    fn probe(from: Remote) -> Probe {
        Probe {
            from,
            method: "PUT".into(),
            target: "/_matrix/federation/v1/send/${marker}".into(),
            json: Some(serde_json::json!({"origin": "${allowed}", "pdus": [], "edus": []})),
            pad_to_bytes: None,
            headers: vec![("x-probe".into(), "${marker}".into())],
            authorization: None,
            destination: None,
            sign_as: SignAs::default(),
            tamper: None,
            header_style: None,
            also_signed_by: None,
            pad_header_bytes: None,
            wire: None,
        }
    }

    #[test]
    fn a_signed_probe_verifies_and_a_tampered_one_does_not() {
        let roles = roles();
        let req = build(&probe(Remote::Allowed), &roles, "m1").unwrap();
        assert_eq!(req.target, "/_matrix/federation/v1/send/m1");
        let auth = &req.headers[0].1;
        assert!(auth.contains("origin=\"localhost:1001\""), "{auth}");
        assert!(auth.contains("destination=\"localhost:8448\""), "{auth}");
        let body: Value = serde_json::from_slice(&req.body).unwrap();
        assert_eq!(body["origin"], "localhost:1001");
        let keys = roles.allowed.public_key_map();
        let ok = x_matrix::verify(
            Some(auth),
            "PUT",
            &req.target,
            &req.body,
            "localhost:8448",
            &keys,
        );
        assert!(ok.is_ok(), "{ok:?}");

        let mut bad = probe(Remote::Allowed);
        bad.tamper = Some(Tamper::FlipSignature);
        let req = build(&bad, &roles, "m1").unwrap();
        let v = x_matrix::verify(
            Some(&req.headers[0].1),
            "PUT",
            &req.target,
            &req.body,
            "localhost:8448",
            &keys,
        );
        assert!(v.is_err());

        let mut reordered = probe(Remote::Allowed);
        reordered.header_style = Some(HeaderStyle::Reordered);
        let req = build(&reordered, &roles, "m1").unwrap();
        assert!(
            req.headers[0].1.starts_with("X-Matrix sig="),
            "{}",
            req.headers[0].1
        );
        let v = x_matrix::verify(
            Some(&req.headers[0].1),
            "PUT",
            &req.target,
            &req.body,
            "localhost:8448",
            &keys,
        );
        assert!(v.is_ok(), "{v:?}");

        assert_eq!(
            restyle(
                "X-Matrix origin=\"a:1\",key=\"ed25519:k\",sig=\"ab/c+d\"",
                HeaderStyle::Unquoted
            ),
            "X-Matrix origin=a:1,key=ed25519:k,sig=\"ab/c+d\""
        );

        let mut twice = probe(Remote::Allowed);
        twice.also_signed_by = Some(Remote::Denied);
        twice.pad_header_bytes = Some(10);
        let req = build(&twice, &roles, "m1").unwrap();
        let auths: Vec<&str> = req
            .headers
            .iter()
            .filter(|(n, _)| n == "authorization")
            .map(|(_, v)| v.as_str())
            .collect();
        assert_eq!(auths.len(), 2);
        assert!(
            auths[1].contains("origin=\"localhost:1003\""),
            "{}",
            auths[1]
        );
        let denied_keys = roles.denied.public_key_map();
        let v = x_matrix::verify(
            Some(auths[1]),
            "PUT",
            &req.target,
            &req.body,
            "localhost:8448",
            &denied_keys,
        );
        assert!(v.is_ok(), "{v:?}");
        assert!(
            req.headers
                .iter()
                .any(|(n, v)| n == "x-mxh-padding" && v.len() == 10)
        );

        let anon = build(&probe(Remote::Anonymous), &roles, "m1").unwrap();
        assert!(anon.headers.iter().all(|(n, _)| n != "authorization"));
    }
}

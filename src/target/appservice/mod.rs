//! The harness as an application service: the registration it gives a homeserver (spawned
//! Synapse: written into its config; `--target`: registered by the operator) and the role
//! that answers the homeserver on a loopback listener ([`role`]).

pub mod role;

pub use role::AppServiceRole;

/// Localpart prefix of the exclusive user namespace (`@_mxh_as_.*`).
pub const USER_PREFIX: &str = "_mxh_as_";
/// A second exclusive user namespace without the leading underscore (`@mxh-as-.*`): some
/// servers refuse every localpart starting with `_` to normal users before looking at
/// namespaces, so a check of `M_EXCLUSIVE` needs one they would otherwise allow.
pub const PLAIN_USER_PREFIX: &str = "mxh-as-";
/// Alias prefix of the exclusive alias namespace (`#_mxh_as_.*`).
pub const ALIAS_PREFIX: &str = "_mxh_as_";
/// The application service's id.
pub const ID: &str = "mxharness";
/// `sender_localpart` of the registration.
pub const SENDER_LOCALPART: &str = "_mxh_as_bot";

/// One application-service registration (application_service registration.yaml).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    /// `id`.
    pub id: String,
    /// `url`: where the homeserver reaches the role (`http://127.0.0.1:<port>`).
    pub url: String,
    /// `as_token`: what the role authenticates with at the homeserver.
    pub as_token: String,
    /// `hs_token`: what the homeserver authenticates with at the role.
    pub hs_token: String,
    /// `sender_localpart`.
    pub sender_localpart: String,
}

impl Registration {
    /// A registration with fresh tokens for a role listening at `url`.
    pub fn fresh(url: String) -> Self {
        let token = || {
            format!(
                "{}{}",
                uuid::Uuid::new_v4().simple(),
                uuid::Uuid::new_v4().simple()
            )
        };
        Self {
            id: ID.to_owned(),
            url,
            as_token: token(),
            hs_token: token(),
            sender_localpart: SENDER_LOCALPART.to_owned(),
        }
    }

    /// Read a registration an operator gave their server for the harness (`--target` with
    /// `--appservice-registration`): it must have the harness's exclusive namespaces (the
    /// scenarios rely on them) and a plain-HTTP loopback `url` with a port (where the role will
    /// listen).
    pub fn from_yaml(text: &str) -> Result<Self, String> {
        let v: serde_json::Value =
            serde_saphyr::from_str(text).map_err(|e| format!("not a YAML registration: {e}"))?;
        let field = |k: &str| {
            v.get(k)
                .and_then(serde_json::Value::as_str)
                .map(str::to_owned)
                .ok_or_else(|| format!("the registration has no string `{k}`"))
        };
        let reg = Self {
            id: field("id")?,
            url: field("url")?,
            as_token: field("as_token")?,
            hs_token: field("hs_token")?,
            sender_localpart: field("sender_localpart")?,
        };
        let has = |kind: &str, regex: &str| {
            v.pointer(&format!("/namespaces/{kind}"))
                .and_then(serde_json::Value::as_array)
                .is_some_and(|list| {
                    list.iter().any(|n| {
                        n.get("regex").and_then(serde_json::Value::as_str) == Some(regex)
                            && n.get("exclusive").and_then(serde_json::Value::as_bool) == Some(true)
                    })
                })
        };
        for (kind, regex) in [
            ("users", format!("@{USER_PREFIX}.*")),
            ("users", format!("@{PLAIN_USER_PREFIX}.*")),
            ("aliases", format!("#{ALIAS_PREFIX}.*")),
        ] {
            if !has(kind, &regex) {
                return Err(format!(
                    "the registration needs the exclusive {kind} namespace {regex:?} (see docs/targets.md)"
                ));
            }
        }
        reg.listen_addr()?;
        Ok(reg)
    }

    /// Where the role listens for this registration's `url`: `http://` on 127.0.0.1,
    /// `localhost` or `[::1]`, with an explicit port.
    pub fn listen_addr(&self) -> Result<std::net::SocketAddr, String> {
        let url = reqwest::Url::parse(&self.url)
            .map_err(|e| format!("the registration's url {:?} is not a URL: {e}", self.url))?;
        let host = url
            .host_str()
            .unwrap_or_default()
            .trim_start_matches('[')
            .trim_end_matches(']');
        let ip = match host.parse::<std::net::IpAddr>() {
            Ok(ip) if ip.is_loopback() => ip,
            Err(_) if host == "localhost" => std::net::Ipv4Addr::LOCALHOST.into(),
            _ => {
                return Err(format!(
                    "the registration's url {:?} must be on loopback (127.0.0.1, localhost or [::1]): \
                     the harness listens on loopback only",
                    self.url
                ));
            }
        };
        match (url.scheme(), url.port()) {
            ("http", Some(port)) => Ok(std::net::SocketAddr::new(ip, port)),
            _ => Err(format!(
                "the registration's url {:?} must be http:// with an explicit port",
                self.url
            )),
        }
    }

    /// The registration file's YAML: exclusive user namespaces `@_mxh_as_.*` and
    /// `@mxh-as-.*`, exclusive alias namespace `#_mxh_as_.*`, no room namespace, not rate
    /// limited.
    pub fn to_yaml(&self) -> String {
        let q = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
        format!(
            "id: {}\nurl: {}\nas_token: {}\nhs_token: {}\nsender_localpart: {}\n\
             rate_limited: false\nnamespaces:\n  users:\n    - exclusive: true\n      regex: {}\n    - exclusive: true\n      regex: {}\n  \
             aliases:\n    - exclusive: true\n      regex: {}\n  rooms: []\n",
            q(&self.id),
            q(&self.url),
            q(&self.as_token),
            q(&self.hs_token),
            q(&self.sender_localpart),
            q(&format!("@{USER_PREFIX}.*")),
            q(&format!("@{PLAIN_USER_PREFIX}.*")),
            q(&format!("#{ALIAS_PREFIX}.*")),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operator_registration_is_read_and_checked() {
        let r = Registration::fresh("http://127.0.0.1:29333".into());
        assert_eq!(Registration::from_yaml(&r.to_yaml()), Ok(r.clone()));
        assert_eq!(
            r.listen_addr().unwrap(),
            std::net::SocketAddr::from(([127, 0, 0, 1], 29333))
        );
        let elsewhere = r
            .to_yaml()
            .replace("127.0.0.1:29333", "bridge.example.org:29333");
        let err = Registration::from_yaml(&elsewhere).unwrap_err();
        assert!(err.contains("loopback"), "{err}");
        let no_port = r.to_yaml().replace("127.0.0.1:29333", "localhost");
        let err = Registration::from_yaml(&no_port).unwrap_err();
        assert!(err.contains("explicit port"), "{err}");
        let other_ns = r.to_yaml().replace("@mxh-as-.*", "@other_.*");
        let err = Registration::from_yaml(&other_ns).unwrap_err();
        assert!(err.contains("@mxh-as-.*"), "{err}");
        assert!(Registration::from_yaml("id: x").is_err());
    }

    #[test]
    fn registration_yaml_parses_with_the_namespaces() {
        let r = Registration::fresh("http://127.0.0.1:1234".into());
        assert_ne!(r.as_token, r.hs_token);
        let v: serde_json::Value = serde_saphyr::from_str(&r.to_yaml()).unwrap();
        assert_eq!(v["id"], "mxharness");
        assert_eq!(v["url"], "http://127.0.0.1:1234");
        assert_eq!(v["as_token"], r.as_token.as_str());
        assert_eq!(v["hs_token"], r.hs_token.as_str());
        assert_eq!(v["sender_localpart"], "_mxh_as_bot");
        assert_eq!(v["namespaces"]["users"][0]["regex"], "@_mxh_as_.*");
        assert_eq!(v["namespaces"]["users"][0]["exclusive"], true);
        assert_eq!(v["namespaces"]["users"][1]["regex"], "@mxh-as-.*");
        assert_eq!(v["namespaces"]["aliases"][0]["regex"], "#_mxh_as_.*");
        assert_eq!(v["namespaces"]["rooms"], serde_json::json!([]));
    }
}

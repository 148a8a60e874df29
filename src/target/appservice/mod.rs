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

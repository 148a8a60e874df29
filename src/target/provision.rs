//! Creates fresh users on the target: Synapse shared-secret admin registration, open
//! registration (UIA with `m.login.dummy`), or registration with a token.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use hmac::{Hmac, Mac};
use ruma::api::auth_scheme::SendAccessToken;
use ruma::api::client::account::register::v3 as register;
use ruma::api::client::uiaa::{AuthData, AuthType, Dummy, RegistrationToken, UiaaInfo};
use ruma::api::{IncomingResponseExt, OutgoingRequestExt, SupportedVersions};
use serde::Deserialize;
use sha1::Sha1;

/// Timeout for every provisioning request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Most UIA round trips the harness makes for one registration.
const MAX_UIA_ROUNDS: usize = 5;

/// How fresh users are created on the target.
#[derive(Clone, PartialEq, Eq)]
pub enum RegistrationMethod {
    /// Synapse's admin API `/_synapse/admin/v1/register`, authenticated by an HMAC over the
    /// server's `registration_shared_secret`.
    SharedSecret {
        /// The server's `registration_shared_secret`.
        secret: String,
    },
    /// `/_matrix/client/v3/register` with the `m.login.dummy` stage (open registration).
    Open,
    /// `/_matrix/client/v3/register` with the `m.login.registration_token` stage.
    Token {
        /// The registration token.
        token: String,
    },
}

impl RegistrationMethod {
    /// Stable name, as used on the command line and in reports.
    pub fn label(&self) -> &'static str {
        match self {
            RegistrationMethod::SharedSecret { .. } => "shared-secret",
            RegistrationMethod::Open => "open",
            RegistrationMethod::Token { .. } => "token",
        }
    }
}

impl fmt::Debug for RegistrationMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RegistrationMethod::SharedSecret { .. } => f
                .debug_struct("SharedSecret")
                .field("secret", &"<redacted>")
                .finish(),
            RegistrationMethod::Open => f.write_str("Open"),
            RegistrationMethod::Token { .. } => f
                .debug_struct("Token")
                .field("token", &"<redacted>")
                .finish(),
        }
    }
}

/// A user the harness created, logged in on one device.
#[derive(Clone)]
pub struct NewUser {
    /// Fully qualified user ID, `@localpart:server`.
    pub user_id: String,
    /// The localpart that was asked for.
    pub localpart: String,
    /// The password it was created with.
    pub password: String,
    /// Access token of the device created at registration.
    pub access_token: String,
    /// The device created at registration.
    pub device_id: String,
}

impl fmt::Debug for NewUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewUser")
            .field("user_id", &self.user_id)
            .field("localpart", &self.localpart)
            .field("password", &"<redacted>")
            .field("access_token", &"<redacted>")
            .field("device_id", &self.device_id)
            .finish()
    }
}

/// Why a user could not be created.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The request did not get an HTTP answer (connection refused, timeout, ...).
    #[error("registration ({method}): request to {url} failed: {reason}")]
    Transport {
        /// The registration method.
        method: &'static str,
        /// The URL that was called.
        url: String,
        /// Why it failed.
        reason: String,
    },
    /// The server answered with an error.
    #[error("registration ({method}) refused: HTTP {status} {errcode}: {message}{hint}")]
    Refused {
        /// The registration method.
        method: &'static str,
        /// HTTP status code.
        status: u16,
        /// Matrix `errcode`, or "-" when the body had none.
        errcode: String,
        /// The server's `error` text.
        message: String,
        /// What to do about it, starting with "; " (empty when there is no advice).
        hint: String,
    },
    /// The server answered with something the protocol does not allow.
    #[error("registration ({method}): unexpected answer from {url}: {detail}")]
    Protocol {
        /// The registration method.
        method: &'static str,
        /// The URL that was called.
        url: String,
        /// What was wrong.
        detail: String,
    },
    /// The method cannot do what was asked.
    #[error("registration ({method}): {detail}")]
    Unsupported {
        /// The registration method.
        method: &'static str,
        /// What cannot be done and the alternative.
        detail: String,
    },
}

/// Creates users on one server with one registration method.
#[derive(Debug, Clone)]
pub struct Provisioner {
    client: reqwest::Client,
    base_url: String,
    method: RegistrationMethod,
}

/// Compute the shared-secret registration MAC: hex HMAC-SHA1 keyed with the secret over
/// `nonce \0 user \0 password \0 admin|notadmin`.
pub fn shared_secret_mac(
    secret: &str,
    nonce: &str,
    user: &str,
    password: &str,
    admin: bool,
) -> Result<String, hmac::digest::InvalidLength> {
    // HMAC takes keys of any length; the error type comes from the generic key-init trait.
    let mut mac = Hmac::<Sha1>::new_from_slice(secret.as_bytes())?;
    mac.update(nonce.as_bytes());
    mac.update(b"\0");
    mac.update(user.as_bytes());
    mac.update(b"\0");
    mac.update(password.as_bytes());
    mac.update(b"\0");
    mac.update(if admin {
        b"admin" as &[u8]
    } else {
        b"notadmin"
    });
    Ok(hex::encode(mac.finalize().into_bytes()))
}

#[derive(Deserialize)]
struct NonceBody {
    nonce: String,
}

#[derive(Deserialize)]
struct AdminRegisterBody {
    user_id: String,
    access_token: String,
    device_id: String,
}

impl Provisioner {
    /// A provisioner for the server at `base_url` (client-server API root, e.g.
    /// `http://127.0.0.1:8008`). Every request times out after 10 s.
    pub fn new(
        base_url: impl Into<String>,
        method: RegistrationMethod,
    ) -> Result<Self, ProvisionError> {
        let client = crate::matrix::net::base_builder()
            .timeout(REQUEST_TIMEOUT)
            .build()
            .map_err(|e| ProvisionError::Unsupported {
                method: method.label(),
                detail: format!(
                    "cannot build the HTTP client: {}",
                    crate::matrix::net::error_chain(&e)
                ),
            })?;
        let base_url = base_url.into().trim_end_matches('/').to_owned();
        Ok(Self {
            client,
            base_url,
            method,
        })
    }

    /// The registration method in use.
    pub fn method(&self) -> &RegistrationMethod {
        &self.method
    }

    /// Create the user `localpart` with `password`, logged in on a fresh device.
    /// `admin` needs the shared-secret method.
    pub async fn create_user(
        &self,
        localpart: &str,
        password: &str,
        admin: bool,
    ) -> Result<NewUser, ProvisionError> {
        match &self.method {
            RegistrationMethod::SharedSecret { secret } => {
                self.shared_secret(secret, localpart, password, admin).await
            }
            RegistrationMethod::Open | RegistrationMethod::Token { .. } => {
                if admin {
                    return Err(ProvisionError::Unsupported {
                        method: self.method.label(),
                        detail: "cannot create a server admin through /register: use \
                                 --registration shared-secret with MXH_REGISTRATION_SHARED_SECRET"
                            .to_owned(),
                    });
                }
                self.uia_register(localpart, password).await
            }
        }
    }

    async fn shared_secret(
        &self,
        secret: &str,
        localpart: &str,
        password: &str,
        admin: bool,
    ) -> Result<NewUser, ProvisionError> {
        let url = format!("{}/_synapse/admin/v1/register", self.base_url);
        let (status, body) = self.send(self.client.get(&url), &url).await?;
        if status != 200 {
            return Err(self.refused(status, &body));
        }
        let nonce: NonceBody = self.parse(&url, &body)?;
        let mac =
            shared_secret_mac(secret, &nonce.nonce, localpart, password, admin).map_err(|e| {
                ProvisionError::Unsupported {
                    method: self.method.label(),
                    detail: format!("cannot compute the registration MAC: {e}"),
                }
            })?;
        let payload = serde_json::json!({
            "nonce": nonce.nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": mac,
        });
        let (status, body) = self
            .send(self.client.post(&url).json(&payload), &url)
            .await?;
        if status != 200 {
            return Err(self.refused(status, &body));
        }
        let created: AdminRegisterBody = self.parse(&url, &body)?;
        Ok(NewUser {
            user_id: created.user_id,
            localpart: localpart.to_owned(),
            password: password.to_owned(),
            access_token: created.access_token,
            device_id: created.device_id,
        })
    }

    /// The user-interactive registration flow: ask, then complete each stage of a flow made
    /// only of stages this method can do.
    async fn uia_register(
        &self,
        localpart: &str,
        password: &str,
    ) -> Result<NewUser, ProvisionError> {
        let url = format!("{}/_matrix/client/v3/register", self.base_url);
        let versions = SupportedVersions::from_parts(&["v1.1".to_owned()], &BTreeMap::new());
        let mut auth: Option<AuthData> = None;
        for _ in 0..MAX_UIA_ROUNDS {
            let mut request = register::Request::new();
            request.username = Some(localpart.to_owned());
            request.password = Some(password.to_owned());
            request.initial_device_display_name = Some("mxharness".to_owned());
            request.auth = auth.take();
            let http_request = request
                .try_into_http_request::<Vec<u8>>(
                    &self.base_url,
                    SendAccessToken::None,
                    std::borrow::Cow::Borrowed(&versions),
                )
                .map_err(|e| self.protocol(&url, format!("cannot build the request: {e}")))?;
            let http_request = reqwest::Request::try_from(http_request)
                .map_err(|e| self.protocol(&url, format!("cannot build the request: {e}")))?;
            let (status, body) = self.send_request(http_request, &url).await?;
            match status {
                200 => {
                    let response = http::Response::builder()
                        .status(status)
                        .body(body.as_slice())
                        .map_err(|e| self.protocol(&url, e.to_string()))?;
                    let response = register::Response::try_from_http_response(response)
                        .map_err(|e| self.protocol(&url, e.to_string()))?;
                    let access_token = response.access_token.ok_or_else(|| {
                        self.protocol(&url, "no access_token in the response".to_owned())
                    })?;
                    let device_id = response.device_id.ok_or_else(|| {
                        self.protocol(&url, "no device_id in the response".to_owned())
                    })?;
                    return Ok(NewUser {
                        user_id: response.user_id.to_string(),
                        localpart: localpart.to_owned(),
                        password: password.to_owned(),
                        access_token,
                        device_id: device_id.to_string(),
                    });
                }
                401 => {
                    let info: UiaaInfo = match serde_json::from_slice(&body) {
                        Ok(info) => info,
                        Err(_) => return Err(self.refused(status, &body)),
                    };
                    if let Some(err) = &info.auth_error {
                        // A stage we sent was rejected (e.g. an invalid token).
                        return Err(ProvisionError::Refused {
                            method: self.method.label(),
                            status,
                            errcode: err.kind.errcode().to_string(),
                            message: err.message.clone(),
                            hint: self.hint(status, err.kind.errcode().as_ref(), &err.message),
                        });
                    }
                    auth = Some(self.next_stage(&url, &info)?);
                }
                _ => return Err(self.refused(status, &body)),
            }
        }
        Err(self.protocol(
            &url,
            format!("registration not finished after {MAX_UIA_ROUNDS} rounds"),
        ))
    }

    /// Pick the first flow this method can complete and build the auth for its next stage.
    fn next_stage(&self, url: &str, info: &UiaaInfo) -> Result<AuthData, ProvisionError> {
        let can_do = |stage: &AuthType| match stage {
            AuthType::Dummy => true,
            AuthType::RegistrationToken => {
                matches!(self.method, RegistrationMethod::Token { .. })
            }
            _ => false,
        };
        let flow = info
            .flows
            .iter()
            .find(|flow| flow.stages.iter().all(&can_do));
        let Some(flow) = flow else {
            let offered: Vec<String> = info
                .flows
                .iter()
                .map(|f| {
                    let stages: Vec<&str> = f.stages.iter().map(|s| s.as_str()).collect();
                    format!("[{}]", stages.join(", "))
                })
                .collect();
            let needs_token = info
                .flows
                .iter()
                .any(|f| f.stages.contains(&AuthType::RegistrationToken));
            let hint = if needs_token && !matches!(self.method, RegistrationMethod::Token { .. }) {
                "the server requires a registration token: use --registration token with \
                 MXH_REGISTRATION_TOKEN"
            } else {
                "registration is closed on this server: use --registration shared-secret with \
                 MXH_REGISTRATION_SHARED_SECRET"
            };
            return Err(ProvisionError::Unsupported {
                method: self.method.label(),
                detail: format!(
                    "no registration flow the harness can complete (offered: {}); {hint}",
                    offered.join(" ")
                ),
            });
        };
        let stage = flow.stages.iter().find(|s| !info.completed.contains(s));
        let session = info.session.clone();
        match (stage, &self.method) {
            (Some(AuthType::RegistrationToken), RegistrationMethod::Token { token }) => {
                let mut data = RegistrationToken::new(token.clone());
                data.session = session;
                Ok(AuthData::RegistrationToken(data))
            }
            (Some(AuthType::Dummy), _) => {
                let mut data = Dummy::new();
                data.session = session;
                Ok(AuthData::Dummy(data))
            }
            _ => Err(self.protocol(
                url,
                "the server asks for more authentication although every stage is complete"
                    .to_owned(),
            )),
        }
    }

    async fn send(
        &self,
        builder: reqwest::RequestBuilder,
        url: &str,
    ) -> Result<(u16, Vec<u8>), ProvisionError> {
        let request = builder.build().map_err(|e| self.transport(url, &e))?;
        self.send_request(request, url).await
    }

    async fn send_request(
        &self,
        request: reqwest::Request,
        url: &str,
    ) -> Result<(u16, Vec<u8>), ProvisionError> {
        let response = self
            .client
            .execute(request)
            .await
            .map_err(|e| self.transport(url, &e))?;
        let status = response.status().as_u16();
        let body = crate::matrix::net::read_capped(response, crate::matrix::net::policy().max_body)
            .await
            .map_err(|e| ProvisionError::Transport {
                method: self.method.label(),
                url: url.to_owned(),
                reason: format!("HTTP {status}: {}", e.reason),
            })?;
        Ok((status, body))
    }

    fn parse<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        body: &[u8],
    ) -> Result<T, ProvisionError> {
        serde_json::from_slice(body).map_err(|e| self.protocol(url, format!("invalid JSON: {e}")))
    }

    fn transport(&self, url: &str, err: &reqwest::Error) -> ProvisionError {
        let mut reason = crate::matrix::net::error_chain(err);
        if err.is_timeout() {
            reason.push_str(" (no answer within 10 s)");
        }
        ProvisionError::Transport {
            method: self.method.label(),
            url: url.to_owned(),
            reason,
        }
    }

    fn protocol(&self, url: &str, detail: String) -> ProvisionError {
        ProvisionError::Protocol {
            method: self.method.label(),
            url: url.to_owned(),
            detail,
        }
    }

    fn refused(&self, status: u16, body: &[u8]) -> ProvisionError {
        let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
        let errcode = value
            .get("errcode")
            .and_then(|v| v.as_str())
            .unwrap_or("-")
            .to_owned();
        let message = match value.get("error").and_then(|v| v.as_str()) {
            Some(m) => m.to_owned(),
            None => String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
        };
        let hint = self.hint(status, &errcode, &message);
        ProvisionError::Refused {
            method: self.method.label(),
            status,
            errcode,
            message,
            hint,
        }
    }

    /// Advice for an error answer, given the method in use.
    fn hint(&self, status: u16, errcode: &str, message: &str) -> String {
        let lower = message.to_lowercase();
        let text = match (&self.method, status, errcode) {
            (_, 429, _) => {
                "rate limited: raise the server's rc_registration limits or provision fewer users"
            }
            (_, _, "M_USER_IN_USE") => "the user already exists: use a fresh localpart",
            (_, _, "M_INVALID_USERNAME") => "the localpart is not valid on this server",
            (RegistrationMethod::SharedSecret { .. }, _, _) if lower.contains("hmac") => {
                "the shared secret does not match the server's registration_shared_secret: \
                 check MXH_REGISTRATION_SHARED_SECRET"
            }
            (RegistrationMethod::SharedSecret { .. }, 404, _)
            | (RegistrationMethod::SharedSecret { .. }, 400, _)
                if lower.contains("not enabled") || status == 404 =>
            {
                "shared-secret registration is not available here (Synapse only, needs \
                 registration_shared_secret and the /_synapse/admin API): try --registration open \
                 or --registration token"
            }
            (RegistrationMethod::Token { .. }, _, _)
                if errcode == "M_FORBIDDEN" || errcode == "M_UNAUTHORIZED" =>
            {
                "the registration token was rejected: check MXH_REGISTRATION_TOKEN"
            }
            (RegistrationMethod::Open, 403, _) | (RegistrationMethod::Open, _, "M_FORBIDDEN") => {
                "registration is closed on this server: use --registration shared-secret with \
                 MXH_REGISTRATION_SHARED_SECRET"
            }
            _ => "",
        };
        if text.is_empty() {
            String::new()
        } else {
            format!("; {text}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mac_matches_openssl() {
        // Made once with:
        // printf 'nonce123\0alice\0wonderland\0notadmin' | openssl dgst -sha1 -hmac 'super-secret'
        assert_eq!(
            shared_secret_mac("super-secret", "nonce123", "alice", "wonderland", false).unwrap(),
            "397077af8512cd33f35bd07312a47f66c97e0ccf"
        );
        // printf 'nonce123\0root\0pw\0admin' | openssl dgst -sha1 -hmac 'super-secret'
        assert_eq!(
            shared_secret_mac("super-secret", "nonce123", "root", "pw", true).unwrap(),
            "b84c5c2ec291d34f23e4092e5465dd7074301fde"
        );
    }

    #[test]
    fn debug_redacts_secrets() {
        let m = RegistrationMethod::SharedSecret {
            secret: "s3cr3t-value".into(),
        };
        let t = RegistrationMethod::Token {
            token: "tok-value".into(),
        };
        let u = NewUser {
            user_id: "@a:localhost".into(),
            localpart: "a".into(),
            password: "pw-value".into(),
            access_token: "syt_token_value".into(),
            device_id: "DEV".into(),
        };
        let p = Provisioner::new("http://127.0.0.1:1/", m.clone()).unwrap();
        let text = format!("{m:?} {t:?} {u:?} {p:?}");
        for secret in ["s3cr3t-value", "tok-value", "pw-value", "syt_token_value"] {
            assert!(!text.contains(secret), "{secret} leaked in {text}");
        }
        assert!(text.contains("@a:localhost") && text.contains("DEV"));
        assert_eq!(p.base_url, "http://127.0.0.1:1");
    }

    #[test]
    fn labels() {
        assert_eq!(RegistrationMethod::Open.label(), "open");
        assert_eq!(
            RegistrationMethod::Token {
                token: String::new()
            }
            .label(),
            "token"
        );
        assert_eq!(
            RegistrationMethod::SharedSecret {
                secret: String::new()
            }
            .label(),
            "shared-secret"
        );
    }

    #[test]
    fn closed_registration_hint() {
        let p = Provisioner::new("http://127.0.0.1:1", RegistrationMethod::Open).unwrap();
        let err = p.refused(
            403,
            br#"{"errcode":"M_FORBIDDEN","error":"Registration has been disabled"}"#,
        );
        let text = err.to_string();
        assert!(text.contains("HTTP 403 M_FORBIDDEN"), "{text}");
        assert!(text.contains("--registration shared-secret"), "{text}");
        assert!(text.contains("(open)"), "{text}");
    }

    #[tokio::test]
    async fn unreachable_server_is_a_transport_error() {
        let p = Provisioner::new("http://127.0.0.1:9", RegistrationMethod::Open).unwrap();
        let err = p.create_user("x", "y", false).await.unwrap_err();
        assert!(
            matches!(err, ProvisionError::Transport { method: "open", .. }),
            "{err}"
        );
    }
}

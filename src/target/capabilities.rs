//! Probing, once per run, the optional features and configurable behaviours that scenarios
//! declare in `requires.capabilities` (and the room versions in `requires.room_versions`),
//! so a server that chose not to offer one gets skips with the reason, not failures.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Value, json};

use crate::matrix::encode_component;
use crate::matrix::http_client::HttpClient;
use crate::scenario::model::Capability;
use crate::target::users::{Provision, UserInfo};

/// What one probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probed {
    /// Whether the server offers it.
    pub offered: bool,
    /// What the server answered, in one line ("POST /register?kind=guest: 403 M_FORBIDDEN").
    pub evidence: String,
}

/// Everything probed for a run.
#[derive(Debug, Clone, Default)]
pub struct Capabilities {
    /// Per capability (only the ones some selected scenario needs).
    pub probed: BTreeMap<Capability, Probed>,
    /// `m.room_versions.available` of `/capabilities`, when probed.
    pub room_versions: Option<BTreeSet<String>>,
}

impl Capabilities {
    /// Why a scenario needing these is skipped, if it is.
    pub fn unmet(&self, caps: &[Capability], room_versions: &[String]) -> Option<String> {
        for cap in caps {
            match self.probed.get(cap) {
                Some(p) if p.offered => {}
                Some(p) => {
                    return Some(format!(
                        "requires {}: not offered by the server ({})",
                        cap.as_str(),
                        p.evidence
                    ));
                }
                None => {
                    return Some(format!("requires {}: not probed in this run", cap.as_str()));
                }
            }
        }
        if let Some(available) = &self.room_versions {
            for v in room_versions {
                if !available.contains(v) {
                    return Some(format!(
                        "requires room version {v}: /capabilities offers {}",
                        available.iter().cloned().collect::<Vec<_>>().join(", ")
                    ));
                }
            }
        }
        None
    }
}

/// Whether the harness's application service is registered with the target.
pub fn appservice_probed(role: Option<&crate::target::appservice::AppServiceRole>) -> Probed {
    match role {
        Some(r) => Probed {
            offered: true,
            evidence: format!("registered as `{}`", r.registration().id),
        },
        None => Probed {
            offered: false,
            evidence: "no application service of the harness is registered with this target \
                       (the spawned Synapse has one; see docs/targets.md)"
                .into(),
        },
    }
}

/// Whether the target's HTTP pushers reach the harness's push-gateway role.
pub fn push_gateway_probed(running: bool) -> Probed {
    Probed {
        offered: running,
        evidence: if running {
            "the spawned Synapse may push to loopback".into()
        } else {
            "the harness's push gateway listens on loopback, which only a spawned Synapse reaches"
                .into()
        },
    }
}

/// Whether the target sends mail through the harness's SMTP sink.
pub fn email_probed(running: bool) -> Probed {
    Probed {
        offered: running,
        evidence: if running {
            "the spawned Synapse sends mail to the harness's SMTP sink".into()
        } else {
            "the harness's SMTP sink listens on loopback and only a spawned Synapse is configured \
             to send mail to it"
                .into()
        },
    }
}

/// Whether the target reaches the harness's identity-server role.
pub fn identity_server_probed(running: bool) -> Probed {
    Probed {
        offered: running,
        evidence: if running {
            "the spawned Synapse reaches the harness's identity server on loopback".into()
        } else {
            "the harness's identity server listens on loopback with a self-signed certificate, \
             which only a spawned Synapse is told to accept"
                .into()
        },
    }
}

struct Prober<'a> {
    http: &'a HttpClient,
    base: &'a str,
}

/// One answer: status and JSON body (Null when none).
struct Answer {
    status: Option<u16>,
    body: Value,
    error: Option<String>,
}

impl Answer {
    fn describe(&self, what: &str) -> String {
        match (self.status, &self.error) {
            (Some(s), _) => {
                let code = self.body.get("errcode").and_then(Value::as_str);
                match code {
                    Some(c) => format!("{what}: {s} {c}"),
                    None => format!("{what}: {s}"),
                }
            }
            (None, Some(e)) => format!("{what}: no answer ({e})"),
            (None, None) => format!("{what}: no answer"),
        }
    }

    fn ok(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

impl Prober<'_> {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut builder = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json");
        if let Some(t) = token {
            builder = builder.header("authorization", format!("Bearer {t}"));
        }
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let Ok(request) = builder.body(bytes) else {
            return Answer {
                status: None,
                body: Value::Null,
                error: Some("cannot build the request".into()),
            };
        };
        let (exchange, received) = self.http.send(request, Duration::from_secs(10)).await;
        match received {
            Some(r) => Answer {
                status: Some(r.status),
                body: r.json().unwrap_or(Value::Null),
                error: None,
            },
            None => Answer {
                status: None,
                body: Value::Null,
                error: exchange.error,
            },
        }
    }
}

async fn user(provisioner: &dyn Provision) -> Result<UserInfo, String> {
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let localpart = format!("mxh-cap-{}", &tag[..12]);
    let password = uuid::Uuid::new_v4().simple().to_string();
    provisioner.create_user(&localpart, &password, false).await
}

/// Probe the capabilities in `needed` (and the room versions when `room_versions`).
pub async fn probe(
    http: &HttpClient,
    base_url: &str,
    provisioner: &dyn Provision,
    federation: bool,
    needed: &BTreeSet<Capability>,
    room_versions: bool,
) -> Capabilities {
    let mut out = Capabilities::default();
    if needed.is_empty() && !room_versions {
        return out;
    }
    let p = Prober {
        http,
        base: base_url,
    };
    let (a, b) = match (user(provisioner).await, user(provisioner).await) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => {
            for cap in needed {
                out.probed.insert(
                    *cap,
                    Probed {
                        offered: false,
                        evidence: format!("could not create a probe user: {e}"),
                    },
                );
            }
            return out;
        }
    };
    let caps = p
        .call(
            "GET",
            "/_matrix/client/v3/capabilities",
            Some(&a.access_token),
            None,
        )
        .await;
    if room_versions && caps.ok() {
        out.room_versions = caps.body["capabilities"]["m.room_versions"]["available"]
            .as_object()
            .map(|m| m.keys().cloned().collect());
    }
    for cap in needed {
        let probed = match cap {
            // Known to the caller, not to the server: see [`appservice_probed`].
            Capability::Appservice
            | Capability::PushGateway
            | Capability::Email
            | Capability::IdentityServer => continue,
            Capability::Federation => Probed {
                offered: federation,
                evidence: if federation {
                    "the run federates".into()
                } else {
                    "this run has no federation set up".into()
                },
            },
            Capability::SetDisplayname
            | Capability::SetAvatarUrl
            | Capability::ChangePassword
            | Capability::ThreepidChanges => {
                let key = match cap {
                    Capability::SetDisplayname => "m.set_displayname",
                    Capability::SetAvatarUrl => "m.set_avatar_url",
                    Capability::ThreepidChanges => "m.3pid_changes",
                    _ => "m.change_password",
                };
                // Absent means enabled (the capability's documented default).
                let enabled = caps.body["capabilities"][key]["enabled"]
                    .as_bool()
                    .unwrap_or(true);
                Probed {
                    offered: caps.ok() && enabled,
                    evidence: if caps.ok() {
                        format!("/capabilities {key}.enabled = {enabled}")
                    } else {
                        caps.describe("GET /capabilities")
                    },
                }
            }
            Capability::GuestAccess => {
                let r = p
                    .call(
                        "POST",
                        "/_matrix/client/v3/register?kind=guest",
                        None,
                        Some(json!({})),
                    )
                    .await;
                Probed {
                    offered: r.ok() && r.body.get("access_token").is_some(),
                    evidence: r.describe("POST /register?kind=guest"),
                }
            }
            Capability::OpenRegistration => {
                let r = p
                    .call("POST", "/_matrix/client/v3/register", None, Some(json!({})))
                    .await;
                let dummy = r.body["flows"].as_array().is_some_and(|flows| {
                    flows.iter().any(|f| {
                        f["stages"]
                            .as_array()
                            .is_some_and(|s| s.len() == 1 && s[0].as_str() == Some("m.login.dummy"))
                    })
                });
                Probed {
                    offered: dummy,
                    evidence: if dummy {
                        "POST /register offers the m.login.dummy flow".into()
                    } else {
                        r.describe("POST /register (no m.login.dummy flow)")
                    },
                }
            }
            Capability::Presence => {
                let path = format!(
                    "/_matrix/client/v3/presence/{}/status",
                    encode_component(&a.user_id)
                );
                let set = p
                    .call(
                        "PUT",
                        &path,
                        Some(&a.access_token),
                        Some(json!({"presence": "online"})),
                    )
                    .await;
                let get = p.call("GET", &path, Some(&a.access_token), None).await;
                let state = get.body["presence"].as_str().unwrap_or("").to_owned();
                Probed {
                    offered: set.ok() && get.ok() && state == "online",
                    evidence: format!(
                        "{}; reads back {:?}",
                        set.describe("PUT own presence online"),
                        state
                    ),
                }
            }
            Capability::ProfileLookup => {
                let path = format!(
                    "/_matrix/client/v3/profile/{}",
                    encode_component(&b.user_id)
                );
                let authed = p.call("GET", &path, Some(&a.access_token), None).await;
                let anon = p.call("GET", &path, None, None).await;
                Probed {
                    offered: authed.ok() && anon.ok(),
                    evidence: format!(
                        "{}; {}",
                        authed.describe("GET /profile of a user sharing no room"),
                        anon.describe("unauthenticated")
                    ),
                }
            }
            Capability::RefreshTokens => {
                let r = p
                    .call(
                        "POST",
                        "/_matrix/client/v3/login",
                        None,
                        Some(json!({
                            "type": "m.login.password",
                            "identifier": {"type": "m.id.user", "user": a.localpart},
                            "password": a.password,
                            "refresh_token": true
                        })),
                    )
                    .await;
                let has = r.body.get("refresh_token").is_some_and(Value::is_string);
                Probed {
                    offered: r.ok() && has,
                    evidence: format!(
                        "{}{}",
                        r.describe("POST /login with refresh_token: true"),
                        if has { "" } else { ", no refresh_token" }
                    ),
                }
            }
            Capability::UserDirectoryAll => {
                // The directory is updated in the background: ask a few times.
                let mut last = None;
                let mut found = false;
                for _ in 0..10 {
                    let r = p
                        .call(
                            "POST",
                            "/_matrix/client/v3/user_directory/search",
                            Some(&a.access_token),
                            Some(json!({"search_term": b.localpart, "limit": 10})),
                        )
                        .await;
                    found = r.body["results"].as_array().is_some_and(|rs| {
                        rs.iter().any(|u| u["user_id"].as_str() == Some(&b.user_id))
                    });
                    last = Some(r);
                    if found {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                Probed {
                    offered: found,
                    evidence: last.map_or_else(String::new, |r| {
                        format!(
                            "{}{}",
                            r.describe("user directory search for a user sharing no room"),
                            if found { "" } else { ", not found" }
                        )
                    }),
                }
            }
            Capability::DelayedEvents => delayed_events(&p, &a).await,
            Capability::PasswordPolicy => password_policy(&p, &b).await,
            Capability::RegistrationTerms => registration_terms(&p).await,
            Capability::SsoLogin => sso_login(&p).await,
            Capability::RoomPublication => match probe_room(&p, &a).await {
                Ok(id) => {
                    let path = format!(
                        "/_matrix/client/v3/directory/list/room/{}",
                        encode_component(&id)
                    );
                    let r = p
                        .call(
                            "PUT",
                            &path,
                            Some(&a.access_token),
                            Some(json!({"visibility": "public"})),
                        )
                        .await;
                    Probed {
                        offered: r.ok(),
                        evidence: r.describe("PUT /directory/list/room public"),
                    }
                }
                Err(not) => not,
            },
        };
        out.probed.insert(*cap, probed);
    }
    out
}

/// A fresh room of `a`'s for a probe, or why the capability cannot be probed.
async fn probe_room(p: &Prober<'_>, a: &UserInfo) -> Result<String, Probed> {
    let room = p
        .call(
            "POST",
            "/_matrix/client/v3/createRoom",
            Some(&a.access_token),
            Some(json!({})),
        )
        .await;
    match room.body["room_id"].as_str() {
        Some(id) => Ok(id.to_owned()),
        None => Err(Probed {
            offered: false,
            evidence: room.describe("POST /createRoom"),
        }),
    }
}

/// MSC4140's unstable scheduling: a message sent with `org.matrix.msc4140.delay` is answered
/// with a `delay_id` (a server without the feature ignores the parameter and sends it at once,
/// or refuses it). The probe's delayed event is cancelled again.
async fn delayed_events(p: &Prober<'_>, a: &UserInfo) -> Probed {
    let room_id = match probe_room(p, a).await {
        Ok(id) => id,
        Err(not) => return not,
    };
    let path = format!(
        "/_matrix/client/v3/rooms/{}/send/m.room.message/mxh-probe-{}?org.matrix.msc4140.delay=600000",
        encode_component(&room_id),
        uuid::Uuid::new_v4().simple()
    );
    let r = p
        .call(
            "PUT",
            &path,
            Some(&a.access_token),
            Some(json!({"msgtype": "m.text", "body": "mxharness capability probe"})),
        )
        .await;
    let delay_id = r.body["delay_id"].as_str().map(str::to_owned);
    let what = "PUT /send?org.matrix.msc4140.delay=600000";
    match delay_id {
        Some(id) if r.ok() => {
            let cancel = format!(
                "/_matrix/client/unstable/org.matrix.msc4140/delayed_events/{}/cancel",
                encode_component(&id)
            );
            p.call("POST", &cancel, Some(&a.access_token), Some(json!({})))
                .await;
            Probed {
                offered: true,
                evidence: format!("{}, with a delay_id", r.describe(what)),
            }
        }
        _ => Probed {
            offered: false,
            evidence: if r.ok() {
                format!("{}, no delay_id (the delay was ignored)", r.describe(what))
            } else {
                r.describe(what)
            },
        },
    }
}

/// Whether a one-character new password is refused (any 4xx but the 401 of an unfinished
/// user-interactive authentication). Changes the probe user's password when it is not.
async fn password_policy(p: &Prober<'_>, b: &UserInfo) -> Probed {
    let r = p
        .call(
            "POST",
            "/_matrix/client/v3/account/password",
            Some(&b.access_token),
            Some(json!({
                "new_password": "a",
                "logout_devices": false,
                "auth": {
                    "type": "m.login.password",
                    "identifier": {"type": "m.id.user", "user": b.user_id},
                    "password": b.password
                }
            })),
        )
        .await;
    let refused = r
        .status
        .is_some_and(|s| (400..500).contains(&s) && s != 401 && s != 429);
    let what = "POST /account/password with a one-character password";
    Probed {
        offered: refused,
        evidence: if r.status == Some(401) {
            format!("{} (the password stage was not accepted)", r.describe(what))
        } else {
            r.describe(what)
        },
    }
}

/// Whether a `/register` flow includes the `m.login.terms` stage.
async fn registration_terms(p: &Prober<'_>) -> Probed {
    let r = p
        .call("POST", "/_matrix/client/v3/register", None, Some(json!({})))
        .await;
    let terms = r.body["flows"].as_array().is_some_and(|flows| {
        flows.iter().any(|f| {
            f["stages"]
                .as_array()
                .is_some_and(|s| s.iter().any(|st| st.as_str() == Some("m.login.terms")))
        })
    });
    Probed {
        offered: terms,
        evidence: if terms {
            "POST /register offers a flow with m.login.terms".into()
        } else {
            r.describe("POST /register (no flow with m.login.terms)")
        },
    }
}

/// Whether `GET /login` lists an `m.login.sso` flow.
async fn sso_login(p: &Prober<'_>) -> Probed {
    let r = p.call("GET", "/_matrix/client/v3/login", None, None).await;
    let sso = r.body["flows"]
        .as_array()
        .is_some_and(|flows| flows.iter().any(|f| f["type"] == "m.login.sso"));
    Probed {
        offered: sso,
        evidence: if sso {
            "GET /login lists m.login.sso".into()
        } else {
            r.describe("GET /login (no m.login.sso flow)")
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unmet_capabilities_name_the_evidence() {
        let mut c = Capabilities::default();
        c.probed.insert(
            Capability::GuestAccess,
            Probed {
                offered: false,
                evidence: "POST /register?kind=guest: 403 M_FORBIDDEN".into(),
            },
        );
        c.probed.insert(
            Capability::Presence,
            Probed {
                offered: true,
                evidence: String::new(),
            },
        );
        c.room_versions = Some(["10".to_owned(), "11".to_owned()].into());
        assert_eq!(c.unmet(&[Capability::Presence], &["10".into()]), None);
        let why = c.unmet(&[Capability::GuestAccess], &[]).unwrap();
        assert!(why.contains("guest-access") && why.contains("403"), "{why}");
        let why = c.unmet(&[], &["3".into()]).unwrap();
        assert!(why.contains("room version 3"), "{why}");
    }
}

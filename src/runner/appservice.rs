//! `appservice` and `push_gateway` steps at run time: the `${appservice.*}` variables and the
//! judging of the requests the harness's roles received from the target.

use serde_json::{Value, json};

use super::RunContext;
use super::federation::{Outcome, synthetic};
use crate::matrix::http_client::Received;
use crate::plan::template::Vars;
use crate::results::redact::Redactor;
use crate::scenario::model::{RawEmailInbound, RawRoleInbound};
use crate::target::appservice::{ALIAS_PREFIX, AppServiceRole, PLAIN_USER_PREFIX, USER_PREFIX};
use crate::target::recorder::RoleRequest;

/// `${appservice.id}`, `.as_token` (a secret from here on), `.sender`, `.user_prefix`,
/// `.plain_user_prefix`, `.alias_prefix`.
pub(super) fn set_vars(
    role: &AppServiceRole,
    server_name: &str,
    vars: &mut Vars,
    redactor: &mut Redactor,
) {
    let reg = role.registration();
    redactor.add_secret(reg.as_token.clone());
    redactor.add_secret(reg.hs_token.clone());
    vars.set("appservice.id", json!(reg.id));
    vars.set("appservice.as_token", json!(reg.as_token));
    vars.set(
        "appservice.sender",
        json!(format!("@{}:{server_name}", reg.sender_localpart)),
    );
    vars.set("appservice.user_prefix", json!(USER_PREFIX));
    vars.set("appservice.plain_user_prefix", json!(PLAIN_USER_PREFIX));
    vars.set("appservice.alias_prefix", json!(ALIAS_PREFIX));
}

/// The newest received request matching `a` that `candidate_ok` accepts (else the newest
/// matching one, for the failure's transcript), as a synthetic response: the request's JSON
/// body with the status the role answered.
pub(super) fn inbound(
    a: &RawRoleInbound,
    ctx: &RunContext,
    vars: &Vars,
    candidate_ok: &(dyn Fn(&Received) -> bool + Sync),
) -> Outcome {
    let Some(role) = ctx.appservice.as_ref() else {
        return Outcome::Broken("no application service is registered in this run".into());
    };
    judge(
        a,
        &role.requests(),
        vars,
        "the application service",
        candidate_ok,
    )
}

/// Like [`inbound`], over what the push-gateway role received.
pub(super) fn push_inbound(
    a: &RawRoleInbound,
    ctx: &RunContext,
    vars: &Vars,
    candidate_ok: &(dyn Fn(&Received) -> bool + Sync),
) -> Outcome {
    let Some(role) = ctx.push_gateway.as_ref() else {
        return Outcome::Broken("no push gateway runs in this run".into());
    };
    judge(a, &role.requests(), vars, "the push gateway", candidate_ok)
}

/// Like [`inbound`], over the messages the SMTP sink received (method `MAIL`, the `to`
/// regular expression over the envelope recipients).
pub(super) fn email_inbound(
    a: &RawEmailInbound,
    ctx: &RunContext,
    vars: &Vars,
    candidate_ok: &(dyn Fn(&Received) -> bool + Sync),
) -> Outcome {
    let Some(sink) = ctx.email_sink.as_ref() else {
        return Outcome::Broken("no SMTP sink runs in this run".into());
    };
    let as_role = RawRoleInbound {
        method: crate::target::email_sink::MAIL_METHOD.to_owned(),
        path: a.to.clone(),
        authenticated: Some(false),
        none: false,
        wait: None,
    };
    let messages = match select_mail(a, &sink.messages(), vars) {
        Ok(m) => m,
        Err(o) => return o,
    };
    judge(&as_role, &messages, vars, "the SMTP sink", candidate_ok)
}

/// Like [`inbound`], over what the identity-server role received.
pub(super) fn identity_inbound(
    a: &RawRoleInbound,
    ctx: &RunContext,
    vars: &Vars,
    candidate_ok: &(dyn Fn(&Received) -> bool + Sync),
) -> Outcome {
    let Some(role) = ctx.identity_server.as_ref() else {
        return Outcome::Broken("no identity server runs in this run".into());
    };
    judge(
        a,
        &role.requests(),
        vars,
        "the identity server",
        candidate_ok,
    )
}

/// `${identity_server.host}` (what `id_server` names), `.access_token` (a secret from here
/// on), `.public_key` (of its stored invites), `.bound_prefix` (local-part prefix of the
/// addresses it reports bound: `mxid-bob@<server>` is `@bob:<server>`).
pub(super) fn set_identity_vars(
    role: &crate::target::identity_server::IdentityServerRole,
    vars: &mut Vars,
    redactor: &mut Redactor,
) {
    redactor.add_secret(role.access_token().to_owned());
    vars.set("identity_server.host", json!(role.host()));
    vars.set("identity_server.access_token", json!(role.access_token()));
    vars.set("identity_server.public_key", json!(role.public_key()));
    vars.set(
        "identity_server.bound_prefix",
        json!(crate::target::identity_server::BOUND_PREFIX),
    );
}

/// The messages to `a.to` (only the `a.nth` one when set), oldest first.
fn select_mail(
    a: &RawEmailInbound,
    messages: &[RoleRequest],
    vars: &Vars,
) -> Result<Vec<RoleRequest>, Outcome> {
    let text = vars
        .text_of(&format!("^(?:{})$", a.to))
        .map_err(|e| Outcome::Broken(format!("to: {e}")))?;
    let to = regex::Regex::new(&text).map_err(|e| Outcome::Broken(e.to_string()))?;
    let mine: Vec<RoleRequest> = messages
        .iter()
        .filter(|m| to.is_match(&m.path))
        .cloned()
        .collect();
    Ok(match a.nth {
        None => mine,
        Some(n) => mine.into_iter().skip(n.saturating_sub(1)).take(1).collect(),
    })
}

/// The link an `email` step with `follow` clicks: the first link matching `follow` of the
/// newest message to `to` that has one; it must lie under `base_url` (the harness only
/// requests the target). NotYet while no such message arrived.
pub(super) fn email_link(
    a: &RawEmailInbound,
    ctx: &RunContext,
    base_url: &str,
    vars: &Vars,
) -> Result<String, Outcome> {
    let Some(sink) = ctx.email_sink.as_ref() else {
        return Err(Outcome::Broken("no SMTP sink runs in this run".into()));
    };
    let pattern = |p: &str| -> Result<regex::Regex, Outcome> {
        let text = vars
            .text_of(p)
            .map_err(|e| Outcome::Broken(e.to_string()))?;
        regex::Regex::new(&text).map_err(|e| Outcome::Broken(e.to_string()))
    };
    let follow = pattern(a.follow.as_deref().unwrap_or(""))?;
    let messages = sink.messages();
    let link = select_mail(a, &messages, vars)?.iter().rev().find_map(|m| {
        m.json
            .as_ref()
            .and_then(|j| j.get("links"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .find(|l| follow.is_match(l))
            .map(str::to_owned)
    });
    match link {
        None => Err(Outcome::NotYet(format!(
            "the SMTP sink has received no {}mail to {} with a link matching {:?} yet ({} messages in all)",
            a.nth.map(|n| format!("#{n} ")).unwrap_or_default(),
            a.to,
            a.follow.as_deref().unwrap_or(""),
            messages.len()
        ))),
        Some(l) if !l.starts_with(&format!("{}/", base_url.trim_end_matches('/'))) => {
            Err(Outcome::Broken(format!(
                "the link {l:?} in the mail does not lead to the target ({base_url}); not followed"
            )))
        }
        Some(l) => Ok(l),
    }
}

/// An `email` step with `follow`: GET the link, and with `confirm` submit the page's POST form.
pub(super) async fn email_follow(
    a: &RawEmailInbound,
    ctx: &RunContext,
    base_url: &str,
    vars: &Vars,
    timeout: std::time::Duration,
) -> Outcome {
    let url = match email_link(a, ctx, base_url, vars) {
        Ok(u) => u,
        Err(o) => return o,
    };
    let request = match http::Request::get(url.as_str()).body(Vec::new()) {
        Ok(r) => r,
        Err(e) => return Outcome::Broken(format!("link {url:?}: {e}")),
    };
    let (exchange, received) = ctx.http.send(request, timeout).await;
    if !a.confirm {
        return Outcome::Response(Box::new((exchange, received)));
    }
    let Some(page) = received.filter(|r| r.status == 200) else {
        return Outcome::Response(Box::new((exchange, None)));
    };
    let html = String::from_utf8_lossy(&page.body).into_owned();
    let Some((action, fields)) = crate::target::email_sink::post_form(&html) else {
        return Outcome::Broken(format!(
            "the page the link {url:?} opens has no method=\"post\" form to confirm"
        ));
    };
    let base = base_url.trim_end_matches('/');
    let target = match action.as_deref() {
        None | Some("") => url.clone(),
        Some(p) if p.starts_with('/') => format!("{base}{p}"),
        Some(p) if p.starts_with(&format!("{base}/")) => p.to_owned(),
        Some(p) => {
            return Outcome::Broken(format!(
                "the confirmation form posts to {p:?}, not under the target ({base_url})"
            ));
        }
    };
    let body = fields
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    let request = http::Request::post(target.as_str())
        .header(
            http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(body.into_bytes());
    match request {
        Ok(r) => Outcome::Response(Box::new(ctx.http.send(r, timeout).await)),
        Err(e) => Outcome::Broken(format!("form {target:?}: {e}")),
    }
}

fn form_encode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// What a role step with `none: true` found: no matching request yet, or the first one.
pub(super) enum Unwanted {
    /// None arrived (so far).
    Nothing,
    /// This one arrived (as a synthetic exchange, for the transcript).
    Arrived(Box<(crate::results::Exchange, Option<Received>)>),
    /// The step cannot run.
    Broken(String),
}

/// A role step with `none: true`: the oldest received request matching `a` that
/// `candidate_ok` accepts, if any.
pub(super) fn unwanted(
    action: &crate::plan::Action,
    ctx: &RunContext,
    vars: &Vars,
    candidate_ok: &(dyn Fn(&Received) -> bool + Sync),
) -> Unwanted {
    use crate::plan::Action;
    let (a, requests) = match action {
        Action::Appservice(a) => (a, ctx.appservice.as_ref().map(|r| r.requests())),
        Action::PushGateway(a) => (a, ctx.push_gateway.as_ref().map(|r| r.requests())),
        Action::IdentityServer(a) => (a, ctx.identity_server.as_ref().map(|r| r.requests())),
        _ => {
            return Unwanted::Broken(
                "internal error: `none` on a step that is not a role's".into(),
            );
        }
    };
    let Some(requests) = requests else {
        return Unwanted::Broken("the role this step watches does not run in this run".into());
    };
    let matching = match candidates(a, &requests, vars) {
        Ok(m) => m,
        Err(e) => return Unwanted::Broken(e),
    };
    for r in matching {
        let pair = synthetic_of(r);
        if pair.1.as_ref().is_some_and(candidate_ok) {
            return Unwanted::Arrived(Box::new(pair));
        }
    }
    Unwanted::Nothing
}

/// The requests matching `a`'s method, path and authentication, oldest first.
fn candidates<'r>(
    a: &RawRoleInbound,
    requests: &'r [RoleRequest],
    vars: &Vars,
) -> Result<Vec<&'r RoleRequest>, String> {
    // Variables in the path are the scenario's own values (hex ids, prefixes), not patterns.
    let path = vars.text_of(&a.path).map_err(|e| format!("path: {e}"))?;
    let re = regex::Regex::new(&format!("^(?:{path})$")).map_err(|e| e.to_string())?;
    let want_auth = a.authenticated.unwrap_or(true);
    Ok(requests
        .iter()
        .filter(|r| r.method.eq_ignore_ascii_case(&a.method) && re.is_match(&r.path))
        .filter(|r| !want_auth || r.authenticated)
        .collect())
}

/// A received request as the synthetic exchange and response the checks judge.
fn synthetic_of(r: &RoleRequest) -> (crate::results::Exchange, Option<Received>) {
    let body = r.json.clone().unwrap_or(Value::Null);
    let (mut exchange, received) = synthetic(&r.method, &r.uri, r.status, &body);
    exchange.request_headers = r.headers.clone();
    exchange.request_body = Some(r.body.clone());
    (exchange, received)
}

fn judge(
    a: &RawRoleInbound,
    requests: &[RoleRequest],
    vars: &Vars,
    who: &str,
    candidate_ok: &(dyn Fn(&Received) -> bool + Sync),
) -> Outcome {
    let matching = match candidates(a, requests, vars) {
        Ok(m) => m,
        Err(e) => return Outcome::Broken(e),
    };
    let want_auth = a.authenticated.unwrap_or(true);
    let mut last = None;
    for r in matching.into_iter().rev() {
        let (exchange, received) = synthetic_of(r);
        if let Some(rec) = &received
            && candidate_ok(rec)
        {
            return Outcome::Response(Box::new((exchange, received)));
        }
        if last.is_none() {
            last = Some((exchange, received));
        }
    }
    match last {
        Some(pair) => Outcome::Response(Box::new(pair)),
        None => Outcome::NotYet(format!(
            "{who} has received no {}{} {} request yet",
            if want_auth { "authenticated " } else { "" },
            a.method,
            a.path
        )),
    }
}

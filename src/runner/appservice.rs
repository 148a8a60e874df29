//! `appservice` and `push_gateway` steps at run time: the `${appservice.*}` variables and the
//! judging of the requests the harness's roles received from the target.

use serde_json::{Value, json};

use super::RunContext;
use super::federation::{Outcome, synthetic};
use crate::matrix::http_client::Received;
use crate::plan::template::Vars;
use crate::results::redact::Redactor;
use crate::scenario::model::RawRoleInbound;
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

fn judge(
    a: &RawRoleInbound,
    requests: &[RoleRequest],
    vars: &Vars,
    who: &str,
    candidate_ok: &(dyn Fn(&Received) -> bool + Sync),
) -> Outcome {
    // Variables in the path are the scenario's own values (hex ids, prefixes), not patterns.
    let path = match vars.text_of(&a.path) {
        Ok(p) => p,
        Err(e) => return Outcome::Broken(format!("path: {e}")),
    };
    let re = match regex::Regex::new(&format!("^(?:{path})$")) {
        Ok(r) => r,
        Err(e) => return Outcome::Broken(e.to_string()),
    };
    let want_auth = a.authenticated.unwrap_or(true);
    let mut last = None;
    for r in requests
        .iter()
        .rev()
        .filter(|r| r.method.eq_ignore_ascii_case(&a.method) && re.is_match(&r.path))
        .filter(|r| !want_auth || r.authenticated)
    {
        let body = r.json.clone().unwrap_or(Value::Null);
        let (mut exchange, received) = synthetic(&r.method, &r.uri, r.status, &body);
        exchange.request_headers = r.headers.clone();
        exchange.request_body = Some(r.body.clone());
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

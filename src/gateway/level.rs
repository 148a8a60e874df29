//! The level a gateway check's failure counts at. A check's `level` is that of what the spec
//! requires of the receiving deployment as a whole (e.g. `must`: a request whose signature
//! does not verify is refused). Two parts of a verdict are never the spec's: that a refusal is
//! made *before the homeserver* (by the gateway, not by the homeserver behind it), and the one
//! exact status a product profile expects where the check file accepts several. When a check
//! fails on those parts only, the spec requirement was met and the failure is a `policy` one.

use super::suite::{Check, Verdict};
use crate::results::CheckFailure;
use crate::scenario::model::Level;

/// Basis of a failure of "refused before the homeserver" alone.
pub const BEFORE_HOMESERVER: &str = "gateway policy: a refused request never reaches the homeserver (the spec requires the refusal, not where it is made)";

/// Basis of a failure of a product profile's exact status alone.
pub const PROFILE_STATUS: &str =
    "gateway policy: the product profile's exact refusal status (the check accepts more)";

/// When the spec requirement of a failed `must`/`should`/`may` check was met and only its
/// gateway-policy parts failed: the basis to report the failure under (at level `policy`).
/// `None` when the check is `policy` already, passed, or failed on its spec part.
pub fn policy_only_failure(check: &Check, failures: &[CheckFailure]) -> Option<String> {
    if check.level == Level::Policy || failures.is_empty() {
        return None;
    }
    let mut upstream = false;
    let mut profile = false;
    for f in failures {
        match f.kind.as_str() {
            "reached-upstream" => upstream = true,
            "status" if status_allowed_by_file(check, f) => profile = true,
            _ => return None,
        }
    }
    Some(match (upstream, profile) {
        (true, true) => format!("{BEFORE_HOMESERVER}; {PROFILE_STATUS}"),
        (true, false) => BEFORE_HOMESERVER.to_owned(),
        _ => PROFILE_STATUS.to_owned(),
    })
}

/// Whether the status a `status` failure reports is one the check file itself accepts (so
/// only a product profile's narrowing refused it).
fn status_allowed_by_file(check: &Check, failure: &CheckFailure) -> bool {
    let Some(status) = failure
        .actual
        .as_deref()
        .and_then(|a| a.parse::<u16>().ok())
    else {
        return false;
    };
    match (&check.file_status, check.expect.verdict) {
        (Some(allowed), _) => allowed.contains(&status),
        (None, Verdict::Refused) => (400..500).contains(&status),
        (None, Verdict::Forwarded) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::suite;
    use std::path::Path;

    fn check(level: &str, status: &str) -> Check {
        let text = format!(
            "schema: 1\nid: gateway/signature/x\ntitle: t\narea: signatures\nlevel: {level}\nbasis: \"b\"\ngateway: {{ from: allowed, method: GET, target: /x }}\nexpect: {{ verdict: refused{status} }}\n"
        );
        suite::parse(Path::new("x.yaml"), &text).unwrap()
    }

    fn failure(kind: &str, actual: &str) -> CheckFailure {
        crate::check::failure("x.yaml:1:1", kind, "m".into(), None, Some(actual.into()))
    }

    #[test]
    fn only_the_gateway_parts_of_a_spec_check_fail_as_policy() {
        let must = check("must", "");
        let upstream = failure("reached-upstream", "PUT /x");
        assert_eq!(
            policy_only_failure(&must, std::slice::from_ref(&upstream)).as_deref(),
            Some(BEFORE_HOMESERVER)
        );
        // The deployment answered 200: the spec requirement failed too.
        let accepted = [failure("status", "200"), upstream.clone()];
        assert_eq!(policy_only_failure(&must, &accepted), None);
        assert_eq!(
            policy_only_failure(&must, &[failure("error-body", "")]),
            None
        );
        // A product profile narrowed "any 4xx" to 401 and the gateway answered 403.
        let mut narrowed = must.clone();
        narrowed.expect.status = Some(vec![401]);
        let both = [failure("status", "403"), upstream.clone()];
        assert!(
            policy_only_failure(&narrowed, &both)
                .is_some_and(|b| b.contains(PROFILE_STATUS) && b.contains(BEFORE_HOMESERVER))
        );
        // The file's own list is the spec's: outside it is a spec failure.
        let listed = check("must", ", status: [401]");
        assert_eq!(
            policy_only_failure(&listed, &[failure("status", "403")]),
            None
        );
        assert_eq!(policy_only_failure(&must, &[]), None);
        assert_eq!(policy_only_failure(&check("policy", ""), &[upstream]), None);
    }
}

//! Lowering of the federation steps (`federation`, `serve`, `inbound`, `remote`): server
//! names must be declared, regular expressions must compile, templates must refer to defined
//! variables. The raw structs are kept as they are and resolved when the step runs.

use std::collections::BTreeSet;

use regex::Regex;

use super::{Lowering, model, regex_error};
use crate::plan::Action;
use crate::scenario::model::{RawStep, ServerKind};

/// Operations of a `remote:` step.
pub const REMOTE_OPS: &[&str] = &[
    "join",
    "leave",
    "send_pdu",
    "create_room",
    "invite",
    "send_edus",
    "keys_offline",
    "serve_joins",
];

impl Lowering<'_> {
    fn fake_server(&mut self, pointer: &str, name: &str) {
        if !matches!(
            self.servers.get(name),
            Some(ServerKind::Fake | ServerKind::FakeIp)
        ) {
            self.problem(
                pointer,
                format!("`{name}` is not a fake server of this scenario"),
                Some("declare it under `servers:` as `name: fake`".into()),
            );
        }
    }

    fn destination(&mut self, pointer: &str, name: Option<&str>) {
        if let Some(name) = name
            && name != "hs1"
            && self.servers.get(name) != Some(&ServerKind::Synapse)
        {
            self.problem(
                pointer,
                format!("`{name}` is not a homeserver of this scenario"),
                Some("use hs1 (the target) or a server declared as `synapse`".into()),
            );
        }
    }

    fn path_regex(&mut self, pointer: &str, re: &str) {
        // `${name}` is replaced before the expression is compiled (role steps).
        let placeholders = Regex::new(r"\$\{[^}]*\}").expect("a valid expression");
        let re = placeholders.replace_all(re, "x");
        if let Err(e) = Regex::new(&re) {
            self.problem(
                pointer,
                format!("invalid regular expression: {}", regex_error(&e)),
                None,
            );
        }
    }

    /// `none` and `wait` of a role step: `wait` needs `none`, and a `none` step waits by
    /// itself (no `eventually`) and judges bodies only (no `capture`).
    fn none_rule(&mut self, p: &str, raw: &RawStep, a: &model::RawRoleInbound) {
        if let Some(w) = &a.wait {
            if !a.none {
                self.key_problem(&format!("{p}/wait"), "`wait` goes with `none: true`", None);
            } else if self
                .duration(&format!("{p}/wait"), w)
                .is_some_and(|d| d > std::time::Duration::from_secs(60))
            {
                self.problem(&format!("{p}/wait"), "wait at most 60s", None);
            }
        }
        if a.none && raw.eventually.is_some() {
            self.key_problem(
                &format!("{p}/none"),
                "a `none` step waits by itself: use `wait`, not `eventually`",
                None,
            );
        }
        if a.none && !raw.capture.is_empty() {
            self.key_problem(
                &format!("{p}/none"),
                "a `none` step has nothing to capture",
                None,
            );
        }
    }

    fn method(&mut self, pointer: &str, m: &str) {
        if http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).is_err() {
            self.problem(pointer, format!("invalid HTTP method {m:?}"), None);
        }
    }

    pub(super) fn federation_action(
        &mut self,
        base: &str,
        raw: &RawStep,
        defined: &BTreeSet<String>,
    ) -> Option<Action> {
        if let Some(f) = &raw.federation {
            let p = format!("{base}/federation");
            self.fake_server(&format!("{p}/from"), &f.from);
            self.destination(&format!("{p}/to"), f.to.as_deref());
            self.method(&format!("{p}/method"), &f.method);
            if !f.path.starts_with('/') {
                self.problem(&format!("{p}/path"), "the path must start with '/'", None);
            }
            self.check_refs_str(&format!("{p}/path"), &f.path, defined);
            for (k, v) in &f.query {
                self.check_refs_str(&format!("{p}/query/{k}"), v, defined);
            }
            if let Some(j) = &f.json {
                self.check_refs_value(&format!("{p}/json"), j, defined);
            }
            if let Some(forge) = &f.forge {
                for (k, v) in [
                    ("origin", &forge.origin),
                    ("destination", &forge.destination),
                    ("sign_uri", &forge.sign_uri),
                    ("authorization", &forge.authorization),
                ] {
                    if let Some(v) = v {
                        self.check_refs_str(&format!("{p}/forge/{k}"), v, defined);
                    }
                }
                if let Some(b) = &forge.sign_body {
                    self.check_refs_value(&format!("{p}/forge/sign_body"), b, defined);
                }
            }
            return Some(Action::Federation(f.clone()));
        }
        if let Some(s) = &raw.serve {
            let p = format!("{base}/serve");
            self.fake_server(&format!("{p}/on"), &s.on);
            self.method(&format!("{p}/method"), &s.method);
            self.path_regex(&format!("{p}/path"), &s.path);
            self.check_refs_str(&format!("{p}/path"), &s.path, defined);
            if let Some(j) = &s.json {
                self.check_refs_value(&format!("{p}/json"), j, defined);
            }
            if s.sign_policy && (s.sign_invite || s.media.is_some()) {
                self.problem(
                    &format!("{p}/sign_policy"),
                    "`sign_policy` is the whole answer: leave out `sign_invite` and `media`",
                    None,
                );
            }
            if let Some(m) = &s.media {
                if s.json.is_some() || s.sign_invite {
                    self.problem(
                        &format!("{p}/media"),
                        "`media` is the whole answer: leave out `json` and `sign_invite`",
                        None,
                    );
                }
                if m.text.is_some() == m.hex.is_some() {
                    self.problem(
                        &format!("{p}/media"),
                        "`media` needs exactly one of `text` and `hex`",
                        None,
                    );
                }
                if let Some(h) = &m.hex
                    && hex::decode(h).is_err()
                {
                    self.problem(
                        &format!("{p}/media/hex"),
                        "`hex` must be pairs of hexadecimal digits",
                        None,
                    );
                }
                for (k, v) in [
                    ("content_type", Some(&m.content_type)),
                    ("content_disposition", m.content_disposition.as_ref()),
                    ("text", m.text.as_ref()),
                ] {
                    if let Some(v) = v {
                        self.check_refs_str(&format!("{p}/media/{k}"), v, defined);
                    }
                }
            }
            return Some(Action::Serve(s.clone()));
        }
        if let Some(i) = &raw.inbound {
            let p = format!("{base}/inbound");
            self.fake_server(&format!("{p}/on"), &i.on);
            // `GET|POST`: any of these methods.
            for m in i.method.split('|') {
                self.method(&format!("{p}/method"), m.trim());
            }
            self.path_regex(&format!("{p}/path"), &i.path);
            self.check_refs_str(&format!("{p}/path"), &i.path, defined);
            return Some(Action::Inbound(i.clone()));
        }
        if let Some(a) = &raw.appservice {
            let p = format!("{base}/appservice");
            self.method(&format!("{p}/method"), &a.method);
            self.none_rule(&p, raw, a);
            self.path_regex(&format!("{p}/path"), &a.path);
            self.check_refs_str(&format!("{p}/path"), &a.path, defined);
            return Some(Action::Appservice(a.clone()));
        }
        if let Some(a) = &raw.push_gateway {
            let p = format!("{base}/push_gateway");
            self.method(&format!("{p}/method"), &a.method);
            self.none_rule(&p, raw, a);
            self.path_regex(&format!("{p}/path"), &a.path);
            self.check_refs_str(&format!("{p}/path"), &a.path, defined);
            return Some(Action::PushGateway(a.clone()));
        }
        if let Some(a) = &raw.identity_server {
            let p = format!("{base}/identity_server");
            self.method(&format!("{p}/method"), &a.method);
            self.none_rule(&p, raw, a);
            self.path_regex(&format!("{p}/path"), &a.path);
            self.check_refs_str(&format!("{p}/path"), &a.path, defined);
            return Some(Action::IdentityServer(a.clone()));
        }
        if let Some(a) = &raw.email {
            let p = format!("{base}/email/to");
            self.path_regex(&p, &a.to);
            self.check_refs_str(&p, &a.to, defined);
            if let Some(f) = &a.follow {
                let p = format!("{base}/email/follow");
                self.path_regex(&p, f);
                self.check_refs_str(&p, f, defined);
            }
            return Some(Action::Email(a.clone()));
        }
        if let Some(r) = &raw.remote {
            let p = format!("{base}/remote");
            self.fake_server(&format!("{p}/server"), &r.server);
            self.destination(&format!("{p}/to"), r.to.as_deref());
            if !REMOTE_OPS.contains(&r.op.as_str()) {
                self.problem(
                    &format!("{p}/op"),
                    format!("unknown remote operation `{}`", r.op),
                    Some(format!("use one of {}", REMOTE_OPS.join(", "))),
                );
            }
            let needs_room = !matches!(r.op.as_str(), "create_room" | "send_edus" | "keys_offline");
            if needs_room && r.room_id.is_none() {
                self.problem(&p, format!("`{}` needs `room_id`", r.op), None);
            }
            if r.op == "send_pdu" && r.event_type.is_none() {
                self.problem(&p, "`send_pdu` needs `type`", None);
            }
            if r.op == "invite" && r.target.is_none() {
                self.problem(&p, "`invite` needs `target`", None);
            }
            if r.op == "send_edus" && r.edus.is_none() {
                self.problem(&p, "`send_edus` needs `edus`", None);
            }
            if r.omit_members.is_some() && r.op != "join" {
                self.problem(
                    &format!("{p}/omit_members"),
                    "`omit_members` is for `join` only",
                    None,
                );
            }
            if let Some(t) = &r.tamper
                && !matches!(t.as_str(), "signature" | "content_hash")
            {
                self.problem(
                    &format!("{p}/tamper"),
                    format!("unknown tampering `{t}`"),
                    Some("use signature or content_hash".into()),
                );
            }
            for (k, v) in [
                ("room_id", &r.room_id),
                ("user", &r.user),
                ("target", &r.target),
                ("state_key", &r.state_key),
            ] {
                if let Some(v) = v {
                    self.check_refs_str(&format!("{p}/{k}"), v, defined);
                }
            }
            for (k, v) in [
                ("content", &r.content),
                ("overrides", &r.overrides),
                ("edus", &r.edus),
            ] {
                if let Some(v) = v {
                    self.check_refs_value(&format!("{p}/{k}"), v, defined);
                }
            }
            return Some(Action::Remote(r.clone()));
        }
        let _ = model::SCHEMA_VERSION;
        None
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use crate::plan::lower::lower_file;
    use crate::plan::{Action, ScenarioPlan};
    use crate::scenario::diagnostics::Problem;
    use crate::scenario::source::SourceFile;

    fn lower(text: &str) -> (Option<ScenarioPlan>, Vec<Problem>) {
        let file = SourceFile {
            path: "t.yaml".into(),
            text: Arc::new(text.to_owned()),
        };
        let mut problems = Vec::new();
        (lower_file(&file, &mut problems), problems)
    }

    const HEAD: &str = "schema: 1\nid: t/f\ntitle: f\narea: t\nlevel: must\nbasis: b\n";

    #[test]
    fn federation_steps_reach_the_plan() {
        let (plan, problems) = lower(&format!(
            "{HEAD}servers: {{ remote: fake, hs2: synapse }}\nactors: {{ alice: {{}}, bob: {{ server: hs2 }} }}\nsteps:\n  - federation: {{ from: remote, method: GET, path: /x, query: {{ u: \"${{remote.user_id}}\" }}, forge: {{ unsigned: true }} }}\n  - serve: {{ on: remote, method: PUT, path: \"/send/.*\" }}\n  - inbound: {{ on: remote, method: PUT, path: \"/send/.*\" }}\n  - remote: {{ server: remote, op: join, room_id: \"!r:${{hs2.server_name}}\" }}\n"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        let plan = plan.expect("valid");
        assert!(plan.uses_federation() && plan.uses_second_server());
        assert_eq!(plan.actors[1].server.as_deref(), Some("hs2"));
        assert!(matches!(plan.steps[0].action, Action::Federation(_)));
        assert!(matches!(plan.steps[3].action, Action::Remote(_)));
    }

    #[test]
    fn undeclared_servers_bad_ops_and_regexes_are_problems() {
        let (plan, problems) = lower(&format!(
            "{HEAD}servers: {{ remote: fake }}\nactors: {{ bob: {{ server: nowhere }} }}\nsteps:\n  - federation: {{ from: ghost, method: GET, path: /x }}\n  - serve: {{ on: remote, method: GET, path: \"(\" }}\n  - remote: {{ server: remote, op: teleport }}\n  - remote: {{ server: remote, op: send_pdu, room_id: \"!r:x\" }}\n  - call: whoami\n    federation: {{ from: remote, method: GET, path: /x }}\n"
        ));
        assert!(plan.is_none());
        let text: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        let has = |s: &str| text.iter().any(|m| m.contains(s));
        assert!(has("`nowhere` is not a homeserver"), "{text:?}");
        assert!(has("`ghost` is not a fake server"), "{text:?}");
        assert!(has("invalid regular expression"), "{text:?}");
        assert!(has("unknown remote operation `teleport`"), "{text:?}");
        assert!(has("`send_pdu` needs `type`"), "{text:?}");
        assert!(has("exactly one of"), "{text:?}");
    }

    #[test]
    fn new_step_options_are_checked() {
        let (plan, problems) = lower(&format!(
            "{HEAD}servers: {{ remote: fake }}\nsteps:\n  - inbound: {{ on: remote, method: \"GET|POST\", path: /x }}\n  - remote: {{ server: remote, op: keys_offline }}\n  - remote: {{ server: remote, op: join, room_id: \"!r:x\", omit_members: true }}\n"
        ));
        assert!(problems.is_empty(), "{problems:?}");
        assert!(plan.is_some());
        let (plan, problems) = lower(&format!(
            "{HEAD}servers: {{ remote: fake }}\nsteps:\n  - remote: {{ server: remote, op: leave, room_id: \"!r:x\", omit_members: true }}\n  - serve: {{ on: remote, method: GET, path: /m, json: {{}}, media: {{ content_type: text/plain, text: x }} }}\n  - inbound: {{ on: remote, method: \"GET|P OST\", path: /x }}\n"
        ));
        assert!(plan.is_none());
        let text: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
        let has = |s: &str| text.iter().any(|m| m.contains(s));
        assert!(has("`omit_members` is for `join` only"), "{text:?}");
        assert!(has("`media` is the whole answer"), "{text:?}");
        assert!(has("invalid HTTP method"), "{text:?}");
    }
}

//! Push rules, pushers and notifications: `get_push_rules`, `get_push_rule`,
//! `set_push_rule`, `delete_push_rule`, `get_push_rule_enabled`, `set_push_rule_enabled`,
//! `get_push_rule_actions`, `set_push_rule_actions`, `get_pushers`, `set_pusher`,
//! `get_notifications`.

use ruma::api::client::push::{
    delete_pushrule, get_notifications, get_pushers, get_pushrule, get_pushrule_actions,
    get_pushrule_enabled, get_pushrules_all, set_pusher, set_pushrule, set_pushrule_actions,
    set_pushrule_enabled,
};
use ruma::push::{Action, NewPushRule, RuleKind};
use serde_json::Value;

use super::Operation;
use super::args::{JsonObject, typed_object, uint};
use super::glue::{NoArgs, OpContext, TypedOp};

pub(super) fn ops() -> Vec<Box<dyn Operation>> {
    op_list![
        TypedOp::new(
            "get_push_rules",
            "Get all push rules of the acting user",
            ("GET", "/_matrix/client/v3/pushrules/"),
            |_: NoArgs, _| Ok(get_pushrules_all::v3::Request::new()),
        ),
        TypedOp::new(
            "get_push_rule",
            "Get one push rule of the acting user",
            (
                "GET",
                "/_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}"
            ),
            |a: RuleArgs, _| {
                let (kind, rule_id) = a.target()?;
                Ok(get_pushrule::v3::Request::new(kind, rule_id))
            },
        ),
        TypedOp::new(
            "set_push_rule",
            "Create or replace a user-defined push rule",
            (
                "PUT",
                "/_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}"
            ),
            build_set_push_rule,
        ),
        TypedOp::new(
            "delete_push_rule",
            "Delete a user-defined push rule",
            (
                "DELETE",
                "/_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}"
            ),
            |a: RuleArgs, _| {
                let (kind, rule_id) = a.target()?;
                Ok(delete_pushrule::v3::Request::new(kind, rule_id))
            },
        ),
        TypedOp::new(
            "get_push_rule_enabled",
            "Get whether a push rule is enabled",
            (
                "GET",
                "/_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/enabled"
            ),
            |a: RuleArgs, _| {
                let (kind, rule_id) = a.target()?;
                Ok(get_pushrule_enabled::v3::Request::new(kind, rule_id))
            },
        ),
        TypedOp::new(
            "set_push_rule_enabled",
            "Enable or disable a push rule",
            (
                "PUT",
                "/_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/enabled"
            ),
            build_set_push_rule_enabled,
        ),
        TypedOp::new(
            "get_push_rule_actions",
            "Get the actions of a push rule",
            (
                "GET",
                "/_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/actions"
            ),
            |a: RuleArgs, _| {
                let (kind, rule_id) = a.target()?;
                Ok(get_pushrule_actions::v3::Request::new(kind, rule_id))
            },
        ),
        TypedOp::new(
            "set_push_rule_actions",
            "Set the actions of a push rule",
            (
                "PUT",
                "/_matrix/client/v3/pushrules/{scope}/{kind}/{ruleId}/actions"
            ),
            build_set_push_rule_actions,
        ),
        TypedOp::new(
            "get_pushers",
            "List the pushers of the acting user",
            ("GET", "/_matrix/client/v3/pushers"),
            |_: NoArgs, _| Ok(get_pushers::v3::Request::new()),
        ),
        TypedOp::new(
            "set_pusher",
            "Create, update or delete a pusher of the acting user",
            ("POST", "/_matrix/client/v3/pushers/set"),
            |a: SetPusherArgs, _| Ok(set_pusher::v3::Request::new(typed_object(
                "pusher", a.pusher
            )?)),
        ),
        TypedOp::new(
            "get_notifications",
            "List the events that notified the acting user",
            ("GET", "/_matrix/client/v3/notifications"),
            build_get_notifications,
        ),
    ]
}

/// Check the `scope` argument: only `global` exists.
fn check_scope(scope: Option<&str>) -> Result<(), String> {
    match scope {
        None | Some("global") => Ok(()),
        Some(other) => Err(format!(
            "`scope` must be `global` (the only push rule scope), got {other:?}"
        )),
    }
}

/// Parse a list of push rule actions.
fn actions(what: &str, actions: Vec<Value>) -> Result<Vec<Action>, String> {
    serde_json::from_value(Value::Array(actions)).map_err(|e| format!("`{what}` is not valid: {e}"))
}

/// Arguments naming a push rule.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleArgs {
    /// The rule scope; only `global` exists (the default).
    #[serde(default)]
    pub scope: Option<String>,
    /// The rule kind: `override`, `underride`, `sender`, `room` or `content`.
    pub kind: String,
    /// The rule ID.
    pub rule_id: String,
}

impl RuleArgs {
    fn target(self) -> Result<(RuleKind, String), String> {
        check_scope(self.scope.as_deref())?;
        Ok((RuleKind::from(self.kind), self.rule_id))
    }
}

/// Arguments of `set_push_rule`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPushRuleArgs {
    /// The rule scope; only `global` exists (the default).
    #[serde(default)]
    pub scope: Option<String>,
    /// The rule kind: `override`, `underride`, `sender`, `room` or `content`.
    pub kind: String,
    /// The rule ID (a room ID for `room` rules, a user ID for `sender` rules).
    pub rule_id: String,
    /// The actions, e.g. `[notify, {set_tweak: sound, value: default}]`.
    pub actions: Vec<Value>,
    /// The conditions of an `override` or `underride` rule, each sent as given.
    #[serde(default)]
    pub conditions: Option<Vec<Value>>,
    /// The glob pattern of a `content` rule.
    #[serde(default)]
    pub pattern: Option<String>,
    /// Insert the rule before the user-defined rule with this ID.
    #[serde(default)]
    pub before: Option<String>,
    /// Insert the rule after the user-defined rule with this ID.
    #[serde(default)]
    pub after: Option<String>,
}

fn build_set_push_rule(
    a: SetPushRuleArgs,
    _: &OpContext<'_>,
) -> Result<set_pushrule::v3::Request, String> {
    check_scope(a.scope.as_deref())?;
    let mut rule = JsonObject::new();
    rule.insert("rule_id".into(), Value::String(a.rule_id));
    rule.insert("actions".into(), Value::Array(a.actions));
    let conditional = matches!(a.kind.as_str(), "override" | "underride");
    match (a.conditions, conditional) {
        (Some(conditions), true) => {
            rule.insert("conditions".into(), Value::Array(conditions));
        }
        (Some(_), false) => {
            return Err("`conditions` apply only to `override` and `underride` rules".into());
        }
        (None, _) => {}
    }
    match (a.pattern, a.kind.as_str()) {
        (Some(pattern), "content") => {
            rule.insert("pattern".into(), Value::String(pattern));
        }
        (Some(_), _) => return Err("`pattern` applies only to `content` rules".into()),
        (None, "content") => return Err("`pattern` is required for `content` rules".into()),
        (None, _) => {}
    }
    let rule = match a.kind.as_str() {
        "override" => NewPushRule::Override(typed_object("rule", rule)?),
        "underride" => NewPushRule::Underride(typed_object("rule", rule)?),
        "content" => NewPushRule::Content(typed_object("rule", rule)?),
        "room" => NewPushRule::Room(typed_object("rule", rule)?),
        "sender" => NewPushRule::Sender(typed_object("rule", rule)?),
        other => {
            return Err(format!(
                "`kind` must be one of override, underride, sender, room, content; got {other:?}"
            ));
        }
    };
    let mut req = set_pushrule::v3::Request::new(rule);
    req.before = a.before;
    req.after = a.after;
    Ok(req)
}

/// Arguments of `set_push_rule_enabled`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPushRuleEnabledArgs {
    /// The rule scope; only `global` exists (the default).
    #[serde(default)]
    pub scope: Option<String>,
    /// The rule kind: `override`, `underride`, `sender`, `room` or `content`.
    pub kind: String,
    /// The rule ID.
    pub rule_id: String,
    /// Whether the rule is enabled.
    pub enabled: bool,
}

fn build_set_push_rule_enabled(
    a: SetPushRuleEnabledArgs,
    _: &OpContext<'_>,
) -> Result<set_pushrule_enabled::v3::Request, String> {
    check_scope(a.scope.as_deref())?;
    Ok(set_pushrule_enabled::v3::Request::new(
        RuleKind::from(a.kind),
        a.rule_id,
        a.enabled,
    ))
}

/// Arguments of `set_push_rule_actions`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPushRuleActionsArgs {
    /// The rule scope; only `global` exists (the default).
    #[serde(default)]
    pub scope: Option<String>,
    /// The rule kind: `override`, `underride`, `sender`, `room` or `content`.
    pub kind: String,
    /// The rule ID.
    pub rule_id: String,
    /// The new actions, e.g. `[notify]`.
    pub actions: Vec<Value>,
}

fn build_set_push_rule_actions(
    a: SetPushRuleActionsArgs,
    _: &OpContext<'_>,
) -> Result<set_pushrule_actions::v3::Request, String> {
    check_scope(a.scope.as_deref())?;
    Ok(set_pushrule_actions::v3::Request::new(
        RuleKind::from(a.kind),
        a.rule_id,
        actions("actions", a.actions)?,
    ))
}

/// Arguments of `set_pusher`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SetPusherArgs {
    /// The request body as the spec defines it: `pushkey`, `kind` (null to delete), `app_id`,
    /// `app_display_name`, `device_display_name`, `lang`, `data`, ...
    pub pusher: JsonObject,
}

/// Arguments of `get_notifications`.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GetNotificationsArgs {
    /// The pagination token to continue from.
    #[serde(default)]
    pub from: Option<String>,
    /// The maximum number of notifications to return.
    #[serde(default)]
    pub limit: Option<u32>,
    /// A filter: `highlight` returns only highlighted notifications.
    #[serde(default)]
    pub only: Option<String>,
}

fn build_get_notifications(
    a: GetNotificationsArgs,
    _: &OpContext<'_>,
) -> Result<get_notifications::v3::Request, String> {
    let mut req = get_notifications::v3::Request::new();
    req.from = a.from;
    req.limit = a.limit.map(uint);
    req.only = a.only;
    Ok(req)
}

//! Validates a [`Node`] tree against a JSON Schema (the subset schemars emits) and reports
//! every problem at once, each with the JSON pointer of the offending value and, for
//! unknown keys, a "did you mean" suggestion.

use serde_json::{Map, Value};

use super::node::{Node, NodeValue};

/// One problem found by the schema walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaProblem {
    /// JSON pointer of the offending value (or key).
    pub pointer: String,
    /// Whether the problem is about the key itself (unknown key) rather than its value.
    pub at_key: bool,
    /// What is wrong.
    pub message: String,
    /// A hint, e.g. "did you mean `expect`?".
    pub help: Option<String>,
}

/// Options for the walk.
#[derive(Debug, Clone, Copy, Default)]
pub struct CheckOptions {
    /// Accept a string that is exactly one `${...}` placeholder wherever any type is expected
    /// (its value is only known at run time).
    pub placeholders_match_anything: bool,
}

/// Validate `node` against `schema` (whose `$defs` resolve `$ref`s).
pub fn check(node: &Node, schema: &Value, options: CheckOptions) -> Vec<SchemaProblem> {
    let mut walker = Walker {
        root: schema,
        options,
        problems: Vec::new(),
    };
    walker.walk(node, schema, "");
    walker.problems
}

/// The closest candidate to `word`, if it is close enough to be a likely typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    candidates
        .into_iter()
        .map(|c| (strsim::jaro_winkler(word, c), c))
        .filter(|(score, _)| *score >= 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, c)| c)
}

/// Whether a string is exactly one `${...}` placeholder.
pub fn is_placeholder(s: &str) -> bool {
    s.starts_with("${") && s.ends_with('}') && s[2..].find('}') == Some(s.len() - 3)
}

struct Walker<'a> {
    root: &'a Value,
    options: CheckOptions,
    problems: Vec<SchemaProblem>,
}

impl<'a> Walker<'a> {
    fn resolve(&self, schema: &'a Value) -> &'a Value {
        let mut schema = schema;
        for _ in 0..32 {
            match schema.get("$ref").and_then(Value::as_str) {
                Some(r) => match r.strip_prefix('#').and_then(|p| self.root.pointer(p)) {
                    Some(target) => schema = target,
                    None => return &Value::Bool(true),
                },
                None => return schema,
            }
        }
        schema
    }

    fn push(&mut self, pointer: &str, at_key: bool, message: String, help: Option<String>) {
        self.problems.push(SchemaProblem {
            pointer: pointer.to_owned(),
            at_key,
            message,
            help,
        });
    }

    /// Collect the problems of `node` against `schema` without recording them.
    fn trial(&self, node: &Node, schema: &'a Value, pointer: &str) -> Vec<SchemaProblem> {
        let mut sub = Walker {
            root: self.root,
            options: self.options,
            problems: Vec::new(),
        };
        sub.walk(node, schema, pointer);
        sub.problems
    }

    fn walk(&mut self, node: &Node, schema: &'a Value, pointer: &str) {
        let schema = self.resolve(schema);
        let Some(obj) = schema.as_object() else {
            if schema == &Value::Bool(false) {
                self.push(pointer, false, "no value is allowed here".into(), None);
            }
            return;
        };
        if self.options.placeholders_match_anything
            && matches!(&node.value, NodeValue::Str(s) if is_placeholder(s))
        {
            return;
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(Value::Array(branches)) = obj.get(key) {
                self.walk_alternatives(node, branches, pointer);
            }
        }
        if let Some(Value::Array(all)) = obj.get("allOf") {
            for s in all {
                self.walk(node, s, pointer);
            }
        }
        if let Some(t) = obj.get("type")
            && !type_matches(node, t)
        {
            self.push(
                pointer,
                false,
                format!("expected {}, found {}", describe_type(t), node.type_name()),
                type_hint(node, t),
            );
            return;
        }
        if let Some(c) = obj.get("const")
            && &node.to_json() != c
        {
            self.push(pointer, false, format!("expected {c}"), None);
        }
        if let Some(Value::Array(allowed)) = obj.get("enum") {
            self.check_one_of(node, allowed, pointer);
        }
        match &node.value {
            NodeValue::Map(entries) => self.walk_object(entries, obj, pointer),
            NodeValue::Seq(items) => {
                if let Some(item_schema) = obj.get("items") {
                    for (i, item) in items.iter().enumerate() {
                        self.walk(item, item_schema, &format!("{pointer}/{i}"));
                    }
                }
            }
            _ => {}
        }
    }

    fn walk_alternatives(&mut self, node: &Node, branches: &'a [Value], pointer: &str) {
        if let Some(allowed) = self.constants(branches) {
            self.check_one_of(node, &allowed, pointer);
            return;
        }
        let mut best: Option<Vec<SchemaProblem>> = None;
        for branch in branches {
            let problems = self.trial(node, branch, pointer);
            if problems.is_empty() {
                return;
            }
            // Prefer the branch whose type matched (its problems are deeper and more useful).
            let type_ok = self
                .resolve(branch)
                .get("type")
                .is_none_or(|t| type_matches(node, t));
            let better = match &best {
                None => true,
                Some(_) if type_ok => true,
                _ => false,
            };
            if better {
                best = Some(problems);
                if type_ok {
                    break;
                }
            }
        }
        if let Some(problems) = best {
            self.problems.extend(problems);
        }
    }

    /// The value must be one of `allowed` (an `enum`, or a unit enum written as `const`s).
    fn check_one_of(&mut self, node: &Node, allowed: &[Value], pointer: &str) {
        let value = node.to_json();
        if allowed.contains(&value) {
            return;
        }
        let names: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
        let help = value.as_str().and_then(|s| {
            did_you_mean(s, allowed.iter().filter_map(Value::as_str))
                .map(|c| format!("did you mean `{c}`?"))
        });
        let message = format!("expected one of {}", names.join(", "));
        self.push(pointer, false, message, help);
    }

    /// When every alternative is a constant (how schemars writes a unit enum), the list of them.
    fn constants(&self, branches: &'a [Value]) -> Option<Vec<Value>> {
        let mut all = Vec::new();
        for branch in branches {
            let b = self.resolve(branch);
            if let Some(c) = b.get("const") {
                all.push(c.clone());
            } else if let Some(Value::Array(e)) = b.get("enum") {
                all.extend(e.iter().cloned());
            } else {
                return None;
            }
        }
        Some(all)
    }

    fn walk_object(
        &mut self,
        entries: &[(super::node::Key, Node)],
        obj: &'a Map<String, Value>,
        pointer: &str,
    ) {
        let properties = obj.get("properties").and_then(Value::as_object);
        let additional = obj.get("additionalProperties");
        let mut seen: Vec<&str> = Vec::new();
        for (key, value) in entries {
            let child = format!("{pointer}/{}", escape(&key.name));
            if seen.contains(&key.name.as_str()) {
                self.push(&child, true, format!("duplicate key `{}`", key.name), None);
                continue;
            }
            seen.push(&key.name);
            if let Some(prop) = properties.and_then(|p| p.get(&key.name)) {
                self.walk(value, prop, &child);
            } else {
                match additional {
                    Some(Value::Bool(false)) => {
                        let names = properties
                            .map(|p| p.keys().map(String::as_str).collect::<Vec<_>>())
                            .unwrap_or_default();
                        let help = did_you_mean(&key.name, names.iter().copied())
                            .map(|c| format!("did you mean `{c}`?"))
                            .or_else(|| {
                                (!names.is_empty())
                                    .then(|| format!("allowed keys: {}", names.join(", ")))
                            });
                        self.push(&child, true, format!("unknown key `{}`", key.name), help);
                    }
                    Some(s @ Value::Object(_)) => self.walk(value, s, &child),
                    _ => {}
                }
            }
        }
        if let Some(Value::Array(required)) = obj.get("required") {
            for name in required.iter().filter_map(Value::as_str) {
                if !seen.contains(&name) {
                    self.push(
                        pointer,
                        false,
                        format!("missing required key `{name}`"),
                        None,
                    );
                }
            }
        }
    }
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

fn type_matches(node: &Node, t: &Value) -> bool {
    match t {
        Value::String(s) => single_type_matches(node, s),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .any(|s| single_type_matches(node, s)),
        _ => true,
    }
}

fn single_type_matches(node: &Node, t: &str) -> bool {
    match (&node.value, t) {
        (NodeValue::Null, "null")
        | (NodeValue::Bool(_), "boolean")
        | (NodeValue::Int(_), "integer" | "number")
        | (NodeValue::Float(_), "number")
        | (NodeValue::Str(_), "string")
        | (NodeValue::Seq(_), "array")
        | (NodeValue::Map(_), "object") => true,
        (NodeValue::Float(f), "integer") => f.fract() == 0.0,
        _ => false,
    }
}

fn describe_type(t: &Value) -> String {
    let name = |s: &str| match s {
        "object" => "a mapping",
        "array" => "a list",
        "string" => "a string",
        "integer" => "an integer",
        "number" => "a number",
        "boolean" => "true or false",
        "null" => "null",
        _ => "a value",
    };
    match t {
        Value::String(s) => name(s).to_owned(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .filter(|s| *s != "null")
            .map(name)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "a value".to_owned(),
    }
}

fn type_hint(node: &Node, t: &Value) -> Option<String> {
    let wants_string = match t {
        Value::String(s) => s == "string",
        Value::Array(ts) => ts.iter().any(|v| v == "string"),
        _ => false,
    };
    match &node.value {
        NodeValue::Float(_) | NodeValue::Int(_) | NodeValue::Bool(_) if wants_string => {
            Some("quote the value to make it a string, e.g. \"1.1\"".to_owned())
        }
        NodeValue::Null => Some("the value is empty; write `{}` for an empty mapping".to_owned()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::node::parse;

    fn problems(yaml: &str) -> Vec<SchemaProblem> {
        let node = parse(yaml).expect("yaml");
        let schema = serde_json::to_value(crate::scenario::model::json_schema()).expect("schema");
        check(&node, &schema, CheckOptions::default())
    }

    #[test]
    fn reports_every_problem_with_suggestions() {
        let p = problems(
            "schema: 1\nid: a/b\ntitle: t\narea: x\nsteps:\n  - cal: versions\n    expect: { stauts: 200 }\n  - expect: { body: { /a: { type: strng } } }\nspec: { since: 1.1 }\n",
        );
        let messages: Vec<String> = p
            .iter()
            .map(|p| format!("{} {} {:?}", p.pointer, p.message, p.help))
            .collect();
        assert_eq!(messages.len(), 4, "{messages:#?}");
        assert!(
            messages[0].contains("/steps/0/cal unknown key `cal` Some(\"did you mean `call`?\")"),
            "{messages:#?}"
        );
        assert!(
            messages[1].contains("did you mean `status`?"),
            "{messages:#?}"
        );
        assert!(
            messages[2].contains("did you mean `string`?"),
            "{messages:#?}"
        );
        assert!(
            messages[3].contains("/spec/since expected a string, found number"),
            "{messages:#?}"
        );
    }

    #[test]
    fn missing_required_keys_are_listed() {
        let p = problems("schema: 1\nid: a\n");
        let msgs: Vec<&str> = p.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(
            msgs,
            [
                "missing required key `title`",
                "missing required key `area`",
                "missing required key `steps`"
            ]
        );
    }

    #[test]
    fn placeholders() {
        assert!(is_placeholder("${a.b}"));
        assert!(!is_placeholder("${a}${b}"));
        assert!(!is_placeholder("x${a}"));
    }
}

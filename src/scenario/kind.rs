//! The one classifier of input files: which of the three file kinds a YAML file is, read from
//! the positioned tree. A file may declare it (`kind: scenario | gateway-check | load-plan`);
//! without a declaration the kind follows from the one top-level key only that kind has
//! (`steps:` scenario, `gateway:`/`outbound:` gateway check, `load:` load plan), and a file
//! with `schema:` and none of them is a scenario (the format's historical default). A file that
//! declares an unknown kind, has the keys of two kinds, or has none is a positioned problem
//! (docs/decisions.md, "Input files declare their kind").

use super::node::{self, Node, NodeValue};
use super::schema_check::did_you_mean;

/// The kind of a file under `scenarios/` (or given on the command line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A conformance scenario (`schema: 1`, `steps:`), lowered by `plan::lower`.
    Scenario,
    /// A border-gateway check (`gateway:` or `outbound:`), loaded by `gateway::suite`.
    GatewayCheck,
    /// A load plan (`load: 1`), loaded by `load::plan`.
    LoadPlan,
}

/// Why a file's kind cannot be told: where, what, and a hint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KindProblem {
    /// JSON pointer of the offending value (`/kind`), or `""` for the whole file.
    pub pointer: String,
    /// Whether the problem is about the key rather than its value.
    pub at_key: bool,
    /// What is wrong.
    pub message: String,
    /// A hint.
    pub help: Option<String>,
}

/// The top-level keys that only one kind has.
const MARKERS: [(&str, FileKind); 4] = [
    ("steps", FileKind::Scenario),
    ("gateway", FileKind::GatewayCheck),
    ("outbound", FileKind::GatewayCheck),
    ("load", FileKind::LoadPlan),
];

impl FileKind {
    /// Every kind, in the order they are listed to users.
    pub const ALL: [FileKind; 3] = [
        FileKind::Scenario,
        FileKind::GatewayCheck,
        FileKind::LoadPlan,
    ];

    /// The value of `kind:` that declares this kind.
    pub fn name(self) -> &'static str {
        match self {
            FileKind::Scenario => "scenario",
            FileKind::GatewayCheck => "gateway-check",
            FileKind::LoadPlan => "load-plan",
        }
    }

    /// The kind in prose ("gateway check").
    pub fn describe(self) -> &'static str {
        match self {
            FileKind::Scenario => "scenario",
            FileKind::GatewayCheck => "gateway check",
            FileKind::LoadPlan => "load plan",
        }
    }

    /// The kind `text` is, where it can be told (else a scenario, whose loader then reports
    /// the file's problems). A file that does not parse as YAML is a scenario, so that the
    /// scenario loader reports its syntax error at file:line:col.
    pub fn of(text: &str) -> FileKind {
        match node::parse(text) {
            Ok(root) => Self::of_tree(&root),
            Err(_) => FileKind::Scenario,
        }
    }

    /// The kind a parsed tree is, where it can be told (else a scenario).
    pub fn of_tree(root: &Node) -> FileKind {
        Self::classify(root).unwrap_or(FileKind::Scenario)
    }

    /// The kind a parsed tree declares or implies, or why it cannot be told.
    pub fn classify(root: &Node) -> Result<FileKind, KindProblem> {
        if !matches!(root.value, NodeValue::Map(_)) {
            // Not a mapping: the scenario schema says what is expected.
            return Ok(FileKind::Scenario);
        }
        if let Some((_, declared)) = root.get("kind") {
            return Self::declared(declared);
        }
        let mut found: Vec<(&str, FileKind)> = Vec::new();
        for (key, kind) in MARKERS {
            if root.get(key).is_some() && !found.iter().any(|(_, k)| *k == kind) {
                found.push((key, kind));
            }
        }
        match found.as_slice() {
            [(_, kind)] => Ok(*kind),
            [] if root.get("schema").is_some() => Ok(FileKind::Scenario),
            [] => Err(KindProblem {
                pointer: String::new(),
                at_key: false,
                message: "cannot tell what kind of file this is".into(),
                help: Some(format!(
                    "declare it with `kind: {}`, or write the key of its kind: `steps:` \
                     (scenario), `gateway:` or `outbound:` (gateway check), `load: 1` (load plan)",
                    names()
                )),
            }),
            [(first, a), (second, b), ..] => Err(KindProblem {
                pointer: format!("/{second}"),
                at_key: true,
                message: format!(
                    "ambiguous file kind: `{first}` makes it a {}, `{second}` a {}",
                    a.describe(),
                    b.describe()
                ),
                help: Some(format!(
                    "declare it with `kind: {}` or `kind: {}`, or remove one of the keys",
                    a.name(),
                    b.name()
                )),
            }),
        }
    }

    fn declared(value: &Node) -> Result<FileKind, KindProblem> {
        let word = match &value.value {
            NodeValue::Str(s) => s.as_str(),
            _ => "",
        };
        if let Some(kind) = Self::ALL.into_iter().find(|k| k.name() == word) {
            return Ok(kind);
        }
        let help = did_you_mean(word, Self::ALL.iter().map(|k| k.name()))
            .map(|c| format!("did you mean `{c}`?"))
            .or_else(|| Some(format!("one of {}", names())));
        Err(KindProblem {
            pointer: "/kind".into(),
            at_key: false,
            message: format!(
                "unknown file kind {}: expected one of {}",
                value.to_json(),
                names()
            ),
            help,
        })
    }

    /// Whether the tree declares its kind with `kind:`.
    pub fn is_declared(root: &Node) -> bool {
        root.get("kind").is_some()
    }
}

fn names() -> String {
    FileKind::ALL
        .iter()
        .map(|k| k.name())
        .collect::<Vec<_>>()
        .join(" | ")
}

/// The tree without its top-level `kind:` (which no file model has: the classifier reads it).
pub fn without_kind(mut root: Node) -> Node {
    if let NodeValue::Map(entries) = &mut root.value {
        entries.retain(|(k, _)| k.name != "kind");
    }
    root
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classify(text: &str) -> Result<FileKind, KindProblem> {
        FileKind::classify(&node::parse(text).expect("YAML"))
    }

    #[test]
    fn each_kind_is_told_by_its_top_level_keys() {
        assert_eq!(FileKind::of("load: 1\nid: load/x\n"), FileKind::LoadPlan);
        assert_eq!(
            FileKind::of("schema: 1\nid: gateway/a/b\ngateway: {from: allowed}\n"),
            FileKind::GatewayCheck
        );
        assert_eq!(
            FileKind::of("schema: 1\noutbound: {to: denied}\n"),
            FileKind::GatewayCheck
        );
        assert_eq!(FileKind::of("schema: 1\nsteps: []\n"), FileKind::Scenario);
        assert_eq!(FileKind::of("schema: 1\nid: x\n"), FileKind::Scenario);
        // a nested `gateway:` key does not make a gateway check
        assert_eq!(
            FileKind::of("schema: 1\nsteps:\n  - with:\n      gateway: x\n"),
            FileKind::Scenario
        );
        assert_eq!(FileKind::of(": : :\n\t"), FileKind::Scenario);
    }

    #[test]
    fn a_declared_kind_decides() {
        assert_eq!(
            classify("kind: gateway-check\nschema: 1\nsteps: []\n"),
            Ok(FileKind::GatewayCheck)
        );
        assert_eq!(classify("kind: load-plan\n"), Ok(FileKind::LoadPlan));
        assert_eq!(
            classify("kind: scenario\nload: 1\n"),
            Ok(FileKind::Scenario)
        );
        let typo = classify("kind: senario\nschema: 1\n").unwrap_err();
        assert_eq!(typo.pointer, "/kind");
        assert_eq!(typo.help.as_deref(), Some("did you mean `scenario`?"));
    }

    #[test]
    fn ambiguous_and_unknown_files_are_problems() {
        let both = classify("schema: 1\nsteps: []\ngateway: {}\n").unwrap_err();
        assert_eq!(both.pointer, "/gateway");
        assert!(both.message.contains("ambiguous"), "{both:?}");
        let neither = classify("id: x\ntitle: t\n").unwrap_err();
        assert_eq!(neither.pointer, "");
        assert!(neither.message.contains("cannot tell"), "{neither:?}");
    }

    #[test]
    fn the_declaration_is_stripped_for_the_model() {
        let root = node::parse("kind: scenario\nschema: 1\n").expect("YAML");
        assert!(FileKind::is_declared(&root));
        let root = without_kind(root);
        assert!(root.get("kind").is_none() && root.get("schema").is_some());
    }
}

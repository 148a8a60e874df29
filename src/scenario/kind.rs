//! The one classifier of input files: which of the three file kinds a YAML file declares
//! by its top-level keys (`load: 1` for a load plan, `gateway:` or `outbound:` for a gateway
//! check, anything else a conformance scenario), read from the positioned tree.

use super::node;

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

impl FileKind {
    /// The kind `text` declares. A file that does not parse as YAML is a scenario, so that the
    /// scenario loader reports its syntax error at file:line:col.
    pub fn of(text: &str) -> FileKind {
        match node::parse(text) {
            Ok(root) => Self::of_tree(&root),
            Err(_) => FileKind::Scenario,
        }
    }

    /// The kind a parsed tree declares.
    pub fn of_tree(root: &node::Node) -> FileKind {
        if root.get("load").is_some() && root.get("schema").is_none() {
            FileKind::LoadPlan
        } else if root.get("gateway").is_some() || root.get("outbound").is_some() {
            FileKind::GatewayCheck
        } else {
            FileKind::Scenario
        }
    }
}

#[cfg(test)]
mod tests {
    use super::FileKind;

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
        // a nested `gateway:` key does not make a gateway check
        assert_eq!(
            FileKind::of("schema: 1\nsteps:\n  - with:\n      gateway: x\n"),
            FileKind::Scenario
        );
        assert_eq!(FileKind::of(": : :\n\t"), FileKind::Scenario);
    }
}

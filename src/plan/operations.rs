//! Which of the spec's operations (the oracle's table) a scenario exercises: every request
//! the harness itself sends in a step (typed calls, raw requests, signed federation
//! requests, and the federation requests behind a fake server's room actions), matched to
//! the oracle's method and path templates.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{Action, ScenarioPlan};
use crate::oracle::{self, Oracle};

/// The method and path each step sends (none for steps that only wait or serve).
fn sent(action: &Action) -> Vec<(String, String)> {
    match action {
        Action::Call { op, .. } => {
            let (method, path) = op.endpoint();
            let path = path.split(' ').next().unwrap_or(path);
            // A typed call's template parameter (`{scope}`) stands for whatever the step's
            // arguments put there (`global`), so it matches any segment.
            vec![(method.to_owned(), path.replace('{', "${"))]
        }
        Action::Request(r) => vec![(r.method.as_str().to_owned(), r.path.clone())],
        Action::Federation(f) => vec![(f.method.to_uppercase(), f.path.clone())],
        Action::Remote(r) => {
            let fed = |m: &str, p: &str| (m.to_owned(), format!("/_matrix/federation/{p}"));
            match r.op.as_str() {
                "join" => vec![
                    fed("GET", "v1/make_join/${r}/${u}"),
                    fed("PUT", "v2/send_join/${r}/${e}"),
                ],
                "leave" => vec![
                    fed("GET", "v1/make_leave/${r}/${u}"),
                    fed("PUT", "v2/send_leave/${r}/${e}"),
                ],
                "send_pdu" | "send_edus" => vec![fed("PUT", "v1/send/${t}")],
                "invite" => vec![fed("PUT", "v2/invite/${r}/${e}")],
                _ => Vec::new(),
            }
        }
        Action::Serve(_)
        | Action::Inbound(_)
        | Action::Appservice(_)
        | Action::PushGateway(_)
        | Action::Email(_)
        | Action::IdentityServer(_) => Vec::new(),
    }
}

/// The oracle operation ids (`client-server GET /_matrix/...`) a scenario exercises.
pub fn exercised(oracle: &Oracle, plan: &ScenarioPlan) -> BTreeSet<String> {
    plan.steps
        .iter()
        .flat_map(|s| sent(&s.action))
        .flat_map(|(method, path)| {
            oracle
                .find(&method, &path)
                .into_iter()
                .map(|op| op.id())
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Why an operation is left out, from `operations_reasons.tsv` (`METHOD PATH<TAB>reason`).
pub fn reason(id: &str) -> Option<&'static str> {
    include_str!("operations_reasons.tsv")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('\t'))
        .find(|(op, _)| *op == id)
        .map(|(_, why)| why)
}

/// Operation coverage of one API at the oracle's newest version.
#[derive(Debug, Serialize)]
pub struct ApiCoverage {
    /// "client-server", "server-server" or "msc4186".
    pub api: String,
    /// Operations current at the newest spec version (or in the MSC).
    pub total: usize,
    /// Of which exercised by at least one scenario.
    pub exercised: usize,
    /// The others, by id.
    pub missing: Vec<String>,
}

/// Operation coverage of a set of scenarios, per API.
#[derive(Debug, Serialize)]
pub struct OperationCoverage {
    /// The spec version the table is judged at.
    pub spec_version: String,
    /// Per API.
    pub apis: Vec<ApiCoverage>,
}

impl OperationCoverage {
    /// What `plans` exercise of the operations current at the oracle's newest version.
    pub fn build(oracle: &Oracle, plans: &[ScenarioPlan]) -> Self {
        let latest = oracle.latest();
        let hit: BTreeSet<String> = plans.iter().flat_map(|p| exercised(oracle, p)).collect();
        let mut by_api: BTreeMap<&str, (usize, Vec<String>)> = BTreeMap::new();
        let mut seen = BTreeSet::new();
        for op in oracle
            .operations
            .iter()
            .filter(|op| op.msc.is_some() || op.exists_at(latest))
        {
            let id = op.id();
            if !seen.insert(id.clone()) {
                continue;
            }
            let entry = by_api.entry(op.api.as_str()).or_default();
            if hit.contains(&id) {
                entry.0 += 1;
            } else {
                entry.1.push(id);
            }
        }
        Self {
            spec_version: format!("v{}", oracle::show(latest)),
            apis: by_api
                .into_iter()
                .map(|(api, (exercised, missing))| ApiCoverage {
                    api: api.to_owned(),
                    total: exercised + missing.len(),
                    exercised,
                    missing,
                })
                .collect(),
        }
    }
}

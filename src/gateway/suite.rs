//! Gateway check files (`scenarios/gateway/**.yaml`): one behaviour of a federation border
//! gateway each. A check names the probe the harness sends while playing a remote server
//! (`gateway:`), or the outbound lookup it asks the homeserver to make (`outbound:`), and the
//! verdict expected (`expect:`). The format is documented in docs/gateway.md.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::Value;

use crate::scenario::diagnostics::Problem;
use crate::scenario::kind::FileKind;
use crate::scenario::model::Level;
use crate::scenario::source::SourceFile;

/// The JSON Schema of a check file, derived from the raw model below: what the positioned
/// parser walks the file's tree against (unknown keys with "did you mean", wrong types,
/// missing keys, all at once).
static CHECK_SCHEMA: LazyLock<Value> = LazyLock::new(|| {
    serde_json::to_value(schemars::schema_for!(RawCheck)).unwrap_or(Value::Bool(true))
});
static ID_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^gateway(/[a-z0-9][a-z0-9._-]*)+$").expect("static regex"));

/// Whether a file's text is a gateway check (as the one classifier, [`FileKind`], tells); the
/// scenario loader leaves these to this module.
pub fn is_check_text(text: &str) -> bool {
    FileKind::of(text) == FileKind::GatewayCheck
}

/// Which remote server the harness plays for a probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Remote {
    /// A server on the gateway's allow-list.
    Allowed,
    /// A second allowed server.
    Allowed2,
    /// A server not on the allow-list (its key is served and valid).
    Denied,
    /// No server: the request carries no X-Matrix signature.
    Anonymous,
}

/// A change made to a correctly signed request after signing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Tamper {
    /// One byte of the signature flipped.
    FlipSignature,
    /// The signature cut to half its length.
    TruncateSignature,
}

/// How the X-Matrix header is written (all spec-valid; senders should use the default).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum HeaderStyle {
    /// Parameters in reverse order (`sig`, `key`, `destination`, `origin`).
    Reordered,
    /// Parameter values without quotes where they are tokens, colons allowed (the spec's
    /// "recipient should allow colons"); a signature containing `/` stays quoted.
    Unquoted,
}

/// What the signature covers, where it differs from what is sent.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SignAs {
    /// Sign this method instead.
    pub method: Option<String>,
    /// Sign this request target instead.
    pub target: Option<String>,
    /// Sign this destination instead.
    pub destination: Option<String>,
    /// Sign this JSON body instead.
    pub json: Option<serde_json::Value>,
    /// Sign with this remote's key (the header still names `from`'s origin): a spoofed origin.
    pub key_of: Option<Remote>,
}

/// An inbound probe: a request sent to the gateway.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Probe {
    /// Who signs it.
    pub from: Remote,
    /// HTTP method (sent as written).
    pub method: String,
    /// Request target (path and query), sent byte for byte after `${...}` substitution.
    pub target: String,
    /// A JSON body.
    pub json: Option<serde_json::Value>,
    /// Pad the JSON body with a `padding` string to at least this many bytes (body limits).
    pub pad_to_bytes: Option<usize>,
    /// Extra headers, sent after Authorization, in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// Send this Authorization header instead of a signature (malformed headers).
    pub authorization: Option<String>,
    /// The `destination` written in the header: a server name, or `none` to leave it out
    /// (default: the gateway's server name).
    pub destination: Option<String>,
    /// What the signature covers instead of the request sent.
    #[serde(default)]
    pub sign_as: SignAs,
    /// Damage the signature after signing.
    pub tamper: Option<Tamper>,
    /// Write the X-Matrix header in another spec-valid form.
    pub header_style: Option<HeaderStyle>,
    /// Add a second Authorization header, signed by this remote over the same request.
    pub also_signed_by: Option<Remote>,
    /// Add an `x-mxh-padding` header of this many bytes (header size limits).
    pub pad_header_bytes: Option<usize>,
    /// Send at the byte level: plaintext, other body framings, a hidden or a second request
    /// on the same connection (src/gateway/wire.rs).
    pub wire: Option<Wire>,
}

/// How the body is framed on the wire (default: `Content-Length`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Framing {
    /// `Transfer-Encoding: chunked`, no `Content-Length`.
    Chunked,
    /// Both `Content-Length` (covering every byte sent) and `Transfer-Encoding: chunked`
    /// (ending early): a request-smuggling attempt (RFC 9112 6.3).
    ContentLengthAndChunked,
}

/// A request hidden in a body after the chunked framing ends (`framing:
/// content-length-and-chunked`); its target carries its own marker.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Hidden {
    /// HTTP method.
    pub method: String,
    /// Request target; `${marker}` is the hidden request's own marker.
    pub target: String,
}

/// Byte-level sending of a probe.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Wire {
    /// Send plain HTTP to the gateway's TLS port.
    #[serde(default)]
    pub plaintext: bool,
    /// The body framing.
    pub framing: Option<Framing>,
    /// A request hidden after the chunked body (with `content-length-and-chunked`).
    pub hidden: Option<Hidden>,
    /// A second request sent on the same connection after the first one's answer; its
    /// `${marker}` is its own.
    pub then: Option<Box<Probe>>,
}

/// An outbound probe: a client of the homeserver asks for the profile of a user on a remote
/// server, which makes the homeserver send a federation query there.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Outbound {
    /// The remote server the homeserver is asked to contact.
    pub to: Remote,
}

/// The verdict a check expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The request reaches the homeserver and its answer comes back.
    Forwarded,
    /// The gateway refuses it with a Matrix error; it never reaches the homeserver.
    Refused,
}

/// What must hold.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// Forwarded or refused.
    pub verdict: Verdict,
    /// Acceptable status codes. Left out where the spec names none (a refusal is then any
    /// 4xx); a policy check lists what products use (e.g. `[401, 403]`); a product profile
    /// may pin the one its product answers.
    pub status: Option<Vec<u16>>,
    /// Acceptable errcodes of a refusal.
    pub errcode: Option<Vec<String>>,
    /// A forwarded answer equals the answer to the same request sent straight to the homeserver
    /// (status and JSON body, minus `ignore` pointers).
    #[serde(default)]
    pub same_as_direct: bool,
    /// JSON pointers left out of the comparison (values that change between two requests).
    #[serde(default)]
    pub ignore: Vec<String>,
    /// Headers that must not reach the homeserver (as sent by the remote).
    #[serde(default)]
    pub upstream_lacks: Vec<String>,
    /// Header values that must not reach the homeserver: `name: value` sent by the remote.
    #[serde(default)]
    pub upstream_not: BTreeMap<String, String>,
    /// The Authorization header reaches the homeserver byte for byte.
    #[serde(default)]
    pub authorization_intact: bool,
    /// A refusal need not be a Matrix error: any 3xx or 4xx answer, or a connection closed
    /// without one, refuses (plaintext on the TLS port).
    #[serde(default)]
    pub any_refusal: bool,
    /// What must happen to `wire.then`, the second request on the connection (default:
    /// refused).
    pub then: Option<Verdict>,
}

/// The raw file.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct RawCheck {
    schema: u32,
    id: String,
    title: String,
    area: String,
    #[serde(default)]
    level: Option<Level>,
    #[serde(default)]
    basis: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    spec: Option<String>,
    gateway: Option<Probe>,
    outbound: Option<Outbound>,
    expect: Expect,
}

/// What a check does.
#[derive(Debug, Clone)]
pub enum Action {
    /// Send a request to the gateway.
    Inbound(Box<Probe>),
    /// Make the homeserver contact a remote.
    Outbound(Outbound),
}

/// One loaded check.
#[derive(Debug, Clone)]
pub struct Check {
    /// `gateway/...` id (the JUnit testcase name).
    pub id: String,
    /// The behaviour, in one sentence.
    pub title: String,
    /// Scored area.
    pub area: String,
    /// Requirement level: `must`/`should`/`may` after the federation spec's keyword, or
    /// `policy` for a gateway deployment rule the spec does not state.
    pub level: Level,
    /// Where the spec requires it (a short quote with its section), or which policy it is.
    pub basis: String,
    /// Behaviour ids and other tags.
    pub tags: Vec<String>,
    /// Spec section, when one applies.
    pub spec: Option<String>,
    /// The file it came from.
    pub file: String,
    /// What it sends.
    pub action: Action,
    /// What must hold (a product profile may narrow `expect.status`).
    pub expect: Expect,
    /// The statuses the check file itself accepts, before any product profile.
    pub file_status: Option<Vec<u16>>,
}

impl crate::plan::filter::Selectable for Check {
    fn id(&self) -> &str {
        &self.id
    }
    fn area(&self) -> &str {
        &self.area
    }
    fn tags(&self) -> &[String] {
        &self.tags
    }
    fn level(&self) -> Level {
        self.level
    }
}

/// Load gateway check files (as the classifier, [`FileKind`], told them apart; the command
/// line gets them from `plan::load`); problems are appended (file order, then position).
pub fn load_sources(files: &[SourceFile], problems: &mut Vec<Problem>) -> Vec<Check> {
    let mut checks: Vec<Check> = Vec::new();
    for file in files {
        match parse_file(file) {
            Ok(c) if checks.iter().any(|o| o.id == c.id) => {
                let at = crate::scenario::node::parse(&file.text)
                    .map(|n| n.locate("/id", false))
                    .unwrap_or_default();
                problems.push(Problem::new(
                    file,
                    at,
                    format!("duplicate check id `{}`", c.id),
                    None,
                ));
            }
            Ok(c) => checks.push(c),
            Err(mut found) => {
                found.sort_by_key(|p| (p.line, p.col));
                problems.extend(found);
            }
        }
    }
    checks.sort_by(|a, b| a.id.cmp(&b.id));
    checks
}

/// Parse one check file; an error has a `file:line:col: message; hint` line per problem, in
/// file order ([`parse_file`] gives them as [`Problem`]s, to render with snippets).
pub fn parse(path: &Path, text: &str) -> Result<Check, String> {
    let file = SourceFile {
        path: path.to_path_buf(),
        text: std::sync::Arc::new(text.to_owned()),
    };
    parse_file(&file).map_err(|mut problems| {
        problems.sort_by_key(|p| (p.line, p.col));
        let lines: Vec<String> = problems
            .iter()
            .map(|p| match &p.help {
                Some(h) => format!("{}: {}; {h}", p.location(), p.message),
                None => format!("{}: {}", p.location(), p.message),
            })
            .collect();
        if lines.is_empty() {
            format!("{}: invalid gateway check", file.display())
        } else {
            lines.join("\n")
        }
    })
}

/// Parse one check file through the positioned parser every file kind shares
/// ([`crate::plan::lower::parse_checked`]: YAML with positions, the schema walk, then the
/// typed model), then check its meaning; every problem is returned.
pub fn parse_file(file: &SourceFile) -> Result<Check, Vec<Problem>> {
    let mut problems = Vec::new();
    let Some((tree, raw)) = crate::plan::lower::parse_checked::<RawCheck>(
        file,
        &CHECK_SCHEMA,
        FileKind::GatewayCheck.describe(),
        &mut problems,
    ) else {
        return Err(problems);
    };
    let mut at = |pointer: &str, message: String, help: Option<String>| {
        // `""` is the file's first key, where a missing key is reported.
        let pos = tree.locate(pointer, false);
        problems.push(Problem::new(file, pos, message, help));
    };
    if raw.schema != 1 {
        at(
            "/schema",
            format!("schema {} is not supported (use 1)", raw.schema),
            None,
        );
    }
    if !ID_RE.is_match(&raw.id) {
        at(
            "/id",
            format!(
                "id `{}` must look like gateway/<area>/<name> (lowercase)",
                raw.id
            ),
            None,
        );
    }
    if raw.level.is_none() {
        at(
            "",
            "missing `level`: must, should or may (the federation spec's keyword), or policy \
             (a gateway deployment rule the spec does not state)"
                .into(),
            None,
        );
    }
    let basis = match raw.basis.as_deref().map(str::trim) {
        None => {
            at(
                "",
                "missing `basis`: a short quote of the spec with its section, or the policy \
                 (\"gateway policy: ...\")"
                    .into(),
                None,
            );
            String::new()
        }
        Some("") => {
            at("/basis", "`basis` is empty".into(), None);
            String::new()
        }
        Some(b) if b.contains('\n') => {
            at("/basis", "`basis` must be one line".into(), None);
            String::new()
        }
        Some(b) => b.to_owned(),
    };
    if let Some(p) = &raw.gateway
        && !p.target.starts_with('/')
        && !p.target.starts_with("http")
    {
        at(
            "/gateway/target",
            format!(
                "target `{}` must start with / (or be absolute-form)",
                p.target
            ),
            None,
        );
    }
    if let Some(w) = raw.gateway.as_ref().and_then(|p| p.wire.as_ref())
        && w.hidden.is_some()
        && w.framing != Some(Framing::ContentLengthAndChunked)
    {
        at(
            "/gateway/wire/hidden",
            "`hidden` needs `framing: content-length-and-chunked`".into(),
            None,
        );
    }
    let action = match (raw.gateway, raw.outbound) {
        (Some(p), None) => Some(Action::Inbound(Box::new(p))),
        (None, Some(o)) => Some(Action::Outbound(o)),
        _ => {
            at(
                "",
                "give exactly one of `gateway:` (inbound) or `outbound:`".into(),
                None,
            );
            None
        }
    };
    match (action, raw.level) {
        (Some(action), Some(level)) if problems.is_empty() => Ok(Check {
            id: raw.id,
            title: raw.title,
            area: raw.area,
            level,
            basis,
            tags: raw.tags,
            spec: raw.spec,
            file: file.display(),
            action,
            file_status: raw.expect.status.clone(),
            expect: raw.expect,
        }),
        _ => Err(problems),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = "schema: 1\nid: gateway/deny/x\ntitle: t\narea: deny\nlevel: policy\nbasis: \"gateway policy: b\"\ngateway:\n  from: denied\n  method: GET\n  target: /_matrix/federation/v1/version\nexpect: { verdict: refused, status: [401, 403] }\n";

    #[test]
    fn a_check_parses_and_bad_ones_are_explained() {
        assert!(is_check_text(OK));
        let c = parse(Path::new("x.yaml"), OK).unwrap();
        assert_eq!(c.level, Level::Policy);
        assert_eq!(c.basis, "gateway policy: b");
        assert_eq!(c.file_status, Some(vec![401, 403]));
        assert!(matches!(c.action, Action::Inbound(ref p) if p.from == Remote::Denied));
        let typo = OK.replace("verdict: refused", "verdict: refused, statuz: [1]");
        let e = parse(Path::new("x.yaml"), &typo).unwrap_err();
        assert!(e.starts_with("x.yaml:11:") && e.contains("statuz"), "{e}");
        assert!(!e.contains("at line"), "{e}");
        let both = format!("{OK}outbound: {{ to: denied }}\n");
        assert!(
            parse(Path::new("x.yaml"), &both)
                .unwrap_err()
                .contains("exactly one")
        );
        let target = OK.replace("target: /_matrix", "target: _matrix");
        let e = parse(Path::new("x.yaml"), &target).unwrap_err();
        assert!(e.starts_with("x.yaml:10:11: target"), "{e}");
        assert!(!is_check_text("schema: 1\nsteps: []\n"));
    }

    #[test]
    fn an_unknown_field_gets_a_suggestion() {
        let text = OK.replace("method:", "methd:");
        let e = parse(Path::new("t.yaml"), &text).expect_err("a typo is an error");
        assert!(e.contains("did you mean `method`?"), "{e}");
        assert!(e.starts_with("t.yaml:"), "{e}");
    }

    #[test]
    fn level_and_basis_are_required_and_located() {
        let no_level = OK.replace("level: policy\n", "");
        let e = parse(Path::new("x.yaml"), &no_level).unwrap_err();
        assert!(e.starts_with("x.yaml:1:1: missing `level`"), "{e}");
        let no_basis = OK.replace("basis: \"gateway policy: b\"\n", "");
        let e = parse(Path::new("x.yaml"), &no_basis).unwrap_err();
        assert!(e.starts_with("x.yaml:1:1: missing `basis`"), "{e}");
        let empty = OK.replace("\"gateway policy: b\"", "\" \"");
        let e = parse(Path::new("x.yaml"), &empty).unwrap_err();
        assert!(e.starts_with("x.yaml:6:8: `basis` is empty"), "{e}");
        let bad = OK.replace("level: policy", "level: strict");
        let e = parse(Path::new("x.yaml"), &bad).unwrap_err();
        assert!(
            e.starts_with("x.yaml:5:8:") && e.contains("\"policy\""),
            "{e}"
        );
        for level in ["must", "should", "may"] {
            let text = OK.replace("level: policy", &format!("level: {level}"));
            assert_eq!(
                parse(Path::new("x.yaml"), &text).unwrap().level.as_str(),
                level
            );
        }
    }
}

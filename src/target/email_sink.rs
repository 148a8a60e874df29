//! The SMTP sink: `aiosmtpd` (installed into the Synapse venv) run by the harness on
//! 127.0.0.1 as a child that dies with it, spooling every message it receives as a JSON file
//! (parsed by Python's `email` package) that the scenarios' `email` steps read.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::Signal;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use super::TargetError;
use super::recorder::RoleRequest;
use super::synapse::SynapseOptions;

/// The pinned SMTP server library (PyPI).
pub const AIOSMTPD: &str = "aiosmtpd==1.4.6";
/// The sink's Python program.
const SCRIPT: &str = include_str!("email_sink.py");
/// Longest wait for the sink to report its port.
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// The pseudo-method of a recorded message ([`EmailSink::messages`]).
pub const MAIL_METHOD: &str = "MAIL";

/// A running SMTP sink; the child is killed when this is dropped.
#[derive(Debug)]
pub struct EmailSink {
    port: u16,
    spool: PathBuf,
    _child: Child,
}

impl EmailSink {
    /// Install aiosmtpd into the Synapse venv if needed and start the sink, spooling into
    /// `dir/mail` (created).
    pub async fn start(opts: &SynapseOptions, dir: &Path) -> Result<Self, TargetError> {
        let python = super::venv::ensure_package(opts, AIOSMTPD, "aiosmtpd").await?;
        Self::start_with(&python, dir).await
    }

    /// Start the sink with an interpreter that can import aiosmtpd.
    pub async fn start_with(python: &Path, dir: &Path) -> Result<Self, TargetError> {
        let io = |context: String| move |source| TargetError::Io { context, source };
        let spool = dir.join("mail");
        std::fs::create_dir_all(&spool)
            .map_err(io(format!("cannot create {}", spool.display())))?;
        let script = dir.join("mxharness-email-sink.py");
        std::fs::write(&script, SCRIPT)
            .map_err(io(format!("cannot write {}", script.display())))?;
        let mut cmd = Command::new(python);
        cmd.arg(&script)
            .arg(&spool)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = crate::child::spawn(cmd, Signal::SIGKILL)
            .await
            .map_err(io(format!("cannot run {}", python.display())))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| TargetError::Config("the SMTP sink has no stdout".into()))?;
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(READY_DEADLINE, lines.next_line()).await;
        let port = match first {
            Ok(Ok(Some(line))) => line
                .strip_prefix("READY ")
                .and_then(|p| p.trim().parse::<u16>().ok()),
            _ => None,
        };
        let Some(port) = port else {
            return Err(TargetError::Config(format!(
                "the SMTP sink ({} {}) did not report its port",
                python.display(),
                script.display()
            )));
        };
        Ok(Self {
            port,
            spool,
            _child: child,
        })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every message received so far, in arrival order, as [`RoleRequest`]s: method
    /// [`MAIL_METHOD`], path the envelope recipients joined by `,`, `json` the message:
    /// `mail_from`, `rcpt_tos`, `from`, `to`, `subject`, `text`, `html`, and `links`
    /// (every `http(s)` URL in the text part, in order).
    pub fn messages(&self) -> Vec<RoleRequest> {
        read_spool(&self.spool)
    }
}

/// The spooled messages under `spool`, oldest first (unreadable files are left out).
pub fn read_spool(spool: &Path) -> Vec<RoleRequest> {
    let mut names: Vec<PathBuf> = std::fs::read_dir(spool)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    names.sort();
    names
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .filter_map(|text| serde_json::from_str::<Value>(&text).ok())
        .map(to_request)
        .collect()
}

fn to_request(mut message: Value) -> RoleRequest {
    let text = message
        .get("text")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let links: Vec<Value> = link_regex()
        .find_iter(&text)
        .map(|m| Value::String(m.as_str().to_owned()))
        .collect();
    let rcpt: Vec<&str> = message
        .get("rcpt_tos")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let path = rcpt.join(",");
    if let Some(obj) = message.as_object_mut() {
        obj.insert("links".into(), Value::Array(links));
    }
    RoleRequest {
        method: MAIL_METHOD.to_owned(),
        uri: format!("smtp:{path}"),
        path,
        headers: Default::default(),
        body: text,
        json: Some(message),
        authenticated: true,
        status: 250,
    }
}

/// A form's `action` (None when absent) and its hidden inputs (name, value), in order.
pub type PostForm = (Option<String>, Vec<(String, String)>);

/// The first `method="post"` form of an HTML page: its `action` (None when absent) and its
/// hidden inputs (`name`, `value`, entities `&amp;` `&quot;` `&lt;` `&gt;` `&#39;` decoded), in order.
pub fn post_form(html: &str) -> Option<PostForm> {
    static FORM: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    static INPUT: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let form = FORM.get_or_init(|| {
        regex::Regex::new(r#"(?is)<form\b([^>]*)>(.*?)</form>"#).expect("a valid regex")
    });
    let input =
        INPUT.get_or_init(|| regex::Regex::new(r#"(?is)<input\b([^>]*)>"#).expect("a valid regex"));
    let (attrs, inner) = form.captures_iter(html).find_map(|c| {
        let attrs = c.get(1)?.as_str();
        (attr(attrs, "method")?.eq_ignore_ascii_case("post")).then(|| {
            (
                attrs.to_owned(),
                c.get(2).map(|m| m.as_str()).unwrap_or("").to_owned(),
            )
        })
    })?;
    let fields = input
        .captures_iter(&inner)
        .filter_map(|c| {
            let a = c.get(1)?.as_str();
            let name = attr(a, "name")?;
            (attr(a, "type")
                .unwrap_or_default()
                .eq_ignore_ascii_case("hidden"))
            .then(|| (name, attr(a, "value").unwrap_or_default()))
        })
        .collect();
    Some((attr(&attrs, "action"), fields))
}

/// The value of attribute `name` in a tag's attribute text (quoted with " or ').
fn attr(attrs: &str, name: &str) -> Option<String> {
    let re = regex::Regex::new(&format!(r#"(?i)\b{name}\s*=\s*(?:"([^"]*)"|'([^']*)')"#)).ok()?;
    let c = re.captures(attrs)?;
    let v = c.get(1).or_else(|| c.get(2))?.as_str();
    Some(
        v.replace("&quot;", "\"")
            .replace("&#39;", "'")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&amp;", "&"),
    )
}

fn link_regex() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| regex::Regex::new(r#"https?://[^\s<>"']+"#).expect("a valid regex"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn spool_files_become_requests_with_links() {
        let dir = tempfile::tempdir().unwrap();
        let m = json!({"rcpt_tos": ["a@example.org"], "subject": "Validate",
            "text": "Click http://127.0.0.1:1/_synapse/x?token=abc&sid=1 now.\nhttps://b/c"});
        std::fs::write(dir.path().join("00000002.json"), m.to_string()).unwrap();
        std::fs::write(
            dir.path().join("00000001.json"),
            json!({"rcpt_tos": ["z@x"]}).to_string(),
        )
        .unwrap();
        std::fs::write(dir.path().join("00000003.tmp"), "{").unwrap();
        let got = read_spool(dir.path());
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].path, "z@x");
        assert_eq!(got[1].method, MAIL_METHOD);
        let page = r#"<p>x</p><form method="post">
            <input type="hidden" name="sid" value="a&amp;b">
            <input type='hidden' name='token' value='t'>
            <input type="text" name="ignored" value="x">
            <button type="submit">Go</button></form>"#;
        let (action, fields) = post_form(page).unwrap();
        assert_eq!(action, None);
        assert_eq!(
            fields,
            vec![("sid".into(), "a&b".into()), ("token".into(), "t".into())]
        );
        assert!(post_form("<form method=\"get\"></form>").is_none());
        assert_eq!(
            got[1].json.as_ref().unwrap()["links"],
            json!([
                "http://127.0.0.1:1/_synapse/x?token=abc&sid=1",
                "https://b/c"
            ])
        );
    }
}

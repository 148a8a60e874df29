//! The one network policy every HTTP client of the harness is built with: no redirects, no
//! proxy, bounded headers, a response body cap read incrementally, and the extra CAs of
//! `--ca-cert` trusted beside the operating system's store.
//!
//! The policy is a property of the process (what the user allows this harness to do), so the
//! command line sets it once with [`install`] before any client exists, and [`base_builder`]
//! and [`read_capped`] read it; a client built without a command line gets [`NetPolicy::default`].

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;

/// Default cap on one response body: 32 MiB.
pub const DEFAULT_MAX_BODY: usize = 32 * 1024 * 1024;

/// Most response header lines accepted (hyper's own default, made explicit).
pub const MAX_HEADERS: usize = 100;

/// Bytes of a body over the cap kept for the transcript.
pub const CAPPED_PREFIX: usize = 1024;

/// Connect timeout of every client.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the harness talks to servers it does not trust.
#[derive(Debug, Clone)]
pub struct NetPolicy {
    /// Largest response body read, in bytes; a longer one is a failed exchange.
    pub max_body: usize,
    /// Extra trust anchors (`--ca-cert`), in addition to the system's roots.
    pub ca_certs: Vec<CertificateDer<'static>>,
}

impl Default for NetPolicy {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            ca_certs: Vec::new(),
        }
    }
}

impl NetPolicy {
    /// The policy of `--max-body` and `--ca-cert FILE...` (each file: one or more PEM
    /// certificates).
    pub fn from_flags(max_body: usize, ca_files: &[PathBuf]) -> Result<Self, String> {
        let mut ca_certs = Vec::new();
        for file in ca_files {
            ca_certs.extend(read_pem_certs(file)?);
        }
        Ok(Self { max_body, ca_certs })
    }

    /// The extra CAs as reqwest certificates.
    pub fn reqwest_roots(&self) -> Result<Vec<reqwest::Certificate>, String> {
        self.ca_certs
            .iter()
            .map(|c| {
                reqwest::Certificate::from_der(c.as_ref())
                    .map_err(|e| format!("--ca-cert: not a usable certificate: {e}"))
            })
            .collect()
    }
}

/// Every certificate in the PEM file `path`; an error names the file when there is none.
pub fn read_pem_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let shown = path.display();
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| format!("{shown}: {e}"))?;
    let mut certs = Vec::new();
    for cert in iter {
        certs.push(cert.map_err(|e| format!("{shown}: {e}"))?);
    }
    if certs.is_empty() {
        return Err(format!(
            "{shown}: no PEM certificate (BEGIN CERTIFICATE) in it"
        ));
    }
    Ok(certs)
}

static POLICY: OnceLock<NetPolicy> = OnceLock::new();

/// Set the process's policy (first call wins; the command line calls it once at start).
pub fn install(policy: NetPolicy) {
    let _ = POLICY.set(policy);
}

/// The process's policy, or the default one.
pub fn policy() -> &'static NetPolicy {
    POLICY.get_or_init(NetPolicy::default)
}

/// The builder every reqwest client starts from: redirects never followed (a 3xx is the
/// answer judged), no proxy, at most [`MAX_HEADERS`] header lines, a connect timeout, the
/// harness's user agent; HTTPS trusts the operating system's store (the bundled web roots
/// when it has none) and `--ca-cert`. HTTP/1 only (reqwest's `http2` feature is off), so
/// hyper's read buffer (~400 KiB) bounds the header section.
pub fn base_builder() -> reqwest::ClientBuilder {
    builder_for(policy())
}

/// [`base_builder`] for an explicit policy.
pub fn builder_for(policy: &NetPolicy) -> reqwest::ClientBuilder {
    // Certificates were checked when the policy was made; an unusable one is dropped.
    let mut roots = policy.reqwest_roots().unwrap_or_default();
    let builder = builder_without_roots();
    if system_roots_present() {
        if roots.is_empty() {
            builder
        } else {
            builder.tls_certs_merge(roots)
        }
    } else {
        roots.extend(bundled_roots());
        builder.tls_certs_only(roots)
    }
}

/// The policy's settings without a trust decision: the caller names its roots (the
/// federation client trusts only the run's CA).
pub fn builder_without_roots() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .http1_max_headers(MAX_HEADERS)
        .connect_timeout(CONNECT_TIMEOUT)
        .user_agent(concat!("mxharness/", env!("CARGO_PKG_VERSION")))
}

/// Whether the operating system's store (or `SSL_CERT_FILE` / `SSL_CERT_DIR`) holds a root;
/// without one reqwest's platform verifier refuses to build any client, even for `http://`.
fn system_roots_present() -> bool {
    static PRESENT: OnceLock<bool> = OnceLock::new();
    *PRESENT.get_or_init(|| !rustls_native_certs::load_native_certs().certs.is_empty())
}

/// The web roots bundled in the binary (Mozilla's, via webpki-root-certs).
fn bundled_roots() -> impl Iterator<Item = reqwest::Certificate> {
    webpki_root_certs::TLS_SERVER_ROOT_CERTS
        .iter()
        .filter_map(|c| reqwest::Certificate::from_der(c.as_ref()).ok())
}

/// A body that could not be read whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyError {
    /// Why, e.g. "the response body exceeds the 32 MiB cap (--max-body)".
    pub reason: String,
    /// The first bytes received (at most [`CAPPED_PREFIX`]), for the transcript.
    pub prefix: Vec<u8>,
    /// The read ended in the request's timeout (the server held the body).
    pub timed_out: bool,
    /// The body is over the cap (else it broke off).
    pub capped: bool,
}

/// Read `response`'s body chunk by chunk, stopping at `cap` bytes: a larger body (declared by
/// Content-Length or streamed) is an error carrying its first KiB, never an allocation of
/// what the server chose to send.
pub async fn read_capped(
    mut response: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, BodyError> {
    if let Some(declared) = response.content_length()
        && declared > cap as u64
    {
        let prefix = match response.chunk().await {
            Ok(Some(c)) => c[..c.len().min(CAPPED_PREFIX)].to_vec(),
            _ => Vec::new(),
        };
        return Err(BodyError {
            reason: format!(
                "the response declares a {declared}-byte body, over the {} cap (--max-body)",
                show_size(cap)
            ),
            prefix,
            timed_out: false,
            capped: true,
        });
    }
    let mut body = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() + chunk.len() > cap {
                    let room = cap.saturating_sub(body.len());
                    body.extend_from_slice(&chunk[..room]);
                    body.truncate(CAPPED_PREFIX);
                    return Err(BodyError {
                        reason: format!(
                            "the response body exceeds the {} cap (--max-body); reading stopped",
                            show_size(cap)
                        ),
                        prefix: body,
                        timed_out: false,
                        capped: true,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body),
            Err(e) => {
                body.truncate(CAPPED_PREFIX);
                return Err(BodyError {
                    reason: error_chain(&e),
                    prefix: body,
                    timed_out: e.is_timeout(),
                    capped: false,
                });
            }
        }
    }
}

/// [`read_capped`] for a hyper body (the gateway's raw sender and tap): frame by frame,
/// stopping at `cap` bytes.
pub async fn collect_capped<B>(mut body: B, cap: usize) -> Result<Vec<u8>, BodyError>
where
    B: hyper::body::Body<Data = bytes::Bytes> + Unpin,
    B::Error: std::error::Error,
{
    use http_body_util::BodyExt;
    let mut out = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(f) => f,
            Err(e) => {
                out.truncate(CAPPED_PREFIX);
                return Err(BodyError {
                    reason: error_chain(&e),
                    prefix: out,
                    timed_out: false,
                    capped: false,
                });
            }
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if out.len() + data.len() > cap {
            out.extend_from_slice(&data[..cap.saturating_sub(out.len())]);
            out.truncate(CAPPED_PREFIX);
            return Err(BodyError {
                reason: format!(
                    "the response body exceeds the {} cap (--max-body); reading stopped",
                    show_size(cap)
                ),
                prefix: out,
                timed_out: false,
                capped: true,
            });
        }
        out.extend_from_slice(&data);
    }
    Ok(out)
}

/// [`read_capped`] with the process's cap, as a one-line message (for callers that keep
/// no transcript).
pub async fn read_body(response: reqwest::Response) -> Result<Vec<u8>, String> {
    read_capped(response, policy().max_body)
        .await
        .map_err(|e| e.reason)
}

/// An error and its whole source chain, `: `-separated (TLS errors name the certificate
/// problem only deep in the chain).
pub fn error_chain(e: &dyn std::error::Error) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !msg.contains(&text) {
            msg.push_str(": ");
            msg.push_str(&text);
        }
        source = s.source();
    }
    msg
}

/// `32 MiB`, `512 KiB`, `100 bytes`.
pub fn show_size(n: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    if n >= MIB && n.is_multiple_of(MIB) {
        format!("{} MiB", n / MIB)
    } else if n >= KIB && n.is_multiple_of(KIB) {
        format!("{} KiB", n / KIB)
    } else {
        format!("{n} bytes")
    }
}

/// Parse `--max-body`: bytes, or a number with `K`/`KiB`, `M`/`MiB`, `G`/`GiB` (powers of 1024;
/// `KB`/`MB`/`GB` too).
pub fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let n: usize = num
        .parse()
        .map_err(|_| format!("{s:?}: give a size such as 32MiB, 512KiB or 1048576"))?;
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1024,
        "m" | "mb" | "mib" => 1024 * 1024,
        "g" | "gb" | "gib" => 1024 * 1024 * 1024,
        other => {
            return Err(format!(
                "{s:?}: unknown unit {other:?} (use KiB, MiB or GiB)"
            ));
        }
    };
    let size = n
        .checked_mul(mult)
        .ok_or_else(|| format!("{s:?}: too large"))?;
    if size == 0 {
        return Err(format!("{s:?}: the cap must be at least one byte"));
    }
    Ok(size)
}

#[cfg(test)]
mod tests;

//! Secret redaction (interim version; replaced by the full one from the reports work).

use crate::results::Exchange;

/// Replaces known secrets with `<redacted>`.
#[derive(Debug, Default, Clone)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// An empty redactor.
    pub fn new() -> Self {
        Self::default()
    }
    /// Remember a secret.
    pub fn add_secret(&mut self, s: impl Into<String>) {
        let s = s.into();
        if s.len() >= 6 {
            self.secrets.push(s);
        }
    }
    /// Redact text.
    pub fn redact_text(&self, t: &str) -> String {
        let mut out = t.to_owned();
        for s in &self.secrets {
            out = out.replace(s.as_str(), "<redacted>");
        }
        out
    }
    /// Redact an exchange.
    pub fn redact_exchange(&self, e: &mut Exchange) {
        e.url = self.redact_text(&e.url);
        for v in e.request_headers.values_mut().chain(e.response_headers.values_mut()) {
            *v = self.redact_text(v);
        }
        e.request_body = e.request_body.as_deref().map(|b| self.redact_text(b));
        e.response_body = e.response_body.as_deref().map(|b| self.redact_text(b));
    }
}

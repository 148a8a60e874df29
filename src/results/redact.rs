//! Secret redaction: placeholder, filled in with the runner.

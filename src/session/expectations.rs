//! Which expectations file a run applies, the one rule for every command that runs checks:
//! none with `--no-expectations`; the file given with `--expectations FILE`; else, for a
//! target the harness starts itself, the shipped file for it when there is one (and, when it
//! names an implementation, only if it describes the one started).

use std::path::PathBuf;

use super::finish::{announce_expectations, expectations_error};
use crate::expectations::Expectations;

/// Where a run's expectations come from.
#[derive(Debug, Clone)]
pub enum ExpectationsSource {
    /// None (`--no-expectations`, or a target the harness did not start and no file given).
    Off,
    /// `--expectations FILE`: it must load.
    Given(PathBuf),
    /// The shipped file for a target the harness starts: used when it exists and, with
    /// `implementation`, only when it describes that implementation.
    Shipped {
        /// The file.
        path: PathBuf,
        /// The implementation started, as the file names it (`Synapse 1.163.2`).
        implementation: Option<String>,
    },
}

/// Load the expectations of a run, saying which are applied; `Err(exit code)` when a file
/// that must be used cannot be.
pub fn load(source: ExpectationsSource) -> Result<Option<Expectations>, u8> {
    let (path, wanted) = match source {
        ExpectationsSource::Off => return Ok(None),
        ExpectationsSource::Given(path) => (path, None),
        ExpectationsSource::Shipped {
            path,
            implementation,
        } => {
            if !path.exists() {
                return Ok(None);
            }
            (path, Some(implementation))
        }
    };
    match Expectations::load(&path) {
        Ok(e) => {
            if let Some(Some(wanted)) = &wanted
                && &e.implementation != wanted
            {
                eprintln!(
                    "note: {} describes {}, not {wanted}: not applied",
                    e.file, e.implementation
                );
                return Ok(None);
            }
            announce_expectations(&e);
            Ok(Some(e))
        }
        Err(e) => Err(expectations_error(e)),
    }
}

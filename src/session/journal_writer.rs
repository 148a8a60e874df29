//! The journal as a reporter of the run's events: each finished scenario (expectations
//! applied, as in the final reports) is appended to `results.jsonl`, and the run's end closes it.

use std::sync::Arc;
use std::time::Instant;

use crate::expectations::Expectations;
use crate::lifecycle::journal::{End, Journal};
use crate::runner::events::{Reporter, RunEvent};

/// Writes `results.jsonl` from the event stream.
#[derive(Debug)]
pub struct JournalWriter {
    journal: Arc<Journal>,
    expectations: Option<Expectations>,
    strict: bool,
    clock: Instant,
}

impl JournalWriter {
    /// A writer to `journal`; `clock` started with the run (for the last line's duration).
    pub fn new(
        journal: Arc<Journal>,
        expectations: Option<Expectations>,
        strict: bool,
        clock: Instant,
    ) -> Self {
        Self {
            journal,
            expectations,
            strict,
            clock,
        }
    }
}

impl Reporter for JournalWriter {
    fn name(&self) -> &str {
        "results.jsonl"
    }

    fn on_event(&mut self, event: &RunEvent) -> Result<(), String> {
        match event {
            RunEvent::ScenarioFinished(r) => {
                let mut judged = [(**r).clone()];
                if let Some(e) = &self.expectations {
                    e.apply(&mut judged, self.strict);
                }
                self.journal.record(&judged[0])
            }
            RunEvent::Finished { stopped_by } => self.journal.end(End {
                duration_ms: super::finish::elapsed_ms(self.clock),
                stopped_by: stopped_by.map(|r| r.describe()),
            }),
            // Scenarios a stop kept from running are listed from the first line when read.
            _ => Ok(()),
        }
    }
}

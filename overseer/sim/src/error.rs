//! Errors of the simulation runner and of scenario files.

use crate::runner::SimReport;
use weft_messages::SlotId;

/// What can go wrong loading, running or checking a simulation.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The scenario file could not be read.
    #[error("cannot read scenario {path}: {error}")]
    Io { path: String, error: std::io::Error },
    /// The scenario is malformed: bad TOML, unknown slot, kind or
    /// implementation, inconsistent fault or expectation.
    #[error("invalid scenario {origin}: {message}")]
    Scenario { origin: String, message: String },
    /// Two subsystems were added for one slot.
    #[error("slot {0} is filled twice")]
    DuplicateSlot(SlotId),
    /// The run did not settle within the step budget.
    #[error("step limit of {limit} reached at virtual time {at} without the run settling; last lines:\n{tail}")]
    StepLimit { limit: u64, at: String, tail: String },
    /// The run finished but an expectation of the scenario does not hold.
    /// The message carries the whole timeline.
    #[error("expectation failed: {expectation} (seed {seed})\n{timeline}")]
    ExpectationFailed { expectation: String, seed: u64, timeline: String, report: Box<SimReport> },
}

impl SimError {
    pub(crate) fn scenario(origin: &str, message: impl Into<String>) -> Self {
        SimError::Scenario { origin: origin.to_string(), message: message.into() }
    }
}

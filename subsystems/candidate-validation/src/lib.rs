//! Candidate validation: the subsystem that runs a parachain's validation function (PVF)
//! on a candidate, as the relay chain's validators must before backing or approving it.
//!
//! [`CandidateValidation`] fills the candidate-validation slot. On
//! `ValidateFromExhaustive { validation_code, params }` it compiles the code in the
//! executor's PVF mode ([`Executor::pvf`]: only the host functions a PVF may call,
//! deterministic NaNs, bounded memory, call depth and time; see
//! `weft_runtime_executor::ExecutorConfig::pvf`), keeping one compiled artifact per code
//! hash, then calls `validate_block` with the SCALE `ValidationParams` and replies with
//! the SCALE `ValidationResult`, or with the reason the candidate is invalid (bad code, a
//! trap, running out of time or memory).
//!
//! Validation runs on the subsystem's own thread (the overseer gives each subsystem
//! one); its wall-clock limit is the executor's PVF timeout.

use weft_messages::{CandidateValidationMessage, CandidateValidationSlot, OverseerSignal};
use weft_overseer::{Context, Subsystem};
use weft_runtime_executor::{Executor, ExecutorError};

/// The candidate-validation subsystem.
pub struct CandidateValidation {
    executor: Executor,
    validated: u64,
    invalid: u64,
}

impl Default for CandidateValidation {
    fn default() -> Self {
        CandidateValidation::new(Executor::pvf())
    }
}

impl CandidateValidation {
    /// A subsystem validating with `executor` (normally [`Executor::pvf`]).
    pub fn new(executor: Executor) -> Self {
        CandidateValidation { executor, validated: 0, invalid: 0 }
    }

    /// Candidates validated and found invalid so far.
    pub fn counts(&self) -> (u64, u64) {
        (self.validated, self.invalid)
    }

    /// Runs a PVF on `params`: the SCALE `ValidationResult`, or why the candidate is
    /// invalid.
    pub fn validate(&mut self, code: &[u8], params: &[u8]) -> Result<Vec<u8>, String> {
        let result =
            self.executor.compile_pvf(code).map_err(|e| format!("validation code unusable: {e}")).and_then(|module| {
                module.validate_block(params).map_err(|e| match e {
                    ExecutorError::Timeout(limit) => format!("validation exceeded its time limit of {limit:?}"),
                    other => format!("validation failed: {other}"),
                })
            });
        match &result {
            Ok(_) => self.validated += 1,
            Err(e) => {
                self.invalid += 1;
                tracing::info!(error = %e, "candidate invalid");
            }
        }
        result
    }
}

impl Subsystem for CandidateValidation {
    type Slot = CandidateValidationSlot;
    type Event = ();

    fn implementation(&self) -> &str {
        "wasmer-pvf"
    }

    fn on_signal(&mut self, _signal: &OverseerSignal, _ctx: &mut Context<'_, '_, Self>) {}

    fn on_message(&mut self, message: CandidateValidationMessage, _ctx: &mut Context<'_, '_, Self>) {
        match message {
            CandidateValidationMessage::ValidateFromExhaustive { validation_code, params, reply } => {
                let _ = reply.send(self.validate(&validation_code, &params));
            }
        }
    }
}

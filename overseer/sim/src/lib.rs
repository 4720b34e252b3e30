//! Deterministic simulation of Weft subsystems.
//!
//! This crate owns the simulation runner ([`Simulation`]), scenario files
//! ([`Scenario`], [`run_scenario_file`]), the recorded timeline and its hash
//! ([`timeline`]), and two demonstration subsystems ([`examples`]).
//!
//! The runner drives real subsystems (any [`weft_overseer::AnySubsystem`]) on
//! one thread with virtual time and one seeded `ChaCha8Rng`: the RNG picks the
//! interleaving when several subsystems are runnable and is the randomness the
//! subsystems read from their context. It applies the overseer's
//! signal-ordering rule with the same [`weft_overseer::SignalOrdering`] the
//! real overseer uses, injects faults (dropped, delayed messages; crashes),
//! and records every signal, message, event, timer, reply and fault as one
//! line of text. Same scenario and seed give the same timeline, byte for
//! byte; its blake2-256 hash is the run's fingerprint.
//!
//! It must not read a clock, spawn threads or use an async runtime: nothing
//! outside the scenario and the seed may influence a run.

pub mod error;
pub mod examples;
pub mod runner;
pub mod scenario;
pub mod timeline;

pub use error::SimError;
pub use examples::example_registry;
pub use runner::{
    active_leaves_signal, leaf_hash, CrashRecord, Fault, MessageFilter, OnCrash, SimOptions, SimReport, Simulation,
    StopReason, DEFAULT_MAX_STEPS,
};
pub use scenario::{run_scenario_file, Comparison, Expectation, Scenario, ScheduledSignal};
pub use timeline::{EventKind, TimelineEntry};

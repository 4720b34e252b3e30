//! Consensus verification for the Weft host: the pure rules of BABE block
//! production and GRANDPA finality, as a Polkadot Host must apply them when it
//! imports blocks and finality proofs.
//!
//! This crate owns the *decisions*: given a header (or a justification or a
//! gossip commit) and the consensus state it must be judged against, is it
//! valid, and what is the consensus state afterwards? It does no I/O, reads no
//! clock and uses no randomness, so every function is a deterministic function
//! of its arguments, and nothing in it panics on untrusted input. Persisting
//! the per-block states, looking up parents, deciding whether a slot is "in the
//! future" and fork choice are the caller's (the chain store's) job; the states
//! are SCALE-encodable for that purpose.
//!
//! * [`babe`]: epochs ([`babe::Epoch`]), the per-block epoch state
//!   ([`babe::EpochState`]) including epoch transitions and skipped epochs, and
//!   header verification ([`babe::verify_header`]): slot claims (primary VRF
//!   lottery with Substrate's exact threshold, secondary plain and secondary VRF
//!   round-robin claims) and the author's seal.
//! * [`grandpa`]: authority sets ([`grandpa::AuthoritySet`]), justification and
//!   gossip-commit verification ([`grandpa::verify_justification`],
//!   [`grandpa::verify_commit`]) and the per-block authority-set state
//!   ([`grandpa::GrandpaState`]) with scheduled (finality-enacted) and forced
//!   (import-enacted) set changes.
//!
//! The rules follow the Polkadot Host specification and the reference
//! implementation (Substrate's `sc-consensus-babe`, `sc-consensus-epochs`,
//! `sc-consensus-grandpa` and `finality-grandpa`); where this crate is
//! deliberately stricter than the reference, the item's documentation says so.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod babe;
pub mod grandpa;

//! SCALE types of Polkadot/Substrate blocks, for the Weft host.
//!
//! This crate is pure data: block headers and their digests, opaque extrinsics and
//! bodies, justifications, and the BABE and GRANDPA payloads carried in digests,
//! justifications and gossip commits, together with the few computations defined
//! directly on them (block hash, seal pre-hash, extrinsics root, GRANDPA vote
//! signature checks). It performs no I/O.
//!
//! All types implement `parity_scale_codec::{Encode, Decode}` and re-encode
//! byte-for-byte what they decoded. Bytes from the network or any other untrusted
//! source should go through the `decode_*` functions (or [`decode_exact`]), which
//! bound input size, nesting depth and allocation, never pre-allocate from
//! attacker-chosen lengths, reject trailing bytes, and report failures as
//! [`DecodeError`]s naming what was being decoded. No function in this crate panics
//! on malformed input.
//!
//! Modules:
//! * [`header`]: [`Header`], [`Digest`], [`DigestItem`], engine ids, seal helpers.
//! * [`block`]: [`Block`], [`OpaqueExtrinsic`], [`Justifications`], [`extrinsics_root`].
//! * [`babe`]: pre-digests, consensus logs, `BabeApi` configuration and epoch types.
//! * [`grandpa`]: consensus logs, justifications, commit messages, vote signatures.
//! * [`decode`]: the bounded decoder and its limits and errors.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod babe;
pub mod block;
pub mod decode;
pub mod grandpa;
pub mod hash;
pub mod header;

pub use block::{
    decode_block, decode_body, decode_digest, decode_digest_item, decode_extrinsic, decode_header,
    decode_justifications, extrinsics_root, Block, Justifications, OpaqueExtrinsic, SignedBlock, StateVersion,
};
pub use decode::{decode_exact, decode_prefix, DecodeError, DecodeLimits};
pub use grandpa::{decode_commit_message, decode_justification, GrandpaJustification, JustificationError};
pub use hash::{BlockNumber, Hash, ParseHashError, H256};
pub use header::{
    ConsensusEngineId, Digest, DigestItem, Header, AURA_ENGINE_ID, BABE_ENGINE_ID, BEEFY_ENGINE_ID, GRANDPA_ENGINE_ID,
};

//! Substrate's base-16 Merkle-Patricia state trie, as used by the Polkadot Host.
//!
//! This crate owns everything about the *shape* and *hashing* of state, and nothing about
//! where state is stored. It is pure logic: no I/O, no global state, and no panics on
//! untrusted bytes (node encodings and proofs coming from the network are only ever decoded
//! into `Result`s).
//!
//! What it owns:
//!
//! - [`StateVersion`] (V0: values always inline; V1: values of 33 bytes or more are stored
//!   out of line, referenced by their hash) and [`EMPTY_TRIE_ROOT`].
//! - The node codec ([`decode_node`], [`DecodedNode::encode`], [`encode_node`]): Substrate's
//!   "no extension node" `NodeCodec` with blake2b-256 hashing.
//! - Root calculation for arbitrary key/value sets ([`trie_root`]), for ordered lists such as
//!   the extrinsics root ([`ordered_trie_root`]) and for a top trie plus default child tries
//!   ([`state_root_with_children`]).
//! - Storage proofs: generation ([`generate_proof`]), decoding and verification
//!   ([`StorageProof`], [`VerifiedProof`]) including absence and `next_key` queries.
//! - The "eager" proof format of `trie-db` used by the `ext_trie_*_verify_proof` host
//!   functions ([`verify_proof`], [`verify_proof_items`], [`generate_eager_proof`]).
//! - A trie stored as nodes in a content-addressed store ([`db`]): reads, `next_key`, proofs,
//!   and updates that report the nodes created and released (the chain store's state).
//! - An incremental in-memory trie ([`TrieMap`]) that caches the Merkle value of every node
//!   and only re-hashes the paths touched since the last root calculation.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codec;
pub mod db;
mod eager;
mod encoder;
pub mod nibbles;
mod proof;
mod root;
mod triemap;

pub use codec::{
    decode_node, encode_node, DecodedNode, NodeDecodeError, NodeValue, PartialKey, MAX_PARTIAL_KEY_NIBBLES,
};
pub use eager::{generate_eager_proof, verify_proof, verify_proof_items};
pub use proof::{encode_proof, generate_proof, ProofError, StorageProof, VerifiedProof};
pub use root::{child_storage_key, ordered_trie_root, state_root_with_children, trie_root};
pub use triemap::{ClearPrefixOutcome, Iter, TrieMap};

/// Root of the trie that contains no entry: blake2b-256 of the single byte `0x00`
/// (the encoding of the empty node).
pub const EMPTY_TRIE_ROOT: [u8; 32] = [
    0x03, 0x17, 0x0a, 0x2e, 0x75, 0x97, 0xb7, 0xb7, 0xe3, 0xd8, 0x4c, 0x05, 0x39, 0x1d, 0x13, 0x9a, 0x62, 0xb1, 0x57,
    0xe7, 0x87, 0x86, 0xd8, 0xc0, 0x82, 0xf2, 0x9d, 0xcf, 0x4c, 0x11, 0x13, 0x14,
];

/// Prefix, in the top trie, of the keys under which the roots of default child tries are
/// stored.
pub const CHILD_STORAGE_DEFAULT_PREFIX: &[u8] = b":child_storage:default:";

/// Values of at least this many bytes are stored as a separate hashed value in a
/// [`StateVersion::V1`] trie.
pub const V1_HASHED_VALUE_THRESHOLD: usize = 33;

/// Version of the trie layout ("state version" of a runtime).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum StateVersion {
    /// Every value is stored inline in its node.
    V0,
    /// Values of [`V1_HASHED_VALUE_THRESHOLD`] bytes or more are stored out of line and the
    /// node only contains their blake2b-256 hash.
    V1,
}

impl StateVersion {
    /// Whether a value of `len` bytes, written under this version, is stored as a hash.
    #[inline]
    pub fn hashes_value_of_len(self, len: usize) -> bool {
        matches!(self, StateVersion::V1) && len >= V1_HASHED_VALUE_THRESHOLD
    }
}

/// Error returned when converting an unknown number into a [`StateVersion`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown state version {0}")]
pub struct UnknownStateVersion(pub u8);

impl TryFrom<u8> for StateVersion {
    type Error = UnknownStateVersion;

    fn try_from(v: u8) -> Result<Self, Self::Error> {
        match v {
            0 => Ok(StateVersion::V0),
            1 => Ok(StateVersion::V1),
            other => Err(UnknownStateVersion(other)),
        }
    }
}

impl From<StateVersion> for u8 {
    fn from(v: StateVersion) -> u8 {
        match v {
            StateVersion::V0 => 0,
            StateVersion::V1 => 1,
        }
    }
}

/// blake2b-256 of `data`, the hash used everywhere in the trie.
pub fn blake2_256(data: &[u8]) -> [u8; 32] {
    use blake2::Digest as _;
    let mut h = Hasher::new();
    h.update(data);
    h.finalize().into()
}

pub(crate) type Hasher = blake2::Blake2b<blake2::digest::consts::U32>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_hash_of_empty_node() {
        assert_eq!(blake2_256(&[0]), EMPTY_TRIE_ROOT);
    }

    #[test]
    fn state_version_conversions() {
        assert_eq!(StateVersion::try_from(0).unwrap(), StateVersion::V0);
        assert_eq!(StateVersion::try_from(1).unwrap(), StateVersion::V1);
        assert_eq!(StateVersion::try_from(2), Err(UnknownStateVersion(2)));
        assert_eq!(u8::from(StateVersion::V1), 1);
        assert!(!StateVersion::V0.hashes_value_of_len(1000));
        assert!(!StateVersion::V1.hashes_value_of_len(32));
        assert!(StateVersion::V1.hashes_value_of_len(33));
    }
}

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
//!   "no extension node" `NodeCodec`.
//! - The hash function ([`TrieHasher`]): blake2b-256 everywhere Substrate stores a trie, and
//!   Keccak-256 for the `ext_trie_keccak_256_*` host functions, which use the same layouts
//!   and codec (`LayoutV0`/`LayoutV1<KeccakHasher>`). The functions without a hasher
//!   parameter use blake2b-256; their `*_with` variants take one.
//! - Root calculation for arbitrary key/value sets ([`trie_root`], [`trie_root_with`]), for
//!   ordered lists such as the extrinsics root ([`ordered_trie_root`],
//!   [`ordered_trie_root_with`]) and for a top trie plus default child tries
//!   ([`state_root_with_children`]).
//! - Storage proofs (blake2b-256): generation ([`generate_proof`]), decoding and verification
//!   ([`StorageProof`], [`VerifiedProof`]) including absence and `next_key` queries.
//! - The "eager" proof format of `trie-db` used by the `ext_trie_*_verify_proof` host
//!   functions ([`verify_proof`], [`verify_proof_items`], [`generate_eager_proof`] and their
//!   `*_with` variants for either hasher).
//! - A trie stored as nodes in a content-addressed store ([`db`]): reads, `next_key`, proofs,
//!   and updates that report the nodes created and released (the chain store's state).
//!   blake2b-256 only.
//! - An incremental in-memory trie ([`TrieMap`]) that caches the Merkle value of every node
//!   and only re-hashes the paths touched since the last root calculation. blake2b-256 only.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod codec;
pub mod compact;
pub mod db;
mod eager;
mod encoder;
mod hasher;
pub mod nibbles;
mod proof;
pub mod range_proof;
mod root;
mod triemap;

pub use codec::{
    decode_node, encode_node, DecodedNode, NodeDecodeError, NodeValue, PartialKey, MAX_PARTIAL_KEY_NIBBLES,
};
pub use eager::{
    generate_eager_proof, generate_eager_proof_with, verify_proof, verify_proof_items, verify_proof_items_with,
    verify_proof_with,
};
pub use hasher::TrieHasher;
pub use proof::{encode_proof, generate_proof, ProofError, StorageProof, VerifiedProof};
pub use root::{
    child_storage_key, ordered_trie_root, ordered_trie_root_with, state_root_with_children, trie_root, trie_root_with,
};
pub use triemap::{ClearPrefixOutcome, Iter, TrieMap};

/// Root of the trie that contains no entry: blake2b-256 of the single byte `0x00`
/// (the encoding of the empty node).
pub const EMPTY_TRIE_ROOT: [u8; 32] = [
    0x03, 0x17, 0x0a, 0x2e, 0x75, 0x97, 0xb7, 0xb7, 0xe3, 0xd8, 0x4c, 0x05, 0x39, 0x1d, 0x13, 0x9a, 0x62, 0xb1, 0x57,
    0xe7, 0x87, 0x86, 0xd8, 0xc0, 0x82, 0xf2, 0x9d, 0xcf, 0x4c, 0x11, 0x13, 0x14,
];

/// Root of the trie that contains no entry under [`TrieHasher::Keccak256`]: Keccak-256 of
/// the single byte `0x00`.
pub const EMPTY_TRIE_ROOT_KECCAK: [u8; 32] = [
    0xbc, 0x36, 0x78, 0x9e, 0x7a, 0x1e, 0x28, 0x14, 0x36, 0x46, 0x42, 0x29, 0x82, 0x8f, 0x81, 0x7d, 0x66, 0x12, 0xf7,
    0xb4, 0x77, 0xd6, 0x65, 0x91, 0xff, 0x96, 0xa9, 0xe0, 0x64, 0xbc, 0xc9, 0x8a,
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
    /// node only contains their hash (with the trie's [`TrieHasher`]).
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

/// blake2b-256 of `data`, the hash of Substrate's tries ([`TrieHasher::Blake2_256`]).
pub fn blake2_256(data: &[u8]) -> [u8; 32] {
    TrieHasher::Blake2_256.hash(data)
}

/// Keccak-256 of `data` ([`TrieHasher::Keccak256`]).
pub fn keccak_256(data: &[u8]) -> [u8; 32] {
    TrieHasher::Keccak256.hash(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_hash_of_empty_node() {
        assert_eq!(blake2_256(&[0]), EMPTY_TRIE_ROOT);
        assert_eq!(keccak_256(&[0]), EMPTY_TRIE_ROOT_KECCAK);
        assert_eq!(
            hex::encode(EMPTY_TRIE_ROOT_KECCAK),
            "bc36789e7a1e281436464229828f817d6612f7b477d66591ff96a9e064bcc98a"
        );
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

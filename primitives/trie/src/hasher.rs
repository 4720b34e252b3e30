//! The hash function of a trie: blake2b-256 for the state trie and everything Substrate
//! stores, Keccak-256 for the `ext_trie_keccak_256_*` host functions. Both hash node
//! encodings of 32 bytes or more, the long values of a [`crate::StateVersion::V1`] trie and
//! the root node.
//!
//! The public [`TrieHasher`] is resolved once per operation into a zero-sized [`NodeHasher`]
//! type, so the per-node hashing code is monomorphised and the blake2 paths are exactly what
//! they were before the hasher became a parameter.

use blake2::Digest as _;

/// Hash function used for the nodes, hashed values and root of a trie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum TrieHasher {
    /// blake2b-256: Substrate's state trie, extrinsics roots and the
    /// `ext_trie_blake2_256_*` host functions.
    #[default]
    Blake2_256,
    /// Keccak-256 (the pre-standard SHA-3 padding, as in Ethereum): the
    /// `ext_trie_keccak_256_*` host functions.
    Keccak256,
}

impl TrieHasher {
    /// Hash of `data`.
    #[inline]
    pub fn hash(self, data: &[u8]) -> [u8; 32] {
        match self {
            TrieHasher::Blake2_256 => Blake2::hash(data),
            TrieHasher::Keccak256 => Keccak::hash(data),
        }
    }

    /// Root of the trie that contains no entry: the hash of the single byte `0x00`.
    #[inline]
    pub const fn empty_root(self) -> [u8; 32] {
        match self {
            TrieHasher::Blake2_256 => crate::EMPTY_TRIE_ROOT,
            TrieHasher::Keccak256 => crate::EMPTY_TRIE_ROOT_KECCAK,
        }
    }
}

/// A hash function as a type, for code that hashes once per node.
pub(crate) trait NodeHasher {
    /// The same hash function as a value.
    const KIND: TrieHasher;
    /// Root of the empty trie.
    const EMPTY_ROOT: [u8; 32];

    /// Hash of the concatenation of `parts`.
    fn hash_parts(parts: &[&[u8]]) -> [u8; 32];

    /// Hash of `data`.
    #[inline]
    fn hash(data: &[u8]) -> [u8; 32] {
        Self::hash_parts(&[data])
    }
}

/// blake2b-256.
pub(crate) enum Blake2 {}

impl NodeHasher for Blake2 {
    const KIND: TrieHasher = TrieHasher::Blake2_256;
    const EMPTY_ROOT: [u8; 32] = crate::EMPTY_TRIE_ROOT;

    #[inline]
    fn hash_parts(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = blake2::Blake2b::<blake2::digest::consts::U32>::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().into()
    }
}

/// Keccak-256.
pub(crate) enum Keccak {}

impl NodeHasher for Keccak {
    const KIND: TrieHasher = TrieHasher::Keccak256;
    const EMPTY_ROOT: [u8; 32] = crate::EMPTY_TRIE_ROOT_KECCAK;

    #[inline]
    fn hash_parts(parts: &[&[u8]]) -> [u8; 32] {
        let mut h = sha3::Keccak256::new();
        for p in parts {
            sha3::Digest::update(&mut h, p);
        }
        sha3::Digest::finalize(h).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_roots_are_hashes_of_the_empty_node() {
        for hasher in [TrieHasher::Blake2_256, TrieHasher::Keccak256] {
            assert_eq!(hasher.hash(&[0]), hasher.empty_root(), "{hasher:?}");
        }
        assert_eq!(Blake2::hash(&[0]), Blake2::EMPTY_ROOT);
        assert_eq!(Keccak::hash(&[0]), Keccak::EMPTY_ROOT);
    }

    #[test]
    fn keccak_is_the_pre_standard_variant() {
        // Keccak-256 of the empty string (SHA3-256 would give a7ffc6f8...).
        assert_eq!(
            hex::encode(TrieHasher::Keccak256.hash(&[])),
            "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
        );
        assert_eq!(
            hex::encode(TrieHasher::Keccak256.hash(b"abc")),
            "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"
        );
    }

    #[test]
    fn parts_are_concatenated() {
        assert_eq!(Keccak::hash_parts(&[b"ab", b"", b"c"]), Keccak::hash(b"abc"));
        assert_eq!(Blake2::hash_parts(&[b"a", b"bc"]), Blake2::hash(b"abc"));
    }
}

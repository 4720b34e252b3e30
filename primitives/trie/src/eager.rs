//! The "eager" proof format of `trie-db` (`trie_db::proof`), which is what the
//! `ext_trie_{blake2,keccak}_256_verify_proof` host functions verify.
//!
//! The proof is the list of nodes met while looking up the sorted keys, in depth-first
//! pre-order, each encoded with two kinds of omission that the verifier reconstructs:
//! - the value of a proven key (a leaf then carries an empty inline value, a branch no
//!   value), rebuilt from the expected value, hashed when the layout version says so;
//! - the reference to a child node that is itself in the proof (an empty inline
//!   reference), rebuilt from the child's reconstructed encoding.
//!
//! Verification succeeds only if the reconstructed root hash equals the expected root, no
//! node is left over and no reference or value that should have been omitted is present.
//!
//! The functions without a hasher parameter work on blake2b-256 tries; their `*_with`
//! variants take the [`TrieHasher`] (Keccak-256 for `ext_trie_keccak_256_verify_proof`),
//! which hashes the nodes, the root and the omitted values a V1 layout stores hashed.

use crate::codec::{decode_node_prefix, DecodedNode, NodeValue};
use crate::encoder::{Encoder, MerkleValue, Partial, Val};
use crate::hasher::{Blake2, Keccak, NodeHasher};
use crate::proof::ProofError;
use crate::{nibbles, StateVersion, TrieHasher, TrieMap};
use std::collections::BTreeMap;

/// Generates an eager proof (see the module documentation) of `keys` in the blake2b-256
/// trie of `entries`.
pub fn generate_eager_proof(
    version: StateVersion,
    entries: &BTreeMap<Vec<u8>, Vec<u8>>,
    keys: &[&[u8]],
) -> Vec<Vec<u8>> {
    generate_eager_proof_with(TrieHasher::Blake2_256, version, entries, keys)
}

/// [`generate_eager_proof`] for a trie hashed with `hasher`.
pub fn generate_eager_proof_with(
    hasher: TrieHasher,
    version: StateVersion,
    entries: &BTreeMap<Vec<u8>, Vec<u8>>,
    keys: &[&[u8]],
) -> Vec<Vec<u8>> {
    let mut m = TrieMap::with_hasher(version, hasher);
    for (k, v) in entries {
        m.insert(k, v.clone());
    }
    m.eager_proof(keys)
}

/// Verifies that, in the blake2b-256 trie of root `root`, `key` holds `expected_value`
/// (`None`: is absent), using an eager proof. `version` decides how the omitted value is
/// re-encoded (inline, or hashed if V1 and 33 bytes or longer).
pub fn verify_proof<P: AsRef<[u8]>>(
    root: &[u8; 32],
    proof: &[P],
    key: &[u8],
    expected_value: Option<&[u8]>,
    version: StateVersion,
) -> Result<(), ProofError> {
    verify_proof_with(TrieHasher::Blake2_256, root, proof, key, expected_value, version)
}

/// [`verify_proof`] for a trie hashed with `hasher`.
pub fn verify_proof_with<P: AsRef<[u8]>>(
    hasher: TrieHasher,
    root: &[u8; 32],
    proof: &[P],
    key: &[u8],
    expected_value: Option<&[u8]>,
    version: StateVersion,
) -> Result<(), ProofError> {
    verify_proof_items_with(hasher, root, proof, &[(key, expected_value)], version)
}

struct Entry<'a> {
    node: DecodedNode<'a>,
    /// A key whose first `prefix_len` nibbles lead to this node.
    prefix_key: &'a [u8],
    prefix_len: usize,
    is_inline: bool,
    value: Val<'a>,
    child_index: usize,
    children: [Option<MerkleValue>; 16],
}

impl<'a> Entry<'a> {
    fn new(bytes: &'a [u8], prefix_key: &'a [u8], prefix_len: usize, is_inline: bool) -> Result<Self, ProofError> {
        // Like Substrate's codec, ignore bytes after the node: only the re-encoding is hashed.
        let (node, _) = decode_node_prefix(bytes)?;
        let value = match node.value {
            NodeValue::None => Val::None,
            NodeValue::Inline(v) => Val::Inline(v),
            NodeValue::Hashed(h) => Val::Hashed(*h),
        };
        Ok(Entry { node, prefix_key, prefix_len, is_inline, value, child_index: 0, children: [None; 16] })
    }

    /// Copies the node's own child references for indices `child_index..until`.
    fn copy_children(&mut self, until: usize) -> Result<(), ProofError> {
        while self.child_index < until {
            if let Some(r) = self.node.children[self.child_index] {
                self.children[self.child_index] =
                    Some(MerkleValue::from_ref(r).ok_or(ProofError::InvalidChildReference)?);
            }
            self.child_index += 1;
        }
        Ok(())
    }
}

enum Match {
    Leaf,
    Branch,
    NotFound,
    NotOmitted,
    Child(usize),
}

fn match_key(key: &[u8], prefix_len: usize, node: &DecodedNode<'_>) -> Match {
    if node.is_empty() {
        return Match::NotFound;
    }
    let knl = key.len() * 2;
    let p = node.partial_key;
    let end = prefix_len + p.len();
    let contains = end <= knl && p.iter().enumerate().all(|(i, n)| nibbles::at(key, prefix_len + i) == n);
    if !node.has_children() {
        if !(contains && knl == end) {
            return Match::NotFound;
        }
        return match node.value {
            NodeValue::Inline([]) => Match::Leaf,
            NodeValue::None => Match::NotFound,
            _ => Match::NotOmitted,
        };
    }
    if !contains {
        return Match::NotFound;
    }
    if knl == end {
        return if node.value.is_some() { Match::NotOmitted } else { Match::Branch };
    }
    if node.children[usize::from(nibbles::at(key, end))].is_some() {
        Match::Child(end + 1)
    } else {
        Match::NotFound
    }
}

/// Verifies several `(key, expected value)` statements at once with an eager proof (see the
/// module documentation) of a blake2b-256 trie. The items may be in any order but keys must
/// be distinct.
pub fn verify_proof_items<'a, P: AsRef<[u8]>>(
    root: &[u8; 32],
    proof: &'a [P],
    items: &[(&'a [u8], Option<&'a [u8]>)],
    version: StateVersion,
) -> Result<(), ProofError> {
    verify_proof_items_with(TrieHasher::Blake2_256, root, proof, items, version)
}

/// [`verify_proof_items`] for a trie hashed with `hasher`.
pub fn verify_proof_items_with<'a, P: AsRef<[u8]>>(
    hasher: TrieHasher,
    root: &[u8; 32],
    proof: &'a [P],
    items: &[(&'a [u8], Option<&'a [u8]>)],
    version: StateVersion,
) -> Result<(), ProofError> {
    match hasher {
        TrieHasher::Blake2_256 => verify_items::<Blake2, P>(root, proof, items, version),
        TrieHasher::Keccak256 => verify_items::<Keccak, P>(root, proof, items, version),
    }
}

fn verify_items<'a, H: NodeHasher, P: AsRef<[u8]>>(
    root: &[u8; 32],
    proof: &'a [P],
    items: &[(&'a [u8], Option<&'a [u8]>)],
    version: StateVersion,
) -> Result<(), ProofError> {
    let mut items: Vec<(&'a [u8], Option<&'a [u8]>)> = items.to_vec();
    items.sort();
    if items.is_empty() {
        return if proof.is_empty() { Ok(()) } else { Err(ProofError::ExtraneousNode) };
    }
    if items.windows(2).any(|w| w[0].0 == w[1].0) {
        return Err(ProofError::DuplicateKey);
    }
    let set_value = |v: &'a [u8]| -> Val<'a> {
        if version.hashes_value_of_len(v.len()) {
            Val::Hashed(H::hash(v))
        } else {
            Val::Inline(v)
        }
    };

    let mut proof_iter = proof.iter().map(|p| p.as_ref());
    let root_bytes = proof_iter.next().ok_or(ProofError::IncompleteProof)?;
    let mut entry = Entry::new(root_bytes, &[], 0, false)?;
    let mut stack: Vec<Entry<'a>> = Vec::new();
    let mut encoder = Encoder::default();
    let mut next_item = 0;

    loop {
        // Consume the items that concern the current node, until one leads to a child.
        let mut descend: Option<(usize, &'a [u8])> = None;
        while let Some(&(key, expected)) = items.get(next_item) {
            if entry.prefix_len > 0 && nibbles::common_prefix(key, entry.prefix_key, 0) < entry.prefix_len {
                break;
            }
            match match_key(key, entry.prefix_len, &entry.node) {
                Match::Leaf => match expected {
                    Some(v) => entry.value = set_value(v),
                    None => return Err(ProofError::ValueMismatch),
                },
                Match::Branch => {
                    entry.value = match expected {
                        Some(v) => set_value(v),
                        None => Val::None,
                    }
                }
                Match::NotFound => {
                    if expected.is_some() {
                        return Err(ProofError::ValueMismatch);
                    }
                }
                Match::NotOmitted => return Err(ProofError::ExtraneousValue),
                Match::Child(child_prefix_len) => {
                    descend = Some((child_prefix_len, key));
                    break;
                }
            }
            next_item += 1;
        }

        if let Some((child_prefix_len, key)) = descend {
            let nib = usize::from(nibbles::at(key, child_prefix_len - 1));
            if nib < entry.child_index {
                return Err(ProofError::InvalidStructure("items out of order"));
            }
            entry.copy_children(nib)?;
            let handle = entry.node.children[nib].ok_or(ProofError::IncompleteProof)?;
            let child = if handle.len() == 32 {
                return Err(ProofError::ExtraneousHashReference);
            } else if handle.is_empty() {
                let bytes = proof_iter.next().ok_or(ProofError::IncompleteProof)?;
                Entry::new(bytes, key, child_prefix_len, false)?
            } else {
                Entry::new(handle, key, child_prefix_len, true)?
            };
            stack.push(std::mem::replace(&mut entry, child));
            continue;
        }

        // Unwind: rebuild this node's encoding and hand its reference to the parent.
        entry.copy_children(16)?;
        let children = &entry.children;
        let enc = encoder.encode(&Partial::Packed(entry.node.partial_key), &entry.value, |i| {
            children[i].as_ref().map(|m| m.as_slice())
        });
        let child_ref = if entry.is_inline {
            MerkleValue::from_ref(&enc).ok_or(ProofError::InvalidChildReference)?
        } else {
            MerkleValue::from_hash(H::hash(&enc))
        };
        match stack.pop() {
            Some(mut parent) => {
                if parent.child_index >= 16 {
                    return Err(ProofError::InvalidStructure("too many children"));
                }
                parent.children[parent.child_index] = Some(child_ref);
                parent.child_index += 1;
                entry = parent;
            }
            None => {
                if proof_iter.next().is_some() {
                    return Err(ProofError::ExtraneousNode);
                }
                return if child_ref.as_slice() == root { Ok(()) } else { Err(ProofError::RootMismatch) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries() -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut m = BTreeMap::new();
        for i in 0u32..100 {
            m.insert((i * 5).to_be_bytes().to_vec(), vec![(i % 256) as u8; (i % 50) as usize]);
        }
        m.insert(b"a".to_vec(), b"tiny".to_vec());
        m.insert(b"ab".to_vec(), b"".to_vec());
        m
    }

    #[test]
    fn roundtrip_membership_and_absence() {
        let e = entries();
        for version in [StateVersion::V0, StateVersion::V1] {
            let root = crate::trie_root(version, e.iter());
            for key in [
                25u32.to_be_bytes().to_vec(),
                245u32.to_be_bytes().to_vec(),
                26u32.to_be_bytes().to_vec(),
                b"a".to_vec(),
                b"ab".to_vec(),
                b"abc".to_vec(),
                b"".to_vec(),
            ] {
                let proof = generate_eager_proof(version, &e, &[&key]);
                let expected = e.get(&key).map(|v| v.as_slice());
                assert_eq!(verify_proof(&root, &proof, &key, expected, version), Ok(()), "{key:?}");
                // Wrong claims fail.
                let wrong: Option<&[u8]> = match expected {
                    Some(_) => None,
                    None => Some(b"x"),
                };
                assert!(verify_proof(&root, &proof, &key, wrong, version).is_err());
                assert!(verify_proof(&root, &proof, &key, Some(b"other value"), version).is_err());
                assert!(verify_proof(&[0; 32], &proof, &key, expected, version).is_err());
            }
            // Several keys at once.
            let keys: Vec<Vec<u8>> = vec![
                5u32.to_be_bytes().to_vec(),
                10u32.to_be_bytes().to_vec(),
                11u32.to_be_bytes().to_vec(),
                b"ab".to_vec(),
            ];
            let key_refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
            let proof = generate_eager_proof(version, &e, &key_refs);
            let items: Vec<(&[u8], Option<&[u8]>)> =
                keys.iter().map(|k| (k.as_slice(), e.get(k).map(|v| v.as_slice()))).collect();
            assert_eq!(verify_proof_items(&root, &proof, &items, version), Ok(()));
            // A proof with nodes for another, distant key does not verify a subset.
            let far = 495u32.to_be_bytes();
            let proof = generate_eager_proof(version, &e, &[&keys[0], &far]);
            assert!(verify_proof_items(&root, &proof, &items[..1], version).is_err());
        }
    }

    #[test]
    fn keccak_roundtrip_and_hasher_mismatch() {
        use TrieHasher::{Blake2_256, Keccak256};
        let e = entries();
        for version in [StateVersion::V0, StateVersion::V1] {
            let root = crate::trie_root_with(Keccak256, version, e.iter());
            let blake2_root = crate::trie_root(version, e.iter());
            assert_ne!(root, blake2_root);
            for key in [
                25u32.to_be_bytes().to_vec(),
                245u32.to_be_bytes().to_vec(),
                26u32.to_be_bytes().to_vec(),
                b"a".to_vec(),
                b"ab".to_vec(),
                b"abc".to_vec(),
            ] {
                let proof = generate_eager_proof_with(Keccak256, version, &e, &[&key]);
                let expected = e.get(&key).map(|v| v.as_slice());
                assert_eq!(verify_proof_with(Keccak256, &root, &proof, &key, expected, version), Ok(()), "{key:?}");
                // Same proof, same root, wrong hasher: the rebuilt root differs.
                assert_eq!(
                    verify_proof_with(Blake2_256, &root, &proof, &key, expected, version),
                    Err(ProofError::RootMismatch),
                    "{key:?}"
                );
                assert!(verify_proof(&blake2_root, &proof, &key, expected, version).is_err(), "{key:?}");
                // Tampered claims and proofs fail.
                assert!(verify_proof_with(Keccak256, &root, &proof, &key, Some(b"other value"), version).is_err());
                if expected.is_some() {
                    assert!(verify_proof_with(Keccak256, &root, &proof, &key, None, version).is_err());
                }
                for i in 0..proof.len() {
                    for pos in [0, proof[i].len() / 2, proof[i].len() - 1] {
                        let mut bad = proof.clone();
                        bad[i][pos] ^= 0x01;
                        assert!(
                            verify_proof_with(Keccak256, &root, &bad, &key, expected, version).is_err(),
                            "{key:?} node {i} byte {pos}"
                        );
                    }
                }
                // The blake2 proof of the same key differs (hashed child references).
                let blake2_proof = generate_eager_proof(version, &e, &[&key]);
                assert_ne!(proof, blake2_proof);
                assert!(verify_proof_with(Keccak256, &root, &blake2_proof, &key, expected, version).is_err());
            }
            // Several keys at once.
            let keys: Vec<Vec<u8>> = vec![5u32.to_be_bytes().to_vec(), 11u32.to_be_bytes().to_vec(), b"ab".to_vec()];
            let key_refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
            let proof = generate_eager_proof_with(Keccak256, version, &e, &key_refs);
            let items: Vec<(&[u8], Option<&[u8]>)> =
                keys.iter().map(|k| (k.as_slice(), e.get(k).map(|v| v.as_slice()))).collect();
            assert_eq!(verify_proof_items_with(Keccak256, &root, &proof, &items, version), Ok(()));
            assert!(verify_proof_items_with(Blake2_256, &root, &proof, &items, version).is_err());
        }
    }

    #[test]
    fn keccak_hand_built_proofs() {
        use crate::keccak_256;
        use TrieHasher::Keccak256;
        // {"ab": "xyz"}: the proof of "ab" is the root leaf with its value omitted.
        let root = keccak_256(&[0x44, b'a', b'b', 0x0c, b'x', b'y', b'z']);
        let proof = [vec![0x44, b'a', b'b', 0x00]];
        assert_eq!(verify_proof_with(Keccak256, &root, &proof, b"ab", Some(b"xyz"), StateVersion::V0), Ok(()));
        assert_eq!(
            verify_proof_with(Keccak256, &root, &proof, b"ab", Some(b"xyw"), StateVersion::V0),
            Err(ProofError::RootMismatch)
        );
        let single: BTreeMap<Vec<u8>, Vec<u8>> = [(b"ab".to_vec(), b"xyz".to_vec())].into_iter().collect();
        assert_eq!(generate_eager_proof_with(Keccak256, StateVersion::V0, &single, &[b"ab"]), proof);

        // {0x01: [0xaa; 40], 0x02: "b"} (V0): the proof of 0x02 is the root branch, whose
        // hashed child 1 stays a Keccak-256 reference and whose inline child 2 is the leaf
        // with its value omitted.
        let mut big = vec![0x40, 40 << 2];
        big.extend_from_slice(&[0xaa; 40]);
        let mut branch = vec![0x81, 0x00, 0x06, 0x00, 32 << 2];
        branch.extend_from_slice(&keccak_256(&big));
        let mut proof_node = branch.clone();
        branch.extend_from_slice(&[3 << 2, 0x40, 0x04, b'b']);
        proof_node.extend_from_slice(&[2 << 2, 0x40, 0x00]);
        let root = keccak_256(&branch);
        let e: BTreeMap<Vec<u8>, Vec<u8>> = [(vec![0x01], vec![0xaa; 40]), (vec![0x02], b"b".to_vec())].into();
        assert_eq!(crate::trie_root_with(Keccak256, StateVersion::V0, e.iter()), root);
        let proof = vec![proof_node];
        assert_eq!(generate_eager_proof_with(Keccak256, StateVersion::V0, &e, &[&[0x02]]), proof);
        assert_eq!(verify_proof_with(Keccak256, &root, &proof, &[0x02], Some(b"b"), StateVersion::V0), Ok(()));
        // Absence of 0x03 (no child 3): the branch itself, nothing omitted.
        let absent = generate_eager_proof_with(Keccak256, StateVersion::V0, &e, &[&[0x03]]);
        assert_eq!(absent, vec![branch.clone()]);
        assert_eq!(verify_proof_with(Keccak256, &root, &absent, &[0x03], None, StateVersion::V0), Ok(()));
        assert!(verify_proof_with(Keccak256, &root, &proof, &[0x03], None, StateVersion::V0).is_err());
        assert!(verify_proof_with(Keccak256, &root, &proof, &[0x02], Some(b"c"), StateVersion::V0).is_err());
        assert!(
            verify_proof_with(TrieHasher::Blake2_256, &root, &proof, &[0x02], Some(b"b"), StateVersion::V0).is_err()
        );

        // Empty trie.
        let empty = BTreeMap::new();
        let proof = generate_eager_proof_with(Keccak256, StateVersion::V1, &empty, &[b"k"]);
        assert_eq!(proof, vec![vec![0u8]]);
        let root = crate::EMPTY_TRIE_ROOT_KECCAK;
        assert_eq!(verify_proof_with(Keccak256, &root, &proof, b"k", None, StateVersion::V1), Ok(()));
        assert!(verify_proof_with(Keccak256, &crate::EMPTY_TRIE_ROOT, &proof, b"k", None, StateVersion::V1).is_err());
    }

    #[test]
    fn trailing_bytes_are_ignored_like_substrate() {
        // Substrate's codec decodes a node and ignores what follows; only the re-encoding
        // is hashed, so such a proof still verifies there, and must here too.
        let e = entries();
        let root = crate::trie_root(StateVersion::V0, e.iter());
        let key = 25u32.to_be_bytes();
        let mut proof = generate_eager_proof(StateVersion::V0, &e, &[&key]);
        proof[0].push(0xff);
        assert_eq!(verify_proof(&root, &proof, &key, e.get(&key[..]).map(|v| v.as_slice()), StateVersion::V0), Ok(()));
    }

    #[test]
    fn empty_trie() {
        let e = BTreeMap::new();
        let proof = generate_eager_proof(StateVersion::V0, &e, &[b"k"]);
        assert_eq!(proof, vec![vec![0u8]]);
        assert_eq!(verify_proof(&crate::EMPTY_TRIE_ROOT, &proof, b"k", None, StateVersion::V0), Ok(()));
        assert!(verify_proof(&crate::EMPTY_TRIE_ROOT, &proof, b"k", Some(b"v"), StateVersion::V0).is_err());
        let none: &[Vec<u8>] = &[];
        assert_eq!(verify_proof_items(&crate::EMPTY_TRIE_ROOT, none, &[], StateVersion::V0), Ok(()));
    }
}

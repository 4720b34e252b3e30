//! Storage proofs: a SCALE `Vec<Vec<u8>>` holding, in any order, the encodings of the trie
//! nodes needed to read some keys (and, in V1, the values referenced by hashed-value nodes).

use crate::codec::{decode_node, NodeDecodeError, NodeValue};
use crate::{nibbles, StateVersion, TrieMap, CHILD_STORAGE_DEFAULT_PREFIX, EMPTY_TRIE_ROOT};
use parity_scale_codec::{Compact, Decode, Encode};
use std::collections::{BTreeMap, HashMap};

/// Errors of proof decoding, verification and queries.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The encoded proof is larger than the accepted maximum.
    #[error("proof of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Size of the proof.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// The bytes are not a SCALE `Vec<Vec<u8>>`.
    #[error("proof is not a valid SCALE-encoded list of byte strings")]
    InvalidFormat,
    /// The same entry appears twice.
    #[error("the same entry appears twice in the proof")]
    DuplicateEntry,
    /// A node needed by the verification does not decode.
    #[error("invalid trie node in proof: {0}")]
    InvalidNode(#[from] NodeDecodeError),
    /// The nodes decode but do not form a valid trie.
    #[error("invalid trie structure in proof: {0}")]
    InvalidStructure(&'static str),
    /// An entry of the proof is not reachable from the root.
    #[error("proof entry not reachable from the root")]
    UnusedEntry,
    /// The proof lacks a node (or value) needed to answer.
    #[error("the proof does not contain the nodes needed to answer")]
    IncompleteProof,
    /// Eager proofs: a key appears twice in the items to verify.
    #[error("duplicate key in the items to verify")]
    DuplicateKey,
    /// Eager proofs: the proof has nodes left over after verification.
    #[error("extraneous node in the proof")]
    ExtraneousNode,
    /// Eager proofs: the value of a verified key was not omitted.
    #[error("value of a verified key was not omitted from the proof")]
    ExtraneousValue,
    /// Eager proofs: a reference to a node present in the proof was not omitted.
    #[error("hash reference to a node in the proof was not omitted")]
    ExtraneousHashReference,
    /// Eager proofs: a child reference longer than a hash.
    #[error("invalid child reference")]
    InvalidChildReference,
    /// Eager proofs: the trie does not hold the expected value.
    #[error("value mismatch")]
    ValueMismatch,
    /// Eager proofs: the reconstructed root differs from the expected root.
    #[error("computed root does not match the expected root")]
    RootMismatch,
}

/// SCALE-encodes a list of proof entries.
pub fn encode_proof(nodes: &[Vec<u8>]) -> Vec<u8> {
    nodes.encode()
}

/// Storage proof of `keys` (presence or absence) in the trie of `entries`: the encodings of
/// all nodes on the lookup paths (plus hashed values in V1), sorted and de-duplicated.
pub fn generate_proof(version: StateVersion, entries: &BTreeMap<Vec<u8>, Vec<u8>>, keys: &[&[u8]]) -> Vec<Vec<u8>> {
    let mut m = TrieMap::from_entries(version, entries.iter().map(|(k, v)| (k, v.clone())));
    m.generate_proof(keys)
}

/// What `StorageProof::verify` needs to know of a node's key: whether it is the key of a
/// default child trie root. Keeps only the first nibbles, so that it is `Copy` and O(1) to
/// extend per nibble whatever the depth.
#[derive(Clone, Copy)]
struct PathSummary {
    head: [u8; CHILD_PREFIX_NIBBLES],
    len: usize,
}

const CHILD_PREFIX_NIBBLES: usize = CHILD_STORAGE_DEFAULT_PREFIX.len() * 2;

impl Default for PathSummary {
    fn default() -> Self {
        PathSummary { head: [0; CHILD_PREFIX_NIBBLES], len: 0 }
    }
}

impl PathSummary {
    fn extend(&mut self, nibbles: impl Iterator<Item = u8>) {
        for n in nibbles {
            if self.len < CHILD_PREFIX_NIBBLES {
                self.head[self.len] = n;
            }
            self.len += 1;
        }
    }

    fn is_child_root_key(&self) -> bool {
        self.len % 2 == 0
            && self.len > CHILD_PREFIX_NIBBLES
            && (0..CHILD_PREFIX_NIBBLES).all(|i| self.head[i] == nibbles::at(CHILD_STORAGE_DEFAULT_PREFIX, i))
    }
}

/// A decoded, not yet verified, storage proof.
#[derive(Debug, Clone)]
pub struct StorageProof {
    nodes: Vec<Vec<u8>>,
    by_hash: HashMap<[u8; 32], usize>,
}

impl StorageProof {
    /// Decodes a SCALE `Vec<Vec<u8>>`, rejecting input larger than `max_size` bytes.
    pub fn decode(bytes: &[u8], max_size: usize) -> Result<Self, ProofError> {
        if bytes.len() > max_size {
            return Err(ProofError::TooLarge { size: bytes.len(), max: max_size });
        }
        let mut input = bytes;
        let count = Compact::<u32>::decode(&mut input).map_err(|_| ProofError::InvalidFormat)?.0 as usize;
        // Every entry takes at least one byte: bounds the allocation.
        if count > input.len() {
            return Err(ProofError::InvalidFormat);
        }
        let mut nodes = Vec::with_capacity(count);
        for _ in 0..count {
            let len = Compact::<u32>::decode(&mut input).map_err(|_| ProofError::InvalidFormat)?.0 as usize;
            if len > input.len() {
                return Err(ProofError::InvalidFormat);
            }
            let (entry, rest) = input.split_at(len);
            nodes.push(entry.to_vec());
            input = rest;
        }
        if !input.is_empty() {
            return Err(ProofError::InvalidFormat);
        }
        Self::from_nodes(nodes)
    }

    /// From already separated entries.
    pub fn from_nodes(nodes: Vec<Vec<u8>>) -> Result<Self, ProofError> {
        let mut by_hash = HashMap::with_capacity(nodes.len());
        for (i, n) in nodes.iter().enumerate() {
            if by_hash.insert(crate::blake2_256(n), i).is_some() {
                return Err(ProofError::DuplicateEntry);
            }
        }
        Ok(StorageProof { nodes, by_hash })
    }

    /// The entries.
    pub fn nodes(&self) -> &[Vec<u8>] {
        &self.nodes
    }

    /// Consumes the proof, returning its entries.
    pub fn into_nodes(self) -> Vec<Vec<u8>> {
        self.nodes
    }

    /// SCALE encoding.
    pub fn encode(&self) -> Vec<u8> {
        encode_proof(&self.nodes)
    }

    fn entry(&self, hash: &[u8]) -> Option<&[u8]> {
        let h: &[u8; 32] = hash.try_into().ok()?;
        self.by_hash.get(h).map(|&i| self.nodes[i].as_slice())
    }

    /// Checks that the proof is a valid partial trie under `root`: the root node is present
    /// (unless `root` is [`EMPTY_TRIE_ROOT`]), every node reachable from it decodes and is
    /// well formed, and every entry is reachable (from the root, or from the root of a
    /// default child trie whose `:child_storage:default:` entry is in the proof).
    pub fn verify(&self, root: &[u8; 32]) -> Result<VerifiedProof<'_>, ProofError> {
        let mut used = vec![false; self.nodes.len()];
        let mut as_node = vec![false; self.nodes.len()];
        match self.by_hash.get(root) {
            None if *root == EMPTY_TRIE_ROOT => {}
            None => return Err(ProofError::IncompleteProof),
            Some(&i) => {
                used[i] = true;
                as_node[i] = true;
                let mut stack: Vec<(&[u8], PathSummary, bool)> =
                    vec![(self.nodes[i].as_slice(), PathSummary::default(), true)];
                while let Some((bytes, mut path, is_root)) = stack.pop() {
                    let node = decode_node(bytes)?;
                    let child_count = node.children.iter().filter(|c| c.is_some()).count();
                    if !is_root && node.is_empty() {
                        return Err(ProofError::InvalidStructure("empty node below the root"));
                    }
                    if !node.value.is_some() && child_count == 1 {
                        return Err(ProofError::InvalidStructure("branch without value with a single child"));
                    }
                    path.extend(node.partial_key.iter());
                    let value: Option<&[u8]> = match node.value {
                        NodeValue::None => None,
                        NodeValue::Inline(v) => Some(v),
                        NodeValue::Hashed(h) => match self.by_hash.get(h) {
                            Some(&j) => {
                                used[j] = true;
                                Some(self.nodes[j].as_slice())
                            }
                            None => None,
                        },
                    };
                    // Roots of default child tries found in the proof are verified as well.
                    if let Some(v) = value {
                        if v.len() == 32 && path.is_child_root_key() {
                            if let Some(&j) = self.by_hash.get(v) {
                                if !as_node[j] {
                                    used[j] = true;
                                    as_node[j] = true;
                                    stack.push((self.nodes[j].as_slice(), PathSummary::default(), true));
                                }
                            }
                        }
                    }
                    for (nib, child) in node.children.iter().enumerate() {
                        let Some(r) = *child else { continue };
                        let mut child_path = path;
                        child_path.extend(std::iter::once(nib as u8));
                        if r.is_empty() {
                            return Err(ProofError::InvalidStructure("empty child reference"));
                        } else if r.len() < 32 {
                            stack.push((r, child_path, false));
                        } else if let Some(&j) = self.by_hash.get(r) {
                            if self.nodes[j].len() < 32 {
                                return Err(ProofError::InvalidStructure(
                                    "hash reference to a node that should be inline",
                                ));
                            }
                            if !as_node[j] {
                                used[j] = true;
                                as_node[j] = true;
                                stack.push((self.nodes[j].as_slice(), child_path, false));
                            }
                        }
                    }
                }
            }
        }
        if used.iter().any(|u| !u) {
            return Err(ProofError::UnusedEntry);
        }
        Ok(VerifiedProof { proof: self, root: *root })
    }
}

/// A storage proof verified against a root. Queries never panic; they return
/// [`ProofError::IncompleteProof`] when the proof lacks the nodes needed to answer.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedProof<'a> {
    proof: &'a StorageProof,
    root: [u8; 32],
}

impl<'a> VerifiedProof<'a> {
    /// Root the proof was verified against.
    pub fn root(&self) -> &[u8; 32] {
        &self.root
    }

    fn root_bytes(&self) -> Result<&'a [u8], ProofError> {
        match self.proof.entry(&self.root) {
            Some(b) => Ok(b),
            None if self.root == EMPTY_TRIE_ROOT => Ok(&[0]),
            None => Err(ProofError::IncompleteProof),
        }
    }

    /// Node bytes behind a child reference.
    fn resolve(&self, r: &'a [u8]) -> Result<&'a [u8], ProofError> {
        if r.len() == 32 {
            self.proof.entry(r).ok_or(ProofError::IncompleteProof)
        } else {
            Ok(r)
        }
    }

    /// Value of `key`, borrowed from the proof.
    pub fn read_ref(&self, key: &[u8]) -> Result<Option<&'a [u8]>, ProofError> {
        let knl = key.len() * 2;
        let mut bytes = self.root_bytes()?;
        let mut pos = 0;
        loop {
            let node = decode_node(bytes)?;
            let p = node.partial_key;
            if pos + p.len() > knl || p.iter().enumerate().any(|(i, n)| n != nibbles::at(key, pos + i)) {
                return Ok(None);
            }
            pos += p.len();
            if pos == knl {
                return match node.value {
                    NodeValue::None => Ok(None),
                    NodeValue::Inline(v) => Ok(Some(v)),
                    NodeValue::Hashed(h) => self.proof.entry(h).map(Some).ok_or(ProofError::IncompleteProof),
                };
            }
            match node.children[usize::from(nibbles::at(key, pos))] {
                None => return Ok(None),
                Some(r) => bytes = self.resolve(r)?,
            }
            pos += 1;
        }
    }

    /// Value of `key`: `Ok(None)` if the proof shows it is absent.
    pub fn read(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProofError> {
        Ok(self.read_ref(key)?.map(<[u8]>::to_vec))
    }

    /// The default child trie `child_key` (without the `:child_storage:default:` prefix), or
    /// `None` if the proof shows it does not exist.
    pub fn child_trie(&self, child_key: &[u8]) -> Result<Option<VerifiedProof<'a>>, ProofError> {
        match self.read_ref(&crate::child_storage_key(child_key))? {
            None => Ok(None),
            Some(r) => {
                let root: [u8; 32] =
                    r.try_into().map_err(|_| ProofError::InvalidStructure("child trie root is not 32 bytes"))?;
                Ok(Some(VerifiedProof { proof: self.proof, root }))
            }
        }
    }

    /// Value of `key` in the default child trie `child_key`.
    pub fn read_child(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, ProofError> {
        match self.child_trie(child_key)? {
            None => Ok(None),
            Some(c) => c.read(key),
        }
    }

    /// Merkle value (hash, or encoding if shorter than 32 bytes; the root hash for the root)
    /// of the closest node whose key starts with the nibbles `key`, or `None` if there is no
    /// such node.
    pub fn closest_descendant_merkle_value(&self, key: &[u8]) -> Result<Option<Vec<u8>>, ProofError> {
        let mut mv: &[u8] = &self.root;
        let mut bytes = self.root_bytes()?;
        let mut pos = 0;
        loop {
            let node = decode_node(bytes)?;
            if node.is_empty() {
                return Ok(None);
            }
            let p = node.partial_key;
            let remaining = key.len() - pos;
            let m = remaining.min(p.len());
            if (0..m).any(|i| p.get(i) != Some(key[pos + i])) {
                return Ok(None);
            }
            if remaining <= p.len() {
                return Ok(Some(mv.to_vec()));
            }
            pos += p.len();
            let Some(&nib) = key.get(pos) else {
                return Ok(None);
            };
            let Some(r) = node.children.get(usize::from(nib)).copied().flatten() else {
                return Ok(None);
            };
            pos += 1;
            if pos == key.len() {
                return Ok(Some(r.to_vec()));
            }
            mv = r;
            bytes = self.resolve(r)?;
        }
    }

    /// First key strictly after `after` that starts with `prefix` and has a value, in byte
    /// form (smoldot's `next_key` with `or_equal = false` and `branch_nodes = false`).
    pub fn next_key(&self, after: &[u8], prefix: &[u8]) -> Result<Option<Vec<u8>>, ProofError> {
        let found = self.next_key_nibbles(&nibbles::from_bytes(after), false, &nibbles::from_bytes(prefix), false)?;
        match found {
            None => Ok(None),
            Some(n) => {
                nibbles::to_bytes(&n).map(Some).ok_or(ProofError::InvalidStructure("value at an odd nibble position"))
            }
        }
    }

    /// Nibble-level next-key query, with smoldot's semantics: the first node key (one nibble
    /// per byte) that is after `key_before` (or equal to it when `or_equal`), starts with
    /// `prefix`, and has a value (any node when `branch_nodes`). `Ok(None)` if the proof
    /// shows there is none; the query only descends into subtrees that may hold keys with
    /// `prefix`, so a narrower prefix can turn `IncompleteProof` into `Ok(None)`.
    pub fn next_key_nibbles(
        &self,
        key_before: &[u8],
        or_equal: bool,
        prefix: &[u8],
        branch_nodes: bool,
    ) -> Result<Option<Vec<u8>>, ProofError> {
        use std::cmp::Ordering;
        // Lower bound: the larger of `key_before` and `prefix`.
        let (target, or_equal): (&[u8], bool) = if key_before < prefix {
            (prefix, true)
        } else if key_before.starts_with(prefix) {
            (key_before, or_equal)
        } else {
            // `key_before` is after every key that starts with `prefix`.
            return Ok(None);
        };
        let compatible = |path: &[u8]| path.starts_with(prefix) || prefix.starts_with(path);
        let counts = |node: &crate::DecodedNode<'_>, path: &[u8]| {
            (branch_nodes || node.value.is_some()) && path.starts_with(prefix)
        };

        struct Frame<'n> {
            node: crate::DecodedNode<'n>,
            full_len: usize,
            next_child: usize,
        }
        #[derive(Clone, Copy, PartialEq)]
        enum Mode {
            Seek,
            First,
        }

        let mut path: Vec<u8> = Vec::new();
        let mut stack: Vec<Frame<'a>> = Vec::new();
        let root = decode_node(self.root_bytes()?)?;
        if root.is_empty() {
            return Ok(None);
        }
        let mut current = Some((root, Mode::Seek));
        loop {
            if let Some((node, mode)) = current.take() {
                let before = path.len();
                path.extend(node.partial_key.iter());
                let full_len = path.len();
                if !compatible(&path) {
                    return Ok(None);
                }
                let all_children = |node| Frame { node, full_len, next_child: 0 };
                match mode {
                    Mode::First => {
                        if counts(&node, &path) {
                            return Ok(Some(path));
                        }
                        stack.push(all_children(node));
                    }
                    Mode::Seek => {
                        let cp = nibbles::common_prefix_unpacked(&path, target);
                        if cp == full_len && full_len == target.len() {
                            if or_equal && counts(&node, &path) {
                                return Ok(Some(path));
                            }
                            stack.push(all_children(node));
                        } else if cp == full_len {
                            // The node is a strict ancestor of the target.
                            let nib = usize::from(target[full_len]);
                            let child = node.children.get(nib).copied().flatten();
                            stack.push(Frame { node, full_len, next_child: nib + 1 });
                            if let Some(r) = child {
                                path.push(nib as u8);
                                if !compatible(&path) {
                                    return Ok(None);
                                }
                                current = Some((decode_node(self.resolve(r)?)?, Mode::Seek));
                                continue;
                            }
                        } else {
                            let ord = if cp == target.len() { Ordering::Greater } else { path[cp].cmp(&target[cp]) };
                            if ord == Ordering::Greater {
                                // Whole subtree after the target.
                                if counts(&node, &path) {
                                    return Ok(Some(path));
                                }
                                stack.push(all_children(node));
                            } else {
                                // Whole subtree before the target.
                                path.truncate(before);
                            }
                        }
                    }
                }
            }
            // Move to the next child, in order, of the deepest unfinished node.
            loop {
                let Some(top) = stack.last_mut() else {
                    return Ok(None);
                };
                path.truncate(top.full_len);
                let next = (top.next_child..16).find(|i| top.node.children[*i].is_some());
                match next {
                    Some(nib) => {
                        top.next_child = nib + 1;
                        let r = top.node.children[nib].unwrap_or_default();
                        path.push(nib as u8);
                        if !compatible(&path) {
                            return Ok(None);
                        }
                        current = Some((decode_node(self.resolve(r)?)?, Mode::First));
                        break;
                    }
                    None => {
                        stack.pop();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut m = BTreeMap::new();
        for i in 0u32..200 {
            m.insert((i * 3).to_be_bytes().to_vec(), vec![i as u8; (i % 70) as usize]);
        }
        m.insert(b"".to_vec(), b"empty key".to_vec());
        m
    }

    #[test]
    fn proof_roundtrip_both_versions() {
        let entries = sample();
        for version in [StateVersion::V0, StateVersion::V1] {
            let root = crate::trie_root(version, entries.iter());
            let keys: Vec<Vec<u8>> = vec![
                9u32.to_be_bytes().to_vec(),
                10u32.to_be_bytes().to_vec(),
                b"".to_vec(),
                vec![0, 0],
                vec![0, 0, 1, 0x2c, 5],
                297u32.to_be_bytes().to_vec(),
            ];
            let key_refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
            let nodes = generate_proof(version, &entries, &key_refs);
            let encoded = encode_proof(&nodes);
            let proof = StorageProof::decode(&encoded, usize::MAX).unwrap();
            let verified = proof.verify(&root).unwrap();
            for k in &keys {
                assert_eq!(verified.read(k).unwrap(), entries.get(k).cloned(), "{k:?}");
            }
            // A key elsewhere in the trie is not provable.
            assert_eq!(verified.read(&150u32.to_be_bytes()), Err(ProofError::IncompleteProof));
            assert_eq!(proof.verify(&[1; 32]).unwrap_err(), ProofError::IncompleteProof);
        }
    }

    #[test]
    fn decode_rejects_garbage() {
        assert_eq!(StorageProof::decode(&[4, 8, 1], usize::MAX).unwrap_err(), ProofError::InvalidFormat);
        assert_eq!(StorageProof::decode(&[4, 4, 1, 0], usize::MAX).unwrap_err(), ProofError::InvalidFormat);
        assert_eq!(StorageProof::decode(&[8, 4, 1, 4, 1], usize::MAX).unwrap_err(), ProofError::DuplicateEntry);
        assert!(matches!(StorageProof::decode(&[0; 10], 5).unwrap_err(), ProofError::TooLarge { .. }));
        let empty = StorageProof::decode(&[0], 1).unwrap();
        let v = empty.verify(&EMPTY_TRIE_ROOT).unwrap();
        assert_eq!(v.read(b"abc").unwrap(), None);
        assert_eq!(v.next_key(b"", b"").unwrap(), None);
    }

    #[test]
    fn child_trie_proof() {
        let mut child = BTreeMap::new();
        child.insert(b"ck".to_vec(), b"cv".to_vec());
        child.insert(b"ck2".to_vec(), vec![5; 40]);
        let child_root = crate::trie_root(StateVersion::V1, child.iter());
        let mut top = sample();
        top.insert(crate::child_storage_key(b"kid"), child_root.to_vec());
        let root = crate::trie_root(StateVersion::V1, top.iter());
        let mut nodes = generate_proof(StateVersion::V1, &top, &[&crate::child_storage_key(b"kid")[..]]);
        nodes.extend(generate_proof(StateVersion::V1, &child, &[b"ck2"]));
        nodes.sort();
        nodes.dedup();
        let proof = StorageProof::from_nodes(nodes).unwrap();
        let v = proof.verify(&root).unwrap();
        assert_eq!(v.read_child(b"kid", b"ck2").unwrap(), Some(vec![5; 40]));
        // The only `:`-key of the top trie is a leaf: absence of another child trie is proven.
        assert_eq!(v.read_child(b"nope", b"ck2"), Ok(None));
        // "ck" is the value of the child root node, which the proof of "ck2" contains.
        assert_eq!(v.read_child(b"kid", b"ck").unwrap(), Some(b"cv".to_vec()));
    }
}

//! Incremental in-memory trie.
//!
//! Nodes live in an arena. Each node caches its Merkle value (and, for V1, the hash of a
//! long value); a mutation clears the cache of the nodes on the path from the root to the
//! mutated node, so [`TrieMap::root`] only re-encodes and re-hashes those paths.
//!
//! Public tries hash with blake2b-256; the crate builds tries with another hasher
//! (`TrieMap::with_hasher`) only to generate eager proofs
//! ([`crate::generate_eager_proof_with`]).

use crate::encoder::{Encoder, MerkleValue, Partial, Val};
use crate::hasher::{Blake2, Keccak, NodeHasher};
use crate::{nibbles, StateVersion, TrieHasher};
use std::collections::BTreeSet;
use std::ops::Bound;

const NONE: u32 = u32::MAX;

#[derive(Clone)]
struct Node {
    /// Partial key, one nibble per byte.
    partial: Vec<u8>,
    children: [u32; 16],
    value: Option<Vec<u8>>,
    /// The value was written under V1 (it is hashed if 33 bytes or longer).
    value_v1: bool,
    /// Cached hash of the value (with the trie's hasher), when it is hashed.
    value_hash: Option<[u8; 32]>,
    /// Cached Merkle value; `None` means dirty.
    merkle: Option<MerkleValue>,
}

impl Node {
    fn empty() -> Self {
        Node { partial: Vec::new(), children: [NONE; 16], value: None, value_v1: false, value_hash: None, merkle: None }
    }

    fn leaf(partial: Vec<u8>, value: Vec<u8>, v1: bool) -> Self {
        Node { partial, children: [NONE; 16], value: Some(value), value_v1: v1, value_hash: None, merkle: None }
    }

    fn child_count(&self) -> usize {
        self.children.iter().filter(|c| **c != NONE).count()
    }

    fn hashes_value(&self) -> bool {
        self.value_v1 && self.value.as_ref().is_some_and(|v| v.len() >= crate::V1_HASHED_VALUE_THRESHOLD)
    }
}

/// Outcome of [`TrieMap::clear_prefix`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClearPrefixOutcome {
    /// Number of entries removed.
    pub removed: usize,
    /// Whether no entry with the prefix remains.
    pub complete: bool,
}

/// An in-memory key/value map organised as a Substrate trie, whose root is recomputed
/// incrementally.
///
/// Each entry remembers the [`StateVersion`] in force when it was written (as Substrate
/// does: a value written under V0 stays inline until it is rewritten under V1), so that
/// [`TrieMap::set_version`] mimics a runtime upgrade. With a single version throughout,
/// [`TrieMap::root`] equals [`crate::trie_root`] of the same contents.
#[derive(Clone)]
pub struct TrieMap {
    version: StateVersion,
    /// blake2b-256 unless built by `TrieMap::with_hasher`.
    hasher: TrieHasher,
    nodes: Vec<Node>,
    free: Vec<u32>,
    root: u32,
    len: usize,
    encoder: Encoder,
    scratch: Vec<u32>,
    /// Number of node Merkle values computed so far (for tests of incrementality).
    merkle_computations: u64,
}

impl std::fmt::Debug for TrieMap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrieMap").field("version", &self.version).field("len", &self.len).finish_non_exhaustive()
    }
}

fn key_nibbles(key: &[u8], start: usize) -> Vec<u8> {
    (start..key.len() * 2).map(|i| nibbles::at(key, i)).collect()
}

impl TrieMap {
    /// An empty trie whose writes use `version`.
    pub fn new(version: StateVersion) -> Self {
        Self::with_hasher(version, TrieHasher::Blake2_256)
    }

    /// An empty trie hashed with `hasher`. Crate-private: [`TrieMap::generate_proof`]
    /// produces storage proofs, which are blake2b-256 only.
    pub(crate) fn with_hasher(version: StateVersion, hasher: TrieHasher) -> Self {
        TrieMap {
            version,
            hasher,
            nodes: Vec::new(),
            free: Vec::new(),
            root: NONE,
            len: 0,
            encoder: Encoder::default(),
            scratch: Vec::new(),
            merkle_computations: 0,
        }
    }

    /// Builds a trie from entries (the last value of a duplicate key wins).
    pub fn from_entries<I, K, V>(version: StateVersion, entries: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<[u8]>,
        V: Into<Vec<u8>>,
    {
        let mut m = TrieMap::new(version);
        for (k, v) in entries {
            m.insert(k.as_ref(), v);
        }
        m
    }

    /// Version used for subsequent writes.
    pub fn version(&self) -> StateVersion {
        self.version
    }

    /// Changes the version used for subsequent writes. Existing entries keep the version
    /// they were written with.
    pub fn set_version(&mut self, version: StateVersion) {
        self.version = version;
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the trie has no entry.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Removes every entry.
    pub fn clear(&mut self) {
        self.nodes.clear();
        self.free.clear();
        self.root = NONE;
        self.len = 0;
    }

    fn alloc(&mut self, node: Node) -> u32 {
        if let Some(id) = self.free.pop() {
            self.nodes[id as usize] = node;
            id
        } else {
            self.nodes.push(node);
            (self.nodes.len() - 1) as u32
        }
    }

    fn release(&mut self, id: u32) {
        self.nodes[id as usize] = Node::empty();
        self.free.push(id);
    }

    /// Finds the node whose key is exactly `key`.
    fn find(&self, key: &[u8]) -> Option<u32> {
        if self.root == NONE {
            return None;
        }
        let knl = key.len() * 2;
        let mut id = self.root;
        let mut pos = 0;
        loop {
            let node = &self.nodes[id as usize];
            let plen = node.partial.len();
            if pos + plen > knl || node.partial.iter().enumerate().any(|(i, n)| *n != nibbles::at(key, pos + i)) {
                return None;
            }
            pos += plen;
            if pos == knl {
                return Some(id);
            }
            let child = node.children[usize::from(nibbles::at(key, pos))];
            if child == NONE {
                return None;
            }
            id = child;
            pos += 1;
        }
    }

    /// Value stored under `key`.
    pub fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.find(key).and_then(|id| self.nodes[id as usize].value.as_deref())
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Clears the cached Merkle values of the nodes in `self.scratch` (a path from the
    /// root).
    fn invalidate_scratch(&mut self) {
        for &id in &self.scratch {
            self.nodes[id as usize].merkle = None;
        }
    }

    /// Inserts or replaces a value; returns the previous value.
    pub fn insert(&mut self, key: &[u8], value: impl Into<Vec<u8>>) -> Option<Vec<u8>> {
        let value = value.into();
        let v1 = matches!(self.version, StateVersion::V1);
        let knl = key.len() * 2;
        if self.root == NONE {
            self.root = self.alloc(Node::leaf(key_nibbles(key, 0), value, v1));
            self.len += 1;
            return None;
        }
        let mut path = std::mem::take(&mut self.scratch);
        path.clear();
        let mut id = self.root;
        let mut pos = 0;
        let result = loop {
            path.push(id);
            let node = &self.nodes[id as usize];
            let plen = node.partial.len();
            let mut common = 0;
            while common < plen && pos + common < knl && node.partial[common] == nibbles::at(key, pos + common) {
                common += 1;
            }
            if common < plen {
                // Split: `id` becomes a branch at the divergence point, its former content
                // moves to a new node below it.
                let mut old = std::mem::replace(&mut self.nodes[id as usize], Node::empty());
                let split_nibble = usize::from(old.partial[common]);
                let mut branch = Node::empty();
                branch.partial = old.partial[..common].to_vec();
                old.partial.drain(..=common);
                old.merkle = None;
                let moved = self.alloc(old);
                branch.children[split_nibble] = moved;
                if pos + common == knl {
                    branch.value = Some(value);
                    branch.value_v1 = v1;
                } else {
                    let nib = usize::from(nibbles::at(key, pos + common));
                    let leaf = self.alloc(Node::leaf(key_nibbles(key, pos + common + 1), value, v1));
                    branch.children[nib] = leaf;
                }
                self.nodes[id as usize] = branch;
                self.len += 1;
                break None;
            }
            pos += plen;
            if pos == knl {
                let node = &mut self.nodes[id as usize];
                if node.value.as_deref() == Some(&value[..]) && node.value_v1 == v1 {
                    // Unchanged: nothing to invalidate.
                    path.clear();
                    break Some(value);
                }
                let old = node.value.replace(value);
                node.value_v1 = v1;
                node.value_hash = None;
                if old.is_none() {
                    self.len += 1;
                }
                break old;
            }
            let nib = usize::from(nibbles::at(key, pos));
            let child = self.nodes[id as usize].children[nib];
            if child == NONE {
                let leaf = self.alloc(Node::leaf(key_nibbles(key, pos + 1), value, v1));
                self.nodes[id as usize].children[nib] = leaf;
                self.len += 1;
                break None;
            }
            id = child;
            pos += 1;
        };
        self.scratch = path;
        self.invalidate_scratch();
        result
    }

    /// Merges node `id` (which has no value and exactly one child) with that child.
    fn merge_with_only_child(&mut self, id: u32) {
        let node = &self.nodes[id as usize];
        let Some((nib, child)) =
            node.children.iter().enumerate().find(|(_, c)| **c != NONE).map(|(i, c)| (i as u8, *c))
        else {
            return;
        };
        let c = std::mem::replace(&mut self.nodes[child as usize], Node::empty());
        self.free.push(child);
        let node = &mut self.nodes[id as usize];
        node.partial.push(nib);
        node.partial.extend_from_slice(&c.partial);
        node.children = c.children;
        node.value = c.value;
        node.value_v1 = c.value_v1;
        node.value_hash = c.value_hash;
        node.merkle = None;
    }

    /// After child removal under `parent`, restores the invariant that a node without value
    /// has at least two children.
    fn fix_after_child_removal(&mut self, parent: u32) {
        let p = &self.nodes[parent as usize];
        if p.value.is_none() && p.child_count() == 1 {
            self.merge_with_only_child(parent);
        }
    }

    /// Removes `key`; returns its value.
    pub fn remove(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        if self.root == NONE {
            return None;
        }
        let knl = key.len() * 2;
        let mut path = std::mem::take(&mut self.scratch);
        path.clear();
        let mut parent: Option<(u32, usize)> = None;
        let mut id = self.root;
        let mut pos = 0;
        let found = loop {
            let node = &self.nodes[id as usize];
            let plen = node.partial.len();
            if pos + plen > knl || node.partial.iter().enumerate().any(|(i, n)| *n != nibbles::at(key, pos + i)) {
                break false;
            }
            path.push(id);
            pos += plen;
            if pos == knl {
                break node.value.is_some();
            }
            let nib = usize::from(nibbles::at(key, pos));
            let child = node.children[nib];
            if child == NONE {
                break false;
            }
            parent = Some((id, nib));
            id = child;
            pos += 1;
        };
        if !found {
            self.scratch = path;
            return None;
        }
        self.scratch = path;
        self.invalidate_scratch();
        let node = &mut self.nodes[id as usize];
        let old = node.value.take();
        node.value_hash = None;
        self.len -= 1;
        match node.child_count() {
            0 => {
                self.release(id);
                match parent {
                    None => self.root = NONE,
                    Some((p, nib)) => {
                        self.nodes[p as usize].children[nib] = NONE;
                        self.fix_after_child_removal(p);
                    }
                }
            }
            1 => self.merge_with_only_child(id),
            _ => {}
        }
        old
    }

    /// Removes the entries whose key starts with `prefix`, at most `limit` of them if given.
    pub fn clear_prefix(&mut self, prefix: &[u8], limit: Option<usize>) -> ClearPrefixOutcome {
        if let Some(limit) = limit {
            let keys: Vec<Vec<u8>> = self.prefix_iter(prefix).map(|(k, _)| k).take(limit.saturating_add(1)).collect();
            let removed = keys.len().min(limit);
            for k in &keys[..removed] {
                self.remove(k);
            }
            return ClearPrefixOutcome { removed, complete: keys.len() <= limit };
        }
        let removed = self.detach_prefix(prefix);
        ClearPrefixOutcome { removed, complete: true }
    }

    /// Removes the whole subtree of keys starting with `prefix` at once.
    fn detach_prefix(&mut self, prefix: &[u8]) -> usize {
        if self.root == NONE {
            return 0;
        }
        let pnl = prefix.len() * 2;
        let mut path = std::mem::take(&mut self.scratch);
        path.clear();
        let mut parent: Option<(u32, usize)> = None;
        let mut id = self.root;
        let mut pos = 0;
        let target = loop {
            let node = &self.nodes[id as usize];
            let plen = node.partial.len();
            let m = plen.min(pnl - pos);
            if node.partial[..m].iter().enumerate().any(|(i, n)| *n != nibbles::at(prefix, pos + i)) {
                break None;
            }
            if pos + plen >= pnl {
                break Some(id);
            }
            path.push(id);
            pos += plen;
            let nib = usize::from(nibbles::at(prefix, pos));
            let child = node.children[nib];
            if child == NONE {
                break None;
            }
            parent = Some((id, nib));
            id = child;
            pos += 1;
            if pos == pnl {
                break Some(id);
            }
        };
        let Some(target) = target else {
            self.scratch = path;
            return 0;
        };
        // Free the subtree, counting its values.
        let mut removed = 0;
        let mut stack = vec![target];
        while let Some(n) = stack.pop() {
            let node = &self.nodes[n as usize];
            if node.value.is_some() {
                removed += 1;
            }
            stack.extend(node.children.iter().copied().filter(|c| *c != NONE));
            self.release(n);
        }
        self.len -= removed;
        self.scratch = path;
        self.invalidate_scratch();
        match parent {
            None => self.root = NONE,
            Some((p, nib)) => {
                self.nodes[p as usize].children[nib] = NONE;
                self.fix_after_child_removal(p);
            }
        }
        removed
    }

    /// Fills the Merkle-value cache of every dirty node, bottom-up, without recursion.
    fn compute_merkle_values(&mut self) {
        match self.hasher {
            TrieHasher::Blake2_256 => self.compute_merkle_values_with::<Blake2>(),
            TrieHasher::Keccak256 => self.compute_merkle_values_with::<Keccak>(),
        }
    }

    fn compute_merkle_values_with<H: NodeHasher>(&mut self) {
        if self.root == NONE {
            return;
        }
        let mut stack: Vec<(u32, bool)> = vec![(self.root, false)];
        while let Some((id, expanded)) = stack.pop() {
            let node = &self.nodes[id as usize];
            if node.merkle.is_some() {
                continue;
            }
            if !expanded {
                stack.push((id, true));
                for &c in node.children.iter().rev() {
                    if c != NONE && self.nodes[c as usize].merkle.is_none() {
                        stack.push((c, false));
                    }
                }
                continue;
            }
            self.ensure_value_hash(id);
            let TrieMap { nodes, encoder, .. } = self;
            let node = &nodes[id as usize];
            let mv = encoder.merkle_value::<H>(&Partial::Unpacked(&node.partial), &node_val(node), |i| {
                child_ref(nodes, node.children[i])
            });
            nodes[id as usize].merkle = Some(mv);
            self.merkle_computations += 1;
        }
    }

    fn ensure_value_hash(&mut self, id: u32) {
        let node = &mut self.nodes[id as usize];
        if node.hashes_value() && node.value_hash.is_none() {
            let hasher = self.hasher;
            node.value_hash = node.value.as_deref().map(|v| hasher.hash(v));
        }
    }

    /// Root hash; only the nodes changed since the previous call are re-hashed.
    pub fn root(&mut self) -> [u8; 32] {
        if self.root == NONE {
            return self.hasher.empty_root();
        }
        self.compute_merkle_values();
        match self.nodes[self.root as usize].merkle {
            Some(mv) => mv.root_hash(self.hasher),
            None => self.hasher.empty_root(),
        }
    }

    /// Full encoding of a node whose children's Merkle values are cached.
    fn encode_full(&mut self, id: u32) -> Vec<u8> {
        self.ensure_value_hash(id);
        let TrieMap { nodes, encoder, .. } = self;
        let node = &nodes[id as usize];
        encoder.encode(&Partial::Unpacked(&node.partial), &node_val(node), |i| child_ref(nodes, node.children[i]))
    }

    /// Storage proof (node encodings, plus hashed values in V1) of the given keys, sorted and
    /// de-duplicated. It proves presence as well as absence.
    pub fn generate_proof(&mut self, keys: &[&[u8]]) -> Vec<Vec<u8>> {
        if self.root == NONE {
            return Vec::new();
        }
        self.compute_merkle_values();
        let mut set = BTreeSet::new();
        for key in keys {
            let knl = key.len() * 2;
            let mut id = self.root;
            let mut pos = 0;
            let mut is_root = true;
            loop {
                let enc = self.encode_full(id);
                if is_root || enc.len() >= 32 {
                    set.insert(enc);
                }
                is_root = false;
                let node = &self.nodes[id as usize];
                let plen = node.partial.len();
                if pos + plen > knl || node.partial.iter().enumerate().any(|(i, n)| *n != nibbles::at(key, pos + i)) {
                    break;
                }
                pos += plen;
                if pos == knl {
                    if node.hashes_value() {
                        if let Some(v) = &node.value {
                            set.insert(v.clone());
                        }
                    }
                    break;
                }
                let child = node.children[usize::from(nibbles::at(key, pos))];
                if child == NONE {
                    break;
                }
                id = child;
                pos += 1;
            }
        }
        set.into_iter().collect()
    }

    /// Proof in the `trie-db` "eager" format (see [`crate::verify_proof_items`]).
    pub(crate) fn eager_proof(&mut self, keys: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut keys: Vec<&[u8]> = keys.to_vec();
        keys.sort();
        keys.dedup();
        if keys.is_empty() {
            return Vec::new();
        }
        if self.root == NONE {
            return vec![vec![0]];
        }
        self.compute_merkle_values();
        for id in 0..self.nodes.len() as u32 {
            self.ensure_value_hash(id);
        }
        let mut out = Vec::new();
        self.eager_node(self.root, &keys, 0, false, &mut out);
        out
    }

    fn eager_node(&self, id: u32, keys: &[&[u8]], pos: usize, inline: bool, out: &mut Vec<Vec<u8>>) -> Vec<u8> {
        let slot = if inline {
            None
        } else {
            out.push(Vec::new());
            Some(out.len() - 1)
        };
        let node = &self.nodes[id as usize];
        let plen = node.partial.len();
        let full_len = pos + plen;
        let mut omit_value = false;
        let mut groups: [Vec<&[u8]>; 16] = Default::default();
        for key in keys {
            let knl = key.len() * 2;
            if full_len > knl || node.partial.iter().enumerate().any(|(i, n)| *n != nibbles::at(key, pos + i)) {
                continue;
            }
            if knl == full_len {
                omit_value = node.value.is_some();
            } else {
                let nib = usize::from(nibbles::at(key, full_len));
                if node.children[nib] != NONE {
                    groups[nib].push(key);
                }
            }
        }
        let mut refs: [Option<Vec<u8>>; 16] = Default::default();
        for (i, r) in refs.iter_mut().enumerate() {
            let c = node.children[i];
            if c == NONE {
                continue;
            }
            let child_mv = self.nodes[c as usize].merkle;
            if groups[i].is_empty() {
                *r = child_mv.map(|m| m.as_slice().to_vec());
            } else {
                let child_inline = child_mv.is_some_and(|m| m.as_slice().len() < 32);
                let enc = self.eager_node(c, &groups[i], full_len + 1, child_inline, out);
                *r = Some(if child_inline { enc } else { Vec::new() });
            }
        }
        let is_leaf = node.child_count() == 0;
        let val = if omit_value {
            if is_leaf {
                Val::Inline(&[])
            } else {
                Val::None
            }
        } else {
            node_val(node)
        };
        let enc = Encoder::default().encode(&Partial::Unpacked(&node.partial), &val, |i| refs[i].as_deref());
        if let Some(s) = slot {
            out[s] = enc.clone();
        }
        enc
    }

    /// Iterates over all entries in key order.
    pub fn iter(&self) -> Iter<'_> {
        self.range(Bound::Unbounded, Bound::Unbounded)
    }

    /// Iterates over the entries whose key is within the bounds, in key order.
    pub fn range(&self, start: Bound<&[u8]>, end: Bound<&[u8]>) -> Iter<'_> {
        let mut it = Iter {
            map: self,
            stack: Vec::new(),
            path: Vec::new(),
            end: match end {
                Bound::Included(e) => Bound::Included(e.to_vec()),
                Bound::Excluded(e) => Bound::Excluded(e.to_vec()),
                Bound::Unbounded => Bound::Unbounded,
            },
            prefix: None,
            skip: None,
        };
        match start {
            Bound::Unbounded => it.seek(&[]),
            Bound::Included(s) => it.seek(&nibbles::from_bytes(s)),
            Bound::Excluded(s) => {
                it.seek(&nibbles::from_bytes(s));
                it.skip = Some(s.to_vec());
            }
        }
        it
    }

    /// Iterates over the entries whose key starts with `prefix`, in key order.
    pub fn prefix_iter(&self, prefix: &[u8]) -> Iter<'_> {
        let mut it = self.range(Bound::Included(prefix), Bound::Unbounded);
        it.prefix = Some(prefix.to_vec());
        it
    }

    /// Smallest key strictly greater than `key`.
    pub fn next_key(&self, key: &[u8]) -> Option<Vec<u8>> {
        self.range(Bound::Excluded(key), Bound::Unbounded).next().map(|(k, _)| k)
    }
}

fn node_val(node: &Node) -> Val<'_> {
    match &node.value {
        None => Val::None,
        Some(v) => match node.value_hash {
            Some(h) if node.hashes_value() => Val::Hashed(h),
            _ => Val::Inline(v),
        },
    }
}

fn child_ref(nodes: &[Node], c: u32) -> Option<&[u8]> {
    if c == NONE {
        None
    } else {
        nodes[c as usize].merkle.as_ref().map(|m| m.as_slice())
    }
}

struct Frame {
    id: u32,
    /// Length of `Iter::path` when it holds this node's full key.
    full_len: usize,
    next_child: u8,
    yield_self: bool,
}

/// Iterator over the entries of a [`TrieMap`], in key order. Yields owned keys.
pub struct Iter<'a> {
    map: &'a TrieMap,
    stack: Vec<Frame>,
    path: Vec<u8>,
    end: Bound<Vec<u8>>,
    prefix: Option<Vec<u8>>,
    skip: Option<Vec<u8>>,
}

impl Iter<'_> {
    /// Positions the iterator so that the next entry is the first one `>= target`.
    fn seek(&mut self, target: &[u8]) {
        let map = self.map;
        if map.root == NONE {
            return;
        }
        let mut id = map.root;
        loop {
            let node = &map.nodes[id as usize];
            let before = self.path.len();
            self.path.extend_from_slice(&node.partial);
            let full_len = self.path.len();
            let cp = nibbles::common_prefix_unpacked(&self.path, target);
            if cp == full_len {
                if full_len == target.len() {
                    self.stack.push(Frame { id, full_len, next_child: 0, yield_self: true });
                    return;
                }
                let nib = target[full_len];
                self.stack.push(Frame { id, full_len, next_child: nib + 1, yield_self: false });
                let child = node.children[usize::from(nib)];
                if child == NONE {
                    return;
                }
                self.path.push(nib);
                id = child;
            } else if cp == target.len() || self.path[cp] > target[cp] {
                // The whole subtree is after the target.
                self.stack.push(Frame { id, full_len, next_child: 0, yield_self: true });
                return;
            } else {
                // The whole subtree is before the target.
                self.path.truncate(before);
                return;
            }
        }
    }
}

impl<'a> Iterator for Iter<'a> {
    type Item = (Vec<u8>, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let map = self.map;
        loop {
            let top = self.stack.last_mut()?;
            self.path.truncate(top.full_len);
            let node = &map.nodes[top.id as usize];
            if top.yield_self {
                top.yield_self = false;
                if let Some(v) = &node.value {
                    let key = nibbles::to_bytes(&self.path).unwrap_or_default();
                    if self.skip.as_deref() == Some(&key[..]) {
                        self.skip = None;
                        continue;
                    }
                    let past_end = match &self.end {
                        Bound::Unbounded => false,
                        Bound::Included(e) => key > *e,
                        Bound::Excluded(e) => key >= *e,
                    };
                    let out_of_prefix = self.prefix.as_ref().is_some_and(|p| !key.starts_with(p));
                    if past_end || out_of_prefix {
                        self.stack.clear();
                        return None;
                    }
                    return Some((key, v.as_slice()));
                }
            }
            let mut next = None;
            while top.next_child < 16 {
                let nib = top.next_child;
                top.next_child += 1;
                let c = node.children[usize::from(nib)];
                if c != NONE {
                    next = Some((nib, c));
                    break;
                }
            }
            match next {
                Some((nib, c)) => {
                    self.path.push(nib);
                    self.path.extend_from_slice(&map.nodes[c as usize].partial);
                    self.stack.push(Frame { id: c, full_len: self.path.len(), next_child: 0, yield_self: true });
                }
                None => {
                    self.stack.pop();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{trie_root, EMPTY_TRIE_ROOT};
    use std::collections::BTreeMap;

    #[test]
    fn keccak_map_matches_keccak_root_incrementally() {
        let hasher = TrieHasher::Keccak256;
        for version in [StateVersion::V0, StateVersion::V1] {
            let mut m = TrieMap::with_hasher(version, hasher);
            let mut reference = BTreeMap::new();
            assert_eq!(m.root(), crate::EMPTY_TRIE_ROOT_KECCAK);
            for i in 0u32..300 {
                let key = crate::keccak_256(&i.to_le_bytes())[..(i as usize % 5) + 1].to_vec();
                let value = vec![i as u8; (i as usize * 7) % 80];
                m.insert(&key, value.clone());
                reference.insert(key, value);
                if i % 37 == 0 {
                    assert_eq!(m.root(), crate::trie_root_with(hasher, version, reference.iter()), "{version:?} {i}");
                }
            }
            let keys: Vec<Vec<u8>> = reference.keys().step_by(3).cloned().collect();
            for k in &keys {
                m.remove(k);
                reference.remove(k);
            }
            let root = m.root();
            assert_eq!(root, crate::trie_root_with(hasher, version, reference.iter()));
            assert_ne!(root, trie_root(version, reference.iter()));
            m.clear();
            assert_eq!(m.root(), crate::EMPTY_TRIE_ROOT_KECCAK);
        }
    }

    fn check(m: &mut TrieMap, model: &BTreeMap<Vec<u8>, Vec<u8>>) {
        assert_eq!(m.len(), model.len());
        assert_eq!(m.root(), trie_root(m.version(), model.iter()));
        let got: Vec<(Vec<u8>, Vec<u8>)> = m.iter().map(|(k, v)| (k, v.to_vec())).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn basic_ops() {
        let mut m = TrieMap::new(StateVersion::V0);
        let mut model = BTreeMap::new();
        assert_eq!(m.root(), EMPTY_TRIE_ROOT);
        for (k, v) in
            [(&b"abc"[..], &b"1"[..]), (b"abd", b"2"), (b"ab", b"3"), (b"", b"4"), (b"b", b"5"), (b"abcdef", b"6")]
        {
            assert_eq!(m.insert(k, v), model.insert(k.to_vec(), v.to_vec()));
            check(&mut m, &model);
        }
        assert_eq!(m.get(b"ab"), Some(&b"3"[..]));
        assert_eq!(m.get(b"a"), None);
        assert_eq!(m.next_key(b"ab"), Some(b"abc".to_vec()));
        assert_eq!(m.next_key(b"abz"), Some(b"b".to_vec()));
        assert_eq!(m.next_key(b"b"), None);
        assert_eq!(m.next_key(b""), Some(b"ab".to_vec()));
        for k in [&b"ab"[..], b"zz", b"", b"abc", b"abd", b"abcdef", b"b"] {
            assert_eq!(m.remove(k), model.remove(k));
            check(&mut m, &model);
        }
        assert!(m.is_empty());
        assert_eq!(m.root(), EMPTY_TRIE_ROOT);
    }

    #[test]
    fn ranges_and_prefixes() {
        let mut m = TrieMap::new(StateVersion::V1);
        let mut model = BTreeMap::new();
        for i in 0u16..300 {
            let k = (i * 7).to_be_bytes().to_vec();
            let v = vec![i as u8; (i % 50) as usize];
            m.insert(&k, v.clone());
            model.insert(k, v);
        }
        check(&mut m, &model);
        let lo = 100u16.to_be_bytes();
        let hi = 700u16.to_be_bytes();
        let got: Vec<Vec<u8>> = m.range(Bound::Excluded(&lo[..]), Bound::Included(&hi[..])).map(|(k, _)| k).collect();
        let want: Vec<Vec<u8>> = model
            .range::<[u8], _>((Bound::Excluded(&lo[..]), Bound::Included(&hi[..])))
            .map(|(k, _)| k.clone())
            .collect();
        assert_eq!(got, want);
        let got: Vec<Vec<u8>> = m.prefix_iter(&[1]).map(|(k, _)| k).collect();
        let want: Vec<Vec<u8>> = model.keys().filter(|k| k.starts_with(&[1])).cloned().collect();
        assert_eq!(got, want);

        let out = m.clear_prefix(&[2], Some(5));
        assert_eq!(out.removed, 5);
        assert!(!out.complete);
        let doomed: Vec<Vec<u8>> = model.keys().filter(|k| k.starts_with(&[2])).take(5).cloned().collect();
        for k in doomed {
            model.remove(&k);
        }
        check(&mut m, &model);
        let out = m.clear_prefix(&[2], None);
        assert!(out.complete);
        model.retain(|k, _| !k.starts_with(&[2]));
        assert!(out.removed > 0);
        check(&mut m, &model);
        let out = m.clear_prefix(&[], None);
        assert_eq!(out.removed, model.len());
        model.clear();
        check(&mut m, &model);
    }

    #[test]
    fn root_only_rehashes_dirty_paths() {
        let mut m = TrieMap::new(StateVersion::V1);
        let key = |i: u32| crate::blake2_256(&i.to_le_bytes());
        for i in 0..20_000u32 {
            m.insert(&key(i), i.to_le_bytes().to_vec());
        }
        m.root();
        let before = m.merkle_computations;
        assert!(before >= 20_000);
        for i in 0..10u32 {
            m.insert(&key(i * 1000), vec![1, 2, 3]);
        }
        let root = m.root();
        // Each update dirties one root-to-leaf path (about 5 nodes at this size).
        let recomputed = m.merkle_computations - before;
        assert!(recomputed <= 10 * 8, "{recomputed} nodes re-hashed");
        // And the result is still right.
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> =
            (0..20_000u32).map(|i| (key(i).to_vec(), i.to_le_bytes().to_vec())).collect();
        for i in 0..10u32 {
            model.insert(key(i * 1000).to_vec(), vec![1, 2, 3]);
        }
        assert_eq!(root, trie_root(StateVersion::V1, model.iter()));
        // Nothing changed: nothing re-hashed.
        let before = m.merkle_computations;
        m.insert(&key(5), 5u32.to_le_bytes().to_vec());
        m.root();
        assert_eq!(m.merkle_computations, before);
    }

    #[test]
    fn version_per_entry() {
        let long = vec![1u8; 40];
        let mut m = TrieMap::new(StateVersion::V0);
        m.insert(b"a", long.clone());
        m.insert(b"b", long.clone());
        let v0_root = trie_root(StateVersion::V0, [(b"a", &long), (b"b", &long)]);
        assert_eq!(m.root(), v0_root);
        m.set_version(StateVersion::V1);
        // Nothing rewritten: still the V0 encoding.
        assert_eq!(m.root(), v0_root);
        m.insert(b"a", long.clone());
        m.insert(b"b", long.clone());
        assert_eq!(m.root(), trie_root(StateVersion::V1, [(b"a", &long), (b"b", &long)]));
    }
}

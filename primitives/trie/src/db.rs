//! A trie whose nodes live in a content-addressed node store.
//!
//! The store maps the blake2b-256 hash of a node's encoding to that encoding (and, for
//! [`StateVersion::V1`] values of 33 bytes or more, the hash of a value to the value). Nodes
//! whose encoding is shorter than 32 bytes are inlined in their parent and never stored on
//! their own; the root node is always stored under its hash, however short.
//!
//! This module is pure logic over the [`NodeStore`] trait:
//!
//! - [`get`] and [`next_key`] read a state given its root;
//! - [`apply_delta`] applies sorted insertions and deletions to the trie of a root and
//!   returns the new root with the nodes it created ([`TrieUpdate::inserted`]) and the nodes
//!   of the old trie it no longer references ([`TrieUpdate::removed`]), so that a database
//!   can keep a journal per block and reference-count nodes for pruning;
//! - [`prove`] collects the nodes a reader needs to check some keys against the root.
//!
//! Only the paths that change are loaded from the store and re-encoded. A value keeps the
//! form it was stored in until it is rewritten (a V0 inline value of 40 bytes stays inline
//! when its node is re-encoded under V1), as in Substrate.

use crate::codec::{decode_node, encode_node, NodeDecodeError, NodeValue};
use crate::{blake2_256, nibbles, StateVersion, EMPTY_TRIE_ROOT};
use std::borrow::Cow;

/// Read access to a content-addressed node store.
pub trait NodeStore {
    /// The node (or hashed value) stored under `hash`, if any.
    fn node(&self, hash: &[u8; 32]) -> Result<Option<Cow<'_, [u8]>>, TrieDbError>;
}

impl NodeStore for std::collections::HashMap<[u8; 32], Vec<u8>> {
    fn node(&self, hash: &[u8; 32]) -> Result<Option<Cow<'_, [u8]>>, TrieDbError> {
        Ok(self.get(hash).map(|v| Cow::Borrowed(v.as_slice())))
    }
}

impl NodeStore for std::collections::BTreeMap<[u8; 32], Vec<u8>> {
    fn node(&self, hash: &[u8; 32]) -> Result<Option<Cow<'_, [u8]>>, TrieDbError> {
        Ok(self.get(hash).map(|v| Cow::Borrowed(v.as_slice())))
    }
}

/// Errors reading or updating a stored trie.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrieDbError {
    /// A node the trie references is not in the store (pruned state, or a corrupt store).
    #[error("trie node 0x{} is missing from the store", hex_short(.0))]
    MissingNode([u8; 32]),
    /// A stored node does not decode.
    #[error("trie node 0x{} is malformed: {error}", hex_short(.hash))]
    BadNode {
        /// Hash of the node (or of its parent, for an inline node).
        hash: [u8; 32],
        /// The decoding error.
        error: NodeDecodeError,
    },
    /// A key with a value has an odd number of nibbles (corrupt trie).
    #[error("trie holds a value at a key with an odd number of nibbles")]
    OddKey,
    /// The store failed.
    #[error("node store: {0}")]
    Store(String),
}

fn hex_short(bytes: &[u8; 32]) -> String {
    bytes[..8].iter().map(|b| format!("{b:02x}")).collect::<String>() + "…"
}

fn fetch<'s, S: NodeStore + ?Sized>(store: &'s S, hash: &[u8; 32]) -> Result<Cow<'s, [u8]>, TrieDbError> {
    store.node(hash)?.ok_or(TrieDbError::MissingNode(*hash))
}

/// The bytes of a child: fetched when the reference is a hash, the reference itself when
/// it is an inline node.
fn child_bytes<'s, S: NodeStore + ?Sized>(store: &'s S, reference: &[u8]) -> Result<Cow<'s, [u8]>, TrieDbError> {
    if reference.len() == 32 {
        let mut hash = [0u8; 32];
        hash.copy_from_slice(reference);
        fetch(store, &hash)
    } else {
        Ok(Cow::Owned(reference.to_vec()))
    }
}

fn decode<'a>(bytes: &'a [u8], hash: &[u8; 32]) -> Result<crate::DecodedNode<'a>, TrieDbError> {
    decode_node(bytes).map_err(|error| TrieDbError::BadNode { hash: *hash, error })
}

fn value_of<S: NodeStore + ?Sized>(store: &S, value: NodeValue<'_>) -> Result<Option<Vec<u8>>, TrieDbError> {
    match value {
        NodeValue::None => Ok(None),
        NodeValue::Inline(v) => Ok(Some(v.to_vec())),
        NodeValue::Hashed(h) => Ok(Some(fetch(store, h)?.into_owned())),
    }
}

/// The value of `key` in the trie of `root`.
pub fn get<S: NodeStore + ?Sized>(store: &S, root: &[u8; 32], key: &[u8]) -> Result<Option<Vec<u8>>, TrieDbError> {
    lookup(store, root, key, None)
}

/// The value of `key` in the trie of `root`, pushing every node read (and a hashed value)
/// onto `proof`: together they prove the value, or its absence, against the root.
pub fn get_with_proof<S: NodeStore + ?Sized>(
    store: &S,
    root: &[u8; 32],
    key: &[u8],
    proof: &mut Vec<Vec<u8>>,
) -> Result<Option<Vec<u8>>, TrieDbError> {
    lookup(store, root, key, Some(proof))
}

/// The nodes proving the values (or absence) of `keys` against `root`, without duplicates,
/// in the order first read.
pub fn prove<S: NodeStore + ?Sized>(store: &S, root: &[u8; 32], keys: &[&[u8]]) -> Result<Vec<Vec<u8>>, TrieDbError> {
    let mut nodes = Vec::new();
    for key in keys {
        lookup(store, root, key, Some(&mut nodes))?;
    }
    let mut seen = std::collections::HashSet::new();
    nodes.retain(|n| seen.insert(blake2_256(n)));
    Ok(nodes)
}

fn lookup<S: NodeStore + ?Sized>(
    store: &S,
    root: &[u8; 32],
    key: &[u8],
    mut proof: Option<&mut Vec<Vec<u8>>>,
) -> Result<Option<Vec<u8>>, TrieDbError> {
    if *root == EMPTY_TRIE_ROOT {
        return Ok(None);
    }
    let key = nibbles::from_bytes(key);
    let mut bytes = fetch(store, root)?;
    let mut hash = *root;
    let mut pos = 0;
    loop {
        let node = decode(&bytes, &hash)?;
        let partial = node.partial_key;
        if let Some(proof) = proof.as_deref_mut() {
            // Inline nodes are part of their parent's encoding.
            if bytes.len() >= 32 || pos == 0 {
                proof.push(bytes.to_vec());
            }
        }
        if key.len() - pos < partial.len() || !partial.iter().eq(key[pos..pos + partial.len()].iter().copied()) {
            return Ok(None);
        }
        pos += partial.len();
        if pos == key.len() {
            let value = value_of(store, node.value)?;
            if let (Some(proof), NodeValue::Hashed(_), Some(v)) = (proof.as_deref_mut(), node.value, &value) {
                proof.push(v.clone());
            }
            return Ok(value);
        }
        let index = usize::from(key[pos]);
        pos += 1;
        let Some(reference) = node.children[index] else {
            return Ok(None);
        };
        if reference.len() == 32 {
            hash.copy_from_slice(reference);
        }
        let next = child_bytes(store, reference)?.into_owned();
        bytes = Cow::Owned(next);
    }
}

/// The first key strictly greater than `after` in the trie of `root`.
pub fn next_key<S: NodeStore + ?Sized>(
    store: &S,
    root: &[u8; 32],
    after: &[u8],
) -> Result<Option<Vec<u8>>, TrieDbError> {
    if *root == EMPTY_TRIE_ROOT {
        return Ok(None);
    }
    let target = nibbles::from_bytes(after);
    let bytes = fetch(store, root)?;
    let mut path = Vec::with_capacity(target.len() + 2);
    match seek(store, &bytes, root, &mut path, Some(&target))? {
        Some(found) => nibbles::to_bytes(&found).map(Some).ok_or(TrieDbError::OddKey),
        None => Ok(None),
    }
}

/// First key (as nibbles) with a value in the subtree of `bytes` (whose position is
/// `path`) that is strictly greater than `path ++ target`; any key when `target` is `None`.
fn seek<S: NodeStore + ?Sized>(
    store: &S,
    bytes: &[u8],
    hash: &[u8; 32],
    path: &mut Vec<u8>,
    target: Option<&[u8]>,
) -> Result<Option<Vec<u8>>, TrieDbError> {
    let node = decode(bytes, hash)?;
    let partial = node.partial_key.to_vec();
    let start = path.len();
    path.extend_from_slice(&partial);

    // (own value allowed, first child to visit, bound for that child)
    let plan: Option<(bool, usize, Option<&[u8]>)> = match target {
        None => Some((true, 0, None)),
        Some(t) => {
            let n = partial.len().min(t.len());
            match partial[..n].cmp(&t[..n]) {
                std::cmp::Ordering::Less => None,
                std::cmp::Ordering::Greater => Some((true, 0, None)),
                std::cmp::Ordering::Equal if partial.len() > t.len() => Some((true, 0, None)),
                // The node's own key equals the bound: skip its value.
                std::cmp::Ordering::Equal if partial.len() == t.len() => Some((false, 0, None)),
                std::cmp::Ordering::Equal => {
                    let rest = &t[partial.len()..];
                    Some((false, usize::from(rest[0]), Some(&rest[1..])))
                }
            }
        }
    };
    let result = match plan {
        None => None,
        Some((own_value, first_child, bound)) => 'found: {
            if own_value && node.value.is_some() {
                break 'found Some(path.clone());
            }
            for index in first_child..16 {
                let Some(reference) = node.children[index] else { continue };
                let child = child_bytes(store, reference)?;
                let mut child_hash = *hash;
                if reference.len() == 32 {
                    child_hash.copy_from_slice(reference);
                }
                path.push(index as u8);
                let bound = if index == first_child { bound } else { None };
                let found = seek(store, &child, &child_hash, path, bound)?;
                path.pop();
                if found.is_some() {
                    break 'found found;
                }
            }
            None
        }
    };
    path.truncate(start);
    Ok(result)
}

/// Visits every node (and hashed value) reachable from `root` once per position, calling
/// `visit(hash, bytes)` for each stored item (inline nodes are not visited on their own).
pub fn for_each_stored_node<S: NodeStore + ?Sized>(
    store: &S,
    root: &[u8; 32],
    visit: &mut dyn FnMut(&[u8; 32], &[u8]),
) -> Result<(), TrieDbError> {
    if *root == EMPTY_TRIE_ROOT {
        return Ok(());
    }
    let bytes = fetch(store, root)?.into_owned();
    visit(root, &bytes);
    walk(store, &bytes, root, visit)
}

fn walk<S: NodeStore + ?Sized>(
    store: &S,
    bytes: &[u8],
    hash: &[u8; 32],
    visit: &mut dyn FnMut(&[u8; 32], &[u8]),
) -> Result<(), TrieDbError> {
    let node = decode(bytes, hash)?;
    if let NodeValue::Hashed(h) = node.value {
        let value = fetch(store, h)?;
        visit(h, &value);
    }
    for reference in node.children.iter().flatten() {
        if reference.len() == 32 {
            let mut child_hash = [0u8; 32];
            child_hash.copy_from_slice(reference);
            let child = fetch(store, &child_hash)?.into_owned();
            visit(&child_hash, &child);
            walk(store, &child, &child_hash, visit)?;
        } else {
            walk(store, reference, hash, visit)?;
        }
    }
    Ok(())
}

/// Result of [`apply_delta`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrieUpdate {
    /// Root of the updated trie ([`EMPTY_TRIE_ROOT`] if it is empty).
    pub root: [u8; 32],
    /// Nodes (and hashed values) of the new trie that the old one did not have at their
    /// position, with their encodings. A node can appear more than once.
    pub inserted: Vec<([u8; 32], Vec<u8>)>,
    /// Stored nodes (and hashed values) of the old trie that the new one no longer
    /// references at their position. A node can appear more than once.
    pub removed: Vec<[u8; 32]>,
}

enum Slot {
    /// Not loaded: the child's Merkle value (a hash, or an inline encoding).
    Stored(Vec<u8>),
    Loaded(Box<MemNode>),
}

enum MemValue {
    None,
    /// Stored inline, unchanged.
    Inline(Vec<u8>),
    /// Stored as a separate value node, unchanged.
    Hashed([u8; 32]),
    /// Written by this update.
    New(Vec<u8>),
}

struct MemNode {
    partial: Vec<u8>,
    value: MemValue,
    children: [Option<Slot>; 16],
    /// Merkle value before this update (`None` for new nodes).
    original: Option<Vec<u8>>,
    /// Hash under which the node is stored, while it has not been modified.
    stored_hash: Option<[u8; 32]>,
    dirty: bool,
}

impl MemNode {
    fn leaf(partial: Vec<u8>, value: Vec<u8>) -> Self {
        MemNode {
            partial,
            value: MemValue::New(value),
            children: Default::default(),
            original: None,
            stored_hash: None,
            dirty: true,
        }
    }

    fn child_count(&self) -> usize {
        self.children.iter().filter(|c| c.is_some()).count()
    }
}

struct Updater<'s, S: NodeStore + ?Sized> {
    store: &'s S,
    version: StateVersion,
    inserted: Vec<([u8; 32], Vec<u8>)>,
    removed: Vec<[u8; 32]>,
}

impl<S: NodeStore + ?Sized> Updater<'_, S> {
    fn load_bytes(&self, merkle: &[u8], is_root: bool) -> Result<MemNode, TrieDbError> {
        let (bytes, stored_hash) = if merkle.len() == 32 {
            let mut hash = [0u8; 32];
            hash.copy_from_slice(merkle);
            (fetch(self.store, &hash)?.into_owned(), Some(hash))
        } else {
            debug_assert!(!is_root);
            (merkle.to_vec(), None)
        };
        let hash_for_errors = stored_hash.unwrap_or([0; 32]);
        let node = decode(&bytes, &hash_for_errors)?;
        let value = match node.value {
            NodeValue::None => MemValue::None,
            NodeValue::Inline(v) => MemValue::Inline(v.to_vec()),
            NodeValue::Hashed(h) => MemValue::Hashed(*h),
        };
        let mut children: [Option<Slot>; 16] = Default::default();
        for (slot, reference) in children.iter_mut().zip(node.children.iter()) {
            *slot = reference.map(|r| Slot::Stored(r.to_vec()));
        }
        Ok(MemNode {
            partial: node.partial_key.to_vec(),
            value,
            children,
            original: Some(merkle.to_vec()),
            stored_hash,
            dirty: false,
        })
    }

    fn load<'a>(&self, slot: &'a mut Slot, is_root: bool) -> Result<&'a mut MemNode, TrieDbError> {
        if let Slot::Stored(merkle) = slot {
            let node = self.load_bytes(merkle, is_root)?;
            *slot = Slot::Loaded(Box::new(node));
        }
        match slot {
            Slot::Loaded(node) => Ok(node),
            Slot::Stored(_) => unreachable!("loaded just above"),
        }
    }

    /// Marks a node modified: its stored version is no longer referenced.
    fn touch(&mut self, node: &mut MemNode) {
        node.dirty = true;
        if let Some(hash) = node.stored_hash.take() {
            self.removed.push(hash);
        }
    }

    fn drop_value(&mut self, value: &MemValue) {
        if let MemValue::Hashed(h) = value {
            self.removed.push(*h);
        }
    }

    /// Whether writing `value` over `current` leaves the node unchanged.
    fn same_value(&self, current: &MemValue, value: &[u8]) -> bool {
        let hashed = self.version.hashes_value_of_len(value.len());
        match current {
            MemValue::None => false,
            MemValue::Inline(v) | MemValue::New(v) => !hashed && v == value,
            MemValue::Hashed(h) => hashed && *h == blake2_256(value),
        }
    }

    fn insert(
        &mut self,
        slot: &mut Option<Slot>,
        key: &[u8],
        value: &[u8],
        is_root: bool,
    ) -> Result<bool, TrieDbError> {
        let Some(existing) = slot else {
            *slot = Some(Slot::Loaded(Box::new(MemNode::leaf(key.to_vec(), value.to_vec()))));
            return Ok(true);
        };
        let node = self.load(existing, is_root)?;
        let common = node.partial.iter().zip(key).take_while(|(a, b)| a == b).count();
        if common == node.partial.len() {
            if common == key.len() {
                if self.same_value(&node.value, value) {
                    return Ok(false);
                }
                let old = std::mem::replace(&mut node.value, MemValue::New(value.to_vec()));
                self.drop_value(&old);
                self.touch(node);
                return Ok(true);
            }
            let index = usize::from(key[common]);
            let mut child = node.children[index].take();
            let changed = self.insert(&mut child, &key[common + 1..], value, false);
            let node = self.load(existing, is_root)?;
            node.children[index] = child;
            if changed? {
                self.touch(node);
                return Ok(true);
            }
            return Ok(false);
        }
        // The key diverges inside the node's partial key: split.
        let Some(Slot::Loaded(mut old)) = slot.take() else { unreachable!("loaded above") };
        self.touch(&mut old);
        let old_index = usize::from(old.partial[common]);
        let prefix = old.partial[..common].to_vec();
        old.partial.drain(..=common);
        let mut branch = MemNode {
            partial: prefix,
            value: MemValue::None,
            children: Default::default(),
            original: None,
            stored_hash: None,
            dirty: true,
        };
        branch.children[old_index] = Some(Slot::Loaded(old));
        if common == key.len() {
            branch.value = MemValue::New(value.to_vec());
        } else {
            let index = usize::from(key[common]);
            branch.children[index] =
                Some(Slot::Loaded(Box::new(MemNode::leaf(key[common + 1..].to_vec(), value.to_vec()))));
        }
        *slot = Some(Slot::Loaded(Box::new(branch)));
        Ok(true)
    }

    fn remove(&mut self, slot: &mut Option<Slot>, key: &[u8], is_root: bool) -> Result<bool, TrieDbError> {
        let Some(existing) = slot else { return Ok(false) };
        let node = self.load(existing, is_root)?;
        if !key.starts_with(&node.partial) {
            return Ok(false);
        }
        let rest_start = node.partial.len();
        if rest_start == key.len() {
            if matches!(node.value, MemValue::None) {
                return Ok(false);
            }
            let old = std::mem::replace(&mut node.value, MemValue::None);
            self.drop_value(&old);
            self.touch(node);
        } else {
            let index = usize::from(key[rest_start]);
            let mut child = node.children[index].take();
            let changed = self.remove(&mut child, &key[rest_start + 1..], false);
            let node = self.load(existing, is_root)?;
            node.children[index] = child;
            if !changed? {
                return Ok(false);
            }
            self.touch(node);
        }
        self.normalize(slot)?;
        Ok(true)
    }

    /// Restores the trie invariants after a removal under `slot`: a node without value
    /// disappears if it has no child and merges with its only child.
    fn normalize(&mut self, slot: &mut Option<Slot>) -> Result<(), TrieDbError> {
        let Some(Slot::Loaded(node)) = slot else { return Ok(()) };
        if !matches!(node.value, MemValue::None) {
            return Ok(());
        }
        match node.child_count() {
            0 => *slot = None,
            1 => {
                let index = node.children.iter().position(Option::is_some).unwrap_or(0);
                let mut prefix = std::mem::take(&mut node.partial);
                prefix.push(index as u8);
                let Some(mut child_slot) = node.children[index].take() else { return Ok(()) };
                let child = self.load(&mut child_slot, false)?;
                self.touch(child);
                prefix.extend_from_slice(&child.partial);
                child.partial = prefix;
                *slot = Some(child_slot);
            }
            _ => {}
        }
        Ok(())
    }

    /// Merkle value of a slot, encoding and recording every modified node.
    fn commit(&mut self, slot: &mut Slot, is_root: bool) -> Vec<u8> {
        let node = match slot {
            Slot::Stored(merkle) => return merkle.clone(),
            Slot::Loaded(node) => node,
        };
        if !node.dirty {
            if let Some(original) = &node.original {
                return original.clone();
            }
        }
        let mut child_refs: [Option<Vec<u8>>; 16] = Default::default();
        for (reference, child) in child_refs.iter_mut().zip(node.children.iter_mut()) {
            if let Some(child) = child {
                *reference = Some(self.commit(child, false));
            }
        }
        let refs: [Option<&[u8]>; 16] = std::array::from_fn(|i| child_refs[i].as_deref());
        let value_hash;
        let value = match &node.value {
            MemValue::None => NodeValue::None,
            MemValue::Inline(v) => NodeValue::Inline(v),
            MemValue::Hashed(h) => NodeValue::Hashed(h),
            MemValue::New(v) if self.version.hashes_value_of_len(v.len()) => {
                value_hash = blake2_256(v);
                self.inserted.push((value_hash, v.clone()));
                NodeValue::Hashed(&value_hash)
            }
            MemValue::New(v) => NodeValue::Inline(v),
        };
        let encoded = encode_node(&node.partial, value, &refs);
        if encoded.len() >= 32 || is_root {
            let hash = blake2_256(&encoded);
            self.inserted.push((hash, encoded));
            hash.to_vec()
        } else {
            encoded
        }
    }
}

/// Applies `delta` (keys ascending, `None` = deletion) to the trie of `root`, writing new
/// values under `version`. See [`TrieUpdate`] for what is returned; nothing is written.
pub fn apply_delta<'a, S, I>(
    store: &S,
    root: &[u8; 32],
    delta: I,
    version: StateVersion,
) -> Result<TrieUpdate, TrieDbError>
where
    S: NodeStore + ?Sized,
    I: IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
{
    let mut updater = Updater { store, version, inserted: Vec::new(), removed: Vec::new() };
    let mut top = (*root != EMPTY_TRIE_ROOT).then(|| Slot::Stored(root.to_vec()));
    let mut changed = false;
    for (key, value) in delta {
        let key = nibbles::from_bytes(key);
        changed |= match value {
            Some(value) => updater.insert(&mut top, &key, value, true)?,
            None => updater.remove(&mut top, &key, true)?,
        };
    }
    if !changed {
        return Ok(TrieUpdate { root: *root, inserted: Vec::new(), removed: Vec::new() });
    }
    let root = match top.as_mut() {
        None => EMPTY_TRIE_ROOT,
        Some(slot) => {
            let merkle = updater.commit(slot, true);
            let mut root = [0u8; 32];
            root.copy_from_slice(&merkle);
            root
        }
    };
    Ok(TrieUpdate { root, inserted: updater.inserted, removed: updater.removed })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};

    type Store = HashMap<[u8; 32], Vec<u8>>;

    fn commit(store: &mut Store, update: &TrieUpdate) {
        for (hash, bytes) in &update.inserted {
            store.insert(*hash, bytes.clone());
        }
    }

    fn build(entries: &BTreeMap<Vec<u8>, Vec<u8>>, version: StateVersion) -> (Store, [u8; 32]) {
        let mut store = Store::new();
        let update = apply_delta(
            &store,
            &EMPTY_TRIE_ROOT,
            entries.iter().map(|(k, v)| (k.as_slice(), Some(v.as_slice()))),
            version,
        )
        .unwrap();
        commit(&mut store, &update);
        (store, update.root)
    }

    #[test]
    fn roots_match_trie_root() {
        for version in [StateVersion::V0, StateVersion::V1] {
            let mut entries = BTreeMap::new();
            for i in 0u32..300 {
                let key = blake2_256(&i.to_le_bytes())[..(i as usize % 7) + 1].to_vec();
                entries.insert(key, vec![i as u8; (i as usize * 7) % 50]);
            }
            entries.insert(b"a".to_vec(), b"x".to_vec());
            entries.insert(b"ab".to_vec(), vec![9; 40]);
            let (store, root) = build(&entries, version);
            assert_eq!(root, crate::trie_root(version, entries.iter()));
            for (k, v) in &entries {
                assert_eq!(get(&store, &root, k).unwrap().as_ref(), Some(v));
            }
            assert_eq!(get(&store, &root, b"zzz-missing").unwrap(), None);
            // next_key walks every key in order.
            let mut key = Vec::new();
            let mut seen = Vec::new();
            while let Some(next) = next_key(&store, &root, &key).unwrap() {
                seen.push(next.clone());
                key = next;
            }
            assert_eq!(seen, entries.keys().cloned().collect::<Vec<_>>());
        }
    }

    #[test]
    fn updates_match_fresh_roots_and_journal_balances() {
        let version = StateVersion::V1;
        let mut entries = BTreeMap::new();
        for i in 0u32..200 {
            entries.insert(blake2_256(&i.to_be_bytes())[..3].to_vec(), vec![i as u8; (i % 60) as usize]);
        }
        let (mut store, mut root) = build(&entries, version);
        for round in 0u32..20 {
            let mut delta = BTreeMap::new();
            for j in 0u32..15 {
                let seed = blake2_256(&(round * 100 + j).to_le_bytes());
                let key = if j % 3 == 0 {
                    entries.keys().nth(seed[0] as usize % entries.len()).unwrap().clone()
                } else {
                    seed[..(seed[1] % 4 + 1) as usize].to_vec()
                };
                let value = (j % 4 != 0).then(|| vec![seed[2]; (seed[3] % 50) as usize]);
                delta.insert(key, value);
            }
            let update =
                apply_delta(&store, &root, delta.iter().map(|(k, v)| (k.as_slice(), v.as_deref())), version).unwrap();
            for (k, v) in &delta {
                match v {
                    Some(v) => entries.insert(k.clone(), v.clone()),
                    None => entries.remove(k),
                };
            }
            assert_eq!(update.root, crate::trie_root(version, entries.iter()), "round {round}");
            commit(&mut store, &update);
            root = update.root;
            for (k, v) in &entries {
                assert_eq!(get(&store, &root, k).unwrap().as_ref(), Some(v));
            }
        }
        // Reference counting over the journal: every node of the final trie is live.
        let mut live = HashMap::new();
        for_each_stored_node(&store, &root, &mut |h, _| *live.entry(*h).or_insert(0) += 1).unwrap();
        assert!(!live.is_empty());
    }

    #[test]
    fn delete_everything_gives_empty_root() {
        let mut entries = BTreeMap::new();
        for i in 0u8..50 {
            entries.insert(vec![i, i.wrapping_mul(7)], vec![i; 5]);
        }
        let (store, root) = build(&entries, StateVersion::V0);
        let update =
            apply_delta(&store, &root, entries.keys().map(|k| (k.as_slice(), None)), StateVersion::V0).unwrap();
        assert_eq!(update.root, EMPTY_TRIE_ROOT);
        assert!(update.inserted.is_empty());
    }

    #[test]
    fn unchanged_write_is_a_no_op_and_missing_node_is_an_error() {
        let mut entries = BTreeMap::new();
        entries.insert(b"key-one".to_vec(), vec![1; 40]);
        entries.insert(b"key-two".to_vec(), vec![2; 40]);
        let (mut store, root) = build(&entries, StateVersion::V0);
        let same = apply_delta(&store, &root, [(&b"key-one"[..], Some(&[1u8; 40][..]))], StateVersion::V0).unwrap();
        assert_eq!(same.root, root);
        assert!(same.inserted.is_empty() && same.removed.is_empty());
        store.clear();
        assert_eq!(get(&store, &root, b"key-one"), Err(TrieDbError::MissingNode(root)));
    }

    #[test]
    fn proofs_verify() {
        let mut entries = BTreeMap::new();
        for i in 0u32..100 {
            entries.insert(blake2_256(&i.to_le_bytes()).to_vec(), vec![i as u8; 70]);
        }
        let (store, root) = build(&entries, StateVersion::V1);
        let key = entries.keys().nth(17).unwrap().clone();
        let nodes = prove(&store, &root, &[&key, b"absent"]).unwrap();
        let proof = crate::StorageProof::from_nodes(nodes).unwrap();
        let verified = proof.verify(&root).unwrap();
        assert_eq!(verified.read(&key).unwrap().as_ref(), entries.get(&key));
        assert_eq!(verified.read(b"absent").unwrap(), None);
    }
}

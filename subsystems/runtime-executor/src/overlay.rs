//! The storage a runtime call sees: a read-only [`StateBackend`] (the state of
//! the parent block, owned by the caller) under an [`OverlayedChanges`] that
//! collects the call's writes, with nested transactions, default child tries
//! and offchain-index writes.
//!
//! The semantics follow Substrate's `sp-state-machine` (`Ext` over
//! `OverlayedChanges`), since they are observable by the runtime:
//!
//! * Writes through the plain storage API to keys under `:child_storage:` are
//!   silently ignored (child tries are only reachable through the child API).
//! * `clear_prefix` / `kill_child` first delete every matching key of the
//!   overlay (not counted against the limit), then walk the backend's matching
//!   keys in order: the limit bounds the number of backend keys visited
//!   ("loops"), and the walk reports whether keys remain. A prefix that is a
//!   prefix of, or lies under, `:child_storage:` is refused (nothing removed).
//! * `append` treats the current value as a SCALE `Vec` (compact length then
//!   items), bumps the length and appends the raw item; a value whose length
//!   prefix does not decode is replaced by the one-item vector.
//! * The storage root is that of backend + overlay. The root of every child
//!   trie touched by the overlay is recomputed and stored in the main trie
//!   under `:child_storage:default: ++ child key`; a child trie that became
//!   empty has that entry removed.
//!
//! **Transactions.** Every key keeps the history of its values, one per open
//! transaction that wrote it, and every transaction remembers the keys it
//! wrote (Substrate's design). Starting a transaction is O(1); committing or
//! rolling back is linear in the keys written inside it.

use parity_scale_codec::{Compact, CompactLen, Decode, Encode};
use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;
use std::sync::Arc;
use weft_trie::{child_storage_key, StateVersion, CHILD_STORAGE_DEFAULT_PREFIX, EMPTY_TRIE_ROOT};

/// Keys under this prefix belong to child tries and cannot be written directly.
pub const CHILD_STORAGE_KEY_PREFIX: &[u8] = b":child_storage:";

/// A failure of the state backend (for example a storage proof that lacks a
/// node). It traps the runtime call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("state backend: {0}")]
pub struct StateError(pub String);

/// Changes to apply on top of a trie: sorted by key, `None` = deletion.
pub type Delta<'a> = [(&'a [u8], Option<&'a [u8]>)];

/// Read access to the state a runtime call executes on (the state at the
/// parent block), plus root calculation for that state with changes applied.
///
/// Child tries are named by their key *without* the `:child_storage:default:`
/// prefix. The main trie holds the roots of the child tries under
/// `:child_storage:default: ++ child key`, as in the real state.
pub trait StateBackend: Send + Sync {
    /// Value of `key` in the main trie.
    fn storage(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Value of `key` in the default child trie `child_key`.
    fn child_storage(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// First key of the main trie strictly greater than `key`.
    fn next_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// First key of the child trie strictly greater than `key`.
    fn child_next_key(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError>;
    /// Root of the main trie once `delta` is applied.
    fn storage_root(&self, delta: &Delta<'_>, version: StateVersion) -> Result<[u8; 32], StateError>;
    /// Root of the child trie once `delta` is applied ([`EMPTY_TRIE_ROOT`] if it ends up empty).
    fn child_storage_root(
        &self,
        child_key: &[u8],
        delta: &Delta<'_>,
        version: StateVersion,
    ) -> Result<[u8; 32], StateError>;
}

/// A state held in memory: the main trie and the default child tries as
/// sorted maps.
///
/// Roots are recomputed from all entries at every [`StateBackend::storage_root`]
/// call (linear in the state size), with one state version for every entry.
/// That is exact for states written under a single version (genesis states,
/// test states) and fine for small states; the chain store provides a
/// trie-backed backend with incremental roots and per-entry versions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InMemoryBackend {
    main: BTreeMap<Vec<u8>, Vec<u8>>,
    children: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl InMemoryBackend {
    /// A state from its main trie (which should already hold the child roots)
    /// and its child tries, taken as they are.
    pub fn new(main: BTreeMap<Vec<u8>, Vec<u8>>, children: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>) -> Self {
        InMemoryBackend { main, children }
    }

    /// A state from a genesis-style description (a chain spec's `top` and
    /// `childrenDefault`): the root of every non-empty child trie, computed
    /// with `version`, is inserted into the main trie; empty child tries are dropped.
    pub fn from_genesis(
        top: BTreeMap<Vec<u8>, Vec<u8>>,
        children: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>,
        version: StateVersion,
    ) -> Self {
        let mut main = top;
        let children: BTreeMap<_, _> = children.into_iter().filter(|(_, c)| !c.is_empty()).collect();
        for (child_key, child) in &children {
            main.insert(child_storage_key(child_key), weft_trie::trie_root(version, child.iter()).to_vec());
        }
        InMemoryBackend { main, children }
    }

    /// The main trie.
    pub fn main(&self) -> &BTreeMap<Vec<u8>, Vec<u8>> {
        &self.main
    }

    /// The default child tries, by key without prefix.
    pub fn children(&self) -> &BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>> {
        &self.children
    }

    /// Root of the whole state.
    pub fn root(&self, version: StateVersion) -> [u8; 32] {
        weft_trie::trie_root(version, self.main.iter())
    }

    /// Applies the changes of a call (as returned in [`StorageChanges`]), then
    /// updates the main-trie entries of the child tries they touch (their
    /// root computed with `version`, or removed when the child became empty).
    pub fn apply(&mut self, changes: &StorageChanges, version: StateVersion) {
        apply_delta(&mut self.main, changes.main.iter().map(|(k, v)| (k.as_slice(), v.as_deref())));
        for (child_key, delta) in &changes.children {
            let child = self.children.entry(child_key.clone()).or_default();
            apply_delta(child, delta.iter().map(|(k, v)| (k.as_slice(), v.as_deref())));
            let key = child_storage_key(child_key);
            if child.is_empty() {
                self.children.remove(child_key);
                self.main.remove(&key);
            } else {
                let root = weft_trie::trie_root(version, child.iter());
                self.main.insert(key, root.to_vec());
            }
        }
    }
}

fn apply_delta<'a>(
    map: &mut BTreeMap<Vec<u8>, Vec<u8>>,
    delta: impl IntoIterator<Item = (&'a [u8], Option<&'a [u8]>)>,
) {
    for (key, value) in delta {
        match value {
            Some(value) => {
                map.insert(key.to_vec(), value.to_vec());
            }
            None => {
                map.remove(key);
            }
        }
    }
}

fn next_in_map(map: &BTreeMap<Vec<u8>, Vec<u8>>, key: &[u8]) -> Option<Vec<u8>> {
    map.range::<[u8], _>((Bound::Excluded(key), Bound::Unbounded)).next().map(|(k, _)| k.clone())
}

fn root_with_delta(base: Option<&BTreeMap<Vec<u8>, Vec<u8>>>, delta: &Delta<'_>, version: StateVersion) -> [u8; 32] {
    let mut merged: BTreeMap<&[u8], &[u8]> =
        base.map(|m| m.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect()).unwrap_or_default();
    for (key, value) in delta {
        match value {
            Some(value) => {
                merged.insert(key, value);
            }
            None => {
                merged.remove(key);
            }
        }
    }
    weft_trie::trie_root(version, merged)
}

impl StateBackend for InMemoryBackend {
    fn storage(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.main.get(key).cloned())
    }

    fn child_storage(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.children.get(child_key).and_then(|c| c.get(key)).cloned())
    }

    fn next_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(next_in_map(&self.main, key))
    }

    fn child_next_key(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Ok(self.children.get(child_key).and_then(|c| next_in_map(c, key)))
    }

    fn storage_root(&self, delta: &Delta<'_>, version: StateVersion) -> Result<[u8; 32], StateError> {
        Ok(root_with_delta(Some(&self.main), delta, version))
    }

    fn child_storage_root(
        &self,
        child_key: &[u8],
        delta: &Delta<'_>,
        version: StateVersion,
    ) -> Result<[u8; 32], StateError> {
        Ok(root_with_delta(self.children.get(child_key), delta, version))
    }
}

/// A state known only through a storage proof (for example a call proof from
/// a full node): reads are answered from the proof, and a read the proof
/// does not cover is a [`StateError`]. Roots cannot be computed.
pub struct ProofBackend {
    proof: weft_trie::StorageProof,
    root: [u8; 32],
}

impl ProofBackend {
    /// A backend for the state of root `root`, checking that the proof is a
    /// valid partial trie under it.
    pub fn new(proof: weft_trie::StorageProof, root: [u8; 32]) -> Result<Self, StateError> {
        proof.verify(&root).map_err(|e| StateError(format!("invalid storage proof: {e}")))?;
        Ok(ProofBackend { proof, root })
    }

    fn verified(&self) -> Result<weft_trie::VerifiedProof<'_>, StateError> {
        self.proof.verify(&self.root).map_err(|e| StateError(format!("invalid storage proof: {e}")))
    }
}

impl std::fmt::Debug for ProofBackend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProofBackend").field("nodes", &self.proof.nodes().len()).finish_non_exhaustive()
    }
}

impl StateBackend for ProofBackend {
    fn storage(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.verified()?.read(key).map_err(|e| StateError(format!("storage proof cannot answer a read: {e}")))
    }

    fn child_storage(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.verified()?
            .read_child(child_key, key)
            .map_err(|e| StateError(format!("storage proof cannot answer a child read: {e}")))
    }

    fn next_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.verified()?
            .next_key(key, &[])
            .map_err(|e| StateError(format!("storage proof cannot answer next_key: {e}")))
    }

    fn child_next_key(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let verified = self.verified()?;
        let child = verified
            .child_trie(child_key)
            .map_err(|e| StateError(format!("storage proof cannot answer a child next_key: {e}")))?;
        match child {
            None => Ok(None),
            Some(child) => {
                child.next_key(key, &[]).map_err(|e| StateError(format!("storage proof cannot answer next_key: {e}")))
            }
        }
    }

    fn storage_root(&self, _delta: &Delta<'_>, _version: StateVersion) -> Result<[u8; 32], StateError> {
        Err(StateError("a proof-backed state cannot compute storage roots".into()))
    }

    fn child_storage_root(
        &self,
        _child_key: &[u8],
        _delta: &Delta<'_>,
        _version: StateVersion,
    ) -> Result<[u8; 32], StateError> {
        Err(StateError("a proof-backed state cannot compute storage roots".into()))
    }
}

/// Final values of written keys (`None` = deleted).
pub type ChangeMap = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The changes a runtime call made, as the final value of every key it
/// wrote (`None` = deleted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StorageChanges {
    /// Main trie. Roots of changed child tries are *not* included: the
    /// backend updates them when applying the child changes (see
    /// [`InMemoryBackend::apply`]).
    pub main: ChangeMap,
    /// Default child tries, by key without prefix. A killed child trie shows
    /// every one of its keys as deleted.
    pub children: BTreeMap<Vec<u8>, ChangeMap>,
    /// Writes to the node's offchain database through `ext_offchain_index_*`.
    pub offchain_index: ChangeMap,
}

impl StorageChanges {
    /// Whether the call changed nothing.
    pub fn is_empty(&self) -> bool {
        self.main.is_empty() && self.children.values().all(|c| c.is_empty()) && self.offchain_index.is_empty()
    }
}

/// `commit` or `rollback` without an open transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no open storage transaction")]
pub struct NoOpenTransaction;

/// One value of a key, written at a transaction depth.
type History = Vec<(Option<Vec<u8>>, usize)>;

/// The changes to one trie (or to the offchain index), transactional.
#[derive(Debug, Clone, Default)]
struct ChangeSet {
    changes: BTreeMap<Vec<u8>, History>,
    /// `dirty[d - 1]`: keys written at depth `d`. Grown lazily, so its length
    /// never exceeds the current depth.
    dirty: Vec<HashSet<Vec<u8>>>,
}

impl ChangeSet {
    fn get(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.changes.get(key).and_then(|h| h.last()).map(|(v, _)| v.as_deref())
    }

    fn set(&mut self, key: Vec<u8>, value: Option<Vec<u8>>, depth: usize) {
        if depth > 0 {
            if self.dirty.len() < depth {
                self.dirty.resize_with(depth, HashSet::new);
            }
            self.dirty[depth - 1].insert(key.clone());
        }
        let history = self.changes.entry(key).or_default();
        match history.last_mut() {
            Some(last) if last.1 == depth => last.0 = value,
            _ => history.push((value, depth)),
        }
    }

    /// Deletes every overlay key matching `predicate`; returns how many had a value.
    fn clear_where(&mut self, mut predicate: impl FnMut(&[u8]) -> bool, depth: usize) -> u32 {
        let keys: Vec<Vec<u8>> = self.changes.keys().filter(|k| predicate(k)).cloned().collect();
        let mut count = 0u32;
        for key in keys {
            if self.get(&key).flatten().is_some() {
                count = count.saturating_add(1);
            }
            self.set(key, None, depth);
        }
        count
    }

    fn rollback(&mut self, depth: usize) {
        if self.dirty.len() != depth {
            return;
        }
        let Some(keys) = self.dirty.pop() else { return };
        for key in keys {
            if let Some(history) = self.changes.get_mut(&key) {
                if history.last().is_some_and(|(_, d)| *d == depth) {
                    history.pop();
                }
                if history.is_empty() {
                    self.changes.remove(&key);
                }
            }
        }
    }

    fn commit(&mut self, depth: usize) {
        if self.dirty.len() != depth {
            return;
        }
        let Some(keys) = self.dirty.pop() else { return };
        let parent = depth - 1;
        for key in keys {
            let Some(history) = self.changes.get_mut(&key) else { continue };
            let Some((value, d)) = history.pop() else { continue };
            debug_assert_eq!(d, depth);
            match history.last_mut() {
                Some(prev) if prev.1 == parent => prev.0 = value,
                _ => history.push((value, parent)),
            }
            if parent > 0 {
                if self.dirty.len() < parent {
                    self.dirty.resize_with(parent, HashSet::new);
                }
                self.dirty[parent - 1].insert(key);
            }
        }
    }

    /// Keys strictly after `key`, with their current value.
    fn iter_after<'a>(&'a self, key: &[u8]) -> impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)> + 'a {
        self.changes
            .range::<[u8], _>((Bound::Excluded(key), Bound::Unbounded))
            .filter_map(|(k, h)| h.last().map(|(v, _)| (k.as_slice(), v.as_deref())))
    }

    fn delta(&self) -> Vec<(&[u8], Option<&[u8]>)> {
        self.changes.iter().filter_map(|(k, h)| h.last().map(|(v, _)| (k.as_slice(), v.as_deref()))).collect()
    }

    fn snapshot(&self) -> ChangeMap {
        self.changes.iter().filter_map(|(k, h)| h.last().map(|(v, _)| (k.clone(), v.clone()))).collect()
    }
}

/// Result of removing keys by prefix or killing a child trie.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RemovalResult {
    /// Backend keys visited (Substrate's `loops`), the count reported to the runtime.
    pub loops: u32,
    /// Backend keys deleted that were not already deleted in the overlay.
    pub backend: u32,
    /// Whether the limit stopped the walk with keys left to remove.
    pub keys_remaining: bool,
}

/// The writes of a runtime call (or of several calls on one state), with
/// nested transactions.
#[derive(Debug, Clone, Default)]
pub struct OverlayedChanges {
    main: ChangeSet,
    children: BTreeMap<Vec<u8>, ChangeSet>,
    offchain_index: ChangeSet,
    depth: usize,
}

impl OverlayedChanges {
    /// An empty overlay.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of open transactions.
    pub fn transaction_depth(&self) -> usize {
        self.depth
    }

    /// Opens a nested transaction.
    pub fn start_transaction(&mut self) {
        self.depth += 1;
    }

    /// Discards every change made since the last open transaction started.
    pub fn rollback_transaction(&mut self) -> Result<(), NoOpenTransaction> {
        if self.depth == 0 {
            return Err(NoOpenTransaction);
        }
        let depth = self.depth;
        self.main.rollback(depth);
        for child in self.children.values_mut() {
            child.rollback(depth);
        }
        self.offchain_index.rollback(depth);
        self.depth -= 1;
        Ok(())
    }

    /// Keeps the changes of the last open transaction, merging them into its parent.
    pub fn commit_transaction(&mut self) -> Result<(), NoOpenTransaction> {
        if self.depth == 0 {
            return Err(NoOpenTransaction);
        }
        let depth = self.depth;
        self.main.commit(depth);
        for child in self.children.values_mut() {
            child.commit(depth);
        }
        self.offchain_index.commit(depth);
        self.depth -= 1;
        Ok(())
    }

    /// The overlay's value for `key` of the main trie: `None` if untouched,
    /// `Some(None)` if deleted.
    pub fn storage(&self, key: &[u8]) -> Option<Option<&[u8]>> {
        self.main.get(key)
    }

    /// The overlay's value for `key` of a child trie.
    pub fn child_storage(&self, child_key: &[u8], key: &[u8]) -> Option<Option<&[u8]>> {
        self.children.get(child_key).and_then(|c| c.get(key))
    }

    /// Writes (or with `None` deletes) `key` of the main trie. Keys under
    /// `:child_storage:` are ignored, as in Substrate.
    pub fn set_storage(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        if key.starts_with(CHILD_STORAGE_KEY_PREFIX) {
            tracing::warn!(target: "runtime::storage", "refused to write a child storage key directly");
            return;
        }
        self.main.set(key, value, self.depth);
    }

    /// Writes (or deletes) `key` of a child trie.
    pub fn set_child_storage(&mut self, child_key: &[u8], key: Vec<u8>, value: Option<Vec<u8>>) {
        let depth = self.depth;
        self.child_set(child_key).set(key, value, depth);
    }

    fn child_set(&mut self, child_key: &[u8]) -> &mut ChangeSet {
        if !self.children.contains_key(child_key) {
            self.children.insert(child_key.to_vec(), ChangeSet::default());
        }
        self.children.get_mut(child_key).expect("inserted above")
    }

    /// Records an offchain-index write (`None` = clear).
    pub fn set_offchain_index(&mut self, key: Vec<u8>, value: Option<Vec<u8>>) {
        self.offchain_index.set(key, value, self.depth);
    }

    /// The changes as they stand (the latest value of every written key).
    pub fn changes(&self) -> StorageChanges {
        StorageChanges {
            main: self.main.snapshot(),
            children: self
                .children
                .iter()
                .map(|(k, c)| (k.clone(), c.snapshot()))
                .filter(|(_, c)| !c.is_empty())
                .collect(),
            offchain_index: self.offchain_index.snapshot(),
        }
    }

    // ---- Reads and writes combined with a backend (Substrate's `Ext`). ----

    /// Value of `key` in the main trie of backend + overlay.
    pub fn read(&self, backend: &dyn StateBackend, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        match self.main.get(key) {
            Some(value) => Ok(value.map(<[u8]>::to_vec)),
            None => backend.storage(key),
        }
    }

    /// Value of `key` in a child trie of backend + overlay.
    pub fn read_child(
        &self,
        backend: &dyn StateBackend,
        child_key: &[u8],
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        match self.child_storage(child_key, key) {
            Some(value) => Ok(value.map(<[u8]>::to_vec)),
            None => backend.child_storage(child_key, key),
        }
    }

    /// Whether `key` exists in the main trie of backend + overlay.
    pub fn exists(&self, backend: &dyn StateBackend, key: &[u8]) -> Result<bool, StateError> {
        Ok(self.read(backend, key)?.is_some())
    }

    /// First key after `key` in the main trie of backend + overlay.
    pub fn next_key(&self, backend: &dyn StateBackend, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        merged_next_key(self.main.iter_after(key), key, |k| backend.next_key(k))
    }

    /// First key after `key` in a child trie of backend + overlay.
    pub fn next_child_key(
        &self,
        backend: &dyn StateBackend,
        child_key: &[u8],
        key: &[u8],
    ) -> Result<Option<Vec<u8>>, StateError> {
        match self.children.get(child_key) {
            Some(child) => merged_next_key(child.iter_after(key), key, |k| backend.child_next_key(child_key, k)),
            None => backend.child_next_key(child_key, key),
        }
    }

    /// `ext_storage_append`: appends a SCALE-encoded item to the `Vec` stored at `key`.
    pub fn append(&mut self, backend: &dyn StateBackend, key: Vec<u8>, item: Vec<u8>) -> Result<(), StateError> {
        let current = self.read(backend, &key)?.unwrap_or_default();
        let appended = append_to_vec(current, &item);
        // Unlike `set`, Substrate's append does not refuse child storage keys.
        self.main.set(key, Some(appended), self.depth);
        Ok(())
    }

    /// `clear_prefix` on the main trie (see the module documentation).
    pub fn clear_prefix(
        &mut self,
        backend: &dyn StateBackend,
        prefix: &[u8],
        limit: Option<u32>,
    ) -> Result<RemovalResult, StateError> {
        let refused = if prefix.len() > CHILD_STORAGE_KEY_PREFIX.len() {
            prefix.starts_with(CHILD_STORAGE_KEY_PREFIX)
        } else {
            CHILD_STORAGE_KEY_PREFIX.starts_with(prefix)
        };
        if refused {
            tracing::warn!(target: "runtime::storage", "refused to clear a prefix covering child storage keys");
            return Ok(RemovalResult::default());
        }
        let depth = self.depth;
        self.main.clear_where(|k| k.starts_with(prefix), depth);
        let mut result = RemovalResult::default();
        let mut cursor = backend.storage(prefix)?.map(|_| prefix.to_vec());
        if cursor.is_none() {
            cursor = backend.next_key(prefix)?;
        }
        while let Some(key) = cursor.filter(|k| k.starts_with(prefix)) {
            if limit.is_some_and(|limit| result.loops == limit) {
                result.keys_remaining = true;
                break;
            }
            if !matches!(self.main.get(&key), Some(None)) {
                self.main.set(key.clone(), None, depth);
                result.backend = result.backend.saturating_add(1);
            }
            result.loops = result.loops.saturating_add(1);
            cursor = backend.next_key(&key)?;
        }
        Ok(result)
    }

    /// `clear_prefix` on a child trie; an empty prefix kills the whole child trie.
    pub fn clear_child_prefix(
        &mut self,
        backend: &dyn StateBackend,
        child_key: &[u8],
        prefix: &[u8],
        limit: Option<u32>,
    ) -> Result<RemovalResult, StateError> {
        let depth = self.depth;
        self.child_set(child_key).clear_where(|k| k.starts_with(prefix), depth);
        let mut result = RemovalResult::default();
        let mut cursor = backend.child_storage(child_key, prefix)?.map(|_| prefix.to_vec());
        if cursor.is_none() {
            cursor = backend.child_next_key(child_key, prefix)?;
        }
        while let Some(key) = cursor.filter(|k| k.starts_with(prefix)) {
            if limit.is_some_and(|limit| result.loops == limit) {
                result.keys_remaining = true;
                break;
            }
            let child = self.child_set(child_key);
            if !matches!(child.get(&key), Some(None)) {
                child.set(key.clone(), None, depth);
                result.backend = result.backend.saturating_add(1);
            }
            result.loops = result.loops.saturating_add(1);
            cursor = backend.child_next_key(child_key, &key)?;
        }
        Ok(result)
    }

    /// Deletes a whole child trie (up to `limit` backend keys).
    pub fn kill_child(
        &mut self,
        backend: &dyn StateBackend,
        child_key: &[u8],
        limit: Option<u32>,
    ) -> Result<RemovalResult, StateError> {
        self.clear_child_prefix(backend, child_key, &[], limit)
    }

    /// Root of a child trie of backend + overlay.
    pub fn child_storage_root(
        &self,
        backend: &dyn StateBackend,
        child_key: &[u8],
        version: StateVersion,
    ) -> Result<[u8; 32], StateError> {
        match self.children.get(child_key) {
            Some(child) => backend.child_storage_root(child_key, &child.delta(), version),
            None => backend.child_storage_root(child_key, &[], version),
        }
    }

    /// Root of the whole state (backend + overlay), child roots included.
    pub fn storage_root(&self, backend: &dyn StateBackend, version: StateVersion) -> Result<[u8; 32], StateError> {
        let mut child_entries: Vec<(Vec<u8>, Option<[u8; 32]>)> = Vec::with_capacity(self.children.len());
        for (child_key, child) in &self.children {
            let root = backend.child_storage_root(child_key, &child.delta(), version)?;
            let entry = (root != EMPTY_TRIE_ROOT).then_some(root);
            child_entries.push((child_storage_key(child_key), entry));
        }
        let mut delta: BTreeMap<&[u8], Option<&[u8]>> = self.main.delta().into_iter().collect();
        for (key, root) in &child_entries {
            debug_assert!(key.starts_with(CHILD_STORAGE_DEFAULT_PREFIX));
            delta.insert(key.as_slice(), root.as_ref().map(|r| &r[..]));
        }
        let delta: Vec<(&[u8], Option<&[u8]>)> = delta.into_iter().collect();
        backend.storage_root(&delta, version)
    }
}

/// Merges the overlay's keys after `key` (ascending, with values) with the
/// backend's next keys, skipping keys the overlay deleted.
fn merged_next_key<'a>(
    mut overlay: impl Iterator<Item = (&'a [u8], Option<&'a [u8]>)>,
    key: &[u8],
    backend_next: impl Fn(&[u8]) -> Result<Option<Vec<u8>>, StateError>,
) -> Result<Option<Vec<u8>>, StateError> {
    let mut backend_key = backend_next(key)?;
    let mut overlay_item = overlay.next();
    loop {
        match (&backend_key, overlay_item) {
            (None, None) => return Ok(None),
            (Some(b), None) => return Ok(Some(b.clone())),
            (b, Some((o_key, o_value))) => {
                let order = b.as_deref().map(|b| b.cmp(o_key));
                match order {
                    Some(std::cmp::Ordering::Less) => return Ok(backend_key),
                    Some(std::cmp::Ordering::Equal) => {
                        if o_value.is_some() {
                            return Ok(Some(o_key.to_vec()));
                        }
                        backend_key = backend_next(o_key)?;
                        overlay_item = overlay.next();
                    }
                    _ => {
                        if o_value.is_some() {
                            return Ok(Some(o_key.to_vec()));
                        }
                        overlay_item = overlay.next();
                    }
                }
            }
        }
    }
}

/// Appends a raw SCALE item to an encoded `Vec` (Substrate's `StorageAppend`):
/// an empty or undecodable current value becomes the one-item vector.
pub fn append_to_vec(mut current: Vec<u8>, item: &[u8]) -> Vec<u8> {
    let one_item = || {
        let mut v = Compact(1u32).encode();
        v.extend_from_slice(item);
        v
    };
    if current.is_empty() {
        return one_item();
    }
    let Ok(Compact(len)) = Compact::<u32>::decode(&mut &current[..]) else {
        tracing::error!(target: "runtime", "failed to append a value, resetting the storage item to `[value]`");
        return one_item();
    };
    let Some(new_len) = len.checked_add(1) else {
        tracing::error!(target: "runtime", "failed to append a value, resetting the storage item to `[value]`");
        return one_item();
    };
    let old_prefix = Compact::<u32>::compact_len(&len);
    current.splice(0..old_prefix, Compact(new_len).encode());
    current.extend_from_slice(item);
    current
}

/// A shared, thread-safe handle on a state.
pub type SharedState = Arc<dyn StateBackend>;

#[cfg(test)]
mod tests {
    use super::*;

    fn backend(entries: &[(&[u8], &[u8])]) -> InMemoryBackend {
        InMemoryBackend::new(entries.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect(), BTreeMap::new())
    }

    #[test]
    fn next_key_merges_overlay_and_backend() {
        let b = backend(&[(&[10], &[10]), (&[20], &[20]), (&[40], &[40])]);
        let mut o = OverlayedChanges::new();
        o.set_storage(vec![20], None);
        o.set_storage(vec![30], Some(vec![31]));
        assert_eq!(o.next_key(&b, &[5]).unwrap(), Some(vec![10]));
        assert_eq!(o.next_key(&b, &[10]).unwrap(), Some(vec![30]));
        assert_eq!(o.next_key(&b, &[20]).unwrap(), Some(vec![30]));
        assert_eq!(o.next_key(&b, &[30]).unwrap(), Some(vec![40]));
        o.set_storage(vec![50], Some(vec![50]));
        assert_eq!(o.next_key(&b, &[40]).unwrap(), Some(vec![50]));
        o.set_storage(vec![40], None);
        o.set_storage(vec![50], None);
        assert_eq!(o.next_key(&b, &[30]).unwrap(), None);
    }

    #[test]
    fn nested_transactions() {
        let b = InMemoryBackend::default();
        let mut o = OverlayedChanges::new();
        o.set_storage(b"a".to_vec(), Some(b"0".to_vec()));
        o.start_transaction();
        o.set_storage(b"a".to_vec(), Some(b"1".to_vec()));
        o.set_storage(b"b".to_vec(), Some(b"1".to_vec()));
        o.start_transaction();
        o.set_storage(b"a".to_vec(), Some(b"2".to_vec()));
        o.set_child_storage(b"c", b"x".to_vec(), Some(b"2".to_vec()));
        assert_eq!(o.read(&b, b"a").unwrap(), Some(b"2".to_vec()));
        o.rollback_transaction().unwrap();
        assert_eq!(o.read(&b, b"a").unwrap(), Some(b"1".to_vec()));
        assert_eq!(o.read_child(&b, b"c", b"x").unwrap(), None);
        o.start_transaction();
        o.set_storage(b"b".to_vec(), None);
        o.commit_transaction().unwrap();
        assert_eq!(o.read(&b, b"b").unwrap(), None);
        o.rollback_transaction().unwrap();
        assert_eq!(o.read(&b, b"a").unwrap(), Some(b"0".to_vec()));
        assert_eq!(o.read(&b, b"b").unwrap(), None);
        assert_eq!(o.storage(b"b"), None);
        assert_eq!(o.rollback_transaction(), Err(NoOpenTransaction));
        assert_eq!(o.commit_transaction(), Err(NoOpenTransaction));
        assert_eq!(o.changes().main.len(), 1);
    }

    #[test]
    fn clear_prefix_with_limit_counts_backend_keys() {
        let b = backend(&[(b"ab1", b"1"), (b"ab2", b"2"), (b"ab3", b"3"), (b"ac", b"4")]);
        let mut o = OverlayedChanges::new();
        o.set_storage(b"ab0".to_vec(), Some(b"0".to_vec()));
        let r = o.clear_prefix(&b, b"ab", Some(2)).unwrap();
        assert_eq!(r, RemovalResult { loops: 2, backend: 2, keys_remaining: true });
        assert_eq!(o.read(&b, b"ab0").unwrap(), None);
        assert_eq!(o.read(&b, b"ab3").unwrap(), Some(b"3".to_vec()));
        let r = o.clear_prefix(&b, b"ab", None).unwrap();
        assert_eq!(r, RemovalResult { loops: 3, backend: 1, keys_remaining: false });
        // Exactly `limit` keys left: all removed.
        let mut o = OverlayedChanges::new();
        assert!(!o.clear_prefix(&b, b"ab", Some(3)).unwrap().keys_remaining);
        // Prefixes covering child storage are refused.
        assert_eq!(o.clear_prefix(&b, b"", None).unwrap(), RemovalResult::default());
        assert_eq!(o.read(&b, b"ac").unwrap(), Some(b"4".to_vec()));
    }

    #[test]
    fn append_semantics() {
        assert_eq!(append_to_vec(vec![], &[7]), vec![4, 7]);
        assert_eq!(append_to_vec(vec![4, 7], &[8]), vec![8, 7, 8]);
        // Undecodable length (a 4-byte compact mode with too few bytes).
        assert_eq!(append_to_vec(vec![0b11], &[9]), vec![4, 9]);
        // 63 -> 64 items changes the compact length from 1 to 2 bytes.
        let mut v = Compact(63u32).encode();
        v.extend([1u8; 63]);
        let out = append_to_vec(v, &[1]);
        assert_eq!(Vec::<u8>::decode(&mut &out[..]).unwrap(), vec![1; 64]);
    }

    #[test]
    fn child_roots_enter_the_main_trie() {
        let b = InMemoryBackend::default();
        let mut o = OverlayedChanges::new();
        o.set_storage(b"k".to_vec(), Some(b"v".to_vec()));
        o.set_child_storage(b"child", b"ck".to_vec(), Some(b"cv".to_vec()));
        let child_root = weft_trie::trie_root(StateVersion::V1, [(b"ck", b"cv")]);
        let expected = weft_trie::trie_root(
            StateVersion::V1,
            [(b"k".to_vec(), b"v".to_vec()), (child_storage_key(b"child"), child_root.to_vec())],
        );
        assert_eq!(o.storage_root(&b, StateVersion::V1).unwrap(), expected);
        // Applying the changes gives a backend with the same root.
        let mut applied = b.clone();
        applied.apply(&o.changes(), StateVersion::V1);
        assert_eq!(applied.root(StateVersion::V1), expected);
        // Killing the child removes its root.
        let mut o2 = OverlayedChanges::new();
        o2.kill_child(&applied, b"child", None).unwrap();
        assert_eq!(
            o2.storage_root(&applied, StateVersion::V1).unwrap(),
            weft_trie::trie_root(StateVersion::V1, [(b"k", b"v")])
        );
        // Direct writes to child storage keys are ignored.
        o2.set_storage(child_storage_key(b"child"), Some(vec![1]));
        assert_eq!(o2.storage(&child_storage_key(b"child")), None);
    }
}

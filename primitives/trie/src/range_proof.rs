//! Range proofs of a whole state (top trie and default child tries): the proofs of
//! Substrate's state sync, `state/2` requests with `no_proof = false`.
//!
//! [`prove_range`] is `sp_state_machine::prove_range_read_with_child_with_size` followed by
//! the compact encoding of `Client::read_proof_collection`; [`verify_range`] is
//! `Client::verify_range_proof`, i.e. `sp_trie::decode_compact` and
//! `read_range_proof_check_with_child_on_proving_backend`. Both run the same walk over a
//! node store ([`NodeStore`]): the prover over the state, recording every node and hashed
//! value it reads, the verifier over the nodes of the proof.
//!
//! # The walk
//!
//! `start` holds at most two keys: none (from the beginning), a key of the top trie, or a
//! child trie's prefixed key (`:child_storage:default:` ++ key, read from the top trie)
//! followed by a key of that child trie. Iteration is exclusive of the start key, but, like
//! `trie-db`'s iterator which seeks to the start key and reads its pair before skipping it,
//! the walk reads the start key's value (a hashed value is part of the proof).
//!
//! The pairs of the trie being walked are read in key order. In the top trie, a key starting
//! with `:child_storage:` whose value is the root of a child trie not walked yet in this walk
//! (the child trie of the start keys counts as walked) switches to that child trie (it must
//! be a default child trie), iterated from its first key; when it is done, the top trie
//! resumes after that key. Other pairs are budgeted: the prover stops right after the first
//! pair whose reading takes the recorded proof's estimated size over the limit (that pair is
//! in the proof; child trie keys are never budgeted). The estimate is that of Substrate's
//! recorder: the SCALE size (length prefix and bytes) of every distinct node and hashed value
//! read so far.
//!
//! The verifier yields every pair it can read from the proof in the same order and stops at
//! the first node or hashed value missing from it (`stop_on_incomplete_database`), so it may
//! yield a few more pairs than the prover counted (those inline in nodes already read). It
//! reports the depth at which it stopped: 0 when the whole state was walked, 1 in the top
//! trie, 2 in a child trie (Substrate's "completed" depth).
//!
//! The proof is the [`CompactProof`] of the recorded nodes under the state root, child trie
//! nodes included after the top trie ([`encode_compact_from_store`]).

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};

use crate::compact::{decode_compact, encode_compact_from_store, CompactProof, CompactProofError};
use crate::db::{self, NodeStore, TrieDbError};
use crate::{blake2_256, TrieHasher, CHILD_STORAGE_DEFAULT_PREFIX};

/// Most start keys of a walk (Substrate's `MAX_NESTED_TRIE_DEPTH`): only one level of child
/// tries exists.
pub const MAX_NESTED_TRIE_DEPTH: usize = 2;

/// Prefix of the top-trie keys that lead into a child trie (Substrate's
/// `well_known_keys::CHILD_STORAGE_KEY_PREFIX`).
pub const CHILD_STORAGE_KEY_PREFIX: &[u8] = b":child_storage:";

/// One trie's part of a walk (Substrate's `KeyValueStorageLevel`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeLevel {
    /// `None` for the top trie, the child trie's root otherwise.
    pub child_root: Option<[u8; 32]>,
    /// The pairs read, in key order. The top trie's include the child trie keys.
    pub entries: Vec<(Vec<u8>, Vec<u8>)>,
    /// Whether this trie has no pair after the last one.
    pub complete: bool,
}

/// What a walk read: the top trie's level first (possibly empty), then one level per child
/// trie walked, in order; only the last level can be an incomplete child trie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeWalk {
    /// The levels.
    pub levels: Vec<RangeLevel>,
    /// Where the walk stopped: 0 when the whole state was walked, 1 in the top trie, 2 in the
    /// child trie of the last level.
    pub depth: usize,
}

impl RangeWalk {
    /// Whether the walk reached the end of the state.
    pub fn is_complete(&self) -> bool {
        self.depth == 0
    }

    /// Pairs read, all levels together.
    pub fn entry_count(&self) -> usize {
        self.levels.iter().map(|l| l.entries.len()).sum()
    }
}

/// A range proof built by [`prove_range`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RangeProof {
    /// The proof, as sent in `StateResponse.proof` (SCALE-encoded).
    pub proof: CompactProof,
    /// What the prover read (the verifier reads at least that).
    pub walked: RangeWalk,
    /// Distinct nodes and hashed values recorded.
    pub recorded_nodes: usize,
    /// Their estimated encoded size, compared with the size limit.
    pub recorded_size: usize,
}

/// Errors of range proofs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeProofError {
    /// More than [`MAX_NESTED_TRIE_DEPTH`] start keys.
    #[error("{0} start keys, at most 2 are allowed")]
    TooManyStartKeys(usize),
    /// The first of two start keys is not in the top trie.
    #[error("start key 0x{} names no child trie in the state", hex_short(.0))]
    UnknownChildTrie(Vec<u8>),
    /// A child trie key that does not start with `:child_storage:default:`.
    #[error("child storage key 0x{} is not a default child trie key", hex_short(.0))]
    InvalidChildStorageKey(Vec<u8>),
    /// A child trie root stored in the top trie is not 32 bytes.
    #[error("the root of child trie 0x{} is {len} bytes, expected 32", hex_short(.key))]
    BadChildRoot {
        /// The child trie's prefixed key.
        key: Vec<u8>,
        /// Length of the stored root.
        len: usize,
    },
    /// The verifier read more pairs than it was allowed to.
    #[error("the proof holds more than {0} pairs")]
    TooManyEntries(usize),
    /// Reading a trie failed (for the verifier: a malformed trie; a missing node only ends
    /// the walk, except on the way to the first start key).
    #[error("trie: {0}")]
    Trie(#[from] TrieDbError),
    /// Encoding or decoding the compact proof failed (for the verifier: the proof is
    /// malformed or not of the expected root).
    #[error("compact proof: {0}")]
    Compact(#[from] CompactProofError),
}

fn hex_short(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(40).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 40 {
        s.push('…');
    }
    s
}

/// SCALE size of a byte string of `len` bytes (compact length prefix included), the unit of
/// Substrate's proof size estimate.
pub fn encoded_item_size(len: usize) -> usize {
    let prefix = match len {
        0..=0x3f => 1,
        0x40..=0x3fff => 2,
        0x4000..=0x3fff_ffff => 4,
        _ => 1 + (usize::BITS as usize / 8 - len.leading_zeros() as usize / 8),
    };
    prefix + len
}

/// Records every item read from a store, with Substrate's size estimate.
struct Recorder<'a, S: ?Sized> {
    store: &'a S,
    nodes: RefCell<HashMap<[u8; 32], Vec<u8>>>,
    size: Cell<usize>,
}

impl<S: NodeStore + ?Sized> NodeStore for Recorder<'_, S> {
    fn node(&self, hash: &[u8; 32]) -> Result<Option<Cow<'_, [u8]>>, TrieDbError> {
        let node = self.store.node(hash)?;
        if let Some(bytes) = &node {
            let mut nodes = self.nodes.borrow_mut();
            if !nodes.contains_key(hash) {
                self.size.set(self.size.get().saturating_add(encoded_item_size(bytes.len())));
                nodes.insert(*hash, bytes.to_vec());
            }
        }
        Ok(node)
    }
}

/// Proves the walk of the state of `root` in `store` from `start` (see the module
/// documentation), stopping once the recorded proof's estimated size is over `size_limit`
/// (Substrate's state request handler passes 2 MiB).
///
/// Fails on more than two start keys, a first start key of two that is not in the top trie,
/// a child trie key that is not a default one (or whose root is not 32 bytes) on the way, and
/// any store error (a missing node: a pruned or corrupt state).
pub fn prove_range<S: NodeStore + ?Sized>(
    store: &S,
    root: &[u8; 32],
    start: &[Vec<u8>],
    size_limit: usize,
) -> Result<RangeProof, RangeProofError> {
    let recorder = Recorder { store, nodes: RefCell::new(HashMap::new()), size: Cell::new(0) };
    let over_limit = || recorder.size.get() > size_limit;
    let walked =
        walk(&recorder, root, start, &Rules { partial: false, over_limit: &over_limit, max_entries: usize::MAX })?;
    let recorded_size = recorder.size.get();
    let nodes = recorder.nodes.into_inner();
    let proof = encode_compact_from_store(TrieHasher::Blake2_256, &nodes, root)?;
    Ok(RangeProof { proof, walked, recorded_nodes: nodes.len(), recorded_size })
}

/// Verifies a range proof against the state root `root` for the walk from `start`, and
/// returns the pairs it proves and where the walk stopped (see the module documentation).
///
/// `proof` comes from the network: it is decoded with [`decode_compact`] (linear in its size,
/// rejected unless its top trie has root `root`), and the walk reads at most `max_entries`
/// pairs ([`RangeProofError::TooManyEntries`] beyond). A node missing from the proof ends the
/// walk, so a proof of some other range gives no pairs (or fails, when the proof lacks the
/// path to the first of two start keys); every pair returned is proven by `root`.
pub fn verify_range(
    proof: &CompactProof,
    root: &[u8; 32],
    start: &[Vec<u8>],
    max_entries: usize,
) -> Result<RangeWalk, RangeProofError> {
    if start.len() > MAX_NESTED_TRIE_DEPTH {
        return Err(RangeProofError::TooManyStartKeys(start.len()));
    }
    let (_, nodes) = decode_compact(proof, Some(root))?;
    let store: HashMap<[u8; 32], Vec<u8>> = nodes.into_iter().map(|n| (blake2_256(&n), n)).collect();
    walk(&store, root, start, &Rules { partial: true, over_limit: &|| false, max_entries })
}

/// How a walk treats its store.
struct Rules<'a> {
    /// Verifier: a node missing from the store ends the walk of a trie, which is then
    /// incomplete. Prover: it is an error.
    partial: bool,
    /// Prover: whether to stop after the budgeted pair just read.
    over_limit: &'a dyn Fn() -> bool,
    /// Most pairs read.
    max_entries: usize,
}

#[derive(PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

fn child_root(key: &[u8], value: &[u8]) -> Result<[u8; 32], RangeProofError> {
    if !key.starts_with(CHILD_STORAGE_DEFAULT_PREFIX) {
        return Err(RangeProofError::InvalidChildStorageKey(key.to_vec()));
    }
    <[u8; 32]>::try_from(value).map_err(|_| RangeProofError::BadChildRoot { key: key.to_vec(), len: value.len() })
}

/// The walk of the module documentation.
fn walk<S: NodeStore + ?Sized>(
    store: &S,
    top_root: &[u8; 32],
    start: &[Vec<u8>],
    rules: &Rules<'_>,
) -> Result<RangeWalk, RangeProofError> {
    if start.len() > MAX_NESTED_TRIE_DEPTH {
        return Err(RangeProofError::TooManyStartKeys(start.len()));
    }
    let mut child_roots: HashSet<[u8; 32]> = HashSet::new();
    // The child trie being walked (prefixed key, root), and the key to start after.
    let (mut child, mut start_at) = match start {
        [parent, child_start] => {
            let value =
                db::get(store, top_root, parent)?.ok_or_else(|| RangeProofError::UnknownChildTrie(parent.clone()))?;
            let root = child_root(parent, &value)?;
            child_roots.insert(root);
            (Some((parent.clone(), root)), Some(child_start.clone()))
        }
        _ => (None, start.first().cloned()),
    };
    let mut levels = vec![RangeLevel::default()];
    let mut read = 0usize;
    let depth = loop {
        let (root, depth) = match &child {
            Some((_, root)) => {
                levels.push(RangeLevel { child_root: Some(*root), ..RangeLevel::default() });
                (*root, 2)
            }
            None => (*top_root, 1),
        };
        let index = if depth == 1 { 0 } else { levels.len() - 1 };
        let mut switch = None;
        let complete = walk_trie(store, &root, start_at.as_deref(), rules.partial, &mut |key, value| {
            read += 1;
            if read > rules.max_entries {
                return Err(RangeProofError::TooManyEntries(rules.max_entries));
            }
            let flow = if depth < MAX_NESTED_TRIE_DEPTH && key.starts_with(CHILD_STORAGE_KEY_PREFIX) {
                let walked = <[u8; 32]>::try_from(value.as_slice()).is_ok_and(|r| child_roots.contains(&r));
                if walked {
                    Flow::Continue
                } else {
                    let root = child_root(&key, &value)?;
                    child_roots.insert(root);
                    switch = Some((key.clone(), root));
                    Flow::Stop
                }
            } else if (rules.over_limit)() {
                Flow::Stop
            } else {
                Flow::Continue
            };
            levels[index].entries.push((key, value));
            Ok(flow)
        })?;
        match switch {
            Some(next) => {
                child = Some(next);
                start_at = None;
            }
            None if !complete => break depth,
            None if depth == 1 => break 0,
            None => start_at = child.take().map(|(key, _)| key),
        }
    };
    let last = levels.len() - 1;
    for (i, level) in levels.iter_mut().enumerate() {
        level.complete = match i {
            0 => depth == 0,
            i => !(depth == 2 && i == last),
        };
    }
    Ok(RangeWalk { levels, depth })
}

/// Iterates over the pairs of the trie of `root` after `start` (all pairs, the empty key
/// included, without a start key), calling `visit` for each until it says stop. Returns
/// whether the trie has no pair after the last one visited: `false` when stopped, or when
/// (with `partial`) a node or hashed value is missing.
fn walk_trie<S: NodeStore + ?Sized>(
    store: &S,
    root: &[u8; 32],
    start: Option<&[u8]>,
    partial: bool,
    visit: &mut dyn FnMut(Vec<u8>, Vec<u8>) -> Result<Flow, RangeProofError>,
) -> Result<bool, RangeProofError> {
    // `Ok(None)`: a missing node, in a partial store.
    let read = |result: Result<Option<Vec<u8>>, TrieDbError>| match result {
        Ok(found) => Ok(Some(found)),
        Err(TrieDbError::MissingNode(_)) if partial => Ok(None),
        Err(e) => Err(RangeProofError::Trie(e)),
    };
    let mut cursor = Vec::new();
    match start {
        Some(start) => {
            // Read like the iterator does before skipping it.
            if read(db::get(store, root, start))?.is_none() {
                return Ok(false);
            }
            cursor.extend_from_slice(start);
        }
        // `next_key` is strictly after its argument: the empty key first.
        None => match read(db::get(store, root, &[]))? {
            None => return Ok(false),
            Some(Some(value)) => {
                if visit(Vec::new(), value)? == Flow::Stop {
                    return Ok(false);
                }
            }
            Some(None) => {}
        },
    }
    loop {
        let Some(next) = read(db::next_key(store, root, &cursor))? else {
            return Ok(false);
        };
        let Some(key) = next else {
            return Ok(true);
        };
        let Some(value) = read(db::get(store, root, &key))? else {
            return Ok(false);
        };
        let value = value.ok_or(TrieDbError::Store("a key found by next_key has no value".into()))?;
        if visit(key.clone(), value)? == Flow::Stop {
            return Ok(false);
        }
        cursor = key;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compact::encode_compact;
    use crate::{child_storage_key, StateVersion, EMPTY_TRIE_ROOT};
    use parity_scale_codec::{Compact, Encode};
    use std::collections::BTreeMap;

    type Map = BTreeMap<Vec<u8>, Vec<u8>>;
    type Store = HashMap<[u8; 32], Vec<u8>>;

    fn insert(store: &mut Store, version: StateVersion, pairs: &Map) -> [u8; 32] {
        let delta = pairs.iter().map(|(k, v)| (k.as_slice(), Some(v.as_slice())));
        let update = db::apply_delta(store, &EMPTY_TRIE_ROOT, delta, version).unwrap();
        store.extend(update.inserted);
        update.root
    }

    /// A V1 state: top keys on both sides of `:child_storage:`, values of 0 to 99 bytes
    /// (hashed from 33), and the child tries `alpha`, `beta` (same pairs as `alpha`) and
    /// `gamma`. Returns the store, the root, the top trie (with the child roots) and the
    /// child tries by prefixed key.
    fn state() -> (Store, [u8; 32], Map, BTreeMap<Vec<u8>, Map>) {
        let mut store = Store::new();
        let child = |n: u32, salt: u8| -> Map {
            (0..n)
                .map(|i| (format!("c{i:03}").into_bytes(), vec![salt.wrapping_add(i as u8); 1 + (i % 50) as usize]))
                .collect()
        };
        let mut children = BTreeMap::new();
        for (name, pairs) in [(&b"alpha"[..], child(40, 1)), (b"beta", child(40, 1)), (b"gamma", child(25, 9))] {
            children.insert(child_storage_key(name), pairs);
        }
        let mut top = Map::new();
        for i in 0..150u32 {
            top.insert(format!("key{i:04}").into_bytes(), vec![i as u8; (i % 100) as usize]);
        }
        top.insert(b":code".to_vec(), vec![7; 300]);
        top.insert(vec![1, 2, 3], b"early".to_vec());
        for (key, pairs) in &children {
            top.insert(key.clone(), insert(&mut store, StateVersion::V1, pairs).to_vec());
        }
        let root = insert(&mut store, StateVersion::V1, &top);
        (store, root, top, children)
    }

    /// Substrate's `KeyValueStates::update_last_key`, then the cursor of the next request.
    fn next_cursor(walk: &RangeWalk, cursor: &mut Vec<Vec<u8>>) {
        let top_last = walk.levels[0].entries.last().map(|e| e.0.clone());
        match walk.depth {
            1 => match top_last {
                Some(key) => *cursor = vec![key],
                None => cursor.truncate(1),
            },
            2 => {
                let child_last = walk.levels.last().unwrap().entries.last().unwrap().0.clone();
                let top = top_last.unwrap_or_else(|| cursor[0].clone());
                *cursor = vec![top, child_last];
            }
            _ => unreachable!(),
        }
    }

    /// Downloads the whole state by range proofs of `limit` bytes; returns the top trie, the
    /// child tries by root, and the number of proofs.
    fn download(store: &Store, root: &[u8; 32], limit: usize) -> (Map, BTreeMap<[u8; 32], Map>, usize) {
        let mut cursor = Vec::new();
        let mut top = Map::new();
        let mut children: BTreeMap<[u8; 32], Map> = BTreeMap::new();
        let mut complete_children = HashSet::new();
        for rounds in 1.. {
            assert!(rounds < 10_000);
            let proven = prove_range(store, root, &cursor, limit).unwrap();
            let walk = verify_range(&proven.proof, root, &cursor, usize::MAX).unwrap();
            // The verifier reads what the prover read, and maybe a few more inline pairs.
            assert_eq!(walk.levels.len(), proven.walked.levels.len());
            for (v, p) in walk.levels.iter().zip(&proven.walked.levels) {
                assert_eq!(v.child_root, p.child_root);
                assert!(v.entries.starts_with(&p.entries));
            }
            assert!(walk.depth <= proven.walked.depth);
            for level in &walk.levels {
                match level.child_root {
                    None => top.extend(level.entries.iter().cloned()),
                    Some(r) if !complete_children.contains(&r) => {
                        children.entry(r).or_default().extend(level.entries.iter().cloned());
                        if level.complete {
                            complete_children.insert(r);
                        }
                    }
                    Some(_) => {}
                }
            }
            if walk.is_complete() {
                return (top, children, rounds);
            }
            let before = cursor.clone();
            next_cursor(&walk, &mut cursor);
            assert_ne!(before, cursor, "no progress");
        }
        unreachable!()
    }

    #[test]
    fn whole_state_with_child_tries_by_any_limit() {
        let (store, root, top, children) = state();
        let mut rounds = Vec::new();
        for limit in [0, 1, 200, 1000, 5000, usize::MAX] {
            let (got_top, got_children, n) = download(&store, &root, limit);
            assert_eq!(got_top, top, "limit {limit}");
            assert_eq!(got_children.len(), 2, "alpha and beta share a root");
            for (key, pairs) in &children {
                let child_root: [u8; 32] = top[key].clone().try_into().unwrap();
                assert_eq!(&got_children[&child_root], pairs, "limit {limit}");
            }
            rounds.push(n);
        }
        println!("proofs needed by limit [0, 1, 200, 1000, 5000, max]: {rounds:?}");
        assert_eq!(rounds.last(), Some(&1));
        // Limit 0: one budgeted pair per proof (child trie keys are not budgeted), plus
        // the pairs inline in the nodes read.
        assert!(rounds[0] > top.len() / 2, "{rounds:?}");
    }

    /// The nodes a walk of a top-only trie reads up to its `n`th pair: the lookup paths of
    /// the start key and of the pairs (with hashed values).
    fn reference_nodes(store: &Store, root: &[u8; 32], start: Option<&[u8]>, keys: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut all: Vec<&[u8]> = start.into_iter().collect();
        all.push(&[]);
        all.extend_from_slice(keys);
        db::prove(store, root, &all).unwrap()
    }

    #[test]
    fn the_proof_stops_after_the_pair_that_crosses_the_limit() {
        let mut store = Store::new();
        let mut top = Map::new();
        for i in 0..300u32 {
            top.insert((i * 7919).to_be_bytes().to_vec(), vec![i as u8; (i % 90) as usize]);
        }
        let root = insert(&mut store, StateVersion::V1, &top);
        let keys: Vec<&[u8]> = top.keys().map(Vec::as_slice).collect();
        let size = |nodes: &[Vec<u8>]| nodes.iter().map(|n| encoded_item_size(n.len())).sum::<usize>();
        for start in [None, Some(keys[40]), Some(&[0x00, 0x01, 0x02][..])] {
            let after: Vec<&[u8]> = keys.iter().copied().filter(|k| start.map_or(true, |s| *k > s)).collect();
            for limit in [0, 500, 3000, 20_000] {
                let start_keys: Vec<Vec<u8>> = start.iter().map(|s| s.to_vec()).collect();
                let proven = prove_range(&store, &root, &start_keys, limit).unwrap();
                let n = proven.walked.levels[0].entries.len();
                assert!(n >= 1);
                let read = reference_nodes(&store, &root, start, &after[..n]);
                assert_eq!(proven.recorded_nodes, read.len());
                assert_eq!(proven.recorded_size, size(&read));
                // Same items as the reference, compacted the same way.
                assert_eq!(proven.proof, encode_compact(&root, &read).unwrap());
                if proven.walked.is_complete() {
                    assert_eq!(n, after.len());
                } else {
                    assert!(proven.recorded_size > limit);
                    // One pair fewer was within the limit.
                    assert!(n == 1 || size(&reference_nodes(&store, &root, start, &after[..n - 1])) <= limit);
                }
            }
        }
    }

    #[test]
    fn the_start_keys_value_is_in_the_proof() {
        let mut store = Store::new();
        let mut top = Map::new();
        for i in 0u8..20 {
            top.insert(vec![i, i], vec![i; 40]);
        }
        let root = insert(&mut store, StateVersion::V1, &top);
        let start = vec![vec![5u8, 5]];
        let proven = prove_range(&store, &root, &start, 0).unwrap();
        // The start key's hashed value and the next pair's.
        let (_, nodes) = decode_compact(&proven.proof, Some(&root)).unwrap();
        assert!(nodes.contains(&vec![5; 40]) && nodes.contains(&vec![6; 40]));
        let walk = verify_range(&proven.proof, &root, &start, usize::MAX).unwrap();
        assert_eq!(walk.levels[0].entries, vec![(vec![6, 6], vec![6; 40])]);
        assert_eq!(walk.depth, 1);

        // Without the start key's value the verifier stops right away, as `trie-db`'s
        // iterator does: no pair.
        let (_, nodes) = decode_compact(&proven.proof, None).unwrap();
        let nodes: Vec<Vec<u8>> = nodes.into_iter().filter(|n| *n != vec![5; 40]).collect();
        let lacking = encode_compact(&root, &nodes).unwrap();
        let walk = verify_range(&lacking, &root, &start, usize::MAX).unwrap();
        assert!(walk.levels[0].entries.is_empty() && walk.depth == 1);
    }

    #[test]
    fn child_tries_with_a_walked_root_are_skipped() {
        let (store, root, top, _) = state();
        let alpha = child_storage_key(b"alpha");
        let beta = child_storage_key(b"beta");
        let gamma = child_storage_key(b"gamma");
        let roots = |walk: &RangeWalk| walk.levels.iter().map(|l| l.child_root).collect::<Vec<_>>();
        let root_of = |key: &Vec<u8>| Some(<[u8; 32]>::try_from(top[key].as_slice()).unwrap());

        let whole = prove_range(&store, &root, &[], usize::MAX).unwrap();
        assert!(whole.walked.is_complete());
        assert_eq!(roots(&whole.walked), [None, root_of(&alpha), root_of(&gamma)]);
        assert_eq!(verify_range(&whole.proof, &root, &[], usize::MAX).unwrap(), whole.walked);
        // Alpha's partial trie is in the compact proof twice, as sp-trie encodes it (once
        // per child trie key reached).
        let alpha_trie =
            encode_compact_from_store(TrieHasher::Blake2_256, &store, &top[&alpha].clone().try_into().unwrap())
                .unwrap()
                .encoded_nodes;
        let count = whole.proof.encoded_nodes.windows(alpha_trie.len()).filter(|w| *w == &alpha_trie[..]).count();
        assert_eq!(count, 2);

        // From inside alpha: beta has alpha's root, walked already.
        let start = vec![alpha.clone(), b"c009".to_vec()];
        let proven = prove_range(&store, &root, &start, usize::MAX).unwrap();
        assert_eq!(roots(&proven.walked), [None, root_of(&alpha), root_of(&gamma)]);
        assert_eq!(proven.walked.levels[1].entries.len(), 30);
        assert!(proven.walked.levels[0].entries.iter().any(|(k, _)| *k == beta));
        assert_eq!(verify_range(&proven.proof, &root, &start, usize::MAX).unwrap(), proven.walked);
    }

    #[test]
    fn verification_rejects_what_it_cannot_trust() {
        let (store, root, _, _) = state();
        let proven = prove_range(&store, &root, &[], 2000).unwrap();
        let walk = verify_range(&proven.proof, &root, &[], usize::MAX).unwrap();
        // The prover stopped at alpha's last pair; the verifier sees that alpha is complete,
        // but not what follows it in the top trie.
        assert_eq!((proven.walked.levels.len(), proven.walked.depth), (2, 2));
        assert_eq!((walk.levels.len(), walk.depth), (2, 1));
        assert!(walk.levels[1].complete && walk.levels[1].entries == proven.walked.levels[1].entries);

        // Another root, a flipped byte in any item, an item left out, an item added.
        assert!(matches!(
            verify_range(&proven.proof, &[1; 32], &[], usize::MAX),
            Err(RangeProofError::Compact(CompactProofError::RootMismatch { .. }))
        ));
        for i in 0..proven.proof.encoded_nodes.len() {
            let mut flipped = proven.proof.clone();
            let item = &mut flipped.encoded_nodes[i];
            let at = item.len() / 2;
            item[at] ^= 0x10;
            assert!(verify_range(&flipped, &root, &[], usize::MAX).is_err(), "item {i} flipped");
            let mut dropped = proven.proof.clone();
            dropped.encoded_nodes.remove(i);
            assert!(verify_range(&dropped, &root, &[], usize::MAX).is_err(), "item {i} dropped");
        }
        let mut extra = proven.proof.clone();
        extra.encoded_nodes.push(vec![0]);
        assert!(verify_range(&extra, &root, &[], usize::MAX).is_err());
        assert!(matches!(
            verify_range(&CompactProof::default(), &root, &[], usize::MAX),
            Err(RangeProofError::Compact(_))
        ));

        // Start keys the proof does not cover: no pair (or an error on the way to a child
        // trie key).
        let late = vec![b"key0140".to_vec()];
        let walk = verify_range(&proven.proof, &root, &late, usize::MAX).unwrap();
        assert_eq!((walk.entry_count(), walk.depth), (0, 1));
        let in_gamma = vec![child_storage_key(b"gamma"), b"c001".to_vec()];
        assert!(matches!(verify_range(&proven.proof, &root, &in_gamma, usize::MAX), Err(RangeProofError::Trie(_))));

        // Bounds and bad start keys.
        assert!(matches!(verify_range(&proven.proof, &root, &[], 3), Err(RangeProofError::TooManyEntries(3))));
        assert!(matches!(
            verify_range(&proven.proof, &root, &[vec![], vec![], vec![]], usize::MAX),
            Err(RangeProofError::TooManyStartKeys(3))
        ));
        assert!(matches!(
            prove_range(&store, &root, &[child_storage_key(b"delta"), vec![]], 0),
            Err(RangeProofError::UnknownChildTrie(_))
        ));
        assert!(matches!(
            prove_range(&store, &root, &[b":code".to_vec(), vec![]], 0),
            Err(RangeProofError::InvalidChildStorageKey(_))
        ));
        // A pruned state.
        let mut pruned = store.clone();
        pruned.remove(&root);
        assert!(matches!(prove_range(&pruned, &root, &[], 0), Err(RangeProofError::Trie(_))));
    }

    #[test]
    fn empty_key_and_empty_state() {
        let mut store = Store::new();
        let mut top = Map::new();
        top.insert(Vec::new(), b"empty key".to_vec());
        top.insert(b"a".to_vec(), b"1".to_vec());
        let root = insert(&mut store, StateVersion::V0, &top);
        let proven = prove_range(&store, &root, &[], usize::MAX).unwrap();
        let walk = verify_range(&proven.proof, &root, &[], usize::MAX).unwrap();
        assert_eq!(walk.levels[0].entries, top.clone().into_iter().collect::<Vec<_>>());
        // An empty start key is exclusive.
        let walk = verify_range(&proven.proof, &root, &[vec![]], usize::MAX).unwrap();
        assert_eq!(walk.levels[0].entries, vec![(b"a".to_vec(), b"1".to_vec())]);

        let empty = prove_range(&Store::new(), &EMPTY_TRIE_ROOT, &[], 0).unwrap();
        assert_eq!(empty.proof.encoded_nodes, vec![vec![0u8]]);
        let walk = verify_range(&empty.proof, &EMPTY_TRIE_ROOT, &[], 0).unwrap();
        assert!(walk.is_complete() && walk.entry_count() == 0);
    }

    #[test]
    fn item_sizes_are_scale_sizes() {
        for len in [0usize, 1, 63, 64, 16383, 16384, 1 << 20, (1 << 30) - 1, 1 << 30] {
            assert_eq!(encoded_item_size(len), Compact(len as u64).encoded_size() + len, "{len}");
        }
    }
}

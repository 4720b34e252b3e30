//! Substrate's compact storage proofs (`sp_trie::CompactProof`), the proof format of the
//! state/2 request-response protocol (`StateResponse.proof`) and of parachain PoVs.
//!
//! This module owns the [`CompactProof`] type (a SCALE `Vec<Vec<u8>>`, with a size-bounded
//! decoder for untrusted bytes), its encoder ([`encode_compact`], from a regular storage
//! proof) and its decoder ([`decode_compact`], back to the full nodes and the root). It
//! relies on the node codec of this crate and knows nothing of where proofs come from.
//!
//! # Format (`trie-db`'s `trie_codec` plus `sp-trie`'s child-trie handling)
//!
//! A compact proof lists the nodes of a partial trie in pre-order (a node, then the subtries
//! of its children by increasing nibble), each node in a modified form:
//!
//! - a reference to a child whose node is itself in the proof (a 32-byte hash reference to
//!   a node present in the proof) is replaced by an empty reference (compact length `0`):
//!   the decoder recomputes it from the child's subtrie, which follows. Inline children and
//!   references to nodes outside the proof are kept as they are;
//! - a node whose value is stored out of line (hashed value, [`StateVersion::V1`](crate::StateVersion::V1))
//!   while the value itself is in the proof is written with the escape byte
//!   [`ESCAPE_COMPACT_HEADER`] (`0x01`) in front, as a node with an empty *inline* value,
//!   and is directly followed by the value as an item of its own. A hashed value that is not
//!   in the proof keeps its hash reference.
//!
//! The top trie comes first. Then, for each key of the top trie under
//! `:child_storage:default:` that the proof reaches (in key order), the compact form of that
//! child trie follows if its root node is in the proof. Node and value encodings are the
//! same in both state versions (a V0 trie simply has no hashed value), so one format serves
//! both, as `sp-trie` does by always compacting with `LayoutV1`.
//!
//! The encoder reproduces `trie_db::encode_compact` (not the optional de-duplicating variant
//! `encode_compact_skip_duplicates`) item for item, so its output is byte-identical to what a
//! Substrate node sends. The decoder accepts both variants: a hash reference left in place by
//! the de-duplicating encoder is simply a reference to a node outside the current subtrie.
//!
//! The decoder is stricter than `trie-db` in a few ways that no honest encoder can trip:
//! it rejects trailing bytes in a node, an escape byte on a node that does not carry an
//! empty inline value, an empty node or an omitted reference to a node shorter than 32
//! bytes below the root, and inline children that do not decode. It never panics, and its
//! work is linear in the size of the proof.

use crate::codec::{decode_node, DecodedNode, NodeDecodeError, NodeValue};
use crate::db::{NodeStore, TrieDbError};
use crate::encoder::MerkleValue;
use crate::proof::{ProofError, StorageProof};
use crate::{nibbles, TrieHasher, CHILD_STORAGE_DEFAULT_PREFIX};
use parity_scale_codec::{Compact, Decode, Encode};
use std::borrow::Cow;
use std::collections::HashMap;

/// Escape byte put in front of a node whose out-of-line value follows it in a compact proof
/// (`trie_constants::ESCAPE_COMPACT_HEADER` of `sp-trie`). It is not a valid node header.
pub const ESCAPE_COMPACT_HEADER: u8 = 0x01;

/// A storage proof in compact form (`sp_trie::CompactProof`): the SCALE encoding is that of
/// a `Vec<Vec<u8>>`.
///
/// The derived [`Decode`] does not allocate more than the input holds, but reads input of
/// any size: use [`CompactProof::decode_bounded`] for bytes from the network.
#[derive(Debug, Clone, Default, PartialEq, Eq, Encode, Decode)]
pub struct CompactProof {
    /// The compact items: modified trie nodes and detached values, in proof order.
    pub encoded_nodes: Vec<Vec<u8>>,
}

impl CompactProof {
    /// Decodes the SCALE encoding of a compact proof, rejecting input larger than `max_size`
    /// bytes and any trailing byte. Allocations are bounded by the size of the input.
    pub fn decode_bounded(bytes: &[u8], max_size: usize) -> Result<Self, CompactProofError> {
        if bytes.len() > max_size {
            return Err(CompactProofError::TooLarge { size: bytes.len(), max: max_size });
        }
        let mut input = bytes;
        let count = read_compact_len(&mut input)?;
        // Every item takes at least one byte (its length prefix): bounds the allocation.
        if count > input.len() {
            return Err(CompactProofError::InvalidFormat);
        }
        let mut encoded_nodes = Vec::with_capacity(count);
        for _ in 0..count {
            let len = read_compact_len(&mut input)?;
            if len > input.len() {
                return Err(CompactProofError::InvalidFormat);
            }
            let (item, rest) = input.split_at(len);
            encoded_nodes.push(item.to_vec());
            input = rest;
        }
        if !input.is_empty() {
            return Err(CompactProofError::InvalidFormat);
        }
        Ok(CompactProof { encoded_nodes })
    }

    /// Iterates over the compact items.
    pub fn iter_compact_encoded_nodes(&self) -> impl ExactSizeIterator<Item = &[u8]> {
        self.encoded_nodes.iter().map(Vec::as_slice)
    }

    /// Rebuilds the full nodes (blake2b-256) as a [`StorageProof`], with the root they prove.
    /// See [`decode_compact`].
    pub fn to_storage_proof(
        &self,
        expected_root: Option<&[u8; 32]>,
    ) -> Result<(StorageProof, [u8; 32]), CompactProofError> {
        let (root, nodes) = decode_compact(self, expected_root)?;
        Ok((StorageProof::from_nodes(nodes)?, root))
    }
}

fn read_compact_len(input: &mut &[u8]) -> Result<usize, CompactProofError> {
    let n = Compact::<u32>::decode(input).map_err(|_| CompactProofError::InvalidFormat)?.0;
    usize::try_from(n).map_err(|_| CompactProofError::InvalidFormat)
}

/// Errors of compact proof encoding and decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CompactProofError {
    /// The encoded proof is larger than the accepted maximum.
    #[error("compact proof of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Size of the proof.
        size: usize,
        /// Limit.
        max: usize,
    },
    /// The bytes are not a SCALE `Vec<Vec<u8>>`.
    #[error("compact proof is not a valid SCALE-encoded list of byte strings")]
    InvalidFormat,
    /// Encoding: the root node is not in the proof.
    #[error("root node 0x{} is not in the proof", hex_short(.0))]
    MissingRoot([u8; 32]),
    /// Encoding: a node of the proof (or an inline node in it) does not decode.
    #[error("proof node 0x{} is malformed: {error}", hex_short(.hash))]
    InvalidNode {
        /// Hash of the node (of the stored node containing it, for an inline node).
        hash: [u8; 32],
        /// The decoding error.
        error: NodeDecodeError,
    },
    /// Encoding: an item of the proof store does not hash to the key it is stored under.
    #[error("proof item stored under 0x{} does not hash to it", hex_short(.0))]
    HashMismatch([u8; 32]),
    /// Decoding: an item is not a valid compact node (or contains an invalid inline node).
    #[error("item {index} of the compact proof is malformed: {error}")]
    InvalidItem {
        /// Position of the item.
        index: usize,
        /// The decoding error.
        error: NodeDecodeError,
    },
    /// Decoding: an escaped node that does not carry an empty inline value.
    #[error("item {index} of the compact proof is escaped but has no empty inline value")]
    InvalidEscape {
        /// Position of the item.
        index: usize,
    },
    /// Decoding: the empty node (or an empty inline node) below the root of a trie.
    #[error("item {index} of the compact proof holds an empty node below the root")]
    EmptyNodeBelowRoot {
        /// Position of the item.
        index: usize,
    },
    /// Decoding: an omitted child reference whose node is shorter than a hash (it would be
    /// inline in its parent, so it cannot be omitted).
    #[error("item {index} of the compact proof is shorter than a hash but was omitted from its parent")]
    InlineNodeOmitted {
        /// Position of the item.
        index: usize,
    },
    /// Decoding: the items end before a trie (or a detached value) is complete.
    #[error("the compact proof ends before its trie is complete")]
    IncompleteProof,
    /// Decoding: the top trie's root differs from the expected root.
    #[error("compact proof root 0x{} does not match the expected root 0x{}", hex_short(.computed), hex_short(.expected))]
    RootMismatch {
        /// Root rebuilt from the proof.
        computed: [u8; 32],
        /// Root expected by the caller.
        expected: [u8; 32],
    },
    /// A value under `:child_storage:default:` in the top trie is not a 32-byte root.
    #[error("value of {len} bytes under child-trie key 0x{}, expected a 32-byte root", hex_short(.key))]
    InvalidChildRoot {
        /// The top-trie key.
        key: Vec<u8>,
        /// Length of its value.
        len: usize,
    },
    /// A value under `:child_storage:default:` is stored at an odd number of nibbles
    /// (corrupt trie).
    #[error("value stored at a key with an odd number of nibbles")]
    OddKey,
    /// Decoding: a child trie in the proof whose root is not referenced by the top trie.
    #[error("compact proof of child trie 0x{} whose root is not in the top trie", hex_short(.0))]
    ExtraneousChildProof([u8; 32]),
    /// Decoding: items left after the top trie and the child tries it references.
    #[error("{0} extraneous items after the last trie of the compact proof")]
    ExtraneousNodes(usize),
    /// Decoding: enumerating the child-trie roots would visit more nodes than the size of the
    /// proof can justify (hash references that make the trie exponentially large).
    #[error("the compact proof's child-trie roots take too many steps to enumerate")]
    TooComplex,
    /// The node store failed.
    #[error(transparent)]
    Store(#[from] TrieDbError),
    /// The rebuilt nodes do not form a [`StorageProof`].
    #[error(transparent)]
    Proof(#[from] ProofError),
}

/// The first bytes of `bytes` in hex, for error messages.
fn hex_short(bytes: &[u8]) -> String {
    let mut s: String = bytes.iter().take(8).map(|b| format!("{b:02x}")).collect();
    if bytes.len() > 8 {
        s.push('…');
    }
    s
}

// ------------------------------------------------------------------------------------------
// Encoding
// ------------------------------------------------------------------------------------------

/// A proof given as a list of items, keyed by their hash.
struct SliceStore<'a>(HashMap<[u8; 32], &'a [u8]>);

impl NodeStore for SliceStore<'_> {
    fn node(&self, hash: &[u8; 32]) -> Result<Option<Cow<'_, [u8]>>, TrieDbError> {
        Ok(self.0.get(hash).map(|v| Cow::Borrowed(*v)))
    }
}

/// Compact form of the regular storage proof `proof_nodes` (trie nodes and hashed values, in
/// any order, duplicates allowed) of the trie of `root`, blake2b-256. See
/// [`encode_compact_with`].
pub fn encode_compact<P: AsRef<[u8]>>(root: &[u8; 32], proof_nodes: &[P]) -> Result<CompactProof, CompactProofError> {
    encode_compact_with(TrieHasher::Blake2_256, root, proof_nodes)
}

/// Compact form of the regular storage proof `proof_nodes` (trie nodes and hashed values, in
/// any order, duplicates allowed) of the trie of `root`, under `hasher`: the output of
/// `sp_trie::encode_compact` for the same proof, including the child tries whose roots the
/// proof reaches under `:child_storage:default:`.
///
/// Items that no trie of the proof reaches are left out. Fails if the root node is not in
/// the proof (unless `root` is the empty trie's root) or if a reachable node is malformed.
pub fn encode_compact_with<P: AsRef<[u8]>>(
    hasher: TrieHasher,
    root: &[u8; 32],
    proof_nodes: &[P],
) -> Result<CompactProof, CompactProofError> {
    let store = SliceStore(proof_nodes.iter().map(|n| (hasher.hash(n.as_ref()), n.as_ref())).collect());
    encode_compact_from_store(hasher, &store, root)
}

/// Compact form of the partial trie of `root` held by `store` (a content-addressed store
/// under `hasher`, such as the nodes of a storage proof), as [`encode_compact_with`].
///
/// Every node and hashed value reachable from `root` in the store is included, so the store
/// should only hold the proof: over a full database this encodes the whole state. Items are
/// checked against the hash they are stored under.
pub fn encode_compact_from_store<S: NodeStore + ?Sized>(
    hasher: TrieHasher,
    store: &S,
    root: &[u8; 32],
) -> Result<CompactProof, CompactProofError> {
    let root_bytes = stored_root(hasher, store, root)?.ok_or(CompactProofError::MissingRoot(*root))?;
    let child_roots = child_trie_roots(root_bytes.clone(), *root, usize::MAX, |h| fetch_checked(hasher, store, h))?;
    let mut out = Vec::new();
    encode_trie(hasher, store, root_bytes, *root, &mut out)?;
    for child_root in child_roots {
        // Like `sp-trie`: the proof may hold a child root without the child trie's nodes.
        if let Some(bytes) = stored_root(hasher, store, &child_root)? {
            encode_trie(hasher, store, bytes, child_root, &mut out)?;
        }
    }
    Ok(CompactProof { encoded_nodes: out })
}

/// The root node of `root`: the empty node for the empty trie's root (as a `MemoryDB`
/// always has it), otherwise what the store holds.
fn stored_root<'s, S: NodeStore + ?Sized>(
    hasher: TrieHasher,
    store: &'s S,
    root: &[u8; 32],
) -> Result<Option<Cow<'s, [u8]>>, CompactProofError> {
    if *root == hasher.empty_root() {
        return Ok(Some(Cow::Owned(vec![0])));
    }
    fetch_checked(hasher, store, root)
}

fn fetch_checked<'s, S: NodeStore + ?Sized>(
    hasher: TrieHasher,
    store: &'s S,
    hash: &[u8; 32],
) -> Result<Option<Cow<'s, [u8]>>, CompactProofError> {
    match store.node(hash)? {
        Some(bytes) if hasher.hash(&bytes) != *hash => Err(CompactProofError::HashMismatch(*hash)),
        other => Ok(other),
    }
}

/// A node of the trie being encoded whose subtries are not all emitted yet.
struct EncodeFrame<'s> {
    bytes: Cow<'s, [u8]>,
    hash: [u8; 32],
    /// Where its compact form goes in the output.
    out_index: usize,
    /// Children whose reference is omitted (bit `i` for child `i`).
    omitted: u16,
    /// Whether its value is detached (emitted after it).
    detached_value: bool,
    /// Next child to look at.
    next_child: usize,
}

fn decode_stored<'b>(bytes: &'b [u8], hash: &[u8; 32]) -> Result<DecodedNode<'b>, CompactProofError> {
    decode_node(bytes).map_err(|error| CompactProofError::InvalidNode { hash: *hash, error })
}

/// Why an inline child is rejected.
enum InlineError {
    Decode(NodeDecodeError),
    EmptyNode,
}

/// Checks that an inline child reference decodes as a node, recursively (it is part of the
/// trie walked by `trie-db`'s encoder, which fails on undecodable inline nodes). With
/// `reject_empty`, the empty node is refused as well.
fn check_inline(reference: &[u8], reject_empty: bool) -> Result<(), InlineError> {
    let node = decode_node(reference).map_err(InlineError::Decode)?;
    if reject_empty && node.is_empty() {
        return Err(InlineError::EmptyNode);
    }
    for child in node.children.iter().flatten() {
        if child.len() >= 32 {
            // Cannot happen in fewer than 32 bytes; kept for totality.
            return Err(InlineError::Decode(NodeDecodeError::ChildReferenceTooLong(child.len())));
        }
        check_inline(child, reject_empty)?;
    }
    Ok(())
}

/// Appends the compact form of the trie whose root node is `root_bytes` to `out`, in
/// pre-order, as `trie_db::encode_compact` does.
fn encode_trie<'s, S: NodeStore + ?Sized>(
    hasher: TrieHasher,
    store: &'s S,
    root_bytes: Cow<'s, [u8]>,
    root: [u8; 32],
    out: &mut Vec<Vec<u8>>,
) -> Result<(), CompactProofError> {
    let mut stack: Vec<EncodeFrame<'s>> = Vec::new();
    push_encode_frame(hasher, store, root_bytes, root, out, &mut stack)?;
    while let Some(top) = stack.last_mut() {
        let node = decode_stored(&top.bytes, &top.hash)?;
        let mut descend = None;
        while top.next_child < 16 {
            let i = top.next_child;
            top.next_child += 1;
            let Some(reference) = node.children[i] else { continue };
            match <[u8; 32]>::try_from(reference) {
                Ok(child_hash) => {
                    // A missing node keeps its hash reference (incomplete partial trie).
                    if let Some(child) = fetch_checked(hasher, store, &child_hash)? {
                        top.omitted |= 1 << i;
                        descend = Some((child, child_hash));
                        break;
                    }
                }
                Err(_) => check_inline(reference, false).map_err(|e| match e {
                    InlineError::Decode(error) => CompactProofError::InvalidNode { hash: top.hash, error },
                    // Not requested: the empty node is accepted here, as by `trie-db`.
                    InlineError::EmptyNode => {
                        CompactProofError::InvalidNode { hash: top.hash, error: NodeDecodeError::Empty }
                    }
                })?,
            }
        }
        match descend {
            Some((child, child_hash)) => push_encode_frame(hasher, store, child, child_hash, out, &mut stack)?,
            None => {
                if let Some(frame) = stack.pop() {
                    let compact = compact_node(&frame)?;
                    if let Some(slot) = out.get_mut(frame.out_index) {
                        *slot = compact;
                    }
                }
            }
        }
    }
    Ok(())
}

fn push_encode_frame<'s, S: NodeStore + ?Sized>(
    hasher: TrieHasher,
    store: &'s S,
    bytes: Cow<'s, [u8]>,
    hash: [u8; 32],
    out: &mut Vec<Vec<u8>>,
    stack: &mut Vec<EncodeFrame<'s>>,
) -> Result<(), CompactProofError> {
    let node = decode_stored(&bytes, &hash)?;
    let out_index = out.len();
    // Placeholder, filled once the node's subtries are emitted.
    out.push(Vec::new());
    let mut detached_value = false;
    if let NodeValue::Hashed(value_hash) = node.value {
        if let Some(value) = fetch_checked(hasher, store, value_hash)? {
            out.push(value.into_owned());
            detached_value = true;
        }
    }
    stack.push(EncodeFrame { bytes, hash, out_index, omitted: 0, detached_value, next_child: 0 });
    Ok(())
}

/// The compact form of a node: omitted children as empty references, a detached value as
/// an empty inline value behind the escape byte.
fn compact_node(frame: &EncodeFrame<'_>) -> Result<Vec<u8>, CompactProofError> {
    let mut node = decode_stored(&frame.bytes, &frame.hash)?;
    for (i, child) in node.children.iter_mut().enumerate() {
        if frame.omitted & (1 << i) != 0 {
            *child = Some(&[]);
        }
    }
    if frame.detached_value {
        node.value = NodeValue::Inline(&[]);
        let encoded = node.encode();
        let mut escaped = Vec::with_capacity(encoded.len() + 1);
        escaped.push(ESCAPE_COMPACT_HEADER);
        escaped.extend_from_slice(&encoded);
        Ok(escaped)
    } else {
        Ok(node.encode())
    }
}

// ------------------------------------------------------------------------------------------
// Child tries
// ------------------------------------------------------------------------------------------

/// A node to visit when enumerating child-trie roots.
struct ScanItem<'s> {
    bytes: Cow<'s, [u8]>,
    /// Length of its parent's path (the nibbles before the parent's children).
    parent_path_len: usize,
    /// Its index in its parent (none for the root).
    nibble: Option<u8>,
    /// Hash of the stored node (of the one holding it, for an inline node).
    hash: [u8; 32],
}

/// Roots of the default child tries found in the partial trie of `root`: the values of the
/// keys under `:child_storage:default:` that the proof reaches, in key order (what `sp-trie`
/// gets by seeking to the prefix and iterating, skipping the parts missing from the proof).
///
/// Only the nodes on the way to the prefix and below it are visited. `budget` bounds the
/// total size of the nodes visited: hash references can make a partial trie exponentially
/// larger than the proof that describes it.
fn child_trie_roots<'s, F>(
    root_bytes: Cow<'s, [u8]>,
    root: [u8; 32],
    mut budget: usize,
    mut lookup: F,
) -> Result<Vec<[u8; 32]>, CompactProofError>
where
    F: FnMut(&[u8; 32]) -> Result<Option<Cow<'s, [u8]>>, CompactProofError>,
{
    let prefix = nibbles::from_bytes(CHILD_STORAGE_DEFAULT_PREFIX);
    let compatible = |path: &[u8]| {
        let n = path.len().min(prefix.len());
        path[..n] == prefix[..n]
    };
    let mut roots = Vec::new();
    // Pre-order walk sharing one path buffer: when an item is popped, everything visited
    // since it was pushed lies below its parent, so the parent's path is still in place.
    let mut path: Vec<u8> = Vec::new();
    let mut stack = vec![ScanItem { bytes: root_bytes, parent_path_len: 0, nibble: None, hash: root }];
    while let Some(item) = stack.pop() {
        budget = budget.checked_sub(item.bytes.len().saturating_add(1)).ok_or(CompactProofError::TooComplex)?;
        let node = decode_stored(&item.bytes, &item.hash)?;
        path.truncate(item.parent_path_len);
        path.extend(item.nibble);
        path.extend(node.partial_key.iter());
        if !compatible(&path) {
            continue;
        }
        if path.len() >= prefix.len() && node.value.is_some() {
            let value = match node.value {
                NodeValue::Inline(v) => Some(Cow::Borrowed(v)),
                // A hashed value missing from the proof is skipped, as `trie-db`'s iterator
                // reports it as an incomplete-database error that `sp-trie` ignores.
                NodeValue::Hashed(h) => lookup(h)?,
                NodeValue::None => None,
            };
            if let Some(value) = value {
                let key = nibbles::to_bytes(&path).ok_or(CompactProofError::OddKey)?;
                let child_root = <[u8; 32]>::try_from(value.as_ref())
                    .map_err(|_| CompactProofError::InvalidChildRoot { key, len: value.len() })?;
                roots.push(child_root);
            }
        }
        for i in (0..16u8).rev() {
            let Some(reference) = node.children[usize::from(i)] else { continue };
            path.push(i);
            let keep = compatible(&path);
            path.pop();
            if !keep {
                continue;
            }
            let (bytes, hash) = match <[u8; 32]>::try_from(reference) {
                Ok(child_hash) => match lookup(&child_hash)? {
                    Some(child) => (child, child_hash),
                    None => continue,
                },
                Err(_) => (Cow::Owned(reference.to_vec()), item.hash),
            };
            stack.push(ScanItem { bytes, parent_path_len: path.len(), nibble: Some(i), hash });
        }
    }
    Ok(roots)
}

// ------------------------------------------------------------------------------------------
// Decoding
// ------------------------------------------------------------------------------------------

/// Rebuilds the full nodes (blake2b-256) of a compact proof. See [`decode_compact_with`].
pub fn decode_compact(
    proof: &CompactProof,
    expected_root: Option<&[u8; 32]>,
) -> Result<([u8; 32], Vec<Vec<u8>>), CompactProofError> {
    decode_compact_with(TrieHasher::Blake2_256, proof, expected_root)
}

/// Rebuilds, under `hasher`, the full nodes of a compact proof: returns the root of its top
/// trie and the regular storage proof (trie nodes and hashed values, without duplicates, in
/// the order rebuilt), as `sp_trie::decode_compact` / `CompactProof::to_storage_proof`.
///
/// Fails if the items end before a trie is complete, if the top trie's root is not
/// `expected_root` (when given), if a child trie follows that the top trie does not
/// reference under `:child_storage:default:`, if items are left over, or on any malformed
/// item. Never panics; the work is linear in the size of the proof.
pub fn decode_compact_with(
    hasher: TrieHasher,
    proof: &CompactProof,
    expected_root: Option<&[u8; 32]>,
) -> Result<([u8; 32], Vec<Vec<u8>>), CompactProofError> {
    let items = proof.encoded_nodes.as_slice();
    let mut rebuilt = Rebuilt::default();
    let (top_root, mut pos) = decode_trie(hasher, items, 0, &mut rebuilt)?;
    if let Some(expected) = expected_root {
        if *expected != top_root {
            return Err(CompactProofError::RootMismatch { computed: top_root, expected: *expected });
        }
    }

    // Every node visited is backed by an item (or by bytes of an item, for inline nodes)
    // except where a hash reference points back to a node already rebuilt (de-duplicated
    // proofs). A generous linear bound keeps adversarial reference patterns from blowing up.
    let total = items.iter().fold(0usize, |acc, i| acc.saturating_add(i.len()).saturating_add(33));
    let budget = total.saturating_mul(8).saturating_add(1 << 16);
    let child_roots = {
        let root_bytes = rebuilt.get(&top_root).ok_or(CompactProofError::IncompleteProof)?;
        child_trie_roots(Cow::Borrowed(root_bytes), top_root, budget, |h| Ok(rebuilt.get(h).map(Cow::Borrowed)))?
    };

    let mut pending: Option<[u8; 32]> = None;
    for child_root in child_roots {
        if pending.is_none() && pos < items.len() {
            let (root, next) = decode_trie(hasher, items, pos, &mut rebuilt)?;
            pending = Some(root);
            pos = next;
        }
        // A child root may be in the top trie without its child trie in the proof.
        if pending == Some(child_root) {
            pending = None;
        }
    }
    if let Some(root) = pending {
        return Err(CompactProofError::ExtraneousChildProof(root));
    }
    if pos < items.len() {
        return Err(CompactProofError::ExtraneousNodes(items.len() - pos));
    }
    Ok((top_root, rebuilt.nodes))
}

/// The rebuilt items, without duplicates.
#[derive(Default)]
struct Rebuilt {
    nodes: Vec<Vec<u8>>,
    by_hash: HashMap<[u8; 32], usize>,
}

impl Rebuilt {
    fn insert(&mut self, hash: [u8; 32], bytes: Vec<u8>) {
        if let std::collections::hash_map::Entry::Vacant(e) = self.by_hash.entry(hash) {
            e.insert(self.nodes.len());
            self.nodes.push(bytes);
        }
    }

    fn get(&self, hash: &[u8; 32]) -> Option<&[u8]> {
        self.by_hash.get(hash).and_then(|&i| self.nodes.get(i)).map(Vec::as_slice)
    }
}

/// A compact node whose omitted children are not all rebuilt yet.
struct DecodeEntry<'a> {
    node: DecodedNode<'a>,
    /// Position of its item.
    index: usize,
    /// The detached value that followed it, if it was escaped.
    value: Option<&'a [u8]>,
    /// Child references of the full node, filled up to `next_child`.
    children: [Option<MerkleValue>; 16],
    next_child: usize,
}

impl DecodeEntry<'_> {
    /// Copies the references that are kept up to the next omitted one. Returns `Ok(true)`
    /// once every child is known, `Ok(false)` when the next item must rebuild an omitted one.
    fn advance(&mut self) -> Result<bool, CompactProofError> {
        while self.next_child < 16 {
            match self.node.children[self.next_child] {
                Some([]) => return Ok(false),
                Some(reference) => {
                    if reference.len() < 32 {
                        check_inline(reference, true).map_err(|e| match e {
                            InlineError::EmptyNode => CompactProofError::EmptyNodeBelowRoot { index: self.index },
                            InlineError::Decode(error) => CompactProofError::InvalidItem { index: self.index, error },
                        })?;
                    }
                    // At most 32 bytes, checked by the codec.
                    self.children[self.next_child] = MerkleValue::from_ref(reference);
                }
                None => {}
            }
            self.next_child += 1;
        }
        Ok(true)
    }

    /// The full node, given the hash of its detached value.
    fn full_encoding(&self, value_hash: Option<&[u8; 32]>) -> Vec<u8> {
        let mut node = self.node.clone();
        for (slot, child) in node.children.iter_mut().zip(self.children.iter()) {
            *slot = child.as_ref().map(MerkleValue::as_slice);
        }
        if let Some(h) = value_hash {
            node.value = NodeValue::Hashed(h);
        }
        node.encode()
    }
}

/// Decodes one trie starting at item `start`. Returns its root and the position of the
/// first item after it.
fn decode_trie(
    hasher: TrieHasher,
    items: &[Vec<u8>],
    start: usize,
    rebuilt: &mut Rebuilt,
) -> Result<([u8; 32], usize), CompactProofError> {
    let mut stack: Vec<DecodeEntry<'_>> = Vec::new();
    let mut pos = start;
    while let Some(item) = items.get(pos) {
        let index = pos;
        pos += 1;
        let (escaped, body) = match item.split_first() {
            Some((&ESCAPE_COMPACT_HEADER, rest)) => (true, rest),
            _ => (false, item.as_slice()),
        };
        let node = decode_node(body).map_err(|error| CompactProofError::InvalidItem { index, error })?;
        if node.is_empty() && !stack.is_empty() {
            return Err(CompactProofError::EmptyNodeBelowRoot { index });
        }
        let value = if escaped {
            if node.value != NodeValue::Inline(&[]) {
                return Err(CompactProofError::InvalidEscape { index });
            }
            let value = items.get(pos).ok_or(CompactProofError::IncompleteProof)?;
            pos += 1;
            Some(value.as_slice())
        } else {
            None
        };
        let mut entry = DecodeEntry { node, index, value, children: [None; 16], next_child: 0 };
        loop {
            if !entry.advance()? {
                stack.push(entry);
                break;
            }
            let value_hash = entry.value.map(|v| {
                let h = hasher.hash(v);
                rebuilt.insert(h, v.to_vec());
                h
            });
            let encoded = entry.full_encoding(value_hash.as_ref());
            let hash = hasher.hash(&encoded);
            let is_inline = encoded.len() < 32;
            rebuilt.insert(hash, encoded);
            let Some(mut parent) = stack.pop() else {
                return Ok((hash, pos));
            };
            if is_inline {
                return Err(CompactProofError::InlineNodeOmitted { index: entry.index });
            }
            if let Some(slot) = parent.children.get_mut(parent.next_child) {
                *slot = Some(MerkleValue::from_hash(hash));
            }
            parent.next_child += 1;
            entry = parent;
        }
    }
    Err(CompactProofError::IncompleteProof)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate_proof, trie_root, StateVersion, TrieMap, EMPTY_TRIE_ROOT};
    use std::collections::BTreeMap;

    fn entries(version: StateVersion) -> BTreeMap<Vec<u8>, Vec<u8>> {
        let mut m = BTreeMap::new();
        for i in 0u32..200 {
            let key = (i * 7919).to_be_bytes().to_vec();
            let len = match version {
                StateVersion::V0 => 4 + (i as usize % 10),
                StateVersion::V1 => 4 + (i as usize % 3) * 30,
            };
            m.insert(key, vec![i as u8; len]);
        }
        m.insert(b"short".to_vec(), b"v".to_vec());
        m
    }

    #[test]
    fn round_trip_both_versions() {
        for version in [StateVersion::V0, StateVersion::V1] {
            let m = entries(version);
            let root = trie_root(version, m.iter());
            let keys: Vec<&[u8]> = m.keys().step_by(17).map(Vec::as_slice).collect();
            let proof = generate_proof(version, &m, &keys);
            let compact = encode_compact(&root, &proof).unwrap();
            assert!(compact.encode().len() < crate::encode_proof(&proof).len());
            let (got_root, nodes) = decode_compact(&compact, Some(&root)).unwrap();
            assert_eq!(got_root, root);
            let mut a = nodes.clone();
            a.sort();
            let mut b = proof.clone();
            b.sort();
            assert_eq!(a, b, "{version:?}");
            assert_eq!(encode_compact(&root, &nodes).unwrap(), compact);
        }
    }

    #[test]
    fn detached_values_are_escaped() {
        let mut m = BTreeMap::new();
        m.insert(b"a".to_vec(), vec![7u8; 40]);
        m.insert(b"b".to_vec(), vec![8u8; 40]);
        let root = trie_root(StateVersion::V1, m.iter());
        let proof = generate_proof(StateVersion::V1, &m, &[b"a"]);
        let compact = encode_compact(&root, &proof).unwrap();
        // Root branch, escaped leaf "a", its value; "b" stays a hash reference.
        assert_eq!(compact.encoded_nodes.len(), 3);
        assert_eq!(compact.encoded_nodes[1][0], ESCAPE_COMPACT_HEADER);
        assert_eq!(compact.encoded_nodes[2], vec![7u8; 40]);
        assert_eq!(decode_compact(&compact, Some(&root)).unwrap().0, root);
    }

    #[test]
    fn empty_trie() {
        let compact = encode_compact::<Vec<u8>>(&EMPTY_TRIE_ROOT, &[]).unwrap();
        assert_eq!(compact.encoded_nodes, vec![vec![0u8]]);
        let (root, nodes) = decode_compact(&compact, Some(&EMPTY_TRIE_ROOT)).unwrap();
        assert_eq!(root, EMPTY_TRIE_ROOT);
        assert_eq!(nodes, vec![vec![0u8]]);
        assert_eq!(decode_compact(&CompactProof::default(), None), Err(CompactProofError::IncompleteProof));
    }

    #[test]
    fn missing_root() {
        assert_eq!(encode_compact::<Vec<u8>>(&[1; 32], &[]), Err(CompactProofError::MissingRoot([1; 32])));
    }

    #[test]
    fn child_tries_follow_the_top_trie() {
        let mut child = TrieMap::new(StateVersion::V1);
        for i in 0u8..50 {
            child.insert(&[i, i], vec![i; 1 + usize::from(i)]);
        }
        let child_root = child.root();
        let child_key = [CHILD_STORAGE_DEFAULT_PREFIX, b"pallet"].concat();
        let mut top = TrieMap::new(StateVersion::V1);
        for i in 0u8..50 {
            top.insert(&[b'k', i], vec![i; 10]);
        }
        top.insert(&child_key, child_root.to_vec());
        let root = top.root();
        let mut proof = top.generate_proof(&[&child_key, b"k\x05"]);
        proof.extend(child.generate_proof(&[&[3, 3], &[40, 40]]));
        let compact = encode_compact(&root, &proof).unwrap();
        let (got, nodes) = decode_compact(&compact, Some(&root)).unwrap();
        assert_eq!(got, root);
        let mut a = nodes;
        a.sort();
        proof.sort();
        assert_eq!(a, proof);
        // The child trie's root node comes right after the top trie.
        let top_only = encode_compact(&root, &top.generate_proof(&[&child_key, b"k\x05"])).unwrap();
        let child_start = top_only.encoded_nodes.len();
        assert_eq!(compact.encoded_nodes[..child_start], top_only.encoded_nodes[..]);
        let child_only = encode_compact(&child_root, &child.generate_proof(&[&[3, 3], &[40, 40]])).unwrap();
        assert_eq!(compact.encoded_nodes[child_start..], child_only.encoded_nodes[..]);

        // A child trie whose root the top trie does not reference is rejected.
        let mut bad = top_only.clone();
        bad.encoded_nodes.extend(encode_compact(&root, &top.generate_proof(&[b"k\x01"])).unwrap().encoded_nodes);
        assert!(matches!(decode_compact(&bad, None), Err(CompactProofError::ExtraneousChildProof(_))));
        // Without the child root in the top-trie part, the child trie is trailing.
        let no_child = encode_compact(&root, &top.generate_proof(&[b"k\x05"])).unwrap();
        let mut trailing = no_child.clone();
        trailing.encoded_nodes.extend(child_only.encoded_nodes);
        assert!(matches!(decode_compact(&trailing, None), Err(CompactProofError::ExtraneousNodes(_))));
    }

    #[test]
    fn child_root_scan_matches_key_order() {
        let mut top = TrieMap::new(StateVersion::V1);
        let mut expected = BTreeMap::new();
        let mut children = BTreeMap::new();
        let names: [&[u8]; 9] =
            [b"", b"a", b"ab", b"abc", b"abd", b"b", b"\x00", b"\xff\xff", b"zzzzzzzzzzzzzzzzzzzzzzzzz"];
        for (n, name) in names.iter().enumerate() {
            let mut child = TrieMap::new(StateVersion::V1);
            for i in 0..(n as u8 + 1) * 3 {
                child.insert(&[i, n as u8], vec![i; 20 + usize::from(i)]);
            }
            let key = [CHILD_STORAGE_DEFAULT_PREFIX, name].concat();
            top.insert(&key, child.root().to_vec());
            expected.insert(key.clone(), child.root());
            children.insert(key, child);
        }
        // Keys just outside the prefix on both sides, and many others.
        top.insert(b":child_storage:default", vec![1; 40]);
        top.insert(b":child_storage:defaulu", vec![2; 40]);
        top.insert(b":child_storage:other:x", vec![3; 32]);
        for i in 0u8..100 {
            top.insert(&[b':', i], vec![i; 33]);
        }
        let root = top.root();
        let all_keys: Vec<Vec<u8>> = top.iter().map(|(k, _)| k.to_vec()).collect();
        let all: Vec<&[u8]> = all_keys.iter().map(Vec::as_slice).collect();
        let full = top.generate_proof(&all);
        let store = SliceStore(full.iter().map(|n| (crate::blake2_256(n), n.as_slice())).collect());
        let scan = |store: &SliceStore<'_>| {
            let root_bytes = stored_root(TrieHasher::Blake2_256, store, &root).unwrap().unwrap();
            child_trie_roots(root_bytes, root, usize::MAX, |h| fetch_checked(TrieHasher::Blake2_256, store, h)).unwrap()
        };
        assert_eq!(scan(&store), expected.values().copied().collect::<Vec<_>>());

        // Partial proofs: the roots found include the proved ones, in key order.
        let child_keys: Vec<&Vec<u8>> = expected.keys().collect();
        for pick in [vec![0usize], vec![2, 3], vec![8], vec![1, 4, 7]] {
            let keys: Vec<&[u8]> = pick.iter().map(|&i| child_keys[i].as_slice()).collect();
            let proof = top.generate_proof(&keys);
            let store = SliceStore(proof.iter().map(|n| (crate::blake2_256(n), n.as_slice())).collect());
            let found = scan(&store);
            let in_order: Vec<[u8; 32]> = expected.values().copied().filter(|r| found.contains(r)).collect();
            assert_eq!(found, in_order);
            for k in &keys {
                assert!(found.contains(&expected[*k]));
            }
            // With the proved child tries appended, the whole proof round-trips.
            let mut with_children = proof.clone();
            for k in &keys {
                let child = children.get_mut(*k).unwrap();
                with_children.extend(child.generate_proof(&[&[1, 0], &[2, 1]]));
            }
            let compact = encode_compact(&root, &with_children).unwrap();
            let (got, mut nodes) = decode_compact(&compact, Some(&root)).unwrap();
            assert_eq!(got, root);
            nodes.sort();
            with_children.sort();
            with_children.dedup();
            assert_eq!(nodes, with_children);
        }
    }

    #[test]
    fn bounded_scale_decode() {
        let proof = CompactProof { encoded_nodes: vec![vec![1, 2, 3], vec![], vec![9; 100]] };
        let bytes = proof.encode();
        assert_eq!(CompactProof::decode_bounded(&bytes, bytes.len()).unwrap(), proof);
        assert_eq!(CompactProof::decode(&mut &bytes[..]).unwrap(), proof);
        assert_eq!(
            CompactProof::decode_bounded(&bytes, bytes.len() - 1),
            Err(CompactProofError::TooLarge { size: bytes.len(), max: bytes.len() - 1 })
        );
        // A huge count with few bytes, a huge length, truncation, trailing bytes.
        assert_eq!(CompactProof::decode_bounded(&[0xfe, 0xff, 0xff, 0xff], 100), Err(CompactProofError::InvalidFormat));
        assert_eq!(
            CompactProof::decode_bounded(&[4, 0xfe, 0xff, 0xff, 0xff], 100),
            Err(CompactProofError::InvalidFormat)
        );
        assert_eq!(
            CompactProof::decode_bounded(&bytes[..bytes.len() - 1], 1000),
            Err(CompactProofError::InvalidFormat)
        );
        let mut long = bytes.clone();
        long.push(0);
        assert_eq!(CompactProof::decode_bounded(&long, 1000), Err(CompactProofError::InvalidFormat));
    }

    #[test]
    fn strict_decoding() {
        let mut m = BTreeMap::new();
        for i in 0u8..40 {
            m.insert(vec![i, 1, 2, 3], vec![i; 40]);
        }
        let root = trie_root(StateVersion::V1, m.iter());
        let proof = generate_proof(StateVersion::V1, &m, &[&[5, 1, 2, 3]]);
        let compact = encode_compact(&root, &proof).unwrap();

        // Escape on a node without an empty inline value.
        let mut bad = compact.clone();
        bad.encoded_nodes[0].insert(0, ESCAPE_COMPACT_HEADER);
        assert!(matches!(decode_compact(&bad, None), Err(CompactProofError::InvalidEscape { index: 0 })));
        // Detached value missing.
        let escaped = compact.encoded_nodes.iter().position(|n| n[0] == ESCAPE_COMPACT_HEADER).unwrap();
        let mut bad = compact.clone();
        bad.encoded_nodes.truncate(escaped + 1);
        assert_eq!(decode_compact(&bad, None), Err(CompactProofError::IncompleteProof));
        // Empty node below the root.
        let mut bad = compact.clone();
        bad.encoded_nodes[1] = vec![0];
        assert!(matches!(decode_compact(&bad, None), Err(CompactProofError::EmptyNodeBelowRoot { index: 1 })));
        // Root mismatch.
        assert!(matches!(decode_compact(&compact, Some(&[0; 32])), Err(CompactProofError::RootMismatch { .. })));
    }

    #[test]
    fn omitted_inline_node_rejected() {
        // Root branch with one omitted child whose node is a short leaf.
        let leaf = crate::encode_node(&[1], NodeValue::Inline(b"x"), &[None; 16]);
        let mut children: [Option<&[u8]>; 16] = [None; 16];
        children[0] = Some(&[]);
        children[1] = Some(&leaf);
        let root_node = crate::encode_node(&[], NodeValue::None, &children);
        let compact = CompactProof { encoded_nodes: vec![root_node, leaf] };
        assert_eq!(decode_compact(&compact, None), Err(CompactProofError::InlineNodeOmitted { index: 1 }));
    }

    #[test]
    fn keccak_hasher() {
        let m = entries(StateVersion::V1);
        let root = crate::trie_root_with(TrieHasher::Keccak256, StateVersion::V1, m.iter());
        let mut map = TrieMap::with_hasher(StateVersion::V1, TrieHasher::Keccak256);
        for (k, v) in &m {
            map.insert(k, v.clone());
        }
        assert_eq!(map.root(), root);
        let keys: Vec<&[u8]> = m.keys().step_by(11).map(Vec::as_slice).collect();
        let proof = map.generate_proof(&keys);
        let compact = encode_compact_with(TrieHasher::Keccak256, &root, &proof).unwrap();
        let (got, nodes) = decode_compact_with(TrieHasher::Keccak256, &compact, Some(&root)).unwrap();
        assert_eq!(got, root);
        assert_eq!(nodes.len(), proof.len());
        // Blake2 does not find the root in the same proof.
        assert!(matches!(encode_compact(&root, &proof), Err(CompactProofError::MissingRoot(_))));
    }
}

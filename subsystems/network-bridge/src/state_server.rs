//! `/<genesis>/state/2`: answering state requests from the chain store, as Substrate's
//! state request handler does, and downloading a whole state as a client
//! ([`StateDownload`]).
//!
//! **Server** ([`serve_state_request`]), for `no_proof = true` (Substrate's
//! `storage_collection`):
//!
//! * `start` holds at most two keys: none (from the beginning), one key of the main
//!   trie, or a child trie's prefixed key (`:child_storage:default:` ++ key, present in
//!   the main trie) followed by a key in that child trie. More keys, a missing or
//!   non-default child trie, or an unknown block or pruned state are errors: Substrate
//!   sends no response then;
//! * the pairs strictly after the start key follow in key order. When a main-trie key
//!   starting with `:child_storage:` is reached (it must be a default child trie), its
//!   pair is added and the walk continues inside that child trie from its first key,
//!   which gets an entry of its own (`state_root` = the child root); then it resumes in
//!   the main trie after the child's key. A child trie whose root was already sent in
//!   this response is not walked again;
//! * sizes count keys plus values; a pair that would take the total over
//!   [`MAX_STATE_RESPONSE_DATA_BYTES`] (2 MiB) ends the response, except that the first
//!   pair of each trie's entry is always added (so a response can be a bit larger);
//! * `complete` says whether that trie has no more pairs. The main trie's entry is
//!   always first (possibly empty, when the response resumes inside a child trie) and
//!   is complete only when the whole state has been sent; only the last entry may be an
//!   incomplete child trie.
//!
//! With `no_proof = false` (Substrate's `read_proof_collection`) the response carries a
//! compact proof instead of pairs (`entries` empty, `proof` the SCALE-encoded
//! `CompactProof` of the block's state root): the nodes and hashed values read by the
//! same walk, with a few differences that are Substrate's (see
//! [`weft_trie::range_proof`]): the walk reads the start key's own value (and includes
//! the empty key when it starts from the beginning), a child trie
//! whose root equals the root of the start keys' child trie is not walked again, child
//! trie keys are never budgeted, and the budget is the recorded proof's estimated size
//! (2 MiB): the walk stops right after the first pair that takes it over, with no
//! exception for the first pair of a trie (it is read, hence proven, anyway).
//!
//! **Client** ([`StateDownload`]): the requests of a state sync, cursor handling as
//! Substrate's `StateSync`, strict checks of every response, and at the end the child
//! trie roots and the main trie root rebuilt from the downloaded pairs and compared with
//! the expected state root. With `no_proof = true` ([`StateDownload::new`]) the pairs of a
//! response are trusted until that final check; in proof mode
//! ([`StateDownload::with_proofs`]) each response's proof is decoded and checked against
//! the expected state root first, and the pairs it proves from the cursor (and whether the
//! walk is complete) are derived from the proof alone, as Substrate's
//! `verify_range_proof` does, so a bad response is refused as soon as it arrives.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::ops::Bound;

use weft_block::H256;
use weft_chain_store::{ChainStore, StoreError};
use weft_network_protocol::prost::Message;
use weft_network_protocol::state::{
    decode_state_request, decode_state_response, encode_state_response, KeyValueStateEntry, StateEntry, StateRequest,
    StateResponse, MAX_STATE_RESPONSE_BYTES,
};
use weft_network_protocol::ProtocolError;
use weft_trie::compact::{CompactProof, CompactProofError};
use weft_trie::db::{NodeStore, TrieDbError};
use weft_trie::range_proof::{prove_range, verify_range, RangeProofError, RangeWalk, CHILD_STORAGE_KEY_PREFIX};
use weft_trie::{StateVersion, CHILD_STORAGE_DEFAULT_PREFIX};

/// Key-value bytes a server puts in one response before stopping, or, with a proof, the
/// recorded proof's estimated size (Substrate's `MAX_RESPONSE_BYTES` of the state request
/// handler, passed to both `storage_collection` and `read_proof_collection`; the first
/// pair of each trie is always added, and a proof holds the pair that crossed the limit,
/// so a response may be larger).
pub const MAX_STATE_RESPONSE_DATA_BYTES: usize = 2 * 1024 * 1024;

/// Most keys in a request's `start` (Substrate's `MAX_NESTED_TRIE_DEPTH`).
pub const MAX_START_KEYS: usize = 2;

/// Why a state request gets no response.
#[derive(Debug, thiserror::Error)]
pub enum StateServeError {
    /// The request does not decode, or its block hash is not 32 bytes.
    #[error("invalid state request: {0}")]
    BadRequest(#[from] ProtocolError),
    /// More than [`MAX_START_KEYS`] start keys.
    #[error("state request has {0} start keys, at most 2 are allowed")]
    TooManyStartKeys(usize),
    /// The block is not in the store.
    #[error("unknown block {0}")]
    UnknownBlock(H256),
    /// The block's state has been pruned.
    #[error("the state of block {0} has been pruned")]
    StatePruned(H256),
    /// The first of two start keys is not in the main trie.
    #[error("start key 0x{} names no child trie in the state", hex::encode(.0))]
    UnknownChildTrie(Vec<u8>),
    /// A child trie key that does not start with `:child_storage:default:`.
    #[error("child storage key 0x{} is not a default child trie key", hex::encode(.0))]
    InvalidChildStorageKey(Vec<u8>),
    /// A child trie root stored in the main trie is not 32 bytes (corrupt state).
    #[error("the root of child trie 0x{} is {len} bytes, expected 32", hex::encode(.key))]
    BadChildRoot {
        /// The child trie's prefixed key.
        key: Vec<u8>,
        /// Length of the stored root.
        len: usize,
    },
    /// The encoded response would be over the protocol's limit.
    #[error("state response of {len} bytes is over the limit of {max} bytes")]
    ResponseTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Reading the state's trie failed.
    #[error("state: {0}")]
    Trie(#[from] TrieDbError),
    /// The recorded nodes could not be compact-encoded (a corrupt state).
    #[error("compact proof: {0}")]
    Proof(CompactProofError),
    /// The store failed.
    #[error("chain store: {0}")]
    Store(StoreError),
}

impl From<RangeProofError> for StateServeError {
    fn from(e: RangeProofError) -> Self {
        match e {
            RangeProofError::TooManyStartKeys(n) => StateServeError::TooManyStartKeys(n),
            RangeProofError::UnknownChildTrie(key) => StateServeError::UnknownChildTrie(key),
            RangeProofError::InvalidChildStorageKey(key) => StateServeError::InvalidChildStorageKey(key),
            RangeProofError::BadChildRoot { key, len } => StateServeError::BadChildRoot { key, len },
            RangeProofError::Trie(e) => StateServeError::Trie(e),
            RangeProofError::Compact(e) => StateServeError::Proof(e),
            // The prover reads without a bound.
            RangeProofError::TooManyEntries(_) => StateServeError::Trie(TrieDbError::Store(e.to_string())),
        }
    }
}

impl From<StoreError> for StateServeError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownBlock(hash) => StateServeError::UnknownBlock(hash),
            StoreError::StatePruned { hash, .. } => StateServeError::StatePruned(hash),
            StoreError::Trie(e) => StateServeError::Trie(e),
            other => StateServeError::Store(other),
        }
    }
}

/// One trie's part of a response (Substrate's `KeyValueStorageLevel` with its
/// `complete` flag).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Level {
    /// Empty for the main trie, the child root (as stored in the main trie) otherwise.
    pub(crate) state_root: Vec<u8>,
    pub(crate) entries: Vec<(Vec<u8>, Vec<u8>)>,
    pub(crate) complete: bool,
}

/// A child trie being walked.
struct Child {
    prefixed_key: Vec<u8>,
    root_value: Vec<u8>,
    root: [u8; 32],
}

fn child(prefixed_key: Vec<u8>, root_value: Vec<u8>) -> Result<Child, StateServeError> {
    if !prefixed_key.starts_with(CHILD_STORAGE_DEFAULT_PREFIX) {
        return Err(StateServeError::InvalidChildStorageKey(prefixed_key));
    }
    let root = <[u8; 32]>::try_from(root_value.as_slice())
        .map_err(|_| StateServeError::BadChildRoot { len: root_value.len(), key: prefixed_key.clone() })?;
    Ok(Child { prefixed_key, root_value, root })
}

/// The walk of Substrate's `storage_collection` (see the module documentation) over the
/// state of `top_root` in `store`, from `start`, stopping once the sizes `size_of`
/// gives to the pairs add up to more than `size_limit`.
pub(crate) fn collect<S: NodeStore + ?Sized>(
    store: &S,
    top_root: &[u8; 32],
    start: &[Vec<u8>],
    size_limit: usize,
    size_of: &mut dyn FnMut(&[u8], &[u8]) -> usize,
) -> Result<Vec<Level>, StateServeError> {
    if start.len() > MAX_START_KEYS {
        return Err(StateServeError::TooManyStartKeys(start.len()));
    }
    let mut current_child = match start {
        [parent, _] => {
            let value = weft_trie::db::get(store, top_root, parent)?
                .ok_or_else(|| StateServeError::UnknownChildTrie(parent.clone()))?;
            Some(child(parent.clone(), value)?)
        }
        _ => None,
    };
    let mut current_key = start.last().cloned().unwrap_or_default();
    let mut total = 0usize;
    let mut levels = vec![Level::default()];
    let mut child_roots: HashSet<Vec<u8>> = HashSet::new();
    loop {
        let mut entries = Vec::new();
        let mut complete = true;
        let mut switch_to = None;
        let root = current_child.as_ref().map_or(*top_root, |c| c.root);
        while let Some(key) = weft_trie::db::next_key(store, &root, &current_key)? {
            let value = weft_trie::db::get(store, &root, &key)?.unwrap_or_default();
            let size = size_of(&key, &value);
            if total.saturating_add(size) > size_limit && !entries.is_empty() {
                complete = false;
                break;
            }
            total = total.saturating_add(size);
            if current_child.is_none() && key.starts_with(CHILD_STORAGE_KEY_PREFIX) && !child_roots.contains(&value) {
                child_roots.insert(value.clone());
                switch_to = Some((key.clone(), value.clone()));
                entries.push((key, value));
                break;
            }
            current_key.clone_from(&key);
            entries.push((key, value));
        }
        if let Some((key, value)) = switch_to {
            levels[0].entries.extend(entries);
            current_child = Some(child(key, value)?);
            current_key = Vec::new();
        } else if let Some(child) = current_child.take() {
            current_key = child.prefixed_key;
            levels.push(Level { state_root: child.root_value, entries, complete });
            if !complete {
                break;
            }
        } else {
            levels[0].entries.extend(entries);
            levels[0].complete = complete;
            break;
        }
    }
    Ok(levels)
}

/// The proof of a `no_proof = false` request (Substrate's `read_proof_collection`): the
/// walk of the state from `start` on a recording store, with the recorded proof's
/// estimated size as budget, and the recorded nodes as the SCALE-encoded `CompactProof`
/// of the state root.
fn prove_collection<S: NodeStore + ?Sized>(
    state: &S,
    root: &[u8; 32],
    start: &[Vec<u8>],
    size_limit: usize,
) -> Result<Vec<u8>, StateServeError> {
    let proven = prove_range(state, root, start, size_limit)?;
    // A `CompactProof` is a SCALE `Vec<Vec<u8>>`.
    Ok(weft_trie::encode_proof(&proven.proof.encoded_nodes))
}

/// Serves a state request from `store` (see the module documentation).
pub fn serve_state_request(store: &ChainStore, request: &StateRequest) -> Result<StateResponse, StateServeError> {
    serve_state_request_with_budget(store, request, MAX_STATE_RESPONSE_DATA_BYTES)
}

/// [`serve_state_request`] with another budget per response than
/// [`MAX_STATE_RESPONSE_DATA_BYTES`] (smaller responses for tests or slow links): key and
/// value bytes with `no_proof = true`, the recorded proof's estimated size otherwise.
pub fn serve_state_request_with_budget(
    store: &ChainStore,
    request: &StateRequest,
    size_limit: usize,
) -> Result<StateResponse, StateServeError> {
    let block = request.block_hash()?;
    if request.start.len() > MAX_START_KEYS {
        return Err(StateServeError::TooManyStartKeys(request.start.len()));
    }
    let state = store.state_at(&block)?;
    let response = if request.no_proof {
        let levels = collect(&state, &state.root(), &request.start, size_limit, &mut |k, v| k.len() + v.len())?;
        let entries = levels
            .into_iter()
            .map(|level| KeyValueStateEntry {
                state_root: level.state_root,
                entries: level.entries.into_iter().map(|(key, value)| StateEntry { key, value }).collect(),
                complete: level.complete,
            })
            .collect();
        StateResponse { entries, proof: Vec::new() }
    } else {
        StateResponse {
            entries: Vec::new(),
            proof: prove_collection(&state, &state.root(), &request.start, size_limit)?,
        }
    };
    let len = response.encoded_len();
    if len > MAX_STATE_RESPONSE_BYTES {
        return Err(StateServeError::ResponseTooLarge { len, max: MAX_STATE_RESPONSE_BYTES });
    }
    Ok(response)
}

/// Decodes a state request received from a peer, serves it and encodes the response.
pub fn serve_state_request_bytes(store: &ChainStore, request: &[u8]) -> Result<Vec<u8>, StateServeError> {
    let request = decode_state_request(request)?;
    Ok(encode_state_response(&serve_state_request(store, &request)?))
}

/// Why a state download failed. Every variant but [`StateDownloadError::Incomplete`],
/// [`StateDownloadError::TooLarge`] and the final root checks means that the peer sent
/// a bad response (the download keeps its state from before that response, so it can
/// go on with another peer). In proof mode every pair was proven by the expected state
/// root as it arrived, so the final root checks only fail for a wrong state version.
#[derive(Debug, thiserror::Error)]
pub enum StateDownloadError {
    /// The response does not decode.
    #[error("state response: {0}")]
    Decode(#[from] ProtocolError),
    /// The download is already complete.
    #[error("the state download is already complete")]
    AlreadyComplete,
    /// The response carries a proof although none was requested.
    #[error("the response carries a proof, but key-value pairs were requested")]
    UnexpectedProof,
    /// Proof mode: the response carries key-value pairs instead of (or besides) a proof.
    #[error("the response carries key-value pairs, but a proof was requested")]
    UnexpectedEntries,
    /// Proof mode: the response carries no proof.
    #[error("the response carries no proof, but a proof was requested")]
    MissingProof,
    /// Proof mode: the proof does not decode, is not a proof of the expected state root,
    /// or does not prove the walk from the cursor.
    #[error("state proof: {0}")]
    BadProof(RangeProofError),
    /// The response has no entry at all.
    #[error("the response has no entries")]
    EmptyResponse,
    /// The first entry is not the main trie's (its `state_root` is not empty).
    #[error("the first entry of the response is not the main trie's")]
    TopLevelNotFirst,
    /// A child trie entry's `state_root` is not 32 bytes.
    #[error("entry {index} of the response: child trie root of {len} bytes")]
    BadStateRoot {
        /// Index of the entry in the response.
        index: usize,
        /// Length of its `state_root`.
        len: usize,
    },
    /// The child trie entries do not match the child tries the main trie's pairs lead to.
    #[error("the response's child trie entries do not follow its main trie pairs: {0}")]
    UnexpectedChildTrie(&'static str),
    /// A main-trie key under `:child_storage:` that is not a default child trie key.
    #[error("child storage key 0x{} is not a default child trie key", hex::encode(.0))]
    InvalidChildStorageKey(Vec<u8>),
    /// Keys are not strictly ascending, or not after the requested start.
    #[error("entry {index} of the response: key 0x{} is not after the previous key", hex::encode(.key))]
    NotAscending {
        /// Index of the entry in the response.
        index: usize,
        /// The offending key.
        key: Vec<u8>,
    },
    /// The `complete` flags are inconsistent.
    #[error("inconsistent completeness: {0}")]
    BadCompleteness(&'static str),
    /// The response is incomplete but moves the cursor nowhere.
    #[error("the response is incomplete but makes no progress")]
    NoProgress,
    /// The download would exceed its limits.
    #[error("the state is over the download limits ({entries} pairs, {bytes} bytes)")]
    TooLarge {
        /// Pairs with the response.
        entries: usize,
        /// Key and value bytes with the response.
        bytes: u64,
    },
    /// [`StateDownload::finish`] before the last response.
    #[error("the state download is not complete")]
    Incomplete,
    /// A child trie referenced by the main trie was not downloaded.
    #[error("child trie 0x{} was not downloaded", hex::encode(.0))]
    MissingChildTrie(Vec<u8>),
    /// A child trie was downloaded that the main trie does not reference.
    #[error("a child trie with root {0} was downloaded but the main trie does not reference it")]
    UnreferencedChildTrie(H256),
    /// A child trie's pairs do not give its root.
    #[error("child trie 0x{}: its pairs give root {computed}, the main trie says {expected}", hex::encode(.key))]
    ChildRootMismatch {
        /// The child trie's prefixed key.
        key: Vec<u8>,
        /// Root stored in the main trie.
        expected: H256,
        /// Root of the downloaded pairs.
        computed: H256,
    },
    /// The main trie's pairs do not give the expected state root.
    #[error("the downloaded state has root {computed}, expected {expected}")]
    RootMismatch {
        /// The block's state root.
        expected: H256,
        /// Root of the downloaded pairs.
        computed: H256,
    },
}

/// Limits of a [`StateDownload`], against a peer feeding an endless state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateDownloadLimits {
    /// Most pairs (all tries together).
    pub max_entries: usize,
    /// Most key and value bytes (all tries together).
    pub max_bytes: u64,
}

impl Default for StateDownloadLimits {
    /// 64 Mi pairs and 16 GiB.
    fn default() -> Self {
        StateDownloadLimits { max_entries: 64 << 20, max_bytes: 16 << 30 }
    }
}

/// Counters of a [`StateDownload`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateDownloadStats {
    /// Responses accepted.
    pub responses: usize,
    /// Pairs received (all tries; a child trie sent twice counts twice).
    pub entries: usize,
    /// Key and value bytes received.
    pub bytes: u64,
    /// Proof mode: bytes of the proofs received (SCALE-encoded compact proofs).
    pub proof_bytes: u64,
}

/// A downloaded and verified state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedState {
    /// The block.
    pub block: H256,
    /// Its state root.
    pub root: [u8; 32],
    /// The main trie, including the `:child_storage:default:` entries holding the child
    /// roots.
    pub top: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The default child tries, by key without the `:child_storage:default:` prefix (as
    /// [`ChainStore::initialize_checkpoint`] takes them).
    pub children: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>,
}

#[derive(Debug, Default)]
struct ChildTrie {
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    complete: bool,
}

/// Downloads the state of one block over `state/2`: give it the block hash and the state
/// root from its (verified) header, send [`StateDownload::next_request`] to a peer, feed
/// the response to [`StateDownload::on_response`], and repeat until it reports
/// completion; then [`StateDownload::finish`] rebuilds the roots and checks them.
///
/// [`StateDownload::new`] requests key-value pairs (`no_proof = true`);
/// [`StateDownload::with_proofs`] requests proofs (`no_proof = false`): each response's
/// compact proof is decoded (bounded by the response size limit) and verified against the
/// expected state root, and the pairs it proves from the cursor, with the levels and
/// `complete` flags of the walk, are derived from it as Substrate's `verify_range_proof`
/// does; they then go through the same checks as pairs received without a proof.
///
/// Every response is checked before any of it is kept: keys strictly ascending and
/// after the cursor, the main trie's entry first, one child trie entry per new child
/// trie key of the main trie in the same order (plus the one the cursor is inside),
/// consistent `complete` flags, progress (the cursor moves, or the download completes),
/// and the download's limits. The cursor follows Substrate's `StateSync`, so any
/// Substrate server can be used.
#[derive(Debug)]
pub struct StateDownload {
    block: H256,
    expected_root: [u8; 32],
    limits: StateDownloadLimits,
    cursor: Vec<Vec<u8>>,
    top: BTreeMap<Vec<u8>, Vec<u8>>,
    children: HashMap<[u8; 32], ChildTrie>,
    complete: bool,
    stats: StateDownloadStats,
    /// Proof mode (`no_proof = false`).
    proofs: bool,
}

impl StateDownload {
    /// A download of the state of `block`, whose header gives `expected_root`.
    pub fn new(block: H256, expected_root: [u8; 32]) -> Self {
        Self::with_limits(block, expected_root, StateDownloadLimits::default())
    }

    /// [`StateDownload::new`] with other limits.
    pub fn with_limits(block: H256, expected_root: [u8; 32], limits: StateDownloadLimits) -> Self {
        Self::with_options(block, expected_root, limits, false)
    }

    /// A download of the state of `block`, whose header gives `expected_root`, that asks
    /// for proofs (`no_proof = false`) and verifies each response against the root.
    pub fn with_proofs(block: H256, expected_root: [u8; 32]) -> Self {
        Self::with_proofs_and_limits(block, expected_root, StateDownloadLimits::default())
    }

    /// [`StateDownload::with_proofs`] with other limits.
    pub fn with_proofs_and_limits(block: H256, expected_root: [u8; 32], limits: StateDownloadLimits) -> Self {
        Self::with_options(block, expected_root, limits, true)
    }

    fn with_options(block: H256, expected_root: [u8; 32], limits: StateDownloadLimits, proofs: bool) -> Self {
        StateDownload {
            block,
            expected_root,
            limits,
            cursor: Vec::new(),
            top: BTreeMap::new(),
            children: HashMap::new(),
            complete: false,
            stats: StateDownloadStats::default(),
            proofs,
        }
    }

    /// Whether the download asks for proofs.
    pub fn uses_proofs(&self) -> bool {
        self.proofs
    }

    /// The block whose state is downloaded.
    pub fn block(&self) -> H256 {
        self.block
    }

    /// Whether every pair has been received.
    pub fn is_complete(&self) -> bool {
        self.complete
    }

    /// Counters so far.
    pub fn stats(&self) -> StateDownloadStats {
        self.stats
    }

    /// A value of the main trie received so far (for instance `:code`, to learn the
    /// runtime's state version before [`StateDownload::finish`]).
    pub fn top_value(&self, key: &[u8]) -> Option<&[u8]> {
        self.top.get(key).map(Vec::as_slice)
    }

    /// The request to send next, or `None` once the download is complete.
    pub fn next_request(&self) -> Option<StateRequest> {
        (!self.complete).then(|| StateRequest::new(self.block, self.cursor.clone(), !self.proofs))
    }

    /// Decodes and takes a response (see [`StateDownload::on_response`]).
    pub fn on_response_bytes(&mut self, bytes: &[u8]) -> Result<bool, StateDownloadError> {
        self.on_response(&decode_state_response(bytes)?)
    }

    /// Takes the response to [`StateDownload::next_request`]; returns whether the
    /// download is now complete. A rejected response changes nothing.
    pub fn on_response(&mut self, response: &StateResponse) -> Result<bool, StateDownloadError> {
        if self.complete {
            return Err(StateDownloadError::AlreadyComplete);
        }
        let proven;
        let levels = if self.proofs {
            proven = self.verify_proof(response)?;
            proven.as_slice()
        } else {
            if !response.proof.is_empty() {
                return Err(StateDownloadError::UnexpectedProof);
            }
            response.entries.as_slice()
        };
        let plan = self.check(levels)?;

        // Apply.
        let top = &levels[0];
        for entry in &top.entries {
            self.top.insert(entry.key.clone(), entry.value.clone());
        }
        for (level, root) in levels[1..].iter().zip(&plan.child_roots) {
            let child = self.children.entry(*root).or_default();
            if child.complete {
                // The same child trie under another key, sent again in a later response.
                continue;
            }
            for entry in &level.entries {
                child.entries.insert(entry.key.clone(), entry.value.clone());
            }
            child.complete = level.complete;
        }
        self.stats.responses += 1;
        self.stats.entries = plan.entries;
        self.stats.bytes = plan.bytes;
        self.stats.proof_bytes = self.stats.proof_bytes.saturating_add(response.proof.len() as u64);
        self.cursor = plan.cursor;
        self.complete = top.complete;
        Ok(self.complete)
    }

    /// Proof mode: the levels of pairs that the response's proof proves from the cursor.
    fn verify_proof(&self, response: &StateResponse) -> Result<Vec<KeyValueStateEntry>, StateDownloadError> {
        if !response.entries.is_empty() {
            return Err(StateDownloadError::UnexpectedEntries);
        }
        if response.proof.is_empty() {
            return Err(StateDownloadError::MissingProof);
        }
        let proof = CompactProof::decode_bounded(&response.proof, MAX_STATE_RESPONSE_BYTES)
            .map_err(|e| StateDownloadError::BadProof(e.into()))?;
        // One pair over the limit is enough for `check` to refuse the response.
        let max_entries = self.limits.max_entries.saturating_sub(self.stats.entries).saturating_add(1);
        let walk: RangeWalk =
            verify_range(&proof, &self.expected_root, &self.cursor, max_entries).map_err(|e| match e {
                RangeProofError::TooManyEntries(_) => StateDownloadError::TooLarge {
                    entries: self.limits.max_entries.saturating_add(1),
                    bytes: self.stats.bytes,
                },
                e => StateDownloadError::BadProof(e),
            })?;
        Ok(walk
            .levels
            .into_iter()
            .map(|level| KeyValueStateEntry {
                state_root: level.child_root.map(|r| r.to_vec()).unwrap_or_default(),
                entries: level.entries.into_iter().map(|(key, value)| StateEntry { key, value }).collect(),
                complete: level.complete,
            })
            .collect())
    }

    /// The cursor after a response whose levels are `levels`, as Substrate's
    /// `StateSync::process_state_unverified` (and, equivalently for levels derived from a
    /// proof, `KeyValueStates::update_last_key`).
    fn next_cursor(&self, levels: &[KeyValueStateEntry]) -> Vec<Vec<u8>> {
        let mut cursor = self.cursor.clone();
        if cursor.len() == 2 && levels[0].entries.is_empty() {
            cursor.pop();
        } else {
            cursor.clear();
        }
        for level in levels {
            if !level.complete {
                if let Some(last) = level.entries.last() {
                    cursor.push(last.key.clone());
                }
            }
        }
        cursor
    }

    /// Checks the levels of a response against the download so far, without changing
    /// anything.
    fn check(&self, levels: &[KeyValueStateEntry]) -> Result<Plan, StateDownloadError> {
        let Some(top) = levels.first() else {
            return Err(StateDownloadError::EmptyResponse);
        };
        if !top.state_root.is_empty() {
            return Err(StateDownloadError::TopLevelNotFirst);
        }
        let last = levels.len() - 1;
        let mut child_roots = Vec::with_capacity(last);
        for (index, level) in levels.iter().enumerate().skip(1) {
            let root = <[u8; 32]>::try_from(level.state_root.as_slice())
                .map_err(|_| StateDownloadError::BadStateRoot { index, len: level.state_root.len() })?;
            child_roots.push(root);
            if level.entries.is_empty() {
                return Err(StateDownloadError::UnexpectedChildTrie("a child trie entry without pairs"));
            }
            if !level.complete && index != last {
                return Err(StateDownloadError::BadCompleteness("an incomplete child trie is not the last entry"));
            }
        }
        if top.complete && levels.iter().any(|l| !l.complete) {
            return Err(StateDownloadError::BadCompleteness("the main trie is complete but a child trie is not"));
        }

        // Main trie keys: ascending, after the cursor.
        let mut previous = self.cursor.first().map(Vec::as_slice);
        for entry in &top.entries {
            if previous.is_some_and(|p| entry.key.as_slice() <= p) {
                return Err(StateDownloadError::NotAscending { index: 0, key: entry.key.clone() });
            }
            previous = Some(&entry.key);
        }

        // The child tries the response must walk, in order: the one the cursor is inside,
        // then each child trie key of the main trie whose root this response did not walk
        // already (in proof mode, the cursor's child trie counts as walked, as in
        // Substrate's proof walk; `storage_collection` walks it again).
        let mut expected: Vec<[u8; 32]> = Vec::new();
        let mut walked = HashSet::new();
        if self.cursor.len() == 2 {
            let root = self
                .top
                .get(&self.cursor[0])
                .and_then(|v| <[u8; 32]>::try_from(v.as_slice()).ok())
                .ok_or(StateDownloadError::UnexpectedChildTrie("the cursor's child trie is unknown"))?;
            expected.push(root);
            if self.proofs {
                walked.insert(root);
            }
        }
        let mut last_child_key = None;
        for entry in &top.entries {
            if !entry.key.starts_with(CHILD_STORAGE_KEY_PREFIX) {
                continue;
            }
            if !entry.key.starts_with(CHILD_STORAGE_DEFAULT_PREFIX) {
                return Err(StateDownloadError::InvalidChildStorageKey(entry.key.clone()));
            }
            let root = <[u8; 32]>::try_from(entry.value.as_slice())
                .map_err(|_| StateDownloadError::BadStateRoot { index: 0, len: entry.value.len() })?;
            if walked.insert(root) {
                expected.push(root);
            }
            last_child_key = Some((&entry.key, root));
        }
        if expected != child_roots {
            return Err(StateDownloadError::UnexpectedChildTrie("child trie entries and child trie keys differ"));
        }
        // An incomplete child trie is where the main trie stopped: at its key.
        if last > 0 && !levels[last].complete && !top.entries.is_empty() {
            let stopped_at = top.entries.last().map(|e| &e.key);
            match last_child_key {
                Some((key, root)) if Some(key) == stopped_at && root == child_roots[last - 1] => {}
                _ => {
                    return Err(StateDownloadError::UnexpectedChildTrie(
                        "the main trie goes on after an incomplete child trie",
                    ))
                }
            }
        }

        // Child keys: ascending, and after the cursor for the child trie it is inside.
        for (index, level) in levels.iter().enumerate().skip(1) {
            let mut previous = match (index, self.cursor.as_slice()) {
                (1, [_, child_key]) => Some(child_key.as_slice()),
                _ => None,
            };
            for entry in &level.entries {
                if previous.is_some_and(|p| entry.key.as_slice() <= p) {
                    return Err(StateDownloadError::NotAscending { index, key: entry.key.clone() });
                }
                previous = Some(&entry.key);
            }
        }

        // Limits.
        let mut entries = self.stats.entries;
        let mut bytes = self.stats.bytes;
        for level in levels {
            entries = entries.saturating_add(level.entries.len());
            for entry in &level.entries {
                bytes = bytes.saturating_add((entry.key.len() + entry.value.len()) as u64);
            }
        }
        if entries > self.limits.max_entries || bytes > self.limits.max_bytes {
            return Err(StateDownloadError::TooLarge { entries, bytes });
        }

        // Progress: an incomplete response must move the cursor (a proof may end a child
        // trie without proving any pair of the main trie after it).
        let cursor = self.next_cursor(levels);
        if !top.complete && cursor == self.cursor {
            return Err(StateDownloadError::NoProgress);
        }
        Ok(Plan { child_roots, entries, bytes, cursor })
    }

    /// Rebuilds the roots of the child tries and of the main trie from the downloaded
    /// pairs under `version` (the runtime's state version: a state written under both
    /// versions cannot be rebuilt from its pairs, as in Substrate), and checks them
    /// against the main trie's child root entries and the expected state root.
    pub fn finish(self, version: StateVersion) -> Result<DownloadedState, StateDownloadError> {
        if !self.complete {
            return Err(StateDownloadError::Incomplete);
        }
        let mut children = BTreeMap::new();
        let mut referenced = HashSet::new();
        let child_keys = self.top.range::<[u8], _>((Bound::Included(CHILD_STORAGE_KEY_PREFIX), Bound::Unbounded));
        for (key, value) in child_keys {
            if !key.starts_with(CHILD_STORAGE_KEY_PREFIX) {
                break;
            }
            let Some(child_key) = key.strip_prefix(CHILD_STORAGE_DEFAULT_PREFIX) else {
                return Err(StateDownloadError::InvalidChildStorageKey(key.clone()));
            };
            let root = <[u8; 32]>::try_from(value.as_slice())
                .map_err(|_| StateDownloadError::BadStateRoot { index: 0, len: value.len() })?;
            let child = self.children.get(&root).ok_or_else(|| StateDownloadError::MissingChildTrie(key.clone()))?;
            // Child tries with the same root are checked once.
            if referenced.insert(root) {
                let computed = weft_trie::trie_root(version, child.entries.iter());
                if computed != root {
                    return Err(StateDownloadError::ChildRootMismatch {
                        key: key.clone(),
                        expected: H256(root),
                        computed: H256(computed),
                    });
                }
            }
            children.insert(child_key.to_vec(), child.entries.clone());
        }
        if let Some(root) = self.children.keys().find(|r| !referenced.contains(*r)) {
            return Err(StateDownloadError::UnreferencedChildTrie(H256(*root)));
        }
        let computed = weft_trie::trie_root(version, self.top.iter());
        if computed != self.expected_root {
            return Err(StateDownloadError::RootMismatch {
                expected: H256(self.expected_root),
                computed: H256(computed),
            });
        }
        Ok(DownloadedState { block: self.block, root: computed, top: self.top, children })
    }
}

/// What [`StateDownload::check`] found in a response.
struct Plan {
    /// Root of each child trie entry (entries 1..).
    child_roots: Vec<[u8; 32]>,
    /// Pair count with the response.
    entries: usize,
    /// Byte count with the response.
    bytes: u64,
    /// The cursor after the response.
    cursor: Vec<Vec<u8>>,
}

/// A small state with default child tries, shared by the unit tests of this crate.
#[cfg(test)]
pub(crate) mod test_state {
    use std::collections::BTreeMap;
    use weft_block::{Digest, Header, H256};
    use weft_chain_store::{ChainStore, StoreConfig};
    use weft_trie::{child_storage_key, StateVersion, EMPTY_TRIE_ROOT};

    pub(crate) type Map = BTreeMap<Vec<u8>, Vec<u8>>;

    /// A store whose genesis state (V1) has a main trie with keys on both sides of
    /// `:child_storage:`, values of 0 to 99 bytes (hashed from 33), and three default
    /// child tries: `alpha`, `beta` (the same pairs as `alpha`, so the same root) and
    /// `gamma`. Returns the store, the genesis hash, and the main trie (with the child
    /// root entries) and child tries.
    pub(crate) fn store(dir: &std::path::Path) -> (ChainStore, H256, Map, BTreeMap<Vec<u8>, Map>) {
        let mut top = Map::new();
        for i in 0..150u32 {
            top.insert(format!("key{i:04}").into_bytes(), vec![i as u8; (i % 100) as usize]);
        }
        top.insert(b":code".to_vec(), vec![7; 300]);
        top.insert(vec![1, 2, 3], b"early".to_vec());
        let child = |n: u32, salt: u8| -> Map {
            (0..n)
                .map(|i| (format!("c{i:03}").into_bytes(), vec![salt.wrapping_add(i as u8); 1 + (i % 50) as usize]))
                .collect()
        };
        let mut children = BTreeMap::new();
        children.insert(b"alpha".to_vec(), child(40, 1));
        children.insert(b"beta".to_vec(), child(40, 1));
        children.insert(b"gamma".to_vec(), child(25, 9));
        let root = weft_trie::state_root_with_children(StateVersion::V1, &top, &children);
        let header = Header {
            parent_hash: H256([0; 32]),
            number: 0,
            state_root: H256(root),
            extrinsics_root: H256(EMPTY_TRIE_ROOT),
            digest: Digest::default(),
        };
        let store = ChainStore::open(&dir.join("db"), StoreConfig::default()).unwrap();
        let genesis = store.initialize_genesis(&header, &top, &children, StateVersion::V1).unwrap();
        let mut full_top = top;
        for (key, pairs) in &children {
            full_top.insert(child_storage_key(key), weft_trie::trie_root(StateVersion::V1, pairs.iter()).to_vec());
        }
        (store, genesis, full_top, children)
    }
}

#[cfg(test)]
mod tests {
    use super::test_state::store;
    use super::*;
    use weft_network_protocol::state::encode_state_request;
    use weft_trie::child_storage_key;

    fn serve_bytes(store: &ChainStore, request: &StateRequest, budget: usize) -> Vec<u8> {
        let request = decode_state_request(&encode_state_request(request)).unwrap();
        encode_state_response(&serve_state_request_with_budget(store, &request, budget).unwrap())
    }

    /// Downloads the whole state with `budget`; returns it and the number of requests.
    fn download(store: &ChainStore, block: H256, budget: usize) -> (DownloadedState, usize) {
        let (state, stats) = download_with(store, block, budget, false);
        (state, stats.responses)
    }

    /// Downloads the whole state with `budget`, with proofs or not; returns it and the
    /// download's counters.
    fn download_with(
        store: &ChainStore,
        block: H256,
        budget: usize,
        proofs: bool,
    ) -> (DownloadedState, StateDownloadStats) {
        let root = store.header(&block).unwrap().unwrap().state_root.0;
        let mut download =
            if proofs { StateDownload::with_proofs(block, root) } else { StateDownload::new(block, root) };
        assert_eq!(download.uses_proofs(), proofs);
        let mut requests = 0;
        while let Some(request) = download.next_request() {
            assert_eq!(request.no_proof, !proofs);
            requests += 1;
            assert!(requests < 10_000, "the download does not end");
            let response = serve_bytes(store, &request, budget);
            download.on_response_bytes(&response).unwrap();
        }
        assert_eq!(
            download.on_response(&StateResponse::default()).unwrap_err().to_string(),
            "the state download is already complete"
        );
        let stats = download.stats();
        assert_eq!(stats.responses, requests);
        (download.finish(StateVersion::V1).unwrap(), stats)
    }

    #[test]
    fn downloads_with_any_budget_rebuild_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, top, children) = store(dir.path());
        let mut counts = Vec::new();
        for budget in [0, 1, 40, 100, 500, 4096, usize::MAX] {
            let (state, requests) = download(&store, genesis, budget);
            assert_eq!(state.top, top, "budget {budget}");
            assert_eq!(state.children, children, "budget {budget}");
            counts.push(requests);
        }
        // Budget 0: one pair per trie and response.
        assert!(counts[0] >= top.len(), "{counts:?}");
        assert_eq!(counts.last(), Some(&1));
    }

    #[test]
    fn one_response_walks_each_child_root_once() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, top, children) = store(dir.path());
        let response = serve_state_request(&store, &StateRequest::new(genesis, vec![], true)).unwrap();
        // Main trie, alpha, gamma: beta has alpha's root and is not walked again.
        assert_eq!(response.entries.len(), 3);
        assert!(response.entries.iter().all(|e| e.complete));
        assert_eq!(response.entries[0].entries.len(), top.len());
        assert!(response.entries[0].state_root.is_empty());
        assert_eq!(response.entries[1].state_root, top[&child_storage_key(b"alpha")]);
        assert_eq!(response.entries[1].entries.len(), children[&b"alpha".to_vec()].len());
        assert_eq!(response.entries[2].state_root, top[&child_storage_key(b"gamma")]);
        assert!(response.proof.is_empty());
    }

    #[test]
    fn resuming_inside_a_child_trie() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, top, _) = store(dir.path());
        let alpha = child_storage_key(b"alpha");
        let request = StateRequest::new(genesis, vec![alpha.clone(), b"c009".to_vec()], true);
        let response = serve_state_request(&store, &request).unwrap();
        let roots: Vec<&[u8]> = response.entries.iter().map(|e| e.state_root.as_slice()).collect();
        // The rest of alpha first; then the main trie after alpha's key walks beta (alpha's
        // root, not walked by this response yet) and gamma.
        assert_eq!(
            roots,
            [&[][..], &top[&alpha], &top[&child_storage_key(b"beta")], &top[&child_storage_key(b"gamma")]]
        );
        assert_eq!(response.entries[1].entries.first().unwrap().key, b"c010");
        assert_eq!(response.entries[1].entries.len(), 30);
        assert!(response.entries[0].entries[0].key.as_slice() > alpha.as_slice());

        // A budget so small that only alpha's first remaining pair fits: the main trie's
        // entry is empty and incomplete, and so is alpha's.
        let small = serve_state_request_with_budget(&store, &request, 1).unwrap();
        assert_eq!(small.entries.len(), 2);
        assert!(small.entries[0].entries.is_empty() && !small.entries[0].complete);
        assert_eq!(small.entries[1].entries.len(), 1);
        assert!(!small.entries[1].complete);
    }

    #[test]
    fn the_first_pair_of_each_trie_is_always_sent() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, _, _) = store(dir.path());
        let response = serve_state_request_with_budget(&store, &StateRequest::new(genesis, vec![], true), 0).unwrap();
        assert_eq!(response.entries.len(), 1);
        assert_eq!(response.entries[0].entries.len(), 1);
        assert!(!response.entries[0].complete);
        // Walking into a child trie: its key ends the main trie's entry, and the child's
        // first pair is sent although the budget is spent.
        let before_children = StateRequest::new(genesis, vec![vec![1, 2, 3]], true);
        let response = serve_state_request_with_budget(&store, &before_children, 0).unwrap();
        assert_eq!(response.entries.len(), 2);
        assert_eq!(response.entries[0].entries.last().unwrap().key, child_storage_key(b"alpha"));
        assert_eq!(response.entries[1].entries.len(), 1);
        assert!(!response.entries[0].complete && !response.entries[1].complete);
    }

    #[test]
    fn bad_requests() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, _, _) = store(dir.path());
        let serve = |start: Vec<Vec<u8>>, no_proof: bool| {
            serve_state_request(&store, &StateRequest::new(genesis, start, no_proof))
        };
        // The same refusals with and without a proof requested.
        for no_proof in [true, false] {
            assert!(matches!(serve(vec![vec![]; 3], no_proof), Err(StateServeError::TooManyStartKeys(3))));
            let missing = child_storage_key(b"delta");
            assert!(matches!(serve(vec![missing, vec![]], no_proof), Err(StateServeError::UnknownChildTrie(_))));
            assert!(matches!(
                serve(vec![b":code".to_vec(), vec![]], no_proof),
                Err(StateServeError::InvalidChildStorageKey(_))
            ));
            let unknown = StateRequest::new(H256([9; 32]), vec![], no_proof);
            assert!(matches!(serve_state_request(&store, &unknown), Err(StateServeError::UnknownBlock(_))));
        }
        let mut short = StateRequest::new(genesis, vec![], true);
        short.block.pop();
        assert!(matches!(serve_state_request(&store, &short), Err(StateServeError::BadRequest(_))));
        assert!(matches!(serve_state_request_bytes(&store, &[0xff; 7]), Err(StateServeError::BadRequest(_))));
    }

    /// A download and the first response of the state with budget 100.
    fn first_response(store: &ChainStore, genesis: H256) -> (StateDownload, StateResponse) {
        let root = store.header(&genesis).unwrap().unwrap().state_root.0;
        let download = StateDownload::new(genesis, root);
        let request = download.next_request().unwrap();
        (download, serve_state_request_with_budget(store, &request, 100).unwrap())
    }

    #[test]
    fn bad_responses_are_rejected_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, _, _) = store(dir.path());
        let (mut download, good) = first_response(&store, genesis);
        let check =
            |download: &mut StateDownload, response: StateResponse| download.on_response(&response).unwrap_err();

        let mut with_proof = good.clone();
        with_proof.proof = vec![0];
        assert!(matches!(check(&mut download, with_proof), StateDownloadError::UnexpectedProof));
        assert!(matches!(check(&mut download, StateResponse::default()), StateDownloadError::EmptyResponse));
        let mut swapped = good.clone();
        swapped.entries[0].entries.swap(0, 1);
        assert!(matches!(check(&mut download, swapped), StateDownloadError::NotAscending { index: 0, .. }));
        let mut stuck = good.clone();
        stuck.entries.truncate(1);
        stuck.entries[0].entries.clear();
        assert!(matches!(check(&mut download, stuck), StateDownloadError::NoProgress));
        let mut other_child = good.clone();
        other_child.entries[1].state_root = vec![1; 32];
        assert!(matches!(check(&mut download, other_child), StateDownloadError::UnexpectedChildTrie(_)));
        let mut lost_child = good.clone();
        lost_child.entries.truncate(1);
        assert!(matches!(check(&mut download, lost_child), StateDownloadError::UnexpectedChildTrie(_)));
        let mut child_first = good.clone();
        child_first.entries[0].state_root = vec![0; 32];
        assert!(matches!(check(&mut download, child_first), StateDownloadError::TopLevelNotFirst));
        let mut extra_child = good.clone();
        extra_child.entries.push(KeyValueStateEntry {
            state_root: vec![1; 32],
            entries: vec![StateEntry { key: b"x".to_vec(), value: b"y".to_vec() }],
            complete: true,
        });
        assert!(matches!(check(&mut download, extra_child), StateDownloadError::BadCompleteness(_)));
        assert_eq!(download.stats(), StateDownloadStats::default());

        download.on_response(&good).unwrap();
        assert_eq!(download.stats().responses, 1);
        // Sending the same pairs again is not progress.
        assert!(matches!(check(&mut download, good.clone()), StateDownloadError::NotAscending { .. }));
        // Claiming completion early: the state root gives it away.
        let (mut download, mut early) = first_response(&store, genesis);
        early.entries.truncate(1);
        early.entries[0].entries.truncate(1);
        early.entries[0].complete = true;
        assert!(download.on_response(&early).unwrap());
        assert!(matches!(download.finish(StateVersion::V1), Err(StateDownloadError::RootMismatch { .. })));
    }

    #[test]
    fn tampered_values_and_child_tries_fail_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, _, _) = store(dir.path());
        let root = store.header(&genesis).unwrap().unwrap().state_root.0;
        let full = serve_state_request(&store, &StateRequest::new(genesis, vec![], true)).unwrap();

        let mut value = full.clone();
        value.entries[0].entries[5].value.push(0);
        let mut download = StateDownload::new(genesis, root);
        assert!(download.on_response(&value).unwrap());
        assert!(matches!(download.finish(StateVersion::V1), Err(StateDownloadError::RootMismatch { .. })));

        let mut child = full.clone();
        child.entries[2].entries[3].value = b"forged".to_vec();
        let mut download = StateDownload::new(genesis, root);
        download.on_response(&child).unwrap();
        assert!(matches!(download.finish(StateVersion::V1), Err(StateDownloadError::ChildRootMismatch { .. })));

        let incomplete = StateDownload::new(genesis, root);
        assert!(matches!(incomplete.finish(StateVersion::V1), Err(StateDownloadError::Incomplete)));
        let mut download = StateDownload::new(genesis, root);
        download.on_response(&full).unwrap();
        // The wrong state version gives another root.
        assert!(matches!(download.finish(StateVersion::V0), Err(StateDownloadError::ChildRootMismatch { .. })));

        let limits = StateDownloadLimits { max_entries: 10, max_bytes: u64::MAX };
        let mut download = StateDownload::with_limits(genesis, root, limits);
        assert!(matches!(download.on_response(&full), Err(StateDownloadError::TooLarge { .. })));
    }

    fn state_root(store: &ChainStore, block: H256) -> [u8; 32] {
        store.header(&block).unwrap().unwrap().state_root.0
    }

    fn verify(response: &StateResponse, root: &[u8; 32], start: &[Vec<u8>]) -> RangeWalk {
        assert!(response.entries.is_empty());
        let proof = CompactProof::decode_bounded(&response.proof, MAX_STATE_RESPONSE_BYTES).unwrap();
        verify_range(&proof, root, start, usize::MAX).unwrap()
    }

    #[test]
    fn proof_downloads_with_any_budget_rebuild_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, top, children) = store(dir.path());
        let (plain, plain_stats) = download_with(&store, genesis, MAX_STATE_RESPONSE_DATA_BYTES, false);
        let mut counts = Vec::new();
        for budget in [0, 1, 100, 500, 2000, 4096, MAX_STATE_RESPONSE_DATA_BYTES] {
            let (state, stats) = download_with(&store, genesis, budget, true);
            assert_eq!(state.top, top, "budget {budget}");
            assert_eq!(state.children, children, "budget {budget}");
            assert_eq!(state, plain, "budget {budget}");
            assert!(stats.proof_bytes > 0);
            println!("proof budget {budget}: {} requests, {} proof bytes", stats.responses, stats.proof_bytes);
            counts.push(stats.responses);
        }
        assert_eq!(counts.last(), Some(&1));
        assert!(counts[0] > 50, "{counts:?}");
        assert_eq!(plain_stats.proof_bytes, 0);
    }

    #[test]
    fn a_proof_response_proves_the_walk_of_the_state() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, top, _) = store(dir.path());
        let root = state_root(&store, genesis);
        let response = serve_state_request(&store, &StateRequest::new(genesis, vec![], false)).unwrap();
        let walk = verify(&response, &root, &[]);
        assert!(walk.is_complete());
        // The levels of the response without a proof.
        let plain = serve_state_request(&store, &StateRequest::new(genesis, vec![], true)).unwrap();
        assert_eq!(walk.levels.len(), plain.entries.len());
        for (level, entry) in walk.levels.iter().zip(&plain.entries) {
            let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                entry.entries.iter().map(|e| (e.key.clone(), e.value.clone())).collect();
            assert_eq!(level.entries, pairs);
            assert_eq!(level.child_root.map(|r| r.to_vec()).unwrap_or_default(), entry.state_root);
            assert_eq!(level.complete, entry.complete);
        }
        println!(
            "whole state in one response: {} bytes with a proof, {} bytes of pairs",
            response.encoded_len(),
            plain.encoded_len()
        );

        // Resuming inside alpha: beta has alpha's root, whose walk this response started
        // in, so unlike `storage_collection` the proof does not walk it again.
        let alpha = child_storage_key(b"alpha");
        let start = vec![alpha.clone(), b"c009".to_vec()];
        let response = serve_state_request(&store, &StateRequest::new(genesis, start.clone(), false)).unwrap();
        let walk = verify(&response, &root, &start);
        let roots: Vec<Option<Vec<u8>>> = walk.levels.iter().map(|l| l.child_root.map(|r| r.to_vec())).collect();
        assert_eq!(roots, [None, Some(top[&alpha].clone()), Some(top[&child_storage_key(b"gamma")].clone())]);
        assert_eq!(walk.levels[1].entries.first().unwrap().0, b"c010");
        assert_eq!(walk.levels[1].entries.len(), 30);
        assert!(walk.levels[0].entries.iter().any(|(k, _)| *k == child_storage_key(b"beta")));

        // A budget of one byte: the walk stops in alpha after its first pair (and the
        // verifier reads the pairs inline in the nodes on the way).
        let request = StateRequest::new(genesis, start.clone(), false);
        let small = serve_state_request_with_budget(&store, &request, 1).unwrap();
        let walk = verify(&small, &root, &start);
        assert_eq!((walk.levels.len(), walk.depth), (2, 2));
        assert!(walk.levels[0].entries.is_empty());
        assert_eq!(walk.levels[1].entries[0].0, b"c010");
        assert!(small.proof.len() < response.proof.len());
    }

    #[test]
    fn a_proof_may_end_a_child_trie_without_a_main_trie_pair() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, top, _) = store(dir.path());
        let root = state_root(&store, genesis);
        let alpha = child_storage_key(b"alpha");
        let start = vec![alpha.clone(), b"c030".to_vec()];
        // A budget that stops the prover at alpha's last pair: the proof shows that alpha
        // is complete, but nothing of the main trie after it.
        let (response, walk) = (0..20_000)
            .step_by(16)
            .find_map(|budget| {
                let request = StateRequest::new(genesis, start.clone(), false);
                let response = serve_state_request_with_budget(&store, &request, budget).unwrap();
                let walk = verify(&response, &root, &start);
                (walk.depth == 1 && walk.levels[0].entries.is_empty()).then_some((response, walk))
            })
            .unwrap();
        assert!(walk.levels[1].complete && walk.levels[1].entries.last().unwrap().0 == b"c039");

        // A download at that cursor takes it, and goes on after alpha's key.
        let mut download = StateDownload::with_proofs(genesis, root);
        download.top.insert(alpha.clone(), top[&alpha].clone());
        download.cursor = start;
        assert!(!download.on_response(&response).unwrap());
        assert_eq!(download.cursor, vec![alpha]);
        assert_eq!(download.stats().entries, 9);
    }

    #[test]
    fn tampered_proofs_are_rejected_and_change_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, _, _) = store(dir.path());
        let root = state_root(&store, genesis);
        let good = serve_state_request_with_budget(&store, &StateRequest::new(genesis, vec![], false), 300).unwrap();
        let mut download = StateDownload::with_proofs(genesis, root);

        // Any byte altered.
        for i in 0..good.proof.len() {
            for flip in [0x01, 0x80] {
                let mut bad = good.clone();
                bad.proof[i] ^= flip;
                assert!(download.on_response(&bad).is_err(), "byte {i} ^ {flip:#x}");
            }
        }
        // Any item left out, an item added, bytes added or cut.
        let proof = CompactProof::decode_bounded(&good.proof, usize::MAX).unwrap();
        let response = |items: &[Vec<u8>]| StateResponse { entries: Vec::new(), proof: weft_trie::encode_proof(items) };
        for i in 0..proof.encoded_nodes.len() {
            let mut fewer = proof.encoded_nodes.clone();
            fewer.remove(i);
            assert!(download.on_response(&response(&fewer)).is_err(), "item {i} left out");
        }
        let mut more = proof.encoded_nodes.clone();
        more.push(vec![0]);
        assert!(matches!(download.on_response(&response(&more)), Err(StateDownloadError::BadProof(_))));
        let mut longer = good.clone();
        longer.proof.push(0);
        assert!(matches!(download.on_response(&longer), Err(StateDownloadError::BadProof(_))));
        let mut shorter = good.clone();
        shorter.proof.pop();
        assert!(matches!(download.on_response(&shorter), Err(StateDownloadError::BadProof(_))));
        // Pairs instead of a proof, or besides it, or nothing.
        let plain = serve_state_request_with_budget(&store, &StateRequest::new(genesis, vec![], true), 300).unwrap();
        assert!(matches!(download.on_response(&plain), Err(StateDownloadError::UnexpectedEntries)));
        let mut both = good.clone();
        both.entries = plain.entries.clone();
        assert!(matches!(download.on_response(&both), Err(StateDownloadError::UnexpectedEntries)));
        assert!(matches!(download.on_response(&StateResponse::default()), Err(StateDownloadError::MissingProof)));
        assert_eq!(download.stats(), StateDownloadStats::default());

        // Against another state root.
        let mut other = StateDownload::with_proofs(genesis, [7; 32]);
        assert!(matches!(
            other.on_response(&good),
            Err(StateDownloadError::BadProof(RangeProofError::Compact(CompactProofError::RootMismatch { .. })))
        ));
        // A download without proofs refuses it.
        assert!(matches!(
            StateDownload::new(genesis, root).on_response(&good),
            Err(StateDownloadError::UnexpectedProof)
        ));
        // Limits.
        let limits = StateDownloadLimits { max_entries: 3, max_bytes: u64::MAX };
        let mut limited = StateDownload::with_proofs_and_limits(genesis, root, limits);
        assert!(matches!(limited.on_response(&good), Err(StateDownloadError::TooLarge { .. })));

        // The good one, finally.
        assert!(!download.on_response(&good).unwrap());
        assert_eq!(download.stats().responses, 1);
        assert_eq!(download.stats().proof_bytes, good.proof.len() as u64);
        let next = download.next_request().unwrap();
        assert!(!next.no_proof && next.start.len() == 2, "stopped inside alpha");
        // A proof of a later range does not prove the way to the cursor.
        let later = StateRequest::new(genesis, vec![b"key0100".to_vec()], false);
        let later = serve_state_request_with_budget(&store, &later, 300).unwrap();
        assert!(matches!(download.on_response(&later), Err(StateDownloadError::BadProof(RangeProofError::Trie(_)))));
        assert_eq!(download.stats().responses, 1);
        assert_eq!(download.next_request(), Some(next));
    }
}

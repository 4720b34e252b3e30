//! `/<genesis>/light/2`: answering light-client requests from the chain store, as
//! Substrate's light-client request handler does, and checking the answers as a client.
//!
//! **Server** ([`serve_light_request`]):
//!
//! * `RemoteReadRequest {block, keys}`: a storage proof of the keys (presence or absence)
//!   against the block's state root: every trie node on the keys' lookup paths (and, for
//!   V1 tries, the hashed values read), deduplicated, as Substrate's `StorageProof`
//!   (SCALE `Vec<Vec<u8>>` of the nodes in ascending byte order, the order of its
//!   `BTreeSet`). A request without keys is a bad request (Substrate reports the peer).
//! * `RemoteReadChildRequest {block, storage_key, keys}`: `storage_key` is the child
//!   trie's *prefixed* key (`:child_storage:default:` ++ key), as Substrate's handler
//!   reads it; the proof covers the child trie's root in the main trie and the keys in
//!   the child trie (`read_child_proof`). A key without the default prefix gets an
//!   absent proof, as in Substrate.
//! * `RemoteCallRequest {block, method, data}`: the runtime call is executed on the
//!   block's state through a [`RecordingState`], which records every trie node the
//!   execution fetched, and the response carries those nodes as the proof (the call's
//!   output is not sent: light/2 carries only the proof). The code and `:heappages` are
//!   read from the block's state *outside* the recording, as Substrate does
//!   (`BackendRuntimeCode` on the unrecorded backend): a light client gets `:code` with
//!   a read request and re-executes the call on the proof. Modules come from the
//!   executor's compile cache (keyed by the code's hash).
//!
//! When the request is valid but cannot be answered (unknown block, pruned state, no
//! `:code`, the runtime call fails, a store error), the response carries *no* proof,
//! exactly as Substrate answers `proof: None`; the reason is logged at debug level. The
//! `prove_*` functions expose the same answers with their reasons.
//!
//! **Client**: [`verify_remote_read`] and [`verify_remote_read_child`] check a read
//! proof against a state root and return the proven values; [`remote_call_state`]
//! turns a call proof into a state backend on which the call can be re-executed.
//!
//! Runtime calls are synchronous and may take long: a network host runs
//! [`serve_light_request`] on a blocking thread.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use weft_block::H256;
use weft_chain_store::{ChainStore, StateView, StoreError, TrieState};
use weft_network_protocol::light::{
    decode_light_request, encode_light_response, RemoteCallResponse, RemoteReadResponse, RequestKind, Response,
    ResponseKind, MAX_LIGHT_RESPONSE_BYTES,
};
use weft_network_protocol::prost::Message;
use weft_network_protocol::ProtocolError;
use weft_runtime_executor::blob::{CODE_KEY, HEAP_PAGES_KEY};
use weft_runtime_executor::{
    heap_pages_from_storage, Executor, ExecutorError, ProofBackend, SharedState, StateBackend, StateError,
};
use weft_trie::db::{NodeStore, TrieDbError};
use weft_trie::{ProofError, StateVersion, StorageProof, CHILD_STORAGE_DEFAULT_PREFIX};

/// Why a light-client request is refused without a response. A valid request that
/// cannot be answered is not an error: it gets a response without a proof.
#[derive(Debug, thiserror::Error)]
pub enum LightServeError {
    /// The request does not decode, or its block hash is not 32 bytes.
    #[error("invalid light-client request: {0}")]
    BadRequest(#[from] ProtocolError),
    /// A read request without keys (Substrate reports the peer for it).
    #[error("light-client {kind} request without keys")]
    NoKeys {
        /// `"remote read"` or `"remote read child"`.
        kind: &'static str,
    },
    /// The encoded response would be over the protocol's limit.
    #[error("light-client response of {len} bytes is over the limit of {max} bytes")]
    ResponseTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// Why a proof could not be produced (the response then carries no proof).
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The block is not in the store.
    #[error("unknown block {0}")]
    UnknownBlock(H256),
    /// The block's state has been pruned.
    #[error("the state of block {0} has been pruned")]
    StatePruned(H256),
    /// The store failed.
    #[error("chain store: {0}")]
    Store(StoreError),
    /// Reading the state's trie failed.
    #[error("state: {0}")]
    Trie(#[from] TrieDbError),
    /// A child storage key that does not start with `:child_storage:default:`.
    #[error("child storage key 0x{} is not a default child trie key", hex::encode(.0))]
    InvalidChildStorageKey(Vec<u8>),
    /// The block's state has no `:code`.
    #[error("the state has no `:code`")]
    NoCode,
    /// Compiling or running the runtime failed.
    #[error("runtime call: {0}")]
    Executor(#[from] ExecutorError),
}

impl From<StoreError> for ProveError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownBlock(hash) => ProveError::UnknownBlock(hash),
            StoreError::StatePruned { hash, .. } => ProveError::StatePruned(hash),
            StoreError::Trie(e) => ProveError::Trie(e),
            other => ProveError::Store(other),
        }
    }
}

/// Why a light-client answer was rejected by [`verify_remote_read`],
/// [`verify_remote_read_child`] or [`remote_call_state`].
#[derive(Debug, thiserror::Error)]
pub enum LightVerifyError {
    /// The response carries no proof: the peer could not answer.
    #[error("the peer sent no proof (it could not answer)")]
    NoProof,
    /// The response is of another kind than the request.
    #[error("the response does not answer a {0} request")]
    WrongResponseKind(&'static str),
    /// The proof does not decode, does not match the state root, or lacks nodes.
    #[error("storage proof: {0}")]
    Proof(#[from] ProofError),
    /// A child storage key that does not start with `:child_storage:default:`.
    #[error("child storage key is not a default child trie key")]
    InvalidChildStorageKey,
    /// The proof cannot back a state.
    #[error("{0}")]
    State(#[from] StateError),
}

/// A [`StateView`] that records every trie node (and hashed value) fetched from the
/// store while it is read, as Substrate's proof recorder does. The recorded nodes
/// prove every read, `next_key` and root calculation made through it against its root.
pub struct RecordingState {
    view: StateView,
    root: [u8; 32],
    recorded: Mutex<HashMap<[u8; 32], Vec<u8>>>,
}

impl std::fmt::Debug for RecordingState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecordingState").field("root", &H256(self.root)).finish_non_exhaustive()
    }
}

impl RecordingState {
    /// Starts recording reads of `view`.
    pub fn new(view: StateView) -> Self {
        let root = view.root();
        RecordingState { view, root, recorded: Mutex::new(HashMap::new()) }
    }

    /// The state root.
    pub fn root(&self) -> [u8; 32] {
        self.root
    }

    /// Number of distinct nodes recorded so far.
    pub fn recorded_nodes(&self) -> usize {
        self.recorded.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// The recorded nodes in ascending byte order (Substrate's `StorageProof` order).
    pub fn proof(&self) -> Vec<Vec<u8>> {
        let recorded = self.recorded.lock().unwrap_or_else(PoisonError::into_inner);
        let mut nodes: Vec<Vec<u8>> = recorded.values().cloned().collect();
        nodes.sort_unstable();
        nodes
    }
}

impl NodeStore for RecordingState {
    fn node(&self, hash: &[u8; 32]) -> Result<Option<Cow<'_, [u8]>>, TrieDbError> {
        let node = self.view.node(hash)?;
        if let Some(bytes) = &node {
            let mut recorded = self.recorded.lock().unwrap_or_else(PoisonError::into_inner);
            recorded.entry(*hash).or_insert_with(|| bytes.to_vec());
        }
        Ok(node)
    }
}

/// Reads go through [`TrieState`] over the recorder, so every node they touch is recorded.
impl StateBackend for RecordingState {
    fn storage(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        TrieState::new(self, self.root).storage(key)
    }

    fn child_storage(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        TrieState::new(self, self.root).child_storage(child_key, key)
    }

    fn next_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        TrieState::new(self, self.root).next_key(key)
    }

    fn child_next_key(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        TrieState::new(self, self.root).child_next_key(child_key, key)
    }

    fn storage_root(&self, delta: &[(&[u8], Option<&[u8]>)], version: StateVersion) -> Result<[u8; 32], StateError> {
        TrieState::new(self, self.root).storage_root(delta, version)
    }

    fn child_storage_root(
        &self,
        child_key: &[u8],
        delta: &[(&[u8], Option<&[u8]>)],
        version: StateVersion,
    ) -> Result<[u8; 32], StateError> {
        TrieState::new(self, self.root).child_storage_root(child_key, delta, version)
    }
}

/// The child trie key without the `:child_storage:default:` prefix (Substrate's
/// `ChildType::from_prefixed_key` for `ParentKeyId`).
fn unprefixed_child_key(prefixed: &[u8]) -> Option<&[u8]> {
    prefixed.strip_prefix(CHILD_STORAGE_DEFAULT_PREFIX)
}

/// Storage proof of `keys` in the main trie of `block`'s state (Substrate's
/// `read_proof`): the nodes in ascending byte order, without duplicates.
pub fn prove_read<K: AsRef<[u8]>>(store: &ChainStore, block: &H256, keys: &[K]) -> Result<Vec<Vec<u8>>, ProveError> {
    let state = RecordingState::new(store.state_at(block)?);
    for key in keys {
        weft_trie::db::get(&state, &state.root, key.as_ref())?;
    }
    Ok(state.proof())
}

/// Storage proof of `keys` in the default child trie whose prefixed key is
/// `prefixed_child_key`, at `block` (Substrate's `read_child_proof`): the path to the
/// child root in the main trie, and the keys' paths in the child trie.
pub fn prove_child_read<K: AsRef<[u8]>>(
    store: &ChainStore,
    block: &H256,
    prefixed_child_key: &[u8],
    keys: &[K],
) -> Result<Vec<Vec<u8>>, ProveError> {
    let child_key = unprefixed_child_key(prefixed_child_key)
        .ok_or_else(|| ProveError::InvalidChildStorageKey(prefixed_child_key.to_vec()))?;
    let state = RecordingState::new(store.state_at(block)?);
    // The child root is read (and recorded) even without keys, as Substrate does.
    let root = TrieState::new(&state, state.root()).child_root(child_key)?;
    for key in keys {
        weft_trie::db::get(&state, &root, key.as_ref())?;
    }
    Ok(state.proof())
}

/// Executes `method` with `data` on `block`'s state and returns its output with the
/// proof of every trie node it read (Substrate's `execution_proof`). The runtime code
/// and heap pages are read outside the recording.
pub fn prove_execution(
    store: &ChainStore,
    executor: &Executor,
    block: &H256,
    method: &str,
    data: &[u8],
) -> Result<(Vec<u8>, Vec<Vec<u8>>), ProveError> {
    let view = store.state_at(block)?;
    let code = view.get(CODE_KEY)?.ok_or(ProveError::NoCode)?;
    let heap_pages = heap_pages_from_storage(view.get(HEAP_PAGES_KEY)?.as_deref());
    let module = executor.compile(&code, heap_pages)?;
    let recorder = Arc::new(RecordingState::new(view));
    let outcome = module.call_on_state(method, data, recorder.clone())?;
    Ok((outcome.output, recorder.proof()))
}

/// The proof as sent: `Some(StorageProof)` or, when it could not be produced, `None`
/// (logged).
fn encoded_proof(what: &str, block: &[u8], result: Result<Vec<Vec<u8>>, ProveError>) -> Option<Vec<u8>> {
    match result {
        Ok(nodes) => Some(weft_trie::encode_proof(&nodes)),
        Err(error) => {
            tracing::debug!(block = %hex::encode(block), %error, "cannot answer light-client {what} request");
            None
        }
    }
}

/// Serves a decoded light-client request from `store` (see the module documentation),
/// running remote calls with `executor`.
pub fn serve_light_request(
    store: &ChainStore,
    executor: &Executor,
    request: &RequestKind,
) -> Result<Response, LightServeError> {
    let block = request.block_hash()?;
    let response = match request {
        RequestKind::RemoteRead(r) => {
            if r.keys.is_empty() {
                return Err(LightServeError::NoKeys { kind: "remote read" });
            }
            let proof = encoded_proof("remote read", &r.block, prove_read(store, &block, &r.keys));
            ResponseKind::RemoteRead(RemoteReadResponse { proof })
        }
        RequestKind::RemoteReadChild(r) => {
            if r.keys.is_empty() {
                return Err(LightServeError::NoKeys { kind: "remote read child" });
            }
            let result = prove_child_read(store, &block, &r.storage_key, &r.keys);
            let proof = encoded_proof("remote read child", &r.block, result);
            ResponseKind::RemoteRead(RemoteReadResponse { proof })
        }
        RequestKind::RemoteCall(r) => {
            let result = prove_execution(store, executor, &block, &r.method, &r.data).map(|(_, proof)| proof);
            let proof = encoded_proof("remote call", &r.block, result);
            ResponseKind::RemoteCall(RemoteCallResponse { proof })
        }
    };
    let response = Response { response: Some(response) };
    let len = response.encoded_len();
    if len > MAX_LIGHT_RESPONSE_BYTES {
        return Err(LightServeError::ResponseTooLarge { len, max: MAX_LIGHT_RESPONSE_BYTES });
    }
    Ok(response)
}

/// Decodes a light-client request received from a peer, serves it and encodes the
/// response.
pub fn serve_light_request_bytes(
    store: &ChainStore,
    executor: &Executor,
    request: &[u8],
) -> Result<Vec<u8>, LightServeError> {
    let request = decode_light_request(request)?;
    Ok(encode_light_response(&serve_light_request(store, executor, &request)?))
}

/// The proof of a read response, or why there is none.
pub fn read_response_proof(response: &ResponseKind) -> Result<&[u8], LightVerifyError> {
    match response {
        ResponseKind::RemoteRead(r) => r.proof.as_deref().ok_or(LightVerifyError::NoProof),
        ResponseKind::RemoteCall(_) => Err(LightVerifyError::WrongResponseKind("remote read")),
    }
}

/// The proof of a call response, or why there is none.
pub fn call_response_proof(response: &ResponseKind) -> Result<&[u8], LightVerifyError> {
    match response {
        ResponseKind::RemoteCall(r) => r.proof.as_deref().ok_or(LightVerifyError::NoProof),
        ResponseKind::RemoteRead(_) => Err(LightVerifyError::WrongResponseKind("remote call")),
    }
}

/// Keys with their proven values (`None`: proven absent), in the order asked.
pub type ProvenValues = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Decodes a SCALE `StorageProof` of a light-client response (at most
/// [`MAX_LIGHT_RESPONSE_BYTES`]; no node twice).
fn decode_storage_proof(proof: &[u8]) -> Result<StorageProof, ProofError> {
    StorageProof::decode(proof, MAX_LIGHT_RESPONSE_BYTES)
}

/// Checks a remote-read proof against `state_root` and returns the value (or proven
/// absence) of every key, in the order of `keys`. Fails if the proof is not a valid
/// partial trie under the root, holds nodes unrelated to it, or lacks a node needed for
/// one of the keys.
pub fn verify_remote_read<K: AsRef<[u8]>>(
    state_root: &[u8; 32],
    keys: &[K],
    proof: &[u8],
) -> Result<ProvenValues, LightVerifyError> {
    let proof = decode_storage_proof(proof)?;
    let verified = proof.verify(state_root)?;
    keys.iter().map(|key| Ok((key.as_ref().to_vec(), verified.read(key.as_ref())?))).collect()
}

/// Checks a remote-read-child proof against `state_root` and returns the value (or
/// proven absence) of every key of the child trie `prefixed_child_key`
/// (`:child_storage:default:` ++ key). All keys are absent if the proof shows that the
/// child trie does not exist.
pub fn verify_remote_read_child<K: AsRef<[u8]>>(
    state_root: &[u8; 32],
    prefixed_child_key: &[u8],
    keys: &[K],
    proof: &[u8],
) -> Result<ProvenValues, LightVerifyError> {
    let child_key = unprefixed_child_key(prefixed_child_key).ok_or(LightVerifyError::InvalidChildStorageKey)?;
    let proof = decode_storage_proof(proof)?;
    let verified = proof.verify(state_root)?;
    let child = verified.child_trie(child_key)?;
    keys.iter()
        .map(|key| {
            let value = match &child {
                Some(child) => child.read(key.as_ref())?,
                None => None,
            };
            Ok((key.as_ref().to_vec(), value))
        })
        .collect()
}

/// A state that answers only an empty call proof: every read fails.
struct EmptyProofState;

impl StateBackend for EmptyProofState {
    fn storage(&self, _key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Err(StateError("the call proof is empty: it proves no read".into()))
    }

    fn child_storage(&self, _child_key: &[u8], _key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.storage(&[])
    }

    fn next_key(&self, _key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.storage(&[])
    }

    fn child_next_key(&self, _child_key: &[u8], _key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        self.storage(&[])
    }

    fn storage_root(&self, _delta: &[(&[u8], Option<&[u8]>)], _version: StateVersion) -> Result<[u8; 32], StateError> {
        Err(StateError("a proof-backed state cannot compute storage roots".into()))
    }

    fn child_storage_root(
        &self,
        _child_key: &[u8],
        _delta: &[(&[u8], Option<&[u8]>)],
        _version: StateVersion,
    ) -> Result<[u8; 32], StateError> {
        self.storage_root(&[], StateVersion::V0)
    }
}

/// A state backed by a remote-call proof, checked against `state_root`, on which a
/// light client re-executes the call (with the code it got by a read request). Reads
/// the proof does not cover fail, and so does the call. An empty proof (a call that
/// read nothing) gives a state on which every read fails.
pub fn remote_call_state(state_root: &[u8; 32], proof: &[u8]) -> Result<SharedState, LightVerifyError> {
    let proof = decode_storage_proof(proof)?;
    if proof.nodes().is_empty() {
        return Ok(Arc::new(EmptyProofState));
    }
    // Checked here for a precise error; `ProofBackend::new` checks it again.
    proof.verify(state_root)?;
    Ok(Arc::new(ProofBackend::new(proof, *state_root)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state_server::test_state::store;
    use weft_network_protocol::light::{
        decode_light_response, encode_light_request, RemoteReadChildRequest, RemoteReadRequest, Request,
    };
    use weft_trie::child_storage_key;

    fn read_request(block: H256, keys: &[&[u8]]) -> Vec<u8> {
        let kind = RequestKind::RemoteRead(RemoteReadRequest {
            block: block.0.to_vec(),
            keys: keys.iter().map(|k| k.to_vec()).collect(),
        });
        encode_light_request(&Request { request: Some(kind) })
    }

    fn child_request(block: H256, storage_key: &[u8], keys: &[&[u8]]) -> Vec<u8> {
        let kind = RequestKind::RemoteReadChild(RemoteReadChildRequest {
            block: block.0.to_vec(),
            storage_key: storage_key.to_vec(),
            keys: keys.iter().map(|k| k.to_vec()).collect(),
        });
        encode_light_request(&Request { request: Some(kind) })
    }

    fn answer(store: &ChainStore, request: &[u8]) -> ResponseKind {
        decode_light_response(&serve_light_request_bytes(store, &Executor::default(), request).unwrap()).unwrap()
    }

    #[test]
    fn read_proofs_of_present_absent_and_hashed_values() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, top, _) = store(dir.path());
        let root = store.header(&genesis).unwrap().unwrap().state_root.0;
        let keys: [&[u8]; 5] = [b"key0005", b"key0099", b"nope", b":code", b"key0005"];
        let response = answer(&store, &read_request(genesis, &keys));
        let proof = read_response_proof(&response).unwrap();
        let nodes = weft_network_protocol::decode_proof_nodes(proof).unwrap();
        assert!(nodes.windows(2).all(|w| w[0] < w[1]), "sorted, without duplicates");
        // The 99-byte value is stored hashed (V1) and is in the proof as it is.
        assert!(nodes.contains(&top[&b"key0099".to_vec()]));
        let values = verify_remote_read(&root, &keys, proof).unwrap();
        for (key, value) in &values {
            assert_eq!(value.as_ref(), top.get(key), "{key:?}");
        }
        assert_eq!(values[2].1, None);

        let mut tampered = nodes.clone();
        let last = tampered.len() - 1;
        tampered[last][0] ^= 1;
        let tampered = weft_trie::encode_proof(&tampered);
        assert!(matches!(verify_remote_read(&root, &keys, &tampered), Err(LightVerifyError::Proof(_))));
        let missing = weft_trie::encode_proof(&nodes[1..]);
        assert!(verify_remote_read(&root, &keys, &missing).is_err());
        assert!(matches!(verify_remote_read(&[1; 32], &keys, proof), Err(LightVerifyError::Proof(_))));
        assert!(matches!(call_response_proof(&response), Err(LightVerifyError::WrongResponseKind(_))));
    }

    #[test]
    fn child_read_proofs() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, _, children) = store(dir.path());
        let root = store.header(&genesis).unwrap().unwrap().state_root.0;
        let alpha = child_storage_key(b"alpha");
        let keys: [&[u8]; 3] = [b"c000", b"c039", b"zzz"];
        let response = answer(&store, &child_request(genesis, &alpha, &keys));
        let proof = read_response_proof(&response).unwrap();
        let values = verify_remote_read_child(&root, &alpha, &keys, proof).unwrap();
        let pairs = &children[&b"alpha".to_vec()];
        for (key, value) in &values {
            assert_eq!(value.as_ref(), pairs.get(key));
        }
        assert!(values[0].1.is_some() && values[2].1.is_none());
        // The proof also shows the child root in the main trie.
        let top_read = verify_remote_read(&root, &[&alpha], proof).unwrap();
        assert_eq!(
            top_read[0].1.as_deref(),
            Some(&StateView::child_root(&store.state_at(&genesis).unwrap(), b"alpha").unwrap()[..])
        );

        // A child trie that does not exist: the proof shows its absence.
        let delta = child_storage_key(b"delta");
        let response = answer(&store, &child_request(genesis, &delta, &keys));
        let values = verify_remote_read_child(&root, &delta, &keys, read_response_proof(&response).unwrap()).unwrap();
        assert!(values.iter().all(|(_, v)| v.is_none()));

        // Not a default child trie key: no proof, as Substrate answers.
        let response = answer(&store, &child_request(genesis, b"alpha", &keys));
        assert!(matches!(read_response_proof(&response), Err(LightVerifyError::NoProof)));
        assert!(matches!(
            verify_remote_read_child(&root, b"alpha", &keys, &[0]),
            Err(LightVerifyError::InvalidChildStorageKey)
        ));
    }

    #[test]
    fn recorded_nodes_prove_next_keys_and_roots() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, _, _) = store(dir.path());
        let view = store.state_at(&genesis).unwrap();
        let root = view.root();
        let recorder = RecordingState::new(view.clone());
        let after: [&[u8]; 4] = [b"", b"key0010", b"key00105", b"\xff"];
        let nexts: Vec<_> = after.iter().map(|k| recorder.next_key(k).unwrap()).collect();
        let child_next = recorder.child_next_key(b"gamma", b"c010").unwrap();
        let delta: [(&[u8], Option<&[u8]>); 3] = [
            (b"key0003", None),
            (b"key0050", Some(b"new value that is long enough to be hashed")),
            (b"new", Some(b"x")),
        ];
        let new_root = recorder.storage_root(&delta, StateVersion::V1).unwrap();
        assert!(recorder.recorded_nodes() > 0);

        // The nodes alone answer the same next keys ...
        let proof = recorder.proof();
        let backend = remote_call_state(&root, &weft_trie::encode_proof(&proof)).unwrap();
        for (key, next) in after.iter().zip(&nexts) {
            assert_eq!(&backend.next_key(key).unwrap(), next);
        }
        assert_eq!(backend.child_next_key(b"gamma", b"c010").unwrap(), child_next);
        assert_eq!(child_next.as_deref(), Some(&b"c011"[..]));
        // ... and give the same root after the changes.
        let nodes: HashMap<[u8; 32], Vec<u8>> = proof.into_iter().map(|n| (weft_trie::blake2_256(&n), n)).collect();
        let from_proof = weft_trie::db::apply_delta(&nodes, &root, delta.iter().copied(), StateVersion::V1).unwrap();
        assert_eq!(from_proof.root, new_root);
        assert_eq!(view.storage_root(&delta, StateVersion::V1).unwrap(), new_root);
    }

    #[test]
    fn bad_and_unanswerable_requests() {
        let dir = tempfile::tempdir().unwrap();
        let (store, genesis, _, _) = store(dir.path());
        let executor = Executor::default();
        let serve = |bytes: &[u8]| serve_light_request_bytes(&store, &executor, bytes);
        assert!(matches!(serve(&read_request(genesis, &[])), Err(LightServeError::NoKeys { .. })));
        assert!(matches!(serve(&child_request(genesis, b"x", &[])), Err(LightServeError::NoKeys { .. })));
        assert!(matches!(serve(&[0xff, 0xff, 0x03]), Err(LightServeError::BadRequest(_))));
        let response = answer(&store, &read_request(H256([3; 32]), &[b"key0001"]));
        assert!(matches!(read_response_proof(&response), Err(LightVerifyError::NoProof)));
        assert!(matches!(prove_read(&store, &H256([3; 32]), &[b"k"]), Err(ProveError::UnknownBlock(_))));
        // The test state's `:code` is not a runtime.
        assert!(matches!(
            prove_execution(&store, &executor, &genesis, "Core_version", &[]),
            Err(ProveError::Executor(_))
        ));
    }
}

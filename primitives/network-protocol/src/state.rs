//! `/<genesis>/state/2`: state requests and responses (used by state sync).
//!
//! Protobuf messages of `package api.v1` (the same `api.v1.proto` as the block
//! messages, proto3). A request names a block and the key to resume from (`start`:
//! one key for the top trie, or the child trie's storage key followed by the key in
//! that child trie); the response carries either a SCALE-encoded compact proof in
//! `proof` (the default), or, when `no_proof` was set, the raw key-value pairs grouped
//! per trie in `entries`.
//!
//! Limits follow the reference node: requests at most 1 MiB, responses at most 16 MiB
//! (`sc_network::MAX_RESPONSE_SIZE`; servers aim at about 2 MiB of data per response).

use prost::Message;
use weft_block::H256;

use crate::error::{check_size, hash_field, ProtocolError};

/// Largest state request accepted or sent (1 MiB).
pub const MAX_STATE_REQUEST_BYTES: usize = 1024 * 1024;
/// Largest state response accepted (16 MiB).
pub const MAX_STATE_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// `api.v1.StateRequest`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct StateRequest {
    /// Hash of the block whose state is requested (32 bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub block: Vec<u8>,
    /// Key to start after: empty for the beginning, one key in the top trie, or the
    /// child trie's storage key and a key in it.
    #[prost(bytes = "vec", repeated, tag = "2")]
    pub start: Vec<Vec<u8>>,
    /// Ask for raw key-value pairs instead of a proof.
    #[prost(bool, tag = "3")]
    pub no_proof: bool,
}

/// `api.v1.StateResponse`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct StateResponse {
    /// Key-value pairs per trie (only when `no_proof` was requested).
    #[prost(message, repeated, tag = "1")]
    pub entries: Vec<KeyValueStateEntry>,
    /// SCALE-encoded compact proof (when `no_proof` was not requested); see
    /// [`crate::decode_proof_nodes`].
    #[prost(bytes = "vec", tag = "2")]
    pub proof: Vec<u8>,
}

/// `api.v1.KeyValueStateEntry`: the pairs of one trie.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct KeyValueStateEntry {
    /// Root of this trie; empty for the top trie.
    #[prost(bytes = "vec", tag = "1")]
    pub state_root: Vec<u8>,
    /// The pairs, in key order.
    #[prost(message, repeated, tag = "2")]
    pub entries: Vec<StateEntry>,
    /// Whether this trie has no more keys after these.
    #[prost(bool, tag = "3")]
    pub complete: bool,
}

/// `api.v1.StateEntry`: one key-value pair.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct StateEntry {
    /// The key.
    #[prost(bytes = "vec", tag = "1")]
    pub key: Vec<u8>,
    /// The value.
    #[prost(bytes = "vec", tag = "2")]
    pub value: Vec<u8>,
}

impl StateRequest {
    /// A request for the state of `block`, resuming after `start`.
    pub fn new(block: H256, start: Vec<Vec<u8>>, no_proof: bool) -> Self {
        StateRequest { block: block.0.to_vec(), start, no_proof }
    }

    /// The block hash.
    pub fn block_hash(&self) -> Result<H256, ProtocolError> {
        hash_field("state request block", &self.block)
    }
}

/// Encodes a state request.
pub fn encode_state_request(request: &StateRequest) -> Vec<u8> {
    request.encode_to_vec()
}

/// Decodes a state request received from a peer (at most
/// [`MAX_STATE_REQUEST_BYTES`]) and checks that its block hash is 32 bytes.
pub fn decode_state_request(bytes: &[u8]) -> Result<StateRequest, ProtocolError> {
    check_size("state request", bytes, MAX_STATE_REQUEST_BYTES)?;
    let request = StateRequest::decode(bytes).map_err(|e| ProtocolError::protobuf("state request", e))?;
    request.block_hash()?;
    Ok(request)
}

/// Encodes a state response.
pub fn encode_state_response(response: &StateResponse) -> Vec<u8> {
    response.encode_to_vec()
}

/// Most key-value pairs (summed over all tries) a state response may hold for it to be
/// decoded at all (refused before any allocation).
pub const MAX_DECODED_STATE_ENTRIES: usize = 1 << 20;

/// Decodes a state response (at most [`MAX_STATE_RESPONSE_BYTES`] and
/// [`MAX_DECODED_STATE_ENTRIES`] pairs).
pub fn decode_state_response(bytes: &[u8]) -> Result<StateResponse, ProtocolError> {
    check_size("state response", bytes, MAX_STATE_RESPONSE_BYTES)?;
    crate::scan::limit_entries("state response", bytes, 1, 1 << 16, &[2], MAX_DECODED_STATE_ENTRIES)?;
    StateResponse::decode(bytes).map_err(|e| ProtocolError::protobuf("state response", e))
}

//! `/<genesis>/light/2`: light-client requests and responses.
//!
//! Protobuf messages of `package api.v1.light` (polkadot-sdk's
//! `substrate/client/network/light/src/schema/light.v1.proto`). Unlike the block and
//! state messages this schema is **proto2**: the `required` fields are always written,
//! even when empty, and the responses' `proof` is `optional`, so an absent proof ("the
//! peer could not answer", e.g. a pruned block) is distinct from an empty one.
//!
//! Field numbers have gaps (requests use 1, 2 and 4; responses 1 and 2) because
//! retired message kinds' numbers are never reused. Newer polkadot-sdk versions add
//! request kinds under new numbers (6: RFC-0009 `RemoteReadRequestV2`; 7, with
//! response 5: RFC-0174 extrinsics reads, served under `/light/3`); they are not part
//! of `light/2`, and a message of such a kind decodes here with an empty `oneof`,
//! which [`decode_light_request`] / [`decode_light_response`] reject.
//!
//! Proofs are SCALE `StorageProof`s, a list of trie nodes: see
//! [`crate::decode_proof_nodes`]. Limits follow the reference node: requests at most
//! 1 MiB, responses at most 16 MiB.

use prost::Message;
use weft_block::H256;

use crate::error::{check_size, hash_field, ProtocolError};

/// Largest light-client request accepted or sent (1 MiB).
pub const MAX_LIGHT_REQUEST_BYTES: usize = 1024 * 1024;
/// Largest light-client response accepted (16 MiB).
pub const MAX_LIGHT_RESPONSE_BYTES: usize = 16 * 1024 * 1024;

/// `api.v1.light.Request`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Request {
    /// The request (`oneof request`).
    #[prost(oneof = "RequestKind", tags = "1, 2, 4")]
    pub request: Option<RequestKind>,
}

/// `api.v1.light.Request.request`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Oneof)]
pub enum RequestKind {
    /// Execute a runtime call and prove it.
    #[prost(message, tag = "1")]
    RemoteCall(RemoteCallRequest),
    /// Prove top-trie storage values.
    #[prost(message, tag = "2")]
    RemoteRead(RemoteReadRequest),
    /// Prove child-trie storage values.
    #[prost(message, tag = "4")]
    RemoteReadChild(RemoteReadChildRequest),
}

/// `api.v1.light.Response`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Response {
    /// The response (`oneof response`).
    #[prost(oneof = "ResponseKind", tags = "1, 2")]
    pub response: Option<ResponseKind>,
}

/// `api.v1.light.Response.response`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Oneof)]
pub enum ResponseKind {
    /// Answer to a [`RemoteCallRequest`].
    #[prost(message, tag = "1")]
    RemoteCall(RemoteCallResponse),
    /// Answer to a [`RemoteReadRequest`] or a [`RemoteReadChildRequest`].
    #[prost(message, tag = "2")]
    RemoteRead(RemoteReadResponse),
}

/// `api.v1.light.RemoteCallRequest`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct RemoteCallRequest {
    /// Hash of the block to call at (32 bytes).
    #[prost(bytes = "vec", required, tag = "2")]
    pub block: Vec<u8>,
    /// Runtime API function, e.g. `Core_version`.
    #[prost(string, required, tag = "3")]
    pub method: String,
    /// SCALE-encoded arguments.
    #[prost(bytes = "vec", required, tag = "4")]
    pub data: Vec<u8>,
}

/// `api.v1.light.RemoteCallResponse`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct RemoteCallResponse {
    /// Execution proof; absent when the peer could not answer.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub proof: Option<Vec<u8>>,
}

/// `api.v1.light.RemoteReadRequest`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct RemoteReadRequest {
    /// Hash of the block to read at (32 bytes).
    #[prost(bytes = "vec", required, tag = "2")]
    pub block: Vec<u8>,
    /// Storage keys.
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub keys: Vec<Vec<u8>>,
}

/// `api.v1.light.RemoteReadResponse`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct RemoteReadResponse {
    /// Read proof; absent when the peer could not answer.
    #[prost(bytes = "vec", optional, tag = "2")]
    pub proof: Option<Vec<u8>>,
}

/// `api.v1.light.RemoteReadChildRequest`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct RemoteReadChildRequest {
    /// Hash of the block to read at (32 bytes).
    #[prost(bytes = "vec", required, tag = "2")]
    pub block: Vec<u8>,
    /// The child trie's storage key (relative to the default child trie prefix).
    #[prost(bytes = "vec", required, tag = "3")]
    pub storage_key: Vec<u8>,
    /// Keys in the child trie.
    #[prost(bytes = "vec", repeated, tag = "6")]
    pub keys: Vec<Vec<u8>>,
}

impl RequestKind {
    /// The block the request is about.
    pub fn block_hash(&self) -> Result<H256, ProtocolError> {
        let block = match self {
            RequestKind::RemoteCall(r) => &r.block,
            RequestKind::RemoteRead(r) => &r.block,
            RequestKind::RemoteReadChild(r) => &r.block,
        };
        hash_field("light request block", block)
    }
}

impl ResponseKind {
    /// The proof, if the peer answered.
    pub fn proof(&self) -> Option<&[u8]> {
        match self {
            ResponseKind::RemoteCall(r) => r.proof.as_deref(),
            ResponseKind::RemoteRead(r) => r.proof.as_deref(),
        }
    }
}

/// Encodes a light-client request.
pub fn encode_light_request(request: &Request) -> Vec<u8> {
    request.encode_to_vec()
}

/// Decodes a light-client request received from a peer (at most
/// [`MAX_LIGHT_REQUEST_BYTES`]); it must carry a known request kind with a 32-byte
/// block hash.
pub fn decode_light_request(bytes: &[u8]) -> Result<RequestKind, ProtocolError> {
    check_size("light request", bytes, MAX_LIGHT_REQUEST_BYTES)?;
    let request = Request::decode(bytes).map_err(|e| ProtocolError::protobuf("light request", e))?;
    let kind = request.request.ok_or(ProtocolError::EmptyMessage { what: "light request" })?;
    kind.block_hash()?;
    Ok(kind)
}

/// Encodes a light-client response.
pub fn encode_light_response(response: &Response) -> Vec<u8> {
    response.encode_to_vec()
}

/// Decodes a light-client response (at most [`MAX_LIGHT_RESPONSE_BYTES`]); it must
/// carry a known response kind.
pub fn decode_light_response(bytes: &[u8]) -> Result<ResponseKind, ProtocolError> {
    check_size("light response", bytes, MAX_LIGHT_RESPONSE_BYTES)?;
    let response = Response::decode(bytes).map_err(|e| ProtocolError::protobuf("light response", e))?;
    response.response.ok_or(ProtocolError::EmptyMessage { what: "light response" })
}

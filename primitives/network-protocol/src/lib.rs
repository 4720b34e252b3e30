//! Wire formats of the Substrate network protocols that Weft speaks, without any I/O.
//!
//! This crate owns the bytes that go inside libp2p substreams once a protocol has been
//! negotiated, and the names under which the protocols are negotiated. It does not own
//! transports, multiplexing, the LEB128 length prefixes that frame every request,
//! response and notification, peer management, or any decision taken on the decoded
//! data: those belong to Weft's network bridge and sync.
//!
//! Modules:
//! * [`sync`]: `/…/sync/2` block requests and responses (protobuf `api.v1`), the
//!   [`sync::BlockAttributes`] bits, a typed view of responses whose headers and
//!   extrinsics are decoded with weft-block's bounded decoders and whose headers are
//!   checked against the stated hashes, and [`sync::validate_response`].
//! * [`state`]: `/…/state/2` state requests and responses (protobuf `api.v1`).
//! * [`light`]: `/…/light/2` light-client requests and responses (protobuf `api.v1.light`).
//! * [`announce`]: the SCALE formats of the `/…/block-announces/1` handshake and
//!   notifications and of `/…/transactions/1` notifications, and the notification size
//!   limits (GRANDPA's included).
//! * [`names`]: protocol names from the genesis hash, fork id and legacy protocol id.
//!
//! Every decoder takes untrusted bytes: it refuses oversized input before decoding,
//! never panics, never allocates from an unchecked length prefix, counts the entries
//! of repeated protobuf messages before prost allocates a struct for each, and reports
//! what was wrong as a [`ProtocolError`]. Protobuf schemas are hand-written `prost`
//! messages with exactly the field numbers and types of polkadot-sdk's `.proto` files,
//! so encoding a decoded message gives back the bytes a Substrate node sent.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod scan;

pub mod announce;
pub mod light;
pub mod names;
pub mod state;
pub mod sync;

pub use error::ProtocolError;
/// The protobuf library the schemas are built on (for `prost::Message` methods such as
/// `encode_to_vec` and `encoded_len`).
pub use prost;

use weft_block::{decode_exact, DecodeLimits};

/// Limits for a SCALE-encoded proof (`Vec<Vec<u8>>` of trie nodes) taken from a
/// response of at most 16 MiB.
const PROOF_LIMITS: DecodeLimits =
    DecodeLimits { max_input_len: 16 * 1024 * 1024, max_depth: 4, max_heap: 128 * 1024 * 1024 };

/// Decodes the SCALE `Vec<Vec<u8>>` of trie nodes that state responses (`proof`, a
/// `CompactProof`) and light-client responses (`proof`, a `StorageProof`) carry.
pub fn decode_proof_nodes(bytes: &[u8]) -> Result<Vec<Vec<u8>>, ProtocolError> {
    error::check_size("proof", bytes, PROOF_LIMITS.max_input_len)?;
    Ok(decode_exact("proof", bytes, &PROOF_LIMITS)?)
}

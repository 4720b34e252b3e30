//! The error type shared by every decoder and check of this crate.

use weft_block::{BlockNumber, DecodeError, H256};

/// Why bytes received from a peer (or a request/response pair) were rejected.
///
/// Block-level variants carry the index of the offending block in the response, so a
/// caller can report exactly which entry of a peer's answer was bad.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// The message is larger than the protocol allows; it was not decoded.
    #[error("{what} is {len} bytes, over the limit of {max} bytes")]
    TooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The protobuf encoding is malformed (truncated, bad wire type, invalid UTF-8, ...).
    #[error("invalid protobuf {what}: {reason}")]
    Protobuf {
        /// What was being decoded.
        what: &'static str,
        /// prost's description of the problem.
        reason: String,
    },
    /// A SCALE-encoded payload is malformed.
    #[error(transparent)]
    Scale(#[from] DecodeError),
    /// A message has more repeated entries than this crate decodes; it was refused
    /// before being decoded.
    #[error("{what} has more than {max} entries")]
    TooManyEntries {
        /// What was being decoded.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A protobuf message whose `oneof` payload is absent (or of a kind this crate
    /// does not know).
    #[error("{what} carries no (known) payload")]
    EmptyMessage {
        /// What was being decoded.
        what: &'static str,
    },
    /// A field that must hold a 32-byte hash has another length.
    #[error("{what} is {len} bytes, expected a 32-byte hash")]
    BadHashLength {
        /// Which field.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// `BlockRequest.from_block` is absent.
    #[error("block request has no `from_block`")]
    MissingFromBlock,
    /// `BlockRequest.from_block.number` is not a 4-byte little-endian block number.
    #[error("block request start number is {len} bytes, expected 4 (little-endian u32)")]
    BadStartNumber {
        /// Its length.
        len: usize,
    },
    /// `BlockRequest.direction` is neither 0 (ascending) nor 1 (descending).
    #[error("block request direction {0} is neither 0 (ascending) nor 1 (descending)")]
    BadDirection(i32),
    /// `BlockRequest.fields` has attribute bits that do not exist.
    #[error("block request fields {0:#010x} set unknown attribute bits")]
    BadAttributes(u32),
    /// A block's `hash` is not 32 bytes.
    #[error("block {index} of the response: hash is {len} bytes, expected 32")]
    BlockHashLength {
        /// Index of the block in the response.
        index: usize,
        /// Length of its hash field.
        len: usize,
    },
    /// A block's header does not decode.
    #[error("block {index} of the response: {source}")]
    BlockHeader {
        /// Index of the block in the response.
        index: usize,
        /// The decoding error.
        source: DecodeError,
    },
    /// One of a block's extrinsics does not decode.
    #[error("block {index} of the response, extrinsic {extrinsic}: {source}")]
    BlockExtrinsic {
        /// Index of the block in the response.
        index: usize,
        /// Index of the extrinsic in the body.
        extrinsic: usize,
        /// The decoding error.
        source: DecodeError,
    },
    /// A block's justifications do not decode.
    #[error("block {index} of the response: {source}")]
    BlockJustifications {
        /// Index of the block in the response.
        index: usize,
        /// The decoding error.
        source: DecodeError,
    },
    /// A block's header does not hash to the hash the peer stated for it.
    #[error("block {index} of the response: header hashes to {computed}, but the stated hash is {stated}")]
    HashMismatch {
        /// Index of the block in the response.
        index: usize,
        /// The hash in the message.
        stated: H256,
        /// blake2-256 of the header in the message.
        computed: H256,
    },
    /// The response has more blocks than the request allowed.
    #[error("response has {count} blocks, but at most {max} were requested")]
    TooManyBlocks {
        /// Blocks in the response.
        count: usize,
        /// The maximum allowed by the request.
        max: usize,
    },
    /// The first block is not the one the request started from (by hash).
    #[error("response starts at block {got}, but the request started from {expected}")]
    WrongStartHash {
        /// The requested start.
        expected: H256,
        /// The first block of the response.
        got: H256,
    },
    /// The first block is not the one the request started from (by number).
    #[error("response starts at block #{got}, but the request started from #{expected}")]
    WrongStartNumber {
        /// The requested start.
        expected: BlockNumber,
        /// The number of the first block of the response.
        got: BlockNumber,
    },
    /// The request asked for headers but a block came without one.
    #[error("block {index} of the response has no header although headers were requested")]
    MissingHeader {
        /// Index of the block in the response.
        index: usize,
    },
    /// A block does not follow the previous one in the requested direction.
    #[error("block {index} of the response does not follow block {} in {direction} order", index - 1)]
    NotAChain {
        /// Index of the block that does not link to its predecessor in the response.
        index: usize,
        /// `"ascending"` or `"descending"`.
        direction: &'static str,
    },
    /// A block-announce carries a block state byte other than 0 (normal) or 1 (best).
    #[error("block announce state byte {0} is neither 0 (normal) nor 1 (best)")]
    BadBlockState(u8),
}

impl ProtocolError {
    pub(crate) fn protobuf(what: &'static str, err: prost::DecodeError) -> Self {
        ProtocolError::Protobuf { what, reason: err.to_string() }
    }
}

/// Refuses `bytes` longer than `max` before anything looks at them.
pub(crate) fn check_size(what: &'static str, bytes: &[u8], max: usize) -> Result<(), ProtocolError> {
    if bytes.len() > max {
        return Err(ProtocolError::TooLarge { what, len: bytes.len(), max });
    }
    Ok(())
}

/// Parses a field that must hold a 32-byte hash.
pub(crate) fn hash_field(what: &'static str, bytes: &[u8]) -> Result<H256, ProtocolError> {
    H256::from_slice(bytes).ok_or(ProtocolError::BadHashLength { what, len: bytes.len() })
}

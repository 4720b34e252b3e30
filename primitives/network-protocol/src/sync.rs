//! `/<genesis>/sync/2`: block requests and responses.
//!
//! The messages are protobuf (`package api.v1` in polkadot-sdk's
//! `substrate/client/network/sync/src/schema/api.v1.proto`, proto3); the structs below
//! carry the same field numbers and types, so a decoded message re-encodes to the
//! bytes a Substrate node sent. Inside them, hashes, headers, extrinsics, block
//! numbers and justifications are SCALE:
//!
//! * `BlockRequest.fields` holds the [`BlockAttributes`] bits in its most significant
//!   byte (`attributes << 24`), as Substrate's `to_be_u32` writes them.
//! * `from_block.number` is the SCALE encoding of the chain's block number type, i.e.
//!   **4 bytes little-endian** (`u32`) on Polkadot-family relay chains: neither a
//!   compact nor a 64-bit number. A hash is its 32 raw bytes.
//! * Each `BlockData.body` entry is one extrinsic's full SCALE encoding, *including*
//!   its compact length prefix.
//! * `BlockData.justifications` is the SCALE `Justifications` list, sent when the
//!   requester set `support_multiple_justifications`; otherwise a node sends only the
//!   GRANDPA justification in `justification`, with `is_empty_justification` telling an
//!   empty justification from an absent one.
//!
//! Size limits follow the reference node: requests at most 1 MiB (the request-response
//! protocol's maximum request size), responses at most 16 MiB (`sc_network`'s
//! `MAX_RESPONSE_SIZE`), and a server sends at most 128 blocks
//! (`MAX_BLOCKS_IN_RESPONSE`).

use core::fmt;
use core::ops::{BitOr, BitOrAssign};

use prost::Message;
use weft_block::{
    decode_extrinsic, decode_header, decode_justifications, extrinsics_root, BlockNumber, Header, Justifications,
    OpaqueExtrinsic, StateVersion, GRANDPA_ENGINE_ID, H256,
};

use crate::error::{check_size, hash_field, ProtocolError};

/// Largest block request accepted or sent (1 MiB).
pub const MAX_REQUEST_BYTES: usize = 1024 * 1024;
/// Largest block response accepted (16 MiB, `sc_network::MAX_RESPONSE_SIZE`).
pub const MAX_BLOCK_RESPONSE_BYTES: usize = 16 * 1024 * 1024;
/// Most blocks a Substrate node puts in one response; also the cap that
/// [`validate_response`] applies when a request leaves `max_blocks` at 0
/// ("implementation-defined maximum").
pub const MAX_BLOCKS_IN_RESPONSE: u32 = 128;

/// Which parts of each block a request asks for (Substrate's `BlockAttributes`).
///
/// On the wire these bits occupy the most significant byte of `BlockRequest.fields`;
/// see [`BlockAttributes::to_be_u32_fields`] and [`BlockAttributes::from_fields`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct BlockAttributes(u8);

impl BlockAttributes {
    /// The header.
    pub const HEADER: BlockAttributes = BlockAttributes(1);
    /// The body (extrinsics).
    pub const BODY: BlockAttributes = BlockAttributes(2);
    /// The receipt (never served by Substrate).
    pub const RECEIPT: BlockAttributes = BlockAttributes(4);
    /// The message queue (never served by Substrate).
    pub const MESSAGE_QUEUE: BlockAttributes = BlockAttributes(8);
    /// The justification(s).
    pub const JUSTIFICATION: BlockAttributes = BlockAttributes(16);
    /// The indexed body (transaction-storage chains).
    pub const INDEXED_BODY: BlockAttributes = BlockAttributes(32);

    const KNOWN_BITS: u8 = 0b0011_1111;
    const NAMES: [(&'static str, BlockAttributes); 6] = [
        ("HEADER", Self::HEADER),
        ("BODY", Self::BODY),
        ("RECEIPT", Self::RECEIPT),
        ("MESSAGE_QUEUE", Self::MESSAGE_QUEUE),
        ("JUSTIFICATION", Self::JUSTIFICATION),
        ("INDEXED_BODY", Self::INDEXED_BODY),
    ];

    /// No attribute.
    pub const fn empty() -> Self {
        BlockAttributes(0)
    }

    /// The attribute bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The attributes with these bits; `None` if a bit has no meaning.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        if bits & !Self::KNOWN_BITS == 0 {
            Some(BlockAttributes(bits))
        } else {
            None
        }
    }

    /// Whether every attribute of `other` is also in `self`.
    pub const fn contains(self, other: BlockAttributes) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no attribute is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The value of `BlockRequest.fields`: the bits shifted into the top byte.
    pub const fn to_be_u32_fields(self) -> u32 {
        (self.0 as u32) << 24
    }

    /// Reads `BlockRequest.fields` as Substrate does: only the top byte counts (the low
    /// 24 bits are ignored), and a top byte with an unknown bit is an error.
    pub fn from_fields(fields: u32) -> Result<Self, ProtocolError> {
        Self::from_bits((fields >> 24) as u8).ok_or(ProtocolError::BadAttributes(fields))
    }
}

impl BitOr for BlockAttributes {
    type Output = BlockAttributes;

    fn bitor(self, rhs: BlockAttributes) -> BlockAttributes {
        BlockAttributes(self.0 | rhs.0)
    }
}

impl BitOrAssign for BlockAttributes {
    fn bitor_assign(&mut self, rhs: BlockAttributes) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for BlockAttributes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("BlockAttributes(empty)");
        }
        f.write_str("BlockAttributes(")?;
        let mut first = true;
        for (name, flag) in Self::NAMES {
            if self.contains(flag) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        f.write_str(")")
    }
}

/// Order in which blocks are enumerated (`api.v1.Direction`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, prost::Enumeration)]
#[repr(i32)]
pub enum Direction {
    /// From the start block towards its descendants (increasing numbers).
    Ascending = 0,
    /// From the start block towards its ancestors (following parent hashes).
    Descending = 1,
}

impl Direction {
    fn name(self) -> &'static str {
        match self {
            Direction::Ascending => "ascending",
            Direction::Descending => "descending",
        }
    }
}

/// `api.v1.BlockRequest`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct BlockRequest {
    /// [`BlockAttributes`] bits in the top byte.
    #[prost(uint32, tag = "1")]
    pub fields: u32,
    /// The block to start from.
    #[prost(oneof = "FromBlock", tags = "2, 3")]
    pub from_block: Option<FromBlock>,
    /// A [`Direction`]; absent means ascending.
    #[prost(enumeration = "Direction", tag = "5")]
    pub direction: i32,
    /// Most blocks to return; 0 lets the server choose (Substrate: 128).
    #[prost(uint32, tag = "6")]
    pub max_blocks: u32,
    /// Whether the requester understands `BlockData.justifications`.
    #[prost(bool, tag = "7")]
    pub support_multiple_justifications: bool,
}

/// `api.v1.BlockRequest.from_block`: raw SCALE bytes of a hash or a block number.
#[derive(Clone, PartialEq, Eq, Hash, prost::Oneof)]
pub enum FromBlock {
    /// The block's hash (32 bytes).
    #[prost(bytes = "vec", tag = "2")]
    Hash(Vec<u8>),
    /// The block's number, SCALE-encoded (4 bytes little-endian for `u32`).
    #[prost(bytes = "vec", tag = "3")]
    Number(Vec<u8>),
}

/// A typed start block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StartBlock {
    /// Start at the block with this hash.
    Hash(H256),
    /// Start at the (canonical) block with this number.
    Number(BlockNumber),
}

impl StartBlock {
    /// The protobuf form.
    pub fn to_proto(self) -> FromBlock {
        match self {
            StartBlock::Hash(hash) => FromBlock::Hash(hash.0.to_vec()),
            StartBlock::Number(number) => FromBlock::Number(number.to_le_bytes().to_vec()),
        }
    }

    /// Parses the protobuf form: a hash must be 32 bytes and a number exactly 4.
    pub fn from_proto(from: &FromBlock) -> Result<Self, ProtocolError> {
        match from {
            FromBlock::Hash(bytes) => Ok(StartBlock::Hash(hash_field("block request start hash", bytes)?)),
            FromBlock::Number(bytes) => <[u8; 4]>::try_from(bytes.as_slice())
                .map(|le| StartBlock::Number(BlockNumber::from_le_bytes(le)))
                .map_err(|_| ProtocolError::BadStartNumber { len: bytes.len() }),
        }
    }
}

impl BlockRequest {
    /// A request as Weft sends it (always with `support_multiple_justifications`, as
    /// Substrate's block downloader does). `max_blocks` 0 lets the server choose.
    pub fn new(attributes: BlockAttributes, start: StartBlock, direction: Direction, max_blocks: u32) -> Self {
        BlockRequest {
            fields: attributes.to_be_u32_fields(),
            from_block: Some(start.to_proto()),
            direction: direction as i32,
            max_blocks,
            support_multiple_justifications: true,
        }
    }

    /// The requested attributes.
    pub fn attributes(&self) -> Result<BlockAttributes, ProtocolError> {
        BlockAttributes::from_fields(self.fields)
    }

    /// The start block.
    pub fn start(&self) -> Result<StartBlock, ProtocolError> {
        StartBlock::from_proto(self.from_block.as_ref().ok_or(ProtocolError::MissingFromBlock)?)
    }

    /// The direction, refusing values other than 0 and 1 (prost's generated
    /// `direction()` would silently turn them into `Ascending`).
    pub fn checked_direction(&self) -> Result<Direction, ProtocolError> {
        Direction::try_from(self.direction).map_err(|_| ProtocolError::BadDirection(self.direction))
    }

    /// The most blocks a response may hold: `max_blocks`, or
    /// [`MAX_BLOCKS_IN_RESPONSE`] when it is 0.
    pub fn response_limit(&self) -> u32 {
        if self.max_blocks == 0 {
            MAX_BLOCKS_IN_RESPONSE
        } else {
            self.max_blocks
        }
    }

    /// Checks every field a server needs: start block, direction and attributes.
    pub fn check(&self) -> Result<(), ProtocolError> {
        self.start()?;
        self.checked_direction()?;
        self.attributes()?;
        Ok(())
    }
}

/// `api.v1.BlockResponse`.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct BlockResponse {
    /// The blocks, in the requested order.
    #[prost(message, repeated, tag = "1")]
    pub blocks: Vec<BlockData>,
}

/// `api.v1.BlockData`. Empty `bytes` mean "absent" (proto3 cannot tell them apart).
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct BlockData {
    /// Block hash (32 bytes).
    #[prost(bytes = "vec", tag = "1")]
    pub hash: Vec<u8>,
    /// SCALE header, if requested.
    #[prost(bytes = "vec", tag = "2")]
    pub header: Vec<u8>,
    /// Extrinsics, each fully SCALE-encoded (length prefix included), if requested.
    #[prost(bytes = "vec", repeated, tag = "3")]
    pub body: Vec<Vec<u8>>,
    /// Receipt (unused).
    #[prost(bytes = "vec", tag = "4")]
    pub receipt: Vec<u8>,
    /// Message queue (unused).
    #[prost(bytes = "vec", tag = "5")]
    pub message_queue: Vec<u8>,
    /// The encoded GRANDPA justification, for requesters without multiple-justification
    /// support.
    #[prost(bytes = "vec", tag = "6")]
    pub justification: Vec<u8>,
    /// Whether an empty `justification` means "present but empty".
    #[prost(bool, tag = "7")]
    pub is_empty_justification: bool,
    /// SCALE `Justifications`, for requesters with multiple-justification support.
    #[prost(bytes = "vec", tag = "8")]
    pub justifications: Vec<u8>,
    /// Indexed body, if requested.
    #[prost(bytes = "vec", repeated, tag = "9")]
    pub indexed_body: Vec<Vec<u8>>,
    /// Additional data (field 10 of the current schema; not produced by Substrate's
    /// block server). Kept so that a message re-encodes unchanged.
    #[prost(bytes = "vec", tag = "10")]
    pub additional_data: Vec<u8>,
}

/// One block of a response, decoded and checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseBlock {
    /// The stated hash. When a header is present it is blake2-256 of that header.
    pub hash: [u8; 32],
    /// The header, if the peer sent one.
    pub header: Option<Header>,
    /// The extrinsics, if the peer sent any. protobuf cannot tell an absent body from
    /// an empty one: a body of zero extrinsics shows up here as `None`.
    pub body: Option<Vec<OpaqueExtrinsic>>,
    /// The justifications: the SCALE list when the peer sent one, otherwise the legacy
    /// single GRANDPA justification (present-but-empty included) tagged `FRNK`.
    pub justifications: Option<Justifications>,
}

impl ResponseBlock {
    /// Decodes and checks one `BlockData`; `index` is only used in errors.
    pub fn from_block_data(index: usize, data: &BlockData) -> Result<Self, ProtocolError> {
        let hash: [u8; 32] = data
            .hash
            .as_slice()
            .try_into()
            .map_err(|_| ProtocolError::BlockHashLength { index, len: data.hash.len() })?;

        let header = if data.header.is_empty() {
            None
        } else {
            let header = decode_header(&data.header).map_err(|source| ProtocolError::BlockHeader { index, source })?;
            // The strict decoder only accepts canonical encodings, so hashing the bytes
            // received is hashing the header.
            let computed = H256::blake2_256_of(&data.header);
            if computed.0 != hash {
                return Err(ProtocolError::HashMismatch { index, stated: H256(hash), computed });
            }
            Some(header)
        };

        let body = if data.body.is_empty() {
            None
        } else {
            let extrinsics = data
                .body
                .iter()
                .enumerate()
                .map(|(extrinsic, bytes)| {
                    decode_extrinsic(bytes).map_err(|source| ProtocolError::BlockExtrinsic { index, extrinsic, source })
                })
                .collect::<Result<Vec<_>, _>>()?;
            Some(extrinsics)
        };

        let justifications = if !data.justifications.is_empty() {
            Some(
                decode_justifications(&data.justifications)
                    .map_err(|source| ProtocolError::BlockJustifications { index, source })?,
            )
        } else if !data.justification.is_empty() || data.is_empty_justification {
            Some(Justifications::new(GRANDPA_ENGINE_ID, data.justification.clone()))
        } else {
            None
        };

        Ok(ResponseBlock { hash, header, body, justifications })
    }

    /// The protobuf form, as a Substrate block server fills it: the SCALE
    /// `Justifications` when the requester supports multiple justifications, otherwise
    /// only the GRANDPA one (with `is_empty_justification` set for an empty one).
    pub fn to_block_data(&self, support_multiple_justifications: bool) -> BlockData {
        let (justification, is_empty_justification, justifications) = match &self.justifications {
            None => (Vec::new(), false, Vec::new()),
            Some(list) if support_multiple_justifications => {
                (Vec::new(), false, parity_scale_codec::Encode::encode(list))
            }
            Some(list) => match list.grandpa() {
                Some(grandpa) => (grandpa.to_vec(), grandpa.is_empty(), Vec::new()),
                None => (Vec::new(), false, Vec::new()),
            },
        };
        BlockData {
            hash: self.hash.to_vec(),
            header: self.header.as_ref().map(parity_scale_codec::Encode::encode).unwrap_or_default(),
            body: self.extrinsics().iter().map(OpaqueExtrinsic::encoded).collect(),
            justification,
            is_empty_justification,
            justifications,
            ..BlockData::default()
        }
    }

    /// The extrinsics, or an empty slice when the body is absent.
    pub fn extrinsics(&self) -> &[OpaqueExtrinsic] {
        self.body.as_deref().unwrap_or(&[])
    }

    /// Whether the body matches the header's extrinsics root under `version` (the state
    /// version of the runtime that built the block); `None` without a header. The
    /// block hash covers the header only, so this is what binds a body to its block.
    pub fn body_matches_header(&self, version: StateVersion) -> Option<bool> {
        let header = self.header.as_ref()?;
        Some(extrinsics_root(version, self.extrinsics()) == header.extrinsics_root)
    }

    /// The block number, if the header is present.
    pub fn number(&self) -> Option<BlockNumber> {
        self.header.as_ref().map(|h| h.number)
    }
}

/// Most blocks a response may hold for it to be decoded at all (refused before any
/// allocation; far above what any server sends, see [`MAX_BLOCKS_IN_RESPONSE`]).
pub const MAX_DECODED_BLOCKS: usize = 4096;
/// Most body and indexed-body entries, summed over all blocks, a response may hold for
/// it to be decoded at all.
pub const MAX_DECODED_EXTRINSICS: usize = 1 << 20;

/// Encodes a block request.
pub fn encode_block_request(request: &BlockRequest) -> Vec<u8> {
    request.encode_to_vec()
}

/// Decodes a block request received from a peer (at most [`MAX_REQUEST_BYTES`]) and
/// checks its start block, direction and attributes ([`BlockRequest::check`]).
pub fn decode_block_request(bytes: &[u8]) -> Result<BlockRequest, ProtocolError> {
    check_size("block request", bytes, MAX_REQUEST_BYTES)?;
    let request = BlockRequest::decode(bytes).map_err(|e| ProtocolError::protobuf("block request", e))?;
    request.check()?;
    Ok(request)
}

/// Encodes a block response.
pub fn encode_block_response(response: &BlockResponse) -> Vec<u8> {
    response.encode_to_vec()
}

/// Decodes the protobuf of a block response (at most [`MAX_BLOCK_RESPONSE_BYTES`],
/// [`MAX_DECODED_BLOCKS`] blocks and [`MAX_DECODED_EXTRINSICS`] body entries) without
/// looking inside the blocks.
pub fn decode_block_response_message(bytes: &[u8]) -> Result<BlockResponse, ProtocolError> {
    check_size("block response", bytes, MAX_BLOCK_RESPONSE_BYTES)?;
    crate::scan::limit_entries("block response", bytes, 1, MAX_DECODED_BLOCKS, &[3, 9], MAX_DECODED_EXTRINSICS)?;
    BlockResponse::decode(bytes).map_err(|e| ProtocolError::protobuf("block response", e))
}

/// Decodes a block response into checked blocks: every hash is 32 bytes, headers,
/// extrinsics and justifications decode with weft-block's bounded decoders, and every
/// header hashes to its stated hash. Errors name the index of the offending block.
pub fn decode_block_response(bytes: &[u8]) -> Result<Vec<ResponseBlock>, ProtocolError> {
    response_blocks(&decode_block_response_message(bytes)?)
}

/// The checked blocks of an already decoded response (see [`decode_block_response`]).
pub fn response_blocks(response: &BlockResponse) -> Result<Vec<ResponseBlock>, ProtocolError> {
    response.blocks.iter().enumerate().map(|(index, data)| ResponseBlock::from_block_data(index, data)).collect()
}

/// Checks that `blocks` answer `request`:
/// * at most [`BlockRequest::response_limit`] blocks;
/// * if headers were requested, every block has one;
/// * the first block is the requested start (by hash; by number when its header is
///   present);
/// * each block follows the previous one in the requested direction: ascending, its
///   parent is the previous block and its number one more; descending, it is the
///   previous block's parent and its number one less (checked wherever the headers
///   involved are present).
///
/// An empty response passes: the peer may simply not have the start block.
pub fn validate_response(request: &BlockRequest, blocks: &[ResponseBlock]) -> Result<(), ProtocolError> {
    let attributes = request.attributes()?;
    let start = request.start()?;
    let direction = request.checked_direction()?;

    let max = request.response_limit() as usize;
    if blocks.len() > max {
        return Err(ProtocolError::TooManyBlocks { count: blocks.len(), max });
    }
    let Some(first) = blocks.first() else {
        return Ok(());
    };
    if attributes.contains(BlockAttributes::HEADER) {
        if let Some(index) = blocks.iter().position(|b| b.header.is_none()) {
            return Err(ProtocolError::MissingHeader { index });
        }
    }

    match start {
        StartBlock::Hash(expected) => {
            if first.hash != expected.0 {
                return Err(ProtocolError::WrongStartHash { expected, got: H256(first.hash) });
            }
        }
        StartBlock::Number(expected) => {
            if let Some(got) = first.number() {
                if got != expected {
                    return Err(ProtocolError::WrongStartNumber { expected, got });
                }
            }
        }
    }

    for (index, pair) in blocks.windows(2).enumerate().map(|(i, pair)| (i + 1, pair)) {
        let (prev, next) = (&pair[0], &pair[1]);
        // (child, parent) in chain terms.
        let (child, parent) = match direction {
            Direction::Ascending => (next, prev),
            Direction::Descending => (prev, next),
        };
        let links = match &child.header {
            Some(child_header) => {
                child_header.parent_hash.0 == parent.hash
                    && parent.number().is_none_or(|n| n.checked_add(1) == Some(child_header.number))
            }
            // Without the child's header nothing ties the two blocks together.
            None => true,
        };
        if !links {
            return Err(ProtocolError::NotAChain { index, direction: direction.name() });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_bits() {
        let a = BlockAttributes::HEADER | BlockAttributes::BODY | BlockAttributes::JUSTIFICATION;
        assert_eq!(a.bits(), 0b1_0011);
        assert_eq!(a.to_be_u32_fields(), 0x1300_0000);
        assert_eq!(BlockAttributes::from_fields(0x1300_0000), Ok(a));
        // Low bits are ignored, as in Substrate.
        assert_eq!(BlockAttributes::from_fields(0x1300_00ff), Ok(a));
        assert_eq!(BlockAttributes::from_fields(0x4000_0000), Err(ProtocolError::BadAttributes(0x4000_0000)));
        assert_eq!(format!("{a:?}"), "BlockAttributes(HEADER | BODY | JUSTIFICATION)");
        assert_eq!(format!("{:?}", BlockAttributes::empty()), "BlockAttributes(empty)");
        assert!(a.contains(BlockAttributes::BODY) && !a.contains(BlockAttributes::INDEXED_BODY));
    }

    #[test]
    fn start_block_forms() {
        assert_eq!(StartBlock::Number(0x0102_0304).to_proto(), FromBlock::Number(vec![4, 3, 2, 1]));
        assert_eq!(
            StartBlock::from_proto(&FromBlock::Number(vec![1, 0, 0, 0, 0, 0, 0, 0])),
            Err(ProtocolError::BadStartNumber { len: 8 })
        );
        assert!(matches!(
            StartBlock::from_proto(&FromBlock::Hash(vec![0; 31])),
            Err(ProtocolError::BadHashLength { len: 31, .. })
        ));
    }
}

//! SCALE notification formats: `/<genesis>/block-announces/1` (handshake and
//! announces) and `/<genesis>/transactions/1`, and the notification size limits.
//!
//! * Handshake: `roles: u8 ++ best_number ++ best_hash ++ genesis_hash`, a derived SCALE
//!   struct; the block number is the chain's number type encoded *fixed-width* (not
//!   compact), so 4 bytes little-endian on Polkadot-family chains and 69 bytes in all.
//! * Announce: `header ++ [state] ++ [data]`. Substrate hand-writes this encoding for
//!   compatibility with nodes that sent a bare header: the block state is a single byte
//!   (0 normal, 1 best) that is simply **omitted** when absent (there is no `Option`
//!   tag), and likewise the associated data (`Vec<u8>`, i.e. compact length ++ bytes,
//!   empty for relay-chain blocks) follows only when present. Current Substrate and
//!   smoldot nodes send all three (`header ++ 01|00 ++ 00`). A bare header, and a
//!   header followed by only the state byte, decode too; an announce with data but no
//!   state cannot be expressed and is encoded with the state written as
//!   [`BlockState::Normal`].
//! * Transactions: a SCALE `Vec` of extrinsics, each as its own full encoding
//!   (compact length ++ bytes), which is exactly `Vec<OpaqueExtrinsic>`.
//!
//! Size limits are the reference node's: block announces 1 MiB
//! (`sc_network_sync::engine::MAX_BLOCK_ANNOUNCE_SIZE`), transactions 16 MiB
//! (`sc_network_transactions::config::MAX_TRANSACTIONS_SIZE` = `MAX_RESPONSE_SIZE`),
//! GRANDPA 1 MiB (`sc_consensus_grandpa::grandpa_peers_set_config`), handshakes 1 KiB
//! (`MAX_HANDSHAKE_SIZE` of `sc_network`'s notifications upgrade).
//!
//! The decoders are stricter than Substrate's, which ignores trailing bytes and maps
//! an unreadable state or data to "absent": here a state byte other than 0/1 and
//! bytes after the last field are errors.

use core::fmt;

use parity_scale_codec::{Decode, Encode, Error as CodecError, Input, Output};
use weft_block::{decode_exact, decode_prefix, BlockNumber, DecodeLimits, Header, OpaqueExtrinsic, H256};

use crate::error::{check_size, ProtocolError};

/// Largest block announce accepted (1 MiB).
pub const MAX_BLOCK_ANNOUNCE_BYTES: usize = 1024 * 1024;
/// Largest transactions notification accepted (16 MiB).
pub const MAX_TRANSACTIONS_BYTES: usize = 16 * 1024 * 1024;
/// Largest GRANDPA notification accepted (1 MiB).
pub const MAX_GRANDPA_NOTIFICATION_BYTES: usize = 1024 * 1024;
/// Largest notifications handshake accepted (1 KiB).
pub const MAX_HANDSHAKE_BYTES: usize = 1024;
/// Length of a block-announces handshake with 32-bit block numbers.
pub const BLOCK_ANNOUNCES_HANDSHAKE_LEN: usize = 1 + 4 + 32 + 32;

const MIB: usize = 1024 * 1024;
const HANDSHAKE_LIMITS: DecodeLimits =
    DecodeLimits { max_input_len: MAX_HANDSHAKE_BYTES, max_depth: 4, max_heap: 1024 };
const ANNOUNCE_LIMITS: DecodeLimits =
    DecodeLimits { max_input_len: MAX_BLOCK_ANNOUNCE_BYTES, max_depth: 16, max_heap: 32 * MIB };
// A 16 MiB message holds at most 16 MiB of extrinsic bytes; the rest of the budget is
// for the `Vec` entries themselves (a flood of empty extrinsics is refused).
const TRANSACTIONS_LIMITS: DecodeLimits =
    DecodeLimits { max_input_len: MAX_TRANSACTIONS_BYTES, max_depth: 4, max_heap: 128 * MIB };

/// The roles a node claims in its handshake (Substrate's `Roles` bit set).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Roles(u8);

impl Roles {
    /// A full node.
    pub const FULL: Roles = Roles(1);
    /// A light client.
    pub const LIGHT: Roles = Roles(2);
    /// An authority (validator); also keeps full data.
    pub const AUTHORITY: Roles = Roles(4);

    const KNOWN_BITS: u8 = 0b111;

    /// The bits.
    pub const fn bits(self) -> u8 {
        self.0
    }

    /// The roles with these bits; `None` if a bit has no meaning.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        if bits & !Self::KNOWN_BITS == 0 {
            Some(Roles(bits))
        } else {
            None
        }
    }

    /// Whether every role of `other` is also in `self`.
    pub const fn contains(self, other: Roles) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether the node keeps full chain data (full node or authority).
    pub const fn is_full(self) -> bool {
        self.contains(Roles::FULL) || self.contains(Roles::AUTHORITY)
    }

    /// Whether the node is an authority.
    pub const fn is_authority(self) -> bool {
        self.contains(Roles::AUTHORITY)
    }

    /// Whether the node is a light client.
    pub const fn is_light(self) -> bool {
        !self.is_full()
    }
}

impl fmt::Debug for Roles {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = [("FULL", Roles::FULL), ("LIGHT", Roles::LIGHT), ("AUTHORITY", Roles::AUTHORITY)]
            .into_iter()
            .filter(|(_, r)| self.contains(*r) && r.0 != 0)
            .map(|(n, _)| n)
            .collect();
        write!(f, "Roles({})", if names.is_empty() { "NONE".to_string() } else { names.join(" | ") })
    }
}

impl Encode for Roles {
    fn size_hint(&self) -> usize {
        1
    }

    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        dest.push_byte(self.0);
    }
}

impl Decode for Roles {
    fn decode<I: Input>(input: &mut I) -> Result<Self, CodecError> {
        Roles::from_bits(input.read_byte()?).ok_or_else(|| "unknown role bits".into())
    }
}

/// The handshake exchanged when a block-announces substream opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub struct BlockAnnouncesHandshake {
    /// The sender's roles.
    pub roles: Roles,
    /// The sender's best block number (fixed-width, not compact).
    pub best_number: BlockNumber,
    /// The sender's best block hash.
    pub best_hash: H256,
    /// The sender's genesis hash (peers on another chain are to be dropped).
    pub genesis_hash: H256,
}

/// Encodes a block-announces handshake (69 bytes).
pub fn encode_handshake(handshake: &BlockAnnouncesHandshake) -> Vec<u8> {
    handshake.encode()
}

/// Decodes a block-announces handshake.
pub fn decode_handshake(bytes: &[u8]) -> Result<BlockAnnouncesHandshake, ProtocolError> {
    check_size("block announces handshake", bytes, MAX_HANDSHAKE_BYTES)?;
    Ok(decode_exact("block announces handshake", bytes, &HANDSHAKE_LIMITS)?)
}

/// Whether an announced block is the sender's new best block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode)]
pub enum BlockState {
    /// Not the sender's best block.
    #[codec(index = 0)]
    Normal,
    /// The sender's new best block.
    #[codec(index = 1)]
    Best,
}

/// A block announce notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockAnnounce {
    /// The new block's header.
    pub header: Header,
    /// Whether it is the sender's best block; `None` when the sender omitted it.
    pub state: Option<BlockState>,
    /// Data for the block-announce validator (empty for relay chains; collators put
    /// candidate data here); `None` when omitted.
    pub data: Option<Vec<u8>>,
}

impl BlockAnnounce {
    /// An announce as current nodes send it: header, state, and (empty) data.
    pub fn new(header: Header, is_best: bool) -> Self {
        let state = if is_best { BlockState::Best } else { BlockState::Normal };
        BlockAnnounce { header, state: Some(state), data: Some(Vec::new()) }
    }

    /// Whether the sender says this is its new best block.
    pub fn is_best(&self) -> bool {
        self.state == Some(BlockState::Best)
    }

    /// The announced block's hash.
    pub fn hash(&self) -> H256 {
        self.header.hash()
    }
}

/// Encodes a block announce: `header ++ [state] ++ [data]`.
pub fn encode_block_announce(announce: &BlockAnnounce) -> Vec<u8> {
    let mut out = announce.header.encode();
    match (&announce.state, &announce.data) {
        (None, None) => {}
        (state, data) => {
            state.unwrap_or(BlockState::Normal).encode_to(&mut out);
            if let Some(data) = data {
                data.encode_to(&mut out);
            }
        }
    }
    out
}

/// Decodes a block announce (at most [`MAX_BLOCK_ANNOUNCE_BYTES`]); a bare header,
/// header ++ state, and header ++ state ++ data are all accepted.
pub fn decode_block_announce(bytes: &[u8]) -> Result<BlockAnnounce, ProtocolError> {
    check_size("block announce", bytes, MAX_BLOCK_ANNOUNCE_BYTES)?;
    let (header, used) = decode_prefix::<Header>("block announce header", bytes, &ANNOUNCE_LIMITS)?;
    let rest = &bytes[used..];
    let Some((&state_byte, rest)) = rest.split_first() else {
        return Ok(BlockAnnounce { header, state: None, data: None });
    };
    let state = match state_byte {
        0 => BlockState::Normal,
        1 => BlockState::Best,
        other => return Err(ProtocolError::BadBlockState(other)),
    };
    let data = if rest.is_empty() {
        None
    } else {
        Some(decode_exact::<Vec<u8>>("block announce data", rest, &ANNOUNCE_LIMITS)?)
    };
    Ok(BlockAnnounce { header, state: Some(state), data })
}

/// Encodes a transactions notification.
pub fn encode_transactions(extrinsics: &[OpaqueExtrinsic]) -> Vec<u8> {
    extrinsics.encode()
}

/// Decodes a transactions notification (at most [`MAX_TRANSACTIONS_BYTES`]).
pub fn decode_transactions(bytes: &[u8]) -> Result<Vec<OpaqueExtrinsic>, ProtocolError> {
    check_size("transactions notification", bytes, MAX_TRANSACTIONS_BYTES)?;
    Ok(decode_exact("transactions notification", bytes, &TRANSACTIONS_LIMITS)?)
}

/// Refuses a GRANDPA notification over [`MAX_GRANDPA_NOTIFICATION_BYTES`] (the
/// message itself is decoded by weft-block's GRANDPA types).
pub fn check_grandpa_notification_size(bytes: &[u8]) -> Result<(), ProtocolError> {
    check_size("grandpa notification", bytes, MAX_GRANDPA_NOTIFICATION_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles() {
        assert_eq!(Roles::from_bits(8), None);
        assert!(Roles::AUTHORITY.is_full() && !Roles::AUTHORITY.is_light());
        assert!(Roles::LIGHT.is_light());
        assert_eq!(format!("{:?}", Roles::FULL), "Roles(FULL)");
        assert_eq!(format!("{:?}", Roles::default()), "Roles(NONE)");
    }

    #[test]
    fn transactions_round_trip_and_limits() {
        let txs = vec![OpaqueExtrinsic(vec![4, 1, 2]), OpaqueExtrinsic(vec![0xaa; 300])];
        let bytes = encode_transactions(&txs);
        assert_eq!(bytes[..5], [8, 12, 4, 1, 2]);
        assert_eq!(decode_transactions(&bytes).unwrap(), txs);
        assert!(decode_transactions(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode_transactions(&[bytes.as_slice(), &[0]].concat()).is_err());
        let huge = vec![0u8; MAX_TRANSACTIONS_BYTES + 1];
        assert!(matches!(decode_transactions(&huge), Err(ProtocolError::TooLarge { .. })));
    }
}

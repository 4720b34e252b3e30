//! Block header and its digest.
//!
//! Wire format (SCALE): `parent_hash [32] ++ compact(number) ++ state_root [32] ++
//! extrinsics_root [32] ++ Vec<DigestItem>`. The block hash is blake2-256 of that.

use parity_scale_codec::{Compact, Decode, Encode, Error as CodecError, Input, Output};

use crate::hash::{BlockNumber, H256};

/// Four-byte identifier of a consensus engine, used to tag digest items.
pub type ConsensusEngineId = [u8; 4];

/// BABE block production.
pub const BABE_ENGINE_ID: ConsensusEngineId = *b"BABE";
/// GRANDPA finality ("FRNK").
pub const GRANDPA_ENGINE_ID: ConsensusEngineId = *b"FRNK";
/// Aura block production.
pub const AURA_ENGINE_ID: ConsensusEngineId = *b"aura";
/// BEEFY.
pub const BEEFY_ENGINE_ID: ConsensusEngineId = *b"BEEF";

/// Message of the codec error returned for a digest item whose variant index is not
/// one of 0, 4, 5, 6, 8. The bounded decoders turn it into
/// [`DecodeError::UnknownDigestItem`](crate::DecodeError::UnknownDigestItem).
pub(crate) const UNKNOWN_DIGEST_ITEM: &str = "unknown DigestItem variant index";

/// SCALE variant indices of [`DigestItem`].
pub mod digest_item_index {
    /// [`DigestItem::Other`](super::DigestItem::Other).
    pub const OTHER: u8 = 0;
    /// [`DigestItem::Consensus`](super::DigestItem::Consensus).
    pub const CONSENSUS: u8 = 4;
    /// [`DigestItem::Seal`](super::DigestItem::Seal).
    pub const SEAL: u8 = 5;
    /// [`DigestItem::PreRuntime`](super::DigestItem::PreRuntime).
    pub const PRE_RUNTIME: u8 = 6;
    /// [`DigestItem::RuntimeEnvironmentUpdated`](super::DigestItem::RuntimeEnvironmentUpdated).
    pub const RUNTIME_ENVIRONMENT_UPDATED: u8 = 8;
}

/// One log entry of a header digest.
///
/// Indices 1, 2, 3 and 7 were used by long-removed items (changes-trie root and
/// signal, ...) and are rejected like any other unknown index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum DigestItem {
    /// Index 6: message from the block author's consensus engine to the runtime,
    /// e.g. the BABE pre-digest (slot claim).
    PreRuntime(ConsensusEngineId, Vec<u8>),
    /// Index 4: message from the runtime to the consensus engine, e.g. BABE
    /// `NextEpochData` or a GRANDPA authority set change.
    Consensus(ConsensusEngineId, Vec<u8>),
    /// Index 5: seal (signature) of the block author; always the last item.
    Seal(ConsensusEngineId, Vec<u8>),
    /// Index 0: any other opaque data.
    Other(Vec<u8>),
    /// Index 8: the runtime code or heap pages changed in this block.
    RuntimeEnvironmentUpdated,
}

impl DigestItem {
    /// SCALE variant index of this item.
    pub fn index(&self) -> u8 {
        use digest_item_index::*;
        match self {
            DigestItem::PreRuntime(..) => PRE_RUNTIME,
            DigestItem::Consensus(..) => CONSENSUS,
            DigestItem::Seal(..) => SEAL,
            DigestItem::Other(_) => OTHER,
            DigestItem::RuntimeEnvironmentUpdated => RUNTIME_ENVIRONMENT_UPDATED,
        }
    }

    /// The engine id of a `PreRuntime`, `Consensus` or `Seal` item.
    pub fn engine_id(&self) -> Option<ConsensusEngineId> {
        match self {
            DigestItem::PreRuntime(id, _) | DigestItem::Consensus(id, _) | DigestItem::Seal(id, _) => Some(*id),
            DigestItem::Other(_) | DigestItem::RuntimeEnvironmentUpdated => None,
        }
    }

    /// Payload of a `PreRuntime` item of engine `id`.
    pub fn as_pre_runtime(&self, id: ConsensusEngineId) -> Option<&[u8]> {
        match self {
            DigestItem::PreRuntime(e, data) if *e == id => Some(data),
            _ => None,
        }
    }

    /// Payload of a `Consensus` item of engine `id`.
    pub fn as_consensus(&self, id: ConsensusEngineId) -> Option<&[u8]> {
        match self {
            DigestItem::Consensus(e, data) if *e == id => Some(data),
            _ => None,
        }
    }

    /// Payload of a `Seal` item of engine `id`.
    pub fn as_seal(&self, id: ConsensusEngineId) -> Option<&[u8]> {
        match self {
            DigestItem::Seal(e, data) if *e == id => Some(data),
            _ => None,
        }
    }

    /// `(engine, payload)` if this is a `Seal`.
    pub fn as_any_seal(&self) -> Option<(ConsensusEngineId, &[u8])> {
        match self {
            DigestItem::Seal(e, data) => Some((*e, data)),
            _ => None,
        }
    }
}

impl Encode for DigestItem {
    fn size_hint(&self) -> usize {
        1 + match self {
            DigestItem::PreRuntime(_, d) | DigestItem::Consensus(_, d) | DigestItem::Seal(_, d) => 4 + d.size_hint(),
            DigestItem::Other(d) => d.size_hint(),
            DigestItem::RuntimeEnvironmentUpdated => 0,
        }
    }

    fn encode_to<T: Output + ?Sized>(&self, dest: &mut T) {
        dest.push_byte(self.index());
        match self {
            DigestItem::PreRuntime(id, d) | DigestItem::Consensus(id, d) | DigestItem::Seal(id, d) => {
                dest.write(id);
                d.encode_to(dest);
            }
            DigestItem::Other(d) => d.encode_to(dest),
            DigestItem::RuntimeEnvironmentUpdated => {}
        }
    }
}

impl Decode for DigestItem {
    fn decode<I: Input>(input: &mut I) -> Result<Self, CodecError> {
        use digest_item_index::*;
        let index = input.read_byte()?;
        let engine_and_data = |input: &mut I| -> Result<(ConsensusEngineId, Vec<u8>), CodecError> {
            let id = <[u8; 4]>::decode(input)?;
            let data = <Vec<u8>>::decode(input)?;
            Ok((id, data))
        };
        Ok(match index {
            PRE_RUNTIME => {
                let (id, data) = engine_and_data(input)?;
                DigestItem::PreRuntime(id, data)
            }
            CONSENSUS => {
                let (id, data) = engine_and_data(input)?;
                DigestItem::Consensus(id, data)
            }
            SEAL => {
                let (id, data) = engine_and_data(input)?;
                DigestItem::Seal(id, data)
            }
            OTHER => DigestItem::Other(<Vec<u8>>::decode(input)?),
            RUNTIME_ENVIRONMENT_UPDATED => DigestItem::RuntimeEnvironmentUpdated,
            _ => return Err(UNKNOWN_DIGEST_ITEM.into()),
        })
    }
}

/// The digest of a header: an ordered list of log items.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Encode, Decode)]
pub struct Digest {
    /// The items, in header order.
    pub logs: Vec<DigestItem>,
}

impl Digest {
    /// A digest with the given items.
    pub fn new(logs: Vec<DigestItem>) -> Self {
        Digest { logs }
    }

    /// The items.
    pub fn logs(&self) -> &[DigestItem] {
        &self.logs
    }

    /// Appends an item.
    pub fn push(&mut self, item: DigestItem) {
        self.logs.push(item);
    }

    /// The last item if it is a `Seal`.
    pub fn seal(&self) -> Option<(ConsensusEngineId, &[u8])> {
        self.logs.last().and_then(DigestItem::as_any_seal)
    }

    /// Payloads of the `PreRuntime` items of engine `id`, in order.
    pub fn pre_runtimes(&self, id: ConsensusEngineId) -> impl Iterator<Item = &[u8]> + '_ {
        self.logs.iter().filter_map(move |item| item.as_pre_runtime(id))
    }

    /// Payloads of the `Consensus` items of engine `id`, in order.
    pub fn consensus_logs(&self, id: ConsensusEngineId) -> impl Iterator<Item = &[u8]> + '_ {
        self.logs.iter().filter_map(move |item| item.as_consensus(id))
    }

    /// All items (`PreRuntime`, `Consensus` or `Seal`) tagged with engine `id`.
    pub fn items_of_engine(&self, id: ConsensusEngineId) -> impl Iterator<Item = &DigestItem> + '_ {
        self.logs.iter().filter(move |item| item.engine_id() == Some(id))
    }

    /// Whether a `RuntimeEnvironmentUpdated` item is present.
    pub fn runtime_environment_updated(&self) -> bool {
        self.logs.iter().any(|item| matches!(item, DigestItem::RuntimeEnvironmentUpdated))
    }
}

/// A block header.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Header {
    /// Hash of the parent block (all zeros for genesis).
    pub parent_hash: H256,
    /// Height of the block; SCALE compact-encoded.
    #[codec(compact)]
    pub number: BlockNumber,
    /// Root of the state trie after executing this block.
    pub state_root: H256,
    /// Root of the ordered trie of the block's encoded extrinsics.
    pub extrinsics_root: H256,
    /// Digest log items.
    pub digest: Digest,
}

impl Header {
    /// The block hash: blake2-256 of the SCALE encoding.
    pub fn hash(&self) -> H256 {
        H256::blake2_256_of(&self.encode())
    }

    /// The last digest item if it is a `Seal`: `(engine, payload)`.
    pub fn seal(&self) -> Option<(ConsensusEngineId, &[u8])> {
        self.digest.seal()
    }

    /// Splits off the trailing `Seal`, if any: returns the header without it and the
    /// seal's `(engine, payload)`. Only the last digest item is considered, as in
    /// Substrate, which seals by appending and verifies by popping.
    pub fn without_seal(&self) -> (Header, Option<(ConsensusEngineId, Vec<u8>)>) {
        let mut unsealed = self.clone();
        let seal = match unsealed.digest.logs.last() {
            Some(DigestItem::Seal(..)) => match unsealed.digest.logs.pop() {
                Some(DigestItem::Seal(id, data)) => Some((id, data)),
                _ => None,
            },
            _ => None,
        };
        (unsealed, seal)
    }

    /// SCALE encoding of the header without its trailing `Seal` (the whole header if
    /// the last item is not a seal). This is the message whose hash the seal signs.
    pub fn encode_without_seal(&self) -> Vec<u8> {
        let logs = match self.digest.logs.split_last() {
            Some((DigestItem::Seal(..), rest)) => rest,
            _ => &self.digest.logs[..],
        };
        let mut out = Vec::with_capacity(self.size_hint());
        self.parent_hash.encode_to(&mut out);
        Compact(self.number).encode_to(&mut out);
        self.state_root.encode_to(&mut out);
        self.extrinsics_root.encode_to(&mut out);
        Compact(logs.len() as u32).encode_to(&mut out);
        for item in logs {
            item.encode_to(&mut out);
        }
        out
    }

    /// The "pre-hash": blake2-256 of the header without its trailing `Seal`. The BABE
    /// (and Aura) seal is an sr25519 (resp. ed25519/sr25519) signature of these 32 bytes.
    pub fn pre_hash(&self) -> H256 {
        H256::blake2_256_of(&self.encode_without_seal())
    }

    /// Whether this header is a genesis header (number 0).
    pub fn is_genesis(&self) -> bool {
        self.number == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Header {
        Header {
            parent_hash: H256([1; 32]),
            number: 1_000_000,
            state_root: H256([2; 32]),
            extrinsics_root: H256([3; 32]),
            digest: Digest::new(vec![
                DigestItem::PreRuntime(BABE_ENGINE_ID, vec![1, 2, 3]),
                DigestItem::Consensus(GRANDPA_ENGINE_ID, vec![]),
                DigestItem::Other(vec![9; 70]),
                DigestItem::RuntimeEnvironmentUpdated,
                DigestItem::Seal(BABE_ENGINE_ID, vec![7; 64]),
            ]),
        }
    }

    #[test]
    fn digest_item_encoding() {
        assert_eq!(DigestItem::PreRuntime(*b"BABE", vec![0xaa]).encode(), [6, b'B', b'A', b'B', b'E', 4, 0xaa]);
        assert_eq!(DigestItem::Consensus(*b"FRNK", vec![]).encode(), [4, b'F', b'R', b'N', b'K', 0]);
        assert_eq!(DigestItem::Seal(*b"aura", vec![1, 2]).encode(), [5, b'a', b'u', b'r', b'a', 8, 1, 2]);
        assert_eq!(DigestItem::Other(vec![5]).encode(), [0, 4, 5]);
        assert_eq!(DigestItem::RuntimeEnvironmentUpdated.encode(), [8]);
        for index in [1u8, 2, 3, 7, 9, 255] {
            let err = DigestItem::decode(&mut &[index, 0, 0, 0, 0, 0][..]).unwrap_err();
            assert_eq!(err.to_string(), UNKNOWN_DIGEST_ITEM);
        }
    }

    #[test]
    fn header_round_trip_and_size_hint() {
        let h = sample();
        let enc = h.encode();
        assert!(enc.len() <= h.size_hint());
        assert_eq!(Header::decode(&mut &enc[..]).unwrap(), h);
        // number is compact: 1_000_000 takes 4 bytes (mode 2)
        assert_eq!(&enc[32..36], &Compact(1_000_000u32).encode()[..]);
    }

    #[test]
    fn seal_helpers() {
        let h = sample();
        let (id, sig) = h.seal().unwrap();
        assert_eq!(id, BABE_ENGINE_ID);
        assert_eq!(sig, &[7; 64][..]);
        let (unsealed, seal) = h.without_seal();
        assert_eq!(seal, Some((BABE_ENGINE_ID, vec![7; 64])));
        assert_eq!(unsealed.digest.logs.len(), 4);
        assert_eq!(unsealed.encode(), h.encode_without_seal());
        assert_eq!(h.pre_hash(), unsealed.hash());
        // No seal: pre-hash is the hash.
        assert_eq!(unsealed.pre_hash(), unsealed.hash());
        assert_eq!(unsealed.without_seal(), (unsealed.clone(), None));
        assert!(h.digest.runtime_environment_updated());
        assert_eq!(h.digest.items_of_engine(BABE_ENGINE_ID).count(), 2);
        assert_eq!(h.digest.consensus_logs(GRANDPA_ENGINE_ID).count(), 1);
    }
}

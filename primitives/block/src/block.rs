//! Blocks, opaque extrinsics and justifications.

use parity_scale_codec::{Compact, CompactLen, Decode, Encode};

use crate::decode::{decode_exact, DecodeError, DecodeLimits};
use crate::hash::H256;
use crate::header::{ConsensusEngineId, Header, GRANDPA_ENGINE_ID};

pub use weft_trie::StateVersion;

/// An extrinsic whose contents the host does not interpret.
///
/// Holds the extrinsic's bytes *without* the outer length prefix; its SCALE encoding
/// is `compact(len) ++ bytes`, i.e. that of a `Vec<u8>`. Those full encoded bytes are
/// what block bodies carry, what the extrinsics trie stores, and what the runtime's
/// `BlockBuilder_apply_extrinsic` / `TaggedTransactionQueue_validate_transaction`
/// receive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Encode, Decode)]
pub struct OpaqueExtrinsic(pub Vec<u8>);

impl OpaqueExtrinsic {
    /// Wraps the extrinsic's bytes (without length prefix).
    pub fn from_inner(bytes: Vec<u8>) -> Self {
        OpaqueExtrinsic(bytes)
    }

    /// Strictly decodes a length-prefixed extrinsic.
    pub fn from_encoded(encoded: &[u8]) -> Result<Self, DecodeError> {
        decode_extrinsic(encoded)
    }

    /// The bytes without the length prefix.
    pub fn inner(&self) -> &[u8] {
        &self.0
    }

    /// The full encoding, `compact(len) ++ bytes`.
    pub fn encoded(&self) -> Vec<u8> {
        self.encode()
    }

    /// Length of the full encoding.
    pub fn encoded_len(&self) -> usize {
        Compact::<u32>::compact_len(&(self.0.len() as u32)) + self.0.len()
    }
}

/// Root of the extrinsics trie: the ordered trie (keys `compact(index)`) whose values
/// are the extrinsics' full encodings (length prefix included), as in Substrate's
/// `extrinsics_root`. Use the state version of the runtime that built the block.
pub fn extrinsics_root(version: StateVersion, extrinsics: &[OpaqueExtrinsic]) -> H256 {
    H256(weft_trie::ordered_trie_root(version, extrinsics.iter().map(Encode::encode)))
}

/// A block: header and body.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Block {
    /// Header.
    pub header: Header,
    /// Body.
    pub extrinsics: Vec<OpaqueExtrinsic>,
}

impl Block {
    /// The block hash (hash of the header).
    pub fn hash(&self) -> H256 {
        self.header.hash()
    }

    /// Extrinsics root computed from the body; compare with `header.extrinsics_root`.
    pub fn extrinsics_root(&self, version: StateVersion) -> H256 {
        extrinsics_root(version, &self.extrinsics)
    }

    /// Whether the body matches `header.extrinsics_root` under `version`.
    pub fn body_matches_header(&self, version: StateVersion) -> bool {
        self.extrinsics_root(version) == self.header.extrinsics_root
    }
}

/// Finality proofs attached to a block, one per consensus engine.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Encode, Decode)]
pub struct Justifications(pub Vec<(ConsensusEngineId, Vec<u8>)>);

impl Justifications {
    /// A single justification.
    pub fn new(engine: ConsensusEngineId, justification: Vec<u8>) -> Self {
        Justifications(vec![(engine, justification)])
    }

    /// The encoded justification of `engine`, if present.
    pub fn get(&self, engine: ConsensusEngineId) -> Option<&[u8]> {
        self.0.iter().find(|(id, _)| *id == engine).map(|(_, j)| &j[..])
    }

    /// The encoded GRANDPA justification, if present.
    pub fn grandpa(&self) -> Option<&[u8]> {
        self.get(GRANDPA_ENGINE_ID)
    }

    /// Adds or replaces the justification of `engine`; returns the old one.
    pub fn insert(&mut self, engine: ConsensusEngineId, justification: Vec<u8>) -> Option<Vec<u8>> {
        match self.0.iter_mut().find(|(id, _)| *id == engine) {
            Some((_, j)) => Some(core::mem::replace(j, justification)),
            None => {
                self.0.push((engine, justification));
                None
            }
        }
    }

    /// Iterates over `(engine, justification)` pairs.
    pub fn iter(&self) -> impl Iterator<Item = (ConsensusEngineId, &[u8])> + '_ {
        self.0.iter().map(|(id, j)| (*id, &j[..]))
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A block with its justifications, as stored and as returned by `chain_getBlock`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct SignedBlock {
    /// The block.
    pub block: Block,
    /// Its justifications.
    pub justifications: Option<Justifications>,
}

/// Strictly decodes a header.
pub fn decode_header(bytes: &[u8]) -> Result<Header, DecodeError> {
    decode_exact("header", bytes, &DecodeLimits::HEADER)
}

/// Strictly decodes a single digest item.
pub fn decode_digest_item(bytes: &[u8]) -> Result<crate::header::DigestItem, DecodeError> {
    decode_exact("digest item", bytes, &DecodeLimits::DIGEST_ITEM)
}

/// Strictly decodes a digest (`Vec<DigestItem>`).
pub fn decode_digest(bytes: &[u8]) -> Result<crate::header::Digest, DecodeError> {
    decode_exact("digest", bytes, &DecodeLimits::HEADER)
}

/// Strictly decodes a block (header and body).
pub fn decode_block(bytes: &[u8]) -> Result<Block, DecodeError> {
    decode_exact("block", bytes, &DecodeLimits::BLOCK)
}

/// Strictly decodes a block body (`Vec<OpaqueExtrinsic>`).
pub fn decode_body(bytes: &[u8]) -> Result<Vec<OpaqueExtrinsic>, DecodeError> {
    decode_exact("block body", bytes, &DecodeLimits::BLOCK)
}

/// Strictly decodes one length-prefixed extrinsic.
pub fn decode_extrinsic(bytes: &[u8]) -> Result<OpaqueExtrinsic, DecodeError> {
    decode_exact("extrinsic", bytes, &DecodeLimits::EXTRINSIC)
}

/// Strictly decodes a `Justifications` list.
pub fn decode_justifications(bytes: &[u8]) -> Result<Justifications, DecodeError> {
    decode_exact("justifications", bytes, &DecodeLimits::JUSTIFICATION)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extrinsic_encoding() {
        let x = OpaqueExtrinsic(vec![4, 2, 0, 0xb]);
        assert_eq!(x.encoded(), [16, 4, 2, 0, 0xb]);
        assert_eq!(x.encoded_len(), 5);
        assert_eq!(OpaqueExtrinsic::from_encoded(&x.encoded()).unwrap(), x);
        let long = OpaqueExtrinsic(vec![0; 300]);
        assert_eq!(long.encoded_len(), long.encode().len());
        assert_eq!(decode_extrinsic(&[16, 1, 2]).unwrap_err(), DecodeError::Truncated { what: "extrinsic", len: 3 });
    }

    #[test]
    fn justifications() {
        let mut j = Justifications::new(GRANDPA_ENGINE_ID, vec![1, 2]);
        assert_eq!(j.grandpa(), Some(&[1, 2][..]));
        assert_eq!(j.get(*b"BEEF"), None);
        assert_eq!(j.insert(*b"BEEF", vec![3]), None);
        assert_eq!(j.insert(GRANDPA_ENGINE_ID, vec![4]), Some(vec![1, 2]));
        let enc = j.encode();
        assert_eq!(enc[..6], [8, b'F', b'R', b'N', b'K', 4]);
        assert_eq!(decode_justifications(&enc).unwrap(), j);
        assert_eq!(j.iter().count(), 2);
    }
}

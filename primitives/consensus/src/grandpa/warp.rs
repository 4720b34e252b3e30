//! GRANDPA warp-sync proofs, as served on `/<genesis>/sync/warp`.
//!
//! A proof is a list of fragments, each a header and a justification finalizing
//! it. Every fragment but possibly the last is the block that announces the next
//! authority set (a `ScheduledChange` digest) and is finalized by the set before
//! it, so a verifier that knows the genesis set walks from set to set without the
//! blocks in between. The last fragment of a finished proof may instead be the
//! most recent justified block. The wire format is SCALE:
//! `Vec<(Header, GrandpaJustification)>` followed by `is_finished: bool`; the
//! request is the 32-byte hash of the block to start from.
//!
//! [`generate_warp_proof`] answers a request from any [`WarpProofSource`] as
//! Substrate's `WarpSyncProof::generate` does: it starts after the requested
//! (finalized, canonical) block, stops at a forced change (the chain of hand-offs
//! is broken there), and stops unfinished when the proof would exceed
//! [`MAX_WARP_PROOF_SIZE`]. [`verify_warp_proof`] checks a proof from a known set.

use parity_scale_codec::{Decode, Encode};
use weft_block::decode::{decode_exact, DecodeLimits};
use weft_block::grandpa::{decode_justification, AuthorityList, GrandpaJustification, SetId};
use weft_block::{BlockNumber, DecodeError, Header, H256};

use super::{verify_justification, AuthoritySet, JustificationError};

/// Largest encoded proof a server sends (Substrate's `MAX_WARP_SYNC_PROOF_SIZE`).
pub const MAX_WARP_PROOF_SIZE: usize = 8 * 1024 * 1024;

/// Largest warp-proof response accepted from the network (the protocol's
/// response limit).
pub const MAX_WARP_RESPONSE_SIZE: usize = 16 * 1024 * 1024;

/// Bytes kept free for the fragment count and the `is_finished` flag.
const PROOF_SIZE_MARGIN: usize = 50;

/// One authority-set hand-off (or the final justified block).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct WarpSyncFragment {
    /// The block finalized by `justification`.
    pub header: Header,
    /// A justification of `header` by the set that was current at it.
    pub justification: GrandpaJustification,
}

/// A warp-sync proof.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
pub struct WarpSyncProof {
    /// The fragments, oldest first.
    pub fragments: Vec<WarpSyncFragment>,
    /// Whether the proof reaches the server's latest justified block; if not,
    /// ask again from the last fragment.
    pub is_finished: bool,
}

/// Strictly decodes a warp-sync proof received from a peer (bounded in size,
/// nesting and allocation).
pub fn decode_warp_proof(bytes: &[u8]) -> Result<WarpSyncProof, DecodeError> {
    const LIMITS: DecodeLimits =
        DecodeLimits { max_input_len: MAX_WARP_RESPONSE_SIZE, max_depth: 16, max_heap: 256 * 1024 * 1024 };
    decode_exact("warp sync proof", bytes, &LIMITS)
}

/// What a node needs to answer warp-sync requests.
pub trait WarpProofSource {
    /// Errors of the underlying store.
    type Error: std::fmt::Display;
    /// The last finalized block.
    fn finalized(&self) -> Result<(BlockNumber, H256), Self::Error>;
    /// The number of a stored block.
    fn block_number(&self, hash: &H256) -> Result<Option<BlockNumber>, Self::Error>;
    /// The hash of the canonical block numbered `number`.
    fn canonical_hash(&self, number: BlockNumber) -> Result<Option<H256>, Self::Error>;
    /// A stored header.
    fn header(&self, hash: &H256) -> Result<Option<Header>, Self::Error>;
    /// The stored GRANDPA justification of a block (SCALE bytes).
    fn grandpa_justification(&self, hash: &H256) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Stored blocks numbered `from..=to` whose header announces an authority-set
    /// change, ascending, on any fork.
    fn set_change_blocks(&self, from: BlockNumber, to: BlockNumber) -> Result<Vec<(BlockNumber, H256)>, Self::Error>;
    /// The highest finalized block with a stored GRANDPA justification.
    fn latest_justified(&self) -> Result<Option<(BlockNumber, H256)>, Self::Error>;
}

/// Why a warp-sync request cannot be answered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarpProofError {
    /// The start block is not stored.
    #[error("warp proof start block {0} is unknown")]
    UnknownStart(H256),
    /// The start block is above the finalized block.
    #[error("warp proof start block #{number} {hash} is not finalized (finalized: #{finalized})")]
    StartNotFinalized {
        /// Its number.
        number: BlockNumber,
        /// Its hash.
        hash: H256,
        /// The finalized number.
        finalized: BlockNumber,
    },
    /// The start block is on a fork of the finalized chain.
    #[error("warp proof start block #{number} {hash} is not on the finalized chain")]
    StartNotCanonical {
        /// Its number.
        number: BlockNumber,
        /// Its hash.
        hash: H256,
    },
    /// A header or justification the proof needs is missing or unreadable.
    #[error("cannot build the warp proof: {0}")]
    MissingData(String),
    /// The store failed.
    #[error("store: {0}")]
    Source(String),
}

/// Builds the warp-sync proof that starts after `begin` (see the module docs),
/// at most [`MAX_WARP_PROOF_SIZE`] bytes encoded.
pub fn generate_warp_proof<S: WarpProofSource>(source: &S, begin: H256) -> Result<WarpSyncProof, WarpProofError> {
    generate_warp_proof_with_limit(source, begin, MAX_WARP_PROOF_SIZE)
}

/// [`generate_warp_proof`] with another size limit.
pub fn generate_warp_proof_with_limit<S: WarpProofSource>(
    source: &S,
    begin: H256,
    max_size: usize,
) -> Result<WarpSyncProof, WarpProofError> {
    let store = |e: S::Error| WarpProofError::Source(e.to_string());
    let begin_number = source.block_number(&begin).map_err(store)?.ok_or(WarpProofError::UnknownStart(begin))?;
    let (finalized, _) = source.finalized().map_err(store)?;
    if begin_number > finalized {
        return Err(WarpProofError::StartNotFinalized { number: begin_number, hash: begin, finalized });
    }
    if source.canonical_hash(begin_number).map_err(store)? != Some(begin) {
        return Err(WarpProofError::StartNotCanonical { number: begin_number, hash: begin });
    }

    let fragment_of = |number: BlockNumber, hash: H256| -> Result<WarpSyncFragment, WarpProofError> {
        let header = source
            .header(&hash)
            .map_err(store)?
            .ok_or_else(|| WarpProofError::MissingData(format!("header of #{number} {hash}")))?;
        let bytes = source
            .grandpa_justification(&hash)
            .map_err(store)?
            .ok_or_else(|| WarpProofError::MissingData(format!("GRANDPA justification of #{number} {hash}")))?;
        let justification = decode_justification(&bytes)
            .map_err(|e| WarpProofError::MissingData(format!("stored justification of #{number} {hash}: {e}")))?;
        Ok(WarpSyncFragment { header, justification })
    };

    let mut fragments: Vec<WarpSyncFragment> = Vec::new();
    let mut size = 0usize;
    let mut limit_reached = false;
    let changes = match begin_number.checked_add(1) {
        Some(from) => source.set_change_blocks(from, finalized).map_err(store)?,
        None => Vec::new(),
    };
    for (number, hash) in changes {
        if source.canonical_hash(number).map_err(store)? != Some(hash) {
            continue;
        }
        let header = source
            .header(&hash)
            .map_err(store)?
            .ok_or_else(|| WarpProofError::MissingData(format!("header of #{number} {hash}")))?;
        // A forced change breaks the chain of hand-offs: stop there.
        if !matches!(header.grandpa_scheduled_change(), Ok(Some(_))) {
            break;
        }
        let fragment = fragment_of(number, hash)?;
        let fragment_size = fragment.encoded_size();
        if size + fragment_size >= max_size.saturating_sub(PROOF_SIZE_MARGIN) {
            limit_reached = true;
            break;
        }
        size += fragment_size;
        fragments.push(fragment);
    }

    let is_finished = if limit_reached {
        false
    } else {
        // The latest justification, if it is above the last hand-off (or at or
        // above the start when there is none).
        let floor = fragments.last().map_or(begin_number, |f| f.justification.commit.target_number.saturating_add(1));
        if let Some((number, hash)) = source.latest_justified().map_err(store)?.filter(|(n, _)| *n >= floor) {
            fragments.push(fragment_of(number, hash)?);
        }
        true
    };
    Ok(WarpSyncProof { fragments, is_finished })
}

/// A verified warp-sync proof.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedWarpProof {
    /// The set id after the last fragment.
    pub set_id: SetId,
    /// The authorities after the last fragment.
    pub authorities: AuthorityList,
    /// The last fragment's header: final, and the block to continue from.
    pub last_header: Header,
    /// The proof's `is_finished` flag.
    pub is_finished: bool,
}

/// Why a warp-sync proof is rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WarpVerifyError {
    /// No fragment.
    #[error("the warp proof is empty")]
    Empty,
    /// A justification does not verify with the set current at its fragment.
    #[error("warp proof fragment {index} (#{number} {hash}), set {set_id}: {source}")]
    Justification {
        /// Fragment index.
        index: usize,
        /// Header number.
        number: BlockNumber,
        /// Header hash.
        hash: H256,
        /// The set it was checked with.
        set_id: SetId,
        /// The failure.
        source: Box<JustificationError>,
    },
    /// The justification finalizes another block than the fragment's header.
    #[error("warp proof fragment {index}: the justification is for #{target_number} {target_hash}, the header is #{number} {hash}")]
    TargetMismatch {
        /// Fragment index.
        index: usize,
        /// Header number.
        number: BlockNumber,
        /// Header hash.
        hash: H256,
        /// Justification target number.
        target_number: BlockNumber,
        /// Justification target hash.
        target_hash: H256,
    },
    /// A fragment other than the last of a finished proof announces no new set.
    #[error("warp proof fragment {index} (#{number}) announces no authority set change")]
    MissingSetChange {
        /// Fragment index.
        index: usize,
        /// Header number.
        number: BlockNumber,
    },
    /// A header's GRANDPA digest does not decode.
    #[error("warp proof fragment {index}: {source}")]
    Digest {
        /// Fragment index.
        index: usize,
        /// The failure.
        source: DecodeError,
    },
    /// The set id would overflow.
    #[error("warp proof: set id overflows")]
    SetIdOverflow,
}

/// Verifies a warp-sync proof starting from the authority set `set_id` /
/// `authorities` (the genesis set, or the result of the previous proof).
pub fn verify_warp_proof(
    proof: &WarpSyncProof,
    set_id: SetId,
    authorities: AuthorityList,
) -> Result<VerifiedWarpProof, WarpVerifyError> {
    let last_index = proof.fragments.len().checked_sub(1).ok_or(WarpVerifyError::Empty)?;
    let mut set = AuthoritySet::new(set_id, authorities);
    for (index, fragment) in proof.fragments.iter().enumerate() {
        let hash = fragment.header.hash();
        let number = fragment.header.number;
        let verified = verify_justification(&fragment.justification, &set).map_err(|source| {
            WarpVerifyError::Justification { index, number, hash, set_id: set.set_id, source: Box::new(source) }
        })?;
        if verified.target_hash != hash || verified.target_number != number {
            return Err(WarpVerifyError::TargetMismatch {
                index,
                number,
                hash,
                target_number: verified.target_number,
                target_hash: verified.target_hash,
            });
        }
        match fragment.header.grandpa_scheduled_change() {
            Ok(Some(change)) => {
                let next_id = set.set_id.checked_add(1).ok_or(WarpVerifyError::SetIdOverflow)?;
                set = AuthoritySet::new(next_id, change.next_authorities);
            }
            Ok(None) if index == last_index && proof.is_finished => {}
            Ok(None) => return Err(WarpVerifyError::MissingSetChange { index, number }),
            Err(source) => return Err(WarpVerifyError::Digest { index, source }),
        }
    }
    let last_header = proof.fragments[last_index].header.clone();
    Ok(VerifiedWarpProof {
        set_id: set.set_id,
        authorities: set.authorities,
        last_header,
        is_finished: proof.is_finished,
    })
}

//! The `sync/warp` server and client check: GRANDPA warp-sync proofs answered
//! from the chain store (its index of blocks announcing authority-set changes and
//! the justifications stored with them), and verified on receipt.

use weft_block::grandpa::{AuthorityList, SetId};
use weft_block::{BlockNumber, Header, GRANDPA_ENGINE_ID, H256};
use weft_chain_store::{ChainStore, StoreError};
use weft_consensus::grandpa::warp::{
    decode_warp_proof, generate_warp_proof, verify_warp_proof, VerifiedWarpProof, WarpProofError, WarpProofSource,
    WarpSyncProof, WarpVerifyError,
};

/// A warp request is the SCALE encoding of the start block's hash.
pub const WARP_REQUEST_BYTES: usize = 32;

/// A [`ChainStore`] as the source of warp proofs.
pub struct StoreWarpSource<'a>(pub &'a ChainStore);

impl WarpProofSource for StoreWarpSource<'_> {
    type Error = StoreError;
    fn finalized(&self) -> Result<(BlockNumber, H256), StoreError> {
        self.0.finalized()
    }
    fn block_number(&self, hash: &H256) -> Result<Option<BlockNumber>, StoreError> {
        Ok(self.0.block_info(hash)?.map(|info| info.number))
    }
    fn canonical_hash(&self, number: BlockNumber) -> Result<Option<H256>, StoreError> {
        self.0.canonical_hash(number)
    }
    fn header(&self, hash: &H256) -> Result<Option<Header>, StoreError> {
        self.0.header(hash)
    }
    fn grandpa_justification(&self, hash: &H256) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.justifications(hash)?.and_then(|j| j.get(GRANDPA_ENGINE_ID).map(<[u8]>::to_vec)))
    }
    fn set_change_blocks(&self, from: BlockNumber, to: BlockNumber) -> Result<Vec<(BlockNumber, H256)>, StoreError> {
        self.0.set_change_blocks(from, to)
    }
    fn latest_justified(&self) -> Result<Option<(BlockNumber, H256)>, StoreError> {
        self.0.latest_justified()
    }
}

/// Why a warp request was not answered.
#[derive(Debug, thiserror::Error)]
pub enum WarpServeError {
    /// The request is not a 32-byte hash.
    #[error("a warp request is a 32-byte block hash, got {0} bytes")]
    BadRequest(usize),
    /// The proof cannot be built.
    #[error(transparent)]
    Proof(#[from] WarpProofError),
}

/// Answers a raw `sync/warp` request: the encoded proof from the requested block.
pub fn serve_warp_request_bytes(store: &ChainStore, request: &[u8]) -> Result<Vec<u8>, WarpServeError> {
    let begin: [u8; 32] = request.try_into().map_err(|_| WarpServeError::BadRequest(request.len()))?;
    let proof = generate_warp_proof(&StoreWarpSource(store), H256(begin))?;
    Ok(parity_scale_codec::Encode::encode(&proof))
}

/// Why a received warp proof is rejected.
#[derive(Debug, thiserror::Error)]
pub enum WarpCheckError {
    /// It does not decode.
    #[error("warp proof does not decode: {0}")]
    Decode(#[from] weft_block::DecodeError),
    /// It does not verify.
    #[error(transparent)]
    Verify(#[from] WarpVerifyError),
}

/// Decodes and verifies a raw warp-proof response from the set `set_id` /
/// `authorities`; returns the proof and what it proves.
pub fn check_warp_response(
    bytes: &[u8],
    set_id: SetId,
    authorities: AuthorityList,
) -> Result<(WarpSyncProof, VerifiedWarpProof), WarpCheckError> {
    let proof = decode_warp_proof(bytes)?;
    let verified = verify_warp_proof(&proof, set_id, authorities)?;
    Ok((proof, verified))
}

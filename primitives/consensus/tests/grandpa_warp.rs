//! Warp-sync proofs: generation from a store of headers and justifications (as
//! Substrate's `WarpSyncProof::generate`), verification from the genesis set,
//! continuation of unfinished proofs, and rejection of tampered proofs.

use std::collections::BTreeMap;

use parity_scale_codec::Encode;
use weft_block::grandpa::{decode_justification, ConsensusLog, ScheduledChange};
use weft_block::{BlockNumber, Digest, DigestItem, Header, GRANDPA_ENGINE_ID, H256};
use weft_consensus::grandpa::testing::{authorities, justify, SyntheticChain};
use weft_consensus::grandpa::warp::{
    decode_warp_proof, generate_warp_proof, generate_warp_proof_with_limit, verify_warp_proof, WarpProofError,
    WarpProofSource, WarpVerifyError,
};

fn genesis() -> Header {
    Header {
        parent_hash: H256::ZERO,
        number: 0,
        state_root: H256([7; 32]),
        extrinsics_root: H256::ZERO,
        digest: Digest::default(),
    }
}

/// An in-memory store: one canonical chain, finalized up to `finalized`, plus
/// optional fork headers.
struct MemorySource {
    chain: SyntheticChain,
    finalized: BlockNumber,
    forks: Vec<Header>,
}

impl MemorySource {
    fn new(chain: SyntheticChain) -> Self {
        let finalized = chain.headers.len() as BlockNumber - 1;
        MemorySource { chain, finalized, forks: Vec::new() }
    }
}

impl WarpProofSource for MemorySource {
    type Error = String;
    fn finalized(&self) -> Result<(BlockNumber, H256), String> {
        Ok((self.finalized, self.chain.headers[self.finalized as usize].hash()))
    }
    fn block_number(&self, hash: &H256) -> Result<Option<BlockNumber>, String> {
        Ok(self.chain.headers.iter().chain(&self.forks).find(|h| h.hash() == *hash).map(|h| h.number))
    }
    fn canonical_hash(&self, number: BlockNumber) -> Result<Option<H256>, String> {
        Ok(self.chain.headers.get(number as usize).map(Header::hash))
    }
    fn header(&self, hash: &H256) -> Result<Option<Header>, String> {
        Ok(self.chain.headers.iter().chain(&self.forks).find(|h| h.hash() == *hash).cloned())
    }
    fn grandpa_justification(&self, hash: &H256) -> Result<Option<Vec<u8>>, String> {
        let number = self.block_number(hash)?;
        Ok(number.and_then(|n| self.chain.justifications.get(&n).cloned()))
    }
    fn set_change_blocks(&self, from: BlockNumber, to: BlockNumber) -> Result<Vec<(BlockNumber, H256)>, String> {
        let mut out: Vec<(BlockNumber, H256)> = self
            .chain
            .headers
            .iter()
            .chain(&self.forks)
            .filter(|h| h.number >= from && h.number <= to)
            .filter(|h| {
                matches!(h.grandpa_scheduled_change(), Ok(Some(_))) || matches!(h.grandpa_forced_change(), Ok(Some(_)))
            })
            .map(|h| (h.number, h.hash()))
            .collect();
        out.sort();
        Ok(out)
    }
    fn latest_justified(&self) -> Result<Option<(BlockNumber, H256)>, String> {
        let latest = self.chain.justifications.keys().filter(|n| **n <= self.finalized).max().copied();
        Ok(latest.map(|n| (n, self.chain.headers[n as usize].hash())))
    }
}

fn numbers(proof: &weft_consensus::grandpa::warp::WarpSyncProof) -> Vec<BlockNumber> {
    proof.fragments.iter().map(|f| f.header.number).collect()
}

#[test]
fn proof_from_genesis_walks_every_set_to_the_latest_justification() {
    let chain = SyntheticChain::build(&genesis(), 105, 10, &[103]);
    assert_eq!(chain.final_set_id, 10);
    let source = MemorySource::new(chain.clone());
    let proof = generate_warp_proof(&source, genesis().hash()).unwrap();
    assert_eq!(numbers(&proof), vec![10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 103]);
    assert!(proof.is_finished);

    // Over the wire and back, byte for byte.
    let bytes = proof.encode();
    assert_eq!(decode_warp_proof(&bytes).unwrap(), proof);

    let verified = verify_warp_proof(&proof, 0, authorities(0)).unwrap();
    assert_eq!(verified.set_id, 10);
    assert_eq!(verified.authorities, authorities(10));
    assert_eq!(verified.last_header, chain.headers[103]);
    assert!(verified.is_finished);
}

#[test]
fn the_latest_justification_is_left_out_when_it_is_a_hand_off_already_proved() {
    let chain = SyntheticChain::build(&genesis(), 100, 10, &[]);
    let proof = generate_warp_proof(&MemorySource::new(chain), genesis().hash()).unwrap();
    assert_eq!(numbers(&proof), vec![10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
    assert!(proof.is_finished);
    let verified = verify_warp_proof(&proof, 0, authorities(0)).unwrap();
    assert_eq!((verified.set_id, verified.last_header.number), (10, 100));
}

#[test]
fn a_start_in_the_middle_begins_after_it_with_that_set() {
    let chain = SyntheticChain::build(&genesis(), 55, 10, &[52]);
    let source = MemorySource::new(chain.clone());
    // From #30 (itself a hand-off to set 3): #40, #50 and the justified #52.
    let proof = generate_warp_proof(&source, chain.headers[30].hash()).unwrap();
    assert_eq!(numbers(&proof), vec![40, 50, 52]);
    let verified = verify_warp_proof(&proof, 3, authorities(3)).unwrap();
    assert_eq!((verified.set_id, verified.last_header.number), (5, 52));
    // From #35: the same.
    let proof = generate_warp_proof(&source, chain.headers[35].hash()).unwrap();
    assert_eq!(numbers(&proof), vec![40, 50, 52]);
    // From the latest justified block: nothing left to prove, but the latest
    // justification is still given (at or above the start).
    let proof = generate_warp_proof(&source, chain.headers[52].hash()).unwrap();
    assert_eq!(numbers(&proof), vec![52]);
    // Checked with the wrong set, it fails.
    let err = verify_warp_proof(&generate_warp_proof(&source, chain.headers[30].hash()).unwrap(), 2, authorities(2))
        .unwrap_err();
    assert!(matches!(err, WarpVerifyError::Justification { index: 0, set_id: 2, .. }), "{err}");
}

#[test]
fn an_oversized_proof_is_cut_unfinished_and_continued_from_its_last_fragment() {
    let chain = SyntheticChain::build(&genesis(), 100, 10, &[]);
    let source = MemorySource::new(chain.clone());
    let fragment_size = generate_warp_proof(&source, genesis().hash()).unwrap().fragments[0].encoded_size();
    let limit = 3 * fragment_size + 60;
    let mut begin = genesis().hash();
    let (mut set_id, mut set) = (0, authorities(0));
    let mut rounds = Vec::new();
    loop {
        let proof = generate_warp_proof_with_limit(&source, begin, limit).unwrap();
        assert!(proof.encoded_size() <= limit);
        rounds.push(numbers(&proof));
        let verified = verify_warp_proof(&proof, set_id, set).unwrap();
        (set_id, set) = (verified.set_id, verified.authorities);
        begin = verified.last_header.hash();
        if verified.is_finished {
            break;
        }
    }
    assert_eq!(rounds, vec![vec![10, 20, 30], vec![40, 50, 60], vec![70, 80, 90], vec![100]]);
    assert_eq!((set_id, set), (10, authorities(10)));
}

#[test]
fn a_forced_change_ends_the_proof() {
    let mut chain = SyntheticChain::build(&genesis(), 30, 10, &[]);
    // Replace #20's scheduled change by a forced change (and re-link #21..).
    let forced = ConsensusLog::ForcedChange(15, ScheduledChange { next_authorities: authorities(9), delay: 0 });
    chain.headers[20].digest = Digest { logs: vec![DigestItem::Consensus(GRANDPA_ENGINE_ID, forced.encode())] };
    for n in 21..=30 {
        chain.headers[n].parent_hash = chain.headers[n - 1].hash();
    }
    chain.justifications = BTreeMap::from([(10, justify(&chain.headers[10], 0).encode())]);
    let proof = generate_warp_proof(&MemorySource::new(chain), genesis().hash()).unwrap();
    assert_eq!(numbers(&proof), vec![10]);
    assert!(proof.is_finished);
}

#[test]
fn requests_for_unknown_unfinalized_or_forked_blocks_are_refused() {
    let chain = SyntheticChain::build(&genesis(), 30, 10, &[]);
    let mut source = MemorySource::new(chain.clone());
    source.finalized = 20;
    let fork = Header { extrinsics_root: H256([0xee; 32]), ..chain.headers[15].clone() };
    source.forks.push(fork.clone());

    let unknown = H256([1; 32]);
    assert_eq!(generate_warp_proof(&source, unknown).unwrap_err(), WarpProofError::UnknownStart(unknown));
    let err = generate_warp_proof(&source, chain.headers[25].hash()).unwrap_err();
    assert!(matches!(err, WarpProofError::StartNotFinalized { number: 25, finalized: 20, .. }), "{err}");
    let err = generate_warp_proof(&source, fork.hash()).unwrap_err();
    assert!(matches!(err, WarpProofError::StartNotCanonical { number: 15, .. }), "{err}");
    // Above the finalized block nothing is given: #10 and #20 only.
    assert_eq!(numbers(&generate_warp_proof(&source, genesis().hash()).unwrap()), vec![10, 20]);

    // A hand-off block whose justification is missing cannot be proved.
    source.chain.justifications.remove(&20);
    let err = generate_warp_proof(&source, genesis().hash()).unwrap_err();
    assert!(matches!(err, WarpProofError::MissingData(ref m) if m.contains("#20")), "{err}");
}

#[test]
fn tampered_proofs_are_rejected() {
    let chain = SyntheticChain::build(&genesis(), 38, 10, &[35]);
    let proof = generate_warp_proof(&MemorySource::new(chain.clone()), genesis().hash()).unwrap();
    assert_eq!(numbers(&proof), vec![10, 20, 30, 35]);

    // A flipped signature byte.
    let mut bad = proof.clone();
    bad.fragments[1].justification.commit.precommits[0].signature[5] ^= 1;
    let err = verify_warp_proof(&bad, 0, authorities(0)).unwrap_err();
    assert!(matches!(err, WarpVerifyError::Justification { index: 1, number: 20, set_id: 1, .. }), "{err}");

    // A header that is not the justified block.
    let mut bad = proof.clone();
    bad.fragments[2].header = chain.headers[29].clone();
    let err = verify_warp_proof(&bad, 0, authorities(0)).unwrap_err();
    assert!(matches!(err, WarpVerifyError::TargetMismatch { index: 2, number: 29, target_number: 30, .. }), "{err}");

    // A hand-off left out: #30 is justified by set 2, which the verifier does not reach.
    let mut bad = proof.clone();
    bad.fragments.remove(1);
    let err = verify_warp_proof(&bad, 0, authorities(0)).unwrap_err();
    assert!(matches!(err, WarpVerifyError::Justification { index: 1, number: 30, set_id: 1, .. }), "{err}");

    // A block without a change in the middle (a justified non-hand-off before the end).
    let mut bad = proof.clone();
    bad.fragments.insert(
        0,
        weft_consensus::grandpa::warp::WarpSyncFragment {
            header: chain.headers[5].clone(),
            justification: justify(&chain.headers[5], 0),
        },
    );
    let err = verify_warp_proof(&bad, 0, authorities(0)).unwrap_err();
    assert!(matches!(err, WarpVerifyError::MissingSetChange { index: 0, number: 5 }), "{err}");

    // The same as the last fragment of an unfinished proof.
    let mut bad = proof.clone();
    bad.is_finished = false;
    let err = verify_warp_proof(&bad, 0, authorities(0)).unwrap_err();
    assert!(matches!(err, WarpVerifyError::MissingSetChange { index: 3, number: 35 }), "{err}");

    // Empty.
    let empty = weft_consensus::grandpa::warp::WarpSyncProof { fragments: vec![], is_finished: true };
    assert_eq!(verify_warp_proof(&empty, 0, authorities(0)).unwrap_err(), WarpVerifyError::Empty);

    // The stored justifications decode as Substrate's.
    for bytes in chain.justifications.values() {
        decode_justification(bytes).unwrap();
    }
}

#[test]
fn undecodable_proofs_are_errors_not_panics() {
    let chain = SyntheticChain::build(&genesis(), 20, 10, &[]);
    let bytes = generate_warp_proof(&MemorySource::new(chain), genesis().hash()).unwrap().encode();
    for len in 0..bytes.len() {
        assert!(decode_warp_proof(&bytes[..len]).is_err(), "truncated to {len}");
    }
    let mut extra = bytes.clone();
    extra.push(0);
    assert!(decode_warp_proof(&extra).is_err());
    // A fragment count far beyond the input.
    assert!(decode_warp_proof(&[0xfe, 0xff, 0xff, 0xff, 0x01]).is_err());
    // Beyond the response limit.
    assert!(decode_warp_proof(&vec![0u8; 16 * 1024 * 1024 + 1]).is_err());
}

//! Synthetic GRANDPA chains for tests (feature `testing`): headers that hand the
//! authority set over every few blocks, and justifications signed by generated
//! ed25519 keys, as a node that finalized them would have stored.

use std::collections::BTreeMap;

use parity_scale_codec::Encode;
use weft_block::grandpa::{
    precommit_signing_payload, AuthorityList, Commit, ConsensusLog, GrandpaAuthority, GrandpaJustification, Precommit,
    ScheduledChange, SetId, SignedPrecommit,
};
use weft_block::{BlockNumber, Digest, DigestItem, Header, GRANDPA_ENGINE_ID, H256};
use weft_crypto::ed25519;

/// Number of generated keys sets are drawn from.
pub const KEYS: u8 = 6;

/// The generated key `index` (seed `[index + 1; 32]`).
pub fn key(index: u8) -> ed25519::Pair {
    ed25519::Pair::from_seed(&[index + 1; 32])
}

/// The voters of set `set_id`: four or five of the [`KEYS`] keys, weight 1.
pub fn set_keys(set_id: SetId) -> Vec<ed25519::Pair> {
    (0..KEYS).filter(|i| !(u64::from(*i) + set_id).is_multiple_of(3) || *i == 0).map(key).collect()
}

/// The authority list of set `set_id`.
pub fn authorities(set_id: SetId) -> AuthorityList {
    set_keys(set_id).iter().map(|k| GrandpaAuthority { public_key: k.public().0, weight: 1 }).collect()
}

/// A justification of `header` signed by every voter of `set_id`.
pub fn justify(header: &Header, set_id: SetId) -> GrandpaJustification {
    let round = 100 + u64::from(header.number);
    let precommit = Precommit { target_hash: header.hash(), target_number: header.number };
    let payload = precommit_signing_payload(&precommit, round, set_id);
    let precommits = set_keys(set_id)
        .iter()
        .map(|k| SignedPrecommit { precommit, signature: k.sign(&payload).0, id: k.public().0 })
        .collect();
    GrandpaJustification {
        round,
        commit: Commit { target_hash: precommit.target_hash, target_number: header.number, precommits },
        votes_ancestries: Vec::new(),
    }
}

/// A chain on top of a genesis header.
#[derive(Debug, Clone)]
pub struct SyntheticChain {
    /// Headers by number; `headers[0]` is the genesis.
    pub headers: Vec<Header>,
    /// SCALE-encoded justifications by block number.
    pub justifications: BTreeMap<BlockNumber, Vec<u8>>,
    /// The set id in force after the last block.
    pub final_set_id: SetId,
}

impl SyntheticChain {
    /// `length` blocks on `genesis` (whose set is 0, [`authorities`]`(0)`). Every
    /// `change_every`-th block announces the next set (`ScheduledChange`, delay 0)
    /// and is justified by its own set; so is every block in `also_justified`.
    /// Children keep the genesis state root, so a store can commit them with no
    /// state changes.
    pub fn build(
        genesis: &Header,
        length: BlockNumber,
        change_every: BlockNumber,
        also_justified: &[BlockNumber],
    ) -> Self {
        let mut headers = vec![genesis.clone()];
        let mut justifications = BTreeMap::new();
        let mut set_id: SetId = 0;
        for number in 1..=length {
            let parent = headers.last().expect("genesis is there");
            let mut logs = Vec::new();
            let change = change_every > 0 && number % change_every == 0;
            if change {
                let next = ScheduledChange { next_authorities: authorities(set_id + 1), delay: 0 };
                logs.push(DigestItem::Consensus(GRANDPA_ENGINE_ID, ConsensusLog::ScheduledChange(next).encode()));
            }
            let header = Header {
                parent_hash: parent.hash(),
                number,
                state_root: genesis.state_root,
                extrinsics_root: H256([number as u8; 32]),
                digest: Digest { logs },
            };
            if change || also_justified.contains(&number) {
                justifications.insert(number, justify(&header, set_id).encode());
            }
            if change {
                set_id += 1;
            }
            headers.push(header);
        }
        SyntheticChain { headers, justifications, final_set_id: set_id }
    }
}

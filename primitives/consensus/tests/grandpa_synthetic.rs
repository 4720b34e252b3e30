//! GRANDPA justifications and commits signed with generated keys: precommits on
//! descendants of the target, ancestry proofs and equivocations.

use weft_block::grandpa::{
    precommit_signing_payload, CompactCommit, FullCommitMessage, GrandpaAuthority, GrandpaJustification, Precommit,
    SignedPrecommit,
};
use weft_block::{BlockNumber, Digest, Header, H256};
use weft_consensus::grandpa::{
    verify_commit, verify_commit_with_ancestry, verify_justification, AuthoritySet, JustificationError,
};
use weft_crypto::ed25519;

const ROUND: u64 = 77;
const SET_ID: u64 = 5;

fn keys() -> Vec<ed25519::Pair> {
    (1..=4u8).map(|i| ed25519::Pair::from_seed(&[i; 32])).collect()
}

fn set() -> AuthoritySet {
    AuthoritySet::new(SET_ID, keys().iter().map(|k| GrandpaAuthority { public_key: k.public().0, weight: 1 }).collect())
}

/// A chain `#10 <- #11 <- #12 <- #13` (index 0 is #10).
fn chain() -> Vec<Header> {
    let mut headers: Vec<Header> = Vec::new();
    for number in 10..=13 {
        let parent_hash = headers.last().map_or(H256([9; 32]), Header::hash);
        headers.push(Header {
            parent_hash,
            number,
            state_root: H256([number as u8; 32]),
            extrinsics_root: H256::ZERO,
            digest: Digest::default(),
        });
    }
    headers
}

fn vote(voter: usize, target: &Header) -> SignedPrecommit {
    vote_for(voter, target.hash(), target.number)
}

fn vote_for(voter: usize, target_hash: H256, target_number: BlockNumber) -> SignedPrecommit {
    let key = &keys()[voter];
    let precommit = Precommit { target_hash, target_number };
    let signature = key.sign(&precommit_signing_payload(&precommit, ROUND, SET_ID)).0;
    SignedPrecommit { precommit, signature, id: key.public().0 }
}

fn justification(target: &Header, precommits: Vec<SignedPrecommit>, ancestry: Vec<Header>) -> GrandpaJustification {
    GrandpaJustification {
        round: ROUND,
        commit: weft_block::grandpa::Commit { target_hash: target.hash(), target_number: target.number, precommits },
        votes_ancestries: ancestry,
    }
}

#[test]
fn precommits_on_descendants_with_ancestry() {
    let c = chain();
    // Target #10; votes on #10, #12 and #13 (three of four: threshold 3).
    let votes = vec![vote(0, &c[0]), vote(1, &c[2]), vote(2, &c[3])];
    let j = justification(&c[0], votes.clone(), vec![c[1].clone(), c[2].clone(), c[3].clone()]);
    let verified = verify_justification(&j, &set()).unwrap();
    assert_eq!((verified.target_number, verified.weight, verified.threshold), (10, 3, 3));

    // Ancestry order does not matter.
    let j = justification(&c[0], votes.clone(), vec![c[3].clone(), c[1].clone(), c[2].clone()]);
    assert!(verify_justification(&j, &set()).is_ok());

    // A missing link: #11 is needed to connect #12 and #13 to #10.
    let j = justification(&c[0], votes.clone(), vec![c[2].clone(), c[3].clone()]);
    assert!(matches!(
        verify_justification(&j, &set()),
        Err(JustificationError::UnrelatedPrecommit { index: 1, target_number: 12, commit_number: 10, .. })
    ));

    // An ancestry header whose number does not fit the route.
    let mut odd = c.clone();
    odd[1].number = 15;
    odd[2].parent_hash = odd[1].hash();
    let votes_odd = vec![vote(0, &odd[0]), vote(1, &odd[2]), vote(2, &odd[0])];
    let j = justification(&odd[0], votes_odd, vec![odd[1].clone(), odd[2].clone()]);
    assert!(matches!(
        verify_justification(&j, &set()),
        Err(JustificationError::AncestryNumberMismatch { index: 1, header_number: 15, expected: 11, .. })
    ));

    // A precommit whose number disagrees with its block.
    let votes_bad_number = vec![vote(0, &c[0]), vote_for(1, c[2].hash(), 14), vote(2, &c[0])];
    let j = justification(&c[0], votes_bad_number, vec![c[1].clone(), c[2].clone()]);
    assert!(matches!(
        verify_justification(&j, &set()),
        Err(JustificationError::AncestryNumberMismatch { index: 1, .. })
    ));

    // A precommit on an ancestor of the target is not a vote for the target.
    let votes = vec![vote(0, &c[1]), vote(1, &c[1]), vote(2, &c[0])];
    let j = justification(&c[1], votes, vec![]);
    assert!(matches!(
        verify_justification(&j, &set()),
        Err(JustificationError::UnrelatedPrecommit { index: 2, target_number: 10, commit_number: 11, .. })
    ));
}

#[test]
fn one_equivocation_per_voter_is_tolerated() {
    let c = chain();
    let ancestry = vec![c[1].clone(), c[2].clone()];
    // Voter 3 precommits both #10 and #12: its weight counts once.
    let votes = vec![vote(0, &c[0]), vote(3, &c[0]), vote(1, &c[0]), vote(3, &c[2])];
    let verified = verify_justification(&justification(&c[0], votes.clone(), ancestry.clone()), &set()).unwrap();
    assert_eq!((verified.weight, verified.equivocators), (3, 1));

    // The equivocator's weight does not count twice: two voters plus an
    // equivocation are below the threshold of 3.
    let two = vec![vote(0, &c[0]), vote(3, &c[0]), vote(3, &c[2])];
    assert!(matches!(
        verify_justification(&justification(&c[0], two, ancestry.clone()), &set()),
        Err(JustificationError::InsufficientWeight { weight: 2, threshold: 3, .. })
    ));

    // A third vote by the same voter is rejected...
    let mut three = votes.clone();
    three.push(vote(3, &c[1]));
    assert!(matches!(
        verify_justification(&justification(&c[0], three, ancestry.clone()), &set()),
        Err(JustificationError::TooManyEquivocations { index: 4, .. })
    ));
    // ... and so is a repeat of either of its two votes.
    let mut repeat = votes;
    repeat.push(vote(3, &c[2]));
    assert!(matches!(
        verify_justification(&justification(&c[0], repeat, ancestry), &set()),
        Err(JustificationError::DuplicatePrecommit { index: 4, first: 3, .. })
    ));
}

#[test]
fn gossip_commit_with_chain_ancestry() {
    let c = chain();
    let votes = [vote(0, &c[0]), vote(1, &c[1]), vote(2, &c[2])];
    let message = FullCommitMessage {
        round: ROUND,
        set_id: SET_ID,
        message: CompactCommit {
            target_hash: c[0].hash(),
            target_number: 10,
            precommits: votes.iter().map(|v| v.precommit).collect(),
            auth_data: votes.iter().map(|v| (v.signature, v.id)).collect(),
        },
    };
    // Without ancestry only precommits on the target itself are provable.
    assert!(matches!(
        verify_commit(&message, &set(), &[]),
        Err(JustificationError::UnrelatedPrecommit { index: 1, .. })
    ));
    // With headers from the node's chain (extra ones are fine).
    let verified = verify_commit(&message, &set(), &c).unwrap();
    assert_eq!((verified.target_number, verified.weight), (10, 3));

    let commit = message.message.to_commit().unwrap();
    assert!(verify_commit_with_ancestry(ROUND, &commit, &set(), &c).is_ok());
    assert!(matches!(
        verify_commit_with_ancestry(ROUND + 1, &commit, &set(), &c),
        Err(JustificationError::BadSignature { .. })
    ));
}

#[test]
fn weighted_voters() {
    let c = chain();
    let mut set = set();
    set.authorities[0].weight = 10; // total 13, threshold 13 - 4 = 9
    let heavy_alone = justification(&c[0], vec![vote(0, &c[0])], vec![]);
    let verified = verify_justification(&heavy_alone, &set).unwrap();
    assert_eq!((verified.weight, verified.threshold, verified.total_weight), (10, 9, 13));
    let light = justification(&c[0], vec![vote(1, &c[0]), vote(2, &c[0]), vote(3, &c[0])], vec![]);
    assert!(matches!(
        verify_justification(&light, &set),
        Err(JustificationError::InsufficientWeight { weight: 3, threshold: 9, total_weight: 13, .. })
    ));
}

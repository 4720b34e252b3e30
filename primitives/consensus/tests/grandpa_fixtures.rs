//! GRANDPA verification of the real justification and gossip commit recorded in
//! `../shared/fixtures/finality` (see README.vectors.json there), and of tampered
//! variants of them.

use weft_block::grandpa::{FullCommitMessage, GrandpaAuthority, GrandpaJustification};
use weft_block::{decode_commit_message, decode_justification, Digest, Header, H256};
use weft_consensus::grandpa::{verify_commit, verify_justification, AuthoritySet, JustificationError};

const FINALITY: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/finality");

/// Justification of block #302592, round 439559, set 0, 5 precommits.
fn justification() -> GrandpaJustification {
    let bytes = std::fs::read(format!("{FINALITY}/smoldot-grandpa-justification-302592.bin")).unwrap();
    decode_justification(&bytes).unwrap()
}

/// Gossip commit for #5105457, round 3669, set 3490, 7 precommits.
fn commit() -> FullCommitMessage {
    let bytes = std::fs::read(format!("{FINALITY}/smoldot-grandpa-commit-5105457.bin")).unwrap();
    decode_commit_message(&bytes).unwrap()
}

fn voter(key: [u8; 32]) -> GrandpaAuthority {
    GrandpaAuthority { public_key: key, weight: 1 }
}

/// The justification's 5 signers, weight 1 each.
fn justification_set() -> AuthoritySet {
    AuthoritySet::new(0, justification().commit.precommits.iter().map(|p| voter(p.id)).collect())
}

fn commit_set() -> AuthoritySet {
    let message = commit();
    AuthoritySet::new(message.set_id, message.message.auth_data.iter().map(|(_, id)| voter(*id)).collect())
}

#[test]
fn real_justification_verifies() {
    let justification = justification();
    assert_eq!((justification.round, justification.commit.target_number), (439_559, 302_592));
    let verified = verify_justification(&justification, &justification_set()).unwrap();
    assert_eq!(verified.target_hash, justification.commit.target_hash);
    assert_eq!(
        (verified.target_number, verified.weight, verified.threshold, verified.total_weight),
        (302_592, 5, 4, 5)
    );
    assert_eq!(verified.equivocators, 0);
    println!("justification #302592: {verified:?}");
}

#[test]
fn real_commit_verifies() {
    let message = commit();
    assert_eq!((message.round, message.set_id, message.message.target_number), (3669, 3490, 5_105_457));
    let verified = verify_commit(&message, &commit_set(), &[]).unwrap();
    assert_eq!((verified.weight, verified.threshold, verified.total_weight), (7, 5, 7));
    println!("commit #5105457: {verified:?}");
}

#[test]
fn flipped_signature_byte_is_rejected() {
    for index in 0..5 {
        let mut justification = justification();
        justification.commit.precommits[index].signature[7] ^= 0x04;
        let err = verify_justification(&justification, &justification_set()).unwrap_err();
        assert!(
            matches!(err, JustificationError::BadSignature { index: i, round: 439_559, set_id: 0, .. } if i == index)
        );
    }
    let mut message = commit();
    message.message.auth_data[6].0[63] ^= 0x01;
    assert!(matches!(
        verify_commit(&message, &commit_set(), &[]),
        Err(JustificationError::BadSignature { index: 6, .. })
    ));
}

#[test]
fn wrong_set_id_or_round_is_rejected() {
    // Signatures are bound to the set id and the round.
    let set = AuthoritySet::new(1, justification_set().authorities);
    assert!(matches!(verify_justification(&justification(), &set), Err(JustificationError::BadSignature { .. })));
    let mut justification = justification();
    justification.round += 1;
    assert!(matches!(
        verify_justification(&justification, &justification_set()),
        Err(JustificationError::BadSignature { index: 0, .. })
    ));
    // A gossip commit names its set.
    let set = AuthoritySet::new(3491, commit_set().authorities);
    assert_eq!(
        verify_commit(&commit(), &set, &[]),
        Err(JustificationError::SetIdMismatch { expected: 3491, got: 3490 })
    );
    let mut message = commit();
    message.message.auth_data.pop();
    assert_eq!(
        verify_commit(&message, &commit_set(), &[]),
        Err(JustificationError::AuthDataLengthMismatch { precommits: 7, signatures: 6 })
    );
}

#[test]
fn duplicated_voter_is_rejected() {
    let mut justification = justification();
    let copy = justification.commit.precommits[2].clone();
    justification.commit.precommits.push(copy.clone());
    let err = verify_justification(&justification, &justification_set()).unwrap_err();
    assert_eq!(err, JustificationError::DuplicatePrecommit { index: 5, first: 2, authority: copy.id });
    println!("{err}");
    // Also when it is needed for the threshold: drop two others first.
    let mut justification = self::justification();
    justification.commit.precommits.truncate(3);
    justification.commit.precommits.push(justification.commit.precommits[0].clone());
    assert!(matches!(
        verify_justification(&justification, &justification_set()),
        Err(JustificationError::DuplicatePrecommit { index: 3, first: 0, .. })
    ));
}

#[test]
fn too_little_weight_is_rejected() {
    // Three more voters who did not vote: 5 of 8 is below the threshold of 6.
    let mut set = justification_set();
    set.authorities.extend([voter([1; 32]), voter([2; 32]), voter([3; 32])]);
    let err = verify_justification(&justification(), &set).unwrap_err();
    assert_eq!(err, JustificationError::InsufficientWeight { weight: 5, threshold: 6, total_weight: 8, set_id: 0 });
    println!("{err}");
    // Two more voters: 5 of 7 reaches the threshold of 5.
    set.authorities.pop();
    assert!(verify_justification(&justification(), &set).is_ok());
    // Weights count, not heads: one absent voter with weight 3.
    let mut heavy = justification_set();
    heavy.authorities.push(GrandpaAuthority { public_key: [1; 32], weight: 3 });
    assert!(matches!(
        verify_justification(&justification(), &heavy),
        Err(JustificationError::InsufficientWeight { weight: 5, threshold: 6, total_weight: 8, .. })
    ));
    // Too few precommits.
    let mut justification = justification();
    justification.commit.precommits.truncate(3);
    assert!(matches!(
        verify_justification(&justification, &justification_set()),
        Err(JustificationError::InsufficientWeight { weight: 3, threshold: 4, .. })
    ));
    justification.commit.precommits.clear();
    assert!(matches!(
        verify_justification(&justification, &justification_set()),
        Err(JustificationError::InsufficientWeight { weight: 0, .. })
    ));
}

#[test]
fn unknown_voter_is_rejected() {
    let justification = justification();
    // The set lacks the signer of precommit #3.
    let mut set = justification_set();
    let absent = set.authorities.remove(3).public_key;
    let err = verify_justification(&justification, &set).unwrap_err();
    assert_eq!(err, JustificationError::UnknownVoter { index: 3, authority: absent, set_id: 0 });
    println!("{err}");
    // A voter of weight 0 is no voter.
    let mut set = justification_set();
    set.authorities[3].weight = 0;
    assert!(matches!(
        verify_justification(&justification, &set),
        Err(JustificationError::UnknownVoter { index: 3, .. })
    ));
    // An empty set cannot finalize anything.
    assert!(matches!(
        verify_justification(&justification, &AuthoritySet::new(0, vec![])),
        Err(JustificationError::InvalidSet { .. })
    ));
}

#[test]
fn precommit_on_unrelated_block_is_rejected() {
    let mut justification = justification();
    let target = justification.commit.target_number;
    justification.commit.precommits[1].precommit.target_hash = H256([0xab; 32]);
    justification.commit.precommits[1].precommit.target_number = target + 1;
    let err = verify_justification(&justification, &justification_set()).unwrap_err();
    assert!(matches!(err, JustificationError::UnrelatedPrecommit { index: 1, .. }), "{err}");
    println!("{err}");
    // A different block at the target's height.
    justification.commit.precommits[1].precommit.target_number = target;
    assert!(matches!(
        verify_justification(&justification, &justification_set()),
        Err(JustificationError::UnrelatedPrecommit { index: 1, .. })
    ));
    // The commit target itself changed.
    let mut justification = self::justification();
    justification.commit.target_number -= 1;
    assert!(matches!(
        verify_justification(&justification, &justification_set()),
        Err(JustificationError::UnrelatedPrecommit { index: 0, .. })
    ));
}

#[test]
fn unused_ancestry_header_is_rejected() {
    let mut justification = justification();
    let stray = Header {
        parent_hash: justification.commit.target_hash,
        number: justification.commit.target_number + 1,
        state_root: H256::ZERO,
        extrinsics_root: H256::ZERO,
        digest: Digest::default(),
    };
    justification.votes_ancestries.push(stray.clone());
    let err = verify_justification(&justification, &justification_set()).unwrap_err();
    assert_eq!(err, JustificationError::UnusedAncestry { hash: stray.hash(), number: stray.number });
    // Gossip commits tolerate extra headers (they come from the node's own chain).
    assert!(verify_commit(&commit(), &commit_set(), &[stray]).is_ok());
}

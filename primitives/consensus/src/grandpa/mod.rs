//! GRANDPA finality verification and authority-set tracking.
//!
//! # Finality proofs
//!
//! A block is final when a *commit* for it carries precommits, signed for the
//! commit's round and the authority set id, by voters holding a supermajority of
//! the set's weight: at least `total - (total - 1) / 3` (finality-grandpa's
//! threshold, i.e. more than two thirds). Justifications (stored with blocks,
//! served in block responses and warp-sync proofs) carry a commit plus
//! `votes_ancestries`, the headers linking precommits on descendants of the target
//! back to it; gossip commits carry none.
//!
//! [`verify_justification`] and [`verify_commit`] check, in this order (all
//! structural checks before the ed25519 signatures, the expensive part):
//!
//! 1. the authority set is usable (a non-zero total weight that fits in `u64`);
//! 2. every signer is a voter of the set (stricter than finality-grandpa, which
//!    silently ignores non-voters' precommits; smoldot rejects them too);
//! 3. no voter appears with the same vote twice; a voter may appear with two
//!    *different* votes (an equivocation, which finality-grandpa accepts once per
//!    voter, counting the voter's weight once), but not three times;
//! 4. every precommit targets the commit target or a descendant of it, proven by
//!    the ancestry headers (hash links and consistent block numbers);
//! 5. every ancestry header lies on the route of some precommit (Substrate
//!    rejects justifications with unused headers);
//! 6. the distinct voters' weight reaches the threshold;
//! 7. every signature is valid for the round and set id.
//!
//! Unlike finality-grandpa, no "precommit GHOST" is computed: a commit whose
//! voters also have a supermajority on a *descendant* of the target is accepted
//! (it still proves the target final), and precommits for ancestors of the target
//! are rejected rather than ignored.
//!
//! # Authority set changes
//!
//! [`warp`] builds and verifies warp-sync proofs (chains of set hand-offs).
//!
//! [`GrandpaState`] is the per-block GRANDPA state: the set that votes on the
//! block and its descendants, and the changes announced on its chain. See
//! [`GrandpaState::apply_block`] and [`GrandpaState::on_finalized`].

mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod warp;

pub use state::{GrandpaState, GrandpaStateError, PendingChange, PendingForcedChange};

use std::collections::{HashMap, HashSet};

use parity_scale_codec::{Decode, Encode};
use weft_block::grandpa::{
    check_precommit_signature, AuthorityId, AuthorityList, AuthoritySignature, AuthorityWeight, Commit,
    FullCommitMessage, GrandpaJustification, Precommit, RoundNumber, SetId,
};
use weft_block::{BlockNumber, Header, H256};

/// An authority set: its id and its voters with their weights.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct AuthoritySet {
    /// Set id: 0 at genesis, +1 at every enacted change.
    pub set_id: SetId,
    /// Voters `(ed25519 key, weight)`.
    pub authorities: AuthorityList,
}

/// The supermajority threshold for a total voting weight, as finality-grandpa
/// computes it: `total - (total - 1) / 3` (for `total >= 1`), the smallest weight
/// strictly greater than two thirds of `total` when `total` is a multiple of 3,
/// and more generally the weight that no `f = (total - 1) / 3` faulty voters can
/// prevent or fake.
pub fn threshold(total_weight: u64) -> u64 {
    total_weight - total_weight.saturating_sub(1) / 3
}

impl AuthoritySet {
    /// A set with the given id and voters.
    pub fn new(set_id: SetId, authorities: AuthorityList) -> AuthoritySet {
        AuthoritySet { set_id, authorities }
    }

    /// Voting weight of each distinct key, like finality-grandpa's `VoterSet`:
    /// entries of weight 0 are not voters and repeated keys add up their weights.
    /// Fails if no voter remains or the total overflows `u64`.
    pub fn voter_weights(&self) -> Result<(HashMap<AuthorityId, AuthorityWeight>, u64), JustificationError> {
        let mut voters = HashMap::with_capacity(self.authorities.len());
        let mut total = 0u64;
        for authority in self.authorities.iter().filter(|a| a.weight > 0) {
            total = total.checked_add(authority.weight).ok_or(JustificationError::InvalidSet {
                set_id: self.set_id,
                reason: "the total weight overflows u64",
            })?;
            *voters.entry(authority.public_key).or_insert(0u64) += authority.weight;
        }
        if total == 0 {
            return Err(JustificationError::InvalidSet {
                set_id: self.set_id,
                reason: "no voter has a non-zero weight",
            });
        }
        Ok((voters, total))
    }

    /// Sum of the voters' weights; `None` if the set is unusable (see
    /// [`voter_weights`](Self::voter_weights)).
    pub fn total_weight(&self) -> Option<u64> {
        self.voter_weights().ok().map(|(_, total)| total)
    }

    /// The weight a commit needs; `None` if the set is unusable.
    pub fn threshold(&self) -> Option<u64> {
        self.total_weight().map(threshold)
    }
}

/// A successfully verified commit or justification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VerifiedCommit {
    /// The finalized block's hash.
    pub target_hash: H256,
    /// Its number.
    pub target_number: BlockNumber,
    /// Total weight of the distinct voters whose precommits the commit carries.
    pub weight: u64,
    /// The threshold it reached.
    pub threshold: u64,
    /// Total weight of the set.
    pub total_weight: u64,
    /// Number of voters that cast two different precommits.
    pub equivocators: usize,
}

/// Why a justification or commit is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JustificationError {
    /// The authority set cannot finalize anything.
    #[error("authority set {set_id} is unusable: {reason}")]
    InvalidSet {
        /// Set id.
        set_id: SetId,
        /// Why.
        reason: &'static str,
    },
    /// A gossip commit for another set.
    #[error("commit is for authority set {got}, expected set {expected}")]
    SetIdMismatch {
        /// The verifying set.
        expected: SetId,
        /// The commit's set id.
        got: SetId,
    },
    /// A gossip commit whose precommit and signature lists differ in length.
    #[error("commit has {precommits} precommits but {signatures} signatures")]
    AuthDataLengthMismatch {
        /// Number of precommits.
        precommits: usize,
        /// Number of signatures.
        signatures: usize,
    },
    /// A precommit signed by a key outside the set.
    #[error(
        "precommit #{index} is signed by 0x{}, which is not a voter of authority set {set_id}",
        hex::encode(authority)
    )]
    UnknownVoter {
        /// Position of the precommit.
        index: usize,
        /// The signer.
        authority: AuthorityId,
        /// Set id.
        set_id: SetId,
    },
    /// The same vote by the same voter twice.
    #[error("precommit #{index} by 0x{} repeats its precommit #{first} for the same block", hex::encode(authority))]
    DuplicatePrecommit {
        /// Position of the repeated precommit.
        index: usize,
        /// Position of the first one.
        first: usize,
        /// The voter.
        authority: AuthorityId,
    },
    /// A voter with more than two different votes.
    #[error("precommit #{index} is a third vote by 0x{}: a voter may equivocate only once", hex::encode(authority))]
    TooManyEquivocations {
        /// Position of the precommit.
        index: usize,
        /// The voter.
        authority: AuthorityId,
    },
    /// A precommit not on the target or a provable descendant of it.
    #[error(
        "precommit #{index} for #{target_number} {target_hash} is neither the commit target #{commit_number} {commit_hash} nor a descendant of it through the ancestry headers"
    )]
    UnrelatedPrecommit {
        /// Position of the precommit.
        index: usize,
        /// Its target hash.
        target_hash: H256,
        /// Its target number.
        target_number: BlockNumber,
        /// The commit target hash.
        commit_hash: H256,
        /// The commit target number.
        commit_number: BlockNumber,
    },
    /// An ancestry header whose number disagrees with the route's numbering.
    #[error(
        "ancestry header {hash} has number #{header_number}, but the route of precommit #{index} expects #{expected}"
    )]
    AncestryNumberMismatch {
        /// Position of the precommit whose route reached the header.
        index: usize,
        /// The header's hash.
        hash: H256,
        /// The header's number.
        header_number: BlockNumber,
        /// The number the route expects.
        expected: BlockNumber,
    },
    /// An ancestry header on no precommit's route.
    #[error("votes ancestry header #{number} {hash} is not on the route of any precommit")]
    UnusedAncestry {
        /// The header's hash.
        hash: H256,
        /// Its number.
        number: BlockNumber,
    },
    /// Not enough weight.
    #[error(
        "precommits carry weight {weight} of {total_weight}, below the threshold {threshold} of authority set {set_id}"
    )]
    InsufficientWeight {
        /// Weight of the distinct voters.
        weight: u64,
        /// Needed weight.
        threshold: u64,
        /// Total weight of the set.
        total_weight: u64,
        /// Set id.
        set_id: SetId,
    },
    /// An invalid signature.
    #[error(
        "precommit #{index} (for #{target_number} {target_hash}) has an invalid signature by 0x{} for round {round}, set {set_id}",
        hex::encode(authority)
    )]
    BadSignature {
        /// Position of the precommit.
        index: usize,
        /// The signer.
        authority: AuthorityId,
        /// Its target hash.
        target_hash: H256,
        /// Its target number.
        target_number: BlockNumber,
        /// Round.
        round: RoundNumber,
        /// Set id.
        set_id: SetId,
    },
}

/// One precommit as the checks see it.
struct Vote<'a> {
    precommit: &'a Precommit,
    signature: &'a AuthoritySignature,
    id: &'a AuthorityId,
}

/// Verifies a GRANDPA justification against the authority set that voted in its
/// round (see the [module documentation](self) for the rules). The ancestry is the
/// justification's own `votes_ancestries`, every header of which must be used.
///
/// Check that the target is the block you expect separately (Substrate's
/// `decode_and_verify_finalizes`); the result carries it.
pub fn verify_justification(
    justification: &GrandpaJustification,
    set: &AuthoritySet,
) -> Result<VerifiedCommit, JustificationError> {
    let commit = &justification.commit;
    let votes = commit.precommits.iter().map(|p| Vote { precommit: &p.precommit, signature: &p.signature, id: &p.id });
    verify_votes(
        justification.round,
        set,
        commit.target_hash,
        commit.target_number,
        votes,
        &justification.votes_ancestries,
        true,
    )
}

/// Verifies the body of a GRANDPA gossip `Commit` message against the current
/// authority set: the message's set id must be the set's, then the same rules as
/// [`verify_justification`] apply.
///
/// Gossip commits carry no ancestry: `ancestry` holds headers (typically from the
/// node's own chain) that link precommits on descendants of the target back to it.
/// Pass `&[]` to accept only precommits on the target itself. Unlike in
/// justifications, headers not needed by any precommit are tolerated here.
pub fn verify_commit(
    message: &FullCommitMessage,
    set: &AuthoritySet,
    ancestry: &[Header],
) -> Result<VerifiedCommit, JustificationError> {
    if message.set_id != set.set_id {
        return Err(JustificationError::SetIdMismatch { expected: set.set_id, got: message.set_id });
    }
    let compact = &message.message;
    if compact.precommits.len() != compact.auth_data.len() {
        return Err(JustificationError::AuthDataLengthMismatch {
            precommits: compact.precommits.len(),
            signatures: compact.auth_data.len(),
        });
    }
    let votes = compact.precommits.iter().zip(&compact.auth_data).map(|(precommit, (signature, id))| Vote {
        precommit,
        signature,
        id,
    });
    verify_votes(message.round, set, compact.target_hash, compact.target_number, votes, ancestry, false)
}

/// Verifies a justification-style [`Commit`] made in `round` with the given
/// ancestry, without the unused-header rule. [`verify_justification`] and
/// [`verify_commit`] are the usual entry points.
pub fn verify_commit_with_ancestry(
    round: RoundNumber,
    commit: &Commit,
    set: &AuthoritySet,
    ancestry: &[Header],
) -> Result<VerifiedCommit, JustificationError> {
    let votes = commit.precommits.iter().map(|p| Vote { precommit: &p.precommit, signature: &p.signature, id: &p.id });
    verify_votes(round, set, commit.target_hash, commit.target_number, votes, ancestry, false)
}

fn verify_votes<'a>(
    round: RoundNumber,
    set: &AuthoritySet,
    commit_hash: H256,
    commit_number: BlockNumber,
    votes: impl Iterator<Item = Vote<'a>>,
    ancestry: &[Header],
    require_all_ancestry_used: bool,
) -> Result<VerifiedCommit, JustificationError> {
    let set_id = set.set_id;
    let (voters, total_weight) = set.voter_weights()?;
    let votes: Vec<Vote<'a>> = votes.collect();

    // Membership, duplicates and equivocations. `first_votes[id]` is the position
    // of the voter's first precommit, `equivocations[id]` that of its second.
    let mut first_votes: HashMap<&AuthorityId, usize> = HashMap::with_capacity(votes.len());
    let mut equivocations: HashMap<&AuthorityId, usize> = HashMap::new();
    let mut weight = 0u64;
    for (index, vote) in votes.iter().enumerate() {
        let Some(voter_weight) = voters.get(vote.id) else {
            return Err(JustificationError::UnknownVoter { index, authority: *vote.id, set_id });
        };
        match first_votes.get(vote.id) {
            None => {
                first_votes.insert(vote.id, index);
                // Cannot overflow: distinct voters' weights sum to at most `total_weight`.
                weight = weight.saturating_add(*voter_weight);
            }
            Some(&first) => {
                let same_as = |i: usize| votes.get(i).is_some_and(|v| v.precommit == vote.precommit);
                if let Some(&duplicate) =
                    [Some(first), equivocations.get(vote.id).copied()].iter().flatten().find(|&&i| same_as(i))
                {
                    return Err(JustificationError::DuplicatePrecommit {
                        index,
                        first: duplicate,
                        authority: *vote.id,
                    });
                }
                if equivocations.insert(vote.id, index).is_some() {
                    return Err(JustificationError::TooManyEquivocations { index, authority: *vote.id });
                }
            }
        }
    }

    // Ancestry: each precommit is on the target or descends from it.
    let headers: HashMap<H256, &Header> = ancestry.iter().map(|h| (h.hash(), h)).collect();
    let mut used: HashSet<H256> = HashSet::new();
    for (index, vote) in votes.iter().enumerate() {
        let unrelated = || JustificationError::UnrelatedPrecommit {
            index,
            target_hash: vote.precommit.target_hash,
            target_number: vote.precommit.target_number,
            commit_hash,
            commit_number,
        };
        let (mut hash, mut number) = (vote.precommit.target_hash, vote.precommit.target_number);
        // Walks down one block per step, so at most `target_number - commit_number` steps.
        loop {
            if number <= commit_number {
                if hash == commit_hash && number == commit_number {
                    break;
                }
                return Err(unrelated());
            }
            let Some(header) = headers.get(&hash) else {
                return Err(unrelated());
            };
            if header.number != number {
                return Err(JustificationError::AncestryNumberMismatch {
                    index,
                    hash,
                    header_number: header.number,
                    expected: number,
                });
            }
            used.insert(hash);
            hash = header.parent_hash;
            number -= 1;
        }
    }
    if require_all_ancestry_used {
        if let Some(header) = ancestry.iter().find(|h| !used.contains(&h.hash())) {
            return Err(JustificationError::UnusedAncestry { hash: header.hash(), number: header.number });
        }
    }

    let needed = threshold(total_weight);
    if weight < needed {
        return Err(JustificationError::InsufficientWeight { weight, threshold: needed, total_weight, set_id });
    }

    for (index, vote) in votes.iter().enumerate() {
        if !check_precommit_signature(vote.precommit, vote.signature, vote.id, round, set_id) {
            return Err(JustificationError::BadSignature {
                index,
                authority: *vote.id,
                target_hash: vote.precommit.target_hash,
                target_number: vote.precommit.target_number,
                round,
                set_id,
            });
        }
    }

    Ok(VerifiedCommit {
        target_hash: commit_hash,
        target_number: commit_number,
        weight,
        threshold: needed,
        total_weight,
        equivocators: equivocations.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_block::grandpa::GrandpaAuthority;

    #[test]
    fn threshold_matches_finality_grandpa() {
        for (total, expected) in
            [(1, 1), (2, 2), (3, 3), (4, 3), (5, 4), (6, 5), (7, 5), (10, 7), (100, 67), (297, 199)]
        {
            assert_eq!(threshold(total), expected, "total {total}");
        }
        // finality-grandpa's `min_threshold` property: t >= 2 * (w / 3) + w % 3.
        for total in (1..2000).chain([u64::MAX - 2, u64::MAX - 1, u64::MAX]) {
            assert!(threshold(total) >= 2 * (total / 3) + total % 3, "total {total}");
            // Strictly more than two thirds.
            assert!(u128::from(threshold(total)) * 3 > u128::from(total) * 2, "total {total}");
        }
        assert_eq!(threshold(u64::MAX), u64::MAX - (u64::MAX - 1) / 3);
    }

    #[test]
    fn voter_weights_like_voter_set() {
        let a = |k: u8, w: u64| GrandpaAuthority { public_key: [k; 32], weight: w };
        let set = AuthoritySet::new(3, vec![a(1, 2), a(2, 0), a(1, 3), a(3, 1)]);
        let (voters, total) = set.voter_weights().unwrap();
        assert_eq!(total, 6);
        assert_eq!(voters.len(), 2);
        assert_eq!(voters[&[1; 32]], 5);
        assert_eq!(set.threshold(), Some(5));
        assert!(matches!(
            AuthoritySet::new(0, vec![a(1, 0)]).voter_weights(),
            Err(JustificationError::InvalidSet { set_id: 0, .. })
        ));
        assert_eq!(AuthoritySet::new(0, vec![]).total_weight(), None);
        assert_eq!(AuthoritySet::new(0, vec![a(1, u64::MAX), a(2, 1)]).total_weight(), None);
    }
}

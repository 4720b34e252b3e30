//! GRANDPA digest items, justifications, commit messages and vote signatures.
//!
//! Votes are ed25519 signatures over the *localized payload*
//! `SCALE(Message) ++ round (u64 LE) ++ set_id (u64 LE)`, where `Message` is
//! `Prevote` (0), `Precommit` (1) or `PrimaryPropose` (2) followed by
//! `target_hash ++ target_number (u32 LE)`.
//!
//! This module checks structure and signatures only; whether the signers form a
//! supermajority of the authority set and whether the vote ancestries connect the
//! precommit targets to the commit target is the finality verifier's job.

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};

use crate::decode::{decode_exact, DecodeError, DecodeLimits};
use crate::hash::{BlockNumber, H256};
use crate::header::{Digest, Header, GRANDPA_ENGINE_ID};

/// ed25519 public key of a GRANDPA voter.
pub type AuthorityId = [u8; 32];
/// ed25519 signature of a vote.
pub type AuthoritySignature = [u8; 64];
/// Voting weight.
pub type AuthorityWeight = u64;
/// Index of an authority in the set (`u64` in GRANDPA, unlike BABE's `u32`).
pub type AuthorityIndex = u64;
/// Round number.
pub type RoundNumber = u64;
/// Authority set id (0 at genesis, +1 at every set change).
pub type SetId = u64;

/// A GRANDPA voter: ed25519 key and weight. Encodes exactly like Substrate's
/// `(AuthorityId, AuthorityWeight)` tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub struct GrandpaAuthority {
    /// ed25519 public key.
    pub public_key: AuthorityId,
    /// Voting weight.
    pub weight: AuthorityWeight,
}

/// Return value of `GrandpaApi_grandpa_authorities`.
pub type AuthorityList = Vec<GrandpaAuthority>;

/// Version byte of [`VersionedAuthorityList`].
pub const AUTHORITIES_VERSION: u8 = 1;

/// Contents of the `:grandpa_authorities` storage entry: the version byte 1 followed
/// by an [`AuthorityList`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionedAuthorityList(pub AuthorityList);

impl Encode for VersionedAuthorityList {
    fn size_hint(&self) -> usize {
        1 + self.0.size_hint()
    }

    fn encode_to<T: parity_scale_codec::Output + ?Sized>(&self, dest: &mut T) {
        dest.push_byte(AUTHORITIES_VERSION);
        self.0.encode_to(dest);
    }
}

impl Decode for VersionedAuthorityList {
    fn decode<I: parity_scale_codec::Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        if input.read_byte()? != AUTHORITIES_VERSION {
            return Err("unknown GRANDPA authority list version".into());
        }
        Ok(VersionedAuthorityList(AuthorityList::decode(input)?))
    }
}

/// An authority set change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct ScheduledChange {
    /// The new set.
    pub next_authorities: AuthorityList,
    /// Number of blocks after the signalling block at which the change applies.
    pub delay: BlockNumber,
}

/// Payload of `Consensus(FRNK, _)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub enum ConsensusLog {
    /// Index 1: standard change, enacted `delay` blocks after this one is finalized.
    #[codec(index = 1)]
    ScheduledChange(ScheduledChange),
    /// Index 2: forced change, enacted `delay` blocks after this one is imported;
    /// the first field is the median last finalized block number.
    #[codec(index = 2)]
    ForcedChange(BlockNumber, ScheduledChange),
    /// Index 3: the authority with this index is disabled until the next change.
    #[codec(index = 3)]
    OnDisabled(AuthorityIndex),
    /// Index 4: pause voting after this delay.
    #[codec(index = 4)]
    Pause(BlockNumber),
    /// Index 5: resume voting after this delay.
    #[codec(index = 5)]
    Resume(BlockNumber),
}

/// A vote of the first voting phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub struct Prevote {
    /// Voted block.
    pub target_hash: H256,
    /// Its number.
    pub target_number: BlockNumber,
}

/// A vote of the second voting phase; the votes that finalize blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub struct Precommit {
    /// Voted block.
    pub target_hash: H256,
    /// Its number.
    pub target_number: BlockNumber,
}

/// The round primary's proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub struct PrimaryPropose {
    /// Proposed block.
    pub target_hash: H256,
    /// Its number.
    pub target_number: BlockNumber,
}

/// A signable GRANDPA message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub enum Message {
    /// Index 0.
    #[codec(index = 0)]
    Prevote(Prevote),
    /// Index 1.
    #[codec(index = 1)]
    Precommit(Precommit),
    /// Index 2.
    #[codec(index = 2)]
    PrimaryPropose(PrimaryPropose),
}

/// The bytes a voter signs: `SCALE(message) ++ round (u64 LE) ++ set_id (u64 LE)`.
pub fn localized_payload(round: RoundNumber, set_id: SetId, message: &Message) -> Vec<u8> {
    (message, round, set_id).encode()
}

/// Length of [`precommit_signing_payload`]: 1 + 32 + 4 + 8 + 8.
pub const PRECOMMIT_PAYLOAD_LEN: usize = 53;

/// The bytes signed by a precommit: `0x01 ++ target_hash ++ target_number (u32 LE)
/// ++ round (u64 LE) ++ set_id (u64 LE)`.
pub fn precommit_signing_payload(
    precommit: &Precommit,
    round: RoundNumber,
    set_id: SetId,
) -> [u8; PRECOMMIT_PAYLOAD_LEN] {
    let mut out = [0u8; PRECOMMIT_PAYLOAD_LEN];
    out[0] = 1;
    out[1..33].copy_from_slice(precommit.target_hash.as_bytes());
    out[33..37].copy_from_slice(&precommit.target_number.to_le_bytes());
    out[37..45].copy_from_slice(&round.to_le_bytes());
    out[45..53].copy_from_slice(&set_id.to_le_bytes());
    out
}

/// Whether `signature` by `id` over the precommit, localized to `round` and `set_id`,
/// is a valid ed25519 signature.
pub fn check_precommit_signature(
    precommit: &Precommit,
    signature: &AuthoritySignature,
    id: &AuthorityId,
    round: RoundNumber,
    set_id: SetId,
) -> bool {
    let payload = precommit_signing_payload(precommit, round, set_id);
    weft_crypto::ed25519::verify(
        &weft_crypto::ed25519::Signature(*signature),
        &payload,
        &weft_crypto::ed25519::Public(*id),
    )
}

/// A precommit with its signature and signer.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub struct SignedPrecommit {
    /// The vote.
    pub precommit: Precommit,
    /// ed25519 signature of the localized payload.
    pub signature: AuthoritySignature,
    /// The signer.
    pub id: AuthorityId,
}

/// A commit: the target and the precommits justifying it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Commit {
    /// Finalized block.
    pub target_hash: H256,
    /// Its number.
    pub target_number: BlockNumber,
    /// Signed precommits for the target or its descendants.
    pub precommits: Vec<SignedPrecommit>,
}

/// A GRANDPA justification, as stored with blocks (`Justifications` entry with
/// engine `FRNK`) and sent in block responses and warp sync proofs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct GrandpaJustification {
    /// Round in which the commit was made.
    pub round: RoundNumber,
    /// The commit.
    pub commit: Commit,
    /// Headers linking precommit targets to the commit target.
    pub votes_ancestries: Vec<Header>,
}

/// A signature check failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JustificationError {
    /// A precommit's signature does not verify.
    #[error(
        "precommit #{index} (for #{target_number} 0x{}) has an invalid signature by authority 0x{} for round {round}, set {set_id}",
        hex::encode(target_hash), hex::encode(authority)
    )]
    BadSignature {
        /// Position of the precommit.
        index: usize,
        /// The claimed signer.
        authority: AuthorityId,
        /// Vote target hash.
        target_hash: H256,
        /// Vote target number.
        target_number: BlockNumber,
        /// Round used in the payload.
        round: RoundNumber,
        /// Set id used in the payload.
        set_id: SetId,
    },
    /// A compact commit whose precommit and signature lists differ in length.
    #[error("commit has {precommits} precommits but {signatures} signatures")]
    AuthDataLengthMismatch {
        /// Number of precommits.
        precommits: usize,
        /// Number of `(signature, id)` pairs.
        signatures: usize,
    },
}

fn verify_all<'a>(
    round: RoundNumber,
    set_id: SetId,
    votes: impl Iterator<Item = (&'a Precommit, &'a AuthoritySignature, &'a AuthorityId)>,
) -> Result<(), JustificationError> {
    for (index, (precommit, signature, id)) in votes.enumerate() {
        if !check_precommit_signature(precommit, signature, id, round, set_id) {
            return Err(JustificationError::BadSignature {
                index,
                authority: *id,
                target_hash: precommit.target_hash,
                target_number: precommit.target_number,
                round,
                set_id,
            });
        }
    }
    Ok(())
}

impl GrandpaJustification {
    /// The finalized block `(hash, number)`.
    pub fn target(&self) -> (H256, BlockNumber) {
        (self.commit.target_hash, self.commit.target_number)
    }

    /// Checks every precommit signature against the justification's round and the
    /// given authority `set_id`. Does not check voter membership, weights,
    /// duplicates or ancestry.
    pub fn verify_signatures(&self, set_id: SetId) -> Result<(), JustificationError> {
        verify_all(self.round, set_id, self.commit.precommits.iter().map(|p| (&p.precommit, &p.signature, &p.id)))
    }
}

/// `finality-grandpa`'s compact commit: precommits and their `(signature, id)`
/// pairs in two parallel lists.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct CompactCommit {
    /// Finalized block.
    pub target_hash: H256,
    /// Its number.
    pub target_number: BlockNumber,
    /// The votes.
    pub precommits: Vec<Precommit>,
    /// `(signature, signer)` of each vote, same order.
    pub auth_data: Vec<(AuthoritySignature, AuthorityId)>,
}

impl CompactCommit {
    /// Checks that both lists have the same length and every signature verifies for
    /// `round` and `set_id`.
    pub fn verify_signatures(&self, round: RoundNumber, set_id: SetId) -> Result<(), JustificationError> {
        if self.precommits.len() != self.auth_data.len() {
            return Err(JustificationError::AuthDataLengthMismatch {
                precommits: self.precommits.len(),
                signatures: self.auth_data.len(),
            });
        }
        verify_all(round, set_id, self.precommits.iter().zip(&self.auth_data).map(|(p, (s, id))| (p, s, id)))
    }

    /// Converts to the justification-style commit; `None` if the lists' lengths differ.
    pub fn to_commit(&self) -> Option<Commit> {
        if self.precommits.len() != self.auth_data.len() {
            return None;
        }
        Some(Commit {
            target_hash: self.target_hash,
            target_number: self.target_number,
            precommits: self
                .precommits
                .iter()
                .zip(&self.auth_data)
                .map(|(precommit, (signature, id))| SignedPrecommit {
                    precommit: *precommit,
                    signature: *signature,
                    id: *id,
                })
                .collect(),
        })
    }
}

/// Body of the GRANDPA gossip `Commit` message (gossip message kind 1, whose
/// leading kind byte is not part of this type): `round ++ set_id ++ CompactCommit`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct FullCommitMessage {
    /// Round.
    pub round: RoundNumber,
    /// Authority set id.
    pub set_id: SetId,
    /// The commit.
    pub message: CompactCommit,
}

impl FullCommitMessage {
    /// Checks the commit's signatures with the message's own round and set id.
    pub fn verify_signatures(&self) -> Result<(), JustificationError> {
        self.message.verify_signatures(self.round, self.set_id)
    }
}

/// Strictly decodes a GRANDPA justification.
pub fn decode_justification(bytes: &[u8]) -> Result<GrandpaJustification, DecodeError> {
    decode_exact("GRANDPA justification", bytes, &DecodeLimits::JUSTIFICATION)
}

/// Strictly decodes a gossip commit message body (without the message-kind byte).
pub fn decode_commit_message(bytes: &[u8]) -> Result<FullCommitMessage, DecodeError> {
    decode_exact("GRANDPA commit message", bytes, &DecodeLimits::JUSTIFICATION)
}

/// Strictly decodes a GRANDPA consensus log.
pub fn decode_consensus_log(bytes: &[u8]) -> Result<ConsensusLog, DecodeError> {
    decode_exact("GRANDPA consensus log", bytes, &DecodeLimits::DIGEST_ITEM)
}

/// Decodes the return value of `GrandpaApi_grandpa_authorities`.
pub fn decode_authority_list(bytes: &[u8]) -> Result<AuthorityList, DecodeError> {
    decode_exact("GRANDPA authority list", bytes, &DecodeLimits::RUNTIME_API)
}

/// Decodes the `:grandpa_authorities` storage value.
pub fn decode_versioned_authority_list(bytes: &[u8]) -> Result<AuthorityList, DecodeError> {
    decode_exact::<VersionedAuthorityList>("versioned GRANDPA authority list", bytes, &DecodeLimits::RUNTIME_API)
        .map(|v| v.0)
}

impl Digest {
    /// The GRANDPA consensus logs, decoded, in order.
    pub fn grandpa_consensus_logs(&self) -> impl Iterator<Item = Result<ConsensusLog, DecodeError>> + '_ {
        self.consensus_logs(GRANDPA_ENGINE_ID).map(decode_consensus_log)
    }

    /// The first `ScheduledChange` (the one Substrate honours), skipping other logs.
    pub fn grandpa_scheduled_change(&self) -> Result<Option<ScheduledChange>, DecodeError> {
        for log in self.grandpa_consensus_logs() {
            if let ConsensusLog::ScheduledChange(change) = log? {
                return Ok(Some(change));
            }
        }
        Ok(None)
    }

    /// The first `ForcedChange` as `(median_last_finalized, change)`.
    pub fn grandpa_forced_change(&self) -> Result<Option<(BlockNumber, ScheduledChange)>, DecodeError> {
        for log in self.grandpa_consensus_logs() {
            if let ConsensusLog::ForcedChange(median, change) = log? {
                return Ok(Some((median, change)));
            }
        }
        Ok(None)
    }
}

impl Header {
    /// See [`Digest::grandpa_consensus_logs`].
    pub fn grandpa_consensus_logs(&self) -> impl Iterator<Item = Result<ConsensusLog, DecodeError>> + '_ {
        self.digest.grandpa_consensus_logs()
    }

    /// See [`Digest::grandpa_scheduled_change`].
    pub fn grandpa_scheduled_change(&self) -> Result<Option<ScheduledChange>, DecodeError> {
        self.digest.grandpa_scheduled_change()
    }

    /// See [`Digest::grandpa_forced_change`].
    pub fn grandpa_forced_change(&self) -> Result<Option<(BlockNumber, ScheduledChange)>, DecodeError> {
        self.digest.grandpa_forced_change()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_layout() {
        let p = Precommit { target_hash: H256([0xaa; 32]), target_number: 0x01020304 };
        let payload = precommit_signing_payload(&p, 5, 7);
        assert_eq!(payload.to_vec(), localized_payload(5, 7, &Message::Precommit(p)));
        assert_eq!(payload[0], 1);
        assert_eq!(&payload[33..37], &[4, 3, 2, 1]);
        assert_eq!(&payload[37..45], &5u64.to_le_bytes());
        assert_eq!(&payload[45..], &7u64.to_le_bytes());
        let prevote = Message::Prevote(Prevote { target_hash: H256([0; 32]), target_number: 0 });
        assert_eq!(localized_payload(0, 0, &prevote)[0], 0);
    }

    #[test]
    fn consensus_log_encodings() {
        let change = ScheduledChange {
            next_authorities: vec![GrandpaAuthority { public_key: [1; 32], weight: 1 }],
            delay: 0x10,
        };
        let enc = ConsensusLog::ScheduledChange(change.clone()).encode();
        assert_eq!(enc.len(), 1 + 1 + 40 + 4);
        assert_eq!(enc[0], 1);
        assert_eq!(decode_consensus_log(&enc).unwrap(), ConsensusLog::ScheduledChange(change.clone()));
        let forced = ConsensusLog::ForcedChange(9, change).encode();
        assert_eq!(forced[..5], [2, 9, 0, 0, 0]);
        assert_eq!(ConsensusLog::OnDisabled(1).encode(), [3, 1, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(ConsensusLog::Pause(1).encode(), [4, 1, 0, 0, 0]);
        assert_eq!(ConsensusLog::Resume(1).encode(), [5, 1, 0, 0, 0]);
        assert!(decode_consensus_log(&[0]).is_err());
        assert!(decode_consensus_log(&[6]).is_err());
    }

    #[test]
    fn versioned_authority_list() {
        let list = vec![GrandpaAuthority { public_key: [1; 32], weight: 1 }];
        let enc = VersionedAuthorityList(list.clone()).encode();
        assert_eq!(enc[..2], [1, 4]);
        assert_eq!(decode_versioned_authority_list(&enc).unwrap(), list);
        assert_eq!(decode_authority_list(&enc[1..]).unwrap(), list);
        let mut bad = enc;
        bad[0] = 2;
        assert!(decode_versioned_authority_list(&bad).is_err());
    }

    #[test]
    fn compact_commit_length_mismatch() {
        let c = CompactCommit {
            target_hash: H256::ZERO,
            target_number: 1,
            precommits: vec![Precommit { target_hash: H256::ZERO, target_number: 1 }],
            auth_data: vec![],
        };
        assert_eq!(
            c.verify_signatures(1, 1),
            Err(JustificationError::AuthDataLengthMismatch { precommits: 1, signatures: 0 })
        );
        assert_eq!(c.to_commit(), None);
    }
}

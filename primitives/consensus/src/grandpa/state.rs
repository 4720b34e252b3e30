//! Per-block GRANDPA authority-set state and set changes.

use parity_scale_codec::{Decode, Encode};
use weft_block::grandpa::{AuthorityList, ScheduledChange, SetId};
use weft_block::{BlockNumber, DecodeError, Header};

use super::AuthoritySet;

/// An announced authority set change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct PendingChange {
    /// The set that takes over.
    pub next_authorities: AuthorityList,
    /// Number of the block whose digest announced the change.
    pub announced_at: BlockNumber,
    /// Delay in blocks after the announcing block.
    pub delay: BlockNumber,
}

impl PendingChange {
    /// The number of the block at which the change takes effect:
    /// `announced_at + delay` (checked on announcement not to overflow).
    pub fn effective_number(&self) -> BlockNumber {
        self.announced_at.saturating_add(self.delay)
    }
}

/// An announced forced change (`ForcedChange` digest).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct PendingForcedChange {
    /// The change; enacted when a block numbered `effective_number()` is imported
    /// on the announcing block's chain.
    pub change: PendingChange,
    /// The median last finalized block number given in the digest: the new set
    /// starts voting from there.
    pub median_last_finalized: BlockNumber,
}

/// The GRANDPA state of a block: the set that votes on it (and that a
/// justification of it must be verified with) and the changes announced on its
/// chain and not yet enacted.
///
/// One state is kept per block, derived from the parent's with
/// [`apply_block`](Self::apply_block), so forks are handled by construction. On
/// finality of a block `F`, first verify `F`'s justification with `state(F).set`,
/// then replace the states of `F` and of its imported descendants with
/// `state.on_finalized(F.number)` (a pure function, giving the same set on all of
/// them); states of blocks that do not descend from `F` are dead forks.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct GrandpaState {
    /// The current authority set.
    pub set: AuthoritySet,
    /// A standard (`ScheduledChange`) change, enacted when its effective block is
    /// finalized.
    pub pending_standard: Option<PendingChange>,
    /// A forced change, enacted when its effective block is imported.
    pub pending_forced: Option<PendingForcedChange>,
}

/// Why a block's GRANDPA digests are rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrandpaStateError {
    /// A GRANDPA consensus log does not decode.
    #[error("block #{number}: {source}")]
    Decode {
        /// Block number.
        number: BlockNumber,
        /// The decoding error.
        source: DecodeError,
    },
    /// An announced set that is empty or has a voter of weight 0.
    #[error("block #{number} announces an invalid authority set: {reason}")]
    InvalidAuthoritySet {
        /// Block number.
        number: BlockNumber,
        /// Why.
        reason: &'static str,
    },
    /// A second standard change while one is pending on the chain.
    #[error(
        "block #{number} schedules an authority set change while the change announced at #{pending_announced_at} (effective at #{pending_effective}) is still pending"
    )]
    ChangeAlreadyPending {
        /// Block number.
        number: BlockNumber,
        /// Announcing block of the pending change.
        pending_announced_at: BlockNumber,
        /// Its effective block.
        pending_effective: BlockNumber,
    },
    /// A second forced change while one is pending on the chain.
    #[error(
        "block #{number} forces an authority set change while the forced change announced at #{pending_announced_at} is still pending"
    )]
    MultiplePendingForcedChanges {
        /// Block number.
        number: BlockNumber,
        /// Announcing block of the pending forced change.
        pending_announced_at: BlockNumber,
    },
    /// A change whose effective block number overflows.
    #[error("block #{number} announces a change with delay {delay}, past the largest block number")]
    DelayOverflow {
        /// Block number.
        number: BlockNumber,
        /// The delay.
        delay: BlockNumber,
    },
    /// A forced change that would skip a pending standard change it depends on.
    #[error(
        "block #{number} cannot enact the forced change announced at #{forced_announced_at}: the standard change effective at #{standard_effective} must be finalized first (median last finalized #{median_last_finalized})"
    )]
    ForcedChangeDependencyUnsatisfied {
        /// Block number.
        number: BlockNumber,
        /// Announcing block of the forced change.
        forced_announced_at: BlockNumber,
        /// Effective block of the standard change.
        standard_effective: BlockNumber,
        /// The forced change's median last finalized block.
        median_last_finalized: BlockNumber,
    },
    /// Set id overflow.
    #[error("authority set id overflows u64")]
    SetIdOverflow,
}

fn check_authorities(number: BlockNumber, authorities: &AuthorityList) -> Result<(), GrandpaStateError> {
    let reason = if authorities.is_empty() {
        "it is empty"
    } else if authorities.iter().any(|a| a.weight == 0) {
        "a voter has weight 0"
    } else if authorities.iter().try_fold(0u64, |acc, a| acc.checked_add(a.weight)).is_none() {
        "the total weight overflows u64"
    } else {
        return Ok(());
    };
    Err(GrandpaStateError::InvalidAuthoritySet { number, reason })
}

fn announce(number: BlockNumber, change: ScheduledChange) -> Result<PendingChange, GrandpaStateError> {
    check_authorities(number, &change.next_authorities)?;
    if number.checked_add(change.delay).is_none() {
        return Err(GrandpaStateError::DelayOverflow { number, delay: change.delay });
    }
    Ok(PendingChange { next_authorities: change.next_authorities, announced_at: number, delay: change.delay })
}

impl GrandpaState {
    /// The state of the genesis block: set 0 with the genesis authorities
    /// (`GrandpaApi_grandpa_authorities` or the `:grandpa_authorities` storage
    /// entry of the genesis state).
    pub fn genesis(authorities: AuthorityList) -> Result<GrandpaState, GrandpaStateError> {
        check_authorities(0, &authorities)?;
        Ok(GrandpaState { set: AuthoritySet::new(0, authorities), pending_standard: None, pending_forced: None })
    }

    /// The state of `header`, a child of the block whose state is `self`.
    ///
    /// * A `ForcedChange` log is recorded as the pending forced change; it takes
    ///   precedence over a `ScheduledChange` log in the same block, which is then
    ///   ignored (as in Substrate). Rejected if a forced change is already pending.
    /// * A `ScheduledChange` log is recorded as the pending standard change.
    ///   Rejected if one is already pending (the runtime never schedules a change
    ///   while one is pending).
    /// * Announced sets must be non-empty with non-zero weights.
    /// * If the pending forced change takes effect at this block, it is enacted:
    ///   the set id increases and all pending changes are dropped (new set, new
    ///   changes), unless a pending standard change with an effective block at or
    ///   below the forced change's median last finalized block must be enacted
    ///   first, in which case the block is rejected.
    ///
    /// Other GRANDPA logs (`OnDisabled`, `Pause`, `Resume`) do not change the set.
    pub fn apply_block(&self, header: &Header) -> Result<GrandpaState, GrandpaStateError> {
        let number = header.number;
        let decode_error = |source| GrandpaStateError::Decode { number, source };
        let forced = header.grandpa_forced_change().map_err(decode_error)?;
        let scheduled = header.grandpa_scheduled_change().map_err(decode_error)?;

        let mut next = self.clone();
        if let Some((median_last_finalized, change)) = forced {
            if let Some(pending) = &self.pending_forced {
                return Err(GrandpaStateError::MultiplePendingForcedChanges {
                    number,
                    pending_announced_at: pending.change.announced_at,
                });
            }
            next.pending_forced =
                Some(PendingForcedChange { change: announce(number, change)?, median_last_finalized });
        } else if let Some(change) = scheduled {
            if let Some(pending) = &self.pending_standard {
                return Err(GrandpaStateError::ChangeAlreadyPending {
                    number,
                    pending_announced_at: pending.announced_at,
                    pending_effective: pending.effective_number(),
                });
            }
            next.pending_standard = Some(announce(number, change)?);
        }

        if let Some(forced) = next.pending_forced.take_if(|f| f.change.effective_number() == number) {
            if let Some(standard) = &next.pending_standard {
                if standard.effective_number() <= forced.median_last_finalized {
                    return Err(GrandpaStateError::ForcedChangeDependencyUnsatisfied {
                        number,
                        forced_announced_at: forced.change.announced_at,
                        standard_effective: standard.effective_number(),
                        median_last_finalized: forced.median_last_finalized,
                    });
                }
            }
            next = GrandpaState {
                set: AuthoritySet::new(
                    self.set.set_id.checked_add(1).ok_or(GrandpaStateError::SetIdOverflow)?,
                    forced.change.next_authorities,
                ),
                pending_standard: None,
                pending_forced: None,
            };
        }
        Ok(next)
    }

    /// The state after the block numbered `finalized` (this block or one of its
    /// ancestors) was finalized: a pending standard change whose effective block is
    /// at or below `finalized` is enacted (set id + 1), and a pending forced change
    /// that should already have taken effect is dropped. Verify the finalized
    /// block's justification with the set *before* this call: the block that
    /// enacts a change is the last one finalized by the old set.
    pub fn on_finalized(&self, finalized: BlockNumber) -> Result<GrandpaState, GrandpaStateError> {
        let mut next = self.clone();
        if let Some(standard) = next.pending_standard.take_if(|c| c.effective_number() <= finalized) {
            next.set = AuthoritySet::new(
                self.set.set_id.checked_add(1).ok_or(GrandpaStateError::SetIdOverflow)?,
                standard.next_authorities,
            );
            if next.pending_forced.as_ref().is_some_and(|f| f.change.effective_number() <= finalized) {
                next.pending_forced = None;
            }
        }
        Ok(next)
    }

    /// The set id.
    pub fn set_id(&self) -> SetId {
        self.set.set_id
    }

    /// The block number up to which the current set may finalize on this chain:
    /// the effective block of the pending standard change, if any.
    pub fn finality_limit(&self) -> Option<BlockNumber> {
        self.pending_standard.as_ref().map(PendingChange::effective_number)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_block::grandpa::{ConsensusLog, GrandpaAuthority};
    use weft_block::{Digest, DigestItem, GRANDPA_ENGINE_ID, H256};

    fn voters(keys: &[u8]) -> AuthorityList {
        keys.iter().map(|k| GrandpaAuthority { public_key: [*k; 32], weight: 1 }).collect()
    }

    fn header(number: BlockNumber, logs: &[ConsensusLog]) -> Header {
        Header {
            parent_hash: H256([number as u8; 32]),
            number,
            state_root: H256::ZERO,
            extrinsics_root: H256::ZERO,
            digest: Digest::new(logs.iter().map(|l| DigestItem::Consensus(GRANDPA_ENGINE_ID, l.encode())).collect()),
        }
    }

    fn scheduled(keys: &[u8], delay: BlockNumber) -> ConsensusLog {
        ConsensusLog::ScheduledChange(ScheduledChange { next_authorities: voters(keys), delay })
    }

    fn forced(median: BlockNumber, keys: &[u8], delay: BlockNumber) -> ConsensusLog {
        ConsensusLog::ForcedChange(median, ScheduledChange { next_authorities: voters(keys), delay })
    }

    /// Imports blocks `from..=to` without digests.
    fn import_plain(mut state: GrandpaState, from: BlockNumber, to: BlockNumber) -> GrandpaState {
        for number in from..=to {
            state = state.apply_block(&header(number, &[])).unwrap();
        }
        state
    }

    #[test]
    fn genesis_requires_a_valid_set() {
        let genesis = GrandpaState::genesis(voters(&[1, 2, 3])).unwrap();
        assert_eq!(genesis.set_id(), 0);
        assert_eq!(genesis.finality_limit(), None);
        assert!(matches!(GrandpaState::genesis(vec![]), Err(GrandpaStateError::InvalidAuthoritySet { .. })));
        let mut zero = voters(&[1, 2]);
        zero[1].weight = 0;
        assert!(matches!(GrandpaState::genesis(zero), Err(GrandpaStateError::InvalidAuthoritySet { .. })));
    }

    #[test]
    fn standard_change_is_enacted_when_its_block_is_finalized() {
        let genesis = GrandpaState::genesis(voters(&[1, 2, 3])).unwrap();
        let before = import_plain(genesis.clone(), 1, 9);
        let announced = before.apply_block(&header(10, &[scheduled(&[4, 5], 5)])).unwrap();
        assert_eq!(announced.set, genesis.set);
        assert_eq!(announced.finality_limit(), Some(15));
        let at_20 = import_plain(announced.clone(), 11, 20);
        // Import alone never enacts a standard change.
        assert_eq!(at_20.set, genesis.set);
        assert_eq!(at_20.pending_standard.as_ref().map(|c| (c.announced_at, c.delay)), Some((10, 5)));

        // Finalizing below the effective block changes nothing.
        assert_eq!(at_20.on_finalized(14).unwrap(), at_20);
        // Finalizing #15 enacts it, for #15's state and every descendant's.
        let enacted = at_20.on_finalized(15).unwrap();
        assert_eq!(enacted.set, AuthoritySet::new(1, voters(&[4, 5])));
        assert_eq!(enacted.pending_standard, None);
        let at_15 = import_plain(announced, 11, 15);
        assert_eq!(at_15.on_finalized(15).unwrap().set, enacted.set);
        // Idempotent: the new state has nothing left to enact.
        assert_eq!(enacted.on_finalized(15).unwrap(), enacted);

        // A new change can be scheduled once the previous one is enacted.
        let again = enacted.apply_block(&header(21, &[scheduled(&[6], 0)])).unwrap();
        assert_eq!(again.finality_limit(), Some(21));
        assert_eq!(again.on_finalized(21).unwrap().set, AuthoritySet::new(2, voters(&[6])));
    }

    #[test]
    fn second_scheduled_change_while_pending_is_rejected() {
        let state = GrandpaState::genesis(voters(&[1])).unwrap();
        let pending = state.apply_block(&header(3, &[scheduled(&[2], 10)])).unwrap();
        let err = pending.apply_block(&header(4, &[scheduled(&[3], 1)])).unwrap_err();
        assert_eq!(
            err,
            GrandpaStateError::ChangeAlreadyPending { number: 4, pending_announced_at: 3, pending_effective: 13 }
        );
        assert_eq!(
            err.to_string(),
            "block #4 schedules an authority set change while the change announced at #3 (effective at #13) is still pending"
        );
    }

    #[test]
    fn forced_change_is_enacted_on_import() {
        let genesis = GrandpaState::genesis(voters(&[1, 2])).unwrap();
        let announced = genesis.apply_block(&header(10, &[forced(5, &[7, 8, 9], 3)])).unwrap();
        assert_eq!(announced.set_id(), 0);
        assert_eq!(announced.pending_forced.as_ref().map(|f| f.median_last_finalized), Some(5));
        let at_12 = import_plain(announced, 11, 12);
        assert_eq!(at_12.set_id(), 0);
        let at_13 = at_12.apply_block(&header(13, &[])).unwrap();
        assert_eq!(
            at_13,
            GrandpaState {
                set: AuthoritySet::new(1, voters(&[7, 8, 9])),
                pending_standard: None,
                pending_forced: None
            }
        );
        // Finality does not matter for forced changes.
        assert_eq!(at_13.on_finalized(13).unwrap(), at_13);

        // Delay 0: enacted by the announcing block itself.
        let immediate = genesis.apply_block(&header(4, &[forced(2, &[3], 0)])).unwrap();
        assert_eq!(immediate.set, AuthoritySet::new(1, voters(&[3])));

        // A forced change takes precedence over a scheduled change in the same block.
        let both = genesis.apply_block(&header(4, &[scheduled(&[5], 0), forced(2, &[6], 1)])).unwrap();
        assert_eq!(both.pending_standard, None);
        assert_eq!(both.apply_block(&header(5, &[])).unwrap().set, AuthoritySet::new(1, voters(&[6])));
    }

    #[test]
    fn second_forced_change_while_pending_is_rejected() {
        let state = GrandpaState::genesis(voters(&[1])).unwrap();
        let pending = state.apply_block(&header(3, &[forced(1, &[2], 10)])).unwrap();
        assert_eq!(
            pending.apply_block(&header(4, &[forced(1, &[3], 1)])),
            Err(GrandpaStateError::MultiplePendingForcedChanges { number: 4, pending_announced_at: 3 })
        );
        // A standard change may still be scheduled next to a pending forced change.
        assert!(pending.apply_block(&header(4, &[scheduled(&[3], 1)])).is_ok());
    }

    #[test]
    fn forced_change_waits_for_the_standard_change_it_depends_on() {
        let state = GrandpaState::genesis(voters(&[1])).unwrap();
        let standard = state.apply_block(&header(5, &[scheduled(&[2], 2)])).unwrap(); // effective #7
        let standard = import_plain(standard, 6, 9);
        // The forced change claims #8 was finalized, so the change effective at #7
        // must have been enacted first.
        assert_eq!(
            standard.apply_block(&header(10, &[forced(8, &[3], 0)])),
            Err(GrandpaStateError::ForcedChangeDependencyUnsatisfied {
                number: 10,
                forced_announced_at: 10,
                standard_effective: 7,
                median_last_finalized: 8,
            })
        );
        // Once it is enacted by finality, the forced change applies.
        let finalized = standard.on_finalized(7).unwrap();
        let forced_state = finalized.apply_block(&header(10, &[forced(8, &[3], 0)])).unwrap();
        assert_eq!(forced_state.set, AuthoritySet::new(2, voters(&[3])));
        // A standard change effective after the median does not block it, and is dropped.
        let forced_state = standard.apply_block(&header(10, &[forced(6, &[3], 0)])).unwrap();
        assert_eq!(forced_state.set, AuthoritySet::new(1, voters(&[3])));
        assert_eq!(forced_state.pending_standard, None);
    }

    #[test]
    fn forks_are_independent() {
        let parent = import_plain(GrandpaState::genesis(voters(&[1])).unwrap(), 1, 4);
        let a = parent.apply_block(&header(5, &[scheduled(&[2], 1)])).unwrap();
        let b = parent.apply_block(&header(5, &[forced(0, &[3], 0)])).unwrap();
        let c = parent.apply_block(&header(5, &[])).unwrap();
        assert_eq!(a.on_finalized(6).unwrap().set, AuthoritySet::new(1, voters(&[2])));
        assert_eq!(b.set, AuthoritySet::new(1, voters(&[3])));
        assert_eq!(c, parent);
    }

    #[test]
    fn invalid_announcements_are_rejected() {
        let state = GrandpaState::genesis(voters(&[1])).unwrap();
        assert_eq!(
            state.apply_block(&header(2, &[scheduled(&[], 1)])),
            Err(GrandpaStateError::InvalidAuthoritySet { number: 2, reason: "it is empty" })
        );
        let mut zero = ScheduledChange { next_authorities: voters(&[1, 2]), delay: 1 };
        zero.next_authorities[0].weight = 0;
        assert_eq!(
            state.apply_block(&header(2, &[ConsensusLog::ForcedChange(0, zero)])),
            Err(GrandpaStateError::InvalidAuthoritySet { number: 2, reason: "a voter has weight 0" })
        );
        assert_eq!(
            state.apply_block(&header(2, &[scheduled(&[1], u32::MAX)])),
            Err(GrandpaStateError::DelayOverflow { number: 2, delay: u32::MAX })
        );
        let mut bad = header(2, &[]);
        bad.digest.push(DigestItem::Consensus(GRANDPA_ENGINE_ID, vec![1, 4]));
        assert!(matches!(state.apply_block(&bad), Err(GrandpaStateError::Decode { number: 2, .. })));
        // Logs that do not change the set are ignored.
        let quiet = header(2, &[ConsensusLog::OnDisabled(0), ConsensusLog::Pause(3), ConsensusLog::Resume(4)]);
        assert_eq!(state.apply_block(&quiet).unwrap(), state);
    }

    #[test]
    fn state_round_trips_through_scale() {
        let state = GrandpaState::genesis(voters(&[1, 2])).unwrap();
        let state = state.apply_block(&header(3, &[scheduled(&[3], 2)])).unwrap();
        let state = state.apply_block(&header(4, &[forced(1, &[4], 9)])).unwrap();
        let encoded = state.encode();
        assert_eq!(GrandpaState::decode(&mut &encoded[..]).unwrap(), state);
    }
}

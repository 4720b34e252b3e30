//! BABE block verification.
//!
//! # Epochs
//!
//! Slots are grouped into epochs of `epoch_length` slots. Each epoch has its own
//! authority list, randomness and configuration ([`Epoch`]). The first block of
//! every epoch must carry a `NextEpochData` consensus log (and may carry a
//! `NextConfigData` log) describing the *next* epoch; no other block may carry
//! either.
//!
//! Like Substrate, epoch 0 starts at the slot of block #1 (not at a genesis slot
//! from the configuration: `BabeConfiguration` version 2 has none) and uses the
//! genesis configuration; block #1 is the first block of epoch 0 and so announces
//! epoch 1.
//!
//! If no block is produced during one or more whole epochs, the next announced
//! epoch is never followed by an announcement of its successor. A block whose slot
//! lies past the end of the last announced epoch is then verified with that
//! epoch's authorities, randomness and configuration, but with the epoch index and
//! start slot of the epoch its slot really falls into (Substrate's
//! `Epoch::clone_for_slot`, polkadot-sdk since 2023); being the first block of that
//! epoch, it must announce the next one, which then starts right after it.
//!
//! # Per-block state
//!
//! [`EpochState`] is what a child block is verified against: the parent's slot,
//! the parent's epoch and the announced next epoch. [`verify_header`] checks a
//! header against its parent's state and returns the header's own state, so a
//! chain store keeps one `EpochState` per block and forks need no special care.
//!
//! # What is checked
//!
//! [`verify_header`] checks, in this order: the BABE digest items are well formed
//! (one pre-digest, at most one `NextEpochData` and one `NextConfigData`, a seal
//! only as the last item); the slot is strictly greater than the parent's; the
//! epoch-change logs are present exactly on the first block of an epoch; the
//! authority index is in range; the slot claim (primary: VRF proof and output below
//! the threshold; secondary plain: allowed and the right author; secondary VRF:
//! allowed, the right author and VRF proof); and last the seal, an sr25519
//! signature of [`Header::pre_hash`] by the claiming authority. The cheap
//! structural checks come before the signature checks; a header is accepted
//! exactly when Substrate accepts it, only the reported reason can differ when
//! several checks fail.
//!
//! Not checked here: whether the slot is in the future (needs a clock), the
//! timestamp inherent and disabled authorities (the runtime checks those when the
//! block is executed), and equivocations.

mod lottery;

pub use lottery::{
    calculate_primary_threshold, floor_times_2_pow_128, primary_score, secondary_slot_author, vrf_transcript,
    VRF_SCORE_CONTEXT, VRF_TRANSCRIPT_LABEL,
};

use std::borrow::Cow;

use parity_scale_codec::{Decode, Encode};
use weft_block::babe::{
    AllowedSlots, AuthorityIndex, BabeAuthority, BabeConfiguration, BabeDigestError, BabeEpoch, BabeEpochConfiguration,
    NextEpochDescriptor, PreDigest, Randomness, Slot,
};
use weft_block::{BlockNumber, Header, H256};
use weft_crypto::sr25519;

/// A BABE epoch: the slots `start_slot .. start_slot + duration` and the
/// authorities, randomness and configuration that apply to them.
///
/// Encodes exactly like Substrate's `sp_consensus_babe::Epoch` (and
/// [`BabeEpoch`], the return value of `BabeApi_current_epoch`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Epoch {
    /// Epoch index (0 for the epoch starting at block #1).
    pub epoch_index: u64,
    /// First slot of the epoch.
    pub start_slot: Slot,
    /// Number of slots.
    pub duration: u64,
    /// Authorities allowed to claim slots, indexed by `PreDigest::authority_index`.
    pub authorities: Vec<BabeAuthority>,
    /// Randomness of the VRF lottery and of the secondary slot assignment.
    pub randomness: Randomness,
    /// Primary probability and allowed slot kinds.
    pub config: BabeEpochConfiguration,
}

impl From<BabeEpoch> for Epoch {
    fn from(e: BabeEpoch) -> Self {
        Epoch {
            epoch_index: e.epoch_index,
            start_slot: e.start_slot,
            duration: e.duration,
            authorities: e.authorities,
            randomness: e.randomness,
            config: e.config,
        }
    }
}

impl From<Epoch> for BabeEpoch {
    fn from(e: Epoch) -> Self {
        BabeEpoch {
            epoch_index: e.epoch_index,
            start_slot: e.start_slot,
            duration: e.duration,
            authorities: e.authorities,
            randomness: e.randomness,
            config: e.config,
        }
    }
}

impl Epoch {
    /// Epoch 0, starting at `start_slot` (the slot of block #1), with the genesis
    /// authorities, randomness and configuration (Substrate's `Epoch::genesis`).
    pub fn genesis(config: &BabeConfiguration, start_slot: Slot) -> Epoch {
        Epoch {
            epoch_index: 0,
            start_slot,
            duration: config.epoch_length,
            authorities: config.authorities.clone(),
            randomness: config.randomness,
            config: config.epoch_configuration(),
        }
    }

    /// The first slot after the epoch (saturating at `u64::MAX`).
    pub fn end_slot(&self) -> Slot {
        self.start_slot.saturating_add(self.duration)
    }

    /// Whether `slot` belongs to this epoch.
    pub fn contains(&self, slot: Slot) -> bool {
        self.start_slot <= slot && slot < self.end_slot()
    }

    /// The epoch that follows this one, with the announced authorities and
    /// randomness and the given configuration.
    pub fn increment(&self, next: NextEpochDescriptor, config: BabeEpochConfiguration) -> Result<Epoch, BabeError> {
        Ok(Epoch {
            epoch_index: self.epoch_index.checked_add(1).ok_or(BabeError::Overflow("epoch index"))?,
            start_slot: self.start_slot.checked_add(self.duration).ok_or(BabeError::Overflow("epoch start slot"))?,
            duration: self.duration,
            authorities: next.authorities,
            randomness: next.randomness,
            config,
        })
    }

    /// This epoch's data re-indexed for `slot`: if `slot` lies `k` whole epochs past
    /// this epoch's start, the epoch index is increased by `k` and the start slot by
    /// `k * duration`; authorities, randomness and configuration are kept.
    /// Substrate's `Epoch::clone_for_slot`, used when epochs were skipped. A slot
    /// before the start gives an unchanged clone.
    pub fn clone_for_slot(&self, slot: Slot) -> Result<Epoch, BabeError> {
        if self.duration == 0 {
            return Err(BabeError::ZeroEpochDuration { epoch_index: self.epoch_index });
        }
        let skipped = slot.saturating_sub(self.start_slot) / self.duration;
        let mut epoch = self.clone();
        epoch.epoch_index = self.epoch_index.checked_add(skipped).ok_or(BabeError::Overflow("epoch index"))?;
        epoch.start_slot = skipped
            .checked_mul(self.duration)
            .and_then(|slots| self.start_slot.checked_add(slots))
            .ok_or(BabeError::Overflow("epoch start slot"))?;
        Ok(epoch)
    }
}

/// The BABE state of a block, against which its children are verified.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct EpochState {
    /// Slot of the block (0 for the genesis block, which has no pre-digest).
    pub slot: Slot,
    /// Epoch of the block, with index and start slot adjusted if epochs were
    /// skipped. For the genesis block: epoch 0.
    pub current: Epoch,
    /// The epoch after `current`, as announced by the first block of `current`.
    /// For the genesis block: epoch 1 built from the genesis configuration, a
    /// placeholder that block #1 (the first block of epoch 0) must replace with its
    /// `NextEpochData`.
    pub next: Epoch,
}

impl EpochState {
    /// The state of the genesis block, for verifying a block #1 whose slot is
    /// `first_block_slot`: epoch 0 starts at that slot with the genesis
    /// configuration, and epoch 1 is its increment with the genesis authorities and
    /// randomness (until block #1 announces the real epoch 1).
    pub fn genesis(config: &BabeConfiguration, first_block_slot: Slot) -> Result<EpochState, BabeError> {
        let current = Epoch::genesis(config, first_block_slot);
        let next = current.increment(
            NextEpochDescriptor { authorities: config.authorities.clone(), randomness: config.randomness },
            config.epoch_configuration(),
        )?;
        Ok(EpochState { slot: 0, current, next })
    }

    /// Whether this is the state of the genesis block (its slot is 0 and epoch 0
    /// has not started).
    pub fn is_genesis(&self) -> bool {
        self.slot < self.current.start_slot
    }

    /// The epoch a child block at `slot` belongs to, and whether the child is the
    /// first block of that epoch on this chain (and so must announce the next one).
    pub fn epoch_for_child(&self, slot: Slot) -> Result<(Epoch, bool), BabeError> {
        if slot >= self.next.start_slot {
            // The child starts the next epoch, or a later one if whole epochs were
            // skipped: reuse the announced data under the right index.
            Ok((self.next.clone_for_slot(slot)?, true))
        } else if slot < self.current.start_slot {
            Err(BabeError::SlotBeforeEpoch {
                slot,
                epoch_index: self.current.epoch_index,
                start_slot: self.current.start_slot,
            })
        } else {
            // Normally the identity; only re-indexes if a caller-built state has a
            // gap between `current` and `next`.
            Ok((self.current.clone_for_slot(slot)?, self.slot < self.current.start_slot))
        }
    }
}

/// Kind of a slot claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClaimKind {
    /// VRF lottery win.
    Primary,
    /// Round-robin claim without VRF.
    SecondaryPlain,
    /// Round-robin claim with a VRF output.
    SecondaryVrf,
}

impl ClaimKind {
    fn of(pre_digest: &PreDigest) -> ClaimKind {
        match pre_digest {
            PreDigest::Primary(_) => ClaimKind::Primary,
            PreDigest::SecondaryPlain(_) => ClaimKind::SecondaryPlain,
            PreDigest::SecondaryVRF(_) => ClaimKind::SecondaryVrf,
        }
    }

    fn name(self) -> &'static str {
        match self {
            ClaimKind::Primary => "primary",
            ClaimKind::SecondaryPlain => "secondary plain",
            ClaimKind::SecondaryVrf => "secondary VRF",
        }
    }
}

impl core::fmt::Display for ClaimKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

/// The outcome of a successful [`verify_header`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBabe {
    /// The block's own BABE state, to verify its children with.
    pub state: EpochState,
    /// The claimed slot.
    pub slot: Slot,
    /// Index of the block's epoch.
    pub epoch_index: u64,
    /// Index of the author in the epoch's authority list.
    pub authority_index: AuthorityIndex,
    /// The author's sr25519 key.
    pub author: [u8; 32],
    /// Kind of slot claim.
    pub claim: ClaimKind,
    /// Weight the block adds to its chain for fork choice: 1 for a primary claim,
    /// 0 otherwise (Substrate's `added_weight`).
    pub weight: u32,
    /// Whether the block is the first of its epoch (it announced the next epoch).
    pub epoch_change: bool,
}

impl VerifiedBabe {
    /// Whether the block was a primary (VRF lottery) claim.
    pub fn is_primary(&self) -> bool {
        self.claim == ClaimKind::Primary
    }
}

/// Why a header fails BABE verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BabeError {
    /// The BABE digest items are malformed or badly arranged.
    #[error("invalid BABE digest: {0}")]
    Digest(#[from] BabeDigestError),
    /// No `PreRuntime(BABE, _)` item.
    #[error("missing BABE pre-digest")]
    MissingPreDigest,
    /// The last digest item is not a BABE seal.
    #[error("block #{number} is not sealed: its last digest item is not a BABE seal")]
    Unsealed {
        /// Block number.
        number: BlockNumber,
    },
    /// No parent state was given for a block other than #1.
    #[error(
        "block #{number} needs its parent's BABE state (only block #1 can be verified from the genesis configuration)"
    )]
    MissingParentState {
        /// Block number.
        number: BlockNumber,
    },
    /// The slot does not increase.
    #[error("slot {slot} is not greater than the parent's slot {parent_slot}")]
    SlotNotIncreasing {
        /// Slot of the parent.
        parent_slot: Slot,
        /// Claimed slot.
        slot: Slot,
    },
    /// The slot precedes the parent's epoch.
    #[error("slot {slot} is before the start slot {start_slot} of epoch {epoch_index}")]
    SlotBeforeEpoch {
        /// Claimed slot.
        slot: Slot,
        /// The parent's epoch.
        epoch_index: u64,
        /// Its start slot.
        start_slot: Slot,
    },
    /// The first block of an epoch lacks `NextEpochData`.
    #[error(
        "block #{number} must announce the next epoch: it is the first block of epoch {epoch_index} (slot {slot})"
    )]
    MissingEpochChange {
        /// Block number.
        number: BlockNumber,
        /// Claimed slot.
        slot: Slot,
        /// The epoch it starts.
        epoch_index: u64,
    },
    /// A block that is not the first of its epoch has `NextEpochData`.
    #[error(
        "block #{number} announces the next epoch, but is not the first block of epoch {epoch_index} (slot {slot})"
    )]
    UnexpectedEpochChange {
        /// Block number.
        number: BlockNumber,
        /// Claimed slot.
        slot: Slot,
        /// Its epoch.
        epoch_index: u64,
    },
    /// `NextConfigData` without `NextEpochData`.
    #[error("block #{number} announces a new epoch configuration without announcing the next epoch")]
    UnexpectedConfigChange {
        /// Block number.
        number: BlockNumber,
    },
    /// The authority index is out of range.
    #[error("slot {slot} claimed by authority {authority_index}, but the epoch has {authorities} authorities")]
    AuthorityIndexOutOfRange {
        /// Claimed slot.
        slot: Slot,
        /// Claimed index.
        authority_index: AuthorityIndex,
        /// Number of authorities of the epoch.
        authorities: usize,
    },
    /// A secondary claim in an epoch that does not allow that kind.
    #[error("{kind} slot claims are not allowed in epoch {epoch_index} (allowed: {allowed:?})")]
    SecondarySlotsDisallowed {
        /// Kind of claim.
        kind: ClaimKind,
        /// The epoch.
        epoch_index: u64,
        /// What the epoch allows.
        allowed: AllowedSlots,
    },
    /// A secondary claim by an authority other than the slot's secondary author.
    #[error(
        "slot {slot} is a secondary slot of authority {expected} (0x{}), but authority {claimed} (0x{}) claimed it",
        hex::encode(expected_key),
        hex::encode(claimed_key)
    )]
    WrongSecondaryAuthor {
        /// Claimed slot.
        slot: Slot,
        /// Index in the pre-digest.
        claimed: AuthorityIndex,
        /// Key at that index.
        claimed_key: [u8; 32],
        /// Index of the slot's secondary author.
        expected: usize,
        /// Its key.
        expected_key: [u8; 32],
    },
    /// An invalid VRF proof (or key or pre-output encoding).
    #[error("invalid {kind} VRF proof for slot {slot} by authority {authority_index}: {reason}")]
    BadVrfProof {
        /// Kind of claim.
        kind: ClaimKind,
        /// Claimed slot.
        slot: Slot,
        /// Claiming authority.
        authority_index: AuthorityIndex,
        /// What schnorrkel reported.
        reason: weft_crypto::CryptoError,
    },
    /// A primary claim whose VRF score is not below the author's threshold.
    #[error(
        "primary VRF output above threshold: score {score:#034x} >= threshold {threshold:#034x} for authority {authority_index} at slot {slot}"
    )]
    ThresholdExceeded {
        /// Claimed slot.
        slot: Slot,
        /// Claiming authority.
        authority_index: AuthorityIndex,
        /// The VRF score.
        score: u128,
        /// The threshold.
        threshold: u128,
    },
    /// No primary threshold exists (a weight of 0 or `c >= 1`; Substrate panics).
    #[error("no primary threshold for authority {authority_index} with c = {c:?} (zero weight or c >= 1)")]
    ThresholdUndefined {
        /// Claiming authority.
        authority_index: AuthorityIndex,
        /// The epoch's `c`.
        c: (u64, u64),
    },
    /// The seal is not a valid signature of the pre-hash by the author.
    #[error(
        "bad seal signature: not a signature of pre-hash {pre_hash} by authority {authority_index} (0x{})",
        hex::encode(author)
    )]
    BadSeal {
        /// Claiming authority.
        authority_index: AuthorityIndex,
        /// Its key.
        author: [u8; 32],
        /// The signed message.
        pre_hash: H256,
    },
    /// An epoch of duration 0 (a broken configuration).
    #[error("epoch {epoch_index} has a duration of 0 slots")]
    ZeroEpochDuration {
        /// The epoch.
        epoch_index: u64,
    },
    /// Epoch arithmetic overflowed `u64`.
    #[error("{0} overflows u64")]
    Overflow(&'static str),
}

/// Verifies a header's BABE slot claim, seal and epoch-change announcements.
///
/// `parent_state` is the [`EpochState`] of the parent block, as returned by the
/// parent's own verification; `None` means the parent is the genesis block, which
/// only block #1 may have: its state is then [`EpochState::genesis`] at the
/// header's own slot, so epoch 0 starts at block #1. `genesis_config` is the
/// `BabeApi_configuration` of the genesis block and is used only in that case.
///
/// On success returns, besides the facts about the claim, the block's own state.
/// Never panics.
pub fn verify_header(
    parent_state: Option<&EpochState>,
    genesis_config: &BabeConfiguration,
    header: &Header,
) -> Result<VerifiedBabe, BabeError> {
    let digests = header.babe_digests()?;
    let pre_digest = digests.pre_digest.ok_or(BabeError::MissingPreDigest)?;
    let slot = pre_digest.slot();
    let seal = digests.seal.ok_or(BabeError::Unsealed { number: header.number })?;

    let parent = match parent_state {
        Some(state) => Cow::Borrowed(state),
        None if header.number == 1 => Cow::Owned(EpochState::genesis(genesis_config, slot)?),
        None => return Err(BabeError::MissingParentState { number: header.number }),
    };
    if slot <= parent.slot {
        return Err(BabeError::SlotNotIncreasing { parent_slot: parent.slot, slot });
    }

    let (epoch, first_in_epoch) = parent.epoch_for_child(slot)?;
    match (first_in_epoch, digests.next_epoch.is_some(), digests.next_config.is_some()) {
        (true, true, _) | (false, false, false) => {}
        (true, false, _) => {
            return Err(BabeError::MissingEpochChange { number: header.number, slot, epoch_index: epoch.epoch_index })
        }
        (false, true, _) => {
            return Err(BabeError::UnexpectedEpochChange {
                number: header.number,
                slot,
                epoch_index: epoch.epoch_index,
            })
        }
        (false, false, true) => return Err(BabeError::UnexpectedConfigChange { number: header.number }),
    }

    let authority_index = pre_digest.authority_index();
    let author = usize::try_from(authority_index)
        .ok()
        .and_then(|i| epoch.authorities.get(i))
        .ok_or(BabeError::AuthorityIndexOutOfRange { slot, authority_index, authorities: epoch.authorities.len() })?;
    let claim = ClaimKind::of(&pre_digest);

    match claim {
        ClaimKind::Primary => {}
        ClaimKind::SecondaryPlain | ClaimKind::SecondaryVrf => {
            let allowed = match claim {
                ClaimKind::SecondaryPlain => epoch.config.allowed_slots.secondary_plain_allowed(),
                _ => epoch.config.allowed_slots.secondary_vrf_allowed(),
            };
            if !allowed {
                return Err(BabeError::SecondarySlotsDisallowed {
                    kind: claim,
                    epoch_index: epoch.epoch_index,
                    allowed: epoch.config.allowed_slots,
                });
            }
            // `epoch.authorities` is non-empty: `author` was found in it.
            let expected = secondary_slot_author(slot, &epoch.authorities, &epoch.randomness).unwrap_or(0);
            let expected_key = epoch.authorities.get(expected).map_or([0; 32], |a| a.public_key);
            if expected_key != author.public_key {
                return Err(BabeError::WrongSecondaryAuthor {
                    slot,
                    claimed: authority_index,
                    claimed_key: author.public_key,
                    expected,
                    expected_key,
                });
            }
        }
    }

    let public = sr25519::Public::from_raw(author.public_key);
    if let Some((vrf_output, vrf_proof)) = pre_digest.vrf() {
        let transcript = vrf_transcript(&epoch.randomness, slot, epoch.epoch_index);
        let inout = sr25519::vrf_verify(&public, transcript, vrf_output, vrf_proof)
            .map_err(|reason| BabeError::BadVrfProof { kind: claim, slot, authority_index, reason })?;
        if claim == ClaimKind::Primary {
            let threshold = calculate_primary_threshold(epoch.config.c, &epoch.authorities, authority_index as usize)
                .ok_or(BabeError::ThresholdUndefined { authority_index, c: epoch.config.c })?;
            let score = primary_score(&inout);
            if score >= threshold {
                return Err(BabeError::ThresholdExceeded { slot, authority_index, score, threshold });
            }
        }
    }

    let pre_hash = header.pre_hash();
    if !sr25519::verify(&sr25519::Signature::from_raw(seal), pre_hash.as_bytes(), &public) {
        return Err(BabeError::BadSeal { authority_index, author: author.public_key, pre_hash });
    }

    let author = author.public_key;
    let next = match digests.next_epoch {
        Some(descriptor) => {
            let config = digests.next_config.map_or(epoch.config, Into::into);
            epoch.increment(descriptor, config)?
        }
        None => parent.next.clone(),
    };
    Ok(VerifiedBabe {
        slot,
        epoch_index: epoch.epoch_index,
        authority_index,
        author,
        claim,
        weight: u32::from(claim == ClaimKind::Primary),
        epoch_change: first_in_epoch,
        state: EpochState { slot, current: epoch, next },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_block::babe::AllowedSlots;

    fn config() -> BabeConfiguration {
        BabeConfiguration {
            slot_duration: 6000,
            epoch_length: 10,
            c: (1, 4),
            authorities: vec![BabeAuthority { public_key: [1; 32], weight: 1 }],
            randomness: [2; 32],
            allowed_slots: AllowedSlots::PrimaryAndSecondaryPlainSlots,
        }
    }

    #[test]
    fn genesis_state_and_epoch_selection() {
        let state = EpochState::genesis(&config(), 100).unwrap();
        assert!(state.is_genesis());
        assert_eq!((state.current.epoch_index, state.current.start_slot, state.current.end_slot()), (0, 100, 110));
        assert_eq!((state.next.epoch_index, state.next.start_slot), (1, 110));
        // Block #1 at slot 100 is the first block of epoch 0.
        let (epoch, first) = state.epoch_for_child(100).unwrap();
        assert_eq!((epoch.epoch_index, first), (0, true));
        assert!(matches!(state.epoch_for_child(99), Err(BabeError::SlotBeforeEpoch { .. })));

        let state = EpochState { slot: 105, ..state };
        assert!(!state.is_genesis());
        assert_eq!(state.epoch_for_child(109).map(|(e, f)| (e.epoch_index, f)), Ok((0, false)));
        assert_eq!(state.epoch_for_child(110).map(|(e, f)| (e.epoch_index, e.start_slot, f)), Ok((1, 110, true)));
        // Skipped epochs 1 and 2: slot 135 is in epoch 3, reusing epoch 1's data.
        let (epoch, first) = state.epoch_for_child(135).unwrap();
        assert_eq!(
            (epoch.epoch_index, epoch.start_slot, epoch.randomness, first),
            (3, 130, state.next.randomness, true)
        );
    }

    #[test]
    fn clone_for_slot_and_increment_overflow() {
        let epoch = Epoch::genesis(&config(), 100);
        assert_eq!(epoch.clone_for_slot(50).unwrap(), epoch);
        assert_eq!(epoch.clone_for_slot(109).unwrap(), epoch);
        assert_eq!(epoch.clone_for_slot(110).unwrap().epoch_index, 1);
        let zero = Epoch { duration: 0, ..epoch.clone() };
        assert_eq!(zero.clone_for_slot(200), Err(BabeError::ZeroEpochDuration { epoch_index: 0 }));
        let late = Epoch { start_slot: u64::MAX - 5, ..epoch.clone() };
        assert_eq!(late.end_slot(), u64::MAX);
        let descriptor = NextEpochDescriptor { authorities: vec![], randomness: [0; 32] };
        assert_eq!(late.increment(descriptor, epoch.config), Err(BabeError::Overflow("epoch start slot")));
        let last = Epoch { epoch_index: u64::MAX, start_slot: 0, duration: 1, ..epoch };
        assert_eq!(last.clone_for_slot(3), Err(BabeError::Overflow("epoch index")));
    }

    #[test]
    fn states_round_trip_through_scale() {
        let state = EpochState::genesis(&config(), 100).unwrap();
        let encoded = state.encode();
        assert_eq!(EpochState::decode(&mut &encoded[..]).unwrap(), state);
        // `Epoch` encodes like the runtime API's `BabeEpoch`.
        let babe_epoch: BabeEpoch = state.current.clone().into();
        assert_eq!(babe_epoch.encode(), state.current.encode());
        assert_eq!(Epoch::from(babe_epoch), state.current);
    }
}

//! BABE digest items and runtime-API types.
//!
//! * `PreRuntime(BABE, PreDigest)`: the author's slot claim, first item of every BABE block.
//! * `Consensus(BABE, ConsensusLog)`: epoch changes announced by the runtime.
//! * `Seal(BABE, [u8; 64])`: sr25519 signature of the header's pre-hash
//!   ([`Header::pre_hash`]) by the authority at `PreDigest::authority_index`.

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};

use crate::decode::{decode_exact, DecodeError, DecodeLimits};
use crate::header::{Digest, DigestItem, Header, BABE_ENGINE_ID};

/// Index of an authority in the epoch's authority list.
pub type AuthorityIndex = u32;
/// Slot number.
pub type Slot = u64;
/// Weight of an authority (unused by BABE itself, always 1 on Polkadot).
pub type BabeAuthorityWeight = u64;
/// Epoch randomness.
pub type Randomness = [u8; 32];
/// sr25519 public key of a BABE authority.
pub type AuthorityId = [u8; 32];
/// sr25519 signature (the BABE seal).
pub type AuthoritySignature = [u8; 64];
/// VRF pre-output (compressed Ristretto point).
pub type VrfOutput = [u8; 32];
/// VRF proof (two scalars).
pub type VrfProof = [u8; 64];

/// A BABE authority: sr25519 key and weight. Encodes exactly like Substrate's
/// `(AuthorityId, BabeAuthorityWeight)` tuple.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub struct BabeAuthority {
    /// sr25519 public key.
    pub public_key: AuthorityId,
    /// Weight.
    pub weight: BabeAuthorityWeight,
}

/// Primary (VRF lottery) slot claim.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub struct PrimaryPreDigest {
    /// Author's index in the epoch's authority list.
    pub authority_index: AuthorityIndex,
    /// Claimed slot.
    pub slot: Slot,
    /// VRF pre-output.
    pub vrf_output: VrfOutput,
    /// VRF proof.
    pub vrf_proof: VrfProof,
}

/// Secondary (round-robin) slot claim without VRF.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub struct SecondaryPlainPreDigest {
    /// Author's index in the epoch's authority list.
    pub authority_index: AuthorityIndex,
    /// Claimed slot.
    pub slot: Slot,
}

/// Secondary (round-robin) slot claim with a VRF output.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub struct SecondaryVrfPreDigest {
    /// Author's index in the epoch's authority list.
    pub authority_index: AuthorityIndex,
    /// Claimed slot.
    pub slot: Slot,
    /// VRF pre-output.
    pub vrf_output: VrfOutput,
    /// VRF proof.
    pub vrf_proof: VrfProof,
}

/// The BABE pre-runtime digest: payload of `PreRuntime(BABE, _)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub enum PreDigest {
    /// Index 1.
    #[codec(index = 1)]
    Primary(PrimaryPreDigest),
    /// Index 2.
    #[codec(index = 2)]
    SecondaryPlain(SecondaryPlainPreDigest),
    /// Index 3.
    #[codec(index = 3)]
    SecondaryVRF(SecondaryVrfPreDigest),
}

impl PreDigest {
    /// The author's index in the epoch's authority list.
    pub fn authority_index(&self) -> AuthorityIndex {
        match self {
            PreDigest::Primary(d) => d.authority_index,
            PreDigest::SecondaryPlain(d) => d.authority_index,
            PreDigest::SecondaryVRF(d) => d.authority_index,
        }
    }

    /// The claimed slot.
    pub fn slot(&self) -> Slot {
        match self {
            PreDigest::Primary(d) => d.slot,
            PreDigest::SecondaryPlain(d) => d.slot,
            PreDigest::SecondaryVRF(d) => d.slot,
        }
    }

    /// Whether this is a primary claim.
    pub fn is_primary(&self) -> bool {
        matches!(self, PreDigest::Primary(_))
    }

    /// VRF output and proof, for primary and secondary-VRF claims.
    pub fn vrf(&self) -> Option<(&VrfOutput, &VrfProof)> {
        match self {
            PreDigest::Primary(d) => Some((&d.vrf_output, &d.vrf_proof)),
            PreDigest::SecondaryVRF(d) => Some((&d.vrf_output, &d.vrf_proof)),
            PreDigest::SecondaryPlain(_) => None,
        }
    }

    /// Weight this block adds to its chain for fork choice: 1 for primary, 0 otherwise.
    pub fn added_weight(&self) -> u32 {
        u32::from(self.is_primary())
    }
}

/// Authorities and randomness of the epoch after next.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct NextEpochDescriptor {
    /// Authorities.
    pub authorities: Vec<BabeAuthority>,
    /// Randomness.
    pub randomness: Randomness,
}

/// Which kinds of slot claims are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub enum AllowedSlots {
    /// Index 0: primary only.
    PrimarySlots,
    /// Index 1: primary and secondary plain.
    PrimaryAndSecondaryPlainSlots,
    /// Index 2: primary and secondary VRF.
    PrimaryAndSecondaryVRFSlots,
}

impl AllowedSlots {
    /// Whether secondary plain claims are allowed.
    pub fn secondary_plain_allowed(&self) -> bool {
        *self == AllowedSlots::PrimaryAndSecondaryPlainSlots
    }

    /// Whether secondary VRF claims are allowed.
    pub fn secondary_vrf_allowed(&self) -> bool {
        *self == AllowedSlots::PrimaryAndSecondaryVRFSlots
    }
}

/// New epoch configuration, announced for the epoch after next.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub enum NextConfigDescriptor {
    /// Index 1 (there is no index 0).
    #[codec(index = 1)]
    V1 {
        /// Primary slot probability parameter `c = (numerator, denominator)`.
        c: (u64, u64),
        /// Allowed slot kinds.
        allowed_slots: AllowedSlots,
    },
}

impl From<NextConfigDescriptor> for BabeEpochConfiguration {
    fn from(desc: NextConfigDescriptor) -> Self {
        match desc {
            NextConfigDescriptor::V1 { c, allowed_slots } => BabeEpochConfiguration { c, allowed_slots },
        }
    }
}

/// Payload of `Consensus(BABE, _)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub enum ConsensusLog {
    /// Index 1: the epoch changed; describes the *next* epoch.
    #[codec(index = 1)]
    NextEpochData(NextEpochDescriptor),
    /// Index 2: disable the authority with this index.
    #[codec(index = 2)]
    OnDisabled(AuthorityIndex),
    /// Index 3: the epoch after next uses a new configuration.
    #[codec(index = 3)]
    NextConfigData(NextConfigDescriptor),
}

/// Per-epoch BABE parameters that can change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, Decode, MaxEncodedLen)]
pub struct BabeEpochConfiguration {
    /// Primary slot probability parameter `c = (numerator, denominator)`.
    pub c: (u64, u64),
    /// Allowed slot kinds.
    pub allowed_slots: AllowedSlots,
}

/// Return value of `BabeApi_configuration` (API version 2 and later).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct BabeConfiguration {
    /// Slot duration in milliseconds.
    pub slot_duration: u64,
    /// Epoch length in slots.
    pub epoch_length: u64,
    /// Primary slot probability parameter `c = (numerator, denominator)`.
    pub c: (u64, u64),
    /// Genesis authorities.
    pub authorities: Vec<BabeAuthority>,
    /// Genesis randomness.
    pub randomness: Randomness,
    /// Allowed slot kinds.
    pub allowed_slots: AllowedSlots,
}

/// Return value of `BabeApi_configuration` at API version 1 (`secondary_slots: bool`
/// instead of `allowed_slots`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct BabeConfigurationV1 {
    /// Slot duration in milliseconds.
    pub slot_duration: u64,
    /// Epoch length in slots.
    pub epoch_length: u64,
    /// Primary slot probability parameter `c = (numerator, denominator)`.
    pub c: (u64, u64),
    /// Genesis authorities.
    pub authorities: Vec<BabeAuthority>,
    /// Genesis randomness.
    pub randomness: Randomness,
    /// Whether secondary plain slots are allowed.
    pub secondary_slots: bool,
}

impl From<BabeConfigurationV1> for BabeConfiguration {
    fn from(v1: BabeConfigurationV1) -> Self {
        BabeConfiguration {
            slot_duration: v1.slot_duration,
            epoch_length: v1.epoch_length,
            c: v1.c,
            authorities: v1.authorities,
            randomness: v1.randomness,
            allowed_slots: if v1.secondary_slots {
                AllowedSlots::PrimaryAndSecondaryPlainSlots
            } else {
                AllowedSlots::PrimarySlots
            },
        }
    }
}

impl BabeConfiguration {
    /// The epoch configuration part.
    pub fn epoch_configuration(&self) -> BabeEpochConfiguration {
        BabeEpochConfiguration { c: self.c, allowed_slots: self.allowed_slots }
    }
}

/// Return value of `BabeApi_current_epoch` / `BabeApi_next_epoch`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Encode, Decode)]
pub struct BabeEpoch {
    /// Epoch index.
    pub epoch_index: u64,
    /// First slot of the epoch.
    pub start_slot: Slot,
    /// Duration in slots.
    pub duration: u64,
    /// Authorities.
    pub authorities: Vec<BabeAuthority>,
    /// Randomness.
    pub randomness: Randomness,
    /// Configuration.
    pub config: BabeEpochConfiguration,
}

/// Problems with the BABE items of a header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BabeDigestError {
    /// An item's payload does not decode.
    #[error("BABE digest item #{position}: {source}")]
    Decode {
        /// Index of the item in the digest.
        position: usize,
        /// The decoding error.
        source: DecodeError,
    },
    /// More than one `PreRuntime(BABE, _)`.
    #[error("header has more than one BABE pre-runtime digest")]
    MultiplePreDigests,
    /// More than one `NextEpochData` or `NextConfigData`.
    #[error("header has more than one BABE {0} consensus log")]
    DuplicateLog(&'static str),
    /// A `Seal(BABE, _)` that is not the last item.
    #[error("BABE seal at digest item #{0} is not the last item")]
    SealNotLast(usize),
    /// A `Seal(BABE, _)` whose payload is not 64 bytes.
    #[error("BABE seal is {0} bytes, expected a 64-byte sr25519 signature")]
    BadSealLength(usize),
}

/// All BABE-related items of a header, decoded and checked for duplicates.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BabeDigests {
    /// The slot claim, if any.
    pub pre_digest: Option<PreDigest>,
    /// Next-epoch announcement.
    pub next_epoch: Option<NextEpochDescriptor>,
    /// Next-config announcement.
    pub next_config: Option<NextConfigDescriptor>,
    /// Authorities disabled by this block.
    pub disabled: Vec<AuthorityIndex>,
    /// The seal signature, if the last item is a BABE seal.
    pub seal: Option<AuthoritySignature>,
}

/// Strictly decodes a BABE pre-digest (all bytes must be used).
pub fn decode_pre_digest(bytes: &[u8]) -> Result<PreDigest, DecodeError> {
    decode_exact("BABE pre-digest", bytes, &DecodeLimits::DIGEST_ITEM)
}

/// Strictly decodes a BABE consensus log.
pub fn decode_consensus_log(bytes: &[u8]) -> Result<ConsensusLog, DecodeError> {
    decode_exact("BABE consensus log", bytes, &DecodeLimits::DIGEST_ITEM)
}

/// Decodes the return value of `BabeApi_configuration` (version 2+).
pub fn decode_configuration(bytes: &[u8]) -> Result<BabeConfiguration, DecodeError> {
    decode_exact("BABE configuration", bytes, &DecodeLimits::RUNTIME_API)
}

/// Decodes the return value of `BabeApi_configuration` version 1 and converts it.
pub fn decode_configuration_v1(bytes: &[u8]) -> Result<BabeConfiguration, DecodeError> {
    decode_exact::<BabeConfigurationV1>("BABE configuration (v1)", bytes, &DecodeLimits::RUNTIME_API).map(Into::into)
}

/// Decodes the return value of `BabeApi_current_epoch` / `BabeApi_next_epoch`.
pub fn decode_epoch(bytes: &[u8]) -> Result<BabeEpoch, DecodeError> {
    decode_exact("BABE epoch", bytes, &DecodeLimits::RUNTIME_API)
}

impl Digest {
    /// The BABE consensus logs, decoded, in order.
    pub fn babe_consensus_logs(&self) -> impl Iterator<Item = Result<ConsensusLog, DecodeError>> + '_ {
        self.consensus_logs(BABE_ENGINE_ID).map(decode_consensus_log)
    }

    /// The first BABE pre-digest, decoded; `Ok(None)` if there is none.
    pub fn babe_pre_digest(&self) -> Result<Option<PreDigest>, DecodeError> {
        self.pre_runtimes(BABE_ENGINE_ID).next().map(decode_pre_digest).transpose()
    }

    /// Decodes every BABE item and checks their arrangement (at most one pre-digest,
    /// one `NextEpochData` and one `NextConfigData`; a seal only as the last item and
    /// exactly 64 bytes). Does not require a pre-digest to be present.
    pub fn babe_digests(&self) -> Result<BabeDigests, BabeDigestError> {
        let mut out = BabeDigests::default();
        let last = self.logs.len().saturating_sub(1);
        for (position, item) in self.logs.iter().enumerate() {
            match item {
                DigestItem::PreRuntime(id, data) if *id == BABE_ENGINE_ID => {
                    let pre = decode_pre_digest(data).map_err(|source| BabeDigestError::Decode { position, source })?;
                    if out.pre_digest.replace(pre).is_some() {
                        return Err(BabeDigestError::MultiplePreDigests);
                    }
                }
                DigestItem::Consensus(id, data) if *id == BABE_ENGINE_ID => {
                    match decode_consensus_log(data).map_err(|source| BabeDigestError::Decode { position, source })? {
                        ConsensusLog::NextEpochData(d) => {
                            if out.next_epoch.replace(d).is_some() {
                                return Err(BabeDigestError::DuplicateLog("NextEpochData"));
                            }
                        }
                        ConsensusLog::NextConfigData(d) => {
                            if out.next_config.replace(d).is_some() {
                                return Err(BabeDigestError::DuplicateLog("NextConfigData"));
                            }
                        }
                        ConsensusLog::OnDisabled(i) => out.disabled.push(i),
                    }
                }
                DigestItem::Seal(id, data) if *id == BABE_ENGINE_ID => {
                    if position != last {
                        return Err(BabeDigestError::SealNotLast(position));
                    }
                    let sig =
                        <[u8; 64]>::try_from(&data[..]).map_err(|_| BabeDigestError::BadSealLength(data.len()))?;
                    out.seal = Some(sig);
                }
                _ => {}
            }
        }
        Ok(out)
    }
}

impl Header {
    /// See [`Digest::babe_pre_digest`].
    pub fn babe_pre_digest(&self) -> Result<Option<PreDigest>, DecodeError> {
        self.digest.babe_pre_digest()
    }

    /// See [`Digest::babe_consensus_logs`].
    pub fn babe_consensus_logs(&self) -> impl Iterator<Item = Result<ConsensusLog, DecodeError>> + '_ {
        self.digest.babe_consensus_logs()
    }

    /// See [`Digest::babe_digests`].
    pub fn babe_digests(&self) -> Result<BabeDigests, BabeDigestError> {
        self.digest.babe_digests()
    }

    /// The BABE seal signature if the last digest item is a 64-byte `Seal(BABE, _)`.
    /// Verify it as sr25519 (signing context `b"substrate"`) over
    /// [`pre_hash`](Header::pre_hash) with the key of the authority at
    /// `babe_pre_digest()?.authority_index()` of the epoch's authority list.
    pub fn babe_seal(&self) -> Option<AuthoritySignature> {
        match self.digest.seal() {
            Some((id, data)) if id == BABE_ENGINE_ID => <[u8; 64]>::try_from(data).ok(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_digest_encodings() {
        let plain = PreDigest::SecondaryPlain(SecondaryPlainPreDigest { authority_index: 2, slot: 0x0102 });
        assert_eq!(plain.encode(), [2, 2, 0, 0, 0, 2, 1, 0, 0, 0, 0, 0, 0]);
        let primary = PreDigest::Primary(PrimaryPreDigest {
            authority_index: 1,
            slot: 5,
            vrf_output: [3; 32],
            vrf_proof: [4; 64],
        });
        let enc = primary.encode();
        assert_eq!(enc.len(), 1 + 4 + 8 + 32 + 64);
        assert_eq!(enc[0], 1);
        assert_eq!(decode_pre_digest(&enc).unwrap(), primary);
        assert!(primary.is_primary() && primary.added_weight() == 1);
        assert_eq!(plain.vrf(), None);
        let mut bad = plain.encode();
        bad[0] = 0;
        assert!(decode_pre_digest(&bad).is_err());
        let mut trailing = plain.encode();
        trailing.push(0);
        assert_eq!(decode_pre_digest(&trailing).unwrap_err().to_string(), "1 trailing bytes after BABE pre-digest");
    }

    #[test]
    fn consensus_log_encodings() {
        let cfg = ConsensusLog::NextConfigData(NextConfigDescriptor::V1 {
            c: (1, 4),
            allowed_slots: AllowedSlots::PrimaryAndSecondaryVRFSlots,
        });
        let enc = cfg.encode();
        assert_eq!(enc[..2], [3, 1]);
        assert_eq!(enc.len(), 2 + 16 + 1);
        assert_eq!(*enc.last().unwrap(), 2);
        assert_eq!(decode_consensus_log(&enc).unwrap(), cfg);
        assert_eq!(ConsensusLog::OnDisabled(7).encode(), [2, 7, 0, 0, 0]);
        let next = ConsensusLog::NextEpochData(NextEpochDescriptor {
            authorities: vec![BabeAuthority { public_key: [9; 32], weight: 1 }],
            randomness: [8; 32],
        });
        let enc = next.encode();
        assert_eq!(enc.len(), 1 + 1 + 40 + 32);
        assert_eq!(decode_consensus_log(&enc).unwrap(), next);
    }

    #[test]
    fn configuration_v1_conversion() {
        let v1 = BabeConfigurationV1 {
            slot_duration: 6000,
            epoch_length: 600,
            c: (1, 4),
            authorities: vec![],
            randomness: [0; 32],
            secondary_slots: true,
        };
        let cfg = decode_configuration_v1(&v1.encode()).unwrap();
        assert_eq!(cfg.allowed_slots, AllowedSlots::PrimaryAndSecondaryPlainSlots);
        assert_eq!(decode_configuration(&cfg.encode()).unwrap(), cfg);
        // bool must be 0 or 1
        let mut bad = v1.encode();
        *bad.last_mut().unwrap() = 2;
        assert!(decode_configuration_v1(&bad).is_err());
    }

    #[test]
    fn babe_digests_checks_arrangement() {
        let pre = PreDigest::SecondaryPlain(SecondaryPlainPreDigest { authority_index: 0, slot: 1 }).encode();
        let mut digest = Digest::new(vec![
            DigestItem::PreRuntime(BABE_ENGINE_ID, pre.clone()),
            DigestItem::Consensus(BABE_ENGINE_ID, ConsensusLog::OnDisabled(3).encode()),
            DigestItem::Seal(BABE_ENGINE_ID, vec![1; 64]),
        ]);
        let d = digest.babe_digests().unwrap();
        assert_eq!(d.disabled, vec![3]);
        assert_eq!(d.seal, Some([1; 64]));
        assert_eq!(d.pre_digest.unwrap().slot(), 1);

        digest.logs.push(DigestItem::Other(vec![]));
        assert_eq!(digest.babe_digests(), Err(BabeDigestError::SealNotLast(2)));
        digest.logs.pop();
        digest.logs.insert(0, DigestItem::PreRuntime(BABE_ENGINE_ID, pre));
        assert_eq!(digest.babe_digests(), Err(BabeDigestError::MultiplePreDigests));
        digest.logs.remove(0);
        *digest.logs.last_mut().unwrap() = DigestItem::Seal(BABE_ENGINE_ID, vec![1; 63]);
        assert_eq!(digest.babe_digests(), Err(BabeDigestError::BadSealLength(63)));
        digest.logs[0] = DigestItem::PreRuntime(BABE_ENGINE_ID, vec![9]);
        assert!(matches!(digest.babe_digests(), Err(BabeDigestError::Decode { position: 0, .. })));
    }
}

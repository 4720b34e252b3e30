//! BABE verification of synthetic chains signed with generated keys: epoch
//! transitions, skipped epochs, configuration changes and every kind of claim.

use parity_scale_codec::Encode;
use weft_block::babe::{
    AllowedSlots, BabeAuthority, BabeConfiguration, ConsensusLog, NextConfigDescriptor, NextEpochDescriptor, PreDigest,
    PrimaryPreDigest, SecondaryPlainPreDigest, SecondaryVrfPreDigest, Slot,
};
use weft_block::{BlockNumber, Digest, DigestItem, Header, BABE_ENGINE_ID, H256};
use weft_consensus::babe::{
    calculate_primary_threshold, primary_score, secondary_slot_author, verify_header, vrf_transcript, BabeError,
    ClaimKind, Epoch, EpochState, VerifiedBabe,
};
use weft_crypto::sr25519;

const EPOCH_LENGTH: u64 = 10;

fn keys() -> Vec<sr25519::Pair> {
    (1..=3u8).map(|i| sr25519::Pair::from_seed(&[i; 32])).collect()
}

fn authorities() -> Vec<BabeAuthority> {
    keys().iter().map(|k| BabeAuthority { public_key: k.public().0, weight: 1 }).collect()
}

fn genesis_config() -> BabeConfiguration {
    BabeConfiguration {
        slot_duration: 6000,
        epoch_length: EPOCH_LENGTH,
        c: (1, 4),
        authorities: authorities(),
        randomness: [9; 32],
        allowed_slots: AllowedSlots::PrimaryAndSecondaryVRFSlots,
    }
}

fn next_epoch(randomness: u8) -> ConsensusLog {
    ConsensusLog::NextEpochData(NextEpochDescriptor { authorities: authorities(), randomness: [randomness; 32] })
}

/// A sealed header at `slot`, claimed as `claim` under `epoch` (whose index is
/// used in the VRF transcript as given). `None` if no authority wins the primary
/// lottery of that slot.
fn block(number: BlockNumber, slot: Slot, claim: ClaimKind, epoch: &Epoch, logs: &[ConsensusLog]) -> Option<Header> {
    let keys = keys();
    let transcript = || vrf_transcript(&epoch.randomness, slot, epoch.epoch_index);
    let (index, pre_digest) = match claim {
        ClaimKind::Primary => (0..keys.len()).find_map(|i| {
            let (vrf_output, vrf_proof) = sr25519::vrf_sign(&keys[i], transcript());
            let inout = sr25519::vrf_verify(&keys[i].public(), transcript(), &vrf_output, &vrf_proof).ok()?;
            let threshold = calculate_primary_threshold(epoch.config.c, &epoch.authorities, i)?;
            (primary_score(&inout) < threshold).then(|| {
                let authority_index = i as u32;
                (i, PreDigest::Primary(PrimaryPreDigest { authority_index, slot, vrf_output, vrf_proof }))
            })
        })?,
        ClaimKind::SecondaryPlain => {
            let i = secondary_slot_author(slot, &epoch.authorities, &epoch.randomness)?;
            (i, PreDigest::SecondaryPlain(SecondaryPlainPreDigest { authority_index: i as u32, slot }))
        }
        ClaimKind::SecondaryVrf => {
            let i = secondary_slot_author(slot, &epoch.authorities, &epoch.randomness)?;
            let (vrf_output, vrf_proof) = sr25519::vrf_sign(&keys[i], transcript());
            let authority_index = i as u32;
            (i, PreDigest::SecondaryVRF(SecondaryVrfPreDigest { authority_index, slot, vrf_output, vrf_proof }))
        }
    };
    let mut items = vec![DigestItem::PreRuntime(BABE_ENGINE_ID, pre_digest.encode())];
    items.extend(logs.iter().map(|log| DigestItem::Consensus(BABE_ENGINE_ID, log.encode())));
    let mut header = Header {
        parent_hash: H256([number as u8; 32]),
        number,
        state_root: H256([0xaa; 32]),
        extrinsics_root: H256::ZERO,
        digest: Digest::new(items),
    };
    let seal = keys[index].sign(header.pre_hash().as_bytes());
    header.digest.push(DigestItem::Seal(BABE_ENGINE_ID, seal.0.to_vec()));
    Some(header)
}

fn verify(parent: Option<&VerifiedBabe>, header: &Header) -> Result<VerifiedBabe, BabeError> {
    verify_header(parent.map(|p| &p.state), &genesis_config(), header)
}

#[test]
fn epoch_transitions_skipped_epochs_and_config_changes() {
    let config = genesis_config();
    let epoch0 = Epoch::genesis(&config, 100);

    // #1 (slot 100) starts epoch 0 and announces epoch 1.
    let b1 = block(1, 100, ClaimKind::SecondaryVrf, &epoch0, &[next_epoch(1)]).unwrap();
    let v1 = verify(None, &b1).unwrap();
    assert_eq!((v1.epoch_index, v1.epoch_change, v1.claim, v1.weight), (0, true, ClaimKind::SecondaryVrf, 0));
    assert_eq!(v1.state.current, epoch0);
    assert_eq!((v1.state.next.epoch_index, v1.state.next.start_slot, v1.state.next.randomness), (1, 110, [1; 32]));
    // Verifying #1 against an explicit genesis state gives the same result.
    let genesis = EpochState::genesis(&config, 100).unwrap();
    assert_eq!(verify_header(Some(&genesis), &config, &b1), Ok(v1.clone()));

    // #2 (slot 105) in epoch 0.
    let b2 = block(2, 105, ClaimKind::SecondaryVrf, &epoch0, &[]).unwrap();
    let v2 = verify(Some(&v1), &b2).unwrap();
    assert_eq!((v2.epoch_index, v2.epoch_change, v2.state.next.clone()), (0, false, v1.state.next.clone()));

    // #3 (slot 131): epochs 1 and 2 had no block, so this is epoch 3, with epoch
    // 1's data, starting at slot 130. It must announce epoch 4.
    let epoch3 = v2.state.next.clone_for_slot(131).unwrap();
    assert_eq!((epoch3.epoch_index, epoch3.start_slot, epoch3.randomness), (3, 130, [1; 32]));
    let new_config = ConsensusLog::NextConfigData(NextConfigDescriptor::V1 {
        c: (1, 2),
        allowed_slots: AllowedSlots::PrimaryAndSecondaryPlainSlots,
    });
    let b3 = block(3, 131, ClaimKind::SecondaryVrf, &epoch3, &[next_epoch(2), new_config.clone()]).unwrap();
    let v3 = verify(Some(&v2), &b3).unwrap();
    assert_eq!((v3.epoch_index, v3.epoch_change), (3, true));
    assert_eq!(v3.state.current, epoch3);
    let epoch4 = &v3.state.next;
    assert_eq!((epoch4.epoch_index, epoch4.start_slot, epoch4.randomness), (4, 140, [2; 32]));
    assert_eq!(epoch4.config.c, (1, 2));

    // The VRF must use the real epoch index (3), not the announced one (1).
    let stale = Epoch { epoch_index: 1, ..epoch3.clone() };
    let b3_stale = block(3, 131, ClaimKind::SecondaryVrf, &stale, &[next_epoch(2)]).unwrap();
    assert!(matches!(verify(Some(&v2), &b3_stale), Err(BabeError::BadVrfProof { .. })));
    // And the first block of epoch 3 must announce epoch 4.
    let b3_silent = block(3, 131, ClaimKind::SecondaryVrf, &epoch3, &[]).unwrap();
    assert_eq!(
        verify(Some(&v2), &b3_silent),
        Err(BabeError::MissingEpochChange { number: 3, slot: 131, epoch_index: 3 })
    );

    // #4 (slot 139), still epoch 3 with epoch 1's configuration (secondary VRF).
    let b4 = block(4, 139, ClaimKind::SecondaryVrf, &epoch3, &[]).unwrap();
    let v4 = verify(Some(&v3), &b4).unwrap();
    assert_eq!((v4.epoch_index, v4.epoch_change), (3, false));
    let b4_announcing = block(4, 139, ClaimKind::SecondaryVrf, &epoch3, &[next_epoch(7)]).unwrap();
    assert!(matches!(verify(Some(&v3), &b4_announcing), Err(BabeError::UnexpectedEpochChange { .. })));
    let b4_config = block(4, 139, ClaimKind::SecondaryVrf, &epoch3, &[new_config]).unwrap();
    assert_eq!(verify(Some(&v3), &b4_config), Err(BabeError::UnexpectedConfigChange { number: 4 }));

    // #5 (slot 140) starts epoch 4, whose configuration allows secondary plain
    // claims only.
    let b5_vrf = block(5, 140, ClaimKind::SecondaryVrf, epoch4, &[next_epoch(3)]).unwrap();
    assert!(matches!(
        verify(Some(&v4), &b5_vrf),
        Err(BabeError::SecondarySlotsDisallowed { kind: ClaimKind::SecondaryVrf, epoch_index: 4, .. })
    ));
    let b5 = block(5, 140, ClaimKind::SecondaryPlain, epoch4, &[next_epoch(3)]).unwrap();
    let v5 = verify(Some(&v4), &b5).unwrap();
    assert_eq!((v5.epoch_index, v5.claim, v5.state.next.start_slot), (4, ClaimKind::SecondaryPlain, 150));
    // The new configuration carries over to epoch 5 (no NextConfigData in #5).
    assert_eq!(v5.state.next.config, epoch4.config);

    // A primary claim in epoch 4 (c = 1/2): the first slot someone wins.
    let (slot, b6) =
        (141..150).find_map(|slot| Some((slot, block(6, slot, ClaimKind::Primary, epoch4, &[])?))).unwrap();
    let v6 = verify(Some(&v5), &b6).unwrap();
    assert_eq!((v6.slot, v6.claim, v6.weight, v6.epoch_index), (slot, ClaimKind::Primary, 1, 4));
    println!("primary claim won at slot {slot} by authority {}", v6.authority_index);

    // A fork of #5 jumping 1000 epochs ahead: epoch 1005, with epoch 5's data.
    let far = v5.state.next.clone_for_slot(150 + 1000 * EPOCH_LENGTH + 3).unwrap();
    assert_eq!((far.epoch_index, far.start_slot, far.randomness), (1005, 10_150, [3; 32]));
    let b6_far = block(6, 10_153, ClaimKind::SecondaryPlain, &far, &[next_epoch(4)]).unwrap();
    let v6_far = verify(Some(&v5), &b6_far).unwrap();
    assert_eq!((v6_far.epoch_index, v6_far.state.next.epoch_index, v6_far.state.next.start_slot), (1005, 1006, 10_160));
}

#[test]
fn secondary_vrf_checks() {
    let config = genesis_config();
    let epoch0 = Epoch::genesis(&config, 100);
    let b1 = block(1, 100, ClaimKind::SecondaryVrf, &epoch0, &[next_epoch(1)]).unwrap();
    let v1 = verify(None, &b1).unwrap();

    // Secondary plain claims are not allowed with PrimaryAndSecondaryVRFSlots.
    let plain = block(2, 101, ClaimKind::SecondaryPlain, &epoch0, &[]).unwrap();
    assert!(matches!(
        verify(Some(&v1), &plain),
        Err(BabeError::SecondarySlotsDisallowed { kind: ClaimKind::SecondaryPlain, .. })
    ));

    // A tampered VRF proof.
    let mut header = block(2, 101, ClaimKind::SecondaryVrf, &epoch0, &[]).unwrap();
    let Some(DigestItem::PreRuntime(_, data)) = header.digest.logs.first_mut() else { unreachable!() };
    let last = data.len() - 1;
    data[last] ^= 1;
    assert!(matches!(
        verify(Some(&v1), &header),
        Err(BabeError::BadVrfProof { kind: ClaimKind::SecondaryVrf, slot: 101, .. })
    ));
}

#[test]
fn primary_claims_need_a_nonzero_threshold() {
    let mut config = genesis_config();
    config.c = (1, 2);
    config.allowed_slots = AllowedSlots::PrimarySlots;
    let epoch0 = Epoch::genesis(&config, 100);
    let b1 = (0..20)
        .find_map(|slot| block(1, 100 + slot, ClaimKind::Primary, &epoch0, &[next_epoch(1)]))
        .expect("some authority wins one of 20 slots");
    let v1 = verify_header(None, &config, &b1).unwrap();
    assert!(v1.is_primary());

    // The author's weight becomes 0: Substrate would panic; here it is rejected.
    let mut zero = config.clone();
    zero.authorities[v1.authority_index as usize].weight = 0;
    assert!(matches!(verify_header(None, &zero, &b1), Err(BabeError::ThresholdUndefined { .. })));
    // c = 0 makes every threshold 0.
    let mut never = config;
    never.c = (0, 5);
    assert!(matches!(verify_header(None, &never, &b1), Err(BabeError::ThresholdExceeded { threshold: 0, .. })));
}

#[test]
fn degenerate_states_do_not_panic() {
    let config = genesis_config();
    let epoch0 = Epoch::genesis(&config, 100);
    let b1 = block(1, 100, ClaimKind::SecondaryVrf, &epoch0, &[next_epoch(1)]).unwrap();
    let b2 = block(2, u64::MAX, ClaimKind::SecondaryVrf, &epoch0, &[]).unwrap();
    let v1 = verify(None, &b1).unwrap();

    // A zero-length epoch.
    let mut zero = v1.state.clone();
    zero.next.duration = 0;
    assert_eq!(verify_header(Some(&zero), &config, &b2), Err(BabeError::ZeroEpochDuration { epoch_index: 1 }));
    let mut zero_config = config.clone();
    zero_config.epoch_length = 0;
    assert!(verify_header(None, &zero_config, &b1).is_err());
    // No authorities.
    let mut empty = v1.state.clone();
    empty.current.authorities.clear();
    let b2_near = block(2, 101, ClaimKind::SecondaryVrf, &epoch0, &[]).unwrap();
    assert!(matches!(
        verify_header(Some(&empty), &config, &b2_near),
        Err(BabeError::AuthorityIndexOutOfRange { authorities: 0, .. })
    ));
    // Slots and epoch indices at the end of u64.
    let mut late = v1.state.clone();
    late.next.start_slot = u64::MAX - 1;
    late.next.epoch_index = u64::MAX;
    assert!(verify_header(Some(&late), &config, &b2).is_err());
    // Slot before the parent's epoch.
    let mut ahead = v1.state;
    ahead.slot = 0;
    ahead.current.start_slot = 500;
    ahead.next.start_slot = 510;
    assert_eq!(
        verify_header(Some(&ahead), &config, &b2_near),
        Err(BabeError::SlotBeforeEpoch { slot: 101, epoch_index: 0, start_slot: 500 })
    );
}

//! BABE verification of the first 256 real Westend blocks, chained from the
//! Westend genesis configuration, plus tampered variants of them.
//!
//! The genesis configuration: the authorities are `Babe.Authorities` of the
//! genesis storage; the storage has neither `Babe.Randomness` (so the randomness is
//! all zeros) nor `Babe.EpochConfig`, so `c` and the allowed slots are the Westend
//! runtime constants of the time (`PRIMARY_PROBABILITY = 1/4`, secondary plain
//! slots), with 6-second slots and 1-hour (600-slot) epochs. All 256 headers
//! verifying, including the 62 primary VRF thresholds and the 194 secondary plain
//! author assignments, confirms these values.

use std::sync::OnceLock;

use parity_scale_codec::{Decode, Encode};
use weft_block::babe::{
    AllowedSlots, BabeAuthority, BabeConfiguration, BabeEpochConfiguration, ConsensusLog, PreDigest,
};
use weft_block::{decode_header, DigestItem, Header, BABE_ENGINE_ID};
use weft_chain_spec::ChainSpec;
use weft_consensus::babe::{verify_header, BabeError, ClaimKind, EpochState, VerifiedBabe};
use weft_crypto::hashing::twox_128;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");

fn storage_key(pallet: &[u8], item: &[u8]) -> Vec<u8> {
    [twox_128(pallet), twox_128(item)].concat()
}

fn genesis_config() -> &'static BabeConfiguration {
    static CONFIG: OnceLock<BabeConfiguration> = OnceLock::new();
    CONFIG.get_or_init(|| {
        let path = format!("{FIXTURES}/chain-specs/full-raw/westend.json");
        let spec = ChainSpec::from_file(std::path::Path::new(&path)).unwrap();
        let top = &spec.genesis_storage().unwrap().top;
        let authorities = top.get(&storage_key(b"Babe", b"Authorities")).expect("Babe.Authorities in genesis");
        let authorities = Vec::<BabeAuthority>::decode(&mut &authorities[..]).unwrap();
        let randomness = top
            .get(&storage_key(b"Babe", b"Randomness"))
            .map(|v| <[u8; 32]>::try_from(&v[..]).unwrap())
            .unwrap_or([0; 32]);
        let epoch_config = top
            .get(&storage_key(b"Babe", b"EpochConfig"))
            .map(|v| BabeEpochConfiguration::decode(&mut &v[..]).unwrap())
            .unwrap_or(BabeEpochConfiguration {
                c: (1, 4),
                allowed_slots: AllowedSlots::PrimaryAndSecondaryPlainSlots,
            });
        BabeConfiguration {
            slot_duration: 6000,
            epoch_length: 600,
            c: epoch_config.c,
            authorities,
            randomness,
            allowed_slots: epoch_config.allowed_slots,
        }
    })
}

fn headers() -> &'static [Header] {
    static HEADERS: OnceLock<Vec<Header>> = OnceLock::new();
    HEADERS.get_or_init(|| {
        let path = format!("{FIXTURES}/blocks/westend/westend_blocks_1-256.json");
        let json: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        json["blocks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| {
                let hex = b["header_hex"].as_str().unwrap().trim_start_matches("0x");
                decode_header(&hex::decode(hex).unwrap()).unwrap()
            })
            .collect()
    })
}

/// The verification of every block, in order (`[0]` is block #1).
fn verified_chain() -> &'static [VerifiedBabe] {
    static CHAIN: OnceLock<Vec<VerifiedBabe>> = OnceLock::new();
    CHAIN.get_or_init(|| {
        let mut out: Vec<VerifiedBabe> = Vec::with_capacity(256);
        for header in headers() {
            let parent = out.last().map(|v| &v.state);
            let verified = verify_header(parent, genesis_config(), header)
                .unwrap_or_else(|e| panic!("block #{} rejected: {e}", header.number));
            out.push(verified);
        }
        out
    })
}

/// The state a header at `index` (block number `index + 1`) is verified against.
fn parent_state(index: usize) -> Option<EpochState> {
    index.checked_sub(1).map(|i| verified_chain()[i].state.clone())
}

fn pre_digest(header: &Header) -> PreDigest {
    header.babe_pre_digest().unwrap().unwrap()
}

/// Replaces the BABE pre-digest of `header`.
fn with_pre_digest(header: &Header, pre: &PreDigest) -> Header {
    let mut header = header.clone();
    for item in &mut header.digest.logs {
        if let DigestItem::PreRuntime(id, data) = item {
            if *id == BABE_ENGINE_ID {
                *data = pre.encode();
            }
        }
    }
    header
}

/// Index of the first block after #1 with this kind of claim.
fn first_index(claim: ClaimKind) -> usize {
    verified_chain().iter().skip(1).position(|v| v.claim == claim).unwrap() + 1
}

#[test]
fn westend_blocks_1_to_256_verify_from_genesis() {
    let config = genesis_config();
    assert_eq!(config.authorities.len(), 4);
    assert_eq!(config.randomness, [0; 32], "Westend's genesis has no Babe.Randomness");
    let chain = verified_chain();
    assert_eq!(chain.len(), 256);

    let primary = chain.iter().filter(|v| v.is_primary()).count();
    let secondary_plain = chain.iter().filter(|v| v.claim == ClaimKind::SecondaryPlain).count();
    let secondary_vrf = chain.iter().filter(|v| v.claim == ClaimKind::SecondaryVrf).count();
    assert_eq!((primary, secondary_plain, secondary_vrf), (62, 194, 0));
    assert_eq!(chain.iter().map(|v| u64::from(v.weight)).sum::<u64>(), 62);

    // Epoch 0 starts at the slot of block #1; block #1 announces epoch 1.
    let first_slot = chain[0].slot;
    assert_eq!(first_slot, 264_379_767);
    assert_eq!((chain[0].epoch_index, chain[0].state.current.start_slot), (0, first_slot));
    assert_eq!(chain[0].state.next.start_slot, first_slot + 600);
    let epoch_changes: Vec<(u32, u64, u64)> = chain
        .iter()
        .zip(headers())
        .filter(|(v, _)| v.epoch_change)
        .map(|(v, h)| (h.number, v.epoch_index, v.slot))
        .collect();
    // Secondary slots fill almost every slot (only 7 of the first 263 are empty),
    // so the 256 blocks stay within the 600 slots of epoch 0: only #1 changes epoch.
    assert_eq!(epoch_changes, [(1, 0, first_slot)]);
    assert_eq!(chain[255].slot - first_slot, 262);
    for (v, h) in chain.iter().zip(headers()) {
        assert_eq!(v.epoch_index, (v.slot - first_slot) / 600, "#{}", h.number);
        assert!(v.state.current.contains(v.slot));
    }
    let last = &chain[255];
    println!(
        "Westend #1-#256: {primary} primary + {secondary_plain} secondary plain verified; epoch changes (block, epoch, \
         slot): {epoch_changes:?}; #256 is in epoch {} at slot {}",
        last.epoch_index, last.slot
    );

    // The state is SCALE-encodable for the chain store.
    let encoded = last.state.encode();
    assert_eq!(EpochState::decode(&mut &encoded[..]).unwrap(), last.state);
}

#[test]
fn primary_output_above_threshold_is_rejected() {
    let index = first_index(ClaimKind::Primary);
    let header = &headers()[index];
    let parent = parent_state(index).unwrap();
    verify_header(Some(&parent), genesis_config(), header).unwrap();
    let authority_index = pre_digest(header).authority_index() as usize;

    // Give the author a tiny share of the total weight: the VRF proof is still
    // valid, but the output is no longer below the author's threshold.
    let mut light = parent.clone();
    for epoch in [&mut light.current, &mut light.next] {
        for (i, authority) in epoch.authorities.iter_mut().enumerate() {
            authority.weight = if i == authority_index { 1 } else { 1_000_000_000 };
        }
    }
    let err = verify_header(Some(&light), genesis_config(), header).unwrap_err();
    assert!(matches!(err, BabeError::ThresholdExceeded { .. }), "{err}");
    assert!(err.to_string().starts_with("primary VRF output above threshold"), "{err}");

    // c = 0: nobody wins primary slots.
    let mut never = parent.clone();
    never.current.config.c = (0, 1);
    never.next.config.c = (0, 1);
    let err = verify_header(Some(&never), genesis_config(), header).unwrap_err();
    assert!(matches!(err, BabeError::ThresholdExceeded { threshold: 0, .. }), "{err}");

    // c = 1: Substrate's threshold computation panics; here the claim is rejected.
    let mut always = parent;
    always.current.config.c = (1, 1);
    always.next.config.c = (1, 1);
    let err = verify_header(Some(&always), genesis_config(), header).unwrap_err();
    assert!(matches!(err, BabeError::ThresholdUndefined { .. }), "{err}");
}

#[test]
fn tampered_primary_vrf_is_rejected() {
    let index = first_index(ClaimKind::Primary);
    let header = &headers()[index];
    let parent = parent_state(index);
    let PreDigest::Primary(mut primary) = pre_digest(header) else { unreachable!() };
    primary.vrf_proof[3] ^= 1;
    let tampered = with_pre_digest(header, &PreDigest::Primary(primary));
    let err = verify_header(parent.as_ref(), genesis_config(), &tampered).unwrap_err();
    assert!(matches!(err, BabeError::BadVrfProof { kind: ClaimKind::Primary, .. }), "{err}");

    // Other randomness: same proof, different VRF input.
    let mut other = parent.unwrap();
    other.current.randomness[0] ^= 1;
    other.next.randomness[0] ^= 1;
    let err = verify_header(Some(&other), genesis_config(), header).unwrap_err();
    assert!(matches!(err, BabeError::BadVrfProof { .. }), "{err}");
}

#[test]
fn secondary_claim_by_wrong_authority_is_rejected() {
    let index = first_index(ClaimKind::SecondaryPlain);
    let header = &headers()[index];
    let PreDigest::SecondaryPlain(mut plain) = pre_digest(header) else { unreachable!() };
    let rightful = plain.authority_index;
    plain.authority_index = (rightful + 1) % 4;
    let tampered = with_pre_digest(header, &PreDigest::SecondaryPlain(plain.clone()));
    let err = verify_header(parent_state(index).as_ref(), genesis_config(), &tampered).unwrap_err();
    match &err {
        BabeError::WrongSecondaryAuthor { slot, claimed, expected, .. } => {
            assert_eq!((*slot, *claimed, *expected), (plain.slot, (rightful + 1) % 4, rightful as usize));
        }
        other => panic!("unexpected error {other}"),
    }
    println!("{err}");
}

#[test]
fn secondary_claim_in_primary_only_epoch_is_rejected() {
    let index = first_index(ClaimKind::SecondaryPlain);
    let mut parent = parent_state(index).unwrap();
    parent.current.config.allowed_slots = AllowedSlots::PrimarySlots;
    parent.next.config.allowed_slots = AllowedSlots::PrimarySlots;
    let err = verify_header(Some(&parent), genesis_config(), &headers()[index]).unwrap_err();
    assert!(matches!(err, BabeError::SecondarySlotsDisallowed { kind: ClaimKind::SecondaryPlain, .. }), "{err}");
}

#[test]
fn flipped_seal_byte_is_rejected() {
    for index in [0, first_index(ClaimKind::Primary), 100, 255] {
        let mut header = headers()[index].clone();
        let Some(DigestItem::Seal(_, seal)) = header.digest.logs.last_mut() else { panic!("unsealed") };
        seal[10] ^= 0x20;
        let err = verify_header(parent_state(index).as_ref(), genesis_config(), &header).unwrap_err();
        assert!(matches!(err, BabeError::BadSeal { .. }), "#{}: {err}", header.number);
        assert!(err.to_string().starts_with("bad seal signature"));
    }
    // A modified header under the original seal is rejected too.
    let mut header = headers()[5].clone();
    header.state_root.0[0] ^= 1;
    let err = verify_header(parent_state(5).as_ref(), genesis_config(), &header).unwrap_err();
    assert!(matches!(err, BabeError::BadSeal { .. }), "{err}");
}

#[test]
fn slot_not_increasing_is_rejected() {
    let index = 10;
    let header = &headers()[index];
    // Against its own state: same slot as the "parent".
    let own = verified_chain()[index].state.clone();
    let err = verify_header(Some(&own), genesis_config(), header).unwrap_err();
    let slot = pre_digest(header).slot();
    assert_eq!(err, BabeError::SlotNotIncreasing { parent_slot: slot, slot });
    // Against a later block's state.
    let later = verified_chain()[index + 5].state.clone();
    assert!(matches!(verify_header(Some(&later), genesis_config(), header), Err(BabeError::SlotNotIncreasing { .. })));
}

#[test]
fn authority_index_out_of_range_is_rejected() {
    for claim in [ClaimKind::Primary, ClaimKind::SecondaryPlain] {
        let index = first_index(claim);
        let header = &headers()[index];
        let pre = match pre_digest(header) {
            PreDigest::Primary(mut p) => {
                p.authority_index = 7;
                PreDigest::Primary(p)
            }
            PreDigest::SecondaryPlain(mut p) => {
                p.authority_index = 7;
                PreDigest::SecondaryPlain(p)
            }
            PreDigest::SecondaryVRF(_) => unreachable!(),
        };
        let tampered = with_pre_digest(header, &pre);
        let err = verify_header(parent_state(index).as_ref(), genesis_config(), &tampered).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("slot {} claimed by authority 7, but the epoch has 4 authorities", pre.slot())
        );
    }
}

#[test]
fn epoch_change_announcements_are_checked() {
    let block1 = &headers()[0];
    let next_epoch_log = block1
        .digest
        .logs
        .iter()
        .find(|item| item.as_consensus(BABE_ENGINE_ID).is_some())
        .cloned()
        .expect("#1 announces epoch 1");

    // Block #1 without its NextEpochData.
    let mut stripped = block1.clone();
    stripped.digest.logs.retain(|item| item.as_consensus(BABE_ENGINE_ID).is_none());
    let err = verify_header(None, genesis_config(), &stripped).unwrap_err();
    assert!(err.to_string().starts_with("block #1 must announce the next epoch"), "{err}");

    // Block #2 with a NextEpochData.
    let mut extra = headers()[1].clone();
    extra.digest.logs.insert(1, next_epoch_log);
    let err = verify_header(parent_state(1).as_ref(), genesis_config(), &extra).unwrap_err();
    assert!(matches!(err, BabeError::UnexpectedEpochChange { number: 2, epoch_index: 0, .. }), "{err}");

    // Block #2 with a NextConfigData alone.
    let mut config_only = headers()[1].clone();
    let log = ConsensusLog::NextConfigData(weft_block::babe::NextConfigDescriptor::V1 {
        c: (1, 2),
        allowed_slots: AllowedSlots::PrimarySlots,
    });
    config_only.digest.logs.insert(1, DigestItem::Consensus(BABE_ENGINE_ID, log.encode()));
    let err = verify_header(parent_state(1).as_ref(), genesis_config(), &config_only).unwrap_err();
    assert_eq!(err, BabeError::UnexpectedConfigChange { number: 2 });
}

#[test]
fn structural_errors() {
    // No pre-digest.
    let mut header = headers()[3].clone();
    header.digest.logs.retain(|item| item.as_pre_runtime(BABE_ENGINE_ID).is_none());
    assert_eq!(verify_header(parent_state(3).as_ref(), genesis_config(), &header), Err(BabeError::MissingPreDigest));
    // No seal.
    let mut header = headers()[3].clone();
    header.digest.logs.pop();
    assert_eq!(
        verify_header(parent_state(3).as_ref(), genesis_config(), &header),
        Err(BabeError::Unsealed { number: 4 })
    );
    // Seal not last.
    let mut header = headers()[3].clone();
    header.digest.logs.push(DigestItem::Other(vec![]));
    assert!(matches!(verify_header(parent_state(3).as_ref(), genesis_config(), &header), Err(BabeError::Digest(_))));
    // Two pre-digests.
    let mut header = headers()[3].clone();
    let pre = header.digest.logs[0].clone();
    header.digest.logs.insert(0, pre);
    assert!(matches!(verify_header(parent_state(3).as_ref(), genesis_config(), &header), Err(BabeError::Digest(_))));
    // No parent state for a block other than #1.
    assert_eq!(verify_header(None, genesis_config(), &headers()[3]), Err(BabeError::MissingParentState { number: 4 }));
}

/// Flipping any single byte of a header's encoding never panics the verifier, and
/// a header that still decodes but differs is never accepted.
#[test]
fn single_byte_corruptions_never_panic_nor_pass() {
    for index in [1usize, 2, 40] {
        let original = &headers()[index];
        let parent = parent_state(index);
        let encoded = original.encode();
        for position in 0..encoded.len() {
            let mut corrupted = encoded.clone();
            corrupted[position] ^= 0x01;
            let Ok(header) = decode_header(&corrupted) else { continue };
            let result = verify_header(parent.as_ref(), genesis_config(), &header);
            assert!(result.is_err(), "#{} with byte {position} flipped was accepted", original.number);
        }
    }
}

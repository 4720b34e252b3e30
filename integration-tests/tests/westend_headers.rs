//! The first 256 real Westend blocks, checked without executing them: the hash
//! chain from the Westend genesis, every extrinsics root recomputed from the
//! body, and every BABE seal verified (sr25519) against the authority its
//! pre-digest names, with the authorities read from the Westend genesis storage.

use parity_scale_codec::Decode;
use weft_block::babe::PreDigest;
use weft_block::{decode_extrinsic, decode_header, BABE_ENGINE_ID};
use weft_chain_spec::ChainSpec;
use weft_crypto::hashing::twox_128;
use weft_crypto::sr25519;
use weft_integration_tests::{fixture, hex0x, json_fixture, unhex};
use weft_trie::StateVersion;

const WESTEND_GENESIS: &str = "0xe143f23803ac50e8f6f8e62695d1ce9e4e1d68aa36c1cd2cfd15340213f3423e";

/// `Babe.Authorities` from the Westend genesis: `Vec<(sr25519 public, weight u64)>`.
fn genesis_babe_authorities() -> (String, Vec<([u8; 32], u64)>) {
    let spec = ChainSpec::from_file(&fixture("chain-specs/full-raw/westend.json")).unwrap();
    let genesis = spec.build_genesis(StateVersion::V0).unwrap();
    let key = [twox_128(b"Babe"), twox_128(b"Authorities")].concat();
    let value = spec.genesis_storage().unwrap().top.get(&key).expect("Babe.Authorities in genesis");
    let authorities = Vec::<([u8; 32], u64)>::decode(&mut &value[..]).unwrap();
    (hex0x(genesis.hash().as_bytes()), authorities)
}

#[test]
fn westend_blocks_1_to_256_hash_chain_extrinsics_roots_and_babe_seals() {
    let (genesis_hash, authorities) = genesis_babe_authorities();
    assert_eq!(genesis_hash, WESTEND_GENESIS);
    assert_eq!(authorities.len(), 4, "Westend genesis has 4 BABE authorities");

    let fixture = json_fixture("blocks/westend/westend_blocks_1-256.json");
    let blocks = fixture["blocks"].as_array().unwrap();
    assert_eq!(blocks.len(), 256);

    let mut parent = genesis_hash;
    let (mut primary, mut secondary_plain, mut seals) = (0, 0, 0);
    for (i, block) in blocks.iter().enumerate() {
        let header = decode_header(&unhex(block["header_hex"].as_str().unwrap())).unwrap();
        let hash = hex0x(header.hash().as_bytes());
        assert_eq!(header.number as usize, i + 1);
        assert_eq!(hash, block["hash"].as_str().unwrap(), "#{}: hash", header.number);
        assert_eq!(hex0x(header.parent_hash.as_bytes()), parent, "#{}: parent link", header.number);
        parent = hash;

        // Extrinsics root of the body (each entry is a length-prefixed extrinsic).
        let extrinsics: Vec<_> = block["body_extrinsics_hex"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| decode_extrinsic(&unhex(x.as_str().unwrap())).unwrap())
            .collect();
        let root = weft_block::extrinsics_root(StateVersion::V0, &extrinsics);
        assert_eq!(root, header.extrinsics_root, "#{}: extrinsics root", header.number);

        // BABE: the pre-digest names the author; the seal signs the pre-hash.
        let pre_digest_bytes = header.digest.pre_runtimes(BABE_ENGINE_ID).next().expect("BABE pre-digest");
        let pre_digest = PreDigest::decode(&mut &pre_digest_bytes[..]).unwrap();
        match pre_digest {
            PreDigest::Primary(_) => primary += 1,
            PreDigest::SecondaryPlain(_) => secondary_plain += 1,
            PreDigest::SecondaryVRF(_) => {}
        }
        let (engine, seal) = header.seal().expect("sealed");
        assert_eq!(engine, BABE_ENGINE_ID);
        let signature = sr25519::Signature::from_slice(seal).unwrap();
        let (author, _weight) = authorities[pre_digest.authority_index() as usize];
        let public = sr25519::Public::from_raw(author);
        let pre_hash = header.pre_hash();
        assert!(
            sr25519::verify(&signature, pre_hash.as_bytes(), &public),
            "#{}: BABE seal does not verify against authority {}",
            header.number,
            pre_digest.authority_index()
        );
        // A tampered pre-hash must not verify (the check can fail).
        let mut tampered = *pre_hash.as_bytes();
        tampered[0] ^= 1;
        assert!(!sr25519::verify(&signature, &tampered, &public));
        seals += 1;
    }
    assert_eq!(parent, "0xb7f3334eaa611483108de2f2c25a5d8e2aeefca56dfe20201fdc8618eb6571bf");
    assert_eq!((primary, secondary_plain, seals), (62, 194, 256));
}

/// The VRF of every primary BABE slot claim in Westend #1-256 verifies with the
/// BABE transcript (epoch index, slot, epoch randomness). Epoch 0 uses the
/// genesis randomness; epoch 1 the randomness announced in #1's NextEpochData.
#[test]
fn westend_primary_slot_vrfs_verify() {
    use weft_block::babe::ConsensusLog;
    use weft_crypto::merlin::Transcript;

    const EPOCH_DURATION: u64 = 600; // Westend: 1 hour of 6-second slots.
    let spec = ChainSpec::from_file(&fixture("chain-specs/full-raw/westend.json")).unwrap();
    let (_, authorities) = genesis_babe_authorities();
    let top = &spec.genesis_storage().unwrap().top;
    let genesis_randomness: [u8; 32] = top
        .get(&[twox_128(b"Babe"), twox_128(b"Randomness")].concat())
        .map(|v| v.as_slice().try_into().unwrap())
        .unwrap_or([0; 32]);

    let fixture = json_fixture("blocks/westend/westend_blocks_1-256.json");
    let headers: Vec<_> = fixture["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| decode_header(&unhex(b["header_hex"].as_str().unwrap())).unwrap())
        .collect();
    let pre_digest = |h: &weft_block::Header| {
        PreDigest::decode(&mut &h.digest.pre_runtimes(BABE_ENGINE_ID).next().unwrap()[..]).unwrap()
    };
    let genesis_slot = pre_digest(&headers[0]).slot();
    let epoch1 = headers[0]
        .digest
        .consensus_logs(BABE_ENGINE_ID)
        .find_map(|log| match ConsensusLog::decode(&mut &log[..]).unwrap() {
            ConsensusLog::NextEpochData(next) => Some(next),
            _ => None,
        })
        .expect("#1 announces the next epoch");

    let mut verified = 0;
    for header in &headers {
        let PreDigest::Primary(primary) = pre_digest(header) else { continue };
        let epoch_index = (primary.slot - genesis_slot) / EPOCH_DURATION;
        let (randomness, author) = match epoch_index {
            0 => (genesis_randomness, authorities[primary.authority_index as usize].0),
            1 => (epoch1.randomness, epoch1.authorities[primary.authority_index as usize].public_key),
            other => panic!("#{} is in epoch {other}", header.number),
        };
        let mut transcript = Transcript::new(b"BABE");
        transcript.append_u64(b"slot number", primary.slot);
        transcript.append_u64(b"current epoch", epoch_index);
        transcript.append_message(b"chain randomness", &randomness);
        let public = sr25519::Public::from_raw(author);
        sr25519::vrf_verify(&public, transcript, &primary.vrf_output, &primary.vrf_proof)
            .unwrap_or_else(|e| panic!("#{}: VRF does not verify: {e}", header.number));
        // The same proof under another slot must fail.
        let mut wrong = Transcript::new(b"BABE");
        wrong.append_u64(b"slot number", primary.slot + 1);
        wrong.append_u64(b"current epoch", epoch_index);
        wrong.append_message(b"chain randomness", &randomness);
        assert!(sr25519::vrf_verify(&public, wrong, &primary.vrf_output, &primary.vrf_proof).is_err());
        verified += 1;
    }
    assert_eq!(verified, 62);
}

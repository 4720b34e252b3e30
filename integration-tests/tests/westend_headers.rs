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

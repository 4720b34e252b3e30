//! Decoding real chain data: a Polkadot header with authority-set changes, GRANDPA
//! justifications and commits, and the first 256 Westend blocks.

use parity_scale_codec::Encode;
use weft_block::babe::{self, PreDigest};
use weft_block::grandpa::{self, JustificationError};
use weft_block::{
    decode_commit_message, decode_extrinsic, decode_header, decode_justification, Block, DigestItem, StateVersion,
    BABE_ENGINE_ID, GRANDPA_ENGINE_ID, H256,
};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");

fn fixture(path: &str) -> Vec<u8> {
    let full = format!("{FIXTURES}/{path}");
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {full}: {e}"))
}

fn h256(s: &str) -> H256 {
    s.parse().unwrap()
}

fn bytes32(s: &str) -> [u8; 32] {
    h256(s).to_bytes()
}

#[test]
fn polkadot_512271_header() {
    let bytes = fixture("blocks/headers/polkadot-512271.header.bin");
    assert_eq!(bytes.len(), 16104);
    let header = decode_header(&bytes).unwrap();
    assert_eq!(header.encode(), bytes, "re-encoding must be byte-for-byte");
    assert_eq!(header.number, 512_271);
    assert_eq!(header.hash(), h256("0x53b47b7c47e5fd8e082afa8dd85d3113f2499ecbf4e1cbf08daf421b92a74727"));
    assert_eq!(header.parent_hash, h256("0xc250403a4cc1f86318ec42c706515e1e4fd9799f2bdb99c08404d17ecc88fed0"));

    // Digest layout: BABE pre-digest, BABE NextEpochData, GRANDPA ScheduledChange, BABE seal.
    let kinds: Vec<_> = header.digest.logs.iter().map(|i| (i.index(), i.engine_id())).collect();
    assert_eq!(
        kinds,
        [(6, Some(BABE_ENGINE_ID)), (4, Some(BABE_ENGINE_ID)), (4, Some(GRANDPA_ENGINE_ID)), (5, Some(BABE_ENGINE_ID))]
    );

    // GRANDPA scheduled change.
    let change = header.grandpa_scheduled_change().unwrap().expect("scheduled change");
    assert_eq!(change.next_authorities.len(), 197);
    assert_eq!(
        change.next_authorities[0].public_key,
        bytes32("0xd67b6e579041fce69ea11b46329327fd5bc1c0ed40c67a234e68a6783e6b7d74")
    );
    assert!(change.next_authorities.iter().all(|a| a.weight == 1));
    assert_eq!(change.delay, 0);
    assert_eq!(header.grandpa_forced_change().unwrap(), None);
    let logs: Vec<_> = header.grandpa_consensus_logs().collect::<Result<_, _>>().unwrap();
    assert_eq!(logs, vec![grandpa::ConsensusLog::ScheduledChange(change)]);

    // BABE pre-digest.
    let pre = header.babe_pre_digest().unwrap().expect("pre-digest");
    match &pre {
        PreDigest::Primary(p) => {
            assert_eq!(p.authority_index, 75);
            assert_eq!(p.slot, 265_598_163);
            assert_eq!(p.vrf_output, bytes32("0x54477fa3adbbf1192f5b4c9211a99f487d5205ef594be2230ed0d1643f609a17"));
        }
        other => panic!("expected a primary pre-digest, got {other:?}"),
    }

    // BABE NextEpochData and the aggregated view.
    let babe = header.babe_digests().unwrap();
    assert_eq!(babe.pre_digest.as_ref(), Some(&pre));
    let next = babe.next_epoch.expect("NextEpochData");
    assert_eq!(next.authorities.len(), 197);
    assert_eq!(
        next.authorities[0].public_key,
        bytes32("0xf0aadcbc9c7e40bbc9d7ed74906e292ad88ae8493dcb21fff133d0544d373602")
    );
    assert_eq!(next.randomness, bytes32("0x57e20f63bbd1909b1f36dff2d255876d970b375b36c057fac902a33e99c7b877"));
    assert_eq!(babe.next_config, None);
    assert!(babe.disabled.is_empty());

    // Seal and pre-hash.
    let seal = header.babe_seal().expect("seal");
    assert_eq!(babe.seal, Some(seal));
    assert_eq!(hex::encode(&seal[..4]), "5a854245");
    let (unsealed, removed) = header.without_seal();
    assert_eq!(removed, Some((BABE_ENGINE_ID, seal.to_vec())));
    assert_eq!(unsealed.digest.logs.len(), 3);
    assert_eq!(header.pre_hash(), unsealed.hash());
    // Unsealed encoding = original minus the 71-byte seal item (index, engine id,
    // two-byte compact 64, signature), with the item count
    // (one byte after parent hash, 4-byte compact number and two roots) going 4 -> 3.
    let mut expected = bytes[..bytes.len() - 71].to_vec();
    assert_eq!(expected[100], 4 << 2);
    expected[100] = 3 << 2;
    assert_eq!(unsealed.encode(), expected);
    assert_eq!(header.encode_without_seal(), expected);
}

#[test]
fn grandpa_justification_302592() {
    let bytes = fixture("finality/smoldot-grandpa-justification-302592.bin");
    let j = decode_justification(&bytes).unwrap();
    assert_eq!(j.encode(), bytes);
    assert_eq!(j.round, 439_559);
    assert_eq!(j.commit.target_number, 302_592);
    assert_eq!(j.commit.target_hash, h256("0x29f1abec90ac199df06dee3ba0734c08c3fd6df06caa3f78952f8f95164058d2"));
    assert_eq!(j.commit.precommits.len(), 5);
    assert!(j.votes_ancestries.is_empty());
    j.verify_signatures(0).unwrap();

    // Wrong set id: the first precommit already fails.
    match j.verify_signatures(1) {
        Err(JustificationError::BadSignature { index: 0, set_id: 1, .. }) => {}
        other => panic!("{other:?}"),
    }
    // A corrupted signature is pinpointed.
    let mut bad = j.clone();
    bad.commit.precommits[3].signature[10] ^= 1;
    match bad.verify_signatures(0) {
        Err(e @ JustificationError::BadSignature { index: 3, .. }) => {
            assert!(e.to_string().starts_with("precommit #3 (for #"), "{e}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn grandpa_commit_5105457() {
    let bytes = fixture("finality/smoldot-grandpa-commit-5105457.bin");
    let msg = decode_commit_message(&bytes).unwrap();
    assert_eq!(msg.encode(), bytes);
    assert_eq!(msg.round, 3669);
    assert_eq!(msg.set_id, 3490);
    assert_eq!(msg.message.target_number, 5_105_457);
    assert_eq!(msg.message.precommits.len(), 7);
    assert_eq!(msg.message.auth_data.len(), 7);
    msg.verify_signatures().unwrap();

    // The same votes as a justification-style commit verify the same way.
    let commit = msg.message.to_commit().unwrap();
    let j = grandpa::GrandpaJustification { round: msg.round, commit, votes_ancestries: vec![] };
    j.verify_signatures(msg.set_id).unwrap();
    assert!(j.verify_signatures(msg.set_id + 1).is_err());
}

struct WestendBlock {
    number: u32,
    hash: H256,
    parent_hash: H256,
    state_root: H256,
    extrinsics_root: H256,
    header: Vec<u8>,
    body: Vec<Vec<u8>>,
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap()
}

fn westend_blocks() -> Vec<WestendBlock> {
    let json: serde_json::Value = serde_json::from_slice(&fixture("blocks/westend/westend_blocks_1-256.json")).unwrap();
    json["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| WestendBlock {
            number: b["number"].as_u64().unwrap() as u32,
            hash: h256(b["hash"].as_str().unwrap()),
            parent_hash: h256(b["parent_hash"].as_str().unwrap()),
            state_root: h256(b["state_root"].as_str().unwrap()),
            extrinsics_root: h256(b["extrinsics_root"].as_str().unwrap()),
            header: unhex(b["header_hex"].as_str().unwrap()),
            body: b["body_extrinsics_hex"].as_array().unwrap().iter().map(|x| unhex(x.as_str().unwrap())).collect(),
        })
        .collect()
}

#[test]
fn westend_first_blocks_in_detail() {
    let blocks = westend_blocks();
    assert_eq!(blocks.len(), 256);
    let genesis = h256("0xe143f23803ac50e8f6f8e62695d1ce9e4e1d68aa36c1cd2cfd15340213f3423e");
    let mut parent = genesis;
    for b in &blocks[..8] {
        let header = decode_header(&b.header).unwrap();
        assert_eq!(header.encode(), b.header);
        assert_eq!(header.number, b.number);
        assert_eq!(header.hash(), b.hash, "hash of #{}", b.number);
        assert_eq!(header.parent_hash, parent);
        assert_eq!(header.parent_hash, b.parent_hash);
        assert_eq!(header.state_root, b.state_root);
        assert_eq!(header.extrinsics_root, b.extrinsics_root);
        parent = b.hash;

        // Body: every extrinsic is length-prefixed and re-encodes identically.
        let extrinsics: Vec<_> = b.body.iter().map(|x| decode_extrinsic(x).unwrap()).collect();
        for (x, raw) in extrinsics.iter().zip(&b.body) {
            assert_eq!(&x.encoded(), raw);
        }
        let block = Block { header: header.clone(), extrinsics };
        assert_eq!(block.extrinsics_root(StateVersion::V0), b.extrinsics_root, "extrinsics root of #{}", b.number);
        assert!(block.body_matches_header(StateVersion::V0));
        // A whole block decodes from its concatenated encoding.
        let encoded_block = block.encode();
        assert_eq!(weft_block::decode_block(&encoded_block).unwrap(), block);

        // What seal verification needs.
        let babe = header.babe_digests().unwrap();
        let pre = babe.pre_digest.expect("every Westend block has a BABE pre-digest");
        assert!(pre.authority_index() < 4, "Westend genesis has 4 BABE authorities");
        let seal = babe.seal.expect("sealed");
        assert_eq!(header.babe_seal(), Some(seal));
        assert_ne!(header.pre_hash(), header.hash());
        assert_eq!(header.pre_hash(), header.without_seal().0.hash());
    }

    // Block #1 announces the next epoch.
    let first = decode_header(&blocks[0].header).unwrap();
    let next = first.babe_digests().unwrap().next_epoch.expect("NextEpochData in #1");
    assert_eq!(next.authorities.len(), 4);
    let logs: Vec<_> = first.babe_consensus_logs().collect::<Result<_, _>>().unwrap();
    assert!(matches!(logs[..], [babe::ConsensusLog::NextEpochData(_)]));
}

#[test]
fn westend_all_256_blocks() {
    let blocks = westend_blocks();
    let (mut primary, mut secondary_plain, mut secondary_vrf) = (0, 0, 0);
    let mut parent = h256("0xe143f23803ac50e8f6f8e62695d1ce9e4e1d68aa36c1cd2cfd15340213f3423e");
    for b in &blocks {
        let header = decode_header(&b.header).unwrap();
        assert_eq!(header.hash(), b.hash);
        assert_eq!(header.parent_hash, parent);
        parent = b.hash;
        let extrinsics: Vec<_> = b.body.iter().map(|x| decode_extrinsic(x).unwrap()).collect();
        assert_eq!(weft_block::extrinsics_root(StateVersion::V0, &extrinsics), header.extrinsics_root);
        match header.babe_pre_digest().unwrap().unwrap() {
            PreDigest::Primary(_) => primary += 1,
            PreDigest::SecondaryPlain(_) => secondary_plain += 1,
            PreDigest::SecondaryVRF(_) => secondary_vrf += 1,
        }
        assert!(header.babe_seal().is_some());
        assert!(header.digest.logs.iter().all(|i| !matches!(i, DigestItem::Other(_))));
    }
    assert_eq!((primary, secondary_plain, secondary_vrf), (62, 194, 0));
    assert_eq!(parent, h256("0xb7f3334eaa611483108de2f2c25a5d8e2aeefca56dfe20201fdc8618eb6571bf"));
}

/// Smoke test of what BABE seal verification needs (pre-hash, seal, authority index):
/// Westend's first epochs keep the genesis validator set, which block #1 re-announces
/// in its NextEpochData, so every seal verifies against those four keys.
#[test]
fn westend_seals_verify_against_announced_authorities() {
    let blocks = westend_blocks();
    let first = decode_header(&blocks[0].header).unwrap();
    let authorities = first.babe_digests().unwrap().next_epoch.unwrap().authorities;
    for b in &blocks {
        let header = decode_header(&b.header).unwrap();
        let index = header.babe_pre_digest().unwrap().unwrap().authority_index() as usize;
        let signature = weft_crypto::sr25519::Signature(header.babe_seal().unwrap());
        let public = weft_crypto::sr25519::Public(authorities[index].public_key);
        assert!(
            weft_crypto::sr25519::verify(&signature, header.pre_hash().as_bytes(), &public),
            "seal of #{} by authority {index}",
            b.number
        );
    }
}

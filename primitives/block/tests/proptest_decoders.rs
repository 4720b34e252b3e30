//! Property tests: the bounded decoders never panic, and whatever they accept
//! re-encodes to exactly the input.

use parity_scale_codec::Encode;
use proptest::collection::vec;
use proptest::prelude::*;
use weft_block::babe::{self, PreDigest, PrimaryPreDigest, SecondaryPlainPreDigest, SecondaryVrfPreDigest};
use weft_block::grandpa::{self, Commit, GrandpaJustification, Precommit, SignedPrecommit};
use weft_block::{
    decode_block, decode_commit_message, decode_digest, decode_digest_item, decode_header, decode_justification,
    decode_justifications, DecodeError, Digest, DigestItem, Header, H256,
};

fn round_trips<T: Encode>(result: Result<T, DecodeError>, input: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(value) = result {
        prop_assert_eq!(value.encode(), input.to_vec());
    }
    Ok(())
}

fn all_decoders(bytes: &[u8]) -> Result<(), TestCaseError> {
    round_trips(decode_header(bytes), bytes)?;
    round_trips(decode_digest_item(bytes), bytes)?;
    round_trips(decode_digest(bytes), bytes)?;
    round_trips(babe::decode_pre_digest(bytes), bytes)?;
    round_trips(babe::decode_consensus_log(bytes), bytes)?;
    round_trips(babe::decode_configuration(bytes), bytes)?;
    round_trips(babe::decode_epoch(bytes), bytes)?;
    round_trips(grandpa::decode_consensus_log(bytes), bytes)?;
    round_trips(decode_justification(bytes), bytes)?;
    round_trips(decode_commit_message(bytes), bytes)?;
    round_trips(decode_justifications(bytes), bytes)?;
    round_trips(decode_block(bytes), bytes)?;
    Ok(())
}

fn engine_id() -> impl Strategy<Value = [u8; 4]> {
    prop_oneof![Just(*b"BABE"), Just(*b"FRNK"), Just(*b"aura"), Just(*b"BEEF"), any::<[u8; 4]>()]
}

fn digest_item() -> impl Strategy<Value = DigestItem> {
    prop_oneof![
        (engine_id(), vec(any::<u8>(), 0..80)).prop_map(|(id, d)| DigestItem::PreRuntime(id, d)),
        (engine_id(), vec(any::<u8>(), 0..80)).prop_map(|(id, d)| DigestItem::Consensus(id, d)),
        (engine_id(), vec(any::<u8>(), 0..80)).prop_map(|(id, d)| DigestItem::Seal(id, d)),
        vec(any::<u8>(), 0..80).prop_map(DigestItem::Other),
        Just(DigestItem::RuntimeEnvironmentUpdated),
    ]
}

fn hash() -> impl Strategy<Value = H256> {
    any::<[u8; 32]>().prop_map(H256)
}

fn header() -> impl Strategy<Value = Header> {
    (hash(), any::<u32>(), hash(), hash(), vec(digest_item(), 0..6)).prop_map(|(p, n, s, e, logs)| Header {
        parent_hash: p,
        number: n,
        state_root: s,
        extrinsics_root: e,
        digest: Digest::new(logs),
    })
}

fn justification() -> impl Strategy<Value = GrandpaJustification> {
    let precommit =
        (hash(), any::<u32>(), vec(any::<u8>(), 64), any::<[u8; 32]>()).prop_map(|(h, n, sig, id)| SignedPrecommit {
            precommit: Precommit { target_hash: h, target_number: n },
            signature: sig.try_into().unwrap(),
            id,
        });
    (any::<u64>(), hash(), any::<u32>(), vec(precommit, 0..4), vec(header(), 0..3)).prop_map(
        |(round, target_hash, target_number, precommits, votes_ancestries)| GrandpaJustification {
            round,
            commit: Commit { target_hash, target_number, precommits },
            votes_ancestries,
        },
    )
}

fn pre_digest() -> impl Strategy<Value = PreDigest> {
    let vrf = (any::<u32>(), any::<u64>(), any::<[u8; 32]>(), vec(any::<u8>(), 64));
    prop_oneof![
        vrf.clone().prop_map(|(authority_index, slot, vrf_output, proof)| PreDigest::Primary(PrimaryPreDigest {
            authority_index,
            slot,
            vrf_output,
            vrf_proof: proof.try_into().unwrap(),
        })),
        (any::<u32>(), any::<u64>()).prop_map(|(authority_index, slot)| PreDigest::SecondaryPlain(
            SecondaryPlainPreDigest { authority_index, slot }
        )),
        vrf.prop_map(|(authority_index, slot, vrf_output, proof)| PreDigest::SecondaryVRF(SecondaryVrfPreDigest {
            authority_index,
            slot,
            vrf_output,
            vrf_proof: proof.try_into().unwrap(),
        })),
    ]
}

/// A mutation of valid encodings: flip a byte, cut, or append.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 1..=255u8).prop_map(|(i, x)| Mutation::Flip(i, x)),
        any::<usize>().prop_map(Mutation::Truncate),
        vec(any::<u8>(), 1..8).prop_map(Mutation::Append),
    ]
}

fn apply(mut bytes: Vec<u8>, m: &Mutation) -> Vec<u8> {
    match m {
        Mutation::Flip(i, x) if !bytes.is_empty() => {
            let n = bytes.len();
            bytes[i % n] ^= x;
        }
        Mutation::Truncate(i) if !bytes.is_empty() => bytes.truncate(i % bytes.len()),
        Mutation::Append(tail) => bytes.extend_from_slice(tail),
        _ => {}
    }
    bytes
}

fn real_fixtures() -> &'static [Vec<u8>] {
    static FIXTURES: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    FIXTURES.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");
        [
            "blocks/headers/polkadot-512271.header.bin",
            "finality/smoldot-grandpa-justification-302592.bin",
            "finality/smoldot-grandpa-commit-5105457.bin",
        ]
        .iter()
        .map(|p| std::fs::read(format!("{dir}/{p}")).unwrap())
        .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..4096)) {
        all_decoders(&bytes)?;
    }

    #[test]
    fn arbitrary_bytes_behind_plausible_prefixes(
        prefix in prop_oneof![
            Just(vec![6u8, b'B', b'A', b'B', b'E']),
            Just(vec![4u8, b'F', b'R', b'N', b'K']),
            Just(vec![1u8]), Just(vec![2u8]), Just(vec![3u8]), Just(vec![8u8]), Just(vec![0u8]),
        ],
        tail in vec(any::<u8>(), 0..300),
    ) {
        let mut bytes = prefix;
        bytes.extend_from_slice(&tail);
        all_decoders(&bytes)?;
    }

    #[test]
    fn headers_round_trip(h in header(), m in mutation()) {
        let bytes = h.encode();
        prop_assert_eq!(decode_header(&bytes).unwrap(), h.clone());
        prop_assert_eq!(h.pre_hash(), h.without_seal().0.hash());
        let mutated = apply(bytes, &m);
        all_decoders(&mutated)?;
    }

    #[test]
    fn digest_items_round_trip(item in digest_item(), m in mutation()) {
        let bytes = item.encode();
        prop_assert_eq!(decode_digest_item(&bytes).unwrap(), item);
        all_decoders(&apply(bytes, &m))?;
    }

    #[test]
    fn pre_digests_round_trip(pre in pre_digest(), m in mutation()) {
        let bytes = pre.encode();
        prop_assert_eq!(babe::decode_pre_digest(&bytes).unwrap(), pre);
        all_decoders(&apply(bytes, &m))?;
    }

    #[test]
    fn grandpa_logs_round_trip(
        keys in vec(any::<[u8; 32]>(), 0..5),
        delay in any::<u32>(),
        kind in 1u8..=5,
        m in mutation(),
    ) {
        let change = grandpa::ScheduledChange {
            next_authorities: keys.iter().map(|k| grandpa::GrandpaAuthority { public_key: *k, weight: 1 }).collect(),
            delay,
        };
        let log = match kind {
            1 => grandpa::ConsensusLog::ScheduledChange(change),
            2 => grandpa::ConsensusLog::ForcedChange(delay / 2, change),
            3 => grandpa::ConsensusLog::OnDisabled(u64::from(delay)),
            4 => grandpa::ConsensusLog::Pause(delay),
            _ => grandpa::ConsensusLog::Resume(delay),
        };
        let bytes = log.encode();
        prop_assert_eq!(grandpa::decode_consensus_log(&bytes).unwrap(), log);
        all_decoders(&apply(bytes, &m))?;
    }

    #[test]
    fn justifications_round_trip(j in justification(), m in mutation()) {
        let bytes = j.encode();
        prop_assert_eq!(decode_justification(&bytes).unwrap(), j);
        all_decoders(&apply(bytes, &m))?;
    }

    #[test]
    fn real_fixtures_mutated(which in 0usize..3, m in mutation(), m2 in mutation()) {
        let bytes = apply(apply(real_fixtures()[which].clone(), &m), &m2);
        all_decoders(&bytes)?;
    }
}

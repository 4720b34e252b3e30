//! Compact storage proofs (`sp_trie::CompactProof`): round trips on random tries, size,
//! real genesis states, robustness against corrupted input, and (opt-in) byte-exact
//! re-encoding of compact proofs published in the `paritytech/trie` repository.

use parity_scale_codec::Encode;
use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use weft_trie::compact::{
    decode_compact, encode_compact, encode_compact_from_store, CompactProof, CompactProofError, ESCAPE_COMPACT_HEADER,
};
use weft_trie::{db, encode_proof, generate_proof, trie_root, StateVersion, StorageProof, TrieHasher, TrieMap};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap()
}

/// Checks everything a verifier relies on: root, and every key's value (or absence) read
/// through the rebuilt nodes equals the one in `entries`.
fn check_round_trip(
    version: StateVersion,
    entries: &BTreeMap<Vec<u8>, Vec<u8>>,
    keys: &[&[u8]],
) -> (CompactProof, Vec<Vec<u8>>) {
    let root = trie_root(version, entries.iter());
    let proof = generate_proof(version, entries, keys);
    let compact = encode_compact(&root, &proof).unwrap();
    let (got_root, nodes) = decode_compact(&compact, Some(&root)).unwrap();
    assert_eq!(got_root, root);
    // The rebuilt nodes are exactly the proof's (same set), plus the empty node for the
    // empty trie (which has no node to prove but one item to rebuild).
    let mut a = nodes.clone();
    if root == weft_trie::EMPTY_TRIE_ROOT {
        assert_eq!(a, vec![vec![0u8]]);
        a.clear();
    }
    a.sort();
    let mut b = proof.clone();
    b.sort();
    b.dedup();
    assert_eq!(a, b);
    let storage_proof = StorageProof::from_nodes(nodes.clone()).unwrap();
    let verified = storage_proof.verify(&root).unwrap();
    for key in keys {
        assert_eq!(verified.read(key).unwrap(), entries.get(*key).cloned(), "key {}", hex::encode(key));
    }
    // Re-encoding the rebuilt proof gives the same compact proof.
    assert_eq!(encode_compact(&root, &nodes).unwrap(), compact);
    (compact, proof)
}

fn version() -> impl Strategy<Value = StateVersion> {
    prop_oneof![Just(StateVersion::V0), Just(StateVersion::V1)]
}

fn key() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(prop::sample::select(vec![0x00u8, 0x01, 0x10, 0x11, 0x1f, 0xf0, 0xff]), 0..6),
        prop::collection::vec(any::<u8>(), 0..40),
    ]
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..8),
        prop::collection::vec(any::<u8>(), 28..40),
        prop::collection::vec(any::<u8>(), 60..80),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Prove a subset of the keys (plus absent keys), compact, decode: root and values check
    /// out, and the compact form is strictly smaller whenever the proof has several nodes.
    #[test]
    fn round_trip_random_tries(
        version in version(),
        entries in prop::collection::btree_map(key(), value(), 0..80),
        picks in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
        absent in prop::collection::vec(key(), 0..3),
    ) {
        let all: Vec<&Vec<u8>> = entries.keys().collect();
        let mut keys: Vec<&[u8]> = Vec::new();
        if !all.is_empty() {
            keys.extend(picks.iter().map(|i| all[i.index(all.len())].as_slice()));
        }
        keys.extend(absent.iter().map(Vec::as_slice));
        if keys.is_empty() {
            // Proving no key gives no node, not even the root (see `missing_root`).
            keys.push(b"");
        }
        let (compact, proof) = check_round_trip(version, &entries, &keys);
        if proof.len() > 1 {
            prop_assert!(compact.encode().len() < encode_proof(&proof).len());
        }
    }

    /// Decoding arbitrary items never panics.
    #[test]
    fn decode_arbitrary_items_never_panics(
        items in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..48), 0..8),
    ) {
        let _ = decode_compact(&CompactProof { encoded_nodes: items }, None);
    }

    /// Decoding arbitrary bytes as a SCALE compact proof never panics.
    #[test]
    fn decode_arbitrary_bytes_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(proof) = CompactProof::decode_bounded(&bytes, 1 << 20) {
            let _ = decode_compact(&proof, None);
        }
    }
}

/// A deterministic trie with shared prefixes, long values (hashed in V1) and short ones.
fn sample_entries() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m = BTreeMap::new();
    for i in 0u32..300 {
        let mut key = b"pallet".to_vec();
        key.extend_from_slice(&(i % 7).to_le_bytes());
        key.extend_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
        m.insert(key, vec![(i % 251) as u8; [3, 31, 32, 33, 100][i as usize % 5]]);
    }
    m
}

#[test]
fn compact_is_strictly_smaller_with_several_nodes() {
    for version in [StateVersion::V0, StateVersion::V1] {
        let m = sample_entries();
        let keys: Vec<&[u8]> = m.keys().step_by(29).map(Vec::as_slice).collect();
        let (compact, proof) = check_round_trip(version, &m, &keys);
        assert!(proof.len() > 1);
        let (c, p) = (compact.encode().len(), encode_proof(&proof).len());
        assert!(c < p, "{version:?}: compact {c} >= full {p}");
        // Roughly one hash (33 bytes with its length) saved per node below the root.
        assert!(p - c >= 32 * (proof.len() - 1 - keys.len()), "{version:?}: saved only {}", p - c);
    }
}

/// The proof of a node store (`db::prove`) and the `NodeStore` entry point agree with the
/// in-memory proof generator.
#[test]
fn node_store_path_agrees() {
    for version in [StateVersion::V1, StateVersion::V0] {
        let m = sample_entries();
        let mut store: HashMap<[u8; 32], Vec<u8>> = HashMap::new();
        let update = db::apply_delta(
            &store,
            &weft_trie::EMPTY_TRIE_ROOT,
            m.iter().map(|(k, v)| (&k[..], Some(&v[..]))),
            version,
        )
        .unwrap();
        store.extend(update.inserted);
        let keys: Vec<&[u8]> = m.keys().step_by(13).map(Vec::as_slice).collect();
        let proof = db::prove(&store, &update.root, &keys).unwrap();
        let from_slice = encode_compact(&update.root, &proof).unwrap();
        let proof_store: HashMap<[u8; 32], Vec<u8>> =
            proof.iter().map(|n| (weft_trie::blake2_256(n), n.clone())).collect();
        let from_store = encode_compact_from_store(TrieHasher::Blake2_256, &proof_store, &update.root).unwrap();
        assert_eq!(from_slice, from_store);
        let (compact, _) = check_round_trip(version, &m, &keys);
        assert_eq!(compact, from_slice);
        // A store whose item does not hash to its key is reported.
        let mut bad = proof_store.clone();
        if let Some(v) = bad.values_mut().find(|v| v.len() > 40) {
            v[40] ^= 1;
        }
        assert!(matches!(
            encode_compact_from_store(TrieHasher::Blake2_256, &bad, &update.root),
            Err(CompactProofError::HashMismatch(_))
        ));
    }
}

fn genesis_entries(rel: &str) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{rel}")).unwrap();
    let spec: serde_json::Value = serde_json::from_str(&text).unwrap();
    spec["genesis"]["raw"]["top"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (unhex(k), unhex(v.as_str().unwrap())))
        .collect()
}

/// Real data: the Westend genesis state (V0), real keys proved, compacted and rebuilt into
/// the state root that `MANIFEST.md` gives for it.
#[test]
fn westend_genesis_vector() {
    let m = genesis_entries("chain-specs/full-raw/westend.json");
    let expected_root = unhex("7e92439a94f79671f9cade9dff96a094519b9001a7432244d46ab644bb6f746f");
    let keys: Vec<Vec<u8>> = [
        // :code (1.1 MB, inline in V0), :extrinsic_index, :grandpa_authorities
        "3a636f6465",
        "3a65787472696e7369635f696e646578",
        "3a6772616e6470615f617574686f726974696573",
        // System.Account of a genesis account, Session.Validators, absent keys
        "26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da90566b5cb12e1bb",
        "cec5070d609dd3497f72bde07fc96ba088dcde934c658227ee1dfafcd6e16903",
        "26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da90000",
        "ffff",
    ]
    .iter()
    .map(|k| unhex(k))
    .collect();
    let keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
    let (compact, proof) = check_round_trip(StateVersion::V0, &m, &keys);
    let (root, _) = decode_compact(&compact, None).unwrap();
    assert_eq!(root.to_vec(), expected_root);
    assert!(proof.len() > 1 && compact.encode().len() < encode_proof(&proof).len());
    // SCALE round trip of the proof itself.
    let bytes = compact.encode();
    assert_eq!(CompactProof::decode_bounded(&bytes, bytes.len()).unwrap(), compact);
    // No escape byte in a V0 proof.
    assert!(compact.encoded_nodes.iter().all(|n| n.first() != Some(&ESCAPE_COMPACT_HEADER)));
}

/// Real data, V1: the rococo-local v1015000 genesis (state version 1), where `:code` is a
/// hashed value and so detached after its escaped node.
#[test]
fn rococo_local_v1_genesis_vector() {
    let m = genesis_entries("chain-specs/dev-local/rococo-local-v1015000.kagome-zombienet.json");
    let expected_root = unhex("356d85d370e21e67edf43f7726c580d000aa5b6ca7d77ab076041185e47ff51d");
    let mut keys: Vec<&[u8]> = m.keys().step_by(23).map(Vec::as_slice).collect();
    keys.push(b":code");
    let (compact, _) = check_round_trip(StateVersion::V1, &m, &keys);
    assert_eq!(decode_compact(&compact, None).unwrap().0.to_vec(), expected_root);
    let code = &m[&b":code".to_vec()];
    let at = compact.encoded_nodes.iter().position(|n| n == code).expect(":code detached");
    assert_eq!(compact.encoded_nodes[at - 1][0], ESCAPE_COMPACT_HEADER);
}

/// Corrupted proofs (truncated, bit-flipped, reordered, spliced) give errors, never panics:
/// with the expected root given, a decode can only succeed by rebuilding genuine nodes (all
/// of them, or fewer when a whole child trie is cut off, which `sp-trie` accepts too).
#[test]
fn corrupted_proofs_are_rejected() {
    let mut cases = Vec::new();
    for version in [StateVersion::V0, StateVersion::V1] {
        let m = sample_entries();
        let keys: Vec<&[u8]> = m.keys().step_by(37).map(Vec::as_slice).collect();
        let root = trie_root(version, m.iter());
        let compact = encode_compact(&root, &generate_proof(version, &m, &keys)).unwrap();
        cases.push((root, compact));
    }
    // With a child trie.
    let mut child = TrieMap::new(StateVersion::V1);
    for i in 0u8..30 {
        child.insert(&[i; 3], vec![i; 40]);
    }
    let child_key = [weft_trie::CHILD_STORAGE_DEFAULT_PREFIX, b"c"].concat();
    let mut top = TrieMap::new(StateVersion::V1);
    top.insert(&child_key, child.root().to_vec());
    for i in 0u8..30 {
        top.insert(&[b'x', i], vec![i; 50]);
    }
    let root = top.root();
    let mut proof = top.generate_proof(&[&child_key, b"x\x03"]);
    proof.extend(child.generate_proof(&[&[4; 3], &[20; 3]]));
    cases.push((root, encode_compact(&root, &proof).unwrap()));

    let mut checked = 0usize;
    for (root, compact) in &cases {
        let (_, genuine) = decode_compact(compact, Some(root)).unwrap();
        let mut genuine_sorted = genuine.clone();
        genuine_sorted.sort();
        let mut check = |p: CompactProof| {
            checked += 1;
            if let Ok((got, nodes)) = decode_compact(&p, Some(root)) {
                assert_eq!(got, *root);
                assert!(
                    nodes.iter().all(|n| genuine_sorted.binary_search(n).is_ok()),
                    "a corrupted proof rebuilt a node that is not in the genuine proof"
                );
            }
            let _ = decode_compact(&p, None);
        };
        let items = &compact.encoded_nodes;
        // Truncated item lists and truncated items.
        for n in 0..items.len() {
            check(CompactProof { encoded_nodes: items[..n].to_vec() });
            for cut in 0..items[n].len() {
                let mut p = compact.clone();
                p.encoded_nodes[n].truncate(cut);
                check(p);
            }
        }
        // Every bit of every item flipped.
        for (n, item) in items.iter().enumerate() {
            for byte in 0..item.len().min(120) {
                for bit in 0..8 {
                    let mut p = compact.clone();
                    p.encoded_nodes[n][byte] ^= 1 << bit;
                    check(p);
                }
            }
        }
        // Adjacent swaps, rotations, duplication, deletion, trailing garbage.
        for n in 0..items.len() {
            if n + 1 < items.len() {
                let mut p = compact.clone();
                p.encoded_nodes.swap(n, n + 1);
                check(p);
            }
            let mut p = compact.clone();
            p.encoded_nodes.rotate_left(n);
            check(p);
            let mut p = compact.clone();
            p.encoded_nodes.insert(n, items[n].clone());
            check(p);
            let mut p = compact.clone();
            p.encoded_nodes.remove(n);
            check(p);
        }
        let mut p = compact.clone();
        p.encoded_nodes.push(vec![0x42, 0x00]);
        check(p);
        // Truncated SCALE bytes.
        let bytes = compact.encode();
        for cut in 0..bytes.len() {
            if let Ok(p) = CompactProof::decode_bounded(&bytes[..cut], bytes.len()) {
                check(p);
            }
        }
    }
    assert!(checked > 10_000, "only {checked} cases");

    // Trailing items and wrong roots are errors.
    let (root, compact) = &cases[0];
    let mut p = compact.clone();
    p.encoded_nodes.push(vec![0]);
    assert_eq!(decode_compact(&p, Some(root)), Err(CompactProofError::ExtraneousNodes(1)));
    let mut wrong = *root;
    wrong[0] ^= 1;
    assert!(matches!(decode_compact(compact, Some(&wrong)), Err(CompactProofError::RootMismatch { .. })));
}

/// A proof whose hash references make the child-root region exponentially large (every
/// branch points 16 times to the same node) is refused quickly instead of enumerated.
#[test]
fn exponential_child_root_region_is_refused() {
    use weft_trie::{encode_node, NodeValue};
    let prefix = weft_trie::nibbles::from_bytes(weft_trie::CHILD_STORAGE_DEFAULT_PREFIX);
    let leaf = encode_node(&[1, 2], NodeValue::Inline(&[7; 32]), &[None; 16]);
    let mut items_rev = vec![leaf.clone()];
    let mut below = weft_trie::blake2_256(&leaf);
    for level in 0..14 {
        let partial: &[u8] = if level == 13 { &prefix } else { &[] };
        let mut compact_children: [Option<&[u8]>; 16] = [Some(&below[..]); 16];
        compact_children[0] = Some(&[]);
        items_rev.push(encode_node(partial, NodeValue::None, &compact_children));
        let full_children: [Option<&[u8]>; 16] = [Some(&below[..]); 16];
        below = weft_trie::blake2_256(&encode_node(partial, NodeValue::None, &full_children));
    }
    items_rev.reverse();
    let proof = CompactProof { encoded_nodes: items_rev };
    assert_eq!(decode_compact(&proof, Some(&below)), Err(CompactProofError::TooComplex));
}

//! Property tests: decoders never panic, the incremental trie agrees with the one-shot root,
//! and generated proofs verify and answer correctly.

use proptest::prelude::*;
use std::collections::BTreeMap;
use std::ops::Bound;
use weft_trie::{
    decode_node, encode_proof, generate_eager_proof, generate_proof, trie_root, verify_proof, ProofError, StateVersion,
    StorageProof, TrieMap,
};

fn version() -> impl Strategy<Value = StateVersion> {
    prop_oneof![Just(StateVersion::V0), Just(StateVersion::V1)]
}

/// Keys over a small alphabet so that they share prefixes and nest.
fn key() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(vec![0x00u8, 0x01, 0x10, 0x11, 0x1f, 0xf0, 0xff]), 0..6)
}

fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..8),
        prop::collection::vec(any::<u8>(), 28..40),
        prop::collection::vec(any::<u8>(), 60..80),
    ]
}

fn entries() -> impl Strategy<Value = BTreeMap<Vec<u8>, Vec<u8>>> {
    prop::collection::btree_map(key(), value(), 0..40)
}

#[derive(Debug, Clone)]
enum Op {
    Insert(Vec<u8>, Vec<u8>),
    Remove(Vec<u8>),
    ClearPrefix(Vec<u8>, Option<usize>),
    Root,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (key(), value()).prop_map(|(k, v)| Op::Insert(k, v)),
        3 => key().prop_map(Op::Remove),
        1 => (prop::collection::vec(prop::sample::select(vec![0x00u8, 0x01, 0x10, 0x1f]), 0..2), prop::option::of(0usize..4))
            .prop_map(|(p, l)| Op::ClearPrefix(p, l)),
        2 => Just(Op::Root),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn decode_node_never_panics_and_roundtrips(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(node) = decode_node(&bytes) {
            // The encoding is canonical: re-encoding gives back the input.
            prop_assert_eq!(node.encode(), bytes);
        }
    }

    #[test]
    fn decode_node_prefixed_headers(header in any::<u8>(), bytes in prop::collection::vec(any::<u8>(), 0..80)) {
        let mut input = vec![header];
        input.extend(bytes);
        if let Ok(node) = decode_node(&input) {
            prop_assert_eq!(node.encode(), input);
        }
    }

    #[test]
    fn proof_decoder_never_panics(
        bytes in prop::collection::vec(any::<u8>(), 0..300),
        root in any::<[u8; 32]>(),
        k in key(),
    ) {
        if let Ok(p) = StorageProof::decode(&bytes, 1 << 20) {
            for r in p.nodes().iter().map(|n| weft_trie::blake2_256(n)).chain([root]) {
                if let Ok(v) = p.verify(&r) {
                    let _ = v.read(&k);
                    let _ = v.next_key(&k, &[]);
                    let _ = v.closest_descendant_merkle_value(&weft_trie::nibbles::from_bytes(&k));
                }
            }
        }
    }

    #[test]
    fn mutated_proofs_never_panic(
        v in version(),
        e in entries(),
        keys in prop::collection::vec(key(), 1..4),
        flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let root = trie_root(v, e.iter());
        let key_refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        let mut bytes = encode_proof(&generate_proof(v, &e, &key_refs));
        for (i, x) in flips {
            let i = i.index(bytes.len());
            bytes[i] ^= x;
        }
        if let Ok(p) = StorageProof::decode(&bytes, 1 << 20) {
            if let Ok(vp) = p.verify(&root) {
                for k in &keys {
                    // Either the truth or an error.
                    if let Ok(got) = vp.read(k) {
                        prop_assert_eq!(got, e.get(k).cloned());
                    }
                    let _ = vp.next_key(k, &[]);
                }
            }
        }
        // The eager verifier on garbage.
        let nodes: Vec<Vec<u8>> = bytes.chunks(7).map(|c| c.to_vec()).collect();
        let _ = verify_proof(&root, &nodes, &keys[0], e.get(&keys[0]).map(|x| x.as_slice()), v);
    }

    #[test]
    fn triemap_matches_trie_root(v in version(), ops in prop::collection::vec(op(), 0..80)) {
        let mut m = TrieMap::new(v);
        let mut model: BTreeMap<Vec<u8>, Vec<u8>> = BTreeMap::new();
        for op in ops {
            match op {
                Op::Insert(k, val) => {
                    prop_assert_eq!(m.insert(&k, val.clone()), model.insert(k, val));
                }
                Op::Remove(k) => {
                    prop_assert_eq!(m.remove(&k), model.remove(&k));
                }
                Op::ClearPrefix(p, limit) => {
                    let matching: Vec<Vec<u8>> = model.keys().filter(|k| k.starts_with(&p)).cloned().collect();
                    let out = m.clear_prefix(&p, limit);
                    let n = limit.map_or(matching.len(), |l| l.min(matching.len()));
                    prop_assert_eq!(out.removed, n);
                    prop_assert_eq!(out.complete, n == matching.len());
                    for k in &matching[..n] {
                        model.remove(k);
                    }
                }
                Op::Root => {
                    prop_assert_eq!(m.root(), trie_root(v, model.iter()));
                }
            }
            prop_assert_eq!(m.len(), model.len());
        }
        prop_assert_eq!(m.root(), trie_root(v, model.iter()));
        let got: Vec<(Vec<u8>, Vec<u8>)> = m.iter().map(|(k, v)| (k, v.to_vec())).collect();
        let want: Vec<(Vec<u8>, Vec<u8>)> = model.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        prop_assert_eq!(got, want);
        for k in model.keys() {
            prop_assert_eq!(m.get(k), model.get(k).map(|v| v.as_slice()));
            let next = model.range::<[u8], _>((Bound::Excluded(&k[..]), Bound::Unbounded)).next().map(|(k, _)| k.clone());
            prop_assert_eq!(m.next_key(k), next);
        }
    }

    #[test]
    fn unsorted_input_with_duplicates(v in version(), pairs in prop::collection::vec((key(), value()), 0..30)) {
        let mut model = BTreeMap::new();
        for (k, val) in &pairs {
            model.insert(k.clone(), val.clone());
        }
        prop_assert_eq!(trie_root(v, pairs.iter().map(|(k, v)| (k, v))), trie_root(v, model.iter()));
    }

    #[test]
    fn proofs_roundtrip(v in version(), e in entries(), keys in prop::collection::vec(key(), 0..6)) {
        let root = trie_root(v, e.iter());
        let key_refs: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        let nodes = generate_proof(v, &e, &key_refs);
        if keys.is_empty() {
            prop_assert!(nodes.is_empty());
            return Ok(());
        }
        let p = StorageProof::decode(&encode_proof(&nodes), 1 << 20).unwrap();
        let vp = p.verify(&root).unwrap();
        for k in &keys {
            prop_assert_eq!(vp.read(k).unwrap(), e.get(k).cloned());
        }
        // Eager format, one key at a time.
        for k in &keys {
            let proof = generate_eager_proof(v, &e, &[k]);
            prop_assert_eq!(verify_proof(&root, &proof, k, e.get(k).map(|x| x.as_slice()), v), Ok(()));
        }
    }

    #[test]
    fn next_key_in_full_proof(v in version(), e in entries(), after in key(), prefix in prop::collection::vec(prop::sample::select(vec![0x00u8, 0x10, 0x1f]), 0..2)) {
        let root = trie_root(v, e.iter());
        let all: Vec<&[u8]> = e.keys().map(|k| k.as_slice()).collect();
        let p = StorageProof::from_nodes(generate_proof(v, &e, &all)).unwrap();
        let vp = p.verify(&root).unwrap();
        prop_assert_eq!(vp.next_key(&after, &prefix), Ok(model_next(&e, &after, &prefix)));
        for k in e.keys() {
            prop_assert_eq!(vp.read(k).unwrap(), e.get(k).cloned());
        }
    }

    #[test]
    fn next_key_in_partial_proof_is_sound(
        v in version(),
        e in entries(),
        proven in prop::collection::vec(key(), 1..4),
        queries in prop::collection::vec((key(), prop::collection::vec(prop::sample::select(vec![0x00u8, 0x10, 0x1f]), 0..2)), 1..6),
    ) {
        let root = trie_root(v, e.iter());
        let refs: Vec<&[u8]> = proven.iter().map(|k| k.as_slice()).collect();
        let p = StorageProof::from_nodes(generate_proof(v, &e, &refs)).unwrap();
        let vp = p.verify(&root).unwrap();
        for (after, prefix) in queries {
            match vp.next_key(&after, &prefix) {
                Ok(got) => prop_assert_eq!(got, model_next(&e, &after, &prefix)),
                Err(err) => prop_assert_eq!(err, ProofError::IncompleteProof),
            }
            match vp.read(&after) {
                Ok(got) => prop_assert_eq!(got, e.get(&after).cloned()),
                Err(err) => prop_assert_eq!(err, ProofError::IncompleteProof),
            }
        }
    }
}

fn model_next(e: &BTreeMap<Vec<u8>, Vec<u8>>, after: &[u8], prefix: &[u8]) -> Option<Vec<u8>> {
    e.range::<[u8], _>((Bound::Excluded(after), Bound::Unbounded))
        .map(|(k, _)| k.clone())
        .find(|k| k.starts_with(prefix))
}

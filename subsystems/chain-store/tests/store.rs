//! Chain store behaviour on synthetic chains: commits with state, forks, finality,
//! canonicalization, pruning and reference counts, reopening after a drop.

use std::collections::BTreeMap;
use weft_block::{Digest, Header, H256};
use weft_chain_store::{BlockCommit, ChainStore, StatePruning, StoreConfig, StoreError};
use weft_runtime_executor::{StateBackend, StorageChanges};
use weft_trie::{trie_root, StateVersion};

const V: StateVersion = StateVersion::V1;

/// A chain simulated in memory, to know the expected state of every block.
struct Model {
    states: BTreeMap<H256, BTreeMap<Vec<u8>, Vec<u8>>>,
}

fn genesis_state() -> BTreeMap<Vec<u8>, Vec<u8>> {
    (0u32..100).map(|i| (format!("key-{i:03}").into_bytes(), vec![i as u8; (i % 70) as usize + 1])).collect()
}

fn header(parent: H256, number: u32, state: &BTreeMap<Vec<u8>, Vec<u8>>, salt: u8) -> Header {
    Header {
        parent_hash: parent,
        number,
        state_root: H256(trie_root(V, state.iter())),
        extrinsics_root: H256([salt; 32]),
        digest: Digest::default(),
    }
}

fn open(dir: &std::path::Path, pruning: StatePruning, delay: u32) -> ChainStore {
    ChainStore::open(dir, StoreConfig { pruning, canonicalization_delay: delay }).unwrap()
}

fn init(store: &ChainStore, model: &mut Model) -> H256 {
    let state = genesis_state();
    let h = header(H256::ZERO, 0, &state, 0);
    let hash = store.initialize_genesis(&h, &state, &BTreeMap::new(), V).unwrap();
    model.states.insert(hash, state);
    hash
}

/// Commits a child of `parent` that changes a few keys chosen by `seed`.
fn child(store: &ChainStore, model: &mut Model, parent: H256, number: u32, seed: u8, best: bool) -> H256 {
    let mut state = model.states[&parent].clone();
    let mut changes = StorageChanges::default();
    for j in 0..6u32 {
        let k = format!("key-{:03}", (u32::from(seed) * 7 + j * 13 + number) % 130).into_bytes();
        let v = (j % 3 != 0).then(|| vec![seed.wrapping_add(j as u8); (j as usize * 11 + number as usize) % 60]);
        match &v {
            Some(v) => state.insert(k.clone(), v.clone()),
            None => state.remove(&k),
        };
        changes.main.insert(k, v);
    }
    let h = header(parent, number, &state, seed);
    let outcome = store
        .commit_block(BlockCommit {
            header: &h,
            body: Some(&[]),
            justifications: None,
            changes: &changes,
            state_version: V,
            chain_weight: u64::from(number),
            set_best: best,
            aux: vec![(h.hash().as_bytes().to_vec(), Some(vec![seed]))],
        })
        .unwrap();
    model.states.insert(outcome.hash, state);
    outcome.hash
}

fn check_state(store: &ChainStore, model: &Model, hash: &H256) {
    let view = store.state_at(hash).unwrap();
    for (k, v) in &model.states[hash] {
        assert_eq!(view.storage(k).unwrap().as_ref(), Some(v));
    }
    let keys: Vec<Vec<u8>> = view.pairs(b"", usize::MAX).unwrap().into_iter().map(|(k, _)| k).collect();
    assert_eq!(keys, model.states[hash].keys().cloned().collect::<Vec<_>>());
}

#[test]
fn linear_chain_with_pruning_keeps_a_window_and_consistent_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StatePruning::KeepBlocks(5), 3);
    let mut model = Model { states: BTreeMap::new() };
    let mut parent = init(&store, &mut model);
    let mut hashes = vec![parent];
    for n in 1..=40u32 {
        parent = child(&store, &mut model, parent, n, n as u8, true);
        hashes.push(parent);
        assert_eq!(store.verify_reference_counts().unwrap(), 0, "after block {n}");
    }
    assert_eq!(store.best().unwrap(), (40, parent));
    // Canonical up to 37, states kept for 33..=40.
    for (n, h) in hashes.iter().enumerate() {
        match store.state_at(h) {
            Ok(_) => check_state(&store, &model, h),
            Err(StoreError::StatePruned { number, .. }) => assert!(number < 33, "#{number} pruned too early"),
            Err(e) => panic!("{e}"),
        }
        assert!(n < 33 || store.state_at(h).is_ok());
        assert_eq!(store.canonical_hash(n as u32).unwrap(), Some(*h));
    }
    assert!(matches!(store.state_at(&hashes[10]), Err(StoreError::StatePruned { .. })));
    assert_eq!(store.aux(parent.as_bytes()).unwrap(), Some(vec![40]));
}

#[test]
fn forks_reorgs_finality_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model { states: BTreeMap::new() };
    let (a3, b4, c2);
    {
        let store = open(dir.path(), StatePruning::KeepBlocks(2), 1000);
        let g = init(&store, &mut model);
        let a1 = child(&store, &mut model, g, 1, 1, true);
        let a2 = child(&store, &mut model, a1, 2, 2, true);
        a3 = child(&store, &mut model, a2, 3, 3, true);
        // Fork B from a1, longer: becomes best.
        let b2 = child(&store, &mut model, a1, 2, 20, false);
        let b3 = child(&store, &mut model, b2, 3, 21, false);
        b4 = child(&store, &mut model, b3, 4, 22, true);
        // Fork C from g.
        c2 = {
            let c1 = child(&store, &mut model, g, 1, 30, false);
            child(&store, &mut model, c1, 2, 31, false)
        };
        assert_eq!(store.best().unwrap(), (4, b4));
        assert_eq!(store.canonical_hash(2).unwrap(), Some(b2));
        assert_eq!(store.leaves().unwrap().len(), 3);
        for h in [a3, b4, c2, a2] {
            check_state(&store, &model, &h);
        }
        assert_eq!(store.verify_reference_counts().unwrap(), 0);
        // Finalizing a3 (fork A) moves best to a3 and discards B and C.
        store.finalize(&a3, Some((*b"FRNK", vec![1, 2, 3]))).unwrap();
        assert_eq!(store.best().unwrap(), (3, a3));
        assert_eq!(store.finalized().unwrap(), (3, a3));
        assert!(store.block_info(&b4).unwrap().is_none());
        assert!(store.block_info(&c2).unwrap().is_none());
        assert_eq!(store.leaves().unwrap(), vec![(3, a3)]);
        assert_eq!(store.verify_reference_counts().unwrap(), 0);
        assert!(matches!(store.finalize(&a1, None), Ok(())));
        store.flush().unwrap();
    }
    // Reopen: everything is there.
    let store = open(dir.path(), StatePruning::KeepBlocks(2), 1000);
    assert_eq!(store.best().unwrap(), (3, a3));
    check_state(&store, &model, &a3);
    assert_eq!(store.justifications(&a3).unwrap().unwrap().grandpa(), Some(&[1u8, 2, 3][..]));
    drop(store);
    assert!(matches!(
        ChainStore::open(dir.path(), StoreConfig { pruning: StatePruning::Archive, canonicalization_delay: 10 }),
        Err(StoreError::PruningMismatch { .. })
    ));
    let _ = (b4, c2);
}

#[test]
fn wrong_state_root_or_unknown_parent_stores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StatePruning::Archive, 4096);
    let mut model = Model { states: BTreeMap::new() };
    let g = init(&store, &mut model);
    let mut changes = StorageChanges::default();
    changes.main.insert(b"key-001".to_vec(), Some(b"tampered".to_vec()));
    let h = header(g, 1, &model.states[&g], 9);
    let commit = |h: &Header| {
        store.commit_block(BlockCommit {
            header: h,
            body: None,
            justifications: None,
            changes: &changes,
            state_version: V,
            chain_weight: 0,
            set_best: true,
            aux: vec![],
        })
    };
    let err = commit(&h).unwrap_err();
    assert!(matches!(err, StoreError::StateRootMismatch { number: 1, .. }), "{err}");
    assert!(err.to_string().contains("#1"), "{err}");
    let orphan = header(H256([7; 32]), 5, &model.states[&g], 9);
    assert!(matches!(commit(&orphan), Err(StoreError::UnknownParent { .. })));
    assert!(!store.contains(&h.hash()).unwrap());
    assert_eq!(store.best().unwrap().0, 0);
    assert_eq!(store.verify_reference_counts().unwrap(), 0);
}

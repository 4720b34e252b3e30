//! Replays the first 256 real Westend blocks from the Westend genesis into a fresh store:
//! every block passes BABE verification, executes on its parent's state and reproduces
//! the header's state root. Then tampered blocks are rejected with their reason, and
//! nothing of them is stored.

use std::path::PathBuf;
use weft_block::{Block, Justifications, H256};
use weft_block_import::blocks_file::BlocksFile;
use weft_block_import::{initialize_from_spec, ImportError, Importer, RejectReason};
use weft_chain_spec::ChainSpec;
use weft_chain_store::{ChainStore, StoreConfig};
use weft_runtime_executor::Executor;

fn fixture(relative: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures")).join(relative)
}

const WESTEND_256: &str = "0xb7f3334eaa611483108de2f2c25a5d8e2aeefca56dfe20201fdc8618eb6571bf";

fn blocks() -> Vec<(Block, Option<Justifications>)> {
    BlocksFile::read(&fixture("blocks/westend/westend_blocks_1-256.json")).unwrap().decode().unwrap()
}

fn importer(dir: &std::path::Path) -> Importer {
    let spec = ChainSpec::from_file(&fixture("chain-specs/full-raw/westend.json")).unwrap();
    let store = ChainStore::open(&dir.join("db"), StoreConfig::default()).unwrap();
    let executor = Executor::default();
    initialize_from_spec(&store, &executor, &spec).unwrap();
    Importer::new(store, executor).unwrap()
}

fn rejected(err: ImportError) -> (u32, RejectReason, String) {
    let text = err.to_string();
    match err {
        ImportError::Rejected { number, reason, .. } => (number, *reason, text),
        other => panic!("expected a rejection, got {other}"),
    }
}

#[test]
fn westend_1_to_256_replay_and_tampering() {
    let dir = tempfile::tempdir().unwrap();
    let mut importer = importer(dir.path());
    let blocks = blocks();
    assert_eq!(blocks.len(), 256);
    let (mut primary, mut secondary) = (0, 0);
    for (block, justifications) in &blocks[..255] {
        let outcome = importer.import_block(block, justifications.as_ref()).unwrap();
        assert!(outcome.is_best && !outcome.already_known);
        let babe = importer.epoch_state(&outcome.hash).unwrap().unwrap();
        let pre_digest = block.header.babe_pre_digest().unwrap().unwrap();
        if pre_digest.is_primary() {
            primary += 1;
        } else {
            secondary += 1;
        }
        assert_eq!(babe.slot, pre_digest.slot());
    }
    let store = importer.store().clone();
    let stats_before = store.stats().unwrap();
    let parent_hash = store.best().unwrap().1;

    // Tampered versions of #256 are each rejected, naming the block and the reason.
    let original = blocks[255].0.clone();
    let mut texts = Vec::new();
    let mut check = |importer: &mut Importer, block: &Block, expect: &dyn Fn(&RejectReason) -> bool| {
        let (number, reason, text) = rejected(importer.import_block(block, None).unwrap_err());
        assert_eq!(number, block.header.number, "{text}");
        assert!(text.contains(&format!("#{number}")), "{text}");
        assert!(expect(&reason), "unexpected reason: {text}");
        texts.push(text);
    };
    // A body with one byte changed.
    let mut bad_body = original.clone();
    let last = bad_body.extrinsics.last_mut().unwrap();
    let n = last.0.len();
    last.0[n - 1] ^= 1;
    check(&mut importer, &bad_body, &|r| matches!(r, RejectReason::ExtrinsicsRoot));
    // A wrong state root: the seal covers it, BABE rejects it first.
    let mut bad_root = original.clone();
    bad_root.header.state_root = H256([0x42; 32]);
    check(&mut importer, &bad_root, &|r| matches!(r, RejectReason::Babe(_)));
    // A bad seal.
    let mut bad_seal = original.clone();
    let mut logs = bad_seal.header.digest.logs().to_vec();
    if let Some(weft_block::DigestItem::Seal(_, sig)) = logs.last_mut() {
        sig[10] ^= 0xff;
    }
    bad_seal.header.digest = weft_block::Digest::new(logs);
    check(&mut importer, &bad_seal, &|r| matches!(r, RejectReason::Babe(_)));
    // The slot claimed by a non-authority (index 7 of 4), and by another authority.
    for index in [7u32, 0, 1, 2, 3] {
        let mut claimed = original.clone();
        let mut logs = claimed.header.digest.logs().to_vec();
        let mut pre = original.header.babe_pre_digest().unwrap().unwrap();
        if pre.authority_index() == index {
            continue;
        }
        match &mut pre {
            weft_block::babe::PreDigest::Primary(p) => p.authority_index = index,
            weft_block::babe::PreDigest::SecondaryPlain(p) => p.authority_index = index,
            weft_block::babe::PreDigest::SecondaryVRF(p) => p.authority_index = index,
        }
        logs[0] =
            weft_block::DigestItem::PreRuntime(weft_block::BABE_ENGINE_ID, parity_scale_codec::Encode::encode(&pre));
        claimed.header.digest = weft_block::Digest::new(logs);
        check(&mut importer, &claimed, &|r| matches!(r, RejectReason::Babe(_)));
    }
    // Unknown parent.
    let mut orphan = original.clone();
    orphan.header.parent_hash = H256([9; 32]);
    check(&mut importer, &orphan, &|r| matches!(r, RejectReason::UnknownParent(_)));
    // With BABE off (research mode), the wrong state root reaches execution: the runtime
    // and the host both refuse it.
    importer.set_babe_verification(false);
    check(&mut importer, &bad_root, &|r| matches!(r, RejectReason::Execution(_) | RejectReason::StateRoot { .. }));
    importer.set_babe_verification(true);
    // A GRANDPA justification of another chain attached to the genuine #256: its voters
    // are not Westend's GRANDPA authorities.
    let foreign = std::fs::read(fixture("finality/smoldot-grandpa-justification-302592.bin")).unwrap();
    let justifications = Justifications::new(weft_block::GRANDPA_ENGINE_ID, foreign);
    let (number, reason, text) = rejected(importer.import_block(&original, Some(&justifications)).unwrap_err());
    assert_eq!(number, 256);
    assert!(matches!(reason, RejectReason::Justification(_)), "{text}");
    texts.push(text);
    for text in &texts {
        println!("{text}");
    }

    // Nothing of them was stored.
    assert_eq!(store.stats().unwrap().trie_nodes, stats_before.trie_nodes);
    assert_eq!(store.leaves().unwrap(), vec![(255, parent_hash)]);
    assert_eq!(store.verify_reference_counts().unwrap(), 0);

    // The genuine #256.
    let outcome = importer.import_block(&original, None).unwrap();
    assert!(outcome.is_best);
    let (best_number, best_hash) = store.best().unwrap();
    assert_eq!((best_number, format!("{best_hash:?}")), (256, WESTEND_256.to_string()));
    assert_eq!((primary, secondary + 1), (62, 194));
    let t = importer.timings();
    println!(
        "imported {} blocks: verification {:?}, execution {:?}, commit {:?}, runtime loading {:?}",
        t.blocks, t.verification, t.execution, t.commit, t.runtime_loading
    );
    assert_eq!(store.verify_reference_counts().unwrap(), 0);

    // Importing again finds the block; check-block re-executes a stored block.
    assert!(importer.import_block(&blocks[100].0, None).unwrap().already_known);
    importer.check_block(&best_hash).unwrap();
}

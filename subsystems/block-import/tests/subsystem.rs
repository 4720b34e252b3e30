//! Block import as an overseer subsystem, driven directly with a test context: an
//! `ImportBlocks` request of real Westend blocks is answered with their hashes, each new
//! best block is reported as an `ActiveLeaves` signal and announced to the network
//! bridge; an invalid block stops the batch with an error naming it.

use rand::SeedableRng;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_block_import::blocks_file::BlocksFile;
use weft_block_import::subsystem::BlockImportSubsystem;
use weft_block_import::{initialize_from_spec, Importer};
use weft_chain_spec::ChainSpec;
use weft_chain_store::{ChainStore, StoreConfig};
use weft_messages::{
    oneshot, AllMessages, BlockImportMessage, BlockImportSlot, BlockOrigin, IncomingBlock, NetworkBridgeMessage,
    OverseerSignal,
};
use weft_overseer::{DynSubsystem, Effect, Input, RawContext};
use weft_runtime_executor::Executor;

fn fixture(relative: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures")).join(relative)
}

fn incoming(count: usize, skip: usize) -> Vec<IncomingBlock> {
    let file = BlocksFile::read(&fixture("blocks/westend/westend_blocks_1-256.json")).unwrap();
    file.decode()
        .unwrap()
        .into_iter()
        .skip(skip)
        .take(count)
        .map(|(block, _)| IncomingBlock {
            header: block.header,
            body: block.extrinsics.iter().map(|x| x.encoded()).collect(),
            justification: None,
            origin: BlockOrigin::File,
        })
        .collect()
}

fn deliver(subsystem: &mut BlockImportSubsystem, message: BlockImportMessage) -> Vec<AllMessages> {
    let clock = Duration::ZERO;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut timers = 0;
    let mut ctx = RawContext::new(&clock, &mut rng, &mut timers);
    DynSubsystem::<BlockImportSlot>::handle(subsystem, Input::Message(message), &mut ctx);
    ctx.into_effects()
        .into_iter()
        .map(|e| match e {
            Effect::Send(m) => m.into(),
            other => panic!("unexpected effect {other:?}"),
        })
        .collect()
}

#[test]
fn imports_through_the_subsystem_and_reports_leaves() {
    let dir = tempfile::tempdir().unwrap();
    let spec = ChainSpec::from_file(&fixture("chain-specs/full-raw/westend.json")).unwrap();
    let store = ChainStore::open(&dir.path().join("db"), StoreConfig::default()).unwrap();
    let executor = Executor::default();
    initialize_from_spec(&store, &executor, &spec).unwrap();
    let signals = Arc::new(Mutex::new(Vec::new()));
    let sink_signals = signals.clone();
    let mut subsystem = BlockImportSubsystem::new(
        Importer::new(store.clone(), executor).unwrap(),
        Arc::new(move |s| sink_signals.lock().unwrap().push(s)),
    );

    let blocks = incoming(5, 0);
    let expected: Vec<_> = blocks.iter().map(|b| b.header.hash()).collect();
    let (tx, mut rx) = oneshot::channel();
    let sent = deliver(&mut subsystem, BlockImportMessage::ImportBlocks { blocks, reply: tx });
    assert_eq!(rx.try_recv().unwrap().unwrap().unwrap(), expected);
    assert_eq!(sent.len(), 5);
    for (message, hash) in sent.iter().zip(&expected) {
        assert!(
            matches!(message, AllMessages::NetworkBridge(NetworkBridgeMessage::AnnounceBlock { hash: h, .. }) if h == hash),
            "{message:?}"
        );
    }
    let signals = signals.lock().unwrap().clone();
    assert_eq!(signals.len(), 5);
    for (i, signal) in signals.iter().enumerate() {
        match signal {
            OverseerSignal::ActiveLeaves(update) => {
                let leaf = update.activated.unwrap();
                assert_eq!((leaf.hash, leaf.number), (expected[i], i as u32 + 1));
            }
            other => panic!("unexpected signal {other:?}"),
        }
    }
    assert_eq!(store.best().unwrap(), (5, expected[4]));

    // A block with an unknown parent (skipping #6) is refused by name.
    let (tx, mut rx) = oneshot::channel();
    let sent = deliver(&mut subsystem, BlockImportMessage::ImportBlocks { blocks: incoming(1, 6), reply: tx });
    let error = rx.try_recv().unwrap().unwrap().unwrap_err();
    assert!(error.contains("block #7") && error.contains("parent"), "{error}");
    assert!(sent.is_empty());
}

//! Block execution on real state: smoldot's `execute-block` fixtures (a
//! swanky-node block that creates, reads or destroys child tries, with the
//! full state of its parent, child tries included).
//!
//! `Core_execute_block(header ++ compact(n) ++ extrinsics)` must succeed (the
//! runtime itself compares the storage root it obtains through
//! `ext_storage_root_version_2` with the header), and the root of the
//! parent state plus the call's changes must equal the header's state root,
//! computed both from the overlay and from a backend with the changes applied.

use parity_scale_codec::{Compact, Decode, Encode};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use weft_runtime_executor::{heap_pages_from_storage, Executor, Externalities, InMemoryBackend, StateVersion};

fn fixture_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/executor/smoldot-execute-block"))
}

fn hex_bytes(value: &serde_json::Value) -> Vec<u8> {
    let text = value.as_str().expect("hex string");
    hex::decode(text.trim_start_matches("0x")).expect("valid hex")
}

fn map(value: &serde_json::Value) -> BTreeMap<Vec<u8>, Vec<u8>> {
    value
        .as_object()
        .expect("object")
        .iter()
        .map(|(k, v)| (hex::decode(k.trim_start_matches("0x")).expect("hex key"), hex_bytes(v)))
        .collect()
}

/// The state root of a SCALE header: after the parent hash and the compact number.
fn header_state_root(header: &[u8]) -> [u8; 32] {
    let mut rest = &header[32..];
    Compact::<u64>::decode(&mut rest).expect("block number");
    rest[..32].try_into().expect("state root")
}

#[test]
fn execute_block_fixtures() {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixture_dir())
        .expect("fixture directory")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    assert_eq!(files.len(), 4, "expected the four smoldot fixtures");

    let executor = Executor::default();
    let mut modules = BTreeMap::new();
    let mut failures = Vec::new();
    for file in &files {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        let data: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
        let header = hex_bytes(&data["block"]["header"]);
        let body: Vec<Vec<u8>> = data["block"]["body"].as_array().unwrap().iter().map(hex_bytes).collect();
        let main = map(&data["parentStorage"]["mainTrie"]);
        let children: BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>> = data["parentStorage"]["childTries"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (hex::decode(k.trim_start_matches("0x")).unwrap(), map(v)))
            .collect();

        let code = main.get(&b":code"[..]).expect(":code").clone();
        let heap_pages = heap_pages_from_storage(main.get(&b":heappages"[..]).map(Vec::as_slice));
        let module = modules
            .entry((code.clone(), heap_pages))
            .or_insert_with(|| executor.compile(&code, heap_pages).expect("runtime compiles"))
            .clone();
        let version = module.core_version().expect("Core_version");
        let state_version = if version.trie_state_version() == 0 { StateVersion::V0 } else { StateVersion::V1 };

        let backend = Arc::new(InMemoryBackend::new(main, children));
        let mut input = header.clone();
        Compact(body.len() as u32).encode_to(&mut input);
        for extrinsic in &body {
            input.extend_from_slice(extrinsic);
        }
        let mut ext = Externalities::new(backend.clone());
        let start = Instant::now();
        let result = module.call_with("Core_execute_block", &input, &mut ext);
        let elapsed = start.elapsed();
        if let Err(e) = result {
            failures.push(format!("{name}: Core_execute_block failed: {e}"));
            continue;
        }
        let expected = header_state_root(&header);
        let root = ext.overlay.storage_root(&*backend, state_version).expect("root");
        let changes = ext.changes();
        let mut applied = (*backend).clone();
        applied.apply(&changes, state_version);
        println!(
            "{name}: {} extrinsics executed in {elapsed:.2?}; {} main and {} child-trie changes; root {}",
            body.len(),
            changes.main.len(),
            changes.children.values().map(|c| c.len()).sum::<usize>(),
            hex::encode(root)
        );
        if root != expected {
            failures.push(format!("{name}: root {} != header {}", hex::encode(root), hex::encode(expected)));
        }
        if applied.root(state_version) != expected {
            failures.push(format!("{name}: root of the applied changes differs from the header"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

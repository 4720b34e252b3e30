//! `Metadata_metadata` of the current relay-chain runtimes: the output is a
//! SCALE `Vec<u8>` (`OpaqueMetadata`) whose content starts with the "meta"
//! magic and decodes with the `frame-metadata` crate.

use frame_metadata::{RuntimeMetadata, RuntimeMetadataPrefixed, META_RESERVED};
use parity_scale_codec::Decode;
use std::path::PathBuf;
use std::time::Instant;
use weft_runtime_executor::{Executor, DEFAULT_HEAP_PAGES};

fn runtime(name: &str) -> Vec<u8> {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/runtimes")).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn metadata_of_current_relay_runtimes_decodes() {
    let executor = Executor::default();
    for (file, spec_name) in [
        ("rococo_runtime-v1015000.compact.compressed.wasm", "rococo"),
        ("westend_runtime-v1015000.compact.compressed.wasm", "westend"),
    ] {
        let start = Instant::now();
        let module = executor.compile(&runtime(file), DEFAULT_HEAP_PAGES).expect("compiles");
        let compiled = start.elapsed();
        let start = Instant::now();
        let output = module.call("Metadata_metadata", &[]).expect("Metadata_metadata");
        let called = start.elapsed();
        let bytes = Vec::<u8>::decode(&mut &output[..]).expect("OpaqueMetadata is a SCALE Vec<u8>");
        assert_eq!(&bytes[..4], &META_RESERVED.to_le_bytes(), "{file}: no \"meta\" magic");
        assert_eq!(&bytes[..4], b"meta");
        let prefixed = RuntimeMetadataPrefixed::decode(&mut &bytes[..]).expect("metadata decodes");
        let (version, pallets) = match &prefixed.1 {
            RuntimeMetadata::V14(m) => (14, m.pallets.len()),
            RuntimeMetadata::V15(m) => (15, m.pallets.len()),
            RuntimeMetadata::V16(m) => (16, m.pallets.len()),
            other => panic!("{file}: unexpected metadata version {}", other.version()),
        };
        assert!(pallets > 20, "{file}: only {pallets} pallets");
        let has_system = match &prefixed.1 {
            RuntimeMetadata::V14(m) => m.pallets.iter().any(|p| p.name == "System"),
            RuntimeMetadata::V15(m) => m.pallets.iter().any(|p| p.name == "System"),
            RuntimeMetadata::V16(m) => m.pallets.iter().any(|p| p.name == "System"),
            _ => false,
        };
        assert!(has_system, "{file}: no System pallet");
        println!(
            "{spec_name}: compile {compiled:.2?}, Metadata_metadata {called:.2?}: {} bytes, V{version}, {pallets} pallets",
            bytes.len()
        );
    }
}

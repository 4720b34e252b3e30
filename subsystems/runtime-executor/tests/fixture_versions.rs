//! Calls `Core_version` on every real runtime among the fixtures and compares
//! the result with the recorded versions:
//!
//! * every blob in `runtimes/RUNTIMES.json` that has a `Core_version` entry
//!   (the PVFs and the W3F host-API test runtime have none and are skipped);
//! * the genesis `:code` of every raw chain spec in `chain-specs/GENESIS.json`
//!   (light specs carry no state and are skipped).
//!
//! The version is always obtained by *calling* the runtime, never from its
//! custom sections. Compile and call times are printed (`--nocapture`).

use blake2::digest::consts::U8;
use blake2::{Blake2b, Digest};
use std::path::PathBuf;
use std::time::Instant;
use weft_runtime_blob::{decompress_zstd_frame, RuntimeVersion, CODE_BLOB_BOMB_LIMIT};
use weft_runtime_executor::{heap_pages_from_storage, Executor, DEFAULT_HEAP_PAGES};

fn fixtures() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures"))
}

fn read_json(relative: &str) -> serde_json::Value {
    let bytes = std::fs::read(fixtures().join(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

fn hex_bytes(text: &str) -> Vec<u8> {
    hex::decode(text.trim().trim_start_matches("0x")).expect("valid hex")
}

/// `blake2_64(name)`, or the literal id when RUNTIMES.json lists an unnamed API as hex.
fn api_id(name: &str) -> [u8; 8] {
    if let Some(hex) = name.strip_prefix("0x") {
        return hex::decode(hex).unwrap().try_into().unwrap();
    }
    Blake2b::<U8>::digest(name.as_bytes()).into()
}

/// Differences between a decoded version and a recorded JSON object (empty if equal).
fn compare(version: &RuntimeVersion, expected: &serde_json::Value) -> Vec<String> {
    let mut diffs = Vec::new();
    let mut check = |field: &str, got: serde_json::Value| {
        // The optional tails: a missing entry means the runtime has no such field.
        let optional = matches!(field, "transaction_version" | "state_version");
        let want = match expected.get(field) {
            Some(want) => want.clone(),
            None if optional => serde_json::Value::Null,
            None => return,
        };
        if want != got {
            diffs.push(format!("{field}: got {got}, expected {want}"));
        }
    };
    check("spec_name", version.spec_name.clone().into());
    check("impl_name", version.impl_name.clone().into());
    check("authoring_version", version.authoring_version.into());
    check("spec_version", version.spec_version.into());
    check("impl_version", version.impl_version.into());
    check("transaction_version", version.transaction_version.into());
    check("state_version", version.state_version.into());
    check("Core_api_version", version.core_version().into());
    if let Some(apis) = expected.get("apis").and_then(|a| a.as_object()) {
        let mut want: Vec<([u8; 8], u32)> =
            apis.iter().map(|(name, v)| (api_id(name), v.as_u64().unwrap() as u32)).collect();
        let mut got = version.apis.clone();
        want.sort();
        got.sort();
        if want != got {
            diffs.push(format!(
                "apis: got {} entries {:?}, expected {} entries {:?}",
                got.len(),
                got,
                want.len(),
                want
            ));
        }
    }
    diffs
}

#[test]
fn core_version_of_every_fixture_runtime() {
    let index = read_json("runtimes/RUNTIMES.json");
    let executor = Executor::default();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut skipped = Vec::new();
    for (name, entry) in index.as_object().unwrap() {
        let Some(expected) = entry.get("Core_version").filter(|v| v.as_object().is_some_and(|o| !o.is_empty())) else {
            skipped.push(name.clone());
            continue;
        };
        let mut bytes = std::fs::read(fixtures().join(name)).unwrap();
        if name.ends_with(".hex") {
            bytes = hex_bytes(std::str::from_utf8(&bytes).unwrap());
        }
        if name.ends_with(".zstd-frame") {
            bytes = decompress_zstd_frame(&bytes, CODE_BLOB_BOMB_LIMIT).unwrap();
        }
        let start = Instant::now();
        let module = match executor.compile(&bytes, DEFAULT_HEAP_PAGES) {
            Ok(module) => module,
            Err(e) => {
                failures.push(format!("{name}: compile: {e}"));
                continue;
            }
        };
        let compiled = start.elapsed();
        let start = Instant::now();
        let first = module.core_version();
        let first_call = start.elapsed();
        let start = Instant::now();
        let second = module.core_version();
        let second_call = start.elapsed();
        println!(
            "{name}: {} KiB wasm, load+compile {:.2?} (Cranelift {:.2?}), Core_version {:.2?} then {:.2?}, stubbed imports: {:?}",
            module.wasm_len() / 1024,
            compiled,
            module.compile_time(),
            first_call,
            second_call,
            module.stubbed_imports()
        );
        match first {
            Ok(version) => {
                let diffs = compare(&version, expected);
                if !diffs.is_empty() {
                    failures.push(format!("{name}: {}", diffs.join("; ")));
                }
                assert_eq!(second.ok(), Some(version), "{name}: second call differs");
                checked += 1;
            }
            Err(e) => failures.push(format!("{name}: Core_version: {e}")),
        }
    }
    println!("checked {checked} runtimes; skipped (no Core_version recorded): {skipped:?}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 9, "only {checked} runtimes checked");
}

#[test]
fn core_version_of_every_genesis_runtime() {
    let index = read_json("chain-specs/GENESIS.json");
    let executor = Executor::default();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut skipped = Vec::new();
    for (name, entry) in index.as_object().unwrap() {
        let Some(expected) = entry.get("genesis_runtime").filter(|v| v.is_object()) else {
            skipped.push(name.clone());
            continue;
        };
        let spec = read_json(name);
        let top = &spec["genesis"]["raw"]["top"];
        let Some(code) = top.get("0x3a636f6465").and_then(|c| c.as_str()) else {
            failures.push(format!("{name}: no :code in genesis.raw.top"));
            continue;
        };
        let code = hex_bytes(code);
        let heap_pages = heap_pages_from_storage(
            top.get("0x3a686561707061676573").and_then(|v| v.as_str()).map(hex_bytes).as_deref(),
        );
        let start = Instant::now();
        let module = match executor.compile(&code, heap_pages) {
            Ok(module) => module,
            Err(e) => {
                failures.push(format!("{name}: compile: {e}"));
                continue;
            }
        };
        let compiled = start.elapsed();
        let start = Instant::now();
        let version = module.core_version();
        println!(
            "{name}: heap pages {heap_pages}, {} KiB wasm, compile {:.2?}, Core_version {:.2?}, stubbed imports: {:?}",
            module.wasm_len() / 1024,
            compiled,
            start.elapsed(),
            module.stubbed_imports()
        );
        match version {
            Ok(version) => {
                let diffs = compare(&version, expected);
                if !diffs.is_empty() {
                    failures.push(format!("{name}: {}", diffs.join("; ")));
                }
                checked += 1;
            }
            Err(e) => failures.push(format!("{name}: Core_version: {e}")),
        }
    }
    println!("checked {checked} genesis runtimes; skipped (light specs): {skipped:?}");
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n"));
    assert!(checked >= 10, "only {checked} genesis runtimes checked");
}

#[test]
fn runtime_version_prefers_sections_and_falls_back_to_core_version() {
    // westend v9300 carries the sections; gossamer's node runtime does not.
    for (file, spec_version) in
        [("runtimes/westend-runtime-v9300.wasm", 9300), ("runtimes/gossamer-node_runtime.compact.wasm", 262)]
    {
        let code = std::fs::read(fixtures().join(file)).unwrap();
        let version = weft_runtime_executor::runtime_version(&code).unwrap();
        assert_eq!(version.spec_version, spec_version, "{file}");
    }
}

//! Reads the runtime version from the custom sections of the real runtime blobs
//! in `../shared/fixtures/runtimes` and compares it with `Core_version` outputs
//! recorded in RUNTIMES.json.

use std::path::PathBuf;
use weft_runtime_blob::{decompress, decompress_zstd_frame, version_from_custom_sections, CODE_BLOB_BOMB_LIMIT};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures")
}

#[test]
fn custom_section_versions_match_core_version() {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("runtimes/RUNTIMES.json")).unwrap()).unwrap();
    let mut with_section = 0;
    let mut without_section = 0;
    for (name, entry) in index.as_object().unwrap() {
        let path = fixtures().join(name);
        let mut bytes = std::fs::read(&path).unwrap();
        if name.ends_with(".hex") {
            bytes = hex::decode(String::from_utf8(bytes).unwrap().trim().trim_start_matches("0x")).unwrap();
        }
        let wasm = if name.ends_with(".zstd-frame") {
            decompress_zstd_frame(&bytes, CODE_BLOB_BOMB_LIMIT).unwrap()
        } else {
            decompress(&bytes, CODE_BLOB_BOMB_LIMIT).unwrap().into_owned()
        };
        if let Some(expected_len) = entry.get("uncompressed_bytes").and_then(|v| v.as_u64()) {
            assert_eq!(wasm.len() as u64, expected_len, "{name}: uncompressed size");
        }
        let version = version_from_custom_sections(&wasm).unwrap_or_else(|e| panic!("{name}: {e}"));
        let present = entry.get("runtime_version_custom_section_present").and_then(|v| v.as_bool());
        match version {
            Some(v) => {
                with_section += 1;
                assert_eq!(present, Some(true), "{name}: section found but not expected");
                let core = &entry["Core_version"];
                assert_eq!(v.spec_name, core["spec_name"].as_str().unwrap(), "{name}");
                assert_eq!(v.impl_name, core["impl_name"].as_str().unwrap(), "{name}");
                assert_eq!(u64::from(v.spec_version), core["spec_version"].as_u64().unwrap(), "{name}");
                assert_eq!(
                    v.transaction_version.map(u64::from),
                    core["transaction_version"].as_u64(),
                    "{name}: transaction_version"
                );
                assert_eq!(v.state_version.map(u64::from), core["state_version"].as_u64(), "{name}: state_version");
                assert_eq!(v.apis.len(), core["apis"].as_object().unwrap().len(), "{name}: api count");
            }
            None => {
                without_section += 1;
                assert_ne!(present, Some(true), "{name}: section expected but not found");
            }
        }
    }
    assert!(with_section >= 4, "only {with_section} blobs carried the section");
    assert!(without_section >= 4, "only {without_section} blobs lacked the section");
}

#[test]
fn bomb_limit_applies_to_real_runtime() {
    let bytes = std::fs::read(fixtures().join("runtimes/westend-runtime-v9300.wasm")).unwrap();
    let err = decompress(&bytes, 1024 * 1024).unwrap_err();
    assert_eq!(err.to_string(), "compressed runtime expands beyond the limit of 1048576 bytes");
}

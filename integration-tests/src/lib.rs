//! Helpers shared by Weft's conformance tests: locating `../shared/fixtures`
//! (beside the repository root) and reading hex and JSON fixture files.
//!
//! The tests themselves live in `tests/`; each reads real chain data and
//! compares Weft's results with values published by the networks or recorded in
//! the fixtures' index files.

use std::path::{Path, PathBuf};

/// Root of the shared fixtures: `<repo>/../shared/fixtures`.
pub fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures")
}

/// Path of a fixture file, relative to the fixtures root.
pub fn fixture(relative: &str) -> PathBuf {
    fixtures_dir().join(relative)
}

/// Reads a fixture file; panics with the path if it is missing (tests only).
pub fn read_fixture(relative: &str) -> Vec<u8> {
    let path = fixture(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// Parses a JSON fixture.
pub fn json_fixture(relative: &str) -> serde_json::Value {
    serde_json::from_slice(&read_fixture(relative))
        .unwrap_or_else(|e| panic!("fixture {relative} is not valid JSON: {e}"))
}

/// Decodes a `0x`-prefixed (or bare) hex string.
pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim().trim_start_matches("0x")).unwrap_or_else(|e| panic!("bad hex {s:.40}: {e}"))
}

/// Formats bytes as `0x`-prefixed lowercase hex.
pub fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

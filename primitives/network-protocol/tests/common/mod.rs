//! Loading of the shared Westend fixtures (read in place, never copied).

#![allow(dead_code)]

use std::collections::BTreeMap;

use serde::Deserialize;

pub const FIXTURE_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/blocks/westend");

pub const WESTEND_GENESIS: &str = "e143f23803ac50e8f6f8e62695d1ce9e4e1d68aa36c1cd2cfd15340213f3423e";

/// One block of `westend_blocks_1-256.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct FixtureBlock {
    pub number: u32,
    pub hash: String,
    pub parent_hash: String,
    pub header_hex: String,
    pub body_extrinsics_hex: Vec<String>,
}

#[derive(Deserialize)]
struct BlocksFile {
    blocks: Vec<FixtureBlock>,
}

pub fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim().trim_start_matches("0x")).expect("fixture hex")
}

/// Westend #1..=#256, indexed by number - 1.
pub fn westend_blocks() -> Vec<FixtureBlock> {
    let text = std::fs::read_to_string(format!("{FIXTURE_DIR}/westend_blocks_1-256.json")).expect("read json fixture");
    let file: BlocksFile = serde_json::from_str(&text).expect("parse json fixture");
    assert_eq!(file.blocks.len(), 256);
    for (i, b) in file.blocks.iter().enumerate() {
        assert_eq!(b.number as usize, i + 1);
    }
    file.blocks
}

/// The three BlockResponse messages: `blocks_1_to_10`, `blocks_1_to_128`, `blocks_129_to_256`.
pub fn westend_responses() -> BTreeMap<String, Vec<u8>> {
    let text = std::fs::read_to_string(format!("{FIXTURE_DIR}/westend_blocks_1-256.blockresponse-protobuf.yaml"))
        .expect("read yaml fixture");
    let map: BTreeMap<String, String> = serde_yaml::from_str(&text).expect("parse yaml fixture");
    assert_eq!(map.len(), 3, "{:?}", map.keys().collect::<Vec<_>>());
    map.into_iter().map(|(k, v)| (k, unhex(&v))).collect()
}

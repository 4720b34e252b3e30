//! Helpers shared by the network-bridge integration tests: the real Westend fixtures and
//! empty stores and loopback addresses for test nodes.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use weft_block::{Block, Justifications};
use weft_block_import::blocks_file::BlocksFile;
use weft_chain_spec::ChainSpec;
use weft_chain_store::{ChainStore, StoreConfig};
use weft_network_bridge::Multiaddr;

/// Hash of Westend #256, the last block of the fixture file.
pub const WESTEND_256: &str = "0xb7f3334eaa611483108de2f2c25a5d8e2aeefca56dfe20201fdc8618eb6571bf";

/// A file of `../shared/fixtures`.
pub fn fixture(relative: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures")).join(relative)
}

/// The raw Westend chain spec.
pub fn westend_spec() -> ChainSpec {
    ChainSpec::from_file(&fixture("chain-specs/full-raw/westend.json")).unwrap()
}

/// Westend #1..=#256 with their justifications.
pub fn westend_blocks() -> Vec<(Block, Option<Justifications>)> {
    BlocksFile::read(&fixture("blocks/westend/westend_blocks_1-256.json")).unwrap().decode().unwrap()
}

/// A chain store in `dir` with nothing in it.
pub fn empty_store(dir: &Path) -> ChainStore {
    ChainStore::open(&dir.join("db"), StoreConfig::default()).unwrap()
}

/// Any free TCP port on 127.0.0.1.
pub fn loopback() -> Multiaddr {
    "/ip4/127.0.0.1/tcp/0".parse().unwrap()
}

//! Genesis of real networks: every chain spec in the fixtures gives the genesis
//! hash and state root that chain-specs/GENESIS.json (and, for the live relay
//! chains, the networks themselves) list.

use weft_chain_spec::{ChainSpec, Genesis};
use weft_integration_tests::{fixture, hex0x, json_fixture};
use weft_trie::StateVersion;

const POLKADOT_GENESIS: &str = "0x91b171bb158e2d3848fa23a9f1c25182fb8e20313b2c1eb49219da7a70ce90c3";
const WESTEND_GENESIS: &str = "0xe143f23803ac50e8f6f8e62695d1ce9e4e1d68aa36c1cd2cfd15340213f3423e";

fn genesis_hash_of(relative: &str) -> (String, String, Option<StateVersion>) {
    let spec = ChainSpec::from_file(&fixture(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
    let info = spec.build_genesis(StateVersion::V0).unwrap_or_else(|e| panic!("{relative}: {e}"));
    (hex0x(info.hash().as_bytes()), hex0x(info.header.state_root.as_bytes()), info.state_version)
}

#[test]
fn polkadot_genesis_hash() {
    let (hash, root, version) = genesis_hash_of("chain-specs/full-raw/polkadot.json");
    assert_eq!(hash, POLKADOT_GENESIS);
    assert_eq!(root, "0x29d0d972cd27cbc511e9589fcb7a4506d5eb6a9e8df205f00472e5ab354a4e17");
    assert_eq!(version, Some(StateVersion::V0));
}

#[test]
fn westend_genesis_hash() {
    let (hash, _, _) = genesis_hash_of("chain-specs/full-raw/westend.json");
    assert_eq!(hash, WESTEND_GENESIS);
}

/// Every spec listed in GENESIS.json: hash, state root, key count, trie version,
/// and the runtime version when the genesis code carries the custom section.
#[test]
fn every_listed_spec_matches_genesis_index() {
    let index = json_fixture("chain-specs/GENESIS.json");
    let mut checked = 0;
    for (relative, entry) in index.as_object().unwrap() {
        let spec = ChainSpec::from_file(&fixture(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"));
        assert_eq!(spec.id, entry["id"].as_str().unwrap(), "{relative}: id");
        assert_eq!(spec.name, entry["name"].as_str().unwrap(), "{relative}: name");
        let info = spec.build_genesis(StateVersion::V0).unwrap_or_else(|e| panic!("{relative}: {e}"));
        assert_eq!(hex0x(info.hash().as_bytes()), entry["genesis_hash"].as_str().unwrap(), "{relative}: genesis hash");
        assert_eq!(
            hex0x(info.header.state_root.as_bytes()),
            entry["genesis_state_root"].as_str().unwrap(),
            "{relative}: state root"
        );
        match &spec.genesis {
            Genesis::Raw(storage) => {
                assert_eq!(storage.top.len() as u64, entry["top_keys"].as_u64().unwrap(), "{relative}: keys");
                let expected_version = entry["trie_version_used"].as_u64().unwrap();
                let version = match info.state_version.unwrap() {
                    StateVersion::V0 => 0,
                    StateVersion::V1 => 1,
                };
                assert_eq!(version, expected_version, "{relative}: trie version");
                let runtime = &entry["genesis_runtime"];
                if let Some(v) = &info.runtime_version {
                    assert_eq!(v.spec_name, runtime["spec_name"].as_str().unwrap(), "{relative}");
                    assert_eq!(u64::from(v.spec_version), runtime["spec_version"].as_u64().unwrap(), "{relative}");
                }
                // Specs whose runtime declares V1 must have been read from the code, not the fallback.
                if expected_version == 1 {
                    assert!(info.runtime_version.is_some(), "{relative}: V1 without a readable runtime version");
                }
            }
            Genesis::StateRootHash(_) => {
                if let Some(expected) = entry.get("lightSyncState").filter(|v| !v.is_null()) {
                    let checkpoint = spec.light_sync_state.as_ref().expect("lightSyncState parsed");
                    let header = &checkpoint.finalized_block_header;
                    let text = expected.to_string();
                    assert!(
                        text.contains(&header.number.to_string()),
                        "{relative}: checkpoint number {}",
                        header.number
                    );
                    assert!(text.contains(&hex0x(header.hash().as_bytes())), "{relative}: checkpoint hash");
                }
            }
        }
        checked += 1;
    }
    assert_eq!(checked, 17, "GENESIS.json lists 17 specs");
}

/// The light specs' checkpoints, as MANIFEST.md lists them.
#[test]
fn light_spec_checkpoints() {
    let expected = [
        ("ksmcc3", 31697400, "0x33dcadca96cba14973d91a8a5c09f7165b754d00ef2682a30c865aec75a2dabe"),
        ("paseo", 9802429, "0x13bbdfb74feb7766e40029307631199f8b842a964d387f68c962a9a7aff81b37"),
        ("polkadot", 29378183, "0xb59af2237155c00bb0522707366ddf800002b8a7bb2ef4f6694d5baa98392fad"),
        ("rococo_v2_2", 12624990, "0x2bb3b310b642e4e61729f31677ba797851507f3e050f10e7ea4e0d85bccfcc67"),
        ("westend2", 29233814, "0x4e2dbce5bbb777bf77addb2dbe570f863ad9569739f8d9b7aca80377bc64ed6c"),
    ];
    for (id, number, hash) in expected {
        let file = format!("chain-specs/light/{}.smoldot-demo.json", if id == "ksmcc3" { "ksmcc3" } else { id });
        let spec = ChainSpec::from_file(&fixture(&file)).unwrap();
        assert_eq!(spec.id, id);
        let header = &spec.light_sync_state.as_ref().unwrap().finalized_block_header;
        assert_eq!(header.number, number, "{id}");
        assert_eq!(hex0x(header.hash().as_bytes()), hash, "{id}");
    }
    let asset_hub = ChainSpec::from_file(&fixture("chain-specs/light/polkadot_asset_hub.smoldot-demo.json")).unwrap();
    assert_eq!(asset_hub.para_id, Some(1000));
    assert_eq!(asset_hub.relay_chain.as_deref(), Some("polkadot"));
}

#[test]
fn polkadot_spec_fields() {
    let spec = ChainSpec::from_file(&fixture("chain-specs/full-raw/polkadot.json")).unwrap();
    assert_eq!(spec.protocol_id.as_deref(), Some("dot"));
    assert_eq!(spec.chain_type.as_deref(), Some("Live"));
    assert!(spec.boot_nodes.len() > 10);
    assert_eq!(spec.properties["tokenSymbol"], "DOT");
    // Polkadot replaced its runtime at #5203203 with a code substitute.
    let substitute = spec.code_substitutes.get(&5_203_203).expect("code substitute at #5203203");
    assert!(substitute.starts_with(b"\0asm") || weft_runtime_blob::is_compressed(substitute));
}

/// The genesis state version can be overridden only where the runtime is silent.
#[test]
fn state_version_fallback_applies_only_without_runtime_section() {
    let spec = ChainSpec::from_file(&fixture("chain-specs/full-raw/westend.json")).unwrap();
    let v0 = spec.build_genesis(StateVersion::V0).unwrap();
    let v1 = spec.build_genesis(StateVersion::V1).unwrap();
    assert_eq!(hex0x(v0.hash().as_bytes()), WESTEND_GENESIS);
    assert_ne!(v0.header.state_root, v1.header.state_root, "westend genesis holds values of 33 bytes or more");
    let kusama = ChainSpec::from_file(&fixture("chain-specs/dev-local/kusama-local-v1000000.chopsticks.json")).unwrap();
    let a = kusama.build_genesis(StateVersion::V0).unwrap();
    let b = kusama.build_genesis(StateVersion::V1).unwrap();
    assert_eq!(a.header.state_root, b.header.state_root, "runtime says V1; fallback ignored");
}

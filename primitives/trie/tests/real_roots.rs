//! Roots of real data: the W3F host-API trie vectors, the genesis state roots of every full
//! raw chain spec in the fixtures, and child-trie roots from smoldot's execute-block fixture.

use std::collections::BTreeMap;
use weft_trie::{child_storage_key, ordered_trie_root, state_root_with_children, trie_root, StateVersion};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures");

fn read_json(rel: &str) -> serde_json::Value {
    let text = std::fs::read_to_string(format!("{FIXTURES}/{rel}")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s.trim_start_matches("0x")).unwrap()
}

/// W3F host-API cases for the trie functions (hostapi test runtime, `_version_1` = V0).
#[test]
fn w3f_host_api_trie_roots() {
    let cases = read_json("w3f-polkadot-tests/host-api/host-api-cases.json");
    let mut checked = 0;
    for c in cases["cases"].as_array().unwrap() {
        let function = c["function"].as_str().unwrap();
        let Some(expected) = c["expected_stdout"].as_str() else {
            continue;
        };
        let expected = expected.trim();
        let input: Vec<&[u8]> = c["input"].as_str().unwrap_or_default().split(',').map(str::as_bytes).collect();
        let got = match function {
            // trie_root of [(k1, v1), (k2, v2), (k3, v3)]; k3 == k1 in these vectors.
            "ext_trie_blake2_256_root_version_1" => {
                trie_root(StateVersion::V0, [(input[0], input[1]), (input[2], input[3]), (input[4], input[5])])
            }
            "ext_trie_blake2_256_ordered_root_version_1" => ordered_trie_root(StateVersion::V0, &input[..3]),
            // Initial storage {":code": ""}, then set(k1, v1), set(k2, v2).
            "ext_storage_root_version_1" => {
                let mut m: BTreeMap<&[u8], &[u8]> = BTreeMap::new();
                m.insert(b":code", b"");
                m.insert(input[0], input[1]);
                m.insert(input[2], input[3]);
                trie_root(StateVersion::V0, m)
            }
            // Root of child trie 1 = {k1: v1, k2: v2}.
            "ext_default_child_storage_root_version_1" => {
                trie_root(StateVersion::V0, [(input[2], input[3]), (input[4], input[5])])
            }
            _ => continue,
        };
        assert_eq!(hex::encode(got), expected, "{function} {:?}", c["input"]);
        checked += 1;
    }
    assert_eq!(checked, 40);
}

/// Genesis state root of every full raw chain spec listed in GENESIS.json.
#[test]
fn genesis_state_roots() {
    let index = read_json("chain-specs/GENESIS.json");
    let mut checked = 0;
    for (path, info) in index.as_object().unwrap() {
        if info["kind"].as_str() != Some("full raw genesis") {
            continue;
        }
        let version = match info["trie_version_used"].as_u64().unwrap() {
            0 => StateVersion::V0,
            _ => StateVersion::V1,
        };
        let expected = info["genesis_state_root"].as_str().unwrap();
        let spec = read_json(path);
        let raw = &spec["genesis"]["raw"];
        let top: BTreeMap<Vec<u8>, Vec<u8>> =
            raw["top"].as_object().unwrap().iter().map(|(k, v)| (unhex(k), unhex(v.as_str().unwrap()))).collect();
        let mut children = BTreeMap::new();
        if let Some(cd) = raw.get("childrenDefault").and_then(|c| c.as_object()) {
            for (ck, kv) in cd {
                let child: BTreeMap<Vec<u8>, Vec<u8>> =
                    kv.as_object().unwrap().iter().map(|(k, v)| (unhex(k), unhex(v.as_str().unwrap()))).collect();
                children.insert(unhex(ck), child);
            }
        }
        let root = state_root_with_children(version, &top, &children);
        assert_eq!(format!("0x{}", hex::encode(root)), expected, "{path}");
        checked += 1;
    }
    assert!(checked >= 3, "only {checked} specs checked");
}

/// smoldot's execute-block fixtures store child tries separately and their roots in the main
/// trie under `:child_storage:default:`; both must agree.
#[test]
fn child_trie_roots_from_execute_block_fixtures() {
    for name in ["child-trie-create-multiple", "child-trie-create-one", "child-trie-destroy", "child-trie-read-basic"] {
        let d = read_json(&format!("executor/smoldot-execute-block/{name}.json"));
        let storage = &d["parentStorage"];
        let main: BTreeMap<Vec<u8>, Vec<u8>> = storage["mainTrie"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (unhex(k), unhex(v.as_str().unwrap())))
            .collect();
        let mut children = BTreeMap::new();
        for (ck, kv) in storage["childTries"].as_object().unwrap() {
            let child: BTreeMap<Vec<u8>, Vec<u8>> =
                kv.as_object().unwrap().iter().map(|(k, v)| (unhex(k), unhex(v.as_str().unwrap()))).collect();
            children.insert(unhex(ck), child);
        }
        for (ck, child) in &children {
            let stored = main.get(&child_storage_key(ck));
            if child.is_empty() {
                continue;
            }
            // The runtime is state_version 1.
            let root = trie_root(StateVersion::V1, child);
            assert_eq!(stored, Some(&root.to_vec()), "{name}: child {}", hex::encode(ck));
        }
        // Recomputing the main trie from (main minus child roots) + children is a no-op.
        let without: BTreeMap<Vec<u8>, Vec<u8>> = main
            .iter()
            .filter(|(k, _)| !k.starts_with(weft_trie::CHILD_STORAGE_DEFAULT_PREFIX))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        if children.values().all(|c| !c.is_empty()) {
            assert_eq!(
                state_root_with_children(StateVersion::V1, &without, &children),
                trie_root(StateVersion::V1, &main),
                "{name}"
            );
        }
    }
}

//! W3F conformance suite, `state-trie` subcommand (w3f/polkadot-tests, substrate-adapter
//! semantics): `trie-root` (plain and `--keys-in-hex`) and `insert-and-delete`, checked
//! against `expected-roots.computed.json` for every YAML fixture.
//!
//! Adapter semantics reproduced here (adapters/substrate/src/state_trie.rs):
//! - the YAML is read as `BTreeMap<String, Vec<String>>` (all scalars as strings); keys are
//!   hex-decoded with `--keys-in-hex`, otherwise taken as UTF-8 bytes; values are UTF-8 bytes;
//! - `trie-root`: V0 root of `zip(keys, values)`;
//! - `insert-and-delete`: insert the pairs one by one, printing the root after each; then,
//!   while keys remain, remove `keys[root[0] % keys.len()]` (the list keeps duplicates; the
//!   root used is the current one) and print the root.

use std::collections::BTreeMap;
use std::path::PathBuf;
use weft_trie::{trie_root, StateVersion, TrieMap};

fn dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/w3f-polkadot-tests/state-trie"))
}

struct State {
    keys: Vec<Vec<u8>>,
    values: Vec<Vec<u8>>,
}

fn load(file: &str, keys_in_hex: bool) -> State {
    let text = std::fs::read_to_string(dir().join(file)).unwrap();
    let map: BTreeMap<String, Vec<String>> = serde_yaml::from_str(&text).unwrap();
    State {
        keys: map["keys"]
            .iter()
            .map(|k| if keys_in_hex { hex::decode(k).unwrap() } else { k.clone().into_bytes() })
            .collect(),
        values: map["values"].iter().map(|v| v.clone().into_bytes()).collect(),
    }
}

fn line(root: [u8; 32]) -> String {
    format!("state root: {}", hex::encode(root))
}

fn expected() -> serde_json::Value {
    let text = std::fs::read_to_string(dir().join("expected-roots.computed.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn trie_root_output(s: &State) -> String {
    line(trie_root(StateVersion::V0, s.keys.iter().zip(s.values.iter())))
}

fn insert_and_delete_output(mut s: State) -> Vec<String> {
    let mut out = Vec::new();
    let mut m = TrieMap::new(StateVersion::V0);
    for (k, v) in s.keys.iter().zip(s.values.iter()) {
        m.insert(k, v.clone());
        out.push(line(m.root()));
    }
    while !s.keys.is_empty() {
        let idx = usize::from(m.root()[0]) % s.keys.len();
        m.remove(&s.keys[idx]);
        out.push(line(m.root()));
        s.keys.remove(idx);
    }
    out
}

#[test]
fn trie_root_plain() {
    let exp = expected();
    let cases = exp["trie-root"].as_object().unwrap();
    assert_eq!(cases.len(), 7);
    for (file, want) in cases {
        let s = load(file, false);
        assert_eq!(trie_root_output(&s), want.as_str().unwrap(), "{file}");
    }
}

#[test]
fn trie_root_keys_in_hex() {
    let exp = expected();
    let cases = exp["trie-root --keys-in-hex"].as_object().unwrap();
    assert_eq!(cases.len(), 4);
    for (file, want) in cases {
        let s = load(file, true);
        assert_eq!(trie_root_output(&s), want.as_str().unwrap(), "{file}");
    }
}

#[test]
fn insert_and_delete() {
    let exp = expected();
    let cases = exp["insert-and-delete"].as_object().unwrap();
    assert_eq!(cases.len(), 7);
    for (file, want) in cases {
        let want: Vec<String> = want.as_array().unwrap().iter().map(|l| l.as_str().unwrap().to_string()).collect();
        let got = insert_and_delete_output(load(file, false));
        assert_eq!(got.len(), want.len(), "{file}");
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert_eq!(g, w, "{file}, line {i}");
        }
        // The last root is always the empty trie.
        assert_eq!(want.last().unwrap(), &line(weft_trie::EMPTY_TRIE_ROOT), "{file}");
    }
}

#[test]
fn every_yaml_fixture_is_covered() {
    let exp = expected();
    let mut covered = std::collections::BTreeSet::new();
    for section in ["trie-root", "trie-root --keys-in-hex", "insert-and-delete"] {
        covered.extend(exp[section].as_object().unwrap().keys().cloned());
    }
    for entry in std::fs::read_dir(dir()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name.ends_with(".yaml") {
            assert!(covered.contains(&name), "{name} has no expectation");
        }
    }
}

#[test]
fn incremental_matches_one_shot_on_fixtures() {
    // The big fixture through the incremental trie, in both versions.
    let s = load("10000_node.yaml", true);
    for version in [StateVersion::V0, StateVersion::V1] {
        let mut m = TrieMap::new(version);
        for (k, v) in s.keys.iter().zip(s.values.iter()) {
            m.insert(k, v.clone());
        }
        assert_eq!(m.root(), trie_root(version, s.keys.iter().zip(s.values.iter())));
    }
}

//! End-to-end tests of the `weft` binary's command-line behaviour.

use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures").join(relative)
}

fn weft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft")).args(args).env_remove("RUST_LOG").output().expect("weft runs")
}

fn chain_info(spec: &std::path::Path) -> serde_json::Value {
    let out = weft(&["chain-info", "--chain", spec.to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one JSON object on one line");
    serde_json::from_str(&stdout).unwrap()
}

/// Asserts a failed run with exactly one line on stderr containing `needle`.
fn assert_one_line_error(out: &Output, needle: &str) {
    assert!(!out.status.success(), "expected failure");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "one-line error, got: {stderr}");
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(needle), "`{needle}` not in: {stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn chain_info_polkadot() {
    let v = chain_info(&fixture("chain-specs/full-raw/polkadot.json"));
    assert_eq!(v["name"], "Polkadot");
    assert_eq!(v["id"], "polkadot");
    assert_eq!(v["genesis_hash"], "0x91b171bb158e2d3848fa23a9f1c25182fb8e20313b2c1eb49219da7a70ce90c3");
    assert_eq!(v["state_root"], "0x29d0d972cd27cbc511e9589fcb7a4506d5eb6a9e8df205f00472e5ab354a4e17");
    assert_eq!(v["keys"], 11645);
    assert_eq!(v["state_version"], 0);
    // The genesis runtime (polkadot v0) predates the runtime_version section: its
    // version comes from a Core_version call, and it predates state versions (V0).
    assert_eq!(v["runtime"]["spec_name"], "polkadot");
    assert_eq!(v["runtime"]["spec_version"], 0);
    assert_eq!(v["runtime"]["source"], "Core_version call");
    assert_eq!(v["state_version_source"], "runtime (pre state_version: V0)");
}

#[test]
fn chain_info_reads_runtime_version() {
    let v = chain_info(&fixture("chain-specs/dev-local/rococo-local-v1015000.kagome-zombienet.json"));
    assert_eq!(v["genesis_hash"], "0x7d29038ac90e6a4b404502595d4ddce763a8116c9675653e6b66157c1750043b");
    assert_eq!(v["runtime"]["spec_name"], "rococo");
    assert_eq!(v["runtime"]["spec_version"], 1015000);
    assert_eq!(v["state_version"], 1);
}

#[test]
fn chain_info_light_spec_checkpoint() {
    let v = chain_info(&fixture("chain-specs/light/westend2.smoldot-demo.json"));
    assert_eq!(v["kind"], "light");
    assert_eq!(v["genesis_hash"], "0xe143f23803ac50e8f6f8e62695d1ce9e4e1d68aa36c1cd2cfd15340213f3423e");
    assert_eq!(v["checkpoint"]["number"], 29233814);
    assert_eq!(v["checkpoint"]["hash"], "0x4e2dbce5bbb777bf77addb2dbe570f863ad9569739f8d9b7aca80377bc64ed6c");
}

#[test]
fn missing_file_is_a_one_line_error() {
    let out = weft(&["chain-info", "--chain", "/nonexistent/spec.json"]);
    assert_one_line_error(&out, "/nonexistent/spec.json");
}

#[test]
fn truncated_spec_is_a_one_line_error() {
    let full = std::fs::read(fixture("chain-specs/dev-local/substrate-node-template.smoldot.json")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truncated.json");
    std::fs::write(&path, &full[..full.len() / 2]).unwrap();
    let out = weft(&["chain-info", "--chain", path.to_str().unwrap()]);
    assert_one_line_error(&out, "EOF while parsing");
}

#[test]
fn non_hex_storage_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.json");
    std::fs::write(&path, r#"{"name":"X","id":"x","genesis":{"raw":{"top":{"0x3a636f6465":"0xnothex"}}}}"#).unwrap();
    let out = weft(&["chain-info", "--chain", path.to_str().unwrap()]);
    assert_one_line_error(&out, "genesis.raw.top[0x3a636f6465]");
}

#[test]
fn bad_state_version_is_rejected() {
    let spec = fixture("chain-specs/full-raw/westend.json");
    let out = weft(&["chain-info", "--chain", spec.to_str().unwrap(), "--state-version", "3"]);
    assert_one_line_error(&out, "--state-version must be 0 or 1");
}

fn scenario(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../integration-tests/scenarios").join(name).display().to_string()
}

fn last_line(out: &Output) -> String {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().last().unwrap_or_default().to_string()
}

#[test]
fn sim_run_is_deterministic_per_seed() {
    let s = scenario("ticker-store.toml");
    let a = last_line(&weft(&["sim", "run", &s, "--seed", "7"]));
    let b = last_line(&weft(&["sim", "run", &s, "--seed", "7"]));
    let c = last_line(&weft(&["sim", "run", &s, "--seed", "8"]));
    assert!(a.starts_with("timeline ") && a.len() == "timeline ".len() + 64, "{a}");
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn sim_run_bad_scenario_is_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "seed = \"seven\"\n").unwrap();
    let out = weft(&["sim", "run", path.to_str().unwrap()]);
    assert_one_line_error(&out, "bad.toml");
}

#[test]
fn overseer_graph_names_every_slot() {
    let out = weft(&["overseer", "graph"]);
    assert!(out.status.success());
    let dot = String::from_utf8(out.stdout).unwrap();
    assert!(dot.starts_with("digraph weft_overseer {"));
    for slot in [
        "network_bridge",
        "availability_store",
        "candidate_validation",
        "approval_voting",
        "grandpa",
        "babe",
        "runtime_executor",
        "chain_store",
        "block_import",
        "sync",
    ] {
        assert!(dot.contains(&format!("  {slot} [label=")), "{slot} missing");
    }
    assert!(dot.contains("block_import -> runtime_executor;"));
}

#[test]
fn run_with_all_dummy_slots_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("weft.toml");
    std::fs::write(&config, "[subsystems.approval_voting]\nimplementation = \"dummy\"\nmailbox = 64\n").unwrap();
    let out = weft(&["run", "--config", config.to_str().unwrap(), "--run-for", "0.3"]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(&config, "[subsystems.approval_voting]\nimplementation = \"nope\"\n").unwrap();
    let out = weft(&["run", "--config", config.to_str().unwrap(), "--run-for", "0.3"]);
    assert_one_line_error(&out, "no implementation `nope` for slot `approval_voting`");
}

#[test]
fn runtime_version_by_core_version_call_and_section() {
    // westend v9300 carries the section; rococo-genesis does not (Core_version is executed).
    for (file, spec_name, spec_version, source) in [
        ("runtimes/westend-runtime-v9300.wasm", "westend", 9300, "runtime_version custom section"),
        ("runtimes/rococo-genesis.wasm", "rococo", 9190, "Core_version call"),
    ] {
        let out = weft(&["runtime", "version", "--runtime", fixture(file).to_str().unwrap()]);
        assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["spec_name"], spec_name);
        assert_eq!(v["spec_version"], spec_version);
        assert_eq!(v["source"], source);
    }
    let out = weft(&["runtime", "version", "--runtime", fixture("chain-specs/GENESIS.json").to_str().unwrap()]);
    assert_one_line_error(&out, "");
}

#[test]
fn node_key_generate_and_inspect() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("secret_ed25519");
    let out = weft(&["key", "generate-node-key", "--file", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let peer_id = String::from_utf8(out.stderr).unwrap().trim().to_string();
    assert!(peer_id.starts_with("12D3KooW"), "{peer_id}");
    assert_eq!(std::fs::read(&file).unwrap().len(), 32);
    let out = weft(&["key", "inspect-node-key", "--file", file.to_str().unwrap()]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), peer_id);
    // The same key given as hex.
    let hex_key = hex::encode(std::fs::read(&file).unwrap());
    let out = weft(&["key", "inspect-node-key", "--key", &hex_key]);
    assert_eq!(String::from_utf8(out.stdout).unwrap().trim(), peer_id);
    // Never overwritten; a bad key is a one-line error.
    assert_one_line_error(&weft(&["key", "generate-node-key", "--file", file.to_str().unwrap()]), "not overwriting");
    let out = weft(&["key", "inspect-node-key", "--key", "zz"]);
    assert!(!out.status.success());
    assert_eq!(String::from_utf8_lossy(&out.stderr).trim_end().lines().count(), 1);
}

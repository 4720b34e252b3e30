//! GenesisBuilder acceptance (issue 4): chain specs built through the
//! runtime's GenesisBuilder API, by the library and by `weft build-spec`,
//! checked against runtimes/genesis-builder-expected/ and against an
//! independently built spec; and `weft runtime call`.
//!
//! Compiling rococo takes seconds, so every preset is checked in one test
//! (one compilation), through the same code path as `weft build-spec --raw`
//! followed by `weft chain-info` (GenesisBuilder -> spec writer -> spec
//! parser -> genesis block); `build_spec_cli_every_preset` also runs the
//! binary for every preset.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use weft_chain_spec::{ChainSpec, GenesisStorage, SpecGenesis, SpecHeader};
use weft_runtime_executor::{GenesisApi, GenesisBuilder, GenesisJson, PatchNulls};
use weft_trie::StateVersion;

fn fixture(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures").join(relative)
}

const ROCOCO: &str = "runtimes/rococo_runtime-v1015000.compact.compressed.wasm";
const EXPECTED: &str = "runtimes/genesis-builder-expected";

fn weft(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_weft")).args(args).env_remove("RUST_LOG").output().expect("weft runs")
}

fn stdout_json(out: &Output) -> serde_json::Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("stdout is JSON")
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

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn summary() -> serde_json::Value {
    read_json(&fixture(&format!("{EXPECTED}/summary.json")))["rococo-v1015000"].clone()
}

/// (preset, expected keys, expected genesis hash) for every preset of the summary.
fn expected_presets() -> Vec<(String, u64, String)> {
    let summary = summary();
    summary["presets"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(name, p)| {
            (name.clone(), p["storage_keys_incl_code"].as_u64().unwrap(), p["genesis_hash"].as_str().unwrap().into())
        })
        .collect()
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// What `weft chain-info` reports for a raw spec: (keys, genesis hash).
fn chain_info_of_spec_text(text: &str) -> (usize, String) {
    let spec = ChainSpec::from_json_bytes(text.as_bytes()).unwrap();
    let info = spec.build_genesis(StateVersion::V0).unwrap();
    assert_eq!(info.state_version, Some(StateVersion::V1), "rococo declares state version 1");
    (info.top_keys.unwrap(), hex0x(info.hash().as_bytes()))
}

#[test]
fn rococo_presets_match_expected() {
    let dir = fixture(&format!("{EXPECTED}/rococo-v1015000"));
    let code = std::fs::read(fixture(ROCOCO)).unwrap();
    let builder = GenesisBuilder::new(code.clone()).unwrap();
    assert_eq!(builder.api(), GenesisApi::Presets);

    // preset_names, as the runtime lists them.
    let names: Vec<String> = serde_json::from_value(read_json(&dir.join("GenesisBuilder_preset_names.json"))).unwrap();
    assert_eq!(builder.preset_names(), names.as_slice());
    assert_eq!(summary()["preset_names"], serde_json::json!(names));

    // get_preset outputs, byte counts and JSON.
    for (name, preset) in summary()["presets"].as_object().unwrap() {
        let bytes = builder.preset_bytes((name != "default").then_some(name.as_str())).unwrap().unwrap();
        assert_eq!(bytes.len() as u64, preset["get_preset_output_bytes"].as_u64().unwrap(), "{name}");
        let expected = read_json(&dir.join(preset["get_preset_output_file"].as_str().unwrap()));
        let actual: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(actual, expected, "get_preset({name})");
    }
    assert_eq!(builder.preset_bytes(Some("no-such-preset")).unwrap(), None);
    let err = builder.build_preset(Some("no-such-preset")).unwrap_err().to_string();
    assert!(err.contains("no preset `no-such-preset`") && err.contains("local_testnet, development"), "{err}");

    // Every preset: build, write a raw spec, read it back, genesis block.
    let legacy = builder.clone().with_patch_nulls(PatchNulls::Remove);
    let mut report = Vec::new();
    for (name, keys, hash) in expected_presets() {
        let preset = (name != "default").then_some(name.as_str());
        let state = builder.build_preset(preset).unwrap();
        assert_eq!(state.top.get(&b":code"[..]), Some(&code), "{name}: `:code` is the blob as given");
        // The older merge (a patch's null removes the key) gives the same state here.
        assert_eq!(legacy.build_preset(preset).unwrap(), state, "{name}: null handling matters");
        let storage = GenesisStorage { top: state.top, children_default: state.children_default };
        let text = weft_chain_spec::spec_to_string(
            &SpecHeader::new("Rococo", name.clone(), "Local"),
            &SpecGenesis::<serde_json::Value>::Raw(&storage),
        )
        .unwrap();
        let (actual_keys, actual_hash) = chain_info_of_spec_text(&text);
        report.push(format!("{name}: {actual_keys} keys, {actual_hash}"));
        assert_eq!((actual_keys as u64, actual_hash.as_str()), (keys, hash.as_str()), "preset {name}");
    }
    eprintln!("{}", report.join("\n"));
}

fn build_spec_cli_check(dir: &Path, preset: Option<&str>, keys: u64, hash: &str) {
    let out_path = dir.join(format!("{}.json", preset.unwrap_or("default")));
    let rococo = fixture(ROCOCO);
    let mut args = vec!["build-spec", "--runtime", rococo.to_str().unwrap(), "--raw"];
    if let Some(preset) = preset {
        args.extend(["--preset", preset]);
    }
    args.extend(["--output", out_path.to_str().unwrap()]);
    let out = weft(&args);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let info = stdout_json(&weft(&["chain-info", "--chain", out_path.to_str().unwrap()]));
    assert_eq!(info["keys"], keys, "{preset:?}");
    assert_eq!(info["genesis_hash"], hash, "{preset:?}");
    assert_eq!(info["state_version"], 1);
    assert_eq!(info["runtime"]["spec_version"], 1015000);
}

#[test]
fn build_spec_cli_raw_and_chain_info() {
    let dir = tempfile::tempdir().unwrap();
    let (name, keys, hash) = expected_presets().into_iter().find(|(name, ..)| name == "local_testnet").unwrap();
    build_spec_cli_check(dir.path(), Some(&name), keys, &hash);
    // The top-level fields the reference writes.
    let spec = read_json(&dir.path().join("local_testnet.json"));
    for field in
        ["name", "id", "chainType", "bootNodes", "telemetryEndpoints", "protocolId", "properties", "codeSubstitutes"]
    {
        assert!(spec.get(field).is_some(), "{field} missing");
    }
    assert!(spec["genesis"]["raw"]["childrenDefault"].is_object());
}

/// All presets through the binary (one rococo compilation per preset): the
/// acceptance check `weft chain-info` on `weft build-spec --raw` output.
#[test]
fn build_spec_cli_every_preset() {
    let dir = tempfile::tempdir().unwrap();
    for (name, keys, hash) in expected_presets() {
        let preset = (name != "default").then_some(name.as_str());
        build_spec_cli_check(dir.path(), preset, keys, &hash);
    }
}

#[test]
fn build_spec_errors_are_one_line() {
    let rococo = fixture(ROCOCO);
    let out = weft(&["build-spec", "--runtime", "/nonexistent.wasm", "--raw"]);
    assert_one_line_error(&out, "/nonexistent.wasm");
    // Not a runtime: rejected before any call.
    let json = fixture(&format!("{EXPECTED}/summary.json"));
    let out = weft(&["build-spec", "--runtime", json.to_str().unwrap()]);
    assert_one_line_error(&out, "not a Wasm module");
    let out = weft(&["build-spec", "--runtime", rococo.to_str().unwrap(), "--properties", "[1]"]);
    assert_one_line_error(&out, "--properties must be a JSON object");
}

/// The v1 API (`create_default_config`/`build_config`) of rococo v103000,
/// given the patch of polkadot v1.1's `rococo_local_testnet` config,
/// reproduces the genesis of an independently built spec of that runtime;
/// through a plain (`runtimeGenesis`) spec converted with `--chain .. --raw`.
#[test]
fn v1_api_reproduces_rococo_local_v103000() {
    let spec_path = fixture("chain-specs/dev-local/rococo-local-v103000.kagome-adder-collator.json");
    let expected_hash = read_json(&fixture("chain-specs/GENESIS.json"))
        ["chain-specs/dev-local/rococo-local-v103000.kagome-adder-collator.json"]["genesis_hash"]
        .as_str()
        .unwrap()
        .to_string();
    let spec = ChainSpec::from_file(&spec_path).unwrap();
    let code = spec.genesis_code().unwrap().to_vec();

    // Patch: the local-testnet values of rococo v1015000's preset, in the
    // older runtime's shapes (session keys with `im_online`; the host
    // configuration fields that existed then; default async backing).
    let local =
        read_json(&fixture(&format!("{EXPECTED}/rococo-v1015000/GenesisBuilder_get_preset.local_testnet.json")));
    let mut session = local["session"].clone();
    for entry in session["keys"].as_array_mut().unwrap() {
        let babe = entry[2]["babe"].clone();
        entry[2]["im_online"] = babe;
    }
    let config = &local["configuration"]["config"];
    let mut host = serde_json::Map::new();
    for key in [
        "code_retention_period",
        "hrmp_channel_max_capacity",
        "hrmp_channel_max_message_size",
        "hrmp_channel_max_total_size",
        "hrmp_max_message_num_per_candidate",
        "hrmp_max_parachain_inbound_channels",
        "hrmp_max_parachain_outbound_channels",
        "max_code_size",
        "max_downward_message_size",
        "max_head_data_size",
        "max_pov_size",
        "max_upward_message_num_per_candidate",
        "max_upward_message_size",
        "max_upward_queue_count",
        "max_upward_queue_size",
        "minimum_validation_upgrade_delay",
        "n_delay_tranches",
        "needed_approvals",
        "no_show_slots",
        "relay_vrf_modulo_samples",
        "validation_upgrade_cooldown",
    ] {
        host.insert(key.into(), config[key].clone());
    }
    for key in ["group_rotation_frequency", "max_validators_per_core", "paras_availability_period"] {
        host.insert(key.into(), config["scheduler_params"][key].clone());
    }
    let patch = serde_json::json!({
        "babe": local["babe"],
        "balances": local["balances"],
        "sudo": local["sudo"],
        "session": session,
        "configuration": {"config": host},
    });

    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("rococo-v103000.wasm");
    let patch_path = dir.path().join("patch.json");
    let out_path = dir.path().join("raw.json");
    std::fs::write(&wasm, &code).unwrap();
    std::fs::write(&patch_path, patch.to_string()).unwrap();
    // A plain spec carrying the patch (no runtime call needed), then
    // converted to raw through the runtime's v1 API.
    let plain_path = dir.path().join("plain.json");
    let runtime = wasm.to_str().unwrap();
    let out = weft(&[
        "build-spec",
        "--runtime",
        runtime,
        "--patch",
        patch_path.to_str().unwrap(),
        "-o",
        plain_path.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let plain = read_json(&plain_path);
    assert_eq!(plain["genesis"]["runtimeGenesis"]["patch"], patch);
    let out = weft(&["build-spec", "--chain", plain_path.to_str().unwrap(), "--raw", "-o", out_path.to_str().unwrap()]);
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    let info = stdout_json(&weft(&["chain-info", "--chain", out_path.to_str().unwrap()]));
    assert_eq!(info["keys"], 144);
    assert_eq!(info["genesis_hash"], expected_hash.as_str());
    // Byte for byte the same storage as the independent spec.
    let built = ChainSpec::from_file(&out_path).unwrap();
    assert_eq!(built.genesis, spec.genesis);
}

fn shell_runtime(dir: &Path) -> PathBuf {
    // A raw zstd frame without the Substrate prefix: decompressed here.
    let frame = std::fs::read(fixture("runtimes/smoldot-example-runtime.wasm.zstd-frame")).unwrap();
    let wasm = weft_runtime_blob::decompress_zstd_frame(&frame, weft_runtime_blob::CODE_BLOB_BOMB_LIMIT).unwrap();
    let path = dir.join("shell.wasm");
    std::fs::write(&path, wasm).unwrap();
    path
}

#[test]
fn runtime_call_outputs_and_errors() {
    let dir = tempfile::tempdir().unwrap();
    let shell = shell_runtime(dir.path());
    let shell = shell.to_str().unwrap();

    let v = stdout_json(&weft(&["runtime", "call", "--runtime", shell, "Core_version"]));
    let output = hex::decode(v["output"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let version = weft_runtime_blob::RuntimeVersion::decode_with_hint(&output, None).unwrap();
    assert_eq!((version.spec_name.as_str(), version.spec_version), ("shell", 2));
    assert_eq!(v["output_bytes"], output.len());
    assert_eq!(v["changes"]["top_set"], 0);
    assert_eq!(v["state_root_before"], v["state_root_after"]);

    // Metadata: SCALE bytes (compact length) holding the "meta" magic.
    let v = stdout_json(&weft(&["runtime", "call", "--runtime", shell, "Metadata_metadata", "0x"]));
    let output = hex::decode(v["output"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let mut rest = output.as_slice();
    let len = <parity_scale_codec::Compact<u32> as parity_scale_codec::Decode>::decode(&mut rest).unwrap().0;
    assert_eq!(len as usize, rest.len());
    assert_eq!(&rest[..4], b"meta");

    let out = weft(&["runtime", "call", "--runtime", shell, "Nope_nope"]);
    assert_one_line_error(&out, "does not export `Nope_nope`");
    let out = weft(&["runtime", "call", "--runtime", shell, "Core_version", "0xabc"]);
    assert_one_line_error(&out, "the call input is not valid hex");
    let out = weft(&["runtime", "call", "--runtime", shell, "Core_version", "zz"]);
    assert_one_line_error(&out, "the call input is not valid hex");
    let pairs = dir.path().join("pairs.json");
    std::fs::write(&pairs, r#"{"result": [["0x01", "0x02", "0x03"]]}"#).unwrap();
    let out = weft(&["runtime", "call", "--runtime", shell, "--storage", pairs.to_str().unwrap(), "Core_version"]);
    assert_one_line_error(&out, "pair 0 is not");
    let out = weft(&["runtime", "call", "Core_version"]);
    assert_one_line_error(&out, "no runtime code");
}

/// `GenesisBuilder_build_state` through `weft runtime call` on a state that
/// holds only `:code` (given as `state_getPairs` output): the summary counts
/// the keys the default config writes, and the root after the call is the
/// default preset's genesis state root.
#[test]
fn runtime_call_reports_storage_changes() {
    let dir = tempfile::tempdir().unwrap();
    let code = std::fs::read(fixture(ROCOCO)).unwrap();
    let pairs_path = dir.path().join("pairs.json");
    let pairs = serde_json::json!({"jsonrpc": "2.0", "id": 1, "result": [[hex0x(b":code"), hex0x(&code)]]});
    std::fs::write(&pairs_path, pairs.to_string()).unwrap();
    let default =
        std::fs::read(fixture(&format!("{EXPECTED}/rococo-v1015000/GenesisBuilder_get_preset.default.json"))).unwrap();
    let input = hex0x(&parity_scale_codec::Encode::encode(&default)); // SCALE Vec<u8>

    // No --runtime: the code comes from the pairs.
    let pairs_arg = pairs_path.to_str().unwrap();
    let v = stdout_json(&weft(&["runtime", "call", "--storage", pairs_arg, "GenesisBuilder_build_state", &input]));
    assert_eq!(v["output"], "0x00", "Ok(())");
    assert_eq!(v["state_version"], 1);
    let default = &summary()["presets"]["default"];
    assert_eq!(v["changes"]["top_set"], default["storage_keys_incl_code"].as_u64().unwrap() - 1);
    // (The runtime also clears one key that was never set.)
    assert_eq!(v["changes"]["child_tries"], 0);
    assert_ne!(v["state_root_before"], v["state_root_after"]);
    assert_eq!(v["state_root_after"], default["genesis_state_root_v1"]);
}

/// `--chain`: the genesis state of a raw spec, whose root is the spec's.
#[test]
fn runtime_call_on_a_chain_spec_genesis() {
    let spec_file = "chain-specs/dev-local/substrate-node-template.smoldot.json";
    let expected_root = read_json(&fixture("chain-specs/GENESIS.json"))[spec_file]["genesis_state_root"].clone();
    let v = stdout_json(&weft(&["runtime", "call", "--chain", fixture(spec_file).to_str().unwrap(), "Core_version"]));
    assert_eq!(v["state_root_before"], expected_root);
    assert_eq!(v["state_root_after"], expected_root);
    let output = hex::decode(v["output"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let version = weft_runtime_blob::RuntimeVersion::decode_with_hint(&output, None).unwrap();
    assert_eq!(version.spec_name, "node-template");
}

#[test]
fn genesis_json_keeps_big_numbers_through_a_patch() {
    // u128 balances beyond u64 survive parsing, merging and writing.
    let mut config = GenesisJson::parse(r#"{"balances":{"balances":[]},"sudo":{"key":null}}"#).unwrap();
    let patch =
        GenesisJson::parse(r#"{"balances":{"balances":[["5Grw",340282366920938463463374607431768211455]]}}"#).unwrap();
    weft_runtime_executor::genesis_builder::merge(&mut config, patch, PatchNulls::Keep);
    let header = SpecHeader::new("T", "t", "Development");
    let genesis = SpecGenesis::RuntimeGenesis {
        code: &[0, 0x61, 0x73, 0x6d],
        kind: weft_chain_spec::RuntimeGenesisKind::Config,
        json: &config,
    };
    let text = weft_chain_spec::spec_to_string(&header, &genesis).unwrap();
    assert!(text.contains("340282366920938463463374607431768211455"), "{text}");
    assert!(text.contains("\"key\": null"), "{text}");
}

//! PVF mode: the adder parachain's `validate_block` vectors on two builds of
//! the adder PVF, and what a PVF may not do.

use blake2::digest::{consts::U32, Digest};
use std::path::PathBuf;
use weft_runtime_executor::{Executor, ExecutorConfig, ExecutorError, HostError, HostFunctionSet};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/pvf")).join(name)
}

fn unhex(text: &str) -> Vec<u8> {
    let text: String = text.trim().trim_start_matches("0x").chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(text).expect("fixture hex")
}

fn blake2_256(data: &[u8]) -> [u8; 32] {
    blake2::Blake2b::<U32>::digest(data).into()
}

/// (fixture name, code as a relay chain stores it).
fn adder_builds() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        (
            "pvf/test_parachain_adder.gossamer.wasm",
            std::fs::read(fixture("test_parachain_adder.gossamer.wasm")).unwrap(),
        ),
        ("pvf/adder.kagome.zstd.hex", unhex(&std::fs::read_to_string(fixture("adder.kagome.zstd.hex")).unwrap())),
    ]
}

#[test]
fn adder_validate_block_vectors() {
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("adder-validate_block-vectors.json")).unwrap()).unwrap();
    let cases = vectors["cases"].as_array().unwrap();
    assert!(cases.len() >= 3);
    let executor = Executor::pvf();
    let mut checked = 0;
    for (name, code) in adder_builds() {
        let expected_hash = vectors["validation_code_hash_blake2_256"][name].as_str().unwrap();
        assert_eq!(hex::encode(blake2_256(&code)), expected_hash.trim_start_matches("0x"), "{name}");
        let module = executor.compile_pvf(&code).unwrap();
        assert!(module.stubbed_imports().is_empty(), "{name}: {:?}", module.stubbed_imports());
        for case in cases {
            let params = unhex(case["validation_params_hex"].as_str().unwrap());
            let expected = unhex(case["expected_validation_result_hex"].as_str().unwrap());
            let output =
                module.validate_block(&params).unwrap_or_else(|e| panic!("{name}: {}: {e}", case["description"]));
            assert_eq!(hex::encode(output), hex::encode(expected), "{name}: {}", case["description"]);
            checked += 1;
        }
        // An invalid block (the parent head's post-state does not match the
        // block data) makes the PVF panic: an error, and the module keeps working.
        let mut params = unhex(cases[0]["validation_params_hex"].as_str().unwrap());
        // parent_head = compact length (2 bytes: 72) + number (8) + parent hash (32) + post_state (32).
        assert_eq!(params[..2], [0x21, 0x01]);
        params[2 + 8 + 32] ^= 0xff;
        let err = module.validate_block(&params).unwrap_err();
        assert!(matches!(err, ExecutorError::Trap(_) | ExecutorError::Host(_)), "{name}: {err}");
        let params = unhex(cases[0]["validation_params_hex"].as_str().unwrap());
        let expected = unhex(cases[0]["expected_validation_result_hex"].as_str().unwrap());
        assert_eq!(module.validate_block(&params).unwrap(), expected, "{name} after a failed block");
    }
    assert_eq!(checked, 2 * cases.len());
}

/// A PVF-like module importing host functions a PVF may and may not use.
fn pvf_module(body: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
            (import "env" "ext_hashing_blake2_256_version_1" (func $blake2 (param i64) (result i32)))
            (import "env" "ext_storage_get_version_1" (func $get (param i64) (result i64)))
            (import "env" "ext_storage_set_version_1" (func $set (param i64 i64)))
            (import "env" "ext_crypto_sr25519_generate_version_1" (func $gen (param i32 i64) (result i32)))
            (import "env" "ext_crypto_sr25519_verify_version_2" (func $verify (param i32 i64 i32) (result i32)))
            (memory (export "memory") 2)
            (global (export "__heap_base") i32 (i32.const 1024))
            (func $pack (param $ptr i32) (param $len i32) (result i64)
                (i64.or (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 32))
                        (i64.extend_i32_u (local.get $ptr))))
            (func (export "hash") (param $p i32) (param $l i32) (result i64)
                (call $pack (call $blake2 (call $pack (local.get $p) (local.get $l))) (i32.const 32)))
            (func (export "get") (param $p i32) (param $l i32) (result i64)
                (call $get (call $pack (local.get $p) (local.get $l))))
            (func (export "set") (param $p i32) (param $l i32) (result i64)
                (call $set (call $pack (local.get $p) (local.get $l)) (i64.const 0))
                (i64.const 0))
            (func (export "keygen") (param $p i32) (param $l i32) (result i64)
                (drop (call $gen (i32.const 0) (i64.const 0)))
                (i64.const 0))
            {body}
        )"#
    ))
    .unwrap()
}

#[test]
fn pvf_storage_and_keystore_access_traps_with_a_clear_error() {
    let executor = Executor::pvf();
    let module = executor.compile_pvf(&pvf_module("")).unwrap();
    assert_eq!(
        module.disallowed_imports(),
        vec!["ext_storage_get_version_1", "ext_storage_set_version_1", "ext_crypto_sr25519_generate_version_1"]
    );
    let hash = module.call("hash", b"abc").unwrap();
    assert_eq!(hash, blake2_256(b"abc"));
    for method in ["get", "set", "keygen"] {
        let err = module.call(method, b":code").unwrap_err();
        assert!(matches!(err, ExecutorError::Host(HostError::NotAllowed(_))), "{method}: {err}");
        assert!(err.to_string().contains("not available to parachain validation functions"), "{err}");
        assert_eq!(module.call("hash", b"abc").unwrap(), hash, "after {method}");
    }
    // The same module under the runtime host functions may use storage.
    let runtime = Executor::new(ExecutorConfig { host_functions: HostFunctionSet::Runtime, ..ExecutorConfig::pvf() });
    let module = runtime.compile_pvf(&pvf_module("")).unwrap();
    assert!(module.disallowed_imports().is_empty());
    assert!(module.call("get", b":code").is_ok());
}

#[test]
fn pvf_memory_grows_up_to_the_configured_maximum() {
    let body = r#"(func (export "alloc") (param $p i32) (param $l i32) (result i64)
            (local $n i32)
            (local.set $n (i32.load (local.get $p)))
            (loop $more
                (drop (call $malloc (i32.const 60000)))
                (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                (br_if $more (i32.gt_s (local.get $n) (i32.const 0))))
            (call $pack (i32.const 0) (i32.const 4)))
        (func (export "pages") (param $p i32) (param $l i32) (result i64)
            (i32.store (i32.const 0) (memory.size))
            (call $pack (i32.const 0) (i32.const 4)))"#;
    let executor = Executor::new(ExecutorConfig { max_memory_pages: Some(40), ..ExecutorConfig::pvf() });
    let module = executor.compile_pvf(&pvf_module(body)).unwrap();
    // The memory starts at the module's own 2 pages (no heap pages added).
    assert_eq!(module.call("pages", &[]).unwrap(), 2u32.to_le_bytes());
    // 20 blocks of 64 KiB (with headers) fit in 40 pages...
    module.call("alloc", &20u32.to_le_bytes()).unwrap();
    // ...45 do not: the allocator reports it, and the module keeps working.
    let err = module.call("alloc", &45u32.to_le_bytes()).unwrap_err();
    assert!(matches!(err, ExecutorError::Host(HostError::Allocator { .. })), "{err}");
    assert_eq!(module.call("pages", &[]).unwrap(), 2u32.to_le_bytes());
    module.call("alloc", &20u32.to_le_bytes()).unwrap();
}

#[test]
fn pvf_config_defaults() {
    let config = ExecutorConfig::pvf();
    assert!(config.canonicalize_nans);
    assert_eq!(config.host_functions, HostFunctionSet::Pvf);
    assert_eq!(config.max_memory_pages, Some(weft_runtime_executor::PVF_MAX_MEMORY_PAGES));
    assert!(config.timeout.is_some() && config.max_call_depth.is_some());
    let pvf = HostFunctionSet::Pvf;
    for allowed in [
        "ext_allocator_malloc_version_1",
        "ext_logging_log_version_1",
        "ext_hashing_keccak_256_version_1",
        "ext_crypto_ed25519_verify_version_1",
        "ext_crypto_sr25519_verify_version_2",
        "ext_crypto_ecdsa_verify_prehashed_version_1",
        "ext_crypto_secp256k1_ecdsa_recover_version_2",
        "ext_crypto_start_batch_verify_version_1",
        "ext_trie_blake2_256_ordered_root_version_2",
        "ext_misc_print_utf8_version_1",
        "ext_misc_runtime_version_version_1",
    ] {
        assert!(pvf.allows(allowed), "{allowed}");
    }
    for denied in [
        "ext_storage_get_version_1",
        "ext_default_child_storage_get_version_1",
        "ext_offchain_index_set_version_1",
        "ext_offchain_timestamp_version_1",
        "ext_crypto_ed25519_sign_version_1",
        "ext_crypto_ecdsa_public_keys_version_1",
        "ext_transaction_index_index_version_1",
    ] {
        assert!(!pvf.allows(denied), "{denied}");
    }
}

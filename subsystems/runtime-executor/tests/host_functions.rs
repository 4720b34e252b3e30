//! Host-function semantics on small hand-written modules: storage through a
//! backend and an overlay, the runtime's nested transactions, failed calls
//! leaving no changes, panics, batch verification misuse and the offchain
//! context.

use std::collections::BTreeMap;
use std::sync::Arc;
use weft_runtime_executor::{
    Executor, ExecutorError, Externalities, HostError, InMemoryBackend, OffchainContext, RuntimeModule, StateVersion,
};

/// Pointer-size of `len` bytes at `ptr`.
fn ps(ptr: u32, len: u32) -> String {
    format!("{}", (u64::from(len) << 32) | u64::from(ptr))
}

fn module() -> RuntimeModule {
    // Data at 16: "a12b3c4boom" -> a@16 1@17 2@18 b@19 3@20 c@21 4@22 boom@23.
    let (a, v1, v2, b, v3, c, v4, boom) =
        (ps(16, 1), ps(17, 1), ps(18, 1), ps(19, 1), ps(20, 1), ps(21, 1), ps(22, 1), ps(23, 4));
    let wat = format!(
        r#"(module
            (import "env" "memory" (memory 1))
            (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
            (import "env" "ext_storage_set_version_1" (func $set (param i64 i64)))
            (import "env" "ext_storage_get_version_1" (func $get (param i64) (result i64)))
            (import "env" "ext_storage_root_version_2" (func $root (param i32) (result i64)))
            (import "env" "ext_storage_start_transaction_version_1" (func $start))
            (import "env" "ext_storage_rollback_transaction_version_1" (func $rollback))
            (import "env" "ext_storage_commit_transaction_version_1" (func $commit))
            (import "env" "ext_default_child_storage_set_version_1" (func $child_set (param i64 i64 i64)))
            (import "env" "ext_panic_handler_abort_on_panic_version_1" (func $panic (param i64)))
            (import "env" "ext_crypto_finish_batch_verify_version_1" (func $finish (result i32)))
            (import "env" "ext_offchain_is_validator_version_1" (func $is_validator (result i32)))
            (import "env" "ext_offchain_index_set_version_1" (func $index_set (param i64 i64)))
            (global (export "__heap_base") i32 (i32.const 1024))
            (data (i32.const 16) "a12b3c4boom")
            (func (export "transactions") (param i32 i32) (result i64)
                (call $set (i64.const {a}) (i64.const {v1}))
                (call $start)
                (call $set (i64.const {a}) (i64.const {v2}))
                (call $rollback)
                (call $start)
                (call $start)
                (call $set (i64.const {b}) (i64.const {v3}))
                (call $commit)
                (call $commit)
                ;; Left open: rolled back when the call ends.
                (call $start)
                (call $set (i64.const {c}) (i64.const {v4}))
                (call $child_set (i64.const {c}) (i64.const {a}) (i64.const {v1}))
                (call $index_set (i64.const {b}) (i64.const {v2}))
                (call $get (i64.const {a})))
            (func (export "child") (param i32 i32) (result i64)
                (call $child_set (i64.const {c}) (i64.const {a}) (i64.const {v1}))
                (call $root (i32.const 1)))
            (func (export "bad_commit") (param i32 i32) (result i64)
                (call $commit)
                (i64.const 0))
            (func (export "set_then_trap") (param i32 i32) (result i64)
                (call $set (i64.const {a}) (i64.const {v4}))
                unreachable)
            (func (export "panics") (param i32 i32) (result i64)
                (call $panic (i64.const {boom}))
                (i64.const 0))
            (func (export "finish") (param i32 i32) (result i64)
                (drop (call $finish))
                (i64.const 0))
            (func (export "validator") (param i32 i32) (result i64)
                (local $out i32)
                (local.set $out (call $malloc (i32.const 1)))
                (i32.store8 (local.get $out) (call $is_validator))
                (i64.or (i64.shl (i64.const 1) (i64.const 32)) (i64.extend_i32_u (local.get $out)))))"#
    );
    Executor::default().compile(&wat::parse_str(wat).unwrap(), 16).unwrap()
}

fn failed_function(err: &ExecutorError) -> Option<&'static str> {
    match err {
        ExecutorError::Host(HostError::Failed { function, .. }) => Some(function),
        _ => None,
    }
}

#[test]
fn runtime_transactions_and_changes() {
    let module = module();
    let outcome = module.call_on_state("transactions", &[], Arc::new(InMemoryBackend::default())).unwrap();
    // `get("a")` returned `Some("1")`.
    assert_eq!(outcome.output, [1, 4, b'1']);
    let main: Vec<_> = outcome.changes.main.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    assert_eq!(main, vec![(b"a".to_vec(), Some(b"1".to_vec())), (b"b".to_vec(), Some(b"3".to_vec()))]);
    assert!(outcome.changes.children.is_empty(), "the open transaction was not rolled back");
    assert!(outcome.changes.offchain_index.is_empty());
}

#[test]
fn child_roots_are_in_the_storage_root() {
    let module = module();
    let mut top = BTreeMap::new();
    top.insert(b"x".to_vec(), b"y".to_vec());
    let backend = Arc::new(InMemoryBackend::new(top.clone(), BTreeMap::new()));
    let outcome = module.call_on_state("child", &[], backend.clone()).unwrap();
    let mut child = BTreeMap::new();
    child.insert(b"a".to_vec(), b"1".to_vec());
    let mut children = BTreeMap::new();
    children.insert(b"c".to_vec(), child);
    let expected = InMemoryBackend::from_genesis(top, children, StateVersion::V1).root(StateVersion::V1);
    assert_eq!(outcome.output, expected);
    let mut applied = (*backend).clone();
    applied.apply(&outcome.changes, StateVersion::V1);
    assert_eq!(applied.root(StateVersion::V1), expected);
}

#[test]
fn misuse_traps_and_failed_calls_leave_no_changes() {
    let module = module();
    let mut ext = Externalities::default();
    module.call_with("transactions", &[], &mut ext).unwrap();
    let before = ext.changes();

    let err = module.call_with("bad_commit", &[], &mut ext).unwrap_err();
    assert_eq!(failed_function(&err), Some("ext_storage_commit_transaction_version_1"), "{err}");
    let err = module.call_with("set_then_trap", &[], &mut ext).unwrap_err();
    assert!(matches!(err, ExecutorError::Trap(_)), "{err}");
    assert_eq!(ext.changes(), before, "a failed call changed the overlay");
    assert_eq!(ext.overlay.transaction_depth(), 0);

    let err = module.call_with("panics", &[], &mut ext).unwrap_err();
    assert!(matches!(&err, ExecutorError::Host(HostError::RuntimePanicked(m)) if m == "boom"), "{err}");
    assert_eq!(err.to_string(), "runtime panicked: boom");

    let err = module.call_with("finish", &[], &mut ext).unwrap_err();
    assert_eq!(failed_function(&err), Some("ext_crypto_finish_batch_verify_version_1"), "{err}");
}

#[test]
fn offchain_functions_need_an_offchain_context() {
    let module = module();
    let err = module.call("validator", &[]).unwrap_err();
    assert_eq!(failed_function(&err), Some("ext_offchain_is_validator_version_1"), "{err}");
    let mut ext = Externalities::default().with_offchain(OffchainContext { is_validator: true, ..Default::default() });
    assert_eq!(module.call_with("validator", &[], &mut ext).unwrap(), [1]);
}

#[test]
fn misc_runtime_version_reads_sections_or_calls_core_version() {
    use parity_scale_codec::Decode;
    let wat = r#"(module
        (import "env" "memory" (memory 1))
        (import "env" "ext_misc_runtime_version_version_1" (func $rv (param i64) (result i64)))
        (global (export "__heap_base") i32 (i32.const 1024))
        (func (export "version") (param $p i32) (param $l i32) (result i64)
            (call $rv (i64.or (i64.shl (i64.extend_i32_u (local.get $l)) (i64.const 32))
                              (i64.extend_i32_u (local.get $p))))))"#;
    let module = Executor::default().compile(&wat::parse_str(wat).unwrap(), 256).unwrap();
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/runtimes/");
    for (file, spec_version) in [("westend-runtime-v9300.wasm", 9300), ("gossamer-node_runtime.compact.wasm", 262)] {
        let code = std::fs::read(format!("{fixtures}{file}")).unwrap();
        let out = module.call("version", &code).unwrap();
        let encoded = Option::<Vec<u8>>::decode(&mut &out[..]).unwrap().expect("a version");
        let version = weft_runtime_executor::RuntimeVersion::decode_with_hint(&encoded, None).unwrap();
        assert_eq!(version.spec_version, spec_version, "{file}");
        assert!(!version.apis.is_empty(), "{file}");
    }
    let out = module.call("version", b"not a runtime").unwrap();
    assert_eq!(out, [0], "None for code that is not a runtime");
}

//! Engine behaviour on small hand-written modules: the call ABI, memory and heap
//! set-up, fresh state per call, and every fault a runtime can cause.

use weft_runtime_executor::{AllocatorError, Executor, ExecutorError, HostError};

/// A runtime-like module importing `env.memory` (1 page), with `__heap_base`
/// and the allocator imports, plus `body` (more functions and exports).
fn runtime(heap_base: u32, body: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (import "env" "memory" (memory 1))
            (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
            (import "env" "ext_allocator_free_version_1" (func $free (param i32)))
            (global (export "__heap_base") i32 (i32.const {heap_base}))
            (func $pack (param $ptr i32) (param $len i32) (result i64)
                (i64.or (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 32))
                        (i64.extend_i32_u (local.get $ptr))))
            {body}
        )"#
    ))
    .expect("test module is valid WAT")
}

fn compile(wasm: &[u8], heap_pages: u64) -> weft_runtime_executor::RuntimeModule {
    Executor::default().compile(wasm, heap_pages).expect("test module compiles")
}

const ECHO: &str = r#"(func (export "echo") (param $p i32) (param $l i32) (result i64)
    (call $pack (local.get $p) (local.get $l)))"#;

#[test]
fn echo_returns_the_input() {
    let module = compile(&runtime(1024, ECHO), 16);
    assert_eq!(module.call("echo", b"hello runtime").unwrap(), b"hello runtime");
    assert_eq!(module.call("echo", b"").unwrap(), b"");
    let big = vec![0xab; 300_000];
    assert_eq!(module.call("echo", &big).unwrap(), big);
}

#[test]
fn allocator_addresses_are_substrate_exact() {
    // Heap base 1001 is aligned to 1008. The 3-byte input takes order 0: header
    // 1008, ptr 1016. malloc(16), order 1: header 1024, ptr 1032. malloc(1): header
    // 1048, ptr 1056. malloc(9), order 1: header 1064, ptr 1072. After freeing the
    // malloc(1) block, malloc(8) pops it from the order-0 free list: 1056 again.
    let body = r#"(func (export "allocs") (param $p i32) (param $l i32) (result i64)
        (local $out i32) (local $a i32)
        (local.set $out (call $malloc (i32.const 16)))
        (local.set $a (call $malloc (i32.const 1)))
        (i32.store (local.get $out) (local.get $p))
        (i32.store offset=4 (local.get $out) (local.get $a))
        (i32.store offset=8 (local.get $out) (call $malloc (i32.const 9)))
        (call $free (local.get $a))
        (i32.store offset=12 (local.get $out) (call $malloc (i32.const 8)))
        (call $pack (local.get $out) (i32.const 16)))"#;
    let module = compile(&runtime(1001, body), 16);
    let out = module.call("allocs", b"abc").unwrap();
    let words: Vec<u32> = out.chunks(4).map(|c| u32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(words, vec![1016, 1056, 1072, 1056]);
}

#[test]
fn every_call_starts_from_fresh_state() {
    let body = r#"(global $counter (mut i32) (i32.const 0))
        (func (export "bump") (param $p i32) (param $l i32) (result i64)
            (local $out i32)
            (global.set $counter (i32.add (global.get $counter) (i32.const 1)))
            ;; memory byte 100 also counts calls
            (i32.store8 (i32.const 100) (i32.add (i32.load8_u (i32.const 100)) (i32.const 1)))
            (local.set $out (call $malloc (i32.const 8)))
            (i32.store (local.get $out) (global.get $counter))
            (i32.store offset=4 (local.get $out) (i32.load8_u (i32.const 100)))
            (call $pack (local.get $out) (i32.const 8)))"#;
    let module = compile(&runtime(1024, body), 16);
    for _ in 0..3 {
        assert_eq!(module.call("bump", &[]).unwrap(), [1, 0, 0, 0, 1, 0, 0, 0]);
    }
}

#[test]
fn imported_memory_is_initial_plus_heap_pages() {
    let body = r#"(func (export "size") (param $p i32) (param $l i32) (result i64)
            (local $out i32)
            (local.set $out (call $malloc (i32.const 8)))
            (i32.store (local.get $out) (memory.size))
            ;; the heap is static: the runtime cannot grow it either
            (i32.store offset=4 (local.get $out) (memory.grow (i32.const 1)))
            (call $pack (local.get $out) (i32.const 8)))"#;
    let module = compile(&runtime(1024, body), 7);
    assert_eq!(module.call("size", &[]).unwrap(), [8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
    let module = compile(&runtime(1024, body), 2048);
    assert_eq!(module.call("size", &[]).unwrap(), [0x01, 0x08, 0, 0, 0xff, 0xff, 0xff, 0xff]);
}

#[test]
fn defined_memory_is_rewritten_to_a_static_heap() {
    let wasm = wat::parse_str(
        r#"(module
            (memory (export "memory") 3)
            (global (export "__heap_base") i32 (i32.const 2048))
            (func (export "size") (param $p i32) (param $l i32) (result i64)
                (i32.store (i32.const 0) (memory.size))
                (i32.store (i32.const 4) (memory.grow (i32.const 1)))
                (i64.shl (i64.const 8) (i64.const 32))))"#,
    )
    .unwrap();
    let module = compile(&wasm, 5);
    assert_eq!(module.call("size", &[]).unwrap(), [8, 0, 0, 0, 0xff, 0xff, 0xff, 0xff]);
}

#[test]
fn code_that_is_not_wasm_is_rejected() {
    let executor = Executor::default();
    let err = executor.compile(b"this is not a runtime", 2048).unwrap_err();
    assert!(matches!(err, ExecutorError::NotWasm), "{err}");
    assert_eq!(err.to_string(), "runtime code is not a Wasm module (bad magic or version)");

    let err = executor.compile(b"\0asm\x01\0\0\0\x01\xff\xff", 2048).unwrap_err();
    assert!(matches!(err, ExecutorError::InvalidWasm(_)), "{err}");

    let mut compressed = weft_runtime_blob::ZSTD_PREFIX.to_vec();
    compressed.extend_from_slice(b"not zstd");
    let err = executor.compile(&compressed, 2048).unwrap_err();
    assert!(matches!(err, ExecutorError::Blob(_)), "{err}");

    // Valid zstd around something that is not Wasm.
    let mut compressed = weft_runtime_blob::ZSTD_PREFIX.to_vec();
    compressed.extend(zstd_frame(b"definitely not wasm"));
    assert!(matches!(executor.compile(&compressed, 2048), Err(ExecutorError::NotWasm)));

    // And the same through runtime_version.
    assert!(matches!(weft_runtime_executor::runtime_version(b"nope"), Err(ExecutorError::NotWasm)));
}

/// A zstd frame with raw (uncompressed) blocks, written by hand so the test
/// needs no compressor.
fn zstd_frame(data: &[u8]) -> Vec<u8> {
    assert!(data.len() < 256);
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd];
    // Frame header: single segment, 1-byte content size.
    frame.push(0x20);
    frame.push(data.len() as u8);
    // Last block, raw, size data.len(): 3-byte header = last(1) | type(2 bits)=0 | size << 3.
    let header = 1u32 | ((data.len() as u32) << 3);
    frame.extend_from_slice(&header.to_le_bytes()[..3]);
    frame.extend_from_slice(data);
    frame
}

#[test]
fn compressed_code_is_accepted() {
    let mut compressed = weft_runtime_blob::ZSTD_PREFIX.to_vec();
    let wasm = runtime(1024, ECHO);
    // Too long for the hand-made frame, so use several raw blocks.
    compressed.extend(zstd_raw_blocks(&wasm));
    let module = Executor::default().compile(&compressed, 16).unwrap();
    assert_eq!(module.call("echo", b"x").unwrap(), b"x");
}

fn zstd_raw_blocks(data: &[u8]) -> Vec<u8> {
    let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd];
    // No content size, no checksum, no dictionary, window descriptor follows.
    frame.push(0x00);
    // Window descriptor: exponent 10 (1 MiB window) - ample for small modules.
    frame.push(10 << 3);
    let chunks: Vec<&[u8]> = data.chunks(64 * 1024).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let last = u32::from(i + 1 == chunks.len());
        let header = last | ((chunk.len() as u32) << 3);
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.extend_from_slice(chunk);
    }
    frame
}

#[test]
fn a_trap_is_an_error_and_the_next_call_works() {
    let body = format!(
        r#"{ECHO}
        (func (export "trap") (param $p i32) (param $l i32) (result i64) unreachable)
        (func (export "div0") (param $p i32) (param $l i32) (result i64)
            (drop (i32.div_u (i32.const 1) (i32.const 0))) (i64.const 0))
        (func (export "oob") (param $p i32) (param $l i32) (result i64)
            (drop (i32.load (i32.const -4))) (i64.const 0))
        (func $rec (export "recurse") (param $p i32) (param $l i32) (result i64)
            (call $rec (local.get $p) (local.get $l)))"#
    );
    let module = compile(&runtime(1024, &body), 16);
    for method in ["trap", "div0", "oob", "recurse"] {
        let err = module.call(method, b"in").unwrap_err();
        assert!(matches!(err, ExecutorError::Trap(_)), "{method}: {err}");
        println!("{method}: {err}");
        assert_eq!(module.call("echo", b"still alive").unwrap(), b"still alive", "after {method}");
    }
    let err = module.call("trap", &[]).unwrap_err();
    assert!(err.to_string().contains("unreachable"), "{err}");
}

#[test]
fn calling_a_stubbed_import_names_it() {
    let wasm = wat::parse_str(format!(
        r#"(module
            (import "env" "memory" (memory 1))
            (import "env" "ext_test_unimplemented_version_1" (func $teardown (param i32)))
            (import "env" "ext_test_also_unimplemented_version_1" (func (param i32 i32) (result i32)))
            (global (export "__heap_base") i32 (i32.const 1024))
            (func $pack (param $ptr i32) (param $len i32) (result i64)
                (i64.or (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 32))
                        (i64.extend_i32_u (local.get $ptr))))
            {ECHO}
            (func (export "get") (param $p i32) (param $l i32) (result i64)
                (call $teardown (i32.const 0))
                (i64.const 0)))"#
    ))
    .unwrap();
    let module = compile(&wasm, 16);
    assert_eq!(
        module.stubbed_imports(),
        vec!["ext_test_unimplemented_version_1", "ext_test_also_unimplemented_version_1"]
    );
    // The stubs do not stop instantiation or other calls.
    assert_eq!(module.call("echo", b"ok").unwrap(), b"ok");
    let err = module.call("get", &[]).unwrap_err();
    assert_eq!(err.to_string(), "host function `ext_test_unimplemented_version_1` not implemented");
    assert!(
        matches!(err, ExecutorError::Host(HostError::NotImplemented(ref n)) if n == "ext_test_unimplemented_version_1")
    );
    assert_eq!(module.call("echo", b"ok").unwrap(), b"ok");
}

#[test]
fn allocating_past_the_heap_is_an_error() {
    let body = format!(
        r#"{ECHO}
        (func (export "hog") (param $p i32) (param $l i32) (result i64)
            (loop $again (br_if $again (i32.ne (call $malloc (i32.const 65536)) (i32.const 0))))
            (i64.const 0))
        (func (export "huge") (param $p i32) (param $l i32) (result i64)
            (drop (call $malloc (i32.const 0x02000001)))
            (i64.const 0))
        (func (export "double_free") (param $p i32) (param $l i32) (result i64)
            (local $a i32)
            (local.set $a (call $malloc (i32.const 8)))
            (call $free (local.get $a))
            (call $free (local.get $a))
            (i64.const 0))"#
    );
    let module = compile(&runtime(1024, &body), 4);
    let err = module.call("hog", &[]).unwrap_err();
    assert!(
        matches!(
            err,
            ExecutorError::Host(HostError::Allocator {
                function: "ext_allocator_malloc_version_1",
                error: AllocatorError::OutOfSpace { .. }
            })
        ),
        "{err}"
    );
    assert!(err.to_string().contains("ran out of space"), "{err}");
    let err = module.call("huge", &[]).unwrap_err();
    assert!(
        matches!(
            err,
            ExecutorError::Host(HostError::Allocator { error: AllocatorError::RequestedAllocationTooLarge { .. }, .. })
        ),
        "{err}"
    );
    let err = module.call("double_free", &[]).unwrap_err();
    assert!(
        matches!(err, ExecutorError::Host(HostError::Allocator { function: "ext_allocator_free_version_1", .. })),
        "{err}"
    );
    // Each call has a fresh allocator.
    assert_eq!(module.call("echo", b"fine").unwrap(), b"fine");
    // An input larger than the heap cannot even be passed in.
    let err = module.call("echo", &vec![0; 6 * 65536]).unwrap_err();
    assert!(matches!(err, ExecutorError::Allocator(AllocatorError::OutOfSpace { .. })), "{err}");
}

#[test]
fn bad_outputs_and_missing_exports_are_errors() {
    let body = format!(
        r#"{ECHO}
        (func (export "wild") (param $p i32) (param $l i32) (result i64) (i64.const -1))
        (func (export "wrong_sig") (param $p i32) (result i64) (i64.const 0))"#
    );
    let module = compile(&runtime(1024, &body), 16);
    assert!(matches!(module.call("wild", &[]), Err(ExecutorError::OutputOutOfBounds { .. })));
    assert!(matches!(module.call("nope", &[]), Err(ExecutorError::MissingExport(ref m)) if m == "nope"));
    assert!(matches!(module.call("wrong_sig", &[]), Err(ExecutorError::MissingExport(_))));
    assert!(matches!(module.call("__heap_base", &[]), Err(ExecutorError::MissingExport(_))));
}

#[test]
fn logging_reaches_the_host() {
    let wasm = wat::parse_str(
        r#"(module
            (import "env" "memory" (memory 1))
            (import "env" "ext_logging_log_version_1" (func $log (param i32 i64 i64)))
            (import "env" "ext_logging_max_level_version_1" (func $max (result i32)))
            (global (export "__heap_base") i32 (i32.const 1024))
            (data (i32.const 16) "runtimehello")
            (func (export "log") (param $p i32) (param $l i32) (result i64)
                (i32.store (i32.const 32) (call $max))
                (call $log (i32.const 2)
                    (i64.or (i64.shl (i64.const 7) (i64.const 32)) (i64.const 16))
                    (i64.or (i64.shl (i64.const 5) (i64.const 32)) (i64.const 23)))
                (i64.or (i64.shl (i64.const 4) (i64.const 32)) (i64.const 32)))
            (func (export "log_oob") (param $p i32) (param $l i32) (result i64)
                (call $log (i32.const 0) (i64.const -1) (i64.const 0))
                (i64.const 0)))"#,
    )
    .unwrap();
    let module = compile(&wasm, 16);
    // No subscriber is installed in this test: the maximum level is Off (0).
    assert_eq!(module.call("log", &[]).unwrap(), [0, 0, 0, 0]);
    let err = module.call("log_oob", &[]).unwrap_err();
    assert!(matches!(err, ExecutorError::Host(HostError::MemoryAccess { .. })), "{err}");
}

#[test]
fn unsuitable_modules_are_rejected_at_compile_time() {
    let executor = Executor::default();
    let check = |wat: &str, expect: fn(&ExecutorError) -> bool| {
        let err = executor.compile(&wat::parse_str(wat).unwrap(), 16).unwrap_err();
        assert!(expect(&err), "unexpected error {err}");
    };
    // A host function imported with the wrong signature.
    check(
        r#"(module (import "env" "memory" (memory 1)) (import "env" "ext_allocator_malloc_version_1" (func (param i64) (result i32))))"#,
        |e| matches!(e, ExecutorError::ImportSignature { .. }),
    );
    // An import from another module, or a non-function import.
    check(r#"(module (import "other" "f" (func)))"#, |e| matches!(e, ExecutorError::UnsupportedImport { .. }));
    check(r#"(module (import "env" "g" (global i32)))"#, |e| matches!(e, ExecutorError::UnsupportedImport { .. }));
    // No memory at all.
    check(r#"(module (func (export "f")))"#, |e| matches!(e, ExecutorError::NoMemory));
    // Heap pages past the 4 GiB limit.
    let err = executor.compile(&runtime(1024, ""), 65536).unwrap_err();
    assert!(matches!(err, ExecutorError::TooManyPages { initial: 1, heap_pages: 65536 }), "{err}");
    // SIMD is not accepted, as in Substrate.
    check(
        r#"(module (memory 1) (func (export "f") (result i32) (i32x4.extract_lane 0 (v128.const i32x4 1 2 3 4))))"#,
        |e| matches!(e, ExecutorError::InvalidWasm(_)),
    );
}

#[test]
fn missing_heap_base_is_an_error_at_call_time() {
    let wasm = wat::parse_str(
        r#"(module (import "env" "memory" (memory 1))
            (func (export "f") (param i32 i32) (result i64) (i64.const 0)))"#,
    )
    .unwrap();
    let module = compile(&wasm, 16);
    assert!(matches!(module.call("f", &[]), Err(ExecutorError::MissingHeapBase)));
}

#[test]
fn compiled_modules_can_be_shared_across_threads() {
    fn assert_send_sync<T: Send + Sync + Clone + 'static>() {}
    assert_send_sync::<weft_runtime_executor::RuntimeModule>();
    assert_send_sync::<Executor>();
    let module = compile(&runtime(1024, ECHO), 16);
    let handles: Vec<_> = (0..4u8)
        .map(|i| {
            let module = module.clone();
            std::thread::spawn(move || module.call("echo", &[i; 100]).unwrap())
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        assert_eq!(handle.join().unwrap(), vec![i as u8; 100]);
    }
}

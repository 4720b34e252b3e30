//! Execution limits (fuel, wall-clock timeout, call depth) and the faults a
//! call can hit: each is an error for its caller, and later calls on the
//! same executor and module work.

use std::time::Duration;
use weft_runtime_executor::{AllocatorError, Executor, ExecutorConfig, ExecutorError, HostError};

fn runtime() -> Vec<u8> {
    wat::parse_str(
        r#"(module
            (import "env" "memory" (memory 1))
            (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
            (import "env" "ext_test_unimplemented_version_1" (func $missing (param i32)))
            (global (export "__heap_base") i32 (i32.const 1024))
            (global $calls (mut i32) (i32.const 0))
            (func $pack (param $ptr i32) (param $len i32) (result i64)
                (i64.or (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 32))
                        (i64.extend_i32_u (local.get $ptr))))
            (func (export "echo") (param $p i32) (param $l i32) (result i64)
                (call $pack (local.get $p) (local.get $l)))
            (func (export "forever") (param $p i32) (param $l i32) (result i64)
                (loop $spin (br $spin))
                (i64.const 0))
            (func (export "count") (param $p i32) (param $l i32) (result i64)
                ;; loops n times (n = first input byte * 1000)
                (local $n i32)
                (local.set $n (i32.mul (i32.load8_u (local.get $p)) (i32.const 1000)))
                (block $done
                    (loop $again
                        (br_if $done (i32.eqz (local.get $n)))
                        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                        (br $again)))
                (call $pack (local.get $p) (local.get $l)))
            (func $rec (param $n i32) (result i32)
                (if (result i32) (i32.eqz (local.get $n))
                    (then (i32.const 0))
                    (else (i32.add (call $rec (i32.sub (local.get $n) (i32.const 1))) (i32.const 1)))))
            (func $early (param $n i32) (result i32)
                ;; leaves through `br` to the function label and through `return`
                (drop (br_if 0 (i32.const 7) (i32.eqz (local.get $n))))
                (if (i32.eq (local.get $n) (i32.const 1)) (then (return (i32.const 8))))
                (i32.const 9))
            (func (export "recurse") (param $p i32) (param $l i32) (result i64)
                (i32.store (local.get $p) (call $rec (i32.load (local.get $p))))
                (call $pack (local.get $p) (i32.const 4)))
            (func (export "early_exits") (param $p i32) (param $l i32) (result i64)
                ;; 3000 calls in sequence: the depth must come back each time
                (local $i i32) (local $sum i32)
                (loop $again
                    (local.set $sum (i32.add (local.get $sum) (call $early (i32.rem_u (local.get $i) (i32.const 3)))))
                    (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $again (i32.lt_u (local.get $i) (i32.const 3000))))
                (i32.store (local.get $p) (local.get $sum))
                (call $pack (local.get $p) (i32.const 4)))
            (func (export "bump") (param $p i32) (param $l i32) (result i64)
                (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
                (i32.store8 (i32.const 600) (i32.add (i32.load8_u (i32.const 600)) (i32.const 1)))
                (i32.store (i32.const 0) (global.get $calls))
                (i32.store (i32.const 4) (i32.load8_u (i32.const 600)))
                (call $pack (i32.const 0) (i32.const 8)))
            (func (export "trap") (param $p i32) (param $l i32) (result i64) unreachable)
            (func (export "hog") (param $p i32) (param $l i32) (result i64)
                (loop $again (br_if $again (i32.ne (call $malloc (i32.const 65536)) (i32.const 0))))
                (i64.const 0))
            (func (export "missing") (param $p i32) (param $l i32) (result i64)
                (call $missing (i32.const 0))
                (i64.const 0))
        )"#,
    )
    .unwrap()
}

fn executor(config: ExecutorConfig) -> Executor {
    Executor::new(config)
}

#[test]
fn a_loop_forever_is_stopped_by_fuel() {
    let executor = executor(ExecutorConfig { fuel: Some(5_000_000), ..ExecutorConfig::default() });
    let module = executor.compile(&runtime(), 16).unwrap();
    let err = module.call("forever", &[]).unwrap_err();
    assert!(matches!(err, ExecutorError::OutOfFuel { limit: 5_000_000 }), "{err}");
    assert_eq!(err.to_string(), "runtime call ran out of fuel (limit 5000000 Wasm operators)");
    assert_eq!(module.call("echo", b"alive").unwrap(), b"alive");
    // Fuel is per call, and metering is deterministic: the same call succeeds
    // or fails the same way every time.
    for _ in 0..3 {
        assert_eq!(module.call("count", &[200]).unwrap(), [200]);
        assert!(module.call("count", &[255]).is_ok());
    }
    let tight = executor_with_fuel(150_000);
    let module = tight.compile(&runtime(), 16).unwrap();
    let outcomes: Vec<bool> = (0..3).map(|_| module.call("count", &[30]).is_ok()).collect();
    assert_eq!(outcomes, vec![outcomes[0]; 3]);
    assert!(module.call("count", &[10]).is_ok());
    assert!(matches!(module.call("count", &[100]), Err(ExecutorError::OutOfFuel { .. })));
}

fn executor_with_fuel(fuel: u64) -> Executor {
    executor(ExecutorConfig { fuel: Some(fuel), ..ExecutorConfig::default() })
}

#[test]
fn a_loop_forever_is_stopped_by_the_timeout() {
    let executor = executor(ExecutorConfig { timeout: Some(Duration::from_millis(100)), ..ExecutorConfig::default() });
    let module = executor.compile(&runtime(), 16).unwrap();
    for _ in 0..2 {
        let err = module.call("forever", &[]).unwrap_err();
        assert!(matches!(err, ExecutorError::Timeout(t) if t == Duration::from_millis(100)), "{err}");
        assert!(err.to_string().contains("time limit"), "{err}");
        assert_eq!(module.call("echo", b"alive").unwrap(), b"alive");
    }
    // Calls from several threads at once are each watched.
    let handles: Vec<_> = (0..3)
        .map(|_| {
            let module = module.clone();
            std::thread::spawn(move || module.call("forever", &[]))
        })
        .collect();
    for handle in handles {
        assert!(matches!(handle.join().unwrap(), Err(ExecutorError::Timeout(_))));
    }
    assert_eq!(module.call("count", &[5]).unwrap(), [5]);
}

#[test]
fn deep_recursion_hits_the_call_depth_limit() {
    let executor = executor(ExecutorConfig { max_call_depth: Some(1000), ..ExecutorConfig::default() });
    let module = executor.compile(&runtime(), 16).unwrap();
    // recurse(n) makes n + 2 frames (the export, then n + 1 of $rec).
    assert_eq!(module.call("recurse", &998u32.to_le_bytes()).unwrap(), 998u32.to_le_bytes());
    let err = module.call("recurse", &999u32.to_le_bytes()).unwrap_err();
    assert!(matches!(err, ExecutorError::CallDepthExceeded { limit: 1000 }), "{err}");
    let err = module.call("recurse", &1_000_000u32.to_le_bytes()).unwrap_err();
    assert!(matches!(err, ExecutorError::CallDepthExceeded { limit: 1000 }), "{err}");
    // Every way out of a function gives its frame back.
    assert_eq!(module.call("early_exits", &[0; 4]).unwrap(), (1000 * (7 + 8 + 9) as u32).to_le_bytes());
    assert_eq!(module.call("recurse", &998u32.to_le_bytes()).unwrap(), 998u32.to_le_bytes());
}

/// The PVF executor, with every limit on, faces each fault.
fn limited() -> weft_runtime_executor::RuntimeModule {
    let config = ExecutorConfig {
        fuel: Some(50_000_000),
        timeout: Some(Duration::from_secs(5)),
        max_call_depth: Some(500),
        ..ExecutorConfig::default()
    };
    Executor::new(config).compile(&runtime(), 8).unwrap()
}

#[test]
fn fault_heap_overrun_then_next_call_works() {
    let module = limited();
    let err = module.call("hog", &[]).unwrap_err();
    assert!(
        matches!(err, ExecutorError::Host(HostError::Allocator { error: AllocatorError::OutOfSpace { .. }, .. })),
        "{err}"
    );
    assert_eq!(module.call("echo", b"ok").unwrap(), b"ok");
}

#[test]
fn fault_trap_then_next_call_works() {
    let module = limited();
    let err = module.call("trap", &[]).unwrap_err();
    assert!(matches!(err, ExecutorError::Trap(ref m) if m.contains("unreachable")), "{err}");
    assert_eq!(module.call("echo", b"ok").unwrap(), b"ok");
}

#[test]
fn fault_missing_import_then_next_call_works() {
    let module = limited();
    assert_eq!(module.stubbed_imports(), vec!["ext_test_unimplemented_version_1"]);
    let err = module.call("missing", &[]).unwrap_err();
    assert!(matches!(err, ExecutorError::Host(HostError::NotImplemented(_))), "{err}");
    assert_eq!(module.call("echo", b"ok").unwrap(), b"ok");
}

#[test]
fn fault_not_wasm_then_next_compile_works() {
    let executor = Executor::pvf();
    let err = executor.compile_pvf(b"\x00asm but not really").unwrap_err();
    assert!(matches!(err, ExecutorError::NotWasm), "{err}");
    let err = executor.compile_pvf(b"\0asm\x01\0\0\0\x0b\xff").unwrap_err();
    assert!(matches!(err, ExecutorError::InvalidWasm(_)), "{err}");
    let module = executor.compile_pvf(&runtime()).unwrap();
    assert_eq!(module.call("echo", b"ok").unwrap(), b"ok");
}

#[test]
fn fault_infinite_loop_under_pvf_defaults_then_next_call_works() {
    let executor = Executor::new(ExecutorConfig { timeout: Some(Duration::from_millis(200)), ..ExecutorConfig::pvf() });
    let module = executor.compile_pvf(&runtime()).unwrap();
    let err = module.call("forever", &[]).unwrap_err();
    assert!(matches!(err, ExecutorError::Timeout(_)), "{err}");
    assert_eq!(module.call("echo", b"ok").unwrap(), b"ok");
}

#[test]
fn pooled_instances_start_fresh() {
    let module = limited();
    for _ in 0..4 {
        assert_eq!(module.call("bump", &[]).unwrap(), [1, 0, 0, 0, 1, 0, 0, 0]);
        assert_eq!(module.pooled_instances(), 1);
        // A failed call leaves nothing behind either.
        assert!(module.call("trap", &[]).is_err());
        assert!(module.call("hog", &[]).is_err());
    }
}

#[test]
fn pooled_instances_restore_data_segments_and_zero_the_heap() {
    let wasm = wat::parse_str(
        r#"(module
            (import "env" "memory" (memory 2))
            (global (export "__heap_base") i32 (i32.const 8192))
            (global $sp (mut i32) (i32.const 4096))
            (data (i32.const 5000) "hello")
            (func (export "scribble") (param $p i32) (param $l i32) (result i64)
                ;; report what a fresh instance has, then dirty it everywhere
                (i32.store (i32.const 0) (global.get $sp))
                (i32.store8 (i32.const 4) (i32.load8_u (i32.const 5000)))
                (i32.store8 (i32.const 5) (i32.load8_u (i32.const 70000)))
                (i32.store8 (i32.const 6) (i32.load8_u (i32.const 200000)))
                (global.set $sp (i32.const 1))
                (i32.store8 (i32.const 5000) (i32.const 0x58))
                (i32.store8 (i32.const 70000) (i32.const 0x59))
                (i32.store8 (i32.const 200000) (i32.const 0x5a))
                (if (i32.load8_u (local.get $p)) (then unreachable))
                (i64.or (i64.shl (i64.const 7) (i64.const 32)) (i64.const 0))))"#,
    )
    .unwrap();
    let module = Executor::default().compile(&wasm, 4).unwrap();
    let fresh = [0x00, 0x10, 0, 0, b'h', 0, 0];
    for fail in [0u8, 1, 0, 1, 0] {
        let mut ext = weft_runtime_executor::Externalities::default();
        let (result, timings) = module.call_timed("scribble", &[fail], &mut ext);
        if fail == 0 {
            assert_eq!(result.unwrap(), fresh);
        } else {
            assert!(result.is_err());
        }
        assert_eq!(module.pooled_instances(), 1);
        let _ = timings.pooled;
    }
    let (_, timings) = module.call_timed("scribble", &[0], &mut Default::default());
    assert!(timings.pooled);
    // Without pooling, the same.
    let module =
        Executor::new(ExecutorConfig { instance_pool_size: 0, ..ExecutorConfig::default() }).compile(&wasm, 4).unwrap();
    for _ in 0..2 {
        assert_eq!(module.call("scribble", &[0]).unwrap(), fresh);
        assert_eq!(module.pooled_instances(), 0);
    }
}

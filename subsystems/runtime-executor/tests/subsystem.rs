//! The runtime executor subsystem: requests off the bus, answered from the
//! worker pool through the message's reply channel, with per-call metrics.

use rand::SeedableRng;
use std::collections::BTreeMap;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use weft_messages::{oneshot, Hash, OverseerSignal, RuntimeExecutorMessage, RuntimeExecutorSlot};
use weft_overseer::{DynSubsystem, Input, RawContext};
use weft_runtime_executor::{
    Executor, InMemoryBackend, RuntimeExecutor, RuntimeExecutorConfig, SharedState, StateProvider,
};

/// Reads the storage value under the input key; `Core_version` returns a fixed blob.
fn runtime() -> Vec<u8> {
    wat::parse_str(
        r#"(module
            (import "env" "memory" (memory 1))
            (import "env" "ext_storage_get_version_1" (func $get (param i64) (result i64)))
            (global (export "__heap_base") i32 (i32.const 1024))
            (data (i32.const 16) "version!")
            (func $pack (param $ptr i32) (param $len i32) (result i64)
                (i64.or (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 32))
                        (i64.extend_i32_u (local.get $ptr))))
            (func (export "read") (param $p i32) (param $l i32) (result i64)
                ;; returns the SCALE Option<Vec<u8>> the host gives
                (call $get (call $pack (local.get $p) (local.get $l))))
            (func (export "Core_version") (param $p i32) (param $l i32) (result i64)
                (call $pack (i32.const 16) (i32.const 8)))
            (func (export "boom") (param $p i32) (param $l i32) (result i64) unreachable))"#,
    )
    .unwrap()
}

fn state() -> SharedState {
    let mut main = BTreeMap::new();
    main.insert(b"key".to_vec(), b"value".to_vec());
    Arc::new(InMemoryBackend::new(main, BTreeMap::new()))
}

const KNOWN: Hash = Hash::ZERO;

fn hash(byte: u8) -> Hash {
    let mut h = [0u8; 32];
    h[0] = byte;
    weft_messages::Hash::from(h)
}

fn deliver(subsystem: &mut RuntimeExecutor, message: RuntimeExecutorMessage) {
    let clock = Duration::ZERO;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut timers = 0;
    let mut ctx = RawContext::new(&clock, &mut rng, &mut timers);
    DynSubsystem::<RuntimeExecutorSlot>::handle(subsystem, Input::Message(message), &mut ctx);
    assert!(ctx.into_effects().is_empty(), "the executor sends nothing on the bus");
}

fn call(
    subsystem: &mut RuntimeExecutor,
    at: Hash,
    method: &str,
    input: &[u8],
) -> oneshot::Receiver<Result<Vec<u8>, String>> {
    let (reply, rx) = oneshot::channel();
    deliver(subsystem, RuntimeExecutorMessage::Call { at, method: method.into(), input: input.to_vec(), reply });
    rx
}

fn wait<T>(rx: oneshot::Receiver<T>) -> T {
    futures::executor::block_on(rx).expect("the executor answers every request")
}

#[test]
fn calls_run_on_workers_and_reply_through_the_message() {
    let code = runtime();
    let provider: StateProvider = Arc::new(move |at| (at == KNOWN).then(|| (code.clone(), state())));
    let mut subsystem = RuntimeExecutor::new(Executor::default(), provider, RuntimeExecutorConfig::default());
    let metrics = subsystem.metrics();

    // "key" as SCALE Vec<u8>: compact length 3 << 2 = 12.
    let answer = wait(call(&mut subsystem, KNOWN, "read", b"key"));
    assert_eq!(answer.unwrap(), [&[1u8, 20][..], b"value"].concat());
    let answer = wait(call(&mut subsystem, KNOWN, "read", b"nope"));
    assert_eq!(answer.unwrap(), [0u8]);
    let err = wait(call(&mut subsystem, hash(9), "read", b"key")).unwrap_err();
    assert!(err.contains("not available"), "{err}");
    let err = wait(call(&mut subsystem, KNOWN, "boom", &[])).unwrap_err();
    assert!(err.contains("unreachable"), "{err}");
    let (reply, rx) = oneshot::channel();
    deliver(&mut subsystem, RuntimeExecutorMessage::Version { at: KNOWN, reply });
    assert_eq!(wait(rx).unwrap(), b"version!");

    let recent = metrics.recent();
    assert_eq!(recent.len(), 5);
    assert_eq!(recent.iter().map(|c| c.ok).collect::<Vec<_>>(), [true, true, false, false, true]);
    assert!(!recent[0].pooled && recent[1].pooled, "{recent:?}");
    assert_eq!(metrics.succeeded.load(std::sync::atomic::Ordering::Relaxed), 3);
    assert_eq!(metrics.failed.load(std::sync::atomic::Ordering::Relaxed), 2);

    // After Conclude the workers are gone and requests are refused.
    let clock = Duration::ZERO;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut timers = 0;
    let mut ctx = RawContext::new(&clock, &mut rng, &mut timers);
    DynSubsystem::<RuntimeExecutorSlot>::handle(&mut subsystem, Input::Signal(OverseerSignal::Conclude), &mut ctx);
    let err = wait(call(&mut subsystem, KNOWN, "read", b"key")).unwrap_err();
    assert!(err.contains("stopped"), "{err}");
}

#[test]
fn a_full_queue_refuses_at_once_instead_of_blocking_the_bus() {
    let code = runtime();
    // The provider of block 1 waits at a gate, holding the only worker.
    let (entered_tx, entered_rx) = mpsc::channel::<()>();
    let (open_tx, open_rx) = mpsc::channel::<()>();
    let entered_tx = Mutex::new(entered_tx);
    let open_rx = Mutex::new(open_rx);
    let provider: StateProvider = Arc::new(move |at| {
        if at == hash(1) {
            let _ = entered_tx.lock().unwrap().send(());
            let _ = open_rx.lock().unwrap().recv();
        }
        Some((code.clone(), state()))
    });
    let config = RuntimeExecutorConfig { workers: 1, queue: 1, ..RuntimeExecutorConfig::default() };
    let mut subsystem = RuntimeExecutor::new(Executor::default(), provider, config);
    let first = call(&mut subsystem, hash(1), "read", b"key");
    entered_rx.recv().unwrap();
    let second = call(&mut subsystem, KNOWN, "read", b"key");
    let third = call(&mut subsystem, KNOWN, "read", b"key");
    let err = wait(third).unwrap_err();
    assert!(err.contains("busy"), "{err}");
    open_tx.send(()).unwrap();
    assert!(wait(first).is_ok());
    assert!(wait(second).is_ok());
    let metrics = subsystem.metrics();
    assert_eq!(metrics.accepted.load(std::sync::atomic::Ordering::Relaxed), 2);
    assert_eq!(metrics.rejected.load(std::sync::atomic::Ordering::Relaxed), 1);
}

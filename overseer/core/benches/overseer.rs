//! Overseer overhead against a plain tokio channel, measured in one run:
//! throughput of messages between two subsystems, and the round trip of a
//! request carrying a oneshot reply.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_messages::*;
use weft_overseer::*;

const BATCH: u32 = 10_000;

/// Sends `BATCH` messages to the chain store on every ActiveLeaves signal.
struct Source;

impl Subsystem for Source {
    type Slot = SyncSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "bench-source"
    }
    fn on_signal(&mut self, signal: &OverseerSignal, ctx: &mut Context<'_, '_, Self>) {
        if matches!(signal, OverseerSignal::ActiveLeaves(_)) {
            for number in 0..BATCH {
                let (reply, _) = oneshot::channel();
                ctx.send(ChainStoreMessage::BlockHash { number, reply });
            }
        }
    }
    fn on_message(&mut self, _: SyncMessage, _: &mut Context<'_, '_, Self>) {}
}

/// Counts messages; answers `BestBlock` at once.
struct Sink {
    received: Arc<AtomicU64>,
}

impl Subsystem for Sink {
    type Slot = ChainStoreSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "bench-sink"
    }
    fn on_signal(&mut self, _: &OverseerSignal, _: &mut Context<'_, '_, Self>) {}
    fn on_message(&mut self, message: ChainStoreMessage, _: &mut Context<'_, '_, Self>) {
        self.received.fetch_add(1, Ordering::Release);
        if let ChainStoreMessage::BestBlock { reply } = message {
            let _ = reply.send((Hash::ZERO, 0));
        }
    }
}

fn leaf_signal(n: u32) -> OverseerSignal {
    OverseerSignal::ActiveLeaves(ActiveLeavesUpdate {
        activated: Some(ActivatedLeaf { hash: Hash::from([n as u8; 32]), number: n }),
        deactivated: vec![],
    })
}

fn start(threaded: bool, received: Arc<AtomicU64>) -> OverseerHandle {
    OverseerBuilder::new()
        .thread_per_subsystem(threaded)
        .replace_sync(|_| Source)
        .replace_chain_store(move |_| Sink { received: received.clone() })
        .start()
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("throughput_10k_messages");
    group.throughput(Throughput::Elements(u64::from(BATCH)));
    group.sample_size(20);
    for threaded in [true, false] {
        let name = if threaded { "overseer_thread_per_subsystem" } else { "overseer_single_thread" };
        let system = actix::System::new();
        let received = Arc::new(AtomicU64::new(0));
        let handle = system.block_on(async { start(threaded, received.clone()) });
        let mut round = 0u32;
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                system.block_on(async {
                    let began = Instant::now();
                    for _ in 0..iters {
                        round += 1;
                        let target = received.load(Ordering::Acquire) + u64::from(BATCH);
                        handle.signal(leaf_signal(round));
                        while received.load(Ordering::Acquire) < target {
                            tokio::task::yield_now().await;
                        }
                    }
                    began.elapsed()
                })
            })
        });
        system.block_on(async {
            handle.stop();
            let _ = handle.wait().await;
        });
    }
    // Baselines: the same payload through a plain bounded tokio channel between
    // two tasks, on one thread and on two worker threads.
    for (name, runtime) in [
        ("tokio_mpsc_current_thread", tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()),
        (
            "tokio_mpsc_two_workers",
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap(),
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let began = Instant::now();
                    for _ in 0..iters {
                        let (tx, mut rx) = tokio::sync::mpsc::channel::<ChainStoreMessage>(1024);
                        let producer = tokio::spawn(async move {
                            for number in 0..BATCH {
                                let (reply, _) = oneshot::channel();
                                let _ = tx.send(ChainStoreMessage::BlockHash { number, reply }).await;
                            }
                        });
                        let consumer = tokio::spawn(async move {
                            let mut n = 0;
                            while rx.recv().await.is_some() {
                                n += 1;
                            }
                            n
                        });
                        producer.await.unwrap();
                        assert_eq!(consumer.await.unwrap(), BATCH);
                    }
                    began.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn round_trip(c: &mut Criterion) {
    let mut group = c.benchmark_group("request_round_trip");
    group.measurement_time(Duration::from_secs(3));
    for threaded in [true, false] {
        let name = if threaded { "overseer_thread_per_subsystem" } else { "overseer_single_thread" };
        let system = actix::System::new();
        let handle = system.block_on(async { start(threaded, Arc::default()) });
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                system.block_on(async {
                    let began = Instant::now();
                    for _ in 0..iters {
                        let (tx, rx) = oneshot::channel();
                        handle.send(ChainStoreMessage::BestBlock { reply: tx }).await;
                        rx.await.unwrap();
                    }
                    began.elapsed()
                })
            })
        });
        system.block_on(async {
            handle.stop();
            let _ = handle.wait().await;
        });
    }
    for (name, runtime) in [
        ("tokio_mpsc_current_thread", tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()),
        (
            "tokio_mpsc_two_workers",
            tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap(),
        ),
    ] {
        let (tx, mut rx) = tokio::sync::mpsc::channel::<ChainStoreMessage>(1024);
        runtime.spawn(async move {
            while let Some(message) = rx.recv().await {
                if let ChainStoreMessage::BestBlock { reply } = message {
                    let _ = reply.send((Hash::ZERO, 0));
                }
            }
        });
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                runtime.block_on(async {
                    let began = Instant::now();
                    for _ in 0..iters {
                        let (reply, rx) = oneshot::channel();
                        tx.send(ChainStoreMessage::BestBlock { reply }).await.unwrap();
                        rx.await.unwrap();
                    }
                    began.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, throughput, round_trip);
criterion_main!(benches);

//! Overseer overhead against a plain tokio channel, measured in one run:
//! throughput of messages between two subsystems, and the round trip of a
//! request carrying a oneshot reply.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use weft_messages::*;
use weft_overseer::*;

const BATCH: u32 = 10_000;

/// Sends `BATCH` messages to the chain store each time it is told to
/// (a `PeerDisconnected` message from the bench, so no signal is broadcast to
/// the other twenty slots).
struct Source;

impl Subsystem for Source {
    type Slot = SyncSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "bench-source"
    }
    fn on_signal(&mut self, _: &OverseerSignal, _: &mut Context<'_, '_, Self>) {}
    fn on_message(&mut self, message: SyncMessage, ctx: &mut Context<'_, '_, Self>) {
        if let SyncMessage::PeerDisconnected { .. } = message {
            for number in 0..BATCH {
                let (reply, _) = oneshot::channel();
                ctx.send(ChainStoreMessage::BlockHash { number, reply });
            }
        }
    }
}

/// Counts messages, and wakes the bench after every `BATCH` of them; answers
/// `BestBlock` at once.
struct Sink {
    received: u64,
    batch_done: Arc<Notify>,
}

impl Subsystem for Sink {
    type Slot = ChainStoreSlot;
    type Event = ();
    fn implementation(&self) -> &str {
        "bench-sink"
    }
    fn on_signal(&mut self, _: &OverseerSignal, _: &mut Context<'_, '_, Self>) {}
    fn on_message(&mut self, message: ChainStoreMessage, _: &mut Context<'_, '_, Self>) {
        match message {
            ChainStoreMessage::BestBlock { reply } => {
                let _ = reply.send((Hash::ZERO, 0));
            }
            _ => {
                self.received += 1;
                if self.received.is_multiple_of(u64::from(BATCH)) {
                    self.batch_done.notify_one();
                }
            }
        }
    }
}

fn start(threaded: bool, batch_done: Arc<Notify>) -> OverseerHandle {
    OverseerBuilder::new()
        .thread_per_subsystem(threaded)
        .replace_sync(|_| Source)
        .replace_chain_store(move |_| Sink { received: 0, batch_done: batch_done.clone() })
        .start()
}

fn throughput(c: &mut Criterion) {
    let mut group = c.benchmark_group("throughput_10k_messages");
    group.throughput(Throughput::Elements(u64::from(BATCH)));
    group.sample_size(20);
    for threaded in [true, false] {
        let name = if threaded { "overseer_thread_per_subsystem" } else { "overseer_single_thread" };
        let system = actix::System::new();
        let batch_done = Arc::new(Notify::new());
        let handle = system.block_on(async { start(threaded, batch_done.clone()) });
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                system.block_on(async {
                    let began = Instant::now();
                    for _ in 0..iters {
                        // The bench thread sleeps until the sink has all of the batch
                        // (a spinning wait would take a core from the two subsystems).
                        handle.send(SyncMessage::PeerDisconnected { peer: String::new() }).await;
                        batch_done.notified().await;
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
        let handle = system.block_on(async { start(threaded, Arc::new(Notify::new())) });
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

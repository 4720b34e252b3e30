//! The runtime executor as an overseer subsystem: it takes
//! [`RuntimeExecutorMessage`]s off the bus and runs them on a bounded pool of
//! worker threads, so that a long runtime call never blocks the bus.
//!
//! There is no chain store yet, so the state of block `at` (its `:code` and
//! a state handle) comes from a [`StateProvider`] given at construction.
//! Each call records how long compiling (a cache hit after the first time),
//! getting an instance and executing took, in [`ExecutorMetrics`].

use crate::blob::{heap_pages_from_storage, CODE_KEY, HEAP_PAGES_KEY};
use crate::engine::{CallTimings, Executor};
use crate::externalities::Externalities;
use crate::overlay::SharedState;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use weft_messages::{Hash, OverseerSignal, RuntimeExecutorMessage, RuntimeExecutorSlot};
use weft_overseer::{Context, Subsystem};

/// The runtime code and state of a block, if the provider knows the block.
pub type StateProvider = Arc<dyn Fn(Hash) -> Option<(Vec<u8>, SharedState)> + Send + Sync>;

/// A state provider that reads the code from the state's own `:code`.
pub fn code_from_state(states: impl Fn(Hash) -> Option<SharedState> + Send + Sync + 'static) -> StateProvider {
    Arc::new(move |at| {
        let state = states(at)?;
        let code = state.storage(CODE_KEY).ok()??;
        Some((code, state))
    })
}

/// Settings of the subsystem.
#[derive(Debug, Clone)]
pub struct RuntimeExecutorConfig {
    /// Worker threads running calls.
    pub workers: usize,
    /// Calls waiting for a worker; past it, requests are refused at once with
    /// an error (the bus thread never blocks).
    pub queue: usize,
    /// Per-call metrics kept for inspection (most recent last).
    pub recent_calls: usize,
}

impl Default for RuntimeExecutorConfig {
    fn default() -> Self {
        RuntimeExecutorConfig { workers: 2, queue: 64, recent_calls: 64 }
    }
}

/// Metrics of one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallMetrics {
    /// The runtime function (`"Core_version"` for version requests).
    pub method: String,
    /// Time to get the compiled module (near zero on a cache hit).
    pub compile: Duration,
    /// Time to get an instance (near zero when pooled).
    pub instantiate: Duration,
    /// Time running the call.
    pub execute: Duration,
    /// Whether the instance came from the pool.
    pub pooled: bool,
    /// Whether the call succeeded.
    pub ok: bool,
}

/// Counters and recent per-call metrics of a [`RuntimeExecutor`].
#[derive(Debug, Default)]
pub struct ExecutorMetrics {
    /// Requests accepted onto the queue.
    pub accepted: AtomicU64,
    /// Requests refused because the queue was full (or the workers stopped).
    pub rejected: AtomicU64,
    /// Calls that completed successfully.
    pub succeeded: AtomicU64,
    /// Calls that failed (unknown block, compile error, runtime error).
    pub failed: AtomicU64,
    /// Total time compiling or fetching compiled modules, in nanoseconds.
    pub compile_nanos: AtomicU64,
    /// Total time getting instances, in nanoseconds.
    pub instantiate_nanos: AtomicU64,
    /// Total time executing, in nanoseconds.
    pub execute_nanos: AtomicU64,
    recent: Mutex<VecDeque<CallMetrics>>,
    recent_capacity: AtomicU64,
}

impl ExecutorMetrics {
    /// The metrics of the most recent calls, oldest first.
    pub fn recent(&self) -> Vec<CallMetrics> {
        self.recent.lock().unwrap_or_else(|p| p.into_inner()).iter().cloned().collect()
    }

    fn record(&self, call: CallMetrics) {
        let nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        self.compile_nanos.fetch_add(nanos(call.compile), Ordering::Relaxed);
        self.instantiate_nanos.fetch_add(nanos(call.instantiate), Ordering::Relaxed);
        self.execute_nanos.fetch_add(nanos(call.execute), Ordering::Relaxed);
        if call.ok { &self.succeeded } else { &self.failed }.fetch_add(1, Ordering::Relaxed);
        let capacity = self.recent_capacity.load(Ordering::Relaxed) as usize;
        if capacity > 0 {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() >= capacity {
                recent.pop_front();
            }
            recent.push_back(call);
        }
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// The runtime executor subsystem (implementation name `"wasmer"`).
pub struct RuntimeExecutor {
    executor: Executor,
    provider: StateProvider,
    metrics: Arc<ExecutorMetrics>,
    queue: Option<SyncSender<Job>>,
    workers: Vec<std::thread::JoinHandle<()>>,
}

impl RuntimeExecutor {
    /// Starts the worker threads.
    pub fn new(executor: Executor, provider: StateProvider, config: RuntimeExecutorConfig) -> Self {
        let metrics = Arc::new(ExecutorMetrics::default());
        metrics.recent_capacity.store(config.recent_calls as u64, Ordering::Relaxed);
        let (sender, receiver) = sync_channel::<Job>(config.queue);
        let receiver = Arc::new(Mutex::new(receiver));
        let workers = (0..config.workers.max(1))
            .map(|i| {
                let receiver = receiver.clone();
                std::thread::Builder::new()
                    .name(format!("weft-runtime-worker-{i}"))
                    .spawn(move || worker(&receiver))
                    .expect("cannot start a runtime executor worker thread")
            })
            .collect();
        RuntimeExecutor { executor, provider, metrics, queue: Some(sender), workers }
    }

    /// The metrics, shared with the workers.
    pub fn metrics(&self) -> Arc<ExecutorMetrics> {
        self.metrics.clone()
    }

    /// Queues a request; a request that cannot be queued is answered at once.
    fn dispatch(&mut self, message: RuntimeExecutorMessage) {
        let (executor, provider, metrics) = (self.executor.clone(), self.provider.clone(), self.metrics.clone());
        let (job, refuse): (Job, Box<dyn FnOnce(String)>) = match message {
            RuntimeExecutorMessage::Call { at, method, input, reply } => {
                let reply = Arc::new(Mutex::new(Some(reply)));
                let refuse_reply = reply.clone();
                (
                    Box::new(move || {
                        let result = run_call(&executor, &provider, &metrics, at, &method, &input);
                        if let Some(reply) = reply.lock().unwrap_or_else(|p| p.into_inner()).take() {
                            let _ = reply.send(result);
                        }
                    }),
                    Box::new(move |error| {
                        if let Some(reply) = refuse_reply.lock().unwrap_or_else(|p| p.into_inner()).take() {
                            let _ = reply.send(Err(error));
                        }
                    }),
                )
            }
            RuntimeExecutorMessage::Version { at, reply } => {
                let reply = Arc::new(Mutex::new(Some(reply)));
                let refuse_reply = reply.clone();
                (
                    Box::new(move || {
                        let result = run_version(&executor, &provider, &metrics, at);
                        if let Some(reply) = reply.lock().unwrap_or_else(|p| p.into_inner()).take() {
                            let _ = reply.send(result);
                        }
                    }),
                    Box::new(move |error| {
                        if let Some(reply) = refuse_reply.lock().unwrap_or_else(|p| p.into_inner()).take() {
                            let _ = reply.send(Err(error));
                        }
                    }),
                )
            }
        };
        let error = match &self.queue {
            Some(queue) => match queue.try_send(job) {
                Ok(()) => {
                    self.metrics.accepted.fetch_add(1, Ordering::Relaxed);
                    return;
                }
                Err(TrySendError::Full(_)) => "runtime executor busy: call queue full".to_string(),
                Err(TrySendError::Disconnected(_)) => "runtime executor stopped".to_string(),
            },
            None => "runtime executor stopped".to_string(),
        };
        self.metrics.rejected.fetch_add(1, Ordering::Relaxed);
        refuse(error);
    }

    /// Stops taking calls and waits for the queued ones to finish.
    fn shutdown(&mut self) {
        self.queue = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

impl Drop for RuntimeExecutor {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn worker(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = match receiver.lock().unwrap_or_else(|p| p.into_inner()).recv() {
            Ok(job) => job,
            Err(_) => return,
        };
        job();
    }
}

fn run_call(
    executor: &Executor,
    provider: &StateProvider,
    metrics: &ExecutorMetrics,
    at: Hash,
    method: &str,
    input: &[u8],
) -> Result<Vec<u8>, String> {
    let start = Instant::now();
    let outcome = (|| {
        let (code, state) = provider(at).ok_or_else(|| format!("state of block {at:?} is not available"))?;
        let heap_pages = heap_pages_from_storage(state.storage(HEAP_PAGES_KEY).map_err(|e| e.to_string())?.as_deref());
        let module = executor.compile(&code, heap_pages).map_err(|e| e.to_string())?;
        let compile = start.elapsed();
        let mut ext = Externalities::new(state);
        let (result, timings) = module.call_timed(method, input, &mut ext);
        Ok::<_, String>((result.map_err(|e| e.to_string()), compile, timings))
    })();
    let (result, compile, timings) = match outcome {
        Ok(done) => done,
        Err(error) => (Err(error), start.elapsed(), CallTimings::default()),
    };
    let call = CallMetrics {
        method: method.to_string(),
        compile,
        instantiate: timings.instantiate,
        execute: timings.execute,
        pooled: timings.pooled,
        ok: result.is_ok(),
    };
    tracing::debug!(
        target: "runtime-executor",
        method,
        compile_us = call.compile.as_micros() as u64,
        instantiate_us = call.instantiate.as_micros() as u64,
        execute_us = call.execute.as_micros() as u64,
        pooled = call.pooled,
        ok = call.ok,
        "runtime call"
    );
    metrics.record(call);
    result
}

fn run_version(
    executor: &Executor,
    provider: &StateProvider,
    metrics: &ExecutorMetrics,
    at: Hash,
) -> Result<Vec<u8>, String> {
    let start = Instant::now();
    let result = (|| {
        let (code, _) = provider(at).ok_or_else(|| format!("state of block {at:?} is not available"))?;
        crate::host::encoded_version_of_code(Some(executor.clone()), &code)
            .ok_or_else(|| "cannot read the runtime version of the code".to_string())
    })();
    metrics.record(CallMetrics {
        method: "Core_version".into(),
        compile: Duration::ZERO,
        instantiate: Duration::ZERO,
        execute: start.elapsed(),
        pooled: false,
        ok: result.is_ok(),
    });
    result
}

impl Subsystem for RuntimeExecutor {
    type Slot = RuntimeExecutorSlot;
    type Event = ();

    fn implementation(&self) -> &str {
        "wasmer"
    }

    fn on_signal(&mut self, signal: &OverseerSignal, _ctx: &mut Context<'_, '_, Self>) {
        if matches!(signal, OverseerSignal::Conclude) {
            self.shutdown();
        }
    }

    fn on_message(&mut self, message: RuntimeExecutorMessage, _ctx: &mut Context<'_, '_, Self>) {
        self.dispatch(message);
    }
}

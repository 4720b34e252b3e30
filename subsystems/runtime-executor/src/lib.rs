//! The runtime executor: runs a Polkadot runtime (the Wasm blob stored under
//! `:code`) through the Polkadot host API, as the reference node does.
//!
//! This crate owns everything between "here are the runtime's code bytes" and
//! "here is the output of a runtime call":
//!
//! * loading code ([`blob`]): the Substrate zstd envelope with its bomb limit,
//!   `:heappages` (default 2048), and Substrate's static heap (memory =
//!   the module's initial pages + heap pages, also its maximum);
//! * the engine ([`Executor`], [`RuntimeModule`]): wasmer with Cranelift,
//!   restricted to the Wasm features Substrate accepts, every import the host
//!   lacks stubbed so it traps only if called;
//! * the freeing-bump [`allocator`], bit-exact with Substrate's, since the
//!   addresses it returns are observable by the runtime;
//! * the host functions ([`host`]): storage (with nested transactions and
//!   default child tries), crypto and the keystore, hashing, trie roots and
//!   proofs, misc, allocator, logging, offchain index and offchain workers;
//! * the storage a call sees ([`overlay`]): a caller-provided
//!   [`StateBackend`] under an [`OverlayedChanges`], and the other
//!   [`Externalities`] (keystore, offchain context);
//! * the runtime version ([`runtime_version`]): the custom sections, or a
//!   `Core_version` call when they are absent.
//!
//! **Call model.** Every call starts from the module's initial state (memory,
//! globals and data segments), so no state leaks from one call to the next,
//! as in Substrate. Instances are pooled per module and reset between calls
//! (pages past the data image dropped with `madvise`, the image mapped back
//! copy-on-write from a sealed memfd, mutable globals restored; see
//! `src/pool.rs`), or instantiated anew when pooling is off or impossible.
//!
//! **Cache.** [`Executor::compile`] keeps one compiled module per code hash
//! (blake2-256 of the code as stored, and the heap pages) in memory, and with
//! [`ExecutorConfig::cache_path`] on disk as
//! `<base>/wasm-cache/<hash>-<engine version>-<settings>.bin` (wasmer's
//! serialized module behind a checksummed header): a second executor with the
//! same base path loads instead of compiling; a corrupt or foreign file is
//! deleted and the code compiled again. [`Executor::cache_stats`] counts hits.
//!
//! **Limits and PVF mode.** [`ExecutorConfig`] can bound every call with fuel
//! (one point per Wasm operator, deterministic), a wall-clock timeout (a
//! watchdog thread exhausts the call's fuel) and a deterministic call-depth
//! limit, all compiled into the code by a wasmer middleware (see
//! `src/limits.rs`). [`ExecutorConfig::pvf`] is the parachain-validation setup:
//! only the host functions polkadot-sdk gives a PVF ([`HostFunctionSet::Pvf`];
//! storage, offchain and keystore functions trap with
//! [`HostError::NotAllowed`]), NaN canonicalisation, a heap growing up to
//! [`PVF_MAX_MEMORY_PAGES`], a call-depth limit and a 2 s timeout; compile
//! with [`Executor::compile_pvf`] and call [`RuntimeModule::validate_block`].
//! Running out of fuel, time or depth are errors of their own
//! ([`ExecutorError::OutOfFuel`], [`ExecutorError::Timeout`],
//! [`ExecutorError::CallDepthExceeded`]); like every other fault they leave
//! the module usable for later calls.
//!
//! **Storage.** [`RuntimeModule::call_on_state`] runs a call on a state and
//! returns its output with the [`StorageChanges`] it made (main and child
//! tries, offchain-index writes); [`RuntimeModule::call_with`] runs it on
//! caller-held [`Externalities`], so that several calls (a block's) share
//! one overlay. [`InMemoryBackend`] holds a state in sorted maps (genesis or
//! test states; roots recomputed from all entries), [`ProofBackend`] a state
//! known from a storage proof (reads only).
//!
//! ```no_run
//! # fn main() -> Result<(), weft_runtime_executor::ExecutorError> {
//! use std::sync::Arc;
//! use weft_runtime_executor::{Executor, InMemoryBackend, StateVersion};
//!
//! let code = std::fs::read("runtime.wasm").unwrap();
//! let state = InMemoryBackend::default();
//! let module = Executor::default().compile(&code, 2048)?;
//! let outcome = module.call_on_state("Core_version", &[], Arc::new(state.clone()))?;
//! let mut next = state;
//! next.apply(&outcome.changes, StateVersion::V1);
//! # Ok(()) }
//! ```
//!
//! A runtime blob is untrusted input: malformed code, traps, bad pointers and
//! allocator misuse all surface as [`ExecutorError`]s, never as panics.

pub mod allocator;
pub mod blob;
mod cache;
pub mod engine;
pub mod externalities;
pub mod genesis_builder;
pub mod host;
mod limits;
pub mod overlay;
mod pool;
pub mod subsystem;

pub use allocator::{AllocatorError, FreeingBumpAllocator, HeapMemory};
pub use blob::{heap_pages_from_storage, wasm_from_code, DEFAULT_HEAP_PAGES};
pub use cache::CacheStats;
pub use engine::{
    CallOutcome, CallTimings, Executor, ExecutorConfig, HostFunctionSet, RuntimeModule, ENGINE_VERSION,
    PVF_DEFAULT_MAX_CALL_DEPTH, PVF_DEFAULT_TIMEOUT, PVF_MAX_MEMORY_PAGES, PVF_NATIVE_STACK_SIZE,
};
pub use externalities::{
    Externalities, KeyTypeId, Keystore, KeystoreError, OffchainContext, OffchainStorage, OffchainStorageKind,
};
pub use genesis_builder::{GenesisApi, GenesisBuilder, GenesisBuilderError, GenesisJson, GenesisState, PatchNulls};
pub use host::HostError;
pub use overlay::{
    ChangeMap, InMemoryBackend, OverlayedChanges, ProofBackend, RemovalResult, SharedState, StateBackend, StateError,
    StorageChanges,
};
pub use subsystem::{
    code_from_state, CallMetrics, ExecutorMetrics, RuntimeExecutor, RuntimeExecutorConfig, StateProvider,
};
pub use weft_runtime_blob::{BlobError, RuntimeVersion};
pub use weft_trie::StateVersion;

/// Errors of the runtime executor.
#[derive(Debug, thiserror::Error)]
pub enum ExecutorError {
    /// The code could not be decompressed, or the version could not be decoded.
    #[error(transparent)]
    Blob(#[from] BlobError),
    #[error("runtime code is not a Wasm module (bad magic or version)")]
    NotWasm,
    #[error("runtime code is not a valid Wasm module: {0}")]
    InvalidWasm(String),
    #[error(
        "runtime imports `{module}.{name}`, which the host cannot provide (only `env` functions and `env.memory`)"
    )]
    UnsupportedImport { module: String, name: String },
    #[error("runtime imports host function `{name}` with signature {found}, expected {expected}")]
    ImportSignature { name: String, expected: String, found: String },
    #[error("runtime has no memory: it neither imports `env.memory` nor exports `memory`")]
    NoMemory,
    #[error("runtime memory of {initial} initial pages plus {heap_pages} heap pages exceeds 65536 pages")]
    TooManyPages { initial: u64, heap_pages: u64 },
    #[error("runtime memory import declares a maximum of {declared} pages, below the {pages} pages it needs")]
    MemoryMaximum { declared: u32, pages: u32 },
    #[error("runtime does not export `__heap_base` as an i32 global")]
    MissingHeapBase,
    #[error("runtime does not export `{0}` as a function (i32, i32) -> i64")]
    MissingExport(String),
    #[error("cannot instantiate runtime: {0}")]
    Instantiation(String),
    #[error("call input of {0} bytes does not fit the runtime heap")]
    InputTooLarge(usize),
    #[error("cannot allocate the call input: {0}")]
    Allocator(#[from] AllocatorError),
    /// A host function failed or a stubbed import was called; the runtime trapped.
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("runtime trapped: {0}")]
    Trap(String),
    #[error("runtime output (ptr {ptr:#x}, len {len}) lies outside its memory of {memory_size} bytes")]
    OutputOutOfBounds { ptr: u32, len: u32, memory_size: u64 },
    /// The call executed more Wasm operators than its fuel allows.
    #[error("runtime call ran out of fuel (limit {limit} Wasm operators)")]
    OutOfFuel { limit: u64 },
    /// The call ran longer than the executor's timeout and was stopped.
    #[error("runtime call exceeded its time limit of {0:?} and was stopped")]
    Timeout(std::time::Duration),
    /// The call nested Wasm function calls deeper than allowed.
    #[error("runtime call exceeded the call depth limit of {limit} frames")]
    CallDepthExceeded { limit: u32 },
}

/// The version of runtime code as stored under `:code`: from its custom
/// sections when present, otherwise from a `Core_version` call, using a
/// default [`Executor`].
pub fn runtime_version(code: &[u8]) -> Result<RuntimeVersion, ExecutorError> {
    Executor::default().runtime_version(code)
}

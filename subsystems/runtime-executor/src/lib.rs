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
//! **Call model.** Every call runs on a fresh instance (a new memory,
//! globals and data segments), so no state leaks from one call to the next,
//! as in Substrate. For now that is done by instantiating the compiled module
//! anew for each call; pooling and copy-on-write reset come later, as do the
//! compiled-module cache and the subsystem around the executor.
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
pub mod engine;
pub mod externalities;
pub mod host;
pub mod overlay;

pub use allocator::{AllocatorError, FreeingBumpAllocator, HeapMemory};
pub use blob::{heap_pages_from_storage, wasm_from_code, DEFAULT_HEAP_PAGES};
pub use engine::{CallOutcome, Executor, ExecutorConfig, RuntimeModule};
pub use externalities::{
    Externalities, KeyTypeId, Keystore, KeystoreError, OffchainContext, OffchainStorage, OffchainStorageKind,
};
pub use host::HostError;
pub use overlay::{
    ChangeMap, InMemoryBackend, OverlayedChanges, ProofBackend, RemovalResult, SharedState, StateBackend, StateError,
    StorageChanges,
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
}

/// The version of runtime code as stored under `:code`: from its custom
/// sections when present, otherwise from a `Core_version` call, using a
/// default [`Executor`].
pub fn runtime_version(code: &[u8]) -> Result<RuntimeVersion, ExecutorError> {
    Executor::default().runtime_version(code)
}

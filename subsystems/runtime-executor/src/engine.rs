//! Compiling runtime code with wasmer (Cranelift), caching the compiled
//! modules, and calling their exports under the configured limits.

use crate::allocator::FreeingBumpAllocator;
use crate::blob::{data_layout, set_defined_memory_pages, total_pages, wasm_from_code, DataLayout};
use crate::cache::{CacheStats, CachedModule, ModuleCache};
use crate::externalities::Externalities;
use crate::host::{self, HostError, HostFunctionDef, HostState, WasmerHeap};
use crate::limits::{self, Instrumentation, Watchdog};
use crate::overlay::{SharedState, StorageChanges};
use crate::pool::{InstancePool, MemoryImage};
use crate::ExecutorError;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmer::sys::{CompilerConfig, Cranelift, EngineBuilder, Features};
use wasmer::{
    ExternType, Function, FunctionEnv, FunctionType, Global, Imports, Instance, Memory, MemoryType, Module,
    RuntimeError, Store, TypedFunction, Value,
};
use weft_runtime_blob::RuntimeVersion;

/// Which host functions a module is linked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum HostFunctionSet {
    /// Every host function this executor implements (runtime calls).
    #[default]
    Runtime,
    /// Only what a parachain validation function may use, as in polkadot-sdk's
    /// PVF host: allocator, logging, panic handler, hashing, crypto
    /// verification and public-key recovery, trie roots and proofs, misc
    /// print and `runtime_version` (custom sections only). Everything else
    /// (storage, child storage, offchain, keystore, transaction index...)
    /// is linked to a stub that traps with [`HostError::NotAllowed`].
    Pvf,
}

impl HostFunctionSet {
    /// Whether a host function of this executor may be linked in this set.
    pub fn allows(self, name: &str) -> bool {
        match self {
            HostFunctionSet::Runtime => true,
            HostFunctionSet::Pvf => {
                const PREFIXES: &[&str] = &[
                    "ext_allocator_",
                    "ext_logging_",
                    "ext_panic_handler_",
                    "ext_hashing_",
                    "ext_trie_",
                    "ext_misc_print_",
                    "ext_misc_runtime_version_",
                    "ext_crypto_secp256k1_",
                    "ext_crypto_start_batch_verify_",
                    "ext_crypto_finish_batch_verify_",
                ];
                PREFIXES.iter().any(|p| name.starts_with(p))
                    || (name.starts_with("ext_crypto_") && (name.contains("_verify_")))
            }
        }
    }
}

/// Settings of the executor: the Wasm engine, the limits of every call, the
/// compiled-module cache and the instance pool.
#[derive(Debug, Clone)]
pub struct ExecutorConfig {
    /// Make NaN results bit-exact across machines. Substrate turns this on for
    /// parachain validation functions only; runtime calls leave it off, which
    /// matches the reference node on the same hardware.
    pub canonicalize_nans: bool,
    /// `None` (the default): Substrate's static heap, the memory has exactly
    /// `initial + heap_pages` pages and cannot grow. `Some(max)`: it starts
    /// with `initial + heap_pages` pages and may grow (through the allocator
    /// or `memory.grow`) up to `max` pages, like Substrate's dynamic strategy;
    /// some test runtimes need it because they allocate with `memory.grow`.
    pub max_memory_pages: Option<u32>,
    /// The host functions linked.
    pub host_functions: HostFunctionSet,
    /// Fuel of each call: one point per Wasm operator executed. A call that
    /// runs out fails with [`ExecutorError::OutOfFuel`]. Deterministic.
    pub fuel: Option<u64>,
    /// Wall-clock limit of each call, enforced by a watchdog thread that
    /// exhausts the call's fuel ([`ExecutorError::Timeout`]). Not deterministic;
    /// needs the fuel instrumentation, which it turns on by itself.
    pub timeout: Option<Duration>,
    /// Deterministic limit on the depth of Wasm calls (one unit per active
    /// function frame); past it the call fails with
    /// [`ExecutorError::CallDepthExceeded`]. Without it, only the native stack
    /// bounds recursion (a trap that depends on the machine).
    pub max_call_depth: Option<u32>,
    /// Size of the native stack Wasm runs on, in bytes. wasmer has one
    /// setting for the whole process, so this only ever raises it (the
    /// largest value any executor asked for wins); wasmer's default is 1 MiB.
    /// wasmer also reuses the stacks it already allocated, whatever their
    /// size, so a process that ran Wasm before raising it may still run some
    /// calls on smaller stacks: a native overflow is then an ordinary
    /// [`ExecutorError::Trap`]. Use [`ExecutorConfig::max_call_depth`] for a
    /// limit that does not depend on the machine.
    pub native_stack_size: Option<usize>,
    /// Base path of the on-disk cache of compiled modules:
    /// `<base>/wasm-cache/<code hash>-<engine version>.bin`. `None`: in memory only.
    pub cache_path: Option<PathBuf>,
    /// Compiled modules kept in memory (least recently used dropped first).
    pub memory_cache_size: usize,
    /// Idle instances kept per module for reuse; `0` instantiates anew for
    /// every call. Either way every call starts from the module's initial
    /// memory and globals.
    pub instance_pool_size: usize,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            canonicalize_nans: false,
            max_memory_pages: None,
            host_functions: HostFunctionSet::Runtime,
            fuel: None,
            timeout: None,
            max_call_depth: None,
            native_stack_size: None,
            cache_path: None,
            memory_cache_size: 8,
            instance_pool_size: 4,
        }
    }
}

/// Heap of a PVF (polkadot-sdk's default): memory may grow to 2048 pages
/// plus an estimate of 32 pages for the module's own data and stack.
pub const PVF_MAX_MEMORY_PAGES: u32 = 2048 + 32;
/// Default execution timeout of a PVF (polkadot-sdk's backing timeout).
pub const PVF_DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default call-depth limit of a PVF.
pub const PVF_DEFAULT_MAX_CALL_DEPTH: u32 = 16 * 1024;
/// Native stack for PVFs: ample for [`PVF_DEFAULT_MAX_CALL_DEPTH`] frames, so
/// that the deterministic limit is always the one reached.
pub const PVF_NATIVE_STACK_SIZE: usize = 64 * 1024 * 1024;

impl ExecutorConfig {
    /// Settings for parachain validation functions: the PVF host functions,
    /// NaN canonicalisation, a heap that starts at the module's own size and
    /// grows up to [`PVF_MAX_MEMORY_PAGES`] (compile PVFs with `heap_pages` 0,
    /// see [`Executor::compile_pvf`]), a call-depth limit and a timeout.
    pub fn pvf() -> Self {
        ExecutorConfig {
            canonicalize_nans: true,
            max_memory_pages: Some(PVF_MAX_MEMORY_PAGES),
            host_functions: HostFunctionSet::Pvf,
            fuel: None,
            timeout: Some(PVF_DEFAULT_TIMEOUT),
            max_call_depth: Some(PVF_DEFAULT_MAX_CALL_DEPTH),
            native_stack_size: Some(PVF_NATIVE_STACK_SIZE),
            ..ExecutorConfig::default()
        }
    }

    fn metered(&self) -> bool {
        self.fuel.is_some() || self.timeout.is_some()
    }

    /// Everything that changes the compiled code, as a short tag for cache
    /// file names (the host function set only changes linking).
    pub(crate) fn code_tag(&self, heap_pages: u64) -> String {
        format!(
            "n{}f{}d{}h{}m{}",
            u8::from(self.canonicalize_nans),
            u8::from(self.metered()),
            u8::from(self.max_call_depth.is_some()),
            heap_pages,
            self.max_memory_pages.map_or_else(|| "s".to_string(), |m| m.to_string()),
        )
    }
}

/// Compiles runtime code into [`RuntimeModule`]s, through a cache.
///
/// The engine accepts WebAssembly MVP plus what every engine Substrate used
/// enables unconditionally (sign extension, mutable globals, saturating
/// float-to-int); bulk memory, reference types, SIMD, multi-value, threads and
/// the later proposals are rejected, as in Substrate's executor.
///
/// Compiled modules are cached by the blake2-256 hash of the code as given
/// (and the heap pages): in memory, and on disk when
/// [`ExecutorConfig::cache_path`] is set, so that a second executor (or a
/// second start of the node) with the same base path does not recompile.
/// Clones share the cache.
#[derive(Clone)]
pub struct Executor {
    config: Arc<ExecutorConfig>,
    cache: Arc<ModuleCache>,
}

impl Default for Executor {
    fn default() -> Self {
        Self::new(ExecutorConfig::default())
    }
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").field("config", &self.config).finish_non_exhaustive()
    }
}

/// How the instance gets its linear memory.
#[derive(Debug, Clone)]
enum MemorySetup {
    /// The module imports `env.<name>`; the host creates it with `pages` pages (min = max).
    Imported { name: String, pages: u32, maximum: u32 },
    /// The module defines its memory (limits already rewritten) and exports it as `memory`.
    Defined,
}

/// What to link for one function import.
#[derive(Clone)]
enum FunctionImport {
    /// One of the host functions in [`host::IMPLEMENTED`].
    Implemented(&'static HostFunctionDef),
    /// A function the host does not provide: traps if called.
    Stub(FunctionType),
    /// A host function the configured set excludes: traps if called.
    NotAllowed(FunctionType),
}

/// A compiled runtime, ready to be instantiated for calls.
///
/// Compiled once; every call starts from the module's initial state (memory,
/// globals, data segments), so no state survives from one call to the next,
/// as in Substrate. Instances are pooled and reset between calls (see
/// [`ExecutorConfig::instance_pool_size`]). Cloning is cheap (the compiled
/// code and the pool are shared).
#[derive(Clone)]
pub struct RuntimeModule {
    inner: Arc<ModuleInner>,
}

pub(crate) struct ModuleInner {
    /// The engine the module was compiled or loaded with: it owns the code
    /// and the signature registry, so the module runs only in its stores.
    engine: wasmer::Engine,
    module: Module,
    memory: MemorySetup,
    imports: Vec<(String, FunctionImport)>,
    heap_pages: u64,
    wasm_len: usize,
    compile_time: Duration,
    from_cache: bool,
    config: Arc<ExecutorConfig>,
    layout: Option<DataLayout>,
    /// The initial memory contents, captured from the first instance.
    image: std::sync::OnceLock<Option<Arc<MemoryImage>>>,
    pub(crate) pool: InstancePool,
}

impl std::fmt::Debug for RuntimeModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeModule")
            .field("memory", &self.inner.memory)
            .field("heap_pages", &self.inner.heap_pages)
            .field("wasm_len", &self.inner.wasm_len)
            .finish_non_exhaustive()
    }
}

/// Version of the compiled-code format, part of cache file names: wasmer's
/// version and this crate's instrumentation.
pub const ENGINE_VERSION: &str = "wasmer6.1-cranelift-weft1";

fn raise_native_stack(size: usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CURRENT: AtomicUsize = AtomicUsize::new(0);
    if CURRENT.fetch_max(size, Ordering::SeqCst) < size {
        wasmer::sys::vm::set_stack_size(size);
    }
}

impl Executor {
    /// An executor with the given settings.
    pub fn new(config: ExecutorConfig) -> Self {
        if let Some(size) = config.native_stack_size {
            raise_native_stack(size);
        }
        let cache = ModuleCache::new(config.cache_path.clone(), config.memory_cache_size);
        Executor { config: Arc::new(config), cache: Arc::new(cache) }
    }

    /// An executor for parachain validation functions ([`ExecutorConfig::pvf`]).
    pub fn pvf() -> Self {
        Self::new(ExecutorConfig::pvf())
    }

    /// The settings.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// Counters of the compiled-module cache.
    pub fn cache_stats(&self) -> CacheStats {
        self.cache.stats()
    }

    /// Where the on-disk cache keeps (or would keep) the compiled form of
    /// `code` with `heap_pages`; `None` without [`ExecutorConfig::cache_path`].
    pub fn cache_file(&self, code: &[u8], heap_pages: u64) -> Option<PathBuf> {
        self.cache.file_path(&blake2_256(code), &self.config.code_tag(heap_pages))
    }

    /// A wasmer engine with this executor's settings; with `instrumentation`
    /// for compiling (one per module), without for loading compiled code.
    fn engine(&self, instrumentation: Option<Arc<Instrumentation>>) -> wasmer::Engine {
        let mut compiler = Cranelift::new();
        compiler.canonicalize_nans(self.config.canonicalize_nans);
        if let Some(instrumentation) = instrumentation {
            compiler.push_middleware(instrumentation);
        }
        // Everything off; wasmer's validator always allows sign extension,
        // mutable globals and saturating float-to-int, as wasmtime does.
        EngineBuilder::new(compiler).set_features(Some(Features::none())).engine().into()
    }

    /// Compiles runtime code as stored under `:code` (optionally wrapped in the
    /// Substrate zstd envelope) with `heap_pages` pages of heap (see
    /// [`crate::heap_pages_from_storage`]), or takes it from the cache.
    ///
    /// The code is untrusted: any defect is returned as an error.
    pub fn compile(&self, code: &[u8], heap_pages: u64) -> Result<RuntimeModule, ExecutorError> {
        let hash = blake2_256(code);
        if let Some(module) = self.cache.get_memory(&hash, heap_pages) {
            return Ok(module);
        }
        let tag = self.config.code_tag(heap_pages);
        let start = Instant::now();
        if let Some(cached) = self.cache.load_disk(&hash, &tag, |bytes| self.deserialize(bytes)) {
            let module =
                self.link(cached.engine, cached.module, heap_pages, cached.wasm_len, cached.layout, start, true);
            if let Ok(module) = module {
                self.cache.put_memory(hash, heap_pages, module.clone());
                return Ok(module);
            }
        }
        let wasm = wasm_from_code(code)?;
        let (module, compiled) = self.compile_uncached(&wasm, heap_pages)?;
        self.cache.store_disk(&hash, &tag, &compiled);
        self.cache.put_memory(hash, heap_pages, module.clone());
        Ok(module)
    }

    /// Compiles a PVF (plain or in the zstd envelope) for
    /// [`RuntimeModule::validate_block`]: no heap pages are added, the memory
    /// grows on demand up to [`ExecutorConfig::max_memory_pages`].
    pub fn compile_pvf(&self, code: &[u8]) -> Result<RuntimeModule, ExecutorError> {
        self.compile(code, 0)
    }

    /// Compiles an uncompressed Wasm module (cached like [`Executor::compile`]).
    pub fn compile_wasm(&self, wasm: &[u8], heap_pages: u64) -> Result<RuntimeModule, ExecutorError> {
        self.compile(wasm, heap_pages)
    }

    fn deserialize(&self, bytes: &[u8]) -> Option<(wasmer::Engine, Module)> {
        let engine = self.engine(None);
        // SAFETY: the bytes were written by `ModuleCache::store_disk` from a
        // module this crate compiled, and their checksum was verified on reading.
        let module = unsafe { Module::deserialize_unchecked(&engine, bytes.to_vec()).ok()? };
        Some((engine, module))
    }

    fn compile_uncached(&self, wasm: &[u8], heap_pages: u64) -> Result<(RuntimeModule, CachedModule), ExecutorError> {
        let start = Instant::now();
        let rewritten = set_defined_memory_pages(wasm, heap_pages, self.config.max_memory_pages)?;
        let bytes = rewritten.as_deref().unwrap_or(wasm);
        let instrumentation =
            Arc::new(Instrumentation::new(self.config.metered(), self.config.max_call_depth.is_some()));
        let engine = self.engine(Some(instrumentation));
        let module = Module::from_binary(&engine, bytes).map_err(|e| ExecutorError::InvalidWasm(e.to_string()))?;
        self.cache.count_compile();
        let layout = data_layout(wasm);
        let cached = CachedModule { engine: engine.clone(), module: module.clone(), wasm_len: wasm.len(), layout };
        let module = self.link(engine, module, heap_pages, wasm.len(), layout, start, false)?;
        Ok((module, cached))
    }

    /// Checks the imports of a compiled module and decides how to link them.
    #[allow(clippy::too_many_arguments)]
    fn link(
        &self,
        engine: wasmer::Engine,
        module: Module,
        heap_pages: u64,
        wasm_len: usize,
        layout: Option<DataLayout>,
        start: Instant,
        from_cache: bool,
    ) -> Result<RuntimeModule, ExecutorError> {
        let mut memory = None;
        let mut imports = Vec::new();
        let set = self.config.host_functions;
        for import in module.imports() {
            let (module_name, name) = (import.module(), import.name());
            let unsupported =
                || ExecutorError::UnsupportedImport { module: module_name.to_string(), name: name.to_string() };
            if module_name != "env" {
                return Err(unsupported());
            }
            match import.ty() {
                ExternType::Function(ty) => {
                    let link = match host::IMPLEMENTED.iter().find(|def| def.name == name) {
                        Some(def) => {
                            if ty.params() != def.params || ty.results() != def.results {
                                return Err(ExecutorError::ImportSignature {
                                    name: name.to_string(),
                                    expected: FunctionType::new(def.params.to_vec(), def.results.to_vec()).to_string(),
                                    found: ty.to_string(),
                                });
                            }
                            if set.allows(name) {
                                FunctionImport::Implemented(def)
                            } else {
                                FunctionImport::NotAllowed(ty.clone())
                            }
                        }
                        None => FunctionImport::Stub(ty.clone()),
                    };
                    imports.push((name.to_string(), link));
                }
                ExternType::Memory(ty) if memory.is_none() && !ty.shared => {
                    let pages = total_pages(u64::from(ty.minimum.0), heap_pages)?;
                    if ty.maximum.is_some_and(|max| max.0 < pages) {
                        return Err(ExecutorError::MemoryMaximum { declared: ty.maximum.map_or(0, |m| m.0), pages });
                    }
                    let mut maximum = self.config.max_memory_pages.map_or(pages, |max| max.max(pages));
                    if let Some(declared) = ty.maximum {
                        maximum = maximum.min(declared.0);
                    }
                    memory = Some(MemorySetup::Imported { name: name.to_string(), pages, maximum });
                }
                _ => return Err(unsupported()),
            }
        }
        let memory = match memory {
            Some(memory) => memory,
            None if module.exports().any(|e| e.name() == "memory" && matches!(e.ty(), ExternType::Memory(_))) => {
                MemorySetup::Defined
            }
            None => return Err(ExecutorError::NoMemory),
        };
        let pool_size = if layout.is_some_and(|l| !l.has_start) { self.config.instance_pool_size } else { 0 };
        Ok(RuntimeModule {
            inner: Arc::new(ModuleInner {
                engine,
                module,
                memory,
                imports,
                heap_pages,
                wasm_len,
                compile_time: start.elapsed(),
                from_cache,
                config: self.config.clone(),
                layout,
                image: std::sync::OnceLock::new(),
                pool: InstancePool::new(pool_size),
            }),
        })
    }

    /// The version of runtime code: from its `runtime_version`/`runtime_apis`
    /// custom sections when present, otherwise by compiling it and calling
    /// `Core_version` (with the default heap).
    pub fn runtime_version(&self, code: &[u8]) -> Result<RuntimeVersion, ExecutorError> {
        let wasm = wasm_from_code(code)?;
        if let Some(version) = weft_runtime_blob::version_from_custom_sections(&wasm)? {
            return Ok(version);
        }
        self.compile(code, crate::DEFAULT_HEAP_PAGES)?.core_version()
    }
}

/// blake2-256 of `data`.
pub(crate) fn blake2_256(data: &[u8]) -> [u8; 32] {
    use blake2::digest::{consts::U32, Digest};
    let mut hasher = blake2::Blake2b::<U32>::new();
    hasher.update(data);
    hasher.finalize().into()
}

/// Output of a runtime call on a state, with the changes it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// The SCALE-encoded output of the runtime function.
    pub output: Vec<u8>,
    /// The storage changes (main and child tries) and offchain-index writes.
    pub changes: StorageChanges,
}

/// Time spent in the phases of one call.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallTimings {
    /// Getting an instance: a new instantiation, or a pooled one.
    pub instantiate: Duration,
    /// Running the export (including host functions).
    pub execute: Duration,
    /// Whether the instance came from the pool.
    pub pooled: bool,
}

/// A runtime export with the call ABI `(ptr, len) -> ptr-size`.
type EntryPoint = TypedFunction<(i32, i32), i64>;

/// A live instance, used for one call at a time.
pub(crate) struct CallInstance {
    pub(crate) store: Store,
    env: FunctionEnv<HostState>,
    instance: Instance,
    pub(crate) memory: Memory,
    heap_base: u32,
    fuel: Option<(Global, limits::GlobalSlot)>,
    depth: Option<Global>,
    /// The module's mutable globals with their initial values.
    pub(crate) globals: Vec<(Global, Value)>,
    /// The initial memory contents, when the instance can be reset.
    pub(crate) image: Option<Arc<MemoryImage>>,
    /// Memory size at instantiation, in bytes.
    pub(crate) initial_size: u64,
    entries: Vec<(String, EntryPoint)>,
}

impl RuntimeModule {
    /// Heap pages this module was prepared with.
    pub fn heap_pages(&self) -> u64 {
        self.inner.heap_pages
    }

    /// Size of the uncompressed Wasm code.
    pub fn wasm_len(&self) -> usize {
        self.inner.wasm_len
    }

    /// Time taken to validate and compile the code, or to load it from the
    /// on-disk cache.
    pub fn compile_time(&self) -> Duration {
        self.inner.compile_time
    }

    /// Whether the compiled code came from the on-disk cache.
    pub fn loaded_from_cache(&self) -> bool {
        self.inner.from_cache
    }

    /// Idle pooled instances right now.
    pub fn pooled_instances(&self) -> usize {
        self.inner.pool.idle()
    }

    /// Names of the functions the runtime imports that this host does not
    /// implement (they trap when called).
    pub fn stubbed_imports(&self) -> Vec<&str> {
        self.inner
            .imports
            .iter()
            .filter(|(_, link)| matches!(link, FunctionImport::Stub(_)))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Names of the host functions the runtime imports that the configured
    /// [`HostFunctionSet`] excludes (they trap when called).
    pub fn disallowed_imports(&self) -> Vec<&str> {
        self.inner
            .imports
            .iter()
            .filter(|(_, link)| matches!(link, FunctionImport::NotAllowed(_)))
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// Calls the runtime export `method` with SCALE-encoded `input` on an
    /// empty state, and returns its output.
    ///
    /// For calls that read or write storage, see [`RuntimeModule::call_with`]
    /// and [`RuntimeModule::call_on_state`].
    pub fn call(&self, method: &str, input: &[u8]) -> Result<Vec<u8>, ExecutorError> {
        self.call_with(method, input, &mut Externalities::default())
    }

    /// Calls `validate_block` of a PVF with SCALE-encoded `ValidationParams`
    /// and returns the SCALE-encoded `ValidationResult`.
    pub fn validate_block(&self, params: &[u8]) -> Result<Vec<u8>, ExecutorError> {
        self.call("validate_block", params)
    }

    /// Calls `method` on `state` with a fresh overlay and returns its output
    /// together with the storage changes it made.
    pub fn call_on_state(&self, method: &str, input: &[u8], state: SharedState) -> Result<CallOutcome, ExecutorError> {
        let mut ext = Externalities::new(state);
        let output = self.call_with(method, input, &mut ext)?;
        Ok(CallOutcome { output, changes: ext.overlay.changes() })
    }

    /// Calls the runtime export `method` with SCALE-encoded `input`, starting
    /// from the module's initial state, with the given externalities, and
    /// returns its output.
    ///
    /// The input is written into the runtime's heap through the allocator, the
    /// export is called as `(ptr: i32, len: i32) -> i64` and its result is read
    /// as the pointer-size `len << 32 | ptr`.
    ///
    /// The call's writes go to `ext.overlay` inside a transaction of their
    /// own: kept if the call succeeds, discarded if it fails. Transactions the
    /// runtime leaves open are rolled back, and the runtime cannot close
    /// transactions it did not open.
    pub fn call_with(&self, method: &str, input: &[u8], ext: &mut Externalities) -> Result<Vec<u8>, ExecutorError> {
        self.call_timed(method, input, ext).0
    }

    /// [`RuntimeModule::call_with`], also returning how long instantiation
    /// and execution took.
    pub fn call_timed(
        &self,
        method: &str,
        input: &[u8],
        ext: &mut Externalities,
    ) -> (Result<Vec<u8>, ExecutorError>, CallTimings) {
        let mut timings = CallTimings::default();
        let start = Instant::now();
        let (mut call, pooled) = match self.inner.pool.take() {
            Some(call) => (call, true),
            None => match self.instantiate() {
                Ok(call) => (call, false),
                Err(error) => return (Err(error), timings),
            },
        };
        timings.instantiate = start.elapsed();
        timings.pooled = pooled;
        let start = Instant::now();
        let result = self.run(&mut call, method, input, ext);
        timings.execute = start.elapsed();
        // Sandbox objects cannot be removed from a store: such an instance is dropped.
        if call.env.as_mut(&mut call.store).sandbox.finish_call() {
            self.inner.pool.give_back(call);
        }
        (result, timings)
    }

    fn run(
        &self,
        call: &mut CallInstance,
        method: &str,
        input: &[u8],
        ext: &mut Externalities,
    ) -> Result<Vec<u8>, ExecutorError> {
        let entry = match call.entries.iter().find(|(name, _)| name == method) {
            Some((_, entry)) => entry.clone(),
            None => {
                let entry = call
                    .instance
                    .exports
                    .get_typed_function::<(i32, i32), i64>(&call.store, method)
                    .map_err(|_| ExecutorError::MissingExport(method.to_string()))?;
                call.entries.push((method.to_string(), entry.clone()));
                entry
            }
        };

        let input_len = u32::try_from(input.len()).map_err(|_| ExecutorError::InputTooLarge(input.len()))?;
        let mut allocator = FreeingBumpAllocator::new(call.heap_base);
        let input_ptr =
            allocator.allocate(&mut WasmerHeap { memory: &call.memory, store: &mut call.store }, input_len)?;
        call.memory
            .view(&call.store)
            .write(u64::from(input_ptr), input)
            .map_err(|_| ExecutorError::InputTooLarge(input.len()))?;

        let config = &self.inner.config;
        if let Some((fuel, _)) = &call.fuel {
            let points = config.fuel.map_or(i64::MAX, |f| i64::try_from(f).unwrap_or(i64::MAX));
            fuel.set(&mut call.store, Value::I64(points)).map_err(|e| ExecutorError::Instantiation(e.message()))?;
        }
        if let (Some(depth), Some(max)) = (&call.depth, config.max_call_depth) {
            let max = i32::try_from(max).unwrap_or(i32::MAX);
            depth.set(&mut call.store, Value::I32(max)).map_err(|e| ExecutorError::Instantiation(e.message()))?;
        }

        {
            let state = call.env.as_mut(&mut call.store);
            state.allocator = Some(allocator);
            state.ext = std::mem::take(ext);
            state.ext.overlay.start_transaction();
            state.transaction_base = state.ext.overlay.transaction_depth();
            state.batch_verify = None;
        }
        let guard = match (&call.fuel, config.timeout) {
            (Some((_, slot)), Some(timeout)) => Some(Watchdog::global().arm(timeout, *slot)),
            _ => None,
        };
        let result = entry.call(&mut call.store, input_ptr as i32, input_len as i32);
        let timed_out = guard.map(|guard| guard.fired()).unwrap_or(false);
        {
            let state = call.env.as_mut(&mut call.store);
            state.allocator = None;
            *ext = std::mem::take(&mut state.ext);
            let base = state.transaction_base;
            while ext.overlay.transaction_depth() > base {
                let _ = ext.overlay.rollback_transaction();
            }
            let _ = if result.is_ok() { ext.overlay.commit_transaction() } else { ext.overlay.rollback_transaction() };
        }

        let packed = match result {
            Ok(packed) => packed,
            Err(error) => return Err(self.classify_trap(call, error, timed_out)),
        };
        let (ptr, len) = host::unpack_ptr_len(packed);
        let view = call.memory.view(&call.store);
        let end = u64::from(ptr) + u64::from(len);
        if end > view.data_size() {
            return Err(ExecutorError::OutputOutOfBounds { ptr, len, memory_size: view.data_size() });
        }
        let mut output = vec![0; len as usize];
        view.read(u64::from(ptr), &mut output).map_err(|_| ExecutorError::OutputOutOfBounds {
            ptr,
            len,
            memory_size: view.data_size(),
        })?;
        Ok(output)
    }

    /// Tells running out of fuel, time or call depth from other traps.
    fn classify_trap(&self, call: &mut CallInstance, error: RuntimeError, timed_out: bool) -> ExecutorError {
        if error.downcast_ref::<HostError>().is_none() {
            let config = &self.inner.config;
            if let Some((fuel, _)) = &call.fuel {
                if matches!(fuel.get(&mut call.store), Value::I64(points) if points < 0) {
                    return match (timed_out, config.timeout) {
                        (true, Some(timeout)) => ExecutorError::Timeout(timeout),
                        _ => ExecutorError::OutOfFuel { limit: config.fuel.unwrap_or(u64::MAX) },
                    };
                }
            }
            if let Some(depth) = &call.depth {
                if matches!(depth.get(&mut call.store), Value::I32(left) if left < 0) {
                    return ExecutorError::CallDepthExceeded { limit: config.max_call_depth.unwrap_or(0) };
                }
            }
        }
        trap_to_error(error)
    }

    /// Calls `Core_version` and decodes its output.
    pub fn core_version(&self) -> Result<RuntimeVersion, ExecutorError> {
        let output = self.call("Core_version", &[])?;
        Ok(RuntimeVersion::decode_with_hint(&output, None)?)
    }

    fn instantiate(&self) -> Result<CallInstance, ExecutorError> {
        let inner = &self.inner;
        let mut store = Store::new(inner.engine.clone());
        let nested = match inner.config.host_functions {
            HostFunctionSet::Runtime => {
                Some(Executor::new(ExecutorConfig { cache_path: None, ..(*inner.config).clone() }))
            }
            HostFunctionSet::Pvf => None,
        };
        let env = FunctionEnv::new(&mut store, HostState { nested_executor: nested, ..HostState::default() });
        let mut imports = Imports::new();
        let mut memory = None;
        if let MemorySetup::Imported { name, pages, maximum } = &inner.memory {
            let mem = Memory::new(&mut store, MemoryType::new(*pages, Some(*maximum), false))
                .map_err(|e| ExecutorError::Instantiation(format!("cannot create a memory of {pages} pages: {e}")))?;
            imports.define("env", name, mem.clone());
            memory = Some(mem);
        }
        for (name, link) in inner.imports.iter() {
            let function = match link {
                FunctionImport::Implemented(def) => (def.make)(&mut store, &env),
                FunctionImport::Stub(ty) => {
                    let name = name.clone();
                    Function::new(&mut store, ty.clone(), move |_: &[Value]| -> Result<Vec<Value>, RuntimeError> {
                        Err(RuntimeError::user(Box::new(HostError::NotImplemented(name.clone()))))
                    })
                }
                FunctionImport::NotAllowed(ty) => {
                    let name = name.clone();
                    Function::new(&mut store, ty.clone(), move |_: &[Value]| -> Result<Vec<Value>, RuntimeError> {
                        Err(RuntimeError::user(Box::new(HostError::NotAllowed(name.clone()))))
                    })
                }
            };
            imports.define("env", name, function);
        }
        let instance = Instance::new(&mut store, &inner.module, &imports)
            .map_err(|e| ExecutorError::Instantiation(e.to_string()))?;
        let memory = match memory {
            Some(memory) => memory,
            None => instance.exports.get_memory("memory").map_err(|_| ExecutorError::NoMemory)?.clone(),
        };
        let heap_base = match instance.exports.get_global("__heap_base").map(|g| g.get(&mut store)) {
            Ok(Value::I32(base)) => base as u32,
            _ => return Err(ExecutorError::MissingHeapBase),
        };
        env.as_mut(&mut store).memory = Some(memory.clone());
        let fuel = match instance.exports.get_global(limits::FUEL_EXPORT) {
            Ok(global) => {
                let slot = limits::global_slot(&mut store, &instance, limits::FUEL_EXPORT)
                    .ok_or_else(|| ExecutorError::Instantiation("fuel global is not reachable".into()))?;
                Some((global.clone(), slot))
            }
            Err(_) => None,
        };
        let depth = instance.exports.get_global(limits::DEPTH_EXPORT).ok().cloned();
        let table = instance.exports.get_table("__indirect_function_table").ok().cloned();
        env.as_mut(&mut store).sandbox.set_supervisor(table, depth.clone());
        let globals = instance
            .exports
            .iter()
            .filter(|(name, _)| name.starts_with(limits::GLOBAL_EXPORT_PREFIX))
            .filter_map(|(_, export)| match export {
                wasmer::Extern::Global(global) => Some(global.clone()),
                _ => None,
            })
            .collect::<Vec<_>>()
            .into_iter()
            .map(|global| {
                let value = global.get(&mut store);
                (global, value)
            })
            .collect();
        let initial_size = memory.view(&store).data_size();
        let image = match inner.layout {
            Some(layout) if inner.pool.capacity() > 0 => inner
                .image
                .get_or_init(|| MemoryImage::capture(&memory, &store, layout.image_end).map(Arc::new))
                .clone(),
            _ => None,
        };
        Ok(CallInstance {
            store,
            env,
            instance,
            memory,
            heap_base,
            fuel,
            depth,
            globals,
            image,
            initial_size,
            entries: Vec::new(),
        })
    }
}

fn trap_to_error(error: RuntimeError) -> ExecutorError {
    if let Some(host) = error.downcast_ref::<HostError>() {
        return ExecutorError::Host(host.clone());
    }
    let frames: Vec<String> = error
        .trace()
        .iter()
        .take(6)
        .map(|frame| frame.function_name().map_or_else(|| format!("#{}", frame.func_index()), str::to_string))
        .collect();
    if frames.is_empty() {
        ExecutorError::Trap(error.message())
    } else {
        ExecutorError::Trap(format!("{} (in {})", error.message(), frames.join(" <- ")))
    }
}

//! Compiling runtime code with wasmer (Cranelift) and calling its exports.

use crate::allocator::FreeingBumpAllocator;
use crate::blob::{set_defined_memory_pages, total_pages, wasm_from_code};
use crate::externalities::Externalities;
use crate::host::{self, HostError, HostFunctionDef, HostState, WasmerHeap};
use crate::overlay::{SharedState, StorageChanges};
use crate::ExecutorError;
use std::sync::Arc;
use std::time::{Duration, Instant};
use wasmer::sys::{Cranelift, EngineBuilder, Features};
use wasmer::{
    ExternType, Function, FunctionEnv, FunctionType, Imports, Instance, Memory, MemoryType, Module, RuntimeError,
    Store, Value,
};
use weft_runtime_blob::RuntimeVersion;

/// Settings of the Wasm engine.
#[derive(Debug, Clone, Default)]
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
}

/// Compiles runtime code into [`RuntimeModule`]s.
///
/// The engine accepts WebAssembly MVP plus what every engine Substrate used
/// enables unconditionally (sign extension, mutable globals, saturating
/// float-to-int); bulk memory, reference types, SIMD, multi-value, threads and
/// the later proposals are rejected, as in Substrate's executor.
#[derive(Clone)]
pub struct Executor {
    engine: wasmer::Engine,
    max_memory_pages: Option<u32>,
}

impl Default for Executor {
    fn default() -> Self {
        Self::new(ExecutorConfig::default())
    }
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor").finish_non_exhaustive()
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
}

/// A compiled runtime, ready to be instantiated for calls.
///
/// Compiled once; each call gets a fresh instance (new memory, globals and
/// data segments), so no state survives from one call to the next, as in
/// Substrate. Cloning is cheap (the compiled code is shared).
#[derive(Clone)]
pub struct RuntimeModule {
    engine: wasmer::Engine,
    module: Module,
    memory: MemorySetup,
    imports: Arc<Vec<(String, FunctionImport)>>,
    heap_pages: u64,
    wasm_len: usize,
    compile_time: Duration,
}

impl std::fmt::Debug for RuntimeModule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RuntimeModule")
            .field("memory", &self.memory)
            .field("heap_pages", &self.heap_pages)
            .field("wasm_len", &self.wasm_len)
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// An executor with the given engine settings.
    pub fn new(config: ExecutorConfig) -> Self {
        let mut compiler = Cranelift::new();
        compiler.canonicalize_nans(config.canonicalize_nans);
        // Everything off; wasmer's validator always allows sign extension,
        // mutable globals and saturating float-to-int, as wasmtime does.
        let features = Features::none();
        let engine = EngineBuilder::new(compiler).set_features(Some(features)).engine();
        Executor { engine: engine.into(), max_memory_pages: config.max_memory_pages }
    }

    /// An executor sharing an existing engine (and its settings).
    pub(crate) fn from_engine(engine: wasmer::Engine) -> Self {
        Executor { engine, max_memory_pages: None }
    }

    /// Compiles runtime code as stored under `:code` (optionally wrapped in the
    /// Substrate zstd envelope) with `heap_pages` pages of heap (see
    /// [`crate::heap_pages_from_storage`]).
    ///
    /// The code is untrusted: any defect is returned as an error.
    pub fn compile(&self, code: &[u8], heap_pages: u64) -> Result<RuntimeModule, ExecutorError> {
        let wasm = wasm_from_code(code)?;
        self.compile_wasm(&wasm, heap_pages)
    }

    /// Compiles an uncompressed Wasm module.
    pub fn compile_wasm(&self, wasm: &[u8], heap_pages: u64) -> Result<RuntimeModule, ExecutorError> {
        let start = Instant::now();
        let rewritten = set_defined_memory_pages(wasm, heap_pages, self.max_memory_pages)?;
        let bytes = rewritten.as_deref().unwrap_or(wasm);
        let module = Module::from_binary(&self.engine, bytes).map_err(|e| ExecutorError::InvalidWasm(e.to_string()))?;
        let compile_time = start.elapsed();

        let mut memory = None;
        let mut imports = Vec::new();
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
                            FunctionImport::Implemented(def)
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
                    let mut maximum = self.max_memory_pages.map_or(pages, |max| max.max(pages));
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
            None if rewritten.is_some() => MemorySetup::Defined,
            None => return Err(ExecutorError::NoMemory),
        };
        Ok(RuntimeModule {
            engine: self.engine.clone(),
            module,
            memory,
            imports: Arc::new(imports),
            heap_pages,
            wasm_len: wasm.len(),
            compile_time,
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
        self.compile_wasm(&wasm, crate::DEFAULT_HEAP_PAGES)?.core_version()
    }
}

/// Output of a runtime call on a state, with the changes it made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallOutcome {
    /// The SCALE-encoded output of the runtime function.
    pub output: Vec<u8>,
    /// The storage changes (main and child tries) and offchain-index writes.
    pub changes: StorageChanges,
}

/// A live instance for one call.
struct CallInstance {
    store: Store,
    env: FunctionEnv<HostState>,
    instance: Instance,
    memory: Memory,
    heap_base: u32,
}

impl RuntimeModule {
    /// Heap pages this module was prepared with.
    pub fn heap_pages(&self) -> u64 {
        self.heap_pages
    }

    /// Size of the uncompressed Wasm code.
    pub fn wasm_len(&self) -> usize {
        self.wasm_len
    }

    /// Time taken to validate and compile the code.
    pub fn compile_time(&self) -> Duration {
        self.compile_time
    }

    /// Names of the functions the runtime imports that this host does not
    /// implement (they trap when called).
    pub fn stubbed_imports(&self) -> Vec<&str> {
        self.imports
            .iter()
            .filter(|(_, link)| matches!(link, FunctionImport::Stub(_)))
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

    /// Calls `method` on `state` with a fresh overlay and returns its output
    /// together with the storage changes it made.
    pub fn call_on_state(&self, method: &str, input: &[u8], state: SharedState) -> Result<CallOutcome, ExecutorError> {
        let mut ext = Externalities::new(state);
        let output = self.call_with(method, input, &mut ext)?;
        Ok(CallOutcome { output, changes: ext.overlay.changes() })
    }

    /// Calls the runtime export `method` with SCALE-encoded `input`, on a
    /// fresh instance, with the given externalities, and returns its output.
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
        let mut call = self.instantiate()?;
        let entry = call
            .instance
            .exports
            .get_typed_function::<(i32, i32), i64>(&call.store, method)
            .map_err(|_| ExecutorError::MissingExport(method.to_string()))?;

        let input_len = u32::try_from(input.len()).map_err(|_| ExecutorError::InputTooLarge(input.len()))?;
        let mut allocator = FreeingBumpAllocator::new(call.heap_base);
        let input_ptr =
            allocator.allocate(&mut WasmerHeap { memory: &call.memory, store: &mut call.store }, input_len)?;
        call.memory
            .view(&call.store)
            .write(u64::from(input_ptr), input)
            .map_err(|_| ExecutorError::InputTooLarge(input.len()))?;

        {
            let state = call.env.as_mut(&mut call.store);
            state.allocator = Some(allocator);
            state.ext = std::mem::take(ext);
            state.ext.overlay.start_transaction();
            state.transaction_base = state.ext.overlay.transaction_depth();
        }
        let result = entry.call(&mut call.store, input_ptr as i32, input_len as i32);
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

        let packed = result.map_err(trap_to_error)?;
        let (ptr, len) = host::unpack_ptr_len(packed);
        let view = call.memory.view(&call.store);
        let end = u64::from(ptr) + u64::from(len);
        if end > view.data_size() {
            return Err(ExecutorError::OutputOutOfBounds { ptr, len, memory_size: view.data_size() });
        }
        view.copy_range_to_vec(u64::from(ptr)..end).map_err(|_| ExecutorError::OutputOutOfBounds {
            ptr,
            len,
            memory_size: view.data_size(),
        })
    }

    /// Calls `Core_version` and decodes its output.
    pub fn core_version(&self) -> Result<RuntimeVersion, ExecutorError> {
        let output = self.call("Core_version", &[])?;
        Ok(RuntimeVersion::decode_with_hint(&output, None)?)
    }

    fn instantiate(&self) -> Result<CallInstance, ExecutorError> {
        let mut store = Store::new(self.engine.clone());
        let env = FunctionEnv::new(&mut store, HostState { engine: Some(self.engine.clone()), ..HostState::default() });
        let mut imports = Imports::new();
        let mut memory = None;
        if let MemorySetup::Imported { name, pages, maximum } = &self.memory {
            let mem = Memory::new(&mut store, MemoryType::new(*pages, Some(*maximum), false))
                .map_err(|e| ExecutorError::Instantiation(format!("cannot create a memory of {pages} pages: {e}")))?;
            imports.define("env", name, mem.clone());
            memory = Some(mem);
        }
        for (name, link) in self.imports.iter() {
            let function = match link {
                FunctionImport::Implemented(def) => (def.make)(&mut store, &env),
                FunctionImport::Stub(ty) => {
                    let name = name.clone();
                    Function::new(&mut store, ty.clone(), move |_: &[Value]| -> Result<Vec<Value>, RuntimeError> {
                        Err(RuntimeError::user(Box::new(HostError::NotImplemented(name.clone()))))
                    })
                }
            };
            imports.define("env", name, function);
        }
        let instance = Instance::new(&mut store, &self.module, &imports)
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
        Ok(CallInstance { store, env, instance, memory, heap_base })
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

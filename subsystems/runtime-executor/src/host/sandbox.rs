//! The sandbox host functions (`ext_sandbox_*`): a runtime (the
//! *supervisor*) instantiates other Wasm modules (*guests*) and runs them,
//! as `sp-sandbox`'s host executor and pallet-contracts did until 2022 (the
//! Substrate `node` runtimes among the fixtures import them).
//!
//! Semantics are those of Substrate's client (`sc-executor-common`'s
//! sandbox store behind `sp-io`'s `Sandbox` interface):
//!
//! * instances and memories get indices `0, 1, 2...` in the order they are
//!   created during the runtime call, never reused; teardown empties the slot
//!   (using it afterwards, a double teardown or an unknown index traps the
//!   call, as Substrate's `expect`s do). Everything is dropped when the
//!   runtime call ends.
//! * `instantiate(dispatch_thunk, code, env_def, state)`: the dispatch thunk
//!   is an index into the supervisor's `__indirect_function_table` (absent
//!   table, index out of bounds or null entry: trap). The SCALE
//!   `EnvironmentDefinition` lists `(module, field)` entries naming a
//!   supervisor function (`Function(index)`, codec index 1) or a sandbox
//!   memory (`Memory(index)`, codec index 2). Undecodable definition, an
//!   entry naming a missing or torn-down memory, invalid code, or an import
//!   the definition does not provide (only functions and memories can be
//!   provided): [`ERR_MODULE`]. A trap in the guest's start function:
//!   [`ERR_EXECUTION`]. Otherwise the new instance index.
//! * `invoke(instance, name, args, return_ptr, return_len, state)`: `args` is
//!   a SCALE `Vec<Value>`; a missing export, arguments that do not match its
//!   signature and any trap give [`ERR_EXECUTION`]. A function without result
//!   gives [`ERR_OK`] and leaves the return buffer untouched; one with a result
//!   writes the SCALE `ReturnValue::Value` there (a buffer too small or out of
//!   bounds traps).
//! * a guest's call to an imported function calls the dispatch thunk
//!   `(args_ptr, args_len, state, function_index) -> i64` in the supervisor:
//!   the arguments (a SCALE `Vec<Value>`) are written into memory from the
//!   supervisor's allocator and freed afterwards; the thunk returns
//!   `ptr << 32 | len` (pointer in the *high* half, unlike the usual
//!   pointer-size) of a SCALE `Result<ReturnValue, HostError>` allocated with
//!   the allocator, which the host reads and frees. `Err(HostError)`, bytes
//!   that do not decode, a value whose type is not the import's result type,
//!   or a trap in the supervisor make the guest trap. `state` is the one
//!   given to the `invoke` (or `instantiate`) in progress.
//! * memories: `memory_new(initial, maximum)` in pages, `maximum = u32::MAX`
//!   for none (invalid limits trap); `memory_get`/`memory_set` copy between a
//!   sandbox memory and the supervisor's, [`ERR_OUT_OF_BOUNDS`] when either
//!   range is out of bounds.
//! * `get_global_val(instance, name)`: SCALE `Option<Value>` of an exported
//!   global.
//!
//! Guests live in the supervisor's wasmer store (their imports call back into
//! it), compiled with an engine of their own (MVP plus the always-on
//! extensions, NaNs canonicalized), at most [`MAX_GUEST_CODE_LEN`] bytes, once
//! per call for the same code. A guest that puts imported functions in its
//! table gets them through a generated shim module of its engine, so that its
//! `call_indirect`s see matching signatures. wasmer cannot remove objects
//! from a store, so a call may attempt at most [`MAX_INSTANCES_PER_CALL`]
//! instantiations and create at most [`MAX_MEMORIES_PER_CALL`] memories (past
//! that: [`ERR_MODULE`]), and an instance whose store received sandbox
//! objects is dropped after the call instead of being pooled.
//!
//! Differences from Substrate: those limits; a failure of the state backend
//! inside the dispatch thunk fails the whole runtime call instead of giving
//! [`ERR_EXECUTION`] (it says nothing about the runtime's code); guest code
//! is not metered by the executor's fuel, timeout or call-depth limits (the
//! supervisor's code in the dispatch thunk is). A trap in the dispatch thunk
//! unwinds supervisor frames without their epilogues, as in Substrate (its
//! stack pointer global stays where it was); only the executor's own
//! call-depth counter is put back.

use super::{unpack_ptr_len, Ctx, HostError, HostState};
use parity_scale_codec::{Decode, Encode};
use std::collections::HashMap;
use wasmer::sys::{Cranelift, EngineBuilder, Features};
use wasmer::{
    Engine, Extern, ExternType, Function, FunctionEnvMut, FunctionType, Global, Instance, InstantiationError, Memory,
    MemoryType, Module, RuntimeError, Table, Type, Value,
};

/// Success.
pub(crate) const ERR_OK: u32 = 0;
/// Invalid module or environment, or instantiation failed.
pub(crate) const ERR_MODULE: u32 = u32::MAX;
/// A memory access out of bounds.
pub(crate) const ERR_OUT_OF_BOUNDS: u32 = u32::MAX - 1;
/// A trap (or a missing export, bad arguments...) while running the guest.
pub(crate) const ERR_EXECUTION: u32 = u32::MAX - 2;
/// `memory_new`'s maximum meaning "no maximum".
const MEM_UNLIMITED: u32 = u32::MAX;
/// Pages a Wasm32 memory can have at most.
const MAX_WASM_PAGES: u32 = 65536;

/// Largest guest module accepted (larger ones give [`ERR_MODULE`]).
pub(crate) const MAX_GUEST_CODE_LEN: usize = 8 << 20;
/// Instantiations (successful or not) one runtime call may attempt.
pub(crate) const MAX_INSTANCES_PER_CALL: usize = 1024;
/// Memories one runtime call may create with `memory_new`.
pub(crate) const MAX_MEMORIES_PER_CALL: usize = 1024;
/// Compiled guest modules kept (by code hash) for the rest of a call.
const MAX_CACHED_MODULES: usize = 64;

/// Name given to failures of the dispatch path (a guest calling an import).
const DISPATCH: &str = "ext_sandbox dispatch thunk";

/// `sp_wasm_interface::Value`: floats as their bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
enum SandboxValue {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
}

/// `sp_wasm_interface::ReturnValue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
enum ReturnValue {
    Unit,
    Value(SandboxValue),
}

/// `sp_core::sandbox::HostError` (encodes as nothing).
#[derive(Debug, Decode)]
struct SupervisorError;

/// `sp_core::sandbox::ExternEntity`.
#[derive(Debug, Decode)]
enum ExternEntity {
    #[codec(index = 1)]
    Function(u32),
    #[codec(index = 2)]
    Memory(u32),
}

/// `sp_core::sandbox::Entry`.
#[derive(Debug, Decode)]
struct Entry {
    module_name: Vec<u8>,
    field_name: Vec<u8>,
    entity: ExternEntity,
}

/// `sp_core::sandbox::EnvironmentDefinition`.
#[derive(Debug, Decode)]
struct EnvironmentDefinition {
    entries: Vec<Entry>,
}

fn to_sandbox_value(value: &Value) -> Option<SandboxValue> {
    match value {
        Value::I32(v) => Some(SandboxValue::I32(*v)),
        Value::I64(v) => Some(SandboxValue::I64(*v)),
        Value::F32(v) => Some(SandboxValue::F32(v.to_bits())),
        Value::F64(v) => Some(SandboxValue::F64(v.to_bits())),
        _ => None,
    }
}

fn from_sandbox_value(value: SandboxValue) -> Value {
    match value {
        SandboxValue::I32(v) => Value::I32(v),
        SandboxValue::I64(v) => Value::I64(v),
        SandboxValue::F32(v) => Value::F32(f32::from_bits(v)),
        SandboxValue::F64(v) => Value::F64(f64::from_bits(v)),
    }
}

/// A compiled guest module.
#[derive(Clone)]
struct GuestModule {
    module: Module,
    /// For a module that puts imported functions in its table: a module
    /// compiled with the same engine that imports the guest's functions and
    /// re-exports them as Wasm functions, for the guest to import instead.
    /// A host function carries a signature id of the store's engine, which a
    /// `call_indirect` of the guest (ids of its own engine) would not match.
    shim: Option<Module>,
}

/// The sandbox objects of one runtime call, and what they need of the
/// supervisor instance.
#[derive(Default)]
pub(crate) struct SandboxState {
    /// The supervisor's `__indirect_function_table`, where dispatch thunks are.
    table: Option<Table>,
    /// The supervisor's remaining-call-depth global (when instrumented): put
    /// back after a dispatch thunk traps, since the trap skips the frames'
    /// epilogues.
    depth: Option<Global>,
    /// Instances by index; `None` once torn down.
    instances: Vec<Option<Instance>>,
    /// Instantiations attempted during the call.
    instantiations: usize,
    /// Memories by index; `None` once torn down.
    memories: Vec<Option<Memory>>,
    /// Guest modules compiled during the call, by blake2-256 of the code.
    modules: HashMap<[u8; 32], GuestModule>,
    /// The engines of the guest modules: they own the compiled code, so
    /// they stay until the call ends.
    engines: Vec<Engine>,
    /// The `state` argument of the `invoke`s (and `instantiate`s) in progress, innermost last.
    states: Vec<u32>,
    /// Whether sandbox objects were created in the store during the call.
    used: bool,
}

impl SandboxState {
    /// Records the supervisor instance's table and call-depth global.
    pub(crate) fn set_supervisor(&mut self, table: Option<Table>, depth: Option<Global>) {
        self.table = table;
        self.depth = depth;
    }

    /// Drops the call's instances and memories. Returns whether the store
    /// is as it was (no sandbox object was created in it), so that the
    /// instance can be reused for another call.
    pub(crate) fn finish_call(&mut self) -> bool {
        let reusable = !self.used;
        self.instances.clear();
        self.instantiations = 0;
        self.memories.clear();
        self.modules.clear();
        self.engines.clear();
        self.states.clear();
        self.used = false;
        reusable
    }

    fn instance(&self, index: u32) -> Result<Instance, String> {
        match self.instances.get(index as usize) {
            Some(Some(instance)) => Ok(instance.clone()),
            Some(None) => Err(format!("sandbox instance {index} was torn down")),
            None => Err(format!("no sandbox instance {index}")),
        }
    }

    fn memory(&self, index: u32) -> Result<Memory, String> {
        match self.memories.get(index as usize) {
            Some(Some(memory)) => Ok(memory.clone()),
            Some(None) => Err(format!("sandbox memory {index} was torn down")),
            None => Err(format!("no sandbox memory {index}")),
        }
    }

    /// The compiled guest module of `code`, compiled now unless it already was
    /// during this call; `None` if it is not a valid module.
    fn module(&mut self, code: &[u8]) -> Option<GuestModule> {
        let hash = crate::engine::blake2_256(code);
        if let Some(module) = self.modules.get(&hash) {
            return Some(module.clone());
        }
        let mut compiler = Cranelift::new();
        compiler.canonicalize_nans(true);
        let engine: Engine = EngineBuilder::new(compiler).set_features(Some(Features::none())).engine().into();
        let module = Module::from_binary(&engine, code).ok()?;
        let shim = if imports_in_table(code) {
            let types: Vec<FunctionType> = module
                .imports()
                .filter_map(|import| match import.ty() {
                    ExternType::Function(ty) => Some(ty.clone()),
                    _ => None,
                })
                .collect();
            Some(Module::from_binary(&engine, &shim_wasm(&types)?).ok()?)
        } else {
            None
        };
        self.engines.push(engine);
        let module = GuestModule { module, shim };
        if self.modules.len() < MAX_CACHED_MODULES {
            self.modules.insert(hash, module.clone());
        }
        Some(module)
    }
}

/// Whether a (valid) module puts imported functions in a table.
fn imports_in_table(code: &[u8]) -> bool {
    use wasmer::sys::wasmparser::{ElementItems, Parser, Payload, TypeRef};
    let mut imported_functions = 0u32;
    for payload in Parser::new(0).parse_all(code) {
        match payload {
            Ok(Payload::ImportSection(reader)) => {
                imported_functions +=
                    reader.into_iter().flatten().filter(|import| matches!(import.ty, TypeRef::Func(_))).count() as u32;
            }
            Ok(Payload::ElementSection(reader)) => {
                for element in reader.into_iter().flatten() {
                    match element.items {
                        ElementItems::Functions(functions) => {
                            if functions.into_iter().flatten().any(|index| index < imported_functions) {
                                return true;
                            }
                        }
                        ElementItems::Expressions(..) => return true,
                    }
                }
            }
            Ok(_) => {}
            Err(_) => return true,
        }
    }
    false
}

/// A module importing functions of `types` as `env.0`, `env.1`... and
/// exporting, as `0`, `1`..., Wasm functions that call them.
fn shim_wasm(types: &[FunctionType]) -> Option<Vec<u8>> {
    fn leb(out: &mut Vec<u8>, mut value: u32) {
        loop {
            let byte = (value & 0x7f) as u8;
            value >>= 7;
            if value == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }
    fn name(out: &mut Vec<u8>, name: &str) {
        leb(out, name.len() as u32);
        out.extend_from_slice(name.as_bytes());
    }
    fn val_types(out: &mut Vec<u8>, types: &[Type]) -> Option<()> {
        leb(out, types.len() as u32);
        for ty in types {
            out.push(match ty {
                Type::I32 => 0x7f,
                Type::I64 => 0x7e,
                Type::F32 => 0x7d,
                Type::F64 => 0x7c,
                _ => return None,
            });
        }
        Some(())
    }
    let count = u32::try_from(types.len()).ok()?;
    let mut wasm = b"\0asm\x01\0\0\0".to_vec();
    let mut section = |id: u8, fill: &mut dyn FnMut(&mut Vec<u8>, u32) -> Option<()>| -> Option<()> {
        let mut body = Vec::new();
        leb(&mut body, count);
        for index in 0..count {
            fill(&mut body, index)?;
        }
        wasm.push(id);
        leb(&mut wasm, u32::try_from(body.len()).ok()?);
        wasm.extend(body);
        Some(())
    };
    section(1, &mut |body, index| {
        let ty = &types[index as usize];
        body.push(0x60);
        val_types(body, ty.params())?;
        val_types(body, ty.results())
    })?;
    section(2, &mut |body, index| {
        name(body, "env");
        name(body, &index.to_string());
        body.push(0x00);
        leb(body, index);
        Some(())
    })?;
    section(3, &mut |body, index| {
        leb(body, index);
        Some(())
    })?;
    section(7, &mut |body, index| {
        name(body, &index.to_string());
        body.push(0x00);
        leb(body, count + index);
        Some(())
    })?;
    section(10, &mut |body, index| {
        let mut code = vec![0x00];
        for param in 0..types[index as usize].params().len() as u32 {
            code.push(0x20);
            leb(&mut code, param);
        }
        code.push(0x10);
        leb(&mut code, index);
        code.push(0x0b);
        leb(body, code.len() as u32);
        body.extend(code);
        Some(())
    })?;
    Some(wasm)
}

fn failed(function: &'static str, reason: impl Into<String>) -> HostError {
    HostError::Failed { function, reason: reason.into() }
}

/// `Err` with the error when a failure inside the sandbox must fail the
/// runtime call (the state backend could not answer) rather than be reported
/// to the supervisor as [`ERR_EXECUTION`].
fn escalate(error: &RuntimeError) -> Result<(), HostError> {
    match error.downcast_ref::<HostError>() {
        Some(error @ HostError::State { .. }) => Err(error.clone()),
        _ => Ok(()),
    }
}

fn code(value: u32) -> i32 {
    value as i32
}

/// `ext_sandbox_instantiate_version_1`.
pub(super) fn instantiate(
    env: &mut FunctionEnvMut<HostState>,
    dispatch_thunk: i32,
    wasm: i64,
    env_def: i64,
    state: i32,
) -> Result<i32, HostError> {
    const NAME: &str = "ext_sandbox_instantiate_version_1";
    let (code_bytes, raw_env_def) = {
        let ctx = Ctx::new(env, NAME);
        let (ptr, len) = unpack_ptr_len(wasm);
        let code_bytes = if len as usize > MAX_GUEST_CODE_LEN {
            // Still an error of the caller if the range is not in memory.
            let size = ctx.memory()?.view(&ctx.store).data_size();
            if u64::from(ptr) + u64::from(len) > size {
                return Err(HostError::MemoryAccess { function: NAME, ptr, len });
            }
            None
        } else {
            Some(ctx.read(ptr, len)?)
        };
        (code_bytes, ctx.read_ps(env_def)?)
    };

    let thunk = {
        let (state, mut store) = env.data_and_store_mut();
        let table = state.sandbox.table.clone().ok_or_else(|| failed(NAME, "the runtime exports no function table"))?;
        match table.get(&mut store, dispatch_thunk as u32) {
            Some(Value::FuncRef(Some(function))) => function,
            Some(_) => return Err(failed(NAME, format!("table entry {} is not a function", dispatch_thunk as u32))),
            None => return Err(failed(NAME, format!("dispatch thunk {} is out of the table", dispatch_thunk as u32))),
        }
    };

    let Ok(definition) = EnvironmentDefinition::decode(&mut &raw_env_def[..]) else {
        return Ok(code(ERR_MODULE));
    };
    let Some(code_bytes) = code_bytes else { return Ok(code(ERR_MODULE)) };
    let sandbox = &mut env.data_mut().sandbox;
    let mut functions = HashMap::new();
    let mut memories = HashMap::new();
    for entry in definition.entries {
        let key = (entry.module_name, entry.field_name);
        match entry.entity {
            ExternEntity::Function(index) => {
                functions.insert(key, index);
            }
            ExternEntity::Memory(index) => match sandbox.memory(index) {
                Ok(memory) => {
                    memories.insert(key, memory);
                }
                Err(_) => return Ok(code(ERR_MODULE)),
            },
        }
    }
    if sandbox.instantiations >= MAX_INSTANCES_PER_CALL || code_bytes.len() > MAX_GUEST_CODE_LEN {
        return Ok(code(ERR_MODULE));
    }
    let Some(GuestModule { module, shim }) = sandbox.module(&code_bytes) else { return Ok(code(ERR_MODULE)) };
    drop(code_bytes);

    // From here on objects are added to the store.
    sandbox.instantiations += 1;
    sandbox.used = true;
    let function_env = env.as_ref();
    let mut externs = Vec::new();
    for import in module.imports() {
        let key = (import.module().as_bytes().to_vec(), import.name().as_bytes().to_vec());
        let provided = match import.ty() {
            ExternType::Function(ty) => functions.get(&key).map(|&index| {
                let (thunk, results) = (thunk.clone(), ty.results().to_vec());
                Extern::Function(Function::new_with_env(
                    env,
                    &function_env,
                    ty.clone(),
                    move |mut env: FunctionEnvMut<HostState>, args: &[Value]| {
                        dispatch(&mut env, &thunk, index, &results, args)
                    },
                ))
            }),
            ExternType::Memory(_) => memories.get(&key).map(|memory| Extern::Memory(memory.clone())),
            _ => None,
        };
        match provided {
            Some(provided) => externs.push(provided),
            None => return Ok(code(ERR_MODULE)),
        }
    }
    if let Some(shim) = shim {
        let functions: Vec<Extern> = externs.iter().filter(|e| matches!(e, Extern::Function(_))).cloned().collect();
        let Ok(shim) = Instance::new_by_index(env, &shim, &functions) else { return Ok(code(ERR_MODULE)) };
        let guest_functions = externs.iter_mut().filter(|e| matches!(e, Extern::Function(_)));
        for (index, provided) in guest_functions.enumerate() {
            let Ok(function) = shim.exports.get_function(&index.to_string()) else { return Ok(code(ERR_MODULE)) };
            *provided = Extern::Function(function.clone());
        }
    }

    env.data_mut().sandbox.states.push(state as u32);
    let result = Instance::new_by_index(env, &module, &externs);
    env.data_mut().sandbox.states.pop();
    match result {
        Ok(instance) => {
            let sandbox = &mut env.data_mut().sandbox;
            let index = sandbox.instances.len();
            sandbox.instances.push(Some(instance));
            Ok(index as i32)
        }
        Err(InstantiationError::Start(error)) => escalate(&error).map(|()| code(ERR_EXECUTION)),
        Err(_) => Ok(code(ERR_MODULE)),
    }
}

/// A guest's call to one of its imports: through the supervisor's dispatch thunk.
fn dispatch(
    env: &mut FunctionEnvMut<HostState>,
    thunk: &Function,
    function_index: u32,
    results: &[Type],
    args: &[Value],
) -> Result<Vec<Value>, RuntimeError> {
    let trap = |error: HostError| RuntimeError::user(Box::new(error));
    let args = args
        .iter()
        .map(to_sandbox_value)
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| trap(failed(DISPATCH, "argument of an unsupported type")))?
        .encode();
    let args_len = u32::try_from(args.len()).map_err(|_| trap(failed(DISPATCH, "arguments too large")))?;
    let (args_ptr, state, depth) = {
        let mut ctx = Ctx::new(env, DISPATCH);
        let ptr = ctx.allocate(args_len).map_err(trap)?;
        if let Err(error) = ctx.write(ptr, &args) {
            ctx.deallocate(ptr).map_err(trap)?;
            return Err(trap(error));
        }
        let sandbox = &ctx.state.sandbox;
        (ptr, sandbox.states.last().copied().unwrap_or(0), sandbox.depth.clone())
    };

    let depth_before = depth.as_ref().map(|global| global.get(env));
    let result = thunk.call(
        env,
        &[
            Value::I32(args_ptr as i32),
            Value::I32(args_len as i32),
            Value::I32(state as i32),
            Value::I32(function_index as i32),
        ],
    );
    if let (Some(global), Some(value)) = (&depth, depth_before) {
        global.set(env, value).map_err(|e| trap(failed(DISPATCH, e.message())))?;
    }
    Ctx::new(env, DISPATCH).deallocate(args_ptr).map_err(trap)?;

    let packed = match result?.as_ref() {
        [Value::I64(packed)] => *packed as u64,
        _ => return Err(trap(failed(DISPATCH, "the dispatch thunk did not return an i64"))),
    };
    let (ptr, len) = ((packed >> 32) as u32, packed as u32);
    let mut ctx = Ctx::new(env, DISPATCH);
    let bytes = ctx.read(ptr, len);
    ctx.deallocate(ptr).map_err(trap)?;
    let bytes = bytes.map_err(trap)?;
    let result = Result::<ReturnValue, SupervisorError>::decode(&mut &bytes[..])
        .map_err(|e| trap(failed(DISPATCH, format!("cannot decode the dispatch thunk's result: {e}"))))?;
    let values = match result {
        Ok(ReturnValue::Unit) => Vec::new(),
        Ok(ReturnValue::Value(value)) => vec![from_sandbox_value(value)],
        Err(SupervisorError) => return Err(trap(failed(DISPATCH, "the supervisor function returned an error"))),
    };
    if !values.iter().map(Value::ty).eq(results.iter().copied()) {
        return Err(trap(failed(DISPATCH, "the supervisor function's result does not match the import's type")));
    }
    Ok(values)
}

/// `ext_sandbox_invoke_version_1`.
pub(super) fn invoke(
    env: &mut FunctionEnvMut<HostState>,
    instance: i32,
    function: i64,
    args: i64,
    return_ptr: i32,
    return_len: i32,
    state: i32,
) -> Result<i32, HostError> {
    const NAME: &str = "ext_sandbox_invoke_version_1";
    let (name, args, instance) = {
        let ctx = Ctx::new(env, NAME);
        let name = String::from_utf8(ctx.read_ps(function)?).map_err(|_| ctx.fail("export name is not UTF-8"))?;
        let args = Vec::<SandboxValue>::decode(&mut &ctx.read_ps(args)?[..])
            .map_err(|e| ctx.fail(format!("cannot decode the arguments: {e}")))?;
        let instance = ctx.state.sandbox.instance(instance as u32).map_err(|reason| ctx.fail(reason))?;
        (name, args, instance)
    };
    let Ok(function) = instance.exports.get_function(&name).cloned() else {
        return Ok(code(ERR_EXECUTION));
    };
    let params: Vec<Value> = args.into_iter().map(from_sandbox_value).collect();

    env.data_mut().sandbox.states.push(state as u32);
    let result = function.call(env, &params);
    env.data_mut().sandbox.states.pop();
    let values = match result {
        Ok(values) => values,
        Err(error) => return escalate(&error).map(|()| code(ERR_EXECUTION)),
    };
    let Some(value) = values.first() else { return Ok(code(ERR_OK)) };
    let Some(value) = to_sandbox_value(value) else { return Ok(code(ERR_EXECUTION)) };
    let encoded = ReturnValue::Value(value).encode();
    let mut ctx = Ctx::new(env, NAME);
    if encoded.len() > return_len as u32 as usize {
        return Err(ctx.fail(format!("return value buffer too small ({} < {})", return_len as u32, encoded.len())));
    }
    ctx.write(return_ptr as u32, &encoded)?;
    Ok(code(ERR_OK))
}

/// `ext_sandbox_instance_teardown_version_1`.
pub(super) fn instance_teardown(ctx: &mut Ctx, instance: i32) -> Result<(), HostError> {
    let index = instance as u32;
    match ctx.state.sandbox.instances.get_mut(index as usize) {
        Some(slot @ Some(_)) => {
            *slot = None;
            Ok(())
        }
        Some(None) => Err(ctx.fail(format!("sandbox instance {index} was already torn down"))),
        None => Err(ctx.fail(format!("no sandbox instance {index}"))),
    }
}

/// `ext_sandbox_get_global_val_version_1`.
pub(super) fn get_global_val(ctx: &mut Ctx, instance: i32, name: i64) -> Result<i64, HostError> {
    let name = String::from_utf8(ctx.read_ps(name)?).map_err(|_| ctx.fail("global name is not UTF-8"))?;
    let instance = ctx.state.sandbox.instance(instance as u32).map_err(|reason| ctx.fail(reason))?;
    let value = match instance.exports.get_global(&name) {
        Ok(global) => to_sandbox_value(&global.get(&mut ctx.store)),
        Err(_) => None,
    };
    ctx.return_encoded(&value)
}

/// `ext_sandbox_memory_new_version_1`.
pub(super) fn memory_new(ctx: &mut Ctx, initial: i32, maximum: i32) -> Result<i32, HostError> {
    let (initial, maximum) = (initial as u32, maximum as u32);
    let maximum = (maximum != MEM_UNLIMITED).then_some(maximum);
    if initial > MAX_WASM_PAGES || maximum.is_some_and(|max| max > MAX_WASM_PAGES || max < initial) {
        return Err(ctx.fail(format!("invalid memory limits: {initial} pages, maximum {maximum:?}")));
    }
    if ctx.state.sandbox.memories.len() >= MAX_MEMORIES_PER_CALL {
        return Ok(code(ERR_MODULE));
    }
    let memory = Memory::new(&mut ctx.store, MemoryType::new(initial, maximum, false))
        .map_err(|e| ctx.fail(format!("cannot create a memory of {initial} pages: {e}")))?;
    let sandbox = &mut ctx.state.sandbox;
    sandbox.used = true;
    sandbox.memories.push(Some(memory));
    Ok((sandbox.memories.len() - 1) as i32)
}

/// `ext_sandbox_memory_get_version_1`: sandbox memory to supervisor memory.
pub(super) fn memory_get(
    ctx: &mut Ctx,
    memory: i32,
    offset: i32,
    buf_ptr: i32,
    buf_len: i32,
) -> Result<i32, HostError> {
    let sandboxed = ctx.state.sandbox.memory(memory as u32).map_err(|reason| ctx.fail(reason))?;
    let supervisor = ctx.memory()?;
    let (offset, buf_ptr, len) = (offset as u32, buf_ptr as u32, buf_len as u32);
    transfer(ctx, &sandboxed, offset, &supervisor, buf_ptr, len)
}

/// `ext_sandbox_memory_set_version_1`: supervisor memory to sandbox memory.
pub(super) fn memory_set(
    ctx: &mut Ctx,
    memory: i32,
    offset: i32,
    val_ptr: i32,
    val_len: i32,
) -> Result<i32, HostError> {
    let sandboxed = ctx.state.sandbox.memory(memory as u32).map_err(|reason| ctx.fail(reason))?;
    let supervisor = ctx.memory()?;
    let (offset, val_ptr, len) = (offset as u32, val_ptr as u32, val_len as u32);
    transfer(ctx, &supervisor, val_ptr, &sandboxed, offset, len)
}

/// Copies `len` bytes between two memories of the store: [`ERR_OK`], or
/// [`ERR_OUT_OF_BOUNDS`] (nothing copied) if either range is out of bounds.
fn transfer(ctx: &mut Ctx, from: &Memory, from_ptr: u32, to: &Memory, to_ptr: u32, len: u32) -> Result<i32, HostError> {
    let in_bounds = |memory: &Memory, ptr: u32| u64::from(ptr) + u64::from(len) <= memory.view(&ctx.store).data_size();
    if !in_bounds(from, from_ptr) || !in_bounds(to, to_ptr) {
        return Ok(code(ERR_OUT_OF_BOUNDS));
    }
    let mut buffer = vec![0; len as usize];
    if from.view(&ctx.store).read(u64::from(from_ptr), &mut buffer).is_err()
        || to.view(&ctx.store).write(u64::from(to_ptr), &buffer).is_err()
    {
        return Ok(code(ERR_OUT_OF_BOUNDS));
    }
    Ok(code(ERR_OK))
}

/// `ext_sandbox_memory_teardown_version_1`.
pub(super) fn memory_teardown(ctx: &mut Ctx, memory: i32) -> Result<(), HostError> {
    let index = memory as u32;
    match ctx.state.sandbox.memories.get_mut(index as usize) {
        Some(slot @ Some(_)) => {
            *slot = None;
            Ok(())
        }
        Some(None) => Err(ctx.fail(format!("sandbox memory {index} was already torn down"))),
        None => Err(ctx.fail(format!("no sandbox memory {index}"))),
    }
}

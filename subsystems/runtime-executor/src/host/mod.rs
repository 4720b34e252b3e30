//! Host functions given to the runtime, and the per-call state they work on.
//!
//! This first slice provides the allocator and logging functions; every other
//! function the runtime imports is a stub that traps with
//! [`HostError::NotImplemented`] only if it is actually called.

use crate::allocator::{AllocatorError, FreeingBumpAllocator, HeapMemory};
use wasmer::{AsStoreMut, AsStoreRef, Function, FunctionEnv, FunctionEnvMut, Memory, Store, StoreMut, Type};

/// An error raised by a host function; it traps the runtime and is returned
/// to the caller of the runtime call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("host function `{0}` not implemented")]
    NotImplemented(String),
    #[error("host function `{function}` failed: {error}")]
    Allocator { function: &'static str, error: AllocatorError },
    #[error("host function `{function}` accessed memory out of bounds (ptr {ptr:#x}, len {len})")]
    MemoryAccess { function: &'static str, ptr: u32, len: u32 },
    #[error("host function `{0}` called while no runtime call is in progress")]
    NoCallState(&'static str),
}

/// A host function this executor implements.
pub(crate) struct HostFunctionDef {
    pub(crate) name: &'static str,
    pub(crate) params: &'static [Type],
    pub(crate) results: &'static [Type],
    pub(crate) make: fn(&mut Store, &FunctionEnv<HostState>) -> Function,
}

/// Host functions this executor implements, with their Wasm signatures.
pub(crate) const IMPLEMENTED: &[HostFunctionDef] = &[
    HostFunctionDef {
        name: "ext_allocator_malloc_version_1",
        params: &[Type::I32],
        results: &[Type::I32],
        make: |store, env| Function::new_typed_with_env(store, env, ext_allocator_malloc_version_1),
    },
    HostFunctionDef {
        name: "ext_allocator_free_version_1",
        params: &[Type::I32],
        results: &[],
        make: |store, env| Function::new_typed_with_env(store, env, ext_allocator_free_version_1),
    },
    HostFunctionDef {
        name: "ext_logging_log_version_1",
        params: &[Type::I32, Type::I64, Type::I64],
        results: &[],
        make: |store, env| Function::new_typed_with_env(store, env, ext_logging_log_version_1),
    },
    HostFunctionDef {
        name: "ext_logging_max_level_version_1",
        params: &[],
        results: &[Type::I32],
        make: |store, env| Function::new_typed_with_env(store, env, ext_logging_max_level_version_1),
    },
];

/// State of one runtime call, shared by the host functions.
#[derive(Debug, Default)]
pub(crate) struct HostState {
    pub(crate) memory: Option<Memory>,
    pub(crate) allocator: Option<FreeingBumpAllocator>,
}

/// The instance's linear memory seen through [`HeapMemory`].
pub(crate) struct WasmerHeap<'a, S: AsStoreMut> {
    pub(crate) memory: &'a Memory,
    pub(crate) store: &'a mut S,
}

impl<S: AsStoreMut> HeapMemory for WasmerHeap<'_, S> {
    fn read_u64(&self, offset: u32) -> Option<u64> {
        let mut bytes = [0u8; 8];
        self.memory.view(&*self.store).read(u64::from(offset), &mut bytes).ok()?;
        Some(u64::from_le_bytes(bytes))
    }

    fn write_u64(&mut self, offset: u32, value: u64) -> bool {
        self.memory.view(&*self.store).write(u64::from(offset), &value.to_le_bytes()).is_ok()
    }

    fn size(&self) -> u64 {
        self.memory.view(&*self.store).data_size()
    }

    fn max_pages(&self) -> Option<u32> {
        self.memory.ty(&*self.store).maximum.map(|pages| pages.0)
    }

    fn grow(&mut self, additional: u32) -> bool {
        self.memory.grow(&mut *self.store, additional).is_ok()
    }
}

/// Reads `len` bytes at `ptr`, bounds-checked.
pub(crate) fn read_memory(
    memory: &Memory,
    store: &impl AsStoreRef,
    ptr: u32,
    len: u32,
    function: &'static str,
) -> Result<Vec<u8>, HostError> {
    let view = memory.view(store);
    let start = u64::from(ptr);
    let end = start + u64::from(len);
    if end > view.data_size() {
        return Err(HostError::MemoryAccess { function, ptr, len });
    }
    view.copy_range_to_vec(start..end).map_err(|_| HostError::MemoryAccess { function, ptr, len })
}

/// Splits a pointer-size (`len << 32 | ptr`).
pub(crate) fn unpack_ptr_len(value: i64) -> (u32, u32) {
    let value = value as u64;
    (value as u32, (value >> 32) as u32)
}

fn state_parts<'a>(
    ctx: &'a mut FunctionEnvMut<HostState>,
    function: &'static str,
) -> Result<(&'a Memory, &'a mut FreeingBumpAllocator, StoreMut<'a>), HostError> {
    let (state, store) = ctx.data_and_store_mut();
    match (state.memory.as_ref(), state.allocator.as_mut()) {
        (Some(memory), Some(allocator)) => Ok((memory, allocator, store)),
        _ => Err(HostError::NoCallState(function)),
    }
}

pub(crate) fn ext_allocator_malloc_version_1(mut ctx: FunctionEnvMut<HostState>, size: i32) -> Result<i32, HostError> {
    const NAME: &str = "ext_allocator_malloc_version_1";
    let (memory, allocator, mut store) = state_parts(&mut ctx, NAME)?;
    let mut heap = WasmerHeap { memory, store: &mut store };
    allocator
        .allocate(&mut heap, size as u32)
        .map(|ptr| ptr as i32)
        .map_err(|error| HostError::Allocator { function: NAME, error })
}

pub(crate) fn ext_allocator_free_version_1(mut ctx: FunctionEnvMut<HostState>, ptr: i32) -> Result<(), HostError> {
    const NAME: &str = "ext_allocator_free_version_1";
    let (memory, allocator, mut store) = state_parts(&mut ctx, NAME)?;
    let mut heap = WasmerHeap { memory, store: &mut store };
    allocator.deallocate(&mut heap, ptr as u32).map_err(|error| HostError::Allocator { function: NAME, error })
}

/// `ext_logging_log_version_1(level, target, message)`: the level is the index
/// of Error, Warn, Info, Debug, Trace (0..=4); target and message are
/// pointer-sizes to UTF-8 (invalid bytes are replaced).
pub(crate) fn ext_logging_log_version_1(
    mut ctx: FunctionEnvMut<HostState>,
    level: i32,
    target: i64,
    message: i64,
) -> Result<(), HostError> {
    const NAME: &str = "ext_logging_log_version_1";
    let (state, store) = ctx.data_and_store_mut();
    let memory = state.memory.as_ref().ok_or(HostError::NoCallState(NAME))?;
    let (target_ptr, target_len) = unpack_ptr_len(target);
    let (message_ptr, message_len) = unpack_ptr_len(message);
    let target = read_memory(memory, &store, target_ptr, target_len, NAME)?;
    let message = read_memory(memory, &store, message_ptr, message_len, NAME)?;
    let target = String::from_utf8_lossy(&target);
    let message = String::from_utf8_lossy(&message);
    match level {
        0 => tracing::error!(target: "runtime", runtime_target = %target, "{message}"),
        1 => tracing::warn!(target: "runtime", runtime_target = %target, "{message}"),
        2 => tracing::info!(target: "runtime", runtime_target = %target, "{message}"),
        3 => tracing::debug!(target: "runtime", runtime_target = %target, "{message}"),
        _ => tracing::trace!(target: "runtime", runtime_target = %target, "{message}"),
    }
    Ok(())
}

/// `ext_logging_max_level_version_1`: the host's maximum level as a log
/// `LevelFilter` (0 = Off, 1 = Error ... 5 = Trace), from `tracing`'s global
/// maximum, so the runtime skips formatting messages nobody would see.
pub(crate) fn ext_logging_max_level_version_1(_ctx: FunctionEnvMut<HostState>) -> i32 {
    use tracing::level_filters::LevelFilter;
    match LevelFilter::current() {
        LevelFilter::OFF => 0,
        LevelFilter::ERROR => 1,
        LevelFilter::WARN => 2,
        LevelFilter::INFO => 3,
        LevelFilter::DEBUG => 4,
        _ => 5,
    }
}

//! Limits compiled into the code: fuel, call depth, and the exports the
//! instance pool needs; plus the watchdog that enforces wall-clock timeouts.
//!
//! Every module is compiled through [`Instrumentation`], a wasmer module
//! middleware that
//!
//! * exports every mutable global the module defines (as
//!   `weft_global_<index>`), so that a pooled instance can put them back to
//!   their initial values between calls (`__stack_pointer` is one, and it is
//!   normally not exported);
//! * with fuel on, adds a mutable `i64` global [`FUEL_EXPORT`] and charges one
//!   point per Wasm operator: the operators of a straight-line run are added
//!   up and subtracted at the next control-flow operator (block boundaries,
//!   branches, calls, returns), and the code traps with `unreachable` as soon
//!   as the fuel falls below zero. Every loop iteration crosses such an
//!   operator, so a loop cannot run unmetered;
//! * with a call-depth limit, adds a mutable `i32` global [`DEPTH_EXPORT`]
//!   holding the remaining depth: decremented on entry to every function
//!   (trapping when it goes negative) and incremented on every way out. The
//!   original body is wrapped in a block so that a branch to the function's
//!   outermost label also passes the epilogue.
//!
//! Both limits are deterministic: the same code with the same input stops at
//! the same instruction on every machine. A wall-clock timeout is built on
//! fuel: the [`Watchdog`] thread sets the fuel of an overdue call to a
//! negative value, so the call traps at its next charge.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};
use wasmer::sys::wasmparser::{BlockType, Operator, ValType};
use wasmer::sys::{FunctionMiddleware, MiddlewareError, MiddlewareReaderState, ModuleMiddleware};
use wasmer::{ExportIndex, GlobalInit, GlobalType, Instance, LocalFunctionIndex, Mutability, Store, Type};
use wasmer_types::ModuleInfo;

/// Export name of the fuel global (remaining points, `i64`).
pub(crate) const FUEL_EXPORT: &str = "weft_fuel";
/// Export name of the remaining-call-depth global (`i32`).
pub(crate) const DEPTH_EXPORT: &str = "weft_call_depth";
/// Prefix of the exports added for the module's own mutable globals.
pub(crate) const GLOBAL_EXPORT_PREFIX: &str = "weft_global_";

/// What [`Instrumentation::transform_module_info`] decided for one module.
#[derive(Debug, Clone)]
struct Layout {
    fuel: Option<u32>,
    depth: Option<u32>,
    /// Result type of each local function (none or one: multi-value is off).
    results: Vec<Option<ValType>>,
}

/// The module middleware; one per compilation (it records the global
/// indices of the module it transforms).
#[derive(Debug)]
pub(crate) struct Instrumentation {
    fuel: bool,
    call_depth: bool,
    layout: Mutex<Option<Layout>>,
}

impl Instrumentation {
    pub(crate) fn new(fuel: bool, call_depth: bool) -> Self {
        Instrumentation { fuel, call_depth, layout: Mutex::new(None) }
    }
}

fn val_type(ty: Type) -> Option<ValType> {
    match ty {
        Type::I32 => Some(ValType::I32),
        Type::I64 => Some(ValType::I64),
        Type::F32 => Some(ValType::F32),
        Type::F64 => Some(ValType::F64),
        // Not reachable with the features the engine accepts.
        _ => None,
    }
}

impl ModuleMiddleware for Instrumentation {
    fn transform_module_info(&self, info: &mut ModuleInfo) -> Result<(), MiddlewareError> {
        let mut layout = self.layout.lock().unwrap_or_else(|p| p.into_inner());
        if layout.is_some() {
            return Err(MiddlewareError::new("weft-instrumentation", "instrumentation used for two modules"));
        }
        let mutable: Vec<u32> = info
            .globals
            .iter()
            .skip(info.num_imported_globals)
            .filter(|(_, ty)| ty.mutability == Mutability::Var)
            .map(|(index, _)| index.as_u32())
            .collect();
        for index in mutable {
            info.exports.insert(
                format!("{GLOBAL_EXPORT_PREFIX}{index}"),
                ExportIndex::Global(wasmer_types::GlobalIndex::from_u32(index)),
            );
        }
        let fuel = self.fuel.then(|| {
            let index = info.globals.push(GlobalType::new(Type::I64, Mutability::Var));
            info.global_initializers.push(GlobalInit::I64Const(0));
            info.exports.insert(FUEL_EXPORT.to_string(), ExportIndex::Global(index));
            index.as_u32()
        });
        let depth = self.call_depth.then(|| {
            let index = info.globals.push(GlobalType::new(Type::I32, Mutability::Var));
            info.global_initializers.push(GlobalInit::I32Const(0));
            info.exports.insert(DEPTH_EXPORT.to_string(), ExportIndex::Global(index));
            index.as_u32()
        });
        let results = info
            .functions
            .iter()
            .skip(info.num_imported_functions)
            .map(|(_, sig)| info.signatures[*sig].results().first().copied().and_then(val_type))
            .collect();
        *layout = Some(Layout { fuel, depth, results });
        Ok(())
    }

    fn generate_function_middleware(&self, index: LocalFunctionIndex) -> Box<dyn FunctionMiddleware> {
        let layout = self.layout.lock().unwrap_or_else(|p| p.into_inner());
        let layout = layout.as_ref().expect("module info is transformed before functions are compiled");
        Box::new(FunctionInstrumentation {
            fuel: layout.fuel,
            depth: layout.depth,
            result: layout.results.get(index.as_u32() as usize).copied().flatten(),
            started: false,
            nesting: 0,
            pending: 0,
        })
    }
}

#[derive(Debug)]
struct FunctionInstrumentation {
    fuel: Option<u32>,
    depth: Option<u32>,
    result: Option<ValType>,
    started: bool,
    /// Blocks, loops and ifs open in the original body.
    nesting: u32,
    /// Operators not yet charged.
    pending: u64,
}

impl FunctionInstrumentation {
    fn charge(&mut self, state: &mut MiddlewareReaderState<'_>) {
        let Some(fuel) = self.fuel else { return };
        if self.pending == 0 {
            return;
        }
        let cost = self.pending as i64;
        self.pending = 0;
        state.extend([
            Operator::GlobalGet { global_index: fuel },
            Operator::I64Const { value: cost },
            Operator::I64Sub,
            Operator::GlobalSet { global_index: fuel },
            Operator::GlobalGet { global_index: fuel },
            Operator::I64Const { value: 0 },
            Operator::I64LtS,
            Operator::If { blockty: BlockType::Empty },
            Operator::Unreachable,
            Operator::End,
        ]);
    }

    fn leave(&self, state: &mut MiddlewareReaderState<'_>) {
        if let Some(depth) = self.depth {
            state.extend([
                Operator::GlobalGet { global_index: depth },
                Operator::I32Const { value: 1 },
                Operator::I32Add,
                Operator::GlobalSet { global_index: depth },
            ]);
        }
    }
}

fn is_control(op: &Operator<'_>) -> bool {
    matches!(
        op,
        Operator::Block { .. }
            | Operator::Loop { .. }
            | Operator::If { .. }
            | Operator::Else
            | Operator::End
            | Operator::Br { .. }
            | Operator::BrIf { .. }
            | Operator::BrTable { .. }
            | Operator::Return
            | Operator::Call { .. }
            | Operator::CallIndirect { .. }
            | Operator::Unreachable
    )
}

impl FunctionMiddleware for FunctionInstrumentation {
    fn feed<'a>(&mut self, op: Operator<'a>, state: &mut MiddlewareReaderState<'a>) -> Result<(), MiddlewareError> {
        if !self.started {
            self.started = true;
            if let Some(depth) = self.depth {
                state.extend([
                    Operator::GlobalGet { global_index: depth },
                    Operator::I32Const { value: 1 },
                    Operator::I32Sub,
                    Operator::GlobalSet { global_index: depth },
                    Operator::GlobalGet { global_index: depth },
                    Operator::I32Const { value: 0 },
                    Operator::I32LtS,
                    Operator::If { blockty: BlockType::Empty },
                    Operator::Unreachable,
                    Operator::End,
                    Operator::Block { blockty: self.result.map_or(BlockType::Empty, BlockType::Type) },
                ]);
            }
        }
        self.pending += 1;
        if is_control(&op) {
            self.charge(state);
        }
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } => self.nesting += 1,
            Operator::End if self.nesting > 0 => self.nesting -= 1,
            // The end of the function.
            Operator::End if self.depth.is_some() => {
                state.push_operator(Operator::End);
                self.leave(state);
            }
            Operator::Return => self.leave(state),
            _ => {}
        }
        state.push_operator(op);
        Ok(())
    }
}

/// A raw pointer to the value of a global of a live instance.
///
/// wasmer keeps each global's definition in its own allocation owned by the
/// store, so the address is stable for as long as the instance lives.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GlobalSlot(*mut i64);

// SAFETY: the pointer is only dereferenced through atomic operations while
// the owning instance is alive (see `Watchdog`).
unsafe impl Send for GlobalSlot {}

/// The address of the `i64` global exported as `name`, if the instance has it.
pub(crate) fn global_slot(store: &mut Store, instance: &Instance, name: &str) -> Option<GlobalSlot> {
    use wasmer::AsStoreMut;
    let export = instance.exports.get_extern(name)?;
    match export.to_vm_extern().into_sys() {
        wasmer::sys::vm::VMExtern::Global(handle) => {
            let objects = store.objects_mut().as_sys();
            let definition = handle.get(objects).vmglobal();
            Some(GlobalSlot(definition.as_ptr().cast::<i64>()))
        }
        _ => None,
    }
}

struct Armed {
    deadline: Instant,
    fuel: GlobalSlot,
    fired: Arc<AtomicBool>,
}

#[derive(Default)]
struct WatchState {
    next_id: u64,
    armed: BTreeMap<u64, Armed>,
}

/// A thread that stops calls that outlive their deadline by exhausting
/// their fuel. One per process, started on first use.
pub(crate) struct Watchdog {
    state: Mutex<WatchState>,
    wake: Condvar,
}

/// How often an overdue call's fuel is zeroed again: the store can race with
/// the call's own read-modify-write of the global.
const REFIRE: Duration = Duration::from_millis(1);

impl Watchdog {
    pub(crate) fn global() -> &'static Watchdog {
        static WATCHDOG: OnceLock<&'static Watchdog> = OnceLock::new();
        WATCHDOG.get_or_init(|| {
            let watchdog: &'static Watchdog =
                Box::leak(Box::new(Watchdog { state: Mutex::new(WatchState::default()), wake: Condvar::new() }));
            std::thread::Builder::new()
                .name("weft-executor-watchdog".into())
                .spawn(move || watchdog.run())
                .expect("cannot start the executor watchdog thread");
            watchdog
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Watches a call whose fuel lives at `fuel`; the guard must be dropped
    /// before the instance is.
    pub(crate) fn arm(&'static self, timeout: Duration, fuel: GlobalSlot) -> WatchGuard {
        let fired = Arc::new(AtomicBool::new(false));
        let mut state = self.lock();
        let id = state.next_id;
        state.next_id += 1;
        state.armed.insert(id, Armed { deadline: Instant::now() + timeout, fuel, fired: fired.clone() });
        drop(state);
        self.wake.notify_one();
        WatchGuard { watchdog: self, id, fired }
    }

    fn run(&self) {
        let mut state = self.lock();
        loop {
            let now = Instant::now();
            let mut next: Option<Instant> = None;
            for armed in state.armed.values() {
                if armed.deadline <= now {
                    // SAFETY: the entry is removed (under this lock) before its
                    // instance is dropped, so the global is alive; the store is
                    // atomic, and an aligned 8-byte store is what the compiled
                    // code's own loads see.
                    unsafe { AtomicI64::from_ptr(armed.fuel.0).store(i64::MIN / 2, Ordering::SeqCst) };
                    armed.fired.store(true, Ordering::SeqCst);
                    next = Some(next.map_or(now + REFIRE, |n: Instant| n.min(now + REFIRE)));
                } else {
                    next = Some(next.map_or(armed.deadline, |n| n.min(armed.deadline)));
                }
            }
            state = match next {
                Some(at) => {
                    self.wake
                        .wait_timeout(state, at.saturating_duration_since(now))
                        .unwrap_or_else(|p| p.into_inner())
                        .0
                }
                None => self.wake.wait(state).unwrap_or_else(|p| p.into_inner()),
            };
        }
    }
}

/// Disarms the watchdog for one call when dropped.
pub(crate) struct WatchGuard {
    watchdog: &'static Watchdog,
    id: u64,
    fired: Arc<AtomicBool>,
}

impl WatchGuard {
    /// Whether the deadline passed while the call ran.
    pub(crate) fn fired(&self) -> bool {
        self.fired.load(Ordering::SeqCst)
    }
}

impl Drop for WatchGuard {
    fn drop(&mut self) {
        self.watchdog.lock().armed.remove(&self.id);
    }
}

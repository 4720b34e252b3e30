//! The sandbox host functions (`ext_sandbox_*`), driven by a hand-written
//! supervisor runtime: it imports them with the allocator, keeps its
//! dispatch thunk in its exported function table, and runs one scenario per
//! call, logging every result into its output. The guest modules, export
//! names, arguments and environment definitions are SCALE-encoded here and
//! placed in the supervisor's data segments.

use parity_scale_codec::{Decode, Encode};
use std::sync::Arc;
use weft_runtime_executor::overlay::Delta;
use weft_runtime_executor::{
    Executor, ExecutorConfig, ExecutorError, Externalities, HostError, RuntimeModule, StateBackend, StateError,
    StateVersion, DEFAULT_HEAP_PAGES,
};

const ERR_OK: u32 = 0;
const ERR_MODULE: u32 = u32::MAX;
const ERR_OUT_OF_BOUNDS: u32 = u32::MAX - 1;
const ERR_EXECUTION: u32 = u32::MAX - 2;
const MEM_UNLIMITED: u32 = u32::MAX;

/// `sp_wasm_interface::Value`.
#[derive(Debug, Clone, Copy, PartialEq, Encode, Decode)]
enum V {
    I32(i32),
    I64(i64),
    F32(u32),
    F64(u64),
}

/// `sp_wasm_interface::ReturnValue`.
#[derive(Debug, Clone, Copy, PartialEq, Encode, Decode)]
enum ReturnValue {
    Unit,
    Value(V),
}

/// `sp_core::sandbox::ExternEntity`.
#[derive(Encode)]
enum Entity {
    #[codec(index = 1)]
    Function(u32),
    #[codec(index = 2)]
    Memory(u32),
}

/// `sp_core::sandbox::Entry`.
#[derive(Encode)]
struct Entry {
    module_name: Vec<u8>,
    field_name: Vec<u8>,
    entity: Entity,
}

/// An `EnvironmentDefinition` (a SCALE `Vec<Entry>`) of `env.<name>` entries.
fn env_def(entries: &[(&str, Entity)]) -> Vec<u8> {
    entries
        .iter()
        .map(|(name, entity)| Entry {
            module_name: b"env".to_vec(),
            field_name: name.as_bytes().to_vec(),
            entity: match entity {
                Entity::Function(i) => Entity::Function(*i),
                Entity::Memory(i) => Entity::Memory(*i),
            },
        })
        .collect::<Vec<_>>()
        .encode()
}

/// Supervisor function indices the dispatch thunk serves.
const INC: u32 = 1;
const ASSERT: u32 = 2;
const SUPERVISOR_TRAP: u32 = 3;
const BAD_RESULT: u32 = 4;
const WRONG_TYPE: u32 = 5;
const READ_MEM: u32 = 6;
const NESTED: u32 = 7;
const READ_STORAGE: u32 = 8;

/// The guest: imports a memory and the supervisor's functions.
const GUEST: &str = r#"(module
    (import "env" "memory" (memory 1))
    (import "env" "inc" (func $inc (param i32) (result i32)))
    (import "env" "assert" (func $assert (param i32)))
    (import "env" "supervisor_trap" (func $strap))
    (import "env" "bad_result" (func $bad (result i32)))
    (import "env" "wrong_type" (func $wrong (result i32)))
    (import "env" "read_mem" (func $read_mem (param i32) (result i32)))
    (import "env" "nested" (func $nested (param i32) (result i32)))
    (import "env" "read_storage" (func $read_storage))
    (global (export "g32") i32 (i32.const 42))
    (global $g64 (export "g64") (mut i64) (i64.const -7))
    (global (export "gf32") f32 (f32.const 1.5))
    (global (export "gf64") f64 (f64.const -2.25))
    (func (export "add") (param i32 i64) (result i64) (i64.add (i64.extend_i32_s (local.get 0)) (local.get 1)))
    (func (export "fmul") (param f64 f32) (result f64) (f64.mul (local.get 0) (f64.promote_f32 (local.get 1))))
    (func (export "call_inc") (param i32) (result i32) (call $inc (local.get 0)))
    (func (export "check") (param i32) (call $assert (local.get 0)))
    (func (export "trap") unreachable)
    (func (export "oob") (result i32) (i32.load (i32.const 0x7ffffff0)))
    (func $recurse (export "recurse") (param i32) (result i32)
        (i32.add (call $recurse (i32.add (local.get 0) (i32.const 1))) (i32.const 1)))
    (func (export "supervisor_trap") (call $strap))
    (func (export "bad_result") (result i32) (call $bad))
    (func (export "wrong_type") (result i32) (call $wrong))
    (func (export "store") (param i32 i32) (i32.store (local.get 0) (local.get 1)))
    (func (export "load") (param i32) (result i32) (i32.load (local.get 0)))
    (func (export "read_mem") (param i32) (result i32) (call $read_mem (local.get 0)))
    (func (export "nested") (param i32) (result i32) (call $nested (local.get 0)))
    (func (export "read_storage") (call $read_storage))
    (func (export "set_g64") (param i64) (global.set $g64 (local.get 0))))"#;

/// A guest whose start function calls an import.
const START_DISPATCH: &str = r#"(module
    (import "env" "inc" (func $inc (param i32) (result i32)))
    (global $seen (export "seen") (mut i32) (i32.const 0))
    (func $start (global.set $seen (call $inc (i32.const 9))))
    (start $start))"#;

fn wasm(wat: &str) -> Vec<u8> {
    wat::parse_str(wat).expect("valid test WAT")
}

fn args(values: &[V]) -> Vec<u8> {
    values.to_vec().encode()
}

/// Named byte strings placed in the supervisor's data; `@name` in its code
/// stands for their pointer-size.
fn blobs(extra: &[(&str, Vec<u8>)]) -> Vec<(String, Vec<u8>)> {
    let full_env = env_def(&[
        ("memory", Entity::Memory(0)),
        ("inc", Entity::Function(INC)),
        ("assert", Entity::Function(ASSERT)),
        ("supervisor_trap", Entity::Function(SUPERVISOR_TRAP)),
        ("bad_result", Entity::Function(BAD_RESULT)),
        ("wrong_type", Entity::Function(WRONG_TYPE)),
        ("read_mem", Entity::Function(READ_MEM)),
        ("nested", Entity::Function(NESTED)),
        ("read_storage", Entity::Function(READ_STORAGE)),
    ]);
    let mut all: Vec<(String, Vec<u8>)> = vec![
        ("guest".into(), wasm(GUEST)),
        ("env".into(), full_env),
        ("no_args".into(), args(&[])),
        ("a_inc41".into(), args(&[V::I32(41)])),
    ];
    for name in [
        "add",
        "fmul",
        "call_inc",
        "check",
        "trap",
        "oob",
        "recurse",
        "supervisor_trap",
        "bad_result",
        "wrong_type",
        "store",
        "load",
        "read_mem",
        "nested",
        "set_g64",
        "g32",
        "g64",
        "gf32",
        "gf64",
        "missing",
        "seen",
        "read_storage",
    ] {
        all.push((name.into(), name.as_bytes().to_vec()));
    }
    all.extend(extra.iter().map(|(name, bytes)| (name.to_string(), bytes.clone())));
    all
}

const DATA_START: u32 = 0x1000;
const HEAP_BASE: u32 = 0x20000;
/// Where `$inv` has `invoke` write return values (16 bytes, filled with 0xff first).
const RET: u32 = 0x40;
/// Scratch space for memory transfers.
const SCRATCH: u32 = 0x60;

struct Supervisor {
    table_exported: bool,
    config: ExecutorConfig,
    heap_pages: u64,
}

impl Default for Supervisor {
    fn default() -> Self {
        Supervisor { table_exported: true, config: ExecutorConfig::default(), heap_pages: 16 }
    }
}

impl Supervisor {
    /// Compiles a supervisor whose export `run` executes `body` (then returns the log).
    fn build(&self, body: &str, extra: &[(&str, Vec<u8>)]) -> RuntimeModule {
        let blobs = blobs(extra);
        let mut data = String::new();
        let mut offsets = std::collections::HashMap::new();
        let mut at = DATA_START;
        for (name, bytes) in &blobs {
            offsets.insert(name.clone(), (u64::from(bytes.len() as u32) << 32) | u64::from(at));
            data.push_str(&format!("(data (i32.const {at}) \""));
            for byte in bytes {
                data.push_str(&format!("\\{byte:02x}"));
            }
            data.push_str("\")\n");
            at = (at + bytes.len() as u32 + 7) & !7;
        }
        assert!(at <= HEAP_BASE, "test data too large");
        let table_export = if self.table_exported { r#"(export "__indirect_function_table")"# } else { "" };
        let source = format!(
            r#"(module
            (import "env" "memory" (memory 2))
            (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
            (import "env" "ext_allocator_free_version_1" (func $free (param i32)))
            (import "env" "ext_sandbox_instantiate_version_1" (func $instantiate (param i32 i64 i64 i32) (result i32)))
            (import "env" "ext_sandbox_invoke_version_1" (func $invoke (param i32 i64 i64 i32 i32 i32) (result i32)))
            (import "env" "ext_sandbox_instance_teardown_version_1" (func $instance_teardown (param i32)))
            (import "env" "ext_sandbox_get_global_val_version_1" (func $get_global_val (param i32 i64) (result i64)))
            (import "env" "ext_sandbox_memory_new_version_1" (func $memory_new (param i32 i32) (result i32)))
            (import "env" "ext_sandbox_memory_get_version_1" (func $memory_get (param i32 i32 i32 i32) (result i32)))
            (import "env" "ext_sandbox_memory_set_version_1" (func $memory_set (param i32 i32 i32 i32) (result i32)))
            (import "env" "ext_sandbox_memory_teardown_version_1" (func $memory_teardown (param i32)))
            (import "env" "ext_storage_get_version_1" (func $storage_get (param i64) (result i64)))
            (global (export "__heap_base") i32 (i32.const {HEAP_BASE}))
            (table {table_export} 3 funcref)
            (elem (i32.const 1) $dispatch $not_a_thunk)
            {data}
            (global $log (mut i32) (i32.const 0x100))
            (global $calls (mut i32) (i32.const 0))
            (global $last_state (mut i32) (i32.const 0))

            (func $put (param $v i32)
                (if (i32.ge_u (global.get $log) (i32.const {DATA_START})) (then unreachable))
                (i32.store (global.get $log) (local.get $v))
                (global.set $log (i32.add (global.get $log) (i32.const 4))))
            (func $put_bytes (param $p i32) (param $n i32)
                (block $done (loop $next
                    (br_if $done (i32.eqz (local.get $n)))
                    (if (i32.ge_u (global.get $log) (i32.const {DATA_START})) (then unreachable))
                    (i32.store8 (global.get $log) (i32.load8_u (local.get $p)))
                    (global.set $log (i32.add (global.get $log) (i32.const 1)))
                    (local.set $p (i32.add (local.get $p) (i32.const 1)))
                    (local.set $n (i32.sub (local.get $n) (i32.const 1)))
                    (br $next))))
            ;; Logs the length and the bytes of a pointer-size.
            (func $put_ps (param $ps i64)
                (call $put (i32.wrap_i64 (i64.shr_u (local.get $ps) (i64.const 32))))
                (call $put_bytes (i32.wrap_i64 (local.get $ps)) (i32.wrap_i64 (i64.shr_u (local.get $ps) (i64.const 32)))))
            ;; invoke, logging the code and the 10 bytes of the return buffer.
            (func $inv (param $i i32) (param $name i64) (param $args i64) (param $state i32)
                (i64.store (i32.const {RET}) (i64.const -1))
                (i64.store (i32.const {RET_8}) (i64.const -1))
                (call $put (call $invoke (local.get $i) (local.get $name) (local.get $args)
                    (i32.const {RET}) (i32.const 16) (local.get $state)))
                (call $put_bytes (i32.const {RET}) (i32.const 10)))
            (func $pack (param $ptr i32) (param $len i32) (result i64)
                (i64.or (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 32))
                        (i64.extend_i32_u (local.get $ptr))))
            ;; The dispatch thunk's result: pointer in the high half.
            (func $ret (param $ptr i32) (param $len i32) (result i64)
                (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
                        (i64.extend_i32_u (local.get $len))))
            ;; Ok(Value(I32(v))), allocated.
            (func $ok_i32 (param $v i32) (result i64)
                (local $out i32)
                (local.set $out (call $malloc (i32.const 7)))
                (i32.store16 (local.get $out) (i32.const 0x0100))
                (i32.store8 offset=2 (local.get $out) (i32.const 0))
                (i32.store offset=3 (local.get $out) (local.get $v))
                (call $ret (local.get $out) (i32.const 7)))

            (func $not_a_thunk (param i32))
            (func $dispatch (param $args i32) (param $len i32) (param $state i32) (param $f i32) (result i64)
                (local $out i32)
                (global.set $calls (i32.add (global.get $calls) (i32.const 1)))
                (global.set $last_state (local.get $state))
                ;; inc(i32) -> i32; the arguments are `04 00 <i32>`
                (if (i32.eq (local.get $f) (i32.const {INC})) (then
                    (if (i32.ne (local.get $len) (i32.const 6)) (then unreachable))
                    (return (call $ok_i32 (i32.add (i32.load offset=2 (local.get $args)) (i32.const 1))))))
                ;; assert(i32): Ok(Unit), or Err(HostError) for 0
                (if (i32.eq (local.get $f) (i32.const {ASSERT})) (then
                    (local.set $out (call $malloc (i32.const 2)))
                    (if (i32.load offset=2 (local.get $args))
                        (then
                            (i32.store16 (local.get $out) (i32.const 0))
                            (return (call $ret (local.get $out) (i32.const 2))))
                        (else
                            (i32.store8 (local.get $out) (i32.const 1))
                            (return (call $ret (local.get $out) (i32.const 1)))))))
                (if (i32.eq (local.get $f) (i32.const {SUPERVISOR_TRAP})) (then unreachable))
                ;; bytes that are no Result<ReturnValue, HostError>
                (if (i32.eq (local.get $f) (i32.const {BAD_RESULT})) (then
                    (local.set $out (call $malloc (i32.const 1)))
                    (i32.store8 (local.get $out) (i32.const 9))
                    (return (call $ret (local.get $out) (i32.const 1)))))
                ;; Ok(Value(I64(5))) for an import returning i32
                (if (i32.eq (local.get $f) (i32.const {WRONG_TYPE})) (then
                    (local.set $out (call $malloc (i32.const 11)))
                    (i32.store16 (local.get $out) (i32.const 0x0100))
                    (i32.store8 offset=2 (local.get $out) (i32.const 1))
                    (i64.store offset=3 (local.get $out) (i64.const 5))
                    (return (call $ret (local.get $out) (i32.const 11)))))
                ;; read_mem(addr): reads sandbox memory 0 with memory_get, from inside the thunk
                (if (i32.eq (local.get $f) (i32.const {READ_MEM})) (then
                    (if (call $memory_get (i32.const 0) (i32.load offset=2 (local.get $args)) (i32.const {SCRATCH}) (i32.const 4))
                        (then unreachable))
                    (return (call $ok_i32 (i32.load (i32.const {SCRATCH}))))))
                ;; nested(instance): invokes call_inc(41) on another instance, with state 0x99
                (if (i32.eq (local.get $f) (i32.const {NESTED})) (then
                    (return (call $ok_i32 (call $invoke (i32.load offset=2 (local.get $args)) (i64.const @call_inc)
                        (i64.const @a_inc41) (i32.const {NESTED_RET}) (i32.const 16) (i32.const 0x99))))))
                ;; read_storage(): reads a storage key, returns Ok(Unit)
                (if (i32.eq (local.get $f) (i32.const {READ_STORAGE})) (then
                    (drop (call $storage_get (i64.const @seen)))
                    (local.set $out (call $malloc (i32.const 2)))
                    (i32.store16 (local.get $out) (i32.const 0))
                    (return (call $ret (local.get $out) (i32.const 2)))))
                unreachable)

            (func (export "plain") (param i32 i32) (result i64) (i64.const 0))
            (func (export "run") (param $p i32) (param $l i32) (result i64)
                (local $i i32) (local $j i32) (local $m i32) (local $k i32)
                {body}
                (call $pack (i32.const 0x100) (i32.sub (global.get $log) (i32.const 0x100)))))"#,
            RET_8 = RET + 8,
            NESTED_RET = RET + 16,
        );
        let source = substitute(&source, &offsets);
        let wasm = wat::parse_str(&source).unwrap_or_else(|e| panic!("supervisor WAT: {e}\n{source}"));
        Executor::new(self.config.clone()).compile(&wasm, self.heap_pages).expect("supervisor compiles")
    }
}

/// Replaces every `@name` by the pointer-size of blob `name`.
fn substitute(source: &str, offsets: &std::collections::HashMap<String, u64>) -> String {
    let mut out = String::new();
    let mut rest = source;
    while let Some(at) = rest.find('@') {
        out.push_str(&rest[..at]);
        let name: String = rest[at + 1..].chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        let ps = offsets.get(&name).unwrap_or_else(|| panic!("no blob `{name}`"));
        out.push_str(&ps.to_string());
        rest = &rest[at + 1 + name.len()..];
    }
    out.push_str(rest);
    out
}

/// The output of a scenario, read in order.
struct Log {
    bytes: Vec<u8>,
    at: usize,
}

impl Log {
    fn new(bytes: Vec<u8>) -> Self {
        Log { bytes, at: 0 }
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        assert!(self.at + n <= self.bytes.len(), "log too short: {} + {n} > {}", self.at, self.bytes.len());
        let out = self.bytes[self.at..self.at + n].to_vec();
        self.at += n;
        out
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.bytes(4).try_into().unwrap())
    }

    /// A `$put_ps` entry.
    fn ps(&mut self) -> Vec<u8> {
        let len = self.u32() as usize;
        self.bytes(len)
    }

    /// An `$inv` entry: the code and the return buffer.
    fn invoke(&mut self) -> (u32, Option<ReturnValue>) {
        let code = self.u32();
        let buffer = self.bytes(10);
        if buffer == [0xff; 10] {
            return (code, None);
        }
        (code, Some(ReturnValue::decode(&mut &buffer[..]).expect("a ReturnValue")))
    }

    fn end(&self) {
        assert_eq!(self.at, self.bytes.len(), "unread log entries");
    }
}

fn run(module: &RuntimeModule) -> Log {
    Log::new(module.call("run", &[]).expect("the scenario runs"))
}

fn value(v: V) -> Option<ReturnValue> {
    Some(ReturnValue::Value(v))
}

/// Memory 0 with one page (at most 16) and the guest on it, as `$i`.
const SETUP: &str = r#"
    (call $put (call $memory_new (i32.const 1) (i32.const 16)))
    (local.set $i (call $instantiate (i32.const 1) (i64.const @guest) (i64.const @env) (i32.const 0)))
    (call $put (local.get $i))"#;

fn expect_setup(log: &mut Log) {
    assert_eq!(log.u32(), 0, "first memory");
    assert_eq!(log.u32(), 0, "first instance");
}

#[test]
fn instantiate_and_invoke_with_i32_i64_and_float_arguments() {
    let body = format!(
        r#"{SETUP}
        (call $inv (local.get $i) (i64.const @add) (i64.const @a_add) (i32.const 0))
        (call $inv (local.get $i) (i64.const @fmul) (i64.const @a_fmul) (i32.const 0))
        (call $inv (local.get $i) (i64.const @add) (i64.const @a_wrong_types) (i32.const 0))
        (call $inv (local.get $i) (i64.const @add) (i64.const @no_args) (i32.const 0))
        (call $inv (local.get $i) (i64.const @missing) (i64.const @no_args) (i32.const 0))
        (call $inv (local.get $i) (i64.const @g32) (i64.const @no_args) (i32.const 0))
        (call $inv (local.get $i) (i64.const @store) (i64.const @a_store) (i32.const 0))
        (call $inv (local.get $i) (i64.const @load) (i64.const @a_load) (i32.const 0))
        ;; The same code again: a second instance with its own globals but the same memory.
        (local.set $j (call $instantiate (i32.const 1) (i64.const @guest) (i64.const @env) (i32.const 0)))
        (call $put (local.get $j))
        (call $inv (local.get $j) (i64.const @load) (i64.const @a_load) (i32.const 0))"#
    );
    let module = Supervisor::default().build(
        &body,
        &[
            ("a_add", args(&[V::I32(-3), V::I64(1 << 40)])),
            ("a_fmul", args(&[V::F64(2.5f64.to_bits()), V::F32(4.0f32.to_bits())])),
            ("a_wrong_types", args(&[V::I32(1), V::I32(2)])),
            ("a_store", args(&[V::I32(8), V::I32(0x1234_5678)])),
            ("a_load", args(&[V::I32(8)])),
        ],
    );
    let mut log = run(&module);
    expect_setup(&mut log);
    assert_eq!(log.invoke(), (ERR_OK, value(V::I64((1 << 40) - 3))));
    assert_eq!(log.invoke(), (ERR_OK, value(V::F64(10.0f64.to_bits()))));
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "arguments of the wrong types");
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "too few arguments");
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "no such export");
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "not a function");
    assert_eq!(log.invoke(), (ERR_OK, None), "no result: the buffer is left alone");
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(0x1234_5678))));
    assert_eq!(log.u32(), 1, "second instance");
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(0x1234_5678))));
    log.end();
}

#[test]
fn imports_are_served_by_the_dispatch_thunk() {
    let body = format!(
        r#"{SETUP}
        (call $inv (local.get $i) (i64.const @call_inc) (i64.const @a_inc41) (i32.const 0x55))
        (call $put (global.get $calls))
        (call $put (global.get $last_state))
        (call $inv (local.get $i) (i64.const @check) (i64.const @a_one) (i32.const 0))
        (call $inv (local.get $i) (i64.const @check) (i64.const @a_zero) (i32.const 0))
        (call $inv (local.get $i) (i64.const @supervisor_trap) (i64.const @no_args) (i32.const 0))
        (call $inv (local.get $i) (i64.const @bad_result) (i64.const @no_args) (i32.const 0))
        (call $inv (local.get $i) (i64.const @wrong_type) (i64.const @no_args) (i32.const 0))
        ;; The supervisor goes on after a trap in its thunk.
        (call $inv (local.get $i) (i64.const @call_inc) (i64.const @a_one) (i32.const 7))
        (call $put (global.get $last_state))
        ;; The thunk reads the guest's memory with memory_get.
        (call $inv (local.get $i) (i64.const @store) (i64.const @a_store) (i32.const 0))
        (call $inv (local.get $i) (i64.const @read_mem) (i64.const @a_load) (i32.const 0))
        ;; The thunk invokes another instance, which calls the thunk again.
        (local.set $j (call $instantiate (i32.const 1) (i64.const @guest) (i64.const @env) (i32.const 0)))
        (call $inv (local.get $i) (i64.const @nested) (i64.const @a_nested) (i32.const 0x11))
        (call $put (global.get $last_state))
        (call $put_bytes (i32.const {NESTED_RET}) (i32.const 10))
        (call $put (global.get $calls))
        ;; Arguments and results of the thunk are freed: 1000 calls leave the heap as it was.
        (local.set $k (i32.const 1000))
        (loop $again
            (call $inv (local.get $i) (i64.const @call_inc) (i64.const @a_inc41) (i32.const 0))
            (global.set $log (i32.sub (global.get $log) (i32.const 14)))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br_if $again (local.get $k)))
        (call $put (call $malloc (i32.const 8)))"#,
        NESTED_RET = RET + 16
    );
    let module = Supervisor::default().build(
        &body,
        &[
            ("a_one", args(&[V::I32(1)])),
            ("a_zero", args(&[V::I32(0)])),
            ("a_store", args(&[V::I32(16), V::I32(0xbeef)])),
            ("a_load", args(&[V::I32(16)])),
            ("a_nested", args(&[V::I32(1)])),
        ],
    );
    let mut log = run(&module);
    expect_setup(&mut log);
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(42))));
    assert_eq!(log.u32(), 1, "thunk calls");
    assert_eq!(log.u32(), 0x55, "the state of the invoke reaches the thunk");
    assert_eq!(log.invoke(), (ERR_OK, None), "Ok(Unit)");
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "Err(HostError) traps the guest");
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "a trap in the thunk");
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "an undecodable result");
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "a result of the wrong type");
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(2))));
    assert_eq!(log.u32(), 7);
    assert_eq!(log.invoke(), (ERR_OK, None));
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(0xbeef))));
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(ERR_OK as i32))), "nested invoke");
    assert_eq!(log.u32(), 0x99, "the innermost invoke's state was seen last");
    assert_eq!(ReturnValue::decode(&mut &log.bytes(10)[..]).unwrap(), ReturnValue::Value(V::I32(42)));
    assert_eq!(log.u32(), 10, "thunk calls");
    let after = log.u32();
    assert!((HEAP_BASE..HEAP_BASE + 256).contains(&after), "the thunk's buffers leak: malloc gives {after:#x}");
    log.end();
}

#[test]
fn a_start_function_runs_with_the_instantiate_state() {
    let body = r#"
        (local.set $i (call $instantiate (i32.const 1) (i64.const @start_dispatch) (i64.const @env_inc) (i32.const 0x77)))
        (call $put (local.get $i))
        (call $put (global.get $last_state))
        (call $put_ps (call $get_global_val (local.get $i) (i64.const @seen)))"#;
    let module = Supervisor::default().build(
        body,
        &[("start_dispatch", wasm(START_DISPATCH)), ("env_inc", env_def(&[("inc", Entity::Function(INC))]))],
    );
    let mut log = run(&module);
    assert_eq!(log.u32(), 0);
    assert_eq!(log.u32(), 0x77);
    assert_eq!(log.ps(), Some(V::I32(10)).encode());
    log.end();
}

#[test]
fn memories_new_get_set_teardown_and_bounds() {
    let body = format!(
        r#"
        (local.set $m (call $memory_new (i32.const 1) (i32.const 2)))
        (call $put (local.get $m))
        (call $put (call $memory_new (i32.const 0) (i32.const {MEM_UNLIMITED})))
        (call $put (call $memory_set (local.get $m) (i32.const 65530) (i32.wrap_i64 (i64.const @text)) (i32.const 6)))
        (call $put (call $memory_get (local.get $m) (i32.const 65530) (i32.const {SCRATCH}) (i32.const 6)))
        (call $put_bytes (i32.const {SCRATCH}) (i32.const 6))
        (call $put (call $memory_set (local.get $m) (i32.const 65531) (i32.wrap_i64 (i64.const @text)) (i32.const 6)))
        (call $put (call $memory_get (local.get $m) (i32.const 65531) (i32.const {SCRATCH}) (i32.const 6)))
        (call $put (call $memory_get (local.get $m) (i32.const -1) (i32.const {SCRATCH}) (i32.const 2)))
        (call $put (call $memory_get (local.get $m) (i32.const 0) (i32.const -16) (i32.const 100)))
        (call $put (call $memory_set (local.get $m) (i32.const 0) (i32.const -16) (i32.const 100)))
        (call $put (call $memory_get (i32.const 1) (i32.const 0) (i32.const {SCRATCH}) (i32.const 0)))
        (call $put (call $memory_get (i32.const 1) (i32.const 0) (i32.const {SCRATCH}) (i32.const 1)))
        (call $put (call $memory_get (local.get $m) (i32.const 65536) (i32.const {SCRATCH}) (i32.const 0)))
        ;; The guest sees the memory, and the supervisor what the guest writes.
        (local.set $i (call $instantiate (i32.const 1) (i64.const @guest) (i64.const @env) (i32.const 0)))
        (call $put (local.get $i))
        (call $inv (local.get $i) (i64.const @load) (i64.const @a_load_text) (i32.const 0))
        (call $inv (local.get $i) (i64.const @store) (i64.const @a_store) (i32.const 0))
        (call $put (call $memory_get (local.get $m) (i32.const 100) (i32.const {SCRATCH}) (i32.const 4)))
        (call $put_bytes (i32.const {SCRATCH}) (i32.const 4))
        ;; Indices are not reused; the instance keeps a torn-down memory.
        (call $memory_teardown (i32.const 1))
        (call $put (call $memory_new (i32.const 1) (i32.const 1)))
        (call $memory_teardown (local.get $m))
        (call $inv (local.get $i) (i64.const @load) (i64.const @a_load) (i32.const 0))
        ;; An environment naming a torn-down memory is invalid.
        (call $put (call $instantiate (i32.const 1) (i64.const @guest) (i64.const @env) (i32.const 0)))"#
    );
    let module = Supervisor::default().build(
        &body,
        &[
            ("text", b"sandbx".to_vec()),
            ("a_load_text", args(&[V::I32(65530)])),
            ("a_store", args(&[V::I32(100), V::I32(0x0102_0304)])),
            ("a_load", args(&[V::I32(100)])),
        ],
    );
    let mut log = run(&module);
    assert_eq!(log.u32(), 0, "memory 0");
    assert_eq!(log.u32(), 1, "memory 1, without maximum");
    assert_eq!(log.u32(), ERR_OK, "set at the end");
    assert_eq!(log.u32(), ERR_OK, "get at the end");
    assert_eq!(log.bytes(6), b"sandbx");
    assert_eq!(log.u32(), ERR_OUT_OF_BOUNDS, "set one byte past the end");
    assert_eq!(log.u32(), ERR_OUT_OF_BOUNDS, "get one byte past the end");
    assert_eq!(log.u32(), ERR_OUT_OF_BOUNDS, "offset u32::MAX");
    assert_eq!(log.u32(), ERR_OUT_OF_BOUNDS, "get into supervisor memory out of bounds");
    assert_eq!(log.u32(), ERR_OUT_OF_BOUNDS, "set from supervisor memory out of bounds");
    assert_eq!(log.u32(), ERR_OK, "nothing from an empty memory");
    assert_eq!(log.u32(), ERR_OUT_OF_BOUNDS, "one byte from an empty memory");
    assert_eq!(log.u32(), ERR_OK, "nothing at the very end");
    assert_eq!(log.u32(), 0, "instance");
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(i32::from_le_bytes(*b"sand")))));
    assert_eq!(log.invoke(), (ERR_OK, None));
    assert_eq!(log.u32(), ERR_OK);
    assert_eq!(log.bytes(4), [4, 3, 2, 1]);
    assert_eq!(log.u32(), 2, "memory 2: indices are not reused");
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(0x0102_0304))));
    assert_eq!(log.u32(), ERR_MODULE);
    log.end();
}

#[test]
fn traps_invalid_modules_and_environments() {
    let body = format!(
        r#"{SETUP}
        (call $inv (local.get $i) (i64.const @trap) (i64.const @no_args) (i32.const 0))
        (call $inv (local.get $i) (i64.const @oob) (i64.const @no_args) (i32.const 0))
        (call $inv (local.get $i) (i64.const @recurse) (i64.const @a_zero) (i32.const 0))
        (call $put (call $instantiate (i32.const 1) (i64.const @not_wasm) (i64.const @env) (i32.const 0)))
        (call $put (call $instantiate (i32.const 1) (i64.const @simd) (i64.const @env) (i32.const 0)))
        (call $put (call $instantiate (i32.const 1) (i64.const @start_trap) (i64.const @env) (i32.const 0)))
        (call $put (call $instantiate (i32.const 1) (i64.const @unknown_import) (i64.const @env) (i32.const 0)))
        (call $put (call $instantiate (i32.const 1) (i64.const @table_import) (i64.const @env) (i32.const 0)))
        (call $put (call $instantiate (i32.const 1) (i64.const @global_import) (i64.const @env) (i32.const 0)))
        (call $put (call $instantiate (i32.const 1) (i64.const @guest) (i64.const @env_no_memory) (i32.const 0)))
        (call $put (call $instantiate (i32.const 1) (i64.const @guest) (i64.const @env_bad) (i32.const 0)))
        (call $put (call $instantiate (i32.const 1) (i64.const @guest) (i64.const @env_memory_7) (i32.const 0)))
        (call $put (call $instantiate (i32.const 1) (i64.const @big_memory) (i64.const @env) (i32.const 0)))
        ;; Failed instantiations take no index.
        (local.set $j (call $instantiate (i32.const 1) (i64.const @guest) (i64.const @env_unknown_function) (i32.const 0)))
        (call $put (local.get $j))
        (call $inv (local.get $j) (i64.const @call_inc) (i64.const @a_zero) (i32.const 0))
        (call $inv (local.get $i) (i64.const @call_inc) (i64.const @a_zero) (i32.const 0))"#
    );
    let functions_only = env_def(&[("inc", Entity::Function(INC))]);
    let module = Supervisor::default().build(
        &body,
        &[
            ("a_zero", args(&[V::I32(0)])),
            ("not_wasm", b"\0asm\x01\0\0\0 surely not".to_vec()),
            ("simd", wasm("(module (func (result v128) (v128.const i64x2 0 0)))")),
            ("start_trap", wasm("(module (func $s unreachable) (start $s))")),
            ("unknown_import", wasm(r#"(module (import "env" "nope" (func)))"#)),
            ("table_import", wasm(r#"(module (import "env" "inc" (table 1 funcref)))"#)),
            ("global_import", wasm(r#"(module (import "env" "inc" (global i32)))"#)),
            ("big_memory", wasm(r#"(module (import "env" "memory" (memory 2)))"#)),
            ("env_no_memory", functions_only),
            ("env_bad", vec![0x04]),
            ("env_memory_7", env_def(&[("memory", Entity::Memory(7)), ("inc", Entity::Function(INC))])),
            (
                "env_unknown_function",
                env_def(&[
                    ("memory", Entity::Memory(0)),
                    ("inc", Entity::Function(42)),
                    ("assert", Entity::Function(ASSERT)),
                    ("supervisor_trap", Entity::Function(SUPERVISOR_TRAP)),
                    ("bad_result", Entity::Function(BAD_RESULT)),
                    ("wrong_type", Entity::Function(WRONG_TYPE)),
                    ("read_mem", Entity::Function(READ_MEM)),
                    ("nested", Entity::Function(NESTED)),
                    ("read_storage", Entity::Function(READ_STORAGE)),
                ]),
            ),
        ],
    );
    let mut log = run(&module);
    expect_setup(&mut log);
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "unreachable");
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "out-of-bounds load");
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "stack overflow");
    assert_eq!(log.u32(), ERR_MODULE, "not a module");
    assert_eq!(log.u32(), ERR_MODULE, "SIMD is not enabled");
    assert_eq!(log.u32(), ERR_EXECUTION, "start function traps");
    assert_eq!(log.u32(), ERR_MODULE, "import not in the environment");
    assert_eq!(log.u32(), ERR_MODULE, "table import");
    assert_eq!(log.u32(), ERR_MODULE, "global import");
    assert_eq!(log.u32(), ERR_MODULE, "memory import not in the environment");
    assert_eq!(log.u32(), ERR_MODULE, "undecodable environment");
    assert_eq!(log.u32(), ERR_MODULE, "environment names a missing memory");
    assert_eq!(log.u32(), ERR_MODULE, "memory smaller than the import asks");
    assert_eq!(log.u32(), 1, "the next successful instance");
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "the thunk knows no function 42");
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(1))), "the first instance still works");
    log.end();
}

#[test]
fn get_global_val_reads_exported_globals() {
    let body = format!(
        r#"{SETUP}
        (call $put_ps (call $get_global_val (local.get $i) (i64.const @g32)))
        (call $put_ps (call $get_global_val (local.get $i) (i64.const @g64)))
        (call $inv (local.get $i) (i64.const @set_g64) (i64.const @a_99) (i32.const 0))
        (call $put_ps (call $get_global_val (local.get $i) (i64.const @g64)))
        (call $put_ps (call $get_global_val (local.get $i) (i64.const @gf32)))
        (call $put_ps (call $get_global_val (local.get $i) (i64.const @gf64)))
        (call $put_ps (call $get_global_val (local.get $i) (i64.const @missing)))
        (call $put_ps (call $get_global_val (local.get $i) (i64.const @add)))"#
    );
    let module = Supervisor::default().build(&body, &[("a_99", args(&[V::I64(99)]))]);
    let mut log = run(&module);
    expect_setup(&mut log);
    assert_eq!(log.ps(), Some(V::I32(42)).encode());
    assert_eq!(log.ps(), Some(V::I64(-7)).encode());
    assert_eq!(log.invoke(), (ERR_OK, None));
    assert_eq!(log.ps(), Some(V::I64(99)).encode());
    assert_eq!(log.ps(), Some(V::F32(1.5f32.to_bits())).encode());
    assert_eq!(log.ps(), Some(V::F64((-2.25f64).to_bits())).encode());
    assert_eq!(log.ps(), None::<V>.encode(), "no such export");
    assert_eq!(log.ps(), None::<V>.encode(), "not a global");
    log.end();
}

/// The host-function failure of a call that must fail: the function's name and the message.
fn host_failure(module: &RuntimeModule, input: &[u8]) -> (&'static str, String) {
    match module.call("run", input) {
        Err(ExecutorError::Host(
            error @ (HostError::Failed { function, .. } | HostError::MemoryAccess { function, .. }),
        )) => (function, error.to_string()),
        other => panic!("expected a host function failure, got {other:?}"),
    }
}

#[test]
fn misuse_traps_the_call_without_harming_later_calls() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "(call $instance_teardown (local.get $i)) (call $inv (local.get $i) (i64.const @add) (i64.const @no_args) (i32.const 0))",
            "ext_sandbox_invoke_version_1",
            "torn down",
        ),
        (
            "(call $instance_teardown (local.get $i)) (call $instance_teardown (local.get $i))",
            "ext_sandbox_instance_teardown_version_1",
            "already torn down",
        ),
        ("(call $instance_teardown (i32.const 5))", "ext_sandbox_instance_teardown_version_1", "no sandbox instance 5"),
        (
            "(call $inv (i32.const 3) (i64.const @add) (i64.const @no_args) (i32.const 0))",
            "ext_sandbox_invoke_version_1",
            "no sandbox instance 3",
        ),
        (
            "(call $instance_teardown (local.get $i)) (drop (call $get_global_val (local.get $i) (i64.const @g32)))",
            "ext_sandbox_get_global_val_version_1",
            "torn down",
        ),
        (
            "(call $memory_teardown (i32.const 0)) (call $memory_teardown (i32.const 0))",
            "ext_sandbox_memory_teardown_version_1",
            "already torn down",
        ),
        (
            "(call $memory_teardown (i32.const 0)) (drop (call $memory_get (i32.const 0) (i32.const 0) (i32.const 0) (i32.const 0)))",
            "ext_sandbox_memory_get_version_1",
            "torn down",
        ),
        (
            "(drop (call $memory_set (i32.const 9) (i32.const 0) (i32.const 0) (i32.const 0)))",
            "ext_sandbox_memory_set_version_1",
            "no sandbox memory 9",
        ),
        ("(drop (call $memory_new (i32.const 2) (i32.const 1)))", "ext_sandbox_memory_new_version_1", "invalid memory limits"),
        (
            "(drop (call $memory_new (i32.const 65537) (i32.const -1)))",
            "ext_sandbox_memory_new_version_1",
            "invalid memory limits",
        ),
        (
            "(call $inv (local.get $i) (i64.const @add) (i64.const @a_bad) (i32.const 0))",
            "ext_sandbox_invoke_version_1",
            "cannot decode the arguments",
        ),
        (
            "(call $inv (local.get $i) (i64.const @not_utf8) (i64.const @no_args) (i32.const 0))",
            "ext_sandbox_invoke_version_1",
            "not UTF-8",
        ),
        (
            "(drop (call $invoke (local.get $i) (i64.const @add) (i64.const @a_add) (i32.const 0) (i32.const 9) (i32.const 0)))",
            "ext_sandbox_invoke_version_1",
            "return value buffer too small",
        ),
        (
            "(drop (call $invoke (local.get $i) (i64.const @add) (i64.const @a_add) (i32.const -4) (i32.const 16) (i32.const 0)))",
            "ext_sandbox_invoke_version_1",
            "out of bounds",
        ),
        (
            "(drop (call $instantiate (i32.const 0) (i64.const @guest) (i64.const @env) (i32.const 0)))",
            "ext_sandbox_instantiate_version_1",
            "is not a function",
        ),
        (
            "(drop (call $instantiate (i32.const 3) (i64.const @guest) (i64.const @env) (i32.const 0)))",
            "ext_sandbox_instantiate_version_1",
            "out of the table",
        ),
    ];
    for (case, function, reason) in cases {
        let module = Supervisor::default().build(
            &format!("{SETUP} {case}"),
            &[("a_bad", vec![0x04, 0x07]), ("a_add", args(&[V::I32(1), V::I64(2)])), ("not_utf8", vec![0xff, 0xfe])],
        );
        let (failed, message) = host_failure(&module, &[]);
        assert_eq!(failed, *function, "{case}: {message}");
        assert!(message.contains(reason), "{case}: `{message}` does not mention `{reason}`");
        // The module stays usable, and the next call starts with a fresh sandbox.
        assert_eq!(module.call("plain", &[]).unwrap(), b"");
        assert_eq!(host_failure(&module, &[]), (failed, message));
    }
}

#[test]
fn a_dispatch_thunk_of_the_wrong_type_fails_the_guest_not_the_call() {
    let body = r#"
        (call $put (call $memory_new (i32.const 1) (i32.const 16)))
        (local.set $i (call $instantiate (i32.const 2) (i64.const @guest) (i64.const @env) (i32.const 0)))
        (call $put (local.get $i))
        (call $inv (local.get $i) (i64.const @call_inc) (i64.const @a_inc41) (i32.const 0))
        (call $inv (local.get $i) (i64.const @add) (i64.const @a_add) (i32.const 0))"#;
    let module = Supervisor::default().build(body, &[("a_add", args(&[V::I32(1), V::I64(2)]))]);
    let mut log = run(&module);
    expect_setup(&mut log);
    assert_eq!(log.invoke(), (ERR_EXECUTION, None));
    assert_eq!(log.invoke(), (ERR_OK, value(V::I64(3))));
    log.end();
}

#[test]
fn a_supervisor_without_an_exported_table_cannot_instantiate() {
    let supervisor = Supervisor { table_exported: false, ..Supervisor::default() };
    let module = supervisor.build(SETUP, &[]);
    let (function, reason) = host_failure(&module, &[]);
    assert_eq!(function, "ext_sandbox_instantiate_version_1");
    assert!(reason.contains("no function table"), "{reason}");
}

#[test]
fn sandbox_state_ends_with_the_call_and_such_instances_are_not_pooled() {
    // With input: invoke instance 0 without creating it.
    let body = format!(
        "(if (local.get $l)
            (then (call $inv (i32.const 0) (i64.const @add) (i64.const @no_args) (i32.const 0)))
            (else {SETUP}))"
    );
    let module = Supervisor::default().build(&body, &[]);
    assert_eq!(module.call("plain", &[]).unwrap(), b"");
    assert_eq!(module.pooled_instances(), 1);
    let mut log = run(&module);
    expect_setup(&mut log);
    log.end();
    assert_eq!(module.pooled_instances(), 0, "an instance whose store holds sandbox objects is dropped");
    // The next call does not see the instance, and starts from index 0 again.
    let (function, message) = host_failure(&module, b"x");
    assert_eq!(function, "ext_sandbox_invoke_version_1");
    assert!(message.ends_with("no sandbox instance 0"), "{message}");
    let mut log = run(&module);
    expect_setup(&mut log);
    log.end();
}

#[test]
fn dispatch_thunk_traps_do_not_leak_call_depth() {
    // Each trap in the thunk unwinds supervisor frames without their
    // epilogues; the host restores the remaining depth.
    let supervisor = Supervisor {
        config: ExecutorConfig { max_call_depth: Some(100), ..ExecutorConfig::default() },
        ..Supervisor::default()
    };
    let body = format!(
        r#"{SETUP}
        (local.set $k (i32.const 500))
        (loop $again
            (if (i32.ne (call $invoke (local.get $i) (i64.const @supervisor_trap) (i64.const @no_args)
                            (i32.const {RET}) (i32.const 16) (i32.const 0))
                        (i32.const {ERR_EXECUTION}))
                (then unreachable))
            (local.set $k (i32.sub (local.get $k) (i32.const 1)))
            (br_if $again (local.get $k)))"#
    );
    let module = supervisor.build(&body, &[]);
    let mut log = run(&module);
    expect_setup(&mut log);
    log.end();
}

#[test]
fn limits_on_objects_and_code_size() {
    // 1024 memories per call, then ERR_MODULE.
    let body = r#"
        (local.set $k (i32.const 0))
        (loop $again
            (local.set $m (call $memory_new (i32.const 0) (i32.const 0)))
            (if (i32.ne (local.get $m) (local.get $k)) (then unreachable))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $again (i32.lt_u (local.get $k) (i32.const 1024))))
        (call $put (call $memory_new (i32.const 0) (i32.const 0)))"#;
    let mut log = run(&Supervisor::default().build(body, &[]));
    assert_eq!(log.u32(), ERR_MODULE);
    log.end();

    // 1024 instantiations per call (failed ones count), then ERR_MODULE.
    let body = r#"
        (local.set $k (i32.const 0))
        (loop $again
            (local.set $i (call $instantiate (i32.const 1) (i64.const @tiny) (i64.const @no_args) (i32.const 0)))
            (if (i32.ne (local.get $i) (local.get $k)) (then unreachable))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $again (i32.lt_u (local.get $k) (i32.const 1000))))
        (local.set $k (i32.const 0))
        (loop $again
            (if (i32.ne (call $instantiate (i32.const 1) (i64.const @trapping) (i64.const @no_args) (i32.const 0))
                        (i32.const {ERR_EXECUTION}))
                (then unreachable))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br_if $again (i32.lt_u (local.get $k) (i32.const 24))))
        (call $put (call $instantiate (i32.const 1) (i64.const @tiny) (i64.const @no_args) (i32.const 0)))
        (call $inv (i32.const 999) (i64.const @f) (i64.const @no_args) (i32.const 0))"#
        .replace("{ERR_EXECUTION}", &ERR_EXECUTION.to_string());
    let module = Supervisor::default().build(
        &body,
        &[
            ("tiny", wasm(r#"(module (func (export "f") (result i32) (i32.const 5)))"#)),
            ("trapping", wasm("(module (func $s unreachable) (start $s))")),
            ("f", b"f".to_vec()),
        ],
    );
    let mut log = run(&module);
    assert_eq!(log.u32(), ERR_MODULE);
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(5))));
    log.end();

    // Code larger than 8 MiB is refused without being compiled; out of bounds it traps.
    let big = (9u64 << 20) << 32 | u64::from(HEAP_BASE);
    let body = format!(
        "(call $put (call $memory_new (i32.const 1) (i32.const 16)))
         (call $put (call $instantiate (i32.const 1) (i64.const {big}) (i64.const @env) (i32.const 0)))"
    );
    let supervisor = Supervisor { heap_pages: 256, ..Supervisor::default() };
    let mut log = run(&supervisor.build(&body, &[]));
    assert_eq!(log.u32(), 0);
    assert_eq!(log.u32(), ERR_MODULE);
    log.end();
    let module = Supervisor::default().build(&body, &[]);
    assert!(
        matches!(
            module.call("run", &[]),
            Err(ExecutorError::Host(HostError::MemoryAccess { function: "ext_sandbox_instantiate_version_1", .. }))
        ),
        "9 MiB of code past the end of memory"
    );
}

#[test]
fn fixture_runtimes_importing_the_sandbox_link_it() {
    let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/runtimes/");
    for file in ["gossamer-node_runtime.compact.wasm", "kagome-sub2dev.wasm"] {
        let code = std::fs::read(format!("{fixtures}{file}")).unwrap();
        let module = Executor::default().compile(&code, DEFAULT_HEAP_PAGES).unwrap_or_else(|e| panic!("{file}: {e}"));
        let stubbed = module.stubbed_imports();
        assert!(!stubbed.iter().any(|name| name.starts_with("ext_sandbox_")), "{file}: stubbed {stubbed:?}");
        let version = module.core_version().unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(version.spec_name, "node", "{file}");
    }
}

/// A state backend that cannot answer (a storage proof lacking nodes, say).
struct FailingBackend;

impl StateBackend for FailingBackend {
    fn storage(&self, _: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Err(StateError("missing trie node".into()))
    }
    fn child_storage(&self, _: &[u8], _: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Err(StateError("missing trie node".into()))
    }
    fn next_key(&self, _: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Err(StateError("missing trie node".into()))
    }
    fn child_next_key(&self, _: &[u8], _: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        Err(StateError("missing trie node".into()))
    }
    fn storage_root(&self, _: &Delta<'_>, _: StateVersion) -> Result<[u8; 32], StateError> {
        Err(StateError("missing trie node".into()))
    }
    fn child_storage_root(&self, _: &[u8], _: &Delta<'_>, _: StateVersion) -> Result<[u8; 32], StateError> {
        Err(StateError("missing trie node".into()))
    }
}

#[test]
fn a_state_backend_failure_in_the_thunk_fails_the_call() {
    let body = format!(
        r#"{SETUP}
        (call $inv (local.get $i) (i64.const @read_storage) (i64.const @no_args) (i32.const 0))"#
    );
    let module = Supervisor::default().build(&body, &[]);
    // On a state that answers, the guest's import returns normally.
    let mut log = run(&module);
    expect_setup(&mut log);
    assert_eq!(log.invoke(), (ERR_OK, None));
    log.end();
    // A backend failure is not the runtime's doing: the call fails rather than
    // the guest getting ERR_EXECUTION.
    let mut ext = Externalities::new(Arc::new(FailingBackend));
    match module.call_with("run", &[], &mut ext) {
        Err(ExecutorError::Host(HostError::State { function, error })) => {
            assert_eq!(function, "ext_storage_get_version_1");
            assert_eq!(error, StateError("missing trie node".into()));
        }
        other => panic!("expected the state error, got {other:?}"),
    }
}

#[test]
fn a_guest_can_call_its_imports_through_its_table() {
    // The guest's function types are numbered unlike the supervisor's.
    let guest = wasm(
        r#"(module
        (type $x (func (param f64 f64 f64) (result f32)))
        (type $u (func (param i64 i64) (result i64)))
        (type $t (func (param i32)))
        (type $i (func (param i32) (result i32)))
        (import "env" "assert" (func $assert (type $t)))
        (import "env" "inc" (func $inc (type $i)))
        (table 3 funcref)
        (elem (i32.const 0) $assert $inc $local)
        (func $local (type $i) (i32.add (local.get 0) (i32.const 100)))
        (func (export "check") (param i32) (call_indirect (type $t) (local.get 0) (i32.const 0)))
        (func (export "call") (param i32 i32) (result i32) (call_indirect (type $i) (local.get 1) (local.get 0)))
        (func (export "direct") (param i32) (call $assert (local.get 0))))"#,
    );
    let body = r#"
        (local.set $i (call $instantiate (i32.const 1) (i64.const @g) (i64.const @e) (i32.const 0)))
        (call $put (local.get $i))
        (call $inv (local.get $i) (i64.const @direct) (i64.const @a1) (i32.const 0))
        (call $inv (local.get $i) (i64.const @check) (i64.const @a1) (i32.const 0))
        (call $inv (local.get $i) (i64.const @check) (i64.const @a0) (i32.const 0))
        (call $inv (local.get $i) (i64.const @call) (i64.const @a_inc) (i32.const 0))
        (call $inv (local.get $i) (i64.const @call) (i64.const @a_local) (i32.const 0))
        (call $inv (local.get $i) (i64.const @call) (i64.const @a_wrong) (i32.const 0))
        (call $put (global.get $calls))"#;
    let module = Supervisor::default().build(
        body,
        &[
            ("g", guest),
            ("e", env_def(&[("assert", Entity::Function(ASSERT)), ("inc", Entity::Function(INC))])),
            ("direct", b"direct".to_vec()),
            ("call", b"call".to_vec()),
            ("a0", args(&[V::I32(0)])),
            ("a1", args(&[V::I32(1)])),
            ("a_inc", args(&[V::I32(1), V::I32(5)])),
            ("a_local", args(&[V::I32(2), V::I32(5)])),
            ("a_wrong", args(&[V::I32(0), V::I32(5)])),
        ],
    );
    let mut log = run(&module);
    assert_eq!(log.u32(), 0);
    assert_eq!(log.invoke(), (ERR_OK, None));
    assert_eq!(log.invoke(), (ERR_OK, None), "imported function through the table");
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "Err(HostError) through the table");
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(6))));
    assert_eq!(log.invoke(), (ERR_OK, value(V::I32(105))));
    assert_eq!(log.invoke(), (ERR_EXECUTION, None), "a signature mismatch still traps");
    assert_eq!(log.u32(), 4, "thunk calls");
    log.end();
}

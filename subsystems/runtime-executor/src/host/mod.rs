//! Host functions given to the runtime, and the per-call state they work on.
//!
//! The ABI is Substrate's: a pointer is an `i32`, a *pointer-size* an `i64`
//! packing `len << 32 | ptr`; structured arguments and results are SCALE
//! encoded; results the host produces (hashes, encoded options...) are
//! written into memory obtained from the runtime's own allocator.
//!
//! Every function whose failure Substrate reports with a panic (bad pointers,
//! undecodable arguments, a commit without a transaction, a missing offchain
//! context...) traps the call here with a [`HostError`]. Imports the runtime
//! asks for that are not in `IMPLEMENTED` are stubs that trap only if
//! called.

mod crypto;
mod misc;
mod sandbox;
mod storage;

pub(crate) use sandbox::SandboxState;

/// The SCALE `RuntimeVersion` of runtime code (custom sections, else `Core_version` with `executor`).
pub(crate) use misc::version_of_code as encoded_version_of_code;

use crate::allocator::{AllocatorError, FreeingBumpAllocator, HeapMemory};
use crate::externalities::Externalities;
use crate::overlay::StateError;
use parity_scale_codec::{Decode, Encode};
use wasmer::{AsStoreMut, AsStoreRef, Function, FunctionEnv, FunctionEnvMut, Memory, Store, StoreMut, Type};

/// An error raised by a host function; it traps the runtime and is returned
/// to the caller of the runtime call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    #[error("host function `{0}` not implemented")]
    NotImplemented(String),
    /// A host function the executor's [`crate::HostFunctionSet`] excludes
    /// (for a PVF: storage, child storage, offchain, keystore...).
    #[error("host function `{0}` is not available to parachain validation functions (no storage, offchain or keystore access)")]
    NotAllowed(String),
    #[error("host function `{function}` failed: {error}")]
    Allocator { function: &'static str, error: AllocatorError },
    #[error("host function `{function}` accessed memory out of bounds (ptr {ptr:#x}, len {len})")]
    MemoryAccess { function: &'static str, ptr: u32, len: u32 },
    #[error("host function `{0}` called while no runtime call is in progress")]
    NoCallState(&'static str),
    /// The runtime panicked and reported it through `ext_panic_handler_abort_on_panic`.
    #[error("runtime panicked: {0}")]
    RuntimePanicked(String),
    /// The state backend could not answer.
    #[error("host function `{function}`: {error}")]
    State { function: &'static str, error: StateError },
    /// Any other misuse of a host function (Substrate panics in these cases).
    #[error("host function `{function}` failed: {reason}")]
    Failed { function: &'static str, reason: String },
}

/// A host function this executor implements.
pub(crate) struct HostFunctionDef {
    pub(crate) name: &'static str,
    pub(crate) params: &'static [Type],
    pub(crate) results: &'static [Type],
    pub(crate) make: fn(&mut Store, &FunctionEnv<HostState>) -> Function,
}

/// State of one runtime call, shared by the host functions.
#[derive(Default)]
pub(crate) struct HostState {
    pub(crate) memory: Option<Memory>,
    pub(crate) allocator: Option<FreeingBumpAllocator>,
    /// The call's externalities, moved in for the duration of the call.
    pub(crate) ext: Externalities,
    /// Overlay transaction depth when the runtime got control: the runtime
    /// cannot commit or roll back below it.
    pub(crate) transaction_base: usize,
    /// `Some(all_ok)` between `start_batch_verify` and `finish_batch_verify`.
    pub(crate) batch_verify: Option<bool>,
    /// The executor `ext_misc_runtime_version` compiles other code with when
    /// it has no version sections; `None` (PVFs): custom sections only.
    pub(crate) nested_executor: Option<crate::Executor>,
    /// Sandboxed instances and memories of the call (`ext_sandbox_*`).
    pub(crate) sandbox: SandboxState,
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

/// Reads `len` bytes at `ptr`, bounds-checked (before allocating). Reads straight
/// into the result: wasmer's `copy_range_to_vec` zeroes a 40 KiB stack buffer on
/// every call, which was a fifth of a block's execution time.
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
    let mut bytes = vec![0; len as usize];
    view.read(start, &mut bytes).map_err(|_| HostError::MemoryAccess { function, ptr, len })?;
    Ok(bytes)
}

/// Splits a pointer-size (`len << 32 | ptr`).
pub(crate) fn unpack_ptr_len(value: i64) -> (u32, u32) {
    let value = value as u64;
    (value as u32, (value >> 32) as u32)
}

/// Packs a pointer-size.
pub(crate) fn pack_ptr_len(ptr: u32, len: u32) -> i64 {
    ((u64::from(len) << 32) | u64::from(ptr)) as i64
}

/// A host function's view of the call: memory, allocator and externalities.
pub(crate) struct Ctx<'a> {
    pub(crate) name: &'static str,
    pub(crate) state: &'a mut HostState,
    store: StoreMut<'a>,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(env: &'a mut FunctionEnvMut<'_, HostState>, name: &'static str) -> Self {
        let (state, store) = env.data_and_store_mut();
        Ctx { name, state, store }
    }

    fn memory(&self) -> Result<Memory, HostError> {
        self.state.memory.clone().ok_or(HostError::NoCallState(self.name))
    }

    /// A failure with a reason (traps the call).
    pub(crate) fn fail(&self, reason: impl Into<String>) -> HostError {
        HostError::Failed { function: self.name, reason: reason.into() }
    }

    /// A state backend failure (traps the call).
    pub(crate) fn state_error(&self, error: StateError) -> HostError {
        HostError::State { function: self.name, error }
    }

    /// Reads `len` bytes at `ptr`.
    pub(crate) fn read(&self, ptr: u32, len: u32) -> Result<Vec<u8>, HostError> {
        read_memory(&self.memory()?, &self.store, ptr, len, self.name)
    }

    /// Reads the bytes a pointer-size designates.
    pub(crate) fn read_ps(&self, ptr_size: i64) -> Result<Vec<u8>, HostError> {
        let (ptr, len) = unpack_ptr_len(ptr_size);
        self.read(ptr, len)
    }

    /// Reads and SCALE-decodes (all bytes must be consumed) the bytes of a pointer-size.
    pub(crate) fn decode_ps<T: Decode>(&self, ptr_size: i64) -> Result<T, HostError> {
        let bytes = self.read_ps(ptr_size)?;
        let mut input = &bytes[..];
        let value = T::decode(&mut input).map_err(|e| self.fail(format!("cannot decode argument: {e}")))?;
        Ok(value)
    }

    /// Reads `N` bytes at a pointer.
    pub(crate) fn read_array<const N: usize>(&self, ptr: i32) -> Result<[u8; N], HostError> {
        let bytes = self.read(ptr as u32, N as u32)?;
        let mut out = [0u8; N];
        out.copy_from_slice(&bytes);
        Ok(out)
    }

    /// Writes `data` at `ptr`, bounds-checked.
    pub(crate) fn write(&mut self, ptr: u32, data: &[u8]) -> Result<(), HostError> {
        let memory = self.memory()?;
        let view = memory.view(&self.store);
        let len = u32::try_from(data.len()).map_err(|_| self.fail("output too large"))?;
        if u64::from(ptr) + u64::from(len) > view.data_size() {
            return Err(HostError::MemoryAccess { function: self.name, ptr, len });
        }
        view.write(u64::from(ptr), data).map_err(|_| HostError::MemoryAccess { function: self.name, ptr, len })
    }

    /// Allocates `len` bytes with the runtime's allocator.
    pub(crate) fn allocate(&mut self, len: u32) -> Result<u32, HostError> {
        let memory = self.memory()?;
        let allocator = self.state.allocator.as_mut().ok_or(HostError::NoCallState(self.name))?;
        let mut heap = WasmerHeap { memory: &memory, store: &mut self.store };
        allocator.allocate(&mut heap, len).map_err(|error| HostError::Allocator { function: self.name, error })
    }

    /// Frees memory of the runtime's allocator.
    pub(crate) fn deallocate(&mut self, ptr: u32) -> Result<(), HostError> {
        let memory = self.memory()?;
        let allocator = self.state.allocator.as_mut().ok_or(HostError::NoCallState(self.name))?;
        let mut heap = WasmerHeap { memory: &memory, store: &mut self.store };
        allocator.deallocate(&mut heap, ptr).map_err(|error| HostError::Allocator { function: self.name, error })
    }

    /// Copies `data` into newly allocated memory and returns its pointer.
    pub(crate) fn return_ptr(&mut self, data: &[u8]) -> Result<i32, HostError> {
        let len = u32::try_from(data.len()).map_err(|_| self.fail("output too large"))?;
        let ptr = self.allocate(len)?;
        self.write(ptr, data)?;
        Ok(ptr as i32)
    }

    /// Copies `data` into newly allocated memory and returns its pointer-size.
    pub(crate) fn return_bytes(&mut self, data: &[u8]) -> Result<i64, HostError> {
        let len = u32::try_from(data.len()).map_err(|_| self.fail("output too large"))?;
        let ptr = self.allocate(len)?;
        self.write(ptr, data)?;
        Ok(pack_ptr_len(ptr, len))
    }

    /// SCALE-encodes `value` into newly allocated memory and returns its pointer-size.
    pub(crate) fn return_encoded<T: Encode + ?Sized>(&mut self, value: &T) -> Result<i64, HostError> {
        let encoded = value.encode();
        self.return_bytes(&encoded)
    }

    /// The call's externalities.
    pub(crate) fn ext(&mut self) -> &mut Externalities {
        &mut self.state.ext
    }
}

macro_rules! wasm_type {
    (i32) => {
        Type::I32
    };
    (i64) => {
        Type::I64
    };
}

macro_rules! result_type {
    () => {
        ()
    };
    ($ret:ident) => {
        $ret
    };
}

/// Calls the Rust function of a host function: with a [`Ctx`], or with
/// `@env` with the `FunctionEnvMut` itself (for functions that call back
/// into Wasm, which must not hold the call state meanwhile).
macro_rules! call_host {
    (env; $env:ident, $name:ident, $imp:path; $($arg:ident),*) => {
        $imp(&mut $env, $($arg),*)
    };
    (; $env:ident, $name:ident, $imp:path; $($arg:ident),*) => {{
        let mut ctx = Ctx::new(&mut $env, stringify!($name));
        $imp(&mut ctx, $($arg),*)
    }};
}

/// Declares [`IMPLEMENTED`]: each entry names the import, its Wasm
/// signature, and the Rust function implementing it, which receives a
/// [`Ctx`] (or, marked `@env`, the `FunctionEnvMut`) and the raw arguments.
macro_rules! host_functions {
    ($( $name:ident ( $($arg:ident : $ty:ident),* ) $(-> $ret:ident)? => $(@$mode:ident)? $imp:path ; )*) => {
        /// Host functions this executor implements, with their Wasm signatures.
        pub(crate) const IMPLEMENTED: &[HostFunctionDef] = &[
            $(HostFunctionDef {
                name: stringify!($name),
                params: &[$(wasm_type!($ty)),*],
                results: &[$(wasm_type!($ret))?],
                make: |store, env| {
                    Function::new_typed_with_env(
                        store,
                        env,
                        |mut env: FunctionEnvMut<HostState>, $($arg: $ty),*| -> Result<result_type!($($ret)?), HostError> {
                            call_host!($($mode)?; env, $name, $imp; $($arg),*)
                        },
                    )
                },
            },)*
        ];
    };
}

host_functions! {
    // Allocator and logging.
    ext_allocator_malloc_version_1(size: i32) -> i32 => misc::malloc;
    ext_allocator_free_version_1(ptr: i32) => misc::free;
    ext_logging_log_version_1(level: i32, target: i64, message: i64) => misc::log;
    ext_logging_max_level_version_1() -> i32 => misc::max_level;
    ext_panic_handler_abort_on_panic_version_1(message: i64) => misc::abort_on_panic;

    // Storage.
    ext_storage_set_version_1(key: i64, value: i64) => storage::set;
    ext_storage_get_version_1(key: i64) -> i64 => storage::get;
    ext_storage_read_version_1(key: i64, out: i64, offset: i32) -> i64 => storage::read;
    ext_storage_clear_version_1(key: i64) => storage::clear;
    ext_storage_exists_version_1(key: i64) -> i32 => storage::exists;
    ext_storage_clear_prefix_version_1(prefix: i64) => storage::clear_prefix_v1;
    ext_storage_clear_prefix_version_2(prefix: i64, limit: i64) -> i64 => storage::clear_prefix_v2;
    ext_storage_append_version_1(key: i64, value: i64) => storage::append;
    ext_storage_root_version_1() -> i64 => storage::root_v1;
    ext_storage_root_version_2(version: i32) -> i64 => storage::root_v2;
    ext_storage_changes_root_version_1(parent_hash: i64) -> i64 => storage::changes_root;
    ext_storage_next_key_version_1(key: i64) -> i64 => storage::next_key;
    ext_storage_start_transaction_version_1() => storage::start_transaction;
    ext_storage_rollback_transaction_version_1() => storage::rollback_transaction;
    ext_storage_commit_transaction_version_1() => storage::commit_transaction;
    ext_storage_proof_size_storage_proof_size_version_1() -> i64 => storage::proof_size;

    // Default child storage.
    ext_default_child_storage_get_version_1(child: i64, key: i64) -> i64 => storage::child_get;
    ext_default_child_storage_read_version_1(child: i64, key: i64, out: i64, offset: i32) -> i64 => storage::child_read;
    ext_default_child_storage_set_version_1(child: i64, key: i64, value: i64) => storage::child_set;
    ext_default_child_storage_clear_version_1(child: i64, key: i64) => storage::child_clear;
    ext_default_child_storage_exists_version_1(child: i64, key: i64) -> i32 => storage::child_exists;
    ext_default_child_storage_storage_kill_version_1(child: i64) => storage::child_kill_v1;
    ext_default_child_storage_storage_kill_version_2(child: i64, limit: i64) -> i32 => storage::child_kill_v2;
    ext_default_child_storage_storage_kill_version_3(child: i64, limit: i64) -> i64 => storage::child_kill_v3;
    ext_default_child_storage_clear_prefix_version_1(child: i64, prefix: i64) => storage::child_clear_prefix_v1;
    ext_default_child_storage_clear_prefix_version_2(child: i64, prefix: i64, limit: i64) -> i64 => storage::child_clear_prefix_v2;
    ext_default_child_storage_root_version_1(child: i64) -> i64 => storage::child_root_v1;
    ext_default_child_storage_root_version_2(child: i64, version: i32) -> i64 => storage::child_root_v2;
    ext_default_child_storage_next_key_version_1(child: i64, key: i64) -> i64 => storage::child_next_key;

    // Offchain index (written during block execution).
    ext_offchain_index_set_version_1(key: i64, value: i64) => storage::offchain_index_set;
    ext_offchain_index_clear_version_1(key: i64) => storage::offchain_index_clear;

    // Hashing.
    ext_hashing_keccak_256_version_1(data: i64) -> i32 => misc::keccak_256;
    ext_hashing_keccak_512_version_1(data: i64) -> i32 => misc::keccak_512;
    ext_hashing_sha2_256_version_1(data: i64) -> i32 => misc::sha2_256;
    ext_hashing_blake2_128_version_1(data: i64) -> i32 => misc::blake2_128;
    ext_hashing_blake2_256_version_1(data: i64) -> i32 => misc::blake2_256;
    ext_hashing_twox_64_version_1(data: i64) -> i32 => misc::twox_64;
    ext_hashing_twox_128_version_1(data: i64) -> i32 => misc::twox_128;
    ext_hashing_twox_256_version_1(data: i64) -> i32 => misc::twox_256;

    // Trie.
    ext_trie_blake2_256_root_version_1(input: i64) -> i32 => misc::trie_root_v1;
    ext_trie_blake2_256_root_version_2(input: i64, version: i32) -> i32 => misc::trie_root_v2;
    ext_trie_blake2_256_ordered_root_version_1(input: i64) -> i32 => misc::ordered_root_v1;
    ext_trie_blake2_256_ordered_root_version_2(input: i64, version: i32) -> i32 => misc::ordered_root_v2;
    ext_trie_blake2_256_verify_proof_version_1(root: i32, proof: i64, key: i64, value: i64) -> i32 => misc::verify_proof_v1;
    ext_trie_blake2_256_verify_proof_version_2(root: i32, proof: i64, key: i64, value: i64, version: i32) -> i32 => misc::verify_proof_v2;
    ext_trie_keccak_256_root_version_1(input: i64) -> i32 => misc::keccak_trie_root_v1;
    ext_trie_keccak_256_root_version_2(input: i64, version: i32) -> i32 => misc::keccak_trie_root_v2;
    ext_trie_keccak_256_ordered_root_version_1(input: i64) -> i32 => misc::keccak_ordered_root_v1;
    ext_trie_keccak_256_ordered_root_version_2(input: i64, version: i32) -> i32 => misc::keccak_ordered_root_v2;
    ext_trie_keccak_256_verify_proof_version_1(root: i32, proof: i64, key: i64, value: i64) -> i32 => misc::keccak_verify_proof_v1;
    ext_trie_keccak_256_verify_proof_version_2(root: i32, proof: i64, key: i64, value: i64, version: i32) -> i32 => misc::keccak_verify_proof_v2;

    // Misc.
    ext_misc_print_num_version_1(value: i64) => misc::print_num;
    ext_misc_print_utf8_version_1(data: i64) => misc::print_utf8;
    ext_misc_print_hex_version_1(data: i64) => misc::print_hex;
    ext_misc_runtime_version_version_1(code: i64) -> i64 => misc::runtime_version;

    // Transaction index (pallet-transaction-storage): accepted and ignored.
    ext_transaction_index_index_version_1(extrinsic: i32, size: i32, hash: i32) => misc::transaction_index;
    ext_transaction_index_renew_version_1(extrinsic: i32, hash: i32) => misc::transaction_renew;

    // Crypto.
    ext_crypto_ed25519_public_keys_version_1(key_type: i32) -> i64 => crypto::ed25519_public_keys;
    ext_crypto_ed25519_generate_version_1(key_type: i32, seed: i64) -> i32 => crypto::ed25519_generate;
    ext_crypto_ed25519_sign_version_1(key_type: i32, public: i32, message: i64) -> i64 => crypto::ed25519_sign;
    ext_crypto_ed25519_verify_version_1(signature: i32, message: i64, public: i32) -> i32 => crypto::ed25519_verify;
    ext_crypto_ed25519_batch_verify_version_1(signature: i32, message: i64, public: i32) -> i32 => crypto::ed25519_batch_verify;
    ext_crypto_sr25519_public_keys_version_1(key_type: i32) -> i64 => crypto::sr25519_public_keys;
    ext_crypto_sr25519_generate_version_1(key_type: i32, seed: i64) -> i32 => crypto::sr25519_generate;
    ext_crypto_sr25519_sign_version_1(key_type: i32, public: i32, message: i64) -> i64 => crypto::sr25519_sign;
    ext_crypto_sr25519_verify_version_1(signature: i32, message: i64, public: i32) -> i32 => crypto::sr25519_verify_v1;
    ext_crypto_sr25519_verify_version_2(signature: i32, message: i64, public: i32) -> i32 => crypto::sr25519_verify_v2;
    ext_crypto_sr25519_batch_verify_version_1(signature: i32, message: i64, public: i32) -> i32 => crypto::sr25519_batch_verify;
    ext_crypto_ecdsa_public_keys_version_1(key_type: i32) -> i64 => crypto::ecdsa_public_keys;
    ext_crypto_ecdsa_generate_version_1(key_type: i32, seed: i64) -> i32 => crypto::ecdsa_generate;
    ext_crypto_ecdsa_sign_version_1(key_type: i32, public: i32, message: i64) -> i64 => crypto::ecdsa_sign;
    ext_crypto_ecdsa_sign_prehashed_version_1(key_type: i32, public: i32, hash: i32) -> i64 => crypto::ecdsa_sign_prehashed;
    ext_crypto_ecdsa_verify_version_1(signature: i32, message: i64, public: i32) -> i32 => crypto::ecdsa_verify_v1;
    ext_crypto_ecdsa_verify_version_2(signature: i32, message: i64, public: i32) -> i32 => crypto::ecdsa_verify_v2;
    ext_crypto_ecdsa_verify_prehashed_version_1(signature: i32, hash: i32, public: i32) -> i32 => crypto::ecdsa_verify_prehashed;
    ext_crypto_ecdsa_batch_verify_version_1(signature: i32, message: i64, public: i32) -> i32 => crypto::ecdsa_batch_verify;
    ext_crypto_secp256k1_ecdsa_recover_version_1(signature: i32, hash: i32) -> i64 => crypto::recover_v1;
    ext_crypto_secp256k1_ecdsa_recover_version_2(signature: i32, hash: i32) -> i64 => crypto::recover_v2;
    ext_crypto_secp256k1_ecdsa_recover_compressed_version_1(signature: i32, hash: i32) -> i64 => crypto::recover_compressed_v1;
    ext_crypto_secp256k1_ecdsa_recover_compressed_version_2(signature: i32, hash: i32) -> i64 => crypto::recover_compressed_v2;
    ext_crypto_start_batch_verify_version_1() => crypto::start_batch_verify;
    ext_crypto_finish_batch_verify_version_1() -> i32 => crypto::finish_batch_verify;

    // Offchain workers.
    ext_offchain_is_validator_version_1() -> i32 => misc::offchain_is_validator;
    ext_offchain_submit_transaction_version_1(data: i64) -> i64 => misc::offchain_submit_transaction;
    ext_offchain_network_state_version_1() -> i64 => misc::offchain_network_state;
    ext_offchain_timestamp_version_1() -> i64 => misc::offchain_timestamp;
    ext_offchain_sleep_until_version_1(deadline: i64) => misc::offchain_sleep_until;
    ext_offchain_random_seed_version_1() -> i32 => misc::offchain_random_seed;
    ext_offchain_local_storage_set_version_1(kind: i32, key: i64, value: i64) => misc::local_storage_set;
    ext_offchain_local_storage_clear_version_1(kind: i32, key: i64) => misc::local_storage_clear;
    ext_offchain_local_storage_compare_and_set_version_1(kind: i32, key: i64, old: i64, new: i64) -> i32 => misc::local_storage_compare_and_set;
    ext_offchain_local_storage_get_version_1(kind: i32, key: i64) -> i64 => misc::local_storage_get;
    ext_offchain_http_request_start_version_1(method: i64, uri: i64, meta: i64) -> i64 => misc::http_request_start;
    ext_offchain_http_request_add_header_version_1(id: i32, name: i64, value: i64) -> i64 => misc::http_request_add_header;
    ext_offchain_http_request_write_body_version_1(id: i32, chunk: i64, deadline: i64) -> i64 => misc::http_request_write_body;
    ext_offchain_http_response_wait_version_1(ids: i64, deadline: i64) -> i64 => misc::http_response_wait;
    ext_offchain_http_response_headers_version_1(id: i32) -> i64 => misc::http_response_headers;
    ext_offchain_http_response_read_body_version_1(id: i32, buffer: i64, deadline: i64) -> i64 => misc::http_response_read_body;
    ext_offchain_set_authorized_nodes_version_1(nodes: i64, authorized_only: i32) => misc::set_authorized_nodes;

    // Sandbox (`sp-sandbox`'s host executor, used by pallet-contracts until 2022).
    ext_sandbox_instantiate_version_1(dispatch_thunk: i32, wasm: i64, env_def: i64, state: i32) -> i32 => @env sandbox::instantiate;
    ext_sandbox_invoke_version_1(instance: i32, function: i64, args: i64, return_ptr: i32, return_len: i32, state: i32) -> i32 => @env sandbox::invoke;
    ext_sandbox_instance_teardown_version_1(instance: i32) => sandbox::instance_teardown;
    ext_sandbox_get_global_val_version_1(instance: i32, name: i64) -> i64 => sandbox::get_global_val;
    ext_sandbox_memory_new_version_1(initial: i32, maximum: i32) -> i32 => sandbox::memory_new;
    ext_sandbox_memory_get_version_1(memory: i32, offset: i32, buf_ptr: i32, buf_len: i32) -> i32 => sandbox::memory_get;
    ext_sandbox_memory_set_version_1(memory: i32, offset: i32, val_ptr: i32, val_len: i32) -> i32 => sandbox::memory_set;
    ext_sandbox_memory_teardown_version_1(memory: i32) => sandbox::memory_teardown;
}

/// SCALE `bool` as the `i32` the ABI returns.
pub(crate) fn bool_i32(value: bool) -> i32 {
    i32::from(value)
}

//! Allocator, logging, panics, hashing, trie roots and proofs, misc, and the
//! offchain-worker functions.

use super::{bool_i32, Ctx, HostError};
use crate::externalities::{OffchainContext, OffchainStorageKind};
use parity_scale_codec::{Compact, Encode};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use weft_crypto::hashing;
use weft_trie::{StateVersion, TrieHasher};

pub(super) fn malloc(ctx: &mut Ctx<'_>, size: i32) -> Result<i32, HostError> {
    ctx.allocate(size as u32).map(|ptr| ptr as i32)
}

pub(super) fn free(ctx: &mut Ctx<'_>, ptr: i32) -> Result<(), HostError> {
    ctx.deallocate(ptr as u32)
}

/// `ext_logging_log_version_1(level, target, message)`: the level is the index
/// of Error, Warn, Info, Debug, Trace (0..=4); target and message are
/// pointer-sizes to UTF-8 (invalid bytes are replaced).
pub(super) fn log(ctx: &mut Ctx<'_>, level: i32, target: i64, message: i64) -> Result<(), HostError> {
    let target = ctx.read_ps(target)?;
    let message = ctx.read_ps(message)?;
    let target = String::from_utf8_lossy(&target);
    let message = String::from_utf8_lossy(&message);
    if level == 0 {
        ctx.ext().last_error_log = Some(message.chars().take(1024).collect());
    }
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
pub(super) fn max_level(_ctx: &mut Ctx<'_>) -> Result<i32, HostError> {
    use tracing::level_filters::LevelFilter;
    Ok(match LevelFilter::current() {
        LevelFilter::OFF => 0,
        LevelFilter::ERROR => 1,
        LevelFilter::WARN => 2,
        LevelFilter::INFO => 3,
        LevelFilter::DEBUG => 4,
        _ => 5,
    })
}

/// The runtime panicked: trap with its message.
pub(super) fn abort_on_panic(ctx: &mut Ctx<'_>, message: i64) -> Result<(), HostError> {
    let message = ctx.read_ps(message)?;
    Err(HostError::RuntimePanicked(String::from_utf8_lossy(&message).into_owned()))
}

macro_rules! hash_functions {
    ($($name:ident),*) => {$(
        pub(super) fn $name(ctx: &mut Ctx<'_>, data: i64) -> Result<i32, HostError> {
            let data = ctx.read_ps(data)?;
            let hash = hashing::$name(&data);
            ctx.return_ptr(&hash)
        }
    )*};
}

hash_functions!(keccak_256, keccak_512, sha2_256, blake2_128, blake2_256, twox_64, twox_128, twox_256);

fn state_version(ctx: &Ctx<'_>, version: i32) -> Result<StateVersion, HostError> {
    u8::try_from(version)
        .ok()
        .and_then(|v| StateVersion::try_from(v).ok())
        .ok_or_else(|| ctx.fail(format!("invalid state version {version}")))
}

/// `ext_trie_{blake2,keccak}_256_root`: root of the SCALE `Vec<(key, value)>` at `input`
/// (version 1: layout V0).
fn trie_root(ctx: &mut Ctx<'_>, hasher: TrieHasher, input: i64, version: StateVersion) -> Result<i32, HostError> {
    let entries: Vec<(Vec<u8>, Vec<u8>)> = ctx.decode_ps(input)?;
    let root = weft_trie::trie_root_with(hasher, version, entries);
    ctx.return_ptr(&root)
}

/// `ext_trie_{blake2,keccak}_256_ordered_root`: root of the SCALE `Vec<value>` at `input`,
/// keyed by compact index (version 1: layout V0).
fn ordered_root(ctx: &mut Ctx<'_>, hasher: TrieHasher, input: i64, version: StateVersion) -> Result<i32, HostError> {
    let values: Vec<Vec<u8>> = ctx.decode_ps(input)?;
    let root = weft_trie::ordered_trie_root_with(hasher, version, values);
    ctx.return_ptr(&root)
}

/// `ext_trie_{blake2,keccak}_256_verify_proof`: whether the eager proof (SCALE
/// `Vec<Vec<u8>>`) shows `key` holding `value` in the trie of `root` (version 1: layout V0).
/// Any malformed proof is just `false`.
fn verify_proof(
    ctx: &mut Ctx<'_>,
    hasher: TrieHasher,
    root: i32,
    proof: i64,
    key: i64,
    value: i64,
    version: StateVersion,
) -> Result<i32, HostError> {
    let root: [u8; 32] = ctx.read_array(root)?;
    let proof: Vec<Vec<u8>> = ctx.decode_ps(proof)?;
    let key = ctx.read_ps(key)?;
    let value = ctx.read_ps(value)?;
    let ok = weft_trie::verify_proof_with(hasher, &root, &proof, &key, Some(&value), version).is_ok();
    Ok(bool_i32(ok))
}

/// The six `ext_trie_<hash>_*` functions of one hasher.
macro_rules! trie_functions {
    (
        $hasher:expr =>
        $root_v1:ident, $root_v2:ident, $ordered_v1:ident, $ordered_v2:ident, $verify_v1:ident, $verify_v2:ident
    ) => {
        pub(super) fn $root_v1(ctx: &mut Ctx<'_>, input: i64) -> Result<i32, HostError> {
            trie_root(ctx, $hasher, input, StateVersion::V0)
        }

        pub(super) fn $root_v2(ctx: &mut Ctx<'_>, input: i64, version: i32) -> Result<i32, HostError> {
            let version = state_version(ctx, version)?;
            trie_root(ctx, $hasher, input, version)
        }

        pub(super) fn $ordered_v1(ctx: &mut Ctx<'_>, input: i64) -> Result<i32, HostError> {
            ordered_root(ctx, $hasher, input, StateVersion::V0)
        }

        pub(super) fn $ordered_v2(ctx: &mut Ctx<'_>, input: i64, version: i32) -> Result<i32, HostError> {
            let version = state_version(ctx, version)?;
            ordered_root(ctx, $hasher, input, version)
        }

        pub(super) fn $verify_v1(
            ctx: &mut Ctx<'_>,
            root: i32,
            proof: i64,
            key: i64,
            value: i64,
        ) -> Result<i32, HostError> {
            verify_proof(ctx, $hasher, root, proof, key, value, StateVersion::V0)
        }

        pub(super) fn $verify_v2(
            ctx: &mut Ctx<'_>,
            root: i32,
            proof: i64,
            key: i64,
            value: i64,
            version: i32,
        ) -> Result<i32, HostError> {
            let version = state_version(ctx, version)?;
            verify_proof(ctx, $hasher, root, proof, key, value, version)
        }
    };
}

trie_functions!(TrieHasher::Blake2_256 =>
    trie_root_v1, trie_root_v2, ordered_root_v1, ordered_root_v2, verify_proof_v1, verify_proof_v2);
trie_functions!(TrieHasher::Keccak256 =>
    keccak_trie_root_v1, keccak_trie_root_v2, keccak_ordered_root_v1, keccak_ordered_root_v2,
    keccak_verify_proof_v1, keccak_verify_proof_v2);

pub(super) fn print_num(_ctx: &mut Ctx<'_>, value: i64) -> Result<(), HostError> {
    tracing::debug!(target: "runtime", "{}", value as u64);
    Ok(())
}

pub(super) fn print_utf8(ctx: &mut Ctx<'_>, data: i64) -> Result<(), HostError> {
    let data = ctx.read_ps(data)?;
    if let Ok(text) = std::str::from_utf8(&data) {
        tracing::debug!(target: "runtime", "{text}");
    }
    Ok(())
}

pub(super) fn print_hex(ctx: &mut Ctx<'_>, data: i64) -> Result<(), HostError> {
    let data = ctx.read_ps(data)?;
    let hex: String = data.iter().map(|b| format!("{b:02x}")).collect();
    tracing::debug!(target: "runtime", "{hex}");
    Ok(())
}

/// The SCALE `RuntimeVersion` of other runtime code (as stored under
/// `:code`): its custom sections when present (re-encoded in full, as
/// Substrate does), otherwise the output of its `Core_version`, called on an
/// empty state. `None` when the code cannot be read or the call fails.
pub(super) fn runtime_version(ctx: &mut Ctx<'_>, code: i64) -> Result<i64, HostError> {
    let code = ctx.read_ps(code)?;
    let executor = ctx.state.nested_executor.clone();
    let version = version_of_code(executor, &code);
    ctx.return_encoded(&version)
}

pub(crate) fn version_of_code(executor: Option<crate::Executor>, code: &[u8]) -> Option<Vec<u8>> {
    let wasm = crate::blob::wasm_from_code(code).ok()?;
    match weft_runtime_blob::version_from_custom_sections(&wasm) {
        Ok(Some(version)) => {
            let mut out = Vec::new();
            version.spec_name.encode_to(&mut out);
            version.impl_name.encode_to(&mut out);
            version.authoring_version.encode_to(&mut out);
            version.spec_version.encode_to(&mut out);
            version.impl_version.encode_to(&mut out);
            version.apis.encode_to(&mut out);
            version.transaction_version.unwrap_or(1).encode_to(&mut out);
            version.state_version.unwrap_or(0).encode_to(&mut out);
            Some(out)
        }
        Ok(None) => {
            let module = executor?.compile_wasm(&wasm, crate::DEFAULT_HEAP_PAGES).ok()?;
            module.call("Core_version", &[]).ok()
        }
        Err(_) => None,
    }
}

pub(super) fn transaction_index(_ctx: &mut Ctx<'_>, _extrinsic: i32, _size: i32, _hash: i32) -> Result<(), HostError> {
    Ok(())
}

pub(super) fn transaction_renew(_ctx: &mut Ctx<'_>, _extrinsic: i32, _hash: i32) -> Result<(), HostError> {
    Ok(())
}

fn offchain<'c>(ctx: &'c mut Ctx<'_>) -> Result<&'c mut OffchainContext, HostError> {
    let name = ctx.name;
    ctx.state.ext.offchain.as_mut().ok_or(HostError::Failed {
        function: name,
        reason: "offchain functions can only be called in an offchain context".into(),
    })
}

pub(super) fn offchain_is_validator(ctx: &mut Ctx<'_>) -> Result<i32, HostError> {
    Ok(bool_i32(offchain(ctx)?.is_validator))
}

pub(super) fn offchain_submit_transaction(ctx: &mut Ctx<'_>, data: i64) -> Result<i64, HostError> {
    // The raw transaction bytes (a `Vec<u8>` argument is passed unencoded).
    let data = ctx.read_ps(data)?;
    offchain(ctx)?.submitted_transactions.push(data);
    ctx.return_encoded(&Ok::<(), ()>(()))
}

pub(super) fn offchain_network_state(ctx: &mut Ctx<'_>) -> Result<i64, HostError> {
    offchain(ctx)?;
    // Not supported: `Err(())` (documented on `OffchainContext`).
    ctx.return_encoded(&Err::<(), ()>(()))
}

fn now_millis() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

pub(super) fn offchain_timestamp(ctx: &mut Ctx<'_>) -> Result<i64, HostError> {
    offchain(ctx)?;
    Ok(now_millis() as i64)
}

pub(super) fn offchain_sleep_until(ctx: &mut Ctx<'_>, deadline: i64) -> Result<(), HostError> {
    offchain(ctx)?;
    let now = now_millis();
    let deadline = deadline as u64;
    if deadline > now {
        std::thread::sleep(Duration::from_millis(deadline - now));
    }
    Ok(())
}

pub(super) fn offchain_random_seed(ctx: &mut Ctx<'_>) -> Result<i32, HostError> {
    offchain(ctx)?;
    let seed: [u8; 32] = rand::random();
    ctx.return_ptr(&seed)
}

fn storage_kind(ctx: &Ctx<'_>, kind: i32) -> Result<OffchainStorageKind, HostError> {
    OffchainStorageKind::from_u32(kind as u32).ok_or_else(|| ctx.fail(format!("invalid storage kind {kind}")))
}

pub(super) fn local_storage_set(ctx: &mut Ctx<'_>, kind: i32, key: i64, value: i64) -> Result<(), HostError> {
    let kind = storage_kind(ctx, kind)?;
    let key = ctx.read_ps(key)?;
    let value = ctx.read_ps(value)?;
    offchain(ctx)?.storage.set(kind, &key, &value);
    Ok(())
}

pub(super) fn local_storage_clear(ctx: &mut Ctx<'_>, kind: i32, key: i64) -> Result<(), HostError> {
    let kind = storage_kind(ctx, kind)?;
    let key = ctx.read_ps(key)?;
    offchain(ctx)?.storage.clear(kind, &key);
    Ok(())
}

pub(super) fn local_storage_compare_and_set(
    ctx: &mut Ctx<'_>,
    kind: i32,
    key: i64,
    old: i64,
    new: i64,
) -> Result<i32, HostError> {
    let kind = storage_kind(ctx, kind)?;
    let key = ctx.read_ps(key)?;
    let old: Option<Vec<u8>> = ctx.decode_ps(old)?;
    let new = ctx.read_ps(new)?;
    let done = offchain(ctx)?.storage.compare_and_set(kind, &key, old.as_deref(), &new);
    Ok(bool_i32(done))
}

pub(super) fn local_storage_get(ctx: &mut Ctx<'_>, kind: i32, key: i64) -> Result<i64, HostError> {
    let kind = storage_kind(ctx, kind)?;
    let key = ctx.read_ps(key)?;
    let value = offchain(ctx)?.storage.get(kind, &key);
    ctx.return_encoded(&value)
}

/// `HttpError::IoError` (the enum's explicit discriminants are 1, 2, 3).
const HTTP_IO_ERROR: u8 = 2;
/// `HttpRequestStatus::IoError`.
const HTTP_STATUS_IO_ERROR: u8 = 1;

/// HTTP is not supported: no request can be started.
pub(super) fn http_request_start(ctx: &mut Ctx<'_>, _method: i64, _uri: i64, _meta: i64) -> Result<i64, HostError> {
    offchain(ctx)?;
    tracing::debug!(target: "runtime::offchain", "HTTP requests are not supported");
    ctx.return_encoded(&Err::<u16, ()>(()))
}

pub(super) fn http_request_add_header(ctx: &mut Ctx<'_>, _id: i32, _name: i64, _value: i64) -> Result<i64, HostError> {
    offchain(ctx)?;
    ctx.return_encoded(&Err::<(), ()>(()))
}

pub(super) fn http_request_write_body(
    ctx: &mut Ctx<'_>,
    _id: i32,
    _chunk: i64,
    _deadline: i64,
) -> Result<i64, HostError> {
    offchain(ctx)?;
    ctx.return_encoded(&Err::<(), u8>(HTTP_IO_ERROR))
}

pub(super) fn http_response_wait(ctx: &mut Ctx<'_>, ids: i64, _deadline: i64) -> Result<i64, HostError> {
    offchain(ctx)?;
    let ids: Vec<u16> = ctx.decode_ps(ids)?;
    let statuses = vec![HTTP_STATUS_IO_ERROR; ids.len()];
    // `Vec<HttpRequestStatus>`: unit variants encode as their index alone.
    let mut out = Compact(statuses.len() as u32).encode();
    out.extend_from_slice(&statuses);
    ctx.return_bytes(&out)
}

pub(super) fn http_response_headers(ctx: &mut Ctx<'_>, _id: i32) -> Result<i64, HostError> {
    offchain(ctx)?;
    ctx.return_encoded(&Vec::<(Vec<u8>, Vec<u8>)>::new())
}

pub(super) fn http_response_read_body(
    ctx: &mut Ctx<'_>,
    _id: i32,
    _buffer: i64,
    _deadline: i64,
) -> Result<i64, HostError> {
    offchain(ctx)?;
    ctx.return_encoded(&Err::<u32, u8>(HTTP_IO_ERROR))
}

pub(super) fn set_authorized_nodes(ctx: &mut Ctx<'_>, _nodes: i64, _authorized_only: i32) -> Result<(), HostError> {
    offchain(ctx)?;
    Ok(())
}

//! `ext_storage_*`, `ext_default_child_storage_*` and `ext_offchain_index_*`.

use super::{bool_i32, unpack_ptr_len, Ctx, HostError};
use crate::overlay::RemovalResult;
use parity_scale_codec::Encode;
use weft_trie::StateVersion;

/// Substrate's `KillStorageResult`: `AllRemoved(loops)` or `SomeRemaining(loops)`.
#[derive(Encode)]
enum KillStorageResult {
    AllRemoved(u32),
    SomeRemaining(u32),
}

impl From<RemovalResult> for KillStorageResult {
    fn from(r: RemovalResult) -> Self {
        if r.keys_remaining {
            KillStorageResult::SomeRemaining(r.loops)
        } else {
            KillStorageResult::AllRemoved(r.loops)
        }
    }
}

fn state_version(ctx: &Ctx<'_>, version: i32) -> Result<StateVersion, HostError> {
    u8::try_from(version)
        .ok()
        .and_then(|v| StateVersion::try_from(v).ok())
        .ok_or_else(|| ctx.fail(format!("invalid state version {version}")))
}

/// Copies `value[offset..]` into the output buffer as far as it fits and
/// returns the encoded `Option<u32>` of the bytes remaining after `offset`.
fn read_into(ctx: &mut Ctx<'_>, value: Option<Vec<u8>>, out: i64, offset: i32) -> Result<i64, HostError> {
    let result = match value {
        None => None,
        Some(value) => {
            let offset = (offset as u32 as usize).min(value.len());
            let data = &value[offset..];
            let (out_ptr, out_len) = unpack_ptr_len(out);
            let written = data.len().min(out_len as usize);
            ctx.write(out_ptr, &data[..written])?;
            Some(data.len() as u32)
        }
    };
    ctx.return_encoded(&result)
}

pub(super) fn set(ctx: &mut Ctx<'_>, key: i64, value: i64) -> Result<(), HostError> {
    let key = ctx.read_ps(key)?;
    let value = ctx.read_ps(value)?;
    ctx.ext().overlay.set_storage(key, Some(value));
    Ok(())
}

pub(super) fn get(ctx: &mut Ctx<'_>, key: i64) -> Result<i64, HostError> {
    let key = ctx.read_ps(key)?;
    let ext = ctx.ext();
    let value = ext.overlay.read(&*ext.state, &key).map_err(|e| ctx.state_error(e))?;
    ctx.return_encoded(&value)
}

pub(super) fn read(ctx: &mut Ctx<'_>, key: i64, out: i64, offset: i32) -> Result<i64, HostError> {
    let key = ctx.read_ps(key)?;
    let ext = ctx.ext();
    let value = ext.overlay.read(&*ext.state, &key).map_err(|e| ctx.state_error(e))?;
    read_into(ctx, value, out, offset)
}

pub(super) fn clear(ctx: &mut Ctx<'_>, key: i64) -> Result<(), HostError> {
    let key = ctx.read_ps(key)?;
    ctx.ext().overlay.set_storage(key, None);
    Ok(())
}

pub(super) fn exists(ctx: &mut Ctx<'_>, key: i64) -> Result<i32, HostError> {
    let key = ctx.read_ps(key)?;
    let ext = ctx.ext();
    let exists = ext.overlay.exists(&*ext.state, &key).map_err(|e| ctx.state_error(e))?;
    Ok(bool_i32(exists))
}

fn clear_prefix(ctx: &mut Ctx<'_>, prefix: i64, limit: Option<u32>) -> Result<RemovalResult, HostError> {
    let prefix = ctx.read_ps(prefix)?;
    let ext = ctx.ext();
    ext.overlay.clear_prefix(&*ext.state, &prefix, limit).map_err(|e| ctx.state_error(e))
}

pub(super) fn clear_prefix_v1(ctx: &mut Ctx<'_>, prefix: i64) -> Result<(), HostError> {
    clear_prefix(ctx, prefix, None).map(|_| ())
}

pub(super) fn clear_prefix_v2(ctx: &mut Ctx<'_>, prefix: i64, limit: i64) -> Result<i64, HostError> {
    let limit: Option<u32> = ctx.decode_ps(limit)?;
    let result = clear_prefix(ctx, prefix, limit)?;
    ctx.return_encoded(&KillStorageResult::from(result))
}

pub(super) fn append(ctx: &mut Ctx<'_>, key: i64, value: i64) -> Result<(), HostError> {
    let key = ctx.read_ps(key)?;
    let value = ctx.read_ps(value)?;
    let ext = ctx.ext();
    ext.overlay.append(&*ext.state, key, value).map_err(|e| ctx.state_error(e))
}

fn root(ctx: &mut Ctx<'_>, version: StateVersion) -> Result<i64, HostError> {
    let ext = ctx.ext();
    let root = ext.overlay.storage_root(&*ext.state, version).map_err(|e| ctx.state_error(e))?;
    // The root is returned as its raw 32 bytes (the SCALE encoding of a hash).
    ctx.return_bytes(&root)
}

pub(super) fn root_v1(ctx: &mut Ctx<'_>) -> Result<i64, HostError> {
    root(ctx, StateVersion::V0)
}

pub(super) fn root_v2(ctx: &mut Ctx<'_>, version: i32) -> Result<i64, HostError> {
    let version = state_version(ctx, version)?;
    root(ctx, version)
}

/// Changes tries are gone: always `None`.
pub(super) fn changes_root(ctx: &mut Ctx<'_>, _parent_hash: i64) -> Result<i64, HostError> {
    ctx.return_encoded(&None::<Vec<u8>>)
}

pub(super) fn next_key(ctx: &mut Ctx<'_>, key: i64) -> Result<i64, HostError> {
    let key = ctx.read_ps(key)?;
    let ext = ctx.ext();
    let next = ext.overlay.next_key(&*ext.state, &key).map_err(|e| ctx.state_error(e))?;
    ctx.return_encoded(&next)
}

pub(super) fn start_transaction(ctx: &mut Ctx<'_>) -> Result<(), HostError> {
    ctx.ext().overlay.start_transaction();
    Ok(())
}

fn runtime_transaction_open(ctx: &mut Ctx<'_>) -> bool {
    ctx.state.ext.overlay.transaction_depth() > ctx.state.transaction_base
}

pub(super) fn rollback_transaction(ctx: &mut Ctx<'_>) -> Result<(), HostError> {
    if !runtime_transaction_open(ctx) {
        return Err(ctx.fail("no open transaction that can be rolled back"));
    }
    ctx.ext().overlay.rollback_transaction().map_err(|e| ctx.fail(e.to_string()))
}

pub(super) fn commit_transaction(ctx: &mut Ctx<'_>) -> Result<(), HostError> {
    if !runtime_transaction_open(ctx) {
        return Err(ctx.fail("no open transaction that can be committed"));
    }
    ctx.ext().overlay.commit_transaction().map_err(|e| ctx.fail(e.to_string()))
}

/// No proof is being recorded: `u64::MAX`, as Substrate without a proof-size extension.
pub(super) fn proof_size(_ctx: &mut Ctx<'_>) -> Result<i64, HostError> {
    Ok(u64::MAX as i64)
}

pub(super) fn child_get(ctx: &mut Ctx<'_>, child: i64, key: i64) -> Result<i64, HostError> {
    let child = ctx.read_ps(child)?;
    let key = ctx.read_ps(key)?;
    let ext = ctx.ext();
    let value = ext.overlay.read_child(&*ext.state, &child, &key).map_err(|e| ctx.state_error(e))?;
    ctx.return_encoded(&value)
}

pub(super) fn child_read(ctx: &mut Ctx<'_>, child: i64, key: i64, out: i64, offset: i32) -> Result<i64, HostError> {
    let child = ctx.read_ps(child)?;
    let key = ctx.read_ps(key)?;
    let ext = ctx.ext();
    let value = ext.overlay.read_child(&*ext.state, &child, &key).map_err(|e| ctx.state_error(e))?;
    read_into(ctx, value, out, offset)
}

pub(super) fn child_set(ctx: &mut Ctx<'_>, child: i64, key: i64, value: i64) -> Result<(), HostError> {
    let child = ctx.read_ps(child)?;
    let key = ctx.read_ps(key)?;
    let value = ctx.read_ps(value)?;
    ctx.ext().overlay.set_child_storage(&child, key, Some(value));
    Ok(())
}

pub(super) fn child_clear(ctx: &mut Ctx<'_>, child: i64, key: i64) -> Result<(), HostError> {
    let child = ctx.read_ps(child)?;
    let key = ctx.read_ps(key)?;
    ctx.ext().overlay.set_child_storage(&child, key, None);
    Ok(())
}

pub(super) fn child_exists(ctx: &mut Ctx<'_>, child: i64, key: i64) -> Result<i32, HostError> {
    let child = ctx.read_ps(child)?;
    let key = ctx.read_ps(key)?;
    let ext = ctx.ext();
    let value = ext.overlay.read_child(&*ext.state, &child, &key).map_err(|e| ctx.state_error(e))?;
    Ok(bool_i32(value.is_some()))
}

fn child_clear_prefix(
    ctx: &mut Ctx<'_>,
    child: i64,
    prefix: Option<i64>,
    limit: Option<u32>,
) -> Result<RemovalResult, HostError> {
    let child = ctx.read_ps(child)?;
    let prefix = match prefix {
        Some(prefix) => ctx.read_ps(prefix)?,
        None => Vec::new(),
    };
    let ext = ctx.ext();
    ext.overlay.clear_child_prefix(&*ext.state, &child, &prefix, limit).map_err(|e| ctx.state_error(e))
}

pub(super) fn child_kill_v1(ctx: &mut Ctx<'_>, child: i64) -> Result<(), HostError> {
    child_clear_prefix(ctx, child, None, None).map(|_| ())
}

pub(super) fn child_kill_v2(ctx: &mut Ctx<'_>, child: i64, limit: i64) -> Result<i32, HostError> {
    let limit: Option<u32> = ctx.decode_ps(limit)?;
    let result = child_clear_prefix(ctx, child, None, limit)?;
    Ok(bool_i32(!result.keys_remaining))
}

pub(super) fn child_kill_v3(ctx: &mut Ctx<'_>, child: i64, limit: i64) -> Result<i64, HostError> {
    let limit: Option<u32> = ctx.decode_ps(limit)?;
    let result = child_clear_prefix(ctx, child, None, limit)?;
    ctx.return_encoded(&KillStorageResult::from(result))
}

pub(super) fn child_clear_prefix_v1(ctx: &mut Ctx<'_>, child: i64, prefix: i64) -> Result<(), HostError> {
    child_clear_prefix(ctx, child, Some(prefix), None).map(|_| ())
}

pub(super) fn child_clear_prefix_v2(ctx: &mut Ctx<'_>, child: i64, prefix: i64, limit: i64) -> Result<i64, HostError> {
    let limit: Option<u32> = ctx.decode_ps(limit)?;
    let result = child_clear_prefix(ctx, child, Some(prefix), limit)?;
    ctx.return_encoded(&KillStorageResult::from(result))
}

fn child_root(ctx: &mut Ctx<'_>, child: i64, version: StateVersion) -> Result<i64, HostError> {
    let child = ctx.read_ps(child)?;
    let ext = ctx.ext();
    let root = ext.overlay.child_storage_root(&*ext.state, &child, version).map_err(|e| ctx.state_error(e))?;
    ctx.return_bytes(&root)
}

pub(super) fn child_root_v1(ctx: &mut Ctx<'_>, child: i64) -> Result<i64, HostError> {
    child_root(ctx, child, StateVersion::V0)
}

pub(super) fn child_root_v2(ctx: &mut Ctx<'_>, child: i64, version: i32) -> Result<i64, HostError> {
    let version = state_version(ctx, version)?;
    child_root(ctx, child, version)
}

pub(super) fn child_next_key(ctx: &mut Ctx<'_>, child: i64, key: i64) -> Result<i64, HostError> {
    let child = ctx.read_ps(child)?;
    let key = ctx.read_ps(key)?;
    let ext = ctx.ext();
    let next = ext.overlay.next_child_key(&*ext.state, &child, &key).map_err(|e| ctx.state_error(e))?;
    ctx.return_encoded(&next)
}

pub(super) fn offchain_index_set(ctx: &mut Ctx<'_>, key: i64, value: i64) -> Result<(), HostError> {
    let key = ctx.read_ps(key)?;
    let value = ctx.read_ps(value)?;
    ctx.ext().overlay.set_offchain_index(key, Some(value));
    Ok(())
}

pub(super) fn offchain_index_clear(ctx: &mut Ctx<'_>, key: i64) -> Result<(), HostError> {
    let key = ctx.read_ps(key)?;
    ctx.ext().overlay.set_offchain_index(key, None);
    Ok(())
}

//! `ext_crypto_*`: signature verification, public-key recovery, batch
//! verification (emulated) and the keystore functions.

use super::{bool_i32, Ctx, HostError};
use crate::externalities::KeyTypeId;
use parity_scale_codec::Encode;
use weft_crypto::{ecdsa, ed25519, sr25519};

/// Substrate's `EcdsaVerifyError`.
#[derive(Encode)]
enum EcdsaVerifyError {
    BadRS,
    BadV,
    BadSignature,
}

impl From<ecdsa::RecoverError> for EcdsaVerifyError {
    fn from(e: ecdsa::RecoverError) -> Self {
        match e {
            ecdsa::RecoverError::BadRS => EcdsaVerifyError::BadRS,
            ecdsa::RecoverError::BadV => EcdsaVerifyError::BadV,
            ecdsa::RecoverError::BadSignature => EcdsaVerifyError::BadSignature,
        }
    }
}

fn key_type(ctx: &Ctx<'_>, ptr: i32) -> Result<KeyTypeId, HostError> {
    ctx.read_array::<4>(ptr)
}

/// The optional UTF-8 seed of the `*_generate` functions.
fn seed(ctx: &Ctx<'_>, seed: i64) -> Result<Option<String>, HostError> {
    let seed: Option<Vec<u8>> = ctx.decode_ps(seed)?;
    seed.map(|s| String::from_utf8(s).map_err(|_| ctx.fail("seed is not valid UTF-8"))).transpose()
}

fn record_batch(ctx: &mut Ctx<'_>, ok: bool) {
    if let Some(all_ok) = ctx.state.batch_verify.as_mut() {
        *all_ok &= ok;
    }
}

pub(super) fn ed25519_public_keys(ctx: &mut Ctx<'_>, key_type_ptr: i32) -> Result<i64, HostError> {
    let id = key_type(ctx, key_type_ptr)?;
    let keys = ctx.ext().keystore.ed25519_public_keys(id);
    ctx.return_encoded(&keys)
}

pub(super) fn ed25519_generate(ctx: &mut Ctx<'_>, key_type_ptr: i32, seed_ps: i64) -> Result<i32, HostError> {
    let id = key_type(ctx, key_type_ptr)?;
    let seed = seed(ctx, seed_ps)?;
    let public = ctx.ext().keystore.ed25519_generate(id, seed.as_deref()).map_err(|e| ctx.fail(e.to_string()))?;
    ctx.return_ptr(&public.0)
}

pub(super) fn ed25519_sign(ctx: &mut Ctx<'_>, key_type_ptr: i32, public: i32, message: i64) -> Result<i64, HostError> {
    let id = key_type(ctx, key_type_ptr)?;
    let public = ed25519::Public(ctx.read_array(public)?);
    let message = ctx.read_ps(message)?;
    let signature = ctx.ext().keystore.ed25519_sign(id, &public, &message);
    ctx.return_encoded(&signature)
}

fn ed25519_check(ctx: &Ctx<'_>, signature: i32, message: i64, public: i32) -> Result<bool, HostError> {
    let signature = ed25519::Signature(ctx.read_array(signature)?);
    let message = ctx.read_ps(message)?;
    let public = ed25519::Public(ctx.read_array(public)?);
    Ok(ed25519::verify(&signature, &message, &public))
}

pub(super) fn ed25519_verify(ctx: &mut Ctx<'_>, signature: i32, message: i64, public: i32) -> Result<i32, HostError> {
    ed25519_check(ctx, signature, message, public).map(bool_i32)
}

pub(super) fn ed25519_batch_verify(
    ctx: &mut Ctx<'_>,
    signature: i32,
    message: i64,
    public: i32,
) -> Result<i32, HostError> {
    let ok = ed25519_check(ctx, signature, message, public)?;
    record_batch(ctx, ok);
    Ok(bool_i32(ok))
}

pub(super) fn sr25519_public_keys(ctx: &mut Ctx<'_>, key_type_ptr: i32) -> Result<i64, HostError> {
    let id = key_type(ctx, key_type_ptr)?;
    let keys = ctx.ext().keystore.sr25519_public_keys(id);
    ctx.return_encoded(&keys)
}

pub(super) fn sr25519_generate(ctx: &mut Ctx<'_>, key_type_ptr: i32, seed_ps: i64) -> Result<i32, HostError> {
    let id = key_type(ctx, key_type_ptr)?;
    let seed = seed(ctx, seed_ps)?;
    let public = ctx.ext().keystore.sr25519_generate(id, seed.as_deref()).map_err(|e| ctx.fail(e.to_string()))?;
    ctx.return_ptr(&public.0)
}

pub(super) fn sr25519_sign(ctx: &mut Ctx<'_>, key_type_ptr: i32, public: i32, message: i64) -> Result<i64, HostError> {
    let id = key_type(ctx, key_type_ptr)?;
    let public = sr25519::Public(ctx.read_array(public)?);
    let message = ctx.read_ps(message)?;
    let signature = ctx.ext().keystore.sr25519_sign(id, &public, &message);
    ctx.return_encoded(&signature)
}

fn sr25519_args(
    ctx: &Ctx<'_>,
    signature: i32,
    message: i64,
    public: i32,
) -> Result<(sr25519::Signature, Vec<u8>, sr25519::Public), HostError> {
    Ok((
        sr25519::Signature(ctx.read_array(signature)?),
        ctx.read_ps(message)?,
        sr25519::Public(ctx.read_array(public)?),
    ))
}

/// Version 1 also accepts signatures of schnorrkel 0.1 (pre-audit).
pub(super) fn sr25519_verify_v1(
    ctx: &mut Ctx<'_>,
    signature: i32,
    message: i64,
    public: i32,
) -> Result<i32, HostError> {
    let (signature, message, public) = sr25519_args(ctx, signature, message, public)?;
    Ok(bool_i32(sr25519::verify_deprecated(&signature, &message, &public)))
}

pub(super) fn sr25519_verify_v2(
    ctx: &mut Ctx<'_>,
    signature: i32,
    message: i64,
    public: i32,
) -> Result<i32, HostError> {
    let (signature, message, public) = sr25519_args(ctx, signature, message, public)?;
    Ok(bool_i32(sr25519::verify(&signature, &message, &public)))
}

pub(super) fn sr25519_batch_verify(
    ctx: &mut Ctx<'_>,
    signature: i32,
    message: i64,
    public: i32,
) -> Result<i32, HostError> {
    let (signature, message, public) = sr25519_args(ctx, signature, message, public)?;
    let ok = sr25519::verify(&signature, &message, &public);
    record_batch(ctx, ok);
    Ok(bool_i32(ok))
}

pub(super) fn ecdsa_public_keys(ctx: &mut Ctx<'_>, key_type_ptr: i32) -> Result<i64, HostError> {
    let id = key_type(ctx, key_type_ptr)?;
    let keys = ctx.ext().keystore.ecdsa_public_keys(id);
    ctx.return_encoded(&keys)
}

pub(super) fn ecdsa_generate(ctx: &mut Ctx<'_>, key_type_ptr: i32, seed_ps: i64) -> Result<i32, HostError> {
    let id = key_type(ctx, key_type_ptr)?;
    let seed = seed(ctx, seed_ps)?;
    let public = ctx.ext().keystore.ecdsa_generate(id, seed.as_deref()).map_err(|e| ctx.fail(e.to_string()))?;
    ctx.return_ptr(&public.0)
}

pub(super) fn ecdsa_sign(ctx: &mut Ctx<'_>, key_type_ptr: i32, public: i32, message: i64) -> Result<i64, HostError> {
    let id = key_type(ctx, key_type_ptr)?;
    let public = ecdsa::Public(ctx.read_array(public)?);
    let message = ctx.read_ps(message)?;
    let signature = ctx.ext().keystore.ecdsa_sign(id, &public, &message);
    ctx.return_encoded(&signature)
}

pub(super) fn ecdsa_sign_prehashed(
    ctx: &mut Ctx<'_>,
    key_type_ptr: i32,
    public: i32,
    hash: i32,
) -> Result<i64, HostError> {
    let id = key_type(ctx, key_type_ptr)?;
    let public = ecdsa::Public(ctx.read_array(public)?);
    let hash: [u8; 32] = ctx.read_array(hash)?;
    let signature = ctx.ext().keystore.ecdsa_sign_prehashed(id, &public, &hash);
    ctx.return_encoded(&signature)
}

fn ecdsa_args(
    ctx: &Ctx<'_>,
    signature: i32,
    message: i64,
    public: i32,
) -> Result<(ecdsa::Signature, Vec<u8>, ecdsa::Public), HostError> {
    Ok((ecdsa::Signature(ctx.read_array(signature)?), ctx.read_ps(message)?, ecdsa::Public(ctx.read_array(public)?)))
}

/// Version 1 accepts "overflowing" signatures (`r` or `s` not reduced).
pub(super) fn ecdsa_verify_v1(ctx: &mut Ctx<'_>, signature: i32, message: i64, public: i32) -> Result<i32, HostError> {
    let (signature, message, public) = ecdsa_args(ctx, signature, message, public)?;
    Ok(bool_i32(ecdsa::verify_overflowing(&signature, &message, &public)))
}

pub(super) fn ecdsa_verify_v2(ctx: &mut Ctx<'_>, signature: i32, message: i64, public: i32) -> Result<i32, HostError> {
    let (signature, message, public) = ecdsa_args(ctx, signature, message, public)?;
    Ok(bool_i32(ecdsa::verify(&signature, &message, &public)))
}

pub(super) fn ecdsa_verify_prehashed(
    ctx: &mut Ctx<'_>,
    signature: i32,
    hash: i32,
    public: i32,
) -> Result<i32, HostError> {
    let signature = ecdsa::Signature(ctx.read_array(signature)?);
    let hash: [u8; 32] = ctx.read_array(hash)?;
    let public = ecdsa::Public(ctx.read_array(public)?);
    Ok(bool_i32(ecdsa::verify_prehashed(&signature, &hash, &public)))
}

pub(super) fn ecdsa_batch_verify(
    ctx: &mut Ctx<'_>,
    signature: i32,
    message: i64,
    public: i32,
) -> Result<i32, HostError> {
    let (signature, message, public) = ecdsa_args(ctx, signature, message, public)?;
    let ok = ecdsa::verify_overflowing(&signature, &message, &public);
    record_batch(ctx, ok);
    Ok(bool_i32(ok))
}

fn recover_args(ctx: &Ctx<'_>, signature: i32, hash: i32) -> Result<([u8; 65], [u8; 32]), HostError> {
    Ok((ctx.read_array(signature)?, ctx.read_array(hash)?))
}

pub(super) fn recover_v1(ctx: &mut Ctx<'_>, signature: i32, hash: i32) -> Result<i64, HostError> {
    let (signature, hash) = recover_args(ctx, signature, hash)?;
    let result = ecdsa::recover_overflowing(&signature, &hash).map_err(EcdsaVerifyError::from);
    ctx.return_encoded(&result)
}

pub(super) fn recover_v2(ctx: &mut Ctx<'_>, signature: i32, hash: i32) -> Result<i64, HostError> {
    let (signature, hash) = recover_args(ctx, signature, hash)?;
    let result = ecdsa::recover(&signature, &hash).map_err(EcdsaVerifyError::from);
    ctx.return_encoded(&result)
}

pub(super) fn recover_compressed_v1(ctx: &mut Ctx<'_>, signature: i32, hash: i32) -> Result<i64, HostError> {
    let (signature, hash) = recover_args(ctx, signature, hash)?;
    let result = ecdsa::recover_compressed_overflowing(&signature, &hash).map_err(EcdsaVerifyError::from);
    ctx.return_encoded(&result)
}

pub(super) fn recover_compressed_v2(ctx: &mut Ctx<'_>, signature: i32, hash: i32) -> Result<i64, HostError> {
    let (signature, hash) = recover_args(ctx, signature, hash)?;
    let result = ecdsa::recover_compressed(&signature, &hash).map_err(EcdsaVerifyError::from);
    ctx.return_encoded(&result)
}

/// Batch verification is emulated as in current Substrate: signatures are
/// verified immediately and `finish` reports whether every signature checked
/// through a `*_batch_verify` function since `start` was valid.
pub(super) fn start_batch_verify(ctx: &mut Ctx<'_>) -> Result<(), HostError> {
    if ctx.state.batch_verify.is_some() {
        return Err(ctx.fail("batch verification already started"));
    }
    ctx.state.batch_verify = Some(true);
    Ok(())
}

pub(super) fn finish_batch_verify(ctx: &mut Ctx<'_>) -> Result<i32, HostError> {
    match ctx.state.batch_verify.take() {
        Some(all_ok) => Ok(bool_i32(all_ok)),
        None => Err(ctx.fail("`finish_batch_verify` called without `start_batch_verify`")),
    }
}

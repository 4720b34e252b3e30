//! ECDSA over secp256k1 with Substrate conventions and public-key recovery.
//!
//! * Public keys are 33-byte SEC1 compressed points; the account id of an
//!   ECDSA key is `blake2_256(compressed_key)` ([`Public::to_account_id`]).
//! * Signatures are 65 bytes `r ‖ s ‖ v` (big-endian scalars, recovery id
//!   `v`). [`Pair::sign`] signs `blake2_256(message)`; signing is RFC 6979
//!   deterministic and produces low-`s` signatures with `v ∈ {0, 1}`,
//!   byte-identical to `libsecp256k1` (which Substrate uses).
//! * Verification ([`verify`], [`verify_prehashed`]) is recovery followed by
//!   comparison with the expected key, as in `sp-core`; `v` must be `0..=3`
//!   there (no `27`/`28` offset).
//!
//! # Recovery and "overflowing" signatures
//!
//! The host functions `ext_crypto_secp256k1_ecdsa_recover{,_compressed}`
//! accept `v` in `0..=3` or `27..=30` (27 is subtracted first); any other
//! `v` is [`RecoverError::BadV`]. The versions differ in how `r` and `s`
//! are parsed:
//!
//! * **version 1** (`libsecp256k1`'s `parse_overflowing`, here
//!   [`recover_overflowing`]): `r` and `s` are reduced modulo the group
//!   order `n`, so values `≥ n` are accepted and never give `BadRS`; a value
//!   that reduces to zero then fails recovery with `BadSignature`.
//! * **version 2 and later** (`secp256k1`'s `from_compact`, here
//!   [`recover`]): `r ≥ n` or `s ≥ n` is [`RecoverError::BadRS`].
//!
//! In both versions zero `r` or `s`, an `r` that is not the x-coordinate of
//! a curve point, and a recovered point at infinity give
//! [`RecoverError::BadSignature`]. High-`s` signatures (`s > n/2`) are
//! *accepted* by recovery in both versions (only plain ECDSA verification in
//! `libsecp256k1` enforces low-`s`, and the host never uses it).
//! `ext_crypto_ecdsa_verify_version_1` likewise uses overflowing parsing
//! ([`verify_overflowing`]) while version 2 is strict ([`verify`]).
//!
//! Recovery is implemented directly on curve arithmetic
//! (`Q = r⁻¹(sR − zG)`, `z = hash mod n`) rather than through `k256`'s
//! high-level API, because the latter rejects high-`s` signatures.

use k256::elliptic_curve::ops::{LinearCombination, Reduce};
use k256::elliptic_curve::point::DecompressPoint;
use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::elliptic_curve::subtle::Choice;
use k256::elliptic_curve::{Group, PrimeField};
use k256::{AffinePoint, FieldBytes, ProjectivePoint, Scalar, U256};
use zeroize::Zeroizing;

use crate::dev::{derive_hard_seed, DeriveJunction, SecretStringError, SuriPair};
use crate::hashing::blake2_256;
use crate::CryptoError;

byte_array_newtype!(
    /// A secp256k1 public key, SEC1 compressed (`0x02`/`0x03` ‖ x).
    Public,
    33,
    "ecdsa public key"
);

byte_array_newtype!(
    /// A recoverable ECDSA signature `r ‖ s ‖ v`.
    Signature,
    65,
    "ecdsa signature"
);

/// Recovery failures, mirroring the host API's `EcdsaVerifyError`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, parity_scale_codec::Encode, parity_scale_codec::Decode,
)]
pub enum RecoverError {
    /// `r` or `s` is not a valid scalar (strict parsing only).
    #[error("bad r or s value")]
    BadRS,
    /// The recovery id is not in `0..=3` / `27..=30`.
    #[error("bad recovery id")]
    BadV,
    /// No public key can be recovered from the signature.
    #[error("bad signature")]
    BadSignature,
}

/// The secp256k1 group order `n`, big-endian.
const ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba, 0xae, 0xdc,
    0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
];

impl Public {
    /// The account id of this key: `blake2_256` of the compressed key.
    pub fn to_account_id(&self) -> [u8; 32] {
        blake2_256(&self.0)
    }

    /// The SS58 address of the account id (what `subkey` prints as
    /// "SS58 Address" for ECDSA keys).
    pub fn to_ss58(&self, prefix: u16) -> String {
        crate::ss58::encode(&self.to_account_id(), prefix)
    }

    /// The SS58 encoding of the 33-byte key itself (`subkey`'s
    /// "Public key (SS58)").
    pub fn to_ss58_public(&self, prefix: u16) -> String {
        crate::ss58::encode(&self.0, prefix)
    }

    /// Parses a SEC1 key in any standard form (33-byte compressed, 65-byte
    /// uncompressed with `0x04`, or 64-byte uncompressed without prefix) and
    /// returns it compressed. Fails if the point is not on the curve.
    pub fn from_full(data: &[u8]) -> Result<Public, CryptoError> {
        let mut tagged = [0u8; 65];
        let sec1 = if data.len() == 64 {
            tagged[0] = 0x04;
            tagged[1..].copy_from_slice(data);
            &tagged[..]
        } else {
            data
        };
        let key = k256::PublicKey::from_sec1_bytes(sec1).map_err(|_| CryptoError::InvalidPublicKey)?;
        Ok(compress(&key.as_affine().to_encoded_point(true)))
    }

    /// The 64-byte uncompressed form (`x ‖ y`, no `0x04` prefix); fails if
    /// the bytes are not a valid compressed point.
    pub fn to_uncompressed(&self) -> Result<[u8; 64], CryptoError> {
        let key = k256::PublicKey::from_sec1_bytes(&self.0).map_err(|_| CryptoError::InvalidPublicKey)?;
        let point = key.as_affine().to_encoded_point(false);
        let mut out = [0u8; 64];
        out.copy_from_slice(&point.as_bytes()[1..]);
        Ok(out)
    }
}

fn compress(point: &k256::EncodedPoint) -> Public {
    let mut out = [0u8; 33];
    out.copy_from_slice(point.as_bytes());
    Public(out)
}

/// A secp256k1 key pair.
#[derive(Clone)]
pub struct Pair {
    secret: k256::ecdsa::SigningKey,
    public: Public,
}

impl Pair {
    /// Builds the pair for a 32-byte secret scalar. Fails (instead of
    /// panicking) for the ~2⁻¹²⁸ fraction of seeds that are zero or `≥ n`.
    pub fn from_seed(seed: &[u8; 32]) -> Result<Pair, CryptoError> {
        let secret =
            k256::ecdsa::SigningKey::from_bytes(&FieldBytes::from(*seed)).map_err(|_| CryptoError::InvalidSecretKey)?;
        let public = compress(&secret.verifying_key().as_affine().to_encoded_point(true));
        Ok(Pair { secret, public })
    }

    /// The secret seed (big-endian scalar).
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes().into())
    }

    /// The compressed public key.
    pub fn public(&self) -> Public {
        self.public
    }

    /// Signs `blake2_256(message)` (Substrate's `ecdsa::Pair::sign`).
    pub fn sign(&self, message: &[u8]) -> Signature {
        self.sign_prehashed(&blake2_256(message))
    }

    /// Signs a 32-byte message hash (RFC 6979, low-`s`, `v ∈ {0, 1}`).
    pub fn sign_prehashed(&self, message_hash: &[u8; 32]) -> Signature {
        let (signature, recovery_id) = self
            .secret
            .sign_prehash_recoverable(message_hash)
            // Fails only if RFC 6979 yields r = 0 or s = 0, which would mean
            // finding a preimage for SHA-256/secp256k1: cryptographically
            // unreachable, and `message_hash` has the required length.
            .expect("RFC 6979 signing of a 32-byte hash cannot fail");
        let mut out = [0u8; 65];
        out[..64].copy_from_slice(&signature.to_bytes());
        out[64] = recovery_id.to_byte();
        Signature(out)
    }

    /// Same as the free function [`verify`].
    pub fn verify(signature: &Signature, message: &[u8], public: &Public) -> bool {
        verify(signature, message, public)
    }

    /// Same as the free function [`verify_prehashed`].
    pub fn verify_prehashed(signature: &Signature, message_hash: &[u8; 32], public: &Public) -> bool {
        verify_prehashed(signature, message_hash, public)
    }

    /// Interprets a secret URI; see [`crate::dev`]. Soft junctions are
    /// rejected with [`SecretStringError::InvalidPath`].
    pub fn from_string(s: &str, password: Option<&str>) -> Result<Pair, SecretStringError> {
        <Self as SuriPair>::from_string(s, password)
    }
}

impl core::fmt::Debug for Pair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ecdsa::Pair").field("public", &self.public).finish()
    }
}

impl SuriPair for Pair {
    fn from_seed_slice(seed: &[u8]) -> Result<Self, SecretStringError> {
        let seed: &[u8; 32] = seed.try_into().map_err(|_| SecretStringError::InvalidSeedLength)?;
        Pair::from_seed(seed).map_err(|_| SecretStringError::InvalidSeed)
    }

    fn derive(
        &self,
        path: &[DeriveJunction],
        _seed: Option<[u8; 32]>,
    ) -> Result<(Self, Option<[u8; 32]>), SecretStringError> {
        let mut acc = self.seed();
        for junction in path {
            match junction {
                DeriveJunction::Soft(_) => return Err(SecretStringError::InvalidPath),
                DeriveJunction::Hard(cc) => *acc = derive_hard_seed("Secp256k1HDKD", &acc, cc),
            }
        }
        let pair = Pair::from_seed(&acc).map_err(|_| SecretStringError::InvalidSeed)?;
        Ok((pair, Some(*acc)))
    }
}

/// How `r` and `s` are parsed.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Parse {
    /// Reject values `≥ n` (secp256k1 `from_compact`).
    Strict,
    /// Reduce modulo `n` (libsecp256k1 `parse_overflowing`).
    Overflowing,
}

fn parse_scalar(bytes: &[u8], mode: Parse) -> Option<Scalar> {
    let bytes = FieldBytes::clone_from_slice(bytes);
    match mode {
        Parse::Strict => Option::from(Scalar::from_repr(bytes)),
        Parse::Overflowing => Some(<Scalar as Reduce<U256>>::reduce_bytes(&bytes)),
    }
}

/// `x + n` on 256-bit big-endian integers, `None` on overflow.
fn add_order(x: &FieldBytes) -> Option<FieldBytes> {
    let mut out = FieldBytes::default();
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let sum = u16::from(x[i]) + u16::from(ORDER[i]) + carry;
        out[i] = sum as u8;
        carry = sum >> 8;
    }
    (carry == 0).then_some(out)
}

/// Core recovery `Q = r⁻¹(sR − zG)` with a recovery id in `0..=3`.
fn recover_point(r: Scalar, s: Scalar, recid: u8, message_hash: &[u8; 32]) -> Option<AffinePoint> {
    if bool::from(r.is_zero()) || bool::from(s.is_zero()) {
        return None;
    }
    let mut x = r.to_repr();
    if recid & 2 != 0 {
        // x-coordinate was reduced modulo n; it must stay below p, which
        // `decompress` checks.
        x = add_order(&x)?;
    }
    let big_r: AffinePoint = Option::from(AffinePoint::decompress(&x, Choice::from(recid & 1)))?;
    let z = <Scalar as Reduce<U256>>::reduce_bytes(&FieldBytes::from(*message_hash));
    let r_inv: Scalar = Option::from(r.invert())?;
    let u1 = -(r_inv * z);
    let u2 = r_inv * s;
    let q = ProjectivePoint::lincomb(&ProjectivePoint::GENERATOR, &u1, &ProjectivePoint::from(big_r), &u2);
    if bool::from(q.is_identity()) {
        return None;
    }
    Some(q.to_affine())
}

/// Host-function recovery: `v` may be `0..=3` or `27..=30`.
fn recover_host(signature: &[u8; 65], message_hash: &[u8; 32], mode: Parse) -> Result<AffinePoint, RecoverError> {
    let v = signature[64];
    let recid = if v > 26 { v - 27 } else { v };
    if recid > 3 {
        return Err(RecoverError::BadV);
    }
    let r = parse_scalar(&signature[..32], mode).ok_or(RecoverError::BadRS)?;
    let s = parse_scalar(&signature[32..64], mode).ok_or(RecoverError::BadRS)?;
    recover_point(r, s, recid, message_hash).ok_or(RecoverError::BadSignature)
}

fn uncompressed(point: &AffinePoint) -> [u8; 64] {
    let encoded = point.to_encoded_point(false);
    let mut out = [0u8; 64];
    out.copy_from_slice(&encoded.as_bytes()[1..]);
    out
}

fn compressed(point: &AffinePoint) -> [u8; 33] {
    compress(&point.to_encoded_point(true)).0
}

/// Recovers the signer's uncompressed public key (64 bytes, no `0x04`)
/// with `ext_crypto_secp256k1_ecdsa_recover_version_2` semantics (strict
/// `r`/`s` parsing). Never panics.
pub fn recover(signature: &[u8; 65], message_hash: &[u8; 32]) -> Result<[u8; 64], RecoverError> {
    recover_host(signature, message_hash, Parse::Strict).map(|p| uncompressed(&p))
}

/// Like [`recover`] but returns the compressed key
/// (`ext_crypto_secp256k1_ecdsa_recover_compressed_version_2`).
pub fn recover_compressed(signature: &[u8; 65], message_hash: &[u8; 32]) -> Result<[u8; 33], RecoverError> {
    recover_host(signature, message_hash, Parse::Strict).map(|p| compressed(&p))
}

/// Recovery with `ext_crypto_secp256k1_ecdsa_recover_version_1` semantics:
/// `r` and `s` are reduced modulo `n` (see the module documentation).
pub fn recover_overflowing(signature: &[u8; 65], message_hash: &[u8; 32]) -> Result<[u8; 64], RecoverError> {
    recover_host(signature, message_hash, Parse::Overflowing).map(|p| uncompressed(&p))
}

/// Compressed-output variant of [`recover_overflowing`]
/// (`ext_crypto_secp256k1_ecdsa_recover_compressed_version_1`).
pub fn recover_compressed_overflowing(signature: &[u8; 65], message_hash: &[u8; 32]) -> Result<[u8; 33], RecoverError> {
    recover_host(signature, message_hash, Parse::Overflowing).map(|p| compressed(&p))
}

/// `sp-core` style recovery used by verification: `v` must be `0..=3`.
fn recover_for_verify(signature: &Signature, message_hash: &[u8; 32], mode: Parse) -> Option<Public> {
    let recid = signature.0[64];
    if recid > 3 {
        return None;
    }
    let r = parse_scalar(&signature.0[..32], mode)?;
    let s = parse_scalar(&signature.0[32..64], mode)?;
    recover_point(r, s, recid, message_hash).map(|p| Public(compressed(&p)))
}

/// Verifies a signature over `blake2_256(message)` by recovering the key
/// and comparing (`ext_crypto_ecdsa_verify_version_2`). Never panics.
pub fn verify(signature: &Signature, message: &[u8], public: &Public) -> bool {
    verify_prehashed(signature, &blake2_256(message), public)
}

/// Verifies a signature over a 32-byte message hash
/// (`ext_crypto_ecdsa_verify_prehashed_version_1`).
pub fn verify_prehashed(signature: &Signature, message_hash: &[u8; 32], public: &Public) -> bool {
    recover_for_verify(signature, message_hash, Parse::Strict).is_some_and(|key| key == *public)
}

/// `ext_crypto_ecdsa_verify_version_1`: like [`verify`] but with
/// overflowing `r`/`s` parsing.
pub fn verify_overflowing(signature: &Signature, message: &[u8], public: &Public) -> bool {
    recover_for_verify(signature, &blake2_256(message), Parse::Overflowing).is_some_and(|key| key == *public)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    /// Big-endian `a + b` (no overflow expected in tests).
    fn add_be(a: &[u8], b: &[u8; 32]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut carry = 0u16;
        for i in (0..32).rev() {
            let v = u16::from(a[i]) + u16::from(b[i]) + carry;
            out[i] = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        out
    }

    /// Big-endian `n - a`.
    fn neg_be(a: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        let mut borrow = 0i16;
        for i in (0..32).rev() {
            let mut v = i16::from(ORDER[i]) - i16::from(a[i]) - borrow;
            borrow = 0;
            if v < 0 {
                v += 256;
                borrow = 1;
            }
            out[i] = v as u8;
        }
        out
    }

    /// sp-core's ECDSA test vector: deterministic signature of `""`.
    #[test]
    fn sp_core_test_vector() {
        let pair = Pair::from_seed(&h32("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")).unwrap();
        let full = hex::decode("8db55b05db86c0b1786ca49f095d76344c9e6056b2f02701a7e7f3c20aabfd913ebbe148dd17c56551a52952371071a6c604b3f3abe8f2c8fa742158ea6dd7d4").unwrap();
        assert_eq!(pair.public(), Public::from_full(&full).unwrap());
        assert_eq!(pair.public().to_uncompressed().unwrap().to_vec(), full);
        let expected = Signature(hex::decode("3dde91174bd9359027be59a428b8146513df80a2a3c7eda2194f64de04a69ab97b753169e94db6ffd50921a2668a48b94ca11e3d32c1ff19cfe88890aa7e8f3c00").unwrap().try_into().unwrap());
        assert_eq!(pair.sign(b""), expected);
        assert!(verify(&expected, b"", &pair.public()));

        let pair = Pair::from_seed(b"12345678901234567890123456789012").unwrap();
        let full = hex::decode("5676109c54b9a16d271abeb4954316a40a32bcce023ac14c8e26e958aa68fba995840f3de562156558efbfdac3f16af0065e5f66795f4dd8262a228ef8c6d813").unwrap();
        assert_eq!(pair.public(), Public::from_full(&full).unwrap());
        // polkadot-js/subkey vector: this key under SS58 prefix 200.
        assert_eq!(pair.public().to_ss58_public(200), "4pbsSkWcBaYoFHrKJZp5fDVUKbqSYD9dhZZGvpp3vQ5ysVs5ybV");
    }

    #[test]
    fn sign_verify_recover() {
        let pair = Pair::from_seed(&[7u8; 32]).unwrap();
        let msg = b"this should be hashed";
        let sig = pair.sign(msg);
        assert_eq!(sig, pair.sign_prehashed(&blake2_256(msg)));
        assert!(sig.0[64] <= 1);
        assert!(Pair::verify(&sig, msg, &pair.public()));
        assert!(verify_overflowing(&sig, msg, &pair.public()));
        assert!(Pair::verify_prehashed(&sig, &blake2_256(msg), &pair.public()));
        assert!(!verify(&sig, b"other", &pair.public()));
        assert!(!verify_prehashed(&sig, &[0u8; 32], &pair.public()));

        let hash = blake2_256(msg);
        let full = recover(&sig.0, &hash).unwrap();
        assert_eq!(full, pair.public().to_uncompressed().unwrap());
        assert_eq!(recover_compressed(&sig.0, &hash).unwrap(), pair.public().0);
        assert_eq!(recover_overflowing(&sig.0, &hash).unwrap(), full);
        assert_eq!(recover_compressed_overflowing(&sig.0, &hash).unwrap(), pair.public().0);

        // v = 27/28 is accepted by the host functions, not by `verify`.
        let mut eth = sig;
        eth.0[64] += 27;
        assert_eq!(recover(&eth.0, &hash).unwrap(), full);
        assert!(!verify(&eth, msg, &pair.public()));
        for v in [4u8, 26, 31, 255] {
            let mut bad = sig;
            bad.0[64] = v;
            assert_eq!(recover(&bad.0, &hash), Err(RecoverError::BadV));
            assert!(!verify(&bad, msg, &pair.public()));
        }

        for bit in [0usize, 9, 255, 256, 300, 511] {
            let mut bad = sig;
            bad.0[bit / 8] ^= 1 << (bit % 8);
            assert!(!verify(&bad, msg, &pair.public()), "bit {bit}");
            if let Ok(key) = recover_compressed(&bad.0, &hash) {
                assert_ne!(key, pair.public().0);
            }
        }
    }

    #[test]
    fn high_s_and_overflowing_values() {
        let pair = Pair::from_seed(&[11u8; 32]).unwrap();
        let hash = blake2_256(b"edge cases");
        let sig = pair.sign_prehashed(&hash);
        let expected = recover(&sig.0, &hash).unwrap();

        // High-s with flipped parity recovers the same key (host accepts it).
        let mut high = sig;
        high.0[32..64].copy_from_slice(&neg_be(&sig.0[32..64]));
        high.0[64] ^= 1;
        assert_eq!(recover(&high.0, &hash).unwrap(), expected);
        assert!(verify_prehashed(&high, &hash, &pair.public()));

        // Values in [n, 2^256) are BadRS for v2 and reduced modulo n by v1:
        // (r, n + 1) behaves like (r, 1), and (n + x, s) like (x, s).
        let mut one = [0u8; 32];
        one[31] = 1;
        let mut s_is_one = sig;
        s_is_one.0[32..64].copy_from_slice(&one);
        let mut overflow_s = sig;
        overflow_s.0[32..64].copy_from_slice(&add_be(&one, &ORDER));
        assert_eq!(recover(&overflow_s.0, &hash), Err(RecoverError::BadRS));
        let key = recover_compressed(&s_is_one.0, &hash).unwrap();
        assert_eq!(recover_compressed_overflowing(&overflow_s.0, &hash), Ok(key));
        // verify_overflowing accepts it for the recovered key, verify does not.
        let hash_of_msg = blake2_256(b"msg");
        let key = Public(recover_compressed(&s_is_one.0, &hash_of_msg).unwrap());
        assert!(verify_overflowing(&overflow_s, b"msg", &key));
        assert!(!verify(&overflow_s, b"msg", &key));
        assert!(verify(&s_is_one, b"msg", &key));
        for x in 1u8..=8 {
            let mut small_x = [0u8; 32];
            small_x[31] = x;
            let mut strict = sig;
            strict.0[..32].copy_from_slice(&small_x);
            let mut overflowing = sig;
            overflowing.0[..32].copy_from_slice(&add_be(&small_x, &ORDER));
            assert_eq!(recover(&overflowing.0, &hash), Err(RecoverError::BadRS));
            assert_eq!(recover_overflowing(&overflowing.0, &hash), recover(&strict.0, &hash));
        }

        // r = n reduces to zero: BadSignature in v1, BadRS in v2.
        let mut r_is_n = sig;
        r_is_n.0[..32].copy_from_slice(&ORDER);
        assert_eq!(recover(&r_is_n.0, &hash), Err(RecoverError::BadRS));
        assert_eq!(recover_overflowing(&r_is_n.0, &hash), Err(RecoverError::BadSignature));

        // Zero r or s.
        let mut zero = sig;
        zero.0[..32].fill(0);
        assert_eq!(recover(&zero.0, &hash), Err(RecoverError::BadSignature));
        let mut zero = sig;
        zero.0[32..64].fill(0);
        assert_eq!(recover(&zero.0, &hash), Err(RecoverError::BadSignature));
        // All-ones r/s.
        assert_eq!(recover(&[0xff; 65], &hash), Err(RecoverError::BadV));
        let mut ones = [0xffu8; 65];
        ones[64] = 0;
        assert_eq!(recover(&ones, &hash), Err(RecoverError::BadRS));
        // Overflowing parsing reduces both to 2^256 - 1 - n (valid scalars).
        assert_ne!(recover_overflowing(&ones, &hash), Err(RecoverError::BadRS));

        // x-reduced recovery ids (2, 3) with a large r cannot lift to a point.
        let mut xr = sig;
        xr.0[64] = 2 + (sig.0[64] & 1);
        assert_eq!(recover(&xr.0, &hash), Err(RecoverError::BadSignature));
    }

    /// An r that is not the x-coordinate of any curve point.
    #[test]
    fn r_not_on_curve() {
        let hash = [1u8; 32];
        let mut found = false;
        for x in 1u8..=50 {
            let mut sig = [0u8; 65];
            sig[31] = x;
            sig[63] = 1;
            let mut bytes = FieldBytes::default();
            bytes[31] = x;
            if bool::from(AffinePoint::decompress(&bytes, Choice::from(0)).is_none()) {
                assert_eq!(recover(&sig, &hash), Err(RecoverError::BadSignature));
                found = true;
            } else {
                assert!(recover(&sig, &hash).is_ok());
            }
        }
        assert!(found);
    }

    #[test]
    fn derivation_vector_and_errors() {
        // From sp-core's ecdsa tests.
        let pair = Pair::from_seed(&h32("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")).unwrap();
        let (derived, seed) = pair.derive(&[DeriveJunction::Hard([0u8; 32])], None).unwrap();
        let expected = h32("b8eefc4937200a8382d00050e050ced2d4ab72cc2ef1b061477afb51564fdd61");
        assert_eq!(*derived.seed(), expected);
        assert_eq!(seed, Some(expected));
        assert_eq!(pair.derive(&[DeriveJunction::soft(1u64)], None).unwrap_err(), SecretStringError::InvalidPath);
        assert_eq!(Pair::from_seed(&[0u8; 32]).unwrap_err(), CryptoError::InvalidSecretKey);
        assert_eq!(Pair::from_seed(&ORDER).unwrap_err(), CryptoError::InvalidSecretKey);
        assert!(Public::from_full(&[0u8; 64]).is_err());
        assert!(Public::from_full(&[2u8; 10]).is_err());
        assert!(Public([0u8; 33]).to_uncompressed().is_err());
    }
}

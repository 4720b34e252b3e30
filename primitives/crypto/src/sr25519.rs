//! sr25519 (Schnorr signatures over Ristretto25519, `schnorrkel`) keys,
//! signatures and the VRF used by BABE.
//!
//! * Seeds are schnorrkel mini secret keys expanded in `ExpandEd25519` mode,
//!   exactly as Substrate does, so the same 32-byte seed gives the same
//!   public key as `subkey`.
//! * Signatures use the signing context `b"substrate"`; signing uses a
//!   random nonce (mixed with the transcript), so signatures are not
//!   deterministic.
//! * [`verify`] is the current host semantics (`ext_crypto_sr25519_verify`
//!   version 2): the signature must carry schnorrkel's marker bit (the high
//!   bit of byte 63) and `s` must be canonical.
//! * [`verify_deprecated`] is `ext_crypto_sr25519_verify` version 1: it also
//!   accepts signatures produced by schnorrkel 0.1.1 (pre-audit, without
//!   the marker bit and with a different transcript layout), for old blocks.
//! * VRF: [`vrf_sign`] / [`vrf_verify`] produce and check the 32-byte
//!   pre-output and 64-byte proof carried in BABE pre-digests (`extra`
//!   transcript `b"VRF"`, Kusama-compatible DLEQ proofs), like
//!   `sp_core::sr25519::vrf` and `sp-consensus-babe`.

use schnorrkel::derive::{ChainCode, Derivation as _};
use schnorrkel::{ExpansionMode, Keypair, MiniSecretKey, PublicKey, SecretKey};

use crate::dev::{DeriveJunction, SecretStringError, SuriPair};
use crate::CryptoError;

/// The signing context of all Substrate sr25519 signatures.
pub const SIGNING_CONTEXT: &[u8] = b"substrate";

/// Length of a VRF pre-output.
pub const VRF_PRE_OUTPUT_LENGTH: usize = 32;
/// Length of a VRF proof.
pub const VRF_PROOF_LENGTH: usize = 64;

/// A VRF pre-output (compressed Ristretto point).
pub type VrfPreOutput = [u8; VRF_PRE_OUTPUT_LENGTH];
/// A VRF proof (`c ‖ s`).
pub type VrfProof = [u8; VRF_PROOF_LENGTH];

byte_array_newtype!(
    /// An sr25519 public key (compressed Ristretto point).
    Public,
    32,
    "sr25519 public key"
);

byte_array_newtype!(
    /// An sr25519 signature `R ‖ s` (with schnorrkel's marker bit).
    Signature,
    64,
    "sr25519 signature"
);

impl Public {
    /// The SS58 address of this key (the key itself is the account id).
    pub fn to_ss58(&self, prefix: u16) -> String {
        crate::ss58::encode(&self.0, prefix)
    }

    /// Applies soft junctions to a public key, as `sp-core` does; `None` if
    /// the path contains a hard junction or the key is not a valid point.
    pub fn derive(&self, path: &[DeriveJunction]) -> Option<Public> {
        let mut acc = PublicKey::from_bytes(&self.0).ok()?;
        for junction in path {
            match junction {
                DeriveJunction::Soft(cc) => acc = acc.derived_key_simple(ChainCode(*cc), b"").0,
                DeriveJunction::Hard(_) => return None,
            }
        }
        Some(Public(acc.to_bytes()))
    }
}

/// An sr25519 key pair.
#[derive(Clone)]
pub struct Pair(Keypair);

impl Pair {
    /// Builds the pair for a 32-byte mini secret key (ExpandEd25519 mode).
    pub fn from_seed(seed: &[u8; 32]) -> Pair {
        match MiniSecretKey::from_bytes(seed) {
            Ok(mini) => Pair(mini.expand_to_keypair(ExpansionMode::Ed25519)),
            // A 32-byte slice is always a valid mini secret key.
            Err(_) => unreachable!("MiniSecretKey::from_bytes only checks the length"),
        }
    }

    /// Builds the pair from a 64-byte expanded secret key (`key ‖ nonce`,
    /// as returned by [`Pair::to_secret_bytes`]).
    pub fn from_secret_bytes(bytes: &[u8]) -> Result<Pair, CryptoError> {
        let secret = SecretKey::from_bytes(bytes).map_err(|_| CryptoError::InvalidSecretKey)?;
        Ok(Pair(secret.to_keypair()))
    }

    /// The 64-byte expanded secret key.
    pub fn to_secret_bytes(&self) -> zeroize::Zeroizing<[u8; 64]> {
        zeroize::Zeroizing::new(self.0.secret.to_bytes())
    }

    /// The public key.
    pub fn public(&self) -> Public {
        Public(self.0.public.to_bytes())
    }

    /// Signs `message` under the `substrate` context.
    pub fn sign(&self, message: &[u8]) -> Signature {
        let context = schnorrkel::signing_context(SIGNING_CONTEXT);
        Signature(self.0.sign(context.bytes(message)).to_bytes())
    }

    /// Verifies with host semantics; same as the free function [`verify`].
    pub fn verify(signature: &Signature, message: &[u8], public: &Public) -> bool {
        verify(signature, message, public)
    }

    /// The underlying schnorrkel key pair (for VRF variants not wrapped here).
    pub fn as_schnorrkel(&self) -> &Keypair {
        &self.0
    }

    /// Interprets a secret URI; see [`crate::dev`].
    pub fn from_string(s: &str, password: Option<&str>) -> Result<Pair, SecretStringError> {
        <Self as SuriPair>::from_string(s, password)
    }
}

impl From<Keypair> for Pair {
    fn from(keypair: Keypair) -> Self {
        Pair(keypair)
    }
}

impl core::fmt::Debug for Pair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("sr25519::Pair").field("public", &self.public()).finish()
    }
}

impl SuriPair for Pair {
    /// Accepts a 32-byte mini secret key or a 64-byte expanded secret key.
    fn from_seed_slice(seed: &[u8]) -> Result<Self, SecretStringError> {
        match seed.len() {
            32 => {
                let mini = MiniSecretKey::from_bytes(seed).map_err(|_| SecretStringError::InvalidSeed)?;
                Ok(Pair(mini.expand_to_keypair(ExpansionMode::Ed25519)))
            }
            64 => Pair::from_secret_bytes(seed).map_err(|_| SecretStringError::InvalidSeed),
            _ => Err(SecretStringError::InvalidSeedLength),
        }
    }

    fn derive(
        &self,
        path: &[DeriveJunction],
        seed: Option<[u8; 32]>,
    ) -> Result<(Self, Option<[u8; 32]>), SecretStringError> {
        // Only keep tracking a seed if it really is the seed of `self`.
        let mut seed = seed
            .and_then(|s| MiniSecretKey::from_bytes(&s).ok())
            .filter(|mini| mini.expand(ExpansionMode::Ed25519) == self.0.secret);
        let mut acc = self.0.secret.clone();
        for junction in path {
            match junction {
                DeriveJunction::Soft(cc) => {
                    acc = acc.derived_key_simple(ChainCode(*cc), b"").0;
                    seed = None;
                }
                DeriveJunction::Hard(cc) => {
                    let mini = acc.hard_derive_mini_secret_key(Some(ChainCode(*cc)), b"").0;
                    acc = mini.expand(ExpansionMode::Ed25519);
                    seed = seed.map(|_| mini);
                }
            }
        }
        Ok((Pair(acc.to_keypair()), seed.map(|mini| mini.to_bytes())))
    }
}

/// Verifies an sr25519 signature with the current host semantics
/// (`ext_crypto_sr25519_verify_version_2`). Never panics.
pub fn verify(signature: &Signature, message: &[u8], public: &Public) -> bool {
    let Ok(signature) = schnorrkel::Signature::from_bytes(&signature.0) else {
        return false;
    };
    let Ok(public) = PublicKey::from_bytes(&public.0) else {
        return false;
    };
    public.verify_simple(SIGNING_CONTEXT, message, &signature).is_ok()
}

/// Verifies like `ext_crypto_sr25519_verify_version_1`: accepts current
/// signatures and also the pre-audit schnorrkel 0.1.1 format (no marker bit,
/// older transcript), via schnorrkel's `verify_simple_preaudit_deprecated`.
pub fn verify_deprecated(signature: &Signature, message: &[u8], public: &Public) -> bool {
    let Ok(public) = PublicKey::from_bytes(&public.0) else {
        return false;
    };
    public.verify_simple_preaudit_deprecated(SIGNING_CONTEXT, message, &signature.0).is_ok()
}

/// Evaluates the VRF on `transcript` and proves it (BABE slot claims).
/// Returns the pre-output and the proof.
pub fn vrf_sign(pair: &Pair, transcript: merlin::Transcript) -> (VrfPreOutput, VrfProof) {
    let (inout, proof, _) = pair.0.vrf_sign(transcript);
    (inout.to_preout().to_bytes(), proof.to_bytes())
}

/// Verifies a VRF pre-output and proof for `transcript` under `public`,
/// returning the input/output pair from which BABE derives randomness and
/// the threshold check value (`inout.make_bytes(...)`).
pub fn vrf_verify(
    public: &Public,
    transcript: merlin::Transcript,
    pre_output: &VrfPreOutput,
    proof: &VrfProof,
) -> Result<schnorrkel::vrf::VRFInOut, CryptoError> {
    let public = PublicKey::from_bytes(&public.0)?;
    let pre_output = schnorrkel::vrf::VRFPreOut::from_bytes(pre_output)?;
    let proof = schnorrkel::vrf::VRFProof::from_bytes(proof)?;
    let (inout, _) = public.vrf_verify(transcript, &pre_output, &proof)?;
    Ok(inout)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h32(s: &str) -> [u8; 32] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    fn h64(s: &str) -> [u8; 64] {
        hex::decode(s).unwrap().try_into().unwrap()
    }

    #[test]
    fn known_seeds() {
        // From sp-core's sr25519 tests.
        let pair = Pair::from_seed(&h32("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
        assert_eq!(pair.public(), Public(h32("44a996beb1eef7bdcab976ab6d2ca26104834164ecf28fb375600576fcc6eb0f")));
        let sig = pair.sign(b"");
        assert!(verify(&sig, b"", &pair.public()));

        let pair = Pair::from_seed(b"12345678901234567890123456789012");
        assert_eq!(pair.public(), Public(h32("741c08a06f41c596608f6774259bd9043304adfa5d3eea62760bd9be97634d63")));
    }

    #[test]
    fn round_trip_and_bit_flips() {
        let pair = Pair::from_seed(&[3u8; 32]);
        let msg = b"Signed payload";
        let sig = pair.sign(msg);
        assert!(Pair::verify(&sig, msg, &pair.public()));
        assert!(verify_deprecated(&sig, msg, &pair.public()));
        for bit in [0usize, 77, 255, 256, 400, 510] {
            let mut bad = sig;
            bad.0[bit / 8] ^= 1 << (bit % 8);
            assert!(!verify(&bad, msg, &pair.public()), "bit {bit}");
        }
        // Clearing the marker bit makes it a non-schnorrkel signature.
        let mut unmarked = sig;
        unmarked.0[63] &= 0x7f;
        assert!(!verify(&unmarked, msg, &pair.public()));
        assert!(!verify(&sig, b"Signed payloae", &pair.public()));
        assert!(!verify(&sig, msg, &Public([0xffu8; 32])));
    }

    /// Signatures made by schnorrkel 0.1.1 (sp-core tests): only the
    /// deprecated verifier accepts them.
    #[test]
    fn deprecated_signatures() {
        let public = Public(h32("b4bfa1f7a5166695eb75299fd1c4c03ea212871c342f2c5dfea0902b2c246918"));
        let signature = Signature(h64("5a9755f069939f45d96aaf125cf5ce7ba1db998686f87f2fb3cbdea922078741a73891ba265f70c31436e18a9acd14d189d73c12317ab6c313285cd938453202"));
        let message =
            b"Verifying that I am the owner of 5G9hQLdsKQswNPgB499DeA5PkFBbgkLPJWkkS6FAM6xGQ8xD. Hash: 221455a3\n";
        assert!(verify_deprecated(&signature, message, &public));
        assert!(!verify(&signature, message, &public));

        let pair = Pair::from_seed(&[0u8; 32]);
        let js_signature = Signature(h64("28a854d54903e056f89581c691c1f7d2ff39f8f896c9e9c22475e60902cc2b3547199e0e91fa32902028f2ca2355e8cdd16cfe19ba5e8b658c94aa80f3b81a00"));
        assert!(verify_deprecated(&js_signature, b"SUBSTRATE", &pair.public()));
        assert!(!verify(&js_signature, b"SUBSTRATE", &pair.public()));
    }

    #[test]
    fn soft_and_hard_derivation() {
        let pair = Pair::from_seed(&h32("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
        let soft = [DeriveJunction::soft(1u64)];
        let (d1, seed1) = pair.derive(&soft, None).unwrap();
        let (d1b, _) = pair.derive(&soft, None).unwrap();
        let (d2, _) = pair.derive(&[DeriveJunction::soft(2u64)], None).unwrap();
        assert_eq!(d1.public(), d1b.public());
        assert_ne!(d1.public(), d2.public());
        assert_eq!(seed1, None);
        assert_eq!(pair.public().derive(&soft), Some(d1.public()));

        let hard = [DeriveJunction::hard(1u64)];
        let (h1, _) = pair.derive(&hard, None).unwrap();
        let (h1b, _) = pair.derive(&hard, None).unwrap();
        assert_eq!(h1.public(), h1b.public());
        assert_ne!(h1.public(), d1.public());
        assert_eq!(pair.public().derive(&hard), None);

        // With a matching seed, hard derivation keeps track of the seed.
        let seed = h32("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60");
        let (h1s, hseed) = pair.derive(&hard, Some(seed)).unwrap();
        assert_eq!(Pair::from_seed(&hseed.unwrap()).public(), h1s.public());
        // A seed that does not belong to the pair is ignored.
        assert_eq!(pair.derive(&hard, Some([1u8; 32])).unwrap().1, None);
    }

    #[test]
    fn vrf_round_trip() {
        let pair = Pair::from_seed(b"12345678901234567890123456789012");
        let transcript = || {
            let mut t = merlin::Transcript::new(b"BABE");
            t.append_u64(b"slot number", 42);
            t.append_u64(b"current epoch", 7);
            t.append_message(b"chain randomness", &[5u8; 32]);
            t
        };
        let (pre_output, proof) = vrf_sign(&pair, transcript());
        let inout = vrf_verify(&pair.public(), transcript(), &pre_output, &proof).unwrap();
        assert_eq!(inout.to_preout().to_bytes(), pre_output);
        // The output is a deterministic function of key and transcript.
        let (pre_output2, _) = vrf_sign(&pair, transcript());
        assert_eq!(pre_output, pre_output2);
        let bytes: [u8; 16] = inout.make_bytes(b"substrate-babe-vrf");
        let again: [u8; 16] = pair.0.vrf_create_hash(transcript()).make_bytes(b"substrate-babe-vrf");
        assert_eq!(bytes, again);

        let mut other = transcript();
        other.append_message(b"extra", b"x");
        assert!(vrf_verify(&pair.public(), other, &pre_output, &proof).is_err());
        let mut bad_proof = proof;
        bad_proof[5] ^= 1;
        assert!(vrf_verify(&pair.public(), transcript(), &pre_output, &bad_proof).is_err());
        let other_key = Pair::from_seed(&[8u8; 32]).public();
        assert!(vrf_verify(&other_key, transcript(), &pre_output, &proof).is_err());
        assert!(vrf_verify(&Public([0xff; 32]), transcript(), &pre_output, &proof).is_err());
        assert!(vrf_verify(&pair.public(), transcript(), &[0xff; 32], &proof).is_err());
    }

    #[test]
    fn secret_bytes_round_trip() {
        let pair = Pair::from_seed(&[4u8; 32]);
        let restored = Pair::from_secret_bytes(&pair.to_secret_bytes()[..]).unwrap();
        assert_eq!(restored.public(), pair.public());
        assert!(Pair::from_secret_bytes(&[0u8; 63]).is_err());
        assert_eq!(<Pair as SuriPair>::from_seed_slice(&[0u8; 31]).unwrap_err(), SecretStringError::InvalidSeedLength);
    }
}

//! Ed25519 keys and signatures with Polkadot Host verification semantics.
//!
//! Signing is plain RFC 8032 Ed25519 (deterministic). Verification follows
//! the host function `ext_crypto_ed25519_verify`, which Substrate implements
//! with `ed25519-zebra`, i.e. the ZIP-215 rules:
//!
//! * the public key `A` and the commitment `R` may be non-canonical
//!   encodings (y ≥ p) and may be small-order points (including the
//!   identity): they are accepted as long as they decode to a curve point;
//! * the scalar `s` must be canonical (`s < ℓ`), otherwise the signature is
//!   rejected;
//! * the check is the cofactored equation `[8][s]B = [8]R + [8][k]A` with
//!   `k = SHA-512(R_bytes ‖ A_bytes ‖ M)` over the bytes as given.
//!
//! [`verify_dalek_legacy`] instead reproduces `ed25519-dalek` 2's
//! non-strict `verify`, which Substrate uses for old blocks when the
//! `UseDalekExt` extension is registered (chains whose history predates the
//! switch to zebra). It differs from [`verify`] in that it checks the
//! *cofactorless* equation `R = [s]B − [k]A` by comparing the canonical
//! re-encoding of the computed `R` with the given bytes, so signatures whose
//! `R` is non-canonically encoded, or which only verify modulo the
//! small-order subgroup, are rejected. Both reject non-canonical `s`, and
//! neither rejects small-order or non-canonical public keys.

use ed25519_dalek::Signer as _;
use zeroize::Zeroizing;

use crate::dev::{derive_hard_seed, DeriveJunction, SecretStringError, SuriPair};

byte_array_newtype!(
    /// An ed25519 public key (compressed Edwards y-coordinate).
    Public,
    32,
    "ed25519 public key"
);

byte_array_newtype!(
    /// An ed25519 signature `R ‖ s`.
    Signature,
    64,
    "ed25519 signature"
);

impl Public {
    /// The SS58 address of this key (the key itself is the account id).
    pub fn to_ss58(&self, prefix: u16) -> String {
        crate::ss58::encode(&self.0, prefix)
    }
}

/// An ed25519 key pair, kept together with the 32-byte seed it came from.
#[derive(Clone)]
pub struct Pair {
    secret: ed25519_dalek::SigningKey,
    public: Public,
}

impl Pair {
    /// Builds the pair for a 32-byte secret seed (RFC 8032 private key).
    pub fn from_seed(seed: &[u8; 32]) -> Pair {
        let secret = ed25519_dalek::SigningKey::from_bytes(seed);
        let public = Public(secret.verifying_key().to_bytes());
        Pair { secret, public }
    }

    /// The seed this pair was built from.
    pub fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(self.secret.to_bytes())
    }

    /// The public key.
    pub fn public(&self) -> Public {
        self.public
    }

    /// Signs `message` (RFC 8032, deterministic).
    pub fn sign(&self, message: &[u8]) -> Signature {
        Signature(self.secret.sign(message).to_bytes())
    }

    /// Verifies with host semantics; same as the free function [`verify`].
    pub fn verify(signature: &Signature, message: &[u8], public: &Public) -> bool {
        verify(signature, message, public)
    }

    /// Interprets a secret URI; see [`crate::dev`]. Soft junctions are
    /// rejected with [`SecretStringError::InvalidPath`].
    pub fn from_string(s: &str, password: Option<&str>) -> Result<Pair, SecretStringError> {
        <Self as SuriPair>::from_string(s, password)
    }
}

impl core::fmt::Debug for Pair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ed25519::Pair").field("public", &self.public).finish()
    }
}

impl SuriPair for Pair {
    fn from_seed_slice(seed: &[u8]) -> Result<Self, SecretStringError> {
        let seed: &[u8; 32] = seed.try_into().map_err(|_| SecretStringError::InvalidSeedLength)?;
        Ok(Pair::from_seed(seed))
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
                DeriveJunction::Hard(cc) => *acc = derive_hard_seed("Ed25519HDKD", &acc, cc),
            }
        }
        Ok((Pair::from_seed(&acc), Some(*acc)))
    }
}

/// Verifies an ed25519 signature exactly like the Polkadot Host's
/// `ext_crypto_ed25519_verify` (ZIP-215 / `ed25519-zebra`; see the module
/// documentation for the edge cases). Never panics.
pub fn verify(signature: &Signature, message: &[u8], public: &Public) -> bool {
    let Ok(key) = ed25519_zebra::VerificationKey::try_from(public.0) else {
        return false;
    };
    let signature = ed25519_zebra::Signature::from_bytes(&signature.0);
    key.verify(&signature, message).is_ok()
}

/// Verifies like `ed25519-dalek` 2's non-strict `verify` (Substrate's
/// `UseDalekExt` legacy path). See the module documentation.
pub fn verify_dalek_legacy(signature: &Signature, message: &[u8], public: &Public) -> bool {
    let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&public.0) else {
        return false;
    };
    let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
    ed25519_dalek::Verifier::verify(&key, message, &signature).is_ok()
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

    /// RFC 8032 section 7.1, test 1 (also Substrate's ed25519 test vector).
    #[test]
    fn rfc8032_test_1() {
        let pair = Pair::from_seed(&h32("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
        assert_eq!(pair.public(), Public(h32("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")));
        let expected = Signature(h64(
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ));
        assert_eq!(pair.sign(b""), expected);
        assert!(verify(&expected, b"", &pair.public()));
        assert!(verify_dalek_legacy(&expected, b"", &pair.public()));
        assert!(!verify(&expected, b"x", &pair.public()));
    }

    /// RFC 8032 section 7.1, test 2 (one-byte message).
    #[test]
    fn rfc8032_test_2() {
        let pair = Pair::from_seed(&h32("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb"));
        assert_eq!(pair.public(), Public(h32("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c")));
        let sig = pair.sign(&[0x72]);
        assert_eq!(
            sig,
            Signature(h64("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"))
        );
        assert!(verify(&sig, &[0x72], &pair.public()));
    }

    #[test]
    fn round_trip_and_bit_flips() {
        let pair = Pair::from_seed(b"12345678901234567890123456789012");
        assert_eq!(pair.public(), Public(h32("2f8c6129d816cf51c374bc7f08c3e63ed156cf78aefb4a6550d97b87997977ee")));
        let msg = b"Something important";
        let sig = pair.sign(msg);
        assert!(Pair::verify(&sig, msg, &pair.public()));
        for bit in [0usize, 100, 255, 300, 511] {
            let mut bad = sig;
            bad.0[bit / 8] ^= 1 << (bit % 8);
            assert!(!verify(&bad, msg, &pair.public()), "bit {bit}");
        }
        let mut bad_key = pair.public();
        bad_key.0[3] ^= 0x10;
        assert!(!verify(&sig, msg, &bad_key));
        assert!(!verify(&sig, b"Something else", &pair.public()));
    }

    #[test]
    fn seed_derivation_vector() {
        // From sp-core's ed25519 tests.
        let pair = Pair::from_seed(&h32("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"));
        let (derived, seed) = pair.derive(&[DeriveJunction::Hard([0u8; 32])], None).unwrap();
        let expected = h32("ede3354e133f9c8e337ddd6ee5415ed4b4ffe5fc7d21e933f4930a3730e5b21c");
        assert_eq!(*derived.seed(), expected);
        assert_eq!(seed, Some(expected));
        assert_eq!(pair.derive(&[DeriveJunction::soft(1u64)], None).unwrap_err(), SecretStringError::InvalidPath);
    }

    /// Non-canonical `s` (s + ℓ) is rejected by both verifiers, while an
    /// `R` with a small-order component only passes the cofactored check.
    #[test]
    fn zebra_vs_dalek_edge_cases() {
        let pair = Pair::from_seed(&[9u8; 32]);
        let msg = b"edge";
        let sig = pair.sign(msg);
        // s + ℓ: same value modulo ℓ, non-canonical encoding.
        const L: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0,
            0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let mut non_canonical = sig;
        let mut carry = 0u16;
        for (byte, l) in non_canonical.0[32..].iter_mut().zip(L) {
            let v = u16::from(*byte) + u16::from(l) + carry;
            *byte = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        assert!(!verify(&non_canonical, msg, &pair.public()));
        assert!(!verify_dalek_legacy(&non_canonical, msg, &pair.public()));

        // The identity public key with an identity R and s = 0 passes ZIP-215
        // (cofactored, small-order keys allowed) and also dalek's
        // non-strict check; neither panics.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&identity);
        assert!(verify(&Signature(sig), b"anything", &Public(identity)));
        assert!(verify_dalek_legacy(&Signature(sig), b"anything", &Public(identity)));

        // A key that is not a curve point fails cleanly.
        let not_a_point = (2u8..=255)
            .map(|y| {
                let mut b = [0u8; 32];
                b[0] = y;
                b
            })
            .find(|b| ed25519_dalek::VerifyingKey::from_bytes(b).is_err())
            .unwrap();
        assert!(!verify(&Signature(sig), b"anything", &Public(not_a_point)));
        assert!(!verify_dalek_legacy(&Signature(sig), b"anything", &Public(not_a_point)));
    }

    /// Signatures whose `R` has a small-order component, or whose `R` is
    /// encoded non-canonically, pass the ZIP-215 (zebra) check but fail
    /// dalek's cofactorless check.
    #[test]
    fn cofactored_vs_cofactorless() {
        use curve25519_dalek::constants::ED25519_BASEPOINT_POINT as B;
        use curve25519_dalek::edwards::CompressedEdwardsY;
        use curve25519_dalek::scalar::Scalar;
        use sha2::{Digest, Sha512};

        let seed = [5u8; 32];
        let pair = Pair::from_seed(&seed);
        let h = Sha512::digest(seed);
        let mut a_bytes = [0u8; 32];
        a_bytes.copy_from_slice(&h[..32]);
        a_bytes[0] &= 248;
        a_bytes[31] &= 127;
        a_bytes[31] |= 64;
        let a = Scalar::from_bytes_mod_order(a_bytes);
        assert_eq!((a * B).compress().to_bytes(), pair.public().0);

        // T = (0, -1), the point of order 2.
        let mut t_bytes = [0xffu8; 32];
        t_bytes[0] = 0xec;
        t_bytes[31] = 0x7f;
        let t = CompressedEdwardsY(t_bytes).decompress().unwrap();
        assert!(t.is_small_order());

        let msg = b"torsion";
        let r = Scalar::from_bytes_mod_order([17u8; 32]);
        let big_r = (r * B + t).compress().to_bytes();
        let k = Scalar::from_hash(Sha512::new().chain_update(big_r).chain_update(pair.public().0).chain_update(msg));
        let s = r + k * a;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&big_r);
        sig[32..].copy_from_slice(s.as_bytes());
        assert!(verify(&Signature(sig), msg, &pair.public()));
        assert!(!verify_dalek_legacy(&Signature(sig), msg, &pair.public()));

        // Identity key and identity R encoded non-canonically (y = p + 1).
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut non_canonical_identity = [0xffu8; 32];
        non_canonical_identity[0] = 0xee;
        non_canonical_identity[31] = 0x7f;
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&non_canonical_identity);
        assert!(verify(&Signature(sig), msg, &Public(identity)));
        assert!(!verify_dalek_legacy(&Signature(sig), msg, &Public(identity)));

        // A non-canonically encoded (small-order) public key is accepted by both.
        let mut sig = [0u8; 64];
        sig[..32].copy_from_slice(&identity);
        assert!(verify(&Signature(sig), msg, &Public(non_canonical_identity)));
        assert!(verify_dalek_legacy(&Signature(sig), msg, &Public(non_canonical_identity)));
    }

    #[test]
    fn from_slice_lengths() {
        assert!(Public::from_slice(&[0u8; 31]).is_err());
        assert!(Public::from_slice(&[0u8; 33]).is_err());
        assert!(Public::from_slice(&[0u8; 32]).is_ok());
        assert!(Signature::from_slice(&[0u8; 63]).is_err());
        assert_eq!(
            Signature::from_slice(&[0u8; 65]).unwrap_err(),
            crate::CryptoError::BadLength { what: "ed25519 signature", expected: 64, got: 65 }
        );
    }
}

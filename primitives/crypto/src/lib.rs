//! Weft cryptography: hashing, ed25519/sr25519/ecdsa keys and signatures,
//! SS58 addresses and Substrate development keys. Pure logic, no I/O.
//!
//! The crate mirrors the semantics of the Polkadot Host (as implemented by
//! Substrate's `sp-core`/`sp-io`) for everything a node needs outside the
//! runtime:
//!
//! * [`hashing`]: the hash functions exposed to runtimes as host functions
//!   (`blake2`, `twox`, `keccak`, `sha2`) and the storage-map hashers.
//! * [`ed25519`], [`sr25519`], [`ecdsa`]: key pairs, signing, verification
//!   with host-function-exact edge-case behaviour, BABE VRF helpers and ECDSA
//!   public-key recovery.
//! * [`ss58`]: the SS58 address codec.
//! * [`dev`]: secret URIs (`//Alice`, mnemonics, hex seeds), hierarchical
//!   deterministic key derivation and the well-known development phrase.
//!
//! Nothing in this crate panics on untrusted bytes: wrong lengths and
//! malformed encodings are reported through the error types below or through
//! `false` from `verify` functions.
//!
//! `schnorrkel` and `merlin` are re-exported so callers can build BABE VRF
//! transcripts with exactly the versions this crate links against.
//!
//! ```
//! use weft_crypto::{hashing, sr25519, ss58};
//!
//! let alice = sr25519::Pair::from_string("//Alice", None).unwrap();
//! assert_eq!(
//!     alice.public().to_ss58(ss58::SUBSTRATE_GENERIC),
//!     "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
//! );
//! let signature = alice.sign(b"hello");
//! assert!(sr25519::verify(&signature, b"hello", &alice.public()));
//! assert_eq!(hashing::blake2_256(b"").len(), 32);
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[macro_use]
mod bytes;

pub mod dev;
pub mod ecdsa;
pub mod ed25519;
pub mod hashing;
pub mod sr25519;
pub mod ss58;

pub use dev::{DeriveJunction, SecretStringError, SuriPair, DEV_PHRASE};
pub use merlin;
pub use schnorrkel;

/// Errors from parsing or using keys and signatures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// A byte slice had the wrong length for the type it was parsed into.
    #[error("bad length for {what}: expected {expected} bytes, got {got}")]
    BadLength {
        /// The type that was being parsed.
        what: &'static str,
        /// The only length accepted.
        expected: usize,
        /// The length that was supplied.
        got: usize,
    },
    /// The bytes are not a valid encoding of a public key (not on the curve).
    #[error("invalid public key")]
    InvalidPublicKey,
    /// The bytes are not a valid secret key / seed for this scheme.
    #[error("invalid secret key or seed")]
    InvalidSecretKey,
    /// The bytes are not a valid signature encoding.
    #[error("invalid signature encoding")]
    InvalidSignature,
    /// A schnorrkel operation (sr25519 signature or VRF) failed.
    #[error("schnorrkel: {0}")]
    Schnorrkel(schnorrkel::SignatureError),
}

impl From<schnorrkel::SignatureError> for CryptoError {
    fn from(e: schnorrkel::SignatureError) -> Self {
        CryptoError::Schnorrkel(e)
    }
}

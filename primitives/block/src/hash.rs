//! The 32-byte hash type used for block hashes and trie roots.

use core::fmt;
use core::str::FromStr;

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};

/// A 256-bit hash (block hash, state root, extrinsics root, ...).
///
/// SCALE-encodes as its 32 raw bytes. `Display` and `Debug` print `0x` followed by
/// 64 lowercase hex digits; `FromStr` accepts the same, with or without the `0x`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Encode, Decode, MaxEncodedLen)]
pub struct H256(pub [u8; 32]);

/// The hash type of blocks (always blake2-256 on the chains Weft supports).
pub type Hash = H256;

/// Block numbers are `u32` on the Polkadot relay chains.
pub type BlockNumber = u32;

impl H256 {
    /// The all-zero hash (parent of a genesis block).
    pub const ZERO: H256 = H256([0; 32]);

    /// Wraps raw bytes.
    pub const fn new(bytes: [u8; 32]) -> Self {
        H256(bytes)
    }

    /// The raw bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The raw bytes, by value.
    pub const fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// Copies a slice of exactly 32 bytes; `None` for any other length.
    pub fn from_slice(bytes: &[u8]) -> Option<Self> {
        <[u8; 32]>::try_from(bytes).ok().map(H256)
    }

    /// blake2b-256 of `data`.
    pub fn blake2_256_of(data: &[u8]) -> Self {
        H256(weft_crypto::hashing::blake2_256(data))
    }
}

impl From<[u8; 32]> for H256 {
    fn from(bytes: [u8; 32]) -> Self {
        H256(bytes)
    }
}

impl From<H256> for [u8; 32] {
    fn from(hash: H256) -> Self {
        hash.0
    }
}

impl AsRef<[u8]> for H256 {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8; 32]> for H256 {
    fn as_ref(&self) -> &[u8; 32] {
        &self.0
    }
}

impl PartialEq<[u8; 32]> for H256 {
    fn eq(&self, other: &[u8; 32]) -> bool {
        &self.0 == other
    }
}

impl fmt::Display for H256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for H256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::LowerHex for H256 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if f.alternate() {
            f.write_str("0x")?;
        }
        f.write_str(&hex::encode(self.0))
    }
}

/// Error of [`H256::from_str`].
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ParseHashError {
    /// Not hex.
    #[error("invalid hex in hash: {0}")]
    Hex(#[from] hex::FromHexError),
    /// Hex, but not 32 bytes.
    #[error("a hash is 32 bytes, got {0}")]
    Length(usize),
}

impl FromStr for H256 {
    type Err = ParseHashError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
        let bytes = hex::decode(digits)?;
        H256::from_slice(&bytes).ok_or(ParseHashError::Length(bytes.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_parse() {
        let mut bytes = [0u8; 32];
        bytes[0] = 0xab;
        bytes[31] = 0x01;
        let h = H256(bytes);
        let s = h.to_string();
        assert_eq!(s, "0xab00000000000000000000000000000000000000000000000000000000000001");
        assert_eq!(format!("{h:?}"), s);
        assert_eq!(s.parse::<H256>().unwrap(), h);
        assert_eq!(s[2..].parse::<H256>().unwrap(), h);
        assert_eq!("0x00".parse::<H256>(), Err(ParseHashError::Length(1)));
        assert!("0xzz".parse::<H256>().is_err());
        assert_eq!(h.encode(), bytes.to_vec());
    }
}

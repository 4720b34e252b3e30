//! Hash functions of the Polkadot Host and the storage-map hashers.
//!
//! These match `sp-crypto-hashing` byte for byte:
//!
//! * `blake2_N`: BLAKE2b with an `N`-bit digest (not a truncated 512-bit
//!   digest: the output length is part of the BLAKE2 parameter block).
//! * `twox_N`: xxHash64 run `N / 64` times with seeds `0, 1, 2, 3`, each
//!   64-bit result appended in little-endian byte order.
//! * `keccak_N`: the original Keccak (Ethereum flavour), not FIPS-202 SHA-3.
//! * `sha2_256`: SHA-256.
//!
//! The `*_concat` functions and [`identity`] are the FRAME storage hashers
//! (`Blake2_128Concat`, `Twox64Concat`, `Identity`), which append the
//! unhashed input after the digest.

use core::hash::Hasher as _;
use sha2::Digest as _;

#[inline]
fn blake2<const N: usize>(data: &[u8]) -> [u8; N] {
    let hash = blake2b_simd::Params::new().hash_length(N).hash(data);
    let mut out = [0u8; N];
    out.copy_from_slice(hash.as_bytes());
    out
}

/// BLAKE2b with a 64-bit digest (used for runtime API identifiers).
pub fn blake2_64(data: &[u8]) -> [u8; 8] {
    blake2(data)
}

/// BLAKE2b with a 128-bit digest.
pub fn blake2_128(data: &[u8]) -> [u8; 16] {
    blake2(data)
}

/// BLAKE2b with a 256-bit digest (the block and extrinsic hash of Polkadot).
pub fn blake2_256(data: &[u8]) -> [u8; 32] {
    blake2(data)
}

/// BLAKE2b with a 512-bit digest.
pub fn blake2_512(data: &[u8]) -> [u8; 64] {
    blake2(data)
}

#[inline]
fn twox<const N: usize>(data: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    for (seed, chunk) in out.chunks_exact_mut(8).enumerate() {
        let mut hasher = twox_hash::XxHash64::with_seed(seed as u64);
        hasher.write(data);
        chunk.copy_from_slice(&hasher.finish().to_le_bytes());
    }
    out
}

/// xxHash64 with seed 0, little-endian (64-bit output).
pub fn twox_64(data: &[u8]) -> [u8; 8] {
    twox(data)
}

/// Two xxHash64 runs (seeds 0, 1) concatenated (128-bit output).
pub fn twox_128(data: &[u8]) -> [u8; 16] {
    twox(data)
}

/// Four xxHash64 runs (seeds 0..=3) concatenated (256-bit output).
pub fn twox_256(data: &[u8]) -> [u8; 32] {
    twox(data)
}

/// Keccak-256 (pre-standard Keccak padding, as used by Ethereum).
pub fn keccak_256(data: &[u8]) -> [u8; 32] {
    sha3::Keccak256::digest(data).into()
}

/// Keccak-512 (pre-standard Keccak padding).
pub fn keccak_512(data: &[u8]) -> [u8; 64] {
    sha3::Keccak512::digest(data).into()
}

/// SHA2-256.
pub fn sha2_256(data: &[u8]) -> [u8; 32] {
    sha2::Sha256::digest(data).into()
}

/// The `Blake2_128Concat` storage hasher: `blake2_128(data) ++ data`.
pub fn blake2_128_concat(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + data.len());
    out.extend_from_slice(&blake2_128(data));
    out.extend_from_slice(data);
    out
}

/// The `Twox64Concat` storage hasher: `twox_64(data) ++ data`.
pub fn twox_64_concat(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + data.len());
    out.extend_from_slice(&twox_64(data));
    out.extend_from_slice(data);
    out
}

/// The `Identity` storage hasher: the input itself.
pub fn identity(data: &[u8]) -> Vec<u8> {
    data.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(s: &str) -> Vec<u8> {
        hex::decode(s).unwrap()
    }

    #[test]
    fn blake2_vectors() {
        assert_eq!(blake2_256(b"").to_vec(), h("0e5751c026e543b2e8ab2eb06099daa1d1e5df47778f7787faab45cdf12fe3a8"));
        assert_eq!(blake2_128(b"").to_vec(), h("cae66941d9efbd404e4d88758ea67670"));
        assert_eq!(
            blake2_512(b"").to_vec(),
            h("786a02f742015903c6c6fd852552d272912f4740e15847618a86e217f71f5419\
               d25e1031afee585313896444934eb04b903a685b1448b755d56f701afe9be2ce")
        );
        assert_eq!(
            blake2_512(b"abc").to_vec(),
            h("ba80a53f981c4d0d6a2797b69f12f6e94c212f14685ac4b74b12bb6fdbffa2d1\
               7d87c5392aab792dc252d5de4533cc9518d38aa8dbf1925ab92386edd4009923")
        );
        // Runtime API ids are blake2_64 of the API name: `Core` is well known.
        assert_eq!(blake2_64(b"Core"), [0xdf, 0x6a, 0xcb, 0x68, 0x99, 0x07, 0x60, 0x9b]);
    }

    #[test]
    fn twox_vectors() {
        // xxh64("", seed 0) = 0xef46db3751d8e999, stored little-endian.
        assert_eq!(twox_64(b"").to_vec(), h("99e9d85137db46ef"));
        let mut key = twox_128(b"System").to_vec();
        key.extend_from_slice(&twox_128(b"Account"));
        assert_eq!(key, h("26aa394eea5630e07c48ae0c9558cef7b99d880ec681799c0cf30e8886371da9"));
        assert_eq!(twox_128(b"Balances").to_vec(), h("c2261276cc9d1f8598ea4b6a74b15c2f"));
        assert_eq!(twox_128(b"TotalIssuance").to_vec(), h("57c875e4cff74148e4628f264b974c80"));
        // twox_256 extends twox_128 with seeds 2 and 3.
        assert_eq!(twox_256(b":code")[..16], twox_128(b":code"));
        assert_eq!(twox_128(b":code")[..8], twox_64(b":code"));
    }

    #[test]
    fn keccak_and_sha2_vectors() {
        assert_eq!(keccak_256(b"").to_vec(), h("c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"));
        assert_eq!(
            keccak_512(b"").to_vec(),
            h("0eab42de4c3ceb9235fc91acffe746b29c29a8c366b7c60e4e67c466f36a4304\
               c00fa9caf9d87976ba469bcbe06713b435f091ef2769fb160cdab33d3670680e")
        );
        assert_eq!(sha2_256(b"abc").to_vec(), h("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
        assert_eq!(sha2_256(b"").to_vec(), h("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
    }

    #[test]
    fn storage_hashers() {
        let concat = blake2_128_concat(b"abc");
        assert_eq!(&concat[..16], &blake2_128(b"abc"));
        assert_eq!(&concat[16..], b"abc");
        let concat = twox_64_concat(b"abc");
        assert_eq!(&concat[..8], &twox_64(b"abc"));
        assert_eq!(&concat[8..], b"abc");
        assert_eq!(identity(b"abc"), b"abc".to_vec());
        assert!(identity(b"").is_empty());
    }
}

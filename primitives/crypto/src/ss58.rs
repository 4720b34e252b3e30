//! The SS58 address codec.
//!
//! An SS58 string is `base58(prefix ++ payload ++ checksum)` where
//!
//! * `prefix` is the network identifier: identifiers `0..=63` take one byte
//!   (`00aaaaaa`); identifiers `64..=16383` take two bytes. For a 14-bit
//!   identifier whose little-endian bytes are `lo` and `hi` (`hi < 64`), the
//!   two bytes are `0b01 ++ lo[7..2]` and `lo[1..0] ++ hi[5..0]`, i.e.
//!   `first = 0x40 | (lo >> 2)`, `second = (lo << 6) | hi`;
//! * `checksum` is the first two bytes of
//!   `blake2b_512(b"SS58PRE" ++ prefix ++ payload)`.
//!
//! As in Substrate, the checksum is always two bytes long; [`decode`] accepts
//! the 32-byte (account id, sr25519/ed25519 key) and 33-byte (compressed
//! ECDSA key) payloads. Like Substrate's `to_ss58check_with_version`,
//! [`encode`] masks the identifier to its low 14 bits.
//!
//! Identifiers 46 and 47 are reserved by the SS58 registry; [`decode`] still
//! returns them (so that the codec round-trips) and callers that want
//! Substrate's `from_ss58check` behaviour should reject them with
//! [`is_reserved`].

/// Polkadot relay chain accounts.
pub const POLKADOT: u16 = 0;
/// Kusama relay chain accounts.
pub const KUSAMA: u16 = 2;
/// Generic Substrate accounts (development chains, Westend, ...).
pub const SUBSTRATE_GENERIC: u16 = 42;
/// Largest identifier representable in SS58.
pub const MAX_PREFIX: u16 = 0x3fff;

const CHECKSUM_LEN: usize = 2;
const PREFIX_SALT: &[u8] = b"SS58PRE";
/// Longest string any accepted address can have (2 + 33 + 2 bytes in base58
/// needs at most 51 characters); longer input is rejected before decoding.
const MAX_ENCODED_LEN: usize = 64;

/// Errors from [`decode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Ss58Error {
    /// The string contains characters outside the base58 alphabet.
    #[error("invalid base58")]
    BadBase58,
    /// The decoded data does not have the length of a supported address.
    #[error("invalid SS58 address length")]
    BadLength,
    /// The first byte is not a valid SS58 prefix byte (`>= 128`).
    #[error("invalid SS58 prefix byte")]
    InvalidPrefix,
    /// The checksum does not match.
    #[error("invalid SS58 checksum")]
    InvalidChecksum,
}

/// Whether `prefix` is one of the identifiers reserved by the SS58 registry
/// (46 and 47), which Substrate refuses to decode.
pub fn is_reserved(prefix: u16) -> bool {
    matches!(prefix, 46 | 47)
}

fn checksum(data: &[u8]) -> [u8; CHECKSUM_LEN] {
    let hash = blake2b_simd::Params::new().hash_length(64).to_state().update(PREFIX_SALT).update(data).finalize();
    let mut out = [0u8; CHECKSUM_LEN];
    out.copy_from_slice(&hash.as_bytes()[..CHECKSUM_LEN]);
    out
}

/// Encodes the identifier into its one- or two-byte SS58 form.
fn encode_prefix(prefix: u16, out: &mut Vec<u8>) {
    let ident = prefix & MAX_PREFIX;
    if ident < 64 {
        out.push(ident as u8);
    } else {
        let lo = (ident & 0xff) as u8;
        let hi = (ident >> 8) as u8;
        out.push(0b0100_0000 | (lo >> 2));
        out.push((lo << 6) | hi);
    }
}

/// Encodes `public` (any length, normally 32 or 33 bytes) under network
/// identifier `prefix` (masked to 14 bits, as Substrate does).
pub fn encode(public: &[u8], prefix: u16) -> String {
    let mut data = Vec::with_capacity(2 + public.len() + CHECKSUM_LEN);
    encode_prefix(prefix, &mut data);
    data.extend_from_slice(public);
    let sum = checksum(&data);
    data.extend_from_slice(&sum);
    bs58::encode(data).into_string()
}

/// Decodes an SS58 address with a 32- or 33-byte payload, returning the
/// payload and the network identifier.
pub fn decode(s: &str) -> Result<(Vec<u8>, u16), Ss58Error> {
    if s.len() > MAX_ENCODED_LEN {
        return Err(Ss58Error::BadLength);
    }
    let data = bs58::decode(s).into_vec().map_err(|_| Ss58Error::BadBase58)?;
    let (prefix_len, ident) = match data.first() {
        None => return Err(Ss58Error::BadLength),
        Some(&b0 @ 0..=63) => (1, u16::from(b0)),
        Some(&b0 @ 64..=127) => {
            let b1 = *data.get(1).ok_or(Ss58Error::BadLength)?;
            let lo = (b0 << 2) | (b1 >> 6);
            let hi = b1 & 0b0011_1111;
            (2, u16::from(lo) | (u16::from(hi) << 8))
        }
        Some(_) => return Err(Ss58Error::InvalidPrefix),
    };
    let payload_len = data.len().checked_sub(prefix_len + CHECKSUM_LEN).ok_or(Ss58Error::BadLength)?;
    if payload_len != 32 && payload_len != 33 {
        return Err(Ss58Error::BadLength);
    }
    let body_end = prefix_len + payload_len;
    if checksum(&data[..body_end]) != data[body_end..] {
        return Err(Ss58Error::InvalidChecksum);
    }
    Ok((data[prefix_len..body_end].to_vec(), ident))
}

/// Decodes an SS58 address whose payload must be exactly 32 bytes (an
/// account id or sr25519/ed25519 public key).
pub fn decode_32(s: &str) -> Result<([u8; 32], u16), Ss58Error> {
    let (payload, prefix) = decode(s)?;
    let bytes = <[u8; 32]>::try_from(payload.as_slice()).map_err(|_| Ss58Error::BadLength)?;
    Ok((bytes, prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";

    #[test]
    fn alice_on_known_networks() {
        let alice = hex::decode(ALICE).unwrap();
        let cases = [
            (SUBSTRATE_GENERIC, "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"),
            (POLKADOT, "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5"),
            (KUSAMA, "HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F"),
        ];
        for (prefix, address) in cases {
            assert_eq!(encode(&alice, prefix), address);
            assert_eq!(decode(address).unwrap(), (alice.clone(), prefix));
        }
    }

    /// Vectors produced by `subkey` (as collected in polkadot-js's test
    /// suite), including two-byte identifiers and a 33-byte ECDSA key.
    #[test]
    fn subkey_vectors() {
        let cases = [
            (
                42,
                "3050f8456519829fe03302da802d22d3233a5f4037b9a3e2bcc403ccfcb2d735",
                "5DA4D4GL5iakrn22h5uKoevgvo18Pqj5BcdEUv8etEDPdijA",
            ),
            (
                65,
                "08e8969768fc14399930d4b8d693f68a2ff6c6a597325d6946095e5e9d9d1b0e",
                "cLtA6nCDyvwKcEHH4QkZDSHMhS9s78BvUJUsKUbUAn1Jc2SCF",
            ),
            (
                66,
                "04a047d52fe542484c69bc528990cfeaf3a663dded0638ee1b51cf78bacd1072",
                "cTGShekJ1L1UKFZR9xmv9UTJod7vqjFAPo4sDhXih2c3y1yLS",
            ),
            (
                69,
                "ae640d53cfa815f4a6a50ae70235cd7d9d134d0f1c3a4ccd118e321dfb6ab51f",
                "cnVRwXfAnz3RSVQyBUC8f8McrK3YBX2QYd4WoctpeSC6VTJYm",
            ),
            (
                200,
                "035676109c54b9a16d271abeb4954316a40a32bcce023ac14c8e26e958aa68fba9",
                "4pbsSkWcBaYoFHrKJZp5fDVUKbqSYD9dhZZGvpp3vQ5ysVs5ybV",
            ),
            (
                252,
                "5c64f1151f0ce4358c27238fb20c88e7c899825436f565410724c8c2c5add869",
                "xw5g1Eec8LT99pZLZMaTWwrwvNtfM6vrSuZeVbtEszCDUwByg",
            ),
            (
                255,
                "66cd6cf085627d6c85af1aaf2bd10cf843033e929b4e3b1c2ba8e4aa46fe111b",
                "yGF4JP7q5AK46d1FPCEm9sYQ4KooSjHMpyVAjLnsCSWVafPnf",
            ),
            (
                255,
                "242fd5a078ac6b7c3c2531e9bcf1314343782aeb58e7bc6880794589e701db55",
                "yGDYxQatQwuxqT39Zs4LtcTnpzE12vXb7ZJ6xpdiHv6gTu1hF",
            ),
            (
                4242,
                "44d5a3ac156335ea99d33a83c57c7146c40c8e2260a8a4adf4e7a86256454651",
                "mHm8k9Emsvyfp3piCauSH684iA6NakctF8dySQcX94GDdrJrE",
            ),
            (
                14269,
                "88f01441682a17b52d6ae12d1a5670cf675fd254897efabaa5069eb3a701ab73",
                "r6Gr4gaMP8TsjhFbqvZhv3YvnasugLiRJpzpRHifsqqG18UXa",
            ),
        ];
        for (prefix, public, address) in cases {
            let public = hex::decode(public).unwrap();
            assert_eq!(encode(&public, prefix), address, "prefix {prefix}");
            assert_eq!(decode(address).unwrap(), (public, prefix), "prefix {prefix}");
        }
    }

    #[test]
    fn rejects_corruption() {
        let good = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
        assert_eq!(decode(""), Err(Ss58Error::BadLength));
        assert_eq!(decode("0OIl"), Err(Ss58Error::BadBase58));
        assert!(decode(&good[..good.len() - 1]).is_err());
        let short = bs58::encode([42u8; 20]).into_string();
        assert_eq!(decode(&short), Err(Ss58Error::BadLength));
        assert_eq!(decode("5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ"), Err(Ss58Error::InvalidChecksum));
        // A first byte >= 128 is not a prefix.
        let bogus = bs58::encode([0x80u8; 36]).into_string();
        assert_eq!(decode(&bogus), Err(Ss58Error::InvalidPrefix));
        assert_eq!(decode(&"1".repeat(1000)), Err(Ss58Error::BadLength));
        assert!(decode_32("4pbsSkWcBaYoFHrKJZp5fDVUKbqSYD9dhZZGvpp3vQ5ysVs5ybV").is_err());
        assert!(decode_32(good).is_ok());
    }

    #[test]
    fn prefix_masking_and_reserved() {
        let key = [7u8; 32];
        assert_eq!(encode(&key, 0x4000 | 5), encode(&key, 5));
        assert!(is_reserved(46) && is_reserved(47) && !is_reserved(42));
        assert_eq!(decode(&encode(&key, 46)).unwrap().1, 46);
    }
}

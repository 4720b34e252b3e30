//! Property tests: decoders never panic on arbitrary input, and SS58 and
//! signatures round-trip.

use proptest::prelude::*;
use weft_crypto::{ecdsa, ed25519, sr25519, ss58, SuriPair};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn ss58_decode_never_panics(s in ".{0,80}") {
        let _ = ss58::decode(&s);
        let _ = ss58::decode_32(&s);
    }

    #[test]
    fn ss58_decode_base58_alphabet_never_panics(s in "[1-9A-HJ-NP-Za-km-z]{0,60}") {
        let _ = ss58::decode(&s);
    }

    #[test]
    fn ss58_round_trip(prefix in 0u16..=16383, key in proptest::array::uniform32(any::<u8>()), long in any::<bool>()) {
        let mut payload = key.to_vec();
        if long {
            payload.push(key[0] | 2);
        }
        let address = ss58::encode(&payload, prefix);
        prop_assert_eq!(ss58::decode(&address), Ok((payload, prefix)));
    }

    #[test]
    fn from_slice_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..100)) {
        prop_assert_eq!(ed25519::Public::from_slice(&bytes).is_ok(), bytes.len() == 32);
        prop_assert_eq!(sr25519::Public::from_slice(&bytes).is_ok(), bytes.len() == 32);
        prop_assert_eq!(ecdsa::Public::from_slice(&bytes).is_ok(), bytes.len() == 33);
        prop_assert_eq!(ed25519::Signature::from_slice(&bytes).is_ok(), bytes.len() == 64);
        prop_assert_eq!(sr25519::Signature::from_slice(&bytes).is_ok(), bytes.len() == 64);
        prop_assert_eq!(ecdsa::Signature::from_slice(&bytes).is_ok(), bytes.len() == 65);
        let _ = ecdsa::Public::from_full(&bytes);
        let _ = <sr25519::Pair as SuriPair>::from_seed_slice(&bytes);
        let _ = <ecdsa::Pair as SuriPair>::from_seed_slice(&bytes);
    }

    #[test]
    fn verify_never_panics(key in proptest::collection::vec(any::<u8>(), 33), sig in proptest::collection::vec(any::<u8>(), 65), msg in proptest::collection::vec(any::<u8>(), 0..64)) {
        let k32: [u8; 32] = key[..32].try_into().unwrap();
        let s64: [u8; 64] = sig[..64].try_into().unwrap();
        let _ = ed25519::verify(&ed25519::Signature(s64), &msg, &ed25519::Public(k32));
        let _ = ed25519::verify_dalek_legacy(&ed25519::Signature(s64), &msg, &ed25519::Public(k32));
        let _ = sr25519::verify(&sr25519::Signature(s64), &msg, &sr25519::Public(k32));
        let _ = sr25519::verify_deprecated(&sr25519::Signature(s64), &msg, &sr25519::Public(k32));
        let s65: [u8; 65] = sig[..].try_into().unwrap();
        let k33: [u8; 33] = key[..].try_into().unwrap();
        let _ = ecdsa::verify(&ecdsa::Signature(s65), &msg, &ecdsa::Public(k33));
        let _ = ecdsa::verify_overflowing(&ecdsa::Signature(s65), &msg, &ecdsa::Public(k33));
        let _ = ecdsa::recover(&s65, &k32);
        let _ = ecdsa::recover_overflowing(&s65, &k32);
        let _ = ecdsa::recover_compressed(&s65, &k32);
        let _ = ecdsa::Public(k33).to_uncompressed();
        let _ = sr25519::vrf_verify(&sr25519::Public(k32), weft_crypto::merlin::Transcript::new(b"t"), &k32, &s64);
    }

    #[test]
    fn secret_uri_never_panics(s in "[/a-z0-9 x.\n]{0,40}") {
        let _ = ed25519::Pair::from_string(&s, None);
        let _ = ecdsa::Pair::from_string(&s, Some("pw"));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    #[test]
    fn signatures_round_trip(seed in proptest::array::uniform32(any::<u8>()), msg in proptest::collection::vec(any::<u8>(), 0..200)) {
        let ed = ed25519::Pair::from_seed(&seed);
        prop_assert!(ed25519::verify(&ed.sign(&msg), &msg, &ed.public()));
        let sr = sr25519::Pair::from_seed(&seed);
        prop_assert!(sr25519::verify(&sr.sign(&msg), &msg, &sr.public()));
        if let Ok(ec) = ecdsa::Pair::from_seed(&seed) {
            let sig = ec.sign(&msg);
            prop_assert!(ecdsa::verify(&sig, &msg, &ec.public()));
            let hash = weft_crypto::hashing::blake2_256(&msg);
            prop_assert_eq!(ecdsa::recover_compressed(&sig.0, &hash), Ok(ec.public().0));
        }
    }
}

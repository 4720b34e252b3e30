//! Well-known development keys and secret-URI behaviour, checked against
//! values published by Substrate (`subkey inspect`, sp-core tests and the
//! polkadot-sdk chain specs).

use weft_crypto::dev::{dev_pair, SecretStringError, SuriPair, UriError, DEV_ADDRESS, DEV_PHRASE};
use weft_crypto::{ecdsa, ed25519, sr25519, ss58};

fn hex32(s: &str) -> [u8; 32] {
    hex::decode(s.trim_start_matches("0x")).unwrap().try_into().unwrap()
}

fn hex33(s: &str) -> [u8; 33] {
    hex::decode(s.trim_start_matches("0x")).unwrap().try_into().unwrap()
}

#[test]
fn sr25519_dev_accounts() {
    let cases = [
        (
            "//Alice",
            "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d",
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        ),
        (
            "//Bob",
            "8eaf04151687736326c9fea17e25fc5287613693c912909cb226aa4794f26a48",
            "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty",
        ),
        ("//Alice//stash", "be5ddb1579b72e84524fc29e78609e3caf42e85aa118ebfe0b0ad404b5bdd25f", ""),
        ("//Bob//stash", "fe65717dad0447d715f660a0a58411de509b42e6efb8375f562f58a554d5860e", ""),
    ];
    for (uri, public, address) in cases {
        let pair = sr25519::Pair::from_string(uri, None).unwrap();
        assert_eq!(pair.public().0, hex32(public), "{uri}");
        if !address.is_empty() {
            assert_eq!(pair.public().to_ss58(ss58::SUBSTRATE_GENERIC), address, "{uri}");
            assert_eq!(ss58::decode(address).unwrap(), (pair.public().0.to_vec(), 42));
        }
    }
    let alice = dev_pair::<sr25519::Pair>("Alice").unwrap();
    assert_eq!(alice.public().to_ss58(ss58::POLKADOT), "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5");
    assert_eq!(alice.public().to_ss58(ss58::KUSAMA), "HNZata7iMYWmk5RvZRTiAsSDhV8366zq2YGb3tLH5Upf74F");
}

#[test]
fn sr25519_seed_tracking_and_soft_paths() {
    // `subkey inspect //Alice`: secret seed.
    let (pair, seed) = sr25519::Pair::from_string_with_seed("//Alice", None).unwrap();
    assert_eq!(seed, Some(hex32("e5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a")));
    let from_hex =
        sr25519::Pair::from_string("0xe5be9a5092b81bca64be81d212e7f2f9eba183bb7a90954f7b76361f6edb5c0a", None).unwrap();
    assert_eq!(from_hex.public(), pair.public());

    // Soft derivation (sp-core `derive_soft_known_pair_should_work`).
    let soft = sr25519::Pair::from_string(&format!("{DEV_PHRASE}/Alice"), None).unwrap();
    assert_eq!(soft.public().0, hex32("d6c71059dbbe9ad2b0ed3f289738b800836eb425544ce694825285b958ca755e"));
    assert_eq!(sr25519::Pair::from_string("/Alice", None).unwrap().public(), soft.public());
    let (_, soft_seed) = sr25519::Pair::from_string_with_seed("/Alice", None).unwrap();
    assert_eq!(soft_seed, None);

    // The root of the dev phrase is DEV_ADDRESS, and soft derivation of the
    // public key agrees with soft derivation of the pair.
    let root = sr25519::Pair::from_string(DEV_PHRASE, None).unwrap();
    assert_eq!(root.public().to_ss58(42), DEV_ADDRESS);
    let path = [weft_crypto::DeriveJunction::from_path_element("Alice")];
    assert_eq!(root.public().derive(&path), Some(soft.public()));
}

#[test]
fn ed25519_dev_accounts() {
    let cases = [
        (
            "//Alice",
            "88dc3417d5058ec4b4503e0c12ea1a0a89be200fe98922423d4334014fa6b0ee",
            "5FA9nQDVg267DEd8m1ZypXLBnvN7SFxYwV7ndqSYGiN9TTpu",
            "abf8e5bdbe30c65656c0a3cbd181ff8a56294a69dfedd27982aace4a76909115",
        ),
        (
            "//Bob",
            "d17c2d7823ebf260fd138f2d7e27d114c0145d968b5ff5006125f2414fadae69",
            "5GoNkf6WdbxCFnPdAnYYQyCjAKPJgLNxXwPjwTh6DGg6gN3E",
            "3b7b60af2abcd57ba401ab398f84f4ca54bd6b2140d2503fbcf3286535fe3ff1",
        ),
    ];
    for (uri, public, address, seed) in cases {
        let (pair, got_seed) = ed25519::Pair::from_string_with_seed(uri, None).unwrap();
        assert_eq!(pair.public().0, hex32(public), "{uri}");
        assert_eq!(pair.public().to_ss58(42), address, "{uri}");
        assert_eq!(got_seed, Some(hex32(seed)), "{uri}");
        assert_eq!(*pair.seed(), hex32(seed));
    }
    // Soft junctions are not supported by ed25519.
    assert_eq!(ed25519::Pair::from_string("//Alice/soft", None).unwrap_err(), SecretStringError::InvalidPath);
    // Hex seed (RFC 8032 test 1).
    let pair =
        ed25519::Pair::from_string("0x9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", None).unwrap();
    assert_eq!(pair.public().0, hex32("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"));
}

#[test]
fn ecdsa_dev_accounts() {
    let cases = [
        ("//Alice", "020a1091341fe5664bfa1782d5e04779689068c916b04cb365ec3153755684d9a1"),
        ("//Bob", "0390084fdbf27d2b79d26a4f13f0ccd982cb755a661969143c37cbc49ef5b91f27"),
        ("//Charlie", "0389411795514af1627765eceffcbd002719f031604fadd7d188e2dc585b4e1afb"),
    ];
    for (uri, public) in cases {
        let pair = ecdsa::Pair::from_string(uri, None).unwrap();
        assert_eq!(pair.public().0, hex33(public), "{uri}");
    }
    // `subkey inspect --scheme ecdsa //Alice`.
    let (alice, seed) = ecdsa::Pair::from_string_with_seed("//Alice", None).unwrap();
    assert_eq!(seed, Some(hex32("cb6df9de1efca7a3998a8ead4e02159d5fa99c3e0d4fd6432667390bb4726854")));
    assert_eq!(alice.public().to_ss58_public(42), "KW39r9CJjAVzmkf9zQ4YDb2hqfAVGdRqn53eRqyruqpxAP5YL");
    assert_eq!(
        alice.public().to_account_id(),
        hex32("01e552298e47454041ea31273b4b630c64c104e4514aa3643490b8aaca9cf8ed")
    );
    assert_eq!(alice.public().to_ss58(42), "5C7C2Z5sWbytvHpuLTvzKunnnRwQxft1jiqrLD5rhucQ5S9X");
    let (decoded, prefix) = ss58::decode("KW39r9CJjAVzmkf9zQ4YDb2hqfAVGdRqn53eRqyruqpxAP5YL").unwrap();
    assert_eq!((decoded.as_slice(), prefix), (&alice.public().0[..], 42));
    assert_eq!(ecdsa::Pair::from_string("//Alice/soft", None).unwrap_err(), SecretStringError::InvalidPath);
}

#[test]
fn passwords_and_uri_forms() {
    fn check<P: SuriPair>(public: impl Fn(&P) -> Vec<u8>) {
        let a = P::from_string("//Alice///password", None).unwrap();
        let b = P::from_string(&format!("{DEV_PHRASE}//Alice"), Some("password")).unwrap();
        let c = P::from_string("//Alice///other", Some("password")).unwrap();
        let plain = P::from_string("//Alice", None).unwrap();
        assert_eq!(public(&a), public(&b));
        assert_eq!(public(&a), public(&c));
        assert_ne!(public(&a), public(&plain));
        // An empty password is the same as none.
        assert_eq!(public(&P::from_string("//Alice///", None).unwrap()), public(&plain));
        // Whitespace between words is normalised by the mnemonic parser.
        let spaced = DEV_PHRASE.replace(' ', "  ");
        assert_eq!(public(&P::from_string(&format!("{spaced}//Alice"), None).unwrap()), public(&plain));
    }
    check::<sr25519::Pair>(|p| p.public().0.to_vec());
    check::<ed25519::Pair>(|p| p.public().0.to_vec());
    check::<ecdsa::Pair>(|p| p.public().0.to_vec());

    // Numeric junctions: leading zeros are the same number.
    let a = sr25519::Pair::from_string("//1", None).unwrap();
    let b = sr25519::Pair::from_string("//001", None).unwrap();
    assert_eq!(a.public(), b.public());
    assert_ne!(a.public(), sr25519::Pair::from_string("//2", None).unwrap().public());
}

#[test]
fn uri_errors() {
    assert_eq!(sr25519::Pair::from_string("not a valid phrase", None).unwrap_err(), SecretStringError::InvalidPhrase);
    assert_eq!(
        sr25519::Pair::from_string("hello.world", None).unwrap_err(),
        SecretStringError::InvalidFormat(UriError::InvalidCharacterInPhrase)
    );
    assert_eq!(
        sr25519::Pair::from_string("//Alice//", None).unwrap_err(),
        SecretStringError::InvalidFormat(UriError::InvalidCharacterInHardPath)
    );
    assert_eq!(sr25519::Pair::from_string("0x1234", None).unwrap_err(), SecretStringError::InvalidSeed);
    assert_eq!(sr25519::Pair::from_string("0xzz", None).unwrap_err(), SecretStringError::InvalidSeed);
    assert_eq!(
        ecdsa::Pair::from_string(&format!("0x{}", "00".repeat(32)), None).unwrap_err(),
        SecretStringError::InvalidSeed
    );
    assert_eq!(
        ed25519::Pair::from_string("", None).unwrap().public(),
        ed25519::Pair::from_string(DEV_PHRASE, None).unwrap().public()
    );
}

/// The w3f host-API conformance fixtures include `ext_crypto_*_generate`
/// cases whose expected output is the public key for a mnemonic seed.
#[test]
fn host_api_generate_cases() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/w3f-polkadot-tests/host-api/host-api-cases.json"
    );
    let text = std::fs::read_to_string(path).expect("host-api fixture present");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let function = case["function"].as_str().unwrap();
        let Some(expected) = case["expected_stdout"].as_str() else {
            continue;
        };
        let input = case["input"].as_str().unwrap_or_default();
        let public = match function {
            "ext_crypto_ed25519_generate_version_1" => ed25519::Pair::from_string(input, None).unwrap().public().0,
            "ext_crypto_sr25519_generate_version_1" => sr25519::Pair::from_string(input, None).unwrap().public().0,
            _ => continue,
        };
        assert_eq!(format!("{}\n", hex::encode(public)), expected, "{function}({input})");
        checked += 1;
    }
    assert_eq!(checked, 12);
}

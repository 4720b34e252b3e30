//! Secret URIs, hierarchical deterministic key derivation (HDKD) and the
//! Substrate development keys.
//!
//! A secret URI (SURI) has the form `<phrase><path>///<password>`, each part
//! optional, where
//!
//! * `<phrase>` is a BIP39 English mnemonic (12, 15, 18, 21 or 24 words), or
//!   `0x` followed by the hex encoding of a 32-byte seed; when absent the
//!   well-known [`DEV_PHRASE`] is used, so `//Alice` is
//!   `"<DEV_PHRASE>//Alice"`. The phrase may only contain ASCII letters,
//!   digits and spaces;
//! * `<path>` is a sequence of junctions, `//hard` or `/soft` (a junction may
//!   not contain `/`);
//! * `///<password>` (anything after the first `///`, except a newline) is
//!   the BIP39 password. A password passed explicitly to
//!   [`SuriPair::from_string`] overrides the one in the URI.
//!
//! Mnemonics follow `substrate-bip39`, which differs from BIP39 seeds: the
//! 32-byte seed ("mini secret") is the first half of
//! `PBKDF2-HMAC-SHA512(password = entropy, salt = "mnemonic" ++ password,
//! 2048 rounds)`, where `entropy` is the mnemonic's decoded entropy (not the
//! phrase text).
//!
//! Each junction carries a 32-byte chain code: the SCALE encoding of the
//! junction text, which is a `u64` (8 bytes little-endian) when the text
//! parses as a decimal `u64`, and a `String` (compact length ++ UTF-8)
//! otherwise; encodings up to 32 bytes are zero-padded, longer ones are
//! replaced by their `blake2_256`.
//!
//! Hard derivation is scheme specific (see [`SuriPair::derive`]):
//! sr25519 uses schnorrkel's mini-secret hard derivation, ed25519 and ecdsa
//! hash the seed: `seed' = blake2_256(SCALE(("Ed25519HDKD", seed, cc)))`
//! (respectively `"Secp256k1HDKD"`). Soft derivation exists only for sr25519.

use parity_scale_codec::Encode;
use zeroize::Zeroizing;

use crate::hashing::blake2_256;

/// The public development mnemonic behind `//Alice`, `//Bob`, ...
pub const DEV_PHRASE: &str = "bottom drive obey lake curtain smoke basket hold race lonely fit walk";

/// The sr25519 SS58 address (prefix 42) of [`DEV_PHRASE`] with no derivation.
pub const DEV_ADDRESS: &str = "5DfhGyQdFobKM8NsWvEeAKk5EQQgYe9AydgJ7rMB6E1EqRzV";

/// Length of a junction's chain code.
pub const JUNCTION_ID_LEN: usize = 32;

/// Why a secret URI could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UriError {
    /// The phrase contains a character other than ASCII letters, digits and space.
    #[error("invalid character in phrase")]
    InvalidCharacterInPhrase,
    /// The password contains a newline.
    #[error("invalid character in password")]
    InvalidCharacterInPass,
    /// A `//` is not followed by a junction.
    #[error("empty hard junction")]
    InvalidCharacterInHardPath,
    /// A `/` is not followed by a junction.
    #[error("empty soft junction")]
    InvalidCharacterInSoftPath,
}

/// Errors from interpreting a secret URI or seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SecretStringError {
    /// The URI is malformed.
    #[error("invalid secret URI format: {0}")]
    InvalidFormat(#[from] UriError),
    /// The phrase is not a valid BIP39 English mnemonic.
    #[error("invalid mnemonic phrase")]
    InvalidPhrase,
    /// The password is not acceptable.
    #[error("invalid password")]
    InvalidPassword,
    /// The seed is invalid (bad hex, wrong length in hex form, or not a valid
    /// secret for the scheme).
    #[error("invalid seed")]
    InvalidSeed,
    /// A raw seed slice has the wrong length.
    #[error("invalid seed length")]
    InvalidSeedLength,
    /// The derivation path cannot be applied (e.g. a soft junction for
    /// ed25519/ecdsa).
    #[error("invalid derivation path")]
    InvalidPath,
}

/// One step of a derivation path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Encode, parity_scale_codec::Decode)]
pub enum DeriveJunction {
    /// Soft derivation: public keys can be derived too (sr25519 only).
    Soft([u8; JUNCTION_ID_LEN]),
    /// Hard derivation: requires the secret.
    Hard([u8; JUNCTION_ID_LEN]),
}

impl DeriveJunction {
    /// A soft junction whose chain code is the (padded or hashed) SCALE
    /// encoding of `value`.
    pub fn soft<T: Encode>(value: T) -> Self {
        let mut cc = [0u8; JUNCTION_ID_LEN];
        value.using_encoded(|data| {
            if data.len() > JUNCTION_ID_LEN {
                cc = blake2_256(data);
            } else {
                cc[..data.len()].copy_from_slice(data);
            }
        });
        DeriveJunction::Soft(cc)
    }

    /// A hard junction whose chain code is derived like [`Self::soft`].
    pub fn hard<T: Encode>(value: T) -> Self {
        Self::soft(value).harden()
    }

    /// Parses one path element as written in a SURI, without its leading
    /// `/`: `"Alice"` is soft, `"/Alice"` is hard, `"42"` is the number 42.
    pub fn from_path_element(element: &str) -> Self {
        let (code, hard) = match element.strip_prefix('/') {
            Some(rest) => (rest, true),
            None => (element, false),
        };
        let junction = match code.parse::<u64>() {
            Ok(n) => Self::soft(n),
            Err(_) => Self::soft(code),
        };
        if hard {
            junction.harden()
        } else {
            junction
        }
    }

    /// The same chain code as a soft junction.
    pub fn soften(self) -> Self {
        DeriveJunction::Soft(self.chain_code())
    }

    /// The same chain code as a hard junction.
    pub fn harden(self) -> Self {
        DeriveJunction::Hard(self.chain_code())
    }

    /// The 32-byte chain code.
    pub fn chain_code(&self) -> [u8; JUNCTION_ID_LEN] {
        match self {
            DeriveJunction::Soft(cc) | DeriveJunction::Hard(cc) => *cc,
        }
    }

    /// Whether this is a hard junction.
    pub fn is_hard(&self) -> bool {
        matches!(self, DeriveJunction::Hard(_))
    }

    /// Whether this is a soft junction.
    pub fn is_soft(&self) -> bool {
        matches!(self, DeriveJunction::Soft(_))
    }
}

/// The parts of a secret URI, borrowed from the input string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressUri<'a> {
    /// The phrase (mnemonic or `0x` hex seed), if present.
    pub phrase: Option<&'a str>,
    /// Path elements in order; hard junctions keep one leading `/`
    /// (`"//Alice/x"` gives `["/Alice", "x"]`).
    pub paths: Vec<&'a str>,
    /// The password after `///`, if present (possibly empty).
    pub password: Option<&'a str>,
}

impl<'a> AddressUri<'a> {
    /// Splits a secret URI. Equivalent to Substrate's regular expression
    /// `^(?P<phrase>[a-zA-Z0-9 ]+)?(?P<path>(//?[^/]+)*)(///(?P<password>.*))?$`.
    pub fn parse(input: &'a str) -> Result<Self, UriError> {
        let phrase_end = input.find(|c: char| !(c.is_ascii_alphanumeric() || c == ' ')).unwrap_or(input.len());
        let phrase = (phrase_end > 0).then(|| &input[..phrase_end]);
        let mut rest = &input[phrase_end..];
        let mut paths = Vec::new();
        let mut password = None;

        // Length of the leading run of non-'/' characters.
        let segment_len = |s: &str| s.find('/').unwrap_or(s.len());

        while !rest.is_empty() {
            if let Some(pass) = rest.strip_prefix("///") {
                if pass.contains('\n') {
                    return Err(UriError::InvalidCharacterInPass);
                }
                password = Some(pass);
                break;
            } else if let Some(after) = rest.strip_prefix("//") {
                let len = segment_len(after);
                if len == 0 {
                    return Err(UriError::InvalidCharacterInHardPath);
                }
                // Keep one '/' to mark the junction as hard.
                paths.push(&rest[1..2 + len]);
                rest = &after[len..];
            } else if let Some(after) = rest.strip_prefix('/') {
                let len = segment_len(after);
                if len == 0 {
                    return Err(UriError::InvalidCharacterInSoftPath);
                }
                paths.push(&after[..len]);
                rest = &after[len..];
            } else {
                return Err(UriError::InvalidCharacterInPhrase);
            }
        }
        Ok(AddressUri { phrase, paths, password })
    }
}

/// A parsed secret URI with the development phrase filled in.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUri {
    /// The mnemonic or `0x`-prefixed hex seed ([`DEV_PHRASE`] if absent).
    pub phrase: Zeroizing<String>,
    /// The password from the URI, if any.
    pub password: Option<Zeroizing<String>>,
    /// The derivation path.
    pub junctions: Vec<DeriveJunction>,
}

impl core::fmt::Debug for SecretUri {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SecretUri")
            .field("phrase", &"<secret>")
            .field("password", &self.password.as_ref().map(|_| "<secret>"))
            .field("junctions", &self.junctions)
            .finish()
    }
}

impl core::str::FromStr for SecretUri {
    type Err = SecretStringError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let uri = AddressUri::parse(s)?;
        Ok(SecretUri {
            phrase: Zeroizing::new(uri.phrase.unwrap_or(DEV_PHRASE).to_owned()),
            password: uri.password.map(|p| Zeroizing::new(p.to_owned())),
            junctions: uri.paths.iter().map(|p| DeriveJunction::from_path_element(p)).collect(),
        })
    }
}

/// Converts a BIP39 English mnemonic into the 32-byte seed used by all three
/// schemes (`substrate-bip39` semantics: PBKDF2 over the entropy).
pub fn seed_from_phrase(phrase: &str, password: Option<&str>) -> Result<[u8; 32], SecretStringError> {
    let mnemonic =
        bip39::Mnemonic::parse_in(bip39::Language::English, phrase).map_err(|_| SecretStringError::InvalidPhrase)?;
    let (entropy, entropy_len) = mnemonic.to_entropy_array();
    let entropy = Zeroizing::new(entropy);
    let full = seed_from_entropy(&entropy[..entropy_len], password.unwrap_or(""))?;
    let mut seed = [0u8; 32];
    seed.copy_from_slice(&full[..32]);
    Ok(seed)
}

/// `substrate-bip39`'s `seed_from_entropy`: the 64-byte
/// `PBKDF2-HMAC-SHA512(entropy, "mnemonic" ++ password, 2048)`. The entropy
/// must be 16 to 32 bytes long, in steps of 4.
pub fn seed_from_entropy(entropy: &[u8], password: &str) -> Result<Zeroizing<[u8; 64]>, SecretStringError> {
    if !matches!(entropy.len(), 16 | 20 | 24 | 28 | 32) {
        return Err(SecretStringError::InvalidSeed);
    }
    let mut salt = Zeroizing::new(Vec::with_capacity(8 + password.len()));
    salt.extend_from_slice(b"mnemonic");
    salt.extend_from_slice(password.as_bytes());
    let mut seed = Zeroizing::new([0u8; 64]);
    pbkdf2::pbkdf2_hmac::<sha2::Sha512>(entropy, &salt, 2048, &mut seed[..]);
    Ok(seed)
}

/// Hard-derives a 32-byte seed the way ed25519 and ecdsa do:
/// `blake2_256(SCALE((domain, seed, chain_code)))`.
pub(crate) fn derive_hard_seed(domain: &str, seed: &[u8; 32], cc: &[u8; 32]) -> [u8; 32] {
    (domain, seed, cc).using_encoded(blake2_256)
}

/// Key pairs that can be built from seeds, mnemonics and secret URIs.
///
/// All three schemes use 32-byte seeds. The provided methods implement the
/// SURI logic once; each scheme only supplies seed import and derivation.
pub trait SuriPair: Sized {
    /// Builds a pair from raw seed bytes.
    fn from_seed_slice(seed: &[u8]) -> Result<Self, SecretStringError>;

    /// Applies `path` to `self`. `seed` is the seed `self` was built from,
    /// if known; the returned seed is the derived pair's seed when it can
    /// still be expressed as one (always for ed25519/ecdsa; for sr25519
    /// only while the path contains no soft junction).
    fn derive(
        &self,
        path: &[DeriveJunction],
        seed: Option<[u8; 32]>,
    ) -> Result<(Self, Option<[u8; 32]>), SecretStringError>;

    /// Builds a pair from a BIP39 English mnemonic and optional password,
    /// returning the seed too.
    fn from_phrase(phrase: &str, password: Option<&str>) -> Result<(Self, [u8; 32]), SecretStringError> {
        let seed = Zeroizing::new(seed_from_phrase(phrase, password)?);
        Ok((Self::from_seed_slice(&seed[..])?, *seed))
    }

    /// Interprets a secret URI, returning the pair and, where it exists, its
    /// seed. `password_override`, when given, replaces the URI's password.
    fn from_string_with_seed(
        s: &str,
        password_override: Option<&str>,
    ) -> Result<(Self, Option<[u8; 32]>), SecretStringError> {
        let uri: SecretUri = s.parse()?;
        let password = password_override.or(uri.password.as_ref().map(|p| p.as_str()));
        let (root, seed) = match uri.phrase.strip_prefix("0x") {
            Some(hex_seed) => {
                let bytes = Zeroizing::new(hex::decode(hex_seed).map_err(|_| SecretStringError::InvalidSeed)?);
                let seed: [u8; 32] = bytes.as_slice().try_into().map_err(|_| SecretStringError::InvalidSeed)?;
                (Self::from_seed_slice(&seed)?, seed)
            }
            None => Self::from_phrase(&uri.phrase, password)?,
        };
        root.derive(&uri.junctions, Some(seed))
    }

    /// Interprets a secret URI (`//Alice`, `<mnemonic>//hard/soft///pw`,
    /// `0x<64 hex digits>`...).
    fn from_string(s: &str, password_override: Option<&str>) -> Result<Self, SecretStringError> {
        Self::from_string_with_seed(s, password_override).map(|(pair, _)| pair)
    }
}

/// The development key `//<name>` (e.g. `dev_pair::<sr25519::Pair>("Alice")`).
pub fn dev_pair<P: SuriPair>(name: &str) -> Result<P, SecretStringError> {
    P::from_string(&format!("//{name}"), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> Result<AddressUri<'_>, UriError> {
        AddressUri::parse(s)
    }

    fn ok<'a>(
        phrase: Option<&'a str>,
        paths: Vec<&'a str>,
        password: Option<&'a str>,
    ) -> Result<AddressUri<'a>, UriError> {
        Ok(AddressUri { phrase, paths, password })
    }

    #[test]
    fn uri_parsing_matches_substrate() {
        assert_eq!(uri("///"), ok(None, vec![], Some("")));
        assert_eq!(uri("////////"), ok(None, vec![], Some("/////")));
        assert_eq!(uri("sdasd///asda"), ok(Some("sdasd"), vec![], Some("asda")));
        assert_eq!(uri("sdasd//asda"), ok(Some("sdasd"), vec!["/asda"], None));
        assert_eq!(uri("sdasd//"), Err(UriError::InvalidCharacterInHardPath));
        assert_eq!(uri("sdasd/xx//a/b//c///pass"), ok(Some("sdasd"), vec!["xx", "/a", "b", "/c"], Some("pass")));
        assert_eq!(uri("sdasd/"), Err(UriError::InvalidCharacterInSoftPath));
        assert_eq!(uri("sdasd"), ok(Some("sdasd"), vec![], None));
        assert_eq!(uri("sd.asd"), Err(UriError::InvalidCharacterInPhrase));
        assert_eq!(uri("sd.asd//asd.a"), Err(UriError::InvalidCharacterInPhrase));
        assert_eq!(uri("sdasd/asd.a"), ok(Some("sdasd"), vec!["asd.a"], None));
        assert_eq!(uri("///\n"), Err(UriError::InvalidCharacterInPass));
        assert_eq!(uri("//Alice//stash"), ok(None, vec!["/Alice", "/stash"], None));
        assert_eq!(uri("hello world/s//h///pass"), ok(Some("hello world"), vec!["s", "/h"], Some("pass")));
        assert_eq!(uri("//ÄÖ/ü"), ok(None, vec!["/ÄÖ", "ü"], None));
        assert_eq!(uri("ä"), Err(UriError::InvalidCharacterInPhrase));
        assert_eq!(uri(""), ok(None, vec![], None));
    }

    #[test]
    fn junction_chain_codes() {
        // Numbers are u64 LE.
        let mut expected = [0u8; 32];
        expected[0] = 1;
        assert_eq!(DeriveJunction::from_path_element("1"), DeriveJunction::Soft(expected));
        assert_eq!(DeriveJunction::from_path_element("/1"), DeriveJunction::Hard(expected));
        assert_eq!(DeriveJunction::from_path_element("01"), DeriveJunction::Soft(expected));
        // Strings are compact length ++ bytes.
        let mut expected = [0u8; 32];
        expected[..6].copy_from_slice(b"\x14Alice");
        assert_eq!(DeriveJunction::from_path_element("/Alice"), DeriveJunction::Hard(expected));
        // Long strings are hashed.
        let long = "0123456789012345678901234567890123456789";
        assert_eq!(DeriveJunction::from_path_element(long), DeriveJunction::Soft(blake2_256(&long.encode())));
        // 31 chars + 1 length byte fit exactly.
        let fits = "a".repeat(31);
        let j = DeriveJunction::from_path_element(&fits).chain_code();
        assert_eq!(j[0], 31 << 2);
        assert_eq!(&j[1..], fits.as_bytes());
        // u64 overflow falls back to the string form.
        let big = "18446744073709551616";
        assert_eq!(DeriveJunction::from_path_element(big), DeriveJunction::soft(big));
    }

    /// Vectors from substrate-bip39 (all with password "Substrate").
    #[test]
    fn substrate_bip39_vectors() {
        let vectors = [
            (
                "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about",
                "44e9d125f037ac1d51f0a7d3649689d422c2af8b1ec8e00d71db4d7bf6d127e33f50c3d5c84fa3e5399c72d6cbbbbc4a49bf76f76d952f479d74655a2ef2d453",
            ),
            (
                "legal winner thank year wave sausage worth useful legal winner thank yellow",
                "4313249608fe8ac10fd5886c92c4579007272cb77c21551ee5b8d60b780416850f1e26c1f4b8d88ece681cb058ab66d6182bc2ce5a03181f7b74c27576b5c8bf",
            ),
            (
                "zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo when",
                "8971cb290e7117c64b63379c97ed3b5c6da488841bd9f95cdc2a5651ac89571e2c64d391d46e2475e8b043911885457cd23e99a28b5a18535fe53294dc8e1693",
            ),
            (
                "hamster diagram private dutch cause delay private meat slide toddler razor book happy fancy gospel tennis maple dilemma loan word shrug inflict delay length",
                "7c60c555126c297deddddd59f8cdcdc9e3608944455824dd604897984b5cc369cad749803bb36eb8b786b570c9cdc8db275dbe841486676a6adf389f3be3f076",
            ),
            (
                "void come effort suffer camp survey warrior heavy shoot primary clutch crush open amazing screen patrol group space point ten exist slush involve unfold",
                "938ba18c3f521f19bd4a399c8425b02c716844325b1a65106b9d1593fbafe5e0b85448f523f91c48e331995ff24ae406757cff47d11f240847352b348ff436ed",
            ),
        ];
        for (phrase, seed) in vectors {
            let expected = hex::decode(seed).unwrap();
            assert_eq!(seed_from_phrase(phrase, Some("Substrate")).unwrap()[..], expected[..32]);
            let mnemonic = bip39::Mnemonic::parse_in(bip39::Language::English, phrase).unwrap();
            let (entropy, len) = mnemonic.to_entropy_array();
            assert_eq!(seed_from_entropy(&entropy[..len], "Substrate").unwrap()[..], expected[..]);
        }
        assert_eq!(seed_from_entropy(&[0u8; 15], ""), Err(SecretStringError::InvalidSeed));
        assert_eq!(seed_from_entropy(&[0u8; 18], ""), Err(SecretStringError::InvalidSeed));
        assert_eq!(seed_from_phrase("bottom drive obey", None), Err(SecretStringError::InvalidPhrase));
        // Bad checksum word.
        assert_eq!(
            seed_from_phrase(
                "abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon",
                None
            ),
            Err(SecretStringError::InvalidPhrase)
        );
    }
}

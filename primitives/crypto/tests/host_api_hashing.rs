//! All hashing cases of the w3f polkadot-tests host-API fixture: the input
//! string's UTF-8 bytes are hashed and the adapter prints the lowercase hex
//! digest followed by a newline.

use weft_crypto::hashing;

const FIXTURE: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/w3f-polkadot-tests/host-api/host-api-cases.json");

fn hash(function: &str, input: &[u8]) -> Option<Vec<u8>> {
    Some(match function {
        "ext_hashing_keccak_256_version_1" => hashing::keccak_256(input).to_vec(),
        "ext_hashing_sha2_256_version_1" => hashing::sha2_256(input).to_vec(),
        "ext_hashing_blake2_128_version_1" => hashing::blake2_128(input).to_vec(),
        "ext_hashing_blake2_256_version_1" => hashing::blake2_256(input).to_vec(),
        "ext_hashing_twox_64_version_1" => hashing::twox_64(input).to_vec(),
        "ext_hashing_twox_128_version_1" => hashing::twox_128(input).to_vec(),
        "ext_hashing_twox_256_version_1" => hashing::twox_256(input).to_vec(),
        _ => return None,
    })
}

#[test]
fn host_api_hashing_cases() {
    let text = std::fs::read_to_string(FIXTURE).expect("host-api fixture present");
    let doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    let mut checked = 0;
    for case in doc["cases"].as_array().unwrap() {
        let function = case["function"].as_str().unwrap();
        if !function.starts_with("ext_hashing_") {
            continue;
        }
        let input = case["input"].as_str().unwrap();
        let expected = case["expected_stdout"].as_str().unwrap_or_else(|| panic!("{function} has an expected output"));
        let digest = hash(function, input.as_bytes()).unwrap_or_else(|| panic!("unknown hashing function {function}"));
        assert_eq!(format!("{}\n", hex::encode(digest)), expected, "{function}({input:?})");
        checked += 1;
    }
    assert_eq!(checked, 70, "all 70 hashing cases must be exercised");
}

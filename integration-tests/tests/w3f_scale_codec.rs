//! W3F scale-codec conformance cases: SCALE-encoding each input string must give
//! the expected bytes, printed the way the W3F adapter prints them.

use parity_scale_codec::{Decode, Encode};
use weft_integration_tests::{json_fixture, unhex};

/// The adapter's output format: `encoded <input>: [<bytes as {:x?}>]`.
fn adapter_line(input: &str, encoded: &[u8]) -> String {
    format!("encoded {input}: {encoded:x?}\n")
}

#[test]
fn w3f_scale_codec_cases() {
    let fixture = json_fixture("w3f-polkadot-tests/scale-codec/scale-codec-cases.json");
    let cases = fixture["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 6);
    for case in cases {
        let input = case["input"].as_str().unwrap();
        let encoded = input.to_string().encode();
        assert_eq!(encoded, unhex(case["scale_hex"].as_str().unwrap()), "input {input:?}");
        assert_eq!(adapter_line(input, &encoded), case["expected_stdout"].as_str().unwrap(), "input {input:?}");
        assert_eq!(String::decode(&mut &encoded[..]).unwrap(), input);
    }
}

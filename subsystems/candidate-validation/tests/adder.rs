//! The candidate-validation subsystem on the real `adder` test parachain: every vector of
//! `pvf/adder-validate_block-vectors.json` is validated through the slot's message and
//! gives the expected `ValidationResult`; garbage code and bad parameters are invalid
//! with a reason, and the subsystem keeps working.

use rand::SeedableRng;
use std::time::Duration;
use weft_candidate_validation::CandidateValidation;
use weft_messages::{oneshot, CandidateValidationMessage, CandidateValidationSlot};
use weft_overseer::{DynSubsystem, Input, RawContext};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/pvf")).join(name)
}

fn unhex(text: &str) -> Vec<u8> {
    let text: String = text.trim().trim_start_matches("0x").chars().filter(|c| !c.is_whitespace()).collect();
    hex::decode(text).unwrap()
}

fn validate(subsystem: &mut CandidateValidation, code: Vec<u8>, params: Vec<u8>) -> Result<Vec<u8>, String> {
    let (reply, mut rx) = oneshot::channel();
    let clock = Duration::ZERO;
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    let mut timers = 0;
    let mut ctx = RawContext::new(&clock, &mut rng, &mut timers);
    let message = CandidateValidationMessage::ValidateFromExhaustive { validation_code: code, params, reply };
    DynSubsystem::<CandidateValidationSlot>::handle(subsystem, Input::Message(message), &mut ctx);
    assert!(ctx.into_effects().is_empty());
    rx.try_recv().unwrap().expect("replied")
}

#[test]
fn adder_vectors_through_the_slot() {
    let vectors: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("adder-validate_block-vectors.json")).unwrap()).unwrap();
    let code = std::fs::read(fixture("test_parachain_adder.gossamer.wasm")).unwrap();
    let mut subsystem = CandidateValidation::default();
    let cases = vectors["cases"].as_array().unwrap();
    for case in cases {
        let params = unhex(case["validation_params_hex"].as_str().unwrap());
        let expected = unhex(case["expected_validation_result_hex"].as_str().unwrap());
        let output = validate(&mut subsystem, code.clone(), params).unwrap();
        assert_eq!(hex::encode(output), hex::encode(expected), "{}", case["description"]);
    }
    let error = validate(&mut subsystem, b"not wasm".to_vec(), vec![]).unwrap_err();
    assert!(error.contains("validation code unusable"), "{error}");
    let error = validate(&mut subsystem, code.clone(), vec![1, 2, 3]).unwrap_err();
    assert!(error.contains("validation failed"), "{error}");
    assert_eq!(subsystem.counts(), (cases.len() as u64, 2));
    println!("{} adder candidates valid, 2 invalid with reasons", cases.len());
}

//! smoldot's `validate-transaction` fixture: Westend 9430's
//! `TaggedTransactionQueue_validate_transaction` executed on a state known
//! only through a call proof (every storage read is answered from the proof),
//! which must find the transaction valid.

use parity_scale_codec::{Compact, Decode, Encode};
use std::path::PathBuf;
use std::sync::Arc;
use weft_runtime_executor::{heap_pages_from_storage, Executor, ProofBackend, StateBackend};
use weft_trie::StorageProof;

fn field(data: &serde_json::Value, name: &str) -> Vec<u8> {
    hex::decode(data[name].as_str().expect(name).trim_start_matches("0x")).expect("hex")
}

#[test]
fn validate_transaction_from_a_call_proof() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/executor/smoldot-validate-transaction/test-fixture.json"
    ));
    let data: serde_json::Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let transaction = field(&data, "transactionBytes");
    let code = field(&data, "runtimeCode");
    let proof = StorageProof::decode(&field(&data, "callProof"), 64 * 1024 * 1024).expect("proof decodes");
    let header = field(&data, "blockHeader");

    let mut rest = &header[32..];
    Compact::<u64>::decode(&mut rest).expect("block number");
    let state_root: [u8; 32] = rest[..32].try_into().unwrap();
    let block_hash = weft_crypto::hashing::blake2_256(&header);

    let backend = ProofBackend::new(proof, state_root).expect("proof matches the header's state root");
    let heap_pages = heap_pages_from_storage(backend.storage(b":heappages").ok().flatten().as_deref());
    let module = Executor::default().compile(&code, heap_pages).expect("runtime compiles");
    let version = module.core_version().expect("Core_version");
    let api_version = version
        .apis
        .iter()
        .find(|(id, _)| *id == weft_crypto::hashing::blake2_64(b"TaggedTransactionQueue"))
        .map(|(_, v)| *v)
        .expect("TaggedTransactionQueue API");
    assert_eq!(api_version, 3, "the fixture expects version 3 parameters");

    // (source: TransactionSource::External, tx, block_hash)
    let mut input = vec![2u8];
    input.extend_from_slice(&transaction);
    block_hash.encode_to(&mut input);
    let outcome = module.call_on_state("TaggedTransactionQueue_validate_transaction", &input, Arc::new(backend));
    let outcome = outcome.expect("validate_transaction runs on the proof alone");
    // `TransactionValidity = Result<ValidTransaction, TransactionValidityError>`.
    assert_eq!(outcome.output.first(), Some(&0), "transaction invalid: {}", hex::encode(&outcome.output));
    println!("validate_transaction: {}", hex::encode(&outcome.output));
}

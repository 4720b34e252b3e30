//! Genesis of the Polkadot chain spec (the largest fixture): JSON parsing,
//! the state root of its 11,645 keys, and the whole genesis build.

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;
use weft_chain_spec::ChainSpec;
use weft_trie::StateVersion;

fn polkadot_spec_bytes() -> Option<Vec<u8>> {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/chain-specs/full-raw/polkadot.json");
    std::fs::read(path).ok()
}

fn genesis(c: &mut Criterion) {
    let Some(bytes) = polkadot_spec_bytes() else {
        eprintln!("polkadot.json fixture not found; skipping genesis benches");
        return;
    };
    let spec = ChainSpec::from_json_bytes(&bytes).unwrap();
    let storage = spec.genesis_storage().unwrap().clone();
    let mut group = c.benchmark_group("polkadot_genesis");
    group.sample_size(20);
    group.bench_function("parse_spec_json", |b| b.iter(|| ChainSpec::from_json_bytes(&bytes).unwrap()));
    group.bench_function("state_root_11645_keys", |b| {
        b.iter(|| weft_trie::state_root_with_children(StateVersion::V0, &storage.top, &storage.children_default))
    });
    group.bench_function("build_genesis_from_parsed", |b| b.iter(|| spec.build_genesis(StateVersion::V0).unwrap()));
    group.bench_function("parse_and_build_genesis", |b| {
        b.iter(|| ChainSpec::from_json_bytes(&bytes).unwrap().build_genesis(StateVersion::V0).unwrap())
    });
    group.finish();
}

criterion_group!(benches, genesis);
criterion_main!(benches);

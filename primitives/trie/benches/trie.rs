//! Benchmarks: one-shot roots of a Polkadot-genesis-sized state (synthetic and, when the
//! fixture is present, the real Polkadot genesis), and incremental updates of a large
//! `TrieMap`.

use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion};
use rand::{rngs::StdRng, Rng, SeedableRng};
use std::collections::BTreeMap;
use weft_trie::{trie_root, StateVersion, TrieMap};

const POLKADOT_SPEC: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/chain-specs/full-raw/polkadot.json");

/// 11,645 entries shaped like the Polkadot genesis: a few hundred storage prefixes
/// (32 bytes: twox128 pallet ++ twox128 item) followed by hashed map keys, so keys are 32 to
/// 64 bytes with long shared prefixes; values mostly 16 to 80 bytes.
fn synthetic_genesis() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut rng = StdRng::seed_from_u64(0x5eed);
    let prefixes: Vec<[u8; 32]> = (0..40)
        .flat_map(|_| {
            let pallet: [u8; 16] = rng.gen();
            (0..5).map(move |i| {
                let mut p = [0u8; 32];
                p[..16].copy_from_slice(&pallet);
                p[16] = i;
                p
            })
        })
        .map(|mut p| {
            let tail: [u8; 15] = StdRng::seed_from_u64(u64::from(p[16]) ^ u64::from(p[0])).gen();
            p[17..].copy_from_slice(&tail);
            p
        })
        .collect();
    let mut map = BTreeMap::new();
    while map.len() < 11_645 {
        let p = &prefixes[rng.gen_range(0..prefixes.len())];
        let suffix_len = match rng.gen_range(0..10) {
            0 => 0,
            1..=6 => 16 + 16,
            _ => rng.gen_range(1..=32),
        };
        let mut k = p.to_vec();
        k.extend((0..suffix_len).map(|_| rng.gen::<u8>()));
        let vlen = if rng.gen_bool(0.9) { rng.gen_range(16..=80) } else { rng.gen_range(0..=600) };
        let v: Vec<u8> = (0..vlen).map(|_| rng.gen()).collect();
        map.insert(k, v);
    }
    map
}

fn polkadot_genesis() -> Option<BTreeMap<Vec<u8>, Vec<u8>>> {
    let text = std::fs::read_to_string(POLKADOT_SPEC).ok()?;
    let spec: serde_json::Value = serde_json::from_str(&text).ok()?;
    let top = spec["genesis"]["raw"]["top"].as_object()?;
    let unhex = |s: &str| hex::decode(s.trim_start_matches("0x")).ok();
    top.iter().map(|(k, v)| Some((unhex(k)?, unhex(v.as_str()?)?))).collect()
}

fn bench_roots(c: &mut Criterion) {
    let synthetic = synthetic_genesis();
    c.bench_function("trie_root/synthetic_genesis_11645_keys_v0", |b| {
        b.iter(|| trie_root(StateVersion::V0, black_box(&synthetic)))
    });
    c.bench_function("trie_root/synthetic_genesis_11645_keys_v1", |b| {
        b.iter(|| trie_root(StateVersion::V1, black_box(&synthetic)))
    });
    // Unsorted input (forces the sort).
    let mut shuffled: Vec<(&Vec<u8>, &Vec<u8>)> = synthetic.iter().collect();
    shuffled.reverse();
    c.bench_function("trie_root/synthetic_genesis_11645_keys_unsorted", |b| {
        b.iter(|| trie_root(StateVersion::V0, black_box(shuffled.iter().copied())))
    });
    if let Some(genesis) = polkadot_genesis() {
        assert_eq!(
            hex::encode(trie_root(StateVersion::V0, &genesis)),
            "29d0d972cd27cbc511e9589fcb7a4506d5eb6a9e8df205f00472e5ab354a4e17"
        );
        c.bench_function("trie_root/polkadot_genesis_real_v0", |b| {
            b.iter(|| trie_root(StateVersion::V0, black_box(&genesis)))
        });
    } else {
        eprintln!("{POLKADOT_SPEC} not found: skipping the real-genesis benchmark");
    }
}

fn bench_triemap(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(42);
    let keys: Vec<[u8; 32]> = (0..100_000).map(|_| rng.gen()).collect();
    let mut map = TrieMap::new(StateVersion::V1);
    for k in &keys {
        let v: Vec<u8> = (0..40).map(|_| rng.gen()).collect();
        map.insert(k, v);
    }
    map.root();
    let mut round: u64 = 0;
    c.bench_function("triemap/update_1000_of_100000_then_root", |b| {
        b.iter(|| {
            round += 1;
            for _ in 0..1000 {
                let k = &keys[rng.gen_range(0..keys.len())];
                let mut v = round.to_le_bytes().to_vec();
                v.resize(40, 7);
                map.insert(k, v);
            }
            black_box(map.root())
        })
    });
    c.bench_function("triemap/build_100000_then_root", |b| {
        b.iter_batched(
            || keys.clone(),
            |keys| {
                let mut m = TrieMap::new(StateVersion::V1);
                for k in &keys {
                    m.insert(k, k.to_vec());
                }
                m.root()
            },
            BatchSize::LargeInput,
        )
    });
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20);
    targets = bench_roots, bench_triemap
}
criterion_main!(benches);

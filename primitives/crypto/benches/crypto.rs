//! Criterion benchmarks for the hot paths of block import: blake2_256
//! throughput (the reference node expects at least 783 MiB/s on 32 KiB
//! inputs), and sr25519 / ed25519 verification and ECDSA recovery rates.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use weft_crypto::{ecdsa, ed25519, hashing, sr25519};

fn hashing_benches(c: &mut Criterion) {
    let data = vec![0x5au8; 32 * 1024];
    let mut group = c.benchmark_group("hashing");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("blake2_256/32KiB", |b| b.iter(|| hashing::blake2_256(black_box(&data))));
    group.bench_function("twox_128/32KiB", |b| b.iter(|| hashing::twox_128(black_box(&data))));
    group.finish();
}

fn signature_benches(c: &mut Criterion) {
    let msg = [0x42u8; 128];
    let mut group = c.benchmark_group("signatures");
    group.throughput(Throughput::Elements(1));

    let sr = sr25519::Pair::from_seed(&[1u8; 32]);
    let sr_sig = sr.sign(&msg);
    let sr_pub = sr.public();
    group.bench_function("sr25519_verify", |b| {
        b.iter(|| assert!(sr25519::verify(black_box(&sr_sig), black_box(&msg), black_box(&sr_pub))))
    });

    let ed = ed25519::Pair::from_seed(&[2u8; 32]);
    let ed_sig = ed.sign(&msg);
    let ed_pub = ed.public();
    group.bench_function("ed25519_verify", |b| {
        b.iter(|| assert!(ed25519::verify(black_box(&ed_sig), black_box(&msg), black_box(&ed_pub))))
    });

    let ec = ecdsa::Pair::from_seed(&[3u8; 32]).expect("valid seed");
    let hash = hashing::blake2_256(&msg);
    let ec_sig = ec.sign_prehashed(&hash);
    group.bench_function("ecdsa_recover", |b| {
        b.iter(|| ecdsa::recover(black_box(&ec_sig.0), black_box(&hash)).expect("recovers"))
    });
    group.finish();
}

criterion_group!(benches, hashing_benches, signature_benches);
criterion_main!(benches);

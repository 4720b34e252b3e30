//! Executor benchmarks on rococo v1015000 (7.5 MB of Wasm): a cold compile,
//! a start from the on-disk cache, a warm `Core_version` on a pooled
//! instance, and `Metadata_metadata`.
//!
//! `cargo bench -p weft-runtime-executor --bench executor -- --warm-up-time 1 --measurement-time 3`

use criterion::{criterion_group, criterion_main, Criterion};
use std::path::PathBuf;
use std::time::Duration;
use weft_runtime_executor::{Executor, ExecutorConfig, DEFAULT_HEAP_PAGES};

fn rococo() -> Vec<u8> {
    let path = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/runtimes"))
        .join("rococo_runtime-v1015000.compact.compressed.wasm");
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn no_memory_cache() -> ExecutorConfig {
    ExecutorConfig { memory_cache_size: 0, ..ExecutorConfig::default() }
}

fn compile(c: &mut Criterion) {
    let code = rococo();
    let mut group = c.benchmark_group("rococo-v1015000");
    group.sample_size(10);
    group.bench_function("cold compile", |b| {
        b.iter(|| Executor::new(no_memory_cache()).compile(&code, DEFAULT_HEAP_PAGES).unwrap())
    });

    let base = std::env::temp_dir().join(format!("weft-executor-bench-{}", std::process::id()));
    let config = ExecutorConfig { cache_path: Some(base.clone()), ..no_memory_cache() };
    Executor::new(config.clone()).compile(&code, DEFAULT_HEAP_PAGES).unwrap();
    group.bench_function("start from disk cache", |b| {
        b.iter(|| {
            let executor = Executor::new(config.clone());
            let module = executor.compile(&code, DEFAULT_HEAP_PAGES).unwrap();
            assert!(module.loaded_from_cache());
            module
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&base);
}

fn calls(c: &mut Criterion) {
    let code = rococo();
    let module = Executor::default().compile(&code, DEFAULT_HEAP_PAGES).unwrap();
    let mut group = c.benchmark_group("rococo-v1015000");
    group.bench_function("warm Core_version", |b| b.iter(|| module.call("Core_version", &[]).unwrap()));
    group.bench_function("Metadata_metadata", |b| b.iter(|| module.call("Metadata_metadata", &[]).unwrap()));
    group.bench_function("Core_version, fresh instance", |b| {
        let module = Executor::new(ExecutorConfig { instance_pool_size: 0, ..ExecutorConfig::default() })
            .compile(&code, DEFAULT_HEAP_PAGES)
            .unwrap();
        b.iter(|| module.call("Core_version", &[]).unwrap())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = calls, compile
}
criterion_main!(benches);

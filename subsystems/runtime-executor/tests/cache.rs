//! The compiled-module cache: in memory, and on disk under the base path.

use std::hash::Hasher;
use std::path::PathBuf;
use weft_runtime_executor::{CacheStats, Executor, ExecutorConfig, ENGINE_VERSION};

fn runtime(tag: &str) -> Vec<u8> {
    wat::parse_str(format!(
        r#"(module
            (import "env" "memory" (memory 1))
            (global (export "__heap_base") i32 (i32.const 1024))
            (data (i32.const 64) "{tag}")
            (func (export "tag") (param $p i32) (param $l i32) (result i64)
                (i64.or (i64.shl (i64.const {len}) (i64.const 32)) (i64.const 64))))"#,
        len = tag.len()
    ))
    .unwrap()
}

/// A fresh directory under the system temp dir, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("weft-cache-test-{name}-{}-{}", std::process::id(), rand_u64()));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn rand_u64() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64
}

fn with_cache(dir: &TempDir) -> Executor {
    Executor::new(ExecutorConfig { cache_path: Some(dir.0.clone()), ..ExecutorConfig::default() })
}

#[test]
fn one_compilation_per_code_hash_in_memory() {
    let executor = Executor::default();
    let code = runtime("one");
    let a = executor.compile(&code, 16).unwrap();
    let b = executor.clone().compile(&code, 16).unwrap();
    assert_eq!(a.call("tag", &[]).unwrap(), b"one");
    assert_eq!(b.call("tag", &[]).unwrap(), b"one");
    // Other heap pages, or other code, are other modules.
    executor.compile(&code, 32).unwrap();
    executor.compile(&runtime("two"), 16).unwrap();
    assert_eq!(executor.cache_stats(), CacheStats { compiled: 3, memory_hits: 1, ..CacheStats::default() });
    assert!(executor.cache_file(&code, 16).is_none());
}

#[test]
fn a_second_executor_loads_from_disk_instead_of_compiling() {
    let dir = TempDir::new("reuse");
    let code = runtime("disk");
    let first = with_cache(&dir);
    let module = first.compile(&code, 16).unwrap();
    assert!(!module.loaded_from_cache());
    assert_eq!(first.cache_stats(), CacheStats { compiled: 1, disk_writes: 1, ..CacheStats::default() });
    let file = first.cache_file(&code, 16).unwrap();
    assert!(file.exists(), "{}", file.display());
    let name = file.file_name().unwrap().to_str().unwrap().to_string();
    assert!(name.starts_with(&hex::encode(blake2_256(&code))), "{name}");
    assert!(name.contains(ENGINE_VERSION), "{name}");

    let second = with_cache(&dir);
    let module = second.compile(&code, 16).unwrap();
    assert!(module.loaded_from_cache());
    assert_eq!(second.cache_stats(), CacheStats { disk_hits: 1, ..CacheStats::default() });
    assert_eq!(module.call("tag", &[]).unwrap(), b"disk");
    assert_eq!(module.call("tag", &[]).unwrap(), b"disk");
    // Settings that change the compiled code use other files.
    let metered = Executor::new(ExecutorConfig {
        cache_path: Some(dir.0.clone()),
        fuel: Some(1_000_000),
        ..ExecutorConfig::default()
    });
    assert_ne!(metered.cache_file(&code, 16), first.cache_file(&code, 16));
    metered.compile(&code, 16).unwrap();
    assert_eq!(metered.cache_stats().compiled, 1);
}

#[test]
fn corrupt_or_foreign_cache_files_are_deleted_and_recompiled() {
    let dir = TempDir::new("corrupt");
    let code = runtime("again");
    with_cache(&dir).compile(&code, 16).unwrap();
    let file = with_cache(&dir).cache_file(&code, 16).unwrap();
    let good = std::fs::read(&file).unwrap();

    let check_rejected = |bytes: &[u8], what: &str| {
        std::fs::write(&file, bytes).unwrap();
        let executor = with_cache(&dir);
        let module = executor.compile(&code, 16).unwrap();
        assert!(!module.loaded_from_cache(), "{what}");
        assert_eq!(
            executor.cache_stats(),
            CacheStats { compiled: 1, disk_rejected: 1, disk_writes: 1, ..CacheStats::default() },
            "{what}"
        );
        assert_eq!(module.call("tag", &[]).unwrap(), b"again", "{what}");
        // It was written again, and is good.
        assert_eq!(std::fs::read(&file).unwrap().len(), good.len(), "{what}");
        assert_eq!(with_cache(&dir).compile(&code, 16).unwrap().call("tag", &[]).unwrap(), b"again");
    };

    // A flipped bit in the compiled code.
    let mut flipped = good.clone();
    let last = flipped.len() - 100;
    flipped[last] ^= 0x10;
    check_rejected(&flipped, "flipped bit");
    // Truncated.
    check_rejected(&good[..good.len() / 2], "truncated");
    // Not a cache file at all.
    check_rejected(b"garbage", "garbage");
    // A well-formed file of another engine version under this name.
    let version_len = u32::from_le_bytes(good[16..20].try_into().unwrap()) as usize;
    let mut body = good[16..].to_vec();
    body[4] ^= 0x01;
    assert!(version_len > 0);
    let mut hasher = twox_hash::XxHash64::with_seed(0x5745_4654);
    hasher.write(&body);
    let mut foreign = good[..8].to_vec();
    foreign.extend_from_slice(&hasher.finish().to_le_bytes());
    foreign.extend_from_slice(&body);
    check_rejected(&foreign, "other version");
}

fn blake2_256(data: &[u8]) -> [u8; 32] {
    use blake2::digest::{consts::U32, Digest};
    blake2::Blake2b::<U32>::digest(data).into()
}

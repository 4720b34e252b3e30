//! The compiled-module cache: in memory (least recently used modules are
//! dropped first) and on disk under `<base>/wasm-cache/`.
//!
//! A cache file is named `<code hash>-<engine version>-<code tag>.bin`: the
//! blake2-256 of the code as stored under `:code`, the [`ENGINE_VERSION`]
//! (wasmer and this crate's instrumentation) and a tag of the settings that
//! change the compiled code (NaN canonicalisation, fuel, call depth, heap
//! pages, memory maximum). It holds a small header (a magic, a checksum of
//! the rest, the engine version and tag again, the Wasm size and memory
//! layout) followed by wasmer's serialized module. A file that cannot be read,
//! fails its checks or does not deserialize is deleted and the code compiled
//! again; a file is written to a temporary name and renamed, so readers never
//! see half a file.

use crate::blob::DataLayout;
use crate::engine::{RuntimeModule, ENGINE_VERSION};
use std::hash::Hasher;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use wasmer::Module;

const MAGIC: &[u8; 8] = b"WEFTWCM1";

/// Counters of a compiled-module cache.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    /// Modules compiled from Wasm.
    pub compiled: u64,
    /// Modules found in memory.
    pub memory_hits: u64,
    /// Modules loaded from disk.
    pub disk_hits: u64,
    /// Cache files ignored and deleted (corrupt, other version, not loadable).
    pub disk_rejected: u64,
    /// Cache files written.
    pub disk_writes: u64,
}

/// A compiled module as written to disk.
pub(crate) struct CachedModule {
    pub(crate) engine: wasmer::Engine,
    pub(crate) module: Module,
    pub(crate) wasm_len: usize,
    pub(crate) layout: Option<DataLayout>,
}

type Key = ([u8; 32], u64);

pub(crate) struct ModuleCache {
    dir: Option<PathBuf>,
    capacity: usize,
    modules: Mutex<Vec<(Key, RuntimeModule)>>,
    compiled: AtomicU64,
    memory_hits: AtomicU64,
    disk_hits: AtomicU64,
    disk_rejected: AtomicU64,
    disk_writes: AtomicU64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn checksum_hasher() -> twox_hash::XxHash64 {
    twox_hash::XxHash64::with_seed(0x5745_4654)
}

fn checksum(data: &[u8]) -> u64 {
    let mut hasher = checksum_hasher();
    hasher.write(data);
    hasher.finish()
}

impl ModuleCache {
    pub(crate) fn new(base: Option<PathBuf>, capacity: usize) -> Self {
        ModuleCache {
            dir: base.map(|base| base.join("wasm-cache")),
            capacity,
            modules: Mutex::new(Vec::new()),
            compiled: AtomicU64::new(0),
            memory_hits: AtomicU64::new(0),
            disk_hits: AtomicU64::new(0),
            disk_rejected: AtomicU64::new(0),
            disk_writes: AtomicU64::new(0),
        }
    }

    pub(crate) fn stats(&self) -> CacheStats {
        CacheStats {
            compiled: self.compiled.load(Ordering::Relaxed),
            memory_hits: self.memory_hits.load(Ordering::Relaxed),
            disk_hits: self.disk_hits.load(Ordering::Relaxed),
            disk_rejected: self.disk_rejected.load(Ordering::Relaxed),
            disk_writes: self.disk_writes.load(Ordering::Relaxed),
        }
    }

    pub(crate) fn count_compile(&self) {
        self.compiled.fetch_add(1, Ordering::Relaxed);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(Key, RuntimeModule)>> {
        self.modules.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn get_memory(&self, hash: &[u8; 32], heap_pages: u64) -> Option<RuntimeModule> {
        let mut modules = self.lock();
        let index = modules.iter().position(|(key, _)| key == &(*hash, heap_pages))?;
        let entry = modules.remove(index);
        let module = entry.1.clone();
        modules.push(entry);
        self.memory_hits.fetch_add(1, Ordering::Relaxed);
        Some(module)
    }

    pub(crate) fn put_memory(&self, hash: [u8; 32], heap_pages: u64, module: RuntimeModule) {
        if self.capacity == 0 {
            return;
        }
        let mut modules = self.lock();
        modules.retain(|(key, _)| key != &(hash, heap_pages));
        modules.push(((hash, heap_pages), module));
        while modules.len() > self.capacity {
            modules.remove(0);
        }
    }

    /// The path of the cache file of some code, if there is an on-disk cache.
    pub(crate) fn file_path(&self, hash: &[u8; 32], tag: &str) -> Option<PathBuf> {
        Some(self.dir.as_ref()?.join(format!("{}-{ENGINE_VERSION}-{tag}.bin", hex(hash))))
    }

    fn reject(&self, path: &Path, why: &str) {
        tracing::warn!(target: "runtime-executor", "ignoring compiled-module cache file {}: {why}", path.display());
        let _ = std::fs::remove_file(path);
        self.disk_rejected.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads a cache file and deserializes it with `deserialize`.
    pub(crate) fn load_disk(
        &self,
        hash: &[u8; 32],
        tag: &str,
        deserialize: impl FnOnce(&[u8]) -> Option<(wasmer::Engine, Module)>,
    ) -> Option<CachedModule> {
        let path = self.file_path(hash, tag)?;
        let data = match std::fs::read(&path) {
            Ok(data) => data,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return None,
            Err(error) => {
                self.reject(&path, &error.to_string());
                return None;
            }
        };
        let Some((header, payload)) = parse(&data, tag) else {
            self.reject(&path, "bad header, checksum or version");
            return None;
        };
        let Some((engine, module)) = deserialize(payload) else {
            self.reject(&path, "wasmer cannot load it");
            return None;
        };
        self.disk_hits.fetch_add(1, Ordering::Relaxed);
        Some(CachedModule { engine, module, wasm_len: header.0, layout: header.1 })
    }

    /// Writes a compiled module to its cache file (errors are only logged).
    pub(crate) fn store_disk(&self, hash: &[u8; 32], tag: &str, cached: &CachedModule) {
        let Some(path) = self.file_path(hash, tag) else { return };
        let write = || -> Result<(), String> {
            use std::io::Write as _;
            let payload = cached.module.serialize().map_err(|e| e.to_string())?;
            // The header part of the body; the payload is written after it
            // as it is (one copy of the module in memory, not three).
            let mut header = Vec::with_capacity(128);
            let version = format!("{ENGINE_VERSION}-{tag}");
            header.extend_from_slice(&(version.len() as u32).to_le_bytes());
            header.extend_from_slice(version.as_bytes());
            header.extend_from_slice(&(cached.wasm_len as u64).to_le_bytes());
            match cached.layout {
                Some(layout) => {
                    header.push(1);
                    header.extend_from_slice(&layout.image_end.to_le_bytes());
                    header.push(u8::from(layout.has_start));
                }
                None => header.push(0),
            }
            let mut hasher = checksum_hasher();
            hasher.write(&header);
            hasher.write(&payload);
            let dir = path.parent().ok_or("no cache directory")?;
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            let tmp = dir.join(format!(".{}.{}.tmp", std::process::id(), rand::random::<u64>()));
            let written = std::fs::File::create(&tmp).and_then(|mut file| {
                file.write_all(MAGIC)?;
                file.write_all(&hasher.finish().to_le_bytes())?;
                file.write_all(&header)?;
                file.write_all(&payload)
            });
            if let Err(e) = written {
                let _ = std::fs::remove_file(&tmp);
                return Err(e.to_string());
            }
            std::fs::rename(&tmp, &path).map_err(|e| {
                let _ = std::fs::remove_file(&tmp);
                e.to_string()
            })
        };
        match write() {
            Ok(()) => {
                self.disk_writes.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                tracing::warn!(target: "runtime-executor", "cannot write compiled-module cache file {}: {error}", path.display())
            }
        }
    }
}

/// What the header of a cache file says: the Wasm length and memory layout.
type Header = (usize, Option<DataLayout>);

/// Checks a cache file; returns its header and wasmer's bytes.
fn parse<'a>(data: &'a [u8], tag: &str) -> Option<(Header, &'a [u8])> {
    if data.get(..8)? != MAGIC {
        return None;
    }
    let sum = u64::from_le_bytes(data.get(8..16)?.try_into().ok()?);
    let body = &data[16..];
    if checksum(body) != sum {
        return None;
    }
    let mut pos = 0;
    let mut take = |n: usize| -> Option<&'a [u8]> {
        let slice = body.get(pos..pos + n)?;
        pos += n;
        Some(slice)
    };
    let version_len = u32::from_le_bytes(take(4)?.try_into().ok()?) as usize;
    if take(version_len)? != format!("{ENGINE_VERSION}-{tag}").as_bytes() {
        return None;
    }
    let wasm_len = usize::try_from(u64::from_le_bytes(take(8)?.try_into().ok()?)).ok()?;
    let layout = match take(1)?[0] {
        0 => None,
        1 => {
            let image_end = u64::from_le_bytes(take(8)?.try_into().ok()?);
            let has_start = take(1)?[0] != 0;
            Some(DataLayout { image_end, has_start })
        }
        _ => return None,
    };
    Some(((wasm_len, layout), &body[pos..]))
}

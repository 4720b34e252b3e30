//! Reusing instances across calls.
//!
//! Instantiating a runtime costs far more than a small call: every import is
//! linked, the memory mapped and the data segments copied. A module keeps a
//! few idle instances instead, and puts each back to the state it had right
//! after instantiation before reusing it (what Substrate's instance reuse
//! does, there with copy-on-write):
//!
//! * memory: the pages past the initial image (the data segments, rounded up
//!   to whole pages) are given back to the kernel with
//!   `madvise(MADV_DONTNEED)`, so they read as zero again; the image itself is
//!   restored from a copy-on-write mapping of a sealed in-memory file
//!   (`memfd`) holding the initial contents, so only the pages the next call
//!   touches are faulted in;
//! * globals: every mutable global the module defines (exported for the
//!   purpose at compilation, see [`crate::limits`]) gets its initial value;
//! * fuel and call depth are set by every call anyway.
//!
//! An instance whose memory grew, whose reset fails, or of a module with a
//! start function or unusual data segments is simply dropped. Pooling is
//! Linux-only; elsewhere every call instantiates anew.

use crate::engine::CallInstance;
use std::sync::Mutex;
use wasmer::{Memory, Store};

pub(crate) struct InstancePool {
    capacity: usize,
    idle: Mutex<Vec<CallInstance>>,
}

impl InstancePool {
    pub(crate) fn new(capacity: usize) -> Self {
        let capacity = if cfg!(target_os = "linux") { capacity } else { 0 };
        InstancePool { capacity, idle: Mutex::new(Vec::new()) }
    }

    pub(crate) fn capacity(&self) -> usize {
        self.capacity
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<CallInstance>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(crate) fn idle(&self) -> usize {
        self.lock().len()
    }

    /// An idle instance, already reset.
    pub(crate) fn take(&self) -> Option<CallInstance> {
        self.lock().pop()
    }

    /// Resets an instance after a call and keeps it if there is room.
    pub(crate) fn give_back(&self, mut call: CallInstance) {
        if self.capacity == 0 || self.lock().len() >= self.capacity {
            return;
        }
        if reset(&mut call) {
            let mut idle = self.lock();
            if idle.len() < self.capacity {
                idle.push(call);
            }
        }
    }
}

fn reset(call: &mut CallInstance) -> bool {
    let Some(image) = &call.image else { return false };
    if !image.restore(&call.memory, &call.store, call.initial_size) {
        return false;
    }
    for (global, value) in &call.globals {
        if global.set(&mut call.store, value.clone()).is_err() {
            return false;
        }
    }
    true
}

/// The initial contents of an instance's memory (up to the end of the data
/// segments, rounded up to pages).
pub(crate) struct MemoryImage {
    len: usize,
    #[cfg(target_os = "linux")]
    file: Option<std::os::fd::OwnedFd>,
    bytes: Vec<u8>,
}

const PAGE: usize = 4096;

impl MemoryImage {
    /// Captures the first `image_end` bytes (rounded up) of a fresh instance's memory.
    pub(crate) fn capture(memory: &Memory, store: &Store, image_end: u64) -> Option<MemoryImage> {
        let view = memory.view(store);
        let size = usize::try_from(view.data_size()).ok()?;
        let len = usize::try_from(image_end).ok()?.checked_add(PAGE - 1)? / PAGE * PAGE;
        if len > size || view.data_ptr() as usize & (PAGE - 1) != 0 {
            return None;
        }
        let mut bytes = vec![0; len];
        view.read(0, &mut bytes).ok()?;
        #[cfg(target_os = "linux")]
        let file = sealed_file(&bytes);
        Some(MemoryImage {
            len,
            #[cfg(target_os = "linux")]
            file,
            bytes,
        })
    }

    /// Puts the memory back to the image; false if it cannot (the instance
    /// must then be dropped).
    #[cfg(target_os = "linux")]
    fn restore(&self, memory: &Memory, store: &Store, initial_size: u64) -> bool {
        let view = memory.view(store);
        if view.data_size() != initial_size {
            return false;
        }
        let base = view.data_ptr();
        let size = initial_size as usize;
        // SAFETY: [base, base + size) is the instance's accessible linear
        // memory, which nothing else uses between calls; `len <= size` and
        // both are page multiples (checked at capture, base is page aligned).
        unsafe {
            if size > self.len && libc::madvise(base.add(self.len).cast(), size - self.len, libc::MADV_DONTNEED) != 0 {
                return false;
            }
            if self.len == 0 {
                return true;
            }
            if let Some(file) = &self.file {
                use std::os::fd::AsRawFd;
                let mapped = libc::mmap(
                    base.cast(),
                    self.len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_FIXED,
                    file.as_raw_fd(),
                    0,
                );
                if mapped == base.cast() {
                    return true;
                }
                // A failed MAP_FIXED leaves the range unmapped or as it was:
                // either way the instance is not reused.
                return false;
            }
            std::ptr::copy_nonoverlapping(self.bytes.as_ptr(), base, self.len);
        }
        true
    }

    #[cfg(not(target_os = "linux"))]
    fn restore(&self, _memory: &Memory, _store: &Store, _initial_size: u64) -> bool {
        let _ = (&self.bytes, self.len);
        false
    }
}

/// A sealed memfd holding `bytes`, for copy-on-write mappings.
#[cfg(target_os = "linux")]
fn sealed_file(bytes: &[u8]) -> Option<std::os::fd::OwnedFd> {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    if bytes.is_empty() {
        return None;
    }
    // SAFETY: plain syscalls on a descriptor this function owns.
    unsafe {
        let fd = libc::memfd_create(c"weft-wasm-image".as_ptr(), libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING);
        if fd < 0 {
            return None;
        }
        let owned = OwnedFd::from_raw_fd(fd);
        let mut file = std::fs::File::from(owned);
        file.write_all(bytes).ok()?;
        let owned: OwnedFd = file.into();
        let seals = libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE | libc::F_SEAL_SEAL;
        if libc::fcntl(owned.as_raw_fd(), libc::F_ADD_SEALS, seals) != 0 {
            return None;
        }
        Some(owned)
    }
}

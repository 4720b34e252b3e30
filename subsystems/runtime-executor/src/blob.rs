//! Preparing runtime code for compilation: the Substrate zstd envelope, the
//! `:heappages` value and the memory limits.
//!
//! Substrate gives a runtime a *static* heap: its linear memory has
//! `initial + heap_pages` pages, and that is also its maximum, so neither the
//! allocator nor the runtime's own `memory.grow` can enlarge it. For a runtime
//! that imports `env.memory` (every real relay-chain runtime) the host creates
//! that memory at instantiation. For a runtime that defines its own memory
//! (test runtimes and parachain validation functions) the limits of its memory
//! section are rewritten here, before compilation, as Substrate's
//! `RuntimeBlob::setup_memory_according_to_heap_alloc_strategy` does.

use crate::ExecutorError;
use std::borrow::Cow;
use weft_runtime_blob::CODE_BLOB_BOMB_LIMIT;

/// Heap pages used when the state has no `:heappages` entry (Substrate's `DEFAULT_HEAP_ALLOC_PAGES`).
pub const DEFAULT_HEAP_PAGES: u64 = 2048;

/// The storage key `:heappages`.
pub const HEAP_PAGES_KEY: &[u8] = b":heappages";

/// The storage key `:code`.
pub const CODE_KEY: &[u8] = b":code";

/// Largest memory a 32-bit Wasm module can have, in pages.
const MAX_WASM_PAGES: u64 = 65536;

const WASM_MAGIC: [u8; 4] = [0x00, 0x61, 0x73, 0x6d];
const WASM_VERSION_1: [u8; 4] = [0x01, 0x00, 0x00, 0x00];
const MEMORY_SECTION_ID: u8 = 5;

/// Heap pages from the raw value of `:heappages`: a little-endian `u64`.
///
/// As in Substrate (`u64::decode`, which ignores trailing bytes), a missing
/// value or one shorter than 8 bytes means the default [`DEFAULT_HEAP_PAGES`].
pub fn heap_pages_from_storage(value: Option<&[u8]>) -> u64 {
    value
        .and_then(|bytes| bytes.get(..8))
        .map(|bytes| {
            let mut le = [0u8; 8];
            le.copy_from_slice(bytes);
            u64::from_le_bytes(le)
        })
        .unwrap_or(DEFAULT_HEAP_PAGES)
}

/// Returns the Wasm bytes of runtime code as stored under `:code`: expands the
/// Substrate zstd envelope (with the 50 MiB bomb limit) and checks the Wasm magic.
pub fn wasm_from_code(code: &[u8]) -> Result<Cow<'_, [u8]>, ExecutorError> {
    let wasm = weft_runtime_blob::decompress(code, CODE_BLOB_BOMB_LIMIT)?;
    if wasm.len() < 8 || wasm[..4] != WASM_MAGIC || wasm[4..8] != WASM_VERSION_1 {
        return Err(ExecutorError::NotWasm);
    }
    Ok(wasm)
}

/// Total memory pages for a module whose memory starts with `initial` pages.
pub(crate) fn total_pages(initial: u64, heap_pages: u64) -> Result<u32, ExecutorError> {
    initial
        .checked_add(heap_pages)
        .filter(|&pages| pages <= MAX_WASM_PAGES)
        .map(|pages| pages as u32)
        .ok_or(ExecutorError::TooManyPages { initial, heap_pages })
}

/// If the module defines its own memory, rewrites its limits to
/// `min = max = initial + heap_pages` (or, with `maximum`, to a maximum of
/// `max(maximum, min)` pages) and returns the new module bytes.
/// Returns `Ok(None)` when the module has no memory section.
///
/// Only the section framing and the memory section are parsed; anything the
/// rewrite does not understand (several memories, shared or 64-bit memories)
/// is left as it is, for compilation to reject.
pub(crate) fn set_defined_memory_pages(
    wasm: &[u8],
    heap_pages: u64,
    maximum: Option<u32>,
) -> Result<Option<Vec<u8>>, ExecutorError> {
    let truncated = || ExecutorError::InvalidWasm("truncated section".into());
    let mut pos = 8;
    while pos < wasm.len() {
        let section_start = pos;
        let id = wasm[pos];
        pos += 1;
        let size = read_leb_u32(wasm, &mut pos).ok_or_else(truncated)? as usize;
        let body_start = pos;
        let end = body_start.checked_add(size).filter(|&e| e <= wasm.len()).ok_or_else(truncated)?;
        pos = end;
        if id != MEMORY_SECTION_ID {
            continue;
        }
        let body = &wasm[body_start..end];
        let mut p = 0;
        let count = read_leb_u32(body, &mut p).ok_or_else(truncated)?;
        let flags = *body.get(p).ok_or_else(truncated)?;
        p += 1;
        if count != 1 || flags > 1 {
            return Ok(None);
        }
        let initial = read_leb_u32(body, &mut p).ok_or_else(truncated)?;
        let pages = total_pages(u64::from(initial), heap_pages)?;
        let mut new_body = vec![1u8, 0x01];
        write_leb_u32(pages, &mut new_body);
        write_leb_u32(maximum.map_or(pages, |max| max.max(pages)), &mut new_body);
        let mut out = Vec::with_capacity(wasm.len() + 8);
        out.extend_from_slice(&wasm[..section_start]);
        out.push(MEMORY_SECTION_ID);
        write_leb_u32(new_body.len() as u32, &mut out);
        out.extend_from_slice(&new_body);
        out.extend_from_slice(&wasm[end..]);
        return Ok(Some(out));
    }
    Ok(None)
}

/// Where a module's initial memory contents lie, for resetting a pooled instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DataLayout {
    /// End of the highest active data segment: memory past it starts zeroed.
    pub(crate) image_end: u64,
    /// Whether the module has a start function (which may write anywhere at
    /// instantiation, so its instances are not pooled).
    pub(crate) has_start: bool,
}

const START_SECTION_ID: u8 = 8;
const DATA_SECTION_ID: u8 = 11;

/// Reads the data and start sections. `None` when a data segment is not of the
/// plain `i32.const` form (the instance is then not pooled).
pub(crate) fn data_layout(wasm: &[u8]) -> Option<DataLayout> {
    let mut layout = DataLayout { image_end: 0, has_start: false };
    let mut pos = 8;
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let size = read_leb_u32(wasm, &mut pos)? as usize;
        let body = wasm.get(pos..pos.checked_add(size)?)?;
        pos += size;
        match id {
            START_SECTION_ID => layout.has_start = true,
            DATA_SECTION_ID => {
                let mut p = 0;
                let count = read_leb_u32(body, &mut p)?;
                for _ in 0..count {
                    // Only active segments of memory 0 with an `i32.const` offset.
                    if read_leb_u32(body, &mut p)? != 0 || *body.get(p)? != 0x41 {
                        return None;
                    }
                    p += 1;
                    let offset = read_sleb_i32(body, &mut p)? as u32;
                    if *body.get(p)? != 0x0b {
                        return None;
                    }
                    p += 1;
                    let len = read_leb_u32(body, &mut p)?;
                    p = p.checked_add(len as usize).filter(|&end| end <= body.len())?;
                    layout.image_end = layout.image_end.max(u64::from(offset) + u64::from(len));
                }
            }
            _ => {}
        }
    }
    Some(layout)
}

fn read_sleb_i32(bytes: &[u8], pos: &mut usize) -> Option<i32> {
    let mut result: i64 = 0;
    let mut shift = 0;
    loop {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        result |= i64::from(byte & 0x7f) << shift;
        shift += 7;
        if byte & 0x80 == 0 {
            if shift < 64 && byte & 0x40 != 0 {
                result |= -1i64 << shift;
            }
            return i32::try_from(result).ok();
        }
        if shift >= 35 {
            return None;
        }
    }
}

fn read_leb_u32(bytes: &[u8], pos: &mut usize) -> Option<u32> {
    let mut result: u64 = 0;
    for shift in 0..5 {
        let byte = *bytes.get(*pos)?;
        *pos += 1;
        result |= u64::from(byte & 0x7f) << (7 * shift);
        if byte & 0x80 == 0 {
            return u32::try_from(result).ok();
        }
    }
    None
}

fn write_leb_u32(mut value: u32, out: &mut Vec<u8>) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heap_pages_decoding() {
        assert_eq!(heap_pages_from_storage(None), DEFAULT_HEAP_PAGES);
        assert_eq!(heap_pages_from_storage(Some(&[1, 0, 0, 0])), DEFAULT_HEAP_PAGES);
        assert_eq!(heap_pages_from_storage(Some(&8u64.to_le_bytes())), 8);
        assert_eq!(heap_pages_from_storage(Some(&[0x00, 0x10, 0, 0, 0, 0, 0, 0, 0xff])), 4096);
    }

    #[test]
    fn not_wasm_is_rejected() {
        assert!(matches!(wasm_from_code(b"hello world"), Err(ExecutorError::NotWasm)));
        assert!(matches!(wasm_from_code(b""), Err(ExecutorError::NotWasm)));
        assert!(wasm_from_code(b"\0asm\x01\0\0\0").is_ok());
    }

    #[test]
    fn data_layout_finds_the_image_end() {
        let wasm = wat::parse_str(
            r#"(module (memory 2) (data (i32.const 16) "abc") (data (i32.const 70000) "xy") (func $s) (start $s))"#,
        )
        .unwrap();
        assert_eq!(data_layout(&wasm), Some(DataLayout { image_end: 70002, has_start: true }));
        let wasm = wat::parse_str(r#"(module (memory 1) (data (i32.const -1) "a"))"#).unwrap();
        assert_eq!(data_layout(&wasm).unwrap().image_end, 1u64 << 32);
        let wasm = wat::parse_str(r#"(module (memory 1))"#).unwrap();
        assert_eq!(data_layout(&wasm), Some(DataLayout { image_end: 0, has_start: false }));
    }

    #[test]
    fn memory_section_is_rewritten() {
        let wasm = wat::parse_str(r#"(module (memory (export "memory") 17) (func (export "f")))"#).unwrap();
        let out = set_defined_memory_pages(&wasm, 2048, None).unwrap().unwrap();
        let mut p = 8;
        let mut found = false;
        while p < out.len() {
            let id = out[p];
            p += 1;
            let size = read_leb_u32(&out, &mut p).unwrap() as usize;
            if id == MEMORY_SECTION_ID {
                let mut q = p;
                assert_eq!(read_leb_u32(&out, &mut q), Some(1));
                assert_eq!(out[q], 1);
                q += 1;
                assert_eq!(read_leb_u32(&out, &mut q), Some(2065));
                assert_eq!(read_leb_u32(&out, &mut q), Some(2065));
                found = true;
            }
            p += size;
        }
        assert!(found);
        // No memory section: nothing to do.
        let wasm = wat::parse_str(r#"(module (import "env" "memory" (memory 1)))"#).unwrap();
        assert_eq!(set_defined_memory_pages(&wasm, 2048, None).unwrap(), None);
        // Too many pages.
        let wasm = wat::parse_str(r#"(module (memory 2))"#).unwrap();
        assert!(matches!(set_defined_memory_pages(&wasm, 65535, None), Err(ExecutorError::TooManyPages { .. })));
    }
}

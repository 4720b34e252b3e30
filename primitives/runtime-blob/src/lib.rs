//! Runtime Wasm blobs as stored under `:code`, before any execution.
//!
//! This crate owns three small, pure pieces that every part of Weft needs before
//! a runtime is ever instantiated:
//!
//! * the Substrate compression envelope ([`decompress`]): an 8-byte magic prefix
//!   followed by a zstd frame, expanded with a hard output limit so that a
//!   "bomb" is rejected instead of exhausting memory;
//! * a minimal Wasm section reader ([`custom_sections`]) that walks the module's
//!   section headers and returns custom sections by name, without validating or
//!   compiling code;
//! * [`RuntimeVersion`] decoding from the `runtime_version` and `runtime_apis`
//!   custom sections (or from a `Core_version` call's output, which uses the same
//!   encoding), including the optional `transaction_version` and
//!   `state_version` (a.k.a. `system_version`) tails.
//!
//! It never executes Wasm; the runtime executor adds the `Core_version`
//! fallback for blobs without the custom sections.

use parity_scale_codec::{Decode, Encode, Input};
use std::borrow::Cow;

/// Magic prefix Substrate puts in front of a zstd-compressed runtime blob.
pub const ZSTD_PREFIX: [u8; 8] = [0x52, 0xbc, 0x53, 0x76, 0x46, 0xdb, 0x8e, 0x05];

/// Largest size a compressed runtime may expand to (Substrate's `CODE_BLOB_BOMB_LIMIT`).
pub const CODE_BLOB_BOMB_LIMIT: usize = 50 * 1024 * 1024;

/// The Wasm binary magic and version 1.
const WASM_MAGIC: [u8; 4] = [0x00, 0x61, 0x73, 0x6d];
const WASM_VERSION_1: [u8; 4] = [0x01, 0x00, 0x00, 0x00];

/// `blake2_64(b"Core")`, the identifier of the `Core` runtime API.
pub const CORE_API_ID: [u8; 8] = [0xdf, 0x6a, 0xcb, 0x68, 0x99, 0x07, 0x60, 0x9b];

/// Errors about a runtime blob.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BlobError {
    #[error("compressed runtime expands beyond the limit of {limit} bytes")]
    BombLimitExceeded { limit: usize },
    #[error("compressed runtime is not a valid zstd frame: {0}")]
    Zstd(String),
    #[error("not a Wasm module: bad magic or version")]
    NotWasm,
    #[error("truncated Wasm module at byte {offset}")]
    Truncated { offset: usize },
    #[error("malformed LEB128 integer at byte {offset}")]
    BadLeb128 { offset: usize },
    #[error("custom section name at byte {offset} is not UTF-8")]
    BadSectionName { offset: usize },
    #[error("section `{0}` appears more than once")]
    DuplicateSection(&'static str),
    #[error("cannot decode runtime version: {0}")]
    BadVersion(String),
    #[error("runtime_apis section length {0} is not a multiple of 12")]
    BadApisSection(usize),
}

/// Returns the runtime's Wasm bytes, expanding the Substrate zstd envelope if present.
///
/// Bytes without the prefix are returned as they are. Expanded output larger than
/// `limit` is an error, detected while decompressing (the frame's declared size is
/// not trusted).
pub fn decompress(code: &[u8], limit: usize) -> Result<Cow<'_, [u8]>, BlobError> {
    let Some(frame) = code.strip_prefix(&ZSTD_PREFIX[..]) else {
        return Ok(Cow::Borrowed(code));
    };
    decompress_zstd_frame(frame, limit).map(Cow::Owned)
}

/// Expands a raw zstd frame (no Substrate prefix) with an output limit.
pub fn decompress_zstd_frame(frame: &[u8], limit: usize) -> Result<Vec<u8>, BlobError> {
    use std::io::Read;
    let decoder = zstd::stream::read::Decoder::new(frame).map_err(|e| BlobError::Zstd(e.to_string()))?;
    let mut out = Vec::new();
    // Read one byte past the limit: reaching it means the blob is too large.
    let read = decoder.take(limit as u64 + 1).read_to_end(&mut out).map_err(|e| BlobError::Zstd(e.to_string()))?;
    if read > limit {
        return Err(BlobError::BombLimitExceeded { limit });
    }
    Ok(out)
}

/// True if the blob carries the Substrate compression prefix.
pub fn is_compressed(code: &[u8]) -> bool {
    code.starts_with(&ZSTD_PREFIX)
}

fn read_leb128_u32(bytes: &[u8], pos: &mut usize) -> Result<u32, BlobError> {
    let start = *pos;
    let mut result: u64 = 0;
    for shift in 0..5 {
        let byte = *bytes.get(*pos).ok_or(BlobError::Truncated { offset: *pos })?;
        *pos += 1;
        result |= u64::from(byte & 0x7f) << (7 * shift);
        if byte & 0x80 == 0 {
            return u32::try_from(result).map_err(|_| BlobError::BadLeb128 { offset: start });
        }
    }
    Err(BlobError::BadLeb128 { offset: start })
}

/// A custom section of a Wasm module: its name and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomSection<'a> {
    pub name: &'a str,
    pub payload: &'a [u8],
}

/// Walks the section headers of a Wasm module and returns its custom sections
/// in order. Only the framing is checked; section contents are not validated.
pub fn custom_sections(wasm: &[u8]) -> Result<Vec<CustomSection<'_>>, BlobError> {
    if wasm.len() < 8 || wasm[0..4] != WASM_MAGIC || wasm[4..8] != WASM_VERSION_1 {
        return Err(BlobError::NotWasm);
    }
    let mut pos = 8;
    let mut sections = Vec::new();
    while pos < wasm.len() {
        let id = wasm[pos];
        pos += 1;
        let size = read_leb128_u32(wasm, &mut pos)? as usize;
        let end = pos.checked_add(size).filter(|&e| e <= wasm.len()).ok_or(BlobError::Truncated { offset: pos })?;
        if id == 0 {
            let mut name_pos = pos;
            let name_len = read_leb128_u32(&wasm[..end], &mut name_pos)? as usize;
            let name_end = name_pos
                .checked_add(name_len)
                .filter(|&e| e <= end)
                .ok_or(BlobError::Truncated { offset: name_pos })?;
            let name = std::str::from_utf8(&wasm[name_pos..name_end])
                .map_err(|_| BlobError::BadSectionName { offset: name_pos })?;
            sections.push(CustomSection { name, payload: &wasm[name_end..end] });
        }
        pos = end;
    }
    Ok(sections)
}

/// The version of a runtime, as returned by `Core_version` or stored in the
/// `runtime_version` custom section.
#[derive(Debug, Clone, PartialEq, Eq, Encode, serde::Serialize)]
pub struct RuntimeVersion {
    pub spec_name: String,
    pub impl_name: String,
    pub authoring_version: u32,
    pub spec_version: u32,
    pub impl_version: u32,
    /// Runtime APIs as `(blake2_64(name), version)`.
    #[serde(serialize_with = "serialize_apis")]
    pub apis: Vec<([u8; 8], u32)>,
    /// Present from `Core` version 3 on.
    pub transaction_version: Option<u32>,
    /// Present from `Core` version 4 on (named `system_version` in recent
    /// Substrate): 0 = state trie V0, 1 = V1, 2 = V1 and V1 extrinsics root.
    pub state_version: Option<u8>,
}

fn serialize_apis<S: serde::Serializer>(apis: &[([u8; 8], u32)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeSeq;
    let mut seq = s.serialize_seq(Some(apis.len()))?;
    for (id, version) in apis {
        let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
        seq.serialize_element(&(format!("0x{hex}"), version))?;
    }
    seq.end()
}

/// Most APIs a runtime version may list; far above any real runtime.
const MAX_APIS: u32 = 4096;
/// Longest spec or impl name accepted.
const MAX_NAME_LEN: u32 = 1024;

fn decode_bounded_string<I: Input>(input: &mut I) -> Result<String, BlobError> {
    let len = parity_scale_codec::Compact::<u32>::decode(input).map_err(|e| BlobError::BadVersion(e.to_string()))?.0;
    if len > MAX_NAME_LEN {
        return Err(BlobError::BadVersion(format!("name of {len} bytes is too long")));
    }
    let mut buf = vec![0u8; len as usize];
    input.read(&mut buf).map_err(|e| BlobError::BadVersion(e.to_string()))?;
    String::from_utf8(buf).map_err(|_| BlobError::BadVersion("name is not UTF-8".into()))
}

impl RuntimeVersion {
    /// Version of the `Core` API, if listed.
    pub fn core_version(&self) -> Option<u32> {
        self.apis.iter().find(|(id, _)| *id == CORE_API_ID).map(|(_, v)| *v)
    }

    /// Decodes a SCALE `RuntimeVersion`.
    ///
    /// `core_version_hint` says which optional fields are present; without a hint
    /// (`None`) the API list is consulted, and failing that the optional fields are
    /// read when bytes remain, as older and newer encodings differ only by tails.
    pub fn decode_with_hint(bytes: &[u8], core_version_hint: Option<u32>) -> Result<Self, BlobError> {
        let err = |e: parity_scale_codec::Error| BlobError::BadVersion(e.to_string());
        let input = &mut &bytes[..];
        let spec_name = decode_bounded_string(input)?;
        let impl_name = decode_bounded_string(input)?;
        let authoring_version = u32::decode(input).map_err(err)?;
        let spec_version = u32::decode(input).map_err(err)?;
        let impl_version = u32::decode(input).map_err(err)?;
        let n_apis = parity_scale_codec::Compact::<u32>::decode(input).map_err(err)?.0;
        if n_apis > MAX_APIS {
            return Err(BlobError::BadVersion(format!("{n_apis} runtime APIs is too many")));
        }
        let mut apis = Vec::with_capacity(n_apis.min(64) as usize);
        for _ in 0..n_apis {
            apis.push(<([u8; 8], u32)>::decode(input).map_err(err)?);
        }
        let core = core_version_hint.or_else(|| apis.iter().find(|(id, _)| *id == CORE_API_ID).map(|(_, v)| *v));
        let (want_tx, want_state) = match core {
            Some(v) => (v >= 3, v >= 4),
            None => (!input.is_empty(), input.len() > 4),
        };
        let transaction_version = if want_tx { Some(u32::decode(input).map_err(err)?) } else { None };
        let state_version = if want_state { Some(u8::decode(input).map_err(err)?) } else { None };
        Ok(RuntimeVersion {
            spec_name,
            impl_name,
            authoring_version,
            spec_version,
            impl_version,
            apis,
            transaction_version,
            state_version,
        })
    }

    /// Trie state version this runtime uses: 0 unless `state_version` says otherwise.
    pub fn trie_state_version(&self) -> u8 {
        match self.state_version {
            Some(0) | None => 0,
            Some(_) => 1,
        }
    }
}

/// Parses the `runtime_apis` custom section: concatenated 12-byte records of
/// `blake2_64(name) ++ version (u32 LE)`.
pub fn decode_runtime_apis(payload: &[u8]) -> Result<Vec<([u8; 8], u32)>, BlobError> {
    if !payload.len().is_multiple_of(12) {
        return Err(BlobError::BadApisSection(payload.len()));
    }
    Ok(payload
        .chunks_exact(12)
        .map(|rec| {
            let mut id = [0u8; 8];
            id.copy_from_slice(&rec[..8]);
            let mut v = [0u8; 4];
            v.copy_from_slice(&rec[8..]);
            (id, u32::from_le_bytes(v))
        })
        .collect())
}

/// Reads the runtime version from the custom sections of an (uncompressed) Wasm
/// module. `Ok(None)` when the module has no `runtime_version` section.
pub fn version_from_custom_sections(wasm: &[u8]) -> Result<Option<RuntimeVersion>, BlobError> {
    let mut version_section = None;
    let mut apis_section = None;
    for section in custom_sections(wasm)? {
        let (slot, name) = match section.name {
            "runtime_version" => (&mut version_section, "runtime_version"),
            "runtime_apis" => (&mut apis_section, "runtime_apis"),
            _ => continue,
        };
        if slot.replace(section.payload).is_some() {
            return Err(BlobError::DuplicateSection(name));
        }
    }
    let Some(version_bytes) = version_section else { return Ok(None) };
    let apis = apis_section.map(decode_runtime_apis).transpose()?;
    let core_hint = apis.as_ref().and_then(|a| a.iter().find(|(id, _)| *id == CORE_API_ID).map(|(_, v)| *v));
    let mut version = RuntimeVersion::decode_with_hint(version_bytes, core_hint)?;
    if let Some(apis) = apis {
        if version.apis.is_empty() {
            version.apis = apis;
        }
    }
    Ok(Some(version))
}

/// Convenience: decompress `:code` (with the default bomb limit) and read its
/// version from the custom sections.
pub fn runtime_version_of_code(code: &[u8]) -> Result<Option<RuntimeVersion>, BlobError> {
    let wasm = decompress(code, CODE_BLOB_BOMB_LIMIT)?;
    version_from_custom_sections(&wasm)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leb(mut n: usize, out: &mut Vec<u8>) {
        loop {
            let byte = (n & 0x7f) as u8;
            n >>= 7;
            if n == 0 {
                out.push(byte);
                break;
            }
            out.push(byte | 0x80);
        }
    }

    fn module_with_sections(sections: &[(&str, Vec<u8>)]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&WASM_MAGIC);
        m.extend_from_slice(&WASM_VERSION_1);
        // A type section (id 1) with zero entries, to check non-custom sections are skipped.
        m.extend_from_slice(&[1, 1, 0]);
        for (name, payload) in sections {
            let mut body = Vec::new();
            leb(name.len(), &mut body);
            body.extend_from_slice(name.as_bytes());
            body.extend_from_slice(payload);
            m.push(0);
            leb(body.len(), &mut m);
            m.extend_from_slice(&body);
        }
        m
    }

    #[test]
    fn westend_9300_style_section_decodes() {
        // "westend","parity-westend",2,9300,0,[],13,0 as in the spec checklist.
        let mut payload = Vec::new();
        "westend".to_string().encode_to(&mut payload);
        "parity-westend".to_string().encode_to(&mut payload);
        2u32.encode_to(&mut payload);
        9300u32.encode_to(&mut payload);
        0u32.encode_to(&mut payload);
        Vec::<([u8; 8], u32)>::new().encode_to(&mut payload);
        13u32.encode_to(&mut payload);
        0u8.encode_to(&mut payload);
        let mut apis = Vec::new();
        apis.extend_from_slice(&CORE_API_ID);
        apis.extend_from_slice(&4u32.to_le_bytes());
        let wasm = module_with_sections(&[("runtime_version", payload), ("runtime_apis", apis)]);
        let v = version_from_custom_sections(&wasm).unwrap().unwrap();
        assert_eq!(v.spec_name, "westend");
        assert_eq!(v.spec_version, 9300);
        assert_eq!(v.transaction_version, Some(13));
        assert_eq!(v.state_version, Some(0));
        assert_eq!(v.core_version(), Some(4));
    }

    #[test]
    fn module_without_section_has_no_version() {
        let wasm = module_with_sections(&[("name", vec![1, 2, 3])]);
        assert_eq!(version_from_custom_sections(&wasm).unwrap(), None);
    }

    #[test]
    fn truncated_module_is_an_error() {
        let mut wasm = module_with_sections(&[("runtime_version", vec![0; 40])]);
        wasm.truncate(wasm.len() - 3);
        assert!(matches!(custom_sections(&wasm), Err(BlobError::Truncated { .. })));
        assert_eq!(custom_sections(b"\0asm\x02\0\0\0"), Err(BlobError::NotWasm));
    }

    #[test]
    fn zstd_round_trip_and_bomb() {
        let original = vec![7u8; 100_000];
        let mut blob = ZSTD_PREFIX.to_vec();
        blob.extend(zstd::encode_all(&original[..], 3).unwrap());
        assert_eq!(decompress(&blob, 200_000).unwrap().as_ref(), &original[..]);
        assert_eq!(decompress(&blob, 99_999), Err(BlobError::BombLimitExceeded { limit: 99_999 }));
        assert!(matches!(decompress(&[&ZSTD_PREFIX[..], b"garbage"].concat(), 10), Err(BlobError::Zstd(_))));
        // Uncompressed blobs pass through untouched.
        assert!(matches!(decompress(b"\0asm", 10), Ok(Cow::Borrowed(_))));
    }

    proptest::proptest! {
        #[test]
        fn section_reader_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let mut wasm = WASM_MAGIC.to_vec();
            wasm.extend_from_slice(&WASM_VERSION_1);
            wasm.extend_from_slice(&bytes);
            let _ = version_from_custom_sections(&wasm);
            let _ = RuntimeVersion::decode_with_hint(&bytes, None);
        }
    }
}

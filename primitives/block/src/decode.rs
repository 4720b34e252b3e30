//! Bounded decoding of untrusted bytes.
//!
//! Every decoder here:
//! * refuses inputs longer than [`DecodeLimits::max_input_len`] before looking at them;
//! * runs the SCALE decoder through an [`Input`] that counts nesting depth
//!   ([`DecodeLimits::max_depth`]) and the heap it is about to allocate
//!   ([`DecodeLimits::max_heap`], fed by parity-scale-codec's `on_before_alloc_mem`
//!   hook, which every `Vec` decode calls before reserving);
//! * reports no remaining length to the codec, so that length prefixes are never
//!   trusted for pre-allocation: `Vec`s grow in bounded chunks as data actually arrives;
//! * requires the whole input to be consumed ([`decode_exact`]) unless the caller
//!   explicitly asks for a prefix ([`decode_prefix`]).
//!
//! Errors say what was being decoded and what went wrong, e.g.
//! `"3 trailing bytes after header"` or `"truncated header: input ended after 40 bytes while more data was expected"`.

use parity_scale_codec::{Decode, Error as CodecError, Input};

use crate::header::UNKNOWN_DIGEST_ITEM;

/// Limits applied by the bounded decoders.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Inputs longer than this are rejected without being decoded.
    pub max_input_len: usize,
    /// Maximum nesting of heap containers (`Vec` inside `Vec` ...).
    pub max_depth: u32,
    /// Maximum heap the decoded value may allocate, as accounted by the codec
    /// (`len * size_of::<T>()` for every `Vec<T>`).
    pub max_heap: usize,
}

const KIB: usize = 1024;
const MIB: usize = 1024 * KIB;

impl DecodeLimits {
    /// Headers. The largest real headers carry a full authority list in a BABE and
    /// a GRANDPA digest (Polkadot #512271: 16 KiB for 297 validators), so 4 MiB leaves
    /// ample room for any realistic validator set.
    pub const HEADER: DecodeLimits = DecodeLimits { max_input_len: 4 * MIB, max_depth: 16, max_heap: 32 * MIB };
    /// A single digest item, pre-digest, or consensus log payload.
    pub const DIGEST_ITEM: DecodeLimits = DecodeLimits { max_input_len: 4 * MIB, max_depth: 16, max_heap: 32 * MIB };
    /// Full blocks (header + body). Relay chain blocks are capped at 5 MiB by the runtime.
    pub const BLOCK: DecodeLimits = DecodeLimits { max_input_len: 32 * MIB, max_depth: 16, max_heap: 256 * MIB };
    /// A single extrinsic.
    pub const EXTRINSIC: DecodeLimits = DecodeLimits { max_input_len: 32 * MIB, max_depth: 16, max_heap: 64 * MIB };
    /// GRANDPA justifications and commit messages (precommits of up to thousands of
    /// voters plus vote-ancestry headers).
    pub const JUSTIFICATION: DecodeLimits =
        DecodeLimits { max_input_len: 16 * MIB, max_depth: 16, max_heap: 128 * MIB };
    /// Runtime API return values (BABE configuration, authority lists, ...).
    pub const RUNTIME_API: DecodeLimits = DecodeLimits { max_input_len: 16 * MIB, max_depth: 16, max_heap: 128 * MIB };
}

/// Why untrusted bytes were rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input is longer than the limit for this kind of object.
    #[error("{what} input is {len} bytes, over the limit of {max} bytes")]
    InputTooLarge {
        /// What was being decoded.
        what: &'static str,
        /// Input length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The input ended in the middle of the object.
    #[error("truncated {what}: input ended after {len} bytes while more data was expected")]
    Truncated {
        /// What was being decoded.
        what: &'static str,
        /// Input length.
        len: usize,
    },
    /// The object decoded but did not use all the input.
    #[error("{count} trailing bytes after {what}")]
    TrailingBytes {
        /// What was being decoded.
        what: &'static str,
        /// Number of unused bytes.
        count: usize,
    },
    /// A digest item with an index other than 0, 4, 5, 6, 8.
    #[error("unknown digest item index {index} at byte {offset} of {what}")]
    UnknownDigestItem {
        /// What was being decoded.
        what: &'static str,
        /// The offending index byte.
        index: u8,
        /// Its offset in the input.
        offset: usize,
    },
    /// Containers nested deeper than [`DecodeLimits::max_depth`].
    #[error("{what} nests containers deeper than the limit of {max}")]
    TooDeep {
        /// What was being decoded.
        what: &'static str,
        /// The limit.
        max: u32,
    },
    /// Decoding would allocate more than [`DecodeLimits::max_heap`].
    #[error("decoding {what} would allocate more than {max} bytes")]
    HeapLimit {
        /// What was being decoded.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// Any other malformation (bad enum index, non-canonical compact, ...).
    #[error("invalid {what} at byte {offset}: {reason}")]
    Invalid {
        /// What was being decoded.
        what: &'static str,
        /// Input offset at which decoding stopped.
        offset: usize,
        /// The codec's description (innermost cause last).
        reason: String,
    },
}

impl DecodeError {
    /// What was being decoded when the error occurred.
    pub fn what(&self) -> &'static str {
        match self {
            DecodeError::InputTooLarge { what, .. }
            | DecodeError::Truncated { what, .. }
            | DecodeError::TrailingBytes { what, .. }
            | DecodeError::UnknownDigestItem { what, .. }
            | DecodeError::TooDeep { what, .. }
            | DecodeError::HeapLimit { what, .. }
            | DecodeError::Invalid { what, .. } => what,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Violation {
    Truncated,
    TooDeep,
    HeapLimit,
}

/// `Input` over a byte slice that enforces depth and heap limits and records why it
/// failed, so that the error can be reported precisely.
struct BoundedInput<'a> {
    data: &'a [u8],
    pos: usize,
    depth: u32,
    heap: usize,
    limits: DecodeLimits,
    violation: Option<Violation>,
}

impl Input for BoundedInput<'_> {
    fn remaining_len(&mut self) -> Result<Option<usize>, CodecError> {
        // Deliberately unknown: the codec then never sizes an allocation from a length
        // prefix, and every shortfall surfaces through `read`, where it is recorded.
        Ok(None)
    }

    fn read(&mut self, into: &mut [u8]) -> Result<(), CodecError> {
        let end = match self.pos.checked_add(into.len()) {
            Some(end) if end <= self.data.len() => end,
            _ => {
                self.violation.get_or_insert(Violation::Truncated);
                return Err("not enough data".into());
            }
        };
        into.copy_from_slice(&self.data[self.pos..end]);
        self.pos = end;
        Ok(())
    }

    fn read_byte(&mut self) -> Result<u8, CodecError> {
        match self.data.get(self.pos) {
            Some(b) => {
                self.pos += 1;
                Ok(*b)
            }
            None => {
                self.violation.get_or_insert(Violation::Truncated);
                Err("not enough data".into())
            }
        }
    }

    fn descend_ref(&mut self) -> Result<(), CodecError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            self.violation.get_or_insert(Violation::TooDeep);
            return Err("maximum depth exceeded".into());
        }
        Ok(())
    }

    fn ascend_ref(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn on_before_alloc_mem(&mut self, size: usize) -> Result<(), CodecError> {
        self.heap = self.heap.saturating_add(size);
        if self.heap > self.limits.max_heap {
            self.violation.get_or_insert(Violation::HeapLimit);
            return Err("heap limit exceeded".into());
        }
        Ok(())
    }
}

fn root_cause(err: &CodecError) -> String {
    let mut cur: &dyn std::error::Error = err;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn describe(err: &CodecError) -> String {
    // The codec's Display puts each cause on its own indented line; flatten it.
    err.to_string().lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

/// Decodes a `T` from the start of `bytes` and returns it with the number of bytes
/// used; the rest of `bytes` is left alone. Use this for objects that are followed by
/// other data; use [`decode_exact`] otherwise.
pub fn decode_prefix<T: Decode>(
    what: &'static str,
    bytes: &[u8],
    limits: &DecodeLimits,
) -> Result<(T, usize), DecodeError> {
    if bytes.len() > limits.max_input_len {
        return Err(DecodeError::InputTooLarge { what, len: bytes.len(), max: limits.max_input_len });
    }
    let mut input = BoundedInput { data: bytes, pos: 0, depth: 0, heap: 0, limits: *limits, violation: None };
    match T::decode(&mut input) {
        Ok(value) => Ok((value, input.pos)),
        Err(err) => Err(match input.violation {
            Some(Violation::Truncated) => DecodeError::Truncated { what, len: bytes.len() },
            Some(Violation::TooDeep) => DecodeError::TooDeep { what, max: limits.max_depth },
            Some(Violation::HeapLimit) => DecodeError::HeapLimit { what, max: limits.max_heap },
            None if root_cause(&err) == UNKNOWN_DIGEST_ITEM && input.pos > 0 => {
                DecodeError::UnknownDigestItem { what, index: bytes[input.pos - 1], offset: input.pos - 1 }
            }
            None => DecodeError::Invalid { what, offset: input.pos, reason: describe(&err) },
        }),
    }
}

/// Decodes a `T` that must span all of `bytes`, within `limits`.
pub fn decode_exact<T: Decode>(what: &'static str, bytes: &[u8], limits: &DecodeLimits) -> Result<T, DecodeError> {
    let (value, used) = decode_prefix(what, bytes, limits)?;
    if used != bytes.len() {
        return Err(DecodeError::TrailingBytes { what, count: bytes.len() - used });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::{Compact, Encode};

    #[test]
    fn huge_length_prefix_does_not_allocate() {
        // A Vec<u64> claiming 2^30 elements with no data behind it.
        let bytes = Compact(1u32 << 30).encode();
        let err = decode_exact::<Vec<u64>>("test", &bytes, &DecodeLimits::HEADER).unwrap_err();
        assert!(matches!(err, DecodeError::Truncated { .. } | DecodeError::HeapLimit { .. }), "{err}");
        let err = decode_exact::<Vec<u8>>("test", &bytes, &DecodeLimits::HEADER).unwrap_err();
        assert_eq!(err, DecodeError::Truncated { what: "test", len: bytes.len() });
    }

    #[test]
    fn heap_limit() {
        let v = vec![0u8; 2000];
        let limits = DecodeLimits { max_input_len: 10_000, max_depth: 4, max_heap: 1000 };
        let err = decode_exact::<Vec<u8>>("blob", &v.encode(), &limits).unwrap_err();
        assert_eq!(err, DecodeError::HeapLimit { what: "blob", max: 1000 });
        assert_eq!(err.to_string(), "decoding blob would allocate more than 1000 bytes");
    }

    #[test]
    fn depth_limit() {
        let v: Vec<Vec<Vec<u32>>> = vec![vec![vec![1]]];
        let limits = DecodeLimits { max_input_len: 100, max_depth: 1, max_heap: 1000 };
        let err = decode_exact::<Vec<Vec<Vec<u32>>>>("nest", &v.encode(), &limits).unwrap_err();
        assert_eq!(err, DecodeError::TooDeep { what: "nest", max: 1 });
        let limits = DecodeLimits { max_depth: 3, ..limits };
        assert_eq!(decode_exact::<Vec<Vec<Vec<u32>>>>("nest", &v.encode(), &limits).unwrap(), v);
    }

    #[test]
    fn input_size_limit_and_trailing() {
        let limits = DecodeLimits { max_input_len: 4, max_depth: 4, max_heap: 1000 };
        assert_eq!(
            decode_exact::<u32>("word", &[0; 5], &limits).unwrap_err(),
            DecodeError::InputTooLarge { what: "word", len: 5, max: 4 }
        );
        let limits = DecodeLimits { max_input_len: 8, ..limits };
        let err = decode_exact::<u32>("word", &[0; 7], &limits).unwrap_err();
        assert_eq!(err.to_string(), "3 trailing bytes after word");
        assert_eq!(decode_prefix::<u32>("word", &[1, 0, 0, 0, 9], &limits).unwrap(), (1, 4));
    }

    #[test]
    fn invalid_reports_offset() {
        // Non-canonical compact (0 encoded in two bytes).
        let err = decode_exact::<Compact<u32>>("number", &[0b01, 0], &DecodeLimits::HEADER).unwrap_err();
        match err {
            DecodeError::Invalid { what: "number", offset: 2, ref reason } => assert!(reason.contains("out of range")),
            other => panic!("{other:?}"),
        }
    }
}

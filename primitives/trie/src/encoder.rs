//! Internal node encoder shared by the root builder, the incremental trie and the proof
//! code. It writes Substrate's `NodeCodec` format (no extension nodes).

use crate::codec::PartialKey;
use crate::hasher::NodeHasher;
use crate::nibbles;

/// Merkle value of a node: its encoding if shorter than 32 bytes, its hash otherwise. This
/// is exactly what a parent node stores as its child reference.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct MerkleValue {
    len: u8,
    data: [u8; 32],
}

impl MerkleValue {
    /// From a child reference as found in an encoded node (at most 32 bytes; longer input is
    /// rejected).
    pub(crate) fn from_ref(r: &[u8]) -> Option<Self> {
        if r.len() > 32 {
            return None;
        }
        let mut data = [0u8; 32];
        data[..r.len()].copy_from_slice(r);
        Some(MerkleValue { len: r.len() as u8, data })
    }

    pub(crate) fn from_hash(h: [u8; 32]) -> Self {
        MerkleValue { len: 32, data: h }
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[u8] {
        &self.data[..usize::from(self.len)]
    }

    /// The hash that identifies this node when it is the root of a trie: roots are always
    /// hashed, even when their encoding is shorter than 32 bytes.
    pub(crate) fn root_hash(&self, hasher: crate::TrieHasher) -> [u8; 32] {
        if self.len == 32 {
            self.data
        } else {
            hasher.hash(self.as_slice())
        }
    }
}

/// Source of the nibbles of a partial key.
#[derive(Clone, Copy)]
pub(crate) enum Partial<'a> {
    /// Nibbles `start..end` of a byte key.
    KeyRange { key: &'a [u8], start: usize, end: usize },
    /// One nibble per byte.
    Unpacked(&'a [u8]),
    /// As decoded from a node.
    Packed(PartialKey<'a>),
}

impl Partial<'_> {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        match self {
            Partial::KeyRange { start, end, .. } => end - start,
            Partial::Unpacked(n) => n.len(),
            Partial::Packed(p) => p.len(),
        }
    }

    /// Writes the nibbles packed two per byte; with an odd count the first byte only holds
    /// the first nibble, in its low half.
    fn write(&self, out: &mut Vec<u8>) {
        match *self {
            Partial::KeyRange { key, start, end } => {
                let len = end - start;
                if len == 0 {
                    return;
                }
                if len % 2 == 1 {
                    out.push(nibbles::at(key, start));
                    let s = start + 1;
                    if s % 2 == 0 {
                        out.extend_from_slice(&key[s / 2..end / 2]);
                    } else {
                        let mut i = s;
                        while i < end {
                            out.push((nibbles::at(key, i) << 4) | nibbles::at(key, i + 1));
                            i += 2;
                        }
                    }
                } else if start % 2 == 0 {
                    out.extend_from_slice(&key[start / 2..end / 2]);
                } else {
                    let mut i = start;
                    while i < end {
                        out.push((nibbles::at(key, i) << 4) | nibbles::at(key, i + 1));
                        i += 2;
                    }
                }
            }
            Partial::Unpacked(n) => {
                let mut rest = n;
                if n.len() % 2 == 1 {
                    out.push(n[0] & 0x0f);
                    rest = &n[1..];
                }
                for pair in rest.chunks_exact(2) {
                    out.push(((pair[0] & 0x0f) << 4) | (pair[1] & 0x0f));
                }
            }
            Partial::Packed(p) => {
                let packed = p.packed();
                if p.len() % 2 == 1 {
                    if let Some((first, rest)) = packed.split_first() {
                        out.push(first & 0x0f);
                        out.extend_from_slice(rest);
                    }
                } else {
                    out.extend_from_slice(packed);
                }
            }
        }
    }
}

/// Storage value of a node, as it should be encoded.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Val<'a> {
    None,
    Inline(&'a [u8]),
    Hashed([u8; 32]),
}

/// Writes a SCALE compact integer.
#[inline]
pub(crate) fn write_compact(out: &mut Vec<u8>, n: usize) {
    let n = n as u64;
    if n < 1 << 6 {
        out.push((n as u8) << 2);
    } else if n < 1 << 14 {
        out.extend_from_slice(&(((n as u16) << 2) | 1).to_le_bytes());
    } else if n < 1 << 30 {
        out.extend_from_slice(&(((n as u32) << 2) | 2).to_le_bytes());
    } else {
        let len = 8 - (n.leading_zeros() / 8) as usize;
        out.push((((len - 4) as u8) << 2) | 3);
        out.extend_from_slice(&n.to_le_bytes()[..len]);
    }
}

fn write_header(out: &mut Vec<u8>, prefix: u8, bits: u32, nibble_count: usize) {
    let max = (1usize << bits) - 1;
    if nibble_count < max {
        out.push(prefix | nibble_count as u8);
        return;
    }
    out.push(prefix | max as u8);
    let mut rem = nibble_count - max;
    while rem >= 255 {
        out.push(255);
        rem -= 255;
    }
    out.push(rem as u8);
}

/// Writes everything except the inline value bytes and the children: header, partial key,
/// children bitmap, and either the value hash or the compact length of the inline value.
/// Returns whether the node is the empty node.
fn write_head(out: &mut Vec<u8>, partial: &Partial<'_>, value: &Val<'_>, bitmap: u16) -> bool {
    let n = partial.len();
    let (prefix, bits) = match (bitmap != 0, value) {
        (false, Val::None) => {
            out.push(0);
            return true;
        }
        (false, Val::Inline(_)) => (0b0100_0000, 6),
        (false, Val::Hashed(_)) => (0b0010_0000, 5),
        (true, Val::None) => (0b1000_0000, 6),
        (true, Val::Inline(_)) => (0b1100_0000, 6),
        (true, Val::Hashed(_)) => (0b0001_0000, 4),
    };
    write_header(out, prefix, bits, n);
    partial.write(out);
    if bitmap != 0 {
        out.extend_from_slice(&bitmap.to_le_bytes());
    }
    match value {
        Val::None => {}
        Val::Inline(v) => write_compact(out, v.len()),
        Val::Hashed(h) => out.extend_from_slice(h),
    }
    false
}

/// Reusable scratch space to encode nodes without allocating per node.
#[derive(Default, Clone)]
pub(crate) struct Encoder {
    head: Vec<u8>,
    tail: Vec<u8>,
}

impl Encoder {
    fn parts<'c>(&mut self, partial: &Partial<'_>, value: &Val<'_>, children: impl Fn(usize) -> Option<&'c [u8]>) {
        self.head.clear();
        self.tail.clear();
        let mut bitmap = 0u16;
        for i in 0..16 {
            if let Some(c) = children(i) {
                bitmap |= 1 << i;
                write_compact(&mut self.tail, c.len());
                self.tail.extend_from_slice(c);
            }
        }
        if write_head(&mut self.head, partial, value, bitmap) {
            self.tail.clear();
        }
    }

    /// Merkle value of the node (hash if the encoding is 32 bytes or more).
    pub(crate) fn merkle_value<'c, H: NodeHasher>(
        &mut self,
        partial: &Partial<'_>,
        value: &Val<'_>,
        children: impl Fn(usize) -> Option<&'c [u8]>,
    ) -> MerkleValue {
        self.parts(partial, value, children);
        let inline: &[u8] = match value {
            Val::Inline(v) => v,
            _ => &[],
        };
        let total = self.head.len() + inline.len() + self.tail.len();
        if total < 32 {
            let mut data = [0u8; 32];
            let (a, rest) = data.split_at_mut(self.head.len());
            a.copy_from_slice(&self.head);
            let (b, rest) = rest.split_at_mut(inline.len());
            b.copy_from_slice(inline);
            rest[..self.tail.len()].copy_from_slice(&self.tail);
            MerkleValue { len: total as u8, data }
        } else {
            MerkleValue::from_hash(H::hash_parts(&[&self.head, inline, &self.tail]))
        }
    }

    /// Full encoding of the node.
    pub(crate) fn encode<'c>(
        &mut self,
        partial: &Partial<'_>,
        value: &Val<'_>,
        children: impl Fn(usize) -> Option<&'c [u8]>,
    ) -> Vec<u8> {
        self.parts(partial, value, children);
        let inline: &[u8] = match value {
            Val::Inline(v) => v,
            _ => &[],
        };
        let mut out = Vec::with_capacity(self.head.len() + inline.len() + self.tail.len());
        out.extend_from_slice(&self.head);
        out.extend_from_slice(inline);
        out.extend_from_slice(&self.tail);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use parity_scale_codec::{Compact, Encode};

    #[test]
    fn compact_matches_scale() {
        for n in [0usize, 1, 63, 64, 16383, 16384, (1 << 30) - 1, 1 << 30, u32::MAX as usize] {
            let mut out = Vec::new();
            write_compact(&mut out, n);
            assert_eq!(out, Compact(n as u64).encode(), "n = {n}");
        }
    }

    #[test]
    fn header_continuation() {
        let mut out = Vec::new();
        write_header(&mut out, 0x40, 6, 62);
        assert_eq!(out, [0x40 | 62]);
        out.clear();
        write_header(&mut out, 0x40, 6, 63);
        assert_eq!(out, [0x7f, 0]);
        out.clear();
        write_header(&mut out, 0x40, 6, 63 + 255);
        assert_eq!(out, [0x7f, 255, 0]);
        out.clear();
        write_header(&mut out, 0x40, 6, 63 + 256);
        assert_eq!(out, [0x7f, 255, 1]);
    }

    #[test]
    fn partial_sources_agree() {
        let key = [0x12u8, 0x34, 0x56, 0x78];
        let all = nibbles::from_bytes(&key);
        for start in 0..=8 {
            for end in start..=8 {
                let mut a = Vec::new();
                Partial::KeyRange { key: &key, start, end }.write(&mut a);
                let mut b = Vec::new();
                Partial::Unpacked(&all[start..end]).write(&mut b);
                assert_eq!(a, b, "{start}..{end}");
            }
        }
    }
}

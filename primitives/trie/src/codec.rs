//! Substrate's trie node codec (the `NodeCodec` without extension nodes).
//!
//! Layout of an encoded node:
//!
//! ```text
//! header | partial key (packed nibbles) | [children bitmap u16 LE] | [value] | children...
//! ```
//!
//! Header byte kinds (the low bits hold the partial-key nibble count, continued by extra
//! bytes while they are 255 when the low bits are all ones):
//!
//! | bits          | node                           |
//! |---------------|--------------------------------|
//! | `0000_0000`   | empty trie                     |
//! | `01xx_xxxx`   | leaf, inline value             |
//! | `10xx_xxxx`   | branch without value           |
//! | `11xx_xxxx`   | branch with inline value       |
//! | `001x_xxxx`   | leaf, hashed value (V1)        |
//! | `0001_xxxx`   | branch with hashed value (V1)  |
//!
//! An inline value is a SCALE compact length followed by the bytes; a hashed value is the
//! 32-byte blake2b-256 of the value. Each child is a SCALE compact length followed by the
//! child's Merkle value: its encoding when shorter than 32 bytes, its hash otherwise.

use crate::encoder::{Encoder, Partial, Val};
use parity_scale_codec::{Compact, Decode};

/// Maximum number of nibbles accepted in a partial key when decoding (the bound used by
/// Substrate's codec).
pub const MAX_PARTIAL_KEY_NIBBLES: usize = u16::MAX as usize;

/// Partial key of a decoded node: a view on packed nibbles.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartialKey<'a> {
    packed: &'a [u8],
    odd: bool,
}

impl<'a> PartialKey<'a> {
    /// Number of nibbles.
    #[inline]
    pub fn len(&self) -> usize {
        self.packed.len() * 2 - usize::from(self.odd)
    }

    /// Whether the partial key has no nibble.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.packed.is_empty()
    }

    /// Nibble `i`, or `None` if out of range.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u8> {
        if i >= self.len() {
            return None;
        }
        Some(crate::nibbles::at(self.packed, i + usize::from(self.odd)))
    }

    /// Iterates over the nibbles.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = u8> + '_ {
        let skip = usize::from(self.odd);
        (0..self.len()).map(move |i| crate::nibbles::at(self.packed, i + skip))
    }

    /// The nibbles, one per byte.
    pub fn to_vec(&self) -> Vec<u8> {
        self.iter().collect()
    }

    /// The packed bytes as they appear in the encoding (with an odd count, the first byte
    /// only holds one nibble, in its low half).
    #[inline]
    pub fn packed(&self) -> &'a [u8] {
        self.packed
    }
}

impl std::fmt::Debug for PartialKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for n in self.iter() {
            write!(f, "{n:x}")?;
        }
        Ok(())
    }
}

/// Storage value held by a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeValue<'a> {
    /// The node has no value.
    None,
    /// The value is stored in the node.
    Inline(&'a [u8]),
    /// Only the blake2b-256 hash of the value is stored in the node (V1).
    Hashed(&'a [u8; 32]),
}

impl NodeValue<'_> {
    /// Whether there is a value (inline or hashed).
    pub fn is_some(&self) -> bool {
        !matches!(self, NodeValue::None)
    }
}

/// A decoded trie node borrowing from its encoding.
///
/// The kind is implied: a node with at least one child is a branch; a node without child
/// but with a value is a leaf; a node with neither is the empty trie.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedNode<'a> {
    /// Nibbles between the parent's child index and this node's position.
    pub partial_key: PartialKey<'a>,
    /// The node's storage value.
    pub value: NodeValue<'a>,
    /// Merkle value of each child (0 to 32 bytes: encoding if shorter than 32 bytes, hash
    /// otherwise).
    pub children: [Option<&'a [u8]>; 16],
}

impl<'a> DecodedNode<'a> {
    /// Whether this is the empty-trie node.
    pub fn is_empty(&self) -> bool {
        !self.value.is_some() && !self.has_children()
    }

    /// Whether the node has at least one child (i.e. is a branch).
    pub fn has_children(&self) -> bool {
        self.children.iter().any(Option::is_some)
    }

    /// Bitmap of the children (bit `i` set if child `i` exists).
    pub fn children_bitmap(&self) -> u16 {
        self.children.iter().enumerate().filter(|(_, c)| c.is_some()).fold(0u16, |acc, (i, _)| acc | (1 << i))
    }

    /// Re-encodes the node. `decode_node(x)?.encode() == x` for every accepted `x`.
    pub fn encode(&self) -> Vec<u8> {
        let value = match self.value {
            NodeValue::None => Val::None,
            NodeValue::Inline(v) => Val::Inline(v),
            NodeValue::Hashed(h) => Val::Hashed(*h),
        };
        Encoder::default().encode(&Partial::Packed(self.partial_key), &value, |i| self.children[i])
    }
}

/// Encodes a node from its parts. `partial_key` has one nibble per byte (only the low four
/// bits are used). A node without value and without children is encoded as the empty node
/// `[0x00]` whatever the partial key.
pub fn encode_node(partial_key: &[u8], value: NodeValue<'_>, children: &[Option<&[u8]>; 16]) -> Vec<u8> {
    let value = match value {
        NodeValue::None => Val::None,
        NodeValue::Inline(v) => Val::Inline(v),
        NodeValue::Hashed(h) => Val::Hashed(*h),
    };
    Encoder::default().encode(&Partial::Unpacked(partial_key), &value, |i| children[i])
}

/// Why bytes are not a valid node encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NodeDecodeError {
    /// Zero bytes.
    #[error("empty node encoding")]
    Empty,
    /// The header byte does not correspond to any node kind.
    #[error("invalid node header byte {0:#04x}")]
    InvalidHeader(u8),
    /// The encoding ends in the middle of a field.
    #[error("unexpected end of node encoding")]
    UnexpectedEnd,
    /// The partial key length exceeds [`MAX_PARTIAL_KEY_NIBBLES`].
    #[error("partial key longer than {MAX_PARTIAL_KEY_NIBBLES} nibbles")]
    PartialKeyTooLong,
    /// An odd-length partial key whose padding nibble is not zero.
    #[error("non-zero padding nibble in partial key")]
    InvalidPadding,
    /// A branch header with a zero children bitmap.
    #[error("branch node without children")]
    NoChildren,
    /// A SCALE compact length could not be decoded.
    #[error("invalid compact length")]
    InvalidCompact,
    /// A child reference longer than a hash.
    #[error("child reference of {0} bytes (at most 32 allowed)")]
    ChildReferenceTooLong(usize),
    /// Bytes remain after the node.
    #[error("{0} trailing bytes after node")]
    TrailingBytes(usize),
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8], NodeDecodeError> {
    if input.len() < n {
        return Err(NodeDecodeError::UnexpectedEnd);
    }
    let (a, b) = input.split_at(n);
    *input = b;
    Ok(a)
}

fn take_compact(input: &mut &[u8]) -> Result<usize, NodeDecodeError> {
    if input.is_empty() {
        return Err(NodeDecodeError::UnexpectedEnd);
    }
    Compact::<u32>::decode(input).map(|c| c.0 as usize).map_err(|_| NodeDecodeError::InvalidCompact)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Leaf,
    LeafHashed,
    BranchNoValue,
    BranchValue,
    BranchHashed,
}

/// Decodes a node. Never panics; rejects trailing bytes, non-zero padding, empty branch
/// bitmaps, child references longer than 32 bytes and partial keys longer than
/// [`MAX_PARTIAL_KEY_NIBBLES`]. Child references of length 0 are accepted (they appear in
/// the eager proof format).
pub fn decode_node(bytes: &[u8]) -> Result<DecodedNode<'_>, NodeDecodeError> {
    let (node, rest) = decode_node_prefix(bytes)?;
    if !rest.is_empty() {
        return Err(NodeDecodeError::TrailingBytes(rest.len()));
    }
    Ok(node)
}

/// Decodes a node at the start of `bytes` and returns the bytes after it. Substrate's own
/// codec decodes this way (ignoring what follows the node), which matters where the
/// encoding is not what gets hashed, as in the eager proof verification.
pub(crate) fn decode_node_prefix(bytes: &[u8]) -> Result<(DecodedNode<'_>, &[u8]), NodeDecodeError> {
    let (&first, mut rest) = bytes.split_first().ok_or(NodeDecodeError::Empty)?;
    if first == 0 {
        let node = DecodedNode {
            partial_key: PartialKey { packed: &[], odd: false },
            value: NodeValue::None,
            children: [None; 16],
        };
        return Ok((node, rest));
    }
    let (kind, bits) = match first >> 6 {
        0b01 => (Kind::Leaf, 6),
        0b10 => (Kind::BranchNoValue, 6),
        0b11 => (Kind::BranchValue, 6),
        _ => {
            if first >> 5 == 0b001 {
                (Kind::LeafHashed, 5)
            } else if first >> 4 == 0b0001 {
                (Kind::BranchHashed, 4)
            } else {
                return Err(NodeDecodeError::InvalidHeader(first));
            }
        }
    };
    let max = (1usize << bits) - 1;
    let mut nibble_count = usize::from(first) & max;
    if nibble_count == max {
        loop {
            let b = take(&mut rest, 1)?[0];
            nibble_count += usize::from(b);
            if nibble_count > MAX_PARTIAL_KEY_NIBBLES {
                return Err(NodeDecodeError::PartialKeyTooLong);
            }
            if b != 255 {
                break;
            }
        }
    }
    let packed = take(&mut rest, nibble_count.div_ceil(2))?;
    let odd = nibble_count % 2 == 1;
    if odd && packed[0] & 0xf0 != 0 {
        return Err(NodeDecodeError::InvalidPadding);
    }
    let bitmap = match kind {
        Kind::BranchNoValue | Kind::BranchValue | Kind::BranchHashed => {
            let b = take(&mut rest, 2)?;
            let bm = u16::from_le_bytes([b[0], b[1]]);
            if bm == 0 {
                return Err(NodeDecodeError::NoChildren);
            }
            bm
        }
        Kind::Leaf | Kind::LeafHashed => 0,
    };
    let value = match kind {
        Kind::Leaf | Kind::BranchValue => {
            let len = take_compact(&mut rest)?;
            NodeValue::Inline(take(&mut rest, len)?)
        }
        Kind::LeafHashed | Kind::BranchHashed => {
            let h = take(&mut rest, 32)?;
            match <&[u8; 32]>::try_from(h) {
                Ok(h) => NodeValue::Hashed(h),
                Err(_) => return Err(NodeDecodeError::UnexpectedEnd),
            }
        }
        Kind::BranchNoValue => NodeValue::None,
    };
    let mut children = [None; 16];
    for (i, child) in children.iter_mut().enumerate() {
        if bitmap & (1 << i) == 0 {
            continue;
        }
        let len = take_compact(&mut rest)?;
        if len > 32 {
            return Err(NodeDecodeError::ChildReferenceTooLong(len));
        }
        *child = Some(take(&mut rest, len)?);
    }
    Ok((DecodedNode { partial_key: PartialKey { packed, odd }, value, children }, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_node() {
        let n = decode_node(&[0]).unwrap();
        assert!(n.is_empty());
        assert_eq!(n.encode(), vec![0]);
        assert_eq!(decode_node(&[0, 0]), Err(NodeDecodeError::TrailingBytes(1)));
        assert_eq!(decode_node(&[]), Err(NodeDecodeError::Empty));
    }

    #[test]
    fn leaf_roundtrip() {
        // leaf, 3 nibbles (1, 2, 3), value "abc"
        let enc = [0x43, 0x01, 0x23, 0x0c, b'a', b'b', b'c'];
        let n = decode_node(&enc).unwrap();
        assert_eq!(n.partial_key.to_vec(), vec![1, 2, 3]);
        assert_eq!(n.value, NodeValue::Inline(b"abc"));
        assert_eq!(n.encode(), enc.to_vec());
        assert_eq!(encode_node(&[1, 2, 3], NodeValue::Inline(b"abc"), &[None; 16]), enc.to_vec());
    }

    #[test]
    fn bad_padding_rejected() {
        let enc = [0x43, 0x11, 0x23, 0x00];
        assert_eq!(decode_node(&enc), Err(NodeDecodeError::InvalidPadding));
    }

    #[test]
    fn invalid_headers() {
        for b in 1u8..16 {
            assert_eq!(decode_node(&[b]), Err(NodeDecodeError::InvalidHeader(b)));
        }
    }

    #[test]
    fn branch_roundtrip() {
        let child = [0x41u8, 0x05, 0x04, 0x01];
        let mut children = [None; 16];
        children[3] = Some(&child[..]);
        children[15] = Some(&[7u8; 32][..]);
        let enc = encode_node(&[0xa], NodeValue::Hashed(&[9; 32]), &children);
        assert_eq!(enc[0], 0b0001_0001);
        let n = decode_node(&enc).unwrap();
        assert_eq!(n.children, children);
        assert_eq!(n.value, NodeValue::Hashed(&[9; 32]));
        assert_eq!(n.children_bitmap(), (1 << 3) | (1 << 15));
        assert_eq!(n.encode(), enc);
    }

    #[test]
    fn zero_bitmap_rejected() {
        assert_eq!(decode_node(&[0x80, 0, 0]), Err(NodeDecodeError::NoChildren));
    }

    #[test]
    fn long_partial_key() {
        let nibbles: Vec<u8> = (0..1000).map(|i| (i % 16) as u8).collect();
        let enc = encode_node(&nibbles, NodeValue::Inline(&[1]), &[None; 16]);
        let n = decode_node(&enc).unwrap();
        assert_eq!(n.partial_key.to_vec(), nibbles);
        assert_eq!(n.encode(), enc);
    }

    #[test]
    fn too_long_partial_key_rejected() {
        let mut enc = vec![0x7f];
        enc.extend(std::iter::repeat(255).take(300));
        enc.push(0);
        assert_eq!(decode_node(&enc), Err(NodeDecodeError::PartialKeyTooLong));
    }
}

//! Helpers for nibble (half-byte) sequences.
//!
//! A byte key `[0xab, 0xcd]` is the nibble sequence `[0xa, 0xb, 0xc, 0xd]`. Unpacked nibble
//! sequences (one nibble per byte, each `< 16`) are used by the nibble-level APIs such as
//! [`crate::VerifiedProof::next_key_nibbles`].

/// Unpacks bytes into nibbles, high half first.
pub fn from_bytes(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(b >> 4);
        out.push(b & 0x0f);
    }
    out
}

/// Packs nibbles back into bytes. Returns `None` if the sequence has an odd length or
/// contains a value `>= 16`.
pub fn to_bytes(nibbles: &[u8]) -> Option<Vec<u8>> {
    if nibbles.len() % 2 != 0 || nibbles.iter().any(|n| *n > 0x0f) {
        return None;
    }
    Some(nibbles.chunks_exact(2).map(|c| (c[0] << 4) | c[1]).collect())
}

/// Nibble `i` of a byte key. The caller guarantees `i < 2 * key.len()`.
#[inline]
pub(crate) fn at(key: &[u8], i: usize) -> u8 {
    let b = key[i / 2];
    if i % 2 == 0 {
        b >> 4
    } else {
        b & 0x0f
    }
}

/// Length, in nibbles, of the common prefix of two byte keys, knowing that their first
/// `from` nibbles are equal (the result is never smaller than `from`, capped at the shorter
/// key's length).
#[inline]
pub(crate) fn common_prefix(a: &[u8], b: &[u8], from: usize) -> usize {
    let max_bytes = a.len().min(b.len());
    let max = max_bytes * 2;
    if from >= max {
        return max;
    }
    let mut i = from;
    if i % 2 == 1 {
        if a[i / 2] & 0x0f != b[i / 2] & 0x0f {
            return i;
        }
        i += 1;
    }
    let start = i / 2;
    let diff = a[start..max_bytes].iter().zip(&b[start..max_bytes]).position(|(x, y)| x != y);
    match diff {
        None => max,
        Some(off) => {
            let byte = start + off;
            if a[byte] >> 4 == b[byte] >> 4 {
                byte * 2 + 1
            } else {
                byte * 2
            }
        }
    }
}

/// Length of the common prefix of two unpacked nibble slices.
#[inline]
pub(crate) fn common_prefix_unpacked(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let b = [0x12, 0xab, 0x00, 0xff];
        let n = from_bytes(&b);
        assert_eq!(n, vec![1, 2, 0xa, 0xb, 0, 0, 0xf, 0xf]);
        assert_eq!(to_bytes(&n).unwrap(), b.to_vec());
        assert!(to_bytes(&[1]).is_none());
        assert!(to_bytes(&[1, 16]).is_none());
    }

    #[test]
    fn common_prefix_works() {
        assert_eq!(common_prefix(&[0x12, 0x34], &[0x12, 0x35], 0), 3);
        assert_eq!(common_prefix(&[0x12, 0x34], &[0x13, 0x34], 0), 1);
        assert_eq!(common_prefix(&[0x12, 0x34], &[0x22, 0x34], 0), 0);
        assert_eq!(common_prefix(&[0x12, 0x34], &[0x12], 0), 2);
        assert_eq!(common_prefix(&[0x12, 0x34], &[0x12, 0x34], 1), 4);
        assert_eq!(common_prefix(&[0x12, 0x34], &[0x12, 0x44], 1), 2);
        assert_eq!(common_prefix(&[0x12, 0x34], &[0x12, 0x34, 0x56], 3), 4);
        assert_eq!(common_prefix(&[], &[0x12], 0), 0);
    }
}

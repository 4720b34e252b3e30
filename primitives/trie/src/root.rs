//! One-shot root calculation: sort the entries, then build the trie bottom-up in a single
//! pass with an explicit stack (no recursion, no per-node allocation).

use crate::encoder::{Encoder, MerkleValue, Partial, Val};
use crate::hasher::{Blake2, Keccak, NodeHasher};
use crate::{nibbles, StateVersion, TrieHasher, CHILD_STORAGE_DEFAULT_PREFIX};
use parity_scale_codec::{Compact, Encode};
use std::collections::BTreeMap;

/// Root of the blake2b-256 trie holding the given entries. The entries may come in any
/// order; when a key appears several times the last value wins.
pub fn trie_root<I, K, V>(version: StateVersion, entries: I) -> [u8; 32]
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    trie_root_with(TrieHasher::Blake2_256, version, entries)
}

/// [`trie_root`] with the given hash function (Substrate's `Layout{V0,V1}<H>::trie_root`).
pub fn trie_root_with<I, K, V>(hasher: TrieHasher, version: StateVersion, entries: I) -> [u8; 32]
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let mut items: Vec<(K, V)> = entries.into_iter().collect();
    let sorted = items.windows(2).all(|w| w[0].0.as_ref() <= w[1].0.as_ref());
    if !sorted {
        // Stable: duplicates keep their input order, so the last one is the one to keep.
        items.sort_by(|a, b| a.0.as_ref().cmp(b.0.as_ref()));
    }
    let mut refs: Vec<(&[u8], &[u8])> = Vec::with_capacity(items.len());
    for (k, v) in &items {
        let (k, v) = (k.as_ref(), v.as_ref());
        match refs.last_mut() {
            Some(last) if last.0 == k => last.1 = v,
            _ => refs.push((k, v)),
        }
    }
    match hasher {
        TrieHasher::Blake2_256 => root_of_sorted::<Blake2>(version, &refs),
        TrieHasher::Keccak256 => root_of_sorted::<Keccak>(version, &refs),
    }
}

/// Root of the blake2b-256 trie whose keys are `SCALE(Compact<u32>(i))` for the `i`-th
/// value, as used for the extrinsics root of a block.
pub fn ordered_trie_root<I, V>(version: StateVersion, values: I) -> [u8; 32]
where
    I: IntoIterator<Item = V>,
    V: AsRef<[u8]>,
{
    ordered_trie_root_with(TrieHasher::Blake2_256, version, values)
}

/// [`ordered_trie_root`] with the given hash function (Substrate's
/// `Layout{V0,V1}<H>::ordered_trie_root`).
pub fn ordered_trie_root_with<I, V>(hasher: TrieHasher, version: StateVersion, values: I) -> [u8; 32]
where
    I: IntoIterator<Item = V>,
    V: AsRef<[u8]>,
{
    trie_root_with(hasher, version, values.into_iter().enumerate().map(|(i, v)| (Compact(i as u32).encode(), v)))
}

/// Key, in the top trie, under which the root of the default child trie `child_key` is
/// stored.
pub fn child_storage_key(child_key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(CHILD_STORAGE_DEFAULT_PREFIX.len() + child_key.len());
    k.extend_from_slice(CHILD_STORAGE_DEFAULT_PREFIX);
    k.extend_from_slice(child_key);
    k
}

/// State root of a top trie plus default child tries. `children` is keyed by child trie key
/// *without* the `:child_storage:default:` prefix (as in a chain spec's `childrenDefault`).
/// The root of each non-empty child trie is inserted into the top trie under
/// `:child_storage:default: ++ child_key` (overriding any value there); empty child tries are
/// omitted.
pub fn state_root_with_children(
    version: StateVersion,
    top: &BTreeMap<Vec<u8>, Vec<u8>>,
    children: &BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>,
) -> [u8; 32] {
    let child_roots: Vec<(Vec<u8>, [u8; 32])> = children
        .iter()
        .filter(|(_, c)| !c.is_empty())
        .map(|(k, c)| (child_storage_key(k), trie_root(version, c.iter())))
        .collect();
    if child_roots.is_empty() {
        return trie_root(version, top.iter());
    }
    let mut entries: Vec<(&[u8], &[u8])> = top.iter().map(|(k, v)| (k.as_slice(), v.as_slice())).collect();
    entries.extend(child_roots.iter().map(|(k, r)| (k.as_slice(), &r[..])));
    // `trie_root` sorts stably, so the child roots (appended last) win over top entries
    // with the same key.
    trie_root(version, entries)
}

struct Frame {
    /// Exclusive end of the entries below this node.
    end: usize,
    /// Next entry to dispatch to a child.
    cursor: usize,
    /// Entry whose key provides this node's nibbles.
    key_idx: usize,
    /// Nibble index where the partial key starts.
    partial_start: usize,
    /// Nibble length of the node's full key.
    node_len: usize,
    /// Entry whose key equals the node's key, if any.
    value: Option<usize>,
    /// Child index of this node in its parent.
    slot: u8,
    children: [Option<MerkleValue>; 16],
}

/// Root of sorted, de-duplicated entries.
fn root_of_sorted<H: NodeHasher>(version: StateVersion, entries: &[(&[u8], &[u8])]) -> [u8; 32] {
    if entries.is_empty() {
        return H::EMPTY_ROOT;
    }
    let mut enc = Encoder::default();
    let mut stack: Vec<Frame> = Vec::with_capacity(32);
    let value_of = |v: &[u8]| -> ValOwned {
        if version.hashes_value_of_len(v.len()) {
            ValOwned::Hashed(H::hash(v))
        } else {
            ValOwned::Inline
        }
    };

    // Range waiting to be turned into a node: (start, end, depth, slot).
    let mut pending = Some((0usize, entries.len(), 0usize, 0u8));
    loop {
        let mut result: Option<(MerkleValue, u8)> = None;
        if let Some((start, end, depth, slot)) = pending.take() {
            if end - start == 1 {
                let (key, value) = entries[start];
                let val = value_of(value);
                let mv = enc.merkle_value::<H>(
                    &Partial::KeyRange { key, start: depth, end: key.len() * 2 },
                    &val.as_val(value),
                    |_| None,
                );
                result = Some((mv, slot));
            } else {
                let first = entries[start].0;
                let last = entries[end - 1].0;
                let node_len = nibbles::common_prefix(first, last, depth);
                let has_value = first.len() * 2 == node_len;
                stack.push(Frame {
                    end,
                    cursor: if has_value { start + 1 } else { start },
                    key_idx: start,
                    partial_start: depth,
                    node_len,
                    value: has_value.then_some(start),
                    slot,
                    children: [None; 16],
                });
            }
        }

        // Deliver finished nodes to their parents, completing frames as long as possible.
        loop {
            if let Some((mv, slot)) = result.take() {
                match stack.last_mut() {
                    None => return mv.root_hash(H::KIND),
                    Some(top) => top.children[usize::from(slot)] = Some(mv),
                }
            }
            let Some(top) = stack.last_mut() else {
                // Only reachable if the input was empty, handled above.
                return H::EMPTY_ROOT;
            };
            if top.cursor < top.end {
                let node_len = top.node_len;
                let c = top.cursor;
                let nib = nibbles::at(entries[c].0, node_len);
                // All keys in `c..end` are longer than `node_len` nibbles and sorted, so the
                // ones going to child `nib` form a contiguous run.
                let run = entries[c..top.end].partition_point(|(k, _)| nibbles::at(k, node_len) <= nib);
                top.cursor = c + run;
                pending = Some((c, c + run, node_len + 1, nib));
                break;
            }
            // All children done: encode this branch.
            let Some(frame) = stack.pop() else {
                return H::EMPTY_ROOT;
            };
            let key = entries[frame.key_idx].0;
            let (val, raw): (ValOwned, &[u8]) = match frame.value {
                Some(i) => (value_of(entries[i].1), entries[i].1),
                None => (ValOwned::None, &[]),
            };
            let children = &frame.children;
            let mv = enc.merkle_value::<H>(
                &Partial::KeyRange { key, start: frame.partial_start, end: frame.node_len },
                &val.as_val(raw),
                |i| children[i].as_ref().map(|m| m.as_slice()),
            );
            result = Some((mv, frame.slot));
        }
    }
}

enum ValOwned {
    None,
    Inline,
    Hashed([u8; 32]),
}

impl ValOwned {
    fn as_val<'a>(&self, raw: &'a [u8]) -> Val<'a> {
        match self {
            ValOwned::None => Val::None,
            ValOwned::Inline => Val::Inline(raw),
            ValOwned::Hashed(h) => Val::Hashed(*h),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{decode_node, NodeValue, EMPTY_TRIE_ROOT};

    fn h(s: &str) -> [u8; 32] {
        let v: Vec<u8> = (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect();
        v.try_into().unwrap()
    }

    #[test]
    fn empty_root() {
        let none: Vec<(Vec<u8>, Vec<u8>)> = vec![];
        assert_eq!(trie_root(StateVersion::V0, none.clone()), EMPTY_TRIE_ROOT);
        assert_eq!(trie_root(StateVersion::V1, none), EMPTY_TRIE_ROOT);
        assert_eq!(ordered_trie_root(StateVersion::V0, Vec::<Vec<u8>>::new()), EMPTY_TRIE_ROOT);
        assert_eq!(h("03170a2e7597b7b7e3d84c05391d139a62b157e78786d8c082f29dcf4c111314"), EMPTY_TRIE_ROOT);
    }

    #[test]
    fn single_key_root() {
        // The root node of a single entry is a leaf whose partial key is the whole key.
        let root = trie_root(StateVersion::V0, [(b"ab".to_vec(), b"xyz".to_vec())]);
        let leaf = [0x44, b'a', b'b', 0x0c, b'x', b'y', b'z'];
        assert_eq!(root, crate::blake2_256(&leaf));
        let n = decode_node(&leaf).unwrap();
        assert_eq!(n.partial_key.to_vec(), nibbles::from_bytes(b"ab"));
        assert_eq!(n.value, NodeValue::Inline(b"xyz"));
        // W3F state-trie fixture 1c1.yaml: {"1": "1"}.
        assert_eq!(
            trie_root(StateVersion::V0, [(b"1", b"1")]),
            h("43e6ad6c4f2c34989b14cbe107b2628072f7cda5ec948b899ca7cab9fe987f99")
        );
    }

    #[test]
    fn v0_v1_differ_only_for_long_values() {
        let short = [(b"key".to_vec(), vec![7u8; 32])];
        assert_eq!(trie_root(StateVersion::V0, short.clone()), trie_root(StateVersion::V1, short));
        let long = [(b"key".to_vec(), vec![7u8; 33])];
        let v0 = trie_root(StateVersion::V0, long.clone());
        let v1 = trie_root(StateVersion::V1, long);
        assert_ne!(v0, v1);
        // V1 leaf: 0b001 header, hashed value.
        let mut leaf = vec![0x20 | 6];
        leaf.extend_from_slice(b"key");
        leaf.extend_from_slice(&crate::blake2_256(&[7u8; 33]));
        assert_eq!(v1, crate::blake2_256(&leaf));
        let mut leaf0 = vec![0x40 | 6];
        leaf0.extend_from_slice(b"key");
        leaf0.push(33 << 2);
        leaf0.extend_from_slice(&[7u8; 33]);
        assert_eq!(v0, crate::blake2_256(&leaf0));
    }

    /// Keccak-256 roots of hand-encoded tries. The expected hashes were also computed
    /// outside this crate (a from-scratch Python Keccak-f[1600] over the same hand-written
    /// node encodings), so they pin the hasher and the encoding independently of the code.
    #[test]
    fn keccak_roots_of_hand_encoded_tries() {
        use crate::{
            keccak_256, ordered_trie_root_with, trie_root_with, TrieHasher::Keccak256, EMPTY_TRIE_ROOT_KECCAK,
        };
        let none: Vec<(Vec<u8>, Vec<u8>)> = vec![];
        for version in [StateVersion::V0, StateVersion::V1] {
            assert_eq!(trie_root_with(Keccak256, version, none.clone()), EMPTY_TRIE_ROOT_KECCAK);
            assert_eq!(ordered_trie_root_with(Keccak256, version, Vec::<Vec<u8>>::new()), EMPTY_TRIE_ROOT_KECCAK);
        }
        assert_eq!(EMPTY_TRIE_ROOT_KECCAK, h("bc36789e7a1e281436464229828f817d6612f7b477d66591ff96a9e064bcc98a"));

        // One short entry: the root node is a leaf holding the whole key, hashed although
        // shorter than 32 bytes.
        let leaf = [0x44, b'a', b'b', 0x0c, b'x', b'y', b'z'];
        let root = trie_root_with(Keccak256, StateVersion::V0, [(b"ab", b"xyz")]);
        assert_eq!(root, keccak_256(&leaf));
        assert_eq!(root, trie_root_with(Keccak256, StateVersion::V1, [(b"ab", b"xyz")]));
        assert_eq!(root, h("ac2d57b020f9fc2420fc51185f9e59978c78695e1bf90e336fbe21274b5ac4d3"));
        assert_ne!(root, trie_root(StateVersion::V0, [(b"ab", b"xyz")]));

        // A 33-byte value: inline in V0, its Keccak-256 in V1.
        let long = [(b"key".to_vec(), vec![7u8; 33])];
        let mut leaf0 = vec![0x40 | 6];
        leaf0.extend_from_slice(b"key");
        leaf0.push(33 << 2);
        leaf0.extend_from_slice(&[7u8; 33]);
        let mut leaf1 = vec![0x20 | 6];
        leaf1.extend_from_slice(b"key");
        leaf1.extend_from_slice(&keccak_256(&[7u8; 33]));
        let v0 = trie_root_with(Keccak256, StateVersion::V0, long.clone());
        let v1 = trie_root_with(Keccak256, StateVersion::V1, long);
        assert_eq!(v0, keccak_256(&leaf0));
        assert_eq!(v1, keccak_256(&leaf1));
        assert_eq!(v0, h("0c1ff47492915fb61a9176ba007101337af80a61a6f6fe557900e3a0dcf3fdce"));
        assert_eq!(v1, h("bf18ed80e7ff9ad474313a71a1965bf88c9d207ce0895701b9e02634cb6fb351"));

        // A branch (partial key: nibble 0) with a hashed child (nibble 1, a 42-byte leaf, or
        // 33 bytes with its value hashed in V1) and an inline one (nibble 2).
        let entries = [(vec![0x01u8], vec![0xaau8; 40]), (vec![0x02], b"b".to_vec())];
        let inline_leaf = [0x40, 0x04, b'b'];
        let mut big_v0 = vec![0x40, 40 << 2];
        big_v0.extend_from_slice(&[0xaa; 40]);
        let mut big_v1 = vec![0x20];
        big_v1.extend_from_slice(&keccak_256(&[0xaa; 40]));
        for (version, big, expected) in [
            (StateVersion::V0, big_v0, "b8cf4ce26ae5b74b941325ca9ca7fbbac80cd91b901ea702710dee93e06cd870"),
            (StateVersion::V1, big_v1, "e105a75b393ba39055e98f36496669ea949b8d78b0e2a270be3d8b9a91892d49"),
        ] {
            let mut branch = vec![0x80 | 1, 0x00, 0b0000_0110, 0x00, 32 << 2];
            branch.extend_from_slice(&keccak_256(&big));
            branch.push(3 << 2);
            branch.extend_from_slice(&inline_leaf);
            let root = trie_root_with(Keccak256, version, entries.clone());
            assert_eq!(root, keccak_256(&branch), "{version:?}");
            assert_eq!(root, h(expected), "{version:?}");
        }

        // Ordered roots: keys are SCALE compact indices (0x00, 0x04).
        assert_eq!(
            ordered_trie_root_with(Keccak256, StateVersion::V0, [b"a"]),
            h("1e585b0c8a1589a67fb6da9373ee7b649d10ba883ed3c833bd634938de10d353")
        );
        assert_eq!(ordered_trie_root_with(Keccak256, StateVersion::V0, [b"a"]), keccak_256(&[0x42, 0x00, 0x04, b'a']));
        let two = ordered_trie_root_with(Keccak256, StateVersion::V1, [b"a", b"b"]);
        let branch = [0x81, 0x00, 0x11, 0x00, 0x0c, 0x40, 0x04, b'a', 0x0c, 0x40, 0x04, b'b'];
        assert_eq!(two, keccak_256(&branch));
        assert_eq!(two, h("2779a565e7a672b27f2a68cf6ea307cd122d0e1ce0729055f6cc0c50235bf622"));
        assert_eq!(two, trie_root_with(Keccak256, StateVersion::V1, [([0x00u8], b"a"), ([0x04], b"b")]));
    }

    #[test]
    fn blake2_functions_are_the_blake2_hasher() {
        use crate::TrieHasher::Blake2_256;
        let e: Vec<(Vec<u8>, Vec<u8>)> = (0u32..200)
            .map(|i| (i.to_le_bytes()[..(i as usize % 4) + 1].to_vec(), vec![i as u8; i as usize % 70]))
            .collect();
        for version in [StateVersion::V0, StateVersion::V1] {
            assert_eq!(trie_root(version, e.clone()), crate::trie_root_with(Blake2_256, version, e.clone()));
            let values = e.iter().map(|(_, v)| v);
            assert_eq!(
                ordered_trie_root(version, values.clone()),
                crate::ordered_trie_root_with(Blake2_256, version, values)
            );
        }
    }

    #[test]
    fn duplicates_last_wins_and_order_irrelevant() {
        let a = trie_root(StateVersion::V0, [(b"b", b"2"), (b"a", b"1"), (b"b", b"3"), (b"c", b"4")]);
        let b = trie_root(StateVersion::V0, [(b"a", b"1"), (b"b", b"3"), (b"c", b"4")]);
        assert_eq!(a, b);
    }

    #[test]
    fn empty_key_and_prefix_keys() {
        // Branch with value at the root (empty key), plus nested prefixes.
        let e: Vec<(Vec<u8>, Vec<u8>)> = vec![
            (vec![], b"root".to_vec()),
            (vec![0x12], b"a".to_vec()),
            (vec![0x12, 0x34], b"b".to_vec()),
            (vec![0x12, 0x34, 0x56], b"c".to_vec()),
            (vec![0x13], b"d".to_vec()),
        ];
        let r = trie_root(StateVersion::V0, e.clone());
        let mut m = crate::TrieMap::new(StateVersion::V0);
        for (k, v) in e {
            m.insert(&k, v);
        }
        assert_eq!(m.root(), r);
    }
}

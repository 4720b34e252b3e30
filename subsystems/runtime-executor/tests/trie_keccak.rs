//! The `ext_trie_keccak_256_*` host functions (Substrate's `LayoutV0`/`LayoutV1` tries with
//! Keccak-256 as the hasher), called from a small hand-written module and checked against
//! `weft-trie`'s `*_with(TrieHasher::Keccak256, ..)` functions and against tries encoded by
//! hand.

use parity_scale_codec::Encode;
use std::collections::BTreeMap;
use weft_crypto::hashing::keccak_256;
use weft_runtime_executor::{Executor, ExecutorError, HostError, RuntimeModule};
use weft_trie::{StateVersion, TrieHasher};

/// Exports, each taking its arguments from the call input at `$p`:
/// - `root_v1`, `ordered_v1`: the SCALE input;
/// - `root_v2`, `ordered_v2`: a version byte, then the SCALE input;
/// - `verify_v1`, `verify_v2`: a version byte (ignored by v1), the 32-byte root, the
///   lengths (u32 LE) of the SCALE proof, the key and the value, then those three.
///
/// The roots come back as 32 bytes, the verdicts as one byte.
fn module() -> RuntimeModule {
    let wat = r#"(module
        (import "env" "memory" (memory 1))
        (import "env" "ext_allocator_malloc_version_1" (func $malloc (param i32) (result i32)))
        (import "env" "ext_trie_keccak_256_root_version_1" (func $root1 (param i64) (result i32)))
        (import "env" "ext_trie_keccak_256_root_version_2" (func $root2 (param i64 i32) (result i32)))
        (import "env" "ext_trie_keccak_256_ordered_root_version_1" (func $ordered1 (param i64) (result i32)))
        (import "env" "ext_trie_keccak_256_ordered_root_version_2" (func $ordered2 (param i64 i32) (result i32)))
        (import "env" "ext_trie_keccak_256_verify_proof_version_1"
            (func $verify1 (param i32 i64 i64 i64) (result i32)))
        (import "env" "ext_trie_keccak_256_verify_proof_version_2"
            (func $verify2 (param i32 i64 i64 i64 i32) (result i32)))
        (global (export "__heap_base") i32 (i32.const 1024))
        (func $pack (param $ptr i32) (param $len i32) (result i64)
            (i64.or (i64.shl (i64.extend_i32_u (local.get $len)) (i64.const 32))
                    (i64.extend_i32_u (local.get $ptr))))
        (func $rest (param $p i32) (param $l i32) (result i64)
            (call $pack (i32.add (local.get $p) (i32.const 1)) (i32.sub (local.get $l) (i32.const 1))))
        (func (export "root_v1") (param $p i32) (param $l i32) (result i64)
            (call $pack (call $root1 (call $pack (local.get $p) (local.get $l))) (i32.const 32)))
        (func (export "root_v2") (param $p i32) (param $l i32) (result i64)
            (call $pack
                (call $root2 (call $rest (local.get $p) (local.get $l)) (i32.load8_u (local.get $p)))
                (i32.const 32)))
        (func (export "ordered_v1") (param $p i32) (param $l i32) (result i64)
            (call $pack (call $ordered1 (call $pack (local.get $p) (local.get $l))) (i32.const 32)))
        (func (export "ordered_v2") (param $p i32) (param $l i32) (result i64)
            (call $pack
                (call $ordered2 (call $rest (local.get $p) (local.get $l)) (i32.load8_u (local.get $p)))
                (i32.const 32)))
        (func $verify (param $p i32) (param $v2 i32) (result i64)
            (local $proof i32) (local $key i32) (local $value i32) (local $pl i32) (local $kl i32)
            (local $vl i32) (local $out i32) (local $ok i32)
            (local.set $pl (i32.load (i32.add (local.get $p) (i32.const 33))))
            (local.set $kl (i32.load (i32.add (local.get $p) (i32.const 37))))
            (local.set $vl (i32.load (i32.add (local.get $p) (i32.const 41))))
            (local.set $proof (i32.add (local.get $p) (i32.const 45)))
            (local.set $key (i32.add (local.get $proof) (local.get $pl)))
            (local.set $value (i32.add (local.get $key) (local.get $kl)))
            (if (local.get $v2)
                (then
                    (local.set $ok (call $verify2
                        (i32.add (local.get $p) (i32.const 1))
                        (call $pack (local.get $proof) (local.get $pl))
                        (call $pack (local.get $key) (local.get $kl))
                        (call $pack (local.get $value) (local.get $vl))
                        (i32.load8_u (local.get $p)))))
                (else
                    (local.set $ok (call $verify1
                        (i32.add (local.get $p) (i32.const 1))
                        (call $pack (local.get $proof) (local.get $pl))
                        (call $pack (local.get $key) (local.get $kl))
                        (call $pack (local.get $value) (local.get $vl))))))
            (local.set $out (call $malloc (i32.const 1)))
            (i32.store8 (local.get $out) (local.get $ok))
            (call $pack (local.get $out) (i32.const 1)))
        (func (export "verify_v1") (param $p i32) (param $l i32) (result i64)
            (call $verify (local.get $p) (i32.const 0)))
        (func (export "verify_v2") (param $p i32) (param $l i32) (result i64)
            (call $verify (local.get $p) (i32.const 1))))"#;
    let module = Executor::default().compile(&wat::parse_str(wat).unwrap(), 16).unwrap();
    assert!(module.stubbed_imports().is_empty(), "stubbed: {:?}", module.stubbed_imports());
    module
}

fn h32(bytes: Vec<u8>) -> [u8; 32] {
    bytes.try_into().expect("a 32-byte root")
}

fn root_v2(module: &RuntimeModule, version: u8, entries: &[(Vec<u8>, Vec<u8>)]) -> [u8; 32] {
    let mut input = vec![version];
    input.extend(entries.encode());
    h32(module.call("root_v2", &input).unwrap())
}

fn ordered_v2(module: &RuntimeModule, version: u8, values: &[Vec<u8>]) -> [u8; 32] {
    let mut input = vec![version];
    input.extend(values.encode());
    h32(module.call("ordered_v2", &input).unwrap())
}

fn verify_input(version: u8, root: &[u8; 32], proof: &[u8], key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut input = vec![version];
    input.extend_from_slice(root);
    for len in [proof.len(), key.len(), value.len()] {
        input.extend_from_slice(&(len as u32).to_le_bytes());
    }
    input.extend_from_slice(proof);
    input.extend_from_slice(key);
    input.extend_from_slice(value);
    input
}

fn verify(
    module: &RuntimeModule,
    export: &str,
    version: u8,
    root: &[u8; 32],
    proof: &[Vec<u8>],
    kv: (&[u8], &[u8]),
) -> bool {
    let out = module.call(export, &verify_input(version, root, &proof.encode(), kv.0, kv.1)).unwrap();
    match out[..] {
        [0] => false,
        [1] => true,
        _ => panic!("not a bool: {out:?}"),
    }
}

fn entries() -> BTreeMap<Vec<u8>, Vec<u8>> {
    let mut m = BTreeMap::new();
    for i in 0u32..64 {
        m.insert(keccak_256(&i.to_le_bytes())[..(i as usize % 3) + 1].to_vec(), vec![i as u8; (i as usize * 5) % 70]);
    }
    m.insert(b"ab".to_vec(), b"xyz".to_vec());
    m
}

fn failed(err: &ExecutorError) -> Option<&'static str> {
    match err {
        ExecutorError::Host(HostError::Failed { function, .. }) => Some(function),
        _ => None,
    }
}

#[test]
fn keccak_roots_match_hand_encoded_tries_and_weft_trie() {
    let module = module();
    let hex = |r: [u8; 32]| hex::encode(r);

    // Empty trie: Keccak-256 of the empty node 0x00.
    for version in [0, 1] {
        let root = root_v2(&module, version, &[]);
        assert_eq!(hex(root), "bc36789e7a1e281436464229828f817d6612f7b477d66591ff96a9e064bcc98a");
        assert_eq!(ordered_v2(&module, version, &[]), root);
    }
    assert_eq!(h32(module.call("root_v1", &Vec::<(Vec<u8>, Vec<u8>)>::new().encode()).unwrap()), keccak_256(&[0]));

    // {"ab": "xyz"}: a single leaf, hashed as the root.
    let single = [(b"ab".to_vec(), b"xyz".to_vec())];
    let root = root_v2(&module, 1, &single);
    assert_eq!(root, keccak_256(&[0x44, b'a', b'b', 0x0c, b'x', b'y', b'z']));
    assert_eq!(hex(root), "ac2d57b020f9fc2420fc51185f9e59978c78695e1bf90e336fbe21274b5ac4d3");
    assert_eq!(h32(module.call("root_v1", &single[..].encode()).unwrap()), root);

    // A 33-byte value is hashed with Keccak-256 in V1 only.
    let long = [(b"key".to_vec(), vec![7u8; 33])];
    let mut leaf = vec![0x20 | 6];
    leaf.extend_from_slice(b"key");
    leaf.extend_from_slice(&keccak_256(&[7u8; 33]));
    let v1 = root_v2(&module, 1, &long);
    assert_eq!(v1, keccak_256(&leaf));
    assert_eq!(hex(v1), "bf18ed80e7ff9ad474313a71a1965bf88c9d207ce0895701b9e02634cb6fb351");
    let v0 = root_v2(&module, 0, &long);
    assert_eq!(hex(v0), "0c1ff47492915fb61a9176ba007101337af80a61a6f6fe557900e3a0dcf3fdce");
    assert_eq!(h32(module.call("root_v1", &long[..].encode()).unwrap()), v0);

    // Ordered root of ["a", "b"]: a branch over the compact indices 0x00 and 0x04.
    let values = [b"a".to_vec(), b"b".to_vec()];
    let root = ordered_v2(&module, 0, &values);
    assert_eq!(root, keccak_256(&[0x81, 0x00, 0x11, 0x00, 0x0c, 0x40, 0x04, b'a', 0x0c, 0x40, 0x04, b'b']));
    assert_eq!(hex(root), "2779a565e7a672b27f2a68cf6ea307cd122d0e1ce0729055f6cc0c50235bf622");
    assert_eq!(h32(module.call("ordered_v1", &values[..].encode()).unwrap()), root);

    // A larger trie: the same as weft-trie's, and not the blake2 root.
    let e: Vec<(Vec<u8>, Vec<u8>)> = entries().into_iter().collect();
    let values: Vec<Vec<u8>> = e.iter().map(|(_, v)| v.clone()).collect();
    for (version, sv) in [(0, StateVersion::V0), (1, StateVersion::V1)] {
        let root = root_v2(&module, version, &e);
        assert_eq!(root, weft_trie::trie_root_with(TrieHasher::Keccak256, sv, e.iter().cloned()));
        assert_ne!(root, weft_trie::trie_root(sv, e.iter().cloned()));
        let ordered = ordered_v2(&module, version, &values);
        assert_eq!(ordered, weft_trie::ordered_trie_root_with(TrieHasher::Keccak256, sv, &values));
        assert_ne!(ordered, weft_trie::ordered_trie_root(sv, &values));
        println!("keccak V{version}: root {} ordered root {}", hex(root), hex(ordered));
    }
    // The V0 and V1 roots differ: some values are 33 bytes or longer.
    assert_ne!(root_v2(&module, 0, &e), root_v2(&module, 1, &e));
    assert_eq!(h32(module.call("root_v1", &e.encode()).unwrap()), root_v2(&module, 0, &e));
    assert_eq!(h32(module.call("ordered_v1", &values.encode()).unwrap()), ordered_v2(&module, 0, &values));
}

#[test]
fn keccak_verify_proof() {
    let module = module();
    let e = entries();
    let long_key = e.iter().find(|(_, v)| v.len() >= 33).map(|(k, _)| k.clone()).unwrap();
    for (version, sv) in [(0u8, StateVersion::V0), (1, StateVersion::V1)] {
        let root = weft_trie::trie_root_with(TrieHasher::Keccak256, sv, e.iter());
        let blake2_root = weft_trie::trie_root(sv, e.iter());
        let mut checked = 0;
        for key in [b"ab".to_vec(), long_key.clone()].into_iter().chain(e.keys().step_by(7).cloned()) {
            let value = &e[&key];
            let proof = weft_trie::generate_eager_proof_with(TrieHasher::Keccak256, sv, &e, &[&key]);
            assert!(verify(&module, "verify_v2", version, &root, &proof, (&key, value)), "V{version} {key:?}");
            if version == 0 {
                assert!(verify(&module, "verify_v1", 0, &root, &proof, (&key, value)), "{key:?}");
            }
            // A wrong value, the blake2 root, the blake2 proof and tampered nodes: false.
            let mut wrong = value.clone();
            wrong.push(0);
            assert!(!verify(&module, "verify_v2", version, &root, &proof, (&key, &wrong)));
            assert!(!verify(&module, "verify_v2", version, &blake2_root, &proof, (&key, value)));
            let blake2_proof = weft_trie::generate_eager_proof(sv, &e, &[&key]);
            assert!(weft_trie::verify_proof(&blake2_root, &blake2_proof, &key, Some(value), sv).is_ok());
            assert!(!verify(&module, "verify_v2", version, &blake2_root, &blake2_proof, (&key, value)));
            assert!(!verify(&module, "verify_v2", version, &root, &blake2_proof, (&key, value)));
            let mut tampered = proof.clone();
            let last = tampered.len() - 1;
            let mid = tampered[last].len() / 2;
            tampered[last][mid] ^= 0x80;
            assert!(!verify(&module, "verify_v2", version, &root, &tampered, (&key, value)));
            checked += 1;
        }
        // The version decides how the omitted 33-byte value is re-encoded.
        let proof = weft_trie::generate_eager_proof_with(TrieHasher::Keccak256, sv, &e, &[&long_key]);
        let other = 1 - version;
        assert!(!verify(&module, "verify_v2", other, &root, &proof, (&long_key, &e[&long_key])));
        println!("keccak V{version}: {checked} proofs verified through ext_trie_keccak_256_verify_proof_version_2");
    }

    // A hand-built proof: the single leaf of {"ab": "xyz"} with its value omitted.
    let root = keccak_256(&[0x44, b'a', b'b', 0x0c, b'x', b'y', b'z']);
    let proof = vec![vec![0x44, b'a', b'b', 0x00]];
    assert!(verify(&module, "verify_v2", 0, &root, &proof, (b"ab", b"xyz")));
    assert!(verify(&module, "verify_v1", 0, &root, &proof, (b"ab", b"xyz")));
    assert!(!verify(&module, "verify_v2", 0, &root, &proof, (b"ab", b"xy")));
    assert!(!verify(&module, "verify_v2", 0, &root, &proof, (b"ac", b"xyz")));
    // Undecodable nodes, an empty proof: false, not a trap.
    for bad in [vec![vec![0xffu8; 5]], vec![vec![]], vec![], vec![vec![0x44, b'a']]] {
        assert!(!verify(&module, "verify_v2", 0, &root, &bad, (b"ab", b"xyz")), "{bad:?}");
    }
}

#[test]
fn keccak_misuse_traps() {
    let module = module();
    // Unknown state version.
    let err = module.call("root_v2", &[2, 0]).unwrap_err();
    assert_eq!(failed(&err), Some("ext_trie_keccak_256_root_version_2"), "{err}");
    let err = module.call("ordered_v2", &[7, 0]).unwrap_err();
    assert_eq!(failed(&err), Some("ext_trie_keccak_256_ordered_root_version_2"), "{err}");
    let err = module.call("verify_v2", &verify_input(2, &[0; 32], &[0], b"k", b"v")).unwrap_err();
    assert_eq!(failed(&err), Some("ext_trie_keccak_256_verify_proof_version_2"), "{err}");
    // Undecodable SCALE arguments (as Substrate, which panics).
    let err = module.call("root_v1", &[4, 1]).unwrap_err();
    assert_eq!(failed(&err), Some("ext_trie_keccak_256_root_version_1"), "{err}");
    let err = module.call("ordered_v2", &[0, 8, 9]).unwrap_err();
    assert_eq!(failed(&err), Some("ext_trie_keccak_256_ordered_root_version_2"), "{err}");
    let err = module.call("verify_v1", &verify_input(0, &[0; 32], &[4, 8], b"k", b"v")).unwrap_err();
    assert_eq!(failed(&err), Some("ext_trie_keccak_256_verify_proof_version_1"), "{err}");
    // Still usable afterwards.
    assert_eq!(h32(module.call("root_v2", &[1, 0]).unwrap()), weft_trie::EMPTY_TRIE_ROOT_KECCAK);
}

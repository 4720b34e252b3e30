//! Storage proofs from real chains (smoldot's proof-decode fixtures, a Westend call proof)
//! and robustness against corrupted proofs.

use std::collections::HashSet;
use weft_trie::{blake2_256, decode_node, nibbles, NodeValue, ProofError, StorageProof};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/fixtures/trie/smoldot-proof-decode");
const MAX: usize = 16 * 1024 * 1024;

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DIR}/{name}")).unwrap()
}

fn h32(s: &str) -> [u8; 32] {
    hex::decode(s).unwrap().try_into().unwrap()
}

/// Polkadot genesis state root.
const SMALL_ROOT: &str = "29d0d972cd27cbc511e9589fcb7a4506d5eb6a9e8df205f00472e5ab354a4e17";
const SMALL_KEY: &str = "9c5d795d0297be56027a4b2464e3339763e6d3c1fb15805edfd024172ea4817d7081542596adb05d6140c170ac479edf7cfd5aa35357590acfe5d11a804d944e";
const SMALL_VALUE: &str = "0d1456fdda7b8ec7f9e5c794cd83194f0593e4ea";

fn small() -> StorageProof {
    StorageProof::decode(&read("proof-decode-small.bin"), MAX).unwrap()
}

#[test]
fn small_proof_reads() {
    let proof = small();
    assert_eq!(proof.nodes().len(), 6);
    let root = h32(SMALL_ROOT);
    assert!(proof.nodes().iter().any(|n| blake2_256(n) == root));
    let v = proof.verify(&root).unwrap();
    let key = hex::decode(SMALL_KEY).unwrap();
    assert_eq!(v.read(&key).unwrap(), Some(hex::decode(SMALL_VALUE).unwrap()));
    // One byte longer: absent.
    let mut longer = key.clone();
    longer.push(0x25);
    assert_eq!(v.read(&longer).unwrap(), None);
    // A key in a subtree the proof does not contain.
    let other = hex::decode("9c5d795d0297be56027a4b2464e3339763e6d3c1fb15805edfd024172ea4817d7000").unwrap();
    assert_eq!(v.read(&other), Err(ProofError::IncompleteProof));
    // Wrong root: the proof says nothing about that trie.
    assert_eq!(proof.verify(&[0; 32]).unwrap_err(), ProofError::IncompleteProof);
    // Re-encoding is the identity.
    assert_eq!(proof.encode(), read("proof-decode-small.bin"));
}

fn n(s: &str) -> Vec<u8> {
    s.chars().map(|c| c.to_digit(16).unwrap() as u8).collect()
}

/// smoldot `next_key_works`, same proof.
#[test]
fn small_proof_next_key() {
    let proof = small();
    let v = proof.verify(&h32(SMALL_ROOT)).unwrap();
    let n32 = n("9c5d795d0297be56027a4b2464e33397");
    let n31 = n("9c5d795d0297be56027a4b2464e3339");
    assert_eq!(v.next_key_nibbles(&[], true, &[], true).unwrap(), Some(vec![]));
    assert_eq!(v.next_key_nibbles(&n32, true, &[], true).unwrap(), Some(n32.clone()));
    assert_eq!(v.next_key_nibbles(&n31, false, &[], true).unwrap(), Some(n32.clone()));
    assert_eq!(v.next_key_nibbles(&n31, false, &[], false), Err(ProofError::IncompleteProof));
    let mut p = n32.clone();
    p.push(0);
    assert_eq!(v.next_key_nibbles(&n32, true, &p, true).unwrap(), None);
    let mut p = n31.clone();
    p.push(0xa);
    assert_eq!(v.next_key_nibbles(&n32, true, &p, true).unwrap(), None);
    // Byte-level API: the proven key is the next key after anything just before it.
    let key = hex::decode(SMALL_KEY).unwrap();
    let mut before = key.clone();
    before.pop();
    assert_eq!(v.next_key(&before, &before).unwrap(), Some(key.clone()));
    assert_eq!(v.next_key(&key, &key).unwrap(), None);
}

/// smoldot `closest_descendant_merkle_value_works`, same proof.
#[test]
fn small_proof_closest_descendant() {
    let proof = small();
    let root = h32(SMALL_ROOT);
    let v = proof.verify(&root).unwrap();
    let bytes = |s: &str| nibbles::from_bytes(&hex::decode(s).unwrap());
    assert_eq!(v.closest_descendant_merkle_value(&[]).unwrap(), Some(root.to_vec()));
    assert_eq!(
        v.closest_descendant_merkle_value(&[1]).unwrap(),
        Some(hex::decode("241f2c06f22ec58968fb68d432319e25e6c8faa3ad2c5ca9ee48f2e8ed158e24").unwrap())
    );
    assert_eq!(v.closest_descendant_merkle_value(&[1, 0]), Err(ProofError::IncompleteProof));
    assert_eq!(v.closest_descendant_merkle_value(&[0xe]).unwrap(), None);
    assert_eq!(v.closest_descendant_merkle_value(&[0xe, 0]).unwrap(), None);
    let a = hex::decode("5e849d5c148ca361a55a2c9b384e17ce919e936ccb8011a4f72504e9f93db8cd").unwrap();
    assert_eq!(v.closest_descendant_merkle_value(&bytes("9c5d795d0297be56027a4b2464e3")).unwrap(), Some(a.clone()));
    assert_eq!(v.closest_descendant_merkle_value(&bytes("9c5d795d0297be56027a4b2464e4")).unwrap(), None);
    assert_eq!(v.closest_descendant_merkle_value(&bytes("9c5d795d0297be56027a4b2464e33397")).unwrap(), Some(a));
    let b = hex::decode("cd3bc8c3ce3cf8359f7371a13316f02fd22b02a3d327684a2b61f4a47e0022b8").unwrap();
    let mut long = SMALL_KEY.to_string();
    assert_eq!(v.closest_descendant_merkle_value(&bytes(&long)).unwrap(), Some(b.clone()));
    long.push_str("00");
    assert_eq!(v.closest_descendant_merkle_value(&bytes(&long)).unwrap(), None);
    long.truncate(long.len() - 4);
    assert_eq!(v.closest_descendant_merkle_value(&bytes(&long)).unwrap(), Some(b));
}

fn read_key(bytes: &[u8], root: &[u8; 32], key: &[u8]) -> Result<Option<Vec<u8>>, ProofError> {
    let proof = StorageProof::decode(bytes, MAX)?;
    let v = proof.verify(root)?;
    v.read(key)
}

#[test]
fn corrupted_small_proof_is_an_error() {
    let original = read("proof-decode-small.bin");
    let root = h32(SMALL_ROOT);
    let key = hex::decode(SMALL_KEY).unwrap();
    assert!(read_key(&original, &root, &key).unwrap().is_some());
    // Every bit of every byte flipped.
    for pos in 0..original.len() {
        for bit in 0..8 {
            let mut bytes = original.clone();
            bytes[pos] ^= 1 << bit;
            assert!(read_key(&bytes, &root, &key).is_err(), "flip of bit {bit} of byte {pos} went unnoticed");
        }
    }
    // Every node removed.
    let nodes = small().into_nodes();
    for i in 0..nodes.len() {
        let mut fewer = nodes.clone();
        fewer.remove(i);
        let bytes = weft_trie::encode_proof(&fewer);
        assert!(read_key(&bytes, &root, &key).is_err(), "removal of node {i} went unnoticed");
    }
    // Truncations.
    for len in 0..original.len() {
        assert!(read_key(&original[..len], &root, &key).is_err());
    }
}

/// Roots of the tries in a proof: entries that decode as nodes and that no other entry
/// references.
fn unreferenced(proof: &StorageProof) -> Vec<[u8; 32]> {
    let mut referenced = HashSet::new();
    for node in proof.nodes() {
        if let Ok(d) = decode_node(node) {
            for c in d.children.iter().flatten() {
                referenced.insert(c.to_vec());
            }
            if let NodeValue::Hashed(h) = d.value {
                referenced.insert(h.to_vec());
            }
        }
    }
    proof
        .nodes()
        .iter()
        .filter(|n| decode_node(n).is_ok())
        .map(|n| blake2_256(n))
        .filter(|h| !referenced.contains(&h[..]))
        .collect()
}

#[test]
fn large_proof_decodes_and_reads() {
    let proof = StorageProof::decode(&read("proof-decode-large.bin"), MAX).unwrap();
    let roots = unreferenced(&proof);
    assert_eq!(roots.len(), 1, "expected exactly one trie root");
    // The root smoldot's lib/benches/proof-decode.rs uses for this proof.
    assert_eq!(roots[0], h32("886ca67c0e8d0003e2531bb25b1da0fe2f80d4b9eb6719e819f363265bd670fa"));
    let v = proof.verify(&roots[0]).unwrap();
    // Every value stored in a node of the proof can be read back by its key: collect them by
    // walking the nodes from the root.
    let by_hash: std::collections::HashMap<[u8; 32], &Vec<u8>> =
        proof.nodes().iter().map(|n| (blake2_256(n), n)).collect();
    let mut found = 0;
    let mut stack: Vec<(Vec<u8>, Vec<u8>)> = vec![(by_hash[&roots[0]].to_vec(), vec![])];
    while let Some((bytes, mut path)) = stack.pop() {
        let node = decode_node(&bytes).unwrap();
        path.extend(node.partial_key.iter());
        if let NodeValue::Inline(val) = node.value {
            let key = nibbles::to_bytes(&path).unwrap();
            assert_eq!(v.read(&key).unwrap().as_deref(), Some(val));
            found += 1;
            // From each provable key, `next_key` either answers (with a readable key) or
            // reports that the proof is incomplete.
            match v.next_key(&key, &[]) {
                Ok(Some(next)) => {
                    assert!(next > key);
                    assert!(v.read(&next).unwrap().is_some());
                }
                Ok(None) | Err(ProofError::IncompleteProof) => {}
                Err(e) => panic!("{e}"),
            }
        }
        for (i, c) in node.children.iter().enumerate() {
            let Some(c) = c else { continue };
            let child = if c.len() == 32 {
                match by_hash.get(&c[..]) {
                    Some(n) => n.to_vec(),
                    None => continue,
                }
            } else {
                c.to_vec()
            };
            let mut p = path.clone();
            p.push(i as u8);
            stack.push((child, p));
        }
    }
    assert!(found > 10, "{found} values found");
    println!(
        "large proof: {} entries, root 0x{}, {found} readable inline values",
        proof.nodes().len(),
        hex::encode(roots[0])
    );
}

fn issue_2035(file: &str, root: &str, key: &str, next: &str) {
    let proof = StorageProof::decode(&read(file), MAX).unwrap();
    let v = proof.verify(&h32(root)).unwrap();
    let key = hex::decode(key).unwrap();
    assert_eq!(v.next_key(&key, &[]).unwrap(), Some(hex::decode(next).unwrap()), "{file}");
    let nk = v.next_key_nibbles(&nibbles::from_bytes(&key), false, &[], false).unwrap();
    assert_eq!(nk, Some(nibbles::from_bytes(&hex::decode(next).unwrap())));
}

/// smoldot `issue_2035`, `issue_2035_bis`, `issue_2035_ter` (roots and keys from its
/// lib/src/trie/proof_decode/tests.rs).
#[test]
fn issue_2035_next_keys() {
    issue_2035(
        "issue_2035_proof.bin",
        "f72fa98efbf23c21d162a6690a2412d0b2e3d2e769cab46a7eb6004138ebeda7",
        "63f78c98723ddc9073523ef3beefda0ca95dac46c07a40d91506e7637ec4ba57",
        "63f78c98723ddc9073523ef3beefda0ca95dac46c07a40d91506e7637ec4ba57071ceff5b0f64d362e080000",
    );
    issue_2035(
        "issue_2035_bis_proof.bin",
        "f119f9b4d26ca952df2698c929da6b8877a53e9f649f2c3fd3dcc391771dfb62",
        "63f78c98723ddc9073523ef3beefda0ca95dac46c07a40d91506e7637ec4ba57071ceff5b0f64d362e080000",
        "63f78c98723ddc9073523ef3beefda0ca95dac46c07a40d91506e7637ec4ba570f474ee85a3cd622f8070000",
    );
    issue_2035(
        "issue_2035_ter_proof.bin",
        "293aa6e077dbe7090ca71154dba71af3d43f61736b1a6e900cd771ac08c18e3c",
        "63f78c98723ddc9073523ef3beefda0ca95dac46c07a40d91506e7637ec4ba570f474ee85a3cd622f8070000",
        "63f78c98723ddc9073523ef3beefda0ca95dac46c07a40d91506e7637ec4ba57160394315fe95b98f3070000",
    );
}

/// Westend call proof (smoldot validate-transaction fixture) against the state root of the
/// block header it comes with.
#[test]
fn westend_call_proof_verifies() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/executor/smoldot-validate-transaction/test-fixture.json"
    );
    let d: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let header = hex::decode(d["blockHeader"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    // parent_hash (32) ++ Compact(number) ++ state_root (32) ++ ...
    let mut rest = &header[32..];
    let _number = <parity_scale_codec::Compact<u32> as parity_scale_codec::Decode>::decode(&mut rest).unwrap();
    let state_root: [u8; 32] = rest[..32].try_into().unwrap();
    let bytes = hex::decode(d["callProof"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    let proof = StorageProof::decode(&bytes, MAX).unwrap();
    let v = proof.verify(&state_root).unwrap();
    // `:code` is in the proof (the runtime reads it) and matches the fixture's runtime code.
    let code = hex::decode(d["runtimeCode"].as_str().unwrap().trim_start_matches("0x")).unwrap();
    match v.read(b":code") {
        Ok(Some(c)) => assert_eq!(c, code),
        Ok(None) => panic!(":code absent"),
        Err(e) => println!(":code not readable from the call proof: {e}"),
    }
    println!("westend call proof: {} entries", proof.nodes().len());
}

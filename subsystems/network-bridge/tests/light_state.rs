//! `light/2` and `state/2` served from a chain store holding the first 256 real Westend
//! blocks (imported from the fixture file: BABE-verified, executed, state roots checked),
//! every request and response going through the wire encoders and decoders:
//!
//! 1. remote reads at #256 verified against #256's header state root, values equal to
//!    the store's, and a tampered proof rejected;
//! 2. a remote `Core_version` call (and one that reads storage) re-executed by a "light
//!    client" on nothing but the call proof and the code it read by a remote read;
//! 3. the whole state of #256 downloaded by repeated state requests, its root rebuilt,
//!    with key-value pairs (`no_proof = true`) and with compact proofs checked against
//!    #256's state root (`no_proof = false`), tampered proofs rejected;
//! 4. bad requests and responses refused with clear errors.
//!
//! Sizes and counts are printed.

mod common;
use common::*;

use std::path::PathBuf;
use std::sync::OnceLock;

use weft_block::{Block, Justifications, H256};
use weft_block_import::blocks_file::BlocksFile;
use weft_block_import::{initialize_from_spec, Importer};
use weft_chain_spec::ChainSpec;
use weft_chain_store::{ChainStore, StoreConfig};
use weft_network_bridge::{
    call_response_proof, prove_execution, read_response_proof, remote_call_state, serve_light_request,
    serve_light_request_bytes, serve_state_request, serve_state_request_bytes, serve_state_request_with_budget,
    verify_remote_read, LightServeError, LightVerifyError, StateDownload, StateDownloadError, StateServeError,
    MAX_STATE_RESPONSE_DATA_BYTES,
};
use weft_network_protocol::light::{
    decode_light_response, encode_light_request, RemoteCallRequest, RemoteReadChildRequest, RemoteReadRequest, Request,
    RequestKind,
};
use weft_network_protocol::state::{decode_state_response, encode_state_request, StateRequest, StateResponse};
use weft_network_protocol::{decode_proof_nodes, ProtocolError};
use weft_runtime_executor::{heap_pages_from_storage, Executor, StateVersion};
use weft_trie::compact::{CompactProof, CompactProofError};
use weft_trie::range_proof::RangeProofError;

/// The store with Westend #0..=#256, shared by the tests of this file.
struct Node {
    store: ChainStore,
    executor: Executor,
    /// Hash of #256.
    head: H256,
    /// State root of #256.
    root: [u8; 32],
    /// Hash and state root of #255.
    parent: (H256, [u8; 32]),
}

/// The database lives under the target directory, one per test process; directories of
/// earlier runs are removed.
fn db_dir() -> PathBuf {
    let base = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("light_state");
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let pid = entry.file_name().to_string_lossy().parse::<u32>().ok();
            if pid.is_some_and(|pid| !PathBuf::from(format!("/proc/{pid}")).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = base.join(std::process::id().to_string());
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn node() -> &'static Node {
    static NODE: OnceLock<Node> = OnceLock::new();
    NODE.get_or_init(|| {
        let started = std::time::Instant::now();
        let spec = ChainSpec::from_file(&fixture("chain-specs/full-raw/westend.json")).unwrap();
        let store = ChainStore::open(&db_dir().join("db"), StoreConfig::default()).unwrap();
        let executor = Executor::default();
        initialize_from_spec(&store, &executor, &spec).unwrap();
        let mut importer = Importer::new(store.clone(), executor.clone()).unwrap();
        let blocks: Vec<(Block, Option<Justifications>)> =
            BlocksFile::read(&fixture("blocks/westend/westend_blocks_1-256.json")).unwrap().decode().unwrap();
        for (block, justifications) in &blocks {
            importer.import_block(block, justifications.as_ref()).unwrap();
        }
        let (number, head) = store.best().unwrap();
        assert_eq!((number, format!("{head}")), (256, WESTEND_256.to_string()));
        let header = store.header(&head).unwrap().unwrap();
        let parent = store.header(&header.parent_hash).unwrap().unwrap();
        println!("genesis + 256 Westend blocks imported in {:?}", started.elapsed());
        Node { store, executor, head, root: header.state_root.0, parent: (header.parent_hash, parent.state_root.0) }
    })
}

fn storage_key(pallet: &str, item: &str) -> Vec<u8> {
    [weft_crypto::hashing::twox_128(pallet.as_bytes()), weft_crypto::hashing::twox_128(item.as_bytes())].concat()
}

fn light_request(kind: RequestKind) -> Vec<u8> {
    encode_light_request(&Request { request: Some(kind) })
}

fn read_request(block: H256, keys: &[Vec<u8>]) -> Vec<u8> {
    light_request(RequestKind::RemoteRead(RemoteReadRequest { block: block.0.to_vec(), keys: keys.to_vec() }))
}

fn call_request(block: H256, method: &str, data: &[u8]) -> Vec<u8> {
    light_request(RequestKind::RemoteCall(RemoteCallRequest {
        block: block.0.to_vec(),
        method: method.to_string(),
        data: data.to_vec(),
    }))
}

/// A request as a peer sends it, served, and the response as the requester decodes it.
fn light_round_trip(request: &[u8]) -> (usize, weft_network_protocol::light::ResponseKind) {
    let node = node();
    let response = serve_light_request_bytes(&node.store, &node.executor, request).unwrap();
    (response.len(), decode_light_response(&response).unwrap())
}

#[test]
fn remote_reads_at_256_verify_against_the_header() {
    let node = node();
    let view = node.store.state_at(&node.head).unwrap();
    // `System::Number` and `System::ParentHash` are taken at the end of each block by
    // this (2020) runtime, so their proofs are proofs of absence; `System::BlockHash(255)`
    // and `Timestamp::Now` are present.
    let block_hash_255 =
        [storage_key("System", "BlockHash"), weft_crypto::hashing::twox_64_concat(&255u32.to_le_bytes())].concat();
    let keys = vec![
        block_hash_255,
        storage_key("Timestamp", "Now"),
        storage_key("System", "Number"),
        storage_key("System", "ParentHash"),
        b":heappages".to_vec(),
        vec![0xff; 40],
    ];
    let (len, response) = light_round_trip(&read_request(node.head, &keys));
    let proof = read_response_proof(&response).unwrap();
    let nodes = decode_proof_nodes(proof).unwrap();
    println!(
        "read proof of {} keys: {} nodes, {} bytes ({len} bytes on the wire)",
        keys.len(),
        nodes.len(),
        proof.len()
    );
    assert!(nodes.windows(2).all(|w| w[0] < w[1]), "sorted, without duplicates");

    let values = verify_remote_read(&node.root, &keys, proof).unwrap();
    for (key, value) in &values {
        assert_eq!(value, &view.get(key).unwrap(), "key 0x{}", hex::encode(key));
    }
    assert_eq!(values[0].1.as_deref(), Some(&node.parent.0 .0[..]));
    assert_eq!(values[1].1.as_ref().map(Vec::len), Some(8));
    assert!(values[2..].iter().all(|(_, v)| v.is_none()));

    // Not a proof of #255's state, nor a proof of a key it does not cover.
    assert!(matches!(verify_remote_read(&node.parent.1, &keys, proof), Err(LightVerifyError::Proof(_))));
    assert!(verify_remote_read(&node.root, &[b":code".to_vec()], proof).is_err());

    // Tampering: one byte of any node, or a node left out.
    for i in [0, nodes.len() / 2, nodes.len() - 1] {
        let mut tampered = nodes.clone();
        let last = tampered[i].len() - 1;
        tampered[i][last] ^= 0x40;
        let tampered = weft_trie::encode_proof(&tampered);
        assert!(verify_remote_read(&node.root, &keys, &tampered).is_err(), "node {i} altered");
        let mut fewer = nodes.clone();
        fewer.remove(i);
        assert!(verify_remote_read(&node.root, &keys, &weft_trie::encode_proof(&fewer)).is_err(), "node {i} left out");
    }

    // `:code`: about a megabyte in one inline (V0) value.
    let code_keys = vec![b":code".to_vec()];
    let (len, response) = light_round_trip(&read_request(node.head, &code_keys));
    let proof = read_response_proof(&response).unwrap();
    let code = verify_remote_read(&node.root, &code_keys, proof).unwrap().remove(0).1.unwrap();
    assert_eq!(Some(&code), view.get(b":code").unwrap().as_ref());
    println!("read proof of `:code` ({} bytes): {} bytes ({len} bytes on the wire)", code.len(), proof.len());
}

#[test]
fn remote_calls_at_256_re_execute_on_the_proof_alone() {
    let node = node();
    // The light client's runtime: `:code` and `:heappages` from a verified remote read.
    let keys = vec![b":code".to_vec(), b":heappages".to_vec()];
    let (_, response) = light_round_trip(&read_request(node.head, &keys));
    let values = verify_remote_read(&node.root, &keys, read_response_proof(&response).unwrap()).unwrap();
    let code = values[0].1.clone().unwrap();
    // (Compiled by the server's executor only to share its cache: the module is the same.)
    let module = node.executor.compile(&code, heap_pages_from_storage(values[1].1.as_deref())).unwrap();

    let mut proofs = Vec::new();
    for method in ["Core_version", "GrandpaApi_grandpa_authorities", "BabeApi_configuration"] {
        let (len, response) = light_round_trip(&call_request(node.head, method, &[]));
        let proof = call_response_proof(&response).unwrap().to_vec();
        let nodes = decode_proof_nodes(&proof).unwrap();
        println!("call proof of {method}: {} nodes, {} bytes ({len} bytes on the wire)", nodes.len(), proof.len());
        let (expected, _) = prove_execution(&node.store, &node.executor, &node.head, method, &[]).unwrap();

        let state = remote_call_state(&node.root, &proof).unwrap();
        let output = module.call_on_state(method, &[], state).unwrap().output;
        assert_eq!(output, expected, "{method}");
        // Against another root the proof backs nothing.
        assert!(remote_call_state(&node.parent.1, &proof).is_err() || nodes.is_empty());
        proofs.push((method, proof));
    }
    // `Core_version` reads no storage; the GRANDPA authorities' proof does not cover
    // BABE's configuration.
    let (_, grandpa_proof) = &proofs[1];
    let state = remote_call_state(&node.root, grandpa_proof).unwrap();
    assert!(module.call_on_state("BabeApi_configuration", &[], state).is_err());

    // A runtime call that fails (no such function) gives no proof, as Substrate answers.
    let (_, response) = light_round_trip(&call_request(node.head, "NoSuchApi_function", &[]));
    assert!(matches!(call_response_proof(&response), Err(LightVerifyError::NoProof)));
}

#[test]
fn state_download_of_256_rebuilds_the_state_root() {
    let node = node();
    let view = node.store.state_at(&node.head).unwrap();
    let all_pairs = view.pairs(&[], usize::MAX).unwrap();
    for (budget, label) in [(MAX_STATE_RESPONSE_DATA_BYTES, "2 MiB"), (64 * 1024, "64 KiB"), (4 * 1024, "4 KiB")] {
        let mut download = StateDownload::new(node.head, node.root);
        let (mut requests, mut wire_bytes) = (0usize, 0usize);
        while let Some(request) = download.next_request() {
            requests += 1;
            let request_bytes = encode_state_request(&request);
            let response = if budget == MAX_STATE_RESPONSE_DATA_BYTES {
                serve_state_request_bytes(&node.store, &request_bytes).unwrap()
            } else {
                let request = weft_network_protocol::state::decode_state_request(&request_bytes).unwrap();
                let response = serve_state_request_with_budget(&node.store, &request, budget).unwrap();
                weft_network_protocol::state::encode_state_response(&response)
            };
            wire_bytes += request_bytes.len() + response.len();
            download.on_response_bytes(&response).unwrap();
        }
        let stats = download.stats();
        let code = download.top_value(b":code").unwrap();
        let version = match weft_runtime_executor::runtime_version(code).unwrap().trie_state_version() {
            0 => StateVersion::V0,
            _ => StateVersion::V1,
        };
        let state = download.finish(version).unwrap();
        assert_eq!(state.root, node.root);
        assert_eq!(state.top.len(), all_pairs.len());
        assert!(state.top.iter().zip(&all_pairs).all(|((k, v), (k2, v2))| k == k2 && v == v2));
        assert!(state.children.is_empty());
        println!(
            "state download of #256 with a {label} budget: {} pairs, {} key+value bytes, {requests} requests, {} \
             responses, {wire_bytes} bytes on the wire, {version:?}",
            stats.entries, stats.bytes, stats.responses
        );
        if budget == MAX_STATE_RESPONSE_DATA_BYTES {
            assert!(requests <= 2);
        } else {
            assert!(requests > 2);
        }
    }
}

#[test]
fn state_download_rejects_a_tampered_or_truncated_state() {
    let node = node();
    let full = serve_state_request(&node.store, &StateRequest::new(node.head, vec![], true)).unwrap();
    assert_eq!(full.entries.len(), 1);

    let mut altered = full.clone();
    let entry = &mut altered.entries[0].entries[3];
    entry.value.push(0);
    let mut download = StateDownload::new(node.head, node.root);
    download.on_response(&altered).unwrap();
    let error = download.finish(StateVersion::V0).unwrap_err();
    println!("altered value: {error}");
    assert!(matches!(error, StateDownloadError::RootMismatch { .. }));

    let mut truncated = full.clone();
    truncated.entries[0].entries.pop();
    let mut download = StateDownload::new(node.head, node.root);
    download.on_response(&truncated).unwrap();
    assert!(matches!(download.finish(StateVersion::V0), Err(StateDownloadError::RootMismatch { .. })));

    let mut unordered = full.clone();
    unordered.entries[0].entries.swap(10, 11);
    let mut download = StateDownload::new(node.head, node.root);
    let error = download.on_response(&unordered).unwrap_err();
    println!("unordered keys: {error}");
    assert!(matches!(error, StateDownloadError::NotAscending { .. }));

    let mut download = StateDownload::new(node.head, node.root);
    let error = download.on_response_bytes(&[0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap_err();
    println!("garbage response: {error}");
    assert!(matches!(error, StateDownloadError::Decode(_)));
    assert!(matches!(download.on_response(&StateResponse::default()), Err(StateDownloadError::EmptyResponse)));
    assert!(decode_state_response(&weft_network_protocol::state::encode_state_response(&full)).is_ok());
}

/// What a whole-state download took.
struct Download {
    state: weft_network_bridge::DownloadedState,
    requests: usize,
    /// Requests and responses, as encoded on the wire.
    wire_bytes: usize,
    stats: weft_network_bridge::StateDownloadStats,
}

/// Downloads the whole state of #256 with `budget` (the default one through the bytes API a
/// network host uses), with proofs or not.
fn download_256(budget: usize, proofs: bool) -> Download {
    let node = node();
    let mut download = if proofs {
        StateDownload::with_proofs(node.head, node.root)
    } else {
        StateDownload::new(node.head, node.root)
    };
    let (mut requests, mut wire_bytes) = (0usize, 0usize);
    while let Some(request) = download.next_request() {
        requests += 1;
        assert!(requests < 100_000);
        let request_bytes = encode_state_request(&request);
        let response = if budget == MAX_STATE_RESPONSE_DATA_BYTES {
            serve_state_request_bytes(&node.store, &request_bytes).unwrap()
        } else {
            let request = weft_network_protocol::state::decode_state_request(&request_bytes).unwrap();
            let response = serve_state_request_with_budget(&node.store, &request, budget).unwrap();
            weft_network_protocol::state::encode_state_response(&response)
        };
        wire_bytes += request_bytes.len() + response.len();
        download.on_response_bytes(&response).unwrap();
    }
    let stats = download.stats();
    assert_eq!(stats.responses, requests);
    // Westend #256 runs a runtime without `state_version`: V0.
    let state = download.finish(StateVersion::V0).unwrap();
    Download { state, requests, wire_bytes, stats }
}

#[test]
fn state_download_of_256_with_proofs_rebuilds_the_state_root() {
    let node = node();
    let view = node.store.state_at(&node.head).unwrap();
    let all_pairs = view.pairs(&[], usize::MAX).unwrap();
    let plain = download_256(MAX_STATE_RESPONSE_DATA_BYTES, false);
    println!(
        "without proofs, 2 MiB budget: {} pairs, {} requests, {} bytes on the wire",
        plain.stats.entries, plain.requests, plain.wire_bytes
    );
    for (budget, label) in [(MAX_STATE_RESPONSE_DATA_BYTES, "2 MiB"), (4 * 1024, "4 KiB")] {
        let proven = download_256(budget, true);
        assert_eq!(proven.state.root, node.root);
        assert_eq!(proven.state, plain.state, "{label}: the same pairs as without proofs");
        assert_eq!(proven.state.top.len(), all_pairs.len());
        assert!(proven.state.top.iter().zip(&all_pairs).all(|((k, v), (k2, v2))| k == k2 && v == v2));
        assert_eq!(proven.stats.entries, all_pairs.len());
        println!(
            "with proofs, {label} budget: {} pairs, {} requests, {} proof bytes, {} bytes on the wire \
             ({:.3}x the download without proofs)",
            proven.stats.entries,
            proven.requests,
            proven.stats.proof_bytes,
            proven.wire_bytes,
            proven.wire_bytes as f64 / plain.wire_bytes as f64
        );
        if budget == MAX_STATE_RESPONSE_DATA_BYTES {
            assert!(proven.requests <= 2);
        } else {
            assert!(proven.requests > 10, "{label}: {} requests", proven.requests);
            // `:code` (a megabyte, inline in its V0 leaf) is the pair that takes one proof
            // over the budget, and the next proof starts at it: Substrate's walk reads the
            // start key's node again, so `:code` is sent twice.
            let code = plain.state.top[&b":code".to_vec()].len() as u64;
            assert!(proven.stats.proof_bytes > 2 * code);
        }
    }
}

#[test]
fn state_proofs_of_256_tampered_or_of_another_state_are_rejected() {
    let node = node();
    let request = StateRequest::new(node.head, vec![], false);
    let good = serve_state_request_with_budget(&node.store, &request, 16 * 1024).unwrap();
    assert!(good.entries.is_empty());
    let proof = CompactProof::decode_bounded(&good.proof, usize::MAX).unwrap();
    println!(
        "first proof of #256 with a 16 KiB budget: {} items, {} bytes",
        proof.encoded_nodes.len(),
        good.proof.len()
    );
    let response = |items: &[Vec<u8>]| StateResponse { entries: Vec::new(), proof: weft_trie::encode_proof(items) };
    let mut download = StateDownload::with_proofs(node.head, node.root);

    // One byte flipped, in the SCALE framing and in items at the start, middle and end.
    let mut positions = vec![0, 1, 2, 3, good.proof.len() / 3, good.proof.len() / 2, good.proof.len() - 1];
    positions.extend((0..good.proof.len()).step_by(97));
    for i in positions {
        let mut flipped = good.clone();
        flipped.proof[i] ^= 0x20;
        let error = download.on_response(&flipped).unwrap_err();
        assert!(matches!(error, StateDownloadError::BadProof(_)), "byte {i}: {error}");
    }
    // A node left out.
    for i in [0, proof.encoded_nodes.len() / 2, proof.encoded_nodes.len() - 1] {
        let mut fewer = proof.encoded_nodes.clone();
        fewer.remove(i);
        let error = download.on_response(&response(&fewer)).unwrap_err();
        println!("item {i} left out: {error}");
        assert!(matches!(error, StateDownloadError::BadProof(_)), "item {i}");
    }
    // The same walk over #255's state, or the right proof expected at #255's root.
    let parent =
        serve_state_request_with_budget(&node.store, &StateRequest::new(node.parent.0, vec![], false), 16 * 1024)
            .unwrap();
    let error = download.on_response(&parent).unwrap_err();
    println!("proof of #255's state: {error}");
    assert!(matches!(
        error,
        StateDownloadError::BadProof(RangeProofError::Compact(CompactProofError::RootMismatch { .. }))
    ));
    let mut at_255 = StateDownload::with_proofs(node.parent.0, node.parent.1);
    assert!(matches!(at_255.on_response(&good), Err(StateDownloadError::BadProof(_))));
    assert_eq!(download.stats().responses, 0);
    assert!(!download.on_response(&good).unwrap());
}

#[test]
fn bad_requests_give_clear_errors() {
    let node = node();
    let unknown = H256([0x42; 32]);

    // light/2: an unknown block is answered without a proof (Substrate's `proof: None`).
    let (_, response) = light_round_trip(&read_request(unknown, &[b":code".to_vec()]));
    assert!(matches!(read_response_proof(&response), Err(LightVerifyError::NoProof)));
    let (_, response) = light_round_trip(&call_request(unknown, "Core_version", &[]));
    assert!(matches!(call_response_proof(&response), Err(LightVerifyError::NoProof)));
    let child = RequestKind::RemoteReadChild(RemoteReadChildRequest {
        block: node.head.0.to_vec(),
        storage_key: b":child_storage:default:none".to_vec(),
        keys: vec![b"k".to_vec()],
    });
    let (_, response) = light_round_trip(&light_request(child));
    let proof = read_response_proof(&response).unwrap();
    let values =
        weft_network_bridge::verify_remote_read_child(&node.root, b":child_storage:default:none", &[b"k"], proof)
            .unwrap();
    assert_eq!(values[0].1, None);

    let serve = |bytes: &[u8]| serve_light_request_bytes(&node.store, &node.executor, bytes);
    let short_hash = RequestKind::RemoteRead(RemoteReadRequest { block: vec![1; 31], keys: vec![vec![1]] });
    for (what, bytes) in [
        ("garbage", vec![0xde, 0xad, 0xbe, 0xef]),
        ("no request", Vec::new()),
        ("31-byte hash", light_request(short_hash)),
    ] {
        let error = serve(&bytes).unwrap_err();
        println!("light/2 {what}: {error}");
        assert!(matches!(error, LightServeError::BadRequest(_)), "{what}");
    }
    let error = serve(&read_request(node.head, &[])).unwrap_err();
    println!("light/2 without keys: {error}");
    assert!(matches!(error, LightServeError::NoKeys { .. }));
    let no_keys = RequestKind::RemoteRead(RemoteReadRequest { block: node.head.0.to_vec(), keys: vec![] });
    assert!(serve_light_request(&node.store, &node.executor, &no_keys).is_err());

    // state/2.
    let serve_state = |request: StateRequest| serve_state_request_bytes(&node.store, &encode_state_request(&request));
    let cases: [(&str, Result<Vec<u8>, StateServeError>); 6] = [
        ("unknown block", serve_state(StateRequest::new(unknown, vec![], true))),
        ("3 start keys", serve_state(StateRequest::new(node.head, vec![vec![1], vec![2], vec![3]], true))),
        (
            "start in a missing child trie",
            serve_state(StateRequest::new(node.head, vec![b":child_storage:default:x".to_vec(), vec![]], true)),
        ),
        ("start in a non-child key", serve_state(StateRequest::new(node.head, vec![b":code".to_vec(), vec![]], true))),
        (
            "proof of a missing child trie",
            serve_state(StateRequest::new(node.head, vec![b":child_storage:default:x".to_vec(), vec![]], false)),
        ),
        ("garbage", serve_state_request_bytes(&node.store, &[0x0a, 0x05, 1, 2])),
    ];
    for (what, result) in cases {
        let error = result.unwrap_err();
        println!("state/2 {what}: {error}");
        let expected = match what {
            "unknown block" => matches!(error, StateServeError::UnknownBlock(h) if h == unknown),
            "3 start keys" => matches!(error, StateServeError::TooManyStartKeys(3)),
            "start in a missing child trie" | "proof of a missing child trie" => {
                matches!(error, StateServeError::UnknownChildTrie(_))
            }
            "start in a non-child key" => matches!(error, StateServeError::InvalidChildStorageKey(_)),
            _ => matches!(error, StateServeError::BadRequest(ProtocolError::Protobuf { .. })),
        };
        assert!(expected, "{what}: {error:?}");
    }
}

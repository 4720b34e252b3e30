//! Round trips and exact bytes of the request, response and notification formats, and
//! protocol names, on Westend data.

mod common;

use common::{unhex, westend_blocks, WESTEND_GENESIS};
use weft_block::{decode_header, OpaqueExtrinsic, H256};
use weft_network_protocol::announce::{
    decode_block_announce, decode_handshake, decode_transactions, encode_block_announce, encode_handshake,
    encode_transactions, BlockAnnounce, BlockAnnouncesHandshake, BlockState, Roles, BLOCK_ANNOUNCES_HANDSHAKE_LEN,
    MAX_BLOCK_ANNOUNCE_BYTES,
};
use weft_network_protocol::light::{
    decode_light_request, decode_light_response, encode_light_request, encode_light_response, RemoteCallRequest,
    RemoteCallResponse, RemoteReadChildRequest, RemoteReadRequest, RemoteReadResponse, Request, RequestKind, Response,
    ResponseKind,
};
use weft_network_protocol::names::{chain_prefix, Protocol, ProtocolNames, LEGACY_GRANDPA_PROTOCOL};
use weft_network_protocol::state::{
    decode_state_request, decode_state_response, encode_state_request, encode_state_response, KeyValueStateEntry,
    StateEntry, StateRequest, StateResponse,
};
use weft_network_protocol::sync::{
    decode_block_request, encode_block_request, BlockAttributes, BlockRequest, Direction, FromBlock, StartBlock,
    MAX_REQUEST_BYTES,
};
use weft_network_protocol::{decode_proof_nodes, ProtocolError};

fn genesis() -> H256 {
    WESTEND_GENESIS.parse().unwrap()
}

#[test]
fn block_request_round_trip_with_attributes_in_the_top_byte() {
    let attrs = BlockAttributes::HEADER | BlockAttributes::BODY | BlockAttributes::JUSTIFICATION;
    let request = BlockRequest::new(attrs, StartBlock::Number(129), Direction::Ascending, 128);
    let bytes = encode_block_request(&request);
    // fields = 0x13 << 24 (varint), number = 129 as 4 LE bytes, direction 0 omitted,
    // max_blocks = 128, support_multiple_justifications = true.
    assert_eq!(hex::encode(&bytes), "0880808098011a04810000003080013801");
    println!("block request by number: {} bytes {}", bytes.len(), hex::encode(&bytes));
    let decoded = decode_block_request(&bytes).unwrap();
    assert_eq!(decoded, request);
    assert_eq!(decoded.fields, 0x1300_0000);
    assert_eq!(decoded.attributes(), Ok(attrs));
    assert_eq!(decoded.start(), Ok(StartBlock::Number(129)));
    assert_eq!(decoded.checked_direction(), Ok(Direction::Ascending));

    let hash = H256(core::array::from_fn(|i| i as u8));
    let request = BlockRequest::new(BlockAttributes::HEADER, StartBlock::Hash(hash), Direction::Descending, 1);
    let bytes = encode_block_request(&request);
    assert_eq!(
        hex::encode(&bytes),
        "08808080081220000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f280130013801"
    );
    assert_eq!(decode_block_request(&bytes).unwrap().start(), Ok(StartBlock::Hash(hash)));

    // Requests a server must refuse.
    let mut bad = request.clone();
    bad.from_block = None;
    assert_eq!(decode_block_request(&encode_block_request(&bad)), Err(ProtocolError::MissingFromBlock));
    bad.from_block = Some(FromBlock::Number(vec![1, 0, 0, 0, 0, 0, 0, 0]));
    assert_eq!(decode_block_request(&encode_block_request(&bad)), Err(ProtocolError::BadStartNumber { len: 8 }));
    bad.from_block = Some(FromBlock::Hash(vec![0; 33]));
    assert!(matches!(decode_block_request(&encode_block_request(&bad)), Err(ProtocolError::BadHashLength { .. })));
    let mut bad = request.clone();
    bad.direction = 2;
    assert_eq!(decode_block_request(&encode_block_request(&bad)), Err(ProtocolError::BadDirection(2)));
    let mut bad = request;
    bad.fields = 0x8100_0000;
    assert_eq!(decode_block_request(&encode_block_request(&bad)), Err(ProtocolError::BadAttributes(0x8100_0000)));
    assert!(matches!(decode_block_request(&[0x1a, 0x05, 1]), Err(ProtocolError::Protobuf { .. })));
    let huge = vec![0u8; MAX_REQUEST_BYTES + 1];
    assert!(matches!(decode_block_request(&huge), Err(ProtocolError::TooLarge { .. })));
}

#[test]
fn state_request_and_response_round_trip() {
    let block = H256([7; 32]);
    let request = StateRequest::new(block, vec![b":code".to_vec()], true);
    let bytes = encode_state_request(&request);
    assert_eq!(bytes[..2], [0x0a, 0x20]);
    assert_eq!(bytes[34..], [0x12, 5, b':', b'c', b'o', b'd', b'e', 0x18, 1]);
    let decoded = decode_state_request(&bytes).unwrap();
    assert_eq!(decoded, request);
    assert_eq!(decoded.block_hash(), Ok(block));
    assert!(matches!(
        decode_state_request(&encode_state_request(&StateRequest { block: vec![1; 3], ..request })),
        Err(ProtocolError::BadHashLength { len: 3, .. })
    ));

    let response = StateResponse {
        entries: vec![KeyValueStateEntry {
            state_root: Vec::new(),
            entries: vec![
                StateEntry { key: b"a".to_vec(), value: b"1".to_vec() },
                StateEntry { key: b"b".to_vec(), value: Vec::new() },
            ],
            complete: true,
        }],
        proof: Vec::new(),
    };
    let bytes = encode_state_response(&response);
    assert_eq!(hex::encode(&bytes), "0a0f12060a016112013112030a01621801");
    assert_eq!(decode_state_response(&bytes).unwrap(), response);

    // Floods of empty entries are refused before decoding.
    let flood = [0x0a, 0x00].repeat((1 << 16) + 1);
    assert!(matches!(decode_state_response(&flood), Err(ProtocolError::TooManyEntries { .. })));

    // A proof is a SCALE list of trie nodes.
    let proof = StateResponse { entries: Vec::new(), proof: vec![8, 4, 0xaa, 8, 0xbb, 0xcc] };
    let decoded = decode_state_response(&encode_state_response(&proof)).unwrap();
    assert_eq!(decode_proof_nodes(&decoded.proof).unwrap(), vec![vec![0xaa], vec![0xbb, 0xcc]]);
    assert!(decode_proof_nodes(&[8, 4, 0xaa]).is_err());
}

#[test]
fn light_messages_follow_proto2_rules() {
    let call = Request {
        request: Some(RequestKind::RemoteCall(RemoteCallRequest {
            block: vec![0x11; 32],
            method: "Core_version".into(),
            data: Vec::new(),
        })),
    };
    let bytes = encode_light_request(&call);
    // `required bytes data = 4` is written even though it is empty.
    let expected = format!("0a3212 20{}1a0c{}2200", "11".repeat(32), hex::encode("Core_version")).replace(' ', "");
    assert_eq!(hex::encode(&bytes), expected);
    assert_eq!(decode_light_request(&bytes).unwrap(), call.request.clone().unwrap());

    let read = Request {
        request: Some(RequestKind::RemoteRead(RemoteReadRequest {
            block: vec![0x22; 32],
            keys: vec![b"k1".to_vec(), b"k2".to_vec()],
        })),
    };
    let bytes = encode_light_request(&read);
    assert_eq!(bytes[0], 0x12);
    assert_eq!(decode_light_request(&bytes).unwrap(), read.request.unwrap());

    let child = Request {
        request: Some(RequestKind::RemoteReadChild(RemoteReadChildRequest {
            block: vec![0x33; 32],
            storage_key: b"child".to_vec(),
            keys: vec![b"x".to_vec()],
        })),
    };
    let bytes = encode_light_request(&child);
    assert_eq!(bytes[0], 0x22, "field 4");
    assert_eq!(bytes[bytes.len() - 3..], [0x32, 1, b'x'], "keys are field 6");
    let kind = decode_light_request(&bytes).unwrap();
    assert_eq!(kind.block_hash(), Ok(H256([0x33; 32])));

    // Absent and empty proofs are different things.
    let absent = Response { response: Some(ResponseKind::RemoteCall(RemoteCallResponse { proof: None })) };
    let empty = Response { response: Some(ResponseKind::RemoteCall(RemoteCallResponse { proof: Some(Vec::new()) })) };
    assert_eq!(encode_light_response(&absent), [0x0a, 0x00]);
    assert_eq!(encode_light_response(&empty), [0x0a, 0x02, 0x12, 0x00]);
    assert_eq!(decode_light_response(&[0x0a, 0x00]).unwrap().proof(), None);
    assert_eq!(decode_light_response(&[0x0a, 0x02, 0x12, 0x00]).unwrap().proof(), Some(&[][..]));
    let read = Response { response: Some(ResponseKind::RemoteRead(RemoteReadResponse { proof: Some(vec![4, 0]) })) };
    assert_eq!(decode_light_response(&encode_light_response(&read)).unwrap(), read.response.unwrap());

    // Empty or unknown kinds (e.g. a newer RFC-0009 request, field 6) are refused.
    assert_eq!(decode_light_request(&[]), Err(ProtocolError::EmptyMessage { what: "light request" }));
    assert_eq!(decode_light_request(&[0x32, 0x00]), Err(ProtocolError::EmptyMessage { what: "light request" }));
    assert_eq!(decode_light_response(&[]), Err(ProtocolError::EmptyMessage { what: "light response" }));
    // A method name that is not UTF-8 is a protobuf error.
    let mut bad = encode_light_request(&call);
    bad[38] = 0xff;
    assert!(matches!(decode_light_request(&bad), Err(ProtocolError::Protobuf { .. })));
}

#[test]
fn handshake_round_trip() {
    let blocks = westend_blocks();
    let best = &blocks[255];
    let handshake = BlockAnnouncesHandshake {
        roles: Roles::FULL,
        best_number: best.number,
        best_hash: best.hash.parse().unwrap(),
        genesis_hash: genesis(),
    };
    let bytes = encode_handshake(&handshake);
    assert_eq!(bytes.len(), BLOCK_ANNOUNCES_HANDSHAKE_LEN);
    assert_eq!(bytes[..5], [1, 0, 1, 0, 0], "roles, then #256 as 4 LE bytes");
    assert_eq!(bytes[5..37], unhex(&best.hash)[..]);
    assert_eq!(hex::encode(&bytes[37..]), WESTEND_GENESIS);
    println!("handshake: {} bytes {}", bytes.len(), hex::encode(&bytes));
    assert_eq!(decode_handshake(&bytes).unwrap(), handshake);

    let authority = BlockAnnouncesHandshake { roles: Roles::AUTHORITY, ..handshake };
    assert_eq!(decode_handshake(&encode_handshake(&authority)).unwrap().roles, Roles::AUTHORITY);
    let mut bad = bytes.clone();
    bad[0] = 8;
    assert!(matches!(decode_handshake(&bad), Err(ProtocolError::Scale(_))));
    assert!(decode_handshake(&bytes[..68]).is_err());
    assert!(decode_handshake(&[bytes.as_slice(), &[0]].concat()).is_err());
}

#[test]
fn block_announce_round_trip_with_a_real_header() {
    let blocks = westend_blocks();
    for fixture in [&blocks[0], &blocks[127], &blocks[255]] {
        let header_bytes = unhex(&fixture.header_hex);
        let header = decode_header(&header_bytes).unwrap();
        let announce = BlockAnnounce::new(header.clone(), true);
        let bytes = encode_block_announce(&announce);
        assert_eq!(bytes, [header_bytes.as_slice(), &[1, 0]].concat(), "header ++ Best ++ empty data");
        let decoded = decode_block_announce(&bytes).unwrap();
        assert_eq!(decoded, announce);
        assert!(decoded.is_best());
        assert_eq!(decoded.hash().0.to_vec(), unhex(&fixture.hash));

        // What older nodes send: a bare header, or header ++ state.
        let bare = decode_block_announce(&header_bytes).unwrap();
        assert_eq!(bare, BlockAnnounce { header: header.clone(), state: None, data: None });
        assert_eq!(encode_block_announce(&bare), header_bytes);
        let with_state = decode_block_announce(&[header_bytes.as_slice(), &[0]].concat()).unwrap();
        assert_eq!(with_state.state, Some(BlockState::Normal));
        assert_eq!(with_state.data, None);
        assert_eq!(encode_block_announce(&with_state), [header_bytes.as_slice(), &[0]].concat());

        // Data (e.g. a collator's), then errors.
        let with_data = BlockAnnounce { data: Some(vec![9; 70]), ..announce };
        let bytes = encode_block_announce(&with_data);
        assert_eq!(decode_block_announce(&bytes).unwrap(), with_data);
        assert!(decode_block_announce(&[bytes.as_slice(), &[0]].concat()).is_err(), "trailing byte");
        assert!(decode_block_announce(&bytes[..bytes.len() - 1]).is_err(), "truncated data");
        assert_eq!(
            decode_block_announce(&[header_bytes.as_slice(), &[2, 0]].concat()),
            Err(ProtocolError::BadBlockState(2))
        );
        for cut in [0, 1, 32, header_bytes.len() - 1] {
            assert!(matches!(decode_block_announce(&header_bytes[..cut]), Err(ProtocolError::Scale(_))));
        }
        println!(
            "announce #{}: header {} bytes, announce {} bytes",
            fixture.number,
            header_bytes.len(),
            header_bytes.len() + 2
        );
    }
    let huge = vec![0u8; MAX_BLOCK_ANNOUNCE_BYTES + 1];
    assert!(matches!(decode_block_announce(&huge), Err(ProtocolError::TooLarge { .. })));
}

#[test]
fn transactions_notification_with_real_extrinsics() {
    let blocks = westend_blocks();
    let extrinsics: Vec<OpaqueExtrinsic> = blocks[..16]
        .iter()
        .flat_map(|b| b.body_extrinsics_hex.iter().map(|x| OpaqueExtrinsic::from_encoded(&unhex(x)).unwrap()))
        .collect();
    let bytes = encode_transactions(&extrinsics);
    let expected: Vec<u8> = parity_scale_codec::Encode::encode(&parity_scale_codec::Compact(extrinsics.len() as u32))
        .into_iter()
        .chain(blocks[..16].iter().flat_map(|b| b.body_extrinsics_hex.iter().flat_map(|x| unhex(x))))
        .collect();
    assert_eq!(bytes, expected);
    assert_eq!(decode_transactions(&bytes).unwrap(), extrinsics);
    println!("transactions: {} extrinsics in {} bytes", extrinsics.len(), bytes.len());
}

#[test]
fn westend_protocol_names() {
    let g = genesis();
    let names = ProtocolNames::new(&g, None, Some("wnd2"));
    let expected = [
        (Protocol::Sync, "sync/2"),
        (Protocol::State, "state/2"),
        (Protocol::Light, "light/2"),
        (Protocol::SyncWarp, "sync/warp"),
        (Protocol::BlockAnnounces, "block-announces/1"),
        (Protocol::Transactions, "transactions/1"),
        (Protocol::Grandpa, "grandpa/1"),
        (Protocol::Kad, "kad"),
    ];
    for (protocol, suffix) in expected {
        let name = format!("/{WESTEND_GENESIS}/{suffix}");
        assert_eq!(names.name(protocol), name);
        assert_eq!(protocol.name(&g, None), name);
        let legacy =
            if protocol == Protocol::Grandpa { LEGACY_GRANDPA_PROTOCOL.to_string() } else { format!("/wnd2/{suffix}") };
        assert_eq!(names.legacy_name(protocol), Some(legacy.clone()));
        assert_eq!(names.names(protocol), vec![name.clone(), legacy.clone()]);
        assert_eq!(names.protocol_of(&name), Some(protocol));
        assert_eq!(names.protocol_of(&legacy), Some(protocol));
        println!("{name}  (legacy {legacy})");
    }
    assert_eq!(names.name(Protocol::Sync), "/e143f23803ac50e8f6f8e62695d1ce9e4e1d68aa36c1cd2cfd15340213f3423e/sync/2");
    assert_eq!(Protocol::Kad.legacy_name("dot"), "/dot/kad");
    assert_eq!(Protocol::BlockAnnounces.legacy_name("dot"), "/dot/block-announces/1");
    assert_eq!(Protocol::Grandpa.legacy_name("dot"), "/paritytech/grandpa/1");

    let forked = ProtocolNames::new(&g, Some("fork1"), None);
    assert_eq!(forked.name(Protocol::BlockAnnounces), format!("/{WESTEND_GENESIS}/fork1/block-announces/1"));
    assert_eq!(chain_prefix(&g, Some("fork1")), format!("/{WESTEND_GENESIS}/fork1"));
    assert_eq!(forked.legacy_name(Protocol::Sync), None);
    assert_eq!(forked.legacy_name(Protocol::Grandpa).as_deref(), Some("/paritytech/grandpa/1"));
    assert_eq!(forked.protocol_of("/wnd2/sync/2"), None);
}

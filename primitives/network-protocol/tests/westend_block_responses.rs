//! The three real `/sync/2` BlockResponse messages for Westend #1-256 (shared fixture
//! from gossamer's test data): decoding, byte-exact re-encoding, request validation,
//! and hostile variations (truncation, bit flips, tampered headers, oversize).

mod common;

use common::{unhex, westend_blocks, westend_responses, FixtureBlock};
use weft_block::{OpaqueExtrinsic, StateVersion, H256};
use weft_network_protocol::prost::Message;
use weft_network_protocol::sync::{
    decode_block_response, decode_block_response_message, encode_block_response, response_blocks, validate_response,
    BlockAttributes, BlockRequest, BlockResponse, Direction, ResponseBlock, StartBlock, MAX_BLOCK_RESPONSE_BYTES,
    MAX_DECODED_BLOCKS, MAX_DECODED_EXTRINSICS,
};
use weft_network_protocol::ProtocolError;

/// (fixture key, first block number, direction, number of blocks)
const MESSAGES: [(&str, u32, Direction, usize); 3] = [
    ("blocks_1_to_10", 1, Direction::Ascending, 10),
    ("blocks_1_to_128", 128, Direction::Descending, 128),
    ("blocks_129_to_256", 129, Direction::Ascending, 128),
];

fn expected_numbers(first: u32, direction: Direction, count: usize) -> Vec<u32> {
    (0..count as u32).map(|i| if direction == Direction::Ascending { first + i } else { first - i }).collect()
}

fn hash_of(block: &FixtureBlock) -> [u8; 32] {
    unhex(&block.hash).try_into().unwrap()
}

fn check_block(decoded: &ResponseBlock, fixture: &FixtureBlock) {
    assert_eq!(decoded.hash, hash_of(fixture), "hash of #{}", fixture.number);
    let header = decoded.header.as_ref().expect("header present");
    assert_eq!(parity_scale_codec::Encode::encode(header), unhex(&fixture.header_hex), "header of #{}", fixture.number);
    assert_eq!(header.number, fixture.number);
    assert_eq!(header.parent_hash.0.to_vec(), unhex(&fixture.parent_hash));
    let body: Vec<Vec<u8>> = decoded.extrinsics().iter().map(OpaqueExtrinsic::encoded).collect();
    let expected: Vec<Vec<u8>> = fixture.body_extrinsics_hex.iter().map(|x| unhex(x)).collect();
    assert_eq!(body, expected, "body of #{}", fixture.number);
}

#[test]
fn fixture_messages_decode_to_the_json_blocks_and_reencode_exactly() {
    let fixtures = westend_blocks();
    let responses = westend_responses();
    let mut total_blocks = 0;
    for (key, first, direction, count) in MESSAGES {
        let bytes = &responses[key];
        let message = decode_block_response_message(bytes).unwrap();
        assert_eq!(message.blocks.len(), count, "{key}");

        // Byte-for-byte re-encoding of the protobuf message.
        assert_eq!(encode_block_response(&message), *bytes, "{key}: re-encoding differs");
        assert_eq!(message.encoded_len(), bytes.len());

        let blocks = decode_block_response(bytes).unwrap();
        let numbers = expected_numbers(first, direction, count);
        for (block, number) in blocks.iter().zip(&numbers) {
            check_block(block, &fixtures[*number as usize - 1]);
        }
        // Rebuilding the BlockData from the typed view gives the same message again.
        let rebuilt = BlockResponse { blocks: blocks.iter().map(|b| b.to_block_data(true)).collect() };
        assert_eq!(encode_block_response(&rebuilt), *bytes, "{key}: rebuilt message differs");

        // Which optional fields do real responses use?
        let with = |f: &dyn Fn(&weft_network_protocol::sync::BlockData) -> bool| {
            message.blocks.iter().filter(|b| f(b)).count()
        };
        let extrinsics: usize = blocks.iter().map(|b| b.extrinsics().len()).sum();
        println!(
            "{key}: {} bytes, {} blocks #{}..#{} ({:?}), {} extrinsics; header {}, body {}, justification {}, \
             is_empty_justification {}, justifications {}, receipt {}, message_queue {}, indexed_body {}",
            bytes.len(),
            blocks.len(),
            numbers[0],
            numbers[count - 1],
            direction,
            extrinsics,
            with(&|b| !b.header.is_empty()),
            with(&|b| !b.body.is_empty()),
            with(&|b| !b.justification.is_empty()),
            with(&|b| b.is_empty_justification),
            with(&|b| !b.justifications.is_empty()),
            with(&|b| !b.receipt.is_empty()),
            with(&|b| !b.message_queue.is_empty()),
            with(&|b| !b.indexed_body.is_empty()),
        );
        assert!(blocks.iter().all(|b| b.justifications.is_none()));
        assert!(blocks.iter().all(|b| b.body_matches_header(StateVersion::V0) == Some(true)));
        total_blocks += blocks.len();
    }
    assert_eq!(total_blocks, 266);
}

#[test]
fn fixture_messages_answer_their_requests() {
    let fixtures = westend_blocks();
    let responses = westend_responses();
    let attrs = BlockAttributes::HEADER | BlockAttributes::BODY | BlockAttributes::JUSTIFICATION;
    for (key, first, direction, count) in MESSAGES {
        let blocks = decode_block_response(&responses[key]).unwrap();
        let by_number = BlockRequest::new(attrs, StartBlock::Number(first), direction, count as u32);
        let first_hash = H256(hash_of(&fixtures[first as usize - 1]));
        let by_hash = BlockRequest::new(attrs, StartBlock::Hash(first_hash), direction, 0);
        validate_response(&by_number, &blocks).unwrap();
        validate_response(&by_hash, &blocks).unwrap();

        // Wrong direction, wrong start, too small a limit.
        let other = if direction == Direction::Ascending { Direction::Descending } else { Direction::Ascending };
        let reversed = BlockRequest::new(attrs, StartBlock::Number(first), other, 0);
        assert_eq!(
            validate_response(&reversed, &blocks),
            Err(ProtocolError::NotAChain {
                index: 1,
                direction: if other == Direction::Ascending { "ascending" } else { "descending" }
            })
        );
        let wrong_start = BlockRequest::new(attrs, StartBlock::Number(first + 1), direction, 0);
        assert_eq!(
            validate_response(&wrong_start, &blocks),
            Err(ProtocolError::WrongStartNumber { expected: first + 1, got: first })
        );
        let limited = BlockRequest::new(attrs, StartBlock::Number(first), direction, count as u32 - 1);
        assert_eq!(validate_response(&limited, &blocks), Err(ProtocolError::TooManyBlocks { count, max: count - 1 }));

        // A hole in the chain.
        let mut holed = blocks.clone();
        holed.remove(count / 2);
        assert_eq!(
            validate_response(&by_number, &holed),
            Err(ProtocolError::NotAChain {
                index: count / 2,
                direction: if direction == Direction::Ascending { "ascending" } else { "descending" }
            })
        );

        // Headers requested but one missing.
        let mut headless = blocks.clone();
        headless[3].header = None;
        assert_eq!(validate_response(&by_number, &headless), Err(ProtocolError::MissingHeader { index: 3 }));
        // Without headers requested, only the first hash and the count can be checked.
        let bodies_only = BlockRequest::new(BlockAttributes::BODY, StartBlock::Hash(first_hash), direction, 0);
        let no_headers: Vec<ResponseBlock> =
            blocks.iter().cloned().map(|b| ResponseBlock { header: None, ..b }).collect();
        validate_response(&bodies_only, &no_headers).unwrap();
    }
    // An empty answer is not a protocol violation.
    let request = BlockRequest::new(BlockAttributes::HEADER, StartBlock::Number(7), Direction::Ascending, 1);
    validate_response(&request, &[]).unwrap();
}

#[test]
fn every_prefix_is_an_error_or_a_whole_number_of_blocks() {
    let responses = westend_responses();
    let bytes = &responses["blocks_1_to_10"];
    let full = decode_block_response(bytes).unwrap();
    // Offsets where a top-level `blocks` entry ends.
    let message = decode_block_response_message(bytes).unwrap();
    let mut boundaries = vec![0usize];
    for block in &message.blocks {
        let len = block.encoded_len();
        boundaries.push(boundaries.last().unwrap() + 1 + prost_varint_len(len) + len);
    }
    assert_eq!(*boundaries.last().unwrap(), bytes.len());

    let (mut errors, mut whole) = (0, 0);
    for cut in 0..bytes.len() {
        match decode_block_response(&bytes[..cut]) {
            Ok(blocks) => {
                let k = boundaries.iter().position(|&b| b == cut).unwrap_or_else(|| panic!("prefix {cut} decoded"));
                assert_eq!(blocks, full[..k]);
                whole += 1;
            }
            Err(_) => errors += 1,
        }
    }
    println!("prefixes of a {}-byte response: {errors} rejected, {whole} at block boundaries decode", bytes.len());
    assert_eq!(whole, 10);
    assert_eq!(errors, bytes.len() - 10);
}

fn prost_varint_len(mut v: usize) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

#[test]
fn bit_flips_are_caught_by_decoding_or_by_the_extrinsics_root() {
    let responses = westend_responses();
    let bytes = &responses["blocks_1_to_10"];
    let full = decode_block_response(bytes).unwrap();
    let (mut rejected, mut accepted) = (0, 0);
    for pos in 0..bytes.len() {
        for bit in [0u8, 3, 7] {
            let mut flipped = bytes.clone();
            flipped[pos] ^= 1 << bit;
            match decode_block_response(&flipped) {
                Err(_) => rejected += 1,
                Ok(blocks) => {
                    // Hashes and headers are bound together, so a flip that goes through
                    // can only have changed a body (not covered by the hash without the
                    // extrinsics root check) or turned a field into an unknown one.
                    assert_eq!(blocks.len(), full.len(), "flip at {pos}:{bit}");
                    for (b, f) in blocks.iter().zip(&full) {
                        assert_eq!(b.hash, f.hash, "flip at {pos}:{bit}");
                        if let Some(h) = &b.header {
                            assert_eq!(Some(h), f.header.as_ref(), "flip at {pos}:{bit}");
                        }
                    }
                    // ... and the extrinsics root catches the changed body (or the flip
                    // turned the header into an unknown field, leaving no header).
                    assert!(
                        blocks.iter().any(|b| b.body_matches_header(StateVersion::V0) != Some(true)),
                        "flip at {pos}:{bit} went unnoticed"
                    );
                    accepted += 1;
                }
            }
        }
    }
    println!(
        "bit flips in a {}-byte response: {rejected} rejected, {accepted} decoded but fail the extrinsics-root check",
        bytes.len()
    );
    assert!(rejected > accepted);
}

#[test]
fn garbage_is_rejected_without_panicking() {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let (mut rejected, mut accepted) = (0, 0);
    for round in 0..20_000 {
        let len = (next() % 200) as usize + round % 3;
        let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        match decode_block_response(&data) {
            Err(_) => rejected += 1,
            Ok(blocks) => {
                // Random bytes can be a valid protobuf of unknown fields only.
                assert!(blocks.is_empty(), "{}", hex::encode(&data));
                accepted += 1;
            }
        }
        let _ = weft_network_protocol::sync::decode_block_request(&data);
        let _ = weft_network_protocol::state::decode_state_response(&data);
        let _ = weft_network_protocol::light::decode_light_request(&data);
        let _ = weft_network_protocol::light::decode_light_response(&data);
        let _ = weft_network_protocol::announce::decode_block_announce(&data);
        let _ = weft_network_protocol::announce::decode_handshake(&data);
        let _ = weft_network_protocol::announce::decode_transactions(&data);
    }
    println!("random inputs: {rejected} rejected, {accepted} decoded as messages without blocks");
    // A protobuf length prefix claiming far more than there is.
    let claim = [0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f];
    assert!(matches!(decode_block_response(&claim), Err(ProtocolError::Protobuf { .. })));
}

#[test]
fn tampered_header_is_rejected_with_its_index() {
    let responses = westend_responses();
    let mut message = decode_block_response_message(&responses["blocks_1_to_10"]).unwrap();
    // Change the state root of block 4's header (offset 32 + compact number + 1).
    message.blocks[4].header[40] ^= 1;
    let bytes = encode_block_response(&message);
    match decode_block_response(&bytes) {
        Err(ProtocolError::HashMismatch { index: 4, stated, computed }) => {
            assert_ne!(stated, computed);
            println!("{}", decode_block_response(&bytes).unwrap_err());
        }
        other => panic!("{other:?}"),
    }

    // A stated hash of the wrong length, an undecodable header, extrinsic, justifications.
    let original = decode_block_response_message(&responses["blocks_1_to_10"]).unwrap();
    let mut m = original.clone();
    m.blocks[2].hash.pop();
    assert_eq!(response_blocks(&m), Err(ProtocolError::BlockHashLength { index: 2, len: 31 }));
    let mut m = original.clone();
    m.blocks[5].header.truncate(50);
    assert!(matches!(response_blocks(&m), Err(ProtocolError::BlockHeader { index: 5, .. })));
    let mut m = original.clone();
    m.blocks[6].body[1].push(0);
    assert!(matches!(response_blocks(&m), Err(ProtocolError::BlockExtrinsic { index: 6, extrinsic: 1, .. })));
    let mut m = original.clone();
    m.blocks[7].justifications = vec![4, b'F', b'R'];
    assert!(matches!(response_blocks(&m), Err(ProtocolError::BlockJustifications { index: 7, .. })));

    // The legacy single justification maps to a GRANDPA entry, empty ones included.
    let mut m = original;
    m.blocks[0].justification = vec![1, 2, 3];
    m.blocks[1].is_empty_justification = true;
    let blocks = response_blocks(&m).unwrap();
    assert_eq!(blocks[0].justifications.as_ref().unwrap().grandpa(), Some(&[1u8, 2, 3][..]));
    assert_eq!(blocks[1].justifications.as_ref().unwrap().grandpa(), Some(&[][..]));
    assert!(blocks[1].to_block_data(false).is_empty_justification);
    assert_eq!(blocks[0].to_block_data(false).justification, vec![1, 2, 3]);
    let multi = blocks[0].to_block_data(true);
    assert_eq!(multi.justifications, vec![4, b'F', b'R', b'N', b'K', 12, 1, 2, 3]);
    assert!(multi.justification.is_empty());
}

#[test]
fn floods_of_tiny_entries_are_refused_before_decoding() {
    // 4097 empty `BlockData` entries: 8 KiB on the wire, about 1 MiB of structs.
    let flood = [0x0a, 0x00].repeat(MAX_DECODED_BLOCKS + 1);
    assert_eq!(
        decode_block_response_message(&flood),
        Err(ProtocolError::TooManyEntries { what: "block response", max: MAX_DECODED_BLOCKS })
    );
    assert_eq!(decode_block_response_message(&flood[2..]).unwrap().blocks.len(), MAX_DECODED_BLOCKS);
    // One block with 2^20 + 1 empty body entries, and the refusal comes even though the
    // message is malformed further on.
    let mut inner = [0x1a, 0x00].repeat(MAX_DECODED_EXTRINSICS + 1);
    inner.extend_from_slice(&[0xff]);
    let mut message = vec![0x0a];
    let mut len = inner.len();
    while len >= 0x80 {
        message.push(len as u8 | 0x80);
        len >>= 7;
    }
    message.push(len as u8);
    message.extend_from_slice(&inner);
    assert_eq!(
        decode_block_response_message(&message),
        Err(ProtocolError::TooManyEntries { what: "block response", max: MAX_DECODED_EXTRINSICS })
    );
}

#[test]
fn oversized_response_is_refused_before_decoding() {
    let huge = vec![0u8; MAX_BLOCK_RESPONSE_BYTES + 1];
    assert_eq!(
        decode_block_response(&huge),
        Err(ProtocolError::TooLarge {
            what: "block response",
            len: MAX_BLOCK_RESPONSE_BYTES + 1,
            max: MAX_BLOCK_RESPONSE_BYTES
        })
    );
}

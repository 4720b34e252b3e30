//! Malformed inputs are rejected with messages that name the problem.

use parity_scale_codec::Encode;
use weft_block::babe::decode_pre_digest;
use weft_block::{
    decode_block, decode_digest_item, decode_header, decode_justification, DecodeError, Digest, DigestItem, Header,
    BABE_ENGINE_ID, H256,
};

fn small_header() -> Header {
    Header {
        parent_hash: H256([1; 32]),
        number: 7,
        state_root: H256([2; 32]),
        extrinsics_root: H256([3; 32]),
        digest: Digest::new(vec![
            DigestItem::PreRuntime(BABE_ENGINE_ID, vec![2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0]),
            DigestItem::Seal(BABE_ENGINE_ID, vec![9; 64]),
        ]),
    }
}

#[test]
fn trailing_bytes_after_header() {
    let mut bytes = small_header().encode();
    bytes.extend_from_slice(&[0xde, 0xad, 0xbe]);
    let err = decode_header(&bytes).unwrap_err();
    assert_eq!(err, DecodeError::TrailingBytes { what: "header", count: 3 });
    assert_eq!(err.to_string(), "3 trailing bytes after header");
}

#[test]
fn truncated_header() {
    let bytes = small_header().encode();
    // Every strict prefix is rejected as truncated (none is itself a valid header,
    // because the digest's item count promises more).
    for len in 0..bytes.len() {
        let err = decode_header(&bytes[..len]).unwrap_err();
        assert_eq!(err, DecodeError::Truncated { what: "header", len }, "prefix of {len} bytes");
    }
    let err = decode_header(&bytes[..40]).unwrap_err();
    assert_eq!(err.to_string(), "truncated header: input ended after 40 bytes while more data was expected");
}

#[test]
fn unknown_digest_item_index() {
    let header = small_header();
    let mut bytes = header.encode();
    // parent (32) + compact 7 (1) + roots (64) + item count (1): first item index at 98.
    assert_eq!(bytes[98], 6);
    bytes[98] = 7; // the retired ChangesTrieSignal index
    let err = decode_header(&bytes).unwrap_err();
    assert_eq!(err, DecodeError::UnknownDigestItem { what: "header", index: 7, offset: 98 });
    assert_eq!(err.to_string(), "unknown digest item index 7 at byte 98 of header");

    for index in [1u8, 2, 3, 7, 9, 0xff] {
        let err = decode_digest_item(&[index, 0, 0, 0, 0, 0]).unwrap_err();
        assert_eq!(err, DecodeError::UnknownDigestItem { what: "digest item", index, offset: 0 });
    }
}

#[test]
fn unknown_digest_index_inside_justification_ancestry() {
    // A justification whose vote-ancestry header carries a bad digest item.
    let mut header = small_header().encode();
    header[98] = 3;
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&1u64.to_le_bytes()); // round
    bytes.extend_from_slice(&[0; 32]); // target hash
    bytes.extend_from_slice(&1u32.to_le_bytes()); // target number
    bytes.push(0); // no precommits
    bytes.push(4); // one ancestry header
    let offset = bytes.len() + 98;
    bytes.extend_from_slice(&header);
    let err = decode_justification(&bytes).unwrap_err();
    assert_eq!(err, DecodeError::UnknownDigestItem { what: "GRANDPA justification", index: 3, offset });
}

#[test]
fn non_canonical_number_is_invalid() {
    let mut bytes = small_header().encode();
    // Replace compact(7) = [0x1c] with the two-byte form [0x1d, 0x00].
    bytes.splice(32..33, [0x1d, 0x00]);
    match decode_header(&bytes).unwrap_err() {
        DecodeError::Invalid { what: "header", offset, reason } => {
            assert_eq!(offset, 34);
            assert!(reason.contains("Header::number"), "{reason}");
            assert!(reason.contains("out of range"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn oversized_input_rejected_up_front() {
    let big = vec![0u8; weft_block::DecodeLimits::HEADER.max_input_len + 1];
    let err = decode_header(&big).unwrap_err();
    assert!(matches!(err, DecodeError::InputTooLarge { what: "header", .. }), "{err}");
}

#[test]
fn lying_lengths_do_not_allocate() {
    // A header claiming 2^30 digest items, and a block claiming 2^30 extrinsics of
    // 2^30 bytes each, with nothing behind the claims.
    let mut bytes = small_header().encode();
    bytes.truncate(97);
    bytes.extend_from_slice(&parity_scale_codec::Compact(1u32 << 30).encode());
    assert_eq!(decode_header(&bytes).unwrap_err(), DecodeError::Truncated { what: "header", len: bytes.len() });

    let mut block = small_header().encode();
    block.extend_from_slice(&parity_scale_codec::Compact(1u32 << 30).encode());
    block.extend_from_slice(&parity_scale_codec::Compact(1u32 << 30).encode());
    assert!(matches!(decode_block(&block).unwrap_err(), DecodeError::Truncated { what: "block", .. }));

    // Many tiny items that would each cost far more memory than input: the heap
    // limit applies, not just the input limit.
    let limits = weft_block::DecodeLimits { max_input_len: 1 << 20, max_depth: 8, max_heap: 1 << 20 };
    let n = 200_000u32;
    let mut digest = parity_scale_codec::Compact(n).encode();
    digest.extend(vec![8u8; n as usize]); // RuntimeEnvironmentUpdated
    let err = weft_block::decode_exact::<Digest>("digest", &digest, &limits).unwrap_err();
    assert_eq!(err, DecodeError::HeapLimit { what: "digest", max: 1 << 20 });
}

#[test]
fn pre_digest_errors() {
    assert_eq!(
        decode_pre_digest(&[]).unwrap_err().to_string(),
        "truncated BABE pre-digest: input ended after 0 bytes while more data was expected"
    );
    match decode_pre_digest(&[4, 0, 0, 0, 0]).unwrap_err() {
        DecodeError::Invalid { what: "BABE pre-digest", offset: 1, reason } => {
            assert!(reason.contains("PreDigest"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

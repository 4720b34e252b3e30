//! Answering `sync/2` block requests from the chain store, as Substrate's block request
//! handler does:
//!
//! * the start block is found by hash (any stored block) or by number (the canonical
//!   block); an unknown start gives an empty response;
//! * ascending, each next block is the canonical block of the next number, and the walk
//!   stops where that block is not a child of the previous one (a start block off the
//!   canonical chain); descending, each next block is the previous one's parent, down to
//!   the genesis;
//! * at most `min(max_blocks, 128)` blocks (`max_blocks` 0 meaning 128);
//! * each block carries its hash, and the header, body and justifications the request's
//!   attribute bits ask for (the SCALE `Justifications` list for requesters that support
//!   several, otherwise the GRANDPA justification alone);
//! * the encoded response stays within 16 MiB: blocks stop being added before the one
//!   that would cross it.

use weft_block::{BlockNumber, H256};
use weft_chain_store::{ChainStore, StoreError};
use weft_network_protocol::prost::Message;
use weft_network_protocol::sync::{
    BlockAttributes, BlockData, BlockRequest, BlockResponse, Direction, ResponseBlock, StartBlock,
    MAX_BLOCKS_IN_RESPONSE, MAX_BLOCK_RESPONSE_BYTES,
};
use weft_network_protocol::ProtocolError;

/// Most blocks put in one response (Substrate's `MAX_BLOCKS_IN_RESPONSE`).
pub const MAX_BLOCKS_PER_RESPONSE: u32 = MAX_BLOCKS_IN_RESPONSE;

/// Why a block request could not be served. A request that asks for blocks the store
/// does not have is not an error: it gets an empty (or shorter) response.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The request's start block, direction or attributes are invalid.
    #[error("invalid block request: {0}")]
    BadRequest(#[from] ProtocolError),
    /// The store failed; nothing should be sent (an empty response would wrongly say
    /// that we do not have the blocks).
    #[error("chain store: {0}")]
    Store(#[from] StoreError),
}

/// Bytes that one `BlockData` adds to an encoded `BlockResponse`: the field key (1 byte
/// for field 1), the length prefix and the message.
fn block_entry_len(data: &BlockData) -> usize {
    let len = data.encoded_len();
    1 + varint_len(len as u64) + len
}

fn varint_len(value: u64) -> usize {
    // 7 bits per byte, at least one byte.
    (64 - value.max(1).leading_zeros() as usize).div_ceil(7)
}

/// Serves a block request from `store` (see the module documentation).
pub fn serve_block_request(store: &ChainStore, request: &BlockRequest) -> Result<BlockResponse, ServeError> {
    serve_with_limit(store, request, MAX_BLOCK_RESPONSE_BYTES)
}

/// [`serve_block_request`] with another response size limit (for tests).
pub(crate) fn serve_with_limit(
    store: &ChainStore,
    request: &BlockRequest,
    max_bytes: usize,
) -> Result<BlockResponse, ServeError> {
    let attributes = request.attributes()?;
    let direction = request.checked_direction()?;
    let max_blocks = request.response_limit().min(MAX_BLOCKS_PER_RESPONSE) as usize;

    let mut next = match request.start()? {
        StartBlock::Hash(hash) => Some(hash),
        StartBlock::Number(number) => store.canonical_hash(number)?,
    };
    let mut blocks = Vec::new();
    let mut total = 0usize;
    while let Some(hash) = next.take() {
        let Some(header) = store.header(&hash)? else { break };
        let number: BlockNumber = header.number;
        let parent = header.parent_hash;

        let block = ResponseBlock {
            hash: hash.0,
            header: attributes.contains(BlockAttributes::HEADER).then(|| header.clone()),
            body: if attributes.contains(BlockAttributes::BODY) { store.body(&hash)? } else { None },
            justifications: if attributes.contains(BlockAttributes::JUSTIFICATION) {
                store.justifications(&hash)?
            } else {
                None
            },
        };
        let data = block.to_block_data(request.support_multiple_justifications);
        let entry = block_entry_len(&data);
        if total + entry > max_bytes {
            if blocks.is_empty() {
                tracing::warn!(%hash, number, bytes = entry, "block too large to be served in a response");
            }
            break;
        }
        total += entry;
        blocks.push(data);
        if blocks.len() >= max_blocks {
            break;
        }

        next = match direction {
            Direction::Ascending => match number.checked_add(1) {
                Some(child_number) => match store.canonical_hash(child_number)? {
                    // Only a child of this block continues the chain.
                    Some(child) if is_child(store, &child, &hash)? => Some(child),
                    _ => None,
                },
                None => None,
            },
            Direction::Descending if number == 0 => None,
            Direction::Descending => Some(parent),
        };
    }
    Ok(BlockResponse { blocks })
}

fn is_child(store: &ChainStore, child: &H256, parent: &H256) -> Result<bool, StoreError> {
    Ok(store.block_info(child)?.is_some_and(|info| info.parent == *parent))
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_block::{Digest, DigestItem, Header, Justifications, OpaqueExtrinsic, GRANDPA_ENGINE_ID};
    use weft_chain_store::{BlockCommit, StoreConfig};
    use weft_network_protocol::sync::{
        decode_block_response, encode_block_response, validate_response, BlockAttributes as A,
    };
    use weft_runtime_executor::StorageChanges;
    use weft_trie::{StateVersion, EMPTY_TRIE_ROOT};

    const HEADER_ONLY: A = A::HEADER;

    fn attrs() -> A {
        A::HEADER | A::BODY | A::JUSTIFICATION
    }

    /// A store with a synthetic chain #0..=#n (empty state throughout), block i having i
    /// extrinsics of `extrinsic_len` bytes and, for even i > 0, a GRANDPA justification;
    /// plus a fork block #2' on #1 that is not canonical.
    fn chain(dir: &std::path::Path, n: u32, extrinsic_len: usize) -> (ChainStore, Vec<H256>, H256) {
        let store = ChainStore::open(&dir.join("db"), StoreConfig::default()).unwrap();
        let genesis = Header {
            parent_hash: H256([0; 32]),
            number: 0,
            state_root: H256(EMPTY_TRIE_ROOT),
            extrinsics_root: H256([0; 32]),
            digest: Digest::default(),
        };
        let genesis_hash =
            store.initialize_genesis(&genesis, &Default::default(), &Default::default(), StateVersion::V0).unwrap();
        let mut hashes = vec![genesis_hash];
        let changes = StorageChanges::default();
        let mut fork = H256([0; 32]);
        for i in 1..=n {
            let header = Header {
                parent_hash: hashes[i as usize - 1],
                number: i,
                state_root: H256(EMPTY_TRIE_ROOT),
                extrinsics_root: H256([i as u8; 32]),
                digest: Digest::new(vec![DigestItem::Other(vec![i as u8])]),
            };
            let body: Vec<OpaqueExtrinsic> =
                (0..i).map(|x| OpaqueExtrinsic(vec![x as u8; extrinsic_len.max(1)])).collect();
            let justifications =
                (i % 2 == 0).then(|| Justifications::new(GRANDPA_ENGINE_ID, format!("just{i}").into_bytes()));
            let outcome = store
                .commit_block(BlockCommit {
                    header: &header,
                    body: Some(&body),
                    justifications: justifications.as_ref(),
                    changes: &changes,
                    state_version: StateVersion::V0,
                    chain_weight: u64::from(i),
                    set_best: true,
                    aux: Vec::new(),
                })
                .unwrap();
            hashes.push(outcome.hash);
            if i == 1 {
                let fork_header =
                    Header { extrinsics_root: H256([0xff; 32]), number: 2, parent_hash: outcome.hash, ..header };
                fork = store
                    .commit_block(BlockCommit {
                        header: &fork_header,
                        body: Some(&[]),
                        justifications: None,
                        changes: &changes,
                        state_version: StateVersion::V0,
                        chain_weight: 0,
                        set_best: false,
                        aux: Vec::new(),
                    })
                    .unwrap()
                    .hash;
            }
        }
        (store, hashes, fork)
    }

    /// The encoded size of a response, as [`serve_block_request`] counts it.
    fn response_len(response: &BlockResponse) -> usize {
        response.blocks.iter().map(block_entry_len).sum()
    }

    fn serve(store: &ChainStore, request: &BlockRequest) -> Vec<ResponseBlock> {
        let response = serve_block_request(store, request).unwrap();
        // What goes on the wire decodes and validates as the client does it.
        let blocks = decode_block_response(&encode_block_response(&response)).unwrap();
        validate_response(request, &blocks).unwrap();
        assert_eq!(response_len(&response), encode_block_response(&response).len());
        blocks
    }

    fn numbers(blocks: &[ResponseBlock]) -> Vec<u32> {
        blocks.iter().map(|b| b.number().unwrap()).collect()
    }

    #[test]
    fn ascending_and_descending_by_number_and_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (store, hashes, _) = chain(dir.path(), 10, 4);

        let asc = serve(&store, &BlockRequest::new(attrs(), StartBlock::Number(3), Direction::Ascending, 4));
        assert_eq!(numbers(&asc), [3, 4, 5, 6]);
        assert_eq!(asc[0].hash, hashes[3].0);
        assert_eq!(asc[1].extrinsics().len(), 4);
        assert_eq!(asc[0].justifications, None);
        assert_eq!(asc[1].justifications, Some(Justifications::new(GRANDPA_ENGINE_ID, b"just4".to_vec())));

        let by_hash = serve(&store, &BlockRequest::new(attrs(), StartBlock::Hash(hashes[8]), Direction::Ascending, 0));
        assert_eq!(numbers(&by_hash), [8, 9, 10]);

        let desc =
            serve(&store, &BlockRequest::new(HEADER_ONLY, StartBlock::Hash(hashes[4]), Direction::Descending, 100));
        assert_eq!(numbers(&desc), [4, 3, 2, 1, 0]);
        assert!(desc.iter().all(|b| b.body.is_none() && b.justifications.is_none()));

        let desc_num = serve(&store, &BlockRequest::new(HEADER_ONLY, StartBlock::Number(10), Direction::Descending, 2));
        assert_eq!(numbers(&desc_num), [10, 9]);
    }

    #[test]
    fn unknown_start_and_fork_start() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _, fork) = chain(dir.path(), 5, 1);
        let unknown = BlockRequest::new(attrs(), StartBlock::Hash(H256([7; 32])), Direction::Ascending, 0);
        assert!(serve(&store, &unknown).is_empty());
        let past_best = BlockRequest::new(attrs(), StartBlock::Number(6), Direction::Ascending, 0);
        assert!(serve(&store, &past_best).is_empty());
        // Ascending from a fork block: the canonical #3 is not its child, so only the fork
        // block is sent (Substrate would append the canonical #3, breaking the chain).
        let from_fork = serve(&store, &BlockRequest::new(attrs(), StartBlock::Hash(fork), Direction::Ascending, 0));
        assert_eq!(from_fork.len(), 1);
        assert_eq!(from_fork[0].hash, fork.0);
        // Descending from it follows its own ancestry.
        let down = serve(&store, &BlockRequest::new(HEADER_ONLY, StartBlock::Hash(fork), Direction::Descending, 0));
        assert_eq!(numbers(&down), [2, 1, 0]);
    }

    #[test]
    fn at_most_128_blocks() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _, _) = chain(dir.path(), 140, 1);
        for max in [0, 128, 129, 1000] {
            let request = BlockRequest::new(A::HEADER, StartBlock::Number(1), Direction::Ascending, max);
            let response = serve_block_request(&store, &request).unwrap();
            assert_eq!(response.blocks.len(), 128, "max_blocks {max}");
        }
    }

    #[test]
    fn legacy_justification_field() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _, _) = chain(dir.path(), 2, 1);
        let mut request = BlockRequest::new(A::JUSTIFICATION, StartBlock::Number(2), Direction::Ascending, 1);
        request.support_multiple_justifications = false;
        let response = serve_block_request(&store, &request).unwrap();
        assert_eq!(response.blocks[0].justification, b"just2");
        assert!(response.blocks[0].justifications.is_empty());
        assert!(response.blocks[0].header.is_empty());
    }

    #[test]
    fn size_limit() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _, _) = chain(dir.path(), 20, 1000);
        let request = BlockRequest::new(attrs(), StartBlock::Number(1), Direction::Ascending, 0);
        let full = serve_block_request(&store, &request).unwrap();
        assert_eq!(full.blocks.len(), 20);
        let sizes: Vec<usize> = full.blocks.iter().map(block_entry_len).collect();
        // A limit that fits exactly the first five blocks.
        let limit = sizes[..5].iter().sum::<usize>();
        let cut = serve_with_limit(&store, &request, limit).unwrap();
        assert_eq!(cut.blocks.len(), 5);
        assert_eq!(encode_block_response(&cut).len(), limit);
        let cut = serve_with_limit(&store, &request, limit - 1).unwrap();
        assert_eq!(cut.blocks.len(), 4);
        // A first block that does not fit at all gives an empty response.
        assert!(serve_with_limit(&store, &request, 10).unwrap().blocks.is_empty());
    }

    #[test]
    fn bad_requests() {
        let dir = tempfile::tempdir().unwrap();
        let (store, _, _) = chain(dir.path(), 1, 1);
        let mut request = BlockRequest::new(attrs(), StartBlock::Number(0), Direction::Ascending, 0);
        request.direction = 7;
        assert!(matches!(serve_block_request(&store, &request), Err(ServeError::BadRequest(_))));
        request.direction = 0;
        request.from_block = None;
        assert!(matches!(serve_block_request(&store, &request), Err(ServeError::BadRequest(_))));
    }

    #[test]
    fn varint_lengths() {
        for v in [0u64, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut out = Vec::new();
            crate::codec::encode_varint(v, &mut out);
            assert_eq!(varint_len(v), out.len(), "{v}");
        }
    }
}

//! A simple full-sync driver: download the chain after our best block from one peer and
//! import every block (verification, execution, state-root check, commit).
//!
//! [`sync_from`] requests ascending blocks with `HEADER | BODY | JUSTIFICATION`, 128 at a
//! time, starting at the number after our best block, until the peer answers with no
//! block. A request that fails on the way (timeout, closed connection, ...) is retried
//! up to [`MAX_RETRIES`] times; a response that does not decode or does not answer the
//! request fails at once (the host reports the peer), and so does a block the importer
//! rejects (reported here).
//!
//! This driver assumes that the peer's chain extends our best block: it does not search
//! for a common ancestor, so a peer on another fork ends the sync with
//! [`SyncError::Discontinuity`] (not a misbehaviour). Imports run on the calling task
//! (inside `block_in_place` on a multi-threaded runtime, so the swarm task keeps
//! running).

use std::time::{Duration, Instant};

use libp2p::PeerId;
use weft_block::{Block, BlockNumber, Justifications, H256};
use weft_block_import::{ImportError, ImportOutcome, Importer};
use weft_chain_store::StoreError;
use weft_network_protocol::sync::{BlockAttributes, BlockRequest, Direction, ResponseBlock, StartBlock};

use crate::{NetworkError, NetworkHost, PeerReport};

/// Blocks asked for per request.
pub const BATCH_SIZE: u32 = 128;
/// How many times a failed request is tried again.
pub const MAX_RETRIES: u32 = 3;
/// Wait before the first retry; doubled for each further one.
pub const RETRY_DELAY: Duration = Duration::from_millis(500);

/// Why a sync stopped.
#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    /// A request failed (after retries if it was worth retrying).
    #[error("requesting blocks from #{from} from {peer} ({attempts} attempts): {source}")]
    Request {
        /// The peer.
        peer: PeerId,
        /// The first block requested.
        from: BlockNumber,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        source: NetworkError,
    },
    /// The peer sent a block that the importer rejected; the peer was reported.
    #[error("peer {peer} sent an invalid block: {source}")]
    Rejected {
        /// The peer.
        peer: PeerId,
        /// The block number.
        number: BlockNumber,
        /// The block hash.
        hash: H256,
        /// The importer's verdict.
        source: ImportError,
    },
    /// The peer's blocks do not continue our chain (it is on another fork, or reorged).
    #[error("block #{number} from {peer} has parent {parent}, but our block #{} is {ours}", number.saturating_sub(1))]
    Discontinuity {
        /// The peer.
        peer: PeerId,
        /// Number of its first block.
        number: BlockNumber,
        /// That block's parent.
        parent: H256,
        /// Our block at the parent's height.
        ours: H256,
    },
    /// A block came without its header although headers were requested (cannot pass
    /// response validation; kept so that no network data is unwrapped).
    #[error("block {hash} from {peer} has no header")]
    MissingHeader {
        /// The peer.
        peer: PeerId,
        /// The stated hash.
        hash: H256,
    },
    /// Our own store or importer failed.
    #[error("import: {0}")]
    Import(ImportError),
    /// Our own store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a sync did.
#[derive(Debug, Clone, PartialEq)]
pub struct SyncReport {
    /// The peer synced from.
    pub peer: PeerId,
    /// Our best block number when the sync started.
    pub start_number: BlockNumber,
    /// Blocks imported.
    pub imported: u32,
    /// Blocks received that we already had.
    pub already_known: u32,
    /// Our best block at the end.
    pub best_number: BlockNumber,
    /// Its hash.
    pub best_hash: H256,
    /// Our finalized block number at the end.
    pub finalized_number: BlockNumber,
    /// Requests that got a response.
    pub requests: u32,
    /// Requests retried.
    pub retries: u32,
    /// Bytes of block responses received.
    pub bytes_received: u64,
    /// Total time.
    pub elapsed: Duration,
    /// Time spent importing.
    pub import_time: Duration,
    /// Time spent waiting for responses.
    pub network_time: Duration,
}

impl SyncReport {
    /// Blocks imported per second of total time.
    pub fn blocks_per_second(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs > 0.0 {
            f64::from(self.imported) / secs
        } else {
            0.0
        }
    }
}

/// The request for `BATCH_SIZE` blocks from `from` up.
pub fn batch_request(from: BlockNumber) -> BlockRequest {
    BlockRequest::new(
        BlockAttributes::HEADER | BlockAttributes::BODY | BlockAttributes::JUSTIFICATION,
        StartBlock::Number(from),
        Direction::Ascending,
        BATCH_SIZE,
    )
}

/// Syncs from `peer` (see the module documentation).
pub async fn sync_from(host: &NetworkHost, peer: PeerId, importer: &mut Importer) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    let (start_number, start_hash) = importer.store().best()?;
    let mut report = SyncReport {
        peer,
        start_number,
        imported: 0,
        already_known: 0,
        best_number: start_number,
        best_hash: start_hash,
        finalized_number: 0,
        requests: 0,
        retries: 0,
        bytes_received: 0,
        elapsed: Duration::ZERO,
        import_time: Duration::ZERO,
        network_time: Duration::ZERO,
    };
    tracing::info!(%peer, "syncing from #{start_number} {start_hash}");
    let (mut last_number, mut last_hash) = (start_number, start_hash);
    while let Some(from) = last_number.checked_add(1) {
        let waited = Instant::now();
        let (blocks, bytes) = fetch(host, peer, from, &mut report).await?;
        report.network_time += waited.elapsed();
        report.bytes_received += bytes as u64;
        if blocks.is_empty() {
            break;
        }
        for block in blocks {
            let ResponseBlock { hash, header, body, justifications } = block;
            let hash = H256(hash);
            let header = header.ok_or(SyncError::MissingHeader { peer, hash })?;
            if header.parent_hash != last_hash {
                return Err(SyncError::Discontinuity {
                    peer,
                    number: header.number,
                    parent: header.parent_hash,
                    ours: last_hash,
                });
            }
            let number = header.number;
            let block = Block { header, extrinsics: body.unwrap_or_default() };
            let importing = Instant::now();
            let outcome = import(importer, &block, justifications.as_ref());
            report.import_time += importing.elapsed();
            match outcome {
                Ok(outcome) if outcome.already_known => report.already_known += 1,
                Ok(_) => report.imported += 1,
                Err(source @ ImportError::Rejected { .. }) => {
                    host.report_peer(peer, PeerReport::fatal(format!("sent block #{number} {hash}: {source}")));
                    return Err(SyncError::Rejected { peer, number, hash, source });
                }
                Err(e) => return Err(SyncError::Import(e)),
            }
            (last_number, last_hash) = (number, hash);
        }
        tracing::info!(%peer, "synced to #{last_number} {last_hash}");
    }
    let store = importer.store();
    (report.best_number, report.best_hash) = store.best()?;
    report.finalized_number = store.finalized()?.0;
    report.elapsed = started.elapsed();
    Ok(report)
}

/// One batch, retrying transient failures.
async fn fetch(
    host: &NetworkHost,
    peer: PeerId,
    from: BlockNumber,
    report: &mut SyncReport,
) -> Result<(Vec<ResponseBlock>, usize), SyncError> {
    let request = batch_request(from);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match host.request_blocks_counted(peer, &request).await {
            Ok(response) => {
                report.requests += 1;
                return Ok(response);
            }
            Err(e) if e.is_transient() && attempts <= MAX_RETRIES => {
                report.retries += 1;
                let delay = RETRY_DELAY * 2u32.pow(attempts - 1);
                tracing::warn!(%peer, from, attempts, "block request failed, retrying in {delay:?}: {e}");
                tokio::time::sleep(delay).await;
            }
            Err(source) => return Err(SyncError::Request { peer, from, attempts, source }),
        }
    }
}

fn import(
    importer: &mut Importer,
    block: &Block,
    justifications: Option<&Justifications>,
) -> Result<ImportOutcome, ImportError> {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(|| importer.import_block(block, justifications))
        }
        _ => importer.import_block(block, justifications),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_requests() {
        let request = batch_request(257);
        assert_eq!(request.start().unwrap(), StartBlock::Number(257));
        assert_eq!(request.max_blocks, 128);
        assert_eq!(request.checked_direction().unwrap(), Direction::Ascending);
        let attributes = request.attributes().unwrap();
        assert!(attributes.contains(BlockAttributes::HEADER | BlockAttributes::BODY | BlockAttributes::JUSTIFICATION));
        assert!(request.support_multiple_justifications);
    }

    #[test]
    fn retry_policy() {
        let peer = PeerId::random();
        assert!(NetworkError::Timeout(peer).is_transient());
        assert!(NetworkError::ConnectionClosed(peer).is_transient());
        assert!(!NetworkError::Banned(peer).is_transient());
        let invalid = NetworkError::InvalidResponse {
            peer,
            source: Box::new(weft_network_protocol::ProtocolError::MissingFromBlock),
        };
        assert!(!invalid.is_transient() && invalid.is_misbehaviour());
    }
}

//! Full sync: the subsystem in the overseer's `sync` slot that decides which blocks to ask
//! which peer for, and hands what arrives to block import in order.
//!
//! This crate owns the *logic* of block download, as a deterministic state machine
//! ([`ChainSync`]): it reads time only from its context, keeps its peers in ordered maps,
//! and does all I/O through messages:
//! * `NetworkBridgeMessage::BlockRequest` carries an encoded `sync/2` request to a peer
//!   and brings back the raw response, which is decoded and checked here
//!   ([`validate_response`]: the blocks hash to what they claim, start where asked and
//!   chain to each other);
//! * `BlockImportMessage::ImportBlocks` imports a contiguous run of downloaded blocks,
//!   oldest first; block import verifies and executes them;
//! * `NetworkBridgeMessage::ReportPeer` reports misbehaving peers.
//!
//! Policy:
//! * peers are learnt from `SyncMessage::PeerConnected` (their block-announces handshake:
//!   best number and hash) and kept up to date by their announces;
//! * the chain above our best block is cut into ranges of [`SyncConfig::blocks_per_request`]
//!   blocks, each requested ascending from one idle peer whose best block covers it, so
//!   several peers download in parallel; at most [`SyncConfig::max_blocks_ahead`] blocks
//!   are downloaded ahead of the import point (memory stays bounded);
//! * a request that fails (timeout, closed connection, empty or short answer) puts the
//!   missing part back to be asked again, from any peer, and rests the peer for a
//!   doubling backoff; after [`SyncConfig::max_failures`] failures in a row the peer is
//!   reported and no longer asked;
//! * an invalid response (does not decode, wrong blocks, broken chain) or a block that
//!   block import rejects gets the peer reported with [`BAN_PENALTY`] (the network bridge
//!   disconnects and bans it), and its blocks are dropped and asked again elsewhere;
//! * an announced block whose parent is our best block is fetched by hash from the
//!   announcer and imported as a broadcast block; other announces raise the peer's best
//!   and so start a range download.
//!
//! Not here yet: the search for a common ancestor with a peer on another fork (a peer
//! whose blocks do not continue our chain is treated as sending a broken chain), warp
//! and state sync as sync modes (the network bridge serves and checks `sync/warp` proofs
//! and `state/2` downloads, but the node does not start from them), and downloads of
//! justifications for blocks imported without one.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::BTreeMap;
use std::time::Duration;

use parity_scale_codec::Encode;
use weft_block::{BlockNumber, GRANDPA_ENGINE_ID};
use weft_messages::{
    BlockImportMessage, BlockOrigin, Hash, Header, IncomingBlock, NetworkBridgeMessage, OverseerSignal, PeerId,
    SyncMessage, SyncSlot,
};
use weft_network_protocol::sync::{
    decode_block_response, encode_block_request, validate_response, BlockAttributes, BlockRequest, Direction,
    ResponseBlock, StartBlock,
};
use weft_overseer::{Context, Subsystem, TimerId};

/// The penalty that makes the network bridge disconnect and ban a peer.
pub const BAN_PENALTY: i32 = i32::MIN;
/// The penalty for a peer that keeps failing requests (not a ban).
pub const UNRESPONSIVE_PENALTY: i32 = -(1 << 20);

/// Tunables of [`ChainSync`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyncConfig {
    /// Blocks asked for per request (Substrate asks for 64, serves up to 128).
    pub blocks_per_request: u32,
    /// Most blocks downloaded or being downloaded beyond our best block.
    pub max_blocks_ahead: u32,
    /// Most blocks handed to block import in one message.
    pub max_blocks_per_import: usize,
    /// A request without an answer after this long counts as failed (the network bridge
    /// has its own, shorter timeout; this is the safety net).
    pub request_timeout: Duration,
    /// Rest after a peer's first failure; doubled for each further one in a row.
    pub retry_backoff: Duration,
    /// Failures in a row after which a peer is no longer asked.
    pub max_failures: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            blocks_per_request: 128,
            max_blocks_ahead: 2048,
            max_blocks_per_import: 512,
            request_timeout: Duration::from_secs(45),
            retry_backoff: Duration::from_millis(500),
            max_failures: 5,
        }
    }
}

/// What the sync has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncStats {
    /// Block requests sent.
    pub requests_sent: u64,
    /// Requests that failed or timed out.
    pub requests_failed: u64,
    /// Bytes of responses received.
    pub bytes_received: u64,
    /// Blocks downloaded (valid responses).
    pub blocks_downloaded: u64,
    /// Blocks imported (or found already known) by block import.
    pub blocks_imported: u64,
    /// Peers reported for misbehaviour.
    pub peers_reported: u64,
}

#[derive(Debug, Clone)]
struct Peer {
    best_number: BlockNumber,
    best_hash: Hash,
    /// The request in flight to this peer, if any.
    busy: Option<u64>,
    failures: u32,
    /// Not asked before this time.
    resting_until: Duration,
    /// Asked nothing more (kept to remember its best block).
    given_up: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wanted {
    /// `count` blocks ascending from `from`.
    Range { from: BlockNumber, count: u32 },
    /// One announced block.
    Announced { hash: Hash, number: BlockNumber },
}

#[derive(Debug, Clone)]
struct InFlight {
    peer: PeerId,
    wanted: Wanted,
    request: BlockRequest,
    timer: TimerId,
}

#[derive(Debug, Clone)]
struct Downloaded {
    peer: PeerId,
    blocks: Vec<(Hash, IncomingBlock)>,
}

#[derive(Debug, Clone)]
struct Importing {
    /// Which peer supplied each block, by number.
    suppliers: Vec<(BlockNumber, Hash, PeerId)>,
}

/// Events the sync schedules for itself.
#[derive(Debug)]
pub enum SyncEvent {
    /// A block request was answered (or failed).
    Response {
        /// The request.
        id: u64,
        /// The raw response or why it failed.
        result: Result<Vec<u8>, String>,
    },
    /// A request's safety-net timer fired.
    RequestTimedOut {
        /// The request.
        id: u64,
    },
    /// Block import answered.
    Imported {
        /// The hashes imported, or why import stopped.
        result: Result<Vec<Hash>, String>,
    },
    /// A resting peer may be asked again.
    Wake,
}

/// The sync state machine (see the crate documentation).
#[derive(Debug)]
pub struct ChainSync {
    config: SyncConfig,
    best: (BlockNumber, Hash),
    peers: BTreeMap<PeerId, Peer>,
    in_flight: BTreeMap<u64, InFlight>,
    next_request_id: u64,
    /// Parts of the chain to ask again: first number → count.
    retry: BTreeMap<BlockNumber, u32>,
    /// Highest block number ever handed out in a range request.
    requested_up_to: BlockNumber,
    /// Downloaded runs awaiting import, by first number.
    downloaded: BTreeMap<BlockNumber, Downloaded>,
    importing: Option<Importing>,
    wake_timer: Option<TimerId>,
    stats: SyncStats,
}

impl ChainSync {
    /// A sync starting from our best block `best` (number, hash).
    pub fn new(config: SyncConfig, best: (BlockNumber, Hash)) -> Self {
        ChainSync {
            config,
            best,
            peers: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            next_request_id: 0,
            retry: BTreeMap::new(),
            requested_up_to: best.0,
            downloaded: BTreeMap::new(),
            importing: None,
            wake_timer: None,
            stats: SyncStats::default(),
        }
    }

    /// Our best block as the sync knows it.
    pub fn best(&self) -> (BlockNumber, Hash) {
        self.best
    }

    /// The highest best block number any peer claims.
    pub fn best_seen(&self) -> BlockNumber {
        self.peers.values().map(|p| p.best_number).max().unwrap_or(0).max(self.best.0)
    }

    /// Whether the sync is behind its peers (Substrate's "major syncing" is this with a
    /// margin of a few blocks).
    pub fn is_major_syncing(&self) -> bool {
        self.best_seen() > self.best.0.saturating_add(5)
    }

    /// Counters.
    pub fn stats(&self) -> SyncStats {
        self.stats
    }

    /// Peers known to the sync.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Requests in flight.
    pub fn requests_in_flight(&self) -> usize {
        self.in_flight.len()
    }

    fn report(&mut self, peer: &PeerId, penalty: i32, reason: &'static str, ctx: &mut Context<'_, '_, Self>) {
        self.stats.peers_reported += 1;
        tracing::warn!(%peer, penalty, "reporting peer: {reason}");
        ctx.send(NetworkBridgeMessage::ReportPeer { peer: peer.clone(), penalty, reason });
    }

    /// Forgets a peer and puts its in-flight work back.
    fn drop_peer(&mut self, peer: &PeerId) {
        self.peers.remove(peer);
        let ids: Vec<u64> = self.in_flight.iter().filter(|(_, f)| &f.peer == peer).map(|(id, _)| *id).collect();
        for id in ids {
            if let Some(flight) = self.in_flight.remove(&id) {
                self.give_back(flight.wanted);
            }
        }
    }

    fn give_back(&mut self, wanted: Wanted) {
        if let Wanted::Range { from, count } = wanted {
            // Only what is still above our best block is worth asking again.
            let end = from.saturating_add(count);
            let from = from.max(self.best.0.saturating_add(1));
            if from < end {
                self.retry.insert(from, end - from);
            }
        }
    }

    /// The highest number that may be requested now.
    fn window_end(&self) -> BlockNumber {
        self.best.0.saturating_add(self.config.max_blocks_ahead)
    }

    /// Hands work to every idle peer that can take some.
    fn schedule(&mut self, ctx: &mut Context<'_, '_, Self>) {
        let now = ctx.now();
        let idle: Vec<PeerId> = self
            .peers
            .iter()
            .filter(|(_, p)| p.busy.is_none() && !p.given_up && p.resting_until <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for peer in idle {
            let Some(peer_best) = self.peers.get(&peer).map(|p| p.best_number) else { continue };
            let Some(wanted) = self.next_range_for(peer_best) else { continue };
            self.send_request(peer, wanted, ctx);
        }
        // Wake up when the first resting peer may be asked again.
        let next_wake = self
            .peers
            .values()
            .filter(|p| p.busy.is_none() && !p.given_up && p.resting_until > now)
            .map(|p| p.resting_until)
            .min();
        if let (Some(at), None) = (next_wake, self.wake_timer) {
            self.wake_timer = Some(ctx.set_timer(at.saturating_sub(now), SyncEvent::Wake));
        }
    }

    /// The next range a peer with best block `peer_best` can serve, taken out of the
    /// work lists.
    fn next_range_for(&mut self, peer_best: BlockNumber) -> Option<Wanted> {
        let window_end = self.window_end();
        // Old retries below our best are done.
        let floor = self.best.0.saturating_add(1);
        self.retry.retain(|from, count| from.saturating_add(*count) > floor);
        let retry =
            self.retry.iter().map(|(f, c)| (*f, *c)).find(|(from, _)| *from <= peer_best && *from <= window_end);
        if let Some((from, count)) = retry {
            self.retry.remove(&from);
            let from_kept = from.max(floor);
            let count = count - (from_kept - from);
            let serve = count.min(peer_best - from_kept + 1).min(self.config.blocks_per_request);
            if serve < count {
                self.retry.insert(from_kept + serve, count - serve);
            }
            return Some(Wanted::Range { from: from_kept, count: serve });
        }
        let from = self.requested_up_to.max(self.best.0).saturating_add(1);
        if from > peer_best || from > window_end {
            return None;
        }
        let last = peer_best.min(window_end).min(from.saturating_add(self.config.blocks_per_request - 1));
        self.requested_up_to = last;
        Some(Wanted::Range { from, count: last - from + 1 })
    }

    fn send_request(&mut self, peer: PeerId, wanted: Wanted, ctx: &mut Context<'_, '_, Self>) {
        let attributes = BlockAttributes::HEADER | BlockAttributes::BODY | BlockAttributes::JUSTIFICATION;
        let request = match wanted {
            Wanted::Range { from, count } => {
                BlockRequest::new(attributes, StartBlock::Number(from), Direction::Ascending, count)
            }
            Wanted::Announced { hash, .. } => {
                BlockRequest::new(attributes, StartBlock::Hash(hash), Direction::Ascending, 1)
            }
        };
        let id = self.next_request_id;
        self.next_request_id += 1;
        let bytes = encode_block_request(&request);
        let timer = ctx.set_timer(self.config.request_timeout, SyncEvent::RequestTimedOut { id });
        tracing::debug!(%peer, ?wanted, "block request");
        let to = peer.clone();
        ctx.request(
            move |reply| NetworkBridgeMessage::BlockRequest { peer: to, request: bytes, reply },
            move |result| SyncEvent::Response {
                id,
                result: result.unwrap_or_else(|_| Err("network bridge dropped the request".into())),
            },
        );
        if let Some(p) = self.peers.get_mut(&peer) {
            p.busy = Some(id);
        }
        self.stats.requests_sent += 1;
        self.in_flight.insert(id, InFlight { peer, wanted, request, timer });
    }

    fn request_failed(&mut self, flight: InFlight, reason: &str, ctx: &mut Context<'_, '_, Self>) {
        self.stats.requests_failed += 1;
        let InFlight { peer, wanted, .. } = flight;
        tracing::debug!(%peer, ?wanted, "block request failed: {reason}");
        self.give_back(wanted);
        let now = ctx.now();
        let (backoff, max_failures) = (self.config.retry_backoff, self.config.max_failures);
        let mut give_up = false;
        if let Some(p) = self.peers.get_mut(&peer) {
            p.busy = None;
            p.failures += 1;
            let exponent = p.failures.saturating_sub(1).min(10);
            p.resting_until = now + backoff * 2u32.pow(exponent);
            if p.failures >= max_failures && !p.given_up {
                p.given_up = true;
                give_up = true;
            }
        }
        if give_up {
            self.report(&peer, UNRESPONSIVE_PENALTY, "block requests keep failing", ctx);
        }
    }

    fn on_response(&mut self, id: u64, result: Result<Vec<u8>, String>, ctx: &mut Context<'_, '_, Self>) {
        let Some(flight) = self.in_flight.remove(&id) else {
            // Timed out before, or the peer was dropped: its work was given back.
            return;
        };
        ctx.cancel_timer(flight.timer);
        let bytes = match result {
            Ok(bytes) => bytes,
            Err(reason) => {
                self.request_failed(flight, &reason, ctx);
                self.schedule(ctx);
                return;
            }
        };
        self.stats.bytes_received += bytes.len() as u64;
        let checked = decode_block_response(&bytes).and_then(|blocks| {
            validate_response(&flight.request, &blocks)?;
            Ok(blocks)
        });
        let blocks = match checked {
            Ok(blocks) => blocks,
            Err(e) => {
                tracing::warn!(peer = %flight.peer, "invalid block response: {e}");
                let peer = flight.peer.clone();
                self.give_back(flight.wanted);
                self.report(&peer, BAN_PENALTY, "invalid block response", ctx);
                self.drop_peer(&peer);
                self.schedule(ctx);
                return;
            }
        };
        self.on_blocks(flight, blocks, ctx);
        self.try_import(ctx);
        self.schedule(ctx);
    }

    fn on_blocks(&mut self, flight: InFlight, blocks: Vec<ResponseBlock>, ctx: &mut Context<'_, '_, Self>) {
        let InFlight { peer, wanted, .. } = flight;
        let mut run = Vec::with_capacity(blocks.len());
        for block in blocks {
            let Some(header) = block.header else { break };
            if let Some((_, previous)) = run.last() {
                let previous: &IncomingBlock = previous;
                if header.parent_hash != previous.header.hash() {
                    break;
                }
            }
            let justification =
                block.justifications.as_ref().and_then(|j| j.get(GRANDPA_ENGINE_ID)).map(|j| j.to_vec());
            let body = block.body.unwrap_or_default().iter().map(|x| x.encode()).collect();
            let origin = match wanted {
                Wanted::Range { .. } => BlockOrigin::NetworkInitialSync(peer.clone()),
                Wanted::Announced { .. } => BlockOrigin::NetworkBroadcast(peer.clone()),
            };
            run.push((Hash::from(block.hash), IncomingBlock { header, body, justification, origin }));
        }
        let got = run.len() as u32;
        if let Some(p) = self.peers.get_mut(&peer) {
            p.busy = None;
        }
        match wanted {
            Wanted::Range { from, count } => {
                if got < count {
                    // The rest is asked again; an empty answer means the peer does not
                    // have the blocks (its best block was lower than it said).
                    self.retry.insert(from + got, count - got);
                    if let Some(p) = self.peers.get_mut(&peer) {
                        if got == 0 {
                            p.best_number = p.best_number.min(from.saturating_sub(1));
                            p.failures += 1;
                            p.resting_until = ctx.now() + self.config.retry_backoff;
                        }
                    }
                } else if let Some(p) = self.peers.get_mut(&peer) {
                    p.failures = 0;
                }
                if got > 0 {
                    self.stats.blocks_downloaded += u64::from(got);
                    self.downloaded.insert(from, Downloaded { peer, blocks: run });
                }
            }
            Wanted::Announced { number, .. } => {
                if let Some(first) = run.first() {
                    if first.1.header.number == number && !self.downloaded.contains_key(&number) {
                        self.stats.blocks_downloaded += 1;
                        run.truncate(1);
                        self.downloaded.insert(number, Downloaded { peer, blocks: run });
                    }
                }
            }
        }
    }

    /// Sends the next contiguous run of downloaded blocks to block import.
    fn try_import(&mut self, ctx: &mut Context<'_, '_, Self>) {
        if self.importing.is_some() {
            return;
        }
        let floor = self.best.0.saturating_add(1);
        // Runs entirely at or below our best are stale.
        self.downloaded.retain(|from, d| from.saturating_add(d.blocks.len() as u32) > floor);
        let mut blocks = Vec::new();
        let mut suppliers = Vec::new();
        let mut next = floor;
        let mut parent = self.best.1;
        while blocks.len() < self.config.max_blocks_per_import {
            // A run may start below `next` if part of it was imported another way.
            let Some(start) = self.downloaded.range(..=next).next_back().map(|(k, _)| *k) else { break };
            let Some(run) = self.downloaded.get(&start) else { break };
            let end = start.saturating_add(run.blocks.len() as u32);
            if end <= next {
                break;
            }
            let Some(run) = self.downloaded.remove(&start) else { break };
            let skip = (next - start) as usize;
            let peer = run.peer.clone();
            let mut broken = false;
            for (hash, block) in run.blocks.into_iter().skip(skip) {
                if block.header.parent_hash != parent {
                    broken = true;
                    break;
                }
                parent = hash;
                suppliers.push((block.header.number, hash, peer.clone()));
                blocks.push(block);
                next += 1;
            }
            if broken {
                // The run does not continue our chain: from another fork, or a lie.
                // Without a common-ancestor search it cannot be used; ask again elsewhere.
                tracing::debug!(%peer, from = start, "downloaded blocks do not continue our chain");
                self.give_back(Wanted::Range { from: next, count: end - next });
                if let Some(p) = self.peers.get_mut(&peer) {
                    p.failures += 1;
                    p.best_number = p.best_number.min(next.saturating_sub(1));
                }
                break;
            }
        }
        if blocks.is_empty() {
            return;
        }
        tracing::debug!(from = floor, count = blocks.len(), "importing downloaded blocks");
        self.importing = Some(Importing { suppliers });
        ctx.request(
            move |reply| BlockImportMessage::ImportBlocks { blocks, reply },
            |result| SyncEvent::Imported {
                result: result.unwrap_or_else(|_| Err("block import dropped the request".into())),
            },
        );
    }

    fn on_imported(&mut self, result: Result<Vec<Hash>, String>, ctx: &mut Context<'_, '_, Self>) {
        let Some(importing) = self.importing.take() else { return };
        let (imported, error) = match result {
            Ok(hashes) => (hashes.len(), None),
            // Block import stops at the first bad block; the reply does not say how many
            // went in before it, so the chain store's answer comes from ActiveLeaves.
            Err(e) => (0, Some(e)),
        };
        if let Some((number, hash, _)) = importing.suppliers.get(imported.wrapping_sub(1)).filter(|_| imported > 0) {
            if *number > self.best.0 {
                self.best = (*number, *hash);
            }
        }
        self.stats.blocks_imported += imported as u64;
        if let Some(error) = error {
            // The first block above our best is the one that failed.
            let failed = importing.suppliers.iter().find(|(n, _, _)| *n > self.best.0).cloned();
            if let Some((number, hash, peer)) = failed {
                tracing::warn!(%peer, number, %hash, "block rejected by import: {error}");
                self.report(&peer, BAN_PENALTY, "sent a block that failed import", ctx);
                self.drop_peer(&peer);
                // Everything downloaded after the failed block goes too.
                let last = importing.suppliers.last().map(|(n, _, _)| *n).unwrap_or(number);
                self.give_back(Wanted::Range { from: number, count: last - number + 1 });
                self.downloaded.retain(|_, d| d.peer != peer);
            }
        }
        self.try_import(ctx);
        self.schedule(ctx);
    }

    fn on_announce(&mut self, peer: PeerId, header: Header, ctx: &mut Context<'_, '_, Self>) {
        let hash = header.hash();
        let number = header.number;
        let Some(p) = self.peers.get_mut(&peer) else {
            tracing::debug!(%peer, number, "announce from a peer without a handshake, ignored");
            return;
        };
        if number > p.best_number {
            p.best_number = number;
            p.best_hash = hash;
            // New blocks: a peer we gave up on may be worth asking again.
            p.given_up = false;
            p.failures = 0;
        }
        let idle = p.busy.is_none();
        let covered = self.requested_up_to >= number || self.downloaded.contains_key(&number);
        if number == self.best.0 + 1 && header.parent_hash == self.best.1 && !covered && idle {
            self.requested_up_to = self.requested_up_to.max(number);
            self.send_request(peer, Wanted::Announced { hash, number }, ctx);
        }
        self.schedule(ctx);
    }
}

impl Subsystem for ChainSync {
    type Slot = SyncSlot;
    type Event = SyncEvent;

    fn implementation(&self) -> &str {
        "default"
    }

    fn on_signal(&mut self, signal: &OverseerSignal, ctx: &mut Context<'_, '_, Self>) {
        if let OverseerSignal::ActiveLeaves(update) = signal {
            if let Some(leaf) = &update.activated {
                if leaf.number > self.best.0 {
                    // Imported another way (an announce, a file): skip past it.
                    self.best = (leaf.number, leaf.hash);
                    self.requested_up_to = self.requested_up_to.max(leaf.number);
                    self.try_import(ctx);
                    self.schedule(ctx);
                }
            }
        }
    }

    fn on_message(&mut self, message: SyncMessage, ctx: &mut Context<'_, '_, Self>) {
        match message {
            SyncMessage::PeerConnected { peer, best_hash, best_number } => {
                tracing::debug!(%peer, best_number, %best_hash, "sync peer");
                self.peers.insert(
                    peer,
                    Peer {
                        best_number,
                        best_hash,
                        busy: None,
                        failures: 0,
                        resting_until: Duration::ZERO,
                        given_up: false,
                    },
                );
                self.schedule(ctx);
            }
            SyncMessage::PeerDisconnected { peer } => {
                self.drop_peer(&peer);
                self.schedule(ctx);
            }
            SyncMessage::BlockAnnounce { peer, header, is_best: _ } => self.on_announce(peer, *header, ctx),
            SyncMessage::Status { reply } => {
                let _ = reply.send((self.best_seen(), self.best.0));
            }
        }
    }

    fn on_event(&mut self, event: SyncEvent, ctx: &mut Context<'_, '_, Self>) {
        match event {
            SyncEvent::Response { id, result } => self.on_response(id, result, ctx),
            SyncEvent::RequestTimedOut { id } => {
                if let Some(flight) = self.in_flight.remove(&id) {
                    self.request_failed(flight, "timed out", ctx);
                    self.schedule(ctx);
                }
            }
            SyncEvent::Imported { result } => self.on_imported(result, ctx),
            SyncEvent::Wake => {
                self.wake_timer = None;
                self.schedule(ctx);
            }
        }
    }
}

#[cfg(test)]
mod tests;

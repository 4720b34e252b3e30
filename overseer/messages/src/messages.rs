//! One message enum per slot. Requests carry a [`oneshot::Sender`] for the reply.
//!
//! Enums of slots whose subsystem is not built yet hold the few requests the
//! rest of the node already relies on; the issue that builds a subsystem
//! extends its enum.

use crate::{oneshot, BlockNumber, Hash, Header};

/// A network peer, by its libp2p peer id in text form.
pub type PeerId = String;

/// Raw bytes of a network payload or a SCALE-encoded value.
pub type Bytes = Vec<u8>;

/// Reply carrying a result with an error message.
pub type ReplyResult<T> = oneshot::Sender<Result<T, String>>;

/// Messages to the network bridge.
#[derive(Debug)]
pub enum NetworkBridgeMessage {
    /// Announce a block we imported or authored.
    AnnounceBlock { hash: Hash, number: BlockNumber },
    /// Lower a peer's reputation; a large penalty disconnects and bans it.
    ReportPeer { peer: PeerId, penalty: i32, reason: &'static str },
    /// Send a notification on a protocol to a peer.
    SendNotification { peer: PeerId, protocol: &'static str, payload: Bytes },
    /// The currently connected peers.
    ConnectedPeers { reply: oneshot::Sender<Vec<PeerId>> },
    /// Send an encoded `sync/2` block request to a peer; replies with the raw encoded
    /// response (the requester decodes and checks it) or why it failed.
    BlockRequest { peer: PeerId, request: Bytes, reply: ReplyResult<Bytes> },
}

/// Messages to the sync subsystem.
#[derive(Debug)]
pub enum SyncMessage {
    /// A peer announced a block (`is_best`: the peer says it is its new best block).
    BlockAnnounce { peer: PeerId, header: Box<Header>, is_best: bool },
    /// A peer connected with its best block.
    PeerConnected { peer: PeerId, best_hash: Hash, best_number: BlockNumber },
    /// A peer disconnected.
    PeerDisconnected { peer: PeerId },
    /// Current sync status: (best seen number, our best number).
    Status { reply: oneshot::Sender<(BlockNumber, BlockNumber)> },
}

/// Where a block to import came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockOrigin {
    /// Loaded from a file or command.
    File,
    /// Downloaded from a peer during sync.
    NetworkInitialSync(PeerId),
    /// Broadcast by a peer.
    NetworkBroadcast(PeerId),
    /// Authored by this node.
    Own,
}

/// A block handed to block import: header, encoded extrinsics, justification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncomingBlock {
    pub header: Header,
    pub body: Vec<Bytes>,
    pub justification: Option<Bytes>,
    pub origin: BlockOrigin,
}

/// Messages to block import.
#[derive(Debug)]
pub enum BlockImportMessage {
    /// Verify, execute and commit blocks in order; replies with the hashes imported.
    ImportBlocks { blocks: Vec<IncomingBlock>, reply: ReplyResult<Vec<Hash>> },
    /// Verify and apply a GRANDPA justification for an imported block.
    ImportJustification { hash: Hash, number: BlockNumber, justification: Bytes, reply: ReplyResult<()> },
}

/// Messages to the chain store.
#[derive(Debug)]
pub enum ChainStoreMessage {
    /// Best block: (hash, number).
    BestBlock { reply: oneshot::Sender<(Hash, BlockNumber)> },
    /// Finalized block: (hash, number).
    FinalizedBlock { reply: oneshot::Sender<(Hash, BlockNumber)> },
    /// A header by hash.
    Header { hash: Hash, reply: oneshot::Sender<Option<Header>> },
    /// The hash of the canonical block at a number.
    BlockHash { number: BlockNumber, reply: oneshot::Sender<Option<Hash>> },
}

/// Messages to the runtime executor.
#[derive(Debug)]
pub enum RuntimeExecutorMessage {
    /// Call a runtime entry point on the state of block `at`; replies with the SCALE output.
    Call { at: Hash, method: String, input: Bytes, reply: ReplyResult<Bytes> },
    /// The runtime version at a block (SCALE `RuntimeVersion`).
    Version { at: Hash, reply: ReplyResult<Bytes> },
}

/// Messages to BABE.
#[derive(Debug)]
pub enum BabeMessage {
    /// The epoch (SCALE) that a block of the given parent and slot belongs to.
    EpochFor { parent: Hash, slot: u64, reply: ReplyResult<Bytes> },
}

/// Messages to GRANDPA.
#[derive(Debug)]
pub enum GrandpaMessage {
    /// A GRANDPA gossip message from a peer.
    Network { peer: PeerId, payload: Bytes },
    /// A block carrying GRANDPA digests was imported.
    BlockImported { hash: Hash, number: BlockNumber },
}

/// Messages to the transaction pool.
#[derive(Debug)]
pub enum TxPoolMessage {
    /// A transaction to validate and pool; replies with its hash.
    Submit { extrinsic: Bytes, reply: ReplyResult<Hash> },
    /// Transactions gossiped by a peer.
    FromNetwork { peer: PeerId, extrinsics: Vec<Bytes> },
}

/// Messages to chain selection.
#[derive(Debug)]
pub enum ChainSelectionMessage {
    /// The best leaf containing `required`, or the best leaf overall.
    BestLeafContaining { required: Hash, reply: oneshot::Sender<Option<Hash>> },
    /// A block was approved by approval voting.
    Approved(Hash),
}

/// A candidate hash (blake2-256 of the candidate receipt).
pub type CandidateHash = Hash;

/// Messages to candidate validation.
#[derive(Debug)]
pub enum CandidateValidationMessage {
    /// Run a PVF on SCALE `ValidationParams`; replies with SCALE `ValidationResult`.
    ValidateFromExhaustive { validation_code: Bytes, params: Bytes, reply: ReplyResult<Bytes> },
}

/// Messages to candidate backing.
#[derive(Debug)]
pub enum CandidateBackingMessage {
    /// A collation to second (SCALE candidate receipt + proof of validity).
    Second { relay_parent: Hash, candidate: Bytes, pov: Bytes },
    /// A statement from the network (SCALE signed statement).
    Statement { relay_parent: Hash, statement: Bytes },
}

/// Messages to statement distribution.
#[derive(Debug)]
pub enum StatementDistributionMessage {
    /// Share our signed statement.
    Share { relay_parent: Hash, statement: Bytes },
    /// A validation-protocol message from a peer.
    Network { peer: PeerId, payload: Bytes },
}

/// Messages to the availability store.
#[derive(Debug)]
pub enum AvailabilityStoreMessage {
    /// One erasure chunk of a candidate.
    QueryChunk { candidate: CandidateHash, index: u32, reply: oneshot::Sender<Option<Bytes>> },
    /// Store one chunk.
    StoreChunk { candidate: CandidateHash, index: u32, chunk: Bytes, reply: ReplyResult<()> },
}

/// Messages to availability distribution.
#[derive(Debug)]
pub enum AvailabilityDistributionMessage {
    /// A chunk request from a peer.
    ChunkRequest { peer: PeerId, candidate: CandidateHash, index: u32 },
}

/// Messages to availability recovery.
#[derive(Debug)]
pub enum AvailabilityRecoveryMessage {
    /// Recover a candidate's available data (SCALE).
    Recover { candidate: CandidateHash, reply: ReplyResult<Bytes> },
}

/// Messages to bitfield signing.
#[derive(Debug)]
pub enum BitfieldSigningMessage {}

/// Messages to bitfield distribution.
#[derive(Debug)]
pub enum BitfieldDistributionMessage {
    /// Share our signed bitfield.
    Distribute { relay_parent: Hash, bitfield: Bytes },
    /// A bitfield from the network.
    Network { peer: PeerId, payload: Bytes },
}

/// Messages to the provisioner.
#[derive(Debug)]
pub enum ProvisionerMessage {
    /// The parachains inherent data (SCALE) for a relay parent.
    InherentData { relay_parent: Hash, reply: ReplyResult<Bytes> },
    /// A signed bitfield or backed candidate to include.
    Provide { relay_parent: Hash, data: Bytes },
}

/// Messages to approval voting.
#[derive(Debug)]
pub enum ApprovalVotingMessage {
    /// An assignment from the network (SCALE).
    ImportAssignment { peer: PeerId, assignment: Bytes },
    /// An approval vote from the network (SCALE).
    ImportApproval { peer: PeerId, approval: Bytes },
    /// The highest approved ancestor of `target` above `lower_bound`.
    ApprovedAncestor { target: Hash, lower_bound: BlockNumber, reply: oneshot::Sender<Option<(Hash, BlockNumber)>> },
}

/// Messages to approval distribution.
#[derive(Debug)]
pub enum ApprovalDistributionMessage {
    /// Distribute our assignment or approval (SCALE).
    Distribute { payload: Bytes },
    /// A message from the network.
    Network { peer: PeerId, payload: Bytes },
}

/// Messages to the dispute coordinator.
#[derive(Debug)]
pub enum DisputeCoordinatorMessage {
    /// Import statements about a candidate (SCALE).
    ImportStatements { candidate: CandidateHash, session: u32, statements: Bytes },
    /// Candidates with ongoing disputes.
    ActiveDisputes { reply: oneshot::Sender<Vec<CandidateHash>> },
}

/// Messages to the collator protocol.
#[derive(Debug)]
pub enum CollatorProtocolMessage {
    /// A collation-protocol message from a peer.
    Network { peer: PeerId, payload: Bytes },
    /// A seconded candidate was found invalid: punish its collator.
    Invalid { relay_parent: Hash, candidate: CandidateHash },
}

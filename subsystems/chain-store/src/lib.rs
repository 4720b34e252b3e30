//! The chain store: blocks, the fork tree and the state, in one sled database.
//!
//! This crate owns what a node keeps on disk about its chain:
//!
//! * headers, bodies and justifications by block hash, a [`BlockInfo`] per block (number,
//!   parent, state root, chain weight), the children of every block and the leaves of the
//!   fork tree, the canonical index (number → hash along the best chain), and the best and
//!   finalized blocks;
//! * the state of every non-pruned block, as **trie nodes**: each node (and each hashed
//!   V1 value) is stored once under its blake2b-256 hash with a reference count. A block's
//!   state is its state root; reading it walks the trie from that root
//!   ([`StateView`], a cheap clonable handle that implements the executor's
//!   [`StateBackend`]), so any non-pruned block's state can be read, proved or updated
//!   without copying it;
//! * auxiliary per-block data of the consensus engines (BABE epochs, GRANDPA sets), written
//!   atomically with the block ([`BlockCommit::aux`]).
//!
//! **Commit.** [`ChainStore::commit_block`] applies the block's storage changes to its
//! parent's trie ([`weft_trie::db::apply_delta`]), checks the resulting root against the
//! header, and writes the header, body, new nodes, reference counts, the block's *journal*
//! (nodes it created, nodes of the parent's trie it released), fork-tree links and the new
//! best block in **one atomic sled batch**: after a crash (even `kill -9`) a block is either
//! entirely present, state included, or absent.
//!
//! **Pruning** (`StatePruning::KeepBlocks(n)`, 256 by default, or `Archive`). Blocks become
//! canonical when finalized, or when they are [`StoreConfig::canonicalization_delay`] blocks
//! below the best block (4096 by default, as the reference node). Canonicalizing a block
//! discards the competing forks at its height with all their descendants (their journals'
//! insertions are released). Once a canonical block is `n` blocks below the last canonical
//! one, the nodes its successor released are dereferenced and the block's state is gone;
//! [`ChainStore::state_at`] then answers [`StoreError::StatePruned`]. A node is deleted when
//! its count reaches zero. In archive mode no state is ever released.
//!
//! [`subsystem::ChainStoreSubsystem`] answers the overseer's chain-store queries.
//!
//! The store is single-writer: one [`ChainStore`] (the chain-store or block-import
//! subsystem) writes; any number of [`StateView`]s read concurrently.

pub mod subsystem;

use parity_scale_codec::{Decode, Encode};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::Arc;
use weft_block::{Header, Justifications, OpaqueExtrinsic, H256};
use weft_runtime_executor::{StateBackend, StateError, StorageChanges};
use weft_trie::db::{NodeStore, TrieDbError, TrieUpdate};
use weft_trie::{child_storage_key, StateVersion, EMPTY_TRIE_ROOT};

pub use weft_block::BlockNumber;

mod keys {
    pub const META: u8 = b'm';
    pub const HEADER: u8 = b'h';
    pub const BODY: u8 = b'b';
    pub const JUSTIFICATIONS: u8 = b'j';
    pub const CANONICAL: u8 = b'n';
    pub const BY_NUMBER: u8 = b'N';
    pub const INFO: u8 = b'i';
    pub const LEAF: u8 = b'l';
    pub const CHILD: u8 = b'c';
    pub const NODE: u8 = b't';
    pub const JOURNAL: u8 = b'r';
    pub const AUX: u8 = b'a';
    /// Blocks whose header announces a GRANDPA authority-set change, by number:
    /// `g ++ number (big endian) ++ hash` (what warp-sync proofs are made of).
    pub const SET_CHANGE: u8 = b'g';

    pub fn key(column: u8, parts: &[&[u8]]) -> Vec<u8> {
        let mut k = Vec::with_capacity(1 + parts.iter().map(|p| p.len()).sum::<usize>());
        k.push(column);
        for p in parts {
            k.extend_from_slice(p);
        }
        k
    }

    pub const GENESIS: &[u8] = b"genesis";
    pub const BEST: &[u8] = b"best";
    pub const FINALIZED: &[u8] = b"finalized";
    pub const CANON: &[u8] = b"canon";
    pub const PRUNED_BELOW: &[u8] = b"pruned_below";
    pub const SCHEMA: &[u8] = b"schema";
    pub const PRUNING: &[u8] = b"pruning";
    pub const LATEST_JUSTIFIED: &[u8] = b"latest_justified";
}

/// Whether `header` announces a GRANDPA authority-set change (a digest that does
/// not decode counts as none: such blocks are rejected by import anyway).
fn announces_set_change(header: &Header) -> bool {
    matches!(header.grandpa_scheduled_change(), Ok(Some(_))) || matches!(header.grandpa_forced_change(), Ok(Some(_)))
}

/// Version of the on-disk layout.
pub const SCHEMA_VERSION: u32 = 1;

/// How much state history to keep.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub enum StatePruning {
    /// Keep the state of every block.
    Archive,
    /// Keep the state of the last `n` canonical blocks (and of every non-canonical block).
    KeepBlocks(u32),
}

impl Default for StatePruning {
    fn default() -> Self {
        StatePruning::KeepBlocks(256)
    }
}

impl std::str::FromStr for StatePruning {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "archive" | "archive-canonical" => Ok(StatePruning::Archive),
            n => n
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .map(StatePruning::KeepBlocks)
                .ok_or_else(|| format!("state pruning must be `archive` or a number of blocks > 0, not `{s}`")),
        }
    }
}

/// Configuration of a [`ChainStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    /// State pruning mode.
    pub pruning: StatePruning,
    /// Blocks of the best chain this far below the best block are canonicalized even when
    /// not finalized.
    pub canonicalization_delay: u32,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { pruning: StatePruning::default(), canonicalization_delay: 4096 }
    }
}

/// Errors of the chain store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Db(#[from] sled::Error),
    #[error("database is corrupt: {0}")]
    Corrupt(String),
    #[error("the database holds chain {found}, not {expected}")]
    WrongGenesis { expected: H256, found: H256 },
    #[error("the database was created with state pruning {stored:?}; reopen it with that mode or purge it")]
    PruningMismatch { stored: StatePruning },
    #[error("the database has no genesis block yet")]
    NotInitialized,
    #[error("unknown block {0}")]
    UnknownBlock(H256),
    #[error("block #{number} {hash}: parent {parent} is not in the store")]
    UnknownParent { number: BlockNumber, hash: H256, parent: H256 },
    #[error("block #{number} {hash}: the state of block {number}-1 has been pruned")]
    ParentStatePruned { number: BlockNumber, hash: H256 },
    #[error("the state of block #{number} {hash} has been pruned")]
    StatePruned { number: BlockNumber, hash: H256 },
    #[error("block #{number} {hash}: state root after the changes is {computed}, the header says {expected}")]
    StateRootMismatch { number: BlockNumber, hash: H256, computed: H256, expected: H256 },
    #[error("block #{number} {hash} cannot be finalized: it is not a descendant of the finalized block #{finalized}")]
    FinalizeConflict { number: BlockNumber, hash: H256, finalized: BlockNumber },
    #[error("state: {0}")]
    Trie(#[from] TrieDbError),
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// What the store records of each block besides its header and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
pub struct BlockInfo {
    /// Block number.
    pub number: BlockNumber,
    /// Parent hash.
    pub parent: H256,
    /// State root (from the header).
    pub state_root: H256,
    /// Fork-choice weight of the chain ending at this block (BABE: number of primary
    /// blocks), as given by the importer.
    pub chain_weight: u64,
}

/// Nodes a block's state transition created and released, kept until the block is
/// canonicalized (creations, released when the block is discarded) or its parent's state
/// is pruned (releases).
#[derive(Debug, Clone, Default, Encode, Decode)]
struct Journal {
    inserted: Vec<[u8; 32]>,
    removed: Vec<[u8; 32]>,
}

/// A block to commit.
#[derive(Debug, Clone)]
pub struct BlockCommit<'a> {
    /// The header (with its seal).
    pub header: &'a Header,
    /// The body, if known.
    pub body: Option<&'a [OpaqueExtrinsic]>,
    /// Justifications received with the block.
    pub justifications: Option<&'a Justifications>,
    /// Changes the block's execution made to its parent's state.
    pub changes: &'a StorageChanges,
    /// Trie version new values are written under (the runtime's state version).
    pub state_version: StateVersion,
    /// Fork-choice weight of the chain ending at this block.
    pub chain_weight: u64,
    /// Whether the block becomes the best block.
    pub set_best: bool,
    /// Auxiliary data to write atomically with the block (`None` deletes).
    pub aux: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

/// The result of [`ChainStore::commit_block`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitOutcome {
    /// Hash of the committed block.
    pub hash: H256,
    /// Whether the block was already in the store (nothing was written).
    pub already_known: bool,
    /// Trie nodes (and hashed values) the block created.
    pub nodes_inserted: usize,
    /// Blocks whose state was pruned by this commit.
    pub pruned: usize,
}

/// Sizes of the store, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// Stored trie nodes (and hashed values).
    pub trie_nodes: u64,
    /// Their total size in bytes.
    pub trie_bytes: u64,
    /// Blocks with a header.
    pub blocks: u64,
    /// Size of the database on disk.
    pub disk_bytes: u64,
}

struct Inner {
    db: sled::Db,
    tree: sled::Tree,
}

/// A handle on the chain store. Cheap to clone; clones share the database.
#[derive(Clone)]
pub struct ChainStore {
    inner: Arc<Inner>,
    config: StoreConfig,
}

impl std::fmt::Debug for ChainStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainStore").field("config", &self.config).finish_non_exhaustive()
    }
}

fn decode<T: Decode>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    T::decode(&mut &bytes[..]).map_err(|e| corrupt(format!("{what}: {e}")))
}

fn h256(bytes: &[u8]) -> Result<H256, StoreError> {
    H256::from_slice(bytes).ok_or_else(|| corrupt("hash of wrong length"))
}

/// A whole state (main trie and default child tries) as changes to the empty state.
fn full_state_changes(
    top: &BTreeMap<Vec<u8>, Vec<u8>>,
    children: &BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>,
) -> StorageChanges {
    let written = |m: &BTreeMap<Vec<u8>, Vec<u8>>| m.iter().map(|(k, v)| (k.clone(), Some(v.clone()))).collect();
    StorageChanges {
        main: written(top),
        children: children.iter().map(|(c, m)| (c.clone(), written(m))).collect(),
        offchain_index: Default::default(),
    }
}

/// Reference-count changes accumulated for one batch.
#[derive(Default)]
struct NodeDelta {
    counts: HashMap<[u8; 32], i64>,
    bytes: HashMap<[u8; 32], Vec<u8>>,
}

impl NodeDelta {
    fn insert(&mut self, hash: [u8; 32], bytes: Vec<u8>) {
        *self.counts.entry(hash).or_default() += 1;
        self.bytes.entry(hash).or_insert(bytes);
    }

    fn release(&mut self, hash: [u8; 32]) {
        *self.counts.entry(hash).or_default() -= 1;
    }
}

impl ChainStore {
    /// Opens (or creates) the store at `path`.
    pub fn open(path: &Path, config: StoreConfig) -> Result<Self, StoreError> {
        let db = sled::Config::new().path(path).cache_capacity(16 * 1024 * 1024).flush_every_ms(Some(500)).open()?;
        let tree = db.open_tree("chain")?;
        let store = ChainStore { inner: Arc::new(Inner { db, tree }), config };
        match store.meta(keys::SCHEMA)? {
            Some(v) => {
                let version: u32 = decode("schema version", &v)?;
                if version != SCHEMA_VERSION {
                    return Err(corrupt(format!("schema version {version}, this build reads {SCHEMA_VERSION}")));
                }
            }
            None => {
                store.inner.tree.insert(keys::key(keys::META, &[keys::SCHEMA]), SCHEMA_VERSION.encode())?;
            }
        }
        match store.meta(keys::PRUNING)? {
            Some(v) => {
                let stored: StatePruning = decode("pruning mode", &v)?;
                if stored != config.pruning {
                    return Err(StoreError::PruningMismatch { stored });
                }
            }
            None => {
                store.inner.tree.insert(keys::key(keys::META, &[keys::PRUNING]), config.pruning.encode())?;
            }
        }
        Ok(store)
    }

    /// The configuration the store was opened with.
    pub fn config(&self) -> StoreConfig {
        self.config
    }

    fn get(&self, column: u8, parts: &[&[u8]]) -> Result<Option<sled::IVec>, StoreError> {
        Ok(self.inner.tree.get(keys::key(column, parts))?)
    }

    fn meta(&self, name: &[u8]) -> Result<Option<sled::IVec>, StoreError> {
        self.get(keys::META, &[name])
    }

    fn meta_block(&self, name: &[u8]) -> Result<(BlockNumber, H256), StoreError> {
        let v = self.meta(name)?.ok_or(StoreError::NotInitialized)?;
        decode::<(BlockNumber, H256)>("block pointer", &v)
    }

    /// Hash of the genesis block, if the store is initialized.
    pub fn genesis_hash(&self) -> Result<Option<H256>, StoreError> {
        self.meta(keys::GENESIS)?.map(|v| h256(&v)).transpose()
    }

    /// The best block.
    pub fn best(&self) -> Result<(BlockNumber, H256), StoreError> {
        self.meta_block(keys::BEST)
    }

    /// The last finalized block.
    pub fn finalized(&self) -> Result<(BlockNumber, H256), StoreError> {
        self.meta_block(keys::FINALIZED)
    }

    fn canon(&self) -> Result<BlockNumber, StoreError> {
        Ok(self.meta(keys::CANON)?.map(|v| decode::<BlockNumber>("canon", &v)).transpose()?.unwrap_or(0))
    }

    fn pruned_below(&self) -> Result<BlockNumber, StoreError> {
        Ok(self.meta(keys::PRUNED_BELOW)?.map(|v| decode::<BlockNumber>("pruned_below", &v)).transpose()?.unwrap_or(0))
    }

    /// The header of a block.
    pub fn header(&self, hash: &H256) -> Result<Option<Header>, StoreError> {
        self.get(keys::HEADER, &[hash.as_bytes()])?.map(|v| decode("header", &v)).transpose()
    }

    /// The body of a block, if stored.
    pub fn body(&self, hash: &H256) -> Result<Option<Vec<OpaqueExtrinsic>>, StoreError> {
        self.get(keys::BODY, &[hash.as_bytes()])?.map(|v| decode("body", &v)).transpose()
    }

    /// The justifications of a block, if any.
    pub fn justifications(&self, hash: &H256) -> Result<Option<Justifications>, StoreError> {
        self.get(keys::JUSTIFICATIONS, &[hash.as_bytes()])?.map(|v| decode("justifications", &v)).transpose()
    }

    /// What the store knows of a block.
    pub fn block_info(&self, hash: &H256) -> Result<Option<BlockInfo>, StoreError> {
        self.get(keys::INFO, &[hash.as_bytes()])?.map(|v| decode("block info", &v)).transpose()
    }

    /// Whether the block is in the store.
    pub fn contains(&self, hash: &H256) -> Result<bool, StoreError> {
        Ok(self.inner.tree.contains_key(keys::key(keys::INFO, &[hash.as_bytes()]))?)
    }

    /// Hash of the block at `number` on the best chain.
    pub fn canonical_hash(&self, number: BlockNumber) -> Result<Option<H256>, StoreError> {
        self.get(keys::CANONICAL, &[&number.to_be_bytes()])?.map(|v| h256(&v)).transpose()
    }

    /// Leaves of the fork tree, highest first.
    pub fn leaves(&self) -> Result<Vec<(BlockNumber, H256)>, StoreError> {
        let mut leaves = Vec::new();
        for item in self.inner.tree.scan_prefix([keys::LEAF]) {
            let (k, _) = item?;
            let hash = h256(&k[1..])?;
            let info = self.block_info(&hash)?.ok_or_else(|| corrupt("leaf without block info"))?;
            leaves.push((info.number, hash));
        }
        leaves.sort_by(|a, b| b.cmp(a));
        Ok(leaves)
    }

    /// Children of a block.
    pub fn children(&self, hash: &H256) -> Result<Vec<H256>, StoreError> {
        let mut out = Vec::new();
        for item in self.inner.tree.scan_prefix(keys::key(keys::CHILD, &[hash.as_bytes()])) {
            let (k, _) = item?;
            out.push(h256(&k[33..])?);
        }
        Ok(out)
    }

    /// Auxiliary data written with [`BlockCommit::aux`].
    pub fn aux(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.get(keys::AUX, &[key])?.map(|v| v.to_vec()))
    }

    /// Writes auxiliary data outside of a block commit (`None` deletes).
    pub fn put_aux(&self, entries: &[(Vec<u8>, Option<Vec<u8>>)]) -> Result<(), StoreError> {
        let mut batch = sled::Batch::default();
        for (key, value) in entries {
            match value {
                Some(v) => batch.insert(keys::key(keys::AUX, &[key]), v.clone()),
                None => batch.remove(keys::key(keys::AUX, &[key])),
            }
        }
        self.inner.tree.apply_batch(batch)?;
        Ok(())
    }

    /// A read handle on the state of a block.
    pub fn state_at(&self, hash: &H256) -> Result<StateView, StoreError> {
        let info = self.block_info(hash)?.ok_or(StoreError::UnknownBlock(*hash))?;
        if info.number < self.pruned_below()? {
            return Err(StoreError::StatePruned { number: info.number, hash: *hash });
        }
        Ok(StateView { inner: self.inner.clone(), root: info.state_root.to_bytes() })
    }

    /// A read handle on the state with root `root` (which must be present).
    pub fn state_with_root(&self, root: [u8; 32]) -> StateView {
        StateView { inner: self.inner.clone(), root }
    }

    /// Writes the genesis block and its state. Opening a store that already holds a
    /// genesis checks that it is the same.
    pub fn initialize_genesis(
        &self,
        header: &Header,
        top: &BTreeMap<Vec<u8>, Vec<u8>>,
        children: &BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>,
        version: StateVersion,
    ) -> Result<H256, StoreError> {
        let hash = header.hash();
        if let Some(existing) = self.genesis_hash()? {
            if existing != hash {
                return Err(StoreError::WrongGenesis { expected: hash, found: existing });
            }
            return Ok(hash);
        }
        let changes = full_state_changes(top, children);
        let view = self.state_with_root(EMPTY_TRIE_ROOT);
        let (root, updates) = view.updates_for(&changes, version)?;
        if root != header.state_root.to_bytes() {
            return Err(StoreError::StateRootMismatch {
                number: 0,
                hash,
                computed: H256(root),
                expected: header.state_root,
            });
        }
        let mut nodes = NodeDelta::default();
        for update in updates {
            for (h, bytes) in update.inserted {
                nodes.insert(h, bytes);
            }
        }
        let mut batch = sled::Batch::default();
        self.write_nodes(&mut batch, nodes)?;
        let info = BlockInfo { number: 0, parent: H256::ZERO, state_root: header.state_root, chain_weight: 0 };
        batch.insert(keys::key(keys::HEADER, &[hash.as_bytes()]), header.encode());
        batch.insert(keys::key(keys::BODY, &[hash.as_bytes()]), Vec::<OpaqueExtrinsic>::new().encode());
        batch.insert(keys::key(keys::INFO, &[hash.as_bytes()]), info.encode());
        batch.insert(keys::key(keys::CANONICAL, &[&0u32.to_be_bytes()]), hash.as_bytes().to_vec());
        batch.insert(keys::key(keys::BY_NUMBER, &[&0u32.to_be_bytes(), hash.as_bytes()]), Vec::new());
        batch.insert(keys::key(keys::LEAF, &[hash.as_bytes()]), Vec::new());
        batch.insert(keys::key(keys::META, &[keys::BEST]), (0u32, hash).encode());
        batch.insert(keys::key(keys::META, &[keys::FINALIZED]), (0u32, hash).encode());
        batch.insert(keys::key(keys::META, &[keys::CANON]), 0u32.encode());
        batch.insert(keys::key(keys::META, &[keys::GENESIS]), hash.as_bytes().to_vec());
        self.inner.tree.apply_batch(batch)?;
        self.inner.db.flush()?;
        tracing::info!(%hash, state_root = %header.state_root, keys = top.len(), "chain store: genesis written");
        Ok(hash)
    }

    /// Starts an empty store from a trusted state snapshot instead of the genesis state:
    /// the state (`top`, `children`) of block `hash` at `number`, whose header is not
    /// known. The block becomes best, finalized and canonical, and nothing below it can be
    /// read or imported. `genesis` is the chain's genesis hash (checked on reopening).
    /// Returns the snapshot's state root; the caller checks it by importing the block's
    /// child, whose execution on the snapshot must reproduce the child's state root.
    pub fn initialize_checkpoint(
        &self,
        genesis: H256,
        hash: H256,
        number: BlockNumber,
        top: &BTreeMap<Vec<u8>, Vec<u8>>,
        children: &BTreeMap<Vec<u8>, BTreeMap<Vec<u8>, Vec<u8>>>,
        version: StateVersion,
    ) -> Result<H256, StoreError> {
        if let Some(existing) = self.genesis_hash()? {
            if existing != genesis {
                return Err(StoreError::WrongGenesis { expected: genesis, found: existing });
            }
            if let Some(info) = self.block_info(&hash)? {
                return Ok(info.state_root);
            }
            return Err(corrupt("a state snapshot can only start an empty database (purge it first)"));
        }
        let changes = full_state_changes(top, children);
        let (root, updates) = self.state_with_root(EMPTY_TRIE_ROOT).updates_for(&changes, version)?;
        let mut nodes = NodeDelta::default();
        for update in updates {
            for (h, bytes) in update.inserted {
                nodes.insert(h, bytes);
            }
        }
        let mut batch = sled::Batch::default();
        self.write_nodes(&mut batch, nodes)?;
        let info = BlockInfo { number, parent: H256::ZERO, state_root: H256(root), chain_weight: 0 };
        let n = number.to_be_bytes();
        batch.insert(keys::key(keys::INFO, &[hash.as_bytes()]), info.encode());
        batch.insert(keys::key(keys::CANONICAL, &[&n]), hash.as_bytes().to_vec());
        batch.insert(keys::key(keys::BY_NUMBER, &[&n, hash.as_bytes()]), Vec::new());
        batch.insert(keys::key(keys::LEAF, &[hash.as_bytes()]), Vec::new());
        batch.insert(keys::key(keys::META, &[keys::BEST]), (number, hash).encode());
        batch.insert(keys::key(keys::META, &[keys::FINALIZED]), (number, hash).encode());
        batch.insert(keys::key(keys::META, &[keys::CANON]), number.encode());
        batch.insert(keys::key(keys::META, &[keys::PRUNED_BELOW]), number.encode());
        batch.insert(keys::key(keys::META, &[keys::GENESIS]), genesis.as_bytes().to_vec());
        self.inner.tree.apply_batch(batch)?;
        self.inner.db.flush()?;
        tracing::info!(number, %hash, state_root = %H256(root), keys = top.len(), "chain store: started from a state snapshot");
        Ok(H256(root))
    }

    /// Adds the reference-count changes of `nodes` to `batch`.
    fn write_nodes(&self, batch: &mut sled::Batch, mut nodes: NodeDelta) -> Result<(), StoreError> {
        for (hash, delta) in nodes.counts {
            if delta == 0 {
                continue;
            }
            let key = keys::key(keys::NODE, &[&hash]);
            let current = self.inner.tree.get(&key)?;
            let (count, bytes): (i64, Vec<u8>) = match &current {
                Some(v) if v.len() >= 4 => (i64::from(u32::from_le_bytes([v[0], v[1], v[2], v[3]])), v[4..].to_vec()),
                Some(_) => return Err(corrupt("trie node entry shorter than its count")),
                None => (0, nodes.bytes.remove(&hash).unwrap_or_default()),
            };
            let new = count + delta;
            if new <= 0 {
                if new < 0 {
                    tracing::warn!(node = %H256(hash), count, delta, "trie node released more often than referenced");
                }
                batch.remove(key);
            } else {
                if current.is_none() && bytes.is_empty() {
                    return Err(corrupt(format!("trie node {} referenced but never written", H256(hash))));
                }
                let mut value = (new.min(i64::from(u32::MAX)) as u32).to_le_bytes().to_vec();
                value.extend_from_slice(&bytes);
                batch.insert(key, value);
            }
        }
        Ok(())
    }

    /// Commits a block with its state changes, atomically. A block already in the store is
    /// left as it is (`already_known`).
    pub fn commit_block(&self, commit: BlockCommit<'_>) -> Result<CommitOutcome, StoreError> {
        let header = commit.header;
        let hash = header.hash();
        let number = header.number;
        if self.contains(&hash)? {
            return Ok(CommitOutcome { hash, already_known: true, nodes_inserted: 0, pruned: 0 });
        }
        let parent = self.block_info(&header.parent_hash)?.ok_or(StoreError::UnknownParent {
            number,
            hash,
            parent: header.parent_hash,
        })?;
        if parent.number < self.pruned_below()? {
            return Err(StoreError::ParentStatePruned { number, hash });
        }
        if parent.number.checked_add(1) != Some(number) {
            return Err(corrupt(format!("block #{number} {hash} on parent #{}", parent.number)));
        }
        let view = self.state_with_root(parent.state_root.to_bytes());
        let (root, updates) = view.updates_for(commit.changes, commit.state_version)?;
        if root != header.state_root.to_bytes() {
            return Err(StoreError::StateRootMismatch {
                number,
                hash,
                computed: H256(root),
                expected: header.state_root,
            });
        }
        let mut nodes = NodeDelta::default();
        let mut journal = Journal::default();
        for update in updates {
            for (h, bytes) in update.inserted {
                journal.inserted.push(h);
                nodes.insert(h, bytes);
            }
            journal.removed.extend(update.removed);
        }
        let nodes_inserted = journal.inserted.len();

        let mut batch = sled::Batch::default();
        self.write_nodes(&mut batch, nodes)?;
        let info = BlockInfo {
            number,
            parent: header.parent_hash,
            state_root: header.state_root,
            chain_weight: commit.chain_weight,
        };
        batch.insert(keys::key(keys::HEADER, &[hash.as_bytes()]), header.encode());
        if let Some(body) = commit.body {
            batch.insert(keys::key(keys::BODY, &[hash.as_bytes()]), body.encode());
        }
        if let Some(j) = commit.justifications.filter(|j| !j.is_empty()) {
            batch.insert(keys::key(keys::JUSTIFICATIONS, &[hash.as_bytes()]), j.encode());
        }
        batch.insert(keys::key(keys::INFO, &[hash.as_bytes()]), info.encode());
        batch.insert(keys::key(keys::JOURNAL, &[hash.as_bytes()]), journal.encode());
        batch.insert(keys::key(keys::BY_NUMBER, &[&number.to_be_bytes(), hash.as_bytes()]), Vec::new());
        batch.insert(keys::key(keys::CHILD, &[header.parent_hash.as_bytes(), hash.as_bytes()]), Vec::new());
        if announces_set_change(header) {
            batch.insert(keys::key(keys::SET_CHANGE, &[&number.to_be_bytes(), hash.as_bytes()]), Vec::new());
        }
        batch.remove(keys::key(keys::LEAF, &[header.parent_hash.as_bytes()]));
        batch.insert(keys::key(keys::LEAF, &[hash.as_bytes()]), Vec::new());
        for (key, value) in &commit.aux {
            match value {
                Some(v) => batch.insert(keys::key(keys::AUX, &[key]), v.clone()),
                None => batch.remove(keys::key(keys::AUX, &[key])),
            }
        }
        let mut pruned = 0;
        if commit.set_best {
            self.set_best_in_batch(&mut batch, number, hash, header.parent_hash)?;
            // The new block itself is only in the batch: canonicalize at most up to its
            // parent, walking back from there.
            let finalized = self.finalized()?.0;
            let target = finalized.max(number.saturating_sub(self.config.canonicalization_delay.max(1)));
            pruned = self.canonicalize_in_batch(&mut batch, target, Some((number - 1, header.parent_hash)))?;
        }
        self.inner.tree.apply_batch(batch)?;
        tracing::debug!(number, %hash, nodes_inserted, set_best = commit.set_best, "chain store: block committed");
        Ok(CommitOutcome { hash, already_known: false, nodes_inserted, pruned })
    }

    /// Rewrites the canonical index so that it follows `hash` (which must already be, or be
    /// about to be, in the store, with its parent `parent` in the store).
    fn set_best_in_batch(
        &self,
        batch: &mut sled::Batch,
        number: BlockNumber,
        hash: H256,
        parent: H256,
    ) -> Result<(), StoreError> {
        let (old_best, _) = self.best()?;
        // Drop index entries above the new best.
        for n in (number + 1)..=old_best {
            batch.remove(keys::key(keys::CANONICAL, &[&n.to_be_bytes()]));
        }
        batch.insert(keys::key(keys::CANONICAL, &[&number.to_be_bytes()]), hash.as_bytes().to_vec());
        // Walk back until the index agrees.
        let mut cursor = parent;
        let mut n = number;
        while n > 0 {
            n -= 1;
            if self.canonical_hash(n)? == Some(cursor) {
                break;
            }
            batch.insert(keys::key(keys::CANONICAL, &[&n.to_be_bytes()]), cursor.as_bytes().to_vec());
            let info = self.block_info(&cursor)?.ok_or_else(|| corrupt(format!("missing ancestor {cursor}")))?;
            cursor = info.parent;
        }
        batch.insert(keys::key(keys::META, &[keys::BEST]), (number, hash).encode());
        Ok(())
    }

    /// Hash of the ancestor of `hash` (which is at height `at`) at height `number`.
    fn ancestor_at(&self, mut hash: H256, mut at: BlockNumber, number: BlockNumber) -> Result<H256, StoreError> {
        while at > number {
            let info = self.block_info(&hash)?.ok_or_else(|| corrupt(format!("missing ancestor {hash}")))?;
            hash = info.parent;
            at -= 1;
        }
        Ok(hash)
    }

    /// Canonicalizes the best chain up to `target` and prunes what falls out of the window.
    /// `new_best` is a stored block of the (new) best chain at or above `target`, from which
    /// the canonical blocks are found by walking back (the index may be stale in the batch).
    fn canonicalize_in_batch(
        &self,
        batch: &mut sled::Batch,
        target: BlockNumber,
        new_best: Option<(BlockNumber, H256)>,
    ) -> Result<usize, StoreError> {
        let canon = self.canon()?;
        if target <= canon {
            return Ok(0);
        }
        let (best_number, best_hash) = match new_best {
            Some(b) => b,
            None => self.best()?,
        };
        if target > best_number {
            return Ok(0);
        }
        let mut nodes = NodeDelta::default();
        let mut discarded = std::collections::HashSet::new();
        // Canonical hashes of canon+1..=target along the best chain.
        let mut canonical = Vec::with_capacity((target - canon) as usize);
        let mut cursor = self.ancestor_at(best_hash, best_number, target)?;
        for n in ((canon + 1)..=target).rev() {
            canonical.push((n, cursor));
            let info = self.block_info(&cursor)?.ok_or_else(|| corrupt(format!("missing block {cursor}")))?;
            cursor = info.parent;
        }
        canonical.reverse();
        for (n, hash) in &canonical {
            // Discard the competing blocks at this height, with their descendants.
            for item in self.inner.tree.scan_prefix(keys::key(keys::BY_NUMBER, &[&n.to_be_bytes()])) {
                let (k, _) = item?;
                let other = h256(&k[5..])?;
                if other != *hash {
                    self.discard_in_batch(batch, other, &mut nodes, &mut discarded)?;
                }
            }
            // The block's creations are now permanent (until pruned through its successor).
            if self.config.pruning == StatePruning::Archive {
                batch.remove(keys::key(keys::JOURNAL, &[hash.as_bytes()]));
            }
        }
        batch.insert(keys::key(keys::META, &[keys::CANON]), target.encode());

        let mut pruned = 0;
        if let StatePruning::KeepBlocks(keep) = self.config.pruning {
            // States of canonical blocks below `target - keep + 1` go.
            let new_pruned_below = (target + 1).saturating_sub(keep);
            let old_pruned_below = self.pruned_below()?;
            for n in old_pruned_below..new_pruned_below {
                // Nodes of state n that state n+1 released.
                let successor = match canonical.iter().find(|(m, _)| *m == n + 1) {
                    Some((_, h)) => Some(*h),
                    None => self.canonical_hash(n + 1)?,
                };
                let Some(successor) = successor else { break };
                if let Some(j) = self.get(keys::JOURNAL, &[successor.as_bytes()])? {
                    let journal: Journal = decode("journal", &j)?;
                    for h in journal.removed {
                        nodes.release(h);
                    }
                    batch.remove(keys::key(keys::JOURNAL, &[successor.as_bytes()]));
                }
                pruned += 1;
            }
            if new_pruned_below > old_pruned_below {
                batch.insert(keys::key(keys::META, &[keys::PRUNED_BELOW]), new_pruned_below.encode());
            }
        }
        self.write_nodes(batch, nodes)?;
        if !discarded.is_empty() {
            tracing::debug!(discarded = discarded.len(), canon = target, "chain store: forks discarded");
        }
        Ok(pruned)
    }

    /// Removes a non-canonical block and its descendants, releasing the nodes they created.
    fn discard_in_batch(
        &self,
        batch: &mut sled::Batch,
        hash: H256,
        nodes: &mut NodeDelta,
        discarded: &mut std::collections::HashSet<H256>,
    ) -> Result<(), StoreError> {
        if !discarded.insert(hash) {
            return Ok(());
        }
        for child in self.children(&hash)? {
            self.discard_in_batch(batch, child, nodes, discarded)?;
        }
        let Some(info) = self.block_info(&hash)? else { return Ok(()) };
        if let Some(j) = self.get(keys::JOURNAL, &[hash.as_bytes()])? {
            let journal: Journal = decode("journal", &j)?;
            for h in journal.inserted {
                nodes.release(h);
            }
        }
        let h = hash.as_bytes();
        for column in [keys::HEADER, keys::BODY, keys::JUSTIFICATIONS, keys::INFO, keys::JOURNAL, keys::LEAF] {
            batch.remove(keys::key(column, &[h]));
        }
        batch.remove(keys::key(keys::BY_NUMBER, &[&info.number.to_be_bytes(), h]));
        batch.remove(keys::key(keys::SET_CHANGE, &[&info.number.to_be_bytes(), h]));
        batch.remove(keys::key(keys::CHILD, &[info.parent.as_bytes(), h]));
        Ok(())
    }

    /// Marks `hash` (and its ancestors) finalized, storing `justification` with it, and
    /// canonicalizes and prunes accordingly. The block must descend from the finalized
    /// block; if it is not on the best chain, it becomes the best block's ancestor by
    /// making its best descendant the best block.
    pub fn finalize(&self, hash: &H256, justification: Option<([u8; 4], Vec<u8>)>) -> Result<(), StoreError> {
        let info = self.block_info(hash)?.ok_or(StoreError::UnknownBlock(*hash))?;
        let (finalized_number, finalized_hash) = self.finalized()?;
        if info.number <= finalized_number {
            if self.canonical_hash(info.number)? == Some(*hash) {
                if let Some((engine, bytes)) = justification {
                    self.store_justification(hash, engine, bytes)?;
                }
                return Ok(());
            }
            return Err(StoreError::FinalizeConflict { number: info.number, hash: *hash, finalized: finalized_number });
        }
        if self.ancestor_at(*hash, info.number, finalized_number)? != finalized_hash {
            return Err(StoreError::FinalizeConflict { number: info.number, hash: *hash, finalized: finalized_number });
        }
        let mut batch = sled::Batch::default();
        let (best_number, best_hash) = self.best()?;
        let mut new_best = (best_number, best_hash);
        let on_best = best_number >= info.number && self.ancestor_at(best_hash, best_number, info.number)? == *hash;
        if !on_best {
            // The best block becomes the heaviest leaf descending from the finalized block.
            let mut candidate = (info.chain_weight, info.number, *hash);
            for (n, leaf) in self.leaves()? {
                if n >= info.number && self.ancestor_at(leaf, n, info.number)? == *hash {
                    let w = self.block_info(&leaf)?.map(|i| i.chain_weight).unwrap_or(0);
                    if (w, n) > (candidate.0, candidate.1) {
                        candidate = (w, n, leaf);
                    }
                }
            }
            let leaf_info = self.block_info(&candidate.2)?.ok_or(StoreError::UnknownBlock(candidate.2))?;
            self.set_best_in_batch(&mut batch, candidate.1, candidate.2, leaf_info.parent)?;
            new_best = (candidate.1, candidate.2);
        }
        if let Some((engine, bytes)) = justification {
            let mut j = self.justifications(hash)?.unwrap_or_default();
            j.insert(engine, bytes);
            batch.insert(keys::key(keys::JUSTIFICATIONS, &[hash.as_bytes()]), j.encode());
            self.note_justified_in_batch(&mut batch, engine, info.number, hash)?;
        }
        batch.insert(keys::key(keys::META, &[keys::FINALIZED]), (info.number, *hash).encode());
        self.canonicalize_in_batch(&mut batch, info.number, Some(new_best))?;
        self.inner.tree.apply_batch(batch)?;
        tracing::info!(number = info.number, %hash, "chain store: finalized");
        Ok(())
    }

    fn store_justification(&self, hash: &H256, engine: [u8; 4], bytes: Vec<u8>) -> Result<(), StoreError> {
        let number = self.block_info(hash)?.ok_or(StoreError::UnknownBlock(*hash))?.number;
        let mut j = self.justifications(hash)?.unwrap_or_default();
        j.insert(engine, bytes);
        let mut batch = sled::Batch::default();
        batch.insert(keys::key(keys::JUSTIFICATIONS, &[hash.as_bytes()]), j.encode());
        self.note_justified_in_batch(&mut batch, engine, number, hash)?;
        self.inner.tree.apply_batch(batch)?;
        Ok(())
    }

    /// Remembers the highest finalized block with a GRANDPA justification.
    fn note_justified_in_batch(
        &self,
        batch: &mut sled::Batch,
        engine: [u8; 4],
        number: BlockNumber,
        hash: &H256,
    ) -> Result<(), StoreError> {
        if engine != weft_block::GRANDPA_ENGINE_ID {
            return Ok(());
        }
        if self.latest_justified()?.is_some_and(|(latest, _)| latest > number) {
            return Ok(());
        }
        batch.insert(keys::key(keys::META, &[keys::LATEST_JUSTIFIED]), (number, *hash).encode());
        Ok(())
    }

    /// The highest finalized block stored with a GRANDPA justification, if any.
    pub fn latest_justified(&self) -> Result<Option<(BlockNumber, H256)>, StoreError> {
        self.get(keys::META, &[keys::LATEST_JUSTIFIED])?.map(|v| decode("latest justified block", &v)).transpose()
    }

    /// Stored blocks numbered `from..=to` whose header announces a GRANDPA
    /// authority-set change (a `ScheduledChange` or `ForcedChange` digest), in
    /// ascending order of number; on any fork (check [`Self::canonical_hash`]).
    pub fn set_change_blocks(
        &self,
        from: BlockNumber,
        to: BlockNumber,
    ) -> Result<Vec<(BlockNumber, H256)>, StoreError> {
        let mut blocks = Vec::new();
        if from > to {
            return Ok(blocks);
        }
        let start = keys::key(keys::SET_CHANGE, &[&from.to_be_bytes()]);
        for item in self.inner.tree.range(start..) {
            let (key, _) = item?;
            if key.first() != Some(&keys::SET_CHANGE) || key.len() != 1 + 4 + 32 {
                break;
            }
            let number = BlockNumber::from_be_bytes(key[1..5].try_into().expect("4 bytes"));
            if number > to {
                break;
            }
            blocks.push((number, H256(key[5..].try_into().expect("32 bytes"))));
        }
        Ok(blocks)
    }

    /// Writes everything to disk.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// Sizes of the store.
    pub fn stats(&self) -> Result<StoreStats, StoreError> {
        let mut stats = StoreStats::default();
        for item in self.inner.tree.scan_prefix([keys::NODE]) {
            let (_, v) = item?;
            stats.trie_nodes += 1;
            stats.trie_bytes += v.len().saturating_sub(4) as u64;
        }
        stats.blocks = self.inner.tree.scan_prefix([keys::INFO]).count() as u64;
        stats.disk_bytes = self.inner.db.size_on_disk()?;
        Ok(stats)
    }

    /// Walks the whole state of a block and checks that every stored node hashes to the
    /// hash it is stored under (so that the state root commits to everything read).
    /// Returns the number of nodes checked.
    pub fn verify_state(&self, hash: &H256) -> Result<usize, StoreError> {
        let view = self.state_at(hash)?;
        let root = view.root();
        let mut count = 0usize;
        let mut bad = None;
        weft_trie::db::for_each_stored_node(&view, &root, &mut |h, bytes| {
            count += 1;
            if bad.is_none() && weft_trie::blake2_256(bytes) != *h {
                bad = Some(*h);
            }
        })?;
        if let Some(h) = bad {
            return Err(corrupt(format!("trie node stored under {} does not hash to it", H256(h))));
        }
        Ok(count)
    }

    /// Checks the reference counts against the states the store keeps (every non-pruned
    /// block's trie, plus the creations of non-canonical blocks): returns the number of
    /// nodes whose count disagrees (zero for a consistent store). For tests and `check`.
    pub fn verify_reference_counts(&self) -> Result<usize, StoreError> {
        // Every stored node must be reachable from some kept state.
        let pruned_below = self.pruned_below()?;
        let mut reachable = std::collections::HashSet::new();
        for item in self.inner.tree.scan_prefix([keys::INFO]) {
            let (_, v) = item?;
            let info: BlockInfo = decode("block info", &v)?;
            if info.number < pruned_below {
                continue;
            }
            let view = self.state_with_root(info.state_root.to_bytes());
            weft_trie::db::for_each_stored_node(&view, &info.state_root.to_bytes(), &mut |h, _| {
                reachable.insert(*h);
            })?;
        }
        let mut bad = 0;
        for item in self.inner.tree.scan_prefix([keys::NODE]) {
            let (k, _) = item?;
            let mut h = [0u8; 32];
            h.copy_from_slice(&k[1..]);
            if !reachable.remove(&h) {
                bad += 1;
            }
        }
        Ok(bad + reachable.len())
    }
}

/// A storage key and its value.
pub type KeyValue = (Vec<u8>, Vec<u8>);

/// A read handle on one state of the store (one state root). Implements the executor's
/// [`StateBackend`]: runtime calls read the store directly, one trie walk per key.
#[derive(Clone)]
pub struct StateView {
    inner: Arc<Inner>,
    root: [u8; 32],
}

impl std::fmt::Debug for StateView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StateView({})", H256(self.root))
    }
}

impl NodeStore for StateView {
    fn node(&self, hash: &[u8; 32]) -> Result<Option<std::borrow::Cow<'_, [u8]>>, TrieDbError> {
        match self.inner.tree.get(keys::key(keys::NODE, &[hash])) {
            Ok(Some(v)) if v.len() >= 4 => Ok(Some(std::borrow::Cow::Owned(v[4..].to_vec()))),
            Ok(Some(_)) => Err(TrieDbError::Store("trie node entry shorter than its count".into())),
            Ok(None) => Ok(None),
            Err(e) => Err(TrieDbError::Store(e.to_string())),
        }
    }
}

fn state_error(e: TrieDbError) -> StateError {
    StateError(e.to_string())
}

impl StateView {
    /// The state root.
    pub fn root(&self) -> [u8; 32] {
        self.root
    }

    /// Value of a key of the main trie.
    pub fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, TrieDbError> {
        weft_trie::db::get(self, &self.root, key)
    }

    /// Root of a default child trie ([`EMPTY_TRIE_ROOT`] when absent).
    pub fn child_root(&self, child_key: &[u8]) -> Result<[u8; 32], TrieDbError> {
        TrieState::new(self, self.root).child_root(child_key)
    }

    /// A storage proof of `keys` against this state's root.
    pub fn prove(&self, keys: &[&[u8]]) -> Result<Vec<Vec<u8>>, TrieDbError> {
        weft_trie::db::prove(self, &self.root, keys)
    }

    /// Every key/value pair of the main trie with keys `>= start`, at most `limit`.
    pub fn pairs(&self, start: &[u8], limit: usize) -> Result<Vec<KeyValue>, TrieDbError> {
        let mut out = Vec::new();
        let mut key = start.to_vec();
        if let Some(v) = self.get(&key)? {
            out.push((key.clone(), v));
        }
        while out.len() < limit {
            let Some(next) = weft_trie::db::next_key(self, &self.root, &key)? else { break };
            let value = self.get(&next)?.unwrap_or_default();
            out.push((next.clone(), value));
            key = next;
        }
        Ok(out)
    }

    /// New root and trie updates (children first, main last) of applying `changes`.
    fn updates_for(
        &self,
        changes: &StorageChanges,
        version: StateVersion,
    ) -> Result<([u8; 32], Vec<TrieUpdate>), TrieDbError> {
        let mut updates = Vec::with_capacity(changes.children.len() + 1);
        let mut child_roots = Vec::with_capacity(changes.children.len());
        for (child_key, delta) in &changes.children {
            let root = self.child_root(child_key)?;
            let update = weft_trie::db::apply_delta(
                self,
                &root,
                delta.iter().map(|(k, v)| (k.as_slice(), v.as_deref())),
                version,
            )?;
            child_roots.push((child_storage_key(child_key), (update.root != EMPTY_TRIE_ROOT).then_some(update.root)));
            updates.push(update);
        }
        let mut delta: BTreeMap<&[u8], Option<&[u8]>> =
            changes.main.iter().map(|(k, v)| (k.as_slice(), v.as_deref())).collect();
        for (key, root) in &child_roots {
            delta.insert(key.as_slice(), root.as_ref().map(|r| &r[..]));
        }
        let update = weft_trie::db::apply_delta(self, &self.root, delta, version)?;
        let root = update.root;
        updates.push(update);
        Ok((root, updates))
    }
}

/// The executor's view of the trie at `root` in any node store: the one place that maps
/// the host API's storage reads and roots (main and default child tries) onto the trie.
/// [`StateView`] is it over the database; a proof recorder can wrap the database and be it
/// too.
#[derive(Debug, Clone, Copy)]
pub struct TrieState<'a, S: ?Sized> {
    store: &'a S,
    root: [u8; 32],
}

impl<'a, S: NodeStore + ?Sized> TrieState<'a, S> {
    /// The state at `root` in `store`.
    pub fn new(store: &'a S, root: [u8; 32]) -> Self {
        TrieState { store, root }
    }

    /// Root of a default child trie ([`EMPTY_TRIE_ROOT`] when absent).
    pub fn child_root(&self, child_key: &[u8]) -> Result<[u8; 32], TrieDbError> {
        match weft_trie::db::get(self.store, &self.root, &child_storage_key(child_key))? {
            Some(v) => <[u8; 32]>::try_from(v.as_slice())
                .map_err(|_| TrieDbError::Store("child trie root is not 32 bytes".into())),
            None => Ok(EMPTY_TRIE_ROOT),
        }
    }
}

impl<S: NodeStore + Sync + ?Sized> StateBackend for TrieState<'_, S> {
    fn storage(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        weft_trie::db::get(self.store, &self.root, key).map_err(state_error)
    }

    fn child_storage(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let root = self.child_root(child_key).map_err(state_error)?;
        weft_trie::db::get(self.store, &root, key).map_err(state_error)
    }

    fn next_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        weft_trie::db::next_key(self.store, &self.root, key).map_err(state_error)
    }

    fn child_next_key(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        let root = self.child_root(child_key).map_err(state_error)?;
        weft_trie::db::next_key(self.store, &root, key).map_err(state_error)
    }

    fn storage_root(&self, delta: &[(&[u8], Option<&[u8]>)], version: StateVersion) -> Result<[u8; 32], StateError> {
        weft_trie::db::apply_delta(self.store, &self.root, delta.iter().copied(), version)
            .map(|u| u.root)
            .map_err(state_error)
    }

    fn child_storage_root(
        &self,
        child_key: &[u8],
        delta: &[(&[u8], Option<&[u8]>)],
        version: StateVersion,
    ) -> Result<[u8; 32], StateError> {
        let root = self.child_root(child_key).map_err(state_error)?;
        weft_trie::db::apply_delta(self.store, &root, delta.iter().copied(), version)
            .map(|u| u.root)
            .map_err(state_error)
    }
}

impl StateBackend for StateView {
    fn storage(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        TrieState::new(self, self.root).storage(key)
    }

    fn child_storage(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        TrieState::new(self, self.root).child_storage(child_key, key)
    }

    fn next_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        TrieState::new(self, self.root).next_key(key)
    }

    fn child_next_key(&self, child_key: &[u8], key: &[u8]) -> Result<Option<Vec<u8>>, StateError> {
        TrieState::new(self, self.root).child_next_key(child_key, key)
    }

    fn storage_root(&self, delta: &[(&[u8], Option<&[u8]>)], version: StateVersion) -> Result<[u8; 32], StateError> {
        TrieState::new(self, self.root).storage_root(delta, version)
    }

    fn child_storage_root(
        &self,
        child_key: &[u8],
        delta: &[(&[u8], Option<&[u8]>)],
        version: StateVersion,
    ) -> Result<[u8; 32], StateError> {
        TrieState::new(self, self.root).child_storage_root(child_key, delta, version)
    }
}

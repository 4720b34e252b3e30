//! Block import: the pipeline that turns a block received from a file, a peer or an
//! author into a committed block of the chain store, or rejects it with the reason.
//!
//! For each block, [`Importer::import_block`]:
//!
//! 1. **header checks**: the parent is stored (and its state not pruned), the number is
//!    the parent's plus one, the digest carries exactly one BABE pre-digest and ends with
//!    the BABE seal, the body matches the header's extrinsics root;
//! 2. **BABE** ([`weft_consensus::babe::verify_header`]): the epoch of the slot, derived
//!    from the parent's epoch state (kept per block in the store's aux data, so forks are
//!    independent) and the genesis `BabeApi_configuration`; the slot claim (primary VRF
//!    below Substrate's threshold, secondary plain or VRF author) and the seal;
//! 3. **GRANDPA digests**: the authority-set state of the block (scheduled and forced
//!    changes) from its parent's;
//! 4. **execution**: `Core_execute_block` of the header without its seal and the body, on
//!    a read handle of the parent's state in the store, with the runtime of the parent
//!    state (compiled once per code, from the executor's cache);
//! 5. **state root**: the changes applied to the parent's trie must give the header's state
//!    root (the runtime checks it too);
//! 6. **commit**: block, state nodes, epoch and authority-set states and the new best block
//!    in one atomic write ([`weft_chain_store::ChainStore::commit_block`]); fork choice is
//!    BABE's: the chain with more primary blocks, then the longer one;
//! 7. **finality**: a GRANDPA justification given with the block (or later, with
//!    [`Importer::import_justification`]) is verified against the block's authority set and
//!    finalizes it.
//!
//! A rejected block leaves nothing in the store: every error names the block and the
//! reason ([`ImportError`]).
//!
//! Runtime upgrades: when a block writes `:code` or `:heappages`, its children execute with
//! the new runtime (and its state version); the runtime of each recent block is cached.
//!
//! [`blocks_file`] reads and writes the JSON block files of `weft import-blocks` and
//! `weft export-blocks`; [`subsystem`] puts the importer in the overseer's block-import
//! slot.

pub mod blocks_file;
pub mod subsystem;

use parity_scale_codec::{Decode, Encode};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use weft_block::babe::BabeConfiguration;
use weft_block::grandpa::{decode_justification, AuthorityList};
use weft_block::{Block, BlockNumber, Header, Justifications, GRANDPA_ENGINE_ID, H256};
use weft_chain_store::{BlockCommit, ChainStore, StateView, StoreError};
use weft_consensus::babe::{verify_header, BabeError, ClaimKind, EpochState, VerifiedBabe};
use weft_consensus::grandpa::{verify_justification, GrandpaState, GrandpaStateError, JustificationError};
use weft_runtime_executor::{
    heap_pages_from_storage, Executor, ExecutorError, Externalities, RuntimeModule, RuntimeVersion, StateBackend,
};
use weft_trie::StateVersion;

/// `blake2_64("BabeApi")`, the id of the BABE runtime API.
const BABE_API_ID: [u8; 8] = [0xcb, 0xca, 0x25, 0xe3, 0x9f, 0x14, 0x23, 0x87];

const AUX_BABE_GENESIS: &[u8] = b"babe:genesis-configuration";
const AUX_BABE_PREFIX: &[u8] = b"babe:epoch:";
const AUX_GRANDPA_PREFIX: &[u8] = b"grandpa:set:";

fn aux_key(prefix: &[u8], hash: &H256) -> Vec<u8> {
    [prefix, hash.as_bytes()].concat()
}

/// Why a block was rejected.
#[derive(Debug, thiserror::Error)]
pub enum RejectReason {
    #[error("parent {0} is unknown")]
    UnknownParent(H256),
    #[error("the state of parent {0} has been pruned")]
    ParentStatePruned(H256),
    #[error("number does not follow parent #{parent}")]
    BadNumber { parent: BlockNumber },
    #[error("block body does not match the header's extrinsics root")]
    ExtrinsicsRoot,
    #[error("the block has no body")]
    MissingBody,
    #[error("BABE: {0}")]
    Babe(#[from] BabeError),
    #[error("GRANDPA digest: {0}")]
    GrandpaDigest(#[from] GrandpaStateError),
    #[error("GRANDPA justification: {0}")]
    Justification(#[from] JustificationError),
    #[error("justification is for block #{number} {hash}")]
    JustificationTarget { number: BlockNumber, hash: H256 },
    #[error("justification does not decode: {0}")]
    JustificationDecode(String),
    #[error("execution failed: {0}")]
    Execution(String),
    #[error("state root after execution is {computed}, the header says {expected}")]
    StateRoot { computed: H256, expected: H256 },
    #[error("runtime of the parent state: {0}")]
    Runtime(String),
}

/// Errors of block import.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The block is invalid; nothing of it was stored.
    #[error("block #{number} {hash} rejected: {reason}")]
    Rejected { number: BlockNumber, hash: H256, reason: Box<RejectReason> },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The node's own setup is wrong (genesis runtime unusable...).
    #[error("{0}")]
    Setup(String),
}

impl ImportError {
    /// The rejection reason, if the block was rejected.
    pub fn reason(&self) -> Option<&RejectReason> {
        match self {
            ImportError::Rejected { reason, .. } => Some(reason.as_ref()),
            _ => None,
        }
    }
}

/// The result of importing one block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    pub hash: H256,
    pub number: BlockNumber,
    /// The block was already in the store; nothing was done.
    pub already_known: bool,
    /// The block became the best block.
    pub is_best: bool,
    /// The block was finalized by a justification imported with it.
    pub finalized: bool,
    /// The block changed the runtime code or heap pages.
    pub runtime_upgraded: bool,
}

/// Where import time went, summed over the blocks imported.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportTimings {
    pub blocks: u64,
    /// Header checks, BABE and GRANDPA.
    pub verification: Duration,
    /// Runtime execution (includes state reads and the runtime's root computation).
    pub execution: Duration,
    /// Trie update and database write.
    pub commit: Duration,
    /// Loading and compiling runtimes.
    pub runtime_loading: Duration,
}

/// The runtime a state executes with.
#[derive(Clone)]
pub struct Runtime {
    pub module: RuntimeModule,
    pub version: RuntimeVersion,
    pub state_version: StateVersion,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Runtime({} v{})", self.version.spec_name, self.version.spec_version)
    }
}

/// The block importer. Single-threaded: one importer writes to a store.
pub struct Importer {
    store: ChainStore,
    executor: Executor,
    babe_genesis: BabeConfiguration,
    /// Runtime of recently imported blocks' states.
    runtimes: HashMap<H256, Arc<Runtime>>,
    timings: ImportTimings,
    verify_babe: bool,
}

impl std::fmt::Debug for Importer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Importer").field("store", &self.store).finish_non_exhaustive()
    }
}

const RUNTIME_CACHE_BLOCKS: usize = 1024;

fn setup(what: impl std::fmt::Display) -> ImportError {
    ImportError::Setup(what.to_string())
}

/// Loads the runtime of a state: `:code` and `:heappages`, compiled (or taken from the
/// executor's cache), with its version and state version.
pub fn load_runtime(executor: &Executor, state: &dyn StateBackend) -> Result<Runtime, String> {
    let code = state.storage(b":code").map_err(|e| e.to_string())?.ok_or("the state has no `:code`")?;
    let heap_pages = heap_pages_from_storage(state.storage(b":heappages").map_err(|e| e.to_string())?.as_deref());
    let module = executor.compile(&code, heap_pages).map_err(|e| e.to_string())?;
    let version = match weft_runtime_blob::runtime_version_of_code(&code).map_err(|e| e.to_string())? {
        Some(v) => v,
        None => module.core_version().map_err(|e| format!("Core_version: {e}"))?,
    };
    let state_version = if version.trie_state_version() == 0 { StateVersion::V0 } else { StateVersion::V1 };
    Ok(Runtime { module, version, state_version })
}

/// Runs a runtime call on a state without keeping its changes.
fn call_on(runtime: &Runtime, state: StateView, method: &str, input: &[u8]) -> Result<Vec<u8>, ExecutorError> {
    let mut ext = Externalities::new(Arc::new(state));
    runtime.module.call_with(method, input, &mut ext)
}

impl Importer {
    /// An importer on an initialized store. The genesis BABE configuration and GRANDPA
    /// authorities are read from the genesis state (`BabeApi_configuration`,
    /// `GrandpaApi_grandpa_authorities`) the first time, and kept in the store.
    pub fn new(store: ChainStore, executor: Executor) -> Result<Self, ImportError> {
        store.genesis_hash()?.ok_or(StoreError::NotInitialized)?;
        // The first block of the store: the genesis, or a state snapshot's block.
        let (base_number, base) = store.finalized()?;
        let babe_genesis = match store.aux(AUX_BABE_GENESIS)? {
            Some(bytes) => BabeConfiguration::decode(&mut &bytes[..])
                .map_err(|e| setup(format!("stored BABE configuration: {e}")))?,
            None => {
                let state = store.state_at(&base)?;
                let runtime = load_runtime(&executor, &state).map_err(|e| setup(format!("genesis runtime: {e}")))?;
                let babe_version = runtime.version.apis.iter().find(|(id, _)| *id == BABE_API_ID).map(|(_, v)| *v);
                let output = call_on(&runtime, state.clone(), "BabeApi_configuration", &[])
                    .map_err(|e| setup(format!("BabeApi_configuration: {e}")))?;
                let config = match babe_version {
                    Some(1) => weft_block::babe::decode_configuration_v1(&output),
                    _ => weft_block::babe::decode_configuration(&output),
                }
                .map_err(|e| setup(format!("BabeApi_configuration output: {e}")))?;
                let authorities_output = call_on(&runtime, state.clone(), "GrandpaApi_grandpa_authorities", &[])
                    .map_err(|e| setup(format!("GrandpaApi_grandpa_authorities: {e}")))?;
                let authorities = AuthorityList::decode(&mut &authorities_output[..])
                    .map_err(|e| setup(format!("GRANDPA authorities: {e}")))?;
                let mut grandpa = GrandpaState::genesis(authorities).map_err(|e| setup(format!("GRANDPA set: {e}")))?;
                let mut aux = vec![(AUX_BABE_GENESIS.to_vec(), Some(config.encode()))];
                if base_number > 0 {
                    // A snapshot: the epochs and the set id come from the pallets' storage.
                    grandpa.set.set_id = storage_value::<u64>(&state, "Grandpa", "CurrentSetId")?.unwrap_or(0);
                    let epochs = epoch_state_from_storage(&state, &config)?;
                    aux.push((aux_key(AUX_BABE_PREFIX, &base), Some(epochs.encode())));
                }
                aux.push((aux_key(AUX_GRANDPA_PREFIX, &base), Some(grandpa.encode())));
                store.put_aux(&aux)?;
                tracing::info!(
                    slot_duration = config.slot_duration,
                    epoch_length = config.epoch_length,
                    babe_authorities = config.authorities.len(),
                    grandpa_authorities = grandpa.set.authorities.len(),
                    set_id = grandpa.set.set_id,
                    "consensus configuration read from the runtime at #{base_number}"
                );
                config
            }
        };
        Ok(Importer {
            store,
            executor,
            babe_genesis,
            runtimes: HashMap::new(),
            timings: ImportTimings::default(),
            verify_babe: true,
        })
    }

    /// Turns BABE verification off (it is on by default), for tests and research only:
    /// slot claims and seals are then not checked, which lets a test feed a correctly
    /// sealed block a wrong state root to reach the execution and state-root checks.
    /// Blocks imported this way must not start an epoch (they are rejected if they do).
    pub fn set_babe_verification(&mut self, verify: bool) {
        self.verify_babe = verify;
    }

    /// The store.
    pub fn store(&self) -> &ChainStore {
        &self.store
    }

    /// The executor.
    pub fn executor(&self) -> &Executor {
        &self.executor
    }

    /// Time spent so far, by phase.
    pub fn timings(&self) -> ImportTimings {
        self.timings
    }

    /// The genesis BABE configuration.
    pub fn babe_genesis(&self) -> &BabeConfiguration {
        &self.babe_genesis
    }

    /// The runtime of the state of `hash`.
    pub fn runtime_at(&mut self, hash: &H256) -> Result<Arc<Runtime>, ImportError> {
        if let Some(r) = self.runtimes.get(hash) {
            return Ok(r.clone());
        }
        let start = Instant::now();
        let state = self.store.state_at(hash)?;
        let runtime = load_runtime(&self.executor, &state).map_err(|e| {
            let number = self.store.block_info(hash).ok().flatten().map(|i| i.number).unwrap_or_default();
            ImportError::Rejected { number, hash: *hash, reason: Box::new(RejectReason::Runtime(e)) }
        })?;
        self.timings.runtime_loading += start.elapsed();
        let runtime = Arc::new(runtime);
        self.remember_runtime(*hash, runtime.clone());
        Ok(runtime)
    }

    fn remember_runtime(&mut self, hash: H256, runtime: Arc<Runtime>) {
        if self.runtimes.len() >= RUNTIME_CACHE_BLOCKS {
            self.runtimes.clear();
        }
        self.runtimes.insert(hash, runtime);
    }

    /// The BABE epoch state of a stored block (`None` for the genesis block).
    pub fn epoch_state(&self, hash: &H256) -> Result<Option<EpochState>, ImportError> {
        match self.store.aux(&aux_key(AUX_BABE_PREFIX, hash))? {
            Some(bytes) => EpochState::decode(&mut &bytes[..])
                .map(Some)
                .map_err(|e| ImportError::Store(StoreError::Corrupt(format!("BABE epoch state of {hash}: {e}")))),
            None => Ok(None),
        }
    }

    /// The GRANDPA state of a stored block, with the changes enacted by the blocks
    /// finalized since it was stored.
    pub fn grandpa_state(&self, hash: &H256) -> Result<GrandpaState, ImportError> {
        let bytes = self
            .store
            .aux(&aux_key(AUX_GRANDPA_PREFIX, hash))?
            .ok_or_else(|| ImportError::Store(StoreError::Corrupt(format!("no GRANDPA state for block {hash}"))))?;
        let state = GrandpaState::decode(&mut &bytes[..])
            .map_err(|e| ImportError::Store(StoreError::Corrupt(format!("GRANDPA state of {hash}: {e}"))))?;
        let (finalized, _) = self.store.finalized()?;
        let number = self.store.block_info(hash)?.map(|i| i.number).unwrap_or_default();
        // Changes enacted by finality apply to descendants of the finalized block only.
        if number >= finalized {
            state
                .on_finalized(finalized)
                .map_err(|e| ImportError::Store(StoreError::Corrupt(format!("GRANDPA state of {hash}: {e}"))))
        } else {
            Ok(state)
        }
    }

    /// Verifies, executes and commits a block. See the crate documentation.
    pub fn import_block(
        &mut self,
        block: &Block,
        justifications: Option<&Justifications>,
    ) -> Result<ImportOutcome, ImportError> {
        let header = &block.header;
        let hash = header.hash();
        let number = header.number;
        let span = tracing::debug_span!("import", number, %hash);
        let _enter = span.enter();
        let reject = |reason: RejectReason| ImportError::Rejected { number, hash, reason: Box::new(reason) };

        if self.store.contains(&hash)? {
            let mut outcome = ImportOutcome {
                hash,
                number,
                already_known: true,
                is_best: self.store.best()?.1 == hash,
                finalized: false,
                runtime_upgraded: false,
            };
            if let Some(j) = justifications.and_then(|j| j.grandpa()) {
                if self.store.finalized()?.0 < number {
                    self.finalize_with(&hash, number, j)?;
                    outcome.finalized = true;
                }
            }
            return Ok(outcome);
        }

        // 1. Header checks.
        let start = Instant::now();
        let parent = self
            .store
            .block_info(&header.parent_hash)?
            .ok_or_else(|| reject(RejectReason::UnknownParent(header.parent_hash)))?;
        if parent.number.checked_add(1) != Some(number) {
            return Err(reject(RejectReason::BadNumber { parent: parent.number }));
        }
        let parent_runtime = match self.runtime_at(&header.parent_hash) {
            Ok(r) => r,
            Err(ImportError::Store(StoreError::StatePruned { .. })) => {
                return Err(reject(RejectReason::ParentStatePruned(header.parent_hash)))
            }
            Err(e) => return Err(e),
        };
        if !block.body_matches_header(parent_runtime.state_version) {
            return Err(reject(RejectReason::ExtrinsicsRoot));
        }

        // 2. BABE.
        let parent_epochs = self.epoch_state(&header.parent_hash)?;
        let babe = if self.verify_babe {
            verify_header(parent_epochs.as_ref(), &self.babe_genesis, header).map_err(|e| reject(e.into()))?
        } else {
            unverified_babe(parent_epochs.as_ref(), header).map_err(|e| reject(e.into()))?
        };

        // 3. GRANDPA digests.
        let parent_grandpa = self.grandpa_state(&header.parent_hash)?;
        let grandpa = parent_grandpa.apply_block(header).map_err(|e| reject(e.into()))?;

        // A justification given with the block is checked before anything is written.
        let justification = justifications.and_then(|j| j.grandpa());
        if let Some(bytes) = justification {
            self.verify_justification_bytes(&grandpa, &hash, number, bytes)?;
        }
        self.timings.verification += start.elapsed();

        // 4. Execution on the parent's state.
        let start = Instant::now();
        let (pre_header, _seal) = header.without_seal();
        let input = Block { header: pre_header, extrinsics: block.extrinsics.clone() }.encode();
        let parent_state = self.store.state_at(&header.parent_hash)?;
        let mut ext = Externalities::new(Arc::new(parent_state));
        if let Err(e) = parent_runtime.module.call_with("Core_execute_block", &input, &mut ext) {
            let message = match ext.last_error_log.take() {
                Some(log) => format!("{e} (runtime said: {log})"),
                None => e.to_string(),
            };
            return Err(reject(RejectReason::Execution(message)));
        }
        let changes = ext.changes();
        self.timings.execution += start.elapsed();

        // 5 and 6. State root and commit.
        let start = Instant::now();
        let (best_number, best_hash) = self.store.best()?;
        let best_weight = self.store.block_info(&best_hash)?.map(|i| i.chain_weight).unwrap_or(0);
        let chain_weight = parent.chain_weight + u64::from(babe.weight);
        let is_best = (chain_weight, number) > (best_weight, best_number);
        let commit = BlockCommit {
            header,
            body: Some(&block.extrinsics),
            justifications: None,
            changes: &changes,
            state_version: parent_runtime.state_version,
            chain_weight,
            set_best: is_best,
            aux: vec![
                (aux_key(AUX_BABE_PREFIX, &hash), Some(babe.state.encode())),
                (aux_key(AUX_GRANDPA_PREFIX, &hash), Some(grandpa.encode())),
            ],
        };
        match self.store.commit_block(commit) {
            Ok(_) => {}
            Err(StoreError::StateRootMismatch { computed, expected, .. }) => {
                return Err(reject(RejectReason::StateRoot { computed, expected }))
            }
            Err(e) => return Err(e.into()),
        }
        self.timings.commit += start.elapsed();
        self.timings.blocks += 1;

        let runtime_upgraded =
            changes.main.contains_key(&b":code"[..]) || changes.main.contains_key(&b":heappages"[..]);
        if runtime_upgraded {
            tracing::info!(number, %hash, "runtime upgraded: children execute with the new code");
        } else {
            self.remember_runtime(hash, parent_runtime);
        }

        // 7. Finality.
        let mut finalized = false;
        if let Some(bytes) = justification {
            self.store.finalize(&hash, Some((GRANDPA_ENGINE_ID, bytes.to_vec())))?;
            finalized = true;
        }
        tracing::debug!(number, %hash, slot = babe.slot, claim = %babe.claim, is_best, "imported");
        Ok(ImportOutcome { hash, number, already_known: false, is_best, finalized, runtime_upgraded })
    }

    fn verify_justification_bytes(
        &self,
        state: &GrandpaState,
        hash: &H256,
        number: BlockNumber,
        bytes: &[u8],
    ) -> Result<(), ImportError> {
        let reject = |reason: RejectReason| ImportError::Rejected { number, hash: *hash, reason: Box::new(reason) };
        let justification =
            decode_justification(bytes).map_err(|e| reject(RejectReason::JustificationDecode(e.to_string())))?;
        let verified = verify_justification(&justification, &state.set).map_err(|e| reject(e.into()))?;
        if verified.target_hash != *hash || verified.target_number != number {
            return Err(reject(RejectReason::JustificationTarget {
                number: verified.target_number,
                hash: verified.target_hash,
            }));
        }
        Ok(())
    }

    fn finalize_with(&mut self, hash: &H256, number: BlockNumber, bytes: &[u8]) -> Result<(), ImportError> {
        let state = self.grandpa_state(hash)?;
        self.verify_justification_bytes(&state, hash, number, bytes)?;
        self.store.finalize(hash, Some((GRANDPA_ENGINE_ID, bytes.to_vec())))?;
        Ok(())
    }

    /// Verifies a GRANDPA justification for a stored block and finalizes it.
    pub fn import_justification(&mut self, hash: &H256, justification: &[u8]) -> Result<(), ImportError> {
        let info = self.store.block_info(hash)?.ok_or(StoreError::UnknownBlock(*hash))?;
        self.finalize_with(hash, info.number, justification)
    }

    /// Re-executes a stored block on its parent's state and checks its state root,
    /// writing nothing. Returns the time the execution took.
    pub fn check_block(&mut self, hash: &H256) -> Result<Duration, ImportError> {
        let header = self.store.header(hash)?.ok_or(StoreError::UnknownBlock(*hash))?;
        let number = header.number;
        let reject = |reason: RejectReason| ImportError::Rejected { number, hash: *hash, reason: Box::new(reason) };
        let body = self.store.body(hash)?.ok_or_else(|| reject(RejectReason::MissingBody))?;
        let runtime = self.runtime_at(&header.parent_hash)?;
        let parent_state = self.store.state_at(&header.parent_hash)?;
        let (pre_header, _) = header.without_seal();
        let input = Block { header: pre_header, extrinsics: body }.encode();
        let backend = Arc::new(parent_state.clone());
        let mut ext = Externalities::new(backend.clone());
        let start = Instant::now();
        runtime.module.call_with("Core_execute_block", &input, &mut ext).map_err(|e| {
            let log = ext.last_error_log.clone().map(|l| format!(" (runtime said: {l})")).unwrap_or_default();
            reject(RejectReason::Execution(format!("{e}{log}")))
        })?;
        let elapsed = start.elapsed();
        let root = ext
            .overlay
            .storage_root(&*backend, runtime.state_version)
            .map_err(|e| reject(RejectReason::Execution(e.to_string())))?;
        if root != header.state_root.to_bytes() {
            return Err(reject(RejectReason::StateRoot { computed: H256(root), expected: header.state_root }));
        }
        Ok(elapsed)
    }
}

/// A storage value of a FRAME pallet (`twox128(pallet) ++ twox128(item)`).
fn storage_value<T: Decode>(state: &StateView, pallet: &str, item: &str) -> Result<Option<T>, ImportError> {
    let key =
        [weft_crypto::hashing::twox_128(pallet.as_bytes()), weft_crypto::hashing::twox_128(item.as_bytes())].concat();
    match state.get(&key).map_err(|e| setup(format!("{pallet}.{item}: {e}")))? {
        None => Ok(None),
        Some(bytes) => {
            T::decode(&mut &bytes[..]).map(Some).map_err(|e| setup(format!("{pallet}.{item} does not decode: {e}")))
        }
    }
}

/// The BABE epochs of a state snapshot's block, from the BABE pallet's storage
/// (`EpochIndex`, `GenesisSlot`, `CurrentSlot`, `Authorities`, `Randomness`,
/// `NextAuthorities`, `NextRandomness`, `EpochConfig`, `NextEpochConfig`), with the
/// configuration's `c` and allowed slots where the pallet stores no epoch configuration.
fn epoch_state_from_storage(state: &StateView, config: &BabeConfiguration) -> Result<EpochState, ImportError> {
    use weft_block::babe::{BabeAuthority, BabeEpochConfiguration};
    use weft_consensus::babe::Epoch;
    let missing = |item: &str| setup(format!("the snapshot has no Babe.{item}: cannot verify BABE from it"));
    let epoch_index = storage_value::<u64>(state, "Babe", "EpochIndex")?.unwrap_or(0);
    let genesis_slot = storage_value::<u64>(state, "Babe", "GenesisSlot")?.ok_or_else(|| missing("GenesisSlot"))?;
    let slot = storage_value::<u64>(state, "Babe", "CurrentSlot")?.ok_or_else(|| missing("CurrentSlot"))?;
    let authorities =
        storage_value::<Vec<BabeAuthority>>(state, "Babe", "Authorities")?.ok_or_else(|| missing("Authorities"))?;
    let randomness = storage_value::<[u8; 32]>(state, "Babe", "Randomness")?.unwrap_or_default();
    let next_authorities =
        storage_value::<Vec<BabeAuthority>>(state, "Babe", "NextAuthorities")?.unwrap_or_else(|| authorities.clone());
    let next_randomness = storage_value::<[u8; 32]>(state, "Babe", "NextRandomness")?.unwrap_or_default();
    let epoch_config = storage_value::<BabeEpochConfiguration>(state, "Babe", "EpochConfig")?
        .unwrap_or_else(|| config.epoch_configuration());
    let next_config =
        storage_value::<BabeEpochConfiguration>(state, "Babe", "NextEpochConfig")?.unwrap_or(epoch_config);
    let duration = config.epoch_length;
    let start_slot = epoch_index
        .checked_mul(duration)
        .and_then(|s| s.checked_add(genesis_slot))
        .ok_or_else(|| setup("BABE epoch start slot overflows"))?;
    let current = Epoch { epoch_index, start_slot, duration, authorities, randomness, config: epoch_config };
    let next = Epoch {
        epoch_index: epoch_index + 1,
        start_slot: start_slot.saturating_add(duration),
        duration,
        authorities: next_authorities,
        randomness: next_randomness,
        config: next_config,
    };
    Ok(EpochState { slot, current, next })
}

/// The BABE facts of a header taken on trust (BABE verification turned off): the slot
/// from the pre-digest, the parent's epochs, weight 0.
fn unverified_babe(parent: Option<&EpochState>, header: &Header) -> Result<VerifiedBabe, BabeError> {
    let pre_digest = header.babe_digests()?.pre_digest.ok_or(BabeError::MissingPreDigest)?;
    let parent = parent.ok_or(BabeError::MissingParentState { number: header.number })?;
    let slot = pre_digest.slot();
    let (epoch, first) = parent.epoch_for_child(slot)?;
    if first {
        return Err(BabeError::MissingParentState { number: header.number });
    }
    Ok(VerifiedBabe {
        state: EpochState { slot, current: epoch.clone(), next: parent.next.clone() },
        slot,
        epoch_index: epoch.epoch_index,
        authority_index: pre_digest.authority_index(),
        author: [0; 32],
        claim: ClaimKind::SecondaryPlain,
        weight: 0,
        epoch_change: false,
    })
}

/// Initializes a store with the genesis of a raw chain spec (if it is empty) and returns
/// the genesis hash. The genesis state version is the genesis runtime's (its
/// `runtime_version` section, else a `Core_version` call).
pub fn initialize_from_spec(
    store: &ChainStore,
    executor: &Executor,
    spec: &weft_chain_spec::ChainSpec,
) -> Result<H256, ImportError> {
    let storage = spec.genesis_storage().ok_or_else(|| {
        setup(format!("chain spec `{}` has no raw genesis storage (a light spec cannot start a full node)", spec.id))
    })?;
    let code = storage.top.get(&b":code"[..]).ok_or_else(|| setup("genesis storage has no `:code`"))?;
    let version = executor.runtime_version(code).map_err(|e| setup(format!("genesis runtime version: {e}")))?;
    let state_version = if version.trie_state_version() == 0 { StateVersion::V0 } else { StateVersion::V1 };
    let genesis = spec.build_genesis(state_version).map_err(|e| setup(format!("genesis: {e}")))?;
    let hash = store.initialize_genesis(&genesis.header, &storage.top, &storage.children_default, state_version)?;
    Ok(hash)
}

/// Starts an empty store from a state snapshot (`state_getPairs` key/value pairs of the
/// main trie) of the parent of `first`, the first block to import: the parent becomes the
/// store's first block. The snapshot is proved by importing `first`, whose execution on it
/// must give `first`'s state root. BABE epochs and the GRANDPA set id are read from the
/// snapshot's pallet storage; GRANDPA changes pending at the snapshot are not known.
pub fn initialize_from_snapshot(
    store: &ChainStore,
    executor: &Executor,
    spec: &weft_chain_spec::ChainSpec,
    first: &Header,
    pairs: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
) -> Result<H256, ImportError> {
    let number =
        first.number.checked_sub(1).ok_or_else(|| setup("a state snapshot cannot be the parent of genesis"))?;
    let code = pairs.get(&b":code"[..]).ok_or_else(|| setup("the state snapshot has no `:code`"))?;
    let version = executor.runtime_version(code).map_err(|e| setup(format!("snapshot runtime version: {e}")))?;
    let state_version = if version.trie_state_version() == 0 { StateVersion::V0 } else { StateVersion::V1 };
    let genesis_state_version = match spec.genesis_storage().and_then(|g| g.top.get(&b":code"[..])) {
        Some(code) => executor.runtime_version(code).map(|v| v.trie_state_version()).unwrap_or(0),
        None => 0,
    };
    let fallback = if genesis_state_version == 0 { StateVersion::V0 } else { StateVersion::V1 };
    let genesis = spec.build_genesis(fallback).map_err(|e| setup(format!("genesis: {e}")))?.header.hash();
    let root =
        store.initialize_checkpoint(genesis, first.parent_hash, number, pairs, &Default::default(), state_version)?;
    Ok(root)
}

/// Decodes a header and its body as given in files and messages (bounded decoders).
pub fn decode_block(header: &[u8], extrinsics: &[Vec<u8>]) -> Result<Block, String> {
    let header: Header = weft_block::decode_header(header).map_err(|e| format!("header: {e}"))?;
    let extrinsics = extrinsics
        .iter()
        .enumerate()
        .map(|(i, x)| weft_block::decode_extrinsic(x).map_err(|e| format!("extrinsic {i}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Block { header, extrinsics })
}

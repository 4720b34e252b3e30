//! What a runtime call can reach besides its memory: the state (backend and
//! overlay), the keystore and, for offchain calls, the offchain context.

use crate::overlay::{InMemoryBackend, OverlayedChanges, SharedState, StorageChanges};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use weft_crypto::{ecdsa, ed25519, sr25519};

/// A key type id, such as `*b"babe"` or `*b"gran"`.
pub type KeyTypeId = [u8; 4];

/// Everything a runtime call works on besides its own memory.
///
/// A call takes the externalities, writes into the overlay, and gives them
/// back: several calls can share one overlay (as a block's calls do), and the
/// caller reads the changes at the end with [`OverlayedChanges::changes`].
/// A call that fails leaves the overlay as it found it.
pub struct Externalities {
    /// The state the call reads (the parent block's state).
    pub state: SharedState,
    /// The writes of the calls made so far.
    pub overlay: OverlayedChanges,
    /// Keys for `ext_crypto_*_{public_keys,generate,sign}`.
    pub keystore: Keystore,
    /// Present for offchain calls only: the `ext_offchain_*` functions (other
    /// than the offchain index) trap without it.
    pub offchain: Option<OffchainContext>,
    /// The last message the runtime logged at error level (a panicking runtime
    /// logs its panic message this way before trapping), for error reports.
    pub last_error_log: Option<String>,
}

impl Default for Externalities {
    fn default() -> Self {
        Externalities::new(Arc::new(InMemoryBackend::default()))
    }
}

impl std::fmt::Debug for Externalities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Externalities")
            .field("overlay", &self.overlay)
            .field("offchain", &self.offchain.is_some())
            .finish_non_exhaustive()
    }
}

impl Externalities {
    /// Externalities over `state`, with an empty overlay, an empty keystore and
    /// no offchain context.
    pub fn new(state: SharedState) -> Self {
        Externalities {
            state,
            overlay: OverlayedChanges::new(),
            keystore: Keystore::default(),
            offchain: None,
            last_error_log: None,
        }
    }

    /// Uses `keystore` for the crypto functions.
    pub fn with_keystore(mut self, keystore: Keystore) -> Self {
        self.keystore = keystore;
        self
    }

    /// Enables the offchain functions.
    pub fn with_offchain(mut self, offchain: OffchainContext) -> Self {
        self.offchain = Some(offchain);
        self
    }

    /// The changes made so far.
    pub fn changes(&self) -> StorageChanges {
        self.overlay.changes()
    }
}

/// The keystore failed to create a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeystoreError {
    #[error("invalid seed: {0}")]
    InvalidSeed(String),
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[derive(Default)]
struct KeystoreInner {
    ed25519: BTreeMap<(KeyTypeId, [u8; 32]), ed25519::Pair>,
    sr25519: BTreeMap<(KeyTypeId, [u8; 32]), sr25519::Pair>,
    ecdsa: BTreeMap<(KeyTypeId, [u8; 33]), ecdsa::Pair>,
}

/// An in-memory keystore, shared by its clones. Keys are listed sorted by
/// public key.
#[derive(Clone, Default)]
pub struct Keystore {
    inner: Arc<Mutex<KeystoreInner>>,
}

impl std::fmt::Debug for Keystore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = lock(&self.inner);
        f.debug_struct("Keystore")
            .field("ed25519", &inner.ed25519.len())
            .field("sr25519", &inner.sr25519.len())
            .field("ecdsa", &inner.ecdsa.len())
            .finish()
    }
}

fn random_seed() -> [u8; 32] {
    rand::random()
}

impl Keystore {
    /// An empty keystore.
    pub fn new() -> Self {
        Self::default()
    }

    /// Creates an ed25519 key from a secret URI (a mnemonic, `//Alice`, a hex
    /// seed...) or at random, stores it and returns its public key.
    pub fn ed25519_generate(&self, key_type: KeyTypeId, seed: Option<&str>) -> Result<ed25519::Public, KeystoreError> {
        let pair = match seed {
            Some(seed) => {
                ed25519::Pair::from_string(seed, None).map_err(|e| KeystoreError::InvalidSeed(e.to_string()))?
            }
            None => ed25519::Pair::from_seed(&random_seed()),
        };
        let public = pair.public();
        lock(&self.inner).ed25519.insert((key_type, public.0), pair);
        Ok(public)
    }

    /// Public ed25519 keys of a key type.
    pub fn ed25519_public_keys(&self, key_type: KeyTypeId) -> Vec<ed25519::Public> {
        lock(&self.inner).ed25519.keys().filter(|(t, _)| *t == key_type).map(|(_, k)| ed25519::Public(*k)).collect()
    }

    /// Signs with a stored ed25519 key, if present.
    pub fn ed25519_sign(
        &self,
        key_type: KeyTypeId,
        public: &ed25519::Public,
        message: &[u8],
    ) -> Option<ed25519::Signature> {
        lock(&self.inner).ed25519.get(&(key_type, public.0)).map(|pair| pair.sign(message))
    }

    /// Creates an sr25519 key (see [`Keystore::ed25519_generate`]).
    pub fn sr25519_generate(&self, key_type: KeyTypeId, seed: Option<&str>) -> Result<sr25519::Public, KeystoreError> {
        let pair = match seed {
            Some(seed) => {
                sr25519::Pair::from_string(seed, None).map_err(|e| KeystoreError::InvalidSeed(e.to_string()))?
            }
            None => sr25519::Pair::from_seed(&random_seed()),
        };
        let public = pair.public();
        lock(&self.inner).sr25519.insert((key_type, public.0), pair);
        Ok(public)
    }

    /// Public sr25519 keys of a key type.
    pub fn sr25519_public_keys(&self, key_type: KeyTypeId) -> Vec<sr25519::Public> {
        lock(&self.inner).sr25519.keys().filter(|(t, _)| *t == key_type).map(|(_, k)| sr25519::Public(*k)).collect()
    }

    /// Signs with a stored sr25519 key, if present.
    pub fn sr25519_sign(
        &self,
        key_type: KeyTypeId,
        public: &sr25519::Public,
        message: &[u8],
    ) -> Option<sr25519::Signature> {
        lock(&self.inner).sr25519.get(&(key_type, public.0)).map(|pair| pair.sign(message))
    }

    /// Creates an ECDSA key (see [`Keystore::ed25519_generate`]).
    pub fn ecdsa_generate(&self, key_type: KeyTypeId, seed: Option<&str>) -> Result<ecdsa::Public, KeystoreError> {
        let pair = match seed {
            Some(seed) => {
                ecdsa::Pair::from_string(seed, None).map_err(|e| KeystoreError::InvalidSeed(e.to_string()))?
            }
            None => loop {
                // A random scalar is out of range with probability ~2^-128.
                if let Ok(pair) = ecdsa::Pair::from_seed(&random_seed()) {
                    break pair;
                }
            },
        };
        let public = pair.public();
        lock(&self.inner).ecdsa.insert((key_type, public.0), pair);
        Ok(public)
    }

    /// Public ECDSA keys (compressed) of a key type.
    pub fn ecdsa_public_keys(&self, key_type: KeyTypeId) -> Vec<ecdsa::Public> {
        lock(&self.inner).ecdsa.keys().filter(|(t, _)| *t == key_type).map(|(_, k)| ecdsa::Public(*k)).collect()
    }

    /// Signs `blake2_256(message)` with a stored ECDSA key, if present.
    pub fn ecdsa_sign(&self, key_type: KeyTypeId, public: &ecdsa::Public, message: &[u8]) -> Option<ecdsa::Signature> {
        lock(&self.inner).ecdsa.get(&(key_type, public.0)).map(|pair| pair.sign(message))
    }

    /// Signs a 32-byte hash with a stored ECDSA key, if present.
    pub fn ecdsa_sign_prehashed(
        &self,
        key_type: KeyTypeId,
        public: &ecdsa::Public,
        hash: &[u8; 32],
    ) -> Option<ecdsa::Signature> {
        lock(&self.inner).ecdsa.get(&(key_type, public.0)).map(|pair| pair.sign_prehashed(hash))
    }
}

/// Kind of offchain local storage (`StorageKind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OffchainStorageKind {
    /// `PERSISTENT` (1): shared between workers, survives restarts.
    Persistent,
    /// `LOCAL` (2): local to the node.
    Local,
}

impl OffchainStorageKind {
    /// From the runtime's `u32`; other values are invalid.
    pub fn from_u32(kind: u32) -> Option<Self> {
        match kind {
            1 => Some(Self::Persistent),
            2 => Some(Self::Local),
            _ => None,
        }
    }
}

type OffchainMap = BTreeMap<(OffchainStorageKind, Vec<u8>), Vec<u8>>;

/// The offchain workers' local storage, in memory and shared by its clones.
#[derive(Clone, Default)]
pub struct OffchainStorage {
    inner: Arc<Mutex<OffchainMap>>,
}

impl std::fmt::Debug for OffchainStorage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OffchainStorage").field("entries", &lock(&self.inner).len()).finish()
    }
}

impl OffchainStorage {
    /// The value of `key`.
    pub fn get(&self, kind: OffchainStorageKind, key: &[u8]) -> Option<Vec<u8>> {
        lock(&self.inner).get(&(kind, key.to_vec())).cloned()
    }

    /// Sets `key`.
    pub fn set(&self, kind: OffchainStorageKind, key: &[u8], value: &[u8]) {
        lock(&self.inner).insert((kind, key.to_vec()), value.to_vec());
    }

    /// Removes `key`.
    pub fn clear(&self, kind: OffchainStorageKind, key: &[u8]) {
        lock(&self.inner).remove(&(kind, key.to_vec()));
    }

    /// Sets `key` to `new` if its current value is `old` (`None`: absent);
    /// returns whether it did.
    pub fn compare_and_set(&self, kind: OffchainStorageKind, key: &[u8], old: Option<&[u8]>, new: &[u8]) -> bool {
        let mut map = lock(&self.inner);
        let entry = (kind, key.to_vec());
        if map.get(&entry).map(Vec::as_slice) != old {
            return false;
        }
        map.insert(entry, new.to_vec());
        true
    }
}

/// What an offchain call (`OffchainWorkerApi_offchain_worker`, or a call
/// given offchain capabilities) can use.
///
/// HTTP is not supported: `http_request_start` returns an error, so the
/// runtime never gets a request id; the other HTTP functions answer
/// `IoError`/`Invalid`. `network_state` returns an error too.
#[derive(Debug, Clone, Default)]
pub struct OffchainContext {
    /// Answer of `ext_offchain_is_validator`.
    pub is_validator: bool,
    /// The local storage.
    pub storage: OffchainStorage,
    /// Transactions passed to `ext_offchain_submit_transaction`, in order, for
    /// the caller to hand to the transaction pool.
    pub submitted_transactions: Vec<Vec<u8>>,
}

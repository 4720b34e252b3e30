//! The node key: the ed25519 key that identifies the node on the network. Its public key
//! gives the node's [`PeerId`]; its secret is what Noise handshakes are authenticated
//! with.
//!
//! Formats, as in Substrate:
//! * the key file (`<base path>/chains/<id>/network/secret_ed25519` in Substrate) holds the
//!   32 raw secret bytes; a file holding the secret as 64 hex characters (optionally with
//!   `0x` and surrounding whitespace) is read too. New files are written raw, with
//!   permissions 0600;
//! * `--node-key` takes the secret as 64 hex characters.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};

use libp2p::identity::{self, Keypair};
use libp2p::PeerId;

/// Length of an ed25519 secret key.
pub const SECRET_LEN: usize = 32;

/// Why a node key could not be read, parsed or written.
#[derive(Debug, thiserror::Error)]
pub enum NodeKeyError {
    /// Reading or writing the key file failed.
    #[error("node key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The secret is neither 32 raw bytes nor 64 hex characters.
    #[error("node key is {len} bytes: expected 32 raw bytes or 64 hex characters")]
    BadLength {
        /// Length of what was given.
        len: usize,
    },
    /// The secret has the length of a hex secret but is not hex.
    #[error("node key is not valid hex: {0}")]
    BadHex(String),
    /// libp2p refused the key.
    #[error("invalid ed25519 node key: {0}")]
    Invalid(String),
}

/// An ed25519 node key. `Debug` never shows the secret.
#[derive(Clone)]
pub struct NodeKey {
    keypair: Keypair,
    secret: [u8; SECRET_LEN],
}

impl fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NodeKey").field("peer_id", &self.peer_id()).finish_non_exhaustive()
    }
}

impl NodeKey {
    /// A new random key (from the operating system's RNG).
    pub fn generate() -> Self {
        let ed25519 = identity::ed25519::Keypair::generate();
        let mut secret = [0u8; SECRET_LEN];
        secret.copy_from_slice(ed25519.secret().as_ref());
        NodeKey { keypair: Keypair::from(ed25519), secret }
    }

    /// The key with these 32 secret bytes.
    pub fn from_secret(secret: [u8; SECRET_LEN]) -> Result<Self, NodeKeyError> {
        let mut copy = secret;
        let keypair = Keypair::ed25519_from_bytes(&mut copy).map_err(|e| NodeKeyError::Invalid(e.to_string()))?;
        Ok(NodeKey { keypair, secret })
    }

    /// Parses a secret given as 64 hex characters (`--node-key`), with or without `0x`,
    /// surrounding whitespace ignored.
    pub fn from_hex(hex: &str) -> Result<Self, NodeKeyError> {
        let trimmed = hex.trim();
        let digits = trimmed.strip_prefix("0x").unwrap_or(trimmed);
        if digits.len() != 2 * SECRET_LEN {
            return Err(NodeKeyError::BadLength { len: digits.len() });
        }
        let mut secret = [0u8; SECRET_LEN];
        hex::decode_to_slice(digits, &mut secret).map_err(|e| NodeKeyError::BadHex(e.to_string()))?;
        Self::from_secret(secret)
    }

    /// Parses the contents of a key file: 32 raw bytes, or the secret in hex (64
    /// characters, optional `0x` and whitespace), as Substrate reads `secret_ed25519`.
    pub fn from_file_bytes(bytes: &[u8]) -> Result<Self, NodeKeyError> {
        if let Ok(secret) = <[u8; SECRET_LEN]>::try_from(bytes) {
            return Self::from_secret(secret);
        }
        match std::str::from_utf8(bytes) {
            Ok(text) if looks_like_hex_secret(text) => Self::from_hex(text),
            _ => Err(NodeKeyError::BadLength { len: bytes.len() }),
        }
    }

    /// Reads a key file (see [`NodeKey::from_file_bytes`]).
    pub fn load(path: &Path) -> Result<Self, NodeKeyError> {
        let bytes = std::fs::read(path).map_err(|source| NodeKeyError::Io { path: path.to_path_buf(), source })?;
        Self::from_file_bytes(&bytes)
    }

    /// Writes the 32 raw secret bytes to a new file with permissions 0600 (on Unix),
    /// creating the parent directories. An existing file is not overwritten.
    pub fn save(&self, path: &Path) -> Result<(), NodeKeyError> {
        let io = |source| NodeKeyError::Io { path: path.to_path_buf(), source };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        file.write_all(&self.secret).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// The secret as 64 lowercase hex characters (the form `--node-key` takes).
    pub fn secret_hex(&self) -> String {
        hex::encode(self.secret)
    }

    /// The 32 secret bytes.
    pub fn secret_bytes(&self) -> &[u8; SECRET_LEN] {
        &self.secret
    }

    /// The node's peer id.
    pub fn peer_id(&self) -> PeerId {
        self.keypair.public().to_peer_id()
    }

    /// The libp2p keypair.
    pub fn keypair(&self) -> &Keypair {
        &self.keypair
    }
}

fn looks_like_hex_secret(text: &str) -> bool {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix("0x").unwrap_or(trimmed);
    digits.len() == 2 * SECRET_LEN
}

/// Generates a node key: its secret in hex and its peer id (`weft key generate-node-key`).
pub fn generate_node_key() -> (String, PeerId) {
    let key = NodeKey::generate();
    (key.secret_hex(), key.peer_id())
}

/// The peer id of a secret given as in a key file: 32 raw bytes or 64 hex characters
/// (`weft key inspect-node-key`).
pub fn inspect_node_key(secret: &[u8]) -> Result<PeerId, NodeKeyError> {
    NodeKey::from_file_bytes(secret).map(|key| key.peer_id())
}

/// Parses `--node-key` hex.
pub fn parse_node_key(hex: &str) -> Result<NodeKey, NodeKeyError> {
    NodeKey::from_hex(hex)
}

/// Loads the key file at `path`, or generates a key and saves it there (0600) if the
/// file does not exist.
pub fn load_or_generate(path: &Path) -> Result<NodeKey, NodeKeyError> {
    match std::fs::metadata(path) {
        Ok(_) => NodeKey::load(path),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = NodeKey::generate();
            key.save(path)?;
            tracing::info!(path = %path.display(), peer_id = %key.peer_id(), "generated a new node key");
            Ok(key)
        }
        Err(source) => Err(NodeKeyError::Io { path: path.to_path_buf(), source }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Secret 0x01..=0x20 and its peer id, computed with libp2p's own key derivation.
    const SECRET_HEX: &str = "0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20";

    fn secret() -> [u8; 32] {
        let mut s = [0u8; 32];
        for (i, b) in s.iter_mut().enumerate() {
            *b = i as u8 + 1;
        }
        s
    }

    #[test]
    fn hex_raw_and_file_forms_agree() {
        let raw = NodeKey::from_secret(secret()).unwrap();
        let hex = NodeKey::from_hex(SECRET_HEX).unwrap();
        assert_eq!(raw.peer_id(), hex.peer_id());
        assert_eq!(hex.secret_hex(), SECRET_HEX);
        assert_eq!(NodeKey::from_hex(&format!(" 0x{SECRET_HEX}\n")).unwrap().peer_id(), raw.peer_id());
        assert_eq!(inspect_node_key(&secret()).unwrap(), raw.peer_id());
        assert_eq!(inspect_node_key(format!("{SECRET_HEX}\n").as_bytes()).unwrap(), raw.peer_id());
        // An ed25519 peer id is the identity multihash of the protobuf public key.
        assert!(raw.peer_id().to_base58().starts_with("12D3KooW"));
        assert!(!format!("{raw:?}").contains(SECRET_HEX));
    }

    #[test]
    fn bad_secrets() {
        assert!(matches!(NodeKey::from_hex("00"), Err(NodeKeyError::BadLength { len: 2 })));
        assert!(matches!(NodeKey::from_hex(&"zz".repeat(32)), Err(NodeKeyError::BadHex(_))));
        assert!(matches!(inspect_node_key(&[0; 33]), Err(NodeKeyError::BadLength { len: 33 })));
        assert!(matches!(inspect_node_key(&[0xff; 64]), Err(NodeKeyError::BadLength { len: 64 })));
    }

    #[test]
    fn generate_is_random_and_consistent() {
        let (hex1, id1) = generate_node_key();
        let (hex2, id2) = generate_node_key();
        assert_ne!(id1, id2);
        assert_ne!(hex1, hex2);
        assert_eq!(parse_node_key(&hex1).unwrap().peer_id(), id1);
    }

    #[test]
    fn load_or_generate_persists_with_0600() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("network").join("secret_ed25519");
        let first = load_or_generate(&path).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 32);
        assert_eq!(&bytes[..], first.secret_bytes());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let second = load_or_generate(&path).unwrap();
        assert_eq!(first.peer_id(), second.peer_id());
        // Saving over an existing file is refused.
        assert!(matches!(second.save(&path), Err(NodeKeyError::Io { .. })));
        // A hex key file is read too.
        let hex_path = dir.path().join("hex_key");
        std::fs::write(&hex_path, format!("{SECRET_HEX}\n")).unwrap();
        assert_eq!(NodeKey::load(&hex_path).unwrap().peer_id(), NodeKey::from_secret(secret()).unwrap().peer_id());
    }
}

//! The JSON block files of `weft import-blocks` and `weft export-blocks`:
//!
//! ```json
//! {"blocks": [{"number": 1, "hash": "0x..", "header_hex": "0x..",
//!              "body_extrinsics_hex": ["0x..", ...],
//!              "justifications": [["FRNK", "0x.."]]}]}
//! ```
//!
//! Only `header_hex` and `body_extrinsics_hex` are required (each extrinsic SCALE-encoded,
//! with its length prefix); `number` and `hash`, when present, must agree with the header.
//! `justifications` is a list of `[engine id, hex]` pairs, or a single hex string taken as
//! a GRANDPA justification. Files larger than [`MAX_FILE_BYTES`] are refused.

use crate::decode_block;
use serde::{Deserialize, Serialize};
use weft_block::{Block, Justifications, GRANDPA_ENGINE_ID};

/// Largest blocks file read (1 GiB).
pub const MAX_FILE_BYTES: u64 = 1 << 30;

/// One block of a blocks file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileBlock {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
    pub header_hex: String,
    #[serde(default)]
    pub body_extrinsics_hex: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justifications: Option<FileJustifications>,
}

/// Justifications of a block in a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FileJustifications {
    /// A GRANDPA justification.
    Grandpa(String),
    /// `[engine id, hex]` pairs.
    List(Vec<(String, String)>),
}

/// A blocks file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlocksFile {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub blocks: Vec<FileBlock>,
}

fn unhex(what: &str, s: &str) -> Result<Vec<u8>, String> {
    hex::decode(s.trim().trim_start_matches("0x")).map_err(|e| format!("{what}: bad hex: {e}"))
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

impl BlocksFile {
    /// Reads and parses a file.
    pub fn read(path: &std::path::Path) -> Result<Self, String> {
        let meta = std::fs::metadata(path).map_err(|e| format!("{}: {e}", path.display()))?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(format!("{}: {} bytes, more than the {MAX_FILE_BYTES} accepted", path.display(), meta.len()));
        }
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_slice(&bytes).map_err(|e| format!("{}: not a blocks file: {e}", path.display()))
    }

    /// The blocks, decoded and checked against their `number` and `hash` fields.
    pub fn decode(&self) -> Result<Vec<(Block, Option<Justifications>)>, String> {
        self.blocks
            .iter()
            .enumerate()
            .map(|(i, b)| b.decode().map_err(|e| format!("block {i} of the file: {e}")))
            .collect()
    }

    /// Writes the file (pretty-printed).
    pub fn write(&self, path: &std::path::Path) -> Result<(), String> {
        let json = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("{}: {e}", path.display()))
    }
}

impl FileBlock {
    /// Decodes the block.
    pub fn decode(&self) -> Result<(Block, Option<Justifications>), String> {
        let header = unhex("header_hex", &self.header_hex)?;
        let body =
            self.body_extrinsics_hex.iter().map(|x| unhex("body_extrinsics_hex", x)).collect::<Result<Vec<_>, _>>()?;
        let block = decode_block(&header, &body)?;
        if let Some(n) = self.number {
            if n != u64::from(block.header.number) {
                return Err(format!("`number` {n} but the header is #{}", block.header.number));
            }
        }
        if let Some(h) = &self.hash {
            let hash = block.header.hash();
            if unhex("hash", h)? != hash.as_bytes() {
                return Err(format!("`hash` {h} but the header hashes to {hash}"));
            }
        }
        let justifications = match &self.justifications {
            None => None,
            Some(FileJustifications::Grandpa(h)) => {
                Some(Justifications::new(GRANDPA_ENGINE_ID, unhex("justification", h)?))
            }
            Some(FileJustifications::List(list)) => {
                let mut j = Justifications::default();
                for (engine, h) in list {
                    let id: [u8; 4] =
                        engine.as_bytes().try_into().map_err(|_| format!("engine id `{engine}` is not 4 bytes"))?;
                    j.insert(id, unhex("justification", h)?);
                }
                Some(j)
            }
        };
        Ok((block, justifications))
    }

    /// A file entry for a block.
    pub fn from_block(block: &Block, justifications: Option<&Justifications>) -> Self {
        FileBlock {
            number: Some(u64::from(block.header.number)),
            hash: Some(hex0x(block.header.hash().as_bytes())),
            header_hex: hex0x(&parity_scale_codec::Encode::encode(&block.header)),
            body_extrinsics_hex: block.extrinsics.iter().map(|x| hex0x(&x.encoded())).collect(),
            justifications: justifications.filter(|j| !j.is_empty()).map(|j| {
                FileJustifications::List(
                    j.iter().map(|(id, bytes)| (String::from_utf8_lossy(&id).into_owned(), hex0x(bytes))).collect(),
                )
            }),
        }
    }
}

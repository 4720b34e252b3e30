//! Chain specifications and the genesis block they define.
//!
//! This crate owns the parsing of Substrate chain-spec JSON files in the forms
//! live networks publish:
//!
//! * **raw** specs, whose `genesis.raw` holds the whole genesis storage, either as
//!   `{"top": {..}, "childrenDefault": {..}}` or in the old list form
//!   `[top, children]`;
//! * **light** specs, whose genesis is only a `stateRootHash`, usually with a
//!   `lightSyncState` finality checkpoint.
//!
//! It builds the genesis header (zero parent, number 0, the state root, the
//! empty-trie extrinsics root, an empty digest) and its hash. The trie version
//! of the genesis state comes from the genesis runtime's version, read from the
//! Wasm `runtime_version` custom section of `:code` when present; otherwise the
//! caller's choice (default V0). It never executes the runtime.
//!
//! Non-raw specs (`runtime`, `runtimeGenesis` with a genesis config or patch) need
//! the runtime's `GenesisBuilder` API: [`ChainSpec::from_json_bytes`] rejects
//! them with a clear error, and [`ChainSpec::runtime_genesis_from_json_bytes`]
//! hands out a `runtimeGenesis` spec's code and JSON for the caller to build
//! (`weft build-spec --chain <spec> --raw` does).
//!
//! Specs are written in the reference node's layout by [`write_spec`] (raw
//! or `runtimeGenesis` genesis).
//!
//! Input is untrusted: every failure is an error naming the offending field,
//! never a panic, and files are bounded by [`MAX_SPEC_SIZE`].

mod writer;

pub use writer::{spec_to_string, write_spec, RuntimeGenesisKind, SpecGenesis, SpecHeader};

use serde::Deserialize;
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use weft_block::{Digest, Header, H256};
use weft_runtime_blob::RuntimeVersion;
use weft_trie::StateVersion;

/// Largest chain-spec file accepted (the Polkadot spec is about 10 MB).
pub const MAX_SPEC_SIZE: usize = 512 * 1024 * 1024;

/// Storage key of the runtime code.
pub const CODE_KEY: &[u8] = b":code";
/// Storage key of the heap pages value.
pub const HEAP_PAGES_KEY: &[u8] = b":heappages";

/// A storage map: key to value, sorted.
pub type StorageMap = BTreeMap<Vec<u8>, Vec<u8>>;

/// Errors while reading a chain spec.
#[derive(Debug, thiserror::Error)]
pub enum ChainSpecError {
    #[error("cannot read chain spec {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("chain spec is {size} bytes, more than the limit of {limit}")]
    TooLarge { size: usize, limit: usize },
    #[error("chain spec is not valid JSON: {0}")]
    Json(String),
    #[error("chain spec field `{field}` is not valid: {reason}")]
    BadField { field: String, reason: String },
    #[error("chain spec field `{field}` holds invalid hex ({value}): {reason}")]
    BadHex { field: String, value: String, reason: String },
    #[error("chain spec has no genesis: expected `genesis.raw` or `genesis.stateRootHash`")]
    NoGenesis,
    #[error(
        "chain spec genesis is in the `{0}` form, not raw; convert it with `weft build-spec --chain <spec> --raw`"
    )]
    NotRaw(String),
    #[error("cannot read the genesis runtime's version: {0}")]
    RuntimeVersion(#[from] weft_runtime_blob::BlobError),
    #[error("runtime declares unknown state version {0}")]
    UnknownStateVersion(u8),
}

/// The genesis of a chain: its full storage, or only the hash of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Genesis {
    /// Full genesis storage (`genesis.raw`).
    Raw(GenesisStorage),
    /// Only the state root (`genesis.stateRootHash`, light specs).
    StateRootHash([u8; 32]),
}

/// The genesis storage of a raw spec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GenesisStorage {
    /// The main trie.
    pub top: StorageMap,
    /// Default child tries, keyed by child key (without `:child_storage:default:`).
    pub children_default: BTreeMap<Vec<u8>, StorageMap>,
}

/// A finality checkpoint that lets a node start near the tip (`lightSyncState`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LightSyncState {
    /// The finalized header of the checkpoint.
    pub finalized_block_header: Header,
    /// SCALE-encoded BABE epoch changes (opaque here).
    pub babe_epoch_changes: Vec<u8>,
    /// BABE weight of the finalized block.
    pub babe_finalized_block_weight: u64,
    /// SCALE-encoded GRANDPA authority set (opaque here).
    pub grandpa_authority_set: Vec<u8>,
}

/// A parsed chain specification.
#[derive(Debug, Clone)]
pub struct ChainSpec {
    pub name: String,
    pub id: String,
    /// `Development`, `Local`, `Live` or a custom name.
    pub chain_type: Option<String>,
    pub boot_nodes: Vec<String>,
    pub telemetry_endpoints: Vec<(String, u8)>,
    pub protocol_id: Option<String>,
    pub fork_id: Option<String>,
    pub properties: serde_json::Map<String, serde_json::Value>,
    /// Runtime code to use instead of the on-chain one, from a block number on.
    pub code_substitutes: BTreeMap<u64, Vec<u8>>,
    pub bad_blocks: Vec<[u8; 32]>,
    pub fork_blocks: Vec<(u64, [u8; 32])>,
    /// Parachain specs: the para id and the relay chain's id.
    pub para_id: Option<u32>,
    pub relay_chain: Option<String>,
    pub genesis: Genesis,
    pub light_sync_state: Option<LightSyncState>,
}

// ---- JSON shapes -------------------------------------------------------------

type JsonMap<'a> = BTreeMap<Cow<'a, str>, Cow<'a, str>>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SpecJson<'a> {
    name: String,
    id: String,
    #[serde(default)]
    chain_type: Option<serde_json::Value>,
    #[serde(default)]
    boot_nodes: Option<Vec<String>>,
    #[serde(default)]
    telemetry_endpoints: Option<Vec<(String, u8)>>,
    #[serde(default)]
    protocol_id: Option<String>,
    #[serde(default)]
    fork_id: Option<String>,
    #[serde(default)]
    properties: Option<serde_json::Map<String, serde_json::Value>>,
    #[serde(default, borrow)]
    code_substitutes: Option<JsonMap<'a>>,
    #[serde(default)]
    bad_blocks: Option<Vec<String>>,
    #[serde(default)]
    fork_blocks: Option<Vec<(u64, String)>>,
    #[serde(default, alias = "para_id")]
    para_id: Option<u32>,
    #[serde(default, alias = "relay_chain")]
    relay_chain: Option<String>,
    #[serde(borrow)]
    genesis: Option<GenesisJson<'a>>,
    #[serde(default)]
    light_sync_state: Option<LightSyncStateJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenesisJson<'a> {
    #[serde(default, borrow)]
    raw: Option<&'a RawValue>,
    #[serde(default)]
    state_root_hash: Option<String>,
    #[serde(default, borrow)]
    runtime: Option<&'a RawValue>,
    #[serde(default, borrow)]
    runtime_genesis: Option<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMapJson<'a> {
    #[serde(borrow)]
    top: JsonMap<'a>,
    #[serde(default, borrow)]
    children_default: BTreeMap<Cow<'a, str>, JsonMap<'a>>,
}

/// A child trie in the old list form: either a plain map or `{ "data": map, .. }`.
#[derive(Deserialize)]
#[serde(untagged)]
enum OldChildJson<'a> {
    WithData {
        #[serde(borrow)]
        data: JsonMap<'a>,
    },
    Plain(#[serde(borrow)] JsonMap<'a>),
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LightSyncStateJson {
    finalized_block_header: String,
    babe_epoch_changes: String,
    babe_finalized_block_weight: u64,
    grandpa_authority_set: String,
}

#[derive(Deserialize)]
struct RuntimeGenesisJson<'a> {
    code: String,
    #[serde(default, borrow)]
    patch: Option<&'a RawValue>,
    #[serde(default, borrow)]
    config: Option<&'a RawValue>,
}

// ---- helpers -----------------------------------------------------------------

/// Reads a chain spec file (bounded by [`MAX_SPEC_SIZE`]).
pub fn read_spec_file(path: &std::path::Path) -> Result<Vec<u8>, ChainSpecError> {
    let io_err = |source| ChainSpecError::Io { path: path.display().to_string(), source };
    let size = std::fs::metadata(path).map_err(io_err)?.len();
    if size > MAX_SPEC_SIZE as u64 {
        return Err(ChainSpecError::TooLarge { size: size as usize, limit: MAX_SPEC_SIZE });
    }
    std::fs::read(path).map_err(io_err)
}

fn parse_spec_json(bytes: &[u8]) -> Result<SpecJson<'_>, ChainSpecError> {
    if bytes.len() > MAX_SPEC_SIZE {
        return Err(ChainSpecError::TooLarge { size: bytes.len(), limit: MAX_SPEC_SIZE });
    }
    serde_json::from_slice(bytes).map_err(|e| ChainSpecError::Json(e.to_string()))
}

fn short(value: &str) -> String {
    if value.len() > 24 {
        format!("{}…", &value[..value.char_indices().nth(20).map(|(i, _)| i).unwrap_or(value.len())])
    } else {
        value.to_string()
    }
}

fn decode_hex(field: &str, value: &str) -> Result<Vec<u8>, ChainSpecError> {
    let digits = value.strip_prefix("0x").unwrap_or(value);
    hex::decode(digits).map_err(|e| ChainSpecError::BadHex {
        field: field.to_string(),
        value: short(value),
        reason: e.to_string(),
    })
}

fn decode_hash(field: &str, value: &str) -> Result<[u8; 32], ChainSpecError> {
    let bytes = decode_hex(field, value)?;
    <[u8; 32]>::try_from(bytes.as_slice()).map_err(|_| ChainSpecError::BadField {
        field: field.to_string(),
        reason: format!("expected 32 bytes, found {}", bytes.len()),
    })
}

fn decode_storage_map(field: &str, map: &JsonMap<'_>) -> Result<StorageMap, ChainSpecError> {
    let mut out = StorageMap::new();
    for (k, v) in map {
        let key = decode_hex(&format!("{field} key"), k)?;
        let value = decode_hex(&format!("{field}[{}]", short(k)), v)?;
        out.insert(key, value);
    }
    Ok(out)
}

fn strip_child_prefix(key: Vec<u8>) -> Vec<u8> {
    match key.strip_prefix(weft_trie::CHILD_STORAGE_DEFAULT_PREFIX) {
        Some(rest) => rest.to_vec(),
        None => key,
    }
}

fn parse_raw(raw: &RawValue) -> Result<GenesisStorage, ChainSpecError> {
    let text = raw.get().trim_start();
    let json_err = |e: serde_json::Error| ChainSpecError::Json(format!("in `genesis.raw`: {e}"));
    if text.starts_with('[') {
        // Old form: [top, children?].
        let parts: Vec<&RawValue> = serde_json::from_str(text).map_err(json_err)?;
        if parts.is_empty() || parts.len() > 2 {
            return Err(ChainSpecError::BadField {
                field: "genesis.raw".into(),
                reason: format!("list form must hold [top] or [top, children], found {} items", parts.len()),
            });
        }
        let top_json: JsonMap<'_> = serde_json::from_str(parts[0].get()).map_err(json_err)?;
        let top = decode_storage_map("genesis.raw[0]", &top_json)?;
        let mut children_default = BTreeMap::new();
        if let Some(children) = parts.get(1) {
            let children: BTreeMap<Cow<'_, str>, OldChildJson<'_>> =
                serde_json::from_str(children.get()).map_err(json_err)?;
            for (child_key, child) in &children {
                let key = strip_child_prefix(decode_hex("genesis.raw[1] child key", child_key)?);
                let data = match child {
                    OldChildJson::WithData { data } | OldChildJson::Plain(data) => data,
                };
                children_default.insert(key, decode_storage_map("genesis.raw[1]", data)?);
            }
        }
        Ok(GenesisStorage { top, children_default })
    } else {
        let map: RawMapJson<'_> = serde_json::from_str(text).map_err(json_err)?;
        let top = decode_storage_map("genesis.raw.top", &map.top)?;
        let mut children_default = BTreeMap::new();
        for (child_key, child) in &map.children_default {
            let key = strip_child_prefix(decode_hex("genesis.raw.childrenDefault key", child_key)?);
            children_default.insert(key, decode_storage_map("genesis.raw.childrenDefault", child)?);
        }
        Ok(GenesisStorage { top, children_default })
    }
}

impl ChainSpec {
    /// Reads and parses a chain spec file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, ChainSpecError> {
        Self::from_json_bytes(&read_spec_file(path)?)
    }

    /// Parses a chain spec from JSON bytes.
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, ChainSpecError> {
        let mut json = parse_spec_json(bytes)?;
        let genesis_json = json.genesis.take().ok_or(ChainSpecError::NoGenesis)?;
        let genesis = if let Some(raw) = genesis_json.raw {
            Genesis::Raw(parse_raw(raw)?)
        } else if let Some(root) = &genesis_json.state_root_hash {
            Genesis::StateRootHash(decode_hash("genesis.stateRootHash", root)?)
        } else if genesis_json.runtime_genesis.is_some() {
            return Err(ChainSpecError::NotRaw("runtimeGenesis".into()));
        } else if genesis_json.runtime.is_some() {
            return Err(ChainSpecError::NotRaw("runtime".into()));
        } else {
            return Err(ChainSpecError::NoGenesis);
        };
        Self::with_genesis(json, genesis)
    }

    /// Parses a non-raw chain spec, whose genesis is the runtime's genesis
    /// JSON (`genesis.runtimeGenesis` with `code` and a `patch` or a `config`),
    /// into the rest of the spec and that genesis, for building through the
    /// runtime's GenesisBuilder API.
    pub fn runtime_genesis_from_json_bytes(bytes: &[u8]) -> Result<(SpecHeader, RuntimeGenesis), ChainSpecError> {
        let mut json = parse_spec_json(bytes)?;
        let genesis_json = json.genesis.take().ok_or(ChainSpecError::NoGenesis)?;
        let Some(runtime_genesis) = genesis_json.runtime_genesis else {
            let form = if genesis_json.raw.is_some() {
                "raw"
            } else if genesis_json.state_root_hash.is_some() {
                "stateRootHash"
            } else if genesis_json.runtime.is_some() {
                "runtime"
            } else {
                return Err(ChainSpecError::NoGenesis);
            };
            return Err(ChainSpecError::BadField {
                field: "genesis".into(),
                reason: format!("expected the `runtimeGenesis` form, found `{form}`"),
            });
        };
        let inner: RuntimeGenesisJson<'_> = serde_json::from_str(runtime_genesis.get())
            .map_err(|e| ChainSpecError::Json(format!("in `genesis.runtimeGenesis`: {e}")))?;
        let (kind, json_value) = match (inner.patch, inner.config) {
            (Some(patch), None) => (RuntimeGenesisKind::Patch, patch),
            (None, Some(config)) => (RuntimeGenesisKind::Config, config),
            _ => {
                return Err(ChainSpecError::BadField {
                    field: "genesis.runtimeGenesis".into(),
                    reason: "expected exactly one of `patch` and `config`".into(),
                })
            }
        };
        let genesis = RuntimeGenesis {
            code: decode_hex("genesis.runtimeGenesis.code", &inner.code)?,
            kind,
            json: json_value.get().to_string(),
        };
        // The genesis field of the returned header is not used.
        let spec = Self::with_genesis(json, Genesis::StateRootHash([0; 32]))?;
        Ok((spec.header(), genesis))
    }

    /// The fields of this spec other than its genesis, for writing it.
    pub fn header(&self) -> SpecHeader {
        SpecHeader {
            name: self.name.clone(),
            id: self.id.clone(),
            chain_type: self.chain_type.clone().unwrap_or_else(|| "Live".into()),
            boot_nodes: self.boot_nodes.clone(),
            telemetry_endpoints: Some(self.telemetry_endpoints.clone()).filter(|t| !t.is_empty()),
            protocol_id: self.protocol_id.clone(),
            fork_id: self.fork_id.clone(),
            properties: Some(self.properties.clone()).filter(|p| !p.is_empty()),
            relay_chain: self.relay_chain.clone(),
            para_id: self.para_id,
            code_substitutes: self.code_substitutes.clone(),
        }
    }

    fn with_genesis(json: SpecJson<'_>, genesis: Genesis) -> Result<Self, ChainSpecError> {
        let mut code_substitutes = BTreeMap::new();
        for (number, code) in json.code_substitutes.iter().flatten() {
            let n: u64 = number.parse().map_err(|_| ChainSpecError::BadField {
                field: "codeSubstitutes".into(),
                reason: format!("key `{}` is not a block number", short(number)),
            })?;
            code_substitutes.insert(n, decode_hex(&format!("codeSubstitutes[{n}]"), code)?);
        }
        let bad_blocks = json
            .bad_blocks
            .unwrap_or_default()
            .iter()
            .map(|h| decode_hash("badBlocks", h))
            .collect::<Result<Vec<_>, _>>()?;
        let fork_blocks = json
            .fork_blocks
            .unwrap_or_default()
            .iter()
            .map(|(n, h)| Ok((*n, decode_hash("forkBlocks", h)?)))
            .collect::<Result<Vec<_>, ChainSpecError>>()?;
        let light_sync_state = json.light_sync_state.map(parse_light_sync_state).transpose()?;
        let chain_type = match json.chain_type {
            None | Some(serde_json::Value::Null) => None,
            Some(serde_json::Value::String(s)) => Some(s),
            // `{"Custom": "name"}`
            Some(serde_json::Value::Object(o)) => o.values().next().and_then(|v| v.as_str()).map(str::to_string),
            Some(other) => {
                return Err(ChainSpecError::BadField {
                    field: "chainType".into(),
                    reason: format!("unexpected {other}"),
                })
            }
        };

        Ok(ChainSpec {
            name: json.name,
            id: json.id,
            chain_type,
            boot_nodes: json.boot_nodes.unwrap_or_default(),
            telemetry_endpoints: json.telemetry_endpoints.unwrap_or_default(),
            protocol_id: json.protocol_id,
            fork_id: json.fork_id,
            properties: json.properties.unwrap_or_default(),
            code_substitutes,
            bad_blocks,
            fork_blocks,
            para_id: json.para_id,
            relay_chain: json.relay_chain,
            genesis,
            light_sync_state,
        })
    }

    /// The genesis storage, for raw specs.
    pub fn genesis_storage(&self) -> Option<&GenesisStorage> {
        match &self.genesis {
            Genesis::Raw(storage) => Some(storage),
            Genesis::StateRootHash(_) => None,
        }
    }

    /// The genesis runtime code (`:code`), for raw specs.
    pub fn genesis_code(&self) -> Option<&[u8]> {
        self.genesis_storage().and_then(|s| s.top.get(CODE_KEY)).map(Vec::as_slice)
    }

    /// The version of the genesis runtime, when its code carries the
    /// `runtime_version` custom section (`Ok(None)` otherwise, or for light specs).
    pub fn genesis_runtime_version(&self) -> Result<Option<RuntimeVersion>, ChainSpecError> {
        match self.genesis_code() {
            Some(code) => Ok(weft_runtime_blob::runtime_version_of_code(code)?),
            None => Ok(None),
        }
    }

    /// Builds the genesis block. `fallback_version` is used when the genesis
    /// runtime's version cannot be read from its custom sections.
    pub fn build_genesis(&self, fallback_version: StateVersion) -> Result<GenesisInfo, ChainSpecError> {
        match &self.genesis {
            Genesis::StateRootHash(root) => Ok(GenesisInfo {
                header: genesis_header(*root),
                state_version: None,
                runtime_version: None,
                top_keys: None,
                child_tries: None,
            }),
            Genesis::Raw(storage) => {
                let runtime_version = self.genesis_runtime_version()?;
                let state_version = match runtime_version.as_ref().and_then(|v| v.state_version) {
                    Some(0) => StateVersion::V0,
                    Some(1..=2) => StateVersion::V1,
                    Some(other) => return Err(ChainSpecError::UnknownStateVersion(other)),
                    None if runtime_version.is_some() => StateVersion::V0,
                    None => fallback_version,
                };
                let root = weft_trie::state_root_with_children(state_version, &storage.top, &storage.children_default);
                Ok(GenesisInfo {
                    header: genesis_header(root),
                    state_version: Some(state_version),
                    runtime_version,
                    top_keys: Some(storage.top.len()),
                    child_tries: Some(storage.children_default.len()),
                })
            }
        }
    }
}

fn parse_light_sync_state(json: LightSyncStateJson) -> Result<LightSyncState, ChainSpecError> {
    let header_bytes = decode_hex("lightSyncState.finalizedBlockHeader", &json.finalized_block_header)?;
    let finalized_block_header = weft_block::decode_header(&header_bytes).map_err(|e| ChainSpecError::BadField {
        field: "lightSyncState.finalizedBlockHeader".into(),
        reason: e.to_string(),
    })?;
    Ok(LightSyncState {
        finalized_block_header,
        babe_epoch_changes: decode_hex("lightSyncState.babeEpochChanges", &json.babe_epoch_changes)?,
        babe_finalized_block_weight: json.babe_finalized_block_weight,
        grandpa_authority_set: decode_hex("lightSyncState.grandpaAuthoritySet", &json.grandpa_authority_set)?,
    })
}

/// The genesis header for a state root: zero parent, number 0, empty-trie
/// extrinsics root, empty digest.
pub fn genesis_header(state_root: [u8; 32]) -> Header {
    Header {
        parent_hash: H256::ZERO,
        number: 0,
        state_root: H256::new(state_root),
        extrinsics_root: H256::new(weft_trie::EMPTY_TRIE_ROOT),
        digest: Digest::default(),
    }
}

/// The genesis of a non-raw spec (`genesis.runtimeGenesis`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeGenesis {
    /// The runtime code (becomes `:code`).
    pub code: Vec<u8>,
    /// Whether `json` is a patch to the runtime's default config or a full config.
    pub kind: RuntimeGenesisKind,
    /// The JSON text, as written in the spec.
    pub json: String,
}

/// What [`ChainSpec::build_genesis`] computed.
#[derive(Debug, Clone)]
pub struct GenesisInfo {
    pub header: Header,
    /// Trie version of the genesis state (raw specs only).
    pub state_version: Option<StateVersion>,
    /// Genesis runtime version, when readable from the code's custom sections.
    pub runtime_version: Option<RuntimeVersion>,
    pub top_keys: Option<usize>,
    pub child_tries: Option<usize>,
}

impl GenesisInfo {
    /// Hash of the genesis block.
    pub fn hash(&self) -> H256 {
        self.header.hash()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"name":"T","id":"t","genesis":{"raw":{"top":{"0x01":"0x02"},"childrenDefault":{}}}}"#;

    #[test]
    fn parses_both_raw_forms_to_the_same_storage() {
        let map = ChainSpec::from_json_bytes(MINIMAL.as_bytes()).unwrap();
        let list = ChainSpec::from_json_bytes(
            br#"{"name":"T","id":"t","genesis":{"raw":[{"0x01":"0x02"},{"0x:child_storage:default:":{}}]}}"#,
        );
        // The child key above is not hex: rejected with the field named.
        let err = list.unwrap_err().to_string();
        assert!(err.contains("genesis.raw[1] child key"), "{err}");
        let list =
            ChainSpec::from_json_bytes(br#"{"name":"T","id":"t","genesis":{"raw":[{"0x01":"0x02"},{}]}}"#).unwrap();
        assert_eq!(map.genesis, list.genesis);
    }

    #[test]
    fn old_list_form_children_with_data() {
        let prefixed = format!("0x{}aa", hex::encode(weft_trie::CHILD_STORAGE_DEFAULT_PREFIX));
        let json = format!(
            r#"{{"name":"T","id":"t","genesis":{{"raw":[{{"0x01":"0x02"}},{{"{prefixed}":{{"data":{{"0x03":"0x04"}},"child_type":1}}}}]}}}}"#
        );
        let spec = ChainSpec::from_json_bytes(json.as_bytes()).unwrap();
        let storage = spec.genesis_storage().unwrap();
        assert_eq!(storage.children_default.get(&vec![0xaa]).unwrap().get(&vec![3]), Some(&vec![4]));
    }

    #[test]
    fn errors_name_the_problem() {
        let truncated = &MINIMAL[..MINIMAL.len() - 10];
        let err = ChainSpec::from_json_bytes(truncated.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("EOF"), "{err}");
        let non_hex = MINIMAL.replace("0x02", "0xzz");
        let err = ChainSpec::from_json_bytes(non_hex.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("genesis.raw.top[0x01]") && err.contains("invalid hex"), "{err}");
        let no_genesis = r#"{"name":"T","id":"t"}"#;
        assert!(matches!(ChainSpec::from_json_bytes(no_genesis.as_bytes()), Err(ChainSpecError::NoGenesis)));
        let not_raw = r#"{"name":"T","id":"t","genesis":{"runtimeGenesis":{"code":"0x00"}}}"#;
        assert!(matches!(ChainSpec::from_json_bytes(not_raw.as_bytes()), Err(ChainSpecError::NotRaw(_))));
        let bad_root = r#"{"name":"T","id":"t","genesis":{"stateRootHash":"0x0102"}}"#;
        let err = ChainSpec::from_json_bytes(bad_root.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("genesis.stateRootHash") && err.contains("32 bytes"), "{err}");
    }

    #[test]
    fn genesis_of_minimal_spec() {
        let spec = ChainSpec::from_json_bytes(MINIMAL.as_bytes()).unwrap();
        let info = spec.build_genesis(StateVersion::V0).unwrap();
        assert_eq!(info.state_version, Some(StateVersion::V0));
        assert_eq!(info.header.number, 0);
        assert_eq!(info.top_keys, Some(1));
    }

    proptest::proptest! {
        #[test]
        fn parser_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400)) {
            let _ = ChainSpec::from_json_bytes(&bytes);
        }

        #[test]
        fn parser_never_panics_on_mutated_spec(pos in 0usize..MINIMAL.len(), byte in proptest::prelude::any::<u8>()) {
            let mut bytes = MINIMAL.as_bytes().to_vec();
            bytes[pos] = byte;
            if let Ok(spec) = ChainSpec::from_json_bytes(&bytes) {
                let _ = spec.build_genesis(StateVersion::V0);
            }
        }
    }
}

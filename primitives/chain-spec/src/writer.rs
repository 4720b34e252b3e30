//! Writing chain specs in the reference node's JSON layout.
//!
//! The top-level fields come in the order the reference writes them (`name`,
//! `id`, `chainType`, `bootNodes`, `telemetryEndpoints`, `protocolId`,
//! `forkId` when set, `properties`, the parachain extension fields
//! `relay_chain`/`para_id` when set, `codeSubstitutes`, `genesis`), indented
//! with two spaces. A raw genesis is `{"raw": {"top": {..}, "childrenDefault": {..}}}`
//! with `0x`-prefixed hex keys and values in key order, child tries keyed by
//! their full `:child_storage:default:` key; a non-raw one is
//! `{"runtimeGenesis": {"code": "0x..", "patch"|"config": {..}}}`.
//! Everything is streamed to the writer, so a spec with a large `:code` is
//! never held twice in memory.

use crate::{GenesisStorage, StorageMap};
use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// Everything in a chain spec besides its genesis.
#[derive(Debug, Clone)]
pub struct SpecHeader {
    pub name: String,
    pub id: String,
    /// `Development`, `Local`, `Live`, or a custom name (written as `{"Custom": name}`).
    pub chain_type: String,
    pub boot_nodes: Vec<String>,
    pub telemetry_endpoints: Option<Vec<(String, u8)>>,
    pub protocol_id: Option<String>,
    pub fork_id: Option<String>,
    pub properties: Option<serde_json::Map<String, serde_json::Value>>,
    pub relay_chain: Option<String>,
    pub para_id: Option<u32>,
    pub code_substitutes: BTreeMap<u64, Vec<u8>>,
}

impl SpecHeader {
    /// A header with the given name, id and chain type and nothing else.
    pub fn new(name: impl Into<String>, id: impl Into<String>, chain_type: impl Into<String>) -> Self {
        SpecHeader {
            name: name.into(),
            id: id.into(),
            chain_type: chain_type.into(),
            boot_nodes: Vec::new(),
            telemetry_endpoints: None,
            protocol_id: None,
            fork_id: None,
            properties: None,
            relay_chain: None,
            para_id: None,
            code_substitutes: BTreeMap::new(),
        }
    }
}

/// Which JSON a non-raw genesis carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeGenesisKind {
    /// A patch to the runtime's default config (`"patch"`).
    Patch,
    /// A full config (`"config"`).
    Config,
}

/// The genesis section to write; `J` is the type of the runtime genesis JSON
/// (a `serde_json::Value`, or a lossless JSON type).
pub enum SpecGenesis<'a, J: Serialize = serde_json::Value> {
    /// The whole genesis storage (`genesis.raw`).
    Raw(&'a GenesisStorage),
    /// Runtime code with a genesis config or patch for its GenesisBuilder API
    /// (`genesis.runtimeGenesis`).
    RuntimeGenesis { code: &'a [u8], kind: RuntimeGenesisKind, json: &'a J },
}

fn hex0x(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 + bytes.len() * 2);
    out.push_str("0x");
    out.push_str(&hex::encode(bytes));
    out
}

struct HexBytes<'a>(&'a [u8]);

impl Serialize for HexBytes<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&hex0x(self.0))
    }
}

struct HexMap<'a>(&'a StorageMap);

impl Serialize for HexMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in self.0 {
            map.serialize_entry(&HexBytes(key), &HexBytes(value))?;
        }
        map.end()
    }
}

struct ChildrenMap<'a>(&'a BTreeMap<Vec<u8>, StorageMap>);

impl Serialize for ChildrenMap<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Keyed by the full prefixed key; sorted by it (the prefix is shared).
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (child, data) in self.0 {
            map.serialize_entry(&HexBytes(&weft_trie::child_storage_key(child)), &HexMap(data))?;
        }
        map.end()
    }
}

struct RawGenesisJson<'a>(&'a GenesisStorage);

impl Serialize for RawGenesisJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut raw = serializer.serialize_struct("RawGenesis", 2)?;
        raw.serialize_field("top", &HexMap(&self.0.top))?;
        raw.serialize_field("childrenDefault", &ChildrenMap(&self.0.children_default))?;
        raw.end()
    }
}

struct ChainTypeJson<'a>(&'a str);

impl Serialize for ChainTypeJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            "Development" | "Local" | "Live" => serializer.serialize_str(self.0),
            custom => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("Custom", custom)?;
                map.end()
            }
        }
    }
}

/// Writes a chain spec as indented JSON (with a final newline).
pub fn write_spec<J: Serialize>(
    header: &SpecHeader,
    genesis: &SpecGenesis<'_, J>,
    out: &mut dyn std::io::Write,
) -> Result<(), serde_json::Error> {
    let mut ser = serde_json::Serializer::with_formatter(out, serde_json::ser::PrettyFormatter::with_indent(b"  "));
    let code_substitutes: BTreeMap<String, HexBytes<'_>> =
        header.code_substitutes.iter().map(|(n, code)| (n.to_string(), HexBytes(code))).collect();
    let spec = SpecJson { header, code_substitutes, genesis };
    spec.serialize(&mut ser)?;
    let out = ser.into_inner();
    out.write_all(b"\n").map_err(serde_json::Error::io)
}

/// Writes a chain spec to a string (see [`write_spec`]).
pub fn spec_to_string<J: Serialize>(
    header: &SpecHeader,
    genesis: &SpecGenesis<'_, J>,
) -> Result<String, serde_json::Error> {
    let mut out = Vec::new();
    write_spec(header, genesis, &mut out)?;
    Ok(String::from_utf8(out).expect("serde_json writes UTF-8"))
}

struct SpecJson<'a, J: Serialize> {
    header: &'a SpecHeader,
    code_substitutes: BTreeMap<String, HexBytes<'a>>,
    genesis: &'a SpecGenesis<'a, J>,
}

impl<J: Serialize> Serialize for SpecJson<'_, J> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let h = self.header;
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("name", &h.name)?;
        map.serialize_entry("id", &h.id)?;
        map.serialize_entry("chainType", &ChainTypeJson(&h.chain_type))?;
        map.serialize_entry("bootNodes", &h.boot_nodes)?;
        map.serialize_entry("telemetryEndpoints", &h.telemetry_endpoints)?;
        map.serialize_entry("protocolId", &h.protocol_id)?;
        if let Some(fork_id) = &h.fork_id {
            map.serialize_entry("forkId", fork_id)?;
        }
        map.serialize_entry("properties", &h.properties)?;
        if let Some(relay_chain) = &h.relay_chain {
            map.serialize_entry("relay_chain", relay_chain)?;
        }
        if let Some(para_id) = &h.para_id {
            map.serialize_entry("para_id", para_id)?;
        }
        map.serialize_entry("codeSubstitutes", &self.code_substitutes)?;
        map.serialize_entry("genesis", &GenesisJsonOut(self.genesis))?;
        map.end()
    }
}

struct GenesisJsonOut<'a, J: Serialize>(&'a SpecGenesis<'a, J>);

struct RuntimeGenesisJson<'a, J: Serialize> {
    code: &'a [u8],
    kind: RuntimeGenesisKind,
    json: &'a J,
}

impl<J: Serialize> Serialize for RuntimeGenesisJson<'_, J> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(2))?;
        let key = match self.kind {
            RuntimeGenesisKind::Patch => "patch",
            RuntimeGenesisKind::Config => "config",
        };
        map.serialize_entry(key, self.json)?;
        map.serialize_entry("code", &HexBytes(self.code))?;
        map.end()
    }
}

impl<J: Serialize> Serialize for GenesisJsonOut<'_, J> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        match self.0 {
            SpecGenesis::Raw(storage) => map.serialize_entry("raw", &RawGenesisJson(storage))?,
            SpecGenesis::RuntimeGenesis { code, kind, json } => {
                map.serialize_entry("runtimeGenesis", &RuntimeGenesisJson { code, kind: *kind, json: *json })?
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ChainSpec, Genesis};
    use weft_trie::StateVersion;

    fn storage() -> GenesisStorage {
        let mut top = StorageMap::new();
        top.insert(b":heappages".to_vec(), 64u64.to_le_bytes().to_vec());
        top.insert(vec![0x01, 0x02], vec![0xff]);
        let mut child = StorageMap::new();
        child.insert(vec![7], vec![8, 9]);
        let mut children_default = BTreeMap::new();
        children_default.insert(b"kid".to_vec(), child);
        GenesisStorage { top, children_default }
    }

    #[test]
    fn raw_spec_round_trips_through_the_parser() {
        let mut header = SpecHeader::new("Test", "test", "Local");
        header.properties = Some(serde_json::from_str(r#"{"tokenSymbol":"T"}"#).unwrap());
        header.code_substitutes.insert(5, vec![1, 2]);
        let storage = storage();
        let text = spec_to_string(&header, &SpecGenesis::<serde_json::Value>::Raw(&storage)).unwrap();
        let spec = ChainSpec::from_json_bytes(text.as_bytes()).unwrap();
        assert_eq!(spec.name, "Test");
        assert_eq!(spec.chain_type.as_deref(), Some("Local"));
        assert_eq!(spec.code_substitutes.get(&5), Some(&vec![1, 2]));
        assert_eq!(spec.genesis, Genesis::Raw(storage.clone()));
        let info = spec.build_genesis(StateVersion::V1).unwrap();
        assert_eq!(info.top_keys, Some(2));
        // Field order as the reference writes it, child tries under their prefixed key.
        let order: Vec<usize> = [
            "\"name\"",
            "\"id\"",
            "\"chainType\"",
            "\"bootNodes\"",
            "\"telemetryEndpoints\"",
            "\"protocolId\"",
            "\"properties\"",
            "\"codeSubstitutes\"",
            "\"genesis\"",
            "\"raw\"",
            "\"top\"",
            "\"childrenDefault\"",
        ]
        .iter()
        .map(|field| text.find(field).unwrap_or_else(|| panic!("{field} missing")))
        .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(text.contains(&format!("\"0x{}\"", hex::encode(b":child_storage:default:kid"))));
        assert!(text.ends_with("}\n"));
    }

    #[test]
    fn custom_chain_type_and_runtime_genesis() {
        let header = SpecHeader::new("T", "t", "Mine");
        let patch = serde_json::json!({"balances": {"balances": [["5Grw", 1u64]]}});
        let genesis = SpecGenesis::RuntimeGenesis { code: &[0xab], kind: RuntimeGenesisKind::Patch, json: &patch };
        let text = spec_to_string(&header, &genesis).unwrap();
        let value: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(value["chainType"], serde_json::json!({"Custom": "Mine"}));
        assert_eq!(value["genesis"]["runtimeGenesis"]["code"], "0xab");
        assert_eq!(value["genesis"]["runtimeGenesis"]["patch"], patch);
        let err = ChainSpec::from_json_bytes(text.as_bytes()).unwrap_err();
        assert!(matches!(err, crate::ChainSpecError::NotRaw(_)), "{err}");
        // The non-raw reader gives back the header, code and JSON.
        let (read_header, genesis) = ChainSpec::runtime_genesis_from_json_bytes(text.as_bytes()).unwrap();
        assert_eq!(read_header.chain_type, "Mine");
        assert_eq!(read_header.name, "T");
        assert_eq!(genesis.code, vec![0xab]);
        assert_eq!(genesis.kind, RuntimeGenesisKind::Patch);
        assert_eq!(serde_json::from_str::<serde_json::Value>(&genesis.json).unwrap(), patch);
        // Other forms are named.
        let raw = r#"{"name":"T","id":"t","genesis":{"raw":{"top":{}}}}"#;
        let err = ChainSpec::runtime_genesis_from_json_bytes(raw.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("found `raw`"), "{err}");
        let both = r#"{"name":"T","id":"t","genesis":{"runtimeGenesis":{"code":"0x00","patch":{},"config":{}}}}"#;
        let err = ChainSpec::runtime_genesis_from_json_bytes(both.as_bytes()).unwrap_err().to_string();
        assert!(err.contains("exactly one of `patch` and `config`"), "{err}");
    }
}

//! Protocol names, as negotiated by multistream-select.
//!
//! A chain's protocols are named after its genesis hash, as lowercase hex without
//! `0x`, optionally followed by the chain spec's fork id:
//! `/<genesis>[/<fork id>]/<protocol>`. Each protocol is also offered under a legacy
//! fallback name built from the chain spec's `protocolId` (`/<protocol id>/<protocol>`),
//! except GRANDPA whose legacy name is the fixed `/paritytech/grandpa/1`.
//!
//! Newer polkadot-sdk nodes serve the light-client protocol as `/light/3` and keep
//! `/light/2` (this crate's format) as a fallback name.

use weft_block::H256;

/// The protocols whose names depend on the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// Block requests (`sync/2`).
    Sync,
    /// State requests (`state/2`).
    State,
    /// Light-client requests (`light/2`).
    Light,
    /// GRANDPA warp-sync proofs (`sync/warp`).
    SyncWarp,
    /// Block announces (`block-announces/1`).
    BlockAnnounces,
    /// Transactions (`transactions/1`).
    Transactions,
    /// GRANDPA gossip (`grandpa/1`).
    Grandpa,
    /// Kademlia DHT (`kad`).
    Kad,
}

/// Legacy name of the GRANDPA protocol, the same for every chain.
pub const LEGACY_GRANDPA_PROTOCOL: &str = "/paritytech/grandpa/1";

impl Protocol {
    /// Every protocol.
    pub const ALL: [Protocol; 8] = [
        Protocol::Sync,
        Protocol::State,
        Protocol::Light,
        Protocol::SyncWarp,
        Protocol::BlockAnnounces,
        Protocol::Transactions,
        Protocol::Grandpa,
        Protocol::Kad,
    ];

    /// The part of the name after the chain prefix.
    pub const fn suffix(self) -> &'static str {
        match self {
            Protocol::Sync => "sync/2",
            Protocol::State => "state/2",
            Protocol::Light => "light/2",
            Protocol::SyncWarp => "sync/warp",
            Protocol::BlockAnnounces => "block-announces/1",
            Protocol::Transactions => "transactions/1",
            Protocol::Grandpa => "grandpa/1",
            Protocol::Kad => "kad",
        }
    }

    /// The name for the chain with this genesis hash and fork id.
    pub fn name(self, genesis_hash: &H256, fork_id: Option<&str>) -> String {
        format!("{}/{}", chain_prefix(genesis_hash, fork_id), self.suffix())
    }

    /// The legacy fallback name from the chain spec's `protocolId`
    /// ([`LEGACY_GRANDPA_PROTOCOL`] for GRANDPA, whatever the id).
    pub fn legacy_name(self, protocol_id: &str) -> String {
        match self {
            Protocol::Grandpa => LEGACY_GRANDPA_PROTOCOL.to_string(),
            _ => format!("/{}/{}", protocol_id, self.suffix()),
        }
    }
}

/// `/<genesis hex>` or `/<genesis hex>/<fork id>`.
pub fn chain_prefix(genesis_hash: &H256, fork_id: Option<&str>) -> String {
    let genesis = hex::encode(genesis_hash.0);
    match fork_id {
        Some(fork) => format!("/{genesis}/{fork}"),
        None => format!("/{genesis}"),
    }
}

/// The names of one chain's protocols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolNames {
    prefix: String,
    protocol_id: Option<String>,
}

impl ProtocolNames {
    /// Names for the chain with this genesis hash, fork id and (optional) legacy
    /// protocol id.
    pub fn new(genesis_hash: &H256, fork_id: Option<&str>, protocol_id: Option<&str>) -> Self {
        ProtocolNames { prefix: chain_prefix(genesis_hash, fork_id), protocol_id: protocol_id.map(str::to_string) }
    }

    /// The main name of `protocol`.
    pub fn name(&self, protocol: Protocol) -> String {
        format!("{}/{}", self.prefix, protocol.suffix())
    }

    /// The legacy fallback name of `protocol`, if there is one: every protocol has one
    /// when a protocol id is known, GRANDPA always.
    pub fn legacy_name(&self, protocol: Protocol) -> Option<String> {
        match (&self.protocol_id, protocol) {
            (_, Protocol::Grandpa) => Some(LEGACY_GRANDPA_PROTOCOL.to_string()),
            (Some(id), _) => Some(protocol.legacy_name(id)),
            (None, _) => None,
        }
    }

    /// The main name followed by the legacy name, in order of preference.
    pub fn names(&self, protocol: Protocol) -> Vec<String> {
        std::iter::once(self.name(protocol)).chain(self.legacy_name(protocol)).collect()
    }

    /// Which protocol a negotiated name (main or legacy) stands for.
    pub fn protocol_of(&self, name: &str) -> Option<Protocol> {
        Protocol::ALL.into_iter().find(|&p| self.name(p) == name || self.legacy_name(p).as_deref() == Some(name))
    }
}

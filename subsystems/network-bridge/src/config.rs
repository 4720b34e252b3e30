//! Network configuration.

use std::time::Duration;

use libp2p::multiaddr::Protocol as AddrProtocol;
use libp2p::{Multiaddr, PeerId};
use weft_block::H256;
use weft_network_protocol::names::ProtocolNames;

use crate::{NetworkError, NodeKey};

/// Default number of inbound peers accepted (Substrate's `--in-peers`).
pub const DEFAULT_IN_PEERS: u32 = 32;
/// Default number of outbound peers (Substrate's `--out-peers`).
pub const DEFAULT_OUT_PEERS: u32 = 8;
/// Default time a block request may take, substream opening included (Substrate's block
/// request protocol allows 20 s).
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// What a [`NetworkHost`](crate::NetworkHost) is started with.
#[derive(Debug, Clone)]
pub struct NetworkConfig {
    /// Addresses to listen on (`/ip4/…/tcp/…`, `/ip4/…/tcp/…/ws`).
    pub listen_addrs: Vec<Multiaddr>,
    /// Addresses other nodes can reach us on (behind NAT, a proxy): announced through
    /// identify and Kademlia in addition to the listen addresses.
    pub public_addrs: Vec<Multiaddr>,
    /// Nodes to connect to at start and to seed Kademlia with; each address must end
    /// with `/p2p/<peer id>`.
    pub bootnodes: Vec<Multiaddr>,
    /// The chain's genesis hash: protocol names derive from it.
    pub genesis_hash: H256,
    /// The chain spec's `forkId`, if any.
    pub fork_id: Option<String>,
    /// The chain spec's `protocolId`, for the legacy protocol names (`/<id>/sync/2`).
    pub protocol_id: Option<String>,
    /// The node's identity.
    pub node_key: NodeKey,
    /// Most inbound peers (reserved peers not counted).
    pub in_peers: u32,
    /// Most outbound peers (reserved peers not counted).
    pub out_peers: u32,
    /// Peers to stay connected to, each address ending with `/p2p/<peer id>`; they are
    /// dialed at start and again after they disconnect, and take no peer slot.
    pub reserved_nodes: Vec<Multiaddr>,
    /// Only accept connections with reserved peers.
    pub reserved_only: bool,
    /// How long an outbound request may take before it fails.
    pub request_timeout: Duration,
}

impl NetworkConfig {
    /// A configuration with Substrate's defaults: listening on port 30333 on every IPv4
    /// and IPv6 interface, no bootnodes, 32 inbound and 8 outbound peers.
    pub fn new(genesis_hash: H256, node_key: NodeKey) -> Self {
        NetworkConfig {
            listen_addrs: vec![
                "/ip4/0.0.0.0/tcp/30333".parse().expect("a valid multiaddr literal"),
                "/ip6/::/tcp/30333".parse().expect("a valid multiaddr literal"),
            ],
            public_addrs: Vec::new(),
            bootnodes: Vec::new(),
            genesis_hash,
            fork_id: None,
            protocol_id: None,
            node_key,
            in_peers: DEFAULT_IN_PEERS,
            out_peers: DEFAULT_OUT_PEERS,
            reserved_nodes: Vec::new(),
            reserved_only: false,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
        }
    }

    /// The chain's protocol names.
    pub fn protocol_names(&self) -> ProtocolNames {
        ProtocolNames::new(&self.genesis_hash, self.fork_id.as_deref(), self.protocol_id.as_deref())
    }
}

/// Splits `/…/p2p/<peer id>` into the peer id and the address without it.
pub fn split_peer_address(address: &Multiaddr) -> Result<(PeerId, Multiaddr), NetworkError> {
    let mut transport = address.clone();
    match transport.pop() {
        Some(AddrProtocol::P2p(peer)) => Ok((peer, transport)),
        _ => Err(NetworkError::AddressWithoutPeerId(address.clone())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peer_addresses() {
        let key = NodeKey::generate();
        let with_peer: Multiaddr = format!("/ip4/127.0.0.1/tcp/30333/p2p/{}", key.peer_id()).parse().unwrap();
        let (peer, addr) = split_peer_address(&with_peer).unwrap();
        assert_eq!(peer, key.peer_id());
        assert_eq!(addr, "/ip4/127.0.0.1/tcp/30333".parse::<Multiaddr>().unwrap());
        let without: Multiaddr = "/ip4/127.0.0.1/tcp/30333".parse().unwrap();
        assert!(matches!(split_peer_address(&without), Err(NetworkError::AddressWithoutPeerId(_))));
    }

    #[test]
    fn names_from_config() {
        let mut config = NetworkConfig::new(H256([0xab; 32]), NodeKey::generate());
        config.protocol_id = Some("wnd".into());
        let names = config.protocol_names();
        let sync = weft_network_protocol::names::Protocol::Sync;
        assert_eq!(names.names(sync), vec![format!("/{}/sync/2", "ab".repeat(32)), "/wnd/sync/2".to_string()]);
    }
}

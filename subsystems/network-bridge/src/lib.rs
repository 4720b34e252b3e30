//! Weft's libp2p networking, first slice: the part of the node that talks to other
//! Polkadot Host nodes over the network.
//!
//! This crate owns:
//! * the node's **identity** ([`node_key`]): the ed25519 node key, generated, loaded from
//!   and saved to Substrate's `secret_ed25519` file format or parsed from `--node-key`
//!   hex, and the `PeerId` derived from it;
//! * the **network configuration** ([`NetworkConfig`]): listen addresses, bootnodes,
//!   reserved nodes, peer slots and the chain's protocol names;
//! * the **swarm** ([`NetworkHost`]): TCP and WebSocket transports (with DNS), Noise XX,
//!   Yamux multiplexing, and the behaviours `identify` (`/substrate/1.0`), `ping`, Kademlia
//!   on `/<genesis>/kad` and the `/<genesis>/sync/2` block request protocol, run by one
//!   tokio task; a handle gives a client API, and [`NetworkEvent`]s are broadcast;
//! * the **request-response framing** ([`codec`]): raw bytes behind an unsigned-varint
//!   length prefix, one request and one response per substream, with the size limits of
//!   the reference node (requests 1 MiB, block responses 16 MiB);
//! * the **block request server** ([`serve_block_request`]): answering a `BlockRequest`
//!   from a [`ChainStore`](weft_chain_store::ChainStore), as Substrate's block request
//!   handler does;
//! * a **full-sync driver** ([`sync::sync_from`]): downloading the chain after our best
//!   block from one peer and importing every block with the
//!   [`Importer`](weft_block_import::Importer).
//!
//! It does not own the wire formats themselves (`weft-network-protocol`), block
//! verification and execution (`weft-block-import`), nor storage (`weft-chain-store`).
//! Notification protocols (block announces, transactions, GRANDPA gossip), the state and
//! light-client protocols, secure WebSockets and peer scoring beyond simple bans are not
//! here yet.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
mod config;
mod error;
mod host;
pub mod node_key;
mod server;
pub mod sync;

pub use config::{split_peer_address, NetworkConfig, DEFAULT_IN_PEERS, DEFAULT_OUT_PEERS, DEFAULT_REQUEST_TIMEOUT};
pub use error::NetworkError;
pub use host::{
    NetworkEvent, NetworkHost, NetworkStats, PeerReport, Severity, AGENT_VERSION, BAN_DURATION,
    IDENTIFY_PROTOCOL_VERSION, MAX_CONCURRENT_SERVES,
};
pub use node_key::{NodeKey, NodeKeyError};
pub use server::{serve_block_request, ServeError, MAX_BLOCKS_PER_RESPONSE};

/// The libp2p version this crate is built on, for callers that need its types
/// (`PeerId`, `Multiaddr`, ...) or build a swarm of their own on the same stack.
pub use libp2p;
pub use libp2p::{Multiaddr, PeerId};

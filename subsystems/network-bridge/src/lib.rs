//! Weft's libp2p networking: the part of the node that talks to other Polkadot Host
//! nodes over the network.
//!
//! This crate owns:
//! * the node's **identity** ([`node_key`]): the ed25519 node key, generated, loaded from
//!   and saved to Substrate's `secret_ed25519` file format or parsed from `--node-key`
//!   hex, and the `PeerId` derived from it;
//! * the **network configuration** ([`NetworkConfig`]): listen and public addresses,
//!   bootnodes, reserved nodes, peer slots and the chain's protocol names;
//! * the **swarm** ([`NetworkHost`]): TCP and WebSocket transports (with DNS), Noise XX,
//!   Yamux multiplexing, and the behaviours `identify` (`/substrate/1.0`), `ping`, Kademlia
//!   on `/<genesis>/kad`, the request protocols `sync/2`, `state/2`, `light/2` and
//!   `sync/warp`, and the
//!   notification protocols `block-announces/1` (handshake checked: a peer on another
//!   genesis is banned), `transactions/1` and `grandpa/1`, run by one tokio task; a handle
//!   gives a client API, and [`NetworkEvent`]s are broadcast;
//! * the **notification protocols** ([`notifications`]): Substrate's handshake-then-stream
//!   substreams as a libp2p behaviour, with size limits and bounded send queues;
//! * the **request-response framing** ([`codec`]): raw bytes behind an unsigned-varint
//!   length prefix, one request and one response per substream, with the size limits of
//!   the reference node (requests 1 MiB, responses 16 MiB);
//! * the **servers** of the request protocols, answering from a
//!   [`ChainStore`](weft_chain_store::ChainStore) as Substrate's handlers do: blocks
//!   ([`serve_block_request`]), state ([`serve_state_request`]) and light-client read and
//!   call proofs ([`serve_light_request`]), with or without compact range proofs for state,
//!   and GRANDPA warp-sync proofs from stored justifications ([`serve_warp_request_bytes`]),
//!   and the client-side checks
//!   ([`verify_remote_read`], [`StateDownload`], [`check_warp_response`]);
//! * the **overseer subsystem** ([`subsystem`]): the network bridge slot, and the task that
//!   forwards network events to the sync, GRANDPA and transaction-pool slots;
//! * a simple one-peer **full-sync driver** ([`sync::sync_from`]) for tools and tests (the
//!   node syncs through the `weft-sync` subsystem).
//!
//! It does not own the wire formats themselves (`weft-network-protocol`), block
//! verification and execution (`weft-block-import`), nor storage (`weft-chain-store`).
//! Not here yet: secure WebSockets. Misbehaving peers are banned at once
//! for fatal offences; minor offences weigh one each, halving every minute, and ten in a
//! burst ban.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codec;
mod config;
mod error;
mod host;
mod light_server;
pub mod node_key;
pub mod notifications;
mod server;
mod state_server;
pub mod subsystem;
pub mod sync;
mod warp_server;

pub use config::{split_peer_address, NetworkConfig, DEFAULT_IN_PEERS, DEFAULT_OUT_PEERS, DEFAULT_REQUEST_TIMEOUT};
pub use error::NetworkError;
pub use host::{
    NetworkEvent, NetworkHost, NetworkStats, NotificationProtocol, PeerReport, RequestProtocol, ResponseCallback,
    Severity, AGENT_VERSION, BAN_DURATION, IDENTIFY_PROTOCOL_VERSION, MAX_CONCURRENT_SERVES,
};
pub use light_server::{
    call_response_proof, prove_child_read, prove_execution, prove_read, read_response_proof, remote_call_state,
    serve_light_request, serve_light_request_bytes, verify_remote_read, verify_remote_read_child, LightServeError,
    LightVerifyError, ProveError, ProvenValues, RecordingState,
};
pub use node_key::{NodeKey, NodeKeyError};
pub use server::{serve_block_request, ServeError, MAX_BLOCKS_PER_RESPONSE};
pub use state_server::{
    serve_state_request, serve_state_request_bytes, serve_state_request_with_budget, DownloadedState, StateDownload,
    StateDownloadError, StateDownloadLimits, StateDownloadStats, StateServeError, MAX_START_KEYS,
    MAX_STATE_RESPONSE_DATA_BYTES,
};
pub use warp_server::{
    check_warp_response, serve_warp_request_bytes, StoreWarpSource, WarpCheckError, WarpServeError, WARP_REQUEST_BYTES,
};

/// The libp2p version this crate is built on, for callers that need its types
/// (`PeerId`, `Multiaddr`, ...) or build a swarm of their own on the same stack.
pub use libp2p;
pub use libp2p::{Multiaddr, PeerId};

//! Errors of the network host and its client API.

use libp2p::{Multiaddr, PeerId};
use weft_network_protocol::ProtocolError;

use crate::NodeKeyError;

/// Why the network could not start, or why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// The node key is unusable.
    #[error(transparent)]
    NodeKey(#[from] NodeKeyError),
    /// A transport could not be set up.
    #[error("transport: {0}")]
    Transport(String),
    /// A protocol name is not a valid libp2p protocol name.
    #[error("invalid protocol name {0:?}")]
    ProtocolName(String),
    /// Listening on an address failed.
    #[error("cannot listen on {address}: {reason}")]
    Listen {
        /// The address.
        address: Multiaddr,
        /// Why.
        reason: String,
    },
    /// A bootnode or reserved node address does not end with `/p2p/<peer id>`.
    #[error("address {0} does not end with /p2p/<peer id>")]
    AddressWithoutPeerId(Multiaddr),
    /// The host's task has stopped.
    #[error("the network host has shut down")]
    Shutdown,
    /// A request to send is over the protocol's limit; it was not sent.
    #[error("request of {len} bytes is over the limit of {max} bytes")]
    RequestTooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The peer is banned for misbehaving; nothing is sent to it.
    #[error("peer {0} is banned")]
    Banned(PeerId),
    /// The peer could not be dialed.
    #[error("could not dial peer {0}")]
    Dial(PeerId),
    /// The request timed out.
    #[error("request to {0} timed out")]
    Timeout(PeerId),
    /// The connection closed before the response arrived.
    #[error("connection to {0} closed before the response")]
    ConnectionClosed(PeerId),
    /// The peer does not speak the protocol.
    #[error("peer {0} does not support the protocol")]
    UnsupportedProtocol(PeerId),
    /// The substream failed (the peer may have refused the request).
    #[error("request to {peer} failed: {reason}")]
    Io {
        /// The peer.
        peer: PeerId,
        /// What happened.
        reason: String,
    },
    /// The peer announced a response over the protocol's limit. The peer is reported.
    #[error("peer {peer} sent a response of {len} bytes, over the limit of {max} bytes")]
    ResponseTooLarge {
        /// The peer.
        peer: PeerId,
        /// The announced length.
        len: u64,
        /// The limit.
        max: usize,
    },
    /// The response does not decode or does not answer the request. The peer is
    /// reported.
    #[error("invalid response from {peer}: {source}")]
    InvalidResponse {
        /// The peer.
        peer: PeerId,
        /// What was wrong (boxed: it is large).
        source: Box<ProtocolError>,
    },
    /// A warp-sync proof that does not decode or verify. The peer is reported.
    #[error("invalid warp proof from {peer}: {source}")]
    InvalidWarpProof {
        /// The peer.
        peer: PeerId,
        /// What was wrong.
        source: Box<crate::WarpCheckError>,
    },
}

impl NetworkError {
    /// Whether the error is the peer's fault (it sent something it must not have); the
    /// host has then already reported the peer.
    pub fn is_misbehaviour(&self) -> bool {
        matches!(
            self,
            NetworkError::ResponseTooLarge { .. }
                | NetworkError::InvalidResponse { .. }
                | NetworkError::InvalidWarpProof { .. }
        )
    }

    /// Whether trying again may help: the request failed on the way (timeout, closed
    /// connection, dial failure, substream error), not because of what the peer sent or
    /// of what we asked.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            NetworkError::Dial(_)
                | NetworkError::Timeout(_)
                | NetworkError::ConnectionClosed(_)
                | NetworkError::Io { .. }
        )
    }
}

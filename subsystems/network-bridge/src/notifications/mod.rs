//! Substrate's notification protocols (block announces, transactions, GRANDPA gossip,
//! ...) as a libp2p [`NetworkBehaviour`](libp2p::swarm::NetworkBehaviour):
//! [`Notifications`].
//!
//! This module owns the substreams of those protocols and their wire format; it does not
//! know what the handshakes and notifications mean (that is `weft-network-protocol`'s
//! and the subsystems' business), nor which peers to open substreams with (peer slots,
//! reputation and bans belong to the host).
//!
//! # The protocol
//!
//! As in Substrate (`sc-network`'s `protocol/notifications`) and the Polkadot spec:
//!
//! * A protocol has a main name and fallback (legacy) names, offered in that order to
//!   multistream-select; the name actually negotiated is reported.
//! * Substreams are unidirectional. The opener of a substream (the **outbound** side)
//!   writes its handshake as an unsigned-varint (LEB128) length followed by the bytes,
//!   then reads the remote's handshake, framed the same way. If the remote closes or
//!   resets the substream instead, it has refused it. Then the opener sends
//!   notifications, each framed the same way, and never reads any.
//! * The other side (**inbound**) reads the opener's handshake, and either accepts the
//!   substream by writing its own handshake back, then reads notifications from it, or
//!   refuses it by dropping it. Here that decision is the user's
//!   ([`Notifications::accept_inbound`] after [`NotificationsEvent::InboundOpenRequest`]).
//! * Either side closes by closing its writing side; the other answers likewise.
//!
//! Each peer thus has, per protocol, at most one outbound substream (ours, to send) and
//! one inbound substream (theirs, to receive). With several connections to a peer, an
//! outbound substream is opened on the oldest one and a second inbound request while one
//! is pending or open is refused; when the connection carrying a substream closes, the
//! substream is reported [`Closed`](NotificationsEvent::Closed).
//!
//! # Limits
//!
//! * Handshakes received are bounded by [`ProtocolConfig::max_handshake_size`] (Substrate:
//!   [`MAX_HANDSHAKE_SIZE`], 1024 bytes), notifications received by
//!   [`ProtocolConfig::max_notification_size`]. A length prefix is checked before anything
//!   is allocated or read after it. An oversized message or a malformed length prefix is
//!   a [`ProtocolViolation`](NotificationsEvent::ProtocolViolation): the substream is
//!   dropped and the user is told which peer did it, to report or ban it. A message cut
//!   short by the end of the substream only closes it (a dying connection looks the same).
//! * Each outbound substream has a queue of [`ProtocolConfig::queue_size`] notifications
//!   (Substrate's 2048 by default). [`Notifications::send`] never blocks and never grows
//!   memory: with the queue full it fails with [`SendError::Clogged`], and what to do
//!   with a peer that does not read (Substrate disconnects it) is the user's decision.
//! * Opening a substream, handshakes included, times out after [`OPEN_TIMEOUT`].
//!
//! The connection handlers use tokio timers: the swarm must run on tokio.

mod behaviour;
mod handler;
mod upgrade;

use std::sync::RwLock;
use std::time::Duration;

use libp2p::StreamProtocol;

pub use behaviour::Notifications;

/// Largest handshake Substrate accepts, in bytes: the default of
/// [`ProtocolConfig::max_handshake_size`].
pub const MAX_HANDSHAKE_SIZE: usize = 1024;

/// Notifications queued per outbound substream by default (Substrate's buffer of
/// notifications sent from synchronous code).
pub const DEFAULT_QUEUE_SIZE: usize = 2048;

/// How long opening a substream may take, protocol negotiation and handshakes included
/// (Substrate's value).
pub const OPEN_TIMEOUT: Duration = Duration::from_secs(10);

/// How long closing an outbound substream may take, the notifications still queued
/// included, before it is reset.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// One notification protocol.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolConfig {
    /// The main name, tried first (e.g. `/<genesis hash>/block-announces/1`).
    pub name: StreamProtocol,
    /// Other names, in order of preference (e.g. `/dot/block-announces/1`). A name that an
    /// earlier protocol of the same [`Notifications`] already has is ignored for inbound
    /// substreams.
    pub fallback_names: Vec<StreamProtocol>,
    /// Our handshake, sent on every substream opened or accepted from now on; updatable
    /// with [`Notifications::set_handshake`].
    pub handshake: Vec<u8>,
    /// Largest notification accepted from a peer; also the largest
    /// [`Notifications::send`] accepts.
    pub max_notification_size: u64,
    /// Largest handshake accepted from a peer.
    pub max_handshake_size: usize,
    /// Notifications queued per outbound substream before [`Notifications::send`] fails
    /// (at least 1).
    pub queue_size: usize,
}

impl ProtocolConfig {
    /// A protocol without fallback names, with Substrate's handshake limit
    /// ([`MAX_HANDSHAKE_SIZE`]) and queue size ([`DEFAULT_QUEUE_SIZE`]).
    pub fn new(name: StreamProtocol, handshake: Vec<u8>, max_notification_size: u64) -> Self {
        ProtocolConfig {
            name,
            fallback_names: Vec::new(),
            handshake,
            max_notification_size,
            max_handshake_size: MAX_HANDSHAKE_SIZE,
            queue_size: DEFAULT_QUEUE_SIZE,
        }
    }

    /// The same, with these fallback names.
    pub fn with_fallback_names(mut self, fallback_names: Vec<StreamProtocol>) -> Self {
        self.fallback_names = fallback_names;
        self
    }

    /// The same, with this queue size.
    pub fn with_queue_size(mut self, queue_size: usize) -> Self {
        self.queue_size = queue_size;
        self
    }

    /// The same, with this handshake limit.
    pub fn with_max_handshake_size(mut self, max_handshake_size: usize) -> Self {
        self.max_handshake_size = max_handshake_size;
        self
    }
}

/// A protocol of a [`Notifications`]: its position in the list given to
/// [`Notifications::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ProtocolIndex(pub usize);

/// Which substream of a peer and protocol: the one we opened (to send) or the one the
/// peer opened (to receive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Opened by the peer; we receive notifications on it.
    Inbound,
    /// Opened by us; we send notifications on it.
    Outbound,
}

/// What [`Notifications`] tells its user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotificationsEvent {
    /// A peer opened a substream and sent its handshake. Answer with
    /// [`Notifications::accept_inbound`] (or [`Notifications::close`], which refuses):
    /// until then the peer waits (up to its own timeout, [`OPEN_TIMEOUT`] for Substrate).
    InboundOpenRequest {
        /// The peer.
        peer: libp2p::PeerId,
        /// The protocol.
        protocol: ProtocolIndex,
        /// The name negotiated (the main name or a fallback).
        negotiated_name: StreamProtocol,
        /// The peer's handshake.
        handshake: Vec<u8>,
    },
    /// Our substream to a peer is open: [`Notifications::send`] works.
    OutboundOpened {
        /// The peer.
        peer: libp2p::PeerId,
        /// The protocol.
        protocol: ProtocolIndex,
        /// The name negotiated (the main name or a fallback).
        negotiated_name: StreamProtocol,
        /// The peer's handshake.
        handshake: Vec<u8>,
    },
    /// Opening our substream to a peer failed: refused, not supported, timed out, the
    /// peer is not connected, or [`Notifications::close`] was called meanwhile.
    OutboundOpenFailed {
        /// The peer.
        peer: libp2p::PeerId,
        /// The protocol.
        protocol: ProtocolIndex,
        /// Why.
        reason: String,
    },
    /// A notification arrived on the peer's (accepted) substream.
    Notification {
        /// The peer.
        peer: libp2p::PeerId,
        /// The protocol.
        protocol: ProtocolIndex,
        /// Its bytes.
        bytes: Vec<u8>,
    },
    /// An open substream (or an accepted one whose opening had not completed) is closed:
    /// by us, by the peer, on an error or because its connection closed.
    Closed {
        /// The peer.
        peer: libp2p::PeerId,
        /// The protocol.
        protocol: ProtocolIndex,
        /// Which substream.
        direction: Direction,
    },
    /// The peer broke the protocol: an oversized handshake or notification, or a
    /// malformed length prefix. The substream concerned is dropped (with its own
    /// [`OutboundOpenFailed`](NotificationsEvent::OutboundOpenFailed) or
    /// [`Closed`](NotificationsEvent::Closed) event if the user knew of it); the host
    /// should report the peer.
    ProtocolViolation {
        /// The peer.
        peer: libp2p::PeerId,
        /// The protocol.
        protocol: ProtocolIndex,
        /// What it did.
        reason: String,
    },
}

/// Why [`Notifications::send`] did not queue a notification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    /// No protocol has this index.
    #[error("no notification protocol has index {0}")]
    UnknownProtocol(usize),
    /// There is no open outbound substream to the peer on this protocol.
    #[error("no open substream to the peer on this protocol")]
    NotOpen,
    /// The notification is over the protocol's `max_notification_size`.
    #[error("notification of {len} bytes is over the limit of {max} bytes")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: u64,
    },
    /// The substream's queue is full: the peer does not read fast enough.
    #[error("the peer is clogged: its queue of notifications is full")]
    Clogged,
}

/// What the behaviour and every connection handler share about a protocol.
#[derive(Debug)]
pub(crate) struct SharedProtocol {
    /// Main name, then the fallbacks.
    names: Vec<StreamProtocol>,
    /// Our current handshake.
    handshake: RwLock<Vec<u8>>,
    max_notification_size: u64,
    max_handshake_size: usize,
    queue_size: usize,
}

impl SharedProtocol {
    fn new(config: ProtocolConfig) -> Self {
        let mut names = vec![config.name];
        names.extend(config.fallback_names);
        SharedProtocol {
            names,
            handshake: RwLock::new(config.handshake),
            max_notification_size: config.max_notification_size,
            max_handshake_size: config.max_handshake_size,
            queue_size: config.queue_size.max(1),
        }
    }

    /// Our current handshake.
    fn handshake(&self) -> Vec<u8> {
        // Only ever replaced whole: a poisoned lock still holds a valid handshake.
        self.handshake.read().unwrap_or_else(|poisoned| poisoned.into_inner()).clone()
    }

    fn set_handshake(&self, handshake: Vec<u8>) {
        *self.handshake.write().unwrap_or_else(|poisoned| poisoned.into_inner()) = handshake;
    }
}

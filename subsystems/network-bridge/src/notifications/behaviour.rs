//! [`Notifications`]: the state of every peer's notification substreams, the user's API,
//! and the translation between the handlers' reports and [`NotificationsEvent`]s.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use libp2p::core::transport::PortUse;
use libp2p::core::Endpoint;
use libp2p::swarm::{
    ConnectionClosed, ConnectionDenied, ConnectionId, FromSwarm, NetworkBehaviour, NotifyHandler, THandler,
    THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use libp2p::{Multiaddr, PeerId};
use tokio::sync::mpsc;

use super::handler::{FromBehaviour, Handler, ToBehaviour};
use super::{Direction, NotificationsEvent, ProtocolConfig, ProtocolIndex, SendError, SharedProtocol};

/// Our substream to a peer on one protocol.
#[derive(Debug, Default)]
enum Outbound {
    #[default]
    Idle,
    Opening {
        connection: ConnectionId,
        id: u64,
    },
    Open {
        connection: ConnectionId,
        id: u64,
        sender: mpsc::Sender<Vec<u8>>,
    },
}

/// The peer's substream to us on one protocol.
#[derive(Debug, Default)]
enum Inbound {
    #[default]
    Idle,
    /// Reported to the user, who has not answered yet.
    Pending { connection: ConnectionId, id: u64 },
    /// Accepted.
    Open { connection: ConnectionId, id: u64 },
}

#[derive(Debug, Default)]
struct Substreams {
    outbound: Outbound,
    inbound: Inbound,
}

#[derive(Debug)]
struct Peer {
    /// Established connections, oldest first.
    connections: Vec<ConnectionId>,
    /// One entry per protocol.
    protocols: Vec<Substreams>,
}

/// The notification protocols, as a [`NetworkBehaviour`]. See the [module
/// documentation](super) for the protocol and its limits.
///
/// Every [`open`](Notifications::open) ends in exactly one
/// [`OutboundOpened`](NotificationsEvent::OutboundOpened) or
/// [`OutboundOpenFailed`](NotificationsEvent::OutboundOpenFailed); every open substream
/// (and every accepted inbound one) ends in exactly one
/// [`Closed`](NotificationsEvent::Closed), whoever closes it.
pub struct Notifications {
    protocols: Arc<[SharedProtocol]>,
    peers: HashMap<PeerId, Peer>,
    events: VecDeque<ToSwarm<NotificationsEvent, FromBehaviour>>,
    next_outbound_id: u64,
    waker: Option<Waker>,
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications")
            .field("protocols", &self.protocols.iter().map(|p| p.names.first()).collect::<Vec<_>>())
            .field("peers", &self.peers.len())
            .finish_non_exhaustive()
    }
}

impl Notifications {
    /// The behaviour for these protocols; [`ProtocolIndex`]`(i)` is `protocols[i]`.
    pub fn new(protocols: Vec<ProtocolConfig>) -> Self {
        for config in &protocols {
            if config.handshake.len() > config.max_handshake_size {
                tracing::warn!(
                    target: "notifications",
                    protocol = %config.name,
                    "handshake of {} bytes is over the limit of {} bytes: peers will refuse it",
                    config.handshake.len(),
                    config.max_handshake_size,
                );
            }
        }
        Notifications {
            protocols: protocols.into_iter().map(SharedProtocol::new).collect(),
            peers: HashMap::new(),
            events: VecDeque::new(),
            next_outbound_id: 0,
            waker: None,
        }
    }

    /// The protocol with this main or fallback name (the first one, if several have it).
    pub fn protocol_index(&self, name: &str) -> Option<ProtocolIndex> {
        self.protocols.iter().position(|p| p.names.iter().any(|n| n.as_ref() == name)).map(ProtocolIndex)
    }

    /// Replaces our handshake on `protocol`, for every substream opened or accepted from
    /// now on (block announces carry our best block in it). Substreams already open keep
    /// the handshake they were opened with, as in Substrate. An unknown index is ignored.
    /// A handshake over the protocol's `max_handshake_size` is sent anyway (with a
    /// warning): peers with Substrate's limit will refuse it.
    pub fn set_handshake(&mut self, protocol: ProtocolIndex, handshake: Vec<u8>) {
        match self.protocols.get(protocol.0) {
            Some(shared) => {
                if handshake.len() > shared.max_handshake_size {
                    tracing::warn!(
                        target: "notifications",
                        "handshake of {} bytes is over the limit of {} bytes: peers will refuse it",
                        handshake.len(),
                        shared.max_handshake_size,
                    );
                }
                shared.set_handshake(handshake)
            }
            None => tracing::warn!(target: "notifications", "set_handshake on unknown protocol {}", protocol.0),
        }
    }

    /// Opens our substream to `peer` on `protocol`, on the oldest of its connections.
    /// Answered by [`OutboundOpened`](NotificationsEvent::OutboundOpened) or
    /// [`OutboundOpenFailed`](NotificationsEvent::OutboundOpenFailed) (at once if the peer
    /// is not connected). Does nothing if the substream is already opening or open.
    pub fn open(&mut self, peer: PeerId, protocol: ProtocolIndex) {
        let Some(state) = self.peers.get_mut(&peer) else {
            let reason = if protocol.0 < self.protocols.len() { "not connected" } else { "unknown protocol" };
            self.push_event(NotificationsEvent::OutboundOpenFailed { peer, protocol, reason: reason.to_string() });
            return;
        };
        let (Some(substreams), Some(&connection)) = (state.protocols.get_mut(protocol.0), state.connections.first())
        else {
            let reason = "unknown protocol".to_string();
            self.push_event(NotificationsEvent::OutboundOpenFailed { peer, protocol, reason });
            return;
        };
        if !matches!(substreams.outbound, Outbound::Idle) {
            return;
        }
        let id = self.next_outbound_id;
        self.next_outbound_id += 1;
        substreams.outbound = Outbound::Opening { connection, id };
        self.push(ToSwarm::NotifyHandler {
            peer_id: peer,
            handler: NotifyHandler::One(connection),
            event: FromBehaviour::Open { protocol: protocol.0, id },
        });
    }

    /// Answers an [`InboundOpenRequest`](NotificationsEvent::InboundOpenRequest): if
    /// `accept`, our handshake is sent back and the peer's notifications are delivered
    /// from now on; if not, the substream is dropped (the peer sees a refusal). Does
    /// nothing if no request from `peer` on `protocol` is waiting (it may have closed
    /// meanwhile: a [`Closed`](NotificationsEvent::Closed) follows an accept then).
    pub fn accept_inbound(&mut self, peer: PeerId, protocol: ProtocolIndex, accept: bool) {
        let Some(substreams) = self.substreams_mut(&peer, protocol) else { return };
        let Inbound::Pending { connection, id } = substreams.inbound else {
            tracing::debug!(target: "notifications", %peer, "no inbound request to answer");
            return;
        };
        let event = if accept {
            substreams.inbound = Inbound::Open { connection, id };
            FromBehaviour::Accept { protocol: protocol.0, id }
        } else {
            substreams.inbound = Inbound::Idle;
            FromBehaviour::Reject { protocol: protocol.0, id }
        };
        self.push(ToSwarm::NotifyHandler { peer_id: peer, handler: NotifyHandler::One(connection), event });
    }

    /// Closes both substreams with `peer` on `protocol`: ours (after the notifications
    /// already queued are written, within [`CLOSE_TIMEOUT`](super::CLOSE_TIMEOUT)) and the
    /// peer's (a pending request is refused). Each open one is reported
    /// [`Closed`](NotificationsEvent::Closed) at once, an opening one
    /// [`OutboundOpenFailed`](NotificationsEvent::OutboundOpenFailed); the peer sees its
    /// substreams closed too.
    pub fn close(&mut self, peer: PeerId, protocol: ProtocolIndex) {
        let Some(substreams) = self.substreams_mut(&peer, protocol) else { return };
        let mut events = Vec::new();
        let mut commands: Vec<(ConnectionId, Option<u64>, Option<u64>)> = Vec::new();
        match std::mem::take(&mut substreams.outbound) {
            Outbound::Idle => {}
            Outbound::Opening { connection, id } => {
                // The handler's answer will be ignored; an open substream in it is closed
                // when its sender is dropped.
                commands.push((connection, Some(id), None));
                let reason = "closed before it opened".to_string();
                events.push(NotificationsEvent::OutboundOpenFailed { peer, protocol, reason });
            }
            Outbound::Open { connection, id, sender } => {
                drop(sender);
                commands.push((connection, Some(id), None));
                events.push(NotificationsEvent::Closed { peer, protocol, direction: Direction::Outbound });
            }
        }
        match std::mem::take(&mut substreams.inbound) {
            Inbound::Idle => {}
            Inbound::Pending { connection, id } => commands.push((connection, None, Some(id))),
            Inbound::Open { connection, id } => {
                commands.push((connection, None, Some(id)));
                events.push(NotificationsEvent::Closed { peer, protocol, direction: Direction::Inbound });
            }
        }
        for (connection, outbound, inbound) in commands {
            self.push(ToSwarm::NotifyHandler {
                peer_id: peer,
                handler: NotifyHandler::One(connection),
                event: FromBehaviour::Close { protocol: protocol.0, outbound, inbound },
            });
        }
        for event in events {
            self.push_event(event);
        }
    }

    /// Queues a notification on our open substream to `peer`. Never blocks: fails with
    /// [`SendError::Clogged`] when the substream's queue is full.
    pub fn send(&mut self, peer: PeerId, protocol: ProtocolIndex, notification: Vec<u8>) -> Result<(), SendError> {
        let shared = self.protocols.get(protocol.0).ok_or(SendError::UnknownProtocol(protocol.0))?;
        if notification.len() as u64 > shared.max_notification_size {
            return Err(SendError::TooLarge { len: notification.len(), max: shared.max_notification_size });
        }
        let Some(Outbound::Open { sender, .. }) = self.substreams(&peer, protocol).map(|s| &s.outbound) else {
            return Err(SendError::NotOpen);
        };
        sender.try_send(notification).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::Clogged,
            // The substream has just closed; its `Closed` event is on the way.
            mpsc::error::TrySendError::Closed(_) => SendError::NotOpen,
        })
    }

    /// Whether our substream to `peer` on `protocol` is open ([`send`](Self::send) works).
    pub fn is_open(&self, peer: &PeerId, protocol: ProtocolIndex) -> bool {
        matches!(self.substreams(peer, protocol), Some(Substreams { outbound: Outbound::Open { .. }, .. }))
    }

    /// Whether the peer's substream to us on `protocol` is accepted and open.
    pub fn is_inbound_open(&self, peer: &PeerId, protocol: ProtocolIndex) -> bool {
        matches!(self.substreams(peer, protocol), Some(Substreams { inbound: Inbound::Open { .. }, .. }))
    }

    /// Free slots in the queue of our substream to `peer` on `protocol` (`None` if it is
    /// not open).
    pub fn queue_capacity(&self, peer: &PeerId, protocol: ProtocolIndex) -> Option<usize> {
        match self.substreams(peer, protocol) {
            Some(Substreams { outbound: Outbound::Open { sender, .. }, .. }) => Some(sender.capacity()),
            _ => None,
        }
    }

    fn substreams(&self, peer: &PeerId, protocol: ProtocolIndex) -> Option<&Substreams> {
        self.peers.get(peer).and_then(|p| p.protocols.get(protocol.0))
    }

    fn substreams_mut(&mut self, peer: &PeerId, protocol: ProtocolIndex) -> Option<&mut Substreams> {
        self.peers.get_mut(peer).and_then(|p| p.protocols.get_mut(protocol.0))
    }

    fn push(&mut self, action: ToSwarm<NotificationsEvent, FromBehaviour>) {
        self.events.push_back(action);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    fn push_event(&mut self, event: NotificationsEvent) {
        self.push(ToSwarm::GenerateEvent(event));
    }

    fn on_connection_closed(&mut self, peer: PeerId, connection: ConnectionId) {
        let Some(state) = self.peers.get_mut(&peer) else { return };
        state.connections.retain(|c| *c != connection);
        let mut events = Vec::new();
        for (index, substreams) in state.protocols.iter_mut().enumerate() {
            let protocol = ProtocolIndex(index);
            match &substreams.outbound {
                Outbound::Opening { connection: c, .. } if *c == connection => {
                    substreams.outbound = Outbound::Idle;
                    let reason = "connection closed".to_string();
                    events.push(NotificationsEvent::OutboundOpenFailed { peer, protocol, reason });
                }
                Outbound::Open { connection: c, .. } if *c == connection => {
                    substreams.outbound = Outbound::Idle;
                    events.push(NotificationsEvent::Closed { peer, protocol, direction: Direction::Outbound });
                }
                _ => {}
            }
            match substreams.inbound {
                Inbound::Pending { connection: c, .. } | Inbound::Open { connection: c, .. } if c == connection => {
                    substreams.inbound = Inbound::Idle;
                    events.push(NotificationsEvent::Closed { peer, protocol, direction: Direction::Inbound });
                }
                _ => {}
            }
        }
        if state.connections.is_empty() {
            self.peers.remove(&peer);
        }
        for event in events {
            self.push_event(event);
        }
    }

    fn on_handler_event(&mut self, peer: PeerId, connection: ConnectionId, event: ToBehaviour) {
        let Some(state) = self.peers.get_mut(&peer) else { return };
        let index = match &event {
            ToBehaviour::OutboundOpened { protocol, .. }
            | ToBehaviour::OutboundOpenFailed { protocol, .. }
            | ToBehaviour::OutboundClosed { protocol, .. }
            | ToBehaviour::InboundOpenRequest { protocol, .. }
            | ToBehaviour::InboundClosed { protocol, .. }
            | ToBehaviour::Notification { protocol, .. }
            | ToBehaviour::ProtocolViolation { protocol, .. } => *protocol,
        };
        let Some(substreams) = state.protocols.get_mut(index) else { return };
        let protocol = ProtocolIndex(index);
        let current_out = |s: &Substreams, id: u64| match s.outbound {
            Outbound::Opening { connection: c, id: i } | Outbound::Open { connection: c, id: i, .. } => {
                c == connection && i == id
            }
            Outbound::Idle => false,
        };
        let current_in = |s: &Substreams, id: u64| match s.inbound {
            Inbound::Pending { connection: c, id: i } | Inbound::Open { connection: c, id: i } => {
                c == connection && i == id
            }
            Inbound::Idle => false,
        };
        let event = match event {
            ToBehaviour::OutboundOpened { id, negotiated, handshake, sender, .. } => {
                if !matches!(substreams.outbound, Outbound::Opening { .. }) || !current_out(substreams, id) {
                    // Stale: dropping the sender closes the substream.
                    return;
                }
                substreams.outbound = Outbound::Open { connection, id, sender };
                NotificationsEvent::OutboundOpened { peer, protocol, negotiated_name: negotiated, handshake }
            }
            ToBehaviour::OutboundOpenFailed { id, reason, .. } => {
                if !current_out(substreams, id) {
                    return;
                }
                substreams.outbound = Outbound::Idle;
                NotificationsEvent::OutboundOpenFailed { peer, protocol, reason }
            }
            ToBehaviour::OutboundClosed { id, reason, .. } => {
                if !current_out(substreams, id) {
                    return;
                }
                tracing::debug!(target: "notifications", %peer, index, "outbound substream closed: {reason}");
                substreams.outbound = Outbound::Idle;
                NotificationsEvent::Closed { peer, protocol, direction: Direction::Outbound }
            }
            ToBehaviour::InboundOpenRequest { id, negotiated, handshake, .. } => {
                if !matches!(substreams.inbound, Inbound::Idle) {
                    // One inbound substream per peer and protocol, whatever the connection.
                    self.push(ToSwarm::NotifyHandler {
                        peer_id: peer,
                        handler: NotifyHandler::One(connection),
                        event: FromBehaviour::Reject { protocol: index, id },
                    });
                    return;
                }
                substreams.inbound = Inbound::Pending { connection, id };
                NotificationsEvent::InboundOpenRequest { peer, protocol, negotiated_name: negotiated, handshake }
            }
            ToBehaviour::InboundClosed { id, reason, .. } => {
                if !current_in(substreams, id) {
                    return;
                }
                tracing::debug!(target: "notifications", %peer, index, "inbound substream closed: {reason}");
                substreams.inbound = Inbound::Idle;
                NotificationsEvent::Closed { peer, protocol, direction: Direction::Inbound }
            }
            ToBehaviour::Notification { id, bytes, .. } => {
                if !matches!(substreams.inbound, Inbound::Open { .. }) || !current_in(substreams, id) {
                    return;
                }
                NotificationsEvent::Notification { peer, protocol, bytes }
            }
            ToBehaviour::ProtocolViolation { reason, .. } => {
                NotificationsEvent::ProtocolViolation { peer, protocol, reason }
            }
        };
        self.push_event(event);
    }
}

impl NetworkBehaviour for Notifications {
    type ConnectionHandler = Handler;
    type ToSwarm = NotificationsEvent;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler::new(self.protocols.clone()))
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(Handler::new(self.protocols.clone()))
    }

    fn on_swarm_event(&mut self, event: FromSwarm) {
        match event {
            FromSwarm::ConnectionEstablished(established) => {
                let protocols = self.protocols.len();
                self.peers
                    .entry(established.peer_id)
                    .or_insert_with(|| Peer {
                        connections: Vec::new(),
                        protocols: (0..protocols).map(|_| Substreams::default()).collect(),
                    })
                    .connections
                    .push(established.connection_id);
            }
            FromSwarm::ConnectionClosed(ConnectionClosed { peer_id, connection_id, .. }) => {
                self.on_connection_closed(peer_id, connection_id)
            }
            _ => {}
        }
    }

    fn on_connection_handler_event(&mut self, peer: PeerId, connection: ConnectionId, event: THandlerOutEvent<Self>) {
        self.on_handler_event(peer, connection, event)
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<NotificationsEvent, THandlerInEvent<Self>>> {
        match self.events.pop_front() {
            Some(action) => Poll::Ready(action),
            None => {
                self.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

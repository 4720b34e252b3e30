//! The network host in the overseer's `network_bridge` slot.
//!
//! Two halves, because the swarm is I/O and subsystems are state machines:
//! * [`NetworkBridgeSubsystem`] takes the node's messages to the network: block
//!   announcements (the header is read from the chain store), peer reports (a penalty at
//!   or below [`BAN_THRESHOLD`] bans), notifications, and `sync/2` requests, whose raw
//!   response is handed back through the request's reply without blocking the
//!   subsystem;
//! * [`forward_events`] is a task that turns the host's [`NetworkEvent`]s into messages
//!   for the subsystems that own them: sync peers and block announces to `sync`, GRANDPA
//!   gossip to `grandpa`, transactions to `tx_pool`.

use std::sync::Arc;

use weft_chain_store::ChainStore;
use weft_messages::{
    GrandpaMessage, NetworkBridgeMessage, NetworkBridgeSlot, OverseerSignal, SyncMessage, TxPoolMessage,
};
use weft_overseer::{Context, OverseerHandle, Subsystem};

use crate::{NetworkEvent, NetworkHost, NotificationProtocol, PeerId, PeerReport};

/// A reported penalty at or below this bans the peer at once (Substrate bans below 82% of
/// `i32::MIN` in total reputation; a single report this bad is a fatal offence here).
pub const BAN_THRESHOLD: i32 = i32::MIN / 2;

/// The network bridge subsystem (see the module documentation).
pub struct NetworkBridgeSubsystem {
    host: NetworkHost,
    store: ChainStore,
}

impl NetworkBridgeSubsystem {
    /// The subsystem over a started host; `store` supplies the headers it announces.
    pub fn new(host: NetworkHost, store: ChainStore) -> Self {
        NetworkBridgeSubsystem { host, store }
    }
}

fn parse_peer(peer: &str) -> Option<PeerId> {
    match peer.parse() {
        Ok(peer) => Some(peer),
        Err(e) => {
            tracing::warn!(%peer, "not a peer id: {e}");
            None
        }
    }
}

impl Subsystem for NetworkBridgeSubsystem {
    type Slot = NetworkBridgeSlot;
    type Event = ();

    fn implementation(&self) -> &str {
        "default"
    }

    fn on_signal(&mut self, _signal: &OverseerSignal, _ctx: &mut Context<'_, '_, Self>) {}

    fn on_message(&mut self, message: NetworkBridgeMessage, _ctx: &mut Context<'_, '_, Self>) {
        match message {
            NetworkBridgeMessage::AnnounceBlock { hash, number } => match self.store.header(&hash) {
                Ok(Some(header)) => {
                    let is_best = self.store.best().map(|(_, best)| best == hash).unwrap_or(false);
                    self.host.announce_block(header, is_best);
                }
                Ok(None) => tracing::warn!(number, %hash, "cannot announce a block we do not have"),
                Err(e) => tracing::error!(number, %hash, "chain store: {e}"),
            },
            NetworkBridgeMessage::ReportPeer { peer, penalty, reason } => {
                if let Some(peer) = parse_peer(&peer) {
                    let report =
                        if penalty <= BAN_THRESHOLD { PeerReport::fatal(reason) } else { PeerReport::minor(reason) };
                    self.host.report_peer(peer, report);
                }
            }
            NetworkBridgeMessage::SendNotification { peer, protocol, payload } => {
                let protocol = match protocol {
                    "block-announces" => NotificationProtocol::BlockAnnounces,
                    "transactions" => NotificationProtocol::Transactions,
                    "grandpa" => NotificationProtocol::Grandpa,
                    other => {
                        tracing::warn!(protocol = other, "no such notification protocol");
                        return;
                    }
                };
                if let Some(peer) = parse_peer(&peer) {
                    self.host.send_notification(peer, protocol, payload);
                }
            }
            NetworkBridgeMessage::ConnectedPeers { reply } => {
                let _ = reply.send(self.host.connected_peers().iter().map(|p| p.to_string()).collect());
            }
            NetworkBridgeMessage::BlockRequest { peer, request, reply } => {
                let Some(peer) = parse_peer(&peer) else {
                    let _ = reply.send(Err("not a peer id".into()));
                    return;
                };
                self.host.request_raw_with(
                    peer,
                    request,
                    Box::new(move |result| {
                        let _ = reply.send(result.map_err(|e| e.to_string()));
                    }),
                );
            }
        }
    }
}

/// What [`forward_events`] turns a network event into, if anything.
pub fn route_event(event: NetworkEvent) -> Option<weft_messages::AllMessages> {
    use weft_messages::AllMessages;
    Some(match event {
        NetworkEvent::SyncPeerConnected { peer, handshake } => AllMessages::Sync(SyncMessage::PeerConnected {
            peer: peer.to_string(),
            best_hash: handshake.best_hash,
            best_number: handshake.best_number,
        }),
        NetworkEvent::SyncPeerDisconnected { peer } => {
            AllMessages::Sync(SyncMessage::PeerDisconnected { peer: peer.to_string() })
        }
        NetworkEvent::BlockAnnounce { peer, header, is_best } => {
            AllMessages::Sync(SyncMessage::BlockAnnounce { peer: peer.to_string(), header: Box::new(header), is_best })
        }
        NetworkEvent::GrandpaNotification { peer, bytes } => {
            AllMessages::Grandpa(GrandpaMessage::Network { peer: peer.to_string(), payload: bytes })
        }
        NetworkEvent::Transactions { peer, extrinsics } => {
            AllMessages::TxPool(TxPoolMessage::FromNetwork { peer: peer.to_string(), extrinsics })
        }
        _ => return None,
    })
}

/// Forwards the host's events to the subsystems through `handle` until the host stops.
/// Events missed because the task fell behind are logged (the sync subsystem recovers
/// from a missed announce at the next one).
pub async fn forward_events(
    mut events: tokio::sync::broadcast::Receiver<NetworkEvent>,
    handle: Arc<std::sync::OnceLock<OverseerHandle>>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match events.recv().await {
            Ok(event) => {
                if let Some(message) = route_event(event) {
                    match handle.get() {
                        Some(handle) => handle.send(message).await,
                        None => tracing::debug!("overseer not started yet; network event dropped"),
                    }
                }
            }
            Err(RecvError::Lagged(missed)) => tracing::warn!(missed, "network events missed"),
            Err(RecvError::Closed) => return,
        }
    }
}

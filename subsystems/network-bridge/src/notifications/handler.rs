//! The connection handler of [`Notifications`](super::Notifications): the notification
//! substreams of one connection.
//!
//! Per protocol it holds the outbound substreams being written (normally one; briefly
//! two while a stale one closes), at most one inbound substream waiting for the user's
//! decision, and at most one accepted inbound substream being read. The behaviour names
//! substreams by ids (outbound ids are the behaviour's, inbound ids this handler's) so
//! that events crossing commands are told apart from current ones.
//!
//! * An outbound substream is a task that takes notifications from a bounded channel
//!   whose sender the behaviour holds, writes them, and watches the reading side for the
//!   remote closing it. Dropping the sender makes the task write what is queued, close
//!   the writing side and end.
//! * An accepted inbound substream is a stream that first writes our handshake, then
//!   reads notifications until the remote closes its side (then closes ours), a limit is
//!   broken (then the substream is dropped) or we are told to close.

use std::collections::VecDeque;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures::channel::oneshot;
use futures::future::{self, BoxFuture, Either};
use futures::stream::BoxStream;
use futures::{AsyncReadExt, AsyncWriteExt, FutureExt, StreamExt};
use libp2p::swarm::handler::{
    ConnectionEvent, DialUpgradeError, FullyNegotiatedInbound, FullyNegotiatedOutbound, ListenUpgradeError,
};
use libp2p::swarm::{ConnectionHandler, ConnectionHandlerEvent, Stream, StreamUpgradeError, SubstreamProtocol};
use libp2p::StreamProtocol;
use tokio::sync::mpsc;

use super::upgrade::{
    push_message, read_message, InboundError, InboundOpen, InboundUpgrade, OutboundOpen, OutboundUpgrade,
};
use super::{SharedProtocol, CLOSE_TIMEOUT, OPEN_TIMEOUT};

/// Most bytes of queued notifications written to the substream in one go.
const WRITE_BATCH_BYTES: usize = 64 * 1024;

/// A command of the behaviour.
#[derive(Debug)]
pub enum FromBehaviour {
    /// Open an outbound substream, named `id`.
    Open { protocol: usize, id: u64 },
    /// Accept the pending inbound substream `id`.
    Accept { protocol: usize, id: u64 },
    /// Refuse the pending inbound substream `id`.
    Reject { protocol: usize, id: u64 },
    /// Close these substreams (the behaviour has already dropped the outbound one's
    /// sender; this bounds the time its queue may take to drain).
    Close { protocol: usize, outbound: Option<u64>, inbound: Option<u64> },
}

/// A report to the behaviour.
#[derive(Debug)]
pub enum ToBehaviour {
    OutboundOpened {
        protocol: usize,
        id: u64,
        negotiated: StreamProtocol,
        handshake: Vec<u8>,
        sender: mpsc::Sender<Vec<u8>>,
    },
    OutboundOpenFailed {
        protocol: usize,
        id: u64,
        reason: String,
    },
    OutboundClosed {
        protocol: usize,
        id: u64,
        reason: String,
    },
    InboundOpenRequest {
        protocol: usize,
        id: u64,
        negotiated: StreamProtocol,
        handshake: Vec<u8>,
    },
    InboundClosed {
        protocol: usize,
        id: u64,
        reason: String,
    },
    Notification {
        protocol: usize,
        id: u64,
        bytes: Vec<u8>,
    },
    ProtocolViolation {
        protocol: usize,
        reason: String,
    },
}

type Event = ConnectionHandlerEvent<OutboundUpgrade, (usize, u64), ToBehaviour>;

struct OutboundTask {
    id: u64,
    closing: bool,
    /// Ends with the reason the substream closed.
    task: BoxFuture<'static, String>,
}

enum InboundItem {
    Notification(Vec<u8>),
    Violation(String),
    Closed(String),
}

struct InboundTask {
    id: u64,
    close: Option<oneshot::Sender<()>>,
    reader: BoxStream<'static, InboundItem>,
}

#[derive(Default)]
struct ProtocolState {
    outbound: Vec<OutboundTask>,
    pending_inbound: Option<(u64, Stream)>,
    inbound: Option<InboundTask>,
}

impl ProtocolState {
    fn is_idle(&self) -> bool {
        self.outbound.is_empty() && self.pending_inbound.is_none() && self.inbound.is_none()
    }
}

/// See the module documentation.
pub struct Handler {
    protocols: Arc<[SharedProtocol]>,
    states: Vec<ProtocolState>,
    events: VecDeque<Event>,
    next_inbound_id: u64,
    /// Outbound substreams requested and not yet negotiated.
    negotiating: usize,
    /// Where the next poll starts, so that a busy protocol does not starve the others.
    poll_start: usize,
}

impl Handler {
    pub(crate) fn new(protocols: Arc<[SharedProtocol]>) -> Self {
        let states = protocols.iter().map(|_| ProtocolState::default()).collect();
        Handler { protocols, states, events: VecDeque::new(), next_inbound_id: 0, negotiating: 0, poll_start: 0 }
    }

    fn notify(&mut self, event: ToBehaviour) {
        self.events.push_back(ConnectionHandlerEvent::NotifyBehaviour(event));
    }

    fn on_inbound(&mut self, open: InboundOpen) {
        let InboundOpen { protocol, negotiated, handshake, stream } = open;
        let Some(state) = self.states.get_mut(protocol) else { return };
        if state.pending_inbound.is_some() || state.inbound.is_some() {
            // One inbound substream per protocol: a second one is dropped (reset), as
            // Substrate does.
            tracing::debug!(target: "notifications", %negotiated, "refusing a second inbound substream");
            return;
        }
        let id = self.next_inbound_id;
        self.next_inbound_id += 1;
        state.pending_inbound = Some((id, stream));
        self.notify(ToBehaviour::InboundOpenRequest { protocol, id, negotiated, handshake });
    }

    fn on_outbound(&mut self, open: OutboundOpen, protocol: usize, id: u64) {
        self.negotiating = self.negotiating.saturating_sub(1);
        let Some(state) = self.states.get_mut(protocol) else { return };
        let queue_size = self.protocols.get(protocol).map_or(1, |p| p.queue_size);
        let (sender, receiver) = mpsc::channel(queue_size);
        state.outbound.push(OutboundTask { id, closing: false, task: write_outbound(open.stream, receiver).boxed() });
        self.notify(ToBehaviour::OutboundOpened {
            protocol,
            id,
            negotiated: open.negotiated,
            handshake: open.handshake,
            sender,
        });
    }

    fn on_dial_error(&mut self, protocol: usize, id: u64, error: StreamUpgradeError<super::upgrade::HandshakeError>) {
        self.negotiating = self.negotiating.saturating_sub(1);
        let reason = match error {
            StreamUpgradeError::Timeout => "timed out".to_string(),
            StreamUpgradeError::NegotiationFailed => "the peer does not support the protocol".to_string(),
            StreamUpgradeError::Io(e) => format!("i/o: {e}"),
            StreamUpgradeError::Apply(e) => {
                if e.is_violation() {
                    self.notify(ToBehaviour::ProtocolViolation { protocol, reason: e.to_string() });
                }
                e.to_string()
            }
        };
        self.notify(ToBehaviour::OutboundOpenFailed { protocol, id, reason });
    }

    fn on_listen_error(&mut self, error: InboundError) {
        if error.error.is_violation() {
            self.notify(ToBehaviour::ProtocolViolation { protocol: error.protocol, reason: error.to_string() });
        } else {
            tracing::debug!(target: "notifications", "inbound substream failed: {error}");
        }
    }

    fn accept(&mut self, protocol: usize, id: u64) {
        let (Some(state), Some(shared)) = (self.states.get_mut(protocol), self.protocols.get(protocol)) else {
            return;
        };
        match state.pending_inbound.take() {
            Some((pending, stream)) if pending == id => {
                let (close, close_rx) = oneshot::channel();
                let reader = read_inbound(stream, shared.handshake(), shared.max_notification_size, close_rx);
                state.inbound = Some(InboundTask { id, close: Some(close), reader });
            }
            other => {
                state.pending_inbound = other;
                let reason = "the substream was gone before it was accepted".to_string();
                self.notify(ToBehaviour::InboundClosed { protocol, id, reason });
            }
        }
    }

    fn close(&mut self, protocol: usize, outbound: Option<u64>, inbound: Option<u64>) {
        let Some(state) = self.states.get_mut(protocol) else { return };
        if let Some(id) = outbound {
            for task in state.outbound.iter_mut().filter(|t| t.id == id && !t.closing) {
                task.closing = true;
                let draining = std::mem::replace(&mut task.task, future::pending().boxed());
                task.task = async move {
                    tokio::time::timeout(CLOSE_TIMEOUT, draining)
                        .await
                        .unwrap_or_else(|_| "closing timed out; substream reset".to_string())
                }
                .boxed();
            }
        }
        if let Some(id) = inbound {
            if state.pending_inbound.as_ref().is_some_and(|(pending, _)| *pending == id) {
                state.pending_inbound = None;
            }
            if let Some(task) = state.inbound.as_mut().filter(|t| t.id == id) {
                if let Some(close) = task.close.take() {
                    // The reader may have ended already; then there is nothing to close.
                    let _ = close.send(());
                }
            }
        }
    }
}

impl ConnectionHandler for Handler {
    type FromBehaviour = FromBehaviour;
    type ToBehaviour = ToBehaviour;
    type InboundProtocol = InboundUpgrade;
    type OutboundProtocol = OutboundUpgrade;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = (usize, u64);

    fn listen_protocol(&self) -> SubstreamProtocol<InboundUpgrade, ()> {
        SubstreamProtocol::new(InboundUpgrade { protocols: self.protocols.clone() }, ()).with_timeout(OPEN_TIMEOUT)
    }

    fn connection_keep_alive(&self) -> bool {
        self.negotiating > 0 || self.states.iter().any(|s| !s.is_idle())
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Event> {
        if let Some(event) = self.events.pop_front() {
            return Poll::Ready(event);
        }
        let count = self.states.len();
        for offset in 0..count {
            let protocol = (self.poll_start + offset) % count;
            let state = &mut self.states[protocol];

            let mut index = 0;
            while index < state.outbound.len() {
                if let Poll::Ready(reason) = state.outbound[index].task.poll_unpin(cx) {
                    let id = state.outbound.swap_remove(index).id;
                    self.poll_start = (protocol + 1) % count;
                    return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(ToBehaviour::OutboundClosed {
                        protocol,
                        id,
                        reason,
                    }));
                }
                index += 1;
            }

            if let Some(inbound) = state.inbound.as_mut() {
                let id = inbound.id;
                let event =
                    match inbound.reader.poll_next_unpin(cx) {
                        Poll::Pending => continue,
                        Poll::Ready(Some(InboundItem::Notification(bytes))) => {
                            ToBehaviour::Notification { protocol, id, bytes }
                        }
                        Poll::Ready(Some(InboundItem::Violation(reason))) => {
                            state.inbound = None;
                            let closed = "protocol violation".to_string();
                            self.events.push_back(ConnectionHandlerEvent::NotifyBehaviour(
                                ToBehaviour::InboundClosed { protocol, id, reason: closed },
                            ));
                            ToBehaviour::ProtocolViolation { protocol, reason }
                        }
                        Poll::Ready(Some(InboundItem::Closed(reason))) => {
                            state.inbound = None;
                            ToBehaviour::InboundClosed { protocol, id, reason }
                        }
                        Poll::Ready(None) => {
                            state.inbound = None;
                            ToBehaviour::InboundClosed { protocol, id, reason: "ended".to_string() }
                        }
                    };
                self.poll_start = (protocol + 1) % count;
                return Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(event));
            }
        }
        Poll::Pending
    }

    fn on_behaviour_event(&mut self, event: FromBehaviour) {
        match event {
            FromBehaviour::Open { protocol, id } => {
                let Some(shared) = self.protocols.get(protocol) else { return };
                let upgrade = OutboundUpgrade {
                    names: shared.names.clone(),
                    handshake: shared.handshake(),
                    max_handshake_size: shared.max_handshake_size,
                };
                self.negotiating += 1;
                self.events.push_back(ConnectionHandlerEvent::OutboundSubstreamRequest {
                    protocol: SubstreamProtocol::new(upgrade, (protocol, id)).with_timeout(OPEN_TIMEOUT),
                });
            }
            FromBehaviour::Accept { protocol, id } => self.accept(protocol, id),
            FromBehaviour::Reject { protocol, id } => self.close(protocol, None, Some(id)),
            FromBehaviour::Close { protocol, outbound, inbound } => self.close(protocol, outbound, inbound),
        }
    }

    fn on_connection_event(&mut self, event: ConnectionEvent<InboundUpgrade, OutboundUpgrade, (), (usize, u64)>) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound { protocol, .. }) => {
                self.on_inbound(protocol)
            }
            ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound { protocol, info: (index, id) }) => {
                self.on_outbound(protocol, index, id)
            }
            ConnectionEvent::DialUpgradeError(DialUpgradeError { info: (index, id), error }) => {
                self.on_dial_error(index, id, error)
            }
            ConnectionEvent::ListenUpgradeError(ListenUpgradeError { error, .. }) => self.on_listen_error(error),
            _ => {}
        }
    }
}

/// The task of an outbound substream: see the module documentation. Ends with why the
/// substream closed.
async fn write_outbound(stream: Stream, mut queue: mpsc::Receiver<Vec<u8>>) -> String {
    let (mut reader, mut writer) = stream.split();
    let watch = async move {
        let mut buf = [0u8; 64];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) => return "closed by the peer".to_string(),
                // Substrate ignores data on an outbound substream too (and bounds nothing
                // here: it is read into this small buffer and dropped).
                Ok(_) => tracing::debug!(target: "notifications", "ignoring data on an outbound substream"),
                Err(e) => return format!("substream failed: {e}"),
            }
        }
    };
    let write = async move {
        let mut batch = Vec::new();
        loop {
            let Some(first) = queue.recv().await else {
                // Our sender is gone, and what was queued has been written.
                return match writer.close().await {
                    Ok(()) => "closed by us".to_string(),
                    Err(e) => format!("closing failed: {e}"),
                };
            };
            batch.clear();
            push_message(&first, &mut batch);
            drop(first);
            while batch.len() < WRITE_BATCH_BYTES {
                match queue.try_recv() {
                    Ok(next) => push_message(&next, &mut batch),
                    Err(_) => break,
                }
            }
            let written = async {
                writer.write_all(&batch).await?;
                writer.flush().await
            };
            if let Err(e) = written.await {
                return format!("writing failed: {e}");
            }
        }
    };
    futures::pin_mut!(watch, write);
    match future::select(watch, write).await {
        Either::Left((reason, _)) | Either::Right((reason, _)) => reason,
    }
}

/// The reader of an accepted inbound substream: see the module documentation.
fn read_inbound(
    stream: Stream,
    handshake: Vec<u8>,
    max_notification_size: u64,
    close: oneshot::Receiver<()>,
) -> BoxStream<'static, InboundItem> {
    struct Reader {
        stream: Stream,
        handshake: Option<Vec<u8>>,
        close: oneshot::Receiver<()>,
    }

    async fn close_gracefully(stream: &mut Stream) {
        if let Ok(Err(e)) = tokio::time::timeout(CLOSE_TIMEOUT, stream.close()).await {
            tracing::debug!(target: "notifications", "closing an inbound substream: {e}");
        }
    }

    let reader = Reader { stream, handshake: Some(handshake), close };
    futures::stream::unfold(Some(reader), move |reader| async move {
        let mut reader = reader?;
        if let Some(handshake) = reader.handshake.take() {
            let mut frame = Vec::with_capacity(handshake.len() + crate::codec::MAX_VARINT_LEN);
            push_message(&handshake, &mut frame);
            let sent = async {
                reader.stream.write_all(&frame).await?;
                reader.stream.flush().await
            };
            if let Err(e) = sent.await {
                return Some((InboundItem::Closed(format!("sending our handshake failed: {e}")), None));
            }
        }
        let received = {
            let read = read_message(&mut reader.stream, max_notification_size, "notification");
            futures::pin_mut!(read);
            match future::select(read, &mut reader.close).await {
                Either::Left((received, _)) => Some(received),
                Either::Right(_) => None,
            }
        };
        match received {
            Some(Ok(Some(bytes))) => Some((InboundItem::Notification(bytes), Some(reader))),
            Some(Ok(None)) => {
                // The peer closed its side: close ours in answer.
                close_gracefully(&mut reader.stream).await;
                Some((InboundItem::Closed("closed by the peer".to_string()), None))
            }
            // Dropping the stream resets it.
            Some(Err(e)) if e.is_violation() => Some((InboundItem::Violation(e.to_string()), None)),
            Some(Err(e)) => Some((InboundItem::Closed(e.to_string()), None)),
            None => {
                close_gracefully(&mut reader.stream).await;
                Some((InboundItem::Closed("closed by us".to_string()), None))
            }
        }
    })
    .boxed()
}

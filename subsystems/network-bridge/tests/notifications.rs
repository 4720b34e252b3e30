//! The notification protocols between real swarms on loopback TCP (Noise, Yamux), each
//! run by its own tokio task: handshakes and notifications both ways, fallback names,
//! refusal, the size limits (with a raw peer writing bytes no well-behaved node would),
//! the bounded send queue against a peer that stops reading, closing, and connections
//! going away.
//!
//! Every wait is bounded, so that a bug fails a test instead of hanging it.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use weft_network_bridge::codec::encode_varint;
use weft_network_bridge::libp2p::core::transport::PortUse;
use weft_network_bridge::libp2p::core::upgrade::ReadyUpgrade;
use weft_network_bridge::libp2p::core::Endpoint;
use weft_network_bridge::libp2p::swarm::dial_opts::DialOpts;
use weft_network_bridge::libp2p::swarm::handler::{ConnectionEvent, FullyNegotiatedInbound, FullyNegotiatedOutbound};
use weft_network_bridge::libp2p::swarm::{
    ConnectionDenied, ConnectionHandler, ConnectionHandlerEvent, ConnectionId, FromSwarm, NetworkBehaviour,
    NotifyHandler, Stream, SubstreamProtocol, SwarmEvent, THandler, THandlerInEvent, THandlerOutEvent, ToSwarm,
};
use weft_network_bridge::libp2p::{noise, tcp, yamux, StreamProtocol, Swarm, SwarmBuilder};
use weft_network_bridge::notifications::{
    Direction, Notifications, NotificationsEvent, ProtocolConfig, ProtocolIndex, SendError, DEFAULT_QUEUE_SIZE,
    MAX_HANDSHAKE_SIZE,
};
use weft_network_bridge::{Multiaddr, PeerId};

/// A guard against hanging forever, not a performance bound.
const PATIENCE: Duration = Duration::from_secs(30);
/// How long "nothing happens" is watched for.
const QUIET: Duration = Duration::from_millis(500);

const MAIN: &str = "/weft-test/block-announces/1";
const LEGACY: &str = "/tst/block-announces/1";
const P: ProtocolIndex = ProtocolIndex(0);

fn name(name: &'static str) -> StreamProtocol {
    StreamProtocol::new(name)
}

fn config(handshake: &[u8], max_notification_size: u64) -> ProtocolConfig {
    ProtocolConfig::new(name(MAIN), handshake.to_vec(), max_notification_size)
}

// ---------------------------------------------------------------------------------------
// A swarm run by its own task.

/// What a node's task reports.
#[derive(Debug)]
enum Ev<E> {
    Behaviour(E),
    Connected(PeerId, ConnectionId),
}

type Call<B> = Box<dyn FnOnce(&mut Swarm<B>) + Send>;

enum Command<B: NetworkBehaviour> {
    Call(Call<B>),
    /// Stop (or resume) polling the swarm: its connections stop reading once their event
    /// buffers are full, as a peer that does not keep up.
    Pause(bool),
}

struct Node<B: NetworkBehaviour> {
    peer: PeerId,
    addr: Multiaddr,
    commands: mpsc::UnboundedSender<Command<B>>,
    events: mpsc::UnboundedReceiver<Ev<B::ToSwarm>>,
}

impl<B> Node<B>
where
    B: NetworkBehaviour + Send,
    B::ToSwarm: Debug + Send,
{
    async fn start(behaviour: B) -> Self {
        let mut swarm = SwarmBuilder::with_new_identity()
            .with_tokio()
            .with_tcp(tcp::Config::default().nodelay(true), noise::Config::new, yamux::Config::default)
            .unwrap()
            .with_behaviour(|_| behaviour)
            .unwrap()
            .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
            .build();
        swarm.listen_on("/ip4/127.0.0.1/tcp/0".parse().unwrap()).unwrap();
        let addr = tokio::time::timeout(PATIENCE, async {
            loop {
                if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
                    return address;
                }
            }
        })
        .await
        .unwrap();
        let peer = *swarm.local_peer_id();
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (events_tx, events) = mpsc::unbounded_channel();
        tokio::spawn(run(swarm, commands_rx, events_tx));
        Node { peer, addr, commands, events }
    }

    /// Runs `f` on the swarm, in its task.
    async fn call<R: Send + 'static>(&self, f: impl FnOnce(&mut Swarm<B>) -> R + Send + 'static) -> R {
        let (tx, rx) = oneshot::channel();
        let call: Call<B> = Box::new(move |swarm| {
            let _ = tx.send(f(swarm));
        });
        assert!(self.commands.send(Command::Call(call)).is_ok(), "node task gone");
        tokio::time::timeout(PATIENCE, rx).await.unwrap().unwrap()
    }

    /// Runs `f` on the behaviour, in the swarm's task.
    async fn with<R: Send + 'static>(&self, f: impl FnOnce(&mut B) -> R + Send + 'static) -> R {
        self.call(move |swarm| f(swarm.behaviour_mut())).await
    }

    fn pause(&self, paused: bool) {
        assert!(self.commands.send(Command::Pause(paused)).is_ok(), "node task gone");
    }

    /// The next event, whatever it is.
    async fn next_any(&mut self) -> Ev<B::ToSwarm> {
        tokio::time::timeout(PATIENCE, self.events.recv())
            .await
            .expect("the expected event never came")
            .expect("node task gone")
    }

    /// The next behaviour event (connection events are skipped).
    async fn next(&mut self) -> B::ToSwarm {
        loop {
            if let Ev::Behaviour(event) = self.next_any().await {
                return event;
            }
        }
    }

    /// Asserts that no behaviour event comes for a while.
    async fn assert_quiet(&mut self) {
        let deadline = tokio::time::Instant::now() + QUIET;
        while let Ok(event) = tokio::time::timeout_at(deadline, self.events.recv()).await {
            match event.expect("node task gone") {
                Ev::Behaviour(event) => panic!("unexpected event {event:?}"),
                other => eprintln!("(connection event {other:?})"),
            }
        }
    }

    /// Waits until connected to `peer`; the connection's id.
    async fn connected(&mut self, peer: PeerId) -> ConnectionId {
        loop {
            match self.next_any().await {
                Ev::Connected(p, connection) if p == peer => return connection,
                Ev::Behaviour(event) => panic!("unexpected event {event:?} before connecting"),
                _ => {}
            }
        }
    }

    /// Dials `other` (on a new port: each call makes a new connection).
    async fn dial(&self, addr: Multiaddr) {
        self.call(move |swarm| swarm.dial(DialOpts::unknown_peer_id().address(addr).allocate_new_port().build()))
            .await
            .unwrap();
    }
}

async fn run<B>(
    mut swarm: Swarm<B>,
    mut commands: mpsc::UnboundedReceiver<Command<B>>,
    events: mpsc::UnboundedSender<Ev<B::ToSwarm>>,
) where
    B: NetworkBehaviour + Send,
    B::ToSwarm: Debug + Send,
{
    let mut paused = false;
    loop {
        let command = if paused {
            commands.recv().await
        } else {
            tokio::select! {
                command = commands.recv() => command,
                event = swarm.select_next_some() => {
                    let forwarded = match event {
                        SwarmEvent::Behaviour(event) => Some(Ev::Behaviour(event)),
                        SwarmEvent::ConnectionEstablished { peer_id, connection_id, .. } => {
                            Some(Ev::Connected(peer_id, connection_id))
                        }
                        _ => None,
                    };
                    if let Some(event) = forwarded {
                        if events.send(event).is_err() {
                            return;
                        }
                    }
                    continue;
                }
            }
        };
        match command {
            None => return,
            Some(Command::Call(call)) => call(&mut swarm),
            Some(Command::Pause(p)) => paused = p,
        }
    }
}

type NotifNode = Node<Notifications>;

async fn node(protocols: Vec<ProtocolConfig>) -> NotifNode {
    Node::start(Notifications::new(protocols)).await
}

/// `a` dials `b`; returns once both see the connection.
async fn connect<A, B>(a: &mut Node<A>, b: &mut Node<B>)
where
    A: NetworkBehaviour + Send,
    A::ToSwarm: Debug + Send,
    B: NetworkBehaviour + Send,
    B::ToSwarm: Debug + Send,
{
    a.dial(b.addr.clone()).await;
    a.connected(b.peer).await;
    b.connected(a.peer).await;
}

/// `a` opens its substream to `b`, which accepts; checks both handshakes and the
/// negotiated name.
async fn open(a: &mut NotifNode, b: &mut NotifNode, a_handshake: &[u8], b_handshake: &[u8], negotiated: &str) {
    let peer_b = b.peer;
    a.with(move |n| n.open(peer_b, P)).await;
    match b.next().await {
        NotificationsEvent::InboundOpenRequest { peer, protocol, negotiated_name, handshake } => {
            assert_eq!((peer, protocol), (a.peer, P));
            assert_eq!(negotiated_name.as_ref(), negotiated);
            assert_eq!(handshake, a_handshake);
        }
        other => panic!("expected an inbound request, got {other:?}"),
    }
    let peer_a = a.peer;
    b.with(move |n| n.accept_inbound(peer_a, P, true)).await;
    match a.next().await {
        NotificationsEvent::OutboundOpened { peer, protocol, negotiated_name, handshake } => {
            assert_eq!((peer, protocol), (b.peer, P));
            assert_eq!(negotiated_name.as_ref(), negotiated);
            assert_eq!(handshake, b_handshake);
        }
        other => panic!("expected the substream open, got {other:?}"),
    }
    assert!(a.with(move |n| n.is_open(&peer_b, P)).await);
    assert!(b.with(move |n| n.is_inbound_open(&peer_a, P)).await);
}

async fn expect_notification(node: &mut NotifNode, from: PeerId, expected: &[u8]) {
    match node.next().await {
        NotificationsEvent::Notification { peer, protocol, bytes } => {
            assert_eq!((peer, protocol), (from, P));
            assert_eq!(bytes.len(), expected.len());
            assert!(bytes == expected, "notification bytes differ");
        }
        other => panic!("expected a notification of {} bytes, got {other:?}", expected.len()),
    }
}

async fn expect_closed(node: &mut NotifNode, from: PeerId, expected: Direction) {
    match node.next().await {
        NotificationsEvent::Closed { peer, protocol, direction } => {
            assert_eq!((peer, protocol, direction), (from, P, expected));
        }
        other => panic!("expected {expected:?} closed, got {other:?}"),
    }
}

async fn expect_violation(node: &mut NotifNode, from: PeerId) -> String {
    match node.next().await {
        NotificationsEvent::ProtocolViolation { peer, protocol, reason } => {
            assert_eq!((peer, protocol), (from, P));
            reason
        }
        other => panic!("expected a protocol violation, got {other:?}"),
    }
}

async fn expect_open_failed(node: &mut NotifNode, from: PeerId) -> String {
    match node.next().await {
        NotificationsEvent::OutboundOpenFailed { peer, protocol, reason } => {
            assert_eq!((peer, protocol), (from, P));
            reason
        }
        other => panic!("expected the opening to fail, got {other:?}"),
    }
}

/// The `i`th test notification: a distinct length and content for each `i`.
fn notification(seed: u8, i: usize) -> Vec<u8> {
    let len = (i * 397) % 5000;
    (0..len).map(|j| (j as u8).wrapping_mul(31).wrapping_add(i as u8).wrapping_add(seed)).collect()
}

async fn send(node: &NotifNode, to: PeerId, bytes: Vec<u8>) -> Result<(), SendError> {
    node.with(move |n| n.send(to, P, bytes)).await
}

// ---------------------------------------------------------------------------------------
// A raw peer: hands its substreams to the test, which writes and reads bytes itself.

#[derive(Debug)]
struct RawStream {
    peer: PeerId,
    stream: Stream,
}

#[derive(Default)]
struct Raw {
    /// The protocol it accepts inbound substreams on.
    listen: Option<StreamProtocol>,
    actions: VecDeque<ToSwarm<RawStream, StreamProtocol>>,
    waker: Option<Waker>,
}

impl Raw {
    fn listening_on(protocol: StreamProtocol) -> Self {
        Raw { listen: Some(protocol), ..Raw::default() }
    }

    fn open(&mut self, peer: PeerId, protocol: StreamProtocol) {
        self.actions.push_back(ToSwarm::NotifyHandler { peer_id: peer, handler: NotifyHandler::Any, event: protocol });
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

struct RawHandler {
    listen: StreamProtocol,
    requests: VecDeque<StreamProtocol>,
    streams: VecDeque<Stream>,
}

impl ConnectionHandler for RawHandler {
    type FromBehaviour = StreamProtocol;
    type ToBehaviour = Stream;
    type InboundProtocol = ReadyUpgrade<StreamProtocol>;
    type OutboundProtocol = ReadyUpgrade<StreamProtocol>;
    type InboundOpenInfo = ();
    type OutboundOpenInfo = ();

    fn listen_protocol(&self) -> SubstreamProtocol<Self::InboundProtocol, ()> {
        SubstreamProtocol::new(ReadyUpgrade::new(self.listen.clone()), ())
    }

    fn connection_keep_alive(&self) -> bool {
        true
    }

    fn poll(&mut self, _: &mut Context<'_>) -> Poll<ConnectionHandlerEvent<Self::OutboundProtocol, (), Stream>> {
        if let Some(protocol) = self.requests.pop_front() {
            return Poll::Ready(ConnectionHandlerEvent::OutboundSubstreamRequest {
                protocol: SubstreamProtocol::new(ReadyUpgrade::new(protocol), ()),
            });
        }
        match self.streams.pop_front() {
            Some(stream) => Poll::Ready(ConnectionHandlerEvent::NotifyBehaviour(stream)),
            None => Poll::Pending,
        }
    }

    fn on_behaviour_event(&mut self, protocol: StreamProtocol) {
        self.requests.push_back(protocol);
    }

    fn on_connection_event(&mut self, event: ConnectionEvent<Self::InboundProtocol, Self::OutboundProtocol, (), ()>) {
        match event {
            ConnectionEvent::FullyNegotiatedInbound(FullyNegotiatedInbound { protocol: stream, .. })
            | ConnectionEvent::FullyNegotiatedOutbound(FullyNegotiatedOutbound { protocol: stream, .. }) => {
                self.streams.push_back(stream)
            }
            ConnectionEvent::DialUpgradeError(e) => panic!("raw substream failed: {:?}", e.error),
            _ => {}
        }
    }
}

impl NetworkBehaviour for Raw {
    type ConnectionHandler = RawHandler;
    type ToSwarm = RawStream;

    fn handle_established_inbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: &Multiaddr,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler())
    }

    fn handle_established_outbound_connection(
        &mut self,
        _: ConnectionId,
        _: PeerId,
        _: &Multiaddr,
        _: Endpoint,
        _: PortUse,
    ) -> Result<THandler<Self>, ConnectionDenied> {
        Ok(self.handler())
    }

    fn on_swarm_event(&mut self, _: FromSwarm) {}

    fn on_connection_handler_event(&mut self, peer: PeerId, _: ConnectionId, stream: THandlerOutEvent<Self>) {
        self.actions.push_back(ToSwarm::GenerateEvent(RawStream { peer, stream }));
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ToSwarm<RawStream, THandlerInEvent<Self>>> {
        match self.actions.pop_front() {
            Some(action) => Poll::Ready(action),
            None => {
                self.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl Raw {
    fn handler(&self) -> RawHandler {
        RawHandler {
            listen: self.listen.clone().unwrap_or_else(|| name("/weft-test/raw/none")),
            requests: VecDeque::new(),
            streams: VecDeque::new(),
        }
    }
}

type RawNode = Node<Raw>;

/// A raw substream from `raw` to `to` on the main name.
async fn raw_open(raw: &mut RawNode, to: PeerId) -> Stream {
    raw.with(move |r| r.open(to, name(MAIN))).await;
    let RawStream { peer, stream } = raw.next().await;
    assert_eq!(peer, to);
    stream
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    encode_varint(payload.len() as u64, &mut out);
    out.extend_from_slice(payload);
    out
}

async fn write_raw(stream: &mut Stream, bytes: &[u8]) {
    stream.write_all(bytes).await.unwrap();
    stream.flush().await.unwrap();
}

/// Reads one framed message (small ones only) from a raw substream.
async fn read_raw(stream: &mut Stream) -> Vec<u8> {
    let mut len = [0u8; 1];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut len)).await.unwrap().unwrap();
    assert!(len[0] < 0x80, "test handshakes are short");
    let mut payload = vec![0; len[0] as usize];
    tokio::time::timeout(PATIENCE, stream.read_exact(&mut payload)).await.unwrap().unwrap();
    payload
}

// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handshakes_and_notifications_flow_both_ways() {
    let (hs_a, hs_b) = (b"A: best block #17".to_vec(), b"B: genesis, roles=full".to_vec());
    let mut a = node(vec![config(&hs_a, 1 << 20)]).await;
    let mut b = node(vec![config(&hs_b, 1 << 20)]).await;
    connect(&mut a, &mut b).await;

    open(&mut a, &mut b, &hs_a, &hs_b, MAIN).await;
    open(&mut b, &mut a, &hs_b, &hs_a, MAIN).await;

    // 100 notifications of different sizes (the first empty) each way, interleaved.
    for i in 0..100 {
        send(&a, b.peer, notification(1, i)).await.unwrap();
        send(&b, a.peer, notification(2, i)).await.unwrap();
    }
    for i in 0..100 {
        expect_notification(&mut b, a.peer, &notification(1, i)).await;
    }
    for i in 0..100 {
        expect_notification(&mut a, b.peer, &notification(2, i)).await;
    }
    a.assert_quiet().await;
    b.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fallback_name_is_negotiated_and_reported() {
    let legacy_only = ProtocolConfig::new(name(LEGACY), b"b".to_vec(), 1024);
    let main_and_legacy = config(b"a", 1024).with_fallback_names(vec![name(LEGACY)]);
    let mut a = node(vec![main_and_legacy]).await;
    let mut b = node(vec![legacy_only]).await;
    assert_eq!(a.with(|n| (n.protocol_index(MAIN), n.protocol_index(LEGACY))).await, (Some(P), Some(P)));
    connect(&mut a, &mut b).await;

    // Both ways: A's outbound falls back, and A accepts inbound substreams on the legacy name.
    open(&mut a, &mut b, b"a", b"b", LEGACY).await;
    open(&mut b, &mut a, b"b", b"a", LEGACY).await;
    send(&a, b.peer, b"to b".to_vec()).await.unwrap();
    send(&b, a.peer, b"to a".to_vec()).await.unwrap();
    expect_notification(&mut b, a.peer, b"to b").await;
    expect_notification(&mut a, b.peer, b"to a").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsupported_protocol_fails_to_open() {
    let mut a = node(vec![config(b"a", 1024)]).await;
    let mut b = node(vec![ProtocolConfig::new(name("/weft-test/other/1"), vec![], 1024)]).await;
    connect(&mut a, &mut b).await;
    let peer_b = b.peer;
    a.with(move |n| n.open(peer_b, P)).await;
    let reason = expect_open_failed(&mut a, b.peer).await;
    println!("unsupported: {reason}");
    b.assert_quiet().await;
    // Not connected at all.
    let stranger = PeerId::random();
    a.with(move |n| n.open(stranger, P)).await;
    assert!(matches!(a.next().await, NotificationsEvent::OutboundOpenFailed { peer, .. } if peer == stranger));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_substream_fails_to_open() {
    let mut a = node(vec![config(b"a", 1024)]).await;
    let mut b = node(vec![config(b"b", 1024)]).await;
    connect(&mut a, &mut b).await;
    let (peer_a, peer_b) = (a.peer, b.peer);

    a.with(move |n| n.open(peer_b, P)).await;
    assert!(matches!(b.next().await, NotificationsEvent::InboundOpenRequest { peer, .. } if peer == peer_a));
    b.with(move |n| n.accept_inbound(peer_a, P, false)).await;
    let reason = expect_open_failed(&mut a, peer_b).await;
    println!("rejected: {reason}");
    assert!(!a.with(move |n| n.is_open(&peer_b, P)).await);
    assert_eq!(send(&a, peer_b, b"x".to_vec()).await, Err(SendError::NotOpen));
    b.assert_quiet().await;
    a.assert_quiet().await;

    // The peer can still be asked again, and accept this time.
    open(&mut a, &mut b, b"a", b"b", MAIN).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_notification_is_a_protocol_violation() {
    const LIMIT: u64 = 1000;
    // A would send up to 1 MiB; B accepts up to 1000 bytes.
    let mut a = node(vec![config(b"a", 1 << 20)]).await;
    let mut b = node(vec![config(b"b", LIMIT)]).await;
    connect(&mut a, &mut b).await;
    open(&mut a, &mut b, b"a", b"b", MAIN).await;
    let (peer_a, peer_b) = (a.peer, b.peer);

    // B refuses to send over its own limit.
    let too_large = SendError::TooLarge { len: LIMIT as usize + 1, max: LIMIT };
    assert_eq!(b.with(move |n| n.send(peer_a, P, vec![0; LIMIT as usize + 1])).await, Err(too_large));

    let at_limit = vec![0xab; LIMIT as usize];
    send(&a, peer_b, at_limit.clone()).await.unwrap();
    send(&a, peer_b, vec![0xcd; LIMIT as usize + 1]).await.unwrap();
    send(&a, peer_b, b"after".to_vec()).await.unwrap();

    expect_notification(&mut b, peer_a, &at_limit).await;
    let reason = expect_violation(&mut b, peer_a).await;
    assert!(reason.contains("1001") && reason.contains("1000"), "{reason}");
    expect_closed(&mut b, peer_a, Direction::Inbound).await;
    b.assert_quiet().await;
    // A sees its substream go away.
    expect_closed(&mut a, peer_b, Direction::Outbound).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_handshakes_are_protocol_violations() {
    // A's handshake is one byte over B's limit.
    let big = vec![7u8; MAX_HANDSHAKE_SIZE + 1];
    let mut a = node(vec![config(&big, 1024)]).await;
    let mut b = node(vec![config(b"b", 1024)]).await;
    connect(&mut a, &mut b).await;
    let (peer_a, peer_b) = (a.peer, b.peer);
    a.with(move |n| n.open(peer_b, P)).await;
    let reason = expect_violation(&mut b, peer_a).await;
    assert!(reason.contains("1025"), "{reason}");
    expect_open_failed(&mut a, peer_b).await;
    b.assert_quiet().await;

    // Exactly at the limit is fine.
    let at_limit = vec![8u8; MAX_HANDSHAKE_SIZE];
    let handshake = at_limit.clone();
    a.with(move |n| n.set_handshake(P, handshake)).await;
    open(&mut a, &mut b, &at_limit, b"b", MAIN).await;

    // A answers B's request with a handshake over B's limit: B reports A and fails to open.
    let big_answer = vec![9u8; MAX_HANDSHAKE_SIZE + 100];
    a.with(move |n| n.set_handshake(P, big_answer)).await;
    b.with(move |n| n.open(peer_a, P)).await;
    assert!(matches!(a.next().await, NotificationsEvent::InboundOpenRequest { .. }));
    a.with(move |n| n.accept_inbound(peer_b, P, true)).await;
    let reason = expect_violation(&mut b, peer_a).await;
    assert!(reason.contains("1124"), "{reason}");
    expect_open_failed(&mut b, peer_a).await;
    // A had accepted: its inbound substream closes when B drops it.
    expect_closed(&mut a, peer_b, Direction::Inbound).await;
    a.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_truncated_prefixes_from_a_raw_peer() {
    let mut b = node(vec![config(b"b", 1024)]).await;
    let mut raw = Node::start(Raw::listening_on(name(MAIN))).await;
    connect(&mut raw, &mut b).await;
    let (peer_r, peer_b) = (raw.peer, b.peer);

    // A handshake length prefix of 11 continuation bytes.
    let mut stream = raw_open(&mut raw, peer_b).await;
    write_raw(&mut stream, &[0xff; 11]).await;
    let reason = expect_violation(&mut b, peer_r).await;
    println!("malformed handshake prefix: {reason}");
    drop(stream);

    // A handshake length prefix cut short: the substream fails, nothing to report.
    let mut stream = raw_open(&mut raw, peer_b).await;
    write_raw(&mut stream, &[0x80]).await;
    stream.close().await.unwrap();
    b.assert_quiet().await;
    drop(stream);

    // A valid handshake, accepted; then a non-minimal length prefix.
    let mut stream = raw_open(&mut raw, peer_b).await;
    write_raw(&mut stream, &framed(b"raw")).await;
    match b.next().await {
        NotificationsEvent::InboundOpenRequest { peer, handshake, .. } => {
            assert_eq!((peer, handshake.as_slice()), (peer_r, &b"raw"[..]))
        }
        other => panic!("expected an inbound request, got {other:?}"),
    }
    b.with(move |n| n.accept_inbound(peer_r, P, true)).await;
    assert_eq!(read_raw(&mut stream).await, b"b");
    write_raw(&mut stream, &framed(b"fine")).await;
    expect_notification(&mut b, peer_r, b"fine").await;
    write_raw(&mut stream, &[0x80, 0x00]).await;
    expect_violation(&mut b, peer_r).await;
    expect_closed(&mut b, peer_r, Direction::Inbound).await;
    drop(stream);

    // A notification cut short by the end of the substream: closed, not a violation.
    let mut stream = raw_open(&mut raw, peer_b).await;
    write_raw(&mut stream, &framed(b"raw")).await;
    assert!(matches!(b.next().await, NotificationsEvent::InboundOpenRequest { .. }));
    b.with(move |n| n.accept_inbound(peer_r, P, true)).await;
    assert_eq!(read_raw(&mut stream).await, b"b");
    write_raw(&mut stream, &[10, 1, 2, 3]).await;
    stream.close().await.unwrap();
    expect_closed(&mut b, peer_r, Direction::Inbound).await;
    b.assert_quiet().await;
    drop(stream);

    // B opens to the raw peer, which answers with a malformed handshake prefix.
    b.with(move |n| n.open(peer_r, P)).await;
    let RawStream { mut stream, .. } = raw.next().await;
    assert_eq!(read_raw(&mut stream).await, b"b");
    write_raw(&mut stream, &[0x80, 0x80, 0x00]).await;
    expect_violation(&mut b, peer_r).await;
    expect_open_failed(&mut b, peer_r).await;
    drop(stream);

    // ... or with half a handshake and then closes: a failure only.
    b.with(move |n| n.open(peer_r, P)).await;
    let RawStream { mut stream, .. } = raw.next().await;
    assert_eq!(read_raw(&mut stream).await, b"b");
    write_raw(&mut stream, &[5, 1, 2]).await;
    stream.close().await.unwrap();
    let reason = expect_open_failed(&mut b, peer_r).await;
    println!("truncated answer: {reason}");
    b.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clogged_peer_makes_send_fail_with_bounded_memory() {
    const SIZE: usize = 1024;
    let mut a = node(vec![config(b"a", 1 << 20)]).await;
    let mut b = node(vec![config(b"b", 1 << 20)]).await;
    connect(&mut a, &mut b).await;
    open(&mut a, &mut b, b"a", b"b", MAIN).await;
    let (peer_a, peer_b) = (a.peer, b.peer);
    assert_eq!(a.with(move |n| n.queue_capacity(&peer_b, P)).await, Some(DEFAULT_QUEUE_SIZE));

    // B stops reading; A sends far more than its queue holds.
    b.pause(true);
    let mut accepted = 0usize;
    let error = 'sending: loop {
        assert!(accepted < 100 * DEFAULT_QUEUE_SIZE, "send never failed");
        let first = accepted;
        let outcome = a
            .with(move |n| {
                let mut sent = 0;
                for i in first..first + 64 {
                    let mut bytes = vec![0u8; SIZE];
                    bytes[..8].copy_from_slice(&(i as u64).to_le_bytes());
                    if let Err(e) = n.send(peer_b, P, bytes) {
                        return (sent, Some(e));
                    }
                    sent += 1;
                }
                (sent, None)
            })
            .await;
        accepted += outcome.0;
        if let Some(error) = outcome.1 {
            break 'sending error;
        }
        // Let A's connection write what it can.
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    println!("accepted {accepted} notifications of {SIZE} bytes before: {error}");
    assert_eq!(error, SendError::Clogged);
    // The queue, plus what Yamux lets through before B's window is exhausted (256 KiB)
    // and one write batch (64 KiB).
    assert!(accepted >= DEFAULT_QUEUE_SIZE, "{accepted}");
    assert!(accepted <= DEFAULT_QUEUE_SIZE + 512, "{accepted}");
    assert_eq!(a.with(move |n| n.queue_capacity(&peer_b, P)).await, Some(0));

    // B resumes: every accepted notification arrives, in order; A can send again.
    b.pause(false);
    for i in 0..accepted {
        match b.next().await {
            NotificationsEvent::Notification { peer, bytes, .. } => {
                assert_eq!(peer, peer_a);
                assert_eq!(bytes.len(), SIZE);
                assert_eq!(bytes[..8], (i as u64).to_le_bytes(), "notification {i} out of order");
            }
            other => panic!("expected notification {i}, got {other:?}"),
        }
    }
    send(&a, peer_b, b"again".to_vec()).await.unwrap();
    expect_notification(&mut b, peer_a, b"again").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_closes_both_sides_and_reopening_uses_the_new_handshake() {
    let mut a = node(vec![config(b"a", 1024)]).await;
    let mut b = node(vec![config(b"b", 1024)]).await;
    connect(&mut a, &mut b).await;
    open(&mut a, &mut b, b"a", b"b", MAIN).await;
    open(&mut b, &mut a, b"b", b"a", MAIN).await;
    let (peer_a, peer_b) = (a.peer, b.peer);

    // Notifications queued right before closing are still delivered.
    a.with(move |n| {
        for i in 0..10u8 {
            n.send(peer_b, P, vec![i; 10]).unwrap();
        }
        n.close(peer_b, P);
        assert!(!n.is_open(&peer_b, P) && !n.is_inbound_open(&peer_b, P));
        assert_eq!(n.send(peer_b, P, vec![1]), Err(SendError::NotOpen));
    })
    .await;
    expect_closed(&mut a, peer_b, Direction::Outbound).await;
    expect_closed(&mut a, peer_b, Direction::Inbound).await;
    a.assert_quiet().await;

    let mut notifications = 0;
    let mut closed = Vec::new();
    while closed.len() < 2 {
        match b.next().await {
            NotificationsEvent::Notification { bytes, .. } => {
                assert!(closed.is_empty() || closed == [Direction::Outbound]);
                assert_eq!(bytes, vec![notifications; 10]);
                notifications += 1;
            }
            NotificationsEvent::Closed { peer, direction, .. } => {
                assert_eq!(peer, peer_a);
                if direction == Direction::Inbound {
                    assert_eq!(notifications, 10, "closed before every notification arrived");
                }
                closed.push(direction);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(notifications, 10);
    assert!(!b.with(move |n| n.is_open(&peer_a, P) || n.is_inbound_open(&peer_a, P)).await);
    b.assert_quiet().await;

    // The handshake is updatable: reopening carries the new one.
    a.with(|n| n.set_handshake(P, b"a, best #2".to_vec())).await;
    b.with(|n| n.set_handshake(P, b"b, best #3".to_vec())).await;
    open(&mut a, &mut b, b"a, best #2", b"b, best #3", MAIN).await;
    send(&a, peer_b, b"hello again".to_vec()).await.unwrap();
    expect_notification(&mut b, peer_a, b"hello again").await;

    // Refusing a request with `close` works too.
    b.with(move |n| n.open(peer_a, P)).await;
    assert!(matches!(a.next().await, NotificationsEvent::InboundOpenRequest { .. }));
    a.with(move |n| n.close(peer_b, P)).await;
    expect_closed(&mut a, peer_b, Direction::Outbound).await;
    let mut outcomes = Vec::new();
    for _ in 0..2 {
        match b.next().await {
            NotificationsEvent::OutboundOpenFailed { peer, .. } if peer == peer_a => outcomes.push("refused"),
            NotificationsEvent::Closed { peer, direction: Direction::Inbound, .. } if peer == peer_a => {
                outcomes.push("closed")
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    outcomes.sort();
    assert_eq!(outcomes, ["closed", "refused"]);
    a.assert_quiet().await;
    b.assert_quiet().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn substreams_live_on_the_oldest_connection_and_close_with_it() {
    let mut a = node(vec![config(b"a", 1024)]).await;
    let mut b = node(vec![config(b"b", 1024)]).await;
    // Two connections; A's first is the oldest.
    a.dial(b.addr.clone()).await;
    let first = a.connected(b.peer).await;
    b.connected(a.peer).await;
    a.dial(b.addr.clone()).await;
    let second = a.connected(b.peer).await;
    b.connected(a.peer).await;
    let (peer_a, peer_b) = (a.peer, b.peer);

    open(&mut a, &mut b, b"a", b"b", MAIN).await;
    open(&mut b, &mut a, b"b", b"a", MAIN).await;

    // Closing the other connection changes nothing.
    assert!(a.call(move |s| s.close_connection(second)).await);
    a.assert_quiet().await;
    b.assert_quiet().await;
    send(&a, peer_b, b"still here".to_vec()).await.unwrap();
    expect_notification(&mut b, peer_a, b"still here").await;

    // Closing the one carrying the substreams closes all of them, on both sides.
    assert!(a.call(move |s| s.close_connection(first)).await);
    for node in [&mut a, &mut b] {
        let peer = if node.peer == peer_a { peer_b } else { peer_a };
        let mut directions = Vec::new();
        for _ in 0..2 {
            match node.next().await {
                NotificationsEvent::Closed { peer: p, direction, .. } if p == peer => directions.push(direction),
                other => panic!("expected a closed substream, got {other:?}"),
            }
        }
        directions.sort_by_key(|d| *d == Direction::Outbound);
        assert_eq!(directions, [Direction::Inbound, Direction::Outbound]);
        assert!(!node.with(move |n| n.is_open(&peer, P)).await);
    }
    assert_eq!(send(&a, peer_b, b"gone".to_vec()).await, Err(SendError::NotOpen));
}

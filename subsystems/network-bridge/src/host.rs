//! The network host: a libp2p swarm run by one tokio task, and the handle that talks to
//! it.
//!
//! Stack: TCP and WebSocket-over-TCP transports behind the system's DNS resolver, multistream
//! select (`V1Lazy`, as Substrate), Noise XX with the node key, Yamux. Behaviours:
//! * `identify` (protocol version `/substrate/1.0`, agent `weft/<version>`): the
//!   addresses a peer listens on are added to Kademlia when the peer speaks our
//!   Kademlia protocol, and remembered for redialing;
//! * `ping`;
//! * Kademlia on `/<genesis>[/<fork id>]/kad`, in server mode, seeded with the bootnodes
//!   and bootstrapped at start, then random walks (a query for the peers closest to a
//!   random id) after 1 s, 2 s, 4 s ... up to every minute while outbound slots are free;
//!   peers it discovers are dialed into free outbound slots;
//! * request-response on `/<genesis>[/<fork id>]/sync/2` (and the legacy
//!   `/<protocol id>/sync/2`) with [`SyncCodec`]: inbound block requests are served
//!   from the chain store on tokio's blocking pool; outbound requests are the client API
//!   ([`NetworkHost::request_blocks`]).
//!
//! Peers: connections beyond the inbound/outbound slots (reserved peers excepted), or
//! from non-reserved peers in reserved-only mode, are closed as soon as they are
//! established. A peer reported for a fatal offence (an oversized request or response,
//! an invalid response, an invalid block), or for ten minor ones, is disconnected and
//! banned for [`BAN_DURATION`].

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use futures::StreamExt;
use libp2p::core::muxing::StreamMuxerBox;
use libp2p::core::transport::ListenerId;
use libp2p::core::transport::{Boxed, Transport};
use libp2p::core::upgrade::Version;
use libp2p::request_response::{self, OutboundFailure, OutboundRequestId, ProtocolSupport};
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    dns, identify, identity, kad, noise, ping, tcp, websocket, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};
use tokio::sync::{broadcast, mpsc, oneshot};
use weft_block::grandpa::{AuthorityList, SetId};
use weft_block::{Header, H256};
use weft_chain_store::ChainStore;
use weft_consensus::grandpa::warp::{VerifiedWarpProof, WarpSyncProof};
use weft_network_protocol::announce::{
    check_grandpa_notification_size, decode_block_announce, decode_handshake, decode_transactions,
    encode_block_announce, encode_handshake, BlockAnnounce, BlockAnnouncesHandshake, Roles, MAX_BLOCK_ANNOUNCE_BYTES,
    MAX_GRANDPA_NOTIFICATION_BYTES, MAX_TRANSACTIONS_BYTES,
};
use weft_network_protocol::light::{MAX_LIGHT_REQUEST_BYTES, MAX_LIGHT_RESPONSE_BYTES};
use weft_network_protocol::names::{Protocol, ProtocolNames};
use weft_network_protocol::state::{MAX_STATE_REQUEST_BYTES, MAX_STATE_RESPONSE_BYTES};
use weft_network_protocol::sync::{
    decode_block_request, decode_block_response, encode_block_request, encode_block_response, validate_response,
    BlockRequest, ResponseBlock, MAX_BLOCK_RESPONSE_BYTES, MAX_REQUEST_BYTES,
};
use weft_runtime_executor::Executor;

use crate::codec::{FrameTooLarge, RequestFrame, SyncCodec};
use crate::config::split_peer_address;
use crate::notifications::{Notifications, NotificationsEvent, ProtocolConfig, ProtocolIndex};
use crate::server::serve_block_request;
use crate::{NetworkConfig, NetworkError};

/// The identify protocol version Substrate nodes announce.
pub const IDENTIFY_PROTOCOL_VERSION: &str = "/substrate/1.0";
/// The agent version Weft announces through identify.
pub const AGENT_VERSION: &str = concat!("weft/", env!("CARGO_PKG_VERSION"));
/// How long a banned peer stays banned.
pub const BAN_DURATION: Duration = Duration::from_secs(5 * 60);

/// Most block requests served at once (Substrate queues 20); more are dropped unanswered.
pub const MAX_CONCURRENT_SERVES: usize = 16;

const EVENT_CAPACITY: usize = 1024;
const MINOR_REPORTS_BEFORE_BAN: f64 = 10.0;
/// Minor offences are forgotten over time: their weight halves every minute (Substrate's
/// reputation decays towards zero the same way), so only a burst of them bans a peer.
const MINOR_REPORT_HALF_LIFE: Duration = Duration::from_secs(60);
const REDIAL_INTERVAL: Duration = Duration::from_secs(5);
/// First delay between Kademlia random walks; it doubles after each walk up to
/// [`MAX_RANDOM_WALK_DELAY`] (Substrate's discovery does the same).
const FIRST_RANDOM_WALK_DELAY: Duration = Duration::from_secs(1);
/// Longest delay between Kademlia random walks.
const MAX_RANDOM_WALK_DELAY: Duration = Duration::from_secs(60);
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(60);
const TRANSPORT_TIMEOUT: Duration = Duration::from_secs(20);
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);

/// What the host tells its subscribers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkEvent {
    /// The host listens on a new address.
    Listening {
        /// The address (without `/p2p/`).
        address: Multiaddr,
    },
    /// A listen address is gone.
    ListenAddressExpired {
        /// The address.
        address: Multiaddr,
    },
    /// A peer connected and was given a slot.
    PeerConnected {
        /// The peer.
        peer: PeerId,
        /// Its address on the first connection.
        address: Multiaddr,
        /// Whether the peer dialed us.
        inbound: bool,
    },
    /// The last connection with a peer closed.
    PeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A peer told us who it is (identify).
    PeerIdentified {
        /// The peer.
        peer: PeerId,
        /// Its agent version (e.g. `Parity Polkadot/v1.15.0`).
        agent_version: String,
        /// Its identify protocol version (`/substrate/1.0` for Substrate nodes).
        protocol_version: String,
        /// Whether it speaks our chain's block request protocol.
        supports_sync: bool,
    },
    /// A peer was reported for misbehaving.
    PeerReported {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: String,
        /// Whether the peer is now banned (and disconnected).
        banned: bool,
    },
    /// A peer's block-announces substream opened with a valid handshake: the peer is on
    /// our chain and now a sync peer.
    SyncPeerConnected {
        /// The peer.
        peer: PeerId,
        /// Its handshake (roles, best block).
        handshake: BlockAnnouncesHandshake,
    },
    /// A sync peer's block-announces substreams closed.
    SyncPeerDisconnected {
        /// The peer.
        peer: PeerId,
    },
    /// A sync peer announced a block.
    BlockAnnounce {
        /// The peer.
        peer: PeerId,
        /// The announced header.
        header: Header,
        /// Whether the peer says it is its new best block.
        is_best: bool,
    },
    /// A sync peer sent transactions.
    Transactions {
        /// The peer.
        peer: PeerId,
        /// The encoded extrinsics.
        extrinsics: Vec<Vec<u8>>,
    },
    /// A GRANDPA gossip message arrived (raw; the GRANDPA subsystem decodes it).
    GrandpaNotification {
        /// The peer.
        peer: PeerId,
        /// The message.
        bytes: Vec<u8>,
    },
    /// A block request was answered.
    BlockRequestServed {
        /// The requester.
        peer: PeerId,
        /// Blocks in the response.
        blocks: usize,
        /// Size of the response.
        bytes: usize,
    },
}

/// How bad a peer's misbehaviour is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// Worth noting; ten of them ban the peer.
    Minor,
    /// The peer is banned at once.
    Fatal,
}

/// A report on a peer's misbehaviour.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerReport {
    /// How bad it is.
    pub severity: Severity,
    /// What the peer did.
    pub reason: String,
}

impl PeerReport {
    /// A minor misbehaviour.
    pub fn minor(reason: impl Into<String>) -> Self {
        PeerReport { severity: Severity::Minor, reason: reason.into() }
    }

    /// A fatal misbehaviour: the peer is banned.
    pub fn fatal(reason: impl Into<String>) -> Self {
        PeerReport { severity: Severity::Fatal, reason: reason.into() }
    }
}

/// Counters of the host's request-response traffic (payload bytes, framing excluded).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetworkStats {
    /// Requests sent that got a response.
    pub requests_completed: u64,
    /// Requests sent that failed.
    pub requests_failed: u64,
    /// Bytes of the responses received.
    pub bytes_received: u64,
    /// Inbound requests answered.
    pub requests_served: u64,
    /// Bytes of the responses sent.
    pub bytes_served: u64,
}

/// The request-response protocols of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestProtocol {
    /// `sync/2` block requests.
    Sync,
    /// `state/2` state requests.
    State,
    /// `light/2` light-client requests.
    Light,
    /// `sync/warp` GRANDPA warp-sync proofs.
    Warp,
}

impl RequestProtocol {
    fn max_request(self) -> usize {
        match self {
            RequestProtocol::Sync => MAX_REQUEST_BYTES,
            RequestProtocol::State => MAX_STATE_REQUEST_BYTES,
            RequestProtocol::Light => MAX_LIGHT_REQUEST_BYTES,
            RequestProtocol::Warp => crate::warp_server::WARP_REQUEST_BYTES,
        }
    }

    fn max_response(self) -> usize {
        match self {
            RequestProtocol::Sync => MAX_BLOCK_RESPONSE_BYTES,
            RequestProtocol::State => MAX_STATE_RESPONSE_BYTES,
            RequestProtocol::Light => MAX_LIGHT_RESPONSE_BYTES,
            RequestProtocol::Warp => weft_consensus::grandpa::warp::MAX_WARP_RESPONSE_SIZE,
        }
    }

    fn names(self) -> Protocol {
        match self {
            RequestProtocol::Sync => Protocol::Sync,
            RequestProtocol::State => Protocol::State,
            RequestProtocol::Light => Protocol::Light,
            RequestProtocol::Warp => Protocol::SyncWarp,
        }
    }
}

/// The notification protocols of the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotificationProtocol {
    /// `block-announces/1`.
    BlockAnnounces,
    /// `transactions/1`.
    Transactions,
    /// `grandpa/1`.
    Grandpa,
}

impl NotificationProtocol {
    const ALL: [NotificationProtocol; 3] =
        [NotificationProtocol::BlockAnnounces, NotificationProtocol::Transactions, NotificationProtocol::Grandpa];

    fn index(self) -> ProtocolIndex {
        ProtocolIndex(self as usize)
    }

    fn from_index(index: ProtocolIndex) -> Option<Self> {
        Self::ALL.get(index.0).copied()
    }

    fn names(self) -> Protocol {
        match self {
            NotificationProtocol::BlockAnnounces => Protocol::BlockAnnounces,
            NotificationProtocol::Transactions => Protocol::Transactions,
            NotificationProtocol::Grandpa => Protocol::Grandpa,
        }
    }

    fn max_notification(self) -> usize {
        match self {
            NotificationProtocol::BlockAnnounces => MAX_BLOCK_ANNOUNCE_BYTES,
            NotificationProtocol::Transactions => MAX_TRANSACTIONS_BYTES,
            NotificationProtocol::Grandpa => MAX_GRANDPA_NOTIFICATION_BYTES,
        }
    }
}

#[derive(NetworkBehaviour)]
struct Behaviour {
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: kad::Behaviour<kad::store::MemoryStore>,
    sync: request_response::Behaviour<SyncCodec>,
    state: request_response::Behaviour<SyncCodec>,
    light: request_response::Behaviour<SyncCodec>,
    warp: request_response::Behaviour<SyncCodec>,
    notifications: Notifications,
}

impl Behaviour {
    fn requests(&mut self, protocol: RequestProtocol) -> &mut request_response::Behaviour<SyncCodec> {
        match protocol {
            RequestProtocol::Sync => &mut self.sync,
            RequestProtocol::State => &mut self.state,
            RequestProtocol::Light => &mut self.light,
            RequestProtocol::Warp => &mut self.warp,
        }
    }
}

fn request_behaviour(
    names: &ProtocolNames,
    protocol: RequestProtocol,
    timeout: Duration,
) -> Result<(request_response::Behaviour<SyncCodec>, Vec<StreamProtocol>), NetworkError> {
    let protocols = names.names(protocol.names()).into_iter().map(stream_protocol).collect::<Result<Vec<_>, _>>()?;
    let behaviour = request_response::Behaviour::with_codec(
        SyncCodec::with_limits(protocol.max_request(), protocol.max_response()),
        protocols.iter().cloned().map(|p| (p, ProtocolSupport::Full)),
        request_response::Config::default().with_request_timeout(timeout),
    );
    Ok((behaviour, protocols))
}

fn stream_protocol(name: String) -> Result<StreamProtocol, NetworkError> {
    StreamProtocol::try_from_owned(name.clone()).map_err(|_| NetworkError::ProtocolName(name))
}

fn build_transport(keypair: &identity::Keypair) -> Result<Boxed<(PeerId, StreamMuxerBox)>, NetworkError> {
    let noise = noise::Config::new(keypair).map_err(|e| NetworkError::Transport(format!("noise: {e}")))?;
    let tcp_and_ws = || {
        let tcp_config = tcp::Config::new().nodelay(true);
        let ws = websocket::Config::new(tcp::tokio::Transport::new(tcp_config.clone()));
        ws.or_transport(tcp::tokio::Transport::new(tcp_config))
    };
    Ok(match dns::tokio::Transport::system(tcp_and_ws()) {
        Ok(with_dns) => secure_and_multiplex(with_dns, noise),
        Err(e) => {
            tracing::warn!("no DNS resolver ({e}): /dns addresses cannot be dialed");
            secure_and_multiplex(tcp_and_ws(), noise)
        }
    })
}

/// Multistream-select (`V1Lazy`, as Substrate), Noise XX, Yamux, and a timeout on the
/// whole connection upgrade.
fn secure_and_multiplex<T>(transport: T, noise: noise::Config) -> Boxed<(PeerId, StreamMuxerBox)>
where
    T: Transport + Send + Unpin + 'static,
    T::Output: futures::AsyncRead + futures::AsyncWrite + Unpin + Send + 'static,
    T::Error: Send + Sync + 'static,
    T::Dial: Send + 'static,
    T::ListenerUpgrade: Send + 'static,
{
    transport
        .upgrade(Version::V1Lazy)
        .authenticate(noise)
        .multiplex(yamux::Config::default())
        .timeout(TRANSPORT_TIMEOUT)
        .boxed()
}

#[derive(Default)]
struct Shared {
    listen_addrs: Vec<Multiaddr>,
    connected: HashSet<PeerId>,
    sync_peers: HashMap<PeerId, BlockAnnouncesHandshake>,
    stats: NetworkStats,
}

/// Where the outcome of an outbound request goes: called once, on the swarm task, so it
/// must not block.
pub type ResponseCallback = Box<dyn FnOnce(Result<Vec<u8>, NetworkError>) + Send>;
type Reply = ResponseCallback;

enum Command {
    Request { peer: PeerId, protocol: RequestProtocol, payload: Vec<u8>, reply: Reply },
    Announce { header: Box<Header>, is_best: bool },
    Notify { peer: PeerId, protocol: NotificationProtocol, bytes: Vec<u8> },
    Report { peer: PeerId, report: PeerReport },
    Dial { address: Multiaddr },
    Shutdown,
}

struct HostInner {
    local_peer_id: PeerId,
    names: ProtocolNames,
    commands: mpsc::UnboundedSender<Command>,
    events: broadcast::Sender<NetworkEvent>,
    shared: Arc<Mutex<Shared>>,
    request_timeout: Duration,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// A handle on the running network (cheap to clone). The swarm task stops on
/// [`NetworkHost::shutdown`] or when every handle is dropped.
#[derive(Clone)]
pub struct NetworkHost {
    inner: Arc<HostInner>,
}

impl std::fmt::Debug for NetworkHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NetworkHost").field("local_peer_id", &self.inner.local_peer_id).finish_non_exhaustive()
    }
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    // The lock only guards plain data updated in short critical sections.
    shared.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl NetworkHost {
    /// Builds the swarm, starts listening, dials the bootnodes and reserved nodes, and
    /// spawns the swarm task on the current tokio runtime. Returns once every listen
    /// address is bound, with a receiver that gets every event from the start.
    pub async fn start(
        config: NetworkConfig,
        store: ChainStore,
    ) -> Result<(NetworkHost, broadcast::Receiver<NetworkEvent>), NetworkError> {
        Self::start_with(config, store, None).await
    }

    /// [`NetworkHost::start`], with the executor that runs `light/2` remote calls (the
    /// node's, so that compiled runtimes are shared; without one a default executor is
    /// used).
    pub async fn start_with(
        config: NetworkConfig,
        store: ChainStore,
        executor: Option<Executor>,
    ) -> Result<(NetworkHost, broadcast::Receiver<NetworkEvent>), NetworkError> {
        let names = config.protocol_names();
        let keypair = config.node_key.keypair().clone();
        let local_peer_id = keypair.public().to_peer_id();

        let (sync, sync_protocols) = request_behaviour(&names, RequestProtocol::Sync, config.request_timeout)?;
        let (state, _) = request_behaviour(&names, RequestProtocol::State, config.request_timeout)?;
        let (light, _) = request_behaviour(&names, RequestProtocol::Light, config.request_timeout)?;
        let (warp, _) = request_behaviour(&names, RequestProtocol::Warp, config.request_timeout)?;
        // A store without a genesis yet (tools, tests) announces the genesis as its best.
        let (best_number, best_hash) = store.best().unwrap_or((0, config.genesis_hash));
        let handshake =
            BlockAnnouncesHandshake { roles: Roles::FULL, best_number, best_hash, genesis_hash: config.genesis_hash };
        let mut notification_protocols = Vec::new();
        for protocol in NotificationProtocol::ALL {
            let mut all = names.names(protocol.names()).into_iter().map(stream_protocol);
            let main = all.next().ok_or_else(|| NetworkError::ProtocolName(format!("{protocol:?}")))??;
            let fallbacks = all.collect::<Result<Vec<_>, _>>()?;
            let our_handshake = match protocol {
                NotificationProtocol::BlockAnnounces => encode_handshake(&handshake),
                // The other protocols' handshake is our roles (Substrate's default).
                _ => vec![Roles::FULL.bits()],
            };
            notification_protocols.push(
                ProtocolConfig::new(main, our_handshake, protocol.max_notification() as u64)
                    .with_fallback_names(fallbacks),
            );
        }
        let kad_protocol = stream_protocol(names.name(Protocol::Kad))?;
        let bootnodes = config.bootnodes.iter().map(split_peer_address).collect::<Result<Vec<_>, _>>()?;
        let reserved: HashMap<PeerId, Multiaddr> =
            config.reserved_nodes.iter().map(split_peer_address).collect::<Result<_, _>>()?;

        let mut kad_config = kad::Config::new(kad_protocol.clone());
        // Peers' records are not stored: Weft uses the DHT for discovery only.
        kad_config.set_record_filtering(kad::StoreInserts::FilterBoth);
        let mut kad =
            kad::Behaviour::with_config(local_peer_id, kad::store::MemoryStore::new(local_peer_id), kad_config);
        kad.set_mode(Some(kad::Mode::Server));
        let behaviour = Behaviour {
            identify: identify::Behaviour::new(
                identify::Config::new(IDENTIFY_PROTOCOL_VERSION.to_string(), keypair.public())
                    .with_agent_version(AGENT_VERSION.to_string()),
            ),
            ping: ping::Behaviour::new(ping::Config::new()),
            kad,
            sync,
            state,
            light,
            warp,
            notifications: Notifications::new(notification_protocols),
        };
        let transport = build_transport(&keypair)?;
        let mut swarm = Swarm::new(
            transport,
            behaviour,
            local_peer_id,
            libp2p::swarm::Config::with_tokio_executor().with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT),
        );

        tracing::info!(peer_id = %local_peer_id, "local node identity is {local_peer_id}");
        tracing::info!(sync = %sync_protocols[0], kad = %kad_protocol, "chain protocols");
        let mut pending_listeners = HashSet::new();
        for address in &config.listen_addrs {
            let id = swarm
                .listen_on(address.clone())
                .map_err(|e| NetworkError::Listen { address: address.clone(), reason: e.to_string() })?;
            pending_listeners.insert(id);
        }
        for address in &config.public_addrs {
            swarm.add_external_address(address.clone());
        }
        for (peer, address) in bootnodes.iter().map(|(p, a)| (p, a)).chain(reserved.iter()) {
            swarm.behaviour_mut().kad.add_address(peer, address.clone());
            swarm.add_peer_address(*peer, address.clone());
        }

        let shared = Arc::new(Mutex::new(Shared::default()));
        let (events, events_rx) = broadcast::channel(EVENT_CAPACITY);
        let (commands, commands_rx) = mpsc::unbounded_channel();
        let (served_tx, served_rx) = mpsc::unbounded_channel();
        let (ready_tx, ready_rx) = oneshot::channel();
        let event_loop = EventLoop {
            swarm,
            store,
            executor: executor.unwrap_or_default(),
            genesis_hash: config.genesis_hash,
            handshake,
            sync_peers: HashMap::new(),
            pending_announces: HashMap::new(),
            local_peer_id,
            commands: commands_rx,
            events: events.clone(),
            shared: shared.clone(),
            served_tx,
            served_rx,
            pending_requests: HashMap::new(),
            peers: HashMap::new(),
            bootnodes,
            reserved,
            banned: HashMap::new(),
            minor_reports: HashMap::new(),
            in_peers: config.in_peers,
            out_peers: config.out_peers,
            reserved_only: config.reserved_only,
            kad_protocol,
            sync_protocols,
            pending_listeners,
            ready: Some(ready_tx),
            serving: 0,
        };
        let task = tokio::spawn(event_loop.run());
        let host = NetworkHost {
            inner: Arc::new(HostInner {
                local_peer_id,
                names,
                commands,
                events,
                shared,
                request_timeout: config.request_timeout,
                task: Mutex::new(Some(task)),
            }),
        };
        match tokio::time::timeout(LISTEN_TIMEOUT, ready_rx).await {
            Ok(Ok(Ok(()))) => Ok((host, events_rx)),
            Ok(Ok(Err(e))) => {
                host.shutdown().await;
                Err(e)
            }
            Ok(Err(_)) => Err(NetworkError::Shutdown),
            Err(_) => {
                host.shutdown().await;
                Err(NetworkError::Transport("listeners did not start in time".into()))
            }
        }
    }

    /// Our peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.inner.local_peer_id
    }

    /// The chain's protocol names.
    pub fn protocol_names(&self) -> &ProtocolNames {
        &self.inner.names
    }

    /// The addresses we listen on.
    pub fn listen_addrs(&self) -> Vec<Multiaddr> {
        lock(&self.inner.shared).listen_addrs.clone()
    }

    /// The listen addresses followed by `/p2p/<our peer id>`, as other nodes take them
    /// in their bootnodes.
    pub fn peer_addrs(&self) -> Vec<Multiaddr> {
        let id = self.inner.local_peer_id;
        self.listen_addrs().into_iter().map(|a| a.with(libp2p::multiaddr::Protocol::P2p(id))).collect()
    }

    /// The peers that hold a slot.
    pub fn connected_peers(&self) -> Vec<PeerId> {
        lock(&self.inner.shared).connected.iter().copied().collect()
    }

    /// Traffic counters.
    pub fn stats(&self) -> NetworkStats {
        lock(&self.inner.shared).stats
    }

    /// A new receiver of events (from now on).
    pub fn subscribe(&self) -> broadcast::Receiver<NetworkEvent> {
        self.inner.events.subscribe()
    }

    /// Dials an address (its `/p2p/` suffix, if any, is checked against the peer).
    pub fn dial(&self, address: Multiaddr) -> Result<(), NetworkError> {
        self.send(Command::Dial { address })
    }

    /// Reports a peer's misbehaviour.
    pub fn report_peer(&self, peer: PeerId, report: PeerReport) {
        // After shutdown there is nobody left to report to.
        let _ = self.send(Command::Report { peer, report });
    }

    fn send(&self, command: Command) -> Result<(), NetworkError> {
        self.inner.commands.send(command).map_err(|_| NetworkError::Shutdown)
    }

    /// Sends a raw `sync/2` request (at most [`MAX_REQUEST_BYTES`]) to `peer`, dialing it
    /// if needed, and returns the raw response (at most 16 MiB).
    pub async fn request_raw(&self, peer: PeerId, payload: Vec<u8>) -> Result<Vec<u8>, NetworkError> {
        self.request(peer, RequestProtocol::Sync, payload).await
    }

    /// Sends a raw request on one of the request protocols to `peer`, dialing it if
    /// needed, and returns the raw response (within the protocol's size limit).
    pub async fn request(
        &self,
        peer: PeerId,
        protocol: RequestProtocol,
        payload: Vec<u8>,
    ) -> Result<Vec<u8>, NetworkError> {
        if payload.len() > protocol.max_request() {
            return Err(NetworkError::RequestTooLarge { len: payload.len(), max: protocol.max_request() });
        }
        let (reply, response) = oneshot::channel();
        let reply: Reply = Box::new(move |result| {
            let _ = reply.send(result);
        });
        self.send(Command::Request { peer, protocol, payload, reply })?;
        // libp2p times the request once it is on a connection; dialing has its own
        // transport timeout. This bound covers both.
        let bound = self.inner.request_timeout * 2 + TRANSPORT_TIMEOUT;
        match tokio::time::timeout(bound, response).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(NetworkError::Shutdown),
            Err(_) => Err(NetworkError::Timeout(peer)),
        }
    }

    /// Sends a raw `sync/2` request to `peer` without waiting: `on_response` gets the raw
    /// response or the failure, on the swarm task. Used by the overseer's network bridge,
    /// whose sync subsystem decodes and checks responses itself.
    pub fn request_raw_with(&self, peer: PeerId, payload: Vec<u8>, on_response: ResponseCallback) {
        if payload.len() > MAX_REQUEST_BYTES {
            on_response(Err(NetworkError::RequestTooLarge { len: payload.len(), max: MAX_REQUEST_BYTES }));
            return;
        }
        let command = Command::Request { peer, protocol: RequestProtocol::Sync, payload, reply: on_response };
        if let Err(Command::Request { reply, .. }) = self.send_returning(command) {
            reply(Err(NetworkError::Shutdown));
        }
    }

    /// Announces a block to every sync peer (and, if it is our new best block, puts it in
    /// our block-announces handshake).
    pub fn announce_block(&self, header: Header, is_best: bool) {
        let _ = self.send(Command::Announce { header: Box::new(header), is_best });
    }

    /// Sends a notification to a peer on one of the notification protocols (dropped if
    /// the substream is not open or its queue is full).
    pub fn send_notification(&self, peer: PeerId, protocol: NotificationProtocol, bytes: Vec<u8>) {
        let _ = self.send(Command::Notify { peer, protocol, bytes });
    }

    /// The peers whose block-announces substream is open, with their handshake.
    pub fn sync_peers(&self) -> Vec<(PeerId, BlockAnnouncesHandshake)> {
        lock(&self.inner.shared).sync_peers.iter().map(|(p, h)| (*p, *h)).collect()
    }

    fn send_returning(&self, command: Command) -> Result<(), Command> {
        self.inner.commands.send(command).map_err(|e| e.0)
    }

    /// Sends a block request to `peer` and returns the blocks of its response, decoded
    /// and checked: every header hashes to its stated hash and the blocks answer the
    /// request ([`validate_response`]). A response that fails this is an error, and the
    /// peer is reported.
    pub async fn request_blocks(
        &self,
        peer: PeerId,
        request: BlockRequest,
    ) -> Result<Vec<ResponseBlock>, NetworkError> {
        self.request_blocks_counted(peer, &request).await.map(|(blocks, _)| blocks)
    }

    /// [`NetworkHost::request_blocks`], also returning the response's size in bytes.
    pub async fn request_blocks_counted(
        &self,
        peer: PeerId,
        request: &BlockRequest,
    ) -> Result<(Vec<ResponseBlock>, usize), NetworkError> {
        let response = self.request_raw(peer, encode_block_request(request)).await?;
        let checked = decode_block_response(&response).and_then(|blocks| {
            validate_response(request, &blocks)?;
            Ok(blocks)
        });
        match checked {
            Ok(blocks) => Ok((blocks, response.len())),
            Err(source) => {
                self.report_peer(peer, PeerReport::fatal(format!("invalid block response: {source}")));
                Err(NetworkError::InvalidResponse { peer, source: Box::new(source) })
            }
        }
    }

    /// Asks `peer` for a GRANDPA warp-sync proof starting after the finalized block
    /// `begin`, and checks it from the set `set_id` / `authorities` (the set current
    /// at `begin`). A proof that does not decode or verify is an error, and the peer
    /// is reported. Continue from `verified.last_header` while not `is_finished`.
    pub async fn request_warp_proof(
        &self,
        peer: PeerId,
        begin: H256,
        set_id: SetId,
        authorities: AuthorityList,
    ) -> Result<(WarpSyncProof, VerifiedWarpProof), NetworkError> {
        let response = self.request(peer, RequestProtocol::Warp, begin.as_bytes().to_vec()).await?;
        crate::check_warp_response(&response, set_id, authorities).map_err(|source| {
            self.report_peer(peer, PeerReport::fatal(format!("invalid warp proof: {source}")));
            NetworkError::InvalidWarpProof { peer, source: Box::new(source) }
        })
    }

    /// Stops the swarm task (closing every connection) and waits for it to end.
    pub async fn shutdown(&self) {
        let _ = self.send(Command::Shutdown);
        let task = self.inner.task.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(task) = task {
            // A panic of the swarm task has already been reported by tokio.
            let _ = task.await;
        }
    }
}

/// Answers one inbound request on the blocking pool: the encoded response (or why not)
/// and, for block requests, the number of blocks in it.
type ServeJob = Box<dyn FnOnce() -> (Result<Vec<u8>, String>, usize) + Send>;

/// A served block request, back from the blocking pool.
struct Served {
    protocol: RequestProtocol,
    peer: PeerId,
    channel: request_response::ResponseChannel<Vec<u8>>,
    result: Result<Vec<u8>, String>,
    blocks: usize,
}

struct PeerSlot {
    inbound: bool,
    reserved: bool,
}

struct EventLoop {
    swarm: Swarm<Behaviour>,
    store: ChainStore,
    executor: Executor,
    genesis_hash: H256,
    /// Our block-announces handshake (best block updated by announces).
    handshake: BlockAnnouncesHandshake,
    /// Peers whose block-announces handshake we accepted.
    sync_peers: HashMap<PeerId, BlockAnnouncesHandshake>,
    /// The latest announce for sync peers whose outbound substream was not open yet.
    pending_announces: HashMap<PeerId, Vec<u8>>,
    local_peer_id: PeerId,
    commands: mpsc::UnboundedReceiver<Command>,
    events: broadcast::Sender<NetworkEvent>,
    shared: Arc<Mutex<Shared>>,
    served_tx: mpsc::UnboundedSender<Served>,
    served_rx: mpsc::UnboundedReceiver<Served>,
    pending_requests: HashMap<(RequestProtocol, OutboundRequestId), (PeerId, Reply)>,
    peers: HashMap<PeerId, PeerSlot>,
    bootnodes: Vec<(PeerId, Multiaddr)>,
    reserved: HashMap<PeerId, Multiaddr>,
    banned: HashMap<PeerId, Instant>,
    /// Decaying weight of each peer's minor offences, and when it was last updated.
    minor_reports: HashMap<PeerId, (f64, Instant)>,
    in_peers: u32,
    out_peers: u32,
    reserved_only: bool,
    kad_protocol: StreamProtocol,
    sync_protocols: Vec<StreamProtocol>,
    pending_listeners: HashSet<ListenerId>,
    ready: Option<oneshot::Sender<Result<(), NetworkError>>>,
    /// Block requests being served on the blocking pool.
    serving: usize,
}

impl EventLoop {
    async fn run(mut self) {
        if self.pending_listeners.is_empty() {
            self.signal_ready(Ok(()));
        }
        // In reserved-only mode, connections to other peers would be closed at once.
        let bootnodes = if self.reserved_only { Vec::new() } else { self.bootnodes.clone() };
        let reserved = self.reserved.iter().map(|(p, a)| (*p, a.clone()));
        let targets: Vec<(PeerId, Multiaddr)> = bootnodes.iter().cloned().chain(reserved).collect();
        for (peer, address) in targets {
            self.dial_peer(peer, address);
        }
        if !bootnodes.is_empty() {
            if let Err(e) = self.swarm.behaviour_mut().kad.bootstrap() {
                tracing::debug!("kademlia bootstrap: {e:?}");
            }
        }

        let mut redial = tokio::time::interval(REDIAL_INTERVAL);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut walk_delay = FIRST_RANDOM_WALK_DELAY;
        let random_walk = tokio::time::sleep(walk_delay);
        tokio::pin!(random_walk);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_swarm_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Shutdown) | None => break,
                    Some(command) => self.on_command(command),
                },
                Some(served) = self.served_rx.recv() => self.on_served(served),
                _ = redial.tick() => self.redial_reserved(),
                _ = &mut random_walk => {
                    self.random_walk();
                    walk_delay = (walk_delay * 2).min(MAX_RANDOM_WALK_DELAY);
                    random_walk.as_mut().reset(tokio::time::Instant::now() + walk_delay);
                }
            }
        }
        for (_, (_, reply)) in self.pending_requests.drain() {
            reply(Err(NetworkError::Shutdown));
        }
        tracing::debug!("network host stopped");
    }

    fn emit(&self, event: NetworkEvent) {
        // No subscriber is not an error.
        let _ = self.events.send(event);
    }

    fn signal_ready(&mut self, result: Result<(), NetworkError>) {
        if let Some(ready) = self.ready.take() {
            let _ = ready.send(result);
        }
    }

    fn dial_peer(&mut self, peer: PeerId, address: Multiaddr) {
        let opts = DialOpts::peer_id(peer)
            .addresses(vec![address])
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, "dial: {e}");
        }
    }

    fn is_banned(&mut self, peer: &PeerId) -> bool {
        match self.banned.get(peer) {
            Some(until) if *until > Instant::now() => true,
            Some(_) => {
                self.banned.remove(peer);
                false
            }
            None => false,
        }
    }

    fn report(&mut self, peer: PeerId, report: PeerReport) {
        let banned = match report.severity {
            Severity::Fatal => true,
            Severity::Minor => {
                let now = Instant::now();
                let (weight, since) = self.minor_reports.entry(peer).or_insert((0.0, now));
                let half_lives = now.duration_since(*since).as_secs_f64() / MINOR_REPORT_HALF_LIFE.as_secs_f64();
                *weight = *weight * 0.5f64.powf(half_lives) + 1.0;
                *since = now;
                // Ten reports within a few seconds weigh a little under ten.
                *weight > MINOR_REPORTS_BEFORE_BAN - 0.5
            }
        };
        tracing::warn!(%peer, banned, "peer reported: {}", report.reason);
        if banned {
            self.minor_reports.remove(&peer);
            self.banned.insert(peer, Instant::now() + BAN_DURATION);
            let _ = self.swarm.disconnect_peer_id(peer);
        }
        self.emit(NetworkEvent::PeerReported { peer, reason: report.reason, banned });
    }

    fn redial_reserved(&mut self) {
        let missing: Vec<(PeerId, Multiaddr)> = self
            .reserved
            .iter()
            .filter(|(peer, _)| !self.peers.contains_key(peer))
            .map(|(p, a)| (*p, a.clone()))
            .collect();
        for (peer, address) in missing {
            if !self.is_banned(&peer) {
                self.dial_peer(peer, address);
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request { peer, protocol, payload, reply } => {
                if self.is_banned(&peer) {
                    reply(Err(NetworkError::Banned(peer)));
                    return;
                }
                let id =
                    self.swarm.behaviour_mut().requests(protocol).send_request(&peer, RequestFrame::Payload(payload));
                self.pending_requests.insert((protocol, id), (peer, reply));
            }
            Command::Report { peer, report } => self.report(peer, report),
            Command::Dial { address } => {
                if let Err(e) = self.swarm.dial(address.clone()) {
                    tracing::warn!(%address, "dial: {e}");
                }
            }
            Command::Announce { header, is_best } => self.announce(*header, is_best),
            Command::Notify { peer, protocol, bytes } => {
                if let Err(e) = self.swarm.behaviour_mut().notifications.send(peer, protocol.index(), bytes) {
                    tracing::debug!(%peer, ?protocol, "notification not sent: {e}");
                }
            }
            Command::Shutdown => {}
        }
    }

    fn announce(&mut self, header: Header, is_best: bool) {
        let hash = header.hash();
        if is_best && header.number >= self.handshake.best_number {
            self.handshake.best_number = header.number;
            self.handshake.best_hash = hash;
            let encoded = encode_handshake(&self.handshake);
            self.swarm
                .behaviour_mut()
                .notifications
                .set_handshake(NotificationProtocol::BlockAnnounces.index(), encoded);
        }
        let bytes = encode_block_announce(&BlockAnnounce::new(header, is_best));
        let peers: Vec<PeerId> = self.sync_peers.keys().copied().collect();
        let index = NotificationProtocol::BlockAnnounces.index();
        let mut sent = 0;
        for peer in peers {
            if !self.swarm.behaviour().notifications.is_open(&peer, index) {
                // Our substream is still opening: the announce goes out once it is open.
                self.pending_announces.insert(peer, bytes.clone());
                continue;
            }
            match self.swarm.behaviour_mut().notifications.send(peer, index, bytes.clone()) {
                Ok(()) => sent += 1,
                Err(e) => tracing::debug!(%peer, "block announce not sent: {e}"),
            }
        }
        tracing::debug!(%hash, sent, "block announced");
    }

    fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(BehaviourEvent::Sync(event)) => self.on_request_event(RequestProtocol::Sync, event),
            SwarmEvent::Behaviour(BehaviourEvent::State(event)) => self.on_request_event(RequestProtocol::State, event),
            SwarmEvent::Behaviour(BehaviourEvent::Light(event)) => self.on_request_event(RequestProtocol::Light, event),
            SwarmEvent::Behaviour(BehaviourEvent::Warp(event)) => self.on_request_event(RequestProtocol::Warp, event),
            SwarmEvent::Behaviour(BehaviourEvent::Notifications(event)) => self.on_notifications_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Identify(event)) => self.on_identify_event(event),
            SwarmEvent::Behaviour(BehaviourEvent::Kad(event)) => match event {
                kad::Event::RoutingUpdated { peer, is_new_peer, addresses, .. } => {
                    tracing::debug!(%peer, "kademlia routing table updated");
                    if is_new_peer {
                        self.dial_discovered(peer, addresses.into_vec());
                    }
                }
                kad::Event::OutboundQueryProgressed {
                    result: kad::QueryResult::GetClosestPeers(Ok(found)), ..
                } => {
                    tracing::debug!(found = found.peers.len(), "kademlia random walk");
                    for info in found.peers {
                        self.dial_discovered(info.peer_id, info.addrs);
                    }
                }
                kad::Event::OutboundQueryProgressed { result: kad::QueryResult::Bootstrap(result), .. } => {
                    tracing::debug!("kademlia bootstrap: {result:?}")
                }
                other => tracing::trace!("kademlia: {other:?}"),
            },
            SwarmEvent::Behaviour(BehaviourEvent::Ping(event)) => match event.result {
                Ok(rtt) => tracing::trace!(peer = %event.peer, ?rtt, "ping"),
                Err(e) => tracing::debug!(peer = %event.peer, "ping failed: {e}"),
            },
            SwarmEvent::NewListenAddr { listener_id, address } => {
                tracing::info!("listening on {}/p2p/{}", address, self.local_peer_id);
                lock(&self.shared).listen_addrs.push(address.clone());
                self.emit(NetworkEvent::Listening { address });
                if self.pending_listeners.remove(&listener_id) && self.pending_listeners.is_empty() {
                    self.signal_ready(Ok(()));
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                lock(&self.shared).listen_addrs.retain(|a| *a != address);
                self.emit(NetworkEvent::ListenAddressExpired { address });
            }
            SwarmEvent::ListenerClosed { listener_id, addresses, reason } => {
                tracing::warn!(?addresses, "listener closed: {reason:?}");
                lock(&self.shared).listen_addrs.retain(|a| !addresses.contains(a));
                if self.pending_listeners.remove(&listener_id) {
                    let reason = match reason {
                        Ok(()) => "closed".to_string(),
                        Err(e) => e.to_string(),
                    };
                    let address = addresses.into_iter().next().unwrap_or_else(Multiaddr::empty);
                    self.signal_ready(Err(NetworkError::Listen { address, reason }));
                }
            }
            SwarmEvent::ListenerError { error, .. } => tracing::warn!("listener error: {error}"),
            SwarmEvent::ConnectionEstablished { peer_id, endpoint, .. } => {
                self.on_connection(peer_id, endpoint.is_listener(), endpoint.get_remote_address().clone())
            }
            SwarmEvent::ConnectionClosed { peer_id, num_established, cause, .. } => {
                tracing::debug!(peer = %peer_id, num_established, "connection closed: {cause:?}");
                if num_established == 0 {
                    self.sync_peer_gone(peer_id);
                }
                if num_established == 0 && self.peers.remove(&peer_id).is_some() {
                    lock(&self.shared).connected.remove(&peer_id);
                    tracing::info!(peer = %peer_id, "peer disconnected");
                    self.emit(NetworkEvent::PeerDisconnected { peer: peer_id });
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(peer = ?peer_id, "outgoing connection failed: {error}")
            }
            SwarmEvent::IncomingConnectionError { send_back_addr, error, .. } => {
                tracing::debug!(%send_back_addr, "incoming connection failed: {error}")
            }
            _ => {}
        }
    }

    /// Free outbound slots (for peers that are neither reserved nor inbound).
    fn free_out_slots(&self) -> usize {
        let used = self.peers.values().filter(|s| !s.reserved && !s.inbound).count();
        (self.out_peers as usize).saturating_sub(used)
    }

    /// Looks for more peers when outbound slots are free (not in reserved-only mode):
    /// a Kademlia query for the peers closest to a random id, and dials to peers of the
    /// routing table we are not connected to.
    fn random_walk(&mut self) {
        if self.reserved_only || self.free_out_slots() == 0 {
            return;
        }
        self.swarm.behaviour_mut().kad.get_closest_peers(PeerId::random());
        let known: Vec<(PeerId, Vec<Multiaddr>)> = self
            .swarm
            .behaviour_mut()
            .kad
            .kbuckets()
            .flat_map(|bucket| {
                bucket
                    .iter()
                    .map(|entry| (*entry.node.key.preimage(), entry.node.value.iter().cloned().collect()))
                    .collect::<Vec<_>>()
            })
            .collect();
        for (peer, addresses) in known {
            self.dial_discovered(peer, addresses);
        }
    }

    /// Dials a peer found by discovery if an outbound slot is free and we are not
    /// connected to it (nor banned it).
    fn dial_discovered(&mut self, peer: PeerId, addresses: Vec<Multiaddr>) {
        if self.reserved_only
            || peer == self.local_peer_id
            || addresses.is_empty()
            || self.peers.contains_key(&peer)
            || self.swarm.is_connected(&peer)
            || self.is_banned(&peer)
            || self.free_out_slots() == 0
        {
            return;
        }
        tracing::debug!(%peer, "dialing a discovered peer");
        let opts =
            DialOpts::peer_id(peer).addresses(addresses).condition(PeerCondition::DisconnectedAndNotDialing).build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, "dial: {e}");
        }
    }

    /// Gives a newly connected peer a slot, or closes its connections.
    fn on_connection(&mut self, peer: PeerId, inbound: bool, address: Multiaddr) {
        if self.peers.contains_key(&peer) {
            return;
        }
        if self.is_banned(&peer) {
            tracing::debug!(%peer, "refusing a banned peer");
            let _ = self.swarm.disconnect_peer_id(peer);
            return;
        }
        let reserved = self.reserved.contains_key(&peer);
        if !reserved {
            if self.reserved_only {
                tracing::debug!(%peer, "refusing a non-reserved peer (reserved-only)");
                let _ = self.swarm.disconnect_peer_id(peer);
                return;
            }
            let used = self.peers.values().filter(|s| !s.reserved && s.inbound == inbound).count();
            let max = if inbound { self.in_peers } else { self.out_peers } as usize;
            if used >= max {
                tracing::debug!(%peer, inbound, "no free peer slot");
                let _ = self.swarm.disconnect_peer_id(peer);
                return;
            }
        }
        self.peers.insert(peer, PeerSlot { inbound, reserved });
        lock(&self.shared).connected.insert(peer);
        tracing::info!(%peer, %address, inbound, "peer connected");
        self.emit(NetworkEvent::PeerConnected { peer, address, inbound });
        // Every peer with a slot is offered our block-announces substream; its handshake
        // tells whether it is on our chain.
        self.swarm.behaviour_mut().notifications.open(peer, NotificationProtocol::BlockAnnounces.index());
    }

    fn on_identify_event(&mut self, event: identify::Event) {
        let identify::Event::Received { peer_id, info, .. } = event else { return };
        let supports_kad = info.protocols.contains(&self.kad_protocol);
        let supports_sync = info.protocols.iter().any(|p| self.sync_protocols.contains(p));
        for address in &info.listen_addrs {
            if supports_kad {
                self.swarm.behaviour_mut().kad.add_address(&peer_id, address.clone());
            }
            self.swarm.add_peer_address(peer_id, address.clone());
        }
        tracing::debug!(peer = %peer_id, agent = %info.agent_version, supports_sync, supports_kad, "peer identified");
        self.emit(NetworkEvent::PeerIdentified {
            peer: peer_id,
            agent_version: info.agent_version,
            protocol_version: info.protocol_version,
            supports_sync,
        });
    }

    fn on_request_event(&mut self, protocol: RequestProtocol, event: request_response::Event<RequestFrame, Vec<u8>>) {
        match event {
            request_response::Event::Message { peer, message, .. } => match message {
                request_response::Message::Request { request, channel, .. } => {
                    self.on_inbound_request(protocol, peer, request, channel)
                }
                request_response::Message::Response { request_id, response } => {
                    {
                        let mut shared = lock(&self.shared);
                        shared.stats.requests_completed += 1;
                        shared.stats.bytes_received += response.len() as u64;
                    }
                    if let Some((_, reply)) = self.pending_requests.remove(&(protocol, request_id)) {
                        reply(Ok(response));
                    }
                }
            },
            request_response::Event::OutboundFailure { peer, request_id, error, .. } => {
                lock(&self.shared).stats.requests_failed += 1;
                let error = match error {
                    OutboundFailure::DialFailure => NetworkError::Dial(peer),
                    OutboundFailure::Timeout => NetworkError::Timeout(peer),
                    OutboundFailure::ConnectionClosed => NetworkError::ConnectionClosed(peer),
                    OutboundFailure::UnsupportedProtocols => NetworkError::UnsupportedProtocol(peer),
                    OutboundFailure::Io(e) => match FrameTooLarge::from_io(&e) {
                        Some(too_large) if too_large.what == "response" => {
                            let (len, max) = (too_large.len, too_large.max);
                            self.report(peer, PeerReport::fatal(format!("announced a response of {len} bytes")));
                            NetworkError::ResponseTooLarge { peer, len, max }
                        }
                        _ => NetworkError::Io { peer, reason: e.to_string() },
                    },
                };
                tracing::debug!(%peer, ?protocol, "request failed: {error}");
                if let Some((_, reply)) = self.pending_requests.remove(&(protocol, request_id)) {
                    reply(Err(error));
                }
            }
            request_response::Event::InboundFailure { peer, error, .. } => {
                tracing::debug!(%peer, ?protocol, "inbound request failed: {error}")
            }
            request_response::Event::ResponseSent { .. } => {}
        }
    }

    /// A peer's block-announces handshake: on our chain (a sync peer) or not (banned).
    fn on_block_announces_handshake(&mut self, peer: PeerId, bytes: &[u8]) -> bool {
        let handshake = match decode_handshake(bytes) {
            Ok(handshake) => handshake,
            Err(e) => {
                self.report(peer, PeerReport::fatal(format!("malformed block-announces handshake: {e}")));
                return false;
            }
        };
        if handshake.genesis_hash != self.genesis_hash {
            let reason = format!("block-announces handshake on another genesis ({})", handshake.genesis_hash);
            self.report(peer, PeerReport::fatal(reason));
            return false;
        }
        if let std::collections::hash_map::Entry::Vacant(entry) = self.sync_peers.entry(peer) {
            entry.insert(handshake);
            lock(&self.shared).sync_peers.insert(peer, handshake);
            tracing::info!(%peer, best = handshake.best_number, "sync peer connected");
            self.emit(NetworkEvent::SyncPeerConnected { peer, handshake });
            // With the chain confirmed, the other notification protocols follow.
            for protocol in [NotificationProtocol::Transactions, NotificationProtocol::Grandpa] {
                self.swarm.behaviour_mut().notifications.open(peer, protocol.index());
            }
        }
        true
    }

    fn sync_peer_gone(&mut self, peer: PeerId) {
        self.pending_announces.remove(&peer);
        if self.sync_peers.remove(&peer).is_some() {
            lock(&self.shared).sync_peers.remove(&peer);
            tracing::debug!(%peer, "sync peer disconnected");
            self.emit(NetworkEvent::SyncPeerDisconnected { peer });
        }
    }

    fn on_notifications_event(&mut self, event: NotificationsEvent) {
        match event {
            NotificationsEvent::InboundOpenRequest { peer, protocol, handshake, .. } => {
                let accept = match NotificationProtocol::from_index(protocol) {
                    Some(NotificationProtocol::BlockAnnounces) => self.on_block_announces_handshake(peer, &handshake),
                    // The other protocols only with peers known to be on our chain.
                    Some(_) => self.sync_peers.contains_key(&peer),
                    None => false,
                };
                let accept = accept && !self.is_banned(&peer);
                self.swarm.behaviour_mut().notifications.accept_inbound(peer, protocol, accept);
            }
            NotificationsEvent::OutboundOpened { peer, protocol, handshake, .. } => {
                if NotificationProtocol::from_index(protocol) == Some(NotificationProtocol::BlockAnnounces)
                    && self.on_block_announces_handshake(peer, &handshake)
                {
                    // An announce made while our substream was still opening.
                    if let Some(bytes) = self.pending_announces.remove(&peer) {
                        let index = NotificationProtocol::BlockAnnounces.index();
                        if let Err(e) = self.swarm.behaviour_mut().notifications.send(peer, index, bytes) {
                            tracing::debug!(%peer, "block announce not sent: {e}");
                        }
                    }
                }
            }
            NotificationsEvent::OutboundOpenFailed { peer, protocol, reason } => {
                // A peer that does not speak our block-announces protocol is not on our chain;
                // with no substream open, its connection closes at the idle timeout and gives
                // its slot back (requests to it still work meanwhile).
                tracing::debug!(%peer, protocol = protocol.0, "notification substream not opened: {reason}");
            }
            NotificationsEvent::Notification { peer, protocol, bytes } => self.on_notification(peer, protocol, bytes),
            NotificationsEvent::Closed { peer, protocol, direction } => {
                tracing::debug!(%peer, protocol = protocol.0, ?direction, "notification substream closed");
                if NotificationProtocol::from_index(protocol) == Some(NotificationProtocol::BlockAnnounces) {
                    self.sync_peer_gone(peer);
                }
            }
            NotificationsEvent::ProtocolViolation { peer, protocol, reason } => {
                let name = NotificationProtocol::from_index(protocol);
                self.report(peer, PeerReport::fatal(format!("{name:?} protocol violation: {reason}")));
            }
        }
    }

    fn on_notification(&mut self, peer: PeerId, protocol: ProtocolIndex, bytes: Vec<u8>) {
        if !self.sync_peers.contains_key(&peer) {
            return;
        }
        match NotificationProtocol::from_index(protocol) {
            Some(NotificationProtocol::BlockAnnounces) => match decode_block_announce(&bytes) {
                Ok(announce) => {
                    let is_best = announce.is_best();
                    if is_best {
                        if let Some(h) = self.sync_peers.get_mut(&peer) {
                            if announce.header.number > h.best_number {
                                h.best_number = announce.header.number;
                                h.best_hash = announce.hash();
                                let updated = *h;
                                lock(&self.shared).sync_peers.insert(peer, updated);
                            }
                        }
                    }
                    self.emit(NetworkEvent::BlockAnnounce { peer, header: announce.header, is_best });
                }
                Err(e) => self.report(peer, PeerReport::fatal(format!("malformed block announce: {e}"))),
            },
            Some(NotificationProtocol::Transactions) => match decode_transactions(&bytes) {
                Ok(extrinsics) => {
                    let extrinsics = extrinsics.into_iter().map(|x| x.0).collect();
                    self.emit(NetworkEvent::Transactions { peer, extrinsics });
                }
                Err(e) => self.report(peer, PeerReport::minor(format!("malformed transactions: {e}"))),
            },
            Some(NotificationProtocol::Grandpa) => match check_grandpa_notification_size(&bytes) {
                Ok(()) => self.emit(NetworkEvent::GrandpaNotification { peer, bytes }),
                Err(e) => self.report(peer, PeerReport::fatal(format!("GRANDPA notification: {e}"))),
            },
            None => {}
        }
    }

    fn on_inbound_request(
        &mut self,
        protocol: RequestProtocol,
        peer: PeerId,
        request: RequestFrame,
        channel: request_response::ResponseChannel<Vec<u8>>,
    ) {
        // Returning drops the channel, which closes the substream without a response.
        if self.is_banned(&peer) {
            return;
        }
        let request = match request {
            RequestFrame::Payload(payload) => payload,
            RequestFrame::TooLarge(too_large) => {
                self.report(peer, PeerReport::fatal(format!("oversized {protocol:?} request: {too_large}")));
                return;
            }
        };
        if self.serving >= MAX_CONCURRENT_SERVES {
            tracing::debug!(%peer, ?protocol, "too many requests being served, dropping one");
            return;
        }
        let job: ServeJob = match protocol {
            RequestProtocol::Sync => {
                let request = match decode_block_request(&request) {
                    Ok(request) => request,
                    Err(e) => {
                        self.report(peer, PeerReport::minor(format!("invalid block request: {e}")));
                        return;
                    }
                };
                let store = self.store.clone();
                Box::new(move || match serve_block_request(&store, &request) {
                    Ok(response) => (Ok(encode_block_response(&response)), response.blocks.len()),
                    Err(e) => (Err(e.to_string()), 0),
                })
            }
            RequestProtocol::State => {
                let store = self.store.clone();
                Box::new(move || (crate::serve_state_request_bytes(&store, &request).map_err(|e| e.to_string()), 0))
            }
            RequestProtocol::Light => {
                let executor = self.executor.clone();
                let store = self.store.clone();
                Box::new(move || {
                    (crate::serve_light_request_bytes(&store, &executor, &request).map_err(|e| e.to_string()), 0)
                })
            }
            RequestProtocol::Warp => {
                let store = self.store.clone();
                Box::new(move || (crate::serve_warp_request_bytes(&store, &request).map_err(|e| e.to_string()), 0))
            }
        };
        self.serving += 1;
        let served = self.served_tx.clone();
        tokio::task::spawn_blocking(move || {
            let (result, blocks) = job();
            // The host may have stopped meanwhile.
            let _ = served.send(Served { protocol, peer, channel, result, blocks });
        });
    }

    fn on_served(&mut self, served: Served) {
        let Served { protocol, peer, channel, result, blocks } = served;
        self.serving = self.serving.saturating_sub(1);
        match result {
            Ok(bytes) if bytes.len() <= protocol.max_response() => {
                let len = bytes.len();
                if self.swarm.behaviour_mut().requests(protocol).send_response(channel, bytes).is_err() {
                    tracing::debug!(%peer, "requester gone before the response");
                    return;
                }
                {
                    let mut shared = lock(&self.shared);
                    shared.stats.requests_served += 1;
                    shared.stats.bytes_served += len as u64;
                }
                tracing::debug!(%peer, ?protocol, blocks, bytes = len, "request served");
                if protocol == RequestProtocol::Sync {
                    self.emit(NetworkEvent::BlockRequestServed { peer, blocks, bytes: len });
                }
            }
            Ok(bytes) => tracing::error!(%peer, ?protocol, len = bytes.len(), "response over the size limit, not sent"),
            Err(e) => tracing::warn!(%peer, ?protocol, "request not served: {e}"),
        }
    }
}

//! Three Weft nodes on loopback sync the first 256 real Westend blocks over `sync/2`:
//! A has them (imported from the fixture file), B starts from the genesis with A as its
//! bootnode, C starts from the genesis with only B as its bootnode. Every block B and C
//! receive is verified (BABE), executed and its state root checked by the importer.
//!
//! Then misbehaving peers, built on the same libp2p stack with the crate's codec: a
//! server whose header does not hash to the requested hash, a server announcing a
//! response over 16 MiB, and a client sending a request over 1 MiB. Each is refused and
//! reported.
//!
//! Timings are printed, never asserted.

mod common;
use common::*;

use std::time::{Duration, Instant};

use tokio::sync::broadcast;
use weft_block::H256;
use weft_block_import::{initialize_from_spec, Importer};
use weft_chain_spec::ChainSpec;
use weft_chain_store::{ChainStore, StoreConfig};
use weft_network_bridge::codec::{RequestFrame, SyncCodec};
use weft_network_bridge::libp2p::request_response::{self, ProtocolSupport};
use weft_network_bridge::libp2p::swarm::SwarmEvent;
use weft_network_bridge::libp2p::{noise, tcp, yamux, StreamProtocol, Swarm, SwarmBuilder};
use weft_network_bridge::serve_block_request;
use weft_network_bridge::sync::{sync_from, SyncError};
use weft_network_bridge::{
    Multiaddr, NetworkConfig, NetworkError, NetworkEvent, NetworkHost, NodeKey, PeerId, AGENT_VERSION,
    IDENTIFY_PROTOCOL_VERSION,
};
use weft_network_protocol::names::{Protocol, ProtocolNames};
use weft_network_protocol::prost::Message;
use weft_network_protocol::sync::{
    decode_block_request, BlockAttributes, BlockData, BlockRequest, BlockResponse, Direction, StartBlock,
    MAX_BLOCK_RESPONSE_BYTES, MAX_REQUEST_BYTES,
};
use weft_network_protocol::ProtocolError;
use weft_runtime_executor::Executor;

/// A guard against hanging forever, not a performance bound.
const PATIENCE: Duration = Duration::from_secs(120);

/// A store with the Westend genesis, and its importer.
fn genesis_node(dir: &std::path::Path, spec: &ChainSpec) -> (ChainStore, Importer, H256) {
    let store = ChainStore::open(&dir.join("db"), StoreConfig::default()).unwrap();
    let executor = Executor::default();
    let genesis = initialize_from_spec(&store, &executor, spec).unwrap();
    let importer = Importer::new(store.clone(), executor).unwrap();
    (store, importer, genesis)
}

fn config(genesis: H256, protocol_id: Option<String>, bootnodes: Vec<Multiaddr>) -> NetworkConfig {
    let mut config = NetworkConfig::new(genesis, NodeKey::generate());
    config.listen_addrs = vec![loopback()];
    config.bootnodes = bootnodes;
    config.protocol_id = protocol_id;
    config
}

/// Waits for the first event that `select` picks.
async fn wait_for<T>(
    events: &mut broadcast::Receiver<NetworkEvent>,
    mut select: impl FnMut(&NetworkEvent) -> Option<T>,
) -> T {
    let wait = async {
        loop {
            match events.recv().await {
                Ok(event) => {
                    if let Some(found) = select(&event) {
                        return found;
                    }
                }
                Err(broadcast::error::RecvError::Lagged(n)) => eprintln!("lagged {n} events"),
                Err(broadcast::error::RecvError::Closed) => panic!("event channel closed"),
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait).await.expect("the expected network event never came")
}

async fn wait_for_peer(events: &mut broadcast::Receiver<NetworkEvent>, peer: PeerId) {
    wait_for(events, |e| matches!(e, NetworkEvent::PeerConnected { peer: p, .. } if *p == peer).then_some(())).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_sync_westend_over_sync2() {
    let spec = westend_spec();
    let protocol_id = spec.protocol_id.clone();

    // Node A: genesis + the 256 fixture blocks.
    let dir_a = tempfile::tempdir().unwrap();
    let (store_a, mut importer_a, genesis) = genesis_node(dir_a.path(), &spec);
    let started = Instant::now();
    for (block, justifications) in westend_blocks() {
        importer_a.import_block(&block, justifications.as_ref()).unwrap();
    }
    println!("node A: imported 256 blocks from the fixture file in {:?}", started.elapsed());
    assert_eq!(store_a.best().unwrap().0, 256);
    let (host_a, _events_a) =
        NetworkHost::start(config(genesis, protocol_id.clone(), vec![]), store_a.clone()).await.unwrap();
    let peer_a = host_a.local_peer_id();
    println!("node A {peer_a} listens on {:?}", host_a.listen_addrs());
    assert!(!host_a.listen_addrs().is_empty());

    // Node B: genesis only, A as bootnode.
    let dir_b = tempfile::tempdir().unwrap();
    let (store_b, mut importer_b, genesis_b) = genesis_node(dir_b.path(), &spec);
    assert_eq!(genesis_b, genesis);
    let started = Instant::now();
    let (host_b, mut events_b) =
        NetworkHost::start(config(genesis, protocol_id.clone(), host_a.peer_addrs()), store_b.clone()).await.unwrap();
    wait_for_peer(&mut events_b, peer_a).await;
    let first_peer = started.elapsed();
    let (agent, version, supports_sync) = wait_for(&mut events_b, |e| match e {
        NetworkEvent::PeerIdentified { peer, agent_version, protocol_version, supports_sync } if *peer == peer_a => {
            Some((agent_version.clone(), protocol_version.clone(), *supports_sync))
        }
        _ => None,
    })
    .await;
    assert_eq!((agent.as_str(), version.as_str(), supports_sync), (AGENT_VERSION, IDENTIFY_PROTOCOL_VERSION, true));
    println!("node B: first peer (A) after {first_peer:?}; A identifies as {agent} {version}");

    let report = sync_from(&host_b, peer_a, &mut importer_b).await.unwrap();
    println!(
        "node B synced from A: {} blocks in {:?} ({:.1} blocks/s; import {:?}, network {:?}), {} requests, {} retries, \
         {} bytes received",
        report.imported,
        report.elapsed,
        report.blocks_per_second(),
        report.import_time,
        report.network_time,
        report.requests,
        report.retries,
        report.bytes_received
    );
    assert_eq!(report.imported, 256);
    assert_eq!(report.best_number, 256);
    assert_eq!(format!("{:?}", report.best_hash), WESTEND_256);
    assert_eq!(format!("{:?}", store_b.best().unwrap().1), WESTEND_256);
    // Two full batches and the empty answer that ends the sync.
    assert_eq!(report.requests, 3);
    assert_eq!(host_b.stats().bytes_received, report.bytes_received);
    assert_eq!(store_b.finalized().unwrap(), store_a.finalized().unwrap());
    let served_by_a = host_a.stats();
    assert_eq!(served_by_a.requests_served, 3);
    assert_eq!(served_by_a.bytes_served, report.bytes_received);

    // Node C: genesis only, only B as bootnode; syncs from B.
    let dir_c = tempfile::tempdir().unwrap();
    let (store_c, mut importer_c, _) = genesis_node(dir_c.path(), &spec);
    let started = Instant::now();
    let (host_c, mut events_c) =
        NetworkHost::start(config(genesis, protocol_id, host_b.peer_addrs()), store_c.clone()).await.unwrap();
    let peer_b = host_b.local_peer_id();
    wait_for_peer(&mut events_c, peer_b).await;
    println!("node C: first peer (B) after {:?}", started.elapsed());
    let report = sync_from(&host_c, peer_b, &mut importer_c).await.unwrap();
    println!(
        "node C synced from B: {} blocks in {:?} ({:.1} blocks/s; import {:?}, network {:?}), {} bytes received",
        report.imported,
        report.elapsed,
        report.blocks_per_second(),
        report.import_time,
        report.network_time,
        report.bytes_received
    );
    assert_eq!((report.imported, report.best_number), (256, 256));
    assert_eq!(format!("{:?}", store_c.best().unwrap().1), WESTEND_256);
    assert_eq!(host_b.stats().requests_served, 3);
    // B serves exactly what A served: same blocks, same encoding.
    assert_eq!(host_b.stats().bytes_served, served_by_a.bytes_served);

    // Syncing again finds nothing new: one empty answer.
    let again = sync_from(&host_c, peer_b, &mut importer_c).await.unwrap();
    assert_eq!((again.imported, again.requests, again.start_number), (0, 1, 256));

    for host in [&host_c, &host_b, &host_a] {
        host.shutdown().await;
    }

    // Node D syncs from a flaky server (A's store behind a bare swarm) that drops the
    // first request of every batch: each batch is retried once.
    let mut attempts = std::collections::HashMap::<Vec<u8>, u32>::new();
    let flaky = spawn_store_server(store_a.clone(), genesis, move |request, response| {
        let n = attempts.entry(request.encode_to_vec()).or_default();
        *n += 1;
        (*n > 1).then_some(response)
    })
    .await;
    let dir_d = tempfile::tempdir().unwrap();
    let (store_d, mut importer_d, _) = genesis_node(dir_d.path(), &spec);
    let (host_d, mut events_d) =
        NetworkHost::start(config(genesis, None, vec![flaky.addr.clone()]), store_d.clone()).await.unwrap();
    wait_for_peer(&mut events_d, flaky.peer).await;
    let report = sync_from(&host_d, flaky.peer, &mut importer_d).await.unwrap();
    println!(
        "node D synced from a flaky server: {} blocks, {} requests, {} retries, in {:?}",
        report.imported, report.requests, report.retries, report.elapsed
    );
    assert_eq!((report.imported, report.best_number, report.requests, report.retries), (256, 256, 3, 3));
    host_d.shutdown().await;
    flaky.task.abort();

    // Node E syncs from a server that alters one extrinsic of block #5 (the header, and so
    // the hash, are genuine): the importer rejects the block and the peer is reported.
    let evil = spawn_store_server(store_a.clone(), genesis, |_, mut response| {
        for block in &mut response.blocks {
            if weft_block::decode_header(&block.header).map(|h| h.number) == Ok(5) {
                if let Some(byte) = block.body.first_mut().and_then(|x| x.last_mut()) {
                    *byte ^= 1;
                }
            }
        }
        Some(response)
    })
    .await;
    let dir_e = tempfile::tempdir().unwrap();
    let (store_e, mut importer_e, _) = genesis_node(dir_e.path(), &spec);
    let (host_e, mut events_e) =
        NetworkHost::start(config(genesis, None, vec![evil.addr.clone()]), store_e.clone()).await.unwrap();
    wait_for_peer(&mut events_e, evil.peer).await;
    let err = sync_from(&host_e, evil.peer, &mut importer_e).await.unwrap_err();
    println!("node E: {err}");
    assert!(matches!(err, SyncError::Rejected { number: 5, .. }), "{err}");
    let (reason, banned) = wait_for_report(&mut events_e, evil.peer).await;
    assert!(banned && reason.contains("#5"), "{reason}");
    assert_eq!(store_e.best().unwrap().0, 4);
    host_e.shutdown().await;
    evil.task.abort();
}

struct TestServer {
    addr: Multiaddr,
    peer: PeerId,
    task: tokio::task::JoinHandle<()>,
}

/// A bare `sync/2` server on the host's stack that answers from `store` with
/// [`serve_block_request`], passing each response through `tamper` (`None`: drop the
/// request without answering).
async fn spawn_store_server(
    store: ChainStore,
    genesis: H256,
    mut tamper: impl FnMut(&BlockRequest, BlockResponse) -> Option<BlockResponse> + Send + 'static,
) -> TestServer {
    use futures::StreamExt;
    let mut swarm = raw_swarm(sync_protocol(&genesis), SyncCodec::default());
    let addr = listen(&mut swarm).await;
    let peer = *swarm.local_peer_id();
    let task = tokio::spawn(async move {
        loop {
            let SwarmEvent::Behaviour(request_response::Event::Message {
                message: request_response::Message::Request { request: RequestFrame::Payload(request), channel, .. },
                ..
            }) = swarm.select_next_some().await
            else {
                continue;
            };
            let request = decode_block_request(&request).unwrap();
            let response = serve_block_request(&store, &request).unwrap();
            if let Some(response) = tamper(&request, response) {
                let _ = swarm.behaviour_mut().send_response(channel, response.encode_to_vec());
            }
        }
    });
    TestServer { addr, peer, task }
}

type RawSwarm = Swarm<request_response::Behaviour<SyncCodec>>;

/// A bare request-response swarm speaking `sync/2` with the crate's codec and the given
/// limits, on the same transports as the host (TCP, Noise, Yamux).
fn raw_swarm(protocol: StreamProtocol, codec: SyncCodec) -> RawSwarm {
    SwarmBuilder::with_new_identity()
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .unwrap()
        .with_behaviour(|_| {
            request_response::Behaviour::with_codec(
                codec,
                [(protocol, ProtocolSupport::Full)],
                request_response::Config::default(),
            )
        })
        .unwrap()
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(60)))
        .build()
}

async fn listen(swarm: &mut RawSwarm) -> Multiaddr {
    use futures::StreamExt;
    swarm.listen_on(loopback()).unwrap();
    loop {
        if let SwarmEvent::NewListenAddr { address, .. } = swarm.select_next_some().await {
            return address.with(weft_network_bridge::libp2p::multiaddr::Protocol::P2p(*swarm.local_peer_id()));
        }
    }
}

fn sync_protocol(genesis: &H256) -> StreamProtocol {
    StreamProtocol::try_from_owned(ProtocolNames::new(genesis, None, None).name(Protocol::Sync)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_and_oversized_responses_are_refused() {
    use futures::StreamExt;
    let blocks = westend_blocks();
    let block1 = blocks[0].0.clone();
    let hash1 = block1.header.hash();
    // The network is Westend's (block #1's parent is its genesis).
    let genesis = block1.header.parent_hash;

    // A server that answers max_blocks 1 with block #1 whose header is altered (one byte
    // of the seal signature) under the genuine hash, and max_blocks 2 with a response
    // announced at 16 MiB + 1 bytes.
    let mut server = raw_swarm(sync_protocol(&genesis), SyncCodec::with_limits(MAX_REQUEST_BYTES, 64 << 20));
    let server_addr = listen(&mut server).await;
    let server_peer = *server.local_peer_id();
    let server_task = tokio::spawn(async move {
        loop {
            let event = server.select_next_some().await;
            let SwarmEvent::Behaviour(request_response::Event::Message {
                message: request_response::Message::Request { request, channel, .. },
                ..
            }) = event
            else {
                continue;
            };
            let RequestFrame::Payload(request) = request else { continue };
            let request = decode_block_request(&request).unwrap();
            let response = if request.max_blocks == 1 {
                let mut header = parity_scale_codec::Encode::encode(&block1.header);
                let n = header.len();
                header[n - 1] ^= 0x01;
                BlockResponse { blocks: vec![BlockData { hash: hash1.0.to_vec(), header, ..BlockData::default() }] }
                    .encode_to_vec()
            } else {
                vec![0; MAX_BLOCK_RESPONSE_BYTES + 1]
            };
            let _ = server.behaviour_mut().send_response(channel, response);
        }
    });

    let dir = tempfile::tempdir().unwrap();
    let mut client_config = config(genesis, None, vec![server_addr.clone()]);
    client_config.listen_addrs = vec![];
    let (client, mut events) = NetworkHost::start(client_config, empty_store(dir.path())).await.unwrap();
    wait_for_peer(&mut events, server_peer).await;

    let request = BlockRequest::new(BlockAttributes::HEADER, StartBlock::Hash(hash1), Direction::Ascending, 1);
    let err = client.request_blocks(server_peer, request.clone()).await.unwrap_err();
    println!("tampered header: {err}");
    match &err {
        NetworkError::InvalidResponse { peer, source } => match **source {
            ProtocolError::HashMismatch { stated, .. } => assert_eq!((*peer, stated), (server_peer, hash1)),
            ref other => panic!("expected a hash mismatch, got {other}"),
        },
        other => panic!("expected an invalid response, got {other}"),
    }
    let (reason, banned) = wait_for_report(&mut events, server_peer).await;
    println!("reported: {reason} (banned: {banned})");
    assert!(banned && reason.contains("hash"), "{reason}");
    // Banned: nothing more is sent to it.
    assert!(matches!(client.request_blocks(server_peer, request).await, Err(NetworkError::Banned(_))));
    client.shutdown().await;

    // Another client asks for the oversized response: refused from its length prefix.
    let dir = tempfile::tempdir().unwrap();
    let mut client_config = config(genesis, None, vec![server_addr]);
    client_config.listen_addrs = vec![];
    let (client, mut events) = NetworkHost::start(client_config, empty_store(dir.path())).await.unwrap();
    wait_for_peer(&mut events, server_peer).await;
    let request = BlockRequest::new(BlockAttributes::HEADER, StartBlock::Hash(hash1), Direction::Ascending, 2);
    let err = client.request_blocks(server_peer, request).await.unwrap_err();
    println!("oversized response: {err}");
    assert!(
        matches!(err, NetworkError::ResponseTooLarge { len, max, .. } if len == max as u64 + 1 && max == MAX_BLOCK_RESPONSE_BYTES),
        "{err}"
    );
    let (reason, banned) = wait_for_report(&mut events, server_peer).await;
    println!("reported: {reason} (banned: {banned})");
    assert!(banned);
    client.shutdown().await;
    server_task.abort();
}

async fn wait_for_report(events: &mut broadcast::Receiver<NetworkEvent>, reported: PeerId) -> (String, bool) {
    wait_for(events, |e| match e {
        NetworkEvent::PeerReported { peer, reason, banned } if *peer == reported => Some((reason.clone(), *banned)),
        _ => None,
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oversized_request_is_refused() {
    use futures::StreamExt;
    let genesis = H256([0x42; 32]);
    let dir = tempfile::tempdir().unwrap();
    let (host, mut events) = NetworkHost::start(config(genesis, None, vec![]), empty_store(dir.path())).await.unwrap();
    let host_peer = host.local_peer_id();

    // The host's own client refuses to send one.
    let err = host.request_raw(PeerId::random(), vec![0; MAX_REQUEST_BYTES + 1]).await.unwrap_err();
    assert!(matches!(err, NetworkError::RequestTooLarge { len, max } if len == max + 1 && max == MAX_REQUEST_BYTES));

    // A client built with a larger request limit sends one; the host refuses it from its
    // length prefix and reports the client.
    let mut rogue =
        raw_swarm(sync_protocol(&genesis), SyncCodec::with_limits(4 * MAX_REQUEST_BYTES, MAX_BLOCK_RESPONSE_BYTES));
    let rogue_peer = *rogue.local_peer_id();
    let target = host.listen_addrs()[0].clone();
    rogue.add_peer_address(host_peer, target);
    rogue.behaviour_mut().send_request(&host_peer, RequestFrame::Payload(vec![0; MAX_REQUEST_BYTES + 1]));
    let outcome = tokio::time::timeout(PATIENCE, async {
        loop {
            match rogue.select_next_some().await {
                SwarmEvent::Behaviour(request_response::Event::OutboundFailure { error, .. }) => {
                    return Err(error.to_string())
                }
                SwarmEvent::Behaviour(request_response::Event::Message {
                    message: request_response::Message::Response { response, .. },
                    ..
                }) => return Ok(response.len()),
                _ => {}
            }
        }
    })
    .await
    .expect("the rogue request never ended");
    println!("oversized request: the sender saw {outcome:?}");
    assert!(outcome.is_err());
    let (reason, banned) = wait_for_report(&mut events, rogue_peer).await;
    println!("reported: {reason} (banned: {banned})");
    assert!(banned && reason.contains("oversized"), "{reason}");
    host.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_errors() {
    let genesis = H256([7; 32]);
    let dir = tempfile::tempdir().unwrap();
    let store = empty_store(dir.path());
    // A bootnode without /p2p/.
    let bad = config(genesis, None, vec![loopback()]);
    assert!(matches!(NetworkHost::start(bad, store.clone()).await, Err(NetworkError::AddressWithoutPeerId(_))));
    // An address no transport handles.
    let mut bad = config(genesis, None, vec![]);
    bad.listen_addrs = vec!["/ip4/127.0.0.1/udp/0/quic-v1".parse().unwrap()];
    assert!(matches!(NetworkHost::start(bad, store.clone()).await, Err(NetworkError::Listen { .. })));
    // A good configuration starts; after shutdown, requests fail.
    let (host, _) = NetworkHost::start(config(genesis, None, vec![]), store).await.unwrap();
    assert!(host.peer_addrs()[0].to_string().ends_with(&format!("/p2p/{}", host.local_peer_id())));
    host.shutdown().await;
    assert!(matches!(host.request_raw(PeerId::random(), vec![]).await, Err(NetworkError::Shutdown)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_slots_and_reserved_only() {
    let genesis = H256([9; 32]);
    let dir = tempfile::tempdir().unwrap();
    let store = empty_store(dir.path());
    let connected =
        |e: &NetworkEvent, who: PeerId| matches!(e, NetworkEvent::PeerConnected { peer, .. } if *peer == who);
    let disconnected =
        |e: &NetworkEvent, who: PeerId| matches!(e, NetworkEvent::PeerDisconnected { peer } if *peer == who);

    // R accepts only its reserved peer Y, which it dials itself.
    let (host_y, _) = NetworkHost::start(config(genesis, None, vec![]), store.clone()).await.unwrap();
    let mut reserved = config(genesis, None, vec![]);
    reserved.reserved_nodes = host_y.peer_addrs();
    reserved.reserved_only = true;
    let (host_r, mut events_r) = NetworkHost::start(reserved, store.clone()).await.unwrap();
    wait_for(&mut events_r, |e| connected(e, host_y.local_peer_id()).then_some(())).await;

    // X dials R: the connection is made, then R closes it without giving X a slot.
    let (host_x, mut events_x) =
        NetworkHost::start(config(genesis, None, host_r.peer_addrs()), store.clone()).await.unwrap();
    wait_for(&mut events_x, |e| connected(e, host_r.local_peer_id()).then_some(())).await;
    wait_for(&mut events_x, |e| disconnected(e, host_r.local_peer_id()).then_some(())).await;
    assert_eq!(host_r.connected_peers(), vec![host_y.local_peer_id()]);

    // Z has no inbound slot: X is refused the same way.
    let mut no_inbound = config(genesis, None, vec![]);
    no_inbound.in_peers = 0;
    let (host_z, _) = NetworkHost::start(no_inbound, store.clone()).await.unwrap();
    let z_addr = host_z.peer_addrs()[0].clone();
    host_x.dial(z_addr).unwrap();
    wait_for(&mut events_x, |e| connected(e, host_z.local_peer_id()).then_some(())).await;
    wait_for(&mut events_x, |e| disconnected(e, host_z.local_peer_id()).then_some(())).await;
    assert!(host_z.connected_peers().is_empty());

    for host in [&host_x, &host_z, &host_r, &host_y] {
        host.shutdown().await;
    }
}

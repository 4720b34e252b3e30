//! `weft --chain <spec> --base-path <dir> [network flags]`: the node.
//!
//! Wiring only: the chain database and importer, the network host (libp2p), and the
//! overseer with the real chain-store, block-import, runtime-executor, network-bridge and
//! sync subsystems; a task forwards network events to the subsystems, another serves
//! Prometheus metrics, and an informant logs progress every few seconds.

use anyhow::Context as _;
use clap::Args;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use weft_chain_store::{ChainStore, StatePruning};
use weft_network_bridge::{
    split_peer_address, Multiaddr, NetworkConfig, NetworkHost, NodeKey, DEFAULT_IN_PEERS, DEFAULT_OUT_PEERS,
};
use weft_overseer::{BoxedSubsystem, OverseerBuilder};

use crate::prometheus;

/// The node's options (those of the reference node where they exist).
#[derive(Debug, Args, Clone)]
pub struct NodeArgs {
    /// Chain spec (raw JSON).
    #[arg(long, value_name = "SPEC")]
    pub chain: Option<PathBuf>,
    /// Base directory of the node's data (default: `$XDG_DATA_HOME/weft` or
    /// `~/.local/share/weft`); the chain's data is in `<base>/chains/<chain id>`.
    #[arg(long, short = 'd', value_name = "DIR")]
    pub base_path: Option<PathBuf>,
    /// State pruning: `archive`, or the number of recent canonical blocks whose state is
    /// kept. Fixed when the database is created.
    #[arg(long, value_name = "MODE", default_value = "256")]
    pub state_pruning: StatePruning,
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    pub run_for: Option<f64>,
    /// TCP port to listen on (all IPv4 and IPv6 interfaces); 0 picks a free port.
    #[arg(long, default_value_t = 30333)]
    pub port: u16,
    /// Listen addresses (replace `--port`), e.g. `/ip4/0.0.0.0/tcp/30333/ws`.
    #[arg(long = "listen-addr", value_name = "MULTIADDR")]
    pub listen_addr: Vec<Multiaddr>,
    /// Addresses other nodes can reach this one on, announced to them.
    #[arg(long = "public-addr", value_name = "MULTIADDR")]
    pub public_addr: Vec<Multiaddr>,
    /// Nodes to connect to at start, `/…/p2p/<peer id>` (in addition to the chain spec's).
    #[arg(long, value_name = "MULTIADDR", num_args = 1..)]
    pub bootnodes: Vec<Multiaddr>,
    /// Do not dial the chain spec's boot nodes (only `--bootnodes`).
    #[arg(long)]
    pub no_chain_bootnodes: bool,
    /// Nodes to stay connected to, `/…/p2p/<peer id>`.
    #[arg(long = "reserved-nodes", value_name = "MULTIADDR", num_args = 1..)]
    pub reserved_nodes: Vec<Multiaddr>,
    /// Only connect to reserved nodes.
    #[arg(long)]
    pub reserved_only: bool,
    /// Most inbound peers.
    #[arg(long, default_value_t = DEFAULT_IN_PEERS)]
    pub in_peers: u32,
    /// Most outbound peers.
    #[arg(long, default_value_t = DEFAULT_OUT_PEERS)]
    pub out_peers: u32,
    /// The node key as 64 hex digits (default: kept in `<chain dir>/network/secret_ed25519`).
    #[arg(long, value_name = "HEX", conflicts_with = "node_key_file")]
    pub node_key: Option<String>,
    /// File holding the node key (raw 32 bytes or hex).
    #[arg(long, value_name = "FILE")]
    pub node_key_file: Option<PathBuf>,
    /// Port of the Prometheus endpoint (`/metrics`).
    #[arg(long, default_value_t = 9615)]
    pub prometheus_port: u16,
    /// Serve Prometheus on all interfaces instead of localhost.
    #[arg(long)]
    pub prometheus_external: bool,
    /// Do not serve Prometheus metrics.
    #[arg(long)]
    pub no_prometheus: bool,
    /// Do not start the network (the node then only serves its database to the overseer).
    #[arg(long, hide = true)]
    pub no_network: bool,
}

fn node_key(args: &NodeArgs, chain_dir: &std::path::Path) -> anyhow::Result<NodeKey> {
    if let Some(hex) = &args.node_key {
        return NodeKey::from_hex(hex).context("--node-key");
    }
    if let Some(path) = &args.node_key_file {
        return NodeKey::load(path).with_context(|| format!("--node-key-file {}", path.display()));
    }
    let path = chain_dir.join("network").join("secret_ed25519");
    weft_network_bridge::node_key::load_or_generate(&path).with_context(|| format!("node key {}", path.display()))
}

/// Runs the node until Ctrl-C, `--run-for`, or a subsystem failure.
pub fn run(args: NodeArgs, config: &weft_config::NodeConfig) -> anyhow::Result<()> {
    let chain_path = args.chain.clone().or_else(|| config.chain.clone()).context("--chain <SPEC> is required")?;
    let base_path = args.base_path.clone().or_else(|| config.base_path.clone());
    for address in args.bootnodes.iter().chain(&args.reserved_nodes) {
        split_peer_address(address).with_context(|| format!("{address}"))?;
    }
    let chain_args = crate::chain_cmd::ChainArgs::new(chain_path, base_path).with_state_pruning(args.state_pruning);
    let (chain, importer) = chain_args.open()?;
    let store = importer.store().clone();
    let executor = importer.executor().clone();
    let genesis = store.genesis_hash()?.context("the database has no genesis")?;
    let (best_number, best_hash) = store.best()?;
    let (finalized_number, finalized_hash) = store.finalized()?;
    tracing::info!(chain = %chain.spec.name, id = %chain.spec.id, %genesis, "Weft node, version {}", env!("CARGO_PKG_VERSION"));
    tracing::info!("best #{best_number} ({best_hash}), finalized #{finalized_number} ({finalized_hash})");

    let network_config = if args.no_network {
        None
    } else {
        let key = node_key(&args, &chain.dir)?;
        let mut network = NetworkConfig::new(genesis, key);
        network.listen_addrs = if args.listen_addr.is_empty() {
            vec![format!("/ip4/0.0.0.0/tcp/{}", args.port).parse()?, format!("/ip6/::/tcp/{}", args.port).parse()?]
        } else {
            args.listen_addr.clone()
        };
        network.public_addrs = args.public_addr.clone();
        let mut bootnodes = args.bootnodes.clone();
        let spec_bootnodes = if args.no_chain_bootnodes { &[][..] } else { &chain.spec.boot_nodes[..] };
        for node in spec_bootnodes {
            match node.parse::<Multiaddr>().map_err(anyhow::Error::from).and_then(|a| {
                split_peer_address(&a)?;
                Ok(a)
            }) {
                Ok(address) => bootnodes.push(address),
                Err(e) => tracing::warn!(%node, "chain spec boot node skipped: {e}"),
            }
        }
        network.bootnodes = bootnodes;
        network.reserved_nodes = args.reserved_nodes.clone();
        network.reserved_only = args.reserved_only;
        network.in_peers = args.in_peers;
        network.out_peers = args.out_peers;
        network.protocol_id = chain.spec.protocol_id.clone();
        network.fork_id = chain.spec.fork_id.clone();
        Some(network)
    };

    let mut registry = crate::overseer_cmd::registry();
    let handle_cell: Arc<OnceLock<weft_overseer::OverseerHandle>> = Arc::new(OnceLock::new());
    crate::overseer_cmd::register_chain(&mut registry, store.clone(), executor.clone(), importer, handle_cell.clone());
    let started_at = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let chain_id = chain.spec.id.clone();
    let prometheus_addr = (!args.no_prometheus).then(|| {
        let ip =
            if args.prometheus_external { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V4(Ipv4Addr::LOCALHOST) };
        SocketAddr::new(ip, args.prometheus_port)
    });

    let system = actix::System::new();
    let store_at_exit = store.clone();
    let result = system.block_on(async move {
        let stop_signals = StopSignals::install();
        let host = match network_config {
            Some(network) => {
                let (host, _events) = NetworkHost::start_with(network, store.clone(), Some(executor.clone()))
                    .await
                    .context("starting the network")?;
                tracing::info!("local node identity is {}", host.local_peer_id());
                Some(host)
            }
            None => None,
        };
        if let Some(host) = &host {
            let (for_bridge, bridge_store) = (host.clone(), store.clone());
            registry.register::<weft_messages::NetworkBridgeSlot>(
                "default",
                move || -> BoxedSubsystem<weft_messages::NetworkBridgeSlot> {
                    Box::new(weft_network_bridge::subsystem::NetworkBridgeSubsystem::new(
                        for_bridge.clone(),
                        bridge_store.clone(),
                    ))
                },
            );
            let sync_store = store.clone();
            registry.register::<weft_messages::SyncSlot>(
                "default",
                move || -> BoxedSubsystem<weft_messages::SyncSlot> {
                    let best = sync_store.best().unwrap_or((0, weft_block::H256([0; 32])));
                    Box::new(weft_sync::ChainSync::new(weft_sync::SyncConfig::default(), best))
                },
            );
            actix::spawn(weft_network_bridge::subsystem::forward_events(host.subscribe(), handle_cell.clone()));
        }
        let builder = OverseerBuilder::new().configure(config, &registry)?;
        let handle = builder.start();
        let _ = handle_cell.set(handle.clone());

        if let Some(address) = prometheus_addr {
            let render = metrics_page(store.clone(), host.clone(), handle.clone(), chain_id.clone(), started_at);
            match prometheus::serve(address, render).await {
                Ok(bound) => tracing::info!("Prometheus metrics on http://{bound}/metrics"),
                Err(e) => anyhow::bail!("Prometheus endpoint on {address}: {e}"),
            }
        }
        actix::spawn(informant(store.clone(), host.clone()));

        let stopper = handle.clone();
        actix::spawn(async move {
            stop_signals.wait().await;
            stopper.stop();
        });
        if let Some(secs) = args.run_for {
            let stopper = handle.clone();
            actix::spawn(async move {
                tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
                tracing::info!("--run-for elapsed: stopping");
                stopper.stop();
            });
        }
        let outcome = handle.wait().await.map_err(|e| anyhow::anyhow!("{e}"));
        if let Some(host) = host {
            host.shutdown().await;
        }
        outcome
    });
    result?;
    store_at_exit.flush()?;
    tracing::info!("node stopped cleanly");
    Ok(())
}

/// SIGINT (Ctrl-C) and SIGTERM, registered when created, so that a signal arriving while
/// the node starts up is not lost.
struct StopSignals {
    #[cfg(unix)]
    signals: Option<(tokio::signal::unix::Signal, tokio::signal::unix::Signal)>,
}

impl StopSignals {
    fn install() -> Self {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            let signals = match (signal(SignalKind::interrupt()), signal(SignalKind::terminate())) {
                (Ok(int), Ok(term)) => Some((int, term)),
                _ => None,
            };
            StopSignals { signals }
        }
        #[cfg(not(unix))]
        StopSignals {}
    }

    async fn wait(self) {
        #[cfg(unix)]
        if let Some((mut int, mut term)) = self.signals {
            tokio::select! {
                _ = int.recv() => tracing::info!("Ctrl-C: stopping"),
                _ = term.recv() => tracing::info!("SIGTERM: stopping"),
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("Ctrl-C: stopping");
    }
}

/// The metrics page: the overseer's subsystem metrics and the reference node's chain and
/// network metrics (same names, `chain` label).
fn metrics_page(
    store: ChainStore,
    host: Option<NetworkHost>,
    handle: weft_overseer::OverseerHandle,
    chain: String,
    started_at: u64,
) -> prometheus::Render {
    Arc::new(move || {
        let mut out = String::new();
        let chain_label = format!("chain=\"{chain}\"");
        let best = store.best().map(|(n, _)| n).unwrap_or(0);
        let finalized = store.finalized().map(|(n, _)| n).unwrap_or(0);
        let leaves = store.leaves().map(|l| l.len()).unwrap_or(0);
        let best_label = format!("status=\"best\",{chain_label}");
        let finalized_label = format!("status=\"finalized\",{chain_label}");
        prometheus::metric(
            &mut out,
            "substrate_block_height",
            "gauge",
            "Block height info of the chain",
            &[(&best_label, f64::from(best)), (&finalized_label, f64::from(finalized))],
        );
        prometheus::metric(
            &mut out,
            "substrate_number_leaves",
            "gauge",
            "Number of known chain leaves (aka forks)",
            &[(&chain_label, leaves as f64)],
        );
        let build_label = format!("name=\"weft\",version=\"{}\",{chain_label}", env!("CARGO_PKG_VERSION"));
        prometheus::metric(
            &mut out,
            "substrate_build_info",
            "gauge",
            "A metric with a constant '1' value labeled by name, version",
            &[(&build_label, 1.0)],
        );
        prometheus::metric(
            &mut out,
            "substrate_node_roles",
            "gauge",
            "The roles the node is running as",
            &[(&chain_label, 1.0)],
        );
        prometheus::metric(
            &mut out,
            "substrate_process_start_time_seconds",
            "gauge",
            "Number of seconds between the UNIX epoch and the moment the process started",
            &[(&chain_label, started_at as f64)],
        );
        if let Some(host) = &host {
            let stats = host.stats();
            let peers = host.connected_peers().len();
            let sync_peers = host.sync_peers();
            let syncing = sync_peers.iter().any(|(_, h)| h.best_number > best.saturating_add(5));
            prometheus::metric(
                &mut out,
                "substrate_sub_libp2p_peers_count",
                "gauge",
                "Number of connected peers",
                &[(&chain_label, peers as f64)],
            );
            prometheus::metric(
                &mut out,
                "substrate_sync_peers",
                "gauge",
                "Number of peers we sync with",
                &[(&chain_label, sync_peers.len() as f64)],
            );
            prometheus::metric(
                &mut out,
                "substrate_sub_libp2p_is_major_syncing",
                "gauge",
                "Whether the node is performing a major sync or not",
                &[(&chain_label, if syncing { 1.0 } else { 0.0 })],
            );
            let bytes_in = format!("direction=\"in\",{chain_label}");
            let bytes_out = format!("direction=\"out\",{chain_label}");
            prometheus::metric(
                &mut out,
                "substrate_sub_libp2p_requests_bytes_total",
                "counter",
                "Bytes of request-response responses received and sent",
                &[(&bytes_in, stats.bytes_received as f64), (&bytes_out, stats.bytes_served as f64)],
            );
        }
        out.push_str(&handle.metrics().render_prometheus());
        out
    })
}

/// Logs the chain and network state every five seconds, as the reference node's informant.
async fn informant(store: ChainStore, host: Option<NetworkHost>) {
    let mut last = (store.best().map(|(n, _)| n).unwrap_or(0), Instant::now());
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    tick.tick().await;
    loop {
        tick.tick().await;
        let (Ok((best, best_hash)), Ok((finalized, finalized_hash))) = (store.best(), store.finalized()) else {
            continue;
        };
        let peers = host.as_ref().map(|h| h.connected_peers().len()).unwrap_or(0);
        let target = host.as_ref().and_then(|h| h.sync_peers().iter().map(|(_, s)| s.best_number).max()).unwrap_or(0);
        let rate = f64::from(best.saturating_sub(last.0)) / last.1.elapsed().as_secs_f64().max(0.001);
        last = (best, Instant::now());
        if target > best.saturating_add(5) {
            tracing::info!(
                "Syncing {rate:.1} bps, target=#{target} ({peers} peers), best: #{best} ({best_hash}), finalized #{finalized} ({finalized_hash})"
            );
        } else {
            tracing::info!(
                "Idle ({peers} peers), best: #{best} ({best_hash}), finalized #{finalized} ({finalized_hash})"
            );
        }
    }
}

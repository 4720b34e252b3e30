//! `weft benchmark network-sync`: two nodes on loopback in this process; A holds the blocks
//! of a blocks file, B starts from the genesis, dials A and downloads, verifies, executes
//! and imports every block over `sync/2`. Reports time to first peer (dial to the
//! block-announces handshake), blocks per second with execution, bytes received and
//! served, and the process's CPU time; the last stdout line is JSON.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use weft_block_import::blocks_file::BlocksFile;
use weft_block_import::{initialize_from_spec, Importer};
use weft_chain_spec::ChainSpec;
use weft_chain_store::{ChainStore, StoreConfig};
use weft_network_bridge::{NetworkConfig, NetworkEvent, NetworkHost, NodeKey};
use weft_runtime_executor::Executor;

#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Sync a blocks file between two nodes on loopback (see the module documentation).
    NetworkSync(NetworkSyncArgs),
}

#[derive(Debug, Args)]
pub struct NetworkSyncArgs {
    /// Chain spec (raw JSON).
    #[arg(long, value_name = "SPEC")]
    chain: PathBuf,
    /// Blocks file (`import-blocks` format) that node A holds.
    blocks: PathBuf,
    /// Number of runs (each with fresh databases for B).
    #[arg(long, default_value_t = 3)]
    runs: u32,
}

pub fn run(command: BenchCommand) -> anyhow::Result<()> {
    match command {
        BenchCommand::NetworkSync(args) => network_sync(args),
    }
}

/// User plus system CPU time of this process so far (Linux `/proc/self/stat`).
fn cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // The kernel's USER_HZ is 100 on every Linux platform Weft builds for.
    Some(Duration::from_millis((utime + stime) * 10))
}

fn open_node(dir: &Path, spec: &ChainSpec) -> anyhow::Result<(ChainStore, Importer)> {
    let store = ChainStore::open(&dir.join("db"), StoreConfig::default())?;
    let executor = Executor::default();
    initialize_from_spec(&store, &executor, spec)?;
    let importer = Importer::new(store.clone(), executor)?;
    Ok((store, importer))
}

fn network_config(spec: &ChainSpec, genesis: weft_block::H256) -> anyhow::Result<NetworkConfig> {
    let mut config = NetworkConfig::new(genesis, NodeKey::generate());
    config.listen_addrs = vec!["/ip4/127.0.0.1/tcp/0".parse()?];
    config.protocol_id = spec.protocol_id.clone();
    config.fork_id = spec.fork_id.clone();
    Ok(config)
}

fn network_sync(args: NetworkSyncArgs) -> anyhow::Result<()> {
    let spec = ChainSpec::from_file(&args.chain).with_context(|| format!("chain spec {}", args.chain.display()))?;
    let blocks = BlocksFile::read(&args.blocks)
        .and_then(|f| f.decode())
        .map_err(|e| anyhow::anyhow!("{e}"))
        .with_context(|| format!("blocks file {}", args.blocks.display()))?;
    let dir = tempfile_dir()?;
    let (store_a, mut importer_a) = open_node(&dir.join("a"), &spec)?;
    for (block, justifications) in &blocks {
        importer_a.import_block(block, justifications.as_ref())?;
    }
    let genesis = store_a.genesis_hash()?.context("no genesis")?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let mut runs = Vec::new();
    runtime.block_on(async {
        let (host_a, _) = NetworkHost::start(network_config(&spec, genesis)?, store_a.clone()).await?;
        let address = host_a.peer_addrs().into_iter().next().context("A listens nowhere")?;
        for run in 0..args.runs {
            let run_dir = dir.join(format!("b{run}"));
            let (store_b, mut importer_b) = open_node(&run_dir, &spec)?;
            let mut config = network_config(&spec, genesis)?;
            config.bootnodes = vec![address.clone()];
            let cpu_before = cpu_time();
            let served_before = host_a.stats().bytes_served;
            let started = Instant::now();
            let (host_b, mut events) = NetworkHost::start(config, store_b.clone()).await?;
            let peer = loop {
                match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
                    Ok(Ok(NetworkEvent::SyncPeerConnected { peer, .. })) => break peer,
                    Ok(Ok(_)) => continue,
                    _ => anyhow::bail!("no sync peer within 60 s"),
                }
            };
            let first_peer = started.elapsed();
            let report = weft_network_bridge::sync::sync_from(&host_b, peer, &mut importer_b).await?;
            let elapsed = started.elapsed();
            let cpu = match (cpu_before, cpu_time()) {
                (Some(before), Some(after)) => Some(after.saturating_sub(before)),
                _ => None,
            };
            let stats_b = host_b.stats();
            host_b.shutdown().await;
            drop((store_b, importer_b));
            let _ = std::fs::remove_dir_all(&run_dir);
            let result = json!({
                "run": run,
                "blocks": report.imported,
                "best_number": report.best_number,
                "time_to_first_peer_ms": first_peer.as_secs_f64() * 1e3,
                "sync_ms": report.elapsed.as_secs_f64() * 1e3,
                "blocks_per_second": report.blocks_per_second(),
                "import_ms": report.import_time.as_secs_f64() * 1e3,
                "network_wait_ms": report.network_time.as_secs_f64() * 1e3,
                "requests": report.requests,
                "bytes_received": stats_b.bytes_received,
                "bytes_served_by_a": host_a.stats().bytes_served - served_before,
                "cpu_ms_both_nodes": cpu.map(|c| c.as_secs_f64() * 1e3),
                "total_ms": elapsed.as_secs_f64() * 1e3,
            });
            eprintln!("{result}");
            runs.push(result);
        }
        host_a.shutdown().await;
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_dir_all(&dir);
    let median = |key: &str| -> f64 {
        let mut values: Vec<f64> = runs.iter().filter_map(|r| r[key].as_f64()).collect();
        values.sort_by(|a, b| a.total_cmp(b));
        values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
    };
    println!(
        "{}",
        json!({
            "runs": runs.len(),
            "blocks": runs.first().map(|r| r["blocks"].clone()),
            "median_blocks_per_second": median("blocks_per_second"),
            "median_sync_ms": median("sync_ms"),
            "median_time_to_first_peer_ms": median("time_to_first_peer_ms"),
            "median_cpu_ms_both_nodes": median("cpu_ms_both_nodes"),
            "bytes_received": runs.first().map(|r| r["bytes_received"].clone()),
        })
    );
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("weft-bench-sync-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

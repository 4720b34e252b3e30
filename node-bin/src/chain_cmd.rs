//! `weft import-blocks`, `export-blocks`, `check-block` and `purge-chain`: the chain
//! database commands. The database of a chain lives in
//! `<base-path>/chains/<chain id>/db`, compiled runtimes in `.../wasm-cache`.

use anyhow::{bail, Context as _};
use clap::Args;
use serde_json::json;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use weft_block::H256;
use weft_block_import::blocks_file::{BlocksFile, FileBlock};
use weft_block_import::{initialize_from_snapshot, initialize_from_spec, ImportError, Importer};
use weft_chain_spec::ChainSpec;
use weft_chain_store::{ChainStore, StatePruning, StoreConfig};
use weft_runtime_executor::{Executor, ExecutorConfig};

/// Where a chain's data lives.
#[derive(Debug, Args, Clone)]
pub struct ChainArgs {
    /// Chain spec (raw JSON).
    #[arg(long, value_name = "SPEC")]
    chain: PathBuf,
    /// Base directory of the node's data (default: `$XDG_DATA_HOME/weft` or
    /// `~/.local/share/weft`).
    #[arg(long, short = 'd', value_name = "DIR")]
    base_path: Option<PathBuf>,
    /// State pruning: `archive`, or the number of recent canonical blocks whose state is
    /// kept. Fixed when the database is created.
    #[arg(long, value_name = "MODE", default_value = "256")]
    state_pruning: StatePruning,
}

pub struct Chain {
    pub spec: ChainSpec,
    pub dir: PathBuf,
}

impl ChainArgs {
    pub fn new(chain: PathBuf, base_path: Option<PathBuf>) -> Self {
        ChainArgs { chain, base_path, state_pruning: StatePruning::default() }
    }

    pub fn with_state_pruning(mut self, state_pruning: StatePruning) -> Self {
        self.state_pruning = state_pruning;
        self
    }

    pub fn resolve(&self) -> anyhow::Result<Chain> {
        let spec = ChainSpec::from_file(&self.chain).with_context(|| format!("chain spec {}", self.chain.display()))?;
        let base = match &self.base_path {
            Some(b) => b.clone(),
            None => default_base_path()?,
        };
        let dir = base.join("chains").join(&spec.id);
        Ok(Chain { spec, dir })
    }

    pub fn open(&self) -> anyhow::Result<(Chain, Importer)> {
        self.open_with(None)
    }

    /// Opens the database; an empty one starts from the genesis, or from `snapshot` (the
    /// first block to import and the state of its parent).
    fn open_with(&self, snapshot: Option<(&weft_block::Header, &Snapshot)>) -> anyhow::Result<(Chain, Importer)> {
        let chain = self.resolve()?;
        std::fs::create_dir_all(&chain.dir).with_context(|| format!("creating {}", chain.dir.display()))?;
        let store = ChainStore::open(
            &chain.dir.join("db"),
            StoreConfig { pruning: self.state_pruning, ..StoreConfig::default() },
        )
        .with_context(|| format!("opening the database in {}", chain.dir.display()))?;
        let executor =
            Executor::new(ExecutorConfig { cache_path: Some(chain.dir.join("wasm-cache")), ..Default::default() });
        if let Some((first, pairs)) = snapshot {
            let root = initialize_from_snapshot(&store, &executor, &chain.spec, first, pairs)?;
            tracing::info!(state_root = %root, parent = %first.parent_hash, "state snapshot loaded");
        }
        let genesis = initialize_from_spec(&store, &executor, &chain.spec)?;
        tracing::info!(chain = %chain.spec.id, %genesis, path = %chain.dir.display(), "database open");
        let importer = Importer::new(store, executor)?;
        Ok((chain, importer))
    }
}

fn default_base_path() -> anyhow::Result<PathBuf> {
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return Ok(PathBuf::from(d).join("weft"));
    }
    let home = std::env::var_os("HOME").context("no --base-path given and $HOME is not set")?;
    Ok(PathBuf::from(home).join(".local/share/weft"))
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// Start an empty database from a state snapshot (`state_getPairs` JSON:
    /// `{"result": [[key, value], ...]}`) of the parent of the file's first block; the
    /// first block's execution on it must reproduce its state root.
    #[arg(long, value_name = "PAIRS")]
    state: Option<PathBuf>,
    /// The blocks to import (JSON: `{"blocks": [{"header_hex", "body_extrinsics_hex"}, ...]}`).
    #[arg(value_name = "BLOCKS")]
    blocks: PathBuf,
}

type Snapshot = std::collections::BTreeMap<Vec<u8>, Vec<u8>>;

/// Reads `state_getPairs` JSON: `{"result": [[key, value], ...]}` or the bare list.
fn read_pairs(path: &Path) -> anyhow::Result<Snapshot> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", path.display()))?;
    let list = json
        .get("result")
        .unwrap_or(&json)
        .as_array()
        .with_context(|| format!("{}: expected {{\"result\": [[key, value], ...]}}", path.display()))?;
    let mut pairs = Snapshot::new();
    for (i, item) in list.iter().enumerate() {
        let pair = item.as_array().filter(|a| a.len() == 2).with_context(|| format!("pair {i} is not [key, value]"))?;
        let field = |v: &serde_json::Value| -> anyhow::Result<Vec<u8>> {
            let text = v.as_str().with_context(|| format!("pair {i}: not a hex string"))?;
            hex::decode(text.trim_start_matches("0x")).with_context(|| format!("pair {i}: bad hex"))
        };
        pairs.insert(field(&pair[0])?, field(&pair[1])?);
    }
    Ok(pairs)
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// First block to export (default 1).
    #[arg(long, default_value_t = 1)]
    from: u32,
    /// Last block to export (default: the best block).
    #[arg(long)]
    to: Option<u32>,
    /// Output file.
    #[arg(value_name = "OUT")]
    output: PathBuf,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// The block: a number on the best chain, or a 0x-prefixed hash.
    #[arg(value_name = "BLOCK")]
    block: String,
}

#[derive(Debug, Args)]
pub struct PurgeArgs {
    #[command(flatten)]
    chain: ChainArgs,
    /// Do not ask for confirmation.
    #[arg(short = 'y', long)]
    yes: bool,
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

pub fn import_blocks(args: ImportArgs) -> anyhow::Result<()> {
    let start = Instant::now();
    let file = BlocksFile::read(&args.blocks).map_err(anyhow::Error::msg)?;
    let blocks = file.decode().map_err(anyhow::Error::msg)?;
    let snapshot = args.state.as_deref().map(read_pairs).transpose()?;
    let (_, mut importer) = match (&snapshot, blocks.first()) {
        (Some(pairs), Some((first, _))) => args.chain.open_with(Some((&first.header, pairs)))?,
        (Some(_), None) => bail!("--state needs at least one block to import"),
        (None, _) => args.chain.open()?,
    };
    let setup = start.elapsed();
    let import_start = Instant::now();
    let (mut imported, mut known, mut finalized) = (0u64, 0u64, 0u64);
    let mut last_report = Instant::now();
    let mut stdout = std::io::stdout().lock();
    let mut failure = None;
    for (block, justifications) in &blocks {
        match importer.import_block(block, justifications.as_ref()) {
            Ok(outcome) => {
                if outcome.already_known {
                    known += 1;
                } else {
                    imported += 1;
                }
                finalized += u64::from(outcome.finalized);
            }
            Err(e) => {
                failure = Some(e);
                break;
            }
        }
        if last_report.elapsed() >= Duration::from_secs(1) {
            last_report = Instant::now();
            let rate = imported as f64 / import_start.elapsed().as_secs_f64();
            writeln!(stdout, "importing: #{} ({imported} imported, {rate:.1} blocks/s)", block.header.number)?;
        }
    }
    let store = importer.store().clone();
    store.flush()?;
    let elapsed = import_start.elapsed();
    let (best_number, best_hash) = store.best()?;
    let (finalized_number, finalized_hash) = store.finalized()?;
    let t = importer.timings();
    let mut summary = json!({
        "imported": imported,
        "already_known": known,
        "finalized_by_justifications": finalized,
        "best_number": best_number,
        "best_hash": format!("{best_hash:?}"),
        "finalized_number": finalized_number,
        "finalized_hash": format!("{finalized_hash:?}"),
        "setup_ms": ms(setup),
        "import_ms": ms(elapsed),
        "blocks_per_second": if elapsed.as_secs_f64() > 0.0 { (imported as f64 / elapsed.as_secs_f64()).round() } else { 0.0 },
        "verification_ms": ms(t.verification),
        "execution_ms": ms(t.execution),
        "commit_ms": ms(t.commit),
        "runtime_loading_ms": ms(t.runtime_loading),
    });
    if let Some(e) = &failure {
        summary["error"] = json!(e.to_string());
    }
    writeln!(stdout, "{summary}")?;
    match failure {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

pub fn export_blocks(args: ExportArgs) -> anyhow::Result<()> {
    let (_, importer) = args.chain.open()?;
    let store = importer.store();
    let (best, _) = store.best()?;
    let to = args.to.unwrap_or(best).min(best);
    let mut file = BlocksFile { description: Some("exported by weft export-blocks".into()), blocks: Vec::new() };
    for number in args.from..=to {
        let hash = store.canonical_hash(number)?.with_context(|| format!("no block #{number} on the best chain"))?;
        let header = store.header(&hash)?.with_context(|| format!("no header for #{number}"))?;
        let extrinsics = store.body(&hash)?.with_context(|| format!("no body for #{number}"))?;
        let justifications = store.justifications(&hash)?;
        let block = weft_block::Block { header, extrinsics };
        file.blocks.push(FileBlock::from_block(&block, justifications.as_ref()));
    }
    file.write(&args.output).map_err(anyhow::Error::msg)?;
    println!(
        "{}",
        json!({"exported": file.blocks.len(), "from": args.from, "to": to, "output": args.output.display().to_string()})
    );
    Ok(())
}

pub fn check_block(args: CheckArgs) -> anyhow::Result<()> {
    let (_, mut importer) = args.chain.open()?;
    let store = importer.store().clone();
    let hash = if let Some(hex) = args.block.strip_prefix("0x") {
        let bytes = hex::decode(hex).context("block hash is not hex")?;
        H256::from_slice(&bytes).context("block hash is not 32 bytes")?
    } else {
        let number: u32 = args.block.parse().context("BLOCK must be a number or a 0x-prefixed hash")?;
        store.canonical_hash(number)?.with_context(|| format!("no block #{number} on the best chain"))?
    };
    let number = store.block_info(&hash)?.with_context(|| format!("unknown block {hash:?}"))?.number;
    match importer.check_block(&hash) {
        Ok(elapsed) => {
            println!(
                "{}",
                json!({"number": number, "hash": format!("{hash:?}"), "ok": true, "execution_ms": ms(elapsed)})
            );
            Ok(())
        }
        Err(ImportError::Rejected { reason, .. }) => {
            println!(
                "{}",
                json!({"number": number, "hash": format!("{hash:?}"), "ok": false, "error": reason.to_string()})
            );
            bail!("block #{number} {hash:?} does not check: {reason}")
        }
        Err(e) => Err(e.into()),
    }
}

pub fn purge_chain(args: PurgeArgs) -> anyhow::Result<()> {
    let chain = args.chain.resolve()?;
    let db = chain.dir.join("db");
    if !db.exists() {
        println!("{}", json!({"purged": false, "path": db.display().to_string(), "reason": "no database"}));
        return Ok(());
    }
    if !args.yes && !confirm(&db)? {
        bail!("aborted: {} kept", db.display());
    }
    std::fs::remove_dir_all(&db).with_context(|| format!("removing {}", db.display()))?;
    println!("{}", json!({"purged": true, "path": db.display().to_string()}));
    Ok(())
}

fn confirm(path: &Path) -> anyhow::Result<bool> {
    eprint!("Remove the chain database {}? [y/N]: ", path.display());
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

//! `weft overseer graph`, `weft run` and `weft sim run`: the overseer from the
//! command line.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;
use weft_overseer::{OverseerBuilder, Registry};

#[derive(Debug, Subcommand)]
pub enum OverseerCommand {
    /// Print the declared topology (slots and who may send to whom) as Graphviz DOT.
    Graph,
}

#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Run a simulation scenario (TOML) deterministically; the last stdout line
    /// is `timeline <blake2-256 of the timeline>`.
    Run(SimRunArgs),
}

#[derive(Debug, Args)]
pub struct SimRunArgs {
    /// Scenario file, e.g. integration-tests/scenarios/ticker-store.toml.
    scenario: PathBuf,
    /// Override the scenario's seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Print the whole timeline before the summary.
    #[arg(long)]
    timeline: bool,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Stop after this many seconds (default: run until Ctrl-C).
    #[arg(long, value_name = "SECS")]
    run_for: Option<f64>,
    /// Chain spec (overrides `chain` of the config file). With a chain, the chain-store,
    /// block-import and runtime-executor slots default to their real implementations on
    /// the chain's database.
    #[arg(long, value_name = "SPEC")]
    chain: Option<PathBuf>,
    /// Base directory of the node's data (overrides `base_path` of the config file).
    #[arg(long, short = 'd', value_name = "DIR")]
    base_path: Option<PathBuf>,
}

/// Implementations the node can place in slots by name: the simulation's demonstration
/// subsystems, and the real subsystems that need no chain database (`default`). The
/// chain-bound ones are added by [`run`] when a chain is given.
pub fn registry() -> Registry {
    let mut registry = weft_sim::example_registry();
    registry.register::<weft_messages::CandidateValidationSlot>(
        "default",
        || -> weft_overseer::BoxedSubsystem<weft_messages::CandidateValidationSlot> {
            Box::new(weft_candidate_validation::CandidateValidation::default())
        },
    );
    registry
}

pub fn overseer(command: OverseerCommand) -> anyhow::Result<()> {
    match command {
        OverseerCommand::Graph => {
            print!("{}", weft_messages::topology_dot());
            Ok(())
        }
    }
}

pub fn sim(command: SimCommand) -> anyhow::Result<()> {
    match command {
        SimCommand::Run(args) => {
            let report = weft_sim::run_scenario_file(&args.scenario, args.seed, &registry())
                .map_err(|e| anyhow::anyhow!("{e}"))
                .with_context(|| format!("scenario {}", args.scenario.display()))?;
            if args.timeline {
                println!("{}", report.timeline_text().trim_end());
            }
            println!("{}", report.summary().trim_end());
            println!("timeline {}", report.timeline_hash_hex());
            Ok(())
        }
    }
}

/// Registers the real chain-store, block-import and runtime-executor subsystems as the
/// `default` implementations of their slots. Block import's signals go to the overseer
/// through `handle` once it is started.
pub fn register_chain(
    registry: &mut Registry,
    store: weft_chain_store::ChainStore,
    executor: weft_runtime_executor::Executor,
    importer: weft_block_import::Importer,
    handle: Arc<OnceLock<weft_overseer::OverseerHandle>>,
) {
    use weft_messages::{BlockImportSlot, ChainStoreSlot, RuntimeExecutorSlot};
    use weft_overseer::BoxedSubsystem;
    let for_store = store.clone();
    registry.register::<ChainStoreSlot>("default", move || -> BoxedSubsystem<ChainStoreSlot> {
        Box::new(weft_chain_store::subsystem::ChainStoreSubsystem::new(for_store.clone()))
    });
    // The first instance takes the importer built at start; a restarted one (research
    // mode) builds a new importer on the same database.
    let first = Arc::new(std::sync::Mutex::new(Some(importer)));
    let (for_import, executor_for_import) = (store.clone(), executor.clone());
    registry.register::<BlockImportSlot>("default", move || -> BoxedSubsystem<BlockImportSlot> {
        let taken = first.lock().ok().and_then(|mut f| f.take());
        let importer = match taken {
            Some(i) => i,
            None => match weft_block_import::Importer::new(for_import.clone(), executor_for_import.clone()) {
                Ok(i) => i,
                Err(e) => panic!("block import cannot restart: {e}"),
            },
        };
        let handle = handle.clone();
        let sink: weft_block_import::subsystem::SignalSink = Arc::new(move |signal| {
            if let Some(h) = handle.get() {
                h.signal(signal);
            }
        });
        Box::new(weft_block_import::subsystem::BlockImportSubsystem::new(importer, sink))
    });
    registry.register::<RuntimeExecutorSlot>("default", move || -> BoxedSubsystem<RuntimeExecutorSlot> {
        let states = store.clone();
        let provider = weft_runtime_executor::code_from_state(move |at| {
            states.state_at(&at).ok().map(|view| Arc::new(view) as weft_runtime_executor::SharedState)
        });
        Box::new(weft_runtime_executor::RuntimeExecutor::new(
            executor.clone(),
            provider,
            weft_runtime_executor::RuntimeExecutorConfig::default(),
        ))
    });
}

/// Starts the overseer with every slot filled as configured, logs each slot's
/// implementation, and runs until Ctrl-C, `--run-for`, or a subsystem failure.
pub fn run(args: RunArgs, config: &weft_config::NodeConfig) -> anyhow::Result<()> {
    let mut registry = registry();
    let handle_cell: Arc<OnceLock<weft_overseer::OverseerHandle>> = Arc::new(OnceLock::new());
    if let Some(chain) = args.chain.clone().or_else(|| config.chain.clone()) {
        let chain_args =
            crate::chain_cmd::ChainArgs::new(chain, args.base_path.clone().or_else(|| config.base_path.clone()));
        let (chain, importer) = chain_args.open()?;
        let store = importer.store().clone();
        let executor = importer.executor().clone();
        let (best_number, best_hash) = store.best()?;
        let (finalized_number, _) = store.finalized()?;
        tracing::info!(chain = %chain.spec.id, best_number, %best_hash, finalized_number, "chain database open");
        register_chain(&mut registry, store, executor, importer, handle_cell.clone());
    }
    let builder = OverseerBuilder::new().configure(config, &registry)?;
    let system = actix::System::new();
    let result = system.block_on(async move {
        let handle = builder.start();
        let _ = handle_cell.set(handle.clone());
        let stopper = handle.clone();
        match args.run_for {
            Some(secs) => {
                actix::spawn(async move {
                    tokio::time::sleep(Duration::from_secs_f64(secs.max(0.0))).await;
                    stopper.stop();
                });
            }
            None => {
                actix::spawn(async move {
                    let _ = tokio::signal::ctrl_c().await;
                    tracing::info!("Ctrl-C: stopping");
                    stopper.stop();
                });
            }
        }
        handle.wait().await
    });
    result.map_err(|e| anyhow::anyhow!("{e}"))?;
    tracing::info!("node stopped cleanly");
    Ok(())
}

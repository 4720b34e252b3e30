//! `weft overseer graph`, `weft run` and `weft sim run`: the overseer from the
//! command line.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use std::path::PathBuf;
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
}

/// Implementations the node can place in slots by name. Only the simulation's
/// demonstration subsystems exist so far; later issues register the real ones
/// as `default`.
pub fn registry() -> Registry {
    weft_sim::example_registry()
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

/// Starts the overseer with every slot filled as configured, logs each slot's
/// implementation, and runs until Ctrl-C, `--run-for`, or a subsystem failure.
pub fn run(args: RunArgs, config: &weft_config::NodeConfig) -> anyhow::Result<()> {
    let builder = OverseerBuilder::new().configure(config, &registry())?;
    let system = actix::System::new();
    let result = system.block_on(async move {
        let handle = builder.start();
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

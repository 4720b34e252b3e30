//! `weft chain-info`: load a chain spec, build its genesis, print one JSON object.

use anyhow::Context;
use clap::Args;
use serde_json::{json, Value};
use std::path::PathBuf;
use weft_chain_spec::{ChainSpec, Genesis};
use weft_trie::StateVersion;

#[derive(Debug, Args)]
pub struct ChainInfoArgs {
    /// Chain specification JSON (raw or light).
    #[arg(long, value_name = "SPEC")]
    chain: Option<PathBuf>,
    /// Trie version for a genesis whose runtime does not declare one in its
    /// `runtime_version` section (0 or 1; default 0, or the config file's value).
    #[arg(long, value_name = "0|1")]
    state_version: Option<u8>,
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

pub fn run(args: ChainInfoArgs, config: &weft_config::NodeConfig) -> anyhow::Result<()> {
    let path = args
        .chain
        .or_else(|| config.chain.clone())
        .context("no chain spec given: pass --chain <spec.json> or set `chain` in the config file")?;
    let fallback = match args.state_version.or(config.state_version).unwrap_or(0) {
        0 => StateVersion::V0,
        1 => StateVersion::V1,
        other => anyhow::bail!("--state-version must be 0 or 1, not {other}"),
    };

    let spec = ChainSpec::from_file(&path).with_context(|| format!("loading {}", path.display()))?;
    let mut genesis = spec.build_genesis(fallback).with_context(|| format!("building the genesis of {}", spec.id))?;
    // Without a `runtime_version` section, ask the runtime itself (`Core_version`).
    let mut version_source = "runtime_version custom section";
    if genesis.runtime_version.is_none() {
        if let Some(code) = spec.genesis_code() {
            match weft_runtime_executor::Executor::default().runtime_version(code) {
                Ok(version) => {
                    let declared = if version.trie_state_version() == 0 { StateVersion::V0 } else { StateVersion::V1 };
                    if declared != fallback {
                        genesis = spec
                            .build_genesis(declared)
                            .with_context(|| format!("building the genesis of {}", spec.id))?;
                    }
                    genesis.runtime_version = Some(version);
                    version_source = "Core_version call";
                }
                Err(e) => tracing::warn!(error = %e, "genesis runtime cannot run Core_version; using --state-version"),
            }
        }
    }
    let genesis_hash = genesis.hash();
    tracing::info!(chain = %spec.id, hash = %hex0x(genesis_hash.as_bytes()), "genesis built");

    let runtime = match &genesis.runtime_version {
        Some(v) => json!({
            "spec_name": v.spec_name,
            "impl_name": v.impl_name,
            "spec_version": v.spec_version,
            "impl_version": v.impl_version,
            "transaction_version": v.transaction_version,
            "state_version": v.state_version,
            "apis": v.apis.len(),
            "source": version_source,
        }),
        None => Value::Null,
    };
    let code = spec.genesis_code();
    let checkpoint = spec.light_sync_state.as_ref().map(|l| {
        json!({
            "number": l.finalized_block_header.number,
            "hash": hex0x(l.finalized_block_header.hash().as_bytes()),
            "babe_finalized_block_weight": l.babe_finalized_block_weight,
        })
    });
    let out = json!({
        "name": spec.name,
        "id": spec.id,
        "chain_type": spec.chain_type,
        "kind": match spec.genesis { Genesis::Raw(_) => "raw", Genesis::StateRootHash(_) => "light" },
        "genesis_hash": hex0x(genesis_hash.as_bytes()),
        "state_root": hex0x(genesis.header.state_root.as_bytes()),
        "extrinsics_root": hex0x(genesis.header.extrinsics_root.as_bytes()),
        "keys": genesis.top_keys,
        "child_tries": genesis.child_tries,
        "state_version": genesis.state_version.map(|v| match v { StateVersion::V0 => 0, StateVersion::V1 => 1 }),
        "state_version_source": match (&genesis.state_version, genesis.runtime_version.as_ref().and_then(|v| v.state_version)) {
            (None, _) => Value::Null,
            (Some(_), Some(_)) => json!("runtime"),
            (Some(_), None) if genesis.runtime_version.is_some() => json!("runtime (pre state_version: V0)"),
            (Some(_), None) => json!("fallback (--state-version / default 0)"),
        },
        "runtime": runtime,
        "code_bytes": code.map(<[u8]>::len),
        "code_compressed": code.map(weft_runtime_blob::is_compressed),
        "protocol_id": spec.protocol_id,
        "fork_id": spec.fork_id,
        "boot_nodes": spec.boot_nodes.len(),
        "properties": spec.properties,
        "code_substitutes": spec.code_substitutes.keys().collect::<Vec<_>>(),
        "bad_blocks": spec.bad_blocks.len(),
        "para_id": spec.para_id,
        "relay_chain": spec.relay_chain,
        "checkpoint": checkpoint,
    });
    println!("{out}");
    Ok(())
}

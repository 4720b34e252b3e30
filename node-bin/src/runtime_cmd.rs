//! `weft runtime ...`: inspect runtime Wasm blobs.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;
use std::path::PathBuf;
use weft_chain_spec::ChainSpec;

#[derive(Debug, Subcommand)]
pub enum RuntimeCommand {
    /// Print a runtime's version as JSON: from its `runtime_version` custom
    /// section, or by executing `Core_version`.
    Version(VersionArgs),
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct VersionArgs {
    /// A runtime blob (plain Wasm or Substrate zstd-compressed).
    #[arg(long, value_name = "WASM")]
    runtime: Option<PathBuf>,
    /// A raw chain spec: use its genesis `:code`.
    #[arg(long, value_name = "SPEC")]
    chain: Option<PathBuf>,
}

pub fn run(command: RuntimeCommand) -> anyhow::Result<()> {
    match command {
        RuntimeCommand::Version(args) => version(args),
    }
}

fn version(args: VersionArgs) -> anyhow::Result<()> {
    let code = match (&args.runtime, &args.chain) {
        (Some(path), _) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        (None, Some(path)) => {
            let spec = ChainSpec::from_file(path).with_context(|| format!("loading {}", path.display()))?;
            spec.genesis_code()
                .map(<[u8]>::to_vec)
                .with_context(|| format!("{} has no genesis `:code` (is it a light spec?)", path.display()))?
        }
        (None, None) => anyhow::bail!("pass --runtime <wasm> or --chain <spec>"),
    };
    let wasm = weft_runtime_blob::decompress(&code, weft_runtime_blob::CODE_BLOB_BOMB_LIMIT)?;
    let from_section = weft_runtime_blob::version_from_custom_sections(&wasm)?.is_some();
    let version = weft_runtime_executor::runtime_version(&code)?;
    let apis: Vec<_> = version.apis.iter().map(|(id, v)| json!([format!("0x{}", hex::encode(id)), v])).collect();
    let out = json!({
        "spec_name": version.spec_name,
        "impl_name": version.impl_name,
        "authoring_version": version.authoring_version,
        "spec_version": version.spec_version,
        "impl_version": version.impl_version,
        "transaction_version": version.transaction_version,
        "state_version": version.state_version,
        "apis": apis,
        "source": if from_section { "runtime_version custom section" } else { "Core_version call" },
        "code_bytes": code.len(),
        "wasm_bytes": wasm.len(),
    });
    println!("{out}");
    Ok(())
}

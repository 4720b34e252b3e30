//! `weft build-spec`: build a chain spec from a runtime through its
//! GenesisBuilder API, as the reference `chain-spec-builder` does.

use anyhow::Context as _;
use clap::{ArgGroup, Args};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use weft_chain_spec::{ChainSpec, ChainSpecError, GenesisStorage, RuntimeGenesisKind, SpecGenesis, SpecHeader};
use weft_runtime_executor::genesis_builder::merge;
use weft_runtime_executor::{GenesisBuilder, GenesisJson, PatchNulls};

#[derive(Debug, Args)]
#[command(group(ArgGroup::new("source").required(true).args(["runtime", "chain"])))]
pub struct BuildSpecArgs {
    /// The runtime blob (plain Wasm or Substrate zstd-compressed); it becomes
    /// the genesis `:code` exactly as given.
    #[arg(long, value_name = "WASM")]
    runtime: Option<PathBuf>,
    /// Rebuild a chain spec instead: a `runtimeGenesis` spec (code with a
    /// patch or a config) is built through its runtime, or converted to raw
    /// with `--raw`; a raw spec is written back unchanged. Its fields are kept
    /// unless given below.
    #[arg(long, value_name = "SPEC", conflicts_with_all = ["preset", "list_presets"])]
    chain: Option<PathBuf>,
    /// A named preset of the runtime (`GenesisBuilder_get_preset`), merged
    /// into the default config. Without it the default config is used.
    #[arg(long, value_name = "NAME")]
    preset: Option<String>,
    /// A JSON patch merged into the config after the preset.
    #[arg(long, value_name = "JSON")]
    patch: Option<PathBuf>,
    /// Write the genesis storage (`genesis.raw`) instead of the runtime's
    /// genesis JSON (`genesis.runtimeGenesis`).
    #[arg(long)]
    raw: bool,
    /// Chain name [default: Custom].
    #[arg(long)]
    name: Option<String>,
    /// Chain id [default: custom].
    #[arg(long)]
    id: Option<String>,
    /// Chain type: Development, Local, Live, or a custom name [default: Live].
    #[arg(long, value_name = "TYPE")]
    chain_type: Option<String>,
    /// Network protocol id.
    #[arg(long)]
    protocol_id: Option<String>,
    /// Chain properties, a JSON object (e.g. '{"tokenSymbol":"ROC"}').
    #[arg(long, value_name = "JSON")]
    properties: Option<String>,
    /// Parachain specs: the para id (written as `para_id`).
    #[arg(long)]
    para_id: Option<u32>,
    /// Parachain specs: the relay chain's id (written as `relay_chain`).
    #[arg(long)]
    relay_chain: Option<String>,
    /// In a patch, `null` removes the key (the reference's behaviour before
    /// polkadot-sdk stable2412) instead of being set as a value.
    #[arg(long)]
    null_removes: bool,
    /// Print the runtime's preset names as a JSON array and exit.
    #[arg(long, conflicts_with_all = ["preset", "patch", "raw"])]
    list_presets: bool,
    /// Write the spec to this file instead of stdout.
    #[arg(long, short, value_name = "FILE")]
    output: Option<PathBuf>,
}

fn read_json(path: &Path) -> anyhow::Result<GenesisJson> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    GenesisJson::parse_bytes(&bytes).with_context(|| format!("{} is not valid JSON", path.display()))
}

/// The genesis to build or write.
enum Plan {
    /// A patch to the runtime's default config.
    Patch(GenesisJson),
    /// A full config.
    Config(GenesisJson),
    /// The runtime's default config.
    Default,
}

pub fn run(args: BuildSpecArgs) -> anyhow::Result<()> {
    let properties = args
        .properties
        .as_deref()
        .map(serde_json::from_str::<serde_json::Map<String, serde_json::Value>>)
        .transpose()
        .context("--properties must be a JSON object")?;
    let user_patch = args.patch.as_deref().map(read_json).transpose()?;
    let nulls = if args.null_removes { PatchNulls::Remove } else { PatchNulls::Keep };

    // The code, the spec fields and what to build.
    let (code, mut header, plan, source) = match (&args.runtime, &args.chain) {
        (Some(path), _) => {
            let code = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            (code, SpecHeader::new("Custom", "custom", "Live"), Plan::Default, path)
        }
        (None, Some(path)) => {
            let bytes = weft_chain_spec::read_spec_file(path)?;
            match ChainSpec::from_json_bytes(&bytes) {
                Ok(spec) => {
                    // Already raw (or light): nothing to build.
                    let storage = spec
                        .genesis_storage()
                        .with_context(|| format!("{} is a light spec: it has no genesis to build", path.display()))?;
                    anyhow::ensure!(
                        user_patch.is_none(),
                        "--patch needs a `runtimeGenesis` spec, and {} is raw",
                        path.display()
                    );
                    let header = override_header(spec.header(), &args, properties);
                    return emit(args.output.as_deref(), |out| {
                        Ok(weft_chain_spec::write_spec(&header, &SpecGenesis::<GenesisJson>::Raw(storage), out)?)
                    });
                }
                Err(ChainSpecError::NotRaw(_)) => {
                    let (header, genesis) = ChainSpec::runtime_genesis_from_json_bytes(&bytes)
                        .with_context(|| format!("loading {}", path.display()))?;
                    let json = GenesisJson::parse(&genesis.json)
                        .with_context(|| format!("{}: the runtime genesis is not valid JSON", path.display()))?;
                    let plan = match genesis.kind {
                        RuntimeGenesisKind::Patch => Plan::Patch(json),
                        RuntimeGenesisKind::Config => Plan::Config(json),
                    };
                    (genesis.code, header, plan, path)
                }
                Err(e) => return Err(e).with_context(|| format!("loading {}", path.display())),
            }
        }
        (None, None) => anyhow::bail!("pass --runtime <wasm> or --chain <spec>"),
    };
    header = override_header(header, &args, properties);

    // The runtime is compiled only when something needs it.
    let builder = || -> anyhow::Result<GenesisBuilder> {
        Ok(GenesisBuilder::new(code.clone())
            .with_context(|| format!("loading the GenesisBuilder API of {}", source.display()))?
            .with_patch_nulls(nulls))
    };

    if args.list_presets {
        let builder = builder()?;
        return emit(args.output.as_deref(), |out| {
            serde_json::to_writer(&mut *out, builder.preset_names())?;
            Ok(out.write_all(b"\n")?)
        });
    }

    let mut builder_cache = None;
    let mut plan = plan;
    if let Some(name) = &args.preset {
        let b = builder_cache.insert(builder()?);
        plan = Plan::Patch(b.named_preset(name)?);
    }
    // The user's patch goes on top of the preset, the spec's patch or config.
    if let Some(user) = user_patch {
        plan = match plan {
            Plan::Patch(mut patch) => {
                merge(&mut patch, user, nulls);
                Plan::Patch(patch)
            }
            Plan::Config(mut config) => {
                merge(&mut config, user, nulls);
                Plan::Config(config)
            }
            Plan::Default => Plan::Patch(user),
        };
    }

    if args.raw {
        let builder = match builder_cache.take() {
            Some(builder) => builder,
            None => builder()?,
        };
        let state = match plan {
            Plan::Patch(patch) => builder.build_patch(patch),
            Plan::Config(config) => builder.build_config(&config),
            Plan::Default => builder.default_config().and_then(|config| builder.build_config(&config)),
        }
        .context("building the genesis state")?;
        let storage = GenesisStorage { top: state.top, children_default: state.children_default };
        tracing::info!(keys = storage.top.len(), child_tries = storage.children_default.len(), "genesis built");
        emit(args.output.as_deref(), |out| {
            Ok(weft_chain_spec::write_spec(&header, &SpecGenesis::<GenesisJson>::Raw(&storage), out)?)
        })
    } else {
        let (kind, json) = match plan {
            Plan::Patch(patch) => (RuntimeGenesisKind::Patch, patch),
            Plan::Config(config) => (RuntimeGenesisKind::Config, config),
            Plan::Default => {
                let builder = match builder_cache.take() {
                    Some(builder) => builder,
                    None => builder()?,
                };
                (RuntimeGenesisKind::Config, builder.default_config()?)
            }
        };
        let genesis = SpecGenesis::RuntimeGenesis { code: &code, kind, json: &json };
        emit(args.output.as_deref(), |out| Ok(weft_chain_spec::write_spec(&header, &genesis, out)?))
    }
}

/// The header with the fields given on the command line replaced.
fn override_header(
    mut header: SpecHeader,
    args: &BuildSpecArgs,
    properties: Option<serde_json::Map<String, serde_json::Value>>,
) -> SpecHeader {
    if let Some(name) = &args.name {
        header.name = name.clone();
    }
    if let Some(id) = &args.id {
        header.id = id.clone();
    }
    if let Some(chain_type) = &args.chain_type {
        header.chain_type = chain_type.clone();
    }
    if let Some(protocol_id) = &args.protocol_id {
        header.protocol_id = Some(protocol_id.clone());
    }
    if properties.is_some() {
        header.properties = properties;
    }
    if let Some(para_id) = args.para_id {
        header.para_id = Some(para_id);
    }
    if let Some(relay_chain) = &args.relay_chain {
        header.relay_chain = Some(relay_chain.clone());
    }
    header
}
/// Runs `write` on the output file (created) or a locked, buffered stdout.
fn emit(path: Option<&Path>, write: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>) -> anyhow::Result<()> {
    match path {
        Some(path) => {
            let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut out = std::io::BufWriter::new(file);
            write(&mut out).with_context(|| format!("writing {}", path.display()))?;
            out.flush().with_context(|| format!("writing {}", path.display()))
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            write(&mut out).context("writing to stdout")?;
            out.flush().context("writing to stdout")
        }
    }
}

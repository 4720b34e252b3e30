//! `weft runtime ...`: inspect runtime Wasm blobs.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use serde_json::json;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;
use weft_chain_spec::ChainSpec;
use weft_runtime_executor::{Executor, InMemoryBackend, StateVersion};

#[derive(Debug, Subcommand)]
pub enum RuntimeCommand {
    /// Print a runtime's version as JSON: from its `runtime_version` custom
    /// section, or by executing `Core_version`.
    Version(VersionArgs),
    /// Call a runtime function on a state (empty, a raw chain spec's genesis,
    /// and/or `state_getPairs`-style key/value pairs) and print one JSON
    /// object: the output as hex and a summary of the storage changes.
    Call(CallArgs),
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
        RuntimeCommand::Call(args) => call(args),
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
    print_line(&out)
}

#[derive(Debug, Args)]
pub struct CallArgs {
    /// The runtime blob (plain Wasm or Substrate zstd-compressed).
    #[arg(long, value_name = "WASM", conflicts_with = "chain")]
    runtime: Option<PathBuf>,
    /// A raw chain spec: call its genesis `:code` on its genesis state.
    #[arg(long, value_name = "SPEC")]
    chain: Option<PathBuf>,
    /// Main-trie entries to add to the state, as `state_getPairs` returns them:
    /// `{"result": [["0xkey", "0xvalue"], ..]}` (or the bare list). A `:code`
    /// entry there is used when neither --runtime nor --chain is given.
    #[arg(long, value_name = "PAIRS")]
    storage: Option<PathBuf>,
    /// Heap pages (default: the state's `:heappages`, else 2048).
    #[arg(long)]
    heap_pages: Option<u64>,
    /// The runtime function, e.g. `Core_version`.
    method: String,
    /// SCALE-encoded input as hex (with or without `0x`); empty if omitted.
    #[arg(value_name = "HEX")]
    input: Option<String>,
}

fn parse_hex(what: &str, text: &str) -> anyhow::Result<Vec<u8>> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits).with_context(|| format!("{what} is not valid hex"))
}

/// Reads `state_getPairs` output: `{"result": [[k, v], ..]}` or `[[k, v], ..]`.
fn read_pairs(path: &Path) -> anyhow::Result<BTreeMap<Vec<u8>, Vec<u8>>> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not valid JSON", path.display()))?;
    let list = match &json {
        serde_json::Value::Object(object) => object.get("result"),
        list @ serde_json::Value::Array(_) => Some(list),
        _ => None,
    }
    .and_then(|list| list.as_array())
    .with_context(|| format!("{}: expected {{\"result\": [[key, value], ..]}} or a list of pairs", path.display()))?;
    let mut pairs = BTreeMap::new();
    for (i, pair) in list.iter().enumerate() {
        let (Some(key), Some(value)) = (pair.get(0).and_then(|k| k.as_str()), pair.get(1).and_then(|v| v.as_str()))
        else {
            anyhow::bail!("{}: pair {i} is not [\"0xkey\", \"0xvalue\"]", path.display());
        };
        if pair.as_array().map_or(0, Vec::len) != 2 {
            anyhow::bail!("{}: pair {i} is not [\"0xkey\", \"0xvalue\"]", path.display());
        }
        pairs.insert(
            parse_hex(&format!("{}: key of pair {i}", path.display()), key)?,
            parse_hex(&format!("{}: value of pair {i}", path.display()), value)?,
        );
    }
    Ok(pairs)
}

/// Prints one line on stdout; a closed stdout is an error, not a panic.
fn print_line(value: &serde_json::Value) -> anyhow::Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{value}").and_then(|()| out.flush()).context("writing to stdout")
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn call(args: CallArgs) -> anyhow::Result<()> {
    // Checked before anything slow.
    let input = match &args.input {
        Some(text) => parse_hex("the call input", text)?,
        None => Vec::new(),
    };

    let mut top = BTreeMap::new();
    let mut children = BTreeMap::new();
    if let Some(path) = &args.chain {
        let spec = ChainSpec::from_file(path).with_context(|| format!("loading {}", path.display()))?;
        let storage = spec
            .genesis_storage()
            .with_context(|| format!("{} has no genesis storage (is it a light spec?)", path.display()))?;
        top = storage.top.clone();
        children = storage.children_default.clone();
    }
    if let Some(path) = &args.storage {
        top.extend(read_pairs(path)?);
    }
    let code = match &args.runtime {
        Some(path) => std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        None => top
            .get(weft_chain_spec::CODE_KEY)
            .cloned()
            .context("no runtime code: pass --runtime <wasm>, --chain <spec>, or --storage pairs holding `:code`")?,
    };
    let heap_pages = args.heap_pages.unwrap_or_else(|| {
        weft_runtime_executor::heap_pages_from_storage(top.get(weft_chain_spec::HEAP_PAGES_KEY).map(Vec::as_slice))
    });

    let start = Instant::now();
    let module = Executor::default().compile(&code, heap_pages)?;
    let compile_ms = start.elapsed().as_secs_f64() * 1e3;

    // The state version of the runtime (custom section, else Core_version).
    let wasm = weft_runtime_blob::decompress(&code, weft_runtime_blob::CODE_BLOB_BOMB_LIMIT)?;
    let version = match weft_runtime_blob::version_from_custom_sections(&wasm)? {
        Some(version) => Some(version),
        None => module.core_version().ok(),
    };
    let (state_version, state_version_source) = match version.as_ref().map(|v| v.state_version) {
        Some(Some(0)) | Some(None) => (StateVersion::V0, "runtime"),
        Some(Some(_)) => (StateVersion::V1, "runtime"),
        None => (StateVersion::V0, "default (runtime version unavailable)"),
    };

    let state = InMemoryBackend::from_genesis(top, children, state_version);
    let root_before = state.root(state_version);
    let start = Instant::now();
    let outcome = module
        .call_on_state(&args.method, &input, Arc::new(state.clone()))
        .with_context(|| format!("calling {}", args.method))?;
    let call_ms = start.elapsed().as_secs_f64() * 1e3;

    let changes = &outcome.changes;
    let count = |map: &weft_runtime_executor::ChangeMap| {
        let set = map.values().filter(|v| v.is_some()).count();
        (set, map.len() - set)
    };
    let (top_set, top_deleted) = count(&changes.main);
    let (mut child_set, mut child_deleted) = (0, 0);
    for child in changes.children.values() {
        let (set, deleted) = count(child);
        child_set += set;
        child_deleted += deleted;
    }
    let mut after = state;
    after.apply(changes, state_version);
    let root_after = after.root(state_version);

    let out = json!({
        "method": args.method,
        "output": hex0x(&outcome.output),
        "output_bytes": outcome.output.len(),
        "changes": {
            "top_set": top_set,
            "top_deleted": top_deleted,
            "child_tries": changes.children.len(),
            "child_set": child_set,
            "child_deleted": child_deleted,
            "offchain_index": changes.offchain_index.len(),
        },
        "state_root_before": hex0x(&root_before),
        "state_root_after": hex0x(&root_after),
        "state_version": match state_version { StateVersion::V0 => 0, StateVersion::V1 => 1 },
        "state_version_source": state_version_source,
        "heap_pages": heap_pages,
        "compile_ms": (compile_ms * 1e3).round() / 1e3,
        "call_ms": (call_ms * 1e3).round() / 1e3,
    });
    print_line(&out)
}

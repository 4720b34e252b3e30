//! `weft key generate-node-key` and `weft key inspect-node-key`: the node's libp2p
//! identity (an ed25519 key), in the formats of the reference node.

use anyhow::{bail, Context as _};
use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a node key: the secret (hex) on stdout, or written to `--file` (32 raw
    /// bytes, mode 0600, never overwriting); the PeerId on stderr.
    GenerateNodeKey(GenerateArgs),
    /// Print the PeerId of a node key (a file of 32 raw bytes or 64 hex digits, or hex).
    InspectNodeKey(InspectArgs),
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Write the key to this file instead of printing it.
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
}

#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct InspectArgs {
    /// A key file (as written by `generate-node-key --file` or the reference node's
    /// `secret_ed25519`).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// The secret as 64 hex digits.
    #[arg(long, value_name = "HEX")]
    key: Option<String>,
}

pub fn run(command: KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::GenerateNodeKey(args) => {
            let key = weft_network_bridge::node_key::NodeKey::generate();
            match &args.file {
                Some(path) => {
                    if path.exists() {
                        bail!("{} exists: not overwriting a node key", path.display());
                    }
                    key.save(path).with_context(|| format!("writing {}", path.display()))?;
                }
                None => println!("{}", key.secret_hex()),
            }
            eprintln!("{}", key.peer_id());
            Ok(())
        }
        KeyCommand::InspectNodeKey(args) => {
            let peer_id = match (&args.file, &args.key) {
                (Some(path), _) => {
                    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
                    weft_network_bridge::node_key::inspect_node_key(&bytes)?
                }
                (None, Some(hex)) => weft_network_bridge::node_key::parse_node_key(hex)?.peer_id(),
                (None, None) => bail!("pass --file or --key"),
            };
            println!("{peer_id}");
            Ok(())
        }
    }
}

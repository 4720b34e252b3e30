//! Weft node configuration.
//!
//! This crate owns the node's settings as one typed structure, read from a TOML
//! file and then overridden by command-line flags (the binary applies the
//! overrides). It holds no logic beyond parsing, defaults and validation; later
//! sections (subsystem slots, mailbox capacities, network) are added here as the
//! subsystems that read them land.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Errors while loading the configuration.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("config file {path} is not valid: {message}")]
    Parse { path: String, message: String },
    #[error("config value `{field}` is not valid: {reason}")]
    Invalid { field: &'static str, reason: String },
}

/// The node's configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// Path of the chain specification.
    #[serde(default)]
    pub chain: Option<PathBuf>,
    /// Directory holding the node's database and caches.
    #[serde(default)]
    pub base_path: Option<PathBuf>,
    /// Trie version for a genesis whose runtime does not declare one (0 or 1).
    #[serde(default)]
    pub state_version: Option<u8>,
    /// `tracing` filter, e.g. `info,weft_trie=debug`.
    #[serde(default)]
    pub log: Option<String>,
    /// Overseer-wide settings.
    #[serde(default)]
    pub overseer: OverseerConfig,
    /// Per-slot settings: `[subsystems.<slot>] implementation = "...", mailbox = N`.
    #[serde(default)]
    pub subsystems: BTreeMap<String, SubsystemConfig>,
}

/// Overseer-wide settings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverseerConfig {
    /// Mailbox capacity of slots without their own (default 1024).
    #[serde(default)]
    pub default_mailbox: Option<usize>,
    /// Milliseconds a send may stay blocked before the target counts as stalled (default 10000).
    #[serde(default)]
    pub stall_timeout_ms: Option<u64>,
    /// Research mode: restart a crashed subsystem instead of stopping the node.
    #[serde(default)]
    pub restart_crashed: bool,
}

/// Which implementation fills a slot, and its mailbox.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsystemConfig {
    /// Registered implementation name (`default`, `dummy`, ...).
    #[serde(default)]
    pub implementation: Option<String>,
    /// Mailbox capacity in messages.
    #[serde(default)]
    pub mailbox: Option<usize>,
}

impl NodeConfig {
    /// Parses a TOML document. `origin` names it in error messages.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let config: NodeConfig = toml::from_str(text)
            .map_err(|e| ConfigError::Parse { path: origin.to_string(), message: e.message().to_string() })?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ConfigError::Io { path: path.display().to_string(), source })?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// Checks value ranges.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (slot, sub) in &self.subsystems {
            if sub.mailbox == Some(0) {
                return Err(ConfigError::Invalid {
                    field: "subsystems.*.mailbox",
                    reason: format!("slot `{slot}`: 0"),
                });
            }
        }
        if self.overseer.default_mailbox == Some(0) {
            return Err(ConfigError::Invalid { field: "overseer.default_mailbox", reason: "0".into() });
        }
        if let Some(v) = self.state_version {
            if v > 1 {
                return Err(ConfigError::Invalid { field: "state_version", reason: format!("{v} is not 0 or 1") });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_validates() {
        let c = NodeConfig::from_toml_str("chain = \"spec.json\"\nstate_version = 1\n", "test").unwrap();
        assert_eq!(c.chain, Some(PathBuf::from("spec.json")));
        assert_eq!(c.state_version, Some(1));
        let err = NodeConfig::from_toml_str("state_version = 7", "test").unwrap_err().to_string();
        assert!(err.contains("state_version"), "{err}");
        let err = NodeConfig::from_toml_str("colour = 1", "test").unwrap_err().to_string();
        assert!(err.contains("colour"), "{err}");
        let c = NodeConfig::from_toml_str(
            "[overseer]\nrestart_crashed = true\n[subsystems.approval_voting]\nimplementation = \"dummy\"\nmailbox = 64000\n",
            "test",
        )
        .unwrap();
        assert!(c.overseer.restart_crashed);
        assert_eq!(c.subsystems["approval_voting"].mailbox, Some(64000));
        assert!(NodeConfig::from_toml_str("[subsystems.sync]\nmailbox = 0\n", "test").is_err());
    }
}

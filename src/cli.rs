//! Command line: `vigil [serve|migrate|config|train|features rebuild]` with flags that override
//! the configuration file and environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, Subcommand};
use serde_json::{Map, Value, json};

/// Vigil: real-time fraud detection in one supervised process.
#[derive(Debug, Parser)]
#[command(name = "vigil", version, about)]
pub struct Cli {
    /// Configuration file (default: ./vigil.toml when it exists).
    #[arg(long, global = true, env = "VIGIL_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(flatten)]
    pub overrides: Overrides,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the runtime and the HTTP API (the default).
    Serve,
    /// Run pending database migrations and exit.
    Migrate,
    /// Print the effective configuration as TOML.
    Config,
    /// Train a model on the stored history now: judge it against the
    /// quality gates and the production model, register it, promote it if
    /// it earns it, and print its metrics. A running `vigil serve` picks up
    /// a promoted model at its next restart or via POST /models/{v}/promote.
    Train,
    /// Feature maintenance.
    Features {
        #[command(subcommand)]
        action: FeaturesCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum FeaturesCommand {
    /// Recompute every stored transaction's features from raw_events and
    /// labels (the offline path, same code as online) and overwrite them.
    Rebuild,
}

/// Flags that take precedence over every other configuration layer.
#[derive(Debug, Default, clap::Args)]
pub struct Overrides {
    /// HTTP listen address [config: http.addr].
    #[arg(long, global = true)]
    pub http_addr: Option<SocketAddr>,
    /// Data directory [config: data_dir].
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// Database URL [config: database.url].
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Live transactions per second, 0 = off [config: producer.rate].
    #[arg(long, global = true)]
    pub producer_rate: Option<f64>,
    /// Days of simulated history for an empty store [config: backfill.days].
    #[arg(long, global = true)]
    pub backfill_days: Option<u32>,
    /// Generator seed [config: seed].
    #[arg(long, global = true)]
    pub seed: Option<u64>,
}

impl Overrides {
    /// The flags that were given, shaped like the configuration file.
    pub fn to_layer(&self) -> Value {
        let mut root = Map::new();
        let mut set = |section: Option<&str>, key: &str, value: Value| match section {
            None => {
                root.insert(key.to_owned(), value);
            }
            Some(section) => {
                let table = root.entry(section).or_insert_with(|| json!({}));
                table[key] = value;
            }
        };
        if let Some(addr) = self.http_addr {
            set(Some("http"), "addr", json!(addr.to_string()));
        }
        if let Some(dir) = &self.data_dir {
            set(None, "data_dir", json!(dir));
        }
        if let Some(url) = &self.database_url {
            set(Some("database"), "url", json!(url));
        }
        if let Some(rate) = self.producer_rate {
            set(Some("producer"), "rate", json!(rate));
        }
        if let Some(days) = self.backfill_days {
            set(Some("backfill"), "days", json!(days));
        }
        if let Some(seed) = self.seed {
            set(None, "seed", json!(seed));
        }
        Value::Object(root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_become_a_configuration_layer() {
        let cli = Cli::parse_from(["vigil", "serve", "--producer-rate", "2.5", "--seed", "9"]);
        assert!(matches!(cli.command, Some(Command::Serve)));
        let layer = cli.overrides.to_layer();
        assert_eq!(layer, json!({"producer": {"rate": 2.5}, "seed": 9}));
        let none = Cli::parse_from(["vigil"]);
        assert!(none.command.is_none());
        assert_eq!(none.overrides.to_layer(), json!({}));
    }
}

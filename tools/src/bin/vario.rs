//! `vario`: the Vario development command line (dev only; nothing that ships links it).
//!
//! ```text
//! vario dev-server --snapshot PATH [--port 8088] [--out vario-dev-events.jsonl] [--delay-ms N] [--ack-only]
//! vario --help | vario dev-server --help
//! ```
//!
//! Arguments are parsed by clap (derive). Each subcommand is a variant of [`Command`] with its own
//! arguments struct and a `run` method; a new one (`control`, `snapshot sign`, `keygen`) is a new
//! variant, a nested `#[command(subcommand)]` enum for a group such as `snapshot`.

#![deny(missing_docs)]

use clap::{Args, Parser, Subcommand};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use vario_tools::devserver::{DevServer, DevServerOptions, IngestMode};

/// Vario development tools: a local config endpoint and ingestion sink for development and tests.
///
/// Dev only: none of this ships with the SDK (the runtime crate, the C ABI, the Python wheel and
/// the Node addon do not link it).
#[derive(Debug, Parser)]
#[command(name = "vario", version, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Serve a snapshot as a config endpoint and write ingested events to a JSONL file
    ///
    /// Serves PATH (a snapshot file, or a folder of them) as a config endpoint with ETags at
    /// http://127.0.0.1:PORT/ (any GET path; GET /NAME for a folder) and accepts ingestion batches
    /// (POST, any path) into the JSONL file, exactly once per event_id.
    ///
    /// Once listening it prints `vario dev server on http://ADDR (events -> FILE)` on standard
    /// output, then runs until it is killed.
    DevServer(DevServerArgs),
}

/// Arguments of `vario dev-server`.
#[derive(Debug, Args)]
struct DevServerArgs {
    /// Snapshot file (served at every GET path) or folder of snapshots (GET /NAME)
    #[arg(long, value_name = "PATH")]
    snapshot: PathBuf,
    /// Port to listen on at 127.0.0.1; 0 picks a free one (the output line names it)
    #[arg(long, default_value_t = 8088)]
    port: u16,
    /// JSONL file that accepted events are appended to, one per event_id
    #[arg(long, value_name = "FILE", default_value = "vario-dev-events.jsonl")]
    out: PathBuf,
    /// Answer every ingestion request N milliseconds after reading it (a far-away endpoint)
    #[arg(long, value_name = "N", default_value_t = 0)]
    delay_ms: u64,
    /// Acknowledge ingestion batches without decompressing, parsing or writing them
    #[arg(long)]
    ack_only: bool,
}

impl DevServerArgs {
    fn run(self) -> ExitCode {
        let opts = DevServerOptions {
            snapshot: self.snapshot,
            events_out: self.out.clone(),
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
        };
        let mode = IngestMode { delay: Duration::from_millis(self.delay_ms), ack_only: self.ack_only };
        match DevServer::start_with(opts, mode) {
            Ok(s) => {
                // Scripts (tests/c/run.sh) and the Python and Node tests parse this line.
                println!("vario dev server on {} (events -> {})", s.url(), self.out.display());
                loop {
                    std::thread::park();
                }
            }
            Err(e) => {
                eprintln!("cannot start the dev server: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::DevServer(args) => args.run(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn dev_server_defaults() {
        let cli = Cli::try_parse_from(["vario", "dev-server", "--snapshot", "s.json"]).unwrap();
        let Command::DevServer(a) = cli.command;
        assert_eq!(a.snapshot, PathBuf::from("s.json"));
        assert_eq!(a.port, 8088);
        assert_eq!(a.out, PathBuf::from("vario-dev-events.jsonl"));
        assert_eq!((a.delay_ms, a.ack_only), (0, false));
        let cli =
            Cli::try_parse_from(["vario", "dev-server", "--snapshot", "s", "--delay-ms", "20", "--ack-only"]).unwrap();
        let Command::DevServer(a) = cli.command;
        assert_eq!((a.delay_ms, a.ack_only), (20, true));
    }

    #[test]
    fn dev_server_needs_a_snapshot_and_a_numeric_port() {
        assert!(Cli::try_parse_from(["vario", "dev-server"]).is_err());
        assert!(Cli::try_parse_from(["vario", "dev-server", "--snapshot", "s", "--port", "x"]).is_err());
        assert!(Cli::try_parse_from(["vario"]).is_err());
    }
}

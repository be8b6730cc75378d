//! `vario`: the Vario development command line (dev only; nothing that ships links it).
//!
//! ```text
//! vario dev-server --snapshot PATH [--port 8088] [--out vario-dev-events.jsonl] [--delay-ms N] [--ack-only] [--signing-key KEYFILE]
//! vario control [--db URL] [--listen HOST:PORT] [--redis URL] [--signing-key KEYFILE] [--openapi]
//! vario snapshot keygen --out KEYFILE
//! vario snapshot sign --key KEYFILE SNAPSHOT [--out FILE]
//! vario snapshot verify --public-key KEY FILE
//! vario --help | vario dev-server --help | vario snapshot --help
//! ```
//!
//! Arguments are parsed by clap (derive). Each subcommand is a variant of [`Command`] with its own
//! arguments struct and a `run` method; a new one (`control`, `snapshot sign`, `keygen`) is a new
//! variant, a nested `#[command(subcommand)]` enum for a group such as `snapshot`
//! ([`SnapshotCommand`]).

#![deny(missing_docs)]

use clap::{Args, Parser, Subcommand};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;
use vario_core::Snapshot;
use vario_core::signing::{PublicKey, SigningKey, open_snapshot, sign_snapshot};
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
    /// Run the control plane: author, launch, pause, ramp and roll back experiments; publish
    ///
    /// Serves the control-plane API (contract/control.md) on --listen, with its OpenAPI document
    /// at /openapi.json. The database is migrated at start. `VARIO_ADMIN_TOKEN`, when set, is
    /// accepted as an admin token named `bootstrap`. Once listening it prints `vario control on
    /// http://ADDR`; SIGTERM or Ctrl-C stops it gracefully (in-flight requests finish).
    Control(ControlArgs),
    /// Sign and verify snapshots (Ed25519; contract/snapshot.md "Signed snapshots")
    #[command(subcommand)]
    Snapshot(SnapshotCommand),
}

/// `vario control`.
#[derive(Debug, Args)]
struct ControlArgs {
    /// `sqlite://PATH` (created on first start) or `postgres://USER@HOST/DB`
    #[arg(long, value_name = "URL", default_value = "sqlite://vario-control.db")]
    db: String,
    /// Address to listen on (port 0: any free port)
    #[arg(long, value_name = "HOST:PORT", default_value = "127.0.0.1:3001")]
    listen: String,
    /// Redis: write `env:{name}:config` and publish `config:updates` after every publish
    #[arg(long, value_name = "URL")]
    redis: Option<String>,
    /// Database connections at most
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    max_connections: u32,
    /// Seconds between Redis reconciliations
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    reconcile_secs: u64,
    /// Sign every published snapshot with this private key (from `vario snapshot keygen`)
    #[arg(long, value_name = "KEYFILE")]
    signing_key: Option<PathBuf>,
    /// Print the OpenAPI document and exit
    #[arg(long)]
    openapi: bool,
}

impl ControlArgs {
    fn run(self) -> ExitCode {
        if self.openapi {
            return match vario_control::openapi().to_pretty_json() {
                Ok(s) => {
                    println!("{s}");
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("vario control: {e}");
                    ExitCode::FAILURE
                }
            };
        }
        let _ = env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).try_init();
        let signing_key = match read_signing_key(self.signing_key.as_deref()) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("vario control: {e}");
                return ExitCode::FAILURE;
            }
        };
        let config = vario_control::Config {
            signing_key,
            db_url: self.db,
            listen: self.listen,
            redis_url: self.redis,
            admin_token: std::env::var("VARIO_ADMIN_TOKEN").ok(),
            max_connections: self.max_connections,
            reconcile_every: Duration::from_secs(self.reconcile_secs),
            ..vario_control::Config::default()
        };
        match vario_control::Server::start(config) {
            Ok(server) => {
                println!("vario control on {}", server.url());
                server.run_until_signal();
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vario control: {e}");
                ExitCode::FAILURE
            }
        }
    }
}

/// `vario snapshot …`: keys, signing and verification of snapshots.
#[derive(Debug, Subcommand)]
enum SnapshotCommand {
    /// Make a new Ed25519 signing key
    ///
    /// Writes the private key (base64 of its 32-byte seed) to KEYFILE, readable by its owner only
    /// (0600; an existing file is never overwritten), and prints the public key (base64) on
    /// standard output: the `snapshot_public_key` option of the clients.
    Keygen {
        /// Where the private key is written (must not exist)
        #[arg(long, value_name = "KEYFILE")]
        out: PathBuf,
    },
    /// Sign a snapshot: write its signed envelope
    ///
    /// The envelope is `{"vario_signed":1,"signature":"ed25519:<base64>","snapshot":<SNAPSHOT>}`,
    /// the signature over the snapshot's exact bytes. Serve it, point `config_path` or
    /// `bootstrap` at it, or give it to `update_snapshot`.
    Sign {
        /// The private key file (from `vario snapshot keygen`)
        #[arg(long, value_name = "KEYFILE")]
        key: PathBuf,
        /// The snapshot JSON file to sign (it must compile as a snapshot)
        snapshot: PathBuf,
        /// Where the envelope is written (default: standard output)
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Check a signed envelope with a public key, as a client with `snapshot_public_key` would
    ///
    /// Exit status 0 and `ok: snapshot version N` when the signature verifies and the snapshot
    /// compiles; 1 with the reason otherwise.
    Verify {
        /// The public key (base64, as printed by keygen)
        #[arg(long, value_name = "KEY")]
        public_key: String,
        /// The signed envelope file
        file: PathBuf,
    },
}

impl SnapshotCommand {
    fn run(self) -> ExitCode {
        match self.exec() {
            Ok(msg) => {
                println!("{msg}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vario snapshot: {e}");
                ExitCode::FAILURE
            }
        }
    }

    fn exec(self) -> Result<String, String> {
        let read = |p: &PathBuf| std::fs::read_to_string(p).map_err(|e| format!("cannot read {}: {e}", p.display()));
        match self {
            SnapshotCommand::Keygen { out } => {
                let mut seed = [0u8; 32];
                getrandom::getrandom(&mut seed).map_err(|e| format!("no randomness from the OS: {e}"))?;
                let key = SigningKey::from_seed(seed);
                write_private(&out, &format!("{}\n", key.to_text()))
                    .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
                Ok(key.public_key().to_text())
            }
            SnapshotCommand::Sign { key, snapshot, out } => {
                let key = SigningKey::from_text(&read(&key)?).map_err(|e| format!("{}: {e}", key.display()))?;
                let text = read(&snapshot)?;
                // Refuse to sign what no client would install: a signature vouches for a snapshot.
                Snapshot::from_json(&text).map_err(|e| format!("{} is not a snapshot: {e}", snapshot.display()))?;
                let envelope = sign_snapshot(&key, &text);
                match out {
                    Some(p) => {
                        std::fs::write(&p, envelope + "\n")
                            .map_err(|e| format!("cannot write {}: {e}", p.display()))?;
                        Ok(format!("signed {} -> {}", snapshot.display(), p.display()))
                    }
                    None => Ok(envelope),
                }
            }
            SnapshotCommand::Verify { public_key, file } => {
                let key = PublicKey::from_text(&public_key).map_err(|e| e.to_string())?;
                let text = read(&file)?;
                let inner = open_snapshot(&text, Some(&key)).map_err(|e| format!("{}: {e}", file.display()))?;
                let snap = Snapshot::from_json(inner).map_err(|e| format!("{}: {e}", file.display()))?;
                Ok(format!("ok: snapshot version {}", snap.version()))
            }
        }
    }
}

/// Creates `path` (never overwriting) readable by its owner only, and writes `text`.
fn write_private(path: &PathBuf, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    opts.open(path)?.write_all(text.as_bytes())
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
    /// Serve every snapshot signed with this private key (from `vario snapshot keygen`)
    #[arg(long, value_name = "KEYFILE")]
    signing_key: Option<PathBuf>,
}

impl DevServerArgs {
    fn run(self) -> ExitCode {
        let signing_key = match read_signing_key(self.signing_key.as_deref()) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("{e}");
                return ExitCode::FAILURE;
            }
        };
        let opts = DevServerOptions {
            snapshot: self.snapshot,
            events_out: self.out.clone(),
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, self.port)),
            signing_key,
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

/// The private key in `path` (from `vario snapshot keygen`), if a path was given.
fn read_signing_key(path: Option<&std::path::Path>) -> Result<Option<SigningKey>, String> {
    let Some(p) = path else { return Ok(None) };
    std::fs::read_to_string(p)
        .map_err(|e| e.to_string())
        .and_then(|t| SigningKey::from_text(&t).map_err(|e| e.to_string()))
        .map(Some)
        .map_err(|e| format!("cannot use the signing key {}: {e}", p.display()))
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::DevServer(args) => args.run(),
        Command::Control(args) => args.run(),
        Command::Snapshot(cmd) => cmd.run(),
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
        let Command::DevServer(a) = cli.command else { panic!("dev-server") };
        assert_eq!(a.snapshot, PathBuf::from("s.json"));
        assert_eq!(a.port, 8088);
        assert_eq!(a.out, PathBuf::from("vario-dev-events.jsonl"));
        assert_eq!((a.delay_ms, a.ack_only), (0, false));
        let cli =
            Cli::try_parse_from(["vario", "dev-server", "--snapshot", "s", "--delay-ms", "20", "--ack-only"]).unwrap();
        let Command::DevServer(a) = cli.command else { panic!("dev-server") };
        assert_eq!((a.delay_ms, a.ack_only), (20, true));
    }

    #[test]
    fn dev_server_needs_a_snapshot_and_a_numeric_port() {
        assert!(Cli::try_parse_from(["vario", "dev-server"]).is_err());
        assert!(Cli::try_parse_from(["vario", "dev-server", "--snapshot", "s", "--port", "x"]).is_err());
        assert!(Cli::try_parse_from(["vario"]).is_err());
    }
}

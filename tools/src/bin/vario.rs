//! `vario` command line: `vario dev-server --snapshot PATH [--port 8088] [--out events.jsonl]`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use vario_tools::devserver::{DevServer, DevServerOptions};

const USAGE: &str = "usage: vario dev-server --snapshot PATH [--port 8088] [--out vario-dev-events.jsonl]

Serves PATH (a snapshot file, or a folder of them) as a config endpoint with ETags at
http://127.0.0.1:PORT/ (any GET path; GET /<name> for a folder) and accepts ingestion batches
(POST, any path) into the JSONL file, exactly once per event_id.";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) != Some("dev-server") {
        eprintln!("{USAGE}");
        std::process::exit(2);
    }
    let mut snapshot = None;
    let mut port = 8088u16;
    let mut out = PathBuf::from("vario-dev-events.jsonl");
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let mut val = || {
            it.next().cloned().unwrap_or_else(|| {
                eprintln!("{a} needs a value\n{USAGE}");
                std::process::exit(2)
            })
        };
        match a.as_str() {
            "--snapshot" => snapshot = Some(PathBuf::from(val())),
            "--port" => {
                port = val().parse().unwrap_or_else(|_| {
                    eprintln!("--port needs a number");
                    std::process::exit(2)
                })
            }
            "--out" => out = PathBuf::from(val()),
            _ => {
                eprintln!("unknown argument {a}\n{USAGE}");
                std::process::exit(2);
            }
        }
    }
    let Some(snapshot) = snapshot else {
        eprintln!("{USAGE}");
        std::process::exit(2);
    };
    let opts =
        DevServerOptions { snapshot, events_out: out.clone(), bind: SocketAddr::from((Ipv4Addr::LOCALHOST, port)) };
    match DevServer::start(opts) {
        Ok(s) => {
            println!("vario dev server on {} (events -> {})", s.url(), out.display());
            loop {
                std::thread::park();
            }
        }
        Err(e) => {
            eprintln!("cannot start the dev server: {e}");
            std::process::exit(1);
        }
    }
}

//! # vario-tools: development tools for Vario
//!
//! Everything here is for development, tests and benches only. The runtime crate `vario`, the C
//! ABI (`vario-ffi`), the Python wheel and the Node addon do not link it, so none of its code or
//! dependencies ship with them. It does not depend on the runtime either: the runtime dev-depends
//! on it (its loopback tests, `examples/demo.rs` and the runtime bench start a [`DevServer`]
//! in-process).
//!
//! | part | owns |
//! |---|---|
//! | [`devserver`] | a local config endpoint (a snapshot file or folder, with ETags) and an ingestion sink (a JSONL file, exactly once per `event_id`), one thread per connection |
//! | `vario` binary (`src/bin/vario.rs`) | the command line (clap): `vario dev-server --snapshot PATH [--port 8088] [--out vario-dev-events.jsonl] [--signing-key KEYFILE]`; `vario snapshot keygen --out KEYFILE`, `vario snapshot sign --key KEYFILE SNAPSHOT [--out FILE]`, `vario snapshot verify --public-key KEY FILE`; `vario --help` and `vario <command> --help` describe them |
//!
//! ```no_run
//! use std::net::{Ipv4Addr, SocketAddr};
//! use vario_tools::devserver::{DevServer, DevServerOptions};
//! let server = DevServer::start(DevServerOptions {
//!     snapshot: "examples/snapshot.json".into(),
//!     events_out: "target/events.jsonl".into(),
//!     bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), // a free port
//!     signing_key: None, // or Some(key): serve signed envelopes
//! })?;
//! println!("config at {}/config, ingestion at {}/ingest", server.url(), server.url());
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`DevServer`]: devserver::DevServer

#![deny(missing_docs)]

pub mod devserver;

//! # The host layer: what every binding needs besides the client
//!
//! The C ABI (`ffi/`), the Python extension (`bindings/python`) and the Node addon
//! (`bindings/node`) all wrap a [`Client`](crate::Client) the same way. This module is that
//! support logic, written once; a binding keeps only what is specific to its host (converting
//! host values, its error objects, its memory rules).
//!
//! | item | replaces in each binding | used like |
//! |---|---|---|
//! | [`HostClient`] | the `closed: AtomicBool` beside the client, the `CLOSED` error, the queue-full message | `host.client()?` before every call but stats; `host.close(t)` |
//! | [`ClosedError`], [`QueueFullError`] | hand-written `CLOSED` / `QUEUE_FULL` errors | map through [`Coded::code`](vario_core::Coded) like every runtime error |
//! | [`SnapshotCache`] | `view: ArcSwapOption<View>` + the `Arc::ptr_eq` check (Node: a list of 4 by version) | `cache.get_or_build(&snap, \|s\| View::new(s))` |
//! | [`empty_snapshot`] | compiling `{"schema_version":1,"version":0}` per client | the no-config view's snapshot |
//! | [`client_attributes`], [`snapshot_attributes`], [`HostClient::context_attributes`] | each binding's attribute list (targeted + exposure keys + `page_type`) | which keys to read from a host request |
//! | [`Surface`] | `if opts.sdk_name == Options::default().sdk_name { opts.sdk_name = "vario-…" }` | `Surface::Python.apply(&mut opts)` or [`parse_options`] |
//! | [`REASON_NAMES`], [`reason_index`], [`BulkCodes`], [`unit_type_code`] | each binding's copy of the 17 reasons and the `decide_many` variant-code loop | integer codes of bulk rows and scalar outputs |
//! | [`JsonOptions`], [`parse_options`], [`OPTION_KEYS`], [`DURATION_KEYS`] | the option names of each surface | one serde definition, unknown keys rejected |
//!
//! Errors: every error a binding can get from the runtime implements
//! [`Coded`](vario_core::Coded), whose [`ErrorCode`](vario_core::ErrorCode) has a class
//! ([`ErrorCode::class`](vario_core::ErrorCode::class)) whose number is C's `vario_status`. So one
//! generic function per binding maps them all:
//!
//! ```
//! use vario::core::Coded;
//! /// A binding's error: (status, code, message), as the C ABI keeps it per thread.
//! fn to_host<E: Coded>(e: E) -> (u32, &'static str, String) {
//!     (e.code().class().code(), e.code().as_str(), e.to_string())
//! }
//! let (status, code, _) = to_host(vario::host::ClosedError);
//! assert_eq!((status, code), (7, "CLOSED")); // VARIO_ERR_CLOSED
//! ```
//!
//! A binding's client, end to end (what `vario_client_new` / Node's constructor / Python's
//! `Client(**kwargs)` do, then a decision that reads only the attributes it needs):
//!
//! ```
//! use std::sync::Arc;
//! use vario::core::{Request, Snapshot};
//! use vario::host::{HostClient, SnapshotCache, Surface};
//!
//! /// A binding's per-snapshot view: here just the attribute names to read.
//! struct View { attrs: Vec<String> }
//!
//! struct BindingClient { host: HostClient, views: SnapshotCache<View> }
//!
//! let b = BindingClient {
//!     host: HostClient::from_json(r#"{"bootstrap": "{\"schema_version\":1,\"version\":2}", "sink_path": "/dev/null"}"#, Surface::C)?,
//!     views: SnapshotCache::new(),
//! };
//! let client = b.host.client()?; // `CLOSED` once closed
//! let snap = client.snapshot();
//! let view = snap.as_ref().map(|s| b.views.get_or_build(s, |s| View { attrs: b.host.context_attributes(Some(s)) }));
//! let attrs = view.as_ref().map_or_else(|| b.host.context_attributes(None), |v| v.attrs.clone());
//! assert_eq!(attrs, ["locale", "page_type"]); // read these from the host's context object
//! let reason = client.decide_on(snap.as_ref(), &Request::new("home"), vario::Expose::Now, |_, d, _| d.reason());
//! assert_eq!(reason.as_str(), "UNKNOWN_PLACEMENT");
//! b.host.close(std::time::Duration::from_secs(2))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The top of the runtime's import graph with [`crate::ClientBuilder`]: it uses the client, the
//! options and the store; nothing below uses it.

mod attributes;
mod cache;
mod client;
mod codes;
mod options;
mod surface;

pub use attributes::{PAGE_TYPE, client_attributes, snapshot_attributes};
pub use cache::SnapshotCache;
pub use client::{ClosedError, Closing, HostClient, QueueFullError};
pub use codes::{BulkCodes, BulkRow, REASON_COUNT, REASON_NAMES, reason_at, reason_index, unit_type_code};
pub use options::{DURATION_KEYS, JsonOptions, OPTION_KEYS, parse_options, parse_options_json};
pub use surface::Surface;

/// How deep a value a binding converts from its host language may nest (objects and arrays), the
/// same bound as the snapshot parser's: deeper, or cyclic (a cycle is infinitely deep), is the
/// surface's invalid-request error. Converters count it instead of recursing without a bound, so
/// no host value can overflow the stack.
pub const MAX_VALUE_DEPTH: u32 = 128;

/// The shared empty snapshot (`{"schema_version":1,"version":0}`): what a binding's no-config
/// view decides and evaluates flags on before the first snapshot. One per process.
///
/// ```
/// let empty = vario::host::empty_snapshot();
/// assert_eq!(empty.version(), 0);
/// assert!(std::sync::Arc::ptr_eq(empty, vario::host::empty_snapshot()));
/// ```
pub use crate::store::empty_snapshot;

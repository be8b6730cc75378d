//! [`HostClient`]: a [`Client`] as a binding holds it, with the closed state every surface shows.

use super::attributes::client_attributes;
use super::options::parse_options_json;
use super::surface::Surface;
use crate::builder::ClientBuilder;
use crate::client::Client;
use crate::error::{BuildError, TimeoutError};
use crate::options::Options;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use vario_core::{Coded, ErrorCode, Snapshot};

/// A call on a closed [`HostClient`] (code `CLOSED`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the client is closed")]
pub struct ClosedError;

impl Coded for ClosedError {
    /// `CLOSED`.
    fn code(&self) -> ErrorCode {
        ErrorCode::Closed
    }
}

/// An event was dropped instead of queued (code `QUEUE_FULL`). The runtime reports this as
/// `false` from [`Client::track`] / `Ok(false)` from [`Client::expose`]; a surface that reports it
/// as an error (C) takes the message from [`HostClient::queue_full`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum QueueFullError {
    /// The queue was full: the event was dropped and counted (`dropped_queue_full`).
    #[error("the event queue is full: the event was dropped (counted in stats)")]
    Full,
    /// This process is a fork of the one that started the client, whose threads stayed in the
    /// parent: the event was dropped and counted (`dropped_after_fork`).
    #[error("this client belongs to the parent process: replace it with after_fork in the child")]
    ForkedCopy,
}

impl Coded for QueueFullError {
    /// `QUEUE_FULL`.
    fn code(&self) -> ErrorCode {
        ErrorCode::QueueFull
    }
}

/// What [`HostClient::close`] (or [`HostClient::mark_closed`]) found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Closing {
    /// This call closed the handle.
    Closed,
    /// It was closed already; nothing else happened.
    AlreadyClosed,
}

/// A [`Client`] plus the closed state a binding exposes: after [`close`](HostClient::close), every
/// call that goes through [`client`](HostClient::client) is refused with [`ClosedError`] (code
/// `CLOSED`); [`inner`](HostClient::inner) still reaches the client for what works after close
/// (stats). A binding keeps no `closed` flag of its own.
///
/// **Double close.** A second `close` is a no-op that succeeds: it returns
/// `Ok(`[`Closing::AlreadyClosed`]`)` at once (Python's and Node's `close()` are idempotent).
/// That is the host layer's one behaviour; the result tells the caller it was a repeat, so the C
/// ABI can keep its documented `VARIO_ERR_CLOSED` for a second `vario_client_close` by mapping
/// `AlreadyClosed` to [`ClosedError`].
///
/// ```
/// use std::time::Duration;
/// use vario::core::{Coded, Request};
/// use vario::host::{Closing, HostClient, Surface};
///
/// let host = HostClient::from_json(r#"{"bootstrap": "{\"schema_version\": 1, \"version\": 1}"}"#, Surface::Node)?;
/// assert_eq!(host.inner().options().sdk_name, "vario-node");
/// let json = host.client()?.decide_json(&Request::new("home"), vario::Expose::Now);
/// assert!(json.contains("UNKNOWN_PLACEMENT"));
///
/// assert_eq!(host.close(Duration::from_secs(2))?, Closing::Closed);
/// assert_eq!(host.close(Duration::from_secs(2))?, Closing::AlreadyClosed); // a no-op
/// let err = host.client().unwrap_err();
/// assert_eq!(err.code().as_str(), "CLOSED");
/// let _stats = host.inner().stats(); // still readable
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct HostClient {
    client: Client,
    closed: AtomicBool,
}

impl From<Client> for HostClient {
    fn from(client: Client) -> Self {
        HostClient::new(client)
    }
}

impl HostClient {
    /// Wraps a started client (open).
    pub fn new(client: Client) -> HostClient {
        HostClient { client, closed: AtomicBool::new(false) }
    }

    /// Validates `opts` and starts the client ([`ClientBuilder::build`]); `opts.sdk_name` is used
    /// as given (see [`Surface::apply`] and [`super::parse_options`] for the surface's name).
    pub fn start(opts: Options) -> Result<HostClient, BuildError> {
        ClientBuilder::new().options(opts).build().map(HostClient::new)
    }

    /// Parses options JSON for `surface` ([`super::parse_options_json`]) and starts the client:
    /// the whole of `vario_client_new` and of Node's constructor.
    pub fn from_json(options_json: &str, surface: Surface) -> Result<HostClient, BuildError> {
        Self::start(parse_options_json(options_json, surface)?)
    }

    /// The client, unless the handle is closed.
    pub fn client(&self) -> Result<&Client, ClosedError> {
        if self.is_closed() { Err(ClosedError) } else { Ok(&self.client) }
    }

    /// The client whatever the state: for what a surface allows after close (stats, options,
    /// fork checks).
    pub fn inner(&self) -> &Client {
        &self.client
    }

    /// True once the handle was closed (or marked closed).
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Marks the handle closed without stopping anything yet: from now on [`client`](Self::client)
    /// refuses. For a surface whose close runs elsewhere (Node resolves `close()` on the libuv
    /// pool): mark on the calling thread, so the next call already sees `CLOSED`, then call
    /// [`close`](Self::close) on the worker, which still stops the client.
    pub fn mark_closed(&self) -> Closing {
        if self.closed.swap(true, Ordering::AcqRel) { Closing::AlreadyClosed } else { Closing::Closed }
    }

    /// Marks the handle closed and closes the client ([`Client::close`]: delivers what is queued
    /// within `timeout`, stops the threads; `Err` when events had to be dropped, counted). A second
    /// call is a no-op returning `Ok(Closing::AlreadyClosed)` (see the type's doc). Blocks: release
    /// the host's interpreter lock around it.
    pub fn close(&self, timeout: Duration) -> Result<Closing, TimeoutError> {
        let closing = self.mark_closed();
        // `Client::close` is idempotent itself: after `mark_closed` (Node) it still runs once.
        self.client.close(timeout).map(|()| closing)
    }

    /// In a forked child: a new, open handle over [`Client::after_fork`] (same options, fresh
    /// threads, the parent's snapshot). The old handle's client stops taking events. A surface that
    /// swaps the new handle in place of the old (Python) should not do so for a closed handle.
    pub fn after_fork(&self) -> Result<HostClient, BuildError> {
        self.client.after_fork().map(HostClient::new)
    }

    /// Why an event was dropped instead of queued (for a surface that reports it as an error).
    pub fn queue_full(&self) -> QueueFullError {
        if self.client.is_forked_copy() { QueueFullError::ForkedCopy } else { QueueFullError::Full }
    }

    /// The context attributes to read from a host request for a decision on `snap` (`None`: no
    /// snapshot yet): [`super::client_attributes`] with this client's exposure keys.
    pub fn context_attributes(&self, snap: Option<&Snapshot>) -> Vec<String> {
        client_attributes(snap, &self.client.options().exposure_context_keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vario_core::ErrorClass;

    const SNAP: &str = r#"{"schema_version": 1, "version": 1}"#;

    fn host() -> HostClient {
        let mut o = Options::default();
        o.sync.config = Some(crate::options::ConfigSpec::Bootstrap(SNAP.into()));
        o.delivery.local_sink = Some(crate::options::LocalSink::Callback(std::sync::Arc::new(|_| {})));
        HostClient::start(o).expect("client")
    }

    #[test]
    fn shareable_across_threads() {
        // Python keeps them in `frozen` classes, Node moves an `Arc<HostClient>` to the libuv pool.
        fn send_sync<T: Send + Sync>() {}
        send_sync::<HostClient>();
        send_sync::<super::super::SnapshotCache<String>>();
    }

    #[test]
    fn close_once_then_closed() {
        let h = host();
        assert!(!h.is_closed());
        h.client().expect("open");
        assert_eq!(h.close(Duration::from_secs(2)), Ok(Closing::Closed));
        assert_eq!(h.close(Duration::from_secs(2)), Ok(Closing::AlreadyClosed));
        assert_eq!(h.client().map(|_| ()), Err(ClosedError));
        assert_eq!(ClosedError.code().class(), ErrorClass::Closed);
        assert_eq!(h.inner().stats().config_version, Some(1), "stats work after close");
    }

    #[test]
    fn mark_then_close_still_stops_the_client() {
        let h = host();
        assert_eq!(h.mark_closed(), Closing::Closed);
        assert!(h.client().is_err(), "refused at once");
        assert_eq!(h.close(Duration::from_secs(2)), Ok(Closing::AlreadyClosed));
        // The client itself is closed: events are dropped at close.
        assert!(!h.inner().track(crate::Outcome { event_type: "click".into(), ..Default::default() }));
        assert_eq!(h.inner().stats().dropped_at_close, 1);
    }

    #[test]
    fn from_json_names_the_surface_and_codes_errors() {
        let h = HostClient::from_json(
            &serde_json::json!({"bootstrap": SNAP, "sink_path": "/dev/null"}).to_string(),
            Surface::C,
        )
        .expect("client");
        assert_eq!(h.inner().options().sdk_name, "vario-c");
        assert_eq!(h.queue_full(), QueueFullError::Full);
        assert_eq!(h.queue_full().code(), ErrorCode::QueueFull);
        assert_eq!(h.context_attributes(None), ["locale", "page_type"]);
        let e = HostClient::from_json(r#"{"bootstrap": "{}", "nope": 1}"#, Surface::C).expect_err("unknown key");
        assert_eq!(e.code(), ErrorCode::InvalidOptions);
        let e = HostClient::from_json("{}", Surface::C).expect_err("no source");
        assert_eq!(e.code(), ErrorCode::InvalidOptions);
    }
}

//! # vario-control: the control plane (`vario control`)
//!
//! The service where experiments are created, launched, paused, ramped and rolled back, and where
//! snapshots are published for the SDKs (SPEC §8; the project's copy is `contract/control.md`).
//!
//! ## Architecture
//!
//! ```text
//! HTTP (axum) ──▶ api::* handler ──▶ one SQL transaction (sqlx, SQLite | Postgres)
//!                      │                 └─ assemble: authoring state → snapshot JSON → vario-core lints
//!                      └─ after commit ──▶ latest cache (SDK endpoint) · SSE broadcast · Redis CAS + PUBLISH
//! Redis config:updates (another instance's publish) ──▶ follow ──▶ latest cache · SSE broadcast
//! ```
//!
//! | module | owns | pure? | thread-safe? |
//! |---|---|---|---|
//! | [`error`] | the API's error codes and body | yes | yes |
//! | [`model`] | resources and request bodies, with their OpenAPI schemas | yes | yes |
//! | [`assemble`] | authoring state → snapshot; the engine's verdict; reshuffle counting | yes | yes |
//! | [`db`] | the pool (`Any` driver), migrations, ids and timestamps | no (I/O) | yes (pool) |
//! | [`auth`] | bearer tokens, roles, SDK keys (hashed at rest) | no (DB) | yes |
//! | [`redis_sync`] | the `env:{name}:config` compare-and-set, `config:updates`, the reconciler | no (I/O) | yes |
//! | [`follow`] | other instances' publishes, heard on `config:updates`, announced to this one's streams | no (I/O) | yes |
//! | [`state`] | what handlers share: pool, caches, announcer | — | yes (`Arc`s) |
//! | [`api`] | the routes, one submodule per family; transaction helpers | no | yes |
//!
//! One compiler: every write is compiled with `vario-core`, the engine the SDKs run, and refused
//! (`422 VALIDATION_FAILED`, with the engine's lints) when the engine would disable what it
//! produces, so the control plane can never publish what an SDK rejects.
//!
//! Writes on one environment are serialised by a row update at the start of their transaction;
//! versions are `max + 1` under that lock, so they strictly increase, and each publish is one
//! transaction (the version row and its audit entry), announced only after the commit. A process
//! killed mid-publish leaves either the whole version or nothing.
//!
//! Bounded everywhere: request bodies over 1 MiB are refused (`413`), the pool has at most
//! `max_connections`, every request has a timeout (SSE streams excepted, which send pings), and
//! shutdown stops accepting, ends the SSE streams and lets in-flight requests finish.

#![deny(missing_docs)]

pub mod api;
pub mod assemble;
pub mod auth;
pub mod db;
pub mod error;
pub mod follow;
pub mod model;
pub mod redis_sync;
pub mod state;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::serve::ListenerExt;
use tokio::sync::{broadcast, watch};

use crate::error::{ApiCode, ApiError};
use crate::state::AppState;

/// Request bodies over this are refused with `413 TOO_LARGE`.
pub const MAX_BODY: usize = 1 << 20;

/// How the service starts.
#[derive(Clone)]
pub struct Config {
    /// `sqlite://PATH` (default `sqlite://vario-control.db`) or `postgres://...`.
    pub db_url: String,
    /// Default `127.0.0.1:3001`; port 0 picks a free one.
    pub listen: String,
    /// `redis://...`, to write `env:{name}:config` and publish `config:updates`.
    pub redis_url: Option<String>,
    /// Accepted as an `admin` token named `bootstrap` (`VARIO_ADMIN_TOKEN`).
    pub admin_token: Option<String>,
    /// At most this many database connections.
    pub max_connections: u32,
    /// How often the reconciler re-asserts the latest versions into Redis (default 30 s).
    pub reconcile_every: Duration,
    /// SSE `: ping` interval (default 15 s).
    pub ping_every: Duration,
    /// A request taking longer is answered `503` (default 30 s).
    pub request_timeout: Duration,
    /// Sign every published snapshot (Ed25519 envelope, contract/snapshot.md "Signed
    /// snapshots"), so clients with `snapshot_public_key` install only what this service published.
    pub signing_key: Option<vario_core::signing::SigningKey>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the admin token or the signing key.
        f.debug_struct("Config")
            .field("db_url", &self.db_url)
            .field("listen", &self.listen)
            .field("redis_url", &self.redis_url)
            .field("max_connections", &self.max_connections)
            .field("signing", &self.signing_key.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            db_url: "sqlite://vario-control.db".into(),
            listen: "127.0.0.1:3001".into(),
            redis_url: None,
            admin_token: None,
            max_connections: 8,
            reconcile_every: Duration::from_secs(30),
            ping_every: Duration::from_secs(15),
            request_timeout: Duration::from_secs(30),
            signing_key: None,
        }
    }
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The database.
    #[error(transparent)]
    Db(#[from] db::DbError),
    /// A bad `--redis` URL.
    #[error("bad --redis URL: {0}")]
    Redis(#[from] redis::RedisError),
    /// Binding the listener, or the runtime.
    #[error("cannot listen on {0}: {1}")]
    Listen(String, std::io::Error),
}

/// The service's routes and the OpenAPI document (also written by `vario control --openapi`).
pub fn app(state: AppState, request_timeout: Duration) -> (axum::Router, utoipa::openapi::OpenApi) {
    let (router, mut doc) = api::router().split_for_parts();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    let served = doc.clone();
    let timeout = tower_http::timeout::TimeoutLayer::with_status_code(
        axum::http::StatusCode::SERVICE_UNAVAILABLE,
        request_timeout,
    );
    let router = router
        .route("/openapi.json", axum::routing::get(move || async move { axum::Json(served.clone()) }))
        .fallback(|| async { ApiError::new(ApiCode::NotFound, "no such route") })
        .method_not_allowed_fallback(|| async {
            ApiError::new(ApiCode::MethodNotAllowed, "method not allowed on this route")
        })
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .layer(timeout)
        .with_state(state);
    (router, doc)
}

/// The OpenAPI document alone.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = api::router().into_openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").into();
    doc
}

/// A running service (on its own thread and runtime): for `vario control`, tests and the demo.
pub struct Server {
    addr: SocketAddr,
    stop: watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Server {
    /// Opens the database (migrating it), binds, and serves in the background.
    pub fn start(config: Config) -> Result<Server, StartError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .thread_name("vario-control")
            .build()
            .map_err(|e| StartError::Listen(config.listen.clone(), e))?;
        let (stop, stop_rx) = watch::channel(false);
        let (listener, state) = rt.block_on(prepare(&config, stop_rx.clone()))?;
        let addr = listener.local_addr().map_err(|e| StartError::Listen(config.listen.clone(), e))?;
        let (reconcile_every, request_timeout) = (config.reconcile_every, config.request_timeout);
        let thread = std::thread::Builder::new()
            .name("vario-control".into())
            .spawn(move || {
                rt.block_on(async move {
                    if let Some(r) = state.redis.clone() {
                        redis_sync::spawn_reconciler(state.db.clone(), r.clone(), reconcile_every);
                        follow::spawn_follower(state.clone(), r);
                    }
                    serve(listener, state, stop_rx, request_timeout).await;
                });
                // In-flight work got its grace in `serve`; background tasks (the reconciler) stop here.
                rt.shutdown_timeout(Duration::from_secs(1));
            })
            .map_err(|e| StartError::Listen(config.listen.clone(), e))?;
        Ok(Server { addr, stop, thread: Some(thread) })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting, ends SSE streams, waits for in-flight requests (graceful shutdown).
    pub fn shutdown(mut self) {
        self.stop_and_join();
    }

    /// Blocks until the service stops (after [`Server::stop_handle`] fires).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    /// Something another thread (a signal handler's) can use to stop the service.
    pub fn stop_handle(&self) -> watch::Sender<bool> {
        self.stop.clone()
    }

    /// Serves until SIGTERM or SIGINT (Ctrl-C), then shuts down gracefully.
    pub fn run_until_signal(self) {
        let waited = tokio::runtime::Builder::new_current_thread().enable_all().build().map(|rt| {
            rt.block_on(async {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{SignalKind, signal};
                    match signal(SignalKind::terminate()) {
                        Ok(mut term) => {
                            tokio::select! {
                                _ = term.recv() => {}
                                _ = tokio::signal::ctrl_c() => {}
                            }
                        }
                        Err(_) => {
                            let _ = tokio::signal::ctrl_c().await;
                        }
                    }
                }
                #[cfg(not(unix))]
                {
                    let _ = tokio::signal::ctrl_c().await;
                }
            })
        });
        if let Err(e) = waited {
            log::error!("vario-control: cannot wait for signals ({e}); stopping");
        }
        self.shutdown();
    }

    fn stop_and_join(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop_and_join();
    }
}

async fn prepare(
    config: &Config,
    shutdown: watch::Receiver<bool>,
) -> Result<(tokio::net::TcpListener, AppState), StartError> {
    let db = db::connect(&config.db_url, config.max_connections).await?;
    let redis = match &config.redis_url {
        Some(u) => Some(Arc::new(redis_sync::RedisSync::new(u)?)),
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| StartError::Listen(config.listen.clone(), e))?;
    let (announce, _) = broadcast::channel(1024);
    let state = AppState {
        db,
        bootstrap_hash: config.admin_token.as_deref().filter(|t| !t.is_empty()).map(auth::hash_secret),
        sdk_keys: Arc::default(),
        latest: Arc::default(),
        announce,
        announced: Arc::default(),
        redis,
        ping_every: config.ping_every,
        shutdown,
        signing_key: config.signing_key.clone().map(Arc::new),
    };
    Ok((listener, state))
}

/// How long in-flight requests get to finish once shutdown starts.
const GRACE: Duration = Duration::from_secs(10);

async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    stop: watch::Receiver<bool>,
    request_timeout: Duration,
) {
    let (router, _) = app(state, request_timeout);
    // An SSE event is one small write, often right after another (the version event after the
    // response head): Nagle's algorithm would hold it for the client's delayed ACK.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            log::debug!("vario-control: TCP_NODELAY: {e}");
        }
    });
    let mut first = stop.clone();
    let shutdown = async move {
        let _ = first.wait_for(|s| *s).await;
    };
    let mut second = stop;
    let deadline = async move {
        let _ = second.wait_for(|s| *s).await;
        tokio::time::sleep(GRACE).await;
    };
    tokio::select! {
        r = axum::serve(listener, router).with_graceful_shutdown(shutdown) => {
            if let Err(e) = r {
                log::error!("vario-control: server error: {e}");
            }
        }
        () = deadline => log::warn!("vario-control: requests still running {GRACE:?} after shutdown began; stopping anyway"),
    }
}

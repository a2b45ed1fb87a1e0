//! `envctl ui`: a live web page of every instance on the engine, served by axum on the
//! command's own tokio runtime. The page is hand-written HTML/CSS/JS compiled into the binary
//! (`assets`); it reads and acts only through the JSON API under `/api/` (`api`, `live`,
//! `actions`), which scripts may use too (docs/ui.md). `guard` decides who may call what.

mod actions;
mod api;
mod assets;
mod guard;
mod live;
mod snapshot;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::routing::{get, post};
use axum::Router;

use crate::apply::Interrupt;
use crate::backend::Backend;

pub use guard::{generate_token, Access};

/// What `envctl ui` was started with.
#[derive(Debug, Clone)]
pub struct UiConfig {
    pub listen: SocketAddr,
    /// Required on every API call when `listen` is not loopback, and on every state-changing
    /// call always.
    pub token: String,
    /// `--set key=value` for loading definitions (plan, up).
    pub set: BTreeMap<String, String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("cannot listen on {listen}: {source}")]
    Bind {
        listen: SocketAddr,
        source: std::io::Error,
    },
    #[error("the web server stopped: {0}")]
    Serve(std::io::Error),
}

/// What every handler shares.
pub(crate) struct AppState {
    pub backend: Arc<dyn Backend>,
    pub config: UiConfig,
    pub access: Access,
    pub actions: actions::Actions,
    /// Set by Ctrl-C: running `up`s stop scheduling, as the CLI's do.
    pub interrupt: Interrupt,
}

pub(crate) type Shared = Arc<AppState>;

/// Binds `config.listen`, calls `on_ready` with the address actually bound (port 0 picks
/// one), then serves until `interrupt` is set.
pub async fn serve(
    backend: Arc<dyn Backend>,
    config: UiConfig,
    interrupt: Interrupt,
    on_ready: impl FnOnce(SocketAddr),
) -> Result<(), UiError> {
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .map_err(|source| UiError::Bind {
            listen: config.listen,
            source,
        })?;
    let bound = listener.local_addr().map_err(UiError::Serve)?;
    let state = Arc::new(AppState {
        backend,
        access: Access::new(bound, config.token.clone()),
        config,
        actions: actions::Actions::default(),
        interrupt: interrupt.clone(),
    });
    on_ready(bound);
    // Not a graceful shutdown: open pages hold event streams that never end, and waiting for
    // them would make Ctrl-C hang. A running `up` sees the interrupt and stops scheduling,
    // as an interrupted `envctl up` does; the process ends once running actions have.
    tokio::select! {
        served = axum::serve(listener, router(state)) => served.map_err(UiError::Serve),
        () = interrupt.wait() => Ok(()),
    }
}

/// The URL to open: with the token, so the page can act (and, off loopback, read at all).
pub fn page_url(bound: SocketAddr, token: &str) -> String {
    format!("http://{bound}/#token={token}")
}

fn router(state: Shared) -> Router {
    let api = Router::new()
        .route("/environments", get(api::environments))
        .route("/instances", get(api::instances))
        .route("/instances/events", get(live::instances))
        .route("/instances/{instance}", get(api::instance))
        .route("/instances/{instance}/events", get(live::instance))
        .route("/instances/{instance}/plan", get(api::plan))
        .route("/instances/{instance}/endpoints", get(api::endpoints))
        .route(
            "/instances/{instance}/services/{service}/logs",
            get(live::logs),
        )
        .route("/instances/{instance}/up", post(actions::up))
        .route("/instances/{instance}/down", post(actions::down))
        .route("/instances/{instance}/extend", post(actions::extend))
        .route(
            "/instances/{instance}/services/{service}/restart",
            post(actions::restart),
        )
        .route("/actions/{action}", get(actions::show))
        .route("/actions/{action}/events", get(live::action))
        .fallback(api::not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::check,
        ))
        .with_state(state.clone());
    Router::new()
        .nest("/api", api)
        .merge(assets::routes())
        .layer(axum::middleware::from_fn_with_state(state, guard::host))
}

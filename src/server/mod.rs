//! The reference call server (`calltop serve`): WebSocket signaling and the
//! admin API on one port.

mod admin;
mod conn;
pub mod hub;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::watch;

pub use hub::{Hub, ParticipantInfo, SessionInfo};

use crate::protocol::{DEFAULT_MAX_FRAME_BYTES, close};
use crate::settings::{MAX_DURATION, SettingsError};

/// How `calltop serve` behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    pub listen: SocketAddr,
    /// How long a dropped member's slot is kept for a resume.
    pub resume_window: Duration,
    pub max_frame_bytes: usize,
    /// Generated when `None`.
    pub admin_token: Option<String>,
    /// When set, joins must present this token.
    pub join_token: Option<String>,
    /// A client silent this long is treated as disconnected.
    pub client_silence: Duration,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            resume_window: Duration::from_secs(30),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            admin_token: None,
            join_token: None,
            client_silence: Duration::from_secs(30),
        }
    }
}

impl ServerConfig {
    /// Checks every setting; the first one that cannot work is the error,
    /// named as its key in the `[serve]` section.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.max_frame_bytes < 1024 {
            return Err(SettingsError::new(
                "serve.max_frame_bytes",
                self.max_frame_bytes,
                "at least 1024",
            ));
        }
        let day = MAX_DURATION.as_secs();
        if self.resume_window > MAX_DURATION {
            return Err(SettingsError::new(
                "serve.resume_window_secs",
                self.resume_window.as_secs(),
                format!("at most {day} (one day)"),
            ));
        }
        if self.client_silence.is_zero() || self.client_silence > MAX_DURATION {
            return Err(SettingsError::new(
                "serve.client_silence_secs",
                self.client_silence.as_secs(),
                format!("1 to {day} (one day)"),
            ));
        }
        Ok(())
    }
}

#[derive(Clone)]
pub(crate) struct AppState {
    hub: Hub,
    admin_token: String,
    limits: conn::ConnLimits,
    shutdown: watch::Receiver<bool>,
}

/// A running server. Dropping it stops the server as [`ServerHandle::shutdown`]
/// does (clients get 1001, going away), without waiting for it.
pub struct ServerHandle {
    pub addr: SocketAddr,
    pub admin_token: String,
    pub hub: Hub,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl ServerHandle {
    /// The WebSocket URL clients join.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// The base URL of the admin API.
    pub fn http_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops listening and closes every connection with 1001 (going away).
    /// All state is lost, as in a crash or restart.
    pub async fn shutdown(self) {
        self.hub
            .close_all(close::GOING_AWAY, "server shutting down");
        let _ = self.stop.send(true);
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Binds and starts serving on the current tokio runtime.
pub async fn start(config: ServerConfig) -> std::io::Result<ServerHandle> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = TcpListener::bind(config.listen).await?;
    let addr = listener.local_addr()?;
    let hub = Hub::new(
        config.resume_window,
        config.join_token.clone().filter(|t| !t.is_empty()),
    );
    let admin_token = config
        .admin_token
        .clone()
        .filter(|t| !t.is_empty())
        .unwrap_or_else(hub::admin_token);
    let (stop, shutdown) = watch::channel(false);
    let state = AppState {
        hub: hub.clone(),
        admin_token: admin_token.clone(),
        limits: conn::ConnLimits {
            max_frame_bytes: config.max_frame_bytes,
            client_silence: config.client_silence,
        },
        shutdown: shutdown.clone(),
    };
    let app = Router::new()
        .route("/", get(upgrade))
        .route("/ws", get(upgrade))
        .route("/api/sessions", get(admin::list))
        .route("/api/sessions/{id}/kick/{user}", post(admin::kick))
        .route("/api/sessions/{id}/end", post(admin::end))
        .route(
            "/api/sessions/{id}/drop/{user}",
            post(admin::drop_connection),
        )
        .with_state(state);
    let mut stopped = shutdown;
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = stopped.wait_for(|s| *s).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(target: "calltop::server", "server stopped: {e}");
        }
    });
    Ok(ServerHandle {
        addr,
        admin_token,
        hub,
        stop,
        task,
    })
}

async fn upgrade(ws: WebSocketUpgrade, State(state): State<AppState>) -> Response {
    // Frames up to 16 times the limit reach our own check, which answers with
    // a clear error; larger ones are cut off by the WebSocket layer itself
    // (the connection just closes), so no client can make us buffer more.
    let hard = state
        .limits
        .max_frame_bytes
        .saturating_mul(crate::protocol::HARD_FRAME_FACTOR);
    ws.max_message_size(hard)
        .max_frame_size(hard)
        .on_upgrade(move |socket| conn::serve(socket, state.hub, state.limits, state.shutdown))
}

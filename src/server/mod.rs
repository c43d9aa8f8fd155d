//! The reference call server (`calltop serve`): WebSocket signaling and the
//! admin API on one port.

mod accept;
mod admin;
mod admit;
mod burst;
mod conn;
pub mod hub;
pub mod listen;
pub mod outbox;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::State;
use axum::extract::ws::WebSocketUpgrade;
use axum::response::Response;
use axum::routing::{get, post};
use tokio::sync::watch;

pub use hub::{Hub, ParticipantInfo, SessionInfo};

use crate::protocol::DEFAULT_MAX_FRAME_BYTES;
use crate::settings::{MAX_DURATION, SettingsError};

/// How `calltop serve` behaves.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The address to listen on (default `127.0.0.1:7878`; port 0 picks a free
    /// one, see [`ServerHandle::addr`]).
    pub listen: SocketAddr,
    /// How long a dropped member's slot is kept for a resume.
    pub resume_window: Duration,
    /// The largest frame a client may send, in bytes (default 64 KiB; at least
    /// 1024); a larger one is refused with `frame_too_large`.
    pub max_frame_bytes: usize,
    /// Generated when `None`.
    pub admin_token: Option<String>,
    /// When set, joins must present this token.
    pub token_secret: Option<String>,
    /// A client silent this long is treated as disconnected.
    pub client_silence: Duration,
    /// Connections open at once, all clients together; more are refused (503).
    pub max_connections: usize,
    /// Connections open at once from one client address (all of loopback is
    /// one; IPv6 counts by /64); more are refused (503).
    pub max_connections_per_ip: usize,
    /// A connection's HTTP request (the WebSocket upgrade) must have arrived
    /// within this, or the connection is closed.
    pub upgrade_timeout: Duration,
    /// Connections the kernel queues before we accept them (capped by
    /// `net.core.somaxconn`).
    pub listen_backlog: u32,
    /// What may be queued for one client (past its first frame) before it is
    /// cut off for not reading.
    pub max_queued_bytes: usize,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 7878)),
            resume_window: Duration::from_secs(30),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            admin_token: None,
            token_secret: None,
            client_silence: Duration::from_secs(30),
            max_connections: 10_000,
            max_connections_per_ip: 1_000,
            upgrade_timeout: Duration::from_secs(5),
            listen_backlog: 4096,
            max_queued_bytes: outbox::DEFAULT_MAX_QUEUED_BYTES,
        }
    }
}

impl ServerConfig {
    /// Checks every setting; the first one that cannot work is the error,
    /// named as its key in the `[serve]` section.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if let Some(secret) = self.token_secret.as_deref().filter(|s| !s.is_empty())
            && secret.len() < crate::token::MIN_SECRET_BYTES
        {
            return Err(SettingsError::new(
                "serve.token_secret",
                format!("({} bytes)", secret.len()),
                format!("at least {} bytes", crate::token::MIN_SECRET_BYTES),
            ));
        }
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
        if self.max_connections == 0 {
            return Err(SettingsError::new(
                "serve.max_connections",
                self.max_connections,
                "at least 1",
            ));
        }
        if self.max_connections_per_ip == 0 {
            return Err(SettingsError::new(
                "serve.max_connections_per_ip",
                self.max_connections_per_ip,
                "at least 1",
            ));
        }
        if self.upgrade_timeout.is_zero() || self.upgrade_timeout > MAX_DURATION {
            return Err(SettingsError::new(
                "serve.upgrade_timeout_secs",
                self.upgrade_timeout.as_secs(),
                format!("1 to {day} (one day)"),
            ));
        }
        if self.max_queued_bytes < 4096 {
            return Err(SettingsError::new(
                "serve.max_queued_bytes",
                self.max_queued_bytes,
                "at least 4096",
            ));
        }
        if !(1..=65_535).contains(&self.listen_backlog) {
            return Err(SettingsError::new(
                "serve.listen_backlog",
                self.listen_backlog,
                "1 to 65535",
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
    /// Clients cut off for not reading, logged once per burst.
    cut_offs: burst::BurstLog,
}

/// How long [`ServerHandle::shutdown`] waits for every connection to have
/// said goodbye (each writer gets 2 s to flush its close frame).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(3);

/// The WebSocket layer's read buffer. Its default, 128 KiB, is allocated per
/// connection and zero-filled on every read: most of an idle server's memory
/// and much of its CPU. Signaling frames are a few hundred bytes; a larger
/// frame grows the buffer for as long as it takes.
const WS_READ_BUFFER: usize = 4 * 1024;

/// A running server. Dropping it stops the server as [`ServerHandle::shutdown`]
/// does (clients get 1001, going away), without waiting for it.
pub struct ServerHandle {
    /// The address the server listens on (with the port picked, when the
    /// config's was 0).
    pub addr: SocketAddr,
    /// The admin API's bearer token: the config's, or one generated at start.
    pub admin_token: String,
    /// The server's sessions and members, to inspect or act on directly.
    pub hub: Hub,
    admission: Arc<admit::Admission>,
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

    /// Connections open now (WebSocket or HTTP), as the caps count them.
    pub fn open_connections(&self) -> usize {
        self.admission.open()
    }

    /// Stops listening and closes every connection with 1001 (going away),
    /// so clients reconnect at once; returns once they are all closed (at
    /// most a few seconds). All state is lost, as in a crash or restart.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        let _ = tokio::time::timeout(SHUTDOWN_GRACE, self.admission.drained()).await;
        self.task.abort();
        let _ = self.task.await;
    }
}

/// Binds and starts serving on the current tokio runtime.
pub async fn start(config: ServerConfig) -> std::io::Result<ServerHandle> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let listener = listen::bind(config.listen, config.listen_backlog)?;
    let addr = listener.local_addr()?;
    let mut hub = Hub::new(
        config.resume_window,
        config.token_secret.clone().filter(|t| !t.is_empty()),
    );
    hub.max_queued_bytes = config.max_queued_bytes;
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
        cut_offs: burst::BurstLog::new("clients cut off for not reading"),
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
    let admission = admit::Admission::new(config.max_connections, config.max_connections_per_ip);
    let acceptor = accept::Acceptor {
        app,
        admission: admission.clone(),
        upgrade_timeout: config.upgrade_timeout,
        shutdown,
    };
    let task = tokio::spawn(acceptor.run(listener));
    Ok(ServerHandle {
        addr,
        admin_token,
        hub,
        admission,
        stop,
        task,
    })
}

async fn upgrade(
    ws: WebSocketUpgrade,
    State(state): State<AppState>,
    abort: Option<Extension<admit::Abort>>,
) -> Response {
    let abort = abort.map(|Extension(a)| a).unwrap_or_default();
    // Frames up to 16 times the limit reach our own check, which answers with
    // a clear error; larger ones are cut off by the WebSocket layer itself
    // (the connection just closes), so no client can make us buffer more.
    let hard = state
        .limits
        .max_frame_bytes
        .saturating_mul(crate::protocol::HARD_FRAME_FACTOR);
    ws.read_buffer_size(WS_READ_BUFFER)
        // Each frame goes out as it is sent (the writer flushes every one
        // anyway); nothing collects in a write buffer of 128 KiB.
        .write_buffer_size(0)
        // No cap of its own needed: the writer hands over one frame at a time
        // and waits for it, and what waits behind it is bounded by the
        // connection's queue (a pong flood included, see `conn`).
        .max_message_size(hard)
        .max_frame_size(hard)
        .on_upgrade(move |socket| {
            conn::serve(
                socket,
                state.hub,
                state.limits,
                state.shutdown,
                state.cut_offs,
                abort,
            )
        })
}

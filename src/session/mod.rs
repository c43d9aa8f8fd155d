//! [`CallSession`]: the engine on a tokio task, with the listener API and an event stream.

mod driver;
mod listener;
mod transport;

use std::sync::Arc;

use rand::RngCore;
use tokio::sync::{mpsc, oneshot};

pub use driver::Fanout;
pub use listener::{ListenerGuard, Restored, SessionStatusListener};
pub use transport::install_crypto_provider;

use crate::engine::{Command, CommandError, Engine};
use crate::event::SessionEvent;
use crate::settings::SessionSettings;
use driver::{Driver, Request};
use listener::Listeners;

/// Events a subscriber may fall behind by before the engine waits for it.
pub const SUBSCRIBER_CAPACITY: usize = 1024;

/// A call session. Create it inside a tokio runtime; it runs on its own task
/// until [`CallSession::shutdown`] or until every clone of it is dropped (which
/// leaves the session first).
#[derive(Clone)]
pub struct CallSession {
    requests: mpsc::Sender<Request>,
    listeners: Arc<Listeners>,
    settings: Arc<SessionSettings>,
}

impl std::fmt::Debug for CallSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallSession")
            .field("server", &self.settings.server.as_str())
            .field("session", &self.settings.session)
            .field("user", &self.settings.user)
            .finish_non_exhaustive()
    }
}

impl CallSession {
    /// Starts the engine task. Nothing connects until [`CallSession::join`].
    pub fn new(settings: SessionSettings) -> CallSession {
        install_crypto_provider();
        let engine = Engine::new(settings.clone(), rand::rng().next_u64());
        let (tx, rx) = mpsc::channel(64);
        let listeners = Arc::new(Listeners::default());
        tokio::spawn(Driver::new(engine, rx, listeners.clone()).run());
        CallSession {
            requests: tx,
            listeners,
            settings: Arc::new(settings),
        }
    }

    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    async fn command(&self, cmd: Command) -> Result<(), CommandError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Command(cmd, tx))
            .await
            .map_err(|_| CommandError::EngineStopped)?;
        rx.await.map_err(|_| CommandError::EngineStopped)?
    }

    /// Joins the session (connecting, and retrying per the reconnect policy).
    /// Asked while our leave is under way, it follows that leave (a `leave`
    /// before then takes it back).
    pub async fn join(&self) -> Result<(), CommandError> {
        self.command(Command::Join).await
    }

    /// Joins again after a terminal event (left, timed out, closed).
    pub async fn rejoin(&self) -> Result<(), CommandError> {
        self.command(Command::Join).await
    }

    /// Leaves the session; `session_left` with reason `user` follows.
    pub async fn leave(&self) -> Result<(), CommandError> {
        self.command(Command::Leave).await
    }

    /// While reconnecting, skips the rest of the backoff wait.
    pub async fn reconnect_now(&self) -> Result<(), CommandError> {
        self.command(Command::ReconnectNow).await
    }

    /// A new stream of every event from now on. Nothing is dropped: if the
    /// receiver falls [`SUBSCRIBER_CAPACITY`] events behind, the engine waits.
    pub async fn subscribe(&self) -> Result<mpsc::Receiver<SessionEvent>, CommandError> {
        let (tx, rx) = mpsc::channel(SUBSCRIBER_CAPACITY);
        self.requests
            .send(Request::Subscribe(tx))
            .await
            .map_err(|_| CommandError::EngineStopped)?;
        Ok(rx)
    }

    /// Registers the six session-status callbacks until the guard is dropped.
    pub fn add_session_status_listener(
        &self,
        listener: impl SessionStatusListener + 'static,
    ) -> ListenerGuard {
        self.listeners.add(Arc::new(listener))
    }

    /// Leaves the session if in one (waiting for the terminal event), then stops the task.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.requests.send(Request::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

//! [`CallSession`]: the engine on a tokio task, with the listener API and an event stream.

mod driver;
mod fanout;
mod listener;
mod transport;

use std::sync::Arc;

use rand::Rng;
use tokio::sync::{mpsc, oneshot};

pub use fanout::{Fanout, SUBSCRIBER_CAPACITY, Subscription, TryRecvError};
pub use listener::{ListenerGuard, Restored, SessionStatusListener};
pub use transport::install_crypto_provider;

use crate::clock::Clock;
use crate::engine::{Command, CommandError, Engine};
use crate::event::{EventKind, RunInfo, SessionEvent};
use crate::settings::SessionSettings;
use driver::{Driver, Request};
use listener::Listeners;

/// A call session. Create it inside a tokio runtime; it runs on its own task
/// until [`CallSession::shutdown`] or until every clone of it is dropped (which
/// leaves the session first).
#[derive(Clone)]
pub struct CallSession {
    requests: mpsc::UnboundedSender<Request>,
    listeners: Arc<Listeners>,
    settings: Arc<SessionSettings>,
    clock: Clock,
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
        CallSession::with_clock(settings, Clock::start())
    }

    /// Starts the engine task on a given clock: event offsets count from its
    /// start, and its time is tokio's (a test may pause it).
    pub fn with_clock(settings: SessionSettings, clock: Clock) -> CallSession {
        install_crypto_provider();
        let engine = Engine::new(settings.clone(), rand::rng().next_u64());
        let (tx, rx) = mpsc::unbounded_channel();
        let listeners = Arc::new(Listeners::default());
        tokio::spawn(Driver::new(engine, clock, rx, listeners.clone()).run());
        CallSession {
            requests: tx,
            listeners,
            settings: Arc::new(settings),
            clock,
        }
    }

    /// The settings the session was created with.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// A `run_started` event for now: what a stream of this session's events
    /// is of. Headless output and recordings begin with it.
    pub fn run_started(&self) -> SessionEvent {
        let offset = self.clock.elapsed();
        SessionEvent::new(
            self.clock.wall(offset),
            offset,
            EventKind::RunStarted {
                run: RunInfo::of(&self.settings),
            },
        )
    }

    /// The clock the session's events are timed by.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// Hands a command to the engine and returns at once. Commands are
    /// carried out in the order they were sent; what comes of one is in the
    /// event stream (`leaving`, `connecting`, `command_refused` with the
    /// reason...). The only error: the engine has stopped.
    pub fn send(&self, cmd: Command) -> Result<(), CommandError> {
        self.requests
            .send(Request::Command(Box::new((cmd, None))))
            .map_err(|_| CommandError::EngineStopped)
    }

    /// Sends a command and waits for the engine's answer (it is in the
    /// event stream as well).
    async fn command(&self, cmd: Command) -> Result<(), CommandError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Command(Box::new((cmd, Some(tx)))))
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

    /// Provokes a failure on purpose (docs/EVENTS.md, "Fault injection"):
    /// `fault_injected` and what follows from it are in the event stream.
    /// Refused where it makes no sense now, or when the settings turn
    /// faults off.
    pub async fn inject(&self, fault: crate::engine::Fault) -> Result<(), CommandError> {
        self.command(Command::Fault(fault)).await
    }

    /// A new stream of every event from now on. The engine never waits for
    /// a subscriber: one that falls [`SUBSCRIBER_CAPACITY`] events behind
    /// misses heartbeats until it catches up, and nothing else.
    pub async fn subscribe(&self) -> Result<Subscription, CommandError> {
        let (tx, rx) = oneshot::channel();
        self.requests
            .send(Request::Subscribe(tx))
            .map_err(|_| CommandError::EngineStopped)?;
        rx.await.map_err(|_| CommandError::EngineStopped)
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
        if self.requests.send(Request::Shutdown(tx)).is_ok() {
            let _ = rx.await;
        }
    }
}

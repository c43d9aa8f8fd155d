//! The thin async shell around the pure engine: owns the socket and the timer,
//! feeds the engine, and carries out what it asks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::listener::Listeners;
use super::transport::{self, Ws};
use crate::engine::{Command, CommandError, Engine, Input, Output, Phase};
use crate::event::{EventKind, SessionEvent};

pub(crate) enum Request {
    Command(Command, oneshot::Sender<Result<(), CommandError>>),
    Subscribe(mpsc::Sender<SessionEvent>),
    /// Leave if in a session, then stop.
    Shutdown(oneshot::Sender<()>),
}

type Connecting = Pin<Box<dyn Future<Output = Result<Ws, String>> + Send>>;

/// Sends events to every subscriber, waiting for room (backpressure) rather
/// than dropping any: a status event is never lost to a slow consumer.
#[derive(Default)]
pub struct Fanout {
    subscribers: Vec<mpsc::Sender<SessionEvent>>,
}

impl Fanout {
    pub fn add(&mut self, tx: mpsc::Sender<SessionEvent>) {
        self.subscribers.push(tx);
    }

    pub async fn send(&mut self, event: SessionEvent) {
        let mut closed = false;
        if let Some((last, rest)) = self.subscribers.split_last() {
            for tx in rest {
                closed |= tx.send(event.clone()).await.is_err();
            }
            closed |= last.send(event).await.is_err();
        }
        if closed {
            self.subscribers.retain(|tx| !tx.is_closed());
        }
    }
}

pub(crate) struct Driver {
    engine: Engine,
    requests: mpsc::Receiver<Request>,
    listeners: Arc<Listeners>,
    fanout: Fanout,
    ws: Option<Ws>,
    connecting: Option<Connecting>,
    closing: Vec<JoinHandle<()>>,
    shutdown: Option<oneshot::Sender<()>>,
}

impl Driver {
    pub(crate) fn new(
        engine: Engine,
        requests: mpsc::Receiver<Request>,
        listeners: Arc<Listeners>,
    ) -> Self {
        Driver {
            engine,
            requests,
            listeners,
            fanout: Fanout::default(),
            ws: None,
            connecting: None,
            closing: Vec::new(),
            shutdown: None,
        }
    }

    pub(crate) async fn run(mut self) {
        loop {
            self.carry_out_outputs().await;
            if self.engine.phase() == Phase::Idle
                && let Some(done) = self.shutdown.take()
            {
                for h in self.closing.drain(..) {
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), h).await;
                }
                let _ = done.send(());
                return;
            }
            let deadline = self.engine.poll_timeout();
            tokio::select! {
                req = self.requests.recv(), if self.shutdown.is_none() => match req {
                    Some(Request::Command(cmd, reply)) => {
                        let _ = reply.send(self.engine.handle_command(cmd, Instant::now()));
                    }
                    Some(Request::Subscribe(tx)) => self.fanout.add(tx),
                    Some(Request::Shutdown(done)) => self.begin_shutdown(done),
                    None => {
                        // Every handle is gone: leave cleanly and stop.
                        let (done, _) = oneshot::channel();
                        self.begin_shutdown(done);
                    }
                },
                res = async { self.connecting.as_mut().expect("guarded by the branch condition").await },
                    if self.connecting.is_some() => {
                    self.connecting = None;
                    let input = match res {
                        Ok(ws) => {
                            self.ws = Some(ws);
                            Input::TransportUp
                        }
                        Err(reason) => Input::TransportDown { code: None, reason },
                    };
                    self.engine.handle_input(input, Instant::now());
                }
                msg = async { self.ws.as_mut().expect("guarded by the branch condition").next().await },
                    if self.ws.is_some() => {
                    self.on_message(msg);
                }
                _ = sleep_until(deadline), if deadline.is_some() => {
                    self.engine.handle_timeout(Instant::now());
                }
            }
        }
    }

    fn begin_shutdown(&mut self, done: oneshot::Sender<()>) {
        // An Err just means we were not in a session: nothing to leave.
        let _ = self.engine.handle_command(Command::Leave, Instant::now());
        self.shutdown = Some(done);
    }

    fn on_message(&mut self, msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) {
        let now = Instant::now();
        let input = match msg {
            Some(Ok(Message::Text(t))) => Input::Frame(t.as_str().to_owned()),
            Some(Ok(Message::Binary(b))) => Input::BinaryFrame(b.len()),
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => return,
            Some(Ok(Message::Close(frame))) => {
                self.ws = None;
                let (code, reason) = match frame {
                    Some(f) => (Some(u16::from(f.code)), f.reason.as_str().to_owned()),
                    None => (None, String::new()),
                };
                let reason = if reason.is_empty() {
                    "server closed the connection".to_owned()
                } else {
                    format!("server closed the connection: {reason}")
                };
                Input::TransportDown { code, reason }
            }
            Some(Err(e)) => {
                self.ws = None;
                Input::TransportDown {
                    code: None,
                    reason: format!("connection failed: {e}"),
                }
            }
            None => {
                self.ws = None;
                Input::TransportDown {
                    code: None,
                    reason: "connection closed without a close frame".into(),
                }
            }
        };
        self.engine.handle_input(input, now);
    }

    async fn carry_out_outputs(&mut self) {
        loop {
            // A send that fails is reported only after the batch: if the engine
            // already dropped or replaced that socket later in the same batch,
            // the failure belongs to a transport it no longer has.
            let mut send_failed = None;
            while let Some(out) = self.engine.poll_output() {
                match out {
                    Output::Connect { subprotocol } => {
                        send_failed = None;
                        self.close_current();
                        let s = self.engine.settings();
                        self.connecting = Some(Box::pin(transport::connect(
                            s.server.clone(),
                            subprotocol,
                            s.max_frame_bytes,
                        )));
                    }
                    Output::Send(text) => {
                        if let Some(ws) = self.ws.as_mut()
                            && let Err(e) = ws.send(Message::text(text)).await
                        {
                            self.ws = None;
                            send_failed = Some(format!("sending failed: {e}"));
                        }
                    }
                    Output::Disconnect => {
                        send_failed = None;
                        self.close_current();
                    }
                    Output::Event(at, kind) => self.dispatch(at, kind).await,
                }
            }
            match send_failed {
                Some(reason) => self
                    .engine
                    .handle_input(Input::TransportDown { code: None, reason }, Instant::now()),
                None => return,
            }
        }
    }

    /// Closes the socket politely in the background; the engine has already
    /// moved on, so nothing more is read from it.
    fn close_current(&mut self) {
        self.connecting = None;
        if let Some(mut ws) = self.ws.take() {
            self.closing.retain(|h| !h.is_finished());
            self.closing.push(tokio::spawn(async move {
                let _ = tokio::time::timeout(std::time::Duration::from_millis(500), ws.close(None))
                    .await;
            }));
        }
    }

    async fn dispatch(&mut self, at: Instant, kind: EventKind) {
        let ts = SystemTime::now() - Instant::now().saturating_duration_since(at);
        match &kind {
            // Consumers report these; a warning here would say it all twice.
            EventKind::Error { message } => {
                tracing::debug!(target: "calltop::session", "{message}")
            }
            EventKind::Heartbeat { .. } => {}
            other => tracing::info!(target: "calltop::session", event = other.name()),
        }
        self.listeners.notify(&kind);
        self.fanout.send(SessionEvent { at, ts, kind }).await;
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

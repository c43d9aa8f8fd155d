//! The thin async shell around the pure engine: owns the socket and the timer,
//! feeds the engine, and carries out what it asks.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;

use super::fanout::{Fanout, Subscription};
use super::listener::Listeners;
use super::transport::{self, Ws};
use crate::clock::Clock;
use crate::engine::{Command, CommandError, ContractChecker, Engine, Input, Output, Phase};
use crate::event::{EventKind, SessionEvent};

/// Where the engine's answer to a command goes.
pub(crate) type Reply = oneshot::Sender<Result<(), CommandError>>;

pub(crate) enum Request {
    /// A command; its answer goes to the reply channel if there is one (it
    /// is an event as well: `command_refused`, or what the command causes).
    /// Boxed: requests are rare, and a channel keeps room for 32 of them
    /// per session from the start.
    Command(Box<(Command, Option<Reply>)>),
    Subscribe(oneshot::Sender<Subscription>),
    /// Leave if in a session, then stop.
    Shutdown(oneshot::Sender<()>),
}

type Connecting = Pin<Box<dyn Future<Output = Result<Ws, String>> + Send>>;

pub(crate) struct Driver {
    engine: Engine,
    /// The contract checked on every event as it goes out.
    checker: ContractChecker,
    clock: Clock,
    requests: mpsc::UnboundedReceiver<Request>,
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
        clock: Clock,
        requests: mpsc::UnboundedReceiver<Request>,
        listeners: Arc<Listeners>,
    ) -> Self {
        Driver {
            checker: ContractChecker::with_connect_timeout(engine.settings().connect_timeout),
            engine,
            clock,
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
            // Just past the deadline: at it, the loss still has time.
            let overdue = self
                .checker
                .deadline()
                .map(|d| self.clock.instant(d + std::time::Duration::from_millis(1)));
            tokio::select! {
                req = self.requests.recv(), if self.shutdown.is_none() => match req {
                    Some(Request::Command(c)) => {
                        let (cmd, reply) = *c;
                        let result = self.engine.handle_command(cmd, self.clock.now());
                        if let Some(reply) = reply {
                            let _ = reply.send(result);
                        }
                    }
                    Some(Request::Subscribe(tx)) => {
                        let _ = tx.send(self.fanout.subscribe());
                    }
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
                    self.engine.handle_input(input, self.clock.now());
                }
                // An injected stall leaves what the server sends in the network.
                msg = async { self.ws.as_mut().expect("guarded by the branch condition").next().await },
                    if self.ws.is_some() && !self.engine.reading_paused() => {
                    self.on_message(msg);
                }
                _ = sleep_until(deadline), if deadline.is_some() => {
                    self.engine.handle_timeout(self.clock.now());
                }
                _ = sleep_until(overdue), if overdue.is_some() => {
                    let now = self.clock.elapsed();
                    if let Err(v) = self.checker.check_time(now) {
                        self.publish(SessionEvent::new(
                            self.clock.wall(now),
                            now,
                            EventKind::ContractViolation(v),
                        ));
                    }
                }
            }
        }
    }

    fn begin_shutdown(&mut self, done: oneshot::Sender<()>) {
        // Only a session to leave: a refusal would be an event nobody asked for.
        if matches!(
            self.engine.phase(),
            Phase::Connecting | Phase::Joined | Phase::Reconnecting
        ) {
            let _ = self.engine.handle_command(Command::Leave, self.clock.now());
        }
        self.shutdown = Some(done);
    }

    fn on_message(&mut self, msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>) {
        let now = self.clock.now();
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
                    Output::Abort => {
                        // Dropped, not closed: no close frame, the TCP
                        // connection just ends, as when a cable is cut.
                        send_failed = None;
                        self.connecting = None;
                        self.ws = None;
                    }
                    Output::Event(at, kind) => self.dispatch(at, kind),
                }
            }
            match send_failed {
                Some(reason) => self.engine.handle_input(
                    Input::TransportDown { code: None, reason },
                    self.clock.now(),
                ),
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

    fn dispatch(&mut self, at: Instant, kind: EventKind) {
        let offset = self.clock.offset(at);
        let event = SessionEvent::new(self.clock.wall(offset), offset, kind);
        let broken = self.checker.feed(&event.kind, event.offset);
        let (ts, offset) = (event.ts, event.offset);
        self.publish(event);
        for v in broken {
            self.publish(SessionEvent {
                ts,
                offset,
                kind: EventKind::ContractViolation(v),
            });
        }
    }

    fn publish(&mut self, event: SessionEvent) {
        match &event.kind {
            // Consumers report these; a warning here would say it all twice.
            EventKind::Error { message } => {
                tracing::debug!(target: "calltop::session", "{message}")
            }
            EventKind::Heartbeat { .. } => {}
            EventKind::ContractViolation(v) => tracing::debug!(target: "calltop::session", "{v}"),
            other => tracing::info!(target: "calltop::session", event = other.name()),
        }
        self.listeners.notify(&event.kind);
        self.fanout.send(&event);
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    //! The live check on the path every event takes out of the driver, fed
    //! a deliberately broken stream: calltop's engine never breaks the rules
    //! (the property tests say so), so only a hand-made producer can.

    use std::time::Duration;

    use super::*;
    use crate::engine::Rule;
    use crate::event::LeftReason;
    use crate::settings::SessionSettings;

    fn driver() -> (Driver, Subscription, mpsc::UnboundedSender<Request>) {
        let settings = SessionSettings::builder("ws://127.0.0.1:1/ws", "s", "me")
            .connect_timeout(Duration::from_secs(1))
            .build()
            .unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let mut d = Driver::new(
            Engine::new(settings, 1),
            Clock::start(),
            rx,
            Arc::new(Listeners::default()),
        );
        let sub = d.fanout.subscribe();
        (d, sub, tx)
    }

    fn drain(sub: &mut Subscription) -> Vec<EventKind> {
        std::iter::from_fn(|| sub.try_recv().ok().map(|e| e.kind)).collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_broken_stream_is_passed_on_whole_with_each_break_reported_after_it() {
        let (mut d, mut sub, _tx) = driver();
        let now = d.clock.now();
        for kind in [
            EventKind::Connecting { attempt: 1 },
            EventKind::SessionJoined { participants: 0 },
            EventKind::ConnectionRestored {
                resumed: true,
                downtime: Duration::ZERO,
                attempts: 1,
            },
            EventKind::SessionLeft {
                reason: LeftReason::User,
            },
            EventKind::SessionLeft {
                reason: LeftReason::User,
            },
        ] {
            d.dispatch(now, kind);
        }
        let got = drain(&mut sub);
        let names: Vec<&str> = got.iter().map(EventKind::name).collect();
        assert_eq!(
            names,
            [
                "connecting",
                "session_joined",
                "connection_restored",
                "contract_violation",
                "session_left",
                "session_left",
                "contract_violation"
            ]
        );
        let rules: Vec<Rule> = got
            .iter()
            .filter_map(|k| match k {
                EventKind::ContractViolation(v) => Some(v.rule),
                _ => None,
            })
            .collect();
        assert_eq!(rules, [Rule::RestoreFollowsLoss, Rule::OneTerminal]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_loss_left_unresolved_is_reported_when_its_time_runs_out() {
        let (mut d, mut sub, _tx) = driver();
        let now = d.clock.now();
        for kind in [
            EventKind::Connecting { attempt: 1 },
            EventKind::SessionJoined { participants: 0 },
            EventKind::ConnectionLost {
                reason: "cut".into(),
                injected: false,
            },
        ] {
            d.dispatch(now, kind);
        }
        drain(&mut sub);
        // The driver's own loop wakes for the checker's deadline; the paused
        // clock jumps there.
        tokio::spawn(d.run());
        let ev = tokio::time::timeout(Duration::from_secs(60), sub.recv())
            .await
            .expect("the time rule fired")
            .expect("an event");
        let EventKind::ContractViolation(v) = ev.kind else {
            panic!("{:?}", ev.kind)
        };
        assert_eq!(v.rule, Rule::LossResolvesInTime);
        assert_eq!(v.events[0].event, "connection_lost");
        // Reported past the grace after the loss, not before.
        assert!(ev.offset > Duration::from_secs(2), "{:?}", ev.offset);
    }
}

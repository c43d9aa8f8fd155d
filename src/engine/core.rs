//! The protocol logic of a call session as a pure state machine.
//!
//! No IO, no clock, no threads: every input comes with `now`, and after each
//! one the caller drains [`Engine::poll_output`] and sleeps until
//! [`Engine::poll_timeout`]. Reconnect, heartbeat, idle countdown and resume
//! all live here, so tests drive it on a virtual clock.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};

use super::fault::Fault;
use super::timers::{Timer, Timers};
use crate::backend::{self, Backend, ClientMsg, Decoded, Member, ServerMsg, excerpt};
use crate::event::{EventKind, LeftReason, ServerFacts};
use crate::settings::SessionSettings;

/// Outputs (and decoded messages) an idle engine keeps room for.
const KEPT_OUTPUTS: usize = 8;

/// Where the session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Not in a session: before the first join or after a terminal event.
    Idle,
    /// First join under way (including its retries).
    Connecting,
    /// In the session: the server acknowledged our join.
    Joined,
    /// Connection lost while joined; retrying.
    Reconnecting,
    /// `leave` sent, waiting for the server to acknowledge it.
    Leaving,
}

/// What the user asks for. In a `command_refused` line it is a string:
/// `join`, `leave`, `reconnect_now`, or `fault` and its words (`fault stall 10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(into = "String", try_from = "String")]
pub enum Command {
    /// Join the session (again, after a terminal event; during a leave, once
    /// the leave is done).
    Join,
    /// Leave the session (or give up the join attempt under way).
    Leave,
    /// While waiting to retry, try now instead of waiting out the backoff.
    ReconnectNow,
    /// Provoke a failure on purpose (refused when faults are off).
    Fault(Fault),
}

/// What a command is called in messages ("can't join: …").
impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Join => f.write_str("join"),
            Command::Leave => f.write_str("leave"),
            Command::ReconnectNow => f.write_str("reconnect now"),
            Command::Fault(fault) => write!(f, "fault {fault}"),
        }
    }
}

impl From<Command> for String {
    fn from(c: Command) -> String {
        match c {
            Command::ReconnectNow => "reconnect_now".into(),
            other => other.to_string(),
        }
    }
}

impl TryFrom<String> for Command {
    type Error = String;
    fn try_from(s: String) -> Result<Command, String> {
        match s.as_str() {
            "join" => Ok(Command::Join),
            "leave" => Ok(Command::Leave),
            "reconnect_now" => Ok(Command::ReconnectNow),
            other => match other.strip_prefix("fault ") {
                Some(words) => Fault::parse(words).map(Command::Fault),
                None => Err(format!("unknown command {other:?}")),
            },
        }
    }
}

/// A command that makes no sense now. Nothing changed. In a
/// `command_refused` line it is the snake_case variant name.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, thiserror::Error, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum CommandError {
    /// `join` while in the session or joining it (`already_active`).
    #[error("already in the session or joining it (leave first)")]
    AlreadyActive,
    /// `leave`, or a fault that needs a session, outside one (`not_in_session`).
    #[error("not in a session (join first)")]
    NotInSession,
    /// `leave`, or a fault that needs a session, while our leave is under way
    /// (`already_leaving`).
    #[error("already leaving the session")]
    AlreadyLeaving,
    /// `reconnect_now` with no retry waiting: not connecting or reconnecting
    /// (`not_reconnecting`).
    #[error("not reconnecting, so there is no attempt to hurry")]
    NotReconnecting,
    /// `reconnect_now` while an attempt is already under way
    /// (`attempt_in_flight`).
    #[error("a connection attempt is already under way")]
    AttemptInFlight,
    /// The session's task is gone (the [`crate::CallSession`] was shut down), so
    /// nothing can be carried out. Never in a `command_refused` line.
    #[error("the session engine has stopped")]
    EngineStopped,
    /// A fault while faults are off ([`crate::SessionSettings::faults`]:
    /// `faults_disabled`).
    #[error("fault injection is off here (--no-faults, or faults.enabled = false)")]
    FaultsDisabled,
    /// A drop or a stall with no connection to break (a stall needs us joined:
    /// `not_connected`).
    #[error("not connected, so there is no connection to break")]
    NotConnected,
    /// A stall while one is under way (`already_stalled`).
    #[error("the connection is already stalled")]
    AlreadyStalled,
    /// `forget-resume` when the server gave no resume token (`no_resume_token`).
    #[error("the server gave no resume token, so there is none to forget")]
    NoResumeToken,
    /// A fault whose value is outside [`Fault::RANGES`] (`fault_out_of_range`).
    #[error("out of range: {}", Fault::RANGES)]
    FaultOutOfRange,
}

/// What happened to the transport or came over it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// The transport asked for by the last [`Output::Connect`] is open.
    TransportUp,
    /// The current transport closed or failed.
    TransportDown {
        /// The WebSocket close code, if the peer sent one.
        code: Option<u16>,
        /// What happened, in words (with the close frame's reason, if any).
        reason: String,
    },
    /// A text frame arrived.
    Frame(String),
    /// A binary frame of this many bytes arrived (the protocols here are text).
    BinaryFrame(usize),
}

/// What the engine asks its driver to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Output {
    /// Open a new transport to the server, replacing any current one, asking
    /// for this WebSocket subprotocol if there is one.
    Connect {
        /// The WebSocket subprotocol to ask for ([`Backend::subprotocol`]).
        subprotocol: Option<&'static str>,
    },
    /// Send a text frame on the current transport.
    Send(String),
    /// Close the current transport.
    Disconnect,
    /// Drop the current transport at once, without a close frame (an
    /// injected fault: the peer sees the connection vanish).
    Abort,
    /// Report an event that happened at this instant.
    Event(Instant, EventKind),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    None,
    Opening,
    Up,
}

/// The protocol logic of one call session, sans-IO: feed it commands,
/// transport inputs and expired timers with the current time, then act on
/// [`Engine::poll_output`] and call [`Engine::handle_timeout`] at
/// [`Engine::poll_timeout`].
pub struct Engine {
    settings: SessionSettings,
    backend: Box<dyn Backend>,
    phase: Phase,
    transport: Transport,
    /// Attempt number within the current connect or reconnect run (1-based).
    attempt: u32,
    /// When the current `connection_lost` was reported.
    lost_at: Option<Instant>,
    last_error: Option<String>,
    resume_token: Option<String>,
    /// Our own id in the session, from the last `Joined`.
    own_id: Option<String>,
    /// The others, by id.
    participants: BTreeMap<String, Member>,
    /// What the server said about itself at the last join or restore.
    facts: Option<ServerFacts>,
    /// A join asked for while our leave was under way.
    join_queued: bool,
    /// The attempt in flight was started by `reconnect_now`, ahead of its schedule.
    hurried: bool,
    /// The participant list reached `max_participants` in this join.
    capped: bool,
    idle_running: bool,
    /// Injected faults in force (all cleared when a join ends).
    faults: Faults,
    ping_seq: u64,
    last_ping_sent: Option<(u64, Instant)>,
    timers: Timers,
    rng: SmallRng,
    out: VecDeque<Output>,
    scratch: Decoded,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("phase", &self.phase)
            .field("transport", &self.transport)
            .field("attempt", &self.attempt)
            .field("participants", &self.participants.len())
            .finish_non_exhaustive()
    }
}

impl Engine {
    /// `seed` drives the reconnect jitter, so a test can replay a schedule.
    pub fn new(settings: SessionSettings, seed: u64) -> Engine {
        let backend = backend::build(&settings);
        Engine::with_backend(settings, backend, seed)
    }

    /// Panics if `settings` do not pass [`SessionSettings::validate`] (fields
    /// changed by hand after `build()`): a zero heartbeat interval or a
    /// timer beyond `Instant`'s range would break the engine's timing.
    pub fn with_backend(settings: SessionSettings, backend: Box<dyn Backend>, seed: u64) -> Engine {
        if let Err(e) = settings.validate() {
            panic!("Engine needs valid SessionSettings: {e}");
        }
        Engine {
            settings,
            backend,
            phase: Phase::Idle,
            transport: Transport::None,
            attempt: 0,
            lost_at: None,
            last_error: None,
            resume_token: None,
            own_id: None,
            participants: BTreeMap::new(),
            facts: None,
            join_queued: false,
            hurried: false,
            capped: false,
            idle_running: false,
            faults: Faults::default(),
            ping_seq: 0,
            last_ping_sent: None,
            timers: Timers::default(),
            rng: SmallRng::seed_from_u64(seed),
            out: VecDeque::new(),
            scratch: Decoded::default(),
        }
    }

    /// Where the session stands now.
    pub fn phase(&self) -> Phase {
        self.phase
    }

    /// The settings the engine runs with.
    pub fn settings(&self) -> &SessionSettings {
        &self.settings
    }

    /// The other participants, by id.
    pub fn participants(&self) -> &BTreeMap<String, Member> {
        &self.participants
    }

    /// The next output to act on, in order.
    pub fn poll_output(&mut self) -> Option<Output> {
        let next = self.out.pop_front();
        if next.is_none() && self.out.capacity() > KEPT_OUTPUTS {
            // A burst (a big roster) leaves room for hundreds of outputs;
            // thousands of idle sessions in one process would each keep it.
            self.out.shrink_to(KEPT_OUTPUTS);
            self.scratch.msgs.shrink_to(KEPT_OUTPUTS);
            self.scratch.replies.shrink_to(KEPT_OUTPUTS);
        }
        next
    }

    /// When [`Engine::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Carries out a command. A refusal is also reported as a
    /// `command_refused` event, so whoever reads only the events knows.
    pub fn handle_command(&mut self, cmd: Command, now: Instant) -> Result<(), CommandError> {
        let result = self.command(cmd, now);
        if let Err(reason) = result {
            self.emit(
                now,
                EventKind::CommandRefused {
                    command: cmd,
                    reason,
                },
            );
        }
        result
    }

    fn command(&mut self, cmd: Command, now: Instant) -> Result<(), CommandError> {
        match (cmd, self.phase) {
            (Command::Fault(fault), _) => self.inject(fault, now),
            (Command::Join, Phase::Idle) => {
                self.start_join(now);
                Ok(())
            }
            (Command::Join, Phase::Leaving) => {
                // Leave, then join at once: carried out when the leave is done.
                if !self.join_queued {
                    self.join_queued = true;
                    self.emit(now, EventKind::Leaving { rejoin: true });
                }
                Ok(())
            }
            (Command::Join, _) => Err(CommandError::AlreadyActive),
            (Command::Leave, Phase::Idle) => Err(CommandError::NotInSession),
            (Command::Leave, Phase::Leaving) if self.join_queued => {
                // Changed their mind again: just the leave.
                self.join_queued = false;
                self.emit(now, EventKind::Leaving { rejoin: false });
                Ok(())
            }
            (Command::Leave, Phase::Leaving) => Err(CommandError::AlreadyLeaving),
            (Command::Leave, Phase::Joined) => {
                // Leaving is what the user wants now: a stall would only
                // hide the server's answer.
                self.stall_over_with_transport();
                self.send(ClientMsg::Leave);
                self.phase = Phase::Leaving;
                for t in [Timer::HeartbeatSend, Timer::HeartbeatTimeout, Timer::Idle] {
                    self.timers.stop(t);
                }
                self.timers
                    .set(Timer::LeaveAck, now + self.settings.leave_timeout);
                self.emit(now, EventKind::Leaving { rejoin: false });
                Ok(())
            }
            (Command::Leave, Phase::Connecting | Phase::Reconnecting) => {
                if self.transport == Transport::Up {
                    // Mid-handshake the server may already hold our slot; tell it.
                    self.send(ClientMsg::Leave);
                }
                self.terminate(
                    now,
                    EventKind::SessionLeft {
                        reason: LeftReason::User,
                    },
                );
                Ok(())
            }
            (Command::ReconnectNow, Phase::Connecting | Phase::Reconnecting) => {
                if self.timers.is_set(Timer::Retry) {
                    self.timers.stop(Timer::Retry);
                    self.hurried = true;
                    // The schedule said later; the events must say now.
                    self.emit(
                        now,
                        EventKind::ReconnectAttempt {
                            attempt: self.attempt,
                            max: self.settings.reconnect.max_attempts,
                            delay: Duration::ZERO,
                            last_error: None,
                        },
                    );
                    self.start_attempt(now);
                    Ok(())
                } else {
                    Err(CommandError::AttemptInFlight)
                }
            }
            (Command::ReconnectNow, _) => Err(CommandError::NotReconnecting),
        }
    }

    fn start_join(&mut self, now: Instant) {
        self.faults = Faults::default();
        self.participants.clear();
        self.capped = false;
        self.resume_token = None;
        self.own_id = None;
        self.lost_at = None;
        self.last_error = None;
        self.attempt = 1;
        self.hurried = false;
        self.phase = Phase::Connecting;
        self.start_attempt(now);
    }

    /// Acts on something that happened to the transport or came over it at
    /// `now`; inputs about a transport the engine no longer asked for are
    /// ignored.
    pub fn handle_input(&mut self, input: Input, now: Instant) {
        match input {
            Input::TransportUp => {
                if self.transport != Transport::Opening {
                    return; // a transport we no longer asked for
                }
                self.transport = Transport::Up;
                self.backend.transport_up();
                let resume = match self.phase {
                    Phase::Reconnecting => self.resume_token.clone(),
                    _ => None,
                };
                self.send(ClientMsg::Join { resume });
            }
            Input::TransportDown { code, reason } => {
                if self.transport == Transport::None {
                    return;
                }
                self.transport = Transport::None;
                if let Some(msg) = self.backend.on_close(code, &reason) {
                    self.on_server_msg(msg, now);
                    if self.phase == Phase::Idle {
                        return;
                    }
                }
                let reason = match code {
                    Some(c) => format!("{reason} (close code {c})"),
                    None => reason,
                };
                self.on_transport_failure(reason, now);
            }
            Input::Frame(_) | Input::BinaryFrame(_)
                if self.transport == Transport::Up && self.faults.stall.is_some() =>
            {
                // The driver stops reading during a stall; what it read
                // anyway waits, as it would in the network, until the end.
                self.faults.held.push_back(input);
            }
            Input::Frame(frame) => {
                if self.transport != Transport::Up {
                    return;
                }
                // Anything at all from the server proves it is alive.
                self.timers.stop(Timer::HeartbeatTimeout);
                if frame.len() > self.settings.max_frame_bytes {
                    self.error(
                        now,
                        format!(
                            "ignored a {}-byte frame: over the {}-byte limit",
                            frame.len(),
                            self.settings.max_frame_bytes
                        ),
                    );
                    return;
                }
                let mut decoded = std::mem::take(&mut self.scratch);
                match self.backend.decode(&frame, &mut decoded) {
                    Ok(()) => {
                        for reply in decoded.replies.drain(..) {
                            self.out.push_back(Output::Send(reply));
                        }
                        for msg in decoded.msgs.drain(..) {
                            // A terminal message ends the attempt; the rest of this
                            // frame belongs to a session we are no longer in.
                            if self.phase == Phase::Idle {
                                break;
                            }
                            self.on_server_msg(msg, now);
                        }
                    }
                    Err(e) => self.error(now, format!("ignored a frame from the server: {e}")),
                }
                decoded.msgs.clear();
                decoded.replies.clear();
                self.scratch = decoded;
            }
            Input::BinaryFrame(len) => {
                if self.transport == Transport::Up {
                    self.timers.stop(Timer::HeartbeatTimeout);
                    self.error(
                        now,
                        format!(
                            "ignored a frame from the server: {}",
                            backend::ProtocolError::Binary(len)
                        ),
                    );
                }
            }
        }
    }

    /// Acts on every timer that has expired by `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(t) = self.timers.take_expired(now) {
            match t {
                Timer::Attempt => {
                    let secs = self.settings.connect_timeout.as_secs_f64();
                    self.on_transport_failure(
                        format!("no answer within the {secs:.1} s connect timeout"),
                        now,
                    );
                }
                Timer::Retry => self.start_attempt(now),
                Timer::HeartbeatSend => {
                    if self.phase == Phase::Joined && self.transport == Transport::Up {
                        self.ping_seq += 1;
                        self.heartbeat(self.ping_seq, now);
                    }
                }
                Timer::HeartbeatTimeout => {
                    if self.phase == Phase::Joined {
                        let ms = self.settings.heartbeat_timeout.as_millis();
                        let mut reason = format!("heartbeat unanswered for {ms} ms");
                        let stalled = self.faults.stall.is_some();
                        if stalled {
                            reason.push_str(" (injected stall)");
                        }
                        self.lose_connection(reason, stalled, now);
                    }
                }
                Timer::StallEnd => self.end_stall(now),
                Timer::Idle => {
                    // Mid-reconnect the server may already have us back in our
                    // slot: tell it we are going, or others see us for its resume window.
                    if self.transport == Transport::Up {
                        self.send(ClientMsg::Leave);
                    }
                    let idle_timeout = self.idle_timeout();
                    self.terminate(now, EventKind::SessionTimedOut { idle_timeout });
                }
                Timer::LeaveAck => {
                    if self.phase == Phase::Leaving {
                        self.terminate(
                            now,
                            EventKind::SessionLeft {
                                reason: LeftReason::User,
                            },
                        );
                    }
                }
            }
            if self.phase == Phase::Idle {
                break;
            }
        }
    }

    fn send(&mut self, msg: ClientMsg) {
        let mut frames = Vec::new();
        self.backend.encode(msg, &mut frames);
        self.out.extend(frames.into_iter().map(Output::Send));
    }

    fn emit(&mut self, now: Instant, kind: EventKind) {
        self.out.push_back(Output::Event(now, kind));
    }

    fn error(&mut self, now: Instant, message: String) {
        self.emit(now, EventKind::Error { message });
    }

    fn start_attempt(&mut self, now: Instant) {
        if self.phase == Phase::Connecting {
            self.emit(
                now,
                EventKind::Connecting {
                    attempt: self.attempt,
                },
            );
        }
        if let Some(r) = &mut self.faults.refuse {
            // Refused before it reaches the network, as a closed port would.
            r.left -= 1;
            let (left, total) = (r.left, r.total);
            if left == 0 {
                self.faults.refuse = None;
                self.emit(
                    now,
                    EventKind::FaultEnded {
                        fault: Fault::Refuse { attempts: total },
                    },
                );
            }
            let reason = match left {
                0 => "attempt refused on purpose (injected fault, the last one)".to_owned(),
                n => format!("attempt refused on purpose (injected fault, {n} more to refuse)"),
            };
            self.on_transport_failure(reason, now);
            return;
        }
        self.transport = Transport::Opening;
        let subprotocol = self.backend.subprotocol();
        self.out.push_back(Output::Connect { subprotocol });
        self.timers
            .set(Timer::Attempt, now + self.settings.connect_timeout);
    }

    fn drop_transport(&mut self) {
        if self.transport != Transport::None {
            self.transport = Transport::None;
            self.out.push_back(Output::Disconnect);
        }
        self.stall_over_with_transport();
    }

    /// The transport failed, or an attempt did not get through in time.
    fn on_transport_failure(&mut self, reason: String, now: Instant) {
        self.transport_failed(reason, false, now);
    }

    /// `injected`: we failed it on purpose (a loss it causes says so).
    fn transport_failed(&mut self, reason: String, injected: bool, now: Instant) {
        match self.phase {
            Phase::Connecting | Phase::Reconnecting => {
                if self.transport == Transport::Up {
                    let mut frames = Vec::new();
                    self.backend.attempt_abandoned(&mut frames);
                    self.out.extend(frames.into_iter().map(Output::Send));
                }
                self.drop_transport();
                self.timers.stop(Timer::Attempt);
                self.last_error = Some(reason);
                self.schedule_next_attempt(now);
            }
            Phase::Joined => self.lose_connection(reason, injected, now),
            // The leave may not have reached the server; it drops our slot
            // when its resume window runs out, so we are out either way.
            Phase::Leaving => self.terminate(
                now,
                EventKind::SessionLeft {
                    reason: LeftReason::User,
                },
            ),
            Phase::Idle => {}
        }
    }

    fn lose_connection(&mut self, reason: String, injected: bool, now: Instant) {
        debug_assert_eq!(self.phase, Phase::Joined);
        self.drop_transport();
        self.timers.stop(Timer::HeartbeatSend);
        self.timers.stop(Timer::HeartbeatTimeout);
        self.phase = Phase::Reconnecting;
        self.lost_at = Some(now);
        self.attempt = 0;
        self.hurried = false;
        self.last_error = Some(reason.clone());
        self.emit(now, EventKind::ConnectionLost { reason, injected });
        self.schedule_next_attempt(now);
    }

    fn schedule_next_attempt(&mut self, now: Instant) {
        let policy = self.settings.reconnect;
        // An attempt the user hurried does not count against the budget: if
        // it fails, the attempt it stood in for is due again on its schedule
        // (pressing `r` ten times must not spend ten attempts in a second).
        let hurried = std::mem::take(&mut self.hurried);
        if !hurried && self.attempt >= policy.max_attempts {
            let last = self
                .last_error
                .clone()
                .unwrap_or_else(|| "unknown error".into());
            let reason = if self.phase == Phase::Connecting {
                format!(
                    "server unreachable at {} after {} attempts; last error: {last}",
                    self.settings.server, self.attempt
                )
            } else {
                format!(
                    "gave up reconnecting after {} attempts; last error: {last}",
                    self.attempt
                )
            };
            self.terminate(now, EventKind::ConnectionClosed { reason });
            return;
        }
        if !hurried {
            self.attempt += 1;
        }
        let delay = policy.delay(self.attempt, self.rng.random::<f64>());
        self.emit(
            now,
            EventKind::ReconnectAttempt {
                attempt: self.attempt,
                max: policy.max_attempts,
                delay,
                last_error: self.last_error.clone(),
            },
        );
        if delay.is_zero() {
            self.start_attempt(now);
        } else {
            self.timers.set(Timer::Retry, now + delay);
        }
    }

    /// Ends the join attempt with its one terminal event.
    fn terminate(&mut self, now: Instant, kind: EventKind) {
        assert!(kind.is_terminal(), "terminate() called with {kind:?}");
        assert_ne!(self.phase, Phase::Idle, "a second terminal event: {kind:?}");
        self.drop_transport();
        self.timers.stop_all();
        self.phase = Phase::Idle;
        self.idle_running = false;
        self.faults = Faults::default();
        self.participants.clear();
        self.resume_token = None;
        self.own_id = None;
        self.facts = None;
        self.lost_at = None;
        self.last_ping_sent = None;
        // A join asked for during our leave follows that leave, and only it
        // (removed or ended meanwhile, the user should decide again).
        let rejoin = std::mem::take(&mut self.join_queued)
            && kind
                == EventKind::SessionLeft {
                    reason: LeftReason::User,
                };
        self.emit(now, kind);
        if rejoin {
            self.start_join(now);
        }
    }

    fn on_server_msg(&mut self, msg: ServerMsg, now: Instant) {
        match msg {
            ServerMsg::Joined {
                resumed,
                resume_token,
                own_id,
                participants,
                facts,
            } => self.on_joined(resumed, resume_token, own_id, participants, facts, now),
            ServerMsg::ParticipantJoined(m) => {
                if !self.roster_may_change(now, "participant_joined", &m.id) {
                    return;
                }
                if self.own_id.as_deref() == Some(m.id.as_str()) {
                    return self.error(
                        now,
                        "server announced our own join as a participant; ignored".into(),
                    );
                }
                if self.participants.contains_key(&m.id) {
                    return self.error(
                        now,
                        format!(
                            "server announced {} again, who is already here; ignored",
                            excerpt(&m.id)
                        ),
                    );
                }
                if !self.acceptable(&m, now) {
                    return;
                }
                self.add_participant(m, now);
                self.update_idle(now);
            }
            ServerMsg::ParticipantLeft { id } => {
                if !self.roster_may_change(now, "participant_left", &id) {
                    return;
                }
                if !self.participants.contains_key(&id) {
                    return self.error(
                        now,
                        format!(
                            "server said {} left, who was not here; ignored",
                            excerpt(&id)
                        ),
                    );
                }
                self.remove_participant(&id, now);
                self.update_idle(now);
            }
            ServerMsg::ParticipantRenamed { id, display } => {
                if !self.roster_may_change(now, "participant rename", &id) {
                    return;
                }
                if !self.participants.contains_key(&id) {
                    return self.error(
                        now,
                        format!("server renamed {}, who is not here; ignored", excerpt(&id)),
                    );
                }
                let renamed = Member {
                    id,
                    display,
                    joined_at: None,
                };
                if !self.acceptable(&renamed, now) {
                    return;
                }
                self.rename_participant(renamed.id, renamed.display, now);
            }
            ServerMsg::Roster(members) => {
                if !self.roster_may_change(now, "participant list", "") {
                    return;
                }
                let fresh = self.distinct(members, now);
                self.sync_roster(fresh, now);
                self.update_idle(now);
            }
            ServerMsg::SessionLost { reason } => {
                if matches!(self.phase, Phase::Idle) {
                    return;
                }
                self.on_transport_failure(reason, now);
            }
            ServerMsg::Pong { seq } => {
                if let Some((sent_seq, sent_at)) = self.last_ping_sent
                    && sent_seq == seq
                {
                    self.last_ping_sent = None;
                    self.emit(now, EventKind::Heartbeat { rtt: now - sent_at });
                }
            }
            ServerMsg::Left => {
                if self.phase == Phase::Leaving {
                    self.terminate(
                        now,
                        EventKind::SessionLeft {
                            reason: LeftReason::User,
                        },
                    );
                } else {
                    self.unexpected(now, "left", "");
                }
            }
            ServerMsg::Removed | ServerMsg::Ended | ServerMsg::Replaced => {
                let reason = match msg {
                    ServerMsg::Removed => LeftReason::Removed,
                    ServerMsg::Ended => LeftReason::Ended,
                    _ => LeftReason::Replaced,
                };
                if self.phase == Phase::Idle {
                    return;
                }
                self.terminate(now, EventKind::SessionLeft { reason });
            }
            ServerMsg::Refused {
                reason,
                fatal: true,
            } => {
                if self.phase == Phase::Leaving {
                    self.terminate(
                        now,
                        EventKind::SessionLeft {
                            reason: LeftReason::User,
                        },
                    );
                } else {
                    self.terminate(now, EventKind::ConnectionClosed { reason });
                }
            }
            ServerMsg::Refused {
                reason,
                fatal: false,
            } => {
                self.on_transport_failure(format!("server refused: {reason}"), now);
            }
            ServerMsg::Notice { message } => self.error(now, message),
        }
    }

    /// Whether news about the others applies now. While our leave is under
    /// way it is expected (a room often leaves together) and not worth an
    /// error; before the join is acknowledged or after the session it is one.
    fn roster_may_change(&mut self, now: Instant, what: &str, detail: &str) -> bool {
        match self.phase {
            Phase::Joined => true,
            Phase::Leaving => false,
            _ => {
                self.unexpected(now, what, detail);
                false
            }
        }
    }

    fn unexpected(&mut self, now: Instant, what: &str, detail: &str) {
        let phase = match self.phase {
            Phase::Idle => "not in a session",
            Phase::Connecting | Phase::Reconnecting => "before the server acknowledged our join",
            Phase::Joined => "while joined",
            Phase::Leaving => "while leaving",
        };
        let detail = if detail.is_empty() {
            String::new()
        } else {
            format!(" ({})", excerpt(detail))
        };
        self.error(now, format!("ignored an unexpected {what}{detail} {phase}"));
    }

    fn on_joined(
        &mut self,
        resumed: bool,
        token: Option<String>,
        own_id: String,
        members: Vec<Member>,
        facts: ServerFacts,
        now: Instant,
    ) {
        let was = self.phase;
        if !matches!(was, Phase::Connecting | Phase::Reconnecting) {
            return self.unexpected(now, "joined", "");
        }
        self.timers.stop(Timer::Attempt);
        self.phase = Phase::Joined;
        self.resume_token = token;
        self.own_id = Some(own_id);
        let others = self.distinct(members, now);
        if was == Phase::Connecting {
            self.emit(
                now,
                EventKind::SessionJoined {
                    participants: others.len(),
                },
            );
        } else {
            let lost_at = self
                .lost_at
                .take()
                .expect("reconnecting always has a loss time");
            self.emit(
                now,
                EventKind::ConnectionRestored {
                    resumed,
                    downtime: now - lost_at,
                    attempts: self.attempt,
                },
            );
        }
        // Once per join, then only when it changes (a full rejoin is a new
        // server session): the same facts after every blip would be noise.
        if self.facts.as_ref() != Some(&facts) {
            self.facts = Some(facts.clone());
            self.emit(now, EventKind::ServerInfo(facts));
        }
        // Whatever changed while we were away, reported as joins, leaves and
        // renames, so a consumer that follows the events has the server's list.
        self.sync_roster(others, now);
        self.attempt = 0;
        self.hurried = false;
        self.last_error = None;
        self.last_ping_sent = None;
        self.timers
            .set(Timer::HeartbeatSend, now + self.settings.heartbeat_interval);
        self.update_idle(now);
    }

    /// Makes our list the server's, reporting each difference.
    /// The others in a list from the server: us left out, each id once.
    fn distinct(&mut self, members: Vec<Member>, now: Instant) -> BTreeMap<String, Member> {
        let mut fresh: BTreeMap<String, Member> = BTreeMap::new();
        for m in members {
            if self.own_id.as_deref() == Some(m.id.as_str()) {
                continue;
            }
            if fresh.contains_key(&m.id) {
                self.error(
                    now,
                    format!("server listed {} twice; counted once", excerpt(&m.id)),
                );
                continue;
            }
            if !self.acceptable(&m, now) {
                continue;
            }
            fresh.insert(m.id.clone(), m);
        }
        fresh
    }

    fn sync_roster(&mut self, fresh: BTreeMap<String, Member>, now: Instant) {
        let gone: Vec<String> = self
            .participants
            .keys()
            .filter(|id| !fresh.contains_key(*id))
            .cloned()
            .collect();
        for id in gone {
            self.remove_participant(&id, now);
        }
        for (id, m) in fresh {
            if self.participants.contains_key(&id) {
                self.rename_participant(id, m.display, now);
            } else {
                self.add_participant(m, now);
            }
        }
    }

    /// A known participant's new name; nothing is reported if it is the old one.
    fn rename_participant(&mut self, id: String, display: String, now: Instant) {
        let known = self
            .participants
            .get_mut(&id)
            .expect("callers check the participant is here");
        if known.display != display {
            let previous = std::mem::replace(&mut known.display, display.clone());
            self.emit(
                now,
                EventKind::ParticipantRenamed {
                    id,
                    user: display,
                    previous,
                },
            );
        }
    }

    /// A participant the protocol allows; the others are reported and left out.
    fn acceptable(&mut self, m: &Member, now: Instant) -> bool {
        match self.backend.check_member(m) {
            Ok(()) => true,
            Err(why) => {
                self.error(
                    now,
                    format!("ignored participant {}: {why}", excerpt(&m.id)),
                );
                false
            }
        }
    }

    fn add_participant(&mut self, m: Member, now: Instant) {
        let cap = self.settings.max_participants;
        if self.participants.len() >= cap {
            // Said once per join: past the cap the list stops growing.
            if !self.capped {
                self.capped = true;
                self.error(
                    now,
                    format!(
                        "more than {cap} participants: calltop follows the first {cap} \
                         (session.max_participants)"
                    ),
                );
            }
            return;
        }
        self.emit(
            now,
            EventKind::ParticipantJoined {
                id: m.id.clone(),
                user: m.display.clone(),
                joined_at: m.joined_at,
            },
        );
        self.participants.insert(m.id.clone(), m);
    }

    fn remove_participant(&mut self, id: &str, now: Instant) {
        if let Some(m) = self.participants.remove(id) {
            self.emit(
                now,
                EventKind::ParticipantLeft {
                    id: m.id,
                    user: m.display,
                },
            );
        }
    }

    /// Starts the idle countdown when we become alone, stops it when we are not.
    fn update_idle(&mut self, now: Instant) {
        let timeout = self.idle_timeout();
        let alone = self.participants.is_empty();
        let should_run = !timeout.is_zero()
            && alone
            && matches!(self.phase, Phase::Joined | Phase::Reconnecting);
        if should_run && !self.idle_running {
            let deadline = now + timeout;
            self.idle_running = true;
            self.timers.set(Timer::Idle, deadline);
            self.emit(now, EventKind::IdleCountdownStarted { timeout });
        } else if !should_run && self.idle_running {
            self.idle_running = false;
            self.timers.stop(Timer::Idle);
            self.emit(now, EventKind::IdleCountdownCancelled);
        }
    }

    /// When the idle countdown ends, if it runs.
    pub fn idle_deadline(&self) -> Option<Instant> {
        self.timers.get(Timer::Idle)
    }

    /// The idle timeout in force: the setting, or an injected one.
    pub fn idle_timeout(&self) -> Duration {
        self.faults.idle.unwrap_or(self.settings.idle_timeout)
    }

    /// An injected stall is under way: the driver must not read the socket
    /// (what the server sends waits in the network, as in a real stall).
    pub fn reading_paused(&self) -> bool {
        self.faults.stall.is_some()
    }

    fn inject(&mut self, fault: Fault, now: Instant) -> Result<(), CommandError> {
        if !self.settings.faults {
            return Err(CommandError::FaultsDisabled);
        }
        if !fault.in_range() {
            return Err(CommandError::FaultOutOfRange);
        }
        let in_session = matches!(
            self.phase,
            Phase::Connecting | Phase::Joined | Phase::Reconnecting
        );
        match fault {
            Fault::Drop | Fault::Stall { .. } if self.transport != Transport::Up => {
                return Err(match self.phase {
                    Phase::Idle => CommandError::NotInSession,
                    _ => CommandError::NotConnected,
                });
            }
            Fault::Stall { .. } if self.phase != Phase::Joined => {
                return Err(CommandError::NotConnected);
            }
            Fault::Stall { .. } if self.faults.stall.is_some() => {
                return Err(CommandError::AlreadyStalled);
            }
            Fault::ForgetResume | Fault::Refuse { .. } | Fault::Idle { .. } if !in_session => {
                return Err(match self.phase {
                    Phase::Leaving => CommandError::AlreadyLeaving,
                    _ => CommandError::NotInSession,
                });
            }
            Fault::ForgetResume if self.resume_token.is_none() => {
                return Err(CommandError::NoResumeToken);
            }
            _ => {}
        }
        self.emit(now, EventKind::FaultInjected { fault });
        match fault {
            Fault::Drop => {
                self.transport = Transport::None;
                self.stall_over_with_transport();
                self.out.push_back(Output::Abort);
                self.transport_failed(
                    "connection dropped on purpose (injected fault)".into(),
                    true,
                    now,
                );
            }
            Fault::Stall { duration } => {
                self.faults.stall = Some(duration);
                self.timers.set(Timer::StallEnd, now + duration);
                // Nothing arrives from now on: a heartbeat timeout must be
                // able to fire even if no ping was out when the stall began.
                if !self.timers.is_set(Timer::HeartbeatTimeout) {
                    let due = self
                        .timers
                        .get(Timer::HeartbeatSend)
                        .unwrap_or(now)
                        .max(now);
                    self.timers.set(
                        Timer::HeartbeatTimeout,
                        due + self.settings.heartbeat_timeout,
                    );
                }
            }
            Fault::ForgetResume => self.resume_token = None,
            Fault::Refuse { attempts } => {
                self.faults.refuse = Some(Refusals {
                    total: attempts,
                    left: attempts,
                })
            }
            Fault::Idle { timeout } => {
                self.faults.idle = Some(timeout);
                // A countdown under way starts again with the new timeout;
                // said as a cancel and a start, so every start has its end.
                if self.idle_running {
                    self.idle_running = false;
                    self.timers.stop(Timer::Idle);
                    self.emit(now, EventKind::IdleCountdownCancelled);
                }
                self.update_idle(now);
            }
        }
        Ok(())
    }

    /// Heartbeat `seq` goes out now (during a stall it is held, and goes out
    /// when the stall ends, as TCP would send it late): timed, its timeout
    /// armed unless one already runs, the next one due an interval on.
    fn heartbeat(&mut self, seq: u64, now: Instant) {
        self.last_ping_sent = Some((seq, now));
        if self.faults.stall.is_some() {
            self.faults.ping_held = true;
        } else {
            self.send(ClientMsg::Ping { seq });
        }
        if !self.timers.is_set(Timer::HeartbeatTimeout) {
            self.timers.set(
                Timer::HeartbeatTimeout,
                now + self.settings.heartbeat_timeout,
            );
        }
        self.timers
            .set(Timer::HeartbeatSend, now + self.settings.heartbeat_interval);
    }

    /// The stall's time is up and the connection lived through it.
    fn end_stall(&mut self, now: Instant) {
        let Some(duration) = self.faults.stall.take() else {
            return;
        };
        self.emit(
            now,
            EventKind::FaultEnded {
                fault: Fault::Stall { duration },
            },
        );
        if std::mem::take(&mut self.faults.ping_held)
            && self.transport == Transport::Up
            && let Some((seq, _)) = self.last_ping_sent
        {
            // Timed from now: the stall is ours, not the network's round trip.
            self.heartbeat(seq, now);
        }
        for input in std::mem::take(&mut self.faults.held) {
            self.handle_input(input, now);
        }
    }

    /// A stall belongs to one connection: when it goes (or we leave), so
    /// does the stall, without a `fault_ended` (the loss or the leave says it).
    fn stall_over_with_transport(&mut self) {
        if self.faults.stall.take().is_some() {
            self.faults.ping_held = false;
            self.faults.held.clear();
            self.timers.stop(Timer::StallEnd);
        }
    }
}

/// Faults in force in the current join.
#[derive(Debug, Default, Clone)]
struct Faults {
    /// A stall of this length is under way.
    stall: Option<Duration>,
    /// A heartbeat fell into the stall and goes out when it ends.
    ping_held: bool,
    /// What arrived during the stall, read when it ends.
    held: VecDeque<Input>,
    refuse: Option<Refusals>,
    idle: Option<Duration>,
}

#[derive(Debug, Clone, Copy)]
struct Refusals {
    total: u32,
    left: u32,
}

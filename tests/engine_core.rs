//! The session engine driven the way a driver and a fake calltop server would
//! drive it, on a virtual clock (an `Instant` base plus durations; nothing
//! sleeps): scenario tests with exact event sequences, bad input, and random
//! schedules checked against the ordering invariants (docs/EVENTS.md, "Ordering rules").
//!
//! Every action goes through [`Harness`], which plays the driver: it opens and
//! closes a simulated transport as the engine asks, refuses to let the engine
//! send on a transport that is not open, feeds every event through
//! [`ContractChecker`], and after each action cross-checks the engine's state
//! against what its events told a consumer.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use calltop::backoff::ReconnectPolicy;
use calltop::engine::{
    Command, CommandError, ContractChecker, Engine, Fault, Input, Output, Phase,
};
use calltop::event::{EventKind, LeftReason, ServerFacts};
use calltop::protocol::{ClientFrame, ErrorCode, PROTOCOL_VERSION, Participant, ServerFrame};
use calltop::settings::{SessionSettings, SessionSettingsBuilder};
use proptest::prelude::*;

const SERVER: &str = "ws://127.0.0.1:9/ws";
const ME: &str = "alice";
const RESUME_TOKEN: &str = "resume-token-1";

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn builder() -> SessionSettingsBuilder {
    SessionSettings::builder(SERVER, "demo", ME)
}

fn defaults() -> SessionSettings {
    builder().build().expect("the default settings are valid")
}

fn with_attempts(max_attempts: u32) -> SessionSettings {
    builder()
        .reconnect(ReconnectPolicy {
            max_attempts,
            ..ReconnectPolicy::default()
        })
        .build()
        .expect("valid settings")
}

// ---------------------------------------------------------------------------
// The fake server's frames
// ---------------------------------------------------------------------------

fn members(users: &[&str]) -> Vec<Participant> {
    users
        .iter()
        .map(|u| Participant {
            user: (*u).to_owned(),
            joined_at: "2026-11-25T04:30:00.000Z".to_owned(),
        })
        .collect()
}

fn joined_v(v: u32, resumed: bool, others: &[&str]) -> ServerFrame {
    ServerFrame::Joined {
        v,
        session: "demo".into(),
        user: ME.into(),
        resumed,
        resume_token: RESUME_TOKEN.into(),
        resume_window_ms: 30_000,
        participants: members(others),
    }
}

fn joined(resumed: bool, others: &[&str]) -> ServerFrame {
    joined_v(PROTOCOL_VERSION, resumed, others)
}

fn pj(user: &str) -> ServerFrame {
    ServerFrame::ParticipantJoined {
        user: user.into(),
        joined_at: "2026-11-25T04:31:00.000Z".into(),
    }
}

fn pl(user: &str) -> ServerFrame {
    ServerFrame::ParticipantLeft { user: user.into() }
}

fn error_frame(code: ErrorCode) -> ServerFrame {
    ServerFrame::Error {
        code,
        message: "test refusal".into(),
    }
}

/// A valid `participant_joined` frame for `user`, padded (inside `joined_at`,
/// which then does not parse as a time) to exactly `len` bytes.
fn padded_participant_joined(user: &str, len: usize) -> String {
    let bare = serde_json::to_string(&ServerFrame::ParticipantJoined {
        user: user.into(),
        joined_at: String::new(),
    })
    .unwrap();
    assert!(len >= bare.len());
    let frame = serde_json::to_string(&ServerFrame::ParticipantJoined {
        user: user.into(),
        joined_at: "x".repeat(len - bare.len()),
    })
    .unwrap();
    assert_eq!(frame.len(), len);
    frame
}

// ---------------------------------------------------------------------------
// Reading outputs
// ---------------------------------------------------------------------------

fn names(outs: &[Output]) -> Vec<&'static str> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(_, k) => Some(k.name()),
            _ => None,
        })
        .collect()
}

fn events(outs: &[Output]) -> Vec<EventKind> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(_, k) => Some(k.clone()),
            _ => None,
        })
        .collect()
}

fn sent(outs: &[Output]) -> Vec<ClientFrame> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Send(text) => Some(serde_json::from_str(text).unwrap()),
            _ => None,
        })
        .collect()
}

fn connects(outs: &[Output]) -> usize {
    outs.iter()
        .filter(|o| matches!(o, Output::Connect { .. }))
        .count()
}

fn disconnects(outs: &[Output]) -> usize {
    outs.iter()
        .filter(|o| matches!(o, Output::Disconnect))
        .count()
}

fn pings(outs: &[Output]) -> Vec<u64> {
    sent(outs)
        .into_iter()
        .filter_map(|f| match f {
            ClientFrame::Ping { seq } => Some(seq),
            _ => None,
        })
        .collect()
}

fn without_heartbeats(outs: &[Output]) -> Vec<&'static str> {
    names(outs)
        .into_iter()
        .filter(|n| *n != "heartbeat")
        .collect()
}

fn only_event(outs: &[Output]) -> EventKind {
    let evs = events(outs);
    assert_eq!(evs.len(), 1, "expected exactly one event, got {evs:?}");
    evs.into_iter().next().unwrap()
}

fn join_frame(resume: Option<&str>) -> ClientFrame {
    ClientFrame::Join {
        v: PROTOCOL_VERSION,
        session: "demo".into(),
        user: ME.into(),
        token: None,
        resume: resume.map(str::to_owned),
    }
}

// ---------------------------------------------------------------------------
// The harness: a driver with a simulated transport and a virtual clock
// ---------------------------------------------------------------------------

/// The transport as the driver sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    Closed,
    /// `Output::Connect` seen, `Input::TransportUp` not yet delivered.
    Opening,
    Open,
}

struct Harness {
    engine: Engine,
    settings: SessionSettings,
    now: Instant,
    wire: Wire,
    checker: ContractChecker,
    /// Every event, with its instant.
    events: Vec<(Instant, EventKind)>,
    /// Every frame the engine sent, with when.
    sent: Vec<(Instant, ClientFrame)>,
    connects: usize,
    last_ping: Option<(Instant, u64)>,
    /// When the last text frame reached the engine.
    last_rx: Option<Instant>,
    /// A timeout was handled late (a driver that overslept) since `last_rx`.
    overslept_since_rx: bool,
    /// The participant list as a consumer following the events knows it.
    model_participants: BTreeSet<String>,
    /// The idle deadline as a consumer following the events knows it.
    model_idle: Option<Instant>,
    lost_at: Option<Instant>,
    attempts_since_lost: u32,
    /// `reconnect_now` started the attempt in flight.
    hurry_pending: bool,
    /// The outputs being drained are those of an accepted `reconnect_now`.
    hurrying: bool,
    /// Hurried attempts that failed since the loss (not counted as attempts).
    hurried_again: u32,
    /// Attempts since the loss an injected fault refused before they opened anything.
    refused_since_lost: usize,
    connects_at_lost: usize,
}

impl Harness {
    fn new(settings: SessionSettings) -> Harness {
        Harness::with(settings, 7, Instant::now())
    }

    fn with(settings: SessionSettings, seed: u64, base: Instant) -> Harness {
        Harness {
            engine: Engine::new(settings.clone(), seed),
            settings,
            now: base,
            wire: Wire::Closed,
            checker: ContractChecker::new(),
            events: Vec::new(),
            sent: Vec::new(),
            connects: 0,
            last_ping: None,
            last_rx: None,
            overslept_since_rx: false,
            model_participants: BTreeSet::new(),
            model_idle: None,
            lost_at: None,
            attempts_since_lost: 0,
            hurry_pending: false,
            hurrying: false,
            hurried_again: 0,
            refused_since_lost: 0,
            connects_at_lost: 0,
        }
    }

    /// Joined to "demo" with `others` already there, on default settings.
    fn joined(others: &[&str]) -> Harness {
        Harness::joined_with(defaults(), others)
    }

    fn joined_with(settings: SessionSettings, others: &[&str]) -> Harness {
        let mut h = Harness::new(settings);
        h.cmd(Command::Join).unwrap();
        h.up();
        h.advance(ms(20));
        let outs = h.frame(&joined(false, others));
        assert_eq!(names(&outs)[0], "session_joined");
        assert_eq!(h.engine.phase(), Phase::Joined);
        h
    }

    /// Joined, then the transport dropped: reconnecting, first attempt's transport opening.
    fn reconnecting(others: &[&str]) -> Harness {
        let mut h = Harness::joined(others);
        h.advance(ms(100));
        let outs = h.down(None);
        assert_eq!(names(&outs), ["connection_lost", "reconnect_attempt"]);
        assert_eq!(h.wire, Wire::Opening);
        h
    }

    // ---- actions; each returns what the engine output for it ----

    fn cmd(&mut self, cmd: Command) -> Result<Vec<Output>, CommandError> {
        let phase = self.engine.phase();
        let timeout = self.engine.poll_timeout();
        let result = self.engine.handle_command(cmd, self.now);
        // What a hurry announces is the attempt it starts.
        self.hurrying = cmd == Command::ReconnectNow && result.is_ok();
        let outs = self.drain();
        self.hurrying = false;
        if let Err(e) = result {
            assert_eq!(
                outs,
                [Output::Event(
                    self.now,
                    EventKind::CommandRefused {
                        command: cmd,
                        reason: e
                    }
                )],
                "{cmd:?} was refused ({e}): the engine reports that, and does nothing else"
            );
            assert_eq!(
                self.engine.phase(),
                phase,
                "a refused {cmd:?} changed the phase"
            );
            assert_eq!(
                self.engine.poll_timeout(),
                timeout,
                "a refused {cmd:?} changed the timers"
            );
        }
        self.check_state();
        result.map(|()| outs)
    }

    fn input(&mut self, input: Input) -> Vec<Output> {
        self.engine.handle_input(input, self.now);
        let outs = self.drain();
        self.check_state();
        outs
    }

    fn up(&mut self) -> Vec<Output> {
        assert_eq!(self.wire, Wire::Opening, "TransportUp without a Connect");
        self.wire = Wire::Open;
        self.input(Input::TransportUp)
    }

    fn down(&mut self, code: Option<u16>) -> Vec<Output> {
        self.down_because(code, "test transport closed")
    }

    fn down_because(&mut self, code: Option<u16>, reason: &str) -> Vec<Output> {
        assert_ne!(self.wire, Wire::Closed, "TransportDown without a transport");
        self.wire = Wire::Closed;
        self.input(Input::TransportDown {
            code,
            reason: reason.into(),
        })
    }

    fn frame(&mut self, frame: &ServerFrame) -> Vec<Output> {
        self.raw(serde_json::to_string(frame).unwrap())
    }

    fn raw(&mut self, text: String) -> Vec<Output> {
        assert_eq!(
            self.wire,
            Wire::Open,
            "a frame on a transport that is not open"
        );
        self.last_rx = Some(self.now);
        self.overslept_since_rx = false;
        self.input(Input::Frame(text))
    }

    fn binary(&mut self, len: usize) -> Vec<Output> {
        assert_eq!(
            self.wire,
            Wire::Open,
            "a frame on a transport that is not open"
        );
        // Any frame, binary too, is a sign of life.
        self.last_rx = Some(self.now);
        self.overslept_since_rx = false;
        self.input(Input::BinaryFrame(len))
    }

    /// Handles timeouts exactly when they fall due, up to `now + d`, like a
    /// driver sleeping on `poll_timeout()`. No frames arrive meanwhile.
    fn advance(&mut self, d: Duration) -> Vec<Output> {
        self.advance_inner(d, false)
    }

    /// Like [`Harness::advance`], with a server that answers every ping at once.
    fn advance_answering(&mut self, d: Duration) -> Vec<Output> {
        self.advance_inner(d, true)
    }

    fn advance_inner(&mut self, d: Duration, answer_pings: bool) -> Vec<Output> {
        let target = self.now + d;
        let mut all = Vec::new();
        let mut guard = 0;
        while let Some(t) = self.engine.poll_timeout().filter(|t| *t <= target) {
            guard += 1;
            assert!(guard < 100_000, "timers keep firing without time passing");
            let outs = self.timeout_at(t);
            let seqs = pings(&outs);
            all.extend(outs);
            for seq in seqs {
                if answer_pings && self.wire == Wire::Open {
                    all.extend(self.frame(&ServerFrame::Pong { seq }));
                }
            }
        }
        self.now = target;
        self.check_state();
        all
    }

    /// Jumps to the next deadline and handles it.
    fn fire(&mut self) -> Vec<Output> {
        let t = self
            .engine
            .poll_timeout()
            .expect("fire() with no timer armed");
        self.timeout_at(t)
    }

    /// A driver that woke up late: one `handle_timeout` at `now + d`.
    fn oversleep(&mut self, d: Duration) -> Vec<Output> {
        self.overslept_since_rx = true;
        let t = self.now + d;
        self.timeout_at(t)
    }

    fn timeout_at(&mut self, t: Instant) -> Vec<Output> {
        self.now = self.now.max(t);
        self.engine.handle_timeout(self.now);
        if let Some(next) = self.engine.poll_timeout() {
            assert!(
                next > self.now,
                "after handle_timeout({:?}) the next deadline {:?} is not in the future",
                self.now - t,
                next.saturating_duration_since(self.now)
            );
        }
        let outs = self.drain();
        self.check_state();
        outs
    }

    // ---- the driver's bookkeeping and the per-output checks ----

    fn drain(&mut self) -> Vec<Output> {
        let mut outs = Vec::new();
        while let Some(out) = self.engine.poll_output() {
            match &out {
                Output::Connect { .. } => {
                    self.wire = Wire::Opening;
                    self.connects += 1;
                }
                Output::Disconnect | Output::Abort => self.wire = Wire::Closed,
                Output::Send(text) => {
                    assert_eq!(
                        self.wire,
                        Wire::Open,
                        "the engine sent {text} while the transport was {:?}",
                        self.wire
                    );
                    let frame: ClientFrame = serde_json::from_str(text).unwrap_or_else(|e| {
                        panic!("the engine sent a frame that is not calltop protocol ({e}): {text}")
                    });
                    if let ClientFrame::Ping { seq } = frame {
                        if let Some((prev, _)) = self.last_ping {
                            assert!(
                                self.now - prev >= self.settings.heartbeat_interval,
                                "two pings {:?} apart, under the {:?} heartbeat interval",
                                self.now - prev,
                                self.settings.heartbeat_interval
                            );
                        }
                        self.last_ping = Some((self.now, seq));
                    }
                    self.sent.push((self.now, frame));
                }
                Output::Event(at, kind) => {
                    assert_eq!(
                        *at, self.now,
                        "{kind:?} is not stamped with the current instant"
                    );
                    if let Err(v) = self.checker.observe(kind) {
                        panic!("{v}");
                    }
                    self.follow(kind);
                    self.events.push((*at, kind.clone()));
                }
            }
            outs.push(out);
        }
        outs
    }

    /// Updates what a consumer following the events knows, and checks each
    /// event's fields against it.
    fn follow(&mut self, kind: &EventKind) {
        let policy = self.settings.reconnect;
        match kind {
            EventKind::ParticipantJoined { user, .. } => {
                assert_ne!(user, ME, "we were announced as our own participant");
                assert!(
                    self.model_participants.insert(user.clone()),
                    "participant_joined for {user}, who was already listed"
                );
            }
            EventKind::ParticipantLeft { user, .. } => assert!(
                self.model_participants.remove(user),
                "participant_left for {user}, who was not listed"
            ),
            EventKind::IdleCountdownStarted { timeout } => {
                assert!(
                    self.model_idle.is_none(),
                    "idle countdown started twice without a cancel"
                );
                // The setting, unless a fault injected another.
                assert_eq!(*timeout, self.engine.idle_timeout());
                self.model_idle = Some(self.now + *timeout);
            }
            EventKind::IdleCountdownCancelled => assert!(
                self.model_idle.take().is_some(),
                "cancelled an idle countdown that was not running"
            ),
            EventKind::SessionJoined { participants } => {
                assert!(self.model_participants.is_empty());
                assert_eq!(*participants, self.engine.participants().len());
            }
            EventKind::ConnectionLost { reason, .. } => {
                self.lost_at = Some(self.now);
                self.attempts_since_lost = 0;
                self.hurried_again = 0;
                self.refused_since_lost = 0;
                self.hurry_pending = false;
                self.connects_at_lost = self.connects;
                // An injected stall holds back what the harness feeds, so
                // its bound runs from the stall (tests/faults.rs checks it).
                if reason.contains("heartbeat")
                    && !reason.contains("injected")
                    && !self.overslept_since_rx
                {
                    let since = self.now - self.last_rx.expect("joined means a frame arrived");
                    assert!(
                        since <= self.settings.stall_detection_bound(),
                        "a silent stall took {since:?} to detect, over the {:?} bound",
                        self.settings.stall_detection_bound()
                    );
                }
            }
            EventKind::ReconnectAttempt {
                attempt,
                max,
                delay,
                ..
            } if self.hurrying => {
                // `reconnect_now` says the attempt that was scheduled starts now.
                assert_eq!(*max, policy.max_attempts);
                assert_eq!(*delay, Duration::ZERO, "a hurried attempt starts at once");
                if self.lost_at.is_some() {
                    assert_eq!(
                        *attempt, self.attempts_since_lost,
                        "a hurry starts the attempt that was scheduled"
                    );
                }
                self.hurry_pending = true;
                // What follows in the same breath (an injected refusal's
                // next attempt) is on the schedule again.
                self.hurrying = false;
            }
            EventKind::ReconnectAttempt {
                attempt,
                max,
                delay,
                last_error,
            } => {
                if last_error
                    .as_deref()
                    .is_some_and(|e| e.contains("refused on purpose"))
                {
                    // The attempt before never reached the network.
                    self.refused_since_lost += 1;
                }
                assert_eq!(*max, policy.max_attempts);
                assert!((1..=*max).contains(attempt), "attempt {attempt} of {max}");
                assert!(*delay <= policy.nominal_delay(*attempt));
                assert!(
                    *delay + ms(1) >= policy.nominal_delay(*attempt).mul_f64(1.0 - policy.jitter)
                );
                if self.lost_at.is_some() {
                    if std::mem::take(&mut self.hurry_pending)
                        && *attempt == self.attempts_since_lost
                    {
                        // A hurried attempt failed: the same one is due again.
                        self.hurried_again += 1;
                    } else {
                        self.attempts_since_lost += 1;
                        assert_eq!(*attempt, self.attempts_since_lost);
                    }
                }
            }
            EventKind::ConnectionRestored {
                downtime, attempts, ..
            } => {
                let lost_at = self.lost_at.take().expect("restored without lost");
                assert_eq!(
                    *downtime,
                    self.now - lost_at,
                    "downtime is the time since connection_lost"
                );
                assert_eq!(
                    *attempts, self.attempts_since_lost,
                    "attempts counts reconnect_attempt events"
                );
                assert_eq!(
                    self.connects - self.connects_at_lost + self.refused_since_lost,
                    (*attempts + self.hurried_again) as usize,
                    "attempts counts the connections opened since the loss, but for hurried ones \
                     that failed (and injected refusals open none)"
                );
            }
            EventKind::ConnectionClosed { reason } if reason.contains("attempts") => {
                assert!(
                    reason.contains(&format!("after {} attempts", policy.max_attempts)),
                    "gave up before max_attempts: {reason}"
                );
            }
            _ => {}
        }
        if kind.is_terminal() {
            self.model_participants.clear();
            self.model_idle = None;
            self.lost_at = None;
        }
    }

    /// Cross-checks the engine's state with its events after every action.
    fn check_state(&self) {
        let phase = self.engine.phase();
        let history = || self.checker.events().join(",");
        assert_eq!(
            phase == Phase::Idle,
            !self.checker.in_attempt(),
            "phase {phase:?} disagrees with the events: {}",
            history()
        );
        assert_eq!(
            phase == Phase::Reconnecting,
            self.checker.reconnecting(),
            "phase {phase:?} disagrees with the events: {}",
            history()
        );
        if let Some(t) = self.engine.poll_timeout() {
            assert!(t > self.now, "a deadline in the past in phase {phase:?}");
        }
        let listed: BTreeSet<String> = self.engine.participants().keys().cloned().collect();
        assert_eq!(
            listed,
            self.model_participants,
            "the participant list differs from what the events said: {}",
            history()
        );
        if phase == Phase::Idle {
            assert_eq!(self.wire, Wire::Closed, "idle with a transport still open");
            assert_eq!(self.engine.poll_timeout(), None, "idle with a timer armed");
        } else {
            assert!(
                self.engine.poll_timeout().is_some(),
                "phase {phase:?} with no timer armed: on a dead network it would hang forever"
            );
        }
        if matches!(phase, Phase::Joined | Phase::Reconnecting) {
            assert_eq!(
                self.engine.idle_deadline(),
                self.model_idle,
                "the idle countdown differs from what the events said: {}",
                history()
            );
            if !self.settings.idle_timeout.is_zero() {
                assert_eq!(
                    self.model_idle.is_some(),
                    listed.is_empty(),
                    "the idle countdown must run exactly while we are alone: {}",
                    history()
                );
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 1. Scenarios
// ---------------------------------------------------------------------------

#[test]
fn first_join_to_an_empty_session_reports_joined_and_starts_the_idle_countdown() {
    let mut h = Harness::new(defaults());
    let outs = h.cmd(Command::Join).unwrap();
    assert_eq!(names(&outs), ["connecting"]);
    assert_eq!(only_event(&outs), EventKind::Connecting { attempt: 1 });
    assert_eq!(connects(&outs), 1);
    assert!(
        sent(&outs).is_empty(),
        "nothing is sent before the transport is up"
    );
    assert_eq!(h.engine.phase(), Phase::Connecting);

    h.advance(ms(30));
    let outs = h.up();
    assert_eq!(names(&outs), Vec::<&str>::new());
    assert_eq!(sent(&outs), [join_frame(None)]);

    h.advance(ms(40));
    let at = h.now;
    let outs = h.frame(&joined(false, &[]));
    assert_eq!(
        names(&outs),
        ["session_joined", "server_info", "idle_countdown_started"]
    );
    assert_eq!(
        events(&outs),
        [
            EventKind::SessionJoined { participants: 0 },
            EventKind::ServerInfo(ServerFacts {
                resume_window: Some(secs(30)),
                ..ServerFacts::default()
            }),
            EventKind::IdleCountdownStarted { timeout: secs(300) },
        ]
    );
    assert_eq!(h.engine.phase(), Phase::Joined);
    assert!(h.engine.participants().is_empty());
    assert_eq!(h.engine.idle_deadline(), Some(at + secs(300)));
    // The next thing to wake up for is the first heartbeat.
    assert_eq!(h.engine.poll_timeout(), Some(at + secs(2)));
}

#[test]
fn the_join_frame_carries_the_token() {
    let mut h = Harness::new(builder().token("s3cret").build().unwrap());
    h.cmd(Command::Join).unwrap();
    let outs = h.up();
    assert_eq!(
        sent(&outs),
        [ClientFrame::Join {
            v: PROTOCOL_VERSION,
            session: "demo".into(),
            user: ME.into(),
            token: Some("s3cret".into()),
            resume: None,
        }]
    );
}

#[test]
fn first_join_to_a_busy_session_lists_the_others_and_starts_no_countdown() {
    let mut h = Harness::new(defaults());
    h.cmd(Command::Join).unwrap();
    h.up();
    // The server lists us too; we are not our own participant.
    let outs = h.frame(&joined(false, &["bob", ME, "carol"]));
    assert_eq!(
        names(&outs),
        [
            "session_joined",
            "server_info",
            "participant_joined",
            "participant_joined"
        ]
    );
    assert_eq!(
        events(&outs)[0],
        EventKind::SessionJoined { participants: 2 }
    );
    let listed: Vec<&String> = h.engine.participants().keys().collect();
    assert_eq!(listed, ["bob", "carol"]);
    assert_eq!(h.engine.idle_deadline(), None);
}

#[test]
fn someone_joining_cancels_the_idle_countdown_and_their_leaving_restarts_it() {
    let mut h = Harness::joined(&[]);
    h.advance_answering(secs(100));
    let outs = h.frame(&pj("bob"));
    assert_eq!(
        names(&outs),
        ["participant_joined", "idle_countdown_cancelled"]
    );
    assert_eq!(h.engine.idle_deadline(), None);
    assert!(h.engine.participants().contains_key("bob"));

    // Past the original deadline: nobody times out while bob is here.
    let outs = h.advance_answering(secs(400));
    assert!(without_heartbeats(&outs).is_empty(), "{:?}", names(&outs));
    assert_eq!(h.engine.phase(), Phase::Joined);

    let at = h.now;
    let outs = h.frame(&pl("bob"));
    assert_eq!(names(&outs), ["participant_left", "idle_countdown_started"]);
    assert_eq!(
        events(&outs)[1],
        EventKind::IdleCountdownStarted { timeout: secs(300) }
    );
    assert_eq!(h.engine.idle_deadline(), Some(at + secs(300)));
    assert!(h.engine.participants().is_empty());
}

#[test]
fn idle_timeout_expiry_times_out_and_leaves_the_session() {
    let mut h = Harness::joined(&[]);
    let start = h.now;
    // A healthy connection (every ping answered), just nobody else.
    let outs = h.advance_answering(secs(300) - ms(1));
    assert!(without_heartbeats(&outs).is_empty(), "{:?}", names(&outs));
    assert_eq!(h.engine.phase(), Phase::Joined);

    let outs = h.advance_answering(ms(1));
    assert_eq!(without_heartbeats(&outs), ["session_timed_out"]);
    let (at, kind) = h.events.last().unwrap().clone();
    assert_eq!(at, start + secs(300));
    assert_eq!(
        kind,
        EventKind::SessionTimedOut {
            idle_timeout: secs(300)
        }
    );
    // We leave ourselves: `leave` goes out, then the transport is closed.
    let leave = outs
        .iter()
        .position(|o| matches!(o, Output::Send(t) if t.contains("\"leave\"")))
        .expect("a leave frame");
    let disconnect = outs
        .iter()
        .position(|o| matches!(o, Output::Disconnect))
        .expect("a disconnect");
    assert!(leave < disconnect);
    assert_eq!(sent(&outs).last(), Some(&ClientFrame::Leave));
    assert_eq!(h.engine.phase(), Phase::Idle);
    assert_eq!(h.engine.poll_timeout(), None);
}

// When the idle countdown runs out mid-reconnect with the new transport up (our
// `join` with the resume token went out, `joined` not back yet), the server has
// already re-attached us to our slot: without a `leave` it would keep us there
// for its whole resume window, and the others would go on seeing us.
#[test]
fn idle_timeout_while_reconnecting_with_the_transport_up_still_sends_leave() {
    let mut h = Harness::joined(&[]);
    let deadline = h.engine.idle_deadline().unwrap();
    h.advance_answering(secs(298));
    h.down(None);
    h.up();
    assert!(deadline - h.now < h.settings.connect_timeout);
    let outs = h.advance(deadline - h.now);
    assert_eq!(names(&outs), ["session_timed_out"]);
    assert_eq!(
        sent(&outs),
        [ClientFrame::Leave],
        "the server holds our slot: tell it we leave"
    );
    let leave = outs.iter().position(|o| matches!(o, Output::Send(_)));
    let disconnect = outs.iter().position(|o| matches!(o, Output::Disconnect));
    assert!(leave < disconnect, "{outs:?}");
}

#[test]
fn idle_timeout_zero_never_times_out() {
    let mut h = Harness::joined_with(builder().idle_timeout(Duration::ZERO).build().unwrap(), &[]);
    assert_eq!(h.engine.idle_deadline(), None);
    let outs = h.advance_answering(secs(3600));
    assert!(without_heartbeats(&outs).is_empty(), "{:?}", names(&outs));
    assert_eq!(h.engine.phase(), Phase::Joined);
}

#[test]
fn leave_sends_leave_and_the_acknowledgement_ends_the_session() {
    let mut h = Harness::joined(&["bob"]);
    h.advance_answering(secs(3));
    let outs = h.cmd(Command::Leave).unwrap();
    assert_eq!(events(&outs), [EventKind::Leaving { rejoin: false }]);
    assert_eq!(sent(&outs), [ClientFrame::Leave]);
    assert_eq!(h.engine.phase(), Phase::Leaving);

    h.advance(ms(30));
    let outs = h.frame(&ServerFrame::Left);
    assert_eq!(
        events(&outs),
        [EventKind::SessionLeft {
            reason: LeftReason::User
        }]
    );
    assert_eq!(disconnects(&outs), 1);
    assert_eq!(h.engine.phase(), Phase::Idle);
    assert!(h.engine.participants().is_empty());
    // Over for good: nothing more happens.
    assert!(h.advance(secs(600)).is_empty());
}

#[test]
fn leave_without_an_acknowledgement_ends_after_the_leave_timeout() {
    let mut h = Harness::joined(&["bob"]);
    let at = h.now;
    h.cmd(Command::Leave).unwrap();
    assert_eq!(h.engine.poll_timeout(), Some(at + secs(1)));
    let outs = h.advance(secs(1) - ms(1));
    assert!(outs.is_empty(), "{outs:?}");
    let outs = h.advance(ms(1));
    assert_eq!(
        events(&outs),
        [EventKind::SessionLeft {
            reason: LeftReason::User
        }]
    );
    assert_eq!(disconnects(&outs), 1);
    assert_eq!(h.events.last().unwrap().0, at + secs(1));
    assert_eq!(h.engine.phase(), Phase::Idle);
}

#[test]
fn transport_drop_while_joined_reconnects_at_once_and_resumes() {
    let mut h = Harness::joined(&["bob"]);
    h.advance_answering(ms(700));
    let lost_at = h.now;
    let outs = h.down(None);
    assert_eq!(names(&outs), ["connection_lost", "reconnect_attempt"]);
    let EventKind::ConnectionLost { reason, .. } = events(&outs)[0].clone() else {
        panic!("{outs:?}")
    };
    assert_eq!(
        events(&outs)[1],
        EventKind::ReconnectAttempt {
            attempt: 1,
            max: 10,
            delay: Duration::ZERO,
            last_error: Some(reason),
        }
    );
    // The first retry goes out at once, after it is announced.
    assert!(matches!(outs.last(), Some(Output::Connect { .. })));
    assert_eq!(connects(&outs), 1);
    assert_eq!(h.engine.phase(), Phase::Reconnecting);

    h.advance(ms(300));
    let outs = h.up();
    assert!(names(&outs).is_empty());
    assert_eq!(sent(&outs), [join_frame(Some(RESUME_TOKEN))]);

    h.advance(ms(200));
    let outs = h.frame(&joined(true, &["bob"]));
    assert_eq!(names(&outs), ["connection_restored"]);
    assert_eq!(
        events(&outs)[0],
        EventKind::ConnectionRestored {
            resumed: true,
            downtime: h.now - lost_at,
            attempts: 1
        }
    );
    assert_eq!(h.now - lost_at, ms(500));
    assert_eq!(h.engine.phase(), Phase::Joined);
    let listed: Vec<&String> = h.engine.participants().keys().collect();
    assert_eq!(listed, ["bob"]);
}

#[test]
fn unanswered_heartbeat_is_detected_within_interval_plus_timeout() {
    let s = defaults();
    assert!(s.stall_detection_bound() <= secs(5));
    let mut h = Harness::joined(&["bob"]);
    // A healthy stretch: each ping answered 35 ms later.
    for _ in 0..5 {
        let outs = h.fire();
        let seqs = pings(&outs);
        assert_eq!(seqs.len(), 1, "{outs:?}");
        h.advance(ms(35));
        let outs = h.frame(&ServerFrame::Pong { seq: seqs[0] });
        assert_eq!(events(&outs), [EventKind::Heartbeat { rtt: ms(35) }]);
    }
    // A repeated pong, or one for a ping never sent, measures nothing.
    let last_seq = h.last_ping.unwrap().1;
    for seq in [last_seq, last_seq + 1, 0] {
        let outs = h.frame(&ServerFrame::Pong { seq });
        assert!(outs.is_empty(), "pong {seq}: {outs:?}");
    }
    // The server goes silent right after that.
    let silent_since = h.now;
    let mut lost = None;
    let mut pings_during_stall = 0;
    for _ in 0..100 {
        let outs = h.fire();
        pings_during_stall += pings(&outs).len();
        if names(&outs).contains(&"connection_lost") {
            assert_eq!(names(&outs), ["connection_lost", "reconnect_attempt"]);
            assert!(
                matches!(
                    &events(&outs)[0],
                    EventKind::ConnectionLost { reason, .. } if reason.contains("heartbeat")
                ),
                "{outs:?}"
            );
            // The dead transport is dropped before the new attempt starts.
            assert_eq!(disconnects(&outs), 1);
            assert_eq!(connects(&outs), 1);
            lost = Some(h.now);
            break;
        }
        assert!(names(&outs).is_empty(), "{outs:?}");
    }
    let lost = lost.expect("the stall is never detected");
    let detection = lost - silent_since;
    assert!(
        detection <= s.heartbeat_interval + s.heartbeat_timeout,
        "{detection:?}"
    );
    assert!(detection <= secs(5), "{detection:?}");
    assert!(
        pings_during_stall >= 1,
        "the stall is detected by a ping going unanswered"
    );
    // At most one ping per heartbeat interval, over the whole run.
    let times: Vec<Instant> = h
        .sent
        .iter()
        .filter(|(_, f)| matches!(f, ClientFrame::Ping { .. }))
        .map(|(t, _)| *t)
        .collect();
    assert!(times.len() >= 6);
    for w in times.windows(2) {
        assert!(
            w[1] - w[0] >= s.heartbeat_interval,
            "pings {:?} apart",
            w[1] - w[0]
        );
    }
}

#[test]
fn any_frame_from_the_server_counts_as_alive() {
    let mut h = Harness::joined(&["bob"]);
    // Pings go unanswered, but the server keeps talking.
    for i in 0..20 {
        h.advance(secs(2));
        let user = format!("guest{i}");
        let outs = h.frame(&pj(&user));
        assert_eq!(names(&outs), ["participant_joined"]);
    }
    assert_eq!(h.engine.phase(), Phase::Joined);
    assert!(!h.checker.events().contains(&"connection_lost"));
}

/// Drives a first join against a server that refuses every connection.
fn join_unreachable(settings: SessionSettings) -> Harness {
    let mut h = Harness::new(settings);
    h.cmd(Command::Join).unwrap();
    for _ in 0..1000 {
        if h.engine.phase() == Phase::Idle {
            return h;
        }
        if h.wire == Wire::Opening {
            h.down_because(None, "connection refused");
        } else {
            h.fire();
        }
    }
    panic!("the join never ended: {:?}", h.checker.events());
}

#[test]
fn first_join_to_an_unreachable_server_gives_up_after_max_attempts() {
    for max in [1, 3, 10] {
        let h = join_unreachable(with_attempts(max));
        let mut expected = vec!["connecting"];
        for _ in 2..=max {
            expected.extend(["reconnect_attempt", "connecting"]);
        }
        expected.push("connection_closed");
        let got: Vec<&str> = h.events.iter().map(|(_, k)| k.name()).collect();
        assert_eq!(got, expected, "max_attempts {max}");
        assert_eq!(h.connects, max as usize, "exactly max_attempts connections");
        assert_eq!(h.checker.terminal_events(), 1);
        let EventKind::ConnectionClosed { reason } = &h.events.last().unwrap().1 else {
            unreachable!()
        };
        assert!(reason.contains("unreachable"), "{reason}");
        assert!(
            reason.contains(&format!("after {max} attempts")),
            "{reason}"
        );
        assert!(
            reason.contains("connection refused"),
            "names the last error: {reason}"
        );
        // Each attempt is numbered and starts exactly its announced delay later.
        let mut n = 1;
        for w in h.events.windows(2) {
            match (&w[0].1, &w[1].1) {
                (
                    EventKind::ReconnectAttempt {
                        attempt,
                        max: m,
                        delay,
                        ..
                    },
                    EventKind::Connecting { attempt: a },
                ) => {
                    n += 1;
                    assert_eq!((*attempt, *a, *m), (n, n, max));
                    assert!(!delay.is_zero());
                    assert_eq!(w[1].0 - w[0].0, *delay);
                }
                (_, EventKind::ReconnectAttempt { .. }) => {
                    assert!(matches!(w[0].1, EventKind::Connecting { .. }))
                }
                _ => {}
            }
        }
        assert_eq!(n, max);
        assert_eq!(h.engine.poll_timeout(), None);
    }
}

#[test]
fn reconnecting_gives_up_after_max_attempts_with_connection_closed() {
    let mut h = Harness::reconnecting(&["bob"]);
    for _ in 0..1000 {
        if h.engine.phase() == Phase::Idle {
            break;
        }
        if h.wire == Wire::Opening {
            h.down(None);
        } else {
            h.fire();
        }
    }
    let got: Vec<&str> = h.events.iter().map(|(_, k)| k.name()).collect();
    let mut expected = vec![
        "connecting",
        "session_joined",
        "server_info",
        "participant_joined",
        "connection_lost",
    ];
    expected.extend(["reconnect_attempt"; 10]);
    expected.push("connection_closed");
    assert_eq!(got, expected);
    assert_eq!(
        h.connects,
        1 + 10,
        "the first join, then max_attempts reconnects"
    );
    let EventKind::ConnectionClosed { reason } = &h.events.last().unwrap().1 else {
        unreachable!()
    };
    assert!(reason.contains("after 10 attempts"), "{reason}");
    // The time spent stays within the policy's budget.
    let lost_at = h.events[3].0;
    assert!(h.now - lost_at <= h.engine.settings().reconnect.worst_case_budget());
}

#[test]
fn a_join_never_acknowledged_times_out_and_is_retried() {
    let mut h = Harness::new(defaults());
    let start = h.now;
    h.cmd(Command::Join).unwrap();
    h.up();
    let outs = h.fire();
    assert_eq!(h.now, start + secs(5), "the connect timeout");
    assert_eq!(names(&outs), ["reconnect_attempt"]);
    assert_eq!(disconnects(&outs), 1, "the silent transport is closed");
    assert_eq!(h.wire, Wire::Closed);
    let outs = h.fire();
    assert_eq!(events(&outs), [EventKind::Connecting { attempt: 2 }]);
    assert_eq!(connects(&outs), 1);
    h.up();
    let outs = h.frame(&joined(false, &["bob"]));
    assert_eq!(
        names(&outs),
        ["session_joined", "server_info", "participant_joined"]
    );
}

#[derive(Debug, Clone, Copy)]
enum Stage {
    /// First join, transport up, `joined` not yet received.
    Connecting,
    Joined,
    /// Reconnecting, transport up, `joined` not yet received.
    Reconnecting,
}

#[derive(Debug, Clone)]
enum Refusal {
    Frame(ServerFrame),
    Close(u16),
}

fn at_stage(stage: Stage) -> Harness {
    match stage {
        Stage::Connecting => {
            let mut h = Harness::new(defaults());
            h.cmd(Command::Join).unwrap();
            h.up();
            h
        }
        Stage::Joined => Harness::joined(&["bob"]),
        Stage::Reconnecting => {
            let mut h = Harness::reconnecting(&["bob"]);
            h.up();
            h
        }
    }
}

/// The terminal event a refusal must end the attempt with.
#[derive(Debug, Clone, Copy)]
enum Ends {
    /// `connection_closed` whose reason contains this.
    Closed(&'static str),
    Left(LeftReason),
}

#[test]
fn fatal_refusals_end_the_attempt_without_retrying() {
    use Ends::{Closed, Left};
    use Refusal::{Close, Frame};
    use Stage::{Connecting, Joined, Reconnecting};
    let cases = [
        (
            Connecting,
            Frame(error_frame(ErrorCode::Unauthorized)),
            Closed("unauthorized"),
        ),
        (Connecting, Close(4002), Closed("4002")),
        (
            Connecting,
            Frame(error_frame(ErrorCode::SessionEnded)),
            Closed("session_ended"),
        ),
        (
            Connecting,
            Frame(error_frame(ErrorCode::InvalidName)),
            Closed("invalid_name"),
        ),
        (Connecting, Close(4003), Left(LeftReason::Removed)),
        (Connecting, Close(4004), Left(LeftReason::Ended)),
        (Joined, Close(4002), Closed("4002")),
        (Joined, Close(4003), Left(LeftReason::Removed)),
        (Joined, Close(4004), Left(LeftReason::Ended)),
        (Joined, Close(4010), Left(LeftReason::Replaced)),
        (
            Joined,
            Frame(ServerFrame::Removed),
            Left(LeftReason::Removed),
        ),
        (Joined, Frame(ServerFrame::Ended), Left(LeftReason::Ended)),
        (
            Joined,
            Frame(error_frame(ErrorCode::Replaced)),
            Left(LeftReason::Replaced),
        ),
        (
            Reconnecting,
            Frame(error_frame(ErrorCode::Unauthorized)),
            Closed("unauthorized"),
        ),
        (Reconnecting, Close(4003), Left(LeftReason::Removed)),
        (Reconnecting, Close(4004), Left(LeftReason::Ended)),
        (
            Reconnecting,
            Frame(ServerFrame::Ended),
            Left(LeftReason::Ended),
        ),
    ];
    for (stage, refusal, expected) in cases {
        let mut h = at_stage(stage);
        let connects_before = h.connects;
        let outs = match &refusal {
            Frame(f) => h.frame(f),
            Close(code) => h.down_because(Some(*code), "refused"),
        };
        let ev = only_event(&outs);
        let ok = match (&expected, &ev) {
            (Closed(what), EventKind::ConnectionClosed { reason }) => reason.contains(what),
            (Left(want), EventKind::SessionLeft { reason }) => want == reason,
            _ => false,
        };
        assert!(
            ok,
            "{stage:?} {refusal:?}: expected {expected:?}, got {ev:?}"
        );
        assert_eq!(h.engine.phase(), Phase::Idle, "{stage:?} {refusal:?}");
        assert_eq!(h.wire, Wire::Closed);
        assert!(h.engine.participants().is_empty());
        // No retry, however long we wait.
        let outs = h.advance(secs(600));
        assert!(outs.is_empty(), "{stage:?} {refusal:?}: {outs:?}");
        assert_eq!(h.connects, connects_before);
        assert_eq!(h.checker.terminal_events(), 1);
    }
}

#[test]
fn retryable_closes_while_joined_reconnect() {
    for code in [Some(1000), Some(1001), Some(1011), None] {
        let mut h = Harness::joined(&["bob"]);
        let outs = h.down(code);
        assert_eq!(
            names(&outs),
            ["connection_lost", "reconnect_attempt"],
            "{code:?}"
        );
        if let Some(c) = code {
            assert!(
                matches!(
                    &events(&outs)[0],
                    EventKind::ConnectionLost { reason, .. } if reason.contains(&c.to_string())
                ),
                "the reason names the close code: {outs:?}"
            );
        }
        assert_eq!(connects(&outs), 1);
    }
}

#[test]
fn a_server_speaking_another_protocol_version_is_refused_by_name() {
    let mut h = at_stage(Stage::Connecting);
    let outs = h.frame(&joined_v(2, false, &[]));
    let EventKind::ConnectionClosed { reason } = only_event(&outs) else {
        panic!("{outs:?}")
    };
    assert!(reason.contains("version 2"), "{reason}");
    assert!(
        reason.contains(&format!("version {PROTOCOL_VERSION}")),
        "{reason}"
    );
    assert_eq!(h.engine.phase(), Phase::Idle);
    assert!(h.advance(secs(60)).is_empty(), "no retry");
}

#[test]
fn restored_without_resume_reports_who_came_and_went() {
    let mut h = Harness::reconnecting(&["bob", "carol"]);
    h.up();
    let outs = h.frame(&joined(false, &["carol", "dave"]));
    assert_eq!(
        names(&outs),
        [
            "connection_restored",
            "participant_left",
            "participant_joined"
        ]
    );
    let evs = events(&outs);
    assert!(matches!(
        evs[0],
        EventKind::ConnectionRestored {
            resumed: false,
            attempts: 1,
            ..
        }
    ));
    assert_eq!(
        evs[1],
        EventKind::ParticipantLeft {
            id: "bob".into(),
            user: "bob".into()
        }
    );
    assert!(matches!(&evs[2], EventKind::ParticipantJoined { user, .. } if user == "dave"));
    let listed: Vec<&String> = h.engine.participants().keys().collect();
    assert_eq!(listed, ["carol", "dave"]);

    // Everybody gone while we were away: we are alone now, so the countdown starts.
    let mut h = Harness::reconnecting(&["bob", "carol"]);
    h.up();
    let outs = h.frame(&joined(false, &[]));
    assert_eq!(
        names(&outs),
        [
            "connection_restored",
            "participant_left",
            "participant_left",
            "idle_countdown_started"
        ]
    );
    assert!(h.engine.participants().is_empty());
}

#[test]
fn commands_that_make_no_sense_are_refused_and_change_nothing() {
    let refused = |h: &mut Harness, cmd: Command, expected: CommandError| {
        let phase = h.engine.phase();
        assert_eq!(h.cmd(cmd).unwrap_err(), expected, "{cmd:?} in {phase:?}");
        assert_eq!(h.engine.phase(), phase);
    };
    let mut h = Harness::new(defaults());
    refused(&mut h, Command::Leave, CommandError::NotInSession);
    refused(&mut h, Command::ReconnectNow, CommandError::NotReconnecting);

    h.cmd(Command::Join).unwrap();
    refused(&mut h, Command::Join, CommandError::AlreadyActive);
    refused(&mut h, Command::ReconnectNow, CommandError::AttemptInFlight);
    h.up();
    refused(&mut h, Command::ReconnectNow, CommandError::AttemptInFlight);

    h.frame(&joined(false, &["bob"]));
    refused(&mut h, Command::Join, CommandError::AlreadyActive);
    refused(&mut h, Command::ReconnectNow, CommandError::NotReconnecting);

    h.cmd(Command::Leave).unwrap();
    refused(&mut h, Command::Leave, CommandError::AlreadyLeaving);
    refused(&mut h, Command::ReconnectNow, CommandError::NotReconnecting);

    let mut h = Harness::reconnecting(&["bob"]);
    refused(&mut h, Command::ReconnectNow, CommandError::AttemptInFlight);
    refused(&mut h, Command::Join, CommandError::AlreadyActive);
    h.up();
    refused(&mut h, Command::ReconnectNow, CommandError::AttemptInFlight);
}

#[test]
fn faults_that_make_no_sense_are_refused_and_change_nothing() {
    let fault = |f| Command::Fault(f);
    let stall = fault(Fault::Stall {
        duration: Duration::from_secs(10),
    });
    let refused = |h: &mut Harness, cmd: Command, expected: CommandError| {
        let phase = h.engine.phase();
        assert_eq!(h.cmd(cmd).unwrap_err(), expected, "{cmd:?} in {phase:?}");
        assert_eq!(h.engine.phase(), phase);
    };
    let mut h = Harness::new(defaults());
    refused(&mut h, fault(Fault::Drop), CommandError::NotInSession);
    refused(
        &mut h,
        fault(Fault::ForgetResume),
        CommandError::NotInSession,
    );
    refused(
        &mut h,
        fault(Fault::Refuse { attempts: 1 }),
        CommandError::NotInSession,
    );
    // Down, waiting to retry: no connection to drop or stall.
    let mut h = Harness::reconnecting(&["bob"]);
    refused(&mut h, fault(Fault::Drop), CommandError::NotConnected);
    refused(&mut h, stall, CommandError::NotConnected);
    // Up but not joined again yet: a stall is for a joined call.
    h.up();
    refused(&mut h, stall, CommandError::NotConnected);
    // calltop's server gives no resume token without a join.
    let mut h = Harness::new(defaults());
    h.cmd(Command::Join).unwrap();
    refused(
        &mut h,
        fault(Fault::ForgetResume),
        CommandError::NoResumeToken,
    );
    let mut h = Harness::new(
        SessionSettings::builder("ws://127.0.0.1:1/ws", "s", ME)
            .faults(false)
            .build()
            .unwrap(),
    );
    h.cmd(Command::Join).unwrap();
    refused(&mut h, fault(Fault::Drop), CommandError::FaultsDisabled);
}

#[test]
fn a_stall_is_noticed_within_the_detection_bound_and_what_came_meanwhile_waits() {
    let mut h = Harness::new(defaults());
    h.cmd(Command::Join).unwrap();
    h.up();
    h.frame(&joined(false, &["bob"]));
    let start = h.now;
    let outs = h
        .cmd(Command::Fault(Fault::Stall {
            duration: Duration::from_secs(30),
        }))
        .unwrap();
    assert_eq!(names(&outs), ["fault_injected"]);
    assert!(h.engine.reading_paused(), "the driver must stop reading");
    // What the server sends now is not read until the stall is over.
    let outs = h.raw(r#"{"type":"participant_left","user":"bob"}"#.into());
    assert!(outs.is_empty(), "{outs:?}");
    let mut lost_at = None;
    while lost_at.is_none() {
        for out in h.fire() {
            if let Output::Event(at, EventKind::ConnectionLost { reason, injected }) = &out {
                assert!(*injected, "{reason}");
                assert!(reason.contains("injected stall"), "{reason}");
                lost_at = Some(*at);
            }
            if let Output::Send(frame) = &out {
                panic!("sent {frame} during a stall");
            }
        }
    }
    let took = lost_at.unwrap() - start;
    assert!(
        took <= h.engine.settings().stall_detection_bound(),
        "{took:?}"
    );
    // The stall went with its connection; what it held back is gone too.
    assert!(!h.engine.reading_paused());
    assert!(h.engine.participants().contains_key("bob"));
}

#[test]
fn hurrying_reconnects_does_not_spend_the_retry_budget() {
    let mut h = Harness::reconnecting(&["bob"]);
    h.advance(ms(5));
    let outs = h.down(None); // attempt 1 fails; attempt 2 waits
    let EventKind::ReconnectAttempt { attempt: 2, .. } = only_event(&outs) else {
        panic!("{outs:?}")
    };
    for _ in 0..20 {
        let outs = h.cmd(Command::ReconnectNow).unwrap();
        assert_eq!(
            events(&outs),
            [EventKind::ReconnectAttempt {
                attempt: 2,
                max: 10,
                delay: Duration::ZERO,
                last_error: None,
            }]
        );
        assert_eq!(connects(&outs), 1);
        // Pressing again while that attempt is in flight changes nothing.
        assert_eq!(
            h.cmd(Command::ReconnectNow).unwrap_err(),
            CommandError::AttemptInFlight
        );
        let outs = h.down(None);
        let EventKind::ReconnectAttempt { attempt, .. } = only_event(&outs) else {
            panic!("{outs:?}")
        };
        assert_eq!(attempt, 2, "a hurried attempt that failed is not counted");
    }
    assert_eq!(h.engine.phase(), Phase::Reconnecting);
    // On its own schedule, the attempts count as before.
    let outs = h.fire();
    assert_eq!(connects(&outs), 1);
    let outs = h.down(None);
    let EventKind::ReconnectAttempt { attempt: 3, .. } = only_event(&outs) else {
        panic!("{outs:?}")
    };
}

#[test]
fn a_join_while_our_leave_is_under_way_follows_the_leave() {
    let mut h = Harness::joined(&["bob"]);
    h.cmd(Command::Leave).unwrap();
    let outs = h.cmd(Command::Join).unwrap();
    assert_eq!(
        outs,
        [Output::Event(h.now, EventKind::Leaving { rejoin: true })],
        "queued, and said so; nothing else yet"
    );
    // Asking again changes nothing, and says nothing new.
    assert!(h.cmd(Command::Join).unwrap().is_empty());
    assert_eq!(h.engine.phase(), Phase::Leaving);
    // The server acknowledges the leave: the session ends, and a new join starts.
    let outs = h.frame(&ServerFrame::Left);
    assert_eq!(
        events(&outs),
        [
            EventKind::SessionLeft {
                reason: LeftReason::User
            },
            EventKind::Connecting { attempt: 1 }
        ]
    );
    assert_eq!(connects(&outs), 1);
    h.up();
    let outs = h.frame(&joined(false, &["bob"]));
    assert_eq!(names(&outs)[0], "session_joined");

    // Without an acknowledgement, the same after the leave timeout.
    let mut h = Harness::joined(&["bob"]);
    h.cmd(Command::Leave).unwrap();
    h.cmd(Command::Join).unwrap();
    let outs = h.advance(secs(2));
    assert_eq!(names(&outs), ["session_left", "connecting"]);

    // Removed during the leave: the queued join is dropped (the user decides again).
    let mut h = Harness::joined(&["bob"]);
    h.cmd(Command::Leave).unwrap();
    h.cmd(Command::Join).unwrap();
    let outs = h.frame(&ServerFrame::Removed);
    assert_eq!(names(&outs), ["session_left"]);
    assert_eq!(h.engine.phase(), Phase::Idle);

    // A second leave takes the queued join back: just the leave.
    let mut h = Harness::joined(&["bob"]);
    h.cmd(Command::Leave).unwrap();
    h.cmd(Command::Join).unwrap();
    let outs = h.cmd(Command::Leave).unwrap();
    assert_eq!(
        outs,
        [Output::Event(h.now, EventKind::Leaving { rejoin: false })]
    );
    let outs = h.frame(&ServerFrame::Left);
    assert_eq!(names(&outs), ["session_left"]);
    assert_eq!(connects(&outs), 0);
    assert_eq!(h.engine.phase(), Phase::Idle);
}

#[test]
fn leave_during_a_join_or_a_reconnect_ends_it_at_once() {
    // First join, transport still opening: nothing to tell the server.
    let mut h = Harness::new(defaults());
    h.cmd(Command::Join).unwrap();
    let outs = h.cmd(Command::Leave).unwrap();
    assert!(sent(&outs).is_empty());
    assert_eq!(
        events(&outs),
        [EventKind::SessionLeft {
            reason: LeftReason::User
        }]
    );
    assert_eq!(h.wire, Wire::Closed);

    // Reconnecting with the transport up: the server may hold our slot, so say leave.
    let mut h = Harness::reconnecting(&["bob"]);
    h.up();
    let outs = h.cmd(Command::Leave).unwrap();
    assert_eq!(sent(&outs), [ClientFrame::Leave]);
    assert_eq!(
        events(&outs),
        [EventKind::SessionLeft {
            reason: LeftReason::User
        }]
    );
    assert_eq!(h.engine.phase(), Phase::Idle);
    assert!(h.advance(secs(60)).is_empty());
}

#[test]
fn reconnect_now_during_a_backoff_wait_starts_the_attempt_at_once() {
    // First join: attempt 1 refused, attempt 2 waits for its backoff delay.
    let mut h = Harness::new(defaults());
    h.cmd(Command::Join).unwrap();
    let outs = h.down(None);
    let EventKind::ReconnectAttempt {
        attempt: 2, delay, ..
    } = only_event(&outs)
    else {
        panic!("{outs:?}")
    };
    assert!(delay > Duration::ZERO);
    assert_eq!(connects(&outs), 0, "waiting out the delay");
    h.advance(delay / 2);
    let outs = h.cmd(Command::ReconnectNow).unwrap();
    assert_eq!(
        events(&outs),
        [
            EventKind::ReconnectAttempt {
                attempt: 2,
                max: 10,
                delay: Duration::ZERO,
                last_error: None,
            },
            EventKind::Connecting { attempt: 2 }
        ]
    );
    assert_eq!(connects(&outs), 1);
    h.up();
    h.frame(&joined(false, &["bob"]));
    // The cancelled backoff timer does not start another attempt.
    let outs = h.advance_answering(delay * 2);
    assert_eq!(connects(&outs), 0);
    assert!(without_heartbeats(&outs).is_empty(), "{outs:?}");

    // Reconnecting: attempt 1 (immediate) fails, attempt 2 waits.
    let mut h = Harness::reconnecting(&["bob"]);
    let lost_at = h.events.last().unwrap().0;
    h.advance(ms(50));
    let outs = h.down(None);
    let EventKind::ReconnectAttempt {
        attempt: 2, delay, ..
    } = only_event(&outs)
    else {
        panic!("{outs:?}")
    };
    assert_eq!(connects(&outs), 0);
    h.advance(ms(10));
    let outs = h.cmd(Command::ReconnectNow).unwrap();
    assert_eq!(connects(&outs), 1);
    assert_eq!(
        events(&outs),
        [EventKind::ReconnectAttempt {
            attempt: 2,
            max: 10,
            delay: Duration::ZERO,
            last_error: None,
        }],
        "the attempt that was scheduled starts now, and says so"
    );
    // A second hurry while this attempt is in flight is refused.
    assert_eq!(
        h.cmd(Command::ReconnectNow).unwrap_err(),
        CommandError::AttemptInFlight
    );
    h.up();
    h.advance(ms(40));
    let outs = h.frame(&joined(true, &["bob"]));
    assert_eq!(
        events(&outs),
        [EventKind::ConnectionRestored {
            resumed: true,
            downtime: h.now - lost_at,
            attempts: 2
        }]
    );
    let outs = h.advance_answering(delay * 2);
    assert_eq!(connects(&outs), 0);
}

#[test]
fn join_after_each_kind_of_terminal_event_starts_afresh() {
    // After leave.
    let mut h = Harness::joined(&["bob"]);
    h.cmd(Command::Leave).unwrap();
    h.frame(&ServerFrame::Left);
    // After session_timed_out.
    let mut t = Harness::joined(&[]);
    t.advance_answering(secs(300));
    assert_eq!(t.events.last().unwrap().1.name(), "session_timed_out");
    // After connection_closed.
    let u = join_unreachable(with_attempts(2));
    // After session_left while reconnecting (the old session had a resume token).
    let mut r = Harness::reconnecting(&["bob"]);
    r.cmd(Command::Leave).unwrap();

    for mut h in [h, t, u, r] {
        assert_eq!(h.engine.phase(), Phase::Idle);
        let last = h.events.last().unwrap().1.clone();
        let outs = h.cmd(Command::Join).unwrap();
        assert_eq!(
            events(&outs),
            [EventKind::Connecting { attempt: 1 }],
            "after {last:?}"
        );
        assert_eq!(connects(&outs), 1);
        let outs = h.up();
        assert_eq!(
            sent(&outs),
            [join_frame(None)],
            "a fresh join asks for no old slot"
        );
        let outs = h.frame(&joined(false, &["carol"]));
        assert_eq!(
            names(&outs),
            ["session_joined", "server_info", "participant_joined"],
            "after {last:?}"
        );
        let listed: Vec<&String> = h.engine.participants().keys().collect();
        assert_eq!(listed, ["carol"]);
        assert_eq!(h.checker.terminal_events(), 1);
        h.cmd(Command::Leave).unwrap();
        h.frame(&ServerFrame::Left);
        assert_eq!(h.checker.terminal_events(), 2);
    }
}

// ---------------------------------------------------------------------------
// 2. Bad input: one `error` event each, nothing else changes
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
enum Bad {
    Text(String),
    Binary(usize),
}

fn feed_bad(h: &mut Harness, bad: &Bad) -> Vec<Output> {
    match bad {
        Bad::Text(t) => h.raw(t.clone()),
        Bad::Binary(n) => h.binary(*n),
    }
}

/// Feeds `bad` and checks it produced exactly one `error` (whose message
/// contains `says`) and left phase, participants and idle countdown alone.
fn assert_rejected(h: &mut Harness, bad: &Bad, says: &str) {
    let phase = h.engine.phase();
    let participants = h.engine.participants().clone();
    let idle = h.engine.idle_deadline();
    let outs = feed_bad(h, bad);
    let ev = only_event(&outs);
    let EventKind::Error { message } = &ev else {
        panic!("{bad:?} in {phase:?}: expected an error event, got {ev:?}")
    };
    assert!(
        message.to_lowercase().contains(says),
        "{bad:?} in {phase:?}: {message:?} does not say {says:?}"
    );
    assert_eq!(
        outs.len(),
        1,
        "{bad:?} in {phase:?}: only the error, got {outs:?}"
    );
    assert_eq!(h.engine.phase(), phase, "{bad:?} changed the phase");
    assert_eq!(
        h.engine.participants(),
        &participants,
        "{bad:?} changed the participants"
    );
    assert_eq!(
        h.engine.idle_deadline(),
        idle,
        "{bad:?} changed the idle countdown"
    );
    assert_eq!(h.wire, Wire::Open);
}

fn garbage() -> Vec<(Bad, &'static str)> {
    let limit = calltop::protocol::DEFAULT_MAX_FRAME_BYTES;
    vec![
        (
            Bad::Text(r#"{"type":"participant_joined","user":"#.into()),
            "malformed",
        ),
        (Bad::Text("hello there".into()), "malformed"),
        (Bad::Text(String::new()), "malformed"),
        (Bad::Text("[1,2,3]".into()), "malformed"),
        (Bad::Text(r#"{"user":"bob"}"#.into()), "malformed"),
        (
            Bad::Text(r#"{"type":"pong","seq":"seven"}"#.into()),
            "malformed",
        ),
        (
            Bad::Text(r#"{"type":"wave","user":"bob"}"#.into()),
            "unknown message type",
        ),
        (Bad::Text("\u{1b}[2J\u{0}\u{7f}".into()), "malformed"),
        (Bad::Binary(16), "binary"),
        (
            Bad::Text(padded_participant_joined("zed", limit + 1)),
            "limit",
        ),
        (
            Bad::Text(padded_participant_joined("zed", 4 * limit)),
            "limit",
        ),
    ]
}

#[test]
fn garbage_frames_are_reported_and_ignored_in_every_phase() {
    let make = |stage: &str| match stage {
        "connecting" => at_stage(Stage::Connecting),
        "joined alone" => Harness::joined(&[]),
        "joined" => Harness::joined(&["bob", "carol"]),
        "reconnecting" => at_stage(Stage::Reconnecting),
        "leaving" => {
            let mut h = Harness::joined(&["bob"]);
            h.cmd(Command::Leave).unwrap();
            h
        }
        _ => unreachable!(),
    };
    for stage in [
        "connecting",
        "joined alone",
        "joined",
        "reconnecting",
        "leaving",
    ] {
        let mut h = make(stage);
        for (bad, says) in garbage() {
            assert_rejected(&mut h, &bad, says);
        }
        // The session goes on as if nothing happened.
        match h.engine.phase() {
            Phase::Connecting => {
                let outs = h.frame(&joined(false, &["bob"]));
                assert_eq!(
                    names(&outs),
                    ["session_joined", "server_info", "participant_joined"],
                    "{stage}"
                );
            }
            Phase::Reconnecting => {
                let outs = h.frame(&joined(true, &["bob"]));
                assert_eq!(names(&outs), ["connection_restored"], "{stage}");
            }
            Phase::Joined => {
                let outs = h.frame(&pj("dave"));
                assert_eq!(names(&outs)[0], "participant_joined", "{stage}");
            }
            Phase::Leaving => {
                let outs = h.frame(&ServerFrame::Left);
                assert_eq!(names(&outs), ["session_left"], "{stage}");
            }
            Phase::Idle => panic!("{stage}: garbage ended the session"),
        }
    }
}

#[test]
fn messages_that_make_no_sense_now_are_reported_and_ignored() {
    let text = |f: ServerFrame| Bad::Text(serde_json::to_string(&f).unwrap());
    // While joined with bob.
    let mut h = Harness::joined(&["bob"]);
    assert_rejected(&mut h, &text(joined(false, &["bob"])), "unexpected joined");
    assert_rejected(&mut h, &text(joined(true, &[])), "unexpected joined");
    assert_rejected(&mut h, &text(pl("zed")), "zed");
    assert_rejected(&mut h, &text(pj("bob")), "already here");
    assert_rejected(&mut h, &text(pj(ME)), "our own join");
    assert_rejected(&mut h, &text(pl(ME)), "alice");
    assert_rejected(&mut h, &text(ServerFrame::Left), "unexpected left");
    assert_rejected(
        &mut h,
        &text(error_frame(ErrorCode::UnexpectedMessage)),
        "unexpected_message",
    );
    assert_rejected(
        &mut h,
        &text(error_frame(ErrorCode::FrameTooLarge)),
        "frame_too_large",
    );
    assert_rejected(
        &mut h,
        &Bad::Text(r#"{"type":"error","code":"brand_new","message":"x"}"#.into()),
        "unknown",
    );
    let listed: Vec<&String> = h.engine.participants().keys().collect();
    assert_eq!(listed, ["bob"]);

    // Before the server acknowledged the join.
    for stage in [Stage::Connecting, Stage::Reconnecting] {
        let mut h = at_stage(stage);
        assert_rejected(&mut h, &text(pj("carol")), "before the server acknowledged");
        assert_rejected(&mut h, &text(pl("bob")), "before the server acknowledged");
        assert_rejected(&mut h, &text(ServerFrame::Left), "unexpected left");
        assert_rejected(
            &mut h,
            &text(error_frame(ErrorCode::UnexpectedMessage)),
            "server error",
        );
    }

    // While leaving.
    let mut h = Harness::joined(&["bob"]);
    h.cmd(Command::Leave).unwrap();
    // Others coming and going as we leave is expected: no error, no change.
    for frame in [pj("carol"), pl("bob")] {
        let outs = h.frame(&frame);
        assert!(outs.is_empty(), "{frame:?} while leaving: {outs:?}");
    }
    assert_eq!(h.engine.phase(), Phase::Leaving);
    assert_rejected(&mut h, &text(joined(false, &[])), "unexpected joined");
}

#[test]
fn a_frame_of_exactly_the_size_limit_is_accepted() {
    let limit = calltop::protocol::DEFAULT_MAX_FRAME_BYTES;
    let mut h = Harness::joined(&["bob"]);
    let outs = h.raw(padded_participant_joined("zed", limit));
    assert_eq!(names(&outs), ["participant_joined"]);
    assert!(h.engine.participants().contains_key("zed"));
    // And the limit follows the setting.
    let mut h = Harness::joined_with(builder().max_frame_bytes(2048).build().unwrap(), &["bob"]);
    assert_rejected(
        &mut h,
        &Bad::Text(padded_participant_joined("zed", 2049)),
        "2048-byte limit",
    );
    let outs = h.raw(padded_participant_joined("zed", 2048));
    assert_eq!(names(&outs), ["participant_joined"]);
}

// ---------------------------------------------------------------------------
// 3. Random schedules
// ---------------------------------------------------------------------------

const POOL: [&str; 4] = [ME, "bob", "carol", "dave"];

const ERROR_CODES: [ErrorCode; 9] = [
    ErrorCode::BadFrame,
    ErrorCode::FrameTooLarge,
    ErrorCode::UnexpectedMessage,
    ErrorCode::UnsupportedVersion,
    ErrorCode::Unauthorized,
    ErrorCode::SessionEnded,
    ErrorCode::Replaced,
    ErrorCode::InvalidName,
    ErrorCode::Unknown,
];

#[derive(Debug, Clone)]
enum FrameSpec {
    Joined {
        v: u32,
        resumed: bool,
        others: Vec<&'static str>,
    },
    ParticipantJoined(&'static str),
    ParticipantLeft(&'static str),
    /// `None`: answers the last ping.
    Pong(Option<u64>),
    Left,
    Removed,
    Ended,
    Error(ErrorCode),
}

#[derive(Debug, Clone)]
enum Step {
    /// The transport being opened comes up.
    Up,
    /// The transport (opening or open) drops.
    Down(Option<u16>),
    /// A friendly server (opens, acknowledges a join, answers a ping) and a
    /// user who joins again once out.
    Auto {
        resumed: bool,
        others: Vec<&'static str>,
    },
    Frame(FrameSpec),
    Garbage(String),
    Binary(usize),
    Oversized,
    Cmd(Command),
    /// Time passes with no frames (a stall if the transport is open).
    Advance(u64),
    ToDeadline,
    /// The driver handles timeouts once, late.
    Oversleep(u64),
}

fn others() -> impl Strategy<Value = Vec<&'static str>> {
    prop::sample::subsequence(POOL.to_vec(), 0..=POOL.len())
}

fn frame_spec() -> impl Strategy<Value = FrameSpec> {
    let name = prop::sample::select(POOL.to_vec());
    prop_oneof![
        3 => (prop_oneof![9 => Just(PROTOCOL_VERSION), 1 => Just(2u32)], any::<bool>(), others())
            .prop_map(|(v, resumed, others)| FrameSpec::Joined { v, resumed, others }),
        4 => name.clone().prop_map(FrameSpec::ParticipantJoined),
        3 => name.prop_map(FrameSpec::ParticipantLeft),
        3 => prop_oneof![Just(None), (0u64..4).prop_map(Some)].prop_map(FrameSpec::Pong),
        1 => Just(FrameSpec::Left),
        1 => prop_oneof![Just(FrameSpec::Removed), Just(FrameSpec::Ended)],
        1 => prop::sample::select(ERROR_CODES.to_vec()).prop_map(FrameSpec::Error),
        1 => prop::sample::select(vec![
                ErrorCode::UnexpectedMessage,
                ErrorCode::FrameTooLarge,
                ErrorCode::Unknown,
            ])
            .prop_map(FrameSpec::Error),
    ]
}

fn garbage_text() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec![
            "",
            "null",
            "[]",
            "{}",
            "not json",
            r#"{"type":"wave"}"#,
            r#"{"type":"joined"}"#,
            r#"{"type":"pong","seq":-1}"#,
            r#"{"type":"participant_joined","user":7}"#,
            "\u{0}\u{1b}[2J",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,24}",
    ]
}

fn close_code() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![
        // Network trouble worth a reconnect.
        3 => prop::sample::select(vec![Some(1000), Some(1001), None, Some(1011)]),
        // Refusals retrying cannot fix.
        1 => prop::sample::select(vec![Some(4001), Some(4002), Some(4003), Some(4004), Some(4010)]),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => Just(Step::Up),
        2 => close_code().prop_map(Step::Down),
        8 => (any::<bool>(), others()).prop_map(|(resumed, others)| Step::Auto { resumed, others }),
        6 => frame_spec().prop_map(Step::Frame),
        1 => garbage_text().prop_map(Step::Garbage),
        1 => (0usize..100_000).prop_map(Step::Binary),
        1 => Just(Step::Oversized),
        3 => prop::sample::select(vec![
                Command::Join,
                Command::Join,
                Command::Leave,
                Command::ReconnectNow,
                Command::ReconnectNow,
            ])
            .prop_map(Step::Cmd),
        2 => prop::sample::select(vec![
                Fault::Drop,
                Fault::Stall { duration: Duration::from_millis(800) },
                Fault::Stall { duration: Duration::from_secs(10) },
                Fault::ForgetResume,
                Fault::Refuse { attempts: 2 },
                Fault::Refuse { attempts: 12 },
                Fault::Idle { timeout: Duration::from_secs(3) },
            ])
            .prop_map(|f| Step::Cmd(Command::Fault(f))),
        3 => (0u64..3_000).prop_map(Step::Advance),
        1 => (0u64..30_000).prop_map(Step::Advance),
        1 => (0u64..=400_000).prop_map(Step::Advance),
        4 => Just(Step::ToDeadline),
        1 => (0u64..=400_000).prop_map(Step::Oversleep),
    ]
}

#[derive(Debug, Clone)]
struct Case {
    seed: u64,
    idle_timeout: Duration,
    /// `(heartbeat_interval, heartbeat_timeout)`.
    heartbeat: (Duration, Duration),
    connect_timeout: Duration,
    leave_timeout: Duration,
    max_attempts: u32,
    steps: Vec<Step>,
    /// How an attempt still open at the end is ended: `leave`, or a dead network.
    finish_by_leave: bool,
}

fn case() -> impl Strategy<Value = Case> {
    let timings = (
        prop::sample::select(vec![Duration::ZERO, secs(5), secs(300)]),
        prop_oneof![
            3 => Just((secs(2), ms(2500))),
            1 => Just((ms(500), ms(300))),
            1 => Just((secs(10), secs(20))),
        ],
        prop::sample::select(vec![secs(5), secs(1)]),
        prop::sample::select(vec![secs(1), secs(10)]),
    );
    (
        any::<u64>(),
        timings,
        1u32..=10,
        prop::collection::vec(step(), 0..=60),
        any::<bool>(),
    )
        .prop_map(
            |(
                seed,
                (idle_timeout, heartbeat, connect_timeout, leave_timeout),
                max_attempts,
                steps,
                finish_by_leave,
            )| Case {
                seed,
                idle_timeout,
                heartbeat,
                connect_timeout,
                leave_timeout,
                max_attempts,
                steps,
                finish_by_leave,
            },
        )
}

impl Harness {
    fn build_frame(&self, spec: &FrameSpec) -> ServerFrame {
        match spec {
            FrameSpec::Joined { v, resumed, others } => joined_v(*v, *resumed, others),
            FrameSpec::ParticipantJoined(u) => pj(u),
            FrameSpec::ParticipantLeft(u) => pl(u),
            FrameSpec::Pong(seq) => ServerFrame::Pong {
                seq: seq.unwrap_or_else(|| self.last_ping.map_or(0, |(_, s)| s)),
            },
            FrameSpec::Left => ServerFrame::Left,
            FrameSpec::Removed => ServerFrame::Removed,
            FrameSpec::Ended => ServerFrame::Ended,
            FrameSpec::Error(code) => error_frame(*code),
        }
    }

    /// The terminal event a refusal must produce in `phase`.
    fn refusal_ends(phase: Phase, outs: &[Output]) {
        let ev = only_event(outs);
        if phase == Phase::Leaving {
            assert_eq!(
                ev,
                EventKind::SessionLeft {
                    reason: LeftReason::User
                }
            );
        } else {
            assert!(matches!(ev, EventKind::ConnectionClosed { .. }), "{ev:?}");
        }
    }

    fn assert_only_error(
        &self,
        phase: Phase,
        participants: &BTreeSet<String>,
        outs: &[Output],
        what: &str,
    ) {
        assert_eq!(names(outs), ["error"], "{what} in {phase:?}");
        assert_eq!(self.engine.phase(), phase, "{what} changed the phase");
        assert_eq!(
            &self.model_participants, participants,
            "{what} changed the participants"
        );
    }

    fn apply(&mut self, step: &Step) {
        let phase = self.engine.phase();
        let participants = self.model_participants.clone();
        let arrives = matches!(
            step,
            Step::Auto { .. }
                | Step::Frame(_)
                | Step::Garbage(_)
                | Step::Binary(_)
                | Step::Oversized
        );
        if arrives && self.engine.reading_paused() {
            // A driver does not read during an injected stall: nothing arrives.
            return;
        }
        match step {
            Step::Up => {
                if self.wire == Wire::Opening {
                    let outs = self.up();
                    assert!(names(&outs).is_empty());
                    assert!(matches!(sent(&outs)[..], [ClientFrame::Join { .. }]));
                }
            }
            Step::Down(code) => {
                if self.wire == Wire::Closed {
                    return;
                }
                let outs = self.down(*code);
                let n = names(&outs);
                match code {
                    Some(4001 | 4002) => Harness::refusal_ends(phase, &outs),
                    Some(4010) => assert_eq!(
                        only_event(&outs),
                        EventKind::SessionLeft {
                            reason: LeftReason::Replaced
                        }
                    ),
                    Some(4003) => assert_eq!(
                        only_event(&outs),
                        EventKind::SessionLeft {
                            reason: LeftReason::Removed
                        }
                    ),
                    Some(4004) => assert_eq!(
                        only_event(&outs),
                        EventKind::SessionLeft {
                            reason: LeftReason::Ended
                        }
                    ),
                    _ => match phase {
                        Phase::Joined => {
                            assert_eq!(n[..2], ["connection_lost", "reconnect_attempt"])
                        }
                        Phase::Leaving => assert_eq!(
                            only_event(&outs),
                            EventKind::SessionLeft {
                                reason: LeftReason::User
                            }
                        ),
                        _ => assert!(
                            n == ["reconnect_attempt"]
                                || n == ["reconnect_attempt", "connecting"]
                                || n == ["connection_closed"],
                            "{n:?}"
                        ),
                    },
                }
            }
            Step::Auto { resumed, others } => match self.wire {
                _ if phase == Phase::Idle => self.apply(&Step::Cmd(Command::Join)),
                Wire::Opening => {
                    self.up();
                }
                Wire::Open if matches!(phase, Phase::Connecting | Phase::Reconnecting) => {
                    let outs = self.frame(&joined(*resumed, others));
                    let first = if phase == Phase::Connecting {
                        "session_joined"
                    } else {
                        "connection_restored"
                    };
                    assert_eq!(names(&outs)[0], first);
                    assert_eq!(self.engine.phase(), Phase::Joined);
                }
                Wire::Open => {
                    let seq = self.last_ping.map_or(0, |(_, s)| s);
                    self.frame(&ServerFrame::Pong { seq });
                }
                Wire::Closed => {
                    if self.engine.poll_timeout().is_some() {
                        self.fire();
                    }
                }
            },
            Step::Frame(spec) => {
                if self.wire != Wire::Open {
                    return;
                }
                let frame = self.build_frame(spec);
                let outs = self.frame(&frame);
                let what = format!("{frame:?}");
                match spec {
                    FrameSpec::Removed => assert_eq!(
                        only_event(&outs),
                        EventKind::SessionLeft {
                            reason: LeftReason::Removed
                        }
                    ),
                    FrameSpec::Ended => assert_eq!(
                        only_event(&outs),
                        EventKind::SessionLeft {
                            reason: LeftReason::Ended
                        }
                    ),
                    FrameSpec::Error(ErrorCode::Replaced) => assert_eq!(
                        only_event(&outs),
                        EventKind::SessionLeft {
                            reason: LeftReason::Replaced
                        }
                    ),
                    FrameSpec::Error(code) if code.fatal() || *code == ErrorCode::SessionEnded => {
                        Harness::refusal_ends(phase, &outs)
                    }
                    FrameSpec::Error(_) => {
                        self.assert_only_error(phase, &participants, &outs, &what)
                    }
                    FrameSpec::Joined { v, .. } if *v != PROTOCOL_VERSION => {
                        Harness::refusal_ends(phase, &outs)
                    }
                    FrameSpec::Joined { .. } => match phase {
                        Phase::Connecting => assert_eq!(names(&outs)[0], "session_joined"),
                        Phase::Reconnecting => assert_eq!(names(&outs)[0], "connection_restored"),
                        _ => self.assert_only_error(phase, &participants, &outs, &what),
                    },
                    FrameSpec::Left if phase == Phase::Leaving => {
                        assert_eq!(
                            only_event(&outs),
                            EventKind::SessionLeft {
                                reason: LeftReason::User
                            }
                        )
                    }
                    FrameSpec::Left => self.assert_only_error(phase, &participants, &outs, &what),
                    FrameSpec::ParticipantJoined(u) | FrameSpec::ParticipantLeft(u) => {
                        let joins = matches!(spec, FrameSpec::ParticipantJoined(_));
                        let makes_sense = phase == Phase::Joined
                            && *u != ME
                            && participants.contains(*u) != joins;
                        if makes_sense {
                            assert_eq!(
                                names(&outs)[0],
                                if joins {
                                    "participant_joined"
                                } else {
                                    "participant_left"
                                }
                            );
                        } else if phase == Phase::Leaving {
                            // Others leaving with us: expected, and no error.
                            assert!(outs.is_empty(), "{what} while leaving: {outs:?}");
                            assert_eq!(self.engine.phase(), Phase::Leaving);
                        } else {
                            self.assert_only_error(phase, &participants, &outs, &what);
                        }
                    }
                    FrameSpec::Pong(_) => {
                        assert!(names(&outs).iter().all(|n| *n == "heartbeat") && outs.len() <= 1)
                    }
                }
            }
            Step::Garbage(text) => {
                if self.wire != Wire::Open || serde_json::from_str::<ServerFrame>(text).is_ok() {
                    return;
                }
                let outs = self.raw(text.clone());
                self.assert_only_error(phase, &participants, &outs, "garbage");
            }
            Step::Binary(len) => {
                if self.wire == Wire::Open {
                    let outs = self.binary(*len);
                    self.assert_only_error(phase, &participants, &outs, "a binary frame");
                }
            }
            Step::Oversized => {
                if self.wire == Wire::Open {
                    let len = self.settings.max_frame_bytes + 1;
                    let outs = self.raw(padded_participant_joined("zed", len));
                    self.assert_only_error(phase, &participants, &outs, "an oversized frame");
                }
            }
            Step::Cmd(cmd) => {
                let wire = self.wire;
                let result = self.cmd(*cmd);
                match (cmd, phase) {
                    (Command::Join, Phase::Idle) => {
                        let outs = result.expect("join when idle");
                        assert_eq!(events(&outs), [EventKind::Connecting { attempt: 1 }]);
                        assert_eq!(connects(&outs), 1);
                    }
                    (Command::Join, Phase::Leaving) => {
                        // Queued behind the leave; a second leave takes it back
                        // (the queued rejoin itself has a scenario test).
                        let outs = result.expect("join while leaving is queued");
                        assert_eq!(
                            outs,
                            [Output::Event(self.now, EventKind::Leaving { rejoin: true })]
                        );
                        let outs = self.cmd(Command::Leave).expect("leave unqueues the join");
                        assert_eq!(
                            outs,
                            [Output::Event(
                                self.now,
                                EventKind::Leaving { rejoin: false }
                            )]
                        );
                        assert_eq!(self.engine.phase(), Phase::Leaving);
                    }
                    (Command::Join, _) => {
                        assert_eq!(result.unwrap_err(), CommandError::AlreadyActive)
                    }
                    (Command::Leave, Phase::Idle) => {
                        assert_eq!(result.unwrap_err(), CommandError::NotInSession)
                    }
                    (Command::Leave, Phase::Leaving) => {
                        assert_eq!(result.unwrap_err(), CommandError::AlreadyLeaving)
                    }
                    (Command::Leave, Phase::Joined) => {
                        let outs = result.expect("leave when joined");
                        assert_eq!(events(&outs), [EventKind::Leaving { rejoin: false }]);
                        assert_eq!(sent(&outs), [ClientFrame::Leave]);
                        assert_eq!(self.engine.phase(), Phase::Leaving);
                    }
                    (Command::Leave, _) => {
                        let outs = result.expect("leave while joining");
                        assert_eq!(
                            events(&outs),
                            [EventKind::SessionLeft {
                                reason: LeftReason::User
                            }]
                        );
                    }
                    (Command::ReconnectNow, Phase::Connecting | Phase::Reconnecting) => {
                        let refused = |outs: &[Output]| {
                            events(outs).iter().any(|e| match e {
                                EventKind::ReconnectAttempt { last_error, .. } => last_error
                                    .as_deref()
                                    .is_some_and(|e| e.contains("refused on purpose")),
                                EventKind::ConnectionClosed { reason } => {
                                    reason.contains("refused on purpose")
                                }
                                _ => false,
                            })
                        };
                        if wire == Wire::Closed && refused(result.as_deref().unwrap_or(&[])) {
                            // An injected refusal took the attempt at once.
                        } else if wire == Wire::Closed {
                            let outs = result.expect("reconnect_now while waiting to retry");
                            assert_eq!(connects(&outs), 1);
                            let names = names(&outs);
                            assert!(
                                matches!(
                                    events(&outs).first(),
                                    Some(EventKind::ReconnectAttempt { delay, .. }) if delay.is_zero()
                                ),
                                "{outs:?}"
                            );
                            assert!(names[1..].iter().all(|n| *n == "connecting"), "{names:?}");
                        } else {
                            assert_eq!(result.unwrap_err(), CommandError::AttemptInFlight);
                        }
                    }
                    (Command::ReconnectNow, _) => {
                        assert_eq!(result.unwrap_err(), CommandError::NotReconnecting)
                    }
                    // Whatever a fault does, the contract and the harness's
                    // own checks on every output hold.
                    (Command::Fault(_), _) => {}
                }
            }
            Step::Advance(n) => {
                self.advance(ms(*n));
            }
            Step::ToDeadline => {
                if self.engine.poll_timeout().is_some() {
                    self.fire();
                }
            }
            Step::Oversleep(n) => {
                self.oversleep(ms(*n));
            }
        }
    }

    /// Ends a join attempt still open: `leave`, or a network that is dead from
    /// now on. Either way it must end with exactly one terminal event.
    fn finish(&mut self, by_leave: bool) {
        if !self.checker.in_attempt() {
            return;
        }
        let terminals = self.checker.terminal_events();
        let start = self.now;
        if by_leave {
            if self.engine.phase() != Phase::Leaving {
                self.cmd(Command::Leave)
                    .expect("leave is accepted during an attempt");
            }
            if self.engine.phase() == Phase::Leaving {
                // The acknowledgement never comes.
                let outs = self.fire();
                assert!(self.now - start <= self.settings.leave_timeout);
                assert_eq!(
                    only_event(&outs),
                    EventKind::SessionLeft {
                        reason: LeftReason::User
                    }
                );
            }
            assert_eq!(
                self.events.last().unwrap().1,
                EventKind::SessionLeft {
                    reason: LeftReason::User
                }
            );
        } else {
            for _ in 0..1000 {
                if !self.checker.in_attempt() {
                    break;
                }
                if self.wire == Wire::Closed {
                    self.fire();
                } else {
                    self.down(None);
                }
            }
            assert!(
                !self.checker.in_attempt(),
                "a dead network never ended the attempt"
            );
            assert!(
                self.now - start
                    <= self.engine.settings().reconnect.worst_case_budget()
                        + self.settings.leave_timeout,
                "gave up after {:?}, over the reconnect budget",
                self.now - start
            );
        }
        assert_eq!(self.checker.terminal_events(), terminals + 1);
        assert_eq!(self.engine.phase(), Phase::Idle);
        assert_eq!(self.engine.poll_timeout(), None);
        assert_eq!(self.wire, Wire::Closed);
        assert!(self.engine.poll_output().is_none());
    }
}

fn run_case(case: &Case, base: Instant) -> Harness {
    let settings = builder()
        .idle_timeout(case.idle_timeout)
        .heartbeat_interval(case.heartbeat.0)
        .heartbeat_timeout(case.heartbeat.1)
        .connect_timeout(case.connect_timeout)
        .leave_timeout(case.leave_timeout)
        .reconnect(ReconnectPolicy {
            max_attempts: case.max_attempts,
            ..ReconnectPolicy::default()
        })
        .build()
        .unwrap();
    let mut h = Harness::with(settings, case.seed, base);
    h.cmd(Command::Join).unwrap();
    for step in &case.steps {
        h.apply(step);
    }
    h.finish(case.finish_by_leave);
    // Whatever happened, a new join starts cleanly.
    let outs = h.cmd(Command::Join).unwrap();
    assert_eq!(events(&outs), [EventKind::Connecting { attempt: 1 }]);
    h.cmd(Command::Leave).unwrap();
    h
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn random_schedules_keep_the_contract(case in case()) {
        let base = Instant::now();
        let a = run_case(&case, base);
        // Same seed, same schedule: the same events and frames (replayable).
        let b = run_case(&case, base);
        prop_assert_eq!(&a.events, &b.events);
        prop_assert_eq!(&a.sent, &b.sent);
    }
}

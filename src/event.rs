//! Session events as plain data: what the engine reports, when (wall clock
//! and an offset from the start of the run), and their NDJSON form
//! (docs/EVENTS.md, "Line shape", "Session-status events" and "Other events").
//!
//! An NDJSON line is the serialisation of the [`SessionEvent`] itself
//! (serde both ways), with the run's session and user beside it; a recording
//! is a file of such lines (see [`crate::record`]).

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::engine::{Command, CommandError, Fault, Violation};

/// Why we are out of the session after `session_left`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LeftReason {
    /// We called `leave` (keyboard, stdin, a signal).
    User,
    /// An administrator removed us.
    Removed,
    /// The session was ended for everyone.
    Ended,
    /// Another connection joined as us (our own client again, after a drop
    /// we did not notice yet, or someone with our identity).
    Replaced,
}

/// What a server told us about itself and the session, as far as its
/// protocol says: shown in the dashboard, printed as a `server_info` line, so
/// a drop can be matched against the server's own logs and limits.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerFacts {
    /// Server software and version ("Janus WebRTC Server 1.1.2").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server: Option<String>,
    /// The server's name for itself (Janus `server-name`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_name: Option<String>,
    /// How long the server keeps a silent session (Janus `session-timeout`).
    #[serde(
        default,
        rename = "session_timeout_ms",
        with = "opt_ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_timeout: Option<Duration>,
    /// How long the server keeps our slot after the socket drops: calltop's
    /// resume window, Janus's `reclaim-session-timeout` (zero: a drop always
    /// means a full rejoin).
    #[serde(
        default,
        rename = "resume_window_ms",
        with = "opt_ms",
        skip_serializing_if = "Option::is_none"
    )]
    pub resume_window: Option<Duration>,
    /// The room's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<String>,
    /// Our session on the server (Janus session id), to find us in its logs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_session: Option<String>,
    /// Our own participant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own_id: Option<String>,
}

/// What happened. The six session-status events are the ones
/// [`EventKind::is_status`] names; the rest feed dashboards and logs.
///
/// The serde form is the NDJSON line's `event` and fields; durations are
/// whole milliseconds (`*_ms`) or seconds (`*_s`) as the contract says, so an
/// event read back from its line is equal to the one written once it has
/// been through [`EventKind::quantized`] (the driver does that before
/// anyone sees an event).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum EventKind {
    /// A connection attempt starts (first join, or a retry of it).
    Connecting {
        /// The attempt's number, from 1.
        attempt: u32,
    },
    /// The server acknowledged our join. One [`EventKind::ParticipantJoined`]
    /// per participant already there follows.
    SessionJoined {
        /// How many others are there, us not counted.
        participants: usize,
    },
    /// Terminal: we are out of the session, for the reason given.
    SessionLeft {
        /// Why: we left, an administrator removed us, the session was ended, or
        /// another connection joined as us.
        reason: LeftReason,
    },
    /// Terminal: we were the only participant for the whole idle timeout and
    /// left the session ourselves.
    SessionTimedOut {
        /// The idle timeout that ran out, in whole seconds (`idle_timeout_s` on
        /// the line).
        #[serde(rename = "idle_timeout_s", with = "secs")]
        idle_timeout: Duration,
    },
    /// The transport dropped, or a heartbeat went unanswered, while we were
    /// in the session. Reconnecting starts at once.
    ConnectionLost {
        /// What happened, in words for people (show it, do not parse it).
        reason: String,
        /// Caused by a fault injected on purpose (`fault_injected` came first),
        /// not by the network or the server; left out of the line when `false`.
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        injected: bool,
    },
    /// After a [`EventKind::ConnectionLost`]: connected and back in the same
    /// session.
    ConnectionRestored {
        /// The server kept our slot and others saw nothing; `false`: we rejoined
        /// afresh.
        resumed: bool,
        /// How long we were away, since the `connection_lost`, in whole
        /// milliseconds (`downtime_ms` on the line).
        #[serde(rename = "downtime_ms", with = "ms")]
        downtime: Duration,
        /// The reconnect attempts it took, this one included.
        attempts: u32,
    },
    /// Terminal: the connection is gone for good (attempts exhausted, or the
    /// server refused us in a way retrying cannot fix). Can come before any
    /// [`EventKind::SessionJoined`].
    ConnectionClosed {
        /// Why, in words for people (show it, do not parse it).
        reason: String,
    },
    /// The next attempt is scheduled `delay` after this event; `last_error`
    /// says what the try before ran into.
    ReconnectAttempt {
        /// The number of the attempt scheduled, from 1.
        attempt: u32,
        /// How many attempts there are before `connection_closed`
        /// ([`crate::ReconnectPolicy::max_attempts`]).
        max: u32,
        /// How long after this event the attempt starts, in whole milliseconds
        /// (`delay_ms` on the line); zero when it was hurried
        /// ([`Command::ReconnectNow`]).
        #[serde(rename = "delay_ms", with = "ms")]
        delay: Duration,
        /// Why the attempt before failed (after a loss, the loss itself), if there
        /// was one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_error: Option<String>,
    },
    /// Someone is in the session: they joined, or they were already there
    /// when we joined, or they joined while we were reconnecting.
    ParticipantJoined {
        /// The name they go by; empty when the server has none for them.
        user: String,
        /// What the server keys them by: the user name on calltop's protocol,
        /// Janus's participant id on Janus. Follow people by it (names may be
        /// shared, and a rename keeps the id).
        id: String,
        /// When they joined, to the millisecond, if the server says (calltop's
        /// protocol does, Janus does not).
        #[serde(default, with = "opt_rfc3339", skip_serializing_if = "Option::is_none")]
        joined_at: Option<SystemTime>,
    },
    /// Someone left, was removed, or did not come back within the server's
    /// resume window (also for anyone who left while we were reconnecting).
    ParticipantLeft {
        /// The name they went by; empty when the server had none for them.
        user: String,
        /// What the server keyed them by (as on their `participant_joined`).
        id: String,
    },
    /// A participant now goes by another name: the same person, not a leave
    /// and a join.
    ParticipantRenamed {
        /// The name they go by now.
        user: String,
        /// What the server keys them by: the same as before the rename.
        id: String,
        /// The name they went by before.
        previous: String,
    },
    /// What the server said about itself, after each join or restore.
    ServerInfo(ServerFacts),
    /// We are alone; we leave `timeout` after this event unless someone
    /// joins. The line also carries the deadline on the wall clock
    /// (`deadline_ms`, milliseconds since the Unix epoch).
    IdleCountdownStarted {
        /// The idle timeout: how long after this event we leave, in whole
        /// seconds (`seconds` on the line).
        #[serde(rename = "seconds", with = "secs")]
        timeout: Duration,
    },
    /// Someone joined before the idle deadline. A terminal event stops a
    /// running countdown without this event.
    IdleCountdownCancelled,
    /// A heartbeat answered after `rtt`. The line has `rtt_ms` (the
    /// contract's field, whole milliseconds) and `rtt_us` (microseconds: on
    /// loopback a round trip takes well under a millisecond).
    Heartbeat {
        /// The heartbeat's round trip, to the microsecond.
        #[serde(rename = "rtt_us", with = "us", default)]
        rtt: Duration,
    },
    /// Something went wrong that did not end the session (a bad frame, a server notice).
    Error {
        /// What went wrong, in words for people (show it, do not parse it).
        message: String,
    },
    /// Our leave is under way: the server has been told and we wait for its
    /// answer (the terminal `session_left` follows, within the leave timeout
    /// at the latest).
    Leaving {
        /// A join was asked for meanwhile and follows the leave (sent again,
        /// with `false`, when a second leave takes that back).
        rejoin: bool,
    },
    /// A command made no sense when it arrived; nothing changed.
    CommandRefused {
        /// The command that was refused.
        command: Command,
        /// Why it made no sense when it arrived.
        reason: CommandError,
    },
    /// What this stream is of: the first line of headless output and of a
    /// recording. Not from the engine; see [`crate::CallSession::run_started`].
    RunStarted {
        /// The run: calltop's version, the backend, server, session, user and
        /// settings in force.
        run: RunInfo,
    },
    /// A failure provoked on purpose (a key, `fault …` on stdin, the
    /// library's [`Command::Fault`]); what follows from it is no outage.
    FaultInjected {
        /// The fault, with what it was given (a stall's length, how many attempts
        /// to refuse, the idle timeout).
        #[serde(flatten)]
        fault: Fault,
    },
    /// A fault that lasts is over: a stall's time is up (or its connection
    /// went), the refused attempts are used up.
    FaultEnded {
        /// The fault that is over, as it was injected.
        #[serde(flatten)]
        fault: Fault,
    },
    /// The stream broke an ordering rule of the contract (see
    /// [`crate::engine::ContractChecker`]): a bug in calltop, its backend or
    /// the tool that wrote the stream. Reported after the event that broke
    /// it; nothing is changed or dropped.
    ContractViolation(Violation),
}

/// Which run a stream of events is of, with the settings in force (see
/// [`crate::SessionSettings::describe`]: secrets are named, never shown).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunInfo {
    /// The calltop version that wrote it.
    pub calltop: String,
    /// The backend the run used.
    pub backend: crate::BackendKind,
    /// The server's URL, as the settings hold it (normalised by the URL
    /// parser: `ws://host:7878/ws`).
    pub server: String,
    /// The session (room) id of the run.
    pub session: String,
    /// Our own user name in the run.
    pub user: String,
    /// The settings in force, as [`crate::SessionSettings::describe`] gives
    /// them (an [`InForce`](crate::settings::InForce)); `null` when the line
    /// has none.
    #[serde(default)]
    pub settings: serde_json::Value,
}

impl RunInfo {
    /// The run of these settings, by this version of calltop.
    pub fn of(settings: &crate::SessionSettings) -> RunInfo {
        RunInfo {
            calltop: env!("CARGO_PKG_VERSION").to_owned(),
            backend: settings.backend,
            server: settings.server.to_string(),
            session: settings.session.clone(),
            user: settings.user.clone(),
            settings: settings.describe(),
        }
    }
}

impl EventKind {
    /// The NDJSON `event` name.
    pub fn name(&self) -> &'static str {
        match self {
            EventKind::Connecting { .. } => "connecting",
            EventKind::SessionJoined { .. } => "session_joined",
            EventKind::SessionLeft { .. } => "session_left",
            EventKind::SessionTimedOut { .. } => "session_timed_out",
            EventKind::ConnectionLost { .. } => "connection_lost",
            EventKind::ConnectionRestored { .. } => "connection_restored",
            EventKind::ConnectionClosed { .. } => "connection_closed",
            EventKind::ReconnectAttempt { .. } => "reconnect_attempt",
            EventKind::ParticipantJoined { .. } => "participant_joined",
            EventKind::ParticipantLeft { .. } => "participant_left",
            EventKind::ParticipantRenamed { .. } => "participant_renamed",
            EventKind::ServerInfo(_) => "server_info",
            EventKind::IdleCountdownStarted { .. } => "idle_countdown_started",
            EventKind::IdleCountdownCancelled => "idle_countdown_cancelled",
            EventKind::Heartbeat { .. } => "heartbeat",
            EventKind::Error { .. } => "error",
            EventKind::Leaving { .. } => "leaving",
            EventKind::CommandRefused { .. } => "command_refused",
            EventKind::RunStarted { .. } => "run_started",
            EventKind::FaultInjected { .. } => "fault_injected",
            EventKind::FaultEnded { .. } => "fault_ended",
            EventKind::ContractViolation(_) => "contract_violation",
        }
    }

    /// One of the six session-status events of the listener API.
    pub fn is_status(&self) -> bool {
        matches!(
            self,
            EventKind::SessionJoined { .. }
                | EventKind::SessionLeft { .. }
                | EventKind::SessionTimedOut { .. }
                | EventKind::ConnectionLost { .. }
                | EventKind::ConnectionRestored { .. }
                | EventKind::ConnectionClosed { .. }
        )
    }

    /// Ends a join attempt (ordering invariant 1).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self,
            EventKind::SessionLeft { .. }
                | EventKind::SessionTimedOut { .. }
                | EventKind::ConnectionClosed { .. }
        )
    }

    /// About another participant: on its line, `user` is theirs, not ours.
    pub fn is_participant(&self) -> bool {
        matches!(
            self,
            EventKind::ParticipantJoined { .. }
                | EventKind::ParticipantLeft { .. }
                | EventKind::ParticipantRenamed { .. }
        )
    }

    /// The event with its durations cut to what its NDJSON line holds, so
    /// that what a live dashboard shows and what a replay of the recording
    /// shows are the same.
    pub fn quantized(self) -> EventKind {
        let ms = |d: Duration| Duration::from_millis(d.as_millis() as u64);
        let us = |d: Duration| Duration::from_micros(d.as_micros() as u64);
        let secs = |d: Duration| Duration::from_secs(d.as_secs());
        match self {
            EventKind::SessionTimedOut { idle_timeout } => EventKind::SessionTimedOut {
                idle_timeout: secs(idle_timeout),
            },
            EventKind::ConnectionRestored {
                resumed,
                downtime,
                attempts,
            } => EventKind::ConnectionRestored {
                resumed,
                downtime: ms(downtime),
                attempts,
            },
            EventKind::ReconnectAttempt {
                attempt,
                max,
                delay,
                last_error,
            } => EventKind::ReconnectAttempt {
                attempt,
                max,
                delay: ms(delay),
                last_error,
            },
            EventKind::ParticipantJoined {
                user,
                id,
                joined_at,
            } => EventKind::ParticipantJoined {
                user,
                id,
                joined_at: joined_at.map(wall_ms),
            },
            EventKind::ServerInfo(f) => EventKind::ServerInfo(ServerFacts {
                session_timeout: f.session_timeout.map(ms),
                resume_window: f.resume_window.map(ms),
                ..f
            }),
            EventKind::IdleCountdownStarted { timeout } => EventKind::IdleCountdownStarted {
                timeout: secs(timeout),
            },
            EventKind::Heartbeat { rtt } => EventKind::Heartbeat { rtt: us(rtt) },
            EventKind::FaultInjected { fault } => EventKind::FaultInjected {
                fault: fault.quantized(),
            },
            EventKind::FaultEnded { fault } => EventKind::FaultEnded {
                fault: fault.quantized(),
            },
            other => other,
        }
    }
}

/// An event with when it happened: `ts` on the wall clock (for people and
/// logs, whole milliseconds), `offset` on the run's monotonic clock (for
/// countdowns and replays, whole microseconds; see [`crate::clock::Clock`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEvent {
    /// When it happened on the wall clock, whole milliseconds (the line's
    /// `ts`). A session's own events have its clock's start plus `offset`.
    pub ts: SystemTime,
    /// When it happened on the run's monotonic clock: the time since the run
    /// started, whole microseconds (the line's `t_ms`). Never goes backwards.
    pub offset: Duration,
    /// What happened.
    pub kind: EventKind,
}

/// A wall-clock time cut to whole milliseconds since the epoch.
pub fn wall_ms(t: SystemTime) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_millis(epoch_ms(t))
}

/// A monotonic offset cut to whole microseconds.
pub fn offset_us(d: Duration) -> Duration {
    Duration::from_micros(d.as_micros() as u64)
}

impl SessionEvent {
    /// An event as the driver reports it: times and durations cut to what its
    /// NDJSON line holds (see [`EventKind::quantized`]).
    pub fn new(ts: SystemTime, offset: Duration, kind: EventKind) -> SessionEvent {
        SessionEvent {
            ts: wall_ms(ts),
            offset: offset_us(offset),
            kind: kind.quantized(),
        }
    }

    /// Where a countdown this event started ends, as an offset.
    pub fn idle_deadline(&self) -> Option<Duration> {
        match self.kind {
            EventKind::IdleCountdownStarted { timeout } => Some(self.offset + timeout),
            _ => None,
        }
    }

    /// One NDJSON line (without the newline). `session` and `user` are ours,
    /// except on `participant_*` lines, where `user` is the participant.
    pub fn to_ndjson(&self, session: &str, user: &str) -> String {
        let line = LineOut::new(self, Some(session), Some(user));
        escape_for_terminals(serde_json::to_string(&line).expect("event lines always serialize"))
    }

    /// Reads one NDJSON line back. A line without `t_ms` (NDJSON from
    /// before offsets, or written by hand) gets the offset `None` says.
    pub fn from_ndjson(line: &str) -> Result<Parsed, serde_json::Error> {
        let l: LineIn = serde_json::from_str(line)?;
        l.into_event()
    }
}

/// A line read back: the event, and the session it names, if it does.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The event read.
    pub event: SessionEvent,
    /// The line had no `t_ms`: `event.offset` is zero, to be worked out from `ts`.
    pub no_offset: bool,
    /// The line's `session`: the session the run was in, if the line names it.
    pub session: Option<String>,
}

impl Serialize for SessionEvent {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        LineOut::new(self, None, None).serialize(s)
    }
}

impl<'de> Deserialize<'de> for SessionEvent {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LineIn::deserialize(d)?
            .into_event()
            .map(|p| p.event)
            .map_err(serde::de::Error::custom)
    }
}

#[derive(Serialize)]
struct LineOut<'a> {
    #[serde(with = "rfc3339")]
    ts: SystemTime,
    #[serde(with = "offset_ms")]
    t_ms: Duration,
    #[serde(flatten)]
    kind: &'a EventKind,
    /// Derived, for the contract: see [`EventKind::IdleCountdownStarted`].
    #[serde(skip_serializing_if = "Option::is_none")]
    deadline_ms: Option<u64>,
    /// Derived, for the contract: see [`EventKind::Heartbeat`].
    #[serde(skip_serializing_if = "Option::is_none")]
    rtt_ms: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

impl<'a> LineOut<'a> {
    fn new(ev: &'a SessionEvent, session: Option<&'a str>, user: Option<&'a str>) -> Self {
        LineOut {
            ts: ev.ts,
            t_ms: ev.offset,
            kind: &ev.kind,
            deadline_ms: match ev.kind {
                EventKind::IdleCountdownStarted { timeout } => Some(epoch_ms(ev.ts + timeout)),
                _ => None,
            },
            rtt_ms: match ev.kind {
                EventKind::Heartbeat { rtt } => Some(rtt.as_millis() as u64),
                _ => None,
            },
            session,
            user: user.filter(|_| !ev.kind.is_participant()),
        }
    }
}

#[derive(Deserialize)]
struct LineIn {
    #[serde(with = "rfc3339")]
    ts: SystemTime,
    #[serde(default, with = "opt_offset_ms")]
    t_ms: Option<Duration>,
    #[serde(default)]
    deadline_ms: Option<u64>,
    #[serde(default)]
    rtt_ms: Option<u64>,
    #[serde(default)]
    session: Option<String>,
    #[serde(flatten)]
    kind: EventKind,
}

impl LineIn {
    fn into_event(self) -> Result<Parsed, serde_json::Error> {
        let mut kind = self.kind;
        match &mut kind {
            // The deadline is the precise form of `seconds`.
            EventKind::IdleCountdownStarted { timeout } => {
                if let Some(d) = self.deadline_ms {
                    let start = epoch_ms(self.ts);
                    *timeout = Duration::from_millis(d.checked_sub(start).ok_or_else(|| {
                        serde::de::Error::custom("idle_countdown_started: deadline_ms before ts")
                    })?);
                }
            }
            // A line from a tool that writes the contract's field only.
            EventKind::Heartbeat { rtt } if rtt.is_zero() => {
                if let Some(ms) = self.rtt_ms {
                    *rtt = Duration::from_millis(ms);
                }
            }
            _ => {}
        }
        Ok(Parsed {
            event: SessionEvent {
                ts: self.ts,
                offset: self.t_ms.unwrap_or_default(),
                kind,
            },
            no_offset: self.t_ms.is_none(),
            session: self.session,
        })
    }
}

/// What JSON allows raw inside strings but a terminal must not get raw:
/// [`crate::text::is_disguising`], and DEL.
fn needs_escape(c: char) -> bool {
    c == '\u{7f}' || crate::text::is_disguising(c)
}

/// Writes those characters as JSON `\u` escapes, so an NDJSON line read in a
/// terminal (`tail -f`, a pipe to less) shows them instead of obeying them.
/// They can only occur inside JSON strings, so the line stays the same JSON.
pub fn escape_for_terminals(line: String) -> String {
    // Most lines are plain ASCII, which needs nothing but DEL escaped.
    if line.bytes().all(|b| b < 0x7f) || !line.chars().any(needs_escape) {
        return line;
    }
    let mut out = String::with_capacity(line.len() + 16);
    for c in line.chars() {
        if needs_escape(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// RFC 3339 UTC with milliseconds, as the NDJSON `ts`.
pub fn rfc3339_ms(t: SystemTime) -> String {
    match jiff::Timestamp::try_from(t) {
        Ok(ts) => format!("{ts:.3}"),
        // Beyond jiff's range (year 9999): not a time any clock here gives.
        Err(_) => "9999-12-31T23:59:59.999Z".to_owned(),
    }
}

/// Reads an RFC 3339 time (any offset; a missing one is an error).
pub fn parse_rfc3339(s: &str) -> Option<SystemTime> {
    s.parse::<jiff::Timestamp>().ok().map(SystemTime::from)
}

fn epoch_ms(t: SystemTime) -> u64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

mod rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &SystemTime, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::rfc3339_ms(*t))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<SystemTime, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::parse_rfc3339(&s)
            .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not an RFC 3339 time")))
    }
}

mod opt_rfc3339 {
    use std::time::SystemTime;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<SystemTime>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => super::rfc3339::serialize(t, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SystemTime>, D::Error> {
        let s = <Option<std::borrow::Cow<'de, str>>>::deserialize(d)?;
        match s {
            None => Ok(None),
            Some(s) => super::parse_rfc3339(&s)
                .map(Some)
                .ok_or_else(|| serde::de::Error::custom(format!("{s:?} is not an RFC 3339 time"))),
        }
    }
}

pub(crate) mod ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_millis() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

mod opt_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_u64(d.as_millis() as u64),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        Ok(<Option<u64>>::deserialize(d)?.map(Duration::from_millis))
    }
}

mod us {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_micros() as u64)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_micros)
    }
}

pub(crate) mod secs {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_secs)
    }
}

/// `t_ms`: milliseconds with up to three decimals (the offset is kept to
/// the microsecond), so people read milliseconds and nothing is lost.
mod offset_ms {
    use std::time::Duration;

    use serde::Serializer;

    pub fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let us = d.as_micros() as u64;
        if us.is_multiple_of(1000) {
            s.serialize_u64(us / 1000)
        } else {
            s.serialize_f64(us as f64 / 1000.0)
        }
    }
}

pub(crate) mod opt_offset_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer};

    /// Offsets beyond this are not from a run (about 285 years).
    const MAX_MS: f64 = 9.0e12;

    pub fn serialize<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::offset_ms::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
        match <Option<f64>>::deserialize(d)? {
            None => Ok(None),
            Some(ms) if ms.is_finite() && (0.0..MAX_MS).contains(&ms) => {
                Ok(Some(Duration::from_micros((ms * 1000.0).round() as u64)))
            }
            Some(ms) => Err(serde::de::Error::custom(format!(
                "t_ms {ms} is not an offset in a run"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(kind: EventKind) -> SessionEvent {
        SessionEvent::new(
            SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_123),
            Duration::from_micros(61_250_500),
            kind,
        )
    }

    fn json(ev: &SessionEvent) -> serde_json::Value {
        serde_json::from_str(&ev.to_ndjson("demo", "alice")).unwrap()
    }

    #[test]
    fn ndjson_line_has_the_contract_shape() {
        let v = json(&at(EventKind::SessionLeft {
            reason: LeftReason::Removed,
        }));
        assert_eq!(v["event"], "session_left");
        assert_eq!(v["reason"], "removed");
        assert_eq!(v["session"], "demo");
        assert_eq!(v["user"], "alice");
        assert_eq!(v["ts"], "2026-11-18T11:06:40.123Z");
        assert_eq!(v["t_ms"], 61250.5, "the offset, to the microsecond");
    }

    #[test]
    fn participant_lines_name_the_participant() {
        let v = json(&at(EventKind::ParticipantLeft {
            id: "4711".into(),
            user: "bob".into(),
        }));
        assert_eq!(v["user"], "bob");
        assert_eq!(v["id"], "4711");
    }

    #[test]
    fn terminal_controls_from_the_server_are_escaped_and_the_line_stays_json() {
        let name = "eve\u{9b}2J\u{9d}0;x\u{7}\u{202e}gnp.exe\u{e0041}";
        let line = at(EventKind::ParticipantJoined {
            id: name.into(),
            user: name.into(),
            joined_at: None,
        })
        .to_ndjson("demo", "alice");
        assert!(line.is_ascii(), "{line}");
        assert!(
            line.contains(r"\u009b") && line.contains(r"\u202e"),
            "{line}"
        );
        assert!(
            line.contains(r"\udb40\udc41"),
            "a tag character as its surrogate pair: {line}"
        );
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["user"], name, "the same name once parsed");
        let plain = at(EventKind::ParticipantLeft {
            id: "zoë".into(),
            user: "zoë 日本".into(),
        })
        .to_ndjson("demo", "alice");
        assert!(
            plain.contains("zoë 日本"),
            "other text stays as it is: {plain}"
        );
    }

    #[test]
    fn restored_carries_resumed_downtime_and_attempts() {
        let v = json(&at(EventKind::ConnectionRestored {
            resumed: true,
            downtime: Duration::from_millis(1234),
            attempts: 3,
        }));
        assert_eq!(v["resumed"], true);
        assert_eq!(v["downtime_ms"], 1234);
        assert_eq!(v["attempts"], 3);
    }

    #[test]
    fn idle_deadline_is_wall_clock_milliseconds() {
        let v = json(&at(EventKind::IdleCountdownStarted {
            timeout: Duration::from_secs(300),
        }));
        assert_eq!(v["deadline_ms"], 1_795_000_300_123u64);
        assert_eq!(v["seconds"], 300);
    }

    #[test]
    fn heartbeats_carry_the_contract_milliseconds_and_the_microseconds() {
        let v = json(&at(EventKind::Heartbeat {
            rtt: Duration::from_micros(2_420),
        }));
        assert_eq!(v["rtt_ms"], 2);
        assert_eq!(v["rtt_us"], 2_420);
    }

    #[test]
    fn refused_commands_say_which_and_why() {
        let v = json(&at(EventKind::CommandRefused {
            command: Command::ReconnectNow,
            reason: CommandError::NotReconnecting,
        }));
        assert_eq!(v["event"], "command_refused");
        assert_eq!(v["command"], "reconnect_now");
        assert_eq!(v["reason"], "not_reconnecting");
        assert_eq!(v["user"], "alice");
    }

    fn every_kind() -> Vec<EventKind> {
        let d = Duration::from_millis(1500);
        vec![
            EventKind::Connecting { attempt: 2 },
            EventKind::SessionJoined { participants: 3 },
            EventKind::SessionLeft {
                reason: LeftReason::Ended,
            },
            EventKind::SessionTimedOut {
                idle_timeout: Duration::from_secs(300),
            },
            EventKind::ConnectionLost {
                reason: "heartbeat \"unanswered\"".into(),
                injected: false,
            },
            EventKind::ConnectionRestored {
                resumed: false,
                downtime: d,
                attempts: 4,
            },
            EventKind::ConnectionClosed {
                reason: "gave up".into(),
            },
            EventKind::ReconnectAttempt {
                attempt: 1,
                max: 10,
                delay: d,
                last_error: None,
            },
            EventKind::ParticipantJoined {
                user: "bob".into(),
                id: "77".into(),
                joined_at: Some(SystemTime::UNIX_EPOCH + Duration::from_millis(1_700_000_000_456)),
            },
            EventKind::ParticipantJoined {
                user: String::new(),
                id: "78".into(),
                joined_at: None,
            },
            EventKind::ParticipantLeft {
                user: "bob".into(),
                id: "77".into(),
            },
            EventKind::ParticipantRenamed {
                user: "rob".into(),
                id: "77".into(),
                previous: "bob".into(),
            },
            EventKind::ServerInfo(ServerFacts {
                server: Some("Janus WebRTC Server 1.1.2".into()),
                session_timeout: Some(Duration::from_secs(60)),
                resume_window: Some(Duration::ZERO),
                own_id: Some("9".into()),
                ..ServerFacts::default()
            }),
            EventKind::ServerInfo(ServerFacts::default()),
            EventKind::IdleCountdownStarted {
                timeout: Duration::from_secs(300),
            },
            EventKind::IdleCountdownCancelled,
            EventKind::Heartbeat {
                rtt: Duration::from_micros(420),
            },
            EventKind::Error {
                message: "bad frame".into(),
            },
            EventKind::Leaving { rejoin: true },
            EventKind::CommandRefused {
                command: Command::Join,
                reason: CommandError::AlreadyActive,
            },
            EventKind::RunStarted {
                run: RunInfo::of(
                    &crate::SessionSettings::builder("ws://127.0.0.1:1/ws", "demo", "alice")
                        .token("t0ps3cret")
                        .build()
                        .unwrap(),
                ),
            },
        ]
    }

    #[test]
    fn every_event_reads_back_equal_from_its_line() {
        for kind in every_kind() {
            let ev = at(kind);
            let line = ev.to_ndjson("demo", "alice");
            let back = SessionEvent::from_ndjson(&line).unwrap();
            assert_eq!(back.event, ev, "{line}");
            assert_eq!(back.session.as_deref(), Some("demo"));
            assert!(!back.no_offset);
            // And through serde alone, without the run's session and user.
            let plain = serde_json::to_string(&ev).unwrap();
            assert_eq!(serde_json::from_str::<SessionEvent>(&plain).unwrap(), ev);
            assert!(!line.contains("t0ps3cret"), "secrets stay out: {line}");
        }
    }

    #[test]
    fn lines_in_the_contract_shape_without_offsets_are_read() {
        let p = SessionEvent::from_ndjson(
            r#"{"ts":"2026-11-25T04:30:00.123Z","event":"heartbeat","rtt_ms":12,"session":"demo","user":"alice"}"#,
        )
        .unwrap();
        assert!(p.no_offset);
        assert_eq!(
            p.event.kind,
            EventKind::Heartbeat {
                rtt: Duration::from_millis(12)
            }
        );
        for bad in [
            r#"{"ts":"yesterday","event":"heartbeat","rtt_ms":1}"#,
            r#"{"ts":"2026-11-25T04:30:00.123Z","event":"teleported"}"#,
            r#"{"ts":"2026-11-25T04:30:00.123Z","event":"connecting"}"#,
            r#"{"ts":"2026-11-25T04:30:00.123Z","t_ms":-5,"event":"idle_countdown_cancelled"}"#,
            r#"{"ts":"2026-11-25T04:30:00.123Z","event":"idle_countdown_started","seconds":3,"deadline_ms":5}"#,
        ] {
            assert!(SessionEvent::from_ndjson(bad).is_err(), "{bad}");
        }
    }
}

//! Session events: what the engine reports, with their NDJSON form (docs/EVENTS.md,
//! "Line shape", "Session-status events" and "Other events").

use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

/// Why we are out of the session after `session_left`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LeftReason {
    /// We called `leave` (keyboard, stdin, a signal).
    User,
    /// An administrator removed us.
    Removed,
    /// The session was ended for everyone.
    Ended,
}

/// What a server told us about itself and the session, as far as its
/// protocol says: shown in the dashboard, printed as a `server_info` line, so
/// a drop can be matched against the server's own logs and limits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerFacts {
    /// Server software and version ("Janus WebRTC Server 1.1.2").
    pub server: Option<String>,
    /// The server's name for itself (Janus `server-name`).
    pub server_name: Option<String>,
    /// How long the server keeps a silent session (Janus `session-timeout`).
    pub session_timeout: Option<Duration>,
    /// How long the server keeps our slot after the socket drops: calltop's
    /// resume window, Janus's `reclaim-session-timeout` (zero: a drop always
    /// means a full rejoin).
    pub resume_window: Option<Duration>,
    /// The room's description.
    pub room: Option<String>,
    /// Our session on the server (Janus session id), to find us in its logs.
    pub server_session: Option<String>,
    /// Our own participant id.
    pub own_id: Option<String>,
}

/// What happened. The six session-status events are the ones
/// [`EventKind::is_status`] names; the rest feed dashboards and logs.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    /// A connection attempt starts (first join, or a retry of it).
    Connecting {
        attempt: u32,
    },
    SessionJoined {
        participants: usize,
    },
    SessionLeft {
        reason: LeftReason,
    },
    SessionTimedOut {
        idle_timeout: Duration,
    },
    ConnectionLost {
        reason: String,
    },
    ConnectionRestored {
        resumed: bool,
        downtime: Duration,
        attempts: u32,
    },
    ConnectionClosed {
        reason: String,
    },
    /// The next attempt is scheduled `delay` from now.
    ReconnectAttempt {
        attempt: u32,
        max: u32,
        delay: Duration,
    },
    /// `id` is what the server keys them by (the user name on calltop's
    /// protocol, a number on Janus); `user` is the name they go by, empty
    /// when the server has none.
    ParticipantJoined {
        id: String,
        user: String,
        joined_at: Option<SystemTime>,
    },
    ParticipantLeft {
        id: String,
        user: String,
    },
    /// A participant now goes by another name: the same person, not a leave
    /// and a join.
    ParticipantRenamed {
        id: String,
        user: String,
        previous: String,
    },
    /// What the server said about itself, after each join or restore.
    ServerInfo(ServerFacts),
    /// We are alone; we leave at `deadline` unless someone joins.
    IdleCountdownStarted {
        deadline: Instant,
        seconds: u64,
    },
    IdleCountdownCancelled,
    Heartbeat {
        rtt: Duration,
    },
    /// Something went wrong that did not end the session (a bad frame, a server notice).
    Error {
        message: String,
    },
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
}

/// An event with when it happened: `at` on the monotonic clock (for countdowns),
/// `ts` on the wall clock (for people and logs).
#[derive(Debug, Clone, PartialEq)]
pub struct SessionEvent {
    pub at: Instant,
    pub ts: SystemTime,
    pub kind: EventKind,
}

#[derive(Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
enum Body<'a> {
    Connecting {
        attempt: u32,
    },
    SessionJoined {
        participants: usize,
    },
    SessionLeft {
        reason: LeftReason,
    },
    SessionTimedOut {
        idle_timeout_s: u64,
    },
    ConnectionLost {
        reason: &'a str,
    },
    ConnectionRestored {
        resumed: bool,
        downtime_ms: u128,
        attempts: u32,
    },
    ConnectionClosed {
        reason: &'a str,
    },
    ReconnectAttempt {
        attempt: u32,
        max: u32,
        delay_ms: u128,
    },
    ParticipantJoined {
        user: &'a str,
        id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        joined_at: Option<String>,
    },
    ParticipantLeft {
        user: &'a str,
        id: &'a str,
    },
    ParticipantRenamed {
        user: &'a str,
        id: &'a str,
        previous: &'a str,
    },
    ServerInfo {
        #[serde(skip_serializing_if = "Option::is_none")]
        server: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        server_name: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        session_timeout_ms: Option<u128>,
        #[serde(skip_serializing_if = "Option::is_none")]
        resume_window_ms: Option<u128>,
        #[serde(skip_serializing_if = "Option::is_none")]
        room: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        server_session: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        own_id: Option<&'a str>,
    },
    IdleCountdownStarted {
        deadline_ms: u128,
        seconds: u64,
    },
    IdleCountdownCancelled,
    Heartbeat {
        rtt_ms: u128,
    },
    Error {
        message: &'a str,
    },
}

#[derive(Serialize)]
struct Line<'a> {
    ts: String,
    #[serde(flatten)]
    body: Body<'a>,
    session: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    user: Option<&'a str>,
}

/// What JSON allows raw inside strings but a terminal must not get raw:
/// [`crate::text::is_disguising`], and DEL.
fn needs_escape(c: char) -> bool {
    c == '\u{7f}' || crate::text::is_disguising(c)
}

/// Writes those characters as JSON `\u` escapes, so an NDJSON line read in a
/// terminal (`tail -f`, a pipe to less) shows them instead of obeying them.
/// They can only occur inside JSON strings, so the line stays the same JSON.
fn escape_for_terminals(line: String) -> String {
    if !line.chars().any(needs_escape) {
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
    humantime::format_rfc3339_millis(t).to_string()
}

fn epoch_ms(t: SystemTime) -> u128 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

impl SessionEvent {
    /// Maps a monotonic instant to the wall clock through this event's own pair.
    pub fn wall_time(&self, instant: Instant) -> SystemTime {
        if instant >= self.at {
            self.ts + (instant - self.at)
        } else {
            self.ts - (self.at - instant)
        }
    }

    /// One NDJSON line (without the newline). `session` and `user` are ours,
    /// except on `participant_*` lines, where `user` is the participant.
    pub fn to_ndjson(&self, session: &str, user: &str) -> String {
        let body = match &self.kind {
            EventKind::Connecting { attempt } => Body::Connecting { attempt: *attempt },
            EventKind::SessionJoined { participants } => Body::SessionJoined {
                participants: *participants,
            },
            EventKind::SessionLeft { reason } => Body::SessionLeft { reason: *reason },
            EventKind::SessionTimedOut { idle_timeout } => Body::SessionTimedOut {
                idle_timeout_s: idle_timeout.as_secs(),
            },
            EventKind::ConnectionLost { reason } => Body::ConnectionLost { reason },
            EventKind::ConnectionRestored {
                resumed,
                downtime,
                attempts,
            } => Body::ConnectionRestored {
                resumed: *resumed,
                downtime_ms: downtime.as_millis(),
                attempts: *attempts,
            },
            EventKind::ConnectionClosed { reason } => Body::ConnectionClosed { reason },
            EventKind::ReconnectAttempt {
                attempt,
                max,
                delay,
            } => Body::ReconnectAttempt {
                attempt: *attempt,
                max: *max,
                delay_ms: delay.as_millis(),
            },
            EventKind::ParticipantJoined {
                id,
                user,
                joined_at,
            } => Body::ParticipantJoined {
                user,
                id,
                joined_at: joined_at.map(rfc3339_ms),
            },
            EventKind::ParticipantLeft { id, user } => Body::ParticipantLeft { user, id },
            EventKind::ParticipantRenamed { id, user, previous } => {
                Body::ParticipantRenamed { user, id, previous }
            }
            EventKind::ServerInfo(f) => Body::ServerInfo {
                server: f.server.as_deref(),
                server_name: f.server_name.as_deref(),
                session_timeout_ms: f.session_timeout.map(|d| d.as_millis()),
                resume_window_ms: f.resume_window.map(|d| d.as_millis()),
                room: f.room.as_deref(),
                server_session: f.server_session.as_deref(),
                own_id: f.own_id.as_deref(),
            },
            EventKind::IdleCountdownStarted { deadline, seconds } => Body::IdleCountdownStarted {
                deadline_ms: epoch_ms(self.wall_time(*deadline)),
                seconds: *seconds,
            },
            EventKind::IdleCountdownCancelled => Body::IdleCountdownCancelled,
            EventKind::Heartbeat { rtt } => Body::Heartbeat {
                rtt_ms: rtt.as_millis(),
            },
            EventKind::Error { message } => Body::Error { message },
        };
        let own_user = !matches!(
            self.kind,
            EventKind::ParticipantJoined { .. }
                | EventKind::ParticipantLeft { .. }
                | EventKind::ParticipantRenamed { .. }
        );
        let line = Line {
            ts: rfc3339_ms(self.ts),
            body,
            session,
            user: own_user.then_some(user),
        };
        escape_for_terminals(serde_json::to_string(&line).expect("event lines always serialize"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(kind: EventKind) -> SessionEvent {
        SessionEvent {
            at: Instant::now(),
            ts: SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_123),
            kind,
        }
    }

    #[test]
    fn ndjson_line_has_the_contract_shape() {
        let line = at(EventKind::SessionLeft {
            reason: LeftReason::Removed,
        })
        .to_ndjson("demo", "alice");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["event"], "session_left");
        assert_eq!(v["reason"], "removed");
        assert_eq!(v["session"], "demo");
        assert_eq!(v["user"], "alice");
        assert_eq!(v["ts"], "2026-11-18T11:06:40.123Z");
    }

    #[test]
    fn participant_lines_name_the_participant() {
        let line = at(EventKind::ParticipantLeft {
            id: "4711".into(),
            user: "bob".into(),
        })
        .to_ndjson("demo", "alice");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
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
        let line = at(EventKind::ConnectionRestored {
            resumed: true,
            downtime: Duration::from_millis(1234),
            attempts: 3,
        })
        .to_ndjson("s", "u");
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["resumed"], true);
        assert_eq!(v["downtime_ms"], 1234);
        assert_eq!(v["attempts"], 3);
    }

    #[test]
    fn idle_deadline_is_wall_clock_milliseconds() {
        let e = at(EventKind::IdleCountdownCancelled);
        let ev = SessionEvent {
            kind: EventKind::IdleCountdownStarted {
                deadline: e.at + Duration::from_secs(300),
                seconds: 300,
            },
            ..e
        };
        let v: serde_json::Value = serde_json::from_str(&ev.to_ndjson("s", "u")).unwrap();
        assert_eq!(v["deadline_ms"], 1_795_000_300_123u64);
        assert_eq!(v["seconds"], 300);
    }
}

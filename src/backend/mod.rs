//! The seam between the session engine and a signaling protocol.
//!
//! The engine thinks in [`ClientMsg`] and [`ServerMsg`]; a [`Backend`] turns those
//! into frames of one wire protocol and back. A backend is sans-IO and may keep
//! state (a multi-step handshake, transaction ids), so a protocol such as Janus,
//! which needs several round trips before it is "joined", fits behind the same
//! trait without the engine knowing.

pub mod calltop;
pub mod janus;

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

use crate::event::ServerFacts;
use crate::settings::SessionSettings;

/// Which signaling protocol the server URL speaks: the one registry of
/// backends (the flag, the config value and [`build`] all come from it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// calltop's own protocol (`calltop serve`, docs/PROTOCOL.md).
    #[default]
    Calltop,
    /// A Janus server's VideoRoom plugin, over Janus's WebSocket API.
    Janus,
}

impl BackendKind {
    /// The backend's name as the flag and the config file spell it
    /// (`calltop`, `janus`).
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Calltop => "calltop",
            BackendKind::Janus => "janus",
        }
    }
}

impl std::fmt::Display for BackendKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The backend for these settings, with everything it needs from them
/// (session, user, token, and the Janus options).
pub fn build(settings: &SessionSettings) -> Box<dyn Backend> {
    match settings.backend {
        BackendKind::Calltop => Box::new(calltop::CalltopBackend::new(settings)),
        BackendKind::Janus => Box::new(janus::JanusBackend::new(settings)),
    }
}

/// A participant other than us, as the server describes them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// What the server keys them by: the user name on calltop's protocol,
    /// Janus's participant id on Janus. The engine keeps one member per id
    /// (a server that lists an id twice gets an error event).
    pub id: String,
    /// The name they go by; empty when the server has none for them. Two
    /// members may share one.
    pub display: String,
    /// When the server says they joined, if it says.
    pub joined_at: Option<SystemTime>,
}

/// What the engine asks to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMsg {
    /// Join the session (the backend knows which, as whom, with what
    /// credentials). `resume`: the `resume_token` of the last `Joined`, when
    /// reconnecting, to ask for our old slot back.
    Join {
        /// The `resume_token` of the last `Joined`, when reconnecting.
        resume: Option<String>,
    },
    /// Leave the session on purpose.
    Leave,
    /// A heartbeat, answered with a [`ServerMsg::Pong`] of the same `seq`.
    Ping {
        /// The heartbeat's sequence number.
        seq: u64,
    },
}

/// What the server told us, in engine terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMsg {
    /// We are in the session (the answer to [`ClientMsg::Join`], after however
    /// many round trips the protocol needs).
    Joined {
        /// The server kept our slot from before a drop: others saw nothing.
        resumed: bool,
        /// What to send as `resume` in the next join after a drop, if the server
        /// resumes at all.
        resume_token: Option<String>,
        /// Our own id in the session, so the engine never lists us as another.
        own_id: String,
        /// Everybody else in the session, as the server lists them (an entry
        /// with our own id is left out by the engine).
        participants: Vec<Member>,
        /// What the server told us about itself and the session.
        facts: ServerFacts,
    },
    /// Someone new joined.
    ParticipantJoined(Member),
    /// Someone left, was removed, or did not come back within the resume window.
    ParticipantLeft {
        /// Their [`Member::id`].
        id: String,
    },
    /// A participant now goes by another name.
    ParticipantRenamed {
        /// Their [`Member::id`].
        id: String,
        /// The name they go by now.
        display: String,
    },
    /// The whole list of the others as the server has it now: the engine
    /// reports the differences as joins, leaves and renames.
    Roster(Vec<Member>),
    /// A heartbeat was answered.
    Pong {
        /// The `seq` of the [`ClientMsg::Ping`] answered.
        seq: u64,
    },
    /// Our leave was acknowledged.
    Left,
    /// An administrator removed us.
    Removed,
    /// The session was ended for everyone.
    Ended,
    /// Another connection joined as us, so the server let this one go.
    Replaced,
    /// The server refuses this connection. `fatal`: retrying cannot fix it.
    Refused {
        /// Why, in words for people (the server's reason where it gives one).
        reason: String,
        /// Retrying cannot fix it: the attempt ends in `connection_closed`.
        fatal: bool,
    },
    /// The server dropped our session although the socket is still open (a
    /// Janus session timeout): a lost connection, to be reconnected.
    SessionLost {
        /// What the server said, in words for people.
        reason: String,
    },
    /// The server complains about something but the session goes on.
    Notice {
        /// The server's complaint, in words for people.
        message: String,
    },
}

/// Frames a backend could not make sense of. The engine reports these as `error`
/// events and carries on; the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// Not JSON, or not a message the protocol knows the shape of.
    #[error("malformed frame ({detail}): {excerpt}")]
    Malformed {
        /// What is wrong with it (the JSON parser's words).
        detail: String,
        /// The start of the frame, printable (see [`excerpt`]).
        excerpt: String,
    },
    /// A message type the backend does not know (the name as an excerpt).
    // Already an excerpt: `{:?}` would escape its escapes again.
    #[error("unknown message type \"{0}\"")]
    UnknownType(String),
    /// A binary frame (its length in bytes): the protocols speak text.
    #[error("unexpected binary frame of {0} bytes")]
    Binary(usize),
    /// A frame over the size limit ([`SessionSettings::max_frame_bytes`]).
    #[error("frame of {size} bytes is over the {limit}-byte limit")]
    TooLarge {
        /// The frame's length, in bytes.
        size: usize,
        /// The limit it is over, in bytes.
        limit: usize,
    },
}

/// What one inbound frame produced.
#[derive(Debug, Default)]
pub struct Decoded {
    /// What the frame told us, in order.
    pub msgs: Vec<ServerMsg>,
    /// Frames the backend itself must send in answer (handshake steps).
    pub replies: Vec<String>,
}

/// A signaling protocol, sans-IO.
pub trait Backend: Send + 'static {
    /// Which protocol this backend speaks.
    fn kind(&self) -> BackendKind;

    /// The WebSocket subprotocol to ask for, if the server requires one. It
    /// travels with each connect request the engine makes.
    fn subprotocol(&self) -> Option<&'static str> {
        None
    }

    /// A fresh transport is up: forget per-connection state.
    fn transport_up(&mut self) {}

    /// The engine is dropping a transport that is up before the attempt on
    /// it got us joined (a connect timeout, a refusal worth retrying): the
    /// frames to send first, so the server is not left holding half a join.
    fn attempt_abandoned(&mut self, _out: &mut Vec<String>) {}

    /// Appends the frames that send `msg` to `out` (none when the protocol has
    /// nothing to send for it now).
    fn encode(&mut self, msg: ClientMsg, out: &mut Vec<String>);

    /// Reads one inbound text frame: what it means goes to `out.msgs`, frames
    /// to send in answer to `out.replies`. An error leaves the backend's state
    /// unchanged.
    fn decode(&mut self, frame: &str, out: &mut Decoded) -> Result<(), ProtocolError>;

    /// Whether a participant the server announced is one its protocol
    /// allows; the engine ignores (and reports) the others, so a hostile
    /// server cannot fill the screen or the memory with junk names.
    fn check_member(&self, m: &Member) -> Result<(), String> {
        check_text("id", &m.id, 1, crate::protocol::MAX_NAME_LEN)?;
        check_text("name", &m.display, 0, MAX_DISPLAY)
    }

    /// The server closed the socket with `code`; `reason` says so in words
    /// (`Input::TransportDown`'s, the close frame's reason in it). Returns
    /// the terminal message the close itself means (removed, refused...),
    /// or `None` for network trouble worth a reconnect.
    fn on_close(&mut self, code: Option<u16>, reason: &str) -> Option<ServerMsg>;
}

/// The longest display name any backend passes on (Janus has no limit of its own).
pub const MAX_DISPLAY: usize = 256;

/// `what` is `min..=max` characters long and has no control characters.
pub fn check_text(what: &str, s: &str, min: usize, max: usize) -> Result<(), String> {
    let n = s.chars().count();
    if n < min {
        return Err(format!("an empty {what}"));
    }
    if n > max {
        return Err(format!("a {what} of {n} characters (at most {max})"));
    }
    if s.chars().any(char::is_control) {
        return Err(format!("a {what} with control characters"));
    }
    Ok(())
}

/// A short, printable excerpt of a frame for error messages: control characters
/// (and the characters that disguise text, [`crate::text::is_disguising`])
/// escaped, long frames cut. Everything else stays as it is, quotes and
/// accents included: each output escapes what it needs (JSON its quotes),
/// and escaping here as well doubled every backslash on the way out.
pub fn excerpt(frame: &str) -> String {
    let mut s = String::new();
    for c in frame.chars().take(80) {
        if c.is_control() || crate::text::is_disguising(c) {
            s.extend(c.escape_default());
        } else {
            s.push(c);
        }
    }
    if frame.chars().count() > 80 {
        s.push('…');
    }
    s
}

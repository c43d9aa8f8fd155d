//! The seam between the session engine and a signaling protocol.
//!
//! The engine thinks in [`ClientMsg`] and [`ServerMsg`]; a [`Backend`] turns those
//! into frames of one wire protocol and back. A backend is sans-IO and may keep
//! state (a multi-step handshake, transaction ids), so a protocol such as Janus,
//! which needs several round trips before it is "joined", fits behind the same
//! trait without the engine knowing.

pub mod calltop;

use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// Which signaling protocol the server URL speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    #[default]
    Calltop,
    Janus,
}

impl BackendKind {
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

impl std::str::FromStr for BackendKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "calltop" => Ok(BackendKind::Calltop),
            "janus" => Ok(BackendKind::Janus),
            other => Err(format!(
                "unknown backend {other:?}: expected calltop or janus"
            )),
        }
    }
}

/// A participant other than us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub user: String,
    /// When the server says they joined, if it says.
    pub joined_at: Option<SystemTime>,
}

/// What the engine asks to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientMsg {
    Join {
        session: String,
        user: String,
        token: Option<String>,
        resume: Option<String>,
    },
    Leave,
    Ping {
        seq: u64,
    },
}

/// What the server told us, in engine terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerMsg {
    Joined {
        resumed: bool,
        resume_token: Option<String>,
        participants: Vec<Member>,
    },
    ParticipantJoined(Member),
    ParticipantLeft {
        user: String,
    },
    Pong {
        seq: u64,
    },
    /// Our leave was acknowledged.
    Left,
    Removed,
    Ended,
    /// The server refuses this connection. `fatal`: retrying cannot fix it.
    Refused {
        reason: String,
        fatal: bool,
    },
    /// The server complains about something but the session goes on.
    Notice {
        message: String,
    },
}

/// Frames a backend could not make sense of. The engine reports these as `error`
/// events and carries on; the state is unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    #[error("malformed frame ({detail}): {excerpt}")]
    Malformed { detail: String, excerpt: String },
    #[error("unknown message type {0:?}")]
    UnknownType(String),
    #[error("unexpected binary frame of {0} bytes")]
    Binary(usize),
    #[error("frame of {size} bytes is over the {limit}-byte limit")]
    TooLarge { size: usize, limit: usize },
}

/// What one inbound frame produced.
#[derive(Debug, Default)]
pub struct Decoded {
    pub msgs: Vec<ServerMsg>,
    /// Frames the backend itself must send in answer (handshake steps).
    pub replies: Vec<String>,
}

/// A signaling protocol, sans-IO.
pub trait Backend: Send + 'static {
    fn kind(&self) -> BackendKind;

    /// The WebSocket subprotocol to ask for, if the server requires one.
    fn subprotocol(&self) -> Option<&'static str> {
        None
    }

    /// A fresh transport is up: forget per-connection state.
    fn transport_up(&mut self) {}

    fn encode(&mut self, msg: ClientMsg, out: &mut Vec<String>);

    fn decode(&mut self, frame: &str, out: &mut Decoded) -> Result<(), ProtocolError>;

    /// The server closed the socket with `code`. Returns the terminal message
    /// the close itself means (removed, refused...), or `None` for network
    /// trouble worth a reconnect.
    fn on_close(&mut self, code: Option<u16>, reason: &str) -> Option<ServerMsg>;
}

/// The backend for a kind, or `None` where this build has none yet (Janus is
/// its own piece of work; settings validation refuses it with a clear message).
pub fn for_kind(kind: BackendKind) -> Option<Box<dyn Backend>> {
    match kind {
        BackendKind::Calltop => Some(Box::new(calltop::CalltopBackend)),
        BackendKind::Janus => None,
    }
}

/// A short, printable excerpt of a frame for error messages: control characters
/// escaped, long frames cut.
pub fn excerpt(frame: &str) -> String {
    let mut s: String = frame
        .chars()
        .take(80)
        .flat_map(char::escape_default)
        .collect();
    if frame.chars().count() > 80 {
        s.push('…');
    }
    s
}

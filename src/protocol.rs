//! The calltop wire protocol, version 1: JSON text frames over one WebSocket.
//!
//! `docs/PROTOCOL.md` describes it message by message; this module is its single
//! source of truth in code. Both the client backend and the reference server use
//! these types, so the two cannot drift apart.

use serde::{Deserialize, Serialize};

/// The protocol version this build speaks. It travels in `join` and `joined`,
/// the first message in each direction, so a mismatch is caught before anything else.
pub const PROTOCOL_VERSION: u32 = 1;

/// Default largest frame either side accepts, in bytes.
pub const DEFAULT_MAX_FRAME_BYTES: usize = 64 * 1024;

/// Frames up to this many times the limit are read and refused with a clear
/// error; beyond it the WebSocket layer drops the connection without reading
/// them, so nobody can make the other side buffer without bound.
pub const HARD_FRAME_FACTOR: usize = 16;

/// Messages a client sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientFrame {
    /// The first message on every connection: join a session (or, with
    /// `resume`, take our old slot back).
    Join {
        /// The protocol version the client speaks ([`PROTOCOL_VERSION`]).
        v: u32,
        /// The session id: 1 to 64 characters without control characters.
        session: String,
        /// Our user name: 1 to 64 characters without control characters.
        user: String,
        /// The join token, when the server needs one: an HS256 JWT with
        /// `session`, `sub` (the user) and `exp`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        /// The `resume_token` of an earlier `joined`: asks the server for our old slot.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        resume: Option<String>,
    },
    /// Leave the session on purpose; the server answers [`ServerFrame::Left`].
    Leave,
    /// A heartbeat, every heartbeat interval (2 s by default) while joined;
    /// the server answers [`ServerFrame::Pong`] with the same `seq`.
    Ping {
        /// The heartbeat's sequence number, echoed in the `pong`.
        seq: u64,
    },
}

/// One participant as the server describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Participant {
    /// Their user name: on calltop's protocol, their identity in the session.
    pub user: String,
    /// RFC 3339 UTC.
    pub joined_at: String,
}

/// Messages the server sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerFrame {
    /// The answer to `join`: the first frame about the session a connection
    /// gets.
    Joined {
        /// The protocol version the server speaks ([`PROTOCOL_VERSION`]).
        v: u32,
        /// The session id joined.
        session: String,
        /// Our user name, as joined.
        user: String,
        /// True when the server kept our slot since an earlier connection.
        resumed: bool,
        /// The token to send as `resume` in the next `join` after a drop; a new
        /// one with each `joined`.
        resume_token: String,
        /// How long the server keeps our slot after the socket drops.
        resume_window_ms: u64,
        /// Everybody else in the session, oldest first.
        participants: Vec<Participant>,
    },
    /// Someone new joined.
    ParticipantJoined {
        /// Their user name.
        user: String,
        /// When they joined: RFC 3339 UTC.
        joined_at: String,
    },
    /// Someone left, was removed, or did not come back within the resume
    /// window.
    ParticipantLeft {
        /// Their user name.
        user: String,
    },
    /// The answer to a [`ClientFrame::Ping`].
    Pong {
        /// The `seq` of the ping answered.
        seq: u64,
    },
    /// Acknowledges our `leave`; the server closes the socket after it.
    Left,
    /// An administrator removed us.
    Removed,
    /// The session was ended for everyone.
    Ended,
    /// The server refuses or complains; a close follows when the code has one
    /// ([`ErrorCode::close_code`]).
    Error {
        /// What kind of error it is.
        code: ErrorCode,
        /// What went wrong, in words for people.
        message: String,
    },
}

/// Why the server refuses or complains. `fatal()` codes are followed by a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The frame was not valid JSON or not a known message.
    BadFrame,
    /// The frame was larger than the server's limit.
    FrameTooLarge,
    /// The message makes no sense in this state (for example `leave` before `join`).
    UnexpectedMessage,
    /// The server does not speak the client's protocol version (close 4001).
    UnsupportedVersion,
    /// The server needs a join token and ours is missing, expired, forged, or
    /// for another session or user (close 4002).
    Unauthorized,
    /// The session was ended and does not take joins for now.
    SessionEnded,
    /// The same user joined from another connection, which now holds the slot.
    Replaced,
    /// Session id or user name is empty, too long, or has control characters.
    InvalidName,
    /// A code this build does not know (from a newer server).
    #[serde(other)]
    Unknown,
}

/// WebSocket close codes the reference server uses, and whether a client should retry.
pub mod close {
    /// After `left`: the session ended normally.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down (retryable).
    pub const GOING_AWAY: u16 = 1001;
    /// A frame over the server's limit (`frame_too_large`; retryable, the
    /// client's own frames are small).
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The server failed (retryable: treated as network trouble).
    pub const INTERNAL_ERROR: u16 = 1011;
    /// `bad_frame`: not JSON, not a known message, or a binary frame.
    pub const BAD_FRAME: u16 = 4000;
    /// `unsupported_version`: the server does not speak our protocol version.
    pub const UNSUPPORTED_VERSION: u16 = 4001;
    /// `unauthorized`: the join token is missing or wrong.
    pub const UNAUTHORIZED: u16 = 4002;
    /// An administrator removed us (after `removed`).
    pub const REMOVED: u16 = 4003;
    /// The session was ended (after `ended`, or `session_ended` on a join).
    pub const ENDED: u16 = 4004;
    /// `invalid_name`: the session id or user name is not a valid name.
    pub const INVALID_NAME: u16 = 4005;
    /// `replaced`: the same user joined from another connection.
    pub const REPLACED: u16 = 4010;

    /// Whether reconnecting after this close code can succeed. Unknown codes
    /// (and abnormal closes without a code) are treated as network trouble.
    pub fn retryable(code: u16) -> bool {
        !matches!(
            code,
            BAD_FRAME
                | UNSUPPORTED_VERSION
                | UNAUTHORIZED
                | REMOVED
                | ENDED
                | INVALID_NAME
                | REPLACED
        )
    }
}

impl ErrorCode {
    /// The close code that follows this error, if the server closes after it.
    pub fn close_code(self) -> Option<u16> {
        match self {
            ErrorCode::BadFrame => Some(close::BAD_FRAME),
            ErrorCode::FrameTooLarge => Some(close::MESSAGE_TOO_BIG),
            ErrorCode::UnsupportedVersion => Some(close::UNSUPPORTED_VERSION),
            ErrorCode::Unauthorized => Some(close::UNAUTHORIZED),
            ErrorCode::SessionEnded => Some(close::ENDED),
            ErrorCode::Replaced => Some(close::REPLACED),
            ErrorCode::InvalidName => Some(close::INVALID_NAME),
            ErrorCode::UnexpectedMessage | ErrorCode::Unknown => None,
        }
    }

    /// Whether a client should give up on the session when it gets this error.
    pub fn fatal(self) -> bool {
        self.close_code().is_some_and(|c| !close::retryable(c))
    }
}

/// Longest session id or user name either side accepts.
pub const MAX_NAME_LEN: usize = 64;

/// Session ids and user names: 1 to 64 characters, no control characters.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.chars().count() <= MAX_NAME_LEN && !name.chars().any(char::is_control)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_frame_has_the_documented_shape() {
        let f = ClientFrame::Join {
            v: 1,
            session: "demo".into(),
            user: "alice".into(),
            token: None,
            resume: None,
        };
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"type":"join","v":1,"session":"demo","user":"alice"}"#
        );
    }

    #[test]
    fn unknown_error_codes_decode_as_unknown() {
        let f: ServerFrame =
            serde_json::from_str(r#"{"type":"error","code":"brand_new","message":"x"}"#).unwrap();
        assert_eq!(
            f,
            ServerFrame::Error {
                code: ErrorCode::Unknown,
                message: "x".into()
            }
        );
    }

    #[test]
    fn refusals_that_retrying_cannot_fix_are_fatal() {
        assert!(ErrorCode::Unauthorized.fatal());
        assert!(ErrorCode::SessionEnded.fatal());
        assert!(!ErrorCode::UnexpectedMessage.fatal());
        assert!(close::retryable(close::GOING_AWAY));
        assert!(!close::retryable(close::REMOVED));
    }

    #[test]
    fn names_with_control_characters_are_invalid() {
        assert!(valid_name("alice"));
        assert!(!valid_name(""));
        assert!(!valid_name("a\x1b[2Jb"));
        assert!(!valid_name(&"x".repeat(65)));
    }
}

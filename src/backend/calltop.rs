//! calltop's own wire protocol (see `docs/PROTOCOL.md` and [`crate::protocol`]).

use std::time::Duration;

use super::{Backend, BackendKind, ClientMsg, Decoded, Member, ProtocolError, ServerMsg, excerpt};
use crate::event::ServerFacts;
use crate::protocol::{ClientFrame, ErrorCode, PROTOCOL_VERSION, ServerFrame, close};
use crate::settings::{Secret, SessionSettings};

/// Participants are keyed by user name on this protocol: the name is the id.
#[derive(Debug)]
pub struct CalltopBackend {
    session: String,
    user: String,
    token: Option<Secret>,
}

impl CalltopBackend {
    /// The backend for these settings' session, user and token.
    pub fn new(settings: &SessionSettings) -> CalltopBackend {
        CalltopBackend {
            session: settings.session.clone(),
            user: settings.user.clone(),
            token: settings.token.clone(),
        }
    }
}

fn member(user: String, joined_at: &str) -> Member {
    Member {
        id: user.clone(),
        display: user,
        joined_at: crate::event::parse_rfc3339(joined_at),
    }
}

/// Only the `type` field, to tell an unknown message from a malformed one.
#[derive(serde::Deserialize)]
struct TypeOnly {
    #[serde(rename = "type")]
    kind: Option<String>,
}

const KNOWN_TYPES: &[&str] = &[
    "joined",
    "participant_joined",
    "participant_left",
    "pong",
    "left",
    "removed",
    "ended",
    "error",
];

impl Backend for CalltopBackend {
    fn kind(&self) -> BackendKind {
        BackendKind::Calltop
    }

    /// A user name is the identity here: 1 to 64 characters, no control
    /// characters, as the server itself requires of a join.
    fn check_member(&self, m: &Member) -> Result<(), String> {
        super::check_text("user name", &m.id, 1, crate::protocol::MAX_NAME_LEN)
    }

    fn encode(&mut self, msg: ClientMsg, out: &mut Vec<String>) {
        let frame = match msg {
            ClientMsg::Join { resume } => ClientFrame::Join {
                v: PROTOCOL_VERSION,
                session: self.session.clone(),
                user: self.user.clone(),
                token: self.token.as_ref().map(|t| t.expose().to_owned()),
                resume,
            },
            ClientMsg::Leave => ClientFrame::Leave,
            ClientMsg::Ping { seq } => ClientFrame::Ping { seq },
        };
        out.push(serde_json::to_string(&frame).expect("client frames always serialize"));
    }

    fn decode(&mut self, frame: &str, out: &mut Decoded) -> Result<(), ProtocolError> {
        let parsed: ServerFrame = match serde_json::from_str(frame) {
            Ok(f) => f,
            Err(e) => {
                // A well-formed object with a type we do not know is a different
                // problem (a newer server) from garbage; say which.
                if let Ok(TypeOnly { kind: Some(t) }) = serde_json::from_str::<TypeOnly>(frame)
                    && !KNOWN_TYPES.contains(&t.as_str())
                {
                    return Err(ProtocolError::UnknownType(excerpt(&t)));
                }
                return Err(ProtocolError::Malformed {
                    detail: e.to_string(),
                    excerpt: excerpt(frame),
                });
            }
        };
        let msg = match parsed {
            ServerFrame::Joined { v, .. } if v != PROTOCOL_VERSION => ServerMsg::Refused {
                reason: format!(
                    "server speaks protocol version {v}, this calltop speaks version {PROTOCOL_VERSION}"
                ),
                fatal: true,
            },
            ServerFrame::Joined {
                resumed,
                resume_token,
                resume_window_ms,
                participants,
                ..
            } => ServerMsg::Joined {
                resumed,
                resume_token: Some(resume_token),
                own_id: self.user.clone(),
                participants: participants
                    .into_iter()
                    .map(|p| member(p.user, &p.joined_at))
                    .collect(),
                facts: ServerFacts {
                    resume_window: Some(Duration::from_millis(resume_window_ms)),
                    ..ServerFacts::default()
                },
            },
            ServerFrame::ParticipantJoined { user, joined_at } => {
                ServerMsg::ParticipantJoined(member(user, &joined_at))
            }
            ServerFrame::ParticipantLeft { user } => ServerMsg::ParticipantLeft { id: user },
            ServerFrame::Pong { seq } => ServerMsg::Pong { seq },
            ServerFrame::Left => ServerMsg::Left,
            ServerFrame::Removed => ServerMsg::Removed,
            ServerFrame::Ended => ServerMsg::Ended,
            ServerFrame::Error {
                code: ErrorCode::Replaced,
                ..
            } => ServerMsg::Replaced,
            ServerFrame::Error { code, message } if code.fatal() => ServerMsg::Refused {
                reason: refusal_text(code, &message),
                fatal: true,
            },
            ServerFrame::Error { code, message } => ServerMsg::Notice {
                message: format!("server error {}: {message}", code_name(code)),
            },
        };
        out.msgs.push(msg);
        Ok(())
    }

    fn on_close(&mut self, code: Option<u16>, reason: &str) -> Option<ServerMsg> {
        let code = code?;
        if close::retryable(code) {
            return None;
        }
        Some(match code {
            close::REMOVED => ServerMsg::Removed,
            close::ENDED => ServerMsg::Ended,
            close::REPLACED => ServerMsg::Replaced,
            // `reason` already says it in words ("server closed the
            // connection: ..."): the code is all there is to add, as the
            // engine does for a close worth a retry.
            _ => ServerMsg::Refused {
                reason: format!("{reason} (close code {code})"),
                fatal: true,
            },
        })
    }
}

fn code_name(code: ErrorCode) -> String {
    serde_json::to_value(code)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_else(|| "unknown".into())
}

fn refusal_text(code: ErrorCode, message: &str) -> String {
    let what = match code {
        ErrorCode::Unauthorized => "server refused the token",
        ErrorCode::SessionEnded => "the session was ended",
        ErrorCode::UnsupportedVersion => "server does not speak our protocol version",
        ErrorCode::Replaced => "another connection joined as the same user",
        ErrorCode::InvalidName => "server refused the session id or user name",
        ErrorCode::BadFrame | ErrorCode::FrameTooLarge => "server refused a frame we sent",
        ErrorCode::UnexpectedMessage | ErrorCode::Unknown => "server refused us",
    };
    format!("{what} ({}: {})", code_name(code), excerpt(message))
}

//! Process exit statuses (docs/EVENTS.md, "Exit statuses"), one per way a session
//! can end.

use crate::event::{EventKind, LeftReason};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Exit {
    /// We left or quit ourselves.
    Ok = 0,
    /// Something unexpected inside calltop.
    Internal = 1,
    /// Bad command line or configuration.
    Usage = 2,
    /// The idle timeout ended the session.
    TimedOut = 3,
    /// An administrator removed us or ended the session, or another
    /// connection joined as us.
    RemovedOrEnded = 4,
    /// The connection is gone for good.
    ConnectionClosed = 5,
    /// The events broke the contract's ordering rules: `replay --headless`
    /// on such a recording, or a headless run that would have exited 0.
    Violations = 6,
    /// `replay --headless`: the recording is damaged; read up to the damage.
    Damaged = 7,
    /// Headless: stdout was closed (or could not be written) before every
    /// line was out; calltop left the session first.
    OutputClosed = 8,
    /// Headless `--strict`: stopped at the first contract violation
    /// (calltop left the session first).
    Strict = 9,
}

impl Exit {
    /// Every status, in order.
    pub const ALL: [Exit; 10] = [
        Exit::Ok,
        Exit::Internal,
        Exit::Usage,
        Exit::TimedOut,
        Exit::RemovedOrEnded,
        Exit::ConnectionClosed,
        Exit::Violations,
        Exit::Damaged,
        Exit::OutputClosed,
        Exit::Strict,
    ];

    /// What the status means, in the words `--help` uses.
    pub fn meaning(self) -> &'static str {
        match self {
            Exit::Ok => "we left or quit",
            Exit::Internal => "internal error",
            Exit::Usage => "bad usage or configuration",
            Exit::TimedOut => "timed out (alone for the idle timeout)",
            Exit::RemovedOrEnded => {
                "removed by an administrator, replaced by another connection as us, or the session was ended"
            }
            Exit::ConnectionClosed => {
                "connection closed for good (retries spent, or a refusal retrying cannot fix)"
            }
            Exit::Violations => {
                "the events broke the contract's ordering rules (replay --headless; headless: a run that would have exited 0)"
            }
            Exit::Damaged => "replay: the recording is damaged (read up to the damage)",
            Exit::OutputClosed => {
                "headless: stdout was closed before every line was written (we left the session)"
            }
            Exit::Strict => {
                "headless --strict: stopped at the first contract violation (we left the session)"
            }
        }
    }

    /// The status for a terminal event.
    pub fn for_terminal(kind: &EventKind) -> Option<Exit> {
        Some(match kind {
            EventKind::SessionLeft {
                reason: LeftReason::User,
            } => Exit::Ok,
            EventKind::SessionLeft { .. } => Exit::RemovedOrEnded,
            EventKind::SessionTimedOut { .. } => Exit::TimedOut,
            EventKind::ConnectionClosed { .. } => Exit::ConnectionClosed,
            _ => return None,
        })
    }

    pub fn code(self) -> u8 {
        self as u8
    }
}

impl From<Exit> for std::process::ExitCode {
    fn from(e: Exit) -> Self {
        std::process::ExitCode::from(e.code())
    }
}

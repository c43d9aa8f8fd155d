//! What a server says is on it, as one [`Snapshot`], and the [`Source`]
//! trait the poller reads snapshots from. Read-only: no source ever changes
//! anything on the server.
//!
//! A snapshot is checked when it is made: sessions are kept sorted by id and
//! members by id, and a server that lists a session or a member twice gets
//! an error naming it rather than a table that silently loses a row. Both
//! `top` and a roster check (`calltop load`) read servers through this.

use std::time::SystemTime;

use futures_util::future::BoxFuture;

/// One participant as the server lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// What the server keys the participant by: the user name on calltop's
    /// protocol, the participant id on Janus.
    pub id: String,
    /// The display name (on calltop's protocol the same as `id`; on Janus
    /// empty when they have none).
    pub name: String,
    /// When they joined, where the server says.
    pub joined_at: Option<SystemTime>,
    /// Whether their connection is up (`false`: the server keeps their slot
    /// for a resume), where the server says.
    pub connected: Option<bool>,
}

/// One session (a room) with its participants, sorted by id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: String,
    /// The room's description (Janus), if it has one.
    pub description: Option<String>,
    pub members: Vec<Member>,
}

/// Every session on the server at one moment, sorted by id.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    sessions: Vec<Session>,
}

impl Snapshot {
    /// Sorts `sessions` and their members by id. Refuses a session listed
    /// twice, a member listed twice in one session, and empty ids.
    pub fn new(mut sessions: Vec<Session>) -> Result<Snapshot, SourceError> {
        sessions.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        for pair in sessions.windows(2) {
            if pair[0].id == pair[1].id {
                return Err(SourceError::Inconsistent(format!(
                    "session {:?} is listed twice",
                    pair[0].id
                )));
            }
        }
        for s in &mut sessions {
            if s.id.is_empty() {
                return Err(SourceError::Inconsistent(
                    "a session has an empty id".into(),
                ));
            }
            s.members.sort_unstable_by(|a, b| a.id.cmp(&b.id));
            for pair in s.members.windows(2) {
                if pair[0].id == pair[1].id {
                    return Err(SourceError::Inconsistent(format!(
                        "participant {:?} is listed twice in session {:?}",
                        pair[0].id, s.id
                    )));
                }
            }
            if s.members.iter().any(|m| m.id.is_empty()) {
                return Err(SourceError::Inconsistent(format!(
                    "a participant of session {:?} has an empty id",
                    s.id
                )));
            }
        }
        Ok(Snapshot { sessions })
    }

    /// Sessions, by id.
    pub fn sessions(&self) -> &[Session] {
        &self.sessions
    }

    /// The session `id`, if listed.
    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions
            .binary_search_by(|s| s.id.as_str().cmp(id))
            .ok()
            .map(|i| &self.sessions[i])
    }

    /// Participants in every session together.
    pub fn participants(&self) -> usize {
        self.sessions.iter().map(|s| s.members.len()).sum()
    }
}

/// Why a poll brought no snapshot. Every message says what failed and,
/// where there is one, what to change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    #[error("cannot reach {url}: {reason}")]
    Unreachable { url: String, reason: String },
    #[error("no answer from {url} within {}", crate::ui::fmt::human(*within))]
    Timeout {
        url: String,
        within: std::time::Duration,
    },
    #[error(
        "{url} refused the admin token (HTTP {status}): give the server's admin token with --admin-token, --admin-token-file or [top].admin_token"
    )]
    Unauthorized { url: String, status: u16 },
    #[error("{url} answered HTTP {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    /// The answer is not in the shape the API documents.
    #[error("the server's answer is not a session list: {0}")]
    Malformed(String),
    /// Well-formed, but it cannot be true (a session listed twice).
    #[error("the server's list contradicts itself: {0}")]
    Inconsistent(String),
    /// Janus refused a request, with its error code and words.
    #[error("Janus refused {what}: {reason} (error {code}){hint}")]
    Janus {
        what: String,
        code: i64,
        reason: String,
        hint: String,
    },
}

/// Somewhere snapshots come from: one request (or a few) per [`Source::poll`].
pub trait Source: Send {
    /// Reads the server's sessions now.
    fn poll(&mut self) -> BoxFuture<'_, Result<Snapshot, SourceError>>;

    /// What is being read, for the header: `calltop admin API at http://…`.
    fn describe(&self) -> String;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(id: &str) -> Member {
        Member {
            id: id.into(),
            name: id.into(),
            joined_at: None,
            connected: None,
        }
    }

    fn s(id: &str, members: &[&str]) -> Session {
        Session {
            id: id.into(),
            description: None,
            members: members.iter().map(|id| m(id)).collect(),
        }
    }

    #[test]
    fn sessions_and_members_are_sorted_and_found_by_id() {
        let snap = Snapshot::new(vec![s("b", &["zed", "amy"]), s("a", &["x"])]).unwrap();
        let ids: Vec<&str> = snap.sessions().iter().map(|s| s.id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
        let b = snap.session("b").unwrap();
        assert_eq!(b.members[0].id, "amy");
        assert!(snap.session("c").is_none());
        assert_eq!(snap.participants(), 3);
    }

    #[test]
    fn a_list_that_names_something_twice_is_refused_by_name() {
        let e = Snapshot::new(vec![s("a", &[]), s("a", &[])]).unwrap_err();
        assert!(e.to_string().contains("\"a\" is listed twice"), "{e}");
        let e = Snapshot::new(vec![s("a", &["bob", "bob"])]).unwrap_err();
        assert!(
            e.to_string()
                .contains("participant \"bob\" is listed twice in session \"a\""),
            "{e}"
        );
        assert!(Snapshot::new(vec![s("", &[])]).is_err());
        assert!(Snapshot::new(vec![s("a", &[""])]).is_err());
    }
}

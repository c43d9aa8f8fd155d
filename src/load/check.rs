//! The end-of-run roster check: every participant's roster, as its own
//! events built it, against the server's own list (read through `top`'s
//! sources). Plain functions over plain data.

use crate::top::source::Snapshot;

/// What one participant believes at the end.
#[derive(Debug, Clone, Copy)]
pub struct Seen<'a> {
    /// How the summary names it: `load-3/p7`.
    pub name: &'a str,
    pub session: &'a str,
    /// Its own id on the server (its user name on calltop's protocol, its
    /// participant id on Janus), if known.
    pub own_id: Option<&'a str>,
    /// The others, by id, sorted.
    pub roster: &'a [Box<str>],
}

/// One participant whose roster and the server's list disagree.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Mismatch {
    pub participant: String,
    pub session: String,
    /// Listed by the server, never announced to this participant.
    pub missing: Vec<String>,
    /// Announced to this participant, not listed by the server.
    pub unexpected: Vec<String>,
    /// The server does not list the participant itself.
    pub not_listed: bool,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} in {}:", self.participant, self.session)?;
        if self.not_listed {
            write!(f, " the server does not list it;")?;
        }
        if !self.missing.is_empty() {
            write!(f, " never told of {}", self.missing.join(", "))?;
        }
        if !self.unexpected.is_empty() {
            if !self.missing.is_empty() {
                f.write_str(";")?;
            }
            write!(f, " believes in {}", self.unexpected.join(", "))?;
        }
        Ok(())
    }
}

/// Compares each participant with the server's list of its session.
pub fn compare<'a>(seen: impl IntoIterator<Item = Seen<'a>>, server: &Snapshot) -> Vec<Mismatch> {
    let mut out = Vec::new();
    for s in seen {
        let listed: Vec<&str> = server
            .session(s.session)
            .map(|x| x.members.iter().map(|m| m.id.as_str()).collect())
            .unwrap_or_default();
        let not_listed = s.own_id.is_none_or(|me| !listed.contains(&me));
        // Both sides sorted: the server's by its snapshot, ours as kept.
        let others: Vec<&str> = listed
            .into_iter()
            .filter(|id| Some(*id) != s.own_id)
            .collect();
        let ours: Vec<&str> = s.roster.iter().map(|b| &**b).collect();
        let missing: Vec<String> = others
            .iter()
            .filter(|id| ours.binary_search(id).is_err())
            .map(|id| id.to_string())
            .collect();
        let unexpected: Vec<String> = ours
            .iter()
            .filter(|id| others.binary_search(id).is_err())
            .map(|id| id.to_string())
            .collect();
        if not_listed || !missing.is_empty() || !unexpected.is_empty() {
            out.push(Mismatch {
                participant: s.name.to_owned(),
                session: s.session.to_owned(),
                missing,
                unexpected,
                not_listed,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::source::{Member, Session};

    fn snap(sessions: &[(&str, &[&str])]) -> Snapshot {
        Snapshot::new(
            sessions
                .iter()
                .map(|(id, members)| Session {
                    id: (*id).into(),
                    description: None,
                    members: members
                        .iter()
                        .map(|m| Member {
                            id: (*m).into(),
                            name: (*m).into(),
                            joined_at: None,
                            connected: Some(true),
                        })
                        .collect(),
                })
                .collect(),
        )
        .unwrap()
    }

    fn roster(ids: &[&str]) -> Vec<Box<str>> {
        ids.iter().map(|s| (*s).into()).collect()
    }

    #[test]
    fn a_roster_that_matches_the_list_less_ourselves_passes() {
        let server = snap(&[("s", &["a", "b", "c"])]);
        let r = roster(&["b", "c"]);
        let seen = Seen {
            name: "s/a",
            session: "s",
            own_id: Some("a"),
            roster: &r,
        };
        assert!(compare([seen], &server).is_empty());
    }

    #[test]
    fn someone_never_announced_and_someone_long_gone_are_both_named() {
        let server = snap(&[("s", &["a", "b", "c"])]);
        let r = roster(&["c", "zed"]);
        let seen = Seen {
            name: "s/a",
            session: "s",
            own_id: Some("a"),
            roster: &r,
        };
        let m = compare([seen], &server);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].missing, ["b"]);
        assert_eq!(m[0].unexpected, ["zed"]);
        assert!(!m[0].not_listed);
        assert_eq!(
            m[0].to_string(),
            "s/a in s: never told of b; believes in zed"
        );
    }

    #[test]
    fn a_participant_the_server_does_not_list_is_a_mismatch() {
        let server = snap(&[("s", &["b"])]);
        let r = roster(&["b"]);
        let gone = Seen {
            name: "s/a",
            session: "s",
            own_id: Some("a"),
            roster: &r,
        };
        let nowhere = Seen {
            name: "t/a",
            session: "t",
            own_id: None,
            roster: &[],
        };
        let m = compare([gone, nowhere], &server);
        assert_eq!(m.len(), 2);
        assert!(m.iter().all(|m| m.not_listed));
        assert!(m[0].to_string().contains("the server does not list it"));
    }
}

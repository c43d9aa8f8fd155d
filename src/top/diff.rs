//! What changed between two polls: sessions that opened and closed, who
//! joined, left, dropped (slot kept for a resume), came back or was
//! renamed. Both snapshots are sorted by id, so this is one merge pass over
//! each, with no hashing: 25,000 participants diff in well under a
//! millisecond.

use std::cmp::Ordering;

use super::source::{Member, Session, Snapshot};

/// One difference between two snapshots. Ids and names are as the server
/// sent them (not yet made safe to show).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A session that was not listed before, with how many are in it (each
    /// of them also comes as a [`Change::Joined`]).
    Opened {
        session: String,
        members: usize,
    },
    /// A session no longer listed (each member also comes as a [`Change::Left`]).
    Closed {
        session: String,
    },
    Joined {
        session: String,
        member: Member,
    },
    Left {
        session: String,
        member: Member,
    },
    /// Listed as not connected: the server keeps the slot for a resume.
    Dropped {
        session: String,
        member: Member,
    },
    /// Connected again after [`Change::Dropped`].
    Resumed {
        session: String,
        member: Member,
    },
    Renamed {
        session: String,
        member: Member,
        previous: String,
    },
    Described {
        session: String,
        description: Option<String>,
    },
}

impl Change {
    /// The session the change is about.
    pub fn session(&self) -> &str {
        match self {
            Change::Opened { session, .. }
            | Change::Closed { session }
            | Change::Joined { session, .. }
            | Change::Left { session, .. }
            | Change::Dropped { session, .. }
            | Change::Resumed { session, .. }
            | Change::Renamed { session, .. }
            | Change::Described { session, .. } => session,
        }
    }
}

/// Every change from `old` to `new`, sessions in id order, and within a
/// session members in id order.
pub fn diff(old: &Snapshot, new: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    merge(
        old.sessions(),
        new.sessions(),
        |s| &s.id,
        |side| match side {
            Side::Old(s) => {
                out.push(Change::Closed {
                    session: s.id.clone(),
                });
                left_all(s, &mut out);
            }
            Side::New(s) => {
                out.push(Change::Opened {
                    session: s.id.clone(),
                    members: s.members.len(),
                });
                for m in &s.members {
                    out.push(Change::Joined {
                        session: s.id.clone(),
                        member: m.clone(),
                    });
                }
            }
            Side::Both(a, b) => session_changes(a, b, &mut out),
        },
    );
    out
}

fn left_all(s: &Session, out: &mut Vec<Change>) {
    for m in &s.members {
        out.push(Change::Left {
            session: s.id.clone(),
            member: m.clone(),
        });
    }
}

fn session_changes(a: &Session, b: &Session, out: &mut Vec<Change>) {
    if a.description != b.description {
        out.push(Change::Described {
            session: b.id.clone(),
            description: b.description.clone(),
        });
    }
    if a.members == b.members {
        return;
    }
    let session = || b.id.clone();
    merge(
        &a.members,
        &b.members,
        |m| &m.id,
        |side| match side {
            Side::Old(m) => out.push(Change::Left {
                session: session(),
                member: m.clone(),
            }),
            Side::New(m) => out.push(Change::Joined {
                session: session(),
                member: m.clone(),
            }),
            Side::Both(x, y) => {
                if x.name != y.name {
                    out.push(Change::Renamed {
                        session: session(),
                        member: y.clone(),
                        previous: x.name.clone(),
                    });
                }
                match (x.connected, y.connected) {
                    (Some(true), Some(false)) => out.push(Change::Dropped {
                        session: session(),
                        member: y.clone(),
                    }),
                    (Some(false), Some(true)) => out.push(Change::Resumed {
                        session: session(),
                        member: y.clone(),
                    }),
                    _ => {}
                }
            }
        },
    );
}

enum Side<'a, T> {
    Old(&'a T),
    New(&'a T),
    Both(&'a T, &'a T),
}

/// Walks two slices sorted by `key` together.
fn merge<'a, T>(
    old: &'a [T],
    new: &'a [T],
    key: impl Fn(&T) -> &String,
    mut each: impl FnMut(Side<'a, T>),
) {
    let (mut i, mut j) = (0, 0);
    while i < old.len() || j < new.len() {
        let order = match (old.get(i), new.get(j)) {
            (Some(a), Some(b)) => key(a).cmp(key(b)),
            (Some(_), None) => Ordering::Less,
            _ => Ordering::Greater,
        };
        match order {
            Ordering::Less => {
                each(Side::Old(&old[i]));
                i += 1;
            }
            Ordering::Greater => {
                each(Side::New(&new[j]));
                j += 1;
            }
            Ordering::Equal => {
                each(Side::Both(&old[i], &new[j]));
                i += 1;
                j += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, name: &str, connected: Option<bool>) -> Member {
        Member {
            id: id.into(),
            name: name.into(),
            joined_at: None,
            connected,
        }
    }

    fn snap(sessions: &[(&str, &[Member])]) -> Snapshot {
        Snapshot::new(
            sessions
                .iter()
                .map(|(id, ms)| Session {
                    id: (*id).into(),
                    description: None,
                    members: ms.to_vec(),
                })
                .collect(),
        )
        .unwrap()
    }

    fn brief(changes: &[Change]) -> Vec<String> {
        changes
            .iter()
            .map(|c| match c {
                Change::Opened { session, members } => format!("open {session} {members}"),
                Change::Closed { session } => format!("close {session}"),
                Change::Joined { session, member } => format!("join {session} {}", member.id),
                Change::Left { session, member } => format!("left {session} {}", member.id),
                Change::Dropped { session, member } => format!("drop {session} {}", member.id),
                Change::Resumed { session, member } => {
                    format!("resume {session} {}", member.id)
                }
                Change::Renamed {
                    session,
                    member,
                    previous,
                } => format!("rename {session} {previous}->{}", member.name),
                Change::Described {
                    session,
                    description,
                } => format!("describe {session} {description:?}"),
            })
            .collect()
    }

    #[test]
    fn the_same_snapshot_has_no_changes() {
        let a = snap(&[("s", &[member("bob", "bob", Some(true))])]);
        assert!(diff(&a, &a.clone()).is_empty());
        assert!(diff(&Snapshot::default(), &Snapshot::default()).is_empty());
    }

    #[test]
    fn sessions_open_and_close_with_their_members() {
        let bob = member("bob", "bob", Some(true));
        let amy = member("amy", "amy", Some(true));
        let a = snap(&[("a", std::slice::from_ref(&bob)), ("c", &[])]);
        let b = snap(&[("b", &[amy.clone(), bob.clone()]), ("c", &[])]);
        assert_eq!(
            brief(&diff(&a, &b)),
            [
                "close a",
                "left a bob",
                "open b 2",
                "join b amy",
                "join b bob"
            ]
        );
    }

    #[test]
    fn joins_leaves_drops_resumes_and_renames_inside_a_session() {
        let a = snap(&[(
            "s",
            &[
                member("a", "a", Some(true)),
                member("b", "b", Some(true)),
                member("c", "c", Some(false)),
                member("d", "dave", None),
            ],
        )]);
        let b = snap(&[(
            "s",
            &[
                member("b", "b", Some(false)),
                member("c", "c", Some(true)),
                member("d", "dave2", None),
                member("e", "e", Some(true)),
            ],
        )]);
        assert_eq!(
            brief(&diff(&a, &b)),
            [
                "left s a",
                "drop s b",
                "resume s c",
                "rename s dave->dave2",
                "join s e"
            ]
        );
    }

    #[test]
    fn a_new_description_is_a_change() {
        let mut a = snap(&[("s", &[])]);
        let b = Snapshot::new(vec![Session {
            id: "s".into(),
            description: Some("standup".into()),
            members: vec![],
        }])
        .unwrap();
        assert_eq!(brief(&diff(&a, &b)), ["describe s Some(\"standup\")"]);
        a = b.clone();
        assert!(diff(&a, &b).is_empty());
    }
}

//! The session table as plain data: one [`Row`] per session, the columns
//! it sorts by, and the text filter. Pure functions over a [`Snapshot`],
//! unit-tested without a terminal.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::time::SystemTime;

use super::source::{Member, Snapshot};

/// A column of the session table, in screen order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Column {
    Session,
    Participants,
    OldestJoin,
    Joins,
    Leaves,
    NotConnected,
    Description,
}

impl Column {
    pub const ALL: [Column; 7] = [
        Column::Session,
        Column::Participants,
        Column::OldestJoin,
        Column::Joins,
        Column::Leaves,
        Column::NotConnected,
        Column::Description,
    ];

    /// The column the digit key `n` (1–7) sorts by.
    pub fn from_digit(n: u32) -> Option<Column> {
        Column::ALL.get((n as usize).checked_sub(1)?).copied()
    }

    /// The heading on screen.
    pub fn title(self) -> &'static str {
        match self {
            Column::Session => "session",
            Column::Participants => "people",
            Column::OldestJoin => "oldest join",
            Column::Joins => "joins",
            Column::Leaves => "leaves",
            Column::NotConnected => "away",
            Column::Description => "description",
        }
    }

    /// Which way a first press sorts: counts and ages biggest first, text A to Z.
    pub fn descending_first(self) -> bool {
        matches!(
            self,
            Column::Participants | Column::Joins | Column::Leaves | Column::NotConnected
        )
    }
}

/// How the table is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            column: Column::Participants,
            descending: true,
        }
    }
}

impl Sort {
    /// The sort after pressing `column`'s key: that column in its natural
    /// direction, or, if it is the sort already, the other way round.
    pub fn press(self, column: Column) -> Sort {
        if self.column == column {
            Sort {
                column,
                descending: !self.descending,
            }
        } else {
            Sort {
                column,
                descending: column.descending_first(),
            }
        }
    }
}

/// One session's line in the table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub id: String,
    pub participants: usize,
    /// The earliest join time listed; `None` when the server gives none.
    pub oldest_join: Option<SystemTime>,
    /// Joins and leaves seen in the last minute.
    pub joins: u32,
    pub leaves: u32,
    /// Members whose connection is down (slot kept for a resume); `None`
    /// when the server does not say.
    pub not_connected: Option<usize>,
    pub description: Option<String>,
}

/// One row per session of `snap`, in its order, with `churn` (joins and
/// leaves in the last minute, by session id).
pub fn rows(snap: &Snapshot, churn: &HashMap<String, (u32, u32)>) -> Vec<Row> {
    snap.sessions()
        .iter()
        .map(|s| {
            let (joins, leaves) = churn.get(&s.id).copied().unwrap_or_default();
            Row {
                id: s.id.clone(),
                participants: s.members.len(),
                oldest_join: s.members.iter().filter_map(|m| m.joined_at).min(),
                joins,
                leaves,
                // Known only if known for every member.
                not_connected: s
                    .members
                    .iter()
                    .map(|m| m.connected.map(|c| usize::from(!c)))
                    .sum(),
                description: s.description.clone(),
            }
        })
        .collect()
}

fn compare(a: &Row, b: &Row, column: Column) -> Ordering {
    // Unknowns sort after every known value, whichever way the sort goes.
    fn known<T: Ord>(a: &Option<T>, b: &Option<T>) -> Ordering {
        match (a, b) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
    }
    match column {
        Column::Session => Ordering::Equal,
        Column::Participants => a.participants.cmp(&b.participants),
        Column::OldestJoin => known(&a.oldest_join, &b.oldest_join),
        Column::Joins => a.joins.cmp(&b.joins),
        Column::Leaves => a.leaves.cmp(&b.leaves),
        Column::NotConnected => known(&a.not_connected, &b.not_connected),
        Column::Description => known(&a.description, &b.description),
    }
}

fn unknown(r: &Row, column: Column) -> bool {
    match column {
        Column::OldestJoin => r.oldest_join.is_none(),
        Column::NotConnected => r.not_connected.is_none(),
        Column::Description => r.description.is_none(),
        _ => false,
    }
}

/// Orders `order` (indices into `rows`) by `sort`; ties by session id, A to Z.
pub fn sort(rows: &[Row], order: &mut [usize], sort: Sort) {
    order.sort_unstable_by(|&i, &j| {
        let (a, b) = (&rows[i], &rows[j]);
        let by_id = || a.id.cmp(&b.id);
        let primary = match (unknown(a, sort.column), unknown(b, sort.column)) {
            (false, true) => return Ordering::Less,
            (true, false) => return Ordering::Greater,
            _ => compare(a, b, sort.column),
        };
        let primary = if sort.descending {
            primary.reverse()
        } else {
            primary
        };
        let id = if sort.descending && sort.column == Column::Session {
            by_id().reverse()
        } else {
            by_id()
        };
        primary.then(id)
    });
}

/// A text filter: case-insensitive, on a session's id, its description and
/// its members' names and ids.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    text: String,
    lower: String,
}

impl Filter {
    pub fn new(text: &str) -> Filter {
        Filter {
            text: text.to_owned(),
            lower: text.to_lowercase(),
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    fn hit(&self, s: &str) -> bool {
        // Most text is ASCII: compare without lowercasing a copy.
        if s.is_ascii() && self.lower.is_ascii() {
            let (h, n) = (s.as_bytes(), self.lower.as_bytes());
            return n.len() <= h.len() && h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
        }
        s.to_lowercase().contains(&self.lower)
    }

    fn member_hit(&self, m: &Member) -> bool {
        self.hit(&m.name) || self.hit(&m.id)
    }

    /// Whether session `i` of `snap` passes.
    pub fn matches(&self, snap: &Snapshot, i: usize) -> bool {
        if self.lower.is_empty() {
            return true;
        }
        let s = &snap.sessions()[i];
        self.hit(&s.id)
            || s.description.as_deref().is_some_and(|d| self.hit(d))
            || s.members.iter().any(|m| self.member_hit(m))
    }
}

/// The rows on screen: those `filter` lets through, in `how` order.
pub fn visible(snap: &Snapshot, rows: &[Row], filter: &Filter, how: Sort) -> Vec<usize> {
    let mut order: Vec<usize> = (0..rows.len())
        .filter(|&i| filter.matches(snap, i))
        .collect();
    sort(rows, &mut order, how);
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::top::source::Session;
    use std::time::Duration;

    fn t(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    fn member(id: &str, joined: Option<u64>, connected: Option<bool>) -> Member {
        Member {
            id: id.into(),
            name: id.into(),
            joined_at: joined.map(t),
            connected,
        }
    }

    fn snap() -> Snapshot {
        Snapshot::new(vec![
            Session {
                id: "alpha".into(),
                description: None,
                members: vec![
                    member("ann", Some(30), Some(true)),
                    member("bo", Some(10), Some(false)),
                ],
            },
            Session {
                id: "beta".into(),
                description: Some("Weekly Review".into()),
                members: vec![member("Zoë", Some(5), Some(true))],
            },
            Session {
                id: "gamma".into(),
                description: None,
                members: vec![
                    member("cy", None, None),
                    member("di", None, None),
                    member("ed", None, None),
                ],
            },
        ])
        .unwrap()
    }

    fn ids(snap: &Snapshot, order: &[usize]) -> Vec<String> {
        order
            .iter()
            .map(|&i| snap.sessions()[i].id.clone())
            .collect()
    }

    #[test]
    fn a_row_sums_up_its_session() {
        let s = snap();
        let churn = HashMap::from([("alpha".to_owned(), (3, 1))]);
        let r = rows(&s, &churn);
        assert_eq!(r[0].participants, 2);
        assert_eq!(r[0].oldest_join, Some(t(10)));
        assert_eq!((r[0].joins, r[0].leaves), (3, 1));
        assert_eq!(r[0].not_connected, Some(1));
        assert_eq!(r[1].not_connected, Some(0));
        // Janus without its Admin API says neither when nor whether connected.
        assert_eq!(r[2].oldest_join, None);
        assert_eq!(r[2].not_connected, None);
    }

    #[test]
    fn every_column_sorts_both_ways_and_unknowns_go_last() {
        let s = snap();
        let churn = HashMap::from([("beta".to_owned(), (2, 0)), ("gamma".to_owned(), (1, 4))]);
        let r = rows(&s, &churn);
        let by = |column, descending| {
            ids(
                &s,
                &visible(&s, &r, &Filter::default(), Sort { column, descending }),
            )
        };
        assert_eq!(by(Column::Participants, true), ["gamma", "alpha", "beta"]);
        assert_eq!(by(Column::Participants, false), ["beta", "alpha", "gamma"]);
        assert_eq!(by(Column::Session, false), ["alpha", "beta", "gamma"]);
        assert_eq!(by(Column::Session, true), ["gamma", "beta", "alpha"]);
        assert_eq!(by(Column::OldestJoin, false), ["beta", "alpha", "gamma"]);
        assert_eq!(by(Column::OldestJoin, true), ["alpha", "beta", "gamma"]);
        assert_eq!(by(Column::Joins, true), ["beta", "gamma", "alpha"]);
        assert_eq!(by(Column::Leaves, true), ["gamma", "alpha", "beta"]);
        assert_eq!(by(Column::NotConnected, true), ["alpha", "beta", "gamma"]);
        assert_eq!(by(Column::Description, false), ["beta", "alpha", "gamma"]);
    }

    #[test]
    fn pressing_a_column_twice_reverses_it() {
        let s = Sort::default().press(Column::Session);
        assert_eq!(
            s,
            Sort {
                column: Column::Session,
                descending: false
            }
        );
        assert!(s.press(Column::Session).descending);
        assert!(
            s.press(Column::Joins).descending,
            "counts start biggest first"
        );
        assert_eq!(Column::from_digit(7), Some(Column::Description));
        assert_eq!(Column::from_digit(0), None);
        assert_eq!(Column::from_digit(8), None);
    }

    #[test]
    fn the_filter_finds_ids_descriptions_and_people_in_any_case() {
        let s = snap();
        let r = rows(&s, &HashMap::new());
        let f = |text: &str| ids(&s, &visible(&s, &r, &Filter::new(text), Sort::default()));
        assert_eq!(f("ALP"), ["alpha"]);
        assert_eq!(f("review"), ["beta"]);
        assert_eq!(f("zoË"), ["beta"], "non-ASCII text folds case too");
        assert_eq!(f("ed"), ["gamma"]);
        assert_eq!(f("a"), ["gamma", "alpha", "beta"]);
        assert!(f("nobody").is_empty());
        assert_eq!(f("").len(), 3);
    }
}

//! The ordering rules (docs/EVENTS.md, "Ordering rules") as a checker that
//! any stream of events can be fed through: the engine's outputs as they are
//! produced (the session reports each break as a `contract_violation`
//! event), a recording or NDJSON written by another tool.

use std::collections::VecDeque;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::event::{EventKind, RunInfo};

/// Which rule a stream broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rule {
    /// Rule 1: a terminal event outside a join attempt (a second one).
    OneTerminal,
    /// Rule 1: a session-scoped event after the terminal event.
    NothingAfterTerminal,
    /// Rule 2: `connection_lost` twice without a resolution between.
    LossResolvedOnce,
    /// Rule 2: a loss neither resolved nor retried on its schedule.
    LossResolvesInTime,
    /// Rule 3: `connection_restored` without a `connection_lost`.
    RestoreFollowsLoss,
    /// `session_joined` twice in one join attempt.
    JoinedOnce,
    /// `connecting` after the join was acknowledged.
    ConnectingBeforeJoined,
    /// `connection_lost` before the join was acknowledged.
    LossAfterJoined,
    /// A `participant_*` event outside a session (before `session_joined`).
    ParticipantsInSession,
}

impl Rule {
    /// The rule's number in the contract, if it has one.
    pub fn number(self) -> Option<u8> {
        match self {
            Rule::OneTerminal | Rule::NothingAfterTerminal => Some(1),
            Rule::LossResolvedOnce | Rule::LossResolvesInTime => Some(2),
            Rule::RestoreFollowsLoss => Some(3),
            _ => None,
        }
    }

    /// What was broken, in words: the one place for them.
    pub fn words(self) -> &'static str {
        match self {
            Rule::OneTerminal => {
                "a terminal event outside a join attempt (a second terminal event?)"
            }
            Rule::NothingAfterTerminal => "a session-scoped event after the terminal event",
            Rule::LossResolvedOnce => "connection_lost twice without a resolution between them",
            Rule::LossResolvesInTime => {
                "a connection_lost neither resolved nor retried within the reconnect schedule"
            }
            Rule::RestoreFollowsLoss => "connection_restored without a connection_lost before it",
            Rule::JoinedOnce => "session_joined twice in one join attempt",
            Rule::ConnectingBeforeJoined => "connecting after the join was acknowledged",
            Rule::LossAfterJoined => "connection_lost before session_joined",
            Rule::ParticipantsInSession => "a participant event outside a session",
        }
    }
}

impl std::fmt::Display for Rule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.number() {
            Some(n) => write!(f, "rule {n}: {}", self.words()),
            None => f.write_str(self.words()),
        }
    }
}

/// One event a violation involves: its name and, when the stream has
/// times, its offset in the run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRef {
    /// The event's name (`connection_lost`).
    pub event: String,
    #[serde(
        default,
        rename = "t_ms",
        with = "crate::event::opt_offset_ms",
        skip_serializing_if = "Option::is_none"
    )]
    /// When it happened: its offset in the run (`t_ms` on the line), when the
    /// stream has times.
    pub at: Option<Duration>,
}

impl std::fmt::Display for EventRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.at {
            Some(at) => write!(f, "{} at {:.3} s", self.event, at.as_secs_f64()),
            None => f.write_str(&self.event),
        }
    }
}

/// A broken rule: which, in words, the events involved (the earlier one it
/// conflicts with first, the one that broke it last) and the names of the
/// events just before, for context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[error("contract violation, {rule}: {}; recent events: {}", list(.events), .recent.join(","))]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// [`Rule::words`], on the line for whoever reads it without calltop.
    pub message: String,
    /// The events involved: the earlier one it conflicts with first (if any),
    /// the one that broke it last.
    pub events: Vec<EventRef>,
    /// The names of the events just before, oldest first (at most 16).
    #[serde(default)]
    pub recent: Vec<String>,
}

impl Violation {
    /// What tells one break from another: its rule and when its first event
    /// happened. A break a run's own check recorded and the same break found
    /// again in its recording share it.
    pub fn key(&self) -> (Rule, Option<Duration>) {
        (self.rule, self.events.first().and_then(|e| e.at))
    }
}

fn list(events: &[EventRef]) -> String {
    events
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" then ")
}

/// How many event names a violation quotes for context.
const RECENT: usize = 16;

/// Slack on top of the schedule for the time rule: the schedule's own
/// waits are exact, but a busy machine wakes late.
const GRACE: Duration = Duration::from_secs(2);

/// The contract's default connect timeout, for a stream whose settings are unknown.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The ordering rules of the contract, checked on a stream of events fed
/// one by one: each feed returns the rules the event broke. Nothing is
/// changed or dropped; the checker goes on after a violation.
#[derive(Debug, Clone)]
pub struct ContractChecker {
    /// Between a join's first `connecting` and its terminal event.
    active: bool,
    joined: Option<Seen>,
    /// The unresolved `connection_lost`.
    lost: Option<Seen>,
    last_terminal: Option<Seen>,
    last_restore_or_resolution: Option<Seen>,
    /// When the unresolved loss must have been resolved or retried.
    deadline: Option<Duration>,
    connect_timeout: Duration,
    recent: VecDeque<&'static str>,
    terminals: usize,
}

impl Default for ContractChecker {
    fn default() -> Self {
        ContractChecker::with_connect_timeout(DEFAULT_CONNECT_TIMEOUT)
    }
}

/// An event the checker remembers: copied on every event, so no
/// allocation until a violation names it.
#[derive(Debug, Clone, Copy)]
struct Seen {
    name: &'static str,
    at: Option<Duration>,
}

impl Seen {
    fn named(self) -> EventRef {
        EventRef {
            event: self.name.to_owned(),
            at: self.at,
        }
    }
}

/// Only inside a join attempt (docs/EVENTS.md, "Ordering rules").
fn session_scoped(event: &EventKind) -> bool {
    matches!(
        event,
        EventKind::SessionJoined { .. }
            | EventKind::ConnectionLost { .. }
            | EventKind::ConnectionRestored { .. }
            | EventKind::ParticipantJoined { .. }
            | EventKind::ParticipantLeft { .. }
            | EventKind::ParticipantRenamed { .. }
            | EventKind::ServerInfo(_)
            | EventKind::IdleCountdownStarted { .. }
            | EventKind::IdleCountdownCancelled
            | EventKind::Heartbeat { .. }
            | EventKind::ReconnectAttempt { .. }
            | EventKind::Leaving { .. }
    )
}

impl ContractChecker {
    /// A checker for a stream whose settings are unknown (the default connect
    /// timeout, five seconds, for the time rule).
    pub fn new() -> Self {
        Self::default()
    }

    /// For a recorded run: with the connect timeout its `run_started` says
    /// (without one, the default).
    pub fn for_run(run: Option<&RunInfo>) -> Self {
        run.and_then(|r| r.settings.get("connect_timeout_ms")?.as_u64())
            .map(|ms| Self::with_connect_timeout(Duration::from_millis(ms)))
            .unwrap_or_default()
    }

    /// For a stream of a session with this connect timeout: how long an
    /// attempt may take before the next `reconnect_attempt` must follow.
    pub fn with_connect_timeout(connect_timeout: Duration) -> Self {
        ContractChecker {
            active: false,
            joined: None,
            lost: None,
            last_terminal: None,
            last_restore_or_resolution: None,
            deadline: None,
            connect_timeout,
            recent: VecDeque::with_capacity(RECENT),
            terminals: 0,
        }
    }

    /// Feeds one event of a stream without times (the time rule is not checked).
    pub fn observe(&mut self, event: &EventKind) -> Result<(), Violation> {
        self.observe_name(event.name(), None, event)
    }

    /// Feeds one event that happened `at` into the run (the event's own
    /// rules only; see [`Self::feed`] for the time rule as well).
    pub fn observe_at(&mut self, event: &EventKind, at: Duration) -> Result<(), Violation> {
        self.observe_name(event.name(), Some(at), event)
    }

    /// Feeds one event of a timed stream: first whether a loss ran out of
    /// time before it (see [`Self::check_time`]), then the event itself.
    pub fn feed(&mut self, event: &EventKind, at: Duration) -> Vec<Violation> {
        let late = self.check_time(at).err();
        let own = self.observe_at(event, at).err();
        late.into_iter().chain(own).collect()
    }

    /// When a loss becomes a violation if nothing happens before: the
    /// session's driver sleeps until then.
    pub fn deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// Reports an unresolved loss whose time ran out by `now`, once.
    pub fn check_time(&mut self, now: Duration) -> Result<(), Violation> {
        match self.deadline {
            Some(d) if now > d => {
                self.deadline = None;
                let lost = self.lost.expect("a deadline only runs with a loss");
                Err(self.violation(Rule::LossResolvesInTime, vec![lost.named()]))
            }
            _ => Ok(()),
        }
    }

    fn violation(&self, rule: Rule, events: Vec<EventRef>) -> Violation {
        Violation {
            rule,
            message: rule.words().to_owned(),
            events,
            recent: self.recent.iter().map(|s| (*s).to_owned()).collect(),
        }
    }

    fn observe_name(
        &mut self,
        name: &'static str,
        at: Option<Duration>,
        event: &EventKind,
    ) -> Result<(), Violation> {
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back(name);
        let this = Seen { name, at };
        let fail = |s: &Self, rule, earlier: Option<Seen>| {
            let events = earlier.into_iter().chain([this]).map(Seen::named).collect();
            Err(s.violation(rule, events))
        };
        if matches!(event, EventKind::Connecting { .. }) {
            if !self.active {
                self.active = true;
                self.joined = None;
                self.lost = None;
                self.deadline = None;
            } else if self.joined.is_some() {
                return fail(self, Rule::ConnectingBeforeJoined, self.joined);
            }
            return Ok(());
        }
        if event.is_terminal() {
            if !self.active {
                return fail(self, Rule::OneTerminal, self.last_terminal);
            }
            self.active = false;
            self.lost = None;
            self.deadline = None;
            self.terminals += 1;
            self.last_terminal = Some(this);
            return Ok(());
        }
        if session_scoped(event) && !self.active {
            return fail(self, Rule::NothingAfterTerminal, self.last_terminal);
        }
        if event.is_participant() && self.joined.is_none() {
            return fail(self, Rule::ParticipantsInSession, None);
        }
        match event {
            EventKind::SessionJoined { .. } => {
                if self.joined.is_some() {
                    return fail(self, Rule::JoinedOnce, self.joined);
                }
                self.joined = Some(this);
            }
            EventKind::ConnectionLost { .. } => {
                if self.lost.is_some() {
                    return fail(self, Rule::LossResolvedOnce, self.lost);
                }
                if self.joined.is_none() {
                    return fail(self, Rule::LossAfterJoined, None);
                }
                // The first reconnect_attempt follows at once.
                self.deadline = at.map(|t| t + GRACE);
                self.lost = Some(this);
            }
            EventKind::ReconnectAttempt { delay, .. } if self.lost.is_some() => {
                self.deadline = at.map(|t| t + *delay + self.connect_timeout + GRACE);
            }
            EventKind::ConnectionRestored { .. } => {
                if self.lost.is_none() {
                    return fail(
                        self,
                        Rule::RestoreFollowsLoss,
                        self.last_restore_or_resolution,
                    );
                }
                self.lost = None;
                self.deadline = None;
                self.last_restore_or_resolution = Some(this);
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether a join attempt is open (started and not yet ended).
    pub fn in_attempt(&self) -> bool {
        self.active
    }

    /// Whether a `connection_lost` is unresolved (no restore or terminal event
    /// since).
    pub fn reconnecting(&self) -> bool {
        self.lost.is_some()
    }

    /// How many terminal events have been fed.
    pub fn terminal_events(&self) -> usize {
        self.terminals
    }

    /// The names of the last events fed, oldest first (at most 16).
    pub fn events(&self) -> Vec<&'static str> {
        self.recent.iter().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(name: &str) -> EventKind {
        let line = match name {
            "connecting" => r#"{"event":"connecting","attempt":1}"#.to_owned(),
            "session_joined" => r#"{"event":"session_joined","participants":0}"#.to_owned(),
            "session_left" => r#"{"event":"session_left","reason":"user"}"#.to_owned(),
            "connection_lost" => r#"{"event":"connection_lost","reason":"x"}"#.to_owned(),
            "connection_restored" => {
                r#"{"event":"connection_restored","resumed":true,"downtime_ms":1,"attempts":1}"#
                    .to_owned()
            }
            "connection_closed" => r#"{"event":"connection_closed","reason":"x"}"#.to_owned(),
            "reconnect_attempt" => {
                r#"{"event":"reconnect_attempt","attempt":1,"max":10,"delay_ms":1000}"#.to_owned()
            }
            "participant_joined" => {
                r#"{"event":"participant_joined","user":"a","id":"a"}"#.to_owned()
            }
            "participant_renamed" => {
                r#"{"event":"participant_renamed","user":"a","id":"a","previous":"b"}"#.to_owned()
            }
            "server_info" => r#"{"event":"server_info"}"#.to_owned(),
            "heartbeat" => r#"{"event":"heartbeat","rtt_us":5}"#.to_owned(),
            other => panic!("no test event {other}"),
        };
        serde_json::from_str(&line).unwrap()
    }

    fn run(events: &[&str]) -> Result<(), Violation> {
        let mut c = ContractChecker::new();
        events.iter().try_for_each(|e| c.observe(&ev(e)))
    }

    fn broken(events: &[&str]) -> Rule {
        run(events).expect_err("a broken stream").rule
    }

    #[test]
    fn a_clean_life_passes() {
        run(&[
            "connecting",
            "session_joined",
            "participant_joined",
            "connection_lost",
            "reconnect_attempt",
            "connection_restored",
            "participant_renamed",
            "session_left",
            "connecting",
            "connection_closed",
        ])
        .unwrap();
    }

    #[test]
    fn each_broken_rule_is_named() {
        use Rule::*;
        let j = ["connecting", "session_joined"];
        let with = |tail: &[&'static str]| [&j[..], tail].concat();
        assert_eq!(
            broken(&["connecting", "session_left", "session_left"]),
            OneTerminal
        );
        assert_eq!(broken(&["session_left"]), OneTerminal);
        assert_eq!(
            broken(&with(&["session_left", "participant_joined"])),
            NothingAfterTerminal
        );
        assert_eq!(
            broken(&["connecting", "session_left", "server_info"]),
            NothingAfterTerminal
        );
        assert_eq!(
            broken(&["connecting", "session_left", "heartbeat"]),
            NothingAfterTerminal
        );
        assert_eq!(
            broken(&with(&["connection_lost", "connection_lost"])),
            LossResolvedOnce
        );
        assert_eq!(broken(&with(&["connection_restored"])), RestoreFollowsLoss);
        assert_eq!(broken(&with(&["session_joined"])), JoinedOnce);
        assert_eq!(broken(&with(&["connecting"])), ConnectingBeforeJoined);
        assert_eq!(broken(&["connecting", "connection_lost"]), LossAfterJoined);
        assert_eq!(
            broken(&["connecting", "participant_joined"]),
            ParticipantsInSession
        );
    }

    #[test]
    fn a_violation_names_the_events_involved() {
        let mut c = ContractChecker::new();
        let s = Duration::from_secs;
        for (name, at) in [
            ("connecting", 0),
            ("session_joined", 1),
            ("connection_lost", 2),
        ] {
            c.observe_at(&ev(name), s(at)).unwrap();
        }
        let v = c.observe_at(&ev("connection_lost"), s(3)).unwrap_err();
        assert_eq!(v.rule, Rule::LossResolvedOnce);
        let named: Vec<_> = v.events.iter().map(|e| (e.event.as_str(), e.at)).collect();
        assert_eq!(
            named,
            [
                ("connection_lost", Some(s(2))),
                ("connection_lost", Some(s(3)))
            ]
        );
        assert_eq!(v.recent.last().map(String::as_str), Some("connection_lost"));
        let text = v.to_string();
        assert!(text.contains("rule 2"), "{text}");
        assert!(
            text.contains("connection_lost at 2.000 s then connection_lost at 3.000 s"),
            "{text}"
        );
    }

    #[test]
    fn a_loss_must_be_retried_on_schedule_and_is_reported_once() {
        let mut c = ContractChecker::with_connect_timeout(Duration::from_secs(5));
        let s = Duration::from_secs;
        c.observe_at(&ev("connecting"), s(0)).unwrap();
        c.observe_at(&ev("session_joined"), s(0)).unwrap();
        c.observe_at(&ev("connection_lost"), s(10)).unwrap();
        // The first retry is due at once.
        assert_eq!(c.deadline(), Some(s(12)));
        // A retry with a 1 s wait, plus the attempt's 5 s, plus grace.
        c.observe_at(&ev("reconnect_attempt"), s(11)).unwrap();
        assert_eq!(c.deadline(), Some(s(19)));
        assert!(c.check_time(s(19)).is_ok());
        let v = c.check_time(s(20)).unwrap_err();
        assert_eq!(v.rule, Rule::LossResolvesInTime);
        assert_eq!(v.events[0].at, Some(s(10)));
        assert!(c.check_time(s(60)).is_ok(), "reported once");
        // A late restore still resolves it.
        c.observe_at(&ev("connection_restored"), s(61)).unwrap();
        assert_eq!(c.deadline(), None);
    }

    #[test]
    fn feeding_reports_a_late_loss_and_still_reads_the_event() {
        let mut c = ContractChecker::with_connect_timeout(Duration::from_secs(5));
        let s = Duration::from_secs;
        for (name, at) in [
            ("connecting", 0),
            ("session_joined", 0),
            ("connection_lost", 1),
        ] {
            assert!(c.feed(&ev(name), s(at)).is_empty());
        }
        let found: Vec<Rule> = c
            .feed(&ev("connection_restored"), s(100))
            .into_iter()
            .map(|v| v.rule)
            .collect();
        assert_eq!(found, [Rule::LossResolvesInTime]);
        assert!(!c.reconnecting(), "the restore was read");
    }

    #[test]
    fn a_stream_without_times_never_trips_the_time_rule() {
        let mut c = ContractChecker::new();
        for name in ["connecting", "session_joined", "connection_lost"] {
            c.observe(&ev(name)).unwrap();
        }
        assert_eq!(c.deadline(), None);
    }

    #[test]
    fn the_event_that_breaks_a_rule_is_also_read_in_the_event_after() {
        // A violation does not leave the checker confused about the rest.
        let mut c = ContractChecker::new();
        for name in ["connecting", "session_joined"] {
            c.observe(&ev(name)).unwrap();
        }
        assert!(c.observe(&ev("connection_restored")).is_err());
        c.observe(&ev("connection_lost")).unwrap();
        c.observe(&ev("connection_restored")).unwrap();
    }
}

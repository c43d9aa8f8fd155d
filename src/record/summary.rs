//! `calltop replay --headless FILE`: what happened in a recording, in a few
//! lines: joins, each loss with its downtime and how it ended, the terminal
//! events with the exit status each means, and the contract's verdict.

use std::fmt::Write as _;
use std::time::Duration;

use crate::engine::{ContractChecker, Rule, Violation};
use crate::event::{EventKind, RunInfo, SessionEvent};
use crate::exit::Exit;
use crate::ui::fmt;

use super::reader::Damage;

/// Violations listed in full; more are counted.
const SHOWN_VIOLATIONS: usize = 20;

/// One `connection_lost` and what became of it.
#[derive(Debug, Clone, PartialEq)]
pub struct Loss {
    /// When the loss happened: its offset in the run.
    pub at: Duration,
    /// The `connection_lost` reason, with ` [injected]` when an injected fault
    /// caused it.
    pub reason: String,
    /// `None` while the recording has no resolution for it.
    pub outcome: Option<String>,
}

/// A recording, summed up as it is read.
#[derive(Debug, Default)]
pub struct Summary {
    /// The run the recording is of, from its `run_started` line, if it has one.
    pub run: Option<RunInfo>,
    /// How many events have been read.
    pub events: usize,
    /// The first event read (its `ts` is when the recording starts).
    pub first: Option<SessionEvent>,
    /// The offset of the last event read: how long the recording spans.
    pub last_offset: Duration,
    /// How many `session_joined` events.
    pub joins: usize,
    /// How many `participant_joined` events.
    pub participant_joins: usize,
    /// How many `participant_left` events.
    pub participant_leaves: usize,
    /// Every `connection_lost`, in order, with what became of it.
    pub losses: Vec<Loss>,
    /// Terminal events: when, the line's words, and the exit status it means.
    pub terminals: Vec<(Duration, String, Exit)>,
    /// Each ordering rule broken, in words with the events involved: a break
    /// both the run's own check and this one found is listed once.
    pub violations: Vec<String>,
    /// Of those, how many the run's own live check had recorded.
    pub recorded_violations: usize,
    /// `fault_injected` lines: what the run provoked on purpose.
    pub faults: Vec<(Duration, String)>,
    /// Where damage stopped the reading, if it did (set by whoever reads the
    /// file: [`super::Reader::damage`]).
    pub damage: Option<Damage>,
    checker: ContractChecker,
    /// What was found (by either check), so one break is listed once.
    found: Vec<(Rule, Option<Duration>)>,
}

impl Summary {
    /// An empty summary of a recording of `run` (its `run_started`); the time
    /// rule uses the run's connect timeout, or the default without one.
    pub fn new(run: Option<RunInfo>) -> Summary {
        Summary {
            checker: ContractChecker::for_run(run.as_ref()),
            run,
            ..Summary::default()
        }
    }

    fn violation(&mut self, v: &Violation) -> bool {
        let key = v.key();
        if self.found.contains(&key) {
            return false;
        }
        self.found.push(key);
        let events: Vec<String> = v.events.iter().map(ToString::to_string).collect();
        self.violations
            .push(format!("{}: {}", v.rule, events.join(" then ")));
        true
    }

    /// Adds the next event of the recording.
    pub fn add(&mut self, ev: &SessionEvent) {
        self.events += 1;
        if self.first.is_none() {
            self.first = Some(ev.clone());
        }
        self.last_offset = ev.offset;
        for v in self.checker.feed(&ev.kind, ev.offset) {
            self.violation(&v);
        }
        let resolve = |losses: &mut Vec<Loss>, how: String| {
            if let Some(l) = losses.last_mut().filter(|l| l.outcome.is_none()) {
                l.outcome = Some(how);
            }
        };
        match &ev.kind {
            EventKind::SessionJoined { .. } => self.joins += 1,
            EventKind::ParticipantJoined { .. } => self.participant_joins += 1,
            EventKind::ParticipantLeft { .. } => self.participant_leaves += 1,
            EventKind::ConnectionLost { reason, injected } => self.losses.push(Loss {
                at: ev.offset,
                reason: if *injected {
                    format!("{reason} [injected]")
                } else {
                    reason.clone()
                },
                outcome: None,
            }),
            EventKind::FaultInjected { fault } => {
                self.faults.push((ev.offset, format!("fault {fault}")));
            }
            EventKind::ContractViolation(v) => {
                // The live check saw it too; listed once either way.
                self.recorded_violations += 1;
                self.violation(v);
            }
            EventKind::ConnectionRestored {
                resumed,
                downtime,
                attempts,
            } => {
                let how = if *resumed {
                    "resumed"
                } else {
                    "joined again as new"
                };
                resolve(
                    &mut self.losses,
                    format!(
                        "restored after {} ({how}, {attempts} attempt{})",
                        fmt::human(*downtime),
                        if *attempts == 1 { "" } else { "s" }
                    ),
                );
            }
            kind if kind.is_terminal() => {
                let words = terminal_words(kind);
                let down_since = self
                    .losses
                    .last()
                    .filter(|l| l.outcome.is_none())
                    .map(|l| ev.offset.saturating_sub(l.at));
                if let Some(d) = down_since {
                    resolve(
                        &mut self.losses,
                        format!("never restored: {words} after {}", fmt::human(d)),
                    );
                }
                let exit = Exit::for_terminal(kind).expect("a terminal event has an exit status");
                self.terminals.push((ev.offset, words, exit));
            }
            _ => {}
        }
    }

    /// The status `calltop replay --headless` exits with: damage first, then
    /// violations, else 0.
    pub fn exit(&self) -> Exit {
        if self.damage.is_some() {
            Exit::Damaged
        } else if !self.violations.is_empty() {
            Exit::Violations
        } else {
            Exit::Ok
        }
    }

    /// The summary as people read it.
    pub fn render(&self, name: &str) -> String {
        let mut out = String::new();
        let w = &mut out;
        match &self.run {
            Some(r) => {
                let _ = writeln!(
                    w,
                    "recording {name}: calltop {}, {} backend, {}, session {} as {}",
                    r.calltop, r.backend, r.server, r.session, r.user
                );
            }
            None => {
                let _ = writeln!(w, "recording {name} (no run_started line)");
            }
        }
        let start = self
            .first
            .as_ref()
            .map(|e| crate::event::rfc3339_ms(e.ts))
            .unwrap_or_default();
        let _ = writeln!(
            w,
            "events: {} over {} from {start}",
            self.events,
            fmt::human(self.last_offset)
        );
        let _ = writeln!(
            w,
            "joins: {}; participants: {} joined, {} left",
            self.joins, self.participant_joins, self.participant_leaves
        );
        if !self.faults.is_empty() {
            let _ = writeln!(w, "faults injected on purpose: {}", self.faults.len());
            for (at, what) in &self.faults {
                let _ = writeln!(w, "  {} {what}", stamp(*at));
            }
        }
        let _ = writeln!(w, "connection losses: {}", self.losses.len());
        for l in &self.losses {
            let outcome = l
                .outcome
                .as_deref()
                .unwrap_or("not resolved when the recording ends");
            let _ = writeln!(w, "  {} {}: {outcome}", stamp(l.at), l.reason);
        }
        let _ = writeln!(w, "terminal events: {}", self.terminals.len());
        for (at, words, exit) in &self.terminals {
            let _ = writeln!(
                w,
                "  {} {words}: exit status {} ({})",
                stamp(*at),
                exit.code(),
                exit.meaning()
            );
        }
        if self.terminals.is_empty() && self.events > 0 {
            let _ = writeln!(w, "  none: the recording ends with the run still going");
        }
        match self.violations.len() {
            0 => {
                let _ = writeln!(w, "contract violations: none");
            }
            n => {
                let recorded = match self.recorded_violations {
                    0 => String::new(),
                    r => format!(" ({r} recorded by the run's own check)"),
                };
                let _ = writeln!(w, "contract violations: {n}{recorded}");
                for v in self.violations.iter().take(SHOWN_VIOLATIONS) {
                    let _ = writeln!(w, "  {v}");
                }
                if n > SHOWN_VIOLATIONS {
                    let _ = writeln!(w, "  … and {} more", n - SHOWN_VIOLATIONS);
                }
            }
        }
        match &self.damage {
            None => {
                let _ = writeln!(w, "read: the whole file");
            }
            Some(d) => {
                let _ = writeln!(
                    w,
                    "read: stopped at {d}; the summary is of what came before"
                );
            }
        }
        out
    }
}

/// `calltop replay --headless FILE`: reads the whole recording, prints the
/// summary on stdout, and returns the status to exit with.
pub fn run_headless(path: &std::path::Path) -> Exit {
    let mut reader = match super::Reader::open(path) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("calltop: {e}");
            return Exit::Usage;
        }
    };
    let mut summary = Summary::new(reader.run().cloned());
    for rec in reader.by_ref() {
        summary.add(&rec.event);
    }
    summary.damage = reader.damage().cloned();
    if let Some(d) = &summary.damage {
        eprintln!("calltop: {}: read up to the damage at {d}", path.display());
    }
    let text = summary.render(&path.display().to_string());
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        eprintln!("calltop: cannot write to stdout: {e}");
        return Exit::Internal;
    }
    summary.exit()
}

/// An offset as `+m:ss.mmm` (or `+h:mm:ss.mmm`).
pub fn stamp(d: Duration) -> String {
    format!("+{}.{:03}", fmt::clock_secs(d.as_secs()), d.subsec_millis())
}

fn terminal_words(kind: &EventKind) -> String {
    match kind {
        EventKind::SessionLeft { reason } => format!("session_left ({reason:?})").to_lowercase(),
        EventKind::SessionTimedOut { idle_timeout } => {
            format!(
                "session_timed_out after {} alone",
                fmt::human(*idle_timeout)
            )
        }
        EventKind::ConnectionClosed { reason } => format!("connection_closed: {reason}"),
        other => other.name().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::SystemTime;

    use super::*;
    use crate::event::LeftReason;

    fn ev(ms: u64, kind: EventKind) -> SessionEvent {
        SessionEvent::new(SystemTime::UNIX_EPOCH, Duration::from_millis(ms), kind)
    }

    #[test]
    fn losses_are_paired_with_their_outcome_and_terminals_with_their_status() {
        let mut s = Summary::new(None);
        for e in [
            ev(0, EventKind::Connecting { attempt: 1 }),
            ev(10, EventKind::SessionJoined { participants: 0 }),
            ev(
                1_000,
                EventKind::ConnectionLost {
                    reason: "heartbeat unanswered".into(),
                    injected: false,
                },
            ),
            ev(
                2_500,
                EventKind::ConnectionRestored {
                    resumed: true,
                    downtime: Duration::from_millis(1_500),
                    attempts: 2,
                },
            ),
            ev(
                9_000,
                EventKind::ConnectionLost {
                    reason: "reset".into(),
                    injected: true,
                },
            ),
            ev(
                10_500,
                EventKind::SessionLeft {
                    reason: LeftReason::Ended,
                },
            ),
        ] {
            s.add(&e);
        }
        let text = s.render("r.ndjson");
        assert!(
            text.contains(
                "+00:01.000 heartbeat unanswered: restored after 1.5 s (resumed, 2 attempts)"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "+00:09.000 reset [injected]: never restored: session_left (ended) after 1.5 s"
            ),
            "{text}"
        );
        assert!(text.contains("exit status 4"), "{text}");
        assert!(text.contains("contract violations: none"), "{text}");
        assert_eq!(s.exit(), Exit::Ok);
    }

    #[test]
    fn violations_are_named_and_change_the_exit_status() {
        let mut s = Summary::new(None);
        s.add(&ev(0, EventKind::Connecting { attempt: 1 }));
        s.add(&ev(
            5,
            EventKind::ConnectionRestored {
                resumed: true,
                downtime: Duration::ZERO,
                attempts: 1,
            },
        ));
        let text = s.render("r");
        assert!(text.contains("contract violations: 1"), "{text}");
        assert!(
            text.contains("rule 3: connection_restored without"),
            "{text}"
        );
        assert_eq!(s.exit(), Exit::Violations);
    }
}

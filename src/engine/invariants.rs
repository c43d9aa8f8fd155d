//! The ordering invariants (docs/EVENTS.md, "Ordering rules") as a checker that
//! any stream of events (engine outputs, channel, NDJSON read back) can be fed through.

use crate::event::EventKind;

/// A broken invariant: which event broke it and the sequence so far.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("contract violation at event #{index} ({event}): {rule}; events so far: {history}")]
pub struct Violation {
    pub index: usize,
    pub event: String,
    pub rule: &'static str,
    pub history: String,
}

#[derive(Debug, Default, Clone)]
pub struct ContractChecker {
    /// Between a join's first `connecting` and its terminal event.
    active: bool,
    joined: bool,
    lost_pending: bool,
    seen: Vec<String>,
    terminals: usize,
}

const SESSION_SCOPED: &[&str] = &[
    "session_joined",
    "connection_lost",
    "connection_restored",
    "participant_joined",
    "participant_left",
    "participant_renamed",
    "server_info",
    "idle_countdown_started",
    "idle_countdown_cancelled",
    "heartbeat",
    "reconnect_attempt",
    "leaving",
];

impl ContractChecker {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds one event.
    pub fn observe(&mut self, event: &EventKind) -> Result<(), Violation> {
        self.observe_name(event.name())
    }

    /// Feeds one event by its NDJSON name (the rules so far need no more).
    fn observe_name(&mut self, event: &str) -> Result<(), Violation> {
        self.seen.push(event.to_owned());
        let fail = |s: &Self, rule| {
            Err(Violation {
                index: s.seen.len() - 1,
                event: event.to_owned(),
                rule,
                history: s.seen.join(","),
            })
        };
        let terminal = matches!(
            event,
            "session_left" | "session_timed_out" | "connection_closed"
        );
        if event == "connecting" {
            if !self.active {
                self.active = true;
                self.joined = false;
                self.lost_pending = false;
            } else if self.joined {
                return fail(self, "`connecting` is only for a join not yet acknowledged");
            }
            return Ok(());
        }
        if terminal {
            if !self.active {
                return fail(
                    self,
                    "invariant 1: a terminal event outside a join attempt (second terminal?)",
                );
            }
            self.active = false;
            self.lost_pending = false;
            self.terminals += 1;
            return Ok(());
        }
        if SESSION_SCOPED.contains(&event) && !self.active {
            return fail(
                self,
                "invariant 1: a session-scoped event after the terminal event",
            );
        }
        match event {
            "session_joined" => {
                if self.joined {
                    return fail(self, "session_joined twice in one join attempt");
                }
                self.joined = true;
            }
            "connection_lost" => {
                if self.lost_pending {
                    return fail(
                        self,
                        "invariant 2: connection_lost twice without a resolution",
                    );
                }
                if !self.joined {
                    return fail(self, "connection_lost before session_joined");
                }
                self.lost_pending = true;
            }
            "connection_restored" => {
                if !self.lost_pending {
                    return fail(
                        self,
                        "invariant 3: connection_restored without connection_lost",
                    );
                }
                self.lost_pending = false;
            }
            _ => {}
        }
        Ok(())
    }

    /// Whether a join attempt is open (started and not yet ended).
    pub fn in_attempt(&self) -> bool {
        self.active
    }

    pub fn reconnecting(&self) -> bool {
        self.lost_pending
    }

    pub fn terminal_events(&self) -> usize {
        self.terminals
    }

    pub fn events(&self) -> &[String] {
        &self.seen
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(events: &[&str]) -> Result<(), Violation> {
        let mut c = ContractChecker::new();
        events.iter().try_for_each(|e| c.observe_name(e))
    }

    #[test]
    fn a_clean_life_passes() {
        run(&[
            "connecting",
            "session_joined",
            "connection_lost",
            "reconnect_attempt",
            "connection_restored",
            "session_left",
            "connecting",
            "connection_closed",
        ])
        .unwrap();
    }

    #[test]
    fn each_broken_invariant_is_caught() {
        assert!(run(&["connecting", "session_left", "session_left"]).is_err());
        assert!(
            run(&[
                "connecting",
                "session_joined",
                "connection_lost",
                "connection_lost"
            ])
            .is_err()
        );
        assert!(run(&["connecting", "session_joined", "connection_restored"]).is_err());
        assert!(run(&["connecting", "session_left", "participant_joined"]).is_err());
        assert!(run(&["connecting", "session_left", "participant_renamed"]).is_err());
        assert!(run(&["connecting", "session_left", "server_info"]).is_err());
        assert!(run(&["connecting", "session_joined", "session_joined"]).is_err());
    }
}

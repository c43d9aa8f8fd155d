//! What a load run is asked to do, checked before anything connects: how
//! many participants in how many sessions, how fast they come, how long the
//! full fleet runs, and how often churn and faults strike.

use std::time::Duration;

/// The most participants one load process runs: past this the machine's
/// memory and file descriptors run out long before the server does.
pub const MAX_PARTICIPANTS: usize = 200_000;
/// The most participants in one session: the engine follows at most this many
/// others ([`crate::SessionSettings::DEFAULT_MAX_PARTICIPANTS`]).
pub const MAX_PER_SESSION: usize = 10_000;
/// Rates above this are typos, not load plans.
pub const MAX_RATE: f64 = 1_000_000.0;
/// The longest run: a day.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Why a plan cannot run, in the words the user needs to fix it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    #[error("--sessions {0}: at least 1")]
    NoSessions(usize),
    #[error("--per-session {0}: 1 to {MAX_PER_SESSION}")]
    PerSession(usize),
    #[error(
        "{sessions} sessions × {per_session} participants is {total}: at most {MAX_PARTICIPANTS} in one load process"
    )]
    TooMany {
        sessions: usize,
        per_session: usize,
        total: usize,
    },
    #[error("{flag} {value:?}: {expected}")]
    Value {
        flag: &'static str,
        value: String,
        expected: &'static str,
    },
}

/// A rate of things per second (`2000/s`, `0.5/s`, `30/min`, `2000`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default, serde::Serialize)]
pub struct Rate(pub f64);

impl Rate {
    pub fn per_sec(self) -> f64 {
        self.0
    }

    pub fn is_zero(self) -> bool {
        self.0 == 0.0
    }
}

impl std::fmt::Display for Rate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.fract() == 0.0 {
            write!(f, "{}/s", self.0 as u64)
        } else {
            write!(f, "{}/s", self.0)
        }
    }
}

/// Reads `R/s`, `R/min` or a bare `R` (per second).
pub fn parse_rate(flag: &'static str, s: &str) -> Result<Rate, PlanError> {
    let bad = || PlanError::Value {
        flag,
        value: s.to_owned(),
        expected: "a rate such as 2000/s, 0.5/s or 30/min (0 to 1000000 per second)",
    };
    let t = s.trim();
    let (num, per) = match t.split_once('/') {
        Some((n, "s" | "sec")) => (n, 1.0),
        Some((n, "min" | "m")) => (n, 60.0),
        Some(_) => return Err(bad()),
        None => (t, 1.0),
    };
    let v: f64 = num.trim().parse().map_err(|_| bad())?;
    let v = v / per;
    if !v.is_finite() || !(0.0..=MAX_RATE).contains(&v) {
        return Err(bad());
    }
    Ok(Rate(v))
}

/// Reads a duration in jiff's friendly format (`30s`, `2m`, `1h 30m`, `500ms`).
pub fn parse_duration(flag: &'static str, s: &str) -> Result<Duration, PlanError> {
    let bad = || PlanError::Value {
        flag,
        value: s.to_owned(),
        expected: "a duration such as 30s, 2m, 500ms or 1h (at most a day)",
    };
    let secs = s
        .trim()
        .parse::<jiff::Span>()
        .ok()
        .and_then(|span| {
            span.total((
                jiff::Unit::Second,
                jiff::SpanRelativeTo::days_are_24_hours(),
            ))
            .ok()
        })
        .ok_or_else(bad)?;
    if !secs.is_finite() || secs < 0.0 || secs > MAX_DURATION.as_secs_f64() {
        return Err(bad());
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A checked plan.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Plan {
    pub sessions: usize,
    pub per_session: usize,
    /// New participants started per second until all are.
    #[serde(rename = "ramp_per_s")]
    pub ramp: Rate,
    /// How long the full fleet runs once the ramp is over.
    #[serde(rename = "duration_ms", with = "crate::event::ms")]
    pub duration: Duration,
    /// Participants that leave and rejoin, per second.
    #[serde(rename = "churn_per_s")]
    pub churn: Rate,
    /// Connections dropped on purpose, per second.
    #[serde(rename = "drop_per_s")]
    pub drop: Rate,
    /// Connections stalled on purpose, per second.
    #[serde(rename = "stall_per_s")]
    pub stall: Rate,
}

impl Plan {
    pub const DEFAULT_RAMP: Rate = Rate(500.0);
    pub const DEFAULT_DURATION: Duration = Duration::from_secs(10);

    pub fn new(
        sessions: usize,
        per_session: usize,
        ramp: Rate,
        duration: Duration,
    ) -> Result<Plan, PlanError> {
        if sessions == 0 {
            return Err(PlanError::NoSessions(sessions));
        }
        if !(1..=MAX_PER_SESSION).contains(&per_session) {
            return Err(PlanError::PerSession(per_session));
        }
        let total = sessions.saturating_mul(per_session);
        if total > MAX_PARTICIPANTS {
            return Err(PlanError::TooMany {
                sessions,
                per_session,
                total,
            });
        }
        if ramp.is_zero() {
            return Err(PlanError::Value {
                flag: "--ramp",
                value: ramp.to_string(),
                expected: "more than 0 per second",
            });
        }
        Ok(Plan {
            sessions,
            per_session,
            ramp,
            duration,
            churn: Rate::default(),
            drop: Rate::default(),
            stall: Rate::default(),
        })
    }

    pub fn participants(&self) -> usize {
        self.sessions * self.per_session
    }

    /// Which session and which place in it participant `i` has. Sessions
    /// fill side by side, so every session is busy from the first second.
    pub fn place(&self, i: usize) -> (usize, usize) {
        (i % self.sessions, i / self.sessions)
    }

    /// How many participants should have been started `elapsed` into the ramp.
    pub fn due(&self, elapsed: Duration) -> usize {
        let n = (elapsed.as_secs_f64() * self.ramp.per_sec()).floor() as usize + 1;
        n.min(self.participants())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_per_second_per_minute_and_bare() {
        assert_eq!(parse_rate("--ramp", "2000/s").unwrap(), Rate(2000.0));
        assert_eq!(parse_rate("--ramp", "30/min").unwrap(), Rate(0.5));
        assert_eq!(parse_rate("--ramp", " 0.5 ").unwrap(), Rate(0.5));
        for bad in ["", "fast", "-1/s", "3/h", "1e99", "NaN"] {
            let e = parse_rate("--churn", bad).unwrap_err();
            assert!(e.to_string().starts_with("--churn"), "{e}");
        }
    }

    #[test]
    fn durations_read_in_friendly_units_and_refuse_nonsense() {
        assert_eq!(
            parse_duration("--duration", "1m 30s").unwrap(),
            Duration::from_secs(90)
        );
        assert_eq!(
            parse_duration("--duration", "500ms").unwrap(),
            Duration::from_millis(500)
        );
        for bad in ["ten seconds", "-5s", "2d", "10"] {
            let e = parse_duration("--duration", bad).unwrap_err();
            assert!(e.to_string().contains("a duration such as"), "{bad}: {e}");
        }
    }

    #[test]
    fn a_plan_refuses_no_sessions_huge_rooms_and_too_many_participants() {
        let ok = |n, k| Plan::new(n, k, Rate(10.0), Duration::ZERO);
        assert_eq!(ok(0, 3), Err(PlanError::NoSessions(0)));
        assert_eq!(ok(3, 0), Err(PlanError::PerSession(0)));
        assert!(matches!(ok(1, 1_000_000), Err(PlanError::PerSession(_))));
        assert!(matches!(ok(1000, 1000), Err(PlanError::TooMany { .. })));
        assert!(Plan::new(1, 1, Rate(0.0), Duration::ZERO).is_err());
        assert_eq!(ok(3, 3).unwrap().participants(), 9);
    }

    #[test]
    fn sessions_fill_side_by_side_at_the_ramp_rate() {
        let p = Plan::new(3, 2, Rate(2.0), Duration::ZERO).unwrap();
        let places: Vec<_> = (0..6).map(|i| p.place(i)).collect();
        assert_eq!(places, [(0, 0), (1, 0), (2, 0), (0, 1), (1, 1), (2, 1)]);
        assert_eq!(p.due(Duration::ZERO), 1);
        assert_eq!(p.due(Duration::from_millis(1500)), 4);
        assert_eq!(p.due(Duration::from_secs(60)), 6);
    }
}

//! The end of a load run: what it did and found, as text for people
//! (stdout) and as JSON for scripts (`--json FILE`), and its exit status.

use super::check::Mismatch;
use super::fleet::{Counts, NAMED, Named};
use super::plan::Plan;
use super::stats::{Percentiles, Stats};
use crate::exit::Exit;

/// Resident memory of this process before the fleet and with it joined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Memory {
    pub rss_before_kib: u64,
    pub rss_joined_kib: u64,
    /// Participants joined when `rss_joined_kib` was read.
    pub joined: usize,
    /// (joined − before) / joined.
    pub bytes_per_participant: u64,
}

impl Memory {
    pub fn new(rss_before_kib: u64, rss_joined_kib: u64, joined: usize) -> Memory {
        let delta = rss_joined_kib.saturating_sub(rss_before_kib) * 1024;
        Memory {
            rss_before_kib,
            rss_joined_kib,
            joined,
            bytes_per_participant: delta / joined.max(1) as u64,
        }
    }
}

/// This process's resident memory in KiB, where the system says (Linux).
pub fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// CPU time this process has used (user and system), where the system says (Linux).
pub fn cpu_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // The command name may hold spaces: fields count from after its ")".
    let rest = stat.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace().skip(11);
    let (utime, stime): (u64, u64) = (f.next()?.parse().ok()?, f.next()?.parse().ok()?);
    // /proc counts in USER_HZ, which Linux fixes at 100 a second.
    Some((utime + stime) * 10)
}

/// The whole result of a run.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub calltop: &'static str,
    pub backend: &'static str,
    pub server: String,
    pub plan: Plan,
    /// From the first participant started to the check's end.
    pub duration_ms: u64,
    /// Stopped before the plan was done (q, a signal).
    pub stopped_early: bool,
    /// Where everyone was at the check.
    pub participants: Counts,
    /// Participants in their session at the check.
    pub joined: usize,
    /// Started but not in their session at the check.
    pub not_joined: usize,
    pub join_latency: Percentiles,
    pub heartbeat_rtt: Percentiles,
    pub events: u64,
    pub churned: u64,
    pub drops: u64,
    pub stalls: u64,
    pub refused: u64,
    pub contract_violations: u64,
    /// The first few, by participant.
    pub violations: Vec<Named>,
    pub roster_mismatches: usize,
    /// The first few.
    pub mismatches: Vec<Mismatch>,
    /// Why the server's list could not be read at the end, if it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub roster_error: Option<String>,
    /// Participants whose join attempt ended before the run did (first few).
    pub ended_early: Vec<Named>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub memory: Option<Memory>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd_limit: Option<u64>,
    /// CPU time of the load process over the whole run, participants' engines included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cpu_ms: Option<u64>,
    pub passed: bool,
    pub exit: u8,
}

/// What the run found at its end.
pub struct Findings {
    pub counts: Counts,
    pub mismatches: Result<Vec<Mismatch>, String>,
    pub violations: Vec<Named>,
    pub ended_early: Vec<Named>,
}

pub struct RunFacts {
    pub backend: &'static str,
    pub server: String,
    pub plan: Plan,
    pub duration: std::time::Duration,
    pub stopped_early: bool,
    pub memory: Option<Memory>,
    pub fd_limit: Option<u64>,
}

impl Summary {
    pub fn new(run: RunFacts, stats: &Stats, found: Findings) -> Summary {
        let (roster_mismatches, mut mismatches, roster_error) = match found.mismatches {
            Ok(m) => (m.len(), m, None),
            Err(e) => (0, Vec::new(), Some(e)),
        };
        mismatches.truncate(NAMED);
        let joined = found.counts.joined;
        let not_joined = found.counts.started - joined;
        let passed = stats.violations == 0
            && roster_mismatches == 0
            && roster_error.is_none()
            && not_joined == 0
            && joined > 0;
        let exit = if passed { Exit::Ok } else { Exit::LoadFailed };
        Summary {
            calltop: env!("CARGO_PKG_VERSION"),
            backend: run.backend,
            server: run.server,
            plan: run.plan,
            duration_ms: run.duration.as_millis() as u64,
            stopped_early: run.stopped_early,
            participants: found.counts,
            joined,
            not_joined,
            join_latency: stats.join.percentiles(),
            heartbeat_rtt: stats.rtt.percentiles(),
            events: stats.events,
            churned: stats.churned,
            drops: stats.drops,
            stalls: stats.stalls,
            refused: stats.refused,
            contract_violations: stats.violations,
            violations: found.violations,
            roster_mismatches,
            mismatches,
            roster_error,
            ended_early: found.ended_early,
            memory: run.memory,
            fd_limit: run.fd_limit,
            cpu_ms: cpu_ms(),
            passed,
            exit: exit.code(),
        }
    }

    pub fn exit(&self) -> Exit {
        if self.passed {
            Exit::Ok
        } else {
            Exit::LoadFailed
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("plain data always serializes") + "\n"
    }

    /// The summary for people, a few lines.
    pub fn text(&self) -> String {
        let p = &self.plan;
        let mut out = format!(
            "calltop load: {} participants in {} sessions of {}, {:.1} s\nserver: {} ({})\n",
            p.sessions * p.per_session,
            p.sessions,
            p.per_session,
            self.duration_ms as f64 / 1000.0,
            self.server,
            self.backend,
        );
        if self.stopped_early {
            out += "stopped early (q, Ctrl-C or a signal): checked as it stood\n";
        }
        let c = &self.participants;
        out += &format!(
            "joined {} of {} started · not joined {} (connecting {}, reconnecting {}, leaving {}, closed {})\n",
            self.joined,
            c.started,
            self.not_joined,
            c.connecting,
            c.reconnecting,
            c.leaving,
            c.closed
        );
        out += &format!("join latency   {}\n", percentiles(&self.join_latency));
        out += &format!("heartbeat rtt  {}\n", percentiles(&self.heartbeat_rtt));
        out += &format!(
            "events {} · churned {} · drops {} · stalls {} · refused {}\n",
            self.events, self.churned, self.drops, self.stalls, self.refused
        );
        if let Some(m) = &self.memory {
            out += &format!(
                "memory {:.1} KB per joined participant (RSS {:.1} → {:.1} MB with {} joined)\n",
                m.bytes_per_participant as f64 / 1024.0,
                m.rss_before_kib as f64 / 1024.0,
                m.rss_joined_kib as f64 / 1024.0,
                m.joined
            );
        }
        for e in &self.ended_early {
            out += &format!("ended early: {}: {}\n", e.participant, e.what);
        }
        match self.contract_violations {
            0 => out += "contract violations: none\n",
            n => {
                out += &format!("contract violations: {n}\n");
                for v in &self.violations {
                    out += &format!("  {}: {}\n", v.participant, v.what);
                }
            }
        }
        match (&self.roster_error, self.roster_mismatches) {
            (Some(e), _) => {
                out += &format!("roster check: could not read the server's list: {e}\n")
            }
            (None, 0) => out += "roster mismatches: none\n",
            (None, n) => {
                out += &format!("roster mismatches: {n}\n");
                for m in &self.mismatches {
                    out += &format!("  {m}\n");
                }
            }
        }
        out += &format!(
            "verdict: {} (exit {})\n",
            if self.passed { "pass" } else { "FAIL" },
            self.exit
        );
        out
    }
}

/// `p50 1.2 ms · p99 3.4 ms · max 3.5 ms (9)`.
pub fn percentiles(p: &Percentiles) -> String {
    if p.count == 0 {
        return "none measured".into();
    }
    format!(
        "p50 {} · p99 {} · max {} ({})",
        us(p.p50_us),
        us(p.p99_us),
        us(p.max_us),
        p.count
    )
}

/// Microseconds as people read them: `840 µs`, `3.4 ms`, `1.20 s`.
pub fn us(v: u64) -> String {
    match v {
        0..1_000 => format!("{v} µs"),
        1_000..1_000_000 => format!("{:.1} ms", v as f64 / 1000.0),
        _ => format!("{:.2} s", v as f64 / 1_000_000.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn microseconds_read_in_the_unit_that_fits() {
        assert_eq!(us(840), "840 µs");
        assert_eq!(us(3_400), "3.4 ms");
        assert_eq!(us(1_200_000), "1.20 s");
    }

    #[test]
    fn this_process_has_used_some_cpu_and_memory() {
        assert!(rss_kib().is_some_and(|k| k > 0));
        assert!(cpu_ms().is_some());
    }

    #[test]
    fn memory_per_participant_is_the_rss_growth_shared_out() {
        let m = Memory::new(10_000, 10_160, 10);
        assert_eq!(m.bytes_per_participant, 16 * 1024);
        assert_eq!(Memory::new(10, 5, 0).bytes_per_participant, 0);
    }
}

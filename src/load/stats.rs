//! What a load run measures: join latency and heartbeat round trips as
//! HDR histograms (the `hdrhistogram` crate, not hand-rolled percentiles),
//! event counts, and one value per second of each for the sparklines.

use std::collections::VecDeque;
use std::time::Duration;

use hdrhistogram::Histogram;

/// Seconds of history the sparklines keep.
pub const HISTORY: usize = 600;
/// The largest value a histogram records (longer is counted as this): a
/// minute, in microseconds.
const HIGHEST_US: u64 = 60_000_000;

/// p50, p99 and the maximum of one histogram, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct Percentiles {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// Microsecond values, three significant figures.
#[derive(Debug, Clone)]
pub struct Latency {
    all: Histogram<u64>,
    /// Since the last [`Stats::second`]: that second's p99 for the sparkline.
    window: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        let h = || Histogram::new_with_bounds(1, HIGHEST_US, 3).expect("constant bounds are valid");
        Latency {
            all: h(),
            window: h(),
        }
    }
}

impl Latency {
    pub fn record(&mut self, d: Duration) {
        let us = (d.as_micros() as u64).clamp(1, HIGHEST_US);
        // Clamped into the bounds, so recording cannot fail.
        let _ = self.all.record(us);
        let _ = self.window.record(us);
    }

    pub fn percentiles(&self) -> Percentiles {
        of(&self.all)
    }

    fn take_window(&mut self) -> Percentiles {
        let p = of(&self.window);
        self.window.reset();
        p
    }
}

fn of(h: &Histogram<u64>) -> Percentiles {
    if h.is_empty() {
        return Percentiles::default();
    }
    Percentiles {
        count: h.len(),
        p50_us: h.value_at_quantile(0.5),
        p99_us: h.value_at_quantile(0.99),
        max_us: h.max(),
    }
}

/// The last [`HISTORY`] seconds of one quantity.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Series(VecDeque<u64>);

impl Series {
    fn push(&mut self, v: u64) {
        if self.0.len() == HISTORY {
            self.0.pop_front();
        }
        self.0.push_back(v);
    }

    /// The newest `n` values, oldest first.
    pub fn last(&self, n: usize) -> Vec<u64> {
        let skip = self.0.len().saturating_sub(n);
        self.0.iter().skip(skip).copied().collect()
    }

    pub fn latest(&self) -> Option<u64> {
        self.0.back().copied()
    }
}

/// One sparkline per quantity on the screen.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    pub joined: Series,
    pub join_p99_us: Series,
    pub rtt_p99_us: Series,
    pub events_per_s: Series,
    pub violations: Series,
}

/// Everything counted over the run.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub join: Latency,
    pub rtt: Latency,
    pub events: u64,
    pub violations: u64,
    pub churned: u64,
    pub drops: u64,
    pub stalls: u64,
    /// Commands the engine refused (a drop on a connection that was just
    /// lost): not failures, but they did not happen.
    pub refused: u64,
    events_at_last_second: u64,
    pub history: History,
}

impl Stats {
    /// Closes one second of history: `joined` is how many are in now.
    pub fn second(&mut self, joined: usize) {
        let h = &mut self.history;
        h.joined.push(joined as u64);
        h.join_p99_us.push(self.join.take_window().p99_us);
        h.rtt_p99_us.push(self.rtt.take_window().p99_us);
        h.events_per_s
            .push(self.events - self.events_at_last_second);
        self.events_at_last_second = self.events;
        h.violations.push(self.violations);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_come_from_the_histogram_and_a_window_per_second() {
        let mut s = Stats::default();
        for ms in 1..=100 {
            s.join.record(Duration::from_millis(ms));
        }
        let p = s.join.percentiles();
        assert_eq!(p.count, 100);
        // Three significant figures: within 0.1 % of the exact values.
        assert!((49_950..=50_050).contains(&p.p50_us), "{p:?}");
        assert!((98_900..=99_100).contains(&p.p99_us), "{p:?}");
        assert!((99_900..=100_100).contains(&p.max_us), "{p:?}");
        s.events = 42;
        s.second(7);
        s.join.record(Duration::from_millis(3));
        s.events = 50;
        s.second(8);
        assert_eq!(s.history.joined.last(5), [7, 8]);
        assert_eq!(s.history.events_per_s.last(5), [42, 8]);
        let second = s.history.join_p99_us.latest().unwrap();
        assert!((2_990..=3_010).contains(&second), "{second}");
        assert_eq!(s.join.percentiles().count, 101, "the run's total keeps all");
    }

    #[test]
    fn history_keeps_its_last_seconds_only() {
        let mut s = Stats::default();
        for i in 0..HISTORY + 10 {
            s.second(i);
        }
        let all = s.history.joined.last(usize::MAX);
        assert_eq!(all.len(), HISTORY);
        assert_eq!(all[0], 10);
    }

    #[test]
    fn an_empty_histogram_reads_as_zeros() {
        assert_eq!(Latency::default().percentiles(), Percentiles::default());
    }
}

//! Reconnect delays: exponential backoff with jitter and a cap, as a pure function.
//!
//! Kept pure (the random sample is an argument) so the engine stays deterministic
//! under a seeded RNG and every property of the schedule is unit-testable.

use std::time::Duration;

/// How the engine retries after the connection drops (and on a first join
/// whose server does not answer).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ReconnectPolicy {
    /// Delay before the second attempt; the first one goes out at once, because
    /// most drops are blips and an immediate retry hides them.
    pub initial_delay: Duration,
    /// No delay is ever longer than this.
    pub max_delay: Duration,
    /// Growth factor per attempt (≥ 1).
    pub multiplier: f64,
    /// Attempts before giving up with `connection_closed` (≥ 1).
    pub max_attempts: u32,
    /// Share of each delay that is random, 0.0 to 1.0. 0.5 is "equal jitter":
    /// between half and all of the nominal delay, so clients that dropped
    /// together do not come back together, yet none retries with no pause.
    pub jitter: f64,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        ReconnectPolicy {
            initial_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(5),
            multiplier: 2.0,
            max_attempts: 10,
            jitter: 0.5,
        }
    }
}

impl ReconnectPolicy {
    /// The nominal (un-jittered) delay before attempt `attempt` (1-based).
    pub fn nominal_delay(&self, attempt: u32) -> Duration {
        if attempt <= 1 {
            return Duration::ZERO;
        }
        let exp = self.multiplier.powi((attempt - 2).min(64) as i32);
        let secs = self.initial_delay.as_secs_f64() * exp;
        // min(), not max(): the cap is a ceiling. Non-finite growth lands on the cap too.
        if !secs.is_finite() || secs >= self.max_delay.as_secs_f64() {
            self.max_delay
        } else {
            Duration::from_secs_f64(secs)
        }
    }

    /// The delay before attempt `attempt`, jittered with `sample` in `[0, 1)`.
    pub fn delay(&self, attempt: u32, sample: f64) -> Duration {
        let nominal = self.nominal_delay(attempt);
        let sample = sample.clamp(0.0, 1.0);
        let jitter = self.jitter.clamp(0.0, 1.0);
        nominal.mul_f64(1.0 - jitter + jitter * sample)
    }

    /// The longest a full run of attempts waits between attempts in total
    /// (jitter at its maximum); the attempts' own time comes on top.
    pub fn worst_case_budget(&self) -> Duration {
        (1..=self.max_attempts).map(|a| self.nominal_delay(a)).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn first_attempt_is_immediate_then_doubles_up_to_the_cap() {
        let p = ReconnectPolicy::default();
        let ms: Vec<u128> = (1..=8).map(|a| p.nominal_delay(a).as_millis()).collect();
        assert_eq!(ms, vec![0, 250, 500, 1000, 2000, 4000, 5000, 5000]);
    }

    #[test]
    fn default_waits_add_up_to_less_than_the_servers_default_resume_window() {
        // 30 s is the reference server's default resume window: when attempts
        // fail fast, a client that gets back at all does so while its slot is
        // still kept. (Attempts that hang until the connect timeout add to this.)
        assert!(ReconnectPolicy::default().worst_case_budget() <= Duration::from_secs(30));
    }

    #[test]
    fn huge_attempt_numbers_stay_at_the_cap() {
        let p = ReconnectPolicy::default();
        assert_eq!(p.nominal_delay(u32::MAX), p.max_delay);
    }

    proptest! {
        #[test]
        fn jittered_delay_never_exceeds_the_cap_nor_falls_below_its_floor(
            attempt in 1u32..200, sample in 0.0f64..1.0, jitter in 0.0f64..=1.0,
            mult in 1.0f64..10.0, init_ms in 1u64..10_000, cap_ms in 1u64..60_000,
        ) {
            let p = ReconnectPolicy {
                initial_delay: Duration::from_millis(init_ms),
                max_delay: Duration::from_millis(cap_ms),
                multiplier: mult, max_attempts: 10, jitter,
            };
            let d = p.delay(attempt, sample);
            prop_assert!(d <= p.max_delay);
            prop_assert!(d + Duration::from_nanos(1) >= p.nominal_delay(attempt).mul_f64(1.0 - jitter));
            prop_assert!(p.nominal_delay(attempt) <= p.nominal_delay(attempt + 1));
        }
    }
}

//! The engine's timers: a small table keyed by what each one is for. The next
//! deadline the driver must wake up for is the earliest armed entry.

use std::time::Instant;

/// What an engine timer is for: one deadline of each kind at most.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Timer {
    /// The current connection attempt must be joined by then.
    Attempt,
    /// The next reconnect attempt starts then.
    Retry,
    /// Send the next heartbeat.
    HeartbeatSend,
    /// A heartbeat went out and nothing has come back since: lost at this deadline.
    HeartbeatTimeout,
    /// We have been alone for the idle timeout.
    Idle,
    /// The server did not acknowledge our leave in time; we are out anyway.
    LeaveAck,
    /// An injected stall is over: read and send again.
    StallEnd,
}

impl Timer {
    const ALL: [Timer; 7] = [
        Timer::Attempt,
        Timer::Retry,
        Timer::HeartbeatSend,
        Timer::HeartbeatTimeout,
        Timer::Idle,
        Timer::LeaveAck,
        Timer::StallEnd,
    ];
}

#[derive(Debug, Default, Clone)]
pub struct Timers {
    at: [Option<Instant>; Timer::ALL.len()],
}

impl Timers {
    pub fn set(&mut self, t: Timer, when: Instant) {
        self.at[t as usize] = Some(when);
    }

    pub fn stop(&mut self, t: Timer) {
        self.at[t as usize] = None;
    }

    pub fn get(&self, t: Timer) -> Option<Instant> {
        self.at[t as usize]
    }

    pub fn is_set(&self, t: Timer) -> bool {
        self.at[t as usize].is_some()
    }

    pub fn stop_all(&mut self) {
        self.at = Default::default();
    }

    pub fn next_deadline(&self) -> Option<Instant> {
        self.at.iter().flatten().min().copied()
    }

    /// The expired timer with the earliest deadline (ties in declaration
    /// order), disarmed. After a late wake-up (a suspended laptop) several may
    /// have expired: they fire in the order they fell due, so an idle timeout
    /// that came first is not preceded by a loss that came after it.
    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let t = Timer::ALL
            .into_iter()
            .filter_map(|t| self.at[t as usize].filter(|d| *d <= now).map(|d| (d, t)))
            .min_by_key(|(d, _)| *d)?
            .1;
        self.stop(t);
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expired_timers_fire_in_deadline_order() {
        let t0 = Instant::now();
        let mut timers = Timers::default();
        timers.set(Timer::HeartbeatTimeout, t0 + Duration::from_millis(4500));
        timers.set(Timer::Idle, t0 + Duration::from_secs(3));
        timers.set(Timer::Retry, t0 + Duration::from_secs(60));
        let late = t0 + Duration::from_secs(10);
        assert_eq!(timers.take_expired(late), Some(Timer::Idle));
        assert_eq!(timers.take_expired(late), Some(Timer::HeartbeatTimeout));
        assert_eq!(timers.take_expired(late), None);
        assert_eq!(timers.next_deadline(), Some(t0 + Duration::from_secs(60)));
    }
}

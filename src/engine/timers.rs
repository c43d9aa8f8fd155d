//! The engine's timers: a small table keyed by what each one is for. The next
//! deadline the driver must wake up for is the earliest armed entry.

use std::time::Instant;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Timer {
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
}

impl Timer {
    const ALL: [Timer; 6] = [
        Timer::Attempt,
        Timer::Retry,
        Timer::HeartbeatSend,
        Timer::HeartbeatTimeout,
        Timer::Idle,
        Timer::LeaveAck,
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

    /// The first timer (in declaration order) that has expired at `now`, disarmed.
    pub fn take_expired(&mut self, now: Instant) -> Option<Timer> {
        let t = Timer::ALL
            .into_iter()
            .find(|t| self.at[*t as usize].is_some_and(|d| d <= now))?;
        self.stop(t);
        Some(t)
    }
}

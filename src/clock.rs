//! The one clock a run takes its time from: the session driver, the
//! dashboard and the recorder all read it, so an event's offset, a
//! countdown on screen and a recording agree, and a test that pauses
//! tokio's clock (`tokio::time::pause`) moves them all together.

use std::time::{Duration, Instant, SystemTime};

use crate::event::{offset_us, wall_ms};

/// A run's start, on the monotonic clock and on the wall clock. Wall-clock
/// times of the run are its start plus the monotonic time since: they never
/// go backwards when the system clock is set, and they follow a paused clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Clock {
    start: Instant,
    wall: SystemTime,
}

impl Clock {
    /// A clock whose offset zero is now. Call it inside a tokio runtime.
    pub fn start() -> Clock {
        Clock {
            start: tokio::time::Instant::now().into_std(),
            wall: wall_ms(SystemTime::now()),
        }
    }

    /// A clock with a given start, for tests and replays.
    pub fn at(start: Instant, wall: SystemTime) -> Clock {
        Clock {
            start,
            wall: wall_ms(wall),
        }
    }

    /// Now, on tokio's clock (which a test may have paused).
    pub fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }

    /// How far into the run `at` is (to the microsecond; zero before the start).
    pub fn offset(&self, at: Instant) -> Duration {
        offset_us(at.saturating_duration_since(self.start))
    }

    /// The offset of now.
    pub fn elapsed(&self) -> Duration {
        self.offset(self.now())
    }

    /// The wall-clock time of an offset (to the millisecond).
    pub fn wall(&self, offset: Duration) -> SystemTime {
        wall_ms(self.wall + offset)
    }

    /// The instant of an offset.
    pub fn instant(&self, offset: Duration) -> Instant {
        self.start + offset
    }

    /// When the run started, on the wall clock.
    pub fn started(&self) -> SystemTime {
        self.wall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn offsets_follow_a_paused_clock_and_wall_times_follow_offsets() {
        let clock = Clock::start();
        assert_eq!(clock.elapsed(), Duration::ZERO);
        tokio::time::advance(Duration::from_secs(90)).await;
        assert_eq!(clock.elapsed(), Duration::from_secs(90));
        assert_eq!(
            clock.wall(clock.elapsed()),
            clock.started() + Duration::from_secs(90)
        );
        assert_eq!(clock.instant(clock.elapsed()), clock.now());
    }
}

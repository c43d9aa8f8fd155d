//! Logging that says a thing once per burst, not once per occurrence: a
//! flood of refused connections must not become a flood of log lines.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a burst lasts: the first occurrence is logged at once, the rest
/// are counted and summed up in one line when the window closes.
pub const WINDOW: Duration = Duration::from_secs(10);

/// One kind of occurrence (a refused connection, an accept error…).
#[derive(Debug, Clone)]
pub struct BurstLog {
    what: &'static str,
    /// Occurrences since the burst's first, `None` between bursts.
    count: Arc<Mutex<Option<u64>>>,
}

impl BurstLog {
    /// `what` names the occurrence in the summary ("connections refused").
    pub fn new(what: &'static str) -> BurstLog {
        BurstLog {
            what,
            count: Arc::new(Mutex::new(None)),
        }
    }

    /// Notes one occurrence; `first` writes the log line for a burst's first
    /// (it is called at most once per window). Needs a tokio runtime.
    pub fn note(&self, first: impl FnOnce()) {
        let mut count = self.count.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = count.as_mut() {
            *n += 1;
            return;
        }
        *count = Some(0);
        drop(count);
        first();
        let this = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(WINDOW).await;
            let more = this
                .count
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
                .unwrap_or(0);
            if more > 0 {
                tracing::warn!(
                    target: "calltop::server",
                    "{} more {} in the last {} s",
                    more,
                    this.what,
                    WINDOW.as_secs()
                );
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn one_line_per_burst_then_a_sum() {
        let log = BurstLog::new("things");
        let mut firsts = 0;
        for _ in 0..1000 {
            log.note(|| firsts += 1);
        }
        assert_eq!(firsts, 1);
        assert_eq!(*log.count.lock().unwrap(), Some(999));
        tokio::time::sleep(WINDOW + Duration::from_millis(1)).await;
        // The window closed: the next occurrence starts a new burst.
        log.note(|| firsts += 1);
        assert_eq!(firsts, 2);
    }
}

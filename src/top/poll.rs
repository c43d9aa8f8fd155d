//! The poller: a task that asks a [`Source`] for a snapshot every interval
//! and hands each outcome, timed, to whoever draws. Nothing else here: the
//! diff and everything shown is the model's.

use std::time::SystemTime;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Duration, Instant};

use super::model::Polled;
use super::source::Source;

/// Polls `source` at once and then every `every` (measured start to start;
/// a poll slower than that is followed by the next at once), until the
/// receiver goes away. The source's own timeout bounds each poll.
pub fn spawn(
    mut source: Box<dyn Source>,
    every: Duration,
    out: mpsc::Sender<Polled>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let started = Instant::now();
            let result = source.poll().await;
            let at = Instant::now();
            let polled = Polled {
                at: at.into_std(),
                wall: SystemTime::now(),
                took: at - started,
                result,
            };
            if out.send(polled).await.is_err() {
                return;
            }
            tokio::time::sleep_until((started + every).max(Instant::now())).await;
        }
    })
}

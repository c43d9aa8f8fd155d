//! Hands each event to every subscriber without ever waiting for one: the
//! driver's socket reads, heartbeats and timers must not depend on how fast
//! a dashboard draws or a pipe drains.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::mpsc;

use crate::event::{EventKind, SessionEvent};

/// How far a subscriber may fall behind before its heartbeats are
/// coalesced (dropped while it catches up). Every other event is always
/// delivered: the contract's invariant 4 says no status event is ever lost,
/// and a participant or error event a dashboard never saw would make it lie.
pub const SUBSCRIBER_CAPACITY: usize = 1024;

/// One subscriber's stream of events, in the order the engine reported them.
#[derive(Debug)]
pub struct Subscription {
    rx: mpsc::UnboundedReceiver<SessionEvent>,
    queued: Arc<AtomicUsize>,
}

/// No event waiting now ([`Subscription::try_recv`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing yet; more may come.
    Empty,
    /// The session's task has stopped: nothing more will come.
    Closed,
}

impl Subscription {
    /// The next event; `None` once the session's task has stopped and
    /// everything before has been read.
    pub async fn recv(&mut self) -> Option<SessionEvent> {
        let ev = self.rx.recv().await?;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        Some(ev)
    }

    /// [`Subscription::recv`] for a thread outside the runtime (it blocks).
    pub fn blocking_recv(&mut self) -> Option<SessionEvent> {
        let ev = self.rx.blocking_recv()?;
        self.queued.fetch_sub(1, Ordering::Relaxed);
        Some(ev)
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Result<SessionEvent, TryRecvError> {
        match self.rx.try_recv() {
            Ok(ev) => {
                self.queued.fetch_sub(1, Ordering::Relaxed);
                Ok(ev)
            }
            Err(mpsc::error::TryRecvError::Empty) => Err(TryRecvError::Empty),
            Err(mpsc::error::TryRecvError::Disconnected) => Err(TryRecvError::Closed),
        }
    }

    /// Events delivered but not read yet.
    pub fn backlog(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }
}

struct Subscriber {
    tx: mpsc::UnboundedSender<SessionEvent>,
    queued: Arc<AtomicUsize>,
}

/// The subscribers of one session.
#[derive(Default)]
pub struct Fanout {
    subscribers: Vec<Subscriber>,
}

impl Fanout {
    /// A new subscriber, receiving every event from now on.
    pub fn subscribe(&mut self) -> Subscription {
        let (tx, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(AtomicUsize::new(0));
        self.subscribers.push(Subscriber {
            tx,
            queued: queued.clone(),
        });
        Subscription { rx, queued }
    }

    /// Delivers to every subscriber; never waits. A heartbeat is left out for
    /// a subscriber [`SUBSCRIBER_CAPACITY`] or more events behind.
    pub fn send(&mut self, event: &SessionEvent) {
        let coalescable = matches!(event.kind, EventKind::Heartbeat { .. });
        self.subscribers.retain(|s| {
            if coalescable && s.queued.load(Ordering::Relaxed) >= SUBSCRIBER_CAPACITY {
                return !s.tx.is_closed();
            }
            s.queued.fetch_add(1, Ordering::Relaxed);
            s.tx.send(event.clone()).is_ok()
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use super::*;

    fn ev(kind: EventKind) -> SessionEvent {
        SessionEvent::new(SystemTime::UNIX_EPOCH, Duration::ZERO, kind)
    }

    #[test]
    fn a_subscriber_that_falls_behind_loses_heartbeats_only() {
        let mut fanout = Fanout::default();
        let mut slow = fanout.subscribe();
        let mut fast = fanout.subscribe();
        let hb = ev(EventKind::Heartbeat {
            rtt: Duration::from_millis(1),
        });
        let joined = ev(EventKind::SessionJoined { participants: 0 });
        let mut fast_got = 0;
        for i in 0..3 * SUBSCRIBER_CAPACITY {
            fanout.send(if i % 2 == 0 { &hb } else { &joined });
            while fast.try_recv().is_ok() {
                fast_got += 1;
            }
        }
        assert_eq!(
            fast_got,
            3 * SUBSCRIBER_CAPACITY,
            "a reader keeps up: all of them"
        );
        let mut kinds = Vec::new();
        while let Ok(e) = slow.try_recv() {
            kinds.push(e.kind);
        }
        let statuses = kinds.iter().filter(|k| k.is_status()).count();
        assert_eq!(
            statuses,
            3 * SUBSCRIBER_CAPACITY / 2,
            "no status event lost"
        );
        assert!(
            kinds.len() < 3 * SUBSCRIBER_CAPACITY,
            "heartbeats coalesced"
        );
        assert_eq!(slow.backlog(), 0);
    }

    #[test]
    fn a_dropped_subscription_is_forgotten() {
        let mut fanout = Fanout::default();
        let gone = fanout.subscribe();
        drop(gone);
        fanout.send(&ev(EventKind::IdleCountdownCancelled));
        assert!(fanout.subscribers.is_empty());
    }
}

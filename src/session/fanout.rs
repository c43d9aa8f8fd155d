//! Hands each event to every subscriber without ever waiting for one: the
//! driver's socket reads, heartbeats and timers must not depend on how fast
//! a dashboard draws or a pipe drains.
//!
//! Each subscriber has a queue of its own that takes no room while it is
//! empty (a tokio channel keeps a block of 32 events, some 6 KB, from the
//! start; a load run holds a subscription per participant).

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::Notify;

use crate::event::{EventKind, SessionEvent};

/// How far a subscriber may fall behind before its heartbeats are
/// coalesced (dropped while it catches up). Every other event is always
/// delivered: the contract's invariant 4 says no status event is ever lost,
/// and a participant or error event a dashboard never saw would make it lie.
pub const SUBSCRIBER_CAPACITY: usize = 1024;

/// Room a drained queue keeps; a burst's is given back.
const KEPT: usize = 4;

/// One subscriber's stream of events, in the order the engine reported them.
#[derive(Debug)]
pub struct Subscription {
    shared: Arc<Shared>,
}

/// No event waiting now ([`Subscription::try_recv`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing yet; more may come.
    Empty,
    /// The session's task has stopped: nothing more will come.
    Closed,
}

#[derive(Debug, Default)]
struct Queue {
    events: VecDeque<SessionEvent>,
    /// The session's side is gone: what is queued is all there will be.
    closed: bool,
    /// The subscription is gone: nobody reads.
    abandoned: bool,
}

#[derive(Debug, Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Wakes an async reader (a permit is kept if it is not waiting yet).
    ready: Notify,
    /// Wakes a blocking reader.
    ready_blocking: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A reader or the driver that panicked holding the lock left the
        // queue whole (each change is one push or pop): go on with it.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Queue {
    fn take(&mut self) -> Result<SessionEvent, TryRecvError> {
        match self.events.pop_front() {
            Some(ev) => {
                if self.events.is_empty() && self.events.capacity() > KEPT {
                    self.events.shrink_to(KEPT);
                }
                Ok(ev)
            }
            None if self.closed => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }
}

impl Subscription {
    /// The next event; `None` once the session's task has stopped and
    /// everything before has been read.
    pub async fn recv(&mut self) -> Option<SessionEvent> {
        loop {
            match self.try_recv() {
                Ok(ev) => return Some(ev),
                Err(TryRecvError::Closed) => return None,
                // One reader per queue: a send since the check left a permit.
                Err(TryRecvError::Empty) => self.shared.ready.notified().await,
            }
        }
    }

    /// [`Subscription::recv`] for a thread outside the runtime (it blocks).
    pub fn blocking_recv(&mut self) -> Option<SessionEvent> {
        let mut q = self.shared.lock();
        loop {
            match q.take() {
                Ok(ev) => return Some(ev),
                Err(TryRecvError::Closed) => return None,
                Err(TryRecvError::Empty) => {
                    q = self
                        .shared
                        .ready_blocking
                        .wait(q)
                        .unwrap_or_else(|p| p.into_inner());
                }
            }
        }
    }

    /// The next event if one is waiting.
    pub fn try_recv(&mut self) -> Result<SessionEvent, TryRecvError> {
        self.shared.lock().take()
    }

    /// Events delivered but not read yet.
    pub fn backlog(&self) -> usize {
        self.shared.lock().events.len()
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut q = self.shared.lock();
        q.abandoned = true;
        q.events = VecDeque::new();
    }
}

/// The subscribers of one session.
#[derive(Default)]
pub struct Fanout {
    subscribers: Vec<Arc<Shared>>,
}

impl Fanout {
    /// A new subscriber, receiving every event from now on.
    pub fn subscribe(&mut self) -> Subscription {
        let shared = Arc::new(Shared::default());
        self.subscribers.push(shared.clone());
        Subscription { shared }
    }

    /// Delivers to every subscriber; never waits. A heartbeat is left out for
    /// a subscriber [`SUBSCRIBER_CAPACITY`] or more events behind.
    pub fn send(&mut self, event: &SessionEvent) {
        let coalescable = matches!(event.kind, EventKind::Heartbeat { .. });
        self.subscribers.retain(|s| {
            let mut q = s.lock();
            if q.abandoned {
                return false;
            }
            if !(coalescable && q.events.len() >= SUBSCRIBER_CAPACITY) {
                q.events.push_back(event.clone());
            }
            drop(q);
            s.ready.notify_one();
            s.ready_blocking.notify_one();
            true
        });
    }
}

impl Drop for Fanout {
    fn drop(&mut self) {
        for s in &self.subscribers {
            s.lock().closed = true;
            s.ready.notify_one();
            s.ready_blocking.notify_one();
        }
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
    fn a_reader_gets_what_came_before_the_end_then_none() {
        let mut fanout = Fanout::default();
        let mut sub = fanout.subscribe();
        assert_eq!(sub.try_recv(), Err(TryRecvError::Empty));
        fanout.send(&ev(EventKind::IdleCountdownCancelled));
        drop(fanout);
        assert!(sub.try_recv().is_ok());
        assert_eq!(sub.try_recv(), Err(TryRecvError::Closed));
        assert_eq!(sub.blocking_recv(), None);
    }

    #[test]
    fn a_blocking_reader_is_woken_by_a_send_from_another_thread() {
        let mut fanout = Fanout::default();
        let mut sub = fanout.subscribe();
        let reader = std::thread::spawn(move || {
            let first = sub.blocking_recv().map(|e| e.kind);
            let then = sub.blocking_recv();
            (first, then)
        });
        fanout.send(&ev(EventKind::IdleCountdownCancelled));
        drop(fanout);
        let (first, then) = reader.join().unwrap();
        assert_eq!(first, Some(EventKind::IdleCountdownCancelled));
        assert_eq!(then, None);
    }

    #[tokio::test]
    async fn an_async_reader_is_woken_by_a_send_after_it_started_waiting() {
        let mut fanout = Fanout::default();
        let mut sub = fanout.subscribe();
        let reader = tokio::spawn(async move { sub.recv().await.map(|e| e.kind) });
        tokio::task::yield_now().await;
        fanout.send(&ev(EventKind::IdleCountdownCancelled));
        assert_eq!(
            reader.await.unwrap(),
            Some(EventKind::IdleCountdownCancelled)
        );
    }

    #[test]
    fn a_drained_queue_gives_its_room_back() {
        let mut fanout = Fanout::default();
        let mut sub = fanout.subscribe();
        for _ in 0..500 {
            fanout.send(&ev(EventKind::IdleCountdownCancelled));
        }
        while sub.try_recv().is_ok() {}
        assert!(sub.shared.lock().events.capacity() <= KEPT);
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

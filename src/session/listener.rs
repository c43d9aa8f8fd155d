//! The session-status listener API: six callbacks, each optional, removed when
//! the guard that registration returned is dropped.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use crate::event::{EventKind, LeftReason};

/// Details of a `connection_restored`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Restored {
    /// The server kept our slot: nothing about the session changed for others.
    pub resumed: bool,
    /// How long we were away, since the `connection_lost` (whole milliseconds).
    pub downtime: Duration,
    /// The reconnect attempts it took, this one included.
    pub attempts: u32,
}

/// The six session-status callbacks. Each is a no-op by default, so implement
/// only the ones you need. They run on the engine's task: return quickly
/// (hand work to a channel or a spawned task).
pub trait SessionStatusListener: Send + Sync {
    /// `session_joined`: the server acknowledged our join.
    fn on_session_joined(&self) {}
    /// `session_left` (terminal): we left, were removed, the session was ended,
    /// or another connection joined as us.
    fn on_session_left(&self, _reason: LeftReason) {}
    /// `session_timed_out` (terminal): we were the only participant for the
    /// idle timeout and left.
    fn on_session_timed_out(&self) {}
    /// `connection_lost`: the transport dropped or a heartbeat went unanswered
    /// while in the session; reconnecting starts at once. `reason` is for people.
    fn on_connection_lost(&self, _reason: &str) {}
    /// `connection_restored`: back in the same session after a loss.
    fn on_connection_restored(&self, _restored: Restored) {}
    /// `connection_closed` (terminal): the connection is gone for good
    /// (attempts exhausted, or a refusal retrying cannot fix). `reason` is for
    /// people.
    fn on_connection_closed(&self, _reason: &str) {}
}

type Entries = Mutex<Vec<(u64, Arc<dyn SessionStatusListener>)>>;

/// The registered listeners.
#[derive(Default)]
pub(crate) struct Listeners {
    entries: Arc<Entries>,
    next_id: AtomicU64,
}

/// Keeps a listener registered; dropping it removes the listener (the Rust form
/// of "removed with its lifecycle owner").
#[must_use = "the listener is removed as soon as this guard is dropped"]
pub struct ListenerGuard {
    entries: Weak<Entries>,
    id: u64,
}

impl Drop for ListenerGuard {
    fn drop(&mut self) {
        if let Some(entries) = self.entries.upgrade() {
            entries
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|(id, _)| *id != self.id);
        }
    }
}

impl Listeners {
    pub(crate) fn add(&self, listener: Arc<dyn SessionStatusListener>) -> ListenerGuard {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push((id, listener));
        ListenerGuard {
            entries: Arc::downgrade(&self.entries),
            id,
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Calls the matching callback of every listener for a status event.
    pub(crate) fn notify(&self, kind: &EventKind) {
        if !kind.is_status() {
            return;
        }
        // Snapshot, so a callback may add or drop listeners without deadlock.
        let listeners: Vec<Arc<dyn SessionStatusListener>> = self
            .entries
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(_, l)| l.clone())
            .collect();
        for l in listeners {
            match kind {
                EventKind::SessionJoined { .. } => l.on_session_joined(),
                EventKind::SessionLeft { reason } => l.on_session_left(*reason),
                EventKind::SessionTimedOut { .. } => l.on_session_timed_out(),
                EventKind::ConnectionLost { reason, .. } => l.on_connection_lost(reason),
                EventKind::ConnectionRestored {
                    resumed,
                    downtime,
                    attempts,
                } => l.on_connection_restored(Restored {
                    resumed: *resumed,
                    downtime: *downtime,
                    attempts: *attempts,
                }),
                EventKind::ConnectionClosed { reason } => l.on_connection_closed(reason),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Count(Mutex<Vec<&'static str>>);
    impl SessionStatusListener for Count {
        fn on_session_joined(&self) {
            self.0.lock().unwrap().push("joined");
        }
        fn on_connection_closed(&self, _reason: &str) {
            self.0.lock().unwrap().push("closed");
        }
    }

    #[test]
    fn dropping_the_guard_stops_the_callbacks() {
        let listeners = Listeners::default();
        let seen = Arc::new(Count::default());
        let guard = listeners.add(seen.clone());
        listeners.notify(&EventKind::SessionJoined { participants: 0 });
        // Not a status event, and a default (no-op) method: neither is recorded.
        listeners.notify(&EventKind::IdleCountdownCancelled);
        listeners.notify(&EventKind::SessionTimedOut {
            idle_timeout: Duration::from_secs(1),
        });
        drop(guard);
        assert_eq!(listeners.len(), 0);
        listeners.notify(&EventKind::ConnectionClosed { reason: "x".into() });
        assert_eq!(*seen.0.lock().unwrap(), vec!["joined"]);
    }
}

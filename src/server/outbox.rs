//! What the server has queued for one client, bounded in frames and bytes.
//! A client that stops reading fills it, and is cut off rather than
//! buffered for.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use axum::extract::ws::Utf8Bytes;
use tokio::sync::{Notify, mpsc};

use crate::protocol::ServerFrame;

/// Frames a client may have queued before it is cut off. A burst of joins
/// into a room of thousands queues one `participant_joined` per newcomer for
/// every member faster than a real client reads them (256 cut off clients
/// of a 2,000-client burst that were reading all along); a client that stops
/// reading reaches this all the same.
pub const MAX_QUEUED_FRAMES: usize = 16 * 1024;

/// Bytes a client may have queued before it is cut off, unless configured
/// (`serve.max_queued_bytes`). A frame that finds the queue empty is taken
/// whatever its size (a large room's `joined`), so this bounds a backlog,
/// never one reply.
pub const DEFAULT_MAX_QUEUED_BYTES: usize = 2 * 1024 * 1024;

/// What a pong the WebSocket layer queued may hold (a control frame's
/// largest payload and its header).
const PONG_BYTES: usize = 125 + 6;

/// What a connection's writer is told to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Outgoing {
    /// A frame, serialized once (a broadcast shares one copy among all members).
    Text(Utf8Bytes),
    /// A frame the writer serializes: a reply as long as the room (`joined`),
    /// queued under the hub's lock but not made into text there.
    Frame(Box<ServerFrame>),
    /// Write out what the WebSocket layer queued on its own (the pong that
    /// answers a WebSocket ping). Going through this queue, those count
    /// against the client's bound like any frame.
    Flush,
    /// Send a close frame with this code and reason, then stop.
    Close(u16, String),
    /// Drop the socket without a close frame (the demo's simulated network failure).
    Drop,
}

impl Outgoing {
    /// A frame serialized now, ready to be shared among many queues.
    pub fn frame(f: &ServerFrame) -> Outgoing {
        // Server frames are plain data (strings, numbers, bools): they always serialize.
        let text = serde_json::to_string(f).unwrap_or_default();
        Outgoing::Text(text.into())
    }

    /// What it holds in memory while queued (for a frame not yet
    /// serialized, about what its text will).
    fn bytes(&self) -> usize {
        match self {
            Outgoing::Text(t) => t.len(),
            Outgoing::Frame(f) => match f.as_ref() {
                ServerFrame::Joined { participants, .. } => participants
                    .iter()
                    .map(|p| p.user.len() + p.joined_at.len() + 28)
                    .sum::<usize>()
                    .saturating_add(256),
                _ => 128,
            },
            Outgoing::Flush => PONG_BYTES,
            Outgoing::Close(_, reason) => reason.len() + 2,
            Outgoing::Drop => 0,
        }
    }
}

#[derive(Debug)]
struct Budget {
    max_bytes: usize,
    bytes: AtomicUsize,
    cut: AtomicBool,
    /// Wakes the writer when the client is cut off, even mid-send.
    kill: Notify,
}

/// The sending side, held by the hub and by the connection's reader.
#[derive(Debug, Clone)]
pub struct Conn {
    /// The connection's number, unique in its hub: tells a member's current
    /// connection from an older one.
    pub id: u64,
    tx: mpsc::Sender<Outgoing>,
    budget: Arc<Budget>,
}

/// The receiving side, for the connection's writer.
pub struct Outbox {
    rx: mpsc::Receiver<Outgoing>,
    budget: Arc<Budget>,
}

impl Conn {
    /// A connection whose queue may hold `max_bytes` (past its first frame).
    pub fn new(id: u64, max_bytes: usize) -> (Conn, Outbox) {
        let (tx, rx) = mpsc::channel(MAX_QUEUED_FRAMES);
        let budget = Arc::new(Budget {
            max_bytes,
            bytes: AtomicUsize::new(0),
            cut: AtomicBool::new(false),
            kill: Notify::new(),
        });
        (
            Conn {
                id,
                tx,
                budget: budget.clone(),
            },
            Outbox { rx, budget },
        )
    }

    /// Queues `out`, or cuts the client off if its queue is over the bound.
    pub fn push(&self, out: Outgoing) {
        if self.budget.cut.load(Ordering::Relaxed) {
            return;
        }
        let n = out.bytes();
        let before = self.budget.bytes.fetch_add(n, Ordering::Relaxed);
        let over = before > 0 && before + n > self.budget.max_bytes;
        if over || self.tx.try_send(out).is_err() {
            self.budget.bytes.fetch_sub(n, Ordering::Relaxed);
            self.cut_off();
        }
    }

    /// Whether this client was cut off for not reading.
    pub fn is_cut_off(&self) -> bool {
        self.budget.cut.load(Ordering::Relaxed)
    }

    fn cut_off(&self) {
        // The kill does not go through the full queue, so it always lands
        // (a stored permit if the writer is not waiting yet).
        if !self.budget.cut.swap(true, Ordering::Relaxed) {
            self.budget.kill.notify_one();
        }
    }
}

impl Outbox {
    /// The next thing to do; `None` once the client is cut off or every
    /// sender is gone.
    pub async fn next(&mut self) -> Option<Outgoing> {
        if self.budget.cut.load(Ordering::Relaxed) {
            return None;
        }
        tokio::select! {
            out = self.rx.recv() => out,
            _ = self.budget.kill.notified() => None,
        }
    }

    /// Runs `send` (writing `out` to the socket), given up if the client is
    /// cut off meanwhile; `out`'s bytes leave the budget once it is done.
    /// Returns false when the connection should end.
    pub async fn write<F>(&self, bytes: usize, send: F) -> bool
    where
        F: Future<Output = bool>,
    {
        let sent = tokio::select! {
            ok = send => ok,
            _ = self.budget.kill.notified() => false,
        };
        self.budget.bytes.fetch_sub(bytes, Ordering::Relaxed);
        sent && !self.budget.cut.load(Ordering::Relaxed)
    }

    /// Bytes `out` holds against the budget (for [`Outbox::write`]).
    pub fn cost(out: &Outgoing) -> usize {
        out.bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pong(seq: u64) -> Outgoing {
        Outgoing::frame(&ServerFrame::Pong { seq })
    }

    #[tokio::test]
    async fn a_full_queue_cuts_the_client_off() {
        let (conn, mut outbox) = Conn::new(1, DEFAULT_MAX_QUEUED_BYTES);
        for seq in 0..(MAX_QUEUED_FRAMES as u64 + 10) {
            conn.push(pong(seq));
        }
        assert!(conn.is_cut_off());
        // The writer stops at once, past whatever is queued.
        assert_eq!(outbox.next().await, None);
    }

    #[tokio::test]
    async fn too_many_bytes_cut_the_client_off_but_one_large_reply_is_taken() {
        let (conn, mut outbox) = Conn::new(1, DEFAULT_MAX_QUEUED_BYTES);
        let big = Outgoing::Text("x".repeat(DEFAULT_MAX_QUEUED_BYTES * 2).into());
        conn.push(big.clone());
        assert!(!conn.is_cut_off(), "a reply into an empty queue is taken");
        assert_eq!(outbox.next().await, Some(big.clone()));
        // Sent: its bytes leave the budget.
        assert!(outbox.write(Outbox::cost(&big), async { true }).await);
        conn.push(pong(1));
        assert!(!conn.is_cut_off());
        conn.push(big);
        assert!(conn.is_cut_off(), "a large frame behind a backlog is over");
        assert_eq!(outbox.next().await, None);
    }

    #[tokio::test]
    async fn a_cut_off_lands_on_a_writer_stuck_in_a_send() {
        let (conn, outbox) = Conn::new(1, DEFAULT_MAX_QUEUED_BYTES);
        let stuck =
            tokio::spawn(async move { outbox.write(0, std::future::pending::<bool>()).await });
        for seq in 0..(MAX_QUEUED_FRAMES as u64 + 1) {
            conn.push(pong(seq));
        }
        assert!(!stuck.await.unwrap(), "the writer gives up its send");
    }
}

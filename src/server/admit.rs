//! Who may open a connection: a cap on all connections and one per client
//! address. Each admitted connection carries a [`Ticket`] inside its socket,
//! so it is counted from accept until the socket closes, through the HTTP
//! upgrade and the whole WebSocket life.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, Ipv6Addr};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The server holds its `max_connections`.
    Full(usize),
    /// This client address holds its `max_connections_per_ip`.
    PerAddress(usize),
}

impl Refusal {
    /// For the refused client (a 503's body) and the log.
    pub fn message(self) -> String {
        match self {
            Refusal::Full(max) => {
                format!("the server is at its limit of {max} connections; try again later")
            }
            Refusal::PerAddress(max) => {
                format!("too many connections from your address (the limit is {max})")
            }
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_address: HashMap<IpAddr, usize>,
}

/// The counts, shared by the accept loop and every open connection.
#[derive(Debug)]
pub struct Admission {
    max_total: usize,
    max_per_address: usize,
    counts: Mutex<Counts>,
    /// Woken whenever the last connection closes (shutdown waits for it).
    drained: Notify,
}

/// The part of a client's address its cap is counted by: the address itself,
/// except that all of loopback is one (127.0.0.0/8 and ::1: one machine),
/// and an IPv6 address counts by its /64, the block one host is given.
fn key(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        ip if ip.is_loopback() => IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

impl Admission {
    pub fn new(max_total: usize, max_per_address: usize) -> Arc<Admission> {
        Arc::new(Admission {
            max_total,
            max_per_address,
            counts: Mutex::new(Counts::default()),
            drained: Notify::new(),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts a new connection from `ip`, or says why it may not open.
    pub fn admit(self: &Arc<Self>, ip: IpAddr) -> Result<Ticket, Refusal> {
        let key = key(ip);
        let mut c = self.lock();
        if c.total >= self.max_total {
            return Err(Refusal::Full(self.max_total));
        }
        let mine = c.by_address.entry(key).or_insert(0);
        if *mine >= self.max_per_address {
            return Err(Refusal::PerAddress(self.max_per_address));
        }
        *mine += 1;
        c.total += 1;
        Ok(Ticket {
            admission: self.clone(),
            key,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().total
    }

    /// Returns once no connection is open.
    pub async fn drained(&self) {
        loop {
            let wake = self.drained.notified();
            tokio::pin!(wake);
            // Registered before the check, so a close in between is not missed.
            wake.as_mut().enable();
            if self.open() == 0 {
                return;
            }
            wake.await;
        }
    }
}

/// One admitted connection; dropping it gives its place back.
#[derive(Debug)]
pub struct Ticket {
    admission: Arc<Admission>,
    key: IpAddr,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut c = self.admission.lock();
        c.total -= 1;
        if let Some(n) = c.by_address.get_mut(&self.key) {
            *n -= 1;
            // No entry outlives its last connection: the map cannot grow
            // with every address that ever connected.
            if *n == 0 {
                c.by_address.remove(&self.key);
            }
        }
        if c.total == 0 {
            self.admission.drained.notify_waiters();
        }
    }
}

/// Asks for a connection to end with a reset rather than a close: for a
/// client cut off for not reading, whose unsent data the kernel would
/// otherwise keep, and keep trying to deliver, long after we let go.
#[derive(Debug, Clone, Default)]
pub struct Abort(Arc<AtomicBool>);

impl Abort {
    pub fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A client socket with its ticket: the ticket goes when the socket does,
/// wherever it went (hyper hands it to the WebSocket on upgrade).
#[derive(Debug)]
pub struct Counted {
    io: TcpStream,
    abort: Abort,
    _ticket: Ticket,
}

impl Counted {
    pub fn new(io: TcpStream, ticket: Ticket) -> Counted {
        Counted {
            io,
            abort: Abort::default(),
            _ticket: ticket,
        }
    }

    /// Sets this socket to be reset when it closes.
    pub fn abort_handle(&self) -> Abort {
        self.abort.clone()
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if self.abort.0.load(Ordering::Relaxed) {
            // Linger 0: close sends a reset and drops what is unsent, so the
            // client learns at once and the kernel frees the buffer now.
            let _ = socket2::SockRef::from(&self.io).set_linger(Some(std::time::Duration::ZERO));
        }
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_count_and_give_back() {
        let a = Admission::new(3, 2);
        let lo: IpAddr = "127.0.0.1".parse().unwrap();
        let lo2: IpAddr = "127.0.0.2".parse().unwrap();
        let other: IpAddr = "192.0.2.7".parse().unwrap();
        let t1 = a.admit(lo).unwrap();
        let _t2 = a.admit(lo2).unwrap();
        // All of loopback is one address.
        assert_eq!(
            a.admit("::1".parse().unwrap()).unwrap_err(),
            Refusal::PerAddress(2)
        );
        let _t3 = a.admit(other).unwrap();
        assert_eq!(
            a.admit("192.0.2.8".parse().unwrap()).unwrap_err(),
            Refusal::Full(3)
        );
        drop(t1);
        assert_eq!(a.open(), 2);
        let _t4 = a.admit(lo).unwrap();
    }

    #[test]
    fn ipv6_counts_by_its_64_and_mapped_v4_as_v4() {
        let a = Admission::new(100, 1);
        let _t = a.admit("2001:db8:1:2::1".parse().unwrap()).unwrap();
        assert!(a.admit("2001:db8:1:2:ffff::9".parse().unwrap()).is_err());
        let _u = a.admit("2001:db8:1:3::1".parse().unwrap()).unwrap();
        let _v = a.admit("192.0.2.1".parse().unwrap()).unwrap();
        assert!(a.admit("::ffff:192.0.2.1".parse().unwrap()).is_err());
    }

    #[test]
    fn no_entry_outlives_its_connections() {
        let a = Admission::new(100, 100);
        for i in 0..50u8 {
            drop(a.admit(IpAddr::from([192, 0, 2, i])).unwrap());
        }
        assert!(a.lock().by_address.is_empty());
        assert_eq!(a.open(), 0);
    }
}

//! The listening socket: where `--listen` points, and a backlog sized for
//! bursts of joins.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use tokio::net::{TcpListener, TcpSocket};

use crate::settings::SettingsError;

/// `HOST:PORT` to an address to bind: an IP address as it is, a host name
/// (`localhost:7879`) resolved, its first address taken.
pub fn resolve(listen: &str) -> Result<SocketAddr, SettingsError> {
    let expected = "HOST:PORT with an IP address or a host name that resolves, such as 127.0.0.1:7878 or localhost:7878";
    if let Ok(addr) = listen.parse::<SocketAddr>() {
        return Ok(addr);
    }
    listen
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| SettingsError::new("serve.listen", listen, expected))
}

/// Binds `addr` with room for `backlog` connections not yet accepted (the
/// kernel caps it at `net.core.somaxconn`). The default of std and tokio,
/// 1024, overflows in a burst of joins: the client's SYN is dropped and
/// retried after 1 s, then 3 s.
pub fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => TcpSocket::new_v4()?,
        SocketAddr::V6(_) => TcpSocket::new_v6()?,
    };
    // As std and tokio do: a restarted server binds its port again at once,
    // while the old connections linger in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_and_names_resolve_and_nonsense_names_the_key() {
        assert_eq!(
            resolve("127.0.0.1:7878").unwrap(),
            SocketAddr::from(([127, 0, 0, 1], 7878))
        );
        assert!(resolve("localhost:7879").unwrap().ip().is_loopback());
        assert_eq!(resolve("[::1]:7").unwrap().port(), 7);
        let e = resolve("localhost").unwrap_err();
        assert_eq!(e.setting, "serve.listen");
        assert!(resolve("127.0.0.1:99999").is_err());
    }
}

//! A TCP proxy on 127.0.0.1 that can cut, freeze or refuse connections: the
//! network failures the engine must survive, made on demand.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Bytes flow both ways.
    Forward,
    /// Sockets stay open but nothing is forwarded (a frozen peer, a stalled path).
    Blackhole,
    /// New connections are accepted and closed at once (nothing listening behind).
    Refuse,
}

pub struct Proxy {
    pub addr: SocketAddr,
    upstream: Arc<Mutex<SocketAddr>>,
    mode: watch::Sender<Mode>,
    conns: Arc<Mutex<Vec<JoinHandle<()>>>>,
    accept: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.kill_all();
    }
}

impl Proxy {
    pub async fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let upstream = Arc::new(Mutex::new(upstream));
        let (mode, mode_rx) = watch::channel(Mode::Forward);
        let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
        let (up, cs) = (upstream.clone(), conns.clone());
        let accept = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if *mode_rx.borrow() == Mode::Refuse {
                    drop(client);
                    continue;
                }
                let target = *up.lock().unwrap();
                let mode_rx = mode_rx.clone();
                let task = tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(target).await else {
                        return;
                    };
                    let _ = client.set_nodelay(true);
                    let _ = server.set_nodelay(true);
                    let (cr, cw) = client.into_split();
                    let (sr, sw) = server.into_split();
                    tokio::select! {
                        _ = pump(cr, sw, mode_rx.clone()) => {}
                        _ = pump(sr, cw, mode_rx) => {}
                    }
                });
                let mut list = cs.lock().unwrap();
                list.retain(|h| !h.is_finished());
                list.push(task);
            }
        });
        Proxy {
            addr,
            upstream,
            mode,
            conns,
            accept,
        }
    }

    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    pub fn set_mode(&self, m: Mode) {
        self.mode.send_replace(m);
    }

    pub fn set_upstream(&self, a: SocketAddr) {
        *self.upstream.lock().unwrap() = a;
    }

    /// Cuts every open connection (both sides see the socket close).
    pub fn kill_all(&self) {
        for h in self.conns.lock().unwrap().drain(..) {
            h.abort();
        }
    }
}

async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        // While frozen, hold the bytes: the peer sees silence, not a close.
        while *mode.borrow() == Mode::Blackhole {
            if mode.changed().await.is_err() {
                return;
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

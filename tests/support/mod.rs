//! Shared test parts: a fault-injecting TCP proxy, a minimal HTTP client for the
//! admin API, and helpers that read session events with bounded waits.
#![allow(dead_code)]

pub mod proxy;

use std::time::Duration;

use calltop::engine::ContractChecker;
use calltop::event::{EventKind, SessionEvent};
use calltop::session::Subscription;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The longest any test waits for one expected thing before failing.
pub const WAIT: Duration = Duration::from_secs(20);

/// Reads events, checking the contract's ordering invariants on every one.
pub struct Events {
    rx: Subscription,
    pub checker: ContractChecker,
    pub all: Vec<SessionEvent>,
}

impl Events {
    pub fn new(rx: Subscription) -> Self {
        Events {
            rx,
            checker: ContractChecker::new(),
            all: Vec::new(),
        }
    }

    /// The next non-heartbeat event, within [`WAIT`] (heartbeats do not
    /// extend the wait: a joined session sends them forever).
    pub async fn next(&mut self) -> SessionEvent {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let ev = self.recv_by(deadline, "event").await;
            if !matches!(ev.kind, EventKind::Heartbeat { .. }) {
                return ev;
            }
        }
    }

    /// The next event of any kind by `deadline`, checked and kept.
    async fn recv_by(&mut self, deadline: tokio::time::Instant, what: &str) -> SessionEvent {
        let ev = tokio::time::timeout_at(deadline, self.rx.recv())
            .await
            .unwrap_or_else(|_| panic!("no {what} within {WAIT:?}; so far: {:?}", self.names()))
            .expect("event channel closed");
        self.checker
            .observe(&ev.kind)
            .unwrap_or_else(|v| panic!("{v}"));
        // The session's own live check must agree: calltop never breaks the rules.
        if let EventKind::ContractViolation(v) = &ev.kind {
            panic!("the session reported {v}");
        }
        self.all.push(ev.clone());
        ev
    }

    /// Waits for the next heartbeat (a round trip answered), within [`WAIT`];
    /// other events on the way are kept as [`Self::next`] keeps them.
    pub async fn heartbeat(&mut self) -> Duration {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            if let EventKind::Heartbeat { rtt } = self.recv_by(deadline, "heartbeat").await.kind {
                return rtt;
            }
        }
    }

    /// Names of the next events up to and including the first named `last`.
    pub async fn until(&mut self, last: &str) -> Vec<String> {
        let mut names = Vec::new();
        loop {
            let ev = self.next().await;
            names.push(ev.kind.name().to_owned());
            if ev.kind.name() == last {
                return names;
            }
        }
    }

    /// The next events' names, exactly `n` of them.
    pub async fn take(&mut self, n: usize) -> Vec<String> {
        let mut names = Vec::new();
        for _ in 0..n {
            names.push(self.next().await.kind.name().to_owned());
        }
        names
    }

    /// The last event named `name` seen so far.
    pub fn last(&self, name: &str) -> Option<&EventKind> {
        self.all
            .iter()
            .rev()
            .map(|e| &e.kind)
            .find(|k| k.name() == name)
    }

    pub fn names(&self) -> Vec<&'static str> {
        self.all
            .iter()
            .map(|e| e.kind.name())
            .filter(|n| *n != "heartbeat")
            .collect()
    }

    /// Nothing more arrives within `d` (used after a terminal event, where the
    /// contract says nothing session-scoped may follow).
    pub async fn quiet_for(&mut self, d: Duration) {
        let deadline = tokio::time::Instant::now() + d;
        while let Ok(Some(ev)) = tokio::time::timeout_at(deadline, self.rx.recv()).await {
            if !matches!(ev.kind, EventKind::Heartbeat { .. }) {
                panic!("unexpected event: {:?}", ev.kind);
            }
        }
    }
}

/// The reference server on a free loopback port, admin token "admin",
/// changed by `f`.
pub async fn server_with(
    f: impl FnOnce(&mut calltop::server::ServerConfig),
) -> calltop::server::ServerHandle {
    let mut c = calltop::server::ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some("admin".into()),
        ..calltop::server::ServerConfig::default()
    };
    f(&mut c);
    calltop::server::start(c).await.unwrap()
}

pub async fn server() -> calltop::server::ServerHandle {
    server_with(|_| {}).await
}

/// Quick timers so failure paths finish in about a second, with enough slack
/// that a loaded CI machine does not see a stall where there is none.
pub fn fast(url: &str, session: &str, user: &str) -> calltop::settings::SessionSettingsBuilder {
    calltop::settings::SessionSettings::builder(url, session, user)
        .heartbeat_interval(Duration::from_millis(300))
        .heartbeat_timeout(Duration::from_millis(1000))
        .connect_timeout(Duration::from_millis(1000))
        .reconnect(calltop::ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(100),
            multiplier: 2.0,
            max_attempts: 4,
            jitter: 0.5,
        })
}

/// A session joined with `settings`, its events read up to the
/// `server_info` that follows the join.
pub async fn joined(settings: calltop::SessionSettings) -> (calltop::CallSession, Events) {
    let s = calltop::CallSession::new(settings);
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.join().await.unwrap();
    ev.until("server_info").await;
    (s, ev)
}

/// One HTTP/1.1 request to the admin API; returns (status, body).
pub async fn http(
    addr: std::net::SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
) -> (u16, String) {
    let mut s = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connect to admin API");
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Content-Length: 0\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(WAIT, s.read_to_end(&mut buf))
        .await
        .expect("admin API answered in time")
        .unwrap();
    let text = String::from_utf8_lossy(&buf).to_string();
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("an HTTP status line");
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("").to_owned();
    (status, body)
}

/// Users listed in `session` by `GET /api/sessions`.
pub async fn listed_users(srv: &calltop::server::ServerHandle, session: &str) -> Vec<String> {
    let (status, body) = http(srv.addr, "GET", "/api/sessions", Some(&srv.admin_token)).await;
    assert_eq!(status, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("JSON body");
    v["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|s| s["id"] == session)
        .flat_map(|s| s["participants"].as_array().unwrap().clone())
        .map(|p| p["user"].as_str().unwrap().to_owned())
        .collect()
}

/// Polls `f` until it returns true, up to [`WAIT`].
pub async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    while !f().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A hand-made server's last act: answers pings and the final leave like
/// the reference server, so a session on it goes on until it leaves.
pub async fn answer_pings_and_the_leave(
    ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    while let Some(Ok(Message::Text(t))) = ws.next().await {
        if t.as_str().contains("\"leave\"") {
            let _ = ws.send(Message::text(r#"{"type":"left"}"#)).await;
            break;
        }
        if let Some(seq) = t.as_str().split("\"seq\":").nth(1) {
            let seq = seq.trim_end_matches('}');
            let _ = ws
                .send(Message::text(format!(r#"{{"type":"pong","seq":{seq}}}"#)))
                .await;
        }
    }
}

/// A one-connection WebSocket server on loopback: answers the join with
/// `first`, sends `frames` as fast as the socket takes them, then answers
/// pings and the leave. Returns its URL.
pub async fn scripted_server(
    first: String,
    frames: Vec<tokio_tungstenite::tungstenite::Message>,
) -> String {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _join = ws.next().await;
        ws.send(Message::text(first)).await.unwrap();
        for f in frames {
            ws.feed(f).await.unwrap();
        }
        ws.flush().await.unwrap();
        answer_pings_and_the_leave(&mut ws).await;
    });
    format!("ws://{addr}/ws")
}

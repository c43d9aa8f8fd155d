//! The reference server's limits, measured (issue 8), with real sockets on
//! 127.0.0.0/8 against `calltop serve` running as its own process (so its RSS
//! and CPU are the server's alone):
//!
//! 1. server RSS with 2,000 and 10,000 idle joined connections (rooms of 10),
//!    per idle connection, after they all leave, and after 10,000 more come
//!    and go (memory the allocator keeps is reused, not leaked);
//! 2. `GET /api/sessions` at 5,000 participants: server CPU per call (the
//!    roster unchanged between calls, and changed before every call), and the
//!    heartbeat (ping → pong) round trip of 20 other clients without the list
//!    polled, and with it polled every 100 ms (unchanged, and changing); and, in this process, how long the hub's
//!    lock is held for one listing, against what the old handler did under it;
//! 3. a join burst: N clients (default 2,000) joining one session at once:
//!    connect and join times, frames that came before a client's `joined`,
//!    and rosters that differ from the admin API's list;
//! 4. out of file descriptors: the server's CPU while every accept fails.
//!
//! Run: `cargo bench --bench server_harness` (a few minutes; prints the numbers).
//! Knobs (environment): `SERVER_HARNESS_IDLE` (default 10000),
//! `SERVER_HARNESS_BURST` (default 2000), `SERVER_HARNESS_ADMIN` (default 5000);
//! `SERVER_HARNESS_ONLY=admin,lock` runs only those parts (of idle, admin,
//! burst, lock, fds);
//! `SERVER_HARNESS_BIN=/path/to/calltop` measures another build's server
//! (an older one, to compare) with the same clients.
//!
//! File descriptors: the idle phase needs 10,000 in this process and 10,000 in
//! the server. When the soft limit is lower, the harness starts itself again
//! under `bash -c 'ulimit -n 65536'` (raising the hard limit needs root, or a
//! hard limit that high; failing that it uses the hard limit and says so), and
//! starts the server the same way. By hand: `bash -c 'ulimit -n 65536; cargo
//! bench --bench server_harness'`.
//!
//! Without `--bench` (as under `cargo test --benches`) it does nothing.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use calltop::server::hub::Hub;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpSocket, TcpStream};
use tokio::process::{Child, Command};
use tokio::sync::watch;
use tokio_tungstenite::MaybeTlsStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

const REEXEC_ENV: &str = "SERVER_HARNESS_REEXEC";
const FD_WANTED: u64 = 65_536;
const WATCHDOG: Duration = Duration::from_secs(1200);
const WAIT: Duration = Duration::from_secs(60);
const TOKEN: &str = "harness";

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "server_harness: real-socket measurements; run `cargo bench --bench server_harness`"
        );
        return;
    }
    let (soft, hard) = fd_limits();
    if soft < 25_000 && std::env::var_os(REEXEC_ENV).is_none() {
        reexec_with_more_fds();
    }
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!("server_harness: still running after {WATCHDOG:?}; giving up");
        std::process::exit(2);
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    println!(
        "server_harness: {} CPUs, load average {}; file descriptors: soft {soft}, hard {hard}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    );
    if let Err(e) = rt.block_on(run(soft)) {
        eprintln!("server_harness: {e}");
        std::process::exit(1);
    }
}

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// (soft, hard) "Max open files" of this process, from /proc (no libc here).
fn fd_limits() -> (u64, u64) {
    let text = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let line = text
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap_or("");
    let mut nums = line.split_whitespace().filter_map(|w| {
        w.parse::<u64>()
            .ok()
            .or((w == "unlimited").then_some(u64::MAX))
    });
    (nums.next().unwrap_or(1024), nums.next().unwrap_or(1024))
}

/// The shell line that raises the descriptor limit as far as it may go.
fn ulimit_line() -> String {
    format!("ulimit -n {FD_WANTED} 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; exec \"$0\" \"$@\"")
}

fn reexec_with_more_fds() -> ! {
    let me = std::env::current_exe().expect("own path");
    let status = std::process::Command::new("bash")
        .arg("-c")
        .arg(ulimit_line())
        .arg(me)
        .args(std::env::args().skip(1))
        .env(REEXEC_ENV, "1")
        .status()
        .expect("bash to raise the descriptor limit");
    std::process::exit(status.code().unwrap_or(1));
}

// ---- the server process ----

struct Server {
    child: Child,
    pid: u32,
    addr: SocketAddr,
}

impl Server {
    async fn start(extra_env: &[(&str, String)], fd_limit: Option<u32>) -> Result<Server, String> {
        let other = std::env::var("SERVER_HARNESS_BIN").ok();
        let bin = other.as_deref().unwrap_or(env!("CARGO_BIN_EXE_calltop"));
        let line = match fd_limit {
            Some(n) => format!("ulimit -n {n}; exec \"$0\" \"$@\""),
            None => ulimit_line(),
        };
        let mut c = Command::new("bash");
        c.arg("-c")
            .arg(line)
            .arg(bin)
            .args(["serve", "--listen", "127.0.0.1:0", "--admin-token", TOKEN])
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .env("RUST_LOG", "calltop=warn")
            // Idle means idle: no client sends anything while it is measured.
            .env("CALLTOP_SERVE__CLIENT_SILENCE_SECS", "3600")
            .env("CALLTOP_SERVE__RESUME_WINDOW_SECS", "1")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        // An older build (SERVER_HARNESS_BIN, to compare) has no caps, and
        // refuses keys it does not know.
        if other.is_none() {
            c.env("CALLTOP_SERVE__MAX_CONNECTIONS", "60000")
                .env("CALLTOP_SERVE__MAX_CONNECTIONS_PER_IP", "60000");
        }
        for (k, v) in extra_env {
            c.env(k, v);
        }
        let mut child = c
            .spawn()
            .map_err(|e| format!("cannot start calltop serve: {e}"))?;
        let pid = child.id().ok_or("no pid")?;
        let mut out = BufReader::new(child.stdout.take().ok_or("no stdout")?).lines();
        let addr = loop {
            let line = tokio::time::timeout(WAIT, out.next_line())
                .await
                .map_err(|_| "serve printed no address")?
                .map_err(|e| e.to_string())?
                .ok_or("serve ended before printing its address")?;
            if let Some(url) = line.strip_prefix("calltop serve: WebSocket ws://") {
                break url
                    .trim_end_matches("/ws")
                    .parse()
                    .map_err(|e| format!("{e}"))?;
            }
        };
        tokio::spawn(async move { while let Ok(Some(_)) = out.next_line().await {} });
        Ok(Server { child, pid, addr })
    }

    /// Resident memory, in KiB.
    fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid)).unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap_or(0)
    }

    /// CPU time of all its threads so far.
    fn cpu(&self) -> Duration {
        let mut ns = 0u64;
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{}/task", self.pid)) {
            for t in tasks.flatten() {
                let s = std::fs::read_to_string(t.path().join("schedstat")).unwrap_or_default();
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
            }
        }
        Duration::from_nanos(ns)
    }

    async fn stop(mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-s", "TERM", &self.pid.to_string()])
            .status();
        let _ = tokio::time::timeout(WAIT, self.child.wait()).await;
    }
}

/// One GET on the admin API; (status, body bytes).
async fn admin_get(addr: SocketAddr, path: &str) -> Result<(u16, usize), String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let req = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf);
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let body = text.split("\r\n\r\n").nth(1).map_or(0, str::len);
    Ok((status, body))
}

async fn listed(addr: SocketAddr) -> Result<serde_json::Value, String> {
    let mut s = TcpStream::connect(addr).await.map_err(|e| e.to_string())?;
    let req = format!(
        "GET /api/sessions HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&buf);
    let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
    serde_json::from_str(body).map_err(|e| format!("admin list: {e}: {body:.200}"))
}

async fn participants(addr: SocketAddr) -> Result<usize, String> {
    let v = listed(addr).await?;
    Ok(v["sessions"].as_array().map_or(0, |s| {
        s.iter()
            .map(|s| s["participants"].as_array().map_or(0, Vec::len))
            .sum()
    }))
}

// ---- clients ----

type Ws = tokio_tungstenite::WebSocketStream<MaybeTlsStream<TcpStream>>;

/// Small buffers on the client side too: 10,000 clients in this process.
fn client_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4096)
        .write_buffer_size(0)
}

/// Connects from `src` (a loopback address of its own per phase, so no phase
/// runs out of ports); returns the socket and how long TCP connect took.
async fn connect(server: SocketAddr, src: IpAddr) -> Result<(Ws, Duration), String> {
    let sock = TcpSocket::new_v4().map_err(|e| e.to_string())?;
    sock.bind(SocketAddr::new(src, 0))
        .map_err(|e| e.to_string())?;
    let t0 = Instant::now();
    let tcp = sock
        .connect(server)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let connected = t0.elapsed();
    let url = format!("ws://{server}/ws");
    let (ws, _) = tokio_tungstenite::client_async_with_config(
        url,
        MaybeTlsStream::Plain(tcp),
        Some(client_config()),
    )
    .await
    .map_err(|e| format!("upgrade: {e}"))?;
    Ok((ws, connected))
}

fn join_frame(session: &str, user: &str) -> Message {
    Message::text(format!(
        r#"{{"type":"join","v":1,"session":"{session}","user":"{user}"}}"#
    ))
}

/// What one client saw.
#[derive(Debug, Default, Clone)]
struct Seen {
    connect: Duration,
    joined_after: Option<Duration>,
    /// Room frames that came before our own `joined` (a client drops them).
    early: usize,
    roster: BTreeSet<String>,
    /// The server ended the connection (it cut the client off).
    ended: bool,
}

/// A client that joins and then reads (and follows its roster) until told to
/// stop; then it leaves. `seen` is updated as frames arrive.
async fn client(
    server: SocketAddr,
    src: IpAddr,
    session: String,
    user: String,
    seen: Arc<Mutex<Seen>>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), String> {
    let t0 = Instant::now();
    let (mut ws, connect) = connect(server, src).await?;
    seen.lock().unwrap().connect = connect;
    ws.send(join_frame(&session, &user))
        .await
        .map_err(|e| e.to_string())?;
    loop {
        let msg = tokio::select! {
            m = ws.next() => m,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Some(Ok(msg)) = msg else {
            seen.lock().unwrap().ended = true;
            return Err(format!("{user}: connection ended"));
        };
        let Message::Text(text) = msg else { continue };
        let v: serde_json::Value =
            serde_json::from_str(text.as_str()).map_err(|e| e.to_string())?;
        let mut s = seen.lock().unwrap();
        match v["type"].as_str() {
            Some("joined") => {
                s.joined_after = Some(t0.elapsed());
                s.roster.insert(user.clone());
                for p in v["participants"].as_array().into_iter().flatten() {
                    s.roster.insert(p["user"].as_str().unwrap_or("").to_owned());
                }
            }
            Some("participant_joined") | Some("participant_left") if s.joined_after.is_none() => {
                s.early += 1;
            }
            Some("participant_joined") => {
                s.roster.insert(v["user"].as_str().unwrap_or("").to_owned());
            }
            Some("participant_left") => {
                s.roster.remove(v["user"].as_str().unwrap_or(""));
            }
            _ => {}
        }
    }
    let _ = ws.send(Message::text(r#"{"type":"leave"}"#)).await;
    // Read to the server's close, so the server holds no half-closed socket.
    let _ = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(Ok(m)) = ws.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await;
    Ok(())
}

/// A group of clients started together, stopped together.
struct Crowd {
    seen: Vec<Arc<Mutex<Seen>>>,
    tasks: Vec<tokio::task::JoinHandle<Result<(), String>>>,
    stop: watch::Sender<bool>,
}

impl Crowd {
    /// `n` clients from `src`; client i joins `session(i)` as `u{i}`.
    /// `paced`: each connects after the previous one has (a steady ramp);
    /// otherwise all at once (a burst).
    async fn start(
        server: SocketAddr,
        src: IpAddr,
        n: usize,
        session: impl Fn(usize) -> String,
        paced: bool,
    ) -> Crowd {
        let (stop, stop_rx) = watch::channel(false);
        let mut seen = Vec::with_capacity(n);
        let mut tasks = Vec::with_capacity(n);
        for i in 0..n {
            let s = Arc::new(Mutex::new(Seen::default()));
            seen.push(s.clone());
            let task = tokio::spawn(client(
                server,
                src,
                session(i),
                format!("u{i}"),
                s.clone(),
                stop_rx.clone(),
            ));
            tasks.push(task);
            if paced {
                // Up to 32 connecting at a time: fast, with no burst.
                if i % 32 == 31 {
                    let deadline = Instant::now() + WAIT;
                    while seen[i + 1 - 32..=i]
                        .iter()
                        .any(|s| s.lock().unwrap().joined_after.is_none())
                    {
                        if Instant::now() > deadline {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(1)).await;
                    }
                }
            }
        }
        Crowd { seen, tasks, stop }
    }

    /// Waits until every client has its `joined`; errors name the first
    /// failure. `cut_ok`: a client the server cut off counts as done.
    async fn all_joined(&mut self, cut_ok: bool) -> Result<(), String> {
        let deadline = Instant::now() + WAIT * 2;
        loop {
            let waiting = self
                .seen
                .iter()
                .filter(|s| {
                    let s = s.lock().unwrap();
                    s.joined_after.is_none() && !(cut_ok && s.ended)
                })
                .count();
            if waiting == 0 {
                return Ok(());
            }
            let failed = self
                .tasks
                .iter_mut()
                .zip(&self.seen)
                .find(|(t, s)| t.is_finished() && !(cut_ok && s.lock().unwrap().ended));
            if let Some((t, _)) = failed {
                return Err(match t.await {
                    Ok(Err(e)) => e,
                    other => format!("a client ended: {other:?}"),
                });
            }
            if Instant::now() > deadline {
                return Err(format!("{waiting} clients not joined after {:?}", WAIT * 2));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn leave(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// (p50, p99, max) in milliseconds.
fn spread(mut v: Vec<Duration>) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort();
    let at = |q: f64| ms(v[((v.len() - 1) as f64 * q).round() as usize]);
    (at(0.5), at(0.99), ms(*v.last().unwrap()))
}

fn src(third: u8, fourth: u8) -> IpAddr {
    IpAddr::from([127, 0, third, fourth])
}

async fn run(fd_soft: u64) -> Result<(), String> {
    let idle_n = env_num("SERVER_HARNESS_IDLE", 10_000).min(fd_soft.saturating_sub(200) as usize);
    let burst_n = env_num("SERVER_HARNESS_BURST", 2_000);
    let admin_n = env_num("SERVER_HARNESS_ADMIN", 5_000);
    if let Ok(bin) = std::env::var("SERVER_HARNESS_BIN") {
        println!(
            "server: {bin} (SERVER_HARNESS_BIN); the in-process lock measurement is of this build's hub"
        );
    }
    let only = std::env::var("SERVER_HARNESS_ONLY").unwrap_or_default();
    let runs = |part: &str| only.is_empty() || only.split(',').any(|p| p == part);
    if runs("idle") {
        idle_memory(idle_n).await?;
    }
    if runs("admin") {
        admin_list(admin_n).await?;
    }
    if runs("burst") {
        burst(burst_n).await?;
    }
    if runs("lock") {
        lock_time(admin_n);
    }
    if runs("fds") {
        out_of_descriptors().await?;
    }
    Ok(())
}

// ---- 1. memory of idle connections ----

async fn wait_empty(server: &Server) -> Result<(), String> {
    let deadline = Instant::now() + WAIT;
    while participants(server.addr).await? > 0 {
        if Instant::now() > deadline {
            return Err("participants still listed after they left".into());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let the last sockets close and their tasks end.
    tokio::time::sleep(Duration::from_secs(2)).await;
    Ok(())
}

async fn idle_memory(n: usize) -> Result<(), String> {
    println!("\n== idle connections: {n} joined clients in rooms of 10, nothing sent ==");
    let server = Server::start(&[], None).await?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let base = server.rss_kib();
    println!("server RSS at start: {:.1} MB", base as f64 / 1024.0);
    let first = n.min(2_000);
    let room = |i: usize| format!("idle{}", i / 10);
    let mut a = Crowd::start(server.addr, src(1, 1), first, room, true).await;
    a.all_joined(false).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let at_first = server.rss_kib();
    let per_first = (at_first - base) as f64 * 1024.0 / first as f64;
    println!(
        "{first:>6} idle: RSS {:.1} MB, {:.1} KB per connection over the start",
        at_first as f64 / 1024.0,
        per_first / 1000.0
    );
    let rest = n - first;
    let mut b = Crowd::start(server.addr, src(1, 2), rest, move |i| room(i + first), true).await;
    b.all_joined(false).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let at_n = server.rss_kib();
    let per_n = (at_n - base) as f64 * 1024.0 / n as f64;
    let marginal = (at_n.saturating_sub(at_first)) as f64 * 1024.0 / rest.max(1) as f64;
    println!(
        "{n:>6} idle: RSS {:.1} MB, {:.1} KB per connection over the start ({:.1} KB each for the last {rest})",
        at_n as f64 / 1024.0,
        per_n / 1000.0,
        marginal / 1000.0
    );
    a.leave().await;
    b.leave().await;
    wait_empty(&server).await?;
    let after = server.rss_kib();
    println!(
        "after all {n} left: RSS {:.1} MB ({:.1} MB above the start)",
        after as f64 / 1024.0,
        (after as f64 - base as f64) / 1024.0
    );
    let mut c = Crowd::start(server.addr, src(1, 3), n, room, true).await;
    c.all_joined(false).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let again = server.rss_kib();
    c.leave().await;
    wait_empty(&server).await?;
    let after_again = server.rss_kib();
    println!(
        "{n} more joined: RSS {:.1} MB (first time {:.1} MB); after they left: {:.1} MB",
        again as f64 / 1024.0,
        at_n as f64 / 1024.0,
        after_again as f64 / 1024.0
    );
    server.stop().await;
    Ok(())
}

// ---- 2. the admin list ----

/// Pings from `pingers` clients every 100 ms for `secs`; their RTTs.
async fn heartbeats(
    server: SocketAddr,
    pingers: usize,
    secs: u64,
    tag: &str,
) -> Result<Vec<Duration>, String> {
    let mut tasks = Vec::new();
    for p in 0..pingers {
        let tag = tag.to_owned();
        tasks.push(tokio::spawn(async move {
            let (mut ws, _) = connect(server, src(2, 9)).await?;
            ws.send(join_frame(&format!("hb-{tag}"), &format!("p{p}")))
                .await
                .map_err(|e| e.to_string())?;
            let mut rtts = Vec::new();
            let end = Instant::now() + Duration::from_secs(secs);
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut seq = 0u64;
            while Instant::now() < end {
                tick.tick().await;
                seq += 1;
                let t0 = Instant::now();
                ws.send(Message::text(format!(r#"{{"type":"ping","seq":{seq}}}"#)))
                    .await
                    .map_err(|e| e.to_string())?;
                loop {
                    let m = ws
                        .next()
                        .await
                        .ok_or("closed")?
                        .map_err(|e| e.to_string())?;
                    if let Message::Text(t) = m
                        && t.as_str().contains(&format!(r#""seq":{seq}"#))
                    {
                        rtts.push(t0.elapsed());
                        break;
                    }
                }
            }
            let _ = ws.close(None).await;
            Ok::<_, String>(rtts)
        }));
    }
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.map_err(|e| e.to_string())??);
    }
    Ok(all)
}

/// A client that joins and leaves a session of its own, each on request,
/// so the next admin list has something new in it. The server closes the
/// connection after a leave, so each join is a new connection.
struct Churner {
    server: SocketAddr,
    ws: Option<Ws>,
}

impl Churner {
    async fn start(server: SocketAddr) -> Result<Churner, String> {
        Ok(Churner { server, ws: None })
    }

    /// Joins if out, leaves if in; returns once the server has answered.
    async fn toggle(&mut self) -> Result<(), String> {
        let (mut ws, frame, answer) = match self.ws.take() {
            Some(ws) => (ws, Message::text(r#"{"type":"leave"}"#), r#""type":"left""#),
            None => (
                connect(self.server, src(2, 8)).await?.0,
                join_frame("adm-churn", "churner"),
                r#""type":"joined""#,
            ),
        };
        ws.send(frame).await.map_err(|e| e.to_string())?;
        loop {
            match ws
                .next()
                .await
                .ok_or("closed")?
                .map_err(|e| e.to_string())?
            {
                Message::Text(t) if t.as_str().contains(answer) => break,
                _ => {}
            }
        }
        if answer.contains("joined") {
            self.ws = Some(ws);
        }
        Ok(())
    }
}

/// Server CPU per admin list, `calls` of them, with (`churn`) or without a
/// change to the roster before each; (CPU ms per call, latency spread, bytes).
async fn list_cost(
    server: &Server,
    calls: usize,
    mut churn: Option<&mut Churner>,
) -> Result<(f64, (f64, f64, f64), usize), String> {
    let idle0 = server.cpu();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let idle_per_s = server.cpu() - idle0;
    let mut lat = Vec::new();
    let mut size = 0;
    let mut cpu = Duration::ZERO;
    let mut busy = Duration::ZERO;
    for _ in 0..calls {
        if let Some(c) = churn.as_deref_mut() {
            c.toggle().await?;
        }
        let cpu0 = server.cpu();
        let t = Instant::now();
        let (status, bytes) = admin_get(server.addr, "/api/sessions").await?;
        if status != 200 {
            return Err(format!("admin list answered {status}"));
        }
        let took = t.elapsed();
        cpu += server.cpu() - cpu0;
        busy += took;
        size = bytes;
        lat.push(took);
    }
    let cpu = cpu.saturating_sub(idle_per_s.mul_f64(busy.as_secs_f64()));
    Ok((ms(cpu) / calls as f64, spread(lat), size))
}

async fn admin_list(n: usize) -> Result<(), String> {
    println!("\n== GET /api/sessions at {n} participants (sessions of 100) ==");
    let server = Server::start(&[], None).await?;
    let crowd_room = |i: usize| format!("adm{}", i / 100);
    let mut crowd = Crowd::start(server.addr, src(2, 1), n, crowd_room, true).await;
    crowd.all_joined(false).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let calls = 50;
    let mut churner = Churner::start(server.addr).await?;
    for (what, churn) in [
        ("unchanged between calls", None),
        ("changed before every call", Some(&mut churner)),
    ] {
        let (cpu, (p50, p99, max), size) = list_cost(&server, calls, churn).await?;
        println!(
            "server CPU per call, roster {what}: {cpu:.2} ms ({calls} calls, {} KB each); latency p50 {p50:.2} ms, p99 {p99:.2}, max {max:.2}",
            size / 1000
        );
    }
    println!("heartbeat RTT, 20 clients pinging every 100 ms for 10 s:");
    let quiet = heartbeats(server.addr, 20, 10, "quiet").await?;
    let (q50, q99, qmax) = spread(quiet);
    println!(
        "  no admin polling:                     p50 {q50:.2} ms, p99 {q99:.2}, max {qmax:.2}"
    );
    for (what, churning) in [("unchanged", false), ("changing every 100 ms", true)] {
        let (stop_poll, mut polling) = watch::channel(false);
        let addr = server.addr;
        let mut churn = if churning {
            Some(Churner::start(addr).await?)
        } else {
            None
        };
        let poller = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut n = 0;
            loop {
                tokio::select! {
                    _ = tick.tick() => {}
                    _ = polling.wait_for(|s| *s) => return n,
                }
                if let Some(c) = churn.as_mut()
                    && c.toggle().await.is_err()
                {
                    return n;
                }
                if admin_get(addr, "/api/sessions").await.is_ok() {
                    n += 1;
                }
            }
        });
        let busy = heartbeats(server.addr, 20, 10, if churning { "churn" } else { "busy" }).await?;
        let _ = stop_poll.send(true);
        let polls = poller.await.unwrap_or(0);
        let (b50, b99, bmax) = spread(busy);
        println!(
            "  list polled every 100 ms, roster {what}: p50 {b50:.2} ms, p99 {b99:.2}, max {bmax:.2} ({polls} listings)"
        );
    }
    crowd.leave().await;
    server.stop().await;
    Ok(())
}

/// The hub's lock for one listing at `n` participants, in this process: what
/// the handler holds it for now (a copy of the facts), against what it held
/// it for before (the copy, the sort and every time formatted), and what
/// follows off the lock (then: a `serde_json::Value` and its text).
fn lock_time(n: usize) {
    println!(
        "\n== the hub's lock for one listing, {n} participants in sessions of 100 (in process) =="
    );
    let hub = Hub::new(Duration::from_secs(30), None);
    let mut keep = Vec::new();
    for i in 0..n {
        let (conn, outbox) = hub.new_conn();
        let _ = hub.join(
            &conn,
            &format!("s{}", i / 100),
            &format!("u{i}"),
            None,
            None,
        );
        keep.push((conn, outbox));
    }
    let runs = 200;
    let time = |f: &mut dyn FnMut()| {
        let mut v: Vec<Duration> = (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect();
        v.sort();
        ms(v[v.len() / 2])
    };
    let copy = time(&mut || {
        std::hint::black_box(hub.listing());
    });
    // Before, every join time was formatted under the lock, on every listing.
    let times: Vec<std::time::SystemTime> = (0..n).map(|_| std::time::SystemTime::now()).collect();
    let old_locked = time(&mut || {
        std::hint::black_box(hub.listing().into_sessions());
        for t in &times {
            std::hint::black_box(calltop::event::rfc3339_ms(*t));
        }
    });
    let new_off = time(&mut || {
        let l = hub.listing();
        std::hint::black_box(l.to_json());
    }) - copy;
    let old_off = time(&mut || {
        let s = hub.listing().into_sessions();
        let v = serde_json::json!({ "sessions": s });
        std::hint::black_box(serde_json::to_vec(&v).unwrap_or_default());
    }) - time(&mut || {
        std::hint::black_box(hub.listing().into_sessions());
    });
    println!(
        "under the lock: {copy:.3} ms now (the copy); {old_locked:.3} ms as before (copy, sort, every time formatted)"
    );
    println!(
        "off the lock:   {new_off:.3} ms now (sort, typed JSON, on a blocking thread); {old_off:.3} ms as before (a Value, then its JSON, on a runtime worker)"
    );
    println!("median of {runs} each");
}

// ---- 3. a join burst ----

async fn burst(n: usize) -> Result<(), String> {
    println!("\n== join burst: {n} clients join one session at once ==");
    let server = Server::start(&[], None).await?;
    let mut crowd = Crowd::start(server.addr, src(3, 1), n, |_| "burst".into(), false).await;
    crowd.all_joined(true).await?;
    // Converges fast when right; a missed participant stays missed. Clients
    // the server cut off leave the list once the resume window (1 s) ends.
    let deadline = Instant::now() + Duration::from_secs(20);
    let (seen, listed, wrong) = loop {
        let v = listed(server.addr).await?;
        let listed: BTreeSet<String> = v["sessions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["id"] == "burst")
            .flat_map(|s| s["participants"].as_array().cloned().unwrap_or_default())
            .filter_map(|p| p["user"].as_str().map(str::to_owned))
            .collect();
        let seen: Vec<Seen> = crowd
            .seen
            .iter()
            .map(|s| s.lock().unwrap().clone())
            .collect();
        let wrong = seen
            .iter()
            .filter(|s| !s.ended && s.roster != listed)
            .count();
        if wrong == 0 || Instant::now() > deadline {
            break (seen, listed, wrong);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let cut = seen.iter().filter(|s| s.ended).count();
    let early: usize = seen.iter().map(|s| s.early).sum();
    let (c50, c99, cmax) = spread(seen.iter().map(|s| s.connect).collect());
    let (j50, j99, jmax) = spread(seen.iter().filter_map(|s| s.joined_after).collect());
    let slow_connects = seen
        .iter()
        .filter(|s| s.connect > Duration::from_millis(900))
        .count();
    println!(
        "TCP connect: p50 {c50:.2} ms, p99 {c99:.2}, max {cmax:.2}; {slow_connects} took over 0.9 s (a SYN retry)"
    );
    println!("connect to joined: p50 {j50:.1} ms, p99 {j99:.1}, max {jmax:.1}");
    println!(
        "admin list: {} participants; rosters unlike it: {wrong} of {} still connected; room frames before a client's joined: {early}; clients the server cut off: {cut}",
        listed.len(),
        n - cut
    );
    crowd.leave().await;
    server.stop().await;
    Ok(())
}

// ---- 4. out of descriptors ----

async fn out_of_descriptors() -> Result<(), String> {
    println!(
        "\n== out of file descriptors: server under `ulimit -n 64`, 200 connections waiting =="
    );
    let server = Server::start(&[], Some(64)).await?;
    let mut hogs = Vec::new();
    for _ in 0..200 {
        match TcpStream::connect(server.addr).await {
            Ok(s) => hogs.push(s),
            Err(_) => break,
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let c0 = server.cpu();
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    let share = (server.cpu() - c0).as_secs_f64() / t0.elapsed().as_secs_f64() * 100.0;
    println!(
        "{} connections open from here; server CPU while every accept fails: {share:.2} % of one core (log above: once)",
        hogs.len()
    );
    drop(hogs);
    server.stop().await;
    Ok(())
}

//! Measurements of the real dashboard under load, in tmux, against a fake
//! server that floods it with protocol frames. They print numbers rather than
//! assert targets, so they are ignored by default; run them with
//!
//! ```text
//! cargo test --release --test ui_flood -- --ignored --nocapture --test-threads=1
//! ```
//!
//! Each participant that joins and leaves makes four events: joined, idle
//! countdown cancelled, left, idle countdown started.

mod tui_support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

use calltop::protocol::{ClientFrame, PROTOCOL_VERSION, ServerFrame};
use tui_support::{Tmux, cpu_time, have_tmux, rss_kib};

/// What the fake server is told to do next.
enum Cmd {
    /// `pairs` participants join and leave, as fast as the client reads, or
    /// spread evenly over `over`.
    Flood { pairs: u64, over: Option<Duration> },
    /// `count` participants join and stay, each named `p<n>` padded to
    /// `name_len` characters.
    Joins { count: u64, name_len: usize },
    /// One participant joins and leaves (to mark the end of a flood on screen).
    Marker(String),
    /// Drop the connection without a word.
    Drop,
}

fn frame(f: &ServerFrame) -> Message {
    Message::text(serde_json::to_string(f).unwrap())
}

fn joined(user: &str) -> Message {
    frame(&ServerFrame::ParticipantJoined {
        user: user.into(),
        joined_at: "2026-11-18T11:06:40.000Z".into(),
    })
}

fn left(user: &str) -> Message {
    frame(&ServerFrame::ParticipantLeft { user: user.into() })
}

/// A calltop-protocol server that takes connections one after another and
/// does what it is told.
async fn fake_server(listener: TcpListener, mut cmds: mpsc::UnboundedReceiver<Cmd>) {
    let mut connections = 0;
    while let Ok((tcp, _)) = listener.accept().await {
        let Ok(ws) = tokio_tungstenite::accept_async(tcp).await else {
            continue;
        };
        connections += 1;
        let (mut sink, mut stream) = ws.split();
        loop {
            tokio::select! {
                msg = stream.next() => {
                    let Some(Ok(Message::Text(text))) = msg else { break };
                    match serde_json::from_str::<ClientFrame>(text.as_str()) {
                        Ok(ClientFrame::Join { session, user, .. }) => {
                            let reply = ServerFrame::Joined {
                                v: PROTOCOL_VERSION,
                                session,
                                user,
                                resumed: connections > 1,
                                resume_token: "resume".into(),
                                resume_window_ms: 60_000,
                                participants: vec![],
                            };
                            let _ = sink.send(frame(&reply)).await;
                        }
                        Ok(ClientFrame::Ping { seq }) => {
                            let _ = sink.send(frame(&ServerFrame::Pong { seq })).await;
                        }
                        Ok(ClientFrame::Leave) => {
                            let _ = sink.send(frame(&ServerFrame::Left)).await;
                            break;
                        }
                        Err(_) => {}
                    }
                }
                cmd = cmds.recv() => match cmd {
                    None => return,
                    Some(Cmd::Drop) => break,
                    Some(Cmd::Joins { count, name_len }) => {
                        for i in 0..count {
                            let name = format!("p{i:0>name_len$}");
                            let _ = sink.feed(joined(&name)).await;
                        }
                        let _ = sink.flush().await;
                    }
                    Some(Cmd::Marker(name)) => {
                        let _ = sink.send(joined(&name)).await;
                        let _ = sink.send(left(&name)).await;
                    }
                    Some(Cmd::Flood { pairs, over }) => {
                        let chunks = 100u64;
                        let mut tick = over.map(|d| tokio::time::interval(d / chunks as u32));
                        let per_chunk = pairs.div_ceil(chunks);
                        let mut sent = 0;
                        while sent < pairs {
                            if let Some(t) = tick.as_mut() {
                                t.tick().await;
                            }
                            for _ in 0..per_chunk.min(pairs - sent) {
                                let name = format!("p{}", sent % 1000);
                                let _ = sink.feed(joined(&name)).await;
                                let _ = sink.feed(left(&name)).await;
                                sent += 1;
                            }
                            let _ = sink.flush().await;
                        }
                    }
                },
            }
        }
    }
}

struct Bench {
    rt: tokio::runtime::Runtime,
    cmds: mpsc::UnboundedSender<Cmd>,
    tmux: Tmux,
    pid: u32,
    dir: std::path::PathBuf,
}

impl Bench {
    fn start(name: &str) -> Bench {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let addr: SocketAddr = rt.block_on(async {
            let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = l.local_addr().unwrap();
            tokio::spawn(fake_server(l, rx));
            addr
        });
        let dir = std::env::temp_dir().join(format!("calltop-flood-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("config.toml"), "[ui]\nlog_capacity = 2000\n").unwrap();
        let args: Vec<String> = vec![
            env!("CARGO_BIN_EXE_calltop").into(),
            "--server".into(),
            format!("ws://{addr}/ws"),
            "--session".into(),
            "flood".into(),
            "--user".into(),
            "alice".into(),
            "--config".into(),
            dir.join("config.toml").display().to_string(),
        ];
        let tmux = Tmux::start(name, 120, 40, &args);
        tmux.wait_for(" JOINED ");
        let pid = tmux.pid();
        Bench {
            rt,
            cmds: tx,
            tmux,
            pid,
            dir,
        }
    }

    fn send(&self, cmd: Cmd) {
        let _ = self.cmds.send(cmd);
    }

    /// Write syscalls so far (each frame is one write to the terminal).
    fn writes(&self) -> u64 {
        std::fs::read_to_string(format!("/proc/{}/io", self.pid))
            .unwrap_or_default()
            .lines()
            .find_map(|l| l.strip_prefix("syscw: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Bench {
    fn drop(&mut self) {
        self.tmux.keys("q");
        let _ = std::fs::remove_dir_all(&self.dir);
        let _ = &self.rt;
    }
}

/// Polls the screen for `text` for up to `limit`, sampling memory meanwhile;
/// returns the highest RSS seen (KiB).
fn wait_sampling(b: &Bench, text: &str, limit: Duration) -> u64 {
    let deadline = Instant::now() + limit;
    let mut peak = 0;
    loop {
        peak = peak.max(rss_kib(b.pid).0);
        if b.tmux.screen().contains(text) {
            return peak;
        }
        assert!(
            Instant::now() < deadline,
            "{text:?} not on screen after {limit:?}:\n{}",
            b.tmux.screen()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
#[ignore = "a measurement; see the top of this file"]
fn a_million_events_keep_memory_flat() {
    if !have_tmux("a_million_events_keep_memory_flat") {
        return;
    }
    let b = Bench::start("million");
    let (rss_start, _) = rss_kib(b.pid);
    let mut rows = Vec::new();
    let mut total = 0u64;
    let started = Instant::now();
    let cpu0 = cpu_time(b.pid);
    for round in 1..=4 {
        // 62,500 pairs x 4 rounds x 4 events = 1,000,000 events.
        b.send(Cmd::Flood {
            pairs: 62_500,
            over: None,
        });
        let marker = format!("marker-{round}");
        b.send(Cmd::Marker(marker.clone()));
        let peak = wait_sampling(&b, &format!("{marker} left"), Duration::from_secs(600));
        total += 62_500 * 4 + 4;
        rows.push((total, peak, rss_kib(b.pid).0));
    }
    let elapsed = started.elapsed();
    let cpu = cpu_time(b.pid) - cpu0;
    // Idle a while: memory should not move.
    std::thread::sleep(Duration::from_secs(5));
    let (rss_idle, hwm) = rss_kib(b.pid);
    println!("flood: RSS before {rss_start} KiB");
    for (events, peak, after) in &rows {
        println!(
            "flood: after {events:>8} events: RSS {after} KiB (peak while flooding {peak} KiB)"
        );
    }
    println!("flood: RSS 5 s later {rss_idle} KiB, high-water mark {hwm} KiB");
    println!(
        "flood: {total} events in {:.1} s ({:.0} events/s), client CPU {:.1} s",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        cpu.as_secs_f64()
    );
}

#[test]
#[ignore = "a measurement; see the top of this file"]
fn a_burst_of_ten_thousand_events_in_one_second() {
    if !have_tmux("a_burst_of_ten_thousand_events_in_one_second") {
        return;
    }
    let b = Bench::start("burst");
    tmux_settle(&b);
    let writes0 = b.writes();
    let cpu0 = cpu_time(b.pid);
    let started = Instant::now();
    // 2,500 participants join and leave, spread over one second: 10,000 events.
    b.send(Cmd::Flood {
        pairs: 2_500,
        over: Some(Duration::from_secs(1)),
    });
    // Half way through, a key: how long until the screen answers?
    std::thread::sleep(Duration::from_millis(500));
    let pressed = Instant::now();
    b.tmux.keys("?");
    let mut answered = None;
    while pressed.elapsed() < Duration::from_secs(10) {
        if b.tmux.screen().contains("Ctrl-C") {
            answered = Some(pressed.elapsed());
            break;
        }
    }
    // Then the connection drops: lost and restored must both show.
    b.send(Cmd::Drop);
    b.send(Cmd::Marker("after-burst".into()));
    b.tmux.keys("Escape");
    let screen = b.tmux.wait("the restore after the burst", |s| {
        s.contains("connection restored") && s.contains("drops    1×") && s.contains(" JOINED ")
    });
    let elapsed = started.elapsed();
    let frames = b.writes() - writes0;
    let cpu = cpu_time(b.pid) - cpu0;
    println!(
        "burst: key '?' to help on screen: {:?} (measured with capture-pane polling)",
        answered
    );
    println!(
        "burst: {frames} writes to the terminal (≈ frames) for 10,000 events in {:.2} s; client CPU {:.2} s",
        elapsed.as_secs_f64(),
        cpu.as_secs_f64()
    );
    assert!(
        answered.is_some(),
        "the help overlay never showed:\n{screen}"
    );
    assert!(screen.contains("connection lost"), "{screen}");
}

/// Lets the first heartbeat or two pass, so they do not count in the burst.
fn tmux_settle(b: &Bench) {
    b.tmux.wait("the first heartbeat", |s| s.contains(" ms  "));
}

#[test]
#[ignore = "a measurement; see the top of this file"]
fn start_to_first_frame_with_the_embedded_default() {
    use std::io::Read;
    use std::process::{Command, Stdio};
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: needs script(1) for a pseudo-terminal");
        return;
    }
    let home = std::env::temp_dir().join(format!("calltop-first-frame-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let mut times = Vec::new();
    for _ in 0..10 {
        // script(1) gives calltop a pseudo-terminal and copies what it draws to our pipe.
        let started = Instant::now();
        let mut child = Command::new("script")
            .args(["-qfec"])
            .arg(format!(
                "stty cols 100 rows 30 && exec {}",
                env!("CARGO_BIN_EXE_calltop")
            ))
            .arg("/dev/null")
            .env("HOME", &home)
            .env("XDG_CONFIG_HOME", &home)
            .env("USER", "alice")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let mut out = child.stdout.take().unwrap();
        let mut seen = Vec::new();
        let mut buf = [0u8; 65536];
        let first_frame = loop {
            let n = out.read(&mut buf).unwrap();
            assert!(n > 0, "calltop exited before drawing");
            seen.extend_from_slice(&buf[..n]);
            // The footer is the last line of the first frame.
            if String::from_utf8_lossy(&seen).contains("quit") {
                break started.elapsed();
            }
        };
        times.push(first_frame);
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        let _ = stdin.write_all(b"q");
        let _ = stdin.flush();
        let deadline = Instant::now() + Duration::from_secs(10);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "calltop did not quit");
            let _ = out.read(&mut buf);
        }
    }
    let _ = std::fs::remove_dir_all(&home);
    times.sort();
    println!(
        "first frame (embedded default, via script(1) + stty): min {:?}, median {:?}, max {:?} over {} runs",
        times[0],
        times[times.len() / 2],
        times[times.len() - 1],
        times.len()
    );
}

#[test]
#[ignore = "a measurement; see the top of this file"]
fn hostile_floods_of_joins_and_huge_names_keep_memory_bounded() {
    if !have_tmux("hostile_floods_of_joins_and_huge_names_keep_memory_bounded") {
        return;
    }
    for (what, count, name_len) in [
        ("200,000 joins", 200_000u64, 0usize),
        ("3,000 names of 60 KB", 3_000, 60_000),
    ] {
        let b = Bench::start(if name_len == 0 { "joins" } else { "names" });
        let (before, _) = rss_kib(b.pid);
        b.send(Cmd::Joins { count, name_len });
        b.send(Cmd::Marker("marker".into()));
        let peak = wait_sampling(&b, "marker left", Duration::from_secs(600));
        let (after, hwm) = rss_kib(b.pid);
        println!(
            "hostile: {what}: RSS before {before} KiB, after {after} KiB, peak {peak} KiB, high-water mark {hwm} KiB"
        );
    }
}

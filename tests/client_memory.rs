//! A measurement, not a test (ignored by default): what a joined
//! `CallSession` costs in memory, with the reference server in another
//! process so only the client side counts.
//!
//! ```text
//! cargo test --release --test client_memory -- --ignored --nocapture
//! ```

use std::process::Stdio;
use std::time::Duration;

use calltop::{CallSession, SessionSettings};
use tokio::io::{AsyncBufReadExt, BufReader};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement; see the top of this file"]
async fn memory_per_joined_session() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = tokio::process::Command::new(env!("CARGO_BIN_EXE_calltop"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(server.stdout.take().unwrap()).lines();
    while let Ok(Some(l)) = lines.next_line().await {
        if l.contains("WebSocket") {
            break;
        }
    }
    let url = format!("ws://127.0.0.1:{port}/ws");
    let n: usize = std::env::var("CALLTOP_SESSIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    // One session first, so the runtime, TLS provider and allocator arenas
    // are warm before the baseline.
    let warm = CallSession::new(SessionSettings::builder(&url, "warm", "w").build().unwrap());
    warm.join().await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = rss_kib();
    let mut sessions = Vec::new();
    for i in 0..n {
        let s = CallSession::new(
            SessionSettings::builder(&url, format!("room{}", i % 50), format!("u{i}"))
                .build()
                .unwrap(),
        );
        // Read, as a dashboard or a load run reads its sessions.
        let sub = s.subscribe().await.unwrap();
        s.join().await.unwrap();
        sessions.push((s, sub));
        for (_, sub) in &mut sessions {
            while sub.try_recv().is_ok() {}
        }
    }
    // Every one joined, and a heartbeat or two exchanged, and read as they
    // come (a reader that lets thousands of events pile up pays for them).
    for _ in 0..50 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for (_, sub) in &mut sessions {
            while sub.try_recv().is_ok() {}
        }
    }
    let after = rss_kib();
    println!(
        "client: {n} joined and subscribed sessions (50 rooms of 20): RSS {before} KiB → {after} KiB, {:.1} KB per session",
        (after.saturating_sub(before)) as f64 * 1.024 / n as f64
    );
    for (s, _) in &sessions {
        s.shutdown().await;
    }
}

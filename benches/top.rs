//! `calltop top` on 5,000 sessions / 25,000 participants (issue 10):
//!
//! - one poll's client work on the admin list's JSON (decode, diff against
//!   the last poll, the model's rows, sort and filter), alternating between
//!   two lists 1% apart so every diff has something in it;
//! - the same behind a real HTTP request on 127.0.0.1 (a thread serving the
//!   list's bytes as the reference server's handler would: the client's
//!   side of a poll, wall time, so an upper bound of its CPU);
//! - one frame of the table at 200x60 and 100x30 (TestBackend).
//!
//! `cargo bench --bench top`

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use calltop::event::rfc3339_ms;
use calltop::server::{ParticipantInfo, SessionInfo};
use calltop::settings::Secret;
use calltop::top::calltop_api::{CalltopAdmin, Endpoints, decode};
use calltop::top::model::{Msg, Polled, TopInfo, TopModel, update};
use calltop::top::view;
use calltop::ui::keys::Keymap;
use calltop::ui::theme::Theme;

const SESSIONS: usize = 5_000;
const PER_SESSION: usize = 5;

/// The admin list's body; `shift` moves 1% of the participants elsewhere.
fn body(shift: usize) -> Vec<u8> {
    let t0 = SystemTime::now() - Duration::from_secs(3600);
    let sessions: Vec<SessionInfo> = (0..SESSIONS)
        .map(|s| SessionInfo {
            id: format!("room-{s:05}"),
            participants: (0..PER_SESSION)
                .map(|p| {
                    let n = s * PER_SESSION + p;
                    let moved = n.is_multiple_of(100) && shift > 0;
                    ParticipantInfo {
                        user: if moved {
                            format!("late-{n}")
                        } else {
                            format!("user-{n}")
                        },
                        joined_at: rfc3339_ms(t0 + Duration::from_millis(n as u64)),
                        connected: !n.is_multiple_of(50),
                    }
                })
                .collect(),
        })
        .collect();
    serde_json::to_vec(&serde_json::json!({ "sessions": sessions })).unwrap()
}

fn model() -> TopModel {
    let info = TopInfo {
        server: "ws://127.0.0.1:7878/ws".into(),
        source: "calltop admin API".into(),
        interval: Duration::from_secs(2),
    };
    let mut m = TopModel::new(
        info,
        Keymap::default(),
        Theme::colour(),
        Instant::now(),
        SystemTime::now(),
        1000,
    );
    update(&mut m, Msg::Resize(200, 60));
    m
}

fn polled(bytes: &[u8]) -> Msg {
    let t = Instant::now();
    let result = decode(bytes);
    Msg::Polled(Box::new(Polled {
        at: Instant::now(),
        wall: SystemTime::now(),
        took: t.elapsed(),
        result,
    }))
}

/// Serves `bodies` in turn, keep-alive, as the reference server would.
fn serve(bodies: [Vec<u8>; 2]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for tcp in listener.incoming() {
            let Ok(mut tcp) = tcp else { return };
            let bodies = bodies.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut i = 0;
                while let Ok(n) = tcp.read(&mut buf) {
                    if n == 0 {
                        return;
                    }
                    let b = &bodies[i % 2];
                    i += 1;
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                        b.len()
                    );
                    if tcp
                        .write_all(head.as_bytes())
                        .and_then(|()| tcp.write_all(b))
                        .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    format!("http://{addr}")
}

/// CPU time this thread has used (Linux: /proc/thread-self/schedstat).
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let ns = text
        .split_whitespace()
        .next()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(ns)
}

fn bench(c: &mut Criterion) {
    let bodies = [body(0), body(1)];
    println!(
        "admin list: {SESSIONS} sessions, {} participants, {} KB",
        SESSIONS * PER_SESSION,
        bodies[0].len() / 1000
    );
    let mut g = c.benchmark_group("top");
    g.sample_size(20);

    let mut m = model();
    update(&mut m, polled(&bodies[0]));
    let mut i = 0;
    g.bench_function(
        "poll client work: decode + diff + rows, 5000 sessions / 25000",
        |b| {
            b.iter(|| {
                i += 1;
                update(&mut m, polled(&bodies[i % 2]))
            })
        },
    );

    let url = serve(bodies.clone());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut source = CalltopAdmin::new(
        &Endpoints::of(&url).unwrap(),
        Secret::new("t"),
        Duration::from_secs(5),
    );
    let mut m = model();
    let mut poll = || {
        let t = Instant::now();
        let result = rt.block_on(source.fetch());
        assert!(result.is_ok(), "{result:?}");
        update(
            &mut m,
            Msg::Polled(Box::new(Polled {
                at: Instant::now(),
                wall: SystemTime::now(),
                took: t.elapsed(),
                result,
            })),
        )
    };
    g.bench_function(
        "poll over HTTP on loopback: fetch + decode + diff + rows",
        |b| b.iter(&mut poll),
    );
    // The runtime is this thread's alone (its connection task included), so
    // this thread's CPU time is the client's whole cost of a poll.
    let polls = 40;
    let cpu0 = thread_cpu();
    for _ in 0..polls {
        poll();
    }
    println!(
        "client CPU per poll over HTTP (fetch, decode, diff, rows; {polls} polls): {:.1} ms",
        (thread_cpu() - cpu0).as_secs_f64() * 1000.0 / polls as f64
    );

    for (w, h) in [(200, 60), (100, 30)] {
        let mut m = model();
        update(&mut m, Msg::Resize(w, h));
        update(&mut m, polled(&bodies[0]));
        update(&mut m, polled(&bodies[1]));
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        g.bench_function(format!("one frame {w}x{h}, 5000 sessions"), |b| {
            b.iter(|| term.draw(|f| view::view(&m, f)).map(|_| ()))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

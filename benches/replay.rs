//! The record/replay targets, measured:
//!
//! 1. open a 1,000,000-event recording and show its last state: ≤ 1 s wall
//!    time, peak RSS ≤ 100 MB;
//! 2. jump to the next (or previous) connection loss in it: ≤ 50 ms;
//! 3. recording a live session costs ≤ 5 % more CPU at 10,000 events/s.
//!
//! Run: `cargo bench --bench replay` (about 70 s; prints PASS/FAIL per
//! target and always exits 0). Knobs (environment): `REPLAY_EVENTS` (default
//! 1,000,000), `REPLAY_WINDOW_SECS` (default 5: one measuring window of
//! target 3), `REPLAY_ROUNDS` (default 3 per mode), `REPLAY_RATE` (default
//! 10,000 events/s), `REPLAY_CHURNERS` (default 10) and `REPLAY_CHURN_HOLD_MS`
//! (default 40), `REPLAY_SEED` (default 7).
//!
//! Set-up:
//! - Targets 1 and 2: a recording is generated (not timed) with
//!   [`Recorder`], the way `--record` writes: `run_started`, a join, 200
//!   participants, then heartbeats and participant churn (joins and leaves
//!   around 200 present), a connection loss and restore every 50,000 events,
//!   and a `session_left` at the end. It is then opened in a child process
//!   (this executable again, `CALLTOP_REPLAY_BENCH_CHILD=open`), so the
//!   generation's memory does not count: `Player::open` is timed and the
//!   child's peak RSS (`VmHWM`) read, then the first frame is drawn (tick to
//!   the end, the log filled, one draw into a ratatui `TestBackend`), then the
//!   jumps of target 2 are made with the replay's own controls
//!   (`Replay::control`: `Start`, `NextLoss` …, `End`, `PreviousLoss` …).
//!   Last, the open is taken apart (reading lines, parsing them, the model's
//!   updates, the model copies) so a miss says where the time goes. The file
//!   was just written, so it is read from the page cache.
//! - Target 3: the reference server runs in a second child process
//!   (`CALLTOP_REPLAY_BENCH_CHILD=server`), with clients there (real
//!   `CallSession`s) joining and leaving the session `bench` all the time:
//!   participant churn. This process runs the measured sessions, watchers
//!   in that session with default settings, on a runtime shaped like the
//!   `calltop` binary's (multi-thread, 2 workers), each with a subscriber
//!   draining its events and, in the recording mode, `RecordTo::start` as
//!   `--record` does. One session gets a few hundred events/s this way (the
//!   churn the child can make), so several run in this process: as many as
//!   a short calibration says are needed for the target rate. (Why not a
//!   short heartbeat interval instead: see [`watcher_settings`].) Modes
//!   alternate (off, on, on, off, …) to cancel drift; the CPU time of this
//!   process (the sum of its threads' `/proc/self/task/*/schedstat` run
//!   times, in nanoseconds) and the events delivered in each window give the
//!   CPU per event of each mode. A third mode records with a writer made
//!   here from calltop's parts (`Recorder::write` from a thread that wakes
//!   every 20 ms), to show what batching would change. The recorder's own
//!   costs (serialising a line and its parts, a `write` per line, the
//!   threads fed as one session at 10,000 events/s would) are timed alone
//!   as well.
//!
//! Without `--bench` (as under `cargo test --benches`) it does nothing.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command as Process, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use calltop::CallSession;
use calltop::event::{EventKind, RunInfo, ServerFacts, SessionEvent};
use calltop::record::{Reader, RecordTo, Recorder};
use calltop::server::{self, ServerConfig};
use calltop::session::Fanout;
use calltop::settings::SessionSettings;
use calltop::ui::keys::Keymap;
use calltop::ui::log::LogLine;
use calltop::ui::model::{CallInfo, Effect, Model, Msg, update};
use calltop::ui::replay::{self, Control, Playback, Player, Replay};
use calltop::ui::theme::Theme;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::runtime::Runtime;

/// The name `Recorder::start` gives its thread.
const RECORDER_THREAD: &str = "calltop-record";
const CHILD_ENV: &str = "CALLTOP_REPLAY_BENCH_CHILD";
const FILE_ENV: &str = "CALLTOP_REPLAY_BENCH_FILE";
/// The whole run gives up (exit 0, saying so) after this long.
const WATCHDOG: Duration = Duration::from_secs(300);
/// The dashboard's default log capacity (`ui.log_capacity`).
const LOG_CAPACITY: usize = 2000;
/// The terminal the first frame is drawn into.
const SCREEN: (u16, u16) = (160, 48);
/// Participants present through the generated call, about.
const PRESENT: usize = 200;
/// Events between two connection losses in the generated call.
const LOSS_EVERY: usize = 50_000;

const OPEN_LIMIT: Duration = Duration::from_secs(1);
const RSS_LIMIT_MB: f64 = 100.0;
const JUMP_LIMIT: Duration = Duration::from_millis(50);
const OVERHEAD_LIMIT_PCT: f64 = 5.0;

fn main() {
    match std::env::var(CHILD_ENV).as_deref() {
        Ok("open") => return open_child(),
        Ok("server") => return server_child(),
        _ => {}
    }
    if !std::env::args().any(|a| a == "--bench") {
        println!("replay: real-time measurements; run `cargo bench --bench replay`");
        return;
    }
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        println!("replay: still running after {WATCHDOG:?}; giving up (exit 0)");
        std::process::exit(0);
    });
    let events = env_num("REPLAY_EVENTS", 1_000_000).max(1000) as usize;
    let window = Duration::from_secs(env_num("REPLAY_WINDOW_SECS", 5).max(1));
    let rounds = env_num("REPLAY_ROUNDS", 3).max(1) as usize;
    let rate = env_num("REPLAY_RATE", 10_000).max(100) as f64;
    let seed = env_num("REPLAY_SEED", 7);
    println!(
        "replay bench: {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let dir = std::env::temp_dir().join(format!("calltop-replay-bench-{}", std::process::id()));
    if let Err(e) = std::fs::create_dir_all(&dir) {
        println!("replay: cannot create {}: {e}", dir.display());
        return;
    }
    let mut summary = Vec::new();

    println!("\n[1+2/3] open a {events}-event recording, then jump from loss to loss");
    match targets_1_2(&dir, events, seed) {
        Ok(lines) => summary.extend(lines),
        Err(e) => summary.push(format!("targets 1 and 2: ERROR {e}")),
    }

    println!("\n[3/3] recording overhead on live sessions at {rate} events/s");
    match target_3(&dir, window, rounds, rate) {
        Ok(lines) => summary.extend(lines),
        Err(e) => summary.push(format!("target 3: ERROR {e}")),
    }

    println!("\n[3/3, apart] the recorder's own costs, one thread, no session");
    if let Err(e) = recorder_costs(&dir) {
        println!("recorder costs: ERROR {e}");
    }

    let _ = std::fs::remove_dir_all(&dir);
    println!("\n== summary ==");
    for line in summary {
        println!("{line}");
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn pass(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn mb(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// A field of /proc/self/status in bytes (`VmHWM`, `VmRSS`).
fn status_bytes(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            let rest = l.strip_prefix(field)?.strip_prefix(':')?;
            rest.split_whitespace().next()?.parse::<u64>().ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// Resets `VmHWM` to the current RSS (Linux ≥ 4.0); false if it cannot.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

// ---------------------------------------------------------------------------
// Targets 1 and 2

struct Generated {
    events: usize,
    losses: usize,
    bytes: u64,
    span: Duration,
}

/// Writes a recording of `n` events (the `run_started` line included) with
/// [`Recorder`], as `--record` does.
fn generate(path: &Path, n: usize, seed: u64) -> Result<Generated, String> {
    let settings = SessionSettings::builder("ws://127.0.0.1:7878/ws", "standup", "alice")
        .build()
        .map_err(|e| e.to_string())?;
    // 2026-01-05T09:00:00Z
    let wall0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_603_600);
    let first = SessionEvent::new(
        wall0,
        Duration::ZERO,
        EventKind::RunStarted {
            run: RunInfo::of(&settings),
        },
    );
    let mut rec = Recorder::create(path, true, &first).map_err(|e| e.to_string())?;
    let mut rng = SmallRng::seed_from_u64(seed);
    let facts = ServerFacts {
        server: Some(format!("calltop {}", env!("CARGO_PKG_VERSION"))),
        server_name: Some("bench".into()),
        session_timeout: Some(Duration::from_secs(30)),
        resume_window: Some(Duration::from_secs(30)),
        room: None,
        server_session: Some("7f3a9c2e".into()),
        own_id: Some("alice".into()),
    };
    let mut written = 1;
    let mut losses = 0;
    let mut offset = Duration::from_millis(3);
    let mut batch: Vec<SessionEvent> = Vec::with_capacity(512);
    let mut present: Vec<String> = Vec::with_capacity(PRESENT + 32);
    let mut next_guest = 0u64;
    let mut since_loss = 0;
    let mut push = |batch: &mut Vec<SessionEvent>,
                    written: &mut usize,
                    offset: Duration,
                    kind: EventKind|
     -> Result<(), String> {
        batch.push(SessionEvent::new(wall0 + offset, offset, kind));
        *written += 1;
        if batch.len() == 512 {
            rec.write(batch).map_err(|e| e.to_string())?;
            batch.clear();
        }
        Ok(())
    };
    push(
        &mut batch,
        &mut written,
        offset,
        EventKind::Connecting { attempt: 1 },
    )?;
    offset += Duration::from_micros(1800);
    push(
        &mut batch,
        &mut written,
        offset,
        EventKind::SessionJoined { participants: 0 },
    )?;
    push(
        &mut batch,
        &mut written,
        offset,
        EventKind::ServerInfo(facts.clone()),
    )?;
    // The last event is `session_left`.
    while written < n - 1 {
        // A busy call: an event every 10 ms on average (1M events ≈ 2¾ hours).
        offset += Duration::from_micros(rng.random_range(2_000..18_000));
        since_loss += 1;
        if since_loss >= LOSS_EVERY && written + 4 < n - 1 {
            since_loss = 0;
            losses += 1;
            push(
                &mut batch,
                &mut written,
                offset,
                EventKind::ConnectionLost {
                    reason: "heartbeat unanswered for 2500 ms".into(),
                    injected: false,
                },
            )?;
            push(
                &mut batch,
                &mut written,
                offset,
                EventKind::ReconnectAttempt {
                    attempt: 1,
                    max: 10,
                    delay: Duration::from_millis(500),
                    last_error: None,
                },
            )?;
            offset += Duration::from_millis(500);
            push(
                &mut batch,
                &mut written,
                offset,
                EventKind::Connecting { attempt: 1 },
            )?;
            offset += Duration::from_millis(rng.random_range(2..400));
            push(
                &mut batch,
                &mut written,
                offset,
                EventKind::ConnectionRestored {
                    resumed: true,
                    downtime: Duration::from_millis(2500 + 500) + Duration::from_millis(7),
                    attempts: 1,
                },
            )?;
            continue;
        }
        let kind = if present.len() < PRESENT.saturating_sub(10) || rng.random_range(0..100) < 45 {
            // Churn: joins and leaves around PRESENT.
            let join = present.len() < PRESENT.saturating_sub(10)
                || (present.len() < PRESENT + 10 && rng.random_bool(0.5));
            if join {
                next_guest += 1;
                let name = format!("guest-{next_guest:06}");
                present.push(name.clone());
                EventKind::ParticipantJoined {
                    user: name.clone(),
                    id: name,
                    joined_at: Some(wall0 + offset),
                }
            } else {
                let name = present.swap_remove(rng.random_range(0..present.len()));
                EventKind::ParticipantLeft {
                    user: name.clone(),
                    id: name,
                }
            }
        } else {
            EventKind::Heartbeat {
                rtt: Duration::from_micros(rng.random_range(150..3_000)),
            }
        };
        push(&mut batch, &mut written, offset, kind)?;
    }
    offset += Duration::from_millis(40);
    push(
        &mut batch,
        &mut written,
        offset,
        EventKind::SessionLeft {
            reason: calltop::LeftReason::User,
        },
    )?;
    rec.write(&batch).map_err(|e| e.to_string())?;
    drop(rec);
    let bytes = std::fs::metadata(path).map_err(|e| e.to_string())?.len();
    Ok(Generated {
        events: written,
        losses,
        bytes,
        span: offset,
    })
}

fn targets_1_2(dir: &Path, n: usize, seed: u64) -> Result<Vec<String>, String> {
    let path = dir.join("big.ndjson");
    let t = Instant::now();
    let g = generate(&path, n, seed)?;
    println!(
        "generated {} ({} events, {} losses, {:.1} MB, {:.0} s of call) in {:.1} s (not timed)",
        path.display(),
        g.events,
        g.losses,
        mb(g.bytes),
        g.span.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = Process::new(exe)
        .env(CHILD_ENV, "open")
        .env(FILE_ENV, &path)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the open child: {e}"))?;
    let mut results = Vec::new();
    let out = child.stdout.take().expect("piped stdout");
    for line in BufReader::new(out).lines() {
        let line = line.map_err(|e| e.to_string())?;
        match line.strip_prefix("=") {
            Some(r) => results.push(r.to_owned()),
            None => println!("{line}"),
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    if !status.success() {
        results.push(format!("the open child failed: {status}"));
    }
    if let Some(r) = results.iter_mut().find(|r| r.starts_with("open_1m_events")) {
        r.push_str(&format!(", file {:.0} MB", mb(g.bytes)));
    }
    let _ = std::fs::remove_file(&path);
    Ok(results)
}

fn model_for(reader: &Reader<BufReader<File>>) -> Model {
    let (session, user) = reader.identity();
    let info = match reader.run() {
        Some(run) => CallInfo {
            session: run.session.clone(),
            user: run.user.clone(),
            server: run.server.clone(),
            backend: run.backend.to_string(),
            banner: Some(format!("big.ndjson · {}", replay::KEYS)),
        },
        None => CallInfo {
            session,
            user,
            server: "(not in the recording)".into(),
            backend: "(not in the recording)".into(),
            banner: None,
        },
    };
    Model::new(
        info,
        Keymap::default(),
        Theme::plain(),
        Duration::ZERO,
        SystemTime::UNIX_EPOCH,
    )
}

fn stats(v: &mut [Duration]) -> (Duration, Duration) {
    if v.is_empty() {
        return (Duration::ZERO, Duration::ZERO);
    }
    v.sort();
    (v[v.len() / 2], v[v.len() - 1])
}

/// Child: opens the recording, draws it, jumps through it, and takes the
/// open apart. Lines starting with `=` are for the summary.
fn open_child() {
    let path = PathBuf::from(std::env::var_os(FILE_ENV).expect("the file to open"));
    let rss_base = status_bytes("VmRSS");
    let reset = reset_peak_rss();

    // ---- target 1: the open, then the first frame.
    let t0 = Instant::now();
    let opened = Player::open(&path, model_for, LOG_CAPACITY);
    let open_time = t0.elapsed();
    let peak_open = status_bytes("VmHWM");
    let (player, change) = match opened {
        Ok(p) => p,
        Err(e) => {
            println!("=open_1m_events: ERROR {e}");
            return;
        }
    };
    let rss_after_open = status_bytes("VmRSS");
    let t1 = Instant::now();
    let end = player.duration();
    let mut r = Replay {
        player,
        playback: Playback::paused_at(end),
        name: "big.ndjson".into(),
    };
    r.player.tick(end);
    r.player.model_mut().size = SCREEN;
    replay::show_log(change, r.player.model(), LOG_CAPACITY);
    let mut terminal = Terminal::new(TestBackend::new(SCREEN.0, SCREEN.1)).expect("test terminal");
    terminal
        .draw(|f| replay::draw(&r, f))
        .expect("draw into a test backend");
    let frame_time = t1.elapsed();
    let shown = open_time + frame_time;
    let peak_shown = status_bytes("VmHWM");
    let events = r.player.len();
    println!(
        "Player::open: {:.3} s for {events} events ({:.0} ns/event); first frame (tick, log, \
         draw {}x{}): {:.1} ms; open to last state on screen: {:.3} s",
        open_time.as_secs_f64(),
        open_time.as_nanos() as f64 / events as f64,
        SCREEN.0,
        SCREEN.1,
        ms(frame_time),
        shown.as_secs_f64()
    );
    println!(
        "memory: RSS {:.1} MB before, {:.1} MB after the open (kept); peak {:.1} MB during the \
         open, {:.1} MB to the first frame{}",
        mb(rss_base),
        mb(rss_after_open),
        mb(peak_open),
        mb(peak_shown),
        if reset {
            ""
        } else {
            " (could not reset VmHWM: peak since the child started)"
        }
    );
    let ok1 = shown <= OPEN_LIMIT && mb(peak_shown) <= RSS_LIMIT_MB;
    println!(
        "=open_1m_events: {:.2} s (Player::open {:.2} s + first frame {:.0} ms), peak RSS {:.0} MB \
         — {} (≤ {:.0} s, ≤ {:.0} MB)",
        shown.as_secs_f64(),
        open_time.as_secs_f64(),
        ms(frame_time),
        mb(peak_shown),
        pass(ok1),
        OPEN_LIMIT.as_secs_f64(),
        RSS_LIMIT_MB
    );

    // ---- target 2: jumps, with the replay's own controls.
    let draw = |r: &Replay, terminal: &mut Terminal<TestBackend>| {
        terminal
            .draw(|f| replay::draw(r, f))
            .expect("draw into a test backend");
    };
    let t = Instant::now();
    let change = r.control(Control::Start, Instant::now());
    let start_time = t.elapsed();
    replay::show_log(change, r.player.model(), LOG_CAPACITY);
    draw(&r, &mut terminal);
    let mut next = Vec::new();
    let mut next_shown = Vec::new();
    let mut folded = Vec::new();
    while r.player.next_loss().is_some() {
        let from = r.player.position();
        let t = Instant::now();
        let change = r.control(Control::NextLoss, Instant::now());
        let d = t.elapsed();
        replay::show_log(change, r.player.model(), LOG_CAPACITY);
        draw(&r, &mut terminal);
        next.push(d);
        next_shown.push(t.elapsed());
        folded.push(r.player.position() - from);
    }
    let t = Instant::now();
    let change = r.control(Control::End, Instant::now());
    let end_time = t.elapsed();
    replay::show_log(change, r.player.model(), LOG_CAPACITY);
    draw(&r, &mut terminal);
    let mut prev = Vec::new();
    let mut prev_shown = Vec::new();
    while r.player.previous_loss().is_some() {
        let t = Instant::now();
        let change = r.control(Control::PreviousLoss, Instant::now());
        let d = t.elapsed();
        replay::show_log(change, r.player.model(), LOG_CAPACITY);
        draw(&r, &mut terminal);
        prev.push(d);
        prev_shown.push(t.elapsed());
    }
    let peak_jumps = status_bytes("VmHWM");
    let losses = next.len();
    let (n_med, n_max) = stats(&mut next);
    let (ns_med, ns_max) = stats(&mut next_shown);
    let (p_med, p_max) = stats(&mut prev);
    let (ps_med, ps_max) = stats(&mut prev_shown);
    println!(
        "Start (seek 0): {:.1} ms; End (seek to the last): {:.1} ms",
        ms(start_time),
        ms(end_time)
    );
    println!(
        "next loss, {losses} jumps (each {} to {} events on): median {:.1} ms, max {:.1} ms \
         (with log and redraw: median {:.1} ms, max {:.1} ms)",
        folded.iter().min().unwrap_or(&0),
        folded.iter().max().unwrap_or(&0),
        ms(n_med),
        ms(n_max),
        ms(ns_med),
        ms(ns_max)
    );
    println!(
        "previous loss, {} jumps: median {:.1} ms, max {:.1} ms (with log and redraw: median \
         {:.1} ms, max {:.1} ms); peak RSS after all jumps {:.1} MB",
        prev.len(),
        ms(p_med),
        ms(p_max),
        ms(ps_med),
        ms(ps_max),
        mb(peak_jumps)
    );
    let ok2 = n_max <= JUMP_LIMIT && p_max <= JUMP_LIMIT && losses > 0;
    println!(
        "=jump_to_loss: next median {:.1} ms / max {:.1} ms, previous median {:.1} ms / max {:.1} \
         ms over {losses} losses — {} (≤ {:.0} ms)",
        ms(n_med),
        ms(n_max),
        ms(p_med),
        ms(p_max),
        pass(ok2),
        ms(JUMP_LIMIT)
    );
    drop(r);

    // ---- where the open's time goes.
    breakdown(&path, events, open_time);
}

/// Every field of an event line the generated recording has, flat and
/// borrowed: what a parse costs without `flatten` (see [`breakdown`]).
#[derive(serde::Deserialize)]
#[allow(dead_code)]
struct FlatLine<'a> {
    #[serde(borrow)]
    ts: std::borrow::Cow<'a, str>,
    t_ms: Option<f64>,
    #[serde(borrow)]
    event: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    user: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    joined_at: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    session: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    reason: Option<std::borrow::Cow<'a, str>>,
    rtt_us: Option<u64>,
    rtt_ms: Option<u64>,
    resumed: Option<bool>,
    downtime_ms: Option<u64>,
    attempts: Option<u32>,
    attempt: Option<u32>,
    max: Option<u32>,
    delay_ms: Option<u64>,
    participants: Option<usize>,
}

/// Times the parts of an open one by one, over the same file.
fn breakdown(path: &Path, events: usize, open_time: Duration) {
    let per = |d: Duration| d.as_nanos() as f64 / events as f64;
    // Lines alone.
    let t = Instant::now();
    let mut src = BufReader::with_capacity(1 << 16, File::open(path).expect("the recording"));
    let mut buf = Vec::new();
    let mut lines = 0usize;
    while src.read_until(b'\n', &mut buf).expect("read") > 0 {
        lines += 1;
        buf.clear();
    }
    let read = t.elapsed();
    // Lines and serde.
    let t = Instant::now();
    let mut src = BufReader::with_capacity(1 << 16, File::open(path).expect("the recording"));
    let mut parsed = 0usize;
    while src.read_until(b'\n', &mut buf).expect("read") > 0 {
        if let Ok(text) = std::str::from_utf8(&buf)
            && SessionEvent::from_ndjson(text.trim()).is_ok()
        {
            parsed += 1;
        }
        buf.clear();
    }
    let serde = t.elapsed();
    // JSON alone: the same lines tokenised into nothing (what any parse
    // costs at least), and into one flat struct of borrowed fields (what a
    // parse costs that does not go through `#[serde(flatten)]` and an
    // internally tagged enum, which buffer every line as serde `Content`).
    let t = Instant::now();
    let mut src = BufReader::with_capacity(1 << 16, File::open(path).expect("the recording"));
    while src.read_until(b'\n', &mut buf).expect("read") > 0 {
        let _ = std::hint::black_box(serde_json::from_slice::<serde::de::IgnoredAny>(&buf));
        buf.clear();
    }
    let json_only = t.elapsed();
    let t = Instant::now();
    let mut src = BufReader::with_capacity(1 << 16, File::open(path).expect("the recording"));
    while src.read_until(b'\n', &mut buf).expect("read") > 0 {
        let _ = std::hint::black_box(serde_json::from_slice::<FlatLine>(&buf));
        buf.clear();
    }
    let json_map = t.elapsed();
    // The time stamps: every line has `ts`, every join a `joined_at`.
    let stamp =
        calltop::event::rfc3339_ms(SystemTime::UNIX_EPOCH + Duration::from_secs(1_767_603_600));
    let t = Instant::now();
    for _ in 0..events {
        std::hint::black_box(calltop::event::parse_rfc3339(std::hint::black_box(&stamp)));
    }
    let stamps = t.elapsed();
    // The Reader (lines, serde, offsets).
    let t = Instant::now();
    let reader = Reader::open(path).expect("the recording");
    let n = reader.count();
    let reader_time = t.elapsed();
    // The Reader and the model's updates, each piece timed, and a copy of the
    // model every 4096 events (as the player keeps).
    let t = Instant::now();
    let mut reader = Reader::open(path).expect("the recording");
    let mut model = model_for(&reader);
    let mut ring: VecDeque<LogLine> = VecDeque::new();
    let (mut t_read, mut t_tick, mut t_event, mut t_ring, mut t_clone) = (
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
        Duration::ZERO,
    );
    let mut clones = 0;
    let mut log_lines = 0usize;
    let mut wall_zero = None;
    let mut i = 0usize;
    loop {
        let a = Instant::now();
        let Some(rec) = reader.next_event() else {
            break;
        };
        let b = Instant::now();
        t_read += b - a;
        if i.is_multiple_of(4096) {
            let copy = model.clone();
            std::hint::black_box(&copy);
            t_clone += b.elapsed();
            clones += 1;
        }
        let wz = *wall_zero.get_or_insert(rec.event.ts - rec.event.offset);
        let c = Instant::now();
        let now = rec.event.offset;
        update(
            &mut model,
            Msg::Tick {
                now,
                wall: wz + now,
            },
        );
        let d = Instant::now();
        t_tick += d - c;
        let u = update(&mut model, Msg::Event(rec.event));
        let e = Instant::now();
        t_event += e - d;
        for eff in u.effects {
            if let Effect::Log(line) = eff {
                log_lines += 1;
                if ring.len() == LOG_CAPACITY {
                    ring.pop_front();
                }
                ring.push_back(line);
            }
        }
        t_ring += e.elapsed();
        i += 1;
    }
    let fold_time = t.elapsed();
    println!("where an open's time goes (each a separate pass over the same file):");
    println!(
        "  read lines only (BufReader 64 KiB, read_until): {:>6.0} ms  {:>5.0} ns/event  ({lines} lines)",
        ms(read),
        per(read)
    );
    println!(
        "  + serde (SessionEvent::from_ndjson):             {:>6.0} ms  {:>5.0} ns/event  ({parsed} parsed)",
        ms(serde),
        per(serde)
    );
    println!(
        "    of which JSON tokenising alone (IgnoredAny):  {:>6.0} ms  {:>5.0} ns/event",
        ms(json_only),
        per(json_only)
    );
    println!(
        "    JSON into one flat struct, borrowed fields:   {:>6.0} ms  {:>5.0} ns/event",
        ms(json_map),
        per(json_map)
    );
    println!(
        "    one RFC 3339 time parsed (jiff), per line:    {:>6.0} ms  {:>5.0} ns/event",
        ms(stamps),
        per(stamps)
    );
    println!(
        "  Reader iteration (lines, serde, offsets):        {:>6.0} ms  {:>5.0} ns/event  ({n} events)",
        ms(reader_time),
        per(reader_time)
    );
    println!(
        "  Reader + model updates (timed piece by piece):   {:>6.0} ms  {:>5.0} ns/event",
        ms(fold_time),
        per(fold_time)
    );
    println!(
        "    reading (Reader::next_event) {:.0} ms, Msg::Tick {:.0} ms, Msg::Event {:.0} ms, \
         log ring {:.0} ms ({log_lines} log lines), {clones} model copies {:.1} ms",
        ms(t_read),
        ms(t_tick),
        ms(t_event),
        ms(t_ring),
        ms(t_clone)
    );
    println!(
        "  Player::open itself (above):                     {:>6.0} ms  {:>5.0} ns/event",
        ms(open_time),
        per(open_time)
    );
}

// ---------------------------------------------------------------------------
// Target 3

/// Child: the reference server on 127.0.0.1, with `churners` clients
/// joining and leaving session `bench` all the time. Prints the WebSocket
/// URL, then runs until its stdin closes.
fn server_child() {
    let churners = env_num("REPLAY_CHURNERS", CHURNERS) as usize;
    let hold = Duration::from_millis(env_num("REPLAY_CHURN_HOLD_MS", CHURN_HOLD_MS));
    let rt = runtime(2);
    rt.block_on(async move {
        let srv = match server::start(ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            admin_token: Some("bench".into()),
            ..ServerConfig::default()
        })
        .await
        {
            Ok(s) => s,
            Err(e) => {
                println!("ERROR cannot start the reference server: {e}");
                return;
            }
        };
        let url = srv.ws_url();
        println!("{url}");
        let _ = std::io::stdout().flush();
        for c in 0..churners {
            let url = url.clone();
            tokio::spawn(async move {
                // Wait for the measured sessions to be in before churning.
                tokio::time::sleep(Duration::from_millis(50 * c as u64)).await;
                for k in 0u64.. {
                    let Ok(settings) =
                        SessionSettings::builder(&url, CHURN_SESSION, format!("churn-{c}-{k}"))
                            .idle_timeout(Duration::ZERO)
                            .build()
                    else {
                        return;
                    };
                    let s = CallSession::new(settings);
                    let Ok(mut sub) = s.subscribe().await else {
                        return;
                    };
                    if s.join().await.is_err() {
                        return;
                    }
                    while let Some(ev) = sub.recv().await {
                        if matches!(ev.kind, EventKind::SessionJoined { .. }) {
                            break;
                        }
                    }
                    tokio::time::sleep(hold).await;
                    s.shutdown().await;
                }
            });
        }
        // Until the parent goes.
        let _ = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::Read::read_to_end(&mut std::io::stdin(), &mut sink);
        })
        .await;
        srv.shutdown().await;
    });
}

/// The CPU time of this process so far: the sum of its threads' run times.
fn cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// The CPU time so far of this process's threads named `name` (the
/// recorder's are `calltop-record`).
fn thread_cpu_ns(name: &str) -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm")).is_ok_and(|c| c.trim_end() == name)
        })
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// The CPU time so far of the calling thread.
fn this_thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// utime + stime of the process (clock ticks, of 10 ms), as a check.
fn cpu_ticks() -> u64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let Some(rest) = s.rsplit_once(')').map(|(_, r)| r) else {
        return 0;
    };
    // Fields after the command: state is field 3; utime 14, stime 15.
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| {
        f.get(i - 3)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    get(14) + get(15)
}

#[derive(Default)]
struct Counters {
    events: AtomicU64,
    heartbeats: AtomicU64,
    participants: AtomicU64,
    joined: AtomicU64,
    lost: AtomicU64,
    rtt_us: AtomicU64,
}

/// What each session of a window does besides its draining subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Nothing.
    Off,
    /// `RecordTo::start`, as `--record` does.
    Record,
    /// Not calltop's: what `Recorder::start` could do instead, made here
    /// from calltop's parts (a subscription and `Recorder::write`): a thread
    /// that sleeps [`LINGER`] and then writes whatever came meanwhile in one
    /// write, so it wakes (and the session wakes it) once per batch, not
    /// once per event.
    Batched,
}

impl Mode {
    fn label(self) -> &'static str {
        match self {
            Mode::Off => "not recording",
            Mode::Record => "recording",
            Mode::Batched => "batched (20ms)",
        }
    }
}

/// How long [`Mode::Batched`]'s writer gathers events between two writes.
const LINGER: Duration = Duration::from_millis(20);
/// [`Mode::Batched`]'s thread.
const BATCHED_THREAD: &str = "bench-record";

/// The writer of [`Mode::Batched`]: at most [`LINGER`] of events unwritten.
fn batched_writer(
    mut rec: Recorder,
    mut events: calltop::session::Subscription,
) -> std::thread::JoinHandle<std::io::Result<()>> {
    use calltop::session::TryRecvError;
    std::thread::Builder::new()
        .name(BATCHED_THREAD.into())
        .spawn(move || {
            let mut batch = Vec::new();
            loop {
                std::thread::sleep(LINGER);
                let closed = loop {
                    match events.try_recv() {
                        Ok(ev) => batch.push(ev),
                        Err(TryRecvError::Empty) => break false,
                        Err(TryRecvError::Closed) => break true,
                    }
                };
                if !batch.is_empty() {
                    rec.write(&batch)?;
                    batch.clear();
                }
                if closed {
                    return Ok(());
                }
            }
        })
        .expect("a thread for the batched writer")
}

#[derive(Debug, Clone, Copy)]
struct Round {
    mode: Mode,
    sessions: usize,
    secs: f64,
    cpu_ns: u64,
    /// Of which the recorder threads'.
    recorder_ns: u64,
    ticks: u64,
    events: u64,
    heartbeats: u64,
    participants: u64,
    lost: u64,
    /// The heartbeats' round trips, summed.
    rtt_us: u64,
    recorded_bytes: u64,
}

impl Round {
    fn rate(&self) -> f64 {
        self.events as f64 / self.secs
    }
    fn ns_per_event(&self) -> f64 {
        self.cpu_ns as f64 / self.events.max(1) as f64
    }
    fn mean_rtt_us(&self) -> f64 {
        self.rtt_us as f64 / self.heartbeats.max(1) as f64
    }
    fn cpu_pct(&self) -> f64 {
        self.cpu_ns as f64 / 1e9 / self.secs * 100.0
    }
}

/// The session a watcher is in: where the server child's clients come and go.
const CHURN_SESSION: &str = "bench";
/// Clients in the server child joining and leaving, each staying this long.
const CHURNERS: u64 = 10;
const CHURN_HOLD_MS: u64 = 40;

/// Settings of watcher `i`: the defaults (heartbeat every 2 s), but no idle
/// countdown.
///
/// Why not heartbeats as the load (a short `heartbeat_interval`; `validate`
/// takes any positive one): the reference server does not set TCP_NODELAY
/// on its sockets, so once a pong is late (a busy moment on two CPUs, or a
/// frame the server sent of its own accord), the next pong waits in the
/// server's kernel for the client's next segment (Nagle's algorithm against
/// the client's delayed ACK). With an interval below the delayed ACK's 40 ms
/// every pong then comes after the next ping has gone, so it matches no
/// ping and no heartbeat is ever reported again: a session sends a ping per
/// interval and reports nothing. Measured here, at 1 ms, sessions alone gave
/// about 450 heartbeats/s until the server got busy, then none.
fn watcher_settings(url: &str, i: usize) -> Result<SessionSettings, String> {
    SessionSettings::builder(url, CHURN_SESSION, format!("watch-{i:03}"))
        .idle_timeout(Duration::ZERO)
        .build()
        .map_err(|e| e.to_string())
}

/// One window: `sessions` watchers joined, each drained (and recorded as
/// `mode` says), measured for `window` after a second of warm-up.
fn round(
    rt: &Runtime,
    url: &str,
    dir: &Path,
    sessions: usize,
    mode: Mode,
    window: Duration,
) -> Result<Round, String> {
    let counters = Arc::new(Counters::default());
    let (result, recordings, batched) = rt.block_on(async {
        let mut all = Vec::new();
        let mut recordings = Vec::new();
        let mut batched = Vec::new();
        let mut drains = Vec::new();
        for i in 0..sessions {
            let s = CallSession::new(watcher_settings(url, i)?);
            let path = dir.join(format!("live-{i}.ndjson"));
            match mode {
                Mode::Off => {}
                Mode::Record => {
                    let to = RecordTo { path, force: true };
                    recordings.push(to.start(&s).await.map_err(|e| e.to_string())?);
                }
                Mode::Batched => {
                    let rec = Recorder::create(&path, true, &s.run_started())
                        .map_err(|e| e.to_string())?;
                    let sub = s.subscribe().await.map_err(|e| e.to_string())?;
                    batched.push(batched_writer(rec, sub));
                }
            }
            let mut sub = s.subscribe().await.map_err(|e| e.to_string())?;
            let c = counters.clone();
            drains.push(tokio::spawn(async move {
                while let Some(ev) = sub.recv().await {
                    c.events.fetch_add(1, Ordering::Relaxed);
                    match ev.kind {
                        EventKind::Heartbeat { rtt } => {
                            c.heartbeats.fetch_add(1, Ordering::Relaxed);
                            c.rtt_us
                                .fetch_add(rtt.as_micros() as u64, Ordering::Relaxed);
                        }
                        EventKind::ParticipantJoined { .. } | EventKind::ParticipantLeft { .. } => {
                            c.participants.fetch_add(1, Ordering::Relaxed);
                        }
                        EventKind::SessionJoined { .. } => {
                            c.joined.fetch_add(1, Ordering::Relaxed);
                        }
                        EventKind::ConnectionLost { .. } => {
                            c.lost.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    }
                }
            }));
            all.push(s);
        }
        for s in &all {
            s.join().await.map_err(|e| e.to_string())?;
        }
        let deadline = Instant::now() + Duration::from_secs(20);
        while counters.joined.load(Ordering::Relaxed) < sessions as u64 {
            if Instant::now() > deadline {
                return Err(format!(
                    "only {} of {sessions} sessions joined within 20 s",
                    counters.joined.load(Ordering::Relaxed)
                ));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        let snap = |c: &Counters| {
            (
                c.events.load(Ordering::Relaxed),
                c.heartbeats.load(Ordering::Relaxed),
                c.participants.load(Ordering::Relaxed),
                c.lost.load(Ordering::Relaxed),
                c.rtt_us.load(Ordering::Relaxed),
            )
        };
        let (e0, h0, p0, l0, r0) = snap(&counters);
        let rec0 = thread_cpu_ns(RECORDER_THREAD) + thread_cpu_ns(BATCHED_THREAD);
        let (cpu0, ticks0, t0) = (cpu_ns(), cpu_ticks(), Instant::now());
        tokio::time::sleep(window).await;
        let (cpu1, ticks1, secs) = (cpu_ns(), cpu_ticks(), t0.elapsed().as_secs_f64());
        let rec1 = thread_cpu_ns(RECORDER_THREAD) + thread_cpu_ns(BATCHED_THREAD);
        let (e1, h1, p1, l1, r1) = snap(&counters);
        for s in &all {
            s.shutdown().await;
        }
        drop(all);
        for d in drains {
            let _ = d.await;
        }
        Ok((
            Round {
                mode,
                sessions,
                secs,
                cpu_ns: cpu1.saturating_sub(cpu0),
                recorder_ns: rec1.saturating_sub(rec0),
                ticks: ticks1.saturating_sub(ticks0),
                events: e1 - e0,
                heartbeats: h1 - h0,
                participants: p1 - p0,
                lost: l1 - l0,
                rtt_us: r1 - r0,
                recorded_bytes: 0,
            },
            recordings,
            batched,
        ))
    })?;
    let mut result = result;
    for r in recordings {
        r.finish();
    }
    for b in batched {
        match b.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => println!("  the batched writer failed: {e}"),
            Err(_) => println!("  the batched writer panicked"),
        }
    }
    if mode != Mode::Off {
        for i in 0..sessions {
            let p = dir.join(format!("live-{i}.ndjson"));
            result.recorded_bytes += std::fs::metadata(&p).map_or(0, |m| m.len());
            let _ = std::fs::remove_file(&p);
        }
    }
    Ok(result)
}

fn print_round(r: &Round) {
    println!(
        "  {:<14} {} sessions {:>5.2} s: {:>6} events ({:>6.0}/s: {} heartbeats, {} participant; \
         RTT {:.0} µs), CPU {:>7.1} ms ({:>4.1} % of a CPU; {} ticks), {:>5.0} ns/event{}{}",
        r.mode.label(),
        r.sessions,
        r.secs,
        r.events,
        r.rate(),
        r.heartbeats,
        r.participants,
        r.mean_rtt_us(),
        r.cpu_ns as f64 / 1e6,
        r.cpu_pct(),
        r.ticks,
        r.ns_per_event(),
        if r.mode != Mode::Off {
            format!(
                ", recorder threads {:.0} ns/event, {:.1} MB written",
                r.recorder_ns as f64 / r.events.max(1) as f64,
                mb(r.recorded_bytes)
            )
        } else {
            String::new()
        },
        if r.lost > 0 {
            format!(", {} CONNECTION LOSSES", r.lost)
        } else {
            String::new()
        }
    );
}

fn target_3(dir: &Path, window: Duration, rounds: usize, rate: f64) -> Result<Vec<String>, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut server = Process::new(exe)
        .env(CHILD_ENV, "server")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the server child: {e}"))?;
    let mut out = BufReader::new(server.stdout.take().expect("piped stdout"));
    let mut url = String::new();
    let result = (|| {
        out.read_line(&mut url).map_err(|e| e.to_string())?;
        let url = url.trim().to_owned();
        if !url.starts_with("ws://") {
            return Err(format!("the server child said {url:?}"));
        }
        println!(
            "reference server (child process {}) at {url}, with {} clients there joining and \
             leaving session `bench` all the time",
            server.id(),
            env_num("REPLAY_CHURNERS", CHURNERS)
        );
        let rt = runtime(2);
        // Calibration: how many participant events one watcher gets from the
        // churn; then as many watchers as the rate needs.
        let probe = 8;
        let r = round(&rt, &url, dir, probe, Mode::Off, Duration::from_secs(2))?;
        let per_watcher = r.rate() / probe as f64;
        println!(
            "calibration ({probe} watchers, 2 s): {per_watcher:.0} events/s per watcher \
             ({:.0} participant events/s, {:.0} ns CPU/event)",
            r.participants as f64 / r.secs / probe as f64,
            r.ns_per_event()
        );
        if per_watcher < 1.0 {
            return Err("the watchers got no events".into());
        }
        let sessions = ((rate * 1.05 / per_watcher).ceil() as usize).clamp(1, 200);
        println!(
            "measuring {sessions} sessions (watchers) in this process, {rounds} windows of {:.0} s \
             per mode",
            window.as_secs_f64()
        );
        let mut all = Vec::new();
        // off, record, batched, batched, record, off, …: drift in the
        // machine cancels out.
        let order = [Mode::Off, Mode::Record, Mode::Batched];
        for k in 0..rounds * 3 {
            let (pass, i) = (k / 3, k % 3);
            let mode = order[if pass % 2 == 0 { i } else { 2 - i }];
            let r = round(&rt, &url, dir, sessions, mode, window)?;
            print_round(&r);
            all.push(r);
        }
        Ok((sessions, all))
    })();
    drop(server.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match server.try_wait() {
            Ok(Some(_)) => break,
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            _ => {
                let _ = server.kill();
                let _ = server.wait();
                break;
            }
        }
    }
    let (sessions, all) = result?;
    struct Total {
        ns: f64,
        rate: f64,
        cpu_pct: f64,
        spread: String,
        recorder_ns: f64,
    }
    let total = |mode: Mode| {
        let rs: Vec<&Round> = all.iter().filter(|r| r.mode == mode).collect();
        let cpu: u64 = rs.iter().map(|r| r.cpu_ns).sum();
        let rec: u64 = rs.iter().map(|r| r.recorder_ns).sum();
        let events: u64 = rs.iter().map(|r| r.events).sum::<u64>().max(1);
        let secs: f64 = rs.iter().map(|r| r.secs).sum();
        let per: Vec<f64> = rs.iter().map(|r| r.ns_per_event()).collect();
        let lo = per.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = per.iter().cloned().fold(0.0, f64::max);
        Total {
            ns: cpu as f64 / events as f64,
            rate: events as f64 / secs,
            cpu_pct: cpu as f64 / 1e7 / secs,
            spread: format!("{lo:.0}–{hi:.0}"),
            recorder_ns: rec as f64 / events as f64,
        }
    };
    let off = total(Mode::Off);
    let on = total(Mode::Record);
    let bat = total(Mode::Batched);
    for (mode, t) in [
        (Mode::Off, &off),
        (Mode::Record, &on),
        (Mode::Batched, &bat),
    ] {
        println!(
            "{:<15} {:>6.0} ns CPU/event (windows {}), {:.0} events/s, {:.1} % of a CPU{}",
            format!("{}:", mode.label()),
            t.ns,
            t.spread,
            t.rate,
            t.cpu_pct,
            if mode == Mode::Off {
                String::new()
            } else {
                format!(
                    ": {:+.1} % per event; its writer threads {:.0} ns/event, the sessions' \
                     side {:.0} ns/event",
                    (t.ns / off.ns - 1.0) * 100.0,
                    t.recorder_ns,
                    t.ns - off.ns - t.recorder_ns
                )
            }
        );
    }
    let overhead = (on.ns / off.ns - 1.0) * 100.0;
    let batched = (bat.ns / off.ns - 1.0) * 100.0;
    println!(
        "recording adds {:.0} ns CPU per event ({overhead:+.1} %): {:.0} ns in the recorder \
         threads (woken per event: one wake-up, one line, one write(2) each), {:.0} ns on the \
         sessions' side (a copy of each event for one more subscriber, and waking that thread); \
         a writer that gathers {} ms of events per write adds {:.0} ns ({batched:+.1} %)",
        on.ns - off.ns,
        on.recorder_ns,
        on.ns - off.ns - on.recorder_ns,
        LINGER.as_millis(),
        bat.ns - off.ns
    );
    let slowest = off.rate.min(on.rate);
    let reached = slowest >= rate * 0.95;
    let ok = overhead <= OVERHEAD_LIMIT_PCT && reached;
    Ok(vec![format!(
        "record_overhead: {overhead:+.1} % CPU per event ({:.0} → {:.0} ns/event) at {slowest:.0} \
         events/s ({sessions} sessions in one process{}) — {} (≤ {OVERHEAD_LIMIT_PCT:.0} % at \
         {rate:.0}/s); batched writer (not calltop's): {batched:+.1} %",
        off.ns,
        on.ns,
        if reached {
            ""
        } else {
            ", BELOW the target rate"
        },
        pass(ok)
    )])
}

/// What the recorder costs per event, apart from any session: a line
/// serialised and its parts, a `write` per line or per batch, and writer
/// threads fed through a [`Fanout`] at 10,000 events/s one by one (one
/// session's worth, as a live session hands them over) or all at once.
fn recorder_costs(dir: &Path) -> Result<(), String> {
    let settings = SessionSettings::builder("ws://127.0.0.1:7878/ws", CHURN_SESSION, "watch-000")
        .build()
        .map_err(|e| e.to_string())?;
    let wall0 = SystemTime::now();
    let first = SessionEvent::new(
        wall0,
        Duration::ZERO,
        EventKind::RunStarted {
            run: RunInfo::of(&settings),
        },
    );
    let ev = |i: u64| {
        let name = format!("churn-7-{i}");
        SessionEvent::new(
            wall0 + Duration::from_micros(i * 100),
            Duration::from_micros(i * 100),
            EventKind::ParticipantJoined {
                user: name.clone(),
                id: name,
                joined_at: Some(wall0),
            },
        )
    };
    let events: Vec<SessionEvent> = (0..20_000).map(ev).collect();
    let n = events.len() as f64;
    let path = dir.join("costs.ndjson");

    let t = Instant::now();
    let mut bytes = 0;
    for e in &events {
        bytes += std::hint::black_box(e.to_ndjson(CHURN_SESSION, "watch-000")).len() + 1;
    }
    let line = t.elapsed().as_nanos() as f64 / n;
    // Its parts: the JSON without session and user, a time stamp, the
    // terminal-escape scan.
    let t = Instant::now();
    for e in &events {
        std::hint::black_box(serde_json::to_string(e).map_err(|e| e.to_string())?);
    }
    let json = t.elapsed().as_nanos() as f64 / n;
    let t = Instant::now();
    for e in &events {
        std::hint::black_box(calltop::event::rfc3339_ms(e.ts));
    }
    let stamp = t.elapsed().as_nanos() as f64 / n;
    let sample = events[0].to_ndjson(CHURN_SESSION, "watch-000");
    let t = Instant::now();
    for _ in &events {
        std::hint::black_box(calltop::event::escape_for_terminals(std::hint::black_box(
            sample.clone(),
        )));
    }
    let escape = t.elapsed().as_nanos() as f64 / n;

    let mut rec = Recorder::create(&path, true, &first).map_err(|e| e.to_string())?;
    let t = Instant::now();
    for e in &events {
        rec.write(std::slice::from_ref(e))
            .map_err(|e| e.to_string())?;
    }
    let one = t.elapsed().as_nanos() as f64 / n;
    let t = Instant::now();
    for chunk in events.chunks(512) {
        rec.write(chunk).map_err(|e| e.to_string())?;
    }
    let batched = t.elapsed().as_nanos() as f64 / n;
    drop(rec);

    // A writer thread, fed one event every 100 µs (one session at 10,000
    // events/s), or all at once; `Mode::Off` is the pacing alone. Returns
    // the writer thread's CPU and the feeding thread's, per event.
    let fed = |mode: Mode, paced: bool| -> Result<(f64, f64), String> {
        let rec = Recorder::create(&path, true, &first).map_err(|e| e.to_string())?;
        let mut fanout = Fanout::default();
        let thread = match mode {
            Mode::Off => None,
            Mode::Record => Some(rec.start(fanout.subscribe())),
            Mode::Batched => Some(batched_writer(rec, fanout.subscribe())),
        };
        std::thread::sleep(Duration::from_millis(30));
        let writer = || thread_cpu_ns(RECORDER_THREAD) + thread_cpu_ns(BATCHED_THREAD);
        let (w0, me0) = (writer(), this_thread_cpu_ns());
        let t0 = Instant::now();
        for (i, e) in events.iter().enumerate() {
            if paced {
                let due = t0 + Duration::from_micros(100 * i as u64);
                let now = Instant::now();
                if due > now {
                    std::thread::sleep(due - now);
                }
            }
            fanout.send(e);
        }
        let me1 = this_thread_cpu_ns();
        // Let it catch up before reading its clock.
        std::thread::sleep(LINGER * 3);
        let w1 = writer();
        drop(fanout);
        if let Some(thread) = thread {
            thread
                .join()
                .map_err(|_| "the writer thread panicked".to_owned())?
                .map_err(|e| e.to_string())?;
        }
        Ok((
            w1.saturating_sub(w0) as f64 / n,
            me1.saturating_sub(me0) as f64 / n,
        ))
    };
    let (_, pacing) = fed(Mode::Off, true)?;
    let (stock, stock_feed) = fed(Mode::Record, true)?;
    let (lingering, lingering_feed) = fed(Mode::Batched, true)?;
    let (burst, _) = fed(Mode::Record, false)?;
    println!(
        "a participant_joined line ({} bytes): to_ndjson {line:.0} ns (serde_json::to_string of \
         the event {json:.0} ns, of which each of its 2 time stamps {stamp:.0} ns; the \
         terminal-escape scan and a copy {escape:.0} ns); Recorder::write of one line \
         {one:.0} ns (a write(2) each), of 512-line batches {batched:.0} ns/line",
        bytes / events.len()
    );
    println!(
        "one session's worth, 10,000 events/s through a Fanout: Recorder::start's thread \
         {stock:.0} ns/event of its own CPU and {:.0} ns/event more on the sending side (its \
         wake-ups); a writer gathering {} ms per write {lingering:.0} ns/event and {:.0} \
         ns/event on the sending side; Recorder::start's thread fed all at once {burst:.0} \
         ns/event",
        stock_feed - pacing,
        LINGER.as_millis(),
        lingering_feed - pacing
    );
    Ok(())
}

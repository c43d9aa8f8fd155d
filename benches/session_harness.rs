//! The real-network targets of issue 2, measured with real sockets on 127.0.0.1:
//!
//! 1. silent stall (socket open, server frozen) → `connection_lost` with DEFAULT
//!    settings: ≤ 5 s, while sending at most one heartbeat every 2 s;
//! 2. server reachable again → `connection_restored` within 20 ms of the first
//!    attempt that reaches it;
//! 3. one idle joined session: ≤ 2 MB beyond the process baseline and no CPU
//!    between heartbeats.
//!
//! Run: `cargo bench --bench session_harness` (about 2½ minutes; prints a table).
//! Knobs (environment): `HARNESS_SAMPLES` (default 10), `HARNESS_IDLE_SECS`
//! (default 20), `HARNESS_SEED` (default: from the clock; printed).
//!
//! Set-up: the reference server runs in this process on its own tokio runtime,
//! behind a fault proxy (also here, same runtime) that can freeze a connection
//! (read and hold every byte: the client sees an open, silent socket), refuse
//! new connections, or cut them. The proxy parses the client → server WebSocket
//! frames, so it sees every `ping` the engine sends, frozen or not, and logs
//! when it accepted each connection. The session under test runs on a second
//! runtime shaped like the `calltop` binary's (multi-thread, 2 workers), with
//! DEFAULT `SessionSettings` (heartbeat 2 s, timeout 2.5 s, default reconnect
//! policy). A second participant joins directly so the idle countdown never runs.
//!
//! The idle measurement runs in a child process (this same executable, started
//! with `CALLTOP_HARNESS_IDLE_CHILD=<url>`), so its RSS and CPU are the session's
//! alone; the parent samples the child's per-thread CPU time and context
//! switches from `/proc/<pid>/task/*/sched` every 10 ms and lines them up with
//! the pings the proxy saw. A control child (a bare tokio runtime with one task
//! sleeping to a deadline every 2 s, no calltop) is measured the same way, so
//! wake-ups that come from the runtime's timer wheel can be told from calltop's.
//!
//! Without `--bench` (as under `cargo test --benches`) it does nothing.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command as Process, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc as std_mpsc};
use std::time::{Duration, Instant};

use calltop::CallSession;
use calltop::clock::Clock;
use calltop::engine::ContractChecker;
use calltop::event::{EventKind, SessionEvent};
use calltop::server::{self, ServerConfig};
use calltop::settings::SessionSettings;
use rand::rngs::SmallRng;
use rand::{RngExt, SeedableRng};
use tokio::runtime::Runtime;
use tokio::sync::mpsc;

use proxy::{Mode, Proxy};

const CHILD_ENV: &str = "CALLTOP_HARNESS_IDLE_CHILD";
/// The child value that asks for the control run (no calltop at all).
const CONTROL: &str = "control";
/// The longest the whole run may take before it gives up.
const WATCHDOG: Duration = Duration::from_secs(600);
/// The longest any single expected event may take.
const WAIT: Duration = Duration::from_secs(30);

fn main() {
    if let Ok(arg) = std::env::var(CHILD_ENV) {
        if arg == CONTROL {
            control_child();
        } else {
            idle_child(&arg);
        }
        return;
    }
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "session_harness: real-time measurements; run `cargo bench --bench session_harness`"
        );
        return;
    }
    std::thread::spawn(|| {
        std::thread::sleep(WATCHDOG);
        eprintln!("session_harness: still running after {WATCHDOG:?}; giving up");
        std::process::exit(2);
    });
    let samples = env_num("HARNESS_SAMPLES", 10).max(1) as usize;
    let idle_secs = env_num("HARNESS_IDLE_SECS", 20).max(4);
    let seed = env_num(
        "HARNESS_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1),
    );
    if let Err(e) = run(samples, idle_secs, seed) {
        eprintln!("session_harness: {e}");
        std::process::exit(1);
    }
}

fn env_num(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn runtime(workers: usize) -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .expect("tokio runtime")
}

fn run(samples: usize, idle_secs: u64, seed: u64) -> Result<(), String> {
    let defaults = SessionSettings::builder("ws://127.0.0.1:1/ws", "s", "u")
        .build()
        .map_err(|e| e.to_string())?;
    println!(
        "session_harness: {samples} samples, {idle_secs} s idle window, seed {seed}; \
         {} CPUs, load average {}",
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!(
        "DEFAULT settings: heartbeat_interval {:?}, heartbeat_timeout {:?}, connect_timeout {:?}, \
         reconnect {:?}",
        defaults.heartbeat_interval,
        defaults.heartbeat_timeout,
        defaults.connect_timeout,
        defaults.reconnect
    );
    let server_rt = runtime(2);
    let srv = server_rt
        .block_on(server::start(ServerConfig {
            listen: "127.0.0.1:0".parse().expect("address"),
            admin_token: Some("harness".into()),
            ..ServerConfig::default()
        }))
        .map_err(|e| format!("cannot start the reference server: {e}"))?;
    let proxy = server_rt.block_on(Proxy::start(srv.addr));
    let client_rt = runtime(2);
    let mut rng = SmallRng::seed_from_u64(seed);

    let (stalls, restores) = client_rt.block_on(async {
        // A second participant, straight to the server, so alice is never alone
        // (her idle countdown would otherwise run during the measurement).
        let bob = CallSession::new(settings(&srv.ws_url(), "bob")?);
        bob.join().await.map_err(|e| e.to_string())?;
        let alice = CallSession::new(settings(&proxy.ws_url(), "alice")?);
        let mut ev = Events::new(&alice).await?;
        alice.join().await.map_err(|e| e.to_string())?;
        ev.wait("session_joined").await?;

        println!("\n[1/3] silent stall → connection_lost ({samples} freezes)");
        let stalls = measure_stalls(&proxy, &mut ev, samples, &mut rng).await?;
        println!("\n[2/3] server reachable again → connection_restored ({samples} outages)");
        let restores = measure_restores(&proxy, &mut ev, samples, &mut rng).await?;

        alice.leave().await.map_err(|e| e.to_string())?;
        ev.wait("session_left").await?;
        alice.shutdown().await;
        bob.shutdown().await;
        Ok::<_, String>((stalls, restores))
    })?;
    let alice_pings = proxy.log.pings_of("alice");

    println!("\n[3/3] one idle joined session, in a child process ({idle_secs} s window)");
    let idle = measure_idle(&proxy, idle_secs, false)?;
    println!(
        "\n[control] a bare tokio runtime (2 workers), one task sleeping to a deadline every 2 s, \
         no calltop, in a child process ({idle_secs} s window)"
    );
    let control = measure_idle(&proxy, idle_secs, true)?;

    report(
        &defaults,
        &stalls,
        &alice_pings,
        &restores,
        &idle,
        &control,
        idle_secs,
    );
    drop(proxy);
    server_rt.block_on(srv.shutdown());
    Ok(())
}

fn settings(url: &str, user: &str) -> Result<SessionSettings, String> {
    // DEFAULT settings: only the server, session and user are ours.
    SessionSettings::builder(url, "harness", user)
        .build()
        .map_err(|e| e.to_string())
}

// ---------------------------------------------------------------------------
// Events, with the time we received them, checked against the contract
// ---------------------------------------------------------------------------

struct Events {
    rx: mpsc::UnboundedReceiver<(SessionEvent, Instant)>,
    checker: ContractChecker,
    clock: Clock,
}

impl Events {
    async fn new(s: &CallSession) -> Result<Events, String> {
        let mut sub = s.subscribe().await.map_err(|e| e.to_string())?;
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(ev) = sub.recv().await {
                if tx.send((ev, Instant::now())).is_err() {
                    return;
                }
            }
        });
        Ok(Events {
            rx,
            checker: ContractChecker::new(),
            clock: s.clock(),
        })
    }

    /// When the engine reported `ev` (its offset on the session's clock).
    fn at(&self, ev: &SessionEvent) -> Instant {
        self.clock.instant(ev.offset)
    }

    /// The next event named `name`; every event on the way passes the contract checker.
    async fn wait(&mut self, name: &str) -> Result<(SessionEvent, Instant), String> {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let (ev, got) = tokio::time::timeout_at(deadline, self.rx.recv())
                .await
                .map_err(|_| format!("no {name} within {WAIT:?}"))?
                .ok_or("event stream closed")?;
            self.checker.observe(&ev.kind).map_err(|v| v.to_string())?;
            if ev.kind.name() == name {
                return Ok((ev, got));
            }
            if ev.kind.is_terminal() {
                return Err(format!("waiting for {name}, got {:?}", ev.kind));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// 1. Silent stall
// ---------------------------------------------------------------------------

struct Stall {
    /// Freeze time after the ping that was last answered.
    phase: Duration,
    /// Freeze → `connection_lost` (the engine's event time).
    detect: Duration,
    /// `connection_lost` − (first ping sent into the freeze + heartbeat_timeout),
    /// with the ping time as the proxy read it: how late the timeout fired.
    lateness: Option<Duration>,
    /// Pings the engine sent between the freeze and the loss.
    pings_in_freeze: usize,
}

async fn measure_stalls(
    proxy: &Proxy,
    ev: &mut Events,
    n: usize,
    rng: &mut SmallRng,
) -> Result<Vec<Stall>, String> {
    let interval = SessionSettings::DEFAULT_HEARTBEAT_INTERVAL;
    let timeout = SessionSettings::DEFAULT_HEARTBEAT_TIMEOUT;
    let mut out = Vec::new();
    for i in 0..n {
        // Each sample starts from an answered heartbeat; the freeze lands at a
        // random point of the cycle after it, stratified so the N samples cover
        // the whole 2 s evenly.
        let (hb, _) = ev.wait("heartbeat").await?;
        let EventKind::Heartbeat { rtt } = hb.kind else {
            unreachable!()
        };
        let ping_at = ev.at(&hb) - rtt;
        let phase = interval.mul_f64((i as f64 + rng.random::<f64>()) / n as f64);
        let target = (ping_at + phase).max(Instant::now());
        tokio::time::sleep_until(target.into()).await;
        let frozen_at = Instant::now();
        proxy.set_mode(Mode::Blackhole);
        let (lost, _) = ev.wait("connection_lost").await?;
        let lost_at = ev.at(&lost);
        let EventKind::ConnectionLost { reason, .. } = &lost.kind else {
            unreachable!()
        };
        if !reason.contains("heartbeat") {
            return Err(format!(
                "lost for another reason than the heartbeat: {reason}"
            ));
        }
        let pings: Vec<Instant> = proxy
            .log
            .pings_of("alice")
            .into_iter()
            .filter(|t| *t >= frozen_at && *t <= lost_at)
            .collect();
        let s = Stall {
            phase: frozen_at - ping_at,
            detect: lost_at - frozen_at,
            lateness: pings
                .first()
                .map(|p| lost_at.saturating_duration_since(*p + timeout)),
            pings_in_freeze: pings.len(),
        };
        println!(
            "  #{:<2} frozen {:>6.1} ms after a ping → connection_lost after {:>7.1} ms \
             ({} ping(s) sent into the freeze; timeout fired {} after its deadline)",
            i + 1,
            ms(s.phase),
            ms(s.detect),
            s.pings_in_freeze,
            s.lateness
                .map_or("?".into(), |d| format!("{:.2} ms", ms(d)))
        );
        out.push(s);
        // Recover: cut the frozen connections (and any attempt stuck behind
        // them), let traffic through again, and wait until we are back.
        proxy.kill_all();
        proxy.set_mode(Mode::Forward);
        ev.wait("connection_restored").await?;
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// 2. Restore
// ---------------------------------------------------------------------------

struct Restore {
    outage: Duration,
    /// Accept of the first connection that reached the server → `connection_restored`
    /// (the engine's event time).
    latency: Duration,
    /// Same, to the consumer having received the event.
    latency_received: Duration,
    /// Traffic allowed again → `connection_restored` (includes the backoff wait).
    since_reachable: Duration,
    attempts: u32,
    resumed: bool,
}

async fn measure_restores(
    proxy: &Proxy,
    ev: &mut Events,
    n: usize,
    rng: &mut SmallRng,
) -> Result<Vec<Restore>, String> {
    let mut out = Vec::new();
    for i in 0..n {
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.set_mode(Mode::Refuse);
        proxy.kill_all();
        let cut_at = Instant::now();
        ev.wait("connection_lost").await?;
        // Attempts are refused (accepted, then closed at once) for a while.
        let outage = Duration::from_millis(100 + rng.random_range(0..1400));
        tokio::time::sleep_until((cut_at + outage).into()).await;
        let accepted_before = proxy.log.accepted_count();
        let reachable_at = Instant::now();
        proxy.set_mode(Mode::Forward);
        let (restored, received) = ev.wait("connection_restored").await?;
        let restored_at = ev.at(&restored);
        let EventKind::ConnectionRestored {
            resumed, attempts, ..
        } = restored.kind
        else {
            unreachable!()
        };
        let first = proxy
            .log
            .accepted_at(accepted_before)
            .ok_or("restored, yet the proxy forwarded no connection")?;
        let r = Restore {
            outage: reachable_at - cut_at,
            latency: restored_at.saturating_duration_since(first),
            latency_received: received.saturating_duration_since(first),
            since_reachable: restored_at - reachable_at,
            attempts,
            resumed,
        };
        println!(
            "  #{:<2} refused for {:>6.1} ms; restored {:>7.1} ms after it was reachable, \
             {:>5.2} ms after the accept of the attempt that reached it \
             ({:.2} ms to the consumer); attempts {}, resumed {}",
            i + 1,
            ms(r.outage),
            ms(r.since_reachable),
            ms(r.latency),
            ms(r.latency_received),
            r.attempts,
            r.resumed
        );
        out.push(r);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// 3. Idle session, in a child process
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, Default)]
struct Rss {
    vm_kb: u64,
    anon_kb: u64,
}

fn own_rss() -> Rss {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    Rss {
        vm_kb: field("VmRSS:"),
        anon_kb: field("RssAnon:"),
    }
}

/// The child: a runtime shaped like the binary's, its baseline, then one joined
/// session left idle until the parent writes a line (or closes) our stdin.
fn idle_child(url: &str) {
    let rt = runtime(2);
    rt.block_on(async {
        // Let every worker thread start and run once before the baseline.
        let tasks: Vec<_> = (0..8)
            .map(|_| tokio::spawn(tokio::time::sleep(Duration::from_millis(5))))
            .collect();
        for t in tasks {
            let _ = t.await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    let base = own_rss();
    println!("BASELINE {} {}", base.vm_kb, base.anon_kb);
    let heartbeats = Arc::new(AtomicU64::new(0));
    let hb = heartbeats.clone();
    let session = rt.block_on(async move {
        let s = CallSession::new(
            SessionSettings::builder(url, "idle", "idler")
                .build()
                .expect("settings"),
        );
        let mut rx = s.subscribe().await.expect("subscribe");
        s.join().await.expect("join");
        loop {
            let ev = tokio::time::timeout(WAIT, rx.recv())
                .await
                .expect("joined in time")
                .expect("event stream");
            match ev.kind {
                EventKind::SessionJoined { .. } => break,
                k if k.is_terminal() => panic!("idle child: {k:?}"),
                _ => {}
            }
        }
        // A consumer, as the headless mode or the dashboard has one.
        tokio::spawn(async move {
            while let Some(ev) = rx.recv().await {
                if matches!(ev.kind, EventKind::Heartbeat { .. }) {
                    hb.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
        tokio::time::sleep(Duration::from_millis(500)).await;
        s
    });
    let joined = own_rss();
    println!("JOINED {} {}", joined.vm_kb, joined.anon_kb);
    let _ = std::io::stdout().flush();
    // Idle: this thread blocks in read(2); only the runtime's threads run.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    let end = own_rss();
    println!(
        "END {} {} {}",
        end.vm_kb,
        end.anon_kb,
        heartbeats.load(Ordering::Relaxed)
    );
    let _ = std::io::stdout().flush();
    rt.block_on(async {
        let _ = session.leave().await;
        session.shutdown().await;
    });
}

/// The control: the same runtime and baseline as [`idle_child`], but instead
/// of a session, one task that sleeps to a deadline every heartbeat interval and
/// prints `TICK` (so the parent knows when it woke). Whatever wakes this process
/// between ticks is the runtime's, not calltop's.
fn control_child() {
    let rt = runtime(2);
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    let base = own_rss();
    println!("BASELINE {} {}", base.vm_kb, base.anon_kb);
    rt.spawn(async {
        let interval = SessionSettings::DEFAULT_HEARTBEAT_INTERVAL;
        let mut next = tokio::time::Instant::now() + interval;
        loop {
            tokio::time::sleep_until(next).await;
            println!("TICK");
            let _ = std::io::stdout().flush();
            next += interval;
        }
    });
    // Settle as the session child does before the window starts.
    std::thread::sleep(Duration::from_millis(500));
    println!("JOINED {} {}", base.vm_kb, base.anon_kb);
    let _ = std::io::stdout().flush();
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    println!("END {} {} 0", base.vm_kb, base.anon_kb);
    let _ = std::io::stdout().flush();
}

/// CPU time and context switches of one thread.
#[derive(Debug, Clone, Copy, Default)]
struct ThreadCpu {
    cpu_ns: u64,
    switches: u64,
}

/// Per-thread CPU of `pid`: `/proc/<pid>/task/<tid>/sched` (ns resolution) where
/// the kernel has it, else `stat` ticks and `status` context switches.
fn threads_cpu(pid: u32) -> HashMap<u32, ThreadCpu> {
    let mut out = HashMap::new();
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for entry in dir.flatten() {
        let Some(tid) = entry.file_name().to_str().and_then(|s| s.parse().ok()) else {
            continue;
        };
        let path = entry.path();
        let cpu = if let Ok(sched) = std::fs::read_to_string(path.join("sched")) {
            let field = |name: &str| {
                sched
                    .lines()
                    .find(|l| l.starts_with(name))
                    .and_then(|l| l.rsplit(':').next())
                    .map(str::trim)
                    .unwrap_or("0")
                    .to_owned()
            };
            let ms_f: f64 = field("se.sum_exec_runtime").parse().unwrap_or(0.0);
            ThreadCpu {
                cpu_ns: (ms_f * 1e6) as u64,
                switches: field("nr_switches").parse().unwrap_or(0),
            }
        } else {
            let stat = std::fs::read_to_string(path.join("stat")).unwrap_or_default();
            let after = stat.rsplit(')').next().unwrap_or("");
            let f: Vec<u64> = after
                .split_whitespace()
                .map(|x| x.parse().unwrap_or(0))
                .collect();
            // Fields 14 and 15 (utime, stime) are 11 and 12 after the ")".
            let ticks = f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
            let status = std::fs::read_to_string(path.join("status")).unwrap_or_default();
            let switches = status
                .lines()
                .filter(|l| l.contains("ctxt_switches:"))
                .filter_map(|l| l.split_whitespace().last()?.parse::<u64>().ok())
                .sum();
            ThreadCpu {
                cpu_ns: ticks * 10_000_000, // USER_HZ = 100
                switches,
            }
        };
        out.insert(tid, cpu);
    }
    out
}

/// The name (`comm`) of each thread of `pid`.
fn thread_names(pid: u32) -> HashMap<u32, String> {
    let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return HashMap::new();
    };
    dir.flatten()
        .filter_map(|e| {
            let tid = e.file_name().to_str()?.parse().ok()?;
            let name = std::fs::read_to_string(e.path().join("comm")).ok()?;
            Some((tid, name.trim().to_owned()))
        })
        .collect()
}

/// A 10 ms sampling interval of the idle child with activity away from a heartbeat.
struct Busy {
    /// End of the interval.
    at: Instant,
    cpu_ns: u64,
    switches: u64,
    /// Within 70 ms before a ping.
    before_ping: bool,
}

struct Idle {
    base: Rss,
    joined: Rss,
    end: Rss,
    heartbeats: u64,
    window: Duration,
    pings: Vec<Instant>,
    cpu_total_ns: u64,
    switches_total: u64,
    /// CPU and switches in sampling intervals that touch no heartbeat.
    /// Sampling intervals with CPU or switches away from any heartbeat.
    between: Vec<Busy>,
    intervals: usize,
    threads: usize,
}

/// Runs the idle child (or, with `control`, the control child) and samples it.
fn measure_idle(proxy: &Proxy, idle_secs: u64, control: bool) -> Result<Idle, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let arg = if control {
        CONTROL.to_owned()
    } else {
        proxy.ws_url()
    };
    let mut child = Process::new(exe)
        .env(CHILD_ENV, arg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| format!("cannot start the idle child: {e}"))?;
    let pid = child.id();
    let stdout = child.stdout.take().ok_or("child stdout")?;
    let (tx, rx) = std_mpsc::channel();
    let ticks: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let tick_log = ticks.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line == "TICK" {
                tick_log
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(Instant::now());
            } else if tx.send(line).is_err() {
                return;
            }
        }
    });
    let expect = |tag: &str| -> Result<Vec<u64>, String> {
        let line = rx
            .recv_timeout(WAIT)
            .map_err(|_| format!("idle child: no {tag} line within {WAIT:?}"))?;
        let mut parts = line.split_whitespace();
        if parts.next() != Some(tag) {
            return Err(format!("idle child: expected {tag}, got {line:?}"));
        }
        Ok(parts.filter_map(|p| p.parse().ok()).collect())
    };
    let rss = |v: &[u64]| Rss {
        vm_kb: v.first().copied().unwrap_or(0),
        anon_kb: v.get(1).copied().unwrap_or(0),
    };
    let base = rss(&expect("BASELINE")?);
    let joined = rss(&expect("JOINED")?);

    // Sample the child's threads every 10 ms over the window.
    let window = Duration::from_secs(idle_secs);
    let names = thread_names(pid);
    let start = Instant::now();
    let mut samples: Vec<(Instant, HashMap<u32, ThreadCpu>)> = vec![(start, threads_cpu(pid))];
    while start.elapsed() < window {
        std::thread::sleep(Duration::from_millis(10));
        samples.push((Instant::now(), threads_cpu(pid)));
    }
    let stop = samples.last().map_or(start, |s| s.0);
    let mut stdin = child.stdin.take().ok_or("child stdin")?;
    let _ = writeln!(stdin, "done");
    drop(stdin);
    let end_line = expect("END")?;
    let end = rss(&end_line);
    let heartbeats = end_line.get(2).copied().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => break,
            _ if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }

    let beats = if control {
        ticks.lock().unwrap_or_else(|p| p.into_inner()).clone()
    } else {
        proxy.log.pings_of("idler")
    };
    let pings: Vec<Instant> = beats
        .into_iter()
        .filter(|t| *t >= start && *t <= stop)
        .collect();
    // A heartbeat's own work (timer wake-up, ping, pong, event to the consumer)
    // happens within a millisecond or two of the ping: a sampling interval that
    // overlaps [ping − 2 ms, ping + 20 ms] is "at a heartbeat". Anything else is
    // between heartbeats, and is split by where it falls: within 70 ms before a
    // ping (where tokio's timer wheel wakes to move a 2 s timer from its 64 ms
    // level down to its 1 ms level), or elsewhere.
    let overlaps = |a: Instant, b: Instant, lo: Instant, hi: Instant| a <= hi && b >= lo;
    let at_ping = |a: Instant, b: Instant| {
        pings.iter().any(|p| {
            overlaps(
                a,
                b,
                *p - Duration::from_millis(2),
                *p + Duration::from_millis(20),
            )
        })
    };
    let before_ping = |a: Instant, b: Instant| {
        pings.iter().any(|p| {
            overlaps(
                a,
                b,
                *p - Duration::from_millis(70),
                *p - Duration::from_millis(2),
            )
        })
    };
    let (mut cpu_total_ns, mut switches_total) = (0, 0);
    let mut between = Vec::new();
    let mut threads = 0;
    for w in samples.windows(2) {
        let ((a, before), (b, after)) = (&w[0], &w[1]);
        threads = threads.max(after.len());
        let (mut cpu, mut sw) = (0, 0);
        let mut who = Vec::new();
        for (tid, now) in after {
            let was = before.get(tid).copied().unwrap_or_default();
            let (c, s) = (
                now.cpu_ns.saturating_sub(was.cpu_ns),
                now.switches.saturating_sub(was.switches),
            );
            if c > 0 || s > 0 {
                let name = names.get(tid).map_or("?", String::as_str);
                who.push(format!(
                    "thread {tid} ({name}) {:.0} µs, {s} switch(es)",
                    c as f64 / 1e3
                ));
            }
            cpu += c;
            sw += s;
        }
        cpu_total_ns += cpu;
        switches_total += sw;
        if (cpu > 0 || sw > 0) && !at_ping(*a, *b) {
            let nearest = pings
                .iter()
                .map(|p| ms(b.saturating_duration_since(*p)) - ms(p.saturating_duration_since(*b)))
                .min_by(|x, y| x.abs().total_cmp(&y.abs()))
                .unwrap_or(f64::NAN);
            let pre = before_ping(*a, *b);
            println!(
                "  between beats: interval ending {:>6.0} ms into the window, {nearest:+5.0} ms from \
                 the nearest beat{}: {}",
                ms(b.saturating_duration_since(start)),
                if pre { " (just before it)" } else { "" },
                who.join("; ")
            );
            between.push(Busy {
                at: *b,
                cpu_ns: cpu,
                switches: sw,
                before_ping: pre,
            });
        }
    }
    println!(
        "  RSS baseline {} kB (anon {} kB) → joined {} kB (anon {} kB) → after the window {} kB \
         (anon {} kB)",
        base.vm_kb, base.anon_kb, joined.vm_kb, joined.anon_kb, end.vm_kb, end.anon_kb
    );
    println!(
        "  window {:.1} s: {} {}, {} heartbeat events in the child; \
         CPU {:.3} ms, {} context switches over {} threads",
        (stop - start).as_secs_f64(),
        pings.len(),
        if control {
            "ticks reported by the child"
        } else {
            "pings seen by the proxy"
        },
        heartbeats,
        cpu_total_ns as f64 / 1e6,
        switches_total,
        threads
    );
    Ok(Idle {
        base,
        joined,
        end,
        heartbeats,
        window: stop - start,
        pings,
        cpu_total_ns,
        switches_total,
        between,
        intervals: samples.len().saturating_sub(1),
        threads,
    })
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// (min, median, max).
fn spread(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    let n = v.len();
    let median = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2
    };
    (v[0], median, v[n - 1])
}

/// CPU of an idle child over its window, and what of it fell between beats
/// (`what`: pings of the session, or ticks of the control).
fn cpu_summary(idle: &Idle, spacing: Duration, what: &str, one: &str) -> String {
    let n = idle.pings.len().max(1) as f64;
    let (gap, most) = ping_spacing(&idle.pings, spacing);
    let sum = |it: &mut dyn Iterator<Item = &Busy>| {
        it.fold((0usize, 0u64, 0u64), |(k, c, s), b| {
            (k + 1, c + b.cpu_ns, s + b.switches)
        })
    };
    let (pre_n, pre_cpu, pre_sw) = sum(&mut idle.between.iter().filter(|b| b.before_ping));
    let (oth_n, oth_cpu, oth_sw) = sum(&mut idle.between.iter().filter(|b| !b.before_ping));
    let others: Vec<Instant> = idle
        .between
        .iter()
        .filter(|b| !b.before_ping)
        .map(|b| b.at)
        .collect();
    // tokio's timer wheel has 4096 ms slots at level 2; a wake-up to cascade
    // from it happens on those slot boundaries, so such wake-ups lie a whole
    // number of 4096 ms apart (± the 10 ms sampling).
    let gaps: Vec<String> = others
        .windows(2)
        .map(|w| {
            let g = ms(w[1] - w[0]);
            let k = (g / 4096.0).round();
            let off = g - k * 4096.0;
            format!("{g:.0} ms = {k:.0}×4096{off:+.0}")
        })
        .collect();
    format!(
        "{:.3} ms CPU in {:.1} s ({:.4} %); {} {what} (smallest gap {:.1} ms, ≤ {most} per 2 s){}; \
         {:.0} µs CPU and {:.1} context switches per {one} in all. \
         Between {what}: {} wake-up interval(s), {:.0} µs CPU, {} switches: \
         {pre_n} within 70 ms before a {one} ({:.0} µs, {pre_sw} switches), \
         {oth_n} elsewhere ({:.0} µs, {oth_sw} switches; gaps between them: {})",
        idle.cpu_total_ns as f64 / 1e6,
        idle.window.as_secs_f64(),
        idle.cpu_total_ns as f64 / 1e9 / idle.window.as_secs_f64() * 100.0,
        idle.pings.len(),
        gap.map_or(f64::NAN, ms),
        if idle.heartbeats > 0 {
            format!(
                ", {} heartbeat events at the child's consumer",
                idle.heartbeats
            )
        } else {
            String::new()
        },
        idle.cpu_total_ns as f64 / 1e3 / n,
        idle.switches_total as f64 / n,
        idle.between.len(),
        (pre_cpu + oth_cpu) as f64 / 1e3,
        pre_sw + oth_sw,
        pre_cpu as f64 / 1e3,
        oth_cpu as f64 / 1e3,
        if gaps.is_empty() {
            "-".to_owned()
        } else {
            gaps.join(", ")
        }
    )
}

/// Smallest gap between consecutive pings, and the most pings in any 2 s window.
fn ping_spacing(pings: &[Instant], interval: Duration) -> (Option<Duration>, usize) {
    let mut p = pings.to_vec();
    p.sort();
    let min_gap = p.windows(2).map(|w| w[1] - w[0]).min();
    let mut most = 0;
    let mut lo = 0;
    for hi in 0..p.len() {
        while p[hi] - p[lo] >= interval {
            lo += 1;
        }
        most = most.max(hi - lo + 1);
    }
    (min_gap, most)
}

fn report(
    defaults: &SessionSettings,
    stalls: &[Stall],
    alice_pings: &[Instant],
    restores: &[Restore],
    idle: &Idle,
    control: &Idle,
    idle_secs: u64,
) {
    let interval = defaults.heartbeat_interval;
    let yes = |ok: bool| if ok { "yes" } else { "NO" };
    let mut rows: Vec<[String; 4]> = Vec::new();

    let (lo, med, hi) = spread(stalls.iter().map(|s| s.detect).collect());
    let late = stalls.iter().filter_map(|s| s.lateness).max();
    rows.push([
        "silent stall → connection_lost (DEFAULT settings)".into(),
        format!(
            "min {:.0} / median {:.0} / max {:.0} ms (n={}); worst case by design {:.0} ms; \
             timeout fired ≤ {:.1} ms late",
            ms(lo),
            ms(med),
            ms(hi),
            stalls.len(),
            ms(defaults.stall_detection_bound()),
            late.map_or(f64::NAN, ms)
        ),
        "≤ 5000 ms".into(),
        yes(hi <= Duration::from_secs(5)).into(),
    ]);
    // 10 ms of slack for when the proxy got to read each ping.
    let slack = Duration::from_millis(10);
    let (gap, most) = ping_spacing(alice_pings, interval - slack);
    let max_in_freeze = stalls.iter().map(|s| s.pings_in_freeze).max().unwrap_or(0);
    rows.push([
        "heartbeats sent (whole stall+restore run)".into(),
        format!(
            "{} pings; smallest gap {:.1} ms; at most {most} in any 2 s window; \
             ≤ {max_in_freeze} sent into a freeze before the loss",
            alice_pings.len(),
            gap.map_or(f64::NAN, ms)
        ),
        "≤ 1 per 2 s".into(),
        yes(most <= 1).into(),
    ]);
    let (lo, med, hi) = spread(restores.iter().map(|r| r.latency).collect());
    let (_, rmed, rhi) = spread(restores.iter().map(|r| r.latency_received).collect());
    let (_, smed, shi) = spread(restores.iter().map(|r| r.since_reachable).collect());
    rows.push([
        "reachable again → connection_restored".into(),
        format!(
            "from the accept of the attempt that reached it: min {:.2} / median {:.2} / max {:.2} ms \
             (to the consumer: median {:.2} / max {:.2} ms) (n={}); \
             including the backoff wait: median {:.0} / max {:.0} ms",
            ms(lo),
            ms(med),
            ms(hi),
            ms(rmed),
            ms(rhi),
            restores.len(),
            ms(smed),
            ms(shi)
        ),
        "≤ 20 ms".into(),
        yes(hi <= Duration::from_millis(20)).into(),
    ]);
    let delta = idle.joined.vm_kb.saturating_sub(idle.base.vm_kb);
    let delta_end = idle.end.vm_kb.saturating_sub(idle.base.vm_kb);
    rows.push([
        "one idle joined session: memory".into(),
        format!(
            "VmRSS +{delta} kB at join, +{delta_end} kB after {idle_secs} s idle \
             (RssAnon +{} / +{} kB) over a {} kB baseline",
            idle.joined.anon_kb.saturating_sub(idle.base.anon_kb),
            idle.end.anon_kb.saturating_sub(idle.base.anon_kb),
            idle.base.vm_kb
        ),
        "≤ 2048 kB".into(),
        yes(delta.max(delta_end) <= 2048).into(),
    ]);
    rows.push([
        "one idle joined session: CPU".into(),
        cpu_summary(idle, interval - slack, "pings", "ping"),
        "no CPU between heartbeats".into(),
        yes(idle.between.is_empty()).into(),
    ]);
    rows.push([
        "(control, not a target: bare tokio runtime, one 2 s sleep loop, no calltop)".into(),
        cpu_summary(control, interval - slack, "ticks", "tick"),
        "-".into(),
        "-".into(),
    ]);

    println!("\n| what | measured | target | met |\n|---|---|---|---|");
    for r in rows {
        println!("| {} | {} | {} | {} |", r[0], r[1], r[2], r[3]);
    }
    println!(
        "\n(child: {} threads sampled every {} ms over {} intervals; ping times are when the \
         proxy read them)",
        idle.threads, 10, idle.intervals
    );
}

// ---------------------------------------------------------------------------
// The fault proxy
// ---------------------------------------------------------------------------

mod proxy {
    //! A TCP proxy on 127.0.0.1 that can freeze, refuse or cut connections, and
    //! that reads the client's WebSocket frames on their way (even frozen) to
    //! log every `ping` with the time it arrived.

    use std::collections::HashMap;
    use std::net::SocketAddr;
    use std::sync::{Arc, Mutex};
    use std::time::Instant;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
    use tokio::net::{TcpListener, TcpStream};
    use tokio::sync::watch;
    use tokio::task::JoinHandle;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Mode {
        /// Bytes flow both ways.
        Forward,
        /// Sockets stay open; bytes are read and held, nothing is delivered.
        Blackhole,
        /// New connections are accepted and closed at once.
        Refuse,
    }

    #[derive(Default)]
    struct Inner {
        /// (connection id, when the proxy accepted it) for each forwarded connection.
        accepted: Vec<(u64, Instant)>,
        /// The user each connection joined as.
        users: HashMap<u64, String>,
        /// (connection id, when read) of every `ping` frame.
        pings: Vec<(u64, Instant)>,
    }

    #[derive(Default)]
    pub struct Log(Mutex<Inner>);

    impl Log {
        fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
            self.0.lock().unwrap_or_else(|p| p.into_inner())
        }

        pub fn accepted_count(&self) -> usize {
            self.lock().accepted.len()
        }

        /// When the `i`-th forwarded connection was accepted.
        pub fn accepted_at(&self, i: usize) -> Option<Instant> {
            self.lock().accepted.get(i).map(|a| a.1)
        }

        /// When each ping from `user` (on any connection) reached the proxy.
        pub fn pings_of(&self, user: &str) -> Vec<Instant> {
            let l = self.lock();
            l.pings
                .iter()
                .filter(|(c, _)| l.users.get(c).is_some_and(|u| u == user))
                .map(|p| p.1)
                .collect()
        }

        fn text(&self, conn: u64, at: Instant, payload: &[u8]) {
            let Ok(v) = serde_json::from_slice::<serde_json::Value>(payload) else {
                return;
            };
            let mut l = self.lock();
            match v["type"].as_str() {
                Some("ping") => l.pings.push((conn, at)),
                Some("join") => {
                    let user = v["user"].as_str().unwrap_or_default().to_owned();
                    l.users.insert(conn, user);
                }
                _ => {}
            }
        }
    }

    pub struct Proxy {
        pub addr: SocketAddr,
        pub log: Arc<Log>,
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
        /// Starts on the current tokio runtime.
        pub async fn start(upstream: SocketAddr) -> Proxy {
            let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
            let addr = listener.local_addr().expect("proxy address");
            let (mode, mode_rx) = watch::channel(Mode::Forward);
            let conns: Arc<Mutex<Vec<JoinHandle<()>>>> = Arc::default();
            let log: Arc<Log> = Arc::default();
            let (cs, lg) = (conns.clone(), log.clone());
            let accept = tokio::spawn(async move {
                let mut next_id = 0u64;
                while let Ok((client, _)) = listener.accept().await {
                    let at = Instant::now();
                    if *mode_rx.borrow() == Mode::Refuse {
                        drop(client);
                        continue;
                    }
                    next_id += 1;
                    let id = next_id;
                    lg.lock().accepted.push((id, at));
                    let (mode_rx, lg) = (mode_rx.clone(), lg.clone());
                    let task = tokio::spawn(async move {
                        let Ok(server) = TcpStream::connect(upstream).await else {
                            return;
                        };
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        let (cr, cw) = client.into_split();
                        let (sr, sw) = server.into_split();
                        let parser = FrameLog {
                            conn: id,
                            log: lg,
                            buf: Vec::new(),
                            upgraded: false,
                        };
                        tokio::select! {
                            _ = pump(cr, sw, mode_rx.clone(), Some(parser)) => {}
                            _ = pump(sr, cw, mode_rx, None) => {}
                        }
                    });
                    let mut list = cs.lock().unwrap_or_else(|p| p.into_inner());
                    list.retain(|h| !h.is_finished());
                    list.push(task);
                }
            });
            Proxy {
                addr,
                log,
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

        /// Cuts every open connection (both sides see the socket close).
        pub fn kill_all(&self) {
            let mut list = self.conns.lock().unwrap_or_else(|p| p.into_inner());
            for h in list.drain(..) {
                h.abort();
            }
        }
    }

    /// Copies `from` to `to`, holding the bytes while frozen; `frames`, if
    /// given, sees every byte as it is read.
    async fn pump(
        mut from: OwnedReadHalf,
        mut to: OwnedWriteHalf,
        mut mode: watch::Receiver<Mode>,
        mut frames: Option<FrameLog>,
    ) {
        let mut buf = vec![0u8; 16 * 1024];
        let mut held = Vec::new();
        loop {
            tokio::select! {
                r = from.read(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if let Some(f) = frames.as_mut() {
                            f.feed(&buf[..n]);
                        }
                        held.extend_from_slice(&buf[..n]);
                    }
                },
                changed = mode.changed() => if changed.is_err() {
                    return;
                },
            }
            if *mode.borrow() != Mode::Blackhole && !held.is_empty() {
                if to.write_all(&held).await.is_err() {
                    return;
                }
                held.clear();
            }
        }
    }

    /// Client → server WebSocket frames (masked), after the HTTP upgrade request.
    struct FrameLog {
        conn: u64,
        log: Arc<Log>,
        buf: Vec<u8>,
        upgraded: bool,
    }

    impl FrameLog {
        fn feed(&mut self, data: &[u8]) {
            let at = Instant::now();
            self.buf.extend_from_slice(data);
            if !self.upgraded {
                let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    return;
                };
                self.buf.drain(..end + 4);
                self.upgraded = true;
            }
            while let Some((opcode, payload, used)) = parse_frame(&self.buf) {
                if opcode == 1 {
                    self.log.text(self.conn, at, &payload);
                }
                self.buf.drain(..used);
            }
        }
    }

    /// One complete frame at the start of `b`: (opcode, unmasked payload, bytes used).
    fn parse_frame(b: &[u8]) -> Option<(u8, Vec<u8>, usize)> {
        if b.len() < 2 {
            return None;
        }
        let opcode = b[0] & 0x0f;
        let masked = b[1] & 0x80 != 0;
        let (len, mut off) = match b[1] & 0x7f {
            126 => (u16::from_be_bytes([*b.get(2)?, *b.get(3)?]) as usize, 4),
            127 => (
                u64::from_be_bytes(b.get(2..10)?.try_into().ok()?) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        let mask = if masked {
            let m: [u8; 4] = b.get(off..off + 4)?.try_into().ok()?;
            off += 4;
            Some(m)
        } else {
            None
        };
        let mut payload = b.get(off..off.checked_add(len)?)?.to_vec();
        if let Some(m) = mask {
            for (i, x) in payload.iter_mut().enumerate() {
                *x ^= m[i % 4];
            }
        }
        Some((opcode, payload, off + len))
    }
}

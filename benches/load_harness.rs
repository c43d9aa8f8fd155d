//! The targets of `calltop load` (issue 10), measured on this machine with
//! the load generator and the server on it together, each its own process,
//! on 127.0.0.1:
//!
//! 1. against the reference server (`calltop serve`): ≥ 20,000 participants
//!    in one load process, ramp 2,000/s, join p99 ≤ 100 ms, 0 contract
//!    violations, 0 roster mismatches;
//! 2. against Janus (Debian's 1.1.2, started from `assets/janus/` as the
//!    tests do): ≥ 2,000 participants, 0 violations, 0 mismatches;
//! 3. memory per joined participant in the load process ≤ 16 KB (its RSS
//!    growth over the run's start divided by the participants joined, as
//!    the load summary reports it).
//!
//! Run: `cargo bench --bench load_harness` (about 1½ minutes plus the
//! release build). Knobs (environment): `LOAD_HARNESS_SESSIONS` (default
//! 1000), `LOAD_HARNESS_PER_SESSION` (20), `LOAD_HARNESS_RAMP` (2000/s),
//! `LOAD_HARNESS_DURATION` (10s), `LOAD_HARNESS_JANUS_SESSIONS` (100, rooms
//! of the same size), `LOAD_HARNESS_JANUS_RAMP` (500/s), `LOAD_HARNESS_CHURN`
//! and `LOAD_HARNESS_DROP` (0/s; rates for both runs).
//!
//! What it runs is the real binary, `calltop load --headless --json FILE`,
//! so the numbers are the ones a user gets; the table is read from the JSON
//! summaries. Both processes need more descriptors than a default shell
//! gives: `serve` starts under `ulimit -n` raised (as root, past the hard
//! limit), and `load` raises its own soft limit to the hard one, and the
//! hard one where it may (the summary's `fd_limit` says what it got).
//!
//! Without `--bench` (as under `cargo test --benches`) it does nothing.

#[path = "../tests/janus_support/mod.rs"]
mod janus_support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_calltop");
const TOKEN: &str = "load-harness-admin-token";

fn knob(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

struct Serve {
    child: Child,
    ws_url: String,
}

impl Serve {
    fn start() -> Serve {
        let mut child = Command::new("bash")
            .arg("-c")
            .arg("ulimit -n 100000 2>/dev/null || ulimit -n \"$(ulimit -Hn)\"; exec \"$0\" \"$@\"")
            .arg(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--admin-token", TOKEN])
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .env("HOME", "/nonexistent")
            .env("RUST_LOG", "calltop=warn")
            .env("CALLTOP_SERVE__MAX_CONNECTIONS", "100000")
            .env("CALLTOP_SERVE__MAX_CONNECTIONS_PER_IP", "100000")
            .env("CALLTOP_SERVE__LISTEN_BACKLOG", "65535")
            .stdout(Stdio::piped())
            .spawn()
            .expect("calltop serve starts");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let ws_url = loop {
            let line = lines
                .next()
                .expect("serve printed its address")
                .expect("serve's stdout reads");
            if let Some(url) = line.strip_prefix("calltop serve: WebSocket ") {
                break url.to_owned();
            }
        };
        // Keeps its stdout drained.
        std::thread::spawn(move || for _ in lines {});
        Serve { child, ws_url }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

/// `calltop load --headless` with `args`; its JSON summary and exit status.
fn load(name: &str, args: &[String]) -> (Value, Option<i32>) {
    let json = std::env::temp_dir().join(format!(
        "calltop-load-harness-{}-{name}.json",
        std::process::id()
    ));
    let mut cmd = Command::new(BIN);
    cmd.args(["load", "--headless", "--json"])
        .arg(&json)
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("HOME", "/nonexistent")
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    println!(
        "\n$ calltop load --headless --json {} {}",
        json.display(),
        args.join(" ")
    );
    let status = cmd.status().expect("calltop load runs");
    let v = read(&json);
    let _ = std::fs::remove_file(&json);
    (v, status.code())
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| {
        panic!("no summary at {}: {e}", path.display());
    });
    serde_json::from_str(&text).expect("the summary is JSON")
}

fn plan(sessions: &str, per_session: &str, ramp: &str) -> Vec<String> {
    [
        "--sessions".into(),
        sessions.into(),
        "--per-session".into(),
        per_session.into(),
        "--ramp".into(),
        ramp.into(),
        "--duration".into(),
        knob("LOAD_HARNESS_DURATION", "10s"),
        "--churn".into(),
        knob("LOAD_HARNESS_CHURN", "0/s"),
        "--drop".into(),
        knob("LOAD_HARNESS_DROP", "0/s"),
        "--seed".into(),
        "1".into(),
    ]
    .to_vec()
}

struct Row {
    what: String,
    target: String,
    measured: String,
    met: Option<bool>,
}

fn rows(name: &str, v: &Value, min_joined: u64, join_p99_ms: Option<f64>) -> Vec<Row> {
    let u = |p: &str| v.pointer(p).and_then(Value::as_u64).unwrap_or(0);
    let ms = |p: &str| u(p) as f64 / 1000.0;
    let joined = u("/joined");
    let mut out = vec![Row {
        what: format!(
            "{name}: participants joined (of {})",
            u("/participants/planned")
        ),
        target: format!("≥ {min_joined}"),
        measured: joined.to_string(),
        met: Some(joined >= min_joined),
    }];
    out.push(Row {
        what: format!("{name}: join latency p50 / p99 / max"),
        target: join_p99_ms.map_or("-".into(), |t| format!("p99 ≤ {t} ms")),
        measured: format!(
            "{:.1} / {:.1} / {:.1} ms",
            ms("/join_latency/p50_us"),
            ms("/join_latency/p99_us"),
            ms("/join_latency/max_us")
        ),
        met: join_p99_ms.map(|t| ms("/join_latency/p99_us") <= t),
    });
    out.push(Row {
        what: format!("{name}: heartbeat rtt p50 / p99 / max"),
        target: "-".into(),
        measured: format!(
            "{:.2} / {:.2} / {:.2} ms",
            ms("/heartbeat_rtt/p50_us"),
            ms("/heartbeat_rtt/p99_us"),
            ms("/heartbeat_rtt/max_us")
        ),
        met: None,
    });
    out.push(Row {
        what: format!("{name}: contract violations"),
        target: "0".into(),
        measured: u("/contract_violations").to_string(),
        met: Some(u("/contract_violations") == 0),
    });
    let (mismatches, read) = match v["roster_error"].as_str() {
        Some(e) => (format!("not checked: {e}"), false),
        None => (u("/roster_mismatches").to_string(), true),
    };
    out.push(Row {
        what: format!("{name}: roster mismatches"),
        target: "0".into(),
        measured: mismatches,
        met: Some(read && u("/roster_mismatches") == 0),
    });
    let per = u("/memory/bytes_per_participant") as f64 / 1024.0;
    out.push(Row {
        what: format!("{name}: memory per joined participant (load process)"),
        target: "≤ 16 KB".into(),
        measured: format!(
            "{per:.1} KB (RSS {:.0} → {:.0} MB)",
            u("/memory/rss_before_kib") as f64 / 1024.0,
            u("/memory/rss_joined_kib") as f64 / 1024.0
        ),
        met: Some(per <= 16.0),
    });
    out.push(Row {
        what: format!("{name}: file descriptor limit of the load process"),
        target: "-".into(),
        measured: u("/fd_limit").to_string(),
        met: None,
    });
    out.push(Row {
        what: format!("{name}: CPU of the load process over the run"),
        target: "-".into(),
        measured: format!(
            "{:.1} s in {:.1} s",
            ms("/cpu_ms"),
            u("/duration_ms") as f64 / 1000.0
        ),
        met: None,
    });
    out
}

/// CPU seconds a process has used so far, from /proc.
fn cpu_s(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|r| r.1).unwrap_or("");
    let t: Vec<f64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|v| v.parse().ok())
        .collect();
    t.iter().sum::<f64>() / 100.0
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let mut table = Vec::new();

    let sessions = knob("LOAD_HARNESS_SESSIONS", "1000");
    let per = knob("LOAD_HARNESS_PER_SESSION", "20");
    let ramp = knob("LOAD_HARNESS_RAMP", "2000/s");
    {
        let serve = Serve::start();
        let mut args = vec![
            "--server".to_owned(),
            serve.ws_url.clone(),
            "--admin-token".into(),
            TOKEN.into(),
        ];
        args.extend(plan(&sessions, &per, &ramp));
        let (v, code) = load("calltop", &args);
        println!("exit status {code:?}");
        table.extend(rows("reference server", &v, 20_000, Some(100.0)));
        table.push(Row {
            what: "reference server: CPU of `calltop serve` over the run".into(),
            target: "-".into(),
            measured: format!("{:.1} s", cpu_s(serve.child.id())),
            met: None,
        });
    }

    if janus_support::janus_available() {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let janus = rt.block_on(janus_support::Janus::start(janus_support::JanusOptions {
            session_timeout_secs: 60,
            ..janus_support::JanusOptions::default()
        }));
        let mut args = vec![
            "--backend".to_owned(),
            "janus".into(),
            "--server".into(),
            janus.ws_url(),
            "--janus-create-room".into(),
        ];
        args.extend(plan(
            &knob("LOAD_HARNESS_JANUS_SESSIONS", "100"),
            &per,
            &knob("LOAD_HARNESS_JANUS_RAMP", "500/s"),
        ));
        let (v, code) = load("janus", &args);
        println!("exit status {code:?}");
        table.extend(rows("Janus", &v, 2_000, None));
        rt.block_on(async { drop(janus) });
    } else {
        println!("no janus on PATH: the Janus rows are left out");
    }

    println!("\n| what | target | measured | met |\n|---|---|---|---|");
    for r in &table {
        let met = match r.met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "-",
        };
        println!("| {} | {} | {} | {met} |", r.what, r.target, r.measured);
    }
}

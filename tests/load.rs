//! `calltop load` as a process against the real reference server on
//! 127.0.0.1 (started here, in the test's own runtime): a small fleet with
//! churn, drops and stalls passes every check; a relay that swallows one
//! `participant_joined` fails the roster check and names who missed whom;
//! bad input is refused with exit 2, never a panic.

mod support;

use std::path::PathBuf;
use std::process::Output;
use std::sync::atomic::Ordering;

use serde_json::Value;
use support::swallow::Swallow;

const BIN: &str = env!("CARGO_BIN_EXE_calltop");

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("calltop-load-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Runs `calltop load --headless` with `args`, within the test's wait.
async fn load(args: &[&str]) -> Output {
    let run = tokio::process::Command::new(BIN)
        .arg("load")
        .arg("--headless")
        .args(args)
        // No user config file of the machine's: only what the test says.
        .env("HOME", std::env::temp_dir())
        .env_remove("XDG_CONFIG_HOME")
        .kill_on_drop(true)
        .output();
    tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("load finished within two minutes")
        .expect("calltop runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn summary(path: &PathBuf) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).expect("the JSON summary is written"))
        .expect("the summary is JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_fleet_with_churn_drops_and_stalls_passes_every_check() {
    let server = support::server().await;
    let json = dir("pass").join("summary.json");
    let out = load(&[
        "--server",
        &server.ws_url(),
        "--admin-token",
        "admin",
        "--sessions",
        "3",
        "--per-session",
        "3",
        "--ramp",
        "50/s",
        "--duration",
        "3s",
        "--churn",
        "3/s",
        "--drop",
        "3/s",
        "--stall",
        "1/s",
        "--seed",
        "7",
        "--json",
        json.to_str().unwrap(),
    ])
    .await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let s = summary(&json);
    assert_eq!(s["joined"], 9, "{s:#}");
    assert_eq!(s["not_joined"], 0);
    assert_eq!(s["contract_violations"], 0, "{s:#}");
    assert_eq!(s["roster_mismatches"], 0, "{s:#}");
    assert_eq!(s["passed"], true);
    assert_eq!(s["plan"]["sessions"], 3);
    assert_eq!(s["plan"]["per_session"], 3);
    // The plan happened: people left and came back, connections were cut.
    assert!(s["churned"].as_u64().unwrap() > 0, "{s:#}");
    assert!(s["drops"].as_u64().unwrap() > 0, "{s:#}");
    // Every join was measured (the first ones and each rejoin after churn).
    let joins = s["join_latency"]["count"].as_u64().unwrap();
    assert!(joins >= 9 + s["churned"].as_u64().unwrap(), "{s:#}");
    assert!(s["join_latency"]["p99_us"].as_u64().unwrap() > 0);
    assert!(stdout.contains("verdict: pass (exit 0)"), "{stdout}");
    assert!(stdout.contains("roster mismatches: none"), "{stdout}");
    // Everyone left at the end: the server's list is empty again.
    support::eventually("everyone gone from the server", || async {
        server
            .hub
            .sessions()
            .iter()
            .all(|s| s.participants.is_empty())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_swallows_a_participant_joined_fails_the_roster_check_by_name() {
    let server = support::server().await;
    let relay = Swallow::start(server.addr).await;
    let json = dir("swallow").join("summary.json");
    let out = load(&[
        "--server",
        &relay.ws_url(),
        "--admin-url",
        &server.http_url(),
        "--admin-token",
        "admin",
        "--sessions",
        "2",
        "--per-session",
        "3",
        "--ramp",
        "50/s",
        "--duration",
        "1s",
        "--json",
        json.to_str().unwrap(),
    ])
    .await;
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        relay.swallowed.load(Ordering::SeqCst),
        "the relay did its part"
    );
    assert_eq!(out.status.code(), Some(10), "{stdout}\n{stderr}");
    let s = summary(&json);
    assert_eq!(s["passed"], false);
    assert_eq!(s["joined"], 6, "everyone got in: {s:#}");
    assert_eq!(
        s["contract_violations"], 0,
        "a lost frame breaks no ordering rule"
    );
    assert_eq!(s["roster_mismatches"], 1, "{s:#}");
    let m = &s["mismatches"][0];
    assert_eq!(m["missing"].as_array().unwrap().len(), 1, "{m:#}");
    assert_eq!(m["unexpected"].as_array().unwrap().len(), 0, "{m:#}");
    let who = m["participant"].as_str().unwrap();
    let missed = m["missing"][0].as_str().unwrap();
    assert!(
        stdout.contains(&format!(
            "{who} in {}: never told of {missed}",
            m["session"].as_str().unwrap()
        )),
        "{stdout}"
    );
    assert!(stdout.contains("verdict: FAIL (exit 10)"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_plans_unreachable_servers_and_wrong_tokens_exit_2_with_a_reason() {
    let server = support::server().await;
    let url = server.ws_url();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let unreachable = format!("ws://{closed}/ws");
    let base = |server: &str, token: &str, n: &str, k: &str| -> Vec<String> {
        [
            "--server",
            server,
            "--admin-token",
            token,
            "--sessions",
            n,
            "--per-session",
            k,
        ]
        .map(str::to_owned)
        .to_vec()
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (base(&url, "admin", "0", "3"), "--sessions 0: at least 1"),
        (base(&url, "admin", "2", "1000000"), "--per-session 1000000"),
        (
            base(&url, "admin", "1000", "1000"),
            "at most 200000 in one load process",
        ),
        (
            base(&url, "admin", "2", "99999999999999999999999"),
            "invalid value",
        ),
        (
            [
                base(&url, "admin", "1", "1"),
                vec!["--duration".into(), "ten".into()],
            ]
            .concat(),
            "--duration \"ten\": a duration such as 30s",
        ),
        (
            [
                base(&url, "admin", "1", "1"),
                vec!["--churn".into(), "lots".into()],
            ]
            .concat(),
            "--churn \"lots\": a rate such as",
        ),
        (base(&unreachable, "admin", "1", "1"), "cannot reach"),
        (base(&url, "wrong", "1", "1"), "refused the admin token"),
        (
            ["--server", &url, "--sessions", "1", "--per-session", "1"]
                .map(str::to_owned)
                .to_vec(),
            "admin token",
        ),
    ];
    for (args, says) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = load(&args).await;
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stdout}\n{stderr}");
        assert!(
            stderr.contains(says),
            "{args:?}: expected {says:?} in: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?}: nothing on stdout: {stdout}");
    }
    assert!(
        server.hub.sessions().is_empty(),
        "no refused run joined anyone"
    );
}

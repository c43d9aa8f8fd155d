//! `calltop load --backend janus` as a process against a real Janus 1.1.2
//! on 127.0.0.1 (started for the test from `assets/janus/`): rooms created
//! by the participants, churn and drops (claimed back within Janus's reclaim
//! window), and every roster checked against `listparticipants`.
//!
//! Without a `janus` binary this fails in CI (`.ci/run` installs it) and
//! skips with a message elsewhere, as tests/janus.rs does.

mod janus_support;

use janus_support::{JanusOptions, require_janus};
use serde_json::Value;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_small_fleet_on_janus_with_churn_and_drops_passes_every_check() {
    let Some(janus) = require_janus(JanusOptions::default()).await else {
        return;
    };
    let dir = std::env::temp_dir().join(format!("calltop-load-janus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("summary.json");
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_calltop"))
        .args(["load", "--headless", "--backend", "janus", "--server"])
        .arg(janus.ws_url())
        .args([
            "--janus-create-room",
            "--first-room",
            "7100",
            "--sessions",
            "2",
            "--per-session",
            "3",
            "--ramp",
            "30/s",
            "--duration",
            "3s",
            "--churn",
            "2/s",
            "--drop",
            "2/s",
            "--seed",
            "11",
            "--json",
        ])
        .arg(&json)
        .env("HOME", std::env::temp_dir())
        .env_remove("XDG_CONFIG_HOME")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(std::time::Duration::from_secs(120), run)
        .await
        .expect("load finished within two minutes")
        .expect("calltop runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let s: Value = serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(s["backend"], "janus");
    assert_eq!(s["joined"], 6, "{s:#}");
    assert_eq!(s["contract_violations"], 0, "{s:#}");
    assert_eq!(s["roster_mismatches"], 0, "{s:#}");
    assert!(s["churned"].as_u64().unwrap() > 0, "{s:#}");
    assert!(s["drops"].as_u64().unwrap() > 0, "{s:#}");
    assert!(stdout.contains("verdict: pass (exit 0)"), "{stdout}");
}

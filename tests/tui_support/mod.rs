//! Shared by the dashboard's tmux tests: a detached tmux session on its own
//! socket, read with capture-pane, and waits that poll with a deadline.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

pub const WAIT: Duration = Duration::from_secs(20);

pub fn have_tmux(test: &str) -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "tmux is required in CI (.ci/run installs it)"
        );
        eprintln!("{test}: skipped, tmux is not installed");
    }
    ok
}

/// Polls `f` until it returns `Some`, or panics with `what` and the last state.
pub fn eventually<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + WAIT;
    loop {
        match f() {
            Ok(v) => return v,
            Err(last) if Instant::now() >= deadline => {
                panic!("timed out after {WAIT:?} waiting for {what}; last seen:\n{last}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

/// A detached tmux session on its own server socket, running one command.
pub struct Tmux {
    pub socket: String,
}

impl Tmux {
    pub fn start(name: &str, width: u16, height: u16, args: &[String]) -> Tmux {
        let socket = format!("calltop-e2e-{}-{name}", std::process::id());
        let conf = std::env::temp_dir().join(format!("{socket}.conf"));
        // Keep the pane after the process exits, to read its exit status.
        std::fs::write(&conf, "set -g remain-on-exit on\nset -g status off\n").unwrap();
        let status = Command::new("tmux")
            .args(["-L", &socket, "-f"])
            .arg(&conf)
            .args(["new-session", "-d", "-s", "e2e", "-x"])
            .arg(width.to_string())
            .arg("-y")
            .arg(height.to_string())
            .arg("--")
            .args(args)
            .status()
            .unwrap();
        assert!(status.success(), "tmux new-session failed");
        Tmux { socket }
    }

    pub fn tmux(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-t", "e2e"])
    }

    pub fn keys(&self, keys: &str) {
        self.tmux(&["send-keys", "-t", "e2e", keys]);
    }

    /// Waits until the screen satisfies `pred`; returns that screen.
    pub fn wait(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        eventually(what, || {
            let s = self.screen();
            if pred(&s) { Ok(s) } else { Err(s) }
        })
    }

    pub fn wait_for(&self, text: &str) -> String {
        self.wait(&format!("{text:?} on screen"), |s| s.contains(text))
    }

    pub fn pane(&self, format: &str) -> String {
        self.tmux(&["display-message", "-p", "-t", "e2e", format])
            .trim()
            .to_owned()
    }

    pub fn pid(&self) -> u32 {
        self.pane("#{pane_pid}").parse().unwrap()
    }

    /// Waits for the process in the pane (`pid`) to exit; its exit status.
    pub fn wait_exit(&self, pid: u32) -> i32 {
        eventually("the process to exit", || {
            if let Ok(code) = self.pane("#{pane_dead_status}").parse() {
                return Ok(code);
            }
            // tmux 3.3 sometimes marks the pane dead without reaping the
            // process for a long while; the zombie still has its status.
            if self.pane("#{pane_dead}") == "1"
                && let Some(code) = zombie_status(pid)
            {
                return Ok(code);
            }
            Err(self.screen())
        })
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
        let _ = std::fs::remove_file(std::env::temp_dir().join(format!("{}.conf", self.socket)));
    }
}

/// The exit status of `pid` if it is a zombie (from /proc/PID/stat, field 52).
pub fn zombie_status(pid: u32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    if rest.first() != Some(&"Z") {
        return None;
    }
    let wait_status: i32 = rest.get(52 - 3)?.parse().ok()?;
    Some((wait_status >> 8) & 0xff)
}

pub fn gone(pid: u32) -> bool {
    // Exited, or a zombie nobody has reaped yet.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
    }
}

/// Resident and peak resident memory of `pid`, in KiB.
pub fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// CPU time used so far by every thread of `pid`.
pub fn cpu_time(pid: u32) -> Duration {
    let mut ns = 0u64;
    if let Ok(rd) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            if let Ok(s) = std::fs::read_to_string(t.path().join("schedstat")) {
                ns += s
                    .split_whitespace()
                    .next()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
            }
        }
    }
    Duration::from_nanos(ns)
}

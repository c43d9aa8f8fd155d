//! End to end: the real `calltop` binary in a detached tmux session of fixed
//! size, against a reference server started by the test. The screen is read
//! with `capture-pane`, polled until what we expect shows up (every wait has a
//! deadline; nothing sleeps as a substitute for checking).
//!
//! tmux is installed by `.ci/run`; without it (and outside CI) these tests
//! say so and pass.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

mod tui_support;

use calltop::demo::Relay;
use calltop::server::{self, ServerConfig, ServerHandle};
use tui_support::{Tmux, WAIT, eventually, gone, have_tmux};

const TOKEN: &str = "e2e-admin-token";

/// The reference server (and a relay in front of it, our "network"), on
/// their own tokio runtime while the test thread drives tmux.
struct World {
    rt: tokio::runtime::Runtime,
    server: Option<ServerHandle>,
    relay: Option<Relay>,
    dir: PathBuf,
}

impl World {
    fn start(name: &str) -> World {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let (server, relay) = rt.block_on(async {
            let server = server::start(ServerConfig {
                listen: SocketAddr::from(([127, 0, 0, 1], 0)),
                admin_token: Some(TOKEN.into()),
                // Long, so "not listed" can only mean we left, not that a slot expired.
                resume_window: Duration::from_secs(120),
                ..ServerConfig::default()
            })
            .await
            .unwrap();
            let relay = Relay::start(server.addr).await.unwrap();
            (server, relay)
        });
        let dir = std::env::temp_dir().join(format!("calltop-e2e-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // Retry for long enough that the overlay stays until the test restores
        // the network, and keep the idle countdown far away.
        std::fs::write(
            dir.join("config.toml"),
            "[reconnect]\nmax_attempts = 1000\nmax_delay_ms = 500\n\n\
             [session]\nidle_timeout_secs = 600\n",
        )
        .unwrap();
        World {
            rt,
            server: Some(server),
            relay: Some(relay),
            dir,
        }
    }

    fn server(&self) -> &ServerHandle {
        self.server.as_ref().unwrap()
    }

    fn relay(&self) -> &Relay {
        self.relay.as_ref().unwrap()
    }

    fn args(&self, session: &str, user: &str) -> Vec<String> {
        vec![
            env!("CARGO_BIN_EXE_calltop").into(),
            "--server".into(),
            self.relay().ws_url(),
            "--session".into(),
            session.into(),
            "--user".into(),
            user.into(),
            "--config".into(),
            self.dir.join("config.toml").display().to_string(),
        ]
    }

    /// One admin API call over plain HTTP/1.1: (status, body).
    fn http(&self, method: &str, path: &str) -> (u16, String) {
        let addr = self.server().addr;
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(WAIT)).unwrap();
        write!(
            s,
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        let status = response
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// Whether GET /api/sessions lists `user` in `session` (and if connected).
    fn listed(&self, session: &str, user: &str) -> Option<bool> {
        let (status, body) = self.http("GET", "/api/sessions");
        assert_eq!(status, 200, "{body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["sessions"]
            .as_array()?
            .iter()
            .filter(|s| s["id"] == session)
            .flat_map(|s| s["participants"].as_array().cloned().unwrap_or_default())
            .find(|p| p["user"] == user)
            .map(|p| p["connected"] == true)
    }

    fn wait_listed(&self, session: &str, user: &str, want: Option<bool>) {
        eventually(&format!("{user} listed as {want:?}"), || {
            let got = self.listed(session, user);
            if got == want {
                Ok(())
            } else {
                Err(format!("{got:?}"))
            }
        });
    }
}

impl Drop for World {
    fn drop(&mut self) {
        if let Some(r) = self.relay.take() {
            r.shutdown();
        }
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

#[test]
fn leave_rejoin_lose_the_connection_and_quit() {
    if !have_tmux("leave_rejoin_lose_the_connection_and_quit") {
        return;
    }
    let world = World::start("main");
    let tmux = Tmux::start("main", 100, 30, &world.args("e2e", "alice"));

    // Joined, and alone: the idle countdown shows.
    tmux.wait("joined, alone", |s| {
        s.contains(" JOINED ") && s.contains("e2e as alice") && s.contains("alone · leaving in")
    });
    world.wait_listed("e2e", "alice", Some(true));

    // Leave with l: the badge says so and the server no longer has us.
    tmux.keys("l");
    tmux.wait("left", |s| {
        s.contains(" LEFT ") && s.contains("you left · j to join again")
    });
    world.wait_listed("e2e", "alice", None);

    // Leaving again makes no sense: the log says why.
    tmux.keys("l");
    tmux.wait_for("can't leave: not in a session (join first)");

    // Rejoin with j.
    tmux.keys("j");
    tmux.wait_for(" JOINED ");
    world.wait_listed("e2e", "alice", Some(true));

    // The server drops our connection (admin API): lost, then restored at once.
    let (status, body) = world.http("POST", "/api/sessions/e2e/drop/alice");
    assert_eq!(status, 200, "{body}");
    tmux.wait_for("connection lost: ");
    tmux.wait("the restore", |s| {
        s.contains("connection restored after")
            && s.contains("drops    1×")
            && s.contains(" JOINED ")
    });

    // The network goes down: the reconnect overlay, counting attempts…
    world.relay().set_up(false);
    // (Everything checked on one screen is in the predicate: a capture can
    // catch a frame half written.)
    tmux.wait("the reconnect overlay", |s| {
        s.contains("RECONNECTING")
            && s.contains("connection lost ─")
            && s.contains(" of 1000")
            && s.contains("down for")
            && s.contains("r reconnect now · l leave · q quit")
    });
    // …until it comes back: the overlay goes, the call goes on.
    world.relay().set_up(true);
    tmux.wait("the overlay to go", |s| {
        s.contains(" JOINED ") && !s.contains("down for") && s.contains("drops    2×")
    });
    world.wait_listed("e2e", "alice", Some(true));

    // Help, and Esc closes it.
    tmux.keys("?");
    tmux.wait_for("Ctrl-C");
    tmux.keys("Escape");
    tmux.wait("help to close", |s| !s.contains("Ctrl-C"));

    // Quit: leaves first, exits 0, the terminal is back to normal.
    let pid = tmux.pid();
    tmux.keys("q");
    assert_eq!(tmux.wait_exit(pid), 0);
    world.wait_listed("e2e", "alice", None);
    assert_eq!(tmux.pane("#{alternate_on}"), "0");
    assert!(!tmux.screen().contains(" calltop "));
}

#[test]
fn sigterm_leaves_the_session_and_restores_the_terminal() {
    if !have_tmux("sigterm_leaves_the_session_and_restores_the_terminal") {
        return;
    }
    let world = World::start("term");
    let tmux = Tmux::start("term", 100, 30, &world.args("e2e-term", "bob"));
    tmux.wait_for(" JOINED ");
    world.wait_listed("e2e-term", "bob", Some(true));
    let pid = tmux.pid();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    assert_eq!(tmux.wait_exit(pid), 0);
    world.wait_listed("e2e-term", "bob", None);
    assert_eq!(tmux.pane("#{alternate_on}"), "0");
    assert!(!tmux.screen().contains(" calltop "));
}

#[test]
fn a_hangup_leaves_the_session() {
    if !have_tmux("a_hangup_leaves_the_session") {
        return;
    }
    let world = World::start("hup");
    let tmux = Tmux::start("hup", 100, 30, &world.args("e2e-hup", "carol"));
    tmux.wait_for(" JOINED ");
    world.wait_listed("e2e-hup", "carol", Some(true));
    let pid = tmux.pid();
    // As when the ssh connection dies: the terminal goes away under us.
    tmux.tmux(&["kill-server"]);
    eventually("the process to exit", || {
        if gone(pid) {
            Ok(())
        } else {
            Err(format!("pid {pid} still running"))
        }
    });
    // Left, not merely disconnected (a dropped slot would stay listed).
    world.wait_listed("e2e-hup", "carol", None);
}

#[test]
fn the_dashboard_fits_80x24_and_says_when_the_terminal_is_too_small() {
    if !have_tmux("the_dashboard_fits_80x24_and_says_when_the_terminal_is_too_small") {
        return;
    }
    let world = World::start("size");
    let tmux = Tmux::start("size", 80, 24, &world.args("e2e-size", "dave"));
    tmux.wait("the whole dashboard at 80x24", |s| {
        [" JOINED ", "Call", "Participants", "Events", "q quit"]
            .iter()
            .all(|part| s.contains(part))
    });
    tmux.tmux(&["resize-window", "-t", "e2e", "-x", "60", "-y", "20"]);
    tmux.wait_for("terminal too small");
    tmux.tmux(&["resize-window", "-t", "e2e", "-x", "80", "-y", "24"]);
    tmux.wait_for("Participants");
    let pid = tmux.pid();
    tmux.keys("q");
    assert_eq!(tmux.wait_exit(pid), 0);
    world.wait_listed("e2e-size", "dave", None);
}

#[test]
fn a_terminal_that_dies_without_a_sighup_still_ends_the_session() {
    if !have_tmux("a_terminal_that_dies_without_a_sighup_still_ends_the_session") {
        return;
    }
    let world = World::start("nohup");
    // The shell leads the session and ignores SIGHUP, so when the terminal
    // goes away no signal reaches calltop: only its dead terminal tells.
    let status_file = world.dir.join("status");
    let quoted: Vec<String> = world
        .args("e2e-nohup", "erin")
        .iter()
        .map(|a| format!("'{a}'"))
        .collect();
    let script = format!(
        "trap '' HUP; {}; echo $? > '{}'",
        quoted.join(" "),
        status_file.display()
    );
    let tmux = Tmux::start("nohup", 100, 30, &["sh".into(), "-c".into(), script]);
    tmux.wait_for(" JOINED ");
    world.wait_listed("e2e-nohup", "erin", Some(true));
    // If calltop outlives the test (the bug this is about), it must not spin on.
    let sh = tmux.pid();
    let children =
        std::fs::read_to_string(format!("/proc/{sh}/task/{sh}/children")).unwrap_or_default();
    let _reaper = KillOnDrop(
        children
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
    );
    tmux.tmux(&["kill-server"]);
    let status = eventually("calltop to exit and the shell to record its status", || {
        std::fs::read_to_string(&status_file)
            .ok()
            .filter(|s| s.ends_with('\n'))
            .ok_or_else(|| "no status yet".to_owned())
    });
    // Exited cleanly (not 101, a panic on the dead terminal)…
    assert_eq!(status.trim(), "0");
    // …and left, not merely disconnected.
    world.wait_listed("e2e-nohup", "erin", None);
}

/// Kills these processes (by pid) when dropped, if they are still there.
struct KillOnDrop(Vec<u32>);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        for pid in &self.0 {
            if !gone(*pid) {
                let _ = Command::new("kill").arg(pid.to_string()).status();
            }
        }
    }
}

#[test]
fn pasted_text_is_not_taken_for_keys() {
    if !have_tmux("pasted_text_is_not_taken_for_keys") {
        return;
    }
    let world = World::start("paste");
    let tmux = Tmux::start("paste", 100, 30, &world.args("e2e-paste", "pat"));
    tmux.wait_for(" JOINED ");
    world.wait_listed("e2e-paste", "pat", Some(true));
    // A paste holding the leave and quit keys: tmux sends it bracketed,
    // as the dashboard asked (`-p`).
    tmux.tmux(&["set-buffer", "-b", "p", "hello l q world"]);
    tmux.tmux(&["paste-buffer", "-p", "-b", "p", "-t", "e2e"]);
    // A real key after it proves the paste has been read.
    tmux.keys("?");
    tmux.wait_for("help");
    let screen = tmux.screen();
    assert!(screen.contains(" JOINED "), "still in the call:\n{screen}");
    world.wait_listed("e2e-paste", "pat", Some(true));
    tmux.keys("q");
    assert_eq!(tmux.wait_exit(tmux.pid()), 0);
}

/// The value on the call panel's row labelled `label`, if it is on screen.
fn call_value(screen: &str, label: &str) -> Option<String> {
    let start = format!("│ {label:<9}");
    screen.lines().find_map(|l| {
        let rest = l.strip_prefix(&start)?;
        Some(rest.split('│').next().unwrap_or("").trim_end().to_owned())
    })
}

/// A round trip measured on the connection we have: a number, not history.
fn live_rtt(screen: &str) -> bool {
    call_value(screen, "rtt").is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit()))
}

/// The reconnect overlay is up, and on each of its rows nothing but panel
/// frames (a top border may carry its title) is drawn beside it: no bits
/// of the lines it covers. `Err` says what is there.
fn overlay_alone_on_its_rows(screen: &str) -> Result<(), String> {
    let rows: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let top = rows
        .iter()
        .position(|r| r.iter().collect::<String>().contains(" connection lost ─"))
        .ok_or("no overlay")?;
    let left = rows[top]
        .iter()
        .skip(1)
        .position(|c| *c == '┌')
        .ok_or("no corner")?
        + 1;
    let right = rows[top]
        .iter()
        .rposition(|c| *c == '┐')
        .ok_or("no corner")?;
    let bottom = (top..rows.len())
        .find(|&y| rows[y].get(left) == Some(&'└'))
        .ok_or("no bottom")?;
    for row in &rows[top..=bottom] {
        for side in [&row[..left], row.get(right + 1..).unwrap_or(&[])] {
            let frame_only =
                side.first() == Some(&'┌') || side.iter().all(|c| " │─┌┐└┘".contains(*c));
            if !frame_only {
                return Err(format!(
                    "{:?} beside the overlay",
                    side.iter().collect::<String>()
                ));
            }
        }
    }
    Ok(())
}

#[test]
fn an_outage_shows_what_was_as_history_and_nothing_beside_the_overlay() {
    if !have_tmux("an_outage_shows_what_was_as_history_and_nothing_beside_the_overlay") {
        return;
    }
    let world = World::start("stale");
    let tmux = Tmux::start("stale", 80, 24, &world.args("e2e-stale", "frank"));
    tmux.wait("joined, with a round trip measured", |s| {
        s.contains(" JOINED ") && live_rtt(s)
    });
    world.relay().set_up(false);
    tmux.wait("the overlay, alone on its rows", |s| {
        s.contains("down for") && overlay_alone_on_its_rows(s).is_ok()
    });
    // Hidden, to see the call panel: down, the last round trip is history.
    tmux.keys("Escape");
    tmux.wait("the round trip as history while down", |s| {
        s.contains("RECONNECTING")
            && !s.contains("down for")
            && call_value(s, "rtt").is_some_and(|v| v.starts_with("last "))
    });
    world.relay().set_up(true);
    // Back: the drop's reason is the last error now, with its time.
    tmux.wait("the restore, the drop as history", |s| {
        s.contains(" JOINED ")
            && call_value(s, "error").is_some_and(|v| v.starts_with("last ") && v.contains(':'))
    });
    tmux.wait("a round trip on the new connection", live_rtt);
    // Left: no heartbeat is "yet" to come; the last is history.
    tmux.keys("l");
    tmux.wait("left, the call as history", |s| {
        s.contains(" LEFT ")
            && call_value(s, "rtt").is_some_and(|v| v.starts_with("last "))
            && !s.contains("no heartbeat yet")
    });
    world.wait_listed("e2e-stale", "frank", None);
    let pid = tmux.pid();
    tmux.keys("q");
    assert_eq!(tmux.wait_exit(pid), 0);
}

/// `args` run with the environment a test controls: no RUST_LOG or colour
/// variables from whoever runs the tests.
fn clean_env(args: Vec<String>) -> Vec<String> {
    let mut all: Vec<String> = [
        "env",
        "-u",
        "RUST_LOG",
        "-u",
        "NO_COLOR",
        "-u",
        "CLICOLOR_FORCE",
    ]
    .map(String::from)
    .into();
    all.extend(args);
    all
}

#[test]
fn log_file_receives_diagnostics_while_the_dashboard_runs() {
    if !have_tmux("log_file_receives_diagnostics_while_the_dashboard_runs") {
        return;
    }
    let world = World::start("logfile");
    let log = world.dir.join("diagnostics.log");
    let mut args = world.args("e2e-log", "gina");
    args.extend(["--log-file".into(), log.display().to_string()]);
    let tmux = Tmux::start("logfile", 100, 30, &clean_env(args));
    tmux.wait_for(" JOINED ");
    let read = || std::fs::read_to_string(&log).unwrap_or_default();
    // While it runs: the session's events, as diagnostics, in the file.
    eventually("the join in the log file", || {
        let text = read();
        if text.contains("calltop::session") && text.contains("session_joined") {
            Ok(())
        } else {
            Err(text)
        }
    });
    let (status, body) = world.http("POST", "/api/sessions/e2e-log/drop/gina");
    assert_eq!(status, 200, "{body}");
    eventually("the drop in the log file", || {
        let text = read();
        if text.contains("connection_lost") && text.contains("connection_restored") {
            Ok(())
        } else {
            Err(text)
        }
    });
    let text = read();
    assert!(
        !text.contains('\u{1b}'),
        "no terminal codes in a file: {text}"
    );
    // The dashboard's own log stays as it was: events in words, not diagnostics.
    let screen = tmux.wait_for("connection restored after");
    assert!(!screen.contains("calltop::session"), "{screen}");
    let pid = tmux.pid();
    tmux.keys("q");
    assert_eq!(tmux.wait_exit(pid), 0);
}

/// Whether an SGR sequence in `screen` (tmux capture-pane -e) sets a colour
/// (39 and 49 put the terminal's own colours back: not a colour).
fn has_colour_codes(screen: &str) -> bool {
    screen.split("\u{1b}[").skip(1).any(|seq| {
        let Some(end) = seq.find(|c: char| !(c.is_ascii_digit() || c == ';')) else {
            return false;
        };
        seq[end..].starts_with('m')
            && seq[..end]
                .split(';')
                .filter_map(|p| p.parse::<u16>().ok())
                .any(|p| matches!(p, 30..=38 | 40..=48 | 90..=97 | 100..=107))
    })
}

#[test]
fn color_never_draws_the_dashboard_without_colour() {
    if !have_tmux("color_never_draws_the_dashboard_without_colour") {
        return;
    }
    let world = World::start("colour");
    for (when, coloured) in [("auto", true), ("never", false)] {
        let mut args = world.args(&format!("e2e-colour-{when}"), "hal");
        args.extend(["--color".into(), when.into()]);
        let tmux = Tmux::start(&format!("colour-{when}"), 100, 30, &clean_env(args));
        tmux.wait_for(" JOINED ");
        let screen = tmux.tmux(&["capture-pane", "-e", "-p", "-t", "e2e"]);
        assert_eq!(
            has_colour_codes(&screen),
            coloured,
            "--color {when}:\n{screen:?}"
        );
        if coloured {
            // Muted labels in grey 246, which Solarized Dark does not hide.
            assert!(screen.contains("38;5;246"), "{screen:?}");
        }
        let pid = tmux.pid();
        tmux.keys("q");
        assert_eq!(tmux.wait_exit(pid), 0);
    }
}

#[test]
fn a_panic_restores_the_terminal_then_says_where_the_crash_report_is() {
    if !have_tmux("a_panic_restores_the_terminal_then_says_where_the_crash_report_is") {
        return;
    }
    let world = World::start("crash");
    let state = world.dir.join("state");
    let mut calltop = world.args("e2e-crash", "ivan");
    calltop.extend(["--token".into(), "tok-very-secret".into()]);
    // The shell reports calltop's exit status, then the terminal's modes:
    // after a crash they must be the ordinary ones again (no raw mode).
    let mut args: Vec<String> = [
        "sh",
        "-c",
        r#""$@"; echo "exit status $?"; stty -a"#,
        "sh",
        "env",
        "-u",
        "RUST_LOG",
    ]
    .map(String::from)
    .into();
    args.push(format!("XDG_STATE_HOME={}", state.display()));
    // The hidden, deliberate crash (src/crash.rs, panic_if_asked), right
    // after the dashboard's first frame.
    args.push("__CALLTOP_PANIC_FOR_TESTS=crash calltop now".into());
    args.extend(calltop);
    let tmux = Tmux::start("crash", 100, 40, &args);
    let screen = tmux.wait_for("exit status 101");
    assert_eq!(tmux.pane("#{alternate_on}"), "0", "{screen}");
    let words: Vec<&str> = screen.split_whitespace().collect();
    assert!(
        words.contains(&"icanon") && words.contains(&"echo") && !words.contains(&"-icanon"),
        "the terminal is still raw:\n{screen}"
    );
    assert!(
        !screen.contains("Participants"),
        "the dashboard is gone:\n{screen}"
    );
    let unwrapped = screen.replace('\n', "");
    assert!(
        screen.contains("calltop crashed: this is a bug in calltop"),
        "{screen}"
    );
    assert!(unwrapped.contains("Please report it at"), "{screen}");
    let dir = state.join("calltop");
    assert!(
        unwrapped.contains(&format!("A crash report is in {}/crash-", dir.display())),
        "{screen}"
    );
    let reports: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = std::fs::read_to_string(reports[0].path()).unwrap();
    for needle in [
        concat!("version: calltop ", env!("CARGO_PKG_VERSION")),
        "a crash asked for by __CALLTOP_PANIC_FOR_TESTS",
        "src/crash.rs",
        "backtrace:",
        "--token ***",
        "--user ivan",
    ] {
        assert!(report.contains(needle), "no {needle:?} in:\n{report}");
    }
    assert!(!report.contains("tok-very-secret"), "{report}");
}

#[test]
fn fault_keys_inject_and_the_dashboard_marks_what_they_cause() {
    if !have_tmux("fault_keys_inject_and_the_dashboard_marks_what_they_cause") {
        return;
    }
    let world = World::start("faults");
    // Refusals enough for the overlay to stay a few seconds.
    std::fs::write(
        world.dir.join("config.toml"),
        "[reconnect]\nmax_attempts = 1000\nmax_delay_ms = 500\n\n\
         [session]\nidle_timeout_secs = 600\n\n[faults]\nrefuse_attempts = 20\n",
    )
    .unwrap();
    let tmux = Tmux::start("faults", 100, 30, &world.args("e2e-f", "alice"));
    tmux.wait_for(" JOINED ");
    // Refuse the next attempts, then cut the cable.
    tmux.keys("X");
    tmux.wait_for("injected fault: refuse the next 20 connection attempts");
    tmux.keys("D");
    tmux.wait("the injected outage", |s| {
        s.contains("RECONNECTING")
            && s.contains("connection lost [injected] ─")
            && s.contains("injected on purpose: not a real outage")
            && s.contains(" FAULT refuse")
    });
    tmux.wait("the restore", |s| {
        s.contains(" JOINED ") && s.contains("injected refusals used up") && !s.contains("FAULT")
    });
    // The settings in force, and Esc closes them.
    tmux.keys("s");
    tmux.wait("the settings panel", |s| {
        s.contains("settings in force") && s.contains("1000 attempts") && s.contains("last heard")
    });
    tmux.keys("Escape");
    tmux.wait("the panel to close", |s| !s.contains("settings in force"));
    let pid = tmux.pid();
    tmux.keys("q");
    assert_eq!(tmux.wait_exit(pid), 0);
}

#[test]
fn with_no_faults_the_fault_keys_say_they_are_off() {
    if !have_tmux("with_no_faults_the_fault_keys_say_they_are_off") {
        return;
    }
    let world = World::start("nofaults");
    let mut args = world.args("e2e-nf", "alice");
    args.push("--no-faults".into());
    let tmux = Tmux::start("nofaults", 100, 30, &args);
    tmux.wait_for(" JOINED ");
    tmux.keys("D");
    tmux.wait_for("can't fault drop: fault injection is off here");
    assert!(!tmux.screen().contains("RECONNECTING"));
    let pid = tmux.pid();
    tmux.keys("q");
    assert_eq!(tmux.wait_exit(pid), 0);
}

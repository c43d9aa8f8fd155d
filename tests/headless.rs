//! `calltop --headless` as a process: NDJSON on stdout, commands on stdin,
//! signals, exit statuses.

mod support;

use std::process::Stdio;

use calltop::engine::ContractChecker;
use calltop::event::SessionEvent;
use calltop::protocol::{ClientFrame, ServerFrame};
use serde_json::Value;
use support::{WAIT, eventually, http, listed_users, server};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

struct Headless {
    child: Child,
    stdin: Option<ChildStdin>,
    /// Our end of calltop's stdout; `None` once we closed it.
    out: Option<Lines<BufReader<ChildStdout>>>,
    checker: ContractChecker,
    pub lines: Vec<Value>,
    /// The same lines as calltop wrote them.
    pub raw: Vec<String>,
}

fn command(args: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_calltop"));
    c.args(args)
        .env_remove("RUST_LOG")
        // Fast retries so failure paths end quickly; a real user keeps the defaults.
        .env("CALLTOP_RECONNECT__INITIAL_DELAY_MS", "20")
        .env("CALLTOP_RECONNECT__MAX_DELAY_MS", "50")
        .env("CALLTOP_RECONNECT__MAX_ATTEMPTS", "3")
        .env("CALLTOP_CONNECTION__CONNECT_TIMEOUT_MS", "500")
        // No user config file from the machine running the tests.
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    c
}

/// The last few of many event names, for failure messages.
fn tail(names: &[String]) -> String {
    let skip = names.len().saturating_sub(8);
    format!("{} events, ending {:?}", names.len(), &names[skip..])
}

impl Headless {
    fn start(url: &str, user: &str, extra: &[&str], stdin: bool) -> Headless {
        let mut args = vec![
            "--headless",
            "--server",
            url,
            "--session",
            "room",
            "--user",
            user,
        ];
        args.extend_from_slice(extra);
        let mut child = command(&args)
            .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
            .spawn()
            .unwrap();
        let out = Some(BufReader::new(child.stdout.take().unwrap()).lines());
        Headless {
            stdin: child.stdin.take(),
            child,
            out,
            checker: ContractChecker::new(),
            lines: Vec::new(),
            raw: Vec::new(),
        }
    }

    /// Reads lines until one with event `name`; returns the event names read.
    async fn until(&mut self, name: &str) -> Vec<String> {
        let mut names = Vec::new();
        loop {
            let out = self.out.as_mut().expect("stdout is still open");
            let line = tokio::time::timeout(WAIT, out.next_line())
                .await
                .unwrap_or_else(|_| panic!("no {name} within {WAIT:?}; got {}", tail(&names)))
                .unwrap()
                .unwrap_or_else(|| panic!("stdout ended before {name}; got {}", tail(&names)));
            let v: Value =
                serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            let ts = v["ts"].as_str().expect("ts");
            assert!(
                ts.len() == 24 && ts.ends_with('Z') && ts.as_bytes()[19] == b'.',
                "ts is RFC 3339 UTC with milliseconds: {ts}"
            );
            assert_eq!(v["session"], "room", "{line}");
            let parsed = SessionEvent::from_ndjson(&line)
                .unwrap_or_else(|e| panic!("not an event line ({e}): {line}"));
            assert!(
                !parsed.no_offset,
                "every line has its offset (t_ms): {line}"
            );
            let event = parsed.event.kind.name().to_owned();
            assert_eq!(v["event"], event, "{line}");
            self.checker
                .observe(&parsed.event.kind)
                .unwrap_or_else(|e| panic!("{e}"));
            self.lines.push(v);
            self.raw.push(line);
            names.push(event.clone());
            if event == name {
                return names;
            }
        }
    }

    async fn send(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin is piped");
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
        stdin.flush().await.unwrap();
    }

    /// The reader goes away: our end of the pipe is closed.
    fn close_stdout(&mut self) {
        self.out = None;
    }

    fn signal(&self, sig: &str) {
        let pid = self.child.id().expect("running").to_string();
        let ok = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap();
        assert!(ok.success());
    }

    async fn exit_code(mut self) -> i32 {
        let status = tokio::time::timeout(WAIT, self.child.wait())
            .await
            .expect("calltop exits")
            .unwrap();
        status.code().expect("exited, not killed by a signal")
    }

    fn last(&self) -> &Value {
        self.lines.last().unwrap()
    }
}

#[tokio::test]
async fn stdin_leave_ends_with_status_0_and_events_follow_the_contract() {
    let srv = server().await;
    let mut h = Headless::start(&srv.ws_url(), "alice", &[], true);
    assert_eq!(
        h.until("idle_countdown_started").await,
        [
            "run_started",
            "connecting",
            "session_joined",
            "server_info",
            "idle_countdown_started"
        ]
    );
    // What the output is of, with the settings in force (from the environment here).
    let run = &h.lines[0]["run"];
    assert_eq!(run["backend"], "calltop");
    assert_eq!(run["server"], srv.ws_url());
    assert_eq!(run["session"], "room");
    assert_eq!(run["user"], "alice");
    assert_eq!(run["settings"]["reconnect"]["max_attempts"], 3);
    assert_eq!(h.last()["user"], "alice");
    assert_eq!(h.last()["seconds"], 300);
    // An unknown command: a message on stderr, nothing on stdout. A
    // pointless one: a message on stderr and its refusal on stdout.
    h.send("dance").await;
    h.send("reconnect").await;
    h.send("leave").await;
    assert_eq!(
        h.until("session_left").await,
        ["command_refused", "leaving", "session_left"]
    );
    let n = h.lines.len();
    assert_eq!(h.lines[n - 3]["command"], "reconnect_now");
    assert_eq!(h.lines[n - 3]["reason"], "not_reconnecting");
    assert_eq!(h.lines[n - 2]["rejoin"], false);
    assert_eq!(h.last()["reason"], "user");
    let mut stderr = h.child.stderr.take().unwrap();
    assert_eq!(h.exit_code().await, 0);
    let mut text = String::new();
    stderr.read_to_string(&mut text).await.unwrap();
    assert!(text.contains(r#"unknown command "dance""#), "{text}");
    assert!(
        text.contains("calltop: reconnect now: not reconnecting"),
        "{text}"
    );
    assert!(listed_users(&srv, "room").await.is_empty());
}

#[tokio::test]
async fn sigint_and_sigterm_leave_the_session_before_exiting() {
    let srv = server().await;
    for (sig, user) in [("-INT", "int"), ("-TERM", "term")] {
        let mut h = Headless::start(&srv.ws_url(), user, &[], true);
        h.until("session_joined").await;
        assert_eq!(listed_users(&srv, "room").await, [user]);
        h.signal(sig);
        h.until("session_left").await;
        assert_eq!(h.last()["reason"], "user");
        assert_eq!(h.exit_code().await, 0, "{sig}");
        // Gone at once, not after the resume window: the leave reached the server.
        assert!(listed_users(&srv, "room").await.is_empty(), "{sig}");
    }
}

#[tokio::test]
async fn closed_stdin_is_not_a_command_and_the_call_goes_on() {
    let srv = server().await;
    let mut h = Headless::start(&srv.ws_url(), "alice", &["--verbose"], false);
    h.until("session_joined").await;
    // Heartbeats keep coming (only with --verbose) well after stdin hit EOF.
    h.until("heartbeat").await;
    h.until("heartbeat").await;
    assert_eq!(listed_users(&srv, "room").await, ["alice"]);
    h.signal("-TERM");
    h.until("session_left").await;
    assert_eq!(h.exit_code().await, 0);
}

#[tokio::test]
async fn each_outcome_has_its_own_exit_status() {
    let srv = server().await;

    let mut kicked = Headless::start(&srv.ws_url(), "bob", &[], true);
    kicked.until("session_joined").await;
    let (status, _) = http(
        srv.addr,
        "POST",
        "/api/sessions/room/kick/bob",
        Some("admin"),
    )
    .await;
    assert_eq!(status, 200);
    kicked.until("session_left").await;
    assert_eq!(kicked.last()["reason"], "removed");
    assert_eq!(kicked.exit_code().await, 4);

    let mut idle = Headless::start(&srv.ws_url(), "carol", &["--idle-timeout", "1"], true);
    idle.until("session_timed_out").await;
    assert_eq!(idle.exit_code().await, 3);

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut gone = Headless::start(&format!("ws://127.0.0.1:{port}/ws"), "dave", &[], true);
    gone.until("connection_closed").await;
    assert!(
        gone.last()["reason"]
            .as_str()
            .unwrap()
            .contains("unreachable")
    );
    assert_eq!(gone.exit_code().await, 5);
}

#[tokio::test]
async fn bad_usage_and_bad_config_exit_2_with_a_clear_message() {
    for (args, env, needle) in [
        (vec!["--headless", "--server", "http://x"], None, "server"),
        (vec!["--headless", "--frobnicate"], None, "--frobnicate"),
        (
            vec!["--headless", "--server", "ws://127.0.0.1:1/ws"],
            Some(("CALLTOP_RECONNECT__MAX_ATTEMPTS", "many")),
            "many",
        ),
        // No server configured: refused before the embedded server starts.
        (vec!["--headless", "--session", ""], None, "session"),
        (
            vec!["--headless", "--config", "/nonexistent/calltop.toml"],
            None,
            "/nonexistent/calltop.toml",
        ),
        (
            vec![
                "--headless",
                "--server",
                "ws://127.0.0.1:1/ws",
                "--idle-timeout",
                "-3",
            ],
            None,
            "-3",
        ),
        // Janus needs its server's URL; Janus options need the Janus backend.
        (
            vec!["--headless", "--backend", "janus"],
            None,
            "session.server",
        ),
        (
            vec![
                "--headless",
                "--server",
                "ws://127.0.0.1:1/ws",
                "--janus-pin",
                "1",
            ],
            None,
            "janus.pin",
        ),
    ] {
        let mut c = command(&args);
        if let Some((k, v)) = env {
            c.env(k, v);
        }
        let out = c.stdin(Stdio::null()).output().await.unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(out.stdout.is_empty(), "nothing on stdout for {args:?}");
    }
}

#[tokio::test]
async fn with_stay_it_waits_for_join_or_quit_after_the_session_ends() {
    let srv = server().await;
    let mut h = Headless::start(&srv.ws_url(), "erin", &["--stay"], true);
    h.until("session_joined").await;
    h.send("leave").await;
    h.until("session_left").await;
    h.send("join").await;
    assert_eq!(
        h.until("session_joined").await,
        ["connecting", "session_joined"]
    );
    eventually("erin back in the session", || async {
        listed_users(&srv, "room").await == ["erin"]
    })
    .await;
    h.send("quit").await;
    h.until("session_left").await;
    assert_eq!(h.exit_code().await, 0);
}

/// A server that answers the join, floods `n` participant joins, then answers
/// the leave: a burst far larger than the event channel.
async fn flooding_server(n: usize) -> String {
    flooding_server_watched(n).await.url
}

/// [`flooding_server`], and what it saw.
struct Flood {
    url: String,
    /// Every frame of the flood is written to calltop's socket.
    sent: tokio::sync::oneshot::Receiver<()>,
    /// calltop's leave arrived (it was answered).
    left: tokio::sync::oneshot::Receiver<()>,
}

async fn flooding_server_watched(n: usize) -> Flood {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (sent_tx, sent) = tokio::sync::oneshot::channel();
    let (left_tx, left) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _join = ws.next().await;
        let joined = r#"{"type":"joined","v":1,"session":"room","user":"alice","resumed":false,"resume_token":"t","resume_window_ms":30000,"participants":[]}"#;
        ws.send(Message::text(joined)).await.unwrap();
        let (mut tx, mut rx) = ws.split();
        tokio::spawn(async move {
            for i in 0..n {
                let f = format!(
                    r#"{{"type":"participant_joined","user":"p{i}","joined_at":"2026-11-26T10:00:00Z"}}"#
                );
                if tx.send(Message::text(f)).await.is_err() {
                    return;
                }
            }
            let _ = sent_tx.send(());
            // Heartbeats answered, so the connection holds however long the
            // leave takes to come.
            while let Some(Ok(Message::Text(t))) = rx.next().await {
                match serde_json::from_str(t.as_str()) {
                    Ok(ClientFrame::Leave) => {
                        let _ = tx.send(Message::text(r#"{"type":"left"}"#)).await;
                        let _ = left_tx.send(());
                        return;
                    }
                    Ok(ClientFrame::Ping { seq }) => {
                        let pong = serde_json::to_string(&ServerFrame::Pong { seq }).unwrap();
                        let _ = tx.send(Message::text(pong)).await;
                    }
                    _ => {}
                }
            }
        });
    });
    Flood {
        url: format!("ws://{addr}/ws"),
        sent,
        left,
    }
}

#[tokio::test]
async fn a_signal_during_an_event_flood_still_leaves_and_exits() {
    let url = flooding_server(5000).await;
    let mut h = Headless::start(&url, "alice", &[], true);
    h.until("participant_joined").await;
    // Not reading stdout for a moment lets the pipe and the event channel fill
    // up behind it (setting up the pressure, not waiting for anything); the
    // leave then arrives while thousands of events are queued.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    h.signal("-TERM");
    h.until("session_left").await;
    assert_eq!(h.last()["reason"], "user");
    assert_eq!(h.exit_code().await, 0);
}

#[tokio::test]
async fn diagnostics_on_a_pipe_carry_no_colour_codes() {
    let out = command(&["--headless", "--server", "ws://127.0.0.1:1/ws"])
        .env("RUST_LOG", "calltop=info")
        .stdin(Stdio::null())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("connecting"), "the log is there: {stderr}");
    assert!(!stderr.contains('\u{1b}'), "no ANSI escapes: {stderr:?}");
}

#[tokio::test]
async fn sigterm_while_stdout_is_blocked_leaves_and_exits_0() {
    let flood = flooding_server_watched(5000).await;
    // Our end of stdout is kept open and never read: 5000 events and the
    // heartbeats are far more than a pipe holds, so calltop's writes block
    // for good once it is full.
    let h = Headless::start(&flood.url, "alice", &["--verbose"], true);
    tokio::time::timeout(WAIT, flood.sent)
        .await
        .expect("the flood is sent")
        .unwrap();
    h.signal("-TERM");
    tokio::time::timeout(WAIT, flood.left)
        .await
        .expect("the server sees our leave although stdout is blocked")
        .unwrap();
    assert_eq!(h.exit_code().await, 0);
}

#[tokio::test]
async fn a_closed_stdout_leaves_the_session_and_exits_with_its_own_status() {
    let srv = server().await;
    let mut h = Headless::start(&srv.ws_url(), "alice", &["--verbose"], true);
    h.until("session_joined").await;
    assert_eq!(listed_users(&srv, "room").await, ["alice"]);
    // The reader goes away; the next line (a heartbeat, with --verbose) meets
    // a broken pipe.
    h.close_stdout();
    let mut stderr = h.child.stderr.take().unwrap();
    let code = h.exit_code().await;
    let mut text = String::new();
    stderr.read_to_string(&mut text).await.unwrap();
    assert_eq!(code, 8, "{text}");
    assert!(text.contains("cannot write to stdout"), "{text}");
    assert!(!text.contains("panicked"), "{text}");
    // Gone at once, not after the resume window: the leave reached the server.
    assert!(listed_users(&srv, "room").await.is_empty());
}

/// What a hostile server does once it has our join.
enum Then {
    /// Answer it, then close with this code and reason.
    Close(u16, &'static str),
    /// Answer it, then send this frame.
    Send(&'static str),
    /// Refuse it with this frame.
    Refuse(&'static str),
}

/// A server that takes one connection and does `then` with it.
async fn one_shot_server(then: Then) -> String {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _join = ws.next().await;
        let joined = r#"{"type":"joined","v":1,"session":"room","user":"alice","resumed":false,"resume_token":"t","resume_window_ms":30000,"participants":[]}"#;
        match then {
            Then::Close(code, reason) => {
                ws.send(Message::text(joined)).await.unwrap();
                let frame = CloseFrame {
                    code: code.into(),
                    reason: reason.into(),
                };
                let _ = ws.close(Some(frame)).await;
            }
            Then::Send(frame) => {
                ws.send(Message::text(joined)).await.unwrap();
                ws.send(Message::text(frame)).await.unwrap();
            }
            Then::Refuse(frame) => {
                ws.send(Message::text(frame)).await.unwrap();
                let _ = ws.close(None).await;
            }
        }
        // Keep the socket until calltop is done with it.
        while let Some(Ok(_)) = ws.next().await {}
    });
    format!("ws://{addr}/ws")
}

/// The `reason` or `message` of the last line, and that line as written.
fn said(h: &Headless) -> (String, String) {
    let last = h.last();
    let text = last["reason"]
        .as_str()
        .or(last["message"].as_str())
        .unwrap()
        .to_owned();
    (text, h.raw.last().unwrap().clone())
}

#[tokio::test]
async fn close_reasons_say_it_once_and_text_is_escaped_once() {
    // Quotes, an apostrophe, accents and a dash: text, not escapes.
    let words = r#"it's "over" — déjà vu"#;

    let url = one_shot_server(Then::Close(4002, words)).await;
    let mut h = Headless::start(&url, "alice", &[], true);
    h.until("connection_closed").await;
    let (reason, line) = said(&h);
    assert_eq!(
        reason,
        format!("server closed the connection: {words} (close code 4002)"),
        "{line}"
    );
    assert_eq!(h.exit_code().await, 5);

    // A close worth a retry reads the same way.
    let url = one_shot_server(Then::Close(1001, words)).await;
    let mut h = Headless::start(&url, "alice", &[], true);
    h.until("connection_lost").await;
    let (reason, line) = said(&h);
    assert_eq!(
        reason,
        format!("server closed the connection: {words} (close code 1001)"),
        "{line}"
    );
    h.until("connection_closed").await;
    assert_eq!(h.exit_code().await, 5);

    // A refusal's message, and a frame we cannot use, as the server wrote them.
    let url = one_shot_server(Then::Refuse(
        r#"{"type":"error","code":"unauthorized","message":"token \"x\" isn't valid — désolé"}"#,
    ))
    .await;
    let mut h = Headless::start(&url, "alice", &[], true);
    h.until("connection_closed").await;
    let (reason, line) = said(&h);
    assert_eq!(
        reason, r#"server refused the token (unauthorized: token "x" isn't valid — désolé)"#,
        "{line}"
    );
    assert_eq!(h.exit_code().await, 5);

    let url = one_shot_server(Then::Send(r#"{"type":"grüße"}"#)).await;
    let mut h = Headless::start(&url, "alice", &[], true);
    h.until("error").await;
    let (message, line) = said(&h);
    assert_eq!(
        message, r#"ignored a frame from the server: unknown message type "grüße""#,
        "{line}"
    );
    h.signal("-TERM");
    assert_eq!(h.exit_code().await, 0);

    // A control character is escaped once, by JSON: never raw on the line.
    let url = one_shot_server(Then::Close(4002, "bye\u{1b}[2J")).await;
    let mut h = Headless::start(&url, "alice", &[], true);
    h.until("connection_closed").await;
    let (reason, line) = said(&h);
    assert_eq!(
        reason,
        "server closed the connection: bye\u{1b}[2J (close code 4002)"
    );
    assert!(line.contains(r"bye\u001b[2J"), "{line}");
    assert!(!line.contains('\u{1b}'), "{line}");
    assert_eq!(h.exit_code().await, 5);
}

#[tokio::test]
async fn fault_commands_on_stdin_inject_and_the_output_marks_what_they_cause() {
    let srv = server().await;
    let mut h = Headless::start(&srv.ws_url(), "alice", &[], true);
    h.until("idle_countdown_started").await;
    h.send("fault drop").await;
    let names = h.until("connection_restored").await;
    assert_eq!(names[0], "fault_injected", "{names:?}");
    let line = |name: &str, h: &Headless| {
        h.lines
            .iter()
            .rev()
            .find(|l| l["event"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("no {name} line"))
    };
    assert_eq!(line("fault_injected", &h)["fault"], "drop");
    let lost = line("connection_lost", &h);
    assert_eq!(lost["injected"], true, "{lost}");
    assert_eq!(line("connection_restored", &h)["resumed"], true);
    // A short idle timeout, then the timeout itself.
    h.send("fault idle 1").await;
    h.until("session_timed_out").await;
    let idle = line("fault_injected", &h);
    assert_eq!(
        (&idle["fault"], &idle["idle_timeout_s"]),
        (&"idle".into(), &1.into())
    );
    assert_eq!(h.last()["idle_timeout_s"], 1);
    assert_eq!(h.exit_code().await, 3);
}

#[tokio::test]
async fn with_no_faults_a_fault_command_is_refused_with_a_message() {
    let srv = server().await;
    let mut h = Headless::start(&srv.ws_url(), "alice", &["--no-faults"], true);
    h.until("session_joined").await;
    assert_eq!(h.lines[0]["run"]["settings"]["faults"], false);
    h.send("fault stall 3").await;
    h.send("fault nonsense").await;
    h.until("command_refused").await;
    assert_eq!(h.last()["command"], "fault stall 3");
    assert_eq!(h.last()["reason"], "faults_disabled");
    h.send("leave").await;
    h.until("session_left").await;
    let mut stderr = h.child.stderr.take().unwrap();
    assert_eq!(h.exit_code().await, 0);
    let mut text = String::new();
    stderr.read_to_string(&mut text).await.unwrap();
    assert!(
        text.contains("fault stall 3: fault injection is off"),
        "{text}"
    );
    assert!(text.contains(r#"unknown fault "nonsense""#), "{text}");
}

//! `calltop top` as a person uses it: the real binary in tmux, against a
//! reference server the test starts on 127.0.0.1 (through a relay, the
//! "network", so the source can fail), with real clients coming and going.
//! Every wait polls the screen with a deadline; nothing sleeps instead.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

mod tui_support;

use calltop::demo::Relay;
use calltop::server::{self, ServerConfig, ServerHandle};
use calltop::{CallSession, SessionSettings};
use tui_support::{Tmux, eventually, have_tmux};

const TOKEN: &str = "top-e2e-admin-token";

struct World {
    rt: tokio::runtime::Runtime,
    server: Option<ServerHandle>,
    relay: Option<Relay>,
    clients: Vec<(String, String, CallSession)>,
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
                ..ServerConfig::default()
            })
            .await
            .unwrap();
            let relay = Relay::start(server.addr).await.unwrap();
            (server, relay)
        });
        let dir = std::env::temp_dir().join(format!("calltop-top-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("token"), format!("{TOKEN}\n")).unwrap();
        std::fs::write(
            dir.join("config.toml"),
            "[session]\nuser = \"ops\"\nidle_timeout_secs = 600\n\n\
             [top]\npoll_interval_ms = 200\nrequest_timeout_ms = 1000\n",
        )
        .unwrap();
        World {
            rt,
            server: Some(server),
            relay: Some(relay),
            clients: Vec::new(),
            dir,
        }
    }

    fn server(&self) -> &ServerHandle {
        self.server.as_ref().unwrap()
    }

    fn top(&self, name: &str) -> Tmux {
        let args = vec![
            env!("CARGO_BIN_EXE_calltop").to_owned(),
            "top".into(),
            "--server".into(),
            self.relay.as_ref().unwrap().ws_url(),
            "--admin-token-file".into(),
            self.dir.join("token").display().to_string(),
            "--config".into(),
            self.dir.join("config.toml").display().to_string(),
        ];
        Tmux::start(name, 100, 30, &args)
    }

    /// A real client joins `session` as `user` (directly, not through the relay).
    fn join(&mut self, session: &str, user: &str) {
        let settings = SessionSettings::builder(self.server().ws_url(), session, user)
            .idle_timeout(Duration::ZERO)
            .build()
            .unwrap();
        let s = self.rt.block_on(async {
            let s = CallSession::new(settings);
            s.join().await.unwrap();
            s
        });
        self.clients.push((session.into(), user.into(), s));
        self.wait_listed(session, user, true);
    }

    fn leave(&mut self, user: &str) {
        let i = self.clients.iter().position(|c| c.1 == user).unwrap();
        let (session, _, s) = self.clients.remove(i);
        self.rt.block_on(async {
            s.leave().await.unwrap();
            s.shutdown().await;
        });
        self.wait_listed(&session, user, false);
    }

    fn listed(&self, session: &str, user: &str) -> bool {
        self.server()
            .hub
            .sessions()
            .iter()
            .filter(|s| s.id == session)
            .flat_map(|s| s.participants.iter())
            .any(|p| p.user == user)
    }

    fn wait_listed(&self, session: &str, user: &str, want: bool) {
        eventually(&format!("{user} listed in {session}: {want}"), || {
            if self.listed(session, user) == want {
                Ok(())
            } else {
                Err(format!("{:?}", self.server().hub.sessions()))
            }
        });
    }
}

impl Drop for World {
    fn drop(&mut self) {
        let clients = std::mem::take(&mut self.clients);
        self.rt.block_on(async {
            for (_, _, s) in clients {
                s.shutdown().await;
            }
        });
        if let Some(r) = self.relay.take() {
            r.shutdown();
        }
        if let Some(s) = self.server.take() {
            self.rt.block_on(s.shutdown());
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The table's rows (between its heading and its bottom border), trimmed.
fn table(screen: &str) -> Vec<String> {
    screen
        .lines()
        .skip_while(|l| !l.contains("│session"))
        .skip(1)
        .take_while(|l| !l.starts_with('└'))
        .map(|l| l.trim_matches(|c| c == '│' || c == ' ').to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// The first word of each table row: the sessions, top to bottom.
fn sessions(screen: &str) -> Vec<String> {
    table(screen)
        .iter()
        .filter_map(|r| r.split_whitespace().next().map(str::to_owned))
        .collect()
}

/// The row of `session`'s words, split on whitespace.
fn row(screen: &str, session: &str) -> Vec<String> {
    table(screen)
        .iter()
        .map(|r| r.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
        .find(|w| w.first().map(String::as_str) == Some(session))
        .unwrap_or_default()
}

#[test]
fn top_follows_sessions_sorts_filters_opens_one_and_joins_it() {
    if !have_tmux("top_follows_sessions_sorts_filters_opens_one_and_joins_it") {
        return;
    }
    let mut world = World::start("main");
    world.join("standup", "alice");
    world.join("standup", "bob");
    world.join("retro", "carol");
    let tmux = world.top("top-main");
    tmux.wait("both sessions, live", |s| {
        s.contains(" LIVE ")
            && row(s, "standup").get(1).map(String::as_str) == Some("2")
            && row(s, "retro").get(1).map(String::as_str) == Some("1")
    });

    // Sessions come and go; the log says what changed, the rows count it.
    world.join("planning", "dave");
    world.join("planning", "erin");
    world.join("planning", "frank");
    world.leave("carol");
    let screen = tmux.wait("planning open, retro closed", |s| {
        sessions(s) == ["planning", "standup"] && s.contains("session retro closed")
    });
    assert!(screen.contains("carol left retro"), "{screen}");
    assert!(screen.contains("frank joined planning"), "{screen}");
    // planning: 3 people, 3 joins in the last minute, 0 leaves, 0 away.
    assert_eq!(row(&screen, "planning")[1], "3", "{screen}");
    assert_eq!(row(&screen, "planning")[3..], ["3", "0", "0"], "{screen}");

    // Sort by session id (1), then reversed (1 again).
    tmux.keys("1");
    tmux.wait("sorted A to Z", |s| {
        s.contains("session▲") && sessions(s) == ["planning", "standup"]
    });
    tmux.keys("1");
    tmux.wait("sorted Z to A", |s| {
        s.contains("session▼") && sessions(s) == ["standup", "planning"]
    });

    // Filter by a person's name: bob is in standup.
    tmux.keys("/");
    tmux.wait_for("filter: ▏");
    tmux.keys("bob");
    tmux.keys("Enter");
    tmux.wait("the filter applied", |s| {
        sessions(s) == ["standup"] && s.contains("(1 of 2 match \"bob\")")
    });
    tmux.keys("Escape");
    tmux.wait("the filter cleared", |s| {
        sessions(s).len() == 2 && s.contains("Sessions (2)")
    });

    // Enter on the top row (standup) shows its people.
    tmux.keys("Home");
    tmux.keys("Enter");
    let people = tmux.wait("standup's people", |s| {
        s.contains("standup (2 participants)") && s.contains("alice") && s.contains("bob")
    });
    assert!(people.contains("connected"), "{people}");

    // j: the dashboard on standup, as the configured user.
    tmux.keys("j");
    tmux.wait("the dashboard", |s| {
        s.contains(" JOINED ") && s.contains("standup as ops")
    });
    world.wait_listed("standup", "ops", true);
    // Someone joins elsewhere meanwhile.
    world.join("planning", "gus");
    // Leaving the dashboard brings the table back, and what changed meanwhile.
    tmux.keys("q");
    tmux.wait("back in top", |s| {
        s.contains("back from session standup: we left or quit")
            && s.contains("standup (2 participants)")
    });
    world.wait_listed("standup", "ops", false);
    tmux.wait_for("gus joined planning");

    // Esc back to the table, q quits: exit 0, the terminal restored.
    tmux.keys("Escape");
    tmux.wait("the table again", |s| {
        s.contains("Sessions (2)") && row(s, "planning").get(1).map(String::as_str) == Some("4")
    });
    let pid = tmux.pid();
    tmux.keys("q");
    assert_eq!(tmux.wait_exit(pid), 0);
    assert_eq!(tmux.pane("#{alternate_on}"), "0");
}

#[test]
fn a_failing_source_keeps_the_table_marked_stale_until_it_answers_again() {
    if !have_tmux("a_failing_source_keeps_the_table_marked_stale_until_it_answers_again") {
        return;
    }
    let mut world = World::start("stale");
    world.join("standup", "alice");
    let tmux = world.top("top-stale");
    tmux.wait("live", |s| {
        s.contains(" LIVE ") && sessions(s) == ["standup"]
    });

    world.relay.as_ref().unwrap().set_up(false);
    let screen = tmux.wait("stale, with the last good table", |s| {
        s.contains(" STALE ") && s.contains("ago)") && sessions(s) == ["standup"]
    });
    assert!(screen.contains("✗ cannot reach"), "{screen}");
    assert!(screen.contains("poll failed"), "{screen}");
    // The age goes up while nothing else happens.
    let age = |s: &str| -> Option<u64> {
        let (_, rest) = s.split_once("last good poll ")?;
        let (_, rest) = rest.split_once('(')?;
        rest.split_once(" s ago)")?.0.parse().ok()
    };
    let first = age(&screen).unwrap_or(0);
    tmux.wait("the age to go up", |s| age(s).is_some_and(|a| a > first));

    // Meanwhile the server changed; once reachable, the table catches up.
    world.join("standup", "bob");
    world.relay.as_ref().unwrap().set_up(true);
    let screen = tmux.wait("live again", |s| {
        s.contains(" LIVE ") && s.contains("the source answers again")
    });
    tmux.wait("bob counted", |s| {
        row(s, "standup").get(1).map(String::as_str) == Some("2")
    });
    assert!(!screen.contains("✗"), "{screen}");
    let pid = tmux.pid();
    tmux.keys("q");
    assert_eq!(tmux.wait_exit(pid), 0);
}

#[test]
fn top_without_a_server_or_a_token_says_what_is_missing() {
    let run = |args: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_calltop"))
            .args(args)
            .env("XDG_CONFIG_HOME", "/nonexistent")
            .env_remove("CALLTOP_TOP__ADMIN_TOKEN")
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["top"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("session.server") && err.contains("calltop top --server"),
        "{err}"
    );
    let (code, err) = run(&["top", "--server", "ws://127.0.0.1:1/ws"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("top.admin_token") && err.contains("--admin-token-file"),
        "{err}"
    );
    let (code, err) = run(&["top", "--server", "ftp://127.0.0.1/", "--admin-token", "x"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("ftp://"), "{err}");
    let (code, err) = run(&[
        "top",
        "--server",
        "ws://127.0.0.1:1/ws",
        "--admin-token",
        "x",
        "--poll-interval-ms",
        "5",
    ]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("top.poll_interval_ms"), "{err}");
}

//! The engine against the real reference server over real WebSockets on
//! 127.0.0.1. Every test asserts the exact event sequence, and every event
//! passes the contract checker on the way.

mod support;

use std::time::Duration;

use calltop::event::{EventKind, LeftReason};
use calltop::server::{self, ServerConfig};
use calltop::{CallSession, Command, CommandError};
use support::proxy::{Mode, Proxy};
use support::{Events, eventually, fast, http, joined, listed_users, server, server_with};

#[tokio::test]
async fn join_see_others_come_and_go_then_leave() {
    let srv = server().await;
    let alice = CallSession::new(fast(&srv.ws_url(), "room", "alice").build().unwrap());
    let mut a = Events::new(alice.subscribe().await.unwrap());
    alice.join().await.unwrap();
    assert_eq!(
        a.take(4).await,
        [
            "connecting",
            "session_joined",
            "server_info",
            "idle_countdown_started"
        ]
    );

    let (bob, mut b) = joined(fast(&srv.ws_url(), "room", "bob").build().unwrap()).await;
    assert_eq!(b.take(1).await, ["participant_joined"], "bob sees alice");
    assert_eq!(
        a.take(2).await,
        ["participant_joined", "idle_countdown_cancelled"]
    );
    assert_eq!(
        a.last("participant_joined"),
        Some(&EventKind::ParticipantJoined {
            id: "bob".into(),
            user: "bob".into(),
            joined_at: match a.last("participant_joined") {
                Some(EventKind::ParticipantJoined { joined_at, .. }) => *joined_at,
                _ => None,
            }
        })
    );
    assert_eq!(listed_users(&srv, "room").await, ["alice", "bob"]);

    bob.leave().await.unwrap();
    assert_eq!(b.take(2).await, ["leaving", "session_left"]);
    assert_eq!(
        a.take(2).await,
        ["participant_left", "idle_countdown_started"]
    );

    alice.leave().await.unwrap();
    assert_eq!(a.take(2).await, ["leaving", "session_left"]);
    assert_eq!(
        a.last("leaving"),
        Some(&EventKind::Leaving { rejoin: false })
    );
    assert_eq!(
        a.last("session_left"),
        Some(&EventKind::SessionLeft {
            reason: LeftReason::User
        })
    );
    assert_eq!(listed_users(&srv, "room").await, Vec::<String>::new());
    a.quiet_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn commands_that_make_no_sense_are_refused_and_change_nothing() {
    let srv = server().await;
    let s = CallSession::new(fast(&srv.ws_url(), "room", "carol").build().unwrap());
    let mut ev = Events::new(s.subscribe().await.unwrap());
    assert_eq!(s.leave().await, Err(CommandError::NotInSession));
    assert_eq!(s.reconnect_now().await, Err(CommandError::NotReconnecting));
    s.join().await.unwrap();
    // Each refusal is an event as well, in the order the commands came.
    assert_eq!(
        ev.until("session_joined").await,
        [
            "command_refused",
            "command_refused",
            "connecting",
            "session_joined"
        ]
    );
    assert_eq!(s.join().await, Err(CommandError::AlreadyActive));
    assert_eq!(s.reconnect_now().await, Err(CommandError::NotReconnecting));
    assert_eq!(listed_users(&srv, "room").await, ["carol"]);
    s.leave().await.unwrap();
    let tail = ev.until("session_left").await;
    assert!(
        tail.ends_with(&["leaving".into(), "session_left".into()]),
        "{tail:?}"
    );
    let refusals: Vec<_> = ev
        .all
        .iter()
        .filter(|e| e.kind.name() == "command_refused")
        .map(|e| e.kind.clone())
        .collect();
    let refused = |command, reason| EventKind::CommandRefused { command, reason };
    assert_eq!(
        refusals,
        [
            refused(Command::Leave, CommandError::NotInSession),
            refused(Command::ReconnectNow, CommandError::NotReconnecting),
            refused(Command::Join, CommandError::AlreadyActive),
            refused(Command::ReconnectNow, CommandError::NotReconnecting),
        ]
    );
    // And after the end, a rejoin is a new join attempt.
    s.rejoin().await.unwrap();
    assert_eq!(
        ev.until("session_joined").await,
        ["connecting", "session_joined"]
    );
}

#[tokio::test]
async fn kick_through_the_admin_api_removes_us() {
    let srv = server().await;
    let (_alice, mut a) = joined(fast(&srv.ws_url(), "room", "alice").build().unwrap()).await;
    let (_bob, mut b) = joined(fast(&srv.ws_url(), "room", "bob").build().unwrap()).await;
    a.until("idle_countdown_cancelled").await;

    let (status, _) = http(srv.addr, "POST", "/api/sessions/room/kick/bob", None).await;
    assert_eq!(status, 401, "kick needs the admin token");
    for token in [None, Some("admin-but-wrong"), Some("")] {
        let (status, body) = http(srv.addr, "GET", "/api/sessions", token).await;
        assert_eq!(status, 401, "the listing needs the admin token too: {body}");
        assert!(!body.contains("alice"), "{body}");
    }
    let (status, _) = http(
        srv.addr,
        "POST",
        "/api/sessions/room/kick/nobody",
        Some("admin"),
    )
    .await;
    assert_eq!(status, 404);
    let (status, body) = http(
        srv.addr,
        "POST",
        "/api/sessions/room/kick/bob",
        Some("admin"),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    assert_eq!(
        b.until("session_left").await,
        ["participant_joined", "session_left"]
    );
    assert_eq!(
        b.last("session_left"),
        Some(&EventKind::SessionLeft {
            reason: LeftReason::Removed
        })
    );
    assert_eq!(
        a.take(2).await,
        ["participant_left", "idle_countdown_started"]
    );
    b.quiet_for(Duration::from_millis(500)).await;
    assert_eq!(listed_users(&srv, "room").await, ["alice"]);
}

#[tokio::test]
async fn end_through_the_admin_api_ends_it_for_everyone() {
    let srv = server().await;
    let (_alice, mut a) = joined(fast(&srv.ws_url(), "room", "alice").build().unwrap()).await;
    let (_bob, mut b) = joined(fast(&srv.ws_url(), "room", "bob").build().unwrap()).await;
    let (status, _) = http(srv.addr, "POST", "/api/sessions/room/end", Some("admin")).await;
    assert_eq!(status, 200);
    for ev in [&mut a, &mut b] {
        ev.until("session_left").await;
        assert_eq!(
            ev.last("session_left"),
            Some(&EventKind::SessionLeft {
                reason: LeftReason::Ended
            })
        );
        ev.quiet_for(Duration::from_millis(300)).await;
    }
    let (status, _) = http(srv.addr, "POST", "/api/sessions/room/end", Some("admin")).await;
    assert_eq!(status, 404, "an ended session is gone");
}

#[tokio::test]
async fn alone_for_the_idle_timeout_times_out_and_leaves() {
    let srv = server().await;
    let s = CallSession::new(
        fast(&srv.ws_url(), "room", "alice")
            .idle_timeout(Duration::from_millis(600))
            .build()
            .unwrap(),
    );
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.join().await.unwrap();
    assert_eq!(
        ev.until("session_timed_out").await,
        [
            "connecting",
            "session_joined",
            "server_info",
            "idle_countdown_started",
            "session_timed_out"
        ]
    );
    ev.quiet_for(Duration::from_millis(300)).await;
    // We left ourselves: the server does not keep a slot for us.
    eventually("the server to drop alice", || async {
        listed_users(&srv, "room").await.is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_dropped_socket_is_restored_with_our_slot_kept() {
    let srv = server().await;
    let proxy = Proxy::start(srv.addr).await;
    let (_bob, mut b) = joined(fast(&srv.ws_url(), "room", "bob").build().unwrap()).await;
    let (_alice, mut a) = joined(fast(&proxy.ws_url(), "room", "alice").build().unwrap()).await;
    b.until("idle_countdown_cancelled").await;

    proxy.kill_all();
    assert_eq!(
        a.until("connection_restored").await,
        [
            "participant_joined",
            "connection_lost",
            "reconnect_attempt",
            "connection_restored"
        ]
    );
    match a.last("connection_restored") {
        Some(EventKind::ConnectionRestored {
            resumed, attempts, ..
        }) => {
            assert!(*resumed, "the server kept alice's slot");
            assert_eq!(*attempts, 1);
        }
        other => panic!("{other:?}"),
    }
    // Bob never saw alice leave.
    b.quiet_for(Duration::from_millis(400)).await;
    assert_eq!(
        b.names(),
        [
            "connecting",
            "session_joined",
            "server_info",
            "idle_countdown_started",
            "participant_joined",
            "idle_countdown_cancelled"
        ]
    );
}

#[tokio::test]
async fn a_server_that_stops_answering_is_noticed_by_heartbeat_and_restored() {
    let srv = server().await;
    let proxy = Proxy::start(srv.addr).await;
    let (alice, mut a) = joined(fast(&proxy.ws_url(), "room", "alice").build().unwrap()).await;
    a.until("idle_countdown_started").await;

    proxy.set_mode(Mode::Blackhole);
    assert_eq!(a.until("connection_lost").await, ["connection_lost"]);
    match a.last("connection_lost") {
        Some(EventKind::ConnectionLost { reason, .. }) => {
            assert!(reason.contains("heartbeat"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    // Attempts into the frozen path time out; after the first one fails, let traffic flow.
    assert_eq!(a.take(1).await, ["reconnect_attempt"]);
    assert_eq!(a.take(1).await, ["reconnect_attempt"]);
    proxy.set_mode(Mode::Forward);
    // Hurries the next attempt, or is refused if one is under way already.
    let hurried = alice.reconnect_now().await;
    let tail = a.until("connection_restored").await;
    assert!(
        tail.iter().all(|n| n == "reconnect_attempt"
            || n == "connection_restored"
            || (n == "command_refused" && hurried.is_err())),
        "{hurried:?}: {tail:?}"
    );
    if let Err(reason) = hurried {
        assert!(
            matches!(
                reason,
                CommandError::AttemptInFlight | CommandError::NotReconnecting
            ),
            "{reason:?}"
        );
    }
    match a.last("connection_restored") {
        Some(EventKind::ConnectionRestored { resumed, .. }) => assert!(*resumed),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_server_restart_that_lost_all_state_rejoins_without_resume() {
    let first = server().await;
    let proxy = Proxy::start(first.addr).await;
    let (_alice, mut a) = joined(fast(&proxy.ws_url(), "room", "alice").build().unwrap()).await;
    a.until("idle_countdown_started").await;

    let second = server().await;
    proxy.set_upstream(second.addr);
    first.shutdown().await;
    assert_eq!(
        a.until("connection_restored").await,
        [
            "connection_lost",
            "reconnect_attempt",
            "connection_restored"
        ]
    );
    match a.last("connection_restored") {
        Some(EventKind::ConnectionRestored { resumed, .. }) => {
            assert!(!*resumed, "a new server cannot have kept our slot")
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(listed_users(&second, "room").await, ["alice"]);
}

#[tokio::test]
async fn a_server_gone_for_good_closes_once_retries_are_spent() {
    let srv = server().await;
    let proxy = Proxy::start(srv.addr).await;
    let (_alice, mut a) = joined(fast(&proxy.ws_url(), "room", "alice").build().unwrap()).await;
    a.until("idle_countdown_started").await;

    proxy.set_mode(Mode::Refuse);
    proxy.kill_all();
    assert_eq!(
        a.until("connection_closed").await,
        [
            "connection_lost",
            "reconnect_attempt",
            "reconnect_attempt",
            "reconnect_attempt",
            "reconnect_attempt",
            "connection_closed"
        ]
    );
    match a.last("connection_closed") {
        Some(EventKind::ConnectionClosed { reason }) => {
            assert!(reason.contains("4 attempts"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    a.quiet_for(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_first_join_to_nothing_retries_then_closes_naming_it_unreachable() {
    // A port that was just free: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let s = CallSession::new(
        fast(&format!("ws://127.0.0.1:{port}/ws"), "room", "alice")
            .build()
            .unwrap(),
    );
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.join().await.unwrap();
    assert_eq!(
        ev.until("connection_closed").await,
        [
            "connecting",
            "reconnect_attempt",
            "connecting",
            "reconnect_attempt",
            "connecting",
            "reconnect_attempt",
            "connecting",
            "connection_closed"
        ]
    );
    match ev.last("connection_closed") {
        Some(EventKind::ConnectionClosed { reason }) => {
            assert!(reason.contains("unreachable"), "{reason}");
            assert!(reason.contains(&port.to_string()), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

const SECRET: &str = "a secret of at least sixteen bytes";

/// A join token from the `calltop token` command itself.
fn minted(session: &str, user: &str) -> String {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_calltop"))
        .args([
            "token",
            "--session",
            session,
            "--user",
            user,
            "--ttl",
            "10m",
        ])
        .env("CALLTOP_SERVE__TOKEN_SECRET", SECRET)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn with_tokens_a_join_is_let_in_only_as_the_identity_in_its_token() {
    let srv = server_with(|c| c.token_secret = Some(SECRET.into())).await;
    let refused = |token: Option<String>, user: &'static str| {
        let url = srv.ws_url();
        async move {
            let mut b = fast(&url, "room", user);
            if let Some(t) = token {
                b = b.token(t);
            }
            let s = CallSession::new(b.build().unwrap());
            let mut ev = Events::new(s.subscribe().await.unwrap());
            s.join().await.unwrap();
            assert_eq!(
                ev.until("connection_closed").await,
                ["connecting", "connection_closed"],
                "refused at once, no retries"
            );
            match ev.last("connection_closed") {
                Some(EventKind::ConnectionClosed { reason }) => reason.clone(),
                other => panic!("{other:?}"),
            }
        }
    };
    let why = refused(None, "alice").await;
    assert!(
        why.contains("server refused the token") && why.contains("no token"),
        "{why}"
    );
    let why = refused(Some("not.a.jwt".into()), "alice").await;
    assert!(why.contains("not a join token"), "{why}");
    // Bob's token does not let mallory in as mallory, nor as bob elsewhere.
    let why = refused(Some(minted("room", "bob")), "mallory").await;
    assert!(
        why.contains(r#"the token is for user "bob", not "mallory""#),
        "{why}"
    );
    let why = refused(Some(minted("other", "mallory")), "mallory").await;
    assert!(why.contains("session"), "{why}");
    let forged = calltop::token::mint(
        b"not the server's secret at all",
        "room",
        "mallory",
        Duration::from_secs(600),
        std::time::SystemTime::now(),
    )
    .unwrap();
    let why = refused(Some(forged), "mallory").await;
    assert!(why.contains("signature"), "{why}");
    assert!(listed_users(&srv, "room").await.is_empty());

    let (_bob, mut b) = joined(
        fast(&srv.ws_url(), "room", "bob")
            .token(minted("room", "bob"))
            .build()
            .unwrap(),
    )
    .await;
    assert_eq!(b.names(), ["connecting", "session_joined", "server_info"]);
    // The same identity again is bob's own client coming back: it replaces
    // the first, which is told why.
    let (_again, _) = joined(
        fast(&srv.ws_url(), "room", "bob")
            .token(minted("room", "bob"))
            .build()
            .unwrap(),
    )
    .await;
    b.until("session_left").await;
    assert_eq!(
        b.last("session_left"),
        Some(&EventKind::SessionLeft {
            reason: calltop::LeftReason::Replaced
        })
    );
    assert_eq!(listed_users(&srv, "room").await, ["bob"]);
}

#[tokio::test]
async fn a_short_token_secret_is_refused_by_name() {
    let e = server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        token_secret: Some("sesame".into()),
        ..ServerConfig::default()
    })
    .await
    .err()
    .expect("refused")
    .to_string();
    assert!(
        e.contains("serve.token_secret") && e.contains("at least 16 bytes"),
        "{e}"
    );
}

#[tokio::test]
async fn listeners_get_the_six_callbacks_until_their_guard_drops() {
    use std::sync::{Arc, Mutex};
    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<String>>>);
    impl calltop::SessionStatusListener for Log {
        fn on_session_joined(&self) {
            self.0.lock().unwrap().push("joined".into());
        }
        fn on_session_left(&self, reason: LeftReason) {
            self.0.lock().unwrap().push(format!("left:{reason:?}"));
        }
        fn on_connection_lost(&self, _: &str) {
            self.0.lock().unwrap().push("lost".into());
        }
        fn on_connection_restored(&self, r: calltop::Restored) {
            self.0
                .lock()
                .unwrap()
                .push(format!("restored:{}", r.resumed));
        }
    }
    let srv = server().await;
    let proxy = Proxy::start(srv.addr).await;
    let s = CallSession::new(fast(&proxy.ws_url(), "room", "alice").build().unwrap());
    let log = Log::default();
    let guard = s.add_session_status_listener(log.clone());
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.join().await.unwrap();
    ev.until("session_joined").await;
    proxy.kill_all();
    ev.until("connection_restored").await;
    drop(guard);
    s.leave().await.unwrap();
    ev.until("session_left").await;
    assert_eq!(*log.0.lock().unwrap(), ["joined", "lost", "restored:true"]);
}

#[tokio::test]
async fn a_second_connection_as_the_same_user_replaces_the_first_and_it_is_told_why() {
    let srv = server().await;
    let (first, mut a) = joined(fast(&srv.ws_url(), "room", "alice").build().unwrap()).await;
    let (_second, mut b) = joined(fast(&srv.ws_url(), "room", "alice").build().unwrap()).await;
    assert_eq!(
        a.until("session_left").await,
        ["idle_countdown_started", "session_left"]
    );
    assert_eq!(
        a.last("session_left"),
        Some(&EventKind::SessionLeft {
            reason: calltop::LeftReason::Replaced
        })
    );
    assert_eq!(
        calltop::exit::Exit::for_terminal(a.last("session_left").unwrap()),
        Some(calltop::exit::Exit::RemovedOrEnded)
    );
    // The new one is in, alone.
    b.until("idle_countdown_started").await;
    b.quiet_for(Duration::from_millis(300)).await;
    assert_eq!(listed_users(&srv, "room").await, ["alice"]);
    first.shutdown().await;
}

#[tokio::test]
async fn the_join_token_can_come_from_a_file_and_the_secret_from_the_environment() {
    let srv = server_with(|c| c.token_secret = Some(SECRET.into())).await;
    let dir = std::env::temp_dir().join(format!("calltop-tokfile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("token");
    std::fs::write(&file, format!("{}\n", minted("room", "carol"))).unwrap();
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_calltop"))
        .args([
            "--headless",
            "--idle-timeout",
            "1",
            "--server",
            &srv.ws_url(),
        ])
        .args(["--session", "room", "--user", "carol", "--token-file"])
        .arg(&file)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(3),
        "joined, then timed out: {stdout}"
    );
    assert!(stdout.contains("\"event\":\"session_joined\""), "{stdout}");
    let missing = tokio::process::Command::new(env!("CARGO_BIN_EXE_calltop"))
        .args(["--headless", "--token-file", "/nonexistent/token"])
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(missing.status.code(), Some(2), "{err}");
    assert!(
        err.contains("cannot read the join token from /nonexistent/token"),
        "{err}"
    );
}

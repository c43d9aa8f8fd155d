//! The engine against a real Janus 1.1.2 (Debian's `janus`) on 127.0.0.1:
//! each test starts its own Janus from `assets/janus/`, drives the room with a
//! test-side Janus client, and asserts the exact event sequence calltop
//! reports; every event passes the contract checker on the way.
//!
//! Without a `janus` binary these tests fail in CI (`.ci/run` installs it)
//! and skip with a message elsewhere.

mod janus_support;
mod support;

use std::time::Duration;

use calltop::event::{EventKind, LeftReason};
use calltop::settings::{JanusOptions, Secret, SessionSettings, SessionSettingsBuilder};
use calltop::{BackendKind, CallSession, ReconnectPolicy};
use janus_support::{Janus, JanusOptions as ServerOptions, JanusPeer, require_janus};
use serde_json::json;
use support::proxy::{Mode, Proxy};
use support::{Events, joined};

const SECRET: &str = "room-secret";
const WAIT: Duration = Duration::from_secs(10);

/// Quick timers, with slack for a loaded machine.
fn fast(url: &str, room: u64, user: &str) -> SessionSettingsBuilder {
    SessionSettings::builder(url, room.to_string(), user)
        .backend(BackendKind::Janus)
        .heartbeat_interval(Duration::from_millis(300))
        .heartbeat_timeout(Duration::from_millis(1000))
        .connect_timeout(Duration::from_millis(1000))
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            multiplier: 2.0,
            max_attempts: 6,
            jitter: 0.5,
        })
}

/// Room for outages that last seconds: up to 30 attempts, at most 500 ms apart.
fn patient(url: &str, room: u64, user: &str) -> SessionSettingsBuilder {
    fast(url, room, user).reconnect(ReconnectPolicy {
        initial_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(500),
        multiplier: 2.0,
        max_attempts: 30,
        jitter: 0.5,
    })
}

/// Event names with the reconnect attempts (how many varies) left out.
fn without_attempts(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| n != "reconnect_attempt")
        .collect()
}

fn restored(ev: &Events) -> bool {
    match ev.last("connection_restored") {
        Some(EventKind::ConnectionRestored { resumed, .. }) => *resumed,
        other => panic!("{other:?}"),
    }
}

async fn proxy_to(janus: &Janus) -> Proxy {
    Proxy::start(format!("127.0.0.1:{}", janus.ws_port()).parse().unwrap()).await
}

/// A call through the proxy, with a host ("bob") in the room who has seen us
/// join: the set-up of the outage tests.
async fn call_via_proxy(
    janus: &Janus,
    room: u64,
    j: JanusOptions,
) -> (JanusPeer, Proxy, CallSession, Events) {
    let (mut host, _) = host(janus, room, "bob").await;
    let proxy = proxy_to(janus).await;
    let (s, mut ev) = joined(
        patient(&proxy.ws_url(), room, "alice")
            .janus(j)
            .build()
            .unwrap(),
    )
    .await;
    ev.until("participant_joined").await;
    host.wait_plugin_event("joining", WAIT).await;
    (host, proxy, s, ev)
}

/// Cuts our connection and keeps it down (new connections refused).
async fn cut(proxy: &Proxy, ev: &mut Events) {
    proxy.set_mode(Mode::Refuse);
    proxy.kill_all();
    assert_eq!(ev.until("connection_lost").await, ["connection_lost"]);
}

/// A peer with a room of its own (announcing joins, with a secret to kick
/// and destroy), joined as `display`.
async fn host(janus: &Janus, room: u64, display: &str) -> (JanusPeer, u64) {
    let mut p = janus.peer(None).await;
    p.create_session().await;
    p.attach_videoroom().await;
    p.start_keepalive(Duration::from_secs(2));
    p.create_room(
        room,
        json!({"secret": SECRET, "notify_joining": true, "description": "standup"}),
    )
    .await;
    let id = p.join(room, Some(display)).await;
    (p, id)
}

/// Why the session ended, by its `session_left`.
fn left_because(ev: &Events) -> LeftReason {
    match ev.last("session_left") {
        Some(EventKind::SessionLeft { reason }) => *reason,
        other => panic!("no session_left: {other:?}"),
    }
}

fn participant_joined(ev: &Events) -> (String, String) {
    match ev.last("participant_joined") {
        Some(EventKind::ParticipantJoined { id, user, .. }) => (id.clone(), user.clone()),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn join_lists_the_room_without_us_and_reports_the_server() {
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let (_host, host_id) = host(&janus, 4001, "bob").await;
    let s = CallSession::new(fast(&janus.ws_url(), 4001, "alice").build().unwrap());
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.join().await.unwrap();
    assert_eq!(
        ev.take(4).await,
        [
            "connecting",
            "session_joined",
            "server_info",
            "participant_joined"
        ]
    );
    assert_eq!(participant_joined(&ev), (host_id.to_string(), "bob".into()));
    match ev.last("server_info") {
        Some(EventKind::ServerInfo(f)) => {
            assert_eq!(f.server.as_deref(), Some("Janus WebRTC Server 1.1.2"));
            assert_eq!(f.server_name.as_deref(), Some(janus.server_name()));
            assert_eq!(f.room.as_deref(), Some("standup"));
            assert_eq!(f.resume_window, Some(Duration::from_secs(5)));
            assert!(f.own_id.is_some() && f.server_session.is_some(), "{f:?}");
        }
        other => panic!("{other:?}"),
    }
    s.leave().await.unwrap();
    assert_eq!(ev.until("session_left").await, ["leaving", "session_left"]);
}

/// A peer that joins `room` as `display` (the room must exist).
async fn guest(janus: &Janus, room: u64, display: Option<&str>) -> (JanusPeer, u64) {
    let mut p = janus.peer(None).await;
    p.create_session().await;
    p.attach_videoroom().await;
    p.start_keepalive(Duration::from_secs(2));
    let id = p.join(room, display).await;
    (p, id)
}

fn own_id(ev: &Events) -> u64 {
    match ev.last("server_info") {
        Some(EventKind::ServerInfo(f)) => f
            .own_id
            .as_deref()
            .and_then(|id| id.parse().ok())
            .unwrap_or_else(|| panic!("no numeric own id in {f:?}")),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn others_join_rename_and_leave_by_id_even_when_they_share_a_name() {
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let (_host, _) = host(&janus, 4002, "bob").await;
    let (_s, mut ev) = joined(fast(&janus.ws_url(), 4002, "alice").build().unwrap()).await;
    assert_eq!(ev.until("participant_joined").await, ["participant_joined"]);

    let (mut carol, carol_id) = guest(&janus, 4002, Some("alice")).await;
    assert_eq!(ev.take(1).await, ["participant_joined"]);
    assert_eq!(
        participant_joined(&ev),
        (carol_id.to_string(), "alice".into())
    );
    let (_nameless, nameless_id) = guest(&janus, 4002, None).await;
    assert_eq!(ev.take(1).await, ["participant_joined"]);
    assert_eq!(
        participant_joined(&ev),
        (nameless_id.to_string(), String::new())
    );

    carol.rename("carol").await;
    assert_eq!(ev.take(1).await, ["participant_renamed"]);
    assert_eq!(
        ev.last("participant_renamed"),
        Some(&EventKind::ParticipantRenamed {
            id: carol_id.to_string(),
            user: "carol".into(),
            previous: "alice".into(),
        })
    );
    carol.leave().await;
    // Janus says `unpublished` twice before `leaving`: only the leave counts.
    assert_eq!(ev.take(1).await, ["participant_left"]);
    assert_eq!(
        ev.last("participant_left"),
        Some(&EventKind::ParticipantLeft {
            id: carol_id.to_string(),
            user: "carol".into(),
        })
    );
    ev.quiet_for(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn our_leave_is_seen_by_the_others_and_ends_our_janus_session() {
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let (mut host, _) = host(&janus, 4003, "bob").await;
    let (s, mut ev) = joined(fast(&janus.ws_url(), 4003, "alice").build().unwrap()).await;
    let me = own_id(&ev);
    host.wait_plugin_event("joining", WAIT).await;
    s.leave().await.unwrap();
    assert_eq!(
        ev.until("session_left").await,
        ["participant_joined", "leaving", "session_left"]
    );
    assert_eq!(left_because(&ev), LeftReason::User);
    let left = host.wait_plugin_event("leaving", WAIT).await;
    assert_eq!(left["leaving"], me);
    assert_eq!(host.list_participants(4003).await.len(), 1);
    ev.quiet_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_kick_removes_us_and_a_destroyed_room_ends_the_session() {
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let (host, _) = host(&janus, 4004, "bob").await;
    let (_s, mut ev) = joined(fast(&janus.ws_url(), 4004, "alice").build().unwrap()).await;
    let me = own_id(&ev);
    host.kick(4004, me, SECRET).await;
    assert_eq!(
        ev.until("session_left").await,
        ["participant_joined", "session_left"]
    );
    assert_eq!(left_because(&ev), LeftReason::Removed);

    let (_s2, mut ev2) = joined(fast(&janus.ws_url(), 4004, "alice").build().unwrap()).await;
    host.destroy_room(4004, SECRET).await;
    assert_eq!(
        ev2.until("session_left").await,
        ["participant_joined", "session_left"]
    );
    assert_eq!(left_because(&ev2), LeftReason::Ended);
    ev2.quiet_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn a_drop_is_claimed_back_and_someone_who_came_meanwhile_shows_up() {
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let (mut host, _) = host(&janus, 4005, "bob").await;
    let proxy = proxy_to(&janus).await;
    let (_s, mut ev) = joined(patient(&proxy.ws_url(), 4005, "alice").build().unwrap()).await;
    let me = own_id(&ev);
    ev.until("participant_joined").await;
    cut(&proxy, &mut ev).await;
    let (_erin, erin_id) = guest(&janus, 4005, Some("erin")).await;
    proxy.set_mode(Mode::Forward);
    assert_eq!(
        without_attempts(ev.until("participant_joined").await),
        ["connection_restored", "participant_joined"]
    );
    assert!(restored(&ev), "the claim kept our seat");
    assert_eq!(
        participant_joined(&ev),
        (erin_id.to_string(), "erin".into())
    );
    assert_eq!(own_id(&ev), me, "the same participant, no new server_info");
    // Nobody saw us go.
    let seen: Vec<u64> = host
        .list_participants(4005)
        .await
        .iter()
        .map(|p| p.0)
        .collect();
    assert!(seen.contains(&me), "{seen:?}");
    assert!(
        host.drain_events()
            .iter()
            .all(|e| janus_support::plugin_data(e).get("leaving").is_none())
    );
}

#[tokio::test]
async fn kicked_or_ended_while_away_is_found_out_on_return() {
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let (host, _) = host(&janus, 4006, "bob").await;
    let proxy = proxy_to(&janus).await;
    let (_s, mut ev) = joined(patient(&proxy.ws_url(), 4006, "alice").build().unwrap()).await;
    let me = own_id(&ev);
    ev.until("participant_joined").await;
    cut(&proxy, &mut ev).await;
    host.kick(4006, me, SECRET).await;
    proxy.set_mode(Mode::Forward);
    assert_eq!(
        without_attempts(ev.until("session_left").await),
        ["session_left"]
    );
    assert_eq!(left_because(&ev), LeftReason::Removed);

    let (_s2, mut ev2) = joined(patient(&proxy.ws_url(), 4006, "alice").build().unwrap()).await;
    ev2.until("participant_joined").await;
    cut(&proxy, &mut ev2).await;
    host.destroy_room(4006, SECRET).await;
    proxy.set_mode(Mode::Forward);
    assert_eq!(
        without_attempts(ev2.until("session_left").await),
        ["session_left"]
    );
    assert_eq!(left_because(&ev2), LeftReason::Ended);
    ev2.quiet_for(Duration::from_millis(300)).await;
}

#[tokio::test]
async fn past_the_reclaim_window_we_rejoin_as_new_with_our_old_id() {
    let Some(janus) = require_janus(ServerOptions {
        reclaim_timeout_secs: 1,
        ..ServerOptions::default()
    })
    .await
    else {
        return;
    };
    let (mut host, proxy, _s, mut ev) = call_via_proxy(&janus, 4007, JanusOptions::default()).await;
    let me = own_id(&ev);
    cut(&proxy, &mut ev).await;
    // Janus gives our seat up once the reclaim window is over.
    let left = host.wait_plugin_event("leaving", WAIT).await;
    assert_eq!(left["leaving"], me);
    proxy.set_mode(Mode::Forward);
    assert_eq!(
        without_attempts(ev.until("server_info").await),
        ["connection_restored", "server_info"]
    );
    assert!(!restored(&ev), "a new Janus session is not a resume");
    assert_eq!(own_id(&ev), me, "Janus let us have our old id back");
    let back = host.wait_plugin_event("joining", WAIT).await;
    assert_eq!(back["joining"]["id"], me);
}

#[tokio::test]
async fn with_the_stock_reclaim_timeout_of_zero_a_drop_is_always_a_full_rejoin() {
    let Some(janus) = require_janus(ServerOptions {
        reclaim_timeout_secs: 0,
        ..ServerOptions::default()
    })
    .await
    else {
        return;
    };
    let (mut host, proxy, _s, mut ev) = call_via_proxy(&janus, 4008, JanusOptions::default()).await;
    match ev.last("server_info") {
        Some(EventKind::ServerInfo(f)) => assert_eq!(f.resume_window, Some(Duration::ZERO)),
        other => panic!("{other:?}"),
    }
    cut(&proxy, &mut ev).await;
    host.wait_plugin_event("leaving", WAIT).await;
    proxy.set_mode(Mode::Forward);
    assert_eq!(
        without_attempts(ev.until("server_info").await),
        ["connection_restored", "server_info"]
    );
    assert!(!restored(&ev));
}

#[tokio::test]
async fn a_frozen_janus_is_noticed_and_the_session_comes_back_when_it_thaws() {
    let Some(mut janus) = require_janus(ServerOptions {
        session_timeout_secs: 30,
        reclaim_timeout_secs: 20,
        ..ServerOptions::default()
    })
    .await
    else {
        return;
    };
    let (_host, _) = host(&janus, 4009, "bob").await;
    let (_s, mut ev) = joined(patient(&janus.ws_url(), 4009, "alice").build().unwrap()).await;
    ev.until("participant_joined").await;
    janus.freeze();
    let lost = ev.until("connection_lost").await;
    assert_eq!(lost, ["connection_lost"]);
    match ev.last("connection_lost") {
        Some(EventKind::ConnectionLost { reason, .. }) => {
            assert!(reason.contains("heartbeat unanswered"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    janus.thaw();
    assert_eq!(
        without_attempts(ev.until("connection_restored").await),
        ["connection_restored"]
    );
    assert!(restored(&ev), "Janus kept our session while it was frozen");
}

#[tokio::test]
async fn janus_gone_for_good_closes_the_connection() {
    let Some(mut janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let (_s, mut ev) = joined(
        fast(&janus.ws_url(), 4010, "alice")
            .janus(create())
            .build()
            .unwrap(),
    )
    .await;
    janus.kill();
    assert_eq!(
        without_attempts(ev.until("connection_closed").await),
        [
            "idle_countdown_started",
            "connection_lost",
            "connection_closed"
        ]
    );
    match ev.last("connection_closed") {
        Some(EventKind::ConnectionClosed { reason }) => {
            assert!(
                reason.contains("gave up reconnecting after 6 attempts"),
                "{reason}"
            )
        }
        other => panic!("{other:?}"),
    }
}

fn create() -> JanusOptions {
    JanusOptions {
        create_room: true,
        ..JanusOptions::default()
    }
}

/// The reason of the `connection_closed` that ends a join refused at once.
async fn refused(settings: SessionSettings) -> String {
    let s = CallSession::new(settings);
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.join().await.unwrap();
    assert_eq!(
        ev.until("connection_closed").await,
        ["connecting", "connection_closed"]
    );
    match ev.last("connection_closed") {
        Some(EventKind::ConnectionClosed { reason }) => reason.clone(),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_missing_or_wrong_pin_and_a_missing_room_are_refused_by_name() {
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let mut p = janus.peer(None).await;
    p.create_session().await;
    p.attach_videoroom().await;
    p.create_room(4011, json!({"pin": "4242"})).await;
    let pin = |pin: &str| JanusOptions {
        pin: Some(Secret::new(pin)),
        ..JanusOptions::default()
    };
    let url = janus.ws_url();
    let r = refused(fast(&url, 4011, "alice").build().unwrap()).await;
    assert!(r.contains("needs a pin") && r.contains("429"), "{r}");
    let r = refused(
        fast(&url, 4011, "alice")
            .janus(pin("0000"))
            .build()
            .unwrap(),
    )
    .await;
    assert!(r.contains("wrong pin") && r.contains("433"), "{r}");
    let (_ok, _) = joined(
        fast(&url, 4011, "alice")
            .janus(pin("4242"))
            .build()
            .unwrap(),
    )
    .await;
    let r = refused(fast(&url, 4999, "alice").build().unwrap()).await;
    assert!(
        r.contains("no room 4999") && r.contains("janus.create_room"),
        "{r}"
    );
    let r = refused(
        SessionSettings::builder(&url, "standup", "alice")
            .backend(BackendKind::Janus)
            .build()
            .unwrap(),
    )
    .await;
    assert!(r.contains("numbers"), "{r}");
}

#[tokio::test]
async fn create_room_makes_the_room_and_a_fixed_id_is_used() {
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let j = JanusOptions {
        participant_id: Some(4242),
        ..create()
    };
    let (_s, ev) = joined(
        fast(&janus.ws_url(), 4012, "alice")
            .janus(j)
            .build()
            .unwrap(),
    )
    .await;
    assert_eq!(own_id(&ev), 4242);
    let (_bob, _) = guest(&janus, 4012, Some("bob")).await;
    let p = janus.peer(None).await;
    let mut p = p;
    p.create_session().await;
    p.attach_videoroom().await;
    let listed = p.list_participants(4012).await;
    assert!(
        listed
            .iter()
            .any(|(id, d)| *id == 4242 && d.as_deref() == Some("alice")),
        "{listed:?}"
    );
}

#[tokio::test]
async fn api_secret_and_token_are_sent_and_their_absence_is_refused() {
    // Separate servers: with both configured, Janus accepts either one.
    let Some(janus) = require_janus(ServerOptions {
        api_secret: Some("apisec".into()),
        ..ServerOptions::default()
    })
    .await
    else {
        return;
    };
    let url = janus.ws_url();
    let secret = |s: Option<&str>| JanusOptions {
        api_secret: s.map(Secret::new),
        ..create()
    };
    let (_ok, _) = joined(
        fast(&url, 4013, "alice")
            .janus(secret(Some("apisec")))
            .build()
            .unwrap(),
    )
    .await;
    for wrong in [None, Some("wrong")] {
        let r = refused(
            fast(&url, 4013, "bob")
                .janus(secret(wrong))
                .build()
                .unwrap(),
        )
        .await;
        assert!(r.contains("403") && r.contains("api_secret"), "{r}");
    }

    let Some(janus) = require_janus(ServerOptions {
        token_auth: true,
        ..ServerOptions::default()
    })
    .await
    else {
        return;
    };
    janus.admin_add_token("tok-alice").await;
    let url = janus.ws_url();
    let (_ok, _) = joined(
        fast(&url, 4014, "alice")
            .token("tok-alice")
            .janus(create())
            .build()
            .unwrap(),
    )
    .await;
    let r = refused(fast(&url, 4014, "bob").janus(create()).build().unwrap()).await;
    assert!(r.contains("403") && r.contains("token"), "{r}");
    let r = refused(
        fast(&url, 4014, "bob")
            .token("tok-nope")
            .janus(create())
            .build()
            .unwrap(),
    )
    .await;
    assert!(r.contains("403"), "{r}");
}

#[tokio::test]
async fn a_janus_session_timeout_is_a_loss_and_we_rejoin() {
    let Some(janus) = require_janus(ServerOptions {
        session_timeout_secs: 2,
        ..ServerOptions::default()
    })
    .await
    else {
        return;
    };
    let (_host, _) = host(&janus, 4014, "bob").await;
    // Heartbeats too rare for this Janus: it times our session out.
    let settings = patient(&janus.ws_url(), 4014, "alice")
        .heartbeat_interval(Duration::from_secs(30))
        .build()
        .unwrap();
    let s = CallSession::new(settings);
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.join().await.unwrap();
    assert_eq!(
        ev.until("connection_lost").await,
        [
            "connecting",
            "error",
            "session_joined",
            "server_info",
            "participant_joined",
            "connection_lost"
        ]
    );
    match (
        ev.all
            .iter()
            .find(|e| e.kind.name() == "error")
            .map(|e| &e.kind),
        ev.last("connection_lost"),
    ) {
        (Some(EventKind::Error { message }), Some(EventKind::ConnectionLost { reason, .. })) => {
            assert!(message.contains("session timeout"), "{message}");
            assert!(reason.contains("timed our session out"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        without_attempts(ev.until("connection_restored").await),
        ["connection_restored"]
    );
    assert!(!restored(&ev));
}

#[tokio::test]
async fn headless_prints_janus_events_as_ndjson_and_a_kick_exits_with_status_4() {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let mut host = janus.peer(None).await;
    host.create_session().await;
    host.attach_videoroom().await;
    host.start_keepalive(Duration::from_secs(2));
    host.create_room(
        4020,
        json!({"secret": SECRET, "pin": "p1n-4242", "notify_joining": true}),
    )
    .await;
    let bob = host
        .join_with(4020, Some("bob"), json!({"pin": "p1n-4242"}))
        .await["id"]
        .as_u64()
        .unwrap();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_calltop"))
        .args([
            "--headless",
            "--backend",
            "janus",
            "--server",
            &janus.ws_url(),
        ])
        .args([
            "--session",
            "4020",
            "--user",
            "alice",
            "--janus-pin",
            "p1n-4242",
        ])
        .env_remove("RUST_LOG")
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut lines: Vec<serde_json::Value> = Vec::new();
    let mut next = async || -> serde_json::Value {
        let line = tokio::time::timeout(WAIT, out.next_line())
            .await
            .expect("a line in time")
            .unwrap()
            .expect("stdout open");
        assert!(
            !line.contains("p1n-4242"),
            "the pin is never printed: {line}"
        );
        serde_json::from_str(&line).unwrap()
    };
    loop {
        let v = next().await;
        let done = v["event"] == "participant_joined";
        lines.push(v);
        if done {
            break;
        }
    }
    let names: Vec<&str> = lines.iter().map(|v| v["event"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "run_started",
            "connecting",
            "session_joined",
            "server_info",
            "participant_joined"
        ]
    );
    assert_eq!(lines[0]["run"]["backend"], "janus");
    assert_eq!(lines[0]["run"]["session"], "4020");
    assert_eq!(lines[2]["participants"], 1);
    assert_eq!(lines[3]["server"], "Janus WebRTC Server 1.1.2");
    assert_eq!(lines[3]["resume_window_ms"], 5000);
    assert_eq!(lines[4]["user"], "bob");
    assert_eq!(lines[4]["id"], bob.to_string());
    let me: u64 = lines[3]["own_id"].as_str().unwrap().parse().unwrap();
    host.kick(4020, me, SECRET).await;
    let left = next().await;
    assert_eq!(left["event"], "session_left");
    assert_eq!(left["reason"], "removed");
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(4), "removed: exit status 4");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .await
        .unwrap();
    assert!(!err.contains("p1n-4242"), "{err}");
}

#[tokio::test]
async fn in_a_room_that_does_not_announce_joins_the_heartbeat_finds_newcomers() {
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let mut p = janus.peer(None).await;
    p.create_session().await;
    p.attach_videoroom().await;
    p.start_keepalive(Duration::from_secs(2));
    p.create_room(4021, json!({"secret": SECRET})).await;
    let (_s, mut ev) = joined(fast(&janus.ws_url(), 4021, "alice").build().unwrap()).await;
    assert_eq!(ev.take(1).await, ["idle_countdown_started"]);
    let (mut quiet, quiet_id) = guest(&janus, 4021, Some("quiet")).await;
    assert_eq!(
        ev.take(2).await,
        ["participant_joined", "idle_countdown_cancelled"]
    );
    assert_eq!(
        participant_joined(&ev),
        (quiet_id.to_string(), "quiet".into())
    );
    quiet.leave().await;
    assert_eq!(
        ev.take(2).await,
        ["participant_left", "idle_countdown_started"]
    );
}

#[tokio::test]
async fn with_reclaim_zero_a_room_destroyed_while_away_ends_the_session_and_is_not_recreated() {
    let Some(janus) = require_janus(ServerOptions {
        reclaim_timeout_secs: 0,
        ..ServerOptions::default()
    })
    .await
    else {
        return;
    };
    // Even with create_room: a room an administrator destroyed stays gone.
    let (mut host, proxy, _s, mut ev) = call_via_proxy(&janus, 4022, create()).await;
    cut(&proxy, &mut ev).await;
    host.wait_plugin_event("leaving", WAIT).await;
    host.destroy_room(4022, SECRET).await;
    proxy.set_mode(Mode::Forward);
    assert_eq!(
        without_attempts(ev.until("session_left").await),
        ["session_left"]
    );
    assert_eq!(left_because(&ev), LeftReason::Ended);
    let p = janus.peer(None).await;
    let mut p = p;
    p.create_session().await;
    p.attach_videoroom().await;
    let exists = p.message(json!({"request": "exists", "room": 4022})).await;
    assert_eq!(exists["exists"], false, "not created again: {exists}");
}

fn lost_injected(ev: &Events) -> (String, bool) {
    match ev.last("connection_lost") {
        Some(EventKind::ConnectionLost { reason, injected }) => (reason.clone(), *injected),
        other => panic!("no connection_lost: {other:?}"),
    }
}

#[tokio::test]
async fn injected_drop_is_claimed_back_and_a_forgotten_token_means_a_full_rejoin() {
    use calltop::engine::Fault;
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let (_host, _) = host(&janus, 4101, "bob").await;
    let (s, mut ev) = joined(patient(&janus.ws_url(), 4101, "alice").build().unwrap()).await;
    ev.until("participant_joined").await;
    // A cut cable: Janus keeps the session for its reclaim window, and we claim it.
    s.inject(Fault::Drop).await.unwrap();
    assert_eq!(
        without_attempts(ev.until("connection_restored").await),
        ["fault_injected", "connection_lost", "connection_restored"]
    );
    assert!(lost_injected(&ev).1, "marked injected");
    assert!(restored(&ev), "claimed back");
    // Without the token, the next reconnect is a new Janus session.
    s.inject(Fault::ForgetResume).await.unwrap();
    s.inject(Fault::Drop).await.unwrap();
    ev.until("connection_restored").await;
    assert!(!restored(&ev), "joined again as new");
    s.leave().await.unwrap();
    ev.until("session_left").await;
}

#[tokio::test]
async fn an_injected_stall_is_found_by_the_keepalive_and_the_call_comes_back() {
    use calltop::engine::Fault;
    let Some(janus) = require_janus(ServerOptions::default()).await else {
        return;
    };
    let (_host, _) = host(&janus, 4102, "bob").await;
    let (s, mut ev) = joined(patient(&janus.ws_url(), 4102, "alice").build().unwrap()).await;
    ev.until("participant_joined").await;
    s.inject(Fault::Stall {
        duration: Duration::from_secs(10),
    })
    .await
    .unwrap();
    ev.until("connection_restored").await;
    let (reason, injected) = lost_injected(&ev);
    assert!(injected, "{reason}");
    assert!(reason.contains("heartbeat unanswered"), "{reason}");
    s.leave().await.unwrap();
    ev.until("session_left").await;
}

//! Smoke tests of the Janus test infrastructure (tests/janus_support): a real
//! Janus starts, answers, freezes, refuses unauthenticated requests, and
//! leaves nothing behind. If these fail, every Janus test after them is moot.
//! Skipped without a `janus` binary, except under `CI`.

mod janus_support;

use std::time::{Duration, Instant};

use janus_support::{JanusOptions, JanusPeer, WAIT, plugin_data, require_janus};
use serde_json::json;

/// A peer with a session and a VideoRoom handle.
async fn peer_with_handle(url: &str) -> JanusPeer {
    let mut peer = JanusPeer::connect(url, None, None).await;
    peer.create_session().await;
    peer.attach_videoroom().await;
    peer
}

#[tokio::test]
async fn room_join_rename_list_and_kick() {
    let Some(janus) = require_janus(JanusOptions::default()).await else {
        return;
    };
    eprintln!("janus started in {:?}", janus.startup);
    let room = 4001;
    let owner = peer_with_handle(&janus.ws_url()).await;
    owner
        .create_room(room, json!({"secret": "s", "notify_joining": true}))
        .await;

    let mut bob = peer_with_handle(&janus.ws_url()).await;
    let bob_id = bob.join(room, Some("bob")).await;
    let mut carol = peer_with_handle(&janus.ws_url()).await;
    let carol_joined = carol.join_with(room, Some("carol"), json!({})).await;
    let carol_id = carol_joined["id"].as_u64().unwrap();
    // notify_joining: carol sees bob already there, bob sees carol arrive.
    assert_eq!(carol_joined["attendees"][0]["id"], bob_id, "{carol_joined}");
    let joining = bob.wait_plugin_event("joining", WAIT).await;
    assert_eq!(joining["joining"]["id"], carol_id);
    assert_eq!(joining["joining"]["display"], "carol");

    bob.rename("bobby").await;
    let renamed = carol
        .wait_event(WAIT, "renaming bob", |e| {
            plugin_data(e)["display"] == "bobby"
        })
        .await;
    assert_eq!(plugin_data(&renamed)["id"], bob_id, "{renamed}");

    let mut listed = owner.list_participants(room).await;
    listed.sort();
    let mut expected = vec![
        (bob_id, Some("bobby".to_owned())),
        (carol_id, Some("carol".to_owned())),
    ];
    expected.sort();
    assert_eq!(listed, expected);

    owner.kick(room, carol_id, "s").await;
    let kicked = carol.wait_plugin_event("leaving", WAIT).await;
    assert_eq!(kicked["leaving"], "ok", "{kicked}");
    assert_eq!(kicked["reason"], "kicked", "{kicked}");
    let seen = bob.wait_plugin_event("kicked", WAIT).await;
    assert_eq!(seen["kicked"], carol_id);
    assert_eq!(
        owner.list_participants(room).await,
        vec![(bob_id, Some("bobby".to_owned()))]
    );

    owner.destroy_room(room, "s").await;
    bob.wait_plugin_event("destroyed", WAIT).await;
}

#[tokio::test]
async fn freeze_makes_janus_silent_until_thaw() {
    let Some(mut janus) = require_janus(JanusOptions::default()).await else {
        return;
    };
    let mut peer = JanusPeer::connect(&janus.ws_url(), None, None).await;
    peer.create_session().await;

    janus.freeze();
    assert!(janus.is_running(), "a frozen Janus is still a process");
    assert!(
        !peer.try_ping(Duration::from_millis(500)).await,
        "a frozen Janus answered a ping"
    );
    let url = janus.ws_url();
    let connect = JanusPeer::try_connect(&url, None, None, Duration::from_millis(500)).await;
    assert!(connect.is_err(), "a frozen Janus completed a handshake");

    janus.thaw();
    assert!(peer.try_ping(WAIT).await, "no pong after thaw");
    peer.keepalive().await;
    JanusPeer::connect(&janus.ws_url(), None, None)
        .await
        .ping()
        .await;
}

#[tokio::test]
async fn api_secret_instance_refuses_requests_without_it() {
    let opts = JanusOptions {
        api_secret: Some("sekrit".into()),
        ..JanusOptions::default()
    };
    let Some(janus) = require_janus(opts).await else {
        return;
    };
    let mut anonymous = JanusPeer::connect(&janus.ws_url(), None, None).await;
    let refused = anonymous.try_create_session().await;
    assert_eq!(refused["janus"], "error", "{refused}");
    assert_eq!(refused["error"]["code"], 403, "{refused}");
    let mut wrong = JanusPeer::connect(&janus.ws_url(), Some("wrong"), None).await;
    assert_eq!(wrong.try_create_session().await["error"]["code"], 403);

    let mut peer = janus.peer(None).await;
    peer.create_session().await;
    peer.attach_videoroom().await;
    peer.create_room(5, json!({})).await;
    peer.join(5, Some("alice")).await;
}

#[tokio::test]
async fn token_instance_refuses_requests_without_a_token() {
    let opts = JanusOptions {
        token_auth: true,
        ..JanusOptions::default()
    };
    let Some(janus) = require_janus(opts).await else {
        return;
    };
    let mut anonymous = JanusPeer::connect(&janus.ws_url(), None, None).await;
    let refused = anonymous.try_create_session().await;
    assert_eq!(refused["error"]["code"], 403, "{refused}");
    let mut unknown = JanusPeer::connect(&janus.ws_url(), None, Some("tok-alice")).await;
    assert_eq!(unknown.try_create_session().await["error"]["code"], 403);

    janus.admin_add_token("tok-alice").await;
    let mut peer = janus.peer(Some("tok-alice")).await;
    peer.create_session().await;
    peer.attach_videoroom().await;
    peer.keepalive().await;
    let tokens = janus.admin_request(json!({"janus": "list_tokens"})).await;
    assert_eq!(
        tokens["data"]["tokens"][0]["token"], "tok-alice",
        "{tokens}"
    );
}

#[tokio::test]
async fn admin_key_instance_needs_it_to_create_rooms() {
    let opts = JanusOptions {
        admin_key: Some("roomkey".into()),
        ..JanusOptions::default()
    };
    let Some(janus) = require_janus(opts).await else {
        return;
    };
    let peer = peer_with_handle(&janus.ws_url()).await;
    let refused = peer
        .try_message(json!({"request": "create", "room": 7}))
        .await;
    assert!(plugin_data(&refused)["error_code"].is_number(), "{refused}");
    peer.create_room(7, json!({"admin_key": "roomkey"})).await;
}

#[tokio::test]
async fn aborted_socket_leaves_a_claimable_session() {
    let opts = JanusOptions {
        reclaim_timeout_secs: 5,
        ..JanusOptions::default()
    };
    let Some(janus) = require_janus(opts).await else {
        return;
    };
    let room = 9;
    let owner = peer_with_handle(&janus.ws_url()).await;
    owner
        .create_room(room, json!({"notify_joining": true}))
        .await;
    let mut dave = peer_with_handle(&janus.ws_url()).await;
    let dave_id = dave.join(room, Some("dave")).await;
    let session = dave.session_id.unwrap();

    dave.abort().await;
    assert!(dave.is_closed());
    let mut back = JanusPeer::connect(&janus.ws_url(), None, None).await;
    let claimed = back.claim(session).await;
    assert_eq!(claimed["janus"], "success", "{claimed}");
    let listed = owner.list_participants(room).await;
    assert!(
        listed.contains(&(dave_id, Some("dave".into()))),
        "{listed:?}"
    );
}

#[tokio::test]
async fn instances_start_in_parallel_and_clean_up() {
    if !janus_support::janus_or_skip() {
        return;
    }
    let began = Instant::now();
    let (a, b, c) = tokio::join!(
        janus_support::Janus::start(JanusOptions::default()),
        janus_support::Janus::start(JanusOptions::default()),
        janus_support::Janus::start(JanusOptions::default()),
    );
    eprintln!(
        "3 parallel starts in {:?} (each {:?}, {:?}, {:?})",
        began.elapsed(),
        a.startup,
        b.startup,
        c.startup
    );
    for j in [&a, &b, &c] {
        let info = JanusPeer::connect(&j.ws_url(), None, None)
            .await
            .info()
            .await;
        assert_eq!(info["server-name"], j.server_name(), "{info}");
        assert_eq!(info["session-timeout"], 10);
        assert_eq!(info["reclaim-session-timeout"], 5);
        let plugins: Vec<&String> = info["plugins"].as_object().unwrap().keys().collect();
        assert_eq!(plugins, ["janus.plugin.videoroom"], "{info}");
        let transports: Vec<&String> = info["transports"].as_object().unwrap().keys().collect();
        assert_eq!(transports, ["janus.transport.websockets"], "{info}");
    }
    let (pid, dir) = (a.pid(), a.dir().to_owned());
    a.stop();
    assert!(!dir.exists(), "stop left {}", dir.display());
    let alive = std::process::Command::new("kill")
        .args(["-0", &pid.to_string()])
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(!alive.success(), "janus {pid} still runs after stop");
    drop((b, c));
}

#[tokio::test]
async fn background_keepalive_holds_the_session_until_stopped() {
    let opts = JanusOptions {
        session_timeout_secs: 2,
        ..JanusOptions::default()
    };
    let Some(janus) = require_janus(opts).await else {
        return;
    };
    let mut peer = JanusPeer::connect(&janus.ws_url(), None, None).await;
    let session = peer.create_session().await;
    // The default 2 s period is too close to this instance's 2 s timeout.
    peer.start_keepalive(Duration::from_secs(1));
    // Longer than session_timeout, with only the background keepalive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    peer.keepalive().await;

    peer.stop_keepalive();
    // Janus's watchdog ticks every 2 s: the timeout comes 2-4 s after the last request.
    let timeout = peer
        .wait_event(Duration::from_secs(8), "`timeout`", |e| {
            e["janus"] == "timeout"
        })
        .await;
    assert_eq!(timeout["session_id"], session, "{timeout}");
    let gone = peer.session_request(json!({"janus": "keepalive"})).await;
    assert_eq!(gone["error"]["code"], 458, "{gone}");
}

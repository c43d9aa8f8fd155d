//! Bad input over real sockets: a server that lies to the client, and clients
//! that send garbage to the reference server.

mod support;

use std::time::Duration;

use calltop::CallSession;
use calltop::event::EventKind;
use calltop::server::{self, ServerConfig};
use calltop::settings::SessionSettings;
use futures_util::{SinkExt, StreamExt};
use support::Events;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const JOINED: &str = r#"{"type":"joined","v":1,"session":"room","user":"alice","resumed":false,"resume_token":"t","resume_window_ms":30000,"participants":[]}"#;

/// A one-connection WebSocket server that answers the join, then sends `script`.
async fn lying_server(script: Vec<Message>) -> String {
    support::scripted_server(JOINED.to_owned(), script).await
}

#[tokio::test]
async fn garbage_from_the_server_is_reported_and_the_session_goes_on() {
    let url = lying_server(vec![
        Message::text("this is not json"),
        Message::text(r#"{"type":"teleport","to":"mars"}"#),
        Message::text(r#"{"type":"participant_left","user":"nobody"}"#),
        Message::text(JOINED),
        Message::binary(vec![0u8, 1, 2]),
        Message::text(format!(r#"{{"type":"participant_joined","user":"{}","joined_at":"x"}}"#, "x".repeat(70_000))),
        Message::text(r#"{"type":"participant_joined","user":"bob\u001b[2J","joined_at":"2026-11-25T04:30:00Z"}"#),
        Message::text(r#"{"type":"participant_joined","user":"bob","joined_at":"2026-11-25T04:30:00Z"}"#),
    ])
    .await;
    let s = CallSession::new(
        SessionSettings::builder(url, "room", "alice")
            .build()
            .unwrap(),
    );
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.join().await.unwrap();
    assert_eq!(
        ev.take(12).await,
        [
            "connecting",
            "session_joined",
            "server_info",
            "idle_countdown_started",
            "error",
            "error",
            "error",
            "error",
            "error",
            "error",
            "error",
            "participant_joined",
        ]
    );
    let messages: Vec<String> = ev
        .all
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Error { message } => Some(message.clone()),
            _ => None,
        })
        .collect();
    assert!(messages[0].contains("malformed"), "{messages:?}");
    assert!(messages[1].contains("teleport"), "{messages:?}");
    assert!(messages[2].contains("nobody"), "{messages:?}");
    assert!(messages[3].contains("unexpected joined"), "{messages:?}");
    assert!(messages[4].contains("binary"), "{messages:?}");
    assert!(messages[5].contains("limit"), "{messages:?}");
    // A name the protocol does not allow (an escape sequence in it) is
    // refused, not followed: only the real bob is here.
    assert!(
        messages[6]
            .contains(r"ignored participant bob\u{1b}[2J: a user name with control characters"),
        "{messages:?}"
    );
    match ev.last("participant_joined") {
        Some(EventKind::ParticipantJoined { user, .. }) => assert_eq!(user, "bob"),
        other => panic!("{other:?}"),
    }
    assert_eq!(ev.take(1).await, ["idle_countdown_cancelled"]);
    s.leave().await.unwrap();
    assert_eq!(ev.take(2).await, ["leaving", "session_left"]);
}

#[tokio::test]
async fn a_server_speaking_another_protocol_version_closes_once() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
        let _ = ws.next().await;
        let _ = ws
            .send(Message::text(JOINED.replace("\"v\":1", "\"v\":2")))
            .await;
        tokio::time::sleep(Duration::from_secs(5)).await;
    });
    let s = CallSession::new(
        SessionSettings::builder(format!("ws://{addr}/ws"), "room", "alice")
            .build()
            .unwrap(),
    );
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.join().await.unwrap();
    assert_eq!(ev.take(2).await, ["connecting", "connection_closed"]);
    match ev.last("connection_closed") {
        Some(EventKind::ConnectionClosed { reason }) => {
            assert!(reason.contains("version 2"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    ev.quiet_for(Duration::from_millis(300)).await;
}

async fn raw_client(
    url: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    tokio_tungstenite::connect_async(url).await.unwrap().0
}

/// Reads until the server closes; returns the error code it sent and the close code.
async fn refusal(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> (String, Option<u16>) {
    let mut code = String::new();
    loop {
        match tokio::time::timeout(support::WAIT, ws.next())
            .await
            .expect("server answered")
        {
            Some(Ok(Message::Text(t))) => {
                let v: serde_json::Value = serde_json::from_str(t.as_str()).unwrap();
                if v["type"] == "error" {
                    code = v["code"].as_str().unwrap().to_owned();
                }
            }
            Some(Ok(Message::Close(f))) => return (code, f.map(|f| u16::from(f.code))),
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return (code, None),
        }
    }
}

#[tokio::test]
async fn the_server_closes_a_misbehaving_client_and_everyone_else_carries_on() {
    let srv = server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        max_frame_bytes: 4096,
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let url = srv.ws_url();
    let (good, mut g) = {
        let s = CallSession::new(
            SessionSettings::builder(&url, "room", "good")
                .build()
                .unwrap(),
        );
        let mut ev = Events::new(s.subscribe().await.unwrap());
        s.join().await.unwrap();
        ev.until("idle_countdown_started").await;
        (s, ev)
    };

    let cases: Vec<(Message, &str, u16)> = vec![
        (Message::text("{not json"), "bad_frame", 4000),
        (Message::text(r#"{"type":"fly"}"#), "bad_frame", 4000),
        (Message::text("x".repeat(5000)), "frame_too_large", 1009),
        (
            Message::text(r#"{"type":"join","v":9,"session":"room","user":"x"}"#),
            "unsupported_version",
            4001,
        ),
        (
            Message::text(r#"{"type":"join","v":1,"session":"","user":"x"}"#),
            "invalid_name",
            4005,
        ),
        (Message::binary(vec![1u8, 2, 3]), "bad_frame", 4000),
    ];
    for (msg, want_code, want_close) in cases {
        let mut ws = raw_client(&url).await;
        ws.send(msg).await.unwrap();
        let (code, close) = refusal(&mut ws).await;
        assert_eq!((code.as_str(), close), (want_code, Some(want_close)));
    }
    // A leave before any join is an error but not the end of the connection.
    let mut ws = raw_client(&url).await;
    ws.send(Message::text(r#"{"type":"leave"}"#)).await.unwrap();
    let first = ws.next().await.unwrap().unwrap();
    assert!(first.to_text().unwrap().contains("unexpected_message"));
    ws.send(Message::text(r#"{"type":"ping","seq":7}"#))
        .await
        .unwrap();
    let pong = ws.next().await.unwrap().unwrap();
    assert_eq!(pong.to_text().unwrap(), r#"{"type":"pong","seq":7}"#);

    // The well-behaved member saw none of it and is still in.
    g.quiet_for(Duration::from_millis(300)).await;
    assert_eq!(support::listed_users(&srv, "room").await, ["good"]);
    good.leave().await.unwrap();
    assert_eq!(g.take(2).await, ["leaving", "session_left"]);
}

#[test]
fn invalid_settings_are_refused_before_anything_starts() {
    for (url, session, user, setting) in [
        ("not a url", "room", "alice", "server"),
        ("http://127.0.0.1:1/", "room", "alice", "server"),
        ("ws://127.0.0.1:1/ws", "", "alice", "session"),
        ("ws://127.0.0.1:1/ws", "room", "al\u{7}ice", "user"),
    ] {
        let e = SessionSettings::builder(url, session, user)
            .build()
            .unwrap_err();
        assert_eq!(e.setting, setting, "{e}");
        assert!(e.to_string().contains("expected"), "{e}");
    }
    let e = SessionSettings::builder("ws://127.0.0.1:1/ws", "room", "alice")
        .heartbeat_interval(Duration::ZERO)
        .build()
        .unwrap_err();
    assert_eq!(e.setting, "heartbeat_interval");
}

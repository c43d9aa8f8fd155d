//! `top`'s source for the reference server against the real thing (over
//! HTTP on 127.0.0.1, real clients joining and going), and against servers
//! that answer what no admin API would: every failure is an error that says
//! what happened, never a panic.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use calltop::server::{self, ServerConfig, ServerHandle};
use calltop::settings::Secret;
use calltop::top::calltop_api::{CalltopAdmin, Endpoints};
use calltop::top::diff::{Change, diff};
use calltop::top::source::{Snapshot, SourceError};

async fn start() -> ServerHandle {
    server::start(ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..ServerConfig::default()
    })
    .await
    .unwrap()
}

fn source(url: &str, token: &str) -> CalltopAdmin {
    CalltopAdmin::new(
        &Endpoints::of(url).unwrap(),
        Secret::new(token),
        Duration::from_secs(5),
    )
}

/// A client on calltop's protocol that joins and then, when told, lets its
/// socket die without a word (the server keeps its place for a resume).
async fn raw_join(
    srv: &ServerHandle,
    session: &str,
    user: &str,
) -> tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>> {
    let (mut ws, _) = tokio_tungstenite::connect_async(srv.ws_url())
        .await
        .unwrap();
    let join = serde_json::json!({"type": "join", "v": 1, "session": session, "user": user});
    ws.send(Message::text(join.to_string())).await.unwrap();
    let reply = ws.next().await.unwrap().unwrap();
    assert!(reply.to_string().contains("\"joined\""), "{reply}");
    ws
}

/// Polls `src` until `ok` holds for its snapshot (each poll a real request).
async fn until(src: &mut CalltopAdmin, what: &str, ok: impl Fn(&Snapshot) -> bool) -> Snapshot {
    let deadline = tokio::time::Instant::now() + support::WAIT;
    loop {
        let snap = src.fetch().await.unwrap();
        if ok(&snap) {
            return snap;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}; last: {snap:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn users(snap: &Snapshot, session: &str) -> Vec<(String, Option<bool>)> {
    snap.session(session)
        .map(|s| {
            s.members
                .iter()
                .map(|m| (m.id.clone(), m.connected))
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn the_real_server_is_read_as_it_is_and_polls_diff_into_what_happened() {
    let srv = start().await;
    let mut src = source(&srv.ws_url(), &srv.admin_token);
    let first = src.fetch().await.unwrap();
    assert!(first.sessions().is_empty());

    let mut alice = raw_join(&srv, "standup", "alice").await;
    let bob = raw_join(&srv, "standup", "bob").await;
    let before = until(&mut src, "alice and bob", |s| {
        users(s, "standup").len() == 2
    })
    .await;
    assert_eq!(
        users(&before, "standup"),
        [("alice".into(), Some(true)), ("bob".into(), Some(true))]
    );
    let joined = before.session("standup").unwrap().members[0]
        .joined_at
        .unwrap();
    let age = std::time::SystemTime::now().duration_since(joined).unwrap();
    assert!(
        age < support::WAIT,
        "joined_at is the join's time: {age:?} ago"
    );

    // Bob's socket dies (his place is kept), alice leaves, carol opens a session.
    drop(bob);
    alice
        .send(Message::text(r#"{"type":"leave"}"#))
        .await
        .unwrap();
    let _carol = raw_join(&srv, "retro", "carol").await;
    let after = until(&mut src, "bob away, alice gone, carol in retro", |s| {
        users(s, "standup") == [("bob".to_owned(), Some(false))] && s.session("retro").is_some()
    })
    .await;
    let changes = diff(&before, &after);
    let words: Vec<String> = changes
        .iter()
        .map(|c| match c {
            Change::Opened { session, .. } => format!("opened {session}"),
            Change::Joined { session, member } => format!("{} joined {session}", member.id),
            Change::Left { session, member } => format!("{} left {session}", member.id),
            Change::Dropped { session, member } => format!("{} dropped in {session}", member.id),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(
        words,
        [
            "opened retro",
            "carol joined retro",
            "alice left standup",
            "bob dropped in standup"
        ]
    );
    srv.shutdown().await;
}

#[tokio::test]
async fn a_wrong_token_is_named_and_a_server_that_is_not_there_is_unreachable() {
    let srv = start().await;
    let e = source(&srv.http_url(), "not-the-token")
        .fetch()
        .await
        .unwrap_err();
    assert!(
        matches!(e, SourceError::Unauthorized { status: 401, .. }),
        "{e}"
    );
    assert!(e.to_string().contains("--admin-token"), "{e}");
    let url = srv.http_url();
    srv.shutdown().await;
    let e = source(&url, "x").fetch().await.unwrap_err();
    assert!(matches!(e, SourceError::Unreachable { .. }), "{e}");
    assert!(
        e.to_string()
            .starts_with(&format!("cannot reach {url}/api/sessions")),
        "{e}"
    );
}

/// A server on loopback that answers every request with `response`, raw.
async fn liar(response: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            let response = response.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = tcp.read(&mut buf).await;
                let _ = tcp.write_all(&response).await;
                // Then the connection ends, whatever the response promised.
            });
        }
    });
    format!("http://{addr}")
}

fn http_ok(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

#[tokio::test]
async fn a_server_that_lies_gets_an_error_that_says_how_never_a_panic() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (http_ok("<html>hello</html>"), "not JSON"),
        (http_ok(r#"{"rooms":[]}"#), "missing field `sessions`"),
        (
            http_ok(r#"{"sessions":[{"id":"a","participants":[]},{"id":"a","participants":[]}]}"#),
            "session \"a\" is listed twice",
        ),
        (
            http_ok(
                r#"{"sessions":[{"id":"a","participants":[{"user":"bo","joined_at":"soon","connected":true}]}]}"#,
            ),
            "joined_at \"soon\" is not an RFC 3339 time",
        ),
        (
            // Promises more than it sends, then hangs up.
            b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n{\"sessions\":[".to_vec(),
            "cannot reach",
        ),
        (
            b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 5\r\n\r\noops!".to_vec(),
            "answered HTTP 500: oops!",
        ),
        (b"SSH-2.0-OpenSSH_9.2\r\n".to_vec(), "cannot reach"),
    ];
    for (response, words) in cases {
        let url = liar(response).await;
        let e = source(&url, "t").fetch().await.unwrap_err().to_string();
        assert!(e.contains(words), "{words:?} not in: {e}");
    }
}

#[tokio::test]
async fn a_server_that_never_answers_is_a_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let mut src = CalltopAdmin::new(
        &Endpoints::of(&url).unwrap(),
        Secret::new("t"),
        Duration::from_millis(300),
    );
    let e = src.fetch().await.unwrap_err();
    assert!(matches!(e, SourceError::Timeout { .. }), "{e}");
    assert!(e.to_string().contains("no answer from"), "{e}");
    drop(listener);
}

//! A hostile server cannot sink the client: names the protocol does not
//! allow are refused with an `error`, and the participant list stops at its
//! cap (and says so) however many joins a server announces.

mod support;

use calltop::event::EventKind;
use calltop::{CallSession, SessionSettings};
use support::Events;
use tokio_tungstenite::tungstenite::Message;

fn joined(participants: &[&str]) -> String {
    let list: Vec<String> = participants
        .iter()
        .map(|u| {
            format!(
                r#"{{"user":{},"joined_at":"2026-11-25T04:30:00Z"}}"#,
                serde_json::to_string(u).unwrap()
            )
        })
        .collect();
    format!(
        r#"{{"type":"joined","v":1,"session":"room","user":"alice","resumed":false,"resume_token":"t","resume_window_ms":30000,"participants":[{}]}}"#,
        list.join(",")
    )
}

fn participant_joined(user: &str) -> String {
    format!(
        r#"{{"type":"participant_joined","user":{},"joined_at":"2026-11-25T04:30:00Z"}}"#,
        serde_json::to_string(user).unwrap()
    )
}

/// One connection: the join answered with `first`, then `frames` as fast
/// as the socket takes them, then a quiet server that answers the leave.
async fn hostile_server(first: String, frames: Vec<String>) -> String {
    support::scripted_server(first, frames.into_iter().map(Message::text).collect()).await
}

fn errors(ev: &Events) -> Vec<String> {
    ev.all
        .iter()
        .filter_map(|e| match &e.kind {
            EventKind::Error { message } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

fn present(ev: &Events) -> Vec<String> {
    let mut here = std::collections::BTreeSet::new();
    for e in &ev.all {
        match &e.kind {
            EventKind::ParticipantJoined { id, .. } => {
                here.insert(id.clone());
            }
            EventKind::ParticipantLeft { id, .. } => {
                here.remove(id);
            }
            _ => {}
        }
    }
    here.into_iter().collect()
}

#[tokio::test]
async fn names_the_protocol_does_not_allow_are_refused_with_an_error() {
    let long = "x".repeat(65);
    let huge = "y".repeat(60_000);
    let url = hostile_server(
        joined(&["bob", "", "eve\u{9b}2J", &long]),
        vec![
            participant_joined("carol"),
            participant_joined(&huge),
            participant_joined("mallory\u{7}"),
            participant_joined("dave"),
        ],
    )
    .await;
    let s = CallSession::new(
        SessionSettings::builder(url, "room", "alice")
            .build()
            .unwrap(),
    );
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.join().await.unwrap();
    ev.until("session_joined").await;
    // Everyone after the join announced, the refused ones as errors.
    while !present(&ev).contains(&"dave".to_owned()) {
        ev.next().await;
    }
    assert_eq!(present(&ev), ["bob", "carol", "dave"]);
    let errors = errors(&ev);
    assert_eq!(errors.len(), 5, "{errors:?}");
    for (e, why) in errors.iter().zip([
        "an empty user name",
        "a user name with control characters",
        "a user name of 65 characters (at most 64)",
        "a user name of 60000 characters (at most 64)",
        "a user name with control characters",
    ]) {
        assert!(e.starts_with("ignored participant "), "{e}");
        assert!(e.ends_with(why), "{e} / {why}");
        assert!(e.len() < 200, "the error quotes a name, not all of it: {e}");
    }
    s.leave().await.unwrap();
    ev.until("session_left").await;
}

#[tokio::test]
async fn the_participant_list_stops_at_its_cap_and_says_so_once() {
    let cap = SessionSettings::DEFAULT_MAX_PARTICIPANTS;
    let mut frames: Vec<String> = (0..cap + 2_000)
        .map(|i| participant_joined(&format!("p{i}")))
        .collect();
    // The last word, to know the flood has been read.
    frames.push(r#"{"type":"participant_left","user":"p0"}"#.into());
    let url = hostile_server(joined(&[]), frames).await;
    let s = CallSession::new(
        SessionSettings::builder(url, "room", "alice")
            .build()
            .unwrap(),
    );
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.join().await.unwrap();
    ev.until("participant_left").await;
    s.leave().await.unwrap();
    ev.until("session_left").await;
    let joined = ev
        .all
        .iter()
        .filter(|e| matches!(e.kind, EventKind::ParticipantJoined { .. }))
        .count();
    assert_eq!(joined, cap, "p0 to p{} and no more", cap - 1);
    assert_eq!(present(&ev).len(), cap - 1, "p0 has left");
    assert_eq!(
        errors(&ev),
        [format!(
            "more than {cap} participants: calltop follows the first {cap} (session.max_participants)"
        )]
    );
}

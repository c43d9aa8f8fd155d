//! `top`'s Janus source against a real Janus 1.1.2 on 127.0.0.1 (started
//! per test from `assets/janus/`): rooms with their descriptions and people,
//! private rooms only with the VideoRoom admin_key, the api_secret, join
//! times from the Admin API, and what changed between two polls.
//!
//! Without a `janus` binary these tests fail in CI (`.ci/run` installs it)
//! and skip with a message elsewhere, as tests/janus.rs does.

mod janus_support;

use std::time::{Duration, SystemTime};

use janus_support::{Janus, JanusOptions, JanusPeer, require_janus};
use serde_json::json;

use calltop::settings::Secret;
use calltop::top::diff::{Change, diff};
use calltop::top::janus_api::{JanusAccess, JanusRooms};
use calltop::top::source::{Snapshot, SourceError};

const ADMIN_KEY: &str = "vr-admin-key";
const API_SECRET: &str = "api-secret";

async fn peer(janus: &Janus) -> JanusPeer {
    let mut p = janus.peer(None).await;
    p.create_session().await;
    p.attach_videoroom().await;
    p.start_keepalive(Duration::from_secs(2));
    p
}

fn access(admin_key: bool) -> JanusAccess {
    JanusAccess {
        api_secret: Some(Secret::new(API_SECRET)),
        admin_key: admin_key.then(|| Secret::new(ADMIN_KEY)),
        ..JanusAccess::default()
    }
}

fn rooms(janus: &Janus, access: JanusAccess) -> JanusRooms {
    JanusRooms::new(&janus.ws_url(), access, Duration::from_secs(5))
}

/// The display names in `room`, sorted.
fn names(snap: &Snapshot, room: &str) -> Vec<String> {
    let mut n: Vec<String> = snap
        .session(room)
        .map(|s| s.members.iter().map(|m| m.name.clone()).collect())
        .unwrap_or_default();
    n.sort();
    n
}

#[tokio::test]
async fn rooms_private_rooms_people_and_changes_from_a_real_janus() {
    let Some(janus) = require_janus(JanusOptions {
        api_secret: Some(API_SECRET.into()),
        admin_key: Some(ADMIN_KEY.into()),
        ..JanusOptions::default()
    })
    .await
    else {
        return;
    };
    let mut host = peer(&janus).await;
    host.create_room(
        4001,
        json!({"admin_key": ADMIN_KEY, "description": "standup", "notify_joining": true}),
    )
    .await;
    host.create_room(
        4002,
        json!({"admin_key": ADMIN_KEY, "description": "Hidden Room", "is_private": true}),
    )
    .await;
    let alice_id = host.join(4001, Some("alice")).await;
    let mut bob = peer(&janus).await;
    bob.join(4001, Some("bob")).await;
    let mut carol = peer(&janus).await;
    carol.join(4002, Some("carol")).await;

    // Without the admin_key, a private room is not listed at all.
    let public = rooms(&janus, access(false)).fetch().await.unwrap();
    assert!(public.session("4002").is_none(), "{public:?}");
    assert_eq!(names(&public, "4001"), ["alice", "bob"]);
    let standup = public.session("4001").unwrap();
    assert_eq!(standup.description.as_deref(), Some("standup"));
    assert!(
        standup.members.iter().any(|m| m.id == alice_id.to_string()),
        "Janus's participant id is the id: {standup:?}"
    );
    // The public API says neither when nor whether connected.
    assert!(
        standup
            .members
            .iter()
            .all(|m| m.joined_at.is_none() && m.connected.is_none())
    );

    // With it, the private room and its people are there too.
    let mut src = rooms(&janus, access(true));
    let before = src.fetch().await.unwrap();
    assert_eq!(names(&before, "4002"), ["carol"]);
    assert_eq!(
        before.session("4002").unwrap().description.as_deref(),
        Some("Hidden Room")
    );

    // Bob leaves, dave joins the private room: the next poll (same Janus
    // session, kept open) says so.
    bob.leave().await;
    let mut dave = peer(&janus).await;
    dave.join(4002, Some("dave")).await;
    let after = src.fetch().await.unwrap();
    let changes: Vec<String> = diff(&before, &after)
        .iter()
        .map(|c| match c {
            Change::Joined { session, member } => format!("{} joined {session}", member.name),
            Change::Left { session, member } => format!("{} left {session}", member.name),
            other => format!("{other:?}"),
        })
        .collect();
    assert_eq!(changes, ["bob left 4001", "dave joined 4002"]);
    drop(carol);
}

#[tokio::test]
async fn the_admin_api_gives_join_times_and_a_missing_secret_is_named() {
    let Some(janus) = require_janus(JanusOptions {
        api_secret: Some(API_SECRET.into()),
        ..JanusOptions::default()
    })
    .await
    else {
        return;
    };
    let mut host = peer(&janus).await;
    host.create_room(4100, json!({"description": "ops"})).await;
    let before_join = SystemTime::now();
    host.join(4100, Some("erin")).await;

    let mut with_admin = access(false);
    with_admin.admin = Some((janus.admin_url(), Secret::new(janus.admin_secret())));
    let snap = rooms(&janus, with_admin).fetch().await.unwrap();
    let erin = &snap.session("4100").unwrap().members[0];
    let joined = erin.joined_at.expect("the Admin API says when");
    // Janus's clock counts in microseconds from its own start; the handle
    // was made just before the join, so allow the time of a request or two.
    let slack = Duration::from_secs(2);
    assert!(
        joined + slack >= before_join && joined <= SystemTime::now() + slack,
        "{joined:?} vs {before_join:?}"
    );

    // A wrong admin_secret is named as the Admin API's.
    let mut wrong = access(false);
    wrong.admin = Some((janus.admin_url(), Secret::new("nope")));
    let e = rooms(&janus, wrong).fetch().await.unwrap_err().to_string();
    assert!(e.contains("Admin API") && e.contains("admin_secret"), "{e}");

    // No api_secret: Janus refuses, and the message says what to give.
    let e = rooms(&janus, JanusAccess::default())
        .fetch()
        .await
        .unwrap_err();
    assert!(matches!(e, SourceError::Janus { code: 403, .. }), "{e}");
    assert!(e.to_string().contains("[janus].api_secret"), "{e}");
}

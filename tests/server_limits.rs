//! The reference server under load and against hostile clients, over real
//! sockets on 127.0.0.1: join bursts, connection caps, half-sent upgrades,
//! clients that stop reading, shutdown, the admin list. Counts are small and
//! configured caps smaller, so the whole file runs in seconds.

mod support;

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use calltop::CallSession;
use calltop::event::EventKind;
use calltop::server::{self, ServerConfig, ServerHandle};
use calltop::settings::SessionSettings;
use support::{WAIT, eventually, listed_users};

async fn server_with(f: impl FnOnce(&mut ServerConfig)) -> ServerHandle {
    let mut c = ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some("admin".into()),
        ..ServerConfig::default()
    };
    f(&mut c);
    server::start(c).await.unwrap()
}

/// Everyone a client's events say is in the session, itself included.
type Roster = Arc<Mutex<BTreeSet<String>>>;

/// Follows a session's events into a roster, as a dashboard would.
fn follow(user: &str, mut events: calltop::session::Subscription) -> Roster {
    let roster: Roster = Arc::new(Mutex::new(BTreeSet::new()));
    let r = roster.clone();
    let me = user.to_owned();
    tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            let mut r = r.lock().unwrap();
            match ev.kind {
                EventKind::SessionJoined { .. } => {
                    r.insert(me.clone());
                }
                EventKind::ParticipantJoined { id, .. } => {
                    r.insert(id);
                }
                EventKind::ParticipantLeft { id, .. } => {
                    r.remove(&id);
                }
                _ => {}
            }
        }
    });
    roster
}

/// Many clients join one session at once; every one of them must end up
/// with the roster the server has. A `participant_joined` queued for a member
/// before its own `joined` reply is dropped by the client ("before the server
/// acknowledged our join") and is not in the `joined` roster either, so that
/// client's roster stays short for good. More worker threads than cores make
/// the preemption that opens that window likely.
#[tokio::test(flavor = "multi_thread", worker_threads = 8)]
async fn a_join_burst_leaves_every_roster_equal_to_the_servers() {
    const CLIENTS: usize = 200;
    let srv = server_with(|_| {}).await;
    let url = srv.ws_url();
    let mut sessions = Vec::new();
    let mut rosters = HashMap::new();
    for i in 0..CLIENTS {
        let user = format!("u{i:03}");
        let settings = SessionSettings::builder(&url, "burst", &user)
            .idle_timeout(Duration::ZERO)
            .build()
            .unwrap();
        let s = CallSession::new(settings);
        rosters.insert(user.clone(), follow(&user, s.subscribe().await.unwrap()));
        sessions.push(s);
    }
    // All at once: each join is sent without waiting for the others.
    let joins: Vec<_> = sessions
        .iter()
        .map(|s| {
            let s = s.clone();
            tokio::spawn(async move { s.join().await.unwrap() })
        })
        .collect();
    for j in joins {
        j.await.unwrap();
    }
    eventually("every client to join", || async {
        listed_users(&srv, "burst").await.len() == CLIENTS
    })
    .await;
    let listed: BTreeSet<String> = listed_users(&srv, "burst").await.into_iter().collect();
    let differing = || {
        rosters
            .iter()
            .filter(|(_, r)| *r.lock().unwrap() != listed)
            .map(|(u, r)| (u.clone(), listed.len() - r.lock().unwrap().len()))
            .collect::<Vec<_>>()
    };
    // Converges quickly when correct; a missed participant is missed for good.
    let deadline = tokio::time::Instant::now() + WAIT;
    while !differing().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut wrong = differing();
    wrong.sort();
    assert!(
        wrong.is_empty(),
        "{} of {CLIENTS} clients have a roster unlike the server's (user, how many short): {wrong:?}",
        wrong.len()
    );
    for s in &sessions {
        s.shutdown().await;
    }
}

//! A subscriber that stops reading never holds up the session: the engine
//! keeps reading the socket, sending heartbeats and running its timers,
//! and when the slow reader comes back it gets every event but coalesced
//! heartbeats, in order. (Which heartbeats are coalesced is the unit test's
//! in src/session/fanout.rs: here, under this load, round trips may outlast
//! the 4 ms interval, and a heartbeat is reported only for an answered ping.)

mod support;

use std::time::Duration;

use calltop::event::EventKind;
use calltop::server::{self, ServerConfig};
use calltop::session::{SUBSCRIBER_CAPACITY, TryRecvError};
use calltop::{CallSession, SessionSettings};
use support::Events;

/// How long the slow subscriber reads nothing (the figure).
const STALL: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_stops_reading_for_10_s_causes_no_connection_lost() {
    let srv = server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    // Heartbeats every 4 ms: in the stall, far more events than a
    // subscriber may fall behind by, each one due on time.
    let alice = CallSession::new(
        SessionSettings::builder(srv.ws_url(), "busy", "alice")
            .heartbeat_interval(Duration::from_millis(4))
            // Generous: a machine busy with other work must not make a
            // loss of its own; a stalled engine would send no heartbeat at all.
            .heartbeat_timeout(Duration::from_secs(5))
            .build()
            .unwrap(),
    );
    let mut slow = alice.subscribe().await.unwrap();
    let mut fast = Events::new(alice.subscribe().await.unwrap());
    alice.join().await.unwrap();
    fast.until("idle_countdown_started").await;

    // Meanwhile people come and go: events that must all reach the slow one.
    let mut churn = tokio::spawn(churn(srv.ws_url()));
    // The fast one reads all along; the slow one reads nothing.
    let guests = loop {
        tokio::select! {
            n = &mut churn => break n.unwrap(),
            _ = fast.next() => {}
        }
    };
    // The stall is over. Everything the fast reader saw went by without a loss.
    let deadline = tokio::time::Instant::now() + support::WAIT;
    while fast.all.iter().filter(|e| is_guest_left(&e.kind)).count() < guests {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", fast.names());
        fast.next().await;
    }
    assert!(
        fast.all.len() > SUBSCRIBER_CAPACITY,
        "the stall saw more events than a subscriber may lag by: {}",
        fast.all.len()
    );
    assert!(
        !fast.names().contains(&"connection_lost"),
        "the stalled reader held up the session: {:?}",
        fast.names()
    );
    assert!(slow.backlog() >= SUBSCRIBER_CAPACITY);

    // The slow reader now gets the same non-heartbeat events, in order.
    let is_heartbeat = |e: &calltop::SessionEvent| matches!(e.kind, EventKind::Heartbeat { .. });
    let fast_events: Vec<_> = fast.all.iter().filter(|e| !is_heartbeat(e)).collect();
    let mut slow_events = Vec::new();
    while slow_events.len() < fast_events.len() {
        match slow.try_recv() {
            Ok(ev) if is_heartbeat(&ev) => {}
            Ok(ev) => slow_events.push(ev),
            Err(TryRecvError::Empty) => break,
            Err(TryRecvError::Closed) => panic!("the session stopped"),
        }
    }
    let slow_events: Vec<_> = slow_events.iter().collect();
    assert_eq!(slow_events.len(), fast_events.len());
    assert_eq!(slow_events, fast_events, "nothing but heartbeats left out");
    alice.shutdown().await;
    srv.shutdown().await;
}

/// Guests join and leave, two at a time, for the length of the stall;
/// returns how many came.
async fn churn(url: String) -> usize {
    let deadline = tokio::time::Instant::now() + STALL;
    let lane = |lane: usize| {
        let url = url.clone();
        async move {
            let mut n = 0;
            while tokio::time::Instant::now() < deadline {
                let user = format!("guest{lane}-{n}");
                let s = CallSession::new(
                    SessionSettings::builder(url.clone(), "busy", user)
                        .build()
                        .unwrap(),
                );
                s.join().await.unwrap();
                tokio::time::sleep(Duration::from_millis(20)).await;
                s.shutdown().await;
                n += 1;
            }
            n
        }
    };
    let (a, b) = tokio::join!(lane(0), lane(1));
    a + b
}

fn is_guest_left(kind: &EventKind) -> bool {
    matches!(kind, EventKind::ParticipantLeft { user, .. } if user.starts_with("guest"))
}

//! Each injected fault end to end: a real session against the real reference
//! server over WebSockets on 127.0.0.1, the events it causes asserted in
//! order (and every one through the contract checker, the session's own
//! live check included: see `support::Events`).

mod support;

use std::time::Duration;

use calltop::engine::Fault;
use calltop::event::EventKind;
use calltop::{CallSession, Command, CommandError};
use support::{Events, fast, joined, server};

fn without_attempts(names: Vec<String>) -> Vec<String> {
    names
        .into_iter()
        .filter(|n| n != "reconnect_attempt")
        .collect()
}

fn injected(ev: &Events) -> Fault {
    match ev.last("fault_injected") {
        Some(EventKind::FaultInjected { fault }) => *fault,
        other => panic!("no fault_injected: {other:?}"),
    }
}

fn lost(ev: &Events) -> (String, bool) {
    match ev.last("connection_lost") {
        Some(EventKind::ConnectionLost { reason, injected }) => (reason.clone(), *injected),
        other => panic!("no connection_lost: {other:?}"),
    }
}

fn restored(ev: &Events) -> (bool, u32) {
    match ev.last("connection_restored") {
        Some(EventKind::ConnectionRestored {
            resumed, attempts, ..
        }) => (*resumed, *attempts),
        other => panic!("no connection_restored: {other:?}"),
    }
}

fn refused(ev: &Events) -> CommandError {
    match ev.last("command_refused") {
        Some(EventKind::CommandRefused { reason, .. }) => *reason,
        other => panic!("no command_refused: {other:?}"),
    }
}

#[tokio::test]
async fn a_drop_is_lost_marked_injected_and_resumed() {
    let srv = server().await;
    let (s, mut ev) = joined(fast(&srv.ws_url(), "f1", "alice").build().unwrap()).await;
    s.send(Command::Fault(Fault::Drop)).unwrap();
    assert_eq!(
        without_attempts(ev.until("connection_restored").await),
        [
            "idle_countdown_started",
            "fault_injected",
            "connection_lost",
            "connection_restored"
        ]
    );
    assert_eq!(injected(&ev), Fault::Drop);
    let (reason, marked) = lost(&ev);
    assert!(marked, "a drop we caused is marked: {reason}");
    assert!(reason.contains("on purpose"), "{reason}");
    // No close frame, so the server kept our slot: a resume.
    assert!(restored(&ev).0, "resumed");
    s.leave().await.unwrap();
}

#[tokio::test]
async fn a_stall_is_noticed_by_the_heartbeat_and_the_call_comes_back() {
    let srv = server().await;
    let (s, mut ev) = joined(fast(&srv.ws_url(), "f2", "alice").build().unwrap()).await;
    let stall = Fault::Stall {
        duration: Duration::from_secs(10),
    };
    s.send(Command::Fault(stall)).unwrap();
    assert_eq!(
        without_attempts(ev.until("connection_restored").await),
        [
            "idle_countdown_started",
            "fault_injected",
            "connection_lost",
            "connection_restored"
        ]
    );
    assert_eq!(injected(&ev), stall);
    let (reason, marked) = lost(&ev);
    assert!(marked, "{reason}");
    // Found out by the heartbeat, as a real stall would be, not by a close.
    assert!(reason.contains("heartbeat unanswered"), "{reason}");
    assert!(reason.contains("injected stall"), "{reason}");
    s.leave().await.unwrap();
}

#[tokio::test]
async fn a_short_stall_ends_with_the_connection_alive() {
    let srv = server().await;
    let (s, mut ev) = joined(fast(&srv.ws_url(), "f3", "alice").build().unwrap()).await;
    // Well under the 300 ms interval plus 1 s timeout.
    s.send(Command::Fault(Fault::Stall {
        duration: Duration::from_millis(200),
    }))
    .unwrap();
    assert_eq!(
        ev.until("fault_ended").await,
        ["idle_countdown_started", "fault_injected", "fault_ended"]
    );
    // Heartbeats are answered again after it: the connection lived.
    ev.heartbeat().await;
    s.leave().await.unwrap();
    ev.until("session_left").await;
    assert!(!ev.names().contains(&"connection_lost"), "{:?}", ev.names());
}

#[tokio::test]
async fn a_forgotten_resume_token_makes_the_next_reconnect_a_full_rejoin() {
    let srv = server().await;
    let (s, mut ev) = joined(fast(&srv.ws_url(), "f4", "alice").build().unwrap()).await;
    s.send(Command::Fault(Fault::ForgetResume)).unwrap();
    s.send(Command::Fault(Fault::Drop)).unwrap();
    ev.until("connection_restored").await;
    assert!(!restored(&ev).0, "joined again as new");
    assert!(ev.names().contains(&"fault_injected"));
    s.leave().await.unwrap();
}

#[tokio::test]
async fn refused_attempts_are_counted_and_past_the_maximum_the_connection_closes() {
    let srv = server().await;
    let (s, mut ev) = joined(fast(&srv.ws_url(), "f5", "alice").build().unwrap()).await;
    // Two refused, the third gets through.
    s.send(Command::Fault(Fault::Refuse { attempts: 2 }))
        .unwrap();
    s.send(Command::Fault(Fault::Drop)).unwrap();
    ev.until("connection_restored").await;
    assert_eq!(restored(&ev), (true, 3));
    assert!(ev.names().contains(&"fault_ended"), "{:?}", ev.names());
    let refusals = ev
        .all
        .iter()
        .filter(|e| {
            matches!(&e.kind, EventKind::ReconnectAttempt { last_error: Some(e), .. }
                if e.contains("refused on purpose"))
        })
        .count();
    assert_eq!(refusals, 2);
    // As many refusals as attempts: the give-up path.
    s.send(Command::Fault(Fault::Refuse { attempts: 4 }))
        .unwrap();
    s.send(Command::Fault(Fault::Drop)).unwrap();
    ev.until("connection_closed").await;
    match ev.last("connection_closed") {
        Some(EventKind::ConnectionClosed { reason }) => {
            assert!(reason.contains("after 4 attempts"), "{reason}");
            assert!(reason.contains("refused on purpose"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_short_idle_timeout_times_the_session_out() {
    let srv = server().await;
    let (s, mut ev) = joined(fast(&srv.ws_url(), "f6", "alice").build().unwrap()).await;
    let short = Duration::from_secs(1);
    s.send(Command::Fault(Fault::Idle { timeout: short }))
        .unwrap();
    assert_eq!(
        ev.until("session_timed_out").await,
        [
            "idle_countdown_started",
            "fault_injected",
            "idle_countdown_cancelled",
            "idle_countdown_started",
            "session_timed_out"
        ]
    );
    assert_eq!(
        ev.last("session_timed_out"),
        Some(&EventKind::SessionTimedOut {
            idle_timeout: short
        })
    );
    drop(s);
}

#[tokio::test]
async fn faults_that_make_no_sense_now_are_refused_and_change_nothing() {
    let srv = server().await;
    let s = CallSession::new(fast(&srv.ws_url(), "f7", "alice").build().unwrap());
    let mut ev = Events::new(s.subscribe().await.unwrap());
    s.send(Command::Fault(Fault::Drop)).unwrap();
    ev.until("command_refused").await;
    assert_eq!(refused(&ev), CommandError::NotInSession);
    s.join().await.unwrap();
    ev.until("server_info").await;
    // Out of range (the library can build any value; the engine checks).
    s.send(Command::Fault(Fault::Refuse { attempts: 0 }))
        .unwrap();
    ev.until("command_refused").await;
    assert_eq!(refused(&ev), CommandError::FaultOutOfRange);
    let stall = Command::Fault(Fault::Stall {
        duration: Duration::from_secs(5),
    });
    s.send(stall).unwrap();
    s.send(stall).unwrap();
    ev.until("command_refused").await;
    assert_eq!(refused(&ev), CommandError::AlreadyStalled);
    // The first stall still takes its course.
    ev.until("connection_restored").await;
    s.leave().await.unwrap();
}

#[tokio::test]
async fn with_faults_off_every_fault_is_refused() {
    let srv = server().await;
    let (s, mut ev) = joined(
        fast(&srv.ws_url(), "f8", "alice")
            .faults(false)
            .build()
            .unwrap(),
    )
    .await;
    for f in [
        Fault::Drop,
        Fault::ForgetResume,
        Fault::Refuse { attempts: 1 },
        Fault::Idle {
            timeout: Duration::from_secs(1),
        },
    ] {
        assert_eq!(s.inject(f).await, Err(CommandError::FaultsDisabled));
        assert_eq!(
            ev.until("command_refused").await.last().unwrap(),
            "command_refused"
        );
    }
    assert!(!ev.names().contains(&"fault_injected"));
    s.leave().await.unwrap();
}

//! The session driver on tokio's paused clock: the events' offsets come from
//! the same clock as the driver's timers, so a whole reconnect schedule
//! (here 10 attempts, over 40 s of waiting) runs in no real time and every
//! wait can be checked to the microsecond.

use std::time::Duration;

use calltop::event::EventKind;
use calltop::{CallSession, ReconnectPolicy, SessionSettings};

/// A loopback port with nothing listening.
fn closed_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(start_paused = true)]
async fn an_unreachable_server_gets_the_whole_schedule_to_the_microsecond() {
    let policy = ReconnectPolicy {
        initial_delay: Duration::from_millis(500),
        max_delay: Duration::from_secs(8),
        multiplier: 2.0,
        max_attempts: 10,
        jitter: 0.0,
    };
    let s = CallSession::new(
        SessionSettings::builder(
            format!("ws://127.0.0.1:{}/ws", closed_port()),
            "room",
            "alice",
        )
        .reconnect(policy)
        .build()
        .unwrap(),
    );
    let mut events = s.subscribe().await.unwrap();
    s.join().await.unwrap();
    let mut seen = Vec::new();
    while let Some(ev) = events.recv().await {
        let end = ev.kind.is_terminal();
        seen.push(ev);
        if end {
            break;
        }
    }
    let names: Vec<&str> = seen.iter().map(|e| e.kind.name()).collect();
    assert_eq!(names.last(), Some(&"connection_closed"), "{names:?}");
    // Each attempt starts exactly the announced delay after it was announced.
    let mut delays = Vec::new();
    for (i, ev) in seen.iter().enumerate() {
        if let EventKind::ReconnectAttempt { attempt, delay, .. } = ev.kind {
            let next = &seen[i + 1];
            assert_eq!(next.kind, EventKind::Connecting { attempt }, "{names:?}");
            assert_eq!(next.offset - ev.offset, delay, "attempt {attempt}");
            delays.push(delay);
        }
    }
    let nominal: Vec<Duration> = (2..=10).map(|a| policy.nominal_delay(a)).collect();
    assert_eq!(delays, nominal);
    let waited: Duration = delays.iter().sum();
    assert!(seen.last().unwrap().offset >= waited);
    assert!(waited > Duration::from_secs(40));
    // The wall-clock times follow the same clock.
    let first = &seen[0];
    let last = seen.last().unwrap();
    let wall = last.ts.duration_since(first.ts).unwrap();
    assert!(
        wall.abs_diff(last.offset - first.offset) <= Duration::from_millis(1),
        "{wall:?}"
    );
}

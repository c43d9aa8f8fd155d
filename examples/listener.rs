//! The library in a few lines: join, listen, print every event.
//!
//! `cargo run --example listener -- ws://127.0.0.1:7878/ws standup alice`

use calltop::{CallSession, LeftReason, SessionSettings, SessionStatusListener};

struct Ui;

impl SessionStatusListener for Ui {
    fn on_connection_lost(&self, reason: &str) {
        eprintln!("reconnecting: {reason}");
    }
    fn on_session_left(&self, reason: LeftReason) {
        eprintln!("left: {reason:?}");
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "ws://127.0.0.1:7878/ws".into());
    let session_id = args.next().unwrap_or_else(|| "standup".into());
    let user = args.next().unwrap_or_else(|| "alice".into());

    let settings = SessionSettings::builder(url, session_id, user)
        .idle_timeout(std::time::Duration::from_secs(120))
        .build()?; // bad settings are refused here, by name
    let session = CallSession::new(settings);
    let _guard = session.add_session_status_listener(Ui); // removed when the guard drops
    let mut events = session.subscribe().await?; // every event, typed and timestamped
    session.join().await?;
    while let Some(ev) = events.recv().await {
        println!("{}", ev.kind.name());
        if ev.kind.is_terminal() {
            break;
        }
    }
    Ok(())
}

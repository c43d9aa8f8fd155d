//! `calltop --headless`: NDJSON events on stdout, commands on stdin.

use std::io::Write;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::exit::Exit;
use crate::session::CallSession;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Leave,
    Join,
    Reconnect,
    Quit,
}

fn parse(line: &str) -> Result<Line, String> {
    match line.trim() {
        "leave" => Ok(Line::Leave),
        "join" => Ok(Line::Join),
        "reconnect" => Ok(Line::Reconnect),
        "quit" => Ok(Line::Quit),
        other => Err(format!(
            "unknown command {other:?}: expected leave, join, reconnect or quit"
        )),
    }
}

/// Options of a headless run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub stay: bool,
    pub verbose: bool,
}

/// Runs until the session ends (or, with `stay`, until `quit`). Returns the exit status.
pub async fn run(session: CallSession, opts: Options) -> std::io::Result<Exit> {
    let (name, user) = (
        session.settings().session.clone(),
        session.settings().user.clone(),
    );
    let mut events = session
        .subscribe()
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let (cmd_tx, mut commands) = mpsc::channel::<Line>(16);
    tokio::spawn(async move {
        let mut lines = BufReader::new(tokio::io::stdin()).lines();
        // End of stdin is not a command: the call goes on.
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim().is_empty() {
                continue;
            }
            match parse(&line) {
                Ok(cmd) => {
                    if cmd_tx.send(cmd).await.is_err() {
                        return;
                    }
                }
                Err(e) => eprintln!("calltop: {e}"),
            }
        }
    });
    let mut sigint = signal(SignalKind::interrupt())?;
    let mut sigterm = signal(SignalKind::terminate())?;
    let mut sighup = signal(SignalKind::hangup())?;

    if let Err(e) = session.join().await {
        eprintln!("calltop: join: {e}");
        return Ok(Exit::Internal);
    }
    let mut in_session = true;
    let mut quitting = false;
    let stdout = std::io::stdout();
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { return Ok(Exit::Internal) };
                if matches!(ev.kind, crate::event::EventKind::Heartbeat { .. }) && !opts.verbose {
                    continue;
                }
                {
                    let mut out = stdout.lock();
                    writeln!(out, "{}", ev.to_ndjson(&name, &user))?;
                    out.flush()?;
                }
                if let Some(status) = Exit::for_terminal(&ev.kind) {
                    in_session = false;
                    if quitting {
                        return Ok(Exit::Ok);
                    }
                    if !opts.stay {
                        return Ok(status);
                    }
                }
            }
            Some(cmd) = commands.recv() => {
                let result = match cmd {
                    Line::Leave => session.leave().await,
                    Line::Join => session.join().await.map(|()| in_session = true),
                    Line::Reconnect => session.reconnect_now().await,
                    Line::Quit => {
                        if !in_session {
                            return Ok(Exit::Ok);
                        }
                        quitting = true;
                        match session.leave().await {
                            // Not in a session after all (already ending): done.
                            Err(crate::CommandError::NotInSession) => return Ok(Exit::Ok),
                            other => other,
                        }
                    }
                };
                if let Err(e) = result {
                    eprintln!("calltop: {}: {e}", format!("{cmd:?}").to_lowercase());
                }
            }
            _ = sigint.recv() => quitting = quit(&session, in_session).await?,
            _ = sigterm.recv() => quitting = quit(&session, in_session).await?,
            _ = sighup.recv() => quitting = quit(&session, in_session).await?,
        }
        if quitting && !in_session {
            return Ok(Exit::Ok);
        }
    }
}

/// A signal: leave (the terminal event then ends the loop) or, if not in a session, stop.
async fn quit(session: &CallSession, in_session: bool) -> std::io::Result<bool> {
    if in_session {
        let _ = session.leave().await;
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_commands_parse_and_unknown_ones_say_what_is_expected() {
        assert_eq!(parse(" leave \n"), Ok(Line::Leave));
        assert_eq!(parse("quit"), Ok(Line::Quit));
        let e = parse("exit").unwrap_err();
        assert!(e.contains("expected leave, join, reconnect or quit"), "{e}");
    }
}

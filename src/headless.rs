//! `calltop --headless`: NDJSON events on stdout, commands on stdin.

use std::io::Write;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::event::EventKind;
use crate::exit::Exit;
use crate::session::CallSession;
use crate::{Command, CommandError};

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
///
/// Commands go to the engine without waiting ([`CallSession::send`]); what
/// comes of each, a refusal included, is in the event stream, in order, so
/// an answer to a command typed just before the session ends is printed
/// before the line that ends it.
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

    let stdout = std::io::stdout();
    {
        // What this output is of: it makes the output a recording, too.
        let mut out = stdout.lock();
        writeln!(out, "{}", session.run_started().to_ndjson(&name, &user))?;
        out.flush()?;
    }
    let send = |cmd: Command| session.send(cmd).is_ok();
    if !send(Command::Join) {
        return Ok(Exit::Internal);
    }
    // Whether a join attempt is open, as the events tell it.
    let mut in_session = false;
    let mut quitting = false;
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { return Ok(Exit::Internal) };
                match &ev.kind {
                    EventKind::Connecting { .. } => in_session = true,
                    EventKind::CommandRefused { command, reason } => refused(*command, reason, quitting),
                    _ => {}
                }
                if matches!(ev.kind, EventKind::Heartbeat { .. }) && !opts.verbose {
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
            Some(line) = commands.recv() => {
                let cmd = match line {
                    Line::Quit => {
                        if !in_session {
                            return Ok(Exit::Ok);
                        }
                        quitting = true;
                        Command::Leave
                    }
                    Line::Leave => Command::Leave,
                    Line::Join => Command::Join,
                    Line::Reconnect => Command::ReconnectNow,
                };
                if !send(cmd) {
                    return Ok(Exit::Internal);
                }
            }
            _ = sigint.recv() => quitting = quit(&send, in_session),
            _ = sigterm.recv() => quitting = quit(&send, in_session),
            _ = sighup.recv() => quitting = quit(&send, in_session),
        }
        if quitting && !in_session {
            return Ok(Exit::Ok);
        }
    }
}

/// A command that made no sense now, on stderr (its `command_refused` line
/// is on stdout).
fn refused(cmd: Command, e: &CommandError, quitting: bool) {
    // Quitting when the session has just ended on its own, or a second
    // signal: the terminal event is on its way (or here) and ends the run.
    if quitting && cmd == Command::Leave {
        return;
    }
    eprintln!("calltop: {cmd}: {e}");
}

/// A signal: leave (the terminal event then ends the loop) or, if not in a session, stop.
fn quit(send: &impl Fn(Command) -> bool, in_session: bool) -> bool {
    if in_session {
        send(Command::Leave);
    }
    true
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

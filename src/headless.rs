//! `calltop --headless`: NDJSON events on stdout, commands on stdin.

use std::io::Write;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::CommandError;
use crate::event::EventKind;
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

    // Commands run one after another on their own task: the loop below must
    // keep draining events meanwhile, or a full event channel would stall the
    // engine that is to answer the command.
    let (run_tx, mut run_rx) = mpsc::unbounded_channel::<Line>();
    let (done_tx, mut done) = mpsc::unbounded_channel::<(Line, Result<(), CommandError>)>();
    let runner = session.clone();
    tokio::spawn(async move {
        while let Some(cmd) = run_rx.recv().await {
            let result = match cmd {
                Line::Leave | Line::Quit => runner.leave().await,
                Line::Join => runner.join().await,
                Line::Reconnect => runner.reconnect_now().await,
            };
            if done_tx.send((cmd, result)).is_err() {
                return;
            }
        }
    });
    let run = |cmd: Line| {
        // The runner lives as long as this loop; a send error cannot happen.
        let _ = run_tx.send(cmd);
    };

    run(Line::Join);
    // Whether a join attempt is open, as the events tell it.
    let mut in_session = false;
    let mut quitting = false;
    let stdout = std::io::stdout();
    loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { return Ok(Exit::Internal) };
                if matches!(ev.kind, EventKind::Connecting { .. }) {
                    in_session = true;
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
                    // Answers to commands typed before the end are already
                    // queued (the runner answers in order): print them
                    // before this run exits.
                    while let Ok((cmd, result)) = done.try_recv() {
                        if let Err(e) = result {
                            refused(cmd, &e);
                        }
                    }
                    if quitting {
                        return Ok(Exit::Ok);
                    }
                    if !opts.stay {
                        return Ok(status);
                    }
                }
            }
            Some(cmd) = commands.recv() => {
                if cmd == Line::Quit {
                    if !in_session {
                        return Ok(Exit::Ok);
                    }
                    quitting = true;
                }
                run(cmd);
            }
            Some((cmd, result)) = done.recv() => match (cmd, result) {
                (_, Ok(())) => {}
                (Line::Join, Err(e)) if !in_session && !quitting => {
                    eprintln!("calltop: join: {e}");
                    return Ok(Exit::Internal);
                }
                (cmd, Err(e)) => refused(cmd, &e),
            },
            _ = sigint.recv() => quitting = quit(&run, in_session),
            _ = sigterm.recv() => quitting = quit(&run, in_session),
            _ = sighup.recv() => quitting = quit(&run, in_session),
        }
        if quitting && !in_session {
            return Ok(Exit::Ok);
        }
    }
}

/// A command that made no sense now, on stderr.
fn refused(cmd: Line, e: &CommandError) {
    // Quitting when the session has just ended on its own: its terminal
    // event is on its way (or here) and ends the run.
    if (cmd, e) == (Line::Quit, &CommandError::NotInSession) {
        return;
    }
    eprintln!("calltop: {}: {e}", format!("{cmd:?}").to_lowercase());
}

/// A signal: leave (the terminal event then ends the loop) or, if not in a session, stop.
fn quit(run: &impl Fn(Line), in_session: bool) -> bool {
    if in_session {
        run(Line::Quit);
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

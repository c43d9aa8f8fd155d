//! `calltop --headless`: NDJSON events on stdout, commands on stdin.

use std::io::Write;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::signal::unix::{Signal, SignalKind, signal};
use tokio::sync::{mpsc, oneshot};

use crate::engine::Fault;
use crate::event::EventKind;
use crate::exit::Exit;
use crate::session::{CallSession, SUBSCRIBER_CAPACITY};
use crate::{Command, CommandError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Line {
    Leave,
    Join,
    Reconnect,
    Fault(Fault),
    Quit,
}

fn parse(line: &str) -> Result<Line, String> {
    let line = line.trim();
    if let Some(words) = line
        .strip_prefix("fault")
        .filter(|w| w.is_empty() || w.starts_with(' '))
    {
        return Fault::parse(words).map(Line::Fault);
    }
    match line {
        "leave" => Ok(Line::Leave),
        "join" => Ok(Line::Join),
        "reconnect" => Ok(Line::Reconnect),
        "quit" => Ok(Line::Quit),
        other => Err(format!(
            "unknown command {other:?}: expected leave, join, reconnect, fault … or quit"
        )),
    }
}

/// Options of a headless run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    pub stay: bool,
    pub verbose: bool,
    /// Stop at the first contract violation ([`Exit::Strict`]).
    pub strict: bool,
}

/// After a signal, how long the final lines may take to go out while the
/// reader takes none of them: a reader that is slow but reading gets every
/// line; one that stopped reading does not hold calltop up.
const STALLED_READER: Duration = Duration::from_secs(1);

/// Runs until the session ends (or, with `stay`, until `quit`). Returns the exit status.
///
/// Commands go to the engine without waiting ([`CallSession::send`]); what
/// comes of each, a refusal included, is in the event stream, in order, so
/// an answer to a command typed just before the session ends is printed
/// before the line that ends it. Lines are written by a thread of their own,
/// so a reader that stops reading never keeps this loop from answering
/// signals and stdin; a stdout that is closed is a reason to leave.
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
                Err(e) => note(&e),
            }
        }
    });
    let mut signals = Signals::new()?;
    let mut out = Output::start()?;
    // What this output is of: it makes the output a recording, too.
    out.line(session.run_started().to_ndjson(&name, &user), false);
    let send = |cmd: Command| session.send(cmd).is_ok();
    if !send(Command::Join) {
        return Ok(out.finish(Exit::Internal, &mut signals, false).await);
    }
    // Whether a join attempt is open, as the events tell it.
    let mut in_session = false;
    // Once we are stopping: the status the run ends with when the leave is done.
    let mut stopping: Option<Exit> = None;
    let mut signalled = false;
    let mut violations = 0usize;
    let status = loop {
        tokio::select! {
            ev = events.recv() => {
                let Some(ev) = ev else { break Exit::Internal };
                match &ev.kind {
                    EventKind::Connecting { .. } => in_session = true,
                    EventKind::CommandRefused { command, reason } => {
                        refused(*command, reason, stopping.is_some())
                    }
                    EventKind::ContractViolation(v) => {
                        violations += 1;
                        note(&v.to_string());
                        if opts.strict && stopping.is_none() {
                            note("--strict: leaving the session at the first violation");
                            stopping = Some(Exit::Strict);
                            leave_if(&send, in_session);
                        }
                    }
                    _ => {}
                }
                let heartbeat = matches!(ev.kind, EventKind::Heartbeat { .. });
                if !heartbeat || opts.verbose {
                    out.line(ev.to_ndjson(&name, &user), heartbeat);
                }
                if let Some(outcome) = Exit::for_terminal(&ev.kind) {
                    in_session = false;
                    // Stopping ends below, with its own status.
                    if stopping.is_none() && !opts.stay {
                        break outcome;
                    }
                }
            }
            Some(line) = commands.recv() => {
                let cmd = match line {
                    Line::Quit => {
                        if !in_session {
                            break stopping.unwrap_or(Exit::Ok);
                        }
                        stopping.get_or_insert(Exit::Ok);
                        Command::Leave
                    }
                    Line::Leave => Command::Leave,
                    Line::Join => Command::Join,
                    Line::Reconnect => Command::ReconnectNow,
                    Line::Fault(f) => Command::Fault(f),
                };
                if !send(cmd) {
                    break Exit::Internal;
                }
            }
            e = out.failed(), if !out.gone => {
                note(&format!("cannot write to stdout ({e}): leaving the session"));
                // Lines were lost: that outweighs a quit asked for before.
                stopping = Some(Exit::OutputClosed);
                leave_if(&send, in_session);
            }
            () = signals.recv() => {
                signalled = true;
                stopping.get_or_insert(Exit::Ok);
                leave_if(&send, in_session);
            }
        }
        if let Some(status) = stopping
            && !in_session
        {
            break status;
        }
    };
    let (status, said) = with_violations(status, violations);
    if let Some(said) = said {
        note(&said);
    }
    Ok(out.finish(status, &mut signals, signalled).await)
}

/// A run that broke the contract did not go well, however it ended: a
/// status that says all went well becomes [`Exit::Violations`]; one that
/// says how the session ended stays, and stderr says the rest.
fn with_violations(status: Exit, violations: usize) -> (Exit, Option<String>) {
    match (status, violations) {
        (_, 0) => (status, None),
        (Exit::Ok, n) => (
            Exit::Violations,
            Some(format!(
                "{n} contract violation(s) in this run: exit status 6"
            )),
        ),
        (other, n) => (
            other,
            Some(format!("{n} contract violation(s) in this run")),
        ),
    }
}

/// NDJSON lines on stdout, written by a thread of their own: a reader that
/// stops reading blocks that thread, never the loop. A line is written as
/// soon as it is there; lines that queued up meanwhile go out together.
struct Output {
    lines: Option<std::sync::mpsc::Sender<String>>,
    /// Lines handed over and not written yet.
    queued: Arc<AtomicUsize>,
    /// The thread's outcome: `Err` once a write failed (a closed pipe:
    /// EPIPE, since Rust ignores SIGPIPE), `Ok` when every line is out.
    done: oneshot::Receiver<std::io::Result<()>>,
    /// The writer failed and that was reported: later lines go nowhere.
    gone: bool,
}

impl Output {
    fn start() -> std::io::Result<Output> {
        // A descriptor of our own, not std's `Stdout`: its buffer stays
        // empty, so nothing at exit waits on a pipe that nobody reads.
        let file = std::fs::File::from(std::io::stdout().as_fd().try_clone_to_owned()?);
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let (done_tx, done) = oneshot::channel();
        let queued = Arc::new(AtomicUsize::new(0));
        let counter = queued.clone();
        std::thread::Builder::new()
            .name("calltop-stdout".into())
            .spawn(move || {
                let _ = done_tx.send(write_lines(file, &rx, &counter));
            })?;
        Ok(Output {
            lines: Some(tx),
            queued,
            done,
            gone: false,
        })
    }

    /// Hands a line to the writer. A heartbeat is left out while the reader
    /// is [`SUBSCRIBER_CAPACITY`] lines behind, as the engine does for a
    /// slow subscriber (docs/EVENTS.md, rule 4); no other line ever is.
    fn line(&self, line: String, heartbeat: bool) {
        if self.gone || (heartbeat && self.queued.load(Ordering::Relaxed) >= SUBSCRIBER_CAPACITY) {
            return;
        }
        if let Some(tx) = &self.lines {
            self.queued.fetch_add(1, Ordering::Relaxed);
            // An error means the writer has stopped: `failed` says why.
            let _ = tx.send(line);
        }
    }

    /// Resolves once a write has failed (poll only while `!self.gone`).
    async fn failed(&mut self) -> std::io::Error {
        let e = match (&mut self.done).await {
            Ok(Err(e)) => e,
            Ok(Ok(())) | Err(_) => std::io::Error::other("the writer stopped"),
        };
        self.gone = true;
        e
    }

    /// Waits for every line to be written, then ends the run with `status`
    /// (or [`Exit::OutputClosed`] if stdout turned out to be closed). After
    /// a signal (`hurry`, or one that comes while waiting) it waits only as
    /// long as the reader keeps taking lines.
    async fn finish(mut self, status: Exit, signals: &mut Signals, mut hurry: bool) -> Exit {
        self.lines = None;
        if self.gone {
            return Exit::OutputClosed;
        }
        let mut left = self.queued.load(Ordering::Relaxed);
        loop {
            tokio::select! {
                done = &mut self.done => return match done {
                    Ok(Ok(())) => status,
                    Ok(Err(e)) => {
                        note(&format!("cannot write to stdout ({e})"));
                        Exit::OutputClosed
                    }
                    Err(_) => Exit::Internal,
                },
                () = signals.recv() => hurry = true,
                () = tokio::time::sleep(STALLED_READER), if hurry => {
                    let now = self.queued.load(Ordering::Relaxed);
                    if now == left {
                        return status;
                    }
                    left = now;
                }
            }
        }
    }
}

/// The writer thread: lines until the sender is dropped, or the first error.
fn write_lines(
    file: std::fs::File,
    lines: &std::sync::mpsc::Receiver<String>,
    queued: &AtomicUsize,
) -> std::io::Result<()> {
    let mut out = std::io::BufWriter::new(file);
    while let Ok(first) = lines.recv() {
        let mut next = Some(first);
        while let Some(line) = next {
            out.write_all(line.as_bytes())?;
            out.write_all(b"\n")?;
            queued.fetch_sub(1, Ordering::Relaxed);
            next = lines.try_recv().ok();
        }
        out.flush()?;
    }
    Ok(())
}

/// SIGINT, SIGTERM and SIGHUP: each asks for the same thing.
struct Signals {
    int: Signal,
    term: Signal,
    hup: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => {}
            _ = self.term.recv() => {}
            _ = self.hup.recv() => {}
        }
    }
}

/// A diagnostic on stderr. A closed stderr is no reason to stop (and
/// `eprintln!` would panic on it).
fn note(message: &str) {
    let _ = writeln!(std::io::stderr(), "calltop: {message}");
}

/// A command that made no sense now, on stderr (its `command_refused` line
/// is on stdout).
fn refused(cmd: Command, e: &CommandError, stopping: bool) {
    // Stopping when the session has just ended on its own, or a second
    // signal: the terminal event is on its way (or here) and ends the run.
    if stopping && cmd == Command::Leave {
        return;
    }
    note(&format!("{cmd}: {e}"));
}

/// Stopping: leave if in a join attempt (its terminal event ends the run).
fn leave_if(send: &impl Fn(Command) -> bool, in_session: bool) {
    if in_session {
        send(Command::Leave);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn violations_turn_a_clean_exit_into_status_6_and_leave_the_others() {
        assert_eq!(with_violations(Exit::Ok, 0), (Exit::Ok, None));
        assert_eq!(with_violations(Exit::Ok, 2).0, Exit::Violations);
        let (status, said) = with_violations(Exit::TimedOut, 1);
        assert_eq!(status, Exit::TimedOut);
        assert!(said.unwrap().contains("1 contract violation"));
        assert_eq!(with_violations(Exit::Strict, 1).0, Exit::Strict);
    }

    #[test]
    fn stdin_commands_parse_and_unknown_ones_say_what_is_expected() {
        assert_eq!(parse(" leave \n"), Ok(Line::Leave));
        assert_eq!(parse("quit"), Ok(Line::Quit));
        let e = parse("exit").unwrap_err();
        assert!(
            e.contains("expected leave, join, reconnect, fault … or quit"),
            "{e}"
        );
        assert_eq!(parse("fault drop"), Ok(Line::Fault(Fault::Drop)));
        assert_eq!(
            parse(" fault refuse 4 "),
            Ok(Line::Fault(Fault::Refuse { attempts: 4 }))
        );
        assert!(parse("fault").unwrap_err().contains("fault stall [SECS]"));
        assert!(parse("faulty").unwrap_err().contains("unknown command"));
        assert!(parse("fault stall x").unwrap_err().contains("seconds"));
    }
}

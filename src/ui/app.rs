//! The render loop. It waits on the terminal's input, the engine's events,
//! finished commands, signals and (only while something on screen counts
//! down) a timer; drains whatever else is already waiting; then draws at most
//! one frame. Nothing here blocks on the network: engine commands run, one
//! after another in the order the keys came, on a task of their own and
//! report back as messages.

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::keys::Keymap;
use super::log;
use super::model::{CallInfo, Effect, Model, Msg, update};
use super::sanitize::clean;
use super::terminal::{self, Signals, Tui};
use super::theme::Theme;
use super::view;
use crate::config::Config;
use crate::demo;
use crate::engine::Command;
use crate::event::SessionEvent;
use crate::exit::Exit;
use crate::session::CallSession;

/// Frames are at least this far apart; a burst of events shares one.
const MIN_FRAME: Duration = Duration::from_millis(16);
/// Events applied before the next frame gets a chance, so keys stay responsive.
const BATCH: usize = 256;
/// How often the terminal is checked for having gone away. A hangup that
/// does not come with a SIGHUP (the shell in front of us ignores it, or the
/// pty's other end is simply closed) is only seen this way: crossterm's
/// reader keeps reading end-of-file and never reports it.
const LIVENESS: Duration = Duration::from_secs(1);

/// Runs the dashboard until the user quits (or a signal ends it).
pub async fn run(config: Config) -> anyhow::Result<Exit> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        eprintln!("calltop: the dashboard needs a terminal; use --headless for scripts and pipes");
        return Ok(Exit::Usage);
    }
    // Everything that can be wrong with the configuration is reported here,
    // before the terminal changes.
    let keymap = match Keymap::from_config(&config.keys) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("calltop: {e}");
            return Ok(Exit::Usage);
        }
    };
    let theme = Theme::resolve(config.ui.color, std::env::var_os("NO_COLOR").as_deref());
    if let Err(e) = config.check() {
        eprintln!("calltop: {e}");
        return Ok(Exit::Usage);
    }
    let (settings, mut embedded) = demo::target(&config).await?;
    if let Some(e) = &mut embedded
        && config.ui.demo
        && let Err(err) = e.run_script(demo::SCRIPT, &settings.session, &settings.user)
    {
        eprintln!("calltop: {err:#}");
        if let Some(e) = embedded {
            e.shutdown().await;
        }
        return Ok(Exit::Internal);
    }
    log::init(config.ui.log_capacity);

    let info = CallInfo {
        session: clean(&settings.session),
        user: clean(&settings.user),
        server: clean(settings.server.as_str()),
        backend: settings.backend.to_string(),
        banner: embedded.as_ref().map(|e| e.banner()),
    };
    let quit_grace = settings.leave_timeout + Duration::from_secs(1);
    let session = CallSession::new(settings);
    let events = session.subscribe().await?;
    let signals = Signals::new()?;

    let mut model = Model::new(info, keymap, theme, Instant::now(), SystemTime::now());
    model.quit_grace = quit_grace;
    let result = {
        let mut tui = Tui::enter()?;
        if let Ok(size) = tui.terminal.size() {
            model.size = (size.width, size.height);
        }
        let (done_tx, done_rx) = mpsc::unbounded_channel();
        let mut app = App {
            model,
            commands: command_runner(session.clone(), done_tx),
            events,
            done_rx,
            input: Some(EventStream::new()),
            liveness: tokio::time::interval_at(tokio::time::Instant::now() + LIVENESS, LIVENESS),
            signals,
            can_draw: true,
            dirty: true,
            last_draw: None,
        };
        app.run(&mut tui).await
        // The terminal is restored here, before the slower shutdown below.
    };
    let _ = tokio::time::timeout(Duration::from_secs(3), session.shutdown()).await;
    if let Some(e) = embedded {
        e.shutdown().await;
    }
    if terminal::panicked() {
        return Ok(Exit::Internal);
    }
    result
}

struct App {
    model: Model,
    /// Commands for the engine, carried out in order (see [`command_runner`]).
    commands: mpsc::UnboundedSender<Command>,
    events: mpsc::Receiver<SessionEvent>,
    done_rx: mpsc::UnboundedReceiver<Msg>,
    /// `None` once the terminal's input has ended.
    input: Option<EventStream>,
    /// Ticks while the input is open, to check that the terminal still is.
    liveness: tokio::time::Interval,
    signals: Signals,
    /// False after a hangup or a failed write: keep going (to leave the
    /// session), but stop drawing.
    can_draw: bool,
    dirty: bool,
    last_draw: Option<Instant>,
}

/// What ended the loop.
enum Stop {
    Exit,
    EngineGone,
}

impl App {
    async fn run(&mut self, tui: &mut Tui) -> anyhow::Result<Exit> {
        self.draw(tui);
        if let Some(Stop::Exit) = self.apply(Msg::Tick {
            now: Instant::now(),
            wall: SystemTime::now(),
        }) {
            return Ok(Exit::Ok);
        }
        self.carry_out(vec![Effect::Run(Command::Join)]);
        self.liveness
            .set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let wake = self.next_wake();
            let msg = tokio::select! {
                biased;
                input = next_input(&mut self.input) => match input {
                    Some(Ok(Event::Key(key))) => self.model.keymap.action(&key).map(Msg::Action),
                    Some(Ok(Event::Resize(w, h))) => Some(Msg::Resize(w, h)),
                    // Pasted text (bracketed paste) is not keys; mouse and focus are unused.
                    Some(Ok(_)) => None,
                    Some(Err(_)) | None => self.input_closed(),
                },
                _ = self.liveness.tick(), if self.input.is_some() => {
                    if terminal::alive() {
                        None
                    } else {
                        self.input_closed()
                    }
                }
                name = self.signals.recv() => {
                    if name == "SIGHUP" {
                        self.can_draw = false;
                    }
                    Some(Msg::Signal(name))
                }
                Some(msg) = self.done_rx.recv() => Some(msg),
                ev = self.events.recv() => match ev {
                    Some(ev) => Some(Msg::Event(ev)),
                    None => anyhow::bail!("the session engine stopped unexpectedly"),
                },
                _ = sleep_until(wake) => None,
            };
            match self.step(msg) {
                Some(Stop::Exit) => return Ok(Exit::Ok),
                Some(Stop::EngineGone) => {
                    anyhow::bail!("the session engine stopped unexpectedly")
                }
                None => {}
            }
            if terminal::panicked() {
                return Ok(Exit::Internal);
            }
            self.maybe_draw(tui);
        }
    }

    /// The terminal is gone: stop reading it and drawing on it, then leave.
    fn input_closed(&mut self) -> Option<Msg> {
        self.input = None;
        self.can_draw = false;
        Some(Msg::InputClosed)
    }

    /// Applies `first` and then everything already waiting (up to a batch).
    fn step(&mut self, first: Option<Msg>) -> Option<Stop> {
        let tick = Msg::Tick {
            now: Instant::now(),
            wall: SystemTime::now(),
        };
        let mut stop = self.apply(tick);
        if let Some(msg) = first
            && stop.is_none()
        {
            stop = self.apply(msg);
        }
        let mut n = 0;
        while stop.is_none() && n < BATCH {
            match self.events.try_recv() {
                Ok(ev) => stop = self.apply(Msg::Event(ev)),
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => stop = Some(Stop::EngineGone),
            }
            n += 1;
        }
        while stop.is_none()
            && let Ok(msg) = self.done_rx.try_recv()
        {
            stop = self.apply(msg);
        }
        log::flush();
        stop
    }

    fn apply(&mut self, msg: Msg) -> Option<Stop> {
        let u = update(&mut self.model, msg);
        self.dirty |= u.redraw;
        self.carry_out(u.effects)
    }

    fn carry_out(&mut self, effects: Vec<Effect>) -> Option<Stop> {
        let mut stop = None;
        for e in effects {
            match e {
                Effect::Log(line) => log::write(&line, &self.model.tz),
                Effect::Run(cmd) => {
                    // The runner lives as long as the session; should it be
                    // gone, the engine is too, and the event channel says so.
                    let _ = self.commands.send(cmd);
                }
                Effect::Exit => stop = Some(Stop::Exit),
            }
        }
        stop
    }

    /// When the loop must wake up without input: something on screen changes,
    /// or a frame held back by the frame limit is due.
    fn next_wake(&self) -> Option<Instant> {
        let frame = match (self.dirty, self.last_draw) {
            (true, Some(t)) => Some(t + MIN_FRAME),
            _ => None,
        };
        match (self.model.next_wake(), frame) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn maybe_draw(&mut self, tui: &mut Tui) {
        if !self.dirty {
            return;
        }
        if let Some(t) = self.last_draw
            && Instant::now() < t + MIN_FRAME
        {
            return;
        }
        self.draw(tui);
    }

    fn draw(&mut self, tui: &mut Tui) {
        log::flush();
        if self.can_draw
            && tui
                .terminal
                .draw(|frame| view::view(&self.model, frame))
                .is_err()
        {
            self.can_draw = false;
        }
        self.dirty = false;
        self.last_draw = Some(Instant::now());
    }
}

/// One long-lived task that carries out engine commands in the order they
/// are sent (a task per command could reach the engine out of order: `l`
/// then `j` arriving as a join, then a leave) and reports each as
/// [`Msg::Done`]. The render loop never waits for it.
fn command_runner(
    session: CallSession,
    done: mpsc::UnboundedSender<Msg>,
) -> mpsc::UnboundedSender<Command> {
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Some(cmd) = rx.recv().await {
            let result = match cmd {
                Command::Join => session.join().await,
                Command::Leave => session.leave().await,
                Command::ReconnectNow => session.reconnect_now().await,
            };
            if done.send(Msg::Done(cmd, result)).is_err() {
                return;
            }
        }
    });
    tx
}

async fn next_input(input: &mut Option<EventStream>) -> Option<io::Result<Event>> {
    match input {
        Some(stream) => stream.next().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

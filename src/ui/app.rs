//! The render loop. It waits on the terminal's input, the engine's events,
//! finished commands, signals and (only while something on screen counts
//! down) a timer; drains whatever else is already waiting; then draws at most
//! one frame. Nothing here blocks on the network: commands go to the engine
//! with [`CallSession::send`], and what comes of them arrives as events.
//! Time is the session's clock, so a test that pauses tokio's clock moves
//! the dashboard's with it.

use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;

use super::log;
use super::model::{CallInfo, Effect, Model, Msg, update};
use super::sanitize::clean;
use super::terminal::{self, Signals, Tui};
use super::view;
use crate::clock::Clock;
use crate::config::Config;
use crate::demo;
use crate::engine::Command;
use crate::exit::Exit;
use crate::record::RecordTo;
use crate::session::{CallSession, Subscription, TryRecvError};

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
pub async fn run(config: Config, record: Option<RecordTo>) -> anyhow::Result<Exit> {
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        eprintln!("calltop: the dashboard needs a terminal; use --headless for scripts and pipes");
        return Ok(Exit::Usage);
    }
    // Everything that can be wrong with the configuration is reported here,
    // before the terminal changes.
    let (keymap, theme) = match super::keys_and_theme(&config) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("calltop: {e}");
            return Ok(Exit::Usage);
        }
    };
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
    let recording = match crate::record::start(record.as_ref(), &session).await {
        Ok(r) => r,
        Err(e) => {
            eprintln!("calltop: {e}");
            if let Some(e) = embedded {
                e.shutdown().await;
            }
            return Ok(Exit::Usage);
        }
    };
    let clock = session.clock();
    let events = session.subscribe().await?;
    let signals = Signals::new()?;

    let now = clock.elapsed();
    let mut model = Model::new(info, keymap, theme, now, clock.wall(now));
    model.quit_grace = quit_grace;
    // What the run is, with the settings in force, as a recording's first
    // line says it: the settings panel reads it the same way live and replayed.
    update(&mut model, Msg::Event(session.run_started()));
    let result = {
        let mut tui = Tui::enter()?;
        if let Ok(size) = tui.terminal.size() {
            model.size = (size.width, size.height);
        }
        let mut app = App {
            model,
            session: session.clone(),
            clock,
            events,
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
    if let Some(r) = recording {
        r.finish();
    }
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
    /// Where commands go; nothing here waits for an answer.
    session: CallSession,
    clock: Clock,
    events: Subscription,
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
        // Only the tests' crash (see crash::panic_if_asked), with the dashboard on screen.
        crate::crash::panic_if_asked();
        if let Some(Stop::Exit) = self.apply(self.tick()) {
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

    /// Now, as the model takes it.
    fn tick(&self) -> Msg {
        let now = self.clock.elapsed();
        Msg::Tick {
            now,
            wall: self.clock.wall(now),
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
        let mut stop = self.apply(self.tick());
        if let Some(msg) = first
            && stop.is_none()
        {
            stop = self.apply(msg);
        }
        let mut n = 0;
        while stop.is_none() && n < BATCH {
            match self.events.try_recv() {
                Ok(ev) => stop = self.apply(Msg::Event(ev)),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Closed) => stop = Some(Stop::EngineGone),
            }
            n += 1;
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
                    // An error means the engine is gone, and the event
                    // stream says so.
                    let _ = self.session.send(cmd);
                }
                Effect::ScrollLog(how) => {
                    let at = scroll_log(&self.model, how);
                    stop = stop.or(self.apply(at));
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
        let model = self.model.next_wake().map(|o| self.clock.instant(o));
        match (model, frame) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn maybe_draw(&mut self, tui: &mut Tui) {
        if !self.dirty {
            return;
        }
        if let Some(t) = self.last_draw
            && self.clock.now() < t + MIN_FRAME
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
        self.last_draw = Some(self.clock.now());
    }
}

/// Carries out an [`Effect::ScrollLog`]: moves the log widget's view and
/// says where it ended up, for the model.
pub fn scroll_log(m: &Model, how: log::Scroll) -> Msg {
    log::flush();
    let area = super::layout::log_inner_area(m);
    Msg::LogScrolled(log::scroll(&m.log, area, &m.theme, how))
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

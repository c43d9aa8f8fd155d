//! `calltop replay FILE`: the dashboard on a recording. The same panels,
//! overlays and countdowns, rebuilt from the events by the same `update`,
//! played at real speed or faster, paused, stepped, or moved to a loss;
//! a banner says it is a replay and a timeline replaces the key hints.
//! Keys that act on a live call do nothing here (and say so).

mod player;
mod timeline;

use std::io::{self, IsTerminal};
use std::path::Path;
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use futures_util::StreamExt;
use ratatui::Frame;

pub use player::{LogChange, Player};
pub use timeline::{Bar, Playback};

use super::keys::{Action, Keymap};
use super::layout;
use super::log;
use super::model::{CallInfo, Effect, Model, Msg, update};
use super::sanitize::clean;
use super::terminal::{self, Signals, Tui};
use super::theme::{Meaning, Theme};
use super::view;
use crate::config::Config;
use crate::event::RunInfo;
use crate::exit::Exit;

/// Real time, on tokio's clock (which a test may pause).
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Frames are at least this far apart while playing.
const MIN_FRAME: Duration = Duration::from_millis(16);

/// What a key does in a replay, before the dashboard's own keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    PlayPause,
    /// ×2^(n-1), from the digit keys 1–9.
    Speed(u32),
    StepForward,
    StepBack,
    NextLoss,
    PreviousLoss,
    Start,
    End,
}

/// The replay's own keys: space, 1–9, `.`, `,`, `n`, `N`, Home, End.
pub fn control(key: &KeyEvent) -> Option<Control> {
    if key.kind == KeyEventKind::Release
        || key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return None;
    }
    Some(match key.code {
        KeyCode::Char(' ') => Control::PlayPause,
        KeyCode::Char(c @ '1'..='9') => Control::Speed(1 << (c as u32 - '1' as u32)),
        KeyCode::Char('.') => Control::StepForward,
        KeyCode::Char(',') => Control::StepBack,
        KeyCode::Char('n') => Control::NextLoss,
        KeyCode::Char('N') => Control::PreviousLoss,
        KeyCode::Home => Control::Start,
        KeyCode::End => Control::End,
        _ => return None,
    })
}

/// The keys, for the banner.
pub const KEYS: &str = "space play/pause · 1-9 speed · . , step · n N loss · Home End";

/// A replay on screen: the player, the playback and the model's log.
pub struct Replay {
    pub player: Player,
    pub playback: Playback,
    /// The file, as the banner names it.
    pub name: String,
}

impl Replay {
    /// Opens `path`; the model stands at the end of the recording (paused).
    pub fn open(
        path: &Path,
        keymap: Keymap,
        theme: Theme,
        log_capacity: usize,
    ) -> Result<(Replay, LogChange), crate::record::OpenError> {
        let name = clean(&path.display().to_string());
        let (mut player, log) = Player::open(
            path,
            |reader| {
                let info = recorded_info(reader.run(), reader.identity(), &name);
                let mut m = Model::new(info, keymap, theme, Duration::ZERO, std::time::UNIX_EPOCH);
                m.replay = true;
                m
            },
            log_capacity,
        )?;
        let end = player.duration();
        player.tick(end);
        Ok((
            Replay {
                player,
                playback: Playback::paused_at(end),
                name,
            },
            log,
        ))
    }

    /// Carries out a replay key at real time `now`.
    pub fn control(&mut self, c: Control, now: Instant) -> LogChange {
        let p = &mut self.player;
        let change = match c {
            Control::PlayPause => {
                if self.playback.paused && p.position() == p.len() {
                    // At the end: play from the start.
                    let change = p.seek(0);
                    self.playback.paused_at_mut(Duration::ZERO);
                    self.playback.play(now);
                    return change;
                }
                self.playback.toggle(now);
                return LogChange::default();
            }
            Control::Speed(s) => {
                self.playback.set_speed(s, now);
                return LogChange::default();
            }
            Control::StepForward => p.seek(p.position() + 1),
            Control::StepBack => p.seek(p.position().saturating_sub(1)),
            Control::NextLoss => match p.next_loss() {
                Some(to) => p.seek(to),
                None => {
                    p.model_mut()
                        .say(Meaning::Muted, "no connection loss after this".into());
                    LogChange::default()
                }
            },
            Control::PreviousLoss => match p.previous_loss() {
                Some(to) => p.seek(to),
                None => {
                    p.model_mut()
                        .say(Meaning::Muted, "no connection loss before this".into());
                    LogChange::default()
                }
            },
            Control::Start => p.seek(0),
            Control::End => p.seek(p.len()),
        };
        // A move by hand pauses, at the event it moved to.
        let at = match p.position() {
            0 => Duration::ZERO,
            n => p.offset_of(n - 1),
        };
        self.playback.paused_at_mut(at);
        p.tick(at);
        change
    }

    /// Plays on to real time `now`: every event up to the playhead.
    pub fn advance(&mut self, now: Instant) -> LogChange {
        if self.playback.paused {
            return LogChange::default();
        }
        let end = self.player.duration();
        let t = self.playback.at(now).min(end);
        let target = self.player.position_at(t);
        let change = self.player.seek(target);
        self.player.tick(t);
        if t >= end {
            self.playback.paused_at_mut(end);
        }
        change
    }

    /// When playing needs to wake next (the next event's time, or a
    /// countdown's second), in real time.
    pub fn next_wake(&self, now: Instant) -> Option<Instant> {
        if self.playback.paused {
            return None;
        }
        let p = &self.player;
        let next_event = (p.position() < p.len()).then(|| p.offset_of(p.position()));
        let model = p.model().next_wake();
        let t = match (next_event, model) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        Some(self.playback.real_time(t, now).max(now + MIN_FRAME))
    }

    /// The timeline's contents now.
    pub fn bar(&self) -> Bar {
        let p = &self.player;
        Bar {
            at: self.playback.position(),
            duration: p.duration(),
            event: p.position(),
            events: p.len(),
            losses: p.loss_offsets().collect(),
            speed: self.playback.speed,
            paused: self.playback.paused,
            damage: p.damage().map(|d| d.to_string()),
        }
    }
}

/// The header's facts, from the recording's `run_started` line (or, for
/// NDJSON without one, the session and user its lines name).
fn recorded_info(run: Option<&RunInfo>, identity: (String, String), name: &str) -> CallInfo {
    let banner = Some(format!("{name} · {KEYS}"));
    match run {
        Some(run) => CallInfo {
            session: clean(&run.session),
            user: clean(&run.user),
            server: clean(&run.server),
            backend: run.backend.to_string(),
            banner,
        },
        None => CallInfo {
            session: clean(&identity.0),
            user: clean(&identity.1),
            server: "(not in the recording)".into(),
            backend: "(not in the recording)".into(),
            banner,
        },
    }
}

/// Draws the dashboard as of the replay's position, with its timeline.
pub fn draw(r: &Replay, frame: &mut Frame) {
    let m = r.player.model();
    view::view(m, frame);
    let area = frame.area();
    if layout::too_small((area.width, area.height)) {
        return;
    }
    let footer = layout::layout(m, area).footer;
    timeline::draw(&r.bar(), &m.theme, frame, footer);
}

/// Writes a log change into the log widget.
pub fn show_log(change: LogChange, m: &Model, capacity: usize) {
    if change.reset {
        log::set_capacity(capacity);
    }
    for line in &change.lines {
        log::write(line, &m.tz);
    }
    log::flush();
}

/// Runs the replay dashboard until the user quits.
pub async fn run(config: Config, path: &Path) -> anyhow::Result<Exit> {
    let (keymap, theme) = match super::keys_and_theme(&config) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("calltop: {e}");
            return Ok(Exit::Usage);
        }
    };
    let capacity = config.ui.log_capacity;
    let (mut replay, log_change) = match Replay::open(path, keymap, theme, capacity) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("calltop: {e}");
            return Ok(Exit::Usage);
        }
    };
    // After the file: a file that is no recording is the first thing to hear about.
    if !io::stdout().is_terminal() || !io::stdin().is_terminal() {
        eprintln!(
            "calltop: the replay needs a terminal; `calltop replay --headless {}` prints a summary",
            path.display()
        );
        return Ok(Exit::Usage);
    }
    log::init(capacity);
    let signals = Signals::new()?;
    let mut tui = Tui::enter()?;
    if let Ok(size) = tui.terminal.size() {
        replay.player.model_mut().size = (size.width, size.height);
    }
    show_log(log_change, replay.player.model(), capacity);
    if let Some(d) = replay.player.damage() {
        let text = format!("the recording is damaged: replayed up to {d}");
        replay.player.model_mut().say(Meaning::Error, text);
    }
    let result = event_loop(&mut replay, &mut tui, signals, capacity).await;
    drop(tui);
    if terminal::panicked() {
        return Ok(Exit::Internal);
    }
    result
}

async fn event_loop(
    replay: &mut Replay,
    tui: &mut Tui,
    mut signals: Signals,
    capacity: usize,
) -> anyhow::Result<Exit> {
    let mut input = EventStream::new();
    let mut can_draw = true;
    loop {
        if can_draw && tui.terminal.draw(|frame| draw(replay, frame)).is_err() {
            can_draw = false;
        }
        let wake = replay.next_wake(now());
        let change = tokio::select! {
            ev = input.next() => match ev {
                Some(Ok(Event::Key(key))) => {
                    if let Some(c) = control(&key) {
                        replay.control(c, now())
                    } else {
                        match on_key(replay, &key) {
                            Some(Stop) => return Ok(Exit::Ok),
                            None => LogChange::default(),
                        }
                    }
                }
                Some(Ok(Event::Resize(w, h))) => {
                    update(replay.player.model_mut(), Msg::Resize(w, h));
                    LogChange::default()
                }
                Some(Ok(_)) => LogChange::default(),
                // The terminal is gone: nothing to look at any more.
                Some(Err(_)) | None => return Ok(Exit::Ok),
            },
            _ = signals.recv() => return Ok(Exit::Ok),
            _ = sleep_until(wake) => replay.advance(now()),
        };
        show_log(change, replay.player.model(), capacity);
        if !terminal::alive() {
            return Ok(Exit::Ok);
        }
    }
}

struct Stop;

/// A dashboard key in a replay: quit, help, settings, Esc and the log keys
/// work; leave, join, reconnect and the fault keys would act on a live
/// call, and say so.
fn on_key(replay: &mut Replay, key: &KeyEvent) -> Option<Stop> {
    let m = replay.player.model_mut();
    let action = m.keymap.action(key)?;
    match action {
        Action::Quit => return Some(Stop),
        Action::Leave | Action::Join | Action::Reconnect | Action::Inject(_) => {
            let label = m.keymap.label(action);
            m.say(
                Meaning::Muted,
                format!("{label}: a replay cannot act on the call it shows"),
            );
        }
        _ => {
            let u = update(m, Msg::Action(action));
            for e in u.effects {
                if let Effect::ScrollLog(how) = e {
                    let msg = super::app::scroll_log(replay.player.model(), how);
                    update(replay.player.model_mut(), msg);
                }
            }
        }
    }
    None
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

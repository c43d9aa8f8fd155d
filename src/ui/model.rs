//! The dashboard's state and the one function that changes it, Elm style:
//! [`update`] takes a [`Msg`] and says whether to redraw and what to do
//! ([`Effect`]s the app carries out: engine commands, log lines, exit).
//! No IO, no clock: time arrives in [`Msg::Tick`] as an offset on the run's
//! clock ([`crate::clock::Clock`]), the same one events are timed by, so a
//! live run, a replay and a test all drive it alike. The call's state comes
//! from the events alone; commands are effects, and what comes of them is
//! in the events that follow (`leaving`, `command_refused`...).

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use jiff::tz::TimeZone;
use tui_logger::TuiWidgetState;

use super::facts;
use super::fmt;
use super::keys::{Action, Keymap};
use super::log::{LogLine, Position, Scroll};
use super::sanitize::clean;
use super::theme::{Meaning, Theme};
use super::words;
use crate::engine::{Command, CommandError, Fault};
use crate::event::{EventKind, LeftReason, ServerFacts, SessionEvent};
use crate::settings::InForce;

/// Heartbeat round-trip times kept for the sparkline.
pub const RTT_HISTORY: usize = 240;

/// What we are connected to, for the header and the call panel. Every
/// field is shown as it is: clean it (see [`clean`]) before it goes in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallInfo {
    pub session: String,
    pub user: String,
    pub server: String,
    pub backend: String,
    /// Shown under the header when running the embedded demo.
    pub banner: Option<String>,
}

/// Where the call stands, as the badge shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum Status {
    /// Joining (the first attempt is number 1; 0 means the join is being sent).
    Connecting {
        attempt: u32,
        retry: Option<Retry>,
    },
    Joined,
    /// The connection dropped at `since` (an offset); retrying.
    Reconnecting {
        since: Duration,
        retry: Option<Retry>,
    },
    /// `leave` sent, waiting for the server to confirm.
    Leaving,
    Left(LeftReason),
    TimedOut(Duration),
    Closed(String),
}

/// The next connection attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retry {
    pub attempt: u32,
    pub max: u32,
    /// When it starts (an offset).
    pub at: Duration,
}

/// The idle countdown while we are alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Idle {
    /// When we leave (an offset).
    pub deadline: Duration,
    pub total: Duration,
}

impl Status {
    pub fn label(&self) -> &'static str {
        match self {
            Status::Connecting { .. } => "CONNECTING",
            Status::Joined => "JOINED",
            Status::Reconnecting { .. } => "RECONNECTING",
            Status::Leaving => "LEAVING",
            Status::Left(_) => "LEFT",
            Status::TimedOut(_) => "TIMED OUT",
            Status::Closed(_) => "CLOSED",
        }
    }

    pub fn meaning(&self) -> Meaning {
        match self {
            Status::Connecting { .. } => Meaning::Accent,
            Status::Joined => Meaning::Ok,
            Status::Reconnecting { .. } | Status::TimedOut(_) => Meaning::Warn,
            Status::Leaving | Status::Left(LeftReason::User) => Meaning::Muted,
            Status::Left(_) | Status::Closed(_) => Meaning::Error,
        }
    }

    /// In a session or on the way into or out of one.
    pub fn is_active(&self) -> bool {
        matches!(
            self,
            Status::Connecting { .. }
                | Status::Joined
                | Status::Reconnecting { .. }
                | Status::Leaving
        )
    }
}

/// Another participant as the dashboard shows them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// The name as the server sent it (clean it to show it); empty if none.
    pub user: String,
    pub joined_at: Option<SystemTime>,
}

/// What stands for a participant's name when the server has none.
pub const NO_NAME: &str = "(no name)";

/// A participant as the participants panel lists them (see [`Model::people`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown<'a> {
    /// The id the server keys them by, raw (clean it to show it).
    pub id: &'a str,
    /// The name, cleaned; empty when the server has none (show [`NO_NAME`]).
    pub name: String,
    /// The name alone does not tell them apart: show the id beside it.
    pub show_id: bool,
    pub joined_at: Option<SystemTime>,
}

/// A participant's name as shown: cleaned, or [`NO_NAME`] if they have none.
pub fn name_shown(user: &str) -> String {
    if user.is_empty() {
        NO_NAME.to_owned()
    } else {
        clean(user)
    }
}

/// How the event log names a participant: the name, cleaned, and the id
/// beside it whenever the id is not the name itself: `alice (#8362730246246576)`,
/// `(no name) (#8362730246246576)`, plain `bob` on calltop's protocol (where
/// the id is the name).
///
/// Always, not only while two share a name: a log line is read later, when
/// who was who may have changed (a namesake joined since, someone was
/// renamed), and the id is what the server's own logs use. The participants
/// panel shows the present, so it shows ids only where the names on it are
/// alike now (see [`Model::people`]).
pub fn who(id: &str, user: &str) -> String {
    let name = name_shown(user);
    if id == user || id.is_empty() {
        name
    } else {
        format!("{name} (#{})", clean(id))
    }
}

/// The last thing that went wrong, cleaned, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LastError {
    pub text: String,
    pub at: SystemTime,
    /// It explains where the call is now (down, closed, or nothing has
    /// happened since). False once the call has got past it (restored,
    /// joined, left): still worth reading, as history, but not as news.
    pub current: bool,
}

/// Everything the dashboard shows.
#[derive(Clone)]
pub struct Model {
    pub info: CallInfo,
    pub keymap: Keymap,
    pub theme: Theme,
    pub tz: TimeZone,
    /// "Now" as an offset on the run's clock and on the wall clock, from the
    /// last [`Msg::Tick`].
    pub now: Duration,
    pub wall: SystemTime,
    /// Terminal size (columns, rows).
    pub size: (u16, u16),
    pub status: Status,
    /// When the current call was joined (offset, wall clock).
    pub call_start: Option<(Duration, SystemTime)>,
    /// Other participants by the id the server keys them by (their name on
    /// calltop's protocol, a number on Janus).
    pub participants: BTreeMap<String, Person>,
    /// What the server told us about itself and this call, cleaned; `None`
    /// until it says, and again once the call ends.
    pub facts: Option<ServerFacts>,
    /// Round-trip times of this call's heartbeats, newest last; kept once
    /// the call is over (what the connection was like is worth seeing
    /// then), gone on the next join.
    pub rtt: VecDeque<Duration>,
    /// The newest round trip is of the connection we have now: false from a
    /// drop, a leave or the end of the call until the next heartbeat, so a
    /// value from before is never shown as if it were current.
    pub rtt_live: bool,
    pub lost_count: u32,
    pub last_downtime: Option<Duration>,
    pub last_error: Option<LastError>,
    pub idle: Option<Idle>,
    pub help: bool,
    /// The final message of an ended session was closed with Esc.
    pub final_dismissed: bool,
    /// The reconnect overlay was closed with Esc; it comes back on the next
    /// change of connection state (lost again, restored, closed).
    pub reconnect_dismissed: bool,
    /// Quitting: leave first, but exit at this offset at the latest.
    pub quit_by: Option<Duration>,
    /// How long a quit waits for the session to be left.
    pub quit_grace: Duration,
    /// Feedback on the last key press.
    pub notice: Option<(Meaning, String)>,
    /// A replay: keys that would act on a live call are not offered.
    pub replay: bool,
    /// The settings the run reported in force (its `run_started`).
    pub in_force: Option<InForce>,
    /// The settings panel is open.
    pub settings_panel: bool,
    /// The outage under way is of our own making (an injected fault).
    pub injected_outage: bool,
    /// Faults that last and are under way (a stall, refusals to come).
    pub faults_active: Vec<Fault>,
    /// The idle timeout injected for this join.
    pub injected_idle: Option<Duration>,
    /// `contract_violation` events in this run.
    pub violations: u32,
    /// When something last came from the server (an offset): a heartbeat's
    /// answer, a roster change, a join or restore. `None` while there is no
    /// connection.
    pub last_heard: Option<Duration>,
    /// The server's resume window, kept past the end of the call (the
    /// facts go with it) for [`Model::slot_held_for`].
    pub resume_window: Option<Duration>,
    /// When the connection we gave up on was lost (an offset), while the
    /// server may still hold our slot from it.
    pub given_up_since: Option<Duration>,
    /// The log widget's scroll state: the widget's, shared, not the call's
    /// (a copy of the model, as a replay keeps, shows the same log).
    pub log: Arc<TuiWidgetState>,
    pub log_scrolled: bool,
    /// The log shows its oldest lines: further back is nothing, and finding
    /// that out again would cost a draw per page.
    pub log_at_oldest: bool,
}

/// What can happen to the dashboard.
#[derive(Debug)]
pub enum Msg {
    /// Time moved on.
    Tick {
        now: Duration,
        wall: SystemTime,
    },
    Event(SessionEvent),
    Action(Action),
    /// Where the log's view ended up after an [`Effect::ScrollLog`].
    LogScrolled(Position),
    Resize(u16, u16),
    /// SIGTERM, SIGHUP or SIGINT.
    Signal(&'static str),
    /// The terminal's input is gone (the ssh connection died).
    InputClosed,
}

/// Something for the app to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    Run(Command),
    Log(LogLine),
    /// Move the log's view; the outcome comes back as [`Msg::LogScrolled`].
    ScrollLog(Scroll),
    Exit,
}

/// The outcome of one message.
#[derive(Debug, Default, PartialEq)]
pub struct Update {
    pub redraw: bool,
    pub effects: Vec<Effect>,
}

/// The displayed values that change with time alone; a tick redraws only
/// when one of them changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Face {
    idle: Option<u64>,
    retry: Option<u64>,
    down: Option<u64>,
    call_minutes: Option<u64>,
    /// Seconds since the server was last heard from, while the panel shows it.
    heard: Option<u64>,
    slot_held: Option<u64>,
}

impl Model {
    pub fn new(
        info: CallInfo,
        keymap: Keymap,
        theme: Theme,
        now: Duration,
        wall: SystemTime,
    ) -> Model {
        Model {
            info,
            keymap,
            theme,
            tz: TimeZone::system(),
            now,
            wall,
            size: (80, 24),
            status: Status::Connecting {
                attempt: 0,
                retry: None,
            },
            call_start: None,
            participants: BTreeMap::new(),
            facts: None,
            rtt: VecDeque::with_capacity(RTT_HISTORY),
            rtt_live: false,
            lost_count: 0,
            last_downtime: None,
            last_error: None,
            idle: None,
            help: false,
            final_dismissed: false,
            reconnect_dismissed: false,
            quit_by: None,
            quit_grace: Duration::from_secs(3),
            notice: None,
            replay: false,
            in_force: None,
            settings_panel: false,
            injected_outage: false,
            faults_active: Vec::new(),
            injected_idle: None,
            violations: 0,
            last_heard: None,
            resume_window: None,
            given_up_since: None,
            log: Arc::new(TuiWidgetState::new()),
            log_scrolled: false,
            log_at_oldest: false,
        }
    }

    /// The other participants in the order the panel lists them (by join
    /// time, then name, then id), each with their name cleaned and their id
    /// to be shown beside it when the name alone does not tell them apart:
    /// it is empty, or another participant's looks the same (compared as
    /// shown, so names that differ only in what cleaning replaces or cuts
    /// count as alike). An id that is the name itself (calltop's protocol)
    /// is never shown: it would add nothing.
    pub fn people(&self) -> Vec<Shown<'_>> {
        let names: Vec<String> = self.participants.values().map(|p| clean(&p.user)).collect();
        let mut count: BTreeMap<&str, usize> = BTreeMap::new();
        for name in &names {
            *count.entry(name).or_default() += 1;
        }
        let mut people: Vec<(&Person, Shown<'_>)> = self
            .participants
            .iter()
            .zip(&names)
            .map(|((id, p), name)| {
                let show_id = *id != p.user && (name.is_empty() || count[name.as_str()] > 1);
                let shown = Shown {
                    id,
                    name: name.clone(),
                    show_id,
                    joined_at: p.joined_at,
                };
                (p, shown)
            })
            .collect();
        people.sort_by(|(a, x), (b, y)| {
            a.joined_at
                .cmp(&b.joined_at)
                .then_with(|| a.user.cmp(&b.user))
                .then_with(|| x.id.cmp(y.id))
        });
        people.into_iter().map(|(_, shown)| shown).collect()
    }

    /// Time left on the idle countdown, while it shows.
    pub fn idle_left(&self) -> Option<(Idle, Duration)> {
        let idle = self.idle?;
        matches!(self.status, Status::Joined | Status::Reconnecting { .. })
            .then(|| (idle, idle.deadline.saturating_sub(self.now)))
    }

    /// The next connection attempt and how long until it starts.
    pub fn retry(&self) -> Option<(Retry, Duration)> {
        match &self.status {
            Status::Connecting { retry, .. } | Status::Reconnecting { retry, .. } => {
                retry.map(|r| (r, r.at.saturating_sub(self.now)))
            }
            _ => None,
        }
    }

    /// How long the connection has been down, while reconnecting.
    pub fn down_for(&self) -> Option<Duration> {
        match self.status {
            Status::Reconnecting { since, .. } => Some(self.now.saturating_sub(since)),
            _ => None,
        }
    }

    /// Time in the current call.
    pub fn in_call(&self) -> Option<Duration> {
        match self.status {
            Status::Joined | Status::Reconnecting { .. } | Status::Leaving => {
                self.call_start.map(|(at, _)| self.now.saturating_sub(at))
            }
            _ => None,
        }
    }

    /// The session is over in a way the user should read about (not their own leave).
    pub fn final_message(&self) -> bool {
        !self.final_dismissed
            && matches!(
                self.status,
                Status::Closed(_)
                    | Status::TimedOut(_)
                    | Status::Left(LeftReason::Removed | LeftReason::Ended | LeftReason::Replaced)
            )
    }

    /// The terminal is smaller than the dashboard; only a notice shows.
    pub fn too_small(&self) -> bool {
        super::layout::too_small(self.size)
    }

    /// How long the server may still hold our old slot after we gave up
    /// reconnecting: its resume window from when the connection was lost.
    pub fn slot_held_for(&self) -> Option<Duration> {
        let (since, window) = (self.given_up_since?, self.resume_window?);
        matches!(self.status, Status::Closed(_))
            .then(|| (since + window).saturating_sub(self.now))
            .filter(|left| !left.is_zero())
    }

    /// How long ago the server was last heard from, while connected.
    pub fn heard_ago(&self) -> Option<Duration> {
        self.last_heard.map(|at| self.now.saturating_sub(at))
    }

    /// Whether the fault keys do anything here (not in a replay, not with
    /// `--no-faults`).
    pub fn faults_offered(&self) -> bool {
        !self.replay && self.in_force.as_ref().is_none_or(|f| f.faults)
    }

    /// The reconnect overlay is up.
    pub fn reconnect_overlay(&self) -> bool {
        !self.reconnect_dismissed && matches!(self.status, Status::Reconnecting { .. })
    }

    fn face(&self) -> Face {
        Face {
            idle: self.idle_left().map(|(_, d)| fmt::secs_left(d)),
            retry: self.retry().map(|(_, d)| fmt::secs_left(d)),
            down: self.down_for().map(|d| d.as_secs()),
            call_minutes: self.in_call().map(|d| d.as_secs() / 60),
            heard: self
                .heard_ago()
                .filter(|_| self.settings_panel)
                .map(|d| d.as_secs()),
            slot_held: self.slot_held_for().map(fmt::secs_left),
        }
    }

    /// The next instant at which something on screen changes by itself: a
    /// countdown's second, the down-for counter, the call's minute, the quit
    /// deadline, as an offset. `None`: nothing moves until an event or a key
    /// arrives.
    pub fn next_wake(&self) -> Option<Duration> {
        let sec = Duration::from_secs(1);
        let countdown = |deadline: Duration, left: Duration| {
            let shown = fmt::secs_left(left);
            (shown > 0).then(|| deadline - sec * (shown as u32 - 1))
        };
        let counting_up = |from: Duration, elapsed: Duration, unit: u64| {
            let next = (elapsed.as_secs() / unit + 1) * unit;
            from + Duration::from_secs(next)
        };
        [
            self.idle_left()
                .and_then(|(i, left)| countdown(i.deadline, left)),
            self.retry().and_then(|(r, left)| countdown(r.at, left)),
            match self.status {
                Status::Reconnecting { since, .. } => {
                    Some(counting_up(since, self.now.saturating_sub(since), 1))
                }
                _ => None,
            },
            self.in_call()
                .zip(self.call_start)
                .map(|(d, (at, _))| counting_up(at, d, 60)),
            self.quit_by,
            self.last_heard
                .filter(|_| self.settings_panel)
                .map(|at| counting_up(at, self.now.saturating_sub(at), 1)),
            self.slot_held_for()
                .and_then(|left| countdown(self.given_up_since? + self.resume_window?, left)),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn log_line(&self, out: &mut Vec<Effect>, ts: SystemTime, meaning: Meaning, text: String) {
        out.push(Effect::Log(LogLine { ts, meaning, text }));
    }

    /// Something went wrong at `at`: the latest error, and current.
    fn failed(&mut self, text: String, at: SystemTime) {
        self.last_error = Some(LastError {
            text,
            at,
            current: true,
        });
    }

    /// The call has got past its last error (restored, joined, left): it
    /// stays readable, as history.
    fn past_error(&mut self) {
        if let Some(e) = &mut self.last_error {
            e.current = false;
        }
    }

    /// Feedback in the header from outside `update`: a replay's keys, which
    /// change no call.
    pub fn say(&mut self, meaning: Meaning, text: String) {
        self.notice = Some((meaning, text));
    }

    /// Feedback on a key in the header only (the log shows what follows).
    fn notice(&mut self, meaning: Meaning, text: String) {
        self.notice = Some((meaning, text));
    }

    /// Feedback on a key: in the header and in the log.
    fn note(&mut self, out: &mut Vec<Effect>, meaning: Meaning, text: String) {
        self.log_line(out, self.wall, meaning, format!("› {text}"));
        self.notice = Some((meaning, text));
    }
}

/// Applies one message.
pub fn update(m: &mut Model, msg: Msg) -> Update {
    let mut out = Vec::new();
    let redraw = match msg {
        Msg::Tick { now, wall } => {
            let before = m.face();
            m.now = now;
            m.wall = wall;
            if m.quit_by.is_some_and(|by| now >= by) {
                out.push(Effect::Exit);
            }
            m.face() != before
        }
        Msg::Event(ev) => {
            on_event(m, ev, &mut out);
            true
        }
        Msg::Action(a) => on_action(m, a, &mut out),
        Msg::LogScrolled(at) => {
            scrolled(m, at);
            true
        }
        Msg::Resize(w, h) => {
            m.size = (w, h);
            // Pages are another size now; where the top is must be found again.
            m.log_at_oldest = false;
            true
        }
        Msg::Signal(name) => {
            let wall = m.wall;
            m.log_line(
                &mut out,
                wall,
                Meaning::Warn,
                format!("{name}: leaving the session and quitting"),
            );
            quit(m, &mut out, false);
            true
        }
        Msg::InputClosed => {
            let wall = m.wall;
            m.log_line(
                &mut out,
                wall,
                Meaning::Warn,
                "the terminal went away: leaving the session and quitting".into(),
            );
            quit(m, &mut out, false);
            true
        }
    };
    Update {
        redraw,
        effects: out,
    }
}

fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

fn on_event(m: &mut Model, ev: SessionEvent, out: &mut Vec<Effect>) {
    let SessionEvent {
        offset: at,
        ts,
        kind,
    } = ev;
    let terminal = kind.is_terminal();
    let label = m.status.label();
    if from_server(&kind) {
        m.last_heard = Some(at);
    }
    // Feedback in the header, put up after the check below that clears a
    // notice about a state that has passed.
    let mut notice = None;
    let (meaning, text) = match kind {
        EventKind::Connecting { attempt } => {
            if !m.status.is_active() {
                // A new join: a new call's numbers. The last call's drops
                // and error are in the log; its round trips go with it.
                m.given_up_since = None;
                m.lost_count = 0;
                m.last_downtime = None;
                m.last_error = None;
                m.rtt.clear();
                m.rtt_live = false;
                notice = Some((
                    Meaning::Accent,
                    format!("joining session {}", m.info.session),
                ));
            }
            m.status = Status::Connecting {
                attempt,
                retry: None,
            };
            let server = &m.info.server;
            let text = if attempt <= 1 {
                format!("connecting to {server}")
            } else {
                format!("connecting to {server} (attempt {attempt})")
            };
            (Meaning::Muted, Some(text))
        }
        EventKind::SessionJoined { participants } => {
            m.status = Status::Joined;
            m.call_start = Some((at, ts));
            m.participants.clear();
            m.final_dismissed = false;
            // Whatever went wrong on the way in is behind us now.
            m.past_error();
            let others = match participants {
                0 => "nobody else is here yet".into(),
                n => format!("{} here", plural(n, "other person is", "others are")),
            };
            let text = format!(
                "joined session {} as {}; {others}",
                m.info.session, m.info.user
            );
            (Meaning::Ok, Some(text))
        }
        EventKind::SessionLeft { reason } => {
            m.status = Status::Left(reason);
            m.past_error();
            let meaning = match reason {
                LeftReason::User => Meaning::Muted,
                LeftReason::Removed | LeftReason::Ended | LeftReason::Replaced => Meaning::Error,
            };
            (meaning, Some(words::left(reason).to_owned()))
        }
        EventKind::SessionTimedOut { idle_timeout } => {
            m.status = Status::TimedOut(idle_timeout);
            m.past_error();
            let text = format!("{} (idle timeout)", words::timed_out(idle_timeout));
            (Meaning::Warn, Some(text))
        }
        EventKind::ConnectionLost { reason, injected } => {
            m.reconnect_dismissed = false;
            let reason = clean(&reason);
            m.status = Status::Reconnecting {
                since: at,
                retry: None,
            };
            m.lost_count += 1;
            m.rtt_live = false;
            m.last_heard = None;
            m.injected_outage = injected;
            // A stall ends with the connection it stalled.
            m.faults_active
                .retain(|f| !matches!(f, Fault::Stall { .. }));
            m.failed(reason.clone(), ts);
            let mark = if injected { words::INJECTED_MARK } else { "" };
            (
                Meaning::Error,
                Some(format!("connection lost{mark}: {reason}")),
            )
        }
        EventKind::ConnectionRestored {
            resumed,
            downtime,
            attempts,
        } => {
            m.status = Status::Joined;
            m.reconnect_dismissed = false;
            m.injected_outage = false;
            m.last_downtime = Some(downtime);
            // The drop is over, its reason history. The round trip stays
            // history too until a heartbeat on this connection.
            m.past_error();
            let how = if resumed {
                "the server kept our place"
            } else {
                "joined again as new"
            };
            let text = format!(
                "connection restored after {} ({}; {how})",
                fmt::human(downtime),
                plural(attempts as usize, "attempt", "attempts")
            );
            (Meaning::Ok, Some(text))
        }
        EventKind::ConnectionClosed { reason } => {
            m.reconnect_dismissed = false;
            if let Status::Reconnecting { since, .. } = m.status {
                m.given_up_since = Some(since);
            }
            let reason = clean(&reason);
            m.failed(reason.clone(), ts);
            m.status = Status::Closed(reason.clone());
            (Meaning::Error, Some(format!("connection closed: {reason}")))
        }
        EventKind::ReconnectAttempt {
            attempt,
            max,
            delay,
            last_error,
        } => {
            // What the attempt before ran into: the latest, not the first, reason.
            if let Some(e) = last_error {
                m.failed(clean(&e), ts);
            }
            let next = Retry {
                attempt,
                max,
                at: at + delay,
            };
            let what = match &mut m.status {
                Status::Connecting { retry, .. } => {
                    *retry = Some(next);
                    "join "
                }
                Status::Reconnecting { retry, .. } => {
                    *retry = Some(next);
                    "reconnect "
                }
                _ => "",
            };
            let when = if delay.is_zero() {
                "now".to_owned()
            } else {
                format!("in {}", fmt::human(delay))
            };
            (
                Meaning::Warn,
                Some(format!("{what}{} {when}", words::attempt(attempt, max))),
            )
        }
        // Kept by the name the server uses (two names may look alike once
        // cleaned or cut); cleaned only to be shown.
        // The log names them with their id (see `who`).
        EventKind::ParticipantJoined {
            id,
            user,
            joined_at,
        } => {
            let text = format!("{} joined", who(&id, &user));
            m.participants.insert(id, Person { user, joined_at });
            (Meaning::Accent, Some(text))
        }
        EventKind::ParticipantLeft { id, user } => {
            let text = format!("{} left", who(&id, &user));
            m.participants.remove(&id);
            (Meaning::Text, Some(text))
        }
        EventKind::ParticipantRenamed { id, user, previous } => {
            // The id once, with the name it is known by so far.
            let text = format!("{} is now {}", who(&id, &previous), name_shown(&user));
            if let Some(p) = m.participants.get_mut(&id) {
                p.user = user;
            }
            (Meaning::Text, Some(text))
        }
        EventKind::ServerInfo(f) => {
            let clean_opt = |s: Option<String>| s.map(|s| clean(&s));
            let f = ServerFacts {
                server: clean_opt(f.server),
                server_name: clean_opt(f.server_name),
                room: clean_opt(f.room),
                server_session: clean_opt(f.server_session),
                own_id: clean_opt(f.own_id),
                ..f
            };
            let text = facts::log_text(&m.info, &f);
            m.resume_window = f.resume_window;
            m.facts = Some(f);
            (Meaning::Muted, text)
        }
        EventKind::IdleCountdownStarted { timeout } => {
            m.idle = Some(Idle {
                deadline: at + timeout,
                total: timeout,
            });
            (Meaning::Warn, Some(words::alone(timeout)))
        }
        EventKind::IdleCountdownCancelled => {
            m.idle = None;
            (
                Meaning::Muted,
                Some("not alone any more: idle countdown stopped".into()),
            )
        }
        EventKind::Heartbeat { rtt } => {
            if m.rtt.len() == RTT_HISTORY {
                m.rtt.pop_front();
            }
            m.rtt.push_back(rtt);
            m.rtt_live = true;
            // The sparkline shows these; one line every two seconds would bury the log.
            (Meaning::Muted, None)
        }
        EventKind::Error { message } => {
            let message = clean(&message);
            m.failed(message.clone(), ts);
            (Meaning::Warn, Some(message))
        }
        // Which run this is: the header shows it already; the settings
        // panel shows what it ran with.
        EventKind::RunStarted { run } => {
            m.in_force = serde_json::from_value(run.settings).ok();
            (Meaning::Muted, None)
        }
        EventKind::FaultInjected { fault } => {
            match fault {
                Fault::Stall { .. } | Fault::Refuse { .. } => m.faults_active.push(fault),
                Fault::Idle { timeout } => m.injected_idle = Some(timeout),
                Fault::Drop | Fault::ForgetResume => {}
            }
            notice = Some((Meaning::Warn, words::injected(&fault)));
            (Meaning::Warn, Some(words::injected(&fault)))
        }
        EventKind::FaultEnded { fault } => {
            m.faults_active.retain(|f| *f != fault);
            (Meaning::Muted, Some(words::fault_over(&fault)))
        }
        EventKind::ContractViolation(v) => {
            m.violations += 1;
            let events: Vec<String> = v.events.iter().map(ToString::to_string).collect();
            (
                Meaning::Error,
                Some(format!(
                    "contract violation, {}: {}",
                    v.rule,
                    clean(&events.join(" then "))
                )),
            )
        }
        EventKind::Leaving { rejoin } => {
            m.status = Status::Leaving;
            m.faults_active
                .retain(|f| !matches!(f, Fault::Stall { .. }));
            // No more heartbeats on the way out.
            m.rtt_live = false;
            m.past_error();
            let text = match (rejoin, m.quit_by.is_some()) {
                (true, _) => "leaving the session, then joining it again",
                (false, true) => "leaving the session, then quitting",
                (false, false) => "leaving the session",
            };
            notice = Some((Meaning::Muted, text.to_owned()));
            (Meaning::Muted, Some(text.to_owned()))
        }
        EventKind::CommandRefused { command, reason } => {
            match (command, reason) {
                // Quitting raced the end of the session: the terminal event
                // has come or is on its way, and it ends the run.
                (Command::Leave, CommandError::NotInSession | CommandError::AlreadyLeaving)
                    if m.quit_by.is_some() =>
                {
                    if !m.status.is_active() {
                        out.push(Effect::Exit);
                    }
                    (Meaning::Muted, None)
                }
                _ => {
                    let text = format!("can't {command}: {reason}");
                    notice = Some((Meaning::Warn, text.clone()));
                    (Meaning::Warn, Some(format!("› {text}")))
                }
            }
        }
    };
    if m.status.label() != label && m.quit_by.is_none() {
        // The last key's feedback is about a state that has passed.
        m.notice = None;
    }
    if notice.is_some() {
        m.notice = notice;
    }
    if terminal {
        m.participants.clear();
        m.facts = None;
        m.last_heard = None;
        m.injected_outage = false;
        m.faults_active.clear();
        m.injected_idle = None;
        m.rtt_live = false;
        m.idle = None;
        m.call_start = None;
        m.final_dismissed = false;
    }
    if let Some(text) = text {
        m.log_line(out, ts, meaning, text);
    }
    if terminal && m.quit_by.is_some() {
        out.push(Effect::Exit);
    }
}

/// Whether an event says the server was just heard from.
fn from_server(kind: &EventKind) -> bool {
    matches!(
        kind,
        EventKind::Heartbeat { .. }
            | EventKind::SessionJoined { .. }
            | EventKind::ConnectionRestored { .. }
            | EventKind::ParticipantJoined { .. }
            | EventKind::ParticipantLeft { .. }
            | EventKind::ParticipantRenamed { .. }
            | EventKind::ServerInfo(_)
    )
}

fn on_action(m: &mut Model, a: Action, out: &mut Vec<Effect>) -> bool {
    match a {
        Action::Leave => out.push(Effect::Run(Command::Leave)),
        Action::Join if m.slot_held_for().is_some() => {
            let left = m.slot_held_for().unwrap_or_default();
            m.note(
                out,
                Meaning::Warn,
                format!(
                    "the server may still hold our old slot for {} s (its resume window): \
                     others may see us twice until then",
                    fmt::secs_left(left)
                ),
            );
            out.push(Effect::Run(Command::Join));
        }
        Action::Join => out.push(Effect::Run(Command::Join)),
        Action::Reconnect => out.push(Effect::Run(Command::ReconnectNow)),
        // Refused by the engine where it makes no sense (or with
        // --no-faults), and the refusal is in the events like any other.
        Action::Inject(fault) => out.push(Effect::Run(Command::Fault(fault))),
        // The "too small" notice shows neither help, nor overlays, nor the
        // log: keys for them would change what cannot be seen.
        Action::Help
        | Action::Settings
        | Action::Back
        | Action::LogOlder
        | Action::LogNewer
        | Action::LogOldest
        | Action::LogNewest
            if m.too_small() =>
        {
            let key = m.keymap.label(a);
            m.notice(
                Meaning::Muted,
                format!("{key}: nothing to show in a terminal this small"),
            );
        }
        Action::Help => {
            m.help = !m.help;
            m.settings_panel = false;
        }
        Action::Settings => {
            m.settings_panel = !m.settings_panel;
            m.help = false;
        }
        Action::Quit => quit(m, out, true),
        Action::Back => {
            if m.help {
                m.help = false;
            } else if m.settings_panel {
                m.settings_panel = false;
            } else if m.reconnect_overlay() {
                m.reconnect_dismissed = true;
                m.notice(Meaning::Muted, "overlay hidden until next change".into());
            } else if m.final_message() {
                m.final_dismissed = true;
            } else if m.log_scrolled {
                scroll(m, Scroll::Newest, out);
            } else {
                m.note(out, Meaning::Muted, "Esc: nothing to close".into());
            }
        }
        Action::LogOlder => scroll(m, Scroll::Older, out),
        Action::LogNewer => scroll(m, Scroll::Newer, out),
        Action::LogOldest => scroll(m, Scroll::Oldest, out),
        Action::LogNewest => scroll(m, Scroll::Newest, out),
    }
    true
}

/// Scrolling is the app's to carry out (it needs the log widget's lines);
/// the model asks for it and hears back in [`Msg::LogScrolled`].
fn scroll(m: &mut Model, how: Scroll, out: &mut Vec<Effect>) {
    let older = matches!(how, Scroll::Older | Scroll::Oldest);
    if older && m.log_at_oldest {
        m.notice(Meaning::Muted, AT_OLDEST.into());
        return;
    }
    if !older && !m.log_scrolled {
        m.notice(Meaning::Muted, AT_NEWEST.into());
        return;
    }
    out.push(Effect::ScrollLog(how));
}

fn scrolled(m: &mut Model, at: Position) {
    m.log_scrolled = matches!(at, Position::Back | Position::Oldest);
    m.log_at_oldest = at == Position::Oldest;
    if at == Position::All {
        m.notice(Meaning::Muted, ALL_ON_SCREEN.into());
    } else if m
        .notice
        .as_ref()
        .is_some_and(|(_, n)| [AT_OLDEST, AT_NEWEST, ALL_ON_SCREEN].contains(&n.as_str()))
    {
        // The view moved: a "nowhere to go" notice is out of date.
        m.notice = None;
    }
}

const AT_OLDEST: &str = "already at the oldest event";
const AT_NEWEST: &str = "already at the newest event";
const ALL_ON_SCREEN: &str = "the whole log is on screen";

/// Leaves the session (if in one), then exits. `by_key`: a second quit key
/// press exits at once; a signal after a key (or another signal) just waits.
fn quit(m: &mut Model, out: &mut Vec<Effect>, by_key: bool) {
    if m.quit_by.is_some() {
        if by_key {
            out.push(Effect::Exit);
        }
        return;
    }
    if !m.status.is_active() {
        out.push(Effect::Exit);
        return;
    }
    m.quit_by = Some(m.now + m.quit_grace);
    if m.status != Status::Leaving {
        out.push(Effect::Run(Command::Leave));
    }
    let again = m.keymap.label(Action::Quit);
    m.note(
        out,
        Meaning::Muted,
        format!("quitting: leaving the session first ({again} again to quit at once)"),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> (Model, Duration) {
        let now = Duration::from_secs(100);
        let info = CallInfo {
            session: "demo".into(),
            user: "alice".into(),
            server: "ws://127.0.0.1:7878/ws".into(),
            backend: "calltop".into(),
            banner: None,
        };
        let mut m = Model::new(
            info,
            Keymap::default(),
            Theme::plain(),
            now,
            SystemTime::UNIX_EPOCH,
        );
        m.tz = TimeZone::UTC;
        (m, now)
    }

    fn ev(m: &mut Model, at: Duration, kind: EventKind) -> Update {
        update(
            m,
            Msg::Event(SessionEvent {
                offset: at,
                ts: SystemTime::UNIX_EPOCH,
                kind,
            }),
        )
    }

    fn tick(m: &mut Model, now: Duration) -> Update {
        update(
            m,
            Msg::Tick {
                now,
                wall: SystemTime::UNIX_EPOCH,
            },
        )
    }

    fn logged(u: &Update) -> Vec<String> {
        u.effects
            .iter()
            .filter_map(|e| match e {
                Effect::Log(l) => Some(l.text.clone()),
                _ => None,
            })
            .collect()
    }

    fn joined(m: &mut Model, at: Duration) {
        ev(m, at, EventKind::Connecting { attempt: 1 });
        ev(m, at, EventKind::SessionJoined { participants: 0 });
    }

    #[test]
    fn quit_leaves_first_and_exits_on_the_terminal_event() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        let u = update(&mut m, Msg::Action(Action::Quit));
        assert!(u.effects.contains(&Effect::Run(Command::Leave)));
        assert!(!u.effects.contains(&Effect::Exit));
        ev(&mut m, t0, EventKind::Leaving { rejoin: false });
        assert_eq!(m.status, Status::Leaving);
        assert_eq!(
            m.notice.as_ref().unwrap().1,
            "leaving the session, then quitting"
        );
        let u = ev(
            &mut m,
            t0,
            EventKind::SessionLeft {
                reason: LeftReason::User,
            },
        );
        assert!(u.effects.contains(&Effect::Exit));
    }

    #[test]
    fn quitting_as_the_session_ends_by_itself_exits_on_the_refusal_or_the_end() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        update(&mut m, Msg::Action(Action::Quit));
        // The session ended before our leave reached the engine.
        let u = ev(
            &mut m,
            t0,
            EventKind::SessionLeft {
                reason: LeftReason::Removed,
            },
        );
        assert!(u.effects.contains(&Effect::Exit));
        let u = ev(
            &mut m,
            t0,
            EventKind::CommandRefused {
                command: Command::Leave,
                reason: CommandError::NotInSession,
            },
        );
        assert!(logged(&u).is_empty(), "no 'can't leave' while quitting");
        assert!(u.effects.contains(&Effect::Exit));
    }

    #[test]
    fn quit_gives_up_waiting_at_its_deadline_or_on_a_second_press() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        update(&mut m, Msg::Action(Action::Quit));
        let grace = m.quit_grace;
        assert_eq!(m.next_wake(), Some(t0 + grace));
        let u = tick(&mut m, t0 + grace);
        assert!(u.effects.contains(&Effect::Exit));
        let (mut m, t0) = model();
        joined(&mut m, t0);
        update(&mut m, Msg::Action(Action::Quit));
        let u = update(&mut m, Msg::Action(Action::Quit));
        assert!(u.effects.contains(&Effect::Exit));
    }

    #[test]
    fn a_hangup_after_a_signal_still_waits_for_the_leave() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        let u = update(&mut m, Msg::Signal("SIGHUP"));
        assert!(u.effects.contains(&Effect::Run(Command::Leave)));
        let u = update(&mut m, Msg::InputClosed);
        assert!(!u.effects.contains(&Effect::Exit));
        let u = ev(
            &mut m,
            t0,
            EventKind::SessionLeft {
                reason: LeftReason::User,
            },
        );
        assert!(u.effects.contains(&Effect::Exit));
    }

    #[test]
    fn quit_when_not_in_a_session_exits_at_once() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        ev(
            &mut m,
            t0,
            EventKind::SessionLeft {
                reason: LeftReason::User,
            },
        );
        let u = update(&mut m, Msg::Action(Action::Quit));
        assert_eq!(u.effects, vec![Effect::Exit]);
    }

    #[test]
    fn a_refused_command_says_why_in_the_log() {
        let (mut m, _) = model();
        let u = ev(
            &mut m,
            Duration::ZERO,
            EventKind::CommandRefused {
                command: Command::ReconnectNow,
                reason: CommandError::NotReconnecting,
            },
        );
        let lines = logged(&u);
        assert_eq!(
            lines,
            vec![format!(
                "› can't reconnect now: {}",
                CommandError::NotReconnecting
            )]
        );
        assert_eq!(m.notice.as_ref().unwrap().0, Meaning::Warn);
    }

    #[test]
    fn a_join_while_leaving_says_it_follows_the_leave() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        ev(&mut m, t0, EventKind::Leaving { rejoin: false });
        assert_eq!(m.status, Status::Leaving);
        let u = ev(&mut m, t0, EventKind::Leaving { rejoin: true });
        assert_eq!(
            logged(&u),
            vec!["leaving the session, then joining it again".to_owned()]
        );
        assert_eq!(m.status, Status::Leaving, "the events say when it happens");
        let u = ev(&mut m, t0, EventKind::Leaving { rejoin: false });
        assert_eq!(logged(&u), vec!["leaving the session".to_owned()]);
    }

    #[test]
    fn the_idle_countdown_ticks_once_a_second_and_goes_when_someone_joins() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        ev(
            &mut m,
            t0,
            EventKind::IdleCountdownStarted {
                timeout: Duration::from_secs(300),
            },
        );
        assert_eq!(m.next_wake(), Some(t0 + Duration::from_secs(1)));
        // Within the same displayed second: no redraw.
        assert!(!tick(&mut m, t0 + Duration::from_millis(400)).redraw);
        assert!(tick(&mut m, t0 + Duration::from_millis(1000)).redraw);
        assert_eq!(m.idle_left().unwrap().1, Duration::from_secs(299));
        ev(
            &mut m,
            t0,
            EventKind::ParticipantJoined {
                id: "bob".into(),
                user: "bob".into(),
                joined_at: None,
            },
        );
        ev(&mut m, t0, EventKind::IdleCountdownCancelled);
        assert!(m.idle_left().is_none());
        // Nothing moves now but the call's minute.
        assert_eq!(m.next_wake(), Some(t0 + Duration::from_secs(60)));
    }

    #[test]
    fn an_outage_shows_the_latest_attempts_reason_not_the_first() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        ev(
            &mut m,
            t0,
            EventKind::ConnectionLost {
                reason: "heartbeat unanswered".into(),
                injected: false,
            },
        );
        ev(
            &mut m,
            t0 + Duration::from_secs(2),
            EventKind::ReconnectAttempt {
                attempt: 3,
                max: 10,
                delay: Duration::from_secs(1),
                last_error: Some("cannot reach 127.0.0.1:7878: connection refused".into()),
            },
        );
        let e = m.last_error.as_ref().unwrap();
        assert_eq!(e.text, "cannot reach 127.0.0.1:7878: connection refused");
        assert!(e.current);
    }

    #[test]
    fn reconnecting_counts_attempts_and_restore_clears_it() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        ev(
            &mut m,
            t0,
            EventKind::ConnectionLost {
                reason: "boom\u{1b}[2J".into(),
                injected: false,
            },
        );
        assert_eq!(error(&m), Some(("boom␛[2J", true)));
        ev(
            &mut m,
            t0,
            EventKind::ReconnectAttempt {
                attempt: 2,
                max: 10,
                delay: Duration::from_millis(2500),
                last_error: None,
            },
        );
        tick(&mut m, t0 + Duration::from_millis(600));
        let (r, left) = m.retry().unwrap();
        assert_eq!((r.attempt, r.max), (2, 10));
        assert_eq!(fmt::secs_left(left), 2);
        assert_eq!(m.next_wake(), Some(t0 + Duration::from_millis(1000)));
        ev(
            &mut m,
            t0,
            EventKind::ConnectionRestored {
                resumed: true,
                downtime: Duration::from_secs(3),
                attempts: 2,
            },
        );
        assert_eq!(m.status, Status::Joined);
        assert_eq!(m.lost_count, 1);
        assert_eq!(m.last_downtime, Some(Duration::from_secs(3)));
    }

    fn lost(m: &mut Model, at: Duration) {
        ev(
            m,
            at,
            EventKind::ConnectionLost {
                reason: "boom".into(),
                injected: false,
            },
        );
        ev(
            m,
            at,
            EventKind::ReconnectAttempt {
                attempt: 3,
                max: 10,
                delay: Duration::from_secs(8),
                last_error: None,
            },
        );
    }

    #[test]
    fn reconnect_now_shows_the_attempt_under_way_not_the_old_schedule() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        lost(&mut m, t0);
        tick(&mut m, t0 + Duration::from_secs(2));
        assert_eq!(fmt::secs_left(m.retry().unwrap().1), 6);
        // What the engine says when `r` hurries the attempt.
        let u = ev(
            &mut m,
            t0 + Duration::from_secs(2),
            EventKind::ReconnectAttempt {
                attempt: 3,
                max: 10,
                delay: Duration::ZERO,
                last_error: None,
            },
        );
        assert_eq!(logged(&u), vec!["reconnect attempt 3 of 10 now".to_owned()]);
        let (r, left) = m.retry().unwrap();
        assert_eq!((r.attempt, left), (3, Duration::ZERO));
        assert!(
            m.next_wake()
                .is_some_and(|w| w <= t0 + Duration::from_secs(3))
        );
    }

    #[test]
    fn esc_hides_the_reconnect_overlay_until_the_connection_changes() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        lost(&mut m, t0);
        assert!(m.reconnect_overlay());
        let u = update(&mut m, Msg::Action(Action::Back));
        assert!(!m.reconnect_overlay());
        assert!(logged(&u).is_empty(), "{:?}", logged(&u));
        assert!(!m.notice.as_ref().unwrap().1.contains("nothing to close"));
        // Another attempt is no change of state: still hidden.
        ev(
            &mut m,
            t0,
            EventKind::ReconnectAttempt {
                attempt: 4,
                max: 10,
                delay: Duration::from_secs(1),
                last_error: None,
            },
        );
        assert!(!m.reconnect_overlay());
        // Restored, then lost again: it shows again.
        ev(
            &mut m,
            t0,
            EventKind::ConnectionRestored {
                resumed: true,
                downtime: Duration::from_secs(3),
                attempts: 4,
            },
        );
        lost(&mut m, t0);
        assert!(m.reconnect_overlay());
    }

    #[test]
    fn closed_shows_a_final_message_until_dismissed_or_rejoined() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        ev(
            &mut m,
            t0,
            EventKind::ConnectionClosed {
                reason: "gave up".into(),
            },
        );
        assert!(m.final_message());
        update(&mut m, Msg::Action(Action::Back));
        assert!(!m.final_message());
        assert!(
            m.next_wake().is_none(),
            "nothing ticks once the call is over"
        );
    }

    #[test]
    fn participants_are_kept_by_their_raw_name_and_logged_cleaned() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        let join = |m: &mut Model, user: &str| {
            ev(
                m,
                t0,
                EventKind::ParticipantJoined {
                    id: user.into(),
                    user: user.into(),
                    joined_at: None,
                },
            )
        };
        let u = join(&mut m, "mallory\u{1b}]0;pwned\u{7}");
        assert_eq!(logged(&u), vec!["mallory␛]0;pwned␇ joined".to_owned()]);
        // Names that look the same once cleaned, or once cut, are not merged.
        join(&mut m, "bob\n");
        join(&mut m, "bob␊");
        let long = "x".repeat(300);
        join(&mut m, &format!("{long}1"));
        join(&mut m, &format!("{long}2"));
        assert_eq!(m.participants.len(), 5);
        ev(
            &mut m,
            t0,
            EventKind::ParticipantLeft {
                id: "bob\n".into(),
                user: "bob\n".into(),
            },
        );
        assert!(m.participants.contains_key("bob␊"));
        assert_eq!(m.participants.len(), 4);
    }

    #[test]
    fn a_call_that_ends_keeps_no_live_numbers_and_a_new_join_starts_afresh() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        ev(
            &mut m,
            t0,
            EventKind::Heartbeat {
                rtt: Duration::from_millis(3),
            },
        );
        lost(&mut m, t0);
        ev(
            &mut m,
            t0,
            EventKind::ConnectionClosed {
                reason: "gave up".into(),
            },
        );
        assert!(!m.rtt_live, "no live round trip after the call");
        // What went wrong, and how the connection did, stay readable until
        // the next join…
        assert_eq!(m.lost_count, 1);
        assert_eq!(error(&m), Some(("gave up", true)));
        assert_eq!(m.rtt.back(), Some(&Duration::from_millis(3)));
        // …which starts from nothing.
        joined(&mut m, t0);
        assert_eq!((m.lost_count, m.last_downtime), (0, None));
        assert_eq!(m.last_error, None);
        assert!(m.rtt.is_empty());
        // Retries of that join do not wipe what they report.
        ev(
            &mut m,
            t0,
            EventKind::SessionLeft {
                reason: LeftReason::User,
            },
        );
        ev(&mut m, t0, EventKind::Connecting { attempt: 1 });
        ev(
            &mut m,
            t0,
            EventKind::Error {
                message: "refused".into(),
            },
        );
        ev(&mut m, t0, EventKind::Connecting { attempt: 2 });
        assert_eq!(error(&m), Some(("refused", true)));
    }

    /// The last error's text and whether it is current.
    fn error(m: &Model) -> Option<(&str, bool)> {
        m.last_error.as_ref().map(|e| (e.text.as_str(), e.current))
    }

    #[test]
    fn an_error_the_call_got_past_is_history_not_news() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        lost(&mut m, t0);
        assert_eq!(error(&m), Some(("boom", true)));
        let restored = EventKind::ConnectionRestored {
            resumed: true,
            downtime: Duration::from_secs(3),
            attempts: 3,
        };
        ev(&mut m, t0, restored.clone());
        assert_eq!(
            error(&m),
            Some(("boom", false)),
            "restored: the drop is over"
        );
        // A new error while joined is current, until we leave.
        ev(
            &mut m,
            t0,
            EventKind::Error {
                message: "ignored a frame".into(),
            },
        );
        assert_eq!(error(&m), Some(("ignored a frame", true)));
        ev(&mut m, t0, EventKind::Leaving { rejoin: false });
        assert_eq!(error(&m), Some(("ignored a frame", false)));
        ev(
            &mut m,
            t0,
            EventKind::SessionLeft {
                reason: LeftReason::User,
            },
        );
        assert_eq!(error(&m), Some(("ignored a frame", false)));
        // Errors on the way into a call are behind us once we are in.
        joined(&mut m, t0);
        assert_eq!(m.last_error, None);
        let (mut m, t0) = model();
        ev(&mut m, t0, EventKind::Connecting { attempt: 1 });
        ev(
            &mut m,
            t0,
            EventKind::Error {
                message: "refused".into(),
            },
        );
        ev(&mut m, t0, EventKind::SessionJoined { participants: 0 });
        assert_eq!(error(&m), Some(("refused", false)));
    }

    #[test]
    fn a_round_trip_is_live_only_from_a_heartbeat_on_the_connection_we_have() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        assert!(!m.rtt_live);
        let beat = |m: &mut Model| {
            ev(
                m,
                t0,
                EventKind::Heartbeat {
                    rtt: Duration::from_millis(2),
                },
            )
        };
        beat(&mut m);
        assert!(m.rtt_live);
        lost(&mut m, t0);
        assert!(!m.rtt_live, "down: the last value is from before");
        ev(
            &mut m,
            t0,
            EventKind::ConnectionRestored {
                resumed: true,
                downtime: Duration::from_secs(1),
                attempts: 1,
            },
        );
        assert!(
            !m.rtt_live,
            "back, but nothing measured on this connection yet"
        );
        beat(&mut m);
        assert!(m.rtt_live);
        ev(&mut m, t0, EventKind::Leaving { rejoin: false });
        assert!(!m.rtt_live, "no heartbeats on the way out");
        assert_eq!(m.rtt.len(), 2, "the history stays");
    }

    fn arrive(m: &mut Model, id: &str, user: &str, secs: u64) -> Update {
        ev(
            m,
            m.now,
            EventKind::ParticipantJoined {
                id: id.into(),
                user: user.into(),
                joined_at: Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs)),
            },
        )
    }

    /// The panel's list as (name, id if shown).
    fn listed(m: &Model) -> Vec<(String, Option<String>)> {
        m.people()
            .iter()
            .map(|p| (p.name.clone(), p.show_id.then(|| p.id.to_owned())))
            .collect()
    }

    #[test]
    fn ids_show_beside_names_that_are_shared_or_empty_and_always_in_the_log() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        let u = arrive(&mut m, "8362730246246576", "alice", 10);
        // The log names the id whenever it is not the name, namesake or not.
        assert_eq!(logged(&u), vec!["alice (#8362730246246576) joined"]);
        assert_eq!(listed(&m), vec![("alice".into(), None)]);
        arrive(&mut m, "1001", "bob", 20);
        let u = arrive(&mut m, "2019385743201", "alice", 30);
        assert_eq!(logged(&u), vec!["alice (#2019385743201) joined"]);
        let u = arrive(&mut m, "5550123456789012", "", 40);
        assert_eq!(logged(&u), vec!["(no name) (#5550123456789012) joined"]);
        // By join time; the two alices and the nameless one with their ids.
        assert_eq!(
            listed(&m),
            vec![
                ("alice".into(), Some("8362730246246576".into())),
                ("bob".into(), None),
                ("alice".into(), Some("2019385743201".into())),
                (String::new(), Some("5550123456789012".into())),
            ]
        );
        // One alice leaves: the other's name is hers alone again.
        let u = ev(
            &mut m,
            t0,
            EventKind::ParticipantLeft {
                id: "8362730246246576".into(),
                user: "alice".into(),
            },
        );
        assert_eq!(logged(&u), vec!["alice (#8362730246246576) left"]);
        assert_eq!(listed(&m)[1], ("alice".into(), None));
    }

    #[test]
    fn names_alike_once_cleaned_count_as_shared_and_ids_that_are_names_never_show() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        arrive(&mut m, "1", "bob\n", 10);
        arrive(&mut m, "2", "bob␊", 10);
        assert_eq!(
            listed(&m),
            vec![
                ("bob␊".into(), Some("1".into())),
                ("bob␊".into(), Some("2".into())),
            ]
        );
        // Calltop's protocol: the id is the name, never worth showing, and
        // the log line is as it always was.
        let (mut m, t0) = model();
        joined(&mut m, t0);
        let u = arrive(&mut m, "carol", "carol", 10);
        assert_eq!(logged(&u), vec!["carol joined"]);
        arrive(&mut m, "carol\n", "carol\n", 10);
        assert!(m.people().iter().all(|p| !p.show_id));
        // Ties in join time and name are broken by id: a stable order.
        let (mut m, t0) = model();
        joined(&mut m, t0);
        arrive(&mut m, "9", "zoe", 5);
        arrive(&mut m, "3", "zoe", 5);
        let ids: Vec<&str> = m.people().iter().map(|p| p.id).collect();
        assert_eq!(ids, vec!["3", "9"]);
    }

    #[test]
    fn a_rename_changes_the_name_shown_and_the_log_says_old_is_now_new() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        arrive(&mut m, "11", "alice", 10);
        arrive(&mut m, "12", "alice", 20);
        let u = ev(
            &mut m,
            t0,
            EventKind::ParticipantRenamed {
                id: "12".into(),
                user: "alicia\u{1b}[2J".into(),
                previous: "alice".into(),
            },
        );
        assert_eq!(logged(&u), vec!["alice (#12) is now alicia␛[2J"]);
        // The same person (same place in the list), now unique by name.
        assert_eq!(
            listed(&m),
            vec![("alice".into(), None), ("alicia␛[2J".into(), None)]
        );
        let u = ev(
            &mut m,
            t0,
            EventKind::ParticipantRenamed {
                id: "11".into(),
                user: String::new(),
                previous: "alice".into(),
            },
        );
        assert_eq!(logged(&u), vec!["alice (#11) is now (no name)"]);
        assert_eq!(listed(&m)[0], (String::new(), Some("11".into())));
    }

    fn janus_facts() -> ServerFacts {
        ServerFacts {
            server: Some("Janus WebRTC Server 1.1.2".into()),
            server_name: Some("janus\u{7}-ci".into()),
            session_timeout: Some(Duration::from_secs(60)),
            resume_window: Some(Duration::ZERO),
            room: Some("Demo Room".into()),
            server_session: Some("2758102933474920".into()),
            own_id: Some("8362730246246576".into()),
        }
    }

    #[test]
    fn server_facts_are_kept_cleaned_logged_once_and_gone_when_the_call_ends() {
        let (mut m, t0) = model();
        m.info.backend = "janus".into();
        joined(&mut m, t0);
        assert_eq!(m.facts, None);
        let u = ev(&mut m, t0, EventKind::ServerInfo(janus_facts()));
        let f = m.facts.as_ref().unwrap();
        assert_eq!(f.server_name.as_deref(), Some("janus␇-ci"));
        assert_eq!(f.resume_window, Some(Duration::ZERO));
        let lines = logged(&u);
        assert_eq!(lines.len(), 1);
        assert!(
            lines[0].starts_with("server: Janus WebRTC Server 1.1.2 (janus␇-ci) · "),
            "{lines:?}"
        );
        assert!(
            lines[0].contains(&format!("reclaim 0 s ({})", facts::FULL_REJOIN)),
            "{lines:?}"
        );
        match &u.effects[0] {
            Effect::Log(l) => assert_eq!(l.meaning, Meaning::Muted),
            e => panic!("{e:?}"),
        }
        // A drop and a restore keep them; new ones replace them.
        lost(&mut m, t0);
        assert!(m.facts.is_some());
        let rejoined = ServerFacts {
            server_session: Some("999".into()),
            ..janus_facts()
        };
        ev(&mut m, t0, EventKind::ServerInfo(rejoined));
        assert_eq!(
            m.facts.as_ref().unwrap().server_session.as_deref(),
            Some("999")
        );
        ev(
            &mut m,
            t0,
            EventKind::ConnectionClosed {
                reason: "gave up".into(),
            },
        );
        assert_eq!(m.facts, None);
        // So a left call does too.
        joined(&mut m, t0);
        ev(&mut m, t0, EventKind::ServerInfo(janus_facts()));
        ev(
            &mut m,
            t0,
            EventKind::SessionLeft {
                reason: LeftReason::User,
            },
        );
        assert_eq!(m.facts, None);
    }

    #[test]
    fn calltop_facts_log_its_resume_window() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        let u = ev(
            &mut m,
            t0,
            EventKind::ServerInfo(ServerFacts {
                resume_window: Some(Duration::from_secs(30)),
                own_id: Some("alice".into()),
                ..ServerFacts::default()
            }),
        );
        assert_eq!(logged(&u), vec!["server: resume window 30 s"]);
        // Nothing said, nothing logged.
        let u = ev(&mut m, t0, EventKind::ServerInfo(ServerFacts::default()));
        assert!(logged(&u).is_empty());
    }

    #[test]
    fn heartbeats_feed_a_bounded_history_without_log_lines() {
        let (mut m, t0) = model();
        joined(&mut m, t0);
        for i in 0..(RTT_HISTORY as u64 + 10) {
            let u = ev(
                &mut m,
                t0,
                EventKind::Heartbeat {
                    rtt: Duration::from_micros(i),
                },
            );
            assert!(logged(&u).is_empty());
        }
        assert_eq!(m.rtt.len(), RTT_HISTORY);
        assert_eq!(
            m.rtt.back(),
            Some(&Duration::from_micros(RTT_HISTORY as u64 + 9))
        );
    }
}

//! `top`'s state and `update(&mut TopModel, Msg)`: no IO, no clock of its
//! own (every message that needs the time carries it), no terminal. What
//! has to happen outside (join a session, quit) comes back as [`Effect`]s
//! for the app to carry out.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use jiff::tz::TimeZone;

use super::diff::{Change, diff};
use super::source::{Member, Snapshot, SourceError};
use super::table::{self, Column, Filter, Row, Sort};
use crate::ui::keys::{Action as DashAction, Keymap};
use crate::ui::log::LogLine;
use crate::ui::sanitize::clean;
use crate::ui::theme::{Meaning, Theme};

/// Joins and leaves count towards a row's churn for this long.
pub const CHURN_WINDOW: Duration = Duration::from_secs(60);
/// The most log lines one poll adds; the rest are summed up in one line.
pub const MAX_LINES_PER_POLL: usize = 200;

/// What the header says about where the table comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopInfo {
    /// The server, as given (made safe to show).
    pub server: String,
    /// The source, `calltop admin API` or `Janus VideoRoom list`.
    pub source: String,
    pub interval: Duration,
}

/// One poll's outcome.
#[derive(Debug, Clone)]
pub struct Polled {
    /// When the poll finished, on the app's clock and on the wall.
    pub at: Instant,
    pub wall: SystemTime,
    /// How long the poll took (request, answer, decoding).
    pub took: Duration,
    pub result: Result<Snapshot, SourceError>,
}

/// What the model is told.
#[derive(Debug)]
pub enum Msg {
    /// Time passed.
    Tick {
        now: Instant,
        wall: SystemTime,
    },
    Polled(Box<Polled>),
    Key(KeyEvent),
    Resize(u16, u16),
    /// Back from the dashboard on `session`; what it said on the way out.
    Returned {
        session: String,
        outcome: String,
    },
}

/// What the app must do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Open the dashboard on this session (as the configured user).
    Join(String),
    Quit,
}

/// What `update` asks of the app.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Update {
    pub redraw: bool,
    pub effects: Vec<Effect>,
}

/// Which screen shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Screen {
    Sessions,
    /// One session's participants.
    Members {
        session: String,
    },
}

/// Where a list's cursor and scroll stand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Cursor {
    pub at: usize,
    /// The first row shown.
    pub top: usize,
}

impl Cursor {
    /// Moves by `delta` within `len` rows, keeping it in a view of `height`.
    fn moved(self, delta: isize, len: usize, height: usize) -> Cursor {
        let at = if len == 0 {
            0
        } else {
            self.at.saturating_add_signed(delta).min(len - 1)
        };
        Cursor { at, top: self.top }.shown(len, height)
    }

    /// `at` scrolled into a view of `height`, no empty rows below the last.
    fn shown(mut self, len: usize, height: usize) -> Cursor {
        let height = height.max(1);
        self.at = self.at.min(len.saturating_sub(1));
        if self.at < self.top {
            self.top = self.at;
        }
        if self.at >= self.top + height {
            self.top = self.at + 1 - height;
        }
        self.top = self.top.min(len.saturating_sub(height));
        self
    }
}

/// The source's health.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    /// No poll has finished yet.
    Waiting,
    /// The last poll worked.
    Live,
    /// The last poll failed: the table is the last good one, if any.
    Stale {
        error: String,
        /// When polls started failing.
        since: Instant,
    },
}

/// Joins and leaves of the last minute, by session.
#[derive(Debug, Default)]
struct Churn {
    seen: VecDeque<(Instant, String, bool)>,
    counts: HashMap<String, (u32, u32)>,
}

impl Churn {
    fn add(&mut self, at: Instant, session: &str, join: bool) {
        let c = self.counts.entry(session.to_owned()).or_default();
        if join {
            c.0 += 1;
        } else {
            c.1 += 1;
        }
        self.seen.push_back((at, session.to_owned(), join));
    }

    /// Forgets what is older than the window; whether anything went.
    fn expire(&mut self, now: Instant) -> bool {
        let mut any = false;
        while let Some((at, _, _)) = self.seen.front() {
            if now.saturating_duration_since(*at) < CHURN_WINDOW {
                break;
            }
            let Some((_, session, join)) = self.seen.pop_front() else {
                break;
            };
            if let Some(c) = self.counts.get_mut(&session) {
                if join {
                    c.0 = c.0.saturating_sub(1);
                } else {
                    c.1 = c.1.saturating_sub(1);
                }
                if *c == (0, 0) {
                    self.counts.remove(&session);
                }
            }
            any = true;
        }
        any
    }

    fn next_expiry(&self) -> Option<Instant> {
        self.seen.front().map(|(at, _, _)| *at + CHURN_WINDOW)
    }

    fn total(&self) -> usize {
        self.seen.len()
    }
}

/// Everything `top` shows.
#[derive(Debug)]
pub struct TopModel {
    pub info: TopInfo,
    pub keymap: Keymap,
    pub theme: Theme,
    pub tz: TimeZone,
    pub size: (u16, u16),
    pub now: Instant,
    pub wall: SystemTime,
    pub screen: Screen,
    pub sort: Sort,
    pub filter: Filter,
    /// Typing a filter (after `/`): keys are text until Enter or Esc.
    pub editing: bool,
    pub health: Health,
    /// The last good poll: when, on the app's clock and the wall, and how long it took.
    pub last_good: Option<(Instant, SystemTime, Duration)>,
    snapshot: Snapshot,
    rows: Vec<Row>,
    described: bool,
    /// Rows on screen (filtered, sorted), as indices into `rows`.
    visible: Vec<usize>,
    /// The session under the cursor, kept across re-sorts and polls.
    selected: Option<String>,
    pub cursor: Cursor,
    /// The open session's members, in the order shown.
    members: Vec<Member>,
    pub member_cursor: Cursor,
    churn: Churn,
    log: VecDeque<LogLine>,
    log_capacity: usize,
}

impl TopModel {
    pub fn new(
        info: TopInfo,
        keymap: Keymap,
        theme: Theme,
        now: Instant,
        wall: SystemTime,
        log_capacity: usize,
    ) -> TopModel {
        TopModel {
            info,
            keymap,
            theme,
            tz: TimeZone::system(),
            size: (80, 24),
            now,
            wall,
            screen: Screen::Sessions,
            sort: Sort::default(),
            filter: Filter::default(),
            editing: false,
            health: Health::Waiting,
            last_good: None,
            snapshot: Snapshot::default(),
            rows: Vec::new(),
            described: false,
            visible: Vec::new(),
            selected: None,
            cursor: Cursor::default(),
            members: Vec::new(),
            member_cursor: Cursor::default(),
            churn: Churn::default(),
            log: VecDeque::new(),
            log_capacity: log_capacity.max(1),
        }
    }

    pub fn snapshot(&self) -> &Snapshot {
        &self.snapshot
    }

    /// Every session's row, in id order.
    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    /// The rows on screen, in order.
    pub fn visible(&self) -> impl ExactSizeIterator<Item = &Row> {
        self.visible.iter().map(|&i| &self.rows[i])
    }

    /// Whether any session has a description (Janus), so the column shows.
    pub fn described(&self) -> bool {
        self.described
    }

    /// The session under the cursor.
    pub fn selected(&self) -> Option<&str> {
        self.selected.as_deref()
    }

    /// The open session's members, in the order shown.
    pub fn members(&self) -> &[Member] {
        &self.members
    }

    pub fn log(&self) -> &VecDeque<LogLine> {
        &self.log
    }

    /// Joins and leaves of the last minute, every session together.
    pub fn churn_per_minute(&self) -> usize {
        self.churn.total()
    }

    /// When the model needs a [`Msg::Tick`] though nothing else happens: a
    /// join or leave leaves the last minute, or (while stale) the age shown
    /// in the header goes up by a second.
    pub fn next_wake(&self) -> Option<Instant> {
        let stale = match (&self.health, self.last_good) {
            (Health::Stale { since, .. }, good) => {
                let from = good.map_or(*since, |(at, _, _)| at);
                let age = self.now.saturating_duration_since(from);
                Some(from + Duration::from_secs(age.as_secs() + 1))
            }
            _ => None,
        };
        match (self.churn.next_expiry(), stale) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Adds a line to the log (bounded).
    pub fn say(&mut self, meaning: Meaning, text: String) {
        if self.log.len() == self.log_capacity {
            self.log.pop_front();
        }
        self.log.push_back(LogLine {
            ts: self.wall,
            meaning,
            text,
        });
    }

    /// Rows in the sessions table's body, for paging (from the layout).
    fn page(&self) -> usize {
        super::view::body_rows(self)
    }

    fn refresh_visible(&mut self) {
        self.visible = table::visible(&self.snapshot, &self.rows, &self.filter, self.sort);
        let at = self
            .selected
            .as_deref()
            .and_then(|id| self.visible.iter().position(|&i| self.rows[i].id == id))
            .unwrap_or(self.cursor.at);
        self.cursor = Cursor {
            at,
            top: self.cursor.top,
        }
        .shown(self.visible.len(), self.page());
        self.selected = self
            .visible
            .get(self.cursor.at)
            .map(|&i| self.rows[i].id.clone());
    }

    fn refresh_members(&mut self) {
        let Screen::Members { session } = &self.screen else {
            return;
        };
        // Gone from the server: the last list stays, and the title says so.
        if let Some(s) = self.snapshot.session(session) {
            let mut members = s.members.clone();
            // Oldest first, as the admin API lists them; by name where the
            // server gives no times.
            members.sort_by(|a, b| {
                let when = |m: &Member| (m.joined_at.is_none(), m.joined_at);
                when(a)
                    .cmp(&when(b))
                    .then_with(|| a.name.cmp(&b.name))
                    .then_with(|| a.id.cmp(&b.id))
            });
            self.members = members;
        }
        self.member_cursor = self.member_cursor.shown(self.members.len(), self.page());
    }

    /// Whether the open session is still listed.
    pub fn open_session_listed(&self) -> bool {
        match &self.screen {
            Screen::Members { session } => self.snapshot.session(session).is_some(),
            Screen::Sessions => true,
        }
    }

    fn polled(&mut self, p: Polled) -> bool {
        self.now = self.now.max(p.at);
        self.wall = p.wall;
        let snap = match p.result {
            Ok(snap) => snap,
            Err(e) => {
                let error = e.to_string();
                let changed = match &self.health {
                    Health::Stale { error: old, .. } => *old != error,
                    _ => true,
                };
                if changed {
                    let kept = if self.last_good.is_some() {
                        "; showing the last good table"
                    } else {
                        ""
                    };
                    self.say(
                        Meaning::Error,
                        format!("poll failed: {}{kept}", clean(&error)),
                    );
                }
                let since = match &self.health {
                    Health::Stale { since, .. } => *since,
                    _ => p.at,
                };
                self.health = Health::Stale { error, since };
                return true;
            }
        };
        let first = self.last_good.is_none();
        if let Health::Stale { since, .. } = &self.health {
            let down = p.at.saturating_duration_since(*since);
            self.say(
                Meaning::Ok,
                format!(
                    "the source answers again (failed for {})",
                    crate::ui::fmt::human(down)
                ),
            );
        }
        self.health = Health::Live;
        self.last_good = Some((p.at, p.wall, p.took));
        if first {
            self.say(
                Meaning::Accent,
                format!(
                    "{} sessions, {} participants",
                    snap.sessions().len(),
                    snap.participants()
                ),
            );
        } else {
            let changes = diff(&self.snapshot, &snap);
            self.apply(&changes, p.at);
        }
        self.snapshot = snap;
        self.churn.expire(self.now);
        self.rows = table::rows(&self.snapshot, &self.churn.counts);
        self.described = self.rows.iter().any(|r| r.description.is_some());
        self.refresh_visible();
        self.refresh_members();
        true
    }

    fn apply(&mut self, changes: &[Change], at: Instant) {
        let mut logged = 0;
        for c in changes {
            match c {
                Change::Joined { session, .. } => self.churn.add(at, session, true),
                Change::Left { session, .. } => self.churn.add(at, session, false),
                _ => {}
            }
            if logged < MAX_LINES_PER_POLL {
                let (meaning, text) = words(c);
                self.say(meaning, text);
                logged += 1;
            }
        }
        if changes.len() > logged {
            self.say(
                Meaning::Muted,
                format!("… and {} more changes in this poll", changes.len() - logged),
            );
        }
    }

    fn key(&mut self, key: KeyEvent) -> Update {
        let mut u = Update::default();
        if key.kind == KeyEventKind::Release {
            return u;
        }
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            u.effects.push(Effect::Quit);
            return u;
        }
        if self.editing {
            u.redraw = self.edit(key);
            return u;
        }
        let page = self.page() as isize;
        let step = match key.code {
            KeyCode::Up => Some(-1),
            KeyCode::Down => Some(1),
            KeyCode::PageUp => Some(-page),
            KeyCode::PageDown => Some(page),
            KeyCode::Home => Some(isize::MIN / 2),
            KeyCode::End => Some(isize::MAX / 2),
            _ => None,
        };
        if let Some(step) = step {
            u.redraw = self.step(step);
            return u;
        }
        match (&self.screen, key.code) {
            (Screen::Sessions, KeyCode::Char(c @ '1'..='7')) => {
                if let Some(column) = c.to_digit(10).and_then(Column::from_digit) {
                    self.sort = self.sort.press(column);
                    self.refresh_visible();
                    u.redraw = true;
                }
                return u;
            }
            (Screen::Sessions, KeyCode::Char('/')) => {
                self.editing = true;
                u.redraw = true;
                return u;
            }
            (Screen::Sessions, KeyCode::Enter) => {
                if let Some(id) = self.selected.clone() {
                    self.screen = Screen::Members { session: id };
                    self.member_cursor = Cursor::default();
                    self.members.clear();
                    self.refresh_members();
                    u.redraw = true;
                }
                return u;
            }
            (Screen::Members { .. }, KeyCode::Esc) => {
                self.screen = Screen::Sessions;
                u.redraw = true;
                return u;
            }
            (Screen::Sessions, KeyCode::Esc) if !self.filter.is_empty() => {
                self.filter = Filter::default();
                self.refresh_visible();
                u.redraw = true;
                return u;
            }
            _ => {}
        }
        match self.keymap.action(&key) {
            Some(DashAction::Quit) => u.effects.push(Effect::Quit),
            Some(DashAction::Join) => {
                let target = match &self.screen {
                    Screen::Members { session } => Some(session.clone()),
                    Screen::Sessions => self.selected.clone(),
                };
                match target {
                    Some(session) => {
                        u.effects.push(Effect::Join(session));
                    }
                    None => {
                        self.say(Meaning::Muted, "no session to join".into());
                        u.redraw = true;
                    }
                }
            }
            _ => {}
        }
        u
    }

    /// A key while typing the filter; whether the screen changes.
    fn edit(&mut self, key: KeyEvent) -> bool {
        let mut text = self.filter.text().to_owned();
        match key.code {
            KeyCode::Enter => {
                self.editing = false;
                return true;
            }
            KeyCode::Esc => {
                self.editing = false;
                text.clear();
            }
            KeyCode::Backspace => {
                text.pop();
            }
            KeyCode::Char(c)
                if !c.is_control()
                    && !key
                        .modifiers
                        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
                    && text.chars().count() < 64 =>
            {
                text.push(c);
            }
            _ => return false,
        }
        self.filter = Filter::new(&text);
        self.refresh_visible();
        true
    }

    fn step(&mut self, step: isize) -> bool {
        let page = self.page();
        match self.screen {
            Screen::Sessions => {
                let before = self.cursor;
                self.cursor = self.cursor.moved(step, self.visible.len(), page);
                self.selected = self
                    .visible
                    .get(self.cursor.at)
                    .map(|&i| self.rows[i].id.clone());
                before != self.cursor
            }
            Screen::Members { .. } => {
                let before = self.member_cursor;
                self.member_cursor = self.member_cursor.moved(step, self.members.len(), page);
                before != self.member_cursor
            }
        }
    }

    fn tick(&mut self, now: Instant, wall: SystemTime) -> bool {
        let shown_age = |m: &TopModel| match (&m.health, m.last_good) {
            (Health::Stale { since, .. }, good) => Some(
                m.now
                    .saturating_duration_since(good.map_or(*since, |(at, _, _)| at))
                    .as_secs(),
            ),
            _ => None,
        };
        let before = shown_age(self);
        self.now = self.now.max(now);
        self.wall = wall;
        let mut redraw = shown_age(self) != before;
        if self.churn.expire(self.now) {
            self.rows = table::rows(&self.snapshot, &self.churn.counts);
            self.refresh_visible();
            redraw = true;
        }
        redraw
    }
}

/// How a change reads in the log.
fn words(c: &Change) -> (Meaning, String) {
    let who = |m: &Member| {
        let name = if m.name.is_empty() {
            "(no name)".to_owned()
        } else {
            clean(&m.name)
        };
        if m.id == m.name {
            name
        } else {
            format!("{name} (#{})", clean(&m.id))
        }
    };
    match c {
        Change::Opened { session, members } => (
            Meaning::Accent,
            format!("session {} opened, {members} in it", clean(session)),
        ),
        Change::Closed { session } => {
            (Meaning::Muted, format!("session {} closed", clean(session)))
        }
        Change::Joined { session, member } => (
            Meaning::Ok,
            format!("{} joined {}", who(member), clean(session)),
        ),
        Change::Left { session, member } => (
            Meaning::Text,
            format!("{} left {}", who(member), clean(session)),
        ),
        Change::Dropped { session, member } => (
            Meaning::Warn,
            format!(
                "{}: connection down in {} (the place is kept for a resume)",
                who(member),
                clean(session)
            ),
        ),
        Change::Resumed { session, member } => (
            Meaning::Ok,
            format!("{} is connected again in {}", who(member), clean(session)),
        ),
        Change::Renamed {
            session,
            member,
            previous,
        } => (
            Meaning::Text,
            format!(
                "{} is now {} in {}",
                clean(previous),
                who(member),
                clean(session)
            ),
        ),
        Change::Described {
            session,
            description,
        } => (
            Meaning::Muted,
            format!(
                "session {} is now described as {:?}",
                clean(session),
                clean(description.as_deref().unwrap_or(""))
            ),
        ),
    }
}

/// Applies `msg` to the model.
pub fn update(m: &mut TopModel, msg: Msg) -> Update {
    match msg {
        Msg::Tick { now, wall } => Update {
            redraw: m.tick(now, wall),
            effects: Vec::new(),
        },
        Msg::Polled(p) => Update {
            redraw: m.polled(*p),
            effects: Vec::new(),
        },
        Msg::Key(key) => m.key(key),
        Msg::Resize(w, h) => {
            m.size = (w, h);
            m.cursor = m.cursor.shown(m.visible.len(), m.page());
            m.member_cursor = m.member_cursor.shown(m.members.len(), m.page());
            Update {
                redraw: true,
                effects: Vec::new(),
            }
        }
        Msg::Returned { session, outcome } => {
            m.say(
                Meaning::Muted,
                format!("back from session {}: {outcome}", clean(&session)),
            );
            Update {
                redraw: true,
                effects: Vec::new(),
            }
        }
    }
}

//! What the dashboard looks like in each state, drawn with ratatui's
//! TestBackend and compared with the snapshots in `tests/snapshots/`.
//!
//! The event log is tui-logger's process-wide buffer, so the tests in this
//! binary take turns (one lock) and each starts from an empty log.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use jiff::tz::TimeZone;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::style::{Color, Style};

use calltop::engine::{Command, CommandError, Fault};
use calltop::event::{EventKind, LeftReason, ServerFacts, SessionEvent};
use calltop::ui::app::scroll_log;
use calltop::ui::keys::{Action, Keymap};
use calltop::ui::log;
use calltop::ui::model::{CallInfo, Effect, Model, Msg, update};
use calltop::ui::theme::{Meaning, Theme};
use calltop::ui::view;

static LOG: Mutex<()> = Mutex::new(());

/// A dashboard driven on a made-up clock: `secs` are seconds after the
/// start (the offset on the run's clock).
struct Scene {
    m: Model,
    w0: SystemTime,
    _log: MutexGuard<'static, ()>,
}

impl Scene {
    fn new(width: u16, height: u16) -> Scene {
        Scene::with(width, height, Theme::colour(), None)
    }

    fn with(width: u16, height: u16, theme: Theme, banner: Option<&str>) -> Scene {
        let info = CallInfo {
            session: "standup".into(),
            user: "alice".into(),
            server: "ws://127.0.0.1:7878/ws".into(),
            backend: "calltop".into(),
            banner: banner.map(str::to_owned),
        };
        Scene::on(width, height, theme, info)
    }

    /// A call on a Janus server (VideoRoom 1234).
    fn janus(width: u16, height: u16) -> Scene {
        let info = CallInfo {
            session: "1234".into(),
            user: "ops".into(),
            server: "ws://127.0.0.1:8188/".into(),
            backend: "janus".into(),
            banner: None,
        };
        Scene::on(width, height, Theme::colour(), info)
    }

    fn on(width: u16, height: u16, theme: Theme, info: CallInfo) -> Scene {
        let guard = LOG.lock().unwrap_or_else(|p| p.into_inner());
        log::set_capacity(500);
        // 2026-11-18 11:06:40 UTC
        let w0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let mut m = Model::new(info, Keymap::default(), theme, Duration::ZERO, w0);
        m.tz = TimeZone::UTC;
        m.size = (width, height);
        Scene { m, w0, _log: guard }
    }

    /// Carries out the effects as the app does, engine commands and exit aside.
    fn send(&mut self, msg: Msg) -> Vec<Effect> {
        let u = update(&mut self.m, msg);
        for e in &u.effects {
            match e {
                Effect::Log(line) => log::write(line, &self.m.tz),
                Effect::ScrollLog(how) => {
                    let at = scroll_log(&self.m, *how);
                    self.send(at);
                }
                Effect::Run(_) | Effect::Exit => {}
            }
        }
        u.effects
    }

    fn at(&mut self, secs: f64) {
        let d = Duration::from_secs_f64(secs);
        self.send(Msg::Tick {
            now: d,
            wall: self.w0 + d,
        });
    }

    fn ev(&mut self, secs: f64, kind: EventKind) {
        self.at(secs);
        let d = Duration::from_secs_f64(secs);
        // As the driver delivers it: cut to what its NDJSON line holds.
        self.send(Msg::Event(SessionEvent::new(self.w0 + d, d, kind)));
    }

    fn key(&mut self, a: Action) -> Vec<Effect> {
        self.send(Msg::Action(a))
    }

    /// Joined with others on calltop's protocol (their id is their name).
    fn joined(&mut self, secs: f64, others: &[(&str, u64)]) {
        let others: Vec<(&str, &str, u64)> = others.iter().map(|(n, ago)| (*n, *n, *ago)).collect();
        self.joined_with(secs, None, &others);
    }

    /// Joined as the engine reports it: the join, what the server said
    /// about itself, then the others (id, name, joined how long before).
    fn joined_with(&mut self, secs: f64, facts: Option<ServerFacts>, others: &[(&str, &str, u64)]) {
        self.ev(secs, EventKind::Connecting { attempt: 1 });
        self.ev(
            secs,
            EventKind::SessionJoined {
                participants: others.len(),
            },
        );
        if let Some(facts) = facts {
            self.ev(secs, EventKind::ServerInfo(facts));
        }
        for (id, name, ago) in others {
            self.ev(
                secs,
                EventKind::ParticipantJoined {
                    id: (*id).into(),
                    user: (*name).into(),
                    joined_at: Some(self.w0 - Duration::from_secs(*ago)),
                },
            );
        }
    }

    fn heartbeats(&mut self, from: f64, n: u64) {
        for i in 0..n {
            let rtt = Duration::from_micros(350 + (i * 137) % 600);
            self.ev(from + 2.0 * i as f64, EventKind::Heartbeat { rtt });
        }
    }

    /// One frame on a fresh test terminal of the model's size.
    fn frame(&self) -> TestBackend {
        log::flush();
        let (w, h) = self.m.size;
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| view::view(&self.m, f)).unwrap();
        t.backend().clone()
    }

    fn draw(&self) -> Buffer {
        self.frame().buffer().clone()
    }

    /// The frame as the snapshots hold it.
    fn screen(&self) -> String {
        self.frame().to_string()
    }
}

/// The dark theme's muted colour (the default palette's).
fn muted() -> Color {
    Theme::colour().style(Meaning::Muted).fg.unwrap()
}

fn text(buf: &Buffer) -> String {
    let mut s = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            s.push_str(buf[(x, y)].symbol());
        }
        s.push('\n');
    }
    s
}

/// Where `needle` starts on screen.
fn find(buf: &Buffer, needle: &str) -> Option<(u16, u16)> {
    for y in 0..buf.area.height {
        let mut line = String::new();
        let mut cols = Vec::new();
        for x in 0..buf.area.width {
            cols.push((line.len(), x));
            line.push_str(buf[(x, y)].symbol());
        }
        if let Some(i) = line.find(needle) {
            let x = cols
                .iter()
                .rev()
                .find(|(b, _)| *b <= i)
                .map_or(0, |(_, x)| *x);
            return Some((x, y));
        }
    }
    None
}

/// The text of the box whose top border carries `title`, borders included.
fn boxed(buf: &Buffer, title: &str) -> String {
    let (tx, top) = find(buf, &format!(" {title} ")).expect("no such box");
    let left = (0..tx)
        .rev()
        .find(|&x| buf[(x, top)].symbol() == "┌")
        .unwrap();
    let right = (tx..buf.area.width)
        .find(|&x| buf[(x, top)].symbol() == "┐")
        .unwrap();
    let mut out = String::new();
    for y in top..buf.area.height {
        for x in left..=right {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
        if buf[(left, y)].symbol() == "└" {
            break;
        }
    }
    out
}

/// What calltop's server says about itself: its resume window.
fn calltop_facts() -> ServerFacts {
    ServerFacts {
        resume_window: Some(Duration::from_secs(30)),
        own_id: Some("alice".into()),
        ..ServerFacts::default()
    }
}

fn a_call_with_history(s: &mut Scene) {
    s.joined_with(
        0.0,
        Some(calltop_facts()),
        &[("bob", "bob", 300), ("carol", "carol", 40)],
    );
    s.heartbeats(2.0, 30);
    s.ev(
        61.0,
        EventKind::ConnectionLost {
            reason: "heartbeat unanswered for 2500 ms".into(),
            injected: false,
        },
    );
    s.ev(
        61.0,
        EventKind::ReconnectAttempt {
            attempt: 1,
            max: 10,
            delay: Duration::ZERO,
            last_error: None,
        },
    );
    s.ev(
        62.3,
        EventKind::ConnectionRestored {
            resumed: true,
            downtime: Duration::from_millis(1300),
            attempts: 1,
        },
    );
    s.ev(
        90.0,
        EventKind::ParticipantJoined {
            id: "dave".into(),
            user: "dave".into(),
            joined_at: Some(s.w0 + Duration::from_secs(90)),
        },
    );
    s.heartbeats(92.0, 10);
    s.at(754.0);
}

#[test]
fn joined_with_participants() {
    let mut s = Scene::new(80, 24);
    a_call_with_history(&mut s);
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    let buf = s.draw();
    // The badge is in the "ok" colour.
    let (x, y) = find(&buf, "JOINED").unwrap();
    assert_eq!(buf[(x, y)].bg, Color::Green);
    assert!(text(&buf).contains("since 11:06:40 · 12 min"));
}

#[test]
fn joined_with_participants_on_a_big_terminal() {
    let mut s = Scene::new(120, 40);
    a_call_with_history(&mut s);
    insta::assert_snapshot!(s.screen());
}

/// A stock Janus: a drop is always a full rejoin (reclaim 0).
fn janus_facts() -> ServerFacts {
    ServerFacts {
        server: Some("Janus WebRTC Server 1.1.2".into()),
        server_name: Some("janus-ci".into()),
        session_timeout: Some(Duration::from_secs(60)),
        resume_window: Some(Duration::ZERO),
        room: Some("Demo Room".into()),
        server_session: Some("2758102933474920".into()),
        own_id: Some("6204918833710052".into()),
    }
}

/// Two participants named alice, one with no name, and bob.
fn a_janus_call_with_namesakes(s: &mut Scene) {
    s.joined_with(
        0.0,
        Some(janus_facts()),
        &[
            ("8362730246246576", "alice", 300),
            ("7260048211943350", "bob", 200),
            ("4387613875223306", "alice", 100),
            ("5550123456789012", "", 40),
        ],
    );
    s.heartbeats(2.0, 20);
    s.at(45.0);
}

#[test]
fn janus_call_with_namesakes() {
    let mut s = Scene::janus(80, 24);
    a_janus_call_with_namesakes(&mut s);
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    let buf = s.draw();
    let call = boxed(&buf, "Call");
    // A drop is always a full rejoin here: said plainly, as a warning.
    assert!(
        call.contains("reclaim  0 s: a drop means a full rejoin"),
        "{call}"
    );
    let (x, y) = find(&buf, "0 s: a drop").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Yellow);
    // Our ids, to find us in the server's logs.
    assert!(call.contains("ops  #6204918833710052"), "{call}");
    assert!(call.contains("janus · session 2758102933474920"), "{call}");
    assert!(call.contains("1234 · Demo Room"), "{call}");
    // The namesakes are told apart by (the end of) their ids; bob needs none.
    let people = boxed(&buf, "Participants (4)");
    assert!(people.contains("6576"), "{people}");
    assert!(people.contains("3306"), "{people}");
    assert!(people.contains("(no name)"), "{people}");
    assert!(!people.contains("7260048211943350"), "{people}");
    let (x, y) = find(&buf, "(no name)").unwrap();
    assert_eq!(buf[(x, y)].fg, muted());
    // The log names everyone with their id, and what the server said.
    let screen = text(&buf);
    assert!(
        screen.contains("alice (#8362730246246576) joined"),
        "{screen}"
    );
    assert!(
        screen.contains("server: Janus WebRTC Server 1.1.2"),
        "{screen}"
    );
}

#[test]
fn janus_call_with_namesakes_on_a_big_terminal() {
    let mut s = Scene::janus(120, 40);
    a_janus_call_with_namesakes(&mut s);
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    // Room for everything: whole ids, the join word, the server's name and
    // the session timeout.
    for whole in [
        "alice  #8362730246246576    joined 11:01:40",
        "(no name) #5550123456789012 joined 11:06:00",
        "Janus WebRTC Server 1.1.2 (janus-ci)",
        "reclaim  0 s: a drop means a full rejoin · session timeout 60 s",
    ] {
        assert!(screen.contains(whole), "{whole:?} missing:\n{screen}");
    }
}

#[test]
fn alone_with_the_idle_countdown() {
    let mut s = Scene::with(
        80,
        24,
        Theme::colour(),
        Some("embedded server · for a real call: calltop --server ws://HOST:PORT/ws"),
    );
    s.joined(0.0, &[]);
    s.ev(
        0.0,
        EventKind::IdleCountdownStarted {
            timeout: Duration::from_secs(300),
        },
    );
    s.heartbeats(2.0, 5);
    s.at(75.2);
    insta::assert_snapshot!(s.screen());
    let buf = s.draw();
    let (x, y) = find(&buf, "03:45").unwrap();
    assert_eq!(
        buf[(x, y)].fg,
        Theme::colour().style(Meaning::Accent).fg.unwrap()
    );
    // The last 30 seconds are in the warning colour.
    s.at(280.5);
    let buf = s.draw();
    let (x, y) = find(&buf, "00:20").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Yellow);
    // Someone joins: the countdown goes.
    s.ev(
        281.0,
        EventKind::ParticipantJoined {
            id: "bob".into(),
            user: "bob".into(),
            joined_at: None,
        },
    );
    s.ev(281.0, EventKind::IdleCountdownCancelled);
    let screen = text(&s.draw());
    // Only the log still says it was counting down, when it started.
    let counting: Vec<&str> = screen
        .lines()
        .filter(|l| l.contains("leaving in"))
        .collect();
    assert_eq!(counting.len(), 1, "{screen}");
    assert!(
        counting[0].contains("11:06:40.000 alone · leaving in 05:00"),
        "{screen}"
    );
    assert!(screen.contains("bob"));
}

#[test]
fn reconnecting_overlay() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[("bob", 60)]);
    s.heartbeats(2.0, 8);
    s.ev(
        20.0,
        EventKind::ConnectionLost {
            reason: "connection closed without a close frame".into(),
            injected: false,
        },
    );
    let delays = [0, 250, 500, 1000];
    let mut t = 20.0;
    for (i, ms) in delays.iter().enumerate() {
        s.ev(
            t,
            EventKind::ReconnectAttempt {
                attempt: i as u32 + 1,
                max: 10,
                delay: Duration::from_millis(*ms),
                last_error: None,
            },
        );
        t += *ms as f64 / 1000.0 + 0.01;
    }
    // Attempt 4 is due 1 s after it was scheduled at 20.77 s.
    s.at(21.6);
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    assert!(screen.contains("connection lost"));
    assert!(screen.contains("attempt 4 of 10 in 1 s"));
    assert!(screen.contains("down for 00:01"));
    // Restored: the overlay goes.
    s.ev(
        21.8,
        EventKind::ConnectionRestored {
            resumed: true,
            downtime: Duration::from_millis(1800),
            attempts: 4,
        },
    );
    let screen = text(&s.draw());
    assert!(!screen.contains("connection lost ─"), "{screen}");
    assert!(screen.contains("last downtime 1.8 s"), "{screen}");
}

#[test]
fn the_reconnect_overlay_shows_the_idle_countdown_and_esc_hides_it() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[]);
    s.ev(
        0.0,
        EventKind::IdleCountdownStarted {
            timeout: Duration::from_secs(300),
        },
    );
    s.ev(
        10.0,
        EventKind::ConnectionLost {
            reason: "heartbeat unanswered".into(),
            injected: false,
        },
    );
    s.ev(
        10.0,
        EventKind::ReconnectAttempt {
            attempt: 2,
            max: 10,
            delay: Duration::from_secs(5),
            last_error: None,
        },
    );
    s.at(12.5);
    let screen = text(&s.draw());
    assert!(screen.contains("connection lost ─"), "{screen}");
    assert!(
        screen.contains("alone · leaving in 04:48 unless someone joins"),
        "{screen}"
    );
    // Esc hides the overlay (it is an overlay); the call panel still says
    // what is going on.
    s.key(Action::Back);
    let screen = text(&s.draw());
    assert!(!screen.contains("connection lost ─"), "{screen}");
    assert!(!screen.contains("nothing to close"), "{screen}");
    assert!(screen.contains("RECONNECTING"), "{screen}");
    assert!(screen.contains("attempt 2 of 10 in 3 s"), "{screen}");
    assert!(screen.contains("alone · leaving in 04:48"), "{screen}");
    // The next change of connection state brings it back.
    s.ev(
        20.0,
        EventKind::ConnectionClosed {
            reason: "gave up".into(),
        },
    );
    assert!(text(&s.draw()).contains("connection closed ─"));
}

#[test]
fn closed_turns_the_overlay_into_a_final_message() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[("bob", 60)]);
    s.ev(
        20.0,
        EventKind::ConnectionLost {
            reason: "connection closed without a close frame".into(),
            injected: false,
        },
    );
    s.ev(
        50.0,
        EventKind::ConnectionClosed {
            reason: "gave up reconnecting after 10 attempts; last error: cannot reach \
                     127.0.0.1:7878: Connection refused (os error 111)"
                .into(),
        },
    );
    s.at(51.0);
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    assert!(screen.contains("CLOSED"));
    // The whole hint line, not just a word of it, and the whole reason.
    assert!(
        screen.contains("j join again · q quit · Esc dismiss"),
        "{screen}"
    );
    assert!(
        screen.contains("Connection refused (os error 111)"),
        "{screen}"
    );
    // Esc dismisses it; the dashboard still says how to get back in.
    s.key(Action::Back);
    let screen = text(&s.draw());
    assert!(!screen.contains("connection closed ─"), "{screen}");
    assert!(
        screen.contains("connection closed · j to join again"),
        "{screen}"
    );
}

#[test]
fn overlays_grow_with_a_long_wide_reason_and_keep_their_key_hints() {
    // 240 double-width characters (the most shown of a server's text):
    // 480 columns, nine lines of the reconnect overlay.
    let reason: String = "接続が切断されました".repeat(24);
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[("bob", 60)]);
    s.ev(
        20.0,
        EventKind::ConnectionLost {
            reason: reason.clone(),
            injected: false,
        },
    );
    let buf = s.draw();
    let screen = text(&buf);
    let overlay = boxed(&buf, "connection lost");
    assert!(
        overlay.contains("r reconnect now · l leave · q quit"),
        "{screen}"
    );
    // Every character of the reason is in the box (it is tall enough).
    let shown = overlay.matches('接').count();
    assert_eq!(shown, 24, "{screen}");
    s.ev(30.0, EventKind::ConnectionClosed { reason });
    let buf = s.draw();
    let overlay = boxed(&buf, "connection closed");
    assert!(
        overlay.contains("j join again · q quit · Esc dismiss"),
        "{}",
        text(&buf)
    );
    assert_eq!(overlay.matches('接').count(), 24, "{}", text(&buf));
}

#[test]
fn help_lists_every_key() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[("bob", 60)]);
    s.key(Action::Help);
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    // Each key next to what it does, inside the help box (single letters
    // alone would be found anywhere on screen).
    let help = boxed(&s.draw(), "keys");
    for row in [
        "l  leave the session",
        "j  join, or rejoin after leaving",
        "r  reconnect now (skip the wait)",
        "?  show or hide this help",
        "q  leave the session and quit",
        "Esc  close an overlay / follow the log",
        "↑ PgUp  scroll the event log back",
        "↓ PgDn  scroll the event log forward",
        "Home  oldest event in the log",
        "End  newest event, follow the log",
        "Ctrl-C  same as quit",
    ] {
        assert!(help.contains(row), "{row:?} missing:\n{help}");
    }
    s.key(Action::Back);
    assert!(!text(&s.draw()).contains(" keys "));
}

#[test]
fn too_small_says_so() {
    let mut s = Scene::new(60, 20);
    s.joined(0.0, &[("bob", 60)]);
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    assert!(screen.contains("terminal too small"));
    assert!(screen.contains("60x20 here; calltop needs 80x24"));
}

#[test]
fn timed_out_and_removed_say_why() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[]);
    s.ev(
        300.0,
        EventKind::SessionTimedOut {
            idle_timeout: Duration::from_secs(300),
        },
    );
    let screen = text(&s.draw());
    assert!(screen.contains("TIMED OUT"));
    assert!(
        screen.contains("Left after 05:00 alone (idle timeout)."),
        "{screen}"
    );
    s.joined(310.0, &[]);
    s.ev(
        320.0,
        EventKind::SessionLeft {
            reason: LeftReason::Removed,
        },
    );
    let screen = text(&s.draw());
    assert!(screen.contains("An administrator removed you from the session."));
}

#[test]
fn leaving_by_hand_shows_left_and_how_to_rejoin() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[("bob", 60)]);
    let effects = s.key(Action::Leave);
    assert!(effects.contains(&Effect::Run(Command::Leave)));
    s.ev(0.0, EventKind::Leaving { rejoin: false });
    assert!(text(&s.draw()).contains("LEAVING"));
    s.ev(
        1.0,
        EventKind::SessionLeft {
            reason: LeftReason::User,
        },
    );
    let screen = text(&s.draw());
    assert!(screen.contains(" LEFT "), "{screen}");
    assert!(screen.contains("you left · j to join again"), "{screen}");
    assert!(screen.contains("not in a session"), "{screen}");
    // Leaving again makes no sense: the log says so, with the engine's words.
    let effects = s.key(Action::Leave);
    assert!(effects.contains(&Effect::Run(Command::Leave)));
    s.ev(
        2.0,
        EventKind::CommandRefused {
            command: Command::Leave,
            reason: CommandError::NotInSession,
        },
    );
    let screen = text(&s.draw());
    assert!(
        screen.contains("can't leave: not in a session (join first)"),
        "{screen}"
    );
    assert!(
        screen.contains("› can't leave"),
        "the log says so: {screen}"
    );
}

#[test]
fn server_text_cannot_reach_the_terminal_as_escapes() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[("\u{1b}[2Jmallory\u{7}", 60)]);
    s.ev(
        1.0,
        EventKind::Error {
            message: "\u{1b}]0;owned\u{7}\u{9b}31m".into(),
        },
    );
    let buf = s.draw();
    for cell in buf.content() {
        assert!(
            !cell.symbol().chars().any(|c| c.is_control()),
            "control character on screen: {:?}",
            cell.symbol()
        );
    }
    assert!(text(&buf).contains("␛[2Jmallory␇"));
}

/// Each built-in palette, meaning by meaning: a colour change shows up in
/// review as a change to this snapshot.
#[test]
fn the_built_in_palettes() {
    let meanings = [
        Meaning::Text,
        Meaning::Ok,
        Meaning::Warn,
        Meaning::Error,
        Meaning::Muted,
        Meaning::Accent,
    ];
    let mut table = String::new();
    for (name, theme) in [
        ("dark", Theme::dark()),
        ("light", Theme::light()),
        ("none", Theme::plain()),
    ] {
        table.push_str(&format!("[{name}]\n"));
        for m in meanings {
            let (t, b) = (theme.style(m), theme.badge(m));
            table.push_str(&format!(
                "{m:?}: text fg {:?} {:?}; badge fg {:?} bg {:?} {:?}\n",
                t.fg, t.add_modifier, b.fg, b.bg, b.add_modifier
            ));
        }
    }
    insta::assert_snapshot!(table);
}

#[test]
fn a_theme_from_the_config_colours_the_dashboard() {
    let mut config = calltop::config::Config::default();
    config.theme.name = calltop::config::ThemeName::Light;
    config.theme.muted = "#8a8a8a".into();
    config.ui.color = calltop::config::ColorMode::Always;
    let (_, theme) = calltop::ui::keys_and_theme(&config).unwrap();
    let mut s = Scene::with(80, 24, theme, None);
    a_call_with_history(&mut s);
    let buf = s.draw();
    // The badge in the light theme's "ok" colour; labels in the muted colour the file gave.
    let (x, y) = find(&buf, "JOINED").unwrap();
    assert_eq!(
        buf[(x, y)].bg,
        Theme::light().badge(Meaning::Ok).bg.unwrap()
    );
    let (x, y) = find(&buf, "session").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Rgb(0x8a, 0x8a, 0x8a));

    // `--color never` (ui.color) wins over any theme: no colour anywhere.
    config.ui.color = calltop::config::ColorMode::Never;
    let (_, theme) = calltop::ui::keys_and_theme(&config).unwrap();
    assert_eq!(theme, Theme::plain());
}

#[test]
fn no_colour_means_no_colour_anywhere() {
    let mut s = Scene::with(80, 24, Theme::plain(), Some("embedded server"));
    a_call_with_history(&mut s);
    s.ev(
        800.0,
        EventKind::ConnectionLost {
            reason: "x".into(),
            injected: false,
        },
    );
    let buf = s.draw();
    for cell in buf.content() {
        assert_eq!(
            (cell.fg, cell.bg),
            (Color::Reset, Color::Reset),
            "coloured cell {:?}",
            cell.symbol()
        );
    }
    // Still readable: the badge stands out by reversed video.
    let (x, y) = find(&buf, "RECONNECTING").unwrap();
    assert_eq!(
        buf[(x, y)].modifier,
        Style::new().reversed().bold().add_modifier
    );
}

#[test]
fn the_log_scrolls_back_to_the_oldest_line_and_forward_to_live() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[]);
    for i in 0..60 {
        s.ev(
            1.0 + f64::from(i),
            EventKind::Error {
                message: format!("notice number {i}"),
            },
        );
    }
    // The newest line, as the log shows it (the call panel shows it too, as the last error).
    let newest = "11:07:40.000 notice number 59";
    let live = text(&s.draw());
    assert!(live.contains(newest));
    assert!(!live.contains("Events ── scrolled"));
    s.key(Action::LogOlder);
    let back = text(&s.draw());
    assert!(back.contains("scrolled back"), "{back}");
    assert!(!back.contains(newest), "{back}");
    s.key(Action::LogOldest);
    let top = text(&s.draw());
    assert!(
        top.contains("connecting to ws://127.0.0.1:7878/ws"),
        "{top}"
    );
    // Further back than the oldest line stays at the oldest line, and says so.
    let below_header = |screen: &str| screen.split_once('\n').unwrap().1.to_owned();
    s.key(Action::LogOlder);
    let still = text(&s.draw());
    assert_eq!(below_header(&still), below_header(&top));
    assert!(still.contains("already at the oldest event"), "{still}");
    s.key(Action::LogOldest);
    assert!(text(&s.draw()).contains("already at the oldest event"));
    s.key(Action::LogNewest);
    let again = text(&s.draw());
    assert!(again.contains(newest), "{again}");
    assert!(!again.contains("scrolled back"));
}

#[test]
fn scroll_keys_with_nowhere_to_go_say_so() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[]);
    for (a, says) in [
        (Action::LogOlder, "the whole log is on screen"),
        (Action::LogOldest, "the whole log is on screen"),
        (Action::LogNewer, "already at the newest event"),
        (Action::LogNewest, "already at the newest event"),
    ] {
        s.key(a);
        let screen = text(&s.draw());
        assert!(screen.contains(says), "{a:?}:\n{screen}");
        assert!(!screen.contains("scrolled back"), "{a:?}:\n{screen}");
    }
}

#[test]
fn keys_for_what_a_too_small_terminal_hides_change_nothing() {
    let mut s = Scene::new(60, 20);
    s.joined(0.0, &[]);
    for a in [
        Action::Help,
        Action::LogOlder,
        Action::LogOldest,
        Action::LogNewer,
        Action::Back,
    ] {
        s.key(a);
        assert!(!s.m.help && !s.m.log_scrolled, "{a:?}");
        let screen = text(&s.draw());
        assert!(
            screen.contains("nothing to show in a terminal this small"),
            "{a:?}:\n{screen}"
        );
    }
    // Back at full size: no help popped up from a key pressed unseen.
    s.send(Msg::Resize(80, 24));
    assert!(!text(&s.draw()).contains(" keys "));
}

#[test]
fn at_the_oldest_line_further_scroll_keys_cost_nothing() {
    let mut s = Scene::new(80, 24);
    log::set_capacity(20_000);
    s.joined(0.0, &[]);
    for i in 0..5_000 {
        s.ev(
            1.0,
            EventKind::Error {
                message: format!("notice number {i}"),
            },
        );
        if i % 500 == 0 {
            // Before the hot buffer overflows.
            log::flush();
        }
    }
    let started = Instant::now();
    s.key(Action::LogOldest);
    let walk = started.elapsed();
    assert!(s.m.log_at_oldest);
    let started = Instant::now();
    for _ in 0..20 {
        s.key(Action::LogOlder);
        s.key(Action::LogOldest);
    }
    let again = started.elapsed();
    // Each of these used to walk the whole log again.
    assert!(
        again < walk,
        "40 presses at the top took {again:?}, one walk to it {walk:?}"
    );
    assert!(text(&s.draw()).contains("connecting to ws://127.0.0.1:7878/ws"));
}

/// Every wide character is followed by the blank cell it covers: nothing
/// is drawn in a cell the terminal gives to the character before it (a
/// real terminal would show the character, not what was drawn there).
fn well_formed(buf: &Buffer) -> Result<(), String> {
    use ratatui::buffer::CellWidth;
    for y in 0..buf.area.height {
        for x in 0..buf.area.width.saturating_sub(1) {
            let c = &buf[(x, y)];
            if c.symbol().cell_width() > 1 && buf[(x + 1, y)].symbol() != " " {
                return Err(format!(
                    "{:?} at ({x}, {y}) hides {:?}",
                    c.symbol(),
                    buf[(x + 1, y)].symbol()
                ));
            }
        }
    }
    Ok(())
}

/// Where `needle` starts in row `y`, in columns, from column `from` on.
fn column_of(buf: &Buffer, y: u16, from: u16, needle: &str) -> Option<u16> {
    (from..buf.area.width).find(|&x| {
        let rest: String = (x..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        rest.starts_with(needle)
    })
}

/// Names in every script and shape: wide, full-width, combining marks,
/// emoji with a presentation selector, a flag, halfwidth kana; one long.
fn a_call_with_names_from_everywhere(s: &mut Scene) {
    s.m.info.session = "quarterly-planning-review-with-the-whole-product-team".into();
    s.m.info.user = "alice-from-the-platform-group".into();
    s.joined(
        0.0,
        &[
            ("李小龍", 300),
            ("Ｆｕｌｌｗｉｄｔｈ", 250),
            ("Zoe\u{308}y A\u{30a}sa", 200),
            ("Rene\u{301}e", 150),
            ("❤\u{fe0f} heart", 120),
            ("🇫🇷 Amélie", 100),
            ("ｶﾞｷﾞ", 60),
            ("bartholomew-the-long", 30),
        ],
    );
}

#[test]
fn names_from_everywhere_line_up_and_long_ones_say_they_are_cut() {
    let mut s = Scene::new(120, 40);
    a_call_with_names_from_everywhere(&mut s);
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    let buf = s.draw();
    let (px, py) = find(&buf, "┌ Participants").unwrap();
    // The join times start in one column, whatever the names are written in.
    let at: Vec<Option<u16>> = (py + 1..py + 9)
        .map(|y| column_of(&buf, y, px, "11:0"))
        .collect();
    assert!(
        at[0].is_some() && at.iter().all(|x| *x == at[0]),
        "{at:?}\n{screen}"
    );
    well_formed(&buf).unwrap_or_else(|e| panic!("{e}\n{screen}"));
    // At 80 columns the long name is cut, with `…`, and the times still
    // line up.
    drop(s); // one scene at a time: they share the log
    let mut s = Scene::new(80, 24);
    a_call_with_names_from_everywhere(&mut s);
    let buf = s.draw();
    let screen = text(&buf);
    let (px, py) = find(&buf, "┌ Participants").unwrap();
    let at: Vec<Option<u16>> = (py + 1..py + 9)
        .map(|y| column_of(&buf, y, px, "11:0"))
        .collect();
    assert!(
        at[0].is_some() && at.iter().all(|x| *x == at[0]),
        "{at:?}\n{screen}"
    );
    assert!(screen.contains("bartholomew-the-l… 11:06:10"), "{screen}");
    // The header: session and user cut to the row, each saying so.
    let header = screen.lines().next().unwrap();
    assert!(
        header.contains(" quarterly-planning-review-w… as alice-from-the-platform-gr…  "),
        "{header:?}"
    );
}

#[test]
fn help_lines_up_keys_of_any_width() {
    let mut s = Scene::new(80, 24);
    // A key may be any printable character: here a wide one.
    s.m.keymap = Keymap::from_config(&calltop::config::KeysSection {
        leave: "終".into(),
        ..Default::default()
    })
    .unwrap();
    s.key(Action::Help);
    let buf = s.draw();
    let (_, top) = find(&buf, " keys ").unwrap();
    let at = |what: &str| {
        (top..buf.area.height)
            .find_map(|y| column_of(&buf, y, 0, what))
            .unwrap_or_else(|| panic!("{what:?} not in\n{}", text(&buf)))
    };
    assert_eq!(
        at("leave the session"),
        at("join, or rejoin"),
        "{}",
        text(&buf)
    );
    assert_eq!(
        at("leave the session"),
        at("same as quit"),
        "{}",
        text(&buf)
    );
}

#[test]
fn a_join_before_today_says_which_day() {
    let mut s = Scene::new(80, 24);
    // The scene's "now" is 2026-11-18 11:06:40 UTC.
    s.joined(
        0.0,
        &[("bob", 60), ("carol", 12 * 3600), ("dave", 3 * 86_400)],
    );
    let buf = s.draw();
    let people = boxed(&buf, "Participants (3)");
    for row in [
        "joined Nov 15 11:06",
        "joined Nov 17 23:06",
        "joined 11:05:40",
    ] {
        assert!(people.contains(row), "{row:?} missing:\n{people}");
    }
    // In the dashboard's zone: nine hours east, carol joined today.
    s.m.tz = TimeZone::fixed(jiff::tz::offset(9));
    let people = boxed(&s.draw(), "Participants (3)");
    assert!(people.contains("joined 08:06:40"), "{people}");
}

/// The call panel's row labelled `label`, from the label on, trimmed.
fn call_row(buf: &Buffer, label: &str) -> String {
    let call = boxed(buf, "Call");
    call.lines()
        .find_map(|l| {
            let inner = l.trim_start_matches('│').trim_start();
            inner
                .strip_prefix(label)
                .filter(|rest| rest.starts_with(' '))
                .map(|rest| format!("{label}{}", rest.split('│').next().unwrap().trim_end()))
        })
        .unwrap_or_else(|| panic!("no {label:?} row in\n{call}"))
}

#[test]
fn an_outage_and_a_leave_leave_history_not_live_looking_numbers() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[("bob", 60)]);
    s.heartbeats(2.0, 8);
    let live = call_row(&s.draw(), "rtt");
    assert!(live.starts_with("rtt      0.71 ms "), "{live}");
    s.ev(
        20.0,
        EventKind::ConnectionLost {
            reason: "heartbeat unanswered for 2500 ms".into(),
            injected: false,
        },
    );
    s.ev(
        20.0,
        EventKind::ReconnectAttempt {
            attempt: 1,
            max: 10,
            delay: Duration::from_secs(2),
            last_error: None,
        },
    );
    // Down (the overlay hidden, to see the panel): the last round trip is
    // history, muted, not a value that looks measured now.
    s.key(Action::Back);
    let buf = s.draw();
    assert_eq!(
        call_row(&buf, "rtt"),
        "rtt      last 0.71 ms ▄▅▆▇█▄▆▇",
        "{}",
        text(&buf)
    );
    let (x, y) = find(&buf, "last 0.71 ms").unwrap();
    assert_eq!(buf[(x, y)].fg, muted());
    // Meanwhile the reason is news.
    let (x, y) = find(&buf, "heartbeat unanswered").unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Yellow);
    s.ev(
        22.3,
        EventKind::ConnectionRestored {
            resumed: true,
            downtime: Duration::from_millis(2300),
            attempts: 1,
        },
    );
    // Restored: the drop's reason is history (dated, muted), and until a
    // heartbeat on the new connection so is the round trip.
    let buf = s.draw();
    assert_eq!(
        call_row(&buf, "error"),
        "error    last 11:07:00: heartbeat unanswere…"
    );
    let (x, y) = find(&buf, "last 11:07:00").unwrap();
    assert_eq!(buf[(x, y)].fg, muted());
    assert!(call_row(&buf, "rtt").starts_with("rtt      last 0.71 ms"));
    s.ev(
        24.0,
        EventKind::Heartbeat {
            rtt: Duration::from_micros(450),
        },
    );
    insta::assert_snapshot!("restored_with_the_drop_as_history", s.screen());
    assert!(call_row(&s.draw(), "rtt").starts_with("rtt      0.45 ms  "));
    // We leave: no heartbeat is "yet" to come, and none is live.
    s.ev(30.0, EventKind::Leaving { rejoin: false });
    s.ev(
        30.1,
        EventKind::SessionLeft {
            reason: LeftReason::User,
        },
    );
    insta::assert_snapshot!("left_with_the_call_as_history", s.screen());
    let buf = s.draw();
    assert!(call_row(&buf, "rtt").starts_with("rtt      last 0.45 ms"));
    assert!(call_row(&buf, "error").starts_with("error    last 11:07:00: "));
    assert!(!text(&buf).contains("no heartbeat yet"));
    // A new join starts a new call's numbers.
    s.joined(40.0, &[]);
    let buf = s.draw();
    assert_eq!(call_row(&buf, "rtt"), "rtt      no heartbeat yet");
    assert_eq!(call_row(&buf, "error"), "error    none");
}

/// The cells of `buf` in `rows` x `cols`, one string a row.
fn columns(buf: &Buffer, rows: std::ops::Range<u16>, cols: std::ops::Range<u16>) -> Vec<String> {
    rows.map(|y| cols.clone().map(|x| buf[(x, y)].symbol()).collect())
        .collect()
}

#[test]
fn an_overlay_leaves_no_bits_of_what_it_covers_beside_it() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[("bob", 60)]);
    // A wrapped line, and a reason in wide letters where the box's left
    // edge falls on the call panel.
    s.ev(
        5.0,
        EventKind::Error {
            message: "the server says: participant limit nearly reached, \
                      new joins may be refused until someone leaves the room"
                .into(),
        },
    );
    s.ev(
        20.0,
        EventKind::ConnectionLost {
            reason: "接続が切断されました".into(),
            injected: false,
        },
    );
    s.ev(
        20.0,
        EventKind::ReconnectAttempt {
            attempt: 1,
            max: 10,
            delay: Duration::from_secs(5),
            last_error: None,
        },
    );
    s.at(21.0);
    let screen = s.screen();
    insta::assert_snapshot!("reconnecting_over_wide_text", screen);
    let buf = s.draw();
    well_formed(&buf).unwrap_or_else(|e| panic!("{e}\n{screen}"));
    let (bx, by) = find(&buf, "┌──").expect("the box's top left corner is drawn");
    let overlay = boxed(&buf, "connection lost");
    let (w, h) = (
        overlay.lines().next().unwrap().chars().count() as u16,
        overlay.lines().count() as u16,
    );
    // Beside the box, on each of its rows: panel frames (a top border with
    // its title), nothing else.
    let frame_only =
        |row: &String| row.starts_with('┌') || row.chars().all(|c| " │─┌┐└┘".contains(c));
    for side in [
        columns(&buf, by..by + h, 0..bx),
        columns(&buf, by..by + h, bx + w..80),
    ] {
        assert!(side.iter().all(frame_only), "{side:#?}\n{screen}");
    }
    // Under it, the log goes on with whole lines only: no line's second
    // half without its first.
    let below = columns(&buf, by + h..23, 1..79);
    let first = below.iter().find(|r| !r.trim().is_empty()).unwrap();
    assert!(
        first.trim_start_matches(' ').starts_with("11:"),
        "{first:?}\n{screen}"
    );
}

#[test]
fn the_log_never_starts_with_the_second_half_of_a_line() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[]);
    let rows = calltop::ui::layout::log_inner_area(&s.m).height;
    // A line that takes three rows, then enough short ones that only its
    // last two rows would still be in view.
    s.ev(
        1.0,
        EventKind::Error {
            message: format!("a long notice from the server: {}", "words ".repeat(25)),
        },
    );
    for i in 0..rows - 2 {
        s.ev(
            2.0 + f64::from(i),
            EventKind::Error {
                message: format!("short notice {i}"),
            },
        );
    }
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    let buf = s.draw();
    let (_, top) = find(&buf, "┌ Events ").unwrap();
    let log = columns(&buf, top + 1..23, 2..78);
    let first = log.iter().find(|r| !r.trim().is_empty()).unwrap();
    assert!(first.starts_with("11:"), "{first:?}\n{screen}");
    assert!(!screen.contains("│              words"), "{screen}");
    assert!(screen.contains("short notice 0"), "{screen}");
}

#[test]
fn hints_at_80_columns_are_whole_or_not_there() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[]);
    s.ev(
        300.0,
        EventKind::SessionTimedOut {
            idle_timeout: Duration::from_secs(300),
        },
    );
    s.key(Action::Back);
    insta::assert_snapshot!("timed_out_at_80_columns", s.screen());
    // Shortened to fit.
    assert_eq!(
        call_row(&s.draw(), "call"),
        "call     left after 05:00 alone · j join"
    );
    s.joined(310.0, &[]);
    s.ev(
        320.0,
        EventKind::SessionLeft {
            reason: LeftReason::Removed,
        },
    );
    s.key(Action::Back);
    // Too long even in short: left out (the footer says j join).
    assert_eq!(
        call_row(&s.draw(), "call"),
        "call     removed by an administrator"
    );
    // A notice naming a key is cut between words, never inside one.
    s.joined(330.0, &[]);
    s.key(Action::Quit);
    let notice = "quitting: leaving the session first (q again to quit at once)";
    let header = text(&s.draw()).lines().next().unwrap().to_owned();
    let shown = header.split("  ").last().unwrap().trim();
    let cut = shown
        .strip_suffix('…')
        .unwrap_or_else(|| panic!("{header:?}"));
    assert!(notice.starts_with(cut), "{header:?}");
    assert!(
        notice[cut.len()..].starts_with(' '),
        "a word cut: {header:?}"
    );
}

#[test]
fn tag_characters_from_the_server_show_as_replacement_marks() {
    // U+E0041.. spell "ALL CAPS" invisibly; U+E007F ends a tag sequence.
    let tagged = "mallory\u{e0041}\u{e004c}\u{e004c}\u{e007f}";
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[(tagged, 60)]);
    s.ev(
        1.0,
        EventKind::Error {
            message: format!("notice from {tagged}"),
        },
    );
    let buf = s.draw();
    let tag = |c: char| ('\u{e0000}'..='\u{e007f}').contains(&c);
    for cell in buf.content() {
        assert!(!cell.symbol().chars().any(tag), "{:?}", cell.symbol());
    }
    let screen = text(&buf);
    let shown = "mallory\u{fffd}\u{fffd}\u{fffd}\u{fffd}";
    let people = boxed(&buf, "Participants (1)");
    assert!(people.contains(shown), "{people}");
    assert!(screen.contains(&format!("{shown} joined")), "{screen}");
    assert!(screen.contains(&format!("notice from {shown}")), "{screen}");
}

/// The settings a run reports in its `run_started`, as the driver sends them.
fn run_started(s: &mut Scene, settings: &calltop::SessionSettings) {
    s.ev(
        0.0,
        EventKind::RunStarted {
            run: calltop::event::RunInfo::of(settings),
        },
    );
}

fn default_settings(faults: bool) -> calltop::SessionSettings {
    calltop::SessionSettings::builder("ws://127.0.0.1:7878/ws", "standup", "alice")
        .faults(faults)
        .build()
        .unwrap()
}

#[test]
fn an_injected_drop_is_marked_in_the_header_the_overlay_and_the_log() {
    let mut s = Scene::new(80, 24);
    run_started(&mut s, &default_settings(true));
    s.joined(0.0, &[("bob", 60)]);
    s.heartbeats(2.0, 3);
    s.ev(8.0, EventKind::FaultInjected { fault: Fault::Drop });
    s.ev(
        8.0,
        EventKind::ConnectionLost {
            reason: "connection dropped on purpose (injected fault)".into(),
            injected: true,
        },
    );
    s.ev(
        8.0,
        EventKind::ReconnectAttempt {
            attempt: 1,
            max: 10,
            delay: Duration::ZERO,
            last_error: None,
        },
    );
    s.at(8.5);
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    let buf = s.draw();
    let header = text(&buf).lines().next().unwrap().to_owned();
    assert!(header.contains(" INJECTED "), "{header}");
    let overlay = boxed(&buf, "connection lost [injected]");
    assert!(
        overlay.contains("injected on purpose: not a real outage"),
        "{overlay}"
    );
    // Restored: the marks go; the log keeps them.
    s.ev(
        8.7,
        EventKind::ConnectionRestored {
            resumed: true,
            downtime: Duration::from_millis(700),
            attempts: 1,
        },
    );
    let screen = text(&s.draw());
    assert!(
        !screen.lines().next().unwrap().contains("INJECTED"),
        "{screen}"
    );
    assert!(
        screen.contains("injected fault: drop the connection"),
        "{screen}"
    );
    assert!(
        screen.contains("connection lost [injected]: connection dropped"),
        "{screen}"
    );
}

#[test]
fn a_stall_under_way_is_named_in_the_header_until_it_ends() {
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[("bob", 60)]);
    let stall = Fault::Stall {
        duration: Duration::from_secs(2),
    };
    s.ev(3.0, EventKind::FaultInjected { fault: stall });
    let header = |s: &Scene| text(&s.draw()).lines().next().unwrap().to_owned();
    assert!(header(&s).contains(" FAULT stall "), "{}", header(&s));
    s.ev(5.0, EventKind::FaultEnded { fault: stall });
    assert!(!header(&s).contains("FAULT"), "{}", header(&s));
    assert!(text(&s.draw()).contains("injected stall over"));
}

#[test]
fn a_contract_violation_is_counted_in_the_header_and_logged_as_an_error() {
    use calltop::engine::{EventRef, Rule, Violation};
    let mut s = Scene::new(80, 24);
    s.joined(0.0, &[("bob", 60)]);
    s.ev(
        4.0,
        EventKind::ContractViolation(Violation {
            rule: Rule::RestoreFollowsLoss,
            message: Rule::RestoreFollowsLoss.words().into(),
            events: vec![EventRef {
                event: "connection_restored".into(),
                at: Some(Duration::from_secs(4)),
            }],
            recent: vec![],
        }),
    );
    let buf = s.draw();
    let screen = text(&buf);
    assert!(
        screen.lines().next().unwrap().contains(" 1 VIOLATION "),
        "{screen}"
    );
    let (x, y) = find(&buf, "contract violation, rule 3").expect("logged");
    assert_eq!(
        buf[(x, y)].fg,
        Theme::colour().style(Meaning::Error).fg.unwrap()
    );
}

#[test]
fn the_settings_panel_shows_what_is_in_force_and_when_the_server_was_last_heard() {
    let mut s = Scene::new(80, 24);
    run_started(&mut s, &default_settings(true));
    s.joined_with(0.0, Some(calltop_facts()), &[("bob", "bob", 60)]);
    s.heartbeats(2.0, 2);
    s.key(Action::Settings);
    s.at(2.5);
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    let panel = boxed(&s.draw(), "settings in force");
    for row in [
        "heartbeat  every 2.0 s, lost after 2.5 s unanswered",
        "reconnect  10 attempts, waits 0 0.25 0.5 1 2 4 5 5 5 5 s",
        "resume window  30 s (as the server announced)",
        "idle timeout  5 min 00 s alone, then calltop leaves",
        "last heard  0 s ago from the server",
    ] {
        assert!(panel.contains(row), "{row:?} missing:\n{panel}");
    }
    // Past a heartbeat interval with nothing: the warning colour.
    let last_heard = |s: &Scene| {
        let buf = s.draw();
        let (x, y) = find(&buf, "s ago from the server").unwrap();
        (buf[(x - 2, y)].symbol().to_owned(), buf[(x, y)].fg)
    };
    let warn = Theme::colour().style(Meaning::Warn).fg.unwrap();
    assert_ne!(last_heard(&s).1, warn);
    // The last heartbeat came at 4 s; at 6.2 s that is over the 2 s interval.
    s.at(6.2);
    let (secs, colour) = last_heard(&s);
    assert_eq!(secs, "2");
    assert_eq!(colour, warn);
    // An injected idle timeout says so.
    s.ev(
        7.0,
        EventKind::FaultInjected {
            fault: Fault::Idle {
                timeout: Duration::from_secs(10),
            },
        },
    );
    let panel = boxed(&s.draw(), "settings in force");
    assert!(
        panel.contains("10 s (injected; 5 min 00 s configured)"),
        "{panel}"
    );
    s.key(Action::Back);
    assert!(!text(&s.draw()).contains("settings in force"));
}

#[test]
fn after_giving_up_the_final_message_says_the_server_may_still_hold_our_slot() {
    let mut s = Scene::new(80, 24);
    s.joined_with(0.0, Some(calltop_facts()), &[("bob", "bob", 60)]);
    s.ev(
        10.0,
        EventKind::ConnectionLost {
            reason: "connection reset".into(),
            injected: false,
        },
    );
    s.ev(
        22.0,
        EventKind::ConnectionClosed {
            reason: "gave up reconnecting after 10 attempts".into(),
        },
    );
    let screen = s.screen();
    insta::assert_snapshot!(screen);
    // Lost at 10 s with a 30 s window: 18 s left at 22 s.
    assert!(
        screen.contains("The server may still hold your old slot for 18"),
        "{screen}"
    );
    let effects = s.key(Action::Join);
    assert!(effects.contains(&Effect::Run(Command::Join)));
    assert!(text(&s.draw()).contains("may still hold our old slot for 18 s"));
    s.at(41.0);
    let screen = text(&s.draw());
    assert!(
        !screen.contains("The server may still hold"),
        "gone once the window is over: {screen}"
    );
}

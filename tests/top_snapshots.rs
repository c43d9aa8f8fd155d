//! `calltop top` drawn on ratatui's TestBackend, fed by a scripted source
//! through the same `update` the app uses, on a made-up clock: the table,
//! sorting, the filter, one session's people, joining, and a source that
//! fails (the last good table stays, marked stale with its age).

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use jiff::tz::TimeZone;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

use calltop::top::model::{Effect, Health, Msg, Polled, Screen, TopInfo, TopModel, update};
use calltop::top::source::{Member, Session, Snapshot, Source, SourceError};
use calltop::top::view;
use calltop::ui::keys::Keymap;
use calltop::ui::theme::{Meaning, Theme};

/// A source that answers what it is told to, in order.
struct Scripted(VecDeque<Result<Snapshot, SourceError>>);

impl Source for Scripted {
    fn poll(&mut self) -> BoxFuture<'_, Result<Snapshot, SourceError>> {
        let next = self
            .0
            .pop_front()
            .expect("the test polls only as often as it scripted answers");
        Box::pin(async move { next })
    }

    fn describe(&self) -> String {
        "calltop admin API".into()
    }
}

struct Scene {
    m: TopModel,
    source: Scripted,
    t0: Instant,
    /// 2026-11-18 11:06:40 UTC
    w0: SystemTime,
}

fn wall(secs: u64) -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000 + secs)
}

/// A participant on calltop's protocol (the id is the name), joined at
/// `joined` seconds on the scene's clock.
fn p(name: &str, joined: u64, connected: bool) -> Member {
    Member {
        id: name.into(),
        name: name.into(),
        joined_at: Some(wall(joined)),
        connected: Some(connected),
    }
}

fn session(id: &str, members: Vec<Member>) -> Session {
    Session {
        id: id.into(),
        description: None,
        members,
    }
}

fn snap(sessions: Vec<Session>) -> Result<Snapshot, SourceError> {
    Ok(Snapshot::new(sessions).unwrap())
}

impl Scene {
    fn new(width: u16, height: u16, script: Vec<Result<Snapshot, SourceError>>) -> Scene {
        Scene::with_info(width, height, script, "ws://127.0.0.1:7878/ws")
    }

    fn with_info(
        width: u16,
        height: u16,
        script: Vec<Result<Snapshot, SourceError>>,
        server: &str,
    ) -> Scene {
        let source = Scripted(script.into());
        let info = TopInfo {
            server: server.into(),
            source: source.describe(),
            interval: Duration::from_secs(2),
        };
        let t0 = Instant::now();
        let mut m = TopModel::new(info, Keymap::default(), Theme::colour(), t0, wall(0), 500);
        m.tz = TimeZone::UTC;
        update(&mut m, Msg::Resize(width, height));
        Scene {
            m,
            source,
            t0,
            w0: wall(0),
        }
    }

    fn at(&mut self, secs: u64) {
        update(
            &mut self.m,
            Msg::Tick {
                now: self.t0 + Duration::from_secs(secs),
                wall: self.w0 + Duration::from_secs(secs),
            },
        );
    }

    /// The source's next answer, as the poller hands it over at `secs`.
    fn poll(&mut self, secs: u64) {
        let result = self
            .source
            .poll()
            .now_or_never()
            .expect("a scripted answer is ready at once");
        self.at(secs);
        let polled = Polled {
            at: self.t0 + Duration::from_secs(secs),
            wall: self.w0 + Duration::from_secs(secs),
            took: Duration::from_micros(3_400),
            result,
        };
        update(&mut self.m, Msg::Polled(Box::new(polled)));
    }

    fn key(&mut self, code: KeyCode) -> Vec<Effect> {
        update(
            &mut self.m,
            Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)),
        )
        .effects
    }

    fn typed(&mut self, text: &str) {
        for c in text.chars() {
            self.key(KeyCode::Char(c));
        }
    }

    fn frame(&self) -> Buffer {
        let (w, h) = self.m.size;
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| view::view(&self.m, f)).unwrap();
        t.backend().buffer().clone()
    }

    fn screen(&self) -> String {
        text(&self.frame())
    }

    /// The sessions on screen, top to bottom.
    fn order(&self) -> Vec<String> {
        self.m.visible().map(|r| r.id.clone()).collect()
    }
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

/// Whether a cell is drawn in `style`'s colours.
fn looks(cell: &ratatui::buffer::Cell, style: ratatui::style::Style) -> bool {
    Some(cell.fg) == style.fg && Some(cell.bg) == style.bg
}

/// The row of the screen that shows `needle`.
fn row_of(buf: &Buffer, needle: &str) -> u16 {
    (0..buf.area.height)
        .find(|&y| {
            let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            line.contains(needle)
        })
        .unwrap_or_else(|| panic!("{needle:?} not on screen:\n{}", text(buf)))
}

/// Three sessions, then a second poll five seconds later: one session
/// closes, one opens, someone leaves, someone's connection drops.
fn busy_server() -> Vec<Result<Snapshot, SourceError>> {
    vec![
        snap(vec![
            session(
                "standup",
                vec![p("alice", 0, true), p("bob", 0, true), p("carol", 3, true)],
            ),
            session("retro", vec![p("dave", 0, true), p("erin", 1, true)]),
            session("1on1", vec![p("frank", 2, true)]),
        ]),
        snap(vec![
            session(
                "standup",
                vec![p("alice", 0, true), p("bob", 0, false), p("gus", 4, true)],
            ),
            session("retro", vec![p("dave", 0, true), p("erin", 1, true)]),
            session(
                "planning",
                vec![
                    p("hana", 4, true),
                    p("ivan", 4, true),
                    p("jo", 5, true),
                    p("kim", 5, true),
                ],
            ),
        ]),
    ]
}

#[test]
fn the_table_shows_every_session_with_churn_and_the_changes_in_the_log() {
    let mut s = Scene::new(100, 30, busy_server());
    s.poll(1);
    s.poll(6);
    assert_eq!(s.m.health, Health::Live);
    // Biggest first; the counts are the last minute's.
    assert_eq!(s.order(), ["planning", "standup", "retro"]);
    insta::assert_snapshot!(s.screen());
}

#[test]
fn the_selected_row_stands_out() {
    let mut s = Scene::new(100, 30, busy_server());
    s.poll(1);
    s.key(KeyCode::Down);
    assert_eq!(s.m.selected(), Some("retro"));
    let buf = s.frame();
    let selected = Theme::colour().badge(Meaning::Accent);
    assert!(looks(&buf[(2, row_of(&buf, "retro"))], selected));
    assert!(!looks(&buf[(2, row_of(&buf, "standup"))], selected));
}

#[test]
fn every_column_sorts_and_a_second_press_reverses() {
    let mut s = Scene::new(100, 30, busy_server());
    s.poll(1);
    s.poll(6);
    s.key(KeyCode::Char('1'));
    assert_eq!(s.order(), ["planning", "retro", "standup"]);
    s.key(KeyCode::Char('1'));
    assert_eq!(s.order(), ["standup", "retro", "planning"]);
    s.key(KeyCode::Char('3'));
    // Oldest join first: standup's alice and retro's dave joined at 0 (ties by id).
    assert_eq!(s.order(), ["retro", "standup", "planning"]);
    s.key(KeyCode::Char('4'));
    assert_eq!(
        s.order(),
        ["planning", "standup", "retro"],
        "most joins first"
    );
    s.key(KeyCode::Char('5'));
    assert_eq!(
        s.order()[0],
        "standup",
        "the most leaves: carol, and 1on1 is gone"
    );
    s.key(KeyCode::Char('6'));
    assert_eq!(s.order()[0], "standup", "bob's connection is down");
    // The selection follows the session, not the line: standup was on
    // top at the first poll.
    assert_eq!(s.m.selected(), Some("standup"));
    s.key(KeyCode::Char('6'));
    insta::assert_snapshot!(s.screen());
}

#[test]
fn the_filter_narrows_by_session_or_person_and_esc_clears_it() {
    let mut s = Scene::new(100, 30, busy_server());
    s.poll(1);
    s.poll(6);
    s.key(KeyCode::Char('/'));
    s.typed("ERI");
    // While typing, the footer is the filter line.
    assert!(s.screen().contains("filter: ERI▏"), "{}", s.screen());
    s.key(KeyCode::Enter);
    assert_eq!(s.order(), ["retro"], "erin is in retro");
    assert_eq!(s.m.selected(), Some("retro"));
    insta::assert_snapshot!(s.screen());
    // It holds across polls: planning (no match) stays out.
    s.key(KeyCode::Char('/'));
    s.key(KeyCode::Backspace);
    s.key(KeyCode::Backspace);
    s.key(KeyCode::Backspace);
    s.typed("plan");
    s.key(KeyCode::Enter);
    assert_eq!(s.order(), ["planning"]);
    s.key(KeyCode::Char('/'));
    s.typed("xyz");
    s.key(KeyCode::Enter);
    assert!(s.order().is_empty());
    assert!(
        s.screen()
            .contains("no session matches the filter (Esc clears it)")
    );
    s.key(KeyCode::Esc);
    assert_eq!(s.order().len(), 3);
}

#[test]
fn enter_opens_a_sessions_people_and_esc_goes_back() {
    let mut script = busy_server();
    // Third poll: standup is gone.
    script.push(snap(vec![session("retro", vec![p("dave", 0, true)])]));
    let mut s = Scene::new(100, 30, script);
    s.poll(1);
    s.poll(6);
    assert_eq!(
        s.m.selected(),
        Some("standup"),
        "the first row at the first poll"
    );
    s.key(KeyCode::Enter);
    assert_eq!(
        s.m.screen,
        Screen::Members {
            session: "standup".into()
        }
    );
    let names: Vec<&str> = s.m.members().iter().map(|m| m.name.as_str()).collect();
    assert_eq!(names, ["alice", "bob", "gus"], "oldest first");
    insta::assert_snapshot!("people_of_one_session", s.screen());
    // The session ends while we look: its last list stays, and says so.
    s.poll(8);
    assert!(
        s.screen().contains("gone from the server: its last list"),
        "{}",
        s.screen()
    );
    assert_eq!(s.m.members().len(), 3);
    s.key(KeyCode::Esc);
    assert_eq!(s.m.screen, Screen::Sessions);
    assert_eq!(s.order(), ["retro"]);
}

#[test]
fn j_asks_for_the_dashboard_on_the_selected_or_open_session() {
    let mut s = Scene::new(100, 30, busy_server());
    s.poll(1);
    assert_eq!(s.key(KeyCode::Char('j')), [Effect::Join("standup".into())]);
    s.key(KeyCode::End);
    s.key(KeyCode::Enter);
    assert_eq!(s.key(KeyCode::Char('j')), [Effect::Join("1on1".into())]);
    assert_eq!(s.key(KeyCode::Char('q')), [Effect::Quit]);
    update(
        &mut s.m,
        Msg::Returned {
            session: "1on1".into(),
            outcome: "we left or quit".into(),
        },
    );
    assert!(
        s.screen()
            .contains("back from session 1on1: we left or quit")
    );
}

#[test]
fn a_failing_source_keeps_the_last_good_table_marked_stale_with_its_age() {
    let down = || {
        Err(SourceError::Unreachable {
            url: "http://127.0.0.1:7878/api/sessions".into(),
            reason: "Connection refused (os error 111)".into(),
        })
    };
    let mut script = busy_server();
    script.truncate(1);
    script.extend([down(), down()]);
    script.push(busy_server().remove(1));
    let mut s = Scene::new(100, 30, script);
    s.poll(1);
    s.poll(3);
    assert!(matches!(s.m.health, Health::Stale { .. }));
    // Ages, once a second, with nothing else happening.
    assert_eq!(
        s.m.next_wake(),
        Some(s.t0 + Duration::from_secs(4)),
        "the header's age changes in a second"
    );
    s.at(8);
    s.poll(9);
    assert_eq!(
        s.order(),
        ["standup", "retro", "1on1"],
        "the last good table"
    );
    let screen = s.screen();
    assert!(screen.contains(" STALE "), "{screen}");
    assert!(
        screen.contains("last good poll 11:06:41 (8 s ago)"),
        "{screen}"
    );
    insta::assert_snapshot!(screen);
    let buf = s.frame();
    let y = row_of(&buf, " STALE ");
    let x = (0..buf.area.width)
        .find(|&x| buf[(x, y)].symbol() == "S")
        .unwrap();
    assert!(looks(&buf[(x, y)], Theme::colour().badge(Meaning::Error)));
    // One line in the log for the outage, not one per poll.
    let failures =
        s.m.log()
            .iter()
            .filter(|l| l.text.starts_with("poll failed"))
            .count();
    assert_eq!(failures, 1);
    s.poll(11);
    assert_eq!(s.m.health, Health::Live);
    assert!(s.screen().contains(" LIVE "));
    assert!(
        s.m.log()
            .iter()
            .any(|l| l.text == "the source answers again (failed for 8.0 s)"),
        "{:?}",
        s.m.log()
    );
    assert_eq!(s.order(), ["planning", "standup", "retro"]);
}

#[test]
fn a_source_that_never_answered_says_so_rather_than_an_empty_server() {
    let refused = Err(SourceError::Unauthorized {
        url: "http://127.0.0.1:7878/api/sessions".into(),
        status: 401,
    });
    let mut s = Scene::new(100, 30, vec![refused, snap(vec![])]);
    s.poll(1);
    s.at(4);
    let screen = s.screen();
    assert!(screen.contains(" STALE "), "{screen}");
    assert!(
        screen.contains("no good poll yet (failing for 3 s)"),
        "{screen}"
    );
    assert!(
        screen.contains("refused the admin token (HTTP 401)"),
        "{screen}"
    );
    assert!(screen.contains("no list yet"), "{screen}");
    assert!(!screen.contains("no sessions on the server"), "{screen}");
    s.poll(5);
    assert!(s.screen().contains("no sessions on the server"));
}

#[test]
fn churn_counts_only_the_last_minute() {
    let mut s = Scene::new(100, 30, busy_server());
    s.poll(1);
    s.poll(6);
    // carol and frank left, gus and planning's four joined.
    assert_eq!(s.m.churn_per_minute(), 7);
    let standup = |s: &Scene| {
        let r = s.m.rows().iter().find(|r| r.id == "standup").unwrap();
        (r.joins, r.leaves)
    };
    assert_eq!(standup(&s), (1, 1));
    assert_eq!(s.m.next_wake(), Some(s.t0 + Duration::from_secs(66)));
    s.at(65);
    assert_eq!(standup(&s), (1, 1));
    s.at(66);
    assert_eq!(standup(&s), (0, 0));
    assert_eq!(s.m.churn_per_minute(), 0);
    assert_eq!(s.m.next_wake(), None, "nothing left to age: no timer");
}

#[test]
fn a_janus_server_shows_descriptions_ids_and_what_it_does_not_say() {
    let janus = |id: &str, name: &str| Member {
        id: id.into(),
        name: name.into(),
        joined_at: None,
        connected: None,
    };
    let script = vec![snap(vec![
        Session {
            id: "1234".into(),
            description: Some("Demo Room".into()),
            members: vec![
                janus("3306934135758068", "alice"),
                janus("8136409833056606", "alice"),
                janus("42", ""),
            ],
        },
        Session {
            id: "7777".into(),
            description: Some("Hidden Room".into()),
            members: vec![],
        },
    ])];
    let mut s = Scene::with_info(80, 24, script, "ws://127.0.0.1:8188");
    s.poll(1);
    insta::assert_snapshot!("janus_rooms_at_80x24", s.screen());
    s.key(KeyCode::Enter);
    insta::assert_snapshot!("janus_room_people_at_80x24", s.screen());
}

#[test]
fn names_from_the_server_cannot_reach_the_terminal_as_escapes() {
    let script = vec![snap(vec![session(
        "evil\u{1b}[2J",
        vec![p("bob\u{7}\u{202e}", 0, true)],
    )])];
    let mut s = Scene::new(100, 30, script);
    s.poll(1);
    let screen = s.screen();
    assert!(
        !screen.contains('\u{1b}') && !screen.contains('\u{7}'),
        "{screen}"
    );
    assert!(screen.contains("evil␛[2J"), "{screen}");
    s.key(KeyCode::Enter);
    assert!(s.screen().contains("bob␇�"), "{}", s.screen());
}

#[test]
fn a_small_terminal_gets_a_notice_and_paging_stays_inside_the_list() {
    let sessions = (0..200)
        .map(|i| session(&format!("room-{i:03}"), vec![p(&format!("u{i}"), 0, true)]))
        .collect();
    let mut s = Scene::new(100, 30, vec![snap(sessions)]);
    s.poll(1);
    s.key(KeyCode::Char('1'));
    s.key(KeyCode::PageDown);
    s.key(KeyCode::PageDown);
    let page = view::body_rows(&s.m);
    assert_eq!(
        s.m.selected(),
        Some(format!("room-{:03}", 2 * page).as_str())
    );
    s.key(KeyCode::End);
    assert_eq!(s.m.selected(), Some("room-199"));
    assert!(s.screen().contains("room-199"));
    s.key(KeyCode::Home);
    assert_eq!(s.m.selected(), Some("room-000"));
    update(&mut s.m, Msg::Resize(40, 10));
    assert!(s.screen().contains("terminal too small"), "{}", s.screen());
}

//! Recording and replay: a real session against the reference server is
//! recorded and read back as the events the session gave; the fixture
//! recording (made the same way, see `record_a_call`) is replayed on
//! TestBackend at its key moments and in tmux with the keys; damaged files
//! say where they stop; and for any events, replaying the recording gives
//! the model the live dashboard had, at every step.

mod support;
mod tui_support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use calltop::event::{EventKind, LeftReason, RunInfo, ServerFacts, SessionEvent};
use calltop::record::{Reader, RecordTo, Recorder};
use calltop::server::{self, ServerConfig};
use calltop::ui::keys::Keymap;
use calltop::ui::model::{CallInfo, Model, Msg, update};
use calltop::ui::replay::{LogChange, Player, Replay, show_log};
use calltop::ui::theme::Theme;
use calltop::{CallSession, Command as Cmd, CommandError, ReconnectPolicy, SessionSettings};
use jiff::tz::TimeZone;
use proptest::prelude::*;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use support::Events;
use support::proxy::Proxy;
use tui_support::{Tmux, have_tmux};

const FIXTURE: &str = "tests/fixtures/call.ndjson";

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_calltop")
}

fn temp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("calltop-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

fn settings(url: &str, user: &str) -> SessionSettings {
    SessionSettings::builder(url, "standup", user)
        .heartbeat_interval(Duration::from_millis(400))
        .heartbeat_timeout(Duration::from_millis(1200))
        .connect_timeout(Duration::from_millis(1000))
        .reconnect(ReconnectPolicy {
            initial_delay: Duration::from_millis(50),
            max_delay: Duration::from_millis(200),
            multiplier: 2.0,
            max_attempts: 5,
            jitter: 0.0,
        })
        .build()
        .unwrap()
}

/// Time passes in a call; a recording of one shows heartbeats between the
/// moments that matter (pacing, not a wait for anything).
async fn meanwhile() {
    tokio::time::sleep(Duration::from_millis(700)).await;
}

/// A call as the issue describes it: alice joins, bob joins, carol comes
/// and goes, alice's connection drops and is restored, bob leaves, alice
/// leaves. Recorded into `path`; returns what alice's own subscriber saw.
async fn record_a_call(path: &Path) -> Vec<SessionEvent> {
    let srv = server::start(ServerConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        admin_token: Some("admin".into()),
        ..ServerConfig::default()
    })
    .await
    .unwrap();
    let proxy = Proxy::start(srv.addr).await;
    let alice = CallSession::new(settings(&proxy.ws_url(), "alice"));
    let recording = RecordTo {
        path: path.to_owned(),
        force: true,
    }
    .start(&alice)
    .await
    .unwrap();
    let mut live = Events::new(alice.subscribe().await.unwrap());
    alice.join().await.unwrap();
    live.until("idle_countdown_started").await;
    meanwhile().await;

    let bob = CallSession::new(settings(&srv.ws_url(), "bob"));
    bob.join().await.unwrap();
    live.until("idle_countdown_cancelled").await;
    meanwhile().await;
    let carol = CallSession::new(settings(&srv.ws_url(), "carol"));
    carol.join().await.unwrap();
    live.until("participant_joined").await;
    meanwhile().await;
    carol.leave().await.unwrap();
    live.until("participant_left").await;
    meanwhile().await;

    proxy.kill_all();
    live.until("connection_restored").await;
    meanwhile().await;

    bob.leave().await.unwrap();
    live.until("idle_countdown_started").await;
    meanwhile().await;
    alice.leave().await.unwrap();
    // A leave typed twice: the second is refused, and the stream says so.
    assert_eq!(alice.leave().await, Err(CommandError::AlreadyLeaving));
    live.until("session_left").await;
    alice.shutdown().await;
    recording.finish();
    bob.shutdown().await;
    carol.shutdown().await;
    srv.shutdown().await;
    live.all
}

#[tokio::test]
async fn a_recorded_call_reads_back_as_the_events_the_session_gave() {
    let path = temp("live.ndjson");
    let live = record_a_call(&path).await;
    let mut reader = Reader::open(&path).unwrap();
    let run = reader
        .run()
        .cloned()
        .expect("the first line says what was recorded");
    assert_eq!(
        (run.session.as_str(), run.user.as_str()),
        ("standup", "alice")
    );
    assert_eq!(run.calltop, env!("CARGO_PKG_VERSION"));
    assert_eq!(run.settings["heartbeat_interval_ms"], 400);
    assert_eq!(run.settings["reconnect"]["nominal_delays_ms"][1], 50);
    let recorded: Vec<SessionEvent> = reader.by_ref().map(|r| r.event).skip(1).collect();
    assert!(reader.damage().is_none(), "{:?}", reader.damage());
    assert_eq!(
        recorded, live,
        "the recording is the stream, event for event"
    );
    let names: Vec<&str> = recorded.iter().map(|e| e.kind.name()).collect();
    for expected in [
        "participant_joined",
        "participant_left",
        "connection_lost",
        "connection_restored",
        "leaving",
        "command_refused",
        "session_left",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    // Offsets only go forward, and the wall clock agrees with them.
    for w in recorded.windows(2) {
        assert!(w[0].offset <= w[1].offset, "{w:?}");
        let wall = w[1].ts.duration_since(w[0].ts).unwrap_or_default();
        let mono = w[1].offset - w[0].offset;
        assert!(wall.abs_diff(mono) <= Duration::from_millis(1), "{w:?}");
    }
    // And the whole thing passes the contract's rules, as replay --headless says.
    let out = Command::new(bin())
        .args(["replay", "--headless"])
        .arg(&path)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("connection losses: 1"), "{text}");
    assert!(text.contains("restored after"), "{text}");
    assert!(
        text.contains("session_left (user): exit status 0"),
        "{text}"
    );
    assert!(text.contains("contract violations: none"), "{text}");
    // CALLTOP_WRITE_FIXTURES=1 makes this run's recording the fixture.
    if std::env::var_os("CALLTOP_WRITE_FIXTURES").is_some() {
        std::fs::copy(&path, FIXTURE).unwrap();
    }
}

fn model_for(info: CallInfo) -> Model {
    let mut m = Model::new(
        info,
        Keymap::default(),
        Theme::plain(),
        Duration::ZERO,
        SystemTime::UNIX_EPOCH,
    );
    m.tz = TimeZone::UTC;
    m.size = (100, 30);
    m
}

fn open_fixture() -> (Replay, LogChange) {
    let (mut r, log) =
        Replay::open(Path::new(FIXTURE), Keymap::default(), Theme::plain(), 200).unwrap();
    r.player.model_mut().tz = TimeZone::UTC;
    r.player.model_mut().size = (100, 30);
    (r, log)
}

fn screen(r: &Replay) -> String {
    let mut term = Terminal::new(TestBackend::new(100, 30)).unwrap();
    term.draw(|f| calltop::ui::replay::draw(r, f)).unwrap();
    let buf = term.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_owned())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// The index of the fixture's first event named `name`.
fn find(name: &str) -> usize {
    Reader::open(Path::new(FIXTURE))
        .unwrap()
        .position(|rec| rec.event.kind.name() == name)
        .unwrap_or_else(|| panic!("{name} in the fixture"))
}

#[test]
fn the_fixture_replays_to_the_screens_of_its_key_moments() {
    let (mut r, log) = open_fixture();
    // The only test here that draws the (process-wide) log.
    show_log(log, r.player.model(), 200);
    // Opened: the last state, paused at the end.
    assert!(r.playback.paused);
    assert_eq!(r.player.position(), r.player.len());
    insta::assert_snapshot!("replay_end", screen(&r));
    for (name, moment) in [
        ("session_joined", "replay_joined"),
        ("participant_left", "replay_churn"),
        ("connection_lost", "replay_lost"),
        ("connection_restored", "replay_restored"),
        ("leaving", "replay_leaving"),
    ] {
        let at = find(name) + 1;
        let log = r.player.seek(at);
        show_log(log, r.player.model(), 200);
        let offset = r.player.offset_of(at - 1);
        r.player.tick(offset);
        r.playback.paused_at_mut(offset);
        insta::assert_snapshot!(moment, screen(&r));
    }
}

#[test]
fn jumps_land_on_the_losses_and_steps_go_one_event_each_way() {
    let (mut r, _) = open_fixture();
    let lost = find("connection_lost");
    let now = std::time::Instant::now();
    r.control(calltop::ui::replay::Control::Start, now);
    assert_eq!(r.player.position(), 0);
    r.control(calltop::ui::replay::Control::NextLoss, now);
    assert_eq!(r.player.position(), lost + 1);
    assert_eq!(r.player.model().status.label(), "RECONNECTING");
    r.control(calltop::ui::replay::Control::StepForward, now);
    assert_eq!(r.player.position(), lost + 2);
    r.control(calltop::ui::replay::Control::StepBack, now);
    r.control(calltop::ui::replay::Control::StepBack, now);
    assert_eq!(r.player.position(), lost);
    assert_eq!(r.player.model().status.label(), "JOINED");
    r.control(calltop::ui::replay::Control::NextLoss, now);
    r.control(calltop::ui::replay::Control::NextLoss, now);
    assert_eq!(r.player.position(), lost + 1, "one loss: nowhere further");
    assert_eq!(
        r.player.model().notice.as_ref().map(|n| n.1.as_str()),
        Some("no connection loss after this")
    );
    r.control(calltop::ui::replay::Control::End, now);
    assert_eq!(r.player.model().status.label(), "LEFT");
}

#[test]
fn playing_at_a_speed_reaches_the_end_in_that_fraction_of_the_time() {
    let (mut r, _) = open_fixture();
    let t0 = std::time::Instant::now();
    r.control(calltop::ui::replay::Control::Start, t0);
    r.control(calltop::ui::replay::Control::Speed(256), t0);
    r.control(calltop::ui::replay::Control::PlayPause, t0);
    assert!(!r.playback.paused);
    let duration = r.player.duration();
    // Half way, at ×256, is duration/512 of real time in.
    r.advance(t0 + duration / 512);
    let half = r.player.position();
    assert!(half > 0 && half < r.player.len(), "{half}");
    r.advance(t0 + duration / 256 + Duration::from_millis(1));
    assert_eq!(r.player.position(), r.player.len());
    assert!(r.playback.paused, "stops at the end");
}

fn run_replay_headless(path: &Path) -> (Option<i32>, String, String) {
    let out = Command::new(bin())
        .args(["replay", "--headless"])
        .arg(path)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn damaged_recordings_replay_up_to_the_damage_and_say_where() {
    let text = std::fs::read_to_string(FIXTURE).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    // Cut off in the middle of the last line: a recorder killed mid-write.
    let cut = temp("cut.ndjson");
    let keep = text.len() - lines.last().unwrap().len() / 2 - 1;
    std::fs::write(&cut, &text[..keep]).unwrap();
    let (code, out, err) = run_replay_headless(&cut);
    assert_eq!(code, Some(7), "{out}{err}");
    let byte = text.len() - lines.last().unwrap().len() - 1;
    let want = format!(
        "line {} (byte {byte}): the last line is cut off",
        lines.len()
    );
    assert!(out.contains(&want), "{want} in {out}");
    assert!(err.contains(&want), "{err}");
    // A line in the middle made into garbage: everything before it counts.
    let bad = temp("bad.ndjson");
    let mut broken: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
    broken[5] = "{\"ts\": \"2026-01-01T00:00:00Z\", \"event\": \"teleported\"}".into();
    std::fs::write(&bad, broken.join("\n")).unwrap();
    let (code, out, _) = run_replay_headless(&bad);
    assert_eq!(code, Some(7), "{out}");
    assert!(out.contains("stopped at line 6 (byte"), "{out}");
    assert!(out.contains("unknown variant `teleported`"), "{out}");
    let (player, _) = Player::open(&bad, |_| model_for(info()), 10).unwrap();
    assert_eq!(player.len(), 5);
    assert_eq!(player.damage().map(|d| d.line), Some(6));
    // Not a recording at all: refused, before any terminal is touched.
    for (name, content, says) in [
        ("empty.ndjson", "", "is empty"),
        (
            "notes.txt",
            "call notes\nbob was late\n",
            "is not a calltop recording: line 1",
        ),
        (
            "image.png",
            "\u{89}PNG\r\n\u{1a}\n",
            "is not a calltop recording: line 1",
        ),
    ] {
        let p = temp(name);
        std::fs::write(&p, content).unwrap();
        for args in [&["replay", "--headless"][..], &["replay"][..]] {
            let out = Command::new(bin()).args(args).arg(&p).output().unwrap();
            let err = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(2), "{args:?} {name}: {err}");
            assert!(err.contains(says), "{args:?} {name}: {err}");
        }
    }
    let (code, _, err) = run_replay_headless(Path::new("/nonexistent/rec.ndjson"));
    assert_eq!(code, Some(2));
    assert!(err.contains("cannot read /nonexistent/rec.ndjson"), "{err}");
}

#[test]
fn record_refuses_to_replace_a_file_without_force_and_headless_output_is_a_recording() {
    let existing = temp("existing.ndjson");
    std::fs::write(&existing, "keep me\n").unwrap();
    let out = Command::new(bin())
        .args(["--headless", "--idle-timeout", "1", "--record"])
        .arg(&existing)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("already exists: pass --force to overwrite it"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep me\n");

    let out = Command::new(bin())
        .args(["--headless", "--idle-timeout", "1", "--force", "--record"])
        .arg(&existing)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3), "the idle timeout ends it");
    let printed = temp("printed.ndjson");
    std::fs::write(&printed, &out.stdout).unwrap();
    for file in [&printed, &existing] {
        let (code, text, err) = run_replay_headless(file);
        assert_eq!(code, Some(0), "{text}{err}");
        assert!(text.contains("session_timed_out"), "{text}");
        assert!(text.contains("exit status 3"), "{text}");
        assert!(text.contains("read: the whole file"), "{text}");
    }
    let recorded = std::fs::read_to_string(&existing).unwrap();
    assert!(recorded.starts_with("{\"ts\":"), "{recorded}");
    assert!(
        recorded
            .lines()
            .next()
            .unwrap()
            .contains("\"event\":\"run_started\"")
    );
}

#[test]
fn the_replay_in_a_terminal_answers_its_keys() {
    if !have_tmux("the_replay_in_a_terminal_answers_its_keys") {
        return;
    }
    let t = Tmux::start(
        "replay",
        100,
        30,
        &[
            "env".into(),
            "TZ=UTC".into(),
            bin().into(),
            "replay".into(),
            FIXTURE.into(),
        ],
    );
    let pid = t.pid();
    let s = t.wait_for("REPLAY");
    assert!(s.contains("LEFT"), "{s}");
    let events = Reader::open(Path::new(FIXTURE)).unwrap().count();
    assert!(s.contains(&format!("event {events}/{events}")), "{s}");
    t.keys("Home");
    t.wait_for("event 0/");
    t.keys("n");
    let s = t.wait_for("RECONNECTING");
    assert!(s.contains("connection lost"), "{s}");
    t.keys("l");
    t.wait_for("a replay cannot act on the call it shows");
    assert!(t.screen().contains("RECONNECTING"), "nothing left the call");
    t.keys("End");
    t.wait_for("LEFT");
    // Play from the start at ×256: it gets to the end by itself.
    t.keys("Home");
    t.wait_for("event 0/");
    t.keys("9");
    t.keys("Space");
    t.wait(&format!("playing to event {events}/{events}"), |s| {
        s.contains(&format!("event {events}/{events}")) && s.contains("LEFT")
    });
    t.keys("q");
    assert_eq!(t.wait_exit(pid), 0);
}

fn info() -> CallInfo {
    CallInfo {
        session: "standup".into(),
        user: "alice".into(),
        server: "ws://127.0.0.1:7878/ws".into(),
        backend: "calltop".into(),
        banner: None,
    }
}

/// Everything the model knows about the call (its UI-only parts aside).
fn state(m: &Model) -> String {
    format!(
        "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
        m.rtt_live,
        m.status,
        m.now,
        m.wall,
        m.call_start,
        m.participants,
        m.facts,
        m.rtt,
        m.lost_count,
        m.last_downtime,
        m.last_error,
        m.idle,
        m.notice,
    )
}

fn any_kind() -> impl Strategy<Value = EventKind> {
    let name = "[a-z]{1,3}|[\\u{0}-\\u{ff}]{0,4}";
    let ms = (0u64..100_000).prop_map(Duration::from_millis);
    prop_oneof![
        (1u32..5).prop_map(|attempt| EventKind::Connecting { attempt }),
        (0usize..4).prop_map(|participants| EventKind::SessionJoined { participants }),
        prop_oneof![
            Just(LeftReason::User),
            Just(LeftReason::Removed),
            Just(LeftReason::Ended)
        ]
        .prop_map(|reason| EventKind::SessionLeft { reason }),
        (0u64..600).prop_map(|s| EventKind::SessionTimedOut {
            idle_timeout: Duration::from_secs(s)
        }),
        name.prop_map(|reason| EventKind::ConnectionLost {
            reason,
            injected: false
        }),
        (any::<bool>(), ms.clone(), 1u32..5).prop_map(|(resumed, downtime, attempts)| {
            EventKind::ConnectionRestored {
                resumed,
                downtime,
                attempts,
            }
        }),
        name.prop_map(|reason| EventKind::ConnectionClosed { reason }),
        (1u32..5, 5u32..10, ms.clone()).prop_map(|(attempt, max, delay)| {
            EventKind::ReconnectAttempt {
                attempt,
                max,
                delay,
                last_error: None,
            }
        }),
        (name, "[a-c]", proptest::option::of(0u64..2_000_000_000_000)).prop_map(
            |(user, id, at)| EventKind::ParticipantJoined {
                user,
                id,
                joined_at: at.map(|ms| SystemTime::UNIX_EPOCH + Duration::from_millis(ms)),
            }
        ),
        (name, "[a-c]").prop_map(|(user, id)| EventKind::ParticipantLeft { user, id }),
        (name, "[a-c]", name).prop_map(|(user, id, previous)| EventKind::ParticipantRenamed {
            user,
            id,
            previous
        }),
        (
            proptest::option::of(name),
            proptest::option::of(0u64..100_000)
        )
            .prop_map(|(server, w)| EventKind::ServerInfo(ServerFacts {
                server,
                resume_window: w.map(Duration::from_millis),
                ..ServerFacts::default()
            })),
        (0u64..600).prop_map(|s| EventKind::IdleCountdownStarted {
            timeout: Duration::from_secs(s)
        }),
        Just(EventKind::IdleCountdownCancelled),
        (0u64..5_000_000).prop_map(|us| EventKind::Heartbeat {
            rtt: Duration::from_micros(us)
        }),
        name.prop_map(|message| EventKind::Error { message }),
        any::<bool>().prop_map(|rejoin| EventKind::Leaving { rejoin }),
        prop_oneof![Just(Cmd::Join), Just(Cmd::Leave), Just(Cmd::ReconnectNow)].prop_map(
            |command| EventKind::CommandRefused {
                command,
                reason: CommandError::NotInSession,
            }
        ),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Recorded, then replayed: at every step the replay's model is the one
    /// the live dashboard had after the same events.
    #[test]
    fn record_then_replay_gives_the_live_model_at_every_step(
        steps in proptest::collection::vec((0u64..5_000_000, any_kind()), 1..40),
    ) {
        let start = SystemTime::UNIX_EPOCH + Duration::from_millis(1_795_000_000_000);
        let mut t = Duration::ZERO;
        let events: Vec<SessionEvent> = steps
            .into_iter()
            .map(|(dt_us, kind)| {
                t += Duration::from_micros(dt_us);
                SessionEvent::new(start + t, t, kind)
            })
            .collect();
        let mut live = model_for(info());
        // The live dashboard's first tick, at the start of the run.
        update(&mut live, Msg::Tick { now: Duration::ZERO, wall: start });
        let mut states = vec![state(&live)];
        for ev in &events {
            update(&mut live, Msg::Tick { now: ev.offset, wall: ev.ts });
            update(&mut live, Msg::Event(ev.clone()));
            states.push(state(&live));
        }
        let path = temp(&format!("prop-{}.ndjson", std::thread::current().name().unwrap_or("t").replace("::", "-")));
        let header = SessionEvent::new(start, Duration::ZERO, EventKind::RunStarted {
            run: RunInfo::of(&SessionSettings::builder("ws://127.0.0.1:7878/ws", "standup", "alice").build().unwrap()),
        });
        let mut rec = Recorder::create(&path, true, &header).unwrap();
        rec.write(&events).unwrap();
        drop(rec);
        let (mut player, _) = Player::open(&path, |_| model_for(info()), 50).unwrap();
        prop_assert_eq!(player.len(), events.len() + 1);
        // Forwards, then backwards, then in a jumble: each position alike.
        let n = events.len();
        let order: Vec<usize> = (0..=n).chain((0..=n).rev()).chain((0..=n).map(|i| (i * 7) % (n + 1))).collect();
        for i in order {
            player.seek(i + 1);
            let live_state = &states[i];
            prop_assert_eq!(&state(player.model()), live_state, "after {} events", i);
        }
    }
}

#[test]
fn a_recording_killed_mid_call_ends_with_a_whole_line_and_replays() {
    let path = temp("killed.ndjson");
    let mut child = Command::new(bin())
        .args(["--headless", "--verbose", "--record"])
        .arg(&path)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Until the recording has the join and a heartbeat or two behind it.
    tui_support::eventually("a heartbeat in the recording", || {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if text.contains("\"event\":\"heartbeat\"") {
            Ok(())
        } else {
            Err(text)
        }
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.ends_with('\n'), "{text}");
    let (code, out, err) = run_replay_headless(&path);
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("read: the whole file"), "{out}");
    assert!(
        out.contains("none: the recording ends with the run still going"),
        "{out}"
    );
}

#[test]
fn replay_headless_names_each_broken_rule_in_ndjson_written_by_hand() {
    // Another tool's output in the contract's shape: no t_ms, no run_started.
    let at = |s: u32| format!("2026-01-01T00:00:{s:02}.000Z");
    let lines = [
        format!(r#"{{"ts":"{}","event":"connecting","attempt":1}}"#, at(0)),
        format!(
            r#"{{"ts":"{}","event":"participant_joined","user":"bob","id":"bob"}}"#,
            at(1)
        ),
        format!(
            r#"{{"ts":"{}","event":"session_joined","participants":0}}"#,
            at(1)
        ),
        format!(
            r#"{{"ts":"{}","event":"connection_restored","resumed":true,"downtime_ms":5,"attempts":1}}"#,
            at(2)
        ),
        format!(
            r#"{{"ts":"{}","event":"connection_lost","reason":"cut"}}"#,
            at(3)
        ),
        // Twenty seconds with no retry and no resolution.
        format!(
            r#"{{"ts":"{}","event":"session_left","reason":"user"}}"#,
            at(23)
        ),
        format!(
            r#"{{"ts":"{}","event":"session_left","reason":"user"}}"#,
            at(24)
        ),
        format!(r#"{{"ts":"{}","event":"heartbeat","rtt_ms":3}}"#, at(25)),
    ];
    let path = temp("by-hand.ndjson");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (code, out, err) = run_replay_headless(&path);
    assert_eq!(code, Some(6), "{out}{err}");
    assert!(out.contains("contract violations: 5"), "{out}");
    // The dashboard's replay finds the same five, counted in its header.
    let (mut player, _) = Player::open(&path, |_| model_for(info()), 10).unwrap();
    assert_eq!(player.model().violations, 5);
    // Back and forth, they are counted again from the events, not twice.
    player.seek(3);
    assert_eq!(player.model().violations, 1);
    player.seek(player.len());
    assert_eq!(player.model().violations, 5);
    for rule in [
        "a participant event outside a session: participant_joined at 1.000 s",
        "rule 3: connection_restored without a connection_lost before it",
        "rule 2: a connection_lost neither resolved nor retried within the reconnect schedule: connection_lost at 3.000 s",
        "rule 1: a terminal event outside a join attempt (a second terminal event?): session_left at 23.000 s then session_left at 24.000 s",
        "rule 1: a session-scoped event after the terminal event",
    ] {
        assert!(out.contains(rule), "{rule:?} in {out}");
    }
}

#[test]
fn a_break_the_live_check_recorded_is_listed_once() {
    let at = |s: u32| format!("2026-01-01T00:00:{s:02}.000Z");
    let lines = [
        format!(
            r#"{{"ts":"{}","t_ms":0,"event":"connecting","attempt":1}}"#,
            at(0)
        ),
        format!(
            r#"{{"ts":"{}","t_ms":1000,"event":"session_joined","participants":0}}"#,
            at(1)
        ),
        format!(
            r#"{{"ts":"{}","t_ms":2000,"event":"connection_restored","resumed":true,"downtime_ms":5,"attempts":1}}"#,
            at(2)
        ),
        format!(
            r#"{{"ts":"{}","t_ms":2000,"event":"contract_violation","rule":"restore_follows_loss","message":"m","events":[{{"event":"connection_restored","t_ms":2000}}],"recent":[]}}"#,
            at(2)
        ),
        format!(
            r#"{{"ts":"{}","t_ms":3000,"event":"session_left","reason":"user"}}"#,
            at(3)
        ),
    ];
    let path = temp("recorded-break.ndjson");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let (code, out, err) = run_replay_headless(&path);
    assert_eq!(code, Some(6), "{out}{err}");
    assert!(
        out.contains("contract violations: 1 (1 recorded by the run's own check)"),
        "{out}"
    );
    let (player, _) = Player::open(&path, |_| model_for(info()), 10).unwrap();
    assert_eq!(player.model().violations, 1, "shown once");
}

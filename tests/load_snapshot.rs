//! The `calltop load` screen on ratatui's TestBackend, fed through the same
//! `update` the app uses: mid-run with churn and faults (counts, latency
//! percentiles, a sparkline per quantity), a run with a violation (shown in
//! the error colour), and a terminal too small for it.

use std::time::Duration;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;

use calltop::load::fleet::Counts;
use calltop::load::model::{LoadInfo, LoadModel, Msg, Progress, Stage, update};
use calltop::load::plan::{Plan, Rate};
use calltop::load::stats::Stats;
use calltop::load::view;
use calltop::ui::theme::{Meaning, Theme};

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

fn model(theme: Theme) -> LoadModel {
    let mut plan = Plan::new(100, 20, Rate(2000.0), Duration::from_secs(60)).unwrap();
    plan.churn = Rate(5.0);
    plan.drop = Rate(2.0);
    plan.stall = Rate(0.5);
    LoadModel::new(
        LoadInfo {
            server: "ws://127.0.0.1:7878/ws".into(),
            backend: "calltop",
            plan,
        },
        theme,
    )
}

/// Twelve seconds of a ramp to 2,000 and a steady run after it.
fn progress(violations: u64) -> Progress {
    let mut stats = Stats::default();
    for second in 0..12u64 {
        let joined = (second as usize * 400).min(2000);
        for i in 0..50 {
            stats
                .join
                .record(Duration::from_micros(1_500 + second * 300 + i * 20));
            stats
                .rtt
                .record(Duration::from_micros(300 + (second % 4) * 60 + i));
        }
        stats.events += 2_000 + second * 150;
        if second == 9 {
            stats.violations = violations;
        }
        stats.second(joined);
    }
    Progress {
        stage: Stage::Running {
            left: Duration::from_secs(48),
        },
        elapsed_s: 12,
        counts: Counts {
            planned: 2000,
            started: 2000,
            connecting: 3,
            joined: 1992,
            reconnecting: 4,
            leaving: 1,
            closed: 0,
        },
        join: stats.join.percentiles(),
        rtt: stats.rtt.percentiles(),
        events_per_s: stats.history.events_per_s.latest().unwrap(),
        violations: stats.violations,
        history: stats.history,
    }
}

fn draw(m: &LoadModel, w: u16, h: u16) -> Buffer {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::view(m, f)).unwrap();
    t.backend().buffer().clone()
}

fn row_of(buf: &Buffer, needle: &str) -> u16 {
    (0..buf.area.height)
        .find(|&y| {
            let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            line.contains(needle)
        })
        .unwrap_or_else(|| panic!("{needle:?} not on screen:\n{}", text(buf)))
}

#[test]
fn mid_run_counts_latencies_and_a_sparkline_per_quantity() {
    let mut m = model(Theme::plain());
    update(&mut m, Msg::Resize(100, 24));
    assert!(update(&mut m, Msg::Progress(Box::new(progress(0)))).redraw);
    insta::assert_snapshot!("load_running_100x24", text(&draw(&m, 100, 24)));
}

#[test]
fn a_violation_is_counted_in_the_error_colour() {
    let theme = Theme::colour();
    let mut m = model(theme);
    update(&mut m, Msg::Progress(Box::new(progress(2))));
    let buf = draw(&m, 100, 24);
    let y = row_of(&buf, "violations ");
    let x = (0..buf.area.width)
        .find(|&x| buf[(x, y)].symbol() == "2")
        .expect("the count is on its row");
    assert_eq!(
        Some(buf[(x, y)].fg),
        theme.style(Meaning::Error).fg,
        "{}",
        text(&buf)
    );
    // The sparkline steps up where the violations came.
    let spark: String = (x + 1..buf.area.width)
        .map(|x| buf[(x, y)].symbol())
        .collect();
    assert!(spark.contains('█'), "{spark:?}");
}

#[test]
fn a_terminal_too_small_says_so_instead() {
    let mut m = model(Theme::plain());
    update(&mut m, Msg::Progress(Box::new(progress(0))));
    let t = text(&draw(&m, 50, 10));
    assert!(t.contains("terminal too small: 50x10 (needs 60x18)"), "{t}");
}

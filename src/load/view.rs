//! Draws the load screen: `view(&LoadModel, &mut Frame)`, read-only.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Padding, Paragraph, Sparkline};

use super::model::{LoadModel, Progress, Stage};
use super::summary::{percentiles, us};
use crate::ui::theme::{Meaning, Theme};
use crate::ui::width::fit_middle;

/// Smaller than this shows a notice instead.
pub const MIN_SIZE: (u16, u16) = (60, 18);

const LABEL: u16 = 15;
const VALUE: u16 = 11;

pub fn view(m: &LoadModel, f: &mut Frame) {
    let area = f.area();
    let t = &m.theme;
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        f.render_widget(
            Paragraph::new(format!(
                "terminal too small: {}x{} (needs {}x{})",
                area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
            ))
            .style(t.style(Meaning::Warn)),
            area,
        );
        return;
    }
    let [header, plan, counts, latency, history, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(3),
        Constraint::Length(4),
        Constraint::Min(7),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(m, f, header);
    f.render_widget(
        Paragraph::new(plan_line(m)).style(t.style(Meaning::Muted)),
        plan,
    );
    let Some(p) = &m.progress else {
        f.render_widget(
            Paragraph::new(" starting…").style(t.style(Meaning::Muted)),
            counts,
        );
        draw_footer(m, f, footer);
        return;
    };
    draw_counts(t, p, f, counts);
    draw_latency(t, p, f, latency);
    draw_history(t, p, f, history);
    draw_footer(m, f, footer);
}

fn block<'a>(t: &Theme, title: &'a str) -> Block<'a> {
    Block::bordered()
        .padding(Padding::horizontal(1))
        .border_style(t.style(Meaning::Muted))
        .title(Span::styled(
            format!(" {title} "),
            t.strong(Meaning::Accent),
        ))
}

fn draw_header(m: &LoadModel, f: &mut Frame, area: Rect) {
    let t = &m.theme;
    let (stage, elapsed) = match &m.progress {
        Some(p) => (p.stage, p.elapsed_s),
        None => (Stage::Ramping, 0),
    };
    let meaning = match stage {
        Stage::Ramping => Meaning::Accent,
        Stage::Running { .. } => Meaning::Ok,
        Stage::Settling | Stage::Checking | Stage::Leaving => Meaning::Warn,
    };
    let clock = format!("{:02}:{:02}", elapsed / 60, elapsed % 60);
    let mut spans = vec![
        Span::styled(" calltop load ", t.strong(Meaning::Accent)),
        Span::raw(" "),
        Span::styled(format!(" {} ", stage.words()), t.badge(meaning)),
        Span::raw("  "),
    ];
    if let Stage::Running { left } = stage {
        spans.push(Span::styled(
            format!("{} s left · ", left.as_secs()),
            t.style(Meaning::Muted),
        ));
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let rest = format!("{} · {clock}", m.info.backend);
    let room = (area.width as usize).saturating_sub(used + rest.len() + 4);
    spans.push(Span::styled(
        fit_middle(&m.info.server, room),
        t.style(Meaning::Text),
    ));
    spans.push(Span::styled(format!(" · {rest}"), t.style(Meaning::Muted)));
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn plan_line(m: &LoadModel) -> String {
    let p = &m.info.plan;
    format!(
        " {} sessions × {} = {} · ramp {} · run {} s · churn {} · drop {} · stall {}",
        p.sessions,
        p.per_session,
        p.participants(),
        p.ramp,
        p.duration.as_secs(),
        p.churn,
        p.drop,
        p.stall
    )
}

fn draw_counts(t: &Theme, p: &Progress, f: &mut Frame, area: Rect) {
    let c = &p.counts;
    let count = |label: &str, n: usize, bad: Meaning| {
        let meaning = if n == 0 { Meaning::Muted } else { bad };
        [
            Span::styled(format!("{label} "), t.style(Meaning::Muted)),
            Span::styled(n.to_string(), t.strong(meaning)),
        ]
    };
    let all_in = c.joined == c.planned;
    let mut spans = vec![
        Span::styled("joined ", t.style(Meaning::Muted)),
        Span::styled(
            c.joined.to_string(),
            t.strong(if all_in { Meaning::Ok } else { Meaning::Text }),
        ),
        Span::styled(
            format!(" of {} (started {})", c.planned, c.started),
            t.style(Meaning::Muted),
        ),
    ];
    for (label, n, bad) in [
        ("connecting", c.connecting, Meaning::Text),
        ("reconnecting", c.reconnecting, Meaning::Warn),
        ("leaving", c.leaving, Meaning::Text),
        ("closed", c.closed, Meaning::Error),
    ] {
        spans.push(Span::styled(" · ", t.style(Meaning::Muted)));
        spans.extend(count(label, n, bad));
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).block(block(t, "Participants")),
        area,
    );
}

fn draw_latency(t: &Theme, p: &Progress, f: &mut Frame, area: Rect) {
    let row = |label: &str, v: String| {
        Line::from(vec![
            Span::styled(
                format!("{label:<w$}", w = LABEL as usize),
                t.style(Meaning::Muted),
            ),
            Span::styled(v, t.style(Meaning::Text)),
        ])
    };
    f.render_widget(
        Paragraph::new(vec![
            row("join", percentiles(&p.join)),
            row("heartbeat rtt", percentiles(&p.rtt)),
        ])
        .block(block(t, "Latency, whole run")),
        area,
    );
}

fn draw_history(t: &Theme, p: &Progress, f: &mut Frame, area: Rect) {
    let b = block(t, "Over time, a column a second");
    let inner = b.inner(area);
    f.render_widget(b, area);
    let h = &p.history;
    let violations = if p.violations == 0 {
        Meaning::Ok
    } else {
        Meaning::Error
    };
    let rows: [(&str, String, &super::stats::Series, Meaning); 5] = [
        (
            "joined",
            p.counts.joined.to_string(),
            &h.joined,
            Meaning::Ok,
        ),
        (
            "join p99",
            h.join_p99_us.latest().map(us).unwrap_or_default(),
            &h.join_p99_us,
            Meaning::Accent,
        ),
        (
            "rtt p99",
            h.rtt_p99_us.latest().map(us).unwrap_or_default(),
            &h.rtt_p99_us,
            Meaning::Accent,
        ),
        (
            "events/s",
            p.events_per_s.to_string(),
            &h.events_per_s,
            Meaning::Accent,
        ),
        (
            "violations",
            p.violations.to_string(),
            &h.violations,
            violations,
        ),
    ];
    // Taller sparklines where the screen has the rows: steps read better.
    let height = (inner.height / 5).clamp(1, 3);
    let areas = Layout::vertical([Constraint::Length(height); 5]).split(inner);
    for ((label, value, series, meaning), row) in rows.into_iter().zip(areas.iter()) {
        let [l, v, s] = Layout::horizontal([
            Constraint::Length(LABEL),
            Constraint::Length(VALUE),
            Constraint::Min(1),
        ])
        .areas(*row);
        // Label and value on the sparkline's bottom row, beside its baseline.
        let bottom = |r: Rect| Rect::new(r.x, r.y + r.height.saturating_sub(1), r.width, 1);
        let (l, v) = (bottom(l), bottom(v));
        f.render_widget(Paragraph::new(label).style(t.style(Meaning::Muted)), l);
        f.render_widget(Paragraph::new(value).style(t.strong(meaning)), v);
        let data = series.last(s.width as usize);
        f.render_widget(Sparkline::default().data(&data).style(t.style(meaning)), s);
    }
}

fn draw_footer(m: &LoadModel, f: &mut Frame, area: Rect) {
    let t = &m.theme;
    let line = if m.stopping {
        Line::from(Span::styled(
            " stopping: settling, then the roster check and the summary",
            t.style(Meaning::Warn),
        ))
    } else {
        Line::from(vec![
            Span::styled(" q", t.strong(Meaning::Accent)),
            Span::styled(
                " stop now (settle, check the rosters, print the summary)",
                t.style(Meaning::Muted),
            ),
        ])
    };
    f.render_widget(Paragraph::new(line), area);
}

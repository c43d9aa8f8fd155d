//! Draws `top`: `view(&TopModel, &mut Frame)`, read-only. Only the rows in
//! sight are laid out, so a table of 5,000 sessions costs what 50 do.

use std::time::SystemTime;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::model::{Health, Screen, TopModel};
use super::table::{Column, Row};
use crate::ui::fmt;
use crate::ui::sanitize::clean;
use crate::ui::theme::{Meaning, Theme};
use crate::ui::width::{cols, fit, fit_middle, fit_words, pad};

/// Smaller than this shows a notice instead.
pub const MIN_SIZE: (u16, u16) = (60, 12);

/// Where each part goes.
pub struct Areas {
    pub header: Rect,
    pub body: Rect,
    pub log: Rect,
    pub footer: Rect,
}

fn header_rows(m: &TopModel) -> u16 {
    if matches!(m.health, Health::Stale { .. }) {
        3
    } else {
        2
    }
}

pub fn areas(m: &TopModel, area: Rect) -> Areas {
    let log = (area.height / 3).clamp(5, 16);
    let [header, body, log, footer] = Layout::vertical([
        Constraint::Length(header_rows(m)),
        Constraint::Min(4),
        Constraint::Length(log),
        Constraint::Length(1),
    ])
    .areas(area);
    Areas {
        header,
        body,
        log,
        footer,
    }
}

/// Rows of the table's body (inside its border, under its heading), for paging.
pub fn body_rows(m: &TopModel) -> usize {
    let (w, h) = m.size;
    areas(m, Rect::new(0, 0, w, h))
        .body
        .height
        .saturating_sub(3) as usize
}

pub fn view(m: &TopModel, frame: &mut Frame) {
    let area = frame.area();
    let t = &m.theme;
    if area.width < MIN_SIZE.0 || area.height < MIN_SIZE.1 {
        let text = format!(
            "terminal too small: {}x{} (calltop top needs {}x{})",
            area.width, area.height, MIN_SIZE.0, MIN_SIZE.1
        );
        frame.render_widget(
            Paragraph::new(fit_words(&text, area.width as usize)).style(t.style(Meaning::Warn)),
            area,
        );
        return;
    }
    let a = areas(m, area);
    header(m, frame, a.header);
    match &m.screen {
        Screen::Sessions => sessions(m, frame, a.body),
        Screen::Members { session } => members(m, frame, a.body, session),
    }
    log(m, frame, a.log);
    footer(m, frame, a.footer);
}

fn panel<'a>(t: &Theme, title: Vec<Span<'a>>) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(t.style(Meaning::Muted))
        .title(Line::from(title))
}

fn header(m: &TopModel, frame: &mut Frame, area: Rect) {
    let t = &m.theme;
    let w = area.width as usize;
    let (badge, meaning) = match &m.health {
        Health::Waiting => (" WAITING ", Meaning::Muted),
        Health::Live => (" LIVE ", Meaning::Ok),
        Health::Stale { .. } => (" STALE ", Meaning::Error),
    };
    let title = " calltop top ";
    let rest = format!(
        "  {} · {} · every {}",
        m.info.server,
        m.info.source,
        fmt::setting(m.info.interval)
    );
    let room = w.saturating_sub(cols(title) + cols(badge));
    let mut lines = vec![Line::from(vec![
        Span::styled(title, t.strong(Meaning::Accent)),
        Span::styled(badge, t.badge(meaning)),
        Span::styled(fit(&rest, room), t.style(Meaning::Muted)),
    ])];
    let snap = m.snapshot();
    let mut stats = format!(
        " {} sessions · {} participants · churn {}/min",
        snap.sessions().len(),
        snap.participants(),
        m.churn_per_minute()
    );
    match (&m.health, m.last_good) {
        (Health::Waiting, _) => stats = " first poll on its way…".to_owned(),
        (Health::Live, Some((_, wall, took))) => stats.push_str(&format!(
            " · poll {} at {}",
            poll_time(took),
            fmt::time_of_day(wall, &m.tz)
        )),
        (Health::Stale { .. }, Some((at, wall, _))) => stats.push_str(&format!(
            " · last good poll {} ({} ago)",
            fmt::time_of_day(wall, &m.tz),
            age(m.now.saturating_duration_since(at))
        )),
        (Health::Stale { since, .. }, None) => {
            stats = format!(
                " no good poll yet (failing for {})",
                age(m.now.saturating_duration_since(*since))
            )
        }
        (Health::Live, None) => {}
    }
    lines.push(Line::styled(fit(&stats, w), t.style(Meaning::Text)));
    if let Health::Stale { error, .. } = &m.health {
        let text = format!(" ✗ {}", clean(error));
        lines.push(Line::styled(fit(&text, w), t.style(Meaning::Error)));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// An age in whole seconds: it goes up once a second, as the screen does.
fn age(d: std::time::Duration) -> String {
    let s = d.as_secs();
    if s < 60 {
        format!("{s} s")
    } else {
        fmt::human(std::time::Duration::from_secs(s))
    }
}

fn poll_time(d: std::time::Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 10.0 {
        format!("{ms:.1} ms")
    } else {
        format!("{ms:.0} ms")
    }
}

/// The columns shown: description only where some session has one.
fn columns(m: &TopModel) -> Vec<Column> {
    Column::ALL
        .into_iter()
        .filter(|c| *c != Column::Description || m.described())
        .collect()
}

fn width_of(c: Column) -> Constraint {
    match c {
        Column::Session => Constraint::Fill(2),
        // Each as wide as its heading and the sort mark.
        Column::Participants => Constraint::Length(7),
        Column::OldestJoin => Constraint::Length(12),
        Column::Joins => Constraint::Length(6),
        Column::Leaves => Constraint::Length(7),
        Column::NotConnected => Constraint::Length(5),
        Column::Description => Constraint::Fill(3),
    }
}

/// Column widths across `width`, one space apart.
fn widths(cols: &[Constraint], width: u16) -> Vec<usize> {
    Layout::horizontal(cols.to_vec())
        .spacing(1)
        .split(Rect::new(0, 0, width, 1))
        .iter()
        .map(|r| r.width as usize)
        .collect()
}

/// A cell: text fitted to its column, left or right aligned.
fn cell<'a>(text: &str, width: usize, right: bool, style: Style) -> Vec<Span<'a>> {
    let text = fit(text, width);
    let gap = pad(&text, width);
    if right {
        vec![Span::raw(gap), Span::styled(text, style)]
    } else {
        vec![Span::styled(text, style), Span::raw(gap)]
    }
}

fn line_of(cells: Vec<Vec<Span<'static>>>) -> Line<'static> {
    let mut spans = Vec::new();
    for (i, c) in cells.into_iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw(" "));
        }
        spans.extend(c);
    }
    Line::from(spans)
}

fn right_aligned(c: Column) -> bool {
    matches!(
        c,
        Column::Participants | Column::Joins | Column::Leaves | Column::NotConnected
    )
}

fn sessions(m: &TopModel, frame: &mut Frame, area: Rect) {
    let t = &m.theme;
    let total = m.rows().len();
    let shown = m.visible().len();
    let mut title = vec![Span::styled(" Sessions ", t.strong(Meaning::Accent))];
    let count = if m.filter.is_empty() {
        format!("({total}) ")
    } else {
        format!("({shown} of {total} match {:?}) ", clean(m.filter.text()))
    };
    title.push(Span::styled(count, t.style(Meaning::Muted)));
    title.push(Span::styled(
        "· joins and leaves: the last minute ",
        t.style(Meaning::Muted),
    ));
    let block = panel(t, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let shown_cols = columns(m);
    let constraints: Vec<Constraint> = shown_cols.iter().map(|c| width_of(*c)).collect();
    let w = widths(&constraints, inner.width);
    let heading: Vec<Vec<Span>> = shown_cols
        .iter()
        .zip(&w)
        .map(|(c, w)| {
            let mark = if m.sort.column == *c {
                if m.sort.descending { "▼" } else { "▲" }
            } else {
                ""
            };
            let text = format!("{}{mark}", c.title());
            let style = if m.sort.column == *c {
                t.strong(Meaning::Accent)
            } else {
                t.strong(Meaning::Muted)
            };
            cell(&text, *w, right_aligned(*c), style)
        })
        .collect();
    let mut lines = vec![line_of(heading)];
    let height = inner.height.saturating_sub(1) as usize;
    if total == 0 {
        // Before any good poll there is no list to be empty.
        let text = match (&m.health, m.last_good) {
            (Health::Waiting, _) => "",
            (_, None) => "no list yet",
            _ => "no sessions on the server",
        };
        lines.push(Line::styled(format!(" {text}"), t.style(Meaning::Muted)));
    } else if shown == 0 {
        lines.push(Line::styled(
            " no session matches the filter (Esc clears it)",
            t.style(Meaning::Muted),
        ));
    }
    for (n, row) in m.visible().enumerate().skip(m.cursor.top).take(height) {
        let selected = n == m.cursor.at;
        let cells = shown_cols
            .iter()
            .zip(&w)
            .map(|(c, w)| {
                let (text, meaning) = session_cell(m, row, *c);
                let style = if selected {
                    t.badge(Meaning::Accent)
                } else {
                    t.style(meaning)
                };
                cell(&text, *w, right_aligned(*c), style)
            })
            .collect();
        let mut line = line_of(cells);
        if selected {
            line = line.style(t.badge(Meaning::Accent));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// When, as `fmt::when` says it, once per row per frame: today's times
/// (nearly all) are formatted without strftime.
fn when(m: &TopModel, at: Option<SystemTime>) -> String {
    let Some(at) = at else {
        return "—".to_owned();
    };
    let zoned = |t: SystemTime| {
        jiff::Timestamp::try_from(t)
            .ok()
            .map(|ts| ts.to_zoned(m.tz.clone()))
    };
    match (zoned(at), zoned(m.wall)) {
        (Some(z), Some(now)) if z.date() == now.date() => {
            format!("{:02}:{:02}:{:02}", z.hour(), z.minute(), z.second())
        }
        _ => fmt::when(at, m.wall, &m.tz),
    }
}

fn session_cell(m: &TopModel, r: &Row, c: Column) -> (String, Meaning) {
    let count = |n: u32, busy: Meaning| {
        if n == 0 {
            ("0".to_owned(), Meaning::Muted)
        } else {
            (n.to_string(), busy)
        }
    };
    match c {
        Column::Session => (clean(&r.id), Meaning::Text),
        Column::Participants => (r.participants.to_string(), Meaning::Text),
        Column::OldestJoin => (when(m, r.oldest_join), Meaning::Text),
        Column::Joins => count(r.joins, Meaning::Ok),
        Column::Leaves => count(r.leaves, Meaning::Warn),
        Column::NotConnected => match r.not_connected {
            None => ("—".into(), Meaning::Muted),
            Some(0) => ("0".into(), Meaning::Muted),
            Some(n) => (n.to_string(), Meaning::Warn),
        },
        Column::Description => (
            r.description.as_deref().map(clean).unwrap_or_default(),
            Meaning::Text,
        ),
    }
}

fn members(m: &TopModel, frame: &mut Frame, area: Rect, session: &str) {
    let t = &m.theme;
    let list = m.members();
    let listed = m.open_session_listed();
    let mut title = vec![Span::styled(
        format!(" {} ", clean(session)),
        t.strong(Meaning::Accent),
    )];
    if let Some(d) = m
        .snapshot()
        .session(session)
        .and_then(|s| s.description.as_deref())
    {
        title.push(Span::styled(
            format!("{} ", clean(d)),
            t.style(Meaning::Text),
        ));
    }
    title.push(Span::styled(
        format!("({} participants) ", list.len()),
        t.style(Meaning::Muted),
    ));
    if !listed {
        title.push(Span::styled(
            " gone from the server: its last list ",
            t.badge(Meaning::Error),
        ));
    }
    let block = panel(t, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // On calltop's protocol the id is the name: one column says it.
    let ids = list.iter().any(|p| p.id != p.name);
    let mut constraints = vec![Constraint::Fill(2)];
    if ids {
        constraints.push(Constraint::Length(18));
    }
    constraints.extend([Constraint::Length(12), Constraint::Length(26)]);
    let w = widths(&constraints, inner.width);
    let mut heading = vec!["name"];
    if ids {
        heading.push("id");
    }
    heading.extend(["joined at", "connected"]);
    let mut lines = vec![line_of(
        heading
            .iter()
            .zip(&w)
            .map(|(h, w)| cell(h, *w, false, t.strong(Meaning::Muted)))
            .collect(),
    )];
    if list.is_empty() {
        lines.push(Line::styled(" nobody is in it", t.style(Meaning::Muted)));
    }
    let height = inner.height.saturating_sub(1) as usize;
    for (n, p) in list
        .iter()
        .enumerate()
        .skip(m.member_cursor.top)
        .take(height)
    {
        let selected = n == m.member_cursor.at;
        let style = |meaning| {
            if selected {
                t.badge(Meaning::Accent)
            } else {
                t.style(meaning)
            }
        };
        let name = if p.name.is_empty() {
            "(no name)".to_owned()
        } else {
            clean(&p.name)
        };
        let mut cells = vec![cell(&name, w[0], false, style(Meaning::Text))];
        let mut i = 1;
        if ids {
            let id = fit_middle(&clean(&p.id), w[1]);
            cells.push(cell(&id, w[1], false, style(Meaning::Muted)));
            i = 2;
        }
        cells.push(cell(
            &when(m, p.joined_at),
            w[i],
            false,
            style(Meaning::Text),
        ));
        let (text, meaning) = match p.connected {
            Some(true) => ("yes", Meaning::Ok),
            Some(false) => ("no: its place is kept", Meaning::Warn),
            None => ("—", Meaning::Muted),
        };
        cells.push(cell(text, w[i + 1], false, style(meaning)));
        let mut line = line_of(cells);
        if selected {
            line = line.style(t.badge(Meaning::Accent));
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

fn log(m: &TopModel, frame: &mut Frame, area: Rect) {
    let t = &m.theme;
    let block = panel(t, vec![Span::styled(" Events ", t.strong(Meaning::Accent))]);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let height = inner.height as usize;
    let w = inner.width as usize;
    let lines: Vec<Line> = m
        .log()
        .iter()
        .skip(m.log().len().saturating_sub(height))
        .map(|l| {
            let ts = fmt::time_of_day_ms(l.ts, &m.tz);
            let room = w.saturating_sub(cols(&ts) + 2);
            Line::from(vec![
                Span::styled(format!(" {ts} "), t.style(Meaning::Muted)),
                Span::styled(fit(&l.text, room), t.style(l.meaning)),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn footer(m: &TopModel, frame: &mut Frame, area: Rect) {
    let t = &m.theme;
    let w = area.width as usize;
    let join = m.keymap.label(crate::ui::keys::Action::Join);
    let quit = m.keymap.label(crate::ui::keys::Action::Quit);
    if m.editing {
        let text = format!(" filter: {}▏", clean(m.filter.text()));
        let hint = "  Enter keep · Esc clear";
        let line = Line::from(vec![
            Span::styled(fit(&text, w), t.strong(Meaning::Accent)),
            Span::styled(
                fit_words(hint, w.saturating_sub(cols(&text))),
                t.style(Meaning::Muted),
            ),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    let hint = match m.screen {
        Screen::Sessions => {
            format!(" ↑↓ select · Enter people · {join} join · 1-7 sort · / filter · {quit} quit")
        }
        Screen::Members { .. } => format!(" ↑↓ scroll · {join} join · Esc back · {quit} quit"),
    };
    frame.render_widget(
        Paragraph::new(fit_words(&hint, w)).style(t.style(Meaning::Muted)),
        area,
    );
}

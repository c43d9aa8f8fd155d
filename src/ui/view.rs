//! Drawing: `view(&Model, &mut Frame)` reads the model and never changes it.
//! Every style comes from the theme by meaning.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, LineGauge, Paragraph, Sparkline, Wrap};

use super::facts;
use super::fmt;
use super::keys::Action;
use super::layout::{self, Areas, MIN_HEIGHT, MIN_WIDTH, STATE_ROWS, layout};
use super::log;
use super::model::{Model, NO_NAME, Shown, Status};
use super::sanitize::clean;
use super::theme::Meaning;
use super::width::{cols, fit, fit_middle, fit_words, pad, wrap_words};
use super::words;
use crate::event::LeftReason;

/// Width of the labels in the call panel.
const LABEL: usize = 9;

/// Draws the whole dashboard.
pub fn view(m: &Model, frame: &mut Frame) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(m, frame, area);
        return;
    }
    let a = layout(m, area);
    header(m, frame, a.header);
    if let Some(text) = &m.info.banner {
        banner(m, frame, a.banner, text);
    }
    call_panel(m, frame, a.call);
    people_panel(m, frame, a.people);
    if let Some((idle, left)) = m.idle_left() {
        idle_gauge(m, frame, a.idle, idle.total, left);
    }
    log_panel(m, frame, a.log);
    footer(m, frame, a.footer);
    if m.help {
        help(m, frame, &a);
    } else if m.settings_panel {
        settings_panel(m, frame, &a);
    } else if m.reconnect_overlay() {
        reconnecting(m, frame, &a);
    } else if m.final_message() {
        final_message(m, frame, &a);
    }
}

fn badge(m: &Model) -> Span<'static> {
    Span::styled(
        format!(" {} ", m.status.label()),
        m.theme.badge(m.status.meaning()),
    )
}

/// How `room` columns are shared by two texts `a` and `b` columns wide: each
/// whole if both fit; otherwise `b` gets at least half (or what it needs),
/// `a` the rest.
fn share(a: usize, b: usize, room: usize) -> (usize, usize) {
    if a + b <= room {
        return (a, b);
    }
    let b = b.min((room / 2).max(room.saturating_sub(a)));
    (room - b, b)
}

fn header(m: &Model, frame: &mut Frame, area: Rect) {
    let t = &m.theme;
    let (calltop, badge, as_) = (" calltop ", badge(m), " as ");
    // Session and user cut to what is left of the row, with `…`, rather
    // than clipped at the edge, where a cut name looks like a whole one.
    let marks = marks(m);
    let marks_width: usize = marks.iter().map(Span::width).sum();
    let room = usize::from(area.width)
        .saturating_sub(cols(calltop) + badge.width() + 2 + cols(as_) + 2 + marks_width);
    let (session, user) = (&m.info.session, &m.info.user);
    let (session_room, user_room) = share(cols(session), cols(user), room);
    let left = Line::from(vec![
        Span::styled(calltop, t.strong(Meaning::Accent)),
        badge,
        Span::raw("  "),
        Span::styled(fit(session, session_room), t.strong(Meaning::Text)),
        Span::styled(as_, t.style(Meaning::Muted)),
        Span::styled(fit(user, user_room), t.style(Meaning::Text)),
    ]);
    let mut left = left;
    left.spans.extend(marks);
    left.spans.push(Span::raw("  "));
    let used = (left.width() as u16).min(area.width);
    frame.render_widget(Paragraph::new(left), area);
    if let Some((meaning, text)) = &m.notice {
        let rest = Rect {
            x: area.x + used,
            width: area.width - used,
            ..area
        };
        let room = usize::from(rest.width.saturating_sub(1));
        // Whole words: a notice often names a key and what it does.
        let line = Line::from(Span::styled(fit_words(text, room), t.style(*meaning)));
        frame.render_widget(Paragraph::new(line).alignment(Alignment::Right), rest);
    }
}

/// What the header marks beside the names: faults of our own making under
/// way (so nobody takes them for an outage) and broken contract rules.
fn marks(m: &Model) -> Vec<Span<'static>> {
    let t = &m.theme;
    let mut v = Vec::new();
    if m.injected_outage || !m.faults_active.is_empty() {
        let what = match m.faults_active.last() {
            Some(f) => format!(" FAULT {} ", f.name()),
            None => " INJECTED ".to_owned(),
        };
        v.push(Span::raw("  "));
        v.push(Span::styled(what, t.badge(Meaning::Warn)));
    }
    if m.violations > 0 {
        let n = m.violations;
        let what = format!(" {n} VIOLATION{} ", if n == 1 { "" } else { "S" });
        v.push(Span::raw("  "));
        v.push(Span::styled(what, t.badge(Meaning::Error)));
    }
    v
}

/// A participant's name and, when it is to be shown, their id (`#…`) in
/// `width` columns, as (name, id with the space before it). Both whole if
/// they fit; otherwise the id gets at least half the room (the name the
/// rest, or what it needs) and is cut in the middle, the name at its end.
fn name_and_id(name: &str, id: Option<&str>, width: usize) -> (String, String) {
    let Some(id) = id else {
        return (fit(name, width), String::new());
    };
    let (nw, iw) = (cols(name), cols(id));
    if nw + 2 + iw <= width {
        return (name.to_owned(), format!("  {id}"));
    }
    let (name_room, id_room) = share(nw, iw, width.saturating_sub(1));
    (
        fit(name, name_room),
        format!(" {}", fit_middle(id, id_room)),
    )
}

fn banner(m: &Model, frame: &mut Frame, area: Rect, text: &str) {
    let t = &m.theme;
    // What this is: a demo of a live call, or a recording of one.
    let (label, meaning) = if m.replay {
        (" REPLAY ", Meaning::Warn)
    } else {
        (" DEMO ", Meaning::Accent)
    };
    let line = Line::from(vec![
        Span::styled(label, t.badge(meaning)),
        Span::raw(" "),
        Span::styled(text.to_owned(), t.style(Meaning::Muted)),
    ]);
    frame.render_widget(Paragraph::new(line), area);
}

fn panel<'a>(m: &Model, title: impl Into<Line<'a>>) -> Block<'a> {
    layout::panel()
        .border_style(m.theme.style(Meaning::Muted))
        .title(title)
}

/// A labelled row of the call panel, cut to `width` columns.
fn row<'a>(m: &Model, width: u16, label: &'a str, value: Vec<Span<'a>>) -> Line<'a> {
    let mut spans = vec![Span::styled(
        format!("{label:<LABEL$}"),
        m.theme.style(Meaning::Muted),
    )];
    let mut room = usize::from(width).saturating_sub(LABEL);
    for span in value {
        if room == 0 {
            break;
        }
        let w = cols(&span.content);
        if w <= room {
            room -= w;
            spans.push(span);
        } else {
            spans.push(Span::styled(fit(&span.content, room), span.style));
            room = 0;
        }
    }
    Line::from(spans)
}

/// Where the call stands, in `room` columns.
fn call_state(m: &Model, room: usize) -> Vec<Span<'static>> {
    let t = &m.theme;
    let join = m.keymap.label(Action::Join);
    let since = |m: &Model| {
        m.call_start.map(|(_, wall)| {
            let mins = m.in_call().map(fmt::minutes).unwrap_or_default();
            format!("since {} · {mins}", fmt::when(wall, m.wall, &m.tz))
        })
    };
    match &m.status {
        Status::Connecting { attempt, .. } => {
            let text = match next_attempt(m) {
                Some(next) => format!("joining… {next}"),
                None if *attempt > 1 => format!("joining… attempt {attempt}"),
                None => "joining…".into(),
            };
            vec![Span::styled(text, t.style(Meaning::Accent))]
        }
        Status::Joined => vec![Span::styled(
            since(m).unwrap_or_default(),
            t.style(Meaning::Text),
        )],
        // What the reconnect overlay says, for when it is hidden.
        Status::Reconnecting { .. } => vec![Span::styled(
            next_attempt(m).unwrap_or_else(|| "reconnecting…".into()),
            t.style(Meaning::Warn),
        )],
        Status::Leaving => vec![Span::styled("leaving…", t.style(Meaning::Muted))],
        status => {
            let (meaning, what) = match status {
                Status::Left(reason) => (status.meaning(), words::left_short(*reason).to_owned()),
                Status::TimedOut(d) => (Meaning::Warn, words::timed_out(*d)),
                _ => (Meaning::Error, "connection closed".to_owned()),
            };
            // The way back in, whole: in short, or not at all (the footer
            // has it too) where the row is narrow. Half a hint is none.
            let left = room.saturating_sub(cols(&what) + cols(" · ") + cols(&join));
            let hint = [" to join again", " join"]
                .into_iter()
                .find(|h| cols(h) <= left)
                .filter(|_| !m.replay);
            let mut spans = vec![Span::styled(what, t.style(meaning))];
            if let Some(hint) = hint {
                spans.extend([
                    Span::styled(" · ", t.style(Meaning::Muted)),
                    Span::styled(join, t.strong(Meaning::Accent)),
                    Span::styled(hint, t.style(Meaning::Muted)),
                ]);
            }
            spans
        }
    }
}

/// The next connection attempt: "attempt 2 of 10 in 3 s".
fn next_attempt(m: &Model) -> Option<String> {
    m.retry().map(|(r, left)| {
        let attempt = words::attempt(r.attempt, r.max);
        if left.is_zero() {
            attempt
        } else {
            format!("{attempt} in {} s", fmt::secs_left(left))
        }
    })
}

/// A row of [`facts::rows`], cut to `width` columns: a part that must be
/// whole and does not fit goes, with the parts after it.
fn fact_row<'a>(m: &Model, width: u16, r: &'a facts::Row) -> Line<'a> {
    let t = &m.theme;
    let mut room = usize::from(width).saturating_sub(LABEL);
    let mut spans = Vec::new();
    for p in &r.parts {
        let w = cols(p.lead) + cols(&p.text);
        if p.whole && w > room {
            break;
        }
        room = room.saturating_sub(w);
        if !p.lead.is_empty() {
            spans.push(Span::styled(p.lead, t.style(Meaning::Muted)));
        }
        spans.push(Span::styled(p.text.as_str(), t.style(p.meaning)));
    }
    row(m, width, r.label, spans)
}

fn call_panel(m: &Model, frame: &mut Frame, area: Rect) {
    let t = &m.theme;
    let block = panel(m, " Call ");
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let muted = |s: &str| vec![Span::styled(s.to_owned(), t.style(Meaning::Muted))];
    let drops = if m.lost_count == 0 {
        muted("none")
    } else {
        let mut v = vec![Span::styled(
            format!("{}×", m.lost_count),
            t.style(Meaning::Warn),
        )];
        if let Some(d) = m.last_downtime {
            v.push(Span::styled(
                format!(" · last downtime {}", fmt::human(d)),
                t.style(Meaning::Text),
            ));
        }
        v
    };
    let error = match &m.last_error {
        Some(e) if e.current => vec![Span::styled(e.text.clone(), t.style(Meaning::Warn))],
        // Past: what it was and when, to look up in the log or the
        // server's, but muted and dated so nobody takes it for news.
        Some(e) => muted(&format!(
            "last {}: {}",
            fmt::when(e.at, m.wall, &m.tz),
            e.text
        )),
        None => muted("none"),
    };
    // Only a heartbeat on the connection we have is the round trip now; the
    // last one from before a drop, or from a call that is over, is history.
    let (rtt_text, rtt_meaning) = match m.rtt.back() {
        Some(d) if m.rtt_live => (format!("{:<10}", fmt::rtt(*d)), Meaning::Text),
        Some(d) => (format!("last {}", fmt::rtt(*d)), Meaning::Muted),
        None if matches!(m.status, Status::Connecting { .. } | Status::Joined) => {
            ("no heartbeat yet".into(), Meaning::Muted)
        }
        None => ("none".into(), Meaning::Muted),
    };
    let spark_at = LABEL + cols(&rtt_text) + 1;
    let rtt = vec![Span::styled(rtt_text, t.style(rtt_meaning))];
    let w = inner.width;
    let where_rows = facts::rows(&m.info, m.facts.as_ref());
    let mut lines: Vec<Line> = where_rows.iter().map(|r| fact_row(m, w, r)).collect();
    let rtt_row = lines.len() + 1;
    let state_room = usize::from(w).saturating_sub(LABEL);
    lines.extend([
        row(m, w, "call", call_state(m, state_room)),
        row(m, w, "rtt", rtt),
        row(m, w, "drops", drops),
        row(m, w, "error", error),
    ]);
    debug_assert_eq!(lines.len(), where_rows.len() + STATE_ROWS);
    frame.render_widget(Paragraph::new(lines), inner);
    // The sparkline after the RTT value: one bar per heartbeat, newest
    // right; muted with the value when that is history.
    let spark_meaning = if m.rtt_live {
        Meaning::Accent
    } else {
        Meaning::Muted
    };
    if !m.rtt.is_empty() && usize::from(inner.height) > rtt_row {
        let x = inner
            .x
            .saturating_add(u16::try_from(spark_at).unwrap_or(u16::MAX));
        if x < inner.right() {
            let spark = Rect::new(x, inner.y + rtt_row as u16, inner.right() - x, 1);
            let n = usize::from(spark.width).min(m.rtt.len());
            let recent = m.rtt.iter().skip(m.rtt.len() - n);
            let max = recent.clone().max().copied().unwrap_or_default();
            // Bars of 1 to 8 eighths against the largest shown, so a small
            // value is a low bar rather than a gap.
            let data: Vec<u64> = recent
                .map(|d| {
                    if max.is_zero() {
                        1
                    } else {
                        ((d.as_secs_f64() / max.as_secs_f64()) * 8.0)
                            .ceil()
                            .clamp(1.0, 8.0) as u64
                    }
                })
                .collect();
            frame.render_widget(
                Sparkline::default()
                    .data(&data)
                    .max(8)
                    .style(t.style(spark_meaning)),
                spark,
            );
        }
    }
}

/// Before a participant's join time, where there is room.
const JOINED: &str = "joined ";

fn people_panel(m: &Model, frame: &mut Frame, area: Rect) {
    let t = &m.theme;
    let title = Line::from(vec![
        Span::raw(" Participants "),
        Span::styled(
            format!("({}) ", m.participants.len()),
            t.style(Meaning::Muted),
        ),
    ]);
    let block = panel(m, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if m.participants.is_empty() {
        let text = match m.status {
            Status::Joined | Status::Reconnecting { .. } => "nobody else is here",
            _ => "not in a session",
        };
        frame.render_widget(
            Paragraph::new(Span::styled(text, t.style(Meaning::Muted))),
            inner,
        );
        return;
    }
    let people = m.people();
    let rows = usize::from(inner.height);
    let shown = if people.len() > rows {
        rows.saturating_sub(1)
    } else {
        people.len()
    };
    let width = usize::from(inner.width);
    let label = |p: &Shown| {
        let name = if p.name.is_empty() { NO_NAME } else { &p.name };
        let id = p.show_id.then(|| format!("#{}", clean(p.id)));
        (name.to_owned(), id)
    };
    // When each joined: "joined 11:01:40" ("joined Nov 17 09:12" before
    // today), or only the time when a name needs the room. Every width
    // here is in display columns, so the times line up under each other
    // whatever the names are written in.
    let whens: Vec<Option<String>> = people[..shown]
        .iter()
        .map(|p| p.joined_at.map(|w| fmt::when(w, m.wall, &m.tz)))
        .collect();
    let when_cols = whens.iter().flatten().map(|w| cols(w)).max();
    let (long, short) = match when_cols {
        Some(w) => (cols(JOINED) + w + 1, w + 1),
        None => (0, 0),
    };
    let cramped = people[..shown].iter().any(|p| {
        let (name, id) = label(p);
        let needs = cols(&name) + id.map_or(0, |id| 1 + cols(&id));
        needs > width.saturating_sub(long + 1)
    });
    let (when_width, joined) = if cramped { (short, "") } else { (long, JOINED) };
    let name_width = match when_width {
        0 => width,
        w => width.saturating_sub(w + 1),
    }
    .max(4);
    let mut lines: Vec<Line> = people[..shown]
        .iter()
        .zip(whens)
        .map(|(p, when)| {
            let when = when.map(|w| format!("{joined}{w}")).unwrap_or_default();
            let (name, id) = label(p);
            let meaning = if p.name.is_empty() {
                Meaning::Muted
            } else {
                Meaning::Accent
            };
            let (name, id) = name_and_id(&name, id.as_deref(), name_width);
            let gap = pad(&format!("{name}{id}"), name_width + 1);
            Line::from(vec![
                Span::styled(name, t.style(meaning)),
                Span::styled(id, t.style(Meaning::Muted)),
                Span::raw(gap),
                Span::styled(when, t.style(Meaning::Muted)),
            ])
        })
        .collect();
    if shown < people.len() {
        lines.push(Line::from(Span::styled(
            format!("+{} more", people.len() - shown),
            t.style(Meaning::Muted),
        )));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Seconds left at which the idle countdown turns to the warning colour.
pub const IDLE_WARNING_SECS: u64 = 30;

/// The idle countdown's colour: the warning one in its last seconds.
fn idle_meaning(left: std::time::Duration) -> Meaning {
    if fmt::secs_left(left) <= IDLE_WARNING_SECS {
        Meaning::Warn
    } else {
        Meaning::Accent
    }
}

fn idle_gauge(
    m: &Model,
    frame: &mut Frame,
    area: Rect,
    total: std::time::Duration,
    left: std::time::Duration,
) {
    let t = &m.theme;
    let secs = fmt::secs_left(left);
    let meaning = idle_meaning(left);
    let label = Line::from(vec![
        Span::styled(format!(" {}", words::ALONE), t.style(Meaning::Text)),
        Span::styled(fmt::clock_secs(secs), t.strong(meaning)),
        Span::styled(format!("{} ", words::UNLESS), t.style(Meaning::Text)),
    ]);
    let width = label.width() as u16;
    let [text, gauge] =
        Layout::horizontal([Constraint::Length(width), Constraint::Fill(1)]).areas(area);
    frame.render_widget(Paragraph::new(label), text);
    let ratio = if total.is_zero() {
        0.0
    } else {
        (left.as_secs_f64() / total.as_secs_f64()).clamp(0.0, 1.0)
    };
    frame.render_widget(
        LineGauge::default()
            .ratio(ratio)
            .label("")
            .filled_symbol("━")
            .unfilled_symbol("─")
            .filled_style(t.strong(meaning))
            .unfilled_style(t.style(Meaning::Muted)),
        Rect {
            width: gauge.width.saturating_sub(1),
            ..gauge
        },
    );
}

fn log_panel(m: &Model, frame: &mut Frame, area: Rect) {
    let t = &m.theme;
    let mut block = panel(m, " Events ");
    if m.log_scrolled {
        let end = m.keymap.label(Action::LogNewest);
        block = block.title_top(
            Line::from(vec![
                Span::styled(" scrolled back · ", t.style(Meaning::Warn)),
                Span::styled(end, t.strong(Meaning::Accent)),
                Span::styled(" follows live ", t.style(Meaning::Warn)),
            ])
            .right_aligned(),
        );
    }
    let inner = block.inner(area);
    frame.render_widget(log::widget(&m.log, t).block(block), area);
    // The widget fills the view from the newest line up, so its top row
    // can be the end of a wrapped line whose start did not fit.
    log::clear_orphans(frame.buffer_mut(), inner);
}

/// Key hints, `l leave · j join`: those that fit in `room` columns, each
/// whole (a key without what it does, or half a word, helps nobody), in
/// their order.
fn key_hints(m: &Model, keys: &[(String, &'static str)], room: usize) -> Vec<Span<'static>> {
    let t = &m.theme;
    let mut spans = Vec::new();
    let mut used = 0;
    for (key, what) in keys {
        let sep = if spans.is_empty() { "" } else { " · " };
        let w = cols(sep) + cols(key) + 1 + cols(what);
        if used + w > room {
            continue;
        }
        used += w;
        if !sep.is_empty() {
            spans.push(Span::styled(sep, t.style(Meaning::Muted)));
        }
        spans.push(Span::styled(key.clone(), t.strong(Meaning::Accent)));
        spans.push(Span::styled(format!(" {what}"), t.style(Meaning::Muted)));
    }
    spans
}

/// The keys for `actions`, as the keymap writes them, with what they do.
fn labelled(m: &Model, actions: &[(Action, &'static str)]) -> Vec<(String, &'static str)> {
    actions
        .iter()
        .map(|(a, what)| (m.keymap.label(*a), *what))
        .collect()
}

fn footer(m: &Model, frame: &mut Frame, area: Rect) {
    let mut keys = labelled(
        m,
        &[
            (Action::Leave, "leave"),
            (Action::Join, "join"),
            (Action::Reconnect, "reconnect"),
            (Action::Settings, "settings"),
            (Action::Help, "help"),
            (Action::Quit, "quit"),
        ],
    );
    keys.push(("↑↓".into(), "scroll log"));
    let mut spans = vec![Span::raw(" ")];
    spans.extend(key_hints(
        m,
        &keys,
        usize::from(area.width).saturating_sub(1),
    ));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// A centred box `width` x `height` (clamped to the screen), cleared, on
/// rows emptied of what is behind it: the text of each part of the
/// dashboard the box lies on goes for those rows (the panels' frames
/// stay). Otherwise the box cuts lines into bits of words beside it, and
/// a wide letter cut at its left edge hides the border itself on a real
/// terminal (the terminal draws the letter, never the border's cell).
fn overlay(frame: &mut Frame, a: &Areas, width: u16, height: u16) -> Rect {
    let area = frame.area();
    let r = area.centered(
        Constraint::Length(width.min(area.width.saturating_sub(2))),
        Constraint::Length(height.min(area.height.saturating_sub(2))),
    );
    let band = Rect {
        x: area.x,
        width: area.width,
        ..r
    };
    let log = layout::panel().inner(a.log);
    let behind = [
        layout::panel().inner(a.call),
        layout::panel().inner(a.people),
        log,
        a.idle,
        a.banner,
    ];
    for part in behind {
        if part.left() < r.right() && r.left() < part.right() {
            frame.render_widget(Clear, band.intersection(part));
        }
    }
    // Under the box, the log may go on with a line whose start the box hid.
    if r.bottom() > log.top() && r.bottom() < log.bottom() {
        let below = Rect {
            y: r.bottom(),
            height: log.bottom() - r.bottom(),
            ..log
        };
        log::clear_orphans(frame.buffer_mut(), below);
    }
    frame.render_widget(Clear, r);
    r
}

fn overlay_block<'a>(m: &Model, title: &'a str, meaning: Meaning) -> Block<'a> {
    Block::bordered()
        .border_style(m.theme.style(meaning))
        .title(Line::from(Span::styled(format!(" {title} "), m.theme.strong(meaning))).centered())
}

/// A centred box of `width` columns, as tall as `lines` need once wrapped
/// (display width, word wrap), with the key hints in its bottom border so
/// that no text, however long, can push them out of sight.
#[allow(clippy::too_many_arguments)]
fn text_overlay(
    m: &Model,
    frame: &mut Frame,
    a: &Areas,
    width: u16,
    title: &str,
    meaning: Meaning,
    lines: Vec<Line<'static>>,
    hints: &[(Action, &'static str)],
) {
    let area = frame.area();
    let inner_width = width.min(area.width.saturating_sub(2)).saturating_sub(2);
    let mut bottom = vec![Span::raw(" ")];
    // A replay shows what happened; it has no call to act on.
    let live = |(a, _): &&(Action, &str)| !m.replay || matches!(a, Action::Quit | Action::Back);
    let hints: Vec<(Action, &'static str)> = hints.iter().filter(live).copied().collect();
    let room = usize::from(inner_width).saturating_sub(2);
    bottom.extend(key_hints(m, &labelled(m, &hints), room));
    bottom.push(Span::raw(" "));
    let block = overlay_block(m, title, meaning).title_bottom(Line::from(bottom).centered());
    let paragraph = Paragraph::new(lines)
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .block(block);
    let height = u16::try_from(paragraph.line_count(inner_width)).unwrap_or(u16::MAX);
    let r = overlay(frame, a, width, height);
    frame.render_widget(paragraph, r);
}

fn reconnecting(m: &Model, frame: &mut Frame, a: &Areas) {
    let t = &m.theme;
    let mut lines = vec![Line::raw("")];
    let attempt = match m.retry() {
        Some((r, left)) if !left.is_zero() => vec![
            Span::styled(words::attempt(r.attempt, r.max), t.strong(Meaning::Text)),
            Span::styled(" in ", t.style(Meaning::Muted)),
            Span::styled(
                format!("{} s", fmt::secs_left(left)),
                t.strong(Meaning::Warn),
            ),
        ],
        Some((r, _)) => vec![
            Span::styled(words::attempt(r.attempt, r.max), t.strong(Meaning::Text)),
            Span::styled(" under way…", t.style(Meaning::Muted)),
        ],
        None => vec![Span::styled("reconnecting…", t.strong(Meaning::Text))],
    };
    lines.push(Line::from(attempt));
    if let Some(d) = m.down_for() {
        lines.push(Line::from(vec![
            Span::styled("down for ", t.style(Meaning::Muted)),
            Span::styled(fmt::clock_secs(d.as_secs()), t.style(Meaning::Text)),
        ]));
    }
    // The idle countdown goes on meanwhile; the overlay hides its gauge.
    if let Some((_, left)) = m.idle_left() {
        lines.push(Line::from(vec![
            Span::styled(words::ALONE, t.style(Meaning::Muted)),
            Span::styled(
                fmt::clock_secs(fmt::secs_left(left)),
                t.strong(idle_meaning(left)),
            ),
            Span::styled(words::UNLESS, t.style(Meaning::Muted)),
        ]));
    }
    // What went wrong, while it is news (the engine reports why the
    // connection was lost, and errors since; not why each attempt failed).
    if let Some(e) = m.last_error.as_ref().filter(|e| e.current) {
        lines.push(Line::from(Span::styled(
            e.text.clone(),
            t.style(Meaning::Warn),
        )));
    }
    if m.injected_outage {
        lines.push(Line::from(Span::styled(
            "injected on purpose: not a real outage",
            t.strong(Meaning::Warn),
        )));
    }
    lines.push(Line::raw(""));
    let title = if m.injected_outage {
        "connection lost [injected]"
    } else {
        "connection lost"
    };
    text_overlay(
        m,
        frame,
        a,
        56,
        title,
        Meaning::Error,
        lines,
        &[
            (Action::Reconnect, "reconnect now"),
            (Action::Leave, "leave"),
            (Action::Quit, "quit"),
        ],
    );
}

fn final_message(m: &Model, frame: &mut Frame, a: &Areas) {
    let t = &m.theme;
    let (title, meaning, why) = match &m.status {
        Status::Closed(reason) => (
            "connection closed",
            Meaning::Error,
            format!("The connection is gone for good: {reason}"),
        ),
        Status::TimedOut(d) => (
            "idle timeout",
            Meaning::Warn,
            format!(
                "{} (idle timeout).",
                words::capitalised(&words::timed_out(*d))
            ),
        ),
        Status::Left(LeftReason::Replaced) => (
            "replaced",
            Meaning::Error,
            format!("{}.", words::capitalised(words::left(LeftReason::Replaced))),
        ),
        Status::Left(LeftReason::Removed) => (
            "removed",
            Meaning::Error,
            format!("{}.", words::capitalised(words::left(LeftReason::Removed))),
        ),
        _ => (
            "session ended",
            Meaning::Error,
            format!("{}.", words::capitalised(words::left(LeftReason::Ended))),
        ),
    };
    let mut lines = vec![
        Line::raw(""),
        Line::from(Span::styled(why, t.style(Meaning::Text))),
        Line::raw(""),
    ];
    // Joining again now may meet our old self, still in its slot.
    if let Some(left) = m.slot_held_for() {
        lines.push(Line::from(Span::styled(
            format!(
                "The server may still hold your old slot for {} s (its resume window).",
                fmt::secs_left(left)
            ),
            t.style(Meaning::Warn),
        )));
        lines.push(Line::raw(""));
    }
    text_overlay(
        m,
        frame,
        a,
        60,
        title,
        meaning,
        lines,
        &[
            (Action::Join, "join again"),
            (Action::Quit, "quit"),
            (Action::Back, "dismiss"),
        ],
    );
}

/// What is in force: the session's timers and schedule as the run reported
/// them, what the server announced, and how long since it was last heard.
fn settings_panel(m: &Model, frame: &mut Frame, a: &Areas) {
    let t = &m.theme;
    let rows = facts::in_force(m);
    let label_width = rows.iter().map(|r| cols(r.label)).max().unwrap_or(0);
    let width: u16 = 76;
    let inner = usize::from(width.min(frame.area().width.saturating_sub(2))).saturating_sub(2);
    // Values wrap under themselves, the labels stay a column of their own.
    let indent = 2 + label_width + 2;
    let mut lines = vec![Line::raw("")];
    for r in &rows {
        for (i, part) in wrap_words(&r.value, inner.saturating_sub(indent + 1))
            .into_iter()
            .enumerate()
        {
            let lead = if i == 0 {
                vec![
                    Span::raw(format!("  {}", pad(r.label, label_width))),
                    Span::styled(r.label, t.style(Meaning::Muted)),
                    Span::raw("  "),
                ]
            } else {
                vec![Span::raw(" ".repeat(indent))]
            };
            let mut spans = lead;
            spans.push(Span::styled(part, t.style(r.meaning)));
            lines.push(Line::from(spans));
        }
    }
    lines.push(Line::raw(""));
    let height = lines.len() as u16 + 2;
    let r = overlay(frame, a, width, height);
    let key = m.keymap.label(Action::Settings);
    let block = overlay_block(m, "settings in force", Meaning::Accent).title_bottom(
        Line::from(vec![
            Span::raw(" "),
            Span::styled(key, t.strong(Meaning::Accent)),
            Span::styled(" or ", t.style(Meaning::Muted)),
            Span::styled("Esc", t.strong(Meaning::Accent)),
            Span::styled(" close ", t.style(Meaning::Muted)),
        ])
        .centered(),
    );
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        r,
    );
}

fn help(m: &Model, frame: &mut Frame, a: &Areas) {
    let t = &m.theme;
    let rows = m.keymap.help(m.faults_offered());
    // In columns: a key may be any printable character, a wide one too.
    let key_width = rows.iter().map(|(k, _)| cols(k)).max().unwrap_or(1);
    let mut lines = vec![Line::raw("")];
    lines.extend(rows.iter().map(|(k, what)| {
        Line::from(vec![
            Span::raw(format!("  {}", pad(k, key_width))),
            Span::styled(k.clone(), t.strong(Meaning::Accent)),
            Span::raw("  "),
            Span::styled(*what, t.style(Meaning::Text)),
        ])
    }));
    lines.push(Line::raw(""));
    lines.push(Line::from(Span::styled(
        "  keys are set in the [keys] section of the config file",
        t.style(Meaning::Muted),
    )));
    if m.info.banner.is_some() {
        lines.push(Line::raw(""));
        for text in [
            "  this is a demo on an embedded server; for a real call:",
            "  calltop --server ws://HOST:PORT/ws --session ID",
            "  (or set server in the [session] section of the config)",
        ] {
            lines.push(Line::from(Span::styled(text, t.style(Meaning::Muted))));
        }
    }
    let height = lines.len() as u16 + 2;
    let r = overlay(frame, a, 60, height);
    frame.render_widget(
        Paragraph::new(lines).block(overlay_block(m, "keys", Meaning::Accent)),
        r,
    );
}

fn too_small(m: &Model, frame: &mut Frame, area: Rect) {
    let t = &m.theme;
    let mut lines = vec![
        Line::from(Span::styled("terminal too small", t.strong(Meaning::Warn))),
        Line::from(Span::styled(
            format!(
                "{}x{} here; calltop needs {MIN_WIDTH}x{MIN_HEIGHT}",
                area.width, area.height
            ),
            t.style(Meaning::Text),
        )),
        Line::from(vec![
            Span::styled("call: ", t.style(Meaning::Muted)),
            badge(m),
        ]),
        // Whole hints, however narrow: the paragraph wraps them at spaces.
        Line::from(key_hints(
            m,
            &labelled(m, &[(Action::Leave, "leave"), (Action::Quit, "quit")]),
            usize::MAX,
        )),
    ];
    if let Some((meaning, text)) = &m.notice {
        lines.push(Line::from(Span::styled(text.clone(), t.style(*meaning))));
    }
    let height = (lines.len() as u16).min(area.height);
    let [_, middle, _] = Layout::vertical([
        Constraint::Fill(1),
        Constraint::Length(height),
        Constraint::Fill(1),
    ])
    .areas(area);
    frame.render_widget(
        Paragraph::new(lines)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        middle,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_and_its_id_share_the_room() {
        let id = Some("#8362730246246576");
        assert_eq!(
            name_and_id("alice", id, 30),
            ("alice".into(), "  #8362730246246576".into())
        );
        assert_eq!(
            name_and_id("alice", id, 23),
            ("alice".into(), " #8362730246246576".into())
        );
        assert_eq!(
            name_and_id("alice", id, 11),
            ("alice".into(), " #…576".into())
        );
        // A long name leaves the id half the room.
        let (name, id) = name_and_id(&"x".repeat(40), id, 21);
        assert_eq!((cols(&name), id.as_str()), (10, " #83…246576"));
        assert_eq!(name_and_id("bob", None, 2), ("b…".into(), String::new()));
    }
}

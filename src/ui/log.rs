//! The event log: lines go into tui-logger's bounded, process-wide buffer and
//! are shown with its widget. Each line carries the wall-clock time of the
//! event it reports, not the time it was logged.

use std::time::SystemTime;

use jiff::tz::TimeZone;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;
use tui_logger::{ExtLogRecord, LogFormatter, TuiLoggerWidget, TuiWidgetEvent, TuiWidgetState};

use super::fmt;
use super::sanitize;
use super::theme::{Meaning, Theme};
use super::width;

/// One line for the log. `text` must already be safe to show (see [`sanitize`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub ts: SystemTime,
    pub meaning: Meaning,
    pub text: String,
}

/// Records from other threads may arrive this many at a time between two
/// moves into the main buffer before tui-logger reports some as lost.
pub const HOT_DEPTH: usize = 1024;

/// Separates our timestamp from the text; sanitized text never contains it.
const SEP: char = '\u{1f}';

const PREFIX: &str = "calltop::log::";

fn target(m: Meaning) -> &'static str {
    match m {
        Meaning::Text => "calltop::log::text",
        Meaning::Ok => "calltop::log::ok",
        Meaning::Warn => "calltop::log::warn",
        Meaning::Error => "calltop::log::error",
        Meaning::Muted => "calltop::log::muted",
        Meaning::Accent => "calltop::log::accent",
    }
}

fn meaning_of(target: &str) -> Option<Meaning> {
    Some(match target.strip_prefix(PREFIX)? {
        "text" => Meaning::Text,
        "ok" => Meaning::Ok,
        "warn" => Meaning::Warn,
        "error" => Meaning::Error,
        "muted" => Meaning::Muted,
        "accent" => Meaning::Accent,
        _ => return None,
    })
}

/// Bounds the log to `capacity` lines (clearing it) and routes `tracing`
/// records from the rest of the process (warnings from libraries and the
/// embedded server) into it instead of onto the terminal, and to the
/// `--log-file` if there is one. The filter comes from `RUST_LOG` if set.
pub fn init(capacity: usize) {
    use tracing_subscriber::prelude::*;
    set_capacity(capacity);
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn,calltop::session=off"));
    let _ = tracing_subscriber::registry()
        .with(tui_logger::TuiTracingSubscriberLayer.with_filter(filter))
        .with(crate::diagnostics::file_layer())
        .try_init();
}

/// Empties the log and keeps at most `capacity` lines from now on.
pub fn set_capacity(capacity: usize) {
    tui_logger::set_hot_buffer_depth(HOT_DEPTH);
    tui_logger::set_buffer_depth(capacity.max(1));
    // Drop whatever sits in the hot buffer, then start from an empty log.
    tui_logger::move_events();
    tui_logger::set_buffer_depth(capacity.max(1));
}

/// Adds a line. It shows after the next [`flush`].
pub fn write(line: &LogLine, tz: &TimeZone) {
    let level = match line.meaning {
        Meaning::Error => log::Level::Error,
        Meaning::Warn => log::Level::Warn,
        _ => log::Level::Info,
    };
    tui_logger::Drain::new().log(
        &log::Record::builder()
            .args(format_args!(
                "{}{SEP}{}",
                fmt::time_of_day_ms(line.ts, tz),
                line.text
            ))
            .level(level)
            .target(target(line.meaning))
            .build(),
    );
}

/// Moves new lines into the buffer the widget reads. Cheap when there are none.
pub fn flush() {
    tui_logger::move_events();
}

/// The log widget for `state`, drawn with `theme`.
pub fn widget<'a>(state: &TuiWidgetState, theme: &Theme) -> TuiLoggerWidget<'a> {
    TuiLoggerWidget::default()
        .formatter(Box::new(Formatter { theme: *theme }))
        .state(state)
}

/// Lays out one record: time (muted), then the text in its meaning's style,
/// wrapped at word boundaries and indented under the text.
struct Formatter {
    theme: Theme,
}

impl LogFormatter for Formatter {
    fn min_width(&self) -> u16 {
        16
    }

    fn format(&self, width: usize, evt: &ExtLogRecord) -> Vec<Line<'_>> {
        let (ts, meaning, text) = match (meaning_of(evt.target()), evt.msg().split_once(SEP)) {
            (Some(m), Some((ts, text))) => (ts.to_owned(), m, text.to_owned()),
            _ => {
                // A record from elsewhere in the process: its own time, its
                // level as the meaning, and its text cleaned like server text.
                let m = match evt.level {
                    log::Level::Error => Meaning::Error,
                    log::Level::Warn => Meaning::Warn,
                    _ => Meaning::Muted,
                };
                let text = format!(
                    "{}: {}",
                    sanitize::clean(evt.target()),
                    sanitize::clean(evt.msg().trim())
                );
                (evt.timestamp.strftime("%H:%M:%S%.3f").to_string(), m, text)
            }
        };
        let indent = if width >= 40 { ts.len() + 1 } else { 2 };
        let style = self.theme.style(meaning);
        let mut lines = Vec::new();
        let first_avail = width.saturating_sub(ts.len() + 1).max(1);
        let mut chunks = wrap(&text, first_avail, width.saturating_sub(indent).max(1)).into_iter();
        let first = chunks.next().unwrap_or_default();
        lines.push(Line::from(vec![
            Span::styled(ts, self.theme.style(Meaning::Muted)),
            Span::raw(" "),
            Span::styled(first, style),
        ]));
        for chunk in chunks {
            lines.push(Line::from(vec![
                Span::raw(" ".repeat(indent)),
                Span::styled(chunk, style),
            ]));
        }
        lines
    }
}

/// Blanks the rows at the top of `area` that continue a wrapped line whose
/// start is not in it (above it, or under an overlay): half a line without
/// its time reads as if it were a line of its own. A line's first row
/// starts with its time; the rows that continue it, with spaces.
pub fn clear_orphans(buf: &mut Buffer, area: Rect) {
    for y in area.top()..area.bottom() {
        let row = (area.left()..area.right()).map(|x| buf[(x, y)].symbol());
        let mut row = row.peekable();
        let continues = row.peek() == Some(&" ") && row.any(|s| s != " ");
        if !continues {
            break;
        }
        for x in area.left()..area.right() {
            buf[(x, y)].reset();
        }
    }
}

/// Splits `text` into pieces of at most `first` columns, then `rest` columns,
/// breaking at spaces where it can.
fn wrap(text: &str, first: usize, rest: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut line = String::new();
    let mut cols = 0;
    let avail = |out: &Vec<String>| if out.is_empty() { first } else { rest };
    for word in text.split(' ') {
        let w = width::cols(word);
        let sep = usize::from(!line.is_empty());
        if cols + sep + w <= avail(&out) {
            if sep == 1 {
                line.push(' ');
            }
            line.push_str(word);
            cols += sep + w;
            continue;
        }
        if !line.is_empty() {
            out.push(std::mem::take(&mut line));
            cols = 0;
        }
        // A word longer than a whole line is cut where it must be (between
        // graphemes: a letter keeps its marks).
        for (g, gw) in width::graphemes(word) {
            if cols + gw > avail(&out) && !line.is_empty() {
                out.push(std::mem::take(&mut line));
                cols = 0;
            }
            line.push_str(g);
            cols += gw;
        }
    }
    if !line.is_empty() || out.is_empty() {
        out.push(line);
    }
    out
}

/// A scroll request for the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scroll {
    Older,
    Newer,
    Oldest,
    Newest,
}

fn render(state: &TuiWidgetState, size: Rect, theme: &Theme) -> Buffer {
    let area = Rect::new(0, 0, size.width, size.height);
    let mut buf = Buffer::empty(area);
    widget(state, theme).render(area, &mut buf);
    buf
}

/// Where the log's view stands after a scroll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// Following the newest lines.
    Live,
    /// Somewhere back.
    Back,
    /// At the oldest lines: further back is nothing.
    Oldest,
    /// The whole log fits in the view: there is nowhere to scroll.
    All,
}

/// Scrolls the log shown in an area of `size` (the widget's inner area).
///
/// tui-logger scrolls by half pages from the lines it last drew, and a page
/// back from the very top falls through to the live view. So this draws off
/// screen to know where the view stands, and turns that fall-through into
/// "stay at the top". Finding the top costs a draw per page of the log, so
/// the caller remembers [`Position::Oldest`] rather than asking again.
pub fn scroll(state: &TuiWidgetState, size: Rect, theme: &Theme, how: Scroll) -> Position {
    if size.width == 0 || size.height == 0 {
        return Position::All;
    }
    let live = render(&TuiWidgetState::new(), size, theme);
    match how {
        Scroll::Newest => {
            state.transition(TuiWidgetEvent::EscapeKey);
            Position::Live
        }
        Scroll::Newer => {
            render(state, size, theme);
            state.transition(TuiWidgetEvent::NextPageKey);
            if render(state, size, theme) == live {
                Position::Live
            } else {
                Position::Back
            }
        }
        Scroll::Older => {
            let before = render(state, size, theme);
            state.transition(TuiWidgetEvent::PrevPageKey);
            let after = render(state, size, theme);
            if after != live {
                Position::Back
            } else if before != live {
                // Went past the top: back to it.
                to_oldest(state, size, theme, &live)
            } else {
                // A page back from the live view is the live view.
                state.transition(TuiWidgetEvent::EscapeKey);
                Position::All
            }
        }
        Scroll::Oldest => to_oldest(state, size, theme, &live),
    }
}

fn to_oldest(state: &TuiWidgetState, size: Rect, theme: &Theme, live: &Buffer) -> Position {
    const LIMIT: usize = 1_000_000;
    // Count the pages back from the live view until the walk falls through…
    state.transition(TuiWidgetEvent::EscapeKey);
    render(state, size, theme);
    let mut pages = 0;
    while pages < LIMIT {
        state.transition(TuiWidgetEvent::PrevPageKey);
        pages += 1;
        if render(state, size, theme) == *live {
            break;
        }
    }
    // …then walk one page less.
    state.transition(TuiWidgetEvent::EscapeKey);
    render(state, size, theme);
    for _ in 1..pages {
        state.transition(TuiWidgetEvent::PrevPageKey);
        render(state, size, theme);
    }
    if pages > 1 {
        Position::Oldest
    } else {
        Position::All
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrapping_breaks_at_spaces_and_cuts_long_words() {
        assert_eq!(wrap("aa bb cc", 5, 5), vec!["aa bb", "cc"]);
        assert_eq!(wrap("abcdefgh", 3, 4), vec!["abc", "defg", "h"]);
        assert_eq!(wrap("", 5, 5), vec![""]);
        assert_eq!(wrap("a bcdefgh", 4, 4), vec!["a", "bcde", "fgh"]);
        // Columns as drawn: wide letters, and marks that stay with theirs.
        assert_eq!(wrap("李小龍 李", 6, 6), vec!["李小龍", "李"]);
        assert_eq!(
            wrap("e\u{301}e\u{301}e\u{301}", 2, 2),
            vec!["e\u{301}e\u{301}", "e\u{301}"]
        );
    }

    fn rows(buf: &Buffer) -> Vec<String> {
        (0..buf.area.height)
            .map(|y| {
                (0..buf.area.width)
                    .map(|x| buf[(x, y)].symbol())
                    .collect::<String>()
            })
            .collect()
    }

    #[test]
    fn continuations_at_the_top_are_blanked_and_nothing_after_a_start() {
        let mut buf = Buffer::with_lines([
            "   end of one",
            "   and more  ",
            "12 a start   ",
            "   its rest  ",
        ]);
        let area = buf.area;
        clear_orphans(&mut buf, area);
        assert_eq!(
            rows(&buf),
            [
                "             ",
                "             ",
                "12 a start   ",
                "   its rest  "
            ]
        );
        // Blank rows (an empty log) are not continuations.
        let mut buf = Buffer::with_lines(["     ", "12 x "]);
        let area = buf.area;
        clear_orphans(&mut buf, area);
        assert_eq!(rows(&buf), ["     ", "12 x "]);
    }

    #[test]
    fn our_targets_carry_their_meaning() {
        for m in [
            Meaning::Text,
            Meaning::Ok,
            Meaning::Warn,
            Meaning::Error,
            Meaning::Muted,
            Meaning::Accent,
        ] {
            assert_eq!(meaning_of(target(m)), Some(m));
        }
        assert_eq!(meaning_of("tungstenite::protocol"), None);
    }
}

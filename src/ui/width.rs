//! Text measured and cut as ratatui draws it: grapheme by grapheme, each as
//! wide as ratatui's [`CellWidth`] says. Counting chars, or adding up the
//! widths of single chars, drifts from that on wide, combining, emoji and
//! halfwidth-kana text (`❤️` is two columns, `e` with a combining accent
//! one), and columns padded that way stop lining up. Everything the view pads or cuts goes through here.

use ratatui::buffer::CellWidth;
use ratatui::style::Style;
use ratatui::text::Span;

/// `text` as graphemes, each with the columns it takes on screen.
pub fn graphemes(text: &str) -> Vec<(&str, usize)> {
    let span = Span::raw(text);
    // `Span::raw` borrows `text`, so each grapheme is a slice of it: taken
    // again from `text` by its offset, it outlives the span.
    let start = text.as_ptr() as usize;
    span.styled_graphemes(Style::default())
        .map(|g| {
            let at = g.symbol.as_ptr() as usize - start;
            (
                &text[at..at + g.symbol.len()],
                usize::from(g.symbol.cell_width()),
            )
        })
        .collect()
}

/// Display columns of `text`.
pub fn cols(text: &str) -> usize {
    graphemes(text).iter().map(|(_, w)| w).sum()
}

/// The longest start of `text` that takes at most `width` columns.
fn head(text: &str, width: usize) -> String {
    let mut out = String::new();
    let mut used = 0;
    for (g, w) in graphemes(text) {
        if used + w > width {
            break;
        }
        out.push_str(g);
        used += w;
    }
    out
}

/// `text` cut to `width` columns, with `…` when cut.
pub fn fit(text: &str, width: usize) -> String {
    if cols(text) <= width {
        return text.to_owned();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = head(text, width - 1);
    out.push('…');
    out
}

/// `text` cut to `width` columns at a space, with `…` when cut: for words
/// meant to be read (a hint, a notice), where half a word is none. A first
/// word longer than the room is cut as [`fit`] cuts.
pub fn fit_words(text: &str, width: usize) -> String {
    if cols(text) <= width {
        return text.to_owned();
    }
    let room = head(text, width.saturating_sub(1));
    // The cut falls on a space, or right before one: keep the whole words.
    let whole = if text[room.len()..].starts_with(' ') {
        room.as_str()
    } else {
        room.rsplit_once(' ').map_or("", |(words, _)| words)
    };
    let whole = whole.trim_end_matches([' ', '·', ',', ':', ';']);
    if whole.is_empty() {
        return fit(text, width);
    }
    format!("{whole}…")
}

/// `text` cut to `width` columns in the middle, keeping more of its end:
/// `#83…6246576`. For ids, which tend to differ at the end (counters) if
/// not everywhere (random numbers).
pub fn fit_middle(text: &str, width: usize) -> String {
    if cols(text) <= width {
        return text.to_owned();
    }
    if width <= 1 {
        return "…".repeat(width);
    }
    let body = width - 1;
    let (head_room, tail_room) = (body / 3, body - body / 3);
    let start = head(text, head_room);
    let mut tail = Vec::new();
    let mut used = 0;
    for (g, w) in graphemes(text).into_iter().rev() {
        if used + w > tail_room {
            break;
        }
        tail.push(g);
        used += w;
    }
    tail.reverse();
    format!("{start}…{}", tail.concat())
}

/// `text` in lines of at most `width` columns, broken at spaces (a word
/// wider than that is cut, as [`fit`] cuts). Empty text is one empty line.
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ').filter(|w| !w.is_empty()) {
        let word = fit(word, width);
        if !line.is_empty() && cols(&line) + 1 + cols(&word) > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    lines.push(line);
    lines
}

/// Spaces that pad `text` out to `width` columns (none if it is wider).
pub fn pad(text: &str, width: usize) -> String {
    " ".repeat(width.saturating_sub(cols(text)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_wrap_at_spaces_within_the_width() {
        assert_eq!(
            wrap_words("every 2 s, lost after 2.5 s", 12),
            ["every 2 s,", "lost after", "2.5 s"]
        );
        assert_eq!(wrap_words("", 5), [""]);
        assert_eq!(wrap_words("unbreakable", 4), ["unb…"]);
    }

    #[test]
    fn widths_are_those_the_terminal_shows() {
        assert_eq!(cols("alice"), 5);
        assert_eq!(cols("李小龍"), 6);
        assert_eq!(cols("Ｆｕｌｌ"), 8);
        // A letter and its combining marks are one column.
        assert_eq!(cols("e\u{301}\u{301}x"), 2);
        assert_eq!(cols("Zoe\u{308}"), 3);
        // An emoji with its presentation selector is two, not one.
        assert_eq!(cols("❤\u{fe0f}"), 2);
    }

    #[test]
    fn widths_are_those_ratatui_draws() {
        use ratatui::buffer::Buffer;
        use ratatui::layout::Rect;
        for text in [
            "李小龍 x",
            "Zoe\u{308}y",
            "❤\u{fe0f} 🇫🇷 ok",
            "ｶﾞｷﾞ",
            "e\u{301}\u{301}",
        ] {
            let mut buf = Buffer::empty(Rect::new(0, 0, 40, 1));
            let (end, _) = buf.set_stringn(0, 0, text, 40, Style::default());
            assert_eq!(cols(text), usize::from(end), "{text:?}");
        }
    }

    #[test]
    fn cuts_fall_between_graphemes_and_say_so() {
        assert_eq!(fit("alice", 5), "alice");
        assert_eq!(fit("alice", 4), "ali…");
        assert_eq!(fit("李小龍", 5), "李小…");
        assert_eq!(fit("李小龍", 4), "李…");
        // The marks stay with their letter.
        assert_eq!(
            fit("e\u{301}e\u{301}e\u{301}", 3),
            "e\u{301}e\u{301}e\u{301}"
        );
        assert_eq!(fit("e\u{301}e\u{301}e\u{301}", 2), "e\u{301}…");
        assert_eq!(fit("bob", 0), "");
        assert_eq!(fit("bob", 1), "…");
    }

    #[test]
    fn words_are_kept_whole_or_left_out() {
        assert_eq!(fit_words("j to join again", 15), "j to join again");
        assert_eq!(fit_words("j to join again", 14), "j to join…");
        assert_eq!(fit_words("j to join again", 10), "j to join…");
        assert_eq!(fit_words("j to join again", 9), "j to…");
        assert_eq!(fit_words("leaving first · q again", 17), "leaving first…");
        // One word too long for the room is cut as a word must be.
        assert_eq!(fit_words("reconnecting", 6), "recon…");
    }

    #[test]
    fn ids_are_cut_in_the_middle_keeping_more_of_their_end() {
        assert_eq!(fit_middle("#8362730246246576", 17), "#8362730246246576");
        assert_eq!(fit_middle("#8362730246246576", 11), "#83…6246576");
        assert_eq!(fit_middle("#8362730246246576", 5), "#…576");
        assert_eq!(fit_middle("#8362730246246576", 1), "…");
        assert_eq!(fit_middle("#8362730246246576", 0), "");
        // Display columns, not characters.
        assert_eq!(fit_middle("#李李李李李李", 8), "#…李李");
    }

    #[test]
    fn padding_fills_to_a_column() {
        assert_eq!(pad("李小龍", 8), "  ");
        assert_eq!(pad("❤\u{fe0f} x", 6), "  ");
        assert_eq!(pad("toolong", 3), "");
    }
}

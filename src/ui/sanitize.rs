//! Text from the server (names, reasons, notices) made safe to show: no control
//! character or escape sequence it contains can reach the terminal.

/// Longest text shown from one server-supplied field, in characters.
pub const MAX_CHARS: usize = 240;

/// `s` with every control character replaced by a visible stand-in and cut to
/// [`MAX_CHARS`] characters (with `…` when cut).
pub fn clean(s: &str) -> String {
    clean_max(s, MAX_CHARS)
}

/// Like [`clean`], cut to `max` characters.
pub fn clean_max(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max.saturating_mul(4)));
    for (n, c) in s.chars().enumerate() {
        if n == max {
            out.push('…');
            break;
        }
        out.push(visible(c));
    }
    out
}

/// A character that is safe to print in place of `c`.
///
/// C0 controls (ESC, BEL, CR, LF, TAB, …) become their Unicode control
/// pictures (`␛`, `␇`, …), DEL becomes `␡`, and C1 controls (which some
/// terminals read as CSI/OSC introducers), bidirectional overrides and
/// zero-width and tag characters (which can disguise text) become `�`.
fn visible(c: char) -> char {
    match c {
        '\u{0}'..='\u{1f}' => char::from_u32(0x2400 + c as u32).unwrap_or('\u{fffd}'),
        '\u{7f}' => '\u{2421}',
        c if crate::text::is_disguising(c) => '\u{fffd}',
        c => c,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn escape_sequences_become_visible_text() {
        assert_eq!(clean("bob\u{1b}[2J\u{7}"), "bob␛[2J␇");
        assert_eq!(clean("a\r\nb\tc"), "a␍␊b␉c");
        assert_eq!(clean("x\u{9b}31m"), "x\u{fffd}31m");
        assert_eq!(clean("evil\u{202e}txt.exe"), "evil\u{fffd}txt.exe");
        assert_eq!(clean("bob\u{e0041}\u{e007f}"), "bob\u{fffd}\u{fffd}");
        assert_eq!(clean("zoë 李"), "zoë 李");
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(clean_max("abcdef", 3), "abc…");
        assert_eq!(clean_max("abc", 3), "abc");
    }

    proptest! {
        #[test]
        fn nothing_a_terminal_would_interpret_survives(s in any::<String>()) {
            let out = clean(&s);
            prop_assert!(!out.chars().any(|c| c.is_control()), "{out:?}");
            prop_assert!(!out.contains(char::from(0x1b)), "{:?}", out);
            prop_assert!(out.chars().count() <= MAX_CHARS + 1);
        }
    }
}

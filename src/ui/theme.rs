//! What things mean on screen, and how each meaning looks. Widgets ask for a
//! [`Meaning`]; only this module knows colours. Without colour (`NO_COLOR`, or
//! `[ui] color = "never"`) one table of text attributes stands in for them.

use std::ffi::OsStr;

use ratatui::style::{Color, Modifier, Style};

use crate::config::ColorMode;

/// What a piece of text says about the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Meaning {
    /// Ordinary text.
    Text,
    /// Healthy: joined, restored.
    Ok,
    /// Needs attention soon: reconnecting, the idle timeout near.
    Warn,
    /// Broken or over: connection lost or closed.
    Error,
    /// Secondary: labels, hints, borders.
    Muted,
    /// Draws the eye without judging: titles, keys, names.
    Accent,
}

const MEANINGS: usize = 6;

impl Meaning {
    const fn index(self) -> usize {
        match self {
            Meaning::Text => 0,
            Meaning::Ok => 1,
            Meaning::Warn => 2,
            Meaning::Error => 3,
            Meaning::Muted => 4,
            Meaning::Accent => 5,
        }
    }
}

/// The palette: one style per meaning, and one per meaning for badges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    text: [Style; MEANINGS],
    badge: [Style; MEANINGS],
    colour: bool,
}

const COLOUR_TEXT: [Style; MEANINGS] = [
    Style::new(),
    Style::new().fg(Color::Green),
    Style::new().fg(Color::Yellow),
    Style::new().fg(Color::Red),
    Style::new().fg(Color::DarkGray),
    Style::new().fg(Color::Cyan),
];

const COLOUR_BADGE: [Style; MEANINGS] = [
    Style::new().fg(Color::Black).bg(Color::White),
    Style::new().fg(Color::Black).bg(Color::Green),
    Style::new().fg(Color::Black).bg(Color::Yellow),
    Style::new().fg(Color::White).bg(Color::Red),
    Style::new().fg(Color::Black).bg(Color::Gray),
    Style::new().fg(Color::Black).bg(Color::Cyan),
];

/// The no-colour palette: attributes only, so meanings stay apart without colour.
const PLAIN_TEXT: [Style; MEANINGS] = [
    Style::new(),
    Style::new(),
    Style::new().add_modifier(Modifier::BOLD),
    Style::new().add_modifier(Modifier::BOLD.union(Modifier::UNDERLINED)),
    Style::new().add_modifier(Modifier::DIM),
    Style::new().add_modifier(Modifier::BOLD),
];

const PLAIN_BADGE: [Style; MEANINGS] = [Style::new().add_modifier(Modifier::REVERSED); MEANINGS];

impl Theme {
    pub fn colour() -> Theme {
        Theme {
            text: COLOUR_TEXT,
            badge: COLOUR_BADGE,
            colour: true,
        }
    }

    pub fn plain() -> Theme {
        Theme {
            text: PLAIN_TEXT,
            badge: PLAIN_BADGE,
            colour: false,
        }
    }

    /// The palette for `[ui] color` and the value of `NO_COLOR`. Per
    /// no-color.org, a non-empty `NO_COLOR` turns colour off unless the
    /// configuration asks for it explicitly.
    pub fn resolve(mode: ColorMode, no_color: Option<&OsStr>) -> Theme {
        let wants_colour = match mode {
            ColorMode::Always => true,
            ColorMode::Never => false,
            ColorMode::Auto => no_color.is_none_or(|v| v.is_empty()),
        };
        if wants_colour {
            Theme::colour()
        } else {
            Theme::plain()
        }
    }

    pub fn has_colour(&self) -> bool {
        self.colour
    }

    pub fn style(&self, m: Meaning) -> Style {
        self.text[m.index()]
    }

    /// Bold text of that meaning.
    pub fn strong(&self, m: Meaning) -> Style {
        self.style(m).add_modifier(Modifier::BOLD)
    }

    /// A badge: the meaning as a filled block, readable at a glance.
    pub fn badge(&self, m: Meaning) -> Style {
        self.badge[m.index()].add_modifier(Modifier::BOLD)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    fn uses_colour(t: &Theme) -> bool {
        t.text
            .iter()
            .chain(t.badge.iter())
            .any(|s| s.fg.is_some() || s.bg.is_some())
    }

    #[test]
    fn no_color_turns_colour_off_in_auto_mode_only() {
        let set = OsString::from("1");
        assert!(!Theme::resolve(ColorMode::Auto, Some(&set)).has_colour());
        assert!(Theme::resolve(ColorMode::Auto, None).has_colour());
        // An empty NO_COLOR does not count.
        assert!(Theme::resolve(ColorMode::Auto, Some(OsStr::new(""))).has_colour());
        assert!(Theme::resolve(ColorMode::Always, Some(&set)).has_colour());
        assert!(!Theme::resolve(ColorMode::Never, None).has_colour());
    }

    #[test]
    fn the_plain_palette_has_no_colour_at_all() {
        assert!(!uses_colour(&Theme::plain()));
        assert!(uses_colour(&Theme::colour()));
    }

    #[test]
    fn plain_meanings_that_matter_still_look_different() {
        let t = Theme::plain();
        assert_ne!(t.style(Meaning::Warn), t.style(Meaning::Text));
        assert_ne!(t.style(Meaning::Error), t.style(Meaning::Warn));
        assert_ne!(t.style(Meaning::Muted), t.style(Meaning::Text));
    }
}

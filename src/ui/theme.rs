//! What things mean on screen, and how each meaning looks. Widgets ask for a
//! [`Meaning`]; only this module knows colours: a built-in `dark` (the
//! default) or `light` theme, each meaning's colour replaceable in `[theme]`.
//! Without colour (`[theme] name = "none"`, `NO_COLOR`, `--color never` or
//! `[ui] color = "never"`) one table of text attributes stands in for them.

use std::ffi::OsStr;
use std::str::FromStr;

use ratatui::style::{Color, Modifier, Style};

use crate::color::ColorEnv;
use crate::config::{ColorMode, ThemeName, ThemeSection};
use crate::settings::SettingsError;

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

/// For dark backgrounds. Muted is 256-colour grey 246 (#949494), not ANSI
/// dark grey: Solarized Dark and its kin make dark grey (bright black) their
/// background colour, which hid every label and hint.
const DARK_TEXT: [Style; MEANINGS] = [
    Style::new(),
    Style::new().fg(Color::Green),
    Style::new().fg(Color::Yellow),
    Style::new().fg(Color::Red),
    Style::new().fg(Color::Indexed(246)),
    Style::new().fg(Color::Cyan),
];

const DARK_BADGE: [Style; MEANINGS] = [
    Style::new().fg(Color::Black).bg(Color::White),
    Style::new().fg(Color::Black).bg(Color::Green),
    Style::new().fg(Color::Black).bg(Color::Yellow),
    Style::new().fg(Color::White).bg(Color::Red),
    Style::new().fg(Color::Black).bg(Color::Gray),
    Style::new().fg(Color::Black).bg(Color::Cyan),
];

/// For light backgrounds: darker colours from the 256-colour cube, which
/// themes do not remap (ANSI yellow and cyan are unreadable on white).
const LIGHT_TEXT: [Style; MEANINGS] = [
    Style::new(),
    Style::new().fg(Color::Indexed(22)),
    Style::new().fg(Color::Indexed(94)),
    Style::new().fg(Color::Indexed(160)),
    Style::new().fg(Color::Indexed(242)),
    Style::new().fg(Color::Indexed(25)),
];

const LIGHT_BADGE: [Style; MEANINGS] = [
    Style::new().fg(Color::White).bg(Color::Indexed(238)),
    Style::new().fg(Color::White).bg(Color::Indexed(22)),
    Style::new().fg(Color::White).bg(Color::Indexed(94)),
    Style::new().fg(Color::White).bg(Color::Indexed(160)),
    Style::new().fg(Color::White).bg(Color::Indexed(242)),
    Style::new().fg(Color::White).bg(Color::Indexed(25)),
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

/// What a colour in `[theme]` may be, for messages.
const COLOUR_WORDS: &str = "a colour: a name (red, light-blue, gray, dark-gray, …), \"#rrggbb\", or 0 to 255 (the terminal's 256-colour palette); empty: the theme's own";

impl Theme {
    /// The built-in dark theme (the default).
    pub fn colour() -> Theme {
        Theme::dark()
    }

    pub fn dark() -> Theme {
        Theme {
            text: DARK_TEXT,
            badge: DARK_BADGE,
            colour: true,
        }
    }

    pub fn light() -> Theme {
        Theme {
            text: LIGHT_TEXT,
            badge: LIGHT_BADGE,
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

    /// The built-in palette for `[ui] color` and the value of `NO_COLOR`. Per
    /// no-color.org, a non-empty `NO_COLOR` turns colour off unless the
    /// configuration asks for it explicitly.
    pub fn resolve(mode: ColorMode, no_color: Option<&OsStr>) -> Theme {
        let env = ColorEnv {
            no_color,
            clicolor_force: None,
        };
        // The dashboard draws on a terminal, always.
        if crate::color::wanted(mode, true, env) {
            Theme::colour()
        } else {
            Theme::plain()
        }
    }

    /// The palette `[theme]` describes: its built-in theme, each meaning
    /// given a colour taking the place of the theme's (for the text, and
    /// behind the badge). A colour that is not one is refused by its key.
    pub fn from_section(section: &ThemeSection) -> Result<Theme, SettingsError> {
        let mut theme = match section.name {
            ThemeName::Dark => Theme::dark(),
            ThemeName::Light => Theme::light(),
            ThemeName::None => return Ok(Theme::plain()),
        };
        for (m, key, value) in [
            (Meaning::Text, "theme.text", &section.text),
            (Meaning::Ok, "theme.ok", &section.ok),
            (Meaning::Warn, "theme.warn", &section.warn),
            (Meaning::Error, "theme.error", &section.error),
            (Meaning::Muted, "theme.muted", &section.muted),
            (Meaning::Accent, "theme.accent", &section.accent),
        ] {
            if value.is_empty() {
                continue;
            }
            let colour = Color::from_str(value.trim())
                .map_err(|_| SettingsError::new(key, value, COLOUR_WORDS))?;
            let i = m.index();
            theme.text[i] = theme.text[i].fg(colour);
            theme.badge[i] = theme.badge[i].bg(colour);
        }
        Ok(theme)
    }

    /// The palette for the dashboard: `[theme]`, unless `[ui] color` (or
    /// `--color`) and `NO_COLOR` say no colour, which is the no-colour
    /// palette whatever the theme.
    pub fn from_config(
        section: &ThemeSection,
        mode: ColorMode,
        no_color: Option<&OsStr>,
    ) -> Result<Theme, SettingsError> {
        let theme = Theme::from_section(section)?;
        Ok(if Theme::resolve(mode, no_color).has_colour() {
            theme
        } else {
            Theme::plain()
        })
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
        assert!(uses_colour(&Theme::dark()));
        assert!(uses_colour(&Theme::light()));
    }

    /// A terminal's 16 ANSI colours and its background, as RGB.
    struct Scheme {
        ansi: [(u8, u8, u8); 16],
        background: (u8, u8, u8),
    }

    /// Solarized Dark as terminals ship it: bright black (ANSI dark grey)
    /// is base03, the background itself.
    const SOLARIZED_DARK: Scheme = Scheme {
        ansi: [
            (0x07, 0x36, 0x42),
            (0xdc, 0x32, 0x2f),
            (0x85, 0x99, 0x00),
            (0xb5, 0x89, 0x00),
            (0x26, 0x8b, 0xd2),
            (0xd3, 0x36, 0x82),
            (0x2a, 0xa1, 0x98),
            (0xee, 0xe8, 0xd5),
            (0x00, 0x2b, 0x36),
            (0xcb, 0x4b, 0x16),
            (0x58, 0x6e, 0x75),
            (0x65, 0x7b, 0x83),
            (0x83, 0x94, 0x96),
            (0x6c, 0x71, 0xc4),
            (0x93, 0xa1, 0xa1),
            (0xfd, 0xf6, 0xe3),
        ],
        background: (0x00, 0x2b, 0x36),
    };

    const SOLARIZED_LIGHT: Scheme = Scheme {
        background: (0xfd, 0xf6, 0xe3),
        ..SOLARIZED_DARK
    };

    /// xterm's own colours.
    const XTERM: [(u8, u8, u8); 16] = [
        (0, 0, 0),
        (205, 0, 0),
        (0, 205, 0),
        (205, 205, 0),
        (0, 0, 238),
        (205, 0, 205),
        (0, 205, 205),
        (229, 229, 229),
        (127, 127, 127),
        (255, 0, 0),
        (0, 255, 0),
        (255, 255, 0),
        (92, 92, 255),
        (255, 0, 255),
        (0, 255, 255),
        (255, 255, 255),
    ];

    fn rgb(c: Color, ansi: &[(u8, u8, u8); 16]) -> (u8, u8, u8) {
        let named = [
            Color::Black,
            Color::Red,
            Color::Green,
            Color::Yellow,
            Color::Blue,
            Color::Magenta,
            Color::Cyan,
            Color::Gray,
            Color::DarkGray,
            Color::LightRed,
            Color::LightGreen,
            Color::LightYellow,
            Color::LightBlue,
            Color::LightMagenta,
            Color::LightCyan,
            Color::White,
        ];
        match c {
            Color::Rgb(r, g, b) => (r, g, b),
            Color::Indexed(i @ 0..16) => ansi[usize::from(i)],
            Color::Indexed(i @ 16..232) => {
                let level = |v: u8| if v == 0 { 0 } else { 55 + 40 * v };
                let i = i - 16;
                (level(i / 36), level(i / 6 % 6), level(i % 6))
            }
            Color::Indexed(i) => {
                let g = 8 + 10 * (i - 232);
                (g, g, g)
            }
            named_colour => ansi[named.iter().position(|n| *n == named_colour).unwrap()],
        }
    }

    /// WCAG 2 contrast ratio: 4.5 is "readable" for body text, 3 for large text.
    fn contrast(a: (u8, u8, u8), b: (u8, u8, u8)) -> f64 {
        let lum = |(r, g, b): (u8, u8, u8)| {
            let lin = |v: u8| {
                let v = f64::from(v) / 255.0;
                if v <= 0.03928 {
                    v / 12.92
                } else {
                    ((v + 0.055) / 1.055).powf(2.4)
                }
            };
            0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
        };
        let (hi, lo) = {
            let (x, y) = (lum(a), lum(b));
            if x > y { (x, y) } else { (y, x) }
        };
        (hi + 0.05) / (lo + 0.05)
    }

    fn fg(t: &Theme, m: Meaning) -> Color {
        t.style(m).fg.unwrap()
    }

    #[test]
    fn muted_text_is_readable_on_solarized_dark_and_dark_grey_was_not() {
        let dark = Theme::dark();
        let on = |c: Color, s: &Scheme| contrast(rgb(c, &s.ansi), s.background);
        // The colour muted text had before: the background itself there.
        assert!(on(Color::DarkGray, &SOLARIZED_DARK) < 1.1);
        let muted = fg(&dark, Meaning::Muted);
        for (scheme, name) in [
            (&SOLARIZED_DARK, "Solarized Dark"),
            (
                &Scheme {
                    ansi: XTERM,
                    background: (0, 0, 0),
                },
                "xterm on black",
            ),
        ] {
            assert!(
                on(muted, scheme) >= 4.5,
                "muted {muted:?} on {name}: {:.2}",
                on(muted, scheme)
            );
            // Everything else at least as readable as large text.
            for m in [Meaning::Ok, Meaning::Warn, Meaning::Error, Meaning::Accent] {
                assert!(on(fg(&dark, m), scheme) >= 3.0, "{m:?} on {name}");
            }
        }
        let light = Theme::light();
        for (scheme, name) in [
            (&SOLARIZED_LIGHT, "Solarized Light"),
            (
                &Scheme {
                    ansi: XTERM,
                    background: (255, 255, 255),
                },
                "xterm on white",
            ),
        ] {
            for m in [
                Meaning::Ok,
                Meaning::Warn,
                Meaning::Error,
                Meaning::Muted,
                Meaning::Accent,
            ] {
                let c = fg(&light, m);
                assert!(
                    on(c, scheme) >= 4.5,
                    "light {m:?} on {name}: {:.2}",
                    on(c, scheme)
                );
            }
        }
    }

    #[test]
    fn theme_colours_from_the_config_replace_the_built_in_ones() {
        let section = ThemeSection {
            name: ThemeName::Light,
            muted: "#8a8a8a".into(),
            ok: "light-green".into(),
            accent: " 33 ".into(),
            ..ThemeSection::default()
        };
        let t = Theme::from_section(&section).unwrap();
        assert_eq!(fg(&t, Meaning::Muted), Color::Rgb(0x8a, 0x8a, 0x8a));
        assert_eq!(fg(&t, Meaning::Ok), Color::LightGreen);
        assert_eq!(fg(&t, Meaning::Accent), Color::Indexed(33));
        assert_eq!(t.badge(Meaning::Ok).bg, Some(Color::LightGreen));
        // What was not given stays the light theme's.
        assert_eq!(
            t.style(Meaning::Error),
            Theme::light().style(Meaning::Error)
        );

        let e = Theme::from_section(&ThemeSection {
            muted: "grayish".into(),
            ..ThemeSection::default()
        })
        .unwrap_err();
        assert_eq!(e.setting, "theme.muted");
        assert!(e.to_string().contains("\"grayish\""), "{e}");
        assert!(e.to_string().contains("#rrggbb"), "{e}");

        // "none", and no colour asked for, are the no-colour palette.
        let none = ThemeSection {
            name: ThemeName::None,
            muted: "red".into(),
            ..ThemeSection::default()
        };
        assert_eq!(Theme::from_section(&none).unwrap(), Theme::plain());
        let never = Theme::from_config(&section, ColorMode::Never, None).unwrap();
        assert_eq!(never, Theme::plain());
        let set = OsString::from("1");
        assert_eq!(
            Theme::from_config(&section, ColorMode::Auto, Some(&set)).unwrap(),
            Theme::plain()
        );
        assert_eq!(
            Theme::from_config(&section, ColorMode::Always, Some(&set)).unwrap(),
            t
        );
    }

    #[test]
    fn plain_meanings_that_matter_still_look_different() {
        let t = Theme::plain();
        assert_ne!(t.style(Meaning::Warn), t.style(Meaning::Text));
        assert_ne!(t.style(Meaning::Error), t.style(Meaning::Warn));
        assert_ne!(t.style(Meaning::Muted), t.style(Meaning::Text));
    }
}

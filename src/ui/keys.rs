//! The keymap: the five configurable keys of `[keys]`, plus the fixed ones
//! (Esc, the log-scrolling keys, Ctrl-C).

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::config::KeysSection;
use crate::settings::SettingsError;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Leave,
    Join,
    Reconnect,
    Help,
    Quit,
    /// Esc: close the open overlay, or go back to the live log.
    Back,
    LogOlder,
    LogNewer,
    LogOldest,
    LogNewest,
}

/// The configured keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    leave: char,
    join: char,
    reconnect: char,
    help: char,
    quit: char,
}

impl Default for Keymap {
    fn default() -> Self {
        Keymap::from_config(&KeysSection::default()).expect("the default keys are valid")
    }
}

impl Keymap {
    /// Checks `[keys]`: one printable character each, no two the same.
    pub fn from_config(k: &KeysSection) -> Result<Keymap, SettingsError> {
        let one = |setting: &'static str, v: &str| -> Result<char, SettingsError> {
            let mut chars = v.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) if !c.is_control() && !c.is_whitespace() => Ok(c),
                _ => Err(SettingsError::new(
                    setting,
                    v,
                    "exactly one printable character, such as \"l\"",
                )),
            }
        };
        let map = Keymap {
            leave: one("keys.leave", &k.leave)?,
            join: one("keys.join", &k.join)?,
            reconnect: one("keys.reconnect", &k.reconnect)?,
            help: one("keys.help", &k.help)?,
            quit: one("keys.quit", &k.quit)?,
        };
        let named = map.named();
        for (i, (name, c)) in named.iter().enumerate() {
            if let Some((other, _)) = named[..i].iter().find(|(_, d)| d == c) {
                return Err(SettingsError::new(
                    name,
                    c.to_string(),
                    format!("a key not already used by {other}"),
                ));
            }
        }
        Ok(map)
    }

    fn named(&self) -> [(&'static str, char); 5] {
        [
            ("keys.leave", self.leave),
            ("keys.join", self.join),
            ("keys.reconnect", self.reconnect),
            ("keys.help", self.help),
            ("keys.quit", self.quit),
        ]
    }

    /// The action for a key press, if any. Releases are ignored; repeats count
    /// (holding PgUp keeps scrolling).
    pub fn action(&self, key: &KeyEvent) -> Option<Action> {
        if key.kind == KeyEventKind::Release {
            return None;
        }
        let plain = !key
            .modifiers
            .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT | KeyModifiers::SUPER);
        Some(match key.code {
            KeyCode::Char('c') if key.modifiers.contains(KeyModifiers::CONTROL) => Action::Quit,
            KeyCode::Char(c) if plain => {
                if c == self.leave {
                    Action::Leave
                } else if c == self.join {
                    Action::Join
                } else if c == self.reconnect {
                    Action::Reconnect
                } else if c == self.help {
                    Action::Help
                } else if c == self.quit {
                    Action::Quit
                } else {
                    return None;
                }
            }
            KeyCode::Esc => Action::Back,
            KeyCode::Up | KeyCode::PageUp => Action::LogOlder,
            KeyCode::Down | KeyCode::PageDown => Action::LogNewer,
            KeyCode::Home => Action::LogOldest,
            KeyCode::End => Action::LogNewest,
            _ => return None,
        })
    }

    /// How the key for `action` is written on screen.
    pub fn label(&self, action: Action) -> String {
        match action {
            Action::Leave => self.leave.to_string(),
            Action::Join => self.join.to_string(),
            Action::Reconnect => self.reconnect.to_string(),
            Action::Help => self.help.to_string(),
            Action::Quit => self.quit.to_string(),
            Action::Back => "Esc".into(),
            Action::LogOlder => "↑ PgUp".into(),
            Action::LogNewer => "↓ PgDn".into(),
            Action::LogOldest => "Home".into(),
            Action::LogNewest => "End".into(),
        }
    }

    /// Every key with what it does, for the help overlay.
    pub fn help(&self) -> Vec<(String, &'static str)> {
        let mut rows: Vec<(String, &'static str)> = [
            (Action::Leave, "leave the session"),
            (Action::Join, "join, or rejoin after leaving"),
            (Action::Reconnect, "reconnect now (skip the wait)"),
            (Action::Help, "show or hide this help"),
            (Action::Quit, "leave the session and quit"),
            (Action::Back, "close an overlay / follow the log"),
            (Action::LogOlder, "scroll the event log back"),
            (Action::LogNewer, "scroll the event log forward"),
            (Action::LogOldest, "oldest event in the log"),
            (Action::LogNewest, "newest event, follow the log"),
        ]
        .into_iter()
        .map(|(a, what)| (self.label(a), what))
        .collect();
        rows.push(("Ctrl-C".into(), "same as quit"));
        rows
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(c: char) -> KeyEvent {
        KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
    }

    #[test]
    fn default_keys_do_what_the_issue_says() {
        let k = Keymap::default();
        assert_eq!(k.action(&press('l')), Some(Action::Leave));
        assert_eq!(k.action(&press('j')), Some(Action::Join));
        assert_eq!(k.action(&press('r')), Some(Action::Reconnect));
        assert_eq!(k.action(&press('?')), Some(Action::Help));
        assert_eq!(k.action(&press('q')), Some(Action::Quit));
        assert_eq!(k.action(&press('x')), None);
        let esc = KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE);
        assert_eq!(k.action(&esc), Some(Action::Back));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(k.action(&ctrl_c), Some(Action::Quit));
        // Ctrl-L is not "l".
        let ctrl_l = KeyEvent::new(KeyCode::Char('l'), KeyModifiers::CONTROL);
        assert_eq!(k.action(&ctrl_l), None);
    }

    #[test]
    fn configured_keys_replace_the_defaults() {
        let k = Keymap::from_config(&KeysSection {
            leave: "x".into(),
            quit: "Q".into(),
            ..KeysSection::default()
        })
        .unwrap();
        assert_eq!(k.action(&press('x')), Some(Action::Leave));
        assert_eq!(k.action(&press('l')), None);
        assert_eq!(k.action(&press('Q')), Some(Action::Quit));
        assert!(
            k.help()
                .iter()
                .any(|(key, what)| key == "x" && what.contains("leave"))
        );
    }

    #[test]
    fn bad_keys_name_the_setting_and_what_was_expected() {
        let e = Keymap::from_config(&KeysSection {
            leave: "ll".into(),
            ..KeysSection::default()
        })
        .unwrap_err();
        assert_eq!(e.setting, "keys.leave");
        assert!(e.to_string().contains("one printable character"), "{e}");
        let e = Keymap::from_config(&KeysSection {
            quit: "l".into(),
            ..KeysSection::default()
        })
        .unwrap_err();
        assert_eq!(e.setting, "keys.quit");
        assert!(e.to_string().contains("keys.leave"), "{e}");
    }
}

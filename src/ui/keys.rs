//! The keymap: the configurable keys of `[keys]` (one table: setting,
//! default, what the key does), plus the fixed ones (Esc, the log-scrolling
//! keys, Ctrl-C). The fault keys inject the faults `[faults]` describes.

use std::time::Duration;

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::config::{FaultsSection, KeysSection};
use crate::engine::Fault;
use crate::settings::SettingsError;

/// What a key asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Leave,
    Join,
    Reconnect,
    /// Show or hide the settings-in-force panel.
    Settings,
    Help,
    Quit,
    /// Provoke a failure on purpose.
    Inject(Fault),
    /// Esc: close the open overlay, or go back to the live log.
    Back,
    LogOlder,
    LogNewer,
    LogOldest,
    LogNewest,
}

/// Which configurable key: the table's rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Key {
    Leave,
    Join,
    Reconnect,
    Settings,
    Help,
    Quit,
    Drop,
    Stall,
    ForgetResume,
    Refuse,
    Idle,
}

/// Every configurable key: its `[keys]` setting, its default, what it does.
const TABLE: [(Key, &str, &str, &str); 11] = [
    (Key::Leave, "keys.leave", "l", "leave the session"),
    (Key::Join, "keys.join", "j", "join, or rejoin after leaving"),
    (
        Key::Reconnect,
        "keys.reconnect",
        "r",
        "reconnect now (skip the wait)",
    ),
    (
        Key::Settings,
        "keys.settings",
        "s",
        "settings in force and server facts",
    ),
    (Key::Help, "keys.help", "?", "show or hide this help"),
    (Key::Quit, "keys.quit", "q", "leave the session and quit"),
    (
        Key::Drop,
        "keys.fault_drop",
        "D",
        "fault: drop the connection (no close frame)",
    ),
    (
        Key::Stall,
        "keys.fault_stall",
        "S",
        "fault: stall (stop reading and heartbeats)",
    ),
    (
        Key::ForgetResume,
        "keys.fault_forget_resume",
        "F",
        "fault: forget the resume token",
    ),
    (
        Key::Refuse,
        "keys.fault_refuse",
        "X",
        "fault: refuse the next reconnect attempts",
    ),
    (
        Key::Idle,
        "keys.fault_idle",
        "I",
        "fault: short idle timeout",
    ),
];

impl KeysSection {
    /// The setting's value for a row of the table.
    fn value(&self, key: Key) -> &str {
        match key {
            Key::Leave => &self.leave,
            Key::Join => &self.join,
            Key::Reconnect => &self.reconnect,
            Key::Settings => &self.settings,
            Key::Help => &self.help,
            Key::Quit => &self.quit,
            Key::Drop => &self.fault_drop,
            Key::Stall => &self.fault_stall,
            Key::ForgetResume => &self.fault_forget_resume,
            Key::Refuse => &self.fault_refuse,
            Key::Idle => &self.fault_idle,
        }
    }

    /// A row's default, for [`KeysSection::default`]: the table is its one home.
    pub(crate) fn default_for(setting: &str) -> String {
        TABLE
            .iter()
            .find(|(_, s, _, _)| *s == setting)
            .map(|(_, _, d, _)| (*d).to_owned())
            .expect("every [keys] setting is in the table")
    }
}

/// What the fault keys do, in the order of the table.
const FAULT_KEYS_HELP: &str = "inject drop/stall/forget-resume/refuse/idle";

/// The configured keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keymap {
    keys: [char; TABLE.len()],
    /// What the fault keys inject.
    faults: Presets,
}

/// The faults the keys inject, from `[faults]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Presets {
    stall: Duration,
    refuse: u32,
    idle: Duration,
}

impl Default for Presets {
    fn default() -> Self {
        Presets {
            stall: Fault::DEFAULT_STALL,
            refuse: Fault::DEFAULT_REFUSE,
            idle: Fault::DEFAULT_IDLE,
        }
    }
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
        let mut keys = [' '; TABLE.len()];
        for (i, (key, setting, _, _)) in TABLE.iter().enumerate() {
            let c = one(setting, k.value(*key))?;
            if let Some(j) = keys[..i].iter().position(|d| *d == c) {
                return Err(SettingsError::new(
                    setting,
                    c.to_string(),
                    format!("a key not already used by {}", TABLE[j].1),
                ));
            }
            keys[i] = c;
        }
        Ok(Keymap {
            keys,
            faults: Presets::default(),
        })
    }

    /// The faults the fault keys inject, checked (`[faults]`).
    pub fn with_faults(mut self, f: &FaultsSection) -> Result<Keymap, SettingsError> {
        let check = |setting: &'static str, fault: Fault, value: String| {
            if fault.in_range() {
                Ok(())
            } else {
                Err(SettingsError::new(setting, value, Fault::RANGES))
            }
        };
        let stall = Duration::from_millis(f.stall_ms);
        check(
            "faults.stall_ms",
            Fault::Stall { duration: stall },
            f.stall_ms.to_string(),
        )?;
        check(
            "faults.refuse_attempts",
            Fault::Refuse {
                attempts: f.refuse_attempts,
            },
            f.refuse_attempts.to_string(),
        )?;
        let idle = Duration::from_secs(f.idle_timeout_secs);
        check(
            "faults.idle_timeout_secs",
            Fault::Idle { timeout: idle },
            f.idle_timeout_secs.to_string(),
        )?;
        self.faults = Presets {
            stall,
            refuse: f.refuse_attempts,
            idle,
        };
        Ok(self)
    }

    fn action_of(&self, key: Key) -> Action {
        let p = self.faults;
        match key {
            Key::Leave => Action::Leave,
            Key::Join => Action::Join,
            Key::Reconnect => Action::Reconnect,
            Key::Settings => Action::Settings,
            Key::Help => Action::Help,
            Key::Quit => Action::Quit,
            Key::Drop => Action::Inject(Fault::Drop),
            Key::Stall => Action::Inject(Fault::Stall { duration: p.stall }),
            Key::ForgetResume => Action::Inject(Fault::ForgetResume),
            Key::Refuse => Action::Inject(Fault::Refuse { attempts: p.refuse }),
            Key::Idle => Action::Inject(Fault::Idle { timeout: p.idle }),
        }
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
                let i = self.keys.iter().position(|k| *k == c)?;
                self.action_of(TABLE[i].0)
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
            Action::Back => "Esc".into(),
            Action::LogOlder => "↑ PgUp".into(),
            Action::LogNewer => "↓ PgDn".into(),
            Action::LogOldest => "Home".into(),
            Action::LogNewest => "End".into(),
            other => TABLE
                .iter()
                .zip(self.keys)
                .find(|((key, ..), _)| self.action_of(*key) == other)
                .map(|(_, c)| c.to_string())
                .unwrap_or_default(),
        }
    }

    /// Every key with what it does, for the help overlay. `faults`: the
    /// fault keys are offered (not with `--no-faults`, nor in a replay).
    pub fn help(&self, faults: bool) -> Vec<(String, &'static str)> {
        let is_fault = |key: &Key| matches!(self.action_of(*key), Action::Inject(_));
        let mut rows: Vec<(String, &'static str)> = TABLE
            .iter()
            .zip(self.keys)
            .filter(|((key, ..), _)| !is_fault(key))
            .map(|((_, _, _, what), c)| (c.to_string(), *what))
            .collect();
        if faults {
            // One row for the five, so the help still fits 24 rows.
            let keys: Vec<String> = TABLE
                .iter()
                .zip(self.keys)
                .filter(|((key, ..), _)| is_fault(key))
                .map(|(_, c)| c.to_string())
                .collect();
            rows.push((keys.join(" "), FAULT_KEYS_HELP));
        }
        rows.extend(
            [
                (Action::Back, "close an overlay / follow the log"),
                (Action::LogOlder, "scroll the event log back"),
                (Action::LogNewer, "scroll the event log forward"),
                (Action::LogOldest, "oldest event in the log"),
                (Action::LogNewest, "newest event, follow the log"),
            ]
            .into_iter()
            .map(|(a, what)| (self.label(a), what)),
        );
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
            k.help(true)
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

    #[test]
    fn fault_keys_inject_what_faults_says_and_hide_when_off() {
        let k = Keymap::default()
            .with_faults(&FaultsSection {
                stall_ms: 2500,
                refuse_attempts: 12,
                ..FaultsSection::default()
            })
            .unwrap();
        assert_eq!(
            k.action(&press('S')),
            Some(Action::Inject(Fault::Stall {
                duration: Duration::from_millis(2500)
            }))
        );
        assert_eq!(
            k.action(&press('X')),
            Some(Action::Inject(Fault::Refuse { attempts: 12 }))
        );
        assert_eq!(k.action(&press('D')), Some(Action::Inject(Fault::Drop)));
        assert_eq!(k.label(Action::Inject(Fault::Refuse { attempts: 12 })), "X");
        assert!(
            k.help(true)
                .iter()
                .any(|(key, what)| key == "D S F X I" && what.contains("drop/stall"))
        );
        assert!(
            !k.help(false)
                .iter()
                .any(|(_, what)| what.starts_with("inject"))
        );
        let e = Keymap::default()
            .with_faults(&FaultsSection {
                refuse_attempts: 0,
                ..FaultsSection::default()
            })
            .unwrap_err();
        assert_eq!(e.setting, "faults.refuse_attempts");
    }
}

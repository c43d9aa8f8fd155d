//! What `calltop config` prints: the configuration in force as a config
//! file, each value with where it was set, and the commented default file.
//! Both read back as a [`Config`]: what is printed is what a run uses.

use std::path::Path;

use crate::config::{self, Config, Loaded};

/// The commented default file (`calltop config --default`): the example
/// file itself, so the two cannot drift apart; a test reads it back as the
/// defaults.
pub const DEFAULT_FILE: &str = include_str!("../config.example.toml");

/// Keys whose values are credentials: never printed, only whether one is set.
pub const SECRET_KEYS: [&str; 7] = [
    "session.token",
    "janus.pin",
    "janus.api_secret",
    "janus.room_secret",
    "janus.admin_key",
    "serve.admin_token",
    "serve.token_secret",
];

/// Where a value at its default "came from".
const DEFAULT: &str = "default";

/// The configuration in `loaded` as a TOML file, in the sections and key
/// order of the example file, each line ending with where its value was
/// set. A secret that is set is commented out (`# token = (set, not shown)`),
/// so the output never holds one and, used as a config file, cannot send
/// a placeholder as a credential. `file` is `--config`, if given.
pub fn effective(loaded: &Loaded, file: Option<&Path>) -> String {
    let mut out = String::new();
    out.push_str(
        "# The configuration in force: defaults < config file < CALLTOP_* environment < flags.\n",
    );
    let read = match file {
        Some(path) => format!("{} (--config)", path.display()),
        None => match config::default_path() {
            Some(p) if p.exists() => p.display().to_string(),
            Some(p) => format!("{} (not there)", p.display()),
            None => "none (no home directory)".to_owned(),
        },
    };
    out.push_str(&format!("# Config file: {read}\n"));
    out.push_str("# Each value says where it was set; secrets are not shown.\n");
    // toml writes the sections and keys in the type's order, one `key =
    // value` line each (every section is a table of plain values).
    let text = toml::to_string(&loaded.config).unwrap_or_default();
    let mut section = String::new();
    let lines: Vec<&str> = text.lines().collect();
    let width = lines
        .iter()
        .filter(|l| l.contains(" = "))
        .map(|l| l.len())
        .max()
        .unwrap_or(0)
        .min(48);
    for line in lines {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            out.push('\n');
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let Some((key, value)) = line.split_once(" = ") else {
            continue;
        };
        let full = format!("{section}.{key}");
        let origin = loaded.origin(&full).unwrap_or(DEFAULT);
        let shown = if SECRET_KEYS.contains(&full.as_str()) && value != "\"\"" {
            format!("# {key} = (set, not shown)")
        } else {
            line.to_owned()
        };
        out.push_str(&format!("{shown:<width$}  # {origin}\n"));
    }
    out
}

/// `config` with every secret emptied: what [`effective`] shows of it.
pub fn without_secrets(config: &Config) -> Config {
    let mut c = config.clone();
    for s in [
        &mut c.session.token,
        &mut c.janus.pin,
        &mut c.janus.api_secret,
        &mut c.janus.room_secret,
        &mut c.janus.admin_key,
        &mut c.serve.admin_token,
        &mut c.serve.token_secret,
    ] {
        s.clear();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_named_like_a_credential_is_a_secret_and_emptied() {
        let keys = toml::Table::try_from(Config::default()).unwrap();
        for (section, table) in &keys {
            for key in table.as_table().unwrap().keys() {
                let full = format!("{section}.{key}");
                let looks_secret = ["token", "secret", "pin", "key"]
                    .iter()
                    .any(|w| key.contains(w));
                assert_eq!(
                    SECRET_KEYS.contains(&full.as_str()),
                    looks_secret,
                    "{full}: a credential must be in SECRET_KEYS, nothing else"
                );
            }
        }
        let mut c = Config::default();
        c.session.token = "t".into();
        c.janus.pin = "p".into();
        c.janus.api_secret = "a".into();
        c.janus.room_secret = "r".into();
        c.janus.admin_key = "k".into();
        c.serve.admin_token = "t".into();
        c.serve.token_secret = "s".into();
        assert_eq!(without_secrets(&c), Config::default());
    }
}

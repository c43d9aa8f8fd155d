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
pub const SECRET_KEYS: [&str; 9] = [
    "session.token",
    "janus.pin",
    "janus.api_secret",
    "janus.room_secret",
    "janus.admin_key",
    "serve.admin_token",
    "serve.token_secret",
    "top.admin_token",
    "top.janus_admin_secret",
];

/// Where a value at its default "came from".
const DEFAULT: &str = "default";

/// The configuration in `loaded` as a TOML file, in the sections and key
/// order of the type (and so of the example file), each line ending with where its value was
/// set. A secret that is set is commented out (`# token = (set, not shown)`),
/// so the output never holds one and, used as a config file, cannot send
/// a placeholder as a credential. `file` is `--config`, if given.
pub fn effective(loaded: &Loaded, file: Option<&Path>) -> Result<String, toml::ser::Error> {
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
    out.push_str(&format!("# Config file: {}\n", one_line_comment(&read)));
    out.push_str("# Each value says where it was set; secrets are not shown.\n");
    // The sections and keys in the type's order: toml writes them so, and
    // the defaults hold no text that it would spread over several lines.
    let order = toml::to_string(&Config::default())?;
    let values = toml::Table::try_from(&loaded.config)?;
    let mut rows: Vec<(Option<String>, String)> = Vec::new();
    let mut section = String::new();
    for line in order.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            rows.push((None, line.to_owned()));
            continue;
        }
        let Some((key, _)) = line.split_once(" = ") else {
            continue;
        };
        let full = format!("{section}.{key}");
        let value = values
            .get(&section)
            .and_then(|t| t.get(key))
            .map(one_line)
            .unwrap_or_default();
        let shown = if SECRET_KEYS.contains(&full.as_str()) && value != "\"\"" {
            format!("# {key} = (set, not shown)")
        } else {
            format!("{key} = {value}")
        };
        let origin = loaded.origin(&full).unwrap_or(DEFAULT).to_owned();
        rows.push((Some(origin), shown));
    }
    let width = rows
        .iter()
        .filter(|(origin, _)| origin.is_some())
        .map(|(_, l)| l.chars().count())
        .max()
        .unwrap_or(0)
        .min(48);
    for (origin, line) in rows {
        match origin {
            None => out.push_str(&format!("\n{line}\n")),
            // An origin names a file or variable: one line, whatever the path holds.
            Some(o) => out.push_str(&format!("{line:<width$}  # {}\n", one_line_comment(&o))),
        }
    }
    Ok(out)
}

/// A value as TOML on one line: text as a basic string with every control
/// character escaped (toml itself would write text with a line break over
/// several lines, and the origin comment would land inside it).
fn one_line(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => {
            let mut out = String::with_capacity(s.len() + 2);
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' => out.push_str("\\t"),
                    c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        other => other.to_string(),
    }
}

/// `text` safe after a `#`: no line break can end the comment early.
fn one_line_comment(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect()
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
        &mut c.top.admin_token,
        &mut c.top.janus_admin_secret,
    ] {
        s.clear();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn awkward_text_reads_back_as_it_was() {
        let mut c = Config::default();
        c.session.user = "two\nlines \"quoted\" \\ tab\t del\u{7f} = x".into();
        c.session.session = "it's = here".into();
        let loaded = Config::load_with_warnings(crate::config::Sources {
            env: Some(
                [
                    ("CALLTOP_SESSION__USER".to_owned(), c.session.user.clone()),
                    (
                        "CALLTOP_SESSION__SESSION".to_owned(),
                        c.session.session.clone(),
                    ),
                ]
                .into(),
            ),
            ..Default::default()
        })
        .unwrap();
        let text = effective(&loaded, None).unwrap();
        let back: Config = toml::from_str(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(back, c, "{text}");
        for line in text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with(['#', '[']))
        {
            assert!(
                line.contains("  # "),
                "every value says where it was set: {line}"
            );
        }
    }

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
        c.top.admin_token = "t".into();
        c.top.janus_admin_secret = "s".into();
        assert_eq!(without_secrets(&c), Config::default());
    }
}

//! The settings file, `CALLTOP_*` environment and flags, merged by the `config`
//! crate (defaults < file < environment < flags), into one typed [`Config`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;
use crate::backoff::ReconnectPolicy;
use crate::server::ServerConfig;
use crate::settings::{JanusOptions, Secret, SessionSettings, SettingsError};

/// The most event-log lines kept: enough for hours of a busy call, small
/// enough that scrolling through all of it stays instant.
pub const MAX_LOG_CAPACITY: usize = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config file {path}: {source}")]
    File {
        path: PathBuf,
        source: config::ConfigError,
    },
    #[error("configuration: {0}")]
    Invalid(#[from] config::ConfigError),
    #[error(transparent)]
    Setting(#[from] SettingsError),
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub session: SessionSection,
    pub connection: ConnectionSection,
    pub reconnect: ReconnectSection,
    pub janus: JanusSection,
    pub serve: ServeSection,
    pub ui: UiSection,
    pub keys: KeysSection,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SessionSection {
    /// ws:// or wss:// URL; empty runs the embedded demo server.
    pub server: String,
    pub backend: BackendKind,
    pub session: String,
    /// Empty: the login name ($USER), else "calltop".
    pub user: String,
    pub token: String,
    /// 0 disables the idle timeout.
    pub idle_timeout_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectionSection {
    pub heartbeat_interval_ms: u64,
    pub heartbeat_timeout_ms: u64,
    pub connect_timeout_ms: u64,
    pub leave_timeout_ms: u64,
    pub max_frame_bytes: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ReconnectSection {
    pub initial_delay_ms: u64,
    pub max_delay_ms: u64,
    pub multiplier: f64,
    pub max_attempts: u32,
    pub jitter: f64,
}

/// Options of the Janus backend (`backend = "janus"`); the session is the
/// VideoRoom room, the user the display name, `session.token` Janus's token.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JanusSection {
    /// The room's pin. Empty: none.
    pub pin: String,
    /// The server's api_secret. Empty: none.
    pub api_secret: String,
    /// Create the room when it does not exist.
    pub create_room: bool,
    /// With create_room: the new room's secret. Empty: none.
    pub room_secret: String,
    /// With create_room: the VideoRoom admin_key. Empty: none.
    pub admin_key: String,
    /// Join with this participant id. 0: Janus picks one.
    pub participant_id: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServeSection {
    /// HOST:PORT; a host name is resolved (`localhost:7878`).
    pub listen: String,
    pub resume_window_secs: u64,
    pub max_frame_bytes: usize,
    /// Empty: a random token, printed at start.
    pub admin_token: String,
    /// Empty: joins need no token.
    pub join_token: String,
    pub client_silence_secs: u64,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    pub upgrade_timeout_secs: u64,
    pub listen_backlog: u32,
    pub max_queued_bytes: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColorMode {
    /// Colour unless NO_COLOR is set.
    Auto,
    Always,
    Never,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiSection {
    pub color: ColorMode,
    /// Event-log lines kept in memory.
    pub log_capacity: usize,
    /// Run the scripted demo participants on the embedded server.
    pub demo: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSection {
    pub leave: String,
    pub join: String,
    pub reconnect: String,
    pub help: String,
    pub quit: String,
}

impl Default for SessionSection {
    fn default() -> Self {
        SessionSection {
            server: String::new(),
            backend: BackendKind::Calltop,
            session: "demo".into(),
            user: String::new(),
            token: String::new(),
            idle_timeout_secs: SessionSettings::DEFAULT_IDLE_TIMEOUT.as_secs(),
        }
    }
}

impl Default for ConnectionSection {
    fn default() -> Self {
        ConnectionSection {
            heartbeat_interval_ms: SessionSettings::DEFAULT_HEARTBEAT_INTERVAL.as_millis() as u64,
            heartbeat_timeout_ms: SessionSettings::DEFAULT_HEARTBEAT_TIMEOUT.as_millis() as u64,
            connect_timeout_ms: SessionSettings::DEFAULT_CONNECT_TIMEOUT.as_millis() as u64,
            leave_timeout_ms: SessionSettings::DEFAULT_LEAVE_TIMEOUT.as_millis() as u64,
            max_frame_bytes: crate::protocol::DEFAULT_MAX_FRAME_BYTES,
        }
    }
}

impl Default for ReconnectSection {
    fn default() -> Self {
        let p = ReconnectPolicy::default();
        ReconnectSection {
            initial_delay_ms: p.initial_delay.as_millis() as u64,
            max_delay_ms: p.max_delay.as_millis() as u64,
            multiplier: p.multiplier,
            max_attempts: p.max_attempts,
            jitter: p.jitter,
        }
    }
}

impl Default for ServeSection {
    fn default() -> Self {
        let s = ServerConfig::default();
        ServeSection {
            listen: s.listen.to_string(),
            resume_window_secs: s.resume_window.as_secs(),
            max_frame_bytes: s.max_frame_bytes,
            admin_token: String::new(),
            join_token: String::new(),
            client_silence_secs: s.client_silence.as_secs(),
            max_connections: s.max_connections,
            max_connections_per_ip: s.max_connections_per_ip,
            upgrade_timeout_secs: s.upgrade_timeout.as_secs(),
            listen_backlog: s.listen_backlog,
            max_queued_bytes: s.max_queued_bytes,
        }
    }
}

impl Default for UiSection {
    fn default() -> Self {
        UiSection {
            color: ColorMode::Auto,
            log_capacity: 2000,
            demo: true,
        }
    }
}

impl Default for KeysSection {
    fn default() -> Self {
        KeysSection {
            leave: "l".into(),
            join: "j".into(),
            reconnect: "r".into(),
            help: "?".into(),
            quit: "q".into(),
        }
    }
}

/// The config file used when `--config` is not given, if it exists.
pub fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "calltop").map(|d| d.config_dir().join("config.toml"))
}

/// Where a config comes from. `env` is the environment to read `CALLTOP_*`
/// from (`None`: the process environment), so tests need not touch it.
#[derive(Debug, Default)]
pub struct Sources<'a> {
    pub file: Option<&'a Path>,
    /// A file that is used only if it exists (the user's config directory).
    pub optional_file: Option<PathBuf>,
    pub env: Option<std::collections::HashMap<String, String>>,
    /// Flag values as (key, value) pairs, highest precedence.
    pub overrides: Vec<(&'static str, config::Value)>,
}

impl Config {
    pub fn load(src: Sources<'_>) -> Result<Config, ConfigError> {
        let defaults = config::Config::try_from(&Config::default())?;
        let mut b = config::Config::builder().add_source(defaults);
        if let Some(path) = src.file {
            if !path.is_file() {
                return Err(ConfigError::File {
                    path: path.to_owned(),
                    source: config::ConfigError::Message("no such file".into()),
                });
            }
            b = b.add_source(config::File::from(path).format(config::FileFormat::Toml));
        } else if let Some(path) = &src.optional_file
            && path.is_file()
        {
            b = b.add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
        }
        // After the files: later sources win.
        let env = config::Environment::with_prefix("CALLTOP")
            .prefix_separator("_")
            .separator("__")
            .source(src.env);
        b = b.add_source(env);
        for (key, value) in src.overrides {
            b = b.set_override(key, value)?;
        }
        let built = b.build()?;
        built.try_deserialize().map_err(|e| match src.file {
            Some(p) => ConfigError::File {
                path: p.to_owned(),
                source: e,
            },
            None => ConfigError::Invalid(e),
        })
    }

    /// Our user name: the configured one, else the login name.
    pub fn user(&self) -> String {
        if !self.session.user.is_empty() {
            return self.session.user.clone();
        }
        std::env::var("USER")
            .ok()
            .filter(|u| crate::protocol::valid_name(u))
            .unwrap_or_else(|| "calltop".into())
    }

    /// Session settings for `server` (the configured one, or the embedded server's URL).
    pub fn session_settings(&self, server: &str) -> Result<SessionSettings, SettingsError> {
        let c = &self.connection;
        let r = &self.reconnect;
        let ms = Duration::from_millis;
        let mut b = SessionSettings::builder(server, self.session.session.clone(), self.user())
            .backend(self.session.backend)
            .idle_timeout(Duration::from_secs(self.session.idle_timeout_secs))
            .heartbeat_interval(ms(c.heartbeat_interval_ms))
            .heartbeat_timeout(ms(c.heartbeat_timeout_ms))
            .connect_timeout(ms(c.connect_timeout_ms))
            .leave_timeout(ms(c.leave_timeout_ms))
            .max_frame_bytes(c.max_frame_bytes)
            .reconnect(ReconnectPolicy {
                initial_delay: ms(r.initial_delay_ms),
                max_delay: ms(r.max_delay_ms),
                multiplier: r.multiplier,
                max_attempts: r.max_attempts,
                jitter: r.jitter,
            });
        if !self.session.token.is_empty() {
            b = b.token(self.session.token.clone());
        }
        let j = &self.janus;
        let secret = |s: &String| Some(Secret::new(s.clone())).filter(|_| !s.is_empty());
        b = b.janus(JanusOptions {
            pin: secret(&j.pin),
            api_secret: secret(&j.api_secret),
            create_room: j.create_room,
            room_secret: secret(&j.room_secret),
            admin_key: secret(&j.admin_key),
            participant_id: Some(j.participant_id).filter(|id| *id != 0),
        });
        b.build()
    }

    /// Every setting a session or the embedded server will use, checked before
    /// anything starts (with no server configured, the embedded one's URL is
    /// not known yet; a loopback stand-in takes its place for the check).
    pub fn check(&self) -> Result<(), SettingsError> {
        if self.session.server.is_empty() && self.session.backend == BackendKind::Janus {
            return Err(SettingsError::new(
                "session.server",
                "",
                "the Janus server's URL, such as ws://127.0.0.1:8188 (the embedded demo server speaks calltop's protocol, not Janus's)",
            ));
        }
        let server = if self.session.server.is_empty() {
            "ws://127.0.0.1:1/ws"
        } else {
            &self.session.server
        };
        self.session_settings(server)?;
        self.server_config()?;
        if !(1..=MAX_LOG_CAPACITY).contains(&self.ui.log_capacity) {
            return Err(SettingsError::new(
                "ui.log_capacity",
                self.ui.log_capacity,
                format!("1 to {MAX_LOG_CAPACITY} lines"),
            ));
        }
        Ok(())
    }

    pub fn server_config(&self) -> Result<ServerConfig, SettingsError> {
        let s = &self.serve;
        let config = ServerConfig {
            listen: crate::server::listen::resolve(&s.listen)?,
            resume_window: Duration::from_secs(s.resume_window_secs),
            max_frame_bytes: s.max_frame_bytes,
            admin_token: Some(s.admin_token.clone()).filter(|t| !t.is_empty()),
            join_token: Some(s.join_token.clone()).filter(|t| !t.is_empty()),
            client_silence: Duration::from_secs(s.client_silence_secs),
            max_connections: s.max_connections,
            max_connections_per_ip: s.max_connections_per_ip,
            upgrade_timeout: Duration::from_secs(s.upgrade_timeout_secs),
            listen_backlog: s.listen_backlog,
            max_queued_bytes: s.max_queued_bytes,
        };
        config.validate()?;
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    #[test]
    fn the_example_file_parses_into_the_defaults_and_names_every_key() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml");
        let loaded = Config::load(Sources {
            file: Some(&path),
            env: env(&[]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(loaded, Config::default());
        // Every key of the real type appears, uncommented, in the example.
        let text = std::fs::read_to_string(&path).unwrap();
        let example: toml::Table = toml::from_str(&text).unwrap();
        let real = toml::Table::try_from(Config::default()).unwrap();
        for (section, keys) in &real {
            let keys = keys.as_table().unwrap();
            let ex = example
                .get(section)
                .and_then(|t| t.as_table())
                .unwrap_or_else(|| panic!("config.example.toml lacks [{section}]"));
            for key in keys.keys() {
                assert!(
                    ex.contains_key(key),
                    "config.example.toml lacks {section}.{key}"
                );
            }
            assert_eq!(
                ex.len(),
                keys.len(),
                "[{section}] has keys the real type does not"
            );
        }
    }

    #[test]
    fn env_beats_file_and_flags_beat_env() {
        let dir = std::env::temp_dir().join(format!("calltop-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(
            &file,
            "[session]\nsession = \"from-file\"\nuser = \"file-user\"\nidle_timeout_secs = 10\n",
        )
        .unwrap();
        let c = Config::load(Sources {
            file: Some(&file),
            env: env(&[
                ("CALLTOP_SESSION__USER", "env-user"),
                ("CALLTOP_SESSION__IDLE_TIMEOUT_SECS", "20"),
            ]),
            overrides: vec![("session.idle_timeout_secs", 30u64.into())],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.session.session, "from-file");
        assert_eq!(c.session.user, "env-user");
        assert_eq!(c.session.idle_timeout_secs, 30);
    }

    #[test]
    fn a_bad_value_names_the_key_and_the_value() {
        let e = Config::load(Sources {
            env: env(&[("CALLTOP_RECONNECT__MAX_ATTEMPTS", "lots")]),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("max_attempts"), "{e}");
        assert!(e.contains("lots"), "{e}");
    }

    #[test]
    fn env_strings_that_look_like_numbers_stay_strings() {
        let c = Config::load(Sources {
            env: env(&[
                ("CALLTOP_SESSION__TOKEN", "0123"),
                ("CALLTOP_SESSION__SESSION", "1e3"),
            ]),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(c.session.token, "0123");
        assert_eq!(c.session.session, "1e3");
    }

    #[test]
    fn janus_without_a_server_is_refused_not_pointed_at_the_demo() {
        let mut c = Config::default();
        c.session.backend = BackendKind::Janus;
        assert_eq!(c.check().unwrap_err().setting, "session.server");
        c.session.server = "ws://127.0.0.1:8188".into();
        c.session.session = "1234".into();
        c.check().unwrap();
    }

    #[test]
    fn janus_flags_and_env_reach_the_session_settings() {
        let c = Config::load(Sources {
            env: env(&[
                ("CALLTOP_SESSION__BACKEND", "janus"),
                ("CALLTOP_JANUS__PIN", "0042"),
                ("CALLTOP_JANUS__CREATE_ROOM", "true"),
            ]),
            overrides: vec![("janus.participant_id", 77u64.into())],
            ..Default::default()
        })
        .unwrap();
        let s = c.session_settings("ws://127.0.0.1:8188").unwrap();
        assert_eq!(s.backend, BackendKind::Janus);
        assert_eq!(s.janus.pin.as_ref().map(|p| p.expose()), Some("0042"));
        assert!(s.janus.create_room);
        assert_eq!(s.janus.participant_id, Some(77));
    }

    #[test]
    fn log_capacity_is_bounded() {
        let mut c = Config::default();
        c.ui.log_capacity = 100_000_000_000;
        assert_eq!(c.check().unwrap_err().setting, "ui.log_capacity");
        c.ui.log_capacity = 0;
        assert_eq!(c.check().unwrap_err().setting, "ui.log_capacity");
        c.ui.log_capacity = 2000;
        c.check().unwrap();
    }

    #[test]
    fn serve_limits_and_listen_are_checked_by_name() {
        let refused = |f: fn(&mut ServeSection)| {
            let mut c = Config::default();
            f(&mut c.serve);
            c.check().unwrap_err().setting
        };
        assert_eq!(refused(|s| s.max_connections = 0), "serve.max_connections");
        assert_eq!(
            refused(|s| s.max_connections_per_ip = 0),
            "serve.max_connections_per_ip"
        );
        assert_eq!(
            refused(|s| s.upgrade_timeout_secs = 0),
            "serve.upgrade_timeout_secs"
        );
        assert_eq!(refused(|s| s.listen_backlog = 0), "serve.listen_backlog");
        assert_eq!(
            refused(|s| s.max_queued_bytes = 100),
            "serve.max_queued_bytes"
        );
        assert_eq!(refused(|s| s.listen = "nowhere".into()), "serve.listen");
        let mut c = Config::default();
        c.serve.listen = "localhost:7879".into();
        let sc = c.server_config().unwrap();
        assert!(sc.listen.ip().is_loopback());
        assert_eq!(sc.listen.port(), 7879);
    }

    #[test]
    fn an_unknown_key_is_refused_not_ignored() {
        let dir = std::env::temp_dir().join(format!("calltop-cfg2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("c.toml");
        std::fs::write(&file, "[session]\nidle_timout_secs = 10\n").unwrap();
        let e = Config::load(Sources {
            file: Some(&file),
            env: env(&[]),
            ..Default::default()
        })
        .unwrap_err()
        .to_string();
        assert!(e.contains("idle_timout_secs"), "{e}");
    }
}

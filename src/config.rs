//! The settings file, `CALLTOP_*` environment and flags, merged by the `config`
//! crate (defaults < file < environment < flags), into one typed [`Config`].

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use config::{Map, Value, ValueKind};
use serde::{Deserialize, Serialize};

use crate::backend::BackendKind;
use crate::backoff::ReconnectPolicy;
use crate::server::ServerConfig;
use crate::settings::{JanusOptions, Secret, SessionSettings, SettingsError};

/// The most event-log lines kept: enough for hours of a busy call, small
/// enough that scrolling through all of it stays instant.
pub const MAX_LOG_CAPACITY: usize = 100_000;

/// The largest config file read: far more than every key with a comment,
/// and a bound for `--config /dev/zero`.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Why the configuration cannot be used. Each message names the setting, the
/// value, where it was set (file or environment variable) and what was expected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read: missing, a directory, not UTF-8, too large.
    #[error("cannot read config file {}: {reason}", path.display())]
    Read { path: PathBuf, reason: String },
    /// The file is not TOML, or not in calltop's shape.
    #[error("config file {}: {message}", path.display())]
    Parse { path: PathBuf, message: String },
    /// A section or key that does not exist (`origin`: where it was written).
    #[error("{origin}: {message}")]
    Unknown { origin: String, message: String },
    /// A value of the wrong kind for its key.
    #[error("invalid {key} = {value}{}: expected {expected}", from_where(origin))]
    Value {
        key: String,
        value: String,
        origin: Option<String>,
        expected: String,
    },
    #[error("configuration: {0}")]
    Other(String),
    #[error(transparent)]
    Setting(#[from] SettingsError),
}

fn from_where(origin: &Option<String>) -> String {
    origin
        .as_deref()
        .map(|o| format!(" (from {o})"))
        .unwrap_or_default()
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
    pub faults: FaultsSection,
    pub theme: ThemeSection,
    pub top: TopSection,
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
    pub max_participants: usize,
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
    pub token_secret: String,
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
    /// Colour on a terminal unless NO_COLOR is set; elsewhere (a pipe, a
    /// file) only with CLICOLOR_FORCE. See `crate::color`.
    Auto,
    Always,
    Never,
}

impl ColorMode {
    pub const ALL: [ColorMode; 3] = [ColorMode::Auto, ColorMode::Always, ColorMode::Never];

    /// The word in the config file (`[ui].color`).
    pub fn as_str(self) -> &'static str {
        match self {
            ColorMode::Auto => "auto",
            ColorMode::Always => "always",
            ColorMode::Never => "never",
        }
    }
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

/// `calltop top`; the server and backend are `[session]`'s.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopSection {
    pub poll_interval_ms: u64,
    /// One poll may take this long before it counts as failed.
    pub request_timeout_ms: u64,
    /// The reference server's admin token. Empty: none (refused: the list needs it).
    pub admin_token: String,
    /// Janus's Admin API (ws://HOST:7188), for join times. Empty: not used.
    pub janus_admin_url: String,
    pub janus_admin_secret: String,
    /// Event-log lines kept.
    pub log_lines: usize,
}

impl Default for TopSection {
    fn default() -> Self {
        TopSection {
            poll_interval_ms: 2000,
            request_timeout_ms: 5000,
            admin_token: String::new(),
            janus_admin_url: String::new(),
            janus_admin_secret: String::new(),
            log_lines: 1000,
        }
    }
}

/// The dashboard's palette: a built-in theme, and a colour per meaning
/// over it (empty: the theme's own). See `crate::ui::theme`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThemeSection {
    pub name: ThemeName,
    pub text: String,
    pub ok: String,
    pub warn: String,
    pub error: String,
    pub muted: String,
    pub accent: String,
}

/// The built-in themes (`[theme] name`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ThemeName {
    /// For dark terminal backgrounds.
    #[default]
    Dark,
    /// For light terminal backgrounds.
    Light,
    /// No colour: text attributes only, as with `color = "never"`.
    None,
}

impl ThemeName {
    pub const ALL: [ThemeName; 3] = [ThemeName::Dark, ThemeName::Light, ThemeName::None];

    pub fn as_str(self) -> &'static str {
        match self {
            ThemeName::Dark => "dark",
            ThemeName::Light => "light",
            ThemeName::None => "none",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KeysSection {
    pub leave: String,
    pub join: String,
    pub reconnect: String,
    pub settings: String,
    pub help: String,
    pub quit: String,
    pub fault_drop: String,
    pub fault_stall: String,
    pub fault_forget_resume: String,
    pub fault_refuse: String,
    pub fault_idle: String,
}

/// Fault injection (docs/EVENTS.md, "Fault injection"): whether it is
/// allowed at all, and what the dashboard's fault keys inject.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FaultsSection {
    pub enabled: bool,
    pub stall_ms: u64,
    pub refuse_attempts: u32,
    pub idle_timeout_secs: u64,
}

impl Default for FaultsSection {
    fn default() -> Self {
        use crate::engine::Fault;
        FaultsSection {
            enabled: true,
            stall_ms: Fault::DEFAULT_STALL.as_millis() as u64,
            refuse_attempts: Fault::DEFAULT_REFUSE,
            idle_timeout_secs: Fault::DEFAULT_IDLE.as_secs(),
        }
    }
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
            max_participants: SessionSettings::DEFAULT_MAX_PARTICIPANTS,
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
            token_secret: String::new(),
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
        let key = KeysSection::default_for;
        KeysSection {
            leave: key("keys.leave"),
            join: key("keys.join"),
            reconnect: key("keys.reconnect"),
            settings: key("keys.settings"),
            help: key("keys.help"),
            quit: key("keys.quit"),
            fault_drop: key("keys.fault_drop"),
            fault_stall: key("keys.fault_stall"),
            fault_forget_resume: key("keys.fault_forget_resume"),
            fault_refuse: key("keys.fault_refuse"),
            fault_idle: key("keys.fault_idle"),
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

/// A configuration with what a person should hear about it.
#[derive(Debug)]
pub struct Loaded {
    pub config: Config,
    /// Things ignored on the way (environment variables that are not settings).
    pub warnings: Vec<String>,
    /// Where each key that is not at its default was set, by `section.key`.
    origins: BTreeMap<String, String>,
}

impl Loaded {
    /// Where `key` (`section.key`) was set, if not left at its default.
    pub fn origin(&self, key: &str) -> Option<&str> {
        self.origins.get(key).map(String::as_str)
    }

    /// `e` with where its setting was set, when that is known: a setting
    /// names a config key, or the session setting behind one (`server` is
    /// `session.server`, `reconnect.max_delay` is `reconnect.max_delay_ms`).
    pub fn explain(&self, e: &SettingsError) -> String {
        let s = e.setting;
        let found = ["", "session.", "connection."]
            .iter()
            .flat_map(|section| ["", "_ms", "_secs"].map(move |unit| format!("{section}{s}{unit}")))
            .find_map(|key| self.origin(&key));
        match found {
            Some(origin) => format!("{e} (from {origin})"),
            None => e.to_string(),
        }
    }
}

/// Where a value came from, as messages say it.
const COMMAND_LINE: &str = "the command line";

impl Config {
    /// The configuration from `src`, merged; see [`Config::load_with_warnings`].
    pub fn load(src: Sources<'_>) -> Result<Config, ConfigError> {
        Config::load_with_warnings(src).map(|l| l.config)
    }

    /// Defaults < the file < `CALLTOP_<SECTION>__<KEY>` variables < flags.
    /// The file is read here (so `/dev/null`, a FIFO or `<(...)` work), an
    /// unknown section or key is refused naming the file or the variable,
    /// and a bad value naming its key, the value, where it came from and
    /// what it may be. `CALLTOP_*` variables that are not shaped like a
    /// setting (no `__`) are ignored, with a warning.
    pub fn load_with_warnings(src: Sources<'_>) -> Result<Loaded, ConfigError> {
        let schema = schema()?;
        let defaults = config::Config::try_from(&Config::default())
            .map_err(|e| ConfigError::Other(e.to_string()))?;
        let mut b = config::Config::builder().add_source(defaults);
        let file = match (src.file, &src.optional_file) {
            (Some(path), _) => Some((path, read_file(path)?)),
            (None, Some(path)) => match read_file(path) {
                Err(ConfigError::Read { .. }) if !path.exists() => None,
                read => Some((path.as_path(), read?)),
            },
            (None, None) => None,
        };
        if let Some((path, text)) = file {
            b = b.add_source(Layer(file_layer(path, &text, &schema)?));
        }
        // After the file: later sources win.
        let mut warnings = Vec::new();
        let vars: Vec<(OsString, OsString)> = match src.env {
            Some(map) => map.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
            None => std::env::vars_os().collect(),
        };
        b = b.add_source(Layer(env_layer(vars, &schema, &mut warnings)?));
        let command_line = COMMAND_LINE.to_owned();
        for (key, value) in src.overrides {
            b = b
                .set_override(key, config::Value::new(Some(&command_line), value.kind))
                .map_err(|e| ConfigError::Other(e.to_string()))?;
        }
        let built = b.build().map_err(|e| ConfigError::Other(e.to_string()))?;
        let merged =
            config::Source::collect(&built).map_err(|e| ConfigError::Other(e.to_string()))?;
        let config = built
            .try_deserialize()
            .map_err(|e| explain_value_error(e, &merged, &schema))?;
        let mut origins = BTreeMap::new();
        for (section, table) in &merged {
            if let ValueKind::Table(table) = &table.kind {
                for (key, value) in table {
                    if let Some(o) = value.origin() {
                        origins.insert(format!("{section}.{key}"), o.to_owned());
                    }
                }
            }
        }
        Ok(Loaded {
            config,
            warnings,
            origins,
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
            .faults(self.faults.enabled)
            .heartbeat_interval(ms(c.heartbeat_interval_ms))
            .heartbeat_timeout(ms(c.heartbeat_timeout_ms))
            .connect_timeout(ms(c.connect_timeout_ms))
            .leave_timeout(ms(c.leave_timeout_ms))
            .max_frame_bytes(c.max_frame_bytes)
            .max_participants(c.max_participants)
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
        // The dashboard's rule, so headless mode refuses what the dashboard refuses.
        crate::ui::keys::Keymap::from_config(&self.keys)?.with_faults(&self.faults)?;
        crate::ui::theme::Theme::from_section(&self.theme)?;
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
            token_secret: Some(s.token_secret.clone()).filter(|t| !t.is_empty()),
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

/// Every section and its keys with their default values, from the real type
/// (so the checks below cannot drift from it).
type Schema = toml::Table;

fn schema() -> Result<Schema, ConfigError> {
    toml::Table::try_from(Config::default()).map_err(|e| ConfigError::Other(e.to_string()))
}

fn keys_of(schema: &Schema, section: &str) -> Option<String> {
    let keys = schema.get(section)?.as_table()?;
    Some(
        keys.keys()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn sections(schema: &Schema) -> String {
    let names: Vec<String> = schema.keys().map(|s| format!("[{s}]")).collect();
    names.join(", ")
}

/// The whole file as text: read here rather than by `config`, which wants a
/// regular file and so refused `/dev/null`, FIFOs and `<(...)`.
fn read_file(path: &Path) -> Result<String, ConfigError> {
    use std::io::Read;
    let failed = |reason: String| ConfigError::Read {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| failed(e.to_string()))?;
    let mut text = String::new();
    file.take(MAX_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(|e| failed(e.to_string()))?;
    if text.len() as u64 > MAX_FILE_BYTES {
        return Err(failed(format!(
            "larger than {} KiB, so not a config file",
            MAX_FILE_BYTES / 1024
        )));
    }
    Ok(text)
}

/// The file's values, each remembering the file; unknown sections and keys refused.
fn file_layer(path: &Path, text: &str, schema: &Schema) -> Result<Map<String, Value>, ConfigError> {
    use config::Format;
    let origin = format!("config file {}", path.display());
    let map = config::FileFormat::Toml
        .parse(Some(&origin), text)
        .map_err(|e| ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().to_owned(),
        })?;
    for (section, value) in &map {
        let Some(keys) = keys_of(schema, section) else {
            return Err(ConfigError::Unknown {
                origin,
                message: format!(
                    "there is no section [{section}]; the sections are {}",
                    sections(schema)
                ),
            });
        };
        let ValueKind::Table(table) = &value.kind else {
            return Err(ConfigError::Parse {
                path: path.to_owned(),
                message: format!("{section} is a section: write [{section}] and its keys below it"),
            });
        };
        if let Some(key) = table.keys().find(|k| !has_key(schema, section, k)) {
            return Err(ConfigError::Unknown {
                origin,
                message: format!("[{section}] has no key {key}; its keys are {keys}"),
            });
        }
    }
    Ok(map)
}

fn has_key(schema: &Schema, section: &str, key: &str) -> bool {
    schema
        .get(section)
        .and_then(|t| t.as_table())
        .is_some_and(|t| t.contains_key(key))
}

/// `CALLTOP_<SECTION>__<KEY>` variables as values, each remembering its
/// variable. A variable without `__` is somebody else's (`CALLTOP_HOME`):
/// ignored, with a warning. One with `__` means a setting, so a section or
/// key that does not exist is refused, by the variable's name.
fn env_layer(
    vars: Vec<(OsString, OsString)>,
    schema: &Schema,
    warnings: &mut Vec<String>,
) -> Result<Map<String, Value>, ConfigError> {
    const SHAPE: &str = "settings are CALLTOP_<SECTION>__<KEY>, such as CALLTOP_SESSION__SERVER";
    let mut map = Map::new();
    let mut vars: Vec<(String, OsString)> = vars
        .into_iter()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value)))
        .filter(|(name, _)| name.starts_with("CALLTOP_"))
        .collect();
    // The same message for the same environment, whatever the hash order.
    vars.sort();
    for (name, value) in vars {
        let origin = format!("environment variable {name}");
        let unknown = |message: String| ConfigError::Unknown {
            origin: origin.clone(),
            message,
        };
        let rest = &name["CALLTOP_".len()..];
        let Some((section, key)) = rest.split_once("__") else {
            warnings.push(format!("ignored {name}: not a setting ({SHAPE})"));
            continue;
        };
        let (section, key) = (section.to_lowercase(), key.to_lowercase());
        if section.is_empty() || key.is_empty() || key.contains("__") {
            return Err(unknown(format!("not a setting: {SHAPE}")));
        }
        let Some(keys) = keys_of(schema, &section) else {
            return Err(unknown(format!(
                "there is no section [{section}]; the sections are {}",
                sections(schema)
            )));
        };
        if !has_key(schema, &section, &key) {
            return Err(unknown(format!(
                "[{section}] has no key {key}; its keys are {keys}"
            )));
        }
        let Ok(value) = value.into_string() else {
            return Err(ConfigError::Value {
                key: format!("{section}.{key}"),
                value: "(not UTF-8)".into(),
                origin: Some(origin),
                expected: "text in UTF-8".into(),
            });
        };
        // A string, even when it looks like a number: `config` converts it
        // to the key's type, and a token "0123" stays "0123".
        map.insert(
            format!("{section}.{key}"),
            Value::new(Some(&origin), ValueKind::String(value)),
        );
    }
    Ok(map)
}

/// Values already read and checked, as a `config` source.
#[derive(Debug, Clone)]
struct Layer(Map<String, Value>);

impl config::Source for Layer {
    fn clone_into_box(&self) -> Box<dyn config::Source + Send + Sync> {
        Box::new(self.clone())
    }

    fn collect(&self) -> Result<Map<String, Value>, config::ConfigError> {
        Ok(self.0.clone())
    }
}

/// The words a key's value may be, for the keys that take one of a few.
fn choices(key: &str) -> Option<Vec<&'static str>> {
    use clap::ValueEnum;
    match key {
        "session.backend" => Some(
            BackendKind::value_variants()
                .iter()
                .map(|b| b.as_str())
                .collect(),
        ),
        "ui.color" => Some(ColorMode::ALL.iter().map(|c| c.as_str()).collect()),
        "theme.name" => Some(ThemeName::ALL.iter().map(|t| t.as_str()).collect()),
        _ => None,
    }
}

/// `config`'s own message ("enum ColorMode does not have variant
/// constructor blue", "an unsigned 64 bit or less integer") says what Rust
/// wanted; this says what a person may write: the key, the value as given,
/// where it was set, and what the key takes.
fn explain_value_error(
    e: config::ConfigError,
    merged: &Map<String, Value>,
    schema: &Schema,
) -> ConfigError {
    let (key, wanted) = match &e {
        config::ConfigError::Type { key, expected, .. } => (key.clone(), Some(*expected)),
        config::ConfigError::At { key, .. } => (key.clone(), None),
        _ => (None, None),
    };
    let Some(key) = key else {
        return ConfigError::Other(e.to_string());
    };
    let value = key
        .split_once('.')
        .and_then(|(section, name)| match &merged.get(section)?.kind {
            ValueKind::Table(t) => t.get(name),
            _ => None,
        });
    let default = key
        .split_once('.')
        .and_then(|(section, name)| schema.get(section)?.get(name));
    let expected = match (choices(&key), default) {
        (Some(words), _) => {
            let quoted: Vec<String> = words.iter().map(|w| format!("{w:?}")).collect();
            format!("one of {}", quoted.join(", "))
        }
        (None, Some(toml::Value::Integer(_))) => match wanted {
            Some(w) if w.contains("32 bit") => format!("a whole number from 0 to {}", u32::MAX),
            _ => "a whole number, 0 or more".to_owned(),
        },
        (None, Some(toml::Value::Float(f))) => format!("a number, such as {f:?}"),
        (None, Some(toml::Value::Boolean(_))) => "true or false".to_owned(),
        (None, Some(toml::Value::String(d))) if wanted.is_some() && d.is_empty() => {
            "text".to_owned()
        }
        (None, Some(toml::Value::String(d))) if wanted.is_some() => format!("text, such as {d:?}"),
        // A string the key's type could not parse (an address, say).
        (None, Some(d)) => format!("a value like {d}"),
        (None, None) => return ConfigError::Other(e.to_string()),
    };
    ConfigError::Value {
        key,
        value: value.map(show).unwrap_or_else(|| "?".into()),
        origin: value.and_then(origin_of).map(str::to_owned),
        expected,
    }
}

/// Where a value was set; for a table `config` made while merging, where
/// its first value was.
fn origin_of(v: &Value) -> Option<&str> {
    match (&v.kind, v.origin()) {
        (_, Some(o)) => Some(o),
        (ValueKind::Table(t), None) => t.values().find_map(origin_of),
        _ => None,
    }
}

/// A value as it was written: text quoted (and escaped), the rest as is.
fn show(v: &Value) -> String {
    match &v.kind {
        ValueKind::String(s) => format!("{s:?}"),
        ValueKind::Table(_) => "a table".to_owned(),
        ValueKind::Array(_) => "a list".to_owned(),
        ValueKind::Nil => "nothing".to_owned(),
        other => other.to_string(),
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
    fn every_listed_choice_loads_and_the_lists_are_whole() {
        for (key, var) in [
            ("session.backend", "CALLTOP_SESSION__BACKEND"),
            ("ui.color", "CALLTOP_UI__COLOR"),
            ("theme.name", "CALLTOP_THEME__NAME"),
        ] {
            for word in choices(key).unwrap() {
                Config::load(Sources {
                    env: env(&[(var, word)]),
                    ..Default::default()
                })
                .unwrap_or_else(|e| panic!("{key} = {word}: {e}"));
            }
        }
        for c in ColorMode::ALL {
            assert_eq!(toml::Value::try_from(c).unwrap().as_str(), Some(c.as_str()));
        }
        for t in ThemeName::ALL {
            assert_eq!(toml::Value::try_from(t).unwrap().as_str(), Some(t.as_str()));
        }
    }

    #[test]
    fn values_remember_where_they_were_set() {
        let l = Config::load_with_warnings(Sources {
            env: env(&[("CALLTOP_SESSION__USER", "bob"), ("CALLTOP_HOME", "/x")]),
            overrides: vec![("session.idle_timeout_secs", 5u64.into())],
            ..Default::default()
        })
        .unwrap();
        assert_eq!(
            l.origin("session.user"),
            Some("environment variable CALLTOP_SESSION__USER")
        );
        assert_eq!(l.origin("session.idle_timeout_secs"), Some(COMMAND_LINE));
        assert_eq!(l.origin("session.session"), None, "a default");
        assert_eq!(l.warnings.len(), 1, "{:?}", l.warnings);
        assert!(l.warnings[0].contains("CALLTOP_HOME"));
        let e = SettingsError::new("user", "", "a name");
        assert!(
            l.explain(&e)
                .ends_with("(from environment variable CALLTOP_SESSION__USER)"),
            "{}",
            l.explain(&e)
        );
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

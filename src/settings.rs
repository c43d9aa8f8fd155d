//! What a session needs to know before it starts, validated up front.

use std::time::Duration;

use crate::backend::BackendKind;
use crate::backoff::ReconnectPolicy;
use crate::protocol::{self, DEFAULT_MAX_FRAME_BYTES};

/// A setting that cannot work, named with its value and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {setting} = {value}: expected {expected}")]
pub struct SettingsError {
    /// The setting's name: a [`SessionSettings`] field (`heartbeat_interval`,
    /// `reconnect.jitter`, `janus.pin`) or a config key (`serve.max_connections`).
    pub setting: &'static str,
    /// The value given, as Rust's `Debug` writes it (strings quoted).
    pub value: String,
    /// What would have worked, in words ("at least 1024").
    pub expected: String,
}

impl SettingsError {
    /// An error for `setting`, whose `value` (written with `Debug`) is not
    /// what was `expected`.
    pub fn new(
        setting: &'static str,
        value: impl std::fmt::Debug,
        expected: impl Into<String>,
    ) -> Self {
        SettingsError {
            setting,
            value: format!("{value:?}"),
            expected: expected.into(),
        }
    }
}

/// A credential: sent to the server, never logged, never shown (its `Debug`
/// says only that there is one).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential; only [`Secret::expose`] gives it back.
    pub fn new(s: impl Into<String>) -> Secret {
        Secret(s.into())
    }
    /// The value, for the one place that puts it on the wire.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// What the Janus backend needs beyond the common settings. The session id
/// is the VideoRoom room; our user name is the display name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JanusOptions {
    /// The room's pin, if it has one.
    pub pin: Option<Secret>,
    /// The server's `api_secret`, sent on every request.
    pub api_secret: Option<Secret>,
    /// Create the room when it does not exist yet.
    pub create_room: bool,
    /// With `create_room`: the secret a created room gets (needed later to
    /// kick or destroy), if any.
    pub room_secret: Option<Secret>,
    /// With `create_room`: the VideoRoom plugin's `admin_key`, if the server
    /// only lets holders of it create rooms.
    pub admin_key: Option<Secret>,
    /// Join with this participant id instead of one Janus picks.
    pub participant_id: Option<u64>,
}

/// The longest timer setting: far beyond any sensible value, and far from
/// the point where `Instant + Duration` overflows.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);
/// The longest idle timeout.
pub const MAX_IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// Everything a [`crate::CallSession`] needs. Build it with [`SessionSettings::builder`].
#[derive(Debug, Clone, PartialEq)]
pub struct SessionSettings {
    /// The server's `ws://` or `wss://` URL (calltop's `/ws` endpoint, or a
    /// Janus server's WebSocket API).
    pub server: url::Url,
    /// Which signaling protocol the server speaks.
    pub backend: BackendKind,
    /// The session (room) id, as given to the server: 1 to 64 characters
    /// without control characters. On Janus it is the VideoRoom room id.
    pub session: String,
    /// Our own user name: 1 to 64 characters without control characters (our
    /// display name on Janus).
    pub user: String,
    /// The join token: calltop's `token`, or Janus's `token` (token auth).
    pub token: Option<Secret>,
    /// How long we may be the only participant before we leave; zero disables.
    pub idle_timeout: Duration,
    /// How often a heartbeat goes out while joined (a `ping` on calltop's
    /// protocol, a `keepalive` on Janus).
    pub heartbeat_interval: Duration,
    /// How long a heartbeat may go unanswered before the connection counts as lost.
    pub heartbeat_timeout: Duration,
    /// How long one attempt (TCP, TLS, WebSocket handshake and join) may take.
    pub connect_timeout: Duration,
    /// How long `leave` waits for the server's acknowledgement.
    pub leave_timeout: Duration,
    /// How reconnect attempts are spaced and how many there are before
    /// `connection_closed`.
    pub reconnect: ReconnectPolicy,
    /// Largest inbound frame the engine accepts.
    pub max_frame_bytes: usize,
    /// The most other participants followed; past it the list stops growing
    /// (and an `error` says so), whatever a server announces.
    pub max_participants: usize,
    /// Used by the Janus backend only.
    pub janus: JanusOptions,
    /// Whether [`crate::Command::Fault`] is carried out (off: refused with
    /// `faults_disabled`, for people who watch production).
    pub faults: bool,
}

impl SessionSettings {
    /// The settings in force, as JSON for a recording's first line and the
    /// settings panel (see [`InForce`]).
    pub fn describe(&self) -> serde_json::Value {
        serde_json::to_value(InForce::of(self)).expect("plain data always serializes")
    }

    /// The default [`SessionSettings::idle_timeout`]: five minutes.
    pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
    /// The default [`SessionSettings::heartbeat_interval`]: two seconds.
    pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(2);
    /// The default [`SessionSettings::heartbeat_timeout`]: 2.5 seconds.
    pub const DEFAULT_HEARTBEAT_TIMEOUT: Duration = Duration::from_millis(2500);
    /// The default [`SessionSettings::connect_timeout`]: five seconds.
    pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    /// The default [`SessionSettings::leave_timeout`]: one second.
    pub const DEFAULT_LEAVE_TIMEOUT: Duration = Duration::from_secs(1);
    /// Far beyond any call a dashboard can show, far below what hurts.
    pub const DEFAULT_MAX_PARTICIPANTS: usize = 10_000;

    /// A builder with every other setting at its default, for the server URL
    /// (`ws://` or `wss://`), the session id and our user name; nothing is
    /// checked until [`SessionSettingsBuilder::build`].
    pub fn builder(
        server: impl Into<String>,
        session: impl Into<String>,
        user: impl Into<String>,
    ) -> SessionSettingsBuilder {
        SessionSettingsBuilder {
            server: server.into(),
            backend: BackendKind::default(),
            session: session.into(),
            user: user.into(),
            token: None,
            idle_timeout: Self::DEFAULT_IDLE_TIMEOUT,
            heartbeat_interval: Self::DEFAULT_HEARTBEAT_INTERVAL,
            heartbeat_timeout: Self::DEFAULT_HEARTBEAT_TIMEOUT,
            connect_timeout: Self::DEFAULT_CONNECT_TIMEOUT,
            leave_timeout: Self::DEFAULT_LEAVE_TIMEOUT,
            reconnect: ReconnectPolicy::default(),
            max_frame_bytes: DEFAULT_MAX_FRAME_BYTES,
            max_participants: Self::DEFAULT_MAX_PARTICIPANTS,
            janus: JanusOptions::default(),
            faults: true,
        }
    }

    /// The longest a loss can last before it ends one way or the other:
    /// every wait of the schedule at its longest, each attempt using its
    /// whole connect timeout (attempts hurried with `r` come on top).
    pub fn loss_budget(&self) -> Duration {
        self.reconnect.worst_case_budget() + self.connect_timeout * self.reconnect.max_attempts
    }

    /// Worst case from a silent stall to `connection_lost`: a heartbeat goes out
    /// at most one interval after the last answer, then waits its timeout.
    pub fn stall_detection_bound(&self) -> Duration {
        self.heartbeat_interval + self.heartbeat_timeout
    }
}

/// The settings in force as a run reports them (a recording's first line,
/// the dashboard's settings panel): durations in milliseconds, the
/// reconnect schedule spelled out, and which secrets were given but never
/// their values. Every field has a default, so a recording from an older
/// calltop reads too.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct InForce {
    /// [`SessionSettings::idle_timeout`] in milliseconds; 0: disabled.
    pub idle_timeout_ms: u64,
    /// [`SessionSettings::heartbeat_interval`] in milliseconds.
    pub heartbeat_interval_ms: u64,
    /// [`SessionSettings::heartbeat_timeout`] in milliseconds.
    pub heartbeat_timeout_ms: u64,
    /// [`SessionSettings::connect_timeout`] in milliseconds.
    pub connect_timeout_ms: u64,
    /// [`SessionSettings::leave_timeout`] in milliseconds.
    pub leave_timeout_ms: u64,
    /// [`SessionSettings::max_frame_bytes`]: the largest inbound frame, in bytes.
    pub max_frame_bytes: usize,
    /// [`SessionSettings::max_participants`]: the most other participants followed.
    pub max_participants: usize,
    /// The reconnect schedule ([`SessionSettings::reconnect`]).
    pub reconnect: ScheduleInForce,
    /// The Janus options that are not secrets.
    pub janus: JanusInForce,
    /// Fault injection allowed (`--no-faults` turns it off).
    pub faults: bool,
    /// The names of the secrets that were set (`token`, `janus.pin`,
    /// `janus.api_secret`, `janus.room_secret`, `janus.admin_key`), never
    /// their values.
    pub secrets_given: Vec<String>,
}

/// The reconnect schedule in force ([`ReconnectPolicy`]), durations in
/// milliseconds: part of [`InForce`].
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct ScheduleInForce {
    /// [`ReconnectPolicy::initial_delay`] in milliseconds.
    pub initial_delay_ms: u64,
    /// [`ReconnectPolicy::max_delay`] in milliseconds.
    pub max_delay_ms: u64,
    /// [`ReconnectPolicy::multiplier`]: the growth factor per attempt.
    pub multiplier: f64,
    /// [`ReconnectPolicy::max_attempts`]: attempts before `connection_closed`.
    pub max_attempts: u32,
    /// [`ReconnectPolicy::jitter`]: the random share of each delay, 0.0 to 1.0.
    pub jitter: f64,
    /// Each wait before jitter, attempt by attempt (at most 64 listed).
    pub nominal_delays_ms: Vec<u64>,
    /// All the waits at their longest.
    pub worst_case_budget_ms: u64,
    /// The longest a loss lasts: the waits plus every attempt's connect timeout.
    pub loss_budget_ms: u64,
}

/// The Janus options in force that are not secrets: part of [`InForce`].
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct JanusInForce {
    /// [`JanusOptions::create_room`]: the room is created when it does not exist.
    pub create_room: bool,
    /// [`JanusOptions::participant_id`]: the participant id we ask for, if any.
    pub participant_id: Option<u64>,
}

impl InForce {
    /// The settings in force of `s` (what [`SessionSettings::describe`]
    /// serializes).
    pub fn of(s: &SessionSettings) -> InForce {
        let ms = |d: Duration| d.as_millis() as u64;
        let r = &s.reconnect;
        let j = &s.janus;
        let secrets_given = [
            ("token", s.token.is_some()),
            ("janus.pin", j.pin.is_some()),
            ("janus.api_secret", j.api_secret.is_some()),
            ("janus.room_secret", j.room_secret.is_some()),
            ("janus.admin_key", j.admin_key.is_some()),
        ]
        .into_iter()
        .filter(|(_, given)| *given)
        .map(|(name, _)| name.to_owned())
        .collect();
        InForce {
            idle_timeout_ms: ms(s.idle_timeout),
            heartbeat_interval_ms: ms(s.heartbeat_interval),
            heartbeat_timeout_ms: ms(s.heartbeat_timeout),
            connect_timeout_ms: ms(s.connect_timeout),
            leave_timeout_ms: ms(s.leave_timeout),
            max_frame_bytes: s.max_frame_bytes,
            max_participants: s.max_participants,
            reconnect: ScheduleInForce {
                initial_delay_ms: ms(r.initial_delay),
                max_delay_ms: ms(r.max_delay),
                multiplier: r.multiplier,
                max_attempts: r.max_attempts,
                jitter: r.jitter,
                nominal_delays_ms: (1..=r.max_attempts.min(64))
                    .map(|a| ms(r.nominal_delay(a)))
                    .collect(),
                worst_case_budget_ms: ms(r.worst_case_budget()),
                loss_budget_ms: ms(s.loss_budget()),
            },
            janus: JanusInForce {
                create_room: j.create_room,
                participant_id: j.participant_id,
            },
            faults: s.faults,
            secrets_given,
        }
    }
}

/// Builds [`SessionSettings`] from [`SessionSettings::builder`]: each
/// method sets one setting, and [`SessionSettingsBuilder::build`] checks
/// them all.
#[derive(Debug, Clone)]
pub struct SessionSettingsBuilder {
    server: String,
    backend: BackendKind,
    session: String,
    user: String,
    token: Option<String>,
    idle_timeout: Duration,
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
    connect_timeout: Duration,
    leave_timeout: Duration,
    reconnect: ReconnectPolicy,
    max_frame_bytes: usize,
    max_participants: usize,
    janus: JanusOptions,
    faults: bool,
}

impl SessionSettingsBuilder {
    /// The most other participants followed (default 10,000; 1 to 1,000,000).
    pub fn max_participants(mut self, n: usize) -> Self {
        self.max_participants = n;
        self
    }
    /// The signaling protocol the server speaks (default calltop's own).
    pub fn backend(mut self, b: BackendKind) -> Self {
        self.backend = b;
        self
    }
    /// The join token (an empty one counts as none): an HS256 JWT for a calltop
    /// server with `--token-secret`, or Janus's `token`.
    pub fn token(mut self, t: impl Into<String>) -> Self {
        self.token = Some(t.into());
        self
    }
    /// How long we may be the only participant before we leave (default five
    /// minutes; zero disables it, at most 30 days).
    pub fn idle_timeout(mut self, d: Duration) -> Self {
        self.idle_timeout = d;
        self
    }
    /// How often a heartbeat goes out while joined (default two seconds; above
    /// zero, at most one day).
    pub fn heartbeat_interval(mut self, d: Duration) -> Self {
        self.heartbeat_interval = d;
        self
    }
    /// How long a heartbeat may go unanswered before the connection counts as
    /// lost (default 2.5 seconds; above zero, at most one day).
    pub fn heartbeat_timeout(mut self, d: Duration) -> Self {
        self.heartbeat_timeout = d;
        self
    }
    /// How long one connection attempt may take (default five seconds; above
    /// zero, at most one day).
    pub fn connect_timeout(mut self, d: Duration) -> Self {
        self.connect_timeout = d;
        self
    }
    /// How long a leave waits for the server's acknowledgement (default one
    /// second; above zero, at most one day).
    pub fn leave_timeout(mut self, d: Duration) -> Self {
        self.leave_timeout = d;
        self
    }
    /// How reconnect attempts are spaced (default: 250 ms doubling up to 5 s,
    /// half of it jitter, 10 attempts).
    pub fn reconnect(mut self, p: ReconnectPolicy) -> Self {
        self.reconnect = p;
        self
    }
    /// The largest inbound frame accepted, in bytes (default 64 KiB; at least 1024).
    pub fn max_frame_bytes(mut self, n: usize) -> Self {
        self.max_frame_bytes = n;
        self
    }
    /// Whether injected faults are allowed (default yes).
    pub fn faults(mut self, allowed: bool) -> Self {
        self.faults = allowed;
        self
    }

    /// The Janus options (only with [`BackendKind::Janus`]: set on a calltop
    /// backend, `build` refuses them).
    pub fn janus(mut self, j: JanusOptions) -> Self {
        self.janus = j;
        self
    }

    /// Checks every setting; the first one that cannot work is the error.
    pub fn build(self) -> Result<SessionSettings, SettingsError> {
        let server = url::Url::parse(&self.server).map_err(|e| {
            SettingsError::new(
                "server",
                &self.server,
                format!("a ws:// or wss:// URL ({e})"),
            )
        })?;
        let original = self.server.clone();
        let settings = SessionSettings {
            server,
            backend: self.backend,
            session: self.session,
            user: self.user,
            token: self.token.filter(|t| !t.is_empty()).map(Secret),
            idle_timeout: self.idle_timeout,
            heartbeat_interval: self.heartbeat_interval,
            heartbeat_timeout: self.heartbeat_timeout,
            connect_timeout: self.connect_timeout,
            leave_timeout: self.leave_timeout,
            reconnect: self.reconnect,
            max_frame_bytes: self.max_frame_bytes,
            max_participants: self.max_participants,
            janus: self.janus,
            faults: self.faults,
        };
        settings.validate().map_err(|mut e| {
            // Show the URL as it was given, not as the parser normalised it.
            if e.setting == "server" {
                e.value = format!("{original:?}");
            }
            e
        })?;
        Ok(settings)
    }
}

impl SessionSettings {
    /// Checks every setting; the first one that cannot work is the error.
    /// [`SessionSettingsBuilder::build`] calls it; call it again after
    /// changing fields by hand.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if !matches!(self.server.scheme(), "ws" | "wss") || self.server.host_str().is_none() {
            return Err(SettingsError::new(
                "server",
                self.server.as_str(),
                "a ws:// or wss:// URL with a host, such as ws://127.0.0.1:7878/ws",
            ));
        }
        if !protocol::valid_name(&self.session) {
            return Err(SettingsError::new(
                "session",
                &self.session,
                "1 to 64 characters without control characters",
            ));
        }
        if !protocol::valid_name(&self.user) {
            return Err(SettingsError::new(
                "user",
                &self.user,
                "1 to 64 characters without control characters",
            ));
        }
        let positive = |name: &'static str, d: Duration| {
            if d.is_zero() || d > MAX_DURATION {
                Err(SettingsError::new(
                    name,
                    d,
                    "a duration above zero and at most one day",
                ))
            } else {
                Ok(())
            }
        };
        positive("heartbeat_interval", self.heartbeat_interval)?;
        positive("heartbeat_timeout", self.heartbeat_timeout)?;
        positive("connect_timeout", self.connect_timeout)?;
        positive("leave_timeout", self.leave_timeout)?;
        if self.idle_timeout > MAX_IDLE_TIMEOUT {
            return Err(SettingsError::new(
                "idle_timeout",
                self.idle_timeout,
                "at most 30 days (or 0 to disable it)",
            ));
        }
        let r = self.reconnect;
        if r.max_delay > MAX_DURATION {
            return Err(SettingsError::new(
                "reconnect.max_delay",
                r.max_delay,
                "at most one day",
            ));
        }
        if r.max_attempts == 0 {
            return Err(SettingsError::new(
                "reconnect.max_attempts",
                0,
                "at least 1",
            ));
        }
        if !(r.multiplier.is_finite() && r.multiplier >= 1.0) {
            return Err(SettingsError::new(
                "reconnect.multiplier",
                r.multiplier,
                "a number ≥ 1.0",
            ));
        }
        if !(0.0..=1.0).contains(&r.jitter) {
            return Err(SettingsError::new(
                "reconnect.jitter",
                r.jitter,
                "a number from 0.0 to 1.0",
            ));
        }
        if r.max_delay < r.initial_delay {
            return Err(SettingsError::new(
                "reconnect.max_delay",
                r.max_delay,
                format!("at least reconnect.initial_delay ({:?})", r.initial_delay),
            ));
        }
        let j = &self.janus;
        if self.backend == BackendKind::Calltop {
            // Janus options on a calltop server would be silently ignored:
            // most likely --backend janus was forgotten.
            let set = [
                ("janus.pin", j.pin.is_some()),
                ("janus.api_secret", j.api_secret.is_some()),
                ("janus.create_room", j.create_room),
                ("janus.room_secret", j.room_secret.is_some()),
                ("janus.admin_key", j.admin_key.is_some()),
                ("janus.participant_id", j.participant_id.is_some()),
            ];
            if let Some((name, _)) = set.iter().find(|(_, on)| *on) {
                return Err(SettingsError::new(
                    name,
                    "set",
                    "backend = \"janus\" (Janus options mean nothing to a calltop server)",
                ));
            }
        }
        if !j.create_room && (j.room_secret.is_some() || j.admin_key.is_some()) {
            return Err(SettingsError::new(
                if j.room_secret.is_some() {
                    "janus.room_secret"
                } else {
                    "janus.admin_key"
                },
                "set",
                "janus.create_room = true (they are only used to create the room)",
            ));
        }
        if j.participant_id == Some(0) {
            return Err(SettingsError::new(
                "janus.participant_id",
                0,
                "a positive number (or none, to let Janus pick)",
            ));
        }
        if self.max_frame_bytes < 1024 {
            return Err(SettingsError::new(
                "max_frame_bytes",
                self.max_frame_bytes,
                "at least 1024",
            ));
        }
        if !(1..=1_000_000).contains(&self.max_participants) {
            return Err(SettingsError::new(
                "max_participants",
                self.max_participants,
                "1 to 1000000",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_detect_a_silent_stall_within_five_seconds() {
        let s = SessionSettings::builder("ws://127.0.0.1:1/ws", "demo", "alice")
            .build()
            .unwrap();
        assert!(s.stall_detection_bound() <= Duration::from_secs(5));
        assert!(s.heartbeat_interval >= Duration::from_secs(2));
        assert_eq!(s.idle_timeout, Duration::from_secs(300));
    }

    #[test]
    fn a_bad_url_names_the_setting_the_value_and_what_was_expected() {
        let e = SessionSettings::builder("http://example", "demo", "alice")
            .build()
            .unwrap_err();
        assert_eq!(e.setting, "server");
        let text = e.to_string();
        assert!(text.contains("\"http://example\""), "{text}");
        assert!(text.contains("ws://"), "{text}");
    }

    #[test]
    fn zero_attempts_and_inverted_caps_are_refused() {
        let bad = ReconnectPolicy {
            max_attempts: 0,
            ..ReconnectPolicy::default()
        };
        let e = SessionSettings::builder("ws://h/ws", "s", "u")
            .reconnect(bad)
            .build()
            .unwrap_err();
        assert_eq!(e.setting, "reconnect.max_attempts");
        let bad = ReconnectPolicy {
            max_delay: Duration::from_millis(1),
            ..ReconnectPolicy::default()
        };
        let e = SessionSettings::builder("ws://h/ws", "s", "u")
            .reconnect(bad)
            .build()
            .unwrap_err();
        assert_eq!(e.setting, "reconnect.max_delay");
    }

    #[test]
    fn absurdly_long_durations_are_refused_not_overflowed() {
        let e = SessionSettings::builder("ws://h/ws", "s", "u")
            .connect_timeout(Duration::from_millis(u64::MAX))
            .build()
            .unwrap_err();
        assert_eq!(e.setting, "connect_timeout");
        let e = SessionSettings::builder("ws://h/ws", "s", "u")
            .idle_timeout(Duration::from_secs(u64::MAX))
            .build()
            .unwrap_err();
        assert_eq!(e.setting, "idle_timeout");
        let big = ReconnectPolicy {
            initial_delay: Duration::from_secs(u64::MAX / 2),
            max_delay: Duration::from_secs(u64::MAX),
            ..ReconnectPolicy::default()
        };
        let e = SessionSettings::builder("ws://h/ws", "s", "u")
            .reconnect(big)
            .build()
            .unwrap_err();
        assert_eq!(e.setting, "reconnect.max_delay");
    }

    #[test]
    fn janus_options_without_the_janus_backend_are_refused_by_name() {
        let e = SessionSettings::builder("ws://h/ws", "1234", "u")
            .janus(JanusOptions {
                pin: Some(Secret::new("4242")),
                ..JanusOptions::default()
            })
            .build()
            .unwrap_err();
        assert_eq!(e.setting, "janus.pin");
        let ok = SessionSettings::builder("ws://h:8188", "1234", "u")
            .backend(BackendKind::Janus)
            .janus(JanusOptions {
                pin: Some(Secret::new("4242")),
                ..JanusOptions::default()
            })
            .build()
            .unwrap();
        assert_eq!(ok.janus.pin.as_ref().map(Secret::expose), Some("4242"));
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let s = SessionSettings::builder("ws://h:8188", "1234", "u")
            .backend(BackendKind::Janus)
            .token("tok-very-secret")
            .janus(JanusOptions {
                api_secret: Some(Secret::new("apisec-very-secret")),
                ..JanusOptions::default()
            })
            .build()
            .unwrap();
        let shown = format!("{s:?}");
        assert!(!shown.contains("very-secret"), "{shown}");
        assert!(shown.contains("Secret(***)"), "{shown}");
    }
}

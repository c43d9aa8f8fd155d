//! `calltop top`: every session on a server at a glance.
//!
//! - [`source`]: the [`Snapshot`](source::Snapshot) a server gives and the
//!   [`Source`](source::Source) trait; [`calltop_api`] (the reference
//!   server's admin list) and [`janus_api`] (Janus's VideoRoom list, and
//!   its Admin API where given) implement it
//! - [`diff`]: what changed between two polls
//! - [`table`]: rows, sorting, the filter (plain functions)
//! - [`model`]: the state and `update` (no IO), [`view`]: drawing it
//! - [`poll`]: the thin task that polls a source; [`app`]: the loop that
//!   ties keys, polls and the dashboard (`j`) together

pub mod app;
pub mod calltop_api;
pub mod diff;
pub mod janus_api;
pub mod model;
pub mod poll;
pub mod source;
pub mod table;
pub mod view;

use std::time::Duration;

use crate::backend::BackendKind;
use crate::config::Config;
use crate::settings::{Secret, SettingsError};

pub use app::run;

/// The poll interval's bounds: more often than 10 times a second is a load
/// test, not a view; less often than hourly is no longer `top`.
pub const POLL_INTERVAL_MS: std::ops::RangeInclusive<u64> = 100..=3_600_000;
pub const REQUEST_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 100..=600_000;

/// Everything `top` needs, checked.
#[derive(Debug, Clone)]
pub struct TopSettings {
    pub backend: BackendKind,
    /// The server as given.
    pub server: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub log_lines: usize,
    source: SourceSettings,
}

#[derive(Debug, Clone)]
enum SourceSettings {
    Calltop {
        endpoints: calltop_api::Endpoints,
        token: Secret,
    },
    Janus(janus_api::JanusAccess),
}

/// Refuses what is not a WebSocket URL with a host, naming `key`.
fn ws_url(key: &'static str, url: &str) -> Result<(), SettingsError> {
    let ok = url::Url::parse(url)
        .is_ok_and(|u| matches!(u.scheme(), "ws" | "wss") && u.host().is_some());
    if ok {
        Ok(())
    } else {
        Err(SettingsError::new(
            key,
            url,
            "a ws:// or wss:// URL, such as ws://127.0.0.1:8188 (the Admin API: ws://127.0.0.1:7188)",
        ))
    }
}

fn secret(s: &str) -> Option<Secret> {
    Some(Secret::new(s)).filter(|_| !s.is_empty())
}

impl TopSettings {
    /// `[top]`, `[session].server` and `.backend`, and for Janus `[janus]`'s
    /// `api_secret` and `admin_key` and `[session].token`.
    pub fn from_config(c: &Config) -> Result<TopSettings, SettingsError> {
        let t = &c.top;
        let server = c.session.server.clone();
        if server.is_empty() {
            return Err(SettingsError::new(
                "session.server",
                "",
                "the server to watch: calltop top --server ws://HOST:PORT/ws (a reference server) \
                 or --backend janus --server ws://HOST:8188",
            ));
        }
        if !POLL_INTERVAL_MS.contains(&t.poll_interval_ms) {
            return Err(SettingsError::new(
                "top.poll_interval_ms",
                t.poll_interval_ms,
                "100 to 3600000 (an hour)",
            ));
        }
        if !REQUEST_TIMEOUT_MS.contains(&t.request_timeout_ms) {
            return Err(SettingsError::new(
                "top.request_timeout_ms",
                t.request_timeout_ms,
                "100 to 600000 (ten minutes)",
            ));
        }
        if !(1..=crate::config::MAX_LOG_CAPACITY).contains(&t.log_lines) {
            return Err(SettingsError::new(
                "top.log_lines",
                t.log_lines,
                format!("1 to {}", crate::config::MAX_LOG_CAPACITY),
            ));
        }
        let source = match c.session.backend {
            BackendKind::Calltop => {
                let endpoints = calltop_api::Endpoints::of(&server)
                    .map_err(|e| SettingsError::new("session.server", &server, e))?;
                let token = secret(&t.admin_token).ok_or_else(|| {
                    SettingsError::new(
                        "top.admin_token",
                        "",
                        "the reference server's admin token (calltop serve prints it): \
                         --admin-token-file FILE, --admin-token TOKEN or CALLTOP_TOP__ADMIN_TOKEN",
                    )
                })?;
                if !t.janus_admin_url.is_empty() {
                    return Err(SettingsError::new(
                        "top.janus_admin_url",
                        &t.janus_admin_url,
                        "nothing with --backend calltop (it is for --backend janus)",
                    ));
                }
                SourceSettings::Calltop { endpoints, token }
            }
            BackendKind::Janus => {
                ws_url("session.server", &server)?;
                if !t.janus_admin_url.is_empty() {
                    ws_url("top.janus_admin_url", &t.janus_admin_url)?;
                }
                SourceSettings::Janus(janus_api::JanusAccess {
                    api_secret: secret(&c.janus.api_secret),
                    token: secret(&c.session.token),
                    admin_key: secret(&c.janus.admin_key),
                    admin: (!t.janus_admin_url.is_empty()).then(|| {
                        (
                            t.janus_admin_url.clone(),
                            Secret::new(t.janus_admin_secret.clone()),
                        )
                    }),
                })
            }
        };
        Ok(TopSettings {
            backend: c.session.backend,
            server,
            interval: Duration::from_millis(t.poll_interval_ms),
            timeout: Duration::from_millis(t.request_timeout_ms),
            log_lines: t.log_lines,
            source,
        })
    }

    /// The source these settings read.
    pub fn source(&self) -> Box<dyn source::Source> {
        match &self.source {
            SourceSettings::Calltop { endpoints, token } => Box::new(
                calltop_api::CalltopAdmin::new(endpoints, token.clone(), self.timeout),
            ),
            SourceSettings::Janus(access) => Box::new(janus_api::JanusRooms::new(
                &self.server,
                access.clone(),
                self.timeout,
            )),
        }
    }

    /// The URL the dashboard joins a session at.
    pub fn join_url(&self) -> String {
        match &self.source {
            SourceSettings::Calltop { endpoints, .. } => endpoints.join.clone(),
            SourceSettings::Janus(_) => self.server.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(backend: BackendKind, server: &str) -> Config {
        let mut c = Config::default();
        c.session.backend = backend;
        c.session.server = server.into();
        c.top.admin_token = "t".into();
        c
    }

    #[test]
    fn each_backend_reads_its_own_source_and_joins_where_the_dashboard_would() {
        let s = TopSettings::from_config(&config(BackendKind::Calltop, "http://127.0.0.1:7878"))
            .unwrap();
        assert_eq!(s.join_url(), "ws://127.0.0.1:7878/ws");
        assert_eq!(s.source().describe(), "calltop admin API");
        assert_eq!(s.interval, Duration::from_secs(2));
        let mut c = config(BackendKind::Janus, "ws://127.0.0.1:8188");
        c.top.janus_admin_url = "ws://127.0.0.1:7188".into();
        let s = TopSettings::from_config(&c).unwrap();
        assert_eq!(s.join_url(), "ws://127.0.0.1:8188");
        assert_eq!(s.source().describe(), "Janus VideoRoom list + Admin API");
    }

    #[test]
    fn what_cannot_work_is_refused_by_its_key() {
        let refused = |f: fn(&mut Config)| {
            let mut c = config(BackendKind::Calltop, "ws://127.0.0.1:7878/ws");
            f(&mut c);
            TopSettings::from_config(&c).unwrap_err().setting
        };
        assert_eq!(refused(|c| c.session.server.clear()), "session.server");
        assert_eq!(refused(|c| c.top.admin_token.clear()), "top.admin_token");
        assert_eq!(
            refused(|c| c.top.poll_interval_ms = 99),
            "top.poll_interval_ms"
        );
        assert_eq!(
            refused(|c| c.top.request_timeout_ms = 0),
            "top.request_timeout_ms"
        );
        assert_eq!(refused(|c| c.top.log_lines = 0), "top.log_lines");
        assert_eq!(
            refused(|c| c.top.janus_admin_url = "ws://127.0.0.1:7188".into()),
            "top.janus_admin_url"
        );
        assert_eq!(
            refused(|c| {
                c.session.backend = BackendKind::Janus;
                c.session.server = "http://127.0.0.1:8188".into();
            }),
            "session.server"
        );
        assert_eq!(
            refused(|c| {
                c.session.backend = BackendKind::Janus;
                c.session.server = "ws://127.0.0.1:8188".into();
                c.top.janus_admin_url = "127.0.0.1:7188".into();
            }),
            "top.janus_admin_url"
        );
    }
}

//! `calltop load`: thousands of real participants from one process, with
//! churn and faults, checked at the end against the contract and against the
//! server's own list.
//!
//! - [`plan`]: what the run is asked to do (counts, rates, durations), checked
//! - [`fleet`]: the participants (each a real [`crate::CallSession`]) and the
//!   one collector that drains all their event streams
//! - [`stats`]: histograms and per-second history
//! - [`check`]: rosters against the server's list (read through `top`'s sources)
//! - [`summary`]: the result as text and JSON, and the exit status
//! - [`model`] and [`view`]: the live screen; [`app`]: the loop

pub mod app;
pub mod check;
pub mod fleet;
pub mod model;
pub mod plan;
pub mod stats;
pub mod summary;
pub mod view;

use std::path::PathBuf;
use std::time::Duration;

pub use app::run;

use crate::backend::BackendKind;
use crate::cli::LoadArgs;
use crate::config::Config;
use crate::settings::SettingsError;
use crate::top::TopSettings;
use crate::top::source::Source;
use fleet::Target;
use plan::{Plan, PlanError, Rate, parse_duration, parse_rate};

/// Why a load run cannot start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Plan(#[from] PlanError),
    #[error(transparent)]
    Settings(#[from] SettingsError),
    #[error("cannot write the summary to {path}: {reason}")]
    Json { path: PathBuf, reason: String },
}

/// Everything a run needs, checked.
pub struct LoadSettings {
    pub plan: Plan,
    pub target: Target,
    /// The server as given.
    pub server: String,
    pub backend: BackendKind,
    /// The server's own list, for the roster check (`top`'s source).
    pub source: Box<dyn Source>,
    pub json: Option<PathBuf>,
    pub headless: bool,
    /// The longest the end of the run waits for everyone to be back in.
    pub settle: Duration,
    pub seed: u64,
}

impl LoadSettings {
    pub fn new(config: &Config, args: &LoadArgs) -> Result<LoadSettings, LoadError> {
        let rate = |flag, v: &Option<String>, default: Rate| match v {
            Some(s) => parse_rate(flag, s),
            None => Ok(default),
        };
        let mut plan = Plan::new(
            args.sessions,
            args.per_session,
            rate("--ramp", &args.ramp, Plan::DEFAULT_RAMP)?,
            match &args.duration {
                Some(d) => parse_duration("--duration", d)?,
                None => Plan::DEFAULT_DURATION,
            },
        )?;
        plan.churn = rate("--churn", &args.churn, Rate::default())?;
        plan.drop = rate("--drop", &args.drop, Rate::default())?;
        plan.stall = rate("--stall", &args.stall, Rate::default())?;
        let server = config.session.server.clone();
        let backend = config.session.backend;
        if server.is_empty() {
            return Err(SettingsError::new(
                "session.server",
                "",
                "the server to load: calltop load --server ws://HOST:PORT/ws (a reference server) \
                 or --backend janus --server ws://HOST:8188",
            )
            .into());
        }
        // The roster check reads the server's list where `top` would.
        let mut listing = config.clone();
        if let Some(admin) = &args.admin_url {
            listing.session.server = admin.clone();
        }
        let top = TopSettings::from_config(&listing)?;
        let join_url = match backend {
            BackendKind::Calltop => {
                crate::top::calltop_api::Endpoints::of(&server)
                    .map_err(|e| SettingsError::new("session.server", &server, e))?
                    .join
            }
            BackendKind::Janus => server.clone(),
        };
        if backend == BackendKind::Janus && args.first_room == 0 {
            return Err(
                SettingsError::new("--first-room", 0, "1 or more (Janus has no room 0)").into(),
            );
        }
        let mut c = config.clone();
        c.session.server = join_url.clone();
        // A participant alone in its room is not a finding: no idle timeout.
        c.session.idle_timeout_secs = 0;
        // The longest session id and user name this plan makes, checked as any session's are.
        c.session.session =
            fleet::session_id(backend, &args.prefix, args.first_room, plan.sessions - 1);
        c.session.user = fleet::user(plan.per_session - 1);
        let template = c.session_settings(&join_url)?;
        let settle = template.loss_budget().min(Duration::from_secs(60)) + Duration::from_secs(2);
        if let Some(path) = &args.json {
            // Refused now rather than after a long run.
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| LoadError::Json {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
        }
        Ok(LoadSettings {
            plan,
            target: Target {
                template,
                prefix: args.prefix.clone(),
                first_room: args.first_room,
            },
            server,
            backend,
            source: top.source(),
            json: args.json.clone(),
            headless: args.headless,
            settle,
            seed: args.seed.unwrap_or_else(rand::random),
        })
    }
}

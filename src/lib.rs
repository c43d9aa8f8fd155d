//! calltop: a call-session engine with the session-status listener API, and
//! "top for a call", the terminal dashboard built on it.

pub mod backend;
pub mod backoff;
pub mod clock;
pub mod engine;
pub mod event;
pub mod protocol;
pub mod record;
pub mod settings;
pub mod text;
pub mod token;

pub use backend::BackendKind;
pub use backoff::ReconnectPolicy;
pub use engine::{Command, CommandError, Phase};
pub use event::{EventKind, LeftReason, SessionEvent};
pub use settings::{SessionSettings, SettingsError};
pub mod session;

pub use session::{CallSession, ListenerGuard, Restored, SessionStatusListener};
pub mod cli;
pub mod config;
pub mod demo;
pub mod exit;
pub mod headless;
pub mod load;
pub mod server;
pub mod top;
pub mod ui;

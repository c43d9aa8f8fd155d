//! calltop: a call-session engine with the session-status listener API, and
//! "top for a call", the terminal dashboard built on it.
//!
//! # The library
//!
//! A [`CallSession`] joins one session (a room) over a WebSocket signaling
//! connection, keeps it alive with heartbeats, reconnects when the network
//! breaks (resuming its slot where the server allows), and reports what
//! happens as events:
//!
//! - the six session-status callbacks of [`SessionStatusListener`]: session
//!   joined, left (by leaving or being removed), timed out (alone for the
//!   idle timeout), connection lost, restored, closed for good;
//! - every event, typed and timed, on a [`session::Subscription`]
//!   ([`EventKind`]: the six above plus participants, server facts,
//!   heartbeats, reconnect attempts, injected faults, contract violations).
//!
//! The protocol logic is a pure state machine ([`engine::Engine`]: inputs
//! and the current time in, frames, events and the next deadline out), so
//! it is tested on a virtual clock; [`CallSession`] is the thin tokio task
//! around it. Backends ([`backend`]: calltop's own protocol, Janus's
//! VideoRoom) plug in behind one trait. The events' order is a contract
//! ([`engine::ContractChecker`] checks it, live and on recordings), and the
//! event stream can be recorded and read back ([`record`]).
//!
//! # Example
//!
//! Join a session on the reference server ([`server`], started here on a
//! free loopback port), watch it, leave:
//!
//! ```
//! use calltop::{CallSession, EventKind, LeftReason, SessionSettings, SessionStatusListener};
//!
//! struct Log;
//! impl SessionStatusListener for Log {
//!     fn on_session_left(&self, reason: LeftReason) {
//!         println!("left: {reason:?}");
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let server = calltop::server::start(calltop::server::ServerConfig {
//!     listen: "127.0.0.1:0".parse()?,
//!     ..Default::default()
//! })
//! .await?;
//! let settings = SessionSettings::builder(server.ws_url(), "standup", "alice").build()?;
//! let session = CallSession::new(settings);
//! let _guard = session.add_session_status_listener(Log); // until the guard drops
//! let mut events = session.subscribe().await?;
//! session.join().await?;
//! while let Some(ev) = events.recv().await {
//!     match ev.kind {
//!         EventKind::SessionJoined { participants } => {
//!             assert_eq!(participants, 0);
//!             session.leave().await?;
//!         }
//!         EventKind::SessionLeft { reason } => {
//!             assert_eq!(reason, LeftReason::User);
//!             break;
//!         }
//!         _ => {}
//!     }
//! }
//! server.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # The program
//!
//! The `calltop` binary (the dashboard, headless mode, replay, `serve`,
//! `top`, `load`) is built from the modules hidden from these docs
//! (`cli`, `config`, `ui`, `headless`, …): they are public so the
//! binary and the integration tests can reach them, not a stable API.

#![warn(missing_docs)]

pub mod backend;
pub mod backoff;
pub mod clock;
pub mod engine;
pub mod event;
pub mod protocol;
pub mod record;
pub mod server;
pub mod session;
pub mod settings;
pub mod text;
pub mod token;

pub use backend::BackendKind;
pub use backoff::ReconnectPolicy;
pub use engine::{Command, CommandError, Fault, Phase};
pub use event::{EventKind, LeftReason, SessionEvent};
pub use session::{CallSession, ListenerGuard, Restored, SessionStatusListener};
pub use settings::{SessionSettings, SettingsError};

// The program around the library.
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod color;
#[doc(hidden)]
pub mod config;
#[doc(hidden)]
pub mod config_print;
#[doc(hidden)]
pub mod crash;
#[doc(hidden)]
pub mod demo;
#[doc(hidden)]
pub mod diagnostics;
#[doc(hidden)]
pub mod exit;
#[doc(hidden)]
pub mod headless;
#[doc(hidden)]
pub mod top;
#[doc(hidden)]
pub mod ui;

//! The dashboard: a full-screen view of one call session.
//!
//! - [`model`]: the state and `update(&mut Model, Msg)` (no IO, no clock)
//! - [`view`]: `view(&Model, &mut Frame)`, read-only
//! - [`app`]: the render loop (terminal input, engine events, timers)
//! - [`terminal`]: raw mode and the alternate screen, always restored
//! - [`keys`], [`theme`], [`log`], [`sanitize`], [`fmt`], [`facts`]: one job each

pub mod app;
pub mod facts;
pub mod fmt;
pub mod keys;
pub mod log;
pub mod model;
pub mod sanitize;
pub mod terminal;
pub mod theme;
pub mod view;

pub use app::run;

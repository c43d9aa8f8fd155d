//! The dashboard: a full-screen view of one call session.
//!
//! - [`model`]: the state and `update(&mut Model, Msg)` (no IO, no clock)
//! - [`view`]: `view(&Model, &mut Frame)`, read-only
//! - [`layout`]: where each part goes, for both of them
//! - [`app`]: the render loop (terminal input, engine events, timers)
//! - [`replay`]: the same dashboard on a recording
//! - [`terminal`]: raw mode and the alternate screen, always restored
//! - [`keys`], [`theme`], [`log`], [`sanitize`], [`fmt`], [`facts`], [`words`],
//!   [`width`]: one job each

pub mod app;
pub mod facts;
pub mod fmt;
pub mod keys;
pub mod layout;
pub mod log;
pub mod model;
pub mod replay;
pub mod sanitize;
pub mod terminal;
pub mod theme;
pub mod view;
pub mod width;
pub mod words;

pub use app::run;

/// The keys and the palette the configuration asks for (`[keys]`, `[theme]`,
/// `[ui].color` or `--color`, `NO_COLOR`), for the live dashboard and the
/// replay alike.
pub fn keys_and_theme(
    config: &crate::config::Config,
) -> Result<(keys::Keymap, theme::Theme), crate::settings::SettingsError> {
    let keymap = keys::Keymap::from_config(&config.keys)?.with_faults(&config.faults)?;
    let theme = theme::Theme::from_config(
        &config.theme,
        config.ui.color,
        std::env::var_os("NO_COLOR").as_deref(),
    )?;
    Ok((keymap, theme))
}

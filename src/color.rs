//! Whether output gets colour: `--color` / `[ui].color`, then the
//! conventions of `NO_COLOR` (no-color.org) and `CLICOLOR_FORCE`
//! (bixense.com/clicolors), then whether the stream is a terminal. The same
//! rule for stderr's diagnostics and for the dashboard's palette.

use std::ffi::OsStr;
use std::io::IsTerminal;

use crate::config::ColorMode;

/// The environment variables the rule reads, passed in so tests need not
/// touch the process environment.
#[derive(Debug, Clone, Copy, Default)]
pub struct ColorEnv<'a> {
    pub no_color: Option<&'a OsStr>,
    pub clicolor_force: Option<&'a OsStr>,
}

/// `always` and `never` are what they say (an explicit choice beats the
/// environment, as no-color.org asks). `auto`: a non-empty `NO_COLOR` turns
/// colour off; otherwise a `CLICOLOR_FORCE` other than empty or "0" turns it
/// on; otherwise colour goes to a terminal only. `NO_COLOR` wins over
/// `CLICOLOR_FORCE`, as it does for clap's own messages.
pub fn wanted(mode: ColorMode, is_terminal: bool, env: ColorEnv<'_>) -> bool {
    let set = |v: Option<&OsStr>| v.is_some_and(|v| !v.is_empty());
    match mode {
        ColorMode::Always => true,
        ColorMode::Never => false,
        ColorMode::Auto if set(env.no_color) => false,
        ColorMode::Auto
            if set(env.clicolor_force) && env.clicolor_force != Some(OsStr::new("0")) =>
        {
            true
        }
        ColorMode::Auto => is_terminal,
    }
}

/// Whether diagnostics on this process's stderr get colour.
pub fn for_stderr(mode: ColorMode) -> bool {
    let no_color = std::env::var_os("NO_COLOR");
    let force = std::env::var_os("CLICOLOR_FORCE");
    wanted(
        mode,
        std::io::stderr().is_terminal(),
        ColorEnv {
            no_color: no_color.as_deref(),
            clicolor_force: force.as_deref(),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(no_color: Option<&'a str>, force: Option<&'a str>) -> ColorEnv<'a> {
        ColorEnv {
            no_color: no_color.map(OsStr::new),
            clicolor_force: force.map(OsStr::new),
        }
    }

    #[test]
    fn auto_colours_terminals_only_unless_forced_and_no_color_wins() {
        use ColorMode::*;
        for (mode, tty, e, want) in [
            (Auto, true, env(None, None), true),
            (Auto, false, env(None, None), false),
            (Auto, false, env(None, Some("1")), true),
            (Auto, false, env(None, Some("0")), false),
            (Auto, false, env(None, Some("")), false),
            (Auto, true, env(Some("1"), None), false),
            (Auto, true, env(Some(""), None), true),
            (Auto, false, env(Some("1"), Some("1")), false),
            (Always, false, env(Some("1"), None), true),
            (Never, true, env(None, Some("1")), false),
        ] {
            assert_eq!(
                wanted(mode, tty, e),
                want,
                "{mode:?}, terminal {tty}, {e:?}"
            );
        }
    }
}

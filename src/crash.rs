//! What a panic leaves behind: a crash report in a file (version, the
//! command line without its secrets, the message, where, a backtrace) and a
//! few lines on stderr saying where it is and what a bug report needs. The
//! dashboard's own panic hook restores the terminal before this one runs
//! (`ui::terminal`), so the lines land on a normal screen.

use std::backtrace::Backtrace;
use std::fmt::Write as _;
use std::io::Write as _;
use std::panic::PanicHookInfo;
use std::path::{Path, PathBuf};

/// Replaces the default panic message with the crash report. Call it
/// first thing in `main`, before anything can panic or take the terminal.
pub fn install() {
    let args: Vec<String> = std::env::args().collect();
    let secret_flags = secret_flags();
    std::panic::set_hook(Box::new(move |info| {
        let report = report(info, &redact(&args, &secret_flags));
        let written = write_report(&report);
        let mut err = std::io::stderr().lock();
        // A closed stderr is no reason for a second panic: every write may fail.
        let _ = writeln!(
            err,
            "\ncalltop crashed: this is a bug in calltop, not something you did.\n{}",
            message(info)
        );
        match written {
            Ok(path) => {
                let _ = writeln!(err, "A crash report is in {}", path.display());
            }
            Err(e) => {
                let _ = writeln!(
                    err,
                    "The crash report could not be saved ({e}); here it is:\n{report}"
                );
            }
        }
        let _ = writeln!(
            err,
            "Please report it at {}/issues with that report (the version, the\n\
             command line without secrets, the message and a backtrace: read it\n\
             before sending) and what you were doing when it happened.",
            env!("CARGO_PKG_REPOSITORY")
        );
    }));
}

/// Panics, on purpose, when the environment asks for it with a phrase
/// nobody sets by accident: the tests' way to check what a crash looks like
/// in the real dashboard (tests/tui_e2e.rs). `__CALLTOP_PANIC_FOR_TESTS`
/// must be exactly `crash calltop now`; no user-facing documentation names
/// it, and it does nothing else.
pub fn panic_if_asked() {
    if std::env::var_os("__CALLTOP_PANIC_FOR_TESTS").is_some_and(|v| v == "crash calltop now") {
        panic!("a crash asked for by __CALLTOP_PANIC_FOR_TESTS");
    }
}

/// The panic's message and where it happened.
fn message(info: &PanicHookInfo<'_>) -> String {
    let payload = info.payload();
    let text = payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_owned());
    match info.location() {
        Some(l) => format!(
            "panicked at {}:{}:{}: {text}",
            l.file(),
            l.line(),
            l.column()
        ),
        None => format!("panicked: {text}"),
    }
}

fn report(info: &PanicHookInfo<'_>, args: &[String]) -> String {
    let mut r = String::new();
    let thread = std::thread::current();
    let _ = writeln!(r, "calltop crash report");
    let _ = writeln!(r, "version: calltop {}", env!("CARGO_PKG_VERSION"));
    let _ = writeln!(r, "time: {}", jiff::Timestamp::now());
    let _ = writeln!(
        r,
        "system: {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    );
    let _ = writeln!(r, "command line: {}", args.join(" "));
    let _ = writeln!(r, "thread: {}", thread.name().unwrap_or("(unnamed)"));
    let _ = writeln!(r, "{}", message(info));
    let _ = writeln!(r, "\nbacktrace:\n{}", Backtrace::force_capture());
    r
}

/// Where reports go: the user's state directory (`~/.local/state/calltop`
/// on Linux), else the cache directory, else the temporary directory.
pub fn report_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "calltop")
        .and_then(|d| {
            d.state_dir()
                .map(Path::to_path_buf)
                .or_else(|| Some(d.cache_dir().to_path_buf()))
        })
        .unwrap_or_else(std::env::temp_dir)
}

fn write_report(report: &str) -> std::io::Result<PathBuf> {
    let dir = report_dir();
    std::fs::create_dir_all(&dir)?;
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let path = dir.join(format!("crash-{secs}-{}.txt", std::process::id()));
    std::fs::write(&path, report)?;
    Ok(path)
}

/// Every flag, of every subcommand, whose value is a credential: those
/// whose value name says SECRET, TOKEN, PIN or KEY (`--token`,
/// `--janus-api-secret`, `serve --admin-token`, ...), so a new one is
/// covered without a list to keep.
fn secret_flags() -> Vec<String> {
    fn walk(cmd: &clap::Command, out: &mut Vec<String>) {
        for arg in cmd.get_arguments() {
            let secret = arg.get_value_names().is_some_and(|names| {
                names
                    .iter()
                    .any(|n| ["SECRET", "TOKEN", "PIN", "KEY"].contains(&n.as_str()))
            });
            if let (true, Some(long)) = (secret, arg.get_long()) {
                out.push(format!("--{long}"));
            }
        }
        for sub in cmd.get_subcommands() {
            walk(sub, out);
        }
    }
    let mut out = Vec::new();
    walk(
        &<crate::cli::Cli as clap::CommandFactory>::command(),
        &mut out,
    );
    out
}

/// `args` with the value of each secret flag (`--token X`, `--token=X`) and
/// a password in a URL replaced by `***`.
fn redact(args: &[String], secret_flags: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut hide_next = false;
    for arg in args {
        if std::mem::take(&mut hide_next) {
            out.push("***".to_owned());
            continue;
        }
        if secret_flags.contains(arg) {
            hide_next = true;
            out.push(arg.clone());
            continue;
        }
        if let Some((flag, _)) = arg.split_once('=')
            && secret_flags.iter().any(|f| f == flag)
        {
            out.push(format!("{flag}=***"));
            continue;
        }
        match url::Url::parse(arg) {
            Ok(mut u) if u.password().is_some() => {
                let _ = u.set_password(Some("***"));
                out.push(u.to_string());
            }
            _ => out.push(arg.clone()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_credential_flag_is_redacted_and_nothing_else() {
        let flags = secret_flags();
        for f in [
            "--token",
            "--janus-pin",
            "--janus-api-secret",
            "--janus-room-secret",
            "--janus-admin-key",
            "--admin-token",
            "--token-secret",
            "--secret",
        ] {
            assert!(
                flags.iter().any(|g| g == f),
                "{f} is not redacted: {flags:?}"
            );
        }
        assert!(!flags.iter().any(|g| g == "--token-file" || g == "--server"));
        let args: Vec<String> = [
            "calltop",
            "--server",
            "wss://bob:hunter2@calls.example.com/ws",
            "--token",
            "tok-1",
            "--janus-pin=4242",
            "--user",
            "alice",
        ]
        .map(String::from)
        .into();
        let shown = redact(&args, &flags).join(" ");
        assert_eq!(
            shown,
            "calltop --server wss://bob:***@calls.example.com/ws --token *** --janus-pin=*** --user alice"
        );
    }
}

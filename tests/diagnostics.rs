//! Diagnostics outside the dashboard: stderr in colour only when asked for
//! or when it is a terminal (`--color`, `NO_COLOR`, `CLICOLOR_FORCE`), and
//! `--log-file` taking them instead of stderr.

use std::process::{Command, Stdio};

/// Nothing listens on port 1: a headless run there ends on its own, quickly
/// (exit 5), after a few session events, which RUST_LOG=calltop=info shows.
const NOWHERE: &str = "ws://127.0.0.1:1/ws";

fn headless(args: &[&str], env: &[(&str, &str)]) -> (Option<i32>, String) {
    let mut c = Command::new(env!("CARGO_BIN_EXE_calltop"));
    c.args(["--headless", "--server", NOWHERE])
        .args(args)
        .env("XDG_CONFIG_HOME", "/nonexistent")
        .env("CALLTOP_RECONNECT__MAX_ATTEMPTS", "1")
        .env("RUST_LOG", "calltop=info")
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn stderr_gets_colour_only_when_asked_or_forced_and_no_color_wins() {
    for (args, env, coloured) in [
        (vec![], vec![], false),
        (vec!["--color", "always"], vec![], true),
        (vec![], vec![("CLICOLOR_FORCE", "1")], true),
        (vec![], vec![("CLICOLOR_FORCE", "0")], false),
        (
            vec![],
            vec![("CLICOLOR_FORCE", "1"), ("NO_COLOR", "1")],
            false,
        ),
        (vec!["--color", "always"], vec![("NO_COLOR", "1")], true),
        (
            vec!["--color", "never"],
            vec![("CLICOLOR_FORCE", "1")],
            false,
        ),
        (vec![], vec![("CALLTOP_UI__COLOR", "always")], true),
    ] {
        let (code, stderr) = headless(&args, &env);
        assert_eq!(code, Some(5), "{args:?} {env:?}: {stderr}");
        // The diagnostics are there either way; only their colour differs.
        assert!(
            stderr.contains("calltop::session"),
            "{args:?} {env:?}: {stderr}"
        );
        assert_eq!(
            stderr.contains('\u{1b}'),
            coloured,
            "{args:?} {env:?}: {stderr:?}"
        );
    }
    let (code, stderr) = headless(&["--color", "sometimes"], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains("auto") && stderr.contains("never"),
        "{stderr}"
    );
}

#[test]
fn log_file_takes_the_diagnostics_instead_of_stderr() {
    let dir = std::env::temp_dir().join(format!("calltop-diag-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("calltop.log");
    let _ = std::fs::remove_file(&log);
    let (code, stderr) = headless(&["--log-file", log.to_str().unwrap()], &[]);
    assert_eq!(code, Some(5), "{stderr}");
    assert!(!stderr.contains("calltop::session"), "{stderr}");
    let first = std::fs::read_to_string(&log).unwrap();
    assert!(first.contains("calltop::session"), "{first}");
    assert!(first.contains("connection_closed"), "{first}");
    // A second run adds to the file.
    headless(&["--log-file", log.to_str().unwrap()], &[]);
    let both = std::fs::read_to_string(&log).unwrap();
    assert!(both.len() > first.len() && both.starts_with(&first));

    // A file that cannot be opened stops the run before it starts.
    let (code, stderr) = headless(&["--log-file", dir.to_str().unwrap()], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot open log file {}", dir.display())),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
